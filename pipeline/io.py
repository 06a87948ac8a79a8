"""Open any input into pages: PNG, JPEG, TIFF (every frame), BMP, WebP, GIF, PDF (every page), or raw bytes.

The format is told by the file's first bytes, never by its name. Every page comes out the same way: an
H×W×3 uint8 RGB array, transparency laid on white (or on black where the drawing itself is light), EXIF
orientation applied, 16-bit and palette and CMYK images converted. Sizes are checked from the header before
anything is decoded, so a file that claims 50,000×50,000 pixels fails at once instead of allocating gigabytes.
Every problem is one :class:`~hdr_expr.errors.InputError` whose message a person can act on.
"""

from __future__ import annotations

import io
import sys
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from hdr_expr.errors import InputError

#: Default pixel cap per page (width × height), checked on the header before decoding.
MAX_PIXELS = 60_000_000
#: Pages whose shorter side is below this many pixels cannot hold readable writing.
MIN_SIDE = 8
#: Default and allowed resolution for PDF pages.
PDF_DPI = 200
PDF_DPI_RANGE = (72, 600)


@dataclass(frozen=True)
class Page:
    """One page of one input, ready for preprocessing."""

    image: np.ndarray  # H×W×3 uint8 RGB
    file: str  # display name of the source ("-" for standard input)
    page: int  # 1-based

    @property
    def size(self) -> tuple[int, int]:
        """(width, height) in pixels."""
        return int(self.image.shape[1]), int(self.image.shape[0])


# --------------------------------------------------------------------------------------------- format sniffing

_FORMATS = {
    "png": "PNG",
    "jpeg": "JPEG",
    "tiff": "TIFF",
    "bmp": "BMP",
    "webp": "WebP",
    "gif": "GIF",
    "pdf": "PDF",
}


def sniff_format(head: bytes) -> str | None:
    """The format a file's first bytes announce ('png', 'jpeg', 'tiff', 'bmp', 'webp', 'gif', 'pdf') or None."""
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if head.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if head[:4] in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
        return "tiff"
    if head.startswith(b"BM") and len(head) >= 26:
        return "bmp"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "webp"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "gif"
    # PDF readers accept junk before the header within the first KiB.
    if b"%PDF-" in head[:1024]:
        return "pdf"
    return None


def _describe_unknown(head: bytes) -> str:
    """A hint at what an unsupported file is, for the error message."""
    if head[4:12] in (b"ftypheic", b"ftypheix", b"ftypmif1", b"ftyphevc", b"ftypavif"):
        return "a HEIC/AVIF photo (not supported: export it as JPEG or PNG)"
    if head.startswith((b"PK\x03\x04", b"\x1f\x8b", b"7z\xbc\xaf", b"Rar!")):
        return "an archive, not an image"
    if head.startswith(b"<svg") or b"<svg" in head[:256]:
        return "an SVG drawing (not supported: export it as PNG)"
    sample = head[:512]
    if sample and all(b in b"\t\n\r" or 32 <= b < 127 or b >= 128 for b in sample):
        try:
            sample.decode("utf-8")
            return "a text file, not an image"
        except UnicodeDecodeError:
            pass
    return "not a supported image (PNG, JPEG, TIFF, BMP, WebP, GIF or PDF)"


# --------------------------------------------------------------------------------------------- opening sources


@dataclass(frozen=True)
class _Opened:
    data: bytes | None  # the bytes, for byte sources (and small files)
    path: Path | None  # the path, for files read by the decoder itself
    name: str
    fmt: str

    def stream(self) -> Any:
        return io.BytesIO(self.data) if self.data is not None else str(self.path)


