"""The course's industrial-inspection dataset: one machined part per photo, ok or defective.

Module 2's custom dataset. Each image shows one part (washer, flange, plate, bracket, hinge or gear)
centred on a conveyor belt, steel fixture plate or inspection board, rendered by
:class:`coursekit.scenes.SceneGenerator` with a defect drawn through its defect hook
(:mod:`coursekit.scenes.defects`). The classes are :data:`INSPECTION_CLASSES`; a defect fainter than
:data:`SEVERITY_THRESHOLD` cannot be seen and counts as ``ok`` (the label spec is in the README that
:func:`build_inspection_dataset` writes).

Splits: ``train``, ``val`` and ``test`` come from the ``source`` domain (the lab's lighting and
backgrounds); ``test_shifted`` from the ``shifted`` domain (dim, warm, low light from anywhere, other
backgrounds, blur, noise, JPEG): the same classes in another factory, to measure domain shift.

The frozen copy lives in the repository's ``datasets/inspection`` folder (ImageFolder layout,
``labels.csv``, ``manifest.json`` with every file's sha256); :func:`load_inspection` verifies and reads it.

>>> image, meta = render_inspection_sample(3, "train", seed=0)
>>> image.shape, meta["class"] in INSPECTION_CLASSES, meta["domain"]
((96, 96, 3), True, 'source')
>>> bool((render_inspection_sample(3, "train", seed=0)[0] == image).all())
True
"""
from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import shutil
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import cv2
import numpy as np

from ..scenes.defects import Defect, defect_hook
from ..scenes.domains import DOMAINS, Domain
from ..scenes.generator import Scene, SceneGenerator
from .arrays import ArrayDataset
from .shipped import swap_in_folder

__all__ = [
    "INSPECTION_CLASSES", "INSPECTION_PARTS", "INSPECTION_SPLITS", "INSPECTION_DOMAINS", "SEVERITY_THRESHOLD",
    "DEFAULT_COUNTS", "DEFAULT_SIZE", "GENERATOR_VERSION", "SamplePlan", "DatasetIntegrityError",
    "plan_sample", "render_inspection_scene", "render_inspection_sample", "build_inspection_dataset",
    "verify_inspection_dataset", "verify_manifest", "load_inspection", "inspection_root", "lighting_label",
]

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
JPEG_QUALITY = 95

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
_SPLIT_DOMAIN = {"train": "source", "val": "source", "test": "source", "test_shifted": "shifted"}
_SPLIT_OFFSET = {"train": 0, "val": 1_000_000, "test": 2_000_000, "test_shifted": 3_000_000}
_OBJECT_SIZE = (0.72, 0.8)
#: Part types that may have no hole at all: a missing hole is never planned on them.
_PARTS_WITHOUT_HOLES = ("bolt", "knob")
_OK_MARK_PROB = 0.35  # ok parts with an invisible hairline scratch (severity below the threshold)
_STAIN_PROB = 0.2  # parts of any class with an oil stain (cosmetic, not a defect)
_LABEL_FIELDS = ("file", "split", "class", "part", "defect", "severity", "stain", "material", "lighting",
                 "exposure", "background", "blur_sigma", "domain", "index")


class DatasetIntegrityError(ValueError):
    """The files on disk are not the ones ``manifest.json`` lists (missing, extra or changed)."""


@dataclass(frozen=True)
class SamplePlan:
    """What sample ``index`` of a split shows, decided before it is rendered.

    Attributes:
        index, split, seed: which sample.
        label: the class, one of :data:`INSPECTION_CLASSES`.
        part: the part type, one of :data:`INSPECTION_PARTS`.
        defect: the defect drawn (``"scratch"``, ``"crack"``, ``"missing_hole"``), or ``None``; an
            ``ok`` part may carry an invisible hairline ``"scratch"`` below :data:`SEVERITY_THRESHOLD`.
        severity: the defect's severity (0 when there is none).
        stain: the severity of a cosmetic oil stain, or 0.
    """

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
        return _SPLIT_DOMAIN[self.split]

    def defects(self) -> list[Defect]:
        out = [Defect(self.defect, self.severity)] if self.defect else []
        if self.stain > 0:
            out.append(Defect("stain", self.stain))
        return out


def _check_split(split: str) -> str:
    if split not in _SPLIT_DOMAIN:
        raise ValueError(f"unknown split {split!r}; valid: {', '.join(INSPECTION_SPLITS)}")
    return split


