"""``hdr-expr batch INPUT... --out results.jsonl``: read folders of scans, multi-page PDFs and TIFFs at scale.

Each page becomes one JSON object per line of the output (the ``recognize --json`` schema), appended as it
completes, so ``--resume`` can finish a run that was stopped (even by ``kill -9``). A progress bar goes to
stderr when it is a terminal; a summary follows. ``--csv`` and ``--report`` are written from the records.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer

from hdr_expr.cli.app import app, fail


def _progress_bar(quiet: bool):
    """A rich progress bar on stderr (pages done, pages/s, ETA), or None when quiet / not a terminal."""
    if quiet or not sys.stderr.isatty():
        return None
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        ProgressColumn,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )
    from rich.text import Text

    class SpeedColumn(ProgressColumn):
        def render(self, task) -> Text:
            speed = task.finished_speed or task.speed
            return Text(f"{speed:.2f} pages/s" if speed else "– pages/s", style="progress.data.speed")

    return Progress(
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("pages"),
        SpeedColumn(),
        TimeElapsedColumn(),
        TextColumn("ETA"),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=False,
    )


@app.command()
def batch(
    inputs: list[Path] = typer.Argument(
        ..., metavar="INPUT...", help="Folders (searched recursively), images, multi-page TIFFs and PDFs."
    ),
    out: Path = typer.Option(..., "--out", "-o", metavar="FILE.jsonl", help="Output: one JSON object per page, in the order pages finish."),
    workers: Optional[int] = typer.Option(None, "--workers", "-j", min=1, help="Processes (default: the cores)."),
    resume: bool = typer.Option(False, "--resume", help="Keep the pages already in --out and read only the rest."),
    csv_path: Optional[Path] = typer.Option(None, "--csv", metavar="FILE", help="Also write a row per expression."),
    report_path: Optional[Path] = typer.Option(
        None, "--report", metavar="FILE.html", help="Also write a self-contained HTML report with the scans."
    ),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress bar and no summary."),
    engine: str = typer.Option("pool", "--engine", help="pool (processes on this machine) or ray (Ray Data)."),
    ray_address: Optional[str] = typer.Option(
        None, "--ray-address", metavar="ADDR", help="Ray cluster to join (default: start a local one)."
    ),
    model: Optional[Path] = typer.Option(None, "--model", metavar="DIR", help="Model directory (default: shipped)."),
) -> None:
    """Read every page of many inputs into a resumable JSONL file (and CSV / HTML report)."""
    from hdr_expr.pipeline.batch import default_workers, iter_records, plan_batch, run_batch

    if engine not in ("pool", "ray"):
        fail(f"--engine must be pool or ray, not {engine!r}")
    if ray_address and engine != "ray":
        fail("--ray-address needs --engine ray")
    out_resolved = out.resolve()
    for p in (csv_path, report_path):
        if p is not None and p.resolve() == out_resolved:
            fail(f"{p}: the CSV/report would overwrite the JSONL output")

    plan = plan_batch(inputs, out, resume=resume)
    if not plan.tasks:
        fail("no images, TIFFs or PDFs found in the inputs")
    talk = not quiet
    if talk and resume and plan.unmatched:
        typer.echo(
            f"hdr-expr: note: {plan.unmatched} page(s) in {out} belong to none of these inputs (kept as they are)",
            err=True,
        )
    bar = _progress_bar(quiet)
    task_id = None

    def progress(done: int, total: int) -> None:
        nonlocal task_id
        if bar is None:
            return
        if task_id is None:
            task_id = bar.add_task("reading", total=total, completed=done)
        else:
            bar.advance(task_id, 1)

    def report_error(record: dict) -> None:
        # Each unreadable page gets its one line, as with recognize (above the progress bar, when there is one).
        if talk and record.get("error"):
            if bar is not None:
                bar.console.print(f"hdr-expr: error: {record['error']}", markup=False, highlight=False)
            else:
                typer.echo(f"hdr-expr: error: {record['error']}", err=True)

    options = dict(workers=workers or default_workers(), resume=resume, engine=engine, ray_address=ray_address,
                   model=model, progress=progress, on_record=report_error, plan=plan)
    try:
        if bar is not None:
            with bar:
                summary = run_batch(inputs, out, **options)
        else:
            summary = run_batch(inputs, out, **options)
    except KeyboardInterrupt:
        typer.echo(f"hdr-expr: interrupted; finish with: hdr-expr batch ... --out {out} --resume", err=True)
        raise typer.Exit(130) from None

    if csv_path is not None or report_path is not None:
        from hdr_expr.pipeline.report import order_records, without_symbols, write_csv, write_html

        records = order_records(without_symbols(iter_records(out)), [t.key for t in plan.tasks])
        if csv_path is not None:
            write_csv(records, csv_path)
        if report_path is not None:
            write_html(records, report_path)
    if talk:
        typer.echo(summary.format(), err=True)
        for target in (out, csv_path, report_path):
            if target is not None:
                typer.echo(f"wrote {target}", err=True)
    if summary.page_errors:
        raise typer.Exit(1)
