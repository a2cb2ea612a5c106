"""coco_to_yolo / yolo_to_coco: degenerate boxes and crowd regions are skipped and said (a UserWarning
naming each annotation and its image, a problem each, counts by reason in ``result.skipped``), the rest
is written; a file that is not a COCO dataset is refused with what was expected; and a round trip
coco -> yolo -> coco keeps boxes, category ids and names (non-contiguous ids included)."""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import cv2
import numpy as np
import pytest

from coursekit.data.validate import ValidationError
from coursekit.data.yolo_convert import coco_to_yolo, yolo_to_coco

SIZES = {"p1.png": (120, 80), "p2.png": (64, 64), "p3.png": (50, 90)}  # width, height
# not sorted, not 1..K, one without annotations
CATEGORIES = [{"id": 12, "name": "bolt"}, {"id": 3, "name": "washer"}, {"id": 7, "name": "gear"},
              {"id": 40, "name": "unused"}]
GOOD = {  # annotation id -> (file, category id, bbox): written as they are
    1: ("p1.png", 12, [10.25, 5.5, 30.125, 20.75]),
    2: ("p1.png", 3, [60, 40, 59.5, 39.5]),
    4: ("p2.png", 7, [0, 0, 64, 64]),
    5: ("p2.png", 12, [3.3, 7.7, 1.9, 2.1]),  # a tiny box is fine
    8: ("p3.png", 3, [5, 60, 20, 10]),
}
CLIPPED = {10: ("p1.png", 7, [100, -10, 40, 30], [100, 0, 20, 20])}  # partly outside: clipped, kept
SKIPPED = {  # annotation id -> (file, category id, bbox, iscrowd, reason)
    3: ("p1.png", 7, [20, 20, 0, 10], 0, "bad_size"),  # zero width (the case)
    6: ("p2.png", 3, [10, 10, 5, -4], 0, "bad_size"),  # negative height
    7: ("p2.png", 7, [10, float("nan"), 5, 5], 0, "not_a_number"),
    9: ("p3.png", 12, [60, 10, 10, 10], 0, "out_of_range"),  # right of the 50 px wide image
    11: ("p3.png", 3, [0, 0, 200, 300], 1, "crowd_region"),
    12: ("p1.png", 12, [1, 1, float("inf"), 3], 0, "not_a_number"),
}


