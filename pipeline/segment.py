"""Ink mask → text lines of symbol crops, in reading order; cut points for symbols that touch.

1. Connected components (contours for the boxes: OpenCV's stats pass is slow), specks and frame-sized parts
   dropped.
2. Lines: the tall components' centres, levelled by the page's skew angle, are clustered where they leave a
   gap; small parts (bars, dots) join the line whose band holds them. Lines are read top to bottom; a row
   holding two expressions far apart (a worksheet in two columns) gives two lines, left one first, but a sum
   written with wide spaces around its operators stays one line.
3. Symbols: within a line, components that belong together are grouped by how their boxes overlap
   horizontally (`=` two bars, `÷` a bar with dots, a `5` or `4` or `×` drawn in strokes that do not meet,
   strokes broken by faint ink), with care not to merge a digit with a neighbouring `-` or `.`.
4. Dots: a decimal point `.` or a raised dot `·` is a legitimate tiny symbol; specks are not. A dot is kept
   when it is round and sized and placed as a dot of this line would be.
5. :func:`split_candidates` proposes ways to cut a blob that is too wide for one symbol into 2–3 pieces, along
   seams that cross the least ink near the minima of its column profile; the classifier's confidence picks.
   A blob of any width one of whose ends is a straight bar at the line's middle, or two (a `-` or `=` run into
   the digit beside it), is also offered cut where the bars end (:func:`bar_tail_cuts`).

:func:`underlines` finds the answer blanks ruled under a line (the marks a pupil draws round or under an answer
are :mod:`marks`').
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from hdr_expr.pipeline.stats import median, percentile

Box = tuple[int, int, int, int]  # x, y, width, height in page pixels

#: A blob is offered for splitting when it is this many usual symbol widths wide and this many line heights.
SPLIT_USUAL = 1.3
#: With the segmentation verifier to reject wrong cuts, blobs this many usual widths wide are offered.
VERIFIED_SPLIT_USUAL = 1.1
SPLIT_HEIGHT = 0.95
#: With the verifier, blobs this many line heights wide (not SPLIT_HEIGHT) are offered: two digits written over
#: each other are narrower than two side by side (bench expressions, saved seeds 0 and 1: 437 → 441 and
#: 430 → 434 of 500 read exactly at 0.8; at 0.7 later: 456 → 457 and 448 → 448, worksheets 192 → 193 of 208).
VERIFIED_SPLIT_HEIGHT = 0.7
#: How far (line heights) a cut may drift sideways from its start column, one column per row at most.
SEAM_REACH = 0.12
#: Each 2-way cut is also offered along a seam that may stray this many line heights from its start (a piece of
#: a bowl run in under the next digit, a 1 leaning into its neighbour), where that seam differs, and where every
#: piece it leaves is at least SEAM_WIDE_PIECE line heights tall. Measured on the saved sets (expressions and
#: worksheets, seeds 19–25, 11,234 lines): +45 / −14 lines (instead of the narrow seams, reach 0.18: +60 / −54;
#: in addition, 0.2: +48 / −25; 0.26 without the piece rule: +52 / −23; 0.35: +56 / −28; piece 0.65: fewer gains).
SEAM_REACH_WIDE = 0.26
SEAM_WIDE_PIECE = 0.5
#: A piece cut off a blob is at least this many stroke widths wide (and 0.12 line heights).
MIN_PIECE_STROKES = 2.0
#: Each piece of a blob shared out stroke by stroke (see stroke_candidates) is this many line heights tall.
STROKE_PIECE_HEIGHT = 0.4
#: A blob one of whose ends is a straight bar at the line's middle, at least BAR_TAIL_LENGTH line heights long, at
#: most BAR_TAIL_THICK stroke widths thick (+1 px), within BAR_TAIL_MIDDLE line heights of the middle, rising
#: at most BAR_TAIL_SLOPE and straying at most BAR_TAIL_WAVER stroke widths from its straight line, is offered
#: cut where the bar ends: a '-' drawn touching the digit beside it (see bar_tail_cuts), or a '=' (two such bars,
#: one above the middle and one below); not where the other end is such a bar BAR_TAIL_OTHER times as long.
BAR_TAIL_LENGTH = 0.3
BAR_TAIL_THICK = 1.8
BAR_TAIL_MIDDLE = 0.25
BAR_TAIL_SLOPE = 0.35
BAR_TAIL_WAVER = 0.5
BAR_TAIL_OTHER = 0.5
#: Each of a '=''s two bars lies within BAR_TAIL_PAIR line heights of the middle (their mean within BAR_TAIL_MIDDLE).
BAR_TAIL_PAIR = 0.4
#: A bar that runs on through a stroke reaching BAR_TAIL_CROSS line heights above and below it, and out the other
#: side for BAR_TAIL_ARM of its length, is a '+' or a crossed '7' (see _crossed).
BAR_TAIL_CROSS = 0.15
BAR_TAIL_ARM = 0.5
#: ... in a blob at least BAR_TAIL_BLOB line heights tall (a digit with a '-'; most '+' are smaller).
BAR_TAIL_BLOB = 0.8
#: A row of symbols breaks into two lines where the horizontal gap exceeds this many line heights.
LINE_BREAK_GAP = 3.0
#: ... except beside an operator-sized mark (at most SPACED_OPERATOR_HEIGHT and at least SPACED_OPERATOR_MIN line
#: heights), where only a gap over SPACED_GAP line heights breaks it (see _split_row).
SPACED_GAP = 8.0
SPACED_OPERATOR_HEIGHT = 0.85
SPACED_OPERATOR_MIN = 0.2
#: An answer blank ruled under a line (``12 + 7 = ____``) is a straight horizontal bar at least UNDERLINE_LENGTH
#: line heights long, at most UNDERLINE_THICK stroke widths thick, lying at least UNDERLINE_LOW line heights
#: below the line's middle (a '-' or an '=' sits about the middle).
UNDERLINE_LENGTH = 1.5
UNDERLINE_THICK = 2.5
UNDERLINE_LOW = 0.3
#: An answer box (see _is_answer_box): its sides lie within BOX_SIDE stroke widths of its bounding box, cover
#: BOX_COVERED of each side's length and hold BOX_ON_SIDES of its ink; an empty one is BOX_EMPTY_HEIGHT times
#: as tall as the writing.
BOX_SIDE = 2.5
BOX_COVERED = 0.85
BOX_ON_SIDES = 0.9
BOX_EMPTY_HEIGHT = 1.4


@dataclass(frozen=True)
class SymbolCrop:
    """One symbol: its box in page pixels and only its own ink inside the box."""

    box: Box
    mask: np.ndarray  # bool, h×w
    parts: int  # connected components grouped into it
    bar: bool = False  # a straight bar cut off the end of a blob where it ends (see bar_tail_cuts)

    @property
    def center(self) -> tuple[float, float]:
        x, y, w, h = self.box
        return x + w / 2.0, y + h / 2.0


@dataclass(frozen=True)
class LineCrops:
    """One line of writing: its box, its symbols left to right, and its reference sizes."""

    box: Box
    symbols: tuple[SymbolCrop, ...]
    height: float  # median height of the line's tall (digit-like) symbols, px
    stroke: float = 0.0  # median stroke width of its ink, px
    angle: float = 0.0  # the page's skew angle (degrees, counter-clockwise) the line was levelled with

    def middle_at(self, x: float) -> float:
        """The line's mid-height at page column ``x``: the median centre of its tall (digit-like) symbols,
        levelled by the skew angle (a decimal point at the end of a tilted line is judged where it is)."""
        tall = [s for s in self.symbols if s.box[3] >= 0.6 * self.height] or list(self.symbols)
        if not tall:
            return self.box[1] + self.box[3] / 2.0
        t = math.tan(math.radians(self.angle))
        levelled = sorted(s.box[1] + s.box[3] / 2.0 + (s.box[0] + s.box[2] / 2.0) * t for s in tall)
        n = len(levelled)
        med = levelled[n // 2] if n % 2 else 0.5 * (levelled[n // 2 - 1] + levelled[n // 2])
        return med - x * t

    def baseline_at(self, x: float) -> float:
        """Where the bottom of a digit-like symbol is expected at page column ``x`` (follows the skew)."""
        bx, by, bw, bh = self.box
        tall = [s for s in self.symbols if s.box[3] >= 0.6 * self.height] or list(self.symbols)
        if not tall:
            return by + bh
        t = math.tan(math.radians(self.angle))
        levelled = [s.box[1] + s.box[3] + (s.box[0] + s.box[2] / 2.0) * t for s in tall]
        return median(levelled) - x * t


@dataclass
class _Comp:
    x: int
    y: int
    w: int
    h: int
    label: int
    area: int = 0
    perimeter: int = 0

    @property
    def cx(self) -> float:
        return self.x + self.w / 2.0

    @property
    def cy(self) -> float:
        return self.y + self.h / 2.0

    @property
    def stroke(self) -> float:
        return 2.0 * self.area / max(self.perimeter, 1)


# ------------------------------------------------------------------------------------------------ components


def _components(mask: np.ndarray) -> tuple[np.ndarray, list[_Comp]]:
    """8-connected components of a mask: the label image and each part's box, area and perimeter."""
    u8 = np.ascontiguousarray(mask, dtype=np.uint8)
    if u8.ndim != 2:
        raise ValueError(f"expected a 2-D mask, got shape {mask.shape}")
    n, labels = cv2.connectedComponents(u8, connectivity=8)
    if n <= 1:
        return labels, []
    contours, hierarchy = cv2.findContours(u8, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_NONE)
    comps: dict[int, _Comp] = {}
    holes: list[tuple[int, int]] = []
    for i, (contour, (_, _, _, parent)) in enumerate(zip(contours, hierarchy[0])):
        if parent >= 0:
            holes.append((int(parent), len(contour)))
            continue
        x, y, w, h = cv2.boundingRect(contour)
        px, py = contour[0, 0]
        label = int(labels[py, px])
        comps[i] = _Comp(x, y, w, h, label, perimeter=len(contour))
    for parent, length in holes:
        if parent in comps:
            comps[parent].perimeter += length
    out = list(comps.values())
    for c in out:
        c.area = int(np.count_nonzero(labels[c.y : c.y + c.h, c.x : c.x + c.w] == c.label))
    return labels, out


