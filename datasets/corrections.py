"""Lines with a correction for the benchmark: a number the pupil wrote, crossed out, and the right one written
after it — ``12+7=~~18~~ 19``. The struck number is scribbled over, struck through once or twice, or slashed;
the truth is the line without it (``12+7=19``). Drawn from the same held-out material as the expression
benchmark (MNIST test digits, the real sets' held-out symbols, the synthesizer); the crossing-out strokes are
pen strokes drawn here.
"""

from __future__ import annotations

from typing import Iterator

import cv2
import numpy as np

from hdr_expr.datasets.expressions import (STYLES_CLEAN, STYLES_PHOTO, Composition, Condition, ExpressionSample,
                                           Material, _rng, compose_line, random_labels, render_line, truth_of)

#: How a number is crossed out, and how often.
KINDS = ("scribble", "strike", "double", "slash")
KIND_SHARES = (0.4, 0.3, 0.15, 0.15)
#: The share of corrections made in the written answer (the rest in a number of the expression).
ANSWER_SHARE = 0.7


def _numbers(labels: tuple[str, ...]) -> list[tuple[int, int]]:
    """(start, end) of each run of digits and points."""
    runs, start = [], None
    for i, s in enumerate(labels + ("",)):
        if s.isdigit() or s == ".":
            start = i if start is None else start
        elif start is not None:
            runs.append((start, i))
            start = None
    return runs


def _wrong(rng: np.random.Generator, number: tuple[str, ...]) -> tuple[str, ...]:
    """What the pupil wrote first: the number with one or two digits changed (rarely one more or fewer)."""
    out = list(number)
    digits = [i for i, s in enumerate(out) if s.isdigit()]
    for i in rng.choice(digits, size=min(len(digits), int(rng.integers(1, 3))), replace=False):
        out[int(i)] = str((int(out[int(i)]) + int(rng.integers(1, 10))) % 10)
    r = rng.random()
    if r < 0.15:
        out.append(str(int(rng.integers(0, 10))))
    elif r < 0.25 and len(out) > 1 and out[-1].isdigit():
        out.pop()
    if out and out[0] == "0" and len(out) > 1 and out[1] != ".":
        out[0] = str(int(rng.integers(1, 10)))
    return tuple(out)


def correction_labels(rng: np.random.Generator) -> tuple[tuple[str, ...], tuple[int, int]]:
    """A line as written, with a crossed-out number in it, and the (start, end) of the crossed-out labels."""
    while True:
        labels = random_labels(rng, max_symbols=14)
        runs = _numbers(labels)
        after = [r for r in runs if "=" in labels[: r[0]]]
        target = after[0] if after and rng.random() < ANSWER_SHARE else runs[int(rng.integers(len(runs)))]
        struck = _wrong(rng, labels[target[0] : target[1]])
        if struck and struck != labels[target[0] : target[1]]:
            a = target[0]
            return labels[:a] + struck + labels[a:], (a, a + len(struck))


def _stroke(ink: np.ndarray, points: np.ndarray, pen: float) -> None:
    pts = np.round(np.asarray(points, np.float64) * 16).astype(np.int32)
    cv2.polylines(ink, [pts], False, 1.0, max(1, int(round(pen))), cv2.LINE_AA, shift=4)


def cross_out(ink: np.ndarray, box: tuple[int, int, int, int], kind: str, pen: float,
              room: tuple[float, float], rng: np.random.Generator) -> None:
    """Draw on ``ink`` (bright ink, in place) a crossing-out of ``box`` (x, y, w, h): ``scribble`` (a dense
    zig-zag over it), ``strike`` / ``double`` (one or two lines through its middle), ``slash`` (a diagonal).
    ``room``: the gaps to the symbols left and right of the box (the strokes reach at most half way)."""
    x, y, w, h = box
    over_l = min(rng.uniform(0.05, 0.25) * h, max(0.0, 0.5 * room[0]))
    over_r = min(rng.uniform(0.05, 0.25) * h, max(0.0, 0.5 * room[1]))
    if kind == "scribble":
        step = pen * rng.uniform(0.7, 1.8)
        n = max(4, int((w + over_l + over_r) / step))
        xs = np.linspace(x - over_l, x + w + over_r, n)
        top, bottom = y - rng.uniform(0.0, 0.12) * h, y + h + rng.uniform(-0.1, 0.1) * h
        ys = np.where(np.arange(n) % 2 == 0, top, bottom) + rng.normal(0, 0.06 * h, n)
        xs = xs + rng.normal(0, 0.25 * step, n)
        _stroke(ink, np.stack([xs, ys], 1), pen)
        if rng.random() < 0.8:  # back again, a little shifted
            _stroke(ink, np.stack([xs[::-1] + 0.5 * step, ys[::-1] + rng.normal(0, 0.08 * h, n)], 1), pen)
    elif kind in ("strike", "double"):
        rows = [0.5] if kind == "strike" else [0.38, 0.64]
        tilt = np.tan(np.deg2rad(rng.uniform(-5, 5)))
        for r in rows:
            y0 = y + (r + rng.uniform(-0.08, 0.08)) * h
            x0, x1 = x - over_l, x + w + over_r
            t = np.linspace(0, 1, 8)
            xs = x0 + (x1 - x0) * t
            ys = y0 + tilt * (xs - x0) + rng.uniform(-0.04, 0.04) * h * np.sin(np.pi * t)
            _stroke(ink, np.stack([xs, ys], 1), pen)
    else:  # slash: from low left to high right
        x0, x1 = x - over_l * 0.5, x + w + over_r * 0.5
        _stroke(ink, np.array([[x0, y + h * rng.uniform(0.9, 1.1)], [x1, y - h * rng.uniform(-0.1, 0.1)]]), pen)


