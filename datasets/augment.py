"""Augmentation of 28×28 symbol images (ink bright, float in [0, 1]): affine (rotation, scale, shear, shift),
elastic distortion (Simard et al. 2003) and stroke thickness, so that hands unlike MNIST's are read.
Plain numpy + OpenCV, seeded by the caller's Generator."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class AugmentRanges:
    rotation_deg: float = 12.0
    scale: tuple[float, float] = (0.85, 1.12)
    shear: float = 0.25
    shift_px: float = 2.5
    elastic_alpha: float = 6.0  # displacement magnitude (px) before smoothing normalisation
    elastic_sigma: float = 4.0
    elastic_prob: float = 0.5
    stroke_prob: float = 0.35  # chance of thickening or thinning the strokes


DEFAULT = AugmentRanges()


def _affine_matrix(rng: np.random.Generator, r: AugmentRanges, size: int) -> np.ndarray:
    angle = np.deg2rad(rng.uniform(-r.rotation_deg, r.rotation_deg))
    scale = rng.uniform(*r.scale)
    shear = rng.uniform(-r.shear, r.shear)
    c, s = np.cos(angle), np.sin(angle)
    linear = scale * np.array([[c, -s], [s, c]]) @ np.array([[1.0, shear], [0.0, 1.0]])
    centre = np.array([size / 2 - 0.5, size / 2 - 0.5])
    shift = rng.uniform(-r.shift_px, r.shift_px, size=2)
    offset = centre - linear @ centre + shift
    return np.hstack([linear, offset[:, None]]).astype(np.float32)


def _elastic(img: np.ndarray, rng: np.random.Generator, alpha: float, sigma: float) -> np.ndarray:
    h, w = img.shape
    dx = cv2.GaussianBlur(rng.uniform(-1, 1, (h, w)).astype(np.float32), (0, 0), sigma)
    dy = cv2.GaussianBlur(rng.uniform(-1, 1, (h, w)).astype(np.float32), (0, 0), sigma)
    norm = max(np.abs(dx).max(), np.abs(dy).max(), 1e-6)
    dx, dy = dx / norm * alpha * rng.uniform(0.3, 1.0), dy / norm * alpha * rng.uniform(0.3, 1.0)
    gx, gy = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    return cv2.remap(img, gx + dx, gy + dy, cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)


_KERNEL = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2, 2))


def augment_image(img: np.ndarray, rng: np.random.Generator, ranges: AugmentRanges = DEFAULT) -> np.ndarray:
    """One augmented copy of a float32 ink-bright square image."""
    size = img.shape[0]
    out = cv2.warpAffine(img, _affine_matrix(rng, ranges, size), (size, size), flags=cv2.INTER_LINEAR,
                         borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    if rng.random() < ranges.elastic_prob:
        out = _elastic(out, rng, ranges.elastic_alpha, ranges.elastic_sigma)
    if rng.random() < ranges.stroke_prob:
        if rng.random() < 0.5:
            out = cv2.dilate(out, _KERNEL)
        else:
            out = cv2.erode(out, _KERNEL) if out.sum() > 40 else out
    return np.clip(out, 0.0, 1.0)


def augment_batch(x: np.ndarray, rng: np.random.Generator, ranges: AugmentRanges = DEFAULT) -> np.ndarray:
    """Augment every image of an N×H×W float array (a fresh draw for each)."""
    return np.stack([augment_image(img, rng, ranges) for img in x.astype(np.float32)])
