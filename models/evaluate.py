"""Measuring a model directory: accuracy, per-class precision/recall/F1, confusion matrices, the Keras↔LiteRT
agreement, and the figures (a confusion-matrix PNG, the paper's 5×5 grid of test digits with predictions).

Predictions come from the LiteRT file (fast, and what recognition runs); the Keras model is loaded only to
measure how often the two agree. A digit model is measured on the MNIST test set; a symbol model on MNIST too,
argmax over *all* its classes (a digit read as an operator is an error), and on each real set's fixed held-out
split and a held-out synthetic set when given. TensorFlow is imported only inside :func:`predict_keras`.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from hdr_expr.errors import ModelError
from hdr_expr.models.card import ModelDir, load_model_dir

Log = Callable[[str], None]


def _stderr(message: str) -> None:
    print(message, file=sys.stderr)


# --- metrics ------------------------------------------------------------------------------------------------


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    """``C[i, j]`` = how many images of class ``i`` were predicted as class ``j`` (int64, num_classes²)."""
    y_true = np.asarray(y_true, np.int64)
    y_pred = np.asarray(y_pred, np.int64)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"{len(y_true)} labels but {len(y_pred)} predictions")
    if len(y_true) and (min(y_true.min(), y_pred.min()) < 0 or max(y_true.max(), y_pred.max()) >= num_classes):
        raise ValueError(f"class index outside 0..{num_classes - 1}")
    return np.bincount(y_true * num_classes + y_pred, minlength=num_classes**2).reshape(num_classes, num_classes)


@dataclass(frozen=True)
class ClassScore:
    """One class's scores; None where undefined (no image of the class, or none predicted as it)."""

    name: str
    precision: float | None
    recall: float | None
    f1: float | None
    support: int  # images of this class
    predicted: int  # images predicted as this class

    def to_dict(self) -> dict[str, Any]:
        r = lambda v: None if v is None else round(v, 5)  # noqa: E731
        return {"precision": r(self.precision), "recall": r(self.recall), "f1": r(self.f1),
                "support": self.support, "predicted": self.predicted}


@dataclass(frozen=True)
class Scores:
    """The measurements of one model on one labelled set."""

    name: str
    classes: tuple[str, ...]
    confusion: np.ndarray  # rows: true class, columns: predicted class

    @property
    def images(self) -> int:
        return int(self.confusion.sum())

    @property
    def correct(self) -> int:
        return int(np.trace(self.confusion))

    @property
    def accuracy(self) -> float:
        return self.correct / self.images if self.images else float("nan")

    @property
    def per_class(self) -> tuple[ClassScore, ...]:
        c = self.confusion
        tp, support, predicted = np.diag(c), c.sum(1), c.sum(0)
        out = []
        for i, name in enumerate(self.classes):
            p = tp[i] / predicted[i] if predicted[i] else None
            r = tp[i] / support[i] if support[i] else None
            f = (2 * p * r / (p + r) if p + r else 0.0) if p is not None and r is not None else None
            out.append(ClassScore(name, None if p is None else float(p), None if r is None else float(r),
                                  None if f is None else float(f), int(support[i]), int(predicted[i])))
        return tuple(out)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "images": self.images,
            "accuracy": round(self.accuracy, 5) if self.images else None,
            "per_class": {s.name: s.to_dict() for s in self.per_class},
            "confusion_matrix": {"classes": list(self.classes), "rows": "true class", "columns": "predicted class",
                                 "counts": self.confusion.tolist()},
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Scores:
        """The inverse of :meth:`to_dict` (the report is the one source the CLI prints from)."""
        cm = d["confusion_matrix"]
        return cls(d.get("name", ""), tuple(cm["classes"]), np.asarray(cm["counts"], np.int64))


def score(y_true: np.ndarray, y_pred: np.ndarray, classes: Sequence[str], name: str = "") -> Scores:
    """Scores of predictions ``y_pred`` against labels ``y_true`` (both indices into ``classes``)."""
    return Scores(name, tuple(classes), confusion_matrix(y_true, y_pred, len(classes)))


def _shown(scores: Scores) -> list[int]:
    """Classes worth a row: those with images or predictions (a symbol model on MNIST shows the digits and
    whatever operators it wrongly predicted)."""
    c = scores.confusion
    return [i for i in range(len(scores.classes)) if c[i].sum() or c[:, i].sum()]


