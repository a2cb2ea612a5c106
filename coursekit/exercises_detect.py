"""Checks for notebook 03's exercises (the contract of :mod:`coursekit.exercise_base`) against torchvision's
``box_iou``/``nms``, ``coursekit.data.yolo``, pycocotools' COCOeval and :func:`coursekit.anchors.kmeans_iou_anchors`.

>>> def my_nms(boxes, scores, iou_threshold, classes=None):
...     ...  # your code here
>>> check_nms(my_nms)  # doctest: +ELLIPSIS
… nms: not attempted yet — hint: ...
False
"""
from __future__ import annotations

import copy
import functools
import math
from typing import Callable

import numpy as np
import torch
import torchvision
from torchvision.ops import box_iou

from .detection_metrics import coco_ap
from .exercise_base import (ExerciseError, as_array, check_cases, close, correct, exercise, not_attempted,
                            number, others, wrong)

__all__ = ["check_iou", "check_yolo_to_xyxy", "check_nms", "check_average_precision", "check_kmeans_anchors",
           "check_pr_reading", "coco_ap", "ExerciseError"]

_IOU_CASES = [(f"iou({a}, {b}): {what}", (a, b)) for what, a, b in [  # x1, y1, x2, y2, continuous pixels
    ("partial overlap", [0, 0, 10, 10], [5, 5, 15, 15]),
    ("partial overlap, fractional coordinates", [12.5, 30.0, 60.0, 80.5], [20.0, 10.25, 70.0, 60.0]),
    ("one box inside the other", [10, 10, 50, 50], [20, 20, 30, 30]),
    ("identical boxes", [3.0, 4.0, 40.0, 30.0], [3.0, 4.0, 40.0, 30.0]),
    ("disjoint boxes (apart in x and in y)", [0, 0, 10, 10], [20, 20, 30, 30]),
    ("disjoint boxes (side by side: apart in x, level in y)", [0, 0, 10, 10], [20, 0, 30, 10]),
    ("touching edges (a shared side, no shared area)", [0, 0, 10, 10], [10, 0, 20, 10]),
    ("boxes given as tuples", (2.0, 3.0, 8.0, 9.0), (0, 0, 4, 6)),
    ("a wide and a tall box crossing", [0, 40, 100, 60], [40, 0, 60, 100])]]

_IOU_HINT = ("the overlap is a box too: its width is min(x2) − max(x1) and its height min(y2) − max(y1), each "
             "clamped at 0; IoU = overlap area / (area_a + area_b − overlap area), with area = (x2 − x1) · (y2 − y1).")


def _iou_variant(plus_one=False, clamp=True, union="union", xywh=False) -> Callable:
    def iou(a, b):
        a, b = [float(v) for v in a], [float(v) for v in b]
        if xywh:
            a, b = [a[0], a[1], a[0] + a[2], a[1] + a[3]], [b[0], b[1], b[0] + b[2], b[1] + b[3]]
        one = 1.0 if plus_one else 0.0
        iw, ih = min(a[2], b[2]) - max(a[0], b[0]) + one, min(a[3], b[3]) - max(a[1], b[1]) + one
        inter = max(iw, 0.0) * max(ih, 0.0) if clamp else iw * ih
        area_a, area_b = (a[2] - a[0] + one) * (a[3] - a[1] + one), (b[2] - b[0] + one) * (b[3] - b[1] + one)
        denominator = {"union": area_a + area_b - inter, "sum": area_a + area_b, "min": min(area_a, area_b),
                       "a": area_a}[union]
        return inter / denominator if denominator else math.nan

    return iou


_IOU_VARIANTS = [  # (the wrong IoU, its hint)
    (_iou_variant(plus_one=True), "no `+ 1`: coordinates here are continuous, so a box is x2 − x1 wide (the `+ 1` "
                                  "is Pascal VOC's inclusive integer pixels, and makes touching boxes overlap)."),
    (_iou_variant(clamp=False), "clamp the overlap's width and height at 0 (max(0, ...)) before multiplying: for "
                                "disjoint boxes two negatives make a positive 'overlap'."),
    (_iou_variant(union="sum"), "the union counts the overlap once: area_a + area_b − intersection (two identical "
                                "boxes would score 0.5)."),
    (_iou_variant(union="min"), "that is the intersection over the *smaller* box; IoU divides by the union, area_a + "
                                "area_b − intersection."),
    (_iou_variant(union="a"), "divide by the union, area_a + area_b − intersection, not by box_a's area alone."),
    (_iou_variant(xywh=True), "the boxes are corners x1, y1, x2, y2, not x, y, width, height: the width is x2 − x1."),
]


def _iou_error_hint(e: Exception) -> str | None:
    if isinstance(e, (TypeError, AttributeError)) and "tuple" in str(e):
        return "a box may be a list or a tuple: unpack it with `x1, y1, x2, y2 = box_a` and compute with those."
    if isinstance(e, ZeroDivisionError):
        return "the union is never 0 for boxes with an area: area_a + area_b − intersection."
    return None


