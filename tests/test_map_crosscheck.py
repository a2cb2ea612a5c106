"""mAP@0.5 and mAP@0.5:0.95 from coursekit (torchmetrics/pycocotools on ``Detections``) cross-checked
against ultralytics' own validation metrics on the same predictions; and, at the end of this file,
every number of ``mean_average_precision`` checked against pycocotools itself (equal within 1e-6).

What ``model.val()`` does after inference is run here for real: a ``DetectionValidator`` gets, batch
by batch, the ground truth as its data loader delivers it (the YOLO label files' normalised
``cx, cy, w, h``) and the predictions as its NMS delivers them (pixel ``x1, y1, x2, y2``, ``conf``,
``cls``, highest confidence first), through ``update_metrics`` (its ``box_iou`` and greedy
``match_predictions`` at IoU 0.50:0.05:0.95) and ``get_stats`` (``DetMetrics.process`` ->
``ap_per_class``). Only the network is left out: a barely trained model in a test scores mAP ≈ 0,
which would make the check vacuous, and training a good one takes far too long.

The predictions are made from the shipped ``val`` split's ground truth (60 images, 239 objects, 6
classes) with a seeded RNG, at five noise levels: each object's box jittered (IoUs spread from below
0.5 to nearly 1), some class swaps, some objects missed, duplicates, background false positives,
confidences that go with the box's quality plus noise. mAP@0.5 spans 0.31..0.96 over the levels,
mAP@0.5:0.95 0.13..0.87.

Tolerance: ``TOL = 0.01`` absolute, for both numbers. The two computations match boxes the same way
(greedy by confidence, each object found at most once, IoU >= threshold, same class only) and sample
precision at the same 101 recall points 0, 0.01, ..., 1; they differ in how the precision-recall curve
becomes a number. COCO (pycocotools, through torchmetrics) takes at each recall point r the envelope's
precision at the first ranked prediction whose recall is >= r (a step function) and averages the 101
samples; ultralytics (``compute_ap``) interpolates the envelope linearly between the curve's points
(``np.interp``) and integrates the 101 samples with the trapezoidal rule (``np.trapezoid``), which
also halves the weight of the end points. With a class's recall moving in steps of 1/34..1/44 here,
the measured differences |ours - ultralytics| are at most 0.0037 (mAP@0.5) and 0.0023 (mAP@0.5:0.95)
over the five levels (seed 0), and 0.0045 / 0.0036 over seeds 0..9. 0.01 is about twice that, and
well below what a real mistake does: ``test_a_real_mistake_on_one_side_is_caught`` gives one side
predictions with a typical adapter bug (x and y swapped, class ids permuted, boxes shifted by 3
pixels, confidences reversed) and requires a gap of more than 3 × TOL (the smallest one, the 3-pixel
shift, moves mAP@0.5:0.95 by 0.12); ``test_a_wrong_iou_threshold_is_caught`` does the same for mAP at
IoU 0.75 read as mAP50; ``test_a_change_in_the_predictions_moves_both_together`` applies a change to
both sides and requires both numbers to drop by more than 3 × TOL and still agree.
"""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from coursekit.data.detection import detection_root, load_detection_split
from coursekit.detection_metrics import mean_average_precision
from coursekit.types import Detections

TOL = 0.01  # absolute, on mAP@0.5 and on mAP@0.5:0.95; see the module docstring

SIZE = 320  # the split's images are SIZE x SIZE
N_CLASSES = 6

# noise levels, cleanest first: jitter (box shift/scale, relative to its size), miss, class swap,
# duplicate probabilities, background false positives per image, confidence noise
LEVELS = {
    "clean": dict(jitter=0.02, miss=0.02, swap=0.01, dup=0.05, bg=0.2, conf_noise=0.05),
    "good": dict(jitter=0.04, miss=0.05, swap=0.04, dup=0.10, bg=0.5, conf_noise=0.10),
    "fair": dict(jitter=0.06, miss=0.10, swap=0.08, dup=0.15, bg=1.0, conf_noise=0.15),
    "poor": dict(jitter=0.09, miss=0.20, swap=0.12, dup=0.20, bg=1.5, conf_noise=0.20),
    "bad": dict(jitter=0.12, miss=0.35, swap=0.20, dup=0.30, bg=2.5, conf_noise=0.25),
}


