"""Fractions written stacked, as taught at school — a numerator over a bar over a denominator, in a line::

     1     1     3          3
    --- + --- = ---        --- × 8 = 6
     2     4     4          4

The line finder would take the numerators and the denominators for two lines of their own (``1+1=3`` over
``244``). So stacked fractions are found on the page mask first (:func:`find_fractions`), each part is read as
a line of its own, their ink is taken off the page, and each fraction is put back into the line whose middle its
bar lies on (:func:`place_fractions`), written the way our text writes one: ``1/2+1/4=3/4``. Brackets are added
where the written order needs them: around a numerator or denominator that is a sum (``(1+2)/3``), around a
fraction divided by (``2÷(1/5)``), and a whole number written right before a fraction is a mixed number
(``2¾`` → ``(2+3/4)``). Those brackets and that ``+`` are not written: they appear in the line's symbols with
confidence 1, boxed (one pixel wide) where they would stand.

A bar is a fraction's only where the layout says so: a flat straight stroke with digit-tall writing right above
and right below it, both within its length (FRACTION_OVERHANG), close (FRACTION_GAP), and nothing stacked over the
numerator (FRACTION_CLEAR: a column sum has at least two rows over its bar). The dots of a ``÷`` are not tall
(PART_MIN_STROKES); an ``=``'s second bar is flat.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import cv2
import numpy as np

from hdr_expr.pipeline.assemble import unparsed
from hdr_expr.pipeline.joined import Candidates, joined_line, symbol_candidates
from hdr_expr.pipeline.results import Box, LineResult, SymbolResult
from hdr_expr.pipeline.segment import union_box

#: A fraction's bar: at least this many stroke widths long, at most BAR_THICKNESS strokes thick on average, and
#: flat (its box at most BAR_SLOPE as high as it is long, besides its stroke's own thickness).
BAR_LENGTH = 5.0
BAR_THICKNESS = 2.2
BAR_SLOPE = 0.25
#: The writing over and under the bar: parts at least this many strokes tall (and PART_MIN_BAR of the bar's
#: length) anchor a numerator or a denominator; their gap to the bar is at most FRACTION_GAP of their height.
PART_MIN_STROKES = 3.5
PART_MIN_BAR = 0.15
FRACTION_GAP = 0.6
#: A numerator or denominator lies within the bar's ends, give or take this share of its length.
FRACTION_OVERHANG = 0.2
#: Nothing is written over a numerator or under a denominator within this many of its heights (a column sum's
#: rows are stacked: a digit broken in two over the digit under it would make a fraction of three rows).
FRACTION_CLEAR = 0.5
#: A bar touching the part under or over it shows alone (thin) in at least this share of the part's columns, at
#: both ends (where the part touches, bar and part make one run: a 7's top stroke under a bar is as wide as it).
TOUCHING_SPAN = 0.4
#: The numerator's and the denominator's heights are within this factor of each other.
FRACTION_SIZES = 2.2
#: A fraction's stand-in (see stand_in_mask): digits this many of its digit heights wide, one per STAND_IN_STEP
#: digit heights of its bar.
STAND_IN_WIDTH = 0.6
STAND_IN_STEP = 0.75
#: A fraction belongs to the line whose box holds its bar's middle, within this many of the fraction's digit
#: heights of it (else it makes a line of its own).
HOST_GAP = 2.5


@dataclass(frozen=True)
class StackedFraction:
    """A fraction found on the mask: its bar's box and the ink (bool page masks) of the whole and of each part."""

    bar: Box
    box: Box
    ink: np.ndarray
    numerator: np.ndarray
    denominator: np.ndarray
    height: float  # the parts' digit height, px


@dataclass(frozen=True)
class ReadFraction:
    """A stacked fraction with its parts read (each as a line of its own)."""

    fraction: StackedFraction
    numerator: LineResult
    denominator: LineResult


