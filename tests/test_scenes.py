"""Tests for the seeded scene generator (coursekit.scenes) and the CIFAR-10 stand-in built on it."""
from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from coursekit.data.arrays import ArrayDataset
from coursekit.data.standin import make_standin_cifar10
from coursekit.scenes import (DOMAINS, PARTS, Domain, PartCanvas, SceneGenerator, build_part,
                              make_object_dataset)


# --- determinism ----------------------------------------------------------------------------------------

def test_same_seed_same_bytes_other_seed_other_images():
    a, ya, _ = make_object_dataset(40, seed=3, progress=False)
    b, yb, _ = make_object_dataset(40, seed=3, progress=False)
    c, yc, _ = make_object_dataset(40, seed=4, progress=False)
    assert a.tobytes() == b.tobytes() and ya.tobytes() == yb.tobytes()
    assert (a != c).mean() > 0.5


def test_render_independent_of_call_order():
    gen = SceneGenerator(96, domain="target", seed=11, objects_per_scene=(2, 4))
    alone = gen.render(7)
    for i in (3, 9, 0):
        gen.render(i)
    again = SceneGenerator(96, domain="target", seed=11, objects_per_scene=(2, 4)).render(7)
    after = gen.render(7)
    for s in (again, after):
        assert s.image.tobytes() == alone.image.tobytes()
        assert np.array_equal(s.masks, alone.masks) and np.array_equal(s.boxes, alone.boxes)
    assert not np.array_equal(gen.render(8).image, alone.image)


def test_domains_seed_different_streams():
    a = SceneGenerator(48, domain="source", seed=0).render(5).image
    b = SceneGenerator(48, domain="target", seed=0).render(5).image
    assert (a != b).mean() > 0.5


# --- class identity is shape, not colour ------------------------------------------------------------------

@pytest.fixture(scope="module")
def split():
    xtr, ytr, names = make_object_dataset(1500, size=32, seed=0, progress=False)
    xte, yte, _ = make_object_dataset(500, size=32, seed=0, progress=False, offset=10**6)
    return xtr, ytr, xte, yte, names


def test_dataset_shapes_and_balance(split):
    xtr, ytr, xte, yte, names = split
    assert xtr.shape == (1500, 32, 32, 3) and xtr.dtype == np.uint8
    assert ytr.dtype == np.int64 and names == list(PARTS)
    assert np.bincount(ytr, minlength=10).tolist() == [150] * 10
    assert len(np.unique(ytr[:50])) > 5  # shuffled, not sorted by class


def test_mean_colour_does_not_separate_classes(split):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    xtr, ytr, xte, yte, _ = split

    def colour(x):
        x = x.astype(np.float32) / 255
        return np.concatenate([x.mean((1, 2)), x.std((1, 2))], 1)

    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(colour(xtr), ytr)
    acc = clf.score(colour(xte), yte)
    assert acc < 0.25, f"per-image mean/std colour predicts the class ({acc:.0%}): colour leaks the label"


def test_shape_features_learn_the_classes(split):
    from skimage.feature import hog
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    xtr, ytr, xte, yte, _ = split

    def feats(x):
        return np.stack([hog(im.mean(2), orientations=9, pixels_per_cell=(8, 8), cells_per_block=(2, 2)) for im in x])

    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500, C=0.01)).fit(feats(xtr), ytr)
    acc = clf.score(feats(xte), yte)
    assert acc > 0.40, f"HOG + logistic regression only reaches {acc:.0%} (chance 10%): shapes not learnable"


# --- annotations --------------------------------------------------------------------------------------------

