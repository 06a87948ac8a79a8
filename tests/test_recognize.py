"""The predictor: layout rules, the Python API, and whole images drawn from MNIST test digits and strokes."""

from __future__ import annotations

import dataclasses
import os
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from hdr_expr.errors import InputError
from hdr_expr.models.card import default_model_path
from hdr_expr.pipeline.recognize import Shape, _stroke_geometry, apply_layout_rules, label_length, symbol_shape
from hdr_expr.symbols import SYMBOL_CLASSES

SHARED = Path(os.environ.get("HDR_EXPR_SHARED", Path(__file__).resolve().parents[1].parent / "shared"))
MNIST_DIR = SHARED / "datasets" / "mnist"
CLASSES = list(SYMBOL_CLASSES)


# ------------------------------------------------------------------------------------ drawing test images
def _mnist():
    if not MNIST_DIR.is_dir():
        pytest.skip(f"MNIST not found in {MNIST_DIR} (set HDR_EXPR_SHARED)")
    from hdr_expr.datasets.mnist import load_mnist

    return load_mnist("test", MNIST_DIR)


def operator_tile(ch: str, size: int = 28, t: int = 3) -> np.ndarray:
    """An operator drawn with strokes as thick as MNIST's, in a 28×28 tile placed as it sits in a line."""
    m = np.zeros((size, size), np.uint8)
    c = size // 2
    if ch == "+":
        cv2.line(m, (6, c), (size - 7, c), 1, t)
        cv2.line(m, (c, 6), (c, size - 7), 1, t)
    elif ch == "-":
        cv2.line(m, (6, c), (size - 7, c), 1, t)
    elif ch == "×":
        cv2.line(m, (8, 8), (size - 9, size - 9), 1, t)
        cv2.line(m, (8, size - 9), (size - 9, 8), 1, t)
    elif ch == "=":
        cv2.line(m, (6, c - 4), (size - 7, c - 4), 1, t)
        cv2.line(m, (6, c + 4), (size - 7, c + 4), 1, t)
    elif ch == "÷":
        cv2.line(m, (6, c), (size - 7, c), 1, t)
        cv2.circle(m, (c, c - 7), 2, 1, -1)
        cv2.circle(m, (c, c + 7), 2, 1, -1)
    elif ch == ".":
        cv2.circle(m, (c, size - 5), 2, 1, -1)
    elif ch == "(":
        cv2.ellipse(m, (c + 7, c), (8, 12), 0, 110, 250, 1, t)
    elif ch == ")":
        cv2.ellipse(m, (c - 7, c), (8, 12), 0, -70, 70, 1, t)
    elif ch == "/":
        cv2.line(m, (9, size - 3), (size - 9, 2), 1, t)
    else:
        raise ValueError(ch)
    return m > 0


def expression_image(text: str, *, seed: int = 0, scale: int = 2, gap: int = 8) -> np.ndarray:
    """White RGB image of ``text`` written with MNIST *test* digits and drawn operators, dark ink (a space
    leaves a tile's width empty)."""
    images, labels = _mnist()
    rng = np.random.default_rng(seed)
    tiles = []
    for ch in text:
        if ch == " ":
            tiles.append(np.zeros((28, 28), bool))
        elif ch.isdigit():
            pool = np.nonzero(labels == int(ch))[0]
            tiles.append(images[rng.choice(pool[:200])] > 100)
        else:
            tiles.append(operator_tile(ch))
    side = 28 * scale
    canvas = np.zeros((side + 60, len(tiles) * (side + gap) + 60), bool)
    x = 30
    for tile in tiles:
        big = cv2.resize(tile.astype(np.uint8), (side, side), interpolation=cv2.INTER_NEAREST) > 0
        canvas[30 : 30 + side, x : x + side] |= big
        x += side + gap
    return np.where(canvas[..., None], 30, 255).astype(np.uint8).repeat(3, axis=2)


def stack_lines(*images: np.ndarray) -> np.ndarray:
    width = max(im.shape[1] for im in images)
    rows = [np.pad(im, ((0, 0), (0, width - im.shape[1]), (0, 0)), constant_values=255) for im in images]
    return np.concatenate(rows, axis=0)


# ------------------------------------------------------------------------------------------- layout rules
def _probs(**kw: float) -> np.ndarray:
    p = np.full(len(CLASSES), 0.001, np.float32)
    for k, v in kw.items():
        p[CLASSES.index({"dot": ".", "minus": "-", "times": "×", "eq": "=", "slash": "/", "lpar": "(",
                         "rpar": ")", "div": "÷"}.get(k, k.lstrip("d")))] = v
    return p / p.sum()


def _top(p: np.ndarray) -> str:
    return CLASSES[int(np.argmax(p))]


def test_small_low_mark_is_a_decimal_point():
    # A 28×28 crop of a dot is a blob that the classifier may take for a 0.
    p = apply_layout_rules(_probs(d0=0.7, dot=0.2, times=0.1), Shape(0.15, 0.15, 0.4, 1, 0, 0), CLASSES)
    assert _top(p) == "."
    assert abs(p.sum() - 1) < 1e-5


def test_a_squat_one_part_mark_the_classifier_also_sees_as_an_equals_is_one(monkeypatch):
    # Two bars run together by blur (or one wavy '=') make a mark half a digit wide and a quarter high that the
    # classifier calls 'x' with '=' close behind (`9+4+4-3=20` read `9+4+4-3x20`). A 'x' is seldom that flat.
    # It is taken for a bar, '=' well above 'x'; the darkness map then tells a '=' whose bars ran together
    # from a '-' (recognize's _restore_from_darkness).
    hesitant = _probs(times=0.42, eq=0.36, minus=0.11, d7=0.03)
    p = apply_layout_rules(hesitant, Shape(0.45, 0.27, 0.0, 1), CLASSES)
    assert _top(p) == "-" and p[CLASSES.index("=")] > p[CLASSES.index("×")]
    assert _top(apply_layout_rules(hesitant, Shape(0.45, 0.42, 0.0, 1), CLASSES)) == "×"  # taller: a small x
    assert _top(apply_layout_rules(hesitant, Shape(0.35, 0.27, 0.0, 1), CLASSES)) == "×"  # not wide enough
    # Where the classifier sees no '=' in it, a flat 'x' stays one.
    assert _top(apply_layout_rules(_probs(times=0.55, eq=0.06, minus=0.08), Shape(0.45, 0.27, 0.0, 1), CLASSES)) == "×"
    monkeypatch.setattr(sys.modules["hdr_expr.pipeline.recognize"], "FLAT_TIMES", 1.0)  # the rule off: as before
    assert _top(apply_layout_rules(hesitant, Shape(0.45, 0.27, 0.0, 1), CLASSES)) == "×"


def test_small_mid_height_mark_is_a_multiplication_dot():
    p = apply_layout_rules(_probs(d0=0.7, dot=0.25, times=0.05), Shape(0.15, 0.15, 0.0, 1, 0, 0), CLASSES)
    assert _top(p) == "×"


def test_flat_marks_are_dashes_and_equals():
    assert _top(apply_layout_rules(_probs(d1=0.8, minus=0.2), Shape(0.8, 0.1, 0.0, 1, 0, 0), CLASSES)) == "-"
    # Two stacked bars grouped into one symbol: '='; their single halves would look like '-'.
    assert _top(apply_layout_rules(_probs(minus=0.7, eq=0.3), Shape(0.8, 0.25, 0.0, 2, 0, 0), CLASSES)) == "="


def test_tall_marks_are_not_dots_or_dashes():
    p = apply_layout_rules(_probs(dot=0.6, d1=0.4), Shape(0.3, 1.0, 0.0, 1, 0, 0), CLASSES)
    assert _top(p) == "1"
    p = apply_layout_rules(_probs(minus=0.6, d1=0.4), Shape(0.2, 1.0, 0.0, 1, 0, 0), CLASSES)
    assert _top(p) == "1"


def test_a_bar_at_mid_height_before_an_upright_stroke_is_no_part_of_a_one():
    # A '-' written close before a '1' ('=-13432') is merged with it into one two-part crop, which the classifier
    # reads as a sure '1' (a 1 drawn with a gap in it). A 1's flag is high and its foot low: a bar at mid-height,
    # apart and before the stem, is no part of one. The crop then reads as something less likely than the '-'
    # and '1' apart.
    mask = np.zeros((36, 29), bool)
    mask[:, 16:21] = True  # the stem
    mask[14:20, 0:12] = True  # the bar, at mid-height
    shape = Shape(29 / 36, 1.0, 0.0, 2, mask=mask)
    assert _top(apply_layout_rules(_probs(d1=0.9, d7=0.05), shape, CLASSES)) == "7"
    flagged = np.zeros((36, 29), bool)
    flagged[:, 16:21] = True
    flagged[2:6, 4:12] = True  # a flag at the top: a '1' drawn in two strokes
    shape = Shape(29 / 36, 1.0, 0.0, 2, mask=flagged)
    assert _top(apply_layout_rules(_probs(d1=0.9, d7=0.05), shape, CLASSES)) == "1"


def test_rules_weigh_rather_than_override():
    # A digit-sized mark the classifier is sure is a '7' stays a '7', whatever the rules prefer.
    p = apply_layout_rules(_probs(d7=0.999), Shape(0.7, 1.0, 0.0, 1, 0, 0), CLASSES)
    assert _top(p) == "7"
    # A small mark the classifier is overwhelmingly sure is a '+' (a small plus) stays '+'.
    p = apply_layout_rules(_probs(**{"+": 0.9999}), Shape(0.25, 0.25, 0.0, 1, 0, 0), CLASSES)
    assert _top(p) == "+"


