"""Handwritten expression images and worksheet pages with their ground truth, for the benchmarks.

Nothing here is training data. Every symbol comes from material the models never train on:

* **MNIST *test* digits** (:func:`~hdr_expr.datasets.mnist.load_mnist` ``"test"``);
* the real sets' **held-out** images (both sets in ``handwritten-symbols``: operators and digits), chosen by
  the importers' fixed file-hash rule (:func:`~hdr_expr.datasets.importers.is_held_out`) and read from their
  original files (not the importers' 28×28 arrays: composing needs the full drawing);
* **held-out synthetic** symbols: the stroke synthesizer drawn from seed streams of their own (entropy
  ``[SEED_TAG, seed, index]``; training sets use ``[seed, class]``), with the :data:`~synth.WIDE` ranges
  for some.

Sources are mixed within an image (each image draws its own mixing weights). Each symbol is scaled to the
image's digit height with its natural relative size and place on the line (a ``.`` small on the baseline, a
``-`` thin at mid-height, ``=`` two bars, brackets taller than digits), re-stroked to the image's pen, and
laid on a baseline with jitter and spacing jitter; some images have **touching neighbours** (two symbols
pushed together until their ink overlaps by a few pixels).

Renderings (:data:`STYLES`): *clean* — ``scan`` (paper, black or blue ink, scanner blur, PNG), ``canvas``
(pure white, no noise) and ``canvas-dark`` (light strokes on a dark canvas export); *photo-like* — ``photo``
(tinted paper, light gradients, soft shadows, ruled or squared lines, blue/black/red/pencil ink, skew of a
few degrees, perspective, blur, noise, JPEG; sometimes writing small in a large frame) and ``blackboard``
(chalk on a dark board). Half of every set is photo-like (odd indices).

The truth of every image comes from the project's own parser (:func:`~hdr_expr.pipeline.assemble.assemble`),
and is checked against the value the generator computed from its own expression tree: a truth that does not
parse, or whose value differs, is a bug here and raises.

Everything is seeded: ``make_expression(material, seed, index)`` is the same image on every machine with the
same data.
"""

from __future__ import annotations

import functools
import hashlib
import os
from dataclasses import asdict, dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Iterator, Sequence

import cv2
import numpy as np

from hdr_expr.errors import DataError

#: Bump when the images or truths change for a given seed.
GENERATOR_VERSION = "expressions-v1"
#: First entropy word of every seed stream here (ASCII "EXPR"): keeps them apart from training seeds.
SEED_TAG = 0x45585052
#: US-letter at 200 dpi.
PAGE_SIZE = (1700, 2200)

STYLES_CLEAN = ("scan", "canvas", "canvas-dark")
STYLES_PHOTO = ("photo", "blackboard")
STYLES = STYLES_CLEAN + STYLES_PHOTO


# =============================================================================================== truths
@dataclass(frozen=True)
class Truth:
    """What a line says. ``text`` uses only ``0-9 + - × ÷ = ( ) . /``; ``value`` is the exact value of the
    left-hand side as the pipeline prints it (``33``, ``-7/3``, ``2.5``); ``answer`` the written answer (ASCII,
    as the pipeline reports it) or None; ``correct`` the verdict on it, None where no answer is written."""

    text: str
    value: str
    answer: str | None = None
    correct: bool | None = None

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(self.text)

    def to_dict(self) -> dict:
        return asdict(self)


def truth_of(labels: Sequence[str]) -> Truth:
    """The truth of a label sequence, read by the project's parser. Raises DataError where it does not parse
    or has no value (the generator never writes such lines)."""
    from hdr_expr.pipeline.assemble import assemble

    a = assemble(labels)
    if a.error is not None or a.value is None:
        raise DataError(f"generated line {''.join(labels)!r} is not a valid expression: {a.error}")
    return Truth(text=a.text, value=a.value, answer=a.answer, correct=a.correct)


# ---------------------------------------------------------------------------------- expression trees
@dataclass(frozen=True)
class _Num:
    text: str
    value: Fraction


@dataclass(frozen=True)
class _Neg:
    operand: object


@dataclass(frozen=True)
class _Bin:
    op: str  # + - × ÷ /
    left: object
    right: object


_PREC = {"+": 1, "-": 1, "×": 2, "÷": 2, "/": 2}


def _prec(node) -> int:
    if isinstance(node, _Bin):
        return _PREC[node.op]
    return 3 if isinstance(node, _Neg) else 4


def _tree_value(node) -> Fraction:
    if isinstance(node, _Num):
        return node.value
    if isinstance(node, _Neg):
        return -_tree_value(node.operand)
    a, b = _tree_value(node.left), _tree_value(node.right)
    if node.op == "+":
        return a + b
    if node.op == "-":
        return a - b
    if node.op == "×":
        return a * b
    if b == 0:
        raise ZeroDivisionError
    return a / b


def _number(rng: np.random.Generator, decimals: bool) -> _Num:
    if decimals and rng.random() < 0.55:
        whole = int(rng.choice([0, 0, rng.integers(1, 10), rng.integers(1, 10), rng.integers(10, 100)]))
        nd = 1 if rng.random() < 0.7 else 2
        frac = int(rng.integers(1, 10 ** nd))
        if frac % 10 == 0:
            frac += 1
        ftxt = str(frac).rjust(nd, "0")
        text = f"{whole}.{ftxt}"
        return _Num(text, Fraction(whole) + Fraction(frac, 10**nd))
    r = rng.random()
    nd = 1 if r < 0.5 else 2 if r < 0.85 else 3 if r < 0.97 else 4
    low = 10 ** (nd - 1) if nd > 1 else (0 if rng.random() < 0.04 else 1)
    v = int(rng.integers(low, 10**nd))
    return _Num(str(v), Fraction(v))


def _divisor_of(rng: np.random.Generator, v: Fraction) -> _Num | None:
    """A number that divides ``v`` exactly (integer quotient), or None when there is no good one."""
    if v.denominator != 1 or v == 0:
        return None
    n = abs(v.numerator)
    divs = [d for d in range(2, min(n, 99) + 1) if n % d == 0]
    if not divs:
        return None
    d = int(rng.choice(divs))
    return _Num(str(d), Fraction(d))


def _random_tree(rng: np.random.Generator, ops: int, decimals: bool, depth: int = 0):
    """A random expression tree with ``ops`` binary operators."""
    if ops == 0:
        return _number(rng, decimals)
    left_ops = int(rng.integers(0, ops))
    right_ops = ops - 1 - left_ops
    op = str(rng.choice(["+", "-", "×", "÷"], p=[0.32, 0.28, 0.24, 0.16]))
    if op == "÷" and rng.random() < 0.4:
        op = "/"
    left = _random_tree(rng, left_ops, decimals, depth + 1)
    if op in "÷/" and right_ops == 0 and rng.random() < 0.85:
        try:
            lv = _tree_value(left)
        except ZeroDivisionError:
            lv = Fraction(0)
        right = _divisor_of(rng, lv) or _number(rng, decimals)
    else:
        right = _random_tree(rng, right_ops, decimals, depth + 1)
    return _Bin(op, left, right)


def _with_negation(rng: np.random.Generator, node):
    """Negate one leaf (or the whole left-most operand) occasionally."""
    leaves = []

    def walk(n, path):
        if isinstance(n, _Num):
            leaves.append(path)
        elif isinstance(n, _Bin):
            walk(n.left, path + ("L",))
            walk(n.right, path + ("R",))

    walk(node, ())
    if not leaves:
        return node
    path = leaves[int(rng.integers(len(leaves)))]

    def rebuild(n, p):
        if not p:
            return _Neg(n)
        if p[0] == "L":
            return _Bin(n.op, rebuild(n.left, p[1:]), n.right)
        return _Bin(n.op, n.left, rebuild(n.right, p[1:]))

    return rebuild(node, path)


def _render(node, rng: np.random.Generator, *, implicit_p: float, extra_paren_p: float) -> list[str]:
    """Tokens of a tree with the brackets precedence needs (and a few it does not)."""

    def paren(tokens: list[str]) -> list[str]:
        return ["("] + tokens + [")"]

    def go(n, first: bool) -> list[str]:
        if isinstance(n, _Num):
            return list(n.text)
        if isinstance(n, _Neg):
            inner = n.operand
            body = go(inner, False)
            if not isinstance(inner, _Num):
                body = paren(body)
            return ["-"] + body
        p = _PREC[n.op]
        left = go(n.left, first)
        if _prec(n.left) < p or (isinstance(n.left, _Neg) and not first and n.op in "+-"):
            left = paren(left)
        elif isinstance(n.left, _Bin) and rng.random() < extra_paren_p:
            left = paren(left)
        right = go(n.right, False)
        r = n.right
        needs = _prec(r) < p or (_prec(r) == p and n.op in "-÷/" and isinstance(r, _Bin))
        if isinstance(r, _Neg):
            # 3-(-2), 3+(-2); after × and ÷ both 5×-2 and 5×(-2) are written
            needs = n.op in "+-" or rng.random() < 0.5
        if needs or (isinstance(r, _Bin) and rng.random() < extra_paren_p):
            right = paren(right)
        if n.op == "×" and right[0] == "(" and right[-1] == ")" and rng.random() < implicit_p:
            # 4(6-2), (1+2)(3+4); not after a division (8÷2(2+2) is read differently by different people)
            if not (isinstance(n.left, _Bin) and n.left.op in "÷/" and left[-1] != ")"):
                return left + right
        return left + [n.op] + right

    return go(node, True)


def _format_answer(v: Fraction, decimals: bool) -> str | None:
    from hdr_expr.pipeline.assemble import format_value

    if v.denominator == 1:
        return str(v.numerator)
    text = format_value(v, decimals=True)
    if "/" not in text:
        return text
    if v.denominator <= 12 and not decimals:
        return text  # a fraction answer: 7/3
    return None


def _wrong_answer(rng: np.random.Generator, v: Fraction, decimals: bool) -> str | None:
    for _ in range(10):
        r = rng.random()
        if v.denominator == 1:
            n = v.numerator
            if r < 0.45:
                w = Fraction(n + int(rng.choice([-2, -1, 1, 2])))
            elif r < 0.7:
                w = Fraction(n + int(rng.choice([-10, 10])))
            elif r < 0.85 and abs(n) >= 10:
                s = str(abs(n))
                i = int(rng.integers(len(s) - 1))
                s = s[:i] + s[i + 1] + s[i] + s[i + 2 :]
                w = Fraction(int(s) * (1 if n >= 0 else -1))
            else:
                w = Fraction(n + int(rng.integers(-9, 10)))
        else:
            step = Fraction(1, 10) if rng.random() < 0.5 else Fraction(1)
            w = v + step * int(rng.choice([-2, -1, 1, 2]))
            if v.denominator > 1 and "/" in (_format_answer(v, decimals) or ""):
                w = Fraction(v.numerator + int(rng.choice([-1, 1])), v.denominator)
        text = _format_answer(w, decimals)
        if w != v and text is not None and len(text) <= 7:
            return text
    return None


