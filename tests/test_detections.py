"""Detections (coursekit.types) and the detection metrics (coursekit.detection_metrics)."""
from __future__ import annotations

import json
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from coursekit.calibrate import choose_threshold
from coursekit.detection_metrics import (box_iou, detection_pr_points, detection_recall_precision,
                                         match_detections, mean_average_precision)
from coursekit.types import Detections

NAMES = ["scratch", "dent"]
CATEGORIES = [{"id": 1, "name": "scratch"}, {"id": 2, "name": "dent"}]  # COCO's, for NAMES


def det(xyxy, class_id, confidence=None, names=NAMES, **kw) -> Detections:
    return Detections(xyxy=xyxy, class_id=class_id, class_names=names, confidence=confidence, **kw)


def same(a: Detections, b: Detections, atol: float = 0.0) -> None:
    """Assert two Detections hold the same boxes, classes, scores, masks and size."""
    assert a.class_names == b.class_names
    assert a.image_size == b.image_size
    np.testing.assert_allclose(a.xyxy, b.xyxy, atol=atol, rtol=0)
    np.testing.assert_array_equal(a.class_id, b.class_id)
    if a.confidence is None:
        assert b.confidence is None
    else:
        np.testing.assert_allclose(a.confidence, b.confidence, atol=max(atol, 1e-6), rtol=0)
    if a.masks is None:
        assert b.masks is None
    else:
        np.testing.assert_array_equal(a.masks, b.masks)


@pytest.fixture
def pred() -> Detections:
    return det([[10, 20, 50, 60], [0, 0, 8, 8], [30.5, 5.25, 90, 70]], [1, 0, 0], [0.9, 0.3, 0.5],
               image_size=(80, 100))


# ------------------------------------------------------------------------------ the type


def test_fields_are_converted():
    d = det(torch.tensor([[1, 2, 3, 4]]), torch.tensor([1.0]), torch.tensor([0.5], dtype=torch.float64))
    assert d.xyxy.dtype == np.float32 and d.xyxy.shape == (1, 4)
    assert d.class_id.dtype == np.int64 and d.class_id.tolist() == [1]
    assert d.confidence.dtype == np.float32
    assert d.names == ["dent"]
    assert len(det([], [])) == 0 and det([], []).xyxy.shape == (0, 4)


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        (dict(xyxy=[[0, 0, 1]], class_id=[0]), ValueError, r"xyxy must be \(N, 4\).*\(1, 3\)"),
        (dict(xyxy=[[0, 0, 1, 1], [5, 0, 4, 1]], class_id=[0, 0]), ValueError, r"box 1 is .*x2 < x1"),
        (dict(xyxy=[[0, 3, 1, 1]], class_id=[0]), ValueError, r"box 0 .*y2 < y1"),
        (dict(xyxy=[[0, 0, np.nan, 1]], class_id=[0]), ValueError, r"box 0 .*finite"),
        (dict(xyxy=[[0, 0, 1, 1]], class_id=[2]), ValueError, r"class_id of box 0 is 2, outside 0\.\.1"),
        (dict(xyxy=[[0, 0, 1, 1]], class_id=[-1]), ValueError, r"outside 0\.\.1"),
        (dict(xyxy=[[0, 0, 1, 1]], class_id=[0.5]), ValueError, r"not a whole class index"),
        (dict(xyxy=[[0, 0, 1, 1]], class_id=[0, 1]), ValueError, r"one class index per box \(1\)"),
        (dict(xyxy=[[0, 0, 1, 1]], class_id=["scratch"]), TypeError, r"class_id holds"),
        (dict(xyxy=[[0, 0, 1, 1]], class_id=[0], confidence=[0.1, 0.2]), ValueError, r"one score per box"),
        (dict(xyxy=[[0, 0, 1, 1]], class_id=[0], confidence=[np.inf]), ValueError, r"finite"),
        (dict(xyxy=[[0, 0, 1, 1]], class_id=[0], image_size=(0, 5)), ValueError, r"image_size"),
        (dict(xyxy=[[0, 0, 1, 1]], class_id=[0], masks=np.zeros((1, 4, 5), bool), image_size=(5, 4)),
         ValueError, r"masks are 4x5 .* image_size is 5x4"),
        (dict(xyxy=[[0, 0, 1, 1]], class_id=[0], masks=np.zeros((2, 4, 5), bool)), ValueError, r"masks must be"),
        (dict(xyxy=[[0, 0, 1, 1]], class_id=[0], masks=np.full((1, 4, 5), 0.7)), ValueError, r"masks > 0.5"),
    ],
)
def test_validation_names_what_is_wrong(kwargs, error, message):
    with pytest.raises(error, match=message):
        det(**kwargs)


