"""The checks of notebooks 01-04 that first lived in coursekit.exercises (now in coursekit.exercises_cnn,
_transfer, _detect, _foundation): right answers pass, typical wrong ones fail with the expected value and a
specific hint, blanks print a hint and return False without raising.

The correct solutions below are the tests' own (the notebooks hold theirs); nothing here is importable
from coursekit.
"""
import functools
import math
import re

import numpy as np
import pytest
import torch
import torch.nn as nn

from coursekit import exercises_detect
from coursekit import exercises_foundation as ex
from coursekit.exercise_base import ExerciseError
from coursekit.exercises_cnn import check_accuracy, check_batchnorm, check_conv_output_size, check_param_count
from coursekit.exercises_detect import check_iou, check_yolo_to_xyxy
from coursekit.exercises_transfer import (check_cohen_kappa, check_label_saving_factor, check_spec_fix,
                                          check_threshold_for_precision)

check_pr_reading = functools.partial(exercises_detect.check_pr_reading, tolerance=0)  # the exact reading

# ------------------------------------------------------------------------------ test solutions


def conv_out(size, kernel, stride=1, padding=0, dilation=1):
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def acc(logits, targets):
    return (logits.argmax(dim=1) == targets).float().mean().item()


def bn(x, gamma, beta, eps=1e-5):
    mean = x.mean(dim=(0, 2, 3), keepdim=True)
    var = x.var(dim=(0, 2, 3), keepdim=True, unbiased=False)
    return (x - mean) / torch.sqrt(var + eps) * gamma.view(1, -1, 1, 1) + beta.view(1, -1, 1, 1)


def kappa(a, b):
    n, classes = len(a), set(a) | set(b)
    p_o = sum(x == y for x, y in zip(a, b)) / n
    p_e = sum(a.count(c) * b.count(c) for c in classes) / n**2
    return (p_o - p_e) / (1 - p_e)


def _threshold(y_true, scores, min_precision, strict=False, pick="recall", ties="highest"):
    """The test solution (defaults) and its typical wrong variants."""
    best = None
    for t in sorted(set(scores.tolist())):  # ascending: on a tie `>=` keeps the later, higher t
        flag = scores > t if strict else scores >= t
        if not flag.any():
            continue
        tp = int((flag & (y_true == 1)).sum())
        precision, recall = tp / flag.sum(), tp / y_true.sum()
        key = recall if pick == "recall" else precision
        if precision >= min_precision and (best is None or key > best[0] or (key == best[0] and ties == "highest")):
            best = (key, t)
    return best[1]


def threshold(y_true, scores, min_precision):
    return _threshold(y_true, scores, min_precision)


def iou(box_a, box_b):
    ax1, ay1, ax2, ay2 = box_a
    bx1, by1, bx2, by2 = box_b
    inter = max(0.0, min(ax2, bx2) - max(ax1, bx1)) * max(0.0, min(ay2, by2) - max(ay1, by1))
    return inter / ((ax2 - ax1) * (ay2 - ay1) + (bx2 - bx1) * (by2 - by1) - inter)


def yolo_box(cx, cy, w, h, img_w, img_h):
    return (cx - w / 2) * img_w, (cy - h / 2) * img_h, (cx + w / 2) * img_w, (cy + h / 2) * img_h


def _blank_fn(*args, **kwargs):
    ...


def _not_implemented(*args, **kwargs):
    raise NotImplementedError


def _pass_fn(*args, **kwargs):
    pass


# --------------------------------------------------------------------------------- convention


@pytest.mark.parametrize(
    "check", [check_conv_output_size, check_accuracy, check_batchnorm, check_cohen_kappa,
              check_threshold_for_precision, check_iou, check_yolo_to_xyxy]
)
@pytest.mark.parametrize("blank", [_blank_fn, _not_implemented, _pass_fn, None, ...])
def test_blank_answers_return_false_with_a_hint(check, blank, capsys):
    assert check(blank) is False
    out = capsys.readouterr().out
    assert "not attempted yet" in out and "hint:" in out


@pytest.mark.parametrize(
    "check, solution",
    [(check_conv_output_size, conv_out), (check_accuracy, acc), (check_batchnorm, bn), (check_cohen_kappa, kappa),
     (check_threshold_for_precision, threshold), (check_iou, iou), (check_yolo_to_xyxy, yolo_box)],
)
def test_correct_solutions_pass(check, solution, capsys):
    assert check(solution) is True
    assert capsys.readouterr().out.startswith("✓ correct:")


def test_exercise_error_is_an_assertion_error():
    assert issubclass(ExerciseError, AssertionError)


def test_learner_crash_names_the_case_and_chains_the_error():
    def crashes(size, kernel, stride=1, padding=0, dilation=1):
        return size / 0

    with pytest.raises(ExerciseError, match=r"raised ZeroDivisionError.*\n  on conv_output_size\(size=32") as info:
        check_conv_output_size(crashes)
    assert isinstance(info.value.__cause__, ZeroDivisionError)


