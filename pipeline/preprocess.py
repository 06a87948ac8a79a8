"""Photo → clean ink mask: uneven light, shadows, coloured ink, tinted paper, ruled lines, light-on-dark.

The steps, each a small function over numpy arrays:

1. :func:`is_light_on_dark` — polarity from thin structures: strokes are thin, so the sign of the image's
   deviation from its local median (an edge-preserving background) says whether the writing is darker or
   lighter than its ground. Page edges and shadows are not thin and barely answer. Light-on-dark images
   (a blackboard, a canvas export) are inverted and then treated like paper.
2. :func:`background` — the paper's colour under the light of each place: a grey-level closing (max-pool,
   then a 3×3 closing) at a small scale, smoothed and scaled back up. Its kernel is a few stroke widths, so
   strokes and dots vanish from it while shadows and gradients stay.
3. :func:`ink_darkness` — per channel, how much darker than the local paper a pixel is, taking the strongest
   channel: blue, red and pencil-grey ink all stand out, and tinted paper divides out.
4. Hysteresis thresholds from the image's own statistics (paper noise floor, typical ink contrast): pixels a
   little darker than the paper are kept only where they touch clearly dark ones, so paper texture, JPEG
   noise and faint smudges drop out while blurred stroke edges stay.
5. :func:`remove_ruled_lines` — long straight thin lines (notebook rules, squared paper, a margin, a printed
   frame) are found by projection at their dominant angle and erased, except where a stroke crosses them or
   ink clearly darker than the line lies on it.
6. Specks a few pixels large are dropped; the segmenter judges what is left relative to each line's size.

Heavy analysis (polarity, background, statistics, angles) runs on a downscaled copy of large images; the mask
itself is thresholded at full resolution so that boxes and shapes stay in page pixels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

#: Analysis copies are at most this many pixels (statistics, polarity, angles).
ANALYSIS_PIXELS = 1_000_000
#: The darkest ink must be at least this much darker than its paper (fraction of the paper's brightness).
MIN_CONTRAST = 0.08
#: Ruled lines must span at least this fraction of the image's width (height, for vertical lines).
RULE_SPAN = 0.45


@dataclass(frozen=True)
class Preprocessed:
    """What preprocessing found: the mask and the facts the later stages may want."""

    mask: np.ndarray  # bool H×W, True = ink, in page pixels
    inverted: bool  # the page was light writing on a dark ground
    angle: float  # dominant text angle in degrees (counter-clockwise positive, image y down); not applied
    stroke: float  # typical stroke width in page pixels (0 when no ink)
    contrast: float  # typical ink darkness in [0, 1] relative to the paper (0 when no ink)
    rules_removed: int  # ruled/grid lines erased


# ------------------------------------------------------------------------------------------------ helpers


def _as_rgb(image: np.ndarray) -> np.ndarray:
    arr = np.asarray(image)
    if arr.dtype != np.uint8:
        if arr.dtype == bool:
            arr = np.where(arr, 0, 255).astype(np.uint8)  # a bool mask is taken as "True = ink"
        elif np.issubdtype(arr.dtype, np.floating) and arr.size and float(np.nanmax(arr)) <= 1.0:
            arr = np.clip(np.nan_to_num(arr) * 255.0 + 0.5, 0, 255).astype(np.uint8)
        else:
            arr = np.clip(arr, 0, 255).astype(np.uint8)
    if arr.ndim == 2:
        return arr[:, :, None]
    if arr.ndim == 3 and arr.shape[2] == 4:
        alpha = arr[:, :, 3:4].astype(np.float32) / 255.0
        arr = (arr[:, :, :3].astype(np.float32) * alpha + 255.0 * (1.0 - alpha)).astype(np.uint8)
    if arr.ndim == 3 and arr.shape[2] in (1, 3):
        return np.ascontiguousarray(arr)
    raise ValueError(f"expected a grey or RGB image, got shape {arr.shape}")


def _min_channel(img: np.ndarray) -> np.ndarray:
    if img.ndim == 2:
        return img
    if img.shape[2] == 1:
        return img[:, :, 0]
    a, b, c = cv2.split(img)
    return cv2.min(cv2.min(a, b), c)


def _shrink(img: np.ndarray, max_pixels: int) -> tuple[np.ndarray, float]:
    h, w = img.shape[:2]
    if h * w <= max_pixels:
        return img, 1.0
    f = math.sqrt(max_pixels / (h * w))
    nw, nh = max(1, int(round(w * f))), max(1, int(round(h * f)))
    small = cv2.resize(img, (nw, nh), interpolation=cv2.INTER_AREA)
    if small.ndim == 2 and img.ndim == 3:
        small = small[:, :, None]
    return small, nw / w


def _odd(v: float) -> int:
    v = int(round(v))
    return v + 1 - v % 2


# ------------------------------------------------------------------------------------------------ polarity


def is_light_on_dark(gray: np.ndarray) -> bool:
    """True when the writing is lighter than its ground (chalk on a blackboard, white strokes on black).

    Writing is the minority of the pixels wherever it is: in each tile of the image with any contrast, the
    sign of the grey levels' skewness says whether the minority (the long tail) is darker or lighter than
    the majority. Tiles vote. Uniform tiles (a desk around a photographed page, blank paper) abstain, and
    tiles on a page's edge or a shadow's edge vote both ways and cancel.
    """
    g = np.asarray(gray)
    if g.ndim == 3:
        g = cv2.cvtColor(g, cv2.COLOR_RGB2GRAY) if g.shape[2] == 3 else g[:, :, 0]
    g, _ = _shrink(np.asarray(g, np.uint8), 250_000)
    if g.ndim == 3:
        g = g[:, :, 0]
    h, w = g.shape
    tile = int(min(max(min(h, w) // 4, 16), 48))
    th, tw = h // tile, w // tile
    if th == 0 or tw == 0:
        tiles = g.astype(np.float32).reshape(1, -1)
    else:
        tiles = g[: th * tile, : tw * tile].astype(np.float32).reshape(th, tile, tw, tile)
        tiles = tiles.transpose(0, 2, 1, 3).reshape(th * tw, tile * tile)
    mean = tiles.mean(axis=1, keepdims=True)
    dev = tiles - mean
    var = (dev * dev).mean(axis=1)
    third = (dev * dev * dev).mean(axis=1)
    lively = var > 36.0  # a standard deviation above 6 grey levels: something is drawn there
    if not lively.any():
        return float(np.median(g)) < 96.0
    skew = third[lively] / np.maximum(var[lively], 1e-6) ** 1.5
    vote = float(np.clip(skew, -3.0, 3.0).sum())
    if abs(vote) < 0.5:
        return float(np.median(g)) < 96.0
    return vote > 0.0


# ------------------------------------------------------------------------------------------------ background


def background(img: np.ndarray, kernel: int, size: tuple[int, int] | None = None) -> np.ndarray:
    """The paper's local colour: a grey-level closing about ``kernel`` px wide, returned at ``size``
    (width, height; default ``img``'s own). Dark ink on a light ground.

    Done at a small scale for speed: an area-average down to pixels a fifth of the kernel, a 5×5 closing
    (a balanced closing keeps the edges of shadows where they are), a 3×3 smoothing, and a linear scale-up.
    Strokes and dots narrower than the kernel vanish; shadows and gradients stay.
    """
    img = _as_rgb(img)
    h, w = img.shape[:2]
    f = max(1.0, kernel / 5.0)
    small = img
    if f > 1.0:
        nw, nh = max(1, int(round(w / f))), max(1, int(round(h / f)))
        small = cv2.resize(img, (nw, nh), interpolation=cv2.INTER_AREA)
    closed = cv2.morphologyEx(small, cv2.MORPH_CLOSE, np.ones((5, 5), np.uint8), borderType=cv2.BORDER_REPLICATE)
    if min(closed.shape[:2]) >= 3:
        closed = cv2.blur(closed, (3, 3), borderType=cv2.BORDER_REPLICATE)
    out_w, out_h = size if size is not None else (w, h)
    bg = cv2.resize(closed, (out_w, out_h), interpolation=cv2.INTER_LINEAR)
    if bg.ndim == 2:
        bg = bg[:, :, None]
    return bg


def ink_darkness(img: np.ndarray, bg: np.ndarray) -> np.ndarray:
    """uint8 darkness of each pixel relative to its paper (0 = paper, 255 = black), the strongest channel
    where the image has several."""
    if img.ndim == 2 and bg.ndim == 3:
        bg = bg[:, :, 0]
    bg = cv2.max(bg, 1)
    norm = cv2.divide(img, bg, scale=255.0)
    if norm.ndim == 3:
        norm = _min_channel(norm)
    return cv2.bitwise_not(norm)


# ------------------------------------------------------------------------------------------------ thresholds


def stroke_width(mask: np.ndarray) -> float:
    """Typical stroke width in pixels: the median over the mask's parts (specks aside) of 2·area / perimeter,
    the perimeter counted as boundary pixels (a stroke of length L and width w has area L·w and about 2L
    boundary pixels). The median keeps one odd part (a page's edge, a filled blob) from setting it."""
    u8 = mask.astype(np.uint8)
    if not u8.any():
        return 0.0
    n, labels = cv2.connectedComponents(u8, connectivity=8)
    inner = cv2.erode(u8, np.ones((3, 3), np.uint8), borderType=cv2.BORDER_CONSTANT, borderValue=0)
    idx = np.flatnonzero(u8)
    lab = labels.ravel()[idx]
    area = np.bincount(lab, minlength=n).astype(np.float64)
    edge = np.bincount(lab, weights=(inner.ravel()[idx] == 0), minlength=n)
    area[0] = 0.0
    big = area >= 12.0
    if not big.any():
        return 2.0 * float(area.sum()) / max(float(edge.sum()), 1.0)
    return float(np.median(2.0 * area[big] / np.maximum(edge[big], 1.0)))


def _thresholds(dark: np.ndarray) -> tuple[float, float, float, float] | None:
    """(noise floor, low, high, ink level) thresholds on a darkness image, or None when there is no ink."""
    hist = np.bincount(dark.ravel(), minlength=256).astype(np.float64)
    cdf = np.cumsum(hist) / max(hist.sum(), 1.0)

    def pct(q: float) -> float:
        return float(np.searchsorted(cdf, q))

    p10, p50 = pct(0.1), pct(0.5)
    # The paper's noise, from the lower half of the histogram: ink and ruled lines (up to a fifth of the
    # pixels on squared paper) are all in the upper part.
    floor = p50 + 3.0 * (p50 - p10) + 6.0
    above = hist.copy()
    above[: int(floor) + 1] = 0
    n_above = above.sum()
    if n_above < 8:
        return None
    cum = np.cumsum(above) / n_above
    # How dark the ink's cores are: a high percentile, so faint ruled lines (which can outnumber the ink's
    # pixels on squared paper) do not set it.
    level = float(np.searchsorted(cum, 0.97))
    # Ink must stand well clear of the paper's noise and be at least faintly visible.
    if level < max(2.0 * floor, MIN_CONTRAST * 255.0):
        return None
    high = max(0.45 * level, floor + 6.0)
    if np.count_nonzero(dark >= high) < 8:
        return None
    low = max(0.3 * level, floor)
    return floor, low, high, level


def _hysteresis(seeds: np.ndarray, weak: np.ndarray, min_area: int = 1) -> np.ndarray:
    """The parts of the ``weak`` mask that hold a ``seeds`` pixel and at least ``min_area`` pixels.
    Works on the ink pixels' flat indices: pages are mostly paper."""
    weak = weak.astype(np.uint8, copy=False)
    n, labels = cv2.connectedComponents(weak, connectivity=8)
    out = np.zeros(weak.shape, bool)
    if n <= 1:
        return out
    idx = np.flatnonzero(weak)
    lab = labels.ravel()[idx]
    keep = np.bincount(lab, weights=seeds.ravel()[idx], minlength=n) > 0
    if min_area > 1:
        keep &= np.bincount(lab, minlength=n) >= min_area
    keep[0] = False
    out.ravel()[idx[keep[lab]]] = True
    return out


def _grey_noise(gray: np.ndarray, bg: np.ndarray) -> float:
    """The paper's noise in grey levels (a robust standard deviation of gray − background over the paper)."""
    d = gray.astype(np.int16) - bg.astype(np.int16)
    hist = np.bincount((d + 255).ravel(), minlength=511)
    cdf = np.cumsum(hist) / max(float(hist.sum()), 1.0)
    # Paper is the majority and sits at or above the background estimate; ink is in the lower tail.
    p50, p75 = float(np.searchsorted(cdf, 0.5)), float(np.searchsorted(cdf, 0.75))
    return max((p75 - p50) / 0.674, 0.5)


# ------------------------------------------------------------------------------------------------ lines & skew


def _projection_angle(ys: np.ndarray, xs: np.ndarray, angles: np.ndarray) -> tuple[float, np.ndarray]:
    """The angle (degrees) at which the horizontal projection of the points is sharpest, and its profile
    (bin i counts the points with round(y − x·tan a) − min == i)."""
    tans = np.tan(np.radians(np.asarray(angles, np.float64)))
    proj = np.rint(ys[None, :].astype(np.float32) - tans[:, None].astype(np.float32) * xs[None, :]).astype(np.int64)
    proj -= proj.min(axis=1, keepdims=True)
    span = int(proj.max()) + 1
    flat = np.bincount((proj + np.arange(len(tans))[:, None] * span).ravel(), minlength=span * len(tans))
    profs = flat.reshape(len(tans), span).astype(np.float64)
    best = int(np.argmax((profs * profs).sum(axis=1)))
    prof = profs[best]
    return float(angles[best]), prof[: int(np.max(np.nonzero(prof)[0])) + 1] if prof.any() else prof


def estimate_skew(mask: np.ndarray, max_angle: float = 10.0, max_points: int = 3_000) -> float:
    """Dominant angle of the writing (degrees, positive = text rising to the right in image coordinates ...
    i.e. the angle to rotate the page counter-clockwise to level it) from the sharpness of its projection."""
    flat = np.flatnonzero(mask)
    if len(flat) < 20:
        return 0.0
    if len(flat) > max_points:
        flat = flat[(np.arange(max_points) * (len(flat) / max_points)).astype(np.int64)]
    ys, xs = np.divmod(flat, mask.shape[1])
    coarse, _ = _projection_angle(ys, xs, np.arange(-max_angle, max_angle + 1e-9, 1.0))
    fine, _ = _projection_angle(ys, xs, np.arange(coarse - 0.8, coarse + 0.8 + 1e-9, 0.2))
    return -round(fine, 2)


def _rule_bands(ys: np.ndarray, xs: np.ndarray, w: int, span: float, angle: float) -> list[tuple[int, int]]:
    """Bands [a, b] of y' = round(y − x·tan(angle)) that points fill across at least ``span`` of the width
    ``w``: where long straight near-horizontal lines run."""
    t = math.tan(math.radians(angle))
    proj = np.rint(ys - xs * t).astype(np.int64)
    offset = int(proj.min())
    prof = np.bincount(proj - offset)
    rows = np.flatnonzero(prof >= span * w)
    bands: list[tuple[int, int]] = []
    for r in rows:
        if bands and r <= bands[-1][1] + 1:
            bands[-1] = (bands[-1][0], int(r))
        else:
            bands.append((int(r), int(r)))
    # Widen each band over rows that the line's blurred edges fill at least half as much as its core.
    widened = []
    for a, b in bands:
        edge = 0.5 * float(prof[a : b + 1].max())
        for _ in range(2):
            if a > 0 and prof[a - 1] >= edge:
                a -= 1
            if b + 1 < len(prof) and prof[b + 1] >= edge:
                b += 1
        widened.append((a + offset, b + offset))
    return widened


def _longest_run(xs: np.ndarray, w: int, gap: int = 3) -> int:
    """Length of the longest stretch of positions (in range(w)) with no hole wider than ``gap``."""
    if len(xs) == 0:
        return 0
    occupied = np.zeros(w, bool)
    occupied[xs] = True
    u = np.flatnonzero(occupied)
    breaks = np.flatnonzero(np.diff(u) > gap)
    starts = np.concatenate([[0], breaks + 1])
    ends = np.concatenate([breaks, [len(u) - 1]])
    return int((u[ends] - u[starts]).max()) + 1


def _grouped_median(values: np.ndarray, groups: np.ndarray, n: int) -> np.ndarray:
    """Median of ``values`` within each of ``n`` groups (NaN where a group is empty)."""
    out = np.full(n, np.nan)
    if len(values) == 0:
        return out
    order = np.lexsort((values, groups))
    counts = np.bincount(groups, minlength=n)
    starts = np.concatenate([[0], np.cumsum(counts)[:-1]])
    has = counts > 0
    out[has] = values[order][starts[has] + counts[has] // 2]
    return out


def _chroma(rgb: np.ndarray) -> np.ndarray:
    """Brightness-free colour of N×3 RGB values: each divided by their mean (neutral grey = 1, 1, 1)."""
    v = rgb.astype(np.float32)
    return v * (3.0 / (v.sum(axis=1, keepdims=True) + 3.0))


def remove_ruled_lines(
    weak: np.ndarray,
    dark: np.ndarray,
    faint: np.ndarray,
    ink_level: float,
    span: float = RULE_SPAN,
    rgb: np.ndarray | None = None,
    stroke: float = 3.0,
    solid: np.ndarray | None = None,
) -> tuple[np.ndarray, int]:
    """Erase long straight thin horizontal/vertical lines from the ``weak`` ink mask, except where strokes
    cross or rest on them (ink in ``solid`` just beside the line). Lines are found in the ``faint`` mask (everything above the paper's noise), where
    even a light rule is continuous. Given the colour image, ink of another colour than a coloured rule
    (grey pencil on a blue line) is kept where it lies along the rule. Returns the cleaned mask and the
    number of lines erased."""
    out = weak.copy()
    removed = 0
    H, W = weak.shape
    # Strokes that cross a rule are told by clearly dark ink next to it (``solid``; by default the weak mask).
    solid_flat = (solid if solid is not None else weak).ravel()
    flat = np.flatnonzero(faint)
    if len(flat) < span * min(H, W):
        return out, 0
    rows, cols = np.divmod(flat, W)
    out_flat = out.ravel()
    dark_flat = dark.ravel()
    # One angle search on a sample of the points; vertical lines are perpendicular (a rotated page), with a
    # little room for perspective.
    step = max(1, len(flat) // 3000)
    sy, sx = rows[::step], cols[::step]
    coarse, _ = _projection_angle(sy, sx, np.arange(-8.0, 8.0 + 1e-9, 1.0))
    angle_h, _ = _projection_angle(sy, sx, np.arange(coarse - 0.8, coarse + 0.8 + 1e-9, 0.2))
    for axis in (0, 1):
        # In the frame of the lines: y across them, x along them.
        ys, xs, h, w = (rows, cols, H, W) if axis == 0 else (cols, rows, W, H)
        if len(ys) < span * w:
            continue
        angle = angle_h
        if axis == 1:
            angle, _ = _projection_angle(sx, sy, np.arange(-angle_h - 0.6, -angle_h + 0.6 + 1e-9, 0.2))
        bands = [(a, b) for a, b in _rule_bands(ys, xs, w, span, angle) if b - a <= max(6.0, 0.02 * h)]
        if not bands:
            continue
        # Refine the angle on the lines' own points: a tenth of a degree is a pixel every 600.
        t = math.tan(math.radians(angle))
        key = np.rint(ys - xs * t).astype(np.int64)
        on_lines = np.zeros(int(key.max()) + 2, bool)
        for a, b in bands:
            on_lines[max(a - 3, 0) : b + 4] = True
        pick = np.flatnonzero(on_lines[key])
        pick = pick[:: max(1, len(pick) // 5000)]
        angle, _ = _projection_angle(ys[pick], xs[pick], np.arange(angle - 0.3, angle + 0.3 + 1e-9, 0.05))
        bands = [(a, b) for a, b in _rule_bands(ys, xs, w, span, angle) if b - a <= max(6.0, 0.02 * h)]
        if not bands:
            continue
        t = math.tan(math.radians(angle))
        key = np.rint(ys - xs * t).astype(np.int64)
        order = np.argsort(key, kind="stable")
        sorted_key = key[order]
        # Each band's points (a margin of one row on each side) are a slice of the points sorted by key.
        edges = np.searchsorted(sorted_key, np.array([[a - 1, b + 2] for a, b in bands], np.int64).ravel())
        slices = edges.reshape(-1, 2)
        sel = np.concatenate([order[lo:hi] for lo, hi in slices])
        sel_key = np.concatenate([sorted_key[lo:hi] for lo, hi in slices])
        bounds = np.concatenate([[0], np.cumsum(slices[:, 1] - slices[:, 0])])
        ly, lx = ys[sel], xs[sel]
        band_a = np.repeat(np.array([a for a, _ in bands], np.float64), slices[:, 1] - slices[:, 0])
        band_b = np.repeat(np.array([b for _, b in bands], np.float64), slices[:, 1] - slices[:, 0])
        # Keep pixels where ink continues just above or below the line (a stroke crossing or resting).
        top = np.floor(band_a - 1.0 + lx * t).astype(np.int64)
        bot = np.ceil(band_b + 1.0 + lx * t).astype(np.int64)
        near = np.zeros(len(ly), bool)
        for yy in (top - 1, top - 2, bot + 1, bot + 2):
            ok = (yy >= 0) & (yy < h)
            where = yy[ok] * W + lx[ok] if axis == 0 else lx[ok] * W + yy[ok]
            near[ok] |= solid_flat[where]
        values = dark_flat[flat[sel]]
        colours = None
        if rgb is not None and rgb.ndim == 3 and rgb.shape[2] == 3:
            rgb_flat = rgb.reshape(-1, 3)
            colours = _chroma(rgb_flat[flat[sel]])
            paper = np.median(_chroma(rgb_flat[:: max(1, rgb_flat.shape[0] // 4000)]), axis=0)
        for i in range(len(bands)):
            lo, hi = int(bounds[i]), int(bounds[i + 1])
            if hi == lo:
                continue
            run = _longest_run(lx[lo:hi], w, gap=max(3, int(round(stroke))))
            # One straight line, from edge to edge of a cropped image or far longer than any written stroke;
            # not a row of text, nor the long stroke of a `1` in a short crop.
            if run < 0.25 * w or (run < 0.8 * w and run < 40.0 * stroke):
                continue
            alone = ~near[lo:hi]
            if np.count_nonzero(alone) < 0.3 * span * w:
                continue  # mostly covered by writing: not a line across the page
            # Handwriting does not run straight within a few pixels across half the page, so a line found
            # here is a rule, a printed frame or a grid however dark it is. Where ink clearly darker than the
            # line lies on it (a bar written along a rule), that ink stays.
            v = values[lo:hi]
            # The line's own darkness, on its core rows, measured along it in stretches (a shadow can fall
            # across it).
            a, b = bands[i]
            core_rows = alone & (sel_key[lo:hi] >= a) & (sel_key[lo:hi] <= b)
            if not core_rows.any():
                continue
            chunk = max(32, w // 12)
            bins = lx[lo:hi] // chunk
            local = _grouped_median(v[core_rows], bins[core_rows], int(bins.max()) + 1)
            line_dark = float(np.median(v[core_rows]))
            local = np.where(np.isnan(local), line_dark, local)[bins]
            margin = np.maximum(0.25 * ink_level, 0.25 * local)
            # How much of a pixel is this line (1) rather than paper (0): by colour where the line has one.
            share: np.ndarray | float = 1.0
            if colours is not None:
                c = colours[lo:hi]
                core = alone & (v >= 0.7 * line_dark)
                if np.count_nonzero(core) >= 10:
                    seg = np.median(c[core], axis=0) - paper
                    norm2 = float(np.dot(seg, seg))
                    if norm2 > 0.08**2:
                        share = np.clip((c - paper) @ seg / norm2, 0.0, 1.0)
            drop = alone & (v <= share * local + margin)
            out_flat[flat[sel[lo:hi][drop]]] = False
            removed += 1
    return out, removed


# ------------------------------------------------------------------------------------------------ main


def preprocess(image: np.ndarray, *, remove_rules: bool = True, analysis_pixels: int = ANALYSIS_PIXELS) -> Preprocessed:
    """RGB or grey page image (uint8) → :class:`Preprocessed` with the boolean ink mask at the same size."""
    img = _as_rgb(image)
    h, w = img.shape[:2]
    empty = Preprocessed(np.zeros((h, w), bool), False, 0.0, 0.0, 0.0, 0)
    if h < 3 or w < 3:
        return empty
    lum = img[:, :, 0] if img.shape[2] == 1 else cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
    inverted = is_light_on_dark(lum)
    # One channel from here on: the darkest of the three (the lightest, for light writing), so ink of any
    # colour stands out against paper of any tint once divided by the paper's own level.
    if img.shape[2] == 1:
        grey = cv2.bitwise_not(img[:, :, 0]) if inverted else img[:, :, 0]
    else:
        r, g, b = cv2.split(img)
        grey = cv2.bitwise_not(cv2.max(cv2.max(r, g), b)) if inverted else cv2.min(cv2.min(r, g), b)
    small, f = _shrink(grey, analysis_pixels)
    if small.ndim == 3:
        small = small[:, :, 0]
    nothing = Preprocessed(empty.mask, inverted, 0.0, 0.0, 0.0, 0)

    # Background kernel: a few stroke widths; first guess from the size, then from the strokes themselves.
    sh, sw_ = small.shape[:2]
    kernel = _odd(min(max(min(sh, sw_) / 6.0, 15.0), 61.0))
    bg_s = background(small, kernel)[:, :, 0]
    dark_s = ink_darkness(small, bg_s)
    th = _thresholds(dark_s)
    if th is None:
        return nothing
    stroke_s = stroke_width(_hysteresis(dark_s >= th[2], dark_s > th[1]))
    if 5.0 * stroke_s > kernel:
        kernel = _odd(5.0 * stroke_s)
        bg_s = background(small, kernel)[:, :, 0]
        dark_s = ink_darkness(small, bg_s)
        th = _thresholds(dark_s)
        if th is None:
            return nothing
    floor, low, high, level = th
    stroke = stroke_s / f
    # Relative darkness makes ink under a shadow as dark as in the light, and the sensor's noise there
    # darker too: a pixel must also stand out from the paper by more than that noise in grey levels.
    noise = _grey_noise(small, bg_s)
    abs_low, abs_high = 2.5 * noise + 2.0, 4.0 * noise + 4.0

    # Full resolution: the background scaled up, the thresholds found on the analysis copy.
    if f < 1.0:
        bg = background(small, kernel, size=(w, h))[:, :, 0]
        dark = ink_darkness(grey, bg)
    else:
        bg, dark = bg_s, dark_s
    diff = cv2.subtract(bg, grey)
    weak = (dark > low) & (diff > abs_low)
    rules = 0
    colour = None
    if img.shape[2] == 3:
        colour = cv2.bitwise_not(img) if inverted else img
    seeds = (dark >= high) & (diff > abs_high)
    if remove_rules:
        weak, rules = remove_ruled_lines(weak, dark, dark > floor, level, rgb=colour, stroke=stroke, solid=seeds)
    mask = _hysteresis(seeds, weak, min_area=max(3, int(0.25 * stroke * stroke)))
    angle = estimate_skew(mask)
    return Preprocessed(mask, inverted, angle, stroke, level / 255.0, rules)


def ink_mask(image: np.ndarray) -> np.ndarray:
    """RGB or grey page image → boolean ink mask (True = ink) of the same height and width.

    A blank page (or an all-black or all-white one) gives an empty mask.
    """
    return preprocess(image).mask