# ------------------------------------------------------------------------------------ the data


@pytest.fixture(scope="module")
def split():
    """The val split: coursekit's Detections (ground truth), and each image's YOLO label rows as read
    from its label file (for ultralytics, which reads them itself)."""
    names = _names()
    images, targets, meta = load_detection_split("val")
    assert images.shape[1:3] == (SIZE, SIZE)
    truth = [Detections(xyxy=t["boxes"], class_id=t["classes"], class_names=names, image_size=(SIZE, SIZE))
             for t in targets]
    root = detection_root()
    rows = [np.loadtxt(root / f, ndmin=2, dtype=np.float32).reshape(-1, 5) for f in meta["label_file"]]
    files = [str(root / f) for f in meta["file"]]
    return truth, rows, files


def _names() -> list[str]:
    import yaml

    names = yaml.safe_load((detection_root() / "data.yaml").read_text())["names"]
    assert len(names) == N_CLASSES
    return list(names)


def _iou1(a: np.ndarray, b: np.ndarray) -> float:
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def _jitter(box: np.ndarray, s: float, rng) -> np.ndarray:
    w, h = box[2] - box[0], box[3] - box[1]
    cx = (box[0] + box[2]) / 2 + rng.normal(0, s) * w
    cy = (box[1] + box[3]) / 2 + rng.normal(0, s) * h
    w, h = w * np.exp(rng.normal(0, s)), h * np.exp(rng.normal(0, s))
    out = np.clip([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], 0, SIZE)
    out[2:] = np.maximum(out[2:], out[:2] + 2)  # at least 2 px wide and high, still inside the image
    out[:2] = np.minimum(out[:2], out[2:] - 2)
    return out


def make_predictions(truth: list[Detections], level: str, seed: int = 0) -> list[Detections]:
    """Realistic detector output from the ground truth, at one noise level (seeded)."""
    p = LEVELS[level]
    rng = np.random.default_rng(seed)
    sizes = np.concatenate([t.xyxy[:, 2:] - t.xyxy[:, :2] for t in truth])
    preds = []
    for t in truth:
        boxes, classes, confs = [], [], []

        def add(box, c, conf):
            boxes.append(box)
            classes.append(c)
            confs.append(float(np.clip(conf, 0.002, 0.999)))

        for gt, c in zip(t.xyxy.astype(np.float64), t.class_id):
            if rng.random() < p["miss"]:
                continue
            box = _jitter(gt, p["jitter"], rng)
            quality = _iou1(box, gt)  # a well placed box tends to get a high score
            conf = 0.1 + 0.85 * quality ** 2 + rng.normal(0, p["conf_noise"])
            if rng.random() < p["swap"]:
                c, conf = (c + rng.integers(1, N_CLASSES)) % N_CLASSES, conf * 0.8
            add(box, int(c), conf)
            if rng.random() < p["dup"]:  # NMS let a second box through on the same object
                add(_jitter(gt, 1.5 * p["jitter"], rng), int(c), conf * rng.uniform(0.4, 0.95))
        for _ in range(rng.poisson(p["bg"])):  # something that is not there
            w, h = sizes[rng.integers(len(sizes))]
            x, y = rng.uniform(0, SIZE - w), rng.uniform(0, SIZE - h)
            add(np.array([x, y, x + w, y + h]), int(rng.integers(N_CLASSES)), rng.beta(2, 5))
        preds.append(Detections(xyxy=np.array(boxes, np.float32).reshape(-1, 4), class_id=classes,
                                class_names=t.class_names, confidence=np.array(confs, np.float32),
                                image_size=(SIZE, SIZE)))
    return preds


# ----------------------------------------------------------------------------- the two metrics


def ours(preds, truth) -> tuple[float, float]:
    r = mean_average_precision(preds, truth)
    return r["map_50"], r["map"]