def make_correction_line(material: Material, seed: int, index: int, *, written: str | None = None,
                         struck: tuple[int, int] | None = None, kind: str | None = None,
                         style: str | None = None) -> ExpressionSample:
    """Correction line number ``index`` of the set ``seed`` (:func:`correction_labels`): odd indices photo-like,
    even ones clean. ``written`` (the line as written), ``struck`` (the labels crossed out, start and end), ``kind``
    and ``style`` give the line instead."""
    rng = _rng(seed, index, 6)
    photo = bool(index % 2) if style is None else style in STYLES_PHOTO
    drawn_style = str(rng.choice(STYLES_PHOTO, p=[0.85, 0.15])) if photo else \
        str(rng.choice(STYLES_CLEAN, p=[0.72, 0.16, 0.12]))
    style = style or drawn_style
    # (Drawn whether given or not, so that the rest of the seed's stream, and its drawing, stays the same.)
    labels, (a, b) = correction_labels(rng)
    drawn_kind = str(rng.choice(KINDS, p=KIND_SHARES))
    if written is not None and struck is not None:
        labels, (a, b) = tuple(written), struck
    kind = kind or drawn_kind
    truth = truth_of(labels[:a] + labels[b:])
    digit_px = float(np.exp(rng.uniform(np.log(26), np.log(64))))
    pen = max(1.6, digit_px * rng.uniform(0.05, 0.1))
    comp = compose_line(labels, material, rng, digit_px=digit_px, pen=pen)
    ink, boxes = comp.ink, list(comp.boxes)
    x0 = min(bx for bx, _, _, _ in boxes[a:b])
    x1 = max(bx + bw for bx, _, bw, _ in boxes[a:b])
    y0 = min(by for _, by, _, _ in boxes[a:b])
    y1 = max(by + bh for _, by, _, bh in boxes[a:b])
    if b < len(boxes):  # the right number written a little apart from the one crossed out
        lo, hi = x1, max(x1 + 1, boxes[b][0])
        cut = lo + int(np.argmin(ink[:, lo:hi].sum(axis=0))) if hi > lo else lo
        extra = int(rng.uniform(0.15, 0.5) * digit_px)
        ink = np.concatenate([ink[:, :cut], np.zeros((ink.shape[0], extra), ink.dtype), ink[:, cut:]], axis=1)
        boxes[b:] = [(bx + extra if bx >= cut else bx, by, bw, bh) for bx, by, bw, bh in boxes[b:]]
    left = x0 - max((bx + bw for bx, _, bw, _ in boxes[:a]), default=x0 - int(0.3 * digit_px))
    right = (boxes[b][0] - x1) if b < len(boxes) else 0.3 * digit_px
    margin = int(0.4 * digit_px)
    ink = np.pad(ink, margin)
    cross_out(ink, (x0 + margin, y0 + margin, x1 - x0, y1 - y0), kind, pen, (float(left), float(right)), rng)
    comp = Composition(ink, comp.baseline + margin, (), comp.sources, comp.touching)
    r, _ = render_line(comp, rng, style, photo=photo, digit_px=digit_px)
    cond = Condition(photo=photo, style=style, touching=comp.touching > 0, digit_px=digit_px,
                     sources=comp.sources, tags=dict(r.tags, layout="correction", crossed=kind,
                                                     written="".join(labels)))
    return ExpressionSample(index, r.image, r.data, r.format, truth, cond)


def correction_set(material: Material, n: int, seed: int = 0, start: int = 0) -> Iterator[ExpressionSample]:
    """``n`` correction lines of the set ``seed`` (indices ``start`` …): half photo-like."""
    for i in range(start, start + n):
        yield make_correction_line(material, seed, i)
