"""Geometry: the rotation angle and position of a part on a fixture, from its silhouette.

>>> import numpy as np, cv2
>>> img = np.full((96, 96, 3), 210, np.uint8)
>>> box = cv2.boxPoints(((48, 48), (50, 24), -30.0))   # OpenCV: -30 deg on screen = 30 deg counter-clockwise
>>> _ = cv2.fillPoly(img, [np.round(box).astype(np.int32)], (60, 60, 60))
>>> p = PoseEstimator().predict(img[None])
>>> abs(float(p.angle_deg[0]) - 30) < 1, bool(np.abs(p.center_xy[0] - 48.5).max() < 1)   # pixel i spans [i, i+1)
(True, True)
>>> PoseEstimator().predict(np.zeros((1, 96, 96, 3), np.uint8)).found.tolist()
[False]
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from .base import ClassicalPipeline
from .frames import is_blank, to_gray
from .poses import Poses
from .segment import filled_contour, largest_contour, segment_part

__all__ = ["PoseEstimator", "moments_angle", "METHODS"]

METHODS = ("min_area_rect", "moments")


def moments_angle(mask: np.ndarray) -> float:
    """A binary mask's principal-axis angle, counter-clockwise in [0, 180) degrees: ``0.5 * atan2(2 mu11, mu20 -
    mu02)`` of its central moments, negated because image y points down.

    >>> m = np.zeros((40, 40), np.uint8); m[18:22, 5:35] = 1
    >>> moments_angle(m)
    0.0
    """
    mu = cv2.moments(np.ascontiguousarray(mask.astype(np.uint8)), binaryImage=True)
    theta = 0.5 * math.atan2(2 * mu["mu11"], mu["mu20"] - mu["mu02"])
    return round(float(np.mod(-math.degrees(theta), 180.0)), 6) % 180.0


@dataclass
class PoseEstimator(ClassicalPipeline):
    """Angle and centre of the largest part on a plain fixture (a :class:`Poses` per batch)."""

    method: str = "min_area_rect"
    period_deg: float = 180.0
    blur: int = 5
    close: int = 5
    min_area_frac: float = 0.02
    CHOICES = {"method": METHODS}
    WHY = "why_not_found"

    def _collate(self, items):
        return Poses.concat(items) if items else Poses(np.zeros(0), np.zeros((0, 2)), period_deg=self.period_deg)

    def _no_answer(self, frame):
        return Poses([np.nan], [[np.nan, np.nan]], [False], self.period_deg, [0.0])

    def _predict_one(self, frame, stages):
        if is_blank(frame):
            return self._give_up(frame, stages, "blank frame (one grey level): nothing to measure")
        seg = segment_part(frame, blur=self.blur, close=self.close)
        contour = largest_contour(seg.mask)
        if stages is not None:
            stages.add("difference", seg.difference, f"from board {tuple(round(v) for v in seg.board_rgb)}")
            stages.add("mask", seg.mask, f"Otsu t={seg.threshold:.0f}")
            stages.add("edges", cv2.Canny(seg.mask, 50, 150), "Canny on the mask")
        area = 0.0 if contour is None else cv2.contourArea(contour)
        if area < self.min_area_frac * frame.shape[0] * frame.shape[1]:
            return self._give_up(frame, stages, f"largest silhouette {area:.0f} px < min_area_frac")
        (cx, cy), (w, h), _ = rect = cv2.minAreaRect(contour)
        if self.method == "min_area_rect":
            pts = cv2.boxPoints(rect)
            e1, e2 = pts[1] - pts[0], pts[2] - pts[1]
            v = e1 if np.hypot(*e1) >= np.hypot(*e2) else e2
            angle = math.degrees(math.atan2(-float(v[1]), float(v[0])))
            center = (cx + 0.5, cy + 0.5)
        else:
            filled = filled_contour(seg.mask, contour)
            angle = moments_angle(filled > 0)
            m = cv2.moments(filled, binaryImage=True)
            center = (m["m10"] / m["m00"] + 0.5, m["m01"] / m["m00"] + 0.5)
        score = float(np.clip(area / max(w * h, 1e-6), 0, 1))  # how rectangular the silhouette is
        pose = Poses([angle], [center], [True], self.period_deg, [score])
        if stages is not None:
            cont = cv2.cvtColor(to_gray(frame), cv2.COLOR_GRAY2RGB)
            cv2.drawContours(cont, [contour], -1, (255, 0, 0), 1)
            fit = frame.copy()
            cv2.drawContours(fit, [np.round(cv2.boxPoints(rect)).astype(np.int32)], -1, (0, 255, 0), 1)
            r = 0.45 * max(w, h)
            a = math.radians(float(pose.angle_deg[0]))
            p0 = (int(round(center[0] - 0.5)), int(round(center[1] - 0.5)))
            p1 = (int(round(p0[0] + r * math.cos(a))), int(round(p0[1] - r * math.sin(a))))
            cv2.arrowedLine(fit, p0, p1, (255, 0, 0), 1, tipLength=0.2)
            stages.add("contour", cont, f"area {area:.0f} px")
            stages.add("fit", fit, f"{self.method}: {float(pose.angle_deg[0]):.1f} deg")
            stages.values.update(threshold=seg.threshold, area=area, angle_deg=float(pose.angle_deg[0]),
                                 center_xy=center, rectangularity=score)
        return pose, stages