def test_slash_one_and_brackets_by_slant_and_curvature():
    def mask_of(tile: np.ndarray) -> np.ndarray:
        ys, xs = np.nonzero(tile)
        return tile[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]

    slash = mask_of(operator_tile("/"))
    one = np.zeros((24, 5), bool)
    one[:, 1:4] = True
    lpar, rpar = mask_of(operator_tile("(")), mask_of(operator_tile(")"))
    s_slash, b_slash = _stroke_geometry(slash)
    s_one, b_one = _stroke_geometry(one)
    assert s_slash > 15 and abs(b_slash) < 0.06
    assert abs(s_one) < 5 and abs(b_one) < 0.03
    assert _stroke_geometry(lpar)[1] < -0.06 < 0.06 < _stroke_geometry(rpar)[1]

    hesitant = _probs(d1=0.5, slash=0.45)
    for mask, want in ((slash, "/"), (one, "1")):
        h, w = mask.shape
        shape = symbol_shape((0, 0, w, h), mask, 1, h / 2, h)
        assert _top(apply_layout_rules(hesitant, shape, CLASSES)) == want
    h, w = lpar.shape
    shape = symbol_shape((0, 0, w, h), lpar, 1, h / 2, h)
    assert _top(apply_layout_rules(_probs(d1=0.5, lpar=0.45), shape, CLASSES)) == "("


def test_a_bracket_read_as_a_one_against_a_seven_gets_its_curvature_counted():
    # The classifier's second choice is a 7, not a thin symbol: the rule still weighs 1 against ')', and the
    # 7 keeps its odds against the thin symbols together.
    tile = operator_tile(")")
    ys, xs = np.nonzero(tile)
    rpar = tile[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1] > 0
    h, w = rpar.shape
    p = _probs(d1=0.80, d7=0.10, rpar=0.06)
    out = apply_layout_rules(p, symbol_shape((0, 0, w, h), rpar, 1, h / 2, h), CLASSES)
    i1, i7, ir = CLASSES.index("1"), CLASSES.index("7"), CLASSES.index(")")
    assert out[ir] / out[i1] > 2.5 * p[ir] / p[i1]
    assert out[i7] == pytest.approx(p[i7], rel=0.01)


def test_a_long_stroke_taller_than_the_digits_leans_to_slash():
    # A stroke leaning 12° (between upright and leaning): slant alone leaves the classifier's 1 in front.
    mask = np.zeros((44, 14), bool)
    for y in range(44):
        x = int(round(10 - y * 9 / 43))
        mask[y, x : x + 3] = True
    hesitant = _probs(d1=0.55, slash=0.45)
    line_height, usual = 40.0, 30.0
    tall = symbol_shape((0, 0, 14, 44), mask, 1, 22, line_height, usual)  # 1.1 line heights, 0.47 usual widths
    assert _top(apply_layout_rules(hesitant, tall, CLASSES)) == "/"
    # The same stroke no taller than the digits, or with no line to judge by, stays a 1.
    assert _top(apply_layout_rules(hesitant, symbol_shape((0, 0, 14, 44), mask, 1, 22, 44.0, usual), CLASSES)) == "1"
    assert _top(apply_layout_rules(hesitant, symbol_shape((0, 0, 14, 44), mask, 1, 22, line_height), CLASSES)) == "1"
    # A slash at 45°, as wide as it is tall and well taller than the digits, with the classifier leaning to 1.
    wide = np.zeros((50, 48), bool)
    for y in range(50):
        x = int(round(44 - y * 44 / 49))
        wide[y, x : x + 4] = True
    sure_one = _probs(d1=0.85, slash=0.15)
    big = symbol_shape((0, 0, 48, 50), wide, 1, 25, line_height, usual)  # 1.25 line heights, 1.6 usual widths
    assert _top(apply_layout_rules(sure_one, big, CLASSES)) == "/"
    assert _top(apply_layout_rules(sure_one, symbol_shape((0, 0, 48, 50), wide, 1, 25, 50.0, usual), CLASSES)) == "1"


def test_rules_ignore_classes_the_model_lacks():
    digits = [str(d) for d in range(10)]
    p = np.full(10, 0.1, np.float32)
    out = apply_layout_rules(p, Shape(0.1, 0.1, 0.4, 1, 0, 0), digits)
    assert out.shape == (10,) and abs(out.sum() - 1) < 1e-5


# ---------------------------------------------------------------------------------- the model and images
def _model_classes() -> list[str]:
    card = default_model_path() / "card.json"
    if not card.is_file():
        pytest.skip("no shipped model in models/default/ yet")
    try:
        import hdr_expr.pipeline.preprocess  # noqa: F401
        import hdr_expr.pipeline.segment  # noqa: F401
    except ModuleNotFoundError as exc:
        pytest.skip(f"pipeline stage not written yet: {exc.name}")
    from hdr_expr.models.card import load_model_dir

    return list(load_model_dir(verify=[]).classes)


def _needs_operators(classes: list[str], text: str) -> None:
    missing = sorted({c for c in text if not c.isdigit()} - set(classes))
    if missing:
        pytest.skip(f"the shipped model has no class for {' '.join(missing)} yet (a digits model)")


def test_reads_numbers_of_mnist_test_digits():
    _model_classes()
    from hdr_expr.pipeline import recognize

    texts = ["4096", "317", "2580", "61", "7342"]
    right = 0
    for i, text in enumerate(texts):
        (page,) = recognize(expression_image(text, seed=i))
        assert page.error is None and len(page.lines) == 1
        line = page.lines[0]
        right += line.text == text
        assert len(line.symbols) == len(text)
        assert 0 < line.confidence <= 1
        assert line.confidence == pytest.approx(np.prod([s.confidence for s in line.symbols]), rel=1e-6)
    assert right >= 4


@pytest.mark.parametrize(
    "text, value, correct",
    [("12+7×3=", "33", None), ("12+7=19", "19", True), ("12+7=18", "19", False), ("8÷2-5", "-1", None),
     ("4(6-2)", "16", None), ("2.5×2=", "5", None)],
)
def test_reads_expressions(text, value, correct):
    classes = _model_classes()
    _needs_operators(classes, text)
    from hdr_expr.pipeline import recognize

    # The 9 that seed 7 draws for "12+7=19" is open at the top, like a 4, and the shipped model (since the
    # 20-epoch digits recipe) reads it so: that case draws another writer's digits.
    seed = {"12+7=19": 9}.get(text, len(text))
    (page,) = recognize(expression_image(text, seed=seed))
    (line,) = page.lines
    assert line.text == text, line.summary()
    assert line.value == value and line.correct is correct


def test_several_lines_in_reading_order():
    _model_classes()
    from hdr_expr.pipeline import recognize

    (page,) = recognize(stack_lines(expression_image("31", seed=1), expression_image("58", seed=2),
                                    expression_image("904", seed=3)))
    assert [len(line.symbols) for line in page.lines] == [2, 2, 3]
    assert page.lines[0].box[1] < page.lines[1].box[1] < page.lines[2].box[1]


def test_one_classifier_call_per_page():
    _model_classes()
    from hdr_expr.pipeline.recognize import Recognizer

    rec = Recognizer()
    calls = []
    real = rec.classifier.predict

    class Spy:
        classes = rec.classifier.classes

        def predict(self, batch):
            calls.append(len(batch))
            return real(batch)

    spy = Recognizer(classifier=Spy())
    result = spy.read_image(stack_lines(expression_image("12", seed=4), expression_image("345", seed=5)))
    assert len(calls) == 1 and calls[0] >= 5
    assert sum(len(line.symbols) for line in result.lines) == 5


def test_a_high_resolution_photo_reads_as_the_photo_does_with_boxes_in_its_pixels():
    # The sample phone photo enlarged 4× (a 12-megapixel phone's view of the same writing): read at a working
    # scale, the same text, every box in the enlarged page's pixels.
    _model_classes()
    from hdr_expr.pipeline.io import read_pages
    from hdr_expr.pipeline.preprocess import preprocess
    from hdr_expr.pipeline.recognize import WORK_STROKE, Recognizer

    image = read_pages(Path(__file__).resolve().parents[1] / "samples" / "phone-photo.jpg")[0].image
    big = cv2.resize(image, None, fx=4, fy=4, interpolation=cv2.INTER_CUBIC)
    assert preprocess(big, max_stroke=WORK_STROKE).scale < 0.75
    reader = Recognizer()
    small, large = reader.read_image(image), reader.read_image(big)
    assert large.size == (big.shape[1], big.shape[0])
    assert [ln.text for ln in large.lines] == [ln.text for ln in small.lines] == ["48÷(2+6)=6"]
    for a, b in zip(small.lines, large.lines):
        assert np.allclose(np.array(b.box), 4 * np.array(a.box), atol=12), (a.box, b.box)
        for sa, sb in zip(a.symbols, b.symbols):
            assert np.allclose(np.array(sb.box), 4 * np.array(sa.box), atol=12), (sa.box, sb.box)


@pytest.mark.parametrize("angle", [-12.0, 15.0])
def test_a_page_turned_well_off_the_level_is_levelled_before_it_is_cut(angle):
    # The sample drawing turned as a phone held askew turns it: read as cut, its '.' and '-' fall off the line's
    # level and it read '-42=11' and '3.5×2=' (15°) or '35×4-2=11' (-12°). Levelled, it reads as drawn, and every
    # box still holds its symbol's ink on the page as given.
    _model_classes()
    from hdr_expr.pipeline.io import read_pages
    from hdr_expr.pipeline.preprocess import turn_to_fit
    from hdr_expr.pipeline.recognize import Recognizer

    image = read_pages(Path(__file__).resolve().parents[1] / "samples" / "canvas-drawing.png")[0].image
    turn, size = turn_to_fit(image.shape, angle)
    turned = cv2.warpAffine(image, turn, size, borderValue=(255, 255, 255))
    page = Recognizer().read_image(turned)
    assert [ln.text for ln in page.lines] == ["3.5×4-2=11"]
    ink = turned.min(axis=2) < 128
    for sym in page.lines[0].symbols:
        x, y, bw, bh = sym.box
        assert 0 <= x and 0 <= y and x + bw <= size[0] and y + bh <= size[1]
        assert ink[y : y + bh, x : x + bw].any(), sym


