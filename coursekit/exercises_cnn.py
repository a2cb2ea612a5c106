"""Checks for notebook 01's exercises (the contract of :mod:`coursekit.exercise_base`) against ``nn.Conv2d``,
torchmetrics, ``F.batch_norm``, coursekit's ResNet9 parts (their weights copied in), ``ck.evaluate``, ``batch_crop``.

>>> def conv_bn(c_in, c_out):
...     ...  # your code here
>>> check_conv_bn(conv_bn)  # doctest: +ELLIPSIS
… conv_bn: not attempted yet — hint: nn.Sequential(nn.Conv2d(c_in, c_out, kernel_size=3, padding=1, ...
False
"""
from __future__ import annotations

import copy
import math
from typing import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

from .exercise_base import (ExerciseError, as_array, call, check_cases, correct, exercise, first_match, number,
                            wrong)
from .viz import reveal_shapes  # notebook 01 calls it from here

__all__ = ["check_conv_output_size", "check_accuracy", "check_batchnorm", "check_param_count", "check_conv_bn",
           "check_residual", "check_resnet9", "check_evaluate", "check_augment", "reveal_shapes", "ExerciseError"]

_CONV_CASES = [("conv_output_size(size={}, kernel={}, stride={}, padding={}, dilation={})".format(*a), a) for a in [
    (32, 3, 1, 0, 1), (28, 5, 1, 0, 1), (7, 7, 1, 0, 1), (56, 1, 1, 0, 1), (32, 3, 1, 1, 1), (32, 5, 1, 2, 1),
    (16, 3, 1, 3, 1), (32, 3, 2, 1, 1), (32, 3, 2, 0, 1), (31, 3, 2, 1, 1), (33, 4, 2, 1, 1), (224, 7, 2, 3, 1),
    (56, 1, 2, 0, 1), (10, 3, 3, 0, 1), (17, 5, 3, 2, 1), (9, 2, 2, 0, 1), (32, 3, 1, 2, 2), (32, 3, 1, 0, 2),
    (64, 3, 1, 4, 4), (32, 3, 2, 2, 2), (15, 4, 3, 1, 2)]]  # plain first, then padding, stride, dilation
_CONV_HINT = "a kernel of size k fits in a row of n pixels at n - k + 1 positions; then add padding, stride, dilation."


def _span(k: int, d: int) -> int:  # the dilated kernel's extent
    return d * (k - 1) + 1


_CONV_VARIANTS = [  # (the wrong formula, its hint)
    (lambda n, k, s, p, d: (n + 2 * p - _span(k, d)) // s,
     "you are one short: count the first window position too (the `+ 1`)."),
    (lambda n, k, s, p, d: (n + 2 * p - k) // s + 1, lambda n, k, s, p, d: (
        f"dilation {d} spreads the kernel: it covers dilation·(kernel−1)+1 = {_span(k, d)} pixels, not {k}.")),
    (lambda n, k, s, p, d: (n + p - _span(k, d)) // s + 1,
     "padding is added on both sides: the padded size is size + 2·padding."),
    (lambda n, k, s, p, d: math.ceil((n + 2 * p - _span(k, d)) / s) + 1,
     "round down, not up: a window that does not fully fit is dropped (use `//`)."),
    (lambda n, k, s, p, d: (n - _span(k, d)) // s + 1,
     "don't forget the padding: the padded input has size + 2·padding pixels."),
    (lambda n, k, s, p, d: n + 2 * p - _span(k, d) + 1,
     lambda n, k, s, p, d: f"stride {s} moves the window {s} pixels at a time: divide the free room by the stride."),
]


@exercise("conv_output_size", _CONV_HINT)
def check_conv_output_size(fn: Callable[..., int]) -> bool:
    """Check ``fn(size, kernel, stride, padding, dilation) -> int`` (positional) against a real ``nn.Conv2d``."""
    def reference(size, kernel, stride, padding, dilation):
        conv = nn.Conv2d(1, 1, kernel, stride=stride, padding=padding, dilation=dilation, bias=False)
        with torch.no_grad():
            return int(conv(torch.zeros(1, 1, size, size)).shape[-1])

    n = check_cases(fn, _CONV_CASES, name="conv_output_size", hint=_CONV_HINT, reference=reference,
                    variants=_CONV_VARIANTS, across=True, same=lambda a, b: a == b, source="   (what nn.Conv2d gives)",
                    mistake=lambda i, got, _: "your result is not a whole number: use floor division `//` (a window "
                    "that does not fit is dropped)." if got != int(got) else "the window (dilation·(kernel−1)+1 wide) "
                    "must fit in size + 2·padding: count the stride-steps.")
    return correct(f"conv_output_size matches nn.Conv2d on all {n} cases (padding, stride, dilation).")


_ACC_HINT = "the predicted class is logits.argmax(dim=1); the accuracy is the mean of its matches with the targets."


def _accuracy_cases():
    g, t = torch.Generator().manual_seed(0), torch.tensor
    return [("a random batch of 64 images, 10 classes", torch.randn(64, 10, generator=g),
             torch.randint(0, 10, (64,), generator=g)),
            ("a batch of 5 images, 3 classes", torch.randn(5, 3, generator=g), torch.randint(0, 3, (5,), generator=g)),
            ("a batch of 1 image, predicted right", t([[0.1, 2.0, -1.0]]), t([1])),
            ("a batch of 1 image, predicted wrong", t([[0.1, 2.0, -1.0]]), t([2])),
            ("ties: two classes share the top score (the first one is the prediction, as torch.argmax)",
             t([[1.0, 1.0, 0.0], [0.0, 2.0, 2.0], [3.0, 0.0, 3.0], [0.0, 0.0, 1.0]]), t([1, 2, 0, 2])),
            ("a batch of 32 all predicted right", torch.eye(8).repeat(4, 1) * 5, torch.arange(8).repeat(4)),]


