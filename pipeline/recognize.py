"""The predictor: image → ink mask → lines of symbols → one batched classification → rules → parse → results.

Like docTR's predictors, :class:`Recognizer` holds the model and wires the stages; each stage is a module of
its own. The Python API is :func:`recognize`::

    from hdr_expr.pipeline import recognize
    for page in recognize("photo.png"):
        for line in page.lines:
            print(line.summary())          # 12+7×3 = 33

Per page, every symbol crop (and every way of splitting a blob that may be touching symbols) is normalized
MNIST-style and classified in ONE interpreter call. Splits are then chosen by the classifier's confidence,
size and position rules add what a 28×28 crop cannot show (see :func:`apply_layout_rules`), and the parser
reads the line, falling back on the classifier's alternatives where the first choices do not parse. Stacked
fractions are found on the mask before the lines are, their parts read apart and put back into their lines
(:mod:`~hdr_expr.pipeline.fractions`); sums written in columns are joined from their rows after
(:mod:`~hdr_expr.pipeline.columns`).

A line's ``confidence`` is the product of its symbols' confidences (the chance that every symbol is right, if
their errors were independent), so long lines score lower than short ones with equally sure symbols.
"""

from __future__ import annotations

import dataclasses
import functools
import math
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Sequence

import cv2
import numpy as np

from hdr_expr.errors import HdrExprError, InputError
from hdr_expr.pipeline.assemble import assemble_candidates, latex_of, normalize_label, unparsed
from hdr_expr.pipeline.classify import Classifier, load_classifier
from hdr_expr.pipeline.columns import join_columns
from hdr_expr.pipeline.crossed import crossed_out
from hdr_expr.pipeline.fractions import ReadFraction, find_fractions, place_fractions, stand_in_mask
from hdr_expr.pipeline.normalize import normalize_symbol
from hdr_expr.pipeline.results import LineResult, PageResult, SymbolResult
from hdr_expr.pipeline.stats import median, percentile
from hdr_expr.pipeline.verify import Verifier, load_verifier, verifier_input

#: Pages whose strokes are wider than this many pixels are read at the scale where they are this wide (see
#: preprocess's max_stroke): a 12-megapixel phone photo of ordinary writing reads as the same writing at the
#: size the reader was made on. Small images whose strokes are narrower than MIN_STROKE are enlarged until
#: they are that wide (at most 3×, up to the analysis copy's size): a thumbnail's 2-pixel strokes.
WORK_STROKE = 8.0
MIN_STROKE = 2.5
#: Writing turned by at least DESKEW_ANGLE degrees is levelled before its lines are cut into symbols, where the
#: ink's projection (preprocess's angle) and the lines' symbols (segment.writing_angle) agree on the angle within
#: DESKEW_AGREEMENT degrees (see _level_angle). Seed 40 read turned (`hdr-expr bench expressions --n 500 --seed 40
#: --turn T`, flat corners): ±10° 394 → 418 of 500 lines, ±15° 291 → 388 (with the photo's edge carried through the turn:
#: 412 and 374 without); ±5° 437 → 437. On the saved and fresh sets as drawn
#: (turned at most 4° and a tilt) one line lost of 12,400. Lower, it levels the benchmark's own tilted photos and
#: loses there: 4.0 lost 21 lines and gained 10 (a mask turned and turned back loses as many: 19 / 3).
DESKEW_ANGLE = 6.0
DESKEW_AGREEMENT = 1.5
#: Alternatives kept per symbol in the results (besides the chosen label), and the least probability shown.
MAX_ALTERNATIVES = 3
MIN_ALTERNATIVE_P = 0.001
#: Labels per symbol the parser may choose from when it repairs a line.
REPAIR_CANDIDATES = 4
#: The least usual symbol width a blob offered for splitting is judged against, in line heights.
WHOLE_FLOOR = 0.6
#: Width ratios (over the usual width) at which a blob is most likely one symbol (0.9) and several (0.1).
WHOLE_PRIOR_AT = (1.2, 1.6)
#: The same for a blob whose unsplit reading fits at least SURE_WHOLE.
SURE_PRIOR_AT = (1.5, 1.9)
SURE_WHOLE = 0.995
#: Segmentations of a line weighed when the best one's reading does not parse, must be repaired or has a wrong
#: answer, and how far below the best (log units) the others may score. (4 → 8: saved sets ex19-25 + ws19-25
#: +10 lines, 2 lost; 16 reads one more.)
PATHS = 8
PATH_MARGIN = 8.0
#: Whether a bar read as '-' is a '÷' where one dot parts from it at one darkness level and the other at another.
DOTS_EACH_LEVEL = True
#: What a reading that does not parse costs against one that does (log units).
UNPARSED_PENALTY = 10.0
#: Weight of the segmentation verifier's log-probability against the classifier's in a path's score.
VERIFIER_WEIGHT = 1.0
#: The least belief of the verifier's that counts: below it, a crop's own fit decides.
VERIFIER_FLOOR = 1e-4
#: A crop as segmented, of one part, point-sized and low in its line (a decimal point or comma standing apart) is
#: one whole symbol with at least this belief: the verifier, trained on the pieces cuts make, takes a comma-shaped
#: point for a scrap and lets it be merged into the digit before it (``2,3`` read ``23``). With COMMA_LOW 0.25:
#: saved sets ex19-24 + ws19-24 +7 lines, none lost (without the two conditions of _point_sized and
#: _stands_apart, a broken '1''s foot and a flat scrap were taken for points: 2 lost).
POINT_BELIEF = 0.5
#: A bar read as '-' that the darkness map shows to be an '=' (see _restore_from_darkness) keeps RESTORED_MINUS of
#: its '-' probability.
RESTORED_MINUS = 0.1
#: The least belief a straight bar cut off the end of a blob (a '-' or '=' drawn touching the digit beside it, see
#: segment.bar_tail_cuts) gets of being one symbol: the verifier never saw such pieces, and gives them next to none.
BAR_BELIEF = 0.3
#: Symbols drawn narrower than a digit, and their width in usual symbol widths (generous: a 1 with a flag).
NARROW = frozenset("1()/")
NARROW_WIDTH = 0.75
#: A crop too narrow to be offered for splitting at first is offered after all where the verifier gives it less
#: than DOUBTED_WHOLE of being one symbol, if it is at least DOUBTED_MIN_WIDTH line heights wide and
#: DOUBTED_MIN_HEIGHT tall (touching digits are; an operator is not).
DOUBTED_WHOLE = 0.2
DOUBTED_MIN_WIDTH = 0.45
DOUBTED_MIN_HEIGHT = 0.85
#: A line that does not parse, or parses only read otherwise than its first choices, is read again with splits
#: offered of the crops the verifier believes one symbol less than RETRY_DOUBT (see _read_with_more_splits), and
#: that reading kept where it needs fewer symbols read otherwise, or its written answer then holds. Saved sets
#: (expressions seeds 20-26, 31, 33-37; worksheets 31, 34-37): +6 lines, none lost (0.5: +5; 1.01, every crop
#: wide enough: +6; kept whatever it read: +6 −1). About 2% more CPU per image.
RETRY_DOUBT = 0.9
#: A crop the verifier believes one whole symbol with at least SPLIT_SURE_WHOLE is not offered for splitting
#: (above 1: every crop wide enough is). At 0.99 the saved sets ex20-22 (1,500 images) read the same lines (one
#: misread line misread otherwise) with 17% less CPU (98.8 → 81.7 s), ws20-21 + ex23 two more lines; at 0.9, 2
#: lines lost.
SPLIT_SURE_WHOLE = 0.99
#: Such a crop the verifier believes one symbol with less than STROKE_DOUBT is also offered shared out stroke by
#: stroke (symbols written over each other, which no cut parts: see strokes.py).
STROKE_SPLITS = True
STROKE_DOUBT = 0.2
#: A reading of symbols written over each other is less likely than one of symbols side by side: its score
#: (a log probability) is lowered by STROKE_PENALTY.
STROKE_PENALTY = 2.0
#: A thin stroke at least SLASH_TALL line heights tall and SLASH_WIDE usual widths wide is SLASH_LONG times likelier
#: a '/' than the classifier alone says, and SLASH_LONGER times from SLASH_TALLER and SLASH_WIDER on. Measured on
#: 661 benchmark 1s and 93 slashes: 11% of 1s and 42% of slashes reach the first size, 2% and 18% the second
#: (likelihood ratios 3.7 and 8.1, taken at about two thirds).
SLASH_TALL = 1.08
SLASH_WIDE = 0.4
SLASH_LONG = 2.5
SLASH_TALLER = 1.15
SLASH_WIDER = 0.8
SLASH_LONGER = 5.0
#: The classifier's probabilities are softened to the power 1/CLASSIFIER_TEMPERATURE before the layout rules, the
#: path scores and the parser weigh them: trained to be sure, it is surer than it is right on the crops of real
#: pages (a touching pair read as a sure '3'), so it outvoted the verifier, the layout and the written answer.
#: Measured on saved bench sets (lines read exactly, before → after): 1.5 gave worksheets seeds 12 / 13 +3 / +4,
#: expressions seed 12 +7 (1.3: +2 / +2 / +6; 2.0: +3 / 0 / +5); then, chosen, on sets made afterwards: worksheets
#: seed 14 -1, expressions seeds 13 / 14 +3 / +4. (Averaging over crops turned ±6°, at three times the
#: classifier's cost, did no better there: +2, -2, +4.)
CLASSIFIER_TEMPERATURE = 1.5
#: A two-part crop of a bar at mid-height and an upright stroke after it is BAR_BEFORE_STROKE as likely a '1', a
#: bracket or a slash as the classifier says (see _bar_before_stroke). Saved sets (expressions seeds 20-26, 31,
#: 33-37; worksheets 31, 34-37): +1 line, none lost.
BAR_BEFORE_STROKE = 0.05
#: Symbols often drawn wider than a digit.
WIDE = frozenset("+-×÷=")
#: A '+' or '×' is read as a '÷' whose dots the mask ran into its bar only where the darkness map parts them
#: *and* the classifier gives '÷' at least this much: a crisp '+' whose upright stroke is paler than its bar
#: parts in the darkness map too (a pen's pressure), but reads as no '÷' at all.
DIVIDE_MIN_P = 0.003
#: A dot whose centre lies less than this many line heights below the line's middle is placed as a raised
#: multiplication dot '·' (a decimal point sits on the baseline, about 0.35-0.5 below; some at 0.2).
RAISED_DOT = 0.1
#: A one-part mark at least FLAT_TIMES_ASPECT times as wide as high and under FLAT_TIMES_HEIGHT line heights tall
#: is an '=' whose bars ran together (or a wavy one) more often than a 'x': where the classifier sees an '=' in
#: it too (at least FLAT_TIMES_SEEN of what it gives 'x'), its odds for 'x' are scaled by FLAT_TIMES. Measured on
#: the marks of the lines read exactly in saved sets ex20-23, against their line's median digit height: 3 of 660
#: 'x' are that shape, 383 of 1,505 '='. Under 0.5 line heights (8 'x', 446 '=') a flat 'x' cut off a 7 it
#: touched was read '-' (the '=' a one-part mark is taken for scaled down too).
FLAT_TIMES_ASPECT = 1.5
FLAT_TIMES_HEIGHT = 0.35
FLAT_TIMES_SEEN = 0.3
FLAT_TIMES = 0.1
#: A line of one thin stroke whose ink is less than this fraction as dark as the page's other lines' is the
#: shaded edge of a sheet in a photo (see _without_faint_strokes).
FAINT_STROKE = 0.5
#: A short line (at most SCRAP_SYMBOLS symbols) less than SCRAP_HEIGHT times as tall as the page's darkest line
#: of three symbols or more and less than SCRAP_DARKNESS times as dark, or less than SCRAP_TINY times as tall
#: however dark, is scraps (a faint grid's, a texture's), not writing (see _without_scraps).
SCRAP_SYMBOLS = 5
SCRAP_HEIGHT = 0.5
SCRAP_DARKNESS = 0.7
SCRAP_TINY = 0.25
#: A line of any length whose symbols are, by their median height, less than SCRAP_SYMBOL times as tall as that
#: line's is scraps too: a desk's grain or a sheet's edge read as twenty dots, dashes and crosses.
SCRAP_SYMBOL = 0.25
#: A short line as faint as that (SCRAP_DARKNESS) that runs to the image's edge is scraps however tall: the paper
#: darkening into a photo's vignetted side, read as a column of '7÷2', '4×4' and '3÷3' beside the writing.
#: Saved sets (expressions and worksheets, seeds 19–26): +8 lines, none lost.
SCRAP_AT_EDGE = True
#: ... and a short line whose ink's edges are under SCRAP_SOFT times as sharp as the writing's (see _edge_sharpness):
#: a desk's or a shadow's blurred edge. Seed 39 turned (`bench expressions --seed 39 --turn 10` / `15`): +6 / +8
#: lines of 500 (0.35: +6 / +7; 0.65: +9 / +10; 0.8: +9 / +13 before the outline's margin); as drawn, on the saved
#: and fresh sets, +2 and none lost at 0.35–0.8. Real short lines on seed 39's worksheets are 0.93–1.1 as sharp
#: as their page's writing (200 lines); 0.5 leaves room for a page written in two pens.
SCRAP_SOFT = 0.5
#: Two sums side by side on one line are cut apart at a gap at least this many line heights wide.
SUMS_GAP = 0.6
#: A line's first or last symbol set apart from the rest by FAR_MARK_GAP line heights and FAR_MARK_SPREAD times
#: the line's other gaps (their median), and doubtful — read with less than FAR_MARK_SURE, or under FAR_MARK_SHORT
#: line heights tall — is a stray mark (the sheet's edge, a smudge in the margin), not writing.
FAR_MARK_GAP = 0.8
FAR_MARK_SPREAD = 2.5
FAR_MARK_SURE = 0.5
FAR_MARK_SHORT = 0.6
#: ... or one cut off by the image's border there, however sure: the sheet's edge or a frame, not writing.
FAR_MARK_AT_EDGE = True
#: A decimal comma: a mark less than COMMA_HEIGHT line heights tall whose centre lies at least COMMA_LOW line
#: heights below the line's middle (on the baseline or under it). 0.35 missed points drawn as a tick standing on
#: the baseline (centre about 0.3 down); 0.25 read 5 more lines of the saved sets, none lost.
COMMA_HEIGHT = 0.5
COMMA_LOW = 0.25
#: An exercise number before a line's expression (``3)``, ``12.``): at most LABEL_DIGITS digits, then a mark the
#: classifier gives ``)`` or ``.`` at least LABEL_MARK_P, set apart from the expression by at least LABEL_GAP line
#: heights (and more than the expression's own gaps: see label_length); the expression has at least LABEL_REST
#: symbols.
LABEL_DIGITS = 2
LABEL_MARK_P = 0.5
LABEL_GAP = 0.5
LABEL_REST = 3
#: A dash before a line is a bullet, not a minus, when it stands at least BULLET_GAP line heights and twice the
#: expression's widest gap off what follows (a minus is written against its number).
BULLET_GAP = 1.0

