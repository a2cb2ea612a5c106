"""Module 3's detector evaluation: the pooled PR curve, threshold choice, the error table, the detection
EvalReport, the detection galleries, the dataset's Detections / object slices and the YOLO settings.

Every expected number below is worked out by hand from the small hand-made boxes (comments show how).
"""
from __future__ import annotations

import math
import shutil
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import yaml  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from coursekit.data.detection import load_detection_split, object_values  # noqa: E402
from coursekit.data.inspection import DatasetIntegrityError  # noqa: E402
from coursekit.detection_metrics import (  # noqa: E402
    DETECTION_DEFAULT_THRESHOLD,
    DetectionThreshold,
    choose_detection_threshold,
    detection_errors,
    detection_pr_curve,
    detection_pr_points,
    detection_recall_precision,
    plot_detection_pr,
)
from coursekit.harness import EvalReport, evaluate_detections  # noqa: E402
from coursekit.models.yolo import YOLO_SETTINGS, yolo_setting  # noqa: E402
from coursekit.config import Settings  # noqa: E402
from coursekit.types import Detections  # noqa: E402
from coursekit.viz import show_detection_errors, show_detections  # noqa: E402

NAMES = ["nut", "bolt"]
NUT, BOLT = 0, 1
REPO = Path(__file__).resolve().parents[1]
DATASET = REPO / "datasets" / "parts_detection"


def det(xyxy, class_id, confidence=None, names=NAMES) -> Detections:
    xyxy = np.asarray(xyxy, dtype=np.float32).reshape(-1, 4)
    return Detections(xyxy=xyxy, class_id=np.asarray(class_id, dtype=np.int64), class_names=names,
                      confidence=None if confidence is None else np.asarray(confidence, dtype=np.float32))


def f32(x: float) -> float:
    """A confidence as Detections stores it (float32), back as a Python float."""
    return float(np.float32(x))


# ------------------------------------------------------------------------------------- the PR data
#
# Two images, one class in use ("nut"), 4 objects, 5 boxes:
#   image 0: objects A [0,0,10,10], B [20,0,30,10], C [40,0,50,10] (C: no box ever covers it)
#            boxes  A 0.9 (TP), background 0.7 (FP), B 0.5 (TP), background 0.3 (FP)
#   image 1: object D [0,0,10,10]; box D 0.8 (TP)
# Keeping conf >= t, from the top:
#   t     TP FP  precision  recall  F1 = 2TP / (2TP + FP + FN)
#   0.9   1  0   1          1/4     2/5
#   0.8   2  0   1          2/4     4/6
#   0.7   2  1   2/3        2/4     4/7
#   0.5   3  1   3/4        3/4     6/8   <- max F1
#   0.3   3  2   3/5        3/4     6/9
# and at the default 0.25: every box, TP 3, FP 2, FN 1.


@pytest.fixture
def pr_data():
    truth = [det([[0, 0, 10, 10], [20, 0, 30, 10], [40, 0, 50, 10]], [NUT] * 3), det([[0, 0, 10, 10]], [NUT])]
    preds = [det([[0, 0, 10, 10], [60, 0, 70, 10], [20, 0, 30, 10], [80, 0, 90, 10]], [NUT] * 4,
                 [0.9, 0.7, 0.5, 0.3]),
             det([[0, 0, 10, 10]], [NUT], [0.8])]
    return preds, truth


def test_pr_curve_layout_and_values(pr_data):
    preds, truth = pr_data
    c = detection_pr_curve(preds, truth)
    # thresholds ascending, the float32 confidences; precision / recall one longer, ending at (1, 0)
    assert c.thresholds.tolist() == [f32(0.3), f32(0.5), f32(0.7), f32(0.8), f32(0.9)]
    assert len(c.precision) == len(c.recall) == len(c.thresholds) + 1
    np.testing.assert_allclose(c.precision, [3 / 5, 3 / 4, 2 / 3, 1, 1, 1], rtol=0, atol=1e-12)
    np.testing.assert_allclose(c.recall, [3 / 4, 3 / 4, 2 / 4, 2 / 4, 1 / 4, 0], rtol=0, atol=1e-12)
    assert c.precision[-1] == 1.0 and c.recall[-1] == 0.0
    # true recall: object C is never found, so even keeping every box the recall is 3/4, not 1
    assert c.recall[0] == pytest.approx(0.75)
    assert c.n_positive == 4  # objects
    assert c.n_negative == 2  # false boxes at the lowest threshold
    # all-point AP: sum of recall steps times precision: 0.25*0.75 + 0.25*1 + 0.25*1
    assert c.average_precision == pytest.approx(0.6875)


def test_pr_curve_pools_classes_and_counts_a_wrong_class_as_false():
    truth = [det([[0, 0, 10, 10], [20, 0, 30, 10]], [NUT, BOLT])]
    # the 0.6 box sits on the bolt but says nut: a false box, and the bolt is never found
    preds = [det([[0, 0, 10, 10], [20, 0, 30, 10]], [NUT, NUT], [0.9, 0.6])]
    c = detection_pr_curve(preds, truth)
    assert c.thresholds.tolist() == [f32(0.6), f32(0.9)]
    np.testing.assert_allclose(c.precision, [1 / 2, 1, 1])
    np.testing.assert_allclose(c.recall, [1 / 2, 1 / 2, 0])
    assert (c.n_positive, c.n_negative) == (2, 1)
    # per class: only the nut's curve
    nut = detection_pr_curve(preds, truth, classes=["nut"])
    assert nut.n_positive == 1 and nut.n_negative == 1
    np.testing.assert_allclose(nut.recall, [1, 1, 0])