@pytest.mark.parametrize("quarters", [1, 2, 3])
def test_a_worksheet_scanned_on_its_side_or_upside_down_is_read_the_right_way_up(quarters):
    # Sheets fed into a scanner sideways or upside down: read as given, the sample worksheet's lines read
    # '5=6+-4', '=2+6' (upside down) or columns of one-symbol lines (on its side). Read the right way up, every
    # line reads as on the upright page, with its boxes where they lie on the page as given.
    _model_classes()
    from hdr_expr.pipeline.io import read_pages
    from hdr_expr.pipeline.recognize import Recognizer

    image = read_pages(Path(__file__).resolve().parents[1] / "samples" / "worksheet.png")[0].image
    turned = np.ascontiguousarray(np.rot90(image, quarters))
    reader = Recognizer()
    upright, page = reader.read_image(image), reader.read_image(turned)
    assert upright.turned == 0 and page.turned == 90 * ((4 - quarters) % 4)
    assert page.to_dict()["turned"] == page.turned
    assert [ln.text for ln in page.lines] == [ln.text for ln in upright.lines]
    h, w = image.shape[:2]
    for a, b in zip(upright.lines, page.lines):
        on_turned = np.zeros((h, w), np.uint8)
        x, y, bw, bh = a.box
        on_turned[y : y + bh, x : x + bw] = 1
        ys, xs = np.nonzero(np.rot90(on_turned, quarters))
        assert b.box == (xs.min(), ys.min(), xs.max() - xs.min() + 1, ys.max() - ys.min() + 1)
    assert [ln.text for ln in Recognizer(orient=False).read_image(turned).lines] != [ln.text for ln in upright.lines]


def test_a_sum_photographed_on_its_side_or_upside_down_is_read_the_right_way_up():
    # A phone lying flat over a desk cannot tell which way up the sheet is: its photo may come on its side or
    # upside down (read as given: columns of one-symbol lines, or '9=(9+2)÷86').
    _model_classes()
    from hdr_expr.pipeline.io import read_pages
    from hdr_expr.pipeline.recognize import Recognizer

    image = read_pages(Path(__file__).resolve().parents[1] / "samples" / "phone-photo.jpg")[0].image
    for quarters in (1, 2, 3):
        page = Recognizer().read_image(np.ascontiguousarray(np.rot90(image, quarters)))
        assert [ln.text for ln in page.lines] == ["48÷(2+6)=6"] and page.turned == 90 * (4 - quarters)


def _line_touching_at(text: str, at: int, *, seed: int, scale: int = 2, gap: int = 8) -> np.ndarray:
    """``text`` as :func:`expression_image` writes it, with the symbols from ``at`` on moved left until the one
    at ``at`` runs into the one before it."""
    images, labels = _mnist()
    rng = np.random.default_rng(seed)
    side = 28 * scale
    tiles = []
    for ch in text:
        tile = images[rng.choice(np.nonzero(labels == int(ch))[0][:200])] > 100 if ch.isdigit() else operator_tile(ch)
        tiles.append(cv2.resize(tile.astype(np.uint8), (side, side), interpolation=cv2.INTER_NEAREST) > 0)
    for shift in range(side):
        canvas = np.zeros((side + 60, len(tiles) * (side + gap) + 60), bool)
        pair = np.zeros_like(canvas)
        for i, tile in enumerate(tiles):
            x = 30 + i * (side + gap) - (shift if i >= at else 0)
            canvas[30 : 30 + side, x : x + side] |= tile
            if i in (at - 1, at):
                pair[30 : 30 + side, x : x + side] |= tile
        if cv2.connectedComponents(pair.astype(np.uint8), connectivity=8)[0] - 1 < 2 + (text[at - 1] in "=÷"):
            return np.where(canvas[..., None], 30, 255).astype(np.uint8).repeat(3, axis=2)
    raise AssertionError("the symbols never touched")


@pytest.mark.parametrize("text,at,seed", [("7-(-9)=", 5, 2), ("(3-1)×2=4", 4, 0)])
def test_a_bracket_run_into_the_digit_before_it_is_parted_when_the_line_is_read_again(monkeypatch, text, at, seed):
    # A ')' run into the digit before it makes one crop, read as that digit; the '(' is then unmatched and the
    # repair reads it as a '1' ('7-(-9)=' read '7-1-9='). The line is read again with splits offered of every
    # crop the verifier is not sure of, and that reading is kept because it needs no repair.
    from hdr_expr.pipeline.recognize import Recognizer

    image = _line_touching_at(text, at, seed=seed)
    kept = []
    original = Recognizer._read_with_more_splits

    def spy(self, *args):
        out = original(self, *args)
        kept.append(out is not None)
        return out

    monkeypatch.setattr(Recognizer, "_read_with_more_splits", spy)
    (line,) = Recognizer().read_image(image).lines
    assert line.text == text and any(kept)


def test_a_thumbnail_is_enlarged_before_it_is_read():
    # The sample phone photo at 0.3× (digits 14 px tall, strokes 2 px): read enlarged, its '÷' is no longer a
    # '-', and the boxes are in the thumbnail's pixels.
    _model_classes()
    from hdr_expr.pipeline.io import read_pages
    from hdr_expr.pipeline.preprocess import preprocess
    from hdr_expr.pipeline.recognize import MIN_STROKE, WORK_STROKE, Recognizer

    image = read_pages(Path(__file__).resolve().parents[1] / "samples" / "phone-photo.jpg")[0].image
    thumb = cv2.resize(image, None, fx=0.3, fy=0.3, interpolation=cv2.INTER_AREA)
    assert preprocess(thumb, max_stroke=WORK_STROKE, min_stroke=MIN_STROKE).scale > 1.1
    page = Recognizer().read_image(thumb)
    assert [ln.text for ln in page.lines] == ["48÷(2+6)=6"]
    h, w = thumb.shape[:2]
    for box in [page.lines[0].box] + [s.box for s in page.lines[0].symbols]:
        x, y, bw, bh = box
        assert 0 <= x and 0 <= y and x + bw <= w and y + bh <= h, box
    assert 0.25 * w < page.lines[0].box[2] < 0.8 * w


def test_python_api_sources(tmp_path):
    _model_classes()
    from PIL import Image

    from hdr_expr.pipeline import PageResult, recognize

    img = expression_image("52", seed=6)
    path = tmp_path / "x.png"
    Image.fromarray(img).save(path)
    by_path = recognize(path)
    by_str = recognize(str(path))
    by_bytes = recognize(path.read_bytes())
    by_array = recognize(img)
    assert all(isinstance(r[0], PageResult) for r in (by_path, by_str, by_bytes, by_array))
    assert by_path[0].file == str(path) and by_bytes[0].file == "-"
    assert by_path[0].size == (img.shape[1], img.shape[0])
    assert by_path[0].lines == by_bytes[0].lines == by_array[0].lines


def test_unreadable_files_give_an_error_result(tmp_path):
    _model_classes()
    from hdr_expr.pipeline import recognize

    bad = tmp_path / "notes.png"
    bad.write_text("just text")
    (result,) = recognize(bad)
    assert result.error and "notes.png" in result.error and result.lines == ()
    (missing,) = recognize(tmp_path / "nope.png")
    assert missing.error and "no such file" in missing.error
    with pytest.raises(InputError):
        recognize(np.zeros((2, 2), np.uint8))  # an array that is no image is a programming error


def test_blank_page_has_no_lines():
    _model_classes()
    from hdr_expr.pipeline import recognize

    (page,) = recognize(np.full((200, 300, 3), 255, np.uint8))
    assert page.error is None and page.lines == ()
    assert page.to_dict()["lines"] == []


def test_result_json_contract():
    _model_classes()
    import json

    from hdr_expr.pipeline import recognize

    (page,) = recognize(expression_image("73", seed=7), model=None)
    d = json.loads(json.dumps(page.to_dict(), ensure_ascii=False))
    assert set(d) >= {"file", "page", "error", "lines"}
    line = d["lines"][0]
    assert set(line) >= {"text", "expression", "latex", "value", "correct", "confidence", "box", "symbols"}
    assert set(line["text"]) <= set(SYMBOL_CLASSES)
    assert len(line["box"]) == 4
    for sym in line["symbols"]:
        assert set(sym) == {"label", "confidence", "box", "alternatives"}
        assert len(sym["alternatives"]) <= 3
        assert all(p >= 0.001 and a != sym["label"] for a, p in sym["alternatives"])


# --------------------------------------------------------------------------------------------- annotation
def test_annotate_draws_boxes_in_verdict_colours():
    from hdr_expr.pipeline.annotate import GREEN, GREY, RED, annotate, annotated_name
    from hdr_expr.pipeline.results import LineResult, PageResult, SymbolResult

    img = np.full((300, 400, 3), 255, np.uint8)

    def line(y: int, correct, error=None) -> LineResult:
        syms = (SymbolResult("1", 0.9, (20, y, 20, 40)), SymbolResult("×", 0.8, (50, y, 20, 40), (("+", 0.1),)))
        return LineResult("1×", (20, y, 50, 40), syms, 0.72, value="1", correct=correct, error=error)

    page = PageResult("x.png", 1, (line(40, True), line(140, False), line(240, None, "cannot read: it ends after '×'")))
    out = annotate(img, page)
    assert out.shape == img.shape and out.dtype == np.uint8
    assert (img == 255).all()  # the input is not drawn on
    colours = {tuple(c) for c in out.reshape(-1, 3)}
    assert {GREEN, RED, GREY} <= colours
    assert annotate(img[..., 0], page).shape == img.shape  # grey input → RGB
    assert annotated_name(page) == "x.png"
    assert annotated_name(PageResult("scan.pdf", 3)) == "scan-p3.png"
    assert annotated_name(PageResult("-", 1)) == "stdin.png"


def test_two_long_bars_are_equals_not_divide():
    mask = np.zeros((12, 30), bool)
    mask[1:4, 0:30] = True
    mask[8:11, 2:28] = True
    p = apply_layout_rules(_probs(div=0.9, eq=0.1), Shape(0.9, 0.3 - 1e-3, 0.0, 2, mask=mask), CLASSES)
    assert _top(p) == "="
    dots = np.zeros((12, 30), bool)
    dots[5:8, 0:30] = True
    dots[0:3, 13:17] = True  # a bar and one dot (the other dot lost): still may be '÷'
    p = apply_layout_rules(_probs(div=0.9, eq=0.1), Shape(0.9, 0.29, 0.0, 2, mask=dots), CLASSES)
    assert _top(p) == "÷"