def format_scores(scores: Scores) -> str:
    """The per-class table as text."""
    fmt = lambda v: "    -" if v is None else f"{v:.3f}"  # noqa: E731
    lines = [f"{scores.name}: accuracy {scores.accuracy:.4%} ({scores.correct}/{scores.images})",
             f"  {'class':>5}  {'precision':>9}  {'recall':>6}  {'f1':>5}  {'support':>7}"]
    per = scores.per_class
    for i in _shown(scores):
        s = per[i]
        lines.append(f"  {s.name:>5}  {fmt(s.precision):>9}  {fmt(s.recall):>6}  {fmt(s.f1):>5}  {s.support:>7}")
    return "\n".join(lines)


def format_confusion(scores: Scores) -> str:
    """The confusion matrix as a text table (rows true, columns predicted; classes without images or
    predictions left out)."""
    keep = _shown(scores)
    c = scores.confusion[np.ix_(keep, keep)]
    width = max(4, len(str(c.max(initial=0))) + 1)
    head = "true\\pred".rjust(9) + "".join(scores.classes[i].rjust(width) for i in keep)
    rows = [scores.classes[i].rjust(9) + "".join(str(v).rjust(width) for v in c[r]) for r, i in enumerate(keep)]
    return "\n".join([head, *rows])


# --- predictions --------------------------------------------------------------------------------------------


def as_float_images(x: np.ndarray) -> np.ndarray:
    """uint8 0–255 or float images → float32 N×28×28 in [0, 1], ink bright (the models' input)."""
    x = np.asarray(x)
    x = x.astype(np.float32) / 255.0 if x.dtype == np.uint8 else x.astype(np.float32)
    return x.reshape(-1, 28, 28)


def predict_tflite(model: ModelDir, x: np.ndarray, *, batch: int = 1000) -> np.ndarray:
    """Probabilities (N×classes) from the model directory's LiteRT file."""
    from hdr_expr.pipeline.classify import Classifier

    clf = Classifier(model)
    x = as_float_images(x)
    parts = [clf.predict(x[i : i + batch]) for i in range(0, len(x), batch)]
    return np.concatenate(parts) if parts else np.zeros((0, len(model.classes)), np.float32)


def predict_keras(model: ModelDir, x: np.ndarray, *, batch: int = 1000) -> np.ndarray:
    """Probabilities (N×classes) from the model directory's Keras model (imports TensorFlow)."""
    import keras

    try:
        net = keras.saving.load_model(model.keras_path, compile=False)
    except (OSError, ValueError) as exc:
        raise ModelError(f"cannot load {model.keras_path}: {exc}") from None
    return np.asarray(net.predict(as_float_images(x)[..., None], batch_size=batch, verbose=0))


def class_indices(model: ModelDir, labels: Sequence[str]) -> np.ndarray:
    """Label characters → column indices of the model (-1 where the model has no such class)."""
    index = {c: i for i, c in enumerate(model.classes)}
    return np.array([index.get(c, -1) for c in labels], np.int64)


# --- figures ------------------------------------------------------------------------------------------------

_FONT_CANDIDATES = ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf", "LiberationSans-Regular.ttf", "Arial.ttf")
_FALLBACK_CHARS = {"×": "x", "÷": ":"}


def _font(size: int):
    """A TrueType font with × and ÷ where one is installed, else Pillow's default (whose labels we
    transliterate). Returns (font, unicode_ok)."""
    from PIL import ImageFont

    for name in _FONT_CANDIDATES:
        try:
            return ImageFont.truetype(name, size), True
        except OSError:
            continue
    return ImageFont.load_default(size=size), False


def _label(text: str, unicode_ok: bool) -> str:
    return text if unicode_ok else "".join(_FALLBACK_CHARS.get(ch, ch) for ch in text)