def test_pr_curve_merges_equal_float32_confidences():
    # 0.7 and 0.7 + 1e-9 are the same float32: one threshold, both boxes kept together
    truth = [det([[0, 0, 10, 10], [20, 0, 30, 10]], [NUT, NUT])]
    preds = [det([[0, 0, 10, 10], [50, 0, 60, 10]], [NUT, NUT], [0.7, 0.7 + 1e-9])]
    c = detection_pr_curve(preds, truth)
    assert c.thresholds.tolist() == [f32(0.7)]
    np.testing.assert_allclose(c.precision, [1 / 2, 1])
    np.testing.assert_allclose(c.recall, [1 / 2, 0])


def test_pr_curve_without_any_box():
    truth = [det([[0, 0, 10, 10]], [NUT])]
    preds = [det(np.zeros((0, 4)), [], [])]
    c = detection_pr_curve(preds, truth)
    assert len(c.thresholds) == 0
    assert c.precision.tolist() == [1.0] and c.recall.tolist() == [0.0]
    assert (c.n_positive, c.n_negative) == (1, 0)


def test_pr_curve_read_at_a_threshold_agrees_with_float32_filtering(pr_data):
    preds, truth = pr_data
    c = detection_pr_curve(preds, truth)
    point = detection_recall_precision(*detection_pr_points(preds, truth), 0.7)
    assert (point.precision, point.recall) == pytest.approx((2 / 3, 1 / 2))  # the 0.7 box is kept
    assert c.at(0.7) == pytest.approx((2 / 3, 1 / 2))


# ---------------------------------------------------------------------------- threshold choice


def test_choose_max_f1_is_the_default(pr_data):
    preds, truth = pr_data
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        c = choose_detection_threshold(preds, truth)
        c2 = choose_detection_threshold(preds, truth, maximize="f1")
    assert isinstance(c, DetectionThreshold)
    assert c.threshold == pytest.approx(0.5) and c2.threshold == c.threshold
    assert c.goal == "max F1" and c.achieved and c.message == ""
    assert (c.tp, c.fp, c.fn, c.tn) == (3, 1, 1, 0)
    assert (c.precision, c.recall, c.f1) == pytest.approx((3 / 4, 3 / 4, 3 / 4))
    assert (c.n_images, c.n_targets) == (2, 4)
    d = c.at_default
    assert d.threshold == DETECTION_DEFAULT_THRESHOLD == 0.25
    assert (d.tp, d.fp, d.fn, d.tn) == (3, 2, 1, 0)
    assert (d.precision, d.recall) == pytest.approx((3 / 5, 3 / 4))
    # 2 images: the default keeps 1 more false box, i.e. 50 per 100 images; the misses are the same
    assert c.describe() == ("conf >= 0.5 (max F1) gives precision 0.750, recall 0.750; conf >= 0.25 gives "
                            "precision 0.600, recall 0.750: 50.0 more false boxes per 100 images")


@pytest.mark.parametrize("goal, threshold, precision, recall", [
    (dict(min_recall=0.5), 0.8, 1.0, 0.5),      # recall >= 0.5 at 0.8, 0.7, 0.5, 0.3: best precision at 0.8
    (dict(min_recall=0.75), 0.5, 0.75, 0.75),   # 0.5 (P 3/4) beats 0.3 (P 3/5)
    (dict(min_recall=0.25), 0.8, 1.0, 0.5),     # all qualify; precision 1 at 0.9 and 0.8: the better recall
    (dict(min_precision=1.0), 0.8, 1.0, 0.5),   # precision 1 at 0.9 and 0.8: best recall at 0.8
    (dict(min_precision=0.7), 0.5, 0.75, 0.75),  # 0.9, 0.8, 0.5 qualify (0.7 has 2/3): best recall at 0.5
])
def test_choose_for_a_goal(pr_data, goal, threshold, precision, recall):
    preds, truth = pr_data
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        c = choose_detection_threshold(preds, truth, **goal)
    assert c.achieved
    assert c.threshold == pytest.approx(threshold)
    assert (c.precision, c.recall) == pytest.approx((precision, recall))
    name, value = next(iter(goal.items()))
    assert c.goal == f"{name.removeprefix('min_')} >= {value:g}"


def test_choose_for_recall_describes_per_100_images(pr_data):
    preds, truth = pr_data
    c = choose_detection_threshold(preds, truth, min_recall=0.5)
    # at 0.8: FP 0, FN 2; at 0.25: FP 2, FN 1 -> 2 more false boxes and 1 fewer miss on 2 images
    assert (c.fp, c.fn) == (0, 2)
    assert c.describe() == ("conf >= 0.8 (recall >= 0.5) gives precision 1.000, recall 0.500; conf >= 0.25 gives "
                            "precision 0.600, recall 0.750: 100.0 more false boxes and 50.0 fewer missed objects "
                            "per 100 images")
    assert "per 10 images" in c.describe(per=10)
    assert "2.0 more false parts and 1.0 fewer missed objects per 2 images" in c.describe(fp="false parts", per=2)


