"""Tests for the Module 3 detection dataset (coursekit.data.detection) and its shipped copy."""
from __future__ import annotations

import json
import re
import shutil

import cv2
import numpy as np
import pandas as pd
import pytest
import yaml

from coursekit.data import detection
from coursekit.data.detection import (DEFAULT_COUNTS, DETECTION_CLASSES, DETECTION_SPLITS, MIN_BOX_SIDE,
                                      MIN_IN_FRAME, MIN_VISIBLE, DatasetIntegrityError, detection_root,
                                      generator_for, label_decision, load_detection_split, render_detection_scene,
                                      verify_detection_dataset)
from coursekit.data.yolo import xyxy_to_yolo
from coursekit.data.inspection import INSPECTION_PARTS
from tools import build_detection_dataset as build
from tools.build_detection_dataset import _encode, _label_text, build_detection_dataset

SMALL = {"train": 2, "val": 1, "test": 1, "test_shifted": 2}


def _tight_box(mask: np.ndarray) -> tuple[int, int, int, int]:
    ys, xs = np.nonzero(mask)
    return int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1


def _read_labels(path) -> np.ndarray:
    return np.array(path.read_text().split(), np.float64).reshape(-1, 5)


# --- rendering ----------------------------------------------------------------------------------------------

def test_same_seed_same_bytes_other_seed_other_scene():
    for index, split in ((0, "train"), (4, "val"), (2, "test_shifted")):
        a, labels_a = render_detection_scene(index, split, seed=0)
        b, labels_b = render_detection_scene(index, split, seed=0)
        assert a.image.shape == (320, 320, 3) and a.image.dtype == np.uint8
        assert _encode(a.image) == _encode(b.image) and labels_a == labels_b
        assert _label_text(labels_a) == _label_text(labels_b)
        c, _ = render_detection_scene(index, split, seed=1)
        assert (a.image != c.image).mean() > 0.5
    train, _ = render_detection_scene(0, "train")
    test, _ = render_detection_scene(0, "test")
    assert (train.image != test.image).mean() > 0.5, "splits must not share scenes"


def test_labels_are_the_tight_boxes_of_the_visible_masks():
    size = 320
    seen = set()
    for split in ("train", "test_shifted"):
        for index in range(6):
            scene, labels = render_detection_scene(index, split)
            assert 2 <= len(scene.objects) <= 6 and labels
            rows = _read_labels_text(_label_text(labels))
            assert len(rows) == len(labels)
            for lab, row in zip(labels, rows):
                obj = scene.objects[lab["object"]]
                assert 0 <= lab["class_id"] < len(DETECTION_CLASSES) and row[0] == lab["class_id"]
                assert DETECTION_CLASSES[lab["class_id"]] == lab["class"] == obj.part
                x1, y1, x2, y2 = _tight_box(obj.mask)
                assert lab["box_xyxy"] == (x1, y1, x2, y2)
                want = np.array([(x1 + x2) / 2, (y1 + y2) / 2, x2 - x1, y2 - y1]) / size
                assert np.abs(row[1:] - want).max() <= 1 / size  # the label file, as YOLO reads it
                assert np.abs(row[1:] - want).max() <= 1e-6  # in fact exact to the 6 decimals
                assert (row[1:] > 0).all() and (row[1:] <= 1).all()
                assert lab["area_px"] == int(obj.mask.sum()) and 0 <= lab["occlusion"] < 1
                seen.add(lab["class"])
    assert seen == set(INSPECTION_PARTS)


def _read_labels_text(text: str) -> np.ndarray:
    return np.array(text.split(), np.float64).reshape(-1, 5)


def test_footprint_contains_the_visible_mask():
    # the occlusion/border fractions rely on rebuilding each part's outline: the visible mask must lie
    # inside it, and a part nothing lies on must match it pixel for pixel (most parts in a scene)
    exact = total = 0
    occluded = 0
    for split in ("train", "test_shifted"):
        gen = generator_for(split)
        for index in range(5):
            scene = gen.render(detection.SPLIT_OFFSET[split] + index)
            for k, obj in enumerate(scene.objects):
                inside, full_px = detection._footprint(gen, scene, k)
                assert not (obj.mask & ~inside).any()
                assert full_px >= inside.sum() >= obj.mask.sum()
                exact += bool((inside == obj.mask).all())
                occluded += bool(inside.sum() > obj.mask.sum())
                total += 1
    assert exact >= 0.5 * total and occluded >= 1, (exact, occluded, total)


