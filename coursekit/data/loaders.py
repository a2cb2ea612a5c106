"""TensorLoader: the whole (small) dataset on the device as one tensor, shuffled and augmented there with
batched ops (:func:`batch_flip`, :func:`batch_crop`, :func:`batch_cutout`), reproducible from ``(seed, epoch)``.

>>> import numpy as np
>>> images = np.zeros((10, 32, 32, 3), dtype=np.uint8)
>>> labels = np.arange(10) % 3
>>> loader = TensorLoader(images, labels, batch_size=4, shuffle=True, augment=Augment(cutout=8),
...                       mean=CIFAR10_MEAN, std=CIFAR10_STD)
>>> len(loader), [tuple(x.shape) for x, y in loader]
(3, [(4, 3, 32, 32), (4, 3, 32, 32), (2, 3, 32, 32)])
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Sequence

import numpy as np
import torch
import torch.nn.functional as F

__all__ = ["CIFAR10_MEAN", "CIFAR10_STD", "Augment", "TensorLoader", "channel_stats", "batch_flip", "batch_crop",
           "batch_cutout"]

#: Per-channel (R, G, B) mean and standard deviation of the CIFAR-10 training images, in [0, 1] units.
#: (The often-copied std ``(0.2023, 0.1994, 0.2010)`` is the mean of per-image stds, not the pixel std.)
CIFAR10_MEAN = (0.4914, 0.4822, 0.4465)
CIFAR10_STD = (0.2470, 0.2435, 0.2616)


@dataclass(frozen=True)
class Augment:
    """:class:`TensorLoader`'s training augmentations: a random shift of up to ``crop_pad`` px (padded with
    ``pad_mode``), a left-right ``flip`` of half the images, a ``cutout`` square set to 0 (the mean colour)."""

    crop_pad: int = 4
    flip: bool = True
    cutout: int = 0
    pad_mode: str = "reflect"

    def __post_init__(self):
        if self.crop_pad < 0 or self.cutout < 0:
            raise ValueError(f"crop_pad and cutout must be >= 0; got {self.crop_pad} and {self.cutout}")
        if self.pad_mode not in ("reflect", "replicate", "constant"):
            raise ValueError(f"pad_mode must be 'reflect', 'replicate' or 'constant'; got {self.pad_mode!r}")


def batch_flip(x: torch.Tensor, flip: torch.Tensor) -> torch.Tensor:
    """Mirror left-right the images of ``x`` (N, C, H, W) where the bool mask ``flip`` (N,) is True."""
    return torch.where(flip[:, None, None, None], x.flip(3), x)


def batch_crop(x: torch.Tensor, pad: int, dy: torch.Tensor, dx: torch.Tensor, mode: str = "reflect") -> torch.Tensor:
    """Pad ``x`` (N, C, H, W) by ``pad`` and gather each image's H x W window at ``(dy[i], dx[i])`` of the padded
    image (in ``[0, 2 * pad]``; ``pad`` is no shift) with one indexing operation."""
    if pad == 0:
        return x
    n, c, h, w = x.shape
    padded = F.pad(x, (pad, pad, pad, pad), mode=mode)
    rows = dy[:, None] + torch.arange(h, device=x.device)  # (N, H): the padded rows each image keeps
    cols = dx[:, None] + torch.arange(w, device=x.device)  # (N, W)
    batch = torch.arange(n, device=x.device)[:, None, None, None]
    channel = torch.arange(c, device=x.device)[None, :, None, None]
    return padded[batch, channel, rows[:, None, :, None], cols[:, None, None, :]]


def batch_cutout(x: torch.Tensor, size: int, y0: torch.Tensor, x0: torch.Tensor) -> torch.Tensor:
    """Zero a ``size x size`` square in each image of ``x`` (N, C, H, W), top-left at ``(y0[i], x0[i])``."""
    if size == 0:
        return x
    h, w = x.shape[2:]
    rows = torch.arange(h, device=x.device)[None, :]  # (1, H)
    cols = torch.arange(w, device=x.device)[None, :]
    in_rows = (rows >= y0[:, None]) & (rows < y0[:, None] + size)  # (N, H)
    in_cols = (cols >= x0[:, None]) & (cols < x0[:, None] + size)  # (N, W)
    square = in_rows[:, :, None] & in_cols[:, None, :]  # (N, H, W)
    return x.masked_fill(square[:, None], 0)


def _as_nchw_float(images) -> torch.Tensor:
    """uint8 (N, H, W, C) -> float32 (N, C, H, W) in [0, 1]; float (N, C, H, W) is passed through."""
    x = torch.as_tensor(images)
    if x.dtype == torch.uint8:
        if x.ndim != 4 or x.shape[-1] not in (1, 3):
            raise ValueError(f"uint8 images must have shape (N, H, W, C) with C = 1 or 3 (as loaded from files); "
                             f"got {tuple(x.shape)}")
        return x.permute(0, 3, 1, 2).float().div(255)
    if x.is_floating_point():
        if x.ndim != 4 or x.shape[1] not in (1, 3):
            hint = " (this looks like (N, H, W, C): use images.permute(0, 3, 1, 2))" if x.ndim == 4 and x.shape[-1] in (1, 3) else ""
            raise ValueError(f"float images must have shape (N, C, H, W) with C = 1 or 3 and values in [0, 1]; "
                             f"got {tuple(x.shape)}{hint}")
        return x.float()
    raise TypeError(f"images must be uint8 (N, H, W, C) or float (N, C, H, W); got dtype {x.dtype}")


def channel_stats(images, chunk: int = 4096) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and std of ``images`` in [0, 1] units; compute them on the training set only.

    >>> import numpy as np
    >>> images = np.zeros((2, 4, 4, 3), dtype=np.uint8); images[1] = 255
    >>> channel_stats(images)
    ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
    """
    total = total_sq = None
    count = 0
    for start in range(0, len(images), chunk):  # in chunks: float64 copies of all of CIFAR would be 1.2 GB
        x = _as_nchw_float(images[start : start + chunk]).double()
        s, sq = x.sum(dim=(0, 2, 3)), (x * x).sum(dim=(0, 2, 3))
        total, total_sq = (s, sq) if total is None else (total + s, total_sq + sq)
        count += x.shape[0] * x.shape[2] * x.shape[3]
    if total is None:
        raise ValueError("channel_stats needs at least one image")
    mean = total / count
    std = (total_sq / count - mean**2).clamp(min=0).sqrt()
    return tuple(mean.tolist()), tuple(std.tolist())


