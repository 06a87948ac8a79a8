"""Lines whose written answer is marked for the benchmark: circled, boxed, underlined once or twice —
``12+7=(19)``, as pupils are told to mark a final answer. The marks are pen strokes drawn here, by the hand that
wrote the line (same pen), not always clear of the writing: a ring may run into the ``=`` or the answer's
digits, an underline into their feet. The truth is the line as written (``12+7=19``). Drawn from the same
held-out material as the expression benchmark (MNIST test digits, the real sets' held-out symbols, the
synthesizer).
"""

from __future__ import annotations

from typing import Iterator

import numpy as np

from hdr_expr.datasets.corrections import _stroke
from hdr_expr.datasets.expressions import (STYLES_CLEAN, STYLES_PHOTO, Composition, Condition, ExpressionSample,
                                           Material, _rng, compose_line, random_labels, render_line, truth_of)

#: How an answer is marked, and how often.
KINDS = ("circle", "box", "underline", "double")
KIND_SHARES = (0.35, 0.25, 0.25, 0.15)


def answered_labels(rng: np.random.Generator) -> tuple[str, ...]:
    """A line with a written answer after its ``=``."""
    while True:
        labels = random_labels(rng, max_symbols=14)
        if "=" in labels and labels[-1] != "=":
            return labels


def _wobble(rng: np.random.Generator, t: np.ndarray, amount: float) -> np.ndarray:
    """A slow random wobble along a stroke (a hand's, not a compass's): two low harmonics."""
    out = np.zeros_like(t)
    for k in (2, 3):
        out += rng.normal(0, amount / k) * np.sin(k * t + rng.uniform(0, 2 * np.pi))
    return out


def mark(ink: np.ndarray, box: tuple[int, int, int, int], kind: str, pen: float, digit_px: float,
         rng: np.random.Generator) -> None:
    """Draw on ``ink`` (bright ink, in place) a mark around or under ``box`` (x, y, w, h: the answer's ink):
    ``circle`` (one loop round it, its ends overlapping or just short), ``box`` (four sides, corners overshot),
    ``underline`` / ``double`` (one or two strokes under it, a little bowed and askew)."""
    x, y, w, h = box
    cx, cy = x + w / 2.0, y + h / 2.0
    if kind == "circle":
        # An ellipse round a w × h box passes its corners at √2 of its half-sides: drawn a little inside or
        # outside that, so that some rings cut a digit's corner or run into the '='.
        k = rng.uniform(1.1, 1.5)
        rx = w / 2.0 * k + rng.uniform(0.05, 0.2) * digit_px
        ry = h / 2.0 * k + rng.uniform(0.0, 0.15) * digit_px
        start = rng.uniform(0, 2 * np.pi)
        t = start + np.linspace(0, 2 * np.pi * rng.uniform(0.96, 1.15), 90)
        r = 1.0 + _wobble(rng, t, 0.05)
        tilt = np.deg2rad(rng.uniform(-8, 8))
        px, py = rx * r * np.cos(t), ry * r * np.sin(t)
        xs = cx + px * np.cos(tilt) - py * np.sin(tilt)
        ys = cy + px * np.sin(tilt) + py * np.cos(tilt)
        _stroke(ink, np.stack([xs, ys], 1), pen)
    elif kind == "box":
        pad = rng.uniform(0.08, 0.35) * digit_px
        j = lambda: rng.normal(0, 0.04 * digit_px)  # noqa: E731 — a corner's jitter
        corners = [(x - pad + j(), y - pad + j()), (x + w + pad + j(), y - pad + j()),
                   (x + w + pad + j(), y + h + pad + j()), (x - pad + j(), y + h + pad + j())]
        for (ax, ay), (bx, by) in zip(corners, corners[1:] + corners[:1]):
            over = rng.uniform(0.0, 0.12) * digit_px  # sides drawn on past the corners
            d = np.hypot(bx - ax, by - ay) or 1.0
            ux, uy = (bx - ax) / d, (by - ay) / d
            _stroke(ink, np.array([[ax - ux * over * rng.random(), ay - uy * over * rng.random()],
                                   [bx + ux * over, by + uy * over]]), pen)
    else:  # underline, double
        rows = 1 if kind == "underline" else 2
        below = rng.uniform(0.06, 0.3) * digit_px
        gap = rng.uniform(0.12, 0.25) * digit_px
        tilt = np.tan(np.deg2rad(rng.uniform(-3, 3)))
        bow = rng.uniform(-0.06, 0.06) * digit_px
        for k in range(rows):
            x0 = x - rng.uniform(0.0, 0.3) * digit_px
            x1 = x + w + rng.uniform(0.0, 0.3) * digit_px
            t = np.linspace(0, 1, 12)
            xs = x0 + (x1 - x0) * t
            ys = y + h + below + k * gap + tilt * (xs - x0) + bow * np.sin(np.pi * t)
            _stroke(ink, np.stack([xs, ys], 1), pen)


def make_marked_line(material: Material, seed: int, index: int, *, written: str | None = None,
                     kind: str | None = None, style: str | None = None) -> ExpressionSample:
    """Marked line number ``index`` of the set ``seed`` (:func:`answered_labels`, :func:`mark`): odd indices
    photo-like, even ones clean. ``written`` (the line), ``kind`` and ``style`` give the line instead."""
    rng = _rng(seed, index, 7)
    photo = bool(index % 2) if style is None else style in STYLES_PHOTO
    drawn_style = str(rng.choice(STYLES_PHOTO, p=[0.85, 0.15])) if photo else \
        str(rng.choice(STYLES_CLEAN, p=[0.72, 0.16, 0.12]))
    style = style or drawn_style
    # (Drawn whether given or not, so that the rest of the seed's stream, and its drawing, stays the same.)
    labels = answered_labels(rng)
    drawn_kind = str(rng.choice(KINDS, p=KIND_SHARES))
    labels = tuple(written) if written is not None else labels
    kind = kind or drawn_kind
    truth = truth_of(labels)
    digit_px = float(np.exp(rng.uniform(np.log(26), np.log(64))))
    pen = max(1.6, digit_px * rng.uniform(0.05, 0.1))
    comp = compose_line(labels, material, rng, digit_px=digit_px, pen=pen)
    a = len(labels) - labels[::-1].index("=")  # the answer: what follows the last '='
    boxes = comp.boxes[a:]
    margin = int(0.9 * digit_px)
    x0 = min(bx for bx, _, _, _ in boxes) + margin
    x1 = max(bx + bw for bx, _, bw, _ in boxes) + margin
    y0 = min(by for _, by, _, _ in boxes) + margin
    y1 = max(by + bh for _, by, _, bh in boxes) + margin
    ink = np.pad(comp.ink, margin)
    mark(ink, (x0, y0, x1 - x0, y1 - y0), kind, pen, digit_px, rng)
    comp = Composition(ink, comp.baseline + margin, (), comp.sources, comp.touching)
    r, _ = render_line(comp, rng, style, photo=photo, digit_px=digit_px)
    cond = Condition(photo=photo, style=style, touching=comp.touching > 0, digit_px=digit_px,
                     sources=comp.sources, tags=dict(r.tags, layout="marked", marked=kind))
    return ExpressionSample(index, r.image, r.data, r.format, truth, cond)


def marked_set(material: Material, n: int, seed: int = 0, start: int = 0) -> Iterator[ExpressionSample]:
    """``n`` lines with their answers marked, of the set ``seed`` (indices ``start`` …): half photo-like."""
    for i in range(start, start + n):
        yield make_marked_line(material, seed, i)
