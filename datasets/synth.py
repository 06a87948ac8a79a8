"""The stroke synthesizer: handwritten symbols drawn as a person draws them, pen stroke by pen stroke.

Each symbol has a generator that lays out its strokes in *digit units* (a digit is 1 tall; ``y`` runs down,
the top of a digit at 0 and the baseline at 1; ``x`` is centred on the symbol) with the symbol's natural size
and place on the line: a ``.`` is a small blob on the baseline, ``-`` a wide thin bar at mid-height, ``=`` two
bars with a gap, ``(`` taller than a digit. A writer's habits are then applied to every stroke: where the
control points fall (jitter), how far strokes run past their ends (overshoot), entry and exit hooks, a slow
wobble (tremor), slant, rotation, width, pen width and pressure. The strokes are rendered at
:data:`DIGIT_PX` px per digit height as anti-aliased polylines of varying width (:func:`draw_glyph`), and
:func:`synthesize` passes each drawing through :func:`~hdr_expr.pipeline.normalize.normalize_symbol`, the
function the recognition pipeline applies to a segmented symbol.

Styles (:data:`STYLES`): ``×`` as a cross, as an asterisk ``*`` (three or four strokes) and as a raised dot
``·``; ``÷`` as a bar between two dots and as the ``%``-like slanted bar between two small circles; ``.`` as
a tap, a short tick or a small comma; ``/`` as a straight slanted stroke, leaning further than a ``1`` and
straighter than a ``(``. Digits in a few styles each (``1`` with and without flag and base, open and closed
``4``, crossed ``7``, one- and two-loop ``8`` …).

The raised-dot ``·`` is drawn by :func:`draw_glyph` (for composing whole expressions) but is left out of the
28×28 sets: normalized, a ``·`` is exactly a ``.``; which of the two a dot means is decided by its height on
the line, the assembler's job.

Two range sets: :data:`TRAIN`, and :data:`WIDE` (wider in every parameter) for the held-out synthetic test
set, drawn with other seeds. WIDE widens a symbol's own ranges only away from the neighbouring class
(:meth:`_Writer.u`'s ``keep``): a ``/`` is drawn leaning 26–42° from upright (WIDE: to 50°), a plain ``1``
−6–10° (WIDE: from −10°), a ``(`` bulges at least 12 % of its height, ``=``'s bars stay apart once
normalized, the arms of ``+`` and ``×`` keep their angles. Measured on real data, people's ``/`` lean 10–35°
(CROHME set, 5–95 %) and MNIST's ``1`` −10–35°: in a 28×28 crop a leaning stroke is a ``1`` or a ``/`` by
its context (height on the line), not its shape.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Callable, Mapping, Sequence

import cv2
import numpy as np

from hdr_expr.errors import DataError
from hdr_expr.pipeline.normalize import NORMALIZATION_VERSION, normalize_symbol
from hdr_expr.symbols import SYMBOL_CLASSES

#: Bump when the synthesizer's drawings change (model cards record it with the seed and ranges).
SYNTH_VERSION = "strokes-v1"
#: Pixels per digit height of the drawings :func:`draw_glyph` returns (before the size jitter).
DIGIT_PX = 64.0

#: Digit heights (px, log-uniform) at which :func:`synthesize` draws before normalizing (40 px at least for
#: the small symbols × ÷ .).
RESOLUTION_PX = (24.0, 96.0)

_SMALL, _SMALL_MIN_PX = frozenset("×÷.·*"), 40.0

Range = tuple[float, float]


@dataclass(frozen=True)
class SynthRanges:
    """Parameter ranges of the synthesizer (uniform draws; lengths in digit heights)."""

    name: str = "train"
    size: Range = (0.9, 1.1)  # size of the whole symbol, relative to its natural size
    slant_deg: Range = (-10.0, 22.0)  # the writer's slant (top to the right is positive)
    rotation_deg: Range = (-5.0, 5.0)
    aspect: Range = (0.85, 1.15)  # width multiplier
    pen: Range = (0.03, 0.10)  # pen width
    pressure: Range = (0.0, 0.3)  # width variation along a stroke, relative
    tremor: Range = (0.0, 0.008)  # amplitude of the slow wobble
    jitter: Range = (0.008, 0.03)  # s.d. of the control points around the template
    overshoot: Range = (-0.04, 0.1)  # extension of a stroke's ends, fraction of its length
    hook: float = 0.12  # chance of an entry or exit hook at a stroke's end
    bow: Range = (-0.05, 0.05)  # curvature of nominally straight strokes (sagitta / length)
    spread: float = 1.0  # widens each symbol's own ranges (angles, gaps, curvatures) around their centres

    def to_dict(self) -> dict:
        return asdict(self)


TRAIN = SynthRanges()
WIDE = SynthRanges(
    name="wide", size=(0.8, 1.2), slant_deg=(-20.0, 32.0), rotation_deg=(-9.0, 9.0), aspect=(0.72, 1.35),
    pen=(0.02, 0.15), pressure=(0.0, 0.5), tremor=(0.0, 0.016), jitter=(0.006, 0.045), overshoot=(-0.08, 0.18),
    hook=0.25, bow=(-0.09, 0.09), spread=1.5,
)

#: Drawing styles per symbol, with their weights in the 28×28 sets. ``*`` and ``·`` are forms of ``×``.
STYLES: dict[str, dict[str, float]] = {
    "0": {"oval": 1.0},
    "1": {"plain": 0.45, "flag": 0.35, "flag_base": 0.2},
    "2": {"round": 0.6, "swan": 0.25, "loop": 0.15},
    "3": {"round": 0.75, "flat": 0.25},
    "4": {"open": 0.45, "closed": 0.35, "parallel": 0.2},
    "5": {"two_strokes": 0.6, "one_stroke": 0.4},
    "6": {"round": 0.6, "stem": 0.4},
    "7": {"plain": 0.6, "hooked": 0.15, "crossed": 0.25},
    "8": {"one_stroke": 0.6, "two_loops": 0.4},
    "9": {"straight": 0.6, "curved": 0.4},
    "+": {"cross": 1.0},
    "-": {"bar": 1.0},
    "×": {"cross": 0.6, "asterisk3": 0.25, "asterisk4": 0.15, "dot": 0.0},
    "÷": {"dots": 0.75, "percent": 0.25},
    "=": {"bars": 1.0},
    "(": {"arc": 1.0},
    ")": {"arc": 1.0},
    ".": {"tap": 0.75, "tick": 0.1, "comma": 0.15},  # a tick normalizes to a 1-like bar: keep it rare
    "/": {"stroke": 1.0},
}
#: Written forms that are drawn as a style of another class.
ALIASES: dict[str, tuple[str, str]] = {"*": ("×", "asterisk3"), "·": ("×", "dot"), "x": ("×", "cross")}

_INDEX = {c: i for i, c in enumerate(SYMBOL_CLASSES)}
_STYLE_CUM = {
    sym: ([k for k, v in st.items() if v > 0], np.cumsum([v for v in st.values() if v > 0])) for sym, st in STYLES.items()
}


@dataclass(frozen=True)
class Glyph:
    """One drawn symbol: ``ink`` float32 in [0, 1] (ink bright), tightly framed with a small margin.

    ``digit_px`` is the height a digit has at this drawing's scale, and ``baseline`` the image row of the
    line's baseline (``baseline - digit_px`` is where a digit's top would be); ``x_center`` the column of the
    symbol's nominal centre. Compose expressions by scaling glyphs to one ``digit_px`` and aligning baselines.
    """

    symbol: str
    style: str
    ink: np.ndarray
    digit_px: float
    baseline: float
    x_center: float


# --- curves -----------------------------------------------------------------------------------------------


def _catmull_rom(ctrl: np.ndarray, per_seg: int = 10) -> np.ndarray:
    """Dense points of the Catmull-Rom spline through ``ctrl`` (m×2)."""
    p = np.asarray(ctrl, np.float64)
    if len(p) == 2:
        t = np.linspace(0.0, 1.0, per_seg + 1)[:, None]
        return p[0] + (p[1] - p[0]) * t
    ext = np.vstack([2 * p[0] - p[1], p, 2 * p[-1] - p[-2]])
    t = np.linspace(0.0, 1.0, per_seg, endpoint=False)
    t2, t3 = t * t, t * t * t
    # basis weights for p0..p3 (tension 0.5)
    b0 = -0.5 * t3 + t2 - 0.5 * t
    b1 = 1.5 * t3 - 2.5 * t2 + 1.0
    b2 = -1.5 * t3 + 2.0 * t2 + 0.5 * t
    b3 = 0.5 * t3 - 0.5 * t2
    segs = len(p) - 1
    idx = np.arange(segs)
    q0, q1, q2, q3 = ext[idx], ext[idx + 1], ext[idx + 2], ext[idx + 3]
    pts = (b0[None, :, None] * q0[:, None] + b1[None, :, None] * q1[:, None] + b2[None, :, None] * q2[:, None]
           + b3[None, :, None] * q3[:, None]).reshape(-1, 2)
    return np.vstack([pts, p[-1:]])


def _arc(cx: float, cy: float, rx: float, ry: float, a0: float, a1: float, n: int = 24) -> np.ndarray:
    t = np.linspace(a0, a1, n)
    return np.stack([cx + rx * np.cos(t), cy + ry * np.sin(t)], axis=1)


def _line(p0, p1, bow: float = 0.0, n: int = 12) -> np.ndarray:
    """A stroke from p0 to p1 bowed sideways by ``bow`` × its length (a quadratic curve)."""
    p0, p1 = np.asarray(p0, float), np.asarray(p1, float)
    d = p1 - p0
    normal = np.array([-d[1], d[0]])
    mid = (p0 + p1) / 2 + normal * bow * 2.0
    t = np.linspace(0.0, 1.0, n)[:, None]
    return (1 - t) ** 2 * p0 + 2 * (1 - t) * t * mid + t**2 * p1


def _rot(pts: np.ndarray, deg: float, about=(0.0, 0.0)) -> np.ndarray:
    a = np.deg2rad(deg)
    c, s = np.cos(a), np.sin(a)
    o = np.asarray(about, float)
    return (pts - o) @ np.array([[c, s], [-s, c]]) + o


# --- the writer -------------------------------------------------------------------------------------------


class _Writer:
    """A writer's habits for one glyph, and the stroke-level randomness."""

    def __init__(self, rng: np.random.Generator, r: SynthRanges):
        self.rng, self.r = rng, r
        u = rng.uniform
        self.size = u(*r.size)
        self.slant = u(*r.slant_deg)
        self.rotation = u(*r.rotation_deg)
        self.aspect = u(*r.aspect)
        self.pen = u(*r.pen)
        self.pressure = u(*r.pressure)
        self.tremor = u(*r.tremor)
        self.jit = u(*r.jitter)

    def u(self, lo: float, hi: float, keep: str | None = None) -> float:
        """A symbol-specific draw; the range is widened around its centre by ``spread``, except at the end
        named by ``keep`` ("lo", "hi" or "both"): the end where the symbol would turn into another."""
        extra = 0.5 * (hi - lo) * (self.r.spread - 1.0)
        if keep not in ("lo", "both"):
            lo -= extra
        if keep not in ("hi", "both"):
            hi += extra
        return float(self.rng.uniform(lo, hi))

    def cap_pen(self, extent: float, frac: float) -> float:
        """Keep the pen at most ``frac`` of the symbol's extent, so a small symbol drawn with a thick pen
        stays a symbol and not a blob. Returns the pen."""
        self.pen = min(self.pen, frac * extent)
        return self.pen

    def bow(self) -> float:
        return float(self.rng.uniform(*self.r.bow))

    def jitter(self, ctrl, scale: float = 1.0) -> np.ndarray:
        p = np.asarray(ctrl, float)
        return p + self.rng.normal(0.0, self.jit * scale, p.shape)

    def reshape(self, dense: np.ndarray, n_ctrl: int = 7, scale: float = 1.0) -> np.ndarray:
        """A dense curve redrawn through ``n_ctrl`` jittered points of it: a smooth, not a ragged, change."""
        idx = np.round(np.linspace(0, len(dense) - 1, n_ctrl)).astype(int)
        return _catmull_rom(self.jitter(dense[idx], scale), max(4, len(dense) // (n_ctrl - 1)))

    def spline(self, *pieces, per_seg: int = 10, jitter: float = 1.0) -> np.ndarray:
        """One stroke through jittered control points; consecutive pieces meet at sharp corners."""
        out, last = [], None
        for piece in pieces:
            q = self.jitter(piece, jitter)
            if last is not None:
                q[0] = last
            d = _catmull_rom(q, per_seg)
            out.append(d if not out else d[1:])
            last = q[-1]
        return np.vstack(out)

    def humanize(self, pts: np.ndarray, *, ends: bool = True) -> np.ndarray:
        """Overshoot or stop short at the ends, add hooks and tremor."""
        rng, r = self.rng, self.r
        seg = np.diff(pts, axis=0)
        lens = np.hypot(seg[:, 0], seg[:, 1])
        total = float(lens.sum())
        if total < 1e-6:
            return pts
        if ends:
            pts = self._ends(pts, total)
            seg = np.diff(pts, axis=0)
            lens = np.hypot(seg[:, 0], seg[:, 1])
            total = float(lens.sum()) or 1e-6
        if self.tremor > 0 and len(pts) > 3:
            s = np.concatenate([[0.0], np.cumsum(lens)]) / total
            k = rng.uniform(0.4, 2.0, 3) * max(total, 0.3)  # 0.4–2 cycles per digit height
            ph = rng.uniform(0, 2 * np.pi, 3)
            amp = rng.normal(0, 1, 3) * self.tremor
            disp = (amp[None, :] * np.sin(2 * np.pi * k[None, :] * s[:, None] + ph[None, :])).sum(1)
            tang = np.gradient(pts, axis=0)
            norm = np.hypot(tang[:, 0], tang[:, 1])[:, None] + 1e-9
            normal = np.stack([-tang[:, 1], tang[:, 0]], axis=1) / norm
            pts = pts + normal * disp[:, None]
        return pts

    def _ends(self, pts: np.ndarray, total: float) -> np.ndarray:
        rng, r = self.rng, self.r
        out = pts
        for end in (0, 1):
            ext = rng.uniform(*r.overshoot) * min(total, 0.6)
            p = out if end == 1 else out[::-1]
            tang = p[-1] - p[-min(4, len(p))]
            n = np.hypot(*tang)
            if n < 1e-9:
                continue
            tang = tang / n
            if ext > 0:
                p = np.vstack([p, p[-1] + tang * ext * np.linspace(0.34, 1.0, 3)[:, None]])
            elif ext < 0 and len(p) > 6:
                cut = np.concatenate([[0.0], np.cumsum(np.hypot(*np.diff(p, axis=0).T))])
                keep = cut <= cut[-1] + ext
                if keep.sum() >= 4:
                    p = p[keep]
            if rng.random() < r.hook:
                ang = np.deg2rad(rng.choice([-1, 1]) * rng.uniform(100, 160))
                c, s = np.cos(ang), np.sin(ang)
                hd = np.array([tang[0] * c - tang[1] * s, tang[0] * s + tang[1] * c])
                hl = rng.uniform(0.02, 0.06)
                t = np.linspace(0.3, 1.0, 3)[:, None]
                p = np.vstack([p, p[-1] + (tang * 0.35 + hd) * hl * t])
            out = p if end == 1 else p[::-1]
        return out

    def widths(self, n: int, base: float | None = None) -> np.ndarray:
        """Pen width along a stroke of n points: pressure varies slowly, pens land and lift."""
        rng = self.rng
        w0 = self.pen if base is None else base
        s = np.linspace(0, 1, n)
        f = rng.uniform(0.5, 2.0)
        var = 1.0 + self.pressure * np.sin(2 * np.pi * f * s + rng.uniform(0, 2 * np.pi))
        land = 1.0 - rng.uniform(0.0, 0.3) * np.clip(1 - s / 0.12, 0, 1)
        lift = 1.0 - rng.uniform(0.0, 0.4) * np.clip((s - 0.85) / 0.15, 0, 1)
        return w0 * var * land * lift


# --- the symbols ------------------------------------------------------------------------------------------
# Each generator returns strokes (lists of dense points, digit units, centred on x=0) and an optional list of
# pen widths (None: the writer's pen) and the symbol's slant factor (how much of the writer's slant applies).

Strokes = list[np.ndarray]


def _digit(w: _Writer, style: str, d: str) -> tuple[Strokes, float]:
    s = w.spline
    w.cap_pen(1.0, 0.13)
    W = w.u(0.82, 1.18)  # width relative to the template (templates are about 0.5 wide)

    def X(pts):
        p = np.asarray(pts, float)
        return np.stack([p[:, 0] * W, p[:, 1]], axis=1)

    if d == "0":
        ccw = w.rng.random() < 0.7
        a0 = -np.pi / 2 + w.u(-0.5, 0.6)
        sweep = 2 * np.pi * w.u(1.0, 1.12) * (-1 if ccw else 1)
        t = np.linspace(a0, a0 + sweep, 40)
        rx, ry = 0.25 * W * w.u(0.8, 1.25), 0.5
        wob = 1 + 0.05 * np.sin(t * 2 + w.rng.uniform(0, 6.3)) * w.u(0, 1.5)
        egg = 1 + w.u(-0.12, 0.12) * np.sin(t)
        pts = np.stack([rx * np.cos(t) * wob * egg, 0.5 + ry * np.sin(t) * wob], axis=1)
        return [w.reshape(pts, 9, 0.6)], 1.0
    if d == "1":
        lean = w.u(-6.0, 10.0, "hi") if style == "plain" else w.u(-6.0, 16.0, "hi")  # "hi": not a "/"
        stem = _line((0, 0), (0, 1), w.bow() * 0.6)
        if style == "plain":
            strokes = [stem]
        else:
            fa, fl_len = np.deg2rad(w.u(38.0, 62.0, "lo")), w.u(0.14, 0.26, "hi")  # not a 7
            fl = (-fl_len * np.cos(fa), fl_len * np.sin(fa))
            strokes = [np.vstack([_line(fl, (0, 0), w.bow(), 6)[:-1], stem])]
            if style == "flag_base":
                b = w.u(0.14, 0.26)
                strokes.append(_line((-b, 1.0), (b * w.u(0.8, 1.2), 1.0), w.bow() * 0.5))
        strokes = [_rot(p, lean, (0, 1)) for p in strokes]
        return strokes, 0.0
    if d == "2":
        if style == "round":
            top = [(-0.22, 0.2), (-0.08, 0.02), (0.12, 0.0), (0.24, 0.18), (0.17, 0.42), (-0.04, 0.7), (-0.25, 1.0)]
        elif style == "swan":
            top = [(-0.22, 0.25), (-0.1, 0.03), (0.12, 0.0), (0.25, 0.2), (0.22, 0.45), (0.05, 0.65),
                   (-0.22, 0.96)]
        else:  # loop at the bottom left
            top = [(-0.22, 0.2), (-0.08, 0.02), (0.12, 0.0), (0.24, 0.18), (0.17, 0.42), (-0.1, 0.78),
                   (-0.2, 0.95), (-0.12, 1.0), (-0.08, 0.9), (-0.16, 0.9)]
        base = [top[-1] if style != "loop" else (-0.16, 0.93), (0.04, w.u(0.96, 1.02)), (0.26, w.u(0.95, 1.03))]
        return [w.spline(X(top), X(base))], 1.0
    if d == "3":
        if style == "round":
            mid = (w.u(-0.06, 0.04), w.u(0.42, 0.5))
            return [s(X([(-0.22, 0.12), (-0.02, 0.0), (0.19, 0.07), (0.19, 0.28), mid]),
                      X([mid, (0.23, 0.58), (0.23, 0.86), (0.0, 1.0), (-0.24, 0.9)]))], 1.0
        mid = (w.u(-0.08, 0.02), 0.42)
        return [s(X([(-0.22, 0.0), (0.22, 0.0)]), X([(0.22, 0.0), mid]),
                  X([mid, (0.18, 0.52), (0.24, 0.78), (0.02, 1.0), (-0.24, 0.9)]))], 1.0
    if d == "4":
        y = w.u(0.58, 0.7)
        if style == "open":
            return [s(X([(-0.02, 0.0), (-0.26, y)]), X([(-0.26, y), (0.26, y)])),
                    s(X([(0.12, w.u(0.18, 0.35)), (0.12, 1.0)]))], 1.0
        if style == "closed":
            return [s(X([(0.12, 0.0), (-0.26, y)]), X([(-0.26, y), (0.26, y)])),
                    s(X([(0.12, 0.0), (0.12, 1.0)]))], 1.0
        return [s(X([(-0.22, 0.0), (-0.24, y)]), X([(-0.24, y), (0.26, y)])),
                s(X([(0.16, 0.0), (0.16, 1.0)]))], 1.0
    if d == "5":
        body = [(-0.16, 0.02), (-0.2, 0.44)]
        bowl = [(-0.2, 0.44), (0.04, 0.36), (0.22, 0.5), (0.22, 0.78), (0.02, 0.98), (-0.24, 0.9)]
        flag = [(-0.16, 0.02), (0.22, w.u(-0.03, 0.03))]
        if style == "two_strokes":
            return [s(X(body), X(bowl)), s(X(flag))], 1.0
        return [s(X(flag[::-1]), X(body), X(bowl))], 1.0
    if d == "6":
        if style == "round":
            ctrl = [(0.18, 0.02), (-0.06, 0.16), (-0.22, 0.52), (-0.18, 0.86), (0.02, 1.0), (0.2, 0.86),
                    (0.19, 0.62), (0.0, 0.52), (-0.2, 0.66)]
        else:
            ctrl = [(0.08, 0.0), (-0.12, 0.3), (-0.2, 0.65), (-0.12, 0.94), (0.06, 0.98), (0.2, 0.8), (0.1, 0.58),
                    (-0.08, 0.6), (-0.18, 0.72)]
        return [s(X(ctrl))], 1.0
    if d == "7":
        x0 = (-0.24, w.u(-0.02, 0.04))
        corner = (0.24, 0.0)
        diag = [corner, (w.u(0.02, 0.12), 0.5), (w.u(-0.1, 0.04), 1.0)]
        if style == "hooked":
            strokes = [s(X([(-0.25, w.u(0.1, 0.2)), x0]), X([x0, corner]), X(diag))]
        else:
            strokes = [s(X([x0, corner]), X(diag))]
        if style == "crossed":
            strokes.append(s(X([(-0.12, 0.52), (0.24, 0.5)])))
        return strokes, 1.0
    if d == "8":
        if style == "one_stroke":
            ctrl = [(0.17, 0.1), (0.0, 0.0), (-0.18, 0.1), (-0.15, 0.3), (0.16, 0.62), (0.2, 0.86), (0.0, 1.0),
                    (-0.2, 0.86), (-0.16, 0.62), (0.14, 0.32), (0.18, 0.12), (0.02, 0.0)]
            return [s(X(ctrl))], 1.0
        ry1 = w.u(0.2, 0.25)
        top = _arc(0, ry1, 0.17 * W, ry1, -np.pi / 2, 1.6 * np.pi, 28)
        bot = _arc(0, 2 * ry1 + (1 - 2 * ry1) / 2, 0.22 * W, (1 - 2 * ry1) / 2, -np.pi / 2, 1.55 * np.pi, 30)
        return [w.reshape(top, 9, 0.6), w.reshape(bot, 9, 0.6)], 1.0
    if d == "9":
        loop = [(0.2, 0.18), (0.02, 0.0), (-0.2, 0.12), (-0.19, 0.36), (0.02, 0.46), (0.2, 0.32), (0.2, 0.14)]
        tail = [(0.2, 0.14), (0.18, 0.6), (0.12, 1.0)] if style == "straight" else \
            [(0.2, 0.14), (0.21, 0.7), (0.06, 0.98), (-0.16, 0.92)]
        return [s(X(loop), X(tail))], 1.0
    raise AssertionError(d)


def _dot(w: _Writer, c, d: float, style: str = "tap") -> tuple[np.ndarray, np.ndarray]:
    """A small filled dot of diameter about d centred at c: a short stroke with a wide pen that lands or
    lifts (a teardrop), a short tick, or a comma. Returns its points and the pen width at each."""
    c = np.asarray(c, float)
    pen = max(d * w.u(0.75, 1.0), w.pen * 0.9)
    if style == "tick":
        ang = w.rng.uniform(0, np.pi)
        L = d * w.u(0.6, 1.8, "hi")  # not a dash
    elif style == "comma":
        ang = np.deg2rad(w.u(60, 120))
        L = d * w.u(0.5, 1.0)
    else:
        ang = w.rng.uniform(0, np.pi)
        L = max(d - pen, 0.0) + d * w.u(0.0, 0.4)
    v = np.array([np.cos(ang), np.sin(ang)]) * L / 2
    pts = np.stack([c - v, c - v / 3, c + v / 3, c + v]) + w.rng.normal(0, d * 0.06, (4, 2))
    taper = np.linspace(1.0, w.u(0.5, 1.0), 4)
    widths = pen * (taper if w.rng.random() < 0.5 else taper[::-1])
    if style == "comma":
        pts = np.vstack([pts, pts[-1] + np.array([-0.5, 1.0]) * d * w.u(0.4, 0.8)])
        widths = np.append(widths, pen * 0.45)
    return pts, widths


def _operator(w: _Writer, style: str, sym: str):
    """Strokes, per-stroke pen widths (None: the writer's pen) and slant factor of an operator."""
    u, rng = w.u, w.rng
    if sym == "+":
        L1, L2 = u(0.5, 0.8), u(0.5, 0.8)
        w.cap_pen(min(L1, L2), 0.1)
        cy = u(0.45, 0.6)
        h = _rot(_line((-L1 / 2, 0), (L1 / 2, 0), w.bow()), u(-6, 6, "both"))  # not an ×
        v = _rot(_line((0, -L2 / 2), (0, L2 / 2), w.bow()), u(-7, 7, "both"))
        h = h + (0, cy + u(-0.12, 0.12) * L2)
        v = v + (u(-0.12, 0.12) * L1, cy)
        return [h, v], None, 0.4
    if sym == "-":
        L = u(0.4, 0.8, "lo")  # not a dot
        w.cap_pen(L, 0.12)
        return [_rot(_line((-L / 2, 0), (L / 2, 0), w.bow()), u(-7, 7)) + (0, u(0.45, 0.62))], None, 0.0
    if sym == "×":
        cy = u(0.45, 0.62)
        if style == "cross":
            S = u(0.4, 0.65)
            w.cap_pen(S, 0.1)
            a1, a2 = u(32, 58, "both"), u(32, 58, "both")  # not a +
            d1 = _rot(_line((-S / 2, 0), (S / 2, 0), w.bow()), a1)  # top-left → bottom-right
            d2 = _rot(_line((-S / 2, 0), (S / 2, 0), w.bow()), -a2)[::-1]  # top-right → bottom-left
            d1 = d1 * (u(0.85, 1.15), 1) + (u(-0.1, 0.1) * S, cy + u(-0.1, 0.1) * S)
            d2 = d2 * (u(0.85, 1.15), 1) + (u(-0.1, 0.1) * S, cy)
            return [d1, d2], None, 0.0
        if style in ("asterisk3", "asterisk4"):
            S = u(0.4, 0.6)
            w.cap_pen(S, 0.08)
            cy = u(0.3, 0.55)
            n = 3 if style == "asterisk3" else 4
            base = u(-12, 12)
            strokes = []
            for k in range(n):
                ang = base + 90 + k * 180 / n + u(-10, 10)
                L = S * u(0.8, 1.15)
                off = rng.normal(0, 0.06 * S, 2)
                strokes.append(_rot(_line((-L / 2, 0), (L / 2, 0), w.bow() * 0.5, 8), ang) + (off[0], cy + off[1]))
            return strokes, None, 0.0
        if style == "dot":
            pts, pen = _dot(w, (0.0, u(0.45, 0.55)), u(0.07, 0.14))
            return [pts], [pen], 0.0
    if sym == "÷":
        L = u(0.5, 0.8)
        cy = u(0.45, 0.6)
        if style == "dots":
            pen = w.cap_pen(L, 0.1)
            bow = w.bow()
            bar = _rot(_line((-L / 2, 0), (L / 2, 0), bow), u(-6, 6)) + (0, cy)
            d = max(u(0.06, 0.13), pen * 1.1)
            clear = pen / 2 + 0.75 * d + abs(bow) * L + max(pen, 0.03)  # dots stay apart from the bar
            g1, g2 = max(u(0.12, 0.28, "lo"), clear), max(u(0.12, 0.28, "lo"), clear)
            dx = u(-0.12, 0.12) * L
            p1, pen1 = _dot(w, (dx + u(-0.06, 0.06) * L, cy - g1), d)
            p2, pen2 = _dot(w, (dx + u(-0.06, 0.06) * L, cy + g2), d * u(0.8, 1.2))
            return [bar, p1, p2], [None, pen1, pen2], 0.3
        # the %-like form: a bar leaning right between two small circles
        H = u(0.5, 0.8)
        w.cap_pen(H, 0.1)
        ang = u(50, 68)
        bow = w.bow() * 0.5
        bar = _rot(_line((-H / 2, 0), (H / 2, 0), bow), -ang) + (0, cy)
        r = max(u(0.05, 0.09), w.pen * 1.2)
        th = np.deg2rad(ang)
        along, normal = np.array([np.cos(th), -np.sin(th)]), np.array([np.sin(th), np.cos(th)])
        strokes = [bar]
        for side in (-1, 1):  # up-left of the bar, then down-right, clear of it
            dist = r * 1.25 + w.pen + abs(bow) * H + u(0.05, 0.1)
            c = np.array([0.0, cy]) + side * normal * dist + along * u(-0.12, 0.12) * H
            a0 = rng.uniform(0, 2 * np.pi)
            strokes.append(_arc(c[0], c[1], r * u(0.8, 1.2), r, a0, a0 + 2 * np.pi * u(1.0, 1.15), 16))
        return strokes, None, 0.0
    if sym == "=":
        L = u(0.45, 0.8)
        pen = w.cap_pen(L, 0.1)
        cy = u(0.45, 0.62)
        ang = u(-6, 6)
        L2 = L * u(0.8, 1.15)
        bow1, bow2, a1, a2 = w.bow(), w.bow(), ang + u(-3, 3), ang + u(-3, 3)
        # the bars may bow and converge, but stay apart: "lo" keeps the gap from closing into a "-" or a "0"
        gap = max(L * u(0.28, 0.55, "lo"), 2.6 * pen) + max(L, L2) * (abs(bow1) + abs(bow2)
                                                                    + abs(np.sin(np.deg2rad(a1 - a2))))
        b1 = _rot(_line((-L / 2, 0), (L / 2, 0), bow1), a1) + (u(-0.08, 0.08) * L, cy - gap / 2)
        b2 = _rot(_line((-L2 / 2, 0), (L2 / 2, 0), bow2), a2) + (u(-0.08, 0.08) * L, cy + gap / 2)
        return [b1, b2], None, 0.0
    if sym in "()":
        H = u(1.0, 1.3)
        w.cap_pen(H, 0.12)
        span = np.deg2rad(u(60, 140))
        bulge = H * u(0.12, 0.28, "lo")  # "lo": not a "1"
        ry = H / (2 * np.sin(span / 2))
        rx = bulge / (1 - np.cos(span / 2))
        skew = u(-0.15, 0.15)
        t = np.linspace(np.pi + span / 2 * (1 + skew), np.pi - span / 2 * (1 - skew), 28)
        pts = np.stack([rx * np.cos(t) + rx, ry * np.sin(t)], axis=1)
        pts = pts - (pts[:, 0].mean(), pts[:, 1].mean()) + (0, u(0.45, 0.58))
        if sym == ")":
            pts = pts * (-1, 1)
        return [w.reshape(pts, 6, 0.5)], None, 0.8
    if sym == ".":
        pts, pen = _dot(w, (0.0, 0.0), u(0.06, 0.14), style)
        pts = pts + (0, 1.0 - pts[:, 1].max() - float(np.max(pen)) / 2 + u(-0.03, 0.02))
        return [pts], [pen], 0.0
    if sym == "/":
        H = u(0.9, 1.3)
        w.cap_pen(H, 0.12)
        lean = u(26.0, 42.0, "lo")  # "lo": not a "1"
        st = _rot(_line((0, H / 2), (0, -H / 2), w.bow() * 0.6), lean) + (0, 0.5 + u(-0.05, 0.05))
        return [st], None, 0.0
    raise DataError(f"no generator for symbol {sym!r} style {style!r}")


# --- drawing ----------------------------------------------------------------------------------------------


def _resolve(symbol: str, style: str | None, rng: np.random.Generator):
    if symbol in ALIASES:
        base, st = ALIASES[symbol]
        return base, style or st
    if symbol not in STYLES:
        raise DataError(f"the synthesizer draws {' '.join(SYMBOL_CLASSES)} (and * ·), not {symbol!r}")
    styles = STYLES[symbol]
    if style is not None:
        if style not in styles:
            raise DataError(f"no style {style!r} for {symbol!r} (styles: {', '.join(styles)})")
        return symbol, style
    names, cum = _STYLE_CUM[symbol]
    return symbol, names[min(int(np.searchsorted(cum, rng.random() * cum[-1], side="right")), len(names) - 1)]


def draw_glyph(
    symbol: str,
    rng: np.random.Generator,
    ranges: SynthRanges = TRAIN,
    *,
    style: str | None = None,
    digit_px: float = DIGIT_PX,
) -> Glyph:
    """Draw one handwritten symbol at ``digit_px`` pixels per digit height (× the size jitter), natural size
    and place on the line kept (see :class:`Glyph`). ``symbol``: a class of SYMBOL_CLASSES, or ``*``/``·``
    (drawn as × in that style); ``style`` picks one of :data:`STYLES` (default: drawn at random by weight)."""
    sym, st = _resolve(symbol, style, rng)
    w = _Writer(rng, ranges)
    if sym in "0123456789":
        strokes, slant_factor = _digit(w, st, sym)
        pens: list | None = None
    else:
        strokes, pens, slant_factor = _operator(w, st, sym)
    pens = pens or [None] * len(strokes)
    # the writer's hand: humanize each stroke (dots keep their shape), then slant, rotation, width, size
    rot = w.rotation if sym not in "1/" else 0.0
    shear = np.tan(np.deg2rad(w.slant * slant_factor))
    aspect = w.aspect if sym not in ".÷" and st != "dot" else 1.0
    scale = w.size * digit_px
    pivot = np.array([0.0, 0.5])
    out, widths = [], []
    for pts, pen in zip(strokes, pens):
        if pen is None:
            pts = w.humanize(pts)
            wid = w.widths(len(pts))
        else:
            wid = np.broadcast_to(np.asarray(pen, float), (len(pts),)) * (1 + w.rng.normal(0, 0.05, len(pts)))
        p = pts - pivot
        p = np.stack([p[:, 0] * aspect - shear * p[:, 1], p[:, 1]], axis=1)
        p = _rot(p, rot) + pivot
        out.append(p * scale)
        widths.append(np.maximum(wid * scale, 1.0))
    return _render(sym, st, out, widths, scale, ranges, w.rng)


def _render(sym, style, strokes, widths, scale, ranges, rng) -> Glyph:
    allp = np.vstack(strokes)
    margin = float(max(wd.max() for wd in widths)) / 2 + 3.0
    lo = allp.min(0) - margin
    hi = allp.max(0) + margin
    w_px, h_px = int(np.ceil(hi[0] - lo[0])) + 1, int(np.ceil(hi[1] - lo[1])) + 1
    img = np.zeros((h_px, w_px), np.uint8)
    for pts, wd in zip(strokes, widths):
        q = np.round((pts - lo) * 16).astype(np.int32)
        if len(q) == 1:
            q = np.vstack([q, q])
        # at least 2 px: a 1-px anti-aliased line falls apart once thresholded
        t = np.maximum(2, np.round(0.5 * (wd[:-1] + wd[1:]))).astype(np.int32)
        # one polyline per run of equal thickness (cv2 draws thick lines with round caps and joins)
        cuts = np.flatnonzero(np.diff(t)) + 1
        starts = np.concatenate([[0], cuts])
        ends = np.concatenate([cuts, [len(t)]])
        for a, b in zip(starts, ends):
            cv2.polylines(img, [q[a : b + 1]], False, 255, int(t[a]), cv2.LINE_AA, shift=4)
    ink = img.astype(np.float32) / 255.0
    return Glyph(symbol=sym, style=style, ink=ink, digit_px=float(scale), baseline=float(scale - lo[1]),
                 x_center=float(-lo[0]))


def draw_symbol(symbol: str, rng: np.random.Generator, ranges: SynthRanges = TRAIN, *,
                style: str | None = None) -> np.ndarray:
    """One handwritten symbol as a float32 ink-bright image at :data:`DIGIT_PX` px per digit height (± the
    size jitter), tightly framed; :func:`draw_glyph` also says where the baseline is."""
    return draw_glyph(symbol, rng, ranges, style=style).ink


# --- 28×28 sets -------------------------------------------------------------------------------------------


def synthesize(symbol: str, n: int, seed: int = 0, ranges: SynthRanges = TRAIN) -> np.ndarray:
    """``n`` synthesized ``symbol`` images, normalized as the pipeline does: uint8 n×28×28, ink bright."""
    rng = np.random.default_rng(seed)
    out = np.zeros((n, 28, 28), np.uint8)
    lo, hi = np.log(RESOLUTION_PX)
    if symbol in _SMALL:  # small symbols drawn a few px wide turn into blocks and blobs: keep some, not most
        lo = np.log(_SMALL_MIN_PX)
    for i in range(n):
        # symbols reach the normalizer at many resolutions: small ones come out blocky, as they do in photos
        digit_px = float(np.exp(rng.uniform(lo, hi)))
        x = normalize_symbol(draw_glyph(symbol, rng, ranges, digit_px=digit_px).ink)
        out[i] = np.round(x * 255.0).astype(np.uint8)
    return out


def synth_set(
    n_per_class: int | Mapping[str, int],
    seed: int = 0,
    ranges: SynthRanges = TRAIN,
    classes: Sequence[str] = SYMBOL_CLASSES,
) -> tuple[np.ndarray, np.ndarray]:
    """A synthesized set: (x uint8 N×28×28, y uint8 indices into SYMBOL_CLASSES), classes in order.

    ``n_per_class``: one count for every class of ``classes``, or a count per class. Each class draws from
    its own seed sequence (``seed``, class index), so one class's count does not change another's images.
    """
    if isinstance(n_per_class, (int, np.integer)):
        counts = {c: int(n_per_class) for c in classes}
    else:
        unknown = [c for c in n_per_class if c not in classes]
        if unknown:
            raise DataError(f"cannot synthesize {unknown} (classes: {' '.join(classes)})")
        counts = {c: int(n_per_class.get(c, 0)) for c in classes}
    xs, ys = [], []
    for c, n in counts.items():
        if c not in _INDEX:
            raise DataError(f"{c!r} is not a symbol class ({' '.join(SYMBOL_CLASSES)})")
        if n <= 0:
            continue
        ss = np.random.SeedSequence([int(seed), _INDEX[c]])
        xs.append(synthesize(c, n, int(ss.generate_state(1)[0]), ranges))
        ys.append(np.full(n, _INDEX[c], np.uint8))
    if not xs:
        return np.zeros((0, 28, 28), np.uint8), np.zeros(0, np.uint8)
    return np.concatenate(xs), np.concatenate(ys)


def synth_record(n_per_class: Mapping[str, int], seed: int, ranges: SynthRanges) -> dict:
    """What a model card says about a synthesized set."""
    return {
        "name": f"synthetic-{ranges.name}", "kind": "synthetic", "generator": SYNTH_VERSION,
        "normalization": NORMALIZATION_VERSION, "seed": int(seed), "ranges": ranges.to_dict(),
        "counts": {c: int(n) for c, n in n_per_class.items() if n}, "styles": STYLES,
    }


# --- augmentation of 28×28 images -------------------------------------------------------------------------


#: Classes told apart by their lean or the angle of their arms (1 / ( ) + ×): augmentation turns these less.
LEAN_SENSITIVE: frozenset[str] = frozenset("1/()+×")
_LEAN_IDX = np.array(sorted(_INDEX[c] for c in LEAN_SENSITIVE))
_LEAN_FACTOR = 0.35


def augment(
    x28: np.ndarray, rng: np.random.Generator, strength: float = 1.0, labels: np.ndarray | None = None
) -> np.ndarray:
    """Augment 28×28 symbol images (one H×W image or an N×H×W batch; uint8 0–255 or float 0–1, ink bright)
    as other hands would write them: slant (shear ±18°), rotation (±10°), width (aspect ±20 %), elastic
    distortion and stroke width (morphology), worked at 2× resolution and then normalized again by
    ``normalize_symbol`` so the result is framed as the pipeline frames a symbol. ``strength`` scales every
    range (0: unchanged). ``labels`` (indices into SYMBOL_CLASSES, one per image): images of
    :data:`LEAN_SENSITIVE` classes get a third of the slant and rotation, so that a leaning ``1`` does not
    become a ``/`` or an ``×`` a ``+``; without labels every image gets the full ranges."""
    x = np.asarray(x28)
    single = x.ndim == 2
    batch = x[None] if single else x
    sensitive = np.zeros(len(batch), bool)
    if labels is not None:
        lab = np.atleast_1d(np.asarray(labels))
        if len(lab) != len(batch):
            raise ValueError(f"{len(lab)} labels for {len(batch)} images")
        sensitive = np.isin(lab, _LEAN_IDX)
    is_u8 = batch.dtype == np.uint8
    out = np.empty(batch.shape, np.uint8 if is_u8 else np.float32)
    for i, img in enumerate(batch):
        f = img.astype(np.float32) / (255.0 if is_u8 else 1.0)
        turn = strength * (_LEAN_FACTOR if sensitive[i] else 1.0)
        a = _augment_one(f, rng, strength, turn) if strength > 0 else f
        out[i] = np.round(a * 255.0).astype(np.uint8) if is_u8 else a
    return out[0] if single else out


_UP = 2
_GRIDS: dict[tuple[int, int], tuple[np.ndarray, np.ndarray]] = {}


def _grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    if (h, w) not in _GRIDS:
        _GRIDS[(h, w)] = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return _GRIDS[(h, w)]


def _augment_one(img: np.ndarray, rng: np.random.Generator, k: float, turn: float) -> np.ndarray:
    size = img.shape[0] * _UP
    big = cv2.resize(img, (size, size), interpolation=cv2.INTER_LINEAR)
    shear = np.tan(np.deg2rad(rng.uniform(-18, 18) * turn))
    ang = np.deg2rad(rng.uniform(-10, 10) * turn)
    sx = np.exp(rng.uniform(-0.2, 0.2) * k)
    c, s = np.cos(ang), np.sin(ang)
    lin = np.array([[c, -s], [s, c]]) @ np.array([[sx, -shear], [0.0, 1.0]])
    pad = size // 3
    n = size + 2 * pad
    ctr = np.array([n / 2, n / 2])
    m = np.hstack([lin, (ctr - lin @ ctr)[:, None]]).astype(np.float32)
    big = cv2.copyMakeBorder(big, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
    big = cv2.warpAffine(big, m, (n, n), flags=cv2.INTER_LINEAR)
    if rng.random() < 0.6 * min(1.0, k):
        # a smooth random displacement field: a coarse random grid, upsampled
        coarse = rng.uniform(-1, 1, (2, 5, 5)).astype(np.float32)
        dx = cv2.resize(coarse[0], (n, n), interpolation=cv2.INTER_CUBIC)
        dy = cv2.resize(coarse[1], (n, n), interpolation=cv2.INTER_CUBIC)
        alpha = rng.uniform(0.5, 2.0) * _UP * k
        gx, gy = _grid(n, n)
        big = cv2.remap(big, gx + dx * alpha, gy + dy * alpha, cv2.INTER_LINEAR)
    r = rng.random()
    if r < 0.25 * min(1.0, k):
        big = cv2.dilate(big, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3)))
    elif r < 0.45 * min(1.0, k):
        thin = cv2.erode(big, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3)))
        if (thin > 0.5).sum() > 0.4 * (big > 0.5).sum():
            big = thin
    out = normalize_symbol(big)
    return out if out.max() > 0 else img
