"""Importers on small fixtures the tests draw in each native layout (and, where ../shared is present, on a
few real files copied from it)."""

from __future__ import annotations

import hashlib
import os
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from hdr_expr.datasets import importers
from hdr_expr.datasets.importers import (
    HASY_CSV,
    folder_class,
    is_held_out,
    load_folder_set,
    load_hasy,
    load_real_set,
    normalize_image,
)
from hdr_expr.errors import DataError
from hdr_expr.symbols import SYMBOL_CLASSES

IDX = {c: i for i, c in enumerate(SYMBOL_CLASSES)}


@pytest.fixture(autouse=True)
def _cache(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))


def draw(symbol: str, size=(135, 155), *, thickness=4, seed=0, dark_ink=True, frame_line=False) -> np.ndarray:
    """A crude symbol drawn with cv2, dark on white (or light on black), in a frame of `size` (h, w)."""
    rng = np.random.default_rng(seed)
    h, w = size
    s = min(h, w) * (0.5 + 0.1 * rng.random())
    cx, cy = w / 2 + rng.uniform(-0.1, 0.1) * w, h / 2 + rng.uniform(-0.1, 0.1) * h
    img = np.zeros((h, w), np.uint8)

    def line(x0, y0, x1, y1):
        p = lambda x, y: (int(round(cx + x * s / 2)), int(round(cy + y * s / 2)))  # noqa: E731
        cv2.line(img, p(x0, y0), p(x1, y1), 255, thickness, cv2.LINE_AA)

    def dot(x, y, r):
        cv2.circle(img, (int(cx + x * s / 2), int(cy + y * s / 2)), max(1, int(r * s / 2)), 255, -1, cv2.LINE_AA)

    if symbol == "+":
        line(-1, 0, 1, 0), line(0, -1, 0, 1)
    elif symbol == "-":
        line(-1, 0, 1, 0)
    elif symbol == "×":
        line(-1, -1, 1, 1), line(-1, 1, 1, -1)
    elif symbol == "=":
        line(-1, -0.3, 1, -0.3), line(-1, 0.3, 1, 0.3)
    elif symbol == "÷":
        line(-1, 0, 1, 0), dot(0, -0.6, 0.15), dot(0, 0.6, 0.15)
    elif symbol == ".":
        dot(0, 0, 0.2)
    elif symbol == "/":
        line(-0.45, 1, 0.45, -1)
    elif symbol in "()":
        sign = 1 if symbol == "(" else -1
        cv2.ellipse(img, (int(cx + sign * s * 0.3), int(cy)), (int(s * 0.45), int(s * 0.55)), 0,
                    150 if sign > 0 else -30, 210 if sign > 0 else 30, 255, thickness, cv2.LINE_AA)
    elif symbol == "1":
        line(0, -1, 0, 1)
    elif symbol == "0":
        cv2.ellipse(img, (int(cx), int(cy)), (int(s * 0.3), int(s * 0.5)), 0, 0, 360, 255, thickness, cv2.LINE_AA)
    else:
        raise ValueError(symbol)
    if frame_line:
        img[h - 4 : h - 2, :] = 255
    return img if not dark_ink else 255 - img


def write(path: Path, img: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), img)


def write_named(folder: Path, img: np.ndarray, suffix=".jpg") -> Path:
    ok, buf = cv2.imencode(suffix, img)
    assert ok
    data = buf.tobytes()
    path = folder / (hashlib.sha256(data).hexdigest()[:16] + suffix)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def check_mnist_like(x: np.ndarray) -> None:
    """uint8 28×28, ink bright on a dark ground, fitted into 20 px and centred by mass."""
    assert x.dtype == np.uint8 and x.shape == (28, 28)
    assert x.max() >= 200
    border = np.concatenate([x[0], x[-1], x[:, 0], x[:, -1]])
    assert border.max() == 0
    ys, xs = np.nonzero(x > 0)
    assert max(np.ptp(ys), np.ptp(xs)) + 1 in range(19, 23)
    m = x.astype(float)
    cy, cx = (np.indices(x.shape) * m).reshape(2, -1).sum(1) / m.sum()
    assert abs(cy - 13.5) < 1.5 and abs(cx - 13.5) < 1.5


CROHME = {"0": "0", "1": "1", "+": "+", "-": "-", "times": "×", "=": "=", "(": "(", ")": ")", "forward_slash": "/"}
SAGYAM = {"0": "0", "1": "1", "add": "+", "sub": "-", "mul": "×", "div": "÷", "eq": "=", "dec": "."}


