"""coursekit.exercises: right answers pass, typical wrong ones fail with the expected value and a
specific hint, blanks print a hint and return False without raising.

The correct solutions below are the tests' own (the notebooks hold theirs); nothing here is importable
from coursekit.
"""
import math

import numpy as np
import pytest
import torch
import torch.nn as nn

from coursekit.exercises import (
    ExerciseError,
    check_accuracy,
    check_batchnorm,
    check_cohen_kappa,
    check_conv_output_size,
    check_label_saving_factor,
    check_param_count,
    check_receptive_field,
    check_spec_fix,
    check_threshold_for_precision,
)

# ------------------------------------------------------------------------------ test solutions


def conv_out(size, kernel, stride=1, padding=0, dilation=1):
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def acc(logits, targets):
    return (logits.argmax(dim=1) == targets).float().mean().item()


def bn(x, gamma, beta, eps=1e-5):
    mean = x.mean(dim=(0, 2, 3), keepdim=True)
    var = x.var(dim=(0, 2, 3), keepdim=True, unbiased=False)
    return (x - mean) / torch.sqrt(var + eps) * gamma.view(1, -1, 1, 1) + beta.view(1, -1, 1, 1)


def rf(layers):
    r, jump = 1, 1
    for kernel, stride in layers:
        r += (kernel - 1) * jump
        jump *= stride
    return r


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


def _blank_fn(*args, **kwargs):
    ...


def _not_implemented(*args, **kwargs):
    raise NotImplementedError


def _pass_fn(*args, **kwargs):
    pass


# --------------------------------------------------------------------------------- convention


@pytest.mark.parametrize(
    "check", [check_conv_output_size, check_accuracy, check_batchnorm, check_receptive_field, check_cohen_kappa,
              check_threshold_for_precision]
)
@pytest.mark.parametrize("blank", [_blank_fn, _not_implemented, _pass_fn, None, ...])
def test_blank_answers_return_false_with_a_hint(check, blank, capsys):
    assert check(blank) is False
    out = capsys.readouterr().out
    assert "not attempted yet" in out and "hint:" in out


@pytest.mark.parametrize(
    "check, solution",
    [(check_conv_output_size, conv_out), (check_accuracy, acc), (check_batchnorm, bn), (check_receptive_field, rf),
     (check_cohen_kappa, kappa), (check_threshold_for_precision, threshold)],
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


# --------------------------------------------------------------------------- receptive field


def test_receptive_field_int_form_and_module(capsys):
    assert check_receptive_field(5, layers=[(3, 1), (3, 1)]) is True
    net = nn.Sequential(nn.Conv2d(3, 8, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Conv2d(8, 8, 3), nn.AdaptiveAvgPool2d(1))
    assert check_receptive_field(8, layers=net) is True
    assert check_receptive_field(None, layers=net) is False
    with pytest.raises(ExerciseError, match="expected: 8"):
        check_receptive_field(6, layers=net)


@pytest.mark.parametrize(
    "wrong, hint",
    [
        (lambda layers: 1 + sum(k - 1 for k, _ in layers), "the strides matter"),
        (lambda layers: sum(k for k, _ in layers), "kernels overlap"),
        (lambda layers: math.prod(k for k, _ in layers), "additively"),
    ],
    ids=["no_strides", "sum_kernels", "product"],
)
def test_receptive_field_mistakes(wrong, hint):
    with pytest.raises(ExerciseError) as info:
        check_receptive_field(wrong)
    msg = str(info.value)
    assert "expected: " in msg and "receptive_field([" in msg and hint in msg


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