def test_boxes_masks_are_consistent_and_match_the_drawn_parts():
    gen = SceneGenerator(128, domain="source", seed=2, objects_per_scene=(2, 5))
    n_objects = 0
    for index in range(6):
        scene = gen.render(index)
        empty = gen.render(index, draw_objects=False)
        assert empty.objects == []
        h, w = scene.image.shape[:2]
        assert scene.masks.shape == (len(scene.objects), h, w) and scene.boxes.shape == (len(scene.objects), 4)
        diff = np.abs(scene.image.astype(int) - empty.image.astype(int)).max(axis=2)
        for obj in scene.objects:
            n_objects += 1
            ys, xs = np.nonzero(obj.mask)
            assert obj.box_xyxy.dtype == np.float32
            assert obj.box_xyxy.tolist() == [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]
            assert 0 <= obj.box_xyxy[0] < obj.box_xyxy[2] <= w and 0 <= obj.box_xyxy[1] < obj.box_xyxy[3] <= h
            assert PARTS[obj.class_id] == obj.part and obj.defects == []
            assert (diff[obj.mask] > 6).mean() > 0.8, "mask pixels should show the part, not the background"
        # far from every part (and its shadow) the scene is the empty scene, byte for byte
        if scene.objects:
            reach = int(max(o.scale for o in scene.objects) * min(h, w)) + 6
            union = scene.masks.any(0).astype(np.uint8)
            near = cv2.dilate(union, np.ones((reach, reach), np.uint8)) > 0
            assert (diff[~near] == 0).all()
    assert n_objects >= 10


@pytest.mark.parametrize("angle", [0.0, 30.0, 75.0, 120.0, -45.0])
def test_angle_is_the_applied_counter_clockwise_rotation(angle):
    # a bolt is long along its unit x axis: its mask's principal axis must follow angle_deg
    still = DOMAINS["source"].replace(name="still", rotation_deg=(angle, angle), clutter=(0, 0), blur_sigma=(0, 0))
    scene = SceneGenerator(128, domain=still, parts=("bolt",), seed=0).render(0)
    (obj,) = scene.objects
    assert obj.angle_deg == angle
    m = cv2.moments(obj.mask.astype(np.uint8), binaryImage=True)
    axis = 0.5 * math.degrees(math.atan2(2 * m["mu11"], m["mu20"] - m["mu02"]))  # y-down image angle
    err = ((-axis - angle) + 90) % 180 - 90
    assert abs(err) < 6, f"principal axis {-axis:.1f} deg vs angle_deg {angle}"
    cx, cy = obj.center_xy
    x0, y0, x1, y1 = obj.box_xyxy
    assert x0 <= cx <= x1 and y0 <= cy <= y1


def test_holes_show_the_background():
    still = DOMAINS["source"].replace(name="still", clutter=(0, 0))
    scene = SceneGenerator(96, domain=still, parts=("washer",), seed=1).render(0)
    (obj,) = scene.objects
    cx, cy = obj.center_xy
    assert not obj.mask[int(cy), int(cx)], "the washer's centre is a hole, not part of the mask"
    assert obj.mask[int(cy), int(obj.box_xyxy[0]) + 2]


def test_defect_hook_edits_the_part_and_is_recorded():
    def fill_holes(canvas: PartCanvas, rng):
        for hole in canvas.spec.holes():
            if hole.kind == "circle":
                c = canvas.to_pixels(hole.pts)[0]
                cv2.circle(canvas.mask, (int(c[0]), int(c[1])), int(hole.r * canvas.radius) + 1, 255, -1)
        return ["missing_hole"]

    still = DOMAINS["source"].replace(name="still", clutter=(0, 0))
    clean = SceneGenerator(96, domain=still, parts=("flange",), seed=0).render(0).objects[0]
    bad = SceneGenerator(96, domain=still, parts=("flange",), seed=0, defect_hook=fill_holes).render(0).objects[0]
    assert clean.defects == [] and bad.defects == ["missing_hole"]
    assert bad.mask.sum() > clean.mask.sum() * 1.05


def test_any_size_and_parts_have_variety():
    for size in (16, 33, (40, 90), 300):
        scene = SceneGenerator(size, objects_per_scene=(1, 3), centred=False, seed=5).render(1)
        hw = (size, size) if isinstance(size, int) else size
        assert scene.image.shape == (*hw, 3) and scene.image.dtype == np.uint8
    rng = np.random.default_rng(0)
    for part in PARTS:  # every part fits the unit circle and instances differ
        a, b = build_part(part, rng), build_part(part, rng)
        assert a.radius() <= 1.0 + 1e-4
        assert any(len(p.pts) != len(q.pts) or not np.allclose(p.pts, q.pts) or p.r != q.r
                   for p, q in zip(a.prims, b.prims)) or len(a.prims) != len(b.prims)


