"""Writing the pupil crossed out, found on the page mask so that it is not read.

A pupil who got a number wrong crosses it out and writes the right one beside it: ``12+7=~~18~~ 19``. Read as
written, the crossed-out number is a digit run or a blot read as ``4``, ``1`` or ``-`` (``12+7=4419``), and the
verdict is on nonsense. Four ways of crossing out are found here:

- a **scribble**: the number hatched over until it is a solid mass of ink, wider than a digit. What sets it apart
  from any symbol is its solid core: closed over gaps of SCRIBBLE_CLOSE strokes and eroded by SCRIBBLE_ERODE
  strokes, a symbol's strokes vanish, a scribble keeps a core of at least SCRIBBLE_CORE square line heights and
  SCRIBBLE_WIDTH line heights wide; even unclosed it is solid across discs a third of a line high over
  SCRIBBLE_SOLID square line heights (a bold ``8`` or ``0`` whose holes close is narrower, or solid over less);
- **hatching**: the number hatched over with strokes that stay apart (a fine pen, a sharp scan): HATCH_RUNS or more
  strokes side by side within a line height's width across its middle;
- a **strike-through**: one stroke, or two side by side a few strokes apart, drawn through the middle of the
  number and a little past both its ends: a flat bar (flat runs STRIKE_SHORT line heights long, stepped where it
  is drawn askew) crossed by digit-tall strokes inside its length, the digits reaching at most STRIKE_REACH line
  heights over and under it (a fraction's or a column sum's bar has whole rows of digits over and under it), bare
  of writing over and under at both ends for at least a stroke and at most STRIKE_BARE line heights (a minus or a
  ``+`` run into the digit beside it is bare on one side for its whole arm, or ends inside the digit). A bar
  STRIKE_LENGTH line heights long must be crossed twice, or once if it is far longer than the writing is high; a
  shorter one (one digit struck) twice;
- a **slash**: a strike-through rising to the right at one of SLASH_ANGLES, found on the crop turned until it
  lies flat, by the same rules.

What is found is erased with the ink crossed out under it, and the ink of the line's other crops in those columns
(:func:`crossed_out` gives the mask to erase); the line is then read without it. (The recognizer also reads the
page with nothing erased, and keeps a line of that reading whose written answer holds where the erased one's does
not.) Not looked for: a correction written over or above the number crossed out.
"""

from __future__ import annotations

from typing import Sequence

import cv2
import numpy as np

from hdr_expr.pipeline.segment import LineCrops

