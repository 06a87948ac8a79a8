"""Writing the pupil crossed out, found on the page mask so that it is not read.

A pupil who got a number wrong crosses it out and writes the right one beside it: ``12+7=~~18~~ 19``. Read as
written, the crossed-out number is a digit run or a blot read as ``4``, ``1`` or ``-`` (``12+7=4419``), and the
verdict is on nonsense. Two ways of crossing out are found here:

- a **scribble**: the number hatched over until it is a solid mass of ink. What sets it apart from any symbol is
  its solid core: closed over gaps of SCRIBBLE_CLOSE strokes and eroded by SCRIBBLE_ERODE strokes, a symbol's
  strokes vanish, a scribble keeps a core of at least SCRIBBLE_CORE square line heights, and even unclosed it is
  solid across discs a third of a line high over SCRIBBLE_SOLID square line heights (a bold ``8`` or ``0`` whose
  holes close is solid over less);
- a **strike-through**: one or two flat strokes drawn through the middle of the number, at least STRIKE_LENGTH
  line heights long, crossed by the digits' strokes inside its length (not only at its ends, as a minus run into
  its neighbours is) and with the digits reaching at most STRIKE_REACH line heights over and under it (a
  fraction's or a column sum's bar has whole rows of digits over and under it). A shorter one (through one
  digit) must be crossed twice and reach past the digit at both ends.

What is found is erased with the ink crossed out under it (:func:`crossed_out` gives the mask to erase); the
line is then read without it. A single digit slashed through (``/`` over a ``7``) is not looked for: it is a
``7/`` or a ``/7`` to the segmenter, as it would be to a person reading only the marks.
"""

from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

from hdr_expr.pipeline.segment import LineCrops

#: A scribble's solid core: the crop closed over gaps of SCRIBBLE_CLOSE stroke widths, eroded by a disc
#: SCRIBBLE_ERODE stroke widths across, keeps at least SCRIBBLE_CORE square line heights of ink, SCRIBBLE_WIDTH
#: line heights wide; and the crop's own ink, opened by a disc SCRIBBLE_SOLID_DISC line heights across, keeps
#: SCRIBBLE_SOLID square line heights. (Measured on seed 46 of the expression and worksheet benchmarks: a core
#: of 0.4 and 0.15 took bold 8s and a bold 0 for scribbles.)
SCRIBBLE_CLOSE = 1.5
SCRIBBLE_ERODE = 3.5
SCRIBBLE_CORE = 0.6
SCRIBBLE_WIDTH = 0.45
SCRIBBLE_SOLID_DISC = 0.3
SCRIBBLE_SOLID = 0.6
#: Only a crop whose ink fills SCRIBBLE_FILL of its box is looked at (the scribbles of the corrections benchmark's
#: seed 1 fill 0.57–0.86 of theirs; a digit a median 0.33).
SCRIBBLE_FILL = 0.45
#: A strike-through: a flat run at least STRIKE_LENGTH line heights long (STRIKE_SHORT through one digit), at
#: most STRIKE_THICK strokes thick; the writing it crosses reaches at least STRIKE_MIN_REACH and at most
#: STRIKE_REACH line heights over and under it, and crosses it inside its length (beyond STRIKE_INSIDE of its
#: length from either end) in at least STRIKE_CROSSINGS places (a ``+``'s bar is crossed once, as is a ``4``'s),
#: or once where the run is STRIKE_LONG times as long as the writing it crosses is high (a ``+`` is as wide as
#: it is high). A short one also reaches STRIKE_PAST line heights past the digit at both ends. (0.9 line
#: heights for all, measured on seed 46: a ``+`` run into a 3, a wide ``+`` touching a 3 were taken for strikes.)
STRIKE_LENGTH = 1.5
STRIKE_SHORT = 0.9
STRIKE_PAST = 0.05
STRIKE_THICK = 2.5
STRIKE_MIN_REACH = 0.2
STRIKE_REACH = 0.85
STRIKE_INSIDE = 0.15
STRIKE_CROSSINGS = 2
STRIKE_LONG = 1.6
#: Crossed-out ink is erased this many line heights past the scribble's core or the strike's ends.
ERASE_MARGIN = 0.15


def _disc(diameter: float) -> np.ndarray:
    k = max(3, int(round(diameter)) | 1)
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))


def scribble_core(mask: np.ndarray, stroke: float) -> np.ndarray:
    """The solid core of a crop's ink (bool, the crop's shape): where, closed over gaps of SCRIBBLE_CLOSE
    strokes, it is solid across a disc of SCRIBBLE_ERODE strokes (opened back to the core's extent)."""
    pad = int(2 * SCRIBBLE_ERODE * stroke) + 2
    ink = np.pad(mask.astype(np.uint8), pad)
    closed = cv2.morphologyEx(ink, cv2.MORPH_CLOSE, _disc(SCRIBBLE_CLOSE * stroke))
    disc = _disc(SCRIBBLE_ERODE * stroke)
    core = cv2.dilate(cv2.erode(closed, disc), disc)
    return core[pad:-pad, pad:-pad] > 0


def _solid(mask: np.ndarray, height: float) -> int:
    """How much of a crop's ink (pixels) is solid across a disc SCRIBBLE_SOLID_DISC line heights wide."""
    d = SCRIBBLE_SOLID_DISC * height
    pad = int(d) + 2
    ink = np.pad(mask.astype(np.uint8), pad)
    return int(np.count_nonzero(cv2.morphologyEx(ink, cv2.MORPH_OPEN, _disc(d))))


