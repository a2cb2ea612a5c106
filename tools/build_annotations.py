"""Build the two-annotator sample of the inspection dataset (Module 2), shipped in ``datasets/annotations``.

Build-time only: the notebook reads the shipped labels (``coursekit.data.annotators.load_annotations``)
and measures them (``agreement``, ``cohen_kappa``, ``disagreement_table``); this script is what simulated
the two annotators under both specs and wrote ``labels_v1.csv``, ``labels_v2.csv``, ``README.md`` and
``manifest.json``.

    python -m tools.build_annotations        # from the repository root; reads datasets/inspection
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from coursekit.data.annotators import ANNOTATION_SPECS, SPEC_VERSIONS, agreement, cohen_kappa
from coursekit.files import sha256_bytes
from coursekit.data.inspection import INSPECTION_CLASSES, inspection_root

__all__ = ["AnnotatorProfile", "ANNOTATORS", "simulate_annotator", "build_annotation_sample", "main"]

@dataclass(frozen=True)
class AnnotatorProfile:
    """How one annotator errs under one spec (each a probability per image, given the truth).

    Attributes:
        faint_scratch_missed: a scratch with severity below ``faint_below`` is labelled ``ok``.
        faint_below: what this annotator finds faint.
        crack_as_scratch: a crack with severity below ``crack_below`` is labelled ``scratch``.
        crack_below: how faint a crack must be to be taken for a scratch.
        pit_as_hole: a missing hole that is a blind pit with severity below ``pit_below`` is taken for a
            real hole (labelled ``ok``).
        pit_below: severity below which a blind pit looks like a hole.
        stain_as_scratch: an ``ok`` part with an oil stain is labelled ``scratch``.
        slip: a random other label (a mis-click, a skipped row).
    """

    faint_scratch_missed: float = 0.0
    faint_below: float = 0.3
    crack_as_scratch: float = 0.0
    crack_below: float = 0.4
    pit_as_hole: float = 0.0
    pit_below: float = 0.35
    stain_as_scratch: float = 0.0
    slip: float = 0.01


ANNOTATORS: dict[tuple[str, str], AnnotatorProfile] = {
    # A: careful, reads the spec literally; under v1 an oil stain is "a line/mark on the surface"
    ("a", "v1"): AnnotatorProfile(stain_as_scratch=0.5, slip=0.01),
    ("a", "v2"): AnnotatorProfile(stain_as_scratch=0.03, slip=0.01),
    # B: fast; misses faint scratches, calls thin cracks scratches, takes blind pits for holes
    ("b", "v1"): AnnotatorProfile(faint_scratch_missed=0.7, faint_below=0.45, crack_as_scratch=0.5,
                                  crack_below=0.55, pit_as_hole=0.5, pit_below=0.4, slip=0.03),
    ("b", "v2"): AnnotatorProfile(faint_scratch_missed=0.3, faint_below=0.28, crack_as_scratch=0.2,
                                  crack_below=0.3, pit_as_hole=0.2, pit_below=0.28, slip=0.015),
}


def simulate_annotator(meta, annotator: str, version: str, seed: int = 0) -> np.ndarray:
    """The labels annotator ``"a"`` or ``"b"`` gives the images of ``meta`` under spec ``version``.

    ``meta`` is a DataFrame with the inspection ``labels.csv`` columns (``class``, ``defect``,
    ``severity``, ``stain``); returns a str array. Deterministic in (seed, annotator, version, order).
    """
    key = (str(annotator).lower(), version)
    if key not in ANNOTATORS:
        raise ValueError(f"unknown annotator/version {annotator!r}/{version!r}; annotators 'a', 'b', "
                         f"versions {', '.join(SPEC_VERSIONS)}")
    p = ANNOTATORS[key]
    rng = np.random.default_rng([seed, ord(key[0]), SPEC_VERSIONS.index(version), 7])
    out = []
    for cls, sev, stain in zip(meta["class"], meta["severity"].astype(float), meta["stain"].astype(float)):
        u, slip, other = rng.random(), rng.random(), int(rng.integers(len(INSPECTION_CLASSES) - 1))
        label = cls
        if cls == "scratch" and sev < p.faint_below and u < p.faint_scratch_missed:
            label = "ok"
        elif cls == "crack" and sev < p.crack_below and u < p.crack_as_scratch:
            label = "scratch"
        elif cls == "missing_hole" and sev < p.pit_below and u < p.pit_as_hole:
            label = "ok"
        elif cls == "ok" and stain > 0 and u < p.stain_as_scratch:
            label = "scratch"
        if slip < p.slip:
            label = [c for c in INSPECTION_CLASSES if c != label][other]
        out.append(label)
    return np.array(out, dtype=object)


def build_annotation_sample(out_dir: str | os.PathLike | None = None, inspection: str | os.PathLike | None = None,
                            n_per_class: int = 50, split: str = "train", seed: int = 0) -> Path:
    """Pick ``n_per_class`` images per class of ``split``, label them with both annotators under both specs,
    and write ``labels_v1.csv``, ``labels_v2.csv``, ``README.md`` and ``manifest.json`` (their sha256s)
    into ``out_dir`` (default: the ``annotations`` folder beside the inspection dataset). Images are
    referenced, not copied."""
    import json

    import pandas as pd

    src = inspection_root(inspection)
    out = Path(out_dir) if out_dir is not None else src.parent / "annotations"
    labels = pd.read_csv(src / "labels.csv")
    pool = labels[labels["split"] == split]
    if pool.empty:
        raise ValueError(f"{src} has no {split!r} images")
    rng = np.random.default_rng([seed, 2024])
    picks = []
    for cls in INSPECTION_CLASSES:
        rows = pool[pool["class"] == cls]
        if len(rows) < n_per_class:
            raise ValueError(f"{split!r} has only {len(rows)} {cls!r} images; asked for {n_per_class}")
        picks.append(rows.iloc[np.sort(rng.choice(len(rows), n_per_class, replace=False))])
    sample = pd.concat(picks).sort_values("index").reset_index(drop=True)
    out.mkdir(parents=True, exist_ok=True)
    stats, files = [], {}
    for version in SPEC_VERSIONS:
        df = pd.DataFrame({"file": sample["file"], "annotator_a": simulate_annotator(sample, "a", version, seed),
                           "annotator_b": simulate_annotator(sample, "b", version, seed), "spec_version": version})
        tmp = out / f".labels_{version}.csv.tmp"
        df.to_csv(tmp, index=False, lineterminator="\n")
        os.replace(tmp, out / f"labels_{version}.csv")
        files[f"labels_{version}.csv"] = (out / f"labels_{version}.csv").read_bytes()
        stats.append((version, agreement(df.annotator_a, df.annotator_b), cohen_kappa(df.annotator_a, df.annotator_b)))
    readme = _readme(len(sample), split, n_per_class, seed, stats)
    files["README.md"] = readme.encode("utf-8")
    manifest = {"name": "coursekit inspection annotations", "generator":
                "tools.build_annotations.build_annotation_sample", "seed": seed, "split": split,
                "n_per_class": n_per_class, "spec_versions": list(SPEC_VERSIONS), "licence": "CC0-1.0",
                "inspection_labels_sha256": sha256_bytes((src / "labels.csv").read_bytes()),
                "files": {k: {"sha256": sha256_bytes(v), "size": len(v)} for k, v in sorted(files.items())}}
    for name, data in (("README.md", files["README.md"]),
                       ("manifest.json", (json.dumps(manifest, indent=1) + "\n").encode("utf-8"))):
        tmp = out / f".{name}.tmp"
        tmp.write_bytes(data)
        os.replace(tmp, out / name)
    return out


def _readme(n: int, split: str, n_per_class: int, seed: int, stats) -> str:
    rows = "\n".join(f"| {v} | {a:.1%} | {k:.3f} |" for v, a, k in stats)
    return f"""# annotations: two annotators, two rounds of the label spec

