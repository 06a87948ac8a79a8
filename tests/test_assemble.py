"""The parser, exact values, verdicts, LaTeX and the repair over the classifier's alternatives."""

from __future__ import annotations

import subprocess
import sys
from fractions import Fraction

import pytest

from hdr_expr.pipeline.assemble import (
    DIVISION_BY_ZERO,
    agreeing_reading,
    assemble,
    assemble_candidates,
    best_parse,
    format_value,
    oddities,
    parse,
    parses,
    ParseError,
)


def read(text: str):
    return assemble(list(text))


@pytest.mark.parametrize(
    "text, value",
    [
        ("12+7×3", "33"),
        ("12+7×3=", "33"),
        ("100-58", "42"),
        ("2-7÷3", "-1/3"),
        ("7÷3", "7/3"),
        ("7/3", "7/3"),
        ("-7/3", "-7/3"),
        ("8÷4÷2", "1"),  # left to right
        ("8-4-2", "2"),
        ("2+3×4", "14"),  # precedence
        ("(2+3)×4", "20"),
        ("4(6-2)", "16"),  # implicit multiplication before a bracket
        ("(1+2)(3+4)", "21"),
        ("(2)3", "6"),  # ... and after one
        ("8÷2(2+2)", "16"),  # implicit × binds like ×, left to right
        ("-(3+9)", "-12"),  # unary minus
        ("5×-2", "-10"),
        ("--3", "3"),
        ("3--2", "5"),
        ("-3+5", "2"),
        ("007+1", "8"),
        ("((2))", "2"),
        ("2.5", "2.5"),  # decimals are exact and written back as decimals
        (".5×3", "1.5"),
        ("0.1+0.2", "0.3"),
        ("1÷8+0.5", "0.625"),
        ("1÷3+0.5", "5/6"),  # not terminating: a fraction even though decimals were used
        ("5÷2", "5/2"),  # no decimals written: a fraction
        ("2.5×2", "5"),  # integral: an integer
        ("0-0.25", "-0.25"),
        ("1×2×3×4×5×6×7×8×9×10×11×12×13×14×15×16×17×18×19×20", "2432902008176640000"),  # exact, no floats
    ],
)
def test_values(text, value):
    a = read(text)
    assert a.error is None, a.error
    assert a.value == value
    assert a.correct is None and a.answer is None


@pytest.mark.parametrize(
    "text, correct, value, answer",
    [
        ("12+7=19", True, "19", "19"),
        ("12+7=18", False, "19", "18"),
        ("0.5=1/2", True, "0.5", "1/2"),  # compared exactly
        ("1÷2=0.5", True, "0.5", "0.5"),  # a decimal answer: the value is written as a decimal too
        ("0.1+0.2=0.3", True, "0.3", "0.3"),
        ("7÷3=2.33", False, "7/3", "2.33"),
        ("2-5=-3", True, "-3", "-3"),
        ("6÷4=3/2", True, "3/2", "3/2"),
        ("3×4=12.0", True, "12", "12.0"),
    ],
)
def test_verdicts(text, correct, value, answer):
    a = read(text)
    assert a.error is None
    assert a.correct is correct
    assert a.value == value
    assert a.answer == answer
    assert "=" not in a.expression  # expression and latex describe the left-hand side


def test_expression_and_latex():
    a = read("12+7×3=")
    assert a.text == "12+7×3="
    assert a.expression == "12+7*3"
    assert a.latex == r"12 + 7 \cdot 3"
    assert read("7÷3").latex == r"\frac{7}{3}"
    assert read("1/2").latex == r"\frac{1}{2}"
    assert read("8÷4÷2").latex == r"\frac{\frac{8}{4}}{2}"
    assert read("2.5+1").latex == "2.5 + 1"  # decimals as written, not \frac{5}{2}
    assert read("12-7").latex == "12 - 7"  # the written order is kept
    assert read("3+12").latex == "3 + 12"
    assert read("(1+2)(3+4)").latex == r"\left(1 + 2\right) \cdot \left(3 + 4\right)"
    assert read("5×-2").expression == "5*-2"
    assert read("6÷3").expression == "6/3"


