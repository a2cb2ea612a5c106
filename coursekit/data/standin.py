"""The offline CIFAR-10 stand-in: 10 balanced classes of 32x32 rendered parts (the class is the shape),
train and test from disjoint scene ranges.

>>> train, test = make_standin_cifar10(50, 20, seed=0, progress=False)
>>> train.images.shape, test.class_counts().tolist(), train.is_standin
((50, 32, 32, 3), [2, 2, 2, 2, 2, 2, 2, 2, 2, 2], True)
"""
from __future__ import annotations

from ..scenes import PARTS, make_object_dataset
from .arrays import ArrayDataset

__all__ = ["make_standin_cifar10", "STANDIN_NAME", "TEST_OFFSET"]

STANDIN_NAME = "scene-cifar10 stand-in"
TEST_OFFSET = 1_000_000_000  #: test images are scenes TEST_OFFSET, TEST_OFFSET + 1, ...; train starts at 0


def make_standin_cifar10(n_train: int, n_test: int, seed: int = 0, domain: str = "source",
                         progress: bool = True) -> tuple[ArrayDataset, ArrayDataset]:
    """Generate (train, test) stand-in splits, class-balanced, 32x32 RGB (about 600 images/s on one core)."""
    for label, n in (("n_train", n_train), ("n_test", n_test)):
        if not isinstance(n, int) or isinstance(n, bool) or n < 1:
            raise ValueError(f"{label} must be an int >= 1; got {n!r}")
    if n_train > TEST_OFFSET:
        raise ValueError(f"n_train must be <= {TEST_OFFSET:,} (train and test index ranges must not overlap)")
    out = []
    for split, n, offset in (("train", n_train, 0), ("test", n_test, TEST_OFFSET)):
        x, y, classes = make_object_dataset(n, size=32, seed=seed, domain=domain, parts=PARTS,
                                            progress=progress, offset=offset)
        out.append(ArrayDataset(x, y, classes, name=f"{STANDIN_NAME} {split}", is_standin=True))
    return out[0], out[1]
