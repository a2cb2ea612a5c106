"""Module 4's glue: foundation models (CLIP, SAM) behind the course's own types.

>>> import numpy as np
>>> masks = np.zeros((1, 8, 8), bool); masks[0, 2:5, 1:4] = True
>>> d = masks_to_detections(masks, scores=[0.9], class_names=["part"])
>>> d.xyxy.tolist(), [round(float(c), 2) for c in d.confidence]
([[1.0, 2.0, 4.0, 5.0]], [0.9])
"""
from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from .types import Detections, softmax

__all__ = ["FOUNDATION_SETTINGS", "SMOKE_WITH_REAL_ON_CPU", "foundation_setting", "per_class_head",
           "linear_probe_curve", "masks_to_detections", "name_regions", "segment_and_name"]

#: Notebook 04's sizes per run profile. ``clip`` / ``sam``: the real models (keys of ``models.clip.CLIP_MODELS`` /
#: ``models.sam.SAM_KINDS``; offline, the announced stand-ins; on a GPU try "ViT-B-16" / "vit_h"); ``ks``: labels
#: per class of the linear-probe curve, ``seeds`` draws per k; ``sam_images``: scenes SAM is scored on;
#: ``amg_points``: points per side of SAM's mask generator; ``pipeline_images``: scenes through detector -> SAM -> CLIP.
FOUNDATION_SETTINGS: dict[str, dict] = {
    "full": dict(clip="ViT-B-32", sam="vit_b", ks=(1, 2, 5, 10, 25, 50, 100, 200), seeds=(0, 1, 2), sam_images=60,
                 amg_points=16, pipeline_images=30, per_class=None, timing_repeats=3),
    "smoke": dict(clip="ViT-B-32", sam="vit_b", ks=(1, 5, 25, 100), seeds=(0,), sam_images=8, amg_points=8,
                  pipeline_images=6, per_class=None, timing_repeats=3),
}
#: Smoke checks the code in minutes: with real weights cached and no GPU it uses fewer images (SAM ViT-B's
#: encoder takes seconds per 1024 px image on a CPU, measured in notebooks/measured/sam_vit_b_encoder_cpu.json).
SMOKE_WITH_REAL_ON_CPU = {"clip": dict(per_class=30, ks=(1, 5, 25)),
                          "sam": dict(sam_images=2, amg_points=4, pipeline_images=2, timing_repeats=1)}


def foundation_setting(S=None) -> dict:
    """This run's row of :data:`FOUNDATION_SETTINGS` (by the profile), with its ``name``; in smoke, with the
    real CLIP or SAM weights cached and no CUDA GPU, the sizes of :data:`SMOKE_WITH_REAL_ON_CPU` (``reduced``
    says which and why)."""
    from .assets import cache_state
    from .config import module_setting, settings as _settings

    S = S or _settings()
    row = {**module_setting(FOUNDATION_SETTINGS, S), "reduced": []}
    if S.smoke and not str(S.device).startswith("cuda"):
        from .models.clip import CLIP_MODELS
        from .models.sam import SAM_KINDS
        for model, asset in (("clip", CLIP_MODELS[row["clip"]].asset), ("sam", SAM_KINDS[row["sam"]])):
            if cache_state(asset) == "cached":
                row.update(SMOKE_WITH_REAL_ON_CPU[model])
                row["reduced"].append(f"real {model.upper()} weights on {S.device}: {SMOKE_WITH_REAL_ON_CPU[model]}")
    return row


def per_class_head(dataset, meta, n: int | None):
    """The first ``n`` images of each class of an :class:`~coursekit.data.ArrayDataset` and its metadata
    table (``None``: all of them), in dataset order.

    >>> from coursekit.data import ArrayDataset
    >>> import pandas as pd
    >>> ds = ArrayDataset(np.zeros((6, 2, 2, 3), np.uint8), np.array([0, 1, 0, 1, 0, 1]), ["a", "b"])
    >>> small, meta = per_class_head(ds, pd.DataFrame({"i": range(6)}), 2)
    >>> small.labels.tolist(), meta["i"].tolist()
    ([0, 1, 0, 1], [0, 1, 2, 3])
    """
    if n is None:
        return dataset, meta
    from dataclasses import replace
    keep = np.sort(np.concatenate([np.flatnonzero(dataset.labels == c)[:n] for c in range(len(dataset.classes))]))
    return (replace(dataset, images=dataset.images[keep], labels=dataset.labels[keep]),
            meta.iloc[keep].reset_index(drop=True))


