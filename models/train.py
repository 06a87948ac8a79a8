"""Training the paper's CNN: the paper's recipe by default, and the flags for more.

The paper (Li 2025): categorical cross-entropy, Adam, batch 50, one epoch, inputs scaled to [0, 1] — about
98.75% on the MNIST test set. :data:`BEST_DIGITS` is our best recipe for the same architecture: augmentation
(affine, elastic, stroke thickness), more epochs and a cosine learning-rate schedule.
"""

from __future__ import annotations

import sys
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Callable, Literal

import numpy as np

Schedule = Literal["constant", "cosine", "exponential"]


@dataclass(frozen=True)
class Recipe:
    epochs: int = 1
    batch_size: int = 50
    learning_rate: float = 1e-3
    schedule: Schedule = "constant"
    augment: bool = False
    validation_split: float = 0.0
    early_stopping: int = 0  # patience in epochs on validation loss; 0 = off (needs a validation split)
    label_smoothing: float = 0.0
    seed: int = 0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


PAPER = Recipe()
BEST_DIGITS = Recipe(epochs=15, batch_size=128, learning_rate=1e-3, schedule="cosine", augment=True, seed=0)


def recipe_name(recipe: Recipe) -> str:
    """"paper", "best" or "custom" (what a model card calls the recipe)."""
    return {PAPER: "paper", BEST_DIGITS: "best"}.get(recipe, "custom")


