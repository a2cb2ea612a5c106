"""The prediction type of a pose estimator: one part's in-plane angle and position per image.

>>> p = Poses(angle_deg=[10.0, 179.0], center_xy=[[32, 32], [30, 34]], period_deg=180)
>>> angle_error(p.angle_deg, [-170.0, -1.0], period=180).tolist()
[0.0, 0.0]
>>> evaluate_poses(p, [10.0, 1.0], [[32, 32], [30, 30]], tolerance_deg=1)["within_tol"]
0.5
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Poses", "angle_error", "evaluate_poses"]


def angle_error(pred, true, period: float = 360.0) -> np.ndarray:
    """Absolute angle difference in degrees on a circle of ``period`` degrees (0 <= error <= period / 2)."""
    d = np.mod(np.asarray(pred, np.float64) - np.asarray(true, np.float64), period)
    return np.minimum(d, period - d)


@dataclass
class Poses:
    """Angle and centre of one part in each of N images."""

    angle_deg: np.ndarray
    center_xy: np.ndarray
    found: np.ndarray | None = None
    period_deg: float = 360.0
    score: np.ndarray | None = None

    def __post_init__(self):
        self.angle_deg = np.asarray(self.angle_deg, np.float64).reshape(-1)
        n = len(self.angle_deg)
        self.center_xy = np.asarray(self.center_xy, np.float64).reshape(n, 2) if n else np.zeros((0, 2))
        if not 0 < float(self.period_deg) <= 360:
            raise ValueError(f"period_deg must be in (0, 360]; got {self.period_deg}")
        self.found = (np.isfinite(self.angle_deg) if self.found is None
                      else np.asarray(self.found, bool).reshape(n))
        self.angle_deg = np.where(self.found, np.mod(self.angle_deg, self.period_deg), np.nan)
        self.center_xy = np.where(self.found[:, None], self.center_xy, np.nan)
        self.score = (self.found.astype(np.float64) if self.score is None
                      else np.asarray(self.score, np.float64).reshape(n))

    def __len__(self) -> int:
        return len(self.angle_deg)

    @classmethod
    def concat(cls, items: "list[Poses]") -> "Poses":
        """One :class:`Poses` from several (same period)."""
        periods = {float(p.period_deg) for p in items}
        if len(periods) > 1:
            raise ValueError(f"cannot concatenate poses of different periods {sorted(periods)}")
        return cls(np.concatenate([p.angle_deg for p in items]), np.concatenate([p.center_xy for p in items]),
                   np.concatenate([p.found for p in items]), periods.pop() if periods else 360.0,
                   np.concatenate([p.score for p in items]))

    @classmethod
    def from_vectors(cls, cos_sin, center_xy, period_deg: float = 360.0) -> "Poses":
        """From a regressor's ``(cos k*angle, sin k*angle)`` outputs, k = 360 / period (no jump at the period)."""
        v = np.asarray(cos_sin, np.float64)
        k = 360.0 / period_deg
        angle = np.degrees(np.arctan2(v[:, 1], v[:, 0])) / k
        return cls(angle, center_xy, period_deg=period_deg)


def evaluate_poses(preds: Poses, true_angle_deg, true_center_xy, *, tolerance_deg: float = 3.0) -> dict:
    """Score poses: angle error (degrees, on the parts' symmetry circle), centre error (pixels), found rate."""
    if not isinstance(preds, Poses):
        raise TypeError(f"preds must be Poses; got {type(preds).__name__}")
    ta = np.asarray(true_angle_deg, np.float64).reshape(-1)
    tc = np.asarray(true_center_xy, np.float64).reshape(-1, 2)
    if len(ta) != len(preds) or len(tc) != len(preds):
        raise ValueError(f"{len(preds)} poses but {len(ta)} true angles and {len(tc)} true centres")
    f = preds.found  # a part not found counts as an infinite error
    ang = np.where(f, angle_error(preds.angle_deg, ta, preds.period_deg), np.inf)
    px = np.where(f, np.hypot(*(preds.center_xy - tc).T), np.inf)
    ok = ang <= tolerance_deg
    nan = float("nan")
    return {"n": int(len(preds)), "found": float(f.mean()) if len(f) else 0.0,
            "within_tol": float(ok.mean()) if len(ok) else 0.0,
            "angle_mae_deg": float(ang[f].mean()) if f.any() else nan,
            "angle_median_deg": float(np.median(ang[f])) if f.any() else nan,
            "center_mae_px": float(px[f].mean()) if f.any() else nan,
            "tolerance_deg": float(tolerance_deg), "per_image_angle_error": ang}
