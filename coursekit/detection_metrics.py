"""Detection metrics on :class:`~coursekit.types.Detections`: IoU, COCO mAP, and box matching.

>>> from coursekit.types import Detections
>>> names = ["scratch", "dent"]
>>> truth = Detections(xyxy=[[0, 0, 10, 10], [20, 20, 40, 40]], class_id=[0, 1], class_names=names)
>>> pred = Detections(xyxy=[[0, 0, 10, 10], [0, 0, 10, 10], [50, 50, 60, 60]], class_id=[0, 0, 1],
...                   class_names=names, confidence=[0.9, 0.8, 0.7])
>>> m = match_detections(pred, truth)
>>> m.pred_kind, m.target_matched.tolist()
(['tp', 'duplicate', 'background'], [True, False])
>>> r = mean_average_precision([pred], [truth])
>>> r["per_class"]["scratch"]["map_50"], r["per_class"]["dent"]["map_50"]
(1.0, 0.0)
"""
from __future__ import annotations

import contextlib
import io
import math
import warnings
from dataclasses import asdict, dataclass
from typing import Literal, Sequence

import numpy as np

from .calibrate import PRCurve, ThresholdChoice, choose_threshold, operating_point, plot_pr_curve, pr_curve
from .types import Detections, as_xyxy

__all__ = ["box_iou", "mean_average_precision", "coco_ap", "DetectionMatch", "match_detections", "detection_pr_points",
           "detection_recall_precision", "detection_pr_curve", "choose_detection_threshold", "detection_errors",
           "DETECTION_DEFAULT_THRESHOLD", "DetectionThreshold", "plot_detection_pr", "DetectionPRCurve"]

#: Below this IoU with an object of its class, an unmatched prediction is "background", not a poorly
#: placed box (the 0.1 of Hoiem et al., "Diagnosing error in object detectors", 2012).
LOCALIZATION_MIN_IOU = 0.1


def box_iou(a, b) -> np.ndarray:
    """Intersection over union of every box in ``a`` with every box in ``b`` (torchvision).

    >>> box_iou([[0, 0, 10, 10]], [[5, 0, 15, 10], [20, 20, 30, 30]]).round(4).tolist()
    [[0.3333, 0.0]]
    """
    import torch
    from torchvision.ops import box_iou as tv_box_iou
    return tv_box_iou(torch.from_numpy(as_xyxy(a, "a")), torch.from_numpy(as_xyxy(b, "b"))).numpy()


def _check_pairs(preds, targets) -> list[str]:
    """Validate per-image lists of predictions and ground truth; return the class names."""
    if isinstance(preds, Detections) or isinstance(targets, Detections):
        raise TypeError("pass lists with one Detections per image, e.g. mean_average_precision([pred], [truth])")
    preds, targets = list(preds), list(targets)
    if len(preds) != len(targets):
        raise ValueError(f"{len(preds)} predictions but {len(targets)} targets: give one of each per image")
    if not preds:
        raise ValueError("no images: preds and targets are empty")
    names = None
    for i, (p, t) in enumerate(zip(preds, targets)):
        for what, d in (("preds", p), ("targets", t)):
            if not isinstance(d, Detections):
                raise TypeError(f"{what}[{i}] is a {type(d).__name__}, not a Detections "
                                "(convert it first, e.g. Detections.from_ultralytics(result))")
            if names is None:
                names = d.class_names
            elif d.class_names != names:
                raise ValueError(f"{what}[{i}] has classes {d.class_names} but preds[0] has {names}: "
                                 "predictions and targets must use the same classes in the same order")
        if len(p) and p.confidence is None:
            raise ValueError(f"preds[{i}] has no confidence (is it ground truth?): predictions are ranked by "
                             "confidence")
    return list(names)


def _undefined_to_none(x) -> float | None:
    """torchmetrics writes -1 for 'undefined' (e.g. no objects of a class): None here."""
    v = float(x)
    return None if v < 0 or math.isnan(v) else v


