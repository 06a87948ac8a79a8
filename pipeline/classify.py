"""The LiteRT runner: one interpreter per process and model, one batched call per page.

TensorFlow is never imported here: ``ai_edge_litert`` runs the ``.tflite`` file alone (a tenth of a second to
import instead of seconds). Float32, float16-quantized (float32 in and out) and int8-quantized models (int8 in
and out, with scale and zero point) all work: the input and output types are read from the interpreter.
"""

from __future__ import annotations

import contextlib
import functools
import os
import threading
from pathlib import Path

import numpy as np

from hdr_expr.errors import ModelError
from hdr_expr.models.card import TFLITE_FILE, ModelDir, load_model_dir


def default_threads() -> int:
    """The CPU cores this process may use."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not on Linux
        return max(1, os.cpu_count() or 1)


@contextlib.contextmanager
def _quiet_native_stderr():
    """Silence the runtime's C++ log line ("INFO: Created TensorFlow Lite XNNPACK delegate for CPU.") that it
    writes straight to file descriptor 2 when tensors are allocated; the CLI's stderr is for errors only."""
    try:
        saved = os.dup(2)
    except OSError:
        yield
        return
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _quantize(x: np.ndarray, detail: dict) -> np.ndarray:
    dtype = detail["dtype"]
    if np.issubdtype(dtype, np.floating):
        return x.astype(dtype, copy=False)
    scale, zero = detail["quantization"]
    if not scale:
        raise ModelError(f"model input is {np.dtype(dtype).name} without quantization parameters")
    info = np.iinfo(dtype)
    return np.clip(np.round(x / scale + zero), info.min, info.max).astype(dtype)


def _dequantize(y: np.ndarray, detail: dict) -> np.ndarray:
    if np.issubdtype(y.dtype, np.floating):
        return y.astype(np.float32, copy=False)
    scale, zero = detail["quantization"]
    return ((y.astype(np.float32) - zero) * (scale or 1.0)).astype(np.float32)


def _as_probabilities(y: np.ndarray) -> np.ndarray:
    """Softmax rows unless they already are probabilities (a model exported without its softmax layer)."""
    if y.size == 0 or (y.min() >= -1e-4 and np.allclose(y.sum(axis=1), 1.0, atol=2e-2)):
        return y
    z = np.exp(y - y.max(axis=1, keepdims=True))
    return z / z.sum(axis=1, keepdims=True)


class Classifier:
    """A model directory's LiteRT model: ``predict(N×28×28 float32 in [0, 1]) → N×C probabilities``.

    The order of the C columns is :attr:`classes` (from the model card). One interpreter serves every call;
    its tensors are reallocated only when the batch size changes. Calls are serialized by a lock, so one
    Classifier may be shared by threads.
    """

    def __init__(self, model: str | Path | ModelDir | None = None, *, threads: int | None = None):
        from ai_edge_litert.interpreter import Interpreter

        self.model_dir = model if isinstance(model, ModelDir) else load_model_dir(model, verify=[TFLITE_FILE])
        self.classes: tuple[str, ...] = self.model_dir.classes
        self.threads = threads or default_threads()
        try:
            self._interp = Interpreter(model_path=str(self.model_dir.tflite_path), num_threads=self.threads)
        except (ValueError, RuntimeError) as exc:
            raise ModelError(f"cannot load {self.model_dir.tflite_path}: {exc}") from None
        self._in = self._interp.get_input_details()[0]
        self._out = self._interp.get_output_details()[0]
        shape = tuple(int(v) for v in self._in["shape"][1:])
        self._sample_shape = shape  # (28, 28, 1) or (28, 28)
        self.input_size = (shape[0], shape[1])
        n_out = int(self._out["shape"][-1])
        if n_out != len(self.classes):
            raise ModelError(
                f"{self.model_dir.tflite_path} has {n_out} outputs but its card lists {len(self.classes)} classes"
            )
        self._allocated = -1
        self._lock = threading.Lock()

    def predict(self, batch: np.ndarray) -> np.ndarray:
        """Class probabilities for a batch of normalized symbols (N×28×28), in one interpreter call."""
        x = np.asarray(batch, dtype=np.float32)
        if x.ndim == 2:
            x = x[None]
        n = int(x.shape[0])
        if n == 0:
            return np.zeros((0, len(self.classes)), np.float32)
        if x.shape[1:3] != self.input_size:
            raise ValueError(f"expected N×{self.input_size[0]}×{self.input_size[1]} symbols, got {x.shape}")
        x = _quantize(x.reshape((n, *self._sample_shape)), self._in)
        with self._lock:
            if n != self._allocated:
                self._interp.resize_tensor_input(self._in["index"], (n, *self._sample_shape), strict=False)
                with _quiet_native_stderr():
                    self._interp.allocate_tensors()
                self._allocated = n
            self._interp.set_tensor(self._in["index"], x)
            self._interp.invoke()
            y = self._interp.get_tensor(self._out["index"]).copy()
        return _as_probabilities(_dequantize(y.reshape(n, -1), self._out))


@functools.lru_cache(maxsize=4)
def _cached(path: str, threads: int | None) -> Classifier:
    return Classifier(path, threads=threads)


def load_classifier(model: str | Path | None = None, *, threads: int | None = None) -> Classifier:
    """The process's Classifier for a model directory (default: the shipped model), loaded once."""
    return _cached(str(Path(model).resolve()) if model is not None else None, threads)