#: A scribble's solid core: the crop closed over gaps of SCRIBBLE_CLOSE stroke widths, eroded by a disc
#: SCRIBBLE_ERODE stroke widths across, keeps at least SCRIBBLE_CORE square line heights of ink, SCRIBBLE_WIDTH
#: line heights wide; and the crop's own ink, opened by a disc SCRIBBLE_SOLID_DISC line heights across, keeps
#: SCRIBBLE_SOLID square line heights. (Measured on the saved benchmark sets: a core of 0.4 and 0.15 took bold 8s
#: and a bold 0 of seed 46 for scribbles, a width of 0.45 a bold 8 of seed 42.)
SCRIBBLE_CLOSE = 1.5
SCRIBBLE_ERODE = 3.5
SCRIBBLE_CORE = 0.6
SCRIBBLE_WIDTH = 1.0
SCRIBBLE_SOLID_DISC = 0.3
SCRIBBLE_SOLID = 0.6
#: A core of SCRIBBLE_CORE_ALONE square line heights is a scribble however its own ink opens (hatching whose
#: strokes run into each other here and there: no bold digit closes that much).
SCRIBBLE_CORE_ALONE = 1.2
#: Hatching: a crop at least HATCH_HEIGHT line heights high whose middle rows (the median one) cross at least
#: HATCH_RUNS strokes within a line height's width (on seeds 45 and 46 of the expression benchmark no crop of
#: writing crosses more than 3.5).
HATCH_HEIGHT = 0.8
HATCH_RUNS = 5
#: Only a crop whose ink fills SCRIBBLE_FILL of its box is looked at (the scribbles of the corrections benchmark's
#: seed 1 fill 0.57–0.86 of theirs; a digit a median 0.33).
SCRIBBLE_FILL = 0.45
#: A strike-through: a bar at least STRIKE_LENGTH line heights long (STRIKE_SHORT through one digit; its runs
#: are found at that length), at most STRIKE_THICK strokes thick; the writing it crosses reaches at least
#: STRIKE_MIN_REACH and at most STRIKE_REACH line heights over and under it, and crosses it inside its length
#: (beyond STRIKE_INSIDE of its length from either end) in at least STRIKE_CROSSINGS places (a ``+``'s bar is
#: crossed once, as is a ``4``'s), or once where a long bar is STRIKE_LONG times as long as the writing it crosses
#: is high (a ``+`` is as wide as it is high). (0.9 line heights for all, measured on seed 46: a ``+`` run into a
#: 3, a wide ``+`` touching a 3 were taken for strikes.)
STRIKE_LENGTH = 1.5
STRIKE_SHORT = 0.9
STRIKE_PAST = 0.05
STRIKE_THICK = 2.5
STRIKE_MIN_REACH = 0.2
STRIKE_REACH = 0.85
STRIKE_INSIDE = 0.15
STRIKE_CROSSINGS = 2
STRIKE_LONG = 1.6
#: Two bars at most STRIKE_PAIR strokes apart are one strike-through drawn twice (the writing need reach only a
#: third of STRIKE_MIN_REACH over and under the pair).
STRIKE_PAIR = 3.0
#: A strike reaches at least STRIKE_PAST line heights (and a stroke) and at most STRIKE_BARE line heights past
#: what it crosses at both ends (without this, seeds 24, 25, 36 and 42: a minus or a '+' run into a digit).
STRIKE_BARE = 0.4
#: A stroke crossing a strike is counted where the writing in its columns spans STRIKE_TALL line heights (a digit;
#: not a '+' run into the digit beside it: seed 39, `2+4×8=34`).
STRIKE_TALL = 0.75
#: A slash: a strike-through rising to the right at one of SLASH_ANGLES (degrees; each finds bars within about
#: 5° of it), at least SLASH_LENGTH line heights long along the stroke and SLASH_WIDTH wide across the page.
SLASH_ANGLES = (25.0, 35.0, 45.0, 55.0, 65.0)
SLASH_LENGTH = 1.1
SLASH_WIDTH = 0.45
#: Only a crop SLASH_CROP line heights wide is looked at (a digit with a slash through it is wider than one
#: without; five turns of every crop 0.75 line heights wide cost 12 ms a worksheet page of seed 47, 4 ms at 1.0,
#: and read one line fewer of 500 on corrections seed 2).
SLASH_CROP = 1.0
#: ... and SLASH_HEIGHT line heights high (a slash reaches over and under the digits it crosses; an asterisk for
#: a '×', whose strokes cross, is smaller: seed 41, `-25*2×62=`).
SLASH_HEIGHT = 0.9
#: Crossed-out ink is erased this many line heights past the scribble's core or the strike's ends, and a piece
#: of ink that reaches into that stretch whole where it lies within ERASE_WHOLE line heights of it.
ERASE_MARGIN = 0.15
ERASE_WHOLE = 0.6


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


def _hatching(mask: np.ndarray, height: float) -> list[tuple[int, int]]:
    """Column spans (x0, x1) of a crop where it is hatched over: up and down strokes side by side, HATCH_RUNS or
    more in every stretch of a line height's width across the middle of the crop (digits side by side, even
    touching, cross a row at most three or four times per line height)."""
    h, w = mask.shape
    win = int(round(height))
    if h < HATCH_HEIGHT * height or w < win:
        return []
    band = mask[int(0.3 * h) : max(int(0.7 * h), int(0.3 * h) + 1)]
    starts = band & ~np.pad(band, ((0, 0), (1, 0)))[:, :-1]  # where each run of ink begins, row by row
    cum = np.pad(np.cumsum(starts, axis=1), ((0, 0), (1, 0)))
    per_window = np.median(cum[:, win:] - cum[:, :-win], axis=0)  # runs begun in [c, c + win), median row
    hatched = np.nonzero(per_window >= HATCH_RUNS)[0]
    if not len(hatched):
        return []
    return [(int(hatched[0]), int(hatched[-1]) + win)]


