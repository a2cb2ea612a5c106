"""CIFAR-10 through the asset registry and torchvision, with the offline stand-in for the smoke profile.

>>> import coursekit as ck                                    # doctest: +SKIP
>>> train, test = ck.load_cifar10(ck.settings(profile="smoke"))  # doctest: +SKIP
>>> train.images.shape, train.classes[:3]                     # doctest: +SKIP
((5000, 32, 32, 3), ['airplane', 'automobile', 'bird'])
"""
from __future__ import annotations

import pickle
from pathlib import Path

import numpy as np

from ..assets import ASSETS, extract_tar, fetch
from ..config import Settings, settings as read_settings
from ..standins import real_or_standin
from .arrays import ArrayDataset

__all__ = ["load_cifar10", "cifar10_loaders", "CIFAR10_CLASSES", "SMOKE_SIZES", "CorruptCIFAR10"]

CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]

#: (train, test) sizes used by the smoke profile, for real CIFAR-10 and for the stand-in alike.
SMOKE_SIZES = (5000, 1000)


def _balanced_head(labels: np.ndarray, n: int, num_classes: int) -> np.ndarray:
    """Indices of the first ``n // num_classes`` images of each class, in dataset order."""
    per = n // num_classes
    picks = [np.flatnonzero(labels == c)[:per] for c in range(num_classes)]
    return np.sort(np.concatenate(picks))


def load_cifar10(S: Settings | None = None, n_train: int | None = None, n_test: int | None = None,
                 progress: bool = True) -> tuple[ArrayDataset, ArrayDataset]:
    """(train, test) CIFAR-10 as :class:`ArrayDataset`: real (checksummed asset; ``full`` profile raises
    :class:`~coursekit.assets.AssetUnavailable` without it), or in the ``smoke`` profile a class-balanced
    subset (:data:`SMOKE_SIZES`, ``n_train``/``n_test``) or, offline, the announced stand-in."""
    S = S or read_settings()
    if S.smoke:
        n_train = n_train or SMOKE_SIZES[0]
        n_test = n_test or SMOKE_SIZES[1]
    def standin():
        from .standin import make_standin_cifar10

        return make_standin_cifar10(n_train or 50_000, n_test or 10_000, seed=S.seed)

    return real_or_standin(
        S, lambda: _load_real(S, n_train, n_test, progress), standin, what="the CIFAR-10 archive",
        replaces="CIFAR-10 (60,000 real photographs, 10 classes)",
        by="generated 10-class 32x32 scenes of machined parts (coursekit.scenes), same interface",
        real_result="the full profile on real CIFAR-10 targets >= 94% test accuracy on a GPU "
                    "(see the time-budget table at the top of notebook 01)")


def _load_real(S: Settings, n_train: int | None, n_test: int | None, progress: bool):
    archive = fetch("cifar10", home=S.home, progress=progress, offline=S.offline)
    root = cifar10_root(archive, S)
    folder = root / "cifar-10-batches-py"
    classes = [c.decode() if isinstance(c, bytes) else str(c) for c in _read_pickle(folder / "batches.meta")["label_names"]]
    out = []
    for files, n, split in ((TRAIN_BATCHES, n_train, "train"), (("test_batch",), n_test, "test")):
        parts = [_read_batch(folder / f) for f in files]
        images = np.concatenate([p[0] for p in parts])
        labels = np.concatenate([p[1] for p in parts])
        if n is not None and n < len(labels):
            keep = _balanced_head(labels, n, len(classes))
            images, labels = images[keep], labels[keep]
        out.append(ArrayDataset(images, labels, classes, name=f"CIFAR-10 {split}", is_standin=False))
    return out[0], out[1]


def cifar10_root(archive: Path, S: Settings | None = None) -> Path:
    """The extracted CIFAR-10 folder: the cache's copy when it is there (a classroom's shared cache, extracted
    once by ``coursekit fetch``), else extracted from ``archive`` into the learner's writable folder."""
    from ..config import course_path, is_writable, writable_home

    S = S or read_settings()
    marker, sha = "cifar-10-batches-py/batches.meta", ASSETS["cifar10"].sha256
    dest = course_path("datasets", "cifar10", home=S.home, marker=marker)
    record = dest / ".extracted-from"
    stale = not (record.is_file() and record.read_text().strip() == sha)
    if stale and not is_writable(dest.parent):  # a shared copy made from another archive: extract your own
        dest = writable_home(S.home) / "datasets" / "cifar10"
    return extract_tar(archive, dest, marker=marker, source_sha256=sha)