def linear_probe_curve(train_features, train_labels, test_features, test_labels, ks: Sequence[int],
                       seeds: Sequence[int] = (0,), C: float = 1.0, max_iter: int = 2000):
    """Test accuracy of a linear probe against labels per class: a pandas DataFrame (k, seed, accuracy).

    >>> rng = np.random.default_rng(0)
    >>> X = np.r_[rng.normal(0, 1, (40, 4)), rng.normal(5, 1, (40, 4))]; y = np.r_[np.zeros(40), np.ones(40)]
    >>> curve = linear_probe_curve(X[::2], y[::2], X[1::2], y[1::2], ks=[1, 10])
    >>> curve["accuracy"].round(2).tolist()
    [1.0, 1.0]
    """
    import pandas as pd
    from sklearn.linear_model import LogisticRegression
    from .models.transfer import subset_per_class
    Xtr, ytr = np.asarray(train_features, np.float64), np.asarray(train_labels).astype(np.int64)
    Xte, yte = np.asarray(test_features, np.float64), np.asarray(test_labels).astype(np.int64)
    if len(Xtr) != len(ytr) or len(Xte) != len(yte):
        raise ValueError(f"features and labels differ in length: train {len(Xtr)} vs {len(ytr)}, "
                         f"test {len(Xte)} vs {len(yte)}")
    n_classes = int(max(ytr.max(), yte.max())) + 1
    rows = []
    for k in ks:
        for seed in seeds:
            idx = subset_per_class(ytr, int(k), seed=int(seed), num_classes=n_classes)
            probe = LogisticRegression(C=C, max_iter=max_iter).fit(Xtr[idx], ytr[idx])
            rows.append({"k": int(k), "seed": int(seed), "accuracy": float(probe.score(Xte, yte))})
    return pd.DataFrame(rows)


def masks_to_detections(masks, scores=None, class_names: Sequence[str] = ("object",), class_id=None,
                        image_size: tuple[int, int] | None = None) -> Detections:
    """Bool masks (N, H, W) as :class:`Detections`: boxes are the masks' tight bounding boxes (pixel edges),
    ``confidence`` = ``scores`` (e.g. SAM's predicted IoU)."""
    m = np.asarray(masks).astype(bool)
    if m.ndim != 3:
        raise ValueError(f"masks must be (N, H, W); got shape {m.shape}")
    boxes = np.zeros((len(m), 4), np.float32)
    for i, mask in enumerate(m):
        ys, xs = np.nonzero(mask)
        if len(xs):
            boxes[i] = (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)
    cid = np.zeros(len(m), np.int64) if class_id is None else np.asarray(class_id, np.int64)
    conf = None if scores is None else np.asarray(scores, np.float32).reshape(-1)
    return Detections(xyxy=boxes, class_id=cid, class_names=list(class_names), confidence=conf, masks=m,
                      image_size=image_size or (m.shape[1], m.shape[2]))


def _region_crop(image: np.ndarray, box, mask: np.ndarray | None, pad: float = 0.1, fill: int = 128) -> np.ndarray:
    """The box (grown by ``pad`` of its size) cut out of the image; pixels outside ``mask`` set to grey."""
    h, w = image.shape[:2]
    x1, y1, x2, y2 = (float(v) for v in box)
    dx, dy = (x2 - x1) * pad, (y2 - y1) * pad
    x1, y1 = max(int(np.floor(x1 - dx)), 0), max(int(np.floor(y1 - dy)), 0)
    x2, y2 = min(int(np.ceil(x2 + dx)), w), min(int(np.ceil(y2 + dy)), h)
    if x2 <= x1 or y2 <= y1:
        return np.full((1, 1, 3), fill, np.uint8)
    crop = image[y1:y2, x1:x2].copy()
    if mask is not None:
        crop[~mask[y1:y2, x1:x2]] = fill
    return crop


def name_regions(clip_encode: Callable[[list[np.ndarray]], np.ndarray], classifier: np.ndarray, logit_scale: float,
                 image: np.ndarray, regions: Detections, class_names: Sequence[str]) -> Detections:
    """Name each region of ``regions`` with CLIP: returns ``regions`` with ``class_id`` = the best class and
    ``confidence`` = that class's zero-shot probability (times the region's own score, if it has one)."""
    names = list(class_names)
    if len(regions) == 0:
        return Detections.empty(names, image_size=image.shape[:2])
    masks = regions.masks if regions.masks is not None else [None] * len(regions)
    crops = [_region_crop(image, box, m) for box, m in zip(regions.xyxy, masks)]
    feats = np.asarray(clip_encode(crops), np.float32)
    probs = softmax(float(logit_scale) * feats @ np.asarray(classifier, np.float32).T)
    cid = probs.argmax(axis=1)
    conf = probs[np.arange(len(cid)), cid] * (regions.confidence if regions.confidence is not None else 1)
    return Detections(xyxy=regions.xyxy, class_id=cid, class_names=names, confidence=conf, masks=regions.masks,
                      image_size=image.shape[:2])


def segment_and_name(image: np.ndarray, boxes: Detections, segment_box: Callable, clip_encode: Callable,
                     classifier: np.ndarray, logit_scale: float, class_names: Sequence[str]) -> Detections:
    """Detector boxes -> masks -> names, for one RGB image: the Module 4 pipeline."""
    if len(boxes) == 0:
        return Detections.empty(list(class_names), image_size=image.shape[:2])
    masks, scores = zip(*(segment_box(box) for box in boxes.xyxy))
    score = np.asarray([float(s) for s in scores], np.float32)
    score = score * boxes.confidence if boxes.confidence is not None else score
    regions = masks_to_detections(np.stack([np.asarray(m, bool) for m in masks]), score, class_names=list(class_names),
                                  image_size=image.shape[:2])
    return name_regions(clip_encode, classifier, logit_scale, image, regions, class_names)
