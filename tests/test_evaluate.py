"""Evaluation: metrics on a constructed case, the text tables, the figures, and whole evaluations of a digit
model and of a (widened, untrained-head) symbol model on MNIST, a real held-out split and synthetic symbols."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from hdr_expr.models.evaluate import (
    Scores,
    confusion_matrix,
    confusion_png,
    evaluate_model,
    format_confusion,
    format_scores,
    prediction_grid_png,
    score,
)
from hdr_expr.symbols import SYMBOL_CLASSES


def test_metrics_on_a_constructed_case():
    # class a: 3 images, 2 right, one read as b; b: 2 images, 1 right, one read as c; c: 1 image, right; d: none
    y_true = np.array([0, 0, 0, 1, 1, 2])
    y_pred = np.array([0, 0, 1, 1, 2, 2])
    s = score(y_true, y_pred, ["a", "b", "c", "d"], "constructed")
    assert s.confusion.tolist() == [[2, 1, 0, 0], [0, 1, 1, 0], [0, 0, 1, 0], [0, 0, 0, 0]]
    assert s.accuracy == pytest.approx(4 / 6) and (s.correct, s.images) == (4, 6)
    a, b, c, d = s.per_class
    assert (a.precision, a.recall, a.f1) == (1.0, pytest.approx(2 / 3), pytest.approx(0.8))
    assert (b.precision, b.recall, b.f1) == (0.5, 0.5, 0.5)
    assert (c.precision, c.recall) == (0.5, 1.0) and c.f1 == pytest.approx(2 / 3)
    assert (d.precision, d.recall, d.f1, d.support, d.predicted) == (None, None, None, 0, 0)
    again = Scores.from_dict(s.to_dict())
    assert again.confusion.tolist() == s.confusion.tolist() and again.classes == s.classes
    with pytest.raises(ValueError):
        confusion_matrix(np.array([0, 4]), np.array([0, 1]), 4)


def test_text_tables_show_the_classes_that_occur():
    s = score(np.array([0, 0, 1, 1]), np.array([0, 3, 1, 1]), ["0", "1", "2", "+"], "t")
    table = format_scores(s)
    assert "accuracy 75.0000% (3/4)" in table
    rows = {line.split()[0] for line in table.splitlines()[2:]}
    assert rows == {"0", "1", "+"}  # "2" has no image and no prediction
    conf = format_confusion(s).splitlines()
    assert conf[0].split()[1:] == ["0", "1", "+"]
    assert conf[1].split() == ["0", "1", "0", "1"]


def _non_trivial_png(path, min_size):
    img = np.asarray(Image.open(path).convert("RGB"))
    assert img.shape[0] >= min_size[0] and img.shape[1] >= min_size[1]
    assert img.std() > 20  # not a blank canvas
    return img


def test_prediction_grid_marks_right_and_wrong(tmp_path, mnist_small):
    x = mnist_small[2][:25]
    predicted = [str(int(v)) for v in mnist_small[3][:25]]
    correct = [True] * 24 + [False]
    path = prediction_grid_png(x, predicted, correct, tmp_path / "grid.png", cell=56)
    img = _non_trivial_png(path, (5 * 56, 5 * 56))
    r, g, b = (img[..., i].astype(int) for i in range(3))
    assert ((g > 100) & (r < 60) & (b < 60)).sum() > 24 * 5  # green labels on the right ones
    assert ((r > 150) & (g < 60) & (b < 60)).sum() > 5  # a red label on the wrong one


def test_confusion_png(tmp_path):
    s = score(np.array([0, 0, 1, 2, 2, 2]), np.array([0, 1, 1, 2, 2, 0]), list("0123"), "t")
    _non_trivial_png(confusion_png(s, tmp_path / "c.png"), (3 * 34, 3 * 34))


def test_evaluate_digit_model(tiny_digit_model, mnist_dir, tmp_path):
    from hdr_expr.models.card import load_model_dir

    report = evaluate_model(tiny_digit_model, data_dir=mnist_dir, limit=1000, plots=tmp_path / "plots",
                            log=lambda _m: None)
    card = load_model_dir(tiny_digit_model).card
    # the same 1,000 test images the card was measured on
    assert report["accuracy"] == pytest.approx(card["metrics"]["mnist_test_accuracy_tflite"], abs=1e-5)
    assert report["keras_tflite_agreement"] >= 0.999
    assert report["mnist"]["images"] == 1000 and set(report["mnist"]["per_class"]) == set("0123456789")
    assert sum(map(sum, report["mnist"]["confusion_matrix"]["counts"])) == 1000
    assert report["model"] == str(tiny_digit_model)
    names = sorted(p.split("/")[-1] for p in report["plots"])
    assert names == ["confusion_mnist-test.png", "mnist_predictions.png"]
    _non_trivial_png(tmp_path / "plots" / "mnist_predictions.png", (5 * 112, 5 * 112))


@pytest.fixture(scope="module")
def widened_model(tiny_digit_model, mnist_small, tmp_path_factory):
    """The tiny digit model with its head widened to the 19 symbol classes (operator rows untrained)."""
    import keras

    from hdr_expr.models.cnn import widen_head
    from hdr_expr.models.train import save_model_dir

    net = widen_head(keras.saving.load_model(tiny_digit_model / "model.keras", compile=False), len(SYMBOL_CLASSES))
    out = tmp_path_factory.mktemp("widened")
    card = {"name": "widened-untrained", "task": "symbols", "classes": list(SYMBOL_CLASSES)}
    save_model_dir(net, out, card, mnist_small[2][:200], mnist_small[3][:200], log=lambda _m: None)
    return out


def test_evaluate_symbol_model_on_mnist_real_and_synthetic(widened_model, mnist_dir, symbol_folder_set):
    from hdr_expr.pipeline.classify import Classifier

    real = symbol_folder_set({"plus": "+", "eq": "=", "3": "3"}, held_out=3, train=2)
    report = evaluate_model(widened_model, data_dir=mnist_dir, limit=300, real_data=[real], synthetic=2,
                            agreement=False, log=lambda _m: None)
    assert report["classes"] == list(SYMBOL_CLASSES)
    # MNIST: argmax over all 19 classes, so a digit read as an operator counts as wrong
    from hdr_expr.datasets.mnist import load_mnist

    x, y = load_mnist("test", mnist_dir)
    pred = Classifier(widened_model).predict(x[:300].astype(np.float32) / 255.0).argmax(1)
    assert report["accuracy"] == pytest.approx(float((pred == y[:300]).mean()), abs=1e-5)
    assert len(report["mnist"]["confusion_matrix"]["counts"]) == 19
    held = report["real"][real.name]
    assert held["images"] == 9 and held["source"]["split"] == "held-out" and held["left_out"] == 0
    assert held["source"]["path"] == str(real) and len(held["source"]["checksum"]) == 64
    assert {c for c, v in held["per_class"].items() if v["support"]} == {"+", "=", "3"}
    synth = report["synthetic"]
    assert synth["images"] == 2 * 19
    assert all(v["support"] == 2 for v in synth["per_class"].values())
    assert synth["source"]["ranges"]["name"] == "wide" and synth["source"]["split"] == "held-out"


def test_digit_model_leaves_operators_out(tiny_digit_model, mnist_dir, symbol_folder_set):
    real = symbol_folder_set({"plus": "+", "3": "3"}, held_out=2, train=0)
    report = evaluate_model(tiny_digit_model, data_dir=mnist_dir, limit=50, real_data=[real], agreement=False,
                            log=lambda _m: None)
    held = report["real"][real.name]
    assert held["images"] == 2 and held["left_out"] == 2