# COCO's parameters built as pycocotools builds them (float64 np.linspace): torchmetrics' float32 defaults put
# e.g. recall 0.07 at 0.0700000003, and its AP differed from pycocotools' (tests/test_map_crosscheck.py).
_COCO_IOU_THRESHOLDS = np.linspace(0.5, 0.95, int(np.round((0.95 - 0.5) / 0.05)) + 1, endpoint=True).tolist()
_COCO_REC_THRESHOLDS = np.linspace(0.0, 1.00, int(np.round((1.00 - 0.0) / 0.01)) + 1, endpoint=True).tolist()
_COCO_MAX_DETS = [1, 10, 100]
_OVERALL = ("map", "map_50", "map_75", "map_small", "map_medium", "map_large", "mar_100")  # one number each


def _coco_eval(preds_tm, targets_tm, iou_thresholds) -> dict:
    import torch
    from torchmetrics.detection import MeanAveragePrecision
    metric = MeanAveragePrecision(box_format="xyxy", iou_type="bbox", iou_thresholds=list(iou_thresholds),
                                  rec_thresholds=list(_COCO_REC_THRESHOLDS),
                                  max_detection_thresholds=list(_COCO_MAX_DETS), class_metrics=True,
                                  backend="pycocotools")
    metric.warn_on_many_detections = False  # > 100 boxes per image; COCO keeps 100 per image *and class*
    metric.update(preds_tm, targets_tm)
    out = metric.compute()
    return {k: v.reshape(-1) if isinstance(v, torch.Tensor) else v for k, v in out.items()}


def mean_average_precision(preds: Sequence[Detections], targets: Sequence[Detections]) -> dict:
    """COCO box mAP and recall (torchmetrics ``MeanAveragePrecision``, pycocotools), overall and per class.

    >>> from coursekit.types import Detections
    >>> truth = Detections(xyxy=[[0, 0, 10, 10]], class_id=[0], class_names=["part"])
    >>> pred = Detections(xyxy=[[0, 0, 10, 10]], class_id=[0], class_names=["part"], confidence=[0.8])
    >>> r = mean_average_precision([pred], [truth])
    >>> r["map"], r["map_50"], r["per_class"]["part"]["map"]
    (1.0, 1.0, 1.0)
    """
    import torch
    names = _check_pairs(preds, targets)
    preds, targets = list(preds), list(targets)
    n_classes = len(names)
    pred_counts = np.bincount(np.concatenate([p.class_id for p in preds]), minlength=n_classes)
    target_counts = np.bincount(np.concatenate([t.class_id for t in targets]), minlength=n_classes)
    per_class = {name: {"map": None, "map_50": None, "mar_100": None, "n_targets": int(target_counts[c]),
                        "n_predictions": int(pred_counts[c])} for c, name in enumerate(names)}
    result: dict = {**dict.fromkeys(_OVERALL), "n_images": len(preds), "n_targets": int(target_counts.sum()),
                    "n_predictions": int(pred_counts.sum()), "per_class": per_class}
    if result["n_targets"] == 0:  # nothing to find: every AP and recall is undefined
        return result

    # float64 boxes: torchmetrics computes COCO's w = x2 - x1 in the boxes' dtype (float32 would round it)
    preds_tm = [{"boxes": torch.from_numpy(p.xyxy.astype(np.float64)), "labels": torch.from_numpy(p.class_id),
                 "scores": torch.from_numpy(p.confidence if p.confidence is not None else np.zeros(0, np.float32))}
                for p in preds]
    targets_tm = [{"boxes": torch.from_numpy(t.xyxy.astype(np.float64)), "labels": torch.from_numpy(t.class_id)}
                  for t in targets]

    coco = _coco_eval(preds_tm, targets_tm, _COCO_IOU_THRESHOLDS)  # IoU 0.50:0.05:0.95
    result.update({key: _undefined_to_none(coco[key][0]) for key in _OVERALL})
    at_50 = _coco_eval(preds_tm, targets_tm, [0.5])
    for source, keys in ((coco, (("map_per_class", "map"), ("mar_100_per_class", "mar_100"))),
                         (at_50, (("map_per_class", "map_50"),))):
        classes = source["classes"].tolist()
        for tm_key, our_key in keys:
            for c, value in zip(classes, source[tm_key].tolist()):
                per_class[names[int(c)]][our_key] = _undefined_to_none(value)
    return result


