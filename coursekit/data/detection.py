"""The course's object-detection dataset: several machined parts per photo, boxed, in YOLO format.

Module 3's small custom set ("train a YOLO detector on your own data"). Each 320 x 320 image shows 2 to 6
parts of the six inspection part types (:data:`DETECTION_CLASSES`, the objects of Module 2) lying on a
conveyor belt, steel fixture plate or inspection board among loose clutter (pins, swarf, chips, balls,
pebbles) that is never labelled and sometimes lies over a part's rim. Scenes come from
:class:`coursekit.scenes.SceneGenerator`; every label is the tight box of a part's *visible* pixels
(the label spec, with the rules for hidden and cut-off parts, is in the README that
:func:`build_detection_dataset` writes).

Splits: ``train``, ``val`` and ``test`` come from the ``source`` domain (the lab); ``test_shifted`` from
the ``shifted`` domain (dim, warm light from anywhere, other backgrounds, blur, noise, JPEG): the same
classes in another factory, to measure domain shift on a detector.

The frozen copy lives in the repository's ``datasets/parts_detection`` folder in the ultralytics/YOLO
layout (``images/<split>/``, ``labels/<split>/``, ``data.yaml``) with ``objects.csv`` and ``images.csv``
for per-slice evaluation and a ``manifest.json`` holding every file's sha256;
:func:`load_detection_split` verifies and reads it.

>>> scene, labels = render_detection_scene(3, "train", seed=0, size=128)
>>> scene.image.shape, 2 <= len(scene.objects) <= 6, labels[0]["class"] in DETECTION_CLASSES
((128, 128, 3), True, True)
>>> bool((render_detection_scene(3, "train", seed=0, size=128)[0].image == scene.image).all())
True
"""
from __future__ import annotations

import csv
import io
import json
import math
import os
import shutil
from pathlib import Path
from typing import Mapping

import cv2
import numpy as np

from ..scenes.generator import Scene, SceneGenerator
from ..scenes.parts import build_part
from ..scenes.render import paste, rasterize
from .inspection import (INSPECTION_DOMAINS, INSPECTION_PARTS, DatasetIntegrityError, _coursekit_version,
                         _read_manifest, _sha256, lighting_label, verify_manifest)
from .shipped import swap_in_folder

__all__ = [
    "object_values",
    "DETECTION_CLASSES", "DETECTION_SPLITS", "DETECTION_DOMAINS", "DEFAULT_COUNTS", "DEFAULT_SIZE",
    "GENERATOR_VERSION", "JPEG_QUALITY", "MIN_VISIBLE", "MIN_IN_FRAME", "MIN_BOX_SIDE", "DatasetIntegrityError",
    "label_decision", "render_detection_scene", "build_detection_dataset", "verify_detection_dataset",
    "detection_root", "load_detection_split", "to_yolo", "generator_for", "main",
]

DETECTION_CLASSES: tuple[str, ...] = INSPECTION_PARTS
"""The six part types of Module 2, in class-id order: washer, flange, plate, bracket, hinge, gear."""
DETECTION_SPLITS: tuple[str, ...] = ("train", "val", "test", "test_shifted")
DEFAULT_COUNTS: dict[str, int] = {"train": 240, "val": 60, "test": 60, "test_shifted": 60}
"""Images per split of the shipped dataset."""
DEFAULT_SIZE = 320
"""Image side in pixels: a multiple of 32, so YOLO's strides tile it without padding."""
GENERATOR_VERSION = "1"
"""Bump when a change to this module or the scene generator changes the images or labels."""
JPEG_QUALITY = 75
"""JPEG quality of the shipped images (4:2:0): 90 made the default folder 9.4 MB instead of 5.8 MB."""
MIN_VISIBLE = 0.4
"""A part with less than this fraction of its in-frame area visible (hidden by other parts or by
clutter lying on it) is not labelled."""
MIN_IN_FRAME = 0.5
"""A part with less than this fraction of its area inside the image is not labelled."""
MIN_BOX_SIDE = 4
"""A box narrower or lower than this many pixels is not labelled."""
PARTS_PER_IMAGE = (2, 6)
OBJECT_SIZE = (0.16, 0.32)
"""Bounding-circle diameter of a part as a fraction of the image side (times the domain's object_scale)."""

