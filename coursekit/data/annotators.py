"""Labelling quality: 200 inspection ``train`` images labelled by two simulated annotators under spec ``"v1"``
and again under the revised ``"v2"`` (``datasets/annotations``, built by ``tools/build_annotations.py``).

>>> agreement(["ok", "crack", "ok"], ["ok", "scratch", "ok"])
0.6666666666666666
>>> round(cohen_kappa(["ok", "crack", "ok", "crack"], ["ok", "crack", "ok", "ok"]), 3)
0.5
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np

from .inspection import INSPECTION_CLASSES, SEVERITY_THRESHOLD, verify_manifest

__all__ = ["SPEC_VERSIONS", "ANNOTATION_SPECS", "load_annotations", "annotations_root", "verify_annotations",
           "agreement", "cohen_kappa", "disagreement_table"]

SPEC_VERSIONS: tuple[str, ...] = ("v1", "v2")
ANNOTATION_SPECS: dict[str, str] = {
    "v1": ("Label each part ok, scratch, crack or missing_hole. A scratch is a line on the surface; a crack "
           "is a break in the part; missing_hole means a hole is missing. Label ok if the part looks fine."),
    "v2": (f"Label the most visible defect. ok: no visible defect; oil stains, fingerprints and marks you "
           f"cannot see at 100% zoom (severity < {SEVERITY_THRESHOLD}) are ok. scratch: thin line(s), smooth "
           "and gently curved, across the surface, bright or dark, clean ends; faint ones count: zoom in and "
           "tilt the screen. crack: dark, jagged line that starts at an edge or a hole's rim, often branched; "
           "dark + jagged + from an edge is a crack even if short or faint. missing_hole: a hole the part's "
           "pattern calls for is absent: filled, or a dark blind pit with no background showing through "
           "(compare with the other holes; a washer or gear without a bore counts)."),
}
_COLUMNS = ("file", "annotator_a", "annotator_b", "spec_version")


def annotations_root(root: str | os.PathLike | None = None) -> Path:
    """``root``, else the repository's ``datasets/annotations``, else ``$COURSEKIT_HOME/datasets/annotations``."""
    from .shipped import find_shipped_dataset

    return find_shipped_dataset("annotations", root, rebuild="python -m tools.build_annotations")


def verify_annotations(root: str | os.PathLike | None = None) -> dict:
    """Check the annotation files against their ``manifest.json``; return the manifest."""
    root = annotations_root(root)
    return verify_manifest(root, "Restore the folder from git or regenerate it with "
                                 "python -m tools.build_annotations")


def load_annotations(version: str = "v2", root: str | os.PathLike | None = None, verify: bool = True):
    """The shipped labels of spec ``version`` (``"v1"`` or ``"v2"``), verified: a DataFrame of ``_COLUMNS``."""
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
    """Cohen's kappa (sklearn): ``(p_observed - p_chance) / (1 - p_chance)``; 1 = perfect, 0 = chance."""
    from sklearn.metrics import cohen_kappa_score

    a, b = _pair(a, b)
    return float(cohen_kappa_score(a.astype(str), b.astype(str)))


def disagreement_table(df, a: str = "annotator_a", b: str = "annotator_b"):
    """``pandas.crosstab`` of annotator ``a`` (rows) against ``b`` (columns), every class in order."""
    import pandas as pd

    order = list(INSPECTION_CLASSES) + sorted(set(df[a]).union(df[b]) - set(INSPECTION_CLASSES))
    return pd.crosstab(pd.Categorical(df[a], categories=order), pd.Categorical(df[b], categories=order),
                       rownames=[a], colnames=[b], dropna=False)
