"""Anchors, the YOLOv5 way and the anchor-free way of YOLOv8/YOLO11: the Module 3 lesson in code.

>>> wh = np.array([[10, 12], [11, 13], [60, 40], [62, 41], [200, 180], [210, 170]], dtype=float)
>>> kmeans_anchors(wh, n=3).round(1).tolist()
[[10.5, 12.5], [61.0, 40.5], [205.0, 175.0]]
>>> anchor_fit(wh, YOLOV5_ANCHORS).bpr
1.0
>>> len(anchor_points(320)[0])             # 40*40 + 20*20 + 10*10 points
2100
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from .types import as_numpy, as_xyxy

__all__ = ["YOLOV5_ANCHORS", "ANCHOR_T", "ratio_metric", "AnchorFit", "anchor_fit", "kmeans_anchors",
           "kmeans_iou_anchors", "scale_anchors", "anchor_points", "AssignmentCandidates", "assignment_candidates",
           "plot_anchors", "plot_assignment"]

#: YOLOv5's default anchors, (width, height) in pixels at a 640 input, computed on COCO: rows 0-2 for
#: P3 (stride 8), 3-5 for P4 (stride 16), 6-8 for P5 (stride 32). From ``anchors:`` in
#: ``models/yolov5s.yaml`` of github.com/ultralytics/yolov5 (the same in yolov5n/s/m/l/x.yaml).
YOLOV5_ANCHORS = np.array([[10, 13], [16, 30], [33, 23], [30, 61], [62, 45], [59, 119], [116, 90], [156, 198],
                           [373, 326]], dtype=np.float64)
YOLOV5_ANCHORS.setflags(write=False)

#: YOLOv5's ``anchor_t``: a box may be learned by an anchor when width and height are within this factor.
ANCHOR_T = 4.0
_STRIDES = (8, 16, 32)


def _wh(wh, name: str = "wh") -> np.ndarray:
    """(N, 2) float64 widths and heights, from an array or from box_stats()' table (width_px, height_px)."""
    if hasattr(wh, "columns"):
        if not {"width_px", "height_px"} <= set(wh.columns):
            raise ValueError(f"{name} is a table without width_px/height_px columns; pass box_stats()' table "
                             "or an (N, 2) array of box widths and heights in pixels")
        wh = wh[["width_px", "height_px"]].to_numpy()
    arr = np.ascontiguousarray(as_numpy(wh), dtype=np.float64)  # one memory layout: the same k-means sums, bit for bit
    arr = arr[None] if arr.shape == (2,) else arr
    if arr.ndim != 2 or arr.shape[1] != 2:
        corners = arr.ndim == 2 and arr.shape[1] == 4
        hint = " (these look like x1, y1, x2, y2 boxes: take x2 - x1 and y2 - y1)" if corners else ""
        raise ValueError(f"{name} must be (N, 2) box widths and heights in pixels; got shape {arr.shape}{hint}")
    if len(arr) == 0:
        raise ValueError(f"{name} is empty: there are no boxes to fit anchors to")
    bad = ~np.isfinite(arr).all(1) | (arr <= 0).any(1)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ValueError(f"{name} has {int(bad.sum())} row(s) that are not positive finite sizes, e.g. row {i}: "
                         f"{arr[i].tolist()}; drop them (a box needs a width and a height > 0)")
    return arr


def _imgsz(imgsz) -> tuple[int, int]:
    """(height, width) from an int or a (height, width) pair, as ultralytics' imgsz."""
    hw = (imgsz, imgsz) if np.isscalar(imgsz) else tuple(imgsz)
    if len(hw) != 2 or not all(float(v).is_integer() and v > 0 for v in hw):
        raise ValueError(f"imgsz must be a positive whole number of pixels or (height, width); got {imgsz!r}")
    return int(hw[0]), int(hw[1])