TRAIN_BATCHES = tuple(f"data_batch_{i}" for i in range(1, 6))


class CorruptCIFAR10(RuntimeError):
    """A file of the extracted CIFAR-10 archive cannot be read as CIFAR-10."""


def _corrupt(path, why: str) -> CorruptCIFAR10:
    """The error for a damaged extracted file; the extraction (derived from the verified archive) is removed."""
    import shutil

    extraction = path.parent.parent
    shutil.rmtree(extraction, ignore_errors=True)
    return CorruptCIFAR10(
        f"{path}: not a readable CIFAR-10 file ({why}). The extracted copy was damaged and has been removed "
        f"({extraction}); run the cell again to extract it anew from the checked archive. If the error comes "
        "back, the archive itself is damaged: run `coursekit fetch cifar10 --force` (downloads it again and "
        "checks its sha256).")


class _CifarUnpickler(pickle.Unpickler):
    """CIFAR-10's batches are Python pickles; a pickle can run code, so only what the real files hold is
    allowed (NumPy's array reconstruction), whatever the archive's checksum says."""

    ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
               ("numpy", "ndarray"), ("numpy", "dtype"), ("_codecs", "encode")}  # bytes in protocol-2 pickles

    def find_class(self, module, name):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}")
        return super().find_class(module, name)


def _read_pickle(path) -> dict:
    if not path.is_file():
        raise _corrupt(path, "the file is missing")
    try:
        with open(path, "rb") as f:
            d = _CifarUnpickler(f, encoding="latin1").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, ImportError) as err:
        raise _corrupt(path, f"{type(err).__name__}: {err}") from None
    if not isinstance(d, dict):
        raise _corrupt(path, f"it holds a {type(d).__name__}, not a dict")
    return {k.decode() if isinstance(k, bytes) else k: v for k, v in d.items()}


def _read_batch(path) -> tuple[np.ndarray, np.ndarray]:
    """One batch file: uint8 images (N, 32, 32, 3) and int64 labels (N,), checked."""
    d = _read_pickle(path)
    if "data" not in d or "labels" not in d:
        raise _corrupt(path, f"keys {sorted(d)}; expected 'data' and 'labels'")
    data, labels = np.asarray(d["data"]), np.asarray(d["labels"], dtype=np.int64)
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3072 or len(labels) != len(data):
        raise _corrupt(path, f"data {data.dtype} {data.shape} with {len(labels)} labels; expected uint8 (N, 3072) "
                             "and N labels")
    if len(labels) and (labels.min() < 0 or labels.max() > 9):
        raise _corrupt(path, f"labels outside 0..9 (min {labels.min()}, max {labels.max()})")
    # channel planes R, G, B of 32 x 32 each -> (N, H, W, C), as torchvision.datasets.CIFAR10 gives them
    return np.ascontiguousarray(data.reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)), labels


def cifar10_loaders(train: ArrayDataset, test: ArrayDataset, device: str, batch_size: int = 512, seed: int = 0,
                    cutout: int = 8, rank: int = 0, world_size: int = 1):
    """Module 1's (train, test) :class:`~coursekit.data.TensorLoader` pair and (mean, std): the train loader
    shuffles, crops, flips, cuts out, drops the last batch and is sharded by ``rank``/``world_size``."""
    from .loaders import CIFAR10_MEAN, CIFAR10_STD, Augment, TensorLoader, channel_stats

    mean, std = channel_stats(train.images) if train.is_standin else (CIFAR10_MEAN, CIFAR10_STD)
    channels_last = str(device).startswith("cuda")
    train_loader = TensorLoader(train.images, train.labels, batch_size=batch_size, shuffle=True,
                                augment=Augment(crop_pad=4, flip=True, cutout=cutout), mean=mean, std=std,
                                device=device, seed=seed, drop_last=True, channels_last=channels_last,
                                rank=rank, world_size=world_size)
    test_loader = TensorLoader(test.images, test.labels, batch_size=1000, mean=mean, std=std, device=device,
                               channels_last=channels_last)
    return train_loader, test_loader, (mean, std)
