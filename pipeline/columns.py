"""Sums written in columns, as taught at school: numbers stacked with their last digits one above the other,
the operator before the last of them, a bar under it and the answer under the bar::

       738           344
      + 53          9242
      ----          +822
       791         -----
                   10408

The segmenter cuts such a sum into one line per row (the bar is erased as an answer blank or a rule), and each
row read alone says nothing (``+53`` does not even parse). :func:`join_columns` finds the rows that make one sum
and reads them as the line a person would write: ``738+53=791``. A row is part of a column sum only where the
layout says so: plain numbers stacked right above a row that starts with an operator (``+ - ×``), each within
COLUMN_GAP row heights of the next, their right ends within COLUMN_ALIGN row heights of one another; the answer,
a plain number under the operator's row, is optional (``a op b`` with nothing under it gives the answer). A
column multiplication by a number of several digits writes a partial product per digit before the answer; the
last of those rows is the answer.

Rows are found by where they lie, so that a worksheet's grid of sums side by side, whose rows the segmenter
takes into lines across the page, is read sum by sum (see :func:`join_columns`).

The operator written once serves every number above it (``344 / 9242 / +822`` is ``344+9242+822``): in the
joined line it appears once per number, the copies boxed at the rows they join. The bar reads as ``=``, boxed
where it lies between the operator's row and the answer.
"""

from __future__ import annotations

import re
from dataclasses import replace
from statistics import median
from typing import Sequence

from hdr_expr.pipeline.joined import Candidates, joined_line, symbol_candidates
from hdr_expr.pipeline.results import Box, LineResult, SymbolResult
from hdr_expr.pipeline.segment import union_box

#: A row belongs to the one above or below it if the blank between them is at most this many row heights.
COLUMN_GAP = 1.2
#: The rows' right ends (their last digits) lie within this many row heights of one another.
COLUMN_ALIGN = 0.9
#: The rows are of one hand and size: a row's digit height within this factor of the operator row's.
COLUMN_SIZE = 2.0
#: Sums written side by side: a line's symbols this many digit heights apart are in different sums' rows.
CELL_GAP = 1.6
#: Carried digits are written small: at most this share of the sum's digit height.
CARRY_SIZE = 0.72
#: A piece of the bar left in a row is at most this many digit heights high, and lies under the row's digits (or
#: over the answer's).
BAR_FLAT = 0.35
#: ... or at least BAR_LONG times as wide as it is high.
BAR_LONG = 4.0
#: In a column of numbers, a symbol read as no digit is read as its likeliest digit if that has this probability.
DIGIT_MIN_P = 0.1
#: ... and a single stroke read as ``/ ( )`` is a ``1`` wherever the classifier gives that any probability (no
#: fraction or bracket is written in a column of whole numbers).
STROKE_ONE_P = 0.0

#: The first symbol of an operator's row is its operator where the classifier's likeliest reading of it is one, or
#: where an operator is among its readings with at least OPERATOR_MIN_P and it is shorter than the row's digits
#: (OPERATOR_SHORT of their height) or as wide as it is high: read as the start of a line, a '+' that cannot start
#: a sum is read as a digit.
OPERATOR_MIN_P = 0.1
OPERATOR_SHORT = 0.8
#: Over a bar ruled under it, an operator's row starts with its operator unless the classifier reads that symbol as
#: a digit with at least this confidence (a sum with the operator left out: ``12 / 34 / ___``).
BARRED_SURE = 0.9

_NUMBER = re.compile(r"\d+(\.\d+)?")
_OPERATORS = ("+", "-", "×")


def _digit_height(line: LineResult) -> float:
    """The height of a row's digits (its operator is shorter; a bar left in it is flatter)."""
    digits = [s.box[3] for s in line.symbols if s.label.isdigit()]
    return float(median(digits)) if digits else float(line.box[3])


def _right(line: LineResult) -> int:
    return line.box[0] + line.box[2]


def _extent(line: LineResult) -> tuple[float, float]:
    """Top and bottom of a row's writing: of its full-height symbols (a bar or a descender run into it would
    stretch its box)."""
    height = _digit_height(line)
    tall = [s for s in line.symbols if s.box[3] >= 0.6 * height] or list(line.symbols)
    return float(median(s.box[1] for s in tall)), float(median(s.box[1] + s.box[3] for s in tall))


