"""Training mixes and evaluation sets, on a stand-in MNIST and real-set fixtures drawn in tmp_path."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from hdr_expr.datasets import mix
from hdr_expr.datasets.importers import load_folder_set
from hdr_expr.datasets.mix import EVAL_SYNTH_SEED, build_symbol_mix, eval_mnist, eval_real, eval_sets, eval_synth
from hdr_expr.datasets.synth import TRAIN, WIDE, synth_set
from hdr_expr.errors import DataError
from hdr_expr.symbols import DIGITS, OPERATORS, SYMBOL_CLASSES

from test_importers import make_crohme, make_sagyam  # noqa: E402  (fixture builders of the importer tests)

IDX = {c: i for i, c in enumerate(SYMBOL_CLASSES)}


@pytest.fixture(autouse=True)
def fake_mnist(tmp_path, monkeypatch):
    """A small stand-in for MNIST (synthesized digits), so the tests need no IDX files."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    data = {}
    for split, seed in (("train", 101), ("test", 102)):
        x, y = synth_set({d: 3 for d in DIGITS}, seed=seed)
        data[split] = (x, y)
    calls = []

    def load(split, data_dir):
        calls.append((split, data_dir))
        return data[split]

    files = [{"name": n, "path": f"/data/mnist/{n}.gz", "md5_uncompressed": "0" * 32}
             for n in ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                       "t10k-labels-idx1-ubyte")]
    monkeypatch.setattr(mix, "_load_mnist", load)
    monkeypatch.setattr(mix, "_mnist_files", lambda data_dir: files)
    return data, calls


@pytest.fixture
def real_dirs(tmp_path):
    make_crohme(tmp_path / "crohme-kaggle", per_class=12)
    make_sagyam(tmp_path / "sagyamthapa-kaggle", per_class=12)
    return [tmp_path / "crohme-kaggle", tmp_path / "sagyamthapa-kaggle"]


def small_mix(real_dirs=(), **kw):
    args = dict(operator_target=20, min_synth_operators=4, synth_digits=2, seed=3, workers=1)
    args.update(kw)
    return build_symbol_mix(real_dirs, **args)


def test_mix_ratios_and_sources(real_dirs, fake_mnist):
    m = small_mix(real_dirs)
    real = [load_folder_set(d, workers=1).train_split() for d in real_dirs]
    real_counts = {c: sum(s.counts[c] for s in real) for c in SYMBOL_CLASSES}
    counts = m.counts
    for o in OPERATORS:
        synth = max(4, 20 - real_counts[o])
        assert counts.get(o, 0) == real_counts[o] + synth, o
        assert counts[o] >= 20
    for d in DIGITS:
        assert counts[d] == 3 + real_counts[d] + 2  # MNIST stand-in + real digits + synthesized
    assert m.x.shape == (len(m), 28, 28) and m.x.dtype == np.uint8 and m.y.dtype == np.uint8

    kinds = [s.kind for s in m.sources]
    assert kinds == ["mnist", "real", "real", "synthetic"]
    assert [s.name for s in m.sources[1:3]] == ["crohme-kaggle", "sagyamthapa-kaggle"]
    for i, s in enumerate(m.sources):
        assert s.images == int((m.source == i).sum()) == sum(s.counts.values())
        assert s.counts == {c: int(((m.source == i) & (m.y == IDX[c])).sum()) for c in s.counts}
    crohme = m.sources[1]
    assert crohme.split == "train" and crohme.checksum == real[0].listing_checksum and crohme.files == 9 * 12  # the whole set's image files (the unknown folder's not)
    syn = m.sources[3].to_dict()
    assert syn["seed"] == 3 and syn["ranges"]["name"] == "train" and syn["generator"].startswith("strokes")
    card = m.card()
    assert len(card["data_sources"]) == 4 and card["data_mix"]["operator_target"] == 20
    assert card["data_sources"][0]["checksum"].startswith("train-images-idx3-ubyte:md5:")


def test_held_out_images_stay_out(real_dirs):
    m = small_mix(real_dirs)
    mixed = {row.tobytes() for row in m.x}
    for i, d in enumerate(real_dirs, start=1):
        full = load_folder_set(d, workers=1)
        ho = eval_real(d, workers=1)
        assert ho.source.split == "held-out" and 0 < len(ho) < len(full)
        assert m.sources[i].images + len(ho) == len(full)
        # images that occur once in the whole set: a held-out one is never in the mix (the crude fixtures
        # draw some symbols, such as "-", that normalize to the very same image from different files)
        rows = [r.tobytes() for r in full.x]
        unique = {r for r in rows if rows.count(r) == 1}
        held = [r.tobytes() for r in ho.x if r.tobytes() in unique]
        assert held and not any(r in mixed for r in held)


