"""The course's inspection dataset (``datasets/inspection``): one rendered part per photo, ok or defective
(:data:`INSPECTION_CLASSES`; defects fainter than :data:`SEVERITY_THRESHOLD` count as ok); ``test_shifted`` is
another domain. Built by ``tools/build_inspection_dataset.py``; :func:`load_inspection` verifies and reads it.

>>> image, meta = render_inspection_sample(3, "train", seed=0)
>>> image.shape, meta["class"] in INSPECTION_CLASSES, meta["domain"]
((96, 96, 3), True, 'source')
>>> bool((render_inspection_sample(3, "train", seed=0)[0] == image).all())
True
"""
from __future__ import annotations

import json
import os
import zlib
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from ..scenes.defects import Defect, defect_hook
from ..scenes.domains import DOMAINS, Domain
from ..files import sha256_file
from ..scenes.generator import Scene, SceneGenerator
from .arrays import ArrayDataset

__all__ = ["INSPECTION_CLASSES", "INSPECTION_PARTS", "INSPECTION_SPLITS", "INSPECTION_DOMAINS", "SEVERITY_THRESHOLD",
           "DEFAULT_COUNTS", "DEFAULT_SIZE", "GENERATOR_VERSION", "SamplePlan", "DatasetIntegrityError",
           "plan_sample", "render_inspection_scene", "render_inspection_sample",
           "verify_inspection_dataset", "verify_manifest", "load_inspection", "inspection_root", "lighting_label"]

INSPECTION_CLASSES: tuple[str, ...] = ("ok", "scratch", "crack", "missing_hole")
INSPECTION_PARTS: tuple[str, ...] = ("washer", "flange", "plate", "bracket", "hinge", "gear")
INSPECTION_SPLITS: tuple[str, ...] = ("train", "val", "test", "test_shifted")
SEVERITY_THRESHOLD = 0.2
"""Defects with a lower severity are invisible at 96 x 96 and are labelled ``ok``."""
DEFAULT_COUNTS: dict[str, int] = {"train": 200, "val": 50, "test": 100, "test_shifted": 100}
"""Images *per class* in each split of the shipped dataset."""
DEFAULT_SIZE = 96
GENERATOR_VERSION = "1"
"""Bump when a change to this module or the scene generator changes the images."""
#: The two cameras: the lab (``source``) and another factory (``shifted``), adapted from the scene presets:
#: fixture/conveyor backgrounds, no distractor over the part (it could hide the defect), a part that
#: never leaves the frame, in ``source`` a wider range of exposure so there are slices to compare, and in
#: ``shifted`` a little more light and a little less blur than the scene preset, so the parts stay visible.
INSPECTION_DOMAINS: dict[str, Domain] = {
    "source": DOMAINS["source"].replace(
        name="inspection-source", backgrounds=("belt", "steel", "paper"), light_intensity=(0.7, 1.25),
        ambient=(0.28, 0.42), clutter=(0, 1), occlusion_prob=0.0, object_scale=(0.95, 1.08)),
    "shifted": DOMAINS["shifted"].replace(
        name="inspection-shifted", backgrounds=("wood", "brick", "gravel", "camera"), clutter=(0, 2),
        occlusion_prob=0.0, object_scale=(0.85, 1.08), light_intensity=(0.6, 0.9), ambient=(0.16, 0.28),
        blur_sigma=(0.4, 0.9), jpeg_quality=(50.0, 80.0)),
}
SPLIT_DOMAIN = {"train": "source", "val": "source", "test": "source", "test_shifted": "shifted"}
SPLIT_OFFSET = {"train": 0, "val": 1_000_000, "test": 2_000_000, "test_shifted": 3_000_000}
OBJECT_SIZE = (0.72, 0.8)
#: Part types that may have no hole at all: a missing hole is never planned on them.
_PARTS_WITHOUT_HOLES = ("bolt", "knob")
OK_MARK_PROB = 0.35  # ok parts with an invisible hairline scratch (severity below the threshold)
STAIN_PROB = 0.2  # parts of any class with an oil stain (cosmetic, not a defect)
class DatasetIntegrityError(ValueError):
    """The files on disk are not the ones ``manifest.json`` lists (missing, extra or changed)."""