def _accuracy_mistake(got: float, expected: float, logits, targets) -> str:
    n = len(targets)
    any_top = (logits == logits.max(dim=1, keepdim=True).values).gather(1, targets[:, None]).float().mean().item()
    return first_match(got, [
        (100 * expected if expected > 0 else None, "return a fraction between 0 and 1, not a percentage."),
        (expected * n if n > 1 else None, f"you returned the number of correct predictions; divide by the batch size "
                                          f"({n})."),
        (1 - expected, "that is the error rate: count the predictions that *match* the targets."),
        (any_top, "with a tie, the prediction is the first of the tied classes (what logits.argmax(dim=1) returns).")],
        _ACC_HINT, same=lambda a, b: b is not None and math.isclose(a, b, rel_tol=1e-5, abs_tol=1e-6))


@exercise("accuracy", _ACC_HINT)
def check_accuracy(fn: Callable) -> bool:
    """Check ``fn(logits (N, C), targets (N,)) -> float`` in [0, 1] against torchmetrics."""
    from torchmetrics.functional.classification import multiclass_accuracy

    cases = [(f"{what} (logits shape {tuple(logits.shape)})", (logits, targets)) for what, logits, targets in
             _accuracy_cases()]
    n = check_cases(fn, cases, name="accuracy", hint=_ACC_HINT, same=lambda a, b: math.isclose(a, b, abs_tol=1e-5),
                    reference=lambda logits, targets: float(multiclass_accuracy(
                        logits, targets, num_classes=logits.shape[1], average="micro")),
                    mistake=lambda i, got, expected: _accuracy_mistake(got, expected, *cases[i][1]),
                    show=lambda v: f"{v:.6g}", source="   (torchmetrics)")
    return correct(f"accuracy matches torchmetrics on all {n} cases, ties and a batch of 1 included.")


_BN_HINT = "per channel: (x - mean) / sqrt(var + eps) over dims (0, 2, 3), then gamma · x̂ + beta, as (1, C, 1, 1)."


def _bn_cases():
    g = torch.Generator().manual_seed(1)

    def make(n, c, h, w, eps):
        offsets = torch.linspace(-2.0, 3.0, c).view(1, c, 1, 1)
        x = torch.randn(n, c, h, w, generator=g) * (1.0 + torch.rand(1, c, 1, 1, generator=g) * 2) + offsets
        return x, torch.rand(c, generator=g) + 0.5, torch.randn(c, generator=g), eps

    return [make(8, 3, 4, 5, None), make(2, 4, 3, 3, 0.1), make(1, 2, 6, 6, 1e-5), make(16, 5, 2, 7, 1e-3)]


def _bn_variants(x, gamma, beta, eps):  # the usual wrong versions, to name a mistake
    g, b, spatial = gamma.view(1, -1, 1, 1), beta.view(1, -1, 1, 1), (0, 2, 3)

    def norm(dims, unbiased=False, eps_outside=False, no_eps=False, by_var=False):
        m, v = x.mean(dim=dims, keepdim=True), x.var(dim=dims, keepdim=True, unbiased=unbiased)
        return (x - m) / ((v + eps) if by_var else v.sqrt() if no_eps else (v.sqrt() + eps) if eps_outside
                          else (v + eps).sqrt())

    return [
        (norm(spatial, unbiased=True) * g + b, "use the biased variance (divide by N·H·W, not N·H·W − 1): "
                                               "x.var(..., unbiased=False)."),
        (norm((2, 3)) * g + b, "you normalised each image over (H, W) (InstanceNorm): BatchNorm uses dims (0, 2, 3)."),
        (norm((1, 2, 3)) * g + b, "you normalised each image over (C, H, W) (LayerNorm): BatchNorm: (0, 2, 3)."),
        (norm((0,)) * g + b, "you averaged over the batch only: BatchNorm2d averages over dims (0, 2, 3)."),
        (norm((0, 1, 2, 3)) * g + b, "you mixed all channels: keep one mean and one variance per channel."),
        (norm(spatial, eps_outside=True) * g + b, "eps goes inside the square root: (x - mean) / sqrt(var + eps)."),
        (norm(spatial, no_eps=True) * g + b, "don't forget eps: (x - mean) / sqrt(var + eps)."),
        (norm(spatial, by_var=True) * g + b, "divide by the standard deviation sqrt(var + eps), not by the variance."),
        (norm(spatial), "the normalised x is then scaled by gamma and shifted by beta: y = gamma · x̂ + beta."),
        (norm(spatial) * b + g, "gamma scales and beta shifts: y = gamma · x̂ + beta (you swapped them)."),
    ]


def _bn_error_hint(e: Exception) -> str | None:
    return ("gamma and beta have shape (C,): view them as (1, C, 1, 1) so they broadcast over (N, C, H, W)."
            if "must match the size" in str(e) else "your function needs an `eps=1e-5` parameter: def batchnorm(x, "
            "gamma, beta, eps=1e-5)." if "unexpected keyword argument 'eps'" in str(e) else None)


