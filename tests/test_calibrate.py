"""coursekit.calibrate picks the threshold hand computation picks, agrees with scikit-learn and torchmetrics,
and fails clearly on inputs where a threshold means nothing."""
import io
import math

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import sklearn.metrics as skm  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402
from torchmetrics.classification import BinaryCalibrationError, MulticlassCalibrationError  # noqa: E402

from coursekit.calibrate import (  # noqa: E402
    CalibrationBins,
    binary_scores,
    calibration_bins,
    choose_threshold,
    expected_calibration_error,
    operating_point,
    plot_pr_curve,
    pr_curve,
    reliability_diagram,
)
from coursekit.types import Classifications  # noqa: E402

# 12 images, 6 positive. Flagging score >= t gives (tp, fp):
#   .95 (1,0) .9 (2,0) .85 (3,0) .8 (3,1) .7 (4,1) .6 (5,1) .55 (5,2) .5 (5,3) .4 (6,3) .3 (6,4) ...
Y = np.array([1, 1, 1, 0, 1, 1, 0, 0, 1, 0, 0, 0])
S = np.array([.95, .9, .85, .8, .7, .6, .55, .5, .4, .3, .2, .1])


def _counts(c):
    return c.tp, c.fp, c.fn, c.tn


def test_min_precision_hits_hand_computed_threshold():
    c = choose_threshold(Y, S, min_precision=0.8)
    # precision >= .8 at .95/.9/.85 (recall .5), .7 (4/5, recall 4/6) and .6 (5/6, recall 5/6): .6 has most recall
    assert c.threshold == 0.6 and c.achieved
    assert c.precision == pytest.approx(5 / 6) and c.recall == pytest.approx(5 / 6)
    assert _counts(c) == (5, 1, 1, 5)
    assert c.f1 == pytest.approx(10 / 12)
    c = choose_threshold(Y, S, min_precision=0.9)
    assert (c.threshold, c.precision, c.recall, _counts(c)) == (0.85, 1.0, 0.5, (3, 0, 3, 6))


def test_at_default_numbers():
    d = choose_threshold(Y, S, min_precision=0.8).at_default
    assert d.threshold == 0.5
    assert _counts(d) == (5, 3, 1, 3)
    assert d.precision == pytest.approx(5 / 8) and d.recall == pytest.approx(5 / 6)
    assert d.f1 == pytest.approx(10 / 14)


def test_other_goals_hand_computed():
    c = choose_threshold(Y, S, min_recall=1.0)
    assert (c.threshold, _counts(c)) == (0.4, (6, 3, 0, 3))
    assert c.precision == pytest.approx(2 / 3)
    c = choose_threshold(Y, S, min_recall=0.7)  # recall >= .7 first at .6, the most precise of those
    assert c.threshold == 0.6 and c.precision == pytest.approx(5 / 6)
    assert choose_threshold(Y, S).threshold == 0.6  # max F1: 10/12
    assert choose_threshold(Y, S, maximize="f1").goal == "max F1"


def test_unreachable_goal_returns_closest_point_and_warns():
    with pytest.warns(UserWarning, match="no threshold reaches precision >= 0.9"):
        c = choose_threshold([0, 1, 1, 0], [0.9, 0.8, 0.7, 0.6], min_precision=0.9)
    assert not c.achieved
    assert c.threshold == 0.7 and c.precision == pytest.approx(2 / 3) and c.recall == 1.0
    assert "out of reach" in c.describe() and "0.7" in c.message


def test_ties_are_flagged_together():
    # each tie holds a positive and a negative: .9 -> P 1/2 R 1/3, .5 -> P 2/4 R 2/3, .1 -> P 3/5 R 1
    y, s = [1, 0, 1, 0, 1], [0.9, 0.9, 0.5, 0.5, 0.1]
    c = choose_threshold(y, s, min_precision=0.5)
    assert c.threshold == 0.1 and c.recall == 1.0  # 3/5 >= .5
    c = choose_threshold(y, s, min_precision=0.55)
    assert c.threshold == 0.1
    with pytest.warns(UserWarning):
        c = choose_threshold(y, s, min_precision=0.7)  # no threshold splits a tie: 3/5 is the best
    assert not c.achieved and c.precision == pytest.approx(0.6)
    with pytest.warns(UserWarning):  # all scores equal: only "flag all" exists
        c = choose_threshold([1, 0, 0], [0.3, 0.3, 0.3], min_precision=0.5)
    assert c.threshold == 0.3 and c.precision == pytest.approx(1 / 3)


@pytest.mark.parametrize("goal", [dict(min_precision=0.9), dict(min_precision=0.75), dict(min_recall=0.8),
                                  dict(maximize="f1")])
