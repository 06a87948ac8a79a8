"""Which way up a page is: a worksheet scanned sideways or upside down, a photo without its EXIF turn.

Two plain tests, both on what the reader makes anyway (and a third case: a short sum on its side, cut across into
lines of one or two symbols, is simply read on both sides, :func:`cut_across`):

- :func:`turn_votes`: the page's symbol crops as segmented (normalized 28×28) are also classified turned a
  quarter, a half and three quarters (:func:`turned_copies`, in the page's one classifier call). Digits upright
  are read surely; turned, most are not (a `7` on its side is no symbol). Where a turn reads the crops surer by
  ORIENT_GAIN, the page is read again that way up.
- :func:`reading_score`: how much the whole reading of a page looks like arithmetic — sure symbols, lines that
  parse, sums that end in `= answer`, not a column of lines of one or two symbols. The turned reading is taken
  where it scores above ORIENT_SURE_SCORE, else where it scores ORIENT_MARGIN above the page read as given.

A turned crop is not quite the crop of the turned symbol (normalization centres the ink's mass, which a quarter
turn keeps at the centre, and fits the longer side, which it keeps too), close enough to vote.
"""

from __future__ import annotations

import re
from typing import Sequence

import numpy as np

from hdr_expr.pipeline.results import LineResult

#: A page of at least ORIENT_MIN_SYMBOLS symbols is tested for every turn; one of ORIENT_HALF_SYMBOLS or more for
#: the half turn only (upside down); one whose lines hold one or two symbols in ORIENT_SHORT_LINES of them or
#: more (at least ORIENT_MIN_LINES lines, ORIENT_MIN_CROPS symbols: writing on its side, cut across) for every
#: turn however few symbols it holds; one of at least ORIENT_CUT_LINES lines, ORIENT_CUT_SHARE of them that short,
#: is read on both sides whatever the vote (see cut_across). Measured on expressions seeds 39 and 40 and
#: worksheets 39 and 40, each image read as drawn and turned 90°, 180° and 270° (figures in README): no upright
#: image was turned; with the half turn tested from 3 symbols, 3 of the 1,000 upright sums were (`1+1=2` reads
#: about as well either way up: `0 1 8 + - = ×` are the same turned, `6` and `9` swap).
ORIENT_MIN_SYMBOLS = 20
ORIENT_HALF_SYMBOLS = 6
ORIENT_SHORT_LINES = 0.5
ORIENT_MIN_LINES = 2
ORIENT_MIN_CROPS = 3
ORIENT_CUT_LINES = 3
ORIENT_CUT_SHARE = 0.75
#: At most this many of a page's crops (evenly spread through it) vote: a dense page costs no more than a full one.
ORIENT_MAX_CROPS = 120
#: The mean log-confidence (natural log, over the crops) a turn must gain over the page as given. (At 0.02 a
#: photographed worksheet upside down of seed 44 stayed so, at 0.019; at 0, one upright sum of 1,000 was read
#: turned and one in 25 is read twice.)
ORIENT_GAIN = 0.01
#: A turned reading that scores above this (reading_score: sure symbols, sums with answers) is taken without
#: reading on the page as given (a page on its side, read as given, costs four times the page upright). On the sets
#: above, no upright page's wrongly turned reading scored above -0.06, and four in five turned pages' did.
ORIENT_SURE_SCORE = 0.05
#: Else the turned reading must score this much higher than the page read as given: most pages come the right way
#: up. (At 0, three of 6,500 upright lines of the saved sets were read upside down: `3694×9` as `6×6699`, by
#: 0.001–0.085; at 0.1, 2% of the turned images of seeds 39 and 40 that were set right are not.)
ORIENT_MARGIN = 0.1
#: reading_score's weights: per symbol in a line that does not parse, in a sum that ends in an answer, in a line
#: read as `answer = sum` (a sum upside down), and per line of one or two symbols.
SCORE_UNPARSED = 0.5
SCORE_SUM = 0.3
SCORE_REVERSED = 0.3
SCORE_SHORT_LINE = 0.5

_SUM = re.compile(r"[+\-×÷/].*=-?[\d.]*$")
_REVERSED = re.compile(r"^-?[\d.]+=.*[+\-×÷/]")


def _short_share(line_sizes: Sequence[int]) -> float:
    return sum(1 for s in line_sizes if s <= 2) / len(line_sizes) if line_sizes else 0.0


