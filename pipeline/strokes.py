"""Pull apart symbols written over each other, stroke by stroke.

Two digits that merely touch are cut by a seam through the least ink (:mod:`segment`). Two written *over* each
other — the 1 of a ``19`` drawn through the 9's loop, a 5's bar laid across the 9 before it — share ink that no
cut from top to bottom can part. Here the blob is thinned to its skeleton; the skeleton is broken at its
junctions into branches; at each junction the branches that run straight on through it are joined again (good
continuation: a stroke crossing another keeps its direction), which gives the pen's strokes; and the strokes
are shared out between two or three symbols. Each symbol's ink is the ink within a stroke's half-width of its
strokes' skeleton, so ink at a crossing goes to both. The classifier and the verifier then judge the pieces as
they judge any split.

Plain functions over boolean numpy arrays; thinning is Zhang–Suen through a lookup table (no scikit-image on
the recognize path: importing it costs a third of a second).
"""

from __future__ import annotations

import itertools
import math

import cv2
import numpy as np

#: Two branches meeting at a junction are one stroke running through it when their directions away from it are
#: at least this many degrees apart (180: straight on).
THROUGH_ANGLE = 125.0
#: A branch with a free end shorter than this many stroke widths is a spur of thinning, not a stroke.
SPUR_STROKES = 1.2
#: A branch leaving a junction and coming back to it is a loop of the pen (not a thinning artifact) when it is at
#: least LOOP_STROKES stroke widths long.
LOOP_STROKES = 3.0
#: A blob whose skeleton has more strokes than this is not shared out (a scribble: too many ways).
MAX_STROKES = 9
#: Every 2-way sharing is tried up to this many strokes; above it only the left-to-right ones.
ALL_WAYS_UP_TO = 5
#: Stroke-level splits offered per blob, the least overlapping first.
MAX_SPLITS = 4
#: A stroke-level split is offered only where its pieces overlap sideways by at least this many stroke widths
#: (where they do not, a seam cuts the same pieces).
MIN_OVERLAP_STROKES = 1.0
#: Symbols written one over the next are still written left to right: the middles of the pieces' spans are at
#: least MIN_SHIFT of the blob's width apart (not a 4's upright and the rest of it). 0.25, measured: saved sets
#: ex19–23 and ws22–23, 14 lines gained and 6 lost with it, 9 and 11 without.
MIN_SHIFT = 0.25

# Neighbours in the order of the Zhang–Suen ring, P2 (north) clockwise to P9 (north-west), as (dy, dx).
_RING = ((-1, 0), (-1, 1), (0, 1), (1, 1), (1, 0), (1, -1), (0, -1), (-1, -1))
_CODE_KERNEL = np.zeros((3, 3), np.float32)
for _bit, (_dy, _dx) in enumerate(_RING):
    _CODE_KERNEL[1 + _dy, 1 + _dx] = 1 << _bit


def _ring_bits(code: int) -> list[int]:
    return [(code >> b) & 1 for b in range(8)]


def _transitions(bits: list[int]) -> int:
    """0→1 steps going once round the ring: the number of separate runs of ink about a pixel."""
    return sum(1 for i in range(8) if bits[i] == 0 and bits[(i + 1) % 8] == 1)


def _thinning_tables() -> tuple[np.ndarray, np.ndarray]:
    first = np.zeros(256, bool)
    second = np.zeros(256, bool)
    for code in range(256):
        p = _ring_bits(code)  # p[0]=P2 … p[7]=P9
        n = sum(p)
        if not 2 <= n <= 6 or _transitions(p) != 1:
            continue
        p2, p4, p6, p8 = p[0], p[2], p[4], p[6]
        first[code] = p2 * p4 * p6 == 0 and p4 * p6 * p8 == 0
        second[code] = p2 * p4 * p8 == 0 and p2 * p6 * p8 == 0
    return first, second


_DELETE_FIRST, _DELETE_SECOND = _thinning_tables()
_RUNS = np.array([_transitions(_ring_bits(c)) for c in range(256)], np.uint8)
_COUNT = np.array([bin(c).count("1") for c in range(256)], np.uint8)


def _codes(img: np.ndarray) -> np.ndarray:
    """Each pixel's ring of 8 neighbours as a byte (bit k: neighbour k of _RING is set)."""
    return cv2.filter2D(img.astype(np.float32), -1, _CODE_KERNEL, borderType=cv2.BORDER_CONSTANT).astype(np.uint8)


def thin(mask: np.ndarray) -> np.ndarray:
    """The one-pixel-wide skeleton of a boolean mask (Zhang & Suen, 1984)."""
    img = np.pad(mask.astype(bool), 1)
    while True:
        changed = False
        for table in (_DELETE_FIRST, _DELETE_SECOND):
            drop = img & table[_codes(img)]
            if drop.any():
                img &= ~drop
                changed = True
        if not changed:
            return img[1:-1, 1:-1]