def _iou_reference(a, b) -> float:
    return float(box_iou(*[torch.tensor([list(map(float, box))], dtype=torch.float64) for box in (a, b)])[0, 0])


@exercise("iou", _IOU_HINT)
def check_iou(fn: Callable) -> bool:
    """Check ``fn(box_a, box_b) -> float`` (x1, y1, x2, y2 boxes) against ``torchvision.ops.box_iou``."""
    def mistake(i, got, expected):
        values = [got] + [v for _, v in others(fn, [copy.deepcopy(args) for _, args in _IOU_CASES])]
        if max(values) > 1 + 1e-6:
            return (f"your function gave {max(values):.4g} on one of the cases, but an IoU is at most 1 (the "
                    "overlap is never larger than the union). " + _IOU_HINT)
        if min(values) < -1e-6:
            return (f"your function gave {min(values):.4g} on one of the cases, but an IoU is never negative "
                    "(clamp the overlap's width and height at 0). " + _IOU_HINT)

    n = check_cases(fn, _IOU_CASES, name="iou", hint=_IOU_HINT, reference=_iou_reference, variants=_IOU_VARIANTS,
                    across=True, mistake=mistake, show=lambda v: f"{v:.6g}", source="   (torchvision.ops.box_iou)",
                    error_hint=_iou_error_hint)
    return correct(f"iou matches torchvision.ops.box_iou on all {n} cases (containment, disjoint and touching boxes "
                   "included).")


_YOLO_CASES = [("yolo_to_xyxy(cx={}, cy={}, w={}, h={}, img_w={}, img_h={}): ".format(*args) + what, tuple(args))
               for what, *args in [  # cx, cy, w, h as YOLO fractions, then the image size in pixels
    ("a 640×480 image", 0.5, 0.4, 0.25, 0.5, 640, 480),
    ("a 100×200 image (taller than wide)", 0.3, 0.2, 0.4, 0.2, 100, 200),
    ("a box on the left edge of a 1280×720 image", 0.1, 0.5, 0.2, 0.3, 1280, 720),
    ("a box in the bottom-right corner of a 320×240 image", 0.9, 0.85, 0.2, 0.3, 320, 240),
    ("a small box, fractional pixels, 333×500 image", 0.4567, 0.1234, 0.05, 0.0321, 333, 500)]]

_YOLO_HINT = ("cx, cy is the box's centre and w, h its size, all as fractions of the image: x1 = (cx − w/2) · img_w, "
              "y1 = (cy − h/2) · img_h, x2 = (cx + w/2) · img_w, y2 = (cy + h/2) · img_h.")


def _yolo_reference(cx, cy, w, h, img_w, img_h):
    from .data.yolo import yolo_to_xyxy

    return yolo_to_xyxy([[cx, cy, w, h]], w=img_w, h=img_h)[0]


_YOLO_VARIANTS = [  # (the wrong conversion, its hint)
    (lambda cx, cy, w, h, W, H: (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2),
     "YOLO numbers are fractions of the image size: multiply the x values (cx, w) by img_w and the y values "
     "(cy, h) by img_h to get pixels."),
    (lambda cx, cy, w, h, W, H: (cx * W, cy * H, (cx + w) * W, (cy + h) * H),
     "cx, cy is the *centre* of the box, not its top-left corner: x1 = (cx − w/2) · img_w."),
    (lambda cx, cy, w, h, W, H: ((cx - w / 2) * H, (cy - h / 2) * W, (cx + w / 2) * H, (cy + h / 2) * W),
     "x values (cx, w) scale with the image *width* (img_w), y values (cy, h) with its height (img_h): you "
     "swapped them (a square image would not show it)."),
    (lambda cx, cy, w, h, W, H: ((cx - w) * W, (cy - h) * H, (cx + w) * W, (cy + h) * H),
     "w is the box's whole width: each side is *half* a width from the centre, cx ± w/2 (not cx ± w)."),
    (lambda cx, cy, w, h, W, H: ((cx - w / 2) * W, (cy - h / 2) * H, w * W, h * H),
     "return the corners x1, y1, x2, y2, not x, y, width, height: x2 = x1 + w · img_w."),
    (lambda cx, cy, w, h, W, H: ((cx - w / 2) * W, (cx + w / 2) * W, (cy - h / 2) * H, (cy + h / 2) * H),
     "the order is x1, y1, x2, y2 (top-left corner, then bottom-right), not x1, x2, y1, y2."),
    (lambda *args: [round(v) for v in _yolo_reference(*args)],
     "don't round: pixel coordinates are continuous, keep the fractions (floats)."),
    (lambda *args: [int(v) for v in _yolo_reference(*args)],
     "don't convert to int: pixel coordinates are continuous, keep the fractions (floats)."),
]


