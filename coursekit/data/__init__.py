"""Datasets and loaders: CIFAR-10 (real or stand-in), in-memory arrays, on-device batching.

>>> from coursekit.data import ArrayDataset, TensorLoader, load_cifar10
"""
from .arrays import ArrayDataset
from .cifar import CIFAR10_CLASSES, SMOKE_SIZES, cifar10_loaders, load_cifar10
from .imagefolder import (FolderReport, ImageFolderError, Problem, list_image_folder, load_image_folder,
                          validate_image_folder)
from .loaders import CIFAR10_MEAN, CIFAR10_STD, Augment, TensorLoader, channel_stats
from .standin import make_standin_cifar10

__all__ = [
    "ArrayDataset", "load_cifar10", "cifar10_loaders", "CIFAR10_CLASSES", "SMOKE_SIZES", "make_standin_cifar10",
    "TensorLoader", "Augment", "channel_stats", "CIFAR10_MEAN", "CIFAR10_STD",
    "validate_image_folder", "load_image_folder", "list_image_folder", "FolderReport", "Problem", "ImageFolderError",
]
