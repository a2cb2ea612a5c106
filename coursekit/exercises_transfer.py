"""Checks for notebook 02's exercises (the contract of :mod:`coursekit.exercise_base`): Cohen's kappa, a threshold
for a precision, the label-saving factor and the spec fix against scikit-learn and coursekit's references; a new
head on torchvision's ResNet-18 (random weights: the structure is the lesson, and a seeded random network keeps
the checks fast and offline), a frozen backbone that stays frozen, and the optimizer's parameter groups.

>>> def new_head(net, num_classes):
...     ...  # your code here
>>> check_new_head(new_head)  # doctest: +ELLIPSIS
… new_head: not attempted yet — hint: net.fc = nn.Linear(net.fc.in_features, num_classes)...
False
"""
from __future__ import annotations

import copy
import itertools
import math
from typing import Callable

import numpy as np
import torch
import torch.nn as nn

from .exercise_base import (ExerciseError, blank, call, check_cases, correct, exercise, first_match, not_attempted,
                            number, wrong)

__all__ = ["check_cohen_kappa", "check_threshold_for_precision", "check_label_saving_factor", "check_spec_fix",
           "check_new_head", "check_frozen", "check_param_groups", "ExerciseError"]

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
    kappa = lambda chance: (p_o - chance) / (1 - chance)  # noqa: E731
    return first_match(got, [
        (p_o, f"that is the raw agreement p_o = {p_o:.3g} (the fraction of items with the same label), not kappa: "
              "kappa corrects it for chance, (p_o − p_e) / (1 − p_e), with p_e the agreement expected by chance."),
        (p_e, "that is the chance agreement p_e; kappa is (p_o − p_e) / (1 − p_e)."),
        (p_o - p_e, "divide by (1 − p_e): kappa = (p_o − p_e) / (1 − p_e), so that perfect agreement gives 1."),
        (kappa(1 / len(ca | cb)), "chance agreement is not 1 / number of classes: use each rater's own label "
                                  "frequencies, p_e = Σ p_a(class) · p_b(class)."),
        (kappa(sum(v * v for v in ca.values()) / n ** 2),
         "chance agreement uses both raters' label frequencies, p_a(class) · p_b(class), not one rater's squared."),
        (100 * expected, "return kappa as a fraction (1 = perfect agreement), not a percentage.")], _KAPPA_HINT)


def _kappa_error_hint(e: Exception) -> str | None:
    return ("the two raters may use different labels: take the classes from both sequences (the union), not from "
            "one of them." if isinstance(e, (KeyError, IndexError, ValueError)) else None)


@exercise("cohen_kappa", _KAPPA_HINT)
def check_cohen_kappa(fn: Callable) -> bool:
    """Check ``fn(a, b) -> float``, Cohen's kappa of two raters' labels, against ``cohen_kappa_score``."""
    from sklearn.metrics import cohen_kappa_score

    name = "cohen_kappa"
    for i, (what, a, b) in enumerate(_KAPPA_CASES):
        case = f"{what}: a={a}, b={b}"
        got = number(call(fn, (list(a), list(b)), name=name, case=case, first=i == 0, hint=_KAPPA_HINT,
                          error_hint=_kappa_error_hint if set(a) != set(b) else None), name, case)
        expected = float(cohen_kappa_score(a, b))
        if not math.isclose(got, expected, abs_tol=1e-6):
            raise wrong(name, case, f"{expected:.6g}   (sklearn's cohen_kappa_score)", f"{got:.6g}",
                        _kappa_mistake(got, expected, a, b))
    return correct(f"{name} matches sklearn on all {len(_KAPPA_CASES)} cases (chance level, skewed "
                   "classes, different label sets).")


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

_THR_HINT = ("try every distinct score t as the threshold (flag score >= t); keep those whose precision reaches "
             "min_precision, and among them return the one with the highest recall (the highest t on a tie).")


def _threshold_mistake(got: float, expected: float, y: list, s: list, p: float) -> str:
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


