"""Worksheet pages drawn for the batch/report tests: MNIST *test* digits from ../shared (Hershey-font digits where
the data set is absent) pasted in lines, with operators drawn as pen strokes; written as PNG, JPEG, multi-page
TIFF and PDF. Nothing here is committed data: every page is drawn in the test's tmp_path."""

from __future__ import annotations

import functools
import os
from pathlib import Path

import cv2
import numpy as np
from PIL import Image

#: 200-dpi US letter.
LETTER = (1700, 2200)


def shared_dir() -> Path | None:
    env = os.environ.get("HDR_EXPR_SHARED")
    path = Path(env) if env else Path(__file__).resolve().parents[1].parent / "shared"
    return path if path.is_dir() else None


@functools.lru_cache(maxsize=1)
def mnist_test() -> tuple[np.ndarray, np.ndarray] | None:
    base = shared_dir()
    if base is None or not (base / "datasets" / "mnist").is_dir():
        return None
    from hdr_expr.datasets.mnist import load_mnist

    images, labels = load_mnist("test", base / "datasets", verify=False)
    return images[:2000], labels[:2000]


def _digit(ch: str, size: int, rng: np.random.Generator) -> np.ndarray:
    """A size×size ink image (ink bright) of one digit."""
    data = mnist_test()
    if data is not None:
        images, labels = data
        choices = np.flatnonzero(labels == int(ch))
        img = images[rng.choice(choices)]
        return cv2.resize(img, (size, size), interpolation=cv2.INTER_LINEAR)
    tile = np.zeros((size, size), np.uint8)
    scale = size / 40.0
    cv2.putText(tile, ch, (int(size * 0.2), int(size * 0.8)), cv2.FONT_HERSHEY_SIMPLEX, scale, 255,
                max(2, size // 12), cv2.LINE_AA)
    return tile


def _operator(ch: str, size: int) -> np.ndarray:
    tile = np.zeros((size, size), np.uint8)
    t = max(3, size // 14)
    c, r = size // 2, size // 4
    if ch in "+-":
        cv2.line(tile, (c - r, c), (c + r, c), 255, t, cv2.LINE_AA)
    if ch == "+":
        cv2.line(tile, (c, c - r), (c, c + r), 255, t, cv2.LINE_AA)
    if ch == "=":
        cv2.line(tile, (c - r, c - r // 2), (c + r, c - r // 2), 255, t, cv2.LINE_AA)
        cv2.line(tile, (c - r, c + r // 2), (c + r, c + r // 2), 255, t, cv2.LINE_AA)
    if ch == "×":
        cv2.line(tile, (c - r, c - r), (c + r, c + r), 255, t, cv2.LINE_AA)
        cv2.line(tile, (c - r, c + r), (c + r, c - r), 255, t, cv2.LINE_AA)
    return tile


def draw_worksheet(lines: list[str], *, size: tuple[int, int] = LETTER, seed: int = 0, glyph: int = 64) -> np.ndarray:
    """An RGB page (white paper, dark ink) with one expression per line, top to bottom."""
    width, height = size
    rng = np.random.default_rng(seed)
    ink = np.zeros((height, width), np.uint8)
    margin = int(width * 0.1)
    step = max(glyph * 2, (height - 2 * margin) // max(len(lines), 1))
    for i, text in enumerate(lines):
        y = margin + i * step
        x = margin + int(rng.integers(0, glyph))
        for ch in text:
            if ch == " ":
                x += glyph // 2
                continue
            tile = _digit(ch, glyph, rng) if ch.isdigit() else _operator(ch, glyph)
            if y + glyph > height or x + glyph > width:
                break
            ink[y : y + glyph, x : x + glyph] = np.maximum(ink[y : y + glyph, x : x + glyph], tile)
            x += int(glyph * 0.8)
    paper = 255 - (ink.astype(np.float32) * 0.85).astype(np.uint8)
    return np.repeat(paper[:, :, None], 3, axis=2)


def worksheet_lines(seed: int, n: int = 8) -> list[str]:
    """n lines of simple sums, some answered right, some wrong, some unanswered."""
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        a, b = int(rng.integers(1, 50)), int(rng.integers(1, 50))
        kind = i % 3
        answer = a + b if kind == 0 else (a + b + 1 if kind == 1 else None)
        out.append(f"{a}+{b}=" + ("" if answer is None else str(answer)))
    return out


def save_png(image: np.ndarray, path: Path) -> Path:
    Image.fromarray(image).save(path, format="PNG")
    return path


def save_jpeg(image: np.ndarray, path: Path, quality: int = 90) -> Path:
    Image.fromarray(image).save(path, format="JPEG", quality=quality)
    return path


def save_tiff(images: list[np.ndarray], path: Path) -> Path:
    frames = [Image.fromarray(im).convert("L") for im in images]
    frames[0].save(path, format="TIFF", save_all=True, append_images=frames[1:], compression="tiff_deflate")
    return path


def save_pdf(images: list[np.ndarray], path: Path, dpi: int = 200) -> Path:
    frames = [Image.fromarray(im).convert("L") for im in images]
    frames[0].save(path, format="PDF", save_all=True, append_images=frames[1:], resolution=float(dpi))
    return path


def small_page(seed: int = 0, lines: int = 3) -> np.ndarray:
    """A quick page (600×400) for tests about the machinery rather than reading."""
    return draw_worksheet(worksheet_lines(seed, lines), size=(600, 400), seed=seed, glyph=40)
