"""pipeline.io: every input format into RGB pages, and one clear InputError per bad file."""

from __future__ import annotations

import io
import struct
import sys
import time
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image

from hdr_expr.errors import InputError
from hdr_expr.pipeline.io import Page, count_pages, iter_pages, page_from_array, read_pages, sniff_format


def _drawing(w: int = 120, h: int = 60) -> np.ndarray:
    """White page with a black '7' stroke and a red bar: enough to check orientation and colour."""
    img = np.full((h, w, 3), 255, np.uint8)
    cv2.line(img, (10, 10), (40, 10), (0, 0, 0), 3)
    cv2.line(img, (40, 10), (20, 50), (0, 0, 0), 3)
    cv2.rectangle(img, (70, 28), (110, 32), (255, 0, 0), -1)  # RGB red
    return img


def _png_bytes(arr: np.ndarray, mode: str | None = None) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(arr, mode=mode).save(buf, format="PNG") if mode else Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def _one(source, **kw) -> Page:
    pages = read_pages(source, **kw)
    assert len(pages) == 1
    page = pages[0]
    assert page.image.dtype == np.uint8 and page.image.ndim == 3 and page.image.shape[2] == 3
    return page


# ------------------------------------------------------------------------------------------------ good inputs


def test_png_rgb_round_trip(tmp_path: Path) -> None:
    img = _drawing()
    path = tmp_path / "a.png"
    path.write_bytes(_png_bytes(img))
    page = _one(path)
    assert np.array_equal(page.image, img)
    assert page.file == str(path) and page.page == 1 and page.size == (120, 60)


def test_opencv_decode_matches_pillow(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Plain PNG and JPEG (grey, RGB, RGBA) go through OpenCV for speed; the pixels are Pillow's."""
    from hdr_expr.pipeline import io as pio

    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 256, (37, 53, 3), dtype=np.uint8)
    rgba = np.dstack([rgb, rng.integers(0, 256, (37, 53), dtype=np.uint8)])
    files = {"rgb.png": (rgb, "PNG"), "rgba.png": (rgba, "PNG"), "grey.png": (rgb[:, :, 0], "PNG"),
             "rgb.jpg": (rgb, "JPEG"), "grey.jpg": (rgb[:, :, 1], "JPEG")}
    for name, (arr, fmt) in files.items():
        Image.fromarray(arr).save(tmp_path / name, format=fmt)
    used = []
    real = pio._fast_decode
    monkeypatch.setattr(pio, "_fast_decode", lambda *a: used.append(real(*a)) or used[-1])
    fast = {name: _one(tmp_path / name).image for name in files}
    assert all(u is not None for u in used) and len(used) == len(files)
    monkeypatch.setattr(pio, "_fast_decode", lambda *a: None)
    for name in files:
        assert np.array_equal(fast[name], _one(tmp_path / name).image), name


def test_transparent_png_is_laid_on_white(tmp_path: Path) -> None:
    rgba = np.zeros((60, 120, 4), np.uint8)  # fully transparent black ground
    cv2.line(rgba, (10, 30), (100, 30), (0, 0, 0, 255), 4)  # opaque black ink
    path = tmp_path / "canvas.png"
    path.write_bytes(_png_bytes(rgba))
    img = _one(path).image
    assert (img[5, 5] == 255).all()  # the transparent ground became white, not black
    assert (img[30, 50] == 0).all()  # the ink stayed black


def test_white_ink_on_transparency_is_laid_on_black(tmp_path: Path) -> None:
    rgba = np.zeros((60, 120, 4), np.uint8)
    cv2.line(rgba, (10, 30), (100, 30), (255, 255, 255, 255), 4)
    img = _one(_png_bytes(rgba)).image
    assert img[5, 5].max() == 0 and img[30, 50].min() == 255  # still visible