def test_none_on_a_later_case_is_wrong_not_blank():
    def forgets_a_return(size, kernel, stride=1, padding=0, dilation=1):
        if dilation == 1:
            return conv_out(size, kernel, stride, padding, dilation)

    with pytest.raises(ExerciseError, match="returned None.*dilation=2"):
        check_conv_output_size(forgets_a_return)


# --------------------------------------------------------------------------- conv output size


@pytest.mark.parametrize(
    "wrong, expected_in_msg, hint",
    [
        (lambda n, k, s=1, p=0, d=1: (n + 2 * p - d * (k - 1) - 1) // s, "expected: 30", "the `+ 1`"),
        (lambda n, k, s=1, p=0, d=1: (n + 2 * p - k) // s + 1, "expected: 32", "dilation 2 spreads the kernel"),
        (lambda n, k, s=1, p=0, d=1: (n + p - d * (k - 1) - 1) // s + 1, "expected: 32", "both sides"),
        (lambda n, k, s=1, p=0, d=1: (n + 2 * p - d * (k - 1) - 1) / s + 1, "expected: 16", "floor division"),
        (lambda n, k, s=1, p=0, d=1: math.ceil((n + 2 * p - d * (k - 1) - 1) / s) + 1, "expected: 16", "round down"),
        (lambda n, k, s=1, p=0, d=1: n + 2 * p - d * (k - 1), "expected: 16", "stride 2 moves the window"),
    ],
    ids=["no_plus_one", "no_dilation", "pad_once", "true_division", "ceil", "no_stride"],
)
def test_conv_output_size_mistakes(wrong, expected_in_msg, hint):
    with pytest.raises(ExerciseError) as info:
        check_conv_output_size(wrong)
    msg = str(info.value)
    assert expected_in_msg in msg and "yours:" in msg and hint in msg
    assert "conv_output_size(size=" in msg  # names the case


# ---------------------------------------------------------------------------------- accuracy


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (lambda lg, t: 100 * (lg.argmax(1) == t).float().mean(), "not a percentage"),
        (lambda lg, t: (lg.argmax(1) == t).sum(), "divide by the batch size"),
        (lambda lg, t: (lg.argmax(1) != t).float().mean(), "error rate"),
        (lambda lg, t: (lg == lg.max(1, keepdim=True).values).gather(1, t[:, None]).float().mean(), "tie"),
    ],
    ids=["percent", "count", "error_rate", "ties"],
)
def test_accuracy_mistakes(wrong, hint):
    with pytest.raises(ExerciseError) as info:
        check_accuracy(wrong)
    msg = str(info.value)
    assert "expected: " in msg and "(torchmetrics)" in msg and hint in msg


def test_accuracy_ties_report_expected_value():
    def any_top(lg, t):
        return (lg == lg.max(1, keepdim=True).values).gather(1, t[:, None]).float().mean().item()

    with pytest.raises(ExerciseError, match=r"ties.*\n  expected: 0\.5 .*\n  yours:    1"):
        check_accuracy(any_top)


def test_accuracy_wrong_dim_crash_gets_the_dim_hint():
    with pytest.raises(ExerciseError, match="dim=1"):
        check_accuracy(lambda lg, t: (lg.argmax(0) == t).float().mean())


# -------------------------------------------------------------------------------- batch norm


def _bn_variant(dims=(0, 2, 3), unbiased=False, eps_outside=False, affine=True):
    def fn(x, gamma, beta, eps=1e-5):
        mean = x.mean(dim=dims, keepdim=True)
        var = x.var(dim=dims, keepdim=True, unbiased=unbiased)
        y = (x - mean) / (var.sqrt() + eps if eps_outside else torch.sqrt(var + eps))
        return y * gamma.view(1, -1, 1, 1) + beta.view(1, -1, 1, 1) if affine else y

    return fn


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (_bn_variant(unbiased=True), "biased variance"),
        (_bn_variant(dims=(2, 3)), "InstanceNorm"),
        (_bn_variant(dims=(1, 2, 3)), "LayerNorm"),
        (_bn_variant(dims=(0,)), "batch only"),
        (_bn_variant(dims=(0, 1, 2, 3)), "one mean and one variance per channel"),
        (_bn_variant(eps_outside=True), "inside the square root"),
        (_bn_variant(affine=False), "scaled by gamma"),
    ],
    ids=["unbiased", "instance", "layer", "batch_only", "all_axes", "eps_outside", "no_affine"],
)
def test_batchnorm_mistakes_get_specific_hints(wrong, hint):
    with pytest.raises(ExerciseError) as info:
        check_batchnorm(wrong)
    msg = str(info.value)
    assert "expected: tensor of shape" in msg and "yours:    tensor of shape" in msg and hint in msg
    assert "x of shape (" in msg


