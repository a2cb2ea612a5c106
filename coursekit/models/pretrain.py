"""Pre-trained backbones for Module 2: the real ImageNet ResNet-18, or the course's offline stand-in.

>>> BB = standin_backbone()                       # doctest: +SKIP
>>> model = BB.create(pretrained=True)            # doctest: +SKIP
>>> model.num_features                            # doctest: +SKIP
128
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn as nn

from ..assets import fetch
from ..config import settings as _settings
from ..standins import real_or_standin
from .registry import Loaded, shipped_standin
from .resnet9 import ResNet9
from .transfer import load_weights, resnet18_backbone

__all__ = ["Backbone", "STANDIN_PARTS", "IMAGENET_MEAN", "IMAGENET_STD", "pretrained_backbone", "standin_backbone",
           "imagenet_backbone", "resnet9_backbone"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
STANDIN_PARTS: tuple[str, ...] = ("hex_nut", "circlip", "bolt", "knob")
"""The part types the stand-in is pre-trained on: none of them is in the inspection dataset."""
STANDIN_NAME = "pretrained_standin"


@dataclass(kw_only=True)
class Backbone(Loaded):
    """A :class:`~coursekit.models.registry.Loaded` pre-trained feature extractor (``model``) that also says how to
    feed it (``mean``, ``std``, ``input_size``, :meth:`prepare`) and builds fresh copies (:meth:`create`)."""

    arch: str
    mean: tuple[float, ...]
    std: tuple[float, ...]
    input_size: int
    factory: Callable[[Path | None], nn.Module] = field(repr=False)
    lr: dict = field(default_factory=dict)

    @classmethod
    def build(cls, factory: Callable[[Path | None], nn.Module], weights: Path | None, **fields) -> "Backbone":
        """A Backbone whose ``model`` is ``factory(weights)``, built without touching the caller's random stream."""
        with torch.random.fork_rng(devices=[]):  # the fresh network draws initial weights before loading its own
            model = factory(weights)
        return cls(model=model, weights=weights, factory=factory, **fields)

    def create(self, pretrained: bool = True) -> nn.Module:
        """A new backbone with the pre-trained weights, or (``pretrained=False``) random ones (from scratch)."""
        return self.factory(self.weights if pretrained else None)

    def prepare(self, images: np.ndarray) -> np.ndarray:
        """uint8 (N, H, W, 3) images resized to ``input_size`` (a no-op when they already have it)."""
        import cv2

        images = np.asarray(images)
        if images.ndim != 4 or images.shape[-1] != 3:
            raise ValueError(f"images must be (N, H, W, 3); got shape {images.shape}")
        if len(images) == 0:
            return np.empty((0, self.input_size, self.input_size, 3), images.dtype)
        if images.shape[1:3] == (self.input_size, self.input_size):
            return images
        interp = cv2.INTER_CUBIC if images.shape[1] < self.input_size else cv2.INTER_AREA
        return np.stack([cv2.resize(im, (self.input_size, self.input_size), interpolation=interp) for im in images])


def resnet9_backbone(width: int = 16, weights: str | os.PathLike | None = None) -> nn.Module:
    """The course's ResNet-9 without its classifier: images -> ``8 * width`` features (global max pool, x 0.125)."""
    net = ResNet9(num_classes=1, width=width)
    net.fc = nn.Identity()  # the features keep ResNet-9's x 0.125 scale: max-pooled features are large, and
    # a new head on unscaled ones starts with huge logits (training then diverges at usual learning rates)
    if weights is not None:
        load_weights(net, weights, ignore=("fc.",))
    net.num_features = 8 * width
    return net


def imagenet_backbone(settings=None, progress: bool = True) -> Backbone:
    """ResNet-18 with the official ImageNet weights (downloaded once, checksummed); raises
    :class:`~coursekit.assets.AssetUnavailable` when they are not cached and cannot be downloaded."""
    S = settings or _settings()
    path = fetch("resnet18-imagenet", home=S.home, progress=progress, offline=S.offline)
    size = 192 if str(S.device).startswith("cuda") else (96 if S.smoke else 128)
    # ResNet-18's average-pooled features are several times longer than the stand-in's (x 0.125) ones: smaller
    # head steps. Usual values for ImageNet transfer with SGD; not yet tuned on this dataset by the course.
    lr = {"frozen": 0.02, "finetune": 0.01, "scratch": 0.05}
    return Backbone.build(resnet18_backbone, Path(path), name="resnet18-imagenet", arch="resnet18",
                          mean=IMAGENET_MEAN, std=IMAGENET_STD, input_size=size, is_standin=False, lr=lr)


def standin_backbone(root: str | os.PathLike | None = None) -> Backbone:
    """The course's stand-in backbone (shipped weights, checksum verified)."""
    manifest, path = shipped_standin(STANDIN_NAME, root, "python -m tools.build_pretrain_standin")
    width = int(manifest["recipe"]["width"])
    return Backbone.build(lambda w: resnet9_backbone(width, w), path, name="resnet9-parts-standin",
                          arch=f"resnet9-w{width}", mean=tuple(manifest["mean"]), std=tuple(manifest["std"]),
                          input_size=int(manifest["recipe"]["size"]), is_standin=True, info=manifest)


def pretrained_backbone(settings=None, progress: bool = True) -> Backbone:
    """The real ImageNet ResNet-18 when available; offline, the announced stand-in (smoke profile, or
    ``COURSEKIT_STANDINS=1``)."""
    S = settings or _settings()
    return real_or_standin(
        S, lambda: imagenet_backbone(S, progress=progress), standin_backbone, what="the ImageNet ResNet-18 file",
        replaces="ResNet-18 with ImageNet weights (torchvision, 11.7M parameters)",
        by=lambda spec: (f"ResNet-9 width {spec.info['recipe']['width']} pre-trained by the course on defects of "
                         f"other part types ({', '.join(spec.info['recipe']['parts'])})"),
        real_result="ImageNet features transfer to the inspection task; see 'What the real run shows' below")