def _part(boxes: np.ndarray, tall: np.ndarray, b: int, above: bool, used: np.ndarray,
          height_hint: float = 0.0) -> np.ndarray | None:
    """The components (indices) of the numerator (``above``) or denominator of bar ``b``, or None where the layout
    is no fraction's: anchors (tall parts close to the bar, centred within it), then every part within the span
    between them and the bar, nothing half in, nothing flat between them and the bar."""
    bx, by, bw, bh = (int(v) for v in boxes[b])
    x, y, w, h = boxes.T
    cx = x + w / 2.0
    gap = (by - (y + h)) if above else (y - (by + bh))
    anchors = np.flatnonzero(tall & ~used & (cx >= bx) & (cx <= bx + bw) & (gap >= -0.5 * bh)
                             & (gap <= FRACTION_GAP * np.maximum(h, height_hint)))
    if not len(anchors):
        return None
    height = max(float(h[anchors].max()), height_hint)
    if above:
        y0, y1 = float(y[anchors].min()) - 0.3 * height, float(max(by, (y[anchors] + h[anchors]).max()))
        clear0, clear1 = y0 - FRACTION_CLEAR * height, y1
    else:
        y0, y1 = float(min(by + bh, y[anchors].min())), float((y[anchors] + h[anchors]).max()) + 0.3 * height
        clear0, clear1 = y0, y1 + FRACTION_CLEAR * height
    x0, x1 = bx - FRACTION_OVERHANG * bw, bx + bw + FRACTION_OVERHANG * bw
    inside = (x >= x0) & (x + w <= x1) & (y >= y0 - 1) & (y + h <= y1 + 1)
    near = (x < bx + bw) & (x + w > bx) & (y < clear1) & (y + h > clear0)
    near[anchors] = True
    near[b] = False
    members = np.flatnonzero(inside & near)
    others = np.flatnonzero(near & ~inside)
    if len(others) or used[members].any():
        return None
    # Nothing flat between the anchors and the bar (an '=''s other bar, a column sum's second rule).
    if above:
        between = members[(y[members] >= (y[anchors] + h[anchors]).max()) & ~tall[members]]
    else:
        between = members[(y[members] + h[members] <= y[anchors].min()) & ~tall[members]]
    if any(w[i] >= 2.0 * h[i] for i in between):
        return None
    return members