def test_batchnorm_gamma_not_reshaped_gets_the_broadcast_hint():
    def flat_gamma(x, gamma, beta, eps=1e-5):
        mean = x.mean(dim=(0, 2, 3), keepdim=True)
        var = x.var(dim=(0, 2, 3), keepdim=True, unbiased=False)
        return (x - mean) / torch.sqrt(var + eps) * gamma + beta

    with pytest.raises(ExerciseError, match=r"view them as \(1, C, 1, 1\)"):
        check_batchnorm(flat_gamma)


def test_batchnorm_wrong_shape():
    with pytest.raises(ExerciseError, match=r"expected: shape \(8, 3, 4, 5\)"):
        check_batchnorm(lambda x, g, b, eps=1e-5: x.mean(dim=(0, 2, 3)))


# --------------------------------------------------------------------------- parameter count


CONV_BN = [nn.Conv2d(64, 128, 3, bias=False), nn.BatchNorm2d(128)]


def test_param_count_right(capsys):
    assert check_param_count(64 * 128 * 9 + 2 * 128, CONV_BN) is True
    assert check_param_count(3 * 16 * 25 + 16, nn.Conv2d(3, 16, 5)) is True
    assert "✓ correct" in capsys.readouterr().out


@pytest.mark.parametrize(
    "answer, hint",
    [
        (64 * 128 * 9 + 128 + 256, "bias=False"),
        (64 * 128 * 9 + 4 * 128, "buffers"),
        (64 * 128 * 9, "forgot the BatchNorm"),
        (64 * 128 * 9 + 128, "two learnable vectors"),
        (128 * 9 + 256, "multiply by in_channels"),
        (12345, "kernel_h × kernel_w filter"),
    ],
    ids=["counted_bias", "counted_running_stats", "forgot_bn", "only_gamma", "forgot_in_channels", "other"],
)
def test_param_count_mistakes_explain_the_formula(answer, hint):
    with pytest.raises(ExerciseError) as info:
        check_param_count(answer, CONV_BN)
    msg = str(info.value)
    assert "expected: 73,984" in msg and f"yours:    {answer:,}" in msg and hint in msg
    assert "128 × 64 × 3 × 3" in msg  # the breakdown shows the formula with this layer's numbers


def test_param_count_blank_and_bad_type(capsys):
    assert check_param_count(None, CONV_BN) is False
    assert check_param_count(..., CONV_BN) is False
    assert "not attempted yet" in capsys.readouterr().out
    with pytest.raises(ExerciseError, match="whole number"):
        check_param_count("73984", CONV_BN)


# ------------------------------------------------------------------------------- Cohen's kappa


def _kappa_parts(a, b):
    n = len(a)
    p_o = sum(x == y for x, y in zip(a, b)) / n
    return n, p_o, sum(a.count(c) * b.count(c) for c in set(a) | set(b)) / n**2


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (lambda a, b: _kappa_parts(a, b)[1], "raw agreement p_o"),
        (lambda a, b: _kappa_parts(a, b)[1] - _kappa_parts(a, b)[2], "divide by (1 − p_e)"),
        (lambda a, b: (_kappa_parts(a, b)[1] - 1 / len(set(a) | set(b))) / (1 - 1 / len(set(a) | set(b))),
         "not 1 / number of classes"),
        (lambda a, b: (_kappa_parts(a, b)[1] - sum(a.count(c) ** 2 for c in set(a)) / len(a) ** 2)
         / (1 - sum(a.count(c) ** 2 for c in set(a)) / len(a) ** 2), "both raters' label frequencies"),
        (lambda a, b: 100 * kappa(a, b), "not a percentage"),
    ],
    ids=["raw_agreement", "no_division", "uniform_chance", "one_rater", "percent"],
)
def test_cohen_kappa_mistakes(wrong, hint):
    with pytest.raises(ExerciseError) as info:
        check_cohen_kappa(wrong)
    msg = str(info.value)
    assert "expected: " in msg and "(sklearn's cohen_kappa_score)" in msg and "yours:" in msg and hint in msg


def test_cohen_kappa_raw_agreement_names_the_case_and_values():
    with pytest.raises(ExerciseError, match=r"10 parts, 2 classes.*\n  expected: 0\.583333 .*\n  yours:    0\.8\n"):
        check_cohen_kappa(lambda a, b: sum(x == y for x, y in zip(a, b)) / len(a))


def test_cohen_kappa_classes_from_one_rater_only_crash_gets_the_union_hint():
    def one_sided(a, b):
        classes = sorted(set(a))
        counts = [[0] * len(classes) for _ in classes]
        for x, y in zip(a, b):
            counts[classes.index(x)][classes.index(y)] += 1  # ValueError when b has a label a never uses
        return kappa(a, b)

    with pytest.raises(ExerciseError, match=r"(?s)different label sets.*the union") as info:
        check_cohen_kappa(one_sided)
    assert isinstance(info.value.__cause__, ValueError)


# ------------------------------------------------------------------- threshold for a precision


