"""The segmentation verifier: a small CNN saying whether a proposed crop is exactly one symbol.

Input: the two 28×28 channels of :func:`hdr_expr.pipeline.verify.verifier_input`; output: softmax over
("whole", "other"). Trained on :mod:`hdr_expr.datasets.segments` (the segmenter's own proposals on composed
lines of training material); the last tenth of the generated lines validates.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any, Callable

import numpy as np

VERIFIER_NAME = "hdr-expr-verifier"


def build_verifier():
    """Conv 16@3×3 → pool → Conv 32@3×3 → pool → Conv 64@3×3 → pool → Dense 64 → Dropout 0.3 → Dense 2."""
    import keras
    from keras import layers

    return keras.Sequential(
        [
            keras.Input(shape=(28, 28, 2), name="crop"),
            layers.Conv2D(16, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(2),
            layers.Conv2D(32, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(2),
            layers.Conv2D(64, 3, padding="same", activation="relu"),
            layers.MaxPooling2D(2),
            layers.Flatten(),
            layers.Dense(64, activation="relu"),
            layers.Dropout(0.3),
            layers.Dense(2),
            layers.Softmax(),
        ],
        name="segment_verifier",
    )


def train_verifier(
    out_dir: str | Path,
    *,
    lines: int = 12000,
    epochs: int = 8,
    batch_size: int = 256,
    learning_rate: float = 2e-3,
    seed: int = 0,
    rendered: float = 0.5,
    workers: int = 1,
    shared: str | Path | None = None,
    log: Callable[[str], None] = lambda m: print(m, file=sys.stderr),
) -> dict[str, Any]:
    """Generate the data, train, export float16 LiteRT, measure, and write the model directory."""
    from hdr_expr.datasets.expressions import load_material
    from hdr_expr.datasets.segments import COVERAGE, GENERATOR_VERSION, OTHER_SHARE, PURITY, segment_examples
    from hdr_expr.models.card import KERAS_FILE, TFLITE_FILE, write_model_card
    from hdr_expr.models.export import export_tflite
    from hdr_expr.models.train import save_keras
    from hdr_expr.pipeline.verify import CLASSES, LINE_PX, Verifier

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    material = load_material(shared, split="train")
    t0 = time.perf_counter()
    n_val = max(1, lines // 10)
    # Generated before TensorFlow is imported: the worker processes fork.
    train = segment_examples(material, lines - n_val, seed, rendered, workers)
    val = segment_examples(material, n_val, seed + 1_000_003, rendered, workers)
    gen_s = time.perf_counter() - t0
    log(f"generated {len(train.y)} train / {len(val.y)} validation proposals from {lines} lines in {gen_s:.0f} s")

    import keras

    keras.utils.set_random_seed(seed)
    model = build_verifier()
    steps = epochs * int(np.ceil(len(train.y) / batch_size))
    schedule = keras.optimizers.schedules.CosineDecay(learning_rate, steps)
    model.compile(optimizer=keras.optimizers.Adam(schedule), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    t1 = time.perf_counter()
    # The proposals stay float16 (their values exactly; the model's float32 input casts each batch): no float32
    # copy of them all (the same model, byte for byte; peak memory at --lines 5000 3.56 → 3.49 GB).
    model.fit(train.x, train.y, batch_size=batch_size, epochs=epochs, shuffle=True,
              validation_data=(val.x, val.y), verbose=2)
    train_s = time.perf_counter() - t1

    save_keras(model, out / KERAS_FILE)
    export_tflite(model, out / TFLITE_FILE, quantize="float16")
    card = {
        "name": VERIFIER_NAME,
        "task": "segment-verifier",
        "classes": list(CLASSES),
        "architecture": "conv16@3x3-pool, conv32@3x3-pool, conv64@3x3-pool, dense64-relu, dropout0.3, dense2-softmax",
        "input": {"shape": [28, 28, 2], "channels": [
            "hdr_expr.pipeline.normalize.normalize_symbol of the crop",
            f"hdr_expr.pipeline.verify.line_view: the crop at its line's scale (symbol height {LINE_PX:g} px)"]},
        "data": {
            "generator": f"hdr_expr.datasets.segments ({GENERATOR_VERSION}): proposals of segment_page + "
                         "line_readings on lines composed by hdr_expr.datasets.expressions.compose_line",
            "labels": f"whole: >= {PURITY:.0%} of the crop's ink from one symbol and >= {COVERAGE:.0%} of that "
                      f"symbol's ink in the crop, and no other symbol with >= {OTHER_SHARE:.0%} of its ink in it; else other",
            "material": material.describe(),
            "lines": {"train": lines - n_val, "validation": n_val},
            "rendered_share": rendered,
            "seeds": {"train": seed, "validation": seed + 1_000_003},
            "proposals": {"train": int(len(train.y)), "validation": int(len(val.y))},
        },
        "recipe": {"epochs": epochs, "batch_size": batch_size, "optimizer": "adam", "learning_rate": learning_rate,
                   "schedule": "cosine", "seed": seed},
        "training": {"seconds": round(train_s, 1), "generation_seconds": round(gen_s, 1)},
        "tflite_quantization": "float16",
    }
    write_model_card(out, card)
    # Measured through the LiteRT file, as recognition uses it.
    val_x = val.x.astype(np.float32)
    p = Verifier(out).p_whole(val_x)
    pred = (p < 0.5).astype(np.uint8)
    metrics: dict[str, Any] = {"validation_accuracy": round(float((pred == val.y).mean()), 5)}
    for k, name in enumerate(("as_segmented", "split_pieces", "merged_runs")):
        s = val.kind == k
        if s.any():
            metrics[f"validation_accuracy_{name}"] = round(float((pred[s] == val.y[s]).mean()), 5)
            metrics[f"validation_count_{name}"] = int(s.sum())
    keras_p = model.predict(val_x, batch_size=1024, verbose=0)[:, 0]
    metrics["keras_tflite_agreement"] = round(float(((keras_p >= 0.5) == (p >= 0.5)).mean()), 5)
    log("validation: " + ", ".join(f"{k} {v}" for k, v in metrics.items()))
    card["metrics"] = metrics
    return write_model_card(out, card)