def make_crohme(root: Path, per_class=3) -> None:
    for folder, sym in CROHME.items():
        for k in range(per_class):
            img = draw(sym, (45, 45), thickness=1, seed=k)
            write_named(root / folder, img)
    write_named(root / "alpha", draw("0", (45, 45), thickness=1))  # not a class of ours


def make_sagyam(root: Path, per_class=3) -> None:
    for folder, sym in SAGYAM.items():
        for k in range(per_class):
            img = cv2.cvtColor(draw(sym, seed=k, thickness=5), cv2.COLOR_GRAY2BGR)
            if k == 2:  # the 400×400 RGBA PNGs
                big = cv2.resize(draw(sym, (400, 400), seed=k, thickness=9), (400, 400))
                rgba = cv2.merge([big, big, big, np.full_like(big, 255)])
                write_named(root / folder, rgba, ".png")
            else:
                write_named(root / folder, img)


# --- class names ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name,cls",
    [("+", "+"), ("plus", "+"), ("add", "+"), ("-", "-"), ("minus", "-"), ("sub", "-"), ("times", "×"), ("x", "×"),
     ("mul", "×"), ("*", "×"), ("div", "÷"), ("divide", "÷"), ("=", "="), ("eq", "="), ("equals", "="),
     ("(", "("), ("lpar", "("), ("left_paren", "("), ("Left Paren", "("), (")", ")"), ("rpar", ")"),
     ("dot", "."), ("decimal", "."), ("dec", "."), ("forward_slash", "/"), ("slash", "/"), ("7", "7"),
     ("seven", "7"), ("alpha", None), ("sqrt", None), ("", None)],
)
def test_folder_class_names(name, cls):
    assert folder_class(name) == cls


# --- folder layouts ---------------------------------------------------------------------------------------


def test_crohme_layout(tmp_path):
    make_crohme(tmp_path / "crohme")
    s = load_folder_set(tmp_path / "crohme", workers=1)
    assert s.name == "crohme"
    assert s.skipped_folders == ("alpha",)
    assert {c: n for c, n in s.counts.items() if n} == {c: 3 for c in CROHME.values()}
    assert len(s) == len(s.sha256) == len(s.paths) == s.x.shape[0]
    for x in s.x:
        check_mnist_like(x)
    # a `-` stays a wide thin bar and `(` a tall narrow arc: aspect kept, only size lost
    minus = s.x[s.y == IDX["-"]][0] > 64
    ys, xs = np.nonzero(minus)
    assert np.ptp(xs) >= 18 and np.ptp(ys) <= 6
    lpar = s.x[s.y == IDX["("]][0] > 64
    ys, xs = np.nonzero(lpar)
    assert np.ptp(ys) >= 18 and np.ptp(xs) <= 12
    # file names are the first 16 hex digits of the SHA-256 of the file
    for p, h in zip(s.paths, s.sha256):
        assert Path(p).stem == h[:16]


def test_sagyamthapa_layout_and_frame_line(tmp_path):
    root = tmp_path / "sagyam"
    make_sagyam(root)
    write_named(root / "1", cv2.cvtColor(draw("1", seed=7, frame_line=True), cv2.COLOR_GRAY2BGR))
    s = load_folder_set(root, "sagyam", workers=1)
    counts = {c: n for c, n in s.counts.items() if n}
    assert counts == {**{c: 3 for c in SAGYAM.values()}, "1": 4}
    for x in s.x:
        check_mnist_like(x)
    # the `1` with a line along the bottom edge normalizes to a tall thin stroke, not an inverted T
    for x in s.x[s.y == IDX["1"]]:
        ys, xs = np.nonzero(x > 64)
        assert np.ptp(xs) <= 6, "frame line left in"


def test_white_on_black_polarity(tmp_path):
    root = tmp_path / "wob"
    for k in range(3):
        write_named(root / "plus", draw("+", seed=k, dark_ink=False), ".png")
        write_named(root / "minus", draw("-", seed=k, dark_ink=True), ".png")
    s = load_folder_set(root, workers=1)
    for x in s.x:
        check_mnist_like(x)
    a = s.x[s.y == IDX["+"]].astype(float).mean(0)
    b = s.x[s.y == IDX["-"]].astype(float).mean(0)
    # a white-on-black + reads like a dark-on-white +: ink on both axes through the centre
    assert a[4:24, 14].mean() > 100 and a[14, 4:24].mean() > 100
    assert b[14, 4:24].mean() > 100 and b[4, 14] == 0