def _per_image(y_true, scores, min_precision):
    """Walks the images one by one in score order: splits tied scores."""
    order = sorted(range(len(scores)), key=lambda i: -scores[i])
    best, tp = None, 0
    for rank, i in enumerate(order, 1):
        tp += int(y_true[i])
        if tp / rank >= min_precision and (best is None or tp >= best[0]):
            best = (tp, float(scores[i]))
    return best[1]


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (lambda y, s, p: _threshold(y, s, p, strict=True), "not `score > t`"),
        (lambda y, s, p: _threshold(y, s, p, pick="precision"), "highest *recall*"),
        (lambda y, s, p: _threshold(y, s, p, pick="precision", ties="lowest"), "highest *recall*"),
        (lambda y, s, p: 0.5, "0.5 is the default cutoff"),
        (lambda y, s, p: _threshold(y, s, p, ties="lowest"), "same recall: take the highest"),
        (_per_image, "tied scores are flagged together"),
    ],
    ids=["strict", "max_precision", "max_precision_lowest", "default_0.5", "recall_tie_lowest", "split_ties"],
)
def test_threshold_for_precision_mistakes(wrong, hint):
    with pytest.raises(ExerciseError) as info:
        check_threshold_for_precision(wrong)
    msg = str(info.value)
    assert "expected: " in msg and "(coursekit.calibrate.choose_threshold)" in msg and hint in msg
    assert "min_precision=" in msg  # names the case


def test_threshold_for_precision_reports_the_values():
    with pytest.raises(ExerciseError, match=r"12 images.*\n  expected: 0\.6 .*\n  yours:    0\.55\n"):
        check_threshold_for_precision(lambda y, s, p: _threshold(y, s, p, strict=True))
    with pytest.raises(ExerciseError, match=r"under-confident.*\n  expected: 0\.3 "):
        check_threshold_for_precision(lambda y, s, p: 0.6 if p == 0.8 and s.max() > 0.5 else 0.45)


def test_threshold_for_precision_accepts_lists_of_python_floats(capsys):
    assert check_threshold_for_precision(lambda y, s, p: float(threshold(y, s, p))) is True
    assert "✓ correct" in capsys.readouterr().out


# ------------------------------------------------------------------------- label-saving factor


CURVES = dict(ks=[5, 50, 500], pretrained_acc=[0.8, 0.9, 0.95], scratch_acc=[0.3, 0.6, 0.9])  # factor 10


@pytest.mark.parametrize("answer", [10, 10.0, 7, 13, 6.6, 13.4, np.float64(9.5)])
def test_label_saving_factor_right_within_tolerance(answer, capsys):
    assert check_label_saving_factor(answer, **CURVES) is True
    assert capsys.readouterr().out.startswith("✓ correct:")


@pytest.mark.parametrize(
    "answer, hint",
    [(0.1, "inverted the ratio"), (0.12, "inverted the ratio"), (50, "labels per class the pre-trained model needs"),
     (3, "horizontal line"), (25, "horizontal line"), (0, "horizontal line"), (13.6, "horizontal line"),
     (6.4, "horizontal line")],
)
def test_label_saving_factor_wrong(answer, hint):
    with pytest.raises(ExerciseError) as info:
        check_label_saving_factor(answer, **CURVES)
    msg = str(info.value)
    assert "expected: 10 = 500 / 50, within ±35%" in msg and f"yours:    {answer:g}" in msg and hint in msg


def test_label_saving_factor_tolerance_is_a_parameter():
    assert check_label_saving_factor(8, **CURVES, rel_tol=0.25) is True
    with pytest.raises(ExerciseError, match="within ±10%"):
        check_label_saving_factor(8, **CURVES, rel_tol=0.1)


def test_label_saving_factor_blank(capsys):
    assert check_label_saving_factor(..., **CURVES) is False
    assert check_label_saving_factor(None, **CURVES) is False
    assert "not attempted yet" in capsys.readouterr().out


def test_label_saving_factor_never_reached():
    curves = dict(ks=[5, 50, 500], pretrained_acc=[0.5, 0.6, 0.7], scratch_acc=[0.3, 0.6, 0.9])
    assert check_label_saving_factor(None, **curves) is True
    assert check_label_saving_factor(0, **curves) is True
    assert check_label_saving_factor(..., **curves) is False
    with pytest.raises(ExerciseError, match="(?s)expected: None.*never reaches"):
        check_label_saving_factor(2, **curves)


def test_label_saving_factor_at_least():
    curves = dict(ks=[10, 100, 1000], pretrained_acc=[0.95, 0.97, 0.98], scratch_acc=[0.3, 0.6, 0.9])  # >= 100
    assert check_label_saving_factor(100, **curves) is True
    assert check_label_saving_factor(70, **curves) is True
    assert check_label_saving_factor(1000, **curves) is True
    with pytest.raises(ExerciseError, match=r"(?s)expected: at least 100 = 1000 / 10 .*yours:    50\n.*smallest k"):
        check_label_saving_factor(50, **curves)


# ----------------------------------------------------------------------------------- spec fix


@pytest.fixture(scope="module")
def v1_table():
    from coursekit.data.annotators import disagreement_table, load_annotations

    return disagreement_table(load_annotations("v1"))