def theirs(preds, rows, files, tmp_path, batch_size: int = 16) -> tuple[float, float]:
    """mAP@0.5 and mAP@0.5:0.95 as ``model.val()`` computes them, from its DetectionValidator.

    ``rows``: per image the YOLO label rows ``class cx cy w h`` (fractions), as ultralytics' data
    loader reads them; ``preds``: Detections, handed over as NMS output (sorted by confidence)."""
    from ultralytics.models.yolo.detect import DetectionValidator

    v = DetectionValidator(save_dir=tmp_path, args=dict(plots=False, save_json=False, save_txt=False))
    # what init_metrics sets (it needs a model and a data loader, which this test does not have)
    v.names = dict(enumerate(preds[0].class_names))
    v.nc, v.seen, v.device = len(v.names), 0, torch.device("cpu")
    v.is_custom_json, v.build_gdict, v.eval_ids = False, False, None
    v.metrics.names = v.names
    v.metrics.clear_stats()
    for start in range(0, len(preds), batch_size):
        idx = range(start, min(start + batch_size, len(preds)))
        batch = {  # what the YOLO data loader yields (images unused by the metrics: only their size)
            "img": torch.zeros(1, 3, SIZE, SIZE).expand(len(idx), -1, -1, -1),
            "batch_idx": torch.cat([torch.full((len(rows[i]),), float(k)) for k, i in enumerate(idx)]),
            "cls": torch.cat([torch.from_numpy(rows[i][:, :1]) for i in idx]),
            "bboxes": torch.cat([torch.from_numpy(rows[i][:, 1:]) for i in idx]),
            "ori_shape": [(SIZE, SIZE)] * len(idx),
            "ratio_pad": [((1.0, 1.0), (0.0, 0.0))] * len(idx),
            "im_file": [files[i] for i in idx],
        }
        nms_out = []
        for i in idx:
            order = np.argsort(-preds[i].confidence, kind="stable")
            nms_out.append({"bboxes": torch.from_numpy(preds[i].xyxy[order]),
                            "conf": torch.from_numpy(preds[i].confidence[order]),
                            "cls": torch.from_numpy(preds[i].class_id[order]).float()})
        v.update_metrics(nms_out, batch)
    stats = v.get_stats()
    return stats["metrics/mAP50(B)"], stats["metrics/mAP50-95(B)"]


# -------------------------------------------------------------------------- deliberate mistakes


def _map_preds(preds, fn):
    return [Detections(xyxy=fn(p), class_id=p.class_id, class_names=p.class_names, confidence=p.confidence,
                       image_size=p.image_size) for p in preds]


def swap_xy(preds):
    return _map_preds(preds, lambda p: p.xyxy[:, [1, 0, 3, 2]])


def shift_3px(preds):
    return _map_preds(preds, lambda p: np.clip(p.xyxy + np.float32(3), 0, SIZE))


def permute_classes(preds):
    perm = np.roll(np.arange(N_CLASSES), 1)
    return [Detections(xyxy=p.xyxy, class_id=perm[p.class_id], class_names=p.class_names,
                       confidence=p.confidence, image_size=p.image_size) for p in preds]


def reverse_confidence(preds):
    return [Detections(xyxy=p.xyxy, class_id=p.class_id, class_names=p.class_names,
                       confidence=1 - p.confidence, image_size=p.image_size) for p in preds]


BUGS = {"swap_xy": swap_xy, "shift_3px": shift_3px, "permute_classes": permute_classes,
        "reverse_confidence": reverse_confidence}


# -------------------------------------------------------------------------------------- tests


@pytest.fixture(scope="module")
def measured(split, tmp_path_factory):
    """{level: (predictions, ours (map50, map), ultralytics' (map50, map))} for every noise level."""
    truth, rows, files = split
    out = {}
    for level in LEVELS:
        preds = make_predictions(truth, level)
        out[level] = preds, ours(preds, truth), theirs(preds, rows, files, tmp_path_factory.mktemp(level))
    return out