def _images(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, (w, h) in SIZES.items():
        assert cv2.imwrite(str(folder / name), np.full((h, w, 3), 40, np.uint8))
    return folder


def _coco() -> dict:
    ids = {name: 100 + k for k, name in enumerate(SIZES)}
    images = [{"id": ids[n], "file_name": n, "width": w, "height": h} for n, (w, h) in SIZES.items()]
    anns = []
    for aid, (f, c, bbox) in GOOD.items():
        anns.append({"id": aid, "image_id": ids[f], "category_id": c, "bbox": bbox, "iscrowd": 0})
    for aid, (f, c, bbox, _clipped) in CLIPPED.items():
        anns.append({"id": aid, "image_id": ids[f], "category_id": c, "bbox": bbox, "iscrowd": 0})
    for aid, (f, c, bbox, crowd, _reason) in SKIPPED.items():
        anns.append({"id": aid, "image_id": ids[f], "category_id": c, "bbox": bbox, "iscrowd": crowd})
    anns.sort(key=lambda a: a["id"])
    return {"images": images, "annotations": anns, "categories": CATEGORIES}


@pytest.fixture
def photos(tmp_path) -> Path:
    return _images(tmp_path / "photos")


def _convert(coco, photos: Path, out: Path, split: str = "train"):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = coco_to_yolo(coco, photos, out, split=split)
    return result, [str(w.message) for w in caught if issubclass(w.category, UserWarning)]


def test_degenerate_boxes_and_crowd_regions_are_skipped_and_said(tmp_path, photos):
    coco_file = tmp_path / "instances_train.json"
    coco_file.write_text(json.dumps(_coco()))  # NaN and Infinity as Python's json writes them
    result, messages = _convert(coco_file, photos, tmp_path / "out")
    # everything else is written
    assert result.n_images == 3 and result.n_boxes == len(GOOD) + len(CLIPPED)
    assert result.skipped == {"crowd_region": 1, "not_a_number": 2, "bad_size": 2, "out_of_range": 1}
    # one warning per reason, naming each annotation and its image
    assert len(messages) == 4, messages
    for aid, (fname, _c, _bbox, _crowd, reason) in SKIPPED.items():
        assert any(f"id {aid} ({fname})" in m and "instances_train.json" in m for m in messages), (aid, messages)
    assert any("zero or negative width or height" in m for m in messages)
    # and a problem each, with the image's path
    problems = {p.message.split("annotation ")[1].split(" ")[0]: p for p in result.problems
                if p.kind in result.skipped}
    assert sorted(map(int, problems)) == sorted(SKIPPED)
    assert all(p.severity == "warning" and p.path.name == SKIPPED[int(a)][0] for a, p in problems.items())
    assert "width 0" in problems["3"].message and "height -4" in problems["6"].message
    clip = [p for p in result.problems if p.kind == "box_outside_image"]
    assert len(clip) == 1 and "annotation 10" in clip[0].message and "clipped" in clip[0].message
    assert "skipped 6 annotation(s): 1 crowd_region, 2 not_a_number, 2 bad_size, 1 out_of_range" in result.summary()


def test_round_trip_keeps_boxes_ids_and_names(tmp_path, photos):
    original = _coco()
    out = tmp_path / "out"
    result, _ = _convert(original, photos, out, "train")
    assert result.names == ["bolt", "washer", "gear", "unused"]  # class i = categories[i], as listed
    assert result.category_ids == {0: 12, 1: 3, 2: 7, 3: 40}
    _convert(original, photos, out, "val")  # a YOLO dataset needs a val split
    back = yolo_to_coco(out, "train")

    assert back["categories"] == CATEGORIES  # ids (non-contiguous, unsorted) and names, in the same order
    file_of = {im["id"]: im["file_name"] for im in back["images"]}
    assert sorted(file_of.values()) == sorted(SIZES)
    for im in back["images"]:
        assert (im["width"], im["height"]) == SIZES[im["file_name"]]
    got: dict[str, list] = {f: [] for f in SIZES}
    for a in back["annotations"]:
        got[file_of[a["image_id"]]].append((a["category_id"], a["bbox"]))
        assert a["iscrowd"] == 0 and a["area"] == pytest.approx(a["bbox"][2] * a["bbox"][3])
    expected: dict[str, list] = {f: [] for f in SIZES}
    kept = {**{a: (f, c, b) for a, (f, c, b) in GOOD.items()},
            **{a: (f, c, clipped) for a, (f, c, _b, clipped) in CLIPPED.items()}}
    for aid in sorted(kept):  # the label file keeps the json's order
        f, c, bbox = kept[aid]
        expected[f].append((c, bbox))
    for f in SIZES:
        assert [c for c, _ in got[f]] == [c for c, _ in expected[f]], f
        # within rounding: 6 decimals of the image size
        np.testing.assert_allclose(np.reshape([b for _, b in got[f]], (-1, 4)),
                                   np.reshape([b for _, b in expected[f]], (-1, 4)), atol=1e-3, err_msg=f)
    # what is missing is exactly what was skipped
    assert len(back["annotations"]) == len(original["annotations"]) - len(SKIPPED)


def test_a_zero_width_box_no_longer_refuses_the_file(tmp_path, photos):
    coco = _coco()
    coco["annotations"] = [a for a in coco["annotations"] if a["id"] in (1, 3)]
    with pytest.warns(UserWarning, match=r"skipped 1 box\(es\) with zero or negative width.*id 3 \(p1\.png\)"):
        result = coco_to_yolo(coco, photos, tmp_path / "out")
    assert result.skipped == {"bad_size": 1} and result.n_boxes == 1
    assert len((tmp_path / "out/labels/train/p1.txt").read_text().splitlines()) == 1


def test_a_results_file_is_refused_with_what_was_expected(tmp_path, photos):
    results = [{"image_id": 100, "category_id": 12, "bbox": [10, 5, 30, 20], "score": 0.9}]
    f = tmp_path / "detections_val_results.json"
    f.write_text(json.dumps(results))
    for source in (f, results):
        with pytest.raises(ValidationError) as info:
            coco_to_yolo(source, photos, tmp_path / "out")
        text = str(info.value)
        assert "COCO results (predictions) file" in text and "{image_id, category_id, bbox, score}" in text
        assert "'images', 'annotations' and 'categories'" in text
        assert info.value.problems and info.value.problems[0].kind == "bad_source"
    with pytest.raises(ValidationError, match=str(f).replace("\\", "\\\\")):
        coco_to_yolo(f, photos, tmp_path / "out")
    f.write_text("[]")
    with pytest.raises(ValidationError, match="an empty list"):
        coco_to_yolo(f, photos, tmp_path / "out")
    f.write_text('"instances.json"')
    with pytest.raises(ValidationError, match="the top level is a str"):
        coco_to_yolo(f, photos, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_missing_keys_are_named(tmp_path, photos):
    coco = _coco()
    del coco["categories"], coco["images"]
    with pytest.raises(ValidationError) as info:
        coco_to_yolo(coco, photos, tmp_path / "out")
    text = str(info.value)
    assert "missing key(s) 'images', 'categories'" in text and "it has 'annotations'" in text
    coco = _coco()
    del coco["annotations"]
    with pytest.raises(ValidationError, match=r"missing key\(s\) 'annotations'.*'annotations': \[\]"):
        coco_to_yolo(coco, photos, tmp_path / "out")
    coco = _coco()
    coco["images"] = {"100": coco["images"][0]}
    with pytest.raises(ValidationError, match="'images' is a dict, not a list"):
        coco_to_yolo(coco, photos, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_broken_annotations_still_refuse_and_write_nothing(tmp_path, photos):
    """Not degenerate but broken (ultralytics' converter would crash or mislabel, not skip): an
    unknown category or image id, a bbox that is not 4 numbers. They are all listed, skips or not."""
    coco = _coco()
    coco["annotations"] += [
        {"id": 50, "image_id": 100, "category_id": 99, "bbox": [1, 1, 5, 5]},
        {"id": 51, "image_id": 999, "category_id": 12, "bbox": [1, 1, 5, 5]},
        {"id": 52, "image_id": 100, "category_id": 12, "bbox": [1, 1, 5]},
    ]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no skip warning either: nothing was converted
        with pytest.raises(ValidationError) as info:
            coco_to_yolo(coco, photos, tmp_path / "out")
    text = str(info.value)
    assert "3 error(s)" in text and "nothing was written" in text
    assert "category_id 99" in text and "image_id 999" in text and "annotation 52 (p1.png): bbox [1, 1, 5]" in text
    assert not (tmp_path / "out").exists()


def test_yolo_to_coco_skips_a_degenerate_label_line(tmp_path, photos):
    out = tmp_path / "out"
    for split in ("train", "val"):
        _convert(_coco(), photos, out, split)
    label = out / "labels/train/p2.txt"
    lines = label.read_text().splitlines()
    label.write_text("\n".join(lines + ["0 0.5 0.5 0 0.1", "1 0.5 nan 0.2 0.2"]) + "\n")
    with pytest.warns(UserWarning, match=r"skipped 2 label line\(s\).*p2\.txt:3.*p2\.txt:4"):
        back = yolo_to_coco(out, "train")
    assert len(back["annotations"]) == len(GOOD) + len(CLIPPED)
    label.write_text("\n".join(lines + ["0 0.5 0.5 0 0.1 0.3"]) + "\n")  # broken, not degenerate: refused
    with pytest.raises(ValidationError, match="p2.txt:3"):
        yolo_to_coco(out, "train")
