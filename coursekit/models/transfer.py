"""Transfer learning: a pre-trained backbone with a new head, frozen or fine-tuned.

>>> import torch
>>> model = TransferClassifier(resnet18_backbone(), num_classes=4, strategy="frozen")
>>> model(torch.zeros(2, 3, 64, 64)).shape, count_trainable(model)
(torch.Size([2, 4]), 2052)
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn

from ..assets import fetch
from ..config import module_setting
from .registry import count_parameters

__all__ = ["resnet18_backbone", "load_weights", "TransferClassifier", "count_trainable", "param_groups", "STRATEGIES",
           "TRANSFER_SETTINGS", "transfer_setting", "subset_per_class", "fit_transfer", "labels_to_reach",
           "label_saving_factor"]

STRATEGIES = ("frozen", "finetune", "scratch")

#: Module 2's sizes per run profile. ``ks``: labelled images per class on the labels curve (past the shipped 200,
#: the notebook renders more); ``seeds``: draws of the labelled subset; ``steps``: SGD steps per run, at least;
#: ``min_epochs``: passes at least, validated per epoch to show the plateau (0: fixed ``steps``); ``lr``: the
#: head's peak learning rate per strategy; ``pool`` / ``n_extra`` / ``cycles``: the targeted-data loop's sizes.
_LR = {"frozen": 0.2, "finetune": 0.05, "scratch": 0.05}
TRANSFER_SETTINGS = {
    "full": dict(ks=(5, 10, 25, 50, 200, 500, 2000), seeds=(0, 1, 2), steps=200, min_epochs=20, batch_size=32,
                 pool=1000, n_extra=100, cycles=3, lr=dict(_LR)),
    "smoke": dict(ks=(10, 100), seeds=(0,), steps=20, min_epochs=0, batch_size=32, pool=200, n_extra=50, cycles=2,
                  lr=dict(_LR)),
}


def transfer_setting(S=None) -> dict:
    """This run's row of :data:`TRANSFER_SETTINGS` (by the profile), with its ``name``."""
    return module_setting(TRANSFER_SETTINGS, S)


def load_weights(module: nn.Module, path: str | Path, strict: bool = True,
                 ignore: tuple[str, ...] = ()) -> nn.Module:
    """Load a state dict file into ``module`` with ``torch.load(..., weights_only=True)`` (data, never code)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weights file {path} does not exist")
    state = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(state, dict) and "model" in state and isinstance(state["model"], dict):
        state = state["model"]
    state = {k: v for k, v in state.items() if not (ignore and k.startswith(ignore))}
    try:
        missing, unexpected = module.load_state_dict(state, strict=False)
    except RuntimeError as err:  # shapes differ
        raise ValueError(f"{path} does not fit {type(module).__name__}: {err}") from None
    if strict and (missing or unexpected):
        few = [f"{keys[:5]}{'...' if len(keys) > 5 else ''}" for keys in (missing, unexpected)]
        raise ValueError(f"{path} does not fit {type(module).__name__}: missing keys {few[0]}, unexpected keys "
                         f"{few[1]}. Was it saved from another architecture?")
    return module


def resnet18_backbone(weights: str | Path | None = None) -> nn.Module:
    """torchvision's ResNet-18 without its classification layer: images -> 512 features."""
    import torchvision

    net = torchvision.models.resnet18(weights=None)
    net.fc = nn.Identity()  # the ImageNet classifier is not used: its weights are skipped when loading
    if weights is not None:
        load_weights(net, fetch("resnet18-imagenet") if weights == "imagenet" else weights, ignore=("fc.",))
    net.num_features = 512
    return net


class TransferClassifier(nn.Module):
    """``backbone`` (images -> features) followed by a new linear ``head`` (features -> classes)."""

    def __init__(self, backbone: nn.Module, num_classes: int, strategy: str = "frozen"):
        super().__init__()
        if strategy not in STRATEGIES:
            raise ValueError(f"strategy must be one of {STRATEGIES}; got {strategy!r}")
        if not hasattr(backbone, "num_features"):
            raise TypeError("backbone needs a num_features attribute (the size of its output features)")
        self.backbone, self.strategy = backbone, strategy
        self.head = nn.Linear(backbone.num_features, num_classes)
        for p in self.backbone.parameters():
            p.requires_grad_(strategy != "frozen")

    def train(self, mode: bool = True) -> "TransferClassifier":
        """Like ``nn.Module.train``, but a frozen backbone always stays in eval mode (BatchNorm included)."""
        super().train(mode)
        if self.strategy == "frozen":
            self.backbone.eval()
        return self

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(x))