def coco_ap(preds, targets, iou_threshold: float = 0.5) -> float:
    """pycocotools' box AP at one IoU threshold, averaged over the classes that have ground truth (all areas,
    up to 100 detections per image and class): the reference of ``exercises_detect.check_average_precision``.
    ``nan`` when no class has ground truth."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    names = targets[0].class_names if targets else preds[0].class_names
    images, anns, results = [], [], []
    for i, (p, t) in enumerate(zip(preds, targets)):
        images.append({"id": i, "width": 100, "height": 100})
        anns += [{**a, "id": len(anns) + k + 1} for k, a in enumerate(t.to_coco(i))]  # category ids 1..K
        results += p.to_coco(i)
    present = sorted({a["category_id"] for a in anns})
    if not present:
        return math.nan
    if not results:
        return 0.0
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO()
        gt.dataset = {"images": images, "annotations": anns,
                      "categories": [{"id": k + 1, "name": n} for k, n in enumerate(names)]}
        gt.createIndex()
        dt = gt.loadRes(results)
        ev = COCOeval(gt, dt, "bbox")
        ev.params.iouThrs = np.array([float(iou_threshold)])
        ev.evaluate()
        ev.accumulate()
    prec = ev.eval["precision"][0, :, :, 0, -1]  # (recall points, classes), area "all", maxDets 100
    per_class = [prec[:, k].mean() for k in range(prec.shape[1]) if (prec[:, k] > -1).all()]
    return float(np.mean(per_class))


@dataclass
class DetectionMatch:
    """Which prediction found which object, in one image, at one IoU threshold."""

    iou_threshold: float
    pred_tp: np.ndarray
    pred_target: np.ndarray
    pred_iou: np.ndarray
    pred_kind: list[str]
    target_matched: np.ndarray
    target_pred: np.ndarray

    @property
    def tp(self) -> int:
        return int(self.pred_tp.sum())

    @property
    def fp(self) -> int:
        return int((~self.pred_tp).sum())

    @property
    def fn(self) -> int:
        return int((~self.target_matched).sum())

    @property
    def misses(self) -> np.ndarray:
        """Indices of the objects nobody found (``target[m.misses]``)."""
        return np.flatnonzero(~self.target_matched)


def match_detections(pred: Detections, target: Detections, iou: float = 0.5) -> DetectionMatch:
    """Match one image's predictions to its objects, greedily by confidence (COCO's rule)."""
    if not isinstance(pred, Detections) or not isinstance(target, Detections):
        raise TypeError(f"match_detections takes two Detections (pred, target); got "
                        f"{type(pred).__name__}, {type(target).__name__}")
    if pred.class_names != target.class_names:
        raise ValueError(f"pred has classes {pred.class_names} but target has {target.class_names}")
    if not 0 < iou <= 1:
        raise ValueError(f"iou={iou!r}: expected an IoU threshold in (0, 1], e.g. 0.5")
    n, m = len(pred), len(target)
    ious = box_iou(pred, target)
    same = pred.class_id[:, None] == target.class_id[None, :]
    order = np.argsort(-pred.confidence, kind="stable") if pred.confidence is not None else np.arange(n)

    pred_target = np.full(n, -1, dtype=np.int64)
    target_pred = np.full(m, -1, dtype=np.int64)
    pred_iou = np.zeros(n, dtype=np.float64)
    kinds = ["background"] * n
    for i in order:
        same_iou = np.where(same[i], ious[i], -1.0)
        free_iou = np.where(target_pred < 0, same_iou, -1.0)
        j = int(np.argmax(free_iou)) if m else -1
        if m and free_iou[j] >= iou:  # found an object
            pred_target[i], target_pred[j], pred_iou[i], kinds[i] = j, i, ious[i, j], "tp"
            continue
        pred_iou[i] = max(float(same_iou.max(initial=0.0)), 0.0)
        if pred_iou[i] >= iou:
            kinds[i] = "duplicate"
        elif m and np.any(~same[i] & (ious[i] >= iou)):
            kinds[i] = "wrong_class"
        elif pred_iou[i] >= LOCALIZATION_MIN_IOU:
            kinds[i] = "localization"
    return DetectionMatch(iou_threshold=float(iou), pred_tp=pred_target >= 0, pred_target=pred_target,
                          pred_iou=pred_iou, pred_kind=kinds, target_matched=target_pred >= 0, target_pred=target_pred)


def detection_pr_points(
    preds: Sequence[Detections], targets: Sequence[Detections], iou: float = 0.5, classes=None
) -> tuple[np.ndarray, np.ndarray, int]:
    """Every prediction's outcome and score over a data set: ``(is_tp, scores, n_targets)``.

    >>> from coursekit.calibrate import choose_threshold
    >>> from coursekit.types import Detections
    >>> truth = Detections(xyxy=[[0, 0, 10, 10], [20, 0, 30, 10], [40, 0, 50, 10]], class_id=[0, 0, 0],
    ...                    class_names=["part"])
    >>> pred = Detections(xyxy=[[0, 0, 10, 10], [20, 0, 30, 10], [60, 0, 70, 10]], class_id=[0, 0, 0],
    ...                   class_names=["part"], confidence=[0.9, 0.6, 0.7])
    >>> is_tp, scores, n = detection_pr_points([pred], [truth])
    >>> is_tp.tolist(), n
    ([1, 1, 0], 3)
    >>> t = choose_threshold(is_tp, scores, min_precision=0.9).threshold
    >>> p = detection_recall_precision(is_tp, scores, n, t)
    >>> round(t, 3), p.precision, round(p.recall, 3)   # choose_threshold alone would say recall 0.5
    (0.9, 1.0, 0.333)
    """
    _check_pairs(preds, targets)
    flags, scores, n_targets = [], [], 0
    for p, t in zip(preds, targets):
        if classes is not None:
            p, t = p.filter(classes=classes), t.filter(classes=classes)
        m = match_detections(p, t, iou)
        flags.append(m.pred_tp.astype(np.int64))
        scores.append(p.confidence.astype(np.float64) if p.confidence is not None else np.zeros(0))
        n_targets += len(t)
    return np.concatenate(flags), np.concatenate(scores), int(n_targets)


def detection_recall_precision(is_tp, scores, n_targets: int, threshold: float):
    """Precision and the true recall when keeping boxes with ``score >= threshold``."""
    return operating_point(is_tp, scores, threshold, n_positive=int(n_targets))


#: ultralytics' default ``conf`` for ``predict`` (0.25) and the "obvious" 0.5: what the notebook compares.
DETECTION_DEFAULT_THRESHOLD = 0.25


@dataclass
class DetectionPRCurve(PRCurve):
    """A PR curve over box confidences (float32 in :class:`Detections`): :meth:`at` compares in float32 too, so
    ``curve.at(0.7)`` keeps a box of confidence 0.7, as :meth:`Detections.filter` does."""

    def at(self, threshold: float) -> tuple[float, float]:
        return super().at(float(np.float32(threshold)))


def detection_pr_curve(preds: Sequence[Detections], targets: Sequence[Detections], iou: float = 0.5,
                       classes=None) -> DetectionPRCurve:
    """The detector's precision-recall curve over all its boxes: one point per confidence threshold.

    >>> truth = Detections(xyxy=[[0, 0, 10, 10], [20, 0, 30, 10]], class_id=[0, 0], class_names=["part"])
    >>> pred = Detections(xyxy=[[0, 0, 10, 10], [50, 0, 60, 10]], class_id=[0, 0], class_names=["part"],
    ...                   confidence=[0.9, 0.4])
    >>> c = detection_pr_curve([pred], [truth])
    >>> c.thresholds.round(2).tolist(), c.recall.tolist(), c.precision.tolist()
    ([0.4, 0.9], [0.5, 0.5, 0.0], [0.5, 1.0, 1.0])
    """
    is_tp, scores, n = detection_pr_points(preds, targets, iou=iou, classes=classes)
    return DetectionPRCurve(**asdict(pr_curve(is_tp, scores, n_positive=n)))


@dataclass
class DetectionThreshold(ThresholdChoice):
    """A detector's chosen ``conf`` threshold (see :func:`choose_detection_threshold`)."""

    n_images: int = 0
    n_targets: int = 0

    def describe(self, fp: str = "false boxes", fn: str = "missed objects", per: int = 100) -> str:
        """One sentence: the chosen threshold, the goal, and what the default threshold does instead."""
        t, d = f"{self.threshold:.3g}", self.at_default
        if not self.achieved:
            head = (f"the goal ({self.goal}) is out of reach: the closest threshold, {t}, gives precision "
                    f"{self.precision:.3f} with recall {self.recall:.3f}")
        else:
            head = f"conf >= {t} ({self.goal}) gives precision {self.precision:.3f}, recall {self.recall:.3f}"
        tail = f"; conf >= {d.threshold:.3g} gives precision {d.precision:.3f}, recall {d.recall:.3f}"
        changes = self._changes(fp, fn, per, max(self.n_images, 1), lambda x: f"{x:.1f}")
        if changes:
            tail += f": {' and '.join(changes)} per {per} images"
        return head + tail