def _open_source(source: str | Path | bytes, name: str | None) -> _Opened:
    """Check that the source exists and is a supported format; read nothing but its first bytes."""
    if isinstance(source, (bytes, bytearray, memoryview)):
        data = bytes(source)
        display = name or "-"
        if not data:
            raise InputError(f"{display}: empty input (0 bytes)")
        fmt = sniff_format(data[:1024])
        if fmt is None:
            raise InputError(f"{display}: {_describe_unknown(data[:1024])}")
        return _Opened(data, None, display, fmt)
    if str(source) == "-":
        data = sys.stdin.buffer.read()
        return _open_source(data, name or "-")
    path = Path(source)
    display = name or str(source)
    try:
        if not path.exists():
            raise InputError(f"{display}: no such file")
        if path.is_dir():
            raise InputError(f"{display}: is a directory, not an image file")
        size = path.stat().st_size
        if size == 0:
            raise InputError(f"{display}: empty file (0 bytes)")
        with path.open("rb") as fh:
            head = fh.read(1024)
    except PermissionError:
        raise InputError(f"{display}: permission denied") from None
    except OSError as exc:
        raise InputError(f"{display}: cannot be read ({exc.strerror or exc})") from None
    fmt = sniff_format(head)
    if fmt is None:
        raise InputError(f"{display}: {_describe_unknown(head)}")
    return _Opened(None, path, display, fmt)


# --------------------------------------------------------------------------------------------- raster images


def _check_size(width: int, height: int, max_pixels: int, where: str) -> None:
    if width * height > max_pixels:
        raise InputError(
            f"{where}: image too large ({width}×{height} = {width * height / 1e6:.0f} Mpx, "
            f"limit {max_pixels / 1e6:.0f} Mpx)"
        )
    if min(width, height) < MIN_SIDE:
        raise InputError(f"{where}: image too small to hold writing ({width}×{height} px)")


def _pil_open(opened: _Opened, max_pixels: int):
    """Image.open (header only) with Pillow's own decompression-bomb guard turned into an InputError."""
    from PIL import Image, UnidentifiedImageError

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        try:
            return Image.open(opened.stream())
        except Image.DecompressionBombError as exc:
            import re

            found = re.search(r"\((\d+) pixels\)", str(exc))
            declared = f"{int(found.group(1)) / 1e6:.0f} Mpx declared, " if found else ""
            raise InputError(f"{opened.name}: image too large ({declared}limit {max_pixels / 1e6:.0f} Mpx)") from None
        except UnidentifiedImageError:
            raise InputError(
                f"{opened.name}: looks like {_FORMATS[opened.fmt]} but cannot be read (corrupt header)"
            ) from None
        except (OSError, SyntaxError, ValueError, EOFError) as exc:
            raise InputError(f"{opened.name}: corrupt {_FORMATS[opened.fmt]} file ({_short(exc)})") from None


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return text[:160]


def _frame_count(im) -> int:
    try:
        return max(1, int(getattr(im, "n_frames", 1)))
    except (OSError, SyntaxError, ValueError, EOFError):
        return 1


def _to_uint8(arr: np.ndarray) -> np.ndarray:
    """Any integer or float greyscale/colour array → uint8, preserving the visible range."""
    if arr.dtype == np.uint8:
        return arr
    if arr.dtype == bool:
        return arr.astype(np.uint8) * 255
    a = arr.astype(np.float64)
    if not np.isfinite(a).all():
        a = np.nan_to_num(a, nan=0.0, posinf=0.0, neginf=0.0)
    hi = float(a.max()) if a.size else 0.0
    lo = float(a.min()) if a.size else 0.0
    if np.issubdtype(arr.dtype, np.floating) and lo >= 0.0 and hi <= 1.0:
        a = a * 255.0
    elif hi > 255.0 or lo < 0.0:
        if np.issubdtype(arr.dtype, np.integer) and lo >= 0 and hi <= 65535 and arr.dtype.itemsize == 2:
            a = a / 257.0  # 16-bit full range
        else:
            span = hi - lo
            a = (a - lo) * (255.0 / span) if span > 0 else np.zeros_like(a)
    return np.clip(np.rint(a), 0, 255).astype(np.uint8)