@exercise("batchnorm", _BN_HINT)
def check_batchnorm(fn: Callable) -> bool:
    """Check ``fn(x, gamma, beta, eps=1e-5)`` (BatchNorm2d, training) against ``F.batch_norm``."""
    name, cases = "batchnorm", _bn_cases()
    preview = lambda t: (f"tensor of shape {tuple(t.shape)}, "  # noqa: E731
                         f"y[0, 0, 0, :4] = {[round(v, 4) for v in t[0, 0, 0, :4].tolist()]}")
    for i, (x, gamma, beta, eps) in enumerate(cases):
        eps_used = 1e-5 if eps is None else eps
        case = f"x of shape {tuple(x.shape)}, eps={'default (1e-5)' if eps is None else eps}"
        out = call(fn, (x.clone(), gamma.clone(), beta.clone()), {} if eps is None else {"eps": eps}, name=name,
                   case=case, first=i == 0, hint=_BN_HINT, error_hint=_bn_error_hint)
        expected = F.batch_norm(x, None, None, gamma, beta, training=True, eps=eps_used)
        got = torch.from_numpy(as_array(out, name, case, "a tensor")).to(torch.float32)
        if got.shape != expected.shape:
            raise wrong(name, case, f"shape {tuple(expected.shape)}", f"shape {tuple(got.shape)}", "the output has "
                        "the input's shape; reduce with keepdim=True and view gamma/beta as (1, C, 1, 1).")
        if not torch.allclose(got, expected, rtol=1e-4, atol=1e-4):
            hint = first_match(got, _bn_variants(x, gamma, beta, eps_used), _BN_HINT,
                               same=lambda a, b: torch.allclose(a, b, rtol=1e-4, atol=1e-4))
            raise wrong(name, case, preview(expected),
                        f"{preview(got)}  (max difference {(got - expected).abs().max().item():.3g})", hint)
    return correct(f"{name} matches F.batch_norm(training=True) on all {len(cases)} cases.")


_PARAM_HINT = "Conv2d: a kernel_h × kernel_w filter per (c_in, c_out) pair (+ c_out biases); BatchNorm: 2 per channel."


def _explain(m) -> str:  # a line of the breakdown: the formula with this layer's numbers, and its count
    n, kind = sum(p.numel() for p in m.parameters(recurse=False)), type(m).__name__
    if isinstance(m, nn.modules.conv._ConvNd):
        k = " × ".join(str(v) for v in m.kernel_size)
        line = f"{kind}: out_channels × in_channels/groups × kernel = {m.out_channels} × {m.in_channels // m.groups}"
        line += f" × {k}" + (f" + {m.out_channels} bias" if m.bias is not None else " (bias=False: no bias)")
    elif isinstance(m, nn.modules.batchnorm._NormBase):
        line = (f"{kind}: gamma and beta per channel = 2 × {m.num_features}" if m.affine else
                f"{kind}: affine=False, none") + " (running_mean/running_var are buffers, not parameters)"
    elif isinstance(m, nn.Linear):
        line = f"Linear: out × in = {m.out_features} × {m.in_features}"
        line += f" + {m.out_features} bias" if m.bias is not None else " (no bias)"
    else:
        line = kind
    return f"{line} = {n:,}"


def _param_mistake(answer: int, expected: int, leaves) -> str:
    lines = [_explain(m) for m in leaves
             if any(True for _ in m.parameters(recurse=False)) or isinstance(m, nn.modules.conv._ConvNd)]
    mistakes = []  # (the count a mistake gives, its hint); a later layer's mistake is named first
    for m in reversed(leaves):
        if isinstance(m, nn.modules.conv._ConvNd):
            c = m.out_channels
            mistakes += [(expected + c if m.bias is None else expected - c,
                          f"this conv has bias=False, so it has no bias to count ({c} too many)." if m.bias is None
                          else f"you forgot the conv's bias: one per output channel ({c})."),
                         (expected - m.weight.numel() + c * m.kernel_size[0] * m.kernel_size[1],
                          "each output channel has one filter per *input* channel: multiply by in_channels too.")]
        if isinstance(m, nn.modules.batchnorm._NormBase) and m.affine:
            c, buffers = m.num_features, ("running_mean and running_var are buffers (statistics), not learnable "
                                          "parameters: don't count them.")
            mistakes += [(expected + 2 * c, buffers), (expected + 2 * c + 1, buffers),
                         (expected - 2 * c, f"you forgot the BatchNorm: it learns a gamma and a beta per channel "
                                            f"(2 × {c})."),
                         (expected - c, f"BatchNorm has two learnable vectors per channel, gamma and beta (2 × {c}, "
                                        f"not {c}).")]
    specific = next((h for v, h in mistakes if answer == v), _PARAM_HINT)
    return f"{specific}\n  breakdown:\n    " + "\n    ".join(lines)


def _short(m) -> str:
    if isinstance(m, nn.modules.conv._ConvNd):
        extra = ("" if m.bias is not None else ", bias=False") + (f", groups={m.groups}" if m.groups != 1 else "")
        return f"{type(m).__name__}({m.in_channels}, {m.out_channels}, {'×'.join(map(str, m.kernel_size))}{extra})"
    return f"{type(m).__name__}({m.num_features})" if isinstance(m, nn.modules.batchnorm._NormBase) else repr(m)