def test_ties_go_to_the_highest_threshold():
    # 2 objects; boxes TP 0.9, FP 0.5, FP 0.4, TP 0.3
    #   F1 at 0.9: 2/(2+0+1) = 2/3; 0.5: 2/4; 0.4: 2/5; 0.3: 4/(4+2+0) = 2/3  -> tie: 0.9 wins
    truth = [det([[0, 0, 10, 10], [20, 0, 30, 10]], [NUT, NUT])]
    preds = [det([[0, 0, 10, 10], [50, 0, 60, 10], [70, 0, 80, 10], [20, 0, 30, 10]], [NUT] * 4,
                 [0.9, 0.5, 0.4, 0.3])]
    c = choose_detection_threshold(preds, truth, maximize="f1")
    assert c.threshold == pytest.approx(0.9)
    assert c.f1 == pytest.approx(2 / 3)


def test_the_chosen_threshold_keeps_its_own_box():
    # the chosen threshold is a float32 confidence: filtering with it keeps that box
    truth = [det([[0, 0, 10, 10], [20, 0, 30, 10]], [NUT, NUT])]
    preds = [det([[0, 0, 10, 10], [50, 0, 60, 10], [20, 0, 30, 10]], [NUT] * 3, [0.9, 0.8, 0.7])]
    c = choose_detection_threshold(preds, truth, min_recall=1.0)
    assert c.threshold == pytest.approx(0.7) and c.recall == 1.0 and c.precision == pytest.approx(2 / 3)
    assert len(preds[0].filter(min_confidence=c.threshold)) == 3


def test_unreachable_recall_warns_and_gives_the_closest_point(pr_data):
    preds, truth = pr_data
    with pytest.warns(UserWarning, match=r"no confidence threshold reaches recall >= 0\.9") as record:
        c = choose_detection_threshold(preds, truth, min_recall=0.9)
    # the highest recall is 3/4 (at 0.5 and 0.3); 0.5 has the better precision
    assert not c.achieved
    assert c.threshold == pytest.approx(0.5)
    assert (c.precision, c.recall) == pytest.approx((0.75, 0.75))
    assert "1 objects are never found" in c.message  # object C
    assert str(record[0].message) == c.message
    assert c.describe().startswith("the goal (recall >= 0.9) is out of reach: the closest threshold, 0.5, gives "
                                   "precision 0.750 with recall 0.750; conf >= 0.25")


def test_unreachable_precision_warns_and_gives_the_most_precise_point():
    # 2 objects; boxes FP 0.95, TP 0.9, FP 0.5, TP 0.3: precision 0, 1/2, 1/3, 2/4 -> at best 1/2
    truth = [det([[0, 0, 10, 10], [20, 0, 30, 10]], [NUT, NUT])]
    preds = [det([[50, 0, 60, 10], [0, 0, 10, 10], [70, 0, 80, 10], [20, 0, 30, 10]], [NUT] * 4,
                 [0.95, 0.9, 0.5, 0.3])]
    with pytest.warns(UserWarning, match=r"precision >= 0\.9"):
        c = choose_detection_threshold(preds, truth, min_precision=0.9)
    # 1/2 at 0.9 (recall 1/2) and at 0.3 (recall 1): the better recall wins
    assert not c.achieved
    assert c.threshold == pytest.approx(0.3)
    assert (c.precision, c.recall) == pytest.approx((0.5, 1.0))
    assert "never found" not in c.message


@pytest.mark.parametrize("kwargs, message", [
    (dict(min_recall=0.9, min_precision=0.9), "give one goal"),
    (dict(min_recall=0.9, maximize="f1"), "give one goal"),
    (dict(min_recall=0.0), "min_recall=0.0"),
    (dict(min_recall=1.5), "fraction in"),
    (dict(min_precision=-0.1), "min_precision=-0.1"),
    (dict(maximize="accuracy"), "only 'f1'"),
])
def test_choose_argument_errors(pr_data, kwargs, message):
    preds, truth = pr_data
    with pytest.raises(ValueError, match=message):
        choose_detection_threshold(preds, truth, **kwargs)


def test_choose_needs_objects_and_boxes():
    empty_truth = [det(np.zeros((0, 4)), [])]
    boxes = [det([[0, 0, 10, 10]], [NUT], [0.5])]
    with pytest.raises(ValueError, match="no object"):
        choose_detection_threshold(boxes, empty_truth)
    with pytest.raises(ValueError, match="no box"):
        choose_detection_threshold([det(np.zeros((0, 4)), [], [])], [det([[0, 0, 10, 10]], [NUT])])


def test_choose_with_another_default(pr_data):
    preds, truth = pr_data
    c = choose_detection_threshold(preds, truth, default=0.75)
    assert c.at_default.threshold == 0.75
    assert (c.at_default.tp, c.at_default.fp, c.at_default.fn) == (2, 0, 2)  # boxes 0.9 and 0.8


# ------------------------------------------------------------------------------------ error table
#
# Classes nut / bolt, threshold 0.5, IoU 0.5.
# image 0: objects T0 nut [0,0,10,10], T1 nut [20,0,30,10], T2 bolt [40,0,60,20], T3 bolt [0,40,20,70]
#   nut  [0,0,10,10]      0.9   finds T0
#   nut  [0,0,10,10]      0.8   duplicate of T0 (IoU 1)
#   bolt [20,0,30,10]     0.7   wrong_class on T1; T1 -> "missed: wrong class"
#   nut  [100,100,110,110] 0.6  background
#   bolt [10,40,30,70]    0.55  localization on T3: IoU 300 / 900 = 1/3; T3 -> "missed: not found"
#   bolt [40,0,60,20]     0.3   on T2 but below the threshold (and 0.1 too) -> "missed: below threshold", 0.3
# image 1: object T4 nut [0,0,50,50]; box nut [200,200,210,210] 0.95: background; T4 -> "missed: not found"