def test_ours_agrees_with_ultralytics_val_metrics(measured):
    report = "\n".join(f"{lvl:>6}: mAP50 ours {o[0]:.4f} ultralytics {u[0]:.4f} | mAP50-95 ours {o[1]:.4f} "
                       f"ultralytics {u[1]:.4f}" for lvl, (_, o, u) in measured.items())
    for level, (_, (o50, o), (u50, u)) in measured.items():
        assert abs(o50 - u50) <= TOL, f"mAP@0.5 differs by more than {TOL} at level {level!r}:\n{report}"
        assert abs(o - u) <= TOL, f"mAP@0.5:0.95 differs by more than {TOL} at level {level!r}:\n{report}"


def test_the_levels_span_a_useful_range(measured):
    """Not a vacuous check: the predictions range from nearly perfect to poor, and mAP@0.5:0.95 is
    below mAP@0.5 (the box jitter puts many IoUs between 0.5 and 0.95)."""
    map50 = [o[0] for _, o, _ in measured.values()]
    map5095 = [o[1] for _, o, _ in measured.values()]
    assert max(map50) > 0.9 and min(map50) < 0.5, map50
    assert max(map5095) > 0.6 and min(map5095) < 0.3, map5095
    assert all(b < a for a, b in zip(map50, map50[1:])), f"noisier should score lower: {map50}"
    assert all(m5095 < m50 - 0.05 for m50, m5095 in zip(map50, map5095))


@pytest.mark.parametrize("bug", list(BUGS))
def test_a_real_mistake_on_one_side_is_caught(bug, split, measured, tmp_path):
    """One side gets a buggy copy (e.g. an adapter that swaps x and y): the check must fail clearly.

    On the "good" level, whose IoUs are high enough that 3 pixels matter at the strict thresholds."""
    _, rows, files = split
    preds, (o50, o), _ = measured["good"]
    u50, u = theirs(BUGS[bug](preds), rows, files, tmp_path)
    assert max(abs(o50 - u50), abs(o - u)) > 3 * TOL, (bug, o50, u50, o, u)


@pytest.mark.parametrize("level", ["fair", "poor"])
def test_a_wrong_iou_threshold_is_caught(level, split, measured):
    """Reading mAP at IoU 0.75 where mAP50 (IoU 0.5) is meant is far off ultralytics' mAP50."""
    preds, _, (u50, _) = measured[level]
    assert abs(mean_average_precision(preds, split[0])["map_75"] - u50) > 3 * TOL


@pytest.mark.parametrize("bug", ["shift_3px", "reverse_confidence"])
def test_a_change_in_the_predictions_moves_both_together(bug, split, measured, tmp_path):
    """The same change on both sides: both numbers drop by more than the tolerance, and still agree."""
    truth, rows, files = split
    preds, (o50, o), (u50, u) = measured["good"]
    bad = BUGS[bug](preds)
    b_o50, b_o = ours(bad, truth)
    b_u50, b_u = theirs(bad, rows, files, tmp_path)
    assert abs(b_o50 - b_u50) <= TOL and abs(b_o - b_u) <= TOL, (bug, b_o50, b_u50, b_o, b_u)
    assert o - b_o > 3 * TOL and u - b_u > 3 * TOL, (bug, o, b_o, u, b_u)


# ==================================================================== pycocotools itself as the oracle
#
# ``mean_average_precision`` promises COCO's AP. Here pycocotools' COCO / COCOeval, given the same boxes
# as a COCO dataset built in memory (bbox ``[x, y, w, h]``, ``area = w * h``, ``iscrowd 0``, image ids
# 1..N, category ids 1..K: other ids than torchmetrics uses, so nothing may depend on them) and the
# predictions through ``COCO.loadRes`` (as a detector's results file is read), is the oracle: every
# number must agree within ORACLE_TOL. What is left is torchmetrics handing its results over as float32
# (|error| < 6e-8).
#
# Area: pycocotools reads an object's size from the annotation's ``area`` field, torchmetrics (given no
# area) computes ``w * h`` of the box, so the oracle's annotations say ``area = w * h`` too. Against a
# real COCO annotation file, whose ``area`` is the *segmentation's* pixel area, map_small / map_medium
# / map_large can differ (an object near 32² or 96² can fall on the other side); map, map_50, map_75
# and mar_100 do not depend on area.
#
# With torchmetrics' default thresholds (``torch.linspace``, float32: recall point 0.07 is 0.0700000003,
# IoU threshold 0.55 is 0.5500000119), as mean_average_precision used them before, these cases
# differed from pycocotools by up to 0.0072 in map_50 (random_2), 0.0092 in a class's map_50 (random_3),
# 0.0203 in map and 0.0406 in map_medium (iou_exactly_at_thresholds), 0.0081 in map and 0.0107 in a
# class's map (more_than_100_detections); the recall points made the random and size cases differ, the
# IoU thresholds the other two. ``test_the_oracle_cases_see_float32_thresholds`` keeps the cases
# sensitive to both.