def _is_answer_box(c: _Comp, labels: np.ndarray, comps: list[_Comp], stroke: float, height: float) -> bool:
    """Is a part a box printed or drawn around an answer (``12 + 7 = [19]``)? Its sides would be read as a
    ``1`` and a ``7`` around the digits, or the empty box as a ``0``.

    A box is a thin frame: its top, its bottom and an upright side covered along nearly all their length within
    a few stroke widths of its bounding box, nearly all its ink there, and either something written inside it
    or, empty, taller than the writing (a ``0`` drawn square is neither: nothing is inside it, and it is no
    taller than the digits).
    """
    if c.w < 0.8 * height or c.h < 0.8 * height or c.area > 0.35 * c.w * c.h:
        return False
    d = int(max(3.0, BOX_SIDE * stroke))
    if c.w <= 3 * d or c.h <= 3 * d:
        return False
    own = labels[c.y : c.y + c.h, c.x : c.x + c.w] == c.label
    top, bottom, left, right = (float(side.mean()) for side in (
        own[:d].any(axis=0), own[-d:].any(axis=0), own[:, :d].any(axis=1), own[:, -d:].any(axis=1)))
    # (One upright side may be gone: boxes printed one under another line up their sides into what the ruled
    # lines' search takes for a margin, and erases.)
    if min(top, bottom, max(left, right)) < BOX_COVERED:
        return False
    ring = own.copy()
    ring[d:-d, d:-d] = False
    if np.count_nonzero(ring) < BOX_ON_SIDES * c.area:
        return False
    inside = any(o is not c and o.x >= c.x + d and o.y >= c.y + d and o.x + o.w <= c.x + c.w - d
                 and o.y + o.h <= c.y + c.h - d and o.h >= 0.3 * height for o in comps)
    return inside or c.h >= BOX_EMPTY_HEIGHT * height


def _crop(labels: np.ndarray, members: list[_Comp]) -> SymbolCrop:
    x0 = min(c.x for c in members)
    y0 = min(c.y for c in members)
    x1 = max(c.x + c.w for c in members)
    y1 = max(c.y + c.h for c in members)
    window = labels[y0:y1, x0:x1]
    if len(members) == 1:
        m = window == members[0].label
    else:
        m = np.isin(window, [c.label for c in members])
    return SymbolCrop((int(x0), int(y0), int(x1 - x0), int(y1 - y0)), m, len(members))


def _median_stroke(comps: list[_Comp]) -> float:
    sized = [c.stroke for c in comps if c.area >= 12]
    if not sized:
        sized = [c.stroke for c in comps]
    return median(sized) if sized else 0.0


# ------------------------------------------------------------------------------------------------ lines


#: The most skew (degrees) the lines are looked for at (a page turned further is cut at the angle the caller gives).
MAX_ANGLE = 10.0


def _estimate_angle(comps: list[_Comp], height: float) -> float:
    """Skew angle (degrees, counter-clockwise) from the bottoms of tall components: the angle at which their
    levelled bottoms cluster tightest. Each pair of neighbours (in levelled height) within a fifth of a symbol
    height counts 1 − (gap / a fifth)²: counted whole, a pair of bottoms from two lines that an angle brings
    together outweighed every line's bottoms lying tighter (a scanned page, level, read as tilted 2°, 0.97° off
    on average on 120 worksheet pages against 0.76° now; its points then sat on the line's middle)."""
    tall = [c for c in comps if c.h >= 0.5 * height]
    if len(tall) < 3:
        return 0.0
    xs = np.array([c.cx for c in tall])
    ys = np.array([c.y + c.h for c in tall], np.float64)
    best, best_score = 0.0, -1.0
    close_at = 0.2 * height
    for a in np.arange(-MAX_ANGLE, MAX_ANGLE + 0.01, 0.5):
        t = math.tan(math.radians(a))
        d = np.diff(np.sort(ys + xs * t))
        close = d[d < close_at]
        score = float(np.sum(1.0 - np.square(close / close_at)))
        if score > best_score + 1e-9 or (abs(score - best_score) < 1e-9 and abs(a) < abs(best)):
            best, best_score = float(a), score
    return best


def writing_angle(lines: Sequence[LineCrops]) -> float | None:
    """The writing's skew in degrees (counter-clockwise, as :func:`preprocess` reports it) from the lines as cut:
    the median slope between the centres of each line's tall symbols, over every pair at least half a line
    height apart; None where there are fewer than three such pairs. Slashes and long strokes, which sway the
    ink's projection on a short line, count here as one symbol each."""
    slopes = []
    for line in lines:
        tall = [s.box for s in line.symbols if s.box[3] >= 0.6 * line.height]
        xs = np.array([x + w / 2.0 for x, _, w, _ in tall])
        ys = np.array([y + h / 2.0 for _, y, _, h in tall])
        for i in range(len(tall)):
            far = np.abs(xs[i + 1 :] - xs[i]) >= 0.5 * line.height
            slopes.extend((ys[i + 1 :][far] - ys[i]) / (xs[i + 1 :][far] - xs[i]))
    if len(slopes) < 3:
        return None
    return -math.degrees(math.atan(float(np.median(slopes))))


def _cluster_lines(comps: list[_Comp], height: float, angle: float) -> list[list[_Comp]]:
    """Group tall components into lines by gaps between their levelled centres; attach the small ones."""
    t = math.tan(math.radians(angle))

    def lev(c: _Comp, y: float) -> float:
        return y + c.cx * t

    tall = [c for c in comps if c.h >= 0.5 * height] or list(comps)
    tall.sort(key=lambda c: lev(c, c.cy))
    lines: list[list[_Comp]] = []
    last = -1e18
    for c in tall:
        yc = lev(c, c.cy)
        if not lines or yc - last > 0.6 * height:
            lines.append([c])
        else:
            lines[-1].append(c)
        last = yc
    # Lines whose bands overlap for most of the shorter one are one line (a tilt the angle missed).
    merged: list[list[_Comp]] = []
    for members in lines:
        if merged:
            prev = merged[-1]
            top_a = median([lev(c, c.y) for c in prev])
            bot_a = median([lev(c, c.y + c.h) for c in prev])
            top_b = median([lev(c, c.y) for c in members])
            bot_b = median([lev(c, c.y + c.h) for c in members])
            overlap = min(bot_a, bot_b) - max(top_a, top_b)
            if overlap >= 0.5 * min(bot_a - top_a, bot_b - top_b):
                prev.extend(members)
                continue
        merged.append(list(members))
    lines = merged
    bands = []
    for members in lines:
        tops = [lev(c, c.y) for c in members]
        bottoms = [lev(c, c.y + c.h) for c in members]
        bands.append((min(tops), max(bottoms), median([lev(c, c.cy) for c in members])))
    tall_ids = {id(c) for c in tall}
    orphans = []
    for c in comps:
        if id(c) in tall_ids:
            continue
        yc = lev(c, c.cy)
        best, best_d = -1, 1e18
        for i, (top, bottom, centre) in enumerate(bands):
            margin = 0.35 * height
            if top - margin <= yc <= bottom + margin:
                d = abs(yc - centre)
                if d < best_d:
                    best, best_d = i, d
        if best >= 0:
            lines[best].append(c)
        else:
            orphans.append(c)
    # Parts far from every line: a line of their own only if something in it is symbol-sized.
    orphans.sort(key=lambda c: lev(c, c.cy))
    group: list[_Comp] = []
    groups = []
    for c in orphans:
        if group and lev(c, c.cy) - lev(group[-1], group[-1].cy) > 0.6 * height:
            groups.append(group)
            group = []
        group.append(c)
    if group:
        groups.append(group)
    for g in groups:
        # (Bars alone — a sheet's edge, a leftover rule — are no line: a line has a symbol of some height.)
        if any(c.h >= 0.4 * height and max(c.w, c.h) >= 0.5 * height for c in g):
            lines.append(g)
    return lines