def cut_across(line_sizes: Sequence[int]) -> bool:
    """Whether a page of fewer than ORIENT_MIN_SYMBOLS symbols looks like writing on its side, cut across: at
    least ORIENT_CUT_LINES lines, ORIENT_CUT_SHARE of them of one or two symbols. Its crops are no sure guide (a
    `0` or an `8` on its side reads as surely as upright), so both sides are read."""
    return (sum(line_sizes) < ORIENT_MIN_SYMBOLS and len(line_sizes) >= ORIENT_CUT_LINES
            and _short_share(line_sizes) >= ORIENT_CUT_SHARE)


def turns_to_test(line_sizes: Sequence[int]) -> tuple[int, ...]:
    """The quarter turns the crops of a page with lines of these many symbols vote on (see ORIENT_MIN_SYMBOLS)."""
    n = sum(line_sizes)
    if n >= ORIENT_MIN_SYMBOLS or (len(line_sizes) >= ORIENT_MIN_LINES and n >= ORIENT_MIN_CROPS
                                   and _short_share(line_sizes) >= ORIENT_SHORT_LINES):
        return (1, 2, 3)
    return (2,) if n >= ORIENT_HALF_SYMBOLS else ()


def vote_sample(n: int) -> np.ndarray:
    """Which of a page's ``n`` crops vote: all, or ORIENT_MAX_CROPS spread evenly through the page."""
    return np.unique(np.linspace(0, n - 1, min(n, ORIENT_MAX_CROPS)).round().astype(int)) if n else np.zeros(0, int)


def turned_copies(crops: np.ndarray, turns: Sequence[int]) -> np.ndarray:
    """The crops (N×28×28) turned each of ``turns`` quarters counter-clockwise, one turn after another."""
    if not len(turns) or not len(crops):
        return np.zeros((0, *crops.shape[1:]), crops.dtype)
    return np.ascontiguousarray(np.concatenate([np.rot90(crops, k, axes=(1, 2)) for k in turns]))


def turn_votes(upright: np.ndarray, turned: np.ndarray, turns: Sequence[int]) -> np.ndarray:
    """Mean log top-probability of the voting crops as given (``upright``: N×classes) and turned (``turned``: the
    classifier's read of :func:`turned_copies`, len(turns)·N × classes): four values, -inf for a turn not tried."""
    votes = np.full(4, -np.inf)
    n = len(upright)
    if n == 0:
        votes[0] = 0.0
        return votes
    probs = np.concatenate([upright, turned]) if len(turns) else upright
    votes[[0, *turns]] = np.log(np.maximum(probs.max(axis=1), 1e-6)).reshape(1 + len(turns), n).mean(axis=1)
    return votes


def best_turn(votes: np.ndarray) -> int:
    """Quarter turns (counter-clockwise) the votes ask for: 0 unless a turn gains ORIENT_GAIN."""
    k = int(np.argmax(votes))
    return k if k and votes[k] - votes[0] >= ORIENT_GAIN else 0


def reading_score(lines: Sequence[LineResult]) -> float:
    """How much a page's reading looks like arithmetic read the right way up (higher is likelier)."""
    sizes = [len(line.symbols) for line in lines]
    n = sum(sizes)
    if not n:
        return -np.inf
    sure = float(np.mean([np.log(max(s.confidence, 1e-6)) for line in lines for s in line.symbols]))
    unparsed = sum(k for line, k in zip(lines, sizes) if line.error)
    sums = sum(k for line, k in zip(lines, sizes) if "=" in line.text and _SUM.search(line.text))
    reversed_ = sum(k for line, k in zip(lines, sizes) if _REVERSED.match(line.text))
    short = sum(1 for k in sizes if k <= 2) / len(sizes)
    return (sure - SCORE_UNPARSED * unparsed / n + SCORE_SUM * sums / n - SCORE_REVERSED * reversed_ / n
            - SCORE_SHORT_LINE * short)


def box_turned_back(box: Sequence[int], quarters: int, size: tuple[int, int]) -> tuple[int, int, int, int]:
    """A box (x, y, w, h) on ``np.rot90(page, quarters)`` where it lies on the page of ``size`` (width, height)."""
    x, y, w, h = (int(v) for v in box)
    width, height = size
    k = quarters % 4
    if k == 1:
        return width - y - h, x, h, w
    if k == 2:
        return width - x - w, height - y - h, w, h
    if k == 3:
        return y, height - x - w, h, w
    return x, y, w, h


def box_turned(box: Sequence[int], quarters: int, size: tuple[int, int]) -> tuple[int, int, int, int]:
    """A box (x, y, w, h) on the page of ``size`` (width, height) where it lies on ``np.rot90(page, quarters)``."""
    width, height = size
    turned_size = (height, width) if quarters % 2 else (width, height)
    return box_turned_back(box, -quarters, turned_size)
