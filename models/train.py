"""Training the paper's CNN: the paper's recipe by default, and the flags for more.

The paper (Li 2025): categorical cross-entropy, Adam, batch 50, one epoch, inputs scaled to [0, 1] — about
98.75% on the MNIST test set. :data:`BEST_DIGITS` is our best recipe for the same architecture: augmentation
(affine, elastic, stroke thickness), more epochs and a cosine learning-rate schedule.
"""

from __future__ import annotations

import contextlib
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any, Callable, Literal, Sequence

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
BEST_DIGITS = Recipe(epochs=20, batch_size=128, learning_rate=1e-3, schedule="cosine", augment=True, seed=0)


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
    augment_fn: Callable[[np.ndarray, np.ndarray, np.random.Generator], np.ndarray] | None = None,
    validation: tuple[np.ndarray, np.ndarray] | None = None,
    trainable_from: int = 0,
    progress: bool | None = None,
    log: Callable[[str], None] = lambda m: print(m, file=sys.stderr),
) -> dict[str, list[float]]:
    """Train ``model`` in place following ``recipe``; returns the per-epoch history.

    Augmentation draws a fresh copy of the training set each epoch (``augment_fn(images, labels, rng)``), so
    the epochs see different images; validation (a split of the training data, never the test set) drives early stopping.
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
    augmenting = recipe.augment and augment_fn is not None

    def draw_epoch() -> np.ndarray:
        return augment_fn(x[..., 0], y, rng).reshape(x.shape).astype(np.float32)  # type: ignore[misc]

    # the next epoch's images are drawn in a thread while this epoch trains; one rng, used in epoch order,
    # so a seed still gives one run
    pool = ThreadPoolExecutor(max_workers=1) if augmenting else None
    pending = pool.submit(draw_epoch) if pool is not None and recipe.epochs > 0 else None
    with bar, contextlib.ExitStack() as stack:
        if pool is not None:
            stack.callback(pool.shutdown, wait=True, cancel_futures=True)
        for epoch in range(recipe.epochs):
            started = time.time()
            x_epoch = x
            if pending is not None:
                x_epoch = pending.result()
                pending = pool.submit(draw_epoch) if pool is not None and epoch + 1 < recipe.epochs else None
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


def digits_augment(x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
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


# --- the symbol head -----------------------------------------------------------------------------------------

#: Phase 1: the widened head alone (every other layer frozen), so the new operator rows catch up.
SYMBOL_HEAD = Recipe(epochs=1, batch_size=128, learning_rate=1e-3, schedule="constant", augment=True)
#: Phase 2: the whole network, gently.
SYMBOL_FINETUNE = Recipe(epochs=6, batch_size=128, learning_rate=5e-4, schedule="cosine", augment=True)


def symbols_augment(fraction: float = 0.5) -> Callable[[np.ndarray, np.ndarray, np.random.Generator], np.ndarray]:
    """An ``augment_fn`` for :func:`fit` that redraws a random ``fraction`` of the images each epoch with the
    synthesizer's augmentation (slant, rotation, width, elastic, stroke width; re-normalized as the pipeline
    frames a symbol) and leaves the rest as they are. The labels go along, so that classes told apart by their
    lean (``1 / ( )``, ``+ ×``) are slanted and turned less (a leaning ``1`` must not become a ``/``)."""
    from hdr_expr.datasets.synth import augment

    def fn(x: np.ndarray, y: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        out = np.array(x, np.float32, copy=True)
        pick = np.flatnonzero(rng.random(len(out)) < fraction)
        if len(pick):
            out[pick] = augment(out[pick], rng, labels=np.asarray(y)[pick])
        return out

    return fn


def _stage_logger(log: Callable[[str], None]) -> Callable[[str, int, int], None]:
    """A ``progress(stage, done, total)`` callback that logs each stage's start and end only."""
    started: dict[str, float] = {}

    def progress(stage: str, done: int, total: int) -> None:
        if stage not in started:
            started[stage] = time.time()
            log(f"{stage}: {total} images")
        elif done >= total:
            log(f"{stage}: done in {time.time() - started[stage]:.0f} s")

    return progress


def _logits_index(model) -> int:
    for i, layer in enumerate(model.layers):
        if layer.name == "logits":
            return i
    raise ValueError("the model has no layer named 'logits'")


