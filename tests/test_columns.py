"""Column sums: rows read one by one are joined into the line a person would write (pipeline/columns.py), and
a generated column sum is read end to end."""

from __future__ import annotations

import pytest

from hdr_expr.pipeline.assemble import assemble
from hdr_expr.pipeline.columns import join_columns
from hdr_expr.pipeline.results import LineResult, SymbolResult
from hdr_expr.pipeline.segment import union_box

DIGIT_W, DIGIT_H, STEP = 30, 50, 40  # a digit's box, and the step from one digit's left edge to the next


def row(text: str, top: int, right: int = 400, *, alts: dict[int, tuple] | None = None, label: str | None = None,
        extra: tuple[SymbolResult, ...] = ()) -> LineResult:
    """A row as recognition reports it: its symbols boxed right-aligned at ``right`` (an operator short, at
    mid-height), its text assembled; ``alts`` gives a symbol's alternatives by index."""
    symbols = []
    x = right - STEP * (len(text) - 1) - DIGIT_W
    for k, ch in enumerate(text):
        if ch.isdigit():
            box = (x, top, DIGIT_W, DIGIT_H)
        else:
            box = (x, top + 15, DIGIT_W - 6, 20) if ch != "-" else (x, top + 23, DIGIT_W, 5)
        symbols.append(SymbolResult(ch, 0.99, box, tuple((alts or {}).get(k, ()))))
        x += STEP
    symbols += list(extra)
    a = assemble(text, latex=False)
    xs = [s.box[0] for s in symbols] + [s.box[0] + s.box[2] for s in symbols]
    ys = [s.box[1] for s in symbols] + [s.box[1] + s.box[3] for s in symbols]
    return LineResult(text=text, box=(min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys)),
                      symbols=tuple(symbols), confidence=0.9, expression=a.expression, value=a.value,
                      answer=a.answer, correct=a.correct, error=a.error, label=label)


def test_an_addition_in_a_column_is_read_as_one_line_with_its_verdict():
    lines = [row("738", 100), row("+53", 170), row("791", 250)]
    [joined] = join_columns(lines)
    assert joined.text == "738+53=791" and joined.correct is True and joined.value == "791"
    assert [s.label for s in joined.symbols] == list("738+53=791")
    bar = joined.symbols[6]
    assert bar.box[1] >= 170 + DIGIT_H and bar.box[1] + bar.box[3] <= 250  # boxed between the rows it parts
    assert joined.box[1] == 100 and joined.box[1] + joined.box[3] == 250 + DIGIT_H


def test_a_wrong_answer_gets_a_wrong_verdict_and_no_answer_gets_the_value():
    assert join_columns([row("6136", 100), row("-87", 170), row("6059", 250)])[0].correct is False
    [asked] = join_columns([row("6136", 100), row("-87", 170)])
    assert asked.text == "6136-87=" and asked.value == "6049" and asked.correct is None


def test_the_operator_written_once_serves_every_number_above_it():
    [joined] = join_columns([row("344", 100), row("9242", 170), row("+822", 240), row("10408", 320)])
    assert joined.text == "344+9242+822=10408" and joined.correct is True
    copy = joined.symbols[3]
    assert copy.label == "+" and 100 + DIGIT_H <= copy.box[1] + copy.box[3] / 2 <= 170  # between rows 1 and 2


def test_an_operator_read_as_a_digit_at_the_start_of_its_row_is_taken_back():
    # Alone, '+53' does not parse; its line was repaired into '153', the '+' kept as the likelier alternative.
    plus_as_one = row("153", 170, alts={0: (("+", 0.9),)})
    plus_as_one = LineResult(**{**plus_as_one.__dict__, "symbols": (
        SymbolResult("1", 0.05, (330 - STEP, 185, 24, 20), (("+", 0.9),)), *plus_as_one.symbols[1:])})
    [joined] = join_columns([row("738", 100), plus_as_one, row("791", 250)])
    assert joined.text == "738+53=791" and joined.correct is True


def test_a_one_read_as_a_stroke_in_a_column_of_numbers_is_a_one():
    one = SymbolResult("/", 0.6, (330, 250, 10, DIGIT_H), (("1", 0.3),))
    answer = row("9/6", 250)
    answer = LineResult(**{**answer.__dict__, "symbols": (answer.symbols[0], one, answer.symbols[2]),
                           "error": None})
    [joined] = join_columns([row("246", 100), row("+670", 170), answer])
    assert joined.text == "246+670=916" and joined.correct is True


def test_a_multiplication_with_partial_products_takes_the_last_row_as_its_answer():
    lines = [row("123", 100), row("×45", 170), row("615", 250), row("492", 320, right=360), row("5535", 400)]
    [joined] = join_columns(lines)
    assert joined.text == "123×45=5535" and joined.correct is True


