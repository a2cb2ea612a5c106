"""Choosing a decision threshold from a precision-recall curve, and checking calibration.

>>> import numpy as np
>>> y = np.array([1, 1, 1, 0, 1, 1, 0, 0, 1, 0, 0, 0])
>>> s = np.array([.95, .9, .85, .8, .7, .6, .55, .5, .4, .3, .2, .1])
>>> c = choose_threshold(y, s, min_precision=0.8)
>>> c.threshold, round(c.precision, 3), round(c.recall, 3), c.achieved
(0.6, 0.833, 0.833, True)
>>> c.at_default.fp, c.fp   # at 0.5 two more good images are flagged
(3, 1)
"""
from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass
from typing import Literal, Sequence

import numpy as np
from matplotlib.figure import Figure

from .types import Classifications, as_numpy

__all__ = ["DEFAULT_THRESHOLD", "PRCurve", "OperatingPoint", "ThresholdChoice", "CalibrationBins", "pr_curve",
           "operating_point", "choose_threshold", "binary_scores", "plot_pr_curve", "expected_calibration_error",
           "calibration_bins", "reliability_diagram"]

DEFAULT_THRESHOLD = 0.5


def _binary_inputs(y_true, scores, need_both: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Validated 0/1 labels (int64) and finite scores (float64), one of each per image."""
    y, s = as_numpy(y_true), as_numpy(scores)
    if y.ndim != 1:
        raise ValueError(f"y_true must be a 1-D sequence of 0/1 labels; got shape {y.shape}")
    if y.size == 0:
        raise ValueError("y_true is empty: need at least one label")
    if y.dtype.kind not in "biuf":
        raise TypeError(f"y_true holds {y.dtype} values; pass 0/1 (1 = positive), e.g. binary_scores(...)")
    bad = y[(y != 0) & (y != 1)]
    if bad.size:
        raise ValueError(f"y_true contains {bad[0]!r}: expected 0/1 labels (1 = positive). For class indices use "
                         "binary_scores(preds, positive=[...], y_true=labels)")
    if s.ndim != 1:
        hint = " (one column per class? use binary_scores(preds, positive=...))" if s.ndim == 2 else ""
        raise ValueError(f"scores must be 1-D, one score per image; got shape {s.shape}{hint}")
    if len(s) != len(y):
        raise ValueError(f"y_true has {len(y)} labels but scores has {len(s)}: they must be the same images")
    if s.dtype.kind not in "biuf":
        raise TypeError(f"scores hold {s.dtype} values; expected numbers")
    y, s = y.astype(np.int64), s.astype(np.float64)
    if not np.all(np.isfinite(s)):
        raise ValueError(f"scores contain {s[~np.isfinite(s)][0]!r}; every score must be a finite number")
    n_pos = int(y.sum())
    if need_both and n_pos == 0:
        raise ValueError(f"y_true has no positives (all {len(y)} images are negative): precision and recall are "
                         "undefined. Evaluate on a set that contains the positive class (e.g. defects).")
    if need_both and n_pos == len(y):
        raise ValueError(f"y_true has no negatives (all {len(y)} images are positive): a threshold trades false "
                         "positives against misses, so it needs both kinds of image.")
    return y, s


def _fmt(x: float | None, digits: int = 3) -> str:
    """0.95 -> '0.95', 0.8333 -> '0.833', nan -> 'n/a'."""
    return "n/a" if x is None or (isinstance(x, float) and math.isnan(x)) else f"{x:.{digits}g}"


@dataclass
class PRCurve:
    """A precision-recall curve, as :func:`sklearn.metrics.precision_recall_curve` returns it."""

    precision: np.ndarray
    recall: np.ndarray
    thresholds: np.ndarray
    average_precision: float
    n_positive: int
    n_negative: int

    @property
    def prevalence(self) -> float:
        """The fraction of positives: the precision of flagging everything (a useless model's curve)."""
        return self.n_positive / (self.n_positive + self.n_negative)

    def at(self, threshold: float) -> tuple[float, float]:
        """(precision, recall) when flagging ``score >= threshold``, read off the curve."""
        i = int(np.searchsorted(self.thresholds, threshold, side="left"))
        return float(self.precision[i]), float(self.recall[i])


def pr_curve(y_true_binary, scores, n_positive: int | None = None) -> PRCurve:
    """The precision-recall curve and average precision of 0/1 labels and scores, laid out as scikit-learn's;
    ``n_positive``: a detector's (``y_true_binary`` = is_tp per box, ``n_positive`` objects, some never boxed).

    >>> c = pr_curve([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    >>> c.thresholds.tolist(), c.precision.round(2).tolist(), c.recall.tolist()
    ([0.1, 0.35, 0.4, 0.8], [0.5, 0.67, 0.5, 1.0, 1.0], [1.0, 1.0, 0.5, 0.5, 0.0])
    >>> round(c.average_precision, 3)
    0.833
    """
    if n_positive is None:
        y, s = _binary_inputs(y_true_binary, scores)
        n = int(y.sum())
    else:
        y, s, n = np.asarray(y_true_binary), _detector_scores(scores), int(n_positive)
    t, tp, fp = _curve_counts(y, s)
    recall = np.r_[(tp / n if n else np.full(len(t), np.nan))[::-1], 0.0]  # ascending thresholds
    precision = np.r_[(tp / np.maximum(tp + fp, 1))[::-1], 1.0]
    ap = float(np.sum((recall[:-1] - recall[1:]) * precision[:-1])) if n else math.nan
    return PRCurve(precision, recall, t[::-1].copy(), ap, n, int(fp[-1]) if len(fp) else 0)


@dataclass
class OperatingPoint:
    """The numbers at one threshold (flag when ``score >= threshold``)."""

    threshold: float
    precision: float
    recall: float
    f1: float
    tp: int
    fp: int
    fn: int
    tn: int

    @property
    def n(self) -> int:
        return self.tp + self.fp + self.fn + self.tn

    def to_dict(self) -> dict:
        return asdict(self)


def _detector_scores(scores) -> np.ndarray:
    """Box confidences as :class:`~coursekit.types.Detections` stores them (float32), held in float64: a threshold
    typed as 0.9 keeps a box whose confidence is 0.9, as :meth:`Detections.filter` does."""
    return np.asarray(scores, dtype=np.float64).astype(np.float32).astype(np.float64)


def operating_point(y_true_binary, scores, threshold: float = DEFAULT_THRESHOLD,
                    n_positive: int | None = None) -> OperatingPoint:
    """Counts and precision / recall / F1 when flagging ``score >= threshold``.

    >>> p = operating_point([1, 0, 1, 0], [0.9, 0.6, 0.4, 0.2])
    >>> p.tp, p.fp, p.fn, p.tn, p.precision, p.recall
    (1, 1, 1, 1, 0.5, 0.5)
    >>> p = operating_point([1, 1, 0], [0.9, 0.6, 0.7], 0.65, n_positive=3)   # 3 objects, one never boxed
    >>> p.tp, p.fp, p.fn, p.tn, round(p.recall, 3)
    (1, 1, 2, 0, 0.333)
    """
    if n_positive is None:
        y, s = _binary_inputs(y_true_binary, scores, need_both=False)
        y, kept, n_pos = y.astype(bool), s >= threshold, int(y.sum())
    else:
        y, s = np.asarray(y_true_binary), _detector_scores(scores)
        if y.ndim != 1 or s.shape != y.shape:
            raise ValueError(f"is_tp and scores must be 1-D and the same length; got {y.shape} and {s.shape}")
        y, kept, n_pos = y.astype(bool), s >= float(np.float32(threshold)), int(n_positive)
        if n_pos < int(y.sum()):
            raise ValueError(f"n_positive={n_positive} is smaller than the {int(y.sum())} true positives: "
                             "pass the number of ground-truth objects")
    tp = int((y & kept).sum())
    fp = int(kept.sum()) - tp
    tn = int((~y & ~kept).sum()) if n_positive is None else 0  # a detector's true negatives are not countable
    # no positive: F1 is undefined for a classifier; a detector's is 0 with false boxes (nan without)
    f1 = 2 * tp / (tp + fp + n_pos) if n_pos else 0.0 if n_positive is not None and fp else math.nan
    return OperatingPoint(float(threshold), tp / (tp + fp) if tp + fp else math.nan, tp / n_pos if n_pos else math.nan,
                          f1, tp, fp, n_pos - tp, tn)


@dataclass
class ThresholdChoice(OperatingPoint):
    """The chosen threshold, its numbers, the goal, and the same numbers at 0.5 for comparison."""

    goal: str
    achieved: bool
    at_default: OperatingPoint
    message: str = ""

    def _changes(self, fp: str, fn: str, per: int, n: int, fmt) -> list[str]:
        """What the default threshold changes, per ``per`` images: ["3 more false positives", ...]."""
        d, out = self.at_default, []
        for name, ours, theirs in ((fp, self.fp, d.fp), (fn, self.fn, d.fn)):
            delta = (theirs - ours) / n * per
            if round(delta, 1) != 0:
                out.append(f"{fmt(abs(delta))} {'more' if delta > 0 else 'fewer'} {name}")
        return out

    def describe(self, fp: str = "false positives", fn: str = "false negatives", per: int = 1000) -> str:
        """One sentence: the chosen point, the goal, and what 0.5 would do instead."""
        t, d = _fmt(self.threshold, 4), self.at_default
        if not self.achieved:
            head = (f"the goal ({self.goal}) is out of reach: the closest threshold, {t}, gives "
                    f"precision {_fmt(self.precision)} with recall {_fmt(self.recall)}")
        elif self.goal.startswith(("precision", "recall")):
            aim, other = ("precision", "recall") if self.goal.startswith("precision") else ("recall", "precision")
            head = (f"threshold {t} reaches {aim} {_fmt(getattr(self, aim))} (goal {self.goal.split(' ', 1)[1]}) "
                    f"with {other} {_fmt(getattr(self, other))}")
        else:
            head = f"threshold {t} ({self.goal}) gives precision {_fmt(self.precision)}, recall {_fmt(self.recall)}"
        tail = f"; at {_fmt(d.threshold, 4)}: precision {_fmt(d.precision)}, recall {_fmt(d.recall)}"
        changes = self._changes(fp, fn, per, self.n, _fmt)
        if changes:
            tail += f" — {_fmt(d.threshold, 4)} gives {' and '.join(changes)} per {per} images"
        elif d.threshold != self.threshold:
            tail += " — the same decisions on these images"
        return head + tail

    def __str__(self) -> str:
        return self.describe()


def _curve_counts(y: np.ndarray, s: np.ndarray):
    """For each distinct score t (descending): t and the tp / fp counts when flagging ``score >= t`` (tied
    scores fall together, as in scikit-learn)."""
    order = np.argsort(-s, kind="stable")
    s, y = s[order], y[order].astype(np.int64)
    if not len(s):
        return s, np.zeros(0, np.int64), np.zeros(0, np.int64)
    last = np.r_[np.flatnonzero(np.diff(s)), len(s) - 1]  # last image of each run of equal scores
    return s[last], np.cumsum(y)[last], np.cumsum(1 - y)[last]


def choose_threshold(y_true_binary, scores, *, min_precision: float | None = None, min_recall: float | None = None,
                     maximize: Literal["f1"] | None = None, default: float = DEFAULT_THRESHOLD,
                     n_positive: int | None = None) -> ThresholdChoice:
    """Pick the threshold that meets one goal; compare it with ``default`` (0.5).

    >>> c = choose_threshold([0, 1, 1, 0], [0.9, 0.8, 0.7, 0.6], min_precision=0.9)
    >>> c.achieved, c.threshold, round(c.precision, 3)   # the top score is a negative: 2/3 at best
    (False, 0.7, 0.667)
    """
    goals = {"min_precision": min_precision, "min_recall": min_recall, "maximize": maximize}
    if sum(v is not None for v in goals.values()) > 1:
        raise ValueError(f"give one goal, not {' and '.join(k for k, v in goals.items() if v is not None)}")
    for name, value in (("min_precision", min_precision), ("min_recall", min_recall)):
        if value is not None and not 0 < value <= 1:
            raise ValueError(f"{name}={value!r}: expected a fraction in (0, 1], e.g. 0.95")
    if maximize is not None and maximize != "f1":
        raise ValueError(f"maximize={maximize!r}: only 'f1' is supported (or use min_precision / min_recall)")
    if n_positive is None:
        y, s = _binary_inputs(y_true_binary, scores)
        n_pos = int(y.sum())
    else:
        y, s = np.asarray(y_true_binary).astype(np.int64), _detector_scores(scores)
        n_pos = int(n_positive)
        if n_pos <= 0:
            raise ValueError("the targets hold no object: there is no recall to aim for")
        if not len(s):
            raise ValueError("the predictions hold no box: predict with a low confidence (conf=0.001) first")
    thresholds, tp, fp = _curve_counts(y, s)
    precision, recall = tp / (tp + fp), tp / n_pos  # every candidate flags at least one image
    # each goal: a mask of candidates meeting it; the best of them by a lexsort key (last = best)
    achieved, message, ok = True, "", np.ones(len(thresholds), dtype=bool)
    if min_precision is not None or min_recall is not None:
        aim = "precision" if min_precision is not None else "recall"
        value, other = (precision, recall) if aim == "precision" else (recall, precision)
        goal = f"{aim} >= {_fmt(min_precision if aim == 'precision' else min_recall, 4)}"
        ok = value >= (min_precision if aim == "precision" else min_recall) - 1e-12
        key = np.lexsort((thresholds, value, other)) if ok.any() else np.lexsort((thresholds, other, value))
    else:  # the default goal: max F1
        goal, key = "max F1", np.lexsort((thresholds, 2 * tp / (tp + fp + n_pos)))
    if not ok.any():
        achieved, best = False, int(key[-1])
        message = (f"no threshold reaches {goal} on these {len(y)} images ({n_pos} positive); the closest, "
                   f"{_fmt(float(thresholds[best]), 4)}, gives {aim} {_fmt(float(value[best]))}. "
                   "A better model, more data, or a different goal is needed.")
        warnings.warn(message, UserWarning, stacklevel=2)
    else:
        best = int([i for i in key if ok[i]][-1])
    point = operating_point(y, s, float(thresholds[best]), n_positive=n_positive)
    return ThresholdChoice(**asdict(point), goal=goal, achieved=achieved, message=message,
                           at_default=operating_point(y, s, default, n_positive=n_positive))


def binary_scores(preds: Classifications, positive: str | Sequence[str] | None = None, y_true=None, *,
                  negative: str | Sequence[str] | None = None):
    """One "positive" score per image: the summed probability of the ``positive`` classes.

    >>> p = Classifications([[0.7, 0.2, 0.1], [0.1, 0.3, 0.6]], ["ok", "scratch", "crack"])
    >>> y, s = binary_scores(p, negative="ok", y_true=[0, 2])
    >>> y.tolist(), s.round(2).tolist()
    ([0, 1], [0.3, 0.9])
    """
    if not isinstance(preds, Classifications):
        raise TypeError(f"preds must be a Classifications, got {type(preds).__name__}; "
                        "wrap probabilities with Classifications(probs, class_names)")
    if (positive is None) == (negative is None):
        raise ValueError("name the positive classes (positive=[...]) or the negative ones (negative='ok'), not both")
    names = list(preds.class_names)
    named = positive if positive is not None else negative
    given = [named] if isinstance(named, str) else list(named)
    unknown = [g for g in given if g not in names]
    if unknown:
        raise ValueError(f"unknown class name(s) {unknown}; the classes are {names}")
    pos = given if positive is not None else [c for c in names if c not in given]
    if not pos or len(pos) == len(names):
        raise ValueError(f"positive classes {pos} leave {'no' if not pos else 'no negative'} class: "
                         "a binary decision needs both sides")
    idx = [names.index(c) for c in pos]
    scores = preds.probs[:, idx].astype(np.float64).sum(axis=1)
    if y_true is None:
        return scores
    y = class_indices(y_true, names, len(scores))
    if y.size and (y.min() < 0 or y.max() >= len(names)):
        raise ValueError(f"y_true contains {y[(y < 0) | (y >= len(names))][0]}, outside 0..{len(names) - 1}")
    return np.isin(y, idx).astype(np.int64), scores


def class_indices(y_true, names: list[str], n: int) -> np.ndarray:
    """``y_true`` (class indices or class names, one per image) as a 1-D array, names turned into indices."""
    y = as_numpy(y_true)
    if y.ndim != 1 or len(y) != n:
        raise ValueError(f"y_true must be one label per image ({n}); got shape {y.shape}")
    if y.dtype.kind in "US" or y.dtype == object:
        bad = [v for v in y if v not in names]
        if bad:
            raise ValueError(f"y_true contains {bad[0]!r}, not a class name; the classes are {names}")
        y = np.array([names.index(v) for v in y], dtype=np.int64)
    return y


def plot_pr_curve(curve: PRCurve, choice: ThresholdChoice | None = None, ax=None, title: str | None = None, *,
                  marks: Sequence[float] | None = None, label: str | None = None, xlabel: str = "recall",
                  ylabel: str = "precision", figsize=(4.8, 4.0)) -> Figure:
    """The precision-recall curve, with the chosen threshold (star) and the 0.5 point (circle); ``marks``:
    circles at these thresholds instead, and the highest reachable recall (a detector's curve).

    >>> fig = plot_pr_curve(pr_curve([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]))
    >>> fig.axes[0].get_xlabel()
    'recall'
    """
    fig = Figure(figsize=figsize, layout="constrained") if ax is None else ax.figure
    ax = ax if ax is not None else fig.add_subplot()
    ax.plot(curve.recall, curve.precision, drawstyle="steps-post", color="tab:blue",
            label=label or f"PR curve (AP {curve.average_precision:.3f})")
    points = []   # (precision, recall, marker, label)
    if marks is None:
        ax.axhline(curve.prevalence, color="gray", linestyle="--", linewidth=1,
                   label=f"flag all ({curve.prevalence:.2f})")
        t = choice.at_default.threshold if choice is not None else DEFAULT_THRESHOLD
        p, r = (choice.at_default.precision, choice.at_default.recall) if choice is not None else curve.at(t)
        if not math.isnan(p):
            points.append((p, r, "o", f"at {_fmt(t, 3)}: P {_fmt(p)}, R {_fmt(r)}"))
        num = _fmt
    else:
        if len(curve.recall) > 1:
            ax.axvline(curve.recall[0], color="gray", linestyle=":", linewidth=1,
                       label=f"highest reachable recall {curve.recall[0]:.3f}")
        for t, marker in zip(marks, ("o", "s", "D", "^")):
            p, r = curve.at(t)
            if not math.isnan(p) and r > 0:
                points.append((p, r, marker, f"conf {t:g}: P {p:.2f}, R {r:.2f}"))
        num = lambda x: f"{x:.2f}"  # noqa: E731
    for p, r, marker, text in points:
        ax.plot([r], [p], marker=marker, markersize=8, color="k", markerfacecolor="none", linestyle="none", label=text)
    if choice is not None:
        ax.plot([choice.recall], [choice.precision], marker="*", markersize=15, color="tab:red", linestyle="none",
                label=f"chosen {_fmt(choice.threshold, 3)}: P {num(choice.precision)}, R {num(choice.recall)}")
    ax.set(xlabel=xlabel, ylabel=ylabel, xlim=(-0.02, 1.02), ylim=(-0.02, 1.05))
    ax.legend(loc="lower left", fontsize=8)
    ax.set_title(title if title is not None else (choice.goal if choice is not None else "precision-recall"))
    return fig


def _probs_and_targets(probs, y_true):
    """(probabilities (N,) or (N, C) float64, targets int64 (N,)), validated."""
    p = (probs.probs if isinstance(probs, Classifications) else as_numpy(probs)).astype(np.float64)
    if p.ndim not in (1, 2):
        raise ValueError(f"probs must be (N,) positive-class or (N, C) class probabilities; got shape {p.shape}")
    if not np.all(np.isfinite(p)) or p.min(initial=0) < 0 or p.max(initial=0) > 1:
        raise ValueError("probs must be probabilities in [0, 1]; these look like logits: "
                         "use Classifications.from_logits(logits, class_names) (softmax) first")
    if p.ndim == 2 and not np.allclose(p.sum(axis=1), 1.0, atol=1e-3):
        raise ValueError("each row of probs must sum to 1 (class probabilities); apply a softmax first")
    y = as_numpy(y_true)
    if y.ndim != 1 or len(y) != len(p):
        raise ValueError(f"y_true must be one class index per image ({len(p)}); got shape {y.shape}")
    if len(y) == 0:
        raise ValueError("probs is empty: need at least one image")
    y = y.astype(np.int64)
    top = 1 if p.ndim == 1 else p.shape[1] - 1
    if y.min() < 0 or y.max() > top:
        raise ValueError(f"y_true contains {y[(y < 0) | (y > top)][0]}, outside 0..{top}")
    return p, y


@dataclass
class CalibrationBins:
    """Equal-width confidence bins: per bin the image count, mean confidence and accuracy."""

    edges: list[float]
    count: list[int]
    confidence: list[float | None]
    accuracy: list[float | None]

    @property
    def ece(self) -> float:
        n = sum(self.count)
        return sum(c / n * abs(a - f) for c, a, f in zip(self.count, self.accuracy, self.confidence) if c)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "CalibrationBins":
        return cls(**{k: list(data[k]) for k in ("edges", "count", "confidence", "accuracy")})


def calibration_bins(probs, y_true, n_bins: int = 15) -> CalibrationBins:
    """The data of a reliability diagram, binned like torchmetrics' calibration error (sklearn's
    ``calibration_curve`` gives the same bins, but no counts, and puts a value on an edge in the lower bin).

    >>> b = calibration_bins([[0.9, 0.1], [0.8, 0.2]], [0, 1], n_bins=5)
    >>> b.count, b.accuracy[4]
    ([0, 0, 0, 0, 2], 0.5)
    """
    if not isinstance(n_bins, int) or n_bins < 1:
        raise ValueError(f"n_bins must be a positive integer, got {n_bins!r}")
    p, y = _probs_and_targets(probs, y_true)
    conf, correct = (p, y) if p.ndim == 1 else (p.max(axis=1), p.argmax(axis=1) == y)
    edges = np.linspace(0.0, 1.0, n_bins + 1)
    idx = np.clip(np.searchsorted(edges, conf, side="right") - 1, 0, n_bins - 1)
    count = np.bincount(idx, minlength=n_bins)

    def means(w):
        sums = np.bincount(idx, weights=w.astype(np.float64), minlength=n_bins)
        return [float(s / c) if c else None for s, c in zip(sums, count)]
    return CalibrationBins([float(e) for e in edges], [int(c) for c in count], means(conf), means(correct))


def expected_calibration_error(probs, y_true, n_bins: int = 15) -> float:
    """Expected calibration error: how far confidence is from accuracy, bin-weighted (:func:`calibration_bins`'
    L1 gap, torchmetrics' ``calibration_error`` in float64: a score exactly on a bin edge, e.g. 0.2 of 15 bins,
    can land one bin lower in torchmetrics' float32, so the two may differ on such scores).

    >>> round(expected_calibration_error([[0.9, 0.1], [0.8, 0.2]], [0, 1]), 3)
    0.45
    """
    return calibration_bins(probs, y_true, n_bins).ece


def reliability_diagram(probs, y_true=None, n_bins: int = 15, ax=None, title: str | None = None) -> Figure:
    """Accuracy per confidence bin against the diagonal (perfect calibration), with the ECE.

    >>> fig = reliability_diagram([[0.9, 0.1], [0.8, 0.2], [0.3, 0.7]], [0, 1, 1])
    >>> len(fig.axes), fig.axes[0].get_ylabel()
    (2, 'accuracy')
    """
    if isinstance(probs, CalibrationBins) and y_true is not None:
        raise ValueError("pass either CalibrationBins, or probs with y_true")
    if not isinstance(probs, CalibrationBins) and y_true is None:
        raise ValueError("y_true is needed to draw a reliability diagram from probabilities")
    bins = probs if isinstance(probs, CalibrationBins) else calibration_bins(probs, y_true, n_bins)
    edges = np.asarray(bins.edges)
    left, width = edges[:-1], np.diff(edges)
    acc, conf = (np.array([np.nan if v is None else v for v in vs]) for vs in (bins.accuracy, bins.confidence))
    counts = np.asarray(bins.count)
    if ax is None:
        fig = Figure(figsize=(4.6, 5.2), layout="constrained")
        ax, ax_n = fig.subplots(2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    else:
        fig, ax_n = ax.figure, None
    filled = counts > 0
    ax.bar(left[filled], acc[filled], width[filled], align="edge", color="tab:blue", edgecolor="white",
           label="accuracy")
    ax.bar(left[filled], (conf - acc)[filled], width[filled], bottom=acc[filled], align="edge",
           color="tab:red", alpha=0.3, edgecolor="tab:red", label="gap to confidence")
    ax.plot([0, 1], [0, 1], color="k", linestyle="--", linewidth=1, label="perfect calibration")
    ax.set(xlim=(0, 1), ylim=(0, 1), ylabel="accuracy")
    ax.legend(loc="upper left", fontsize=8)
    ax.set_title(title if title is not None else f"reliability (ECE {bins.ece:.3f})")
    if ax_n is not None:
        ax_n.bar(left, counts, width, align="edge", color="gray", edgecolor="white")
        ax_n.set(ylabel="images", xlabel="confidence")
    else:
        ax.set_xlabel("confidence")
    return fig