def _slashes(mask: np.ndarray, stroke: float, height: float) -> list[tuple[int, int]]:
    """Column spans (x0, x1) of the slashes through a crop's ink: strike-throughs (:func:`_strikes`, the same
    rules) drawn rising to the right at SLASH_ANGLES, found on the crop turned until they lie flat."""
    h, w = mask.shape
    if h < SLASH_HEIGHT * height or w < SLASH_CROP * height or np.hypot(w, h) < SLASH_LENGTH * height:
        return []
    out = []
    ink = mask.view(np.uint8)
    for angle in SLASH_ANGLES:
        # Turned clockwise by ``angle`` (a stroke rising at that angle lies flat), on a canvas that holds it all.
        turn = cv2.getRotationMatrix2D((w / 2.0, h / 2.0), -angle, 1.0)
        c, s_ = abs(turn[0, 0]), abs(turn[0, 1])
        tw, th = int(np.ceil(w * c + h * s_)), int(np.ceil(w * s_ + h * c))
        turn[:, 2] += (tw - w) / 2.0, (th - h) / 2.0
        flat = cv2.warpAffine(ink, turn, (tw, th), flags=cv2.INTER_NEAREST) > 0
        back = cv2.invertAffineTransform(turn)
        for x0, x1, row in _strikes(flat, stroke, height, min_height=0.0):
            if x1 - x0 < SLASH_LENGTH * height:
                continue
            ends = back @ np.array([[x0, x1 - 1], [row, row], [1.0, 1.0]])
            a, b = int(max(0, ends[0].min())), int(min(w, ends[0].max() + 1))
            if b - a >= SLASH_WIDTH * height:
                out.append((a, b))
    return out


def _row_groups(bar: np.ndarray, rows: np.ndarray, gap: float) -> list[np.ndarray]:
    """The bars of a band (runs of rows more than ``gap`` rows apart), each as the band's pixels in its rows."""
    cuts = np.nonzero(np.diff(rows) > max(1.0, gap))[0] + 1
    return [bar[r[0] : r[-1] + 1] for r in np.split(rows, cuts)]


def _strikes(mask: np.ndarray, stroke: float, height: float, min_height: float = 0.6) -> list[tuple[int, int, float]]:
    """The strike-throughs in a crop's ink: (x0, x1, row) of each bar. A bar is made of the flat runs at least
    STRIKE_SHORT line heights long that touch (a stroke drawn a little askew is several, stepped)."""
    h, w = mask.shape
    length = int(STRIKE_SHORT * height)
    if w < length or h < min_height * height:
        return []
    ink = mask.astype(np.uint8)
    # (Opened with a border of no ink: by default erosion takes what lies beyond the crop's edge for ink.)
    runs = cv2.morphologyEx(ink, cv2.MORPH_OPEN, np.ones((1, length), np.uint8), borderType=cv2.BORDER_CONSTANT,
                            borderValue=0)
    if not runs.any():
        return []
    # What the bars cross is the ink that is none of them; two bars a few strokes apart (struck twice) are one.
    rest = ink & ~cv2.dilate(runs, np.ones((2 * int(stroke) + 1, 1), np.uint8))
    pairs = cv2.dilate(runs, np.ones((2 * int(STRIKE_PAIR * stroke) + 1, 1), np.uint8))
    n, labels, stats, _ = cv2.connectedComponentsWithStats(pairs, connectivity=8)
    out = []
    for k in range(1, n):
        x, y, bw, bh, _ = (int(v) for v in stats[k])
        bar = (labels == k) & (runs > 0)
        rows = np.nonzero(bar.any(axis=1))[0]
        groups = _row_groups(bar, rows, stroke)
        if max(np.count_nonzero(b) / bw for b in groups) > STRIKE_THICK * stroke:
            continue  # too thick for a pen's stroke
        # Two bars side by side along their length are a strike drawn twice (one stroke askew is stepped: its
        # runs follow one another).
        spans = [np.nonzero(b.any(axis=0))[0] for b in groups]
        paired = len(groups) > 1 and min(spans[0][-1], spans[1][-1]) - max(spans[0][0], spans[1][0]) >= 0.5 * min(
            len(spans[0]), len(spans[1]))
        # The bar's band, a stroke wider each side: ink beyond it in the bar's columns is what it crosses.
        top, bottom = max(0, rows[0] - int(stroke)), min(h, rows[-1] + int(stroke) + 1)
        cols = slice(x, x + bw)
        above = rest[:top, cols].any(axis=1)
        below = rest[bottom:, cols].any(axis=1)
        reach_up = top - int(np.argmax(above)) if above.any() else 0
        reach_down = int(len(below) - np.argmax(below[::-1])) if below.any() else 0
        reach = int(STRIKE_REACH * height)
        least = STRIKE_MIN_REACH * height / (3 if paired else 1)  # (a pair leaves less over and under)
        if not (least <= reach_up <= reach and least <= reach_down <= reach):
            continue
        # Crossed: ink right over and right under the band, no further apart sideways than the band is high (a
        # slanted stroke crosses it at a slant), inside the bar's length.
        near = max(1, int(stroke))
        over = rest[max(0, top - near) : top, cols].any(axis=0).astype(np.uint8)
        under = rest[bottom : bottom + near, cols].any(axis=0)
        slant = 2 * (bottom - top) + 1
        crossing = np.nonzero(cv2.dilate(over[None, :], np.ones((1, slant), np.uint8))[0].astype(bool) & under)[0]
        inside = crossing[(crossing >= STRIKE_INSIDE * bw) & (crossing <= (1 - STRIKE_INSIDE) * bw)]
        lo, hi = max(0, top - reach), min(h, bottom + reach)
        crossings = np.split(inside, np.nonzero(np.diff(inside) > stroke)[0] + 1) if len(inside) else []
        strokes = 0
        for g in crossings:  # (counted where digit-tall: a '+' run into the digit beside it is not)
            ys = np.nonzero(rest[lo:hi, max(0, x + g[0] - slant) : x + g[-1] + slant + 1].any(axis=1))[0]
            strokes += int(ys[-1] - ys[0] + 1 >= STRIKE_TALL * height)
        # The bar reaches past what it crosses at both ends, but not far (a minus run into a digit is bare on one
        # side for its whole length).
        support = np.nonzero(rest[lo:top, cols].any(axis=0) | rest[bottom:hi, cols].any(axis=0))[0]
        bare = (int(support[0]), int(bw - 1 - support[-1])) if len(support) else (bw, bw)
        past = all(max(int(stroke), int(STRIKE_PAST * height), 1) <= b <= STRIKE_BARE * height for b in bare)
        if bw >= STRIKE_LENGTH * height:
            long_enough = bw >= STRIKE_LONG * (reach_up + bottom - top + reach_down)
            struck = past and (strokes >= STRIKE_CROSSINGS or (strokes > 0 and long_enough))
        else:  # shorter: through one digit
            struck = past and strokes >= STRIKE_CROSSINGS
        if struck:
            out.append((x, x + bw, float(rows.mean())))
    return out