def _junction_zones(skel: np.ndarray, radius: int) -> tuple[np.ndarray, int]:
    """Label image of the junctions (pixels where three or more runs of skeleton meet), each widened by
    ``radius`` and joined with those it then touches (two strokes crossing at a slant thin to two nearby
    forks, one crossing)."""
    codes = _codes(skel)
    forks = skel & (_RUNS[codes] >= 3)
    if not forks.any():
        return np.zeros(skel.shape, np.int32), 0
    k = 2 * radius + 1
    wide = cv2.dilate(forks.astype(np.uint8), cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k)))
    n, labels = cv2.connectedComponents(wide, connectivity=8)
    return labels.astype(np.int32), n - 1


def _branches(skel: np.ndarray, zones: np.ndarray) -> tuple[np.ndarray, int]:
    n, labels = cv2.connectedComponents((skel & (zones == 0)).astype(np.uint8), connectivity=8)
    return labels.astype(np.int32), n - 1


def strokes(mask: np.ndarray, stroke: float) -> list[np.ndarray]:
    """The pen strokes of a blob, as skeleton masks (each with the junction zones it runs through)."""
    skel = thin(mask)
    radius = max(1, int(round(0.6 * stroke)))
    for _ in range(2):  # drop thinning's spurs, then find the junctions again without them
        zones, n_zones = _junction_zones(skel, radius)
        labels, n = _branches(skel, zones)
        if n_zones == 0 or n == 0:
            break
        ends = skel & (_COUNT[_codes(skel)] <= 1)
        sizes = np.bincount(labels.ravel(), minlength=n + 1)
        free = np.zeros(n + 1, bool)
        free[np.unique(labels[ends & (labels > 0)])] = True
        touch = _touching_zones(labels, zones, n)
        spurs = [b for b in range(1, n + 1)
                 if free[b] and len(touch[b]) == 1 and sizes[b] < SPUR_STROKES * stroke + 1]
        if not spurs:
            break
        skel = skel & ~np.isin(labels, spurs)
    zones, n_zones = _junction_zones(skel, radius)
    labels, n = _branches(skel, zones)
    touch = _touching_zones(labels, zones, n)
    if n == 0:
        return [skel] if skel.any() else []
    parent = list(range(n + 1))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    ys_all, xs_all = np.nonzero(labels)
    owner = labels[ys_all, xs_all]
    zy, zx = np.nonzero(zones)
    zl = zones[zy, zx]
    cos_through = math.cos(math.radians(THROUGH_ANGLE))
    reach = max(3.0, 2.0 * stroke)
    ends = skel & (_COUNT[_codes(skel)] <= 1)
    free = np.zeros(n + 1, bool)
    free[np.unique(labels[ends & (labels > 0)])] = True
    sizes = np.bincount(labels.ravel(), minlength=n + 1)
    # Through each junction a stroke's skeleton is bridged by a straight segment from where it comes in to
    # where it goes on (or to the junction's middle, where it ends there), so that the other stroke's
    # skeleton near the crossing does not come with it.
    bridges: list[tuple[int, tuple[int, int], tuple[int, int]]] = []
    zone_skeleton: list[tuple[int, int]] = []  # (branch, zone): the zone's skeleton goes with the branch
    for z in range(1, n_zones + 1):
        members = [b for b in range(1, n + 1) if z in touch[b]]
        # A loop leaving the junction and coming back to it (a looped 2, an 8 drawn crossing itself) is the
        # pen going on through it: one stroke with everything there.
        loops = [b for b in members if touch[b] == {z} and not free[b] and sizes[b] >= LOOP_STROKES * stroke]
        for b in loops:
            for other in members:
                parent[find(other)] = find(b)
            zone_skeleton.append((b, z))
        members = [b for b in members if b not in loops]
        if not members:
            continue
        cy, cx = zy[zl == z].mean(), zx[zl == z].mean()
        middle = (int(round(cx)), int(round(cy)))
        dirs, attach = {}, {}
        for b in members:
            sel = owner == b
            by, bx = ys_all[sel], xs_all[sel]
            d = np.hypot(by - cy, bx - cx)
            k = int(np.argmin(d))
            attach[b] = (int(bx[k]), int(by[k]))
            near = d <= d[k] + reach
            v = np.array([bx[near].mean() - cx, by[near].mean() - cy])
            norm = float(np.hypot(*v))
            if norm > 1e-6:
                dirs[b] = v / norm
        pairs = sorted(((float(dirs[a] @ dirs[b]), a, b) for a, b in itertools.combinations(dirs, 2)))
        used: set[int] = set()
        for c, a, b in pairs:
            if c > cos_through:
                break
            if a in used or b in used:
                continue
            used |= {a, b}
            parent[find(a)] = find(b)
            bridges.append((a, attach[a], attach[b]))
        for b in members:
            if b not in used:
                bridges.append((b, attach[b], middle))
    groups: dict[int, np.ndarray] = {}
    for b in range(1, n + 1):
        r = find(b)
        groups[r] = groups.get(r, np.zeros(skel.shape, bool)) | (labels == b)
    for b, z in zone_skeleton:
        groups[find(b)] |= (zones == z) & skel
    for b, p, q in bridges:
        g = groups[find(b)].astype(np.uint8)
        cv2.line(g, p, q, 1, 1)
        groups[find(b)] = g > 0
    return list(groups.values())


