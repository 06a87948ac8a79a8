"""Reading a page: image in, typed results out. Nothing here imports TensorFlow."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["recognize", "Recognizer", "PageResult", "LineResult", "SymbolResult"]

if TYPE_CHECKING:  # pragma: no cover
    from hdr_expr.pipeline.recognize import Recognizer, recognize
    from hdr_expr.pipeline.results import LineResult, PageResult, SymbolResult


def __getattr__(name: str) -> Any:
    if name in {"recognize", "Recognizer"}:
        from hdr_expr.pipeline import recognize as _recognize

        return getattr(_recognize, name)
    if name in {"PageResult", "LineResult", "SymbolResult"}:
        from hdr_expr.pipeline import results

        return getattr(results, name)
    raise AttributeError(f"module 'hdr_expr.pipeline' has no attribute {name!r}")