class TensorLoader:
    """Batches (and augments) an in-memory image dataset on the device; a drop-in for ``DataLoader``.
    ``rank``/``world_size`` shard each epoch like ``DistributedSampler``; each loop is the next epoch."""

    def __init__(self, images, labels, batch_size: int = 512, shuffle: bool = False, augment: bool | Augment = False,
                 mean: Sequence[float] | None = None, std: Sequence[float] | None = None,
                 device: str | torch.device = "cpu", drop_last: bool = False, seed: int = 0,
                 dtype: torch.dtype = torch.float32, channels_last: bool = False, num_classes: int | None = None,
                 rank: int = 0, world_size: int = 1):
        if not isinstance(world_size, int) or world_size < 1 or not isinstance(rank, int) or not 0 <= rank < world_size:
            raise ValueError(f"need 0 <= rank < world_size (integers); got rank={rank!r}, world_size={world_size!r}")
        self.rank, self.world_size = rank, world_size
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer; got {batch_size!r}")
        if not isinstance(seed, int) or seed < 0:
            raise ValueError(f"seed must be a non-negative integer; got {seed!r}")
        self.device = torch.device(device)
        self.batch_size, self.shuffle, self.drop_last = batch_size, shuffle, drop_last
        self.seed, self.epoch, self.channels_last = seed, 0, channels_last
        self.augment = Augment() if augment is True else (augment or None)
        if self.augment is not None and not isinstance(self.augment, Augment):
            raise TypeError(f"augment must be True, False or an Augment(...); got {augment!r}")

        # Labels: integer class indices, one per image.
        y = torch.as_tensor(np.array(labels) if not isinstance(labels, torch.Tensor) else labels)  # a copy: arrays may be read-only
        if y.ndim != 1 or y.dtype == torch.bool or y.is_floating_point() or y.is_complex():
            raise ValueError(f"labels must be a 1-D array of integer class indices; got dtype {y.dtype}, shape {tuple(y.shape)}")
        if len(y) != len(images):
            raise ValueError(f"images and labels differ in length: {len(images)} images, {len(y)} labels")
        if len(y) == 0:
            raise ValueError("the dataset is empty")
        if len(y) < world_size:
            raise ValueError(f"{len(y)} images cannot be split into world_size={world_size} shards")
        if y.min() < 0 or (num_classes is not None and y.max() >= num_classes):
            upper = f"num_classes - 1 = {num_classes - 1}" if num_classes is not None else "infinity"
            raise ValueError(f"labels must be in [0, {upper}]; found values from {int(y.min())} to {int(y.max())}")

        # Images: (N, C, H, W) float on the device, normalised once here rather than every batch.
        if isinstance(images, np.ndarray) and not images.flags.writeable:
            images = images.copy()  # torch cannot share read-only memory (e.g. a memory-mapped dataset)
        x = _as_nchw_float(torch.as_tensor(images).to(self.device))
        if (mean is None) != (std is None):
            raise ValueError("give both mean and std, or neither")
        if mean is not None:
            m = torch.as_tensor(mean, dtype=torch.float32, device=self.device)
            s = torch.as_tensor(std, dtype=torch.float32, device=self.device)
            if m.shape != (x.shape[1],) or s.shape != (x.shape[1],):
                raise ValueError(f"mean and std need one value per channel ({x.shape[1]}); got {list(mean)} and {list(std)}")
            if (s <= 0).any():
                raise ValueError(f"std must be positive; got {list(std)}")
            x = (x - m[:, None, None]) / s[:, None, None]
        h, w = x.shape[2:]
        if self.augment is not None:
            if self.augment.crop_pad >= min(h, w) and self.augment.pad_mode == "reflect":
                raise ValueError(f"crop_pad={self.augment.crop_pad} is too large for {h}x{w} images with reflect padding")
            if self.augment.cutout > min(h, w):
                raise ValueError(f"cutout={self.augment.cutout} is larger than the {h}x{w} images")
        self.images = x.to(dtype).contiguous()
        self.labels = y.to(device=self.device, dtype=torch.int64)

    def __len__(self) -> int:
        """Number of batches per epoch (of this process's shard)."""
        n = self.shard_samples
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    @property
    def shard_samples(self) -> int:
        """Number of images this process sees per epoch: ``len(labels) // world_size``."""
        return len(self.labels) // self.world_size

    def set_epoch(self, epoch: int) -> None:
        """Make the next loop over the loader produce epoch ``epoch``'s order and augmentations."""
        self.epoch = int(epoch)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        epoch = self.epoch
        self.epoch += 1  # the next loop is the next epoch, unless set_epoch says otherwise
        return self._batches(epoch)

    def __repr__(self) -> str:
        n, c, h, w = self.images.shape
        return (f"TensorLoader({n} images {c}x{h}x{w}, batch_size={self.batch_size}, batches={len(self)}, "
                f"shuffle={self.shuffle}, augment={self.augment}, device='{self.device}'"
                + (f", rank={self.rank}, world_size={self.world_size})" if self.world_size > 1 else ")"))

    def epoch_plan(self, epoch: int) -> dict[str, torch.Tensor]:
        """One epoch's image order and, per position, flip / crop offset / cutout corner (drawn on the CPU,
        reproducible); with ``world_size > 1`` this process's interleaved shard of it."""
        n, (h, w) = len(self.labels), self.images.shape[2:]
        state = np.random.SeedSequence([self.seed, epoch]).generate_state(1, np.uint64)[0]
        g = torch.Generator().manual_seed(int(state))  # on the CPU: the same numbers on every machine and device
        plan = {"order": torch.randperm(n, generator=g) if self.shuffle else torch.arange(n)}
        a = self.augment
        if a is not None:
            plan["flip"] = torch.rand(n, generator=g) < 0.5 if a.flip else torch.zeros(n, dtype=torch.bool)
            plan["dy"] = torch.randint(0, 2 * a.crop_pad + 1, (n,), generator=g)
            plan["dx"] = torch.randint(0, 2 * a.crop_pad + 1, (n,), generator=g)
            plan["cut_y"] = torch.randint(0, h - a.cutout + 1, (n,), generator=g)
            plan["cut_x"] = torch.randint(0, w - a.cutout + 1, (n,), generator=g)
        if self.world_size > 1:  # the same plan on every process; each keeps its interleaved shard
            keep = self.shard_samples * self.world_size
            plan = {k: v[:keep][self.rank :: self.world_size] for k, v in plan.items()}
        return {k: v.to(self.device) for k, v in plan.items()}

    def _batches(self, epoch: int) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        plan = self.epoch_plan(epoch)
        for b in range(len(self)):
            at = slice(b * self.batch_size, (b + 1) * self.batch_size)
            index = plan["order"][at]
            x, y = self.images[index], self.labels[index]
            a = self.augment
            if a is not None:
                if a.flip:
                    x = batch_flip(x, plan["flip"][at])
                x = batch_crop(x, a.crop_pad, plan["dy"][at], plan["dx"][at], mode=a.pad_mode)
                x = batch_cutout(x, a.cutout, plan["cut_y"][at], plan["cut_x"][at])
            if self.channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            yield x, y
