"""Tokens → our own parser → sympy objects → value, verdict on a written answer, LaTeX.

The recognized labels of a line are parsed by a small recursive-descent parser into a syntax tree, and that
tree is built straight into sympy objects: strings are never handed to sympy's string parser or to Python's
evaluator. The parse needs no sympy at all (it is what the alternative search calls hundreds of times). Values
are exact fractions computed on the tree (the same numbers sympy's ``Rational`` gives, :meth:`Assembly.sympy_value`);
sympy is imported only to build the expression object and its LaTeX, so importing this module is cheap and a
caller that shows no LaTeX (``latex=False``) never pays sympy's import (0.15–0.3 s, most of a cold start).

Grammar (``×`` also accepts ``*`` and ``·``; ``÷`` and ``/`` are both division)::

    line    := expr [ '=' [ expr ] ]          # '=' with nothing after it asks for the answer
    expr    := term { ('+' | '-') term }
    term    := factor { ('×' | '÷' | '/') factor | implicit }
    implicit:= '(' ...                        # 4(6-2), (1+2)(3+4): a bracket right after a factor
             | NUMBER after ')'               # (2)3
    factor  := '-' factor | primary           # unary minus: -(3+9), 5×-2, --3
    primary := NUMBER | '(' expr ')'
    NUMBER  := digits [ '.' digits ] | '.' digits     # 12, 2.5, .5 (not "5." nor "1.2.3")

Implicit multiplication binds like ``×`` (left to right): ``8÷2(2+2)`` is ``(8÷2)·4 = 16``.

Values are exact (sympy ``Integer``/``Rational``; ``2.5`` is ``5/2``). How a value is written (:func:`format_value`):
an integer as an integer (``33``, ``-4``); otherwise, if the line was written with decimals (any number with a
``.``) and the value has a terminating decimal expansion, as that exact decimal (``2.5``, ``-0.125``); otherwise
as a reduced fraction (``-7/3``, ``5/2``). The verdict compares the written answer's exact value with the
left-hand side's (``0.5`` equals ``1/2``). ``expression`` (ASCII) and ``latex`` describe the left-hand side, the
part whose value ``value`` is; the written answer is ``answer``.

A line that does not parse is kept with its text and the reason. Where the classifier's first choices do not
parse, or read oddly (:func:`oddities`: ``05``, ``(4+3)17``), :func:`assemble_candidates` searches their alternatives
best-first (the product of the chosen probabilities) for the most probable plain sequence that parses. Where
the line's written answer does not hold, :func:`agreeing_reading` tries the classifier's alternatives (``1``
for ``/``, an ``=`` where there was none, a plausible other digit; never one operation for another) for a
reading whose answer holds, as a person reading an ambiguous stroke would.
"""

from __future__ import annotations

import functools
import heapq
import math
from dataclasses import dataclass, field, replace
from fractions import Fraction
from typing import Any, Sequence

from hdr_expr.symbols import ASCII_FORMS

#: Other ways a label may be spelled, mapped onto the symbol alphabet.
ALIASES: dict[str, str] = {"*": "×", "·": "×", "x": "×", ":": "÷", "−": "-", "–": "-"}

DIVISION_BY_ZERO = "division by zero"


def unparsed(error: str | None) -> bool:
    """Whether a reading's ``error`` says it does not parse (a division by zero parses: it is arithmetic's error)."""
    return error is not None and not error.startswith(DIVISION_BY_ZERO)


class ParseError(ValueError):
    """A label sequence that is not an expression; ``position`` indexes the offending label (len = at the end)."""

    def __init__(self, message: str, position: int):
        super().__init__(message)
        self.position = position


# --------------------------------------------------------------------------------------------- syntax tree
@dataclass(frozen=True)
class Num:
    text: str  # as written: "12", "2.5", ".5"


@dataclass(frozen=True)
class Neg:
    operand: Any


@dataclass(frozen=True)
class Bin:
    op: str  # '+', '-', '×', '÷' ('/' is read as '÷'); implicit multiplication is '×' with implicit=True
    left: Any
    right: Any
    implicit: bool = False


