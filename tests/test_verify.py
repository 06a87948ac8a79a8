"""The segmentation verifier: its inputs, the readings it judges, its training labels, the shipped model, and
what it changes in recognition."""

from __future__ import annotations

import numpy as np
import pytest

from hdr_expr.datasets.expressions import Material, make_expression
from hdr_expr.datasets.segments import _whole_symbol, line_examples, segment_examples
from hdr_expr.pipeline.recognize import Recognizer
from hdr_expr.pipeline.segment import LineCrops, SymbolCrop, line_readings, merge_crops
from hdr_expr.pipeline.verify import LINE_PX, Verifier, line_view, load_verifier, verifier_input

SYNTH = Material(notes=["synthesizer only (tests)"], split="train")


def _crop(x, y, w, h) -> SymbolCrop:
    return SymbolCrop((x, y, w, h), np.ones((h, w), bool), 1)


# ------------------------------------------------------------------------------------------------ inputs
def test_line_view_keeps_size_and_place_relative_to_the_line():
    crops = tuple(_crop(*b) for b in [(0, 100, 30, 40), (40, 100, 30, 40), (80, 130, 20, 8), (120, 100, 30, 40)])
    line = LineCrops((0, 100, 150, 40), crops, height=40.0, stroke=3.0)
    mid = line.middle_at(0.0)
    assert mid == 120.0  # the tall symbols' centres; the small mark does not count
    tilted = LineCrops((0, 100, 150, 40), crops, height=40.0, stroke=3.0, angle=5.0)
    assert tilted.middle_at(100.0) < tilted.middle_at(0.0)  # rising to the right: higher (smaller y) there
    digit = line_view(np.ones((40, 30), bool), (0, 100, 30, 40), 40.0, mid)
    rows, cols = np.nonzero(digit > 0.5)
    assert abs((rows.max() - rows.min() + 1) - LINE_PX) <= 1  # a line height is LINE_PX high
    assert abs((rows.min() + rows.max()) / 2 - 13.5) <= 1 and abs((cols.min() + cols.max()) / 2 - 13.5) <= 1
    dot = line_view(np.ones((6, 6), bool), (100, 135, 6, 6), 40.0, mid)
    r = np.nonzero(dot > 0.2)[0]
    assert r.min() > 14 and r.max() - r.min() <= 3  # small, and below the middle
    pair = line_view(np.ones((40, 60), bool), (0, 100, 60, 40), 40.0, mid)
    assert np.count_nonzero(pair.any(axis=0)) >= 2 * LINE_PX * 0.7 * 1.0  # twice as wide as the digit's view
    x = verifier_input(np.ones((40, 30), bool), (0, 100, 30, 40), 40.0, mid)
    assert x.shape == (28, 28, 2) and x.dtype == np.float32


def test_readings_offer_merges_of_close_crops_only():
    top, bottom, far = _crop(10, 0, 20, 18), _crop(12, 22, 20, 18), _crop(120, 0, 20, 40)
    line = LineCrops((10, 0, 130, 40), (top, bottom, far), height=40.0, stroke=3.0)
    readings = line_readings(line)
    spans = {(r.start, r.end) for r in readings}
    assert (0, 1) in spans and (1, 2) in spans and (2, 3) in spans
    assert (0, 2) in spans  # a digit drawn in two strokes one above the other
    assert (1, 3) not in spans and (0, 3) not in spans  # 90 px away: never one symbol
    merged = next(r for r in readings if (r.start, r.end) == (0, 2)).parts[0]
    assert merged.box == (10, 0, 22, 40) and merged.parts == 2 and merged.mask.sum() == 2 * 20 * 18
    assert merge_crops([top]).box == top.box
    assert [(r.start, r.end) for r in line_readings(line, max_merge=1)] == [(0, 1), (1, 2), (2, 3)]


# ------------------------------------------------------------------------------------------------ labels
def test_labels_from_the_owner_map():
    owner = np.full((20, 40), -1, np.int16)
    owner[2:18, 2:12] = 0  # a digit, 160 px
    owner[15:18, 13:16] = 1  # a decimal point, 9 px
    owner[2:18, 20:30] = 2  # another digit
    totals = np.bincount(owner[owner >= 0], minlength=3)

    def part(x0, x1):
        m = owner[:, x0:x1] >= 0
        return SymbolCrop((x0, 0, x1 - x0, 20), m, 1)

    assert _whole_symbol(part(0, 13), owner, totals) == 0  # the digit alone: whole, symbol 0
    assert _whole_symbol(part(13, 17), owner, totals) == 1  # the point alone: whole, symbol 1
    assert _whole_symbol(part(0, 17), owner, totals) == -1  # digit + point merged: not one symbol
    assert _whole_symbol(part(0, 7), owner, totals) == -1  # half a digit
    assert _whole_symbol(part(0, 31), owner, totals) == -1  # two digits


