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


def batches(x: np.ndarray, y: np.ndarray, batch_size: int, seed: int | None):
    """A ``keras.utils.PyDataset`` over ``x`` (float16 proposals) and ``y``: float32 batches made as they are
    needed (two threads), in an order shuffled afresh each epoch from ``seed`` (None: in order, to validate).

    Fed the arrays whole, ``model.fit`` held six times the float16 data besides it (a 40,000-line run took 17–20
    GB); batch by batch it holds the arrays and a few batches. Measured on 200,000 random proposals (598 MB),
    one epoch: peak 4.78 GB whole, 1.37 GB batched; 100 s against 136 s (tf.data gathering from a tensor: 90 s
    but 2.45 GB, TensorFlow's copy of the data twice its size)."""
    import keras

    class Batches(keras.utils.PyDataset):
        def __init__(self) -> None:
            super().__init__(workers=2, use_multiprocessing=False)
            self.rng = None if seed is None else np.random.default_rng(seed)
            self.order = np.arange(len(y))
            self.on_epoch_end()

        def __len__(self) -> int:
            return int(np.ceil(len(y) / batch_size))

        def __getitem__(self, i: int) -> tuple[np.ndarray, np.ndarray]:
            take = np.sort(self.order[i * batch_size: (i + 1) * batch_size])
            return x[take].astype(np.float32), y[take]

        def on_epoch_end(self) -> None:
            if self.rng is not None:
                self.rng.shuffle(self.order)

    return Batches()


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
    model.fit(batches(train.x, train.y, batch_size, seed), epochs=epochs, shuffle=False,  # shuffled by batches
              validation_data=batches(val.x, val.y, 1024, None), verbose=2)
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
                   "schedule": "cosine", "seed": seed,
                   "order": "shuffled each epoch by numpy's default_rng(seed), fed batch by batch"},
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
