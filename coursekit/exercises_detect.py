"""Checks for notebook 03's detection exercises, in the style of :mod:`coursekit.exercises` (blank -> a hint and
``False``; wrong -> :class:`ExerciseError` naming the case, the expected value, yours and the likely mistake).

References: ``torchvision.ops.nms`` / ``batched_nms`` for NMS, pycocotools' ``COCOeval`` for AP at one IoU
threshold (COCO's 101-point interpolation), :func:`coursekit.anchors.kmeans_iou_anchors` for the anchor
k-means. The wrong variants below exist only to *name* a mistake; the expected values always come from the
reference. The earlier detection checks (``check_iou``, ``check_yolo_to_xyxy``) live in
:mod:`coursekit.exercises` and are re-exported here; :func:`check_pr_reading` adds a stated tolerance for a
threshold read off a plot.

>>> def my_nms(boxes, scores, iou_threshold, classes=None):
...     ...  # your code here
>>> check_nms(my_nms)  # doctest: +ELLIPSIS
… nms: not attempted yet — hint: ...
False
"""
from __future__ import annotations

import contextlib
import io
import math
from typing import Any, Callable, Sequence

import numpy as np

from .exercises import (ExerciseError, _NotAttempted, _attempt, _blank, _call, _correct, _number, _wrong,
                        check_iou, check_yolo_to_xyxy)
from .exercises import check_pr_reading as _check_pr_exact
from .exercises import _best_point, _pr_points

__all__ = ["check_nms", "check_average_precision", "check_kmeans_anchors", "check_pr_reading", "check_iou",
           "check_yolo_to_xyxy", "coco_ap", "ExerciseError"]


def _guard(name: str, hint: str, body: Callable[[], bool], answer: Any) -> bool:
    def run():
        if _blank(answer):
            raise _NotAttempted
        return body()
    return _attempt(name, hint, run)


# ------------------------------------------------------------------------------------------------ NMS

_NMS_HINT = ("order the boxes by score, highest first; repeatedly keep the best remaining box and drop every "
             "remaining box whose IoU with it is > iou_threshold (torchvision.ops.box_iou); with classes given, "
             "only boxes of the same class suppress each other. Return the kept indices (into the inputs) as a "
             "LongTensor, highest score first.")


def _nms_cases():
    import torch

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


def _nms_reference(boxes, scores, thr, classes):
    import torchvision

    if classes is None:
        return torchvision.ops.nms(boxes, scores, thr)
    return torchvision.ops.batched_nms(boxes, scores, classes, thr)


def _nms_variant(boxes, scores, thr, classes, *, sort=True, ge=False, agnostic=False, chain=False, keep_order=False):
    import torch
    import torchvision

    n = len(boxes)
    order = torch.argsort(scores, descending=True) if sort else torch.arange(n)
    iou = torchvision.ops.box_iou(boxes, boxes) if n else torch.zeros((0, 0))
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
    (dict(sort=False), "you walk the boxes in the order given: sort them by score first (torch.argsort(scores, "
                       "descending=True)), so the best box of a cluster is the one kept."),
    (dict(ge=True), "a box is suppressed when its IoU is strictly greater than iou_threshold (>, as torchvision); "
                    "yours also drops a box whose IoU equals it (>=)."),
    (dict(agnostic=True), "with classes given, only boxes of the same class suppress each other (torchvision's "
                          "batched_nms): yours lets a box suppress a box of another class (class-agnostic)."),
    (dict(chain=True), "a box that was suppressed must not suppress others: in the chain A-B-C, B goes and C "
                       "stays. Skip the boxes already suppressed when you pick the next one to keep."),
    (dict(keep_order=True), "right boxes, wrong order: return the kept indices highest score first (as "
                            "torchvision), not sorted by index."),
]


def _as_indices(out, name: str, case: str):
    import torch

    if isinstance(out, torch.Tensor) and out.dtype == torch.bool:
        raise ExerciseError(f"{name}: for {case} you returned a boolean mask; return the kept *indices* "
                            "(torch.nonzero(mask).flatten(), highest score first)")
    try:
        t = torch.as_tensor(out).reshape(-1)
    except Exception:  # noqa: BLE001
        raise ExerciseError(f"{name}: for {case} you returned {type(out).__name__}; return a 1-D tensor of "
                            "indices") from None
    if t.is_floating_point():
        if len(t) and (t != t.round()).any():
            raise ExerciseError(f"{name}: for {case} you returned floats {t.tolist()[:6]}: return the kept boxes' "
                                "indices, not their scores or coordinates")
    return t.long()


