"""ResNet-9 for 32x32 images, and the recipe that trains it to ~94% on CIFAR-10 in 24 epochs.

>>> import torch
>>> model = ResNet9(num_classes=10, width=16)
>>> model(torch.zeros(2, 3, 32, 32)).shape
torch.Size([2, 10])
"""
from __future__ import annotations

from collections import OrderedDict

import torch
import torch.nn as nn

from ..config import module_setting
from .registry import register_model

__all__ = ["ConvBN", "Residual", "ResNet9", "resnet9", "resnet9_recipe", "piecewise_linear", "RESNET9_SETTINGS",
           "resnet9_setting"]

#: Module 1's settings per profile and hardware (notebook 01, benchmarks/cifar10_resnet9.py). On real CIFAR-10:
#: ``target`` the aim (None: not measured yet), ``floor`` what a working run reaches, ``floor_source`` the
#: published figure it rests on (asserted; None: a stated expectation, warned); ``standin_floor``: measured in CI.
_PAGE_2018 = ("published: D. Page, 'How to train your ResNet' (Myrtle.ai, 2018; DAWNBench): this ResNet-9 recipe "
              "reaches 94% test accuracy on CIFAR-10 in 24 epochs; the floor is 2 points below")
RESNET9_SETTINGS = {
    "full / GPU": dict(width=64, epochs=24, batch_size=512, target=0.94, floor=0.92, floor_source=_PAGE_2018),
    "full / CPU": dict(width=32, epochs=12, batch_size=512, target=None, floor=0.85, floor_source=None),
    "smoke": dict(width=16, epochs=4, batch_size=256, target=None, floor=0.40, floor_source=None, standin_floor=0.65),
}


class ConvBN(nn.Sequential):
    """3x3 convolution (padding 1, no bias: BatchNorm adds its own) -> BatchNorm -> ReLU."""

    def __init__(self, c_in: int, c_out: int):
        super().__init__(OrderedDict(conv=nn.Conv2d(c_in, c_out, kernel_size=3, padding=1, bias=False),
                                     bn=nn.BatchNorm2d(c_out), relu=nn.ReLU(inplace=True)))


class Residual(nn.Module):
    """``x + body(x)``: two :class:`ConvBN` blocks with a skip connection around them."""

    def __init__(self, channels: int):
        super().__init__()
        self.body = nn.Sequential(OrderedDict(conv1=ConvBN(channels, channels), conv2=ConvBN(channels, channels)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class ResNet9(nn.Module):
    """The DAWNBench ResNet-9."""

    def __init__(self, num_classes: int = 10, width: int = 64, in_channels: int = 3, logit_scale: float = 0.125):
        super().__init__()
        w = width
        self.prep = ConvBN(in_channels, w)
        self.layer1 = nn.Sequential(OrderedDict(conv=ConvBN(w, 2 * w), pool=nn.MaxPool2d(2), residual=Residual(2 * w)))
        self.layer2 = nn.Sequential(OrderedDict(conv=ConvBN(2 * w, 4 * w), pool=nn.MaxPool2d(2)))
        self.layer3 = nn.Sequential(OrderedDict(conv=ConvBN(4 * w, 8 * w), pool=nn.MaxPool2d(2),
                                                residual=Residual(8 * w)))
        self.pool = nn.AdaptiveMaxPool2d(1)  # global max pool: (N, 8w, h, w) -> (N, 8w, 1, 1)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(8 * w, num_classes, bias=False)
        self.logit_scale = logit_scale

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.layer3(self.layer2(self.layer1(self.prep(x))))
        return self.fc(self.flatten(self.pool(x))) * self.logit_scale


@register_model
def resnet9(num_classes: int = 10, width: int = 64, in_channels: int = 3) -> ResNet9:
    """ResNet-9 (``width=64``: ~6.57M parameters, the original; ``width=16`` for CPU smoke runs)."""
    return ResNet9(num_classes=num_classes, width=width, in_channels=in_channels)


def piecewise_linear(t: float, knots: list[float], values: list[float]) -> float:
    """Linear interpolation through ``(knots[i], values[i])``, flat outside the knots.

    >>> piecewise_linear(2.5, [0, 5, 24], [0.0, 0.4, 0.0])
    0.2
    """
    if t <= knots[0]:
        return values[0]
    for (k0, v0), (k1, v1) in zip(zip(knots, values), zip(knots[1:], values[1:])):
        if t <= k1:
            return v0 + (v1 - v0) * (t - k0) / (k1 - k0) if k1 > k0 else v1
    return values[-1]


def resnet9_recipe(model: nn.Module, steps_per_epoch: int, epochs: int = 24, *, peak_lr: float = 0.4,
                   warmup_fraction: float = 5 / 24, momentum: float = 0.9, weight_decay: float = 5e-4,
                   batch_size: int = 512, loss_reduction: str = "mean",
                   ) -> tuple[torch.optim.SGD, torch.optim.lr_scheduler.LambdaLR]:
    """The optimizer and learning-rate schedule that train ResNet-9 to ~94% on CIFAR-10 in 24 epochs."""
    if steps_per_epoch < 1 or epochs < 1:
        raise ValueError(f"steps_per_epoch and epochs must be >= 1; got {steps_per_epoch} and {epochs}")
    if not 0.0 <= warmup_fraction <= 1.0:
        raise ValueError(f"warmup_fraction must be in [0, 1]; got {warmup_fraction}")
    if loss_reduction == "mean":
        lr, wd = peak_lr, weight_decay
    elif loss_reduction == "sum":
        lr, wd = peak_lr / batch_size, weight_decay * batch_size
    else:
        raise ValueError(f"loss_reduction must be 'mean' or 'sum'; got {loss_reduction!r}")

    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum, nesterov=True, weight_decay=wd)
    total_steps = steps_per_epoch * epochs

    def lr_factor(step: int) -> float:  # the peak learning rate's multiplier at optimizer step 0, 1, 2, ...
        return piecewise_linear(step / total_steps, [0.0, warmup_fraction, 1.0], [0.0, 1.0, 0.0])

    return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, lr_factor)


def resnet9_setting(S=None) -> dict:
    """This run's row of :data:`RESNET9_SETTINGS`, with its ``name``: smoke, full on a GPU (CUDA or MPS), or full
    on a CPU.

    >>> from coursekit.config import Settings
    >>> resnet9_setting(Settings(profile="smoke"))["width"]
    16
    """
    return module_setting(RESNET9_SETTINGS, S)