def _lay_on_ground(rgb: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """Composite over white; over black instead when the drawing itself is light (white ink on transparency)."""
    a = alpha.astype(np.float32) / 255.0
    opaque = a > 0.5
    ground = 255.0
    if 0.002 < opaque.mean() < 0.8:
        lum = rgb[opaque].astype(np.float32).mean(axis=1)
        if np.median(lum) > 200.0:
            ground = 0.0
    out = rgb.astype(np.float32) * a[..., None] + ground * (1.0 - a[..., None])
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def image_to_rgb(image: Any) -> np.ndarray:
    """A decoded Pillow image or a numpy array (grey, RGB, RGBA; any depth) → H×W×3 uint8 RGB."""
    from PIL import Image

    if isinstance(image, Image.Image):
        im = image
        mode = im.mode
        if mode == "P" or mode == "PA":
            im = im.convert("RGBA") if ("transparency" in im.info or mode == "PA") else im.convert("RGB")
        elif mode in ("L", "1") and "transparency" in im.info:
            im = im.convert("RGBA")
        elif mode in ("CMYK", "YCbCr", "LAB", "HSV"):
            im = im.convert("RGB")
        elif mode == "RGB" and "transparency" in im.info:
            im = im.convert("RGBA")
        elif mode == "1":
            im = im.convert("L")
        elif mode not in ("L", "LA", "RGB", "RGBA", "RGBa", "La") and not mode.startswith(("I", "F")):
            im = im.convert("RGBA")
        if im.mode == "RGBa":
            im = im.convert("RGBA")
        if im.mode == "La":
            im = im.convert("LA")
        arr = np.asarray(im)
    else:
        arr = np.asarray(image)
    if arr.ndim == 2:
        g = _to_uint8(arr)
        return np.repeat(g[:, :, None], 3, axis=2)
    if arr.ndim != 3 or arr.shape[2] not in (1, 2, 3, 4):
        raise InputError(f"unsupported image array shape {arr.shape}")
    arr = _to_uint8(arr)
    if arr.shape[2] == 1:
        return np.repeat(arr, 3, axis=2)
    if arr.shape[2] == 2:  # grey + alpha
        grey = np.repeat(arr[:, :, :1], 3, axis=2)
        return _lay_on_ground(grey, arr[:, :, 1])
    if arr.shape[2] == 4:
        alpha = arr[:, :, 3]
        if alpha.min() == 255:
            return np.ascontiguousarray(arr[:, :, :3])
        return _lay_on_ground(arr[:, :, :3], alpha)
    return np.ascontiguousarray(arr)


def _decode_frame(im, opened: _Opened, index: int, max_pixels: int) -> np.ndarray:
    from PIL import ImageOps

    where = opened.name if index == 0 and opened.fmt != "tiff" else f"{opened.name} (page {index + 1})"
    _check_size(int(im.size[0]), int(im.size[1]), max_pixels, where)
    try:
        im.load()
    except MemoryError:
        raise InputError(f"{where}: not enough memory to decode this image") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        msg = _short(exc)
        if "truncated" in msg.lower() or isinstance(exc, EOFError):
            raise InputError(f"{where}: truncated {_FORMATS[opened.fmt]} file (the end of the image is missing)") from None
        raise InputError(f"{where}: corrupt {_FORMATS[opened.fmt]} data ({msg})") from None
    try:
        turned = ImageOps.exif_transpose(im)
    except (OSError, SyntaxError, ValueError, KeyError, TypeError):
        turned = im  # unreadable EXIF: keep the pixels as stored
    if turned is None:
        turned = im
    return image_to_rgb(turned)


#: An EXIF orientation tag that asks for no turn.
_UPRIGHT = (None, 0, 1)


def _fast_decode(im, opened: _Opened, max_pixels: int) -> np.ndarray | None:
    """A plain 8-bit PNG or JPEG decoded by OpenCV (three times faster than Pillow here), or None where
    Pillow must do it: other formats and modes, transparency keys, a turn asked by EXIF, or a file that
    looks cut short (Pillow then says so)."""
    if opened.fmt not in ("png", "jpeg") or im.mode not in ("L", "RGB", "RGBA") or "transparency" in im.info:
        return None
    if opened.fmt == "jpeg":
        try:
            if im.getexif().get(0x0112) not in _UPRIGHT:
                return None
        except (OSError, SyntaxError, ValueError, KeyError, TypeError):
            return None
    _check_size(int(im.size[0]), int(im.size[1]), max_pixels, opened.name)
    try:
        data = opened.data if opened.data is not None else opened.path.read_bytes()
    except OSError:
        return None
    tail = data[-32:].rstrip(b"\0\r\n ")
    if (opened.fmt == "jpeg" and not tail.endswith(b"\xff\xd9")) or (opened.fmt == "png" and b"IEND" not in tail):
        return None
    import cv2

    arr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED | cv2.IMREAD_IGNORE_ORIENTATION)
    if arr is None or arr.dtype != np.uint8 or arr.shape[:2] != (im.size[1], im.size[0]):
        return None
    if arr.ndim == 3:
        arr = cv2.cvtColor(arr, cv2.COLOR_BGRA2RGBA if arr.shape[2] == 4 else cv2.COLOR_BGR2RGB)
    return image_to_rgb(arr)


