"""Is a crop exactly one symbol? The segmentation verifier.

The symbol classifier cannot tell: normalized to 28×28, the left half of a wide `3` reads as a sure `5`, and a
`3` touching a `=` reads as a sure `3`. The verifier is a small CNN trained on what the segmenter itself
proposes for composed lines of known symbols (whole crops, the pieces of its splits, runs of crops merged):
for each proposal it gives the probability that it is one whole symbol, neither a piece of one nor several.

It sees two 28×28 channels: the crop normalized as the classifier sees it (:func:`normalize_symbol`: cut
edges and squeezed pairs show there) and the crop at the scale of its line, placed where it sits relative to
the line's middle (:func:`line_view`: how wide and tall it is for this writing, how high it sits). Models
with three input channels also see the crop's surroundings (:func:`context_view`): the other ink of the page
in the same frame, so that a piece cut from a stroke that goes on, or a dot beside a digit, shows as such.
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


def context_view(ink: np.ndarray, mask: np.ndarray, box: tuple[int, int, int, int], height: float,
                 mid_y: float) -> np.ndarray:
    """The ink around a crop, less the crop's own, in :func:`line_view`'s frame (same scale and place): what
    lies beside and above or below it within about a line height. ``ink`` is the page's kept ink (boolean,
    page coordinates); float32 28×28."""
    out = np.zeros((SIZE, SIZE), np.float32)
    h, w = mask.shape
    if h == 0 or w == 0:
        return out
    s = LINE_PX / max(float(height), 1.0)
    nh, nw = max(1, int(round(h * s))), max(1, int(round(w * s)))
    top = int(round(SIZE / 2.0 + ((box[1] + box[3] / 2.0) - mid_y) * s - nh / 2.0))
    left = int(round(SIZE / 2.0 - nw / 2.0))
    # The page window that the frame shows, at the line's scale, the crop's centre where line_view puts it.
    x0 = int(round(box[0] + w / 2.0 - (left + nw / 2.0) / s))
    y0 = int(round(box[1] + h / 2.0 - (top + nh / 2.0) / s))
    ww = wh = max(1, int(round(SIZE / s)))
    window = np.zeros((wh, ww), np.uint8)
    H, W = ink.shape
    a, b = max(y0, 0), min(y0 + wh, H)
    c, d = max(x0, 0), min(x0 + ww, W)
    if b > a and d > c:
        window[a - y0 : b - y0, c - x0 : d - x0] = ink[a:b, c:d]
    # Less the crop's own ink.
    oy, ox = box[1] - y0, box[0] - x0
    ya, yb = max(oy, 0), min(oy + h, wh)
    xa, xb = max(ox, 0), min(ox + w, ww)
    if yb > ya and xb > xa:
        own = mask[ya - oy : yb - oy, xa - ox : xb - ox]
        window[ya:yb, xa:xb][own] = 0
    if not window.any():
        return out
    return np.clip(cv2.resize(window.astype(np.float32), (SIZE, SIZE), interpolation=cv2.INTER_AREA), 0.0, 1.0)


def page_ink(shape: tuple[int, int], lines) -> np.ndarray:
    """The ink the segmenter kept on a page (every line's symbol crops), boolean in page coordinates: the
    surroundings :func:`context_view` shows (specks and texture the segmenter dropped are not in it)."""
    ink = np.zeros(shape[:2], bool)
    for line in lines:
        for sym in line.symbols:
            x, y, w, h = sym.box
            ink[y : y + h, x : x + w] |= sym.mask
    return ink


def verifier_input(mask: np.ndarray, box: tuple[int, int, int, int], height: float, mid_y: float,
                   normalized: np.ndarray | None = None, ink: np.ndarray | None = None) -> np.ndarray:
    """The verifier's input for one crop: 28×28×2 (the crop normalized, :func:`line_view`), and with the
    page's kept ``ink`` a third channel, :func:`context_view` (``normalized``: the crop's
    :func:`normalize_symbol`, if at hand)."""
    norm = normalize_symbol(mask) if normalized is None else normalized
    views = [norm, line_view(mask, box, height, mid_y)]
    if ink is not None:
        views.append(context_view(ink, mask, box, height, mid_y))
    return np.stack(views, axis=-1)


def default_verifier_path() -> Path:
    """The verifier model directory that ships inside the package."""
    from hdr_expr.models.card import default_model_path

    return default_model_path().parent / "verifier"


class Verifier:
    """A verifier model directory's LiteRT model: ``p_whole(N×28×28×C) → N`` probabilities. ``channels`` is
    how many input channels the model reads (2, or 3 with the context view); wider inputs are cut to it."""

    def __init__(self, path: str | Path | None = None, *, threads: int | None = None):
        from hdr_expr.pipeline.classify import Classifier

        self._model = Classifier(Path(path) if path is not None else default_verifier_path(), threads=threads)
        if tuple(self._model.classes) != CLASSES:
            from hdr_expr.errors import ModelError

            raise ModelError(f"{self._model.model_dir.path} is not a verifier model (classes {self._model.classes})")
        self.model_dir = self._model.model_dir
        self.channels = int(self._model._sample_shape[-1]) if len(self._model._sample_shape) == 3 else 1

    def p_whole(self, batch: np.ndarray) -> np.ndarray:
        if len(batch) == 0:
            return np.zeros(0, np.float32)
        return self._model.predict(np.asarray(batch[..., : self.channels], np.float32))[:, 0]


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