@exercise("param_count", _PARAM_HINT)
def check_param_count(answer: int, layer) -> bool:
    """Check a hand count of ``layer``'s learnable parameters (``layer``: a module or a list of modules).

    >>> check_param_count(73_728 + 256, [nn.Conv2d(64, 128, 3, bias=False), nn.BatchNorm2d(128)])
    ✓ correct: 73,984 parameters in Conv2d(64, 128, 3×3, bias=False) + BatchNorm2d(128).
    True
    """
    layer = nn.Sequential(*layer) if isinstance(layer, (list, tuple)) else layer
    if not isinstance(layer, nn.Module):
        raise TypeError(f"layer must be a torch.nn.Module (or a list of them), got {type(layer).__name__}")
    leaves = [m for m in layer.modules() if not list(m.children())] or [layer]
    name, case = "param_count", " + ".join(_short(m) for m in leaves)
    expected = sum(p.numel() for m in leaves for p in m.parameters(recurse=False))
    if not (hasattr(answer, "__index__") and not isinstance(answer, bool)
            or isinstance(answer, float) and answer.is_integer()):
        raise ExerciseError(f"{name}: the answer should be a whole number (an int), got {answer!r} for {case}")
    answer = int(answer)
    if answer != expected:
        raise wrong(name, case, f"{expected:,}", f"{answer:,}", _param_mistake(answer, expected, leaves))
    return correct(f"{expected:,} parameters in {case}.")


_STAGES = ["prep", "layer1", "layer2", "layer3"]
_CONV_BN_HINT = ("nn.Sequential(nn.Conv2d(c_in, c_out, kernel_size=3, padding=1, bias=False), "
                 "nn.BatchNorm2d(c_out), nn.ReLU()).")
_RES_HINT = "self.body = nn.Sequential(conv_bn(c, c), conv_bn(c, c)); forward returns x + self.body(x)."
_NET_HINT = ("prep = conv_bn(3, w); layer1 = conv_bn(w, 2w), MaxPool2d(2), Residual(2w); layer2 = conv_bn(2w, 4w), "
             "MaxPool2d(2); layer3 = conv_bn(4w, 8w), MaxPool2d(2), Residual(8w); then AdaptiveMaxPool2d(1), "
             "flatten, Linear(8w, num_classes, bias=False), times 0.125.")
_EVAL_HINT = "model.eval(); under torch.no_grad() sum correct predictions (argmax dim 1) and images; return the ratio."
_AUG_HINT = ("F.pad(x, (4, 4, 4, 4), mode='reflect'), a 32x32 window per image at offsets torch.randint(0, 9, (n,), "
             "generator=generator), mirrored (x.flip(-1)) where torch.rand(n, generator=generator) < 0.5.")
_NEGATIVE = ("{} has negative values: every conv_bn ends with a ReLU, in the order conv -> BatchNorm -> ReLU (a ReLU "
             "is missing, or placed before the BatchNorm).")
_CRASHES = [  # (words in the error, what they usually mean here)
    (("is not a Module subclass", "'NoneType' object is not callable"),
     "conv_bn returned None: finish conv_bn (the exercise above) first."),
    (("unexpected keyword argument", "positional argument"),
     "the constructor takes the arguments of the exercise: def __init__(self, num_classes=10, width=64)."),
    (("must match the size of tensor",), "x + body(x) needs the body to keep the shape: padding=1, no pooling."),
    (("cannot be multiplied",), "the linear layer gets 8 * width features: global max pool, then flatten to (N, 8w)."),
    (("has no attribute 'dataset'",), "count the images as you go (len(labels) per batch): not every loader has one."),
]


def _count(m: nn.Module) -> int:
    return sum(p.numel() for p in m.parameters())


def _copy_weights(src: nn.Module, dst: nn.Module) -> bool:  # in registration order; False if shapes do not line up
    a, b = list(src.parameters()), list(dst.parameters())
    ok = len(a) == len(b) and all(p.shape == q.shape for p, q in zip(a, b))
    with torch.no_grad():
        for p, q in zip(a, b) if ok else ():
            q.copy_(p)
    return ok


def _same(a: torch.Tensor, b: torch.Tensor) -> bool:
    return a.shape == b.shape and torch.allclose(a, b, rtol=1e-4, atol=1e-5)


def _crash_hint(e: Exception) -> str | None:
    return next((hint for words, hint in _CRASHES if any(w in str(e) for w in words)), None)


def _get(fn, args, kwargs, kind, name: str, case: str, first: bool, hint: str):  # the learner's module / tensor
    out = call(fn, args, kwargs, name=name, case=case, first=first, hint=hint, error_hint=_crash_hint)
    if not isinstance(out, kind):
        wanted = "an nn.Module (e.g. nn.Sequential(...))" if kind is nn.Module else "a tensor"
        raise ExerciseError(f"{name}: for {case} you returned {type(out).__name__}; return {wanted}")
    return out


def _param_hint(m: nn.Module, n: int, n_ref: int, ref: nn.Module) -> str:
    """The usual reason why a from-scratch module has ``n`` parameters instead of the reference's ``n_ref``."""
    if n == 0:
        return "your module registers no parameters: assign layers to self.<name> (a plain list hides them)."
    convs = [c for c in m.modules() if isinstance(c, nn.Conv2d)]
    conv_bias = sum(c.out_channels for c in convs if c.bias is not None)
    fc_bias = 0 if any(lin.bias is not None for lin in ref.modules() if isinstance(lin, nn.Linear)) else sum(
        lin.out_features for lin in m.modules() if isinstance(lin, nn.Linear) and lin.bias is not None)
    hints, odd = [], sorted({c.kernel_size for c in convs if c.kernel_size != (3, 3)})
    if conv_bias and n - conv_bias in (n_ref, n_ref + fc_bias):
        hints.append(f"bias=True in a conv before BatchNorm: {conv_bias:,} useless extra parameters; use bias=False.")
    if fc_bias and n - fc_bias in (n_ref, n_ref + conv_bias):
        hints.append(f"the reference's final layer has no bias: bias=False ({fc_bias} extra parameters).")
    if hints:
        return " ".join(hints)
    if not any(isinstance(b, nn.BatchNorm2d) for b in m.modules()):
        return "BatchNorm is missing: every conv is followed by nn.BatchNorm2d(c_out) (2 × c_out parameters)."
    return (f"every conv is 3x3 (kernel_size=3); you have kernel sizes {odd}." if odd else
            "count layer by layer: each conv_bn is a 3x3 conv (no bias) + a BatchNorm (gamma and beta).")


