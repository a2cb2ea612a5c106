"""Labelling quality: a sample of the inspection dataset labelled by two annotators, twice.

Module 2's exercise on label noise. 200 images of the inspection ``train`` split were labelled by two
(simulated) annotators, first under a vague spec (``"v1"``), then again after the spec was revised
(``"v2"``: a severity threshold, a crack-vs-scratch rule, stains are ok). The two rounds ship in
``datasets/annotations/labels_<version>.csv`` (columns ``file``, ``annotator_a``, ``annotator_b``,
``spec_version``; ``file`` is relative to ``datasets/inspection``, whose ``labels.csv`` holds the truth).

The annotators make the mistakes people make: A reads the spec literally (under v1, a visible oil stain
is "a mark on the surface", so a scratch); B skims: misses faint scratches, calls short cracks
scratches, takes blind pits for holes, and slips now and then. :func:`agreement`,
:func:`cohen_kappa` and :func:`disagreement_table` measure them.

>>> agreement(["ok", "crack", "ok"], ["ok", "scratch", "ok"])
0.6666666666666666
>>> round(cohen_kappa(["ok", "crack", "ok", "crack"], ["ok", "crack", "ok", "ok"]), 3)
0.5
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from .inspection import INSPECTION_CLASSES, SEVERITY_THRESHOLD, _sha256, inspection_root, verify_manifest

__all__ = ["SPEC_VERSIONS", "ANNOTATION_SPECS", "AnnotatorProfile", "ANNOTATORS", "simulate_annotator",
           "build_annotation_sample", "load_annotations", "annotations_root", "verify_annotations", "agreement",
           "cohen_kappa", "disagreement_table"]

SPEC_VERSIONS: tuple[str, ...] = ("v1", "v2")
ANNOTATION_SPECS: dict[str, str] = {
    "v1": (
        "Label each part ok, scratch, crack or missing_hole. A scratch is a line on the surface; a crack "
        "is a break in the part; missing_hole means a hole is missing. Label ok if the part looks fine."
    ),
    "v2": (
        f"Label the most visible defect. ok: no visible defect; oil stains, fingerprints and marks you "
        f"cannot see at 100% zoom (severity < {SEVERITY_THRESHOLD}) are ok. scratch: thin line(s), smooth "
        "and gently curved, across the surface, bright or dark, clean ends; faint ones count: zoom in and "
        "tilt the screen. crack: dark, jagged line that starts at an edge or a hole's rim, often branched; "
        "dark + jagged + from an edge is a crack even if short or faint. missing_hole: a hole the part's "
        "pattern calls for is absent: filled, or a dark blind pit with no background showing through "
        "(compare with the other holes; a washer or gear without a bore counts)."
    ),
}
_COLUMNS = ("file", "annotator_a", "annotator_b", "spec_version")


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


def annotations_root(root: str | os.PathLike | None = None) -> Path:
    """``root``, else the repository's ``datasets/annotations``, else ``$COURSEKIT_HOME/datasets/annotations``."""
    from .shipped import find_shipped_dataset

    return find_shipped_dataset("annotations", root,
                                rebuild="coursekit.data.annotators.build_annotation_sample()")


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
                "coursekit.data.annotators.build_annotation_sample", "seed": seed, "split": split,
                "n_per_class": n_per_class, "spec_versions": list(SPEC_VERSIONS), "licence": "CC0-1.0",
                "inspection_labels_sha256": _sha256((src / "labels.csv").read_bytes()),
                "files": {k: {"sha256": _sha256(v), "size": len(v)} for k, v in sorted(files.items())}}
    for name, data in (("README.md", files["README.md"]),
                       ("manifest.json", (json.dumps(manifest, indent=1) + "\n").encode("utf-8"))):
        tmp = out / f".{name}.tmp"
        tmp.write_bytes(data)
        os.replace(tmp, out / name)
    return out


def verify_annotations(root: str | os.PathLike | None = None) -> dict:
    """Check the annotation files against their ``manifest.json`` (see
    :func:`coursekit.data.inspection.verify_manifest`); return the manifest."""
    root = annotations_root(root)
    return verify_manifest(root, "Restore the folder from git or regenerate it with "
                                 "coursekit.data.annotators.build_annotation_sample()")


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

The annotators are simulated (`coursekit.data.annotators.simulate_annotator`, seed {seed}) from the
true labels, with the mistakes people make. A is careful and literal: under v1 she labels a visible oil
stain on an ok part as a scratch (v1 never says stains are fine). B is fast: he misses faint scratches,
calls thin cracks scratches, takes dark blind pits for drilled holes, and slips now and then. The v2
spec fixes what v1 left open (a severity threshold, "dark + jagged + from an edge = crack", stains are
ok, blind pits are missing holes), so most disagreements go; B's slips and a few hard cases remain.
Regenerate with `coursekit.data.annotators.build_annotation_sample()`.

Licence: CC0-1.0 (generated data).
"""


def load_annotations(version: str = "v2", root: str | os.PathLike | None = None, verify: bool = True):
    """The shipped labels of spec ``version`` (``"v1"`` or ``"v2"``): a DataFrame with columns
    ``file, annotator_a, annotator_b, spec_version`` (checked against ``manifest.json`` first)."""
    import pandas as pd

    if version not in SPEC_VERSIONS:
        raise ValueError(f"unknown spec version {version!r}; valid: {', '.join(SPEC_VERSIONS)}")
    root = annotations_root(root)
    if verify:
        verify_annotations(root)
    path = root / f"labels_{version}.csv"
    df = pd.read_csv(path)
    missing = [c for c in _COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"{path} lacks column(s) {missing}; expected {list(_COLUMNS)}")
    bad = sorted(set(df.annotator_a).union(df.annotator_b) - set(INSPECTION_CLASSES))
    if bad:
        raise ValueError(f"{path} has unknown label(s) {bad}; valid: {', '.join(INSPECTION_CLASSES)}")
    return df


def _pair(a: Sequence, b: Sequence) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(a, dtype=object), np.asarray(b, dtype=object)
    if a.ndim != 1 or a.shape != b.shape:
        raise ValueError(f"a and b must be 1-D and the same length; got {a.shape} and {b.shape}")
    if a.size == 0:
        raise ValueError("a and b are empty")
    return a, b


def agreement(a: Sequence, b: Sequence) -> float:
    """Fraction of items on which two annotators gave the same label (observed agreement)."""
    a, b = _pair(a, b)
    return float((a == b).mean())


def cohen_kappa(a: Sequence, b: Sequence) -> float:
    """Cohen's kappa (``sklearn.metrics.cohen_kappa_score``): agreement corrected for chance,
    ``(p_observed - p_chance) / (1 - p_chance)``; 1 = perfect, 0 = no better than chance."""
    from sklearn.metrics import cohen_kappa_score

    a, b = _pair(a, b)
    return float(cohen_kappa_score(a.astype(str), b.astype(str)))


def disagreement_table(df, a: str = "annotator_a", b: str = "annotator_b"):
    """``pandas.crosstab`` of annotator ``a`` (rows) against ``b`` (columns), every class in order; the
    off-diagonal cells are the disagreements."""
    import pandas as pd

    classes = list(INSPECTION_CLASSES)
    extra = sorted(set(df[a]).union(df[b]) - set(classes))
    order = classes + extra
    table = pd.crosstab(pd.Categorical(df[a], categories=order), pd.Categorical(df[b], categories=order),
                        rownames=[a], colnames=[b], dropna=False)
    return table