{n} images of the inspection dataset's `{split}` split ({n_per_class} per true class), labelled by two
annotators, A and B, first under a vague spec (`v1`), then again under the revised spec (`v2`, the
label spec in `../inspection/README.md`). Images are not copied: `file` is a path inside
`datasets/inspection`, whose `labels.csv` holds the true class, severity and stain of each image.

Files: `labels_v1.csv`, `labels_v2.csv`, columns `file, annotator_a, annotator_b, spec_version`;
`manifest.json` holds their sha256s.
Read them with `coursekit.data.annotators.load_annotations("v1")`.

| spec | agreement | Cohen's kappa |
|---|---|---|
{rows}

## The two specs

**v1**: {ANNOTATION_SPECS["v1"]}

**v2**: {ANNOTATION_SPECS["v2"]}

## How the labels were made

The annotators are simulated (`tools.build_annotations.simulate_annotator`, seed {seed}) from the
true labels, with the mistakes people make. A is careful and literal: under v1 she labels a visible oil
stain on an ok part as a scratch (v1 never says stains are fine). B is fast: he misses faint scratches,
calls thin cracks scratches, takes dark blind pits for drilled holes, and slips now and then. The v2
spec fixes what v1 left open (a severity threshold, "dark + jagged + from an edge = crack", stains are
ok, blind pits are missing holes), so most disagreements go; B's slips and a few hard cases remain.
Regenerate with `python -m tools.build_annotations`.

Licence: CC0-1.0 (generated data).
"""




def main(argv=None) -> None:
    """``python -m tools.build_annotations [OUT_DIR] [--seed S]``: build the annotation sample."""
    import argparse

    ap = argparse.ArgumentParser(prog="python -m tools.build_annotations", description=main.__doc__)
    ap.add_argument("out_dir", nargs="?", default=None, help="default: beside the inspection dataset")
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args(argv)
    print("wrote", build_annotation_sample(a.out_dir, seed=a.seed))


if __name__ == "__main__":
    main()