def test_a_surely_read_blob_must_be_wider_to_be_split():
    from hdr_expr.pipeline.recognize import whole_prior

    # 1.5 usual widths: an unsure reading leans to a split, a sure one (a wide single '2') to one symbol.
    assert whole_prior(1.5, 0.6) < 0.5 < whole_prior(1.5, 0.995)
    # Twice the usual width is several symbols however sure the reading of the whole.
    assert whole_prior(2.0, 0.999) < 0.2 and whole_prior(1.1, 0.3) >= 0.9


def test_a_solid_wide_blob_is_equals_or_minus_not_a_point():
    # An '=' whose bars ran together under blur, and a thick short '-': filled blobs the classifier calls '.'.
    sure_dot = _probs(dot=0.999)
    blurred_equals = Shape(0.64, 0.42, 0.1, 1, mask=np.ones((14, 21), bool))
    assert _top(apply_layout_rules(sure_dot, blurred_equals, CLASSES)) == "="
    thick_minus = Shape(0.45, 0.23, 0.1, 1, mask=np.ones((17, 33), bool))
    assert _top(apply_layout_rules(sure_dot, thick_minus, CLASSES)) == "-"
    # A hollow mark of the same size (a small 0 or 6 lying low) is left to the classifier.
    ring = np.ones((14, 21), bool)
    ring[3:-3, 4:-4] = False
    assert _top(apply_layout_rules(_probs(d0=0.99), Shape(0.64, 0.42, 0.1, 1, mask=ring), CLASSES)) == "0"


def test_a_wide_blob_read_as_a_one_is_likely_a_pair():
    from hdr_expr.pipeline.recognize import expected_width, whole_prior

    usual = 40.0
    assert expected_width("1", usual) < expected_width("7", usual) < expected_width("+", usual)
    # A blob 1.4 usual widths wide, read surely: one '7', but a '1' with a neighbour ('=1', '-1').
    assert whole_prior(56.0 / expected_width("7", usual), 0.999) > 0.5
    assert whole_prior(56.0 / expected_width("1", usual), 0.999) < 0.5


def test_a_big_low_point_stays_a_point():
    # A decimal point drawn as a short thick dash sits low in the line: not a '-'.
    low_dash = Shape(0.4, 0.23, 0.5, 1, mask=np.ones((7, 12), bool))
    assert _top(apply_layout_rules(_probs(dot=0.99), low_dash, CLASSES)) == "."


def test_a_reading_that_parses_wins_over_a_likelier_segmentation_that_does_not():
    # Best segmentation: a touching '7)' read as one '0' → '(7+0-442', which only a costly repair mends (the
    # sure '(' read as '1'). The next one splits the blob and parses: '(7+7)-442'.
    from types import SimpleNamespace

    from hdr_expr.pipeline.preprocess import Preprocessed
    from hdr_expr.pipeline.recognize import Recognizer

    rec = Recognizer.__new__(Recognizer)
    rec.classes = list(CLASSES)
    rec._index = {c: i for i, c in enumerate(CLASSES)}
    rec.latex = False

    def path(text, unsure=None):
        out = []
        for i, ch in enumerate(text):
            p = np.full(len(CLASSES), 1e-4, np.float32)
            p[CLASSES.index(ch)] = 0.99
            if unsure and i in unsure:
                p[CLASSES.index(unsure[i])] = 0.012
            out.append((SimpleNamespace(box=(10 * i, 0, 8, 20)), p / p.sum()))
        return out

    line = SimpleNamespace(box=(0, 0, 100, 20), height=20.0)
    pre = Preprocessed(np.zeros((20, 100), bool), False, 0.0, 3.0, 0.8, 0)  # no darkness map: no '=' restored
    paths = [(-1.0, path("(7+0-442", {0: "1"})), (-3.0, path("(7+7)-442"))]
    assert rec._read_line(line, paths, pre).text == "(7+7)-442"
    # Where the best one reads plainly, it stands, however close the next.
    paths = [(-1.0, path("(7+7)-442")), (-1.1, path("(7+1)-442"))]
    assert rec._read_line(line, paths, pre).text == "(7+7)-442"
    # A written answer that holds weighs for its segmentation.
    paths = [(-1.0, path("9+8=27")), (-2.5, path("19+8=27"))]
    assert rec._read_line(line, paths, pre).text == "19+8=27"
    # A plain reading with no answer gives way only to a segmentation whose answer holds (an '=' run into the
    # 8 beside it, read as a '3').
    paths = [(-1.0, path("(8-14)×83-48")), (-2.5, path("(8-14)×8=-48"))]
    assert rec._read_line(line, paths, pre).text == "(8-14)×8=-48"
    paths = [(-1.0, path("(8-14)×83-48")), (-1.2, path("(8-14)×8=-47")), (-1.3, path("(8-14)×83-43"))]
    assert rec._read_line(line, paths, pre).text == "(8-14)×83-48"
    # A bare number asked for ('56=') is odd: the next segmentation (its minus cut from the 6) is weighed too. A
    # bare number on its own ('56') stands: an answer may be written apart.
    paths = [(-1.0, path("56=")), (-2.2, path("5-6="))]
    assert rec._read_line(line, paths, pre).text == "5-6="
    paths = [(-1.0, path("56")), (-2.2, path("5-6"))]
    assert rec._read_line(line, paths, pre).text == "56"


def _touching_pair(first: int, second: int, overlap: int = 1) -> np.ndarray:
    """Two MNIST test digits (by index) side by side, the second's ink reaching ``overlap`` px into the
    first's box: a pair about one digit wide when one of them is a 1."""
    images, _ = _mnist()
    side = 56
    a, b = (cv2.resize((images[i] > 100).astype(np.uint8), (side, side), interpolation=cv2.INTER_NEAREST) > 0
            for i in (first, second))
    xa, xb = np.nonzero(a.any(axis=0))[0], np.nonzero(b.any(axis=0))[0]
    canvas = np.zeros((side + 60, 300), bool)
    canvas[30 : 30 + side, 60 - xa[0] : 60 - xa[0] + side] |= a
    x = 60 + (xa[-1] - xa[0]) - overlap - xb[0]
    canvas[30 : 30 + side, x : x + side] |= b
    return np.where(canvas[..., None], 30, 255).astype(np.uint8).repeat(3, axis=2)


def test_a_touching_pair_as_narrow_as_one_digit_is_split_where_the_verifier_doubts_it():
    _model_classes()
    import sys

    from hdr_expr.pipeline.recognize import Recognizer

    recognize_module = sys.modules["hdr_expr.pipeline.recognize"]  # the package exports a function of that name

    rec = Recognizer()
    if rec.verifier is None:
        pytest.skip("no verifier model installed")
    pairs = [("17", 29, 34), ("17", 37, 41), ("71", 41, 37), ("71", 64, 40), ("14", 31, 27), ("41", 27, 31)]
    texts = [[line.text for line in rec.read_image(_touching_pair(a, b)).lines] for _, a, b in pairs]
    assert all(len(t) == 1 and len(t[0]) == 2 for t in texts), texts
    assert sum(t == [want] for t, (want, _, _) in zip(texts, pairs)) >= 5, texts
    # Offered only the first time round (narrower than 0.7 line heights), and never read again with more splits
    # (RETRY_DOUBT), each pair was read as one digit.
    old = recognize_module.DOUBTED_WHOLE, recognize_module.STROKE_DOUBT, recognize_module.RETRY_DOUBT
    try:
        recognize_module.DOUBTED_WHOLE = recognize_module.STROKE_DOUBT = recognize_module.RETRY_DOUBT = 0.0
        assert all(len(line.text) == 1 for _, a, b in pairs for line in rec.read_image(_touching_pair(a, b)).lines)
    finally:
        recognize_module.DOUBTED_WHOLE, recognize_module.STROKE_DOUBT, recognize_module.RETRY_DOUBT = old


@pytest.mark.parametrize("mark", ["dash", "cross"])
def test_a_lone_mark_is_no_line(mark):
    # A mark far to the left of a line (a piece of a ruled line at a photographed sheet's edge, a scrap of a
    # board's frame) makes a line of its own: one '-' or '×' alone is no expression (a lone '×' does not parse,
    # and was repaired into the digit it least unlike).
    _model_classes()
    from hdr_expr.pipeline.recognize import Recognizer

    line = expression_image("12", seed=4)
    image = np.concatenate([np.full((line.shape[0], 400, 3), 255, np.uint8), line], axis=1)
    y = line.shape[0] // 2 + 10
    if mark == "dash":
        cv2.line(image, (40, y), (90, y), (30, 30, 30), 5)
    else:
        cv2.line(image, (40, y - 12), (64, y + 12), (30, 30, 30), 4)
        cv2.line(image, (40, y + 12), (64, y - 12), (30, 30, 30), 4)
    page = Recognizer().read_image(image)
    assert [line.text for line in page.lines] == ["12"]


def test_a_bar_whose_dots_the_mask_dropped_reads_as_divide():
    # Thick digits (7 px strokes) and a '÷' whose dots were tapped with a fine point: 2×2 px, under the mask's
    # speck limit, so the mask keeps the bar alone. The darkness map still has them, one above and one below
    # the bar's middle: '8÷2', not '8-2'. Without the dots it stays a minus.
    _needs_operators(_model_classes(), "÷-")
    from hdr_expr.pipeline.recognize import Recognizer

    rec = Recognizer()
    for seed in (0, 1):
        img = expression_image("8-2", seed=seed, scale=3)
        assert [line.text for line in rec.read_image(img).lines] == ["8-2"]
        side, gap = 84, 8
        x0 = 30 + side + gap
        ys, xs = np.nonzero(img[30 : 30 + side, x0 : x0 + side, 0] < 128)
        cy, cx, half = 30 + int(ys.mean()), x0 + int(xs.mean()), int(ys.max() - ys.min()) // 2
        for dy in (-(half + 10), half + 9):
            img[cy + dy : cy + dy + 2, cx - 1 : cx + 1] = 30
        (line,) = rec.read_image(img).lines
        assert line.text == "8÷2" and line.value == "4"


