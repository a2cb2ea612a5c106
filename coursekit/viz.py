"""Plots for the course: image grids, class balance, training curves, confusion matrices, mistakes.

>>> import numpy as np
>>> fig = show_images(np.zeros((4, 32, 32, 3), dtype=np.uint8), titles=["a", "b", "c", "d"])
>>> len(fig.axes)
4
"""
from __future__ import annotations

import math
from types import SimpleNamespace
from typing import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from .metrics import _check_range
from .types import Classifications, as_numpy

__all__ = ["RIGHT_COLOR", "WRONG_COLOR", "show_images", "show_class_grid", "plot_class_balance", "plot_history",
           "plot_confusion", "show_predictions", "plot_per_class_accuracy", "show_detections", "show_detection_errors",
           "reveal_shapes"]


def _show_figures_in_notebooks() -> None:
    """In Jupyter, display a returned Figure as a PNG even before pyplot has been used."""
    try:
        from IPython import get_ipython
        from IPython.core.pylabtools import print_figure
    except ImportError:
        return
    shell = get_ipython()
    if shell is None or not hasattr(shell, "display_formatter"):
        return
    png = shell.display_formatter.formatters["image/png"]
    png.for_type(Figure, lambda fig: print_figure(fig, "png", bbox_inches="tight"))


_show_figures_in_notebooks()

RIGHT_COLOR = "tab:green"
WRONG_COLOR = "tab:red"
MAX_IMAGES = 256  # a grid bigger than this is almost always a forgotten slice, and takes ages to draw


def _image_list(images) -> list[np.ndarray]:
    """One 2-D (H, W) or 3-D (C, H, W)/(H, W, C) array per image."""
    if hasattr(images, "detach") or isinstance(images, np.ndarray):
        arr = as_numpy(images)
        one = arr.ndim == 2 or (arr.ndim == 3 and (arr.shape[0] in (1, 3, 4) or arr.shape[-1] in (3, 4)))
        if one or arr.ndim in (3, 4):  # one H×W, C×H×W or H×W×C image; or N of them (N×H×W: grayscale)
            return [arr] if one else list(arr)
        raise ValueError(f"images must be N×C×H×W, N×H×W×C, N×H×W or one image; got shape {arr.shape}")
    return [as_numpy(item[0] if isinstance(item, tuple) else item) for item in images]  # a dataset's (image, label)


def to_display(img: np.ndarray, mean=None, std=None) -> np.ndarray:
    """An H×W or H×W×C array imshow can show: uint8, or float in [0, 1]."""
    img = as_numpy(img)
    if img.ndim == 3:
        first, last = img.shape[0] in (1, 3, 4), img.shape[-1] in (1, 3, 4)
        if not (first or last):
            raise ValueError(f"cannot tell the channel axis of an image of shape {img.shape}: expected C×H×W or "
                             "H×W×C, C in 1, 3, 4")
        if first and not last:  # C×H×W
            img = np.transpose(img, (1, 2, 0))
        if img.shape[-1] == 1:
            img = img[..., 0]
    elif img.ndim != 2:
        raise ValueError(f"an image must be 2-D or 3-D; got shape {img.shape}")
    if mean is not None or std is not None:
        if img.dtype == np.uint8:
            raise ValueError("mean/std undo a Normalize on float images, but these images are uint8 already")
        channels = 1 if img.ndim == 2 else img.shape[-1]
        m = np.broadcast_to(np.asarray(0.0 if mean is None else mean, dtype=np.float32).reshape(-1), (channels,))
        s = np.broadcast_to(np.asarray(1.0 if std is None else std, dtype=np.float32).reshape(-1), (channels,))
        img = img.astype(np.float32) * (s if img.ndim == 3 else s[0]) + (m if img.ndim == 3 else m[0])
    if img.dtype == np.uint8:
        return img
    if img.dtype == np.bool_ or img.dtype.kind in "iu":
        img = img.astype(np.float32)
        img = img / 255.0 if img.max(initial=0) > 1 else img
    img = img.astype(np.float32)
    lo, hi = float(np.nanmin(img)), float(np.nanmax(img))
    if lo < -0.01 or hi > 1.01:  # not in [0, 1]: rescale so the image is still visible
        img = (img - lo) / (hi - lo) if hi > lo else np.zeros_like(img)
    return np.clip(img, 0.0, 1.0)


