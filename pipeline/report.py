"""What people open after a batch: a CSV with a row per expression and one self-contained HTML report.

Both are written from the records (``PageResult.to_dict()``, the lines of the batch JSONL), never from a second
reading of the pages: the HTML report only decodes each page again to embed the scan. The report is one file
with nothing outside it: scans are base64 JPEG data URIs, the CSS is inline, a Content-Security-Policy forbids
any other source, and every line's box is an element over the scan (class ``right`` green, ``wrong`` red,
``none`` grey: no written answer or not readable) placed in percent of the page, so it scales with the image.
"""

from __future__ import annotations

import base64
import csv
import html
import io
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from hdr_expr.errors import InputError

Record = dict[str, Any]
ImageLoader = Callable[[str, int], "np.ndarray | None"]

CSV_COLUMNS = ("file", "page", "line", "label", "text", "value", "answer", "correct", "confidence", "error")
#: Longest side of an embedded scan, in pixels (the boxes are in percent, so any size lines up).
SCAN_MAX_SIDE = 1400
SCAN_JPEG_QUALITY = 80


# ------------------------------------------------------------------------------------------------ helpers


def verdict(line: Record) -> str:
    """``right``, ``wrong`` or ``none`` (no written answer, or the line does not read as arithmetic)."""
    if line.get("correct") is True:
        return "right"
    if line.get("correct") is False:
        return "wrong"
    return "none"


def line_summary(line: Record) -> str:
    """The line as people read it (``12+7=19 ✓``), by the one formatter :meth:`LineResult.summary`."""
    from hdr_expr.pipeline.results import LineResult

    return LineResult(
        text=line.get("text") or "",
        box=tuple(line.get("box") or (0, 0, 0, 0)),
        symbols=(),
        confidence=float(line.get("confidence") or 0.0),
        expression=line.get("expression"),
        latex=line.get("latex"),
        value=line.get("value"),
        answer=line.get("answer"),
        correct=line.get("correct"),
        error=line.get("error"),
        label=line.get("label"),
    ).summary()


def without_symbols(records: Iterable[Record]) -> Iterator[Record]:
    """The records without their per-symbol detail, which neither the CSV nor the report shows: a tenth of the
    memory, so a long batch's records can be held and put in order."""
    for record in records:
        lines = [{k: v for k, v in line.items() if k != "symbols"} for line in record.get("lines") or ()]
        yield {**record, "lines": lines}


def order_records(records: Iterable[Record], order: Sequence[tuple[str, int]] | None = None) -> list[Record]:
    """Records sorted into ``order`` (the inputs' page order); others after, by file and page."""
    rank = {key: i for i, key in enumerate(order or ())}
    big = len(rank)
    return sorted(records, key=lambda r: (rank.get((r["file"], r["page"]), big), r["file"], r["page"]))


# ------------------------------------------------------------------------------------------------ CSV


def _csv_bool(value: Any) -> str:
    return "" if value is None else ("true" if value else "false")


def csv_rows(records: Iterable[Record]) -> Iterable[list[Any]]:
    """A row per line (``line`` numbered from 1 in reading order); a page that could not be read gets one
    row with an empty ``line`` and its ``error``."""
    for record in records:
        if record.get("error"):
            yield [record["file"], record["page"], "", "", "", "", "", "", "", record["error"]]
            continue
        for number, line in enumerate(record.get("lines") or (), 1):
            yield [
                record["file"],
                record["page"],
                number,
                line.get("label") or "",
                line.get("text") or "",
                line.get("value") if line.get("value") is not None else "",
                line.get("answer") if line.get("answer") is not None else "",
                _csv_bool(line.get("correct")),
                f"{float(line.get('confidence') or 0.0):.4f}",
                line.get("error") or "",
            ]


def write_csv(records: Iterable[Record], path: str | Path) -> int:
    """Write the CSV (UTF-8, header row first); returns the number of rows after the header."""
    n = 0
    try:
        with Path(path).open("w", newline="", encoding="utf-8") as fh:
            writer = csv.writer(fh)
            writer.writerow(CSV_COLUMNS)
            for row in csv_rows(records):
                writer.writerow(row)
                n += 1
    except OSError as exc:
        raise InputError(f"{path}: cannot write the CSV ({exc.strerror or exc})") from None
    return n


# ------------------------------------------------------------------------------------------------ HTML


