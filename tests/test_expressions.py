"""The benchmark generator: valid truths, determinism, held-out material, natural layout, image properties,
worksheet pages and the scoring helpers."""

from __future__ import annotations

import hashlib
import re
from fractions import Fraction

import cv2
import numpy as np
import pytest

from hdr_expr.datasets.expressions import (
    PAGE_SIZE,
    Material,
    Truth,
    compose_line,
    edit_distance,
    load_material,
    make_expression,
    make_worksheet,
    match_worksheet_lines,
    random_labels,
    score_line,
    truth_of,
)
from hdr_expr.errors import DataError
from hdr_expr.pipeline.assemble import assemble
from hdr_expr.symbols import TEXT_ALPHABET

SYNTH = Material(notes=["synthesizer only (tests)"])


@pytest.fixture(scope="module")
def shared_material(symbols_dir, mnist_dir):
    return load_material(symbols_dir.parents[1])


# ------------------------------------------------------------------------------------------------- truths
def test_truths_parse_and_match_the_project_parser():
    kinds = {"answer": 0, "equals": 0, "plain": 0, "right": 0, "wrong": 0, "paren": 0, "decimal": 0,
             "implicit": 0, "unary": 0, "slash": 0, "div": 0, "times": 0}
    n = 400
    for i in range(n):
        labels = random_labels(np.random.default_rng(i))
        text = "".join(labels)
        assert set(text) <= TEXT_ALPHABET
        t = truth_of(labels)
        a = assemble(labels)
        assert a.error is None and t.text == text and t.value == a.value and t.correct == a.correct
        Fraction(t.value)  # the value is an exact number as the pipeline prints it
        if t.answer is not None:
            kinds["answer"] += 1
            kinds["right" if t.correct else "wrong"] += 1
        elif text.endswith("="):
            kinds["equals"] += 1
        else:
            kinds["plain"] += 1
        kinds["paren"] += "(" in text
        kinds["decimal"] += "." in text
        kinds["slash"] += "/" in text
        kinds["div"] += "÷" in text
        kinds["times"] += "×" in text
        kinds["implicit"] += any(text[j] == "(" and (text[j - 1].isdigit() or text[j - 1] == ")")
                                 for j in range(1, len(text)))
        kinds["unary"] += text.startswith("-") or any(text[j] == "-" and text[j - 1] in "(×÷/="
                                                      for j in range(1, len(text)))
    assert 0.4 * n < kinds["answer"] < 0.7 * n
    assert kinds["equals"] > 0.1 * n and kinds["plain"] > 0.1 * n
    assert 0.6 < kinds["right"] / kinds["answer"] < 0.8
    for k in ("paren", "decimal", "implicit", "unary", "slash", "div", "times"):
        assert kinds[k] >= 5, (k, kinds)


def test_random_labels_are_seeded():
    a = [random_labels(np.random.default_rng(7)) for _ in range(2)]
    assert a[0] == a[1]
    assert random_labels(np.random.default_rng(8)) != a[0]


def test_short_lines_have_one_operator():
    for i in range(30):
        text = "".join(random_labels(np.random.default_rng(i), short=True)).split("=")[0]
        assert sum(text.count(op) for op in "+×÷/") + text[1:].replace("(-", "(").count("-") <= 2


def test_truth_of_refuses_what_does_not_parse():
    with pytest.raises(DataError):
        truth_of(list("3+×4"))
    with pytest.raises(DataError):
        truth_of(list("5÷0"))


# ----------------------------------------------------------------------------------------------- material
def test_material_is_held_out_and_test_only(shared_material):
    from hdr_expr.datasets.importers import is_held_out

    m = shared_material
    assert m.mnist_x is not None and len(m.mnist_x) == 10_000  # the test split
    sets = {f.set_name for files in m.real.values() for f in files}
    assert {"crohme-kaggle", "sagyamthapa-kaggle"} <= sets
    for sym in "+-×÷=()./0":
        assert m.real.get(sym), f"no held-out real {sym!r}"
    rng = np.random.default_rng(0)
    every = [f for files in m.real.values() for f in files]
    for k in rng.choice(len(every), 25, replace=False):
        assert is_held_out(hashlib.sha256(every[k].path.read_bytes()).hexdigest())
    assert 0.05 < len(every) / 33_617 < 0.15  # about the 10% held out, nothing more


def test_expressions_mix_sources(shared_material):
    seen = set()
    for i in range(12):
        seen |= set(make_expression(shared_material, 3, i).condition.sources)
    assert "mnist" in seen and any(s.startswith("real:") for s in seen) and any(s.startswith("synth") for s in seen)