ORACLE_TOL = 1e-6
ORACLE_NAMES = ["a", "b", "c", "d"]
SUMMARY_KEYS = ("map", "map_50", "map_75", "map_small", "map_medium", "map_large", "mar_100")


COCO_IOU_THRS = np.linspace(0.5, 0.95, 10)  # pycocotools' Params.setDetParams
COCO_REC_THRS = np.linspace(0.0, 1.0, 101)
FLOAT32_IOU_THRS = torch.linspace(0.5, 0.95, 10).tolist()  # torchmetrics' defaults
FLOAT32_REC_THRS = torch.linspace(0.0, 1.0, 101).tolist()


def coco_oracle(preds: list[Detections], targets: list[Detections], thresholds=None) -> dict:
    """pycocotools' numbers for these boxes: {key: value or -1, "per_class": {name: {map, map_50, mar_100}}}.

    ``thresholds``: (iouThrs, recThrs) to use instead of COCO's own (only to show what float32 ones do)."""
    import contextlib
    import io

    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    names = preds[0].class_names
    images = [{"id": i + 1, "file_name": f"{i}.png", "width": 4096, "height": 4096} for i in range(len(preds))]
    categories = [{"id": c + 1, "name": n} for c, n in enumerate(names)]
    annotations, results = [], []
    for i, t in enumerate(targets):
        for (x1, y1, x2, y2), c in zip(t.xyxy.astype(np.float64).tolist(), t.class_id.tolist()):
            w, h = x2 - x1, y2 - y1
            annotations.append({"id": len(annotations) + 1, "image_id": i + 1, "category_id": c + 1,
                                "bbox": [x1, y1, w, h], "area": w * h, "iscrowd": 0})
    for i, p in enumerate(preds):
        for (x1, y1, x2, y2), c, s in zip(p.xyxy.astype(np.float64).tolist(), p.class_id.tolist(),
                                          p.confidence.tolist()):
            results.append({"image_id": i + 1, "category_id": c + 1, "bbox": [x1, y1, x2 - x1, y2 - y1],
                             "score": s})
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO()
        gt.dataset = {"images": images, "annotations": annotations, "categories": categories}
        gt.createIndex()
        if results:
            dt = gt.loadRes(results)
        else:  # loadRes cannot read an empty results list
            dt = COCO()
            dt.dataset = {"images": images, "annotations": [], "categories": categories}
            dt.createIndex()
        ev = COCOeval(gt, dt, "bbox")
        if thresholds is not None:
            ev.params.iouThrs = np.array(thresholds[0], np.float64)
            ev.params.recThrs = np.array(thresholds[1], np.float64)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
        s = ev.stats
        out = dict(zip(SUMMARY_KEYS, (s[0], s[1], s[2], s[3], s[4], s[5], s[8])))
        out["per_class"] = {}
        for c, name in enumerate(names):
            ev.params.catIds = [c + 1]
            ev.evaluate()
            ev.accumulate()
            ev.summarize()
            out["per_class"][name] = {"map": ev.stats[0], "map_50": ev.stats[1], "mar_100": ev.stats[8]}
    return out


def _as_coco(value) -> float:
    return -1.0 if value is None else float(value)


def oracle_differences(ours: dict, oracle: dict) -> dict[str, float]:
    """|ours - pycocotools| per number; an undefined number (None) must be pycocotools' -1 (inf if not)."""
    def diff(a, b):
        if a is None or b < 0:
            return 0.0 if (a is None and b < 0) else math.inf
        return abs(a - b)

    out = {k: diff(ours[k], oracle[k]) for k in SUMMARY_KEYS}
    for name, theirs in oracle["per_class"].items():
        for k, b in theirs.items():
            out[f"{name}.{k}"] = diff(ours["per_class"][name][k], b)
    return out