def _bars_touching(labels: np.ndarray, stats: np.ndarray, s: float) -> tuple[np.ndarray, np.ndarray]:
    """A bar drawn touching the numerator under it or the denominator over it makes one part of the two: such a
    part is cut in two along the bar (the labels image relabelled, a stats row added). The bar is what a part
    shows first from the top (or the bottom), a run at most BAR_THICKNESS strokes thick in TOUCHING_SPAN of its
    columns, both ends among them, lying along a line (a bow allowed); nothing lies beyond it, and it reaches at
    least a stroke past the rest on both sides (a 7's or a 5's top stroke ends where its stem or its side
    begins)."""
    x, y, w, h, area = stats[1:].T
    tall = h >= PART_MIN_STROKES * s
    cands = np.flatnonzero((w >= BAR_LENGTH * s) & (h > BAR_SLOPE * w + 1.5 * s) & tall)
    added = []
    thick = BAR_THICKNESS * s
    cx = x + w / 2.0
    for i in cands:
        x0, y0, bw, bh = (int(v) for v in stats[i + 1, :4])
        # (First the other part: tall writing right over the part's top or under its bottom, within its width.)
        over = tall & (cx >= x0) & (cx <= x0 + bw) & (y + h <= y0 + thick) & (y + h >= y0 - FRACTION_GAP * h)
        under = tall & (cx >= x0) & (cx <= x0 + bw) & (y >= y0 + bh - thick) & (y <= y0 + bh + FRACTION_GAP * h)
        over[i] = under[i] = False
        if not (over.any() or under.any()):
            continue
        own = labels[y0 : y0 + bh, x0 : x0 + bw] == i + 1
        rows = np.arange(bh)[:, None]
        for at_top in (True, False):
            if not (over if at_top else under).any():
                continue
            o = own if at_top else own[::-1]
            first = np.argmax(o, axis=0)
            after = (rows >= first) & ~o
            run = np.where(after.any(axis=0), np.argmax(after, axis=0), bh) - first
            thin = o.any(axis=0) & (run <= thick)
            end = max(1, int(0.15 * bw))
            if thin.sum() < TOUCHING_SPAN * bw or not (thin[:end].any() and thin[-end:].any()):
                continue
            cols = np.flatnonzero(thin)
            # (A pen's bar bows: its middle line as a parabola.)
            line = np.polyval(np.polyfit(cols, first[cols] + (run[cols] - 1) / 2.0, 2), np.arange(bw))
            half = float(np.median(run[cols])) / 2.0 + 1.0
            bar = o & (np.abs(rows - line) <= half)
            rest = o & ~bar
            if (rest & (rows < line)).sum() > s * s or np.ptp(line) > BAR_SLOPE * bw + s:
                continue  # ink beyond the bar, or no flat bar
            rest_cols, rest_rows = np.flatnonzero(rest.any(axis=0)), np.flatnonzero(rest.any(axis=1))
            if (not len(rest_cols) or len(rest_rows) < PART_MIN_STROKES * s or rest_cols[0] < s
                    or rest_cols[-1] > bw - 1 - s):
                continue
            if not at_top:
                bar, rest, rest_rows = bar[::-1], rest[::-1], bh - 1 - rest_rows[::-1]
            new = stats.shape[0] + len(added)
            labels[y0 : y0 + bh, x0 : x0 + bw][rest] = new
            brows, bcols = np.flatnonzero(bar.any(axis=1)), np.flatnonzero(bar.any(axis=0))
            stats[i + 1] = (x0 + bcols[0], y0 + brows[0], bcols[-1] - bcols[0] + 1, brows[-1] - brows[0] + 1,
                            int(bar.sum()))
            added.append((x0 + rest_cols[0], y0 + rest_rows[0], rest_cols[-1] - rest_cols[0] + 1,
                          rest_rows[-1] - rest_rows[0] + 1, int(rest.sum())))
            break
    if added:
        stats = np.concatenate([stats, np.array(added, stats.dtype).reshape(-1, 5)])
    return labels, stats


def find_fractions(mask: np.ndarray, stroke: float) -> list[StackedFraction]:
    """The stacked fractions on a (levelled) ink mask, widest bar first; their parts never overlap."""
    mask = np.asarray(mask, dtype=bool)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.view(np.uint8), connectivity=8)
    if n <= 3:
        return []
    s = max(float(stroke), 1.0)
    labels, stats = _bars_touching(labels, stats, s)
    n = stats.shape[0]
    boxes, area = stats[1:, :4].astype(np.int64), stats[1:, 4]
    x, y, w, h = boxes.T
    bars = np.flatnonzero((w >= BAR_LENGTH * s) & (h <= BAR_SLOPE * w + 1.5 * s) & (area <= BAR_THICKNESS * s * w))
    if not len(bars):
        return []
    used = np.zeros(len(boxes), bool)
    found = []
    for b in bars[np.argsort(-w[bars])]:
        if used[b]:
            continue
        bar = tuple(int(v) for v in boxes[b])
        tall = (h >= max(PART_MIN_STROKES * s, PART_MIN_BAR * bar[2])) & (np.arange(len(boxes)) != b)

        def height_of(part: np.ndarray) -> float:
            return float(h[part][tall[part]].max())

        # Each part is measured against the other's height where it has one: a digit broken in two (faint chalk) is
        # short, and its upper piece stands further from the bar than its own height allows.
        top = _part(boxes, tall, b, True, used)
        bottom = _part(boxes, tall, b, False, used, height_of(top)) if top is not None else None
        if top is None:
            bottom = _part(boxes, tall, b, False, used)
            top = _part(boxes, tall, b, True, used, height_of(bottom)) if bottom is not None else None
        if top is None or bottom is None or len(np.intersect1d(top, bottom)):
            continue
        top_h, bottom_h = height_of(top), height_of(bottom)
        if max(top_h, bottom_h) > FRACTION_SIZES * min(top_h, bottom_h):
            continue
        used[top] = used[bottom] = used[b] = True
        lut = np.zeros(n, bool)
        lut[top + 1] = True
        numerator = lut[labels]
        lut[:] = False
        lut[bottom + 1] = True
        denominator = lut[labels]
        ink = numerator | denominator | (labels == b + 1)
        found.append(StackedFraction(bar, union_box([tuple(int(v) for v in boxes[i]) for i in (b, *top, *bottom)]),
                                     ink, numerator, denominator, 0.5 * (top_h + bottom_h)))
    return found


