"""The result tree a recognition returns: PageResult → LineResult → SymbolResult.

These frozen dataclasses are the Python API and the JSON contract at once: every output format (the CLI's
text and ``--json``, batch JSONL/CSV/HTML, the web API) starts from :meth:`PageResult.to_dict`.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Callable

Box = tuple[int, int, int, int]  # x, y, width, height in page pixels


@dataclass(frozen=True)
class SymbolResult:
    """One classified symbol: its printed label, the classifier's confidence, its box, the runners-up."""

    label: str
    confidence: float
    box: Box
    alternatives: tuple[tuple[str, float], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "label": self.label,
            "confidence": round(float(self.confidence), 4),
            "box": [int(v) for v in self.box],
            "alternatives": [[a, round(float(p), 4)] for a, p in self.alternatives],
        }


@dataclass(frozen=True)
class LineResult:
    """One written line: the recognized text and what it means.

    ``value`` is the exact value of the left-hand side (``"33"``, ``"-7/3"``, ``"2.5"``); ``answer`` is what is
    written after ``=`` (if anything); ``correct`` is the verdict on it, ``None`` where no answer is written.
    ``error`` says why a line has no value (it does not parse, division by zero ...); the text is kept.
    ``label`` is an exercise number written before the expression (``"3)"``, ``"12."``), kept out of ``text``
    and ``symbols``; ``None`` where there is none.
    """

    text: str
    box: Box
    symbols: tuple[SymbolResult, ...]
    confidence: float
    expression: str | None = None
    latex: str | None = None
    value: str | None = None
    answer: str | None = None
    correct: bool | None = None
    error: str | None = None
    label: str | None = None

    def with_boxes(self, box_of: Callable[[Box], Box]) -> LineResult:
        """The line with its box and every symbol's box mapped by ``box_of`` (into other pixels: the page as
        given, from a working scale, a levelled mask or a turned page)."""
        return replace(self, box=box_of(self.box), symbols=tuple(replace(s, box=box_of(s.box)) for s in self.symbols))

    def summary(self) -> str:
        """The line as a person reads it: ``12+7×3 = 33``, ``3) 12+7=19 ✓``, ``3+×4  (cannot read: ...)``."""
        said = self._said()
        return f"{self.label} {said}" if self.label else said

    def _said(self) -> str:
        if self.error:
            return f"{self.text}  ({self.error})"
        if self.correct is not None:
            mark = "✓" if self.correct else f"✗ (= {self.value})"
            return f"{self.text} {mark}"
        if self.value is not None:
            lhs = self.text[:-1] if self.text.endswith("=") else self.text
            return f"{lhs} = {self.value}"
        return self.text

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "expression": self.expression,
            "latex": self.latex,
            "value": self.value,
            "answer": self.answer,
            "correct": self.correct,
            "error": self.error,
            "label": self.label,
            "confidence": round(float(self.confidence), 4),
            "box": [int(v) for v in self.box],
            "symbols": [s.to_dict() for s in self.symbols],
        }


@dataclass(frozen=True)
class PageResult:
    """One page of one input: its lines in reading order, or the error that kept it from being read."""

    file: str
    page: int
    lines: tuple[LineResult, ...] = ()
    error: str | None = None
    size: tuple[int, int] | None = None  # width, height of the page image
    seconds: float | None = field(default=None, compare=False)
    #: Degrees (0, 90, 180, 270, counter-clockwise) the page was turned to be read: it was scanned or photographed
    #: that far the other way. Boxes are in the page's pixels as given all the same.
    turned: int = 0
    #: Boxes (in the page's pixels as given) of writing taken for crossed out and not read: a scribble or a strike
    #: with the number under it. Empty where there is none.
    crossed_out: tuple[Box, ...] = ()

    def with_boxes(self, box_of: Callable[[Box], Box]) -> PageResult:
        """The page with every box it holds (its lines', their symbols', what was crossed out) mapped by
        ``box_of`` (see :meth:`LineResult.with_boxes`)."""
        return replace(self, lines=tuple(line.with_boxes(box_of) for line in self.lines),
                       crossed_out=tuple(box_of(box) for box in self.crossed_out))

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "page": self.page,
            "error": self.error,
            "size": list(self.size) if self.size else None,
            "turned": self.turned,
            "crossed_out": [[int(v) for v in box] for box in self.crossed_out],
            "lines": [line.to_dict() for line in self.lines],
        }