def random_labels(rng: np.random.Generator, *, max_symbols: int = 17, short: bool = False) -> tuple[str, ...]:
    """A random well-formed line: multi-digit numbers, sometimes decimals, ``+ - × ÷ /``, brackets, now and then
    a unary minus or an implicit multiplication ``4(6-2)``; most with ``=``, most of those with a written answer
    (about 70% right, 30% wrong), some with ``=`` and nothing after it, some without ``=``.
    ``short`` makes one-operator lines (``7+5=12``)."""
    for _ in range(200):
        decimals = rng.random() < 0.15
        if short:
            ops = 1
        else:
            ops = int(rng.choice([1, 2, 3, 4], p=[0.42, 0.33, 0.18, 0.07]))
        tree = _random_tree(rng, ops, decimals)
        if rng.random() < 0.1:
            tree = _with_negation(rng, tree)
        try:
            value = _tree_value(tree)
        except ZeroDivisionError:
            continue
        if abs(value) > 99999 or value.denominator > 1000:
            continue
        lhs = _render(tree, rng, implicit_p=0.35, extra_paren_p=0.08)
        r = rng.random()
        tail: list[str] = []
        correct = None
        if r < 0.63:
            right = rng.random() < 0.7
            answer = _format_answer(value, decimals) if right else _wrong_answer(rng, value, decimals)
            if answer is None or len(answer) > 7:
                continue
            tail = ["="] + list(answer)
            correct = right
        elif r < 0.83:
            tail = ["="]
        labels = tuple(lhs + tail)
        if len(labels) > max_symbols:
            continue
        truth = truth_of(labels)
        if Fraction(truth.value) != value:
            raise DataError(f"generator bug: {''.join(labels)!r} reads as {truth.value}, tree says {value}")
        if correct is not None and truth.correct is not correct:
            raise DataError(f"generator bug: {''.join(labels)!r} verdict {truth.correct}, meant {correct}")
        return labels
    raise DataError("could not generate an expression (max_symbols too small?)")


# ============================================================================================= material
@dataclass(frozen=True)
class RealFile:
    set_name: str
    path: Path
    symbol: str


@dataclass
class Material:
    """Where symbols come from: MNIST test digits, held-out real files per symbol, the synthesizer (or, with
    ``split="train"``, MNIST training digits and the real sets' train files: material to train on)."""

    mnist_x: np.ndarray | None = None  # uint8 N×28×28 (test split, or train)
    mnist_by_digit: dict[str, np.ndarray] = field(default_factory=dict)  # digit -> indices into mnist_x
    real: dict[str, list[RealFile]] = field(default_factory=dict)  # symbol -> held-out files
    notes: list[str] = field(default_factory=list)
    split: str = "test"
    checksums: dict = field(default_factory=dict)  # what a model card names: MNIST files' MD5s, real listings

    def sources_for(self, symbol: str) -> list[str]:
        out = []
        if symbol in self.mnist_by_digit:
            out.append("mnist")
        sets = sorted({f.set_name for f in self.real.get(symbol, ())})
        out += [f"real:{s}" for s in sets]
        out.append("synth")
        return out

    def describe(self) -> dict:
        per_set: dict[str, int] = {}
        for files in self.real.values():
            for f in files:
                per_set[f.set_name] = per_set.get(f.set_name, 0) + 1
        if self.split != "test":
            return {
                "split": self.split,
                "mnist_train_digits": 0 if self.mnist_x is None else int(len(self.mnist_x)),
                "real_train_files": per_set,
                "synthetic": "stroke synthesizer (TRAIN and WIDE ranges)",
                "checksums": dict(self.checksums),
                "notes": list(self.notes),
            }
        return {
            "mnist_test_digits": 0 if self.mnist_x is None else int(len(self.mnist_x)),
            "real_held_out_files": per_set,
            "synthetic": "stroke synthesizer, own seed streams (TRAIN and WIDE ranges)",
            "notes": list(self.notes),
        }


def default_shared_dir() -> Path:
    """``$HDR_EXPR_SHARED`` or ``../shared`` beside the repository."""
    env = os.environ.get("HDR_EXPR_SHARED")
    if env:
        return Path(env)
    return Path(__file__).resolve().parents[1].parent / "shared"


def _held_out_listing(root: Path, *, held_out: bool = True) -> list[RealFile]:
    """Held-out files of every folder-per-class set under ``root`` (cached on disk by the listing); with
    ``held_out=False``, the train files instead."""
    from hdr_expr.datasets.importers import IMAGE_SUFFIXES, cache_dir, folder_class, is_held_out

    entries: list[tuple[str, Path, str, int]] = []
    for set_dir in sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")):
        for sub in sorted(p for p in set_dir.iterdir() if p.is_dir()):
            sym = folder_class(sub.name)
            if sym is None:
                continue
            for f in sorted(sub.rglob("*")):
                if f.suffix.lower() in IMAGE_SUFFIXES and f.is_file():
                    entries.append((set_dir.name, f, sym, f.stat().st_size))
    key = hashlib.sha256(
        "\n".join(f"{s}\t{f.relative_to(root).as_posix()}\t{c}\t{n}" for s, f, c, n in entries).encode()
    ).hexdigest()[:20]
    cache = cache_dir() / f"held-out-{key}.txt"
    held: set[str] | None = None
    if cache.is_file():
        try:
            held = set(cache.read_text(encoding="utf-8").splitlines())
        except OSError:
            held = None
    if held is None:
        held = set()
        for _, f, _, _ in entries:
            try:
                if is_held_out(hashlib.sha256(f.read_bytes()).hexdigest()):
                    held.add(f.relative_to(root).as_posix())
            except OSError:
                continue
        try:
            cache.parent.mkdir(parents=True, exist_ok=True)
            tmp = cache.with_name(f".{cache.name}.{os.getpid()}")
            tmp.write_text("\n".join(sorted(held)), encoding="utf-8")
            os.replace(tmp, cache)
        except OSError:
            pass
    return [RealFile(s, f, c) for s, f, c, _ in entries if (f.relative_to(root).as_posix() in held) == held_out]


@functools.lru_cache(maxsize=4)
def _cached_material(mnist_dir: str | None, symbols_dir: str | None, split: str = "test") -> Material:
    m = Material(split=split)
    if mnist_dir is not None:
        from hdr_expr.datasets.mnist import load_mnist

        try:
            from hdr_expr.datasets.mnist import mnist_sources

            x, y = load_mnist(split, mnist_dir)  # checked against the canonical MD5s
            m.checksums["mnist"] = [f"{f['name']}:md5:{f['md5_uncompressed']}" for f in mnist_sources(mnist_dir)
                                    if f["name"].startswith("train" if split == "train" else "t10k")]
            m.mnist_x = x
            m.mnist_by_digit = {str(d): np.flatnonzero(y == d) for d in range(10)}
        except DataError as exc:
            m.notes.append(f"MNIST {split} digits not used: {exc}")
    if symbols_dir is not None:
        root = Path(symbols_dir)
        if root.is_dir():
            for f in _held_out_listing(root, held_out=split == "test"):
                m.real.setdefault(f.symbol, []).append(f)
            m.checksums["real_files"] = hashlib.sha256("\n".join(
                sorted(f"{f.set_name}/{f.path.relative_to(root).as_posix()}" for fs in m.real.values() for f in fs)
            ).encode()).hexdigest()
        else:
            m.notes.append(f"real sets not used: {root} not found")
    return m


def load_material(
    shared: str | Path | None = None,
    *,
    mnist_dir: str | Path | None = None,
    symbols_dir: str | Path | None = None,
    synth_only: bool = False,
    split: str = "test",
) -> Material:
    """The held-out material. By default from ``shared`` (:func:`default_shared_dir`):
    ``datasets/mnist`` and ``datasets/handwritten-symbols``. A source that is missing is left out (and said in
    ``notes``); the synthesizer is always there. ``synth_only`` uses the synthesizer alone. ``split="train"``
    gives the training material instead (for models trained on composed lines; never for the benchmark)."""
    if split not in ("test", "train"):
        raise ValueError(f"split must be 'test' or 'train', not {split!r}")
    if synth_only:
        return Material(notes=["synthesizer only"], split=split)
    base = Path(shared) if shared is not None else default_shared_dir()
    md = Path(mnist_dir) if mnist_dir is not None else base / "datasets" / "mnist"
    sd = Path(symbols_dir) if symbols_dir is not None else base / "datasets" / "handwritten-symbols"
    m = _cached_material(str(md.resolve()) if md.is_dir() else None, str(sd.resolve()) if sd.is_dir() else None,
                         split)
    if not md.is_dir():
        m.notes.append(f"MNIST not found in {md}")
    return m


# ======================================================================================= symbol drawings
@dataclass(frozen=True)
class Piece:
    """One symbol ready to place: ``ink`` float32 in [0, 1] (tight crop) and its top relative to the
    baseline (negative: above it), both in image pixels."""

    symbol: str
    source: str
    ink: np.ndarray
    top: float


# (size rule, size range in digit heights, vertical rule, aspect clamp (min w/h, max w/h))
# size rule: "h" height, "w" width, "m" longer side. Vertical: "base" sits on the baseline, "mid" centred at
# mid-height (half a digit above the baseline).
_GEOMETRY: dict[str, tuple[str, tuple[float, float], str, tuple[float, float]]] = {
    **{d: ("h", (0.88, 1.06), "base", (0.12, 0.9)) for d in "0123456789"},
    "+": ("m", (0.5, 0.72), "mid", (0.6, 1.5)),
    "-": ("w", (0.42, 0.72), "mid", (3.0, 30.0)),
    "×": ("m", (0.42, 0.62), "mid", (0.6, 1.5)),
    "÷": ("w", (0.5, 0.72), "mid", (0.7, 2.5)),
    "=": ("w", (0.45, 0.72), "mid", (1.3, 4.0)),
    "(": ("h", (1.05, 1.3), "mid", (0.12, 0.45)),
    ")": ("h", (1.05, 1.3), "mid", (0.12, 0.45)),
    "/": ("h", (0.95, 1.25), "mid", (0.2, 0.8)),
    ".": ("m", (0.09, 0.15), "base", (0.6, 1.6)),
}


