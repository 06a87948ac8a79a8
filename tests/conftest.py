"""Shared fixtures: where ../shared is, a tiny digit model trained once per session, and the CLI run in-process.

The machine is shared and has few cores: TensorFlow runs single-threaded here unless the caller says otherwise
(these are set before any test imports TensorFlow).
"""

from __future__ import annotations

import hashlib
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

for _name, _value in (("OMP_NUM_THREADS", "1"), ("TF_NUM_INTRAOP_THREADS", "1"), ("TF_NUM_INTEROP_THREADS", "1"),
                      ("TF_CPP_MIN_LOG_LEVEL", "2")):
    os.environ.setdefault(_name, _value)

#: ../shared beside the repository, or $HDR_EXPR_SHARED.
SHARED = Path(os.environ.get("HDR_EXPR_SHARED") or Path(__file__).resolve().parents[1].parent / "shared")

#: The tiny model: the paper's CNN, two epochs on the first 2,000 MNIST training images (about 93% on test).
TINY_TRAIN_IMAGES = 2000
TINY_TEST_IMAGES = 1000
TINY_EPOCHS = 2


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    """../shared (or $HDR_EXPR_SHARED); skips the test where it is absent."""
    if not SHARED.is_dir():
        pytest.skip(f"shared data not found at {SHARED} (set HDR_EXPR_SHARED)")
    return SHARED


@pytest.fixture(scope="session")
def mnist_dir(shared_dir: Path) -> Path:
    """The folder holding the four canonical MNIST .gz files (read-only)."""
    d = shared_dir / "datasets" / "mnist"
    if not (d / "t10k-images-idx3-ubyte.gz").is_file():
        pytest.skip(f"MNIST not found in {d}")
    return d


@pytest.fixture(scope="session")
def symbols_dir(shared_dir: Path) -> Path:
    """../shared/datasets/handwritten-symbols (read-only; two real sets in their native layouts)."""
    d = shared_dir / "datasets" / "handwritten-symbols"
    if not d.is_dir():
        pytest.skip(f"handwritten symbols not found in {d}")
    return d


@pytest.fixture(scope="session")
def mnist_small(mnist_dir: Path):
    """(x_train, y_train, x_test, y_test): the first 2,000 training and 1,000 test images, uint8."""
    from hdr_expr.datasets.mnist import load_mnist

    x_train, y_train = load_mnist("train", mnist_dir)
    x_test, y_test = load_mnist("test", mnist_dir)
    return (x_train[:TINY_TRAIN_IMAGES].copy(), y_train[:TINY_TRAIN_IMAGES].copy(),
            x_test[:TINY_TEST_IMAGES].copy(), y_test[:TINY_TEST_IMAGES].copy())


@pytest.fixture(scope="session")
def tiny_digit_model(tmp_path_factory, mnist_dir: Path) -> Path:
    """A digit model directory (model.keras, float16 model.tflite, card.json) trained once per session with
    :func:`hdr_expr.models.train.train_digits`: paper recipe, 2 epochs, 2,000 images; measured on 1,000 test
    images. Read-only for tests: copy it before changing anything in it."""
    from hdr_expr.models.train import PAPER, train_digits, with_overrides

    out = tmp_path_factory.mktemp("tiny-digit-model")
    train_digits(out, with_overrides(PAPER, epochs=TINY_EPOCHS), data_dir=mnist_dir, limit=TINY_TRAIN_IMAGES,
                 test_limit=TINY_TEST_IMAGES, progress=False, log=lambda _m: None)
    return out


@dataclass(frozen=True)
class CliResult:
    exit_code: int
    stdout: str
    stderr: str


@pytest.fixture
def run_cli(capsys, monkeypatch):
    """Run ``hdr-expr ARGS...`` in this process through the real entry point (``hdr_expr.cli.app.main``, which
    turns library errors into one stderr line): ``run_cli("evaluate", "--json")`` → CliResult. An exception that
    escapes main (a traceback a user would see) fails the test."""
    from hdr_expr.cli.app import main

    def run(*args: object) -> CliResult:
        monkeypatch.setattr(sys, "argv", ["hdr-expr", *map(str, args)])
        capsys.readouterr()
        code = 0
        try:
            main()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