def _raster_pages(opened: _Opened, max_pixels: int) -> Iterator[Page]:
    im = _pil_open(opened, max_pixels)
    try:
        fast = _fast_decode(im, opened, max_pixels)
        if fast is not None:
            yield Page(fast, opened.name, 1)
            return
        n = _frame_count(im) if opened.fmt == "tiff" else 1
        for index in range(n):
            if index:
                try:
                    im.seek(index)
                except (OSError, EOFError, ValueError) as exc:
                    raise InputError(f"{opened.name} (page {index + 1}): corrupt TIFF page ({_short(exc)})") from None
            yield Page(_decode_frame(im, opened, index, max_pixels), opened.name, index + 1)
    finally:
        im.close()


# --------------------------------------------------------------------------------------------- PDF


def _open_pdf(opened: _Opened):
    try:
        import pypdfium2 as pdfium
    except ImportError:  # pragma: no cover - a dependency
        raise InputError(f"{opened.name}: reading PDF needs pypdfium2 (pip install pypdfium2)") from None
    try:
        pdf = pdfium.PdfDocument(opened.data if opened.data is not None else opened.path)
    except pdfium.PdfiumError as exc:
        reason = _short(exc)
        if "password" in reason.lower() or "security" in reason.lower():
            raise InputError(f"{opened.name}: PDF is password-protected") from None
        if _pdf_looks_pageless(opened):  # PDFium refuses to load a document without pages
            raise InputError(f"{opened.name}: PDF has no pages") from None
        raise InputError(f"{opened.name}: broken PDF ({reason})") from None
    if len(pdf) == 0:
        pdf.close()
        raise InputError(f"{opened.name}: PDF has no pages")
    return pdf


def _pdf_looks_pageless(opened: _Opened) -> bool:
    import re

    data = opened.data
    if data is None and opened.path is not None:
        with opened.path.open("rb") as fh:
            data = fh.read(1 << 20)
    if not data:
        return False
    return bool(re.search(rb"/Count\s*0(?![0-9])", data)) and not re.search(rb"/Type\s*/Page(?![a-zA-Z])", data)


def _render_pdf_page(pdf, name: str, index: int, max_pixels: int, dpi: int) -> Page:
    """Render page ``index`` (0-based) of an open PDF."""
    import pypdfium2 as pdfium

    where = f"{name} (page {index + 1})"
    try:
        page = pdf[index]
        w_pt, h_pt = page.get_size()
        scale = dpi / 72.0
        # A poster-sized page is rendered at a lower resolution rather than refused.
        if w_pt * h_pt * scale * scale > max_pixels:
            scale = (max_pixels / max(w_pt * h_pt, 1.0)) ** 0.5 * 0.999
        if min(w_pt, h_pt) * scale < MIN_SIDE:
            raise InputError(f"{where}: PDF page too small ({w_pt:.0f}×{h_pt:.0f} pt)")
        bitmap = page.render(scale=scale, fill_color=(255, 255, 255, 255), rev_byteorder=True)
        arr = np.array(bitmap.to_numpy(), copy=True)
        bitmap.close()
        page.close()
    except pdfium.PdfiumError as exc:
        raise InputError(f"{where}: cannot render PDF page ({_short(exc)})") from None
    return Page(image_to_rgb(arr[:, :, :3] if arr.ndim == 3 and arr.shape[2] == 4 else arr), name, index + 1)


def _pdf_pages(opened: _Opened, max_pixels: int, dpi: int) -> Iterator[Page]:
    pdf = _open_pdf(opened)
    try:
        for index in range(len(pdf)):
            yield _render_pdf_page(pdf, opened.name, index, max_pixels, dpi)
    finally:
        pdf.close()


# --------------------------------------------------------------------------------------------- public API


