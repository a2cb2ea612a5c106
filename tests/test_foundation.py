"""coursekit.foundation: the Module 4 glue (probe curve, masks as Detections, CLIP naming, the pipeline), with
fake encoders whose answers are known, so every number here is computed by hand."""
from __future__ import annotations

import numpy as np
import pytest

from coursekit.foundation import (foundation_setting, linear_probe_curve, masks_to_detections, name_regions,
                                  segment_and_name)
from coursekit.config import Settings
from coursekit.types import Detections

NAMES = ["red part", "blue part"]
CLASSIFIER = np.array([[1.0, 0.0], [0.0, 1.0]], np.float32)  # class 0 <-> "redness", class 1 <-> "blueness"


def colour_encoder(crops):
    """A fake CLIP image encoder: the normalised (mean red, mean blue) of each crop's non-grey pixels."""
    out = []
    for c in crops:
        px = c.reshape(-1, 3).astype(np.float64)
        px = px[~np.all(px == 128, axis=1)]
        v = px[:, [0, 2]].mean(axis=0) if len(px) else np.array([1.0, 1.0])
        out.append(v / np.linalg.norm(v))
    return np.array(out, np.float32)


def scene():
    img = np.full((40, 60, 3), 128, np.uint8)
    img[5:15, 5:20] = (220, 10, 10)    # a red part
    img[20:35, 30:55] = (10, 10, 220)  # a blue part
    return img


def test_settings_per_profile():
    assert foundation_setting(Settings(profile="smoke"))["name"] == "smoke"
    full = foundation_setting(Settings(profile="full"))
    assert full["name"] == "full" and max(full["ks"]) >= 100 and len(full["seeds"]) >= 3
    from coursekit.models.clip import CLIP_MODELS
    from coursekit.models.sam import SAM_KINDS

    for profile in ("smoke", "full"):  # the models each profile names exist, and are the CPU-friendly ones
        row = foundation_setting(Settings(profile=profile))
        assert row["clip"] in CLIP_MODELS and row["sam"] in SAM_KINDS
        assert (row["clip"], row["sam"]) == ("ViT-B-32", "vit_b")


def test_masks_to_detections_boxes_are_the_masks_tight_boxes():
    m = np.zeros((3, 10, 12), bool)
    m[0, 2:5, 3:7] = True
    m[1, 0:10, 11] = True
    d = masks_to_detections(m, scores=[0.5, 0.25, 0.1], class_names=["a", "b"], class_id=[1, 0, 0])
    assert d.xyxy.tolist() == [[3, 2, 7, 5], [11, 0, 12, 10], [0, 0, 0, 0]]  # empty mask: a zero box, kept
    assert d.class_id.tolist() == [1, 0, 0] and d.image_size == (10, 12) and d.masks.shape == (3, 10, 12)
    assert d.confidence.tolist() == [0.5, 0.25, 0.10000000149011612]
    with pytest.raises(ValueError, match=r"\(N, H, W\)"):
        masks_to_detections(np.zeros((10, 12), bool))


def test_name_regions_uses_the_mask_and_multiplies_scores():
    img = scene()
    boxes = Detections(xyxy=[[5, 5, 20, 15], [30, 20, 55, 35]], class_id=[0, 0], class_names=NAMES,
                       confidence=[1.0, 0.5])
    named = name_regions(colour_encoder, CLASSIFIER, 100.0, img, boxes, NAMES)
    assert named.class_id.tolist() == [0, 1]
    # encoder gives (220, 10)/|.| for the red crop: probs = softmax(100 * [0.9990, 0.0454]) -> ~1 for class 0
    assert named.confidence[0] == pytest.approx(1.0, abs=1e-6) and named.confidence[1] == pytest.approx(0.5, abs=1e-6)
    # a box covering both parts: unmasked, the blue part's 375 pixels outvote the red part's 150; with a mask
    # on the red part CLIP sees only that
    both = Detections(xyxy=[[0, 0, 60, 40]], class_id=[0], class_names=NAMES)
    red = np.zeros((1, 40, 60), bool)
    red[0, 5:15, 5:20] = True
    masked = Detections(xyxy=[[0, 0, 60, 40]], class_id=[0], class_names=NAMES, masks=red)
    assert name_regions(colour_encoder, CLASSIFIER, 100.0, img, both, NAMES).class_id.tolist() == [1]
    assert name_regions(colour_encoder, CLASSIFIER, 100.0, img, masked, NAMES).class_id.tolist() == [0]
    assert len(name_regions(colour_encoder, CLASSIFIER, 100.0, img, Detections.empty(NAMES), NAMES)) == 0


def test_segment_and_name_runs_each_box_through_the_segmenter():
    img = scene()
    calls = []

    def segment_box(box):  # a perfect segmenter: the coloured pixels inside the box
        calls.append([float(v) for v in box])
        x1, y1, x2, y2 = (int(v) for v in box)
        mask = np.zeros(img.shape[:2], bool)
        mask[y1:y2, x1:x2] = ~np.all(img[y1:y2, x1:x2] == 128, axis=-1)
        return mask, 0.8

    detector = Detections(xyxy=[[2, 2, 25, 18], [28, 18, 58, 38]], class_id=[0, 0], class_names=["thing"],
                          confidence=[0.9, 0.6])
    out = segment_and_name(img, detector, segment_box, colour_encoder, CLASSIFIER, 100.0, NAMES)
    assert calls == [[2, 2, 25, 18], [28, 18, 58, 38]]
    assert out.xyxy.tolist() == [[5, 5, 20, 15], [30, 20, 55, 35]]  # the masks' boxes, tighter than the prompts
    assert out.names == ["red part", "blue part"]
    assert out.confidence.tolist() == pytest.approx([0.8 * 0.9, 0.8 * 0.6], abs=1e-5)
    assert out.masks.shape == (2, 40, 60) and out.masks[0].sum() == 150
    assert len(segment_and_name(img, Detections.empty(["thing"]), segment_box, colour_encoder, CLASSIFIER, 100.0,
                                NAMES)) == 0


def test_linear_probe_curve_rows_and_learning():
    rng = np.random.default_rng(1)
    centres = rng.normal(0, 1, (3, 16)) * 3
    y = np.repeat(np.arange(3), 60)
    X = centres[y] + rng.normal(0, 1, (180, 16))
    tr, te = np.arange(180) % 2 == 0, np.arange(180) % 2 == 1
    curve = linear_probe_curve(X[tr], y[tr], X[te], y[te], ks=[1, 20], seeds=[0, 1])
    assert curve[["k", "seed"]].values.tolist() == [[1, 0], [1, 1], [20, 0], [20, 1]]
    assert (curve.loc[curve.k == 20, "accuracy"] > 0.9).all()
    with pytest.raises(ValueError, match="fewer than k"):
        linear_probe_curve(X[tr], y[tr], X[te], y[te], ks=[31])
    with pytest.raises(ValueError, match="differ in length"):
        linear_probe_curve(X[tr], y[tr][:-1], X[te], y[te], ks=[1])
