"""Automatic checks for the notebook exercises, with friendly messages.

Every ``check_*`` takes the learner's answer (usually a function) and:

- **not attempted yet** (the function body is ``...``/``pass``, returns None, or raises
  NotImplementedError): prints a gentle hint and returns ``False``; no exception, so a notebook
  committed with blank exercises still runs top to bottom;
- **wrong**: raises :class:`ExerciseError` (an ``AssertionError``) naming the failing case, the
  expected value, the learner's value and a hint, specific when the mistake is a common one;
- **right**: prints ``✓ correct: ...`` and returns ``True``.

The expected values come from PyTorch/torchmetrics/scikit-learn themselves (a real ``nn.Conv2d``,
``F.batch_norm``, ``multiclass_accuracy``, ``cohen_kappa_score``) or from coursekit's reference
implementations (``choose_threshold``, ``label_saving_factor``), never from a formula here. Solutions
live in the notebooks, not in this module.

>>> def conv_output_size(size, kernel, stride=1, padding=0, dilation=1):
...     ...  # your code here
>>> check_conv_output_size(conv_output_size)  # doctest: +ELLIPSIS
… conv_output_size: not attempted yet — hint: a kernel of size k fits in a row of n pixels at ...
False
"""
from __future__ import annotations

import itertools
import math
from typing import Any, Callable, Sequence

__all__ = [
    "ExerciseError",
    "check_conv_output_size",
    "check_accuracy",
    "check_batchnorm",
    "check_param_count",
    "check_receptive_field",
    "check_cohen_kappa",
    "check_threshold_for_precision",
    "check_label_saving_factor",
    "check_spec_fix",
    "check_iou",
    "check_yolo_to_xyxy",
    "check_pr_reading",
    "check_zero_shot",
    "check_mask_iou",
    "check_prompt_set",
]


class ExerciseError(AssertionError):
    """A wrong answer. The message names the failing case, the expected value, yours, and a hint."""


class _NotAttempted(Exception):
    """Raised internally when the learner's answer is still blank."""


# -------------------------------------------------------------------------------------- plumbing


def _blank(value: Any) -> bool:
    return value is None or value is Ellipsis


def _correct(message: str) -> bool:
    print(f"✓ correct: {message}")
    return True


def _not_attempted(name: str, hint: str) -> bool:
    print(f"… {name}: not attempted yet — hint: {hint}")
    return False


def _wrong(name: str, case: str, expected: Any, got: Any, hint: str) -> ExerciseError:
    return ExerciseError(
        f"{name}: wrong answer for {case}\n"
        f"  expected: {expected}\n"
        f"  yours:    {got}\n"
        f"  hint: {hint}"
    )


def _call(fn: Callable, args: tuple, kwargs: dict, *, name: str, case: str, first: bool, hint: str,
          error_hint: Callable[[Exception], str | None] | None = None):
    """Call the learner's function; blank on the first case means not attempted.

    ``error_hint(exception)`` may turn a typical crash into a specific hint."""
    try:
        out = fn(*args, **kwargs)
    except NotImplementedError:
        if first:
            raise _NotAttempted from None
        raise ExerciseError(
            f"{name}: raised NotImplementedError for {case}\n  this case must be handled too.\n  hint: {hint}"
        ) from None
    except Exception as e:  # the learner's bug: say where, keep the traceback (chained)
        specific = error_hint(e) if error_hint else None
        raise ExerciseError(
            f"{name}: your function raised {type(e).__name__}: {e}\n  on {case}\n  hint: {specific or hint}"
        ) from e
    if _blank(out):
        if first:
            raise _NotAttempted
        raise ExerciseError(
            f"{name}: returned {out!r} for {case}\n"
            "  hint: every path through your function must end with `return <value>`"
        )
    return out


def _number(out: Any, name: str, case: str) -> float:
    """A plain Python number from an int, float, numpy scalar or one-element tensor."""
    if hasattr(out, "item") and getattr(out, "numel", lambda: getattr(out, "size", 1))() == 1:
        out = out.item()
    if isinstance(out, bool) or not isinstance(out, (int, float)):
        try:
            out = float(out)
        except (TypeError, ValueError, RuntimeError):
            raise ExerciseError(
                f"{name}: for {case} your function returned {out!r} ({type(out).__name__}); "
                "it should return a single number"
            ) from None
    return out


def _attempt(name: str, hint: str, body: Callable[[], bool]) -> bool:
    try:
        return body()
    except _NotAttempted:
        return _not_attempted(name, hint)


def _others(fn: Callable, cases: Sequence[tuple]) -> list[tuple[tuple, Any]]:
    """The learner's answers on the remaining cases, for diagnosis only (crashes are skipped)."""
    out = []
    for args in cases:
        try:
            value = fn(*args)
            out.append((args, float(value)))
        except Exception:  # noqa: BLE001 - a diagnosis must never hide the real failure
            continue
    return out


def _diagnose(seen: list[tuple[tuple, Any]], variants: list[tuple[Callable, Callable]], failing: tuple) -> str | None:
    """The hint of the wrong variant that explains every answer seen, else the failing one, else None.

    ``seen``: (args, learner's value) pairs; ``variants``: (value_fn(*args), hint_fn(*args)) pairs."""
    for value_fn, hint_fn in variants:
        if all(value_fn(*args) == got for args, got in seen):
            return hint_fn(*failing)
    failing_got = next(got for args, got in seen if args == failing)
    for value_fn, hint_fn in variants:
        if value_fn(*failing) == failing_got:
            return hint_fn(*failing)
    return None


# -------------------------------------------------------------------------- conv output size


_CONV_CASES = [  # (size, kernel, stride, padding, dilation): plain first, then padding, stride, dilation
    (32, 3, 1, 0, 1), (28, 5, 1, 0, 1), (7, 7, 1, 0, 1), (56, 1, 1, 0, 1),
    (32, 3, 1, 1, 1), (32, 5, 1, 2, 1), (16, 3, 1, 3, 1),
    (32, 3, 2, 1, 1), (32, 3, 2, 0, 1), (31, 3, 2, 1, 1), (33, 4, 2, 1, 1), (224, 7, 2, 3, 1),
    (56, 1, 2, 0, 1), (10, 3, 3, 0, 1), (17, 5, 3, 2, 1), (9, 2, 2, 0, 1),
    (32, 3, 1, 2, 2), (32, 3, 1, 0, 2), (64, 3, 1, 4, 4), (32, 3, 2, 2, 2), (15, 4, 3, 1, 2),
]

_CONV_HINT = (
    "a kernel of size k fits in a row of n pixels at n - k + 1 positions; "
    "start from there, then add padding, stride and dilation."
)


def _conv_reference(size: int, kernel: int, stride: int, padding: int, dilation: int) -> int:
    """What a real nn.Conv2d does to a size×size input."""
    import torch

    conv = torch.nn.Conv2d(1, 1, kernel, stride=stride, padding=padding, dilation=dilation, bias=False)
    with torch.no_grad():
        return int(conv(torch.zeros(1, 1, size, size)).shape[-1])


def _span(k: int, d: int) -> int:
    return d * (k - 1) + 1  # the dilated kernel's extent


_CONV_VARIANTS = [  # (the wrong formula, its hint), to recognise a common mistake
    (lambda n, k, s, p, d: (n + 2 * p - _span(k, d)) // s,
     lambda n, k, s, p, d: "you are one short: count the first window position too (the `+ 1`)."),
    (lambda n, k, s, p, d: (n + 2 * p - k) // s + 1,
     lambda n, k, s, p, d: (f"dilation {d} spreads the kernel: it covers dilation·(kernel−1)+1 = {_span(k, d)} "
                            f"pixels, not {k}.")),
    (lambda n, k, s, p, d: (n + p - _span(k, d)) // s + 1,
     lambda n, k, s, p, d: "padding is added on both sides: the padded size is size + 2·padding."),
    (lambda n, k, s, p, d: math.ceil((n + 2 * p - _span(k, d)) / s) + 1,
     lambda n, k, s, p, d: "round down, not up: a window that does not fully fit is dropped (use `//`)."),
    (lambda n, k, s, p, d: (n - _span(k, d)) // s + 1,
     lambda n, k, s, p, d: "don't forget the padding: the padded input has size + 2·padding pixels."),
    (lambda n, k, s, p, d: n + 2 * p - _span(k, d) + 1,
     lambda n, k, s, p, d: f"stride {s} moves the window {s} pixels at a time: divide the free room by the stride."),
]


def _conv_mistake(seen: list[tuple[tuple, Any]], failing: tuple, got: float) -> str:
    if got != int(got):
        return "your result is not a whole number: use floor division `//` (a window that does not fit is dropped)."
    return _diagnose(seen, _CONV_VARIANTS, failing) or (
        "the window (of extent dilation·(kernel−1)+1) must fit inside the padded input (size + 2·padding); "
        "count how many stride-steps fit, plus the first position."
    )


def check_conv_output_size(fn: Callable[..., int]) -> bool:
    """Check ``fn(size, kernel, stride=1, padding=0, dilation=1) -> int``, the output size of a conv.

    Compared with a real ``nn.Conv2d`` on 21 cases: plain, padded, strided (2 and 3) and dilated.
    ``fn`` is called positionally: ``fn(size, kernel, stride, padding, dilation)``.
    """
    name = "conv_output_size"

    def body() -> bool:
        if _blank(fn):
            raise _NotAttempted
        seen = []
        for i, args in enumerate(_CONV_CASES):
            case = "conv_output_size(size={}, kernel={}, stride={}, padding={}, dilation={})".format(*args)
            got = _number(_call(fn, args, {}, name=name, case=case, first=i == 0, hint=_CONV_HINT), name, case)
            seen.append((args, got))
            expected = _conv_reference(*args)
            if got != expected:
                seen += _others(fn, _CONV_CASES[i + 1:])
                raise _wrong(name, case, f"{expected}   (what nn.Conv2d gives)", got, _conv_mistake(seen, args, got))
        return _correct(f"{name} matches nn.Conv2d on all {len(_CONV_CASES)} cases (padding, stride, dilation).")

    return _attempt(name, _CONV_HINT, body)


# ---------------------------------------------------------------------------------- accuracy


_ACC_HINT = (
    "the predicted class is the argmax of the logits over the class dimension (dim=1); "
    "compare it with the targets and take the mean of the matches."
)


