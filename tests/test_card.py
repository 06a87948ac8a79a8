"""Model directories: save → export → load (hashes verified) → predict, Keras and LiteRT agreeing; a changed,
missing or unlisted file is a ModelError."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from hdr_expr.errors import ModelError
from hdr_expr.models.card import CARD_FILE, KERAS_FILE, TFLITE_FILE, load_model_dir, sha256_file, write_model_card


def test_card_describes_the_model(tiny_digit_model, mnist_dir):
    md = load_model_dir(tiny_digit_model)  # verifies every file's SHA-256
    card = md.card
    assert md.classes == tuple("0123456789")
    assert card["recipe"]["batch_size"] == 50 and card["recipe"]["optimizer"] == "adam"
    assert card["recipe"]["train_images"] == 2000 and card["recipe"]["epochs"] == 2
    assert card["input"]["range"] == [0.0, 1.0]
    md5s = {f["name"]: f["md5_uncompressed"] for f in card["data_sources"][0]["files"]}
    assert md5s["t10k-images-idx3-ubyte"] == "2646ac647ad5339dbf082846283269ea"
    assert set(card["files"]) == {KERAS_FILE, TFLITE_FILE}
    assert card["files"][TFLITE_FILE] == sha256_file(tiny_digit_model / TFLITE_FILE)
    m = card["metrics"]
    assert m["mnist_test_images"] == 1000
    assert m["mnist_test_accuracy_keras"] > 0.85
    assert m["keras_tflite_agreement"] >= 0.999
    assert len(card["training"]["history"]["loss"]) == 2
    assert card["training"]["history"]["loss"][1] < card["training"]["history"]["loss"][0]


def test_round_trip_keras_and_litert_agree(tiny_digit_model, mnist_small):
    import keras

    from hdr_expr.pipeline.classify import Classifier

    _, _, x_test, y_test = mnist_small
    md = load_model_dir(tiny_digit_model)
    x = x_test.astype(np.float32) / 255.0
    keras_pred = keras.saving.load_model(md.keras_path, compile=False).predict(x[..., None], verbose=0).argmax(1)
    lite_pred = Classifier(md).predict(x).argmax(1)
    assert (keras_pred == lite_pred).mean() >= 0.999
    assert (lite_pred == y_test).mean() == pytest.approx(md.card["metrics"]["mnist_test_accuracy_tflite"], abs=1e-5)


def test_dynamic_int8_export_is_smaller_and_agrees(tiny_digit_model, mnist_small, tmp_path):
    import keras

    from hdr_expr.models.export import export_tflite, tflite_predict

    net = keras.saving.load_model(tiny_digit_model / KERAS_FILE, compile=False)
    path = export_tflite(net, tmp_path / "int8.tflite", quantize="dynamic-int8")
    assert path.stat().st_size < 0.6 * (tiny_digit_model / TFLITE_FILE).stat().st_size  # float16 → int8
    x = mnist_small[2][:300].astype(np.float32) / 255.0
    agree = (tflite_predict(path, x).argmax(1) == net.predict(x[..., None], verbose=0).argmax(1)).mean()
    assert agree >= 0.99
    with pytest.raises(ValueError):
        export_tflite(net, tmp_path / "x.tflite", quantize="int4")  # type: ignore[arg-type]


@pytest.fixture
def model_copy(tiny_digit_model, tmp_path):
    dest = tmp_path / "model"
    shutil.copytree(tiny_digit_model, dest)
    return dest


def test_changed_file_is_a_model_error(model_copy):
    blob = bytearray((model_copy / TFLITE_FILE).read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    (model_copy / TFLITE_FILE).write_bytes(bytes(blob))
    with pytest.raises(ModelError, match="does not match its card") as err:
        load_model_dir(model_copy)
    assert str(model_copy / TFLITE_FILE) in str(err.value)
    load_model_dir(model_copy, verify=[KERAS_FILE])  # checking only the other file passes


def test_card_hash_mismatch_is_a_model_error(model_copy):
    card = json.loads((model_copy / CARD_FILE).read_text())
    card["files"][KERAS_FILE] = "0" * 64
    (model_copy / CARD_FILE).write_text(json.dumps(card))
    with pytest.raises(ModelError, match=KERAS_FILE):
        load_model_dir(model_copy)


def test_missing_pieces_are_model_errors(model_copy, tmp_path):
    (model_copy / KERAS_FILE).unlink()
    with pytest.raises(ModelError, match="missing"):
        load_model_dir(model_copy)
    with pytest.raises(ModelError, match="not found"):
        load_model_dir(tmp_path / "nowhere")
    (model_copy / CARD_FILE).write_text("{not json")
    with pytest.raises(ModelError, match="cannot read model card"):
        load_model_dir(model_copy)
    (model_copy / CARD_FILE).unlink()
    with pytest.raises(ModelError, match="card.json is missing"):
        load_model_dir(model_copy)


def test_rewriting_the_card_restores_the_hashes(model_copy):
    card = json.loads((model_copy / CARD_FILE).read_text())
    (model_copy / TFLITE_FILE).write_bytes((model_copy / TFLITE_FILE).read_bytes() + b"\0")
    with pytest.raises(ModelError):
        load_model_dir(model_copy)
    write_model_card(model_copy, card)
    assert load_model_dir(model_copy).card["files"][TFLITE_FILE] == sha256_file(model_copy / TFLITE_FILE)


def test_cli_on_a_tampered_model_one_line(model_copy, mnist_dir, run_cli):
    (model_copy / KERAS_FILE).write_bytes(b"not a model")
    result = run_cli("evaluate", "--model", model_copy, "--data-dir", mnist_dir, "--limit", "100")
    assert result.exit_code == ModelError.exit_code
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and KERAS_FILE in lines[0] and "does not match its card" in lines[0]
    assert "Traceback" not in result.stderr