@exercise("threshold_for_precision", _THR_HINT)
def check_threshold_for_precision(fn: Callable) -> bool:
    """Check ``fn(y_true, scores, min_precision) -> float``: the highest-recall score threshold reaching the
    precision (highest on a tie), against ``coursekit.calibrate.choose_threshold``."""
    from .calibrate import choose_threshold

    cases = [(f"{what}: y_true={y}, scores={s}, min_precision={p}", (np.array(y), np.array(s), p))
             for what, y, s, p in _THR_CASES]
    n = check_cases(fn, cases, name="threshold_for_precision", hint=_THR_HINT,
                    reference=lambda y, s, p: float(choose_threshold(y, s, min_precision=p).threshold),
                    same=lambda a, b: math.isclose(a, b, abs_tol=1e-9), show=lambda v: f"{v:g}",
                    source="   (coursekit.calibrate.choose_threshold)",
                    mistake=lambda i, got, expected: _threshold_mistake(got, expected, *_THR_CASES[i][1:]))
    return correct(f"threshold_for_precision matches choose_threshold on all {n} cases (ties and equal recalls "
                   "included).")


_LSF_HINT = ("draw a horizontal line at the from-scratch accuracy at the largest k; read the k where the "
             "pre-trained curve meets it; the factor is the largest k divided by that k (the x axis is logarithmic).")


