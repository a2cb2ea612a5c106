"""Tiny-data classification by template matching on normalised silhouettes.

>>> import numpy as np, cv2
>>> def shape(kind, angle):
...     img = np.full((96, 96, 3), 215, np.uint8)
...     if kind == "ring":
...         _ = cv2.circle(img, (48, 48), 30, (50, 50, 50), -1); _ = cv2.circle(img, (48, 48), 12, (215, 215, 215), -1)
...     else:
...         _ = cv2.rectangle(img, (18, 33), (78, 63), (50, 50, 50), -1)
...     return cv2.warpAffine(img, cv2.getRotationMatrix2D((48, 48), angle, 1.0), (96, 96), borderValue=(215, 215, 215))
>>> clf = TemplateClassifier().fit([shape("ring", 0), shape("bar", 0)], [0, 1], ["ring", "bar"])
>>> clf.predict([shape("bar", 65), shape("ring", 140)]).names
['bar', 'ring']
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from .base import ReferenceClassifier
from .frames import is_blank
from .geometry import moments_angle
from .segment import filled_contour, largest_contour, segment_part

__all__ = ["TemplateClassifier", "silhouette_template"]


def silhouette_template(mask: np.ndarray, contour, size: int = 32) -> np.ndarray | None:
    """The part's mask (holes included) turned to its principal axis, cropped, resized to ``size``^2 float32."""
    filled = filled_contour(mask, contour)
    part = cv2.bitwise_and(mask, filled)
    angle = moments_angle(filled > 0)
    m = cv2.moments(filled, binaryImage=True)
    if m["m00"] == 0:
        return None
    c = (m["m10"] / m["m00"], m["m01"] / m["m00"])
    side = int(2 * math.ceil(np.hypot(*part.shape)))
    rot = cv2.getRotationMatrix2D(c, -angle, 1.0)  # OpenCV's positive angle is counter-clockwise on screen
    rot[:, 2] += (side / 2 - c[0], side / 2 - c[1])
    up = cv2.warpAffine(part, rot, (side, side), flags=cv2.INTER_LINEAR)
    ys, xs = np.nonzero(up > 127)
    if len(xs) == 0:
        return None
    crop = up[ys.min(): ys.max() + 1, xs.min(): xs.max() + 1]
    h, w = crop.shape
    s = max(h, w)
    sq = np.zeros((s, s), np.uint8)
    sq[(s - h) // 2:(s - h) // 2 + h, (s - w) // 2:(s - w) // 2 + w] = crop  # keep the aspect ratio
    return cv2.resize(sq, (size, size), interpolation=cv2.INTER_AREA).astype(np.float32) / 255.0


@dataclass
class TemplateClassifier(ReferenceClassifier):
    """Nearest references by silhouette-template correlation; returns :class:`Classifications`."""

    size: int = 32
    top_k: int = 3
    temperature: float = 0.05
    blur: int = 3
    close: int = 3
    UNUSABLE = "no part segmented in any reference of class(es)"

    def _template(self, frame):
        if is_blank(frame):
            return None, None
        seg = segment_part(frame, blur=self.blur, close=self.close)
        contour = largest_contour(seg.mask)
        if contour is None or cv2.contourArea(contour) < 0.01 * frame.shape[0] * frame.shape[1]:
            return None, seg
        return silhouette_template(seg.mask, contour, self.size), seg

    def _reference(self, frame):
        t = self._template(frame)[0]
        return None if t is None else (t,)

    def _predict_one(self, frame, stages):
        self._require_fitted()
        t, seg = self._template(frame)
        if stages is not None and seg is not None:
            stages.add("mask", seg.mask, f"Otsu t={seg.threshold:.0f}")
        if t is None:
            return self._give_up(frame, stages, "blank frame or no part segmented: uniform probabilities, no decision")
        flips = [np.ascontiguousarray(f) for f in (t, t[::-1], t[:, ::-1], t[::-1, ::-1])]

        def correlation(ref):  # the best over the four flips that the principal axis leaves open
            return max(float(cv2.matchTemplate(f, ref[1], cv2.TM_CCOEFF_NORMED)[0, 0]) for f in flips), None

        s, pred, (r, (y, ref), _) = self._score_references(correlation)
        if stages is not None:
            stages.add("template", (t * 255).astype(np.uint8), "turned to its principal axis")
            stages.add("best reference", (ref * 255).astype(np.uint8), f"'{self.class_names[y]}', r={r:.2f}")
            stages.values.update(class_scores=dict(zip(self.class_names, s.round(3).tolist())))
        return pred, stages
