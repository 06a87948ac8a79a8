"""pipeline.strokes: skeletons, pen strokes by good continuation, and symbols written over each other shared out."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from hdr_expr.pipeline.strokes import stroke_splits, strokes, thin


def _canvas(h: int = 80, w: int = 100) -> np.ndarray:
    return np.zeros((h, w), np.uint8)


def _trim(*masks: np.ndarray) -> list[np.ndarray]:
    """The masks cut to the box of their union's ink, as the segmenter crops a blob."""
    ys, xs = np.nonzero(np.logical_or.reduce(masks))
    return [m[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1] > 0 for m in masks]


def _neighbours(skel: np.ndarray) -> np.ndarray:
    k = np.ones((3, 3), np.float32)
    k[1, 1] = 0
    return cv2.filter2D(skel.astype(np.float32), -1, k, borderType=cv2.BORDER_CONSTANT)


def test_thin_leaves_a_one_pixel_line_through_a_thick_stroke() -> None:
    m = _canvas()
    cv2.line(m, (10, 40), (90, 40), 1, 9)
    skel = thin(m > 0)
    assert skel.any() and not (skel & ~(m > 0)).any()  # inside the ink
    assert (skel.sum(axis=0) <= 1).all()  # one pixel thick
    xs = np.nonzero(skel.any(axis=0))[0]
    assert xs[-1] - xs[0] >= 70  # and as long as the stroke, less its round ends
    assert (_neighbours(skel)[skel] >= 1).all()  # all in one piece: no pixel on its own


def test_a_plus_is_two_strokes_running_straight_through_their_crossing() -> None:
    m = _canvas(100, 100)
    cv2.line(m, (10, 50), (90, 50), 1, 6)
    cv2.line(m, (50, 10), (50, 90), 1, 6)
    found = strokes(m > 0, 6.0)
    assert len(found) == 2
    spans = sorted((np.ptp(np.nonzero(s)[1]), np.ptp(np.nonzero(s)[0])) for s in found)
    # One runs across (wide, flat), the other down (narrow, tall): each is one whole bar, not two arms.
    assert spans[0][0] <= 12 and spans[0][1] >= 60
    assert spans[1][0] >= 60 and spans[1][1] <= 12


def test_a_ring_and_a_loop_crossing_itself_are_one_stroke_each() -> None:
    ring = _canvas(100, 100)
    cv2.ellipse(ring, (50, 50), (25, 35), 0, 0, 360, 1, 6)
    assert len(strokes(ring > 0, 6.0)) == 1
    # A looped 2: down the back, round a small loop that crosses the stroke, and off along the foot.
    two = _canvas(100, 100)
    pts = [(25, 20), (60, 15), (70, 35), (35, 75), (25, 85), (40, 90), (45, 75), (30, 70), (80, 88)]
    cv2.polylines(two, [np.array(pts, np.int32)], False, 1, 6)
    assert len(strokes(two > 0, 6.0)) == 1


@pytest.mark.parametrize("x", [51, 52, 53, 54])
def test_a_one_drawn_through_a_zero_is_shared_out_into_the_two(x: int) -> None:
    zero, one = _canvas(100, 110), _canvas(100, 110)
    cv2.ellipse(zero, (70, 50), (25, 32), 0, 0, 360, 1, 6)
    cv2.line(one, (x, 2), (x + 3, 98), 1, 6)  # through the zero's top and its foot, near its left side
    zero, one = _trim(zero, one)
    blob = zero | one
    splits = stroke_splits(blob, 6.0, min_height=40)
    assert splits

    def iou(a: np.ndarray, b: np.ndarray) -> float:
        return float((a & b).sum()) / float((a | b).sum())

    best = max(splits, key=lambda pieces: min(iou(pieces[0], one), iou(pieces[-1], zero)))
    assert len(best) == 2
    # Ink near a crossing goes to both, so a piece holds a little of the other symbol: IoU 0.66-0.82 here.
    assert iou(best[0], one) > 0.6 and iou(best[1], zero) > 0.6
    assert (best[0] & best[1]).any()
    assert ((best[0] | best[1]) == blob).all()  # nothing lost


def test_nothing_is_shared_out_of_one_stroke() -> None:
    ring = _canvas(100, 100)
    cv2.ellipse(ring, (50, 50), (25, 35), 0, 0, 360, 1, 6)
    assert stroke_splits(*_trim(ring), 6.0, min_height=30) == []
