"""Classification metrics: thin wrappers over torchmetrics and scikit-learn.

>>> y_true = [0, 1, 2, 2]
>>> y_pred = [0, 2, 2, 2]
>>> accuracy(y_true, y_pred)
0.75
>>> confusion_matrix(y_true, y_pred).tolist()
[[1, 0, 0], [0, 0, 1], [0, 0, 2]]
"""
from __future__ import annotations

import warnings
from typing import Literal, Sequence

import numpy as np

from .types import Classifications, as_numpy

__all__ = ["accuracy", "confusion_matrix", "per_class_accuracy", "classification_report", "worst_predictions",
           "top_confusions"]


def _as_labels(x, name: str) -> np.ndarray:
    """Class indices, int64 (N,), from a list, array, tensor, Classifications or (N, C) scores."""
    if isinstance(x, Classifications):
        if name == "y_true":
            raise TypeError("y_true must be the true class indices, not a Classifications (that is y_pred)")
        arr = x.labels
    else:
        arr = as_numpy(x)
        if arr.ndim == 2 and name != "y_true":
            arr = arr.argmax(axis=1)  # scores (N, C): the prediction is the argmax
        elif arr.ndim != 1:
            raise ValueError(f"{name} must be a 1-D sequence of class indices; got shape {arr.shape}")
    if arr.size == 0:
        raise ValueError(f"{name} is empty: need at least one label")
    if arr.dtype.kind == "f":
        bad = arr[~np.isfinite(arr) | (arr != np.round(arr))]
        if bad.size:
            raise ValueError(f"{name} contains {bad[0]!r}, which is not a class index (expected whole numbers 0..C-1)")
    elif arr.dtype.kind not in "biu":
        raise TypeError(f"{name} holds {arr.dtype} values; pass class indices 0..C-1 "
                        "(e.g. [class_names.index(n) for n in names])")
    return arr.astype(np.int64)


def _num_classes_of(y_pred, class_names: Sequence[str] | None = None) -> int | None:
    """The number of classes implied by the prediction's shape or the class names, if any."""
    if class_names is not None:
        return len(class_names)
    if isinstance(y_pred, Classifications):
        return len(y_pred.class_names)
    shape = getattr(y_pred, "shape", None)
    return int(shape[1]) if shape is not None and len(shape) == 2 else None


def _check_range(labels: np.ndarray, name: str, num_classes: int) -> None:
    bad = labels[(labels < 0) | (labels >= num_classes)]
    if bad.size:
        raise ValueError(f"{name} contains label {int(bad[0])}, outside the valid range 0..{num_classes - 1} "
                         f"({num_classes} classes)")


def _prepare(y_true, y_pred, num_classes: int | None = None, class_names: Sequence[str] | None = None):
    """Validated (y_true, y_pred, num_classes)."""
    num_classes = _num_classes_of(y_pred, class_names) if num_classes is None else num_classes
    if isinstance(y_pred, Classifications) and class_names is not None and len(class_names) != len(y_pred.class_names):
        raise ValueError(f"{len(class_names)} class_names were given but the predictions have "
                         f"{len(y_pred.class_names)} classes")
    t, p = _as_labels(y_true, "y_true"), _as_labels(y_pred, "y_pred")
    if len(t) != len(p):
        raise ValueError(f"y_true has {len(t)} labels but y_pred has {len(p)}: they must be the same images")
    if num_classes is None:  # as many as the labels say (then only a negative label is out of range)
        num_classes = int(max(t.max(), p.max())) + 1
    _check_range(t, "y_true", num_classes)
    _check_range(p, "y_pred", num_classes)
    return t, p, int(max(num_classes, 1))


def accuracy(y_true, y_pred) -> float:
    """Top-1 accuracy, the fraction of images whose prediction is the true class (torchmetrics).

    >>> accuracy([0, 1, 1, 1], [0, 1, 0, 1])
    0.75
    """
    import torch
    from torchmetrics.functional.classification import multiclass_accuracy
    t, p, c = _prepare(y_true, y_pred)
    # torchmetrics needs >= 2 classes; a slice where every label is class 0 is still a valid question
    return float(multiclass_accuracy(torch.from_numpy(p), torch.from_numpy(t), num_classes=max(c, 2),
                                     average="micro"))


def confusion_matrix(y_true, y_pred, num_classes: int | None = None,
                     normalize: Literal["true", "pred", "all"] | None = None) -> np.ndarray:
    """The (C, C) confusion matrix, rows = true class, columns = predicted class (torchmetrics).

    >>> confusion_matrix([0, 1, 1], [0, 1, 0], normalize="true").tolist()
    [[1.0, 0.0], [0.5, 0.5]]
    """
    import torch
    from torchmetrics.functional.classification import multiclass_confusion_matrix
    if normalize not in (None, "true", "pred", "all"):
        raise ValueError(f"normalize={normalize!r}: use None, 'true' (rows), 'pred' (columns) or 'all'")
    t, p, c = _prepare(y_true, y_pred, num_classes)
    with warnings.catch_warnings():  # empty rows/columns: torchmetrics warns, then writes zeros (documented)
        warnings.filterwarnings("ignore", message=".*NaN values found in confusion matrix.*")
        cm = multiclass_confusion_matrix(torch.from_numpy(p), torch.from_numpy(t), num_classes=c,
                                         normalize=normalize or "none").cpu().numpy()
    return cm.astype(np.int64) if normalize is None else cm.astype(np.float64)