# ---------------------------------------------------------------------------------------------- writing one
@dataclass(frozen=True)
class WrittenFraction:
    """A stacked fraction as labels (what the benchmark writes)."""

    numerator: tuple[str, ...]
    denominator: tuple[str, ...]


def written_labels(items: Sequence) -> list[str]:
    """The labels of a line of symbols (str) and :class:`WrittenFraction` s, as the reader writes it."""
    return spell(items, label_of=str, fraction=lambda f, before: fraction_labels(f.numerator, f.denominator, before),
                 virtual=lambda label, tokens, right: label)


def _brackets(numerator: Sequence[str], denominator: Sequence[str], before: str | None) -> tuple[bool, bool, bool]:
    """Whether the numerator, the denominator and the whole fraction need brackets on one line."""
    return (any(lab in "+-" for lab in numerator[1:]), any(lab in "+-×÷/" for lab in denominator),
            before is not None and (before in "÷/" or _digit(before)))


def fraction_labels(numerator: Sequence[str], denominator: Sequence[str], before: str | None) -> list[str]:
    """How a stacked fraction is written on one line: ``num/den``, a numerator that is a sum and a denominator
    holding any operator bracketed, the whole bracketed after a ``÷`` or ``/`` or right after another fraction
    (``before``: the label written right before it, if any; ``1/2(1/4)``, not ``1/21/4``). (A whole number right
    before a fraction is a mixed number: see :func:`spell`.)"""
    num_br, den_br, whole_br = _brackets(numerator, denominator, before)
    out = [*(["(", *numerator, ")"] if num_br else numerator), "/",
           *(["(", *denominator, ")"] if den_br else denominator)]
    return ["(", *out, ")"] if whole_br else out


Token = tuple[SymbolResult, Candidates]


def _virtual(label: str, box: Box, right: bool = False) -> Token:
    """A symbol that is not written (a bracket, a mixed number's '+'): one pixel wide at the box's left or right."""
    x, y, w, h = box
    return SymbolResult(label, 1.0, (int(x + w - 1 if right else x), int(y), 1, max(int(h), 1))), [(label, 1.0)]


def _fraction_tokens(f: ReadFraction, before: str | None, label_of: Callable[[Token], str]) -> list[Token]:
    """The fraction as symbols with their readings, in the order :func:`fraction_labels` writes them (the
    brackets set by each symbol's reading as ``label_of`` gives it)."""
    num = [(s, symbol_candidates(s)) for s in f.numerator.symbols]
    den = [(s, symbol_candidates(s)) for s in f.denominator.symbols]
    num_br, den_br, whole_br = _brackets([label_of(t) for t in num], [label_of(t) for t in den], before)
    out: list[Token] = []
    for k, (part, tokens, bracket) in enumerate(((f.numerator, num, num_br), (f.denominator, den, den_br))):
        if k:
            out.append((SymbolResult("/", 1.0, f.fraction.bar), [("/", 1.0)]))
        if bracket:
            out.append(_virtual("(", part.box))
        out += tokens
        if bracket:
            out.append(_virtual(")", part.box, right=True))
    if whole_br:
        out = [_virtual("(", f.fraction.box), *out, _virtual(")", f.fraction.box, right=True)]
    return out


def _digit(label: str) -> bool:
    return label.isdigit() or label == "."