def _four(out, name: str, case: str):
    arr = as_array(out, name, case, "the four corners, e.g. `return x1, y1, x2, y2`").reshape(-1)
    if arr.size != 4:
        raise ExerciseError(f"{name}: for {case} your function returned {arr.size} numbers ({out!r}); "
                            "return the four corners, e.g. `return x1, y1, x2, y2`")
    return arr


def _show(values) -> str:
    return "(" + ", ".join(f"{float(v):.6g}" for v in values) + ")"


@exercise("yolo_to_xyxy", _YOLO_HINT)
def check_yolo_to_xyxy(fn: Callable) -> bool:
    """Check ``fn(cx, cy, w, h, img_w, img_h) -> (x1, y1, x2, y2)`` pixels, within 0.001."""
    n = check_cases(fn, _YOLO_CASES, name="yolo_to_xyxy", hint=_YOLO_HINT, reference=_yolo_reference, convert=_four,
                    same=lambda a, b: close(a, b, tol=1e-3), show=_show, source="   (coursekit.data.yolo.yolo_to_xyxy)",
                    variants=_YOLO_VARIANTS, across=True)
    return correct(f"yolo_to_xyxy matches coursekit.data.yolo.yolo_to_xyxy on all {n} boxes (non-square images, "
                   "boxes on the border).")


_PR_HINT = ("keep the points of the curve whose precision is at least min_precision; among them take the one with "
            "the highest recall (furthest right) and answer its threshold (boxes with score >= threshold are kept).")


def _pr_points(precision, recall, thresholds):
    """(precision, recall, thresholds), thresholds ascending, scikit-learn's last point dropped."""
    p, r, t = (np.asarray(x.detach().cpu().numpy() if hasattr(x, "detach") else x, dtype=np.float64)
               for x in (precision, recall, thresholds))
    if bad := next(((what, a.shape) for a, what in ((p, "precision"), (r, "recall"), (t, "thresholds")) if a.ndim != 1),
                   None):
        raise ValueError(f"{bad[0]} must be a 1-D array; got shape {bad[1]}")
    if len(p) != len(r):
        raise ValueError(f"precision and recall must have the same length; got {len(p)} and {len(r)}")
    if len(p) == len(t) + 1:
        p, r = p[:-1], r[:-1]
    elif len(p) != len(t):
        raise ValueError(f"expected one precision and recall per threshold (or one more, as scikit-learn's "
                         f"precision_recall_curve returns); got {len(p)} points for {len(t)} thresholds")
    if not len(t):
        raise ValueError("the curve has no threshold")
    order = np.argsort(t, kind="stable")
    p, r, t = p[order], r[order], t[order]
    if np.any(np.diff(t) == 0):
        raise ValueError("the thresholds must be distinct (each distinct score once, as precision_recall_curve "
                         "gives them)")
    return p, r, t


def _best_point(p, r, t, min_precision: float, on: str = "precision") -> int | None:
    """The highest-recall point with precision >= min_precision (``on="recall"``: axes swapped)."""
    target, maximise = (p, r) if on == "precision" else (r, p)
    ok = np.nan_to_num(target, nan=-1.0) >= min_precision - 1e-12
    if not ok.any():
        return None
    top = np.nan_to_num(maximise, nan=-1.0)[ok].max()
    return int(np.flatnonzero(ok & (np.abs(np.nan_to_num(maximise, nan=-1.0) - top) <= 1e-12))[-1])


