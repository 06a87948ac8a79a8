"""``hdr-expr train digits|symbols|verifier`` and ``hdr-expr evaluate``: thin wrappers over :mod:`hdr_expr.models.train`
and :mod:`hdr_expr.models.evaluate`. TensorFlow is imported inside the commands, never at import time."""

from __future__ import annotations

import json
import os
import sys
from enum import Enum
from pathlib import Path
from typing import Any, List, Optional

import typer

from hdr_expr.cli.app import app
from hdr_expr.errors import InputError

train_app = typer.Typer(
    help="Train the paper's CNN: digits on MNIST, then the widened symbol head.", no_args_is_help=True
)
app.add_typer(train_app, name="train")


class RecipeName(str, Enum):
    paper = "paper"
    best = "best"


class ScheduleName(str, Enum):
    constant = "constant"
    cosine = "cosine"
    exponential = "exponential"


class QuantizeName(str, Enum):
    none = "none"
    float16 = "float16"
    dynamic_int8 = "dynamic-int8"


def _log(message: str) -> None:
    typer.echo(message, err=True)


def _quiet_tensorflow() -> None:
    """Import TensorFlow with its C++ start-up banner (oneDNN, CPU features) kept off the terminal; the CLI's
    stderr is for progress and errors."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # C++ log lines; Python errors still surface
    if "tensorflow" in sys.modules:
        return
    sys.stderr.flush()
    try:
        saved = os.dup(2)
    except OSError:
        import tensorflow  # noqa: F401

        return
    try:
        with open(os.devnull, "wb") as null:
            os.dup2(null.fileno(), 2)
        import keras  # noqa: F401
        import tensorflow  # noqa: F401
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _check_out(out: Path, force: bool) -> None:
    if out.exists() and not out.is_dir():
        raise InputError(f"--out {out} is a file, not a folder")
    if out.is_dir() and any(out.iterdir()) and not force:
        raise InputError(f"--out {out} is not empty; pass --force to overwrite the model there")


def _mb(path: Path) -> str:
    return f"{path.stat().st_size / 1e6:.1f} MB" if path.is_file() else "-"


def _summary(out: Path, card: dict[str, Any]) -> None:
    from hdr_expr.models.card import KERAS_FILE, TFLITE_FILE

    m = card.get("metrics", {})
    recipe = card.get("recipe", {})
    typer.echo(f"wrote {out} (model.keras {_mb(out / KERAS_FILE)}, model.tflite {_mb(out / TFLITE_FILE)} "
               f"{card.get('tflite_quantization', '')})")
    if card.get("averaged_from"):  # the recipe and training record on the card are its first model's
        parts = ", ".join(f"{a['path']} ({a['weight']:g})" for a in card["averaged_from"])
        typer.echo(f"weights averaged from {parts}")
    else:
        phases = recipe.get("phases") or {"": recipe}
        for name, r in phases.items():
            typer.echo(
                f"recipe {name or r.get('name', '')}: {r.get('epochs')} epoch(s), batch {r.get('batch_size')}, "
                f"adam lr {r.get('learning_rate')} {r.get('schedule')}, augment {r.get('augment')}, "
                f"seed {r.get('seed')}"
            )
        train = card.get("training", {})
        typer.echo(f"trained on {recipe.get('train_images', '?')} images in {train.get('seconds', '?')} s")
    if "mnist_test_accuracy_keras" in m:
        typer.echo(
            f"MNIST test ({m['mnist_test_images']} images): {m['mnist_test_accuracy_keras']:.2%} Keras, "
            f"{m['mnist_test_accuracy_tflite']:.2%} LiteRT; agreement {m['keras_tflite_agreement']:.2%}"
        )
    for name, r in (m.get("real_held_out") or {}).items():
        typer.echo(f"{name} held-out ({r['images']} images): {r['accuracy']:.2%}")
    if m.get("synthetic_held_out"):
        s = m["synthetic_held_out"]
        typer.echo(f"synthetic held-out ({s['images']} images): {s['accuracy']:.2%}")


@train_app.command("digits")
def train_digits_cmd(
    out: Path = typer.Option(Path("runs/digits"), "--out", help="Model directory to write."),
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", help="Folder holding the MNIST IDX files."),
    recipe: RecipeName = typer.Option(RecipeName.paper, "--recipe",
                                      help="paper: Adam, batch 50, 1 epoch; best: our best recipe."),
    epochs: Optional[int] = typer.Option(None, "--epochs", min=1),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", min=1),
    lr: Optional[float] = typer.Option(None, "--lr", min=0.0, help="Initial learning rate."),
    schedule: Optional[ScheduleName] = typer.Option(None, "--schedule"),
    augment: Optional[bool] = typer.Option(None, "--augment/--no-augment",
                                           help="Affine, elastic and stroke-width augmentation."),
    validation_split: Optional[float] = typer.Option(None, "--validation-split", min=0.0, max=0.5),
    early_stopping: Optional[int] = typer.Option(None, "--early-stopping", min=0,
                                                 help="Patience in epochs (needs --validation-split)."),
    label_smoothing: Optional[float] = typer.Option(None, "--label-smoothing", min=0.0, max=0.5),
    seed: Optional[int] = typer.Option(None, "--seed"),
    quantize: QuantizeName = typer.Option(QuantizeName.float16, "--quantize", help="LiteRT export."),
    limit: Optional[int] = typer.Option(None, "--limit", min=1, help="Train on the first N images only."),
    test_limit: Optional[int] = typer.Option(None, "--test-limit", min=1,
                                             help="Measure on the first N test images only (quick checks)."),
    force: bool = typer.Option(False, "--force", help="Overwrite a model already in --out."),
) -> None:
    """Train the paper's CNN on MNIST (the paper's recipe unless told otherwise).

    Writes a model directory: model.keras, model.tflite (LiteRT) and card.json.
    """
    from hdr_expr.models import train as tr

    _check_out(out, force)
    if early_stopping and not validation_split:
        raise InputError("--early-stopping needs --validation-split (it watches the validation loss)")
    base = tr.BEST_DIGITS if recipe is RecipeName.best else tr.PAPER
    chosen = tr.with_overrides(
        base, epochs=epochs, batch_size=batch_size, learning_rate=lr, schedule=schedule and schedule.value,
        augment=augment, validation_split=validation_split, early_stopping=early_stopping,
        label_smoothing=label_smoothing, seed=seed,
    )
    from hdr_expr.datasets.mnist import load_mnist

    load_mnist("test", data_dir)  # a missing or corrupt file fails here, before TensorFlow starts
    _quiet_tensorflow()
    card = tr.train_digits(out, chosen, data_dir=data_dir, quantize=quantize.value, limit=limit,
                           test_limit=test_limit, log=_log)
    _summary(out, card)


@train_app.command("symbols")
def train_symbols_cmd(
    base: Path = typer.Option(..., "--from", help="The digit model directory to start from (`hdr-expr train "
                                                  "digits` writes one)."),
    out: Path = typer.Option(Path("runs/symbols"), "--out", help="Model directory to write."),
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", help="Folder holding the MNIST IDX files."),
    real_data: List[Path] = typer.Option([], "--real-data",
                                         help="A real symbol set (folder per class or HASYv2); repeatable. Its "
                                              "train split is mixed in, its fixed held-out split validates."),
    head_epochs: Optional[int] = typer.Option(None, "--head-epochs", min=0, help="Phase 1: the new head alone."),
    head_lr: Optional[float] = typer.Option(None, "--head-lr", min=0.0),
    head_schedule: Optional[ScheduleName] = typer.Option(None, "--head-schedule"),
    epochs: Optional[int] = typer.Option(None, "--epochs", min=0, help="Phase 2: the whole network."),
    lr: Optional[float] = typer.Option(None, "--lr", min=0.0),
    schedule: Optional[ScheduleName] = typer.Option(None, "--schedule"),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", min=1, help="Both phases."),
    augment: Optional[bool] = typer.Option(None, "--augment/--no-augment", help="Both phases."),
    augment_fraction: float = typer.Option(0.5, "--augment-fraction", min=0.0, max=1.0,
                                           help="Share of the images redrawn by augmentation each epoch."),
    early_stopping: Optional[int] = typer.Option(None, "--early-stopping", min=0,
                                                 help="Phase 2 patience in epochs on the real held-out loss."),
    label_smoothing: Optional[float] = typer.Option(None, "--label-smoothing", min=0.0, max=0.5),
    mnist_limit: Optional[int] = typer.Option(None, "--mnist-limit", min=0,
                                              help="Mix in the first N MNIST training images (default all)."),
    operator_target: int = typer.Option(6000, "--operator-target", min=0,
                                        help="Images per operator class, real + synthesized."),
    min_synth_operators: int = typer.Option(1500, "--min-synth-operators", min=0,
                                            help="Synthesized images per operator class at least."),
    synth_digits: int = typer.Option(500, "--synth-digits", min=0, help="Synthesized images per digit class."),
    real_digits: bool = typer.Option(True, "--real-digits/--no-real-digits",
                                     help="Mix in the real sets' digits too."),
    real_repeat: int = typer.Option(1, "--real-repeat", min=1,
                                    help="How many times each real image appears in the mix (weighs real hands more)."),
    composed_lines: int = typer.Option(0, "--composed-lines", min=0,
                                       help="Also the symbols the segmenter cuts from N lines composed of training "
                                            "material, most rendered as scans and photos (symbols as the "
                                            "pipeline sees them)."),
    eval_synthetic: Optional[int] = typer.Option(None, "--eval-synthetic", min=0,
                                                 help="Held-out synthetic images per class to measure on "
                                                      "(default 500; 0: none)."),
    seed: int = typer.Option(0, "--seed", help="Seeds the mix, the initialization and both phases."),
    quantize: QuantizeName = typer.Option(QuantizeName.float16, "--quantize", help="LiteRT export."),
    test_limit: Optional[int] = typer.Option(None, "--test-limit", min=1,
                                             help="Measure on the first N MNIST test images only (quick checks)."),
    workers: Optional[int] = typer.Option(None, "--workers", min=1, help="Processes importing real sets."),
    force: bool = typer.Option(False, "--force", help="Overwrite a model already in --out."),
) -> None:
    """Widen a digit model to the symbol classes: train the new head, then fine-tune the whole network.

    Mix: MNIST, each --real-data set's train split, synthesized symbols (operators up to --operator-target).

    Writes a model directory whose card names every data source and the measured held-out figures.
    """
    from hdr_expr.models import train as tr
    from hdr_expr.models.card import load_model_dir

    _check_out(out, force)
    if early_stopping and not real_data:
        raise InputError("--early-stopping watches the real sets' held-out loss: pass --real-data")
    load_model_dir(base)  # a missing or tampered base model fails before anything else
    common = dict(batch_size=batch_size, augment=augment, label_smoothing=label_smoothing, seed=seed)
    head = tr.with_overrides(tr.SYMBOL_HEAD, epochs=head_epochs, learning_rate=head_lr,
                             schedule=head_schedule and head_schedule.value, **common)
    fine = tr.with_overrides(tr.SYMBOL_FINETUNE, epochs=epochs, learning_rate=lr,
                             schedule=schedule and schedule.value, early_stopping=early_stopping, **common)
    _quiet_tensorflow()
    card = tr.train_symbols(
        out, base, head, fine, real_data=real_data, data_dir=data_dir, mnist_limit=mnist_limit,
        operator_target=operator_target, min_synth_operators=min_synth_operators, synth_digits=synth_digits,
        real_digits=real_digits, real_repeat=real_repeat, mix_seed=seed, augment_fraction=augment_fraction,
        eval_synth_per_class=eval_synthetic, quantize=quantize.value, test_limit=test_limit, workers=workers,
        composed_lines=composed_lines, log=_log,
    )
    _summary(out, card)


# The options `train export` and `train average` share: where the card's figures are measured, and --force.
_MNIST_DIR = typer.Option(None, "--data-dir", help="Folder holding the MNIST IDX files.")
_MEASURED_REAL_DATA = typer.Option([], "--real-data",
                                   help="A real symbol set whose held-out split the card measures; repeatable.")
_EVAL_SYNTHETIC = typer.Option(None, "--eval-synthetic", min=0,
                               help="Held-out synthetic images per class (default 500; 0: none).")
_IMPORT_WORKERS = typer.Option(None, "--workers", min=1, help="Processes importing real sets.")
_FORCE = typer.Option(False, "--force", help="Overwrite a model already in --out.")


@train_app.command("export")
def train_export_cmd(
    model: Path = typer.Option(..., "--model", help="The symbol model directory to export again."),
    out: Path = typer.Option(..., "--out", help="Model directory to write."),
    quantize: QuantizeName = typer.Option(..., "--quantize", help="LiteRT export."),
    data_dir: Optional[Path] = _MNIST_DIR,
    real_data: List[Path] = _MEASURED_REAL_DATA,
    eval_synthetic: Optional[int] = _EVAL_SYNTHETIC,
    workers: Optional[int] = _IMPORT_WORKERS,
    force: bool = _FORCE,
) -> None:
    """Export a trained symbol model's LiteRT file again with another quantization (dynamic-int8 reads about
    three times faster on CPU than float16 and is half the size); every figure on the card is measured anew.
    """
    from hdr_expr.models import train as tr
    from hdr_expr.models.card import load_model_dir

    _check_out(out, force)
    if out.resolve() == model.resolve():
        raise InputError("--out must be another folder than --model")
    load_model_dir(model)
    _quiet_tensorflow()
    card = tr.requantize_symbols(model, out, quantize=quantize.value, data_dir=data_dir, real_data=real_data,
                                 eval_synth_per_class=eval_synthetic, workers=workers, log=_log)
    _summary(out, card)


@train_app.command("average")
def train_average_cmd(
    model: List[Path] = typer.Option(..., "--model", help="A symbol model directory to average; two or more."),
    out: Path = typer.Option(..., "--out", help="Model directory to write."),
    weight: List[float] = typer.Option([], "--weight", min=0.0,
                                       help="Each --model's weight, in the same order (default: equal)."),
    quantize: QuantizeName = typer.Option(QuantizeName.dynamic_int8, "--quantize", help="LiteRT export."),
    data_dir: Optional[Path] = _MNIST_DIR,
    real_data: List[Path] = _MEASURED_REAL_DATA,
    eval_synthetic: Optional[int] = _EVAL_SYNTHETIC,
    workers: Optional[int] = _IMPORT_WORKERS,
    force: bool = _FORCE,
) -> None:
    """Average the weights of symbol models fine-tuned from one parent (a model soup) into one model; every
    figure on the card is measured anew and the card names each model averaged, with its weight and sources.
    """
    from hdr_expr.models import train as tr
    from hdr_expr.models.card import load_model_dir

    if len(model) < 2:
        raise InputError("give at least two --model directories to average")
    if weight and len(weight) != len(model):
        raise InputError(f"give one --weight per --model ({len(model)}), or none")
    if weight and sum(weight) <= 0:
        raise InputError("--weight: not all zero")
    _check_out(out, force)
    if any(out.resolve() == m.resolve() for m in model):
        raise InputError("--out must be another folder than each --model")
    classes = [load_model_dir(m).card.get("classes") for m in model]
    if any(c != classes[0] for c in classes):
        raise InputError("the models to average have different classes")
    _quiet_tensorflow()
    try:
        card = tr.average_symbols(model, out, weights=weight or None, quantize=quantize.value, data_dir=data_dir,
                                  real_data=real_data, eval_synth_per_class=eval_synthetic, workers=workers,
                                  log=_log)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    _summary(out, card)


@train_app.command("verifier")
def train_verifier_cmd(
    out: Path = typer.Option(Path("runs/verifier"), "--out", help="Model directory to write."),
    lines: int = typer.Option(20000, "--lines", min=10, help="Composed lines to take proposals from (a tenth "
                                                              "validates)."),
    epochs: int = typer.Option(12, "--epochs", min=1),
    batch_size: int = typer.Option(256, "--batch-size", min=1),
    lr: float = typer.Option(2e-3, "--lr", min=0.0, help="Adam, cosine decay from this rate."),
    seed: int = typer.Option(0, "--seed", help="Seeds the composed lines and the training."),
    rendered: float = typer.Option(0.5, "--rendered", min=0.0, max=1.0,
                                   help="Share of the lines rendered as scans, drawings and photos and read by "
                                        "the real preprocessing (the others are thresholded ink)."),
    workers: int = typer.Option(2, "--workers", min=1, help="Processes generating the lines."),
    shared: Optional[Path] = typer.Option(None, "--shared", help="Shared data folder holding datasets/mnist and "
                                                                 "datasets/handwritten-symbols (default: "
                                                                 "$HDR_EXPR_SHARED or ../shared)."),
    force: bool = typer.Option(False, "--force", help="Overwrite a model already in --out."),
) -> None:
    """Train the segmentation verifier: is a proposed crop exactly one symbol?

    Its data are the segmenter's own proposals (crops, pieces of splits, merged runs) on lines composed from
    training material (MNIST train digits, the real sets' train splits, the synthesizer), labelled from where
    each symbol's ink lies. Install the result with `HDR_EXPR_VERIFIER=DIR` or by copying it to models/verifier.
    """
    from hdr_expr.models.verifier import train_verifier

    _check_out(out, force)
    _quiet_tensorflow()
    card = train_verifier(out, lines=lines, epochs=epochs, batch_size=batch_size, learning_rate=lr, seed=seed,
                          rendered=rendered, workers=workers, shared=shared, log=_log)
    m = card.get("metrics", {})
    typer.echo(f"wrote {out} (model.tflite {_mb(out / 'model.tflite')})")
    typer.echo(f"validation accuracy {m.get('validation_accuracy', 0):.2%} (crops as segmented "
               f"{m.get('validation_accuracy_as_segmented', 0):.2%}, split pieces "
               f"{m.get('validation_accuracy_split_pieces', 0):.2%}, merged runs "
               f"{m.get('validation_accuracy_merged_runs', 0):.2%})")


@app.command("evaluate")
def evaluate_cmd(
    model: Optional[Path] = typer.Option(None, "--model", help="Model directory (default: the shipped model)."),
    data_dir: Optional[Path] = typer.Option(None, "--data-dir", help="Folder holding the MNIST IDX files."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
    plots: Optional[Path] = typer.Option(None, "--plots",
                                         help="Write confusion-matrix PNGs and the 5×5 prediction figure here."),
    real_data: List[Path] = typer.Option([], "--real-data",
                                         help="A real symbol set (folder per class or HASYv2); repeatable. "
                                              "Its fixed held-out split is measured."),
    synthetic: int = typer.Option(0, "--synthetic", min=0,
                                  help="Held-out synthetic symbols per class (other seeds, wider ranges)."),
    limit: Optional[int] = typer.Option(None, "--limit", min=1, help="Only the first N MNIST test images."),
    agreement: bool = typer.Option(True, "--agreement/--no-agreement",
                                   help="Also run the Keras model and report its agreement with LiteRT."),
    seed: int = typer.Option(0, "--seed", help="Which 25 test digits the figure shows."),
) -> None:
    """Measure a model: accuracy, per-class precision/recall/F1, confusion matrix, the paper's figure.

    MNIST test always; a symbol model also on each --real-data set's held-out split and --synthetic N per class.

    Without --model: the shipped default model.
    """
    from hdr_expr.models.evaluate import Scores, evaluate_model, format_confusion, format_scores

    if agreement:
        from hdr_expr.datasets.mnist import load_mnist
        from hdr_expr.models.card import load_model_dir

        load_mnist("test", data_dir)  # data and model errors before TensorFlow starts
        load_model_dir(model)
        _quiet_tensorflow()
    report = evaluate_model(
        model, data_dir=data_dir, real_data=real_data, synthetic=synthetic, plots=plots, limit=limit,
        agreement=agreement, seed=seed, log=_log if sys.stderr.isatty() and not as_json else lambda _m: None,
    )
    if as_json:
        typer.echo(json.dumps(report, ensure_ascii=False))
        return
    typer.echo(f"model: {report['model']} ({report.get('model_name')}, {len(report['classes'])} classes)")
    blocks = [report["mnist"], *(report.get("real") or {}).values()]
    if report.get("synthetic"):
        blocks.append(report["synthetic"])
    for block in blocks:
        s = Scores.from_dict(block)
        typer.echo("")
        typer.echo(format_scores(s))
        typer.echo("confusion matrix:")
        typer.echo(format_confusion(s))
    if "keras_tflite_agreement" in report:
        typer.echo("")
        typer.echo(f"Keras↔LiteRT agreement on MNIST test: {report['keras_tflite_agreement']:.4%} "
                   f"(Keras accuracy {report['keras_accuracy']:.4%})")
    for p in report.get("plots", []):
        typer.echo(f"wrote {p}")