def test_what_is_left_of_the_bar_in_a_row_is_not_read():
    bar_end = SymbolResult("-", 0.9, (395, 170 + DIGIT_H + 6, 14, 4))  # under the digits' feet
    bar_line = row("-", 235)
    bar_line = LineResult(**{**bar_line.__dict__, "symbols": (SymbolResult("-", 0.9, (250, 238, 160, 4)),)})
    [joined] = join_columns([row("738", 100), row("+53", 170, extra=(bar_end,)), bar_line, row("791", 250)])
    assert joined.text == "738+53=791"
    eq = joined.symbols[6].box  # boxed where the bar is, across the sum's own width
    assert 170 + DIGIT_H <= eq[1] and eq[1] + eq[3] <= 250 and eq[0] == joined.box[0] and eq[0] + eq[2] == 400


@pytest.mark.parametrize("lines", [
    # Sums on lines of their own: nothing to join.
    [row("12+7=19", 100), row("3×4=12", 170)],
    # The operator's row does not end where the number above it does.
    [row("738", 100, right=400), row("+53", 170, right=300), row("791", 250, right=400)],
    # Too far apart to be one sum.
    [row("738", 100), row("+53", 400)],
    # Nothing above the operator's row.
    [row("+53", 170), row("791", 250)],
])
def test_rows_that_are_no_column_sum_are_left_as_they_were(lines):
    assert join_columns(lines) == lines


def test_an_exercise_number_before_the_first_row_is_kept():
    [joined] = join_columns([row("738", 100, label="3)"), row("+53", 170), row("791", 250)])
    assert joined.label == "3)" and joined.text == "738+53=791"


def test_a_column_sum_image_is_read_as_one_line(shared_dir):
    from hdr_expr.datasets.expressions import load_material, make_column_sum
    from hdr_expr.pipeline.recognize import Recognizer

    material = load_material(shared_dir)
    recognizer = Recognizer()
    for index in (0, 2):  # a scan and a drawing, as `hdr-expr bench expressions --columns --seed 5` makes them
        sample = make_column_sum(material, 5, index)
        page = recognizer.read_image(sample.image)
        assert [line.text for line in page.lines] == [sample.truth.text]
        assert page.lines[0].correct == sample.truth.correct


def test_an_operator_the_classifier_doubts_is_taken_where_a_bar_is_ruled_under_its_row():
    plus_as_three = row("3648", 170)
    plus_as_three = LineResult(**{**plus_as_three.__dict__, "symbols": (
        SymbolResult("3", 0.4, (400 - 3 * STEP - DIGIT_W, 170, DIGIT_W, DIGIT_H), (("÷", 0.33), ("+", 0.2))),
        *plus_as_three.symbols[1:])})
    lines = [row("5298", 100), plus_as_three, row("5946", 250)]
    assert join_columns(lines) == lines  # no bar: a stack of three numbers
    bar = (250, 170 + DIGIT_H + 8, 160, 4)  # erased as an answer blank
    [joined] = join_columns(lines, bars=[bar])
    assert joined.text == "5298+648=5946" and joined.correct is True
    assert joined.symbols[8].label == "=" and joined.symbols[8].box == (250, 228, 150, 4)  # the bar, clipped to the sum
    sure_three = LineResult(**{**plus_as_three.__dict__, "symbols": (
        SymbolResult("3", 0.97, plus_as_three.symbols[0].box, (("+", 0.02),)), *plus_as_three.symbols[1:])})
    assert join_columns([lines[0], sure_three, lines[2]], bars=[bar])[1] is sure_three  # written without one


def test_a_short_operator_row_taken_into_the_number_above_is_cut_out_again():
    top, low = row("905", 100), row("×2", 150)
    merged = LineResult(text="905×2", box=(top.box[0] - 40, 100, 190, 100), symbols=top.symbols + low.symbols,
                        confidence=0.9, expression="905*2", value="1810")
    [joined] = join_columns([merged, row("1810", 230)])
    assert joined.text == "905×2=1810" and joined.correct is True
    sum_line = row("12+7=19", 100)
    assert join_columns([sum_line, row("1810", 230)])[0] is sum_line  # one row: nothing to cut


def test_the_bars_ends_beside_an_operators_row_are_not_read():
    op_row = row("+53", 170, extra=(SymbolResult("=", 0.8, (410, 170 + DIGIT_H - 10, 24, 16)),))
    [joined] = join_columns([row("738", 100), op_row, row("791", 250)])
    assert joined.text == "738+53=791"