def imshow(ax, img: np.ndarray) -> None:
    gray = dict(cmap="gray", vmin=0, vmax=255 if img.dtype == np.uint8 else 1.0) if img.ndim == 2 else {}
    ax.imshow(img, interpolation="nearest", **gray)


def _blank(ax) -> None:
    """No ticks or frame, but keep the y label visible (for row labels)."""
    ax.set(xticks=[], yticks=[])
    for spine in ax.spines.values():
        spine.set_visible(False)


def _grid(n: int, ncols: int, tile_w: float, tile_h: float, title: str | None, label_w: float = 0.0):
    """A Figure for ``n`` tiles in rows of ``ncols`` (and its title, and ``label_w`` inches for row labels), and
    ``tile(k)``: the axes of tile k."""
    ncols = max(1, min(ncols, n))
    nrows = math.ceil(n / ncols)
    fig = Figure(figsize=(ncols * tile_w + label_w, nrows * tile_h + (0.3 if title else 0)), layout="constrained")
    if title:
        fig.suptitle(title)
    return fig, lambda k: fig.add_subplot(nrows, ncols, k + 1)


def show_images(images, titles: Sequence[str] | None = None, ncols: int = 8, size: float = 1.5,
                title: str | None = None, mean: Sequence[float] | float | None = None,
                std: Sequence[float] | float | None = None) -> Figure:
    """A grid of images, one axes per image, with optional per-image titles and a figure title.

    >>> import torch
    >>> fig = show_images(torch.rand(10, 3, 32, 32), ncols=5, title="random")
    >>> len(fig.axes), fig.get_suptitle()
    (10, 'random')
    """
    tiles = [to_display(img, mean, std) for img in _image_list(images)]
    n = len(tiles)
    if n == 0:
        raise ValueError("no images to show")
    if n > MAX_IMAGES:
        raise ValueError(f"{n} images is too many for one grid (max {MAX_IMAGES}); pass a slice, e.g. images[:32]")
    if titles is not None and len(titles) != n:
        raise ValueError(f"{len(titles)} titles for {n} images")
    fig, tile = _grid(n, ncols, size, size * (1.15 if titles is not None else 1.0), title)
    for i, img in enumerate(tiles):
        ax = tile(i)
        imshow(ax, img)
        ax.set_axis_off()
        if titles is not None:
            ax.set_title(str(titles[i]), fontsize=8)
    return fig


def show_class_grid(images, labels, class_names: Sequence[str], per_class: int = 8, size: float = 1.2,
                    title: str | None = None, mean=None, std=None) -> Figure:
    """One row per class showing its first ``per_class`` images, the row labelled with the class name.

    >>> import numpy as np
    >>> fig = show_class_grid(np.zeros((6, 8, 8, 3), np.uint8), [0, 1, 0, 1, 0, 0], ["a", "b"], per_class=3)
    >>> len(fig.axes), fig.axes[3].get_ylabel()
    (6, 'b')
    """
    items, labels, num_classes = _image_list(images), as_numpy(labels).astype(np.int64).reshape(-1), len(class_names)
    if len(items) != len(labels):
        raise ValueError(f"{len(items)} images but {len(labels)} labels")
    _check_range(labels, "labels", num_classes)
    fig, tile = _grid(num_classes * per_class, per_class, size, size, title, label_w=1.2)
    for row, name in enumerate(class_names):
        idx = np.flatnonzero(labels == row)[:per_class]
        for col in range(per_class):
            ax = tile(row * per_class + col)
            _blank(ax)
            if col < len(idx):
                imshow(ax, to_display(items[idx[col]], mean, std))
            elif col > 0:
                ax.set_axis_off()
            if col == 0:
                ax.set_ylabel(name, rotation=0, ha="right", va="center", fontsize=9)
    return fig