# ---------------------------------------------------------------------------------------- the cases


def _det(boxes, classes, conf=None, names=ORACLE_NAMES) -> Detections:
    return Detections(xyxy=np.asarray(boxes, np.float64).reshape(-1, 4), class_id=np.asarray(classes, np.int64),
                      class_names=names, confidence=None if conf is None else np.asarray(conf, np.float32))


def _empty_pred() -> Detections:
    return _det(np.zeros((0, 4)), [], [])


def case_score_ties():
    """10 objects of class a over 3 images, many predictions sharing a score (in one image and across
    images): the ranking among equal scores decides the AP (both sides: the given order, stable)."""
    boxes = [[10 + 50 * k, 10, 50 + 50 * k, 50] for k in range(4)]
    truth = [_det(boxes, [0] * 4), _det(boxes[:3], [0] * 3), _det(boxes[:3], [0] * 3)]
    miss = [[300, 300, 340, 340]]
    preds = [
        _det(boxes[:3] + miss + boxes[3:], [0] * 5, [0.9, 0.5, 0.5, 0.5, 0.3]),
        _det(miss + boxes[:2], [0] * 3, [0.5, 0.5, 0.9]),
        _det(boxes[:3] + miss, [0] * 4, [0.5, 0.3, 0.3, 0.3]),
    ]
    return preds, truth


def case_image_without_truth():
    """Images with no object but confident predictions (false positives ranked first), and an image
    with neither."""
    obj = [[20, 20, 80, 90], [100, 30, 160, 70]]
    truth = [_det(obj, [0, 1]), _det([], []), _det(obj[:1], [0]), _det([], [])]
    preds = [_det(obj, [0, 1], [0.6, 0.7]), _det(obj, [0, 1], [0.95, 0.8]), _det(obj[:1], [0], [0.4]),
             _empty_pred()]
    return preds, truth


def case_classes_only_on_one_side():
    """Class c is only predicted (undefined, left out of the mean), class d only labelled (AP 0)."""
    truth = [_det([[0, 0, 50, 50], [60, 60, 120, 100]], [0, 3]), _det([[10, 10, 40, 60]], [1])]
    preds = [_det([[0, 0, 50, 48], [200, 200, 240, 240]], [0, 2], [0.8, 0.9]),
             _det([[10, 12, 40, 60], [5, 5, 30, 30]], [1, 2], [0.7, 0.6])]
    return preds, truth


def case_tiny_and_boundary_sizes():
    """Boxes of a few pixels, below 32², exactly 32² and 96² (in both neighbouring size ranges), and
    large; predictions a pixel off, so the small ones match only at the lower IoU thresholds."""
    sizes = [(1, 1), (2, 3), (3, 2), (5, 5), (20, 20), (31, 33), (32, 32), (50, 60), (96, 96), (100, 120)]
    boxes, x = [], 0.0
    for w, h in sizes:
        boxes.append([x, 10.0, x + w, 10.0 + h])
        x += w + 20
    shifted = [[b[0] + 1, b[1], b[2] + 1, b[3]] for b in boxes]  # IoU (w-1)/(w+1): 0 for w=1, 0.94 for 32
    classes = [k % 2 for k in range(len(boxes))]
    truth = [_det(boxes, classes), _det(boxes[::2], classes[::2])]
    conf = np.linspace(0.95, 0.3, len(boxes))
    preds = [_det(shifted, classes, conf), _det(boxes[::2] + [[500, 500, 503, 503]], classes[::2] + [0],
                                                list(conf[::2]) + [0.99])]
    return preds, truth