def _accuracy_cases():
    import torch

    g = torch.Generator().manual_seed(0)
    cases = [
        ("a random batch of 64 images, 10 classes",
         torch.randn(64, 10, generator=g), torch.randint(0, 10, (64,), generator=g)),
        ("a batch of 5 images, 3 classes", torch.randn(5, 3, generator=g), torch.randint(0, 3, (5,), generator=g)),
        ("a batch of 1 image, predicted right", torch.tensor([[0.1, 2.0, -1.0]]), torch.tensor([1])),
        ("a batch of 1 image, predicted wrong", torch.tensor([[0.1, 2.0, -1.0]]), torch.tensor([2])),
        (
            "ties: two classes share the top score (the first one is the prediction, as torch.argmax)",
            torch.tensor([[1.0, 1.0, 0.0], [0.0, 2.0, 2.0], [3.0, 0.0, 3.0], [0.0, 0.0, 1.0]]),
            torch.tensor([1, 2, 0, 2]),
        ),
        ("a batch of 32 all predicted right", torch.eye(8).repeat(4, 1) * 5, torch.arange(8).repeat(4)),
    ]
    return cases


def _accuracy_mistake(got: float, expected: float, logits, targets) -> str:
    n = len(targets)
    any_top = (logits == logits.max(dim=1, keepdim=True).values).gather(1, targets[:, None]).float().mean().item()
    if abs(got - 100 * expected) < 1e-3 and expected > 0:
        return "return a fraction between 0 and 1, not a percentage."
    if abs(got - expected * n) < 1e-3 and n > 1:
        return f"you returned the number of correct predictions; divide by the batch size ({n})."
    if abs(got - (1 - expected)) < 1e-6:
        return "that is the error rate: count the predictions that *match* the targets."
    if abs(got - any_top) < 1e-6:
        return ("with a tie, the prediction is one class only: the first of the tied ones "
                "(what logits.argmax(dim=1) returns).")
    return _ACC_HINT


def check_accuracy(fn: Callable) -> bool:
    """Check ``fn(logits: (N, C) tensor, targets: (N,) tensor) -> float``, top-1 accuracy in [0, 1].

    Compared with torchmetrics' ``multiclass_accuracy`` on random batches, a batch of 1, and ties.
    A one-element tensor is accepted as the answer.
    """
    from torchmetrics.functional.classification import multiclass_accuracy

    name = "accuracy"

    def body() -> bool:
        if _blank(fn):
            raise _NotAttempted
        cases = _accuracy_cases()
        for i, (what, logits, targets) in enumerate(cases):
            case = f"{what} (logits shape {tuple(logits.shape)})"
            out = _call(fn, (logits.clone(), targets.clone()), {}, name=name, case=case, first=i == 0, hint=_ACC_HINT)
            got = _number(out, name, case)
            expected = float(multiclass_accuracy(logits, targets, num_classes=logits.shape[1], average="micro"))
            if not math.isclose(got, expected, abs_tol=1e-5):
                raise _wrong(name, case, f"{expected:.6g}   (torchmetrics)", f"{got:.6g}",
                             _accuracy_mistake(got, expected, logits, targets))
        return _correct(f"{name} matches torchmetrics on all {len(cases)} cases, ties and a batch of 1 included.")

    return _attempt(name, _ACC_HINT, body)


# --------------------------------------------------------------------------------- batch norm


_BN_HINT = (
    "in training mode, BatchNorm2d normalises each channel with the mean and variance over the batch "
    "and both spatial axes (dims 0, 2, 3), then scales by gamma and shifts by beta (shaped (1, C, 1, 1))."
)


def _bn_cases():
    import torch

    g = torch.Generator().manual_seed(1)

    def make(n, c, h, w, eps):
        offsets = torch.linspace(-2.0, 3.0, c).view(1, c, 1, 1)
        x = torch.randn(n, c, h, w, generator=g) * (1.0 + torch.rand(1, c, 1, 1, generator=g) * 2) + offsets
        gamma = torch.rand(c, generator=g) + 0.5
        beta = torch.randn(c, generator=g)
        return x, gamma, beta, eps

    return [make(8, 3, 4, 5, None), make(2, 4, 3, 3, 0.1), make(1, 2, 6, 6, 1e-5), make(16, 5, 2, 7, 1e-3)]


def _bn_variants(x, gamma, beta, eps):
    """The usual wrong versions, to recognise a mistake and give a specific hint."""
    g, b = gamma.view(1, -1, 1, 1), beta.view(1, -1, 1, 1)

    def norm(dims, unbiased=False, eps_outside=False, no_eps=False, by_var=False):
        m = x.mean(dim=dims, keepdim=True)
        v = x.var(dim=dims, keepdim=True, unbiased=unbiased)
        if by_var:
            return (x - m) / (v + eps)
        if no_eps:
            return (x - m) / v.sqrt()
        if eps_outside:
            return (x - m) / (v.sqrt() + eps)
        return (x - m) / (v + eps).sqrt()

    spatial = (0, 2, 3)
    return [
        (norm(spatial, unbiased=True) * g + b,
         "use the biased variance (divide by N·H·W, not N·H·W − 1): x.var(..., unbiased=False), "
         "as BatchNorm does in training."),
        (norm((2, 3)) * g + b,
         "you normalised each image separately over (H, W) (that is InstanceNorm): "
         "BatchNorm also averages over the batch, dims (0, 2, 3)."),
        (norm((1, 2, 3)) * g + b,
         "you normalised each image over (C, H, W) (that is LayerNorm): "
         "BatchNorm works per channel over dims (0, 2, 3)."),
        (norm((0,)) * g + b,
         "you averaged over the batch only: BatchNorm2d uses one mean per channel, "
         "over dims (0, 2, 3) (batch and both spatial axes)."),
        (norm((0, 1, 2, 3)) * g + b,
         "you mixed all channels together: keep one mean and one variance per channel, over dims (0, 2, 3)."),
        (norm(spatial, eps_outside=True) * g + b, "eps goes inside the square root: (x - mean) / sqrt(var + eps)."),
        (norm(spatial, no_eps=True) * g + b, "don't forget eps: (x - mean) / sqrt(var + eps)."),
        (norm(spatial, by_var=True) * g + b, "divide by the standard deviation sqrt(var + eps), not by the variance."),
        (norm(spatial), "the normalised x is then scaled by gamma and shifted by beta: y = gamma · x̂ + beta."),
        (norm(spatial) * b + g, "gamma scales and beta shifts: y = gamma · x̂ + beta (you swapped them)."),
    ]


def _bn_error_hint(e: Exception) -> str | None:
    if "must match the size" in str(e):
        return "gamma and beta have shape (C,): view them as (1, C, 1, 1) so they broadcast over (N, C, H, W)."
    if "unexpected keyword argument 'eps'" in str(e):
        return "your function needs an `eps=1e-5` parameter: def batchnorm(x, gamma, beta, eps=1e-5)."
    return None


def _preview(t) -> str:
    return f"tensor of shape {tuple(t.shape)}, y[0, 0, 0, :4] = {[round(v, 4) for v in t[0, 0, 0, :4].tolist()]}"


def check_batchnorm(fn: Callable) -> bool:
    """Check ``fn(x: (N, C, H, W), gamma: (C,), beta: (C,), eps=1e-5) -> (N, C, H, W)``, BatchNorm2d in training mode.

    Compared with ``F.batch_norm(x, None, None, gamma, beta, training=True, eps=eps)``; the first case
    uses ``eps``'s default, the others pass ``eps=`` by keyword. Common mistakes (wrong axes, unbiased
    variance, eps outside the root, forgotten gamma/beta) get a specific hint.
    """
    import torch
    import torch.nn.functional as F

    name = "batchnorm"

    def body() -> bool:
        if _blank(fn):
            raise _NotAttempted
        cases = _bn_cases()
        for i, (x, gamma, beta, eps) in enumerate(cases):
            eps_used = 1e-5 if eps is None else eps
            case = f"x of shape {tuple(x.shape)}, eps={'default (1e-5)' if eps is None else eps}"
            kwargs = {} if eps is None else {"eps": eps}
            out = _call(fn, (x.clone(), gamma.clone(), beta.clone()), kwargs, name=name, case=case, first=i == 0,
                        hint=_BN_HINT, error_hint=_bn_error_hint)
            expected = F.batch_norm(x, None, None, gamma, beta, training=True, eps=eps_used)
            try:
                got = torch.as_tensor(out).detach().to(torch.float32).cpu()
            except (TypeError, ValueError, RuntimeError):
                raise ExerciseError(
                    f"{name}: for {case} your function returned {type(out).__name__}; return a tensor"
                ) from None
            if got.shape != expected.shape:
                raise _wrong(name, case, f"shape {tuple(expected.shape)}", f"shape {tuple(got.shape)}",
                             "the output has the input's shape; reduce with keepdim=True "
                             "and view gamma/beta as (1, C, 1, 1).")
            if not torch.allclose(got, expected, rtol=1e-4, atol=1e-4):
                hint = _BN_HINT
                for wrong, specific in _bn_variants(x, gamma, beta, eps_used):
                    if torch.allclose(got, wrong, rtol=1e-4, atol=1e-4):
                        hint = specific
                        break
                diff = (got - expected).abs().max().item()
                raise _wrong(name, case, _preview(expected), f"{_preview(got)}  (max difference {diff:.3g})", hint)
        return _correct(f"{name} matches F.batch_norm(training=True) on all {len(cases)} cases.")

    return _attempt(name, _BN_HINT, body)


# ----------------------------------------------------------------------------- parameter count


_PARAM_HINT = (
    "a Conv2d has one kernel_h × kernel_w filter per (input channel, output channel) pair, plus one bias "
    "per output channel if bias=True; a BatchNorm has a gamma and a beta per channel."
)


def _leaves(layer) -> list:
    import torch

    if isinstance(layer, (list, tuple)):
        layer = torch.nn.Sequential(*layer)
    if not isinstance(layer, torch.nn.Module):
        raise TypeError(f"layer must be a torch.nn.Module (or a list of them), got {type(layer).__name__}")
    leaves = [m for m in layer.modules() if not list(m.children())]
    return leaves or [layer]


def _explain(module) -> tuple[str, int]:
    """A line of the breakdown: the formula with this layer's numbers, and its parameter count."""
    import torch.nn as nn

    n = sum(p.numel() for p in module.parameters(recurse=False))
    kind = type(module).__name__
    if isinstance(module, nn.modules.conv._ConvNd):
        k = " × ".join(str(v) for v in module.kernel_size)
        cin = module.in_channels // module.groups
        line = f"{kind}: out_channels × in_channels/groups × kernel = {module.out_channels} × {cin} × {k}"
        line += f" + {module.out_channels} bias" if module.bias is not None else " (bias=False: no bias)"
    elif isinstance(module, nn.modules.batchnorm._NormBase):
        if module.affine:
            line = f"{kind}: gamma and beta per channel = 2 × {module.num_features}"
        else:
            line = f"{kind}: affine=False, none"
        line += " (running_mean/running_var are buffers, not parameters)"
    elif isinstance(module, nn.Linear):
        line = f"Linear: out × in = {module.out_features} × {module.in_features}"
        line += f" + {module.out_features} bias" if module.bias is not None else " (no bias)"
    else:
        line = kind
    return f"{line} = {n:,}", n


