"""Checks for notebook 02's fine-tuning exercises: a new head on torchvision's ResNet-18, a frozen backbone that
really stays frozen, and the optimizer's parameter groups. Same contract as :mod:`coursekit.exercises_cnn` (blank ->
a hint and ``False``; right -> ``True``; wrong -> :class:`ExerciseError` naming the likely mistake).

The reference is torchvision itself (``torchvision.models.resnet18``, random weights: the structure is the lesson,
and a seeded random network makes every check fast and offline) and :mod:`coursekit.models.transfer`, which the
notebook uses once these are written.

>>> def new_head(net, num_classes):
...     ...  # your code here
>>> check_new_head(new_head)  # doctest: +ELLIPSIS
… new_head: not attempted yet — hint: net.fc = nn.Linear(net.fc.in_features, num_classes)...
False
"""
from __future__ import annotations

import copy

import torch
import torch.nn as nn

from .exercises import ExerciseError, _call
from .exercises_cnn import _exercise

__all__ = ["check_new_head", "check_frozen", "check_param_groups", "ExerciseError"]

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
    if num_classes is not None:
        net.fc = nn.Linear(net.fc.in_features, num_classes)
    return net


def _snapshot(net: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in net.state_dict().items()}


@_exercise("new_head", _HEAD_HINT)
def check_new_head(fn) -> bool:
    """``fn(net, num_classes)`` returns torchvision's ResNet-18 with a new ``num_classes``-way ``fc``, and every
    other weight as it was (the pre-trained features are what you are paying for)."""
    for k in (4, 7):
        net = _resnet18()
        before = _snapshot(net)
        case = f"new_head(resnet18, {k})"
        out = _call(fn, (net, k), {}, name="new_head", case=case, first=k == 4, hint=_HEAD_HINT)
        out = net if out is None else out
        if not isinstance(out, nn.Module):
            raise ExerciseError(f"new_head: for {case} you returned {type(out).__name__}; return the network")
        fc = getattr(out, "fc", None)
        stacked = isinstance(fc, nn.Sequential) and any(
            isinstance(m, nn.Linear) and m.out_features == 1000 for m in fc.modules())
        if stacked or (isinstance(fc, nn.Linear) and fc.in_features == 1000):
            raise ExerciseError(f"new_head: for {case} your head sits after ImageNet's 1000-way classifier (its "
                                "1000 scores are its input). Replace fc (512 features -> classes); do not stack on it.")
        if not isinstance(fc, nn.Linear):
            raise ExerciseError(f"new_head: for {case} the result has no Linear .fc; replace net.fc itself "
                                "(torchvision's ResNet calls self.fc last in forward).")
        if fc.out_features != k:
            raise ExerciseError(f"new_head: for {case} the head has {fc.out_features} outputs, expected {k}: "
                                "use num_classes, not a number typed in.")
        with torch.no_grad():
            y = out.eval()(torch.zeros(2, 3, 64, 64))
        if tuple(y.shape) != (2, k):
            raise ExerciseError(f"new_head: for {case} the output has shape {tuple(y.shape)}, expected (2, {k}).")
        after = out.state_dict()
        changed = [n for n, v in before.items() if not n.startswith("fc.") and
                   (n not in after or not torch.equal(after[n], v))]
        if changed:
            raise ExerciseError(f"new_head: for {case} backbone weights changed or vanished ({changed[0]}, ...): "
                                "re-creating the network throws away the pre-trained weights; only replace fc.")
    print("✅ new_head: correct — a new 512 -> num_classes head, every backbone weight kept")
    return True


def _bn_buffers(m: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in m.named_buffers() if "running" in k or "num_batches" in k}


