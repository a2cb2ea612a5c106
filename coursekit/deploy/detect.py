"""The detector's deployable half: decode YOLO's raw output and run NMS in NumPy, and compare two detectors.

>>> raw = np.zeros((1, 5, 3), np.float32)          # 1 image, 1 class, 3 anchors
>>> raw[0, :4, 0] = [50, 50, 20, 20]; raw[0, 4, 0] = 0.9
>>> raw[0, :4, 1] = [52, 50, 20, 20]; raw[0, 4, 1] = 0.8    # overlaps the first: suppressed
>>> [b.round(1).tolist() for b in decode_yolo(raw, conf=0.25)[0][0]]
[[40.0, 40.0, 60.0, 60.0]]
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["nms", "decode_yolo", "box_agreement", "BoxAgreement"]


def _iou_one(box: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    x1 = np.maximum(box[0], boxes[:, 0]); y1 = np.maximum(box[1], boxes[:, 1])
    x2 = np.minimum(box[2], boxes[:, 2]); y2 = np.minimum(box[3], boxes[:, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area = lambda b: (b[..., 2] - b[..., 0]) * (b[..., 3] - b[..., 1])  # noqa: E731
    return inter / np.maximum(area(box) + area(boxes) - inter, 1e-9)


def nms(boxes: np.ndarray, scores: np.ndarray, iou: float = 0.7) -> np.ndarray:
    """Indices of the boxes kept by greedy NMS (highest score first), like ``torchvision.ops.nms``.

    >>> nms(np.array([[0, 0, 10, 10], [1, 1, 10, 10], [20, 20, 30, 30]], float), np.array([.9, .8, .7]), .5).tolist()
    [0, 2]
    """
    order = np.argsort(-scores, kind="stable")
    keep = []
    while order.size:
        i = order[0]
        keep.append(int(i))
        rest = order[1:]
        order = rest[_iou_one(boxes[i], boxes[rest]) <= iou]
    return np.asarray(keep, dtype=np.int64)


def decode_yolo(raw: np.ndarray, conf: float = 0.25, iou: float = 0.7, max_det: int = 300,
                max_wh: float = 7680.0) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Raw YOLO output ``(N, 4 + C, A)`` -> per image ``(boxes xyxy (K, 4), scores (K,), classes (K,))``."""
    raw = np.asarray(raw, np.float32)
    if raw.ndim != 3 or raw.shape[1] < 5:
        raise ValueError(f"expected raw YOLO output (N, 4 + classes, anchors); got shape {raw.shape}")
    out = []
    for pred in raw:
        pred = pred.T                                   # (A, 4 + C)
        cls, score = pred[:, 4:].argmax(1), pred[:, 4:].max(1)
        m = score >= conf
        xywh, score, cls = pred[m, :4], score[m], cls[m]
        boxes = np.concatenate([xywh[:, :2] - xywh[:, 2:] / 2, xywh[:, :2] + xywh[:, 2:] / 2], 1)
        keep = nms(boxes + (cls * max_wh)[:, None], score, iou)[:max_det]
        out.append((boxes[keep], score[keep], cls[keep].astype(np.int64)))
    return out


@dataclass(frozen=True)
class BoxAgreement:
    """How well a candidate's detections match the reference's (both decoded the same way)."""

    reference_boxes: int
    candidate_boxes: int
    matched: float
    extra: int
    mean_iou: float
    max_score_diff: float
    iou: float


def box_agreement(reference, candidate, iou: float = 0.9) -> BoxAgreement:
    """Greedy one-to-one matching (by reference score) of two lists of ``decode_yolo`` results."""
    n_ref = n_cand = n_match = 0
    ious, sdiff = [], [0.0]
    for (rb, rs, rc), (cb, cs, cc) in zip(reference, candidate, strict=True):
        n_ref += len(rb); n_cand += len(cb)
        used = np.zeros(len(cb), bool)
        for j in np.argsort(-rs):
            if not len(cb):
                break
            ov = _iou_one(rb[j], cb)
            ov[(cc != rc[j]) | used] = -1
            k = int(ov.argmax())
            if ov[k] >= iou:
                used[k] = True; n_match += 1; ious.append(float(ov[k])); sdiff.append(abs(float(rs[j] - cs[k])))
    matched = n_match / n_ref if n_ref else float(n_cand == 0)  # no boxes in either: full agreement
    return BoxAgreement(reference_boxes=n_ref, candidate_boxes=n_cand, matched=matched,
                        extra=n_cand - n_match, mean_iou=float(np.mean(ious)) if ious else float("nan"),
                        max_score_diff=max(sdiff), iou=iou)