def set_seed(seed: int) -> None:
    """Same seed, same run: Python, NumPy and TensorFlow seeds, and deterministic TF ops."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def _learning_rate(recipe: Recipe, steps_per_epoch: int):
    import keras

    total = max(1, recipe.epochs * steps_per_epoch)
    if recipe.schedule == "cosine":
        return keras.optimizers.schedules.CosineDecay(recipe.learning_rate, decay_steps=total, alpha=0.01)
    if recipe.schedule == "exponential":
        return keras.optimizers.schedules.ExponentialDecay(
            recipe.learning_rate, decay_steps=steps_per_epoch, decay_rate=0.75
        )
    if recipe.schedule != "constant":
        raise ValueError(f"unknown schedule {recipe.schedule!r}")
    return recipe.learning_rate


def as_input(x: np.ndarray) -> np.ndarray:
    """uint8 0–255 or float images → float32 N×28×28×1 in [0, 1] (the paper's scaling)."""
    x = np.asarray(x)
    x = x.astype(np.float32) / 255.0 if x.dtype == np.uint8 else x.astype(np.float32)
    return x.reshape(-1, 28, 28, 1)


class _ProgressBar:
    """A rich progress bar on stderr over all epochs' steps, with the running loss; off when stderr is not a
    terminal (unless ``enabled`` says otherwise)."""

    def __init__(self, epochs: int, steps: int, *, enabled: bool | None = None):
        self.epochs, self.steps = epochs, steps
        self.enabled = sys.stderr.isatty() if enabled is None else enabled
        self._progress = None
        self._task = None

    def __enter__(self) -> "_ProgressBar":
        if self.enabled:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            self._progress = Progress(
                TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                TextColumn("{task.fields[status]}"), TimeRemainingColumn(),
                console=Console(stderr=True), transient=True,
            )
            self._progress.__enter__()
            self._task = self._progress.add_task("training", total=self.epochs * self.steps, status="")
        return self

    def __exit__(self, *exc) -> None:
        if self._progress is not None:
            self._progress.__exit__(*exc)
            self._progress = None

    def callbacks(self) -> list:
        if self._progress is None:
            return []
        import keras

        bar = self

        class _Callback(keras.callbacks.Callback):
            epoch = 0

            def on_epoch_begin(self, epoch, logs=None):
                self.epoch = epoch
                bar._progress.update(bar._task, description=f"epoch {epoch + 1}/{bar.epochs}",
                                     completed=epoch * bar.steps)

            def on_train_batch_end(self, batch, logs=None):
                loss = (logs or {}).get("loss")
                status = f"loss {float(loss):.4f}" if loss is not None else ""
                bar._progress.update(bar._task, completed=self.epoch * bar.steps + batch + 1, status=status)

        return [_Callback()]


def fit(
    model,
    x: np.ndarray,
    y: np.ndarray,
    recipe: Recipe,
    *,
    num_classes: int,
    augment_fn: Callable[[np.ndarray, np.random.Generator], np.ndarray] | None = None,
    validation: tuple[np.ndarray, np.ndarray] | None = None,
    trainable_from: int = 0,
    progress: bool | None = None,
    log: Callable[[str], None] = lambda m: print(m, file=sys.stderr),
) -> dict[str, list[float]]:
    """Train ``model`` in place following ``recipe``; returns the per-epoch history.

    Augmentation draws a fresh copy of the training set each epoch (``augment_fn``), so the epochs see
    different images; validation (a split of the training data, never the test set) drives early stopping.
    ``trainable_from`` freezes the layers before that index (to train a new head first). ``progress``: a
    rich progress bar on stderr (default: when stderr is a terminal); one ``log`` line per epoch either way.
    """
    import keras

    rng = np.random.default_rng(recipe.seed)
    x = as_input(x)
    y = np.asarray(y).astype(np.int64)
    if validation is None and recipe.validation_split > 0:
        order = rng.permutation(len(x))
        n_val = int(len(x) * recipe.validation_split)
        val_idx, train_idx = order[:n_val], order[n_val:]
        validation = (x[val_idx], y[val_idx])
        x, y = x[train_idx], y[train_idx]
    for i, layer in enumerate(model.layers):
        layer.trainable = i >= trainable_from
    steps = int(np.ceil(len(x) / recipe.batch_size))
    model.compile(
        optimizer=keras.optimizers.Adam(_learning_rate(recipe, steps)),
        loss=keras.losses.CategoricalCrossentropy(label_smoothing=recipe.label_smoothing),
        metrics=["accuracy"],
    )
    y_onehot = keras.utils.to_categorical(y, num_classes)
    val_data = None
    if validation is not None:
        val_data = (as_input(validation[0]), keras.utils.to_categorical(validation[1], num_classes))
    history: dict[str, list[float]] = {}
    best_loss, best_weights, waited = np.inf, None, 0
    bar = _ProgressBar(recipe.epochs, steps, enabled=progress)
    with bar:
        for epoch in range(recipe.epochs):
            started = time.time()
            x_epoch = x
            if recipe.augment and augment_fn is not None:
                x_epoch = augment_fn(x[..., 0], rng).reshape(x.shape).astype(np.float32)
            h = model.fit(
                x_epoch, y_onehot, batch_size=recipe.batch_size, epochs=epoch + 1, initial_epoch=epoch,
                shuffle=True, validation_data=val_data, verbose=0, callbacks=bar.callbacks(),
            )
            for k, v in h.history.items():
                history.setdefault(k, []).extend(float(i) for i in v)
            history.setdefault("seconds", []).append(time.time() - started)
            log(f"epoch {epoch + 1}/{recipe.epochs}: " + ", ".join(
                f"{k} {v[-1]:.4f}" for k, v in history.items() if k != "seconds" and k != "learning_rate"
            ) + f" ({history['seconds'][-1]:.0f} s)")
            if val_data is not None and recipe.early_stopping > 0:
                loss = history["val_loss"][-1]
                if loss < best_loss - 1e-4:
                    best_loss, best_weights, waited = loss, model.get_weights(), 0
                else:
                    waited += 1
                    if waited >= recipe.early_stopping:
                        log(f"early stopping after epoch {epoch + 1}: validation loss has not improved "
                            f"for {waited} epochs")
                        if best_weights is not None:  # None when every validation loss was NaN
                            model.set_weights(best_weights)
                        break
    return history


def digits_augment(x: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    from hdr_expr.datasets.augment import augment_batch

    return augment_batch(x, rng)


def train_digits(
    out_dir: str | Path,
    recipe: Recipe = PAPER,
    *,
    data_dir: str | Path | None = None,
    quantize: str = "float16",
    limit: int | None = None,
    test_limit: int | None = None,
    progress: bool | None = None,
    log: Callable[[str], None] = lambda m: print(m, file=sys.stderr),
) -> dict[str, Any]:
    """Train the paper's CNN on MNIST and write a model directory (Keras model, LiteRT export, card).

    ``limit`` trains on the first N training images only and ``test_limit`` measures on the first N test
    images only (for quick checks; the card records both counts). Returns the card.
    """
    from hdr_expr.datasets.mnist import load_mnist, mnist_sources
    from hdr_expr.symbols import DIGITS

    x_train, y_train = load_mnist("train", data_dir)  # data errors before the slow TensorFlow import
    x_test, y_test = load_mnist("test", data_dir)
    if limit:
        x_train, y_train = x_train[:limit], y_train[:limit]
    if test_limit:
        x_test, y_test = x_test[:test_limit], y_test[:test_limit]
    from hdr_expr.models.cnn import build_cnn

    set_seed(recipe.seed)
    model = build_cnn(10)
    started = time.time()
    history = fit(model, x_train, y_train, recipe, num_classes=10, augment_fn=digits_augment, progress=progress,
                  log=log)
    seconds = time.time() - started
    card = {
        "name": "hdr-expr-digits",
        "task": "digits",
        "classes": list(DIGITS),
        "class_names": list(DIGITS),
        "architecture": "Li (2025) CNN: conv32@5x5-relu-pool2, conv64@5x5-relu-pool2, dense1024-relu, "
                        "dropout0.5, dense10-softmax",
        "input": {"shape": [28, 28, 1], "dtype": "float32", "range": [0.0, 1.0], "ink": "bright",
                  "normalization": "MNIST as published (20x20 fit, centre of mass in 28x28)"},
        "recipe": {"name": recipe_name(recipe), **recipe.to_dict(), "optimizer": "adam",
                   "loss": "categorical_crossentropy", "train_images": int(len(x_train))},
        "data_sources": [{"name": "MNIST", "files": mnist_sources(data_dir)}],
        "training": {"seconds": round(seconds, 1), "history": history},
    }
    return save_model_dir(model, out_dir, card, x_test, y_test, quantize=quantize, log=log)


def save_model_dir(
    model,
    out_dir: str | Path,
    card: dict[str, Any],
    x_test: np.ndarray,
    y_test: np.ndarray,
    *,
    quantize: str = "float16",
    metrics: dict[str, Any] | None = None,
    log: Callable[[str], None] = lambda m: print(m, file=sys.stderr),
) -> dict[str, Any]:
    """Write model.keras, model.tflite and card.json; measure test accuracy of both and their agreement."""
    from hdr_expr.models.card import KERAS_FILE, TFLITE_FILE, write_model_card
    from hdr_expr.models.export import export_tflite, tflite_predict

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    save_keras(model, out / KERAS_FILE)
    export_tflite(model, out / TFLITE_FILE, quantize=quantize)  # type: ignore[arg-type]
    x = as_input(x_test)
    keras_pred = model.predict(x, batch_size=1000, verbose=0).argmax(1)
    lite_pred = tflite_predict(out / TFLITE_FILE, x).argmax(1)
    y = np.asarray(y_test)
    measured = {
        "mnist_test_accuracy_keras": round(float((keras_pred == y).mean()), 5),
        "mnist_test_accuracy_tflite": round(float((lite_pred == y).mean()), 5),
        "keras_tflite_agreement": round(float((keras_pred == lite_pred).mean()), 5),
        "mnist_test_images": int(len(y)),
    }
    log("MNIST test accuracy: keras {mnist_test_accuracy_keras:.4%}, tflite {mnist_test_accuracy_tflite:.4%}, "
        "agreement {keras_tflite_agreement:.4%}".format(**measured))
    card = {**card, "tflite_quantization": quantize,
            "metrics": {**(card.get("metrics") or {}), **measured, **(metrics or {})}}
    return write_model_card(out, card)


def save_keras(model, path: str | Path) -> None:
    """Save the architecture and weights only: the optimizer's state would triple the file's size."""
    clean = model.__class__.from_config(model.get_config())  # uncompiled: no optimizer state
    clean.set_weights(model.get_weights())
    clean.save(path)


def with_overrides(recipe: Recipe, **overrides: Any) -> Recipe:
    """``recipe`` with the non-None overrides applied (CLI flags map onto this)."""
    return replace(recipe, **{k: v for k, v in overrides.items() if v is not None})