def test_normalize_image_channels():
    grey = draw("×", seed=1)
    rgb = cv2.cvtColor(grey, cv2.COLOR_GRAY2RGB)
    rgba = cv2.cvtColor(grey, cv2.COLOR_GRAY2RGBA)
    a, b, c = normalize_image(grey), normalize_image(rgb), normalize_image(rgba)
    assert np.array_equal(a, b) and np.array_equal(a, c)
    assert normalize_image(np.full((50, 50), 255, np.uint8)) is None


def test_undecodable_and_blank_are_skipped_and_counted(tmp_path):
    root = tmp_path / "bad"
    make_crohme(root, per_class=1)
    (root / "0" / "broken.jpg").write_bytes(b"not a jpeg")
    write(root / "1" / "blank.png", np.full((45, 45), 255, np.uint8))
    s = load_folder_set(root, workers=1)
    assert s.undecodable == ("0/broken.jpg",)
    assert s.blank == ("1/blank.png",)
    assert s.counts["0"] == 1 and s.counts["1"] == 1
    rec = s.record()
    assert rec["undecodable"] == 1 and rec["blank"] == 1 and rec["files"] == len(s) + 2


def test_bad_folders_raise(tmp_path):
    with pytest.raises(DataError, match="not found"):
        load_folder_set(tmp_path / "nowhere")
    (tmp_path / "junk" / "alpha").mkdir(parents=True)
    (tmp_path / "junk" / "beta").mkdir()
    with pytest.raises(DataError, match=r"no class folders.*alpha, beta"):
        load_folder_set(tmp_path / "junk")
    (tmp_path / "allbad" / "plus").mkdir(parents=True)
    (tmp_path / "allbad" / "plus" / "a.png").write_bytes(b"\x89PNG broken")
    with pytest.raises(DataError, match="no readable symbol image"):
        load_folder_set(tmp_path / "allbad", workers=1)


# --- HASYv2 -----------------------------------------------------------------------------------------------


def make_hasy(root: Path) -> dict[str, int]:
    rows = ["path,symbol_id,latex,user_id"]
    want = {}
    entries = [("+", "+"), ("\\times", "×"), ("\\div", "÷"), ("=", "="), ("(", "("), (")", ")"), (".", "."),
               ("/", "/"), ("-", "-"), ("1", "1"), ("\\ast", "×"), ("\\cdot", "."), ("\\alpha", None), ("A", None)]
    drawn = {"\\ast": "×", "\\cdot": ".", "\\alpha": "0", "A": "+"}
    for k, (latex, cls) in enumerate(entries):
        sym = drawn.get(latex, cls)
        img = draw(sym, (32, 32), thickness=1, seed=k)
        rel = f"hasy-data/v2-{k:05d}.png"
        write(root / rel, img)
        rows.append(f'{rel},{1000 + k},"{latex}",{k % 3}')
        if cls:
            want[cls] = want.get(cls, 0) + 1
    (root / HASY_CSV).write_text("\n".join(rows) + "\n", encoding="utf-8")
    return want


def test_hasy_layout(tmp_path):
    want = make_hasy(tmp_path / "HASYv2")
    s = load_hasy(tmp_path / "HASYv2", workers=1)
    assert {c: n for c, n in s.counts.items() if n} == want
    assert s.skipped_labels == {"\\alpha": 1, "A": 1}
    for x in s.x:
        check_mnist_like(x)
    # the same through the either-layout entry point, and from the csv path itself
    assert np.array_equal(load_real_set(tmp_path / "HASYv2").x, s.x)
    assert np.array_equal(load_hasy(tmp_path / "HASYv2" / HASY_CSV).y, s.y)


def test_hasy_bad_data(tmp_path):
    with pytest.raises(DataError, match="HASYv2 labels not found"):
        load_hasy(tmp_path)
    (tmp_path / HASY_CSV).write_text("file,label\na.png,1\n")
    with pytest.raises(DataError, match="not a HASYv2 label file"):
        load_hasy(tmp_path)
    (tmp_path / HASY_CSV).write_text('path,symbol_id,latex,user_id\n../x.png,1,"+",0\n')
    with pytest.raises(DataError, match="outside"):
        load_hasy(tmp_path)
    (tmp_path / HASY_CSV).write_text('path,symbol_id,latex,user_id\na.png,1,"\\alpha",0\n')
    with pytest.raises(DataError, match="lists no symbol of ours"):
        load_hasy(tmp_path)