def test_grey_alpha_palette_16bit_and_bilevel_pngs(tmp_path: Path) -> None:
    grey = cv2.cvtColor(_drawing(), cv2.COLOR_RGB2GRAY)
    # 16-bit greyscale (cv2 writes a true 16-bit PNG)
    path16 = tmp_path / "g16.png"
    cv2.imwrite(str(path16), grey.astype(np.uint16) * 257)
    img = _one(path16).image
    assert np.abs(img[..., 0].astype(int) - grey).max() <= 1
    # palette with a transparent index
    pal = Image.fromarray(_drawing()).convert("P", palette=Image.Palette.ADAPTIVE, colors=8)
    buf = io.BytesIO()
    pal.save(buf, format="PNG", transparency=0)
    img = _one(buf.getvalue()).image
    assert img.shape == (60, 120, 3)
    # grey + alpha
    la = np.stack([grey, np.where(grey < 128, 255, 0).astype(np.uint8)], axis=2)
    img = _one(_png_bytes(la, "LA")).image
    assert img[5, 5].min() == 255 and img[10, 20].max() < 60
    # 1-bit
    buf = io.BytesIO()
    Image.fromarray(grey > 128).save(buf, format="PNG")
    img = _one(buf.getvalue()).image
    assert set(np.unique(img)) <= {0, 255}


def test_jpeg_exif_orientation_is_applied(tmp_path: Path) -> None:
    img = np.full((60, 120, 3), 255, np.uint8)
    img[:, :20] = 0  # dark band on the left of the stored pixels
    exif = Image.Exif()
    exif[0x0112] = 6  # stored rotated: display = rotate 90° clockwise
    path = tmp_path / "photo.jpg"
    Image.fromarray(img).save(path, format="JPEG", exif=exif, quality=95)
    out = _one(path).image
    assert out.shape == (120, 60, 3)  # turned upright
    assert out[:20].mean() < 40 and out[40:].mean() > 215  # the left band is now at the top


def test_cmyk_and_grey_jpeg_bmp_webp_gif(tmp_path: Path) -> None:
    base = Image.fromarray(_drawing())
    for fmt, im in [("JPEG", base.convert("CMYK")), ("JPEG", base.convert("L")), ("BMP", base),
                    ("WEBP", base), ("GIF", base.convert("P"))]:
        buf = io.BytesIO()
        im.save(buf, format=fmt, **({"quality": 95} if fmt in ("JPEG", "WEBP") else {}))
        out = _one(buf.getvalue()).image
        assert out.shape == (60, 120, 3), fmt
        assert out[5, 5].min() > 200 and out[10, 25].max() < 90, fmt  # white paper, black ink


def test_format_is_detected_by_content_not_name(tmp_path: Path) -> None:
    path = tmp_path / "really_a_png.jpg"
    path.write_bytes(_png_bytes(_drawing()))
    assert _one(path).image.shape == (60, 120, 3)
    assert sniff_format(path.read_bytes()[:16]) == "png"


def test_tiff_every_page(tmp_path: Path) -> None:
    frames = [Image.fromarray(_drawing(100 + 10 * i, 50)) for i in range(3)]
    path = tmp_path / "scan.tif"
    frames[0].save(path, save_all=True, append_images=frames[1:], compression="tiff_deflate")
    assert count_pages(path) == 3
    pages = read_pages(path)
    assert [p.page for p in pages] == [1, 2, 3]
    assert [p.image.shape[1] for p in pages] == [100, 110, 120]


def test_pdf_pages_are_rendered(tmp_path: Path) -> None:
    frames = [Image.fromarray(_drawing()), Image.fromarray(_drawing()[:, ::-1].copy())]
    path = tmp_path / "sheet.pdf"
    frames[0].save(path, save_all=True, append_images=frames[1:], resolution=72.0)
    assert count_pages(path) == 2
    pages = read_pages(path, pdf_dpi=144)
    assert len(pages) == 2 and pages[1].page == 2
    img = pages[0].image
    assert img.shape == (120, 240, 3)  # 120×60 pt page at 144 dpi
    assert img[4, 4].min() > 240 and img[20:60, 20:80].min() < 40  # white page, dark ink


def test_bytes_and_stdin(monkeypatch: pytest.MonkeyPatch) -> None:
    data = _png_bytes(_drawing())
    page = _one(data)
    assert page.file == "-"
    assert _one(data, name="upload.png").file == "upload.png"

    class _Stdin:
        buffer = io.BytesIO(data)

    monkeypatch.setattr(sys, "stdin", _Stdin())
    assert _one("-").file == "-"