def default_image_loader(file: str, page: int) -> np.ndarray | None:
    """The page image from its file (as named in the record), or None when it cannot be read any more."""
    from hdr_expr.pipeline.io import read_page

    try:
        return read_page(file, page, name=file).image
    except (InputError, OSError):
        return None


def jpeg_data_uri(image: np.ndarray, *, max_side: int = SCAN_MAX_SIDE, quality: int = SCAN_JPEG_QUALITY) -> str:
    """An RGB (or grey) page as a ``data:image/jpeg;base64,…`` URI, shrunk to ``max_side`` pixels at most.

    A page whose three channels are equal (a grey scan) is stored as a one-channel JPEG: smaller and faster.
    """
    import cv2
    from PIL import Image

    arr = np.ascontiguousarray(image)
    h, w = arr.shape[:2]
    scale = max_side / max(h, w)
    if scale < 1.0:
        arr = cv2.resize(arr, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    if arr.ndim == 3 and (arr[:, :, 0] == arr[:, :, 1]).all() and (arr[:, :, 1] == arr[:, :, 2]).all():
        arr = arr[:, :, 0]
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="JPEG", quality=quality, optimize=True)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


_CSS = """
:root { --right: #1a7f37; --wrong: #cf222e; --none: #8c959f; --ink: #1f2328; }
* { box-sizing: border-box; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; color: var(--ink); margin: 0 auto;
       max-width: 1100px; padding: 1.5rem; background: #f6f8fa; }
h1 { font-size: 1.5rem; margin: 0 0 1rem; }
h2 { font-size: 1.1rem; margin: 0 0 .6rem; word-break: break-all; }
table.totals { border-collapse: collapse; background: #fff; margin-bottom: 1rem; }
table.totals th, table.totals td { border: 1px solid #d0d7de; padding: .3rem .7rem; text-align: left; }
table.totals td { font-variant-numeric: tabular-nums; text-align: right; }
nav ol { columns: 2; background: #fff; border: 1px solid #d0d7de; padding: .6rem 2rem; }
nav a { color: inherit; }
.count-right { color: var(--right); } .count-wrong { color: var(--wrong); } .count-none { color: var(--none); }
section.page { background: #fff; border: 1px solid #d0d7de; border-radius: 6px; padding: 1rem;
               margin: 1.2rem 0; }
.scan { position: relative; width: 100%; border: 1px solid #d0d7de; }
.scan img { display: block; width: 100%; height: auto; }
/* The line's box is the content box; padding and border are drawn outside it, off the ink. */
.box { position: absolute; box-sizing: content-box; padding: 2px; margin: -5px 0 0 -5px;
       border: 3px solid var(--none); border-radius: 3px; }
.box.right { border-color: var(--right); } .box.wrong { border-color: var(--wrong); }
.box.none { border-color: var(--none); border-style: dashed; }
.box .label { position: absolute; left: -3px; bottom: 100%; white-space: nowrap; font-size: 12px; color: #fff;
              padding: 0 .3rem; border-radius: 3px 3px 0 0; background: var(--none); }
.box.right .label { background: var(--right); } .box.wrong .label { background: var(--wrong); }
ol.lines { margin: .8rem 0 0; padding-left: 1.6rem; }
ol.lines li.right { color: var(--right); } ol.lines li.wrong { color: var(--wrong); }
ol.lines li.none { color: #57606a; }
ol.lines small { color: #57606a; }
.error { color: var(--wrong); font-weight: 600; }
.missing { color: #57606a; font-style: italic; }
"""

_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"


def _pct(v: float, total: float) -> str:
    return f"{100.0 * v / total:.3f}%" if total > 0 else "0%"