#: The two cameras, derived from the inspection domains (same lighting and backgrounds as Module 2),
#: with more clutter, some of it lying over a part's rim (``occlusion_prob``): partial occlusions.
DETECTION_DOMAINS = {
    "source": INSPECTION_DOMAINS["source"].replace(
        name="detection-source", clutter=(1, 4), occlusion_prob=0.3, object_scale=(0.9, 1.1)),
    "shifted": INSPECTION_DOMAINS["shifted"].replace(
        name="detection-shifted", clutter=(2, 5), occlusion_prob=0.4, object_scale=(0.85, 1.1)),
}
_SPLIT_DOMAIN = {"train": "source", "val": "source", "test": "source", "test_shifted": "shifted"}
_SPLIT_OFFSET = {"train": 0, "val": 1_000_000, "test": 2_000_000, "test_shifted": 3_000_000}
_OBJECT_FIELDS = ("split", "file", "index", "object", "class_id", "class", "x1", "y1", "x2", "y2", "area_px",
                  "angle_deg", "occlusion", "in_frame", "material", "lighting", "exposure", "background",
                  "blur_sigma", "domain")
_IMAGE_FIELDS = ("split", "file", "label_file", "index", "boxes", "dropped_occluded", "dropped_border",
                 "dropped_small", "clutter", "lighting", "exposure", "background", "blur_sigma", "noise_std",
                 "color_temperature_k", "domain")
_DROP_REASONS = ("occluded", "border", "small")
_GITIGNORE = "# ultralytics writes its label caches (labels/<split>.cache) here when it trains\n*.cache\n"
#: Measured when the shipped copy was built (default arguments): quoted in its README.
_SHIPPED_BUILD = ("5.8 MB in 845 files (`du -sb`; more on disk, where each small label file takes a block); "
                  "built in 17-25 s (about 0.05 s per image) on 2 CPU cores shared with another running job")


def _check_split(split: str) -> str:
    if split not in _SPLIT_DOMAIN:
        raise ValueError(f"unknown split {split!r}; valid: {', '.join(DETECTION_SPLITS)}")
    return split


def _check_int(name: str, v, lo: int = 0) -> int:
    if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < lo:
        raise ValueError(f"{name} must be an int >= {lo}; got {v!r}")
    return int(v)


def _check_size(size) -> int:
    size = _check_int("size", size, 64)
    if size % 32:
        raise ValueError(f"size must be a multiple of 32 (YOLO's largest stride); got {size}")
    return size


def generator_for(split: str, seed: int = 0, size: int = DEFAULT_SIZE) -> SceneGenerator:
    """The :class:`~coursekit.scenes.SceneGenerator` that renders ``split`` (scene ``offset + index``)."""
    return SceneGenerator(size, domain=DETECTION_DOMAINS[_SPLIT_DOMAIN[_check_split(split)]], seed=seed,
                          parts=DETECTION_CLASSES, objects_per_scene=PARTS_PER_IMAGE, centred=False,
                          object_size=OBJECT_SIZE)


# --- labels -------------------------------------------------------------------------------------------------

def to_yolo(box_xyxy, size: int | tuple[int, int]) -> tuple[float, float, float, float]:
    """Pixel box ``(x1, y1, x2, y2)`` (x2/y2 exclusive: pixel i spans [i, i + 1)) -> normalised ``(cx, cy, w, h)``.

    ``size``: the image side, or ``(h, w)``.

    >>> to_yolo((10, 20, 30, 60), 100)
    (0.2, 0.4, 0.2, 0.4)
    """
    h, w = (size, size) if not isinstance(size, (tuple, list)) else size
    x1, y1, x2, y2 = (float(v) for v in box_xyxy)
    return ((x1 + x2) / 2 / w, (y1 + y2) / 2 / h, (x2 - x1) / w, (y2 - y1) / h)


