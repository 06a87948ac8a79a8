"""Reading a page: image in, typed results out. Nothing here imports TensorFlow.

``recognize`` and ``Recognizer`` are imported eagerly: the function ``recognize`` has the same name as the
submodule ``hdr_expr.pipeline.recognize``, and once that submodule is imported (by anything) Python sets the
package attribute to the module, so a lazy ``__getattr__`` would hand out the module instead of the function.
Importing the function here makes ``from hdr_expr.pipeline import recognize`` always the function. (Reach the
module's other names with ``from hdr_expr.pipeline.recognize import ...``.) It costs numpy and OpenCV, which
every stage imports anyway; sympy, LiteRT and PDF support stay lazy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from hdr_expr.pipeline.recognize import Recognizer, recognize

__all__ = ["recognize", "Recognizer", "PageResult", "LineResult", "SymbolResult"]

if TYPE_CHECKING:  # pragma: no cover
    from hdr_expr.pipeline.results import LineResult, PageResult, SymbolResult


def __getattr__(name: str) -> Any:
    if name in {"PageResult", "LineResult", "SymbolResult"}:
        from hdr_expr.pipeline import results

        return getattr(results, name)
    raise AttributeError(f"module 'hdr_expr.pipeline' has no attribute {name!r}")