def count_trainable(model: nn.Module) -> int:
    """Number of parameters that will receive gradients."""
    return count_parameters(model)


def param_groups(model: TransferClassifier, lr: float, backbone_lr_factor: float = 0.1) -> list[dict]:
    """Optimizer parameter groups: the head at ``lr``, the backbone (if trainable) at ``lr * factor``."""
    groups = [{"params": list(model.head.parameters()), "lr": lr, "name": "head"}]
    backbone = [p for p in model.backbone.parameters() if p.requires_grad]
    if backbone:
        factor = 1.0 if model.strategy == "scratch" else backbone_lr_factor
        groups.append({"params": backbone, "lr": lr * factor, "name": "backbone"})
    return groups


def subset_per_class(labels, k: int, seed: int = 0, num_classes: int | None = None):
    """Indices of ``k`` examples of each class, drawn at random (seeded); a larger ``k`` with the same seed draws
    a superset, so the subsets of a labels curve are nested.

    >>> subset_per_class([0, 1, 0, 1, 0, 1], 2, seed=0).size
    4
    """
    labels = np.asarray(labels)
    if not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"k (examples per class) must be a positive int; got {k!r}")
    n_cls = int(num_classes if num_classes is not None else labels.max() + 1)
    out = []
    for c in range(n_cls):
        idx = np.flatnonzero(labels == c)
        if len(idx) < k:
            raise ValueError(f"class {c} has {len(idx)} examples, fewer than k={k}")
        out.append(np.random.default_rng([seed, c]).permutation(idx)[:k])
    return np.sort(np.concatenate(out))


def fit_transfer(model: TransferClassifier, train_loader, *, epochs: int, lr: float, backbone_lr_factor: float = 0.1,
                 weight_decay: float = 5e-4, val_loader=None, device=None, progress: bool = False):
    """Train a :class:`TransferClassifier` the same way for every strategy (SGD, Nesterov, one-cycle schedule with
    20% warm-up, :func:`param_groups`); returns the :class:`~coursekit.train.History`."""
    from ..train import fit

    groups = param_groups(model, lr, backbone_lr_factor)
    opt = torch.optim.SGD(groups, lr=lr, momentum=0.9, nesterov=True, weight_decay=weight_decay)
    steps = max(1, len(train_loader) * epochs)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, [g["lr"] for g in groups], total_steps=steps, pct_start=0.2)
    return fit(model, train_loader, epochs=epochs, optimizer=opt, scheduler=sched, val_loader=val_loader,
               device=device, progress=progress)


def labels_to_reach(ks, accuracies, target: float) -> float | None:
    """Labels per class at which a curve (``accuracies`` at increasing ``ks``) first reaches ``target``,
    interpolated linearly in log(k); ``None`` if it never does.

    >>> round(labels_to_reach([10, 100], [0.5, 0.9], 0.7), 1)
    31.6
    """
    ks, acc = [float(k) for k in ks], [float(a) for a in accuracies]
    if len(ks) != len(acc) or not ks:
        raise ValueError("ks and accuracies must be non-empty and the same length")
    if any(b <= a for a, b in zip(ks, ks[1:])):
        raise ValueError(f"ks must increase; got {ks}")
    if acc[0] >= target:
        return ks[0]
    for (k0, a0), (k1, a1) in zip(zip(ks, acc), zip(ks[1:], acc[1:])):
        if a1 >= target > a0:
            t = (target - a0) / (a1 - a0)
            return round(math.exp(math.log(k0) + t * (math.log(k1) - math.log(k0))), 6)
    return None


def label_saving_factor(ks, pretrained_acc, scratch_acc) -> dict:
    """How many times fewer labels the pre-trained model needs to match the from-scratch model's best.

    >>> label_saving_factor([5, 50, 500], [0.8, 0.9, 0.95], [0.3, 0.6, 0.9])["factor"]
    10.0
    """
    ks = list(ks)
    target = float(scratch_acc[-1])
    need = labels_to_reach(ks, pretrained_acc, target)
    factor = None if need is None else round(ks[-1] / need, 3)
    return {"target": target, "scratch_labels": ks[-1], "pretrained_labels": need, "factor": factor,
            "at_least": need is not None and need == ks[0]}