def _param_mistake(answer: int, expected: int, leaves) -> str:
    import torch.nn as nn

    lines = [
        _explain(m)[0]
        for m in leaves
        if any(True for _ in m.parameters(recurse=False)) or isinstance(m, nn.modules.conv._ConvNd)
    ]
    breakdown = "\n    ".join(lines)
    specific = None
    for m in leaves:
        if isinstance(m, nn.modules.conv._ConvNd):
            if m.bias is None and answer == expected + m.out_channels:
                specific = f"this conv has bias=False, so it has no bias to count ({m.out_channels} too many)."
            elif m.bias is not None and answer == expected - m.out_channels:
                specific = f"you forgot the conv's bias: one per output channel ({m.out_channels})."
            elif answer == expected - m.weight.numel() + m.out_channels * m.kernel_size[0] * m.kernel_size[1]:
                specific = "each output channel has one filter per *input* channel: multiply by in_channels too."
        if isinstance(m, nn.modules.batchnorm._NormBase) and m.affine:
            c = m.num_features
            if answer in (expected + 2 * c, expected + 2 * c + 1):
                specific = ("running_mean and running_var are buffers (statistics), not learnable parameters: "
                            "don't count them.")
            elif answer == expected - 2 * c:
                specific = f"you forgot the BatchNorm: it learns a gamma and a beta per channel (2 × {c})."
            elif answer == expected - c:
                specific = f"BatchNorm has two learnable vectors per channel, gamma and beta (2 × {c}, not {c})."
    head = specific or _PARAM_HINT
    return f"{head}\n  breakdown:\n    {breakdown}"


def check_param_count(answer: int, layer) -> bool:
    """Check a hand count of ``layer``'s learnable parameters (``layer``: a module or a list of modules).

    >>> import torch.nn as nn
    >>> check_param_count(73_728 + 256, [nn.Conv2d(64, 128, 3, bias=False), nn.BatchNorm2d(128)])
    ✓ correct: 73,984 parameters in Conv2d(64, 128, 3×3, bias=False) + BatchNorm2d(128).
    True
    """
    leaves = _leaves(layer)
    case = " + ".join(_short(m) for m in leaves)
    name = "param_count"
    if _blank(answer):
        return _not_attempted(name, _PARAM_HINT)
    expected = sum(p.numel() for m in leaves for p in m.parameters(recurse=False))
    if hasattr(answer, "__index__") and not isinstance(answer, bool):
        answer = int(answer)
    elif isinstance(answer, float) and answer.is_integer():
        answer = int(answer)
    else:
        raise ExerciseError(f"{name}: the answer should be a whole number (an int), got {answer!r} for {case}")
    if answer != expected:
        raise _wrong(name, case, f"{expected:,}", f"{answer:,}", _param_mistake(answer, expected, leaves))
    return _correct(f"{expected:,} parameters in {case}.")


def _short(module) -> str:
    import torch.nn as nn

    if isinstance(module, nn.modules.conv._ConvNd):
        k = "×".join(str(v) for v in module.kernel_size)
        extra = "" if module.bias is not None else ", bias=False"
        extra += f", groups={module.groups}" if module.groups != 1 else ""
        return f"{type(module).__name__}({module.in_channels}, {module.out_channels}, {k}{extra})"
    if isinstance(module, nn.modules.batchnorm._NormBase):
        return f"{type(module).__name__}({module.num_features})"
    return repr(module)


# ----------------------------------------------------------------------------- receptive field


_RF_CASES: list[list[tuple[int, int]]] = [
    [(3, 1)],
    [(3, 1), (3, 1)],
    [(3, 1), (3, 1), (3, 1)],
    [(5, 1), (3, 1)],
    [(1, 1)],
    [(3, 1), (2, 2), (3, 1)],
    [(3, 2), (3, 2)],
    [(2, 2), (2, 2), (2, 2)],
    [(7, 2), (3, 2), (3, 1), (3, 1)],
    [(3, 1), (3, 1), (2, 2), (3, 1), (3, 1), (2, 2), (3, 1), (3, 1)],
]

_RF_HINT = (
    "each layer adds (kernel − 1) × (the product of the strides of the layers *before* it); "
    "start from 1 pixel."
)


def _layer_specs(layers) -> list[tuple[int, int, int]]:
    """(kernel, stride, dilation) per layer, from tuples or from a module's conv/pool layers."""
    import torch.nn as nn

    if isinstance(layers, nn.Module):
        specs = []
        for m in layers.modules():
            if isinstance(m, (nn.modules.conv._ConvNd, nn.modules.pooling._MaxPoolNd, nn.modules.pooling._AvgPoolNd)):
                first = lambda v: v[0] if isinstance(v, tuple) else v  # noqa: E731
                stride = m.stride if m.stride is not None else m.kernel_size
                specs.append((first(m.kernel_size), first(stride), first(getattr(m, "dilation", 1))))
        if not specs:
            raise ValueError("the module has no conv or pooling layer to compute a receptive field from")
        return specs
    specs = []
    for spec in layers:
        spec = tuple(int(v) for v in spec)
        if len(spec) not in (2, 3):
            raise ValueError(f"a layer is (kernel, stride) or (kernel, stride, dilation); got {spec}")
        specs.append(spec if len(spec) == 3 else (*spec, 1))
    return specs


def _measure_rf(specs: Sequence[tuple[int, int, int]]) -> int:
    """The receptive field of one output pixel, measured with autograd on a chain of all-ones 1-D convs."""
    import torch

    length = 16
    while True:  # grow the input until every layer fits
        x = torch.zeros(1, 1, length, dtype=torch.float64, requires_grad=True)
        y, fits = x, True
        for k, s, d in specs:
            if d * (k - 1) + 1 > y.shape[-1]:
                fits = False
                break
            y = torch.nn.functional.conv1d(y, torch.ones(1, 1, k, dtype=torch.float64), stride=s, dilation=d)
        if fits:
            y[0, 0, 0].backward()
            hit = torch.nonzero(x.grad[0, 0]).flatten()
            return int(hit.max() - hit.min() + 1)
        length *= 2


def _rf_variants():
    def jump_after(specs):  # each layer's own stride counted too early
        r, jump = 1, 1
        for k, s, _ in specs:
            jump *= s
            r += (k - 1) * jump
        return r

    return [
        (lambda specs: 1 + sum(k - 1 for k, _, _ in specs),
         lambda specs: "the strides matter: after a stride-2 layer, each step of the next kernel covers 2 pixels."),
        (lambda specs: sum(k for k, _, _ in specs),
         lambda specs: "kernels overlap: stacking two 3×3 convs sees 5 pixels, not 6. Each layer adds kernel − 1."),
        (jump_after,
         lambda specs: "use the product of the strides of the layers *before* each layer, not its own stride."),
        (lambda specs: math.prod(k for k, _, _ in specs),
         lambda specs: "receptive fields grow additively, not by multiplying: each layer adds (kernel − 1) × jump."),
    ]


def _rf_mistake(seen: list[tuple[tuple, Any]], failing: tuple) -> str:
    """``seen``: ((specs,), learner's value) pairs; ``failing``: (specs,)."""
    return _diagnose(seen, _rf_variants(), failing) or _RF_HINT


def check_receptive_field(fn_or_int, layers=None) -> bool:
    """Check a receptive field, in input pixels, of one output pixel of a stack of conv/pool layers.

    Two forms:

    - ``check_receptive_field(fn)``: ``fn(layers) -> int`` where ``layers`` is a list of
      ``(kernel, stride)`` pairs, input side first; checked on 10 stacks.
    - ``check_receptive_field(answer, layers)``: an int for the given ``layers`` (a list of
      ``(kernel, stride)`` or ``(kernel, stride, dilation)`` tuples, or an ``nn.Module`` whose conv
      and pooling layers are used in order; adaptive pools are ignored).

    The expected value is measured with autograd: the input pixels that influence one output pixel.

    >>> check_receptive_field(5, layers=[(3, 1), (3, 1)])
    ✓ correct: receptive field 5 for layers [(3, 1), (3, 1)].
    True
    """
    name = "receptive_field"
    if callable(fn_or_int):
        fn = fn_or_int

        def body() -> bool:
            seen = []
            for i, stack in enumerate(_RF_CASES):
                case = f"receptive_field({stack})"
                out = _call(fn, (list(stack),), {}, name=name, case=case, first=i == 0, hint=_RF_HINT)
                got = _number(out, name, case)
                specs = tuple(_layer_specs(stack))
                seen.append(((specs,), got))
                expected = _measure_rf(specs)
                if got != expected:
                    for (rest,), value in _others(fn, [(list(st),) for st in _RF_CASES[i + 1:]]):
                        seen.append(((tuple(_layer_specs(rest)),), value))
                    raise _wrong(name, case, expected, got, _rf_mistake(seen, (specs,)))
            return _correct(f"{name} is right on all {len(_RF_CASES)} stacks, strided ones included.")

        return _attempt(name, _RF_HINT, body)
    if _blank(fn_or_int):
        return _not_attempted(name, _RF_HINT)
    if layers is None:
        raise TypeError("check_receptive_field(answer, layers): give the layers the answer is about")
    specs = tuple(_layer_specs(layers))
    shown = [s[:2] if s[2] == 1 else s for s in specs]
    got = _number(fn_or_int, name, f"layers {shown}")
    expected = _measure_rf(specs)
    if got != expected:
        raise _wrong(name, f"layers {shown}", expected, got, _rf_mistake([((specs,), got)], (specs,)))
    return _correct(f"receptive field {expected} for layers {shown}.")


# ------------------------------------------------------------------------------ Cohen's kappa


_KAPPA_CASES = [  # (what, rater a, rater b); one single label shared by both raters is left out (kappa = nan)
    ("10 parts, 2 classes",
     "ok ok scratch ok scratch scratch ok ok scratch ok".split(),
     "ok scratch scratch ok scratch ok ok ok scratch ok".split()),
    ("perfect agreement, 4 classes",
     "ok crack scratch ok missing_hole".split(), "ok crack scratch ok missing_hole".split()),
    ("chance-level agreement", "ok ok scratch scratch".split(), "ok scratch ok scratch".split()),
    ("skewed classes: 18 ok, 2 scratch", ["ok"] * 18 + ["scratch"] * 2, ["ok"] * 17 + ["scratch", "ok", "scratch"]),
    ("20 parts, 4 classes",
     "ok scratch crack missing_hole ok ok scratch crack missing_hole ok "
     "scratch crack ok missing_hole scratch ok crack ok missing_hole scratch".split(),
     "ok scratch scratch missing_hole ok ok ok crack ok ok "
     "scratch crack ok missing_hole crack ok crack scratch missing_hole scratch".split()),
    ("different label sets: only A says crack, only B says missing_hole",
     "ok scratch crack ok scratch crack ok ok".split(),
     "ok scratch missing_hole ok ok missing_hole ok scratch".split()),
    ("systematic disagreement", "ok scratch ok scratch".split(), "scratch ok scratch ok".split()),
]