def test_agrees_with_sklearn(goal):
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 400)
    s = np.round(np.clip(0.5 * y + rng.normal(0.25, 0.2, 400), 0, 1), 2)  # rounded: many ties
    c = choose_threshold(y, s, **goal)
    flagged = (s >= c.threshold).astype(int)
    assert c.precision == pytest.approx(skm.precision_score(y, flagged))
    assert c.recall == pytest.approx(skm.recall_score(y, flagged))
    assert c.f1 == pytest.approx(skm.f1_score(y, flagged))
    # the choice is the best point of sklearn's own curve
    precision, recall, thresholds = skm.precision_recall_curve(y, s)
    precision, recall = precision[:-1], recall[:-1]
    assert c.threshold in thresholds
    if "min_precision" in goal:
        assert c.recall == pytest.approx(recall[precision >= goal["min_precision"]].max())
    elif "min_recall" in goal:
        assert c.precision == pytest.approx(precision[recall >= goal["min_recall"]].max())
    else:
        f1 = 2 * precision * recall / (precision + recall)
        assert c.f1 == pytest.approx(np.nanmax(f1))


def test_pr_curve_is_sklearns():
    rng = np.random.default_rng(2)
    y, s = rng.integers(0, 2, 200), rng.random(200)
    curve = pr_curve(y, s)
    p, r, t = skm.precision_recall_curve(y, s)
    np.testing.assert_array_equal(curve.precision, p)
    np.testing.assert_array_equal(curve.recall, r)
    np.testing.assert_array_equal(curve.thresholds, t)
    assert curve.average_precision == pytest.approx(skm.average_precision_score(y, s))
    point = operating_point(y, s, 0.5)
    assert curve.at(0.5) == pytest.approx((point.precision, point.recall))


def test_operating_point_allows_one_kind_of_image():
    p = operating_point([0, 0, 0], [0.2, 0.7, 0.1])
    assert (p.tp, p.fp, p.fn, p.tn) == (0, 1, 0, 2) and p.precision == 0 and math.isnan(p.recall)


@pytest.mark.parametrize("y, s, kw, match", [
    ([1, 1, 1], [0.1, 0.5, 0.9], {}, "no negatives"),
    ([0, 0, 0], [0.1, 0.5, 0.9], {}, "no positives"),
    ([0, 1, 2], [0.1, 0.5, 0.9], {}, "0/1 labels"),
    ([0, 1], [0.1, float("nan")], {}, "finite"),
    ([0, 1], [0.1], {}, "same images"),
    ([0, 1], [[0.1, 0.9], [0.5, 0.5]], {}, "binary_scores"),
    ([0, 1], [0.1, 0.9], dict(min_precision=0.9, min_recall=0.9), "one goal"),
    ([0, 1], [0.1, 0.9], dict(min_precision=1.5), "fraction"),
    ([0, 1], [0.1, 0.9], dict(maximize="accuracy"), "only 'f1'"),
])
def test_clear_errors(y, s, kw, match):
    with pytest.raises(ValueError, match=match):
        choose_threshold(y, s, **kw)


def test_describe_sentence():
    text = choose_threshold(Y, S, min_precision=0.8).describe()
    assert text.startswith("threshold 0.6 reaches precision 0.833 (goal >= 0.8) with recall 0.833; at 0.5:")
    assert text.endswith("0.5 gives 167 more false positives per 1000 images")  # 2 more of 12 images
    text = choose_threshold(Y, S, min_precision=0.9).describe(fp="good parts rejected", fn="defects passed")
    assert "250 more good parts rejected and 167 fewer defects passed" in text


NAMES = ["ok", "scratch", "crack", "missing_hole"]


def test_binary_scores():
    probs = np.array([[0.7, 0.1, 0.1, 0.1], [0.1, 0.2, 0.6, 0.1], [0.25, 0.25, 0.25, 0.25]])
    preds = Classifications(probs, NAMES)
    y, s = binary_scores(preds, negative="ok", y_true=[0, 2, 3])
    assert y.tolist() == [0, 1, 1]
    np.testing.assert_allclose(s, [0.3, 0.9, 0.75], atol=1e-6)
    np.testing.assert_allclose(binary_scores(preds, ["scratch", "crack", "missing_hole"]), s)
    y2, s2 = binary_scores(preds, "crack", y_true=["ok", "crack", "missing_hole"])
    assert y2.tolist() == [0, 1, 0]
    np.testing.assert_allclose(s2, [0.1, 0.6, 0.25], atol=1e-6)
    with pytest.raises(ValueError, match="unknown class"):
        binary_scores(preds, ["dent"])
    with pytest.raises(ValueError, match="both sides"):
        binary_scores(preds, NAMES)
    with pytest.raises(ValueError, match="not both"):
        binary_scores(preds, "crack", negative="ok")
    with pytest.raises(ValueError, match="not a class name"):
        binary_scores(preds, "crack", y_true=["ok", "dent", "ok"])


def _random_probs(n=500, c=4, seed=0, temperature=1.0):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, c, n)
    logits = rng.normal(0, 1, (n, c)) + 2.0 * np.eye(c)[y] * (rng.random(n) < 0.7)[:, None]
    return Classifications.from_logits(logits / temperature, NAMES[:c]), y


