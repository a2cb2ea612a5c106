"""Tiny-data classification: match keypoints against a few labelled examples, verify with RANSAC.

>>> import numpy as np, cv2
>>> def shape(kind, angle):
...     img = np.full((96, 96, 3), 215, np.uint8)
...     pts = {"L": [(20, 20), (70, 20), (70, 35), (35, 35), (35, 75), (20, 75)],
...            "T": [(15, 20), (80, 20), (80, 35), (55, 35), (55, 80), (40, 80), (40, 35), (15, 35)]}[kind]
...     _ = cv2.fillPoly(img, [np.array(pts, np.int32)], (50, 50, 50))
...     return cv2.warpAffine(img, cv2.getRotationMatrix2D((48, 48), angle, 1.0), (96, 96), borderValue=(215, 215, 215))
>>> clf = KeypointClassifier().fit([shape("L", 0), shape("T", 0)], [0, 1], ["L", "T"])
>>> clf.predict([shape("L", 70), shape("T", 200)]).names
['L', 'T']
"""
from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from .base import ReferenceClassifier
from .frames import is_blank, to_gray

__all__ = ["KeypointClassifier"]


@dataclass
class KeypointClassifier(ReferenceClassifier):
    """Nearest references by RANSAC-verified keypoint matches; returns :class:`Classifications`."""

    detector: str = "sift"
    ratio: float = 0.8
    ransac_px: float = 4.0
    top_k: int = 3
    temperature: float = 2.0
    upscale: float = 2.0
    CHOICES = {"detector": ("sift", "orb")}
    UNUSABLE = "no usable reference (no keypoints) for class(es)"

    def _features(self, frame):
        gray = to_gray(frame)
        if self.upscale != 1:
            gray = cv2.resize(gray, None, fx=self.upscale, fy=self.upscale, interpolation=cv2.INTER_CUBIC)
        det = cv2.SIFT_create() if self.detector == "sift" else cv2.ORB_create(500, edgeThreshold=15, patchSize=15)
        kps, desc = det.detectAndCompute(gray, None)
        return kps, desc, gray

    def _reference(self, frame):
        """The frame's keypoint positions and descriptors."""
        kps, desc, _ = self._features(frame)
        return (np.float32([k.pt for k in kps]), desc) if desc is not None and len(kps) >= 3 else None

    def _inliers(self, kps, desc, ref):
        _, pts_r, desc_r = ref
        norm = cv2.NORM_L2 if self.detector == "sift" else cv2.NORM_HAMMING
        pairs = cv2.BFMatcher(norm).knnMatch(desc, desc_r, k=2)
        good = [p[0] for p in pairs if len(p) == 2 and p[0].distance < self.ratio * p[1].distance]
        if len(good) < 3:
            return 0, None
        src = np.float32([kps[m.queryIdx].pt for m in good])
        dst = pts_r[[m.trainIdx for m in good]]
        _, inl = cv2.estimateAffinePartial2D(src, dst, method=cv2.RANSAC, ransacReprojThreshold=self.ransac_px)
        return (0, None) if inl is None else (int(inl.sum()), (good, inl.ravel().astype(bool)))

    def _predict_one(self, frame, stages):
        self._require_fitted()
        kps, desc, gray = self._features(frame)
        if stages is not None:
            stages.add("keypoints", cv2.drawKeypoints(cv2.cvtColor(gray, cv2.COLOR_GRAY2RGB), kps, None, (255, 0, 0)),
                       f"{len(kps)} {self.detector.upper()} keypoints")
        if is_blank(frame) or desc is None or len(kps) < 3:
            return self._give_up(frame, stages, "no keypoints (blank frame?): uniform probabilities, no decision")
        s, pred, best = self._score_references(lambda ref: self._inliers(kps, desc, ref))
        if stages is not None:
            stages.values.update(class_scores=dict(zip(self.class_names, s.round(2).tolist())), best_inliers=best[0])
            if best[0] > 0:
                good, inl = best[2]
                pts = np.float32([kps[m.queryIdx].pt for m in good])
                vis = cv2.cvtColor(gray, cv2.COLOR_GRAY2RGB)
                for (x, y), ok in zip(pts, inl):
                    cv2.circle(vis, (int(x), int(y)), 3, (0, 200, 0) if ok else (255, 0, 0), 1)
                stages.add("RANSAC inliers", vis,
                           f"{best[0]} inliers vs a '{self.class_names[best[1][0]]}' reference (green)")
        return pred, stages