def test_mix_is_deterministic_and_seeded(real_dirs):
    a, b = small_mix(real_dirs), small_mix(real_dirs)
    assert np.array_equal(a.x, b.x) and np.array_equal(a.y, b.y) and np.array_equal(a.source, b.source)
    c = small_mix(real_dirs, seed=4)
    assert not np.array_equal(a.x[a.source == 3], c.x[c.source == 3])
    assert a.counts == c.counts
    assert len(set(a.y[:20].tolist())) > 3  # shuffled, not class by class


def test_mix_without_real_data_and_options(fake_mnist):
    m = small_mix()
    assert all(m.counts[o] == 20 for o in OPERATORS)
    assert [s.kind for s in m.sources] == ["mnist", "synthetic"]
    m = small_mix(mnist_limit=5, synth_digits=0, operator_target=0, min_synth_operators=1)
    assert m.counts == {**{c: n for c, n in _counts(fake_mnist[0]["train"][1][:5]).items()},
                        **{o: 1 for o in OPERATORS}}
    with pytest.raises(DataError, match="held-out synthetic"):
        small_mix(seed=EVAL_SYNTH_SEED)


def test_real_digits_can_be_left_out(real_dirs):
    m = small_mix(real_dirs, real_digits=False)
    for s in m.sources:
        if s.kind == "real":
            assert not any(c in DIGITS for c in s.counts)


def _counts(y):
    n = np.bincount(y, minlength=19)
    return {c: int(n[i]) for i, c in enumerate(SYMBOL_CLASSES) if n[i]}


def test_eval_sets(real_dirs, fake_mnist):
    data, calls = fake_mnist
    e = eval_mnist("/somewhere")
    assert calls[-1] == ("test", "/somewhere") and np.array_equal(e.x, data["test"][0])
    assert e.source.split == "test" and e.source.kind == "mnist"

    s = eval_synth(4)
    assert len(s) == 4 * 19 and s.source.details["ranges"]["name"] == "wide"
    assert s.source.details["seed"] == EVAL_SYNTH_SEED
    train_like = synth_set(4, seed=0, ranges=TRAIN)[0]
    assert not np.array_equal(s.x, train_like)
    assert np.array_equal(s.x, eval_synth(4).x)
    assert np.array_equal(s.x, synth_set(4, seed=EVAL_SYNTH_SEED, ranges=WIDE)[0])

    sets = eval_sets(real_dirs, synth_per_class=2, workers=1)
    assert [x.name for x in sets] == ["MNIST test", "crohme-kaggle held-out", "sagyamthapa-kaggle held-out",
                                      "synthetic-wide held-out"]
    for ev in sets[1:3]:
        full = load_folder_set(Path(ev.source.path), workers=1)
        assert len(ev) == int(full.held_out_mask.sum())


def test_eval_real_too_small(tmp_path):
    make_crohme(tmp_path / "tiny", per_class=1)
    s = load_folder_set(tmp_path / "tiny", workers=1)
    if s.held_out_mask.any():
        pytest.skip("this fixture happens to hold an image that is held out")
    with pytest.raises(DataError, match="held-out split is empty"):
        eval_real(tmp_path / "tiny", workers=1)


def _shared() -> Path | None:
    env = os.environ.get("HDR_EXPR_SHARED")
    root = Path(env) if env else Path(__file__).resolve().parents[1].parent / "shared"
    return root if (root / "datasets" / "mnist").is_dir() else None


def test_with_real_mnist_files(monkeypatch):
    """The mix reads MNIST through hdr_expr.datasets.mnist (the four IDX files in ../shared)."""
    shared = _shared()
    if shared is None:
        pytest.skip("../shared/datasets/mnist not present")
    monkeypatch.undo()
    m = build_symbol_mix(mnist_dir=shared / "datasets" / "mnist", mnist_limit=50, operator_target=0,
                         min_synth_operators=1, synth_digits=0)
    assert len(m) == 50 + 9 and m.sources[0].name == "MNIST" and m.sources[0].files == 2