def test_class_names_are_checked():
    with pytest.raises(TypeError, match="list of strings"):
        Detections(xyxy=[[0, 0, 1, 1]], class_id=[0], class_names="scratch")
    with pytest.raises(ValueError, match="'dent' appears twice"):
        Detections(xyxy=[[0, 0, 1, 1]], class_id=[0], class_names=["dent", "dent"])


def test_masks_give_image_size_and_01_masks_become_bool():
    m = np.zeros((1, 4, 6), np.uint8)
    m[0, 1:3, 2:5] = 1
    d = det([[2, 1, 5, 3]], [0], masks=m)
    assert d.masks.dtype == bool and d.image_size == (4, 6) and d.masks.sum() == 6


def test_indexing(pred):
    one = pred[0]
    assert isinstance(one, Detections) and len(one) == 1 and one.xyxy.shape == (1, 4)
    assert pred[-1].names == ["scratch"] and pred[-1].confidence.tolist() == [0.5]
    assert pred[1:].class_id.tolist() == [0, 0]
    assert pred[np.array([True, False, True])].confidence.tolist() == pytest.approx([0.9, 0.5])
    assert pred[torch.tensor([False, True, False])].confidence.tolist() == pytest.approx([0.3])
    assert pred[[2, 0]].class_id.tolist() == [0, 1]
    assert len(pred[[]]) == 0
    assert pred[0].image_size == (80, 100) and pred[0].class_names == NAMES
    assert [len(d) for d in pred] == [1, 1, 1]  # iterating gives one box at a time
    with pytest.raises(IndexError, match="out of range for 3"):
        pred[3]
    with pytest.raises(IndexError, match="one entry per box"):
        pred[np.array([True, False])]
    with pytest.raises(IndexError, match="out of range"):
        pred[[0, 5]]


def test_indexing_keeps_masks():
    masks = np.zeros((2, 5, 5), bool)
    masks[1, 2, 2] = True
    d = det([[0, 0, 1, 1], [2, 2, 3, 3]], [0, 1], [0.2, 0.8], masks=masks)
    assert d[1].masks.shape == (1, 5, 5) and d[1].masks.sum() == 1 and d[0].masks.sum() == 0


def test_filter(pred):
    assert pred.filter(min_confidence=0.5).confidence.tolist() == pytest.approx([0.9, 0.5])  # >= keeps 0.5
    assert len(pred.filter(min_confidence=0.95)) == 0
    assert pred.filter(classes="scratch").class_id.tolist() == [0, 0]
    assert pred.filter(min_confidence=0.4, classes=["scratch"]).confidence.tolist() == [0.5]
    with pytest.raises(ValueError, match="unknown class 'crack'"):
        pred.filter(classes="crack")
    with pytest.raises(ValueError, match="no confidence"):
        det([[0, 0, 1, 1]], [0]).filter(min_confidence=0.5)


def test_labels_area_empty_repr(pred):
    assert pred.names == ["dent", "scratch", "scratch"]
    assert pred.area.tolist() == pytest.approx([1600, 64, 59.5 * 64.75])
    e = Detections.empty(NAMES, image_size=(10, 20))
    assert len(e) == 0 and e.names == [] and e.confidence.shape == (0,) and e.image_size == (10, 20)
    assert "3 boxes" in repr(pred) and "'scratch': 2" in repr(pred)


# ------------------------------------------------------------------------- round trips


def test_dict_round_trip_is_exact_and_json_safe(pred):
    back = Detections.from_dict(json.loads(json.dumps(pred.to_dict(), allow_nan=False)))
    same(pred, back)
    truth = det([[1, 2, 3, 4]], [0])
    assert Detections.from_dict(json.loads(json.dumps(truth.to_dict()))).confidence is None
    with pytest.raises(ValueError, match="unknown key"):
        Detections.from_dict({**truth.to_dict(), "boxes": []})