Source = str | Path | bytes | np.ndarray


# ------------------------------------------------------------------------------------------- layout rules
@dataclass(frozen=True)
class Shape:
    """A symbol's box relative to its line: sizes in units of the line's reference symbol height."""

    width: float
    height: float
    centre: float  # vertical centre below the line's mid-height (positive: lower), in line heights
    parts: int
    slant: float | None = None  # degrees the main stroke leans right of vertical (a '/' is about +20…+45)
    bulge: float | None = None  # offset of the ink's middle from the line joining its ends, in heights (+: right)
    usual: float | None = None  # the line's usual symbol width, in line heights (None: unknown)
    mask: np.ndarray | None = field(default=None, repr=False, compare=False)

    def stroke(self) -> tuple[float, float]:
        """(slant, bulge), measured on the mask when not given (only the 1 / ( ) rule needs them)."""
        if self.slant is not None and self.bulge is not None:
            return self.slant, self.bulge
        if self.mask is None:
            return 0.0, 0.0
        return _stroke_geometry(self.mask)


def _stroke_geometry(mask: np.ndarray) -> tuple[float, float]:
    """(slant in degrees, bulge as a fraction of the height) of a thin mostly-vertical symbol."""
    ys, xs = np.nonzero(mask)
    if len(ys) < 3:
        return 0.0, 0.0
    h = mask.shape[0]
    y0, x0 = ys.astype(np.float64), xs.astype(np.float64)
    cy, cx = y0.mean(), x0.mean()
    mu20, mu02, mu11 = ((x0 - cx) ** 2).mean(), ((y0 - cy) ** 2).mean(), ((x0 - cx) * (y0 - cy)).mean()
    # Orientation of the main axis from the vertical; image y grows downwards, so a '/' has mu11 < 0.
    slant = math.degrees(0.5 * math.atan2(-2.0 * mu11, mu02 - mu20))
    band = max(1, h // 6)
    top_x = xs[ys < ys.min() + band].mean()
    bottom_x = xs[ys > ys.max() - band].mean()
    mid = np.abs(ys - (ys.min() + ys.max()) / 2.0) <= band / 2.0
    mid_x = xs[mid].mean() if mid.any() else cx
    bulge = (mid_x - (top_x + bottom_x) / 2.0) / max(h, 1)
    return slant, float(bulge)


def _comma_placed(shape: Shape) -> bool:
    """A mark of one part, shorter than COMMA_HEIGHT and narrow, as low in its line as a comma (COMMA_LOW)."""
    return shape.parts == 1 and shape.width < 0.3 and shape.height < COMMA_HEIGHT and shape.centre >= COMMA_LOW


def _point_sized(shape: Shape) -> bool:
    """A mark the size of a decimal point or comma, placed as a comma, not flat (see POINT_BELIEF)."""
    return _comma_placed(shape) and shape.height >= 0.5 * shape.width


def _stands_apart(line, k: int) -> bool:
    """Whether crop ``k`` of a line lies beside its neighbours, not under or over one (a point stands between
    digits; a mark under a digit is a piece of it, a broken '1''s foot)."""
    x, _, w, _ = line.symbols[k].box
    for j in (k - 1, k + 1):
        if 0 <= j < len(line.symbols):
            nx, _, nw, _ = line.symbols[j].box
            if min(x + w, nx + nw) - max(x, nx) > 0.5 * w:
                return False
    return True


def _two_parts(mask: np.ndarray) -> list[tuple[int, int, int, int]] | None:
    """The boxes (x, y, w, h) of a mask's two parts, left one first; None where it has not exactly two."""
    n, _, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    return sorted(tuple(int(v) for v in stats[i, :4]) for i in (1, 2)) if n == 3 else None


def _two_dots_stacked(mask: np.ndarray, height: float) -> bool:
    """Is a two-part symbol a colon — two dots one above the other, apart — the division sign of much of
    Europe (``12 : 4``), or a ``÷`` whose bar the ink mask lost? ``height``: the symbol's height in line
    heights."""
    parts = _two_parts(mask)
    if parts is None:
        return False
    (x1, y1, w1, h1), (x2, y2, w2, h2) = parts
    unit = height / max(mask.shape[0], 1)  # line heights per pixel
    for w, h in ((w1, h1), (w2, h2)):
        if max(w, h) * unit > 0.3 or max(w, h) > 2.5 * min(w, h):
            return False
    (top_y, top_h), (low_y, _) = sorted(((y1, h1), (y2, h2)))
    overlap = min(x1 + w1, x2 + w2) - max(x1, x2)
    return overlap >= 0.5 * min(w1, w2) and low_y - (top_y + top_h) >= 0.5 * max(h1, h2)


def _bar_before_stroke(mask: np.ndarray) -> bool:
    """Is a two-part symbol a flat bar at mid-height with an upright stroke after it, apart: a '-' and the '1'
    it was written close to (``=-13432`` read ``=13432``)? No '1' has such a part: its flag is high, its foot low."""
    parts = _two_parts(mask)
    if parts is None:
        return False
    H = mask.shape[0]
    (bx, by, bw, bh), (sx, sy, sw, sh) = parts
    middle = by + bh / 2.0
    return (bw >= 1.5 * bh and bh <= 0.3 * H and 0.3 * H <= middle <= 0.7 * H and sh >= 0.7 * H
            and bx + bw <= sx + 0.5 * sw)


def _long_bars(mask: np.ndarray) -> int:
    """How many of a symbol's parts span at least half its width."""
    n, _, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    return int(sum(stats[i, cv2.CC_STAT_WIDTH] >= 0.5 * mask.shape[1] for i in range(1, n)))


def symbol_shape(box, mask: np.ndarray, parts: int, mid_y: float, height: float,
                 usual: float | None = None) -> Shape:
    """``usual``: the line's usual symbol width in pixels, where known."""
    x, y, w, h = box
    height = max(float(height), 1.0)
    return Shape(w / height, h / height, (y + h / 2.0 - mid_y) / height, int(parts),
                 usual=None if usual is None else usual / height, mask=mask)


def _slash_size_factor(shape: Shape) -> float:
    """How much likelier a thin stroke of this size is a '/' than a '1' (1 where its size says nothing)."""
    if shape.usual is None or shape.height < SLASH_TALL or shape.width < SLASH_WIDE * shape.usual:
        return 1.0
    if shape.height >= SLASH_TALLER and shape.width >= SLASH_WIDER * shape.usual:
        return SLASH_LONGER
    return SLASH_LONG


def soften(probs: np.ndarray, temperature: float) -> np.ndarray:
    """Probabilities (rows) raised to the power 1/temperature and renormalized: the softmax of logits / T."""
    if temperature == 1.0 or probs.size == 0:
        return probs
    p = np.power(np.maximum(probs.astype(np.float64), 1e-30), 1.0 / temperature)
    return (p / p.sum(axis=-1, keepdims=True)).astype(np.float32)


def apply_layout_rules(probs: np.ndarray, shape: Shape, classes: Sequence[str], *, normalize: bool = True) -> np.ndarray:
    """Reweight one symbol's probabilities by what its size and position say, and renormalize (``normalize``;
    without it, the reweighted values say how well the best label fits both the crop and its place).

    The rules are likelihood factors, not overrides: a label the layout makes unlikely is scaled down (to a few
    percent), so a classifier that is very sure can still win. What they encode:

    - small in both directions (a speck-sized mark): ``.`` when it sits low in the line, ``×`` (the raised dot
      ``·``) when it sits near mid-height; nothing else is that small;
    - a flat mark that is wide for its height: ``-`` if one stroke, ``=`` if two stacked strokes, ``÷`` if three
      parts; digits and brackets are never flat;
    - ``.`` and ``-`` are never as tall as a digit;
    - ``1`` / ``/`` / ``(`` / ``)`` when the classifier hesitates among them: by slant and curvature.
    """
    idx = {normalize_label(c): i for i, c in enumerate(classes)}
    f = np.ones(len(classes), np.float64)

    def scale(labels: str | Sequence[str], factor: float) -> None:
        for lab in labels:
            if lab in idx:
                f[idx[lab]] *= factor

    def keep_only(labels: Sequence[str], others: float) -> None:
        keep = [idx[lab] for lab in labels if lab in idx]
        if keep:
            mask = np.ones(len(classes), bool)
            mask[keep] = False
            f[mask] *= others

    # A mark at least twice as wide as high and a fifth of a line height wide is a bar, however short;
    # what else fits in 0.3 × 0.3 line heights is a dot.
    # Two or three strokes grouped into one symbol ('=', '÷') may stand taller: bars with a gap between them.
    flat = (shape.height < 0.3 and shape.width >= 2.0 * shape.height and shape.width >= 0.2) or (
        shape.parts >= 2 and shape.height < 0.55 and shape.width >= 1.3 * shape.height and shape.width >= 0.25)
    small = not flat and shape.width < 0.3 and shape.height < 0.3
    # A solid mark wider than high, well below a digit's height, not low in the line: a '=' whose bars ran
    # together under blur or a thick '-' (the classifier reads such a blob as a sure '.'); a big '.' sits low.
    solid = (not flat and not small and shape.parts == 1 and shape.mask is not None and shape.centre <= 0.3
             and shape.width >= 1.3 * shape.height and shape.height < 0.45 and shape.width >= 0.25
             and float(np.count_nonzero(shape.mask)) >= 0.6 * shape.mask.size)
    colon = shape.parts == 2 and shape.mask is not None and not flat and _two_dots_stacked(shape.mask, shape.height)
    # A short narrow mark on or hanging from the baseline: a decimal comma (2,5), read as a point. Nothing else is
    # that short and that low: a '/', '1' or bracket is as tall as the digits.
    comma = not flat and not small and not colon and _comma_placed(shape)
    if colon:
        keep_only(["÷"], 0.02)
    elif comma:
        keep_only(["."], 0.05)
    elif small:
        keep_only([".", "×"], 0.02)
        low = shape.centre > 0.2
        scale(".", 1.0 if low else 0.05)
        scale("×", 0.05 if low else 1.0)
    elif solid:
        keep_only(["=", "-"], 0.05)
        scale("-" if shape.height >= 0.3 else "=", 0.3)
        scale(".", 0.01)  # far too big for a point, however sure the classifier is
    elif flat:
        if shape.parts >= 3:
            keep_only(["÷"], 0.05)
        elif shape.parts == 2:
            keep_only(["=", "÷"], 0.05)
            if shape.mask is not None and _long_bars(shape.mask) >= 2:
                scale("÷", 0.1)  # two bars of about the same length: '=' (a '÷' has one bar and dots)
        else:
            keep_only(["-"], 0.05)
    else:
        # A '.' is a small mark low in the line: anything bigger, or a mid-height blob, is a part of something.
        scale(".", 0.1 if max(shape.width, shape.height) < 0.45 else 0.03)
        if shape.centre <= 0.2:
            scale(".", 0.3)
        if shape.height > 0.45 and shape.height > 2.0 * shape.width:  # tall and thin: not a dash
            scale("-", 0.03)
        if shape.parts == 2 and shape.mask is not None and _bar_before_stroke(shape.mask):
            scale(["1", "(", ")", "/"], BAR_BEFORE_STROKE)
        if shape.parts == 1:
            scale(["=", "÷"], 0.2)  # two or three strokes that the segmenter left apart
            if (shape.width >= FLAT_TIMES_ASPECT * shape.height and shape.height < FLAT_TIMES_HEIGHT
                    and "=" in idx and "×" in idx and probs[idx["="]] >= FLAT_TIMES_SEEN * probs[idx["×"]]):
                scale("×", FLAT_TIMES)
    src = probs.astype(np.float64)
    if small and shape.centre < RAISED_DOT and "." in idx and "×" in idx and src[idx["."]] >= src[idx["×"]]:
        # A dot at mid-height: its 28×28 crop is the same disc for a decimal point and a raised multiplication
        # dot ('·', read as '×'), so the classifier's preference for the commoner '.' says nothing here.
        src = src.copy()
        src[idx["×"]] = src[idx["."]]
    p = src * f
    if solid:
        # The classifier gives a blob's true label next to nothing: a floor lets the layout speak.
        for lab in ("=", "-"):
            if lab in idx:
                p[idx[lab]] = max(p[idx[lab]], 0.02 * f[idx[lab]])

    # 1 / ( ) by slant, curvature and size, when the classifier hesitates over a thin symbol: between them only
    # (a 1 read against a 7 keeps its odds against the 7).
    thin = {"1", "/", "(", ")"}
    top = int(np.argmax(p))
    total = p.sum()
    # A slash is drawn taller than the digits and spans a good part of a digit's width; a 1 seldom both.
    size = _slash_size_factor(shape)
    if (total > 0 and p[top] / total < 0.9 and normalize_label(classes[top]) in thin
            and (shape.height > 1.2 * shape.width or size > 1.0)):
        g = np.ones(len(classes))
        slant, bulge = shape.stroke()
        curved = abs(bulge) > 0.06
        # Slant is weak evidence: 37% of MNIST's test 1s lean more than 15°, most slashes do (likelihood
        # ratio about 2.5); an upright stroke is seldom a slash. Curvature tells brackets apart better.
        upright, leaning = abs(slant) < 8, slant > 15
        for lab, factor in (
            ("/", (0.4 if curved or upright else (2.0 if leaning else 1.0)) * size),
            ("1", 0.7 if curved else (1.5 if upright else (0.8 if leaning else 1.0))),
            ("(", 3.0 if bulge < -0.06 else 0.5),
            (")", 3.0 if bulge > 0.06 else 0.5),
        ):
            if lab in idx:
                g[idx[lab]] = factor
        thin_idx = [idx[lab] for lab in thin if lab in idx]
        before = float(p[thin_idx].sum())
        p = p * g
        after = float(p[thin_idx].sum())
        if after > 0:
            p[thin_idx] *= before / after  # shape tells the thin symbols apart, not a thin one from the rest
    if not normalize:
        return p.astype(np.float32)
    s = p.sum()
    return (p / s).astype(np.float32) if s > 0 else probs.astype(np.float32)


def expected_width(label: str, usual: float) -> float:
    """How wide a symbol read as ``label`` is drawn, from the line's usual symbol width: operators wider (1.5×),
    a '1', a bracket or a slash narrower (a wide blob read as a '1' is likely a '1' with a neighbour)."""
    return usual * (1.5 if label in WIDE else (NARROW_WIDTH if label in NARROW else 1.0))


def whole_prior(width_ratio: float, whole_fit: float = 0.0) -> float:
    """Prior that a blob offered for splitting is one symbol, from its width over the line's usual width.

    Measured on drawn and benchmark lines: the classifier reads a blob of two touching symbols as one symbol
    as surely as it reads a real one (a '3=' as a sure '3'), and the parts carved off a single symbol's ends
    (a '2''s tail, a '5''s flag) also read surely as '.' or '-'. So the width decides most: up to 1.3 usual
    widths a blob is most likely one symbol (0.9), from 1.7 most likely several (0.1).

    ``whole_fit`` is how well the best label fits the unsplit blob. A single symbol almost always reads as a
    sure one (≥ SURE_WHOLE); most touching pairs read less surely, and the sure ones are the wider pairs. So
    a blob read surely must be wider (SURE_PRIOR_AT) before it is taken for several symbols.
    """
    at = SURE_PRIOR_AT if whole_fit >= SURE_WHOLE else WHOLE_PRIOR_AT
    return float(np.interp(width_ratio, at, [0.9, 0.1]))


# ---------------------------------------------------------------------------------------------- predictor
def _likeliest(s: SymbolResult) -> str:
    """A symbol's likeliest reading (it may have been read otherwise to make its line parse)."""
    return max([(s.confidence, s.label), *((p, label) for label, p in s.alternatives)])[1]


def _operator_first(line: LineResult) -> bool:
    """Whether a line's first symbol is likeliest an operator (``+ - × ÷``)."""
    return _likeliest(line.symbols[0]) in "+-×÷*·x:"


def _lone_mark(line: LineResult) -> bool:
    """A line of one symbol whose likeliest reading is not a digit (it may have been repaired into one: a
    lone '×' does not parse): no expression but a stray dash, a speck, a piece of a ruled line at a sheet's edge,
    a scrap of a board's frame. It is left out of the page's lines."""
    return len(line.symbols) == 1 and not _likeliest(line.symbols[0]).isdigit()


#: At most this many rules erased from a page may be a column sum's bars (two: a multiplication's); more are
#: the rules of ruled or squared paper.
COLUMN_BAR_RULES = 2

#: A line of printed words (a worksheet's title, "Show your work") is read as digits; what gives it away is its
#: lowercase letters: at least PRINTED_LETTERS symbols, and PRINTED_SHARE of the line's, between
#: PRINTED_X_HEIGHT of its tall symbols' height, at least half as wide as high, standing on the baseline the tall
#: ones stand on (within PRINTED_BASELINE of their height, or 2 px) and as high as one another (spread of heights
#: under PRINTED_SPREAD of it). Handwritten operators stand at mid-height; no hand is that even. Measured on 160
#: title lines (10 titles, 8 fonts, 2 sizes: 120 found), 120 printed sums (none) and 1,940 handwritten benchmark
#: lines (none).
PRINTED_LETTERS = 4
PRINTED_SHARE = 0.4
PRINTED_X_HEIGHT = (0.45, 0.85)
PRINTED_BASELINE = 0.05
PRINTED_SPREAD = 0.04
#: Lines whose tall symbols are smaller than this (px) are too coarse for the test.
PRINTED_MIN_HEIGHT = 16


def printed_words(boxes: Sequence[tuple[int, int, int, int]]) -> bool:
    """Whether a line's symbol boxes (x, y, w, h) are those of printed words (see PRINTED_LETTERS)."""
    if len(boxes) < 5:
        return False
    tall_h = percentile([b[3] for b in boxes], 90)
    if tall_h < PRINTED_MIN_HEIGHT:
        return False
    base = median([y + h for _, y, _, h in boxes if h >= 0.85 * tall_h])
    lo, hi = PRINTED_X_HEIGHT
    letters = [h for _, y, w, h in boxes if lo * tall_h <= h <= hi * tall_h and w >= 0.5 * h
               and abs(y + h - base) <= max(PRINTED_BASELINE * tall_h, 2.0)]
    return (len(letters) >= max(PRINTED_LETTERS, PRINTED_SHARE * len(boxes))
            and float(np.std(letters)) < PRINTED_SPREAD * tall_h)


def _ink_darkness(line: LineResult, pre) -> float:
    """The median darkness (0-255) of a line's ink, from preprocessing's darkness map (0 where there is none)."""
    values = [pre.darkness[y : y + h, x : x + w][pre.mask[y : y + h, x : x + w]] for x, y, w, h in
              (s.box for s in line.symbols)]
    values = [v for v in values if v.size]
    return median(np.concatenate(values)) if values else 0.0


def _edge_sharpness(line: LineResult, pre) -> float:
    """How sharply a line's ink stands out of the paper: the median darkness step per pixel across its outline,
    over its median darkness (about one over the width of the edge's ramp). A pen's stroke is as sharp as the
    photo's focus lets it be; a shadow's or a desk's blurred edge left in the mask is many times softer."""
    steps, levels = [], []
    for x, y, w, h in (s.box for s in line.symbols):
        # A margin of two pixels: the outline runs along the box's sides.
        x0, y0 = max(x - 2, 0), max(y - 2, 0)
        m = pre.mask[y0 : y + h + 2, x0 : x + w + 2]
        if min(m.shape) < 2 or not m.any():
            continue
        d = pre.darkness[y0 : y + h + 2, x0 : x + w + 2].astype(np.float32)
        gy, gx = np.gradient(d)
        outline = cv2.morphologyEx(m.view(np.uint8), cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8)) > 0
        steps.append(np.hypot(gx, gy)[outline])
        levels.append(d[m])
    if not steps:
        return 0.0
    return median(np.concatenate(steps)) / max(median(np.concatenate(levels)), 1.0)