def _check_block(m, ref, x, name, case, shape_hint, n_convs_hint, variants, fallback) -> None:
    # the shape, the parameter count, then the output with ref's weights copied in (variants: named mistakes)
    y, expected = _get(m, (x.clone(),), {}, torch.Tensor, name, case, True, shape_hint), ref(x.clone()).shape
    if y.shape != expected:
        raise wrong(name, case, f"shape {tuple(expected)}", f"shape {tuple(y.shape)}", shape_hint)
    n, n_ref = _count(m), _count(ref)
    if n != n_ref:
        convs = sum(isinstance(c, nn.Conv2d) for c in m.modules())
        hint = n_convs_hint.format(convs) if convs != sum(isinstance(c, nn.Conv2d) for c in ref.modules()) else None
        raise wrong(name, case, f"{n_ref:,} parameters", f"{n:,}", hint or _param_hint(m, n, n_ref, ref))
    if _copy_weights(ref, m):
        y, y_ref = m.train()(x.clone()), ref(x.clone())
        if not _same(y, y_ref):
            raise wrong(name, case, f"what coursekit's {type(ref).__name__} computes with the same weights",
                        f"max difference {(y - y_ref).abs().max():.3g}",
                        first_match(y, variants(ref, x), fallback(y, x), same=_same))


@exercise("conv_bn", _CONV_BN_HINT, torch_seed=0)
def check_conv_bn(fn: Callable) -> bool:
    """Check ``fn(c_in, c_out) -> nn.Module`` (3x3 conv, BatchNorm, ReLU) against coursekit's ConvBN."""
    from .models.resnet9 import ConvBN

    for i, (c_in, c_out) in enumerate([(3, 16), (16, 32)]):
        case = f"conv_bn({c_in}, {c_out}) on a batch of shape (4, {c_in}, 8, 8)"
        m = _get(fn, (c_in, c_out), {}, nn.Module, "conv_bn", case, i == 0, _CONV_BN_HINT)
        _check_block(m, ConvBN(c_in, c_out), torch.randn(4, c_in, 8, 8), "conv_bn", case,
                     "a 3x3 conv keeps the size with padding=1 (padding 0 loses a pixel on each side).",
                     "conv_bn has one conv; yours has {}.", lambda ref, x: [],
                     lambda y, x: _NEGATIVE.format("your output") if (y < 0).any() else f"use {_CONV_BN_HINT}")
    return correct("conv_bn: conv 3x3 (no bias) -> BatchNorm -> ReLU, the same function as coursekit's ConvBN.")


def _residual_variants(ref, x):
    c1, c2 = ref.body.conv1, ref.body.conv2
    return [(c2(c1(x.clone())), "the skip connection is missing: return x + self.body(x), not self.body(x)."),
            (F.relu(x + c2(c1(x.clone()))), "nothing comes after the sum here: return x + self.body(x) (no ReLU)."),
            (F.relu(x + c2.bn(c2.conv(c1(x.clone())))), "that is torchvision's BasicBlock (ReLU after the sum): "
             "return x + self.body(x).")]


@exercise("Residual", _RES_HINT, torch_seed=0)
def check_residual(cls: Callable) -> bool:
    """Check ``cls(channels)``, ``x + body(x)`` with two conv_bn, against coursekit's Residual."""
    from .models.resnet9 import Residual

    case = "Residual(8) on a batch of shape (4, 8, 8, 8)"
    _check_block(_get(cls, (8,), {}, nn.Module, "Residual", case, True, _RES_HINT), Residual(8),
                 torch.randn(4, 8, 8, 8), "Residual", case,
                 "a residual block keeps the shape (x + body(x) needs it): padding 1, stride 1, no pooling.",
                 "the body has two conv_bn blocks; yours has {} conv(s).", _residual_variants,
                 lambda y, x: _NEGATIVE.format("self.body(x)") if ((y - x) < -1e-6).any() else _RES_HINT)
    return correct("Residual: x + body(x) with two conv_bn, the same function as coursekit's Residual.")


def _shape_hint(stage: str, got: tuple, exp: tuple, width: int = 16) -> str:
    if stage == "output":
        return (f"one logit per class: nn.Linear(8 * width, num_classes) ({exp[1]} here)." if len(got) == 2
                else "after the global max pool (N, C, 1, 1) comes a flatten to (N, C), then fc.")
    if len(got) != 4:
        return f"a stage keeps (N, C, H, W); {_NET_HINT}"
    (c, h), (ec, eh) = got[1:3], exp[1:3]
    if c != ec:
        return f"{stage} has {ec // width} x width = {ec} channels (width={width}): {_NET_HINT}"
    if h == 2 * eh:
        return f"{stage} must halve the resolution: a MaxPool2d(2) after its first conv_bn."
    if 2 * h == eh:
        return f"{stage} halves the resolution once too often: one MaxPool2d(2) per stage (none in prep)."
    if eh < h < 2 * eh:
        return "the pooling does not halve the size: nn.MaxPool2d(2) (kernel 2, stride 2)."
    if h < eh and (eh - h) % 2 == 0:
        return "padding 0: each 3x3 conv without padding loses a pixel on each side (32 -> 30); use padding=1."
    return _NET_HINT