def check_nms(fn: Callable) -> bool:
    """Check ``fn(boxes, scores, iou_threshold, classes=None)`` -> kept indices against torchvision's ``nms``
    (``batched_nms`` when ``classes`` is given): sorting, ``>`` (not ``>=``), per class, no chain suppression."""
    import torch

    name = "nms"

    def body():
        cases = _nms_cases()
        seen = []
        for k, (what, boxes, scores, thr, classes) in enumerate(cases):
            args = (boxes.clone(), scores.clone(), thr) + ((classes.clone(),) if classes is not None else ())
            out = _call(fn, args, {}, name=name, case=what, first=k == 0, hint=_NMS_HINT)
            got = _as_indices(out, name, what)
            seen.append((k, got))
            want = _nms_reference(boxes, scores, thr, classes)
            if got.tolist() == want.tolist():
                continue
            hint = _NMS_HINT
            for kwargs, h in _NMS_VARIANTS:
                if _nms_variant(boxes, scores, thr, classes, **kwargs).tolist() == got.tolist():
                    hint = h
                    break
            else:
                if len(got) > len(want) and set(want.tolist()) <= set(got.tolist()):
                    hint = ("you keep boxes that should be suppressed: after keeping a box, drop every remaining box "
                            "whose IoU with it is > iou_threshold. " + _NMS_HINT)
            raise _wrong(name, what + f" (iou_threshold={thr})", want.tolist(), got.tolist(), hint)
        return _correct(f"your NMS keeps the same boxes as torchvision.ops.nms / batched_nms on {len(cases)} cases.")

    return _guard(name, _NMS_HINT, body, fn)


# ----------------------------------------------------------------------------------- AP at one IoU

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
    names = ["washer", "gear", "hinge"]
    D = lambda *a, **k: _dets(names, *a, **k)  # noqa: E731
    rng = np.random.default_rng(0)
    cases = []
    # 1. one image, one class: 3 objects, a false box ranked between the hits, one object never found
    cases.append(("one class, a false box ranked between two hits, one object missed",
                  [D([[0, 0, 10, 10], [50, 50, 60, 60], [20, 20, 30, 30], [80, 80, 90, 90]], [0, 0, 0, 0],
                     [0.9, 0.8, 0.7, 0.3])],
                  [D([[0, 0, 10, 10], [20, 20, 30, 30], [60, 0, 70, 10]], [0, 0, 0])], 0.5))
    # 2. tied scores across two images
    cases.append(("tied scores: a hit and a false box with the same score, on two images",
                  [D([[0, 0, 10, 10], [40, 40, 50, 50]], [0, 0], [0.8, 0.6]),
                   D([[0, 0, 10, 10], [70, 70, 80, 80]], [0, 0], [0.8, 0.6])],
                  [D([[0, 0, 10, 10]], [0]), D([[70, 70, 80, 80], [20, 20, 30, 30]], [0, 0])], 0.5))
    # 3. an image with no ground truth at all (its boxes are all false)
    cases.append(("an image with no ground truth: its boxes are false positives",
                  [D([[0, 0, 10, 10]], [0], [0.5]), D([[30, 30, 40, 40], [5, 5, 15, 15]], [0, 0], [0.9, 0.7])],
                  [D([[0, 0, 10, 10]], [0]), D(np.zeros((0, 4)), [])], 0.5))
    # 4. a class absent from the ground truth (predicted anyway), and a class with ground truth never predicted
    cases.append(("'hinge' is predicted but absent from the ground truth; 'gear' has objects but no prediction",
                  [D([[0, 0, 10, 10], [30, 30, 40, 40], [60, 60, 70, 70]], [0, 2, 2], [0.9, 0.95, 0.4])],
                  [D([[0, 0, 10, 10], [80, 0, 90, 10]], [0, 1])], 0.5))
    # 5. two boxes on one object: the second is a duplicate, a false positive
    cases.append(("two predictions on one object: the second is a duplicate (a false positive)",
                  [D([[0, 0, 10, 10], [0.5, 0.5, 10.5, 10.5], [20, 20, 30, 30]], [0, 0, 0], [0.9, 0.85, 0.6])],
                  [D([[0, 0, 10, 10], [20, 20, 30, 30]], [0, 0])], 0.5))
    # 6. IoU exactly 0.5 matches (>=)
    cases.append(("IoU exactly 0.5 (a box half the object's height): it matches",
                  [D([[0, 0, 10, 5], [40, 40, 50, 50]], [0, 0], [0.9, 0.8])],
                  [D([[0, 0, 10, 10], [40, 40, 50, 50]], [0, 0])], 0.5))
    # 7. random: 6 images, 3 classes, jittered hits, false boxes, ties, at IoU 0.5 and 0.75
    preds, targets = [], []
    for i in range(6):
        n = int(rng.integers(0, 5))
        xy = rng.uniform(0, 70, (n, 2))
        gt = np.concatenate([xy, xy + rng.uniform(12, 30, (n, 2))], axis=1)
        gc = rng.integers(0, 3, n)
        hit = rng.random(n) < 0.7
        pb = gt[hit] + rng.normal(0, 2.5, (int(hit.sum()), 4))
        pc = np.where(rng.random(int(hit.sum())) < 0.85, gc[hit], rng.integers(0, 3, int(hit.sum())))
        m = int(rng.integers(0, 3))
        fxy = rng.uniform(0, 80, (m, 2))
        fb = np.concatenate([fxy, fxy + rng.uniform(8, 20, (m, 2))], axis=1)
        boxes = np.concatenate([pb, fb])
        scores = np.round(rng.uniform(0.05, 1, len(boxes)), 1)  # rounded: ties happen
        preds.append(D(boxes, np.concatenate([pc, rng.integers(0, 3, m)]), scores))
        targets.append(D(gt, gc))
    cases.append(("6 random images, 3 classes (jittered hits, false boxes, tied scores), IoU 0.5",
                  preds, targets, 0.5))
    cases.append(("the same 6 images at IoU 0.75", preds, targets, 0.75))
    return cases