def test_label_rules():
    assert xyxy_to_yolo([(0, 0, 320, 320)], 320, 320)[0].tolist() == [0.5, 0.5, 1.0, 1.0]
    assert xyxy_to_yolo([(10, 20, 30, 60)], w=200, h=100)[0].tolist() == [0.1, 0.4, 0.1, 0.4]
    box = (10, 10, 60, 60)
    assert label_decision(box, 1000, 1000, 1000) is None
    assert label_decision(box, MIN_VISIBLE * 1000 - 1, 1000, 1000) == "occluded"
    assert label_decision(box, MIN_VISIBLE * 1000, 1000, 1000) is None
    assert label_decision(box, 400, 400, 400 / MIN_IN_FRAME - 1) is None
    assert label_decision(box, 400, 400, 400 / MIN_IN_FRAME + 1) == "border"
    assert label_decision((10, 10, 10 + MIN_BOX_SIDE - 1, 60), 100, 100, 100) == "small"
    assert label_decision((10, 10, 60, 10 + MIN_BOX_SIDE), 100, 100, 100) is None
    with pytest.raises(ValueError, match="unknown split"):
        render_detection_scene(0, "holdout")
    with pytest.raises(ValueError, match="multiple of 32"):
        render_detection_scene(0, "train", size=100)
    with pytest.raises(ValueError, match="index"):
        render_detection_scene(-1, "train")


def test_dropped_parts_are_left_out_and_counted(tmp_path, monkeypatch):
    # the shipped layout rarely hides a part, so tighten the rules to make the builder drop some
    monkeypatch.setattr(detection, "MIN_VISIBLE", 0.9999)
    monkeypatch.setattr(detection, "MIN_BOX_SIDE", 70)
    out = build_detection_dataset(tmp_path / "ds", counts={"train": 6}, progress=False)
    manifest = verify_detection_dataset(out)
    images = pd.read_csv(out / "images.csv")
    objects = pd.read_csv(out / "objects.csv")
    dropped = manifest["dropped"]["train"]
    assert dropped["occluded"] >= 1 and dropped["small"] >= 1
    assert dropped["occluded"] == images["dropped_occluded"].sum() and dropped["small"] == images["dropped_small"].sum()
    assert (objects["occlusion"] <= 1e-4).all()
    assert ((objects["x2"] - objects["x1"] >= 70) & (objects["y2"] - objects["y1"] >= 70)).all()
    for _, row in images.iterrows():
        scene, parts = detection._render(int(row["index"]), "train", 0, 320)
        assert row["boxes"] + row["dropped_occluded"] + row["dropped_border"] + row["dropped_small"] == len(parts)
        assert len(_read_labels(out / row["label_file"])) == row["boxes"]
    assert manifest["label_rules"]["min_visible"] == 0.9999
    assert manifest["boxes"]["train"] == len(objects)
    table = re.search(r"^\| train \| source \| 6 \|(.*)\|$", (out / "README.md").read_text(), re.M)
    cells = [int(c) for c in table.group(1).split("|")]
    assert cells[-3] == dropped["occluded"] and cells[-1] == dropped["small"] and cells[-4] == len(objects)


# --- building -----------------------------------------------------------------------------------------------

def test_build_is_deterministic_and_complete(tmp_path):
    out = build_detection_dataset(tmp_path / "ds", counts=SMALL, progress=False)
    first = verify_detection_dataset(out)
    build_detection_dataset(out, counts=SMALL, progress=False)
    second = verify_detection_dataset(out)
    assert first["files"] == second["files"]
    n = sum(SMALL.values())
    assert len(first["files"]) == 2 * n + 4  # images, labels, data.yaml, objects.csv, images.csv, README.md
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"]
    for split, k in SMALL.items():
        assert len(list((out / "images" / split).glob("*.jpg"))) == k
        assert len(list((out / "labels" / split).glob("*.txt"))) == k
    assert first["counts"] == SMALL and first["classes"] == list(DETECTION_CLASSES)