def test_composed_lines_give_both_labels_deterministically():
    xs, ys, kinds, symbols = line_examples(SYNTH, np.random.default_rng(3))
    assert len(xs) == len(ys) == len(kinds) == len(symbols) > 3
    assert all((s >= 0) == (y == 0) for s, y in zip(symbols, ys))
    ex = segment_examples(SYNTH, 12, seed=5)
    again = segment_examples(SYNTH, 12, seed=5)
    assert np.array_equal(ex.x, again.x) and np.array_equal(ex.y, again.y)
    assert ex.x.dtype == np.float16 and len(ex.x) == len(ex.y) == len(ex.kind) == len(ex.symbol)
    forked = segment_examples(SYNTH, 12, seed=5, workers=2)  # lines seeded one by one: the same proposals
    assert np.array_equal(ex.x, forked.x) and np.array_equal(ex.symbol, forked.symbol)
    assert set(np.unique(ex.y)) == {0, 1} and set(np.unique(ex.kind)) >= {0, 1}
    # Crops as segmented are mostly whole symbols, split pieces mostly not.
    assert ex.y[ex.kind == 0].mean() < 0.4 and ex.y[ex.kind == 1].mean() > 0.5
    x, labels = ex.symbol_crops()
    assert x.dtype == np.uint8 and x.shape[1:] == (28, 28) and len(x) == int((ex.y == 0).sum())
    assert len(np.unique(labels)) >= 8  # digits and operators


# ------------------------------------------------------------------------------------------------ model
@pytest.fixture(scope="module")
def verifier() -> Verifier:
    v = load_verifier()
    if v is None:
        pytest.fail("no verifier model is installed in models/verifier")
    return v


def test_shipped_verifier_judges_proposals_on_unseen_lines(verifier):
    ex = segment_examples(SYNTH, 40, seed=777_001)  # seeds far from the training ones
    p = verifier.p_whole(ex.x.astype(np.float32))
    assert p.shape == ex.y.shape and np.all((p >= 0) & (p <= 1))
    accuracy = float(((p < 0.5).astype(np.uint8) == ex.y).mean())
    assert accuracy >= 0.85, accuracy
    assert verifier.model_dir.card["metrics"]["keras_tflite_agreement"] >= 0.99


def test_recognizer_reads_with_and_without_the_verifier(verifier):
    sample = make_expression(SYNTH, seed=11, index=0, style="scan", labels=list("37+48=85"))
    with_v = Recognizer(verifier=verifier).read_image(sample.image)
    without = Recognizer(verifier=False).read_image(sample.image)
    assert with_v.lines[0].text == "37+48=85"
    assert without.lines and without.lines[0].text  # the width-prior path still reads the line


def test_training_batches_cover_every_proposal_once_per_epoch_in_a_seeded_order():
    from hdr_expr.models.verifier import batches

    x = np.arange(10 * 28 * 28 * 2, dtype=np.float16).reshape(10, 28, 28, 2) % 7
    y = np.arange(10, dtype=np.uint8)

    def epoch(data):
        got = [data[i] for i in range(len(data))]
        assert all(bx.dtype == np.float32 and bx.shape[1:] == (28, 28, 2) for bx, _ in got)
        for bx, by in got:
            assert np.array_equal(bx, x[by].astype(np.float32))  # each proposal keeps its label
        data.on_epoch_end()
        return [list(by) for _, by in got]

    shuffled = batches(x, y, 4, seed=1)
    assert len(shuffled) == 3
    first, second = epoch(shuffled), epoch(shuffled)
    assert sorted(sum(first, [])) == list(range(10)) and sorted(sum(second, [])) == list(range(10))
    assert first != second  # a new order each epoch
    assert epoch(batches(x, y, 4, seed=1)) == first  # the same seed, the same order
    assert epoch(batches(x, y, 4, seed=None)) == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]