def crossed_out(mask: np.ndarray, lines: Sequence[LineCrops], stroke: float) -> np.ndarray:
    """The page's crossed-out writing (bool, the mask's shape): scribbles, hatching, strike-throughs and slashes
    with the ink they cross out, found in the lines' crops (see the module's docstring); all False where there is
    none. In a line with one, the ink of all its crops in the columns crossed out is erased (a scribble's edge may
    come apart from it)."""
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
                area = core.sum()
                if area >= SCRIBBLE_CORE * height * height and (
                        area >= SCRIBBLE_CORE_ALONE * height * height
                        or _solid(s.mask, height) >= SCRIBBLE_SOLID * height * height):
                    xs = np.nonzero(core.any(axis=0))[0]
                    if xs[-1] + 1 - xs[0] >= SCRIBBLE_WIDTH * height:
                        spans.append((x + int(xs[0]), x + int(xs[-1]) + 1))
            spans += [(x + x0, x + x1) for x0, x1 in _hatching(s.mask, height)]
            spans += [(x + x0, x + x1) for x0, x1, _ in _strikes(s.mask, stroke, height)]
            spans += [(x + x0, x + x1) for x0, x1 in _slashes(s.mask, stroke, height)]
        margin, reach = int(ERASE_MARGIN * height), int(ERASE_WHOLE * height)
        for x0, x1 in spans:
            for s in line.symbols:
                x, y, w, h = s.box
                a, b = max(0, x0 - margin - x), min(w, x1 + margin - x)
                if a >= b:
                    continue
                out[y : y + h, x + a : x + b] |= s.mask[:, a:b]
                # A piece of the crop that lies within reach of the span goes whole (a scribble's last strokes).
                n, labels, stats, _ = cv2.connectedComponentsWithStats(s.mask.view(np.uint8), connectivity=8)
                for k in range(1, n):
                    left, width = int(stats[k, 0]), int(stats[k, 2])
                    if x + left >= x0 - reach and x + left + width <= x1 + reach and (labels[:, a:b] == k).any():
                        out[y : y + h, x : x + w] |= labels == k
    return out