def test_page_from_array_accepts_grey_float_and_rgba() -> None:
    grey = np.ones((40, 50), np.float32)
    grey[10:20, 10:40] = 0.0
    page = page_from_array(grey)
    assert page.image.shape == (40, 50, 3) and page.image[15, 20, 0] == 0 and page.image[0, 0, 0] == 255
    with pytest.raises(InputError):
        page_from_array(np.zeros((1, 1)))


# ------------------------------------------------------------------------------------------------ bad inputs


def _png_with_header(width: int, height: int) -> bytes:
    def chunk(kind: bytes, payload: bytes) -> bytes:
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    idat = zlib.compress(b"\x00" * 64)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def _bad_inputs(tmp_path: Path) -> dict[str, tuple[object, str]]:
    png = _png_bytes(_drawing(400, 300) + np.random.default_rng(0).integers(0, 30, (300, 400, 3), dtype=np.uint8))
    buf = io.BytesIO()
    Image.fromarray(_drawing(400, 300)).save(buf, format="JPEG", quality=90)
    jpg = buf.getvalue()
    files = {
        "empty.png": b"",
        "notes.png": b"12 + 7 = 19\nthis is text, not a picture\n",
        "cut.png": png[: len(png) // 2],
        "cut.jpg": jpg[: len(jpg) // 2],
        "dot.png": _png_bytes(np.zeros((1, 1, 3), np.uint8)),
        "sliver.png": _png_bytes(np.zeros((4, 300, 3), np.uint8)),
        "bomb.png": _png_with_header(50_000, 50_000),
        "broken.pdf": b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer garbage\n",
        "photo.heic": b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic",
        "random.bin": bytes(range(256)) * 4,
    }
    out: dict[str, tuple[object, str]] = {}
    for name, data in files.items():
        (tmp_path / name).write_bytes(data)
        out[name] = (tmp_path / name, "")
    # expected words in each message
    expect = {"empty.png": "empty", "notes.png": "text file", "cut.png": "truncated|corrupt", "cut.jpg": "truncated",
              "dot.png": "too small", "sliver.png": "too small", "bomb.png": "too large",
              "broken.pdf": "broken PDF", "photo.heic": "HEIC", "random.bin": "not a supported"}
    for name in files:
        out[name] = (tmp_path / name, expect[name])
    (tmp_path / "folder.png").mkdir()
    out["folder.png"] = (tmp_path / "folder.png", "directory")
    out["missing.png"] = (tmp_path / "missing.png", "no such file")
    return out


def test_each_bad_input_raises_one_clear_error_quickly(tmp_path: Path) -> None:
    import re

    for name, (path, words) in _bad_inputs(tmp_path).items():
        start = time.perf_counter()
        with pytest.raises(InputError) as info:
            read_pages(path)
        elapsed = time.perf_counter() - start
        message = str(info.value)
        assert elapsed < 0.5, (name, elapsed)
        assert "\n" not in message and name in message, (name, message)
        assert re.search(words, message, re.IGNORECASE), (name, message)


def test_bad_source_fails_on_the_call_not_later(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="too large"):
        iter_pages(_png_with_header(50_000, 50_000))  # no next() needed
    with pytest.raises(InputError, match="no such file"):
        iter_pages(tmp_path / "nope.png")


def test_pixel_cap_is_a_parameter() -> None:
    data = _png_bytes(_drawing(400, 300))
    assert _one(data, max_pixels=400 * 300).size == (400, 300)
    with pytest.raises(InputError, match="too large"):
        read_pages(data, max_pixels=400 * 300 - 1)


def test_pdf_without_pages(tmp_path: Path) -> None:
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument.new()
    path = tmp_path / "blank.pdf"
    pdf.save(str(path))
    pdf.close()
    with pytest.raises(InputError, match="no pages"):
        read_pages(path)
    with pytest.raises(InputError, match="no pages"):
        count_pages(path)


def test_truncated_tiff_page_fails_with_page_number(tmp_path: Path) -> None:
    frames = [Image.fromarray(_drawing(200, 150)) for _ in range(2)]
    buf = io.BytesIO()
    frames[0].save(buf, format="TIFF", save_all=True, append_images=frames[1:])
    data = buf.getvalue()
    # Corrupting the tail: either the second page's header is gone or its pixels are; both are InputErrors.
    with pytest.raises(InputError):
        read_pages(data[: len(data) - 200])