def iter_pages(
    source: str | Path | bytes,
    *,
    name: str | None = None,
    max_pixels: int = MAX_PIXELS,
    pdf_dpi: int = PDF_DPI,
) -> Iterator[Page]:
    """Every page of an image file, PDF, or bytes (``"-"`` reads standard input), as :class:`Page` objects.

    The source is checked at once (missing, a directory, empty, not an image → :class:`InputError` raised by
    this call); pages are decoded one by one as the iterator is consumed, and a page that cannot be decoded
    raises :class:`InputError` when it is reached. ``max_pixels`` caps width × height per page (checked on
    the header before decoding; PDF pages bigger than the cap are rendered at a lower resolution instead).
    """
    if not PDF_DPI_RANGE[0] <= pdf_dpi <= PDF_DPI_RANGE[1]:
        raise InputError(f"PDF resolution {pdf_dpi} dpi is outside {PDF_DPI_RANGE[0]}–{PDF_DPI_RANGE[1]} dpi")
    opened = _open_source(source, name)
    # Check the header now, so a bad file fails on this call; decode lazily.
    if opened.fmt == "pdf":
        _open_pdf(opened).close()
        return _pdf_pages(opened, max_pixels, pdf_dpi)
    im = _pil_open(opened, max_pixels)
    try:
        where = opened.name if opened.fmt != "tiff" else f"{opened.name} (page 1)"
        _check_size(int(im.size[0]), int(im.size[1]), max_pixels, where)
    finally:
        im.close()
    return _raster_pages(opened, max_pixels)


def read_pages(source: str | Path | bytes, **kwargs: Any) -> list[Page]:
    """All pages at once (see :func:`iter_pages`)."""
    return list(iter_pages(source, **kwargs))


def read_page(
    source: str | Path | bytes,
    page: int,
    *,
    name: str | None = None,
    max_pixels: int = MAX_PIXELS,
    pdf_dpi: int = PDF_DPI,
) -> Page:
    """Page ``page`` (1-based) of a source alone, without decoding the pages before it (batch workers read one
    page each)."""
    opened = _open_source(source, name)
    if opened.fmt == "pdf":
        pdf = _open_pdf(opened)
        try:
            if not 1 <= page <= len(pdf):
                raise InputError(f"{opened.name}: has no page {page} (it has {len(pdf)})")
            return _render_pdf_page(pdf, opened.name, page - 1, max_pixels, pdf_dpi)
        finally:
            pdf.close()
    im = _pil_open(opened, max_pixels)
    try:
        n = _frame_count(im) if opened.fmt == "tiff" else 1
        if not 1 <= page <= n:
            raise InputError(f"{opened.name}: has no page {page} (it has {n})")
        if page > 1:
            try:
                im.seek(page - 1)
            except (OSError, EOFError, ValueError) as exc:
                raise InputError(f"{opened.name} (page {page}): corrupt TIFF page ({_short(exc)})") from None
        return Page(_decode_frame(im, opened, page - 1, max_pixels), opened.name, page)
    finally:
        im.close()


def count_pages(source: str | Path | bytes, *, name: str | None = None) -> int:
    """How many pages a source holds, without decoding them (TIFF frames, PDF pages; 1 for other images)."""
    opened = _open_source(source, name)
    if opened.fmt == "pdf":
        pdf = _open_pdf(opened)
        try:
            return len(pdf)
        finally:
            pdf.close()
    if opened.fmt != "tiff":
        return 1
    im = _pil_open(opened, MAX_PIXELS)
    try:
        return _frame_count(im)
    finally:
        im.close()


def page_from_array(image: np.ndarray, *, name: str = "array", page: int = 1) -> Page:
    """Wrap an in-memory image (grey, RGB, RGBA; uint8, uint16 or float) as a :class:`Page`."""
    arr = np.asarray(image)
    if arr.ndim not in (2, 3) or arr.size == 0:
        raise InputError(f"{name}: not an image array (shape {arr.shape})")
    rgb = image_to_rgb(arr)
    h, w = rgb.shape[:2]
    if min(h, w) < MIN_SIDE:
        raise InputError(f"{name}: image too small to hold writing ({w}×{h} px)")
    return Page(rgb, name, page)
