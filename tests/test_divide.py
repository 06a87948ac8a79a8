"""pipeline.divide: a ÷ whose dots blur into its bar in the mask, told from a + by the darkness map."""

from __future__ import annotations

import cv2
import numpy as np

from hdr_expr.pipeline.divide import dots_apart


def _darkness(draw, blur: float = 1.6, scale: float = 200.0) -> np.ndarray:
    ink = np.zeros((60, 60), np.float32)
    draw(ink)
    return np.clip(cv2.GaussianBlur(ink, (0, 0), blur) * scale, 0, 255).astype(np.uint8)


def _divide(ink: np.ndarray) -> None:
    cv2.line(ink, (18, 30), (42, 30), 1.0, 3)
    cv2.circle(ink, (30, 23), 3, 1.0, -1)
    cv2.circle(ink, (30, 37), 3, 1.0, -1)


def _plus(ink: np.ndarray) -> None:
    cv2.line(ink, (18, 30), (42, 30), 1.0, 3)
    cv2.line(ink, (30, 19), (30, 41), 1.0, 3)


def _box(dark: np.ndarray, level: float) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(dark >= level)
    return int(xs.min()), int(ys.min()), int(xs.max() - xs.min() + 1), int(ys.max() - ys.min() + 1)


def test_dots_run_into_the_bar_in_the_mask_but_part_in_the_darkness():
    dark = _darkness(_divide)
    mask_level = 0.25 * dark.max()
    n, _ = cv2.connectedComponents((dark >= mask_level).view(np.uint8))
    assert n - 1 == 1  # one blob in the mask: it reads as a '+'
    assert dots_apart(dark, _box(dark, mask_level))


def test_a_plus_never_parts_and_faint_ink_is_not_judged():
    dark = _darkness(_plus)
    assert not dots_apart(dark, _box(dark, 0.25 * dark.max()))
    faint = _darkness(_divide, scale=40.0)
    assert not dots_apart(faint, _box(faint, 0.25 * faint.max()))
    assert not dots_apart(np.zeros((20, 20), np.uint8), (0, 0, 20, 20))


def _plus_with_a_pale_upright(ink: np.ndarray) -> None:
    """A '+' whose upright stroke was drawn lighter than its bar, heaviest at its two ends (a pen's pressure)."""
    cv2.line(ink, (18, 30), (42, 30), 1.0, 3)
    cv2.line(ink, (30, 15), (30, 45), 0.45, 3)
    cv2.line(ink, (30, 15), (30, 20), 1.0, 3)
    cv2.line(ink, (30, 40), (30, 45), 1.0, 3)


def test_a_plus_with_a_pale_upright_parts_too():
    # What the darkness map cannot tell: such a '+' parts into a bar and two marks as a '÷' does. The
    # recognizer takes it for a '÷' only where the classifier sees one as possible (recognize.DIVIDE_MIN_P).
    dark = _darkness(_plus_with_a_pale_upright)
    assert dots_apart(dark, _box(dark, 0.25 * dark.max()))


def test_dots_the_mask_dropped_around_a_bar_read_as_minus():
    # Dots tapped with a fine point beside a thick bar: too small for the mask's speck limit, which keeps the bar
    # alone (read as '-'); the darkness map still shows one above and one below its middle. A bar alone, or with
    # a speck on one side only, stays a '-'.
    def minus(ink: np.ndarray) -> None:
        cv2.line(ink, (18, 30), (42, 30), 1.0, 5)

    def one_speck(ink: np.ndarray) -> None:
        minus(ink)
        cv2.circle(ink, (30, 39), 2, 1.0, -1)

    def fine_dots(ink: np.ndarray) -> None:
        one_speck(ink)
        cv2.circle(ink, (30, 21), 2, 1.0, -1)

    bar = _box(_darkness(minus, blur=1.0), 100.0)
    assert dots_apart(_darkness(fine_dots, blur=1.0), bar)
    assert not dots_apart(_darkness(minus, blur=1.0), bar)
    assert not dots_apart(_darkness(one_speck, blur=1.0), bar)