def case_more_than_100_detections():
    """One image with 120 objects of class a and 150 predictions of it (COCO keeps the 100 most
    confident per image and class), 30 of class b on the same image, and a second image."""
    rng = np.random.default_rng(7)
    grid = [[30 * i, 30 * j, 30 * i + 20, 30 * j + 20] for i in range(12) for j in range(10)]
    truth = [_det(grid + grid[:30], [0] * 120 + [1] * 30), _det(grid[:5], [0] * 5)]
    pb = [[b[0] + rng.integers(0, 4), b[1], b[2], b[3] + rng.integers(-2, 3)] for b in grid]
    fp = [[400 + 3 * k, 400, 420 + 3 * k, 420] for k in range(30)]
    conf = np.round(rng.uniform(0.05, 1.0, 180), 2)  # rounded: ties, also at the 100th box
    preds = [_det(pb + fp + pb[:30], [0] * 150 + [1] * 30, conf), _det(grid[:5], [0] * 5, [0.5] * 5)]
    return preds, truth


def case_iou_exactly_at_thresholds():
    """IoU exactly 0.5 and exactly 0.75 (shifted boxes: 200/400 and 600/800 in floating point, no
    rounding), and one image per IoU k/20 = 0.50, 0.55, ..., 0.95 (a 40x40 object, a 40x2k box inside
    it): IoU >= threshold is a match, so each box counts at its own threshold."""
    truth = [_det([[0, 0, 30, 10]], [0]), _det([[0, 0, 70, 10]], [0])]
    preds = [_det([[10, 0, 40, 10]], [0], [0.9]), _det([[10, 0, 80, 10]], [0], [0.8])]
    for k in range(10, 20):
        truth.append(_det([[0, 0, 40, 40]], [1]))
        preds.append(_det([[0, 0, 40, 2 * k]], [1], [k / 40]))
    return preds, truth


def case_random(seed: int):
    """A seeded detector on random scenes: 3 classes with 10, 20 or 25 objects each (their recalls
    k / n land exactly on COCO's recall points), float32 coordinates off any grid, jittered boxes,
    misses, duplicates, background boxes and class swaps, scores rounded to 0.05 (ties)."""
    rng = np.random.default_rng(seed)
    n_images = int(rng.integers(6, 12))
    sizes = [(int(rng.integers(100, 640)), int(rng.integers(100, 640))) for _ in range(n_images)]
    boxes = [[] for _ in range(n_images)]
    classes = [[] for _ in range(n_images)]
    for c, n in enumerate(rng.choice([10, 20, 25], 3)):
        for _ in range(n):
            i = int(rng.integers(n_images))
            W, H = sizes[i]
            w, h = np.exp(rng.uniform(np.log(3), np.log(min(W, H) / 2), 2))
            x, y = rng.uniform(0, W - w), rng.uniform(0, H - h)
            boxes[i].append([x, y, x + w, y + h])
            classes[i].append(c)
    truth = [_det(b, c, names=ORACLE_NAMES[:3]) for b, c in zip(boxes, classes)]
    preds = []
    for t, (W, H) in zip(truth, sizes):
        pb, pc = [], []
        for box, c in zip(t.xyxy.astype(np.float64), t.class_id):
            if rng.random() < 0.15:
                continue
            copies = 2 if rng.random() < 0.15 else 1
            for _ in range(copies):
                w, h = box[2:] - box[:2]
                cx, cy = (box[:2] + box[2:]) / 2 + rng.normal(0, 0.12, 2) * (w, h)
                w, h = w * np.exp(rng.normal(0, 0.15)), h * np.exp(rng.normal(0, 0.15))
                pb.append([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2])
                pc.append(int((c + 1) % 3) if rng.random() < 0.05 else int(c))
        for _ in range(rng.poisson(1.5)):
            w, h = rng.uniform(5, 80, 2)
            x, y = rng.uniform(0, W - w), rng.uniform(0, H - h)
            pb.append([x, y, x + w, y + h])
            pc.append(int(rng.integers(3)))
        conf = np.round(rng.uniform(0.05, 1.0, len(pb)) * 20) / 20
        preds.append(_det(np.asarray(pb).reshape(-1, 4), pc, conf, names=ORACLE_NAMES[:3]))
    return preds, truth


