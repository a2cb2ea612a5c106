"""Module 6's adapters: classical pipelines in the course's types and eval harness; bad input."""
from __future__ import annotations

import numpy as np
import pytest

from coursekit.classical import (FrameError, HoleCounter, PoseEstimator, Poses, TemplateClassifier, evaluate_poses,
                                 nuisance_domain, FIXTURE)
from coursekit.classical.keypoints import KeypointClassifier
from coursekit.harness import evaluate_classifications, evaluate_detections, lock_model
from coursekit.types import Classifications, Detections

from test_classical_pipelines import HOLES, plate, shape


def fitted():
    return TemplateClassifier().fit([shape("ring", 0), shape("bar", 0)], [0, 1], ["ring", "bar"])


def test_classifier_plugs_into_the_classification_harness():
    clf = fitted()
    preds = clf.predict(np.stack([shape("ring", 50), shape("bar", 10)]))
    assert isinstance(preds, Classifications)
    r = evaluate_classifications(preds, ["ring", "bar"], model_id=clf, dataset_id="toy")
    assert r.metrics["accuracy"] == 1.0 and r.model_info["parameters"] == 0
    assert r.model_id == lock_model(clf) == lock_model(fitted()) != lock_model(TemplateClassifier(size=24))
    other_refs = TemplateClassifier().fit([shape("ring", 0), shape("L", 0)], [0, 1], ["ring", "bar"])
    assert lock_model(other_refs) != lock_model(clf)  # the references are part of the "weights"


def test_hole_counter_plugs_into_the_detection_harness():
    img = plate(20.0, holes=HOLES[:4])
    preds = HoleCounter().predict([img])
    truth = [Detections(xyxy=preds[0].xyxy, class_id=preds[0].class_id, class_names=["hole"])]
    r = evaluate_detections(preds, truth, model_id=HoleCounter(), dataset_id="toy", threshold=0.5)
    assert r.metrics["recall"] == 1.0 and r.metrics["precision"] == 1.0


def test_poses_adapter_and_evaluation():
    p = Poses.from_vectors([[1.0, 0.0], [0.0, 1.0]], [[10, 10], [20, 20]], period_deg=180)
    assert np.allclose(p.angle_deg, [0, 45])
    r = evaluate_poses(p, [179.5, 46.0], [[10, 10], [23, 24]], tolerance_deg=1.0)
    assert r["within_tol"] == 1.0 and r["center_mae_px"] == 2.5
    assert Poses.concat([p, p]).angle_deg.shape == (4,)


BAD = [
    (np.zeros((0, 64, 3), np.uint8), "empty"),
    (np.zeros((64, 64, 3), np.float32), "float32"),
    (np.zeros((64, 64, 3), np.uint16), "uint16"),
    (np.zeros((3, 64, 64), np.uint8), "channels first"),
    (np.zeros((64, 64, 4), np.uint8), "4 channels"),
    (np.zeros((64, 64, 2), np.uint8), r"expected \(H, W, 3\)"),
    ([[1, 2], [3, 4]], "not a numpy array"),
]


@pytest.mark.parametrize("make", [PoseEstimator, HoleCounter, fitted, lambda: KeypointClassifier().fit(
    [shape("ring", 0), shape("bar", 0)], [0, 1], ["ring", "bar"])])
@pytest.mark.parametrize("frame,words", BAD, ids=[w.replace("\\", "") for _, w in BAD])
def test_bad_frames_raise_a_clear_error(make, frame, words):
    with pytest.raises(FrameError, match=words) as e:
        make().predict([frame])
    assert "Fix" in str(e.value) or "expected" in str(e.value)


def test_a_single_frame_instead_of_a_batch_is_named():
    with pytest.raises(FrameError, match="batch"):
        PoseEstimator().predict(np.zeros((64, 64, 3), np.uint8))
    with pytest.raises(FrameError, match="grey frames"):
        PoseEstimator().predict(np.zeros((6, 64, 64), np.uint8))
    assert len(PoseEstimator().predict(list(np.zeros((6, 64, 64), np.uint8)))) == 6  # a list of grey frames


def test_other_frame_size_is_refused_when_tuned_for_one():
    with pytest.raises(FrameError, match=r"tuned on 128x128.*cv2.resize"):
        PoseEstimator(expected_size=(128, 128)).predict([plate(10.0, size=96, center=(48, 48), dims=(50, 24))])
    p = PoseEstimator().predict([plate(10.0, size=96, center=(48, 48), dims=(50, 24))])  # untuned: any size
    assert p.found.all()


@pytest.mark.parametrize("value", [0, 255])
def test_blank_frames_are_documented_no_detection(value):
    blank = np.full((1, 64, 64, 3), value, np.uint8)
    assert PoseEstimator().predict(blank).found.tolist() == [False]
    assert len(HoleCounter().predict(blank)[0]) == 0
    assert np.allclose(fitted().predict(blank).probs, 0.5)
    assert "blank" in PoseEstimator().explain(blank[0]).values["why_not_found"]


def test_greyscale_frames_are_accepted():
    g = plate(25.0)[..., 0]
    assert PoseEstimator().predict([g]).found.all() and PoseEstimator().predict([g[..., None]]).found.all()


def test_nuisance_domain_ends():
    assert nuisance_domain(0.0).blur_sigma == FIXTURE.blur_sigma
    assert nuisance_domain(1.0).backgrounds != FIXTURE.backgrounds
    assert nuisance_domain(1.0, "camera").backgrounds == FIXTURE.backgrounds
    with pytest.raises(ValueError, match="strength"):
        nuisance_domain(1.5)