def coco_ap(preds, targets, iou_threshold: float = 0.5) -> float:
    """pycocotools' box AP at one IoU threshold, averaged over the classes that have ground truth (all areas,
    up to 100 detections per image and class): the reference of :func:`check_average_precision`.
    ``nan`` when no class has ground truth."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    names = targets[0].class_names if targets else preds[0].class_names
    images, anns, results = [], [], []
    for i, (p, t) in enumerate(zip(preds, targets)):
        images.append({"id": i, "width": 100, "height": 100})
        for b, c in zip(np.asarray(t.xyxy, float), np.asarray(t.class_id)):
            w, h = b[2] - b[0], b[3] - b[1]
            anns.append({"id": len(anns) + 1, "image_id": i, "category_id": int(c) + 1, "iscrowd": 0,
                         "bbox": [float(b[0]), float(b[1]), float(w), float(h)], "area": float(w * h)})
        for b, c, s in zip(np.asarray(p.xyxy, float), np.asarray(p.class_id), np.asarray(p.confidence, float)):
            results.append({"image_id": i, "category_id": int(c) + 1, "score": float(s),
                            "bbox": [float(b[0]), float(b[1]), float(b[2] - b[0]), float(b[3] - b[1])]})
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


def _matches(p, t, c, thr, *, strict=False, reuse=False):
    """(scores, is_tp) of class ``c`` on one image, pycocotools' greedy matching."""
    import torch
    import torchvision

    pm, tm = np.asarray(p.class_id) == c, np.asarray(t.class_id) == c
    pb, ps, tb = np.asarray(p.xyxy, float)[pm], np.asarray(p.confidence, float)[pm], np.asarray(t.xyxy, float)[tm]
    order = np.argsort(-ps, kind="stable")
    pb, ps = pb[order], ps[order]
    iou = (torchvision.ops.box_iou(torch.as_tensor(pb), torch.as_tensor(tb)).numpy() if len(pb) and len(tb)
           else np.zeros((len(pb), len(tb))))
    taken = np.zeros(len(tb), bool)
    tp = np.zeros(len(pb), bool)
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
        if area == "raw":
            aps.append(float(np.sum(pr * np.diff(np.concatenate([[0], rc])))))
            continue
        if envelope:
            pr = np.maximum.accumulate(pr[::-1])[::-1] if len(pr) else pr
        if area == "envelope":
            aps.append(float(np.sum(pr * np.diff(np.concatenate([[0], rc])))))
            continue
        r = np.linspace(0, 1, points)
        idx = np.searchsorted(rc, r, side="left")
        q = np.array([pr[i] if i < len(pr) else 0.0 for i in idx])
        aps.append(float(q.mean()))
    return float(np.mean(aps)) if aps else math.nan


_TIES = ("tied scores: sort with a stable sort (np.argsort(-scores, kind='stable')) over the "
                         "predictions in image order, as pycocotools does.")