def check_pr_reading(answer, precision, recall, thresholds, min_precision: float, tolerance: float = 0.02) -> bool:
    """Check a threshold read off a PR curve: the highest recall with precision >= ``min_precision`` (``None``
    if none), or a point within ``tolerance`` of both (0: exact only).

    >>> precision = [0.6, 0.75, 0.8, 1.0, 1.0, 1.0]   # scikit-learn's layout: the last point has no threshold
    >>> recall = [1.0, 1.0, 0.67, 0.67, 0.33, 0.0]
    >>> thresholds = [0.1, 0.3, 0.5, 0.7, 0.9]
    >>> check_pr_reading(0.65, precision, recall, thresholds, min_precision=0.9)  # doctest: +ELLIPSIS
    ✓ correct: threshold 0.65 keeps the same boxes as 0.7: precision 1 >= 0.9 at recall 0.67, ...
    True
    """
    name = "pr_reading"
    p, r, t = _pr_points(precision, recall, thresholds)
    mp = float(min_precision)
    case = f"the PR curve given ({len(t)} thresholds from {t[0]:.4g} to {t[-1]:.4g}), min_precision={mp:g}"
    k = _best_point(p, r, t, mp)
    if answer is Ellipsis or (answer is None and k is not None):
        return not_attempted(name, _PR_HINT)
    if k is None:
        top = int(np.nanargmax(p))
        if answer is None:
            return correct(f"no point of the curve reaches precision {mp:g} (the highest is {p[top]:.3g}, at "
                           f"threshold {t[top]:.4g}): no threshold meets the target.")
        raise wrong(name, case, "None (no threshold reaches the target)", answer,
                    f"no point of the curve reaches precision {mp:g}: the highest is {p[top]:.3g}, at threshold "
                    f"{t[top]:.4g}; answer None.")
    got = number(answer, name, case)
    best, lower = float(t[k]), (float(t[k - 1]) if k else -math.inf)
    where = f"precision {p[k]:.3g} >= {mp:g} at recall {r[k]:.3g}"
    if lower + 1e-9 < got <= best + 1e-9:
        same = "" if math.isclose(got, best, abs_tol=1e-9) else f" keeps the same boxes as {best:.6g}"
        return correct(f"threshold {got:.6g}{same}: {where}, the highest recall that keeps precision >= {mp:g}.")
    j = int(np.searchsorted(t, got - 1e-9))  # the point `score >= got` gives: the lowest threshold >= got
    if (tolerance > 0 and not isinstance(answer, bool) and j < len(t) and p[j] >= mp - tolerance
            and r[j] >= r[k] - tolerance):
        return correct(f"threshold {got:.4g} is within the stated tolerance ({tolerance:g}): precision {p[j]:.3f}, "
                       f"recall {r[j]:.3f}; the exact point is threshold {t[k]:.6g} (precision {p[k]:.3f}, recall "
                       f"{r[k]:.3f}).")
    span = (f"any value in ({lower:.6g}, {best:.6g}] keeps the same boxes" if k
            else f"the lowest score: any value <= {best:.6g} keeps every box")
    expected = f"{best:.6g}   ({where}; {span})"
    in_unit = bool(t[0] >= 0 and t[-1] <= 1)
    rounded = any(math.isclose(got, round(best, d), abs_tol=1e-12) and abs(got - best) < 0.45 * 10 ** -d
                  for d in range(1, 7))  # not a half-way case: 0.85 is not "0.8 rounded"
    if in_unit and not 0 <= got <= 1:
        hint = ("give the threshold as a fraction between 0 and 1, not a percentage."
                if got > 1 and lower + 1e-9 < got / 100 <= best + 1e-9 else
                f"a threshold is a score between 0 and 1 (this curve's go from {t[0]:.4g} to {t[-1]:.4g}). " + _PR_HINT)
    elif math.isclose(got, r[k], abs_tol=1e-6) or math.isclose(got, p[k], abs_tol=1e-6):
        which = "recall" if math.isclose(got, r[k], abs_tol=1e-6) else "precision"
        hint = (f"{got:g} is the {which} at the right point; the question asks for the point's *threshold* "
                f"(the score cut-off that gives it).")
    elif math.isclose(got, mp, abs_tol=1e-9):
        hint = (f"{mp:g} is the target for precision, not a threshold on the scores: find the point where "
                "precision reaches it and answer that point's threshold.")
    elif rounded:
        nxt = f"the next score below is {lower:.6g}" if got < best else "a threshold above it keeps fewer boxes"
        hint = (f"{got:g} looks like {best:.6g} rounded, and the rounding changes the point ({nxt}): give the "
                "threshold with more digits.")
    elif j == len(t):
        hint = f"{got:g} is above every score: nothing is kept (recall 0). " + _PR_HINT
    elif not p[j] >= mp - 1e-12:
        hint = (f"you read the axes the other way round: the target {mp:g} is on *precision* (y axis); among "
                "the points that reach it, take the highest *recall* (x axis)."
                if j == _best_point(p, r, t, mp, on="recall") else
                f"at threshold {got:g} precision is {p[j]:.3g}, below the target {mp:g}: a higher threshold keeps "
                "fewer, surer boxes.")
    elif j > k:
        hint = (f"that is the point with the highest precision ({p[j]:.3g}); the question asks for the highest "
                f"*recall* among the points with precision >= {mp:g}." if p[j] > p[k] and p[j] >= np.nanmax(p) - 1e-12
                else f"a lower threshold still keeps precision >= {mp:g} and finds more: recall {r[k]:.3g} at "
                f"{best:.6g}, against {r[j]:.3g} at yours.")
    else:  # j < k: the same recall, with more boxes kept
        hint = (f"thresholds from {got:g} up to {best:.6g} all give recall {r[k]:.3g}: take the highest "
                "(the same objects found, fewer false boxes).")
    raise wrong(name, case, expected, f"{got:g}", hint)


_NMS_HINT = ("order the boxes by score, highest first; repeatedly keep the best remaining box and drop every "
             "remaining box whose IoU with it is > iou_threshold (torchvision.ops.box_iou); with classes given, "
             "only boxes of the same class suppress each other. Return the kept indices (into the inputs) as a "
             "LongTensor, highest score first.")


