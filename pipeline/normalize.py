"""The one MNIST-style 28×28 normalization.

MNIST was made by fitting each digit into a 20×20 box (aspect ratio kept, anti-aliased) and placing it in a
28×28 frame so that its centre of mass sits at the centre. Every symbol the model sees goes through
:func:`normalize_symbol`: segmented symbols in the pipeline, real data sets in the importers and the stroke
synthesizer's drawings alike, so that training and recognition see the same thing. Stroke width is brought into
MNIST's range (measured on the MNIST test set: median 2.25 px, 5–95% 1.5–3.5 px, by 2·area/perimeter).
"""

from __future__ import annotations

import cv2
import numpy as np

#: Recorded in model cards; bump it when the function's output changes.
NORMALIZATION_VERSION = "mnist-20in28-com-stroke-v2"

FIT = 20
SIZE = 28
#: Target stroke width band (px at 28×28 scale); widths outside it are dilated or eroded into it.
STROKE_BAND = (1.9, 2.7)
#: Thinning must leave a symbol this share of its height and width (it may only take strokes' edges off).
ERODED_EXTENT = 0.85


def ink_from_gray(gray: np.ndarray) -> np.ndarray:
    """Grey or colour image → float32 ink image in [0, 1] with ink bright, polarity detected.

    The background is taken to be what most of the border is: dark borders mean light ink on a dark ground.
    """
    img = np.asarray(gray)
    if img.ndim == 3:
        if img.shape[2] == 4:  # RGBA: lay on white
            alpha = img[..., 3:4].astype(np.float32) / 255.0
            img = (img[..., :3].astype(np.float32) * alpha + 255.0 * (1 - alpha)).astype(np.uint8)
        img = cv2.cvtColor(img[..., :3].astype(np.uint8), cv2.COLOR_RGB2GRAY)
    img = img.astype(np.float32)
    if img.size == 0:
        return img
    if img.max() > 1.0:
        img /= 255.0
    border = np.concatenate([img[0], img[-1], img[:, 0], img[:, -1]])
    if np.median(border) > 0.5:  # light background, dark ink
        img = 1.0 - img
    return np.clip(img, 0.0, 1.0)


def ink_mask(ink: np.ndarray) -> np.ndarray:
    """Ink-bright image (bool, uint8 or float) → boolean mask; Otsu's threshold for grey input."""
    arr = np.asarray(ink)
    if arr.dtype == bool:
        return arr
    arr = arr.astype(np.float32)
    if arr.size == 0 or arr.max() <= 0:
        return np.zeros(arr.shape, bool)
    u8 = np.clip(arr / arr.max() * 255.0, 0, 255).astype(np.uint8)
    values = np.unique(u8)
    if len(values) <= 2:
        return u8 > 0
    thr, _ = cv2.threshold(u8, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    return u8 > thr


def crop_to_ink(mask: np.ndarray) -> np.ndarray:
    """The tight bounding box of the ink (an empty array where there is none)."""
    ys, xs = np.nonzero(mask)
    if len(ys) == 0:
        return mask[:0, :0]
    return mask[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]


def stroke_width(mask: np.ndarray) -> float:
    """Mean stroke width in pixels, estimated as 2·area / perimeter (a stroke of length L and width w has
    area L·w and perimeter about 2L)."""
    u8 = mask.astype(np.uint8)
    area = float(u8.sum())
    if area == 0:
        return 0.0
    contours, _ = cv2.findContours(u8, cv2.RETR_LIST, cv2.CHAIN_APPROX_NONE)
    perimeter = sum(cv2.arcLength(c, True) for c in contours)
    return 2.0 * area / max(perimeter, 1.0)


def _disk(radius: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


def _adjust_stroke(mask: np.ndarray, band: tuple[float, float], fit: int) -> np.ndarray:
    """Dilate or erode a cropped mask so that its stroke width, once scaled into the fit box, falls in band."""
    h, w = mask.shape
    scale = fit / max(h, w)
    width = stroke_width(mask)
    if width <= 0:
        return mask
    lo, hi = band
    target = 0.5 * (lo + hi)
    if width * scale < lo:
        radius = int(round((target / scale - width) / 2.0))
        if radius >= 1:
            padded = np.pad(mask.astype(np.uint8), radius)
            return crop_to_ink(cv2.dilate(padded, _disk(radius)) > 0)
    elif width * scale > hi:
        radius = int(round((width - target / scale) / 2.0))
        if radius >= 1:
            eroded = cv2.erode(np.pad(mask.astype(np.uint8), 1), _disk(radius)) > 0
            # Erosion must thin strokes, not delete parts: keep it only if every part survives.
            n_before = cv2.connectedComponents(mask.astype(np.uint8))[0]
            n_after = cv2.connectedComponents(eroded.astype(np.uint8))[0]
            kept = crop_to_ink(eroded)
            # ... nor shorten them: a thin stem on a filled bowl (a 6 in marker) vanishes whole. (Erosion takes
            # `radius` px off each side, and a pixel more where a small round mark's edge is stepped.)
            spans = all(k + 2 * radius + 1 >= ERODED_EXTENT * n for k, n in zip(kept.shape, (h, w)))
            if eroded.sum() >= 0.2 * mask.sum() and n_after >= n_before and spans:
                return kept
    return mask


def normalize_symbol(
    ink: np.ndarray,
    *,
    fit: int = FIT,
    size: int = SIZE,
    stroke_band: tuple[float, float] | None = STROKE_BAND,
) -> np.ndarray:
    """Any-size ink image (ink bright; bool, uint8 or float) → float32 ``size×size`` in [0, 1], MNIST-style.

    The ink is cropped, its stroke width brought into ``stroke_band`` (px at the output scale; ``None`` keeps it),
    scaled to fit ``fit×fit`` with its aspect ratio kept (area interpolation when shrinking, so edges are
    anti-aliased), and placed so that its centre of mass is at the centre of the frame.
    """
    mask = crop_to_ink(ink_mask(ink))
    out = np.zeros((size, size), np.float32)
    if mask.size == 0:
        return out
    if stroke_band is not None:
        mask = _adjust_stroke(mask, stroke_band, fit)
    h, w = mask.shape
    scale = fit / max(h, w)
    nh, nw = max(1, int(round(h * scale))), max(1, int(round(w * scale)))
    src = mask.astype(np.float32)
    interp = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    small = np.clip(cv2.resize(src, (nw, nh), interpolation=interp), 0.0, 1.0)
    total = small.sum()
    if total <= 0:
        return out
    ys, xs = np.indices(small.shape)
    cy, cx = (ys * small).sum() / total, (xs * small).sum() / total
    top = int(round(size / 2 - cy))
    left = int(round(size / 2 - cx))
    # Keep the whole symbol in the frame even where its centre of mass is far off its box's centre.
    top = min(max(top, 0), size - nh)
    left = min(max(left, 0), size - nw)
    out[top : top + nh, left : left + nw] = small
    return out


def normalize_batch(inks: list[np.ndarray], **kwargs) -> np.ndarray:
    """Normalize many symbols → float32 array N×28×28."""
    size = kwargs.get("size", SIZE)
    if not inks:
        return np.zeros((0, size, size), np.float32)
    return np.stack([normalize_symbol(i, **kwargs) for i in inks])