# --- domains -----------------------------------------------------------------------------------------------

def test_domains_differ_measurably():
    def stats(domain):
        gen = SceneGenerator(64, domain=domain, seed=0, objects_per_scene=(1, 3))
        ims = np.stack([gen.render(i).image for i in range(40)]).astype(np.float32)
        sharp = np.mean([np.abs(cv2.Laplacian(im.mean(2), cv2.CV_32F)).mean() for im in ims])
        warm = np.median(ims[..., 0].mean((1, 2)) / (ims[..., 2].mean((1, 2)) + 1))
        return ims.mean(), warm, sharp

    src, shf = stats("source"), stats("shifted")
    assert src[0] - shf[0] > 30, f"shifted should be much darker: {src[0]:.0f} vs {shf[0]:.0f}"
    assert shf[1] > src[1] * 1.3, f"shifted light should be warmer: R/B {src[1]:.2f} vs {shf[1]:.2f}"
    assert shf[2] < src[2] * 0.7, f"shifted should be blurrier: {src[2]:.1f} vs {shf[2]:.1f}"
    assert set(DOMAINS["shifted"].backgrounds).isdisjoint(DOMAINS["source"].backgrounds)


# --- errors ------------------------------------------------------------------------------------------------

def test_bad_inputs_give_clear_errors():
    with pytest.raises(ValueError, match="source, target, shifted"):
        SceneGenerator(32, domain="factory")
    with pytest.raises(ValueError, match=">= 16"):
        SceneGenerator(8)
    with pytest.raises(TypeError, match="size"):
        SceneGenerator(32.0)
    with pytest.raises(ValueError, match="unknown part"):
        SceneGenerator(32, parts=("washer", "sprocket"))
    with pytest.raises(ValueError, match="unknown part"):
        SceneGenerator(32).render(0, part="sprocket")
    with pytest.raises(ValueError, match="n must be"):
        make_object_dataset(0, progress=False)
    with pytest.raises(ValueError, match="unknown background"):
        Domain(name="x", backgrounds=("marble",))
    with pytest.raises(ValueError, match="low <= high"):
        Domain(name="x", blur_sigma=(1.0, 0.5))
    with pytest.raises(ValueError, match="centred"):
        SceneGenerator(64, objects_per_scene=(2, 3), centred=True)
    with pytest.raises(ValueError, match="index"):
        SceneGenerator(32).render(-1)


# --- ArrayDataset and the stand-in ----------------------------------------------------------------------

def test_array_dataset_validates():
    x = np.zeros((3, 8, 8, 3), np.uint8)
    with pytest.raises(TypeError, match="uint8"):
        ArrayDataset(x.astype(np.float32), np.array([0, 1, 0]), ["a", "b"])
    with pytest.raises(ValueError, match=r"\(N, H, W, 3\)"):
        ArrayDataset(np.zeros((3, 8, 8), np.uint8), np.array([0, 1, 0]), ["a", "b"])
    with pytest.raises(ValueError, match="3 images but 2 labels"):
        ArrayDataset(x, np.array([0, 1]), ["a", "b"])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        ArrayDataset(x, np.array([0, 1, 2]), ["a", "b"])
    ds = ArrayDataset(x, np.array([0, 1, 1], np.int32), ["a", "b"], name="toy")
    assert ds.labels.dtype == np.int64 and len(ds) == 3 and ds[2][1] == 1
    assert ds.class_counts().tolist() == [1, 2] and len(ds.subset(ds.labels == 1)) == 2
    assert "toy" in repr(ds)


def test_standin_splits_are_disjoint_and_balanced():
    train, test = make_standin_cifar10(200, 100, seed=0, progress=False)
    assert train.is_standin and test.is_standin and train.classes == list(PARTS)
    assert train.images.shape == (200, 32, 32, 3) and test.class_counts().tolist() == [10] * 10
    seen = {im.tobytes() for im in train.images}
    assert not any(im.tobytes() in seen for im in test.images)
    _, test_again = make_standin_cifar10(50, 100, seed=0, progress=False)
    assert np.array_equal(test.images, test_again.images), "the test set must not depend on n_train"
