"""Transfer learning: a pre-trained backbone with a new head, frozen or fine-tuned.

The seed article's core workflow: *take a pre-trained model, freeze most of it, and fine-tune a small head
for your task.* Three strategies, one class:

- ``strategy="frozen"``: the backbone is a fixed feature extractor; only the new head learns. Its
  BatchNorm layers stay in eval mode too, so their running statistics do not drift (a frozen backbone
  whose BatchNorm statistics keep updating is not frozen).
- ``strategy="finetune"``: everything learns, usually with a smaller learning rate for the backbone
  (:func:`param_groups`).
- ``strategy="scratch"``: the same architecture from random weights (the baseline to beat).

>>> import torch
>>> model = TransferClassifier(resnet18_backbone(), num_classes=4, strategy="frozen")
>>> model(torch.zeros(2, 3, 64, 64)).shape, count_trainable(model)
(torch.Size([2, 4]), 2052)
"""
from __future__ import annotations

from pathlib import Path

import torch
import torch.nn as nn

__all__ = ["resnet18_backbone", "load_weights", "TransferClassifier", "count_trainable", "param_groups",
           "STRATEGIES"]

STRATEGIES = ("frozen", "finetune", "scratch")


def load_weights(module: nn.Module, path: str | Path, strict: bool = True,
                 ignore: tuple[str, ...] = ()) -> nn.Module:
    """Load a state dict file into ``module`` with ``torch.load(..., weights_only=True)`` (data, never code).

    Accepts a plain state dict or a coursekit checkpoint (``{"model": state_dict, ...}``). Keys starting
    with one of ``ignore`` are dropped first (e.g. ``("fc.",)``: an old classification layer).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"weights file {path} does not exist")
    state = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(state, dict) and "model" in state and isinstance(state["model"], dict):
        state = state["model"]
    state = {k: v for k, v in state.items() if not k.startswith(ignore)} if ignore else state
    try:
        missing, unexpected = module.load_state_dict(state, strict=False)
    except RuntimeError as err:  # shapes differ
        raise ValueError(f"{path} does not fit {type(module).__name__}: {err}") from None
    if strict and (missing or unexpected):
        raise ValueError(
            f"{path} does not fit {type(module).__name__}: missing keys {missing[:5]}{'...' if len(missing) > 5 else ''},"
            f" unexpected keys {unexpected[:5]}{'...' if len(unexpected) > 5 else ''}. "
            "Was it saved from another architecture?"
        )
    return module


def resnet18_backbone(weights: str | Path | None = None) -> nn.Module:
    """torchvision's ResNet-18 without its classification layer: images -> 512 features.

    ``weights``: ``None`` (random init), ``"imagenet"`` (the official ImageNet weights through the asset
    registry, checksummed) or the path of a state dict file (e.g. the course's own pre-trained stand-in).
    The returned module has ``.num_features == 512``.
    """
    import torchvision

    net = torchvision.models.resnet18(weights=None)
    net.fc = nn.Identity()  # the ImageNet classifier is not used: its weights are skipped when loading
    if weights == "imagenet":
        from ..assets import fetch

        load_weights(net, fetch("resnet18-imagenet"), ignore=("fc.",))
    elif weights is not None:
        load_weights(net, weights, ignore=("fc.",))
    net.num_features = 512
    return net


class TransferClassifier(nn.Module):
    """``backbone`` (images -> features) followed by a new linear ``head`` (features -> classes).

    Args:
        backbone: a module with a ``num_features`` attribute (see :func:`resnet18_backbone`).
        num_classes: outputs of the new head.
        strategy: ``"frozen"``, ``"finetune"`` or ``"scratch"`` (see the module docstring). For
            ``"scratch"`` the caller passes a randomly initialised backbone; this class only records it.
    """

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
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def param_groups(model: TransferClassifier, lr: float, backbone_lr_factor: float = 0.1) -> list[dict]:
    """Optimizer parameter groups: the head at ``lr``, the backbone (if trainable) at ``lr * factor``.

    A pre-trained backbone already holds good features; a smaller step keeps fine-tuning from wrecking
    them in the first noisy steps. For ``"scratch"`` both use ``lr``.
    """
    groups = [{"params": list(model.head.parameters()), "lr": lr, "name": "head"}]
    backbone = [p for p in model.backbone.parameters() if p.requires_grad]
    if backbone:
        factor = 1.0 if model.strategy == "scratch" else backbone_lr_factor
        groups.append({"params": backbone, "lr": lr * factor, "name": "backbone"})
    return groups
