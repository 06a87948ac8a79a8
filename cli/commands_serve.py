"""``hdr-expr serve``: the web page and JSON API on a local server (needs the ``web`` extra).

The model is loaded once, before the port is bound; the server listens on 127.0.0.1 unless ``--host`` says
otherwise.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from hdr_expr.cli.app import app, fail

_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


@app.command()
def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on (0.0.0.0: every interface)."),
    port: int = typer.Option(8000, "--port", min=0, max=65535, help="Port to listen on (0: any free port)."),
    max_upload_mb: float = typer.Option(20.0, "--max-upload-mb", min=0.001, help="Largest upload accepted, in MB."),
    model: Optional[Path] = typer.Option(None, "--model", metavar="DIR", help="Model directory (default: shipped)."),
    workers: Optional[int] = typer.Option(
        None, "--workers", min=1, max=64, help="Threads that run recognitions (default: CPU cores, at most 4)."
    ),
    log_level: str = typer.Option("info", "--log-level", help="uvicorn's log level: warning, info, debug."),
) -> None:
    """Serve the web page (photograph or draw an expression and see it read) and the JSON API."""
    try:
        import uvicorn

        from hdr_expr.web.app import create_app
    except ModuleNotFoundError as exc:
        fail(f"the web server needs the web extra ({exc.name} is missing): pip install 'hdr-expr[web]'")

    web_app = create_app(model, max_upload_mb=max_upload_mb, workers=workers)  # ModelError → one line, exit 3
    shown = f"[{host}]" if ":" in host else host
    typer.echo(f"hdr-expr: serving on http://{shown}:{port}/  (API: /api/recognize, docs: /docs; Ctrl+C stops)",
               err=True)
    if host not in _LOOPBACK:
        typer.echo(f"hdr-expr: note: listening on {host}: other machines on the network can use this server",
                   err=True)
    uvicorn.run(web_app, host=host, port=port, log_level=log_level.lower(), server_header=False,
                timeout_graceful_shutdown=5)