_KAPPA_HINT = (
    "kappa = (p_o − p_e) / (1 − p_e): p_o is the fraction of items both raters label the same, p_e the "
    "agreement expected by chance, Σ over classes of p_a(class) · p_b(class) (each rater's own label frequencies)."
)


def _kappa_mistake(got: float, expected: float, a: list, b: list) -> str:
    from collections import Counter

    from sklearn.metrics import accuracy_score

    n, ca, cb = len(a), Counter(a), Counter(b)
    p_o = float(accuracy_score(a, b))
    p_e = sum(ca[c] * cb[c] for c in ca) / n ** 2

    def kappa(chance):
        return (p_o - chance) / (1 - chance)

    variants = [
        (p_o, f"that is the raw agreement p_o = {p_o:.3g} (the fraction of items with the same label), not kappa: "
              "kappa corrects it for chance, (p_o − p_e) / (1 − p_e), with p_e the agreement expected by chance."),
        (p_e, "that is the chance agreement p_e; kappa is (p_o − p_e) / (1 − p_e)."),
        (p_o - p_e, "divide by (1 − p_e): kappa = (p_o − p_e) / (1 − p_e), so that perfect agreement gives 1."),
        (kappa(1 / len(ca | cb)), "chance agreement is not 1 / number of classes: use each rater's own label "
                                  "frequencies, p_e = Σ p_a(class) · p_b(class)."),
        (kappa(sum(v * v for v in ca.values()) / n ** 2),
         "chance agreement uses both raters' label frequencies, p_a(class) · p_b(class), not one rater's squared."),
        (100 * expected, "return kappa as a fraction (1 = perfect agreement), not a percentage."),
    ]
    for value, hint in variants:
        if math.isclose(got, value, abs_tol=1e-6):
            return hint
    return _KAPPA_HINT


def _kappa_error_hint(e: Exception) -> str | None:
    if isinstance(e, (KeyError, IndexError, ValueError)):
        return ("the two raters may use different labels: take the classes from both sequences "
                "(the union), not from one of them.")
    return None


def check_cohen_kappa(fn: Callable) -> bool:
    """Check ``fn(a, b) -> float``, Cohen's kappa of two raters' labels (equal-length lists of str).

    Compared with ``sklearn.metrics.cohen_kappa_score`` on 7 cases: 2 classes, perfect agreement (1),
    chance level (0), skewed classes, 4 classes, raters using different label sets, and systematic
    disagreement (−1). Not tested: both raters giving every item the same single label, where chance
    agreement is 1 and kappa is 0/0 (scikit-learn returns nan).

    >>> def cohen_kappa(a, b):
    ...     ...  # your code here
    >>> check_cohen_kappa(cohen_kappa)  # doctest: +ELLIPSIS
    … cohen_kappa: not attempted yet — hint: kappa = (p_o − p_e) / (1 − p_e): ...
    False
    """
    from sklearn.metrics import cohen_kappa_score

    name = "cohen_kappa"

    def body() -> bool:
        if _blank(fn):
            raise _NotAttempted
        for i, (what, a, b) in enumerate(_KAPPA_CASES):
            case = f"{what}: a={a}, b={b}"
            out = _call(fn, (list(a), list(b)), {}, name=name, case=case, first=i == 0, hint=_KAPPA_HINT,
                        error_hint=_kappa_error_hint if set(a) != set(b) else None)
            got = _number(out, name, case)
            expected = float(cohen_kappa_score(a, b))
            if not math.isclose(got, expected, abs_tol=1e-6):
                raise _wrong(name, case, f"{expected:.6g}   (sklearn's cohen_kappa_score)", f"{got:.6g}",
                             _kappa_mistake(got, expected, a, b))
        return _correct(f"{name} matches sklearn on all {len(_KAPPA_CASES)} cases (chance level, skewed "
                        "classes, different label sets).")

    return _attempt(name, _KAPPA_HINT, body)


# ------------------------------------------------------------------- threshold for a precision


_THR_CASES = [  # (what, y_true, scores, min_precision)
    ("12 images", [1, 1, 1, 0, 1, 1, 0, 0, 1, 0, 0, 0],
     [.95, .9, .85, .8, .7, .6, .55, .5, .4, .3, .2, .1], 0.8),
    ("an under-confident model (every score below 0.5)", [1, 1, 1, 1, 0, 1, 0, 0, 0, 0],
     [.45, .42, .4, .38, .35, .3, .25, .2, .15, .1], 0.8),
    ("tied scores (three images at 0.7)", [1, 1, 0, 1, 1, 0, 0, 0], [.9, .8, .7, .7, .7, .4, .3, .2], 0.75),
    ("tied scores (two positives and a negative at 0.6)", [1, 1, 1, 0, 0, 1, 0, 0],
     [.9, .8, .6, .6, .6, .3, .2, .1], 0.75),
    ("three thresholds with the same recall", [1, 1, 0, 1, 0, 0, 0], [.9, .8, .7, .65, .45, .42, .4], 0.5),
    ("a strict target", [1, 0, 1, 1, 0, 1, 1, 0, 0, 1, 0, 0],
     [.97, .93, .9, .88, .85, .8, .75, .6, .5, .45, .3, .2], 0.95),
]

_THR_HINT = (
    "try every distinct score t as the threshold (flag score >= t); keep those whose precision reaches "
    "min_precision, and among them return the one with the highest recall (the highest t on a tie)."
)


def _threshold_mistake(got: float, expected: float, y: list, s: list, p: float) -> str:
    import numpy as np
    from sklearn.metrics import precision_recall_curve, precision_score

    y, s = np.asarray(y), np.asarray(s, dtype=float)
    precision, recall, thresholds = precision_recall_curve(y, s, drop_intermediate=False)
    precision, recall = precision[:-1], recall[:-1]  # the last point flags nothing
    ok = precision >= p - 1e-12
    same = np.isclose(thresholds, got, rtol=0, atol=1e-9)
    at_got = float(precision_score(y, s >= got, zero_division=0))
    lower = thresholds[thresholds < expected]
    if math.isclose(got, 0.5):
        return ("0.5 is the default cutoff, not the answer: try every distinct score as a threshold and pick "
                "the one the precision target calls for.")
    if np.isclose(s, got, rtol=0, atol=1e-9).sum() > 1 and at_got < p:
        return (f"tied scores are flagged together: with score >= {got:g}, every image scoring {got:g} is "
                f"flagged, and precision is {at_got:.3g}, below {p}.")
    if lower.size and math.isclose(got, lower.max()):
        return ("flag with `score >= t`, not `score > t`: with `>` the images scoring exactly t are left out, "
                "so your threshold ends up one score too low.")
    if not ok.any():
        return _THR_HINT
    if (same & ok & (precision == precision[ok].max())).any():
        return (f"among the thresholds that reach precision {p}, take the one with the highest *recall* "
                "(catch as many positives as possible), not the highest precision.")
    if (same & ok & (recall == recall[ok].max())).any():
        return "several thresholds give the same recall: take the highest (same catches, fewer images flagged)."
    if not same.any():
        return f"the threshold should be one of the scores (the candidates); {got:g} is not. " + _THR_HINT
    if at_got < p:
        return f"at your threshold precision is {at_got:.3g}, below the target {p}. " + _THR_HINT
    return _THR_HINT


def check_threshold_for_precision(fn: Callable) -> bool:
    """Check ``fn(y_true, scores, min_precision) -> float``: among thresholds ``t`` (flag ``score >= t``;
    the candidates are the distinct scores) with precision >= ``min_precision``, the one with the highest
    recall, the highest ``t`` on a tie.

    ``y_true`` (0/1) and ``scores`` are numpy arrays. Compared with
    ``coursekit.calibrate.choose_threshold(y_true, scores, min_precision=...).threshold`` on 6 cases:
    an answer far from 0.5, tied scores, equal recalls, a strict target.

    >>> check_threshold_for_precision(lambda y_true, scores, min_precision: None)  # doctest: +ELLIPSIS
    … threshold_for_precision: not attempted yet — hint: try every distinct score t as the threshold ...
    False
    """
    import numpy as np

    from .calibrate import choose_threshold

    name = "threshold_for_precision"

    def body() -> bool:
        if _blank(fn):
            raise _NotAttempted
        for i, (what, y, s, p) in enumerate(_THR_CASES):
            case = f"{what}: y_true={y}, scores={s}, min_precision={p}"
            args = (np.array(y), np.array(s), p)
            got = _number(_call(fn, args, {}, name=name, case=case, first=i == 0, hint=_THR_HINT), name, case)
            expected = float(choose_threshold(y, s, min_precision=p).threshold)
            if not math.isclose(got, expected, abs_tol=1e-9):
                raise _wrong(name, case, f"{expected:g}   (coursekit.calibrate.choose_threshold)", f"{got:g}",
                             _threshold_mistake(got, expected, y, s, p))
        return _correct(f"{name} matches choose_threshold on all {len(_THR_CASES)} cases (ties and equal "
                        "recalls included).")

    return _attempt(name, _THR_HINT, body)


# ------------------------------------------------------------------------- label-saving factor


_LSF_HINT = (
    "draw a horizontal line at the from-scratch accuracy at the largest k; read the k where the "
    "pre-trained curve meets it; the factor is the largest k divided by that k (the x axis is logarithmic)."
)


