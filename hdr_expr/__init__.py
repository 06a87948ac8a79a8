"""hdr-expr: read handwritten arithmetic from photos, scans and drawings.

The public names are imported lazily so that ``import hdr_expr`` stays cheap: the recognize path must start
fast, and training code (TensorFlow) is only imported by the commands that train.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

__all__ = ["__version__", "recognize", "HdrExprError", "InputError", "DataError", "ModelError"]

if TYPE_CHECKING:  # pragma: no cover
    from hdr_expr.errors import DataError, HdrExprError, InputError, ModelError
    from hdr_expr.pipeline.recognize import recognize


def __getattr__(name: str) -> Any:
    if name == "recognize":
        from hdr_expr.pipeline.recognize import recognize

        return recognize
    if name in {"HdrExprError", "InputError", "DataError", "ModelError"}:
        from hdr_expr import errors

        return getattr(errors, name)
    raise AttributeError(f"module 'hdr_expr' has no attribute {name!r}")