def _touching_zones(labels: np.ndarray, zones: np.ndarray, n: int) -> list[set[int]]:
    """For each branch (1…n), the junction zones it runs into."""
    touch: list[set[int]] = [set() for _ in range(n + 1)]
    zy, zx = np.nonzero(zones)
    h, w = labels.shape
    for dy in (-1, 0, 1):
        for dx in (-1, 0, 1):
            y, x = zy + dy, zx + dx
            ok = (y >= 0) & (y < h) & (x >= 0) & (x < w)
            b = labels[y[ok], x[ok]]
            z = zones[zy[ok], zx[ok]]
            for bi, zi in set(zip(b[b > 0].tolist(), z[b > 0].tolist())):
                touch[bi].add(zi)
    return touch


def _share_ink(mask: np.ndarray, away: list[np.ndarray], reach: float) -> list[np.ndarray]:
    """Each symbol's ink: the ink within ``reach`` px of its strokes (``away``: each pixel's distance from them),
    where strokes cross that of both; ink beyond reach of all (a stroke's end, which thinning shortens) goes
    to the nearest."""
    near = [mask & (d <= reach) for d in away]
    left = mask & ~np.logical_or.reduce(near)
    if left.any():
        nearest = np.argmin(np.stack(away), axis=0)
        near = [n | (left & (nearest == k)) for k, n in enumerate(near)]
    return near


def stroke_splits(mask: np.ndarray, stroke: float, min_height: float, max_parts: int = 3
                  ) -> list[tuple[np.ndarray, ...]]:
    """Ways to share a blob's strokes out between 2 (or up to ``max_parts``) symbols written over each other:
    each a tuple of full-size piece masks, left to right, every piece at least ``min_height`` px tall. Only
    sharings whose pieces overlap sideways are given (where they do not, a seam cuts the same pieces); the
    least overlapping first, at most MAX_SPLITS."""
    parts = strokes(mask, stroke)
    if not 2 <= len(parts) <= MAX_STROKES:
        return []
    centre_x = [float(np.nonzero(p)[1].mean()) for p in parts]
    order = [parts[i] for i in np.argsort(centre_x, kind="stable")]
    n = len(order)
    sharings: set[tuple[tuple[int, ...], ...]] = set()
    for k in range(2, max_parts + 1):
        for cuts in itertools.combinations(range(1, n), k - 1):
            bounds = (0, *cuts, n)
            sharings.add(tuple(tuple(range(bounds[i], bounds[i + 1])) for i in range(k)))
    if n <= ALL_WAYS_UP_TO:
        for labels in itertools.product((0, 1), repeat=n - 1):
            a = (0,) + tuple(i + 1 for i, l in enumerate(labels) if l == 0)
            b = tuple(i + 1 for i, l in enumerate(labels) if l == 1)
            if b:
                sharings.add((a, b))
    reach = 0.5 * stroke + 1.0
    away = [cv2.distanceTransform((~s).astype(np.uint8), cv2.DIST_L2, 3) for s in order]  # px from each stroke
    ranked = []
    for sharing in sharings:
        pieces = _share_ink(mask, [np.minimum.reduce([away[i] for i in group]) for group in sharing], reach)
        spans = []
        for p in pieces:
            ys, xs = np.nonzero(p)
            if len(ys) == 0 or ys.max() - ys.min() + 1 < min_height:
                break
            spans.append((xs.min(), xs.max() + 1, xs.mean()))
        else:
            overlap = sum(max(0, min(a[1], b[1]) - max(a[0], b[0])) for a, b in itertools.combinations(spans, 2))
            if overlap < MIN_OVERLAP_STROKES * stroke:
                continue
            centres = sorted((a + b) / 2.0 for a, b, _ in spans)
            if min(b - a for a, b in zip(centres, centres[1:])) < MIN_SHIFT * mask.shape[1]:
                continue  # one piece in the middle of the other
            by_x = [p for _, p in sorted(zip([s[2] for s in spans], pieces), key=lambda t: t[0])]
            ranked.append((len(sharing), overlap, sharing, tuple(by_x)))
    ranked.sort(key=lambda t: t[:3])
    return [pieces for *_, pieces in ranked[:MAX_SPLITS]]