def _point(line: LineResult) -> float | None:
    """Where a row's decimal point is (its centre), or None for a whole number."""
    points = [s for s in line.symbols if symbol_candidates(s)[0][0] == "."]
    return points[-1].box[0] + points[-1].box[2] / 2.0 if len(points) == 1 else None


def _without_point(numbers: list[LineResult], row: LineResult, partials: list[LineResult],
                   answer: LineResult | None, pointed: LineResult):
    """The rows with ``pointed``'s point left out."""
    def drop(r: LineResult) -> LineResult:
        if r is not pointed:
            return r
        kept = tuple(s for s in r.symbols if symbol_candidates(s)[0][0] != ".")
        return replace(r, symbols=kept, text="".join(s.label for s in kept))
    return [drop(r) for r in numbers], drop(row), [drop(r) for r in partials], None if answer is None else drop(answer)


def _aligned(upper: LineResult, lower: LineResult, height: float) -> bool:
    """Do two rows line up as a column's numbers do: their last digits one over the other, or (decimals of
    different lengths, ``12.5`` over ``3.75``) their points; a whole number's point is just past its end."""
    if abs(_right(upper) - _right(lower)) <= COLUMN_ALIGN * height:
        return True
    a, b = _point(upper), _point(lower)
    if a is None and b is None:
        return False
    a = _right(upper) + 0.2 * height if a is None else a
    b = _right(lower) + 0.2 * height if b is None else b
    return abs(a - b) <= COLUMN_ALIGN * height


def _stacked(upper: LineResult, lower: LineResult, height: float, aligned: bool = True) -> bool:
    """Is ``lower`` the next row of a column under ``upper``: close below it, overlapping it across, of the
    same size and (with ``aligned``) lined up with it (see _aligned)?"""
    gap = _extent(lower)[0] - _extent(upper)[1]
    across = min(_right(upper), _right(lower)) - max(upper.box[0], lower.box[0])
    size = _digit_height(upper) / max(_digit_height(lower), 1.0)
    return (-0.25 * height <= gap <= COLUMN_GAP * height and across > 0
            and 1.0 / COLUMN_SIZE <= size <= COLUMN_SIZE
            and (not aligned or _aligned(upper, lower, height)))


def _keeping(line: LineResult, kept: tuple[SymbolResult, ...]) -> LineResult:
    """The row with only the symbols ``kept`` (its text and box theirs)."""
    return replace(line, symbols=kept, box=union_box([s.box for s in kept]), text="".join(s.label for s in kept))


def _pieces(line: LineResult, groups: Sequence[tuple[SymbolResult, ...]]) -> list[LineResult]:
    """A line cut into rows, one per group of its symbols (in order); an exercise number stays with the first."""
    return [LineResult(text="".join(s.label for s in g), box=union_box([s.box for s in g]), symbols=g,
                       confidence=line.confidence, label=line.label if n == 0 else None)
            for n, g in enumerate(groups)]


def _bar_row(line: LineResult, height: float) -> bool:
    """A row that is nothing but the bar (flat pieces), read as a line of its own."""
    return all(_flat(s, height) for s in line.symbols)


def _flat(s: SymbolResult, height: float) -> bool:
    """Flat as a piece of the bar is: BAR_FLAT of a digit's height, or BAR_LONG times as wide as high."""
    return s.box[3] <= BAR_FLAT * height or s.box[2] >= BAR_LONG * s.box[3]


def _as_number(symbols: Sequence[SymbolResult]) -> str | None:
    """The number the symbols make, each read as its likeliest digit (or point) where that reading has at least
    DIGIT_MIN_P, or None. In a column of numbers a stroke the line's layout read as ``/`` or ``)`` is a ``1``
    (``6/4`` is ``614``) where the classifier allows it."""
    text = ""
    for s in symbols:
        cands = symbol_candidates(s)
        top = cands[0][0]
        if not (top.isdigit() or top == "."):
            if top in "/()":
                digits = [lab for lab, p in cands if lab == "1" and p > STROKE_ONE_P]
            else:
                digits = [lab for lab, p in cands if lab.isdigit() and p >= DIGIT_MIN_P]
            if not digits:
                return None
            top = digits[0]
        text += top
    return text if _NUMBER.fullmatch(text) else None


def _plain_number(line: LineResult) -> bool:
    """A row that is a number: as read, or as its symbols' likeliest readings (a ``1`` that its line's
    layout made a ``/``, ``817`` read ``8/7``, is a ``1`` in a column of numbers)."""
    if line.label is not None:
        return False
    return _NUMBER.fullmatch(line.text) is not None or _as_number(line.symbols) is not None