@dataclass(frozen=True)
class Line:
    lhs: Any
    equals: bool  # an '=' is written
    rhs: Any | None  # the written answer, if any


# ------------------------------------------------------------------------------------------------- parsing
def normalize_label(label: str) -> str:
    return ALIASES.get(label, label)


def _tokenize(labels: Sequence[str]) -> list[tuple[str, str, int]]:
    """Labels → tokens ``(kind, text, first label index)``; kind is 'num' or 'op'. Digits and dots merge."""
    tokens: list[tuple[str, str, int]] = []
    i, n = 0, len(labels)
    while i < n:
        c = labels[i]
        if c.isdigit() or c == ".":
            j = i
            while j < n and (labels[j].isdigit() or labels[j] == "."):
                j += 1
            text = "".join(labels[i:j])
            if text.count(".") > 1:
                raise ParseError(f"the number {text!r} has more than one decimal point", i)
            if text.endswith("."):
                what = "a lone '.' is not a number" if text == "." else f"the number {text!r} ends with '.'"
                raise ParseError(what, j - 1)
            tokens.append(("num", text, i))
            i = j
        elif c in "+-×÷/=()":
            tokens.append(("op", "÷" if c == "/" else c, i))
            i += 1
        else:
            raise ParseError(f"unknown symbol {c!r}", i)
    return tokens


class _Parser:
    def __init__(self, labels: Sequence[str]):
        self.labels = [normalize_label(str(lab)) for lab in labels]
        self.tokens = _tokenize(self.labels)
        self.pos = 0

    # helpers
    def _peek(self) -> tuple[str, str, int] | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def _is_op(self, *ops: str) -> bool:
        tok = self._peek()
        return tok is not None and tok[0] == "op" and tok[1] in ops

    def _where(self) -> int:
        tok = self._peek()
        return tok[2] if tok is not None else len(self.labels)

    def _unexpected(self) -> ParseError:
        tok = self._peek()
        prev = self.labels[self._where() - 1] if self._where() > 0 else None
        if tok is None:
            return ParseError(f"it ends after {prev!r}" if prev else "nothing is written", self._where())
        shown = self.labels[tok[2]]
        if prev is None:
            return ParseError(f"it cannot start with {shown!r}", tok[2])
        return ParseError(f"{shown!r} cannot follow {prev!r}", tok[2])

    # grammar
    def line(self) -> Line:
        if not self.tokens:
            raise ParseError("nothing is written", 0)
        if self._is_op("="):
            raise ParseError("nothing is written before '='", self._where())
        lhs = self.expr()
        equals, rhs = False, None
        if self._is_op("="):
            self.pos += 1
            equals = True
            if self._is_op("="):
                raise ParseError("'=' is written twice", self._where())
            if self._peek() is not None:
                rhs = self.expr()
        if self._peek() is not None:
            tok = self._peek()
            if tok[1] == "=":
                raise ParseError("more than one '='", tok[2])
            if tok[1] == ")":
                raise ParseError("')' has no matching '('", tok[2])
            raise self._unexpected()
        return Line(lhs, equals, rhs)

    def expr(self) -> Any:
        node = self.term()
        while self._is_op("+", "-"):
            op = self._peek()[1]
            self.pos += 1
            node = Bin(op, node, self.term())
        return node

    def term(self) -> Any:
        node = self.factor()
        while True:
            if self._is_op("×", "÷"):
                op = self._peek()[1]
                self.pos += 1
                node = Bin(op, node, self.factor())
            elif self._is_op("(") or (self._peek() is not None and self._peek()[0] == "num"
                                      and self.pos > 0 and self.tokens[self.pos - 1][1] == ")"):
                node = Bin("×", node, self.primary(), implicit=True)
            else:
                return node

    def factor(self) -> Any:
        if self._is_op("-"):
            self.pos += 1
            return Neg(self.factor())
        return self.primary()

    def primary(self) -> Any:
        tok = self._peek()
        if tok is not None and tok[0] == "num":
            self.pos += 1
            return Num(tok[1])
        if self._is_op("("):
            open_at = tok[2]
            self.pos += 1
            if self._is_op(")"):
                raise ParseError("'()' holds nothing", self._where())
            node = self.expr()
            if not self._is_op(")"):
                if self._peek() is None or self._is_op("="):
                    raise ParseError("'(' is not closed", open_at)
                raise self._unexpected()
            self.pos += 1
            return node
        raise self._unexpected()