def _nms_cases():
    g = torch.Generator().manual_seed(0)
    xy = torch.rand(40, 2, generator=g) * 60
    rnd = torch.cat([xy, xy + 8 + torch.rand(40, 2, generator=g) * 25], dim=1)
    rnd_scores = torch.randperm(40, generator=g).float() / 40 + 0.01
    rnd_classes = torch.randint(0, 3, (40,), generator=g)
    t = torch.tensor
    return [
        ("two overlapping boxes and one apart", t([[0., 0, 10, 10], [1, 1, 11, 11], [30, 30, 40, 40]]),
         t([0.9, 0.8, 0.7]), 0.5, None),
        ("boxes not given in score order", t([[1., 1, 11, 11], [30, 30, 40, 40], [0, 0, 10, 10]]),
         t([0.6, 0.7, 0.9]), 0.5, None),
        ("a chain: A overlaps B, B overlaps C, A does not overlap C",
         t([[0., 0, 10, 10], [4, 0, 14, 10], [8, 0, 18, 10]]), t([0.9, 0.8, 0.7]), 0.3, None),
        ("IoU exactly equal to the threshold (0.5)", t([[0., 0, 10, 10], [0, 0, 10, 5]]), t([0.9, 0.8]), 0.5, None),
        ("no boxes at all", torch.zeros((0, 4)), torch.zeros(0), 0.5, None),
        ("per class: two overlapping boxes of different classes, and two of the same",
         t([[0., 0, 10, 10], [1, 1, 11, 11], [40, 40, 50, 50], [41, 41, 51, 51]]), t([0.9, 0.8, 0.7, 0.6]), 0.5,
         t([0, 1, 2, 2])),
        ("40 random boxes, threshold 0.5", rnd, rnd_scores, 0.5, None),
        ("the same 40 boxes in 3 classes, threshold 0.4", rnd, rnd_scores, 0.4, rnd_classes),
    ]


def _nms_variant(boxes, scores, thr, classes, *, sort=True, ge=False, agnostic=False, chain=False, keep_order=False):
    n = len(boxes)
    order = torch.argsort(scores, descending=True) if sort else torch.arange(n)
    iou = box_iou(boxes, boxes) if n else torch.zeros((0, 0))
    removed = torch.zeros(n, dtype=torch.bool)
    keep = []
    for i in order.tolist():
        if removed[i] and not chain:
            continue
        if not removed[i]:
            keep.append(i)
        over = iou[i] >= thr if ge else iou[i] > thr
        if classes is not None and not agnostic:
            over &= classes == classes[i]
        over[i] = False
        removed |= over
    keep = torch.tensor(keep, dtype=torch.long)
    return torch.sort(keep).values if keep_order else keep


_NMS_VARIANTS = [
    (dict(sort=False), "sort them by score first (torch.argsort(scores, descending=True)): the best box is kept."),
    (dict(ge=True), "a box is suppressed when its IoU is strictly greater than iou_threshold (>), not >=."),
    (dict(agnostic=True), "with classes given, only boxes of the same class suppress each other, not class-agnostic."),
    (dict(chain=True), "a suppressed box must not suppress others: in the chain A-B-C, B goes and C stays."),
    (dict(keep_order=True), "right boxes, wrong order: return the kept indices highest score first."),
]


def _as_indices(out, name: str, case: str):
    if isinstance(out, torch.Tensor) and out.dtype == torch.bool:
        raise ExerciseError(f"{name}: for {case} you returned a boolean mask; return the kept *indices* "
                            "(torch.nonzero(mask).flatten(), highest score first)")
    try:
        t = torch.as_tensor(out).reshape(-1)
    except Exception:  # noqa: BLE001
        raise ExerciseError(f"{name}: for {case} you returned {type(out).__name__}; return a 1-D tensor of "
                            "indices") from None
    if t.is_floating_point() and len(t) and (t != t.round()).any():
        raise ExerciseError(f"{name}: for {case} you returned floats {t.tolist()[:6]}: return the kept boxes' "
                            "indices, not their scores or coordinates")
    return t.long()


@exercise("nms", _NMS_HINT)
def check_nms(fn: Callable) -> bool:
    """Check ``fn(boxes, scores, iou_threshold, classes=None)`` -> kept indices against torchvision."""
    cases = [(f"{what} (iou_threshold={thr})", (boxes, scores, thr) + (() if classes is None else (classes,)))
             for what, boxes, scores, thr, classes in _nms_cases()]

    def reference(boxes, scores, thr, classes=None):
        return (torchvision.ops.nms(boxes, scores, thr) if classes is None
                else torchvision.ops.batched_nms(boxes, scores, classes, thr))

    def mistake(i, got, want):
        args = cases[i][1]
        hint = next((h for kw, h in _NMS_VARIANTS if _nms_variant(*args[:3], args[3] if len(args) > 3 else None,
                                                                   **kw).tolist() == got.tolist()), None)
        if hint is None and len(got) > len(want) and set(want.tolist()) <= set(got.tolist()):
            hint = ("you keep boxes that should be suppressed: after keeping a box, drop every remaining box "
                    "whose IoU with it is > iou_threshold. " + _NMS_HINT)
        return hint

    n = check_cases(fn, cases, name="nms", hint=_NMS_HINT, reference=reference, convert=_as_indices,
                    same=lambda a, b: a.tolist() == b.tolist(), mistake=mistake, show=lambda t: str(t.tolist()))
    return correct(f"your NMS keeps the same boxes as torchvision.ops.nms / batched_nms on {n} cases.")