def check_label_saving_factor(answer, ks, pretrained_acc, scratch_acc, rel_tol: float = 0.35) -> bool:
    """Check a label-saving factor read off the label-efficiency plot (pre-trained vs from scratch).

    The reference is ``coursekit.models.transfer.label_saving_factor(ks, pretrained_acc, scratch_acc)``:
    the largest k divided by the labels per class the pre-trained curve needs to reach the from-scratch
    accuracy at that k. Reading a plot is imprecise: any answer within ``rel_tol`` (relative) is right.
    When the pre-trained model is past the target at the smallest k (``at_least``), any answer
    >= factor·(1 − rel_tol) is right; when it never reaches it there is no factor: answer ``None`` (or 0).

    >>> check_label_saving_factor(9, [5, 50, 500], [0.8, 0.9, 0.95], [0.3, 0.6, 0.9])  # doctest: +ELLIPSIS
    ✓ correct: label-saving factor 9 (reference 10 = 500 / 50: pre-trained needs 50 labels per class ...).
    True
    """
    from .models.transfer import label_saving_factor

    name = "label_saving_factor"
    ref = label_saving_factor(ks, pretrained_acc, scratch_acc)
    factor, need, kmax, target = ref["factor"], ref["pretrained_labels"], ref["scratch_labels"], ref["target"]
    case = f"ks={list(ks)}, pretrained_acc={list(pretrained_acc)}, scratch_acc={list(scratch_acc)}"
    if answer is Ellipsis or (answer is None and factor is not None):
        return _not_attempted(name, _LSF_HINT)
    if factor is None:
        if answer is None or answer == 0:
            return _correct(f"no label saving to read: the pre-trained curve never reaches the from-scratch "
                            f"accuracy at k={kmax} ({target:.3g}).")
        raise _wrong(name, case, "None (no factor)", answer,
                     f"the pre-trained curve never reaches the from-scratch accuracy at k={kmax} ({target:.3g}): "
                     "there is no saving to read off; answer None.")
    got = _number(answer, name, case)
    expected = f"{factor:g} = {kmax} / {need:.3g}"
    why = f"pre-trained needs {need:.3g} labels per class to match scratch's {target:.3g} at k={kmax}"
    near = lambda value, reference: abs(value - reference) <= rel_tol * abs(reference)  # noqa: E731
    if ref["at_least"]:
        first = f"pre-trained is past scratch's {target:.3g} already at the smallest k, {ks[0]}"
        if got >= factor * (1 - rel_tol):
            return _correct(f"label-saving factor {got:g}: at least {expected} ({first}).")
        raise _wrong(name, case, f"at least {expected}   ({first})", f"{got:g}",
                     f"the pre-trained model reaches the target at the smallest k ({ks[0]}), so the factor is at "
                     f"least {kmax} / {ks[0]} = {factor:g}; the plot cannot show how much more.")
    if near(got, factor):
        return _correct(f"label-saving factor {got:g} (reference {expected}: {why}).")
    if got > 0 and near(1 / got, factor):
        hint = (f"you inverted the ratio: the factor is labels from scratch / labels pre-trained ({kmax} / "
                f"{need:.3g}), above 1 when pre-training saves labels.")
    elif near(got, need):
        hint = (f"that is how many labels per class the pre-trained model needs ({need:.3g}); the factor is "
                f"{kmax} divided by it.")
    else:
        hint = _LSF_HINT
    raise _wrong(name, case, f"{expected}, within ±{rel_tol:.0%}   ({why})", f"{got:g}", hint)


# ---------------------------------------------------------------------------------- spec fix


_SPEC_HINT = (
    "add each off-diagonal cell to its mirror (A=x/B=y and A=y/B=x are the same confusion), sort the pairs "
    "by count, and keep the top ones until they cover 75% of all disagreements."
)


def _confusions(table) -> tuple[list[str], dict, list[tuple[tuple[str, str], int]]]:
    """The classes, the cells {(a's label, b's label): count}, and each unordered pair of classes with its
    disagreement count (both cells added), most frequent first."""
    rows, cols = [str(c) for c in table.index], [str(c) for c in table.columns]
    classes = list(dict.fromkeys(rows + cols))
    cell = {(r, c): int(v) for r, line in zip(rows, table.to_numpy()) for c, v in zip(cols, line)}
    pairs = [((x, y), cell.get((x, y), 0) + cell.get((y, x), 0))
             for i, x in enumerate(classes) for y in classes[i + 1:]]
    return classes, cell, sorted([p for p in pairs if p[1]], key=lambda p: -p[1])  # stable: class order on ties


def _spec_pairs(answer, name: str) -> set[frozenset]:
    """The learner's pairs as a set of frozensets (a bare pair ("ok", "scratch") is taken as one pair)."""
    items = list(answer) if not isinstance(answer, str) and hasattr(answer, "__iter__") else [answer]
    if len(items) == 2 and all(isinstance(x, str) for x in items):
        items = [tuple(items)]
    if any(isinstance(p, str) or not hasattr(p, "__len__") or len(p) != 2 for p in items):
        raise ExerciseError(f"{name}: the answer should be a set of class pairs, e.g. "
                            f"{{('ok', 'scratch'), ('crack', 'scratch')}}; got {answer!r}")
    return {frozenset(str(c) for c in p) for p in items}


def check_spec_fix(answer, table) -> bool:
    """Check the confusions a spec rewrite must address, read off an annotator disagreement table.

    ``table``: counts of annotator A's labels (rows) against B's (columns), as
    ``coursekit.data.annotators.disagreement_table(df)`` returns. ``answer``: a set of unordered class
    pairs. Right: it holds the most frequent confusions that, taken in order, first cover at least 75% of
    the disagreements (with a tie at the cut, any of the tied pairs will do), and at most one pair more.
    An empty set counts as not attempted.

    >>> import pandas as pd
    >>> t = pd.DataFrame([[40, 9, 1], [3, 30, 2], [0, 1, 20]], index=["ok", "scratch", "crack"],
    ...                  columns=["ok", "scratch", "crack"])
    >>> check_spec_fix({("scratch", "ok")}, t)
    ✓ correct: ('ok', 'scratch') covers 12 of the 16 disagreements (75%): settle it in the spec.
    True
    """
    name = "spec_fix"
    classes, cell, counts = _confusions(table)
    total = sum(n for _, n in counts)
    if not total:
        raise ValueError("the table shows no disagreement: there is nothing for a spec rewrite to fix")
    m = next(i + 1 for i, cum in enumerate(itertools.accumulate(n for _, n in counts)) if 4 * cum >= 3 * total)
    cut = counts[m - 1][1]
    count = {frozenset(p): n for p, n in counts}

    def show(pair) -> tuple:
        pair = sorted(pair, key=lambda c: (classes.index(c) if c in classes else len(classes), c))
        return tuple(pair) * (2 if len(pair) == 1 else 1)

    top = counts[:m]
    covered = sum(n for _, n in top)
    expected = (", ".join(f"{p} ({n})" for p, n in top) + f" -> {covered} of {total} disagreements "
                f"({covered / total:.0%}); one more pair is fine")
    case = f"the disagreement table ({total} disagreements among {int(table.to_numpy().sum())} images)"
    if _blank(answer) or (hasattr(answer, "__len__") and not isinstance(answer, str) and len(answer) == 0):
        return _not_attempted(name, _SPEC_HINT)
    pairs = _spec_pairs(answer, name)
    yours = ", ".join(str(show(p)) for p in sorted(pairs, key=lambda p: (-count.get(p, 0), show(p))))
    unknown = sorted({c for p in pairs for c in p} - set(classes))
    if unknown:
        raise _wrong(name, case, expected, yours, f"unknown class name(s) {', '.join(map(repr, unknown))}: the "
                                                  f"classes in the table are {', '.join(classes)}.")
    same = [p for p in pairs if len(p) == 1]
    if same:
        c = next(iter(same[0]))
        raise _wrong(name, case, expected, yours, f"({c!r}, {c!r}) is agreement (the diagonal), not a confusion: "
                                                  "name pairs of two different classes.")
    tied = [p for p, n in counts if n == cut]
    whole_tie = m == sum(n >= cut for _, n in counts)  # every pair tied at the cut is needed
    required = [(p, n) for p, n in counts if n > cut or (whole_tie and n == cut)]
    missing = [(p, n) for p, n in required if frozenset(p) not in pairs]
    if missing:
        (x, y), n = missing[0]
        raise _wrong(name, case, expected, yours,
                     f"your rewrite must also address {x} vs {y}: it causes {n} of the {total} disagreements "
                     f"({n / total:.0%}): A={x}/B={y} ({cell.get((x, y), 0)}) plus A={y}/B={x} "
                     f"({cell.get((y, x), 0)}).")
    if sum(1 for p in pairs if count.get(p, 0) >= cut) < m:
        raise _wrong(name, case, expected, yours,
                     f"the most frequent confusions come first: add {' or '.join(map(str, tied))} ({cut} "
                     f"disagreements each) to reach 75% of the {total}.")
    if len(pairs) > m + 1:
        raise _wrong(name, case, expected, yours,
                     f"too many pairs: the top {m} already cover {covered / total:.0%} of the disagreements; a "
                     f"spec rewrite should settle those first (one more pair is fine, not {len(pairs) - m}).")
    have = sum(count.get(p, 0) for p in pairs)
    return _correct(f"{yours} {'covers' if len(pairs) == 1 else 'cover'} {have} of the {total} disagreements "
                    f"({have / total:.0%}): settle {'it' if len(pairs) == 1 else 'them'} in the spec.")


# ------------------------------------------------------------------------------------ box IoU


_IOU_CASES = [  # (what, box_a, box_b): x1, y1, x2, y2 in continuous pixel coordinates
    ("partial overlap", [0, 0, 10, 10], [5, 5, 15, 15]),
    ("partial overlap, fractional coordinates", [12.5, 30.0, 60.0, 80.5], [20.0, 10.25, 70.0, 60.0]),
    ("one box inside the other", [10, 10, 50, 50], [20, 20, 30, 30]),
    ("identical boxes", [3.0, 4.0, 40.0, 30.0], [3.0, 4.0, 40.0, 30.0]),
    ("disjoint boxes (apart in x and in y)", [0, 0, 10, 10], [20, 20, 30, 30]),
    ("disjoint boxes (side by side: apart in x, level in y)", [0, 0, 10, 10], [20, 0, 30, 10]),
    ("touching edges (a shared side, no shared area)", [0, 0, 10, 10], [10, 0, 20, 10]),
    ("boxes given as tuples", (2.0, 3.0, 8.0, 9.0), (0, 0, 4, 6)),
    ("a wide and a tall box crossing", [0, 40, 100, 60], [40, 0, 60, 100]),
]

_IOU_HINT = (
    "the overlap is a box too: its width is min(x2) − max(x1) and its height min(y2) − max(y1), each "
    "clamped at 0; IoU = overlap area / (area_a + area_b − overlap area), with area = (x2 − x1) · (y2 − y1)."
)


def _iou_reference(a, b) -> float:
    """What torchvision.ops.box_iou gives for the two boxes."""
    import torch
    from torchvision.ops import box_iou

    boxes = [torch.tensor([list(map(float, box))], dtype=torch.float64) for box in (a, b)]
    return float(box_iou(*boxes)[0, 0])