def parse(labels: Sequence[str]) -> Line:
    """Parse a line's labels into a syntax tree (no sympy). Raises :class:`ParseError` with the reason."""
    return _Parser(labels).line()


def parses(labels: Sequence[str]) -> bool:
    try:
        parse(labels)
    except ParseError:
        return False
    return True


# ---------------------------------------------------------------------------------------- values and sympy
def _exact(text: str) -> Fraction:
    whole, _, frac = text.partition(".")
    return Fraction(int(whole or "0") * 10 ** len(frac) + int(frac or "0"), 10 ** len(frac))


def _value(node: Any) -> Fraction:
    """The exact value of a tree (raises ZeroDivisionError on division by zero)."""
    if isinstance(node, Num):
        return _exact(node.text)
    if isinstance(node, Neg):
        return -_value(node.operand)
    a, b = _value(node.left), _value(node.right)
    if node.op == "+":
        return a + b
    if node.op == "-":
        return a - b
    if node.op == "×":
        return a * b
    if b == 0:
        raise ZeroDivisionError
    return a / b


def _uses_decimals(node: Any) -> bool:
    if isinstance(node, Num):
        return "." in node.text
    if isinstance(node, Neg):
        return _uses_decimals(node.operand)
    return _uses_decimals(node.left) or _uses_decimals(node.right)


def _sympy(node: Any, *, display: bool) -> Any:
    """The tree as an unevaluated sympy expression. ``display`` writes decimals as sympy Floats (so LaTeX shows
    ``2.5``, not ``\\frac{5}{2}``); otherwise every number is an exact Integer/Rational.

    A run of ``+`` and ``-`` is one flat ``Add`` (``8-2-1``, not ``(8-2)-1``), a negation is ``Mul(-1, x)``, and a
    subtraction ``a - b`` is ``Add(a, Mul(-1, b))``. A negative operand written after ``+`` or ``-`` (``5+-2``,
    ``7-(-9)``) and a negated negative (``-(-4)``) are wrapped in ``UnevaluatedExpr``, so that
    :func:`latex_of` can tell them from a subtraction and bracket them."""
    from sympy import Add, Float, Integer, Mul, Pow, Rational, UnevaluatedExpr

    def build(n: Any) -> Any:
        if isinstance(n, Num):
            if "." in n.text:
                if display:
                    digits = sum(ch.isdigit() for ch in n.text)
                    return Float(n.text, max(digits, 1))
                v = _exact(n.text)
                return Rational(v.numerator, v.denominator)
            return Integer(int(n.text))
        if isinstance(n, Neg):
            if isinstance(n.operand, Num) and "." not in n.operand.text:
                return Integer(-int(n.operand.text))
            if isinstance(n.operand, Num):  # a negative decimal: one number, as a negative integer is
                if display:
                    return Float("-" + n.operand.text, max(sum(ch.isdigit() for ch in n.operand.text), 1))
                v = _exact(n.operand.text)
                return Rational(-v.numerator, v.denominator)
            inner = build(n.operand)
            return Mul(Integer(-1), UnevaluatedExpr(inner) if isinstance(n.operand, Neg) else inner, evaluate=False)
        a, b = build(n.left), build(n.right)
        if n.op in "+-":
            if display and isinstance(n.right, Neg):
                b = UnevaluatedExpr(b)
            if n.op == "-":
                b = Mul(Integer(-1), b, evaluate=False)
            terms = a.args if isinstance(n.left, Bin) and n.left.op in "+-" else (a,)
            return Add(*terms, b, evaluate=False)
        if n.op == "×":
            if a in (Integer(1), Integer(-1)):  # a written 1 or -1 factor, not a negation
                a = UnevaluatedExpr(a)
            return Mul(a, b, evaluate=False)
        # a ÷ b. A quotient on the left is wrapped so that 8÷4÷2 prints as \frac{\frac{8}{4}}{2}.
        # sympy prints an unevaluated 1·(1/2) as "1 \cdot \frac{1}{2}" unless the 1 is wrapped too.
        if (isinstance(n.left, Bin) and n.left.op == "÷") or a in (Integer(1), Integer(-1)):
            a = UnevaluatedExpr(a)
        return Mul(a, Pow(b, -1, evaluate=False), evaluate=False)

    return build(node)