def _without_bar(line: LineResult, anywhere: bool = False) -> tuple[LineResult, list[Box]]:
    """The row without what of the bar the segmenter left in it (flat pieces under its digits, or over them
    in the answer's row; ``anywhere`` in a row under the bar, where no '-' belongs), and those pieces' boxes."""
    height = _digit_height(line)
    tall = [s for s in line.symbols if s.box[3] >= 0.6 * height]
    if not tall:
        return line, []
    top = median(s.box[1] for s in tall)
    bottom = median(s.box[1] + s.box[3] for s in tall)
    low = (top + bottom) / 2.0 + 0.25 * height
    left = min(s.box[0] for s in tall)
    right = max(s.box[0] + s.box[2] for s in tall)

    def beside(s: SymbolResult) -> bool:
        """Low, and out past the row's last tall symbol, or before its first and an operator (a minus drawn
        low is the operator, where nothing stands between it and the number)."""
        if s.box[1] + s.box[3] / 2.0 < low:
            return False
        ahead = [o for o in line.symbols
                 if o is not s and not _flat(o, height) and s.box[0] + s.box[2] <= o.box[0] < left]
        return s.box[0] >= right or (s.box[0] + s.box[2] <= left and bool(ahead))

    def point(s: SymbolResult) -> bool:
        """A decimal point: read as one, no wider than high twice, on the digits' feet, between two of them."""
        centre = s.box[0] + s.box[2] / 2.0
        return (symbol_candidates(s)[0][0] == "." and s.box[2] <= 2 * s.box[3] + 2
                and abs(s.box[1] + s.box[3] - bottom) <= 0.3 * height
                and any(o.box[0] + o.box[2] <= centre for o in tall) and any(o.box[0] >= centre for o in tall))

    points = [s for s in line.symbols if point(s)]
    points = points if len(points) == 1 else []  # (a number has one: specks in a row are the bar's)
    bar = [s for s in line.symbols if _flat(s, height) and s not in points
           and (anywhere or s.box[1] >= bottom - 0.1 * height or s.box[1] + s.box[3] <= top + 0.1 * height
                or beside(s))]
    if not bar or len(bar) == len(line.symbols):
        return line, []
    kept = tuple(s for s in line.symbols if s not in bar)
    return _keeping(line, kept), [s.box for s in bar]


def _operator_row(line: LineResult, barred: bool = False) -> tuple[str, str, LineResult, bool] | None:
    """(operator, number, the row without pieces of its operator, whether the operator is a '-' joined to the
    bar) where ``line`` is an operator's row of a column sum (``+53``), else None. ``barred``: a bar is ruled
    under the row, so its first symbol is an operator if the classifier does not read it surely as a digit."""
    if len(line.symbols) < 2:
        return None
    symbols = list(line.symbols)
    height = _digit_height(replace(line, symbols=tuple(symbols[1:])))
    if (len(symbols) > 2 and symbols[0].box[3] <= BAR_FLAT * height
            and symbol_candidates(symbols[1])[0][0] in _OPERATORS + ("÷",)):
        symbols.pop(0)  # a piece of the operator before it (a '+' whose left arm came apart)
    while len(symbols) > 2 and symbol_candidates(symbols[-1])[0][0] in "-=." and (
            symbols[-1].box[1] + symbols[-1].box[3] / 2.0 > _extent(line)[0] + 0.5 * height):
        symbols.pop()  # low after the number: the end of the bar
    first, rest = symbols[0], symbols[1:]
    cands = symbol_candidates(first)
    while (len(rest) > 1 and _as_number(rest[:1]) is None and rest[0].box[3] <= 0.5 * height
           and rest[0].box[0] <= first.box[0] + first.box[2] + 0.25 * height):
        rest.pop(0)  # a piece of the operator (a '+' whose arm came apart), before the number
    if not rest:
        return None
    number = _as_number(rest)
    if number is None:
        return None
    under = max(s.box[1] + s.box[3] for s in rest)
    if first.box[0] + first.box[2] > min(s.box[0] + s.box[2] / 2 for s in rest):
        # Not before the number but under it too: a minus and the bar under the number, grouped as one '='.
        ends = first.box[0] + first.box[2] >= max(s.box[0] + s.box[2] / 2 for s in rest)
        if ends and first.box[1] + first.box[3] >= under - 0.1 * height and {"-", "="} & {c for c, _ in cands[:2]}:
            return "-", number, replace(line, symbols=(first, *rest)), True
        return None
    if cands[0][0] in _OPERATORS:
        op = cands[0][0]
    elif cands[0][0] == "=":
        op = "-"  # no sum's row starts with '=': a minus, grouped with a piece of the bar under it
    else:
        ops = [lab for lab, p in cands if lab in _OPERATORS and p >= OPERATOR_MIN_P]
        digit_like = first.box[3] > OPERATOR_SHORT * height and first.box[2] < first.box[3]
        if barred and cands[0][1] < BARRED_SURE:
            # Under it the bar: its first symbol, read unsurely, is the operator it reads likeliest as (else,
            # by its shape, a '-' if flat, a '+').
            ops = [lab for lab, _ in cands if lab in _OPERATORS]
            flat = first.box[3] <= BAR_FLAT * height and first.box[2] >= 2 * first.box[3]
            op = ops[0] if ops else "-" if flat else "+"
        elif not ops or digit_like:
            return None  # a digit as tall as the others, and not as wide as high as no '1' is
        else:
            op = ops[0]
    return op, number, replace(line, symbols=(first, *rest)), False


