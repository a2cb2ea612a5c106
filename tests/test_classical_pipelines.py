"""Module 6's classical pipelines on constructed images with known answers, and on generated scenes."""
from __future__ import annotations

import cv2
import numpy as np
import pytest

from coursekit.classical import (HoleCounter, PoseEstimator, Poses, TemplateClassifier, angle_error, evaluate_poses,
                                 moments_angle, render_parts, FIXTURE_MATERIALS)
from coursekit.classical.keypoints import KeypointClassifier


def plate(angle_deg, size=128, holes=(), center=(64, 64), dims=(70, 36), board=215, part=55):
    """A dark rectangle rotated ``angle_deg`` counter-clockwise, with round holes at offsets along its axes."""
    img = np.full((size, size, 3), board, np.uint8)
    box = cv2.boxPoints((center, dims, -angle_deg))
    cv2.fillPoly(img, [np.round(box * 8).astype(np.int32)], (part,) * 3, cv2.LINE_AA, 3)
    a = np.radians(angle_deg)
    for u, v, r in holes:
        x = center[0] + u * np.cos(a) + v * np.sin(a)
        y = center[1] - u * np.sin(a) + v * np.cos(a)
        cv2.circle(img, (int(round(x * 8)), int(round(y * 8))), r * 8, (board,) * 3, -1, cv2.LINE_AA, 3)
    return img


@pytest.mark.parametrize("method", ["min_area_rect", "moments"])
@pytest.mark.parametrize("angle", [0.0, 17.0, 45.0, 89.0, 133.5, 171.0])
def test_pose_angle_within_one_degree(method, angle):
    p = PoseEstimator(method=method).predict([plate(angle, center=(60, 70))])
    assert isinstance(p, Poses) and p.found.tolist() == [True]
    assert angle_error(p.angle_deg, [angle], 180)[0] < 1.0, p.angle_deg
    assert np.hypot(*(p.center_xy[0] - (60.5, 70.5))) < 1.0, p.center_xy


def test_moments_angle_of_a_bar():
    m = np.zeros((64, 64), np.uint8)
    cv2.fillPoly(m, [np.round(cv2.boxPoints(((32, 32), (50, 10), -60.0))).astype(np.int32)], 1)
    assert abs(moments_angle(m) - 60) < 1


def test_pose_on_fixture_scenes():
    s = render_parts(30, "plate", size=128, seed=3, materials=FIXTURE_MATERIALS, progress=False)
    r = evaluate_poses(PoseEstimator().predict(s.images), s.angle_deg, s.center_xy, tolerance_deg=3)
    assert r["found"] == 1.0 and r["within_tol"] >= 0.9 and r["center_mae_px"] < 3, r


HOLES = [(-25, -10, 4), (-25, 10, 4), (25, -10, 4), (25, 10, 4), (0, 0, 6)]


@pytest.mark.parametrize("method", ["blobs", "hough"])
@pytest.mark.parametrize("n", [0, 2, 4, 5])
def test_hole_count_exact(method, n):
    img = plate(30.0, holes=HOLES[:n])
    dets = HoleCounter(method).predict([img])
    assert len(dets) == 1 and len(dets[0]) == n, (method, n, dets[0])
    assert dets[0].class_names == ["hole"] and dets[0].image_size == (128, 128)
    if n:  # each box sits on a drawn hole
        centres = (dets[0].xyxy[:, :2] + dets[0].xyxy[:, 2:]) / 2
        assert all(img[int(y), int(x)].mean() > 150 for x, y in centres)


def test_hole_count_on_fixture_scenes():
    s = render_parts(30, ("plate", "flange"), size=160, seed=4, materials=FIXTURE_MATERIALS, progress=False)
    counts = np.array([len(d) for d in HoleCounter().predict(s.images)])
    assert (counts == s.n_holes).mean() >= 0.75 and np.abs(counts - s.n_holes).mean() < 0.6, (counts, s.n_holes)


def shape(kind, angle, size=96):
    img = np.full((size, size, 3), 215, np.uint8)
    if kind == "ring":
        cv2.circle(img, (48, 48), 30, (50, 50, 50), -1)
        cv2.circle(img, (48, 48), 12, (215, 215, 215), -1)
    elif kind == "bar":
        cv2.rectangle(img, (18, 33), (78, 63), (50, 50, 50), -1)
    else:  # an L bracket
        cv2.fillPoly(img, [np.array([(20, 20), (70, 20), (70, 35), (35, 35), (35, 75), (20, 75)], np.int32)], (50,) * 3)
    return cv2.warpAffine(img, cv2.getRotationMatrix2D((48, 48), angle, 1.0), (size, size),
                          borderValue=(215, 215, 215))


@pytest.mark.parametrize("cls,names", [(TemplateClassifier, ["ring", "bar", "L"]),
                                       (KeypointClassifier, ["ring", "L"])])  # a plain bar has no distinct keypoints
def test_tiny_data_classifiers_correct_class(cls, names):
    refs = [shape(k, a) for k in names for a in (0, 90)]
    clf = cls().fit(refs, [i for i in range(len(names)) for _ in range(2)], names)
    queries = [shape(k, a) for k in names for a in (35, 200)]
    pred = clf.predict(queries)
    assert pred.names == [k for k in names for _ in range(2)]
    assert np.allclose(pred.probs.sum(1), 1)


def test_template_classifier_on_fixture_scenes():
    parts = ("washer", "plate", "bracket", "gear")
    tr = render_parts(20 * 4, parts, size=96, seed=0, materials=FIXTURE_MATERIALS, progress=False)
    te = render_parts(40, parts, size=96, seed=0, offset=50_000, materials=FIXTURE_MATERIALS, progress=False)
    acc = (TemplateClassifier().fit(tr.images, tr.labels, parts).predict(te.images).labels == te.labels).mean()
    assert acc >= 0.8, acc


def test_explain_returns_every_stage_and_the_same_result():
    img = plate(40.0, holes=HOLES[:4])
    st = PoseEstimator().explain(img)
    assert st.names == ["frame", "difference", "mask", "edges", "contour", "fit"]
    assert abs(st.result.angle_deg[0] - PoseEstimator().predict([img]).angle_deg[0]) < 1e-9
    st = HoleCounter("hough").explain(img)
    assert {"mask", "hole map", "hough circles", "holes found"} <= set(st.names) and st.values["count"] == 4
    clf = TemplateClassifier().fit([shape("ring", 0), shape("bar", 0)], [0, 1], ["ring", "bar"])
    st = clf.explain(shape("bar", 20))
    assert {"mask", "template", "best reference"} <= set(st.names) and st.result.names == ["bar"]
