"""The web page and JSON API (``hdr-expr serve``): an optional extra, ``pip install 'hdr-expr[web]'``.

:func:`create_app` builds the ASGI app (Starlette); nothing here is imported by the recognize path.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["create_app"]

if TYPE_CHECKING:  # pragma: no cover
    from hdr_expr.web.app import create_app


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from hdr_expr.web.app import create_app

        return create_app
    raise AttributeError(f"module 'hdr_expr.web' has no attribute {name!r}")
