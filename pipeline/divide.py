"""Is a mark read as ``+``, ``×`` or ``-`` a ``÷`` whose dots the ink mask ran into its bar, or dropped?

Under blur, a ``÷`` written small has its dots touch the bar in the mask, and the crop reads, rightly for its
pixels, as a ``+``. The darkness map the mask was cut from still shows them apart: at some level between the
crop's darkest ink and its paper, a lighter gap parts each dot from the bar. A ``+`` never parts so: where its
strokes cross, the ink is darkest. Dots tapped with a fine point beside thick strokes can fall under the mask's
speck limit, leaving a bar read as ``-``; the darkness map has them too.
"""

from __future__ import annotations

import cv2
import numpy as np

#: Fractions of the crop's darkest ink at which it is cut, lightest first.
LEVELS = (0.4, 0.5, 0.6, 0.7, 0.8)
#: ... and, for a bar read as ``-`` (nothing of a ``+`` or ``×`` to part), every 0.05 from 0.25: a faint dot may part
#: from the bar only in a narrow band of levels, and a dot a third as dark as the bar only below 0.4.
FINE_LEVELS = tuple(round(0.25 + 0.05 * i, 2) for i in range(12))
#: The crop's darkest ink must be at least this dark (0–255 relative to the paper): in fainter ink, paper
#: texture and ruled squares part strokes as well.
MIN_DARKNESS = 60.0
#: The dots of a mark read as ``+`` or ``×`` hold at least this share of the bar's thickness squared, at the level
#: they part at: a chalk ``+`` whose crossing is lighter than its strokes leaves slivers of its arms (1×2 px
#: beside a bar 4 px thick), where a pen's dots are about as wide as its bar is thick.
DOT_MIN_SHARE = 0.2


def dots_apart(darkness: np.ndarray, box: tuple[int, int, int, int], levels: tuple[float, ...] = LEVELS,
               each_level: bool = False) -> bool:
    """True when, cut at one of ``levels``, the darkness in and just above and below ``box`` is exactly one bar
    (most of the box wide, flat) with one roundish dot above it and one below, each over the bar (its outer
    tenths aside) and whole inside the area looked at: a mark its edge cuts is a piece of a neighbour. With
    ``each_level``, also when one dot parts from the bar at one level and the other at another (a dash of a dot
    joined to the bar through a lighter pixel parts only near its own darkness; a faint dot shows only far
    below it), each the bar's sole companion there."""
    x, y, w, h = (int(v) for v in box)
    H, W = darkness.shape[:2]
    pad = int(max(3, 0.7 * max(w, h)))
    crop = darkness[max(0, y - pad) : min(H, y + h + pad), max(0, x - 1) : min(W, x + w + 1)]
    if crop.size == 0:
        return False
    top = float(crop.max())
    if top < MIN_DARKNESS:
        return False
    seen_above = seen_below = False
    for level in levels:
        n, _, stats, _ = cv2.connectedComponentsWithStats((crop >= level * top).view(np.uint8), connectivity=8)
        parts = [stats[i] for i in range(1, n) if stats[i, cv2.CC_STAT_AREA] >= 2]
        bars = [s for s in parts if s[2] >= 0.6 * w and s[3] <= 0.6 * s[2]]
        if len(parts) not in ((2, 3) if each_level else (3,)) or len(bars) != 1:
            continue
        bx, by, bw, bh = (int(v) for v in bars[0][:4])
        above = below = 0
        for px, py, pw, ph, pa in (s for s in parts if s is not bars[0]):
            round_ = max(pw, ph) <= 0.5 * bw and ph <= 1.8 * pw + 1 and pw <= 1.8 * ph + 1
            if not each_level and pa < DOT_MIN_SHARE * bh * bh:
                break  # an arm's sliver, not a dot
            # a mark the crop's edge cuts is a piece of a neighbour's stroke, not a dot
            inside = px > 0 and py > 0 and px + pw < crop.shape[1] and py + ph < crop.shape[0]
            if not (round_ and inside) or not bx + 0.1 * bw <= px + pw / 2.0 <= bx + 0.9 * bw:
                break
            above += py + ph <= by
            below += py >= by + bh
        else:
            if above == 1 and below == 1:
                return True
            seen_above |= above == 1 and below == 0
            seen_below |= below == 1 and above == 0
    return each_level and seen_above and seen_below