V1_FIX = {("ok", "scratch"), ("ok", "missing_hole"), ("crack", "scratch")}  # 10 + 8 + 5 = 23 of 29 (79%)


def test_spec_fix_v1_table_counts(v1_table):
    """The shipped v1 round: the pairs the tests below rely on (fails loudly if the data changes)."""
    t = v1_table
    assert int(t.to_numpy().sum() - t.to_numpy().trace()) == 29
    assert t.loc["scratch", "ok"] + t.loc["ok", "scratch"] == 10
    assert t.loc["missing_hole", "ok"] + t.loc["ok", "missing_hole"] == 8
    assert t.loc["crack", "scratch"] + t.loc["scratch", "crack"] == 5


@pytest.mark.parametrize(
    "answer",
    [V1_FIX, {("scratch", "ok"), ("missing_hole", "ok"), ("scratch", "crack")}, list(V1_FIX),
     V1_FIX | {("crack", "missing_hole")}, V1_FIX | {("crack", "ok")}],
    ids=["exact", "reversed", "list", "one_extra", "one_extra_other"],
)
def test_spec_fix_right(v1_table, answer, capsys):
    assert check_spec_fix(answer, v1_table) is True
    assert capsys.readouterr().out.startswith("✓ correct:")


@pytest.mark.parametrize(
    "answer, hint",
    [
        ({("ok", "scratch"), ("ok", "missing_hole")}, "must also address scratch vs crack: it causes 5 of the 29"),
        ({("ok", "scratch"), ("crack", "scratch")}, "must also address ok vs missing_hole: it causes 8 of the 29"),
        ({("ok", "missing_hole"), ("crack", "scratch"), ("ok", "crack")}, "must also address ok vs scratch"),
        (V1_FIX | {("ok", "crack"), ("crack", "missing_hole")}, "too many pairs"),
        ({("ok", "scratch"), ("ok", "hole"), ("crack", "scratch")}, "unknown class name(s) 'hole'"),
        (V1_FIX | {("ok", "ok")}, "is agreement (the diagonal)"),
    ],
    ids=["missing_third", "missing_second", "missing_first", "too_many", "unknown_class", "same_class"],
)
def test_spec_fix_wrong(v1_table, answer, hint):
    with pytest.raises(ExerciseError) as info:
        check_spec_fix(answer, v1_table)
    msg = str(info.value)
    assert "expected: ('ok', 'scratch') (10), ('ok', 'missing_hole') (8), ('scratch', 'crack') (5)" in msg
    assert "yours:" in msg and hint in msg


def test_spec_fix_missing_pair_shows_both_cells(v1_table):
    with pytest.raises(ExerciseError, match=r"A=ok/B=missing_hole \(2\) plus A=missing_hole/B=ok \(6\)"):
        check_spec_fix({("ok", "scratch"), ("crack", "scratch")}, v1_table)


@pytest.mark.parametrize("blank", [None, ..., set(), []])
def test_spec_fix_blank(v1_table, blank, capsys):
    assert check_spec_fix(blank, v1_table) is False
    assert "not attempted yet" in capsys.readouterr().out


def test_spec_fix_tie_at_the_cut():
    import pandas as pd

    classes = ["ok", "scratch", "crack"]  # ok-scratch 6, ok-crack 2, scratch-crack 2: 75% of 10 needs 6 + 2
    table = pd.DataFrame([[30, 6, 2], [0, 30, 2], [0, 0, 30]], index=classes, columns=classes)
    assert check_spec_fix({("ok", "scratch"), ("ok", "crack")}, table) is True
    assert check_spec_fix({("ok", "scratch"), ("scratch", "crack")}, table) is True
    with pytest.raises(ExerciseError, match=r"add \('ok', 'crack'\) or \('scratch', 'crack'\) \(2"):
        check_spec_fix({("ok", "scratch")}, table)
    with pytest.raises(ExerciseError, match="must also address ok vs scratch: it causes 6 of the 10"):
        check_spec_fix({("ok", "crack"), ("scratch", "crack")}, table)


def test_spec_fix_bad_answer_type(v1_table):
    with pytest.raises(ExerciseError, match="set of class pairs"):
        check_spec_fix({"ok", "scratch", "crack"}, v1_table)


# ------------------------------------------------------------------------------------ box IoU