def _strides(strides) -> tuple[int, ...]:
    s = tuple(strides) if not np.isscalar(strides) else (strides,)
    if not s or not all(float(v).is_integer() and v > 0 for v in s):
        raise ValueError(f"strides must be positive whole numbers, e.g. (8, 16, 32); got {strides!r}")
    return tuple(int(v) for v in s)


def ratio_metric(wh, anchors) -> np.ndarray:
    """How well each box's size matches each anchor's: (N, K) values in (0, 1], 1 = the same size.

    >>> ratio_metric([[20, 10]], [[20, 10], [10, 10], [80, 10]]).tolist()
    [[1.0, 0.5, 0.25]]
    """
    wh, k = _wh(wh), _wh(anchors, "anchors")
    r = wh[:, None, :] / k[None, :, :]  # (N, K, 2)
    return np.minimum(r, 1 / r).min(axis=2)


@dataclass(frozen=True)
class AnchorFit:
    """How well a set of anchors fits a dataset's boxes (:func:`anchor_fit`), YOLOv5 AutoAnchor's numbers."""

    thr: float
    bpr: float
    aat: float
    mean_best: float
    best_anchor: np.ndarray
    best_ratio: np.ndarray

    def __str__(self) -> str:
        return (f"best possible recall {self.bpr:.3f}, {self.aat:.2f} anchors/box above threshold, mean best ratio "
                f"{self.mean_best:.3f} (thr {self.thr:g}, {len(self.best_anchor)} boxes)")


def anchor_fit(wh, anchors, thr: float = ANCHOR_T) -> AnchorFit:
    """Best possible recall, anchors per box and best anchor of each box, for anchors ``(K, 2)``.

    >>> fit = anchor_fit([[10, 10], [40, 40], [200, 200]], [[10, 10], [30, 30]])
    >>> fit.bpr, fit.best_anchor.tolist(), round(fit.aat, 3)    # 200 px is 6.7x the largest anchor
    (0.6666666666666666, [0, 1, 1], 1.0)
    """
    if not thr > 1:
        raise ValueError(f"thr is a size ratio (YOLOv5's anchor_t, 4.0) and must be > 1; got {thr}")
    x = ratio_metric(wh, anchors)
    best = x.max(axis=1)
    return AnchorFit(thr=float(thr), bpr=float((best > 1 / thr).mean()), aat=float((x > 1 / thr).sum(1).mean()),
                     mean_best=float(best.mean()), best_anchor=x.argmax(axis=1), best_ratio=best)


def kmeans_anchors(wh, n: int = 9, *, seed: int = 0) -> np.ndarray:
    """``n`` anchors (n, 2) for a dataset's box sizes, sorted by area: k-means, as YOLOv5's AutoAnchor.

    >>> wh = np.array([[10, 10], [12, 12], [50, 100], [54, 96]])
    >>> kmeans_anchors(wh, n=2).tolist()
    [[11.0, 11.0], [52.0, 98.0]]
    """
    wh = _wh(wh)
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n is the number of anchors, a whole number >= 1 (YOLOv5: 9); got {n!r}")
    if len(wh) < n:
        raise ValueError(f"{len(wh)} boxes cannot make {n} anchors: k-means needs at least n boxes; ask for "
                         f"fewer anchors (n={len(wh)} at most) or use more of the dataset")
    distinct = len(np.unique(wh, axis=0))
    if distinct < n:
        raise ValueError(f"the boxes have only {distinct} different sizes, fewer than the {n} anchors asked for; "
                         f"use n <= {distinct}")
    from sklearn.cluster import KMeans
    sigma = wh.std(axis=0)
    sigma[sigma == 0] = 1.0  # every box equally wide (or high): nothing to whiten
    k = KMeans(n_clusters=n, n_init=30, random_state=seed).fit(wh / sigma).cluster_centers_ * sigma
    return k[np.argsort(k.prod(axis=1), kind="stable")]