def _stage_variants(ref_stage: nn.Module, x: torch.Tensor) -> list[tuple[torch.Tensor, str]]:  # usual mistakes
    conv, pool, res = ref_stage.conv, ref_stage.pool, getattr(ref_stage, "residual", None)
    after = res if res is not None else (lambda t: t)
    strided = F.relu(F.batch_norm(F.conv2d(x, conv.conv.weight, stride=2, padding=1), None, None, conv.bn.weight,
                                  conv.bn.bias, training=True))
    out = [(after(conv(pool(x))), "the max pool comes after the stage's first conv_bn, not before it."),
           (after(F.avg_pool2d(conv(x), 2)), "the stages use max pooling (nn.MaxPool2d(2)), not average pooling."),
           (after(strided), "a stride-2 conv is not the reference's downsampling: stride 1, then nn.MaxPool2d(2).")]
    if res is not None:
        out += [(res.body(pool(conv(x))), "the residual block lost its skip: return x + self.body(x)."),
                (pool(res(conv(x))), "the residual block comes after the max pool (it works at the halved size).")]
    return out


@exercise("MyResNet9", _NET_HINT, torch_seed=0)
def check_resnet9(cls: Callable) -> bool:
    """Check ``cls(num_classes=10, width=64)`` against coursekit's ResNet9, stage by stage; it must train."""
    from .models.resnet9 import ResNet9

    name, case = "MyResNet9", "MyResNet9(num_classes=10, width=16) on a batch of shape (2, 3, 32, 32)"
    m = _get(cls, (), {"num_classes": 10, "width": 16}, nn.Module, name, case, True, _NET_HINT)
    ref, x = ResNet9(10, 16), torch.randn(2, 3, 32, 32)
    _get(m, (x,), {}, torch.Tensor, name, case, True, _NET_HINT)
    n, n_ref = _count(m), _count(ref)
    if n == 0:
        raise wrong(name, case, f"{n_ref:,} parameters", "0", _param_hint(m, 0, n_ref, ref))
    if missing := [s for s in _STAGES if not isinstance(getattr(m, s, None), nn.Module)]:
        raise ExerciseError(f"{name}: no stage called {', '.join(missing)}; name the stages self.prep, self.layer1, "
                            "self.layer2, self.layer3 (as in the table) so they can be checked")
    ys, ys_ref = _stage_outputs(m, x), _stage_outputs(ref, x)
    for stage in _STAGES + ["output"]:
        got, exp = tuple(ys[stage].shape), tuple(ys_ref[stage].shape)
        if got != exp:
            raise wrong(name, f"{case}, after {stage}", f"shape {exp}", f"shape {got}", _shape_hint(stage, got, exp))
    if n != n_ref:
        per = [f"{s}: yours {_count(getattr(m, s)):,}, reference {_count(getattr(ref, s)):,}"
               for s in _STAGES if _count(getattr(m, s)) != _count(getattr(ref, s))]
        raise wrong(name, case, f"{n_ref:,} parameters", f"{n:,}",
                    _param_hint(m, n, n_ref, ref) + ("\n  by stage: " + "; ".join(per) if per else ""))
    small, n_small = "MyResNet9(num_classes=7, width=8)", _count(ResNet9(7, 8))
    other = _get(cls, (), {"num_classes": 7, "width": 8}, nn.Module, name, small, False, _NET_HINT)
    out = _get(other, (x,), {}, torch.Tensor, name, small, False, _NET_HINT)
    if out.shape != (2, 7):
        raise wrong(name, small, "output shape (2, 7)", f"output shape {tuple(out.shape)}",
                    "the number of classes is an argument: nn.Linear(8 * width, num_classes), not 10.")
    if _count(other) != n_small:
        raise wrong(name, small, f"{n_small:,} parameters", f"{_count(other):,}",
                    "the channels follow the width argument: width, 2w, 4w, 8w (no hard-coded 64).")
    _same_function(m, ref, name, case)
    _trains(cls, name)
    return correct(f"{name}: the same stages, shapes, {n_ref:,} parameters at width 16 and the same function as "
                   "coursekit's ResNet9, and it trains.")


def _stage_outputs(m: nn.Module, x: torch.Tensor) -> dict[str, torch.Tensor]:
    seen = {}
    hooks = [getattr(m, s).register_forward_hook(lambda mod, i, o, s=s: seen.__setitem__(s, o.detach().clone()))
             for s in _STAGES]
    try:
        seen["output"] = m(x).detach()
    finally:
        for h in hooks:
            h.remove()
    for s in (s for s in _STAGES if s not in seen):
        raise ExerciseError(f"MyResNet9: self.{s} never ran in your forward\n  hint: {_NET_HINT}")
    return seen


