"""Which way up a page is: the quarter-turn vote, the reading score, boxes turned back."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from hdr_expr.pipeline.orientation import (ORIENT_GAIN, ORIENT_HALF_SYMBOLS, ORIENT_MAX_CROPS, ORIENT_MIN_SYMBOLS,
                                           best_turn, box_turned, box_turned_back, cut_across, reading_score,
                                           turn_votes, turned_copies, turns_to_test, vote_sample)
from hdr_expr.pipeline.results import LineResult, SymbolResult

SAMPLES = Path(__file__).resolve().parents[1] / "samples"


@pytest.mark.parametrize("quarters", [0, 1, 2, 3, -1, 5])
def test_a_box_on_the_turned_page_is_turned_back_onto_the_ink_it_holds(quarters):
    page = np.zeros((30, 50), np.uint8)
    page[4:11, 17:20] = 1  # a 3-wide, 7-tall mark at x 17, y 4
    turned = np.rot90(page, quarters)
    ys, xs = np.nonzero(turned)
    box = (xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1)
    assert box_turned_back(box, quarters, (50, 30)) == (17, 4, 3, 7)


def test_pages_with_enough_symbols_or_with_lines_of_one_or_two_are_tested():
    assert turns_to_test([ORIENT_MIN_SYMBOLS]) == (1, 2, 3)
    assert turns_to_test([10, ORIENT_MIN_SYMBOLS - 10]) == (1, 2, 3)
    assert turns_to_test([ORIENT_MIN_SYMBOLS - 1]) == (2,)  # one sum: only upside down
    assert turns_to_test([ORIENT_HALF_SYMBOLS - 1]) == ()
    assert turns_to_test([1, 2, 1, 1]) == (1, 2, 3)  # a sum on its side: a column of one-symbol lines
    assert turns_to_test([2]) == ()
    assert turns_to_test([]) == ()
    # Cut across into three or more such lines, both sides are read whatever the vote (a `0` or `8` on its side
    # reads as surely as upright).
    assert cut_across([1, 2, 1, 1]) and cut_across([3, 1, 1, 1]) and cut_across([1, 1, 1])
    assert not cut_across([1, 2]) and not cut_across([3, 3, 1]) and not cut_across([1] * ORIENT_MIN_SYMBOLS)


def test_a_turn_must_gain_confidence_to_be_taken():
    assert best_turn(np.array([-0.1, -0.6, -0.1 + ORIENT_GAIN / 2, -0.7])) == 0
    assert best_turn(np.array([-0.3, -0.6, -0.3 + 2 * ORIENT_GAIN, -0.7])) == 2
    assert best_turn(np.array([-0.9, -0.1, -0.8, -0.7])) == 1


def test_the_vote_scores_the_crops_turned_each_way():
    crops = np.zeros((2, 28, 28), np.float32)
    crops[:, 4:24, 13:15] = 1.0  # an upright bar

    def predict(x):  # sure of an upright bar, unsure of a lying one
        upright = x[:, 4:24, 13:15].mean(axis=(1, 2)) > 0.5
        return np.where(upright[:, None], [[0.9, 0.1]], [[0.5, 0.5]]).astype(np.float32)

    turned = turned_copies(crops, (1, 2, 3))
    assert turned.shape == (6, 28, 28) and np.array_equal(turned[2:4], crops[:, ::-1, ::-1])
    votes = turn_votes(predict(crops), predict(turned), (1, 2, 3))
    np.testing.assert_allclose(votes, np.log([0.9, 0.5, 0.9, 0.5]), rtol=1e-5)
    assert best_turn(votes) == 0
    half = turn_votes(predict(crops), predict(turned_copies(crops, (2,))), (2,))
    assert np.isneginf(half[[1, 3]]).all() and best_turn(half) == 0
    assert len(vote_sample(5)) == 5 and len(vote_sample(10 * ORIENT_MAX_CROPS)) == ORIENT_MAX_CROPS  # a dense page
    assert vote_sample(10 * ORIENT_MAX_CROPS)[[0, -1]].tolist() == [0, 10 * ORIENT_MAX_CROPS - 1]


def _line(text: str, conf: float = 0.99, error: str | None = None) -> LineResult:
    syms = tuple(SymbolResult(ch, conf, (10 * i, 0, 8, 10)) for i, ch in enumerate(text))
    return LineResult(text=text, box=(0, 0, 10 * len(text), 10), symbols=syms, confidence=conf, error=error)


def test_a_reading_that_looks_like_arithmetic_scores_higher():
    upright = [_line("12+7=19"), _line("36-5=31")]
    assert reading_score(upright) > reading_score([_line("61=7+21"), _line("13=5-63")])  # read upside down
    assert reading_score(upright) > reading_score([_line("=61+7", error="nothing is written before '='")] * 2)
    assert reading_score(upright) > reading_score([_line("1"), _line("2"), _line("7+"), _line("19")])
    assert reading_score(upright) > reading_score([_line("12+7=19", conf=0.6), _line("36-5=31", conf=0.6)])
    assert reading_score([]) == -np.inf


@pytest.mark.parametrize("quarters", [1, 2, 3])
def test_a_box_turned_and_turned_back_is_the_box(quarters):
    assert box_turned_back(box_turned((17, 4, 3, 7), quarters, (50, 30)), quarters, (50, 30)) == (17, 4, 3, 7)


def test_a_page_read_turned_is_annotated_the_right_way_up():
    from hdr_expr.pipeline.annotate import SYMBOL, annotate
    from hdr_expr.pipeline.results import PageResult

    page = np.full((120, 80, 3), 255, np.uint8)  # a page on its side: 80 wide, 120 tall
    upright_boxes = [(30, 20, 8, 10), (40, 20, 8, 10)]  # where "12" lies on the page turned upright (120 × 80)
    symbols = tuple(SymbolResult(ch, 0.99, box_turned_back(b, 1, (80, 120))) for ch, b in zip("12", upright_boxes))
    line = LineResult(text="12", box=box_turned_back((30, 20, 18, 10), 1, (80, 120)), symbols=symbols,
                      confidence=0.99)
    drawn = annotate(page, PageResult(file="x", page=1, lines=(line,), size=(80, 120), turned=90))
    assert drawn.shape == (80, 120, 3)  # drawn turned upright
    x, y, w, h = upright_boxes[0]
    assert tuple(drawn[y, x + w // 2]) == SYMBOL  # the top edge of the first symbol's box, where it is upright