EXPECTED_ERRORS = [  # image, error, class, confidence, iou, x1, y1, x2, y2, area
    (1, "background", "nut", 0.95, 0.0, 200, 200, 210, 210, 100),
    (0, "duplicate", "nut", 0.8, 1.0, 0, 0, 10, 10, 100),
    (0, "wrong_class", "bolt", 0.7, 0.0, 20, 0, 30, 10, 100),
    (0, "background", "nut", 0.6, 0.0, 100, 100, 110, 110, 100),
    (0, "localization", "bolt", 0.55, 1 / 3, 10, 40, 30, 70, 600),
    (1, "missed: not found", "nut", math.nan, 0.0, 0, 0, 50, 50, 2500),
    (0, "missed: not found", "bolt", math.nan, 1 / 3, 0, 40, 20, 70, 600),
    (0, "missed: below threshold", "bolt", 0.3, 1.0, 40, 0, 60, 20, 400),
    (0, "missed: wrong class", "nut", math.nan, 0.0, 20, 0, 30, 10, 100),
]


@pytest.fixture
def error_data():
    truth = [det([[0, 0, 10, 10], [20, 0, 30, 10], [40, 0, 60, 20], [0, 40, 20, 70]], [NUT, NUT, BOLT, BOLT]),
             det([[0, 0, 50, 50]], [NUT])]
    preds = [det([[0, 0, 10, 10], [0, 0, 10, 10], [20, 0, 30, 10], [100, 100, 110, 110], [10, 40, 30, 70],
                  [40, 0, 60, 20], [40, 0, 60, 20]],
                 [NUT, NUT, BOLT, NUT, BOLT, BOLT, BOLT], [0.9, 0.8, 0.7, 0.6, 0.55, 0.3, 0.1]),
             det([[200, 200, 210, 210]], [NUT], [0.95])]
    return preds, truth


def test_error_table_rows_kinds_and_order(error_data):
    preds, truth = error_data
    table = detection_errors(preds, truth, threshold=0.5)
    columns = ["image", "error", "class", "confidence", "iou", "x1", "y1", "x2", "y2", "area"]
    assert [c for c in table.columns if c in columns] == columns  # (other columns may follow x1..y2)
    assert list(table.index) == list(range(len(EXPECTED_ERRORS)))
    expected = pd.DataFrame(EXPECTED_ERRORS, columns=columns)
    assert table["image"].tolist() == expected["image"].tolist()
    assert table["error"].tolist() == expected["error"].tolist()
    assert table["class"].tolist() == expected["class"].tolist()
    for col in ("confidence", "iou", "x1", "y1", "x2", "y2", "area"):
        np.testing.assert_allclose(table[col].to_numpy(float), expected[col].to_numpy(float), rtol=0, atol=1e-6,
                                   err_msg=col)
    if "covers" in table.columns:  # the class of the object a wrong_class box sits on, else empty
        assert table["covers"].tolist() == ["", "", "nut", "", "", "", "", "", ""]


def test_error_table_counts_add_up(error_data):
    preds, truth = error_data
    for threshold in (0.05, 0.25, 0.5, 0.75, 0.92):
        table = detection_errors(preds, truth, threshold)
        point = detection_recall_precision(*detection_pr_points(preds, truth), threshold)
        kept = sum(len(p.filter(min_confidence=threshold)) for p in preds)
        n_objects = sum(len(t) for t in truth)
        missed = table["error"].str.startswith("missed")
        assert missed.sum() == n_objects - point.tp == point.fn, threshold
        assert (~missed).sum() == kept - point.tp == point.fp, threshold
    # at 0.05 the 0.3 box finds T2 (the 0.1 box is then a duplicate), and nothing is "below threshold"
    low = detection_errors(preds, truth, 0.05)
    assert "missed: below threshold" not in set(low["error"])
    assert (low["error"] == "duplicate").sum() == 2


def test_error_table_below_threshold_takes_the_best_covering_box():
    truth = [det([[0, 0, 10, 10]], [NUT])]
    preds = [det([[0, 0, 10, 10], [0, 0, 10, 11]], [NUT, NUT], [0.1, 0.2])]
    table = detection_errors(preds, truth, 0.5)
    assert table["error"].tolist() == ["missed: below threshold"]
    assert table["confidence"].iloc[0] == pytest.approx(0.2)
    assert table["iou"].iloc[0] == pytest.approx(1.0)


def test_error_table_wrong_class_needs_a_kept_box():
    # the bolt box covers the nut but is below the threshold: nothing kept covers the nut
    truth = [det([[0, 0, 10, 10]], [NUT])]
    preds = [det([[0, 0, 10, 10]], [BOLT], [0.2])]
    assert detection_errors(preds, truth, 0.5)["error"].tolist() == ["missed: not found"]
    assert detection_errors(preds, truth, 0.1)["error"].tolist() == ["wrong_class", "missed: wrong class"]


def test_error_table_of_a_perfect_detector_is_empty():
    truth = [det([[0, 0, 10, 10]], [NUT])]
    table = detection_errors([det([[0, 0, 10, 10]], [NUT], [0.9])], truth, 0.5)
    assert len(table) == 0
    assert "area" in table.columns