@pytest.mark.parametrize("written, latex", [
    ("5+8-74-2-8", "5 + 8 - 74 - 2 - 8"),  # a run of sums and differences, not ((((5+8)-74)-2)-8)
    ("42/21+0.3+20", r"\frac{42}{21} + 0.3 + 20"),
    ("2-(3-4)", r"2 - \left(3 - 4\right)"),  # brackets that change the value stay
    ("7-(-9)", r"7 - \left(-9\right)"),  # not "7 - -9"
    ("5+-2", r"5 + \left(-2\right)"),  # not "5 - 2": what is written
    ("5--2", r"5 - \left(-2\right)"),
    ("-(3+9)", r"-\left(3 + 9\right)"),
    ("-(-4)", r"-\left(-4\right)"),  # not (-1)·(-4)
    ("-1×5", r"\left(-1\right) \cdot 5"),  # a written -1 factor is no minus sign
    ("-3×-2", r"\left(-3\right) \cdot \left(-2\right)"),
    ("5-(-2.5)+1", r"5 - \left(-2.5\right) + 1"),
    ("0.5÷-0.25", r"\frac{0.5}{-0.25}"),  # a negative decimal is one number, not (-1)·0.25
])
def test_latex_keeps_the_written_signs_without_extra_brackets(written, latex):
    a = read(written)
    assert a.latex == latex
    assert a.sympy_expr().doit() == a.sympy_value()  # the tree printed is the one evaluated


def test_sympy_objects_are_exact():
    from sympy import Float, Integer, Rational

    a = read("2.5+1÷3")
    assert a.sympy_value() == Rational(17, 6)
    expr = a.sympy_expr()
    assert expr.doit() == Rational(17, 6)  # the unevaluated tree holds exact numbers
    assert not expr.atoms(Float)
    assert read("2×3").sympy_value() == Integer(6)
    assert read("1÷0").sympy_value() is None and read("1÷0").sympy_expr() is not None
    assert read("3+").sympy_expr() is None


