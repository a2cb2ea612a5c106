"""coursekit.exercises: right answers pass, typical wrong ones fail with the expected value and a
specific hint, blanks print a hint and return False without raising.

The correct solutions below are the tests' own (the notebooks hold theirs); nothing here is importable
from coursekit.
"""
import math

import pytest
import torch
import torch.nn as nn

from coursekit.exercises import (
    ExerciseError,
    check_accuracy,
    check_batchnorm,
    check_conv_output_size,
    check_param_count,
    check_receptive_field,
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


def _blank_fn(*args, **kwargs):
    ...


def _not_implemented(*args, **kwargs):
    raise NotImplementedError


def _pass_fn(*args, **kwargs):
    pass


# --------------------------------------------------------------------------------- convention


@pytest.mark.parametrize(
    "check", [check_conv_output_size, check_accuracy, check_batchnorm, check_receptive_field]
)
@pytest.mark.parametrize("blank", [_blank_fn, _not_implemented, _pass_fn, None, ...])
def test_blank_answers_return_false_with_a_hint(check, blank, capsys):
    assert check(blank) is False
    out = capsys.readouterr().out
    assert "not attempted yet" in out and "hint:" in out


@pytest.mark.parametrize(
    "check, solution",
    [(check_conv_output_size, conv_out), (check_accuracy, acc), (check_batchnorm, bn), (check_receptive_field, rf)],
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
