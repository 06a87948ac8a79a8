"""Lines with stacked fractions for the benchmark, as written at school: ``½ + ¼ = ¾``, ``¾ × 8 = 6``,
``2¾ − 1 = 7/4`` — numerators over bars over denominators, in a line with the operators, the ``=`` and whole
numbers. Drawn from the same held-out material as the expression benchmark (MNIST test digits, the real sets'
held-out symbols, the synthesizer); the bars are pen strokes drawn here. The truth is the line as the reader
writes it (:func:`hdr_expr.pipeline.fractions.written_labels`: ``1/2+1/4=3/4``, ``(2+3/4)-1=7/4``).
"""

from __future__ import annotations

from fractions import Fraction
from typing import Iterator, Sequence

import cv2
import numpy as np

from hdr_expr.datasets.expressions import (STYLES_CLEAN, STYLES_PHOTO, Composition, Condition, ExpressionSample,
                                           Material, _mix, _rng, compose_line, render_line, truth_of)
from hdr_expr.pipeline.fractions import WrittenFraction, written_labels

#: The share of fractions written after a whole number (a mixed number, ``2¾``).
MIXED_SHARE = 0.1
#: How often a line asks for its answer (``=`` and nothing), gives none (no ``=``), or gives a wrong one.
ASKS_SHARE = 0.15
BARE_SHARE = 0.1
WRONG_SHARE = 0.25


def _number(rng: np.random.Generator, low: int, two_digits: float) -> tuple[str, ...]:
    return tuple(str(int(rng.integers(low, 100 if rng.random() < two_digits else 10))))


def _answer(value: Fraction) -> list:
    """The value written as a pupil writes it: a whole number, or a fraction in lowest terms (stacked)."""
    sign = ["-"] if value < 0 else []
    v = abs(value)
    if v.denominator == 1:
        return [*sign, *str(v.numerator)]
    return [*sign, WrittenFraction(tuple(str(v.numerator)), tuple(str(v.denominator)))]


def fraction_items(rng: np.random.Generator) -> list:
    """A line with at least one stacked fraction: labels (str) and :class:`WrittenFraction` s."""
    terms = int(rng.choice([1, 2, 3], p=[0.2, 0.55, 0.25]))
    items: list = []
    fractions = 0
    for t in range(terms):
        if t:
            items.append(str(rng.choice(["+", "-", "×", "÷"], p=[0.35, 0.3, 0.2, 0.15])))
        if rng.random() < 0.75 or (t == terms - 1 and not fractions):
            if rng.random() < MIXED_SHARE:  # a whole number and a proper fraction
                items += list(_number(rng, 1, 0.0))
                den = int(rng.integers(2, 13))
                items.append(WrittenFraction(tuple(str(int(rng.integers(1, den)))), tuple(str(den))))
            else:
                items.append(WrittenFraction(_number(rng, 1, 0.2), _number(rng, 2, 0.25)))
            fractions += 1
        else:
            items += list(_number(rng, 1, 0.4))
    r = rng.random()
    if r < BARE_SHARE:
        return items
    items.append("=")
    if r < BARE_SHARE + ASKS_SHARE:
        return items
    value = Fraction(truth_of(written_labels(items)).value)
    if rng.random() < WRONG_SHARE:
        value += Fraction(int(rng.choice([-1, 1])), value.denominator if value.denominator > 1 else 1)
    return items + _answer(value)


def _bar(length: float, pen: float, rng: np.random.Generator) -> np.ndarray:
    """A fraction's bar as a pen draws it: a slightly tilted, slightly bowed stroke (ink bright)."""
    h = int(pen * 4 + length * 0.08) + 4
    ink = np.zeros((h, int(length) + 4), np.float32)
    tilt = rng.uniform(-0.04, 0.04) * length
    bow = rng.uniform(-0.03, 0.03) * length
    xs = np.linspace(2, length + 1, 12)
    t = np.linspace(-1, 1, 12)
    ys = h / 2.0 + tilt * t / 2 + bow * (1 - t * t)
    points = np.round(np.stack([xs, ys], 1) * 16).astype(np.int32)
    cv2.polylines(ink, [points], False, 1.0, max(1, int(round(pen))), cv2.LINE_AA, shift=4)
    return ink