def check_label_saving_factor(answer, ks, pretrained_acc, scratch_acc, rel_tol: float = 0.35) -> bool:
    """Check a label-saving factor read off the plot, within ``rel_tol`` of ``label_saving_factor``'s (none:
    ``None`` or 0).

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
        return not_attempted(name, _LSF_HINT)
    if factor is None:
        if answer is None or answer == 0:
            return correct(f"no label saving to read: the pre-trained curve never reaches the from-scratch "
                           f"accuracy at k={kmax} ({target:.3g}).")
        raise wrong(name, case, "None (no factor)", answer,
                    f"the pre-trained curve never reaches the from-scratch accuracy at k={kmax} ({target:.3g}): "
                    "there is no saving to read off; answer None.")
    got = number(answer, name, case)
    expected = f"{factor:g} = {kmax} / {need:.3g}"
    why = f"pre-trained needs {need:.3g} labels per class to match scratch's {target:.3g} at k={kmax}"
    near = lambda value, reference: abs(value - reference) <= rel_tol * abs(reference)  # noqa: E731
    if ref["at_least"]:
        first = f"pre-trained is past scratch's {target:.3g} already at the smallest k, {ks[0]}"
        if got >= factor * (1 - rel_tol):
            return correct(f"label-saving factor {got:g}: at least {expected} ({first}).")
        raise wrong(name, case, f"at least {expected}   ({first})", f"{got:g}",
                    f"the pre-trained model reaches the target at the smallest k ({ks[0]}), so the factor is at "
                    f"least {kmax} / {ks[0]} = {factor:g}; the plot cannot show how much more.")
    if near(got, factor):
        return correct(f"label-saving factor {got:g} (reference {expected}: {why}).")
    if got > 0 and near(1 / got, factor):
        hint = (f"you inverted the ratio: the factor is labels from scratch / labels pre-trained ({kmax} / "
                f"{need:.3g}), above 1 when pre-training saves labels.")
    elif near(got, need):
        hint = (f"that is how many labels per class the pre-trained model needs ({need:.3g}); the factor is "
                f"{kmax} divided by it.")
    else:
        hint = _LSF_HINT
    raise wrong(name, case, f"{expected}, within ±{rel_tol:.0%}   ({why})", f"{got:g}", hint)


_SPEC_HINT = ("add each off-diagonal cell to its mirror (A=x/B=y and A=y/B=x are the same confusion), sort the pairs "
              "by count, and keep the top ones until they cover 75% of all disagreements.")


def _confusions(table) -> tuple[list[str], dict, list[tuple[tuple[str, str], int]]]:
    """The classes, the cells {(a, b): count} and the class pairs' disagreements, most first."""
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
    """Check the class pairs a spec rewrite must address: the top confusions of ``table`` (A's labels in rows)
    covering 75% of the disagreements (any tied at the cut), at most one pair more.

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
    if blank(answer) or (hasattr(answer, "__len__") and not isinstance(answer, str) and len(answer) == 0):
        return not_attempted(name, _SPEC_HINT)
    pairs = _spec_pairs(answer, name)
    yours = ", ".join(str(show(p)) for p in sorted(pairs, key=lambda p: (-count.get(p, 0), show(p))))
    unknown = sorted({c for p in pairs for c in p} - set(classes))
    if unknown:
        raise wrong(name, case, expected, yours, f"unknown class name(s) {', '.join(map(repr, unknown))}: the "
                                                  f"classes in the table are {', '.join(classes)}.")
    same = [p for p in pairs if len(p) == 1]
    if same:
        c = next(iter(same[0]))
        raise wrong(name, case, expected, yours, f"({c!r}, {c!r}) is agreement (the diagonal), not a confusion: "
                                                  "name pairs of two different classes.")
    tied = [p for p, n in counts if n == cut]
    whole_tie = m == sum(n >= cut for _, n in counts)  # every pair tied at the cut is needed
    required = [(p, n) for p, n in counts if n > cut or (whole_tie and n == cut)]
    missing = [(p, n) for p, n in required if frozenset(p) not in pairs]
    if missing:
        (x, y), n = missing[0]
        raise wrong(name, case, expected, yours,
                    f"your rewrite must also address {x} vs {y}: it causes {n} of the {total} disagreements "
                    f"({n / total:.0%}): A={x}/B={y} ({cell.get((x, y), 0)}) plus A={y}/B={x} "
                    f"({cell.get((y, x), 0)}).")
    if sum(1 for p in pairs if count.get(p, 0) >= cut) < m:
        raise wrong(name, case, expected, yours,
                    f"the most frequent confusions come first: add {' or '.join(map(str, tied))} ({cut} "
                    f"disagreements each) to reach 75% of the {total}.")
    if len(pairs) > m + 1:
        raise wrong(name, case, expected, yours,
                    f"too many pairs: the top {m} already cover {covered / total:.0%} of the disagreements; a "
                    f"spec rewrite should settle those first (one more pair is fine, not {len(pairs) - m}).")
    have = sum(count.get(p, 0) for p in pairs)
    return correct(f"{yours} {'covers' if len(pairs) == 1 else 'cover'} {have} of the {total} disagreements "
                   f"({have / total:.0%}): settle {'it' if len(pairs) == 1 else 'them'} in the spec.")


_HEAD_HINT = "net.fc = nn.Linear(net.fc.in_features, num_classes); return net (the rest of the network untouched)."
_FROZEN_HINT = ("in __init__: self.net = net, then p.requires_grad_(False) for every parameter whose name does not "
                "start with 'fc.'; override train(mode): super().train(mode), then .eval() on every BatchNorm layer "
                "of the backbone; forward returns self.net(x).")
_GROUPS_HINT = ("[{'params': list(net.fc.parameters()), 'lr': lr}, {'params': [p for n, p in net.named_parameters() "
                "if not n.startswith('fc.')], 'lr': lr * backbone_factor}]")


def _resnet18(num_classes: int | None = None) -> nn.Module:
    import torchvision

    torch.manual_seed(0)
    net = torchvision.models.resnet18(weights=None)
    net.fc = net.fc if num_classes is None else nn.Linear(net.fc.in_features, num_classes)
    return net


def _snapshot(net: nn.Module, buffers_only: bool = False) -> dict[str, torch.Tensor]:
    """A copy of the state dict (``buffers_only``: BatchNorm's running statistics)."""
    return {k: v.detach().clone() for k, v in (net.named_buffers() if buffers_only else net.state_dict().items())
            if not buffers_only or "running" in k or "num_batches" in k}


@exercise("new_head", _HEAD_HINT, torch_seed=0)
def check_new_head(fn) -> bool:
    """Check ``fn(net, num_classes)``: a new ``fc`` on ResNet-18, every other weight as it was."""
    for k in (4, 7):
        net = _resnet18()
        before, case = _snapshot(net), f"new_head(resnet18, {k})"
        fail = lambda msg: ExerciseError(f"new_head: for {case} {msg}")  # noqa: E731
        out = call(fn, (net, k), name="new_head", case=case, first=k == 4, hint=_HEAD_HINT)
        out = net if out is None else out
        if not isinstance(out, nn.Module):
            raise fail(f"you returned {type(out).__name__}; return the network")
        fc = getattr(out, "fc", None)
        stacked = isinstance(fc, nn.Sequential) and any(
            isinstance(m, nn.Linear) and m.out_features == 1000 for m in fc.modules())
        if stacked or (isinstance(fc, nn.Linear) and fc.in_features == 1000):
            raise fail("your head sits after ImageNet's 1000-way classifier (its 1000 scores are its input). Replace "
                       "fc (512 features -> classes); do not stack on it.")
        if not isinstance(fc, nn.Linear):
            raise fail("the result has no Linear .fc; replace net.fc itself (torchvision's ResNet calls self.fc last "
                       "in forward).")
        if fc.out_features != k:
            raise fail(f"the head has {fc.out_features} outputs, expected {k}: use num_classes, not a number typed in.")
        with torch.no_grad():
            y = out.eval()(torch.zeros(2, 3, 64, 64))
        if tuple(y.shape) != (2, k):
            raise fail(f"the output has shape {tuple(y.shape)}, expected (2, {k}).")
        after = out.state_dict()
        if changed := [n for n, v in before.items() if not n.startswith("fc.") and
                       (n not in after or not torch.equal(after[n], v))]:
            raise fail(f"backbone weights changed or vanished ({changed[0]}, ...): re-creating the network throws "
                       "away the pre-trained weights; only replace fc.")
    return correct("new_head: a new 512 -> num_classes head, every backbone weight kept")


@exercise("Frozen", _FROZEN_HINT, torch_seed=0)
def check_frozen(cls) -> bool:
    """Check ``cls(net)``: one training step changes the head only (no weight, no BatchNorm statistic)."""
    net = _resnet18(num_classes=4)
    case = "Frozen(resnet18 with a 4-way head), .train(), one SGD step"
    model = call(cls, (net,), name="Frozen", case=case, first=True, hint=_FROZEN_HINT)
    if not isinstance(model, nn.Module):
        raise ExerciseError(f"Frozen: Frozen(net) gave {type(model).__name__}; make Frozen an nn.Module subclass")
    model.eval()
    with torch.no_grad():  # eval mode: BatchNorm reads its statistics, does not update them
        call(model, (torch.zeros(1, 3, 64, 64),), name="Frozen", case=case, first=True, hint=_FROZEN_HINT)
    before, buffers = _snapshot(net), _snapshot(net, buffers_only=True)
    trainable = [n for n, p in net.named_parameters() if p.requires_grad]
    if not trainable:
        raise ExerciseError("Frozen: no parameter is trainable: the new head (fc) must keep requires_grad=True.")
    if any(not n.startswith("fc.") for n in trainable):
        n = next(n for n in trainable if not n.startswith("fc."))
        raise ExerciseError(f"Frozen: backbone parameter {n} still has requires_grad=True: call "
                            "p.requires_grad_(False) on every parameter outside fc.")
    model.train()
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.1, momentum=0.9, weight_decay=5e-4)
    x, y = torch.randn(4, 3, 64, 64), torch.tensor([0, 1, 2, 3])
    loss = nn.functional.cross_entropy(model(x), y)
    opt.zero_grad()
    loss.backward()
    opt.step()
    moved = [n for n, v in _snapshot(net, buffers_only=True).items() if not torch.equal(v, buffers[n])]
    if moved:
        raise ExerciseError(f"Frozen: after .train() and one step, the BatchNorm statistic {moved[0]} changed: "
                            "requires_grad_(False) stops gradients, not BatchNorm's running mean and variance, which "
                            "update on every forward pass in train mode. Override train(): call super().train(mode), "
                            "then .eval() on each nn.BatchNorm2d of the backbone.")
    changed = [n for n, v in net.state_dict().items() if not torch.equal(v, before[n])]
    if any(not n.startswith("fc.") for n in changed):
        n = next(n for n in changed if not n.startswith("fc."))
        raise ExerciseError(f"Frozen: the backbone weight {n} changed after one step; freeze it.")
    if not any(n.startswith("fc.") for n in changed):
        raise ExerciseError("Frozen: the head did not change after one step: does forward call the wrapped "
                            "network (return self.net(x))?")
    model.eval()
    if model.training or any(m.training for m in net.modules()):
        raise ExerciseError("Frozen: .eval() left a layer in train mode; call super().train(mode) in train().")
    return correct("Frozen: one step moved the head only: backbone weights and BatchNorm statistics unchanged")