def test_latex_false_never_imports_sympy():
    code = ("import sys; from hdr_expr.pipeline.assemble import assemble, assemble_candidates\n"
            "a = assemble(list('12+7×3=33'), latex=False)\n"
            "b = assemble_candidates([[('2', 0.9)], [('×', 0.6), ('1', 0.4)]], latex=False)\n"
            "print(a.value, a.correct, a.latex, b.text, 'sympy' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["33", "True", "None", "21", "False"]


def test_aliases():
    assert read("3*4").value == "12"
    assert read("3·4").value == "12"
    assert read("8:2").value == "4"


@pytest.mark.parametrize("text", ["1÷0", "5/(3-3)", "2+1÷(0.5-0.5)"])
def test_division_by_zero(text):
    a = read(text)
    assert a.error == DIVISION_BY_ZERO
    assert a.value is None and a.correct is None
    assert a.expression is not None and a.latex is not None  # it parsed: what is written is still shown


def test_division_by_zero_in_answer():
    a = read("1=1÷0")
    assert a.error and "division by zero" in a.error
    assert a.correct is None


@pytest.mark.parametrize(
    "text, reason",
    [
        ("3+×4", "'×' cannot follow '+'"),
        ("=5", "nothing is written before '='"),
        ("(3+4", "'(' is not closed"),
        ("3+4)", "')' has no matching '('"),
        ("3+", "it ends after '+'"),
        ("×3", "it cannot start with '×'"),
        ("", "nothing is written"),
        ("1.2.3", "more than one decimal point"),
        ("5.+1", "ends with '.'"),
        ("3+.", "lone '.'"),
        ("()", "'()' holds nothing"),
        ("3==3", "'=' is written twice"),
        ("1=2=3", "more than one '='"),
        ("2×(3=6", "'(' is not closed"),
        ("+3", "it cannot start with '+'"),
    ],
)
def test_unparseable_lines_are_kept_with_the_reason(text, reason):
    a = read(text)
    assert a.text == text  # never dropped
    assert a.error is not None and reason in a.error
    assert a.error.startswith("cannot read")
    assert a.value is None and a.correct is None and a.latex is None
    assert not parses(list(text))


def test_parse_error_position():
    with pytest.raises(ParseError) as info:
        parse(list("3+×4"))
    assert info.value.position == 2


def test_format_value():
    assert format_value(Fraction(33)) == "33"
    assert format_value(Fraction(-7, 3)) == "-7/3"
    assert format_value(Fraction(5, 2)) == "5/2"
    assert format_value(Fraction(5, 2), decimals=True) == "2.5"
    assert format_value(Fraction(-1, 8), decimals=True) == "-0.125"
    assert format_value(Fraction(1, 3), decimals=True) == "1/3"
    assert format_value(Fraction(3, 100), decimals=True) == "0.03"


def test_repair_uses_the_alternatives():
    # "3+×4" does not parse; the × had 1 as a close second.
    cands = [[("3", 0.99)], [("+", 0.95), ("4", 0.03)], [("×", 0.6), ("1", 0.35), ("+", 0.05)], [("4", 0.98)]]
    a = assemble_candidates(cands)
    assert a.repaired
    assert a.text == "3+14" and a.value == "17"


def test_repair_prefers_the_most_probable_parse():
    # Both "7-1" (swap '=' at p=0.3) and "7+1" (swap at p=0.2)... the higher product wins.
    cands = [[("7", 0.9)], [("=", 0.5), ("-", 0.3), ("+", 0.2)], [("1", 0.9)], [("=", 0.99)]]
    assert assemble_candidates(cands).text == "7-1="
    # The repair is allowed to change a confident symbol if that is cheaper overall.
    cands = [[("(", 0.55), ("1", 0.45)], [("2", 0.99)], [("+", 0.99)], [("3", 0.99)]]
    a = assemble_candidates(cands)
    assert a.text == "12+3" and a.value == "15"


def test_a_line_too_long_for_any_sum_is_not_repaired():
    # Grid scraps read as a line of hundreds of '1's and '-'s: the first choices, at once, not a search whose
    # cost grows with the square of the line (a line of 600 took seconds per repair).
    from hdr_expr.pipeline.assemble import REPAIR_MAX_SYMBOLS

    def scraps(n):
        return [[("3", 0.99)], [("+", 0.95), ("4", 0.03)], [("×", 0.6), ("1", 0.35)]] + [[("4", 0.98)]] * (n - 3)

    assert assemble_candidates(scraps(REPAIR_MAX_SYMBOLS)).repaired  # "3+×44…" as "3+144…"
    long = assemble_candidates(scraps(REPAIR_MAX_SYMBOLS + 1))
    assert not long.repaired and long.error and long.text.startswith("3+×4")


def test_no_repair_when_first_choices_parse():
    cands = [[("2", 0.6), ("7", 0.4)], [("+", 0.9)], [("2", 0.9)]]
    a = assemble_candidates(cands)
    assert a.text == "2+2" and not a.repaired


def test_no_repair_of_division_by_zero():
    # 1÷0 parses: a written division by zero is reported, not "repaired" into 1÷6.
    cands = [[("1", 0.99)], [("÷", 0.99)], [("0", 0.6), ("6", 0.4)]]
    assert assemble_candidates(cands).error == DIVISION_BY_ZERO


def test_unrepairable_line_keeps_first_choices():
    cands = [[("3", 0.9)], [("+", 0.9), ("×", 0.1)], [("=", 0.99)]]
    a = assemble_candidates(cands)
    assert a.text == "3+=" and a.error.startswith("cannot read") and not a.repaired
    assert best_parse(cands) is None
    assert best_parse([]) is None


@pytest.mark.parametrize("text, n", [
    ("05+1", 1), ("0.5+1", 0), ("105+1", 0), ("0+1", 0), ("3+0", 0),
    ("(4+3)17", 1), ("(4+3)(1)", 0), ("271(5×8)", 1), ("27/(5×8)", 0), ("27(5×8)", 0), ("1+.65", 1), ("1.65×2", 0),
    ("2+.5", 1), ("05+(1)2", 2), ("6--1", 1), ("6-(-1)", 0), ("4+-27", 1), ("4+(-27)", 0), ("5×-2", 0),
    ("717=", 1), ("313", 1), ("-5=", 1), ("4.5=4.5", 1), ("7/7=", 0), ("-7+7", 0), ("05=", 2),
    ("29012×3", 1), ("2901×3", 0), ("12345678+1", 1), ("3×4=12345", 0), ("12.345+1", 0),
])
def test_oddities(text, n):
    assert oddities(list(text)) == n


def test_repair_of_an_odd_reading():
    # "(4+3)17" parses (implicit multiplication) but people write "(4+3)/7": a close second wins.
    sure = [[(c, 0.99)] for c in "(4+3)"]
    cands = sure + [[("1", 0.7), ("/", 0.3)], [("7", 0.99)]]
    a = assemble_candidates(cands)
    assert a.text == "(4+3)/7" and a.repaired and a.value == "1"
    # A sure odd reading is kept: the penalty is not a ban.
    cands = sure + [[("1", 0.9999), ("/", 0.0001)], [("7", 0.99)]]
    a = assemble_candidates(cands)
    assert a.text == "(4+3)17" and not a.repaired
    # "271(5×81)" parses too, but a division by a bracket is far commoner than a number ending in 1 multiplying one.
    cands = _sure("27") + [[("1", 0.57), ("/", 0.42)]] + _sure("(5×81)")
    assert assemble_candidates(cands).text == "27/(5×81)"
    # "717=" asks for the value of a number: the line is an operation, a '/' the classifier found plausible.
    cands = _sure("7") + [[("1", 0.85), ("/", 0.12)]] + _sure("7=")
    a = assemble_candidates(cands)
    assert a.text == "7/7=" and a.value == "1"
    # "29012×(45-1)" parses, but sums are worked on shorter numbers: the '/' the classifier doubted wins.
    cands = _sure("290") + [[("1", 0.8), ("/", 0.19)]] + _sure("2×(45-1)")
    assert assemble_candidates(cands).text == "290/2×(45-1)"


def _sure(text):
    return [[(c, 0.99)] for c in text]


def test_agreement_reads_an_ambiguous_stroke_so_that_the_answer_holds():
    # '919=1' parses, but the middle stroke could be a '/': '9/9=1' holds, so it is read that way.
    cands = _sure("9") + [[("1", 0.8), ("/", 0.18)]] + _sure("9=1")
    a = assemble_candidates(cands)
    assert a.text == "9/9=1" and a.correct is True and a.repaired
    # A '-' that may be the '=' of an answer that holds; an '=' read as another operator.
    cands = _sure("905-8+9") + [[("-", 0.69), ("=", 0.16), (".", 0.15)]] + _sure("906")
    assert assemble_candidates(cands).text == "905-8+9=906"
    cands = _sure("21+(-51)") + [[("÷", 0.8), ("=", 0.2)]] + _sure("-30")
    assert assemble_candidates(cands).text == "21+(-51)=-30"


def test_agreement_keeps_an_oddity_the_pupil_wrote_but_adds_none():
    # '+-' (a negative number unbracketed) counts as odd, but the pupil wrote it: '22/2' still makes the answer
    # hold (read '2212' first) ...
    cands = _sure("9-8+-22") + [[("1", 0.63), ("/", 0.37)]] + _sure("2=-10")
    assert assemble_candidates(cands).text == "9-8+-22/2=-10"
    # ... while a swap that would bring an oddity of its own is not made ('-' after '+': '4+-2=2').
    cands = _sure("4+") + [[("1", 0.6), ("-", 0.4)]] + _sure("2=2")
    assert assemble_candidates(cands).text == "4+12=2"


def test_agreement_reads_a_plausible_other_digit_so_that_the_answer_holds():
    # The last digit could be a 2 (three in ten): 7+5=12 holds, so it is read that way.
    cands = _sure("7+5=1") + [[("3", 0.7), ("2", 0.3)]]
    a = assemble_candidates(cands)
    assert a.text == "7+5=12" and a.correct is True and a.repaired


def test_a_division_by_zero_gives_way_to_a_reading_whose_answer_holds():
    # '43/0' divides by zero; the stroke could be a 1 (a quarter), and 592-(-4310)=4902 holds.
    cands = _sure("592-(-43") + [[("/", 0.72), ("1", 0.26)]] + _sure("0)=4902")
    a = assemble_candidates(cands)
    assert a.text == "592-(-4310)=4902" and a.correct is True and a.repaired and a.error is None
    # Where no alternative makes the answer hold, the division by zero is reported as read.
    cands = _sure("8") + [[("/", 0.9), ("1", 0.1)]] + _sure("0=5")
    a = assemble_candidates(cands)
    assert a.text == "8/0=5" and a.error == "division by zero" and not a.repaired


def test_agreement_never_turns_a_clearly_written_wrong_answer_right():
    # A pupil's wrong answer stays wrong: a digit the classifier hardly doubts is not swapped ...
    cands = _sure("7+5=1") + [[("3", 0.98), ("2", 0.02)]]
    a = assemble_candidates(cands)
    assert a.text == "7+5=13" and a.correct is False and not a.repaired
    # ... and + - × ÷ are never swapped for one another, however close.
    cands = _sure("6") + [[("÷", 0.7), ("-", 0.3)]] + _sure("3=3")
    assert assemble_candidates(cands).text == "6÷3=3"
    # Too unlikely an alternative is not tried; a line that holds already is left alone.
    cands = _sure("9") + [[("1", 0.995), ("/", 0.005)]] + _sure("9=1")
    assert assemble_candidates(cands).text == "919=1"
    assert agreeing_reading(_sure("9") + [[("/", 0.6), ("1", 0.4)]] + _sure("9=1"), [0] * 5) is None


def test_importing_is_cheap():
    # sympy is imported only when a parsed line is built.
    code = "import sys, hdr_expr.pipeline.assemble as a; a.parse(list('1+2')); print('sympy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


@pytest.mark.parametrize("text, n", [("717=", 0), ("31", 0), ("-14", 0), ("2+-1+5", 1), ("05=", 1), ("7/7=", 0)])
def test_oddities_without_the_bare_number(text, n):
    # A number on a line of its own is no oddity there; the others still count.
    assert oddities(list(text), bare_number=False) == n


def test_a_line_is_read_with_an_equals_sign_where_the_mark_could_be_one(monkeypatch):
    # Four lines in five carry an '='. A bar the classifier gives '×' 0.61 and '=' 0.36 ('9×(119+5)=1118' read
    # '9×(119+5)×1118'): read as '=', even where the written answer is wrong (9×124 is 1116).
    cands = _sure("9×(119+5)") + [[("×", 0.61), ("=", 0.36)]] + _sure("1118")
    a = assemble_candidates(cands)
    assert a.text == "9×(119+5)=1118" and a.correct is False and a.repaired
    # An '=' the classifier gives a tenth of the mark's '-' is no reading of it; a line that has an '=' takes no
    # second one; a digit is not read as an '='.
    assert assemble_candidates(_sure("36×1×4") + [[("-", 0.9), ("=", 0.09)]] + _sure("146")).text == "36×1×4-146"
    assert assemble_candidates(_sure("3-2") + [[("-", 0.6), ("=", 0.4)]] + _sure("1=0")).text == "3-2-1=0"
    assert assemble_candidates(_sure("1") + [[("3", 0.6), ("=", 0.4)]] + _sure("5")).text == "135"
    monkeypatch.setattr(sys.modules["hdr_expr.pipeline.assemble"], "EQUALS_PRIOR", 0.0)  # the prior off
    assert assemble_candidates(cands).text == "9×(119+5)×1118"
