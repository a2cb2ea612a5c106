"""The course's detection dataset (``datasets/parts_detection``, YOLO layout): 2 to 6 inspection parts per
320 px scene among unlabelled clutter, boxed by their visible pixels; ``test_shifted`` is another domain.
Built by ``tools/build_detection_dataset.py`` with the renderer here; :func:`load_detection_split` reads it.

>>> scene, labels = render_detection_scene(3, "train", seed=0, size=128)
>>> scene.image.shape, 2 <= len(scene.objects) <= 6, labels[0]["class"] in DETECTION_CLASSES
((128, 128, 3), True, True)
>>> bool((render_detection_scene(3, "train", seed=0, size=128)[0].image == scene.image).all())
True
"""
from __future__ import annotations

import math
import os
from pathlib import Path

import cv2
import numpy as np

from ..scenes.generator import Scene, SceneGenerator
from ..scenes.parts import build_part
from ..scenes.render import paste, rasterize
from .yolo import xyxy_to_yolo, yolo_to_xyxy
from .inspection import (SPLIT_DOMAIN, SPLIT_OFFSET, INSPECTION_DOMAINS, INSPECTION_PARTS, INSPECTION_SPLITS,
                         DatasetIntegrityError, check_index_seed, check_int, check_split, open_split, read_rgb,
                         split_filter, verify_manifest)

__all__ = ["object_values", "DETECTION_CLASSES", "DETECTION_SPLITS", "DETECTION_DOMAINS", "DEFAULT_COUNTS",
           "DEFAULT_SIZE", "GENERATOR_VERSION", "MIN_VISIBLE", "MIN_IN_FRAME", "MIN_BOX_SIDE", "DatasetIntegrityError",
           "label_decision", "render_detection_scene", "verify_detection_dataset", "detection_root",
           "load_detection_split", "generator_for"]

DETECTION_CLASSES: tuple[str, ...] = INSPECTION_PARTS
"""The six part types of Module 2, in class-id order: washer, flange, plate, bracket, hinge, gear."""
DETECTION_SPLITS: tuple[str, ...] = INSPECTION_SPLITS
DEFAULT_COUNTS: dict[str, int] = {"train": 240, "val": 60, "test": 60, "test_shifted": 60}
"""Images per split of the shipped dataset."""
DEFAULT_SIZE = 320
"""Image side in pixels: a multiple of 32, so YOLO's strides tile it without padding."""
GENERATOR_VERSION = "1"
"""Bump when a change to this module or the scene generator changes the images or labels."""
MIN_VISIBLE = 0.4
"""A part with less than this fraction of its in-frame area visible (not hidden) is not labelled."""
MIN_IN_FRAME = 0.5
"""A part with less than this fraction of its area inside the image is not labelled."""
MIN_BOX_SIDE = 4
"""A box narrower or lower than this many pixels is not labelled."""
PARTS_PER_IMAGE = (2, 6)
OBJECT_SIZE = (0.16, 0.32)
"""Bounding-circle diameter of a part as a fraction of the image side (times the domain's object_scale)."""

#: The two cameras, derived from the inspection domains (same lighting and backgrounds as Module 2),
#: with more clutter, some of it lying over a part's rim (``occlusion_prob``): partial occlusions.
DETECTION_DOMAINS = {"source": INSPECTION_DOMAINS["source"].replace(
                         name="detection-source", clutter=(1, 4), occlusion_prob=0.3, object_scale=(0.9, 1.1)),
                     "shifted": INSPECTION_DOMAINS["shifted"].replace(
                         name="detection-shifted", clutter=(2, 5), occlusion_prob=0.4, object_scale=(0.85, 1.1))}


def check_size(size) -> int:
    size = check_int("size", size, 64)
    if size % 32:
        raise ValueError(f"size must be a multiple of 32 (YOLO's largest stride); got {size}")
    return size


def generator_for(split: str, seed: int = 0, size: int = DEFAULT_SIZE) -> SceneGenerator:
    """The :class:`~coursekit.scenes.SceneGenerator` that renders ``split`` (scene ``offset + index``)."""
    return SceneGenerator(size, domain=DETECTION_DOMAINS[SPLIT_DOMAIN[check_split(split)]], seed=seed,
                          parts=DETECTION_CLASSES, objects_per_scene=PARTS_PER_IMAGE, centred=False,
                          object_size=OBJECT_SIZE)