def show_predictions(images, y_true, preds: Classifications, indices=None, class_names: Sequence[str] | None = None,
                     ncols: int = 8, size: float = 1.6, title: str | None = None, mean=None, std=None) -> Figure:
    """A gallery of predictions, each tile titled ``"true → pred (conf%)"``: red when wrong, green when right."""
    if not isinstance(preds, Classifications):
        raise TypeError(f"preds must be a Classifications, got {type(preds).__name__}")
    y_true = as_numpy(y_true).astype(np.int64).reshape(-1)
    if len(y_true) != len(preds):
        raise ValueError(f"y_true has {len(y_true)} labels but preds has {len(preds)}")
    names = list(class_names) if class_names is not None else preds.class_names
    if len(names) != len(preds.class_names):
        raise ValueError(f"{len(names)} class_names but the predictions have {len(preds.class_names)} classes")
    indices = np.arange(len(preds)) if indices is None else as_numpy(indices).astype(np.int64).reshape(-1)
    if len(indices) == 0:
        raise ValueError("no indices to show (no mistakes to look at? then celebrate)")
    picked = [images[int(i)] for i in indices]  # an array's, a tensor's or a dataset's
    labels, conf = preds.labels, preds.confidence
    titles = [f"{names[y_true[i]]} → {names[labels[i]]} ({conf[i]:.0%})" for i in indices]
    fig = show_images(picked, titles=titles, ncols=ncols, size=size, title=title, mean=mean, std=std)
    for ax, i in zip(fig.axes, indices):
        ax.title.set_color(WRONG_COLOR if y_true[i] != labels[i] else RIGHT_COLOR)
    return fig


def plot_class_balance(labels, class_names: Sequence[str], title: str | None = "class balance") -> Figure:
    """Images per class as a bar chart, counts written on the bars.

    >>> fig = plot_class_balance({"train": [0, 0, 1], "test": [0, 1]}, ["cat", "dog"])
    >>> [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    ['train', 'test']
    """
    splits = dict(labels) if isinstance(labels, Mapping) else {None: labels}
    num_classes = len(class_names)
    counts = {}
    for name, split in splits.items():
        split = as_numpy(split).astype(np.int64).reshape(-1)
        _check_range(split, "labels" + (f" in split {name!r}" if name is not None else ""), num_classes)
        counts[name] = np.bincount(split, minlength=num_classes)
    fig = Figure(figsize=(max(5.0, 0.6 * num_classes * max(1, len(splits)) ** 0.5 + 2), 3.5), layout="constrained")
    ax = fig.add_subplot()
    x = np.arange(num_classes)
    width = 0.8 / len(counts)
    for j, (name, c) in enumerate(counts.items()):
        bars = ax.bar(x + (j - (len(counts) - 1) / 2) * width, c, width, label=name)
        ax.bar_label(bars, fontsize=7)
    tilt = num_classes > 6
    ax.set_xticks(x, list(class_names), rotation=45 if tilt else 0, ha="right" if tilt else "center")
    ax.set(ylabel="images", title=title or "")
    ax.margins(y=0.18)
    if len(counts) > 1 or None not in counts:
        ax.legend()
    return fig


def plot_per_class_accuracy(acc: Mapping[str, float], title: str | None = "accuracy per class",
                            sort: bool = False) -> Figure:
    """Horizontal bars of each class's accuracy (fractions in [0, 1]), with the mean as a dashed line.

    >>> fig = plot_per_class_accuracy({"cat": 0.6, "dog": 0.9})
    >>> len(fig.axes[0].patches)
    2
    """
    if not acc:
        raise ValueError("acc is empty: expected {class name: accuracy}")
    items = list(acc.items())
    if sort:
        items.sort(key=lambda kv: (np.nan_to_num(kv[1], nan=-1.0)))
    names = [str(k) for k, _ in items]
    values = np.array([float(v) for _, v in items], dtype=np.float64)
    fig = Figure(figsize=(5.5, 0.3 * len(names) + 1.2), layout="constrained")
    ax = fig.add_subplot()
    y = np.arange(len(names))
    bars = ax.barh(y, np.nan_to_num(values, nan=0.0), color="tab:blue")
    ax.bar_label(bars, labels=["n/a" if np.isnan(v) else f"{v:.0%}" for v in values], fontsize=7, padding=2)
    if np.any(~np.isnan(values)):
        mean = float(np.nanmean(values))
        ax.axvline(mean, color="k", linestyle="--", linewidth=1, label=f"mean {mean:.0%}")
        ax.legend(loc="lower right", fontsize=8)
    ax.set_yticks(y, names)
    ax.invert_yaxis()
    ax.set(xlim=(0, max(1.0, np.nanmax(values, initial=0.0)) * 1.12), xlabel="accuracy", title=title or "")
    return fig