def _iou_wrong(plus_one=False, clamp="both", denominator="union", xywh=False):
    """The test's own wrong IoUs, written as a learner would."""
    def fn(a, b):
        ax1, ay1, ax2, ay2 = a
        bx1, by1, bx2, by2 = b
        if xywh:
            ax2, ay2, bx2, by2 = ax1 + ax2, ay1 + ay2, bx1 + bx2, by1 + by2
        one = 1 if plus_one else 0
        iw, ih = min(ax2, bx2) - max(ax1, bx1) + one, min(ay2, by2) - max(ay1, by1) + one
        inter = {"both": max(0, iw) * max(0, ih), "product": max(0, iw * ih), "none": iw * ih}[clamp]
        area_a, area_b = (ax2 - ax1 + one) * (ay2 - ay1 + one), (bx2 - bx1 + one) * (by2 - by1 + one)
        return inter / {"union": area_a + area_b - inter, "sum": area_a + area_b, "min": min(area_a, area_b),
                        "a": area_a}[denominator]

    return fn


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (_iou_wrong(plus_one=True), "no `+ 1`: coordinates here are continuous"),
        (_iou_wrong(clamp="none"), "clamp the overlap's width and height at 0"),
        (_iou_wrong(clamp="product"), "clamp the overlap's width and height at 0"),
        (_iou_wrong(denominator="sum"), "the union counts the overlap once"),
        (_iou_wrong(denominator="min"), "intersection over the *smaller* box"),
        (_iou_wrong(denominator="a"), "not by box_a's area alone"),
        (_iou_wrong(xywh=True), "not x, y, width, height"),
    ],
    ids=["plus_one", "unclamped", "clamp_product_only", "sum_of_areas", "min_area", "area_a", "xywh"],
)
def test_iou_mistakes(wrong, hint):
    with pytest.raises(ExerciseError) as info:
        check_iou(wrong)
    msg = str(info.value)
    assert "expected: " in msg and "(torchvision.ops.box_iou)" in msg and "yours:" in msg and hint in msg
    assert "iou([" in msg or "iou((" in msg  # names the case


def test_iou_reports_the_case_and_values():
    with pytest.raises(ExerciseError, match=r"partial overlap\n  expected: 0\.142857 .*\n  yours:    0\.174757\n"):
        check_iou(_iou_wrong(plus_one=True))
    with pytest.raises(ExerciseError, match=r"apart in x and in y\)\n  expected: 0 .*\n  yours:    1\n"):
        check_iou(_iou_wrong(clamp="none"))
    with pytest.raises(ExerciseError, match=r"(?s)touching edges.*expected: 0 .*yours:    0\.0476"):
        check_iou(lambda a, b: _iou_wrong(plus_one=True)(a, b) if a[2] == b[0] else iou(a, b))


def test_iou_accepts_tensors_and_numpy_numbers(capsys):
    from torchvision.ops import box_iou

    assert check_iou(lambda a, b: box_iou(torch.tensor([a], dtype=torch.float64), torch.tensor([b]).double()))
    assert check_iou(lambda a, b: box_iou(torch.tensor([a], dtype=torch.float32), torch.tensor([b]).float()))
    assert check_iou(lambda a, b: np.float32(iou(a, b)))
    assert capsys.readouterr().out.count("✓ correct") == 3


def test_iou_tuple_crash_gets_the_unpack_hint():
    def mutates(a, b):
        a[0] = float(a[0])  # fine on a list, a TypeError on a tuple
        return iou(a, b)

    with pytest.raises(ExerciseError, match=r"(?s)boxes given as tuples.*x1, y1, x2, y2 = box_a") as info:
        check_iou(mutates)
    assert isinstance(info.value.__cause__, TypeError)


def test_iou_out_of_range_gets_the_bound_hint():
    with pytest.raises(ExerciseError, match="gave 2.5 on one of the cases, but an IoU is at most 1"):
        check_iou(lambda a, b: 2 * iou(a, b) + 0.5)
    with pytest.raises(ExerciseError, match="gave -1 on one of the cases, but an IoU is never negative"):
        check_iou(lambda a, b: iou(a, b) - 1)


# ------------------------------------------------------------------------------ YOLO to corners


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (lambda cx, cy, w, h, W, H: (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2), "multiply the x values"),
        (lambda cx, cy, w, h, W, H: (cx * W, cy * H, (cx + w) * W, (cy + h) * H), "*centre* of the box"),
        (lambda cx, cy, w, h, W, H: yolo_box(cx, cy, w, h, H, W), "you swapped them"),
        (lambda cx, cy, w, h, W, H: ((cx - w) * W, (cy - h) * H, (cx + w) * W, (cy + h) * H), "cx ± w/2"),
        (lambda cx, cy, w, h, W, H: ((cx - w / 2) * W, (cy - h / 2) * H, w * W, h * H), "not x, y, width, height"),
        (lambda *a: [yolo_box(*a)[i] for i in (0, 2, 1, 3)], "not x1, x2, y1, y2"),
        (lambda *a: tuple(round(v) for v in yolo_box(*a)), "don't round"),
    ],
    ids=["unscaled", "centre_as_corner", "swapped_dims", "full_width", "xywh", "order", "rounded"],
)
def test_yolo_to_xyxy_mistakes(wrong, hint):
    with pytest.raises(ExerciseError) as info:
        check_yolo_to_xyxy(wrong)
    msg = str(info.value)
    assert "expected: (" in msg and "(coursekit.data.yolo.yolo_to_xyxy)" in msg and "yours:    (" in msg
    assert hint in msg and "yolo_to_xyxy(cx=" in msg