def _same_function(m: nn.Module, ref: nn.Module, name: str, case: str) -> None:  # with ref's weights: ref's outputs
    if not _copy_weights(ref, m):
        return  # parameters created in another order than they run: the shapes and the count checked it
    x = torch.randn(4, 3, 32, 32)
    ys, ys_ref = _stage_outputs(m.train(), x), _stage_outputs(ref.train(), x)
    for stage, x_in in zip(_STAGES + ["output"], [x] + [ys_ref[s] for s in _STAGES]):
        y, y_ref, k = ys[stage], ys_ref[stage], ref.logit_scale
        if _same(y, y_ref):
            continue
        variants = ([(y_ref / k, "the logits are multiplied by 0.125 at the end (logit scale)."),
                     (ref.fc(F.adaptive_avg_pool2d(x_in, 1).flatten(1)) * k,
                      "the head uses global *max* pooling (nn.AdaptiveMaxPool2d(1)), not average pooling."),
                     (y_ref * k, "multiply by 0.125 once.")] if stage == "output"
                    else [] if stage == "prep" else _stage_variants(getattr(ref, stage), x_in))
        fallback = _NEGATIVE.format(f"the output of {stage}") if stage != "output" and (y < 0).any() else _NET_HINT
        raise wrong(name, f"{case}, {stage}, with the reference's weights copied into yours",
                    f"what coursekit's ResNet9 computes ({stage})", f"max difference {(y - y_ref).abs().max():.3g}",
                    first_match(y, variants, fallback, same=_same))


def _trains(cls: Callable, name: str) -> None:  # six SGD steps on one seeded batch lower the loss
    net, x, y = cls(num_classes=10, width=8).train(), torch.randn(16, 3, 32, 32), torch.arange(16) % 10
    opt = torch.optim.SGD(net.parameters(), lr=0.05, momentum=0.9)
    losses = []
    for step in range(6):
        loss = F.cross_entropy(net(x), y)
        opt.zero_grad()
        loss.backward()
        if step == 0 and (dead := [k for k, p in net.named_parameters() if p.grad is None or not p.grad.any()]):
            raise ExerciseError(f"{name}: these parameters got no gradient: {', '.join(dead[:6])}\n  hint: is "
                                "something detached, or run under torch.no_grad() in your forward?")
        opt.step()
        losses.append(loss.item())
    if not losses[-1] < losses[0]:
        raise ExerciseError(f"{name}: six SGD steps on one fixed batch did not lower the loss "
                            f"({' -> '.join(f'{v:.3f}' for v in losses)})\n  hint: {_NET_HINT}")


@exercise("evaluate", _EVAL_HINT, torch_seed=0)
def check_evaluate(fn: Callable, model: nn.Module | None = None, loader=None) -> bool:
    """Check ``fn(model, loader) -> float`` against ``ck.evaluate`` (own case, then ``model``, ``loader``)."""
    net = nn.Sequential(nn.Conv2d(3, 6, 3, padding=1), nn.BatchNorm2d(6), nn.ReLU(), nn.AdaptiveAvgPool2d(1),
                        nn.Flatten(), nn.Linear(6, 3))
    x, y = torch.randn(40, 3, 8, 8) * 2 + 1, torch.arange(40) % 3
    cases = [("a small CNN with BatchNorm, batches of 16, 16 and 8 images", net, list(zip(x.split(16), y.split(16))))
             ] + ([("your model and loader", model, loader)] if model is not None else [])
    for i, (what, net, batches) in enumerate(cases):
        _check_eval_case(fn, net, batches, what, first=i == 0)
    return correct("evaluate: eval mode, no gradients, every batch counted: the same accuracy as ck.evaluate.")


def _check_eval_case(fn, net, batches, what, first, name="evaluate"):
    from .train import evaluate

    expected, probe, calls = evaluate(net, batches)["accuracy"], copy.deepcopy(net).train(), []
    bns = [m for m in probe.modules() if isinstance(m, nn.modules.batchnorm._BatchNorm)]
    hook = probe.register_forward_pre_hook(lambda mod, args: calls.append(  # (gradients on, BN training, images)
        (torch.is_grad_enabled(), any(b.training for b in bns) if bns else mod.training, len(args[0]))))
    try:
        got = number(call(fn, (probe, batches), {}, name=name, case=what, first=first, hint=_EVAL_HINT,
                          error_hint=_crash_hint), name, what)
    finally:
        hook.remove()
    if any(training for _, training, _ in calls):
        raise wrong(name, what, f"{expected:.6g} (ck.evaluate)", f"{got:.6g}", "you forgot model.eval(): BatchNorm "
                    "used (and updated) each batch's own statistics, so your evaluation changed the model.")
    if any(grad for grad, _, _ in calls):
        raise wrong(name, what, "no autograd graph", "the forward passes ran with gradients on", "you forgot "
                    "torch.no_grad(): autograd recorded a graph for a backward pass that never comes.")
    was_training = net.training
    with torch.no_grad():
        hits = [(net.eval()(images).argmax(1) == labels.to(images.device)).sum().item() for images, labels in batches]
    net.train(was_training)
    sizes = [len(labels) for _, labels in batches]
    seen, total = sum(n for _, _, n in calls), sum(sizes)
    if calls and seen < total:
        raise wrong(name, what, f"{expected:.6g} over {total} images", f"{got:.6g} over {seen} images",
                    "loop over every batch of the loader, not just the first.")
    if not math.isclose(got, expected, abs_tol=1e-6):
        mistakes = [(100 * expected, "return a fraction between 0 and 1, not a percentage."),
                    (sum(hits), f"that is the number of correct predictions: divide by the images ({total})."),
                    (sum(h / n for h, n in zip(hits, sizes)) / len(sizes), "you averaged the per-batch accuracies; "
                     "count correct predictions and images over all batches, divide once.")]
        hint = next((h for v, h in mistakes if math.isclose(got, v, abs_tol=1e-6) and v != expected), _EVAL_HINT)
        raise wrong(name, what, f"{expected:.6g} (ck.evaluate)", f"{got:.6g}", hint)


