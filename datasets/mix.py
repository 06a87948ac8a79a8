"""Training mixes for the symbol model, and the evaluation sets it is measured on.

A mix (:func:`build_symbol_mix`) holds, in stated ratios:

* **digits**: MNIST train (all 60,000 by default), the digits of each real set's *train* split, and
  ``synth_digits`` synthesized images per digit;
* **operators** (``+ - × ÷ = ( ) . /``): the operators of each real set's train split, topped up by the
  synthesizer to ``operator_target`` images per class, with at least ``min_synth_operators`` synthesized per
  class whatever the real data holds. So the synthesizer carries what the real data lacks (``/``, ``.``,
  ``÷`` in one set; ``*`` and the raised dot in all), the operator classes come out balanced, and the
  synthesizer's wider hands are always in the mix.

With the two sets in ``../shared`` and the defaults (6,000 per operator class), an operator class holds 200
(``/``) to 2,600 (``=``) real images, and the synthesizer draws about 42,000 operators and 5,000 digits.

The evaluation sets: MNIST test (:func:`eval_mnist`), each real set's held-out split (:func:`eval_real`,
the fixed file-hash rule of :func:`~hdr_expr.datasets.importers.is_held_out`), and a synthetic set drawn with
another seed *and* the :data:`~hdr_expr.datasets.synth.WIDE` ranges (:func:`eval_synth`). Everything is
seeded and deterministic; images are uint8 0–255, ink bright, 28×28, labels index SYMBOL_CLASSES.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from hdr_expr.errors import DataError
from hdr_expr.symbols import DIGITS, OPERATORS, SYMBOL_CLASSES

#: Seed of the held-out synthetic set; a training mix may not use it.
EVAL_SYNTH_SEED = 7_919_000
#: Images per class in the held-out synthetic set.
EVAL_SYNTH_PER_CLASS = 500

_INDEX = {c: i for i, c in enumerate(SYMBOL_CLASSES)}
_DIGIT_IDX = np.array([_INDEX[d] for d in DIGITS])
_OP_IDX = np.array([_INDEX[o] for o in OPERATORS])


def _counts(y: np.ndarray) -> dict[str, int]:
    n = np.bincount(np.asarray(y, np.int64), minlength=len(SYMBOL_CLASSES))
    return {c: int(n[i]) for i, c in enumerate(SYMBOL_CLASSES) if n[i]}


@dataclass(frozen=True)
class Source:
    """One data source of a mix or evaluation set, as a model card names it."""

    name: str
    kind: str  # "mnist", "real" or "synthetic"
    split: str  # "train", "test" or "held-out"
    images: int
    counts: dict[str, int]
    path: str | None = None
    files: int | None = None
    checksum: str | None = None  # real: SHA-256 of the listing; MNIST: MD5s of the IDX files
    details: dict[str, Any] = field(default_factory=dict)  # synthetic: seed, ranges, generator; real: skips

    def to_dict(self) -> dict[str, Any]:
        d = {"name": self.name, "kind": self.kind, "split": self.split, "images": self.images,
             "counts": dict(self.counts)}
        for k in ("path", "files", "checksum"):
            if getattr(self, k) is not None:
                d[k] = getattr(self, k)
        d.update(self.details)
        return d


@dataclass(frozen=True)
class Mix:
    """A training mix: ``x`` uint8 N×28×28, ``y`` uint8 class indices, ``source[i]`` the index in
    ``sources`` of the source image i came from; shuffled (seeded)."""

    x: np.ndarray
    y: np.ndarray
    source: np.ndarray
    sources: tuple[Source, ...]
    recipe: dict[str, Any]

    def __len__(self) -> int:
        return len(self.y)

    @property
    def counts(self) -> dict[str, int]:
        return _counts(self.y)

    def card(self) -> dict[str, Any]:
        """``data_sources`` and ``data_mix`` entries for a model card."""
        return {"data_sources": [s.to_dict() for s in self.sources],
                "data_mix": {**self.recipe, "images": len(self), "counts": self.counts}}


@dataclass(frozen=True)
class EvalSet:
    """An evaluation set: ``x`` uint8 N×28×28, ``y`` uint8 class indices."""

    name: str
    x: np.ndarray
    y: np.ndarray
    source: Source

    def __len__(self) -> int:
        return len(self.y)


# --- sources ----------------------------------------------------------------------------------------------


def _load_mnist(split: str, data_dir):
    from hdr_expr.datasets.mnist import load_mnist

    return load_mnist(split, data_dir)


def _mnist_files(data_dir) -> list[dict[str, str]]:
    from hdr_expr.datasets.mnist import mnist_sources

    return mnist_sources(data_dir)


def _mnist_source(split: str, y: np.ndarray, data_dir) -> Source:
    files = [f for f in _mnist_files(data_dir) if f["name"].startswith("train" if split == "train" else "t10k")]
    return Source(
        name="MNIST", kind="mnist", split=split, images=int(len(y)), counts=_counts(y),
        path=str(Path(files[0]["path"]).parent) if files else None, files=len(files) or None,
        checksum=",".join(f"{f['name']}:md5:{f['md5_uncompressed']}" for f in files) or None,
    )


def _real_source(s) -> Source:
    rec = s.record()
    details = {k: rec[k] for k in ("held_out_rule", "importer", "normalization", "skipped_folders",
                                   "undecodable", "blank")}
    if s.skipped_labels:
        details["skipped_labels"] = int(sum(s.skipped_labels.values()))
    return Source(name=s.name, kind="real", split=s.split, images=len(s), counts=_counts(s.y),
                  path=str(s.root), files=rec["files"], checksum=s.listing_checksum, details=details)


def _synth_source(name: str, split: str, y: np.ndarray, seed: int, ranges) -> Source:
    from hdr_expr.datasets.synth import synth_record

    rec = synth_record(_counts(y), seed, ranges)
    details = {k: rec[k] for k in ("generator", "normalization", "seed", "ranges")}
    return Source(name=name, kind="synthetic", split=split, images=int(len(y)), counts=_counts(y),
                  details=details)


def _load_real(path, *, workers, cache, progress):
    from hdr_expr.datasets.importers import load_real_set

    return load_real_set(path, workers=workers, cache=cache, progress=progress)


# --- the mix ----------------------------------------------------------------------------------------------


def build_symbol_mix(
    real_dirs: Sequence[str | Path] = (),
    *,
    mnist_dir: str | Path | None = None,
    mnist_limit: int | None = None,
    real_digits: bool = True,
    real_repeat: int = 1,
    operator_target: int = 6000,
    min_synth_operators: int = 1500,
    synth_digits: int = 500,
    seed: int = 0,
    ranges=None,
    workers: int | None = None,
    cache: bool = True,
    progress: Callable[[str, int, int], None] | None = None,
    composed_lines: int = 0,
    shared: str | Path | None = None,
) -> Mix:
    """Build the training mix (see the module notes for the ratios).

    ``composed_lines``: also the whole symbols that recognition's own segmenter cuts from that many lines
    composed of training material (MNIST train, the real sets' train splits, the synthesizer; ``shared`` says
    where the first two are), 70% of them rendered as scans, drawings and photos and preprocessed as
    recognition does (:mod:`hdr_expr.datasets.segments`): symbols as the pipeline sees them, with their
    photographed strokes and neighbours' overlaps.

    ``real_dirs``: real sets in either layout (folder per class, or HASYv2); only their train split is used.
    ``mnist_limit``: the first N MNIST train images only (quick runs). ``real_digits``: include the real sets'
    digits too. ``real_repeat``: how many times each real image appears (real hands are scarcer than MNIST's
    and the synthesizer's; repeating them weighs them more). ``operator_target``: images per operator class, real + synthesized. ``min_synth_operators``:
    synthesized images per operator class at least. ``synth_digits``: synthesized images per digit class.
    ``ranges``: the synthesizer's ranges (default TRAIN). ``progress(stage, done, total)`` reports the
    importers' and the synthesizer's progress.
    """
    from hdr_expr.datasets.synth import TRAIN, synth_set

    ranges = TRAIN if ranges is None else ranges
    if int(seed) == EVAL_SYNTH_SEED:
        raise DataError(f"seed {seed} is the held-out synthetic set's seed; train with another")
    if operator_target < 0 or min_synth_operators < 0 or synth_digits < 0:
        raise DataError("operator_target, min_synth_operators and synth_digits must not be negative")
    xs, ys, srcs = [], [], []

    mx, my = _load_mnist("train", mnist_dir)
    if mnist_limit is not None:
        mx, my = mx[:mnist_limit], my[:mnist_limit]
    if len(my):
        xs.append(np.asarray(mx, np.uint8))
        ys.append(np.asarray(my, np.uint8))  # MNIST labels 0-9 are SYMBOL_CLASSES indices 0-9
        srcs.append(_mnist_source("train", ys[-1], mnist_dir))

    real_ops = np.zeros(len(SYMBOL_CLASSES), np.int64)
    for d in real_dirs:
        cb = (lambda done, total, _d=d: progress(f"import {Path(_d).name}", done, total)) if progress else None
        s = _load_real(d, workers=workers, cache=cache, progress=cb).train_split()
        keep = np.isin(s.y, _OP_IDX) | (real_digits & np.isin(s.y, _DIGIT_IDX))
        s = s.subset(keep, "train")
        if len(s) == 0:
            continue
        xs.append(np.tile(s.x, (max(1, real_repeat), 1, 1)))
        ys.append(np.tile(s.y.astype(np.uint8), max(1, real_repeat)))
        srcs.append(_real_source(s))
        real_ops += np.bincount(s.y.astype(np.int64), minlength=len(SYMBOL_CLASSES))

    want = {d: synth_digits for d in DIGITS}
    for o in OPERATORS:
        want[o] = max(min_synth_operators, operator_target - int(real_ops[_INDEX[o]]))
    total = sum(want.values())
    if progress:
        progress("synthesize", 0, total)
    sx, sy = synth_set(want, seed=seed, ranges=ranges)
    if progress:
        progress("synthesize", total, total)
    if len(sy):
        xs.append(sx)
        ys.append(sy)
        srcs.append(_synth_source(f"synthetic-{ranges.name}", "train", sy, seed, ranges))
    if composed_lines > 0:
        from hdr_expr.datasets.expressions import load_material
        from hdr_expr.datasets.segments import GENERATOR_VERSION, segment_examples

        if progress:
            progress("composed lines", 0, composed_lines)
        material = load_material(shared, split="train")
        line_seed = int(seed) + 0x11E5
        ex = segment_examples(material, composed_lines, line_seed, rendered=0.7, workers=max(1, workers or 1))
        cx, cy = ex.symbol_crops()
        if progress:
            progress("composed lines", composed_lines, composed_lines)
        xs.append(cx)
        ys.append(cy)
        srcs.append(Source(name="composed-lines", kind="composed", split="train", images=int(len(cy)),
                           counts=_counts(cy), details={"generator": GENERATOR_VERSION, "lines": composed_lines,
                                                        "seed": line_seed, "rendered_share": 0.7,
                                                        "material": material.describe()}))
    if not xs:
        raise DataError("the mix is empty: no MNIST images, no real sets and nothing to synthesize")

    x = np.concatenate(xs)
    y = np.concatenate(ys)
    src = np.concatenate([np.full(len(a), i, np.int16) for i, a in enumerate(ys)])
    order = np.random.default_rng(np.random.SeedSequence([int(seed), 0x6D6978])).permutation(len(y))
    recipe = {
        "seed": int(seed), "operator_target": operator_target, "min_synth_operators": min_synth_operators,
        "synth_digits": synth_digits, "real_digits": real_digits, "real_repeat": real_repeat,
        "mnist_limit": mnist_limit,
        "synth_ranges": ranges.name,
    }
    return Mix(x=x[order], y=y[order], source=src[order], sources=tuple(srcs), recipe=recipe)


# --- evaluation sets --------------------------------------------------------------------------------------


def eval_mnist(mnist_dir: str | Path | None = None) -> EvalSet:
    """MNIST test (10,000 images)."""
    x, y = _load_mnist("test", mnist_dir)
    y = np.asarray(y, np.uint8)
    return EvalSet("MNIST test", np.asarray(x, np.uint8), y, _mnist_source("test", y, mnist_dir))


def eval_real(path: str | Path, *, workers: int | None = None, cache: bool = True,
              progress: Callable[[int, int], None] | None = None) -> EvalSet:
    """A real set's fixed held-out split (file hash; never in a mix)."""
    s = _load_real(path, workers=workers, cache=cache, progress=progress).held_out_split()
    if len(s) == 0:
        raise DataError(f"{path}: the held-out split is empty (the set is too small to measure on)")
    return EvalSet(f"{s.name} held-out", s.x, s.y.astype(np.uint8), _real_source(s))


def eval_synth(n_per_class: int = EVAL_SYNTH_PER_CLASS, seed: int = EVAL_SYNTH_SEED, ranges=None) -> EvalSet:
    """The held-out synthetic set: its own seed and the WIDE ranges (wider than training's)."""
    from hdr_expr.datasets.synth import WIDE, synth_set

    ranges = WIDE if ranges is None else ranges
    x, y = synth_set(n_per_class, seed=seed, ranges=ranges)
    return EvalSet(f"synthetic-{ranges.name} held-out", x, y,
                   _synth_source(f"synthetic-{ranges.name}", "held-out", y, seed, ranges))


def eval_sets(
    real_dirs: Sequence[str | Path] = (),
    *,
    mnist_dir: str | Path | None = None,
    synth_per_class: int = EVAL_SYNTH_PER_CLASS,
    workers: int | None = None,
    cache: bool = True,
) -> list[EvalSet]:
    """Every evaluation set: MNIST test, each real set's held-out split, the held-out synthetic set."""
    sets = [eval_mnist(mnist_dir)]
    sets += [eval_real(d, workers=workers, cache=cache) for d in real_dirs]
    if synth_per_class > 0:
        sets.append(eval_synth(synth_per_class))
    return sets