def spell(items: Sequence, *, label_of: Callable, fraction: Callable, virtual: Callable) -> list:
    """A line's symbols and stacked fractions (``items``, in reading order) written as one sequence of tokens: a
    symbol as itself, a fraction as ``fraction(item, before)`` (``before``: the label written right before it)
    and a whole number right before a fraction as a mixed number, ``2¾`` → ``(2+3/4)``, the brackets and the
    ``+`` as ``virtual(label, tokens, right)`` (``tokens``: what it brackets; ``right``: at their right end).
    One function for the reader and for the benchmark's truth, so that both write a fraction alike."""
    out: list = []
    after_fraction = 0  # where the tokens after the last fraction start
    for item in items:
        if not isinstance(item, (ReadFraction, WrittenFraction)):
            out.append(item)
            continue
        before = label_of(out[-1]) if len(out) > after_fraction else None
        if before is not None and _digit(before):
            start = len(out)
            while start > after_fraction and _digit(label_of(out[start - 1])):
                start -= 1
            whole = out[start:]
            body = fraction(item, "+")
            out[start:] = [virtual("(", whole, False), *whole, virtual("+", whole, True), *body,
                           virtual(")", body, True)]
        else:
            out += fraction(item, label_of(out[-1]) if out else None)
        after_fraction = len(out)
    return out


def _with_fractions(bases: Sequence[LineResult], fractions: Sequence[ReadFraction], latex: bool) -> LineResult:
    """Lines' symbols and the fractions placed among them read as one line, in the order they are written."""
    stands = [box for f in fractions for box in _stand_in_boxes(f.fraction)]
    blocks: list[tuple[float, object]] = [(s.box[0] + s.box[2] / 2.0, s) for base in bases for s in base.symbols
                                          if not any(_within(s.box, box) for box in stands)]
    blocks += [(f.fraction.bar[0] + f.fraction.bar[2] / 2.0, f) for f in fractions]
    items = [(block, symbol_candidates(block)) if isinstance(block, SymbolResult) else block
             for _, block in sorted(blocks, key=lambda b: b[0])]
    # An operator beside a fraction stays one: read as a digit (to make a line parse) it would join the number
    # in the fraction beside it (``9+5/2`` read ``9-45/2``), and the brackets were set for an operator.
    for k, item in enumerate(items):
        beside = [items[j] for j in (k - 1, k + 1) if 0 <= j < len(items)]
        if isinstance(item, tuple) and any(isinstance(b, ReadFraction) for b in beside):
            cands = item[1]
            if not _digit(cands[0][0]):
                items[k] = (item[0], [c for c in cands if not _digit(c[0])])
    box = union_box([*(base.box for base in bases), *(f.fraction.box for f in fractions)])
    number = next((base.label for base in bases if base.label), None)
    # The brackets are set by each symbol's likeliest reading (a line of operators alone, read as a line of its
    # own, was repaired); where the line's repair reads a symbol otherwise (a denominator's '1' read '/', then
    # mended), they are set again by the line's reading, and that reading is kept.
    chosen: dict[int, str] = {}

    def label_of(t: Token) -> str:
        return chosen.get(id(t[0]), t[1][0][0])

    line: LineResult | None = None
    for _ in range(2):
        tokens = spell(items, label_of=label_of, fraction=lambda f, before: _fraction_tokens(f, before, label_of),
                       virtual=lambda lab, toks, right: _virtual(lab, union_box([s.box for s, _ in toks]), right))
        if chosen:
            tokens = [(s, [(chosen[id(s)], dict(c).get(chosen[id(s)], 0.0))]) if id(s) in chosen else (s, c)
                      for s, c in tokens]
        symbols, cands = [s for s, _ in tokens], [c for _, c in tokens]
        read = joined_line(symbols, cands, box, latex=latex, label=number, unparsed_ok=True)
        if line is not None and unparsed(read.error):
            break
        line = read
        now = {id(s): r.label for s, r in zip(symbols, read.symbols)}
        if all(label_of(t) == now[id(t[0])] for t in tokens):
            break
        chosen = now
    return line


