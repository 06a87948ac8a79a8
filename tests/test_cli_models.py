"""The CLI: `hdr-expr train digits` (seeded runs are identical), `hdr-expr evaluate` (text, --json, --plots) and
their errors (one line on stderr, the error's exit code, no traceback)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from hdr_expr.errors import InputError, ModelError


def _weights(model_dir):
    import keras

    return keras.saving.load_model(model_dir / "model.keras", compile=False).get_weights()


def test_train_digits_same_seed_same_run(mnist_dir, tmp_path, run_cli):
    args = ["train", "digits", "--data-dir", mnist_dir, "--limit", "300", "--test-limit", "200", "--seed", "3"]
    first = run_cli(*args, "--out", tmp_path / "a")
    assert first.exit_code == 0, first.stderr
    assert f"wrote {tmp_path / 'a'}" in first.stdout and "recipe paper" not in first.stdout  # seed 3: custom
    assert "MNIST test (200 images)" in first.stdout and "epoch 1/1" in first.stderr
    second = run_cli(*args, "--out", tmp_path / "b")
    assert second.exit_code == 0, second.stderr
    assert all(np.array_equal(a, b) for a, b in zip(_weights(tmp_path / "a"), _weights(tmp_path / "b")))
    card_a = json.loads((tmp_path / "a" / "card.json").read_text())
    card_b = json.loads((tmp_path / "b" / "card.json").read_text())
    assert card_a["metrics"] == card_b["metrics"]
    assert card_a["recipe"]["seed"] == 3 and card_a["recipe"]["train_images"] == 300
    assert card_a["recipe"]["name"] == "custom"


def test_train_digits_refuses_to_overwrite(tmp_path, mnist_dir, run_cli):
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "card.json").write_text("{}")
    result = run_cli("train", "digits", "--out", tmp_path / "out", "--data-dir", mnist_dir)
    assert result.exit_code == InputError.exit_code
    assert result.stderr.strip().splitlines() == [
        f"hdr-expr: error: --out {tmp_path / 'out'} is not empty; pass --force to overwrite the model there"]


def test_train_digits_early_stopping_needs_validation(tmp_path, run_cli):
    result = run_cli("train", "digits", "--out", tmp_path / "o", "--early-stopping", "2")
    assert result.exit_code == InputError.exit_code and "--validation-split" in result.stderr


def test_train_digits_bad_flag_value_is_a_usage_error(tmp_path, run_cli):
    result = run_cli("train", "digits", "--out", tmp_path / "o", "--schedule", "linear")
    assert result.exit_code == 2 and "Traceback" not in result.stderr


def test_evaluate_text(tiny_digit_model, mnist_dir, tmp_path, run_cli):
    result = run_cli("evaluate", "--model", tiny_digit_model, "--data-dir", mnist_dir, "--limit", "500",
                     "--plots", tmp_path / "plots")
    assert result.exit_code == 0, result.stderr
    out = result.stdout
    assert "MNIST test: accuracy" in out and "confusion matrix:" in out and "precision" in out
    assert "Keras↔LiteRT agreement on MNIST test:" in out
    assert (tmp_path / "plots" / "mnist_predictions.png").stat().st_size > 5000
    assert (tmp_path / "plots" / "confusion_mnist-test.png").stat().st_size > 2000


def test_evaluate_json_is_one_object(tiny_digit_model, mnist_dir, run_cli):
    result = run_cli("evaluate", "--model", tiny_digit_model, "--data-dir", mnist_dir, "--limit", "500", "--json")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)  # one JSON document, nothing else on stdout
    assert 0.8 < report["accuracy"] <= 1.0
    assert report["model"] == str(tiny_digit_model) and report["classes"] == list("0123456789")
    assert report["mnist"]["images"] == 500
    assert set(report["mnist"]["per_class"]["7"]) >= {"precision", "recall", "f1", "support"}
    assert len(report["mnist"]["confusion_matrix"]["counts"]) == 10
    assert report["keras_tflite_agreement"] >= 0.999


def test_evaluate_missing_model_one_line(tmp_path, mnist_dir, run_cli):
    result = run_cli("evaluate", "--model", tmp_path / "nowhere", "--data-dir", mnist_dir)
    assert result.exit_code == ModelError.exit_code
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "model directory not found" in lines[0]


@pytest.mark.parametrize("group", ["train", "data"])
def test_groups_list_their_commands(group, run_cli):
    result = run_cli(group, "--help")
    assert result.exit_code == 0
    expected = {"train": ["digits", "symbols"], "data": ["fetch", "info"]}[group]
    for name in expected:
        assert name in result.stdout


def test_train_symbols_cli(tiny_digit_model, mnist_dir, tmp_path, symbol_folder_set, run_cli):
    real = symbol_folder_set({"minus": "-", "7": "7"}, held_out=2, train=6)
    result = run_cli(
        "train", "symbols", "--from", tiny_digit_model, "--out", tmp_path / "sym", "--data-dir", mnist_dir,
        "--real-data", real, "--mnist-limit", "300", "--operator-target", "20", "--min-synth-operators", "10",
        "--synth-digits", "5", "--eval-synthetic", "2", "--head-epochs", "1", "--epochs", "1", "--workers", "1",
        "--test-limit", "300", "--composed-lines", "6",
    )
    assert result.exit_code == 0, result.stderr
    assert "recipe head: 1 epoch(s)" in result.stdout and "recipe finetune: 1 epoch(s)" in result.stdout
    assert f"{real.name} held-out (4 images)" in result.stdout and "synthetic held-out (38 images)" in result.stdout
    assert "phase 1/2" in result.stderr and "phase 2/2" in result.stderr
    card = json.loads((tmp_path / "sym" / "card.json").read_text())
    assert len(card["classes"]) == 19 and card["data_mix"]["mnist_limit"] == 300
    assert card["metrics"]["mnist_test_images"] == 300
    composed = [src for src in card["data_sources"] if src["name"] == "composed-lines"]
    assert len(composed) == 1 and composed[0]["images"] > 10 and composed[0]["lines"] == 6


def test_train_verifier_cli(tmp_path, run_cli):
    from hdr_expr.pipeline.verify import Verifier

    result = run_cli("train", "verifier", "--out", tmp_path / "v", "--lines", "30", "--epochs", "1",
                     "--workers", "1", "--shared", tmp_path / "nothing-here")
    assert result.exit_code == 0, result.stderr
    assert "validation accuracy" in result.stdout
    card = json.loads((tmp_path / "v" / "card.json").read_text())
    assert card["classes"] == ["whole", "other"] and card["data"]["lines"] == {"train": 27, "validation": 3}
    assert any("not found" in n for n in card["data"]["material"]["notes"])  # synthesizer only, and said so
    v = Verifier(tmp_path / "v")
    assert v.p_whole(np.zeros((2, 28, 28, 2), np.float32)).shape == (2,)
    again = run_cli("train", "verifier", "--out", tmp_path / "v", "--lines", "30")
    assert again.exit_code == InputError.exit_code and "--force" in again.stderr


def test_train_export_requantizes_and_measures_again(tiny_symbol_model, mnist_dir, tmp_path, run_cli):
    from hdr_expr.pipeline.classify import Classifier

    real = tiny_symbol_model.parent / "real"
    out = tmp_path / "int8"
    result = run_cli("train", "export", "--model", tiny_symbol_model, "--out", out, "--quantize", "dynamic-int8",
                     "--data-dir", mnist_dir, "--real-data", real, "--eval-synthetic", "2", "--workers", "1")
    assert result.exit_code == 0, result.stderr
    card = json.loads((out / "card.json").read_text())
    parent = json.loads((tiny_symbol_model / "card.json").read_text())
    assert card["tflite_quantization"] == "dynamic-int8" and card["exported_from"]["files"] == parent["files"]
    assert card["classes"] == parent["classes"] and card["recipe"] == parent["recipe"]
    m = card["metrics"]
    assert m["mnist_test_images"] == parent["metrics"]["mnist_test_images"] == 500
    assert m["keras_tflite_agreement"] >= 0.98 and m["synthetic_held_out"]["images"] == 2 * 19
    assert "real" in m["real_held_out"]
    assert (out / "model.tflite").stat().st_size < 0.7 * (tiny_symbol_model / "model.tflite").stat().st_size
    assert Classifier(out).predict(np.zeros((3, 28, 28), np.float32)).shape == (3, 19)
    again = run_cli("train", "export", "--model", tiny_symbol_model, "--out", tiny_symbol_model,
                    "--quantize", "float16", "--force")
    assert again.exit_code == InputError.exit_code and "another folder" in again.stderr


def test_train_average_is_the_weighted_mean_of_the_models_and_names_each(tiny_symbol_model, mnist_dir, tmp_path,
                                                                          run_cli):
    import keras

    from hdr_expr.models.card import write_model_card

    other = tmp_path / "other"  # the tiny model with every weight halved: another model of the same shape
    model = keras.saving.load_model(tiny_symbol_model / "model.keras", compile=False)
    model.set_weights([0.5 * w for w in model.get_weights()])
    other.mkdir()
    model.save(other / "model.keras")
    parent = json.loads((tiny_symbol_model / "card.json").read_text())
    write_model_card(other, {k: v for k, v in parent.items() if k != "files"})
    out = tmp_path / "soup"
    result = run_cli("train", "average", "--model", tiny_symbol_model, "--model", other, "--weight", "3",
                     "--weight", "1", "--out", out, "--data-dir", mnist_dir, "--eval-synthetic", "0")
    assert result.exit_code == 0, result.stderr
    assert "weights averaged from" in result.stdout
    expected = [0.75 * a + 0.25 * b for a, b in zip(_weights(tiny_symbol_model), _weights(other))]
    assert all(np.allclose(a, b, atol=1e-6) for a, b in zip(_weights(out), expected))
    card = json.loads((out / "card.json").read_text())
    assert [a["weight"] for a in card["averaged_from"]] == [0.75, 0.25]
    assert card["averaged_from"][0]["files"] == parent["files"] and card["averaged_from"][1]["data_sources"]
    assert card["averaged_from"][0]["base_model"]["files"] and "metrics" not in card["averaged_from"][0]["base_model"]
    assert card["metrics"]["mnist_test_images"] == 500 and card["tflite_quantization"] == "dynamic-int8"
    one = run_cli("train", "average", "--model", tiny_symbol_model, "--out", tmp_path / "one")
    assert one.exit_code == InputError.exit_code and "at least two" in one.stderr
    odd = run_cli("train", "average", "--model", tiny_symbol_model, "--model", other, "--weight", "1",
                  "--out", tmp_path / "odd")
    assert odd.exit_code == InputError.exit_code and "one --weight per --model" in odd.stderr
    same = run_cli("train", "average", "--model", tiny_symbol_model, "--model", other, "--out", other, "--force")
    assert same.exit_code == InputError.exit_code and "another folder" in same.stderr


def test_train_symbols_needs_from(tmp_path, run_cli):
    result = run_cli("train", "symbols", "--out", tmp_path / "o")
    assert result.exit_code == 2 and "--from" in result.stderr and "Traceback" not in result.stderr


def test_train_symbols_early_stopping_needs_real_data(tiny_digit_model, tmp_path, run_cli):
    result = run_cli("train", "symbols", "--from", tiny_digit_model, "--out", tmp_path / "o", "--early-stopping",
                     "2")
    assert result.exit_code == InputError.exit_code and "--real-data" in result.stderr


def test_evaluate_symbol_model_json(tiny_symbol_model, mnist_dir, tmp_path, run_cli):
    real = tiny_symbol_model.parent / "real"
    result = run_cli("evaluate", "--model", tiny_symbol_model, "--data-dir", mnist_dir, "--limit", "500",
                     "--real-data", real, "--synthetic", "3", "--json", "--plots", tmp_path / "plots")
    assert result.exit_code == 0, result.stderr
    report = json.loads(result.stdout)
    card = json.loads((tiny_symbol_model / "card.json").read_text())
    # the same sets the card was measured on give the same figures
    assert report["accuracy"] == pytest.approx(card["metrics"]["mnist_test_accuracy_tflite"], abs=1e-5)
    assert report["real"]["real"]["accuracy"] == card["metrics"]["real_held_out"]["real"]["accuracy"]
    assert report["synthetic"]["images"] == 3 * 19
    pngs = sorted(p.name for p in (tmp_path / "plots").iterdir())
    assert pngs == ["confusion_mnist-test.png", "confusion_real-held-out.png",
                    "confusion_synthetic-wide-held-out.png", "mnist_predictions.png"]