def _smoothstep(x: np.ndarray, lo: float, hi: float) -> np.ndarray:
    t = np.clip((x - lo) / (hi - lo), 0.0, 1.0)
    return (t * t * (3 - 2 * t)).astype(np.float32)


def _tight(ink: np.ndarray, thr: float = 0.2) -> tuple[np.ndarray, int, int]:
    ys, xs = np.nonzero(ink > thr)
    if len(ys) == 0:
        return ink[:0, :0], 0, 0
    return ink[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1], int(ys.min()), int(xs.min())


def _adjust_width(ink: np.ndarray, pen: float) -> tuple[np.ndarray, int]:
    """Ink brought to full strength and its stroke width near ``pen`` px (grey dilation or erosion). The
    result is padded by the returned number of pixels on every side."""
    from hdr_expr.pipeline.normalize import stroke_width

    top = float(ink.max()) if ink.size else 0.0
    if top <= 0:
        return ink, 0
    pad = int(np.ceil(pen)) + 2
    ink = np.pad(ink / top, pad).astype(np.float32)
    mask = ink > 0.5
    width = stroke_width(mask) if mask.any() else 0.0
    if width > 0 and width < 0.75 * pen:
        r = int(round((pen - width) / 2.0))
        if r >= 1:
            ink = cv2.dilate(ink, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1)))
        elif pen - width > 0.6:
            ink = cv2.dilate(ink, np.ones((2, 2), np.uint8))
    elif width > 1.5 * pen:
        r = int(round((width - pen) / 2.0))
        if r >= 1:
            thin = cv2.erode(ink, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * r + 1, 2 * r + 1)))
            n0 = cv2.connectedComponents((ink > 0.5).astype(np.uint8))[0]
            n1 = cv2.connectedComponents((thin > 0.5).astype(np.uint8))[0]
            if n1 == n0 and (thin > 0.5).sum() > 0.25 * (ink > 0.5).sum():
                ink = thin
    return ink, pad


def _crisp(ink: np.ndarray) -> np.ndarray:
    """Pen-on-paper edges: full-strength strokes with a pixel of anti-aliasing."""
    top = float(ink.max()) if ink.size else 0.0
    if top <= 0:
        return ink
    return cv2.GaussianBlur(_smoothstep(ink / top, 0.3, 0.65), (0, 0), 0.6)


def _parts(ink: np.ndarray) -> int:
    """Strokes that stand apart (components of the ink above half its peak, specks ignored)."""
    top = float(ink.max()) if ink.size else 0.0
    if top <= 0:
        return 0
    n, _, stats, _ = cv2.connectedComponentsWithStats((ink > 0.5 * top).astype(np.uint8), connectivity=8)
    if n <= 1:
        return 0
    areas = stats[1:, 4]
    return int((areas >= max(2, 0.02 * areas.max())).sum())


#: Pen widths tried, as fractions of the image's pen, until a symbol's parts stay apart (the bars of '=',
#: the dots of '÷' must not run together when a thin drawing is given a broad pen).
_PEN_STEPS = (1.0, 0.75, 0.55, 0.4)


def _restroke(ink: np.ndarray, pen: float) -> tuple[np.ndarray, int, int]:
    """Re-stroke a drawing at its own resolution; returns the new tight crop and where its top-left corner
    lies relative to the old one's."""
    want = _parts(ink)
    best = None
    for k in _PEN_STEPS:
        adj, pad = _adjust_width(ink, pen * k)
        out, dy, dx = _tight(_crisp(adj), 0.05)
        cand = (out, dy - pad, dx - pad)
        if _parts(out) >= want:
            return cand
        best = best or cand
    return best


def _resize_stroked(crop: np.ndarray, w: float, h: float, pen: float) -> np.ndarray:
    """A drawing scaled to ``w``×``h`` px with strokes ``pen`` px wide; the width is set at the larger of the
    two resolutions, so thin traces survive shrinking and blocky ones are not thickened by enlarging. Parts
    that stand apart in the drawing stay apart (a thinner pen is tried where they would run together)."""
    h0, w0 = crop.shape
    sx, sy = w / w0, h / h0
    s = float(np.sqrt(sx * sy))
    want = _parts(crop)
    first = None
    for k in _PEN_STEPS:
        if s < 1:
            src, pad = _adjust_width(crop, pen * k / s)
            ink = _scale_to(src, (w0 + 2 * pad) * sx, (h0 + 2 * pad) * sy)
        else:
            ink, _ = _adjust_width(_scale_to(crop, w, h), pen * k)
        out = _tight(_crisp(ink), 0.05)[0]
        if _parts(out) >= want:
            return out
        first = first if first is not None else out
    return first


def _scale_to(ink: np.ndarray, w: float, h: float) -> np.ndarray:
    w, h = max(1, int(round(w))), max(1, int(round(h)))
    interp = cv2.INTER_AREA if w < ink.shape[1] and h < ink.shape[0] else cv2.INTER_CUBIC
    return np.clip(cv2.resize(ink.astype(np.float32), (w, h), interpolation=interp), 0.0, 1.0)


def _place_real(symbol: str, crop: np.ndarray, rng: np.random.Generator, digit_px: float, pen: float,
                source: str) -> Piece:
    rule, (lo, hi), vertical, (amin, amax) = _GEOMETRY[symbol]
    h0, w0 = crop.shape
    aspect = float(np.clip((w0 / h0) * rng.uniform(0.92, 1.08), amin, amax))
    size = rng.uniform(lo, hi) * digit_px
    if rule == "h":
        h = size
        w = h * aspect
    elif rule == "w":
        w = size
        h = w / aspect
    else:
        h = size if aspect <= 1 else size / aspect
        w = h * aspect
    if symbol in "-=÷":
        h = max(h, 0.6 * pen)  # a bar is at least a stroke thick
    if symbol == ".":
        h, w = max(h, 1.3 * pen), max(w, 1.3 * pen)
    if symbol == ".":  # a dot is a blob, whatever its stroke
        ink = _tight(_crisp(_scale_to(crop, w, h)), 0.05)[0]
    else:
        ink = _resize_stroked(crop, w, h, pen)
    if ink.size == 0:
        raise DataError(f"empty drawing for {symbol!r} from {source}")
    hh = ink.shape[0]
    if vertical == "base":
        top = -hh + rng.normal(0, 0.02) * digit_px
    else:
        top = -0.5 * digit_px - hh / 2.0 + rng.normal(0, 0.04) * digit_px
    return Piece(symbol, source, ink, float(top))


def _read_real(f: RealFile) -> np.ndarray | None:
    """A held-out real file → its ink (float, ink bright), cropped; None if unreadable or blank."""
    from hdr_expr.datasets.importers import decode_image, remove_border_artefacts
    from hdr_expr.pipeline.normalize import ink_from_gray

    try:
        img = decode_image(f.path.read_bytes())
    except OSError:
        return None
    if img is None:
        return None
    ink = remove_border_artefacts(ink_from_gray(img))
    # JPEG ringing and paper grain: keep what is clearly ink
    ink = np.where(ink > 0.15, ink, 0.0).astype(np.float32)
    n, labels, stats, _ = cv2.connectedComponentsWithStats((ink > 0.3).astype(np.uint8), connectivity=8)
    if n <= 1:
        return None
    big = stats[1:, 4].max()
    keep = np.zeros(n, bool)
    keep[1:] = stats[1:, 4] >= max(2, 0.02 * big)  # drop specks, keep the dots of ÷
    ink = ink * keep[labels]
    want = _PARTS.get(f.symbol)
    if want is not None and int(keep.sum()) != want:
        return None  # an edge line or a stray mark that would change what the symbol reads as
    crop, _, _ = _tight(ink, 0.3)
    return crop if crop.size else None


#: How many strokes a real file of these symbols must show to be used (others are skipped).
_PARTS = {"-": 1, ".": 1, "+": 1, "=": 2, "÷": 3}


def _mnist_crop(x: np.ndarray) -> np.ndarray:
    return _tight(x.astype(np.float32) / 255.0, 0.2)[0]


def _draw_piece(symbol: str, source: str, material: Material, rng: np.random.Generator, digit_px: float,
                pen: float) -> Piece:
    if source == "mnist":
        idx = material.mnist_by_digit[symbol]
        crop = _mnist_crop(material.mnist_x[int(idx[rng.integers(len(idx))])])
        return _place_real(symbol, crop, rng, digit_px, pen, "mnist")
    if source.startswith("real:"):
        set_name = source[5:]
        files = [f for f in material.real.get(symbol, ()) if f.set_name == set_name]
        for _ in range(5):
            crop = _read_real(files[int(rng.integers(len(files)))])
            if crop is not None and crop.size:
                return _place_real(symbol, crop, rng, digit_px, pen, source)
        source = "synth"
    from hdr_expr.datasets.synth import TRAIN, WIDE, draw_glyph

    ranges = WIDE if rng.random() < 0.4 else TRAIN
    for _ in range(8):  # a '÷' whose dot runs into its bar, an '=' whose bars meet: drawn again
        g = draw_glyph(symbol, rng, ranges, digit_px=digit_px)
        if symbol not in "=÷" or _parts(g.ink) == _PARTS[symbol]:
            break
    crop, y0, _ = _tight(g.ink, 0.05)
    if symbol != ".":
        crop, dy, _ = _restroke(crop, pen)
        y0 += dy
    return Piece(symbol, f"synth-{ranges.name}", crop, float(y0 - g.baseline))


# ============================================================================================ composing
@dataclass(frozen=True)
class Composition:
    """A line of ink: ``ink`` float32 (ink bright), the baseline row, symbol boxes (x, y, w, h) in it, and
    ``owner``: which symbol (index into ``boxes``, -1 none) each pixel's ink belongs to."""

    ink: np.ndarray
    baseline: float
    boxes: tuple[tuple[int, int, int, int], ...]
    sources: tuple[str, ...]
    touching: int  # pairs of neighbours whose ink touches
    owner: np.ndarray | None = None


def _mix(material: Material, rng: np.random.Generator) -> dict[str, float]:
    names = ["mnist", "real:crohme-kaggle", "real:sagyamthapa-kaggle", "synth"]
    w = rng.dirichlet(np.full(len(names), 0.8))
    return dict(zip(names, w))


def _choose_source(symbol: str, material: Material, mix: dict[str, float], rng: np.random.Generator) -> str:
    options = material.sources_for(symbol)
    weights = np.array([mix.get(o, 0.15) + 0.03 for o in options])
    return options[int(rng.choice(len(options), p=weights / weights.sum()))]