_AUG_MISTAKES = [  # (padding, flip that explains the images, hint)
    ("constant", "none", "zero padding: the borders come out as 0 (black); use F.pad(..., mode='reflect')."),
    ("replicate", "none", "replicate padding repeats the edge pixel; use mode='reflect' (a mirror)."),
    ("reflect", "vertical", "you flipped upside down (dim 2 = height); mirror left-right: x.flip(-1) (dim 3 = width).")]


def _locate(x: torch.Tensor, out: torch.Tensor) -> dict[tuple[str, str], torch.Tensor]:
    # for each padding mode and flip: (N, 9, 9) bool, True where out[i] is that window of the padded x[i]
    found = {}
    for mode in ("reflect", "constant", "replicate"):
        windows = F.pad(x, (4, 4, 4, 4), mode=mode).unfold(2, 32, 1).unfold(3, 32, 1)  # (N, C, 9, 9, 32, 32)
        for flip, o in (("none", out), ("horizontal", out.flip(3)), ("vertical", out.flip(2))):
            found[mode, flip] = (windows - o[:, :, None, None]).abs().amax(dim=(1, 4, 5)) < 1e-6
    return found


def _shift_mistake(flipped: torch.Tensor, dy: torch.Tensor, dx: torch.Tensor) -> str | None:
    if flipped.all() or not flipped.any():
        return f"{'every' if flipped.all() else 'no'} image was mirrored: flip each one with probability 1/2."
    if len(set(dy.tolist())) == 1 or len(set(dx.tolist())) == 1:
        return "one direction never changes: draw a row and a column offset per image, and pad all four sides."
    if max(dy.max(), dx.max()) < 8 and min(dy.min(), dx.min()) == 0:
        return "the offsets never reach 8: torch.randint's upper bound is excluded, use randint(0, 9, ...)."
    if min(dy.min(), dx.min()) > 0 and max(dy.max(), dx.max()) < 8:
        return "the shifts stay small: pad by 4 and let the window start anywhere from 0 to 8."
    return None


@exercise("augment", _AUG_HINT, torch_seed=0)
def check_augment(fn: Callable) -> bool:
    """Check ``fn(images, generator)``: reflect-pad 4, random 32x32 crop, random flip, from ``generator``."""
    from .data.loaders import batch_crop, batch_flip

    name, case = "augment", "a batch of 64 noise images (64, 3, 32, 32), torch.Generator().manual_seed(1)"
    x = torch.randn(64, 3, 32, 32)  # noise: every pixel tells where it came from
    run = lambda seed: _get(fn, (x.clone(), torch.Generator().manual_seed(seed)), {}, torch.Tensor, name, case,  # noqa
                            True, _AUG_HINT).detach().float()
    out = run(1)
    if out.shape != x.shape:
        raise wrong(name, case, f"shape {tuple(x.shape)}", f"shape {tuple(out.shape)}",
                    "you padded but did not crop back to 32x32." if out.shape[-1] == 40
                    else "the output has the input's shape: a 32x32 window of the 40x40 padded image.")
    if torch.equal(out, x):
        raise wrong(name, case, "shifted and flipped images", "the images unchanged", _AUG_HINT)
    where = _locate(x, out)
    found = {k: v.flatten(1).any(1) for k, v in where.items()}
    bad = ~(found["reflect", "none"] | found["reflect", "horizontal"])
    if bad.any():
        other = {"none": "horizontal", "vertical": "none"}
        hint = next((h for mode, flip, h in _AUG_MISTAKES if (found[mode, flip] | found[mode, other[flip]])[bad].all()),
                    _AUG_HINT)
        raise wrong(name, f"{case}, image {int(bad.nonzero()[0])}", "a 32x32 window of the reflect-padded image, "
                    "maybe mirrored left-right", f"{int(bad.sum())} of 64 images are not", hint)
    flipped = found["reflect", "horizontal"]
    at = torch.where(flipped[:, None, None], where["reflect", "horizontal"], where["reflect", "none"])
    dy, dx = (torch.tensor([int(w.nonzero()[0, k]) for w in at]) for k in (0, 1))
    if shift := _shift_mistake(flipped, dy, dx):
        raise wrong(name, case, "offsets 0..8 in both directions, about half the images mirrored",
                    f"offsets {int(dy.min())}..{int(dy.max())} (rows), {int(dx.min())}..{int(dx.max())} (columns), "
                    f"{int(flipped.sum())} of 64 mirrored", shift)
    if not torch.equal(run(1), out):
        raise ExerciseError(f"{name}: two calls with the same generator seed gave different batches\n  hint: draw "
                            "every random number from the generator you are given (generator=generator).")
    if torch.equal(run(2), out):
        raise ExerciseError(f"{name}: two different generators gave the same batch\n  hint: {_AUG_HINT}")
    g = torch.Generator().manual_seed(1)
    flip = torch.rand(64, generator=g) < 0.5
    plan = [torch.randint(0, 9, (64,), generator=g) for _ in "yx"]  # TensorLoader's order: flip, dy, dx
    exact = torch.equal(out, batch_crop(batch_flip(x, flip), 4, *plan))
    return correct(f"{name}: every image is a window of its reflect-padded self, shifts 0..8 both ways, "
                   f"{int(flipped.sum())} of 64 mirrored left-right, reproducible from the generator"
                   + (" (the very draws TensorLoader makes)." if exact else "."))
