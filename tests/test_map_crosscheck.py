"""mAP@0.5 and mAP@0.5:0.95 from coursekit (torchmetrics/pycocotools on ``Detections``) cross-checked
against ultralytics' own validation metrics on the same predictions.

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