_AP_HINT = ("for each class with ground truth: collect every prediction of that class over all images with its "
            "score, match each image's predictions (highest score first) to the unmatched ground-truth box of "
            "highest IoU >= iou_threshold (a match is a true positive, anything else a false positive); sort all "
            "by score (a stable sort), cumulate TP and FP into precision and recall, take the precision "
            "envelope (precision[i] = max(precision[i:])), read it at the 101 recalls np.linspace(0, 1, 101) "
            "(np.searchsorted(recall, r, side='left'), 0 past the end) and average. mAP = mean over the classes "
            "that have ground truth.")


def _dets(class_names, boxes, classes, scores=None, size=(100, 100)):
    from .types import Detections

    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return Detections(xyxy=boxes, class_id=np.asarray(classes, dtype=np.int64).reshape(-1), class_names=class_names,
                      confidence=None if scores is None else np.asarray(scores, dtype=np.float64).reshape(-1),
                      image_size=size)


def _ap_cases():
    D = functools.partial(_dets, ["washer", "gear", "hinge"])
    rng = np.random.default_rng(0)
    cases = [
        ("one class, a false box ranked between two hits, one object missed",
         [D([[0, 0, 10, 10], [50, 50, 60, 60], [20, 20, 30, 30], [80, 80, 90, 90]], [0, 0, 0, 0],
            [0.9, 0.8, 0.7, 0.3])],
         [D([[0, 0, 10, 10], [20, 20, 30, 30], [60, 0, 70, 10]], [0, 0, 0])], 0.5),
        ("tied scores: a hit and a false box with the same score, on two images",
         [D([[0, 0, 10, 10], [40, 40, 50, 50]], [0, 0], [0.8, 0.6]),
          D([[0, 0, 10, 10], [70, 70, 80, 80]], [0, 0], [0.8, 0.6])],
         [D([[0, 0, 10, 10]], [0]), D([[70, 70, 80, 80], [20, 20, 30, 30]], [0, 0])], 0.5),
        ("an image with no ground truth: its boxes are false positives",
         [D([[0, 0, 10, 10]], [0], [0.5]), D([[30, 30, 40, 40], [5, 5, 15, 15]], [0, 0], [0.9, 0.7])],
         [D([[0, 0, 10, 10]], [0]), D(np.zeros((0, 4)), [])], 0.5),
        ("'hinge' is predicted but absent from the ground truth; 'gear' has objects but no prediction",
         [D([[0, 0, 10, 10], [30, 30, 40, 40], [60, 60, 70, 70]], [0, 2, 2], [0.9, 0.95, 0.4])],
         [D([[0, 0, 10, 10], [80, 0, 90, 10]], [0, 1])], 0.5),
        ("two predictions on one object: the second is a duplicate (a false positive)",
         [D([[0, 0, 10, 10], [0.5, 0.5, 10.5, 10.5], [20, 20, 30, 30]], [0, 0, 0], [0.9, 0.85, 0.6])],
         [D([[0, 0, 10, 10], [20, 20, 30, 30]], [0, 0])], 0.5),
        ("IoU exactly 0.5 (a box half the object's height): it matches",
         [D([[0, 0, 10, 5], [40, 40, 50, 50]], [0, 0], [0.9, 0.8])],
         [D([[0, 0, 10, 10], [40, 40, 50, 50]], [0, 0])], 0.5)]
    preds, targets = [], []
    for i in range(6):
        n = int(rng.integers(0, 5))
        xy = rng.uniform(0, 70, (n, 2))
        gt = np.concatenate([xy, xy + rng.uniform(12, 30, (n, 2))], axis=1)
        gc, hit = rng.integers(0, 3, n), rng.random(n) < 0.7
        pb = gt[hit] + rng.normal(0, 2.5, (int(hit.sum()), 4))
        pc = np.where(rng.random(int(hit.sum())) < 0.85, gc[hit], rng.integers(0, 3, int(hit.sum())))
        m = int(rng.integers(0, 3))
        fxy = rng.uniform(0, 80, (m, 2))
        boxes = np.concatenate([pb, np.concatenate([fxy, fxy + rng.uniform(8, 20, (m, 2))], axis=1)])
        scores = np.round(rng.uniform(0.05, 1, len(boxes)), 1)  # rounded: ties happen
        preds.append(D(boxes, np.concatenate([pc, rng.integers(0, 3, m)]), scores))
        targets.append(D(gt, gc))
    return cases + [("6 random images, 3 classes (jittered hits, false boxes, tied scores), IoU 0.5", preds, targets,
                     0.5), ("the same 6 images at IoU 0.75", preds, targets, 0.75)]