def _to_sympy_rational(v: Fraction) -> Any:
    from sympy import Rational

    return Rational(v.numerator, v.denominator)


def _terminating(denominator: int) -> bool:
    for p in (2, 5):
        while denominator % p == 0:
            denominator //= p
    return denominator == 1


def format_value(value: Fraction | Any, *, decimals: bool = False) -> str:
    """An exact value as text: ``33``, ``-7/3``; with ``decimals``, a terminating value as ``2.5``."""
    v = Fraction(int(value.p), int(value.q)) if hasattr(value, "q") else Fraction(value)
    if v.denominator == 1:
        return str(v.numerator)
    if decimals and _terminating(v.denominator):
        k = 0
        while (v * 10**k).denominator != 1:
            k += 1
        scaled = abs(v.numerator) * 10**k // v.denominator
        digits = str(scaled).rjust(k + 1, "0")
        sign = "-" if v < 0 else ""
        return f"{sign}{digits[:-k]}.{digits[-k:]}"
    return f"{v.numerator}/{v.denominator}"


def _ascii(labels: Sequence[str]) -> str:
    return "".join(ASCII_FORMS.get(lab, lab) for lab in labels)


# --------------------------------------------------------------------------------------------- assembling
@dataclass(frozen=True)
class Assembly:
    """What a line means. ``labels`` are the labels read (after any repair); ``text`` joins them.

    :meth:`sympy_expr` and :meth:`sympy_value` give the left-hand side as sympy objects (built on first use).
    """

    labels: tuple[str, ...]
    text: str
    expression: str | None = None
    latex: str | None = None
    value: str | None = None
    answer: str | None = None
    correct: bool | None = None
    error: str | None = None
    repaired: bool = False  # some labels are not the classifier's first choice
    tree: Line | None = field(default=None, compare=False, repr=False)  # the parse, where the line parses
    exact: Fraction | None = field(default=None, compare=False, repr=False)  # the lhs's exact value

    def sympy_expr(self) -> Any:
        """The left-hand side as an unevaluated sympy expression of exact numbers (``None`` if no parse)."""
        return _sympy(self.tree.lhs, display=False) if self.tree is not None else None

    def sympy_value(self) -> Any:
        """The left-hand side's value as a sympy ``Integer``/``Rational`` (``None`` if it has none)."""
        return _to_sympy_rational(self.exact) if self.exact is not None else None