def label_decision(box_xyxy, visible_px: float, in_frame_px: float, full_px: float) -> str | None:
    """Why a part is left out of the labels (``"occluded"``, ``"border"``, ``"small"``), or ``None`` to keep it.

    ``visible_px``: its visible pixels; ``in_frame_px``: its pixels inside the image if nothing lay on
    it; ``full_px``: its whole area, in and out of the image. The rules (in this order): less than
    :data:`MIN_IN_FRAME` of the part inside the image -> ``"border"``; less than :data:`MIN_VISIBLE` of
    its in-frame area visible -> ``"occluded"``; a box side under :data:`MIN_BOX_SIDE` px -> ``"small"``.

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
    """``(in-frame mask, whole area in px)`` of annotated part ``k`` as if nothing lay on it.

    The generator reports only the *visible* mask of each part. The part's shape is re-rasterised from
    its own random stream (``[seed, domain.code, index, 1, i]``, the first draw of which is the shape)
    and the pose the scene reports (centre, scale, angle), at the generator's supersampling, the same
    way the generator pastes it; the visible mask must lie inside the result, which picks the stream
    ``i`` (the ``k``-th annotated part is the ``k``-th placed one unless an earlier one was hidden).
    """
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
    index = _check_int("index", index)
    seed = _check_int("seed", seed)
    if index >= 1_000_000:
        raise ValueError(f"index must be < 1000000; got {index}")
    gen = generator_for(split, seed, _check_size(size))
    scene = gen.render(_SPLIT_OFFSET[split] + index)
    parts = []
    for k, obj in enumerate(scene.objects):
        inside, full_px = _footprint(gen, scene, k)
        visible_px, in_frame_px = int(obj.mask.sum()), int(inside.sum())
        box = tuple(int(v) for v in obj.box_xyxy)
        parts.append({
            "object": k, "class_id": int(obj.class_id), "class": obj.part, "box_xyxy": box,
            "yolo": to_yolo(box, (gen.h, gen.w)), "area_px": visible_px,
            "occlusion": round(1.0 - visible_px / max(in_frame_px, 1), 4),
            "in_frame": round(in_frame_px / max(full_px, 1), 4),
            "angle_deg": round(float(obj.angle_deg), 2), "material": obj.material,
            "drop": label_decision(box, visible_px, in_frame_px, full_px),
        })
    return scene, parts


def render_detection_scene(index: int, split: str = "train", seed: int = 0,
                           size: int = DEFAULT_SIZE) -> tuple[Scene, list[dict]]:
    """Render image ``index`` of ``split``: ``(scene, labels)``.

    ``scene``: the :class:`~coursekit.scenes.Scene` (``scene.image`` uint8 RGB, every part's visible
    mask in ``scene.objects``, the lighting etc. in ``scene.conditions``). ``labels``: the parts that
    are labelled (see :func:`label_decision`), one dict each with ``object`` (its index in
    ``scene.objects``), ``class_id``, ``class``, ``box_xyxy`` (int pixels, x2/y2 exclusive), ``yolo``
    (normalised cx, cy, w, h), ``area_px`` (visible pixels), ``occlusion`` (fraction of its in-frame
    area hidden), ``in_frame`` (fraction of it inside the image), ``angle_deg`` and ``material``.
    The same arguments always give the same pixels and labels.
    """
    scene, parts = _render(index, _check_split(split), seed, size)
    return scene, [{k: v for k, v in p.items() if k != "drop"} for p in parts if p["drop"] is None]


# --- the frozen files ---------------------------------------------------------------------------------------

def _encode(image: np.ndarray, quality: int = JPEG_QUALITY) -> bytes:
    ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(image[..., ::-1]),
                           [int(cv2.IMWRITE_JPEG_QUALITY), int(quality), int(cv2.IMWRITE_JPEG_OPTIMIZE), 1])
    if not ok:  # pragma: no cover
        raise RuntimeError("OpenCV could not encode a JPEG")
    return buf.tobytes()


def _label_text(labels: list[dict]) -> str:
    return "".join(f"{p['class_id']} " + " ".join(f"{v:.6f}" for v in p["yolo"]) + "\n" for p in labels)


def _check_counts(counts) -> dict[str, int]:
    if not isinstance(counts, Mapping) or not counts:
        raise TypeError(f"counts must be a dict like {DEFAULT_COUNTS}; got {counts!r}")
    for split, n in counts.items():
        _check_split(split)
        if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or not 1 <= n <= 9999:
            raise ValueError(f"counts[{split!r}] must be an int in 1..9999 (images); got {n!r}")
    return {s: int(counts[s]) for s in DETECTION_SPLITS if s in counts}


def _csv(fields, rows: list[dict]) -> bytes:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(fields), lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow(r)
    return buf.getvalue().encode("utf-8")


def _data_yaml(counts: dict[str, int]) -> str:
    names = ", ".join(DETECTION_CLASSES)
    splits = "".join(f"{s}: images/{s}  # {counts[s]} images, {_SPLIT_DOMAIN[s]} domain\n" for s in counts)
    return (
        "# parts_detection: coursekit's Module 3 detection set (README.md has the label spec).\n"
        "# path is empty on purpose: ultralytics then reads the splits relative to this file's folder\n"
        "# (a relative `path: .` would be taken from the current working directory instead).\n"
        "# ultralytics resolves only train, val and test; to evaluate test_shifted, point test at it.\n"
        'path: ""\n'
        f"{splits}"
        f"nc: {len(DETECTION_CLASSES)}\n"
        f"names: [{names}]\n")


def build_detection_dataset(out_dir: str | os.PathLike, counts: Mapping[str, int] | None = None, seed: int = 0,
                            size: int = DEFAULT_SIZE, progress: bool = True) -> Path:
    """Render the dataset into ``out_dir`` (replacing it) and return its path.

    Writes ``images/<split>/<split>_<index>.jpg`` (JPEG quality :data:`JPEG_QUALITY`),
    ``labels/<split>/<split>_<index>.txt`` (one ``class cx cy w h`` line per labelled part, 6 decimals,
    normalised; empty when no part is labelled), ``data.yaml`` (ultralytics), ``objects.csv`` (one row
    per labelled box: pixels, angle, occlusion, lighting, background, domain...), ``images.csv`` (one row
    per image: boxes, parts left unlabelled and why, conditions), ``README.md`` (how it was made, the
    regeneration command, licence, label spec) and ``manifest.json`` (sha256 and size of every other
    file, counts, seed, generator version). Everything is written into a temporary sibling folder
    renamed into place at the end, so an interrupted build never leaves a half dataset (and keeps the
    old one). The same arguments give byte-identical files on the same platform.

    Args:
        counts: images per split (default :data:`DEFAULT_COUNTS`); splits left out are not built.
        seed: the dataset's seed.
        size: image side in pixels (a multiple of 32).
    """
    counts = _check_counts(DEFAULT_COUNTS if counts is None else counts)
    seed = _check_int("seed", seed)
    size = _check_size(size)
    out = Path(out_dir)
    tmp = out.with_name(out.name + ".building")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        files: dict[str, dict] = {}

        def write(rel: str, data: bytes) -> None:
            path = tmp / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(data)
            files[rel] = {"sha256": _sha256(data), "size": len(data)}

        objects, images = [], []
        boxes = {s: {c: 0 for c in DETECTION_CLASSES} for s in counts}
        dropped = {s: {r: 0 for r in _DROP_REASONS} for s in counts}
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=sum(counts.values()), desc="rendering detection scenes", unit="img", leave=False)
        for split, n in counts.items():
            domain = _SPLIT_DOMAIN[split]
            for index in range(n):
                scene, parts = _render(index, split, seed, size)
                stem = f"{split}_{index:04d}"
                rel_img, rel_lab = f"images/{split}/{stem}.jpg", f"labels/{split}/{stem}.txt"
                kept = [p for p in parts if p["drop"] is None]
                write(rel_img, _encode(scene.image))
                write(rel_lab, _label_text(kept).encode("ascii"))
                c = scene.conditions
                cond = {"lighting": lighting_label(c["exposure"]), "exposure": round(c["exposure"], 3),
                        "background": c["background"], "blur_sigma": round(c["blur_sigma"], 3), "domain": domain}
                for p in kept:
                    boxes[split][p["class"]] += 1
                    x1, y1, x2, y2 = p["box_xyxy"]
                    objects.append({"split": split, "file": rel_img, "index": index, **{
                        k: p[k] for k in ("object", "class_id", "class", "area_px", "angle_deg", "occlusion",
                                          "in_frame", "material")}, "x1": x1, "y1": y1, "x2": x2, "y2": y2, **cond})
                why = {r: sum(p["drop"] == r for p in parts) for r in _DROP_REASONS}
                for r, v in why.items():
                    dropped[split][r] += v
                images.append({"split": split, "file": rel_img, "label_file": rel_lab, "index": index,
                               "boxes": len(kept), **{f"dropped_{r}": v for r, v in why.items()},
                               "clutter": c["clutter"], "noise_std": round(c["noise_std"], 4),
                               "color_temperature_k": round(c["color_temperature_k"]), **cond})
                if bar is not None:
                    bar.update()
        if bar is not None:
            bar.close()
        write("data.yaml", _data_yaml(counts).encode("utf-8"))
        write("objects.csv", _csv(_OBJECT_FIELDS, objects))
        write("images.csv", _csv(_IMAGE_FIELDS, images))
        data_bytes = sum(f["size"] for f in files.values())
        write("README.md", _readme(counts, seed, size, boxes, dropped, images, data_bytes).encode("utf-8"))
        manifest = {
            "name": "coursekit parts_detection", "generator": "coursekit.data.detection.build_detection_dataset",
            "generator_version": GENERATOR_VERSION, "coursekit_version": _coursekit_version(), "seed": seed,
            "size": size, "format": f"ultralytics YOLO detection; jpeg quality {JPEG_QUALITY}",
            "classes": list(DETECTION_CLASSES), "counts": counts,
            "boxes": {s: sum(v.values()) for s, v in boxes.items()}, "boxes_per_class": boxes,
            "dropped": dropped,
            "label_rules": {"min_visible": MIN_VISIBLE, "min_in_frame": MIN_IN_FRAME, "min_box_side": MIN_BOX_SIDE},
            "split_domains": {s: _SPLIT_DOMAIN[s] for s in counts}, "licence": "CC0-1.0",
            "files": dict(sorted(files.items())),
        }
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
        (tmp / ".gitignore").write_text(_GITIGNORE, encoding="utf-8")  # hidden: not in the manifest
        swap_in_folder(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def _readme(counts: dict[str, int], seed: int, size: int, boxes: dict, dropped: dict, images: list[dict],
            data_bytes: int) -> str:
    classes = DETECTION_CLASSES
    table = ["| split | domain | images | " + " | ".join(classes) + " | boxes | occluded | border | small |",
             "|---|---|---|" + "---|" * len(classes) + "---|---|---|---|"]
    for split, n in counts.items():
        b, d = boxes[split], dropped[split]
        table.append(f"| {split} | {_SPLIT_DOMAIN[split]} | {n} | " + " | ".join(str(b[c]) for c in classes)
                     + f" | {sum(b.values())} | {d['occluded']} | {d['border']} | {d['small']} |")
    n_img = sum(counts.values())
    n_box = sum(sum(b.values()) for b in boxes.values())
    empty = sum(r["boxes"] == 0 for r in images)
    src, shf = DETECTION_DOMAINS["source"], DETECTION_DOMAINS["shifted"]
    lo, hi = OBJECT_SIZE[0] * src.object_scale[0] * size, OBJECT_SIZE[1] * src.object_scale[1] * size
    default = counts == DEFAULT_COUNTS and size == DEFAULT_SIZE
    args = "" if counts == DEFAULT_COUNTS else f", counts={counts}"
    args += "" if size == DEFAULT_SIZE else f", size={size}"
    flags = "".join(f" --{s.replace('_', '-')} {n}" for s, n in counts.items() if n != DEFAULT_COUNTS[s])
    flags += "" if size == DEFAULT_SIZE else f" --size {size}"
    flags += "".join(f" --{s.replace('_', '-')} 0" for s in DETECTION_SPLITS if s not in counts)
    timing = (f"Measured for the shipped copy: {_SHIPPED_BUILD}." if default else
              "The renderer needs about 0.05 s per image on one CPU core.")
    return f"""# parts_detection: machined parts to find and box

