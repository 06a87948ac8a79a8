"""Marks a pupil draws round or under a written answer, found on the ink mask to be erased before the page is cut
into lines: a ring or a box drawn by hand (:func:`answer_rings`: read with the line, a ring is a ``0`` that swallows
the digits, or joins the ``=`` and the answer into one blob), a line drawn under the answer once or twice
(:func:`hand_underlines`: read with the line, a ``-`` between the answer's digits or, run into their feet, part of
a digit). A box printed round an answer, and answer blanks ruled under a line, are the segmenter's
(:func:`~segment.underlines`, ``segment._is_answer_box``).
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from hdr_expr.pipeline.segment import (UNDERLINE_THICK, LineCrops, _Comp, _components, _median_stroke,
                                       _writing_height)
from hdr_expr.pipeline.stats import median

#: A ring drawn around an answer (see _answer_ring) is at least RING_SIZE line heights high (and RING_OVER times the
#: digits' median height), RING_NARROW wide, at most RING_TALLEST high, and fills at most RING_FILL of its box. Its
#: inside: closed over gaps of RING_GAP strokes (its hull where its ends stay further apart and it is RING_HULL line
#: heights high and wide), opened with a disc of RING_OPEN strokes, fills RING_CONVEX of its convex hull; the loop
#: lies within RING_BODY strokes of the inside's outline and covers RING_COVERED of it; what is written inside is at
#: least RING_CONTENT line heights high and at most RING_ABOVE of the loop's height, its middle off the loop's by at
#: most RING_CENTRE/2 of the loop's size; nothing is written within RING_CLEAR line heights after it.
RING_SIZE = 0.8
RING_OVER = 1.15
RING_NARROW = 0.5
RING_HULL = 1.2
RING_TALLEST = 3.0
RING_FILL = 0.35
RING_GAP = 1.5
RING_OPEN = 2.5
RING_BODY = 1.6
RING_COVERED = 0.85
RING_CONTENT = 0.35
RING_CLEAR = 1.0
RING_CENTRE = 0.5
RING_CONVEX = 0.97
RING_SPECK = 1.5
RING_ABOVE = 0.9


def answer_rings(mask: np.ndarray) -> np.ndarray:
    """The pixels of rings drawn around answers in a page's ink mask (see :func:`_answer_ring`), to be erased
    before the page is segmented (and before its answer blanks are looked for: a box's bottom is one)."""
    mask = np.asarray(mask, bool)
    out = np.zeros(mask.shape, bool)
    labels, comps = _components(mask)
    stroke = _median_stroke(comps) if comps else 0.0
    comps = [c for c in comps if c.area >= max(3.0, 0.25 * stroke * stroke)]
    if len(comps) < 2:
        return out
    height = _writing_height(comps, stroke, *mask.shape)
    digits = median([c.h for c in comps if c.h >= 0.5 * height] or [height])
    for c in comps:
        body = _answer_ring(c, labels, stroke, height, digits)
        if body is not None:
            out[c.y : c.y + c.h, c.x : c.x + c.w] |= body
    return out


def _answer_ring(c: _Comp, labels: np.ndarray, stroke: float, height: float, digits: float) -> np.ndarray | None:
    """A ring drawn around an answer (a circled or hand-boxed ``19``), read with the digits, is a ``0`` that
    swallows them; run into the digits or the ``=``, it joins them into one blob. Return the pixels of the loop
    (in ``c``'s box), to be erased, or None where part ``c`` holds no such loop. ``height``: the writing's height;
    ``digits``: the median height of the page's digit-high parts.

    The loop's inside: ``c`` closed over gaps of RING_GAP strokes and filled (or, where its ends stay apart, its
    convex hull, for a loop RING_HULL line heights high and wide), then opened with a disc of RING_OPEN strokes —
    what runs out of the loop thinner than that (the ``=``'s bars it crossed) falls away; it fills RING_CONVEX of
    its convex hull (two digits run into each other, a ``40``, make a waisted loop). The loop is ``c``'s ink
    along that inside's outline (RING_BODY strokes in, a stroke out), and must cover RING_COVERED of it; inside,
    a piece at least RING_CONTENT line heights high that meets the loop once at most (a chord across it, a
    ``2``'s or a ``7``'s stroke across what closing made of it, meets it twice), all of it lower than the loop by
    RING_ABOVE (a ``0``'s or ``8``'s inside holds nothing, a ``6``'s loop is too small) and in its middle (within
    RING_CENTRE/2 of its size: a ``0`` a ``5`` ran into has the ``5`` to one side); nothing written within
    RING_CLEAR line heights after it (an answer ends its line); the loop at least RING_SIZE line heights high and
    RING_OVER times as high as the digits (drawn around writing; a loop two digits run into make is no higher).
    What touched the ring keeps its ink but a stroke's width where the ring ran through it.
    """
    least = max(RING_SIZE * height, RING_OVER * digits)  # its height (the part's box first: cheap)
    if (c.w < RING_NARROW * height or c.h < least or c.h > RING_TALLEST * height
            or c.area > RING_FILL * c.w * c.h):
        return None
    m = int(math.ceil(RING_OPEN * stroke)) + 2
    window = np.pad(labels[c.y : c.y + c.h, c.x : c.x + c.w], m)
    own = np.ascontiguousarray(window == c.label).view(np.uint8)
    core = _loop_inside(own, stroke, allow_hull=min(c.w, c.h) >= RING_HULL * height)
    ys, xs = np.nonzero(core)
    if not len(ys) or np.ptp(ys) + 1 < least or np.ptp(xs) + 1 < RING_NARROW * height:
        return None
    # An answer ends its line: no writing follows the loop closely (a loop in a digit, an '8''s, does).
    y0, x1 = c.y - m + int(ys.min()), c.x - m + int(xs.max()) + 1 + int(math.ceil(stroke))
    after = labels[max(y0, 0) : y0 + int(np.ptp(ys)) + 1, x1 : x1 + int(round(RING_CLEAR * height))]
    if np.count_nonzero(after) > 2 * stroke * stroke:
        return None
    # Drawn round the writing, a loop is convex (two digits run into each other make a waisted one, a '40').
    if np.count_nonzero(core) < RING_CONVEX * cv2.contourArea(cv2.convexHull(cv2.findNonZero(core))):
        return None
    inner = cv2.erode(core, _disc(RING_BODY * stroke))
    ring = own & cv2.dilate(core, _disc(stroke)) & (1 - inner)
    # The loop runs along the inside's whole outline.
    outline, _ = cv2.findContours(core, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    points = np.concatenate([o.reshape(-1, 2) for o in outline])
    near = cv2.dilate(ring, _disc(1.5 * stroke))
    if float(near[points[:, 1], points[:, 0]].mean()) < RING_COVERED:
        return None
    ring = _as_erased(ring, own, window, inner, stroke)
    if not _holds_writing(window, core, inner, ring, stroke, height):
        return None
    return (ring > 0)[m:-m, m:-m]


def _disc(r: float) -> np.ndarray:
    k = 2 * max(1, int(round(r))) + 1
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))


