"""The stroke synthesizer: natural proportions, styles, determinism, normalized output, augmentation."""

from __future__ import annotations

import dataclasses
import time

import cv2
import numpy as np
import pytest

from hdr_expr.datasets.synth import (
    STYLES,
    TRAIN,
    WIDE,
    augment,
    draw_glyph,
    draw_symbol,
    synth_record,
    synth_set,
    synthesize,
)
from hdr_expr.errors import DataError
from hdr_expr.symbols import SYMBOL_CLASSES


def rng(seed=0):
    return np.random.default_rng(seed)


def box(ink: np.ndarray, thr: float = 0.5):
    ys, xs = np.nonzero(ink > thr)
    return ys.min(), ys.max() + 1, xs.min(), xs.max() + 1


def parts(ink: np.ndarray) -> int:
    return cv2.connectedComponents((ink > 0.5).astype(np.uint8))[0] - 1


def lean_deg(img: np.ndarray) -> float:
    """Angle of the ink's principal axis from upright (positive: top to the right)."""
    ys, xs = np.nonzero(img > 0.5 * img.max())
    cov = np.cov(np.stack([xs, -ys]).astype(float))
    vals, vecs = np.linalg.eigh(cov)
    vx, vy = vecs[:, -1]
    if vy < 0:
        vx, vy = -vx, -vy
    return float(np.degrees(np.arctan2(vx, vy)))


@pytest.mark.parametrize("symbol", list(SYMBOL_CLASSES) + ["*", "·"])
def test_every_symbol_draws(symbol):
    for seed in range(5):
        for ranges in (TRAIN, WIDE):
            g = draw_glyph(symbol, rng(seed), ranges)
            assert g.ink.dtype == np.float32 and g.ink.ndim == 2
            assert 0.0 <= g.ink.min() and g.ink.max() <= 1.0 and g.ink.max() > 0.9
            assert 0.75 * 64 <= g.digit_px <= 1.25 * 64
            # the margin is empty: the whole drawing is in the frame
            assert g.ink[0].max() == 0 and g.ink[-1].max() == 0 and g.ink[:, 0].max() == 0 and g.ink[:, -1].max() == 0
    assert np.array_equal(draw_symbol(symbol, rng(3)), draw_glyph(symbol, rng(3)).ink)


def test_natural_proportions_and_place_on_the_line():
    """Sizes relative to a digit and heights relative to the baseline, as on a written line."""
    for seed in range(20):
        r = rng(seed)
        d = draw_glyph("7", r)
        y0, y1, _, _ = box(d.ink)
        assert 0.8 < (y1 - y0) / d.digit_px < 1.25
        assert abs(y1 - d.baseline) < 0.2 * d.digit_px  # digits stand on the baseline (± overshoot, pen)

        dot = draw_glyph(".", r)
        y0, y1, x0, x1 = box(dot.ink)
        assert max(y1 - y0, x1 - x0) < 0.35 * dot.digit_px  # small
        assert abs(y1 - dot.baseline) < 0.12 * dot.digit_px  # on the baseline

        cdot = draw_glyph("·", r)
        y0, y1, x0, x1 = box(cdot.ink)
        assert max(y1 - y0, x1 - x0) < 0.3 * cdot.digit_px
        assert 0.3 < (cdot.baseline - (y0 + y1) / 2) / cdot.digit_px < 0.7  # raised to mid-height

        m = draw_glyph("-", r)
        y0, y1, x0, x1 = box(m.ink)
        assert (x1 - x0) > 2.5 * (y1 - y0)  # wide and thin
        assert 0.25 < (m.baseline - (y0 + y1) / 2) / m.digit_px < 0.7
        assert (x1 - x0) < 1.1 * m.digit_px

        p = draw_glyph("(", r)
        y0, y1, x0, x1 = box(p.ink)
        assert (y1 - y0) > 0.9 * p.digit_px and (x1 - x0) < 0.6 * (y1 - y0)  # taller than a digit, narrow


    # the parts of =, ÷ stay apart (a hook or a wobble may touch now and then, as people's do)
    r = rng(99)
    assert np.mean([parts(draw_glyph("=", r).ink) == 2 for _ in range(100)]) >= 0.95
    assert np.mean([parts(draw_glyph("÷", r, style="dots").ink) == 3 for _ in range(100)]) >= 0.95
    assert np.mean([parts(draw_glyph("÷", r, style="percent").ink) == 3 for _ in range(100)]) >= 0.9
    assert np.mean([parts(draw_glyph("×", r, style="cross").ink) == 1 for _ in range(100)]) >= 0.95


def test_styles_and_aliases():
    r = rng(1)
    seen = {draw_glyph("×", r).style for _ in range(300)}
    assert seen == {"cross", "asterisk3", "asterisk4"}  # the raised dot is not drawn unless asked for
    assert draw_glyph("*", r).style == "asterisk3" and draw_glyph("*", r).symbol == "×"
    assert draw_glyph("·", r).style == "dot"
    for sym, styles in STYLES.items():
        for st in styles:
            assert draw_glyph(sym, r, style=st).style == st
    with pytest.raises(DataError, match="not 'q'"):
        draw_glyph("q", r)
    with pytest.raises(DataError, match="no style"):
        draw_glyph("+", r, style="fancy")