def _strikes(mask: np.ndarray, stroke: float, height: float) -> list[tuple[int, int]]:
    """Column spans (x0, x1) of the strike-throughs in a crop's ink."""
    h, w = mask.shape
    length = int(STRIKE_LENGTH * height)
    if w < length or h < 0.6 * height:
        return []
    ink = mask.astype(np.uint8)
    # (Opened with a border of no ink: by default erosion takes what lies beyond the crop's edge for ink.)
    runs = cv2.morphologyEx(ink, cv2.MORPH_OPEN, np.ones((1, length), np.uint8), borderType=cv2.BORDER_CONSTANT,
                            borderValue=0)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(runs, connectivity=8)
    out = []
    for k in range(1, n):
        x, y, bw, bh, area = (int(v) for v in stats[k])
        if area / bw > STRIKE_THICK * stroke:
            continue  # too thick for a pen's stroke
        bar = labels == k
        rows = np.nonzero(bar.any(axis=1))[0]
        # The bar's band, a stroke wider each side: ink beyond it in the bar's columns is what it crosses.
        top, bottom = max(0, rows[0] - int(stroke)), min(h, rows[-1] + int(stroke) + 1)
        cols = slice(x, x + bw)
        above = ink[:top, cols].any(axis=1)
        below = ink[bottom:, cols].any(axis=1)
        reach_up = top - int(np.argmax(above)) if above.any() else 0
        reach_down = int(len(below) - np.argmax(below[::-1])) if below.any() else 0
        if not (STRIKE_MIN_REACH * height <= reach_up <= STRIKE_REACH * height
                and STRIKE_MIN_REACH * height <= reach_down <= STRIKE_REACH * height):
            continue
        # Crossed: ink right over and right under the band, no further apart sideways than the band is high (a
        # slanted stroke crosses it at a slant), inside the bar's length.
        near = max(1, int(stroke))
        over = ink[max(0, top - near) : top, cols].any(axis=0).astype(np.uint8)
        under = ink[bottom : bottom + near, cols].any(axis=0)
        slant = np.ones((1, 2 * (bottom - top) + 1), np.uint8)
        crossing = np.nonzero(cv2.dilate(over[None, :], slant)[0].astype(bool) & under)[0]
        inside = crossing[(crossing >= STRIKE_INSIDE * bw) & (crossing <= (1 - STRIKE_INSIDE) * bw)]
        strokes = int(np.count_nonzero(np.diff(inside) > stroke)) + 1 if len(inside) else 0
        if bw >= STRIKE_LENGTH * height:
            struck = strokes >= STRIKE_CROSSINGS or (strokes > 0
                                                     and bw >= STRIKE_LONG * (reach_up + bottom - top + reach_down))
        else:  # shorter: through one digit, past it at both ends
            end = max(int(stroke), int(STRIKE_PAST * height), 1)
            reach = int(STRIKE_REACH * height)
            clear = [not (ink[max(0, top - reach) : top, a:b].any() or ink[bottom : bottom + reach, a:b].any())
                     for a, b in ((x, x + end), (x + bw - end, x + bw))]
            struck = bw >= STRIKE_SHORT * height and strokes >= STRIKE_CROSSINGS and all(clear)
        if struck:
            out.append((x, x + bw))
    return out


def crossed_out(mask: np.ndarray, lines: Sequence[LineCrops], stroke: float) -> np.ndarray:
    """The page's crossed-out writing (bool, the mask's shape): scribbles and strike-throughs with the ink they
    cross out, found in the lines' crops (see the module's docstring); all False where there is none. In a line
    with one, the ink of all its crops in the columns crossed out is erased (a scribble's edge may come apart
    from it)."""
    out = np.zeros(mask.shape, bool)
    for line in lines:
        height = line.height or max((s.box[3] for s in line.symbols), default=0)
        if height <= 0:
            continue
        spans = []  # page columns crossed out
        for s in line.symbols:
            x, y, w, h = s.box
            if h < 0.5 * height or max(w, h) < 0.6 * height:
                continue
            ink = int(np.count_nonzero(s.mask))
            if ink >= SCRIBBLE_FILL * w * h and ink >= SCRIBBLE_SOLID * height * height:  # (most crops: no)
                core = scribble_core(s.mask, stroke)
                if (core.sum() >= SCRIBBLE_CORE * height * height
                        and _solid(s.mask, height) >= SCRIBBLE_SOLID * height * height):
                    xs = np.nonzero(core.any(axis=0))[0]
                    if xs[-1] + 1 - xs[0] >= SCRIBBLE_WIDTH * height:
                        spans.append((x + int(xs[0]), x + int(xs[-1]) + 1))
            spans += [(x + x0, x + x1) for x0, x1 in _strikes(s.mask, stroke, height)]
        margin = int(ERASE_MARGIN * height)
        for x0, x1 in spans:
            for s in line.symbols:
                x, y, w, h = s.box
                a, b = max(0, x0 - margin - x), min(w, x1 + margin - x)
                if a < b:
                    out[y : y + h, x + a : x + b] |= s.mask[:, a:b]
    return out
