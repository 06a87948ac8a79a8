"""The ``hdr-expr`` Typer app. Commands parse options, call the library and print; heavy imports (TensorFlow,
sympy, Ray, the web stack) happen inside the commands that need them. Library errors (HdrExprError) become one
line on stderr and a non-zero exit code, never a traceback."""

from __future__ import annotations

import sys

import typer

from hdr_expr.errors import HdrExprError

app = typer.Typer(
    name="hdr-expr",
    help="Read handwritten arithmetic from photos, scans and drawings.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def fail(message: str, code: int = 1) -> None:
    """Print one error line on stderr and exit with ``code``."""
    typer.echo(f"hdr-expr: error: {message}", err=True)
    raise typer.Exit(code)


def _register() -> None:
    # Each command module adds its commands to `app`; importing them is cheap (no heavy imports at top level).
    from hdr_expr.cli import commands_data, commands_models, commands_recognize  # noqa: F401

    for optional in ("commands_batch", "commands_bench", "commands_serve"):
        try:
            __import__(f"hdr_expr.cli.{optional}")
        except ModuleNotFoundError as exc:
            if exc.name != f"hdr_expr.cli.{optional}":
                raise


def main() -> None:
    _register()
    try:
        app()
    except HdrExprError as exc:
        typer.echo(f"hdr-expr: error: {exc}", err=True)
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        typer.echo("hdr-expr: interrupted", err=True)
        sys.exit(130)
