"""The '=' whose second bar the ink mask lost: found in the darkness map, read as '='."""

from __future__ import annotations

import numpy as np

from hdr_expr.pipeline.equals import MIN_RATIO, bars_run_together, second_bar
from hdr_expr.pipeline.preprocess import preprocess


def _page(second: int | None = None, rule: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Darkness map with a bar at rows 40–42, columns 50–80; optionally a second bar ``second`` dark at rows
    50–52 (the same columns) and a ruled line ``rule`` dark across the whole width at rows 50–51."""
    dark = np.zeros((100, 140), np.uint8)
    dark[40:43, 50:81] = 200
    if second is not None:
        dark[50:53, 52:79] = second
    if rule is not None:
        dark[50:52, :] = np.maximum(dark[50:52, :], rule)
    mask = dark >= 150
    return dark, mask


BOX = (50, 40, 31, 3)


def test_a_faint_parallel_bar_outside_the_mask_is_found():
    dark, mask = _page(second=120)
    assert not mask[50:53].any()
    assert second_bar(dark, mask, BOX, 3.0) >= MIN_RATIO


def test_a_lone_bar_has_no_partner():
    dark, mask = _page()
    assert second_bar(dark, mask, BOX, 3.0) == 0.0


def test_a_bar_too_faint_to_be_ink_is_no_partner():
    dark, mask = _page(second=40)  # a fifth of the kept bar: a shadow's edge, paper texture
    assert second_bar(dark, mask, BOX, 3.0) == 0.0


def test_a_ruled_line_running_past_the_bar_is_no_partner():
    dark, mask = _page(rule=120)
    assert second_bar(dark, mask, BOX, 3.0) == 0.0


def test_a_lost_bar_drawn_longer_at_one_end_is_still_a_partner():
    # People draw an '=''s lower bar longer than the upper one: past its right end only, it is still its partner.
    dark, mask = _page()
    dark[50:53, 52:100] = 120
    assert second_bar(dark, mask, BOX, 3.0) >= MIN_RATIO
    dark[50:53, 20:52] = 120  # ... past both ends, a line
    assert second_bar(dark, mask, BOX, 3.0) == 0.0


def test_ink_already_in_the_mask_belongs_to_another_symbol():
    dark, mask = _page(second=120)
    mask[50:53, 52:79] = True
    assert second_bar(dark, mask, BOX, 3.0) == 0.0


def _blurred_pair(gap_darkness: int) -> np.ndarray:
    """Darkness of two 3-px bars (rows 40-42 and 45-47, columns 50-80) whose 2-px gap is ``gap_darkness`` dark:
    the mask (darkness ≥ 60) holds them as one blob when the gap is that dark, as a small '=' under blur."""
    dark = np.zeros((100, 140), np.uint8)
    dark[40:43, 50:81] = 200
    dark[45:48, 50:81] = 180
    dark[43:45, 50:81] = gap_darkness
    return dark


def test_two_bars_the_mask_ran_together_part_in_the_darkness():
    dark = _blurred_pair(90)
    assert (dark[40:48, 50:81] >= 60).all()  # one blob in the mask
    assert bars_run_together(dark, (50, 40, 31, 8), 3.0)


def test_a_thick_bar_is_no_pair_of_bars():
    dark = _blurred_pair(200)  # the gap as dark as the bars: one thick stroke
    assert not bars_run_together(dark, (50, 40, 31, 8), 3.0)
    dark[43:45, 50:81] = 175  # a shade lighter in the middle (a marker's edge), no valley worth the name
    assert not bars_run_together(dark, (50, 40, 31, 8), 3.0)


def test_a_blob_as_thin_as_one_stroke_is_never_parted():
    dark = _blurred_pair(90)
    assert not bars_run_together(dark, (50, 40, 31, 8), 6.0)  # 8 px tall: under 1.6 strokes of 6 px


def test_preprocess_keeps_the_darkness_it_thresholded():
    image = np.full((80, 120, 3), 255, np.uint8)
    image[30:34, 20:100] = 40  # a dark bar
    image[44:48, 22:98] = 200  # a faint one below it (a quarter as dark), too faint for the mask
    pre = preprocess(image)
    assert pre.darkness is not None and pre.darkness.shape == pre.mask.shape
    assert pre.mask[30:34, 30:90].all() and not pre.mask[44:48].any()
    assert pre.darkness[46, 30:90].min() > 0.2 * pre.darkness[32, 30:90].max()
    # Twice as dark (0.4 of the dark bar), it is a part of its own written lighter: found (preprocess._faint_parts).
    image[44:48, 22:98] = 170
    assert preprocess(image).mask[45:47, 30:90].all()


def test_the_recognizer_reads_a_bar_with_a_lost_partner_as_equals():
    from types import SimpleNamespace

    from hdr_expr.pipeline.preprocess import Preprocessed
    from hdr_expr.pipeline.recognize import Recognizer
    from hdr_expr.symbols import SYMBOL_CLASSES

    classes = list(SYMBOL_CLASSES)
    rec = Recognizer.__new__(Recognizer)
    rec.classes = classes
    rec._index = {c: i for i, c in enumerate(classes)}
    p = np.full(len(classes), 0.001, np.float32)
    p[classes.index("-")], p[classes.index("=")] = 0.95, 0.03
    bar = SimpleNamespace(box=BOX)
    for second, expected in ((120, "="), (None, "-")):
        dark, mask = _page(second=second)
        pre = Preprocessed(mask, False, 0.0, 3.0, 0.8, 0, dark)
        ((_, q),) = rec._restore_from_darkness([(bar, p)], pre)
        assert classes[int(np.argmax(q))] == expected
        assert abs(q.sum() - p.sum()) < 1e-6
    # The '-' stays a strong second (a line that then holds two '=' is read back with it).
    dark, mask = _page(second=120)
    ((_, q),) = rec._restore_from_darkness([(bar, p)], Preprocessed(mask, False, 0.0, 3.0, 0.8, 0, dark))
    assert sorted(q)[-2] == q[classes.index("-")] and q[classes.index("-")] >= 0.05
    # Both bars in the mask, run together: the darkness between them still parts them.
    dark = _blurred_pair(90)
    pre = Preprocessed(dark >= 60, False, 0.0, 3.0, 0.8, 0, dark)
    ((_, q),) = rec._restore_from_darkness([(SimpleNamespace(box=(50, 40, 31, 8)), p)], pre)
    assert classes[int(np.argmax(q))] == "="