def per_class_accuracy(y_true, y_pred, class_names: Sequence[str]) -> dict[str, float]:
    """Accuracy within each true class, i.e. each class's recall (scikit-learn).

    >>> per_class_accuracy([0, 0, 1], [0, 1, 1], ["cat", "dog"])
    {'cat': 0.5, 'dog': 1.0}
    """
    from sklearn.metrics import recall_score
    t, p, c = _prepare(y_true, y_pred, class_names=class_names)
    recall = recall_score(t, p, labels=list(range(c)), average=None, zero_division=np.nan)
    return {name: float(r) for name, r in zip(class_names, recall)}


def classification_report(y_true, y_pred, class_names: Sequence[str], output: Literal["dict", "frame", "text"] = "dict",
                          digits: int = 3):
    """Precision, recall, F1 and support per class, plus accuracy, macro and weighted averages.

    >>> r = classification_report([0, 0, 1], [0, 1, 1], ["cat", "dog"])
    >>> r["cat"]["recall"], r["accuracy"]
    (0.5, 0.6666666666666666)
    """
    from sklearn.metrics import classification_report as sk_report
    if output not in ("dict", "frame", "text"):
        raise ValueError(f"output={output!r}: use 'dict', 'frame' or 'text'")
    t, p, c = _prepare(y_true, y_pred, class_names=class_names)
    kwargs = dict(labels=list(range(c)), target_names=list(class_names), zero_division=0, digits=digits)
    if output == "text":
        return sk_report(t, p, **kwargs)
    report = sk_report(t, p, output_dict=True, **kwargs)
    if output == "dict":
        return report
    import pandas as pd
    # sklearn's order: the classes, accuracy, macro avg, weighted avg; accuracy as a row of its own
    accuracy = {"precision": np.nan, "recall": np.nan, "f1-score": report["accuracy"], "support": len(t)}
    frame = pd.DataFrame.from_dict({**report, "accuracy": accuracy}, orient="index")
    frame["support"] = frame["support"].astype(int)
    return frame


def worst_predictions(preds: Classifications, y_true, k: int | None = 16,
                      by: Literal["confidence", "true_prob"] = "confidence") -> np.ndarray:
    """Indices of the ``k`` worst predictions: wrong *and* sure of it. Only mistakes are returned.

    >>> p = Classifications([[0.9, 0.1], [0.6, 0.4], [0.2, 0.8], [0.3, 0.7]], ["cat", "dog"])
    >>> worst_predictions(p, [1, 1, 1, 0]).tolist()   # image 2 is right; image 0 is wrong at 90%
    [0, 3, 1]
    """
    if not isinstance(preds, Classifications):
        raise TypeError(f"preds must be a Classifications, got {type(preds).__name__}; "
                        "wrap logits with Classifications.from_logits(logits, class_names)")
    if by not in ("confidence", "true_prob"):
        raise ValueError(f"by={by!r}: use 'confidence' (surest mistakes) or 'true_prob' (lowest true-class prob)")
    if k is not None and k < 0:
        raise ValueError(f"k must be >= 0 (or None for all mistakes), got {k}")
    t, p, _ = _prepare(y_true, preds)
    wrong = np.flatnonzero(t != p)
    key = -preds.confidence[wrong] if by == "confidence" else preds.prob_of(t)[wrong]
    order = wrong[np.argsort(key.astype(np.float64), kind="stable")]
    return (order if k is None else order[:k]).astype(np.int64)


def top_confusions(cm, class_names: Sequence[str], k: int = 5) -> list[tuple[str, str, float]]:
    """The ``k`` largest off-diagonal cells of a confusion matrix: ``(true, predicted, count)``.

    >>> top_confusions([[5, 1, 0], [3, 4, 0], [0, 2, 6]], ["cat", "dog", "fox"], k=2)
    [('dog', 'cat', 3), ('fox', 'dog', 2)]
    """
    cm = as_numpy(cm)
    if cm.ndim != 2 or cm.shape[0] != cm.shape[1]:
        raise ValueError(f"cm must be a square (C, C) confusion matrix; got shape {cm.shape}")
    if cm.shape[0] != len(class_names):
        raise ValueError(f"cm is {cm.shape[0]}x{cm.shape[1]} but {len(class_names)} class_names were given")
    off = cm.astype(np.float64).copy()
    np.fill_diagonal(off, 0)
    cells = [divmod(int(i), cm.shape[1]) for i in np.argsort(-off, axis=None, kind="stable")[:max(k, 0)]]
    return [(class_names[r], class_names[c], cm[r, c].item()) for r, c in cells if off[r, c] > 0]