def _iou_variant(plus_one=False, clamp=True, union="union", xywh=False) -> Callable:
    """A wrong IoU, to recognise a common mistake."""

    def iou(a, b):
        a, b = [float(v) for v in a], [float(v) for v in b]
        if xywh:
            a, b = [a[0], a[1], a[0] + a[2], a[1] + a[3]], [b[0], b[1], b[0] + b[2], b[1] + b[3]]
        one = 1.0 if plus_one else 0.0
        iw, ih = min(a[2], b[2]) - max(a[0], b[0]) + one, min(a[3], b[3]) - max(a[1], b[1]) + one
        inter = max(iw, 0.0) * max(ih, 0.0) if clamp else iw * ih
        area_a, area_b = (a[2] - a[0] + one) * (a[3] - a[1] + one), (b[2] - b[0] + one) * (b[3] - b[1] + one)
        denominator = {"union": area_a + area_b - inter, "sum": area_a + area_b, "min": min(area_a, area_b),
                       "a": area_a}[union]
        return inter / denominator if denominator else math.nan

    return iou


_IOU_VARIANTS = [  # (the wrong IoU, its hint)
    (_iou_variant(plus_one=True),
     "no `+ 1`: coordinates here are continuous (the image spans 0..W), so a box is x2 − x1 wide. The `+ 1` "
     "belongs to the old Pascal VOC convention of inclusive integer pixel indices (and makes touching boxes "
     "overlap)."),
    (_iou_variant(clamp=False),
     "clamp the overlap's width and height at 0 (max(0, ...)) before multiplying: for boxes that do not "
     "overlap they are negative, and two negatives make a positive 'overlap'."),
    (_iou_variant(union="sum"),
     "the union counts the overlap once: area_a + area_b − intersection (area_a + area_b counts it twice, "
     "so two identical boxes would score 0.5)."),
    (_iou_variant(union="min"),
     "that is the intersection over the *smaller* box (1 whenever one box holds the other); IoU divides by "
     "the union, area_a + area_b − intersection."),
    (_iou_variant(union="a"),
     "divide by the union of both boxes, area_a + area_b − intersection, not by box_a's area alone."),
    (_iou_variant(xywh=True),
     "the boxes are corners x1, y1, x2, y2, not x, y, width, height: the width is x2 − x1."),
]


def _close(a, b, tol: float = 1e-6) -> bool:
    """Numbers, or sequences of numbers, equal within ``tol`` (absolute); nan matches nothing."""
    import numpy as np

    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return a.shape == b.shape and bool(np.all(np.abs(a - b) <= tol))


def _diagnose_close(seen: list[tuple[tuple, Any]], variants: list[tuple[Callable, str]], failing: tuple,
                    failing_got: Any, tol: float = 1e-6) -> str | None:
    """As :func:`_diagnose` for float answers: the hint of the wrong variant that explains every answer
    seen (within ``tol``), else the one that explains the failing answer, else None."""
    def value(fn, args):
        try:
            return fn(*args)
        except Exception:  # noqa: BLE001 - a variant that cannot compute a case explains nothing
            return math.nan

    for fn, hint in variants:
        if all(_close(value(fn, args), got, tol) for args, got in seen):
            return hint
    for fn, hint in variants:
        if _close(value(fn, failing), failing_got, tol):
            return hint
    return None


def _iou_error_hint(e: Exception) -> str | None:
    if isinstance(e, (TypeError, AttributeError)) and "tuple" in str(e):
        return "a box may be a list or a tuple: unpack it with `x1, y1, x2, y2 = box_a` and compute with those."
    if isinstance(e, ZeroDivisionError):
        return "the union is never 0 for boxes with an area: area_a + area_b − intersection."
    return None


def check_iou(fn: Callable) -> bool:
    """Check ``fn(box_a, box_b) -> float``, the intersection over union of two boxes.

    A box is ``[x1, y1, x2, y2]`` in continuous pixel coordinates (a list, or a tuple, of 4 numbers;
    area ``(x2 - x1) * (y2 - y1)``). Compared with ``torchvision.ops.box_iou`` on 9 cases: partial
    overlap, one box inside the other, identical boxes, disjoint boxes, boxes that touch along an edge
    (IoU 0), tuples. A one-element tensor or numpy number is accepted as the answer. The usual mistakes
    (the ``+ 1`` pixel convention, an unclamped overlap, the sum of the areas or the smaller box's area
    as the denominator) get a specific hint.

    >>> def iou(box_a, box_b):
    ...     ...  # your code here
    >>> check_iou(iou)  # doctest: +ELLIPSIS
    … iou: not attempted yet — hint: the overlap is a box too: ...
    False
    """
    name = "iou"

    def body() -> bool:
        if _blank(fn):
            raise _NotAttempted
        seen = []
        for i, (what, a, b) in enumerate(_IOU_CASES):
            case = f"iou({a}, {b}): {what}"
            args = (type(a)(a), type(b)(b))  # fresh copies: the learner may change them
            got = _number(_call(fn, args, {}, name=name, case=case, first=i == 0, hint=_IOU_HINT,
                                error_hint=_iou_error_hint), name, case)
            seen.append(((a, b), got))
            expected = _iou_reference(a, b)
            if not math.isclose(got, expected, abs_tol=1e-6):
                seen += _others(fn, [(type(a)(a), type(b)(b)) for _, a, b in _IOU_CASES[i + 1:]])
                hint = _diagnose_close(seen, _IOU_VARIANTS, (a, b), got)
                values = [v for _, v in seen]
                if hint is None and max(values) > 1 + 1e-6:
                    hint = (f"your function gave {max(values):.4g} on one of the cases, but an IoU is at most 1 (the "
                            "overlap is never larger than the union). " + _IOU_HINT)
                elif hint is None and min(values) < -1e-6:
                    hint = (f"your function gave {min(values):.4g} on one of the cases, but an IoU is never negative "
                            "(clamp the overlap's width and height at 0). " + _IOU_HINT)
                raise _wrong(name, case, f"{expected:.6g}   (torchvision.ops.box_iou)", f"{got:.6g}",
                             hint or _IOU_HINT)
        return _correct(f"{name} matches torchvision.ops.box_iou on all {len(_IOU_CASES)} cases (containment, "
                        "disjoint and touching boxes included).")

    return _attempt(name, _IOU_HINT, body)


# ----------------------------------------------------------------------- YOLO box to corners


_YOLO_CASES = [  # (what, cx, cy, w, h, img_w, img_h): YOLO fractions, image size in pixels
    ("a 640×480 image", 0.5, 0.4, 0.25, 0.5, 640, 480),
    ("a 100×200 image (taller than wide)", 0.3, 0.2, 0.4, 0.2, 100, 200),
    ("a box on the left edge of a 1280×720 image", 0.1, 0.5, 0.2, 0.3, 1280, 720),
    ("a box in the bottom-right corner of a 320×240 image", 0.9, 0.85, 0.2, 0.3, 320, 240),
    ("a small box, fractional pixels, 333×500 image", 0.4567, 0.1234, 0.05, 0.0321, 333, 500),
]

_YOLO_HINT = (
    "cx, cy is the box's centre and w, h its size, all as fractions of the image: x1 = (cx − w/2) · img_w, "
    "y1 = (cy − h/2) · img_h, x2 = (cx + w/2) · img_w, y2 = (cy + h/2) · img_h."
)


def _yolo_reference(cx, cy, w, h, img_w, img_h):
    from .data.yolo import yolo_to_xyxy

    return yolo_to_xyxy([[cx, cy, w, h]], w=img_w, h=img_h)[0]


_YOLO_VARIANTS = [  # (the wrong conversion, its hint)
    (lambda cx, cy, w, h, W, H: (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2),
     "YOLO numbers are fractions of the image size: multiply the x values (cx, w) by img_w and the y values "
     "(cy, h) by img_h to get pixels."),
    (lambda cx, cy, w, h, W, H: (cx * W, cy * H, (cx + w) * W, (cy + h) * H),
     "cx, cy is the *centre* of the box, not its top-left corner: x1 = (cx − w/2) · img_w."),
    (lambda cx, cy, w, h, W, H: ((cx - w / 2) * H, (cy - h / 2) * W, (cx + w / 2) * H, (cy + h / 2) * W),
     "x values (cx, w) scale with the image *width* (img_w), y values (cy, h) with its height (img_h): you "
     "swapped them (a square image would not show it)."),
    (lambda cx, cy, w, h, W, H: ((cx - w) * W, (cy - h) * H, (cx + w) * W, (cy + h) * H),
     "w is the box's whole width: each side is *half* a width from the centre, cx ± w/2 (not cx ± w)."),
    (lambda cx, cy, w, h, W, H: ((cx - w / 2) * W, (cy - h / 2) * H, w * W, h * H),
     "return the corners x1, y1, x2, y2, not x, y, width, height: x2 = x1 + w · img_w."),
    (lambda cx, cy, w, h, W, H: ((cx - w / 2) * W, (cx + w / 2) * W, (cy - h / 2) * H, (cy + h / 2) * H),
     "the order is x1, y1, x2, y2 (top-left corner, then bottom-right), not x1, x2, y1, y2."),
    (lambda *args: [round(v) for v in _yolo_reference(*args)],
     "don't round: pixel coordinates are continuous, keep the fractions (floats)."),
    (lambda *args: [int(v) for v in _yolo_reference(*args)],
     "don't convert to int: pixel coordinates are continuous, keep the fractions (floats)."),
]


def _four(out: Any, name: str, case: str):
    """The learner's (x1, y1, x2, y2) as a float64 array of 4, from a tuple, list, array or tensor."""
    import numpy as np

    try:
        if hasattr(out, "detach"):
            out = out.detach().cpu().numpy()
        arr = np.asarray(out, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError, RuntimeError):
        raise ExerciseError(f"{name}: for {case} your function returned {out!r} ({type(out).__name__}); "
                            "return the four corners, e.g. `return x1, y1, x2, y2`") from None
    if arr.size != 4:
        raise ExerciseError(f"{name}: for {case} your function returned {arr.size} numbers ({out!r}); "
                            "return the four corners, e.g. `return x1, y1, x2, y2`")
    return arr


def _show(values) -> str:
    return "(" + ", ".join(f"{float(v):.6g}" for v in values) + ")"


