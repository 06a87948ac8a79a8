"""Photo → clean ink mask: uneven light, shadows, coloured ink, tinted paper, ruled lines, light-on-dark.

The steps, each a small function over numpy arrays:

1. :func:`is_light_on_dark` — writing is the minority of the pixels wherever it is: tiles of the image vote
   with the sign of their grey levels' skewness. Light-on-dark images (a blackboard, a canvas export) are
   inverted and then treated like paper. One channel is kept: the darkest of R, G, B, so that blue, red and
   pencil-grey ink all stand out.
2. :func:`background` — the paper's brightness under the light of each place: a grey-level closing a few
   stroke widths wide (its kernel follows the strokes measured on a first pass), done at a small scale.
   Strokes and dots vanish from it; shadows, gradients and tinted paper stay, and divide out in
   :func:`ink_darkness` (0 = paper, 255 = black).
3. Hysteresis thresholds from the image's own statistics (the paper's noise floor, the ink cores' darkness):
   pixels a little darker than the paper are kept only where they touch clearly dark ones, and only where
   they stand out from the *local* noise in grey levels too (a dark desk or a deep shadow is noisier).
4. :func:`sheet_edges` — the dark side of a photographed sheet's edge (the desk, where the background still
   carries the paper's light) is no ink and must not set the thresholds.
5. :func:`find_rules` / :func:`remove_ruled_lines` — long straight lines (notebook rules, squared paper, a
   margin, a printed frame), even faint, blurred, broken, tilted or slightly bent ones, are found from the
   strip profiles of the darkness and erased, except where a stroke crosses or rests on them, or ink
   clearly darker than the rule (or of another colour) lies along it. A row of written bars or the stem of
   a 1 is no rule: a rule also shows on blank paper and runs on past the writing.
6. Specks of a few pixels are dropped; the segmenter judges what is left relative to each line's size.

Heavy analysis (polarity, background, statistics, rules) runs on a copy of at most ``ANALYSIS_PIXELS``; the
mask itself is thresholded at full resolution, so boxes and shapes stay in page pixels. Skew is estimated
(:attr:`Preprocessed.angle`) but not applied: the segmenter levels component positions instead, and the reader
turns the mask level (:func:`levelled`) only where the page is turned further than handwriting leans.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from dataclasses import dataclass

import cv2
import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from hdr_expr.pipeline.stats import median, percentile

#: Analysis copies are at most this many pixels (statistics, polarity, angles, rules, sheet edges). 0.3 MP reads
#: the expression and worksheet benchmarks as well as 1 MP did (84.0% vs 83.0%, 82.7% vs 82.7%; 86.5% vs 87.0%
#: of worksheet lines) with 40% less preprocessing time.
ANALYSIS_PIXELS = 300_000
#: The most a small image with thin strokes is enlarged (see preprocess's min_stroke).
MAX_ENLARGE = 3.0
#: The writing's skew is looked for up to MAX_SKEW degrees either way (see estimate_skew).
MAX_SKEW = 20.0
#: The darkest ink must be at least this much darker than its paper (fraction of the paper's brightness).
MIN_CONTRAST = 0.08
#: Ruled lines must show in at least this fraction of the image's width (height, for vertical lines). (0.5 left
#: the lower half of a card's faint margin, under the writing's line, as 1s: `10+62+2+10+1=85` read with a leading
#: and a trailing `11`; 0.4: +1 on ex20-26, ex31-33, ws20, ws31, ±0 on the fresh ex34, ws34.)
RULE_SPAN = 0.4
#: Parts of the mask smaller than this many squared stroke widths are specks (a pen's dot is about one).
SPECK_AREA = 0.15
#: How much darker than along its whole length a ruled line may read in one stretch (see remove_ruled_lines).
RULE_STRETCH_CAP = 2.0
#: A line where evenly spaced lines already found put the next one need show in only this share of the
#: blank strips (others: 0.75; see find_rules).
GRID_SHOWING = 0.5
#: A part of the mask wholly within a ruled line's band and on average at most this many times as dark as the
#: line there is a scrap of the line (its noise peaks, left where the erasing kept the darker pixels).
RULE_SCRAP_DARKNESS = 2.5
RULE_SCRAP_LENGTH = 2.0
#: ... or, of any shape, smaller than this many squared stroke widths (a decimal point is larger).
RULE_SCRAP_SPECK = 0.8
#: ... and no darker on average than this share of the writing's typical darkness.
RULE_SCRAP_INK = 0.8
#: ... and lies no nearer than this many stroke widths to a part of the writing larger than RULE_SCRAP_WRITING
#: squared stroke widths (a decimal point or a minus on a rule stands beside its digits).
RULE_SCRAP_NEAR = 4.0
RULE_SCRAP_WRITING = 3.0
#: The thresholds are set without the pixels within this many background kernels of the desk found beyond a
#: photographed sheet's edge (see preprocess).
DESK_MARGIN = 0.25
#: A part of the mask with at least DESK_SLIVER_SHARE of its pixels within DESK_SLIVER_REACH stroke widths of the
#: desk found beyond a sheet is the sheet's edge (see desk_slivers).
DESK_SLIVER_SHARE = 0.6
DESK_SLIVER_REACH = 1.5
#: A sheet's edge whose desk was not found (see edge_steps): EDGE_STEP_PARTS thin parts or more within this share of
#: the image's width (height) of one side, with the desk's side at least EDGE_STEP_DESK of the ink's level dark
#: and the paper's at most EDGE_STEP_PAPER.
EDGE_STEP_ZONE = 0.1
EDGE_STEP_DESK = 0.05
EDGE_STEP_PAPER = 0.02
EDGE_STEP_PARTS = 3
EDGE_STEP_THICK = 2.0
#: Measure the paper's local noise without the ink's pixels (see _local_noise).
NOISE_WITHOUT_INK = True
#: Ink seeds where it is this share of the writing's darkness (its 97th percentile) ...
SEED_SHARE = 0.45
#: ... and grows down to this share (hysteresis).
GROW_SHARE = 0.3
#: A part that FAINT_SHARE of both thresholds finds apart from the ink found (see _faint_parts) is added ...
FAINT_SHARE = 0.65
#: ... where it holds this many stroke widths squared at least.
FAINT_AREA = 4.0
#: ... and one that touches only found ink of less than this share of its own area (specks of its own darkest
#: pixels, seeded by the page's thresholds) is added too, with them.
SPECK_SHARE = 0.25
#: A decimal point blurred to a soft dot (a phone's photo, a small pen dot) may peak below the page's seed
#: threshold while its strokes' neighbours pass it. A round mark seeded from POINT_SEED_SHARE of that threshold
#: (grown as the page's ink is), of POINT_MIN_AREA to POINT_MAX_AREA squared stroke widths, at most
#: POINT_MAX_SIDE stroke widths across, touching no ink found, with writing found within POINT_NEAR stroke widths
#: on its left and on its right, is added: a point between two digits.
POINT_SEED_SHARE = 0.75
POINT_MIN_AREA = 0.5
POINT_MAX_AREA = 4.0
POINT_MAX_SIDE = 3.0
POINT_NEAR = 6.0
#: Whether the faint search runs on ruled paper too (the rules' bands left out of it).
FAINT_ON_RULED = True
#: On a page larger than its analysis copy, where it is looked for: what this share of both thresholds finds there
#: (lower than FAINT_SHARE: a thin stroke is paler once the page is shrunk).
FAINT_WINDOW_SHARE = 0.35
#: A sliver along the image's edge (see edge_slivers) is at most this many stroke widths thick ...
EDGE_SLIVER_WIDTH = 1.5
#: ... at least this many times as long as it is thick ...
EDGE_SLIVER_LENGTH = 3.0
#: ... and the side past its ends is still darker than this fraction of the mask's weak threshold.
EDGE_FADE = 0.5
#: A side of the image along which the rough mask covers at least this share of the pixels may be a sheet's
#: edge (see sheet_edges). 0.3 missed the desk showing in a thin wedge down a quarter of one side of a turned
#: sheet: it set the ink level and a pencil page's thinner strokes fell under the thresholds.
EDGE_SIDE_SHARE = 0.2


@dataclass(frozen=True)
class Preprocessed:
    """What preprocessing found: the mask and the facts the later stages may want."""

    mask: np.ndarray  # bool H×W, True = ink, in page pixels
    inverted: bool  # the page was light writing on a dark ground
    angle: float  # the writing's angle in degrees, positive = lines rising to the right; not applied
    stroke: float  # typical stroke width in page pixels (0 when no ink)
    contrast: float  # typical ink darkness in [0, 1] relative to the paper (0 when no ink)
    rules_removed: int  # ruled/grid lines erased
    #: uint8 H×W darkness relative to the paper (0 = paper), after the ink colour and shadows are taken out: the
    #: evidence the mask was thresholded from, for checks that need more than yes/no (a faint bar of an =).
    darkness: np.ndarray | None = None
    #: Mask pixels per page pixel: not 1 where the page was read at a working scale (see ``max_stroke`` and
    #: ``min_stroke``); the mask, darkness and stroke are then in working pixels.
    scale: float = 1.0
    #: Where the image's own edge lies once the mask was turned level (see :func:`levelled`); None when not turned.
    edge: np.ndarray | None = None
    #: The boxes (x, y, w, h, in mask pixels) of the horizontal rules erased: a column sum's bar is sometimes one.
    rule_boxes: tuple[tuple[int, int, int, int], ...] = ()
    #: The boxes of lines found as rules but left on the page because a stacked fraction's bar lies on them (a row
    #: of fractions across a tight crop lines its bars up); the recognizer erases those no fraction it reads has.
    fraction_rules: tuple[tuple[int, int, int, int], ...] = ()


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


#: The share of a tile's variance its row (or column) means carry, above which the tile shows a band, not strokes.
BAND_SHARE = 0.8


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
    if th and tw:
        # A band across the whole tile (a board's frame along the photo's edge, a ruled line, the edge of a
        # sheet or a shadow) is no writing, however thin a minority it is: its rows' (or columns') means
        # alone carry nearly all of the tile's variance. Strokes end within a tile.
        grid = tiles.reshape(th * tw, tile, tile)
        banded = np.maximum(grid.mean(axis=2).var(axis=1), grid.mean(axis=1).var(axis=1)) > BAND_SHARE * var
        lively &= ~banded
    if not lively.any():
        return median(g) < 96.0
    skew = third[lively] / np.maximum(var[lively], 1e-6) ** 1.5
    # Strokes are a thin minority (strong skew); the edge of a board, a desk or a shadow splits a tile more
    # evenly (weak skew): only the skew beyond 1 counts, so a board's frame does not outvote its writing.
    vote = float((np.sign(skew) * np.clip(np.abs(skew) - 1.0, 0.0, 4.0)).sum())
    if abs(vote) < 0.5:
        return median(g) < 96.0
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


def sheet_edges(mask: np.ndarray, gray: np.ndarray, bg: np.ndarray, *, reach: int = 15, min_size: int = 8) -> np.ndarray:
    """Parts of an ink mask that are the dark side of a sheet's edge, not writing: the desk beyond a
    photographed page, where the background estimate still carries the paper's light.

    Writing has paper all around it. Along a sheet's edge the mask has the desk on its far side: many of
    the pixels just outside it are as dark as the mask itself. This is judged locally (within ``reach``
    px), so writing that touches the edge's band through a rule keeps its own pixels. A mask that covers a
    fifth of a side of the image (EDGE_SIDE_SHARE: the desk where the photo's edge cuts it) counts as well,
    near that side.
    """
    u8 = mask.view(np.uint8) if mask.dtype == bool else mask.astype(np.uint8)
    H, W = mask.shape
    out = np.zeros(mask.shape, bool)
    if not u8.any():
        return out
    k = (max(5, reach) | 1, max(5, reach) | 1)
    box = np.ones((3, 3), np.uint8)
    # The ring a little way out (blurred writing still has its own grey right beside it; paper soon).
    d = 3
    ring = (cv2.dilate(u8, np.ones((2 * d + 1, 2 * d + 1), np.uint8)) > 0) & (
        cv2.dilate(u8, np.ones((2 * d - 1, 2 * d - 1), np.uint8)) == 0)
    g = gray.astype(np.float32)
    m = u8.astype(np.float32)
    count = np.maximum(cv2.boxFilter(m, -1, k, normalize=False), 1.0)
    ink_grey = cv2.boxFilter(g * m, -1, k, normalize=False) / count
    # The paper's brightness where that ink is (a shadow dims both; beside a sheet's edge, the background
    # still carries the paper's light there).
    ink_paper = cv2.boxFilter(bg.astype(np.float32) * m, -1, k, normalize=False) / count
    # A ring pixel "as dark as the ink near it": closer to that ink's grey than to its paper's.
    as_dark = ring & (g <= ink_grey + 0.4 * np.maximum(ink_paper - ink_grey, 0.0))
    ring_d = cv2.boxFilter(ring.astype(np.float32), -1, k)
    dark_d = cv2.boxFilter(as_dark.astype(np.float32), -1, k)
    out = (u8 > 0) & (dark_d > 0.35 * ring_d) & (ring_d > 0.02)
    sides = (u8[0], u8[-1], u8[:, 0], u8[:, -1])
    full_sides = [side.mean() >= EDGE_SIDE_SHARE for side in sides]
    if not out.any() and not any(full_sides):
        return out  # (the parts below are labelled only where they are wanted: half the cost on a photo)
    n, labels, cc, _ = cv2.connectedComponentsWithStats(u8, connectivity=8)
    if out.any():
        # ... but only in parts whose own ring has some of that darkness: a digit written close to the
        # sheet's edge has paper all around it, though the desk lies within reach.
        near = cv2.dilate(labels.astype(np.float32), np.ones((2 * d + 1, 2 * d + 1), np.uint8)).astype(np.int64)
        own_ring = near[ring]
        rung = np.bincount(own_ring, minlength=n).astype(np.float64)
        dark_share = np.bincount(own_ring, weights=as_dark[ring], minlength=n) / np.maximum(rung, 1.0)
        out &= (dark_share >= 0.1)[labels]
    # A thin strip along a side (a desk's sliver, or a ruled line that happens to lie along the border) takes
    # the parts that run off it whole only where they stay near it; a part that reaches further in (a rule
    # joined by the margin to the whole page's writing) loses what lies within a quarter of ``reach`` only.
    t = max(3, reach // 4)
    top, left = cc[:, cv2.CC_STAT_TOP], cc[:, cv2.CC_STAT_LEFT]
    bottom, right = top + cc[:, cv2.CC_STAT_HEIGHT], left + cc[:, cv2.CC_STAT_WIDTH]
    for full, strip, edge, near, far in (
            (full_sides[0], u8[:t], labels[0], bottom <= reach, lambda r: (slice(0, r), slice(None))),
            (full_sides[1], u8[-t:], labels[-1], top >= H - reach, lambda r: (slice(H - r, H), slice(None))),
            (full_sides[2], u8[:, :t], labels[:, 0], right <= reach, lambda r: (slice(None), slice(0, r))),
            (full_sides[3], u8[:, -t:], labels[:, -1], left >= W - reach, lambda r: (slice(None), slice(W - r, W)))):
        if not full:
            continue
        touching = np.zeros(n, bool)
        touching[edge] = True
        touching[0] = False
        deep = strip.mean() >= 0.3  # the desk itself: the parts that run off this side, near it
        band = far(reach)
        out[band] |= (touching if deep else touching & near)[labels[band]]
        if not deep:
            band = far(t)
            out[band] |= touching[labels[band]]
    if not out.any():
        return out
    # Only sizeable stretches: a few stray ring pixels beside a blot are no sheet edge.
    n, labels, stats, _ = cv2.connectedComponentsWithStats(out.view(np.uint8), connectivity=8)
    big = stats[:, cv2.CC_STAT_AREA] >= min_size
    big[0] = False
    return cv2.dilate(big[labels].view(np.uint8), box) > 0


def _run_fades(profile: np.ndarray, start: int, stop: int, reach: int, low: float) -> bool:
    """Does a run ``profile[start:stop]`` along an image side fade out into its surroundings (the shading
    along a sheet's or a photo's edge) rather than end as a stroke does (paper within a stroke width)?

    Each end that is not the image's corner is looked at past ``reach`` pixels of blur: the run fades there
    if the side is still at least ``EDGE_FADE`` times the ink threshold ``low`` dark.
    """
    ends = []
    if start > 0:
        ends.append(profile[max(0, start - 3 * reach): max(0, start - reach)])
    if stop < len(profile):
        ends.append(profile[stop + reach: stop + 3 * reach])
    ends = [e for e in ends if len(e)]
    return bool(ends) and max(median(e) for e in ends) >= EDGE_FADE * low


def edge_slivers(mask: np.ndarray, dark: np.ndarray, stroke: float, low: float) -> np.ndarray:
    """Parts of an ink mask that are slivers of shading along the image's own edge, not writing.

    A photo's border often catches the sheet's edge or the lens's shading: a band a stroke or two wide,
    running along the side, that the thresholds cut into a short straight bar — read as a ``1`` at the end of
    a line. Such a part touches a side, is thin across it and long along it, and its darkness goes on
    fading along the side past its ends. A stroke that merely touches the border (a ``1`` of a tightly
    cropped image) ends as strokes do: paper along the side just beyond it.
    """
    out = np.zeros(mask.shape, bool)
    H, W = mask.shape
    depth = int(math.ceil(EDGE_SLIVER_WIDTH * max(stroke, 1.0))) + 1
    if H <= 2 * depth or W <= 2 * depth:
        return out
    reach = max(2, int(round(stroke)))
    # Each side as a strip (a view of the mask, the darkness and the output) whose row 0 is the image's
    # edge and whose rows run inward.
    for side in (lambda a: a, lambda a: a[::-1], lambda a: a.T, lambda a: a.T[::-1]):
        strip, dstrip, drop = side(mask)[:depth], side(dark)[:depth], side(out)[:depth]
        if not strip[0].any():
            continue
        n, labels, stats, _ = cv2.connectedComponentsWithStats(np.ascontiguousarray(strip).view(np.uint8),
                                                               connectivity=8)
        for i in np.unique(labels[0][labels[0] > 0]):  # the parts on the edge itself
            x, y, w, h = stats[i, :4]
            # Wholly within the strip (off its inner side) and a bar along the edge.
            if h >= depth or w < max(EDGE_SLIVER_LENGTH * h, 2.0 * stroke):
                continue
            profile = dstrip[:h].max(axis=0).astype(np.float32)
            if _run_fades(profile, int(x), int(x + w), reach, low):
                drop[:h, x: x + w] |= labels[:h, x: x + w] == i
    return out


def desk_slivers(mask: np.ndarray, desk: np.ndarray, stroke: float) -> np.ndarray:
    """Parts of the mask that lie along the edge of the desk found beyond a photographed sheet: at least
    DESK_SLIVER_SHARE of their pixels within DESK_SLIVER_REACH stroke widths of it (the sheet's edge, which
    the desk's blurred border leaves as a broken line of ink: read as a column of 1s)."""
    r = max(2, int(math.ceil(DESK_SLIVER_REACH * stroke)))
    band = cv2.dilate(desk.view(np.uint8), np.ones((2 * r + 1, 2 * r + 1), np.uint8)) > 0
    labels, total = _labelled(mask)
    if len(total) <= 1:
        return np.zeros(mask.shape, bool)
    near = np.bincount(labels[band & mask], minlength=len(total))
    drop = near >= DESK_SLIVER_SHARE * np.maximum(total, 1)
    drop[0] = False
    return drop[labels]


def edge_steps(mask: np.ndarray, dark: np.ndarray, stroke: float, level: float) -> np.ndarray:
    """Parts of the mask that are a sheet's edge where the desk beyond it was not found (a shadow over it): the
    parts in the outer EDGE_STEP_ZONE of the image along one side whose far side (towards that border), from 2 to
    6 stroke widths off, is free of ink but darker than paper (median at least EDGE_STEP_DESK of the ink's level)
    and whose near side is paper (mean at most EDGE_STEP_PAPER of it) -- where at least EDGE_STEP_PARTS of them
    are thin (at most EDGE_STEP_THICK stroke widths on average). Writing has paper on both sides; a desk narrower
    than the background kernel reads as darkness that the mask leaves out, and its edge as a broken line of ink.
    (A digit written against a dark frame is one such part, not a line of them.)"""
    out = np.zeros(mask.shape, bool)
    H, W = mask.shape
    zone_x, zone_y = EDGE_STEP_ZONE * W, EDGE_STEP_ZONE * H
    zx, zy = int(math.ceil(zone_x)), int(math.ceil(zone_y))
    if not (mask[:, :zx].any() or mask[:, W - zx:].any() or mask[:zy].any() or mask[H - zy:].any()):
        return out  # the writing keeps clear of the image's sides (most pages)
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.view(np.uint8), connectivity=8)
    r0, r1 = max(1, int(round(2 * stroke))), max(3, int(round(6 * stroke)))
    found: list[list[tuple[int, bool]]] = [[], [], [], []]  # per side of the image: right, left, bottom, top
    x_, y_, w_, h_ = (stats[:, k] for k in range(4))
    outer = (x_ + w_ > W - zone_x) | (x_ < zone_x) | (y_ + h_ > H - zone_y) | (y_ < zone_y)
    for i in np.flatnonzero(outer[1:]) + 1:
        x, y, w, h, area = (int(v) for v in stats[i])
        thin = area <= EDGE_STEP_THICK * stroke * max(w, h)  # an edge's sliver, not a digit's worth of ink
        rows, cols = slice(y, y + h), slice(x, x + w)
        sides = (  # (the side, the far band, the near band)
            (0, x + w > W - zone_x, (rows, slice(x + w + r0, x + w + r1)), (rows, slice(max(0, x - r1), max(0, x - r0)))),
            (1, x < zone_x, (rows, slice(max(0, x - r1), max(0, x - r0))), (rows, slice(x + w + r0, x + w + r1))),
            (2, y + h > H - zone_y, (slice(y + h + r0, y + h + r1), cols), (slice(max(0, y - r1), max(0, y - r0)), cols)),
            (3, y < zone_y, (slice(max(0, y - r1), max(0, y - r0)), cols), (slice(y + h + r0, y + h + r1), cols)))
        for side, close, far, near in sides:
            if not close:
                continue
            d_far, d_near = dark[far], dark[near]
            if d_far.size < 4 or d_near.size < 4 or mask[far].mean() > 0.02:
                continue
            if median(d_far) >= EDGE_STEP_DESK * level and float(d_near.mean()) <= EDGE_STEP_PAPER * level:
                found[side].append((i, thin))
    for parts in found:
        if sum(thin for _, thin in parts) >= EDGE_STEP_PARTS:
            drop = np.zeros(n, bool)
            drop[[i for i, _ in parts]] = True
            out |= drop[labels]
    return out


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
    return median(2.0 * area[big] / np.maximum(edge[big], 1.0))


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
    # ... unless the writing is a sliver of a large photo, lost among the paper's grain above the floor:
    # then the darkest few hundred pixels tell.
    top = max(30.0, 0.0005 * hist.sum())
    from_top = np.cumsum(hist[::-1])
    level = max(level, float(255 - np.searchsorted(from_top, top)))
    # Ink must stand well clear of the paper's noise and be at least faintly visible.
    if level < max(2.0 * floor, MIN_CONTRAST * 255.0):
        return None
    high = max(SEED_SHARE * level, floor + 6.0)
    if np.count_nonzero(dark >= high) < 8:
        return None
    low = max(GROW_SHARE * level, floor)
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


def _local_noise(gray: np.ndarray, bg: np.ndarray, overall: float, kernel: int,
                 ink: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The paper's noise in grey levels around each pixel (float32 maps): the RMS of gray − background over a
    window a few kernels wide, clipped at four times the image's overall noise. A dark desk, a deep shadow or
    a heavily compressed corner is noisier than clean paper. Returned twice: as measured, and with the pixels
    of a rough ``ink`` mask left out of the window, where the window is not mostly ink (a point among digits
    must not be held to the noise their strokes would make); the same map twice without a mask."""
    d = gray.astype(np.float32) - bg.astype(np.float32)
    clip = 4.0 * overall
    np.clip(d, -clip, clip, out=d)
    win = _odd(max(15, 3 * kernel))
    d *= d
    h, w = d.shape
    # The window is wide and the map smooth: averaged over blocks of a few pixels first, then blurred.
    k = max(1, min(win // 8, h // 8, w // 8))
    size = (max(1, w // k), max(1, h // k))

    def smooth(a: np.ndarray) -> np.ndarray:  # on the block grid
        small = cv2.resize(a, size, interpolation=cv2.INTER_AREA) if k > 1 else a
        return cv2.blur(small, (_odd(win / k), _odd(win / k)), borderType=cv2.BORDER_REFLECT)

    def full(a: np.ndarray) -> np.ndarray:
        return cv2.resize(a, (w, h), interpolation=cv2.INTER_LINEAR) if k > 1 else a

    var = smooth(d)
    floor = overall * overall * 0.25
    noise = full(np.sqrt(np.maximum(var, floor)))
    if ink is None or not ink.any():
        return noise, noise
    paper = (~ink).astype(np.float32)
    share = smooth(paper)
    d *= paper
    on_paper = np.where(share >= 0.25, smooth(d) / np.maximum(share, 1e-6), var)
    return noise, full(np.sqrt(np.maximum(np.minimum(on_paper, var), floor)))


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


def estimate_skew(mask: np.ndarray, max_angle: float | None = None, max_points: int = 3_000) -> float:
    """The writing's dominant angle in degrees, from the sharpness of its row projection: positive when the
    lines rise to the right (the page is turned counter-clockwise; ``cv2.getRotationMatrix2D(c, -angle, 1)``
    levels it)."""
    max_angle = MAX_SKEW if max_angle is None else max_angle
    flat = np.flatnonzero(mask)
    if len(flat) < 20:
        return 0.0
    if len(flat) > max_points:
        flat = flat[(np.arange(max_points) * (len(flat) / max_points)).astype(np.int64)]
    ys, xs = np.divmod(flat, mask.shape[1])
    coarse, _ = _projection_angle(ys, xs, np.arange(-max_angle, max_angle + 1e-9, 1.0))
    fine, _ = _projection_angle(ys, xs, np.arange(coarse - 0.8, coarse + 0.8 + 1e-9, 0.2))
    return -round(fine, 2)


def turn_to_fit(shape: tuple[int, ...], degrees: float) -> tuple[np.ndarray, tuple[int, int]]:
    """The 2×3 matrix that turns an image of ``shape`` (height, width, ...) ``degrees`` counter-clockwise about
    its centre onto a canvas grown to hold all of it, and that canvas's (width, height)."""
    h, w = shape[:2]
    turn = cv2.getRotationMatrix2D((w / 2.0, h / 2.0), degrees, 1.0)
    cos, sin = abs(turn[0, 0]), abs(turn[0, 1])
    size = (int(math.ceil(h * sin + w * cos)), int(math.ceil(h * cos + w * sin)))
    turn[0, 2] += size[0] / 2.0 - w / 2.0
    turn[1, 2] += size[1] / 2.0 - h / 2.0
    return turn, size


def levelled(pre: Preprocessed, angle: float) -> tuple[Preprocessed, np.ndarray]:
    """``pre`` with its mask and darkness turned by ``-angle`` degrees, so that writing at ``angle`` (as
    :func:`estimate_skew` gives it) runs level, the canvas grown to hold all of it; and the 2×3 matrix that takes
    levelled pixels back to ``pre``'s. (The mask is turned, not the photo: a photo's turned corners would be new
    edges to find.)"""
    turn, size = turn_to_fit(pre.mask.shape, -angle)
    mask = cv2.warpAffine(pre.mask.view(np.uint8) * np.uint8(255), turn, size, flags=cv2.INTER_LINEAR) >= 128
    darkness = (None if pre.darkness is None else
                cv2.warpAffine(pre.darkness, turn, size, flags=cv2.INTER_LINEAR))
    # The image's edge, turned: a band a few pixels wide along the outline of what the photo shows (a desk's
    # edge cut by the photo's border touches it there, as it touched the border).
    inside = cv2.warpAffine(np.ones(pre.mask.shape, np.uint8), turn, size, flags=cv2.INTER_NEAREST)
    edge = (cv2.dilate(inside, np.ones((3, 3), np.uint8)) > 0) & (cv2.erode(inside, np.ones((5, 5), np.uint8)) == 0)
    return (dataclasses.replace(pre, mask=mask, darkness=darkness, angle=pre.angle - angle, edge=edge),
            cv2.invertAffineTransform(turn))


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


@dataclass(frozen=True)
class Rule:
    """A long straight line found across the page: ``axis`` 0 runs left to right, 1 top to bottom. Along
    the line, at positions ``along``, it lies at ``across`` (pixels of the image it was found in)."""

    axis: int
    along: np.ndarray
    across: np.ndarray
    half: float  # half its thickness
    contrast: float  # how much darker than the paper beside it (darkness units)
    angle: float = 0.0  # degrees: across ≈ offset + along · tan(angle)

    def scaled(self, factor: float) -> "Rule":
        return Rule(self.axis, self.along * factor, self.across * factor, self.half * factor, self.contrast,
                    self.angle)

    def at(self, along: np.ndarray) -> np.ndarray:
        return np.interp(along, self.along, self.across)


def find_rules(dark: np.ndarray, *, stroke: float = 2.0, ink_level: float = 255.0,
               min_fraction: float | None = None, off_sheet: np.ndarray | None = None) -> list[Rule]:
    """Long straight thin lines (notebook rules, squared paper, a margin, a printed frame) in a darkness
    image, horizontal and vertical, even faint and broken ones.

    The image is cut into strips across the lines' direction; each strip's mean profile shows a line as a
    narrow peak. At the best angle a line is a row where most strips peak together; its exact place is then
    followed strip by strip (a photographed page is seldom perfectly flat). Vertical lines are searched at
    their own angle: in a photo taken at a slant a margin is not square to the rules.

    A row of writing can peak in many strips too (the bars of = and -, the stems of 1s in a short crop), so a
    line must also show in the strips where nothing else is drawn just above or below it; where something
    is all along, it must show nearly everywhere and evenly. ``min_fraction`` defaults to RULE_SPAN (read at
    call time, so that a tool may set it). ``off_sheet`` (boolean, the shape of ``dark``) marks the desk beyond a
    photographed sheet: a line that runs across the sheet is a rule however much of the photo the desk fills.
    """
    min_fraction = RULE_SPAN if min_fraction is None else min_fraction
    d = np.asarray(dark, np.float32)
    if off_sheet is not None and not off_sheet.any():
        off_sheet = None
    rules = _find_lines(d, 0, stroke, ink_level, min_fraction, off_sheet)
    more = _find_lines(d, 1, stroke, ink_level, min_fraction, off_sheet)
    return rules + more


def _coarse_angle(profiles: np.ndarray, centres: np.ndarray) -> float:
    """The angle (±8°, to a quarter degree) at which strip profiles line up best, computed on half as many
    strips and rows (the fine search follows)."""
    s, h = profiles.shape
    prof = profiles[: s // 2 * 2].reshape(s // 2, 2, h).mean(axis=1)
    prof = prof[:, : h // 2 * 2].reshape(s // 2, h // 2, 2).mean(axis=2)
    cen = centres[: s // 2 * 2].reshape(-1, 2).mean(axis=1) / 2.0  # in half-rows
    n_s, n = prof.shape
    reach = int(math.ceil(cen[-1] * math.tan(math.radians(MAX_RULE_ANGLE)))) + 2
    windows = sliding_window_view(np.pad(prof, ((0, 0), (reach, reach)), mode="edge"), n, axis=1)
    idx_s = np.arange(n_s)[None, :]

    def best(angles: np.ndarray) -> float:
        shifts = np.rint(cen[None, :] * np.tan(np.radians(angles))[:, None]).astype(np.int64)
        g = windows[idx_s, shifts + reach]  # angles × strips × rows: whole rows copied, not single values
        ext = np.pad(g, ((0, 0), (0, 0), (3, 3)), mode="edge")
        pk = np.maximum(g - np.maximum(ext[..., :n], ext[..., 6:]), 0.0).sum(axis=1)
        return float(angles[int(np.argmax(np.square(pk).sum(axis=1)))])

    coarse = best(np.arange(-8.0, 8.01, 1.0))
    return best(np.arange(coarse - 0.75, coarse + 0.76, 0.25))


#: A line that shows in at least RULE_CLEAN_SHOWING of the strips where nothing is written beside it, at least
#: RULE_CLEAN_STRIPS of them, is a rule even where it does not run on past the writing (see _find_lines).
RULE_CLEAN_STRIPS = 6
RULE_CLEAN_SHOWING = 0.9
#: A line that does not run across (nine tenths of) the image must be at least this many stroke widths long: a
#: straight stroke of writing (a 1 in a short crop) is shorter. (30 read a small card's red margin, 40 strokes of
#: the photo's height, as a rule, +1 line on ex20–23 — and erased the 1 of a 61 drawn on a phone's pad.)
RULE_MIN_LENGTH = 40.0
#: Four lines or more found at least this many peak reaches apart (5 rows each) make a grid: a line where its
#: pitch puts one is taken on less evidence (GRID_SHOWING), and may come and go along its length (a faint grid in
#: a JPEG) without being taken for a row of bars. Was 3: seed 44's image 303, a fine grid (12 rows) under faint
#: pencil, kept a third of its lines and read as lines of hundreds of scraps. The saved sets read the same.
GRID_MIN_PITCH = 2.0
#: The steepest rule looked for (the searches reach 8.75°), with a margin: the profiles are padded for it.
MAX_RULE_ANGLE = 10.0


def _find_lines(d: np.ndarray, axis: int, stroke: float, ink_level: float, min_fraction: float,
                off_sheet: np.ndarray | None = None) -> list[Rule]:
    """The rules of one direction in ``d``: ``axis`` 0 rows (horizontal lines), 1 columns (vertical ones, found
    as the rows of the transposed image, without making it)."""
    h, w = d.shape[::-1] if axis else d.shape
    n_strips = int(min(32, w // 12))
    if n_strips < 6 or h < 12:
        return []
    sw = w // n_strips
    if axis == 0:
        profiles = d[:, : n_strips * sw].reshape(h, n_strips, sw).mean(axis=2).T  # strips × rows
    else:
        profiles = d[: n_strips * sw].reshape(n_strips, sw, h).mean(axis=1)
    centres = (np.arange(n_strips) + 0.5) * sw
    # Aligned row j is the line through row j − reach at the left edge: a tilted line may leave the image.
    reach = int(math.ceil(w * math.tan(math.radians(MAX_RULE_ANGLE)))) + 4
    n = h + 2 * reach
    outside = -1e6
    windows = sliding_window_view(np.pad(profiles, ((0, 0), (2 * reach, 2 * reach)), constant_values=outside), n,
                                  axis=1)
    strips = np.arange(n_strips)
    gap = 5  # a line is a peak narrower than this many rows on each side (blurred rules are thick)

    def aligned(angles: np.ndarray) -> np.ndarray:
        """Strip profiles shifted so that lines at each angle line up: angles × strips × rows."""
        shifts = np.rint(centres[None, :] * np.tan(np.radians(angles))[:, None]).astype(np.int64)
        return windows[strips[None, :], shifts + reach]

    def peaks(g: np.ndarray) -> np.ndarray:
        # How much a row stands above the rows `gap` away on either side (one side at the image's edges).
        pad = [(0, 0)] * (g.ndim - 1) + [(gap, gap)]
        ext = np.pad(g, pad, constant_values=outside)
        return g - np.maximum(ext[..., :n], ext[..., 2 * gap :])

    def best(angles: np.ndarray) -> float:
        prof = np.maximum(peaks(aligned(angles)), 0.0).sum(axis=1)
        prof = np.minimum(prof, 1e5)  # a row whose sides lie outside the image is no line
        return float(angles[int(np.argmax(np.square(prof).sum(axis=1)))])

    mid = _coarse_angle(profiles, centres)
    # The search around it stays inside the angles the padding was made for (a coarse 8.75° + 0.2°).
    mid = float(np.clip(mid, -MAX_RULE_ANGLE + 0.5, MAX_RULE_ANGLE - 0.5))
    angle = best(np.arange(mid - 0.2, mid + 0.21, 0.1))
    g0 = aligned(np.array([angle]))[0]
    p0 = peaks(g0)
    inside0 = (g0 > outside / 2) & (p0 < 1e5)
    valid = p0[inside0]
    if not len(valid):
        return []
    noise = float(np.median(np.abs(valid - np.median(valid)))) * 1.4826 + 0.25
    thr = max(2.5 * noise, 0.75)  # per strip; a line needs most strips at once, which noise never does
    found: list[Rule] = []
    middle = len(centres) // 2
    short = w < 40.0 * stroke

    def on_grid(place: float) -> bool:
        """Whether a row at ``place`` (across, mid-image) falls where squared or ruled paper's evenly spaced
        lines, found already, put the next one: such a line may bend out of the aligned row in some strips
        of a photo (a page's curl), and is taken on less evidence."""
        if len(found) < 4:
            return False
        at = np.sort([float(r.across[middle]) for r in found])
        pitch = median(np.diff(at))
        if pitch < GRID_MIN_PITCH * gap:
            return False
        steps = (place - at) / pitch
        near = np.abs(steps - np.rint(steps)) * pitch <= 0.15 * pitch
        return bool((near & (np.abs(np.rint(steps)) >= 1) & (np.abs(np.rint(steps)) <= 2)).sum() >= 1)

    def detect(a: float, g: np.ndarray, p: np.ndarray, inside: np.ndarray) -> None:
        pz = np.where(inside, p, -np.inf)
        pn = pz
        if short:
            # Across a short extent (a tight crop's height) a strip shows the line if it peaks at the aligned
            # row or one beside it: the writing's strokes fill much of such a crop and pull the angle search
            # a few tenths of a degree off, and a line a pixel thin is then missed by the strips at its ends.
            pn = np.maximum(pz, np.maximum(np.pad(pz[:, 1:], ((0, 0), (0, 1)), constant_values=-np.inf),
                                           np.pad(pz[:, :-1], ((0, 0), (1, 0)), constant_values=-np.inf)))
        above = inside & (pn > thr)
        support = above.mean(axis=0)
        strength = np.where(above, pn, 0.0).sum(axis=0) / np.maximum(above.sum(axis=0), 1)
        # Writing near a row: the profile is not flat a little above or below it (a rule of the other
        # direction only lifts the whole strip evenly).
        g32 = np.ascontiguousarray(g, np.float32)
        bar = np.ones((1, 2 * (gap // 2) + 1), np.uint8)
        spread = cv2.dilate(g32, bar) - cv2.erode(g32, bar)  # over rows r ± gap//2
        off = gap + gap // 2 + 1  # windows centred this far above and below
        ext = np.pad(spread, ((0, 0), (off, off)), mode="edge")
        busy = np.maximum(ext[:, : n], ext[:, 2 * off :]) > 2.0 * thr
        score_row = support * strength
        # Strongest rows first; a row of writing beside a rule may out-score it, fail the tests below, and
        # must not hide it.
        rows_ok = np.flatnonzero(support >= min_fraction)
        candidates = rows_ok[np.argsort(-score_row[rows_ok], kind="stable")]
        t = math.tan(math.radians(a))
        shifts = np.rint(centres * t).astype(np.int64)
        rejected: list[int] = []
        exact = np.where(inside & (pz > thr), pz, 0.0).sum(axis=0) if short else None
        for j in candidates:
            if exact is not None:  # the line's own row: the tolerant support ties it with the rows beside it
                j = max(j - 1, 0) + int(np.argmax(exact[max(j - 1, 0) : j + 2]))
            if any(abs(r.across[middle] - (j - reach + shifts[middle])) <= gap for r in found):
                continue
            if any(abs(j - q) <= 1 for q in rejected):
                continue  # the next row of a row of writing already turned down
            # (Only between the first and last strips where it shows: a sheet may not fill the photo.)
            shown = np.flatnonzero(above[:, j])
            length = (shown.max() - shown.min() + 1) * sw
            if length < 0.9 * _sheet_extent(off_sheet, axis, centres, j - reach + shifts, sw, w) and (
                length < RULE_MIN_LENGTH * stroke
            ):
                rejected.append(j)
                continue  # a straight stroke of writing (a 1 in a short crop), not a line across
            span = np.zeros(n_strips, bool)
            span[shown.min() : shown.max() + 1] = True
            clean = inside[:, j] & ~busy[:, j] & span
            # A rule runs on past the writing beside it; a row of bars stops where the writing does. (Unless it
            # shows across the blank paper between: a margin that fades out near the sheet's ends, beside which
            # lines are written from top to bottom.)
            near_writing = np.flatnonzero(busy[:, j] & inside[:, j])
            plain = clean.sum() >= RULE_CLEAN_STRIPS and above[clean, j].mean() >= RULE_CLEAN_SHOWING
            if len(near_writing) and not plain:
                outer = np.ones(n_strips, bool)
                outer[max(near_writing.min() - 1, 0) : near_writing.max() + 2] = False
                outer &= inside[:, j]
                if outer.sum() >= 2 and (above[:, j] & outer).sum() < 2:
                    rejected.append(j)
                    continue
            if clean.sum() >= 3:
                grid = on_grid(j - reach + shifts[middle])
                if above[clean, j].mean() < (GRID_SHOWING if grid else 0.75):
                    rejected.append(j)
                    continue  # it does not show on blank paper: a row of writing (bars of - = +)
                vals = pn[clean, j]
                if not grid and vals.max() >= 0.5 * ink_level and np.mean(vals < 0.2 * np.percentile(vals, 75)) >= 0.2:
                    rejected.append(j)
                    continue  # as dark as the ink in some blank stretches, absent in others: bars in a row
            else:
                vals = pn[above[:, j], j]
                if support[j] < 0.9 or float(np.std(vals)) > 0.5 * float(np.mean(vals)):
                    rejected.append(j)
                    continue  # writing all along: only an even, unbroken line counts
            # Follow the line strip by strip: the peak within two rows of the aligned row.
            lo, hi = max(j - 2, 0), min(j + 3, n)
            local = pz[:, lo:hi]
            offs = (lo + np.argmax(local, axis=1)).astype(np.float64)
            ok = local.max(axis=1) > thr
            if ok.sum() < 2:
                continue
            # Writing along the line can pull some strips' peaks off it: a robust quadratic through the
            # strips' peaks (a photographed page may bend a little), outliers dropped twice.
            xs_ok, ys_ok = centres[ok], offs[ok] + shifts[ok]
            keep = np.ones(len(xs_ok), bool)
            coef = np.array([0.0, 0.0, median(ys_ok)])
            for _ in range(3):
                if keep.sum() >= 6:
                    coef = np.polyfit(xs_ok[keep] / w, ys_ok[keep], 2)
                elif keep.any():
                    coef = np.array([0.0, 0.0, median(ys_ok[keep])])
                keep = np.abs(np.polyval(coef, xs_ok / w) - ys_ok) <= 1.0
            across = np.polyval(coef, centres / w) - reach
            if any(abs(r.across[middle] - across[middle]) <= gap for r in found):
                continue  # found already (at another angle)
            if median(np.minimum(across, h - 1 - across)) < 1.0 and strength[j] < 3.0 * thr:
                continue  # a faint darkening of the image's own edge row
            # Thickness: rows around the peak above half its height, in the mean aligned profile.
            rows_ok = g[ok]
            real = rows_ok > outside / 2
            mean_prof = np.where(real, rows_ok, 0.0).sum(axis=0) / np.maximum(real.sum(axis=0), 1)
            base = 0.5 * (mean_prof[max(j - gap, 0)] + mean_prof[min(j + gap, n - 1)])
            top = mean_prof[j] - base
            k = 0
            while k < 4 and j - k - 1 >= 0 and j + k + 1 < n and (
                mean_prof[j - k - 1] - base > 0.5 * top or mean_prof[j + k + 1] - base > 0.5 * top
            ):
                k += 1
            found.append(Rule(axis, centres.copy(), across, k + 0.5, float(strength[j]), a))

    detect(angle, g0, p0, inside0)
    if len(found) >= 3:
        # Ruled paper: in a photo taken at a slant, rules far from the best-aligned ones run at other angles.
        others = np.concatenate([angle + np.arange(-1.5, -0.05, 0.3), angle + np.arange(0.3, 1.55, 0.3)])
        for a, g in zip(others, aligned(others)):
            p = peaks(g)
            detect(float(a), g, p, (g > outside / 2) & (p < 1e5))
        found.sort(key=lambda r: float(r.across[middle]))
    # Lines along a short extent (a tight crop's height) must be long against the writing, or repeat.
    if short and len(found) < 3:
        found = [rule for rule in found if rule.contrast < 0.6 * ink_level]
    return found


def _sheet_extent(off_sheet: np.ndarray | None, axis: int, along: np.ndarray, across: np.ndarray, step: int,
                  extent: int) -> float:
    """How long a line through the points (``along``, ``across``; one per strip, ``step`` apart) runs on the
    sheet: the whole ``extent`` where no desk was found, else the strips whose point lies off the desk."""
    if off_sheet is None:
        return float(extent)
    a = np.clip(np.rint(along).astype(np.int64), 0, extent - 1)
    c = np.rint(across).astype(np.int64)
    inside = (c >= 0) & (c < off_sheet.shape[axis])
    rows, cols = (c, a) if axis == 0 else (a, c)
    on = np.zeros(len(a), bool)
    on[inside] = ~off_sheet[rows[inside], cols[inside]]
    return float(on.sum() * step)


def rule_bands(shape: tuple[int, int], rules: list[Rule], stroke: float) -> np.ndarray:
    """The pixels of an image of ``shape`` that lie on one of ``rules`` (in its pixels), a stroke width or
    two pixels (whichever is more) beyond each line's own thickness, from edge to edge."""
    band = np.zeros(shape, np.uint8)
    H, W = shape
    for rule in rules:
        extent = W if rule.axis == 0 else H
        along = np.linspace(0.0, extent - 1.0, max(2, extent // 16 + 1))
        across = rule.at(along)
        pts = np.stack([along, across] if rule.axis == 0 else [across, along], axis=1)
        width = int(math.ceil(2.0 * (rule.half + max(2.0, stroke)))) + 1
        cv2.polylines(band, [np.rint(pts).astype(np.int32).reshape(-1, 1, 2)], False, 1, thickness=width)
    return band > 0


def _on_lines(rules: list[Rule], across: np.ndarray, along: np.ndarray) -> np.ndarray:
    """Which points lie on one of ``rules`` (all of one direction): ``along`` and ``across`` are the points'
    places along and across those lines."""
    on = np.zeros(len(along), bool)
    for rule in rules:
        on |= np.abs(across - rule.at(along)) <= rule.half + 2.0
    return on


def _nan_median(a: np.ndarray, axis: int) -> np.ndarray:
    """np.nanmedian, NaN where a slice is all NaN; by one sort (np.nanmedian on many short slices is slow)."""
    s = np.sort(np.moveaxis(a, axis, -1), axis=-1)  # NaN last
    n = np.count_nonzero(~np.isnan(s), axis=-1)
    lo = np.maximum((n - 1) // 2, 0)[..., None]
    hi = np.maximum(n // 2, 0)[..., None]
    mid = 0.5 * (np.take_along_axis(s, lo, axis=-1) + np.take_along_axis(s, hi, axis=-1))[..., 0]
    return np.where(n > 0, mid, np.nan)


def _nan_max(a: np.ndarray, axis: int) -> np.ndarray:
    """np.nanmax, NaN (without a warning) where a slice is all NaN."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmax(a, axis=axis)


def remove_ruled_lines(
    weak: np.ndarray,
    dark: np.ndarray,
    rules: list[Rule],
    ink_level: float,
    *,
    rgb: np.ndarray | None = None,
    solid: np.ndarray | None = None,
    off_sheet: np.ndarray | None = None,
    stroke: float = 0.0,
) -> np.ndarray:
    """Erase ``rules`` (in these image's pixels) from the ``weak`` ink mask, except where strokes cross or
    rest on them (ink in ``solid`` just beside the line) or ink clearly darker than the line lies along
    it. Given the colour image, ink of another colour than a coloured rule (grey pencil on a blue line) is
    kept too. ``off_sheet`` marks what lies beyond a photographed sheet's edge (its darkness set to 0): the
    line's darkness is measured on the sheet only."""
    out = weak.copy()
    if not rules:
        return out
    H, W = weak.shape
    solid_flat = (solid if solid is not None else weak).ravel()
    flat = np.flatnonzero(weak)
    if not len(flat):
        return out
    rows, cols = np.divmod(flat, W)
    out_flat = out.ravel()
    weak_flat = weak.ravel()
    dark_flat = dark.ravel()
    rgb_flat = rgb.reshape(-1, 3) if rgb is not None and rgb.ndim == 3 and rgb.shape[2] == 3 else None
    paper = np.median(_chroma(rgb_flat[:: max(1, rgb_flat.shape[0] // 4000)]), axis=0) if rgb_flat is not None else None
    band_dark = np.zeros(len(flat), np.float32)  # per weak pixel: the darkness of the line whose band holds it
    band_axis = np.zeros(len(flat), np.int8)  # ... and that line's direction (Rule.axis)
    band_width = np.zeros(len(flat), np.float32)  # ... and thickness (px)
    for axis in (0, 1):
        group = [r for r in rules if r.axis == axis]
        crossing = [r for r in rules if r.axis != axis]  # lines across these ones
        if not group:
            continue
        ys, xs, h = (rows, cols, H) if axis == 0 else (cols, rows, W)
        # Points sorted by their place across the lines at the lines' common angle: each line is a slice.
        t = math.tan(math.radians(group[0].angle))
        key = ys - xs * t
        order = np.argsort(key, kind="stable")
        sorted_key = key[order]
        for rule in group:
            offsets = rule.across - rule.along * t
            reach = rule.half + 6.0
            lo, hi = np.searchsorted(sorted_key, [offsets.min() - reach, offsets.max() + reach])
            cand = order[lo:hi]
            if not len(cand):
                continue
            pos = rule.at(xs[cand].astype(np.float64))
            dist = ys[cand] - pos
            # The line's thickness here, at full resolution (a rule found on a smaller copy is only known
            # to a pixel or so): the offsets about its place where the darkness along it, taken as the
            # median along its length (writing beside it is a small part of that length), stands high.
            extent = W if axis == 0 else H
            along = np.arange(0, extent, 2, dtype=np.float64)
            centre_line = rule.at(along)
            offs = np.arange(-int(reach), int(reach) + 1)
            across_px = np.clip(np.rint(centre_line[None, :] + offs[:, None]).astype(np.int64), 0, h - 1)
            along_px = np.broadcast_to(along.astype(np.int64)[None, :], across_px.shape)
            samples = dark[across_px, along_px] if axis == 0 else dark[along_px, across_px]
            median = np.median
            if off_sheet is not None:
                beyond = off_sheet[across_px, along_px] if axis == 0 else off_sheet[along_px, across_px]
                if beyond.any():
                    # A stretch that runs off the sheet would read as faint as the desk's zeros, and keep
                    # the line's pixels on the sheet beside it.
                    samples = np.where(beyond, np.nan, samples.astype(np.float32))
                    median = _nan_median
            profile = median(samples, axis=1).astype(np.float64)
            centre = int(reach)
            base = 0.5 * (profile[0] + profile[-1])
            peak_at = centre - 2 + int(np.argmax(profile[centre - 2 : centre + 3]))
            half_height = base + 0.5 * (profile[peak_at] - base)
            a = b = peak_at
            while a - 1 >= 0 and profile[a - 1] >= half_height:
                a -= 1
            while b + 1 < len(profile) and profile[b + 1] >= half_height:
                b += 1
            lo_d = max(min(a - centre, -rule.half), -rule.half - 3.0) - 1.0
            hi_d = min(max(b - centre, rule.half), rule.half + 3.0) + 1.0
            keep = (dist >= lo_d - 0.5) & (dist <= hi_d + 0.5)
            sel, at = cand[keep], pos[keep]
            if not len(sel):
                continue
            half = 0.5 * (hi_d - lo_d)
            lp = at + 0.5 * (hi_d + lo_d)  # the band's own centre
            ly, lx = ys[sel], xs[sel]
            # Keep pixels where clearly dark ink continues just above or below the line (a line crossing this
            # one, such as a margin across the rules, is no ink continuing).
            # Where the band is wider than the line measured here (a rule found on a smaller copy is known only
            # to a few pixels), ink beyond the band continues the line's only if no paper lies between: a
            # digit's tip a few pixels off a margin does not keep the margin beside it.
            near = np.zeros(len(sel), bool)
            for side, edge, measured in ((-1.0, lo_d, a - centre), (1.0, hi_d, b - centre)):
                reaches = np.ones(len(sel), bool)
                for k in range(int(abs(measured)) + 2, int(abs(edge)) + 1):
                    yy = np.rint(at + side * k).astype(np.int64)
                    ok = (yy >= 0) & (yy < h)
                    where = yy[ok] * W + lx[ok] if axis == 0 else lx[ok] * W + yy[ok]
                    reaches[ok] &= weak_flat[where]
                for off in (half + 1.0, half + 2.0):
                    yy = np.rint(lp + side * off).astype(np.int64)
                    ok = (yy >= 0) & (yy < h) & reaches
                    where = yy[ok] * W + lx[ok] if axis == 0 else lx[ok] * W + yy[ok]
                    hit = solid_flat[where]
                    if crossing and hit.any():
                        hit &= ~_on_lines(crossing, lx[ok].astype(np.float64), yy[ok].astype(np.float64))
                    near[ok] |= hit
            alone = ~near
            if not alone.any():
                continue
            v = dark_flat[flat[sel]]
            # The line's own darkness, measured along it in stretches (a shadow can fall across it): the
            # median of the darkness on its core rows, writing being a small part of each stretch. (Faint
            # rules may not be in the mask at all; then only ink lies in the band, and it stays.)
            chunk = max(32, extent // 12)
            # (Per stretch, the darkest of the band's rows: the line may sit a pixel or two off the fit.)
            core_rows = samples[max(int(centre + lo_d), 0) : min(int(centre + hi_d), len(offs) - 1) + 1]
            per = max(1, chunk // 2)  # samples per stretch (one every 2 px)
            full = core_rows.shape[1] // per
            medians = []
            if full:
                medians.append(median(core_rows[:, : full * per].reshape(len(core_rows), full, per), axis=2))
            if core_rows.shape[1] > full * per:
                medians.append(median(core_rows[:, full * per :], axis=1)[:, None])
            top = np.max if median is np.median else _nan_max
            local_by_chunk = top(np.concatenate(medians, axis=1), axis=0)
            chunk = per * 2
            n_chunks = len(local_by_chunk)
            line_dark = float(np.nan_to_num(top(median(core_rows, axis=1), axis=0)))
            local_by_chunk = np.where(np.isnan(local_by_chunk), line_dark, local_by_chunk)
            # Writing resting on the line along much of a stretch (a row of digits' bases on it) can make that
            # stretch's median the ink's darkness: a line is about as dark all along, so a stretch may read at
            # most RULE_STRETCH_CAP times its median over the whole length.
            local_by_chunk = np.minimum(local_by_chunk, RULE_STRETCH_CAP * max(line_dark, 1.0))
            local = local_by_chunk[np.minimum(lx // chunk, n_chunks - 1)]
            band_dark[sel] = np.maximum(band_dark[sel], local)
            band_axis[sel] = axis
            band_width[sel] = np.maximum(band_width[sel], b - a + 1)
            margin = np.maximum(0.15 * ink_level, 0.5 * local)
            # How much of a pixel is this line (1) rather than paper (0): by colour where the line has one.
            share: np.ndarray | float = 1.0
            if rgb_flat is not None and paper is not None:
                c = _chroma(rgb_flat[flat[sel]])
                strong_core = alone & (v >= 0.7 * line_dark) & (np.abs(ly - lp) <= max(half - 1.0, 0.5))
                if np.count_nonzero(strong_core) >= 10:
                    seg = np.median(c[strong_core], axis=0) - paper
                    norm2 = float(np.dot(seg, seg))
                    if norm2 > 0.08**2:
                        share = np.clip((c - paper) @ seg / norm2, 0.0, 1.0)
            drop = alone & (v <= share * local + margin)
            out_flat[flat[sel[drop]]] = False
    _clear_crossings(out, dark, rules)
    _clear_scraps(out, dark, flat, band_dark, band_axis, band_width, stroke, RULE_SCRAP_INK * ink_level)
    return out


def _clear_scraps(mask: np.ndarray, dark: np.ndarray, flat: np.ndarray, band_dark: np.ndarray,
                  band_axis: np.ndarray, band_width: np.ndarray, stroke: float, faint: float) -> None:
    """Erase (in place) the scraps a faint line leaves all along itself: a faint line's noise peaks (pencil-grey
    squares under JPEG noise) pass the erasing pixel by pixel, and each would be read as a ``1``.

    A scrap lies wholly within a line's band, is not much darker than the line there (RULE_SCRAP_DARKNESS) nor
    than ``faint``, and is either no thicker than the line and runs along it (RULE_SCRAP_LENGTH times as long
    as thick) or smaller than RULE_SCRAP_SPECK squared stroke widths; and it lies away from the writing (not
    within RULE_SCRAP_NEAR stroke widths of a part larger than RULE_SCRAP_WRITING squared stroke widths). A
    decimal point or a minus written on a rule can pass the first tests, but it stands beside the digits it
    belongs to; the scraps of a faint grid lie all over the page. (``flat`` are the flat indices of the mask before
    the erasing; ``band_dark``, ``band_axis`` and ``band_width`` the darkness, direction and thickness of the
    line whose band holds each, 0 outside every band; a part in an upright line's band anywhere runs upright.)"""
    if not band_dark.any():
        return
    n, labels, stats, _ = cv2.connectedComponentsWithStats(mask.view(np.uint8), connectivity=8)
    if n <= 1:
        return
    lab = labels.ravel()[flat]
    kept = lab > 0
    lab, bd, v = lab[kept], band_dark[kept], dark.ravel()[flat[kept]].astype(np.float64)
    size = np.bincount(lab, minlength=n)
    inside = np.bincount(lab, weights=(bd > 0).astype(np.float64), minlength=n)
    ink = np.bincount(lab, weights=v, minlength=n)
    line = np.bincount(lab, weights=bd, minlength=n)
    upright = np.zeros(n, np.int8)
    np.maximum.at(upright, lab, band_axis[kept])
    upright = upright == 1
    thick = np.zeros(n)
    np.maximum.at(thick, lab, band_width[kept].astype(np.float64))
    w, h = stats[:, cv2.CC_STAT_WIDTH], stats[:, cv2.CC_STAT_HEIGHT]
    across, length = np.where(upright, w, h), np.where(upright, h, w)
    along = (across <= thick + 1) & (length >= RULE_SCRAP_LENGTH * across)
    speck = RULE_SCRAP_SPECK * stroke * stroke
    scrap = (size > 0) & (inside >= size) & (along | (size < speck)) & (ink <= RULE_SCRAP_DARKNESS * line)
    scrap &= ink <= faint * size
    scrap[0] = False
    if not scrap.any():
        return
    # Writing: the parts that are no scraps and at least RULE_SCRAP_WRITING squared stroke widths large.
    writing = np.flatnonzero(~scrap & (stats[:, cv2.CC_STAT_AREA] >= RULE_SCRAP_WRITING * stroke * stroke))
    writing = writing[writing > 0]
    if len(writing):
        pad = RULE_SCRAP_NEAR * stroke
        x0 = stats[writing, cv2.CC_STAT_LEFT] - pad
        y0 = stats[writing, cv2.CC_STAT_TOP] - pad
        x1 = x0 + stats[writing, cv2.CC_STAT_WIDTH] + 2 * pad
        y1 = y0 + stats[writing, cv2.CC_STAT_HEIGHT] + 2 * pad
        cand = np.flatnonzero(scrap)
        sx, sy = stats[cand, cv2.CC_STAT_LEFT][:, None], stats[cand, cv2.CC_STAT_TOP][:, None]
        near = ((x0 <= sx + w[cand][:, None]) & (sx <= x1) & (y0 <= sy + h[cand][:, None]) & (sy <= y1)).any(axis=1)
        scrap[cand[near]] = False  # it reaches within the margin around a part of the writing
    if scrap.any():
        mask[scrap[labels]] = False


def _clear_crossings(mask: np.ndarray, dark: np.ndarray, rules: list[Rule], pad: float = 4.0) -> None:
    """Erase (in place) the scraps left where two found lines cross: a margin over a rule is darker than
    either and of neither's colour, so each line's erasing keeps the crossing's pixels. A scrap lying wholly
    within a crossing's box (both bands, ``pad`` px wider) that is no darker than the two lines printed over
    one another is no writing; ink that reaches out of the box (a stroke through the crossing) stays whole,
    and so does a point darker than the lines (a decimal point written on the crossing)."""
    H, W = mask.shape
    across_lines = [r for r in rules if r.axis == 0]
    down_lines = [r for r in rules if r.axis == 1]
    for h in across_lines:
        for v in down_lines:
            x = float(v.at(np.array([H / 2.0]))[0])
            y = float(h.at(np.array([x]))[0])
            x = float(v.at(np.array([y]))[0])
            y = float(h.at(np.array([x]))[0])
            bx, by = v.half + pad, h.half + pad
            x0, x1 = int(math.floor(x - bx)), int(math.ceil(x + bx)) + 1
            y0, y1 = int(math.floor(y - by)), int(math.ceil(y + by)) + 1
            wx0, wy0 = max(x0 - 2, 0), max(y0 - 2, 0)
            wx1, wy1 = min(x1 + 2, W), min(y1 + 2, H)
            if wx1 <= wx0 or wy1 <= wy0:
                continue
            window = mask[wy0:wy1, wx0:wx1]
            if not window.any():
                continue
            # Both lines over one another, as dark as printing them twice makes them (their contrasts are
            # measured on the reduced copy, a little fainter than they are: hence the allowance).
            both = 255.0 * (1.0 - (1.0 - min(h.contrast, 255.0) / 255.0) * (1.0 - min(v.contrast, 255.0) / 255.0))
            n, labels, stats, _ = cv2.connectedComponentsWithStats(window.view(np.uint8), connectivity=8)
            for i in range(1, n):
                lx, ly = stats[i, cv2.CC_STAT_LEFT] + wx0, stats[i, cv2.CC_STAT_TOP] + wy0
                rx, ry = lx + stats[i, cv2.CC_STAT_WIDTH], ly + stats[i, cv2.CC_STAT_HEIGHT]
                if not (lx >= x0 and ly >= y0 and rx <= x1 and ry <= y1):
                    continue
                scrap = labels == i
                if float(dark[wy0:wy1, wx0:wx1][scrap].max()) <= 1.25 * both + 12.0:
                    window[scrap] = False


# ------------------------------------------------------------------------------------------------ main


def _found_apart(ink: np.ndarray, dark: np.ndarray, diff: np.ndarray, abs_low: np.ndarray, abs_high: np.ndarray,
                 seed: float, grow: float, min_seeds: int = 1) -> np.ndarray | None:
    """What hysteresis from ``seed`` down to ``grow`` darkness finds apart from ``ink`` (a seed also stands
    ``abs_high`` out of the paper, a grown pixel ``abs_low``); None where fewer than ``min_seeds`` seed."""
    seeds = (dark >= seed) & (diff > abs_high) & ~ink
    if np.count_nonzero(seeds) < min_seeds:
        return None
    return _hysteresis(seeds, (dark > grow) & (diff > abs_low)) & ~ink


def _grouped(found: np.ndarray, r: int) -> tuple[int, np.ndarray, np.ndarray]:
    """The groups of ``found``'s pieces within 2·``r`` px of one another: (count with the background, labels,
    stats) as cv2.connectedComponentsWithStats gives them."""
    n, labels, stats, _ = cv2.connectedComponentsWithStats(
        cv2.dilate(found.view(np.uint8), np.ones((2 * r + 1, 2 * r + 1), np.uint8)), connectivity=8)
    return n, labels, stats


def _labelled(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The mask's 8-connected components: (labels, area of each label; the background's first)."""
    _, labels, stats, _ = cv2.connectedComponentsWithStats(mask.view(np.uint8), connectivity=8)
    return labels, stats[:, cv2.CC_STAT_AREA]


def _faint_parts(mask: np.ndarray, dark: np.ndarray, diff: np.ndarray, abs_low: np.ndarray, abs_high: np.ndarray,
                 high: float, low: float, stroke: float,
                 window: tuple[int, int, int, int] | None = None) -> np.ndarray:
    """Symbols written far lighter than the rest (a digit pressed lightly), which the page's thresholds miss:
    they follow its darkest writing. What FAINT_SHARE of them finds apart from the mask is grouped (pieces
    within a stroke width or two), and each group is thresholded again by its own darkness as a page is by
    its writing's; a part of FAINT_AREA stroke² or more that touches nothing found nor the image's edge, and
    whose cores are as dark as those seeds, is added. The strokes already found keep their shape. On ruled
    paper the caller leaves the rules' bands out of ``dark`` (see :func:`rule_bands`): what is found there is
    the rules' remains. ``window`` (top, bottom, left, right) limits the search (see _faint_windows); the
    result is for the whole image."""
    out = np.zeros(mask.shape, bool)
    H, W = mask.shape
    top, bottom, left, right = window or (0, H, 0, W)
    win = (slice(top, bottom), slice(left, right))
    m, dk, df, al = mask[win], dark[win], diff[win], abs_low[win]
    min_area = max(3, int(FAINT_AREA * stroke * stroke))
    found = _found_apart(m, dk, df, al, abs_high[win], FAINT_SHARE * high, FAINT_SHARE * low, min_seeds=2)
    least = min_area // 2  # what is found here is the cores of what the group's own thresholds find
    if found is None or np.count_nonzero(found) < least:
        return out
    r = max(1, int(round(1.5 * stroke)))
    n, labels, stats = _grouped(found, r)
    h_w, w_w = m.shape
    mask_labels = mask_areas = None  # labelled when first needed
    for i in range(1, n):
        x, y, w, h, _ = stats[i]
        if found[y: y + h, x: x + w].sum() < least:
            continue
        x0, y0, x1, y1 = max(0, x - r), max(0, y - r), min(w_w, x + w + r), min(h_w, y + h + r)
        d = dk[y0:y1, x0:x1]
        within = labels[y0:y1, x0:x1] == i
        level = percentile(d[within & found[y0:y1, x0:x1]], 97)
        if level < FAINT_SHARE * high:  # the paper's grain: a few seeds among fainter pixels
            continue
        grow = (d > GROW_SHARE * level) & (df[y0:y1, x0:x1] > al[y0:y1, x0:x1])
        part = _hysteresis((d >= SEED_SHARE * level) & within, grow, min_area=min_area)
        # Apart from what was found (a part that reaches a found stroke is that stroke's fainter end) -- but
        # not apart from specks: where a light digit's darkest pixels passed the page's seed threshold, they
        # are found as a speck inside it, and the digit is not that speck's fainter end.
        pn, plabels, pstats, _ = cv2.connectedComponentsWithStats(part.view(np.uint8), connectivity=8)
        keep = np.ones(pn, bool)
        near = cv2.dilate(m[y0:y1, x0:x1].view(np.uint8), np.ones((3, 3), np.uint8)) > 0
        for j in np.unique(plabels[near]):
            if j == 0:
                continue
            if mask_labels is None:
                mask_labels, mask_areas = _labelled(m)
            touched = np.unique(mask_labels[y0:y1, x0:x1][near & (plabels == j)])
            keep[j] = mask_areas[touched[touched > 0]].sum() < SPECK_SHARE * pstats[j, cv2.CC_STAT_AREA]
        # Nor one at the image's edge: a board's frame, a faint rule running off the sheet.
        for at_edge, side in ((top + y0 == 0, plabels[0]), (top + y1 == H, plabels[-1]),
                              (left + x0 == 0, plabels[:, 0]), (left + x1 == W, plabels[:, -1])):
            if at_edge:
                keep[side] = False
        keep[0] = False
        # Its own cores as dark as the seeds that found it (grown on its own level, it may reach fainter marks).
        for j in np.flatnonzero(keep):
            keep[j] = percentile(d[plabels == j], 97) >= FAINT_SHARE * high
        out[top + y0: top + y1, left + x0: left + x1] |= keep[plabels]
    return out


def _faint_points(mask: np.ndarray, dark: np.ndarray, diff: np.ndarray, abs_low: np.ndarray,
                  abs_high: np.ndarray, high: float, low: float, stroke: float) -> np.ndarray:
    """Round marks the size of a decimal point, a little lighter than the page's seeds, standing between
    pieces of writing found on either side (see POINT_SEED_SHARE); the mask of them."""
    out = np.zeros(mask.shape, bool)
    rows, cols = np.flatnonzero(mask.any(axis=1)), np.flatnonzero(mask.any(axis=0))
    if POINT_SEED_SHARE <= 0 or not len(rows):
        return out
    # Only between pieces of writing: within the writing's box, and as far around it as a point may lie.
    H_page, W_page = mask.shape
    reach = int(math.ceil(POINT_NEAR * stroke))
    top, left = max(0, rows[0] - reach), max(0, cols[0] - reach)
    win = (slice(top, min(H_page, rows[-1] + 1 + reach)), slice(left, min(W_page, cols[-1] + 1 + reach)))
    mask, dark, diff, abs_low, abs_high = mask[win], dark[win], diff[win], abs_low[win], abs_high[win]
    found = _found_apart(mask, dark, diff, abs_low, abs_high, POINT_SEED_SHARE * high, low)
    if found is None:
        return out
    near_ink = cv2.dilate(mask.view(np.uint8), np.ones((3, 3), np.uint8)) > 0
    n, labels, stats, _ = cv2.connectedComponentsWithStats(found.view(np.uint8), connectivity=8)
    H, W = mask.shape
    s2 = stroke * stroke
    for i in range(1, n):
        x, y, w, h, area = (int(v) for v in stats[i])
        if not (POINT_MIN_AREA * s2 <= area <= POINT_MAX_AREA * s2) or max(w, h) > POINT_MAX_SIDE * stroke:
            continue
        if (max(w, h) > 2 * min(w, h) + 1 or top + y == 0 or left + x == 0 or top + y + h == H_page
                or left + x + w == W_page):
            continue  # not round, or cut by the image's border
        if near_ink[y: y + h, x: x + w][labels[y: y + h, x: x + w] == i].any():
            continue  # the fainter end of a stroke found, not a mark of its own
        near = slice(max(0, y - reach), min(H, y + h + reach))
        if mask[near, max(0, x - reach): x].any() and mask[near, x + w: x + w + reach].any():
            out[top + y: top + y + h, left + x: left + x + w] |= labels[y: y + h, x: x + w] == i
    return out


def _faint_windows(shape: tuple[int, int], rough: np.ndarray, small: np.ndarray, bg_s: np.ndarray,
                   dark_s: np.ndarray, abs_low_s: np.ndarray, abs_high_s: np.ndarray, high: float, low: float,
                   stroke: float, f: float) -> list[tuple[int, int, int, int]]:
    """Where on a page of ``shape`` larger than its analysis copy (``f`` of its size) :func:`_faint_parts` may
    find anything: the groups its first step finds on the analysis copy apart from the ink found there
    (``rough``; the paper's grain, averaged away there, no longer seeds everywhere), as (top, bottom, left,
    right) windows of the page, a few strokes wider. On a page without faint writing the full-size search is
    skipped: it cost a 2200×1700 page 80 ms."""
    mask_s = cv2.dilate(rough.view(np.uint8), np.ones((3, 3), np.uint8)) > 0
    found = _found_apart(mask_s, dark_s, cv2.subtract(bg_s, small), abs_low_s, abs_high_s,
                         FAINT_WINDOW_SHARE * high, FAINT_WINDOW_SHARE * low)
    if found is None:
        return []
    n, labels, stats = _grouped(found, max(1, int(round(1.5 * stroke * f))))
    counts = np.bincount(labels[found], minlength=n)
    least = max(2, int(0.5 * FAINT_AREA * (stroke * f) ** 2))
    H, W = shape
    pad = int(math.ceil(3 * stroke))
    windows = []
    for i in np.flatnonzero(counts >= least):
        if i == 0:
            continue
        x, y, bw, bh = (int(v) for v in stats[i, :4])
        windows.append((max(0, int(y / f) - pad), min(H, int((y + bh) / f) + pad),
                        max(0, int(x / f) - pad), min(W, int((x + bw) / f) + pad)))
    return windows


def _scaled_size(w: int, h: int, scale: float) -> tuple[int, int]:
    return max(1, int(round(w * scale))), max(1, int(round(h * scale)))


def _read_again(img: np.ndarray, scale: float, remove_rules: bool, analysis_pixels: int,
                inverted: bool) -> Preprocessed | None:
    """The page preprocessed again at ``scale`` of its size (cubic up, area-averaged down), saying so in its
    ``scale``, with the polarity found on the page as given (tiles of the resized copy can vote otherwise);
    None where that leaves too few pixels."""
    size = _scaled_size(img.shape[1], img.shape[0], scale)
    if min(size) < 3:
        return None
    inner = preprocess(cv2.resize(img, size, interpolation=cv2.INTER_CUBIC if scale > 1 else cv2.INTER_AREA),
                       remove_rules=remove_rules, analysis_pixels=analysis_pixels, inverted=inverted)
    return dataclasses.replace(inner, scale=size[0] / img.shape[1])


def preprocess(image: np.ndarray, *, remove_rules: bool = True, analysis_pixels: int | None = None,
               max_stroke: float | None = None, min_stroke: float | None = None,
               inverted: bool | None = None) -> Preprocessed:
    """RGB or grey page image (uint8) → :class:`Preprocessed` with the boolean ink mask at the same size.

    With ``max_stroke``, a page whose strokes are wider than that many pixels (a phone's 12-megapixel photo of
    ordinary writing) is thresholded at a working scale where they are that wide: the mask is then smaller
    than the page (:attr:`Preprocessed.scale`). With ``min_stroke``, an image smaller than the analysis copy
    whose strokes are narrower is enlarged (cubic, at most MAX_ENLARGE times) until they are that wide: the
    mask is then larger than the page. ``inverted`` says whether the writing is lighter than its ground;
    by default :func:`is_light_on_dark` decides. The stages after this one were made on writing of ordinary size;
    enlarged three times, or halved, it read fewer lines. ``analysis_pixels`` defaults to ANALYSIS_PIXELS (read
    at call time, so that a tool may set it).
    """
    analysis_pixels = ANALYSIS_PIXELS if analysis_pixels is None else analysis_pixels
    img = _as_rgb(image)
    h, w = img.shape[:2]
    empty = Preprocessed(np.zeros((h, w), bool), False, 0.0, 0.0, 0.0, 0)
    if h < 3 or w < 3:
        return empty
    lum = img[:, :, 0] if img.shape[2] == 1 else cv2.cvtColor(img, cv2.COLOR_RGB2GRAY)
    if inverted is None:
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
    desk_s = np.zeros(small.shape[:2], bool)
    made_with = None  # the kernel bg_s and the darkness were made with (a desk found reuses them)
    for attempt in range(3):
        if kernel != made_with:
            bg_s = background(small, kernel)[:, :, 0]
            darkness_s = ink_darkness(small, bg_s)
            made_with = kernel
        dark_s = darkness_s.copy()
        dark_s[desk_s] = 0
        if desk_s.any() and DESK_MARGIN > 0:
            # The desk's blurred edge just inside what was found of it is as dark as ink, and the thresholds
            # follow the darkest pixels: faint pencil on the sheet would fall under them.
            r = max(1, int(round(DESK_MARGIN * kernel)))
            near_desk = cv2.dilate(desk_s.view(np.uint8), np.ones((2 * r + 1, 2 * r + 1), np.uint8)) > 0
            th = _thresholds(np.where(near_desk, 0, dark_s).astype(dark_s.dtype))
        else:
            th = _thresholds(dark_s)
        if th is None:
            return nothing
        rough = _hysteresis(dark_s >= th[2], dark_s > th[1])
        # The dark side of a photographed sheet's edge is no ink, and must not set the thresholds. (Only
        # worth looking for where something is far darker than the paper: a desk, a deep shadow.)
        edges = desk_s[:0]
        if attempt == 0:
            paper = percentile(bg_s[:: max(1, bg_s.shape[0] // 100), :: max(1, bg_s.shape[1] // 100)], 90)
            border = max(rough[0].mean(), rough[-1].mean(), rough[:, 0].mean(), rough[:, -1].mean())
            look = bool(np.count_nonzero(bg_s < 0.6 * paper) >= 0.002 * bg_s.size or border >= 0.3)
        if look:
            edges = sheet_edges(rough, small, bg_s, reach=kernel, min_size=int(4 * kernel))
        if edges.any() and attempt < 2:
            desk_s |= edges
            continue
        stroke_s = stroke_width(rough)
        if 5.0 * stroke_s > kernel and attempt < 2:
            kernel = _odd(5.0 * stroke_s)
            continue
        break
    floor, low, high, level = th
    work_scale = 1.0
    if min_stroke is not None and stroke_s / f < min_stroke and h * w < analysis_pixels:
        # A thumbnail: the page again, enlarged (its analysis too), no larger than an analysis copy.
        up = min(min_stroke * f / stroke_s, MAX_ENLARGE, math.sqrt(analysis_pixels / (h * w)))
        if up > 1.05:
            return _read_again(img, up, remove_rules, analysis_pixels, inverted) or empty
    if max_stroke is not None and stroke_s / f > max_stroke:
        work_scale = max_stroke * f / stroke_s
        if work_scale < f:  # below the analysis copy's scale: the page again, smaller (its analysis too)
            return _read_again(img, work_scale, remove_rules, analysis_pixels, inverted) or empty
        # From here on "full resolution" is the working scale, and the analysis copy is f of it.
        size = _scaled_size(w, h, work_scale)
        grey = cv2.resize(grey, size, interpolation=cv2.INTER_AREA)
        img = cv2.resize(img, size, interpolation=cv2.INTER_AREA)
        if img.ndim == 2:
            img = img[:, :, None]
        f = small.shape[1] / size[0]
        work_scale = size[0] / w
        h, w = grey.shape[:2]
    stroke = stroke_s / f
    # Relative darkness makes ink under a shadow as dark as in the light, and the sensor's noise there
    # darker too: a pixel must also stand out from the paper by more than that noise in grey levels.
    # A seed must stand out of the paper's own noise: beside dense writing the strokes would raise it, and a
    # decimal point among digits would never seed. (How far the ink spreads keeps to the noise as measured.)
    ink_s = cv2.dilate(rough.view(np.uint8), np.ones((3, 3), np.uint8)) > 0 if NOISE_WITHOUT_INK else None
    noise_map, paper_noise = _local_noise(small, bg_s, _grey_noise(small, bg_s), kernel, ink_s)
    abs_low_s = cv2.convertScaleAbs(noise_map, alpha=2.5, beta=2.0)
    abs_high_s = cv2.convertScaleAbs(paper_noise, alpha=4.0, beta=4.0)

    # Full resolution: the background scaled up, the thresholds found on the analysis copy.
    if f < 1.0:
        bg = background(small, kernel, size=(w, h))[:, :, 0]
        dark = ink_darkness(grey, bg)
    else:
        bg, dark = bg_s, dark_s
    diff = cv2.subtract(bg, grey)
    desk = None  # the desk found beyond a photographed sheet, at full resolution
    if desk_s.any():
        desk = desk_s if f >= 1.0 else cv2.resize(desk_s.view(np.uint8), (w, h), interpolation=cv2.INTER_NEAREST) > 0
        dark = dark.copy() if dark is dark_s else dark
        dark[desk] = 0
    if f < 1.0:
        abs_low = cv2.resize(abs_low_s, (w, h), interpolation=cv2.INTER_LINEAR)
        abs_high = cv2.resize(abs_high_s, (w, h), interpolation=cv2.INTER_LINEAR)
    else:
        abs_low, abs_high = abs_low_s, abs_high_s
    weak = (dark > low) & (diff > abs_low)
    rules = 0
    colour = None
    if img.shape[2] == 3:
        colour = cv2.bitwise_not(img) if inverted else img
    seeds = (dark >= high) & (diff > abs_high)
    fraction_rules: tuple[tuple[int, int, int, int], ...] = ()
    speck = max(3, int(SPECK_AREA * stroke * stroke))
    if remove_rules:
        found = find_rules(dark_s, stroke=stroke_s, ink_level=level, off_sheet=None if desk is None else desk_s)
        page_rules = [r.scaled(1.0 / f) for r in found]
        bars = _fraction_bar_rules(page_rules, seeds, weak, stroke, speck)
        if bars:
            fraction_rules = tuple(_rule_box(r) for k, r in enumerate(page_rules) if k in bars)
            found = [r for k, r in enumerate(found) if k not in bars]
            page_rules = [r for k, r in enumerate(page_rules) if k not in bars]
        if found:
            weak = remove_ruled_lines(weak, dark, page_rules, level, rgb=colour, solid=seeds,
                                      off_sheet=desk, stroke=stroke)
            rules = len(found)
    mask = _hysteresis(seeds, weak, min_area=speck)
    # The rules' remains are no faint writing: the searches for it do not see their bands (nor what of a light
    # digit, or a point, lies along a rule inside one).
    dark_f = np.where(rule_bands(dark.shape, page_rules, stroke), 0, dark) if rules else dark
    if FAINT_SHARE > 0 and (rules == 0 or FAINT_ON_RULED):
        dark_fs = dark_s
        if rules and f < 1.0:  # only _faint_windows reads the analysis copy
            dark_fs = np.where(rule_bands(dark_s.shape, found, stroke_s), 0, dark_s)
        windows = ([None] if f >= 1.0 else
                   _faint_windows(mask.shape, rough, small, bg_s, dark_fs, abs_low_s, abs_high_s, high, low, stroke, f))
        for window in windows:
            mask |= _faint_parts(mask, dark_f, diff, abs_low, abs_high, high, low, stroke, window)
    mask |= _faint_points(mask, dark_f, diff, abs_low, abs_high, high, low, stroke)
    mask &= ~edge_slivers(mask, dark, stroke, low)
    if desk is not None and DESK_SLIVER_SHARE < 1.0:
        mask &= ~desk_slivers(mask, desk, stroke)
    if EDGE_STEP_ZONE > 0:
        mask &= ~edge_steps(mask, dark, stroke, level)
    angle = estimate_skew(mask)
    return Preprocessed(mask, inverted, angle, stroke, level / 255.0, rules, dark, work_scale,
                        rule_boxes=tuple(_rule_box(r) for r in page_rules if r.axis == 0) if rules else (),
                        fraction_rules=fraction_rules)


#: At most this many horizontal rules found on a page may be the bars of stacked fractions in a row (see
#: _fraction_bar_rules): ruled paper has more.
FRACTION_BAR_RULES = 2


def _fraction_bar_rules(rules: list[Rule], seeds: np.ndarray, weak: np.ndarray, stroke: float,
                        speck: int) -> set[int]:
    """Which of the horizontal ``rules`` (where at most FRACTION_BAR_RULES were found) are the bars of stacked
    fractions written in a row: across a tight crop of ``½ + ¼ = ¾`` the bars line up, as long as a rule, and
    the writing ends where they do. A rule on which the bar of a fraction lies is kept (see
    :func:`hdr_expr.pipeline.fractions.find_fractions`, on the mask as it is with the rules; parts smaller than
    ``speck`` pixels left out, as from the page's mask)."""
    horizontal = [k for k, r in enumerate(rules) if r.axis == 0]
    if not horizontal or len(horizontal) > FRACTION_BAR_RULES:
        return set()
    from hdr_expr.pipeline.fractions import find_fractions

    bars = [f.bar for f in find_fractions(_hysteresis(seeds, weak, min_area=speck), stroke)]
    out = set()
    for k in horizontal:
        rule = rules[k]
        for x, y, w, h in bars:
            if abs(float(rule.at(np.array([x + w / 2.0]))[0]) - (y + h / 2.0)) <= rule.half + h / 2.0 + stroke:
                out.add(k)
    return out


def _rule_box(rule: Rule) -> tuple[int, int, int, int]:
    """A horizontal rule's box: from its first to its last place, as thick as it is across its slant."""
    x0, x1 = float(np.min(rule.along)), float(np.max(rule.along))
    y0, y1 = float(np.min(rule.across)) - rule.half, float(np.max(rule.across)) + rule.half
    return (int(math.floor(x0)), int(math.floor(y0)), int(math.ceil(x1 - x0)) + 1, int(math.ceil(y1 - y0)) + 1)


def ink_mask(image: np.ndarray) -> np.ndarray:
    """RGB or grey page image → boolean ink mask (True = ink) of the same height and width.

    A blank page (or an all-black or all-white one) gives an empty mask.
    """
    return preprocess(image).mask