def _contact_offset(left: np.ndarray, left_top: int, right: np.ndarray, right_top: int) -> float | None:
    """How far right of the left piece's left edge the right piece must start so that their ink just meets
    (rows they share), or None when they share no inked row."""
    lmask, rmask = left > 0.5, right > 0.5
    best = None
    for row in range(max(left_top, right_top), min(left_top + left.shape[0], right_top + right.shape[0])):
        lr, rr = lmask[row - left_top], rmask[row - right_top]
        if lr.any() and rr.any():
            need = np.flatnonzero(lr).max() - np.flatnonzero(rr).min()
            best = need if best is None else max(best, need)
    return None if best is None else float(best)


def compose_line(
    labels: Sequence[str],
    material: Material,
    rng: np.random.Generator,
    *,
    digit_px: float,
    pen: float,
    touching: bool = False,
    mix: dict[str, float] | None = None,
    slope_deg: float | None = None,
) -> Composition:
    """Lay a line's symbols on a baseline: natural sizes, baseline and spacing jitter, a slight slope; with
    ``touching``, one or two pairs of neighbours pushed together until their ink overlaps a few pixels."""
    mix = mix or _mix(material, rng)
    pieces = [_draw_piece(s, _choose_source(s, material, mix, rng), material, rng, digit_px,
                          pen * rng.uniform(0.85, 1.15)) for s in labels]
    n = len(pieces)
    touch_pairs: set[int] = set()
    if touching and n >= 2:
        k = 1 if n < 6 or rng.random() < 0.6 else 2
        cands = [i for i in range(n - 1) if "." not in (labels[i], labels[i + 1])]
        digitish = [i for i in cands if labels[i].isdigit() or labels[i + 1].isdigit()]
        pool = digitish or cands
        if pool:
            touch_pairs = set(int(i) for i in rng.choice(pool, size=min(k, len(pool)), replace=False))
    slope = np.tan(np.deg2rad(rng.uniform(-2.0, 2.0) if slope_deg is None else slope_deg))
    xs, tops = [], []
    x = 0.0
    for i, p in enumerate(pieces):
        top = int(round(p.top + rng.normal(0, 0.03) * digit_px + slope * x))
        if i > 0:
            prev = pieces[i - 1]
            if (i - 1) in touch_pairs:
                c = _contact_offset(prev.ink, tops[-1], p.ink, top)
                if c is not None:
                    x = xs[-1] + c - rng.uniform(1.0, max(1.5, 0.5 * pen)) - 0.5  # overlap a few px
                    # but no tucking under an overhang (a '=' under a 7's bar is not how people write)
                    x = max(x, xs[-1] + prev.ink.shape[1] - 0.3 * min(prev.ink.shape[1], p.ink.shape[1]))
                else:
                    touch_pairs.discard(i - 1)
            if (i - 1) not in touch_pairs:
                gap = rng.uniform(0.12, 0.42) * digit_px
                if labels[i] in "+-×÷=" or labels[i - 1] in "+-×÷=":
                    gap += rng.uniform(0.0, 0.3) * digit_px
                if "." in (labels[i], labels[i - 1]):
                    gap *= 0.6
                x = xs[-1] + prev.ink.shape[1] + gap
        xs.append(int(round(x)))
        tops.append(top)
    y0 = min(tops)
    y1 = max(t + p.ink.shape[0] for t, p in zip(tops, pieces))
    x1 = max(xx + p.ink.shape[1] for xx, p in zip(xs, pieces))
    xmin = min(xs)
    canvas = np.zeros((y1 - y0, x1 - xmin), np.float32)
    owner = np.full(canvas.shape, -1, np.int16)
    boxes = []
    for k, (xx, t, p) in enumerate(zip(xs, tops, pieces)):
        r, c = t - y0, xx - xmin
        h, w = p.ink.shape
        region = canvas[r : r + h, c : c + w]
        owner[r : r + h, c : c + w][(p.ink > 0.2) & (p.ink >= region)] = k
        np.maximum(region, p.ink, out=region)
        boxes.append((c, r, w, h))
    touched = 0
    for i in touch_pairs:
        a, b = boxes[i], boxes[i + 1]
        x0_, x1_ = min(a[0], b[0]), max(a[0] + a[2], b[0] + b[2])
        y0_, y1_ = min(a[1], b[1]), max(a[1] + a[3], b[1] + b[3])
        sub = np.zeros((y1_ - y0_, x1_ - x0_), np.uint8)
        for (bx, by, bw, bh), p in ((a, pieces[i]), (b, pieces[i + 1])):
            sub[by - y0_ : by - y0_ + bh, bx - x0_ : bx - x0_ + bw] |= (p.ink > 0.5).astype(np.uint8)
        na = cv2.connectedComponents((pieces[i].ink > 0.5).astype(np.uint8))[0] - 1
        nb = cv2.connectedComponents((pieces[i + 1].ink > 0.5).astype(np.uint8))[0] - 1
        if cv2.connectedComponents(sub)[0] - 1 < na + nb:
            touched += 1
    return Composition(canvas, float(-y0), tuple(boxes), tuple(p.source for p in pieces), touched, owner)


# ============================================================================================ rendering
_INKS = {  # RGB in [0, 1]
    "black": (0.08, 0.08, 0.1),
    "blue": (0.1, 0.17, 0.52),
    "red": (0.7, 0.1, 0.12),
    "pencil": (0.33, 0.33, 0.36),
}


def _ink_color(rng: np.random.Generator, name: str) -> np.ndarray:
    c = np.array(_INKS[name]) + rng.normal(0, 0.03, 3)
    return np.clip(c, 0, 1).astype(np.float32)


def _lay_ink(paper: np.ndarray, ink: np.ndarray, color: np.ndarray, opacity: float) -> np.ndarray:
    a = (ink * opacity)[..., None]
    return paper * (1 - a) + color[None, None, :] * a


def _noise_field(rng: np.random.Generator, h: int, w: int, scale: float) -> np.ndarray:
    """Smooth noise in [-1, 1] with features about ``scale`` px large."""
    sh, sw = max(2, int(h / scale) + 2), max(2, int(w / scale) + 2)
    small = rng.uniform(-1, 1, (sh, sw)).astype(np.float32)
    big = cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    m = np.abs(big).max() or 1.0
    return big / m


def _draw_rules(paper: np.ndarray, rng: np.random.Generator, kind: str, spacing: float, offset: float,
                angle_deg: float = 0.0) -> None:
    """Faint ruled lines (``ruled``), squares (``squared``), in place; a red margin on some ruled paper."""
    h, w = paper.shape[:2]
    color = np.array([0.55, 0.7, 0.9]) if rng.random() < 0.7 else np.array([0.62, 0.62, 0.66])
    strength = rng.uniform(0.3, 0.7) if kind == "ruled" else rng.uniform(0.2, 0.5)
    thick = max(1, int(round(spacing / 40)))
    layer = np.zeros((h, w), np.float32)
    slope = np.tan(np.deg2rad(angle_deg))
    y = offset % spacing
    while y < h + abs(slope) * w:
        y0, y1 = int(round(y)), int(round(y + slope * w))
        cv2.line(layer, (0, y0), (w - 1, y1), 1.0, thick, cv2.LINE_AA)
        y += spacing
    if kind == "squared":
        x = rng.uniform(0, spacing)
        while x < w:
            cv2.line(layer, (int(round(x)), 0), (int(round(x - slope * h)), h - 1), 1.0, thick, cv2.LINE_AA)
            x += spacing
    elif rng.random() < 0.3:
        mx = int(rng.uniform(0.04, 0.12) * w)
        cv2.line(layer, (mx, 0), (mx, h - 1), 1.0, thick, cv2.LINE_AA)
        red = np.clip(layer * 0, 0, 1)
        red[:, max(0, mx - thick - 1) : mx + thick + 2] = layer[:, max(0, mx - thick - 1) : mx + thick + 2]
        layer[:, max(0, mx - thick - 1) : mx + thick + 2] = 0
        a = (red * strength)[..., None]
        paper[:] = paper * (1 - a) + np.array([0.85, 0.35, 0.35], np.float32) * a
    a = (layer * strength)[..., None]
    paper[:] = paper * (1 - a) + color.astype(np.float32) * a