ORACLE_CASES = {
    "score_ties": case_score_ties,
    "image_without_truth": case_image_without_truth,
    "classes_only_on_one_side": case_classes_only_on_one_side,
    "tiny_and_boundary_sizes": case_tiny_and_boundary_sizes,
    "more_than_100_detections": case_more_than_100_detections,
    "iou_exactly_at_thresholds": case_iou_exactly_at_thresholds,
    **{f"random_{seed}": (lambda seed=seed: case_random(seed)) for seed in range(5)},
}


@pytest.mark.parametrize("case", list(ORACLE_CASES))
def test_map_equals_pycocotools(case):
    preds, truth = ORACLE_CASES[case]()
    ours_r = mean_average_precision(preds, truth)
    oracle = coco_oracle(preds, truth)
    d = oracle_differences(ours_r, oracle)
    worst = max(d, key=d.get)
    assert d[worst] <= ORACLE_TOL, (f"{case}: {worst} is {ours_r.get(worst, ours_r['per_class'].get(worst))} here "
                                    f"but pycocotools says {oracle}; all differences: {d}")


def test_map_equals_pycocotools_on_the_val_split(split):
    """The realistic predictions of the ultralytics cross-check, at one noise level."""
    truth = split[0]
    preds = make_predictions(truth, "fair", seed=3)
    d = oracle_differences(mean_average_precision(preds, truth), coco_oracle(preds, truth))
    assert max(d.values()) <= ORACLE_TOL, d


def test_the_oracle_cases_are_not_vacuous():
    """The cases hit what they are named for: classes only on one side, tiny and boundary sizes in
    every range, more than 100 boxes per image and class, and matches exactly at the IoU thresholds."""
    r = mean_average_precision(*case_classes_only_on_one_side())
    assert r["per_class"]["c"]["map"] is None and r["per_class"]["c"]["n_predictions"] == 2
    assert r["per_class"]["d"]["map"] == 0.0
    r = mean_average_precision(*case_tiny_and_boundary_sizes())
    assert all(r[k] is not None for k in ("map_small", "map_medium", "map_large")), r
    assert r["map_small"] < r["map_medium"] <= r["map_large"], r  # a pixel off hurts the small boxes most
    preds, truth = case_more_than_100_detections()
    assert (preds[0].class_id == 0).sum() == 150
    # hand-checkable: a box with IoU k/20 with its object matches at the thresholds 0.50 .. k/20
    preds, truth = case_iou_exactly_at_thresholds()
    for k, p, t in zip(range(10, 20), preds[2:], truth[2:]):
        assert box_iou_exact(p, t) == k / 20
        r = mean_average_precision([p], [t])
        assert r["map"] == pytest.approx((k - 9) / 10, abs=1e-7), (k, r["map"])
        assert r["map_75"] == (1.0 if k >= 15 else 0.0)
    r = mean_average_precision(preds[:2], truth[:2])  # IoU exactly 0.5 and exactly 0.75: found at both
    assert r["map_50"] == 1.0 and r["map_75"] == pytest.approx(51 * 0.5 / 101, abs=1e-7)


def box_iou_exact(p: Detections, t: Detections) -> float:
    """IoU as pycocotools computes it (float64, from x, y, w, h)."""
    return _iou1(p.xyxy[0].astype(np.float64), t.xyxy[0].astype(np.float64))


def test_the_oracle_cases_see_float32_thresholds():
    """With torchmetrics' float32 recall points, or its float32 IoU thresholds, pycocotools itself gives
    other numbers on these cases: ``test_map_equals_pycocotools`` fails if mean_average_precision goes
    back to either."""
    def moved(case, thresholds):
        preds, truth = ORACLE_CASES[case]()
        exact, f32 = coco_oracle(preds, truth), coco_oracle(preds, truth, thresholds=thresholds)
        return max(abs(exact[k] - f32[k]) for k in SUMMARY_KEYS)

    by_recall = {c: moved(c, (COCO_IOU_THRS, FLOAT32_REC_THRS)) for c in ("random_0", "random_2")}
    assert min(by_recall.values()) > 1e-3, by_recall
    by_iou = {c: moved(c, (FLOAT32_IOU_THRS, COCO_REC_THRS))
              for c in ("iou_exactly_at_thresholds", "more_than_100_detections")}
    assert min(by_iou.values()) > 1e-3, by_iou
