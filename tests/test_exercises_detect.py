"""coursekit.exercises_detect: notebook 03's checks (NMS, AP at one IoU, anchor k-means, a PR reading within a
tolerance) accept a right answer, name each usual mistake, and say "not attempted" for a blank stub without raising.

The implementations here are the tests' own (the notebook holds the learner's stubs and the hidden solutions).
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
import torchvision

from coursekit import exercises_detect as X
from coursekit.exercise_base import ExerciseError


# ----------------------------------------------------------------------------------------------- NMS

def nms(boxes, scores, iou_threshold, classes=None, *, sort=True, ge=False, agnostic=False, chain=False,
        index_order=False):
    order = torch.argsort(scores, descending=True) if sort else torch.arange(len(scores))
    iou = torchvision.ops.box_iou(boxes, boxes)
    alive = torch.ones(len(scores), dtype=torch.bool)
    keep = []
    for i in order.tolist():
        if not alive[i] and not chain:
            continue
        if alive[i]:
            keep.append(i)
        over = iou[i] >= iou_threshold if ge else iou[i] > iou_threshold
        if classes is not None and not agnostic:
            over &= classes == classes[i]
        over[i] = False
        alive &= ~over
    keep = torch.tensor(keep, dtype=torch.long)
    return keep.sort().values if index_order else keep


def test_nms_right_answer_and_stub(capsys):
    assert X.check_nms(nms)
    assert "✓ correct" in capsys.readouterr().out

    def stub(boxes, scores, iou_threshold, classes=None):
        ...
    assert X.check_nms(stub) is False
    assert "not attempted" in capsys.readouterr().out


@pytest.mark.parametrize("kwargs, words", [
    (dict(sort=False), "sort them by score"),
    (dict(ge=True), "strictly greater"),
    (dict(agnostic=True), "class-agnostic"),
    (dict(chain=True), "must not suppress others"),
    (dict(index_order=True), "highest score first"),
])
def test_nms_names_the_mistake(kwargs, words):
    with pytest.raises(ExerciseError, match=words):
        X.check_nms(lambda b, s, t, c=None: nms(b, s, t, c, **kwargs))


def test_nms_keeping_suppressed_boxes_and_masks_are_named():
    with pytest.raises(ExerciseError, match="should be suppressed"):
        X.check_nms(lambda b, s, t, c=None: torch.argsort(s, descending=True))
    with pytest.raises(ExerciseError, match="boolean mask"):
        X.check_nms(lambda b, s, t, c=None: torch.ones(len(s), dtype=torch.bool))


# ------------------------------------------------------------------------------------- AP at one IoU

def ap(preds, targets, iou_threshold=0.5, **variant):
    return X._ap_variant(preds, targets, iou_threshold, **variant)


def test_reference_variant_is_pycocotools_on_every_case():
    for what, preds, targets, thr in X._ap_cases():
        assert math.isclose(ap(preds, targets, thr), X.coco_ap(preds, targets, thr), abs_tol=1e-9), what


def test_every_ap_mistake_changes_some_case():
    cases = X._ap_cases()
    for kwargs, _ in X._AP_VARIANTS:
        assert any(not math.isclose(ap(p, t, thr, **kwargs), X.coco_ap(p, t, thr), abs_tol=1e-6)
                   for _, p, t, thr in cases), kwargs


def test_ap_right_answer_and_stub(capsys):
    assert X.check_average_precision(ap)
    assert "✓ correct" in capsys.readouterr().out
    assert X.check_average_precision(lambda preds, targets, iou_threshold=0.5: None) is False
    assert "not attempted" in capsys.readouterr().out


@pytest.mark.parametrize("kwargs, words", [
    (dict(envelope=False), "no precision envelope"),
    (dict(points=11), "11-point"),
    (dict(area="raw"), "raw precision-recall curve"),
    (dict(area="envelope"), "every recall step"),
    (dict(reuse=True), "matched only once"),
    (dict(skip_empty=True), "image without ground truth"),
    (dict(absent_zero=True), "absent from the ground truth"),
    (dict(strict=True), "IoU >= iou_threshold"),
])
def test_ap_names_the_mistake(kwargs, words):
    with pytest.raises(ExerciseError, match=words):
        X.check_average_precision(lambda p, t, thr=0.5: ap(p, t, thr, **kwargs))


def test_coco_ap_known_value():
    # half the objects found, no false box above them: 51 of the 101 recall points have precision 1
    what, preds, targets, thr = X._ap_cases()[0]
    d = preds[0][:1]
    assert math.isclose(X.coco_ap([d], [targets[0][:2]], 0.5), 51 / 101, abs_tol=1e-9)


# ------------------------------------------------------------------------------------ anchor k-means

def kmeans(wh, k, seed, *, euclid=False, median=False, sort=True, unseeded=False):
    wh = np.asarray(wh, float)
    rng = np.random.default_rng(None if unseeded else seed)
    c = wh[rng.choice(len(wh), k, replace=False)]
    for _ in range(100):
        if euclid:
            score = -((wh[:, None] - c[None]) ** 2).sum(-1)
        else:
            inter = np.minimum(wh[:, None, 0], c[None, :, 0]) * np.minimum(wh[:, None, 1], c[None, :, 1])
            score = inter / (wh.prod(1)[:, None] + c.prod(1)[None] - inter)
        a = score.argmax(1)
        new = np.array([(np.median if median else np.mean)(wh[a == j], axis=0) if (a == j).any() else c[j]
                        for j in range(k)])
        if np.allclose(new, c, rtol=0, atol=1e-12):
            break
        c = new
    return c[np.argsort(c.prod(1))] if sort else c


def test_kmeans_right_answer_and_stub(capsys):
    assert X.check_kmeans_anchors(kmeans)
    assert "✓ correct" in capsys.readouterr().out
    assert X.check_kmeans_anchors(lambda wh, k, seed: ...) is False
    assert "not attempted" in capsys.readouterr().out


@pytest.mark.parametrize("kwargs, words", [
    (dict(euclid=True), "Euclidean"),
    (dict(median=True), "median"),
    (dict(sort=False), "sort them by area"),
    (dict(unseeded=True), "same seed gave different anchors"),
])
def test_kmeans_names_the_mistake(kwargs, words):
    with pytest.raises(ExerciseError, match=words):
        X.check_kmeans_anchors(lambda wh, k, seed: kmeans(wh, k, seed, **kwargs))


def test_kmeans_reference_differs_from_euclidean_and_is_deterministic():
    from coursekit.anchors import kmeans_iou_anchors

    _, wh, k, seed = X._km_cases()[1]
    a, b = kmeans_iou_anchors(wh, n=k, seed=seed), kmeans_iou_anchors(wh, n=k, seed=seed)
    assert np.array_equal(a, b) and np.all(np.diff(a.prod(1)) >= 0)
    assert not np.allclose(a, kmeans(wh, k, seed, euclid=True))


# ------------------------------------------------------------------------------- PR reading, tolerant

P = [0.5, 0.6, 0.78, 0.81, 0.9, 1.0, 1.0]
R = [1.0, 0.9, 0.85, 0.8, 0.5, 0.2, 0.0]
T = [0.05, 0.1, 0.2, 0.3, 0.5, 0.8]


def test_pr_reading_exact_tolerant_and_wrong(capsys):
    assert X.check_pr_reading(0.3, P, R, T, 0.8)  # exact: precision 0.81 at recall 0.8
    assert X.check_pr_reading(0.2, P, R, T, 0.8, tolerance=0.05)  # precision 0.78, recall 0.85: within 0.05
    assert "within the stated tolerance" in capsys.readouterr().out
    with pytest.raises(ExerciseError):
        X.check_pr_reading(0.2, P, R, T, 0.8, tolerance=0.01)
    with pytest.raises(ExerciseError):
        X.check_pr_reading(0.5, P, R, T, 0.8, tolerance=0.05)  # recall 0.5: far below 0.8
    assert X.check_pr_reading(None, P, R, T, 0.8) is False