@functools.lru_cache(maxsize=1)
def _latex_printer() -> Any:
    """sympy's LaTeX printer, told how :func:`_sympy` writes sums and negations: a term ``Mul(-1, b)`` after the
    first is a subtraction (``a - b``, ``b`` bracketed where it is a sum or negative: ``7 - \\left(-9\\right)``),
    any other negative term is bracketed (``5 + \\left(-2\\right)``), and a leading ``Mul(-1, x)`` is a minus
    sign (``-\\left(3 + 9\\right)``). sympy's own printer turns ``5+(-2)`` into ``5 - 2`` and ``7-(-9)`` into
    ``7 - -9``."""
    from sympy import Add, Integer, Mul, UnevaluatedExpr
    from sympy.printing.latex import LatexPrinter

    def negation(e: Any) -> Any:
        """x where e is Mul(-1, x) as _sympy writes a negation or a subtracted term; else None."""
        if isinstance(e, Mul) and len(e.args) == 2 and e.args[0] == Integer(-1):
            return e.args[1]
        return None

    class WrittenOrder(LatexPrinter):
        def _operand(self, e: Any) -> str:
            inner = e.args[0] if isinstance(e, UnevaluatedExpr) else e
            tex = self._print(inner)
            # (is_Number, not is_number: asking an unevaluated 0/0 whether it is negative can raise sympy's
            # InconsistentAssumptions, depending on what its cache holds — seen reading a line as ``1-0/000``.)
            if isinstance(inner, Add) or negation(inner) is not None or (inner.is_Number and inner.is_negative):
                tex = r"\left(%s\right)" % tex
            return tex

        def _print_Add(self, expr: Any, order: Any = None) -> str:
            tex = ""
            for i, term in enumerate(expr.args):
                subtracted = negation(term)
                if i == 0:
                    tex += self._print(term)
                elif subtracted is not None:
                    tex += " - " + self._operand(subtracted)
                else:
                    tex += " + " + self._operand(term)
            return tex

        def _print_Mul(self, expr: Any) -> str:
            negated = negation(expr)
            if negated is not None:
                return "-" + self._operand(negated)
            return super()._print_Mul(expr)

    return WrittenOrder({"order": "none", "mul_symbol": "dot"})


def latex_of(tree: Line) -> str:
    """LaTeX of a parsed line's left-hand side, by sympy's LaTeX printer over its sympy tree: the written order
    and signs kept (see :func:`_latex_printer`)."""
    return _latex_printer().doprint(_sympy(tree.lhs, display=True))


def assemble(labels: Sequence[str], *, latex: bool = True) -> Assembly:
    """Read one line's labels: parse, evaluate exactly, judge a written answer, write LaTeX.

    Values are exact fractions computed on the parse tree; sympy is imported only for the LaTeX (and for
    :meth:`Assembly.sympy_expr`). ``latex=False`` leaves ``latex`` unset and so never imports sympy: the CLI's
    text output does not show LaTeX, and sympy's import is most of a cold start.
    """
    labels = tuple(normalize_label(str(lab)) for lab in labels)
    text = "".join(labels)
    try:
        line = parse(labels)
    except ParseError as exc:
        return Assembly(labels, text, error=f"cannot read: {exc}")
    eq_at = labels.index("=") if line.equals else len(labels)
    common = dict(
        labels=labels,
        text=text,
        expression=_ascii(labels[:eq_at]),
        latex=latex_of(line) if latex else None,
        answer=_ascii(labels[eq_at + 1 :]) if line.rhs is not None else None,
        tree=line,
    )
    decimals = _uses_decimals(line.lhs) or (line.rhs is not None and _uses_decimals(line.rhs))
    try:
        value = _value(line.lhs)
    except ZeroDivisionError:
        return Assembly(**common, error=DIVISION_BY_ZERO)
    shown = format_value(value, decimals=decimals)
    correct = None
    if line.rhs is not None:
        try:
            correct = _value(line.rhs) == value
        except ZeroDivisionError:
            return Assembly(**common, value=shown, exact=value, error=f"{DIVISION_BY_ZERO} in the answer")
    return Assembly(**common, value=shown, correct=correct, exact=value)


Candidates = Sequence[tuple[str, float]]


def _labels(candidates: Sequence[Candidates], idx: Sequence[int]) -> list[str]:
    """The labels a choice of indices (one per position) picks."""
    return [candidates[i][k][0] for i, k in enumerate(idx)]


#: How much less likely an odd but grammatical reading is (log units per oddity, a factor of about 55; see
#: :func:`oddities`). 3 before the bare-number and "1(" oddities; measured 2.5 / 3 / 3.5 / 4 / 5 on the saved sets,
#: 4 and 5 best alike.
ODDITY_PENALTY = 4.0
#: A number this many digits long in the worked part of a line is odd: handwritten sums are done on shorter
#: ones, and a ``/`` or an operator read as a digit makes one long number of two (``290/2`` as ``29012``).
LONG_NUMBER = 5


