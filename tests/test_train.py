"""Training: the loss falls on a small real subset, the same seed gives the same weights, the recipes, schedules
and early stopping. A few dozen steps each on one thread."""

from __future__ import annotations

import numpy as np
import pytest

from hdr_expr.models import train as tr

pytest.importorskip("keras")


def _fresh(seed: int, num_classes: int = 10):
    from hdr_expr.models.cnn import build_cnn

    tr.set_seed(seed)
    return build_cnn(num_classes)


def _loss(model, x, y, num_classes: int = 10) -> float:
    import keras

    probs = model.predict(tr.as_input(x), batch_size=500, verbose=0)
    return float(keras.losses.categorical_crossentropy(keras.utils.to_categorical(y, num_classes), probs).numpy()
                 .mean())


def test_paper_recipe_is_the_papers():
    assert (tr.PAPER.epochs, tr.PAPER.batch_size, tr.PAPER.learning_rate, tr.PAPER.schedule) == (1, 50, 1e-3,
                                                                                                   "constant")
    assert not tr.PAPER.augment and tr.PAPER.validation_split == 0
    assert tr.BEST_DIGITS.augment and tr.BEST_DIGITS.epochs > 1
    assert tr.recipe_name(tr.PAPER) == "paper" and tr.recipe_name(tr.BEST_DIGITS) == "best"
    custom = tr.with_overrides(tr.PAPER, epochs=3, learning_rate=None, schedule="cosine")
    assert (custom.epochs, custom.learning_rate, custom.schedule) == (3, 1e-3, "cosine")
    assert tr.recipe_name(custom) == "custom"


def test_loss_falls_on_a_small_real_subset(mnist_small):
    x, y, x_test, y_test = mnist_small
    model = _fresh(0)
    before = _loss(model, x, y)
    history = tr.fit(model, x, y, tr.PAPER, num_classes=10, progress=False, log=lambda _m: None)
    after = _loss(model, x, y)
    assert 2.0 < before < 2.6  # about ln 10 for an untrained 10-way softmax
    assert after < 0.5 * before
    assert len(history["loss"]) == 1 and history["loss"][0] < before
    accuracy = (model.predict(tr.as_input(x_test), verbose=0).argmax(1) == y_test).mean()
    assert accuracy > 0.8  # 40 steps of batch 50 already read most test digits


def _weights_after_one_epoch(x, y, seed: int, augment: bool):
    model = _fresh(seed)
    recipe = tr.with_overrides(tr.PAPER, seed=seed, augment=augment)
    tr.fit(model, x, y, recipe, num_classes=10, augment_fn=tr.digits_augment, progress=False, log=lambda _m: None)
    return model.get_weights()


def test_same_seed_same_weights(mnist_small):
    x, y = mnist_small[0][:300], mnist_small[1][:300]
    first = _weights_after_one_epoch(x, y, 7, augment=True)
    second = _weights_after_one_epoch(x, y, 7, augment=True)
    other = _weights_after_one_epoch(x, y, 8, augment=True)
    assert all(np.array_equal(a, b) for a, b in zip(first, second))
    assert not all(np.array_equal(a, b) for a, b in zip(first, other))


def test_schedules():
    steps = 10
    cosine = tr._learning_rate(tr.with_overrides(tr.PAPER, epochs=3, schedule="cosine"), steps)
    assert float(cosine(0)) == pytest.approx(1e-3)
    assert float(cosine(30)) == pytest.approx(1e-5, rel=1e-3)  # decays to alpha = 1% of the start
    expo = tr._learning_rate(tr.with_overrides(tr.PAPER, epochs=3, schedule="exponential"), steps)
    assert float(expo(steps)) == pytest.approx(0.75e-3)
    assert tr._learning_rate(tr.PAPER, steps) == 1e-3
    with pytest.raises(ValueError):
        tr._learning_rate(tr.with_overrides(tr.PAPER, schedule="linear"), steps)  # type: ignore[arg-type]


def test_early_stopping_stops_when_validation_loss_stalls(mnist_small):
    x, y = mnist_small[0][:300], mnist_small[1][:300]
    model = _fresh(0)
    # learning rate 0: the validation loss never improves after the first epoch
    recipe = tr.with_overrides(tr.PAPER, epochs=6, learning_rate=0.0, validation_split=0.2, early_stopping=2)
    messages: list[str] = []
    history = tr.fit(model, x, y, recipe, num_classes=10, progress=False, log=messages.append)
    assert len(history["loss"]) == 3
    assert "val_loss" in history and any("early stopping" in m for m in messages)