@_exercise("Frozen", _FROZEN_HINT)
def check_frozen(cls) -> bool:
    """``cls(net)`` wraps a ResNet-18 with a new head so that one training step (``.train()``, forward, SGD with
    momentum and weight decay on the trainable parameters) changes the head and nothing else: no backbone weight
    and no BatchNorm running statistic."""
    net = _resnet18(num_classes=4)
    case = "Frozen(resnet18 with a 4-way head), .train(), one SGD step"
    model = _call(cls, (net,), {}, name="Frozen", case=case, first=True, hint=_FROZEN_HINT)
    if not isinstance(model, nn.Module):
        raise ExerciseError(f"Frozen: Frozen(net) gave {type(model).__name__}; make Frozen an nn.Module subclass")
    model.eval()
    with torch.no_grad():  # eval mode: BatchNorm reads its statistics, does not update them
        _call(model, (torch.zeros(1, 3, 64, 64),), {}, name="Frozen", case=case, first=True, hint=_FROZEN_HINT)
    before, buffers = _snapshot(net), _bn_buffers(net)
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
    moved = [n for n, v in _bn_buffers(net).items() if not torch.equal(v, buffers[n])]
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
    print("✅ Frozen: correct — one step moved the head only: backbone weights and BatchNorm statistics unchanged")
    return True


@_exercise("my_param_groups", _GROUPS_HINT)
def check_param_groups(fn) -> bool:
    """``fn(net, lr, backbone_factor)`` returns the optimizer's two parameter groups for fine-tuning: the head at
    ``lr``, every other parameter at ``lr * backbone_factor``, each parameter in exactly one group."""
    for lr, factor in ((0.05, 0.1), (0.2, 0.01)):
        net = _resnet18(num_classes=4)
        case = f"my_param_groups(resnet18, lr={lr}, backbone_factor={factor})"
        groups = _call(fn, (net, lr, factor), {}, name="my_param_groups", case=case, first=lr == 0.05,
                       hint=_GROUPS_HINT)
        if not isinstance(groups, (list, tuple)) or not all(isinstance(g, dict) and "params" in g for g in groups):
            raise ExerciseError(f"my_param_groups: for {case} return a list of dicts with 'params' and 'lr'.")
        names = {id(p): n for n, p in net.named_parameters()}
        seen: dict[str, float] = {}
        for g in groups:
            if "lr" not in g:
                raise ExerciseError(f"my_param_groups: for {case} a group has no 'lr' (the optimizer's default "
                                    "would apply to it silently); give each group its own lr.")
            for p in list(g["params"]):
                n = names.get(id(p))
                if n is None:
                    raise ExerciseError(f"my_param_groups: for {case} a group holds a tensor that is not a parameter "
                                        "of net (a copy?): pass the parameters themselves.")
                if n in seen:
                    raise ExerciseError(f"my_param_groups: for {case} {n} is in two groups (PyTorch refuses this): "
                                        "the backbone group must leave out fc's parameters.")
                seen[n] = float(g["lr"])
        missing = [n for n in names.values() if n not in seen]
        if missing:
            raise ExerciseError(f"my_param_groups: for {case} {len(missing)} parameters are in no group (e.g. "
                                f"{missing[0]}): they would never train; filter by name (fc. or not), not by layer type.")
        head = {n: v for n, v in seen.items() if n.startswith("fc.")}
        body = {n: v for n, v in seen.items() if not n.startswith("fc.")}
        if all(abs(v - lr * factor) < 1e-12 for v in head.values()) and all(abs(v - lr) < 1e-12 for v in body.values()):
            raise ExerciseError(f"my_param_groups: for {case} the rates are swapped: the new head learns at lr, the "
                                "pre-trained backbone at the smaller lr * backbone_factor.")
        bad = next(((n, v, lr) for n, v in head.items() if abs(v - lr) > 1e-12), None) or next(
            ((n, v, lr * factor) for n, v in body.items() if abs(v - lr * factor) > 1e-12), None)
        if bad:
            raise ExerciseError(f"my_param_groups: for {case} {bad[0]} has lr {bad[1]:g}, expected {bad[2]:g}.")
        torch.optim.SGD(copy.copy(list(groups)), lr=lr, momentum=0.9)  # PyTorch accepts them as they are
    print("✅ my_param_groups: correct — the head at lr, the backbone at lr * backbone_factor, every parameter once")
    return True