# ------------------------------------------------------------------------------------------------ symbols


def _kind(c: _Comp, height: float, stroke: float) -> str:
    """'dot', 'bar' (flat) or 'tall' or 'mid', relative to the line's height."""
    if max(c.w, c.h) <= max(0.3 * height, 2.5 * stroke) and max(c.w, c.h) <= 2.5 * min(c.w, c.h):
        return "dot"
    if c.h <= 0.35 * height and c.w >= 1.8 * c.h:
        return "bar"
    # A thin stroke drawn at a slant (an '=' written fast rises to the right): flat once its own width is
    # taken off its box's height.
    if c.h <= 0.5 * height and c.w >= 1.8 * max(c.h - c.stroke, 1.0) and c.stroke <= 0.25 * height:
        return "bar"
    if c.h >= 0.5 * height:
        return "tall"
    return "mid"


def _belong_together(a: _Comp, b: _Comp, height: float, stroke: float, gap=None) -> bool:
    """Whether two components of a line are parts of one symbol, from their boxes (and, for two strokes,
    ``gap(a, b)``: the distance between their inks)."""
    ov = min(a.x + a.w, b.x + b.w) - max(a.x, b.x)
    if ov <= 0:
        return False
    ka, kb = _kind(a, height, stroke), _kind(b, height, stroke)
    narrow = min(a.w, b.w)
    vgap = max(a.y, b.y) - min(a.y + a.h, b.y + b.h)  # negative when they overlap vertically
    if ka == "dot" and kb == "dot":
        # A colon — the division sign of much of Europe (12 : 4), or a '÷' whose bar the mask lost: two dots of
        # a size, one above the other, a gap between them.
        return (ov >= 0.5 * narrow and max(a.h, b.h) <= 2.0 * min(a.h, b.h)
                and 0.5 * max(a.h, b.h) <= vgap <= 0.5 * height)
    if "dot" in (ka, kb):
        dot, other = (a, b) if ka == "dot" else (b, a)
        kother = kb if ka == "dot" else ka
        inside_x = other.x - 0.1 * other.w <= dot.cx <= other.x + 1.1 * other.w
        if kother == "bar" or (other.h < 0.5 * height and other.w >= 1.3 * other.h):
            # ÷: dots above and below a bar (perhaps already joined to one dot), within its span; a dot may
            # reach a little into a slanted bar's box.
            off_middle = abs(dot.cy - other.cy) >= 0.25 * other.h
            return inside_x and -0.5 * dot.h <= vgap <= 0.6 * height and off_middle
        if other.h < 0.5 * height:
            return False
        # A fragment inside another symbol's box is a piece of it, and so is a dot just above a stroke's top
        # (an `i`-like break); a decimal point sits beside and below, a raised dot beside.
        ix = min(dot.x + dot.w, other.x + other.w) - max(dot.x, other.x)
        iy = min(dot.y + dot.h, other.y + other.h) - max(dot.y, other.y)
        if ix > 0 and iy > 0 and ix * iy >= 0.8 * dot.w * dot.h:
            return True
        if not other.x <= dot.cx <= other.x + other.w:
            return False
        above = dot.cy < other.y and vgap <= 0.25 * height
        below = dot.y >= other.y + other.h - 1 and vgap <= 0.15 * height  # a stroke's broken-off end
        # A piece of a broken tail right under a digit's middle (a decimal point sits beside, not under).
        under = (dot.y >= other.y + 0.6 * other.h and vgap <= 0.3 * height
                 and other.x + 0.3 * other.w <= dot.cx <= other.x + 0.7 * other.w)
        return above or below or under
    if ka == "bar" and kb == "bar":
        # =: two bars one above the other.
        return ov >= 0.5 * narrow and vgap <= 0.6 * height
    if "bar" in (ka, kb):
        bar, other = (a, b) if ka == "bar" else (b, a)
        # A bar through the other's middle column (+, a crossed 7) or at its top or bottom (the top of a 5);
        # a minus beside a digit overlaps it only at the edge.
        # Crossing: the other's middle column meets the bar's middle half, at the other's middle height.
        crosses = (bar.x + 0.25 * bar.w <= other.cx <= bar.x + 0.75 * bar.w
                   and other.y + 0.2 * other.h <= bar.cy <= other.y + 0.8 * other.h)
        at_end = bar.cy <= other.y + 0.25 * other.h or bar.cy >= other.y + 0.75 * other.h
        on_top = bar.cy <= other.y + 0.15 * other.h and other.h >= 0.5 * height  # a 5's or 7's detached bar
        return (
            (ov >= 0.35 * bar.w and at_end)
            or (on_top and ov >= 0.2 * bar.w)
            or (crosses and ov >= 0.6 * narrow)
        )
    # Two strokes (tall or mid): a broken 4, 5, × or +, or a stroke broken by faint ink — whose inks come
    # close somewhere (a bracket and the digit in its hollow overlap as boxes, their inks apart).
    if ov < 0.6 * narrow:
        return False
    return gap is None or gap(a, b) <= max(2.0 * stroke, 0.15 * height)


def _ink_gap(labels: np.ndarray, a: _Comp, b: _Comp) -> float:
    """Smallest distance in pixels between the inks of two components."""
    x0, y0 = min(a.x, b.x), min(a.y, b.y)
    x1, y1 = max(a.x + a.w, b.x + b.w), max(a.y + a.h, b.y + b.h)
    window = labels[y0:y1, x0:x1]
    not_a = (window != a.label).astype(np.uint8)
    dist = cv2.distanceTransform(not_a, cv2.DIST_L2, 3)
    on_b = window == b.label
    return float(dist[on_b].min()) if on_b.any() else float("inf")