def test_slash_leans_further_than_a_plain_one():
    for ranges in (TRAIN, WIDE):
        slash = [lean_deg(draw_glyph("/", rng(s), ranges).ink) for s in range(60)]
        one = [lean_deg(draw_glyph("1", rng(s), ranges, style="plain").ink) for s in range(60)]
        assert min(slash) > 15.0, ranges.name
        assert max(abs(a) for a in one) < 20.0, ranges.name
        assert min(slash) > max(one)


def check_mnist_like(x: np.ndarray) -> None:
    """uint8 28×28, ink bright, fitted into 20 px and centred by mass (normalize_symbol keeps a symbol whose
    mass sits far off its box's centre, like a 7's, inside the frame: such a one may touch an edge)."""
    assert x.dtype == np.uint8 and x.shape == (28, 28) and x.max() >= 200
    ys, xs = np.nonzero(x)
    assert max(np.ptp(ys), np.ptp(xs)) + 1 in range(19, 23)
    m = x.astype(float)
    cy, cx = (np.indices(x.shape) * m).reshape(2, -1).sum(1) / m.sum()
    assert abs(cy - 13.5) < 2.5 and abs(cx - 13.5) < 2.5


def test_synthesize_is_normalized_and_seeded():
    for sym in SYMBOL_CLASSES:
        a = synthesize(sym, 8, seed=4)
        assert a.shape == (8, 28, 28) and a.dtype == np.uint8
        for x in a:
            check_mnist_like(x)
        assert np.array_equal(a, synthesize(sym, 8, seed=4))
        assert not np.array_equal(a, synthesize(sym, 8, seed=5))
    # a normalized "." is a filled blob, a "0" a ring: ink at the centre or not
    assert synthesize(".", 20, seed=1)[:, 12:16, 12:16].mean() > 200
    assert synthesize("0", 20, seed=1)[:, 13:15, 13:15].mean() < 60


def test_synth_set_counts_order_and_independence():
    x, y = synth_set(3, seed=7)
    assert x.shape == (3 * len(SYMBOL_CLASSES), 28, 28) and y.dtype == np.uint8
    assert np.array_equal(np.bincount(y, minlength=19), np.full(19, 3))
    assert np.all(np.diff(y.astype(int)) >= 0)  # classes in SYMBOL_CLASSES order
    x2, y2 = synth_set({"/": 5, ".": 2}, seed=7)
    assert list(y2) == [17, 17, 18, 18, 18, 18, 18]
    x3, y3 = synth_set({"/": 2, ".": 2}, seed=7)
    assert np.array_equal(x3[y3 == 18], x2[y2 == 18][:2])  # one class's count leaves another's images alone
    assert np.array_equal(x3[y3 == 17], x2[y2 == 17])
    assert np.array_equal(x[y == 18], x2[y2 == 18][:3])
    with pytest.raises(DataError):
        synth_set({"q": 1})
    empty_x, empty_y = synth_set(0)
    assert empty_x.shape == (0, 28, 28) and empty_y.shape == (0,)


def test_wide_is_wider_than_train():
    for f in dataclasses.fields(TRAIN):
        a, b = getattr(TRAIN, f.name), getattr(WIDE, f.name)
        if isinstance(a, tuple):
            assert b[0] <= a[0] and b[1] >= a[1] and (b[0] < a[0] or b[1] > a[1]), f.name
        elif isinstance(a, float):
            assert b > a, f.name
    rec = synth_record({"+": 3, "/": 0}, 11, WIDE)
    assert rec["seed"] == 11 and rec["counts"] == {"+": 3} and rec["ranges"]["name"] == "wide"


def test_speed():
    synthesize("8", 20, seed=0)  # warm up
    t = time.perf_counter()
    synth_set(20, seed=1)
    rate = 20 * len(SYMBOL_CLASSES) / (time.perf_counter() - t)
    assert rate > 300, f"{rate:.0f} symbols/s"  # about 2,000/s on one free core


def test_augment():
    x = synthesize("4", 6, seed=2)
    a = augment(x, rng(0))
    assert a.shape == x.shape and a.dtype == np.uint8
    assert np.array_equal(a, augment(x, rng(0)))
    assert not np.array_equal(a, x)
    for img in a:
        check_mnist_like(img)
    assert np.array_equal(augment(x, rng(0), strength=0.0), x)
    f = augment(x[0].astype(np.float32) / 255.0, rng(1))
    assert f.shape == (28, 28) and f.dtype == np.float32 and 0.0 <= f.min() and f.max() <= 1.0
    # lean-sensitive classes (1 / ( ) + ×) are turned less when labels are given
    ones = synthesize("1", 40, seed=3)
    lab = np.full(40, SYMBOL_CLASSES.index("1"))
    base = np.array([lean_deg(i) for i in ones])
    free = np.array([lean_deg(i) for i in augment(ones, rng(5))])
    held = np.array([lean_deg(i) for i in augment(ones, rng(5), labels=lab)])
    assert np.abs(held - base).mean() < 0.6 * np.abs(free - base).mean()
    with pytest.raises(ValueError):
        augment(ones, rng(5), labels=lab[:3])
    # stronger augmentation moves the images further
    d1 = np.abs(augment(x, rng(3), 0.3).astype(float) - x).mean()
    d2 = np.abs(augment(x, rng(3), 1.5).astype(float) - x).mean()
    assert d2 > d1