def _without_faint_strokes(lines: list[LineResult], pre) -> list[LineResult]:
    """The page's lines less those of one thin stroke (read '1', '/' or a bracket) far fainter than the page's
    other writing: the shaded edge of a photographed sheet inside the frame, not a number anyone wrote."""
    if pre.darkness is None or len(lines) < 2:
        return lines
    thin = {"1", "/", "(", ")"}
    lone = [len(line.symbols) == 1 and line.symbols[0].label in thin for line in lines]
    if not any(lone):
        return lines
    others = [_ink_darkness(line, pre) for line, one in zip(lines, lone) if not one]
    if not others:
        return lines
    page = median(others)
    return [line for line, one in zip(lines, lone) if not (one and _ink_darkness(line, pre) < FAINT_STROKE * page)]


def _symbol_height(line: LineResult) -> float:
    """The median height of a line's symbols (px)."""
    return median([s.box[3] for s in line.symbols]) if line.symbols else 0.0


def _without_scraps(lines: list[LineResult], pre) -> list[LineResult]:
    """The page's lines less the short ones far smaller and fainter than its writing (see SCRAP_HEIGHT): what a
    faint grid or the paper's texture leaves after preprocessing is read as lines of '1's and dashes. The
    writing is the darkest line of three symbols or more; a page of a few lines of writing loses nothing. A line
    of tiny symbols (SCRAP_SYMBOL) goes however long it is, and a short faint one that runs to the image's edge
    however tall (SCRAP_AT_EDGE)."""
    if pre.darkness is None or len(lines) < 2:
        return lines
    dark = [_ink_darkness(line, pre) for line in lines]
    refs = [i for i, line in enumerate(lines) if len(line.symbols) >= 3]
    if not refs:
        return lines
    ref = max(refs, key=lambda i: dark[i])
    height, darkness = float(lines[ref].box[3]), dark[ref]
    symbol = _symbol_height(lines[ref])

    def scraps(i: int) -> bool:
        line = lines[i]
        if i == ref or line.correct is True:
            return False
        if _symbol_height(line) < SCRAP_SYMBOL * symbol:
            return True
        if len(line.symbols) > SCRAP_SYMBOLS:
            return False
        h = float(line.box[3])
        faint = dark[i] < SCRAP_DARKNESS * darkness
        if SCRAP_SOFT > 0 and _edge_sharpness(line, pre) < SCRAP_SOFT * sharpness():
            return True
        return h < SCRAP_TINY * height or (faint and (h < SCRAP_HEIGHT * height or (SCRAP_AT_EDGE and at_edge(line))))

    @functools.cache
    def sharpness() -> float:
        return _edge_sharpness(lines[ref], pre)

    def at_edge(line: LineResult) -> bool:  # the image's edge, or where it went in a levelled mask
        x, y, w, h = line.box
        H, W = pre.mask.shape[:2]
        edge = getattr(pre, "edge", None)
        return x <= 0 or y <= 0 or x + w >= W or y + h >= H or (edge is not None and bool(edge[y : y + h, x : x + w].any()))

    return [line for i, line in enumerate(lines) if not scraps(i)]