def train_symbols(
    out_dir: str | Path,
    base_model: str | Path,
    head: Recipe = SYMBOL_HEAD,
    finetune: Recipe = SYMBOL_FINETUNE,
    *,
    real_data: Sequence[str | Path] = (),
    data_dir: str | Path | None = None,
    mnist_limit: int | None = None,
    operator_target: int = 6000,
    min_synth_operators: int = 1500,
    synth_digits: int = 500,
    real_digits: bool = True,
    real_repeat: int = 1,
    mix_seed: int = 0,
    augment_fraction: float = 0.5,
    eval_synth_per_class: int | None = None,
    quantize: str = "float16",
    test_limit: int | None = None,
    workers: int | None = None,
    cache: bool = True,
    progress: bool | None = None,
    composed_lines: int = 0,
    log: Callable[[str], None] = lambda m: print(m, file=sys.stderr),
) -> dict[str, Any]:
    """Widen a digit model's head to the symbol classes, train the head, fine-tune the whole network, and write
    a model directory whose card names every data source and holds the measured metrics. Returns the card.

    The mix (:func:`hdr_expr.datasets.mix.build_symbol_mix`): MNIST train (``mnist_limit`` first images), each
    real set's train split (``real_digits``: their digits too), synthesized operators topping each operator
    class up to ``operator_target`` (at least ``min_synth_operators``), ``synth_digits`` synthesized per digit;
    seeded by ``mix_seed``. Validation: the real sets' fixed held-out splits (when there are any). Metrics:
    MNIST test (argmax over all classes: a digit read as an operator is an error), each real set's held-out
    split and the held-out synthetic set (``eval_synth_per_class`` per class, other seed, WIDE ranges).
    ``test_limit``: measure on the first N MNIST test images only (quick checks; the card says how many).
    ``cache``: let the importers cache normalized real sets (see :mod:`hdr_expr.datasets.importers`).
    ``composed_lines``: mix in the symbols segmented from that many composed training lines (see
    :func:`~hdr_expr.datasets.mix.build_symbol_mix`).
    """
    from hdr_expr.datasets import mix as mixes
    from hdr_expr.errors import ModelError
    from hdr_expr.models.card import load_model_dir
    from hdr_expr.pipeline.normalize import NORMALIZATION_VERSION
    from hdr_expr.symbols import ASCII_FORMS, CLASS_NAMES, SYMBOL_CLASSES

    base = load_model_dir(base_model)
    n_base = len(base.classes)
    if base.classes != SYMBOL_CLASSES[:n_base]:
        raise ModelError(f"{base.path}: its classes {''.join(base.classes)} are not a prefix of the symbol "
                         f"classes {' '.join(SYMBOL_CLASSES)} (start from a digit model)")
    started = time.time()
    mix = mixes.build_symbol_mix(
        real_data, mnist_dir=data_dir, mnist_limit=mnist_limit, real_digits=real_digits, real_repeat=real_repeat,
        operator_target=operator_target, min_synth_operators=min_synth_operators, synth_digits=synth_digits,
        seed=mix_seed, workers=workers, cache=cache, progress=_stage_logger(log), composed_lines=composed_lines,
    )
    mnist_test = mixes.eval_mnist(data_dir)
    if test_limit:
        mnist_test = replace(mnist_test, x=mnist_test.x[:test_limit], y=mnist_test.y[:test_limit])
    held_out = [mixes.eval_real(d, workers=workers, cache=cache) for d in real_data]
    synth_n = mixes.EVAL_SYNTH_PER_CLASS if eval_synth_per_class is None else eval_synth_per_class
    synth_eval = mixes.eval_synth(synth_n) if synth_n > 0 else None
    log(f"mix: {len(mix)} images from " + ", ".join(f"{s.name} ({s.images})" for s in mix.sources)
        + f"; {time.time() - started:.0f} s")
    validation = None
    if held_out:
        validation = (np.concatenate([e.x for e in held_out]), np.concatenate([e.y for e in held_out]))

    import keras

    from hdr_expr.models.cnn import widen_head

    set_seed(head.seed)
    try:
        digits = keras.saving.load_model(base.keras_path, compile=False)
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot load {base.keras_path}: {exc}") from None
    model = widen_head(digits, len(SYMBOL_CLASSES))
    augment_fn = symbols_augment(augment_fraction)
    n_classes = len(SYMBOL_CLASSES)
    fit_started = time.time()
    log(f"phase 1/2: the head alone, {head.epochs} epoch(s)")
    h_head = fit(model, mix.x, mix.y, head, num_classes=n_classes, augment_fn=augment_fn,
                 validation=validation, trainable_from=_logits_index(model), progress=progress, log=log)
    log(f"phase 2/2: the whole network, {finetune.epochs} epoch(s)")
    h_fine = fit(model, mix.x, mix.y, finetune, num_classes=n_classes, augment_fn=augment_fn,
                 validation=validation, trainable_from=0, progress=progress, log=log)
    seconds = time.time() - fit_started

    mix_card = mix.card()
    card = {
        "name": "hdr-expr-symbols",
        "task": "symbols",
        "classes": list(SYMBOL_CLASSES),
        "class_names": [CLASS_NAMES[c] for c in SYMBOL_CLASSES],
        "ascii_forms": [ASCII_FORMS[c] for c in SYMBOL_CLASSES],
        "architecture": "Li (2025) CNN: conv32@5x5-relu-pool2, conv64@5x5-relu-pool2, dense1024-relu, "
                        f"dropout0.5, dense{n_classes}-softmax",
        "input": {"shape": [28, 28, 1], "dtype": "float32", "range": [0.0, 1.0], "ink": "bright",
                  "normalization": f"hdr_expr.pipeline.normalize.normalize_symbol ({NORMALIZATION_VERSION}): "
                                   "20x20 fit, centre of mass in 28x28, stroke width into MNIST's band"},
        "base_model": {"path": str(base.path), "name": base.card.get("name"),
                       "files": base.card.get("files"), "metrics": base.card.get("metrics")},
        "recipe": {
            "name": "symbols",
            "phases": {
                "head": {**head.to_dict(), "trainable": "logits only (body frozen)"},
                "finetune": {**finetune.to_dict(), "trainable": "all layers"},
            },
            "optimizer": "adam", "loss": "categorical_crossentropy",
            "augmentation": {"function": "hdr_expr.datasets.synth.augment", "fraction_per_epoch": augment_fraction},
            "validation": [e.name for e in held_out] or None,
            "train_images": int(len(mix)),
        },
        **mix_card,
        "evaluation_sources": [e.source.to_dict() for e in [mnist_test, *held_out]]
                              + ([synth_eval.source.to_dict()] if synth_eval is not None else []),
        "training": {"seconds": round(seconds, 1), "history": {"head": h_head, "finetune": h_fine}},
    }
    card = save_model_dir(model, out_dir, card, mnist_test.x, mnist_test.y, quantize=quantize, log=log)
    card["metrics"].update(measure_symbol_sets(out_dir, held_out, synth_eval, log=log))
    from hdr_expr.models.card import write_model_card

    return write_model_card(out_dir, card)