def test_dict_round_trip_with_masks():
    rng = np.random.default_rng(0)
    masks = rng.random((3, 7, 9)) > 0.5
    d = det([[0, 0, 2, 2], [1, 1, 5, 6], [0, 0, 9, 7]], [0, 1, 1], [0.1, 0.2, 0.3], masks=masks)
    same(d, Detections.from_dict(json.loads(json.dumps(d.to_dict()))))
    e = det(np.zeros((0, 4)), [], masks=np.zeros((0, 7, 9), bool))
    same(e, Detections.from_dict(json.loads(json.dumps(e.to_dict()))))


def test_yolo_txt_parses_to_pixels():
    text = "1 0.5 0.25 0.2 0.1\n\n0 0.1 0.9 0.2 0.2\n"
    d = Detections.from_yolo_txt(text, image_size=(200, 100), class_names=NAMES)  # height 200, width 100
    assert d.confidence is None and d.image_size == (200, 100)
    np.testing.assert_allclose(d.xyxy, [[40, 40, 60, 60], [0, 160, 20, 200]], atol=1e-4)
    assert d.names == ["dent", "scratch"]


PRED_YOLO_TXT = "1 0.3 0.5 0.4 0.5\n0 0.04 0.05 0.08 0.1\n0 0.6025 0.470313 0.595 0.809375\n"  # pred's boxes


def test_yolo_txt_with_confidence(pred):
    text = "".join(f"{line} {c}\n" for line, c in zip(PRED_YOLO_TXT.splitlines(), (0.9, 0.3, 0.5)))
    same(pred, Detections.from_yolo_txt(text, pred.image_size, NAMES), atol=1e-3)
    back = Detections.from_yolo_txt(PRED_YOLO_TXT, pred.image_size, NAMES)
    assert back.confidence is None
    np.testing.assert_allclose(back.xyxy, pred.xyxy, atol=1e-3)
    assert len(Detections.from_yolo_txt("", (10, 10), NAMES)) == 0


def test_yolo_txt_from_a_file(tmp_path, pred):
    path = tmp_path / "img1.txt"
    path.write_text(PRED_YOLO_TXT)
    a = Detections.from_yolo_txt(path, pred.image_size, NAMES)
    b = Detections.from_yolo_txt(str(path), pred.image_size, NAMES)
    np.testing.assert_allclose(a.xyxy, pred.xyxy, atol=1e-3)
    same(a, b)
    with pytest.raises(FileNotFoundError, match="missing.txt"):
        Detections.from_yolo_txt(str(tmp_path / "missing.txt"), (10, 10), NAMES)


@pytest.mark.parametrize(
    "text, message",
    [
        ("0 0.5 0.5 0.2\n", r"line 1 has 4 values"),
        ("0 0.5 0.5 0.2 0.2\n0 0.5 0.5 0.2 0.2 0.9\n", r"line 2 has 6 values but the lines before"),
        ("0 50 40 20 20\n", r"line 1: .*not all in 0\.\.1"),
        ("\n2 0.5 0.5 0.2 0.2\n", r"line 2: class 2 is not a class index 0\.\.1"),
        ("0 0.5 half 0.2 0.2\n", r"line 1 is not numbers"),
        ("0 0.1 0.1 0.2 0.1 0.2 0.2 0.1 0.2\n", r"segmentation polygon"),
    ],
)
def test_yolo_txt_errors_name_the_line(text, message):
    with pytest.raises(ValueError, match=message):
        Detections.from_yolo_txt(text, (100, 100), NAMES)



def test_coco_round_trip_with_non_contiguous_ids(pred):
    categories = [{"id": 3, "name": "scratch"}, {"id": 7, "name": "dent"}]
    anns = pred.to_coco(image_id=42, category_ids=[3, 7])
    assert anns[0]["category_id"] == 7 and anns[0]["bbox"] == [10.0, 20.0, 40.0, 40.0]
    assert anns[0]["score"] == pytest.approx(0.9) and "id" not in anns[0]
    other = det([[0, 0, 5, 5]], [0], [0.4]).to_coco(image_id=7, category_ids=[3, 7])  # another image
    back = Detections.from_coco(json.loads(json.dumps(anns + other)), 42, categories, image_size=(80, 100))
    same(pred, back)