def _joined(numbers: Sequence[LineResult], op_row: LineResult, op: str, answer: LineResult | None,
            partials: Sequence[LineResult], bar: Sequence[Box], latex: bool) -> LineResult | None:
    """The rows read as one line, or None where that line does not parse."""
    written = op_row.symbols[0]
    p_op = dict(symbol_candidates(written)).get(op, 0.0)
    symbols: list[SymbolResult] = []
    cands: list[Candidates] = []

    def add(symbol: SymbolResult, forced: str | None = None, p: float = 1.0) -> None:
        symbols.append(symbol)
        cands.append([(forced, p)] if forced is not None else symbol_candidates(symbol))

    for k, row in enumerate(numbers):
        for s in row.symbols:
            add(s)
        if k + 1 < len(numbers):  # the written operator serves this row too, boxed between it and the next
            y = (row.box[1] + row.box[3] + numbers[k + 1].box[1]) // 2
            add(replace(written, box=(written.box[0], y - written.box[3] // 2, written.box[2], written.box[3])),
                op, p_op)
    add(written, op, p_op)
    for s in op_row.symbols[1:]:
        add(s)
    # The bar: the sum's '=' (asking for the answer where none is written yet).
    last = partials[-1] if partials else op_row
    if not bar:  # erased as an answer blank or a rule: boxed where it was
        top = last.box[1] + last.box[3]
        left = min(last.box[0], answer.box[0]) if answer is not None else last.box[0]
        right = max(_right(last), _right(answer)) if answer is not None else _right(last)
        bottom = answer.box[1] if answer is not None else top + max(last.box[3] // 4, 1)
        bar = [(left, top, right - left, max(bottom - top, 1))]
    rows = [*numbers, op_row, *partials, *([answer] if answer is not None else [])]
    bx, by, bw, bh = union_box(bar)
    x0 = max(bx, min(r.box[0] for r in rows))  # a rule erased across the page: where the sum is
    x1 = min(bx + bw, max(_right(r) for r in rows))
    add(SymbolResult("=", 1.0, (x0, by, max(x1 - x0, 1), bh)), "=")
    for s in answer.symbols if answer is not None else ():
        add(s)
    line = joined_line(symbols, cands, union_box([r.box for r in rows]), latex=latex, label=numbers[0].label)
    return line if line is not None and line.error is None else None


def _bars_under(line: LineResult, bars: Sequence[Box], height: float) -> list[Box]:
    """The bars (ruled lines erased from the page as answer blanks) lying just under a row, across it."""
    bottom = _extent(line)[1]
    x0, x1 = line.box[0], _right(line)
    return [b for b in bars if bottom - 0.3 * height <= b[1] <= bottom + COLUMN_GAP * height
            and min(x1, b[0] + b[2]) - max(x0, b[0]) >= 0.5 * (x1 - x0)]


def _without_carries(line: LineResult, height: float) -> LineResult:
    """A number's row without the carried digits written small over it that the segmenter took into it (at
    most CARRY_SIZE of the sum's digit height, their feet above the middle of the row's tall digits)."""
    tall = [s for s in line.symbols if s.box[3] > CARRY_SIZE * height]
    if not tall or len(tall) == len(line.symbols):
        return line
    middle = median(s.box[1] + s.box[3] / 2.0 for s in tall)
    kept = tuple(s for s in line.symbols if s.box[3] > CARRY_SIZE * height or s.box[1] + s.box[3] > middle)
    if len(kept) == len(line.symbols):
        return line
    return _keeping(line, kept)


def _carry_row(line: LineResult, first: LineResult, height: float) -> bool:
    """Is ``line`` a row of carried digits over the first number: small digits just above it, within its
    width?"""
    small = all(s.box[3] <= CARRY_SIZE * height for s in line.symbols)
    gap = _extent(first)[0] - (line.box[1] + line.box[3])
    return (small and _as_number(line.symbols) is not None and -0.25 * height <= gap <= 0.8 * height
            and line.box[0] >= first.box[0] - 0.5 * height and _right(line) <= _right(first) + 0.5 * height)


def _split_rows(line: LineResult) -> list[LineResult]:
    """A line that holds rows of a column sum one over another (the segmenter took a short operator's row into
    the number above it, ``905`` over ``×2`` read as ``905×2``, or the answer under it, the bar between erased),
    cut where no symbol of one row reaches the next: where that gives an operator's row and numbers, else the
    line alone."""
    if len(line.symbols) < 3:
        return [line]
    height = _digit_height(line)
    order = sorted(line.symbols, key=lambda s: s.box[1] + s.box[3] / 2.0)
    bands: list[list[SymbolResult]] = [[order[0]]]
    for s in order[1:]:
        if max(o.box[1] + o.box[3] for o in bands[-1]) <= s.box[1] + 0.1 * height:
            bands.append([s])
        else:
            bands[-1].append(s)
    if len(bands) == 1:
        return [line]
    rows = [tuple(sorted(band, key=lambda s: s.box[0])) for band in bands]
    cut = _pieces(line, rows)
    operators = [k for k, r in enumerate(cut) if _as_number(r.symbols) is None and _operator_row(r) is not None]
    numbers = [k for k, r in enumerate(cut) if _as_number(r.symbols) is not None]
    return cut if len(operators) == 1 and len(numbers) == len(cut) - 1 else [line]


def _cells(line: LineResult) -> list[LineResult]:
    """A line cut where its symbols stand more than CELL_GAP digit heights apart: rows of column sums written
    side by side (a worksheet's grid of them) that the segmenter took into one line. An operator alone before a
    gap stays with the number after it (``+`` written far out to the left)."""
    if len(line.symbols) < 2:
        return [line]
    height = _digit_height(line)
    order = sorted(line.symbols, key=lambda s: s.box[0])
    groups: list[list[SymbolResult]] = [[order[0]]]
    for s in order[1:]:
        prev = max(o.box[0] + o.box[2] for o in groups[-1])
        lone_operator = len(groups[-1]) == 1 and symbol_candidates(groups[-1][0])[0][0] in _OPERATORS
        if s.box[0] - prev > CELL_GAP * height and not lone_operator:
            groups.append([s])
        else:
            groups[-1].append(s)
    if len(groups) == 1:
        return [line]
    return _pieces(line, [tuple(g) for g in groups])


def _neighbour(rows: Sequence[LineResult], k: int, free: set[int], height: float, up: bool) -> int | None:
    """The free row nearest above (``up``) or below row ``k`` that overlaps it across, or None."""
    best = None
    top, bottom = _extent(rows[k])
    for j in free:
        if j == k:
            continue
        r = rows[j]
        across = min(_right(r), _right(rows[k])) - max(r.box[0], rows[k].box[0])
        if across <= 0:
            continue
        t, b = _extent(r)
        gap = top - b if up else t - bottom
        if gap < -0.25 * height or gap > 2.0 * COLUMN_GAP * height:
            continue
        if best is None or gap < best[0]:
            best = (gap, j)
    return None if best is None else best[1]


def join_columns(lines: Sequence[LineResult], *, bars: Sequence[Box] = (), latex: bool = True) -> list[LineResult]:
    """The page's lines (in reading order) with each column sum's rows read as one line; other lines as they
    were. See the module's docstring for what makes rows a column sum. ``bars``: the boxes of straight bars
    erased from the page before it was read (answer blanks: a column sum's bar is one).

    Rows are found by where they lie, not by the order of the lines: a line is first cut into cells where its
    symbols stand far apart (sums written side by side) and into rows where it holds two (see _split_rows); a
    line none of whose pieces joins a sum is left whole."""
    parts = {id(line): [row for cell in _cells(line) for row in _split_rows(cell)] for line in lines}
    rows = [row for line in lines for row in parts[id(line)]]
    free = set(range(len(rows)))
    joined_at: dict[int, LineResult] = {}  # the first row's index (in reading order) → the sum it starts
    for i in range(len(rows)):
        if i not in free:
            continue
        # An exercise number read before an operator's row is a piece of the bar (it reaches further left).
        row, bar = _without_bar(replace(rows[i], label=None))
        up = _neighbour(rows, i, free, _digit_height(row), up=True)
        ruled = _bars_under(row, bars, _digit_height(row)) if up is not None and _plain_number(rows[up]) else []
        found = _operator_row(row, barred=bool(ruled))
        if found is None:
            continue
        bar = bar + ruled
        op, multiplier, row, fused = found
        if fused:  # the minus is boxed with the bar it was grouped with; the bar is the '=' too
            bar = bar + [row.symbols[0].box]
        height = _digit_height(replace(row, symbols=row.symbols[1:]))
        taken = [i]
        numbers: list[LineResult] = []
        k = i
        while True:
            j = _neighbour(rows, k, free - set(taken), height, up=True)
            if j is None or (numbers and _carry_row(rows[j], numbers[0], height)):
                break
            above = _without_bar(_without_carries(rows[j], height))[0]
            if not (_plain_number(replace(above, label=None)) and _stacked(above, numbers[0] if numbers else row,
                                                                            height)):
                break
            numbers.insert(0, above)
            taken.append(j)
            k = j
            if above.label is not None:
                break  # the exercise's number, written before its first row
        if not numbers:
            continue
        # Carried digits written small over the first row: part of the working, not of the sum.
        j = _neighbour(rows, k, free - set(taken), height, up=True)
        carries = [j] if j is not None and _carry_row(rows[j], numbers[0], height) else []
        below: list[LineResult] = []
        under: list[list[int]] = []  # the rows each one under the operator's row took (a bar's row before it)
        skipped: list[int] = []
        k = i
        while True:
            j = _neighbour(rows, k, free - set(taken) - set(skipped) - {x for u in under for x in u}, height,
                           up=False)
            if j is None:
                break
            if _bar_row(rows[j], height):
                bar = bar + [s.box for s in rows[j].symbols] if not below else bar
                skipped.append(j)
                k = j
                continue
            # Under the bar no '-' and no exercise number belongs: what reads so is the bar's remains.
            nxt, over = _without_bar(replace(rows[j], label=None), anywhere=True)
            if not (_plain_number(nxt) and _stacked(below[-1] if below else row, nxt, height,
                                                     aligned=op != "×" or not below)):
                break
            below.append(nxt)
            under.append(skipped + [j])
            skipped = []
            bar = bar + over if len(below) == 1 else bar
            k = j
        # A multiplication by a number of several digits: a partial product per digit, then the answer.
        keep = min(len(below), len(multiplier) + 1 if op == "×" and len(multiplier) >= 2 and len(below) >= 2 else 1)
        partials, answer = below[: keep - 1], (below[keep - 1] if keep else None)
        if answer is not None and not _aligned(row, answer, height):
            partials, answer, keep = [], None, 0
        pointed = [r for r in [*numbers, row, *partials, *([answer] if answer is not None else [])]
                   if _point(r) is not None]
        if len(pointed) == 1:  # one row alone with a point: a speck (decimals have it in two rows at least)
            numbers, row, partials, answer = _without_point(numbers, row, partials, answer, pointed[0])
        joined = _joined(numbers, row, op, answer, partials, bar, latex)
        if joined is None:
            continue
        used = taken + carries + [x for u in under[:keep] for x in u]
        free -= set(used)
        joined_at[min(taken)] = joined  # (carries over it may come first in reading order)
    # In reading order: each sum where its first row was; a line none of whose pieces joined one, whole.
    out: list[LineResult] = []
    n = 0
    for line in lines:
        pieces = range(n, n + len(parts[id(line)]))
        n += len(pieces)
        if all(k in free for k in pieces):
            out.append(line)
            continue
        for k in pieces:  # (a line of carries only, taken by a sum below it, gives nothing)
            if k in joined_at:
                out.append(joined_at[k])
            elif k in free:
                out.append(rows[k])
    return out