@dataclass(frozen=True)
class SamplePlan:
    """What sample ``index`` of a split shows, decided before rendering (an ok part may carry an invisible
    hairline scratch; ``stain`` is cosmetic)."""

    index: int
    split: str
    seed: int
    label: str
    part: str
    defect: str | None
    severity: float
    stain: float

    @property
    def domain(self) -> str:
        return SPLIT_DOMAIN[self.split]

    def defects(self) -> list[Defect]:
        out = [Defect(self.defect, self.severity)] if self.defect else []
        if self.stain > 0:
            out.append(Defect("stain", self.stain))
        return out


def check_split(split: str) -> str:
    if split not in SPLIT_DOMAIN:
        raise ValueError(f"unknown split {split!r}; valid: {', '.join(INSPECTION_SPLITS)}")
    return split


def check_int(name: str, v, lo: int = 0, hi: int | None = None) -> int:
    """``v`` as an int in ``lo..hi - 1`` (no upper bound if ``hi`` is None), else a ValueError."""
    if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < lo or (hi is not None and v >= hi):
        raise ValueError(f"{name} must be an int " + (f">= {lo}" if hi is None else f"in {lo}..{hi - 1}")
                         + f"; got {v!r}")
    return int(v)


def check_index_seed(index, seed) -> tuple[int, int]:
    return check_int("index", index, 0, 1_000_000), check_int("seed", seed)


def _check_parts(parts) -> tuple[str, ...]:
    from ..scenes.parts import PARTS

    parts = (parts,) if isinstance(parts, str) else tuple(parts)
    bad = [p for p in parts if p not in PARTS]
    if not parts or bad:
        raise ValueError(f"parts must be part types from {', '.join(PARTS)}; got {list(parts)!r}")
    return parts


def _split_code(split: str) -> int:
    return zlib.crc32(split.encode("utf-8"))