# ------------------------------------------------------------------------------------ PR plot


def legend_texts(fig: Figure) -> list[str]:
    return [t.get_text() for t in fig.axes[0].get_legend().get_texts()]


def test_plot_detection_pr_marks_and_labels(pr_data):
    preds, truth = pr_data
    curve = detection_pr_curve(preds, truth)
    choice = choose_detection_threshold(preds, truth)
    fig = plot_detection_pr(curve, choice)
    assert isinstance(fig, Figure) and len(fig.axes) == 1
    ax = fig.axes[0]
    assert ax.get_xlabel() == "recall (objects found / all objects)"
    assert ax.get_title() == "max F1"
    texts = legend_texts(fig)
    assert texts == ["all boxes, pooled (4 objects)",
                     "highest reachable recall 0.750",
                     "conf 0.25: P 0.60, R 0.75",   # every box
                     "conf 0.5: P 0.75, R 0.75",    # boxes 0.9, 0.8, 0.7, 0.5
                     "chosen 0.5: P 0.75, R 0.75"]
    markers = {line.get_label(): line.get_marker() for line in ax.get_lines()}
    assert markers["conf 0.25: P 0.60, R 0.75"] == "o"
    assert markers["conf 0.5: P 0.75, R 0.75"] == "s"
    assert markers["chosen 0.5: P 0.75, R 0.75"] == "*"
    star = next(line for line in ax.get_lines() if line.get_marker() == "*")
    assert star.get_xdata()[0] == pytest.approx(0.75) and star.get_ydata()[0] == pytest.approx(0.75)


def test_plot_detection_pr_skips_empty_marks_and_uses_the_given_axes(pr_data):
    preds, truth = pr_data
    curve = detection_pr_curve(preds, truth)
    other = Figure()
    ax = other.add_subplot()
    fig = plot_detection_pr(curve, marks=(0.95,), ax=ax, title="val")
    assert fig is other
    assert ax.get_title() == "val"
    # above every box nothing is kept (recall 0): no circle
    assert not any(t.startswith("conf") for t in legend_texts(fig))
    assert not any(t.startswith("chosen") for t in legend_texts(fig))


def test_plot_detection_pr_mark_on_a_box_confidence(pr_data):
    preds, truth = pr_data
    fig = plot_detection_pr(detection_pr_curve(preds, truth), marks=(0.7,))
    assert "conf 0.7: P 0.67, R 0.50" in legend_texts(fig)


# --------------------------------------------------------------------------------- evaluate_detections
#
# Three images, classes nut / bolt, threshold 0.5; every box that finds its object is exact (IoU 1).
#   image 0 (day):   objects nut [0,0,10,10] (small), bolt [20,20,40,40] (big); boxes on both, 0.9 and 0.8
#   image 1 (night): object nut [0,0,10,10] (big); boxes nut background 0.7, nut on the object 0.2
#   image 2 (night): object bolt [0,0,20,20] (big); no box
# At 0.5: TP 2 (image 0), FP 1 (0.7), FN 2 -> precision 2/3, recall 1/2, F1 4/7.
# COCO AP (101 recall points, 0..0.5 is 51 points):
#   nut:  ranked TP, FP, TP of 2 -> precision 1 up to recall 1/2, then 2/3: (51 + 50 * 2/3) / 101 = 253/303
#   bolt: one TP of 2 -> 51/101 = 153/303; mAP = (253 + 153) / 606 = 203/303, at every IoU (exact boxes)
#   mar_100: nut 2/2 found, bolt 1/2 -> 3/4

MAP = 203 / 303


@pytest.fixture
def eval_data():
    truth = [det([[0, 0, 10, 10], [20, 20, 40, 40]], [NUT, BOLT]), det([[0, 0, 10, 10]], [NUT]),
             det([[0, 0, 20, 20]], [BOLT])]
    preds = [det([[0, 0, 10, 10], [20, 20, 40, 40]], [NUT, BOLT], [0.9, 0.8]),
             det([[50, 50, 60, 60], [0, 0, 10, 10]], [NUT, NUT], [0.7, 0.2]),
             det(np.zeros((0, 4)), [], [])]
    slices = {"light": ["day", "night", "night"]}
    object_slices = {"size": [["small", "big"], ["big"], ["big"]]}
    return preds, truth, slices, object_slices


@pytest.fixture
def det_report(eval_data):
    preds, truth, slices, object_slices = eval_data
    return evaluate_detections(preds, truth, model_id="yolo-abc", dataset_id="parts-val", threshold=0.5,
                               slices=slices, object_slices=object_slices, notes="hand-made")


def test_report_metrics(det_report):
    r = det_report
    assert r.task == "detection" and r.n == 3 and r.class_names == NAMES
    assert set(r.metrics) == {"map", "map_50", "map_75", "mar_100", "precision", "recall", "f1"}
    assert r.metrics["map"] == pytest.approx(MAP, abs=1e-6)
    assert r.metrics["map_50"] == pytest.approx(MAP, abs=1e-6)
    assert r.metrics["map_75"] == pytest.approx(MAP, abs=1e-6)
    assert r.metrics["mar_100"] == pytest.approx(0.75, abs=1e-6)
    assert r.metrics["precision"] == pytest.approx(2 / 3)
    assert r.metrics["recall"] == pytest.approx(1 / 2)
    assert r.metrics["f1"] == pytest.approx(4 / 7)


