"""Answers marked by hand (pipeline/marks.py: answer_rings, hand_underlines): circled, boxed, underlined once or
twice, the mark run into the writing; what looks a little like a mark left alone; generated lines read end to
end (datasets/marked.py, `hdr-expr bench expressions --marked`)."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from hdr_expr.pipeline.marks import answer_rings, hand_underlines
from hdr_expr.pipeline.segment import segment_page


def _read(ink: np.ndarray) -> list[str]:
    from test_preprocess import render

    from hdr_expr.pipeline import recognize

    (page,) = recognize(render(ink, noise=2))
    return [line.text for line in page.lines]


def _mask(ink: np.ndarray) -> np.ndarray:
    from test_preprocess import render

    from hdr_expr.pipeline.preprocess import preprocess

    return preprocess(render(ink, noise=2)).mask


@pytest.mark.parametrize("sweep", [360, 335])
def test_a_ring_run_through_the_equals_and_into_the_answer(sweep: int) -> None:
    # The ring joined the '=' and the answer's digits into one blob: its hole held no digit whole, so it was
    # left, and read as digits ('12+7=0', '12+7=(19)'). Drawn closed, and with its ends 25° apart.
    from test_recognize import _sum_by_hand

    ink, (x0, y0, x1, y1) = _sum_by_hand("12+7=19", 2)
    centre = ((x0 + x1) // 2, (y0 + y1) // 2)
    cv2.ellipse(ink, centre, ((x1 - x0) // 2 + 26, (y1 - y0) // 2 + 12), 0, 100, 100 + sweep, 1.0, 4)
    assert _read(ink) == ["12+7=19"]


@pytest.mark.parametrize("rows, gap", [(1, 6), (1, -2), (2, 4)])
def test_an_answer_underlined_by_hand(rows: int, gap: int) -> None:
    # Read as written (a '-' in the answer or part of a digit would spoil it). This drawn hand already read so
    # before hand_underlines; the generated lines below (25, 89, 32, 168) did not.
    from test_recognize import _sum_by_hand

    ink, (x0, _, x1, y1) = _sum_by_hand("12+7=19", 2)
    for k in range(rows):  # as long as the answer is wide (a printed blank is longer), bowed and askew
        t = np.linspace(0.0, 1.0, 12)
        xs = x0 - 4 + (x1 - x0 + 10) * t
        ys = y1 + gap + 10 * k + 3 * np.sin(np.pi * t) - 3 * t
        cv2.polylines(ink, [np.stack([xs, ys], 1).astype(np.int32)], False, 1.0, 4)
    assert _read(ink) == ["12+7=19"]


def test_feet_fraction_bars_and_column_bars_are_no_underlines() -> None:
    from test_preprocess import draw_tokens

    # A 2's foot is flat and low; so is a line's last digit's.
    m = _mask(draw_tokens("22+2=24", height=48, stroke=4, size=(700, 160)).ink)
    assert not hand_underlines(m, segment_page(m)).any()
    # A bar with writing under it: a fraction, or a column sum's answer under its bar.
    ink = np.zeros((260, 500), np.float32)
    draw_tokens("3", height=48, stroke=4, canvas=_canvas(ink), origin=(200, 90))
    cv2.line(ink, (180, 108), (260, 108), 1.0, 4)
    draw_tokens("4", height=48, stroke=4, canvas=_canvas(ink), origin=(200, 175))
    m = _mask(ink)
    assert not hand_underlines(m, segment_page(m)).any()


def _canvas(ink: np.ndarray):
    from test_preprocess import Drawn

    return Drawn(ink)


# Lines as `hdr-expr bench expressions --marked --seed S` makes them: rings and a box run into the '=' or the
# answer (seed 1: 23, 159, 44, 136), underlines run into the answer's feet (25, 89), double underlines (32, 168;
# seed 3, 244: its two strokes run together).
@pytest.mark.parametrize("seed,index", [(1, 23), (1, 159), (1, 44), (1, 136), (1, 25), (1, 89), (1, 32), (1, 168),
                                        (3, 244)])
def test_a_generated_marked_line_is_read_as_written(shared_dir, seed, index):
    from hdr_expr.datasets.expressions import load_material
    from hdr_expr.datasets.marked import make_marked_line
    from hdr_expr.pipeline.recognize import Recognizer

    sample = make_marked_line(load_material(shared_dir), seed, index)
    page = Recognizer().read_image(sample.image)
    assert [line.text for line in page.lines] == [sample.truth.text]


# Digits that closing makes loops of, read as rings before a chord across the loop ruled them out: a 7 with a bar
# (seed 1, 6), a 2 ending its line (106, 165).
@pytest.mark.parametrize("index", [6, 106, 165])
def test_digits_are_no_rings(shared_dir, index):
    from hdr_expr.datasets.expressions import load_material
    from hdr_expr.datasets.marked import make_marked_line
    from hdr_expr.pipeline.preprocess import preprocess
    from hdr_expr.pipeline.recognize import MIN_STROKE, WORK_STROKE

    sample = make_marked_line(load_material(shared_dir), 1, index)
    assert sample.condition.tags["marked"] in ("underline", "double")
    pre = preprocess(sample.image, max_stroke=WORK_STROKE, min_stroke=MIN_STROKE)
    assert not answer_rings(pre.mask).any()