def test_ece_matches_torchmetrics():
    preds, y = _random_probs()
    metric = MulticlassCalibrationError(num_classes=4, n_bins=15, norm="l1")
    expected = float(metric(torch.from_numpy(preds.probs), torch.from_numpy(y)))
    assert expected_calibration_error(preds, y) == pytest.approx(expected, abs=1e-6)
    assert expected_calibration_error(preds.probs, y, n_bins=10) == pytest.approx(
        float(MulticlassCalibrationError(num_classes=4, n_bins=10)(torch.from_numpy(preds.probs), torch.from_numpy(y))),
        abs=1e-6)
    # the plot's numpy bins give the same number (no confidence is exactly 1 here)
    assert preds.confidence.max() < 1
    assert calibration_bins(preds, y).ece == pytest.approx(expected, abs=1e-5)
    yb, s = binary_scores(preds, negative="ok", y_true=y)
    expected_b = float(BinaryCalibrationError(n_bins=15)(torch.from_numpy(s).float(), torch.from_numpy(yb)))
    assert expected_calibration_error(s, yb) == pytest.approx(expected_b, abs=1e-6)


def test_calibration_rejects_logits():
    with pytest.raises(ValueError, match="logits"):
        expected_calibration_error(np.array([[2.0, -1.0], [0.5, 0.1]]), [0, 1])
    with pytest.raises(ValueError, match="sum to 1"):
        expected_calibration_error(np.array([[0.5, 0.4], [0.5, 0.1]]), [0, 1])


def _renders(fig):
    assert isinstance(fig, Figure)
    fig.savefig(io.BytesIO(), format="png")


def test_plots():
    preds, y = _random_probs()
    yb, s = binary_scores(preds, negative="ok", y_true=y)
    choice = choose_threshold(yb, s, min_precision=0.95)
    fig = plot_pr_curve(pr_curve(yb, s), choice)
    labels = [line.get_label() for line in fig.axes[0].get_lines()]
    assert any(lab.startswith("chosen") for lab in labels) and any(lab.startswith("at 0.5") for lab in labels)
    _renders(fig)
    _renders(plot_pr_curve(pr_curve(yb, s)))
    fig = reliability_diagram(preds, y)
    assert len(fig.axes) == 2 and "ECE" in fig.axes[0].get_title()
    _renders(fig)
    bins = calibration_bins(preds, y)
    assert sum(bins.count) == len(y)
    _renders(reliability_diagram(CalibrationBins.from_dict(bins.to_dict())))


def test_one_threshold_choice_for_classification_and_detection():
    """choose_detection_threshold is choose_threshold with n_positive = the number of objects (true recall)."""
    from coursekit.detection_metrics import choose_detection_threshold, detection_pr_points
    from coursekit.types import Detections

    rng = np.random.default_rng(3)
    truth, preds = [], []
    for _ in range(6):
        boxes = rng.uniform(0, 80, (4, 2))
        xyxy = np.c_[boxes, boxes + 15]
        truth.append(Detections(xyxy=xyxy, class_id=[0] * 4, class_names=["part"]))
        hit = xyxy[:3] + rng.normal(0, 2, (3, 4))            # three found, one never boxed, two false boxes
        false = rng.uniform(100, 150, (2, 2))
        preds.append(Detections(xyxy=np.r_[hit, np.c_[false, false + 10]], class_id=[0] * 5, class_names=["part"],
                                confidence=rng.uniform(0, 1, 5)))
    is_tp, scores, n = detection_pr_points(preds, truth)
    for goal in ({"min_recall": 0.5}, {"min_precision": 0.8}, {}):
        det = choose_detection_threshold(preds, truth, default=0.25, **goal)
        one = choose_threshold(is_tp, scores, n_positive=n, default=0.25, **goal)
        assert (det.threshold, det.tp, det.fp, det.fn, det.tn) == (one.threshold, one.tp, one.fp, one.fn, 0)
        assert det.recall == pytest.approx(one.tp / n) and det.at_default == one.at_default


def test_calibration_bins_agree_with_sklearns_calibration_curve():
    """Away from the bin edges (where sklearn puts a tie in the lower bin, torchmetrics in the upper), the
    non-empty bins' accuracy and confidence are sklearn.calibration.calibration_curve's."""
    from sklearn.calibration import calibration_curve

    rng = np.random.default_rng(3)
    conf = rng.uniform(0.05, 0.95, 400)
    conf = conf[np.abs(conf * 10 - np.round(conf * 10)) > 1e-6]  # no value on an edge
    correct = (rng.uniform(size=len(conf)) < conf ** 2).astype(int)
    bins = calibration_bins(conf, correct, n_bins=10)
    acc, mean_conf = calibration_curve(correct, conf, n_bins=10, strategy="uniform")
    filled = [i for i, c in enumerate(bins.count) if c]
    assert np.allclose([bins.accuracy[i] for i in filled], acc)
    assert np.allclose([bins.confidence[i] for i in filled], mean_conf)