def test_yolo_to_xyxy_reports_the_values():
    with pytest.raises(ExerciseError, match=r"640×480 image\n  expected: \(240, 72, 400, 312\) .*\n"
                                            r"  yours:    \(180, 96, 300, 416\)\n"):
        check_yolo_to_xyxy(lambda cx, cy, w, h, W, H: yolo_box(cx, cy, w, h, H, W))


@pytest.mark.parametrize("container", [list, np.array, torch.tensor], ids=["list", "ndarray", "tensor"])
def test_yolo_to_xyxy_accepts_any_four_numbers(container, capsys):
    assert check_yolo_to_xyxy(lambda *a: container(yolo_box(*a))) is True
    assert "✓ correct" in capsys.readouterr().out


def test_yolo_to_xyxy_wrong_count():
    with pytest.raises(ExerciseError, match=r"returned 2 numbers.*return x1, y1, x2, y2"):
        check_yolo_to_xyxy(lambda cx, cy, w, h, W, H: (cx * W, cy * H))


# ------------------------------------------------------------------------------ reading a PR curve


def _sk_curve(y, scores):
    from sklearn.metrics import precision_recall_curve

    return precision_recall_curve(y, scores, drop_intermediate=False)  # precision, recall, thresholds


# 12 images; flag score >= t. min_precision 0.9 -> t = 0.85 (3 of 3 right, recall 0.5); the next lower score is 0.8
# 0.8 -> t = 0.6 (precision 5/6, recall 5/6), next lower 0.55; 0.5 -> t = 0.4 (recall 1, then 0.3, 0.2, 0.1 too)
Y12 = [1, 1, 1, 0, 1, 1, 0, 0, 1, 0, 0, 0]
S12 = [.95, .9, .85, .8, .7, .6, .55, .5, .4, .3, .2, .1]


@pytest.mark.parametrize(
    "answer, min_precision",
    [(0.85, 0.9), (0.81, 0.9), (np.float64(0.8000001), 0.9), (0.6, 0.8), (0.58, 0.8), (0.4, 0.5), (0.31, 0.5)],
)
def test_pr_reading_right(answer, min_precision, capsys):
    assert check_pr_reading(answer, *_sk_curve(Y12, S12), min_precision=min_precision) is True
    assert capsys.readouterr().out.startswith("✓ correct: threshold ")


@pytest.mark.parametrize(
    "answer, min_precision, hint",
    [
        (0.55, 0.8, "at threshold 0.55 precision is 0.714, below the target 0.8"),
        (0.8, 0.9, "at threshold 0.8 precision is 0.75, below the target 0.9"),
        (0.4, 0.9, "you read the axes the other way round"),
        (0.7, 0.8, "a lower threshold still keeps precision >= 0.8 and finds more: recall 0.833 at 0.6"),
        (0.95, 0.8, "that is the point with the highest precision"),
        (0.9, 0.9, "is the target for precision, not a threshold"),
        (0.5, 0.9, "0.5 is the recall at the right point"),
        (1.0, 0.9, "1 is the precision at the right point"),
        (0.3, 0.5, "take the highest (the same objects found, fewer false boxes)"),
        (0.1, 0.5, "thresholds from 0.1 up to 0.4 all give recall 1"),
        (85, 0.9, "not a percentage"),
        (-0.2, 0.9, "a threshold is a score between 0 and 1"),
        (0.97, 0.9, "above every score: nothing is kept"),
    ],
    ids=["precision_too_low", "one_score_too_low", "axes_swapped", "lower_recall", "max_precision", "the_target",
         "the_recall", "the_precision", "tie_lower", "tie_lowest", "percent", "negative", "above_all"],
)
def test_pr_reading_wrong(answer, min_precision, hint):
    with pytest.raises(ExerciseError) as info:
        check_pr_reading(answer, *_sk_curve(Y12, S12), min_precision=min_precision)
    msg = str(info.value)
    assert f"min_precision={min_precision:g}" in msg and "expected: " in msg and hint in msg
    assert f"yours:    {answer:g}" in msg


def test_pr_reading_expected_names_the_accepted_range():
    with pytest.raises(ExerciseError, match=r"expected: 0\.85   \(precision 1 >= 0\.9 at recall 0\.5; any value in "
                                            r"\(0\.8, 0\.85\] keeps the same boxes\)"):
        check_pr_reading(0.9, *_sk_curve(Y12, S12), min_precision=0.9)


def test_pr_reading_rounded_past_the_next_score():
    # one point per threshold (no scikit-learn sentinel), thresholds in descending order
    thresholds, precision, recall = [0.95, 0.8731, 0.8702, 0.5], [1.0, 0.92, 0.85, 0.7], [0.4, 0.8, 0.9, 1.0]
    assert check_pr_reading(0.873, precision, recall, thresholds, 0.91) is True  # still above 0.8702: same boxes
    with pytest.raises(ExerciseError, match=r"0\.87 looks like 0\.8731 rounded.*next score below is 0\.8702"):
        check_pr_reading(0.87, precision, recall, thresholds, 0.91)
    with pytest.raises(ExerciseError, match=r"0\.9 looks like 0\.8731 rounded.*above it keeps fewer boxes"):
        check_pr_reading(0.9, precision, recall, thresholds, 0.91)