A small object-detection dataset for Module 3 of the course ("train a YOLO detector on your own data"):
photographs (rendered, not shot) of 2 to 6 machined parts lying among loose clutter, each part boxed
and labelled with its type: **{", ".join(classes)}** (class ids 0 to {len(classes) - 1}, in
this order; the same part types as Module 2's inspection set). It ships in the repository
(`datasets/parts_detection`) and is read with
`coursekit.data.detection.load_detection_split(split)`, or trained on directly with ultralytics:
`YOLO("yolov8n.pt").train(data="datasets/parts_detection/data.yaml", imgsz={size})`.

## Layout

The ultralytics/YOLO detection layout:

```
images/<split>/<split>_<index>.jpg    {size} x {size} RGB, JPEG quality {JPEG_QUALITY}
labels/<split>/<split>_<index>.txt    one line per labelled part: class cx cy w h (normalised to 0..1,
                                      6 decimals); an empty file when no part is labelled
data.yaml                             ultralytics dataset file: train, val, test, test_shifted, names
objects.csv                           one row per labelled box: split, file, index, object, class_id,
                                      class, x1 y1 x2 y2 (pixels, x2/y2 exclusive), area_px (visible
                                      pixels), angle_deg, occlusion, in_frame, material, lighting,
                                      exposure, background, blur_sigma, domain (for per-slice evaluation)
images.csv                            one row per image: boxes, parts left unlabelled by reason
                                      (dropped_occluded, dropped_border, dropped_small), clutter pieces,
                                      lighting, exposure, background, blur, noise, colour temperature, domain
manifest.json                         sha256 and size of every file, seed, counts, generator version
```

`data.yaml` leaves `path` empty on purpose: ultralytics then resolves the splits against the file's own
folder (a relative `path: .` would be taken from the current working directory). Ultralytics resolves
only `train`, `val` and `test`; to score `test_shifted` with `model.val(split="test")`, use a copy of
`data.yaml` whose `test` is `images/test_shifted` (or an absolute path). Ultralytics caches the labels
it has read in `labels/<split>.cache`; those files are git-ignored here and skipped by the manifest check.

{n_img} images, {n_box} boxes ({empty} images with no labelled part). Boxes per class, and parts
left unlabelled by reason (see the label spec):

{chr(10).join(table)}

`train`, `val` and `test` come from the **source** domain (the lab: neutral light from the top left at
several exposures; a conveyor belt, brushed-steel fixture plate or inspection board behind the parts,
backgrounds {", ".join(src.backgrounds)}; {src.clutter[0]} to {src.clutter[1]} clutter pieces).
`test_shifted` holds the same classes from the **shifted** domain, another factory: dim, warm light
from any direction and low over the table, long shadows, backgrounds never seen in training
({", ".join(shf.backgrounds)}), strong vignette, defocus blur, sensor noise, JPEG artefacts and
{shf.clutter[0]} to {shf.clutter[1]} clutter pieces. Compare mAP on `test` and `test_shifted` to
measure domain shift; slice `objects.csv` by `lighting`, `background`, `occlusion` or box size to see
where a detector fails.

Parts: {", ".join(classes)}, in random materials (steel, aluminium, brass, copper, black oxide, zinc,
cast iron, plastics, rubber), at any rotation, their bounding circles about {lo:.0f}-{hi:.0f} px
across (source). Parts may touch or overlap a little; clutter (pins, swarf, chips, balls, pebbles:
never labelled) lies around them and, for {src.occlusion_prob:.0%} of the pieces in source
({shf.occlusion_prob:.0%} in shifted), over a part's rim.

## Label spec

- Every part of the six classes is labelled with the **tight box of its visible pixels**: the smallest
  axis-aligned box holding every pixel where the part itself is seen (a hole through the part is not
  part of it, but the box spans it; clutter or another part lying over it cuts it away; its soft
  shadow is never part of it). Box coordinates are pixel edges: a part covering pixels 10..29 spans
  x1 = 10 to x2 = 30, i.e. cx = 20 / {size}, w = 20 / {size}.
- A part is **left out of the labels** (and counted in `images.csv` and in the table above) when:
  - less than {MIN_IN_FRAME:.0%} of its area is inside the image (**border**);
  - less than {MIN_VISIBLE:.0%} of its in-frame area is visible, the rest hidden by other parts or by
    clutter on it (**occluded**);
  - its box is narrower or lower than {MIN_BOX_SIDE} px (**small**).
  These parts remain in the image, unlabelled: a detector that finds one is counted as a false
  positive, as in any real dataset with a "too hidden to label" rule. With this layout (parts placed
  inside the frame, overlapping their neighbours only a little) such parts are rare: the table shows
  how many there are.
- Clutter is never labelled, even when it resembles a part (a ball is not a washer).
- `occlusion` in `objects.csv` is the fraction of the part's in-frame area that is hidden (0 = fully
  visible); `in_frame` the fraction of its area inside the image.