def kmeans_iou_anchors(wh, n: int = 9, *, seed: int = 0) -> np.ndarray:
    """``n`` anchors (n, 2) by k-means with the distance ``1 - IoU`` of (w, h) pairs, sorted by area: YOLOv2's recipe.

    >>> wh = np.array([[10, 10], [12, 12], [50, 100], [54, 96]])
    >>> kmeans_iou_anchors(wh, n=2).tolist()
    [[11.0, 11.0], [52.0, 98.0]]
    """
    wh = _wh(wh)
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 1 <= n <= len(wh):
        raise ValueError(f"n must be a whole number from 1 to the number of boxes ({len(wh)}); got {n!r}")
    rng = np.random.default_rng(seed)
    centres = wh[rng.choice(len(wh), n, replace=False)]
    for _ in range(100):
        inter = np.minimum(wh[:, None, 0], centres[None, :, 0]) * np.minimum(wh[:, None, 1], centres[None, :, 1])
        iou = inter / (wh.prod(axis=1)[:, None] + centres.prod(axis=1)[None, :] - inter)
        assign = iou.argmax(axis=1)
        new = np.array([wh[assign == j].mean(axis=0) if (assign == j).any() else centres[j] for j in range(n)])
        if np.allclose(new, centres, rtol=0, atol=1e-12):
            break
        centres = new
    return centres[np.argsort(centres.prod(axis=1), kind="stable")]


def scale_anchors(anchors, from_size: float = 640, to_size: float = 320) -> np.ndarray:
    """Anchors (K, 2) made for ``from_size`` input pixels, in pixels at ``to_size``: ``anchors * to/from``.

    >>> scale_anchors(YOLOV5_ANCHORS, 640, 320)[:2].tolist()
    [[5.0, 6.5], [8.0, 15.0]]
    """
    k = _wh(anchors, "anchors")
    for name, v in (("from_size", from_size), ("to_size", to_size)):
        if not np.isscalar(v) or not v > 0:
            raise ValueError(f"{name} must be a positive number of pixels (the square input size, e.g. 640); got {v!r}")
    return k * (float(to_size) / float(from_size))