def test_carried_digits_written_small_over_the_first_row_are_no_part_of_the_sum():
    carries = LineResult(text="11", box=(325, 72, 50, 22), symbols=(
        SymbolResult("1", 0.9, (325, 72, 10, 22)), SymbolResult("1", 0.9, (365, 72, 10, 22))), confidence=0.8,
        expression="11", value="11")
    [joined] = join_columns([carries, row("785", 100), row("+2333", 170), row("3118", 250)])
    assert joined.text == "785+2333=3118" and joined.correct is True
    # Taken into the first row's line by the segmenter, they are left out of its number.
    first = row("785", 100)
    merged = LineResult(**{**first.__dict__, "text": "17815", "symbols": (
        carries.symbols[0], first.symbols[0], first.symbols[1], carries.symbols[1], first.symbols[2])})
    [joined] = join_columns([merged, row("+2333", 170), row("3118", 250)])
    assert joined.text == "785+2333=3118"


def test_sums_written_side_by_side_are_read_each_on_its_own():
    # Two sums, their rows at one height: the segmenter reads each row pair as one line.
    def side_by_side(a: str, b: str, top: int) -> LineResult:
        left, right = row(a, top, right=300), row(b, top, right=900)
        return LineResult(text=a + b, box=(left.box[0], top, 900 - left.box[0], DIGIT_H),
                          symbols=left.symbols + right.symbols, confidence=0.9)
    lines = [side_by_side("738", "4049", 100), side_by_side("+53", "-84", 170), side_by_side("791", "3965", 250)]
    joined = join_columns(lines)
    assert [j.text for j in joined] == ["738+53=791", "4049-84=3965"]
    assert all(j.correct is True for j in joined)
    assert joined[0].box[0] + joined[0].box[2] <= 300 < joined[1].box[0]


def test_a_line_with_wide_gaps_that_joins_no_sum_is_left_whole():
    spaced = LineResult(text="12+7=19", box=(100, 100, 900, DIGIT_H), symbols=tuple(
        SymbolResult(ch, 0.99, (100 + 130 * k, 100, DIGIT_W, DIGIT_H)) for k, ch in enumerate("12+7=19")),
        confidence=0.9, expression="12+7", value="19", answer="19", correct=True)
    assert join_columns([row("738", 20), spaced, row("791", 250)]) == [row("738", 20), spaced, row("791", 250)]


def test_a_page_of_column_sums_in_a_grid_is_read_sum_by_sum(shared_dir):
    from hdr_expr.datasets.expressions import load_material, make_column_sheet
    from hdr_expr.pipeline.recognize import Recognizer

    sheet = make_column_sheet(load_material(shared_dir), 1, 0)  # scanned: 3 down, 2 across
    assert sheet.tags["grid"] == [3, 2] and len(sheet.lines) == 6
    page = Recognizer().read_image(sheet.image)
    assert sorted(line.text for line in page.lines) == sorted(t.truth.text for t in sheet.lines)


def decimal_row(text: str, top: int, point_x: int) -> LineResult:
    """A row of a decimal: its digits boxed so that its point lies at ``point_x``."""
    whole, _, frac = text.lstrip("+-").partition(".")
    symbols = []
    x = point_x - 5 - STEP * len(whole) + (STEP - DIGIT_W)
    if text[0] in "+-":
        symbols.append(SymbolResult(text[0], 0.99, (x - STEP, top + 15, DIGIT_W - 6, 20)))
    for ch in whole:
        symbols.append(SymbolResult(ch, 0.99, (x, top, DIGIT_W, DIGIT_H)))
        x += STEP
    if "." in text:
        symbols.append(SymbolResult(".", 0.99, (point_x - 3, top + DIGIT_H - 6, 6, 6)))
    x = point_x + 8
    for ch in frac:
        symbols.append(SymbolResult(ch, 0.99, (x, top, DIGIT_W, DIGIT_H)))
        x += STEP
    a = assemble(text, latex=False)
    return LineResult(text=text, box=union_box([s.box for s in symbols]), symbols=tuple(symbols), confidence=0.9,
                      expression=a.expression, value=a.value, error=a.error)


def test_decimals_in_a_column_line_up_on_their_points():
    lines = [decimal_row("12", 100, 300), decimal_row("+3.75", 170, 300), decimal_row("15.75", 250, 300)]
    assert abs(lines[0].box[0] + lines[0].box[2] - (lines[1].box[0] + lines[1].box[2])) > DIGIT_H  # ends apart
    [joined] = join_columns(lines)
    assert joined.text == "12+3.75=15.75" and joined.correct is True
    lines = [decimal_row("12", 100, 300), decimal_row("+3.75", 170, 380), decimal_row("15.75", 250, 380)]
    assert join_columns(lines) == lines  # 12 over 375: no sum lines up so


def test_a_speck_at_the_feet_of_one_row_is_no_decimal_point():
    speck = SymbolResult(".", 0.9, (400 - STEP - 7, 250 + DIGIT_H - 5, 5, 5))  # between the 9 and the 1
    answer = row("791", 250)
    answer = LineResult(**{**answer.__dict__, "symbols": (*answer.symbols[:2], speck, answer.symbols[2]),
                           "text": "79.1"})
    [joined] = join_columns([row("738", 100), row("+53", 170), answer])
    assert joined.text == "738+53=791"