def _records(history) -> list[Mapping]:
    if hasattr(history, "records"):
        history = history.records
    if isinstance(history, Mapping):  # {"train_loss": [...], ...}: columns to rows
        keys = list(history)
        n = max((len(history[k]) for k in keys), default=0)
        return [{k: history[k][i] for k in keys if i < len(history[k])} for i in range(n)]
    records = list(history)
    for r in records:
        if not isinstance(r, Mapping):
            raise TypeError(f"a history record must be a dict, got {type(r).__name__}")
    return records


def _series(records: list[Mapping], key: str, xs: list[float]):
    pts = [(x, float(r[key])) for x, r in zip(xs, records) if r.get(key) is not None and np.isfinite(float(r[key]))]
    return ([p[0] for p in pts], [p[1] for p in pts]) if pts else None


def plot_history(history, title: str | None = None) -> Figure:
    """Loss and accuracy curves, train vs val, per epoch (plus the learning rate if recorded).

    >>> fig = plot_history([{"epoch": 1, "train_loss": 2.0, "val_loss": 2.1},
    ...                     {"epoch": 2, "train_loss": 1.5, "val_loss": 1.8}])
    >>> [ax.get_title() for ax in fig.axes]
    ['loss']
    """
    records = _records(history)
    if not records:
        raise ValueError("the history is empty: train for at least one epoch first")
    xs = [float(r["epoch"]) if r.get("epoch") is not None else float(i + 1) for i, r in enumerate(records)]
    panels = [("loss", ["train_loss", "val_loss"]), ("accuracy", ["train_acc", "val_acc"]), ("learning rate", ["lr"])]
    data = [(name, [(k, s) for k in keys if (s := _series(records, k, xs))]) for name, keys in panels]
    data = [(name, lines) for name, lines in data if lines]
    if not data:
        found = sorted({k for r in records for k in r})
        raise ValueError(f"nothing to plot: expected train_loss/val_loss/train_acc/val_acc/lr; the records have "
                         f"{found}")
    fig, tile = _grid(len(data), len(data), 4.2, 3.2, title)
    for i, (name, lines) in enumerate(data):
        ax = tile(i)
        for key, (x, y) in lines:
            style = "--" if key.startswith("val") else "-"
            ax.plot(x, y, style, marker="o" if len(x) <= 30 else None, markersize=3,
                    label=key.replace("_loss", "").replace("_acc", ""))
        ax.set(title=name, xlabel="epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        if name == "learning rate":
            ys = [v for _, (_, y) in lines for v in y if v > 0]
            if ys and max(ys) / min(ys) > 20:
                ax.set_yscale("log")
        else:
            ax.legend(fontsize=8)
    return fig


def plot_confusion(cm, class_names: Sequence[str], normalize: bool = True, title: str | None = None) -> Figure:
    """The confusion matrix as an annotated heatmap: rows = true class, columns = predicted class.

    >>> fig = plot_confusion([[5, 1], [2, 8]], ["cat", "dog"])
    >>> fig.axes[0].get_ylabel(), len(fig.axes[0].texts)
    ('true', 4)
    """
    m = as_numpy(cm).astype(np.float64)
    if m.ndim != 2 or m.shape[0] != m.shape[1]:
        raise ValueError(f"cm must be a square (C, C) matrix; got shape {m.shape}")
    c = m.shape[0]
    if c != len(class_names):
        raise ValueError(f"cm is {c}x{c} but {len(class_names)} class_names were given")
    counts = np.allclose(m, np.round(m))
    if normalize:
        totals = m.sum(axis=1, keepdims=True)
        m = np.divide(m, totals, out=np.zeros_like(m), where=totals > 0)
    side = max(4.0, 0.45 * c + 2.5)
    fig = Figure(figsize=(side + 1.0, side), layout="constrained")
    ax = fig.add_subplot()
    im = ax.imshow(m, cmap="Blues", vmin=0, vmax=1 if normalize else None, interpolation="nearest")
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    ticks = np.arange(c)
    ax.set_xticks(ticks, list(class_names), rotation=45, ha="right")
    ax.set_yticks(ticks, list(class_names))
    ax.set(xlabel="predicted", ylabel="true")
    if c <= 20:
        threshold = (1.0 if normalize else max(float(m.max()), 1.0)) / 2  # the colour scale's middle
        fmt = "{:.2f}" if normalize or not counts else "{:.0f}"
        for r in range(c):
            for k in range(c):
                ax.text(k, r, fmt.format(m[r, k]), ha="center", va="center", fontsize=7,
                        color="white" if m[r, k] > threshold else "black")
    ax.set_title(title or ("confusion matrix (fraction of each true class)" if normalize else "confusion matrix"))
    return fig


def class_color(c: int) -> tuple:
    """The colour of class (or series) ``c``: matplotlib's tab10, repeating after 10."""
    from matplotlib import colormaps
    return colormaps["tab10"](int(c) % 10)


def _draw_box(ax, box, color, dashed: bool = False, label: str | None = None, lw: float = 1.6) -> None:
    from matplotlib.patches import Rectangle
    x1, y1, x2, y2 = (float(v) for v in box)
    ax.add_patch(Rectangle((x1, y1), x2 - x1, y2 - y1, fill=False, edgecolor=color, linewidth=lw,
                           linestyle="--" if dashed else "-"))
    if label:
        ax.text(x1, y1 - 1, label, color="white", fontsize=6, va="bottom", ha="left",
                bbox=dict(facecolor=color, edgecolor="none", pad=0.8, alpha=0.85))


def show_detections(images, preds=None, truth=None, indices=None, min_confidence: float = 0.25, ncols: int = 4,
                    size: float = 3.0, titles: Sequence[str] | None = None, title: str | None = None) -> Figure:
    """Images with boxes: the ground truth dashed, the predictions solid with ``class conf`` labels.

    >>> import numpy as np
    >>> from coursekit.types import Detections
    >>> gt = [Detections(xyxy=[[4, 4, 20, 20]], class_id=[1], class_names=["nut", "bolt"])]
    >>> fig = show_detections(np.zeros((1, 32, 32, 3), np.uint8), truth=gt)
    >>> len(fig.axes[0].patches)
    1
    """
    items = _image_list(images)
    n_all = len(items)
    for what, dets in (("preds", preds), ("truth", truth)):
        if dets is not None and len(dets) != n_all:
            raise ValueError(f"{len(dets)} {what} for {n_all} images: pass one Detections per image")
    indices = list(range(n_all)) if indices is None else [int(i) for i in as_numpy(indices).reshape(-1)]
    if not indices:
        raise ValueError("no images to show")
    if len(indices) > MAX_IMAGES:
        raise ValueError(f"{len(indices)} images is too many (max {MAX_IMAGES}); pass indices=")
    if titles is not None and len(titles) != len(indices):
        raise ValueError(f"{len(titles)} titles for {len(indices)} images")
    fig, tile = _grid(len(indices), ncols, size, size + 0.3, title)
    for k, i in enumerate(indices):
        ax = tile(k)
        imshow(ax, to_display(items[i]))
        ax.set_axis_off()
        parts = []
        if truth is not None:
            t = truth[i]
            for box, c in zip(t.xyxy, t.class_id):
                _draw_box(ax, box, class_color(c), dashed=True, lw=1.2)
            parts.append(f"{len(t)} labelled")
        if preds is not None:
            p = preds[i]
            if p.confidence is not None:
                p = p.filter(min_confidence=min_confidence)
            conf = p.confidence if p.confidence is not None else [None] * len(p)
            for box, c, s in zip(p.xyxy, p.class_id, conf):
                label = p.class_names[c] + ("" if s is None else f" {s:.2f}")
                _draw_box(ax, box, class_color(c), label=label)
            parts.append(f"{len(p)} predicted")
        ax.set_title(titles[k] if titles is not None else f"#{i}: " + ", ".join(parts), fontsize=8)
    return fig


def show_detection_errors(images, errors, n: int = 12, pad: int = 16, ncols: int = 6, size: float = 1.9,
                          title: str | None = None) -> Figure:
    """Crops around a detector's errors: the rows of :func:`coursekit.detection_metrics.detection_errors`.

    >>> import numpy as np, pandas as pd
    >>> rows = pd.DataFrame([dict(image=0, error="background", **{"class": "nut"}, confidence=0.9, iou=0.0,
    ...                           x1=2, y1=2, x2=10, y2=10)])
    >>> len(show_detection_errors(np.zeros((1, 32, 32, 3), np.uint8), rows).axes)
    1
    """
    items = _image_list(images)
    rows = errors.head(n)
    if len(rows) == 0:
        raise ValueError("no errors to show (none of this kind at this threshold? then say so)")
    fig, tile = _grid(len(rows), ncols, size, size + 0.45, title)
    for j, r in enumerate(rows.to_dict("records")):
        row = SimpleNamespace(**r)
        img = to_display(items[int(row.image)])
        h, w = img.shape[:2]
        x1, y1 = max(int(row.x1) - pad, 0), max(int(row.y1) - pad, 0)
        x2, y2 = min(int(math.ceil(row.x2)) + pad, w), min(int(math.ceil(row.y2)) + pad, h)
        ax = tile(j)
        imshow(ax, img[y1:y2, x1:x2])
        ax.set_axis_off()
        missed = str(row.error).startswith("missed")
        color = "tab:orange" if missed else WRONG_COLOR
        _draw_box(ax, (row.x1 - x1, row.y1 - y1, row.x2 - x1, row.y2 - y1), color, dashed=missed)
        conf = "" if (row.confidence is None or math.isnan(row.confidence)) else f" {row.confidence:.2f}"
        what = f"{r['class']} on a {r['covers']}" if r.get("covers") else r["class"]
        ax.set_title(f"{str(row.error).replace('missed: ', 'miss: ')}\n{what}{conf} (#{int(row.image)})", fontsize=7,
                     color=color)
    return fig


def reveal_shapes(predicted, model, x=None,
                  stages=("prep", "layer1", "layer2", "layer3", "pool", "flatten", "fc")) -> dict[str, tuple]:
    """Print your predicted shapes (a list, one per stage) beside the real ones for ``x`` (default zeros (2, 3, 32,
    32)) and each stage's parameters, with a hint for each wrong one; returns ``{stage: shape}`` (raises nothing)."""
    import torch

    from .models import count_parameters

    x, actual = torch.zeros(2, 3, 32, 32) if x is None else x, {}
    first = tuple(x.shape)
    with torch.no_grad():
        for s in stages:
            actual[s] = tuple((x := getattr(model, s)(x)).shape)
    guesses = list(predicted) if isinstance(predicted, (list, tuple)) else []
    guesses = [None if g is None or g is Ellipsis else tuple(g) if isinstance(g, (tuple, list, torch.Size)) else g
               for g in guesses] + [None] * (len(stages) - len(guesses))
    print(f"{'stage':<10} {'your prediction':<20} {'shape':<18}\n{'input':<10} {'':<20} {str(first):<18}")
    hints = []
    for s, guess in zip(stages, guesses):
        mark = "" if guess is None else ("✓ " if guess == actual[s] else "✗ ") + str(guess)
        print(f"{s:<10} {mark:<20} {str(actual[s]):<18} {count_parameters(getattr(model, s), False):>10,} parameters")
        if guess is not None and guess != actual[s]:
            hints.append(f"\n  {s}: {_prediction_hint(guess, actual[s], s)}")
    print(f"total {count_parameters(model, False):,} parameters")
    right = sum(g == actual[s] for s, g in zip(stages, guesses) if g is not None)
    if all(g is None for g in guesses):
        print("… not attempted yet: write your predictions in the list first, then run this cell again")
    else:
        print(f"{'✓' if right == len(stages) else '…'} {right} of {len(stages)} predicted right{''.join(hints)}")
    return actual


def _prediction_hint(guess, real: tuple, stage: str) -> str:
    if not isinstance(guess, tuple):
        return "write each shape as a tuple, e.g. (2, 3, 32, 32)."
    if guess == real[1:]:
        return "keep the batch dimension first: (N, ...) with N = 2."
    if sorted(guess) == sorted(real):
        return "PyTorch is channels-first: (N, C, H, W)."
    if len(guess) == 4 == len(real):
        if guess[1] != real[1]:
            return "the channels double at each stage after prep (width, 2w, 4w, 8w)."
        if guess[2] == 2 * real[2]:
            return "each stage's max pool halves H and W."
        if 2 * guess[2] == real[2]:
            return "the residual block keeps the size (x + body(x) needs it); only the max pools halve it."
        if guess[2] < real[2] and (real[2] - guess[2]) % 2 == 0:
            return "padding 1 keeps a 3x3 conv's output at the input's size."
    if stage in ("pool", "flatten", "fc"):
        return "global max pool -> (N, C, 1, 1); flatten -> (N, C); the linear layer -> (N, classes)."
    return "follow the table above stage by stage."