def test_report_details(det_report):
    d = det_report.details
    assert set(d) == {"per_class", "decision", "errors"}
    nut, bolt = d["per_class"]["nut"], d["per_class"]["bolt"]
    assert nut["map"] == pytest.approx(253 / 303, abs=1e-6) and nut["map_50"] == pytest.approx(253 / 303, abs=1e-6)
    assert bolt["map"] == pytest.approx(51 / 101, abs=1e-6) and bolt["map_50"] == pytest.approx(51 / 101, abs=1e-6)
    assert (nut["n_objects"], nut["n_boxes_kept"]) == (2, 2)  # nut boxes >= 0.5: 0.9 and 0.7
    assert (nut["precision"], nut["recall"]) == pytest.approx((1 / 2, 1 / 2))
    assert (bolt["n_objects"], bolt["n_boxes_kept"]) == (2, 1)
    assert (bolt["precision"], bolt["recall"]) == pytest.approx((1.0, 1 / 2))
    dec = d["decision"]
    assert dec["threshold"] == 0.5 and dec["iou"] == 0.5 and dec["threshold_goal"] is None
    assert (dec["tp"], dec["fp"], dec["fn"], dec["tn"], dec["n_objects"]) == (2, 1, 2, 0, 4)
    assert (dec["precision"], dec["recall"], dec["f1"]) == pytest.approx((2 / 3, 1 / 2, 4 / 7))
    assert d["errors"] == {"background": 1, "localization": 0, "wrong_class": 0, "duplicate": 0,
                           "missed: below threshold": 1, "missed: wrong class": 0, "missed: not found": 1}


def test_report_slices(det_report):
    light = det_report.slices["light"]
    assert [row["value"] for row in light] == ["day", "night"]
    day, night = light
    assert (day["n"], day["n_objects"]) == (1, 2)
    assert day["map_50"] == pytest.approx(1.0) and day["precision"] == 1.0 and day["recall"] == 1.0
    # night: nut ranked FP then TP -> AP 1/2 at every recall point; bolt never boxed -> 0; mean 1/4
    assert (night["n"], night["n_objects"]) == (2, 2)
    assert night["map_50"] == pytest.approx(0.25, abs=1e-6)
    assert night["precision"] == 0.0 and night["recall"] == 0.0  # kept: the 0.7 background box only
    size = det_report.slices["size"]
    assert size == [{"value": "big", "n": 3, "recall": pytest.approx(1 / 3)},
                    {"value": "small", "n": 1, "recall": 1.0}]
    assert det_report.to_frame("size")["n"].to_dict() == {"big": 3, "small": 1}


def test_object_slice_values_are_text_and_empty_images_are_fine():
    truth = [det([[0, 0, 10, 10], [20, 0, 30, 10]], [NUT, NUT]), det(np.zeros((0, 4)), [])]
    preds = [det([[0, 0, 10, 10]], [NUT], [0.9]), det(np.zeros((0, 4)), [], [])]
    r = evaluate_detections(preds, truth, model_id="m", dataset_id="d", threshold=0.5,
                            object_slices={"occluded": [[False, True], []]})
    assert r.slices["occluded"] == [{"value": "False", "n": 1, "recall": 1.0},
                                    {"value": "True", "n": 1, "recall": 0.0}]


def test_report_takes_a_detection_threshold(eval_data):
    preds, truth, _, _ = eval_data
    # boxes 0.9 TP, 0.8 TP, 0.7 FP, 0.2 TP of 4 objects: recall >= 1/2 with precision 1 first at 0.8
    choice = choose_detection_threshold(preds, truth, min_recall=0.5)
    assert choice.threshold == pytest.approx(0.8)
    r = evaluate_detections(preds, truth, model_id="m", dataset_id="d", threshold=choice)
    assert r.decision["threshold"] == pytest.approx(0.8)
    assert r.decision["threshold_goal"] == "recall >= 0.5"
    assert (r.metrics["precision"], r.metrics["recall"]) == pytest.approx((1.0, 0.5))
    assert (r.decision["tp"], r.decision["fp"]) == (2, 0)


def test_report_round_trip(det_report, tmp_path):
    path = det_report.save(tmp_path / "reports" / "val.json", markdown=True)
    back = EvalReport.load(path)
    assert back == det_report
    assert back.details["errors"]["missed: not found"] == 1
    assert path.with_suffix(".md").read_text(encoding="utf-8") == det_report.to_markdown()


def test_summary_and_markdown(det_report):
    s = det_report.summary()
    assert s.splitlines()[0].startswith("detection report  model yolo-abc  data parts-val")
    assert "images=3  objects=4  mAP@0.5 0.670  mAP@0.5:0.95 0.670" in s
    assert "decision at conf >= 0.5 (IoU 0.5): precision 0.667, recall 0.500  (1 false boxes, 2 missed objects)" in s
    assert "errors: background 1, missed: below threshold 1, missed: not found 1" in s
    assert "slice light: day recall 100.0% (n=1) · night recall 0.0% (n=2)" in s
    assert "slice size: big recall 33.3% (n=3) · small recall 100.0% (n=1)" in s
    assert "notes: hand-made" in s
    assert str(det_report) == s
    md = det_report.to_markdown()
    assert "- task: detection" in md
    assert "| map_50 | 0.6700 |" in md
    assert "## Decision: threshold 0.5" in md
    assert "| 0.6667 | 0.5000 | 0.5714 | 2 | 1 | 2 |" in md
    assert "## Per class" in md and "| nut |" in md and "| bolt |" in md
    assert "## Slice: light" in md and "| night | 2 | 2 | 0.2500 | 0.0000 | 0.0000 |" in md
    assert "## Slice: size" in md and "| big | 3 | 0.3333 |" in md