def _page_box(box: Sequence[int], scale: float, size: tuple[int, int]) -> tuple[int, int, int, int]:
    """A box in working pixels (``scale`` of the page's) → the page pixels it covers, within the page."""
    x, y, w, h = box
    x0, y0 = int(math.floor(x / scale)), int(math.floor(y / scale))
    x1, y1 = min(int(math.ceil((x + w) / scale)), size[0]), min(int(math.ceil((y + h) / scale)), size[1])
    return x0, y0, max(x1 - x0, 1), max(y1 - y0, 1)


def _level_angle(pre, lines) -> float | None:
    """The angle to level the page by before it is cut into symbols, or None where it is near enough level.
    Symbols are classified as cut: a phone held 10° off turns every '1' towards a '/' and every '-' off the
    level. Levelled only where the ink's projection (preprocess's angle) and the centres of the lines' symbols
    (segment.writing_angle) agree: on a short line a slash sways the projection (a level '5/5=' gave -9.6°)."""
    from hdr_expr.pipeline.segment import MAX_ANGLE, segment_page, writing_angle

    def agreed(angle: float | None) -> bool:
        return angle is not None and abs(angle) >= DESKEW_ANGLE and abs(angle - pre.angle) <= DESKEW_AGREEMENT

    angle = writing_angle(lines)
    if not agreed(angle) and abs(pre.angle) > MAX_ANGLE:  # beyond where the segmenter looks for lines
        angle = writing_angle(segment_page(pre.mask, angle=pre.angle))
    return (angle + pre.angle) / 2.0 if agreed(angle) else None


def _turned_box(box: Sequence[int], matrix: np.ndarray, size: tuple[int, int]) -> tuple[int, int, int, int]:
    """The box that holds a box's corners moved by a 2×3 ``matrix``, within ``size`` (width, height)."""
    x, y, w, h = box
    corners = np.array([[x, y, 1], [x + w, y, 1], [x, y + h, 1], [x + w, y + h, 1]], np.float64) @ matrix.T
    x0, y0 = (max(0, int(math.floor(v))) for v in corners.min(axis=0))
    x1, y1 = (min(int(math.ceil(v)), s) for v, s in zip(corners.max(axis=0), size))
    return x0, y0, max(x1 - x0, 1), max(y1 - y0, 1)


def _page_turned_back(page: PageResult, quarters: int, size: tuple[int, int], seconds: float) -> PageResult:
    """A page read turned ``quarters`` counter-clockwise, its boxes back on the page as given (``size``)."""
    from hdr_expr.pipeline.orientation import box_turned_back

    return dataclasses.replace(page.with_boxes(lambda box: box_turned_back(box, quarters, size)), size=size,
                               seconds=seconds, turned=90 * (quarters % 4))


def _kept_where_it_holds(page: PageResult, kept: PageResult) -> PageResult:
    """``page`` read with what looked crossed out erased, ``kept`` the same page read with nothing erased: a line
    of ``kept`` replaces the line of ``page`` it overlaps most where its written answer holds and that one's does
    not. (A '+' drawn over the 4 after it looks struck through; ``2+4×8=34`` holds, ``2×8=34`` does not.)"""
    def overlap(a: Sequence[int], b: Sequence[int]) -> int:
        across = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
        down = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
        return max(0, across) * max(0, down)

    lines = list(page.lines)
    crossed = list(page.crossed_out)
    for k in kept.lines:
        if k.correct is not True or not lines:
            continue
        i = max(range(len(lines)), key=lambda j: overlap(lines[j].box, k.box))
        if overlap(lines[i].box, k.box) > 0 and lines[i].correct is not True:
            crossed = [box for box in crossed if not overlap(box, lines[i].box) and not overlap(box, k.box)]
            lines[i] = k
    return dataclasses.replace(page, lines=tuple(lines), crossed_out=tuple(crossed))


def _ink_boxes(mask: np.ndarray, reach: float) -> list[tuple[int, int, int, int]]:
    """Boxes of a mask's ink, pieces within ``reach`` pixels of each other in one box."""
    k = 2 * int(math.ceil(reach)) + 1
    n, labels = cv2.connectedComponents(cv2.dilate(mask.view(np.uint8), np.ones((k, k), np.uint8)), connectivity=8)
    boxes = []
    for i in range(1, n):
        ys, xs = np.nonzero(mask & (labels == i))
        boxes.append((int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)))
    return boxes


def _display_name(source: str | Path | bytes, name: str | None) -> str:
    if name:
        return name
    if isinstance(source, (bytes, bytearray, memoryview)) or str(source) == "-":
        return "-"
    return str(source)