def _lighting(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """A multiplicative light field: a gradient, maybe a soft shadow, a vignette (smooth: computed small)."""
    k = max(1.0, max(h, w) / 256.0)
    sh, sw = max(2, int(round(h / k))), max(2, int(round(w / k)))
    return cv2.resize(_lighting_small(rng, sh, sw), (w, h), interpolation=cv2.INTER_LINEAR)


def _lighting_small(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    ang = rng.uniform(0, 2 * np.pi)
    g = (np.cos(ang) * xx / w + np.sin(ang) * yy / h)
    g = (g - g.min()) / max(float(np.ptp(g)), 1e-6)
    light = 1.0 - rng.uniform(0.05, 0.35) * g
    if rng.random() < 0.55:  # a soft shadow: a hand, a phone, a fold
        mask = np.zeros((h, w), np.float32)
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        pts = []
        for k in range(int(rng.integers(3, 7))):
            a = 2 * np.pi * k / 6 + rng.uniform(-0.4, 0.4)
            r = rng.uniform(0.3, 0.9) * max(h, w)
            pts.append((cx + r * np.cos(a), cy + r * np.sin(a)))
        if rng.random() < 0.5:  # or a straight shadow edge over part of the page
            x0 = rng.uniform(0.2, 0.8) * w
            pts = [(x0, -h), (x0 + rng.uniform(-0.3, 0.3) * w, 2 * h), (3 * w, 2 * h), (3 * w, -h)]
        cv2.fillPoly(mask, [np.array(pts, np.int32)], 1.0)
        soft = rng.uniform(0.04, 0.15) * max(h, w)
        mask = cv2.GaussianBlur(mask, (0, 0), soft)
        light *= 1.0 - rng.uniform(0.2, 0.45) * mask
    d = ((xx / w - 0.5) ** 2 + (yy / h - 0.5) ** 2)
    light *= 1.0 - rng.uniform(0.0, 0.35) * d
    return light.astype(np.float32)


def _perspective(img: np.ndarray, rng: np.random.Generator, skew_deg: float, *, amount: float = 0.03,
                 background: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Rotate by ``skew_deg`` and tilt a little (a phone not held flat). Without ``background`` the paper
    fills the picture (its edges are out of view); with it, some of the sheet's edges come into view and
    ``background`` (the table, H×W×3) shows beyond them. Returns the image and the 3×3 matrix from the flat
    page to the photo."""
    h, w = img.shape[:2]
    c, s = np.cos(np.deg2rad(skew_deg)), np.sin(np.deg2rad(skew_deg))
    src = np.float32([[0, 0], [w, 0], [w, h], [0, h]])
    ctr = np.float32([w / 2, h / 2])
    rot = np.float32([[c, s], [-s, c]])
    dst = (src - ctr) @ rot.T + ctr
    dst += rng.uniform(-amount, amount, (4, 2)).astype(np.float32) * np.float32([w, h])
    if background is not None:  # pull some sides in so the sheet's edge shows
        for side, (i, j) in enumerate(((0, 1), (1, 2), (2, 3), (3, 0))):
            if rng.random() < 0.5:
                inward = (ctr - (dst[i] + dst[j]) / 2)
                inward /= max(float(np.hypot(*inward)), 1e-6)
                d = rng.uniform(0.01, 0.06) * (h if side in (0, 2) else w)
                dst[i] += inward * d
                dst[j] += inward * d
    m = cv2.getPerspectiveTransform(src, dst.astype(np.float32))
    if background is None:
        out = cv2.warpPerspective(img, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT_101)
        return out, m
    out = cv2.warpPerspective(img, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
    cover = cv2.warpPerspective(np.ones((h, w), np.float32), m, (w, h), flags=cv2.INTER_LINEAR,
                                borderMode=cv2.BORDER_CONSTANT)[..., None]
    return out * cover + background * (1 - cover), m


def _table(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    """What lies beyond the sheet: a wooden, grey or dark desk with some texture."""
    kind = rng.random()
    if kind < 0.4:
        base = np.array([0.45, 0.32, 0.2]) * rng.uniform(0.5, 1.2)
    elif kind < 0.8:
        base = np.full(3, rng.uniform(0.25, 0.6)) + rng.normal(0, 0.02, 3)
    else:
        base = np.full(3, rng.uniform(0.05, 0.18))
    grain = _noise_field(rng, h, w, max(h, w) / rng.uniform(8, 40))[..., None] * rng.uniform(0.02, 0.08)
    return np.clip(base[None, None, :] + grain, 0, 1).astype(np.float32)


def _jpeg(img_u8: np.ndarray, quality: int) -> bytes:
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(img_u8, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise DataError("JPEG encoding failed")
    return buf.tobytes()


def _png(img_u8: np.ndarray) -> bytes:
    arr = img_u8
    if arr.ndim == 3 and np.array_equal(arr[..., 0], arr[..., 1]) and np.array_equal(arr[..., 1], arr[..., 2]):
        arr = arr[..., 0]
    else:
        arr = cv2.cvtColor(arr, cv2.COLOR_RGB2BGR) if arr.ndim == 3 else arr
    ok, buf = cv2.imencode(".png", arr, [cv2.IMWRITE_PNG_COMPRESSION, 6])
    if not ok:
        raise DataError("PNG encoding failed")
    return buf.tobytes()


def _to_u8(img: np.ndarray) -> np.ndarray:
    return np.clip(np.round(img * 255.0), 0, 255).astype(np.uint8)


def _decode(data: bytes) -> np.ndarray:
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


@dataclass(frozen=True)
class Rendered:
    image: np.ndarray  # H×W×3 uint8 RGB, as decoded from ``data``
    data: bytes  # the encoded file
    format: str  # "png" or "jpeg"
    matrix: np.ndarray  # 3×3: frame coordinates → image coordinates
    tags: dict


def render(ink: np.ndarray, rng: np.random.Generator, style: str, *, digit_px: float, baseline_rows=(),
           rule_pitch: float | None = None, frame: tuple[int, int] | None = None,
           origin: tuple[int, int] = (0, 0)) -> Rendered:
    """Put an ink layer on paper (or a board, or a canvas) and photograph or scan it.

    ``ink`` is already laid out in its frame (H×W); ``frame``/``origin`` place it in a larger frame (photo).
    ``baseline_rows`` (frame rows) and ``rule_pitch`` let ruled paper put its rules under the writing."""
    h, w = ink.shape
    tags: dict = {"style": style}
    ident = np.eye(3)
    if style in ("canvas", "canvas-dark"):
        dark = style == "canvas-dark"
        if dark:
            bg = np.full(3, rng.choice([0.0, 0.0, 0.12, 0.18]), np.float32)
            color = np.array([1.0, 1.0, 1.0], np.float32) if rng.random() < 0.7 else \
                np.clip(np.array([0.95, 0.95, 0.6]) + rng.normal(0, 0.03, 3), 0, 1).astype(np.float32)
        else:
            bg = np.ones(3, np.float32)
            color = _ink_color(rng, "black" if rng.random() < 0.75 else "blue")
        paper = np.broadcast_to(bg, (h, w, 3)).astype(np.float32)
        img = _lay_ink(paper, ink, color, 1.0)
        tags.update(ink="light" if dark else "dark", paper="canvas")
        u8 = _to_u8(img)
        return Rendered(u8, _png(u8), "png", ident, tags)
    if style == "scan":
        grey = rng.random() < 0.4
        tint = np.array([1.0, 1.0, 1.0]) - rng.uniform(0, 0.06) * np.array([0.0, 0.3, 1.0]) * (rng.random() < 0.5)
        paper = np.ones((h, w, 3), np.float32) * (rng.uniform(0.9, 1.0) * tint).astype(np.float32)
        paper += _noise_field(rng, h, w, 3.0)[..., None] * rng.uniform(0.0, 0.012)
        name = str(rng.choice(["black", "blue", "pencil"], p=[0.5, 0.35, 0.15]))
        img = _lay_ink(paper, ink, _ink_color(rng, name), rng.uniform(0.8, 1.0) if name != "pencil" else rng.uniform(0.55, 0.8))
        img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.3, 0.7))
        skew = rng.uniform(-1.5, 1.5)
        img, m = _perspective(img, rng, skew, amount=0.0)
        img += rng.normal(0, rng.uniform(0.0, 0.012), img.shape).astype(np.float32)
        # the scanner's levels: paper clipped to white (or nearly: a light grey on some)
        white = float(np.median(paper)) * rng.uniform(0.9, 0.97)
        img = np.clip(img / white, 0, 1) * (1.0 if rng.random() < 0.7 else rng.uniform(0.93, 0.99))
        if grey:
            img = np.repeat(cv2.cvtColor(np.clip(img, 0, 1), cv2.COLOR_RGB2GRAY)[..., None], 3, axis=2)
        tags.update(ink=name, paper="white", skew=round(float(skew), 2))
        u8 = _to_u8(img)
        return Rendered(u8, _png(u8), "png", m, tags)

    # photo-like: the ink goes into a frame
    fh, fw = frame or (h, w)
    oy, ox = origin
    full = np.zeros((fh, fw), np.float32)
    full[oy : oy + h, ox : ox + w] = ink
    if style == "blackboard":
        board = np.array([rng.uniform(0.1, 0.2), rng.uniform(0.16, 0.3), rng.uniform(0.13, 0.22)], np.float32)
        if rng.random() < 0.4:
            board = np.full(3, rng.uniform(0.08, 0.2), np.float32)
        paper = np.broadcast_to(board, (fh, fw, 3)).astype(np.float32).copy()
        smudge = (_noise_field(rng, fh, fw, max(fh, fw) / 6) + 1) / 2
        paper += (smudge * rng.uniform(0.02, 0.08))[..., None]
        grain = np.clip(1.0 - 0.5 * np.abs(_noise_field(rng, fh, fw, 1.5)), 0, 1)
        chalk = np.clip(np.array([0.92, 0.92, 0.88]) + rng.normal(0, 0.03, 3), 0, 1).astype(np.float32)
        img = _lay_ink(paper, full * grain, chalk, rng.uniform(0.75, 0.95))
        tags.update(ink="chalk", paper="board")
    else:
        base = rng.uniform(0.78, 0.97)
        # white balance: a warm (tungsten) or cool (shade) cast, rarely anything else; cream paper on some
        warmth = rng.normal(0, 0.035)
        cast = np.array([1.0 + warmth, 1.0, 1.0 - warmth]) + rng.normal(0, 0.01, 3)
        if rng.random() < 0.2:
            cast = cast * np.array([1.0, 0.98, 0.9])
        paper = (np.ones((fh, fw, 3)) * base * cast).astype(np.float32)
        paper += _noise_field(rng, fh, fw, 2.0)[..., None] * rng.uniform(0.0, 0.025)
        r = rng.random()
        ruling = "ruled" if r < 0.35 else "squared" if r < 0.55 else "plain"
        if ruling != "plain":
            if ruling == "ruled" and baseline_rows:
                spacing = rule_pitch or rng.uniform(1.6, 2.2) * digit_px
                offset = baseline_rows[0] + rng.uniform(-0.03, 0.05) * digit_px
            else:
                spacing = rng.uniform(0.55, 1.0) * digit_px if ruling == "squared" else rng.uniform(1.4, 2.2) * digit_px
                offset = rng.uniform(0, spacing)
            _draw_rules(paper, rng, ruling, spacing, offset, rng.uniform(-0.5, 0.5))
        name = str(rng.choice(["blue", "black", "red", "pencil"], p=[0.4, 0.3, 0.12, 0.18]))
        opacity = rng.uniform(0.85, 1.0)
        layer = full
        if name == "pencil":
            opacity = rng.uniform(0.5, 0.8)
            layer = full * np.clip(1.0 - 0.4 * np.abs(_noise_field(rng, fh, fw, 1.2)), 0, 1)
        img = _lay_ink(paper, layer, _ink_color(rng, name), opacity)
        tags.update(ink=name, paper=ruling)
    skew = rng.uniform(-4.0, 4.0)
    edges = rng.random() < 0.5  # half the photos show the sheet's (or board's) edge and what lies beyond
    img, m = _perspective(img, rng, skew, amount=rng.uniform(0.0, 0.03),
                          background=_table(rng, fh, fw) if edges else None)
    img *= _lighting(rng, fh, fw)[..., None]
    sigma = rng.uniform(0.3, 1.2) * max(1.0, digit_px / 45.0)
    img = cv2.GaussianBlur(img, (0, 0), sigma)
    if rng.random() < 0.15:  # a little motion blur
        k = int(rng.integers(3, 6))
        kern = np.zeros((k, k), np.float32)
        kern[k // 2, :] = 1.0 / k
        rot = cv2.getRotationMatrix2D((k / 2 - 0.5, k / 2 - 0.5), rng.uniform(0, 180), 1.0)
        kern = cv2.warpAffine(kern, rot, (k, k))
        kern /= max(float(kern.sum()), 1e-6)
        img = cv2.filter2D(img, -1, kern)
    img += rng.normal(0, rng.uniform(0.008, 0.035), img.shape).astype(np.float32)
    quality = int(rng.integers(35, 86))
    data = _jpeg(_to_u8(img), quality)
    tags.update(skew=round(float(skew), 2), blur=round(float(sigma), 2), jpeg=quality, edges=edges)
    return Rendered(_decode(data), data, "jpeg", m @ np.array([[1, 0, ox], [0, 1, oy], [0, 0, 1]], float), tags)


# =========================================================================================== expressions
@dataclass(frozen=True)
class Condition:
    """How an image was made (for the benchmark's per-condition figures)."""

    photo: bool
    style: str
    touching: bool
    digit_px: float
    sources: tuple[str, ...]
    tags: dict = field(default_factory=dict, compare=False)

    def to_dict(self) -> dict:
        return {"photo": self.photo, "style": self.style, "touching": self.touching,
                "digit_px": round(self.digit_px, 1), "sources": list(self.sources), **self.tags}


class _Encoded:
    """An image kept as the file bytes it would be written as (``data``, ``format``: "png" or "jpeg")."""

    data: bytes
    format: str

    @property
    def suffix(self) -> str:
        return ".jpg" if self.format == "jpeg" else ".png"

    def save(self, path: str | Path) -> Path:
        """Write the file (the suffix is added where ``path`` has none)."""
        p = Path(path)
        if p.suffix == "":
            p = p.with_suffix(self.suffix)
        p.write_bytes(self.data)
        return p


@dataclass(frozen=True)
class ExpressionSample(_Encoded):
    """One expression image: ``image`` (RGB uint8, as decoded from ``data``), the encoded file, its truth."""

    index: int
    image: np.ndarray
    data: bytes
    format: str
    truth: Truth
    condition: Condition


def _rng(seed: int, index: int, kind: int) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([SEED_TAG, kind, int(seed), int(index)]))


def make_expression(
    material: Material,
    seed: int,
    index: int,
    *,
    style: str | None = None,
    touching: bool | None = None,
    labels: Sequence[str] | None = None,
) -> ExpressionSample:
    """Expression image number ``index`` of the set ``seed``: odd indices photo-like, even ones clean (unless
    ``style`` says); about 30% with touching neighbours (unless ``touching`` says); random text (unless
    ``labels`` gives it)."""
    rng = _rng(seed, index, 1)
    photo = bool(index % 2) if style is None else style in STYLES_PHOTO
    if style is None:
        style = str(rng.choice(STYLES_PHOTO, p=[0.85, 0.15])) if photo else \
            str(rng.choice(STYLES_CLEAN, p=[0.72, 0.16, 0.12]))
    elif style not in STYLES:
        raise DataError(f"unknown style {style!r} (one of {', '.join(STYLES)})")
    touch = (rng.random() < 0.3) if touching is None else bool(touching)
    labels = tuple(labels) if labels is not None else random_labels(rng)
    truth = truth_of(labels)
    digit_px = float(np.exp(rng.uniform(np.log(26), np.log(72))))
    pen = max(1.6, digit_px * rng.uniform(0.05, 0.11))
    comp = compose_line(labels, material, rng, digit_px=digit_px, pen=pen, touching=touch)
    r, _ = render_line(comp, rng, style, photo=photo, digit_px=digit_px)
    cond = Condition(photo=photo, style=style, touching=comp.touching > 0, digit_px=digit_px,
                     sources=comp.sources, tags=r.tags)
    return ExpressionSample(index, r.image, r.data, r.format, truth, cond)


def render_line(comp: Composition, rng: np.random.Generator, style: str, *, photo: bool,
                digit_px: float) -> tuple[Rendered, np.ndarray]:
    """A composed line as an image: in a larger frame for photo-like styles, with margins for clean ones.
    Also returns the composition's owner map carried into the image (nearest pixel; -1 where no symbol)."""
    h, w = comp.ink.shape
    owner = comp.owner if comp.owner is not None else np.full((h, w), -1, np.int16)
    if photo:
        small = rng.random() < 0.15  # writing that fills a small part of a large photo
        fill = rng.uniform(0.1, 0.25) if small else rng.uniform(0.35, 0.85)
        fw = int(min(1600, max(w / fill, w + 2 * digit_px)))
        fh = int(max(h + 2 * digit_px, fw * rng.uniform(0.3, 0.75)))
        if small:
            fh = int(max(fh, fw * 0.6))
        oy = int(rng.uniform(0.2, 0.8) * (fh - h))
        ox = int(rng.uniform(0.2, 0.8) * (fw - w))
        r = render(comp.ink, rng, style, digit_px=digit_px, baseline_rows=(oy + comp.baseline,), frame=(fh, fw),
                   origin=(oy, ox))
    else:
        mx = int(rng.uniform(0.4, 1.6) * digit_px)
        my = int(rng.uniform(0.4, 1.2) * digit_px)
        padded = np.pad(comp.ink, ((my, my), (mx, mx)))
        owner = np.pad(owner, ((my, my), (mx, mx)), constant_values=-1)
        r = render(padded, rng, style, digit_px=digit_px)
    ih, iw = r.image.shape[:2]
    carried = cv2.warpPerspective((owner + 1).astype(np.float32), r.matrix.astype(np.float64), (iw, ih),
                                  flags=cv2.INTER_NEAREST, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return r, carried.astype(np.int16) - 1


def expression_set(material: Material, n: int, seed: int = 0, start: int = 0) -> Iterator[ExpressionSample]:
    """``n`` expression images of the set ``seed`` (indices ``start`` …): half photo-like."""
    for i in range(start, start + n):
        yield make_expression(material, seed, i)


# ========================================================================================== column sums
ColumnRows = tuple[list[list[str]], list[list[str]], list[str] | None, tuple[str, ...]]


def _column_rows(rng: np.random.Generator) -> ColumnRows:
    """A column sum's rows: the operands (the operator before the last), the partial products of a
    multiplication by a number of two digits, the answer (None: not written yet; sometimes wrong), and the
    line a person would write for it."""
    op = str(rng.choice(["+", "-", "×"], p=[0.5, 0.3, 0.2]))
    k = 3 if op == "+" and rng.random() < 0.35 else 2
    nums = [int(rng.integers(10, 10 ** int(rng.integers(2, 5)))) for _ in range(k)]
    if op == "-":
        nums = sorted(nums, reverse=True)
    partials: list[int] = []
    if op == "×":
        nums[0] = int(rng.integers(12, 1000))
        nums[1] = int(rng.integers(2, 10)) if rng.random() < 0.7 else int(rng.integers(12, 100))
        if nums[1] >= 10 and nums[1] % 10:
            partials = [nums[0] * (nums[1] % 10), nums[0] * (nums[1] // 10)]
    value = nums[0]
    for n in nums[1:]:
        value = value + n if op == "+" else value - n if op == "-" else value * n
    r = rng.random()
    answer = None if r < 0.1 else value if r < 0.8 else max(0, value + int(rng.choice([-10, -1, 1, 10, 100])))
    rows = [list(str(n)) for n in nums]
    rows[-1] = [op] + rows[-1]
    labels = tuple(op.join(str(n) for n in nums) + "=" + ("" if answer is None else str(answer)))
    return rows, [list(str(p)) for p in partials], None if answer is None else list(str(answer)), labels


#: The share of column additions written with their carries (small digits over the columns carried into).
CARRY_SHARE = 0.35
#: The share of column additions and subtractions written in decimals (money: one or two places, points aligned).
DECIMAL_SHARE = 0.2


def _in_decimals(rows: list[list[str]], answer: list[str] | None,
                 rng: np.random.Generator) -> tuple[list[list[str]], list[str] | None, tuple[str, ...]]:
    """An addition's or subtraction's rows with the same digits read as decimals of one or two places each (a
    subtraction's of one length), ``738`` as ``7.38``; a written answer is right or wrong as it was (a wrong one
    off by as many units of its last place)."""
    op = rows[-1][0]
    places = [int(rng.integers(1, 3)) for _ in rows]
    if op == "-":  # (of one length: the larger number stays the larger)
        places = [places[0]] * len(rows)
    ints = [int("".join(c for c in r if c.isdigit())) for r in rows]
    nums = [Fraction(n, 10 ** p) for n, p in zip(ints, places)]
    width = max(places)

    def text(v: Fraction, p: int) -> str:
        digits = str(abs(int(v * 10 ** p))).rjust(p + 1, "0")
        return ("-" if v < 0 else "") + digits[:-p] + "." + digits[-p:]

    value = nums[0]
    for n in nums[1:]:
        value = value + n if op == "+" else value - n
    right = sum(ints) if op == "+" else ints[0] - sum(ints[1:])  # the sum as drawn in whole numbers
    new_answer = None
    if answer is not None:
        new_answer = list(text(value + Fraction(int("".join(answer)) - right) / 10 ** width, width))
    out = [list(text(n, p)) for n, p in zip(nums, places)]
    out[-1] = [op] + out[-1]
    line = op.join(text(n, p) for n, p in zip(nums, places)) + "=" + ("".join(new_answer) if new_answer else "")
    return out, new_answer, tuple(line)


def _carries(rows: list[list[str]]) -> list[tuple[int, str]]:
    """(column counted from the right, digit) for each digit an addition's rows carry into the next column."""
    numbers = ["".join(c for c in r if c.isdigit()) for r in rows]
    out, carry = [], 0
    for column in range(max(len(n) for n in numbers)):
        total = carry + sum(int(n[-1 - column]) for n in numbers if column < len(n))
        carry = total // 10
        if carry:
            out.append((column + 1, str(carry)))
    return out


@dataclass(frozen=True)
class _ColumnInk:
    ink: np.ndarray  # float32, ink bright, margins of two digit heights around the sum
    sources: tuple[str, ...]
    partials: int
    carries: bool


def _column_ink(material: Material, rng: np.random.Generator, extra: np.random.Generator, rows: list[list[str]],
                partials: list[list[str]], answer: list[str] | None, *, digit_px: float, pen: float,
                mix: dict[str, float]) -> _ColumnInk:
    """A column sum's rows laid out in ink (see :func:`make_column_sum`); ``extra`` draws the carries."""
    comps = [compose_line(r, material, rng, digit_px=digit_px, pen=pen, mix=mix, slope_deg=rng.uniform(-1, 1))
             for r in rows]
    after = [compose_line(r, material, rng, digit_px=digit_px, pen=pen, mix=mix, slope_deg=rng.uniform(-1, 1))
             for r in partials + ([answer] if answer is not None else [])]
    digit_w = digit_px * 0.75
    width = max(c.ink.shape[1] for c in comps + after)
    gap = digit_px * rng.uniform(0.25, 0.6)  # between rows
    margin = int(2 * digit_px)
    height = int(sum(c.ink.shape[0] + gap for c in comps + after) + 2 * digit_px + 2 * margin)
    ink = np.zeros((height, int(width + 2 * digit_w + 2 * margin)), np.float32)
    right = ink.shape[1] - margin
    y = float(margin)
    sources: list[str] = []

    def lay(comp: Composition, shift: float = 0.0) -> None:
        nonlocal y
        h, w = comp.ink.shape
        x = int(round(right - shift - w + rng.uniform(-0.15, 0.15) * digit_px))
        top = int(round(y))
        region = ink[top : top + h, x : x + w]
        np.maximum(region, comp.ink, out=region)
        sources.extend(comp.sources)
        y = top + h + gap

    def bar() -> None:
        nonlocal y
        row = int(round(y - gap + rng.uniform(0.1, 0.3) * digit_px))
        x0 = int(right - width - rng.uniform(0.1, 0.5) * digit_px)
        x1 = int(right + rng.uniform(0.0, 0.3) * digit_px)
        cv2.line(ink, (x0, row), (x1, row + int(round(rng.uniform(-0.06, 0.06) * digit_px))), 1.0,
                 max(1, int(round(pen))), cv2.LINE_AA)
        y = row + rng.uniform(0.3, 0.5) * digit_px

    top_row = (right, y)  # where the first row ends and starts
    for c in comps:
        lay(c)
    carries = _carries(rows) if rows[-1][0] == "+" else []
    shown = bool(carries) and extra.random() < CARRY_SHARE
    if shown:
        # Carried digits written small over the columns they are carried into, above the first row.
        col_w = comps[0].ink.shape[1] / max(len(rows[0]), 1)
        for column, digit in carries:
            small = compose_line([digit], material, extra, digit_px=digit_px * extra.uniform(0.45, 0.6),
                                 pen=pen * 0.8, mix=mix)
            h, w = small.ink.shape
            x = int(round(top_row[0] - (column + 0.5) * col_w - w / 2 + extra.uniform(-0.1, 0.1) * col_w))
            top = int(round(top_row[1] - h - extra.uniform(0.05, 0.25) * digit_px))
            if x >= 0 and top >= 0:
                region = ink[top : top + h, x : x + w]
                np.maximum(region, small.ink[: region.shape[0], : region.shape[1]], out=region)
    bar()
    for k, c in enumerate(after[: len(partials)]):
        lay(c, shift=k * digit_w)  # each partial product a place further left
    if partials:
        bar()
    if answer is not None:
        lay(after[-1])
    ink = ink[: int(min(ink.shape[0], y + margin))]
    return _ColumnInk(ink, tuple(sources), len(partials), shown)


def make_column_sum(material: Material, seed: int, index: int) -> ExpressionSample:
    """Column sum number ``index`` of the set ``seed``, as taught at school: numbers stacked with their last
    digits aligned, the operator before the last, a bar under it, the answer under the bar (not written on one
    in ten, wrong on one in five); a multiplication by a two-digit number shows its partial products and a
    second bar; CARRY_SHARE of the additions show their carries. Odd indices photo-like, even ones clean. The
    truth is the line a person would write (``738+53=791``)."""
    rng = _rng(seed, index, 3)
    photo = bool(index % 2)
    style = str(rng.choice(STYLES_PHOTO, p=[0.85, 0.15])) if photo else \
        str(rng.choice(STYLES_CLEAN, p=[0.72, 0.16, 0.12]))
    rows, partials, answer, labels = _column_rows(rng)
    decimals = _rng(seed, index, 9)  # (a stream of its own: a sum in whole numbers is drawn as it was)
    if rows[-1][0] in "+-" and decimals.random() < DECIMAL_SHARE:
        rows, answer, labels = _in_decimals(rows, answer, decimals)
    truth = truth_of(labels)
    digit_px = float(np.exp(rng.uniform(np.log(28), np.log(64))))
    pen = max(1.6, digit_px * rng.uniform(0.05, 0.1))
    mix = _mix(material, rng)
    # (carries from a stream of their own: the rest of the image is as without them)
    col = _column_ink(material, rng, _rng(seed, index, 4), rows, partials, answer, digit_px=digit_px, pen=pen,
                      mix=mix)
    ink = col.ink
    if photo:
        h, w = ink.shape
        fw = int(min(1600, w / rng.uniform(0.35, 0.8)))
        fh = int(max(h + 2 * digit_px, fw * rng.uniform(0.5, 0.9)))
        oy, ox = int(rng.uniform(0.2, 0.8) * (fh - h)), int(rng.uniform(0.2, 0.8) * (fw - w))
        r = render(ink, rng, style, digit_px=digit_px, frame=(fh, fw), origin=(oy, ox))
    else:
        r = render(ink, rng, style, digit_px=digit_px)
    cond = Condition(photo=photo, style=style, touching=False, digit_px=digit_px, sources=col.sources,
                     tags=dict(r.tags, layout="column", partials=col.partials, carries=col.carries))
    return ExpressionSample(index, r.image, r.data, r.format, truth, cond)


def make_column_sheet(material: Material, seed: int, index: int, *, photo: bool | None = None) -> WorksheetSample:
    """Page ``index`` of the set ``seed`` of column sums written in a grid, as on a worksheet of them: two or
    three across, three or four down, one writer (one pen, one size), on a 200-dpi US-letter page; odd indices
    photographed, even ones scanned. Each sum is one truth line (the line a person would write), boxed where it
    lies."""
    rng = _rng(seed, index, 6)
    photo = bool(index % 2) if photo is None else bool(photo)
    pw, ph = PAGE_SIZE
    cols, n_rows = int(rng.integers(2, 4)), int(rng.integers(3, 5))
    digit_px = float(rng.uniform(34, 50))
    pen = max(2.0, digit_px * rng.uniform(0.05, 0.1))
    mix = _mix(material, rng)
    top, left = rng.uniform(150, 250), rng.uniform(100, 200)
    cell_w, cell_h = (pw - 2 * left) / cols, (ph - top - 150) / n_rows
    ink = np.zeros((ph, pw), np.float32)
    placed = []  # (truth, box)
    for k in range(cols * n_rows):
        cell = _rng(seed, index * 100 + k, 7)
        rows, partials, answer, labels = _column_rows(cell)
        col = _column_ink(material, cell, _rng(seed, index * 100 + k, 8), rows, partials, answer,
                          digit_px=digit_px * cell.uniform(0.95, 1.05), pen=pen, mix=mix)
        ys, xs = np.nonzero(col.ink > 0.2)
        if not len(ys):
            continue
        crop = col.ink[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]
        h, w = crop.shape
        gx, gy = k % cols, k // cols
        x0 = int(left + gx * cell_w + cell.uniform(0.1, 0.9) * max(cell_w - w, 0))
        y0 = int(top + gy * cell_h + cell.uniform(0.05, 0.5) * max(cell_h - h, 0))
        if x0 + w > pw - 20 or y0 + h > ph - 20:
            continue
        region = ink[y0 : y0 + h, x0 : x0 + w]
        np.maximum(region, crop, out=region)
        placed.append((truth_of(labels), (x0, y0, w, h)))
    if photo:
        r = render(ink, rng, "photo", digit_px=digit_px, frame=(ph, pw), origin=(0, 0))
    else:
        r = render(ink, rng, "scan", digit_px=digit_px)
    lines = []
    for truth, (x, y, w, h) in placed:
        lines.append(_line_in_image(truth, (x, y, w, h), r.matrix))
    tags = dict(r.tags, lines=len(lines), digit_px=round(digit_px, 1), layout="column", grid=[n_rows, cols])
    return WorksheetSample(index, r.image, r.data, r.format, tuple(lines), photo, tags)


def column_sheet_set(material: Material, pages: int, seed: int = 0, start: int = 0) -> Iterator[WorksheetSample]:
    """``pages`` pages of column sums of the set ``seed``: half photographed."""
    for i in range(start, start + pages):
        yield make_column_sheet(material, seed, i)


def column_set(material: Material, n: int, seed: int = 0, start: int = 0) -> Iterator[ExpressionSample]:
    """``n`` column sums of the set ``seed`` (indices ``start`` …): half photo-like."""
    for i in range(start, start + n):
        yield make_column_sum(material, seed, i)


# ============================================================================================ worksheets
@dataclass(frozen=True)
class WorksheetLine:
    truth: Truth
    box: tuple[int, int, int, int]  # in the page image (approximate for photo-like pages: the frame's box moved)
    centre_y: float  # the line's centre row in the page image


@dataclass(frozen=True)
class WorksheetSample(_Encoded):
    index: int
    image: np.ndarray
    data: bytes
    format: str
    lines: tuple[WorksheetLine, ...]
    photo: bool
    tags: dict


def _line_in_image(truth: Truth, box: tuple[int, int, int, int], matrix: np.ndarray) -> WorksheetLine:
    """A line laid out at ``box`` on the page, boxed where the rendering's ``matrix`` puts it in the image."""
    x, y, w, h = box
    pts = np.array([[x, y, 1], [x + w, y, 1], [x + w, y + h, 1], [x, y + h, 1]], float).T
    q = matrix @ pts
    q = q[:2] / q[2]
    bx0, by0, bx1, by1 = q[0].min(), q[1].min(), q[0].max(), q[1].max()
    return WorksheetLine(truth, (int(bx0), int(by0), int(bx1 - bx0), int(by1 - by0)), float((by0 + by1) / 2))


def make_worksheet(material: Material, seed: int, index: int, *, photo: bool | None = None) -> WorksheetSample:
    """Worksheet page ``index`` of the set ``seed``: 8–14 lines at 200 dpi US-letter (1700×2200), some
    indented, some short; odd indices photo-like; ruled paper on some."""
    rng = _rng(seed, index, 2)
    photo = bool(index % 2) if photo is None else bool(photo)
    pw, ph = PAGE_SIZE
    n_lines = int(rng.integers(8, 15))
    top, bottom = rng.uniform(150, 260), rng.uniform(120, 220)
    pitch = (ph - top - bottom) / n_lines
    digit_px = float(min(rng.uniform(38, 58), pitch * 0.45))
    pen = max(2.0, digit_px * rng.uniform(0.05, 0.1))
    mix = _mix(material, rng)
    left = rng.uniform(120, 260)
    ink = np.zeros((ph, pw), np.float32)
    placed = []  # (truth, box, baseline row)
    slope = rng.uniform(-1.2, 1.2)
    for k in range(n_lines):
        short = rng.random() < 0.2
        labels = random_labels(rng, short=short, max_symbols=16)
        touch = rng.random() < 0.2
        comp = compose_line(labels, material, rng, digit_px=digit_px * rng.uniform(0.95, 1.05), pen=pen,
                            touching=touch, mix=mix, slope_deg=slope + rng.uniform(-0.6, 0.6))
        h, w = comp.ink.shape
        indent = rng.uniform(1.0, 4.0) * digit_px if rng.random() < 0.25 else rng.uniform(-0.3, 0.3) * digit_px
        x0 = int(max(40, left + indent))
        if x0 + w > pw - 60:
            x0 = max(40, pw - 60 - w)
            if x0 + w > pw - 40:
                continue  # too long for the page: leave the line out
        base = top + (k + 0.72) * pitch + rng.uniform(-0.06, 0.06) * pitch
        y0 = int(round(base - comp.baseline))
        if y0 < 10 or y0 + h > ph - 10:
            continue
        region = ink[y0 : y0 + h, x0 : x0 + w]
        np.maximum(region, comp.ink, out=region)
        placed.append((truth_of(labels), (x0, y0, w, h), base))
    if photo:
        style = "photo"
        r = render(ink, rng, style, digit_px=digit_px, baseline_rows=(placed[0][2],) if placed else (),
                   rule_pitch=pitch, frame=(ph, pw), origin=(0, 0))
    else:
        r = _render_page_scan(ink, rng, digit_px, [p[2] for p in placed], pitch)
    lines = []
    for truth, (x, y, w, h), _ in placed:
        lines.append(_line_in_image(truth, (x, y, w, h), r.matrix))
    tags = dict(r.tags, lines=len(lines), digit_px=round(digit_px, 1))
    return WorksheetSample(index, r.image, r.data, r.format, tuple(lines), photo, tags)


def _render_page_scan(ink: np.ndarray, rng: np.random.Generator, digit_px: float, baselines: list[float],
                      pitch: float) -> Rendered:
    """A scanned page: ruled lines under the writing on some pages, otherwise :func:`render` ``scan``."""
    if rng.random() < 0.4 and baselines:
        h, w = ink.shape
        tint = rng.uniform(0.93, 1.0)
        paper = np.full((h, w, 3), tint, np.float32)
        _draw_rules(paper, rng, "ruled", pitch, baselines[0] + rng.uniform(-2, 4), 0.0)
        name = str(rng.choice(["black", "blue", "pencil"], p=[0.5, 0.35, 0.15]))
        img = _lay_ink(paper, ink, _ink_color(rng, name), rng.uniform(0.8, 1.0) if name != "pencil" else 0.7)
        img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.3, 0.7))
        img += rng.normal(0, rng.uniform(0.0, 0.008), img.shape).astype(np.float32)
        img = np.clip(img / (tint * rng.uniform(0.92, 0.98)), 0, 1)  # the scanner's levels
        u8 = _to_u8(img)
        return Rendered(u8, _png(u8), "png", np.eye(3), {"style": "scan", "ink": name, "paper": "ruled"})
    return render(ink, rng, "scan", digit_px=digit_px)


def worksheet_set(material: Material, pages: int, seed: int = 0, start: int = 0) -> Iterator[WorksheetSample]:
    """``pages`` worksheet pages of the set ``seed``: half photo-like."""
    for i in range(start, start + pages):
        yield make_worksheet(material, seed, i)


# =============================================================================================== scoring
def edit_distance(a: Sequence[str], b: Sequence[str]) -> int:
    """Levenshtein distance between two symbol sequences."""
    prev = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        cur = [i]
        for j, cb in enumerate(b, 1):
            cur.append(min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ca != cb)))
        prev = cur
    return prev[-1]


def _same_value(a: str | None, b: str | None) -> bool:
    if a is None or b is None:
        return False
    try:
        return Fraction(a) == Fraction(b)
    except (ValueError, ZeroDivisionError):
        return False


@dataclass(frozen=True)
class LineScore:
    """How one recognized line compares with its truth. ``read`` is what was read ('' when nothing)."""

    truth: str
    read: str
    exact: bool
    value_ok: bool
    verdict_ok: bool | None  # None where the truth has no written answer
    edits: int  # edit distance between ``read`` (every line found, joined) and the truth
    lines_found: int  # recognized lines that stand for this one (1 is right)
    best_edits: int = 0  # edit distance of the closest single line found (the truth's length if none)

    def category(self) -> str:
        """Why a line was not read exactly: ``ok``, ``lines`` (split or merged lines, or none found),
        ``count`` (symbols missed, merged or split), ``symbol`` (same count, some misread)."""
        if self.exact:
            return "ok"
        if self.lines_found != 1:
            return "lines"
        if len(self.read) != len(self.truth):
            return "count"
        return "symbol"


def score_line(truth: Truth, lines: Sequence[dict]) -> LineScore:
    """Score the recognized lines (``LineResult.to_dict()`` records) that stand for one truth line."""
    read = "".join(str(ln.get("text") or "") for ln in lines)
    exact = len(lines) == 1 and read == truth.text
    one = lines[0] if len(lines) == 1 else None
    value_ok = one is not None and _same_value(one.get("value"), truth.value)
    verdict_ok = None
    if truth.correct is not None:
        verdict_ok = one is not None and one.get("correct") is truth.correct
    best = min((edit_distance(str(ln.get("text") or ""), truth.text) for ln in lines), default=len(truth.text))
    return LineScore(truth.text, read, exact, value_ok, verdict_ok, edit_distance(read, truth.text), len(lines),
                     best)


def match_worksheet_lines(sample: WorksheetSample, record: dict) -> list[LineScore]:
    """Score a page record (``PageResult.to_dict()``) against a worksheet's truth: each recognized line goes
    to the truth line whose centre is nearest its own, so a stray mark or a line split in two counts against
    the line it lies nearest (``lines_found`` != 1), and a truth line nothing went to is a miss."""
    truths = sample.lines
    if not truths:
        return []
    centres = np.array([t.centre_y for t in truths])
    # A page of sums side by side (a grid of column sums): to the truth whose box holds the line's centre, else
    # the nearest by both coordinates.
    grid = (getattr(sample, "tags", None) or {}).get("layout") == "column"
    boxes = np.array([t.box for t in truths], float)
    assigned: list[list[dict]] = [[] for _ in truths]
    for ln in record.get("lines") or []:
        x, y, w, h = ln.get("box") or (0, 0, 0, 0)
        cx, cy = x + w / 2.0, y + h / 2.0
        if grid:
            inside = ((boxes[:, 0] <= cx) & (cx <= boxes[:, 0] + boxes[:, 2]) & (boxes[:, 1] <= cy)
                      & (cy <= boxes[:, 1] + boxes[:, 3]))
            far = np.hypot(boxes[:, 0] + boxes[:, 2] / 2.0 - cx, boxes[:, 1] + boxes[:, 3] / 2.0 - cy)
            assigned[int(np.argmax(inside)) if inside.any() else int(np.argmin(far))].append(ln)
        else:
            assigned[int(np.argmin(np.abs(centres - cy)))].append(ln)
    out = []
    for t, lines in zip(truths, assigned):
        lines = sorted(lines, key=lambda ln: (ln.get("box") or (0,))[0])
        out.append(score_line(t.truth, lines))
    return out


# =============================================================================================== samples
#: The images in ``samples/``: file → (style, text, seed). Seeds were picked among the first few for
#: legibility; everything else is what the generator draws for that seed.
SAMPLES: dict[str, tuple[str, str, int]] = {
    "clean-scan.png": ("scan", "12+7×3=", 4),
    "phone-photo.jpg": ("photo", "48÷(2+6)=6", 2),
    "canvas-drawing.png": ("canvas-dark", "3.5×4-2=11", 3),
    "scan.pdf": ("scan", "4(6-2)-1.5=14.5", 2),
}
SAMPLE_WORKSHEET = ("worksheet.png", 4)  # (file, seed): a scanned page
SAMPLE_COLUMN = ("column-sum.png", 26)  # (file, seed): a column addition with its carries, scanned
SAMPLE_FRACTIONS = ("fractions.png", 4)  # (file, seed): 3/4+1/8=7/8 with stacked fractions, scanned
SAMPLE_CORRECTION = ("correction.png", 2)  # (file, seed): 12+7=18 with the 18 scribbled over, then 19; scanned


def write_samples(folder: str | Path, material: Material | None = None) -> dict:
    """Write the sample images and return the expected results (``samples/expected.json``'s content). The
    canvas drawing is drawn by the stroke synthesizer alone; the others mix MNIST test digits, held-out real
    symbols and held-out synthetic ones (:func:`load_material`)."""
    from PIL import Image

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    material = material or load_material()
    expected: dict = {}
    for name, (style, text, seed) in SAMPLES.items():
        m = Material(notes=["synthesizer only"]) if style.startswith("canvas") else material
        s = make_expression(m, seed, 1000, style=style, labels=list(text), touching=False)
        if name.endswith(".pdf"):
            Image.fromarray(s.image).save(folder / name, "PDF", resolution=200.0)
        else:
            (folder / name).write_bytes(s.data)
        expected[name] = {"style": style, "lines": [s.truth.to_dict()]}
    name, seed = SAMPLE_WORKSHEET
    w = make_worksheet(material, seed, 1000, photo=False)
    (folder / name).write_bytes(w.data)
    expected[name] = {"style": "worksheet scan", "lines": [ln.truth.to_dict() for ln in w.lines]}
    name, seed = SAMPLE_COLUMN
    c = make_column_sum(material, seed, 1000)
    (folder / name).write_bytes(c.data)
    expected[name] = {"style": "column sum scan", "lines": [c.truth.to_dict()]}
    from hdr_expr.datasets.fractions import make_fraction_line
    from hdr_expr.pipeline.fractions import WrittenFraction

    name, seed = SAMPLE_FRACTIONS
    items = [WrittenFraction(("3",), ("4",)), "+", WrittenFraction(("1",), ("8",)), "=",
             WrittenFraction(("7",), ("8",))]
    f = make_fraction_line(material, seed, 1000, items=items)
    (folder / name).write_bytes(f.data)
    expected[name] = {"style": "stacked fractions scan", "lines": [f.truth.to_dict()]}
    name, seed = SAMPLE_CORRECTION
    expected[name] = _write_correction_sample(folder / name, material, seed)
    return expected


def _write_correction_sample(path: Path, material: Material, seed: int) -> dict:
    """``samples/correction.png``: a pupil's wrong answer scribbled over and the right one written after it."""
    from hdr_expr.datasets.corrections import make_correction_line

    c = make_correction_line(material, seed, 1000, written="12+7=1819", struck=(5, 7), kind="scribble", style="scan")
    path.write_bytes(c.data)
    return {"style": "correction scan", "lines": [c.truth.to_dict()]}
