"""Is a crop exactly one symbol? The segmentation verifier.

The symbol classifier cannot tell: normalized to 28×28, the left half of a wide `3` reads as a sure `5`, and a
`3` touching a `=` reads as a sure `3`. The verifier is a small CNN trained on what the segmenter itself
proposes for composed lines of known symbols (whole crops, the pieces of its splits, runs of crops merged):
for each proposal it gives the probability that it is one whole symbol, neither a piece of one nor several.

It sees two 28×28 channels: the crop normalized as the classifier sees it (:func:`normalize_symbol`: cut
edges and squeezed pairs show there) and the crop at the scale of its line, placed where it sits relative to
the line's middle (:func:`line_view`: how wide and tall it is for this writing, how high it sits).
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

import cv2
import numpy as np

from hdr_expr.pipeline.normalize import normalize_symbol

#: In the line view, the line's reference symbol height is drawn this many pixels high (28 px hold 2.3 heights).
LINE_PX = 12.0
SIZE = 28
#: Classes of the verifier model, in its output order.
CLASSES = ("whole", "other")


def line_view(mask: np.ndarray, box: tuple[int, int, int, int], height: float, mid_y: float) -> np.ndarray:
    """The crop at its line's scale (the line's symbol height → LINE_PX), centred horizontally, placed
    vertically by its centre's offset from the line's middle; float32 28×28, clipped at the frame."""
    out = np.zeros((SIZE, SIZE), np.float32)
    h, w = mask.shape
    if h == 0 or w == 0:
        return out
    s = LINE_PX / max(float(height), 1.0)
    nh, nw = max(1, int(round(h * s))), max(1, int(round(w * s)))
    interp = cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR
    small = np.clip(cv2.resize(mask.astype(np.float32), (nw, nh), interpolation=interp), 0.0, 1.0)
    cy = SIZE / 2.0 + ((box[1] + box[3] / 2.0) - mid_y) * s
    top = int(round(cy - nh / 2.0))
    left = int(round(SIZE / 2.0 - nw / 2.0))
    y0, x0 = max(top, 0), max(left, 0)
    y1, x1 = min(top + nh, SIZE), min(left + nw, SIZE)
    if y1 > y0 and x1 > x0:
        out[y0:y1, x0:x1] = small[y0 - top : y1 - top, x0 - left : x1 - left]
    return out


def verifier_input(mask: np.ndarray, box: tuple[int, int, int, int], height: float, mid_y: float,
                   normalized: np.ndarray | None = None) -> np.ndarray:
    """The verifier's 28×28×2 input for one crop (``normalized``: its :func:`normalize_symbol`, if at hand)."""
    norm = normalize_symbol(mask) if normalized is None else normalized
    return np.stack([norm, line_view(mask, box, height, mid_y)], axis=-1)


def default_verifier_path() -> Path:
    """The verifier model directory that ships inside the package."""
    from hdr_expr.models.card import default_model_path

    return default_model_path().parent / "verifier"


class Verifier:
    """A verifier model directory's LiteRT model: ``p_whole(N×28×28×2) → N`` probabilities."""

    def __init__(self, path: str | Path | None = None, *, threads: int | None = None):
        from hdr_expr.pipeline.classify import Classifier

        self._model = Classifier(Path(path) if path is not None else default_verifier_path(), threads=threads)
        if tuple(self._model.classes) != CLASSES:
            from hdr_expr.errors import ModelError

            raise ModelError(f"{self._model.model_dir.path} is not a verifier model (classes {self._model.classes})")
        self.model_dir = self._model.model_dir

    def p_whole(self, batch: np.ndarray) -> np.ndarray:
        if len(batch) == 0:
            return np.zeros(0, np.float32)
        return self._model.predict(np.asarray(batch, np.float32))[:, 0]


#: Names another verifier model directory, or "none" to read without one (comparisons, other models).
VERIFIER_ENV = "HDR_EXPR_VERIFIER"


def load_verifier(path: str | None = None, threads: int | None = None) -> Verifier | None:
    """The process's verifier: ``path``, else $HDR_EXPR_VERIFIER, else the shipped one; None where that is
    "none" or no verifier model is installed."""
    if path is None:
        path = os.environ.get(VERIFIER_ENV) or None
        if path is not None and path.lower() in ("none", "off", "0"):
            return None
    return _load(path, threads)


@functools.lru_cache(maxsize=4)
def _load(path: str | None, threads: int | None) -> Verifier | None:
    p = Path(path) if path is not None else default_verifier_path()
    if not (p / "card.json").is_file():
        return None
    return Verifier(p, threads=threads)