def _group_symbols(labels: np.ndarray, members: list[_Comp], height: float, stroke: float) -> list[SymbolCrop]:
    members = sorted(members, key=lambda c: c.x)
    parent = list(range(len(members)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    for i, a in enumerate(members):
        for j in range(i + 1, len(members)):
            b = members[j]
            if b.x >= a.x + a.w:
                break
            if _belong_together(a, b, height, stroke, gap=lambda p, q: _ink_gap(labels, p, q)):
                parent[find(j)] = find(i)
    _group_divides(members, height, stroke, find, parent)
    groups: dict[int, list[_Comp]] = {}
    for i in range(len(members)):
        groups.setdefault(find(i), []).append(members[i])
    crops = [_crop(labels, g) for g in groups.values()]
    crops.sort(key=lambda s: s.center[0])
    return crops


def _group_divides(members: list[_Comp], height: float, stroke: float, find, parent: list[int]) -> None:
    """A `÷` the pairwise rules miss: a short mark (a bar, or a slanted stroke as in `%`) with a lone dot
    on each side of it, one above its middle and one below, both within reach."""
    sizes: dict[int, int] = {}
    for i in range(len(members)):
        sizes[find(i)] = sizes.get(find(i), 0) + 1
    kinds = [_kind(c, height, stroke) for c in members]
    dots = [i for i, k in enumerate(kinds) if k == "dot" and sizes[find(i)] == 1]
    if len(dots) < 2:
        return
    for i, m in enumerate(members):
        if kinds[i] == "dot" or sizes[find(i)] != 1 or m.h > 0.7 * height or max(m.w, m.h) > 0.8 * height:
            continue
        reach = 0.6 * max(m.w, m.h)
        near = [j for j in dots if find(j) == j and m.x - reach <= members[j].cx <= m.x + m.w + reach
                and abs(members[j].cy - m.cy) <= 0.5 * m.h + 0.35 * height]
        above = [j for j in near if members[j].cy < m.cy - 0.15 * m.h]
        below = [j for j in near if members[j].cy > m.cy + 0.15 * m.h]
        if not above or not below:
            continue
        a = min(above, key=lambda j: abs(members[j].cx - m.cx) + abs(members[j].cy - m.cy))
        b = min(below, key=lambda j: abs(members[j].cx - m.cx) + abs(members[j].cy - m.cy))
        parent[find(a)] = find(i)
        parent[find(b)] = find(i)


def _is_round_dot(s: SymbolCrop) -> bool:
    h, w = s.mask.shape
    fill = float(np.count_nonzero(s.mask)) / max(h * w, 1)
    return max(h, w) <= 2.5 * min(h, w) and fill >= 0.35


#: A dot-sized mark (under a quarter of the line's height) is kept as a point where it covers at least DOT_AREA
#: stroke widths squared and DOT_PIXELS pixels, and spans DOT_SIZE stroke widths (and is round and placed as a
#: point: see _keep_symbol). A faint point comes out of the ink mask smaller than the pen made it: at 0.3 and 0.7
#: (what any mark must be), `631.4` and `0.78` lost theirs (saved sets: 0.15 and 0.5 +4 lines, one lost — a
#: scrap of a rule by a 9 read `29.4`; 0.1 and 0.4 the same; 0.2 and 0.6 +2/-1; DOT_PIXELS 5: -5 more).
DOT_AREA = 0.15
DOT_PIXELS = 3
DOT_SIZE = 0.5


#: A flat sliver (thinner than a tenth of its length) at least FAINT_BAR_LENGTH line heights long, whose middle lies
#: within FAINT_BAR_MIDDLE of the line band's height from the band's middle, is a faint '-' the mask thinned to a
#: pixel or two, not a remnant of a rule (which lie on the baseline) or a shadow's edge: seed 34 read '=-19' as
#: '=19'. Saved sets (expressions seeds 20-26, 31, 33-37; worksheets 31, 34-37): +1 line, none lost.
FAINT_BAR_LENGTH = 0.3
FAINT_BAR_MIDDLE = 0.2


def _faint_bar(s: SymbolCrop, height: float, band: tuple[float, float]) -> bool:
    """Whether a sliver is a faint '-' (see FAINT_BAR_LENGTH)."""
    x, y, w, h = s.box
    top, bottom = band
    return (w >= FAINT_BAR_LENGTH * height and h <= 0.1 * w
            and abs(y + h / 2.0 - (top + bottom) / 2.0) <= FAINT_BAR_MIDDLE * (bottom - top))


def _keep_symbol(s: SymbolCrop, others: list[SymbolCrop], height: float, stroke: float, band: tuple[float, float]) -> bool:
    """Drop specks and paper texture; keep a dot that is round and sized and placed like a `.` or `·`."""
    x, y, w, h = s.box
    size = max(w, h)
    area = int(np.count_nonzero(s.mask))
    dot_sized = size < 0.25 * height
    if area < (max(DOT_PIXELS, DOT_AREA * stroke * stroke) if dot_sized else max(3.0, 0.3 * stroke * stroke)):
        return False
    if min(w, h) < 0.35 * stroke and size < 0.6 * height and not _faint_bar(s, height, band):
        return False  # a sliver: the remnant of a rule or a shadow's edge
    if not dot_sized:
        return True
    # Dot-sized: round, big enough to be a pen's dot, placed as a decimal point (low) or a raised dot
    # (middle), next to another symbol.
    if size < max(0.06 * height, DOT_SIZE * stroke) or not _is_round_dot(s):
        return False
    top, bottom = band
    cy = y + h / 2.0
    if not (top + 0.25 * (bottom - top) <= cy <= bottom + 0.3 * height):
        return False
    cx = x + w / 2.0
    near = [o for o in others if o is not s and max(o.box[2], o.box[3]) >= 0.3 * height]
    return any(abs((o.box[0] + o.box[2] / 2.0) - cx) <= 1.5 * height for o in near)


def _line_height(crops: list[SymbolCrop]) -> float:
    if not crops:
        return 0.0
    hs = np.array([s.box[3] for s in crops], np.float64)
    ref = percentile(hs, 75)
    tall = hs[hs >= 0.6 * ref]
    return median(tall) if len(tall) else ref


def union_box(boxes: list[Box]) -> Box:
    """The box around ``boxes``."""
    x0 = min(b[0] for b in boxes)
    y0 = min(b[1] for b in boxes)
    x1 = max(b[0] + b[2] for b in boxes)
    y1 = max(b[1] + b[3] for b in boxes)
    return (int(x0), int(y0), int(x1 - x0), int(y1 - y0))


# ------------------------------------------------------------------------------------------------ public


#: Whether the writing's height is at least the ink-weighted median height of its parts (see :func:`_writing_height`).
INK_WEIGHTED_HEIGHT = True


def _at_border(c: _Comp, H: int, W: int) -> bool:
    return c.x == 0 or c.y == 0 or c.x + c.w >= W or c.y + c.h >= H


def _writing_height(comps: list[_Comp], stroke: float, H: int, W: int,
                    on_edge: Collection[int] = ()) -> float:
    """The writing's height, from parts shaped like symbols (not bars, not the edges of the image): the upper
    quartile of their heights, and at least the height that half their ink lies in parts as tall as (where
    texture — a desk's grain beside a photographed sheet — outnumbers the writing, the quartile is the grain's,
    and digits three grains tall would be taken for frames)."""
    sized = [c for c in comps if max(c.w, c.h) >= 2.5 * stroke and c.w <= 3.0 * c.h
             and not _at_border(c, H, W) and c.label not in on_edge]
    sized = sized or [c for c in comps if max(c.w, c.h) >= 2.5 * stroke] or comps
    quartile = percentile([c.h for c in sized], 75)
    if not INK_WEIGHTED_HEIGHT:
        return quartile
    by_height = sorted(sized, key=lambda c: c.h)
    ink = np.cumsum([c.area for c in by_height], dtype=np.float64)
    inked = by_height[int(np.searchsorted(ink, 0.5 * ink[-1]))].h
    return max(quartile, float(inked))


def segment_page(mask: np.ndarray, *, angle: float | None = None, edge: np.ndarray | None = None) -> list[LineCrops]:
    """Ink mask (bool, page pixels) → lines of symbol crops, top to bottom, each read left to right.

    ``angle`` is the writing's skew in degrees (counter-clockwise, as :func:`preprocess` reports it); by
    default it is estimated from the components. Boxes stay in page pixels: nothing is rotated. ``edge`` marks
    where the photo's own edge lies in a mask that was turned (see preprocess.levelled): parts touching it are
    at the border, as parts touching the mask's sides are.
    """
    mask = np.asarray(mask)
    if mask.dtype != bool:
        mask = mask > 0
    labels, comps = _components(mask)
    if not comps:
        return []
    H, W = mask.shape
    stroke = _median_stroke(comps)
    comps = [c for c in comps if c.area >= max(3.0, 0.25 * stroke * stroke)]
    if not comps:
        return []

    on_edge = frozenset(np.unique(labels[edge]).tolist()) - {0} if edge is not None else frozenset()

    def at_border(c: _Comp) -> bool:
        return _at_border(c, H, W) or c.label in on_edge

    height0 = _writing_height(comps, stroke, H, W, on_edge)
    if len(comps) > 1:
        # Frame-sized parts (a sheet's edge, a table's border, a shadow's edge at the border) and long
        # thin strokes across the page (an underline, a rule's remnant) are no symbol of any line.
        comps = [
            c for c in comps
            if c.h <= 3.0 * height0
            and not (at_border(c) and (c.h > 1.5 * height0 or c.w > 4.0 * height0))
            and not (c.w > 6.0 * height0 and c.h < 0.6 * height0)
            and not (at_border(c) and min(c.w, c.h) < max(2.0, 0.6 * stroke))  # a sliver of an edge
            and not _is_answer_box(c, labels, comps, stroke, height0)
        ]
    if not comps:
        return []
    if angle is None:
        angle = _estimate_angle(comps, height0)
    t = math.tan(math.radians(angle))
    result: list[LineCrops] = []
    for members in _cluster_lines(comps, height0, angle):
        # Orphan parts that touch the image border are the edges of pages and shadows, not writing.
        if all(at_border(c) for c in members) and all(
            c.h < 0.5 * height0 for c in members
        ):
            continue
        tall_h = [c.h for c in members if c.h >= 0.5 * height0] or [max(c.h for c in members)]
        line_h = median(tall_h)
        line_stroke = _median_stroke(members) or stroke
        crops = _group_symbols(labels, members, line_h, line_stroke)
        line_h = _line_height(crops) or line_h
        # The line's band (in levelled coordinates) for placing dots.
        tall = [s for s in crops if s.box[3] >= 0.6 * line_h] or crops
        tops = [s.box[1] + s.center[0] * t for s in tall]
        bottoms = [s.box[1] + s.box[3] + s.center[0] * t for s in tall]
        band = (median(tops), median(bottoms))
        kept = []
        for s in crops:
            lx = s.center[0] * t
            shifted = (band[0] - lx, band[1] - lx)
            if _keep_symbol(s, crops, line_h, line_stroke, shifted):
                kept.append(s)
        # Long flat strokes far wider than any symbol (an underline, a leftover rule) are not symbols.
        kept = [s for s in kept if not (s.box[2] > 5.0 * line_h and s.box[3] < 0.3 * line_h)]
        if not kept:
            continue
        for part in _split_row(kept, line_h):
            result.append(
                LineCrops(union_box([s.box for s in part]), tuple(part), _line_height(part) or line_h,
                          line_stroke, float(angle))
            )
    result = _drop_corner_marks(result, H, W)
    result.sort(key=lambda ln: (ln.box[1] + ln.box[3] / 2.0 + (ln.box[0] + ln.box[2] / 2.0) * t, ln.box[0]))
    return _order_rows(result, t)


#: A line of at most CORNER_SYMBOLS symbols within CORNER_MARGIN of the image's size from its edge is the
#: edge of a sheet, a shadow or the table beyond in a photo, not writing — where the page has real lines.
CORNER_SYMBOLS = 2
CORNER_MARGIN = 0.03


def _drop_corner_marks(lines: list[LineCrops], H: int, W: int) -> list[LineCrops]:
    def at_edge(ln: LineCrops) -> bool:
        x, y, w, h = ln.box
        mx, my = CORNER_MARGIN * W, CORNER_MARGIN * H
        return x <= mx or y <= my or x + w >= W - mx or y + h >= H - my

    keep = [ln for ln in lines if not (len(ln.symbols) <= CORNER_SYMBOLS and at_edge(ln))]
    return keep if any(len(ln.symbols) > CORNER_SYMBOLS for ln in keep) else lines


def _operator_sized(s: SymbolCrop, height: float) -> bool:
    """A mark the size of a written operator: well under a digit's height, yet no speck."""
    w, h = s.box[2], s.box[3]
    return h <= SPACED_OPERATOR_HEIGHT * height and max(w, h) >= SPACED_OPERATOR_MIN * height


def _split_row(symbols: list[SymbolCrop], height: float) -> list[list[SymbolCrop]]:
    """Break a row where the gap between neighbours is wider than LINE_BREAK_GAP line heights — except within a
    sum written with wide spaces (``12   +   7   =   19``): a piece of nothing but operator-sized marks with
    pieces on both sides, or a gap with an operator-sized mark at one side and two symbols or more on each, joins
    them where the gaps are under SPACED_GAP. A stray mark at a row's end stays apart (and is no line)."""
    parts: list[list[SymbolCrop]] = [[symbols[0]]]
    gaps: list[float] = []
    right = symbols[0].box[0] + symbols[0].box[2]
    for s in symbols[1:]:
        if s.box[0] - right > LINE_BREAK_GAP * height:
            gaps.append(s.box[0] - right)
            parts.append([])
        parts[-1].append(s)
        right = max(right, s.box[0] + s.box[2])

    def operators_only(part: list[SymbolCrop]) -> bool:
        return all(_operator_sized(s, height) for s in part)

    def joins(k: int) -> bool:  # the gap between parts k and k + 1
        if gaps[k] > SPACED_GAP * height:
            return False
        left, right_ = parts[k], parts[k + 1]
        lone = ((operators_only(left) and k >= 1 and gaps[k - 1] <= SPACED_GAP * height)
                or (operators_only(right_) and k + 2 < len(parts) and gaps[k + 1] <= SPACED_GAP * height))
        edge = (_operator_sized(left[-1], height) or _operator_sized(right_[0], height)) and min(len(left), len(right_)) >= 2
        return lone or edge

    links = [joins(k) for k in range(len(gaps))]
    joined: list[list[SymbolCrop]] = [parts[0]]
    for part, link in zip(parts[1:], links):
        if link:
            joined[-1] = joined[-1] + part
        else:
            joined.append(part)
    return joined


def _order_rows(lines: list[LineCrops], t: float) -> list[LineCrops]:
    """Reading order: rows top to bottom (levelled), lines within a row left to right."""
    if len(lines) <= 1:
        return lines

    def centre(ln: LineCrops) -> float:
        return ln.box[1] + ln.box[3] / 2.0 + (ln.box[0] + ln.box[2] / 2.0) * t

    ordered = sorted(lines, key=centre)
    rows: list[list[LineCrops]] = [[ordered[0]]]
    for ln in ordered[1:]:
        ref = rows[-1][0]
        if abs(centre(ln) - centre(ref)) <= 0.5 * max(ref.height, ln.height):
            rows[-1].append(ln)
        else:
            rows.append([ln])
    return [ln for row in rows for ln in sorted(row, key=lambda ln: ln.box[0])]


# ------------------------------------------------------------------------------------------------ touching


def _seams(mask: np.ndarray, starts: list[int], reach: int) -> dict[int, np.ndarray]:
    """For each start column, a top-to-bottom cut through ``mask`` near it that crosses the least ink
    (dynamic programming, one column of drift per row at most), as x per row. All starts in one pass."""
    h, w = mask.shape
    k = len(starts)
    width = 2 * reach + 1
    offsets = np.arange(-reach, reach + 1)
    cols = np.asarray(starts)[:, None] + offsets[None, :]  # k × width
    valid = (cols >= 0) & (cols < w)
    ink = np.zeros((h, k, width), np.float32)
    ink[:, valid] = mask[:, cols[valid]].astype(np.float32) * 10.0
    cost = ink + (np.abs(offsets) / max(reach, 1))[None, None, :]  # prefer staying near the start
    cost[:, ~valid] = np.inf
    acc = cost[0].copy()
    back = np.zeros((h, k, width), np.int8)
    # Per row: the cheapest of the three cells above (ties to the left, then straight up, as argmin would).
    left = np.full((k, width), np.inf, acc.dtype)
    right = np.full((k, width), np.inf, acc.dtype)
    for r in range(1, h):
        left[:, 1:] = acc[:, :-1]
        right[:, :-1] = acc[:, 1:]
        up_or_right = np.minimum(acc, right)
        from_left = left <= up_or_right
        back[r] = np.where(from_left, -1, np.where(acc <= right, 0, 1))
        acc = np.minimum(left, up_or_right) + cost[r]
    j = np.argmin(acc, axis=1)
    paths = np.zeros((k, h), np.int64)
    rows_k = np.arange(k)
    for r in range(h - 1, -1, -1):
        paths[:, r] = j
        if r > 0:
            j = j + back[r, rows_k, j]
    return {s: cols[i, paths[i]] for i, s in enumerate(starts)}


def _cut(symbol: SymbolCrop, seams: list[np.ndarray]) -> tuple[SymbolCrop, ...] | None:
    """Pieces of a symbol between consecutive seams, each trimmed to its own ink; None if a piece is empty."""
    h, w = symbol.mask.shape
    x0, y0 = symbol.box[0], symbol.box[1]
    cols = np.arange(w)[None, :]
    bounds = [np.full(h, -1)] + list(seams) + [np.full(h, w)]
    pieces = []
    for left, right in zip(bounds[:-1], bounds[1:]):
        region = (cols > left[:, None]) & (cols <= right[:, None])
        m = symbol.mask & region
        ys, xs = np.nonzero(m)
        if len(ys) == 0:
            return None
        a, b, c, d = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
        piece = m[a:b, c:d]
        n = cv2.connectedComponents(piece.astype(np.uint8), connectivity=8)[0] - 1
        pieces.append(SymbolCrop((int(x0 + c), int(y0 + a), int(d - c), int(b - a)), piece, int(n)))
    return tuple(pieces)


def _bar_with_marks(mask: np.ndarray, height: float) -> bool:
    """Whether a grouped symbol is a flat bar with small marks (÷, =): its widest part is flat and the
    others are no taller than it is wide."""
    n, _, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    if n <= 2:
        return False
    parts = sorted(stats[1:], key=lambda r: -int(r[cv2.CC_STAT_WIDTH]))
    widest = parts[0]
    if widest[cv2.CC_STAT_HEIGHT] > 0.35 * height:
        return False
    return all(p[cv2.CC_STAT_HEIGHT] <= 0.35 * height for p in parts[1:])


def underlines(mask: np.ndarray, lines: list[LineCrops]) -> np.ndarray:
    """The pixels of answer blanks ruled under the lines: a worksheet's printed ``12 + 7 = ____`` with the
    answer written on the blank. Touching the answer's digits, the blank joins them into one blob that the
    splitter cuts into digits with ``-`` between (``1-9``); on its own it reads as a trailing ``-``.

    A blank is a straight bar (a printed or ruled one: found by an opening with a horizontal kernel, a pixel
    of drift allowed either way) well longer than a line is high, thin, and low in its line.
    """
    out = np.zeros(mask.shape, bool)
    H = mask.shape[0]
    for line in lines:
        h, stroke = float(line.height), max(float(line.stroke), 1.0)
        if h <= 0:
            continue
        x, y, w, hh = line.box
        length = int(round(UNDERLINE_LENGTH * h))
        # The line's rows across the whole page: a blank may run on past the line's box (or have been left out
        # of it: a long bar is no symbol).
        y0, y1 = max(0, y), min(H, y + hh + int(round(UNDERLINE_LOW * h)))
        labels, found = _straight_bars(mask[y0:y1], length, stroke)
        for i in found:
            bx, by, bw, bh = found[i]
            if bx > x + w + h or bx + bw < x - h:
                continue  # not under this line
            if y0 + by + bh / 2.0 < line.middle_at(bx + bw / 2.0) + UNDERLINE_LOW * h:
                continue
            out[y0:y1] |= labels == i
    return out


#: A straight thin bar at least this many (median) line heights long, inside a line at least TALL_LINE median line
#: heights high, is no symbol: a column sum's bar that, touching the digits over and under it, joined their rows
#: into one line (see pipeline/columns.py).
LONG_BAR = 2.5
TALL_LINE = 1.6


def long_bars(mask: np.ndarray, lines: list[LineCrops]) -> np.ndarray:
    """The pixels of straight thin bars far longer than any symbol (LONG_BAR of the page's median line height)
    inside lines too tall for one row (TALL_LINE): found as :func:`underlines` finds blanks."""
    out = np.zeros(mask.shape, bool)
    heights = [float(line.height) for line in lines if line.height > 0]
    if not heights:
        return out
    h = float(np.median(heights))
    stroke = max(float(np.median([float(line.stroke) for line in lines])), 1.0)
    length = int(round(LONG_BAR * h))
    for line in lines:
        x, y, w, hh = (int(v) for v in line.box)
        if hh < TALL_LINE * h or w < length or length < 3:
            continue
        labels, found = _straight_bars(mask[y : y + hh, x : x + w], length, stroke)
        for i in found:
            out[y : y + hh, x : x + w] |= labels == i
    return out


def _straight_bars(region: np.ndarray, length: int, stroke: float) -> tuple[np.ndarray, dict[int, Box]]:
    """Straight thin bars in a boolean region: runs of ink at least ``length`` long found by an opening with a
    horizontal kernel (a pixel of drift allowed either way), at most UNDERLINE_THICK strokes (or 3 px) thick.
    Returns the runs' label image and, per bar's label, its box in the region."""
    ink = np.ascontiguousarray(region).view(np.uint8)
    thick = cv2.dilate(ink, np.ones((3, 1), np.uint8))
    runs = cv2.morphologyEx(thick, cv2.MORPH_OPEN, np.ones((1, length), np.uint8)) & ink
    n, labels, stats, _ = cv2.connectedComponentsWithStats(runs, connectivity=8)
    found = {i: tuple(int(v) for v in stats[i, :4]) for i in range(1, n)
             if stats[i, 2] >= length and stats[i, 3] <= max(3.0, UNDERLINE_THICK * stroke)}
    return labels, found


def usual_width(line: LineCrops) -> float:
    """A line's usual symbol width: the median width of its tall (digit-like) symbols, kept between 0.45 and
    0.9 line heights (a line of 1s must not make every 0 look like two symbols, nor a line of touching pairs
    make a pair look like one)."""
    height = line.height or 1.0
    widths = sorted(s.box[2] for s in line.symbols if s.box[3] >= 0.6 * height)
    if not widths:
        return 0.7 * height
    n = len(widths)
    med = widths[n // 2] if n % 2 else 0.5 * (widths[n // 2 - 1] + widths[n // 2])
    return float(min(max(med, 0.45 * height), 0.9 * height))


def _straight(centres: list[float], stroke: float) -> bool:
    """Whether a bar's centres (one per column) lie on a line that rises at most BAR_TAIL_SLOPE, within
    BAR_TAIL_WAVER stroke widths."""
    if len(centres) < 3:
        return False
    k = np.arange(len(centres), dtype=np.float64)
    slope, level = np.polyfit(k, np.asarray(centres), 1)
    waver = float(np.abs(np.asarray(centres) - (slope * k + level)).max())
    return abs(slope) <= BAR_TAIL_SLOPE and waver <= BAR_TAIL_WAVER * stroke


def _runs(column: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First and last rows of each run of ink in a mask column (empty arrays where there is none)."""
    ys = np.flatnonzero(column)
    if len(ys) == 0:
        return ys, ys
    breaks = np.flatnonzero(np.diff(ys) > 1)
    return np.r_[ys[0], ys[breaks + 1]], np.r_[ys[breaks], ys[-1]]


def _bar_tail(mask: np.ndarray, box: Box, line: LineCrops, from_right: bool,
              length: float | None = None) -> tuple[int, int, float]:
    """(columns, bars, row): how many columns at one end of a blob hold one straight bar about the line's
    middle (a '-', bars 1) or two, one above it and one below (a '=', bars 2), at least ``length`` line heights
    long (default BAR_TAIL_LENGTH, read at call time), and the (first) bar's row where it ends; (0, 0, 0.0)
    where they do not."""
    length = BAR_TAIL_LENGTH if length is None else length
    x, y, w, h = box
    height = line.height or float(h)
    stroke = line.stroke or 3.0
    need = max(3, int(math.ceil(length * height)))
    if need > w:
        return 0, 0, 0.0
    # Most blobs fail at once: the columns a tail needs must each hold one or two runs and little ink.
    end = mask[:, w - need :] if from_right else mask[:, :need]
    run_counts = end[0] + np.count_nonzero(end[1:] & ~end[:-1], axis=0)
    if np.any((run_counts < 1) | (run_counts > 2) | (end.sum(axis=0) > 2 * (BAR_TAIL_THICK * stroke + 1))):
        return 0, 0, 0.0
    mid = line.middle_at(x + (w if from_right else 0)) - y  # the line's middle in the mask's rows
    columns = range(w - 1, -1, -1) if from_right else range(w)
    runs_at: list[list[float]] = []  # per column, the centres of its one or two thin runs
    for c in columns:
        starts, ends = _runs(mask[:, c])
        if not 1 <= len(starts) <= 2:
            break
        runs = list(zip(starts, ends))
        if any(b - a + 1 > BAR_TAIL_THICK * stroke + 1 or abs((a + b) / 2.0 - mid) > BAR_TAIL_PAIR * height
               for a, b in runs):
            break
        runs_at.append([(a + b) / 2.0 for a, b in runs])
    pairs = sum(len(r) == 2 for r in runs_at)
    if pairs and 2 * pairs >= len(runs_at):  # a '=': each bar straight, the two about the middle
        upper = [min(r) for r in runs_at if len(r) == 2]
        lower = [max(r) for r in runs_at if len(r) == 2]
        split = (np.mean(upper) + np.mean(lower)) / 2.0
        upper = [c for r in runs_at for c in r if c < split]
        lower = [c for r in runs_at for c in r if c >= split]
        bars = 2
        ok = _straight(upper, stroke) and _straight(lower, stroke) and abs(split - mid) <= BAR_TAIL_MIDDLE * height
    else:  # a '-': up to the first column with two runs
        runs_at = runs_at[: next((i for i, r in enumerate(runs_at) if len(r) == 2), len(runs_at))]
        centres = [r[0] for r in runs_at]
        bars = 1
        ok = _straight(centres, stroke) and abs(float(np.mean(centres)) - mid) <= BAR_TAIL_MIDDLE * height
    n = len(runs_at)
    if not ok or n < need:
        return 0, 0, 0.0
    return n, bars, float(np.mean([r[0] for r in runs_at[-3:]]))


def _run_at(column: np.ndarray, row: float, stroke: float) -> tuple[int, int] | None:
    """The run of ink in a mask column that holds ``row`` or passes within a stroke width of it."""
    starts, ends = _runs(column)
    if len(starts) == 0:
        return None
    gaps = np.maximum(0.0, np.maximum(starts - row, row - ends))
    i = int(np.argmin(gaps))
    return (int(starts[i]), int(ends[i])) if gaps[i] <= stroke else None


def _crossed(mask: np.ndarray, n: int, row: float, from_right: bool, stroke: float, height: float) -> bool:
    """Whether the bar that ends ``n`` columns in from one end of a blob runs on, within three stroke widths,
    through a stroke that reaches BAR_TAIL_CROSS line heights above and below it, and out the other side for
    BAR_TAIL_ARM of its length or more: a '+' or a crossed '7' touching a neighbour, not a '-' that ends at (or
    a little inside) the next digit's side."""
    w = mask.shape[1]
    thick = BAR_TAIL_THICK * stroke + 1
    start, step = (w - 1 - n, -1) if from_right else (n, 1)
    c, crossing, arm = start, False, 0
    for _ in range(w):
        run = _run_at(mask[:, c], row, stroke) if 0 <= c < w else None
        if run is None:
            break
        lo, hi = run
        if row - lo >= BAR_TAIL_CROSS * height and hi - row >= BAR_TAIL_CROSS * height:
            if arm:
                break  # the arm reached another stroke
            crossing = True
        elif not crossing and abs(c - start) > 3 * stroke:
            break  # no crossing stroke near the bar's end
        elif crossing:
            if hi - lo + 1 > thick:
                break
            arm += 1
        c += step
    return crossing and arm >= BAR_TAIL_ARM * n


def bar_tail_cuts(symbol: SymbolCrop, line: LineCrops) -> list[int]:
    """Columns where straight bars at one end of a digit-tall blob meet the rest: a '-' or a '=' drawn
    touching the digit beside it (``-9``, ``7-2``, ``=1``, ``9=``)."""
    return [c for c, _ in _bar_tail_cuts(symbol, line)]


def _bar_tail_cuts(symbol: SymbolCrop, line: LineCrops) -> list[tuple[int, bool]]:
    """:func:`bar_tail_cuts` with, for each column, whether the bars lie right of it."""
    x, y, w, h = symbol.box
    height = line.height or float(h)
    if h < BAR_TAIL_BLOB * height:
        return []
    (left, _, left_row), (right, right_bars, right_row) = (_bar_tail(symbol.mask, symbol.box, line, from_right=side)
                                                           for side in (False, True))
    # Bars at both ends of comparable length: a '+', a crossed '7', an '=' (a '-4' has the 4's short bar end).
    if left and _bar_tail(symbol.mask, symbol.box, line, True, length=0.0)[0] >= BAR_TAIL_OTHER * left:
        return []
    if right and _bar_tail(symbol.mask, symbol.box, line, False, length=0.0)[0] >= BAR_TAIL_OTHER * right:
        return []
    stroke = line.stroke or 3.0
    rest = max(int(0.12 * height), int(MIN_PIECE_STROKES * stroke), 2)  # a '1' is that narrow
    if left and w - left >= rest and not _crossed(symbol.mask, left, left_row, False, stroke, height):
        return [(left, False)]
    # No line ends in '-' (a 4's long bar at a line's end); many end in '='.
    if right and w - right >= rest and (right_bars == 2 or symbol is not line.symbols[-1]) \
            and not _crossed(symbol.mask, right, right_row, True, stroke, height):
        return [(w - right, True)]
    return []


#: Whether a blob with a bar at one end (see bar_tail_cuts) is also tried in three: the bar and two symbols.
TAIL_AND_TWO = True


def split_candidates(symbol: SymbolCrop, line: LineCrops, max_parts: int = 3,
                     split_usual: float = SPLIT_USUAL, split_height: float = SPLIT_HEIGHT
                     ) -> list[tuple[SymbolCrop, ...]]:
    """Alternative segmentations of a blob that may be 2–3 touching symbols; empty when it looks like one.

    A blob is a candidate when it is tall enough to hold digits and wider than one symbol of its line. Cuts
    follow seams through the least ink, started at the deepest minima of the blob's column profile; the
    candidates are ordered from the most to the least plausible, 2-way splits first.
    """
    x, y, w, h = symbol.box
    height = line.height or float(h)
    usual = usual_width(line)
    # Wide for its line (two digits side by side are ~1.4–2× the usual width, narrower than the line is
    # high when the digits are narrow), or wide for its own height.
    wide = (w >= split_usual * usual and w >= split_height * height) or (w >= 0.95 * height and w >= 1.1 * h)
    tail_sides = dict(_bar_tail_cuts(symbol, line))
    tails = list(tail_sides)
    if h < 0.45 * height or not (wide or tails):
        return []
    mask = symbol.mask
    stroke = line.stroke or 3.0
    if symbol.parts >= 2 and _bar_with_marks(mask, height):
        return []  # a ÷ or = whose marks make it look wide
    profile = mask.sum(axis=0).astype(np.float32)
    smooth = np.convolve(profile, np.ones(3, np.float32) / 3.0, mode="same")
    min_piece = max(int(0.12 * height), int(MIN_PIECE_STROKES * stroke), 2)
    reach = max(2, int(SEAM_REACH * height))

    def cut_points(lo: int, hi: int, k: int) -> list[int]:
        """Up to k cut columns in [lo, hi), at least min_piece apart: the ends of the stretches where the
        profile stays near its minimum (where a touching bar meets the next symbol) and the deepest minima."""
        if hi - lo < 1:
            return []
        seg = smooth[lo:hi]
        near_min = seg <= float(seg.min()) + max(1.0, 0.6 * stroke)
        points: list[tuple[float, int]] = []
        run_start = None
        for i, flag in enumerate(np.append(near_min, False)):
            if flag and run_start is None:
                run_start = i
            elif not flag and run_start is not None:
                ends = {run_start, i - 1} if i - 1 - run_start >= min_piece else {(run_start + i - 1) // 2}
                for e in ends:
                    points.append((float(seg[e]), lo + e))
                run_start = None
        idx = np.arange(lo, hi)
        order = np.argsort(seg + 1e-3 * np.abs(idx - (lo + hi) / 2.0), kind="stable")
        points += [(float(seg[i]) + 0.5, lo + int(i)) for i in order[: 4 * k]]
        points.sort()
        picked: list[int] = []
        for _, c in points:
            if all(abs(c - p) >= min_piece for p in picked):
                picked.append(c)
            if len(picked) == k:
                break
        return picked

    plans: list[tuple[int, ...]] = [(c,) for c in tails]
    if wide:
        plans += [(c,) for c in cut_points(min_piece, w - min_piece, 3)]
        # Round symbols that touch (0 and 6) meet where the profile is high: also cut near the middle.
        plans.append((w // 2,))
    if wide and max_parts >= 3 and (w >= 1.5 * height or w >= 2.3 * usual):
        thirds = [cut_points(max(min_piece, int(w * (k / 3.0 - 0.12))), min(w - min_piece, int(w * (k / 3.0 + 0.12))), 2)
                  for k in (1, 2)]
        plans += [(a, b) for a in thirds[0] for b in thirds[1] if b - a >= min_piece]
        plans.append((w // 3, (2 * w) // 3))
    if TAIL_AND_TWO and max_parts >= 3:
        # The rest beside a bar may itself hold two symbols (``-16`` where the 1 touches the 6): one cut more.
        for c in tails:
            one = max(2, int(stroke) + 1)  # the symbol next to the bar may be a 1, a stroke wide
            lo, hi = (c + one, w - min_piece) if c < w / 2 else (min_piece, c - one)
            others = {p[0] for p in plans if len(p) == 1 and lo <= p[0] < hi} | set(cut_points(lo, hi, 2))
            plans += [tuple(sorted((c, d))) for d in sorted(others)]
    plans = list(dict.fromkeys(tuple(sorted(p)) for p in plans))
    starts = sorted({c for p in plans for c in p} - set(tails))
    seams = _seams(mask, starts, reach) if starts else {}
    for c in tails:  # straight down where the bars end: drifting, a seam would go round the digit
        seams[c] = np.full(h, c - 1)
    cut_sets = [([seams[c] for c in plan], False, plan) for plan in plans]
    single = [p[0] for p in plans if len(p) == 1 and p[0] not in tails]  # wider seams: for 2-way cuts only
    if SEAM_REACH_WIDE > 0 and single:
        far = _seams(mask, single, max(reach + 1, int(SEAM_REACH_WIDE * height)))
        cut_sets += [([far[c]], True, ()) for c in single if not np.array_equal(far[c], seams[c])]
    candidates: list[tuple[SymbolCrop, ...]] = []
    for cuts, wide_seam, plan in cut_sets:
        if any(np.any(cuts[i + 1] <= cuts[i]) for i in range(len(cuts) - 1)):
            continue
        pieces = _cut(symbol, cuts)
        for c in plan:
            if pieces and c in tail_sides:  # the bars are the piece at their end
                end = -1 if tail_sides[c] else 0
                pieces = list(pieces)
                pieces[end] = dataclasses.replace(pieces[end], bar=True)
                pieces = tuple(pieces)
        if pieces and wide_seam and (any(p.box[3] < SEAM_WIDE_PIECE * height for p in pieces)
                                     or any([p.box for p in pieces] == [q.box for q in c] for c in candidates)):
            continue
        # Every piece must be symbol-sized: tall enough, or a bar (a touching minus) wide enough.
        if pieces and all(p.box[2] >= min_piece // 2 + 1 and (p.box[3] >= 0.2 * height or p.box[2] >= 0.25 * height)
                          for p in pieces):
            candidates.append(pieces)
    return candidates


def stroke_candidates(symbol: SymbolCrop, line: LineCrops, max_parts: int = 3) -> list[tuple[SymbolCrop, ...]]:
    """A blob shared out stroke by stroke between 2–``max_parts`` symbols written over each other
    (:func:`strokes.stroke_splits`), every piece at least STROKE_PIECE_HEIGHT line heights tall."""
    from hdr_expr.pipeline.strokes import stroke_splits

    height = line.height or float(symbol.box[3])
    return [tuple(_trimmed(symbol, m) for m in masks)
            for masks in stroke_splits(symbol.mask, line.stroke or 3.0, STROKE_PIECE_HEIGHT * height, max_parts)]


def _trimmed(symbol: SymbolCrop, mask: np.ndarray) -> SymbolCrop:
    """A piece of ``symbol`` given as a mask over its box, trimmed to its own ink."""
    ys, xs = np.nonzero(mask)
    a, b, c, d = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    piece = mask[a:b, c:d]
    n = cv2.connectedComponents(piece.astype(np.uint8), connectivity=8)[0] - 1
    return SymbolCrop((int(symbol.box[0] + c), int(symbol.box[1] + a), int(d - c), int(b - a)), piece, int(n))


# ------------------------------------------------------------------------------------------------ readings

#: A run of neighbouring crops is offered as one symbol (a digit drawn in strokes that the grouping rules left
#: apart, a ÷ written as a wide '%') when it is at most this many usual symbol widths wide and line heights high,
#: with gaps under MERGE_GAP line heights. (1.6 → 1.8: a '%'-shaped ÷ of ws seed 2 read '70'; 2.0 lost 2 of 500.)
MERGE_WIDTH = 1.8
MERGE_HEIGHT = 1.6
MERGE_GAP = 0.25
#: A mark at most POINT_SIZE line heights across whose centre lies POINT_LOW line heights or more below the line's
#: middle is a point, never merged into a neighbour beside it (see _detached_point).
POINT_SIZE = 0.25
POINT_LOW = 0.25


@dataclass(frozen=True)
class Reading:
    """One way to read the crops ``start … end-1`` of a line: as ``parts`` (one merged symbol, the crop
    itself, or the pieces of a split)."""

    start: int
    end: int
    parts: tuple[SymbolCrop, ...]
    shared: bool = False  # the parts share ink: symbols written over each other, shared out stroke by stroke


def merge_crops(crops: list[SymbolCrop]) -> SymbolCrop:
    """Several crops as one symbol: the union of their inks in the union of their boxes."""
    box = union_box([c.box for c in crops])
    x0, y0, w, h = box
    mask = np.zeros((h, w), bool)
    for c in crops:
        cx, cy, cw, ch = c.box
        mask[cy - y0 : cy - y0 + ch, cx - x0 : cx - x0 + cw] |= c.mask
    return SymbolCrop(box, mask, sum(c.parts for c in crops))


def line_readings(line: LineCrops, max_merge: int = 3, split_usual: float = SPLIT_USUAL,
                  split_height: float = SPLIT_HEIGHT, whole: Collection[int] = ()) -> list[Reading]:
    """Every reading of a line's crops that the recognizer weighs: each crop whole, each of its splits
    (:func:`split_candidates`), runs of 2…``max_merge`` neighbours merged where they are close and small
    enough together to be one symbol, and (``max_merge`` ≥ 2) a split whose first or last piece is merged with
    the neighbour on that side. A path through them from crop 0 to the last is a segmentation. ``split_usual``:
    how many usual symbol widths a crop must span to be offered for splitting, ``split_height`` how many line
    heights. The crops numbered in ``whole`` are not offered for splitting (the verifier is sure of them)."""
    syms = list(line.symbols)
    height = line.height or 1.0
    usual = max(usual_width(line), 0.6 * height)
    out: list[Reading] = []

    def mergeable(crops: list[SymbolCrop]) -> bool:
        box = union_box([c.box for c in crops])
        if box[2] > MERGE_WIDTH * usual or box[3] > MERGE_HEIGHT * height:
            return False
        return not any(_detached_point(c, crops, line) for c in crops)

    for i, s in enumerate(syms):
        out.append(Reading(i, i + 1, (s,)))
        if i in whole:
            continue
        for split in split_candidates(s, line, split_usual=split_usual, split_height=split_height):
            out.append(Reading(i, i + 1, tuple(split)))
            if max_merge < 2:
                continue
            # A neighbour that belongs with the piece next to it: the free bar of a '=' whose other bar
            # touches the digit beside it.
            if i > 0 and split[0].box[0] - (syms[i - 1].box[0] + syms[i - 1].box[2]) <= MERGE_GAP * height \
                    and mergeable([syms[i - 1], split[0]]):
                out.append(Reading(i - 1, i + 1, (merge_crops([syms[i - 1], split[0]]), *split[1:])))
            if i + 1 < len(syms) and syms[i + 1].box[0] - (split[-1].box[0] + split[-1].box[2]) <= MERGE_GAP * height \
                    and mergeable([split[-1], syms[i + 1]]):
                out.append(Reading(i, i + 2, (*split[:-1], merge_crops([split[-1], syms[i + 1]]))))
    if max_merge >= 2:
        out += _bar_readings(syms, line)
    for i in range(len(syms)):
        right = syms[i].box[0] + syms[i].box[2]
        for j in range(i + 1, min(len(syms), i + max_merge)):
            if syms[j].box[0] - right > MERGE_GAP * height:
                break
            right = max(right, syms[j].box[0] + syms[j].box[2])
            if not mergeable(syms[i : j + 1]):
                break
            out.append(Reading(i, j + 1, (merge_crops(syms[i : j + 1]),)))
    return out


def _detached_point(crop: SymbolCrop, crops: list[SymbolCrop], line: LineCrops) -> bool:
    """A decimal point among ``crops``: a small round mark low in the line, beside the others and not under or
    over any of them. It is a symbol of its own, never a part of a neighbour (the verifier, seeing a 28×28 crop,
    takes a '2' with a point beside its foot for one whole '2')."""
    height = line.height or 1.0
    x, y, w, h = crop.box
    if len(crops) < 2 or max(w, h) > POINT_SIZE * height or not 0.4 <= w / max(h, 1) <= 2.5:
        return False
    if y + h / 2.0 < line.middle_at(x + w / 2.0) + POINT_LOW * height:
        return False
    return not any(c is not crop and c.box[0] < x + w and x < c.box[0] + c.box[2] for c in crops)


def _is_bar(crop: SymbolCrop, height: float) -> bool:
    """A free flat stroke: a '-' or one bar of a '=' whose other bar touches something."""
    w, h = crop.box[2], crop.box[3]
    return crop.parts == 1 and h <= 0.35 * height and w >= 1.5 * h and w >= 0.2 * height


def _bar_readings(syms: list[SymbolCrop], line: LineCrops) -> list[Reading]:
    """Readings for a '=' one of whose bars touches the symbol beside it: a free bar whose span overlaps a
    neighbouring crop's is merged with that crop's part above or below it, cut off by a seam at the bar's end.
    (The crop need not look wide: a bar joined to a digit's side adds little width.)"""
    height = line.height or 1.0
    reach = max(2, int(SEAM_REACH * height))
    out: list[Reading] = []
    for j, bar in enumerate(syms):
        if not _is_bar(bar, height):
            continue
        bx0, bx1 = bar.box[0], bar.box[0] + bar.box[2]
        for i in (j - 1, j + 1):
            if not 0 <= i < len(syms):
                continue
            s = syms[i]
            x0, w = s.box[0], s.box[2]
            min_piece = max(int(0.12 * height), 2)
            overlap = min(bx1, x0 + w) - max(bx0, x0)
            if s.box[3] < 0.45 * height or overlap < 0.3 * bar.box[2]:
                continue
            # The bar lies at the crop's left end (cut at the bar's right end) or at its right end.
            if bx0 <= x0 + 0.25 * w:
                cut, bar_first = bx1 - x0, True
            elif bx1 >= x0 + 0.75 * w:
                cut, bar_first = bx0 - x0, False
            else:
                continue
            if not min_piece <= cut <= w - min_piece:
                continue
            pieces = _cut(s, [_seams(s.mask, [cut], reach)[cut]])
            if pieces is None:
                continue
            bar_piece, rest = (pieces[0], pieces[1]) if bar_first else (pieces[1], pieces[0])
            if bar_piece.box[3] > 0.5 * height or rest.box[3] < 0.45 * height:
                continue
            parts = sorted([merge_crops([bar, bar_piece]), rest], key=lambda c: c.box[0])
            out.append(Reading(min(i, j), max(i, j) + 1, tuple(parts)))
    return out
