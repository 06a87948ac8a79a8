"""Draw a recognition onto its page: symbol boxes and labels, line boxes coloured by verdict, line summaries.

Used by ``hdr-expr recognize --annotate DIR``, the batch HTML report and the web page. Text is drawn with
Pillow in a font that has ``× ÷ ✓ ✗`` (DejaVu Sans where the system has it); without one, those characters are
written in ASCII (``x``, ``/``, ``ok``, ``wrong``) rather than as empty boxes.
"""

from __future__ import annotations

import functools
from pathlib import Path

import numpy as np

from hdr_expr.pipeline.results import LineResult, PageResult

GREEN = (0, 150, 60)
RED = (210, 30, 30)
GREY = (120, 120, 120)
SYMBOL = (40, 110, 220)

_FONT_FILES = ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "Arial Unicode.ttf", "ArialUnicodeMS.ttf", "seguisym.ttf")
_ASCII = str.maketrans({"×": "x", "÷": "/", "✓": "ok", "✗": "wrong", "·": "*"})


def line_colour(line: LineResult) -> tuple[int, int, int]:
    """Green for a right answer, red for a wrong one, grey where there is no verdict."""
    if line.correct is True:
        return GREEN
    if line.correct is False:
        return RED
    return GREY


@functools.lru_cache(maxsize=32)
def _font(size: int):
    """(font, has the symbols) — a TrueType font with × ÷ ✓ ✗ if one is found, else Pillow's default."""
    from PIL import ImageFont

    for name in _FONT_FILES:
        try:
            return ImageFont.truetype(name, size), True
        except OSError:
            continue
    try:
        return ImageFont.load_default(size=size), False
    except TypeError:  # Pillow < 10.1: a fixed bitmap font
        return ImageFont.load_default(), False


def _text(s: str, unicode_ok: bool) -> str:
    return s if unicode_ok else s.translate(_ASCII)


def annotate(image: np.ndarray, result: PageResult) -> np.ndarray:
    """A copy of ``image`` (H×W×3 RGB, or grey) with ``result`` drawn on it, as an RGB uint8 array. A page read
    turned (``result.turned``) is drawn turned the right way up, so that its lines run across as they are read."""
    from PIL import Image, ImageDraw

    arr = np.asarray(image)
    if arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=2)
    arr = arr[..., :3]
    if result.turned:
        from hdr_expr.pipeline.orientation import box_turned

        quarters = result.turned // 90
        size = (arr.shape[1], arr.shape[0])
        arr = np.rot90(arr, quarters)
        result = result.with_boxes(lambda box: box_turned(box, quarters, size))
    if arr.dtype != np.uint8:
        arr = np.clip(arr * (255.0 if arr.max(initial=0) <= 1.0 else 1.0), 0, 255).astype(np.uint8)
    canvas = Image.fromarray(np.ascontiguousarray(arr), "RGB")
    draw = ImageDraw.Draw(canvas)
    w, h = canvas.size
    thick = max(1, round(max(w, h) / 600))

    for x, y, bw, bh in result.crossed_out:  # what was taken for crossed out (and not read): boxed and crossed
        draw.rectangle([x, y, x + bw - 1, y + bh - 1], outline=GREY, width=thick)
        draw.line([x, y + bh - 1, x + bw - 1, y], fill=GREY, width=thick)
    for line in result.lines:
        colour = line_colour(line)
        lx, ly, lw, lh = line.box
        sym_font, sym_uni = _font(max(10, min(40, round(lh * 0.3))))
        for sym in line.symbols:
            x, y, sw, sh = sym.box
            draw.rectangle([x, y, x + sw - 1, y + sh - 1], outline=SYMBOL, width=thick)
            label = _text(sym.label, sym_uni)
            draw.text((x + 1, y + sh + 1), label, fill=SYMBOL, font=sym_font)
        pad = 2 * thick + 2
        draw.rectangle([lx - pad, ly - pad, lx + lw + pad, ly + lh + pad], outline=colour, width=2 * thick)
        font, uni = _font(max(12, min(64, round(lh * 0.45))))
        summary = _text(line.summary(), uni)
        left, top, right, bottom = draw.textbbox((0, 0), summary, font=font)
        tw, th = right - left, bottom - top
        tx = min(max(0, lx - pad), max(0, w - tw - 4))
        ty = ly - pad - th - 6
        if ty < 0:  # no room above: below the line
            ty = min(h - th - 4, ly + lh + pad + 4)
        draw.rectangle([tx, ty, tx + tw + 4, ty + th + 4], fill=colour)
        draw.text((tx + 2 - left, ty + 2 - top), summary, fill=(255, 255, 255), font=font)
    return np.asarray(canvas)


def annotated_name(result: PageResult) -> str:
    """``<file stem>.png`` for a first page, ``<file stem>-p<page>.png`` for later ones (``stdin`` for ``-``)."""
    stem = Path(result.file).stem if result.file not in ("-", "") else "stdin"
    return f"{stem}.png" if result.page == 1 else f"{stem}-p{result.page}.png"


def save_annotated(image: np.ndarray, result: PageResult, directory: str | Path, name: str | None = None) -> Path:
    """Write the annotated page as PNG into ``directory`` (default name: :func:`annotated_name`)."""
    from PIL import Image

    out_dir = Path(directory)
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / (name or annotated_name(result))
    Image.fromarray(annotate(image, result)).save(path)
    return path