def test_compare_two_detection_reports(det_report, eval_data):
    preds, truth, slices, object_slices = eval_data
    # at 0.15 the 0.2 box is kept too: TP 3, FP 1 -> precision 3/4, recall 3/4; night finds the nut
    low = evaluate_detections(preds, truth, model_id="yolo-abc", dataset_id="parts-val-low", threshold=0.15,
                              slices=slices, object_slices=object_slices)
    with pytest.warns(UserWarning, match="decisions differ"):
        frame = det_report.compare(low, slice_metric="recall")
    assert list(frame.columns) == ["parts-val", "parts-val-low", "delta"]
    assert list(frame.index) == ["n", "map", "map_50", "map_75", "mar_100", "precision", "recall", "f1",
                                 "recall [light=day]", "recall [light=night]", "recall [size=big]",
                                 "recall [size=small]"]
    assert frame.loc["recall"].tolist() == pytest.approx([0.5, 0.75, 0.25])
    assert frame.loc["precision"].tolist() == pytest.approx([2 / 3, 0.75, 0.75 - 2 / 3])
    assert frame.loc["recall [light=night]"].tolist() == pytest.approx([0.0, 0.5, 0.5])
    assert frame.loc["recall [size=big]"].tolist() == pytest.approx([1 / 3, 2 / 3, 1 / 3])
    assert frame.loc["map"].tolist() == pytest.approx([MAP, MAP, 0.0], abs=1e-6)  # mAP ignores the threshold
    assert frame.loc["n"].tolist() == [3.0, 3.0, 0.0]


@pytest.mark.parametrize("change, error, message", [
    (dict(preds="dict"), TypeError, r"preds\[1\] is a dict"),
    (dict(targets="list"), TypeError, r"targets\[0\] is a list"),
    (dict(preds="short"), ValueError, "2 predictions but 3 targets"),
    (dict(slices={"light": ["day", "night"]}), ValueError, "slice 'light' has 2 values but there are 3 images"),
    (dict(object_slices={"size": [["a", "b"], ["a"]]}), ValueError,
     "object slice 'size' has 2 entries but there are 3 images"),
    (dict(object_slices={"size": [["a"], ["a"], ["a"]]}), ValueError,
     "object slice 'size', image 0: 1 values for 2 objects"),
    (dict(threshold=1.5), ValueError, r"threshold=1\.5: expected a confidence in \[0, 1\]"),
    (dict(threshold=-0.1), ValueError, r"expected a confidence in \[0, 1\]"),
    (dict(model_id=""), TypeError, "model_id"),
    (dict(dataset_id=""), TypeError, "dataset_id"),
])
def test_evaluate_input_errors(eval_data, change, error, message):
    preds, truth, _, _ = eval_data
    kwargs = dict(model_id="m", dataset_id="d", threshold=0.5)
    if change.get("preds") == "dict":
        preds = [preds[0], preds[1].to_dict(), preds[2]]
    elif change.get("preds") == "short":
        preds = preds[:2]
    elif change.get("targets") == "list":
        truth = [truth[0].xyxy.tolist(), truth[1], truth[2]]
    else:
        kwargs.update(change)
    with pytest.raises(error, match=message):
        evaluate_detections(preds, truth, **kwargs)


# ------------------------------------------------------------------------------------------ galleries


def rectangles(ax):
    from matplotlib.patches import Rectangle

    return [p for p in ax.patches if isinstance(p, Rectangle)]


def test_show_detections_draws_truth_and_kept_predictions():
    images = np.zeros((2, 64, 64, 3), np.uint8)
    truth = [det([[2, 2, 20, 20], [30, 30, 50, 50]], [NUT, BOLT]), det([[5, 5, 15, 15]], [NUT])]
    # 0.25 is kept (>=), 0.1 is not; image 1's only box is below the threshold
    preds = [det([[2, 2, 20, 20], [30, 30, 50, 50], [40, 0, 60, 10]], [NUT, BOLT, NUT], [0.9, 0.25, 0.1]),
             det([[5, 5, 15, 15]], [NUT], [0.2])]
    fig = show_detections(images, preds=preds, truth=truth)
    assert len(fig.axes) == 2
    a0, a1 = fig.axes
    assert len(rectangles(a0)) == 2 + 2 and len(rectangles(a1)) == 1 + 0
    assert sum(p.get_linestyle() == "--" for p in rectangles(a0)) == 2  # the truth, dashed
    assert a0.get_title() == "#0: 2 labelled, 2 predicted"
    assert a1.get_title() == "#1: 1 labelled, 0 predicted"
    assert sorted(t.get_text() for t in a0.texts) == ["bolt 0.25", "nut 0.90"]
    everything = show_detections(images, preds=preds, truth=truth, min_confidence=0.0)
    assert [len(rectangles(ax)) for ax in everything.axes] == [2 + 3, 1 + 1]
    only_preds = show_detections(images, preds=preds, indices=[1], min_confidence=0.15, titles=["x"])
    assert len(only_preds.axes) == 1 and len(rectangles(only_preds.axes[0])) == 1
    assert only_preds.axes[0].get_title() == "x"