def oddities(labels: Sequence[str], *, bare_number: bool = True) -> int:
    """How many things a line holds that the grammar allows but people do not write: a number with a leading
    zero (``05``, not ``0.5``), a number right after a closing bracket (``(4+3)17``: a ``/`` read as ``1``), a
    number ending in ``1`` right before an opening bracket (``271(5×81)``: people divide by a bracket far more
    often than they multiply one by such a number), a number that starts with its decimal point (``.65``: a
    speck read as ``.``), a minus right after a minus or a plus (``6--1``, ``4+-27``: people bracket a negative
    number, ``6-(-1)``; a ``+`` whose bar runs on is cut into ``+-``), a line whose expression is one number,
    nothing done to it (``717=``, ``313``: a ``/`` read as ``1``; arithmetic is written to be worked out — not
    counted without ``bare_number``: a number may stand on a line of its own), and a number LONG_NUMBER digits
    long before the ``=``."""
    expression = list(labels[: labels.index("=")] if "=" in labels else labels)
    if expression[:1] == ["-"]:
        expression = expression[1:]
    n = int(bare_number and bool(expression) and all(c.isdigit() or c == "." for c in expression))
    for i, c in enumerate(labels):
        prev = labels[i - 1] if i else ""
        starts = not (prev.isdigit() or prev == ".")
        if c == "0" and starts and i + 1 < len(labels) and labels[i + 1].isdigit():
            n += 1
        elif (c.isdigit() or c == ".") and prev == ")":
            n += 1
        elif c == "(" and prev == "1":
            n += 1
        elif c == "." and starts:
            n += 1
        elif c == "-" and prev in ("-", "+"):
            n += 1
    run = 0
    for c in expression:
        run = run + 1 if c.isdigit() else 0
        if run == LONG_NUMBER:
            n += 1
    return n


#: How much likelier a line with an '=' is than one without (log units; see :func:`equals_reading`): four lines in
#: five carry one (81% of the benchmark's lines and the worksheets'), log(0.8 / 0.2) = 1.4. Saved sets (expressions
#: seeds 20-26, 31, 33-37; worksheets 31, 34-37): +5 lines, none lost (0.7: +2; 1.2 and 2.0: +5; 3.0: +5 −1).
EQUALS_PRIOR = 1.4


def equals_reading(candidates: Sequence[Candidates], idx: Sequence[int]) -> tuple[int, ...] | None:
    """The reading with one mark read as '=' instead, where the line as read has none and the classifier gives
    that mark's '=' at least exp(-EQUALS_PRIOR) of what it gives the label read; None where none is.

    An '=' whose bars blur into one reads as a sure '-', or as a '×' with '=' close behind (``9×(119+5)=1118``
    read ``9×(119+5)×1118``): both parse, so nothing else would question them. Unlike
    :func:`agreeing_reading`, the answer need not hold (a pupil's wrong answer is still an answer); a digit is
    never read as '=' here, nor a reading made odder."""
    labels = _labels(candidates, idx)
    odd = oddities(labels)
    best: tuple[float, tuple[int, ...]] | None = None
    for i, c in enumerate(candidates):
        k = next((k for k, (lab, _) in enumerate(c) if lab == "="), None)
        if k is None or k == idx[i] or labels[i].isdigit():
            continue
        gain = math.log(max(c[k][1], 1e-12) / max(c[idx[i]][1], 1e-12)) + EQUALS_PRIOR
        if gain <= 0 or (best is not None and gain <= best[0]):
            continue
        trial = list(idx)
        trial[i] = k
        trial_labels = _labels(candidates, trial)
        if parses(trial_labels) and oddities(trial_labels) <= odd:
            best = (gain, tuple(trial))
    return best[1] if best is not None else None


