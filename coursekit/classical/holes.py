"""Counting and inspection: the through-holes of a part, as :class:`~coursekit.types.Detections`.

>>> import numpy as np, cv2
>>> img = np.full((96, 96, 3), 220, np.uint8); _ = cv2.rectangle(img, (16, 26), (80, 70), (50, 50, 50), -1)
>>> for x in (28, 48, 68): _ = cv2.circle(img, (x, 48), 5, (220, 220, 220), -1)
>>> [len(d) for d in HoleCounter().predict(img[None])], [len(d) for d in HoleCounter("hough").predict(img[None])]
([3], [3])
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from ..types import Detections
from .base import ClassicalPipeline
from .frames import is_blank, to_gray
from .segment import filled_contour, largest_contour, segment_part

__all__ = ["HoleCounter", "HOLE_CLASSES", "hole_map"]

HOLE_CLASSES = ["hole"]


def hole_map(mask: np.ndarray, contour) -> np.ndarray:
    """uint8 0/255: pixels inside ``contour``'s filled outline that are not part of ``mask``."""
    return cv2.bitwise_and(filled_contour(mask, contour), cv2.bitwise_not(mask))


@dataclass
class HoleCounter(ClassicalPipeline):
    """Find the holes of the largest part in each frame; one :class:`Detections` per frame."""

    method: str = "blobs"
    min_area: float = 4.0
    min_circularity: float = 0.0
    hough_param2: float = 9.0
    min_radius: int = 2
    max_radius: int = 9
    blur: int = 3
    close: int = 1
    min_part_frac: float = 0.02
    CHOICES = {"method": ("blobs", "hough")}
    WHY = "why_none"

    def _collate(self, items):
        return items

    def _no_answer(self, frame):
        return Detections.empty(HOLE_CLASSES, image_size=frame.shape[:2])

    def _predict_one(self, frame, stages):
        if is_blank(frame):
            return self._give_up(frame, stages, "blank frame (one grey level)")
        seg = segment_part(frame, blur=self.blur, close=self.close)
        contour = largest_contour(seg.mask)
        if stages is not None:
            stages.add("mask", seg.mask, f"Otsu t={seg.threshold:.0f}")
        if contour is None or cv2.contourArea(contour) < self.min_part_frac * frame.shape[0] * frame.shape[1]:
            return self._give_up(frame, stages, "no part segmented")
        holes = hole_map(seg.mask, contour)
        if stages is not None:
            stages.add("hole map", holes, "inside outline, not part")
        if self.method == "blobs":
            boxes, conf = self._blobs(holes)
        else:
            boxes, conf = self._hough(frame, holes, stages)
        det = Detections(xyxy=np.asarray(boxes, np.float32).reshape(-1, 4), class_id=np.zeros(len(boxes), np.int64),
                         class_names=HOLE_CLASSES, confidence=np.asarray(conf, np.float32),
                         image_size=frame.shape[:2])
        if stages is not None:
            out = frame.copy()
            for x1, y1, x2, y2 in det.xyxy:
                cv2.rectangle(out, (int(x1), int(y1)), (int(np.ceil(x2)) - 1, int(np.ceil(y2)) - 1), (255, 0, 0), 1)
            stages.add("holes found", out, f"{len(det)} holes ({self.method})")
            stages.values.update(count=len(det), threshold=seg.threshold)
        return det, stages

    def _blobs(self, holes):
        p = cv2.SimpleBlobDetector_Params()
        p.filterByColor, p.blobColor = True, 255
        p.filterByArea, p.minArea, p.maxArea = True, float(self.min_area), float(holes.size)
        p.filterByCircularity = self.min_circularity > 0
        if p.filterByCircularity:
            p.minCircularity = float(self.min_circularity)
        p.filterByConvexity = p.filterByInertia = False
        p.minThreshold, p.maxThreshold, p.thresholdStep = 127, 129, 1
        p.minDistBetweenBlobs = 1.0
        # SimpleBlobDetector misses blobs touching the border; pad by 2 pixels and shift back.
        kps = cv2.SimpleBlobDetector_create(p).detect(cv2.copyMakeBorder(holes, 2, 2, 2, 2, cv2.BORDER_CONSTANT, 0))
        boxes = [[k.pt[0] - 2 - k.size / 2 + 0.5, k.pt[1] - 2 - k.size / 2 + 0.5,
                  k.pt[0] - 2 + k.size / 2 + 0.5, k.pt[1] - 2 + k.size / 2 + 0.5] for k in kps]
        return boxes, [1.0] * len(boxes)

    def _hough(self, frame, holes, stages):
        gray = cv2.GaussianBlur(to_gray(frame), (self.blur | 1, self.blur | 1), 0)
        circles = cv2.HoughCircles(gray, cv2.HOUGH_GRADIENT, dp=1, minDist=2 * self.min_radius + 1, param1=80,
                                   param2=float(self.hough_param2), minRadius=int(self.min_radius),
                                   maxRadius=int(self.max_radius))
        boxes, conf = [], []
        found = [] if circles is None else circles[0]
        dil = cv2.dilate(holes, np.ones((3, 3), np.uint8))
        for x, y, r in found:
            xi, yi = int(round(x)), int(round(y))
            if 0 <= yi < holes.shape[0] and 0 <= xi < holes.shape[1] and dil[yi, xi]:
                boxes.append([x - r + 0.5, y - r + 0.5, x + r + 0.5, y + r + 0.5])
                conf.append(1.0)
        if stages is not None:
            allc = cv2.cvtColor(gray, cv2.COLOR_GRAY2RGB)
            for x, y, r in found:
                cv2.circle(allc, (int(round(x)), int(round(y))), int(round(r)), (0, 255, 0), 1)
            stages.add("hough circles", allc, f"{len(found)} circles, param2={self.hough_param2:g}")
        return boxes, conf
