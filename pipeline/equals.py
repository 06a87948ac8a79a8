"""Is a bar read as ``-`` one bar of an ``=`` whose other bar the ink mask lost?

Under blur, a dim light or a light pen, an ``=``'s second bar can be fainter than the threshold that makes the
mask, and what is left reads, rightly for its pixels, as a ``-``. The darkness map the mask was cut from still
shows the lost bar: a ridge parallel to the kept one, a gap away, about as long, and absent from the mask.
"""

from __future__ import annotations

import numpy as np

from hdr_expr.pipeline.stats import median

#: The lost bar must be at least this dark relative to the kept one (median along the bar).
MIN_RATIO = 0.5
#: ... and this dark in absolute terms (0–255 darkness relative to the paper): paper texture and sensor noise
#: stay well below it once a median along the bar has been taken.
MIN_DARKNESS = 12.0


def second_bar(darkness: np.ndarray, mask: np.ndarray, box: tuple[int, int, int, int], stroke: float) -> float:
    """How dark, relative to the bar in ``box``, a parallel bar is that lies a gap above or below it and is not
    in ``mask``; 0.0 where there is none.

    The bar is followed column by column (it may slant): in the middle 60% of its columns, the darkness profile
    across it is sampled around its darkest row, and the median over columns taken, so that a ridge counts only
    where it runs along most of the bar. A ridge counts as a second bar when a gap (darkness below 60% of the
    ridge) separates it from the bar, the mask holds no ink there (ink there belongs to some other symbol), and
    it stops where the bar stops: a ruled line running past both ends is no bar of an ``=``.
    """
    x, y, w, h = (int(v) for v in box)
    H, W = darkness.shape[:2]
    if w < 3 or h < 1:
        return 0.0
    margin = int(0.2 * w)
    cols = np.arange(x + margin, max(x + margin + 1, x + w - margin))
    centre = y + darkness[y : y + h, cols].argmax(axis=0)
    reach = int(max(0.8 * w, 4.0 * stroke))
    offsets = np.arange(-reach, reach + 1)
    rows = np.clip(centre[None, :] + offsets[:, None], 0, H - 1)
    profile = np.median(darkness[rows, cols[None, :]], axis=1).astype(np.float32)
    bar = float(profile[reach])
    if bar <= 0:
        return 0.0
    best, best_k = 0.0, 0
    for sign in (1, -1):
        gap = np.inf
        for k in range(1, reach + 1):
            v = float(profile[reach + sign * k])
            gap = min(gap, v)
            if k >= 2 and v > best and gap < 0.6 * v:
                best, best_k = v, sign * k
    if best < max(MIN_RATIO * bar, MIN_DARKNESS) or mask[rows[reach + best_k], cols].mean() >= 0.3:
        return 0.0
    # Beyond the bar's ends, on the ridge's row: a ruled line runs on past both; a lost bar of an '=' may be drawn
    # longer than the kept one at one end (people draw an '=''s lower bar longer), not at both.
    row = int(np.clip(round(median(centre)) + best_k, 0, H - 1))
    span = max(2, int(0.45 * w))
    off = int(0.15 * w)
    runs_on = 0
    for lo, hi in ((x - off - span, x - off), (x + w + off, x + w + off + span)):
        lo, hi = max(lo, 0), min(hi, W)
        band = darkness[max(row - 1, 0) : row + 2, lo:hi]
        runs_on += hi - lo >= 2 and median(band.max(axis=0)) >= 0.5 * best
    if runs_on == 2:
        return 0.0
    return best / bar


#: Two bars of an '=' that the mask ran together: across the blob, the darkness shows two ridges with a lighter
#: valley between them (at most VALLEY of the fainter ridge, and MIN_DIP darker units under it) in at least
#: TWO_RIDGES of its middle columns. A '-', however thick, is one ridge.
VALLEY = 0.75
MIN_DIP = 12.0
TWO_RIDGES = 0.6


def bars_run_together(darkness: np.ndarray, box: tuple[int, int, int, int], stroke: float) -> bool:
    """Is a flat mark read as ``-`` the two bars of an ``=`` run together in the mask (a small ``=`` under blur,
    its gap narrower than the pen)? Its darkness still parts them: per column across the mark, two ridges at
    least two pixels apart with a lighter valley between (see VALLEY)."""
    x, y, w, h = (int(v) for v in box)
    H, W = darkness.shape[:2]
    if w < 6 or h < 4 or h < 1.6 * stroke or h > 0.8 * w:
        return False
    margin = int(0.2 * w)
    cols = np.arange(x + margin, max(x + margin + 1, x + w - margin))
    block = darkness[max(0, y - 1) : min(H, y + h + 1), cols].astype(np.float32)
    if block.shape[0] < 5 or block.shape[1] < 3:
        return False
    # Smooth a little along the bar: JPEG blocks and sensor noise make single-column dips.
    block = (block[:, :-2] + block[:, 1:-1] + block[:, 2:]) / 3.0 if block.shape[1] >= 5 else block
    two = sum(_two_ridges(col) for col in block.T)
    return two >= TWO_RIDGES * block.shape[1]


def _two_ridges(col: np.ndarray) -> bool:
    """Whether a darkness profile across a bar has two ridges at least two pixels apart, the fainter at least half
    as dark as the other, with a valley between them (see VALLEY, MIN_DIP)."""
    peaks = [i for i in range(1, len(col) - 1) if col[i] >= col[i - 1] and col[i] > col[i + 1]]
    for a, i in enumerate(peaks):
        for j in peaks[a + 1 :]:
            if j - i < 2:
                continue
            low, valley = min(col[i], col[j]), float(col[i : j + 1].min())
            if low >= 0.5 * max(col[i], col[j]) and valley <= VALLEY * low and low - valley >= MIN_DIP:
                return True
    return False