# ------------------------------------------------------------------------------------------------- layout
def _ink_box(ink, box):
    x, y, w, h = box
    return ink[y : y + h, x : x + w]


def test_natural_sizes_and_places():
    d = 50.0
    ratios = []
    for seed in range(8):
        c = compose_line(list("12.5-(3)="), SYNTH, np.random.default_rng(seed), digit_px=d, pen=4.0)
        boxes = dict(zip(range(9), c.boxes))
        digit_h = np.median([boxes[i][3] for i in (0, 1, 3, 7)])
        dot, minus, lpar, eq = boxes[2], boxes[4], boxes[5], boxes[8]
        assert dot[3] < 0.35 * digit_h and dot[2] < 0.35 * digit_h
        assert dot[1] + dot[3] > c.baseline - 0.2 * d  # on the baseline
        assert minus[3] < 0.3 * digit_h and minus[2] > 2 * minus[3]
        mid = c.baseline - 0.5 * d
        assert abs(minus[1] + minus[3] / 2 - mid) < 0.25 * d  # at mid-height
        ratios.append(lpar[3] / digit_h)
        parts = cv2.connectedComponents((_ink_box(c.ink, eq) > 0.5).astype(np.uint8))[0] - 1
        assert parts >= 2  # two bars
        assert c.touching == 0
        xs = [b[0] for b in c.boxes]
        assert xs == sorted(xs)
        for a, b in zip(c.boxes, c.boxes[1:]):
            assert a[0] + a[2] <= b[0]  # apart
    assert np.mean(ratios) > 1.0  # brackets are taller than digits (on average: hands vary)


def test_touching_neighbours():
    hits = 0
    for seed in range(10):
        c = compose_line(list("384+26"), SYNTH, np.random.default_rng(seed), digit_px=40, pen=3.5, touching=True)
        hits += c.touching > 0
        if c.touching:
            n = cv2.connectedComponents((c.ink > 0.5).astype(np.uint8))[0] - 1
            assert n < 7  # fewer blobs than the symbols' strokes apart (+ has one, the digits one each)
    assert hits >= 8


# ------------------------------------------------------------------------------------------------- images
def test_expression_images_are_seeded_and_varied():
    a = make_expression(SYNTH, 11, 0)
    b = make_expression(SYNTH, 11, 0)
    assert a.data == b.data and a.truth == b.truth
    c = make_expression(SYNTH, 11, 2)
    assert c.data != a.data
    assert make_expression(SYNTH, 12, 0).data != a.data


def test_half_photo_like_and_formats():
    samples = [make_expression(SYNTH, 5, i) for i in range(8)]
    for s in samples:
        assert s.condition.photo == bool(s.index % 2)
        assert s.format == ("jpeg" if s.condition.photo else "png")
        decoded = cv2.imdecode(np.frombuffer(s.data, np.uint8), cv2.IMREAD_COLOR)
        assert decoded.shape == s.image.shape and s.image.dtype == np.uint8 and s.image.shape[2] == 3


@pytest.mark.parametrize("style", ["scan", "canvas", "canvas-dark", "photo", "blackboard"])
def test_styles_have_ink_of_the_right_polarity(style):
    s = make_expression(SYNTH, 1, 4, style=style, labels=list("47+8=54"))
    grey = cv2.cvtColor(s.image, cv2.COLOR_RGB2GRAY).astype(float)
    ground = np.median(grey)
    if style in ("canvas-dark", "blackboard"):
        assert ground < 100 and np.percentile(grey, 99.98) > ground + 40
    else:
        assert ground > 100 and np.percentile(grey, 0.02) < ground - 40  # writing may be small in the frame
    assert s.truth == truth_of(list("47+8=54")) and s.truth.correct is False
    assert s.condition.style == style


def test_photo_like_images_are_degraded_and_larger():
    s = make_expression(SYNTH, 2, 1, style="photo", labels=list("12×3"))
    clean = make_expression(SYNTH, 2, 0, style="canvas", labels=list("12×3"))
    assert s.format == "jpeg" and clean.format == "png"
    assert s.image.shape[0] * s.image.shape[1] > clean.image.shape[0] * clean.image.shape[1]
    assert len(np.unique(s.image.reshape(-1, 3), axis=0)) > 500  # noise, light, JPEG
    assert s.condition.tags.get("jpeg") and "skew" in s.condition.tags


def test_unknown_style_is_refused():
    with pytest.raises(DataError):
        make_expression(SYNTH, 0, 0, style="watercolour")