def _page_section(index: int, record: Record, load_image: ImageLoader | None) -> str:
    esc = html.escape
    file, page = record["file"], record["page"]
    lines = record.get("lines") or []
    counts = {"right": 0, "wrong": 0, "none": 0}
    for line in lines:
        counts[verdict(line)] += 1
    out = [
        f'<section class="page" id="page-{index}" data-file="{esc(file)}" data-page="{page}" '
        f'data-right="{counts["right"]}" data-wrong="{counts["wrong"]}" data-none="{counts["none"]}">',
        f"<h2>{esc(file)} — page {page}</h2>",
    ]
    if record.get("error"):
        out.append(f'<p class="error">{esc(record["error"])}</p>')
    image = load_image(file, page) if load_image else None
    if image is not None:
        h, w = image.shape[:2]
        size = record.get("size")
        # Boxes are in the coordinates of the page the recognizer read; scale from those to percent.
        pw, ph = (size[0], size[1]) if size else (w, h)
        out.append(f'<div class="scan" style="aspect-ratio: {w} / {h}">')
        out.append(f'<img src="{jpeg_data_uri(image)}" alt="scan of {esc(file)} page {page}">')
        for number, line in enumerate(lines, 1):
            x, y, bw, bh = (line.get("box") or (0, 0, 0, 0))[:4]
            kind = verdict(line)
            text = line_summary(line)
            out.append(
                f'<div class="box {kind}" data-line="{number}" title="{esc(text)}" '
                f'style="left:{_pct(x, pw)};top:{_pct(y, ph)};width:{_pct(bw, pw)};height:{_pct(bh, ph)}">'
                f'<span class="label">{number}: {esc(text)}</span></div>'
            )
        out.append("</div>")
    elif not record.get("error"):
        out.append('<p class="missing">(the scan could not be opened again for this report)</p>')
    if lines:
        out.append('<ol class="lines">')
        for line in lines:
            kind = verdict(line)
            conf = float(line.get("confidence") or 0.0)
            out.append(f'<li class="{kind}">{esc(line_summary(line))} <small>confidence {conf:.2f}</small></li>')
        out.append("</ol>")
    elif not record.get("error"):
        out.append('<p class="missing">no writing found on this page</p>')
    out.append("</section>")
    return "\n".join(out)


def _totals_table(records: Sequence[Record]) -> str:
    from hdr_expr.pipeline.batch import summarize

    s = summarize(records)
    rows = [
        ("pages", s.pages),
        ("lines", s.lines),
        ("right", s.right),
        ("wrong", s.wrong),
        ("no answer written", s.no_answer),
        ("not readable as arithmetic", s.unreadable_lines),
        ("unreadable pages", s.page_errors),
        ("unreadable files", len(s.error_files)),
    ]
    keys = ["pages", "lines", "right", "wrong", "no-answer", "unreadable-lines", "page-errors", "unreadable-files"]
    cells = "\n".join(
        f'<tr><th>{html.escape(name)}</th><td data-total="{key}">{value}</td></tr>'
        for (name, value), key in zip(rows, keys)
    )
    return f'<table class="totals" id="totals">\n{cells}\n</table>'


def _index(records: Sequence[Record]) -> str:
    items = []
    for i, record in enumerate(records, 1):
        lines = record.get("lines") or []
        right = sum(verdict(line) == "right" for line in lines)
        wrong = sum(verdict(line) == "wrong" for line in lines)
        state = (
            '<span class="error">unreadable</span>'
            if record.get("error")
            else f'<span class="count-right">{right} ✓</span> <span class="count-wrong">{wrong} ✗</span>'
        )
        items.append(
            f'<li><a href="#page-{i}">{html.escape(record["file"])} p.{record["page"]}</a> {state}</li>'
        )
    return "<nav><ol>\n" + "\n".join(items) + "\n</ol></nav>"


def write_html(
    records: Iterable[Record],
    path: str | Path,
    *,
    title: str = "hdr-expr batch report",
    load_image: ImageLoader | None = default_image_loader,
    order: Sequence[tuple[str, int]] | None = None,
) -> int:
    """Write the self-contained HTML report; returns the number of page sections.

    ``load_image(file, page)`` gives the scan to embed (None: the section has no scan, only its lines);
    ``order`` the page order (see :func:`order_records`; default: the records' own order). Sections are
    written one at a time, so only one scan is held in memory.
    """
    records = order_records(records, order) if order is not None else list(records)
    esc = html.escape
    try:
        with Path(path).open("w", encoding="utf-8") as fh:
            fh.write(
                "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
                f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">\n'
                '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
                f"<title>{esc(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n"
                f"<h1>{esc(title)}</h1>\n{_totals_table(records)}\n{_index(records)}\n"
            )
            for i, record in enumerate(records, 1):
                fh.write(_page_section(i, record, load_image) + "\n")
            fh.write("</body>\n</html>\n")
    except OSError as exc:
        raise InputError(f"{path}: cannot write the report ({exc.strerror or exc})") from None
    return len(records)