def measure_symbol_sets(model_dir: str | Path, held_out: Sequence, synth_eval=None, *,
                        log: Callable[[str], None] = lambda m: print(m, file=sys.stderr)) -> dict[str, Any]:
    """Card metrics of a model directory's LiteRT model on real held-out splits and the held-out synthetic
    set (:class:`hdr_expr.datasets.mix.EvalSet` each): accuracy, per-class scores, confusion matrix."""
    from hdr_expr.models.card import ModelDir, load_model_dir
    from hdr_expr.models.evaluate import evaluate_set
    from hdr_expr.symbols import SYMBOL_CLASSES

    md: ModelDir = load_model_dir(model_dir)
    out: dict[str, Any] = {}
    real: dict[str, Any] = {}
    for e in held_out:
        s, _, _ = evaluate_set(md, e.x, [SYMBOL_CLASSES[int(i)] for i in e.y], e.name)
        real[e.source.name] = s.to_dict()
        log(f"{e.name}: {s.accuracy:.4%} of {s.images} images")
    if real:
        out["real_held_out"] = real
    if synth_eval is not None:
        s, _, _ = evaluate_set(md, synth_eval.x, [SYMBOL_CLASSES[int(i)] for i in synth_eval.y], synth_eval.name)
        out["synthetic_held_out"] = s.to_dict()
        log(f"{synth_eval.name}: {s.accuracy:.4%} of {s.images} images")
    return out


def requantize_symbols(
    model_dir: str | Path,
    out_dir: str | Path,
    *,
    quantize: str,
    data_dir: str | Path | None = None,
    real_data: Sequence[str | Path] = (),
    eval_synth_per_class: int | None = None,
    workers: int | None = None,
    log: Callable[[str], None] = lambda m: print(m, file=sys.stderr),
) -> dict[str, Any]:
    """A symbol model directory's Keras model exported again to LiteRT with ``quantize`` into ``out_dir``;
    every card figure is measured anew on the new file (MNIST test and Keras agreement, each real set's
    held-out split, the held-out synthetic set). The card keeps the training record and names its parent."""
    import keras

    from hdr_expr.models.card import KERAS_FILE, load_model_dir

    src = load_model_dir(model_dir)
    model = keras.models.load_model(src.path / KERAS_FILE, compile=False)
    card = {k: v for k, v in src.card.items() if k not in ("metrics", "files", "schema")}
    card["exported_from"] = {"path": str(src.path), "files": src.card.get("files"),
                             "tflite_quantization": src.card.get("tflite_quantization")}
    limit = (src.card.get("metrics") or {}).get("mnist_test_images")
    return _save_measured_symbols(model, out_dir, card, quantize=quantize, data_dir=data_dir, real_data=real_data,
                                  eval_synth_per_class=eval_synth_per_class, workers=workers, mnist_limit=limit,
                                  log=log)