def _fraction_ink(f: WrittenFraction, material: Material, rng: np.random.Generator, digit_px: float, pen: float,
                  mix: dict, sources: list) -> tuple[np.ndarray, float]:
    """A stacked fraction's ink and its top (relative to the line's baseline, negative above)."""
    num = compose_line(f.numerator, material, rng, digit_px=digit_px, pen=pen, mix=mix, slope_deg=0)
    den = compose_line(f.denominator, material, rng, digit_px=digit_px, pen=pen, mix=mix, slope_deg=0)
    sources += [*num.sources, *den.sources]
    width = max(num.ink.shape[1], den.ink.shape[1]) * rng.uniform(1.05, 1.45) + 0.1 * digit_px
    bar = _bar(width, pen, rng)
    gap_over, gap_under = (rng.uniform(0.08, 0.3) * digit_px for _ in range(2))
    bar_row = bar.shape[0] / 2.0
    h = int(num.ink.shape[0] + gap_over + bar.shape[0] + gap_under + den.ink.shape[0]) + 2
    w = bar.shape[1]
    ink = np.zeros((h, w), np.float32)

    def lay(part: np.ndarray, y: int) -> None:
        x = int(np.clip((w - part.shape[1]) / 2.0 + rng.normal(0, 0.06) * w, 0, w - part.shape[1]))
        region = ink[y : y + part.shape[0], x : x + part.shape[1]]
        np.maximum(region, part, out=region)

    lay(num.ink, 0)
    bar_y = int(num.ink.shape[0] + gap_over)
    np.maximum(ink[bar_y : bar_y + bar.shape[0]], bar, out=ink[bar_y : bar_y + bar.shape[0]])
    lay(den.ink, int(bar_y + bar.shape[0] - bar_row + pen / 2 + gap_under))
    # The bar at the line's mid-height (half a digit over the baseline).
    middle = -0.5 * digit_px + rng.normal(0, 0.05) * digit_px
    return ink, middle - (bar_y + bar_row)


def make_fraction_line(material: Material, seed: int, index: int, *, items: Sequence | None = None) -> ExpressionSample:
    """Fraction line number ``index`` of the set ``seed`` (:func:`fraction_items`, unless ``items`` gives the
    line): odd indices photo-like, even ones clean."""
    rng = _rng(seed, index, 5)
    photo = bool(index % 2)
    style = str(rng.choice(STYLES_PHOTO, p=[0.85, 0.15])) if photo else \
        str(rng.choice(STYLES_CLEAN, p=[0.72, 0.16, 0.12]))
    drawn = fraction_items(rng)
    items = list(items) if items is not None else drawn
    truth = truth_of(written_labels(items))
    digit_px = float(np.exp(rng.uniform(np.log(26), np.log(60))))
    pen = max(1.6, digit_px * rng.uniform(0.05, 0.1))
    mix = _mix(material, rng)
    sources: list[str] = []
    blocks: list[tuple[np.ndarray, float, bool]] = []  # ink, top, a fraction
    run: list[str] = []

    def flush() -> None:
        if run:
            c = compose_line(run, material, rng, digit_px=digit_px, pen=pen, mix=mix, slope_deg=0)
            sources.extend(c.sources)
            blocks.append((c.ink, -c.baseline, False))
            run.clear()

    for item in items:
        if isinstance(item, WrittenFraction):
            flush()
            ink, top = _fraction_ink(item, material, rng, digit_px, pen, mix, sources)
            blocks.append((ink, top, True))
        else:
            run.append(item)
    flush()
    top = min(t for _, t, _ in blocks)
    bottom = max(t + ink.shape[0] for ink, t, _ in blocks)
    gaps = [rng.uniform(0.2, 0.5) * digit_px for _ in blocks[1:]]
    canvas = np.zeros((int(bottom - top) + 2, int(sum(b[0].shape[1] for b in blocks) + sum(gaps)) + 2), np.float32)
    x = 0.0
    for k, (ink, t, _) in enumerate(blocks):
        y = int(t - top)
        region = canvas[y : y + ink.shape[0], int(x) : int(x) + ink.shape[1]]
        np.maximum(region, ink, out=region)
        x += ink.shape[1] + (gaps[k] if k < len(gaps) else 0)
    comp = Composition(canvas, float(-top), (), tuple(sources), 0)
    r, _ = render_line(comp, rng, style, photo=photo, digit_px=digit_px)
    cond = Condition(photo=photo, style=style, touching=False, digit_px=digit_px, sources=tuple(sources),
                     tags=dict(r.tags, layout="fraction"))
    return ExpressionSample(index, r.image, r.data, r.format, truth, cond)


def fraction_set(material: Material, n: int, seed: int = 0, start: int = 0) -> Iterator[ExpressionSample]:
    """``n`` fraction lines of the set ``seed`` (indices ``start`` …): half photo-like."""
    for i in range(start, start + n):
        yield make_fraction_line(material, seed, i)