def test_pr_reading_takes_tensors_and_coursekit_curves(capsys):
    from coursekit.calibrate import pr_curve
    from torchmetrics.functional.classification import binary_precision_recall_curve

    p, r, t = binary_precision_recall_curve(torch.tensor(S12), torch.tensor(Y12))
    assert check_pr_reading(0.6, p, r, t, 0.8) is True
    c = pr_curve(Y12, S12)
    assert check_pr_reading(0.6, c.precision, c.recall, c.thresholds, 0.8) is True
    assert capsys.readouterr().out.count("✓ correct") == 2
    with pytest.raises(ExerciseError, match="precision is 0.714"):
        check_pr_reading(0.55, c.precision, c.recall, c.thresholds, 0.8)


def test_pr_reading_blank(capsys):
    curve = _sk_curve(Y12, S12)
    assert check_pr_reading(..., *curve, min_precision=0.9) is False
    assert check_pr_reading(None, *curve, min_precision=0.9) is False
    assert "not attempted yet" in capsys.readouterr().out


def test_pr_reading_target_out_of_reach():
    curve = _sk_curve([0, 1, 1, 0, 1], [0.9, 0.8, 0.7, 0.6, 0.5])  # the top score is a negative: at most 2/3
    assert check_pr_reading(None, *curve, min_precision=0.9) is True
    assert check_pr_reading(..., *curve, min_precision=0.9) is False
    with pytest.raises(ExerciseError, match=r"(?s)expected: None.*the highest is 0\.667, at threshold 0\.7"):
        check_pr_reading(0.7, *curve, min_precision=0.9)


def test_pr_reading_bad_arrays():
    with pytest.raises(ValueError, match="one precision and recall per threshold"):
        check_pr_reading(0.5, [1, 1, 1], [0, 0.5, 1], [0.2], 0.9)
    with pytest.raises(ValueError, match="distinct"):
        check_pr_reading(0.5, [1, 1], [0.5, 1], [0.2, 0.2], 0.9)


# ------------------------------------------------------------------------ Module 4 checks

def _softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _unit(x):
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def test_check_zero_shot_accepts_a_correct_answer_numpy_and_torch(capsys):
    assert ex.check_zero_shot(lambda i, t, s: _softmax(s * _unit(i) @ _unit(t).T))
    import torch
    import torch.nn.functional as F

    def torch_version(i, t, s):
        i, t = F.normalize(torch.tensor(i), dim=-1), F.normalize(torch.tensor(t), dim=-1)
        return torch.softmax(s * i @ t.T, dim=1)

    assert ex.check_zero_shot(torch_version)
    assert "✓ correct" in capsys.readouterr().out


@pytest.mark.parametrize("wrong, phrase", [
    (lambda i, t, s: _softmax(s * i @ t.T), "normalise both"),
    (lambda i, t, s: _softmax(s * _unit(i) @ t.T), "normalise the text"),
    (lambda i, t, s: _softmax(s * i @ _unit(t).T), "normalise the image"),
    (lambda i, t, s: _softmax(_unit(i) @ _unit(t).T), "logit_scale"),
    (lambda i, t, s: s * _unit(i) @ _unit(t).T, "these are the logits"),
    (lambda i, t, s: (lambda z: np.exp(z - z.max(0)) / np.exp(z - z.max(0)).sum(0))(s * _unit(i) @ _unit(t).T),
     "over the *classes*"),
    (lambda i, t, s: _softmax(s * _unit(t) @ _unit(i).T), "shape"),
])
def test_check_zero_shot_names_the_mistake(wrong, phrase):
    with pytest.raises(ex.ExerciseError, match=re.escape(phrase) if phrase != "shape" else "shape"):
        ex.check_zero_shot(wrong)


def test_check_zero_shot_blank_is_not_attempted(capsys):
    def blank(i, t, s):
        ...
    assert ex.check_zero_shot(blank) is False
    assert "not attempted" in capsys.readouterr().out


def test_check_mask_iou_right_and_wrong():
    assert ex.check_mask_iou(lambda a, b: (a & b).sum() / (a | b).sum() if (a | b).any() else 0.0)
    for wrong, phrase in [
        (lambda a, b: (a & b).sum() / a.sum() if a.sum() else 0.0, "first mask's area"),
        (lambda a, b: (a & b).sum() / (a.sum() + b.sum()), "counts the shared pixels twice"),
        (lambda a, b: 2 * (a & b).sum() / (a.sum() + b.sum()), "Dice"),
        (lambda a, b: 0.5, "IoU of two masks"),
    ]:
        with pytest.raises(ex.ExerciseError, match=re.escape(phrase)):
            ex.check_mask_iou(wrong)


def test_check_mask_iou_blank(capsys):
    assert ex.check_mask_iou(lambda a, b: None) is False
    assert "not attempted" in capsys.readouterr().out