def _matches(p, t, c, thr, *, strict=False, reuse=False):
    """(scores, is_tp) of class ``c`` on one image, pycocotools' greedy matching."""
    pm, tm = np.asarray(p.class_id) == c, np.asarray(t.class_id) == c
    pb, ps, tb = np.asarray(p.xyxy, float)[pm], np.asarray(p.confidence, float)[pm], np.asarray(t.xyxy, float)[tm]
    order = np.argsort(-ps, kind="stable")
    pb, ps = pb[order], ps[order]
    iou = (box_iou(torch.as_tensor(pb), torch.as_tensor(tb)).numpy() if len(pb) and len(tb)
           else np.zeros((len(pb), len(tb))))
    taken, tp = np.zeros(len(tb), bool), np.zeros(len(pb), bool)
    for i in range(len(pb)):
        ok = (iou[i] > thr if strict else iou[i] >= thr) & (np.ones_like(taken) if reuse else ~taken)
        if ok.any():
            j = int(np.argmax(np.where(ok, iou[i], -1)))
            taken[j] = tp[i] = True
    return ps, tp


def _ap_variant(preds, targets, thr, *, envelope=True, points=101, area=None, strict=False, reuse=False,
                skip_empty=False, absent_zero=False, ties=None):
    names = targets[0].class_names
    aps = []
    for c in range(len(names)):
        n_gt = sum(int((np.asarray(t.class_id) == c).sum()) for t in targets)
        if n_gt == 0 and not absent_zero:
            continue
        s, tp = [], []
        for p, t in zip(preds, targets):
            if skip_empty and len(t) == 0:
                continue
            a, b = _matches(p, t, c, thr, strict=strict, reuse=reuse)
            s.append(a)
            tp.append(b)
        s, tp = np.concatenate(s), np.concatenate(tp)
        if n_gt == 0:
            aps.append(0.0)
            continue
        order = (np.argsort(-s, kind="stable") if ties is None  # else: tied scores, hits last / first
                 else np.lexsort((tp, -s)) if ties == "fp" else np.lexsort((~tp, -s)))
        tp = tp[order]
        ctp, cfp = np.cumsum(tp), np.cumsum(~tp)
        rc, pr = ctp / n_gt, ctp / np.maximum(ctp + cfp, 1e-12)
        if envelope and area != "raw" and len(pr):
            pr = np.maximum.accumulate(pr[::-1])[::-1]
        if area is not None:  # the area under the raw curve or its envelope, at every recall step
            aps.append(float(np.sum(pr * np.diff(np.concatenate([[0], rc])))))
            continue
        r = np.linspace(0, 1, points)
        idx = np.searchsorted(rc, r, side="left")
        q = np.array([pr[i] if i < len(pr) else 0.0 for i in idx])
        aps.append(float(q.mean()))
    return float(np.mean(aps)) if aps else math.nan


_TIES = ("tied scores: sort with a stable sort (np.argsort(-scores, kind='stable')) over the predictions in image "
         "order, as pycocotools does.")
_AP_VARIANTS = [
    (dict(envelope=False), "no precision envelope: before reading the 101 recalls, replace each precision by the "
                           "highest at any higher recall: np.maximum.accumulate(precision[::-1])[::-1]."),
    (dict(points=11), "that is Pascal VOC 2007's 11-point AP (recalls 0, 0.1, ..., 1); COCO reads the envelope at "
                      "101 recalls: np.linspace(0, 1, 101)."),
    (dict(area="raw"), "that is the area under the raw precision-recall curve (sum of precision x recall step); "
                       "COCO averages the precision envelope read at 101 recall points."),
    (dict(area="envelope"), "that is the area under the precision envelope at every recall step (VOC 2010+); COCO "
                            "averages it at 101 fixed recalls."),
    (dict(reuse=True), "a ground-truth box can be matched only once: a second prediction on it is a false positive."),
    (dict(skip_empty=True), "the boxes on an image without ground truth are false positives too: do not skip it."),
    (dict(absent_zero=True), "a class absent from the ground truth has no AP (COCO leaves it out of the mean); "
                             "yours counts it as 0. Average over the classes that have ground-truth boxes."),
    (dict(strict=True), "a prediction matches when IoU >= iou_threshold (COCO); yours needs IoU > iou_threshold."),
    (dict(ties="fp"), _TIES),
    (dict(ties="tp"), _TIES),
]