def anchor_points(imgsz, strides: Sequence[int] = _STRIDES) -> tuple[np.ndarray, np.ndarray]:
    """The points YOLOv8/YOLO11 predict boxes from: every grid cell's centre, at every stride.

    >>> points, point_strides = anchor_points(64, strides=(32,))
    >>> points.tolist(), point_strides.tolist()
    ([[16.0, 16.0], [48.0, 16.0], [16.0, 48.0], [48.0, 48.0]], [32.0, 32.0, 32.0, 32.0])
    """
    h, w = _imgsz(imgsz)
    strides = _strides(strides)
    points, point_strides = [], []
    for s in strides:
        if h % s or w % s:
            fix = math.ceil(max(h, w) / max(strides)) * max(strides)
            raise ValueError(f"imgsz {h}x{w} is not a multiple of stride {s}: ultralytics rounds imgsz up to a "
                             f"multiple of the largest stride ({max(strides)}), so use e.g. {fix}")
        ys, xs = np.meshgrid(np.arange(h // s) + 0.5, np.arange(w // s) + 0.5, indexing="ij")
        points.append(np.stack([xs.ravel(), ys.ravel()], axis=1) * s)
        point_strides.append(np.full(xs.size, float(s)))
    return np.concatenate(points), np.concatenate(point_strides)


@dataclass(frozen=True)
class AssignmentCandidates:
    """Which anchor points may learn each box (:func:`assignment_candidates`)."""

    boxes: np.ndarray
    regions: np.ndarray
    points: np.ndarray
    point_strides: np.ndarray
    strides: tuple[int, ...]
    imgsz: tuple[int, int]
    min_side: float
    mask: np.ndarray
    counts: np.ndarray

    @property
    def total(self) -> np.ndarray:
        return self.counts.sum(axis=1)

    def to_frame(self):
        """A pandas DataFrame, one row per box: width, height, candidates per stride (``stride_8``, ...) and total."""
        import pandas as pd
        per_stride = {f"stride_{s}": self.counts[:, j] for j, s in enumerate(self.strides)}
        width, height = (self.boxes[:, 2:] - self.boxes[:, :2]).T
        return pd.DataFrame({"width": width, "height": height, **per_stride, "total": self.total})


def assignment_candidates(boxes_xyxy, imgsz, strides: Sequence[int] = _STRIDES,
                          min_side: float | None = None) -> AssignmentCandidates:
    """For each ground-truth box, the anchor points strictly inside it: the points that may learn it.

    >>> c = assignment_candidates([[0, 0, 32, 32], [120, 120, 130, 130]], imgsz=320)
    >>> c.counts.tolist()        # stride 8, 16, 32; the 10-px box is widened to 16 px
    [[16, 4, 1], [4, 1, 0]]
    >>> assignment_candidates([[120, 120, 130, 130]], 320, min_side=0).counts.tolist()
    [[1, 0, 0]]
    """
    boxes = as_xyxy(boxes_xyxy, "boxes_xyxy", strict=True)
    strides = _strides(strides)
    points, point_strides = anchor_points(imgsz, strides)
    min_side = strides[min(1, len(strides) - 1)] if min_side is None else min_side  # ultralytics: the second stride
    if not min_side >= 0:
        raise ValueError(f"min_side must be >= 0 pixels (None: the second stride, as ultralytics); got {min_side!r}")
    centre = (boxes[:, :2] + boxes[:, 2:]) / 2
    size = np.maximum(boxes[:, 2:] - boxes[:, :2], float(min_side))
    regions = np.concatenate([centre - size / 2, centre + size / 2], axis=1)
    lt, rb = regions[:, None, :2], regions[:, None, 2:]  # (N, 1, 2)
    mask = ((points[None] - lt) > 1e-9).all(axis=2) & ((rb - points[None]) > 1e-9).all(axis=2)  # (N, M), as ultralytics
    counts = np.stack([mask[:, point_strides == s].sum(axis=1) for s in strides], axis=1)
    return AssignmentCandidates(boxes=boxes, regions=regions, points=points, point_strides=point_strides,
                                strides=strides, imgsz=_imgsz(imgsz), min_side=float(min_side), mask=mask,
                                counts=counts.reshape(len(boxes), len(strides)))


def plot_anchors(wh, anchors_list: Mapping[str, np.ndarray], imgsz: int = 320, thr: float = ANCHOR_T):
    """Box sizes with anchor sets on top (left), and the anchors drawn as rectangles in the input (right).

    >>> fig = plot_anchors([[30, 40], [60, 50]], {"mine": [[30, 40], [60, 50]]}, imgsz=320)
    >>> len(fig.axes)
    2
    """
    from matplotlib.figure import Figure
    from .viz import _draw_box, class_color  # (viz also shows returned Figures in notebooks)
    wh = _wh(wh)
    if not isinstance(anchors_list, Mapping) or not anchors_list:
        raise ValueError("anchors_list must be a dict name -> (K, 2) anchors, e.g. {'k-means': kmeans_anchors(wh)}")
    sets = {str(name): _wh(a, f"anchors_list[{name!r}]") for name, a in anchors_list.items()}
    size = _imgsz(imgsz)[0]
    fig = Figure(figsize=(11, 5), layout="constrained")
    ax_wh, ax_box = fig.subplots(1, 2)
    ax_wh.scatter(wh[:, 0], wh[:, 1], s=6, alpha=0.35, color="grey", label=f"{len(wh)} boxes")
    markers = "oDs^v<>Pp*"
    for i, (m, (name, k)) in enumerate(zip(markers * 10, sets.items())):
        c = class_color(i)
        fit = anchor_fit(wh, k, thr)
        ax_wh.scatter(k[:, 0], k[:, 1], s=70, marker=m, facecolor="none", edgecolor=c, linewidth=2,
                      label=f"{name}: {len(k)} anchors, bpr {fit.bpr:.3f}")
        for aw, ah in k:
            _draw_box(ax_box, (size / 2 - aw / 2, size / 2 - ah / 2, size / 2 + aw / 2, size / 2 + ah / 2), c, lw=1.5)
        ax_box.plot([], [], color=c, label=name)
    top = max(float(wh.max()), *(float(k.max()) for k in sets.values())) * 1.05
    ax_wh.set(xlim=(0, top), ylim=(0, top), aspect="equal", xlabel="width (px)", ylabel="height (px)",
              title=f"box sizes and anchors at imgsz {size}")
    ax_wh.legend(fontsize="small", loc="upper left")
    half = max(size, top) / 2
    ax_box.set(xlim=(size / 2 - half, size / 2 + half), ylim=(size / 2 + half, size / 2 - half), aspect="equal",
               title=f"anchors in a {size}x{size} input")
    _draw_box(ax_box, (0, 0, size, size), "black", dashed=True, lw=1)
    ax_box.legend(fontsize="small", loc="upper left")
    return fig


def plot_assignment(image, boxes_xyxy, imgsz=None, strides: Sequence[int] = _STRIDES,
                    min_side: float | None = None):
    """An image with its boxes and, inside each, the candidate anchor points, coloured by stride.

    >>> fig = plot_assignment(np.zeros((320, 320, 3), np.uint8), [[10, 20, 80, 60]], imgsz=160)
    >>> fig.axes[0].get_title()
    'imgsz 160, 1 box: candidate points at stride 8: 12, 16: 2, 32: 1'
    """
    from matplotlib.figure import Figure
    from .viz import _draw_box, class_color, imshow, to_display
    if np.ndim(image) not in (2, 3):
        raise ValueError(f"image must be one H x W (x C) or C x H x W image; got shape {np.shape(image)}")
    img = to_display(image)
    h, w = img.shape[:2]
    size = _imgsz(imgsz if imgsz is not None else max(h, w))
    boxes = as_xyxy(boxes_xyxy, "boxes_xyxy", strict=True)
    r = min(size[0] / h, size[1] / w)  # ultralytics' letterbox: the image fitted into imgsz, centred
    px, py = (size[1] - w * r) / 2, (size[0] - h * r) / 2
    cand = assignment_candidates(boxes * r + np.array([px, py, px, py]), size, strides, min_side=min_side)

    fig = Figure(figsize=(6.5, 6.5 * size[0] / size[1] + 0.4), layout="constrained")
    ax = fig.subplots()
    ax.set_facecolor((114 / 255,) * 3)  # ultralytics' letterbox padding grey
    imshow(ax, img)
    ax.images[0].set_extent((px, px + w * r, py + h * r, py))
    colors = {s: class_color(i) for i, s in enumerate(cand.strides)}
    used = cand.mask.any(axis=0)
    ax.scatter(*cand.points[~used].T, s=3, color="white", alpha=0.35, linewidths=0)
    for b, reg in zip(cand.boxes, cand.regions):
        _draw_box(ax, b, "yellow", lw=1.5)
        if not np.allclose(reg, b):
            _draw_box(ax, reg, "yellow", dashed=True, lw=1)
    for j, s in enumerate(cand.strides):
        sel = used & (cand.point_strides == s)
        ax.scatter(*cand.points[sel].T, s=8 + 2 * s, color=colors[s], edgecolor="black", linewidths=0.5,
                   label=f"stride {s}: {int(cand.counts[:, j].sum())} candidates")
    ax.set(xlim=(0, size[1]), ylim=(size[0], 0), xticks=[], yticks=[])
    totals = ", ".join(f"{s}: {int(cand.counts[:, j].sum())}" for j, s in enumerate(cand.strides))
    shape = f"{size[0]}" if size[0] == size[1] else f"{size[0]}x{size[1]}"
    n_boxes = f"{len(boxes)} box" + ("es" if len(boxes) != 1 else "")
    ax.set_title(f"imgsz {shape}, {n_boxes}: candidate points at stride {totals}")
    fig.legend(fontsize="small", loc="outside lower center", ncols=len(cand.strides))  # below: hides no box
    return fig