_AP_VARIANTS = [
    (dict(envelope=False), "no precision envelope: before reading precision at the 101 recalls, replace each "
                           "precision by the highest precision at any higher recall (precision[i] = "
                           "max(precision[i:]), e.g. np.maximum.accumulate(precision[::-1])[::-1])."),
    (dict(points=11), "that is Pascal VOC 2007's 11-point AP (recalls 0, 0.1, ..., 1); COCO reads the envelope at "
                      "101 recalls: np.linspace(0, 1, 101)."),
    (dict(area="raw"), "that is the area under the raw precision-recall curve (sum of precision x recall step); "
                       "COCO averages the precision envelope read at 101 recall points."),
    (dict(area="envelope"), "that is the area under the precision envelope at every recall step (VOC 2010+); "
                            "COCO reads the envelope at 101 fixed recalls np.linspace(0, 1, 101) and averages."),
    (dict(reuse=True), "a ground-truth box can be matched only once: a second prediction on an object already "
                       "found is a false positive (a duplicate), not another true positive."),
    (dict(skip_empty=True), "the predictions on an image without ground truth are false positives too: do not skip "
                            "the images that have no labelled object."),
    (dict(absent_zero=True), "a class absent from the ground truth has no AP (COCO leaves it out of the mean); "
                             "yours counts it as 0. Average over the classes that have ground-truth boxes."),
    (dict(strict=True), "a prediction matches when IoU >= iou_threshold (COCO); yours needs IoU > iou_threshold."),
    (dict(ties="fp"), _TIES),
    (dict(ties="tp"), _TIES),
]


def _ap_mistake(fn, cases, failing: int, failing_got: float) -> str | None:
    """The hint of the variant that explains all the learner's answers, else the failing one's, else None."""
    seen = {failing: failing_got}
    for k, (_, preds, targets, thr) in enumerate(cases):
        if k != failing:
            try:
                seen[k] = float(fn(preds, targets, thr))
            except Exception:  # noqa: BLE001 - a diagnosis never hides the real failure
                pass
    explained = []
    for kwargs, hint in _AP_VARIANTS:
        values = {k: _ap_variant(cases[k][1], cases[k][2], cases[k][3], **kwargs) for k in seen}
        if math.isclose(values[failing], failing_got, abs_tol=1e-6):
            if all(math.isclose(values[k], v, abs_tol=1e-6) for k, v in seen.items()):
                return hint
            explained.append(hint)
    return explained[0] if explained else None


def check_average_precision(fn: Callable) -> bool:
    """Check ``fn(preds, targets, iou_threshold=0.5)`` -> mAP at one IoU threshold against pycocotools.

    ``preds`` and ``targets`` are lists of :class:`~coursekit.types.Detections`, one per image (``xyxy``,
    ``class_id``, ``confidence``). Cases: tied scores, an image without ground truth, a class absent from
    the ground truth, a class never predicted, duplicates, IoU exactly at the threshold, random sets."""
    name = "average_precision"

    def body():
        cases = _ap_cases()
        for k, (what, preds, targets, thr) in enumerate(cases):
            out = _call(fn, (preds, targets, thr), {}, name=name, case=what, first=k == 0, hint=_AP_HINT)
            got = _number(out, name, what)
            want = coco_ap(preds, targets, thr)
            if math.isclose(got, want, abs_tol=1e-6):
                continue
            hint = _ap_mistake(fn, cases, k, got) or (
                "AP is a fraction between 0 and 1. " + _AP_HINT if not 0 <= got <= 1 else _AP_HINT)
            raise _wrong(name, f"{what} (iou_threshold={thr})", f"{want:.6f} (pycocotools)", f"{got:.6f}", hint)
        return _correct(f"your AP matches pycocotools' COCOeval on {len(cases)} cases (ties, an image without "
                        "ground truth, a class absent from it, duplicates, IoU at the threshold).")

    return _guard(name, _AP_HINT, body, fn)


# ---------------------------------------------------------------------------------- anchor k-means

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
    return [
        ("4 boxes in two obvious groups, k=2", np.array([[10., 10], [12, 12], [50, 100], [54, 96]]), 2, 0),
        ("100 boxes from 6 to 300 px (small, tall, big), k=5", mixed, 5, 0),
        ("the same 100 boxes, k=9, seed 3", mixed, 9, 3),
        ("110 part-sized boxes in three groups, k=3", np.abs(parts) + 2, 3, 1),
    ]


def _km_variant(wh, k, seed, *, euclid=False, median=False, sort=True):
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
    return centres[np.argsort(centres.prod(1), kind="stable")] if sort else centres


