"""ArrayDataset: an image-classification split as NumPy arrays (uint8 NHWC images, int64 labels).

>>> import numpy as np
>>> ds = ArrayDataset(np.zeros((4, 32, 32, 3), np.uint8), np.array([0, 1, 1, 0]), ["a", "b"], name="toy")
>>> len(ds), ds.class_counts().tolist(), ds[1][1]
(4, [2, 2], 1)
>>> ds.subset([0, 3]).labels.tolist()
[0, 0]
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["ArrayDataset"]


@dataclass
class ArrayDataset:
    """N images, uint8 (N, H, W, 3) RGB, with int64 labels into ``classes``; ``is_standin``: generated data."""

    images: np.ndarray
    labels: np.ndarray
    classes: list[str]
    name: str = "arrays"
    is_standin: bool = False

    def __post_init__(self):
        images = np.asarray(self.images)
        if images.dtype != np.uint8:
            raise TypeError(f"{self.name}: images must be uint8 (0..255); got dtype {images.dtype} "
                            "(for floats in [0, 1] use (x * 255).round().astype(np.uint8))")
        if images.ndim != 4 or images.shape[-1] != 3:
            raise ValueError(f"{self.name}: images must be (N, H, W, 3) RGB; got shape {images.shape}")
        labels = np.asarray(self.labels)
        if labels.ndim != 1:
            raise ValueError(f"{self.name}: labels must be 1-D (N,); got shape {labels.shape}")
        if labels.size and not np.issubdtype(labels.dtype, np.integer):
            raise TypeError(f"{self.name}: labels must be integers; got dtype {labels.dtype}")
        if len(labels) != len(images):
            raise ValueError(f"{self.name}: {len(images)} images but {len(labels)} labels")
        classes = [str(c) for c in self.classes]
        if not classes:
            raise ValueError(f"{self.name}: classes must name at least one class")
        if labels.size and (labels.min() < 0 or labels.max() >= len(classes)):
            raise ValueError(f"{self.name}: labels must be in [0, {len(classes) - 1}] for {len(classes)} classes; "
                             f"got min {labels.min()}, max {labels.max()}")
        self.images, self.labels, self.classes = images, labels.astype(np.int64, copy=False), classes

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, i: int) -> tuple[np.ndarray, int]:
        """``(image uint8 (H, W, 3), label int)`` of sample ``i``."""
        return self.images[i], int(self.labels[i])

    def __repr__(self) -> str:
        standin = ", stand-in" if self.is_standin else ""
        return (f"ArrayDataset({self.name!r}: {len(self)} images {tuple(self.images.shape[1:])}, "
                f"{len(self.classes)} classes{standin})")

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def subset(self, indices) -> "ArrayDataset":
        """A new dataset with the samples at ``indices`` (int array, list or boolean mask), copied."""
        idx = np.asarray(indices)
        if idx.dtype == bool:
            if idx.shape != (len(self),):
                raise ValueError(f"{self.name}: boolean mask has shape {idx.shape}, expected ({len(self)},)")
            idx = np.flatnonzero(idx)
        return ArrayDataset(self.images[idx], self.labels[idx], list(self.classes), self.name, self.is_standin)

    def class_counts(self) -> np.ndarray:
        """int64 (C,): how many images each class has."""
        return np.bincount(self.labels, minlength=len(self.classes)).astype(np.int64)
