"""YOLO label tooling: validate_yolo_dataset on a small drawn dataset and one corrupted copy per defect,
read_yolo_labels, the COCO converters (round trips and hand-written files), box_stats, plot_box_stats."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest
import yaml
from matplotlib.figure import Figure

from coursekit.data.validate import PROBLEM_KINDS, Problem, Report, ValidationError
from coursekit.data.yolo import read_yolo_labels, validate_yolo_dataset, xyxy_to_yolo, yolo_to_xyxy
from coursekit.data.yolo_convert import box_stats, coco_to_yolo, plot_box_stats, yolo_to_coco

NAMES = ["washer", "gear", "bracket"]
# split -> image file -> ((width, height), label text or None for "no label file")
DATASET = {
    "train": {
        "a.jpg": ((64, 48), "0 0.5 0.5 0.25 0.5\n1 0.2 0.3 0.2 0.2\n"),
        "b.png": ((80, 60), "2 0.6 0.4 0.3 0.4\n"),
        "c.jpg": ((64, 64), "1 0.25 0.25 0.25 0.25\n0 0.75 0.75 0.3 0.3\n2 0.5 0.5 0.1 0.2\n"),
        "d.png": ((48, 48), ""),  # a background image: empty label file
    },
    "val": {
        "e.jpg": ((64, 48), "0 0.5 0.5 0.4 0.4\n"),
        "f.png": ((64, 48), "2 0.3 0.6 0.2 0.3\n1 0.7 0.3 0.2 0.2\n"),
    },
}
DATA_YAML = "train: images/train\nval: images/val\nnames: [washer, gear, bracket]\n"


def _draw(path: Path, size: tuple[int, int], labels: str, seed: int) -> None:
    """A noisy background with a filled rectangle where each labelled box is."""
    w, h = size
    rng = np.random.default_rng(seed)
    img = rng.integers(0, 80, (h, w, 3), dtype=np.uint8)
    for line in labels.splitlines():
        c, cx, cy, bw, bh = (float(v) for v in line.split())
        x1, y1, x2, y2 = yolo_to_xyxy([[cx, cy, bw, bh]], w, h)[0].round().astype(int)
        cv2.rectangle(img, (int(x1), int(y1)), (int(x2) - 1, int(y2) - 1), (90 + 60 * int(c), 200, 120), -1)
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), img)


def _make_dataset(root: Path) -> Path:
    seed = 0
    for split, files in DATASET.items():
        for name, (size, text) in files.items():
            seed += 1
            _draw(root / "images" / split / name, size, text, seed)
            label = root / "labels" / split / (Path(name).stem + ".txt")
            label.parent.mkdir(parents=True, exist_ok=True)
            label.write_text(text)
    (root / "data.yaml").write_text(DATA_YAML)
    return root


@pytest.fixture(scope="module")
def valid(tmp_path_factory) -> Path:
    return _make_dataset(tmp_path_factory.mktemp("yolo") / "parts")


@pytest.fixture
def copy(tmp_path, valid) -> Path:
    """A fresh copy of the valid dataset to break."""
    root = tmp_path / "parts"
    shutil.copytree(valid, root)
    return root


def _check(root) -> Report:
    return validate_yolo_dataset(root, progress=False)


def _one(report: Report, kind: str) -> Problem:
    found = report.by_kind(kind)
    assert len(found) == 1, f"expected one {kind}, got {found}\n{report.summary()}"
    return found[0]


def _rel(p: Problem, root: Path) -> str:
    return p.path.relative_to(root).as_posix()


def _leftover_temp_files(folder: Path) -> list[Path]:
    return [p for p in folder.rglob(".*.tmp")]


# ----------------------------------------------------------------------------------------------- the valid dataset


def test_valid_dataset_passes(valid):
    report = _check(valid)
    assert report.ok, report.summary()
    assert report.errors == [] and report.warnings == []
    assert [(p.kind, _rel(p, valid)) for p in report.infos] == [("empty_label", "labels/train/d.txt")]
    assert "background" in report.infos[0].message
    assert report.names == NAMES
    assert report.splits == ["train", "val"]
    assert report.counts["train"] == {"images": 4, "unreadable": 0, "labelled": 4, "background": 1,
                                      "missing_label": 0, "boxes": 6}
    assert report.class_counts == {"train": {"washer": 2, "gear": 2, "bracket": 2},
                                   "val": {"washer": 1, "gear": 1, "bracket": 1}}
    report.raise_if_errors()  # no error: does not raise
    assert "YOLO dataset" in report.summary() and "empty_label x1" in report.summary()
    assert set(PROBLEM_KINDS) >= {p.kind for p in report.problems}


def test_data_yaml_path_or_folder_and_splits(valid):
    by_file = validate_yolo_dataset(valid / "data.yaml", progress=False)
    assert by_file.ok and by_file.data_yaml == (valid / "data.yaml").resolve()
    only_val = validate_yolo_dataset(valid, splits=["val"], progress=False)
    assert only_val.splits == ["val"] and list(only_val.counts) == ["val"]


def test_names_as_dict(copy):
    (copy / "data.yaml").write_text("path: " + str(copy) + "\ntrain: images/train\nval: images/val\n"
                                    "nc: 3\nnames:\n  0: washer\n  1: gear\n  2: bracket\n")
    report = _check(copy)
    assert report.ok, report.summary()
    assert report.names == NAMES
    assert report.class_counts["train"]["bracket"] == 2


def test_names_dict_with_a_gap_and_nc_mismatch(copy):
    (copy / "data.yaml").write_text("train: images/train\nval: images/val\nnc: 4\nnames: {0: washer, 2: gear}\n")
    msgs = [p.message for p in _check(copy).by_kind("bad_yaml")]
    assert any("0..1" in m and "missing [1]" in m for m in msgs), msgs
    assert any("nc is 4" in m for m in msgs), msgs


def test_windows_line_endings_trailing_spaces_and_tabs_are_fine(copy):
    (copy / "labels/train/a.txt").write_bytes(b"\xef\xbb\xbf0 0.5 0.5 0.25 0.5   \r\n\r\n1\t0.2 0.3 0.2 0.2 \r\n")
    report = _check(copy)
    assert report.errors == [] and report.warnings == [], report.summary()
    labels = read_yolo_labels(copy / "labels/train/a.txt", NAMES)
    assert labels.classes.tolist() == [0, 1] and labels.lines.tolist() == [1, 3]
    np.testing.assert_allclose(labels.boxes, [[0.5, 0.5, 0.25, 0.5], [0.2, 0.3, 0.2, 0.2]])


# ---------------------------------------------------------------------------------- one defect per corrupted copy

# kind, severity, the bad line written as line 2 of labels/train/a.txt, words the message must contain
LINE_DEFECTS = [
    ("wrong_columns", "error", "0 0.5 0.5 0.2", ["4 value(s), expected 5"]),
    ("wrong_columns", "error", "0,0.5,0.5,0.2,0.2", ["commas"]),
    ("wrong_columns", "error", "0 0.5 0.5 0.2 0.2 0.9", ["confidence"]),
    ("wrong_columns", "error", "0 0.1 0.1 0.2 0.1 0.2 0.2", ["polygon"]),
    ("not_a_number", "error", "0 0.5 abc 0.2 0.2", ["y_center='abc'"]),
    ("not_a_number", "error", "0 0.5 0.5 nan 0.2", ["width='nan'"]),
    ("bad_class", "error", "1.5 0.5 0.5 0.2 0.2", ["'1.5'", "whole number"]),
    ("bad_class", "error", "3 0.5 0.5 0.2 0.2", ["class id 3", "0..2", "0=washer", "2=bracket"]),
    ("bad_class", "error", "-1 0.5 0.5 0.2 0.2", ["class id -1", "0..2"]),
    ("bad_class", "error", "gear 0.5 0.5 0.2 0.2", ["'gear'", "is 1"]),
    ("bad_class", "warning", "1.0 0.5 0.5 0.2 0.2", ["'1.0'", "write 1"]),
    ("out_of_range", "error", "0 1.2 0.5 0.2 0.2", ["x_center=1.2", "[0, 1]"]),
    ("out_of_range", "error", "0 32 24 16 12", ["x_center=32", "y_center=24", "width=16", "height=12", "pixels"]),
    ("bad_size", "error", "0 0.5 0.5 0 0.2", ["width=0"]),
    ("bad_size", "error", "0 0.5 0.5 0.2 -0.1", ["height=-0.1"]),
    ("box_outside_image", "warning", "0 0.05 0.5 0.2 0.2", ["left by 0.0500"]),
    ("tiny_box", "warning", "0 0.5 0.5 0.01 0.2", ["0.6 x 9.6 px", "64x48"]),
    ("duplicate_box", "warning", "0 0.5 0.5 0.25 0.5", ["identical to", "line 1"]),
    ("duplicate_box", "warning", "0 0.5 0.5 0.25 0.49", ["IoU 0.980", "line 1"]),
]


@pytest.mark.parametrize("kind, severity, line, words", LINE_DEFECTS, ids=[f"{k}:{v}" for k, _s, v, _w in LINE_DEFECTS])
def test_each_line_defect_is_reported_with_file_and_line(copy, kind, severity, line, words):
    (copy / "labels/train/a.txt").write_text(f"0 0.5 0.5 0.25 0.5\n{line}\n1 0.2 0.3 0.2 0.2\n")
    report = _check(copy)
    p = _one(report, kind)
    assert (p.severity, _rel(p, copy), p.line, p.split) == (severity, "labels/train/a.txt", 2, "train")
    assert p.message.startswith("labels/train/a.txt:2: ")
    for w in words:
        assert w in p.message, p.message
    # nothing else is wrong, and nothing is dropped: the good lines still count, the bad one only when kept
    assert {q.kind for q in report.problems} <= {kind, "empty_label"}, report.summary()
    kept = severity == "warning"
    assert report.counts["train"]["boxes"] == 6 + kept
    assert report.ok == (severity != "error")
    frame = report.to_frame()
    row = frame[frame["kind"] == kind].iloc[0]
    assert (row["path"], row["line"], row["severity"]) == ("labels/train/a.txt", 2, severity)


def test_several_bad_lines_are_all_reported(copy):
    (copy / "labels/train/c.txt").write_text("7 0.5 0.5 0.2 0.2\n1 0.5 0.5 0.2\n1 2 0.5 0.2 0.2\n0 0.5 0.5 0.2 0.2\n")
    report = _check(copy)
    found = sorted((p.line, p.kind) for p in report.errors)
    assert found == [(1, "bad_class"), (2, "wrong_columns"), (3, "out_of_range")]
    assert report.counts["train"]["boxes"] == 3 + 1  # a.txt and b.txt, and the good line 4
    with pytest.raises(ValidationError) as info:
        report.raise_if_errors()
    text = str(info.value)
    assert "3 error(s)" in text
    for line in (1, 2, 3):
        assert f"labels/train/c.txt:{line}:" in text
    assert len(info.value.problems) == 3 and info.value.report is report


def test_image_without_label_file_is_a_background_warning(copy):
    (copy / "labels/train/b.txt").unlink()
    report = _check(copy)
    p = _one(report, "missing_label")
    assert (p.severity, _rel(p, copy), p.line) == ("warning", "images/train/b.png", None)
    assert "background" in p.message and "labels/train/b.txt" in p.message
    assert report.ok and report.counts["train"]["missing_label"] == 1


def test_label_file_without_image_is_an_error(copy):
    (copy / "labels/train/zzz.txt").write_text("0 0.5 0.5 0.2 0.2\n")
    p = _one(_check(copy), "orphan_label")
    assert (p.severity, _rel(p, copy)) == ("error", "labels/train/zzz.txt")
    assert "without an image" in p.message


@pytest.mark.parametrize("how", ["truncated", "empty", "text"])
def test_unreadable_image_is_an_error(copy, how):
    path = copy / "images/train/c.jpg"
    data = path.read_bytes()
    path.write_bytes({"truncated": data[: len(data) // 2], "empty": b"", "text": b"<html>not a picture</html>"}[how])
    report = _check(copy)
    p = _one(report, "unreadable_image")
    assert (p.severity, _rel(p, copy)) == ("error", "images/train/c.jpg")
    assert report.counts["train"]["unreadable"] == 1
    if how == "empty":
        assert "0 bytes" in p.message
    if how == "text":
        assert "HTML" in p.message


def test_empty_label_file_is_info(valid):
    p = _one(_check(valid), "empty_label")
    assert (p.severity, _rel(p, valid)) == ("info", "labels/train/d.txt")


def test_label_file_not_utf8(copy):
    (copy / "labels/train/b.txt").write_bytes(b"2 0.6 0.4 0.3 0.4\n\xff\xfe junk\n")
    p = _one(_check(copy), "unreadable_label")
    assert (p.severity, _rel(p, copy), p.line) == ("error", "labels/train/b.txt", 2)


def test_same_name_two_extensions_is_a_clash(copy):
    shutil.copy(copy / "images/train/a.jpg", copy / "images/train/a.png")
    p = _one(_check(copy), "name_clash")
    assert {q.relative_to(copy).as_posix() for q in p.paths} == {"images/train/a.jpg", "images/train/a.png"}
    assert "labels/train/a.txt" in p.message


def test_stray_and_system_files(copy):
    (copy / "images/train/notes.md").write_text("hi")
    (copy / "images/train/.DS_Store").write_bytes(b"\0")
    (copy / "labels/train/classes.txt").write_text("washer\ngear\nbracket\n")
    report = _check(copy)
    found = sorted((p.severity, _rel(p, copy)) for p in report.by_kind("stray_file"))
    assert found == [("info", "images/train/.DS_Store"), ("info", "labels/train/classes.txt"),
                     ("warning", "images/train/notes.md")]
    assert report.ok  # classes.txt is not an orphan label


def test_data_yaml_missing_key(copy):
    (copy / "data.yaml").write_text("train: images/train\nnames: [washer, gear, bracket]\n")
    report = _check(copy)
    p = _one(report, "bad_yaml")
    assert (p.severity, p.split) == ("error", "val") and "'val'" in p.message and "data.yaml" in p.message
    assert report.splits == ["train"]  # the rest is still checked


def test_data_yaml_missing_names(copy):
    (copy / "data.yaml").write_text("train: images/train\nval: images/val\n")
    report = _check(copy)
    assert any("'names'" in p.message for p in report.by_kind("bad_yaml"))
    assert not report.ok


def test_data_yaml_points_to_a_missing_folder(copy):
    (copy / "data.yaml").write_text("train: images/train\nval: images/validation\nnames: [washer, gear, bracket]\n")
    p = _one(_check(copy), "missing_folder")
    assert p.severity == "error" and p.split == "val"
    assert "val: images/validation" in p.message and str(copy / "images/validation") in p.message


def test_no_labels_folder_for_a_split(copy):
    shutil.rmtree(copy / "labels/val")
    report = _check(copy)
    p = _one(report, "missing_folder")
    assert _rel(p, copy) == "labels/val" and p.severity == "error"
    assert {_rel(q, copy) for q in report.by_kind("missing_label")} == {"images/val/e.jpg", "images/val/f.png"}


def test_no_data_yaml_and_broken_yaml(copy):
    (copy / "data.yaml").unlink()
    report = _check(copy)
    assert not report.ok and "no data.yaml" in _one(report, "bad_yaml").message
    (copy / "data.yaml").write_text("train: images/train\nval: [unclosed\n")
    p = _one(_check(copy), "bad_yaml")
    assert "not valid YAML" in p.message and p.line is not None


def test_extra_split_and_empty_test(copy):
    shutil.copytree(copy / "images/val", copy / "images/test_shifted")
    shutil.copytree(copy / "labels/val", copy / "labels/test_shifted")
    (copy / "data.yaml").write_text(DATA_YAML + "test:\ntest_shifted: images/test_shifted\n")
    report = _check(copy)
    assert report.ok and report.splits == ["train", "val", "test_shifted"]
    assert report.counts["test_shifted"]["boxes"] == 3


def test_relative_path_is_read_like_ultralytics(copy, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # ultralytics reads a relative `path` from the current folder
    (copy / "data.yaml").write_text("path: .\n" + DATA_YAML)
    report = _check(copy)
    assert report.errors == []
    p = _one(report, "bad_yaml")
    assert p.severity == "warning" and "current folder" in p.message


def test_summary_groups_problems_by_kind(copy):
    (copy / "labels/train/a.txt").write_text("5 0.5 0.5 0.2 0.2\n6 0.5 0.5 0.2 0.2\n7 0.5 0.5 0.2 0.2\n"
                                             "8 0.5 0.5 0.2 0.2\n")
    text = _check(copy).summary()
    assert "bad_class x4" in text and "... and 1 more" in text
    assert "labels/train/a.txt:1:" in text and "labels/train/a.txt:4:" not in text


# ------------------------------------------------------------------------------------------------- read_yolo_labels


def test_read_yolo_labels_drops_nothing(tmp_path):
    f = tmp_path / "x.txt"
    f.write_text("0 0.5 0.5 0.2 0.2\n\n9 0.5 0.5 0.2 0.2\n1 0.1 0.1 0.1\n1 0.3 0.3 0.1 0.1\n")
    labels = read_yolo_labels(f, names=2)
    assert labels.classes.tolist() == [0, 1] and labels.lines.tolist() == [1, 5]
    assert [(p.kind, p.line) for p in labels.problems] == [("bad_class", 3), ("wrong_columns", 4)]
    assert labels.n_lines == len(labels) + len(labels.errors)
    unchecked = read_yolo_labels(f)  # without names, any id >= 0 is fine
    assert unchecked.classes.tolist() == [0, 9, 1]


# ------------------------------------------------------------------------------------------------- box conversions


def test_xyxy_yolo_round_trip_and_known_values():
    assert xyxy_to_yolo([[10, 20, 50, 60]], 100, 200).tolist() == [[0.3, 0.2, 0.4, 0.2]]
    np.testing.assert_allclose(yolo_to_xyxy([[0.5, 0.5, 1.0, 1.0]], 640, 480), [[0, 0, 640, 480]])
    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 300, (50, 2))
    boxes = np.concatenate([xy, xy + rng.uniform(1, 200, (50, 2))], axis=1)
    w, h = rng.integers(500, 900, 50), rng.integers(500, 900, 50)  # one image size per box
    yolo = xyxy_to_yolo(boxes, w, h)
    assert yolo.shape == (50, 4)
    np.testing.assert_allclose(yolo_to_xyxy(yolo, w, h), boxes, atol=1e-9)
    np.testing.assert_allclose(xyxy_to_yolo(yolo_to_xyxy(yolo, 640, 480), 640, 480), yolo, atol=1e-12)
    assert xyxy_to_yolo(np.zeros((0, 4)), 10, 10).shape == (0, 4)
    with pytest.raises(ValueError, match="4 numbers"):
        xyxy_to_yolo([[1, 2, 3]], 10, 10)
    with pytest.raises(ValueError, match="> 0"):
        yolo_to_xyxy([[0.5, 0.5, 0.1, 0.1]], 0, 10)


# ---------------------------------------------------------------------------------------------------------- COCO


def _all_labels(root: Path, split: str) -> dict[str, tuple[list[int], np.ndarray]]:
    out = {}
    for f in sorted((root / "labels" / split).glob("*.txt")):
        lab = read_yolo_labels(f)
        out[f.name] = (lab.classes.tolist(), lab.boxes)
    return out


def test_yolo_to_coco_structure(valid):
    coco = yolo_to_coco(valid, "train")
    assert [im["file_name"] for im in coco["images"]] == ["a.jpg", "b.png", "c.jpg", "d.png"]
    a = coco["images"][0]
    assert (a["width"], a["height"]) == (64, 48)
    assert coco["categories"] == [{"id": 1, "name": "washer"}, {"id": 2, "name": "gear"}, {"id": 3, "name": "bracket"}]
    first = coco["annotations"][0]  # a.jpg line 1: 0 0.5 0.5 0.25 0.5 in 64 x 48
    assert first["image_id"] == a["id"] and first["category_id"] == 1 and first["iscrowd"] == 0
    np.testing.assert_allclose(first["bbox"], [24, 12, 16, 24])
    assert first["area"] == pytest.approx(384)
    assert len(coco["annotations"]) == 6
    assert len({ann["id"] for ann in coco["annotations"]}) == 6
    json.dumps(coco)  # plain JSON types only


def test_yolo_coco_yolo_round_trip(valid, tmp_path):
    coco_file = tmp_path / "train.json"
    coco_file.write_text(json.dumps(yolo_to_coco(valid, "train")))
    out = tmp_path / "back"
    result = coco_to_yolo(coco_file, valid / "images/train", out, split="train")
    assert result.n_images == 4 and result.n_boxes == 6 and result.names == NAMES
    before, after = _all_labels(valid, "train"), _all_labels(out, "train")
    assert list(before) == list(after)
    for name in before:
        assert before[name][0] == after[name][0], name
        np.testing.assert_allclose(after[name][1], before[name][1], atol=1e-6, err_msg=name)
    assert (out / "labels/train/d.txt").read_text() == ""  # the background image stays one
    assert sorted(p.name for p in (out / "images/train").iterdir()) == ["a.jpg", "b.png", "c.jpg", "d.png"]
    cfg = yaml.safe_load((out / "data.yaml").read_text())
    assert cfg["train"] == "images/train" and cfg["names"] == dict(enumerate(NAMES))
    assert _leftover_temp_files(out) == []
    # val too, into the same dataset: then it validates
    coco_to_yolo(yolo_to_coco(valid, "val"), valid / "images/val", out, split="val")
    report = _check(out)
    assert report.ok and report.class_counts == _check(valid).class_counts


def test_category_ids_are_mapped_explicitly(valid, tmp_path):
    ids = {0: 5, 1: 9, 2: 2}
    coco = yolo_to_coco(valid, "train", category_ids=ids)
    assert [c["id"] for c in coco["categories"]] == [5, 9, 2]
    assert sorted({a["category_id"] for a in coco["annotations"]}) == [2, 5, 9]
    result = coco_to_yolo(coco, valid / "images/train", tmp_path / "d", split="train")
    assert result.category_ids == ids
    assert yaml.safe_load((tmp_path / "d/data.yaml").read_text())["coco_category_ids"] == ids
    for name, (classes, _boxes) in _all_labels(valid, "train").items():
        assert _all_labels(tmp_path / "d", "train")[name][0] == classes
    (tmp_path / "d/data.yaml").write_text((tmp_path / "d/data.yaml").read_text() + "val: images/train\n")
    again = yolo_to_coco(tmp_path / "d", "train")  # the ids stored in data.yaml map back
    assert [c["id"] for c in again["categories"]] == [5, 9, 2]


def _hand_coco(tmp_path: Path) -> tuple[dict, Path]:
    images = tmp_path / "photos"
    images.mkdir(parents=True)
    cv2.imwrite(str(images / "p1.png"), np.zeros((200, 100, 3), np.uint8))  # width 100, height 200
    coco = {
        "images": [{"id": 42, "file_name": "p1.png", "width": 100, "height": 200}],
        "annotations": [
            {"id": 1, "image_id": 42, "category_id": 3, "bbox": [10, 20, 30, 40], "iscrowd": 0},
            {"id": 2, "image_id": 42, "category_id": 7, "bbox": [0, 0, 100, 200], "iscrowd": 0},
            {"id": 3, "image_id": 42, "category_id": 7, "bbox": [50, 50, 10, 10], "iscrowd": 1},
        ],
        "categories": [{"id": 7, "name": "gear"}, {"id": 3, "name": "washer"}],  # not sorted, not 0..K-1
    }
    return coco, images


def test_coco_to_yolo_hand_written(tmp_path):
    coco, images = _hand_coco(tmp_path)
    with pytest.warns(UserWarning, match=r"skipped 1 crowd region.*annotation id 3 \(p1\.png\)"):
        result = coco_to_yolo(coco, images, tmp_path / "out", split="train")
    assert result.names == ["gear", "washer"] and result.category_ids == {0: 7, 1: 3}
    assert result.skipped == {"crowd_region": 1}
    lines = (tmp_path / "out/labels/train/p1.txt").read_text().splitlines()
    assert lines == ["1 0.250000 0.200000 0.300000 0.200000", "0 0.500000 0.500000 1.000000 1.000000"]
    assert [p.kind for p in result.problems if p.severity == "warning"] == ["crowd_region"]
    with pytest.warns(UserWarning, match="crowd region"):
        by_name = coco_to_yolo(coco, images, tmp_path / "out2", class_names=["washer", "gear"])
    assert by_name.category_ids == {0: 3, 1: 7}
    assert (tmp_path / "out2/labels/train/p1.txt").read_text().splitlines()[0].startswith("0 0.25")


def test_coco_to_yolo_errors_write_nothing(tmp_path):
    coco, images = _hand_coco(tmp_path)
    coco["annotations"].append({"id": 9, "image_id": 42, "category_id": 99, "bbox": [1, 1, 5, 5]})
    coco["images"].append({"id": 43, "file_name": "gone.png", "width": 10, "height": 10})
    with pytest.raises(ValidationError) as info:
        coco_to_yolo(coco, images, tmp_path / "out")
    text = str(info.value)
    assert "category_id 99" in text and "gone.png" in text and "nothing was written" in text
    assert not (tmp_path / "out").exists()
    coco, _ = _hand_coco(tmp_path / "again")
    coco["images"][0]["width"], coco["images"][0]["height"] = 200, 100  # swapped: EXIF-style mistake
    with pytest.raises(ValidationError) as info:
        coco_to_yolo(coco, tmp_path / "again/photos", tmp_path / "out")
    assert [p.kind for p in info.value.problems] == ["size_mismatch"] and "EXIF" in str(info.value)


def test_coco_from_yolo_scores_perfect_map_with_pycocotools(valid):
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    gt = COCO()
    gt.dataset = yolo_to_coco(valid, "val")
    gt.createIndex()
    dets = [{"image_id": a["image_id"], "category_id": a["category_id"], "bbox": a["bbox"], "score": 1.0}
            for a in gt.dataset["annotations"]]
    ev = COCOeval(gt, gt.loadRes(dets), "bbox")
    ev.evaluate()
    ev.accumulate()
    ev.summarize()
    assert ev.stats[0] == pytest.approx(1.0)


def test_yolo_to_coco_refuses_broken_split(copy):
    (copy / "labels/val/e.txt").write_text("0 0.5 0.5 0.4\n")
    with pytest.raises(ValidationError, match="labels/val/e.txt:1"):
        yolo_to_coco(copy, "val")
    assert yolo_to_coco(copy, "train")["images"]  # the other split is fine


# -------------------------------------------------------------------------------------------------- box statistics


def test_box_stats_counts_match(valid):
    df = box_stats(valid, "train")
    assert len(df) == 6 and set(df["split"]) == {"train"}
    assert df.groupby("class_name").size().to_dict() == {"washer": 2, "gear": 2, "bracket": 2}
    row = df[(df["file"] == "images/train/a.jpg") & (df["line"] == 1)].iloc[0]
    assert row["label"] == "labels/train/a.txt"
    assert (row["class"], row["class_name"], row["image_width"], row["image_height"]) == (0, "washer", 64, 48)
    assert (row["width_px"], row["height_px"], row["area_px"]) == pytest.approx((16, 24, 384))
    assert row["aspect_ratio"] == pytest.approx(16 / 24)
    assert (row["x_center"], row["area"]) == pytest.approx((0.5, 0.125))
    everything = box_stats(valid)
    assert len(everything) == 9 and everything["split"].value_counts().to_dict() == {"train": 6, "val": 3}


def test_box_stats_warns_about_lines_left_out(copy):
    (copy / "labels/train/a.txt").write_text("0 0.5 0.5 0.25 0.5\n0 0.5 0.5 0.25\n")
    with pytest.warns(UserWarning, match="1 label line"):
        df = box_stats(copy, "train")
    assert len(df) == 5


def test_plot_box_stats(valid):
    fig = plot_box_stats(box_stats(valid))
    assert isinstance(fig, Figure) and len(fig.axes) == 3
    assert [ax.get_title() for ax in fig.axes] == ["boxes per class", "box size", "aspect ratio (width / height)"]
    heights = sorted(bar.get_height() for bar in fig.axes[0].patches)
    assert heights == [1, 1, 1, 2, 2, 2]  # val 1 per class, train 2 per class
    empty = plot_box_stats(box_stats(valid).iloc[:0])
    assert isinstance(empty, Figure) and len(empty.axes) == 3


def test_splits_asked_for_but_not_in_data_yaml(copy):
    shutil.copytree(copy / "images/val", copy / "images/holdout")
    shutil.copytree(copy / "labels/val", copy / "labels/holdout")
    (copy / "data.yaml").write_text(DATA_YAML + "test:\nholdout: images/holdout\n")
    report = validate_yolo_dataset(copy, splits=["test", "holdout"], progress=False)
    p = _one(report, "bad_yaml")
    assert p.split == "test" and "empty 'test'" in p.message
    assert report.splits == ["holdout"] and report.counts["holdout"]["boxes"] == 3  # any key, when asked for


def test_train_and_val_the_same_folder_is_a_leak(copy):
    (copy / "data.yaml").write_text("train: images/train\nval: images/train\nnames: [washer, gear, bracket]\n")
    p = _one(_check(copy), "bad_yaml")
    assert p.severity == "warning" and "train and val use the same images" in p.message


def test_split_as_a_list_file(copy):
    (copy / "train.txt").write_text("./images/train/a.jpg\nimages/train/b.png\nimages/train/gone.jpg\n")
    (copy / "data.yaml").write_text("train: train.txt\nval: images/val\nnames: [washer, gear, bracket]\n")
    report = _check(copy)
    assert report.counts["train"]["images"] == 2 and report.counts["train"]["boxes"] == 3
    p = _one(report, "missing_image")
    assert (_rel(p, copy), p.line, p.severity) == ("train.txt", 3, "error")
    assert report.by_kind("orphan_label") == []  # c.txt and d.txt have images, just not listed


def test_images_outside_an_images_folder(copy):
    shutil.move(copy / "images/val", copy / "valpics")
    (copy / "data.yaml").write_text("train: images/train\nval: valpics\nnames: [washer, gear, bracket]\n")
    p = _one(_check(copy), "bad_layout")
    assert (_rel(p, copy), p.split, p.severity) == ("valpics", "val", "error")
    assert "/labels/" in p.message


def test_write_yolo_dataset_round_trips_through_the_validator(tmp_path):
    """Boxes written by write_yolo_dataset come back through the course's own validator unchanged."""
    import numpy as np
    import pytest

    from coursekit.data.yolo import read_yolo_labels, validate_yolo_dataset, write_yolo_dataset, yolo_to_xyxy
    from coursekit.types import Detections

    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, (3, 40, 60, 3), dtype=np.uint8)
    boxes = [np.array([[2., 3, 20, 30], [30, 5, 59, 39]]), np.zeros((0, 4)), np.array([[0., 0, 60, 40]])]
    dets = [Detections(b, class_id=np.arange(len(b)) % 2, class_names=["hole", "slot"]) for b in boxes]
    yaml_path = write_yolo_dataset(tmp_path / "ds", {"train": (images, dets), "val": (images[:1], dets[:1])},
                                   ["hole", "slot"])
    report = validate_yolo_dataset(yaml_path)
    assert report.ok, report
    for k, b in enumerate(boxes):
        labels = read_yolo_labels(tmp_path / "ds" / "labels" / "train" / f"{k:06d}.txt", ["hole", "slot"])
        np.testing.assert_allclose(yolo_to_xyxy(labels.boxes, 60, 40), b.reshape(-1, 4), atol=1e-3)
    with pytest.raises(FileExistsError, match="overwrite=True"):
        write_yolo_dataset(tmp_path / "ds", {"train": (images, dets)}, ["hole", "slot"])
    # overwrite replaces the folder whole: no image or label of the first dataset survives
    write_yolo_dataset(tmp_path / "ds", {"train": (images[:1], dets[:1])}, ["hole", "slot"], overwrite=True)
    assert sorted(p.name for p in (tmp_path / "ds").rglob("*.png")) == ["000000.png"]
    assert not (tmp_path / "ds" / "labels" / "val").exists()
    assert [p.name for p in tmp_path.iterdir()] == ["ds"], "no temporary or .old folder may be left behind"
    with pytest.raises(ValueError, match="class_id"):
        write_yolo_dataset(tmp_path / "bad", {"train": (images[:1], [Detections(boxes[0], class_id=np.array([0, 5]),
                                                                               class_names=["hole"])])}, ["hole"])