- `lighting` is `dark` (exposure < 0.7), `dim` (< 0.92), `normal` (< 1.15) or `bright`, from the light
  that fell on the table (`exposure`, about 1 at the lab's nominal light), as in Module 2.

## How it was made

Generated by `coursekit.data.detection.build_detection_dataset` (generator version {GENERATOR_VERSION},
seed {seed}) with the course's scene generator (`coursekit.scenes.SceneGenerator`, {PARTS_PER_IMAGE[0]}
to {PARTS_PER_IMAGE[1]} parts per scene): each part is rasterised from primitives, shaded from its
height map (Lambert + Blinn-Phong + a reflected environment for metals), given a soft shadow and laid
on a textured background among clutter, then the scene is lit unevenly in a random colour temperature,
blurred and given sensor noise. Boxes come from each part's visible mask at render time, not from the
pixels. To apply the occlusion and border rules, each part's whole outline is re-rasterised from its
own random stream (the generator reports only the visible mask). Image *i* of a split depends only on
(seed, split, i). Regenerate it from the repository root with the command below: with the pinned
package versions on the same platform the files come out byte for byte identical; on another CPU a
few pixels may round one grey level differently (NumPy and OpenCV choose SIMD code by CPU), which
changes some sha256s but not what the images show.

```
python -m coursekit.data.detection datasets/parts_detection --seed {seed}{flags}
```