def label_decision(box_xyxy, visible_px: float, in_frame_px: float, full_px: float) -> str | None:
    """Why a part is left out of the labels (``"border"``, ``"occluded"``, ``"small"``: see :data:`MIN_IN_FRAME`,
    :data:`MIN_VISIBLE`, :data:`MIN_BOX_SIDE`), or ``None`` to keep it.

    >>> label_decision((0, 0, 50, 50), 900, 1000, 1000), label_decision((0, 0, 50, 50), 300, 1000, 1000)
    (None, 'occluded')
    >>> label_decision((0, 0, 50, 50), 400, 400, 1000), label_decision((0, 0, 3, 50), 100, 100, 100)
    ('border', 'small')
    """
    x1, y1, x2, y2 = (float(v) for v in box_xyxy)
    if full_px <= 0 or in_frame_px < MIN_IN_FRAME * full_px:
        return "border"
    if visible_px < MIN_VISIBLE * in_frame_px:
        return "occluded"
    if x2 - x1 < MIN_BOX_SIDE or y2 - y1 < MIN_BOX_SIDE:
        return "small"
    return None


def _footprint(gen: SceneGenerator, scene: Scene, k: int) -> tuple[np.ndarray, int]:
    """``(in-frame mask, whole area in px)`` of part ``k`` as if nothing lay on it, re-rasterised as the generator
    pastes it."""
    obj = scene.objects[k]
    ss, h, w = gen.ss, gen.h, gen.w
    radius = obj.scale * min(h, w) * ss / 2
    size = int(math.ceil(2 * radius)) + 4
    cx, cy = obj.center_xy[0] * ss - 0.5, obj.center_xy[1] * ss - 0.5
    x0, y0 = int(math.floor(cx - size / 2)), int(math.floor(cy - size / 2))
    m = ss * (size // ss + 2)  # margin, a multiple of ss so the 2x2 area-downsampling grid stays aligned
    vis = obj.mask
    for i in [k] + [j for j in range(gen.objects_per_scene[1]) if j != k]:
        rng = np.random.default_rng([gen.seed, gen.domain.code, scene.index, 1, i])
        spec = build_part(obj.part, rng)
        canvas = rasterize(spec, size, (cx - x0, cy - y0), radius, obj.angle_deg)
        big = np.zeros((h * ss + 2 * m, w * ss + 2 * m), np.float32)
        paste(big, canvas.mask.astype(np.float32) * (1.0 / 255.0), x0 + m, y0 + m, mode="set")
        if ss > 1:
            big = cv2.resize(big, (big.shape[1] // ss, big.shape[0] // ss), interpolation=cv2.INTER_AREA)
        full = big > 0.5
        mo = m // ss
        inside = full[mo:mo + h, mo:mo + w]
        if not (vis & ~inside).any():
            return inside, int(full.sum())
    raise RuntimeError(  # pragma: no cover - only if the scene generator changes how it draws parts
        f"could not rebuild the outline of part {k} ({obj.part}) of scene {scene.index} ({scene.domain}): "
        "the scene generator no longer draws parts the way coursekit.data.detection._footprint assumes; "
        "update _footprint and bump GENERATOR_VERSION")


def _render(index: int, split: str, seed: int, size: int) -> tuple[Scene, list[dict]]:
    """The scene and one record per annotated part, with ``drop`` = the reason it is not labelled, or None."""
    index, seed = check_index_seed(index, seed)
    gen = generator_for(split, seed, check_size(size))
    scene = gen.render(SPLIT_OFFSET[split] + index)
    parts = []
    for k, obj in enumerate(scene.objects):
        inside, full_px = _footprint(gen, scene, k)
        visible_px, in_frame_px = int(obj.mask.sum()), int(inside.sum())
        box = tuple(int(v) for v in obj.box_xyxy)
        parts.append({"object": k, "class_id": int(obj.class_id), "class": obj.part, "box_xyxy": box,
                      "yolo": tuple(xyxy_to_yolo([box], gen.w, gen.h)[0].tolist()), "area_px": visible_px,
                      "occlusion": round(1.0 - visible_px / max(in_frame_px, 1), 4),
                      "in_frame": round(in_frame_px / max(full_px, 1), 4),
                      "angle_deg": round(float(obj.angle_deg), 2), "material": obj.material,
                      "drop": label_decision(box, visible_px, in_frame_px, full_px)})
    return scene, parts


def render_detection_scene(index: int, split: str = "train", seed: int = 0,
                           size: int = DEFAULT_SIZE) -> tuple[Scene, list[dict]]:
    """Render image ``index`` of ``split`` (deterministic): ``(scene, labels)``, a dict per labelled part
    (:func:`label_decision`): object, class_id, class, box_xyxy, yolo, area_px, occlusion, in_frame, ..."""
    scene, parts = _render(index, check_split(split), seed, size)
    return scene, [{k: v for k, v in p.items() if k != "drop"} for p in parts if p["drop"] is None]


def detection_root(root: str | os.PathLike | None = None) -> Path:
    """``root``, else the repository's ``datasets/parts_detection``, else the cache's."""
    from ..config import writable_home
    from .shipped import find_shipped_dataset

    return find_shipped_dataset(
        "parts_detection", root,
        rebuild=f"python -m tools.build_detection_dataset {writable_home() / 'datasets' / 'parts_detection'}")


def verify_detection_dataset(root: str | os.PathLike | None = None, splits=None) -> dict:
    """Check the dataset's files (only ``splits``', if given) against ``manifest.json``; return it, or raise
    :class:`DatasetIntegrityError` naming the missing, changed and unlisted files and how to restore them."""
    root = detection_root(root)
    keep, fix = split_filter(root, splits, "build_detection_dataset")

    def wanted(rel: str) -> bool:
        parts = rel.split("/")
        if len(parts) == 2 and parts[0] == "labels" and rel.endswith(".cache"):
            return False  # ultralytics' label cache (labels/<split>.cache), written when it trains
        return keep is None or len(parts) < 3 or parts[1] in keep

    return verify_manifest(root, fix, keep=wanted)


def load_detection_split(split: str, root: str | os.PathLike | None = None, verify: bool = True,
                         as_detections: bool = False):
    """``(images uint8 (N, H, W, 3), targets, images.csv rows)``; a target is ``{"boxes": float32 xyxy px,
    "classes": int64}`` (a ground-truth :class:`~coursekit.types.Detections` with ``as_detections``).

    >>> images, targets, meta = load_detection_split("val")   # doctest: +SKIP
    """
    check_split(split)
    root = detection_root(root)
    manifest, meta = open_split(root, split, verify_detection_dataset if verify else None, "counts", "images.csv")
    size = int(manifest["size"])
    images = np.empty((len(meta), size, size, 3), np.uint8)
    targets = []
    for i, (rel, lab) in enumerate(zip(meta["file"], meta["label_file"])):
        images[i] = read_rgb(root / rel, size)
        rows = _label_rows(root / lab)
        boxes = yolo_to_xyxy(rows[:, 1:], size, size).astype(np.float32)
        targets.append({"boxes": boxes, "classes": rows[:, 0].astype(np.int64)})
    if as_detections:
        from ..types import Detections

        names = list(manifest.get("classes") or INSPECTION_PARTS)
        targets = [Detections(xyxy=t["boxes"], class_id=t["classes"], class_names=names, image_size=(size, size))
                   for t in targets]
    return images, targets, meta


def _label_rows(path: Path) -> np.ndarray:
    return np.array(path.read_text(encoding="ascii").split(), np.float64).reshape(-1, 5)


def object_values(split: str, column: str, root: str | os.PathLike | None = None) -> list[np.ndarray]:
    """An ``objects.csv`` column of ``split`` as one array per image, a value per box in label order (checked
    against the label files), for per-object slices.

    >>> occlusion = object_values("test", "occlusion")           # doctest: +SKIP
    """
    import pandas as pd

    check_split(split)
    root = detection_root(root)
    table = pd.read_csv(root / "objects.csv")
    if column not in table.columns:
        raise KeyError(f"objects.csv has no column {column!r}; it has {', '.join(table.columns)}")
    table = table[table["split"] == split].sort_values(["index", "object"], kind="stable")
    images = pd.read_csv(root / "images.csv")
    images = images[images["split"] == split].sort_values("index")
    groups = dict(tuple(table.groupby("file", sort=False)))
    out = []
    for rel, lab in zip(images["file"], images["label_file"]):
        rows = groups.get(rel, table.iloc[0:0])
        classes = _label_rows(root / lab)[:, 0].astype(np.int64)
        if len(rows) != len(classes) or not np.array_equal(rows["class_id"].to_numpy(), classes):
            raise DatasetIntegrityError(f"{root / lab}: objects.csv lists {len(rows)} boxes ({rows['class_id'].tolist()}) "
                                        f"but the label file has {len(classes)} ({classes.tolist()}); rebuild the dataset")
        out.append(rows[column].to_numpy())
    return out