@exercise("average_precision", _AP_HINT)
def check_average_precision(fn: Callable) -> bool:
    """Check ``fn(preds, targets, iou_threshold=0.5) -> mAP`` against pycocotools."""
    cases = [(f"{what} (iou_threshold={thr})", (preds, targets, thr)) for what, preds, targets, thr in _ap_cases()]
    variants = [(lambda p, t, thr, kw=kw: _ap_variant(p, t, thr, **kw), h) for kw, h in _AP_VARIANTS]
    n = check_cases(fn, cases, name="average_precision", hint=_AP_HINT, reference=coco_ap, variants=variants,
                    across=True, show=lambda v: f"{v:.6f}", source=" (pycocotools)", mistake=lambda i, got, _:
                    None if 0 <= got <= 1 else f"AP is a fraction between 0 and 1. {_AP_HINT}")
    return correct(f"your AP matches pycocotools' COCOeval on {n} cases (ties, an image without "
                   "ground truth, a class absent from it, duplicates, IoU at the threshold).")


_KM_HINT = ("rng = np.random.default_rng(seed); centres = wh[rng.choice(len(wh), k, replace=False)]; then repeat: "
            "IoU of every (w, h) with every centre as if they shared a corner (intersection = min(w) * min(h)), "
            "each box joins the centre of highest IoU (distance 1 - IoU), each centre becomes the mean of its "
            "boxes (an empty one stays), stop when no centre moves; return the centres sorted by area w * h.")


def _km_cases():
    rng = np.random.default_rng(0)
    small = rng.uniform(6, 30, (60, 2))
    tall = np.stack([rng.uniform(10, 25, 20), rng.uniform(60, 120, 20)], axis=1)
    big = rng.uniform(120, 300, (20, 2))
    mixed = np.concatenate([small, tall, big])
    parts = np.concatenate([rng.normal(40, 6, (40, 2)), rng.normal(80, 10, (40, 2)), rng.normal([30, 90], 5, (30, 2))])
    return [("4 boxes in two obvious groups, k=2", np.array([[10., 10], [12, 12], [50, 100], [54, 96]]), 2, 0),
            ("100 boxes from 6 to 300 px (small, tall, big), k=5", mixed, 5, 0),
            ("the same 100 boxes, k=9, seed 3", mixed, 9, 3),
            ("110 part-sized boxes in three groups, k=3", np.abs(parts) + 2, 3, 1)]


def _km_variant(wh, k, seed, *, euclid=False, median=False):
    rng = np.random.default_rng(seed)
    centres = wh[rng.choice(len(wh), k, replace=False)]
    for _ in range(100):
        if euclid:
            score = -((wh[:, None, :] - centres[None]) ** 2).sum(-1)
        else:
            inter = np.minimum(wh[:, None, 0], centres[None, :, 0]) * np.minimum(wh[:, None, 1], centres[None, :, 1])
            score = inter / (wh.prod(1)[:, None] + centres.prod(1)[None] - inter)
        a = score.argmax(1)
        agg = np.median if median else np.mean
        new = np.array([agg(wh[a == j], axis=0) if (a == j).any() else centres[j] for j in range(k)])
        if np.allclose(new, centres, rtol=0, atol=1e-12):
            break
        centres = new
    return centres[np.argsort(centres.prod(1), kind="stable")]


@exercise("kmeans_anchors", _KM_HINT)
def check_kmeans_anchors(fn: Callable) -> bool:
    """Check ``fn(wh, k, seed)`` -> (k, 2) anchors against :func:`coursekit.anchors.kmeans_iou_anchors`."""
    from .anchors import kmeans_iou_anchors

    cases = [(what, (wh, k, seed)) for what, wh, k, seed in _km_cases()]
    same = lambda a, b: close(a, b, 1e-6, 1e-6)  # noqa: E731

    def mistake(i, got, want):
        wh, k, seed = cases[i][1]
        if not close(as_array(fn(wh.copy(), k, seed), "", ""), got, 1e-9, 1e-9):
            return ("two calls with the same seed gave different anchors: draw the starting centres from "
                    "np.random.default_rng(seed), not from an unseeded generator.")
        if same(got[np.argsort(got.prod(1), kind="stable")], want):
            return "the right anchors, in the wrong order: sort them by area (w * h), smallest first."
        if same(np.sort(got.ravel()), np.sort(want.ravel())):
            return "your anchors hold the right numbers in the wrong places: return one (w, h) row per anchor."

    n = check_cases(fn, cases, name="kmeans_anchors", hint=_KM_HINT, convert=as_array, same=same, mistake=mistake,
                    reference=lambda wh, k, seed: kmeans_iou_anchors(wh, n=k, seed=seed),
                    shape_hint="one (w, h) row per anchor: shape (k, 2).", show=lambda v: np.round(v, 3).tolist(),
                    variants=[(functools.partial(_km_variant, euclid=True), "that is k-means with the Euclidean "
                               "distance on (w, h): big boxes then dominate. Use 1 - IoU: join the centre of *highest* "
                               "IoU (intersection min(w) * min(h) over the union)."),
                              (functools.partial(_km_variant, median=True), "the centres are the *mean* (w, h) of "
                               "their boxes in this recipe, not the median.")])
    return correct(f"your k-means gives coursekit.anchors.kmeans_iou_anchors' anchors on {n} cases.")