@exercise("my_param_groups", _GROUPS_HINT, torch_seed=0)
def check_param_groups(fn) -> bool:
    """Check ``fn(net, lr, backbone_factor)``: the head at lr, the rest at lr * backbone_factor."""
    for lr, factor in ((0.05, 0.1), (0.2, 0.01)):
        net = _resnet18(num_classes=4)
        case = f"my_param_groups(resnet18, lr={lr}, backbone_factor={factor})"
        fail = lambda msg: ExerciseError(f"my_param_groups: for {case} {msg}")  # noqa: E731
        groups = call(fn, (net, lr, factor), name="my_param_groups", case=case, first=lr == 0.05, hint=_GROUPS_HINT)
        if not isinstance(groups, (list, tuple)) or not all(isinstance(g, dict) and "params" in g for g in groups):
            raise fail("return a list of dicts with 'params' and 'lr'.")
        names = {id(p): n for n, p in net.named_parameters()}
        seen: dict[str, float] = {}
        for g in groups:
            if "lr" not in g:
                raise fail("a group has no 'lr' (the optimizer's default would apply to it silently); give each "
                           "group its own lr.")
            for p in list(g["params"]):
                if (n := names.get(id(p))) is None:
                    raise fail("a group holds a tensor that is not a parameter of net (a copy?): pass the parameters "
                               "themselves.")
                if n in seen:
                    raise fail(f"{n} is in two groups (PyTorch refuses this): the backbone group must leave out fc's "
                               "parameters.")
                seen[n] = float(g["lr"])
        if missing := [n for n in names.values() if n not in seen]:
            raise fail(f"{len(missing)} parameters are in no group (e.g. {missing[0]}): they would never train; filter "
                       "by name (fc. or not), not by layer type.")
        head = {n: v for n, v in seen.items() if n.startswith("fc.")}
        body = {n: v for n, v in seen.items() if not n.startswith("fc.")}
        if all(abs(v - lr * factor) < 1e-12 for v in head.values()) and all(abs(v - lr) < 1e-12 for v in body.values()):
            raise fail("the rates are swapped: the new head learns at lr, the pre-trained backbone at the smaller "
                       "lr * backbone_factor.")
        if bad := next(((n, v, lr) for n, v in head.items() if abs(v - lr) > 1e-12), None) or next(
                ((n, v, lr * factor) for n, v in body.items() if abs(v - lr * factor) > 1e-12), None):
            raise fail(f"{bad[0]} has lr {bad[1]:g}, expected {bad[2]:g}.")
        torch.optim.SGD(copy.copy(list(groups)), lr=lr, momentum=0.9)  # PyTorch accepts them as they are
    return correct("my_param_groups: the head at lr, the backbone at lr * backbone_factor, every parameter once")