def choose_detection_threshold(preds: Sequence[Detections], targets: Sequence[Detections], *,
                               min_recall: float | None = None, min_precision: float | None = None,
                               maximize: Literal["f1"] | None = None, iou: float = 0.5,
                               default: float = DETECTION_DEFAULT_THRESHOLD):
    """Choose the detector's confidence threshold for one goal, with the *true* recall.

    >>> truth = Detections(xyxy=[[0, 0, 10, 10], [20, 0, 30, 10]], class_id=[0, 0], class_names=["part"])
    >>> pred = Detections(xyxy=[[0, 0, 10, 10], [50, 0, 60, 10], [20, 0, 30, 10]], class_id=[0, 0, 0],
    ...                   class_names=["part"], confidence=[0.9, 0.4, 0.2])
    >>> c = choose_detection_threshold([pred], [truth], min_recall=0.95)
    >>> round(c.threshold, 2), round(c.precision, 3), c.recall, c.at_default.recall
    (0.2, 0.667, 1.0, 0.5)
    """
    preds, targets = list(preds), list(targets)
    is_tp, scores, n = detection_pr_points(preds, targets, iou=iou)
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "no threshold reaches", UserWarning)  # said below in a detector's words
        c = choose_threshold(is_tp, scores, min_recall=min_recall, min_precision=min_precision, maximize=maximize,
                             default=default, n_positive=n)
    message = ""
    if not c.achieved:
        what = "recall" if min_recall is not None else "precision"
        message = (f"no confidence threshold reaches {c.goal} on these {len(preds)} images ({n} objects); the "
                   f"closest, {c.threshold:.4g}, gives {what} {getattr(c, what):.3f}"
                   + (f" ({n - int(is_tp.sum())} objects are never found at any confidence)" if what == "recall"
                      else "")
                   + ". A better model, more data, or a different goal is needed.")
        warnings.warn(message, UserWarning, stacklevel=2)
    return DetectionThreshold(**{**vars(c), "message": message}, n_images=len(preds), n_targets=int(n))