def test_a_plus_is_taken_for_a_divide_only_where_the_classifier_allows_one():
    # A '+' whose upright stroke is paler than its bar parts in the darkness map as a '÷' whose dots the mask
    # ran into its bar does (tests/test_divide.py). A crisp '+' the classifier gives no '÷' at all stays a '+';
    # a blurred blob it gives a few percent of '÷' is read as one.
    from types import SimpleNamespace

    from test_divide import _box, _darkness, _plus_with_a_pale_upright

    from hdr_expr.pipeline.preprocess import Preprocessed
    from hdr_expr.pipeline.recognize import DIVIDE_MIN_P, Recognizer

    rec = Recognizer.__new__(Recognizer)
    rec._index = {c: i for i, c in enumerate(CLASSES)}
    dark = _darkness(_plus_with_a_pale_upright)
    mask = dark >= 0.25 * dark.max()
    pre = Preprocessed(mask, False, 0.0, 3.0, 0.8, 0, dark)
    part = SimpleNamespace(box=_box(dark, 0.25 * dark.max()))
    for p_divide, read in ((0.0, "+"), (0.3 * DIVIDE_MIN_P, "+"), (3.0 * DIVIDE_MIN_P, "÷")):
        p = np.full(len(CLASSES), 1e-5, np.float32)
        p[CLASSES.index("÷")] = p_divide
        p[CLASSES.index("+")] = 0.97
        ((_, out),) = rec._restore_from_darkness([(part, p)], pre)
        assert CLASSES[int(np.argmax(out))] == read, p_divide


@pytest.mark.parametrize("written, label, text, correct", [
    ("3) 5+2=7", "3)", "5+2=7", True), ("12. 8-3=5", "12.", "8-3=5", True), ("4) 6×2=13", "4)", "6×2=13", False)])
def test_an_exercise_number_is_kept_out_of_the_sum(written: str, label: str, text: str, correct: bool) -> None:
    # Read with the line, "3) 5+2=7" was "315+2=7" (the unmatched ')' repaired into a 1), marked wrong.
    classes = _model_classes()
    _needs_operators(classes, text + ")")
    from hdr_expr.pipeline import recognize

    (page,) = recognize(expression_image(written, seed=3))
    (line,) = page.lines
    assert (line.label, line.text, line.correct) == (label, text, correct), line.summary()
    assert line.to_dict()["label"] == label and line.summary().startswith(label + " ")
    assert len(line.symbols) == len(text)


def test_a_number_is_a_label_only_when_set_apart_by_more_than_the_expressions_own_gaps() -> None:
    classes = list(CLASSES)

    def probs(sym: str) -> np.ndarray:
        p = np.full(len(classes), 0.001, np.float32)
        p[classes.index(sym)] = 1.0
        return p / p.sum()

    def boxes(gaps: list[int]) -> list[tuple[int, int, int, int]]:
        out, x = [], 0
        for g in [0, *gaps]:
            x += g
            out.append((x, 0, 20, 40))
            x += 20
        return out

    syms = [probs(c) for c in "3)5+2=7"]
    assert label_length(boxes([4, 30, 5, 5, 5, 5]), syms, classes, 40.0) == 2  # "3)" then the sum
    assert label_length(boxes([4, 12, 5, 5, 5, 5]), syms, classes, 40.0) == 0  # too close: part of the line
    assert label_length(boxes([4, 30, 5, 16, 5, 16]), syms, classes, 40.0) == 2  # wider than the sum's usual gap
    assert label_length(boxes([4, 22, 16, 16, 16, 16]), syms, classes, 40.0) == 0  # the sum is written as widely
    decimal = [probs(c) for c in "2.5+1=3.5"]
    assert label_length(boxes([2, 6, 6, 6, 6, 6, 2, 2]), decimal, classes, 40.0) == 0
    # '12.' could begin a decimal: it must stand apart by twice the sum's widest gap but one.
    numbered = [probs(c) for c in "12.5+1=6"]
    assert label_length(boxes([2, 2, 30, 5, 12, 5, 5]), numbered, classes, 40.0) == 3
    assert label_length(boxes([2, 2, 22, 5, 12, 12, 5]), numbered, classes, 40.0) == 0
    # '21 + 27 =' with its hooked 1 read as ')': a sum cannot begin with '+', so '2)' is no exercise number.
    spaced = [probs(c) for c in "2)+27="]
    assert label_length(boxes([4, 30, 5, 5, 30]), spaced, classes, 40.0) == 0
    assert label_length(boxes([4, 30, 5, 5, 30]), [probs(c) for c in "2)-27="], classes, 40.0) == 2
    # A dash set a line height and more apart before the sum is a bullet; a minus is written against its number.
    negative = [probs(c) for c in "-5+2=-3"]
    assert label_length(boxes([45, 5, 5, 5, 5, 5]), negative, classes, 40.0) == 1
    assert label_length(boxes([30, 5, 5, 5, 5, 5]), negative, classes, 40.0) == 0
    assert label_length(boxes([45, 5, 5, 5, 25, 5]), negative, classes, 40.0) == 0  # as wide as the sum's gaps


def _printed_sum_with_answer(printed: str, answer: str, *, blank: int | None, gap: int = 15) -> np.ndarray:
    """A worksheet's printed sum, the answer written on a ruled blank (``blank`` px long; None: no blank)
    with MNIST test digits, ``gap`` px after the sum."""
    images, labels = _mnist()
    img = np.full((140, 1000), 255, np.uint8)
    cv2.putText(img, printed, (30, 90), cv2.FONT_HERSHEY_SIMPLEX, 1.6, 0, 3, cv2.LINE_AA)
    (tw, _), _ = cv2.getTextSize(printed, cv2.FONT_HERSHEY_SIMPLEX, 1.6, 3)
    x = 30 + tw + gap
    if blank:
        cv2.line(img, (x, 98), (x + blank, 98), 0, 2)
    for i, ch in enumerate(answer):
        digit = cv2.resize(images[np.nonzero(labels == int(ch))[0][i]], (60, 60))
        img[35:95, x : x + 60] = np.minimum(img[35:95, x : x + 60], 255 - digit)
        x += 40
    return cv2.cvtColor(img, cv2.COLOR_GRAY2RGB)


@pytest.mark.parametrize("printed, answer, blank, summary", [
    ("12 + 7 =", "19", 110, "12+7=19 ✓"), ("6 + 9 =", "15", 110, "6+9=15 ✓"), ("12 + 7 =", "", 120, "12+7 = 19"),
    ("8 x 3 =", "24", None, "8×3=24 ✓")])
def test_an_answer_written_on_a_printed_blank(printed: str, answer: str, blank: int | None, summary: str) -> None:
    # The blank touched the answer's digits and the splitter cut the blob into "1-9"; alone it read as "-".
    _model_classes()
    from hdr_expr.pipeline import recognize

    (page,) = recognize(_printed_sum_with_answer(printed, answer, blank=blank))
    assert [line.summary() for line in page.lines] == [summary]


@pytest.mark.parametrize("answer, summary", [("19", "12+7=19 ✓"), ("", "12+7 = 19")])
def test_an_answer_written_in_a_printed_box(answer: str, summary: str) -> None:
    # The box's sides were read as a 1 and a 7 around the digits ("12+7=179"); empty, as a 0.
    _model_classes()
    from hdr_expr.pipeline import recognize

    images, labels = _mnist()
    img = np.full((160, 900), 255, np.uint8)
    cv2.putText(img, "12 + 7 =", (30, 100), cv2.FONT_HERSHEY_SIMPLEX, 1.6, 0, 3, cv2.LINE_AA)
    x0 = 30 + cv2.getTextSize("12 + 7 =", cv2.FONT_HERSHEY_SIMPLEX, 1.6, 3)[0][0] + 20
    cv2.rectangle(img, (x0, 30), (x0 + 120, 125), 0, 2)
    for i, ch in enumerate(answer):
        digit = cv2.resize(images[np.nonzero(labels == int(ch))[0][i + 3]], (60, 60))
        x = x0 + 12 + 40 * i
        img[52:112, x : x + 60] = np.minimum(img[52:112, x : x + 60], 255 - digit)
    (page,) = recognize(cv2.cvtColor(img, cv2.COLOR_GRAY2RGB))
    assert [line.summary() for line in page.lines] == [summary]


def _written_with_colon(left: str, right: str) -> np.ndarray:
    """``left : right`` in the script font, the colon two round dots one above the other."""
    from test_preprocess import draw_tokens, render

    drawn = draw_tokens(f"{left} {right}", height=48, stroke=4)
    k = len(left)
    x_end = drawn.boxes[k - 1][1][0] + drawn.boxes[k - 1][1][2]
    cx = (x_end + drawn.boxes[k][1][0]) // 2
    base = drawn.boxes[0][1][1] + drawn.boxes[0][1][3]
    for cy in (base - 34, base - 12):
        cv2.circle(drawn.ink, (cx, cy), 4, 1.0, -1, cv2.LINE_AA)
    return render(drawn, seed=1, noise=2)


@pytest.mark.parametrize("left, right, text", [("12", "4=3", "12÷4=3"), ("81", "9=9", "81÷9=9"), ("20", "5", "20÷5")])
def test_a_colon_is_read_as_division(left: str, right: str, text: str) -> None:
    # Two stacked dots were never grouped: one was dropped, the other read as a raised dot (12×4=3).
    _model_classes()
    from hdr_expr.pipeline import recognize

    (page,) = recognize(_written_with_colon(left, right))
    assert [line.text for line in page.lines] == [text]


@pytest.mark.parametrize("written, text", [("12·4=48", "12×4=48"), ("7·8", "7×8"), ("2.5·4=10", "2.5×4=10"),
                                           ("0.5+1.25", "0.5+1.25")])