def write_symbol_folder_set(
    root: Path, folders: dict[str, str], *, held_out: int = 3, train: int = 6, seed: int = 0
) -> Path:
    """A small real-style set in the folder-per-class layout: ``folders`` maps folder name → symbol; each
    folder gets dark-on-white PNGs drawn by the stroke synthesizer until it holds ``held_out`` images in the
    fixed held-out split (by file hash) and ``train`` outside it."""
    import cv2
    import numpy as np

    from hdr_expr.datasets.importers import is_held_out
    from hdr_expr.datasets.synth import draw_symbol

    rng = np.random.default_rng(seed)
    for folder, symbol in folders.items():
        d = root / folder
        d.mkdir(parents=True, exist_ok=True)
        counts = {True: 0, False: 0}
        want = {True: held_out, False: train}
        for i in range(10_000):
            if counts[True] >= held_out and counts[False] >= train:
                break
            ink = draw_symbol(symbol, rng)
            img = 255 - np.round(cv2.copyMakeBorder(ink, 8, 8, 8, 8, cv2.BORDER_CONSTANT, value=0) * 255)
            ok, buf = cv2.imencode(".png", img.astype(np.uint8))
            assert ok
            blob = buf.tobytes()
            side = is_held_out(hashlib.sha256(blob).hexdigest())
            if counts[side] < want[side]:
                (d / f"{folder}_{i:05d}.png").write_bytes(blob)
                counts[side] += 1
    return root


@pytest.fixture
def symbol_folder_set(tmp_path, monkeypatch):
    """A factory: ``symbol_folder_set({"plus": "+", "3": "3"}, held_out=3, train=6)`` → the set's root folder
    (in tmp_path; the importers' cache goes to tmp_path too)."""
    monkeypatch.setenv("HDR_EXPR_CACHE", str(tmp_path / "importer-cache"))
    counter = iter(range(1000))

    def make(folders: dict[str, str], **kwargs) -> Path:
        return write_symbol_folder_set(tmp_path / f"symbols-{next(counter)}", folders, **kwargs)

    return make


@pytest.fixture(scope="session")
def tiny_symbol_model(tmp_path_factory, tiny_digit_model: Path, mnist_dir: Path) -> Path:
    """A symbol model directory (19 classes) made once per session by
    :func:`hdr_expr.models.train.train_symbols` from :func:`tiny_digit_model`: one head epoch and one
    fine-tuning epoch on a tiny mix (1,000 MNIST images, a small drawn real set with folders plus/eq/3/dot,
    synthesized operators); measured on 500 MNIST test images, the real set's held-out split and 5 held-out
    synthetic images per class. Its accuracy is low: it is for plumbing, not for figures. Read-only.
    The drawn real set lies beside it: ``tiny_symbol_model.parent / "real"``."""
    from hdr_expr.models.train import SYMBOL_FINETUNE, SYMBOL_HEAD, train_symbols, with_overrides

    root = tmp_path_factory.mktemp("tiny-symbol-model")
    real = write_symbol_folder_set(root / "real", {"plus": "+", "eq": "=", "3": "3", "dot": "."},
                                   held_out=3, train=12)
    out = root / "model"
    train_symbols(out, tiny_digit_model, with_overrides(SYMBOL_HEAD, epochs=1),
                  with_overrides(SYMBOL_FINETUNE, epochs=1), real_data=[real], data_dir=mnist_dir,
                  mnist_limit=1000, operator_target=60, min_synth_operators=30, synth_digits=10,
                  eval_synth_per_class=5, test_limit=500, workers=1, cache=False, progress=False,
                  log=lambda _m: None)
    return out


@pytest.fixture(scope="module")
def browser():
    """A headless Chromium (Playwright over Debian's chromium); skips with the reason where there is none."""
    from browser_helpers import CHROMIUM_ARGS, chromium_path

    sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (pip install '.[test]')")
    exe = chromium_path()
    if exe is None:
        pytest.skip("no Chromium at /usr/bin/chromium (apt-get install chromium) for the browser tests")
    with sync_api.sync_playwright() as p:
        b = p.chromium.launch(executable_path=exe, args=CHROMIUM_ARGS)
        yield b
        b.close()
