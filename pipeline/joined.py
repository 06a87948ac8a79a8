"""A line read again from symbols gathered from several places on the page (the rows of a column sum, a stacked
fraction's numerator and denominator put into its line): their readings assembled as one line."""

from __future__ import annotations

from dataclasses import replace
from typing import Sequence

from hdr_expr.pipeline.assemble import assemble_candidates, unparsed
from hdr_expr.pipeline.results import Box, LineResult, SymbolResult

Candidates = list[tuple[str, float]]


def symbol_candidates(symbol: SymbolResult) -> Candidates:
    """A symbol's readings, likeliest first: its label and the classifier's alternatives."""
    seen: dict[str, float] = {symbol.label: float(symbol.confidence)}
    for label, p in symbol.alternatives:
        seen.setdefault(label, float(p))
    return sorted(seen.items(), key=lambda lp: -lp[1])


def joined_line(symbols: Sequence[SymbolResult], cands: Sequence[Candidates], box: Box, *, latex: bool,
                label: str | None = None, unparsed_ok: bool = False) -> LineResult | None:
    """The symbols (in reading order, each with its candidate readings) assembled as one line — repaired from
    the candidates where the first choices do not parse — or None where no reading parses (a division by zero
    parses), unless ``unparsed_ok``: then the first choices, with the reason."""
    a = assemble_candidates(cands, latex=latex)
    if unparsed(a.error) and not unparsed_ok:
        return None
    read = []
    for s, c, lab in zip(symbols, cands, a.labels):
        p = dict(c).get(lab, 0.0)
        read.append(replace(s, label=lab, confidence=p,
                            alternatives=tuple((other, q) for other, q in c if other != lab)[: len(s.alternatives)]))
    confidence = 1.0
    for s in read:
        confidence *= s.confidence
    return LineResult(text=a.text, box=box, symbols=tuple(read), confidence=confidence, expression=a.expression,
                      latex=a.latex, value=a.value, answer=a.answer, correct=a.correct, error=a.error, label=label)
