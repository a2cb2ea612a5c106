"""A small plain convolutional network: the baseline to compare ResNet-9 against, and the test model.

>>> import torch
>>> SimpleCNN(num_classes=10, width=8)(torch.zeros(2, 3, 32, 32)).shape
torch.Size([2, 10])
"""
from __future__ import annotations

from collections import OrderedDict

import torch
import torch.nn as nn

from .registry import register_model

__all__ = ["SimpleCNN", "simple_cnn"]


class SimpleCNN(nn.Module):
    """``depth`` x (conv 3x3 -> BatchNorm -> ReLU -> maxpool 2) -> global average pool -> linear."""

    def __init__(self, num_classes: int = 10, width: int = 32, in_channels: int = 3, depth: int = 3):
        super().__init__()
        blocks, c_in = OrderedDict(), in_channels
        for i in range(depth):
            c_out = width * 2**i
            blocks[f"block{i + 1}"] = nn.Sequential(OrderedDict(
                conv=nn.Conv2d(c_in, c_out, kernel_size=3, padding=1, bias=False), bn=nn.BatchNorm2d(c_out),
                relu=nn.ReLU(inplace=True), pool=nn.MaxPool2d(2)))
            c_in = c_out
        self.features = nn.Sequential(blocks)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.flatten = nn.Flatten()
        self.fc = nn.Linear(c_in, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.flatten(self.pool(self.features(x))))


@register_model
def simple_cnn(num_classes: int = 10, width: int = 32, in_channels: int = 3, depth: int = 3) -> SimpleCNN:
    """A plain 3-block CNN (~0.1M parameters at ``width=32``)."""
    return SimpleCNN(num_classes=num_classes, width=width, in_channels=in_channels, depth=depth)