def _queue_crop(part, line, height: float, normalized: list[np.ndarray], views: list[np.ndarray] | None) -> int:
    """Append a crop to the page's classifier batch (``normalized``) and, where ``views`` is given, its input to
    the verifier's batch; returns its index in the classifier batch."""
    norm = normalize_symbol(part.mask)
    normalized.append(norm)
    if views is not None:
        mid = line.middle_at(part.box[0] + part.box[2] / 2.0)
        views.append(verifier_input(part.mask, part.box, height, mid, normalized=norm))
    return len(normalized) - 1


#: Symbols no expression begins with: what follows an exercise number cannot be one of them.
_NO_START = frozenset("+×÷=/")


def _bullet(boxes: Sequence[tuple[int, int, int, int]], probs: Sequence[np.ndarray], classes: Sequence[str],
            height: float) -> bool:
    """Whether a line's first symbol is a dash set before it as a bullet (``-   47/47=1``)."""
    if len(boxes) < 1 + LABEL_REST or normalize_label(classes[int(np.argmax(probs[0]))]) != "-":
        return False
    gap = boxes[1][0] - (boxes[0][0] + boxes[0][2])
    widest = max(max(0, b[0] - (a[0] + a[2])) for a, b in zip(boxes[1:], boxes[2:]))
    return gap >= BULLET_GAP * height and gap >= 2.0 * widest


def label_length(boxes: Sequence[tuple[int, int, int, int]], probs: Sequence[np.ndarray], classes: Sequence[str],
                 height: float) -> int:
    """How many of a line's first symbols are an exercise number written before its expression (``3)``,
    ``12.``), 0 if none.

    Worksheets number their exercises, and a teacher's numbers are no part of the sums: read with the line,
    ``1) 12+7=19`` becomes ``1112+7=19`` (the unmatched ``)`` is repaired into a ``1``) and is marked wrong. A
    number is digits, then a ``)`` or ``.``, then a gap wider than the expression's own. A dash set well apart
    before the line (:func:`_bullet`) is a bullet, the line's label too.
    """
    index = {normalize_label(c): i for i, c in enumerate(classes)}
    if _bullet(boxes, probs, classes, height):
        return 1
    marks = [m for m in (")", ".") if m in index]
    if not marks:
        return 0
    for k in range(2, LABEL_DIGITS + 2):
        if len(boxes) < k + LABEL_REST:
            break
        if not all(normalize_label(classes[int(np.argmax(p))]).isdigit() for p in probs[: k - 1]):
            break
        if normalize_label(classes[int(np.argmax(probs[k]))]) in _NO_START:
            continue  # '21 +27=' read '2) +27=': a sum cannot begin with '+', so the '1' is no label's mark
        p_mark = {m: float(probs[k - 1][index[m]]) for m in marks}
        if max(p_mark.values()) < LABEL_MARK_P:
            continue
        gap = boxes[k][0] - (boxes[k - 1][0] + boxes[k - 1][2])
        inner = sorted(max(0, b[0] - (a[0] + a[2])) for a, b in zip(boxes[k:], boxes[k + 1 :]))
        if gap < LABEL_GAP * height or not inner:
            continue
        if p_mark.get(")", 0.0) >= LABEL_MARK_P:
            # A ')' with no '(' before it can open no sum: a gap wider than the sum's usual one will do (a
            # printed sheet spaces its operators out, and the answer is written further off still).
            if gap >= 1.5 * median(inner):
                return k
        elif gap >= 2.0 * (inner[-2] if len(inner) >= 2 else inner[0]):
            # '12.' could begin a decimal: apart by twice the sum's widest gap but one.
            return k
    return 0


#: A question mark's dot is at most this many line heights across (see _is_question_mark).
QUESTION_DOT = 0.3
#: A tick after a sum (see Recognizer._without_tick): at least TICK_TALL line heights tall, its top TICK_ABOVE line
#: heights above the other symbols', read with less than TICK_SURE.
TICK_TALL = 1.25
TICK_ABOVE = 0.2
TICK_SURE = 0.7
#: What an answer written on its own reads as: a number, perhaps negative, decimal or a fraction.
_ANSWER = re.compile(r"-?\d+(\.\d+)?(/\d+)?")


def _is_question_mark(crop, height: float) -> bool:
    """A crop of two parts: a hook, and under it a dot (at most QUESTION_DOT line heights across, below the
    hook's lowest row, within its width). No digit or operator has a dot under it."""
    if crop.parts != 2:
        return False
    n, _, stats, _ = cv2.connectedComponentsWithStats(crop.mask.astype(np.uint8), connectivity=8)
    if n != 3:
        return False
    (hx, hy, hw, hh, _), (dx, dy, dw, dh, _) = sorted(stats[1:3].tolist(), key=lambda r: -r[4])
    return (max(dw, dh) <= QUESTION_DOT * height and hh >= 0.5 * height and dy >= hy + hh - 1
            and hx - 0.2 * hw <= dx + dw / 2.0 <= hx + 1.2 * hw)


def _doubtful(symbol, height: float) -> bool:
    """A symbol read with little confidence (FAR_MARK_SURE) or far shorter than its line (FAR_MARK_SHORT)."""
    return symbol.confidence < FAR_MARK_SURE or symbol.box[3] < FAR_MARK_SHORT * height


def _overlaps(a: Sequence[int], b: Sequence[int]) -> bool:
    """Do two (x, y, w, h) boxes share a pixel?"""
    return a[0] < b[0] + b[2] and b[0] < a[0] + a[2] and a[1] < b[1] + b[3] and b[1] < a[1] + a[3]