def test_a_faint_dot_that_parts_from_the_bar_only_between_the_coarse_levels():
    # Measured from a photo: the top dot (88 of the bar's 187) touches the bar through a pixel of 81, so it is
    # joined at 40% of the darkest ink and gone at 50%; at 45% it stands apart. Bars read as '-' are cut every 5%.
    from hdr_expr.pipeline.divide import FINE_LEVELS

    dark = np.zeros((40, 40), np.uint8)
    dark[19:22, 8:32] = 187
    dark[13:15, 18:21] = 88
    dark[15:19, 19] = 81
    dark[25:27, 18:20] = 95
    bar = (8, 19, 24, 3)
    assert not dots_apart(dark, bar)
    assert dots_apart(dark, bar, FINE_LEVELS)


def test_a_sloppy_divide_with_faint_dots_off_centre_and_far_from_the_bar():
    # Measured from photos: a '÷' whose top dot sits over the bar's left end and whose bottom dot lies 9 px
    # under it (a bar 26 px wide), and one whose dots are a third as dark as its bar. Both were read as '-'.
    from hdr_expr.pipeline.divide import FINE_LEVELS

    far = np.zeros((70, 40), np.uint8)
    far[30:36, 6:32] = 200
    far[19:24, 7:11] = 120
    far[45:50, 13:17] = 120
    assert dots_apart(far, (6, 30, 26, 6), FINE_LEVELS)
    faint = np.zeros((40, 40), np.uint8)
    faint[18:22, 8:30] = 200
    faint[14:16, 18:20] = 70
    faint[16, 18:20] = 30  # the blur joins the dot to the bar at a quarter of its darkness
    faint[24:26, 18:20] = 70
    assert dots_apart(faint, (8, 18, 22, 4), FINE_LEVELS)


def test_a_neighbours_strokes_beside_a_minus_are_no_dots():
    # '875 -2': the tail of the 2 runs under the bar's end and the 5's bowl reaches over it; cut off at the
    # edge of the looked-at area, such pieces are no dots.
    from hdr_expr.pipeline.divide import FINE_LEVELS

    dark = np.zeros((70, 50), np.uint8)
    dark[32:36, 10:36] = 200
    dark[0:24, 30:36] = 150  # a stroke of the next symbol coming down to the bar's right end
    dark[44:70, 12:17] = 150  # one reaching up from below at its left end
    assert not dots_apart(dark, (10, 32, 26, 4), FINE_LEVELS)


def test_dots_that_part_from_the_bar_at_different_levels():
    # Measured from a photo ('-4÷((4-136)/3)='): the top dot, a short dash touching the bar, parts from it only
    # at 55-65% of the bar's darkness; the faint bottom dot shows only under a third of it, where the top one is joined.
    from hdr_expr.pipeline.divide import FINE_LEVELS

    dark = np.zeros((50, 40), np.uint8)
    dark[22:28, 6:32] = 158
    dark[16:20, 15:21] = 110
    dark[20:22, 17:19] = 80  # where the dash touches the bar
    dark[33:36, 17:20] = 50
    bar = (6, 22, 26, 6)
    assert not dots_apart(dark, bar, FINE_LEVELS)
    assert dots_apart(dark, bar, FINE_LEVELS, each_level=True)
    dark[33:36, 17:20] = 0  # one dot alone is no '÷'
    assert not dots_apart(dark, bar, FINE_LEVELS, each_level=True)


def test_slivers_of_a_chalk_plus_are_no_dots(monkeypatch):
    # A chalk '+' whose upright is paler than its bar but for a grain or two: cut at the grains' level it leaves a
    # bar with a 1×2 px sliver above and below, which read as the dots of a '÷' (`38+8` read `38÷8`). A pen's
    # dots are about as wide as its bar is thick.
    import hdr_expr.pipeline.divide as divide

    dark = np.zeros((60, 60), np.uint8)
    dark[28:32, 18:43] = 200  # the bar, 4 px thick
    dark[14:28, 30] = dark[32:46, 30] = 110  # the pale upright
    dark[19:21, 30] = dark[39:41, 30] = 175  # a grain of chalk in each arm
    box = (18, 14, 25, 32)
    assert not dots_apart(dark, box)
    pen = dark.copy()
    pen[18:21, 29:32] = pen[39:42, 29:32] = 175  # dots 3 px across
    assert dots_apart(pen, box)
    monkeypatch.setattr(divide, "DOT_MIN_SHARE", 0.0)
    assert dots_apart(dark, box)  # as before
