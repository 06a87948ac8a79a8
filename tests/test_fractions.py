"""Stacked fractions (pipeline/fractions.py): found on the mask, written on one line, put back into their line;
a generated fraction line read end to end."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from hdr_expr.pipeline.assemble import assemble
from hdr_expr.pipeline.fractions import (ReadFraction, StackedFraction, WrittenFraction, find_fractions,
                                         fraction_labels, place_fractions, stand_in_mask, written_labels)
from hdr_expr.pipeline.results import LineResult, SymbolResult
from hdr_expr.pipeline.segment import union_box

PEN = 4  # stroke width of the drawn masks, px


def digit(mask: np.ndarray, x: int, y: int, w: int = 24, h: int = 40) -> None:
    """A digit-sized ring (a 0) with its top left corner at (x, y)."""
    cv2.ellipse(mask, (x + w // 2, y + h // 2), (w // 2 - PEN // 2, h // 2 - PEN // 2), 0, 0, 360, 1, PEN)


def bar(mask: np.ndarray, x0: int, x1: int, y: int) -> None:
    cv2.line(mask, (x0, y), (x1, y), 1, PEN)


def fraction(mask: np.ndarray, x: int, digits_over: int = 1, digits_under: int = 1, gap: int = 8) -> None:
    """A fraction whose bar's middle is at y = 100, its parts centred over and under it."""
    width = 30 * max(digits_over, digits_under) + 16
    bar(mask, x, x + width, 100)
    for k, n in ((0, digits_over), (1, digits_under)):
        left = x + (width - 30 * n + 6) // 2
        for i in range(n):
            digit(mask, left + 30 * i, 100 - PEN // 2 - gap - 40 if k == 0 else 100 + PEN // 2 + gap)


def page() -> np.ndarray:
    return np.zeros((220, 480), np.uint8)


def test_a_fraction_in_a_line_is_found_with_its_parts():
    m = page()
    fraction(m, 40, 2, 1)
    cv2.line(m, (150, 100), (180, 100), 1, PEN)  # a '+' beside it
    cv2.line(m, (165, 85), (165, 115), 1, PEN)
    fraction(m, 210, 1, 2)
    [first, second] = sorted(find_fractions(m > 0, PEN), key=lambda f: f.bar[0])
    assert first.bar[0] <= 40 + PEN and abs(first.bar[1] + first.bar[3] / 2 - 100) <= 2
    assert second.bar[0] <= 210 + PEN
    for f in (first, second):
        over = np.flatnonzero(f.numerator.any(axis=1))
        under = np.flatnonzero(f.denominator.any(axis=1))
        assert over.max() < 100 < under.min()
        assert not (f.numerator & f.denominator).any() and (f.ink >= f.numerator).all()
    n, _ = cv2.connectedComponents(first.numerator.view(np.uint8))
    assert n - 1 == 2  # both digits of the numerator
    assert not (first.ink[:, 140:190]).any()  # the '+' is no part of either


def test_bars_that_are_no_fractions_are_left_alone():
    m = page()
    # '=': a bar with a bar under it; '÷': dots over and under; a minus between digits of one row.
    bar(m, 20, 60, 90), bar(m, 20, 60, 110)
    digit(m, 28, 20), digit(m, 28, 150)  # digits far over and under the '=' (other lines)
    bar(m, 100, 140, 100), cv2.circle(m, (120, 86), 2, 1, -1), cv2.circle(m, (120, 114), 2, 1, -1)
    digit(m, 170, 80), bar(m, 200, 220, 100), digit(m, 226, 80)
    assert find_fractions(m > 0, PEN) == []
    # A column sum: two rows over the bar (the rows are stacked), the answer under it.
    m = page()
    for y in (10, 58):
        digit(m, 200, y), digit(m, 230, y)
    bar(m, 190, 264, 106)
    digit(m, 200, 116), digit(m, 230, 116)
    assert find_fractions(m > 0, PEN) == []
    # The same with one row over the bar is a fraction ...
    m[:56] = 0
    assert len(find_fractions(m > 0, PEN)) == 1
    # A numerator broken in two (faint chalk) whose upper piece stands further off than its own height allows is
    # measured against the denominator's height.
    m2 = page()
    bar(m2, 190, 264, 106)
    digit(m2, 200, 116), digit(m2, 230, 116)
    cv2.line(m2, (220, 66), (220, 84), 1, PEN)  # 18 px tall, 20 px over the bar
    assert len(find_fractions(m2 > 0, PEN)) == 1
    # ... but not with a row stacked right under the denominator (a digit broken in two, in a column of numbers).
    digit(m, 200, 166), digit(m, 230, 166)
    assert find_fractions(m > 0, PEN) == []


def test_a_fraction_is_written_on_one_line_with_the_brackets_its_order_needs():
    assert fraction_labels("3", "4", None) == list("3/4")
    assert fraction_labels("1+2", "3", "×") == list("(1+2)/3")
    assert fraction_labels("-1", "2", "+") == list("-1/2")  # a negative numerator needs none
    assert fraction_labels("1", "2×3", None) == list("1/(2×3)")
    assert fraction_labels("1", "5", "÷") == list("(1/5)")
    assert "".join(written_labels(["2", "÷", WrittenFraction(("1",), ("5",)), "="])) == "2÷(1/5)="
    # A whole number right before a fraction is a mixed number; a fraction's own digits never are.
    line = ["2", WrittenFraction(("3",), ("4",)), "-", WrittenFraction(("1",), ("2",)), WrittenFraction(("1",), ("4",))]
    assert "".join(written_labels(line)) == "(2+3/4)-1/2(1/4)"  # (side by side: multiplied)
    text = "".join(written_labels(["1", "2", WrittenFraction(("1",), ("2",)), "=", "2", "5", "/", "2"]))
    assert text == "(12+1/2)=25/2" and assemble(text).correct is True


def symbol(label: str, box: tuple[int, int, int, int], p: float = 0.99, alts: tuple = ()) -> SymbolResult:
    return SymbolResult(label, p, box, alts)


def line_of(symbols: list[SymbolResult]) -> LineResult:
    text = "".join(s.label for s in symbols)
    a = assemble(text, latex=False)
    return LineResult(text=text, box=union_box([s.box for s in symbols]), symbols=tuple(symbols), confidence=0.9,
                      expression=a.expression, value=a.value, answer=a.answer, correct=a.correct, error=a.error)


def read_fraction(x: int, over: str, under: str) -> ReadFraction:
    """A fraction at x (bar at y = 100), its parts read as lines."""
    width = 30 * max(len(over), len(under)) + 16
    num = line_of([symbol(c, (x + 8 + 30 * i, 52, 24, 40)) for i, c in enumerate(over)])
    den = line_of([symbol(c, (x + 8 + 30 * i, 108, 24, 40)) for i, c in enumerate(under)])
    empty = np.zeros((1, 1), bool)
    f = StackedFraction((x, 98, width, 4), (x, 52, width, 96), empty, empty, empty, 40.0)
    return ReadFraction(f, num, den)


def test_fractions_are_put_back_into_the_line_whose_middle_their_bar_lies_on():
    plus, equals = symbol("+", (100, 88, 24, 24)), symbol("=", (190, 92, 24, 16))
    half, quarter, three_quarters = read_fraction(40, "1", "2"), read_fraction(130, "1", "4"), \
        read_fraction(220, "3", "4")
    other = line_of([symbol(c, (40 + 30 * i, 300, 24, 40)) for i, c in enumerate("12+7")])
    # Taken out, the fractions leave their line's '+' and '=' apart: two lines, read as one again.
    lines = [line_of([plus]), line_of([equals]), other]
    [joined, rest] = place_fractions(lines, [three_quarters, half, quarter], latex=False)
    assert joined.text == "1/2+1/4=3/4" and joined.correct is True and rest is other
    bar_symbol = joined.symbols[1]
    assert bar_symbol.label == "/" and bar_symbol.box == half.fraction.bar
    # A '+' the line read alone as a digit (it cannot start a line) is read by its likeliest reading.
    doubted = symbol("4", (100, 88, 24, 24), 0.08, (("+", 0.82),))
    [joined] = place_fractions([line_of([doubted]), line_of([equals])], [half, quarter, three_quarters],
                               latex=False)
    assert joined.text == "1/2+1/4=3/4"
    # Brackets follow the line's reading: a denominator's 1 read likelier as '/', mended by the repair, gets none.
    doubted_one = read_fraction(130, "3", "157")
    den = doubted_one.denominator
    den = LineResult(**{**den.__dict__, "symbols": (symbol("/", den.symbols[0].box, 0.6, (("1", 0.4),)),
                                                     *den.symbols[1:])})
    [joined] = place_fractions([line_of([plus])], [half, ReadFraction(doubted_one.fraction, doubted_one.numerator,
                                                                      den)], latex=False)
    assert joined.text == "1/2+3/157"
    # The page is read with digit-sized rings standing in for the fractions: what is read there is dropped.
    ring = stand_in_mask((220, 480), [half.fraction], PEN)
    rows, cols = np.nonzero(ring)
    assert rows.min() >= 100 - 21 and rows.max() <= 100 + 21 and cols.min() >= 40 and cols.max() <= 40 + 46
    stand_in = symbol("0", (cols.min(), rows.min(), cols.max() - cols.min() + 1, rows.max() - rows.min() + 1))
    [joined] = place_fractions([line_of([stand_in, plus, equals])], [half, quarter, three_quarters], latex=False)
    assert joined.text == "1/2+1/4=3/4"
    # A fraction alone on its row is a line of its own, placed among the others by where it lies.
    upper = line_of([symbol(c, (40 + 30 * i, 0, 24, 40)) for i, c in enumerate("5-2")])
    [first, alone, last] = place_fractions([upper, other], [read_fraction(40, "7", "8")])
    assert (first, last) == (upper, other) and alone.text == "7/8" and alone.value == "7/8"


# A scan and a photo, as `hdr-expr bench expressions --fractions --seed 2` makes them.
@pytest.mark.parametrize("index", [0, 1])
def test_a_generated_fraction_line_is_read_as_written(shared_dir, index):
    from hdr_expr.datasets.expressions import load_material
    from hdr_expr.datasets.fractions import make_fraction_line
    from hdr_expr.pipeline.recognize import Recognizer

    sample = make_fraction_line(load_material(shared_dir), 2, index)
    page = Recognizer().read_image(sample.image)
    assert [line.text for line in page.lines] == [sample.truth.text]
    assert page.lines[0].value == sample.truth.value


def test_a_row_of_fraction_bars_across_a_tight_crop_is_no_rule(shared_dir, monkeypatch):
    from hdr_expr.datasets.expressions import load_material
    from hdr_expr.datasets.fractions import make_fraction_line
    from hdr_expr.pipeline import preprocess as pre_module
    from hdr_expr.pipeline.recognize import MIN_STROKE, WORK_STROKE, Recognizer

    # Seed 2's image 34: `3/70=3/70` scanned tight; its two bars and the `=`'s upper bar line up across the crop.
    sample = make_fraction_line(load_material(shared_dir), 2, 34)
    pre = pre_module.preprocess(sample.image, max_stroke=WORK_STROKE, min_stroke=MIN_STROKE)
    assert pre.rule_boxes == () and len(pre.fraction_rules) == 1
    assert [line.text for line in Recognizer().read_image(sample.image).lines] == [sample.truth.text]
    monkeypatch.setattr(pre_module, "FRACTION_BAR_RULES", 0)  # as before: found as a rule and erased
    pre = pre_module.preprocess(sample.image, max_stroke=WORK_STROKE, min_stroke=MIN_STROKE)
    assert len(pre.rule_boxes) == 1 and pre.fraction_rules == ()
