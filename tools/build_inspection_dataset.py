"""Build the course's inspection dataset (Module 2), the files shipped in ``datasets/inspection``.

Build-time only: the notebooks read the shipped files (``coursekit.data.inspection.load_inspection``) and
render single samples with the same generator (``coursekit.data.inspection.render_inspection_sample``);
this script is what wrote the files, their ``labels.csv``, ``README.md`` and ``manifest.json``.

    python -m tools.build_inspection_dataset datasets/inspection --seed 0      # from the repository root

The same arguments give byte-identical files on the machine that built them (``tests/test_inspection.py``
compares the shipped images with what the generator renders now, within JPEG/SIMD rounding).
"""
from __future__ import annotations

import csv
import io
import json
import os
import shutil
from pathlib import Path
from typing import Mapping

import cv2
import numpy as np

import coursekit
from coursekit.files import sha256_bytes
from coursekit.data.inspection import (DEFAULT_COUNTS, DEFAULT_SIZE, GENERATOR_VERSION, INSPECTION_CLASSES,
                                       INSPECTION_DOMAINS, INSPECTION_PARTS, INSPECTION_SPLITS,
                                       SEVERITY_THRESHOLD, OBJECT_SIZE, OK_MARK_PROB, SPLIT_DOMAIN,
                                       STAIN_PROB, check_index_seed, check_split,
                                       render_inspection_sample, verify_inspection_dataset)
from coursekit.data.shipped import swap_in_folder

__all__ = ["JPEG_QUALITY", "build_inspection_dataset", "main"]

JPEG_QUALITY = 95

_LABEL_FIELDS = ("file", "split", "class", "part", "defect", "severity", "stain", "material", "lighting",
                 "exposure", "background", "blur_sigma", "domain", "index")


def _encode(image: np.ndarray, quality: int = JPEG_QUALITY) -> bytes:
    ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(image[..., ::-1]),
                           [int(cv2.IMWRITE_JPEG_QUALITY), int(quality), int(cv2.IMWRITE_JPEG_OPTIMIZE), 1,
                            int(cv2.IMWRITE_JPEG_SAMPLING_FACTOR), int(cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444)])
    if not ok:  # pragma: no cover
        raise RuntimeError("OpenCV could not encode a JPEG")
    return buf.tobytes()


def _file_name(split: str, index: int) -> str:
    return f"{split}_{index:04d}.jpg"


def _check_counts(counts) -> dict[str, int]:
    if not isinstance(counts, Mapping) or not counts:
        raise TypeError(f"counts must be a dict like {DEFAULT_COUNTS}; got {counts!r}")
    for split, n in counts.items():
        check_split(split)
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
    check_index_seed(0, seed)
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
                files[rel] = {"sha256": sha256_bytes(data), "size": len(data)}
                rows.append({"file": rel, **{k: meta[k] for k in _LABEL_FIELDS if k != "file"}})
                if bar is not None:
                    bar.update()
        if bar is not None:
            bar.close()
        extra = {"labels.csv": _labels_csv(rows), "README.md": _readme(counts, seed, size, rows).encode("utf-8")}
        for name, data in extra.items():
            (tmp / name).write_bytes(data)
            files[name] = {"sha256": sha256_bytes(data), "size": len(data)}
        manifest = {
            "name": "coursekit inspection", "generator": "tools.build_inspection_dataset.build_inspection_dataset",
            "generator_version": GENERATOR_VERSION, "coursekit_version": coursekit.__version__, "seed": seed,
            "size": size, "format": f"jpeg quality {JPEG_QUALITY} 4:4:4", "classes": list(INSPECTION_CLASSES),
            "parts": list(INSPECTION_PARTS), "severity_threshold": SEVERITY_THRESHOLD,
            "counts_per_class": counts,
            "split_domains": {s: SPLIT_DOMAIN[s] for s in counts}, "licence": "CC0-1.0",
            "files": dict(sorted(files.items())),
        }
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
        swap_in_folder(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out


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
        table.append(f"| {split} | {SPLIT_DOMAIN[split]} | " + " | ".join(str(n) for _ in classes)
                     + f" | {n * len(classes)} |")
    n_files = sum(counts.values()) * len(classes)
    parts = ", ".join(INSPECTION_PARTS)
    src, shf = INSPECTION_DOMAINS["source"], INSPECTION_DOMAINS["shifted"]
    lo, hi = OBJECT_SIZE[0] * src.object_scale[0], OBJECT_SIZE[1] * src.object_scale[1]
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
  blotches, on {STAIN_PROB:.0%} of the parts of every class) and hairline marks too faint to see
  (severity below {SEVERITY_THRESHOLD}; {OK_MARK_PROB:.0%} of the ok parts carry one, listed in
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

Generated by `tools.build_inspection_dataset.build_inspection_dataset` (generator version
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
python -m tools.build_inspection_dataset datasets/inspection --seed {seed}{flags}
```

or `build_inspection_dataset("datasets/inspection", seed={seed}{args})`. Check the files with
`verify_inspection_dataset("datasets/inspection")`.

## Licence

The images, labels and this README are generated data, released under **CC0-1.0** (public domain
dedication); the generator code is MIT like the rest of coursekit. Backgrounds are procedural, or
crops of scikit-image's bundled CC0 photos (brick, gravel: CC0Textures; camera: CC0 by Lav Varshney).
"""


def main(argv=None) -> None:
    """``python -m tools.build_inspection_dataset OUT_DIR [--seed S] [--size N]``: build the dataset."""
    import argparse

    ap = argparse.ArgumentParser(prog="python -m tools.build_inspection_dataset", description=main.__doc__)
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