or `build_detection_dataset("datasets/parts_detection", seed={seed}{args})`. Check the files with
`verify_detection_dataset("datasets/parts_detection")`; restore a damaged copy with
`git checkout -- datasets/parts_detection` or the command above.

Size: {data_bytes / 1e6:.2f} MB of images, labels, csv and yaml, plus this README and `manifest.json`.
JPEG quality is {JPEG_QUALITY} rather than 90 to keep the folder near 6 MB at these counts (quality 90
made the default build 9.4 MB instead of 5.8 MB); the parts' edges and holes stay crisp at {size} px.
{timing}

## Licence

The images, labels and this README are generated data, released under **CC0-1.0** (public domain
dedication); the generator code is MIT like the rest of coursekit. Backgrounds are procedural, or crops
of scikit-image's bundled CC0 photos (brick, gravel: CC0Textures; camera: CC0 by Lav Varshney).
"""


# --- verify and load ----------------------------------------------------------------------------------------

def detection_root(root: str | os.PathLike | None = None) -> Path:
    """Where the dataset is: ``root``, else the repository's ``datasets/parts_detection`` (next to the
    package), else ``$COURSEKIT_HOME/datasets/parts_detection`` (the course cache)."""
    from ..config import writable_home
    from .shipped import find_shipped_dataset

    return find_shipped_dataset(
        "parts_detection", root,
        rebuild=f"python -m coursekit.data.detection {writable_home() / 'datasets' / 'parts_detection'}")


def verify_detection_dataset(root: str | os.PathLike | None = None, splits=None) -> dict:
    """Check every file of the dataset against its ``manifest.json``; return the manifest.

    Raises :class:`DatasetIntegrityError` naming the files that are missing, changed (size or sha256)
    or not in the manifest (hidden files and folders, e.g. ``.ipynb_checkpoints``, are ignored), and how
    to restore them. ``splits``: check only these splits' images and labels (plus the top-level files).
    """
    root = detection_root(root)
    keep = None if splits is None else {_check_split(s) for s in ([splits] if isinstance(splits, str) else splits)}
    manifest = _read_manifest(root)
    fix = (f"Restore the folder from git (git checkout -- {root}) or regenerate it: "
           f"python -m coursekit.data.detection {root} --seed {manifest.get('seed', 0)}")

    def wanted(rel: str) -> bool:
        parts = rel.split("/")
        if len(parts) == 2 and parts[0] == "labels" and rel.endswith(".cache"):
            return False  # ultralytics' label cache (labels/<split>.cache), written when it trains
        return keep is None or len(parts) < 3 or parts[1] in keep

    return verify_manifest(root, fix, keep=wanted)


def load_detection_split(split: str, root: str | os.PathLike | None = None, verify: bool = True,
                         as_detections: bool = False):
    """Read one split: ``(images, targets, meta)``.

    - ``images``: uint8 array (N, H, W, 3), RGB, in index order.
    - ``targets``: one dict per image, ``{"boxes": float32 (k, 4) xyxy pixels, "classes": int64 (k,)}``,
      read from the YOLO label files (k may be 0).
    - ``meta``: DataFrame, one row per image (the ``images.csv`` columns: file, label_file, boxes,
      dropped_*, lighting, background, domain, ...). Per-box slices are in ``root / "objects.csv"``.

    ``verify`` first checks the split's files against ``manifest.json`` (:func:`verify_detection_dataset`).
    ``as_detections=True`` gives the targets as :class:`~coursekit.types.Detections` (ground truth: no
    confidence; ``image_size`` set), the type every detector's predictions come in.

    >>> images, targets, meta = load_detection_split("val")   # doctest: +SKIP
    >>> images.shape, targets[0]["boxes"].shape                # doctest: +SKIP
    ((60, 320, 320, 3), (4, 4))
    """
    import pandas as pd

    _check_split(split)
    root = detection_root(root)
    manifest = verify_detection_dataset(root, splits=split) if verify else _read_manifest(root)
    if split not in manifest.get("counts", {}):
        raise ValueError(f"{root} has no {split!r} split; it has {', '.join(manifest.get('counts', {}))}")
    table = pd.read_csv(root / "images.csv")
    meta = table[table["split"] == split].sort_values("index").reset_index(drop=True)
    size = int(manifest["size"])
    images = np.empty((len(meta), size, size, 3), np.uint8)
    targets = []
    for i, (rel, lab) in enumerate(zip(meta["file"], meta["label_file"])):
        bgr = cv2.imdecode(np.fromfile(str(root / rel), np.uint8), cv2.IMREAD_COLOR)
        if bgr is None or bgr.shape != (size, size, 3):
            raise DatasetIntegrityError(f"{root / rel} could not be decoded as a {size} x {size} image")
        images[i] = bgr[..., ::-1]
        text = (root / lab).read_text(encoding="ascii").split()
        rows = np.array(text, np.float64).reshape(-1, 5)
        cx, cy, w, h = (rows[:, j] * size for j in range(1, 5))
        boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1).astype(np.float32)
        targets.append({"boxes": boxes, "classes": rows[:, 0].astype(np.int64)})
    if as_detections:
        from ..types import Detections

        names = list(manifest.get("classes") or INSPECTION_PARTS)
        targets = [Detections(xyxy=t["boxes"], class_id=t["classes"], class_names=names, image_size=(size, size))
                   for t in targets]
    return images, targets, meta


def object_values(split: str, column: str, root: str | os.PathLike | None = None) -> list[np.ndarray]:
    """One column of ``objects.csv`` per image of ``split``: a list (one entry per image, in index order) of
    arrays with one value per labelled box, in the order of the label file (and of
    ``load_detection_split``'s targets). For per-object slices of an evaluation (size, occlusion, material).

    The rows are checked against the label files (count and class of every box); a mismatch raises
    :class:`DatasetIntegrityError` naming the image.

    >>> occlusion = object_values("test", "occlusion")           # doctest: +SKIP
    >>> len(occlusion), occlusion[0].shape                        # doctest: +SKIP
    (60, (5,))
    """
    import pandas as pd

    _check_split(split)
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
        text = (root / lab).read_text(encoding="ascii").split()
        classes = np.array(text, np.float64).reshape(-1, 5)[:, 0].astype(np.int64)
        if len(rows) != len(classes) or not np.array_equal(rows["class_id"].to_numpy(), classes):
            raise DatasetIntegrityError(f"{root / lab}: objects.csv lists {len(rows)} boxes ({rows['class_id'].tolist()}) "
                                        f"but the label file has {len(classes)} ({classes.tolist()}); rebuild the dataset")
        out.append(rows[column].to_numpy())
    return out


def main(argv=None) -> None:
    """``python -m coursekit.data.detection [OUT_DIR] [--seed S] [--size N] [--train N ...]``: build the dataset."""
    import argparse
    import time

    ap = argparse.ArgumentParser(prog="python -m coursekit.data.detection", description=main.__doc__)
    ap.add_argument("out_dir", nargs="?", default="datasets/parts_detection")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--size", type=int, default=DEFAULT_SIZE)
    for s in DETECTION_SPLITS:
        ap.add_argument(f"--{s.replace('_', '-')}", type=int, default=DEFAULT_COUNTS[s], metavar="N",
                        help=f"images in {s} (default {DEFAULT_COUNTS[s]}; 0 leaves it out)")
    a = ap.parse_args(argv)
    counts = {s: getattr(a, s) for s in DETECTION_SPLITS if getattr(a, s) > 0}
    start = time.perf_counter()
    out = build_detection_dataset(a.out_dir, counts=counts, seed=a.seed, size=a.size)
    seconds = time.perf_counter() - start
    manifest = verify_detection_dataset(out)
    mb = (sum(f["size"] for f in manifest["files"].values()) + (out / "manifest.json").stat().st_size) / 1e6
    print(f"wrote {len(manifest['files']) + 1} files ({mb:.2f} MB) to {out} in {seconds:.0f} s")


if __name__ == "__main__":
    main()