def check_yolo_to_xyxy(fn: Callable) -> bool:
    """Check ``fn(cx, cy, w, h, img_w, img_h) -> (x1, y1, x2, y2)``: a YOLO box (centre and size as
    fractions of the image) to pixel corners.

    ``fn`` is called positionally. Compared with ``coursekit.data.yolo.yolo_to_xyxy`` on 5 boxes, all
    on non-square images (so swapping the width and the height shows), boxes on the image border and
    one with fractional pixels; within 0.001 pixel (float32 is fine). The answer may be a tuple, a list, a numpy array or
    a tensor of 4 numbers. The usual mistakes (no scaling, the centre taken as a corner, width and
    height swapped, cx ± w instead of cx ± w/2, x, y, w, h returned, rounding) get a specific hint.

    >>> check_yolo_to_xyxy(lambda cx, cy, w, h, img_w, img_h: None)  # doctest: +ELLIPSIS
    … yolo_to_xyxy: not attempted yet — hint: cx, cy is the box's centre and w, h its size, ...
    False
    """
    name = "yolo_to_xyxy"

    def body() -> bool:
        if _blank(fn):
            raise _NotAttempted
        seen = []
        for i, (what, *args) in enumerate(_YOLO_CASES):
            case = "yolo_to_xyxy(cx={}, cy={}, w={}, h={}, img_w={}, img_h={}): ".format(*args) + what
            got = _four(_call(fn, tuple(args), {}, name=name, case=case, first=i == 0, hint=_YOLO_HINT), name, case)
            seen.append((tuple(args), got))
            expected = _yolo_reference(*args)
            if not _close(got, expected, tol=1e-3):
                for _, *rest in _YOLO_CASES[i + 1:]:
                    try:
                        seen.append((tuple(rest), _four(fn(*rest), name, "")))
                    except Exception:  # noqa: BLE001 - a diagnosis must never hide the real failure
                        continue
                hint = _diagnose_close(seen, _YOLO_VARIANTS, tuple(args), got, tol=1e-3) or _YOLO_HINT
                raise _wrong(name, case, f"{_show(expected)}   (coursekit.data.yolo.yolo_to_xyxy)", _show(got), hint)
        return _correct(f"{name} matches coursekit.data.yolo.yolo_to_xyxy on all {len(_YOLO_CASES)} boxes "
                        "(non-square images, boxes on the border).")

    return _attempt(name, _YOLO_HINT, body)


# ------------------------------------------------------------------ reading a PR curve


_PR_HINT = (
    "keep the points of the curve whose precision is at least min_precision; among them take the one with "
    "the highest recall (furthest right) and answer its threshold (boxes with score >= threshold are kept)."
)


def _flat_array(x, what: str):
    import numpy as np

    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{what} must be a 1-D array; got shape {arr.shape}")
    return arr


def _pr_points(precision, recall, thresholds):
    """(precision, recall, thresholds) per threshold, thresholds ascending; scikit-learn's last point
    (precision 1, recall 0, no threshold) dropped."""
    import numpy as np

    p, r, t = (_flat_array(x, w) for x, w in ((precision, "precision"), (recall, "recall"),
                                              (thresholds, "thresholds")))
    if len(p) != len(r):
        raise ValueError(f"precision and recall must have the same length; got {len(p)} and {len(r)}")
    if len(p) == len(t) + 1:
        p, r = p[:-1], r[:-1]
    elif len(p) != len(t):
        raise ValueError(f"expected one precision and recall per threshold (or one more, as scikit-learn's "
                         f"precision_recall_curve returns); got {len(p)} points for {len(t)} thresholds")
    if not len(t):
        raise ValueError("the curve has no threshold")
    order = np.argsort(t, kind="stable")
    p, r, t = p[order], r[order], t[order]
    if np.any(np.diff(t) == 0):
        raise ValueError("the thresholds must be distinct (each distinct score once, as precision_recall_curve "
                         "gives them)")
    return p, r, t


def _best_point(p, r, t, min_precision: float, on: str = "precision") -> int | None:
    """Index of the point with the highest recall among those with precision >= min_precision (the
    highest threshold on a tie); ``on="recall"``: the axes swapped (the mistake)."""
    import numpy as np

    target, maximise = (p, r) if on == "precision" else (r, p)
    ok = np.nan_to_num(target, nan=-1.0) >= min_precision - 1e-12
    if not ok.any():
        return None
    top = np.nan_to_num(maximise, nan=-1.0)[ok].max()
    return int(np.flatnonzero(ok & (np.abs(np.nan_to_num(maximise, nan=-1.0) - top) <= 1e-12))[-1])


def check_pr_reading(answer, precision, recall, thresholds, min_precision: float) -> bool:
    """Check a threshold read off a precision-recall curve: the one with the highest recall among
    those that keep precision >= ``min_precision``.

    ``precision``, ``recall``, ``thresholds``: the curve, as ``sklearn.metrics.precision_recall_curve(y,
    scores, drop_intermediate=False)`` returns it (precision and recall one longer than thresholds, the
    last point having no threshold), or as ``coursekit.calibrate.pr_curve(y, scores)`` holds it
    (``curve.precision, curve.recall, curve.thresholds``; for detection: ``pr_curve(*detection_pr_points(
    preds, targets)[:2])``); one point per threshold is accepted too, in any order; numpy arrays, lists
    or tensors. The thresholds must be every distinct score (no ``drop_intermediate=True``).

    The expected point is found in the arrays: among the points with precision >= ``min_precision``, the
    one with the highest recall, the highest threshold on a tie. Keeping ``score >= t`` keeps the same
    boxes for every ``t`` between that threshold and the next lower one, so any answer in
    ``(next lower threshold, best threshold]`` (1e-9 tolerance) is right: reading 0.87 off a plot for a
    threshold of 0.8731 is fine as long as no score lies in between. If no point reaches
    ``min_precision``, the right answer is ``None``.

    >>> precision = [0.6, 0.75, 0.8, 1.0, 1.0, 1.0]   # scikit-learn's layout: the last point has no threshold
    >>> recall = [1.0, 1.0, 0.67, 0.67, 0.33, 0.0]
    >>> thresholds = [0.1, 0.3, 0.5, 0.7, 0.9]
    >>> check_pr_reading(0.65, precision, recall, thresholds, min_precision=0.9)  # doctest: +ELLIPSIS
    ✓ correct: threshold 0.65 keeps the same boxes as 0.7: precision 1 >= 0.9 at recall 0.67, ...
    True
    """
    import numpy as np

    name = "pr_reading"
    p, r, t = _pr_points(precision, recall, thresholds)
    mp = float(min_precision)
    case = f"the PR curve given ({len(t)} thresholds from {t[0]:.4g} to {t[-1]:.4g}), min_precision={mp:g}"
    k = _best_point(p, r, t, mp)
    if answer is Ellipsis or (answer is None and k is not None):
        return _not_attempted(name, _PR_HINT)
    if k is None:
        top = int(np.nanargmax(p))
        if answer is None:
            return _correct(f"no point of the curve reaches precision {mp:g} (the highest is {p[top]:.3g}, at "
                            f"threshold {t[top]:.4g}): no threshold meets the target.")
        raise _wrong(name, case, "None (no threshold reaches the target)", answer,
                     f"no point of the curve reaches precision {mp:g}: the highest is {p[top]:.3g}, at threshold "
                     f"{t[top]:.4g}; answer None.")
    got = _number(answer, name, case)
    best, lower = float(t[k]), (float(t[k - 1]) if k else -math.inf)
    where = f"precision {p[k]:.3g} >= {mp:g} at recall {r[k]:.3g}"
    if lower + 1e-9 < got <= best + 1e-9:
        same = "" if math.isclose(got, best, abs_tol=1e-9) else f" keeps the same boxes as {best:.6g}"
        return _correct(f"threshold {got:.6g}{same}: {where}, the highest recall that keeps precision >= {mp:g}.")

    span = (f"any value in ({lower:.6g}, {best:.6g}] keeps the same boxes" if k
            else f"the lowest score: any value <= {best:.6g} keeps every box")
    expected = f"{best:.6g}   ({where}; {span})"
    in_unit = bool(t[0] >= 0 and t[-1] <= 1)
    j = int(np.searchsorted(t, got - 1e-9))  # the point `score >= got` gives: the lowest threshold >= got
    rounded = any(math.isclose(got, round(best, d), abs_tol=1e-12) and abs(got - best) < 0.45 * 10 ** -d
                  for d in range(1, 7))  # not a half-way case: 0.85 is not "0.8 rounded"
    if in_unit and not 0 <= got <= 1:
        if got > 1 and lower + 1e-9 < got / 100 <= best + 1e-9:
            hint = "give the threshold as a fraction between 0 and 1, not a percentage."
        else:
            hint = f"a threshold is a score between 0 and 1 (this curve's go from {t[0]:.4g} to {t[-1]:.4g}). "
            hint += _PR_HINT
    elif math.isclose(got, r[k], abs_tol=1e-6) or math.isclose(got, p[k], abs_tol=1e-6):
        which = "recall" if math.isclose(got, r[k], abs_tol=1e-6) else "precision"
        hint = (f"{got:g} is the {which} at the right point; the question asks for the point's *threshold* "
                f"(the score cut-off that gives it).")
    elif math.isclose(got, mp, abs_tol=1e-9):
        hint = (f"{mp:g} is the target for precision, not a threshold on the scores: find the point where "
                "precision reaches it and answer that point's threshold.")
    elif rounded:
        nxt = f"the next score below is {lower:.6g}" if got < best else "a threshold above it keeps fewer boxes"
        hint = (f"{got:g} looks like {best:.6g} rounded, and the rounding changes the point ({nxt}): give the "
                "threshold with more digits.")
    elif j == len(t):
        hint = f"{got:g} is above every score: nothing is kept (recall 0). " + _PR_HINT
    elif not p[j] >= mp - 1e-12:
        swapped = _best_point(p, r, t, mp, on="recall")
        if swapped is not None and j == swapped:
            hint = (f"you read the axes the other way round: the target {mp:g} is on *precision* (y axis); among "
                    "the points that reach it, take the highest *recall* (x axis).")
        else:
            hint = (f"at threshold {got:g} precision is {p[j]:.3g}, below the target {mp:g}: a higher threshold "
                    "keeps fewer, surer boxes.")
    elif j > k:
        if p[j] > p[k] and p[j] >= np.nanmax(p) - 1e-12:
            hint = (f"that is the point with the highest precision ({p[j]:.3g}); the question asks for the highest "
                    f"*recall* among the points with precision >= {mp:g}.")
        else:
            hint = (f"a lower threshold still keeps precision >= {mp:g} and finds more: recall {r[k]:.3g} at "
                    f"{best:.6g}, against {r[j]:.3g} at yours.")
    else:  # j < k: the same recall, with more boxes kept
        hint = (f"thresholds from {got:g} up to {best:.6g} all give recall {r[k]:.3g}: take the highest "
                "(the same objects found, fewer false boxes).")
    raise _wrong(name, case, expected, f"{got:g}", hint)


# ------------------------------------------------------------------- Module 4: zero-shot CLIP by hand

_ZS_HINT = (
    "normalise each image and each text embedding to length 1 (x / ||x||, along the last axis), take the "
    "cosine similarities image @ text.T (N, C), multiply by logit_scale, and softmax over the classes (axis 1)."
)


def _zero_shot_reference(image_features, text_features, logit_scale):
    import torch
    import torch.nn.functional as F

    img = F.normalize(torch.as_tensor(image_features, dtype=torch.float64), dim=-1)
    txt = F.normalize(torch.as_tensor(text_features, dtype=torch.float64), dim=-1)
    return torch.softmax(float(logit_scale) * img @ txt.T, dim=-1).numpy()