_CORNERS = ("x1", "y1", "x2", "y2")


def detection_errors(
preds: Sequence[Detections], targets: Sequence[Detections], threshold: float,
                     iou: float = 0.5):
    """Every error of a detector at ``conf >= threshold``, one row each (a pandas DataFrame).

    >>> truth = Detections(xyxy=[[0, 0, 10, 10], [20, 0, 30, 10]], class_id=[0, 0], class_names=["part"])
    >>> pred = Detections(xyxy=[[50, 0, 60, 10], [20, 0, 30, 10]], class_id=[0, 0], class_names=["part"],
    ...                   confidence=[0.8, 0.1])
    >>> detection_errors([pred], [truth], threshold=0.25)["error"].tolist()
    ['background', 'missed: not found', 'missed: below threshold']
    """
    import pandas as pd
    names = _check_pairs(preds, targets)
    rows = []
    for i, (p, t) in enumerate(zip(preds, targets)):
        if p.confidence is None:
            raise ValueError(f"predictions of image {i} have no confidence: detection_errors needs scored boxes")
        kept = p.filter(min_confidence=threshold)
        m = match_detections(kept, t, iou)
        kept_iou = box_iou(kept, t)
        for j in np.flatnonzero(~m.pred_tp):
            covered = ""
            if m.pred_kind[j] == "wrong_class":  # the class of the object it sits on (the best-overlapping one)
                other = np.where(t.class_id != kept.class_id[j], kept_iou[j], -1.0)
                covered = names[t.class_id[int(np.argmax(other))]]
            rows.append(dict(image=i, error=m.pred_kind[j], **{"class": names[kept.class_id[j]]},
                             confidence=float(kept.confidence[j]), iou=float(m.pred_iou[j]),
                             **dict(zip(_CORNERS, kept.xyxy[j].tolist())), covers=covered))
        all_iou = box_iou(p, t)  # every prediction, at any confidence
        for j in m.misses:
            ious = np.where(p.class_id == t.class_id[j], all_iou[:, j], 0.0) if len(p) else np.zeros(0)
            covering = ious >= iou
            other = (kept.class_id != t.class_id[j]) & (kept_iou[:, j] >= iou) if len(kept) else np.zeros(0, bool)
            if covering.any():
                error, conf = "missed: below threshold", float(p.confidence[covering].max())
            else:
                error, conf = "missed: wrong class" if other.any() else "missed: not found", math.nan
            rows.append(dict(image=i, error=error, **{"class": names[t.class_id[j]]}, confidence=conf,
                             iou=float(ious.max(initial=0.0)), **dict(zip(_CORNERS, t.xyxy[j].tolist())), covers=""))
    frame = pd.DataFrame(rows, columns=["image", "error", "class", "confidence", "iou", *_CORNERS, "covers"])
    frame["area"] = (frame["x2"] - frame["x1"]) * (frame["y2"] - frame["y1"])
    frame["_miss"] = frame["error"].str.startswith("missed")
    frame["_key"] = np.where(frame["_miss"], -frame["area"], -frame["confidence"].fillna(0))
    frame = frame.sort_values(["_miss", "_key"], kind="stable").drop(columns=["_miss", "_key"])
    return frame.reset_index(drop=True)


def plot_detection_pr(curve, choice: DetectionThreshold | None = None, marks: Sequence[float] = (0.25, 0.5),
                      ax=None, title: str | None = None):
    """The detector's pooled PR curve (:func:`detection_pr_curve`), with the chosen threshold (star) and
    the points of the thresholds in ``marks`` (circles, e.g. ultralytics' 0.25 and the "obvious" 0.5).

    >>> truth = Detections(xyxy=[[0, 0, 10, 10]], class_id=[0], class_names=["part"])
    >>> pred = Detections(xyxy=[[0, 0, 10, 10]], class_id=[0], class_names=["part"], confidence=[0.9])
    >>> plot_detection_pr(detection_pr_curve([pred], [truth])).axes[0].get_xlabel()
    'recall (objects found / all objects)'
    """
    return plot_pr_curve(curve, choice, ax, title, marks=marks, label=f"all boxes, pooled ({curve.n_positive} objects)",
                         xlabel="recall (objects found / all objects)", ylabel="precision (kept boxes that are right)",
                         figsize=(5.0, 4.0))