def test_a_raised_dot_is_times_and_a_low_one_a_decimal_point(written: str, text: str) -> None:
    # A dot's crop is the same disc either way and the classifier said '.' (the commoner): "12·4" read 12.4.
    from test_preprocess import draw_tokens, render

    _model_classes()
    from hdr_expr.pipeline import recognize

    (page,) = recognize(render(draw_tokens(written, height=48, stroke=4), seed=1, noise=2))
    assert [line.text for line in page.lines] == [text]


@pytest.mark.parametrize("written, text", [("12,5", "12.5"), ("2,5+1,5=4", "2.5+1.5=4"), ("3,25-1=2,25", "3.25-1=2.25")])
def test_a_decimal_comma_is_read_as_a_point(written: str, text: str) -> None:
    # A comma (a point with a tail below the baseline) read as '/' where no written answer settled it: 12/5.
    from test_preprocess import draw_tokens, render

    _model_classes()
    from hdr_expr.pipeline import recognize

    drawn = draw_tokens(written.replace(",", "."), height=48, stroke=4)
    for token, (x, y, w, h) in drawn.boxes:
        if token == ".":
            cv2.line(drawn.ink, (x + w // 2 + 1, y + h // 2), (x + w // 2 - 5, y + h // 2 + 13), 1.0, 3, cv2.LINE_AA)
    (page,) = recognize(render(drawn, seed=1, noise=2))
    assert [line.text for line in page.lines] == [text]


@pytest.mark.parametrize("written", ["0.3+2.3=2.6", "4.8-1.2", "12.25+0.75=13"])
def test_a_point_drawn_as_a_tick_on_the_baseline_is_read(written: str) -> None:
    # A point drawn as a short upright tick standing on the baseline (not hanging under it like a comma) sits
    # higher than a comma: the layout read it as no point, and the verifier, which takes such a mark for a scrap
    # of the digit before it, merged the two (0.3+213=216, 418-112).
    from test_preprocess import draw_tokens, render

    _model_classes()
    from hdr_expr.pipeline import recognize

    drawn = draw_tokens(written, height=48, stroke=4)
    for token, (x, y, w, h) in drawn.boxes:
        if token == ".":
            drawn.ink[y : y + h, x : x + w] = 0
            cv2.line(drawn.ink, (x + w // 2 + 3, y + h - 16), (x + w // 2 - 1, y + h - 1), 1.0, 4, cv2.LINE_AA)
    (page,) = recognize(render(drawn, seed=1, noise=2))
    assert [line.text for line in page.lines] == [written]


@pytest.mark.parametrize("answer, summary", [("19", "12+7=19 ✓"), ("18", "12+7=18 ✗ (= 19)")])
def test_an_answer_written_far_along_the_row_is_the_sums_answer(answer: str, summary: str) -> None:
    # Set apart by the row's gap, the answer was a line of its own: "12+7 = 19" and "19 = 19", no verdict.
    _model_classes()
    from hdr_expr.pipeline import recognize

    (page,) = recognize(_printed_sum_with_answer("12 + 7 =", answer, blank=None, gap=250))
    assert [line.summary() for line in page.lines] == [summary]


@pytest.mark.parametrize("layout", ["plain", "blank", "box"])
def test_a_printed_worksheet_with_numbered_sums(layout: str) -> None:
    # A teacher's sheet (datasets/printed.py): numbered sums printed with spaces around the operators, the
    # answers handwritten just after the '=', on blanks or in boxes (printed one under another, the boxes'
    # sides line up into what the rules' search erases as a margin). The number's gap is narrower than the
    # one before the answer; "2)" used to be read "21".
    _model_classes()
    from hdr_expr.datasets.printed import printed_sheet
    from hdr_expr.pipeline import recognize

    sheet = printed_sheet(np.random.default_rng(5), _mnist(), layout=layout, lines=6)
    (page,) = recognize(sheet.image)
    got = {(line.label, line.text, line.correct) for line in page.lines}
    assert {(x.label, x.text, x.correct) for x in sheet.lines} <= got, [line.summary() for line in page.lines]
    assert len(page.lines) == len(sheet.lines)  # the printed title is no line (printed_words)


@pytest.mark.parametrize("title", ["Show your work", "Worksheet: sums", "Mental maths quiz"])
@pytest.mark.parametrize("font", [cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_COMPLEX])
def test_a_printed_title_is_no_line_but_the_sum_below_it_is(title: str, font: int, monkeypatch) -> None:
    _model_classes()
    import hdr_expr.pipeline.recognize  # noqa: F401  (the module, not the function the package exports)
    from hdr_expr.pipeline import recognize

    head = np.full((120, 900, 3), 250, np.uint8)
    cv2.putText(head, title, (40, 80), font, 1.4, (20, 20, 20), 2, cv2.LINE_AA)
    page_image = stack_lines(head, expression_image("12+7=19", seed=9))
    (page,) = recognize(page_image)
    assert [line.text for line in page.lines] == ["12+7=19"]
    # Without the rule the title is read as a line of digits and operators.
    module = sys.modules["hdr_expr.pipeline.recognize"]
    monkeypatch.setattr(module, "printed_words", lambda boxes: False)
    (before,) = recognize(page_image)
    assert len(before.lines) == 2 and before.lines[1].text == "12+7=19"


def _spaced(text: str, spaces: int) -> str:
    for op in "+×-÷=":
        text = text.replace(op, " " * spaces + op + " " * spaces)
    return text


@pytest.mark.parametrize("text", ["12+7=19", "84÷4=21", "(3+5)×2=16"])
def test_a_sum_written_with_wide_spaces_is_one_line(text: str) -> None:
    # Six spaces each side of every operator: gaps of about three digit heights, wider than a row's break. The
    # operators were lone lines of their own (no line at all) and the numbers three lines.
    from test_preprocess import draw_tokens, render

    _model_classes()
    from hdr_expr.pipeline import recognize

    wide = _spaced(text, 6)
    drawn = draw_tokens(wide, height=48, stroke=4, size=(48 * (len(wide) + 6), 160), origin=(120, 60))
    (page,) = recognize(render(drawn, noise=2))
    assert [line.text for line in page.lines] == [text]
    assert page.lines[0].correct is True


def test_sums_side_by_side_and_a_stray_mark_stay_apart() -> None:
    # Two whole sums far apart on one row are two lines; a dash far beyond a sum is no part of it.
    from test_preprocess import draw_tokens, render

    _model_classes()
    from hdr_expr.pipeline import recognize

    drawn = draw_tokens("2+3=5" + " " * 14 + "4+4=8", height=48, stroke=4, size=(1500, 160), origin=(100, 60))
    (page,) = recognize(render(drawn, noise=2))
    assert [line.text for line in page.lines] == ["2+3=5", "4+4=8"]
    drawn = draw_tokens("12+7=19" + " " * 12 + "-", height=48, stroke=4, size=(1300, 160), origin=(100, 60))
    (page,) = recognize(render(drawn, noise=2))
    assert [line.text for line in page.lines] == ["12+7=19"]


def _sum_by_hand(text: str, last: int = 0) -> tuple[np.ndarray, tuple[int, int, int, int]]:
    """``text`` drawn by hand on a 1000×300 canvas: its ink (float, 1 = ink) and the (x0, y0, x1, y1) extent of
    its last ``last`` tokens (all of them for 0), for marks drawn around or after them."""
    from test_preprocess import Drawn, draw_tokens

    page = Drawn(np.zeros((300, 1000), np.float32))
    boxes = [b for _, b in draw_tokens(text, height=48, stroke=4, canvas=page, origin=(100, 120)).boxes[-last:]]
    extent = (min(b[0] for b in boxes), min(b[1] for b in boxes),
              max(b[0] + b[2] for b in boxes), max(b[1] + b[3] for b in boxes))
    return page.ink.copy(), extent


def _ringed(text: str, answer_digits: int, ring: str) -> np.ndarray:
    """``text`` drawn by hand with its answer circled (a ring that runs into the '=' beside it) or boxed by hand."""
    from test_preprocess import render

    ink, (x0, y0, x1, y1) = _sum_by_hand(text, answer_digits)
    if ring == "circle":
        cv2.ellipse(ink, ((x0 + x1) // 2, (y0 + y1) // 2), ((x1 - x0) // 2 + 18, (y1 - y0) // 2 + 16), 0, 0, 360, 1.0, 4)
    else:
        corners = np.array([[x0 - 15, y0 - 12], [x1 + 14, y0 - 8], [x1 + 12, y1 + 12], [x0 - 12, y1 + 9]], np.int32)
        cv2.polylines(ink, [corners], True, 1.0, 4)
    return render(ink, noise=2)


@pytest.mark.parametrize("text, digits", [("12+7=19", 2), ("36-8=28", 2), ("125×4=500", 3)])
@pytest.mark.parametrize("ring", ["circle", "box"])
def test_an_answer_circled_or_boxed_by_hand(text: str, digits: int, ring: str) -> None:
    # The ring was read as a 0 around the digits ('12+7=0'), or with the '=' it runs into.
    _model_classes()
    from hdr_expr.pipeline import recognize

    (page,) = recognize(_ringed(text, digits, ring))
    assert [line.text for line in page.lines] == [text]


@pytest.mark.parametrize("text", ["12+7=19", "36-8=28", "5×6=30"])
def test_a_tick_after_a_sum_is_no_digit(text: str) -> None:
    # A pupil's tick (✓) after her answer was read as a last digit of it ('12+7=195', marked wrong).
    from test_preprocess import render

    _model_classes()
    from hdr_expr.pipeline import recognize

    ink, (_, y0, x1, y1) = _sum_by_hand(text)
    cv2.line(ink, (x1 + 30, y0 + 25), (x1 + 45, y1), 1.0, 4)
    cv2.line(ink, (x1 + 45, y1), (x1 + 80, y0 - 15), 1.0, 4)
    (read,) = recognize(render(ink, noise=2))
    assert [(line.text, line.correct) for line in read.lines] == [(text, True)]


@pytest.mark.parametrize("font", [cv2.FONT_HERSHEY_SCRIPT_SIMPLEX, cv2.FONT_HERSHEY_SIMPLEX])
@pytest.mark.parametrize("text, value", [("12+7=", "19"), ("84÷4=", "21")])
def test_a_question_mark_after_the_equals_asks_for_the_value(text: str, value: str, font: int) -> None:
    # '12+7=?' was read '12+7=7' (the classifier has no '?'), and marked wrong.
    from test_preprocess import render

    _model_classes()
    from hdr_expr.pipeline import recognize

    ink, (_, _, x1, y1) = _sum_by_hand(text)
    mark = np.zeros(ink.shape, np.uint8)
    cv2.putText(mark, "?", (x1 + 20, y1), font, 2.0 if font == cv2.FONT_HERSHEY_SCRIPT_SIMPLEX else 1.6, 255, 4)
    (read,) = recognize(render(np.maximum(ink, mark.astype(np.float32) / 255.0), noise=2))
    assert [(line.text, line.value, line.correct) for line in read.lines] == [(text, value, None)]


def test_a_zero_or_a_sum_is_no_ring() -> None:
    from test_preprocess import draw_tokens, render

    from hdr_expr.pipeline.preprocess import preprocess
    from hdr_expr.pipeline.marks import answer_rings

    for text in ("10+0=10", "(8+6)=14", "0.8×9=7.2"):
        mask = preprocess(render(draw_tokens(text, height=48, stroke=4, size=(700, 160)), noise=2)).mask
        assert not answer_rings(mask).any(), text


def test_printed_words_by_their_letters_not_by_handwriting() -> None:
    from hdr_expr.pipeline.recognize import printed_words

    # "Sums ok": S (tall), then x-height letters all 20 px high on the baseline at y = 60.
    title = [(0, 30, 20, 30), (24, 40, 18, 20), (46, 40, 18, 20), (68, 40, 26, 20), (98, 40, 16, 20),
             (130, 40, 18, 20), (150, 30, 16, 30)]
    assert printed_words(title)
    # 12+7=19 written by hand: digits 30 px tall with uneven bases; '+' and '=' small but at mid-height.
    hand = [(0, 31, 10, 29), (14, 30, 18, 31), (36, 38, 16, 16), (56, 29, 17, 30), (78, 42, 18, 9),
            (100, 31, 9, 30), (114, 28, 18, 32)]
    assert not printed_words(hand)
    # The same letters written unevenly (heights 16-24 px) are not printed.
    uneven = [(0, 30, 20, 30), (24, 44, 18, 16), (46, 36, 18, 24), (68, 42, 26, 18), (98, 38, 16, 22),
              (130, 40, 18, 20), (150, 30, 16, 30)]
    assert not printed_words(uneven)


@pytest.mark.parametrize("ink, kept", [(0.45, False), (1.0, True)])
def test_a_lone_stroke_far_fainter_than_the_writing_is_no_line(ink: float, kept: bool) -> None:
    # The shaded edge of a sheet inside a photo's frame was read as a line '1' of its own.
    from test_preprocess import draw_tokens, render

    _model_classes()
    from hdr_expr.pipeline import recognize

    drawn = draw_tokens("12+7=19", height=48, stroke=4, size=(520, 260), origin=(30, 80))
    cv2.line(drawn.ink, (470, 150), (474, 235), ink, 4, cv2.LINE_AA)  # a thin upright stroke, alone
    (page,) = recognize(render(drawn, seed=2, noise=2))
    assert [line.text for line in page.lines] == ["12+7=19"] + (["1"] if kept else [])


@pytest.mark.parametrize("written, lines", [
    ("2+3=5   4+4=8", ["2+3=5 ✓", "4+4=8 ✓"]), ("1) 2+3=5    2) 4+4=7", ["1) 2+3=5 ✓", "2) 4+4=7 ✗ (= 8)"]),
    ("1+1=2  2+2=4  3+3=6", ["1+1=2 ✓", "2+2=4 ✓", "3+3=6 ✓"])])
def test_sums_written_side_by_side_are_read_apart(written: str, lines: list[str]) -> None:
    # Closer than a row's break, they made one line with two '=' that did not parse.
    from test_preprocess import draw_tokens, render

    _model_classes()
    from hdr_expr.pipeline import recognize

    (page,) = recognize(render(draw_tokens(written, height=48, stroke=4), seed=1, noise=2))
    assert [line.summary() for line in page.lines] == lines


def test_soften_is_a_softmax_at_a_higher_temperature() -> None:
    from hdr_expr.pipeline.recognize import soften

    p = np.array([[0.99, 0.01, 0.0], [0.2, 0.5, 0.3]], np.float32)
    assert soften(p, 1.0) is p
    q = soften(p, 1.5)
    np.testing.assert_allclose(q.sum(axis=1), 1.0, rtol=1e-6)
    assert (q.argmax(axis=1) == p.argmax(axis=1)).all()
    # logits / 1.5: 0.99 vs 0.01 (odds 99) become odds 99 ** (1 / 1.5) = 21.4
    assert q[0, 0] / q[0, 1] == pytest.approx(99 ** (1 / 1.5), rel=1e-4)
    assert q[0, 2] < 1e-12 and q[1, 1] < p[1, 1]


@pytest.mark.parametrize("text, speck", [("5×8=40", 0), ("15-6=9", 3), ("12+7=19", 5)])
def test_a_speck_before_a_number_is_no_decimal_point(text: str, speck: int) -> None:
    # A speck of dirt on the baseline before a number was read as its point ('.5×8=40', '15-.6=9').
    from test_preprocess import render

    _model_classes()
    from hdr_expr.pipeline import recognize

    ink, (x0, _, _, y1) = _sum_by_hand(text, len(text) - speck)  # the speck goes before symbol `speck`
    cv2.circle(ink, (x0 - 12, y1 - 3), 2, 1.0, -1)
    (read,) = recognize(render(ink, noise=2))
    assert [line.text for line in read.lines] == [text]


@pytest.mark.parametrize("text", ["3×4-1=", "12+7=19"])
def test_a_point_that_ends_a_line_is_no_decimal_point(text: str) -> None:
    # '3×4-1=.' and '-35-(24+40)=-99.' did not parse: a speck (or a full stop) after the last symbol.
    from test_preprocess import render

    _model_classes()
    from hdr_expr.pipeline import recognize

    ink, (_, _, x1, y1) = _sum_by_hand(text)
    cv2.circle(ink, (x1 + 12, y1 - 3), 3, 1.0, -1)
    (read,) = recognize(render(ink, noise=2))
    assert [(line.text, line.error) for line in read.lines] == [(text, None)]


def _line_of(text: str, x: int, y: int, h: int, darkness: np.ndarray, mask: np.ndarray, level: int):
    """A LineResult of ``text`` with symbols h tall from (x, y), their ink drawn into the maps at ``level``."""
    from hdr_expr.pipeline.results import LineResult, SymbolResult

    symbols = []
    for k, ch in enumerate(text):
        box = (x + k * h, y, max(h // 2, 1), h)
        mask[y : y + h, box[0] : box[0] + box[2]] = True
        darkness[y : y + h, box[0] : box[0] + box[2]] = level
        symbols.append(SymbolResult(ch, 0.9, box))
    return LineResult(text, (x, y, len(text) * h, h), tuple(symbols), 0.9)


def test_lines_far_smaller_and_fainter_than_the_writing_are_scraps() -> None:
    # What a faint grid leaves is read as lines of 1s and dashes, small and faint beside the writing.
    from types import SimpleNamespace

    from hdr_expr.pipeline.recognize import _without_scraps

    dark = np.zeros((600, 800), np.uint8)
    mask = np.zeros((600, 800), bool)
    writing = _line_of("12+7=19", 100, 100, 60, dark, mask, 120)
    scraps = [_line_of("1", 50, 300, 12, dark, mask, 50), _line_of("1-1", 300, 400, 20, dark, mask, 60),
              _line_of("7", 600, 500, 8, dark, mask, 110)]  # tiny: scraps however dark
    smaller = _line_of("3+4=7", 100, 250, 40, dark, mask, 110)  # smaller writing, as dark: stays
    fainter = _line_of("8-2=6", 400, 200, 50, dark, mask, 40)  # fainter writing, as tall: stays
    pre = SimpleNamespace(darkness=dark, mask=mask)
    kept = _without_scraps([writing, *scraps, smaller, fainter], pre)
    assert [line.text for line in kept] == ["12+7=19", "3+4=7", "8-2=6"]
    assert _without_scraps([writing, smaller], pre) == [writing, smaller]
    # A desk's grain beside a photographed sheet: a long line, as tall as the writing from end to end, of
    # symbols a tenth as tall (a ruled page's; the rule above counts only short lines).
    grain = _line_of("×1188.=61.71-1×7×.××43÷×7", 30, 520, 6, dark, mask, 45)
    grain = dataclasses.replace(grain, box=(30, 470, 700, 80))
    assert [line.text for line in _without_scraps([writing, smaller, grain], pre)] == ["12+7=19", "3+4=7"]
    operators = _line_of("1-(-2)", 100, 350, 50, dark, mask, 120)  # writing with many flat symbols stays
    flat = [dataclasses.replace(s, box=(s.box[0], s.box[1] + 22, s.box[2], 6)) if s.label == "-" else s
            for s in operators.symbols]
    operators = dataclasses.replace(operators, symbols=tuple(flat))
    assert _without_scraps([writing, operators], pre) == [writing, operators]


def test_a_short_line_of_soft_edged_ink_is_no_writing() -> None:
    # A desk's or a shadow's blurred edge left in a photo's mask reads as a line of a digit or two ('6', '11'),
    # as dark and as tall as the writing; what gives it away is its edge: a ramp many pixels wide, where a pen's
    # stroke steps from paper to ink within a pixel or two. Soft writing a whole line long stays.
    from types import SimpleNamespace

    from hdr_expr.pipeline.recognize import _edge_sharpness, _without_scraps

    dark = np.zeros((600, 800), np.uint8)
    mask = np.zeros((600, 800), bool)
    writing = _line_of("19-3=18", 100, 100, 60, dark, mask, 120)

    def soft(text: str, x: int, y: int):
        line = _line_of(text, x, y, 60, np.zeros_like(dark), np.zeros_like(mask), 120)
        ramp = np.zeros(dark.shape, np.float32)
        for sx, sy, sw, sh in (sym.box for sym in line.symbols):
            ramp[sy : sy + sh, sx : sx + sw] = 120
        ramp = cv2.GaussianBlur(ramp, (0, 0), 5)
        mask[ramp > 30] = True
        np.maximum(dark, ramp.astype(np.uint8), out=dark)
        return line

    blur, long_blur = soft("6", 600, 300), soft("4+5=9+8", 100, 420)
    pre = SimpleNamespace(darkness=dark, mask=mask)
    assert _edge_sharpness(blur, pre) < 0.3 * _edge_sharpness(writing, pre)
    assert [line.text for line in _without_scraps([writing, blur, long_blur], pre)] == ["19-3=18", "4+5=9+8"]


def test_faint_lines_running_to_the_photos_edge_are_scraps_however_tall() -> None:
    # A pencil page photographed with its right side vignetted: the darkening paper along the edge is read as
    # short lines of small marks scattered over a writing line's height or more ('7÷2', '4×4', '3÷3'), faint
    # beside the writing. Faint writing that stops short of the edge stays.
    from types import SimpleNamespace

    from hdr_expr.pipeline.recognize import _without_scraps

    dark = np.zeros((600, 800), np.uint8)
    mask = np.zeros((600, 800), bool)
    writing = _line_of("19-3=18", 100, 100, 60, dark, mask, 52)
    edge = _line_of("7÷2", 740, 90, 20, dark, mask, 30)
    edge = dataclasses.replace(edge, box=(740, 80, 60, 80))  # its marks spread over 80 px, to the edge (800)
    fainter = _line_of("8-2=6", 400, 300, 50, dark, mask, 30)  # faint writing within the page: stays
    pre = SimpleNamespace(darkness=dark, mask=mask)
    assert [line.text for line in _without_scraps([writing, edge, fainter], pre)] == ["19-3=18", "8-2=6"]
    dark_edge = _line_of("7÷2", 740, 400, 20, dark, mask, 50)  # as dark as the writing: stays
    dark_edge = dataclasses.replace(dark_edge, box=(740, 390, 60, 80))
    assert [line.text for line in _without_scraps([writing, dark_edge], pre)] == ["19-3=18", "7÷2"]
    # In a mask turned level the photo's edge runs inside it (preprocess.levelled): there too.
    inner = _line_of("7÷2", 600, 450, 20, dark, mask, 30)
    inner = dataclasses.replace(inner, box=(600, 440, 60, 80))
    assert [line.text for line in _without_scraps([writing, inner], pre)] == ["19-3=18", "7÷2"]
    edge = np.zeros_like(mask)
    edge[:, 658:661] = True
    turned = SimpleNamespace(darkness=dark, mask=mask, edge=edge)
    assert [line.text for line in _without_scraps([writing, inner], turned)] == ["19-3=18"]


def test_faint_pencil_on_a_sheet_photographed_on_a_desk(symbols_dir, mnist_dir) -> None:
    # The benchmark's seed-14 image 207 (made by the project's generator, MNIST test digits): faint pencil on a
    # small photo of a sheet on a brown desk. The desk's blurred edge, just inside what was found of it, set
    # the thresholds above the pencil (read '1', '44-1', '2'); they are now set without a margin around it.
    from hdr_expr.datasets.expressions import load_material, make_expression
    from hdr_expr.pipeline.recognize import Recognizer

    sample = make_expression(load_material(symbols_dir.parents[1]), 14, 207)
    assert sample.truth.text == "4+2-5=" and sample.condition.photo
    page = Recognizer().read_image(sample.image)
    assert [line.text for line in page.lines] == ["4+2-5="]


def test_a_sum_on_its_side_whose_crops_read_as_well_either_end_up(symbols_dir, mnist_dir) -> None:
    # The benchmark's seed-39 image 10 (`88+73=`) turned a quarter clockwise: its crops read best turned 270°,
    # where the sum reads '=82+88' (upside down). On its side, the other end up is read too and the likelier kept;
    # the boxes still hold the symbols' ink on the page as given.
    from hdr_expr.datasets.expressions import load_material, make_expression
    from hdr_expr.pipeline.recognize import Recognizer

    sample = make_expression(load_material(symbols_dir.parents[1]), 39, 10)
    assert sample.truth.text == "88+73="
    turned = np.ascontiguousarray(np.rot90(sample.image, -1))
    page = Recognizer().read_image(turned)
    assert [line.text for line in page.lines] == ["88+73="] and page.turned == 90
    ink = turned.min(axis=2) < 128
    for sym in page.lines[0].symbols:
        x, y, bw, bh = sym.box
        assert bw > bh or not sym.label.isdigit(), sym  # the digits lie on their sides on the page as given
        assert ink[y : y + bh, x : x + bw].any(), sym


def test_a_fine_grid_under_faint_pencil_is_erased_line_by_line(symbols_dir, mnist_dir) -> None:
    # The benchmark's seed-44 image 303 (the project's generator): pencil on squared paper, the writing a tenth of
    # a 1600×960 photo, the grid as dark as the pencil and its squares 12 rows of the analysis copy. Lines beside
    # which the grid's pitch put a line were only taken on less evidence from a pitch of 15 rows, and a grid line
    # broken by the JPEG was thrown out as bars in a row: a third of the grid stayed, read as lines of hundreds of
    # scraps (84 s). Now every grid line goes.
    from hdr_expr.datasets.expressions import load_material, make_expression
    from hdr_expr.pipeline.recognize import Recognizer

    sample = make_expression(load_material(symbols_dir.parents[1]), 44, 303)
    assert sample.truth.text == "8+157-6=159" and sample.condition.tags["paper"] == "squared"
    page = Recognizer().read_image(sample.image)
    assert [line.text for line in page.lines] == ["8+157-6=159"]


@pytest.mark.parametrize("where", ["before", "after"])
def test_a_short_mark_far_out_on_the_row_is_no_symbol(where: str) -> None:
    # The sheet's edge or a smudge in the margin, on a line's row far from its writing, was read as one more
    # symbol ('127+58=85' for '27+58=85', '49-1=4' for '49-1=').
    from test_preprocess import render

    _model_classes()
    from hdr_expr.pipeline import recognize

    text = "12+7=19" if where == "before" else "12+7="
    ink, (x0, y0, x1, y1) = _sum_by_hand(text)
    x = x0 - 90 if where == "before" else x1 + 110
    cv2.line(ink, (x, y1 - 14), (x + 2, y1 - 2), 1.0, 4)  # a short stroke, well under the digits' height
    (read,) = recognize(render(ink, noise=2))
    assert [line.text for line in read.lines] == [text]


def test_an_answer_written_far_out_is_still_read() -> None:
    from test_preprocess import Drawn, draw_tokens, render

    _model_classes()
    from hdr_expr.pipeline import recognize

    ink, (_, _, x1, _) = _sum_by_hand("3+4=")
    page = draw_tokens("7", height=48, stroke=4, canvas=Drawn(ink), origin=(x1 + 160, 120))
    (read,) = recognize(render(page.ink, noise=2))
    assert [(line.text, line.correct) for line in read.lines] == [("3+4=7", True)]


@pytest.mark.parametrize("side", ["left", "right"])
def test_a_sure_mark_cut_off_by_the_image_border_far_out_is_no_symbol(side: str, monkeypatch) -> None:
    # A photographed card's dark edge, as tall as the digits and as sure a '1' as any, at the image's border far
    # from the writing: read as one more digit ('15+73=' for '5+73='). Cut off by the border there, it is left
    # out where the line parses without it; drawn apart from the border, a sure full-height mark stays.
    from test_preprocess import render

    _model_classes()
    from hdr_expr.pipeline import recognize

    rec = sys.modules["hdr_expr.pipeline.recognize"]  # the package exports a function of that name
    ink, (x0, y0, x1, y1) = _sum_by_hand("27+58=85")
    ink = ink[:, x0 - 80: x1 + 80]
    col = slice(0, 5) if side == "left" else slice(ink.shape[1] - 5, ink.shape[1])
    ink[y0 + 2: y1 - 2, col] = 1.0  # a straight dark bar the height of the digits, cut by the border
    image = render(ink, noise=2)
    (read,) = recognize(image)
    assert [line.text for line in read.lines] == ["27+58=85"]
    monkeypatch.setattr(rec, "FAR_MARK_AT_EDGE", False)
    (read,) = recognize(image)
    assert [line.text for line in read.lines] != ["27+58=85"]


@pytest.mark.parametrize("left, right", [(0.3, 0.1), (0.45, 0.05), (0.7, 0.0)])
def test_a_crossed_seven_stays_a_seven(left: float, right: float) -> None:
    # A 7 crossed as many people write it, its bar ``left`` line heights out left of the stem. Out as far as
    # the top bar starts (0.7) it is a straight bar at the line's middle at the blob's end, as a '-' run into a
    # digit's side is, and segment.bar_tail_cuts offers that cut; the reading keeps the 7 whole. (Further out
    # still, 0.75 line heights and more, it is read '-7': a known limit, see README.)
    from test_preprocess import Drawn, draw_tokens, render

    from hdr_expr.pipeline import recognize

    _model_classes()
    for before in ("", "12+"):
        canvas = draw_tokens(before, height=60, stroke=4, size=(500, 160)) if before else Drawn(
            np.zeros((160, 500), np.float32))
        x = (canvas.boxes[-1][1][0] + canvas.boxes[-1][1][2] + 25) if before else 40
        top, height = 50, 60
        cv2.line(canvas.ink, (x, top), (x + 34, top), 1.0, 4)
        cv2.line(canvas.ink, (x + 34, top), (x + 14, top + height), 1.0, 4)
        cv2.line(canvas.ink, (int(x + 24 - left * height), top + 30), (int(x + 24 + right * height), top + 30), 1.0, 4)
        drawn = draw_tokens("+35", height=60, stroke=4, origin=(x + 70, top + height), canvas=canvas)
        (page,) = recognize(render(drawn))
        assert [line.text for line in page.lines] == [f"{before}7+35"]