def _zero_shot_cases():
    import numpy as np

    rng = np.random.default_rng(7)
    return [
        ("3 images, 4 classes, embeddings of length 8 (not normalised), logit_scale 5", rng.normal(size=(3, 8)) * 2,
         rng.normal(size=(4, 8)) * 0.5, 5.0),
        ("1 image, 2 classes, logit_scale 3", rng.normal(size=(1, 5)), rng.normal(size=(2, 5)) * 4, 3.0),
        ("5 images, 3 classes, logit_scale 1 (soft probabilities)", rng.normal(size=(5, 6)), rng.normal(size=(3, 6)),
         1.0),
    ]


def _zero_shot_variants():
    import numpy as np

    def softmax(z, axis=-1):
        z = z - z.max(axis=axis, keepdims=True)
        e = np.exp(z)
        return e / e.sum(axis=axis, keepdims=True)

    def unit(x):
        return x / np.linalg.norm(x, axis=-1, keepdims=True)

    return [
        (lambda i, t, s: softmax(s * i @ t.T),
         "normalise both embeddings first: CLIP compares *directions* (cosine similarity), so divide each row by "
         "its length before the dot product."),
        (lambda i, t, s: softmax(s * unit(i) @ t.T),
         "normalise the text embeddings too, not only the images' (each class row divided by its length)."),
        (lambda i, t, s: softmax(s * i @ unit(t).T),
         "normalise the image embeddings too, not only the texts' (each image row divided by its length)."),
        (lambda i, t, s: softmax(unit(i) @ unit(t).T),
         "multiply the cosine similarities by logit_scale before the softmax: similarities in [-1, 1] give "
         "almost uniform probabilities; the learnt temperature (about 100 for CLIP) sharpens them."),
        (lambda i, t, s: s * unit(i) @ unit(t).T,
         "these are the logits; return probabilities: a softmax over the classes (each row sums to 1)."),
        (lambda i, t, s: softmax(s * unit(i) @ unit(t).T, axis=0),
         "softmax over the *classes* (axis 1, each image's row sums to 1), not over the images (axis 0)."),
    ]


def check_zero_shot(fn: Callable) -> bool:
    """Check ``fn(image_features, text_features, logit_scale) -> probs``: CLIP's zero-shot classification.

    ``image_features`` is (N, D), ``text_features`` (C, D) (one row per class, e.g. the prompt "a photo of a
    washer"), both *not* normalised; ``logit_scale`` is the model's temperature (``model.logit_scale.exp()``,
    about 100 for CLIP). The answer must be the (N, C) class probabilities, each row summing to 1. Compared
    with PyTorch (``F.normalize``, ``softmax``) on 3 cases; forgetting a normalisation, the temperature or the
    softmax, or taking the softmax over the wrong axis gets a specific hint.

    >>> def zero_shot_probs(image_features, text_features, logit_scale):
    ...     ...  # your code here
    >>> check_zero_shot(zero_shot_probs)  # doctest: +ELLIPSIS
    … zero_shot: not attempted yet — hint: normalise each image and each text embedding ...
    False
    """
    import numpy as np

    name = "zero_shot"

    def body() -> bool:
        if _blank(fn):
            raise _NotAttempted
        for i, (what, img, txt, scale) in enumerate(_zero_shot_cases()):
            out = _call(fn, (img.copy(), txt.copy(), scale), {}, name=name, case=what, first=i == 0, hint=_ZS_HINT)
            try:
                got = np.asarray(out.detach().cpu().numpy() if hasattr(out, "detach") else out, dtype=np.float64)
            except (TypeError, ValueError):
                raise ExerciseError(f"{name}: for {what} your function returned {type(out).__name__}; return an "
                                    f"array of probabilities of shape {(len(img), len(txt))}") from None
            expected = _zero_shot_reference(img, txt, scale)
            if got.shape != expected.shape:
                raise _wrong(name, what, f"an array of shape {expected.shape} (images x classes)",
                             f"shape {got.shape}", "one row per image, one column per class: image @ text.T")
            if not np.allclose(got, expected, atol=1e-5):
                hint = next((h for v, h in _zero_shot_variants()
                             if np.allclose(got, v(img, txt, scale), atol=1e-5)), _ZS_HINT)
                raise _wrong(name, what, np.round(expected, 4).tolist(), np.round(got, 4).tolist(), hint)
        return _correct("zero-shot probabilities match PyTorch (normalise, cosine similarity x logit_scale, "
                        "softmax over the classes) on all 3 cases.")

    return _attempt(name, _ZS_HINT, body)


# -------------------------------------------------------------------- Module 4: mask IoU by hand

_MASK_HINT = ("IoU of two masks = the number of pixels in both (a & b) divided by the number of pixels in "
              "either (a | b); if both masks are empty there is nothing to compare: return 0.")


def _mask_cases():
    import numpy as np

    a = np.zeros((6, 8), bool)
    a[1:4, 1:5] = True  # 12 pixels
    b = np.zeros((6, 8), bool)
    b[2:5, 3:8] = True  # 15 pixels, 4 shared with a (every wrong formula gives another number)
    inner = np.zeros((6, 8), bool)
    inner[2:3, 2:4] = True  # inside a
    far = np.zeros((6, 8), bool)
    far[5:6, 7:8] = True
    rng = np.random.default_rng(3)
    r1, r2 = rng.random((32, 48)) > 0.5, rng.random((32, 48)) > 0.3
    return [("two overlapping rectangles", a, b), ("a mask inside the other", a, inner),
            ("disjoint masks", a, far), ("identical masks", b, b.copy()),
            ("an empty prediction", a, np.zeros_like(a)), ("two random 32x48 masks", r1, r2)]


def _mask_reference(a, b) -> float:
    from sklearn.metrics import jaccard_score

    return float(jaccard_score(b.ravel(), a.ravel(), zero_division=0.0))


def check_mask_iou(fn: Callable) -> bool:
    """Check ``fn(mask_a, mask_b) -> float``: the intersection over union of two boolean masks (H, W).

    Compared with scikit-learn's ``jaccard_score`` on 6 cases (overlap, containment, disjoint, identical, an
    empty mask, random masks). Dividing by one mask's area, or by the sum of the areas, gets a specific hint.

    >>> def mask_iou(mask_a, mask_b):
    ...     ...  # your code here
    >>> check_mask_iou(mask_iou)  # doctest: +ELLIPSIS
    … mask_iou: not attempted yet — hint: IoU of two masks = ...
    False
    """
    import numpy as np

    name = "mask_iou"
    variants = [
        (lambda a, b: (a & b).sum() / a.sum() if a.sum() else 0.0,
         "you divided by the first mask's area: the union (a | b) counts the pixels of *either* mask."),
        (lambda a, b: (a & b).sum() / b.sum() if b.sum() else 0.0,
         "you divided by the second mask's area: the union (a | b) counts the pixels of *either* mask."),
        (lambda a, b: (a & b).sum() / (a.sum() + b.sum()) if a.sum() + b.sum() else 0.0,
         "the sum of the areas counts the shared pixels twice: use the union (a | b), or a + b - (a & b)."),
        (lambda a, b: 2 * (a & b).sum() / (a.sum() + b.sum()) if a.sum() + b.sum() else 0.0,
         "that is the Dice coefficient (2|a∩b| / (|a| + |b|)), not IoU: divide the intersection by the union."),
    ]

    def body() -> bool:
        if _blank(fn):
            raise _NotAttempted
        for i, (what, a, b) in enumerate(_mask_cases()):
            got = _number(_call(fn, (a.copy(), b.copy()), {}, name=name, case=what, first=i == 0, hint=_MASK_HINT),
                          name, what)
            expected = _mask_reference(a, b)
            if not math.isclose(got, expected, abs_tol=1e-9):
                hint = next((h for v, h in variants if math.isclose(got, float(v(a, b)), abs_tol=1e-9)), _MASK_HINT)
                raise _wrong(name, what, f"{expected:.6g}   (sklearn.metrics.jaccard_score)", f"{got:.6g}", hint)
        return _correct(f"{name} matches scikit-learn's jaccard_score on all 6 cases (an empty mask included).")

    return _attempt(name, _MASK_HINT, body)


# ------------------------------------------------------------- Module 4: a prompt set that beats the default

_PROMPT_HINT = ("write a few templates with a '{}' where the class name goes, e.g. 'a close-up photo of a {}.', "
                "'a {} on a conveyor belt.': describe how *these* photos look (industrial, metal, close-up).")


def _check_templates(templates, name: str, hint: str) -> None:
    """A blank answer is "not attempted"; otherwise a list of strings with exactly one ``{}`` each."""
    if _blank(templates) or (isinstance(templates, (list, tuple)) and not templates):
        raise _NotAttempted
    if isinstance(templates, str) or not isinstance(templates, (list, tuple)):
        raise ExerciseError(f"{name}: give a list of template strings, e.g. ['a photo of a {{}}.'], not "
                            f"{type(templates).__name__}")
    for t in templates:
        if not isinstance(t, str) or t.count("{}") != 1:
            raise ExerciseError(f"{name}: template {t!r} must be a string with exactly one '{{}}' (where the "
                                f"class name goes). hint: {hint}")


def check_prompt_set(templates, accuracy: Callable[[Sequence[str]], float], baseline: float,
                     min_gain: float = 0.0) -> bool:
    """Check a learner's prompt templates: their zero-shot accuracy must beat ``baseline`` by more than ``min_gain``.

    ``templates``: a list of strings, each with one ``{}`` for the class name. ``accuracy(templates)`` is the
    notebook's measurement (zero-shot accuracy on the *validation* images with a prompt ensemble of these
    templates); ``baseline`` is the default single prompt's accuracy on the same images.

    >>> check_prompt_set(None, accuracy=lambda t: 0.5, baseline=0.4)  # doctest: +ELLIPSIS
    … prompt_set: not attempted yet — hint: write a few templates ...
    False
    """
    name = "prompt_set"

    def body() -> bool:
        _check_templates(templates, name, _PROMPT_HINT)
        got = float(accuracy(list(templates)))
        if got <= baseline + min_gain:
            raise _wrong(name, f"your {len(templates)} template(s) on the validation images",
                         f"accuracy above {baseline + min_gain:.3f} (the default prompt's {baseline:.3f}"
                         + (f" + {min_gain:g}" if min_gain else "") + ")", f"{got:.3f}",
                         "describe what the photos show and how (close-up, industrial part, metal, on a belt); "
                         "more templates average out the quirks of each one. " + _PROMPT_HINT)
        return _correct(f"your {len(templates)} template(s) reach {got:.3f} on the validation images, above the "
                        f"default prompt's {baseline:.3f}.")

    return _attempt(name, _PROMPT_HINT, body)