def _same_row(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> bool:
    """Do two line boxes share a row (they overlap over half the shorter one's height)?"""
    overlap = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    return overlap >= 0.5 * min(a[3], b[3])


def _sums_cut(result: LineResult, height: float) -> float | None:
    """Where to cut a line read with two '=' into two sums (a page column), or None: the middle of the widest
    gap between the symbol after its first '=' and its second '=', if that gap is SUMS_GAP line heights wide."""
    syms = sorted(result.symbols, key=lambda sym: sym.box[0])
    eq = [i for i, sym in enumerate(syms) if sym.label == "="]
    if len(eq) < 2 or eq[1] - eq[0] < 3:
        return None
    gaps = [(syms[i].box[0] - (syms[i - 1].box[0] + syms[i - 1].box[2]), i) for i in range(eq[0] + 2, eq[1])]
    width, i = max(gaps)
    if width < SUMS_GAP * height:
        return None
    return syms[i].box[0] - width / 2.0


def _not_as_first_read(result: LineResult) -> int:
    """How far a line is from reading as its classifier first read it: the symbols read otherwise (a repair, or
    agreement), and 100 more where it does not parse. Where it is not 0, a crop may hold two symbols that were
    never parted (a ')' run into the '9' before it leaves the '(' unmatched, which the repair reads as a '1')."""
    changed = sum(1 for s in result.symbols if s.alternatives and s.alternatives[0][1] > s.confidence)
    return changed + (100 if unparsed(result.error) else 0)


def _candidates(p: np.ndarray, classes: Sequence[str], k: int) -> list[tuple[str, float]]:
    order = np.argsort(p)[::-1][:k]
    out = [(normalize_label(classes[i]), float(p[i])) for i in order if p[i] >= MIN_ALTERNATIVE_P]
    return out or [(normalize_label(classes[order[0]]), float(p[order[0]]))]


class Recognizer:
    """Reads pages of handwritten arithmetic. Holds the classifier (one per process and model directory).

    ``latex=False`` leaves each line's ``latex`` unset, which spares the sympy import (most of a cold start)
    where LaTeX is not shown, as in the CLI's text output. ``classifier`` replaces the model (tests, wrappers).
    ``verifier``: the segmentation verifier (a :class:`Verifier` or a model directory; default the shipped one,
    see :func:`load_verifier`); ``False`` reads without one (crops are then kept or split by a width prior).
    ``orient=False`` reads every page as given, never turned a quarter or a half (see :mod:`.orientation`).
    """

    def __init__(self, model: str | Path | None = None, *, threads: int | None = None, latex: bool = True,
                 classifier: Classifier | None = None, verifier: Verifier | str | Path | bool | None = None,
                 orient: bool = True):
        self.latex = latex
        self.orient = orient
        self.classifier = classifier or load_classifier(model, threads=threads)
        if verifier is None or verifier is True:
            verifier = load_verifier(None, threads)
        elif verifier is False:
            verifier = None
        elif not isinstance(verifier, Verifier):
            verifier = load_verifier(str(Path(verifier).resolve()), threads)
        self.verifier: Verifier | None = verifier
        self.classes = self.classifier.classes
        self._index = {normalize_label(c): i for i, c in enumerate(self.classes)}

    # -- one image
    def read_image(self, image: np.ndarray, *, file: str = "<array>", page: int = 1) -> PageResult:
        """Read one page image (grey, RGB or RGBA array). Raises InputError for an array that is no image."""
        from hdr_expr.pipeline.io import page_from_array

        pg = page_from_array(image, name=file, page=page)
        return self._read(pg.image, file, page)

    def _read(self, rgb: np.ndarray, file: str, page: int, orient: bool = True, cross: bool = True) -> PageResult:
        from hdr_expr.pipeline.orientation import ORIENT_MARGIN, reading_score
        from hdr_expr.pipeline.preprocess import levelled, preprocess
        from hdr_expr.pipeline.marks import answer_rings, hand_underlines
        from hdr_expr.pipeline.segment import long_bars, segment_page, underlines

        t0 = time.perf_counter()
        h, w = rgb.shape[:2]
        pre = preprocess(rgb, max_stroke=WORK_STROKE, min_stroke=MIN_STROKE)
        rings = answer_rings(pre.mask)
        if rings.any():  # rings drawn around answers are no writing
            pre = dataclasses.replace(pre, mask=pre.mask & ~rings)
        lines = segment_page(pre.mask)
        cut_size, turned_back = pre.mask.shape[::-1], None
        angle = _level_angle(pre, lines)
        if angle is not None:
            pre, turned_back = levelled(pre, angle)
            lines = segment_page(pre.mask, edge=pre.edge)
        fractions = self._stacked_fractions(pre)
        unread = [box for box in pre.fraction_rules if not any(_overlaps(f.fraction.bar, box) for f in fractions)]
        if unread and turned_back is None:
            # A line left on the page for a fraction's bar that no fraction read has (a column sum's bar under its
            # operator's row) is a rule after all: erased, and its box kept with the rules'.
            band = np.zeros_like(pre.mask)
            pad = int(math.ceil(pre.stroke))
            for x, y, bw, bh in unread:
                band[max(y - pad, 0) : y + bh + pad, max(x, 0) : x + bw] = True
            pre = dataclasses.replace(pre, mask=pre.mask & ~band, rule_boxes=pre.rule_boxes + tuple(unread))
            if not fractions:
                lines = segment_page(pre.mask, edge=pre.edge)
        if fractions:  # read apart; the page is read with a stand-in for each, then each is put back in its line
            ink = np.logical_or.reduce([f.fraction.ink for f in fractions])
            stand_ins = stand_in_mask(pre.mask.shape, [f.fraction for f in fractions], pre.stroke)
            pre = dataclasses.replace(pre, mask=(pre.mask & ~ink) | stand_ins)
            lines = segment_page(pre.mask, edge=pre.edge)
        erased = crossed_out(pre.mask, lines, pre.stroke) if cross else None
        crossed = erased is not None and bool(erased.any())
        if crossed:  # what the pupil crossed out is not read (but see _kept_where_it_holds)
            pre = dataclasses.replace(pre, mask=pre.mask & ~erased)
            lines = segment_page(pre.mask, edge=pre.edge)
        blanks = underlines(pre.mask, lines) | long_bars(pre.mask, lines) | hand_underlines(pre.mask, lines)
        bars: list[tuple[int, int, int, int]] = []  # their boxes (a column sum's bar is one)
        if blanks.any():  # answer blanks ruled under the lines are no writing: read the page without them
            pre = dataclasses.replace(pre, mask=pre.mask & ~blanks)
            lines = segment_page(pre.mask, edge=pre.edge)
            _, _, stats, _ = cv2.connectedComponentsWithStats(blanks.view(np.uint8), connectivity=8)
            bars = [tuple(int(v) for v in row[:4]) for row in stats[1:]]
        if turned_back is None and len(pre.rule_boxes) <= COLUMN_BAR_RULES:
            # A bar across a tight crop is erased as a rule (not the rules of ruled paper: they are many). (A page
            # turned level has them where they were before it was turned.)
            bars += list(pre.rule_boxes)
        read, turned = self._read_lines(pre, lines, rgb, file, page, orient)
        if read is None:  # sure it is turned
            return _page_turned_back(turned[1], turned[0], (w, h), time.perf_counter() - t0)
        # Sums written in columns (numbers stacked over an operator's row, the answer under a bar): one line.
        # Stray marks and printed words are no expressions (unless a written answer holds).
        results = [result for result in join_columns(place_fractions([result for _, _, result in read], fractions,
                                                                     latex=self.latex), bars=bars, latex=self.latex)
                   if not _lone_mark(result)
                   and (result.correct is True or not printed_words([s.box for s in result.symbols]))]
        if fractions:  # (the fractions' ink back, for how dark their lines are)
            pre = dataclasses.replace(pre, mask=(pre.mask & ~stand_ins) | ink)
        results = _without_scraps(_without_faint_strokes(results, pre), pre)
        given = PageResult(file=file, page=page, lines=tuple(results), size=(w, h),
                           crossed_out=tuple(_ink_boxes(erased, 3 * pre.stroke)) if crossed else ())
        if turned_back is not None:
            given = given.with_boxes(lambda box: _turned_box(box, turned_back, cut_size))
        if pre.scale != 1.0:
            given = given.with_boxes(lambda box: _page_box(box, pre.scale, (w, h)))
        given = dataclasses.replace(given, seconds=time.perf_counter() - t0)
        if crossed:
            given = _kept_where_it_holds(given, self._read(rgb, file, page, orient=False, cross=False))
        if turned is not None and reading_score(turned[1].lines) > reading_score(given.lines) + ORIENT_MARGIN:
            return _page_turned_back(turned[1], turned[0], (w, h), given.seconds)
        return given

    def _stacked_fractions(self, pre) -> list[ReadFraction]:
        """The page's stacked fractions (see :mod:`fractions`), each part read as a line of its own. A fraction
        whose numerator or denominator reads as anything but one line with no '=', or whose numerator starts with
        an operator (a column sum's last row over its bar), is left to the page."""
        from hdr_expr.pipeline.segment import segment_page

        def part(ink: np.ndarray) -> LineResult | None:
            read, _ = self._read_lines(dataclasses.replace(pre, mask=ink), segment_page(ink, edge=pre.edge),
                                       None, "", 0, orient=False)
            results = [result for _, _, result in read]
            ok = len(results) == 1 and results[0].symbols and "=" not in results[0].text
            return results[0] if ok else None

        out = []
        for f in find_fractions(pre.mask, pre.stroke):
            numerator = part(f.numerator)
            if numerator is None or _operator_first(numerator):
                continue  # (an operator first: a column sum's operator row over its bar, ``+53``)
            denominator = part(f.denominator)
            if denominator is not None:
                out.append(ReadFraction(f, numerator, denominator))
        return out

    def _read_lines(self, pre, lines, rgb: np.ndarray | None, file: str, page: int, orient: bool) -> tuple:
        """Read a page's lines: ``(read, turned)``, ``read`` a list of (line, paths, result) and ``turned`` the page
        read another way up where the crops vote for one (else None); ``read`` is None where that reading is sure
        (the page is turned). Without ``orient`` no turn is tried (``rgb`` is then not needed)."""
        from hdr_expr.pipeline.orientation import (ORIENT_SURE_SCORE, best_turn, cut_across, reading_score,
                                                   turn_votes, turned_copies, turns_to_test, vote_sample)
        from hdr_expr.pipeline.segment import VERIFIED_SPLIT_HEIGHT, VERIFIED_SPLIT_USUAL, line_readings

        # Every crop the page's readings propose (whole symbols, the pieces of splits, merged runs), normalized
        # and classified in one batch; the verifier judges the same crops in one batch of its own.
        verifier = self.verifier
        normalized: list[np.ndarray] = []
        views: list[np.ndarray] = []
        heights = [float(line.height) or float(max((s.box[3] for s in line.symbols), default=1)) for line in lines]
        # First the crops as segmented, which the verifier judges in a batch of its own: a crop it is sure is one
        # symbol is not offered for splitting (its pieces would cost segmenting, the verifier and the classifier,
        # and lose).
        batch_index: dict[int, int] = {}  # a piece shared by two readings is read once
        sure = None
        if verifier is not None and SPLIT_SURE_WHOLE <= 1.0:
            for line, height in zip(lines, heights):
                for s in line.symbols:
                    batch_index[id(s)] = _queue_crop(s, line, height, normalized, views)
            sure = verifier.p_whole(np.stack(views)) if views else np.zeros(0, np.float32)
        plans = []  # per line: its readings and, per reading, the batch index of each part
        for line, height in zip(lines, heights):
            keep = (() if sure is None else
                    {k for k, s in enumerate(line.symbols) if sure[batch_index[id(s)]] >= SPLIT_SURE_WHOLE})
            readings = (line_readings(line, max_merge=3, split_usual=VERIFIED_SPLIT_USUAL,
                                      split_height=VERIFIED_SPLIT_HEIGHT, whole=keep) if verifier is not None
                        else line_readings(line, max_merge=1))
            indices = []
            for r in readings:
                idx = []
                for part in r.parts:
                    if id(part) not in batch_index:
                        batch_index[id(part)] = _queue_crop(part, line, height, normalized,
                                                            views if verifier is not None else None)
                    idx.append(batch_index[id(part)])
                indices.append(idx)
            plans.append((line, height, readings, indices))
        # The verifier's beliefs for every crop queued: those of the first pass, then the rest's.
        judged = 0 if sure is None else len(sure)
        whole = sure if views else None
        if len(views) > judged:
            rest = verifier.p_whole(np.stack(views[judged:]))
            whole = rest if sure is None else np.concatenate([sure, rest])
        if whole is not None:
            whole = self._split_doubted(plans, whole, normalized)
        batch = np.stack(normalized) if normalized else np.zeros((0, 28, 28), np.float32)
        # Which way up (see orientation): the crops as segmented are also classified turned, in the same call.
        # Where a turn reads them surer, the page is read that way up; that reading is taken where it reads as
        # sums with answers, else only where it scores higher than the page read as given (read on below).
        orient = orient and self.orient
        sizes = [len(line.symbols) for line in lines]
        turns = turns_to_test(sizes) if orient else ()
        cut = [batch_index[id(s)] for line in lines for s in line.symbols if id(s) in batch_index] if turns else []
        cut = [cut[i] for i in vote_sample(len(cut))]
        extra = turned_copies(batch[cut], turns) if cut else batch[:0]
        raw = self.classifier.predict(np.concatenate([batch, extra]) if len(extra) else batch)
        raw, turned_raw = raw[: len(batch)], raw[len(batch) :]
        probs = soften(raw, CLASSIFIER_TEMPERATURE)
        turn = best_turn(turn_votes(raw[cut], turned_raw, turns)) if cut else 0
        turned = self._read_turned(rgb, file, page, turn) if turn else None
        if orient and cut_across(sizes) and not (turned is not None and turned[0] % 2):
            # On its side, cut across, and the vote chose neither side (one it chose had its other end read too).
            turned = max((self._read_turned(rgb, file, page, k, other_end=False) for k in (1, 3)),
                         key=lambda t: reading_score(t[1].lines))
        if turned is not None and reading_score(turned[1].lines) > ORIENT_SURE_SCORE:
            return None, turned

        read = []
        for plan in plans:
            line, height, readings, indices = plan
            paths = self._best_paths(line, height, readings, indices, probs, whole)
            result = self._read_line(line, paths, pre)
            far = _not_as_first_read(result)
            if whole is not None and RETRY_DOUBT > DOUBTED_WHOLE and far:
                retried = self._read_with_more_splits(plan, probs, whole, normalized, pre)
                # Kept only where it reads the line closer to the classifier's first choices: a split that
                # mends nothing is no likelier than the crop it parts.
                if retried is not None and (_not_as_first_read(retried[1]) < far
                                            or (retried[1].correct is True and result.correct is not True)):
                    paths, result = retried
            read.append(self._without_tick(line, paths, result, pre)
                        or self._without_question_mark(line, paths, result, pre)
                        or self._without_stray_points(line, paths, result, pre)
                        or self._without_far_marks(line, paths, result, pre) or (line, paths, result))
        return self._join_far_answers(self._split_sums(read, pre), pre), turned

    def _read_turned(self, rgb: np.ndarray, file: str, page: int, turn: int,
                     other_end: bool = True) -> tuple[int, PageResult]:
        """The page read turned ``turn`` quarters counter-clockwise: (turn, reading), boxes on the turned page. On
        its side, where that reading is no sure one, the other end up is read too (``other_end``) and the likelier
        kept: the crops tell which way the lines run better than which end is up."""
        from hdr_expr.pipeline.orientation import ORIENT_SURE_SCORE, reading_score

        def read(k: int) -> tuple[int, PageResult]:
            return k, self._read(np.ascontiguousarray(np.rot90(rgb, k)), file, page, orient=False)

        turned = read(turn)
        if other_end and turn % 2 and reading_score(turned[1].lines) <= ORIENT_SURE_SCORE:
            flipped = read((turn + 2) % 4)
            if reading_score(flipped[1].lines) > reading_score(turned[1].lines):
                return flipped
        return turned

    def _read_part(self, line, paths, keep, pre):
        """The line read again with only the crops, and the parts of its paths, whose boxes ``keep`` holds true
        for: (line, paths, result), or None where nothing is left."""
        from hdr_expr.pipeline.segment import union_box

        crops = tuple(c for c in line.symbols if keep(c.box))
        sub_paths = [(score, [(part, p) for part, p in chosen if keep(part.box)]) for score, chosen in paths]
        sub_paths = [(score, chosen) for score, chosen in sub_paths if chosen]
        if not crops or not sub_paths:
            return None
        sub = dataclasses.replace(line, box=union_box([c.box for c in crops]), symbols=crops)
        return sub, sub_paths, self._read_line(sub, sub_paths, pre)

    def _without_question_mark(self, line, paths, result: LineResult, pre):
        """``12+7=?``: the question mark, no class of the classifier's, is read as a digit (``12+7=7``, marked
        wrong). The line's last crop after an '=' that is a hook with a dot below it (:func:`_is_question_mark`) is
        left out: the line asks for its value. Returns (line, paths, result), or None."""
        if len(result.symbols) < 3 or result.symbols[-2].label != "=" or not _is_question_mark(line.symbols[-1], line.height):
            return None
        x = line.symbols[-1].box[0]
        asked = self._read_part(line, paths, lambda box: box[0] + box[2] <= x, pre)
        return asked if asked and asked[2].error is None and asked[2].text.endswith("=") else None

    def _without_stray_points(self, line, paths, result: LineResult, pre):
        """A speck of dirt before a number is read as its decimal point (``.5×83``, ``15-.6=9``): nobody writes
        a number that starts with its point in a sum (``0.5``), and the parser only counts it odd. Nor one that
        ends a line (``-35-(24+40)=-99.``, ``3×4-1=.``): a full stop at most. Such points are left out where the
        line without them parses. Returns (line, paths, result), or None."""
        syms = result.symbols
        stray = {s.box for i, s in enumerate(syms) if s.label == "." and i + 1 < len(syms)
                 and syms[i + 1].label.isdigit() and not (i and syms[i - 1].label.isdigit())}
        if len(syms) > 1 and syms[-1].label == ".":
            stray.add(syms[-1].box)
        if not stray:
            return None
        kept = self._read_part(line, paths, lambda box: tuple(box) not in stray, pre)
        return kept if kept and kept[2].error is None else None

    def _without_far_marks(self, line, paths, result: LineResult, pre):
        """The sheet's edge, a smudge in the margin or a scrap of a neighbouring line joined to a line's row is read
        as one more symbol at its start or end (``127+58=85``, ``28÷5.89``). Where the first or last symbol stands
        far apart from the others (FAR_MARK_GAP, FAR_MARK_SPREAD) and is doubtful (FAR_MARK_SURE, FAR_MARK_SHORT)
        or cut off by the image's border on its side (FAR_MARK_AT_EDGE), and the line without it parses, it is read
        without it. A sure, full-height answer written far out stays. Returns (line, paths, result), or None."""
        syms = sorted(result.symbols, key=lambda s: s.box[0])
        if len(syms) < 3:
            return None
        height = float(line.height) or float(max(s.box[3] for s in syms))
        gaps = [b.box[0] - (a.box[0] + a.box[2]) for a, b in zip(syms, syms[1:])]

        width = pre.mask.shape[1]

        def far(end: int) -> bool:
            gap, others = (gaps[0], gaps[1:]) if end == 0 else (gaps[-1], gaps[:-1])
            mark = syms[end]
            usual = max(median(others), 1.0) if others else 1.0
            x, _, w, _ = mark.box
            cut_off = FAR_MARK_AT_EDGE and (x <= 0 if end == 0 else x + w >= width)
            return (gap > FAR_MARK_GAP * height and gap > FAR_MARK_SPREAD * usual
                    and (cut_off or _doubtful(mark, height)))

        stray = {tuple(syms[end].box) for end in (0, -1) if far(end)}
        if not stray:
            return None

        def outside(box) -> bool:
            return not any(_overlaps(box, b) for b in stray)

        kept = self._read_part(line, paths, outside, pre)
        return kept if kept and kept[2].error is None else None

    def _without_tick(self, line, paths, result: LineResult, pre):
        """A tick (✓) written after a sum is read as a last digit of its answer (``12+7=195``). Where the last
        symbol of a line whose answer does not hold rises well above the writing (TICK_TALL line heights tall,
        TICK_ABOVE above the other symbols' tops), is set apart from them and is no sure digit (under TICK_SURE),
        and the line without it holds, it is read without it. Returns (line, paths, result), or None."""
        if result.correct is not False or len(result.symbols) < 4:
            return None
        *others, last = result.symbols
        x, y, w, h = last.box
        height = float(line.height)
        tall = [s.box for s in others if s.box[3] >= 0.6 * height]
        if not tall or last.confidence >= TICK_SURE or h < TICK_TALL * height:
            return None
        if y > min(b[1] for b in tall) - TICK_ABOVE * height or x <= max(s.box[0] + s.box[2] for s in others):
            return None
        held = self._read_part(line, paths, lambda box: box[0] + box[2] <= x, pre)
        return held if held and held[2].correct is True else None

    def _split_sums(self, read: list, pre) -> list:
        """Lines holding two sums side by side (``2+3=5   4+4=8``: closer than a row's break, they made one line
        with two '='), each cut at the widest gap between the first sum's '=' and the next '=', where that gap
        is at least SUMS_GAP line heights; the two halves are read on their own."""
        out = []
        todo = list(read)
        while todo:
            line, paths, result = todo.pop(0)
            cut = _sums_cut(result, line.height)
            if cut is None:
                out.append((line, paths, result))
                continue
            halves = []
            for side in (lambda box: box[0] + box[2] / 2.0 < cut, lambda box: box[0] + box[2] / 2.0 >= cut):
                half = self._read_part(line, paths, side, pre)
                if half is None:
                    break
                halves.append(half)
            if len(halves) == 2:
                out.append(halves[0])
                todo.insert(0, halves[1])  # it may hold another sum still
            else:
                out.append((line, paths, result))
        return out

    def _join_far_answers(self, read: list, pre) -> list:
        """A sum ending in '=' and, further along its row, a bare number: the answer written far out (at the end
        of a long blank, in an answers column), which the segmenter set apart as a line of its own. Read as one
        line where that gives a verdict."""
        from hdr_expr.pipeline.segment import union_box

        out = list(read)
        i = 0
        while i + 1 < len(out):
            (la, pa, ra), (lb, pb, rb) = out[i], out[i + 1]
            if (ra.text.endswith("=") and ra.answer is None and ra.error is None and ra.value is not None
                    and rb.error is None and rb.label is None and _ANSWER.fullmatch(rb.text)
                    and _same_row(la.box, lb.box) and lb.box[0] >= la.box[0] + la.box[2]):
                if len(rb.symbols) == 1 and _doubtful(rb.symbols[0], float(la.height)):
                    del out[i + 1]  # a stray mark further along the row (the sheet's edge), not an answer
                    continue
                line = dataclasses.replace(la, box=union_box([la.box, lb.box]), symbols=la.symbols + lb.symbols)
                paths = sorted(((sa + sb, ca + cb) for sa, ca in pa[:2] for sb, cb in pb[:2]),
                               key=lambda t: -t[0])
                joined = self._read_line(line, paths, pre)
                if joined.correct is not None and joined.label == ra.label:
                    out[i : i + 2] = [(line, paths, joined)]
                    continue
            i += 1
        return out

    def _read_with_more_splits(self, plan, probs: np.ndarray, whole: np.ndarray, normalized: list[np.ndarray], pre):
        """A line read again with splits offered of the crops the verifier doubts less than RETRY_DOUBT too: its
        (paths, result), or None where no crop more is offered. Its pieces are classified in a batch of their
        own, after the page's."""
        line, height, readings, indices = plan
        more = (line, height, list(readings), list(indices))
        crops = list(normalized)
        whole = self._split_doubted([more], whole, crops, doubted=RETRY_DOUBT, strokes=False)
        if len(crops) == len(normalized):
            return None
        added = soften(self.classifier.predict(np.stack(crops[len(normalized):])), CLASSIFIER_TEMPERATURE)
        paths = self._best_paths(line, height, more[2], more[3], np.concatenate([probs, added]), whole)
        return paths, self._read_line(line, paths, pre)

    def _split_doubted(self, plans, whole: np.ndarray, normalized: list[np.ndarray], doubted: float | None = None,
                       strokes: bool | None = None) -> np.ndarray:
        """Offer splits of the crops too narrow to be offered at first (a touching '19' is about one digit wide)
        that the verifier doubts are one symbol. Their pieces join ``normalized`` (still one classifier batch
        per page) and their readings the line's (``plans`` is extended in place); the verifier judges them in a
        second, small batch. Returns the verifier's beliefs for all crops."""
        from hdr_expr.pipeline.segment import Reading, split_candidates, stroke_candidates

        doubted = DOUBTED_WHOLE if doubted is None else doubted  # (read at call time, so that a tool may set them)
        strokes = STROKE_SPLITS if strokes is None else strokes
        views: list[np.ndarray] = []
        for line, height, readings, indices in plans:
            split_at = {r.start for r in readings if r.end - r.start == 1 and len(r.parts) > 1}
            added = []
            for r, idx in zip(readings, indices):
                if r.end - r.start != 1 or len(r.parts) != 1:
                    continue
                part = r.parts[0]
                doubt = whole[idx[0]]
                if part.box[2] < DOUBTED_MIN_WIDTH * height or part.box[3] < DOUBTED_MIN_HEIGHT * height:
                    continue
                splits = []
                if r.start not in split_at and doubt < doubted:
                    splits += [(s, False) for s in split_candidates(part, line, max_parts=2, split_usual=0.0,
                                                                   split_height=0.0)]
                if strokes and doubt < STROKE_DOUBT:
                    splits += [(s, True) for s in stroke_candidates(part, line, max_parts=3)]
                for split, shared in splits:
                    ids = [_queue_crop(piece, line, height, normalized, views) for piece in split]
                    added.append((Reading(r.start, r.end, tuple(split), shared), ids))
            readings.extend(a for a, _ in added)
            indices.extend(b for _, b in added)
        if not views:
            return whole
        return np.concatenate([whole, self.verifier.p_whole(np.stack(views))])

    def _best_paths(self, line, height, readings, indices, probs, whole) -> list[tuple[float, list]]:
        """The segmentations of a line that explain its ink best, best first with their scores (at most PATHS,
        within PATH_MARGIN of the best): paths of readings from its first crop to its last maximizing the sum of
        each part's log fit (its best label's layout-weighted probability) and, with a verifier,
        VERIFIER_WEIGHT × the log of the verifier's belief that the part is one whole symbol. Without a verifier,
        crops are only kept or split, judged by a width prior (:func:`whole_prior`)."""
        from hdr_expr.pipeline.segment import usual_width

        usual = max(usual_width(line), WHOLE_FLOOR * height)
        n = len(line.symbols)
        weighted = {}
        score = []
        prior_at: dict[int, float] = {}
        for r, idx in zip(readings, indices):
            total = 0.0
            for part, i in zip(r.parts, idx):
                mid_y = line.middle_at(part.box[0] + part.box[2] / 2.0)
                shape = symbol_shape(part.box, part.mask, part.parts, mid_y, height, usual)
                wp = apply_layout_rules(probs[i], shape, self.classes, normalize=False)
                weighted[i] = wp
                total += math.log(max(float(wp.max()), 1e-12))
                if whole is not None:
                    belief = float(whole[i])
                    as_segmented = r.end - r.start == 1 and len(r.parts) == 1
                    if as_segmented and _point_sized(shape) and _stands_apart(line, r.start):
                        belief = max(belief, POINT_BELIEF)
                    elif part.bar:
                        belief = max(belief, BAR_BELIEF)
                    total += VERIFIER_WEIGHT * math.log(min(max(belief, VERIFIER_FLOOR), 1.0))
            if r.shared:
                total -= STROKE_PENALTY
            if whole is None:
                if len(r.parts) == 1 and r.start not in prior_at:
                    # The crop unsplit (always the first reading of its place): operators are drawn wider
                    # than digits, a 1 or a bracket narrower (expected_width).
                    wp = weighted[idx[0]]
                    label = normalize_label(self.classes[int(np.argmax(wp))])
                    prior_at[r.start] = whole_prior(r.parts[0].box[2] / expected_width(label, usual),
                                                    float(wp.max()))
                    total += math.log(prior_at[r.start])
                else:
                    total += math.log(1.0 - prior_at.get(r.start, 0.5))
            score.append(total)
        # The PATHS best paths from crop 0 to each crop boundary: (score, reading, rank of the path before it).
        best: list[list[tuple[float, int, int]]] = [[] for _ in range(n + 1)]
        best[0] = [(0.0, -1, -1)]
        for k in sorted(range(len(readings)), key=lambda k: readings[k].end):
            r = readings[k]
            for rank, (before, _, _) in enumerate(best[r.start]):
                best[r.end].append((before + score[k], k, rank))
            best[r.end] = sorted(best[r.end], key=lambda t: -t[0])[:PATHS]
        out = []
        for total, k, rank in best[n]:
            if total < best[n][0][0] - PATH_MARGIN:
                break
            path = []
            j = n
            while k >= 0:
                path.append(k)
                j = readings[k].start
                _, k, rank = best[j][rank]
            chosen: list[tuple[object, np.ndarray]] = []
            for k in reversed(path):
                for part, i in zip(readings[k].parts, indices[k]):
                    wp = weighted[i]
                    chosen.append((part, wp / wp.sum() if wp.sum() > 0 else probs[i]))
            out.append((total, chosen))
        return out or [(0.0, [])]

    def _restore_from_darkness(self, chosen, pre) -> list[tuple[object, np.ndarray]]:
        """What the darkness map shows and the classifier's crop could not: a bar read as '-' whose '=' partner
        the mask lost (:func:`second_bar`), or whose two bars it ran together (:func:`bars_run_together`), gets
        the '=''s probability and gives it its own; so does a '+' or '×'
        whose dots the mask ran into the bar of a '÷' (where the classifier sees a '÷' as possible at all:
        DIVIDE_MIN_P), or a '-' whose dots it dropped (:func:`dots_apart`)."""
        from hdr_expr.pipeline.equals import MIN_RATIO, bars_run_together, second_bar

        minus, equals = self._index.get("-"), self._index.get("=")
        if minus is None or equals is None or pre.darkness is None:
            return chosen
        from hdr_expr.pipeline.divide import FINE_LEVELS, LEVELS, dots_apart

        divide = self._index.get("÷")
        may_divide = {self._index.get("+"), self._index.get("×"), self._index.get("-")} - {None}
        out = []
        for part, p in chosen:
            top = int(np.argmax(p))
            if top == minus and (second_bar(pre.darkness, pre.mask, part.box, pre.stroke) >= MIN_RATIO
                                 or bars_run_together(pre.darkness, part.box, pre.stroke)):
                p = p.copy()
                # The '-' stays a strong second: where the line then holds two '=', the parser reads this one back.
                total = p.sum()
                p[minus], p[equals] = max(p[equals], RESTORED_MINUS * p[minus]), p[minus]
                p *= total / p.sum()
            elif (divide is not None and top in may_divide and (top == minus or p[divide] >= DIVIDE_MIN_P)
                  and dots_apart(pre.darkness, part.box, FINE_LEVELS if top == minus else LEVELS,
                                 each_level=DOTS_EACH_LEVEL and top == minus)):
                p = p.copy()
                p[top], p[divide] = p[divide], p[top]
            out.append((part, p))
        return out

    def _read_line(self, line, paths: list[tuple[float, list]], pre) -> LineResult:
        """The line's result from its best segmentation, unless that reading does not parse, parses only
        repaired, or has a written answer that does not hold: then the next best segmentations are assembled
        too, and the one whose reading is likeliest overall wins — its path score plus
        :func:`reading_score`, less UNPARSED_PENALTY where it does not parse. (A touching ``7)`` read as one
        ``0`` makes ``(7+0-442``, which the repair can only mend by reading the sure ``(`` as ``1``; the path
        that splits the blob parses.) A plain reading with no written answer is weighed the same way against
        the next segmentations whose written answer holds, and only those."""
        from hdr_expr.pipeline.assemble import oddities, reading_score

        def assembled(chosen):
            chosen = self._restore_from_darkness(chosen, pre)
            k = label_length([part.box for part, _ in chosen], [p for _, p in chosen], self.classes, line.height)
            body = chosen[k:]
            cands = [_candidates(p, self.classes, REPAIR_CANDIDATES) for _, p in body]
            return chosen[:k], body, cands, assemble_candidates(cands, latex=False)  # LaTeX: the chosen one's

        label, chosen, cands, a = assembled(paths[0][1])
        if len(paths) == 1 or not chosen or (a.error is None and not a.repaired and a.correct is True):
            return self._line_result(line, chosen, a, label)
        # A clean reading with no written answer gives way only to a segmentation whose answer holds (a '=' run
        # into the digit beside it, read as a '3' of '83'), unless it is odd (``2+-1+5``: a '+' whose bar ran on,
        # cut in two): then to any likelier one. A bare number is odd in a sum but not on a line of its own (an
        # answer written apart): it is left as read (else a '31' may be read '3×1'); a bare number asked for
        # (``56=``: a '5-6=' whose minus ran into the 6) is odd.
        only_holding = (a.error is None and not a.repaired and a.correct is None
                        and not oddities(a.labels, bare_number="=" in a.labels))

        def likelihood(score: float, cands, a) -> float:
            return score + reading_score(cands, a) - (UNPARSED_PENALTY if unparsed(a.error) else 0.0)

        best = (likelihood(paths[0][0], cands, a), label, chosen, a)
        for score, chosen in paths[1:]:
            label, chosen, cands, a = assembled(chosen)
            if only_holding and a.correct is not True:
                continue
            value = likelihood(score, cands, a)
            if value > best[0]:
                best = (value, label, chosen, a)
        return self._line_result(line, best[2], best[3], best[1])

    def _line_result(self, line, chosen, a, label=()) -> LineResult:
        symbols = []
        for (part, p), sym in zip(chosen, a.labels):
            conf = float(p[self._index[sym]]) if sym in self._index else 0.0
            alts = tuple((lab, round(q, 4)) for lab, q in _candidates(p, self.classes, MAX_ALTERNATIVES + 1)
                         if lab != sym)[:MAX_ALTERNATIVES]
            symbols.append(SymbolResult(sym, conf, tuple(int(v) for v in part.box), alts))
        confidence = float(np.prod([s.confidence for s in symbols])) if symbols else 0.0
        # The exercise number as written: its digits, then ')' or '.' (whichever the classifier prefers).
        number = "".join(normalize_label(self.classes[int(np.argmax(p))]) for _, p in label[:-1])
        if label:
            p = label[-1][1]
            number += max((")", "."), key=lambda m: float(p[self._index[m]]) if m in self._index else -1.0)
        return LineResult(
            text=a.text, box=tuple(int(v) for v in line.box), symbols=tuple(symbols), confidence=confidence,
            expression=a.expression, latex=latex_of(a.tree) if self.latex and a.tree is not None else None,
            value=a.value, answer=a.answer, correct=a.correct,
            error=a.error, label=number or None,
        )

    # -- files
    def read_pages(self, source: str | Path | bytes, *, name: str | None = None):
        """Yield ``(Page or None, PageResult)`` for every page of a file, PDF or bytes; a source or page that
        cannot be read yields ``(None, PageResult(error=...))`` and the iteration ends or goes on to the next
        page. Used where the page image is wanted too (``--annotate``)."""
        from hdr_expr.pipeline.io import iter_pages

        display = _display_name(source, name)
        try:
            pages = iter_pages(source, name=name)
        except InputError as exc:
            yield None, PageResult(file=display, page=1, error=str(exc))
            return
        number = 0
        while True:
            try:
                pg = next(pages)
            except StopIteration:
                return
            except HdrExprError as exc:
                yield None, PageResult(file=display, page=number + 1, error=str(exc))
                return
            number = pg.page
            yield pg, self._read(pg.image, pg.file, pg.page)

    def read(self, source: str | Path | bytes, *, name: str | None = None) -> Iterator[PageResult]:
        """Every page of a source as a :class:`PageResult`; an unreadable source gives one with ``error``."""
        for _, result in self.read_pages(source, name=name):
            yield result


@functools.lru_cache(maxsize=4)
def get_recognizer(model: str | None = None) -> Recognizer:
    """The process's Recognizer for a model directory (default: the shipped model)."""
    return Recognizer(model)


def recognize(source: Source, *, model: str | Path | None = None) -> list[PageResult]:
    """Read handwritten arithmetic from a file path, ``"-"`` (stdin), encoded bytes or an image array.

    Returns one :class:`PageResult` per page. A file that cannot be read gives a PageResult whose ``error``
    says why (so a batch goes on); an array that is not an image raises :class:`InputError`.
    """
    rec = get_recognizer(str(Path(model).resolve()) if model is not None else None)
    if isinstance(source, np.ndarray):
        return [rec.read_image(source)]
    return list(rec.read(source))