def test_build_is_atomic(tmp_path, monkeypatch):
    out = tmp_path / "ds"
    build_detection_dataset(out, counts={"val": 2}, progress=False)
    before = verify_detection_dataset(out)["files"]
    real, calls = detection._render, []

    def flaky(*args, **kwargs):
        calls.append(args)
        if len(calls) > 3:
            raise RuntimeError("renderer crashed")
        return real(*args, **kwargs)

    monkeypatch.setattr(detection, "_render", flaky)
    with pytest.raises(RuntimeError, match="renderer crashed"):
        build_detection_dataset(out, counts=SMALL, progress=False)
    assert len(calls) == 4
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"]  # no .building / .old left behind
    assert verify_detection_dataset(out)["files"] == before  # the old dataset is untouched
    calls.clear()
    with pytest.raises(RuntimeError, match="renderer crashed"):
        build_detection_dataset(tmp_path / "fresh", counts=SMALL, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ds"]  # no half folder


def test_main_builds_and_names_the_command(tmp_path, capsys):
    out = tmp_path / "cli"
    build.main([str(out), "--train", "1", "--val", "1", "--test", "0", "--test-shifted", "0", "--seed", "3"])
    assert "wrote" in capsys.readouterr().out
    manifest = verify_detection_dataset(out)
    assert manifest["counts"] == {"train": 1, "val": 1} and manifest["seed"] == 3
    readme = (out / "README.md").read_text()
    assert "python -m tools.build_detection_dataset datasets/parts_detection --seed 3 --train 1 --val 1" in readme
    assert "--test 0" in readme and "--test-shifted 0" in readme
    data = yaml.safe_load((out / "data.yaml").read_text())
    assert "test" not in data and data["train"] == "images/train"


# --- the shipped dataset ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def shipped():
    root = detection_root()
    return root, verify_detection_dataset(root)


def test_shipped_counts_yaml_and_readme(shipped):
    root, manifest = shipped
    assert root.name == "parts_detection" and manifest["counts"] == DEFAULT_COUNTS
    assert manifest["classes"] == list(DETECTION_CLASSES) == list(INSPECTION_PARTS)
    assert manifest["licence"] == "CC0-1.0" and manifest["size"] == 320
    data = yaml.safe_load((root / "data.yaml").read_text())
    assert data["names"] == list(DETECTION_CLASSES) and data["nc"] == 6
    assert not data["path"]  # empty: ultralytics falls back to the yaml's own folder
    for split in DETECTION_SPLITS:
        assert data[split] == f"images/{split}"
        images = sorted(p.stem for p in (root / "images" / split).glob("*.jpg"))
        labels = sorted(p.stem for p in (root / "labels" / split).glob("*.txt"))
        assert images == labels == [f"{split}_{i:04d}" for i in range(DEFAULT_COUNTS[split])]
    objects = pd.read_csv(root / "objects.csv")
    for split in DETECTION_SPLITS:
        n_lines = sum(len(_read_labels(p)) for p in (root / "labels" / split).glob("*.txt"))
        assert n_lines == manifest["boxes"][split] == (objects["split"] == split).sum()
        assert n_lines >= 3 * DEFAULT_COUNTS[split]
    assert set(objects["class"]) == set(DETECTION_CLASSES)
    readme = (root / "README.md").read_text()
    assert "CC0-1.0" in readme and "python -m tools.build_detection_dataset datasets/parts_detection --seed 0\n" in readme
    assert "git checkout -- datasets/parts_detection" in readme and f"{MIN_VISIBLE:.0%}" in readme
    row = re.search(r"^\| train \| source \| 240 \|(.*)\|$", readme, re.M)
    assert row and int(row.group(1).split("|")[len(DETECTION_CLASSES)]) == manifest["boxes"]["train"]
    size = sum(f["size"] for f in manifest["files"].values()) + (root / "manifest.json").stat().st_size
    assert size < 6.3e6, f"the dataset is {size / 1e6:.2f} MB"


def test_shipped_files_are_what_the_generator_renders(shipped):
    root, manifest = shipped
    for split, index in (("val", 0), ("val", 7), ("test_shifted", 3)):
        scene, labels = render_detection_scene(index, split, seed=manifest["seed"], size=manifest["size"])
        stem = f"{split}_{index:04d}"
        assert (root / "labels" / split / f"{stem}.txt").read_text() == _label_text(labels)
        shipped_img = cv2.imdecode(np.fromfile(str(root / "images" / split / f"{stem}.jpg"), np.uint8),
                                   cv2.IMREAD_COLOR)[..., ::-1]
        err = np.abs(shipped_img.astype(int) - scene.image.astype(int))
        assert err.mean() < 6 and np.percentile(err, 99) < 30, f"{stem} is not what the generator renders"


def test_verify_names_changed_missing_and_extra_files(shipped, tmp_path):
    root, _ = shipped
    copy = tmp_path / "parts_detection"
    shutil.copytree(root, copy)
    (copy / ".ipynb_checkpoints").mkdir()  # hidden folders are ignored
    (copy / "labels" / "val.cache").write_bytes(b"ultralytics label cache")  # written by training: ignored
    verify_detection_dataset(copy)
    changed = copy / "images" / "val" / "val_0003.jpg"
    data = bytearray(changed.read_bytes())
    data[-10] ^= 0xFF
    changed.write_bytes(bytes(data))
    (copy / "labels" / "val" / "val_0005.txt").unlink()
    (copy / "labels" / "test" / "stray.txt").write_text("0 0.5 0.5 0.1 0.1\n")
    with pytest.raises(DatasetIntegrityError) as err:
        verify_detection_dataset(copy)
    msg = str(err.value)
    assert "changed (1): images/val/val_0003.jpg" in msg
    assert "missing (1): labels/val/val_0005.txt" in msg
    assert "not in the manifest (1): labels/test/stray.txt" in msg
    assert "git checkout --" in msg and "python -m tools.build_detection_dataset" in msg
    verify_detection_dataset(copy, splits="train")  # only the named split (and top-level files) is checked
    with pytest.raises(DatasetIntegrityError, match="val_0003"):
        load_detection_split("val", root=copy)
    (copy / "objects.csv").write_text("tampered\n")
    with pytest.raises(DatasetIntegrityError, match="objects.csv"):
        verify_detection_dataset(copy, splits="train")


def test_load_detection_split_matches_objects_csv(shipped):
    root, manifest = shipped
    images, targets, meta = load_detection_split("val", root=root)
    assert images.shape == (60, 320, 320, 3) and images.dtype == np.uint8 and len(targets) == 60
    assert meta["index"].tolist() == list(range(60)) and (meta["domain"] == "source").all()
    objects = pd.read_csv(root / "objects.csv")
    objects = objects[objects["split"] == "val"]
    for i, t in enumerate(targets):
        assert t["boxes"].dtype == np.float32 and t["classes"].dtype == np.int64
        rows = objects[objects["index"] == i]
        assert len(t["boxes"]) == len(rows) == meta.loc[i, "boxes"]
        np.testing.assert_allclose(t["boxes"], rows[["x1", "y1", "x2", "y2"]].to_numpy(), atol=1e-3)
        assert t["classes"].tolist() == rows["class_id"].tolist()
    with pytest.raises(ValueError, match="unknown split"):
        load_detection_split("holdout", root=root)


def test_shifted_split_looks_different(shipped):
    root, _ = shipped
    x, _, src = load_detection_split("test", root=root)
    y, _, shf = load_detection_split("test_shifted", root=root)
    assert x.mean() - y.mean() > 30, f"shifted should be darker: {x.mean():.0f} vs {y.mean():.0f}"
    assert (shf["lighting"].isin(["dark", "dim"])).all() and (src["lighting"].isin(["normal", "bright"])).mean() > 0.7
    assert set(src["background"]).isdisjoint(shf["background"])
    assert shf["blur_sigma"].mean() > 2 * src["blur_sigma"].mean()
    assert (shf["domain"] == "shifted").all() and (src["domain"] == "source").all()


def test_manifest_records_the_build(shipped):
    root, manifest = shipped
    assert manifest["generator_version"] == detection.GENERATOR_VERSION and manifest["seed"] == 0
    assert manifest["split_domains"] == {"train": "source", "val": "source", "test": "source",
                                         "test_shifted": "shifted"}
    assert set(manifest["files"]) >= {"data.yaml", "objects.csv", "images.csv", "README.md"}
    assert json.loads((root / "manifest.json").read_text()) == manifest
