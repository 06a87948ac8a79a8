"""``hdr-expr data``: fetch MNIST, and show where the data files are found and whether they are intact."""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import Optional

import typer

from hdr_expr.cli.app import app
from hdr_expr.errors import DataError

data_app = typer.Typer(
    help="Training and evaluation data: fetch MNIST, check where files are found.", no_args_is_help=True
)
app.add_typer(data_app, name="data")


class Dataset(str, Enum):
    mnist = "mnist"


@data_app.command("fetch")
def fetch(
    dataset: Dataset = typer.Argument(..., help="The data set to download (mnist)."),
    dest: Optional[Path] = typer.Option(
        None, "--dest", help="Folder to put the files in (default: the user's cache, ~/.cache/hdr-expr/mnist)."
    ),
) -> None:
    """Download the four MNIST IDX files, verifying each checksum.

    Files already present and intact are kept. Offline, it says which four files to put where.
    """
    from hdr_expr.datasets.mnist import fetch_mnist

    target = fetch_mnist(dest, log=lambda m: typer.echo(m, err=True))
    typer.echo(f"MNIST ready in {target}")


def mnist_status(data_dir: str | Path | None = None) -> list[dict]:
    """For each MNIST file: where it was found (or not), how many records, whether the checksum holds."""
    from hdr_expr.datasets.mnist import FILES, find_file, read_idx

    rows = []
    for (split, kind), entry in FILES.items():
        row = {"file": entry.name, "split": split, "kind": kind, "path": None, "records": None, "ok": False,
               "problem": None}
        try:
            path = find_file(entry, data_dir)
            row["path"] = str(path)
            row["records"] = int(len(read_idx(path, entry)))
            row["ok"] = True
        except DataError as exc:
            row["problem"] = str(exc)
        rows.append(row)
    return rows


@data_app.command("info")
def info(
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", help="Look here first for the MNIST files."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Show where the MNIST files are found and whether their checksums hold.

    Searched: --data-dir, then $HDR_EXPR_DATA, then the cache. Exits non-zero when a file is missing or corrupt.
    """
    from hdr_expr.datasets.mnist import search_dirs

    rows = mnist_status(data_dir)
    searched = [str(d) for d in search_dirs(data_dir)]
    if as_json:
        typer.echo(json.dumps({"searched": searched, "mnist": rows}, indent=2))
    else:
        typer.echo("searched: " + ", ".join(searched))
        for r in rows:
            status = f"{r['records']:>6} records, checksum ok" if r["ok"] else (
                "CORRUPT" if r["path"] else "MISSING")
            typer.echo(f"  {r['file']:<24} {status:<28} {r['path'] or '-'}")
    bad = [r for r in rows if not r["ok"]]
    if bad:
        more = f" (and {len(bad) - 1} more file(s) with problems)" if len(bad) > 1 else ""
        raise DataError(f"{bad[0]['problem']}{more}")