def _as_anchors(out, k, name, case):
    try:
        a = np.asarray(out.detach().cpu().numpy() if hasattr(out, "detach") else out, dtype=np.float64)
    except Exception:  # noqa: BLE001
        raise ExerciseError(f"{name}: for {case} you returned {type(out).__name__}; return a (k, 2) array") from None
    if a.shape != (k, 2):
        raise ExerciseError(f"{name}: for {case} you returned shape {a.shape}; expected ({k}, 2): one (w, h) per "
                            "anchor")
    return a


def check_kmeans_anchors(fn: Callable) -> bool:
    """Check ``fn(wh, k, seed)`` -> (k, 2) anchors against :func:`coursekit.anchors.kmeans_iou_anchors`
    (the recipe in its docstring): 1 - IoU distance, seeded start, mean update, sorted by area."""
    from .anchors import kmeans_iou_anchors

    name = "kmeans_anchors"

    def body():
        cases = _km_cases()
        for n, (what, wh, k, seed) in enumerate(cases):
            out = _call(fn, (wh.copy(), k, seed), {}, name=name, case=what, first=n == 0, hint=_KM_HINT)
            got = _as_anchors(out, k, name, what)
            want = kmeans_iou_anchors(wh, n=k, seed=seed)
            if np.allclose(got, want, rtol=1e-6, atol=1e-6):
                continue
            hint = _KM_HINT
            again = _as_anchors(fn(wh.copy(), k, seed), k, name, what)
            if not np.allclose(again, got, rtol=1e-9, atol=1e-9):
                hint = ("two calls with the same seed gave different anchors: draw the starting centres from "
                        "np.random.default_rng(seed), not from an unseeded generator.")
            elif np.allclose(got[np.argsort(got.prod(1), kind="stable")], want, rtol=1e-6, atol=1e-6):
                hint = "the right anchors, in the wrong order: sort them by area (w * h), smallest first."
            elif np.allclose(got, _km_variant(wh, k, seed, euclid=True), rtol=1e-6, atol=1e-6):
                hint = ("that is k-means with the Euclidean distance on (w, h): big boxes then dominate. Use "
                        "1 - IoU: join the centre of *highest* IoU (intersection min(w) * min(h) over the union).")
            elif np.allclose(got, _km_variant(wh, k, seed, median=True), rtol=1e-6, atol=1e-6):
                hint = "the centres are the *mean* (w, h) of their boxes in this recipe, not the median."
            elif np.allclose(np.sort(got.ravel()), np.sort(want.ravel()), rtol=1e-6, atol=1e-6):
                hint = "your anchors hold the right numbers in the wrong places: return one (w, h) row per anchor."
            raise _wrong(name, what, np.round(want, 3).tolist(), np.round(got, 3).tolist(), hint)
        return _correct(f"your k-means gives coursekit.anchors.kmeans_iou_anchors' anchors on {len(cases)} cases.")

    return _guard(name, _KM_HINT, body, fn)


# --------------------------------------------------------------------------- reading a PR curve, tolerant


def check_pr_reading(answer, precision, recall, thresholds, min_precision: float, tolerance: float = 0.02) -> bool:
    """:func:`coursekit.exercises.check_pr_reading`, accepting a reading off the plot within ``tolerance``.

    Exact: the threshold (or any value keeping the same boxes) of the point with the highest recall among
    those with precision >= ``min_precision``. Within tolerance: a threshold whose point (the boxes with
    score >= it) has precision >= ``min_precision - tolerance`` and recall >= the best recall - ``tolerance``
    (absolute). Anything else raises with the exact check's diagnosis."""
    if _blank(answer):
        return _check_pr_exact(answer, precision, recall, thresholds, min_precision)
    p, r, t = _pr_points(precision, recall, thresholds)
    k = _best_point(p, r, t, float(min_precision))
    if k is not None and not isinstance(answer, bool):
        try:
            got = float(answer)
        except (TypeError, ValueError):
            got = None
        if got is not None:
            j = int(np.searchsorted(t, got - 1e-9))
            lower = float(t[k - 1]) if k else -math.inf
            exact = lower + 1e-9 < got <= float(t[k]) + 1e-9
            if not exact and j < len(t) and p[j] >= min_precision - tolerance and r[j] >= r[k] - tolerance:
                return _correct(f"threshold {got:.4g} is within the stated tolerance ({tolerance:g}): precision "
                                f"{p[j]:.3f}, recall {r[j]:.3f}; the exact point is threshold {t[k]:.6g} (precision "
                                f"{p[k]:.3f}, recall {r[k]:.3f}).")
    return _check_pr_exact(answer, precision, recall, thresholds, min_precision)