def average_symbols(
    model_dirs: Sequence[str | Path],
    out_dir: str | Path,
    *,
    weights: Sequence[float] | None = None,
    quantize: str = "dynamic-int8",
    data_dir: str | Path | None = None,
    real_data: Sequence[str | Path] = (),
    eval_synth_per_class: int | None = None,
    workers: int | None = None,
    log: Callable[[str], None] = lambda m: print(m, file=sys.stderr),
) -> dict[str, Any]:
    """One symbol model whose weights are the weighted mean of several models' (a "model soup": models
    fine-tuned from one parent lie in one basin, and their mean keeps what each learned with less of each
    one's noise); measured and written as :func:`requantize_symbols` does. The models must share classes and
    architecture. The card is the first model's, with every ingredient named (files, weight, recipe, data
    sources) under ``averaged_from``."""
    import keras

    from hdr_expr.models.card import KERAS_FILE, load_model_dir

    if len(model_dirs) < 2:
        raise ValueError("averaging needs at least two models")
    weights = [1.0] * len(model_dirs) if weights is None else [float(w) for w in weights]
    if len(weights) != len(model_dirs) or min(weights) < 0 or sum(weights) <= 0:
        raise ValueError("give one weight per model, none negative, not all zero")
    sources = [load_model_dir(d) for d in model_dirs]
    classes = sources[0].card.get("classes")
    if any(s.card.get("classes") != classes for s in sources):
        raise ValueError("the models to average must have the same classes in the same order")
    models = [keras.models.load_model(s.path / KERAS_FILE, compile=False) for s in sources]
    arrays = [m.get_weights() for m in models]
    if any([a.shape for a in each] != [a.shape for a in arrays[0]] for each in arrays):
        raise ValueError("the models to average must have the same architecture")
    total = sum(weights)
    mean = [sum(w / total * each[i] for w, each in zip(weights, arrays)).astype(np.float32)
            for i in range(len(arrays[0]))]
    model = models[0]
    model.set_weights(mean)
    card = {k: v for k, v in sources[0].card.items() if k not in ("metrics", "files", "schema", "exported_from")}
    card["averaged_from"] = [
        {"path": str(s.path), "files": s.card.get("files"), "weight": round(w / total, 6),
         "base_model": {k: v for k, v in (s.card.get("base_model") or {}).items() if k != "metrics"},
         **{k: s.card.get(k) for k in ("recipe", "data_sources", "data_mix")}}
        for s, w in zip(sources, weights)
    ]  # (each parent named by its files, not its figures: those are on its own card)
    log("averaged " + ", ".join(f"{s.path} ({w / total:.3f})" for s, w in zip(sources, weights)))
    limit = (sources[0].card.get("metrics") or {}).get("mnist_test_images")
    return _save_measured_symbols(model, out_dir, card, quantize=quantize, data_dir=data_dir, real_data=real_data,
                                  eval_synth_per_class=eval_synth_per_class, workers=workers, mnist_limit=limit,
                                  log=log)


def _save_measured_symbols(model, out_dir: str | Path, card: dict[str, Any], *, quantize: str,
                           data_dir: str | Path | None, real_data: Sequence[str | Path],
                           eval_synth_per_class: int | None, workers: int | None, mnist_limit: int | None,
                           log: Callable[[str], None]) -> dict[str, Any]:
    """Write a symbol model directory and measure every card figure on its LiteRT file: MNIST test (the
    first ``mnist_limit`` images where its parent was measured on a prefix), each real set's held-out split,
    the held-out synthetic set."""
    from hdr_expr.datasets import mix as mixes
    from hdr_expr.models.card import write_model_card

    mnist_test = mixes.eval_mnist(data_dir)
    if mnist_limit and mnist_limit < len(mnist_test.y):  # measured as the parent was (a quick model)
        mnist_test = replace(mnist_test, x=mnist_test.x[:mnist_limit], y=mnist_test.y[:mnist_limit])
    card = save_model_dir(model, out_dir, card, mnist_test.x, mnist_test.y, quantize=quantize, log=log)
    held_out = [mixes.eval_real(d, workers=workers) for d in real_data]
    synth_n = mixes.EVAL_SYNTH_PER_CLASS if eval_synth_per_class is None else eval_synth_per_class
    synth_eval = mixes.eval_synth(synth_n) if synth_n > 0 else None
    card["metrics"].update(measure_symbol_sets(out_dir, held_out, synth_eval, log=log))
    return write_model_card(out_dir, card)