def prediction_grid_png(
    images: np.ndarray,
    predicted: Sequence[str],
    correct: Sequence[bool],
    path: str | Path,
    *,
    cell: int = 112,
    title: str = "",
) -> Path:
    """The paper's figure: images (up to 25, ink bright) in a 5×5 grid, each with the predicted class in its
    upper-left corner (green when right, red when wrong)."""
    from PIL import Image, ImageDraw

    imgs = as_float_images(images)[:25]
    cols, gap, top = 5, 4, 28 if title else 0
    rows = int(np.ceil(len(imgs) / cols)) or 1
    canvas = Image.new("RGB", (cols * cell + (cols + 1) * gap, top + rows * cell + (rows + 1) * gap), "white")
    draw = ImageDraw.Draw(canvas)
    font, unicode_ok = _font(cell // 4)
    small, _ = _font(14)
    if title:
        draw.text((gap, 6), _label(title, unicode_ok), fill="black", font=small)
    for k, img in enumerate(imgs):
        r, c = divmod(k, cols)
        x0, y0 = gap + c * (cell + gap), top + gap + r * (cell + gap)
        tile = Image.fromarray(np.round(np.clip(img, 0, 1) * 255).astype(np.uint8), "L")
        canvas.paste(tile.resize((cell, cell), Image.NEAREST).convert("RGB"), (x0, y0))
        text = _label(predicted[k], unicode_ok)
        box = draw.textbbox((x0 + 3, y0 + 1), text, font=font)
        draw.rectangle((x0, y0, box[2] + 3, box[3] + 3), fill=(255, 255, 255))
        draw.text((x0 + 3, y0 + 1), text, fill=(0, 140, 0) if correct[k] else (210, 0, 0), font=font)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(out)
    return out


def confusion_png(scores: Scores, path: str | Path, *, cell: int = 34) -> Path:
    """The confusion matrix as an image: each row shaded by the share of that class's images, counts written
    in the cells (rows true, columns predicted)."""
    from PIL import Image, ImageDraw

    keep = _shown(scores) or list(range(len(scores.classes)))
    c = scores.confusion[np.ix_(keep, keep)]
    names = [scores.classes[i] for i in keep]
    n = len(keep)
    font, unicode_ok = _font(max(9, cell // 3))
    label_font, _ = _font(14)
    margin_l, margin_t = 60, 70
    w, h = margin_l + n * cell + 10, margin_t + n * cell + 10
    canvas = Image.new("RGB", (w, h), "white")
    draw = ImageDraw.Draw(canvas)
    draw.text((4, 4), _label(f"{scores.name}: accuracy {scores.accuracy:.4%} ({scores.images} images)",
                             unicode_ok), fill="black", font=label_font)
    draw.text((margin_l, 26), "predicted →", fill="black", font=label_font)
    draw.text((4, margin_t - 18), "true ↓" if unicode_ok else "true", fill="black", font=label_font)
    share = c / np.maximum(c.sum(1, keepdims=True), 1)
    for i in range(n):
        draw.text((margin_l + i * cell + cell // 3, margin_t - 22), _label(names[i], unicode_ok), fill="black",
                  font=font)
        draw.text((margin_l - 24, margin_t + i * cell + cell // 4), _label(names[i], unicode_ok), fill="black",
                  font=font)
        for j in range(n):
            x0, y0 = margin_l + j * cell, margin_t + i * cell
            v = float(share[i, j])
            shade = (int(255 - 225 * v), int(255 - 160 * v), 255) if i == j else (255, int(255 - 220 * v),
                                                                                   int(255 - 220 * v))
            draw.rectangle((x0, y0, x0 + cell - 1, y0 + cell - 1), fill=shade, outline=(200, 200, 200))
            if c[i, j]:
                text = str(int(c[i, j]))
                tw = draw.textlength(text, font=font)
                draw.text((x0 + (cell - tw) / 2, y0 + cell // 4), text, fill="white" if v > 0.6 else "black",
                          font=font)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    canvas.save(out)
    return out


def _slug(name: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_" else "-" for ch in name.lower()).strip("-") or "set"


# --- the whole evaluation -----------------------------------------------------------------------------------


def evaluate_set(
    model: ModelDir, x: np.ndarray, labels: Sequence[str], name: str
) -> tuple[Scores, np.ndarray, int]:
    """Score the LiteRT model on images ``x`` labelled with class characters; images whose class the model
    does not have are left out. Returns (scores, predicted indices of the kept images, how many left out)."""
    idx = class_indices(model, labels)
    keep = idx >= 0
    probs = predict_tflite(model, np.asarray(x)[keep])
    pred = probs.argmax(1) if len(probs) else np.zeros(0, np.int64)
    return score(idx[keep], pred, model.classes, name), pred, int((~keep).sum())


def evaluate_model(
    model: str | Path | None = None,
    *,
    data_dir: str | Path | None = None,
    real_data: Sequence[str | Path] = (),
    synthetic: int = 0,
    plots: str | Path | None = None,
    limit: int | None = None,
    agreement: bool = True,
    seed: int = 0,
    log: Log = _stderr,
) -> dict[str, Any]:
    """Measure a model directory (default: the shipped model) and return the report as a JSON-ready dict.

    MNIST test (the first ``limit`` images when given) is always measured; ``real_data`` folders (either
    layout) are measured on their fixed held-out split (:func:`hdr_expr.datasets.mix.eval_real`);
    ``synthetic`` > 0 draws that many held-out synthetic symbols per class (another seed and wider ranges than
    any training mix: :func:`hdr_expr.datasets.mix.eval_synth`). Images of classes the model lacks are left
    out and counted. ``plots`` (a folder) receives a confusion-matrix PNG per set and the paper's 5×5 figure
    (``mnist_predictions.png``, 25 test digits drawn with ``seed``). ``agreement`` also runs the Keras model on
    MNIST and reports how often it agrees with LiteRT.
    """
    from hdr_expr.datasets.mnist import load_mnist

    x_test, y_test = load_mnist("test", data_dir)
    md = load_model_dir(model)
    missing = [d for d in "0123456789" if d not in md.classes]
    if missing:
        raise ModelError(f"{md.path}: the model has no class for digit(s) {', '.join(missing)}")
    if limit:
        x_test, y_test = x_test[:limit], y_test[:limit]
    digit_labels = [str(int(v)) for v in y_test]
    mnist, mnist_pred, _ = evaluate_set(md, x_test, digit_labels, "MNIST test")
    log(f"MNIST test: {mnist.accuracy:.4%} of {mnist.images} images (LiteRT)")
    report: dict[str, Any] = {
        "model": str(md.path),
        "model_name": md.card.get("name"),
        "task": md.card.get("task"),
        "classes": list(md.classes),
        "engine": "litert",
        "accuracy": round(mnist.accuracy, 5),
        "mnist": mnist.to_dict(),
    }
    if agreement:
        keras_pred = predict_keras(md, x_test).argmax(1)
        truth = class_indices(md, digit_labels)
        report["keras_accuracy"] = round(float((keras_pred == truth).mean()), 5)
        report["keras_tflite_agreement"] = round(float((keras_pred == mnist_pred).mean()), 5)
        log(f"Keras↔LiteRT agreement on MNIST test: {report['keras_tflite_agreement']:.4%}")
    sets = [mnist]
    if real_data or synthetic > 0:
        from hdr_expr.datasets import mix as mixes
        from hdr_expr.symbols import SYMBOL_CLASSES

        evals = []
        for folder in real_data:
            log(f"reading {folder} (normalized images are cached after the first time)")
            evals.append(mixes.eval_real(folder))
        if synthetic > 0:
            evals.append(mixes.eval_synth(synthetic))
        for e in evals:
            s, _, left_out = evaluate_set(md, e.x, [SYMBOL_CLASSES[int(i)] for i in e.y], e.name)
            block = {**s.to_dict(), "source": e.source.to_dict(), "left_out": left_out}
            if e.source.kind == "synthetic":
                report["synthetic"] = block
            else:
                report.setdefault("real", {})[e.source.name] = block
            log(f"{e.name}: {s.accuracy:.4%} of {s.images} images")
            sets.append(s)
    if plots is not None:
        out = Path(plots)
        written = [str(confusion_png(s, out / f"confusion_{_slug(s.name)}.png")) for s in sets]
        rng = np.random.default_rng(seed)
        pick = rng.choice(len(x_test), size=min(25, len(x_test)), replace=False)
        truth = class_indices(md, digit_labels)
        written.append(str(prediction_grid_png(
            x_test[pick], [md.classes[int(p)] for p in mnist_pred[pick]],
            [bool(mnist_pred[i] == truth[i]) for i in pick], out / "mnist_predictions.png",
            title=f"{md.card.get('name', md.path.name)}: predictions on 25 MNIST test digits (seed {seed})",
        )))
        report["plots"] = written
    return report