def test_frozen_body_trains_only_the_head(mnist_small):
    from hdr_expr.models.cnn import widen_head

    x, y = mnist_small[0][:200], mnist_small[1][:200]
    base = _fresh(0)
    wide = widen_head(base, 19)
    before = [w.copy() for w in wide.get_weights()]
    head = [i for i, layer in enumerate(wide.layers) if layer.name == "logits"][0]
    tr.fit(wide, x, y, tr.PAPER, num_classes=19, trainable_from=head, progress=False, log=lambda _m: None)
    after = wide.get_weights()
    changed = [not np.array_equal(a, b) for a, b in zip(before, after)]
    assert changed[-2:] == [True, True]  # logits kernel and bias
    assert not any(changed[:-2])  # conv and dense layers frozen


# --- the symbol head -----------------------------------------------------------------------------------------


def test_symbol_model_card_names_every_source_and_metric(tiny_symbol_model):
    from hdr_expr.models.card import load_model_dir
    from hdr_expr.symbols import OPERATORS, SYMBOL_CLASSES

    md = load_model_dir(tiny_symbol_model)
    card = md.card
    assert md.classes == SYMBOL_CLASSES and card["task"] == "symbols"
    assert card["base_model"]["name"] == "hdr-expr-digits" and "model.keras" in card["base_model"]["files"]
    phases = card["recipe"]["phases"]
    assert phases["head"]["trainable"].startswith("logits only") and phases["finetune"]["trainable"] == "all layers"
    assert len(card["training"]["history"]["head"]["loss"]) == 1
    assert "val_loss" in card["training"]["history"]["finetune"]  # validated on the real held-out split
    sources = {s["kind"]: s for s in card["data_sources"]}
    assert "6bbc9ace898e44ae57da46a324031adb" in sources["mnist"]["checksum"]
    real = sources["real"]
    assert real["path"] == str(tiny_symbol_model.parent / "real") and len(real["checksum"]) == 64
    assert real["counts"] == {"3": 12, "+": 12, "=": 12, ".": 12} and real["split"] == "train"
    synth = sources["synthetic"]
    assert synth["seed"] == 0 and synth["ranges"]["name"] == "train" and "generator" in synth
    assert all(synth["counts"][o] >= 30 for o in OPERATORS)
    assert card["data_mix"]["operator_target"] == 60
    m = card["metrics"]
    assert m["mnist_test_images"] == 500 and m["keras_tflite_agreement"] >= 0.99
    held = m["real_held_out"]["real"]
    assert held["images"] == 12 and {c for c, v in held["per_class"].items() if v["support"]} == {"3", "+", "=", "."}
    assert m["synthetic_held_out"]["images"] == 5 * len(SYMBOL_CLASSES)
    evaluated = {(s["kind"], s["split"]) for s in card["evaluation_sources"]}
    assert evaluated == {("mnist", "test"), ("real", "held-out"), ("synthetic", "held-out")}


def test_symbol_mnist_metric_counts_operators_as_errors(tiny_symbol_model, mnist_small):
    from hdr_expr.models.card import load_model_dir
    from hdr_expr.pipeline.classify import Classifier

    md = load_model_dir(tiny_symbol_model)
    x, y = mnist_small[2][:500], mnist_small[3][:500]
    pred = Classifier(md).predict(x.astype(np.float32) / 255.0).argmax(1)  # over all 19 classes
    assert md.card["metrics"]["mnist_test_accuracy_tflite"] == pytest.approx(float((pred == y).mean()), abs=1e-5)


def test_train_symbols_needs_a_digit_prefix_model(tiny_digit_model, tmp_path):
    import json
    import shutil

    from hdr_expr.errors import ModelError
    from hdr_expr.models.card import write_model_card

    base = tmp_path / "base"
    shutil.copytree(tiny_digit_model, base)
    card = json.loads((base / "card.json").read_text())
    write_model_card(base, {**card, "classes": list("abcdefghij")})
    with pytest.raises(ModelError, match="not a prefix"):
        tr.train_symbols(tmp_path / "out", base, log=lambda _m: None)


def test_symbols_augment_redraws_a_fraction(mnist_small):
    x = mnist_small[0][:200].astype(np.float32) / 255.0
    y = mnist_small[1][:200]
    out = tr.symbols_augment(0.5)(x, y, np.random.default_rng(0))
    changed = np.array([not np.array_equal(a, b) for a, b in zip(out, x)])
    assert out.shape == x.shape and out.dtype == np.float32
    assert 0.35 < changed.mean() < 0.65
    assert np.array_equal(tr.symbols_augment(0.0)(x, y, np.random.default_rng(0)), x)
