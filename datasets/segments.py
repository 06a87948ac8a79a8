"""Training data for the segmentation verifier: the segmenter's own proposals on composed lines, labelled.

A line of known symbols is composed from *training* material (MNIST train digits, the real sets' train
splits, the synthesizer; :func:`~hdr_expr.datasets.expressions.load_material` with ``split="train"``), half of
the lines with touching neighbours. Its ink is thresholded at a random level, sometimes through a patchy
pressure field that breaks faint strokes, and run through :func:`segment_page` and
:func:`line_readings` exactly as in recognition. Every proposed crop (whole, a piece of a split, a merged
run) is labelled from the composition's owner map: *whole* when at least PURITY of its ink belongs to one
symbol, it holds at least COVERAGE of that symbol's ink, and no other symbol has OTHER_SHARE of its ink in it
(a decimal point merged into a digit is a tiny share of the ink); *other* otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from hdr_expr.datasets.expressions import STYLES_PHOTO, Material, compose_line, random_labels, render_line
from hdr_expr.pipeline.segment import VERIFIED_SPLIT_HEIGHT, VERIFIED_SPLIT_USUAL, line_readings, segment_page
from hdr_expr.pipeline.verify import verifier_input
from hdr_expr.symbols import SYMBOL_CLASSES

SYMBOL_INDEX = {c: i for i, c in enumerate(SYMBOL_CLASSES)}

#: Recorded on the verifier's card. v5: blobs from VERIFIED_SPLIT_HEIGHT line heights wide offered for splitting;
#: v6: slanted bars grouped as '=' (segment._kind); v7: VERIFIED_SPLIT_HEIGHT 0.7 (was 0.8), a decimal point
#: beside a neighbour never merged into it (segment._detached_point), mask specks from 0.15 stroke² (was 0.25);
#: v8: the pieces of cuts where a bar run into a digit ends (segment.bar_tail_cuts) and the splitting rules since.
GENERATOR_VERSION = "segments-v8"
#: Styles of the rendered lines and how often each is drawn.
STYLES = ("scan", "canvas", "canvas-dark", "photo", "blackboard")
STYLE_P = (0.3, 0.08, 0.07, 0.45, 0.1)
PURITY = 0.92
COVERAGE = 0.85
OTHER_SHARE = 0.4


@dataclass(frozen=True)
class SegmentExamples:
    x: np.ndarray  # N×28×28×2 float16
    y: np.ndarray  # N uint8: 0 whole, 1 other
    kind: np.ndarray  # N uint8: 0 a crop as segmented, 1 a piece of a split, 2 a merged run
    lines: int
    symbol: np.ndarray | None = None  # N int8: SYMBOL_CLASSES index of a whole symbol, -1 for the others

    def symbol_crops(self) -> tuple[np.ndarray, np.ndarray]:
        """The whole symbols as the classifier sees them: (N×28×28 uint8, ink bright; labels)."""
        keep = self.symbol >= 0
        x = np.clip(np.round(self.x[keep, :, :, 0].astype(np.float32) * 255.0), 0, 255).astype(np.uint8)
        return x, self.symbol[keep].astype(np.uint8)


def _degrade(ink: np.ndarray, rng: np.random.Generator, digit_px: float) -> np.ndarray:
    """Ink → mask at a random threshold; sometimes through a patchy pressure field (faint strokes break)."""
    if rng.random() < 0.35:
        h, w = ink.shape
        cell = max(4, int(digit_px * rng.uniform(0.15, 0.5)))
        field = rng.uniform(0.45, 1.25, (h // cell + 2, w // cell + 2)).astype(np.float32)
        field = cv2.resize(field, (w + 2 * cell, h + 2 * cell), interpolation=cv2.INTER_CUBIC)[cell : cell + h,
                                                                                                cell : cell + w]
        ink = ink * field
    mask = ink > rng.uniform(0.25, 0.6)
    if rng.random() < 0.15:
        mask = cv2.erode(mask.astype(np.uint8), np.ones((2, 2), np.uint8)) > 0
    elif rng.random() < 0.15:
        mask = cv2.dilate(mask.astype(np.uint8), np.ones((2, 2), np.uint8)) > 0
    return mask


def _whole_symbol(part, owner: np.ndarray, totals: np.ndarray) -> int:
    """The index of the symbol the part is, whole; -1 when it is none whole."""
    x, y, w, h = part.box
    own = owner[y : y + h, x : x + w][part.mask]
    own = own[own >= 0]
    if len(own) == 0:
        return -1
    counts = np.bincount(own, minlength=len(totals))
    k = int(np.argmax(counts))
    purity = counts[k] / len(own)
    coverage = counts[k] / max(int(totals[k]), 1)
    others = [counts[j] / max(int(totals[j]), 1) for j in range(len(counts)) if j != k and counts[j]]
    return k if purity >= PURITY and coverage >= COVERAGE and max(others, default=0.0) < OTHER_SHARE else -1


def line_examples(material: Material, rng: np.random.Generator, rendered: float = 0.5
                  ) -> tuple[list[np.ndarray], list[int], list[int], list[int]]:
    """One composed line's proposals: (inputs 28×28×2, labels 0 whole / 1 other, kinds, and for a whole
    symbol its SYMBOL_CLASSES index, else -1). A share ``rendered``
    of the lines is rendered as an image (scan, drawing, photo) and preprocessed; the others are thresholded."""
    labels = random_labels(rng)
    digit_px = float(np.exp(rng.uniform(np.log(24), np.log(80))))
    pen = max(1.5, digit_px * rng.uniform(0.04, 0.12))
    comp = compose_line(labels, material, rng, digit_px=digit_px, pen=pen, touching=rng.random() < 0.5)
    if rng.random() < rendered:
        # Rendered as the benchmark's scans, drawings and photos are, and read by the real preprocessing.
        from hdr_expr.pipeline.preprocess import ink_mask

        style = str(rng.choice(STYLES, p=STYLE_P))
        r, owner = render_line(comp, rng, style, photo=style in STYLES_PHOTO, digit_px=digit_px)
        mask = ink_mask(r.image)
    else:
        m = int(digit_px)
        ink = np.pad(comp.ink, m)
        owner = np.pad(comp.owner, m, constant_values=-1)
        mask = _degrade(ink, rng, digit_px)
    owned = owner[mask]
    totals = np.bincount(owned[owned >= 0], minlength=len(comp.boxes))
    xs: list[np.ndarray] = []
    ys: list[int] = []
    kinds: list[int] = []
    symbols: list[int] = []
    for line in segment_page(mask):
        seen: set[tuple] = set()
        # As recognition proposes them.
        for r in line_readings(line, split_usual=VERIFIED_SPLIT_USUAL, split_height=VERIFIED_SPLIT_HEIGHT):
            kind = 2 if r.end - r.start > 1 else (1 if len(r.parts) > 1 else 0)
            for part in r.parts:
                key = (part.box, int(part.mask.sum()))
                if key in seen:
                    continue
                seen.add(key)
                mid = line.middle_at(part.box[0] + part.box[2] / 2.0)
                xs.append(verifier_input(part.mask, part.box, line.height, mid))
                k = _whole_symbol(part, owner, totals)
                ys.append(0 if k >= 0 else 1)
                kinds.append(kind)
                symbols.append(SYMBOL_INDEX[labels[k]] if k >= 0 else -1)
    return xs, ys, kinds, symbols


_WORK: dict = {}


def _chunk(args: tuple[int, int, int, float]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The proposals of lines ``start … stop-1``: (N×28×28×2 float16, labels, kinds, symbols), each one array
    rather than a small array per proposal (the same data; peak memory of `train verifier --lines 5000` 3.49 →
    3.33 GB)."""
    start, stop, seed, rendered = args
    xs: list[np.ndarray] = []
    ys: list[int] = []
    kinds: list[int] = []
    symbols: list[int] = []
    for i in range(start, stop):
        rng = np.random.default_rng(np.random.SeedSequence([0x5E6, int(seed), i]))
        a, b, c, d = line_examples(_WORK["material"], rng, rendered)
        xs.extend(a)
        ys.extend(b)
        kinds.extend(c)
        symbols.extend(d)
    x = np.stack(xs).astype(np.float16) if xs else np.zeros((0, 28, 28, 2), np.float16)
    return x, np.asarray(ys, np.uint8), np.asarray(kinds, np.uint8), np.asarray(symbols, np.int8)


def segment_examples(material: Material, lines: int, seed: int, rendered: float = 0.5,
                     workers: int = 1) -> SegmentExamples:
    """Labelled proposals from ``lines`` composed lines (seeded per line: the same seed gives the same data,
    whatever ``workers``; more than one worker forks processes, where the platform can)."""
    import multiprocessing as mp

    _WORK["material"] = material
    step = 50
    # (No lines: one empty chunk, which gives the empty arrays their dtypes.)
    jobs = [(a, min(a + step, lines), seed, rendered) for a in range(0, lines, step)] or [(0, 0, seed, rendered)]
    if workers > 1 and "fork" in mp.get_all_start_methods():
        with mp.get_context("fork").Pool(workers) as pool:
            parts = pool.map(_chunk, jobs)
    else:
        parts = [_chunk(j) for j in jobs]
    x, ys, kinds, symbols = (np.concatenate([p[k] for p in parts]) for k in range(4))
    return SegmentExamples(x, ys, kinds, lines, symbols)