def _stand_in_boxes(f: StackedFraction) -> list[Box]:
    """Where a fraction's stand-in lies: digits of the fraction's digit height side by side across its bar."""
    bx, by, bw, bh = f.bar
    h = max(int(round(f.height)), 3)
    w = max(int(round(STAND_IN_WIDTH * f.height)), 3)
    k = max(1, int(bw // (STAND_IN_STEP * f.height)))
    step = bw / k
    return [(int(bx + step * (i + 0.5) - w / 2.0), int(by + bh / 2.0 - h / 2.0), w, h) for i in range(k)]


def stand_in_mask(shape: tuple[int, int], fractions: Sequence[StackedFraction], stroke: float) -> np.ndarray:
    """Rings the size of digits (0s) drawn across each fraction's bar: with the fractions' ink taken out, the page
    is read with these in their places, so that a line keeps the digits that set its height and its spacing
    (``+ =`` alone would be measured by their own small size, and read apart)."""
    mask = np.zeros(shape, np.uint8)
    t = max(int(round(stroke)), 1)
    for f in fractions:
        for x, y, w, h in _stand_in_boxes(f):
            cv2.ellipse(mask, (x + w // 2, y + h // 2), (max(w // 2 - t, 1), max(h // 2 - t, 1)), 0, 0, 360, 1, t)
    return mask > 0


def _within(box: Box, stand: Box) -> bool:
    """Whether a symbol read is (part of) a fraction's stand-in: its centre inside a stand-in's box."""
    cx, cy = box[0] + box[2] / 2.0, box[1] + box[3] / 2.0
    return stand[0] <= cx <= stand[0] + stand[2] and stand[1] <= cy <= stand[1] + stand[3]


def _beside(box: Box, middle: float, f: StackedFraction) -> bool:
    """Whether a line (its box and middle) or another fraction lies on the fraction's row, near enough."""
    mid = f.bar[1] + f.bar[3] / 2.0
    fx, _, fw, _ = f.box
    gap = max(box[0] - (fx + fw), fx - (box[0] + box[2]), 0)
    return abs(middle - mid) <= 0.6 * f.height and gap <= HOST_GAP * f.height


def place_fractions(lines: Sequence[LineResult], fractions: Sequence[ReadFraction], *,
                    latex: bool = True) -> list[LineResult]:
    """The page's lines with each stacked fraction put into the line whose middle its bar lies on: lines and
    fractions on one row within HOST_GAP of a fraction's digit heights of each other are read as one line (a
    line cut in two where a fraction was taken out is one again: ``½ + ¼ = ¾`` leaves ``+`` and ``=``); fractions
    with no line make a line of their own, placed among the others by where it lies."""
    if not fractions:
        return list(lines)
    n = len(lines)
    nodes = [(line.box, line.box[1] + line.box[3] / 2.0) for line in lines]
    nodes += [(f.fraction.box, f.fraction.bar[1] + f.fraction.bar[3] / 2.0) for f in fractions]
    parent = list(range(len(nodes)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for k, f in enumerate(fractions):
        for i, (box, middle) in enumerate(nodes):
            if i != n + k and _beside(box, middle, f.fraction):
                parent[find(i)] = find(n + k)
    groups: dict[int, list[int]] = {}
    for i in range(len(nodes)):
        groups.setdefault(find(i), []).append(i)
    out: list[LineResult] = []
    alone: list[LineResult] = []
    for k, line in enumerate(lines):
        members = groups[find(k)]
        placed = [fractions[i - n] for i in members if i >= n]
        if not placed:
            out.append(line)
        elif k == members[0]:  # the group's first line stands for it
            out.append(_with_fractions([lines[i] for i in members if i < n], placed, latex))
    for members in groups.values():
        if members[0] >= n:
            alone.append(_with_fractions([], [fractions[i - n] for i in members], latex))
    for line in alone:
        at = next((k for k, other in enumerate(out) if other.box[1] > line.box[1]), len(out))
        out.insert(at, line)
    return out
