"""Automatic checks for the notebook exercises, with friendly messages.

Every ``check_*`` takes the learner's answer (usually a function) and:

- **not attempted yet** (the function body is ``...``/``pass``, returns None, or raises
  NotImplementedError): prints a gentle hint and returns ``False``; no exception, so a notebook
  committed with blank exercises still runs top to bottom;
- **wrong**: raises :class:`ExerciseError` (an ``AssertionError``) naming the failing case, the
  expected value, the learner's value and a hint, specific when the mistake is a common one;
- **right**: prints ``✓ correct: ...`` and returns ``True``.

The expected values come from PyTorch/torchmetrics themselves (a real ``nn.Conv2d``, ``F.batch_norm``,
``multiclass_accuracy``), never from a formula here. Solutions live in the notebooks, not in this module.

>>> def conv_output_size(size, kernel, stride=1, padding=0, dilation=1):
...     ...  # your code here
>>> check_conv_output_size(conv_output_size)  # doctest: +ELLIPSIS
… conv_output_size: not attempted yet — hint: a kernel of size k fits in a row of n pixels at ...
False
"""
from __future__ import annotations

import math
from typing import Any, Callable, Sequence

__all__ = [
    "ExerciseError",
    "check_conv_output_size",
    "check_accuracy",
    "check_batchnorm",
    "check_param_count",
    "check_receptive_field",
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