def _loop_inside(own: np.ndarray, stroke: float, *, allow_hull: bool) -> np.ndarray:
    """The inside of the loop a part (``own``, uint8) draws: closed over gaps of RING_GAP strokes and filled (or,
    where that leaves little and ``allow_hull``, its convex hull), opened with a disc of RING_OPEN strokes, its
    largest piece."""

    def opened(shape: np.ndarray) -> np.ndarray:
        core = cv2.morphologyEx(shape, cv2.MORPH_OPEN, _disc(RING_OPEN * stroke))
        n, lab, st, _ = cv2.connectedComponentsWithStats(core, connectivity=8)
        if n < 2:
            return core
        return (lab == 1 + int(np.argmax(st[1:, cv2.CC_STAT_AREA]))).view(np.uint8)

    closed = cv2.morphologyEx(own, cv2.MORPH_CLOSE, _disc(RING_GAP * stroke))
    contours, _ = cv2.findContours(closed, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    filled = np.zeros_like(own)
    cv2.drawContours(filled, contours, -1, 1, thickness=-1)
    core = opened(filled)
    ys, xs = np.nonzero(own)
    if np.count_nonzero(core) < 0.3 * (np.ptp(ys) + 1) * (np.ptp(xs) + 1) and allow_hull:  # ends apart: the hull
        hull = np.zeros_like(own)
        cv2.fillConvexPoly(hull, cv2.convexHull(cv2.findNonZero(own)), 1)
        core = opened(hull)
    return core


def _as_erased(ring: np.ndarray, own: np.ndarray, window: np.ndarray, inner: np.ndarray, stroke: float) -> np.ndarray:
    """The loop's pixels to erase: less where its side ran across a bar (the '=''s: kept whole; not across its top
    or bottom, which would join an '=''s two bars through a box's side), with the ends of its strokes drawn on past
    a corner (specks of RING_SPECK square strokes outside it, no other ink within 1.5 strokes)."""
    rest = own & (1 - ring)
    span = 2 * int(math.ceil((RING_BODY + 1.0) * stroke)) + 1
    ring = ring & (1 - cv2.morphologyEx(rest, cv2.MORPH_CLOSE, np.ones((1, span), np.uint8)))
    left = (window > 0) & (ring == 0)
    k, specks, st, _ = cv2.connectedComponentsWithStats(own & (1 - ring), connectivity=8)
    r = int(math.ceil(1.5 * stroke))
    for i in range(1, k):
        x, y, w, h = (int(v) for v in st[i, :4])
        if st[i, cv2.CC_STAT_AREA] > RING_SPECK * stroke * stroke or inner[y : y + h, x : x + w].any():
            continue
        y0, x0 = max(y - r, 0), max(x - r, 0)
        speck = specks[y0 : y + h + r, x0 : x + w + r] == i
        if not (left[y0 : y + h + r, x0 : x + w + r] & ~speck).any():  # alone (a bar's piece is not)
            ring[y0 : y + h + r, x0 : x + w + r] |= speck.view(np.uint8)
    return ring


def _holds_writing(window: np.ndarray, core: np.ndarray, inner: np.ndarray, ring: np.ndarray, stroke: float,
                   height: float) -> bool:
    """Whether something digit-high is written inside the loop (RING_CONTENT line heights), whole inside it (a '4' a
    '0' ran into goes on outside), with no chord across it (a '2''s or a '7''s stroke across what closing made of it
    touches the loop twice; a digit the loop ran into, once); all that is inside lower than the loop (RING_ABOVE)
    and near its middle (RING_CENTRE: a '0' a '5' ran into has the '5' to one side)."""
    held = ((window > 0) & (inner > 0)).view(np.uint8)
    n, pieces, st, _ = cv2.connectedComponentsWithStats(held, connectivity=8)
    _, whole = cv2.connectedComponents(((window > 0) & (ring == 0)).view(np.uint8), connectivity=8)
    outside = whole[cv2.dilate(core, _disc(stroke)) == 0]
    reach = np.ones((3, 3), np.uint8)

    def written(k: int) -> bool:
        if st[k, cv2.CC_STAT_HEIGHT] < RING_CONTENT * height:
            return False
        x, y, w, h = (int(v) for v in st[k, :4])
        piece = pieces[y : y + h, x : x + w] == k
        if np.isin(outside, whole[y : y + h, x : x + w][piece]).any():
            return False
        y0, x0 = max(y - 3, 0), max(x - 3, 0)
        touch = cv2.dilate((pieces[y0 : y + h + 3, x0 : x + w + 3] == k).view(np.uint8), reach)
        return cv2.connectedComponents(touch & ring[y0 : y + h + 3, x0 : x + w + 3], connectivity=8)[0] <= 2

    if not any(written(k) for k in range(1, n)):
        return False
    ys, xs = np.nonzero(core)
    rows, cols = np.flatnonzero(held.any(axis=1)), np.flatnonzero(held.any(axis=0))
    return (rows[-1] - rows[0] + 1 <= RING_ABOVE * (np.ptp(ys) + 1)
            and abs(rows[0] + rows[-1] - ys.min() - ys.max()) <= RING_CENTRE * (np.ptp(ys) + 1)
            and abs(cols[0] + cols[-1] - xs.min() - xs.max()) <= RING_CENTRE * (np.ptp(xs) + 1))


#: A hand-drawn line under the answer (see hand_underlines): at least HAND_UNDERLINE_LENGTH line heights long,
#: drifting up to HAND_UNDERLINE_DRIFT strokes from row to row, at most UNDERLINE_THICK strokes thick (a stroke of its
#: own HAND_UNDERLINE_TWICE: two run together); a stroke of
#: its own has its middle no higher than HAND_UNDERLINE_BELOW strokes over the baseline, one run into the digits
#: reaches HAND_UNDERLINE_FEET strokes under it and lies under that digit over at most HAND_UNDERLINE_OWN of its
#: length; digit-high writing (another digit's, for one run into a digit) stands over HAND_UNDERLINE_UNDER of it,
#: and nothing but another such line lies within HAND_UNDERLINE_CLEAR line heights under it.
HAND_UNDERLINE_LENGTH = 0.7
HAND_UNDERLINE_DRIFT = 0.5
HAND_UNDERLINE_BELOW = 0.5
HAND_UNDERLINE_FEET = 1.0
HAND_UNDERLINE_OWN = 0.6
HAND_UNDERLINE_UNDER = 0.3
HAND_UNDERLINE_CLEAR = 0.8
HAND_UNDERLINE_TWICE = 5.0


def hand_underlines(mask: np.ndarray, lines: list[LineCrops]) -> np.ndarray:
    """The pixels of lines drawn by hand under a line's writing, once or twice — how pupils mark an answer.
    Read with the line, such a stroke is a ``-`` between the answer's digits or, run into their feet, turns a
    ``1`` into a ``2`` or a ``6`` into a ``5``.

    Found as :func:`underlines` finds printed blanks, shorter (HAND_UNDERLINE_LENGTH), allowed to drift (a hand's
    stroke is neither straight nor level), and only under the writing: below its baseline, under digit-high
    writing for part of its length, with nothing under it (a fraction's or a column sum's bar has writing under it).
    """
    out = np.zeros(mask.shape, bool)
    H, W = mask.shape
    for line in lines:
        h, stroke = float(line.height), max(float(line.stroke), 1.0)
        if h <= 0:
            continue
        x, y, w, hh = line.box
        length = int(round(HAND_UNDERLINE_LENGTH * h))
        reach = int(round(HAND_UNDERLINE_CLEAR * h))
        # The bars are looked for down to ``reach`` under the line; the region runs on as far again, for what
        # lies under them and for the shapes of the parts they belong to.
        y0, y1 = max(0, y), min(H, y + hh + 2 * reach)
        x0, x1 = max(0, x - int(h)), min(W, x + w + int(h))
        region = np.ascontiguousarray(mask[y0:y1, x0:x1]).view(np.uint8)
        drift = max(1, int(round(HAND_UNDERLINE_DRIFT * stroke)))
        thick = cv2.dilate(region, np.ones((2 * drift + 1, 1), np.uint8))
        runs = cv2.morphologyEx(thick, cv2.MORPH_OPEN, np.ones((1, length), np.uint8)) & region
        runs[max(0, y + hh + reach - y0):] = 0
        n, labels, stats, _ = cv2.connectedComponentsWithStats(runs, connectivity=8)
        if n < 2 or stats[1:, cv2.CC_STAT_WIDTH].max() < length:
            continue
        _, parts, part_stats, _ = cv2.connectedComponentsWithStats(region, connectivity=8)
        # The writing the line is drawn under: digit-high parts (an '=''s bar over a low one is none).
        tall = np.flatnonzero(part_stats[:, cv2.CC_STAT_HEIGHT] >= 0.5 * h)
        tall = tall[tall > 0]
        bars = {}
        for i in range(1, n):
            bx, by, bw, bh = (int(v) for v in stats[i, :4])
            if bw < length:
                continue
            bar = labels[by : by + bh, bx : bx + bw] == i
            k = int(parts[by : by + bh, bx : bx + bw][bar][0])
            alone = part_stats[k, cv2.CC_STAT_HEIGHT] <= bh + 2 * drift
            # (A stroke of its own may be two drawn close enough to run together: underlined twice.)
            thick = (HAND_UNDERLINE_TWICE if alone else UNDERLINE_THICK) * stroke
            if float(np.median(bar.sum(axis=0)[bar.any(axis=0)])) > max(3.0, thick):
                continue
            base = line.baseline_at(x0 + bx + bw / 2.0) - y0
            over = parts[max(by - reach, 0) : by, bx : bx + bw]
            if alone:
                # A stroke of its own may lie as high as the digits' feet (no digit's stroke is that flat and
                # long), under digit-high writing.
                if by + bh / 2.0 < base - HAND_UNDERLINE_BELOW * stroke:
                    continue
                under = np.isin(over, tall).any(axis=0)
            else:
                # One run into a digit reaches below the digits' feet and runs on under other writing than that
                # digit (a '2''s foot lies under its own stroke, at the baseline).
                if by + bh < base + HAND_UNDERLINE_FEET * stroke:
                    continue
                if float((over == k).any(axis=0).mean()) > HAND_UNDERLINE_OWN:
                    continue
                under = (np.isin(over, tall) & (over != k)).any(axis=0)
            bars[i] = float(under.mean())
        if not bars:
            continue
        barred = np.isin(labels, list(bars))
        ink = (region > 0) & ~barred
        for i, under in bars.items():
            bx, by, bw, bh = (int(v) for v in stats[i, :4])
            below = ink[by + bh : by + bh + reach, bx : bx + bw].any(axis=0)
            if under >= HAND_UNDERLINE_UNDER and not below.any():
                out[y0:y1, x0:x1] |= labels == i
    return out
