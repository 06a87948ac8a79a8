"""``hdr-expr recognize IMAGE...``: read each page, print what is written and what it equals.

For people, one line per written line: ``12+7×3 = 33``, ``12+7=19 ✓``, ``12+7=18 ✗ (= 19)`` (prefixed with the
file, and the page for multi-page inputs, when there are several). ``--json`` prints one JSON object per page
per line of stdout, written from :meth:`PageResult.to_dict`. An input that cannot be read gets one line on
stderr (and its JSON object with ``"error"``), the others are still read, and the exit code is 1.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Optional

import typer

from hdr_expr.cli.app import app, fail


def _utf8_stdout() -> None:
    """× ÷ ✓ ✗ must print even where the locale says ASCII."""
    enc = getattr(sys.stdout, "encoding", None) or "ascii"
    try:
        "×÷✓✗".encode(enc)
    except (UnicodeEncodeError, LookupError):
        try:
            sys.stdout.reconfigure(encoding="utf-8")  # type: ignore[attr-defined]
        except (AttributeError, ValueError):
            pass


def _page_counts(images: list[str]) -> dict[str, int]:
    from hdr_expr.errors import HdrExprError
    from hdr_expr.pipeline.io import count_pages

    counts = {}
    for src in images:
        if src == "-":
            counts[src] = 1
            continue
        try:
            counts[src] = count_pages(src)
        except HdrExprError:
            counts[src] = 1
    return counts


@app.command()
def recognize(
    images: list[str] = typer.Argument(
        ..., metavar="IMAGE...", help="Image or PDF files (PNG, JPEG, TIFF, BMP, WebP, PDF); '-' reads stdin."
    ),
    as_json: bool = typer.Option(False, "--json", help="One JSON object per page, one per line of stdout."),
    annotate: Optional[Path] = typer.Option(
        None, "--annotate", metavar="DIR", help="Write each page with boxes, labels and results drawn on it."
    ),
    model: Optional[Path] = typer.Option(None, "--model", metavar="DIR", help="Model directory (default: shipped)."),
    threads: Optional[int] = typer.Option(None, "--threads", min=1, help="Classifier threads (default: all cores)."),
) -> None:
    """Read handwritten arithmetic and say what it equals (✓/✗ where an answer is written)."""
    from hdr_expr.pipeline.recognize import Recognizer

    if images.count("-") > 1:
        fail("'-' (standard input) can be given only once")
    _utf8_stdout()
    # LaTeX is only in the JSON; without it sympy is never imported, which halves a cold start.
    recognizer = Recognizer(model, threads=threads, latex=as_json)
    several = len(images) > 1
    pages = {} if as_json else _page_counts(images)
    used_names: set[str] = set()
    failed = False
    try:
        for src in images:
            for page, result in recognizer.read_pages(src):
                if result.error:
                    failed = True
                    typer.echo(f"hdr-expr: error: {result.error}", err=True)
                if as_json:
                    typer.echo(json.dumps(result.to_dict(), ensure_ascii=False))
                elif not result.error:
                    _print_page(result, several or pages.get(src, 1) > 1, pages.get(src, 1) > 1)
                if annotate is not None and page is not None:
                    _save(page.image, result, annotate, used_names)
    except BrokenPipeError:  # `hdr-expr recognize ... | head`
        sys.stderr.close()
        raise typer.Exit(1 if failed else 0)
    if failed:
        raise typer.Exit(1)


def _print_page(result, prefix: bool, paged: bool) -> None:
    head = ""
    if prefix:
        head = f"{result.file} p{result.page}: " if paged else f"{result.file}: "
    if not result.lines:
        typer.echo(f"{head}(no writing found)")
    for line in result.lines:
        typer.echo(f"{head}{line.summary()}")


def _save(image, result, directory: Path, used: set[str]) -> None:
    from hdr_expr.errors import InputError
    from hdr_expr.pipeline.annotate import annotated_name, save_annotated

    name = annotated_name(result)
    stem, n = name[:-4], 2
    while name in used:  # two inputs with the same file name
        name, n = f"{stem}-{n}.png", n + 1
    used.add(name)
    try:
        save_annotated(image, result, directory, name)
    except OSError as exc:
        raise InputError(f"cannot write annotated page to {directory}: {exc.strerror or exc}") from None