def best_parse(candidates: Sequence[Candidates], *, max_tries: int = 400) -> tuple[int, ...] | None:
    """Indices (one per position) of the best label sequence that parses, or None: the most probable one, less
    ODDITY_PENALTY per :func:`oddities` (a sure but odd reading still wins over an unlikely plain one).

    ``candidates[i]`` lists position i's labels with their probabilities, most probable first. Sequences are
    tried best-first by the product of their probabilities (a lazy k-best enumeration over the positions), at
    most ``max_tries`` of them; the search stops as soon as no sequence left can beat the best found.
    """
    n = len(candidates)
    if n == 0:
        return None
    logp = [[math.log(max(float(p), 1e-12)) for _, p in c] for c in candidates]
    if any(not row for row in logp):
        return None
    start = (0,) * n
    heap = [(-sum(row[0] for row in logp), start)]
    seen = {start}
    tries = 0
    best: tuple[float, tuple[int, ...]] | None = None
    while heap and tries < max_tries:
        cost, idx = heapq.heappop(heap)
        if best is not None and -cost <= best[0]:
            break  # the penalty only lowers scores: nothing less probable can win
        tries += 1
        labels = _labels(candidates, idx)
        if parses(labels):
            score = -cost - ODDITY_PENALTY * oddities(labels)
            if best is None or score > best[0]:
                best = (score, idx)
        for i in range(n):
            k = idx[i] + 1
            if k < len(logp[i]):
                nxt = idx[:i] + (k,) + idx[i + 1 :]
                if nxt not in seen:
                    seen.add(nxt)
                    heapq.heappush(heap, (cost + logp[i][idx[i]] - logp[i][k], nxt))
    return best[1] if best is not None else None


#: A line of more symbols than this is read as its first choices, never repaired: no sum a person writes on one
#: line is that long, and the search for a repair grows with the square of a line's length (a pencil photo on
#: squared paper whose grid stayed in the mask, seed 44's expr-00303, read as lines of 600 grid scraps and
#: took 84 s, 77 s of it in repairs).
REPAIR_MAX_SYMBOLS = 64


def assemble_candidates(candidates: Sequence[Candidates], *, max_tries: int = 400, latex: bool = True) -> Assembly:
    """Like :func:`assemble` on the first choices; where those do not parse or read oddly, on the best sequence
    of alternatives that parses (:func:`best_parse`; ``repaired=True`` when it differs). If none parses, the
    first choices with the parse error. A line longer than REPAIR_MAX_SYMBOLS is its first choices."""
    top = [c[0][0] if c else "?" for c in candidates]
    first = assemble(top, latex=latex)
    if len(candidates) > REPAIR_MAX_SYMBOLS:
        return first
    idx: tuple[int, ...] | None = tuple(0 for _ in candidates)
    chosen = first
    # A reading that parses but divides by zero is not repaired: only a reading whose written answer holds
    # replaces it (``43/0`` where the stroke may be a 1 and ``592-(-4310)=4902`` holds).
    divides_by_zero = first.error is not None and first.error.startswith(DIVISION_BY_ZERO)
    if not divides_by_zero and (first.error is not None or oddities(top)):
        idx = best_parse(candidates, max_tries=max_tries)
        if idx is None:
            return first
        if any(idx):
            chosen = assemble(_labels(candidates, idx), latex=latex)
    if "=" not in chosen.labels and chosen.error is None:
        eq = equals_reading(candidates, idx)
        if eq is not None:
            idx = eq
            chosen = assemble(_labels(candidates, idx), latex=latex)
    agreed = agreeing_reading(candidates, idx, chosen)
    if agreed is not None:
        idx = agreed
        chosen = first if not any(idx) else assemble(_labels(candidates, idx), latex=latex)
    return first if chosen is first else replace(chosen, repaired=True)


#: How much more likely a reading is when its written answer holds (log units; see :func:`agreeing_reading`).
AGREEMENT_BONUS = 4.0
#: The least probability an alternative needs to be tried for agreement, and how many places are tried.
AGREEMENT_MIN_P = 0.01
AGREEMENT_PLACES = 5
#: A digit read as another digit needs more: such a swap is the one that could turn a pupil's wrong answer
#: into a right one (see :func:`agreeing_reading`).
AGREEMENT_DIGIT_MIN_P = 0.03


