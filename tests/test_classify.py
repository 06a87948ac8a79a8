"""The LiteRT runner on the shipped model: MNIST test digits round-trip, batching, caching, no TensorFlow."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from hdr_expr.errors import ModelError
from hdr_expr.models.card import default_model_path, load_model_dir, write_model_card
from hdr_expr.pipeline.classify import Classifier, default_threads, load_classifier
from hdr_expr.pipeline.normalize import normalize_symbol

SHARED = Path(os.environ.get("HDR_EXPR_SHARED", Path(__file__).resolve().parents[1].parent / "shared"))
MNIST_DIR = SHARED / "datasets" / "mnist"

needs_model = pytest.mark.skipif(
    not (default_model_path() / "card.json").is_file(),
    reason="no shipped model in models/default/ yet (train one with `hdr-expr train`)",
)


def mnist_test(n: int) -> tuple[np.ndarray, np.ndarray]:
    if not MNIST_DIR.is_dir():
        pytest.skip(f"MNIST not found in {MNIST_DIR} (set HDR_EXPR_SHARED)")
    from hdr_expr.datasets.mnist import load_mnist

    images, labels = load_mnist("test", MNIST_DIR)
    return images[:n], labels[:n]


@needs_model
def test_shipped_model_reads_mnist_test_digits():
    images, labels = mnist_test(500)
    clf = load_classifier()
    digit_cols = [clf.classes.index(str(d)) for d in range(10)]
    probs = clf.predict(images.astype(np.float32) / 255.0)
    assert probs.shape == (500, len(clf.classes))
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-3)
    pred = np.asarray(digit_cols)[probs[:, digit_cols].argmax(axis=1)]
    predicted_digits = np.array([int(clf.classes[i]) for i in pred])
    assert (predicted_digits == labels).mean() >= 0.97


@needs_model
def test_renormalized_digits_still_read():
    # What the pipeline does to a segmented symbol: crop, normalize again. The model must still read them.
    images, labels = mnist_test(200)
    clf = load_classifier()
    batch = np.stack([normalize_symbol(img) for img in images])
    probs = clf.predict(batch)
    top = [clf.classes[i] for i in probs.argmax(axis=1)]
    assert np.mean([t == str(l) for t, l in zip(top, labels)]) >= 0.95


@needs_model
def test_batch_sizes_and_reallocation():
    images, _ = mnist_test(40)
    clf = Classifier(threads=1)
    x = images.astype(np.float32) / 255.0
    full = clf.predict(x)
    assert clf.predict(x[:0]).shape == (0, len(clf.classes))
    # One at a time, a different batch size, then the same size again: the same numbers every time.
    np.testing.assert_allclose(clf.predict(x[3]), full[3:4], atol=1e-5)
    np.testing.assert_allclose(clf.predict(x[5:12]), full[5:12], atol=1e-5)
    np.testing.assert_allclose(clf.predict(x[5:12]), full[5:12], atol=1e-5)
    with pytest.raises(ValueError):
        clf.predict(np.zeros((2, 20, 20), np.float32))


@needs_model
def test_one_interpreter_per_process():
    assert load_classifier() is load_classifier()
    assert load_classifier(default_model_path()) is load_classifier(str(default_model_path()))


def test_threads_default_to_the_cores():
    assert default_threads() >= 1


def test_missing_or_corrupt_model_is_a_model_error(tmp_path):
    with pytest.raises(ModelError, match="not found"):
        Classifier(tmp_path / "nope")
    (tmp_path / "model.tflite").write_bytes(b"not a flatbuffer")
    write_model_card(tmp_path, {"classes": ["0", "1"]})
    with pytest.raises(ModelError, match="cannot load"):
        Classifier(tmp_path)
    (tmp_path / "model.tflite").write_bytes(b"changed")  # no longer matches its card
    with pytest.raises(ModelError, match="does not match"):
        Classifier(tmp_path)


@needs_model
def test_card_and_model_disagree_on_classes(tmp_path):
    src = load_model_dir()
    (tmp_path / "model.tflite").write_bytes(src.tflite_path.read_bytes())
    write_model_card(tmp_path, {"classes": list(src.classes) + ["extra"]})
    with pytest.raises(ModelError, match="outputs"):
        Classifier(tmp_path)


def test_recognize_path_never_imports_tensorflow():
    code = (
        "import sys, numpy as np\n"
        "import hdr_expr.pipeline.classify as c, hdr_expr.pipeline.assemble\n"
        "from hdr_expr.models.card import default_model_path\n"
        "if (default_model_path() / 'card.json').is_file():\n"
        "    c.load_classifier().predict(np.zeros((3, 28, 28), np.float32))\n"
        "print(any(m == 'tensorflow' or m.startswith(('tensorflow.', 'keras')) for m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    assert "XNNPACK" not in out.stderr  # the runtime's log line is kept off stderr


def test_int8_quantization_round_trip():
    # An int8-quantized model takes and gives int8 with a scale and zero point (checked by hand on a converted
    # model; converting one here would need TensorFlow).
    from hdr_expr.pipeline.classify import _dequantize, _quantize

    detail = {"dtype": np.int8, "quantization": (1 / 255, -128)}
    x = np.array([0.0, 0.5, 1.0], np.float32)
    q = _quantize(x, detail)
    assert q.dtype == np.int8 and q[0] == -128 and q[2] == 127
    np.testing.assert_allclose(_dequantize(q, detail), x, atol=1 / 255)
    assert _quantize(x, {"dtype": np.float32, "quantization": (0.0, 0)}) is x
    with pytest.raises(ModelError):
        _quantize(x, {"dtype": np.int8, "quantization": (0.0, 0)})