def test_show_detections_errors():
    images = np.zeros((2, 32, 32, 3), np.uint8)
    one = [det([[2, 2, 20, 20]], [NUT], [0.9])]
    with pytest.raises(ValueError, match="1 preds for 2 images"):
        show_detections(images, preds=one)
    with pytest.raises(ValueError, match="1 truth for 2 images"):
        show_detections(images, truth=one)
    with pytest.raises(ValueError, match="no images"):
        show_detections(images, indices=[])
    with pytest.raises(ValueError, match="1 titles for 2 images"):
        show_detections(images, titles=["a"])


def test_show_detection_errors_one_tile_per_row(error_data):
    preds, truth = error_data
    table = detection_errors(preds, truth, 0.5)
    images = np.zeros((2, 240, 240, 3), np.uint8)
    fig = show_detection_errors(images, table)
    assert len(fig.axes) == len(EXPECTED_ERRORS)
    assert fig.axes[0].get_title() == "background\nnut 0.95 (#1)"
    assert fig.axes[5].get_title() == "miss: not found\nnut (#1)"
    assert fig.axes[7].get_title() == "miss: below threshold\nbolt 0.30 (#0)"
    assert len(show_detection_errors(images, table, n=4).axes) == 4
    missed = table[table["error"].str.startswith("missed")]
    assert len(show_detection_errors(images, missed).axes) == 4
    for ax in fig.axes:
        assert len(rectangles(ax)) == 1
    with pytest.raises(ValueError, match="no errors to show"):
        show_detection_errors(images, table[table["error"] == "nothing"])


# --------------------------------------------------------------------------------------- the dataset


@pytest.fixture(scope="module")
def val_split():
    return load_detection_split("val", as_detections=True)


def test_load_split_as_detections(val_split):
    images, targets, meta = val_split
    names = yaml.safe_load((DATASET / "data.yaml").read_text(encoding="utf-8"))["names"]
    assert len(targets) == len(images) == len(meta) == 60
    assert images.shape[1:] == (320, 320, 3)
    _, plain, _ = load_detection_split("val", verify=False)
    for d, t in zip(targets, plain):
        assert isinstance(d, Detections)
        assert d.class_names == names
        assert d.image_size == (320, 320)
        assert d.confidence is None
        np.testing.assert_array_equal(d.xyxy, t["boxes"])
        np.testing.assert_array_equal(d.class_id, t["classes"])
    assert [len(d) for d in targets] == meta["boxes"].tolist()


def test_object_values_line_up_with_the_boxes(val_split):
    _, targets, _ = val_split
    occlusion = object_values("val", "occlusion")
    assert len(occlusion) == len(targets)
    assert [len(v) for v in occlusion] == [len(t) for t in targets]
    # the class columns agree with the label files, box by box
    class_ids = object_values("val", "class_id")
    classes = object_values("val", "class")
    for t, ids, words in zip(targets, class_ids, classes):
        np.testing.assert_array_equal(ids, t.class_id)
        assert list(words) == t.names
    # and so do the box corners (objects.csv rounds to whole pixels)
    x1 = object_values("val", "x1")
    for t, v in zip(targets, x1):
        np.testing.assert_allclose(v, t.xyxy[:, 0], atol=1.0)
    with pytest.raises(KeyError, match="no column 'nonsense'"):
        object_values("val", "nonsense")


@pytest.mark.parametrize("tamper", ["drop a row", "change a class"])
def test_object_values_detect_a_tampered_objects_csv(tmp_path, tamper):
    root = tmp_path / "parts_detection"
    shutil.copytree(DATASET, root)
    table = pd.read_csv(root / "objects.csv")
    first = table.index[table["split"] == "val"][0]
    label_file = Path(pd.read_csv(root / "images.csv").set_index("file").loc[table.loc[first, "file"],
                                                                              "label_file"])
    if tamper == "drop a row":
        table = table.drop(index=first)
    else:
        table.loc[first, "class_id"] = (table.loc[first, "class_id"] + 1) % 6
    table.to_csv(root / "objects.csv", index=False)
    with pytest.raises(DatasetIntegrityError, match=str(label_file.name)) as err:
        object_values("val", "occlusion", root=root)
    assert str(root / label_file) in str(err.value)
    # the other splits are untouched
    assert len(object_values("test", "occlusion", root=root)) == 60


# ------------------------------------------------------------------------------------------ YOLO settings


def test_yolo_setting_per_profile():
    smoke = yolo_setting(Settings(profile="smoke"))
    full = yolo_setting(Settings(profile="full"))
    assert smoke["name"] == "smoke" and full["name"] == "full"
    assert set(smoke) == set(full) == {"name", "model", "epochs", "imgsz", "batch", "recall_goal", "compare_epochs",
                                            "compare_fraction"}
    assert full["model"] == smoke["model"] == "yolo11n"
    assert full["imgsz"] == 320  # the images' own size
    assert smoke["imgsz"] == full["imgsz"] // 2  # half the size
    assert smoke["epochs"] < full["epochs"] and 0 < smoke["compare_epochs"] < smoke["epochs"]
    assert 0 < smoke["recall_goal"] == full["recall_goal"] <= 1
    smoke["epochs"] = -1  # a copy: the table is not changed
    assert YOLO_SETTINGS["smoke"]["epochs"] > 0