# --- split and cache --------------------------------------------------------------------------------------


def test_held_out_rule():
    assert is_held_out("00000000" + "f" * 56)  # 0 mod 100
    assert is_held_out("00000009" + "0" * 56)  # 9
    assert not is_held_out("0000000a" + "0" * 56)  # 10
    assert not is_held_out("ffffffff" + "0" * 56)  # 4294967295 mod 100 = 95
    hashes = [hashlib.sha256(str(i).encode()).hexdigest() for i in range(5000)]
    share = np.mean([is_held_out(h) for h in hashes])
    assert 0.08 < share < 0.12


def test_split_depends_on_file_bytes_only(tmp_path):
    make_crohme(tmp_path / "a", per_class=6)
    s = load_folder_set(tmp_path / "a", workers=1)
    tr, ho = s.train_split(), s.held_out_split()
    assert len(tr) + len(ho) == len(s) and tr.split == "train" and ho.split == "held-out"
    assert not set(tr.sha256) & set(ho.sha256)
    # renamed files in another folder and order: same images held out
    for p in (tmp_path / "a").rglob("*.jpg"):
        dst = tmp_path / "b" / p.parent.name / ("renamed_" + p.stem[::-1] + p.suffix)
        dst.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(p, dst)
    s2 = load_folder_set(tmp_path / "b", workers=1)
    assert set(s2.held_out_split().sha256) == set(ho.sha256)
    for h in s.sha256:
        assert is_held_out(h) == (h in ho.sha256)


def test_cache_is_used_and_keyed_by_listing(tmp_path, monkeypatch):
    root = tmp_path / "set"
    make_crohme(root, per_class=2)
    first = load_folder_set(root, workers=1)
    assert list((tmp_path / "cache" / "hdr-expr" / "symbols").glob("folder-set-*.npz"))

    def boom(*a, **k):
        raise AssertionError("cache not used")

    monkeypatch.setattr(importers, "_run", boom)
    again = load_folder_set(root, workers=1)
    assert np.array_equal(again.x, first.x) and again.sha256 == first.sha256 and again.paths == first.paths
    write_named(root / "+", draw("+", (45, 45), thickness=1, seed=99))  # the listing changed: rebuilt
    with pytest.raises(AssertionError, match="cache not used"):
        load_folder_set(root, workers=1)
    monkeypatch.undo()
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    assert load_folder_set(root, cache=False, workers=1).counts["+"] == 3


def test_worker_processes_match_in_process(tmp_path, monkeypatch):
    make_crohme(tmp_path / "set", per_class=4)
    monkeypatch.setattr(importers, "_CHUNK", 8)
    a = load_folder_set(tmp_path / "set", workers=1, cache=False)
    b = load_folder_set(tmp_path / "set", workers=2, cache=False)
    assert np.array_equal(a.x, b.x) and a.sha256 == b.sha256


# --- a few real files, where ../shared is present ---------------------------------------------------------


def _shared() -> Path | None:
    env = os.environ.get("HDR_EXPR_SHARED")
    root = Path(env) if env else Path(__file__).resolve().parents[1].parent / "shared"
    data = root / "datasets" / "handwritten-symbols"
    return data if data.is_dir() else None


@pytest.mark.parametrize("layout", ["crohme-kaggle", "sagyamthapa-kaggle"])
def test_real_files_sample(tmp_path, layout):
    shared = _shared()
    if shared is None or not (shared / layout).is_dir():
        pytest.skip("../shared/datasets/handwritten-symbols not present")
    dst = tmp_path / layout
    for folder in sorted(p for p in (shared / layout).iterdir() if p.is_dir()):
        for f in sorted(folder.iterdir())[:3]:
            (dst / folder.name).mkdir(parents=True, exist_ok=True)
            shutil.copy(f, dst / folder.name / f.name)
    s = load_folder_set(dst, workers=1, cache=False)
    assert s.skipped_folders == () and not s.undecodable and not s.blank
    assert sum(1 for n in s.counts.values() if n) == (17 if layout == "crohme-kaggle" else 16)
    for x, p, h in zip(s.x, s.paths, s.sha256):
        assert Path(p).stem == h[:16]  # the shared set names files by their SHA-256
        assert x.max() >= 200 and x[0].max() == 0 and x[:, 0].max() == 0