def reading_score(candidates: Sequence[Candidates], a: Assembly) -> float:
    """How likely ``a`` (an assembly of ``candidates``) is against the first choices, in log units: the
    probability given up at each symbol not read as its first choice, ODDITY_PENALTY per oddity, and
    AGREEMENT_BONUS where its written answer holds — the terms :func:`best_parse` and :func:`agreeing_reading`
    weigh, so that readings of different segmentations of one line compare."""
    given_up = sum(math.log(max(dict(c).get(lab, 0.0), 1e-12) / c[0][1]) for c, lab in zip(candidates, a.labels))
    return given_up - ODDITY_PENALTY * oddities(a.labels) + (AGREEMENT_BONUS if a.correct is True else 0.0)


def _may_swap(label: str, other: str, p: float) -> bool:
    """Whether agreement may read ``other`` (probability ``p``) instead of ``label``: a structural swap — a
    digit for a non-digit (``1`` / ``/``, ``1`` / ``(``) or the other way, or an ``=`` where the line had none
    (a line that has one cannot take a second) — from AGREEMENT_MIN_P; a digit for another digit from
    AGREEMENT_DIGIT_MIN_P. Swaps among ``+ - × ÷`` are never made: a pupil's wrong operation stays wrong."""
    if label.isdigit() and other.isdigit():
        return p >= AGREEMENT_DIGIT_MIN_P
    return p >= AGREEMENT_MIN_P and (label.isdigit() != other.isdigit() or other == "=")


def agreeing_reading(candidates: Sequence[Candidates], idx: Sequence[int],
                     chosen: Assembly | None = None) -> tuple[int, ...] | None:
    """A reading whose written answer holds, where the chosen one (``idx``; ``chosen``: its assembly, if at
    hand) has no answer or a wrong one and the classifier's alternatives allow it; None where none is likely
    enough.

    People read an ambiguous stroke so that the line makes sense (``9/9=1``, not ``919=1``; ``47+2=49`` where
    the last digit could be a ``7``); most written answers are right, and a misread that happens to make a
    line's arithmetic come out right is rare. So a reading whose answer holds gets AGREEMENT_BONUS, and wins
    where that outweighs its lower probability. The swaps tried (:func:`_may_swap`, at the AGREEMENT_PLACES
    places where they are likeliest) leave a clearly written wrong answer wrong: a digit must itself be a
    plausible reading (AGREEMENT_DIGIT_MIN_P) of what the pupil wrote. Measured on the saved bench sets and 20
    worksheet pages (1208 lines), digit swaps fixed 19 misread lines and turned one wrong answer right (a ``9``
    in ``9÷9=3`` that the classifier gave a third to ``3``)."""
    labels = _labels(candidates, idx)
    odd = oddities(labels)
    places = []
    for i, c in enumerate(candidates):
        for k, (lab, p) in enumerate(c):
            if k != idx[i] and _may_swap(labels[i], lab, p):
                places.append((p / max(c[idx[i]][1], 1e-12), i, k))
    if not places:
        return None
    base = chosen if chosen is not None else assemble(labels, latex=False)
    if unparsed(base.error) or base.correct is True:
        return None  # (a division by zero is as good as a wrong answer: people seldom write one)
    places = sorted(places, reverse=True)[:AGREEMENT_PLACES]
    best: tuple[float, tuple[int, ...]] | None = None
    for mask in range(1, 1 << len(places)):
        chosen = [places[b] for b in range(len(places)) if mask >> b & 1]
        if len({i for _, i, _ in chosen}) < len(chosen):
            continue  # two alternatives for one place
        trial = list(idx)
        for _, i, k in chosen:
            trial[i] = k
        trial_labels = _labels(candidates, trial)
        if oddities(trial_labels) > odd:
            continue  # a swap may not make the line odder (``+-`` the pupil wrote stays allowed)
        a = assemble(trial_labels, latex=False)
        if a.correct is not True:
            continue
        gain = sum(math.log(ratio) for ratio, _, _ in chosen) + AGREEMENT_BONUS
        if gain > 0 and (best is None or gain > best[0]):
            best = (gain, tuple(trial))
    return best[1] if best is not None else None