def plan_sample(index: int, split: str = "train", seed: int = 0,
                parts: tuple[str, ...] = INSPECTION_PARTS) -> SamplePlan:
    """The class, part and defect of sample ``index``; classes are balanced in shuffled blocks of four indices.

    >>> sorted(plan_sample(i, "train").label for i in range(4)) == sorted(INSPECTION_CLASSES)
    True
    """
    index, seed = check_index_seed(index, seed)
    parts = _check_parts(parts)
    code = _split_code(check_split(split))
    order = np.random.default_rng([seed, code, index // 4, 1]).permutation(len(INSPECTION_CLASSES))
    label = INSPECTION_CLASSES[int(order[index % 4])]
    rng = np.random.default_rng([seed, code, index, 2])
    pool = parts
    if label == "missing_hole":
        pool = tuple(p for p in parts if p not in _PARTS_WITHOUT_HOLES)
        if not pool:
            raise ValueError(f"parts {list(parts)} have no holes, so no missing_hole sample can be planned")
    part = pool[int(rng.integers(len(pool)))]
    mark = rng.random() < OK_MARK_PROB
    sub = float(rng.uniform(0.03, 0.15))
    sev = float(rng.uniform(SEVERITY_THRESHOLD, 1.0))
    stain = float(rng.uniform(0.2, 1.0)) if rng.random() < STAIN_PROB else 0.0
    if label == "ok":
        defect, severity = ("scratch", round(sub, 3)) if mark else (None, 0.0)
    else:
        defect, severity = label, round(sev, 3)
    return SamplePlan(index, split, seed, label, part, defect, severity, round(stain, 3))


def lighting_label(exposure: float) -> str:
    """How well lit a flat surface is, from ``Scene.conditions["exposure"]`` (about 1: the lab's nominal light).

    >>> lighting_label(0.5), lighting_label(1.0), lighting_label(1.3)
    ('dark', 'normal', 'bright')
    """
    if exposure < 0.7:
        return "dark"
    if exposure < 0.92:
        return "dim"
    return "normal" if exposure < 1.15 else "bright"


def render_inspection_scene(index: int, split: str = "train", seed: int = 0, size: int = DEFAULT_SIZE,
                            clean: bool = False, parts: tuple[str, ...] = INSPECTION_PARTS) -> tuple[Scene, dict]:
    """Sample ``index`` of ``split`` as a full :class:`~coursekit.scenes.Scene` and its meta; ``clean=True``: its
    defect-free twin (same part, pose, light and noise)."""
    plan = plan_sample(index, split, seed, parts)
    domain = INSPECTION_DOMAINS[plan.domain]
    code = _split_code(split)
    defects = [] if clean else plan.defects()
    for attempt in range(8):  # a renderer may find no room (a crack too short): redraw it elsewhere
        hook = defect_hook(defects, seed=(seed, code, index, 3, attempt)) if defects else None
        gen = SceneGenerator(size, domain=domain, seed=seed, parts=_check_parts(parts), objects_per_scene=1,
                             centred=True, object_size=OBJECT_SIZE, defect_hook=hook)
        scene = gen.render(SPLIT_OFFSET[split] + index, part=plan.part)
        drawn = scene.objects[0].defects if scene.objects else []
        if len(scene.objects) == 1 and all(d.kind in drawn for d in defects):
            break
    else:  # pragma: no cover - every inspection part has holes, edges and surface
        raise RuntimeError(f"could not draw {defects} on sample {index} of {split!r} (seed {seed})")
    obj = scene.objects[0]
    c = scene.conditions
    meta = {"split": split, "index": index, "class": plan.label, "part": plan.part,
            "defect": plan.defect or "none", "severity": plan.severity, "stain": plan.stain,
            "material": obj.material, "lighting": lighting_label(c["exposure"]), "exposure": round(c["exposure"], 3),
            "background": c["background"], "blur_sigma": round(c["blur_sigma"], 3), "domain": plan.domain, "seed": seed}
    return scene, meta


def render_inspection_sample(index: int, split: str = "train", seed: int = 0,
                             size: int = DEFAULT_SIZE, parts: tuple[str, ...] = INSPECTION_PARTS
                             ) -> tuple[np.ndarray, dict]:
    """``(image uint8 (size, size, 3) RGB, meta)`` of sample ``index`` of ``split`` (meta: class, part, defect,
    severity, stain, material, lighting, exposure, background, blur_sigma, domain, ...); deterministic."""
    scene, meta = render_inspection_scene(index, split, seed, size, parts=parts)
    return scene.image, meta


def read_manifest(root: Path) -> dict:
    path = root / "manifest.json"
    if not path.is_file():
        raise DatasetIntegrityError(f"{root} has no manifest.json: not a coursekit dataset folder (build the "
                                    "inspection dataset with tools.build_inspection_dataset.build_inspection_dataset)")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise DatasetIntegrityError(f"{path} is not valid JSON: {err}") from None


def _list(names: list[str], limit: int = 8) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" ... (+{len(names) - limit} more)" if len(names) > limit else "")


def read_rgb(path: Path, size: int) -> np.ndarray:
    """A shipped ``size`` x ``size`` image file as RGB uint8, or a :class:`DatasetIntegrityError`."""
    bgr = cv2.imdecode(np.fromfile(str(path), np.uint8), cv2.IMREAD_COLOR)
    if bgr is None or bgr.shape != (size, size, 3):
        raise DatasetIntegrityError(f"{path} could not be decoded as a {size} x {size} image")
    return bgr[..., ::-1]


def open_split(root: Path, split: str, verify, counts_key: str, table: str):
    """``(manifest, rows of split in table, in index order)`` of a shipped dataset, ``verify(root, splits=split)``
    first unless it is None."""
    import pandas as pd

    manifest = verify(root, splits=split) if verify is not None else read_manifest(root)
    if split not in manifest.get(counts_key, {}):
        raise ValueError(f"{root} has no {split!r} split; it has {', '.join(manifest.get(counts_key, {}))}")
    rows = pd.read_csv(root / table)
    return manifest, rows[rows["split"] == split].sort_values("index").reset_index(drop=True)


def verify_inspection_dataset(root: str | os.PathLike, splits=None) -> dict:
    """Check the files under ``root`` (only ``splits``' images, if given) against ``manifest.json``; return it, or
    raise :class:`DatasetIntegrityError` naming the missing, changed and unlisted files."""
    root = Path(root)
    keep, fix = split_filter(root, splits, "build_inspection_dataset")
    return verify_manifest(root, fix, keep=lambda rel: keep is None or "/" not in rel or rel.split("/", 1)[0] in keep)


def split_filter(root: Path, splits, tool: str) -> tuple[set | None, str]:
    """The checked ``splits`` (``None``: all) and the restore hint of a shipped dataset built by ``tools/<tool>``."""
    keep = None if splits is None else {check_split(s) for s in ([splits] if isinstance(splits, str) else splits)}
    return keep, (f"Restore the folder from git (git checkout -- {root}) or regenerate it: "
                  f"python -m tools.{tool} {root} --seed {read_manifest(root).get('seed', 0)}")


def verify_manifest(root: str | os.PathLike, fix: str = "", keep=None) -> dict:
    """Check the files under ``root`` (those ``keep(rel)`` selects; hidden ones ignored) against the sha256s and
    sizes in its ``manifest.json``; return the manifest. ``fix`` ends the error message."""
    root = Path(root)
    manifest = read_manifest(root)
    listed: dict = manifest.get("files", {})
    wanted = keep or (lambda rel: True)
    on_disk = {p.relative_to(root).as_posix() for p in root.rglob("*")
               if p.is_file() and not any(part.startswith(".") for part in p.relative_to(root).parts)}
    on_disk.discard("manifest.json")
    missing = sorted(r for r in listed if wanted(r) and r not in on_disk)
    extra = sorted(r for r in on_disk if wanted(r) and r not in listed)
    changed = []
    for rel, info in listed.items():
        if not wanted(rel) or rel not in on_disk:
            continue
        if (root / rel).stat().st_size != info["size"] or sha256_file(root / rel) != info["sha256"]:
            changed.append(rel)
    changed.sort()
    if missing or extra or changed:
        lines = [f"{root} does not match its manifest.json:"] + [
            f"  {what} ({len(names)}): {_list(names)}"
            for what, names in (("changed", changed), ("missing", missing), ("not in the manifest", extra)) if names]
        raise DatasetIntegrityError("\n".join(lines + ([fix] if fix else [])))
    return manifest


def inspection_root(root: str | os.PathLike | None = None) -> Path:
    """``root``, else the repository's ``datasets/inspection``, else the cache's (:func:`find_shipped_dataset`)."""
    from ..config import writable_home
    from .shipped import find_shipped_dataset

    return find_shipped_dataset("inspection", root,
                                rebuild=f"python -m tools.build_inspection_dataset {writable_home() / 'datasets' / 'inspection'}")


def load_inspection(split: str, root: str | os.PathLike | None = None, verify: bool = True):
    """Read one split: ``(ArrayDataset, labels.csv rows DataFrame)``; ``verify`` checks its files first.

    >>> train, meta = load_inspection("train")        # doctest: +SKIP
    """
    check_split(split)
    root = inspection_root(root)
    manifest, meta = open_split(root, split, verify_inspection_dataset if verify else None, "counts_per_class",
                                "labels.csv")
    classes = list(manifest["classes"])
    images = np.empty((len(meta), manifest["size"], manifest["size"], 3), np.uint8)
    for i, rel in enumerate(meta["file"]):
        images[i] = read_rgb(root / rel, manifest["size"])
    y = meta["class"].map({c: k for k, c in enumerate(classes)}).to_numpy(np.int64)
    return ArrayDataset(images, y, classes, name=f"inspection {split}"), meta