def test_coco_from_a_dataset_dict_skips_crowds():
    truth = det([[1, 2, 11, 22], [5, 5, 6, 6]], [0, 1], image_size=(30, 40))
    dataset = {
        "images": [{"id": 1, "file_name": "a.png", "height": 30, "width": 40}],
        "categories": CATEGORIES,
        "annotations": truth.to_coco(1)
        + [{"id": 999, "image_id": 1, "category_id": 1, "bbox": [0, 0, 30, 30], "area": 900, "iscrowd": 1}],
    }
    assert [c["id"] for c in dataset["categories"]] == [1, 2]
    back = Detections.from_coco(dataset, image_id=1)
    same(truth, back)


def test_coco_annotations_of_masks():
    masks = np.zeros((2, 12, 16), bool)
    masks[0, 2:6, 3:9] = True
    masks[1, 7:11, 10:15] = True
    d = det([[3, 2, 9, 6], [10, 7, 15, 11]], [0, 1], masks=masks)
    anns = json.loads(json.dumps(d.to_coco(5)))
    assert anns[0]["area"] == 24.0
    same(d, Detections.from_dict({**d.to_dict(), "masks": [a["segmentation"] for a in anns]}))  # COCO's RLE


def test_coco_errors():
    categories = [{"id": 1, "name": "scratch"}, {"id": 2, "name": "dent"}]
    with pytest.raises(ValueError, match="category_id 9 is not in categories"):
        Detections.from_coco([{"id": 4, "image_id": 1, "category_id": 9, "bbox": [0, 0, 1, 1]}], 1, categories)
    mixed = [{"image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1], "score": 0.5},
             {"image_id": 1, "category_id": 1, "bbox": [0, 0, 1, 1]}]
    with pytest.raises(ValueError, match="some annotations have a 'score'"):
        Detections.from_coco(mixed, 1, categories)
    with pytest.raises(ValueError, match="needs categories"):
        Detections.from_coco([], 1)
    assert len(Detections.from_coco([], 1, categories)) == 0


# ------------------------------------------------------------------------------ ultralytics


def fake_result(xyxy, conf, cls, names=None, orig_shape=(48, 64), masks=None):
    boxes = SimpleNamespace(xyxy=torch.tensor(xyxy, dtype=torch.float32).reshape(-1, 4),
                            conf=torch.tensor(conf, dtype=torch.float32), cls=torch.tensor(cls, dtype=torch.float32))
    return SimpleNamespace(boxes=boxes, names=names or {0: "scratch", 1: "dent"}, orig_shape=orig_shape,
                           masks=masks, obb=None, probs=None)


def test_from_ultralytics_with_a_fake_result():
    d = Detections.from_ultralytics(fake_result([[1, 2, 30, 40], [5, 5, 9, 9]], [0.8, 0.4], [1.0, 0.0]))
    assert d.class_names == NAMES and d.image_size == (48, 64) and d.names == ["dent", "scratch"]
    np.testing.assert_allclose(d.xyxy, [[1, 2, 30, 40], [5, 5, 9, 9]])
    assert d.confidence.tolist() == pytest.approx([0.8, 0.4]) and d.class_id.dtype == np.int64
    e = Detections.from_ultralytics(fake_result([], [], []))
    assert len(e) == 0 and e.confidence.shape == (0,)
    with pytest.raises(TypeError, match=r"results\[0\]"):
        Detections.from_ultralytics([fake_result([], [], [])])
    with pytest.raises(ValueError, match="outside 0..1"):
        Detections.from_ultralytics(fake_result([[0, 0, 1, 1]], [0.5], [5.0]))


def test_from_ultralytics_with_a_real_results_object():
    results = pytest.importorskip("ultralytics.engine.results")
    image = np.zeros((32, 64, 3), np.uint8)  # height 32, width 64
    boxes = torch.tensor([[10, 8, 20, 16, 0.9, 1], [0, 0, 5, 5, 0.2, 0]], dtype=torch.float32)
    # masks as a segmentation model returns them without retina_masks: at the 64x64 letterboxed input,
    # where the image sits in rows 16..48
    masks = torch.zeros((2, 64, 64))
    masks[0, 16 + 8:16 + 16, 10:20] = 1
    masks[1, 16:16 + 5, 0:5] = 1
    r = results.Results(image, path="img.png", names={0: "scratch", 1: "dent"}, boxes=boxes, masks=masks)
    d = Detections.from_ultralytics(r)
    assert d.image_size == (32, 64) and d.names == ["dent", "scratch"]
    np.testing.assert_allclose(d.xyxy, [[10, 8, 20, 16], [0, 0, 5, 5]])
    assert d.confidence.tolist() == pytest.approx([0.9, 0.2])
    assert d.masks.shape == (2, 32, 64)
    expected = np.zeros((32, 64), bool)
    expected[8:16, 10:20] = True
    np.testing.assert_array_equal(d.masks[0], expected)
    assert d.masks[1, :5, :5].all() and d.masks[1].sum() == 25


# ------------------------------------------------------------------------------------ box IoU


def test_box_iou_against_hand_computation():
    a = [[0, 0, 10, 10], [0, 0, 4, 4]]
    b = [[5, 5, 15, 15], [0, 0, 10, 10], [20, 20, 30, 30]]
    iou = box_iou(a, b)
    assert iou.shape == (2, 3) and iou.dtype == np.float64
    # 25 overlap / (100 + 100 - 25); identical; disjoint; 16 inside 100
    np.testing.assert_allclose(iou, [[25 / 175, 1.0, 0.0], [0.0, 16 / 100, 0.0]])
    np.testing.assert_allclose(box_iou(det(a, [0, 0]), det(b, [0, 0, 1])), iou)
    assert box_iou(np.zeros((0, 4)), b).shape == (0, 3)
    with pytest.raises(ValueError, match=r"\(N, 4\)"):
        box_iou([[0, 0, 1]], b)


# ---------------------------------------------------------------------------------------- mAP


def test_map_of_perfect_predictions_is_one():
    truth = [det([[0, 0, 40, 40], [50, 50, 90, 80]], [0, 1]), det([[10, 10, 30, 30]], [0])]
    preds = [det(t.xyxy, t.class_id, np.linspace(0.9, 0.6, len(t))) for t in truth]
    r = mean_average_precision(preds, truth)
    for key in ("map", "map_50", "map_75", "mar_100"):
        assert r[key] == pytest.approx(1.0), key
    assert r["per_class"]["scratch"] == {"map": 1.0, "map_50": 1.0, "mar_100": 1.0, "n_targets": 2,
                                         "n_predictions": 2}
    assert (r["n_images"], r["n_targets"], r["n_predictions"]) == (2, 3, 3)
    json.dumps(r, allow_nan=False)  # plain numbers, ready for an EvalReport


def test_map_with_one_of_two_objects_missed():
    truth = [det([[0, 0, 40, 40], [60, 0, 100, 40], [0, 60, 40, 100]], [0, 0, 1])]
    preds = [det([[0, 0, 40, 40], [0, 60, 40, 100]], [0, 1], [0.9, 0.8])]  # the second scratch is missed
    r = mean_average_precision(preds, truth)
    scratch, dent = r["per_class"]["scratch"], r["per_class"]["dent"]
    # COCO interpolates precision at 101 recall points: recall reaches 0.5 with precision 1, so 51/101
    assert scratch["map_50"] == pytest.approx(51 / 101, abs=1e-6)
    assert scratch["map"] == pytest.approx(51 / 101, abs=1e-6) and scratch["mar_100"] == pytest.approx(0.5)
    assert dent["map_50"] == pytest.approx(1.0) and dent["map"] == pytest.approx(1.0)
    assert r["map_50"] == pytest.approx((51 / 101 + 1) / 2, abs=1e-6)
    assert r["mar_100"] == pytest.approx(0.75)


def test_a_loose_box_counts_at_iou_50_but_not_75():
    truth = [det([[0, 0, 100, 100]], [0])]
    preds = [det([[0, 0, 100, 62]], [0], [0.9])]  # IoU 0.62: a hit at 0.50, 0.55, 0.60 of the ten thresholds
    assert box_iou(preds[0], truth[0])[0, 0] == pytest.approx(0.62)
    r = mean_average_precision(preds, truth)
    assert r["map_50"] == pytest.approx(1.0) and r["map_75"] == pytest.approx(0.0)
    assert r["map"] == pytest.approx(0.3, abs=1e-6)
    assert r["per_class"]["scratch"]["map_50"] == pytest.approx(1.0)
    assert r["per_class"]["scratch"]["map"] == pytest.approx(0.3, abs=1e-6)


def test_map_images_without_predictions_or_targets():
    hit = det([[0, 0, 40, 40]], [0])
    # image 2 has an object and no prediction: a miss
    r = mean_average_precision([det(hit.xyxy, [0], [0.9]), Detections.empty(NAMES)],
                               [hit, det([[0, 0, 40, 40]], [0])])
    assert r["per_class"]["scratch"]["map_50"] == pytest.approx(51 / 101, abs=1e-6)
    # image 2 has no object but a confident prediction: a false positive ranked first, precision 1/2
    r = mean_average_precision([det(hit.xyxy, [0], [0.9]), det([[0, 0, 40, 40]], [0], [0.95])],
                               [hit, Detections.empty(NAMES)])
    assert r["map_50"] == pytest.approx(0.5, abs=1e-6)
    # a class that is only predicted, never labelled, is undefined and left out of the mean
    r = mean_average_precision([det([[0, 0, 40, 40], [50, 50, 60, 60]], [0, 1], [0.9, 0.8])], [hit])
    assert r["per_class"]["dent"]["map"] is None and r["per_class"]["dent"]["n_predictions"] == 1
    assert r["map"] == pytest.approx(1.0)
    # nothing labelled anywhere: every number is undefined
    r = mean_average_precision([det([[0, 0, 4, 4]], [0], [0.9])], [Detections.empty(NAMES)])
    assert r["map"] is None and r["map_50"] is None and r["per_class"]["scratch"]["map"] is None
    # nothing predicted anywhere: zero
    r = mean_average_precision([Detections.empty(NAMES)], [hit])
    assert r["map"] == 0.0 and r["mar_100"] == 0.0


def test_map_input_errors():
    truth = det([[0, 0, 4, 4]], [0])
    with pytest.raises(TypeError, match="lists with one Detections per image"):
        mean_average_precision(truth, truth)
    with pytest.raises(ValueError, match="2 predictions but 1 targets"):
        mean_average_precision([truth, truth], [truth])
    with pytest.raises(ValueError, match=r"preds\[0\] has no confidence"):
        mean_average_precision([truth], [truth])
    with pytest.raises(ValueError, match="same classes"):
        mean_average_precision([det([[0, 0, 4, 4]], [0], [0.5])], [det([[0, 0, 4, 4]], [0], names=["a", "b"])])


# ----------------------------------------------------------------------------------- matching


def test_duplicate_prediction_is_one_tp_and_one_fp():
    truth = det([[0, 0, 10, 10]], [0])
    # the higher-scored box is second in the list: matching goes by confidence, not by order
    pred = det([[0, 0, 10, 9], [0, 0, 10, 10]], [0, 0], [0.7, 0.9])
    m = match_detections(pred, truth)
    assert m.pred_tp.tolist() == [False, True] and m.pred_kind == ["duplicate", "tp"]
    assert m.pred_target.tolist() == [-1, 0] and m.target_pred.tolist() == [1]
    assert (m.tp, m.fp, m.fn) == (1, 1, 0)
    assert m.pred_iou.tolist() == pytest.approx([0.9, 1.0])
    assert m.misses.tolist() == []


def test_wrong_class_is_a_false_positive_and_a_miss():
    truth = det([[0, 0, 10, 10]], [0])
    m = match_detections(det([[0, 0, 10, 10]], [1], [0.9]), truth)
    assert m.pred_kind == ["wrong_class"] and m.pred_iou.tolist() == [0.0]
    assert (m.tp, m.fp, m.fn) == (0, 1, 1) and m.misses.tolist() == [0]


def test_match_kinds_best_iou_and_empty_sides():
    truth = det([[0, 0, 10, 10], [4, 0, 14, 10], [50, 50, 60, 60]], [0, 0, 0])
    pred = det([[5, 0, 15, 10], [50, 50, 60, 56], [80, 80, 90, 90], [50, 50, 60, 58], [50, 50, 53, 60]],
               [0, 0, 0, 0, 0], [0.9, 0.8, 0.7, 0.6, 0.5])
    m = match_detections(pred, truth)
    assert m.pred_target.tolist() == [1, 2, -1, -1, -1]  # box 0 overlaps both, takes the better (IoU 9/11)
    assert m.pred_kind == ["tp", "tp", "background", "duplicate", "localization"]  # the last: IoU 0.3
    assert m.pred_iou.tolist() == pytest.approx([9 / 11, 0.6, 0.0, 0.8, 0.3])
    assert m.misses.tolist() == [0]
    strict = match_detections(pred, truth, iou=0.7)  # box 1 (IoU 0.6) no longer counts; box 3 (0.8) does
    assert strict.pred_kind[:4] == ["tp", "localization", "background", "tp"]
    assert strict.pred_target.tolist() == [1, -1, -1, 2, -1]
    none = match_detections(Detections.empty(NAMES), truth)
    assert none.fn == 3 and none.tp == 0
    nothing = match_detections(pred, Detections.empty(NAMES))
    assert nothing.fp == 5 and nothing.pred_kind == ["background"] * 5
    with pytest.raises(ValueError, match="IoU threshold"):
        match_detections(pred, truth, iou=0)


# --------------------------------------------------------------------------- threshold choice


def _scene(seed: int):
    rng = np.random.default_rng(seed)
    truths, preds = [], []
    for _ in range(6):
        k = rng.integers(0, 4)
        xy = rng.uniform(0, 80, (k, 2))
        t = det(np.c_[xy, xy + 15], rng.integers(0, 2, k))
        jitter = t.xyxy + rng.normal(0, 3, t.xyxy.shape)
        jitter[:, 2:] = np.maximum(jitter[:, 2:], jitter[:, :2] + 1)
        extra = rng.uniform(0, 80, (2, 2))
        boxes = np.r_[jitter, np.c_[extra, extra + 12]]
        cls = np.r_[t.class_id, rng.integers(0, 2, 2)]
        preds.append(det(boxes, cls, rng.uniform(0.05, 1, len(boxes)).round(2)))
        truths.append(t)
    return preds, truths


def test_pr_points_agree_with_matching_after_filtering():
    preds, truths = _scene(1)
    is_tp, scores, n_targets = detection_pr_points(preds, truths)
    assert n_targets == sum(len(t) for t in truths) and len(is_tp) == len(scores) == sum(len(p) for p in preds)
    for t in [0.0, 0.3, 0.5, 0.71, 0.9, 1.1]:
        point = detection_recall_precision(is_tp, scores, n_targets, t)
        ms = [match_detections(p.filter(min_confidence=t), g) for p, g in zip(preds, truths)]
        tp, fp = sum(m.tp for m in ms), sum(m.fp for m in ms)
        assert (point.tp, point.fp, point.fn, point.tn) == (tp, fp, n_targets - tp, 0)
        assert point.recall == pytest.approx(tp / n_targets)
        if tp + fp:
            assert point.precision == pytest.approx(tp / (tp + fp))
        else:
            assert np.isnan(point.precision)


def test_threshold_choice_on_detection_scores():
    truth = [det([[0, 0, 10, 10], [20, 0, 30, 10], [40, 0, 50, 10], [60, 0, 70, 10]], [0, 0, 0, 0])]
    pred = [det([[0, 0, 10, 10], [20, 0, 30, 10], [80, 0, 90, 10], [40, 0, 50, 10]], [0, 0, 0, 0],
                [0.9, 0.8, 0.7, 0.6])]  # the fourth object is never found
    is_tp, scores, n = detection_pr_points(pred, truth)
    assert is_tp.tolist() == [1, 1, 0, 1] and n == 4
    choice = choose_threshold(is_tp, scores, min_precision=1.0)
    assert choice.threshold == pytest.approx(0.8) and choice.recall == pytest.approx(2 / 3)  # of the findable
    point = detection_recall_precision(is_tp, scores, n, choice.threshold)
    assert point.recall == pytest.approx(0.5) and point.precision == 1.0  # of all objects
    # a true-recall goal of 0.75 is a relative one of 0.75 * 4 / 3 = 1: keep every box
    choice = choose_threshold(is_tp, scores, min_recall=0.75 * n / is_tp.sum())
    assert detection_recall_precision(is_tp, scores, n, choice.threshold).recall == pytest.approx(0.75)
    # the class filter
    _, _, n_dent = detection_pr_points(pred, truth, classes="dent")
    assert n_dent == 0
    with pytest.raises(ValueError, match="smaller than the 3 true positives"):
        detection_recall_precision(is_tp, scores, 2, 0.5)


def test_a_mask_in_another_coco_form_is_refused_with_the_fix():
    from coursekit.types import _rle_decode

    with pytest.raises(ValueError, match=r"mask 0: 'counts' must be a compressed RLE.*frPyObjects"):
        _rle_decode({"size": [2, 2], "counts": [0, 4]}, 2, 2, "mask 0")