# --------------------------------------------------------------------------------------------- worksheets
@pytest.mark.parametrize("photo", [False, True])
def test_worksheet_pages(photo):
    w = make_worksheet(SYNTH, 3, 0, photo=photo)
    assert w.image.shape[:2] == (PAGE_SIZE[1], PAGE_SIZE[0])
    assert w.format == ("jpeg" if photo else "png")
    assert 7 <= len(w.lines) <= 14
    ys = [ln.centre_y for ln in w.lines]
    assert ys == sorted(ys) and min(np.diff(ys)) > 60
    lefts = [ln.box[0] for ln in w.lines]
    assert max(lefts) - min(lefts) > 20  # some indented
    for ln in w.lines:
        x, y, bw, bh = ln.box
        assert 0 <= x and x + bw <= PAGE_SIZE[0] + 20 and 0 <= y and y + bh <= PAGE_SIZE[1] + 20
        assert assemble(list(ln.truth.text)).value == ln.truth.value
    assert make_worksheet(SYNTH, 3, 0, photo=photo).data == w.data


# ------------------------------------------------------------------------------------------------ scoring
def test_edit_distance():
    assert edit_distance("12+3", "12+3") == 0
    assert edit_distance("12+3", "12-3") == 1
    assert edit_distance("12+3", "1+3") == 1
    assert edit_distance("", "abc") == 3


def test_score_line_categories():
    t = Truth("12+7=19", "19", "19", True)
    ok = score_line(t, [{"text": "12+7=19", "value": "19", "correct": True}])
    assert ok.exact and ok.value_ok and ok.verdict_ok and ok.category() == "ok"
    sub = score_line(t, [{"text": "12+1=19", "value": "13", "correct": False}])
    assert not sub.exact and not sub.value_ok and sub.verdict_ok is False and sub.category() == "symbol"
    short = score_line(t, [{"text": "12+7=9", "value": "19", "correct": False}])
    assert short.value_ok and short.category() == "count" and short.edits == 1
    split = score_line(t, [{"text": "12+"}, {"text": "7=19"}])
    assert split.category() == "lines" and split.read == "12+7=19" and not split.exact and split.best_edits == 3
    speck = score_line(t, [{"text": "12+7=19"}, {"text": "1"}])
    assert speck.category() == "lines" and speck.edits == 1 and speck.best_edits == 0
    none = score_line(Truth("3×4", "12"), [])
    assert none.category() == "lines" and none.verdict_ok is None and none.edits == 3 and none.best_edits == 3
    assert score_line(Truth("1/2", "1/2"), [{"text": "1÷2", "value": "0.5"}]).value_ok


def test_match_worksheet_lines():
    w = make_worksheet(SYNTH, 4, 0, photo=False)
    lines = [{"text": ln.truth.text, "value": ln.truth.value, "correct": ln.truth.correct, "box": list(ln.box)}
             for ln in w.lines]
    scores = match_worksheet_lines(w, {"lines": list(reversed(lines))})
    assert all(s.exact for s in scores) and len(scores) == len(w.lines)
    x, y, bw, bh = w.lines[0].box
    speck = {"text": "1", "value": "1", "box": [x, y + 2, 5, 5]}
    scores = match_worksheet_lines(w, {"lines": lines[1:] + [speck]})
    assert not scores[0].exact and scores[0].read == "1" and all(s.exact for s in scores[1:])


def test_column_sums_stack_their_numbers_and_are_scored_as_one_line():
    from hdr_expr.datasets.expressions import column_set, make_column_sum

    samples = list(column_set(SYNTH, 12, 4))
    assert make_column_sum(SYNTH, 4, 3).data == samples[3].data  # seeded
    ops = set()
    for s in samples:
        text = s.truth.text
        lhs, _, answer = text.partition("=")
        assert "=" in text and s.condition.tags["layout"] == "column" and not s.condition.touching
        assert s.condition.photo == bool(s.index % 2) and s.format == ("jpeg" if s.index % 2 else "png")
        op = next(c for c in lhs if not c.isdigit())
        ops.add(op)
        number = re.compile(r"\d+(\.\d+)?")  # (a sum in decimals on some)
        assert all(number.fullmatch(part) for part in lhs.split(op)) and (answer == "" or number.fullmatch(answer))
        # The rows stand one under another: the ink spans several digit heights, not one line's.
        grey = cv2.cvtColor(s.image, cv2.COLOR_RGB2GRAY).astype(float)
        ground = np.median(grey)
        ink = np.abs(grey - ground) > 60
        rows = np.flatnonzero(ink.mean(axis=1) > 0.002)
        assert rows[-1] - rows[0] > 2.5 * s.condition.digit_px
    assert len(ops) >= 2