def _check_index_seed(index, seed) -> tuple[int, int]:
    for name, v in (("index", index), ("seed", seed)):
        if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < 0:
            raise ValueError(f"{name} must be a non-negative int; got {v!r}")
    if index >= 1_000_000:
        raise ValueError(f"index must be < 1000000; got {index}")
    return int(index), int(seed)


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
    """The class, part and defect of sample ``index`` of ``split``.

    Classes are balanced in blocks of four consecutive indices (a seeded shuffle of the four classes per
    block), so any ``4 * n`` first indices hold ``n`` of each class and the file name does not give the
    class away. ``parts``: the part types to draw from (another set makes another dataset, e.g. the
    stand-in pre-training set of :mod:`coursekit.models.pretrain`).

    >>> sorted(plan_sample(i, "train").label for i in range(4)) == sorted(INSPECTION_CLASSES)
    True
    """
    index, seed = _check_index_seed(index, seed)
    parts = _check_parts(parts)
    code = _split_code(_check_split(split))
    order = np.random.default_rng([seed, code, index // 4, 1]).permutation(len(INSPECTION_CLASSES))
    label = INSPECTION_CLASSES[int(order[index % 4])]
    rng = np.random.default_rng([seed, code, index, 2])
    pool = parts
    if label == "missing_hole":
        pool = tuple(p for p in parts if p not in _PARTS_WITHOUT_HOLES)
        if not pool:
            raise ValueError(f"parts {list(parts)} have no holes, so no missing_hole sample can be planned")
    part = pool[int(rng.integers(len(pool)))]
    mark = rng.random() < _OK_MARK_PROB
    sub = float(rng.uniform(0.03, 0.15))
    sev = float(rng.uniform(SEVERITY_THRESHOLD, 1.0))
    stain = float(rng.uniform(0.2, 1.0)) if rng.random() < _STAIN_PROB else 0.0
    if label == "ok":
        defect, severity = ("scratch", round(sub, 3)) if mark else (None, 0.0)
    else:
        defect, severity = label, round(sev, 3)
    return SamplePlan(index, split, seed, label, part, defect, severity, round(stain, 3))


def lighting_label(exposure: float) -> str:
    """``"dark"`` (< 0.7), ``"dim"`` (< 0.92), ``"normal"`` (< 1.15) or ``"bright"``: how well lit a flat
    surface is (``Scene.conditions["exposure"]``; about 1 is the lab's nominal light).

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
    """Render sample ``index`` of ``split`` as a full :class:`~coursekit.scenes.Scene` (image + part mask).

    ``clean=True`` renders its defect-free twin: the same part, pose, light and noise without any defect
    or stain (the meta still describes the planned sample).
    """
    plan = plan_sample(index, split, seed, parts)
    domain = INSPECTION_DOMAINS[plan.domain]
    code = _split_code(split)
    defects = [] if clean else plan.defects()
    for attempt in range(8):  # a renderer may find no room (a crack too short): redraw it elsewhere
        hook = defect_hook(defects, seed=(seed, code, index, 3, attempt)) if defects else None
        gen = SceneGenerator(size, domain=domain, seed=seed, parts=_check_parts(parts), objects_per_scene=1,
                             centred=True, object_size=_OBJECT_SIZE, defect_hook=hook)
        scene = gen.render(_SPLIT_OFFSET[split] + index, part=plan.part)
        drawn = scene.objects[0].defects if scene.objects else []
        if len(scene.objects) == 1 and all(d.kind in drawn for d in defects):
            break
    else:  # pragma: no cover - every inspection part has holes, edges and surface
        raise RuntimeError(f"could not draw {defects} on sample {index} of {split!r} (seed {seed})")
    obj = scene.objects[0]
    c = scene.conditions
    meta = {
        "split": split, "index": index, "class": plan.label, "part": plan.part,
        "defect": plan.defect or "none", "severity": plan.severity, "stain": plan.stain,
        "material": obj.material, "lighting": lighting_label(c["exposure"]), "exposure": round(c["exposure"], 3),
        "background": c["background"], "blur_sigma": round(c["blur_sigma"], 3), "domain": plan.domain,
        "seed": seed,
    }
    return scene, meta


def render_inspection_sample(index: int, split: str = "train", seed: int = 0,
                             size: int = DEFAULT_SIZE, parts: tuple[str, ...] = INSPECTION_PARTS
                             ) -> tuple[np.ndarray, dict]:
    """``(image uint8 (size, size, 3) RGB, meta)`` of sample ``index`` of ``split``.

    ``meta``: ``class``, ``part``, ``defect``, ``severity``, ``stain``, ``material``, ``lighting``
    (dark/dim/normal/bright), ``exposure``, ``background``, ``blur_sigma``, ``domain``, ``split``,
    ``index``, ``seed``. The same arguments always give the same pixels.
    """
    scene, meta = render_inspection_scene(index, split, seed, size, parts=parts)
    return scene.image, meta


# --- the frozen files ---------------------------------------------------------------------------------------

def _encode(image: np.ndarray, quality: int = JPEG_QUALITY) -> bytes:
    ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(image[..., ::-1]),
                           [int(cv2.IMWRITE_JPEG_QUALITY), int(quality), int(cv2.IMWRITE_JPEG_OPTIMIZE), 1,
                            int(cv2.IMWRITE_JPEG_SAMPLING_FACTOR), int(cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444)])
    if not ok:  # pragma: no cover
        raise RuntimeError("OpenCV could not encode a JPEG")
    return buf.tobytes()


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _file_name(split: str, index: int) -> str:
    return f"{split}_{index:04d}.jpg"


def _check_counts(counts) -> dict[str, int]:
    if not isinstance(counts, Mapping) or not counts:
        raise TypeError(f"counts must be a dict like {DEFAULT_COUNTS}; got {counts!r}")
    for split, n in counts.items():
        _check_split(split)
        if not isinstance(n, (int, np.integer)) or isinstance(n, bool) or n < 1:
            raise ValueError(f"counts[{split!r}] must be an int >= 1 (images per class); got {n!r}")
    return {s: int(counts[s]) for s in INSPECTION_SPLITS if s in counts}


def build_inspection_dataset(out_dir: str | os.PathLike, counts: Mapping[str, int] | None = None, seed: int = 0,
                             size: int = DEFAULT_SIZE, progress: bool = True) -> Path:
    """Render the dataset into ``out_dir`` (replacing it) and return its path.

    Writes ``<split>/<class>/<split>_<index>.jpg`` (JPEG quality 95, 4:4:4: about 5 KB each),
    ``labels.csv`` (one row per image: class, part, defect, severity, lighting, background, domain...
    for per-slice evaluation),
    ``README.md`` (how it was made, the regeneration command, licence, label spec) and ``manifest.json``
    (sha256 and size of every other file). Everything is written into a temporary sibling folder that
    is renamed into place at the end, so an interrupted build never leaves a half dataset. The same
    arguments give byte-identical files on the same platform (NumPy and OpenCV pick SIMD code paths
    by CPU, so on another machine a few pixels may round one step differently and change a sha256).

    Args:
        counts: images *per class* per split (default :data:`DEFAULT_COUNTS`); splits left out are not built.
        seed: the dataset's seed.
        size: image side in pixels.
    """
    counts = _check_counts(DEFAULT_COUNTS if counts is None else counts)
    _check_index_seed(0, seed)
    out = Path(out_dir)
    tmp = out.with_name(out.name + ".building")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        files: dict[str, dict] = {}
        rows = []
        total = sum(counts.values()) * len(INSPECTION_CLASSES)
        bar = None
        if progress:
            from tqdm.auto import tqdm

            bar = tqdm(total=total, desc="rendering inspection images", unit="img", leave=False)
        for split, n in counts.items():
            for index in range(n * len(INSPECTION_CLASSES)):
                image, meta = render_inspection_sample(index, split, seed, size)
                rel = f"{split}/{meta['class']}/{_file_name(split, index)}"
                data = _encode(image)
                path = tmp / rel
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(data)
                files[rel] = {"sha256": _sha256(data), "size": len(data)}
                rows.append({"file": rel, **{k: meta[k] for k in _LABEL_FIELDS if k != "file"}})
                if bar is not None:
                    bar.update()
        if bar is not None:
            bar.close()
        extra = {"labels.csv": _labels_csv(rows), "README.md": _readme(counts, seed, size, rows).encode("utf-8")}
        for name, data in extra.items():
            (tmp / name).write_bytes(data)
            files[name] = {"sha256": _sha256(data), "size": len(data)}
        manifest = {
            "name": "coursekit inspection", "generator": "coursekit.data.inspection.build_inspection_dataset",
            "generator_version": GENERATOR_VERSION, "coursekit_version": _coursekit_version(), "seed": seed,
            "size": size, "format": f"jpeg quality {JPEG_QUALITY} 4:4:4", "classes": list(INSPECTION_CLASSES),
            "parts": list(INSPECTION_PARTS), "severity_threshold": SEVERITY_THRESHOLD,
            "counts_per_class": counts,
            "split_domains": {s: _SPLIT_DOMAIN[s] for s in counts}, "licence": "CC0-1.0",
            "files": dict(sorted(files.items())),
        }
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
        swap_in_folder(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


def _coursekit_version() -> str:
    try:
        from .. import __version__

        return str(__version__)
    except ImportError:  # pragma: no cover - partially imported package
        return "unknown"


def _labels_csv(rows: list[dict]) -> bytes:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(_LABEL_FIELDS), lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow(r)
    return buf.getvalue().encode("utf-8")


def _readme(counts: dict[str, int], seed: int, size: int, rows: list[dict]) -> str:
    classes = INSPECTION_CLASSES
    table = ["| split | domain | " + " | ".join(classes) + " | total |",
             "|---|---|" + "---|" * len(classes) + "---|"]
    for split, n in counts.items():
        table.append(f"| {split} | {_SPLIT_DOMAIN[split]} | " + " | ".join(str(n) for _ in classes)
                     + f" | {n * len(classes)} |")
    n_files = sum(counts.values()) * len(classes)
    parts = ", ".join(INSPECTION_PARTS)
    src, shf = INSPECTION_DOMAINS["source"], INSPECTION_DOMAINS["shifted"]
    lo, hi = _OBJECT_SIZE[0] * src.object_scale[0], _OBJECT_SIZE[1] * src.object_scale[1]
    args = "" if counts == DEFAULT_COUNTS else f", counts={counts}"
    args += "" if size == DEFAULT_SIZE else f", size={size}"
    flags = "".join(f" --{s.replace('_', '-')} {n}" for s, n in counts.items() if n != DEFAULT_COUNTS[s])
    flags += "" if size == DEFAULT_SIZE else f" --size {size}"
    flags += "".join(f" --{s.replace('_', '-')} 0" for s in INSPECTION_SPLITS if s not in counts)
    return f"""# inspection: machined parts, ok or defective

A small image-classification dataset for Module 2 of the course: photographs of one machined part
each (rendered, not shot), to be sorted into **{", ".join(classes)}**.
It ships in the repository (`datasets/inspection`) and is read with
`coursekit.data.inspection.load_inspection(split)`.

## Layout

ImageFolder layout (`torchvision.datasets.ImageFolder(root / split)` works as is):

```
<split>/<class>/<split>_<index>.jpg     {size} x {size} RGB, JPEG quality {JPEG_QUALITY}, no chroma subsampling
labels.csv                              one row per image: file, split, class, part, defect, severity,
                                        stain, material, lighting, exposure, background, blur_sigma,
                                        domain, index (for per-slice evaluation)
manifest.json                           sha256 and size of every file, seed, counts, generator version
```

Images per class ({n_files} images in all):

{chr(10).join(table)}

`train`, `val` and `test` come from the **source** domain (the lab: neutral light from the top left
at several exposures; conveyor belt, brushed-steel fixture plate or inspection board behind the part).
`test_shifted` holds the same classes from the **shifted** domain, another factory: dim, warm light from
any direction and low over the table, long shadows, backgrounds never seen in training
({", ".join(shf.backgrounds)}), strong vignette, defocus blur, sensor noise and JPEG artefacts.
Compare `test` with `test_shifted` accuracy to measure domain shift.

Parts: {parts};
in random materials (steel, aluminium, brass, copper, black oxide, zinc, cast iron, plastics, rubber),
at any rotation, {lo:.2f}-{hi:.2f} of the frame wide (source), with up to one or two
small loose pieces (pins, swarf, chips, balls) lying beside them.

## Label spec

One part per image; its label is the **most visible defect** it has (every image has at most one).

- **ok**: no visible defect. Cosmetic marks are *ok*: oil stains and fingerprints (soft dark
  blotches, on {_STAIN_PROB:.0%} of the parts of every class) and hairline marks too faint to see
  (severity below {SEVERITY_THRESHOLD}; {_OK_MARK_PROB:.0%} of the ok parts carry one, listed in
  `labels.csv` as defect `scratch` with its severity).
- **scratch**: one or two thin lines with a smooth, gently curved path *across the surface*, brighter
  (burnished) or darker than the metal around them, with clean ends. It need not touch an edge.
- **crack**: a dark, **jagged** line that **starts at an edge or at a hole's rim** and runs into the
  material, often with a branch. Dark + jagged + from an edge = crack, even when it is short or faint;
  smooth + across the face = scratch.
- **missing_hole**: a hole that the part's pattern calls for is absent: filled flush (perhaps with a
  centre-drill spot), or a blind pit that is dark like a hole but shows no background through it. The
  other holes of the part (a bolt circle, the four corners of a plate, a hinge's screw holes) are the
  reference; a washer or gear with no bore at all is also a missing hole.

**Severity** (0..1, in `labels.csv`) is how visible the defect is: contrast, width and length for
scratches and cracks; for a missing hole, a blind pit below 0.6 (darker = more hole-like = harder)
and a flush fill from 0.6 up. Defect images have severity uniform in [{SEVERITY_THRESHOLD}, 1], so
some are faint on purpose: a scratch at 0.2-0.3 is hard to see even at full zoom.
**Threshold:** a defect below severity {SEVERITY_THRESHOLD} is invisible at this resolution and
is labelled **ok**.

Slices in `labels.csv`: `lighting` is `dark` (exposure < 0.7), `dim` (< 0.92), `normal` (< 1.15) or
`bright`, from the light that fell on the table (`exposure`, about 1 at the lab's nominal light);
`background`, `material`, `part`, `blur_sigma` and `severity` are what the generator drew.

## How it was made

Generated by `coursekit.data.inspection.build_inspection_dataset` (generator version
{GENERATOR_VERSION}, seed {seed}) with the course's scene generator (`coursekit.scenes`): each
part is rasterised from primitives, a defect is drawn into its height and colour maps
(`coursekit.scenes.defects`), then it is shaded from its height map (Lambert + Blinn-Phong + a
reflected environment for metals), given a soft shadow, laid on a textured background, lit unevenly
in a random colour temperature, blurred, and given sensor noise. Sample *i* of a split depends only on
(seed, split, i), never on the other samples. Regenerate it from the repository root with the
command below: with the pinned package versions on the same platform the files come out byte for byte
identical; on another CPU a few pixels may round one grey level differently (NumPy and OpenCV choose
SIMD code by CPU), which changes some sha256s but not what the images show.

```
python -m coursekit.data.inspection datasets/inspection --seed {seed}{flags}
```

or `build_inspection_dataset("datasets/inspection", seed={seed}{args})`. Check the files with
`verify_inspection_dataset("datasets/inspection")`.

## Licence

The images, labels and this README are generated data, released under **CC0-1.0** (public domain
dedication); the generator code is MIT like the rest of coursekit. Backgrounds are procedural, or
crops of scikit-image's bundled CC0 photos (brick, gravel: CC0Textures; camera: CC0 by Lav Varshney).
"""


# --- verify and load ----------------------------------------------------------------------------------------

def _read_manifest(root: Path) -> dict:
    path = root / "manifest.json"
    if not path.is_file():
        raise DatasetIntegrityError(f"{root} has no manifest.json: not a coursekit dataset folder (build the "
                                    "inspection dataset with coursekit.data.inspection.build_inspection_dataset)")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise DatasetIntegrityError(f"{path} is not valid JSON: {err}") from None


def _list(names: list[str], limit: int = 8) -> str:
    shown = ", ".join(names[:limit])
    return shown + (f" ... (+{len(names) - limit} more)" if len(names) > limit else "")


def verify_inspection_dataset(root: str | os.PathLike, splits=None) -> dict:
    """Check every file under ``root`` against its ``manifest.json``; return the manifest.

    Raises :class:`DatasetIntegrityError` naming the files that are missing, changed (size or sha256)
    or not in the manifest (hidden files and folders, e.g. ``.ipynb_checkpoints``, are ignored).
    ``splits``: check only these splits' images (plus ``labels.csv`` and ``README.md``).
    """
    root = Path(root)
    keep = None if splits is None else {_check_split(s) for s in ([splits] if isinstance(splits, str) else splits)}
    manifest = _read_manifest(root)
    fix = (f"Restore the folder from git (git checkout -- {root}) or regenerate it: "
           f"python -m coursekit.data.inspection {root} --seed {manifest.get('seed', 0)}")
    return verify_manifest(root, fix, keep=lambda rel: keep is None or "/" not in rel or rel.split("/", 1)[0] in keep)


def verify_manifest(root: str | os.PathLike, fix: str = "", keep=None) -> dict:
    """Check the files under ``root`` against the sha256s and sizes in its ``manifest.json``.

    The generic check behind :func:`verify_inspection_dataset` (any folder whose manifest has a
    ``files: {relative path: {sha256, size}}`` map). ``fix`` ends the error message; ``keep(rel)``
    selects which paths to check (default all). Returns the manifest.
    """
    root = Path(root)
    manifest = _read_manifest(root)
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
        data = (root / rel).read_bytes()
        if len(data) != info["size"] or _sha256(data) != info["sha256"]:
            changed.append(rel)
    changed.sort()
    if missing or extra or changed:
        lines = [f"{root} does not match its manifest.json:"]
        if changed:
            lines.append(f"  changed ({len(changed)}): {_list(changed)}")
        if missing:
            lines.append(f"  missing ({len(missing)}): {_list(missing)}")
        if extra:
            lines.append(f"  not in the manifest ({len(extra)}): {_list(extra)}")
        if fix:
            lines.append(fix)
        raise DatasetIntegrityError("\n".join(lines))
    return manifest


def inspection_root(root: str | os.PathLike | None = None) -> Path:
    """Where the dataset is: ``root``, else the repository's ``datasets/inspection`` (next to the package),
    else ``$COURSEKIT_HOME/datasets/inspection`` (the course cache)."""
    from ..config import writable_home
    from .shipped import find_shipped_dataset

    return find_shipped_dataset("inspection", root,
                                rebuild=f"python -m coursekit.data.inspection {writable_home() / 'datasets' / 'inspection'}")


def load_inspection(split: str, root: str | os.PathLike | None = None, verify: bool = True):
    """Read one split of the shipped dataset: ``(ArrayDataset, metadata DataFrame)``.

    The DataFrame has one row per image, in the dataset's order (the ``labels.csv`` columns: file, class,
    part, defect, severity, lighting, background, domain, ...). ``verify`` first checks the split's files
    against ``manifest.json`` (:func:`verify_inspection_dataset`).

    >>> train, meta = load_inspection("train")        # doctest: +SKIP
    >>> train.classes, meta.groupby("lighting").size()  # doctest: +SKIP
    """
    import pandas as pd

    _check_split(split)
    root = inspection_root(root)
    manifest = verify_inspection_dataset(root, splits=split) if verify else _read_manifest(root)
    if split not in manifest.get("counts_per_class", {}):
        raise ValueError(f"{root} has no {split!r} split; it has {', '.join(manifest.get('counts_per_class', {}))}")
    labels = pd.read_csv(root / "labels.csv")
    meta = labels[labels["split"] == split].sort_values("index").reset_index(drop=True)
    classes = list(manifest["classes"])
    images = np.empty((len(meta), manifest["size"], manifest["size"], 3), np.uint8)
    for i, rel in enumerate(meta["file"]):
        bgr = cv2.imdecode(np.fromfile(str(root / rel), np.uint8), cv2.IMREAD_COLOR)
        if bgr is None:
            raise DatasetIntegrityError(f"{root / rel} could not be decoded as an image")
        images[i] = bgr[..., ::-1]
    y = meta["class"].map({c: k for k, c in enumerate(classes)}).to_numpy(np.int64)
    return ArrayDataset(images, y, classes, name=f"inspection {split}"), meta


def main(argv=None) -> None:
    """``python -m coursekit.data.inspection OUT_DIR [--seed S] [--size N]``: build the dataset."""
    import argparse

    ap = argparse.ArgumentParser(prog="python -m coursekit.data.inspection", description=main.__doc__)
    ap.add_argument("out_dir", nargs="?", default="datasets/inspection")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--size", type=int, default=DEFAULT_SIZE)
    for s in INSPECTION_SPLITS:
        ap.add_argument(f"--{s.replace('_', '-')}", type=int, default=DEFAULT_COUNTS[s], metavar="N",
                        help=f"images per class in {s} (default {DEFAULT_COUNTS[s]}; 0 leaves it out)")
    a = ap.parse_args(argv)
    counts = {s: getattr(a, s) for s in INSPECTION_SPLITS if getattr(a, s) > 0}
    out = build_inspection_dataset(a.out_dir, counts=counts, seed=a.seed, size=a.size)
    manifest = verify_inspection_dataset(out)
    mb = sum(f["size"] for f in manifest["files"].values()) / 1e6
    print(f"wrote {len(manifest['files'])} files ({mb:.1f} MB) to {out}")


if __name__ == "__main__":
    main()
