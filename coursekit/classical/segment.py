"""Foreground segmentation for a part on a plain fixture: difference from the board, Otsu, clean-up.

>>> import numpy as np, cv2
>>> img = np.full((64, 64, 3), 200, np.uint8); _ = cv2.circle(img, (32, 32), 15, (40, 40, 40), -1)
>>> seg = segment_part(img)
>>> int(seg.mask[32, 32]), int(seg.mask[2, 2]), 0 < seg.threshold < 160
(255, 0, True)
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

__all__ = ["Segmentation", "segment_part", "largest_contour", "filled_contour"]


@dataclass
class Segmentation:
    """What :func:`segment_part` made: the difference image, Otsu's threshold, the cleaned uint8 0/255 mask, the
    board colour it assumed."""

    difference: np.ndarray
    threshold: float
    mask: np.ndarray
    board_rgb: tuple


def segment_part(frame: np.ndarray, blur: int = 5, border: int = 4, close: int = 5) -> Segmentation:
    """Segment the part(s) in a checked uint8 RGB frame."""
    k = blur | 1
    smooth = cv2.GaussianBlur(frame, (k, k), 0) if blur > 1 else frame
    edge = np.concatenate([smooth[:border].reshape(-1, 3), smooth[-border:].reshape(-1, 3),
                           smooth[:, :border].reshape(-1, 3), smooth[:, -border:].reshape(-1, 3)])
    board = np.median(edge, axis=0)
    diff = np.linalg.norm(smooth.astype(np.float32) - board.astype(np.float32), axis=2)
    diff = np.clip(diff * (255.0 / max(float(diff.max()), 1.0)), 0, 255).astype(np.uint8)
    t, mask = cv2.threshold(diff, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    if close > 1:
        kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (close, close))
        mask = cv2.morphologyEx(cv2.morphologyEx(mask, cv2.MORPH_OPEN, kernel), cv2.MORPH_CLOSE, kernel)
    return Segmentation(diff, float(t), mask, tuple(float(v) for v in board))


def largest_contour(mask: np.ndarray):
    """The outer contour with the largest area (``None`` if the mask is empty)."""
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    return max(contours, key=cv2.contourArea) if contours else None


def filled_contour(like: np.ndarray, contour, value: int = 255) -> np.ndarray:
    """An image like ``like`` (zeros) with ``contour``'s outline filled with ``value``."""
    filled = np.zeros_like(like)
    cv2.drawContours(filled, [contour], -1, value, -1)
    return filled
