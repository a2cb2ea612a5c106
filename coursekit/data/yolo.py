"""YOLO detection labels: check them line by line, convert COCO / Pascal VOC to and from them, look at the boxes.

The ultralytics detection layout this module understands::

    parts/data.yaml                    path: (optional) the root; train/val/test/test_<x>: folders; names
    parts/images/train/img_001.jpg     one image ...
    parts/labels/train/img_001.txt     ... and its label file: one line per box, ``class cx cy w h``

Each line of a label file is ``class x_center y_center width height``: the class an integer index into
``names`` (0-based), the four numbers fractions of the image width (x, width) and height (y, height),
so each is in [0, 1]. An empty label file is an image with no objects (a "background" image). The label
of an image is found by replacing the last ``/images/`` in its path by ``/labels/`` and the extension
by ``.txt`` (ultralytics' rule, so ``train/images/a.jpg`` -> ``train/labels/a.txt`` works too).

:func:`validate_yolo_dataset` reads ``data.yaml``, opens **every** image (a full decode) and **every**
label line and returns a :class:`LabelReport` in which every :class:`LabelProblem` names its file, the
line number, what is wrong and how to fix it; nothing is skipped silently. :func:`read_yolo_labels`
reads one label file the same way (the boxes of the good lines, a problem for each bad one).

Pixel boxes: ``x1, y1, x2, y2`` are continuous pixel coordinates (the image spans 0..W and 0..H; a box
covering pixel columns 0 to 9 is x1=0, x2=10), the COCO and torchvision convention, as
``coursekit.types.Detections`` uses. :func:`xyxy_to_yolo` / :func:`yolo_to_xyxy` convert between
them and YOLO's fractions. The converters :func:`coco_to_yolo`, :func:`yolo_to_coco` and
:func:`voc_to_yolo` skip what the field's tools skip (degenerate boxes, boxes outside the image, crowd
regions) with a warning naming the annotation and the image, and count it (``ConversionResult.skipped``);
input they cannot read (a results file instead of a dataset, unknown ids, missing images) is refused
before anything is written (a :class:`LabelError` lists all of it); their writes are atomic.

>>> report = validate_yolo_dataset("parts")             # doctest: +SKIP
>>> print(report.summary())                              # doctest: +SKIP
>>> report.raise_if_errors()                             # doctest: +SKIP
>>> df = box_stats("parts", "train")                     # doctest: +SKIP
>>> fig = plot_box_stats(df)                             # doctest: +SKIP
"""
from __future__ import annotations

import json
import math
import os
import re
import tempfile
import warnings
import xml.etree.ElementTree as ET
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from difflib import get_close_matches
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
from PIL import Image, UnidentifiedImageError

from ..files import atomic_copy, atomic_write_text
from .imagefolder import IMAGE_EXTENSIONS, _decode, _is_junk, _is_text, _sniff

__all__ = [
    "LABEL_PROBLEM_KINDS",
    "LabelProblem",
    "LabelReport",
    "LabelError",
    "YoloLabels",
    "ConversionResult",
    "read_yolo_labels",
    "validate_yolo_dataset",
    "xyxy_to_yolo",
    "yolo_to_xyxy",
    "write_yolo_dataset",
    "coco_to_yolo",
    "yolo_to_coco",
    "voc_to_yolo",
    "box_stats",
    "plot_box_stats",
]

#: Every kind of :class:`LabelProblem`, with what it means.
LABEL_PROBLEM_KINDS = {
    "bad_yaml": "data.yaml is missing, unreadable, lacks a key (train, val, names) or has bad names/nc",
    "missing_folder": "a folder or list file that data.yaml names (or the labels folder next to it) does not exist",
    "missing_image": "a split's list file (.txt) names an image that does not exist",
    "bad_layout": "an image path has no 'images' folder in it, so YOLO cannot find its label file",
    "empty_split": "a split with no image at all",
    "name_clash": "two images with the same name but different extensions share one label file",
    "stray_file": "a file that is neither an image nor a label (or a system file) in an images/labels folder",
    "unreadable_image": "an image that cannot be read or fully decoded (empty, truncated, not an image)",
    "unreadable_label": "a label file that cannot be read as UTF-8 text",
    "missing_label": "an image without a label file: YOLO treats it as background (no objects)",
    "orphan_label": "a label file without an image: its boxes are never used",
    "empty_label": "an empty label file: a background image (no objects), which is fine",
    "wrong_columns": "a label line without exactly 5 values (class x_center y_center width height)",
    "not_a_number": "a coordinate that is not a finite number",
    "bad_class": "a class id that is not a whole number, or not in 0..len(names)-1",
    "out_of_range": "a coordinate outside [0, 1] (YOLO coordinates are fractions of the image size)",
    "bad_size": "a box with zero or negative width or height",
    "box_outside_image": "a box that sticks out of the image (its centre and size are in [0, 1]); YOLO clips it",
    "tiny_box": "a box less than 2 pixels wide or high: usually a click instead of a drag",
    "duplicate_box": "the same box twice in one file (same class, identical or IoU > 0.95)",
    # converters (coco_to_yolo, voc_to_yolo)
    "bad_source": "a COCO json or VOC xml entry that cannot be converted (missing fields, unknown ids)",
    "size_mismatch": "a COCO image whose width/height differ from the image file (EXIF rotation?)",
    "crowd_region": "a COCO crowd region (iscrowd=1), left out: YOLO has no 'ignore' regions",
    "difficult_object": "VOC objects marked difficult, kept: YOLO has no 'difficult' flag",
}

#: ``error``: training or evaluation would lose or mislabel data; ``warning``: worth a look; ``info``: fine.
SEVERITIES = ("error", "warning", "info")

#: The splits ``data.yaml`` may name besides ``train``/``val``/``test``: any key starting ``test_`` or ``val_``.
STANDARD_SPLITS = ("train", "val", "test")

#: Boxes in one file with the same class and an IoU above this are reported as duplicates.
DUPLICATE_IOU = 0.95

#: A box edge further than this (a fraction of the image) outside [0, 1] is ``box_outside_image``.
EDGE_TOLERANCE = 1e-3

#: Label files are written with this many decimals (5e-7 of the image: sub-pixel below 10^6 pixels).
DECIMALS = 6

_COLUMNS = ("x_center", "y_center", "width", "height")
_MAX_SHOWN = 100  # raise_if_errors spells out at most this many errors (all are in the report)
_LINE_SPLIT = re.compile(r"\r\n|\n|\r")


class LabelError(ValueError):
    """Labels have errors; ``.problems`` lists every one and ``.report`` is the :class:`LabelReport`, if any."""

    def __init__(self, message: str, problems: Sequence["LabelProblem"] = (), report: "LabelReport | None" = None):
        super().__init__(message)
        self.problems = list(problems)
        self.report = report


@dataclass(frozen=True)
class LabelProblem:
    """One thing wrong (or worth knowing) about a detection dataset.

    Attributes:
        kind: one of :data:`LABEL_PROBLEM_KINDS`, e.g. ``"bad_class"``.
        severity: ``"error"``, ``"warning"`` or ``"info"``.
        paths: the files concerned (absolute); ``path`` is the first.
        message: ``file:line: what is wrong — how to fix it``.
        line: the 1-based line number in ``path`` (label files, data.yaml), or ``None``.
        split: the split concerned, or ``None``.

    >>> p = LabelProblem("bad_size", "error", Path("/d/labels/train/a.txt"), "a.txt:3: width is 0", line=3)
    >>> p.path.name, p.line, str(p)
    ('a.txt', 3, 'error: a.txt:3: width is 0')
    """

    kind: str
    severity: str
    paths: tuple[Path, ...]
    message: str
    line: int | None = None
    split: str | None = None

    def __post_init__(self):
        if self.kind not in LABEL_PROBLEM_KINDS:
            raise ValueError(f"problem kind {self.kind!r} is not one of {', '.join(LABEL_PROBLEM_KINDS)}")
        if self.severity not in SEVERITIES:
            raise ValueError(f"problem severity {self.severity!r} is not one of {', '.join(SEVERITIES)}")
        paths = (self.paths,) if isinstance(self.paths, (str, os.PathLike)) else tuple(self.paths or ())
        object.__setattr__(self, "paths", tuple(Path(p) for p in paths))

    @property
    def path(self) -> Path | None:
        """The first file concerned (None if none)."""
        return self.paths[0] if self.paths else None

    def __str__(self) -> str:
        return f"{self.severity}: {self.message}"


@dataclass
class YoloLabels:
    """The boxes of one YOLO label file, and a problem for every line that is not a good box.

    Attributes:
        path: the label file.
        classes: int64 (N,) class ids of the good boxes.
        boxes: float64 (N, 4) ``x_center, y_center, width, height``, fractions of the image.
        lines: int64 (N,) the 1-based line each box comes from.
        problems: one :class:`LabelProblem` per bad line (and per duplicate, edge or rounded class id).
        n_lines: the non-blank lines in the file (every one is a box or named in an error).

    A box is kept unless its line has an error; boxes with only a warning (a duplicate, an edge outside
    the image, a class id written ``1.0``) are kept, as ultralytics keeps them.
    """

    path: Path
    classes: np.ndarray
    boxes: np.ndarray
    lines: np.ndarray
    problems: list[LabelProblem] = field(default_factory=list)
    n_lines: int = 0

    def __len__(self) -> int:
        return len(self.classes)

    @property
    def errors(self) -> list[LabelProblem]:
        return [p for p in self.problems if p.severity == "error"]


@dataclass
class LabelReport:
    """What :func:`validate_yolo_dataset` found.

    Attributes:
        root: the dataset root (``path:`` in data.yaml, else data.yaml's folder).
        data_yaml: the data.yaml read (None if there was none).
        names: the class names, index = class id.
        splits: the splits checked, in order.
        counts: split -> ``{"images", "unreadable", "labelled", "background", "missing_label", "boxes"}``.
        class_counts: split -> class name -> number of good boxes.
        problems: every :class:`LabelProblem`, errors first, then in the order found.
    """

    root: Path
    data_yaml: Path | None
    names: list[str]
    splits: list[str]
    counts: dict[str, dict[str, int]] = field(default_factory=dict)
    class_counts: dict[str, dict[str, int]] = field(default_factory=dict)
    problems: list[LabelProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when there is no error (warnings and info are allowed)."""
        return not self.errors

    @property
    def errors(self) -> list[LabelProblem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[LabelProblem]:
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def infos(self) -> list[LabelProblem]:
        return [p for p in self.problems if p.severity == "info"]

    def by_kind(self, kind: str) -> list[LabelProblem]:
        """The problems of one kind, e.g. ``report.by_kind("bad_class")``."""
        if kind not in LABEL_PROBLEM_KINDS:
            raise ValueError(f"{kind!r} is not a problem kind; use one of {', '.join(LABEL_PROBLEM_KINDS)}")
        return [p for p in self.problems if p.kind == kind]

    def summary(self, per_kind: int = 3) -> str:
        """Images and boxes per split and class, then the problems grouped by kind (the first ``per_kind`` of each)."""
        n_err, n_warn, n_info = len(self.errors), len(self.warnings), len(self.infos)
        where = self.data_yaml.name if self.data_yaml else "no data.yaml"
        lines = [f"YOLO dataset {self.root} ({where}): {len(self.names)} classes, splits "
                 f"{', '.join(self.splits) or 'none'}; {n_err} errors, {n_warn} warnings, {n_info} info"]
        if self.counts:
            keys = ("images", "labelled", "background", "missing_label", "unreadable", "boxes")
            width = max(5, *(len(s) for s in self.counts))
            lines.append("  " + "split".ljust(width) + "".join(f"  {k:>{len(k)}}" for k in keys))
            for s, c in self.counts.items():
                lines.append("  " + s.ljust(width) + "".join(f"  {c.get(k, 0):>{len(k)}}" for k in keys))
        if self.class_counts and self.names:
            width = max(5, *(len(n) for n in self.names))
            cols = [max(5, len(s)) for s in self.class_counts]
            lines.append("  " + "class".ljust(width) + "".join(f"  {s:>{w}}" for s, w in zip(self.class_counts, cols)))
            for name in self.names:
                lines.append("  " + name.ljust(width) + "".join(
                    f"  {c.get(name, 0):>{w}}" for c, w in zip(self.class_counts.values(), cols)))
        groups: dict[tuple[str, str], list[LabelProblem]] = defaultdict(list)
        for p in self.problems:
            groups[(p.severity, p.kind)].append(p)
        if groups:
            lines.append(f"problems (the first {per_kind} of each kind; report.to_frame() has them all):")
        for sev in SEVERITIES:
            for (s, kind), probs in groups.items():
                if s != sev:
                    continue
                lines.append(f"  {sev:<7}  {kind} x{len(probs)}")
                lines.extend(f"      {p.message}" for p in probs[:per_kind])
                if len(probs) > per_kind:
                    lines.append(f"      ... and {len(probs) - per_kind} more")
        if n_err:
            lines.append("report.raise_if_errors() lists every error with its fix.")
        return "\n".join(lines)

    def raise_if_errors(self) -> None:
        """Raise :class:`LabelError` listing the errors (all of them up to 100), if there are any."""
        errors = self.errors
        if not errors:
            return
        shown = "\n".join(f"  - {p.message}" for p in errors[:_MAX_SHOWN])
        more = f"\n  ... and {len(errors) - _MAX_SHOWN} more (report.to_frame())" if len(errors) > _MAX_SHOWN else ""
        msg = (f"{len(errors)} error(s) in YOLO dataset {self.root}; fix them and run the check again "
               f"(coursekit.data.validate_yolo_dataset):\n{shown}{more}")
        if self.warnings:
            msg += f"\n(and {len(self.warnings)} warning(s): print(report.summary()) or see report.warnings)"
        raise LabelError(msg, errors, self)

    def to_frame(self):
        """A pandas DataFrame, one row per problem: severity, kind, split, path (relative to root), line, message."""
        import pandas as pd

        rows = [{"severity": p.severity, "kind": p.kind, "split": p.split,
                 "path": _rel(p.path, self.root) if p.path is not None else None,
                 "line": p.line, "message": p.message} for p in self.problems]
        df = pd.DataFrame(rows, columns=["severity", "kind", "split", "path", "line", "message"])
        df["line"] = df["line"].astype("Int64")
        return df

    def __repr__(self) -> str:
        n_images = sum(c.get("images", 0) for c in self.counts.values())
        return (f"LabelReport({str(self.root)!r}: {len(self.names)} classes, splits {self.splits}, {n_images} "
                f"images, ok={self.ok}, {len(self.errors)} errors, {len(self.warnings)} warnings, "
                f"{len(self.infos)} info)")


@dataclass
class ConversionResult:
    """What a converter wrote.

    Attributes:
        out_dir: where it wrote (the dataset root for :func:`coco_to_yolo`, the labels folder for
            :func:`voc_to_yolo`).
        data_yaml: the data.yaml written or updated (``None`` for :func:`voc_to_yolo`).
        names: the class names, index = YOLO class id.
        category_ids: YOLO class id -> COCO category id (:func:`coco_to_yolo`), else ``None``.
        n_images, n_boxes: label files and boxes written.
        files: every file written.
        problems: warnings and info (a converter raises :class:`LabelError` on errors and writes nothing).
        skipped: annotations left out, by reason (``crowd_region``, ``not_a_number``, ``bad_size``,
            ``out_of_range``; :func:`coco_to_yolo` and :func:`voc_to_yolo`); each one is also in ``problems``.
    """

    out_dir: Path
    data_yaml: Path | None
    names: list[str]
    category_ids: dict[int, int] | None
    n_images: int
    n_boxes: int
    files: list[Path] = field(default_factory=list)
    problems: list[LabelProblem] = field(default_factory=list)
    skipped: dict[str, int] = field(default_factory=dict)

    def summary(self) -> str:
        lines = [f"wrote {self.n_images} label files ({self.n_boxes} boxes, {len(self.names)} classes) to "
                 f"{self.out_dir}" + (f"; {self.data_yaml.name} updated" if self.data_yaml else "")]
        if self.skipped:
            lines.append(f"skipped {sum(self.skipped.values())} annotation(s): "
                         + ", ".join(f"{n} {reason}" for reason, n in self.skipped.items()))
        lines.extend(f"  {p.severity}: {p.message}" for p in self.problems)
        return "\n".join(lines)

    def __repr__(self) -> str:
        return (f"ConversionResult({str(self.out_dir)!r}: {self.n_images} label files, {self.n_boxes} boxes, "
                f"{len(self.names)} classes, {len(self.problems)} problems)")


# ----------------------------------------------------------------------------------------------------
# small helpers


def _rel(path: Path | None, root: Path | None) -> str:
    if path is None:
        return ""
    if root is not None:
        try:
            return Path(path).relative_to(root).as_posix()
        except ValueError:
            pass
    return str(path)


def _is_image(path: Path) -> bool:
    return path.name.lower().endswith(IMAGE_EXTENSIONS)


def _label_path(image: Path) -> Path | None:
    """Ultralytics' rule: the last ``/images/`` in the path becomes ``/labels/``, the extension ``.txt``."""
    s = str(image)
    sa, sb = f"{os.sep}images{os.sep}", f"{os.sep}labels{os.sep}"
    if sa not in s:
        return None
    head, tail = s.rsplit(sa, 1)
    return Path(os.path.splitext(head + sb + tail)[0] + ".txt")


def _names_text(names: Sequence[str], limit: int = 10) -> str:
    shown = ", ".join(f"{i}={n}" for i, n in enumerate(names[:limit]))
    return shown + (f", ... ({len(names)} classes)" if len(names) > limit else "")


def _valid_ids(names: Sequence[str]) -> str:
    if not names:
        return "data.yaml has no names, so no id is valid"
    return f"valid ids are 0..{len(names) - 1} ({_names_text(names)})"


def _fmt(v: float) -> str:
    return f"{v:.{DECIMALS}f}"


def _yolo_line(cls: int, box: Sequence[float]) -> str:
    return f"{int(cls)} " + " ".join(_fmt(float(v)) for v in box)


def _exif_swaps(im: Image.Image) -> bool:
    try:
        return im.getexif().get(0x0112, 1) in (5, 6, 7, 8)
    except Exception:  # noqa: BLE001 - a broken EXIF block: the stored orientation is used
        return False


def _header_size(path: Path) -> tuple[int, int]:
    """(width, height) as shown (EXIF orientation applied), from the header only."""
    with Image.open(path) as im:
        w, h = im.size
        return (h, w) if _exif_swaps(im) else (w, h)


def _open_full(path: Path) -> tuple[int, int]:
    """(width, height) after a full decode (EXIF orientation applied); raises if it cannot be decoded."""
    data = path.read_bytes()
    if not data:
        raise ValueError("empty file (0 bytes; an interrupted copy or download?)")
    if _is_text(data):  # before PIL: with ultralytics imported, PIL's openers can fail on text with odd errors
        raise ValueError(f"not an image — {_sniff(data)}")
    try:
        rgb, _mode, _fmt = _decode(data)
    except UnidentifiedImageError:
        raise ValueError(f"not an image — {_sniff(data)}") from None
    return rgb.width, rgb.height


# ----------------------------------------------------------------------------------------------------
# box conversions


def _wh(w, h) -> tuple[np.ndarray, np.ndarray]:
    w, h = np.asarray(w, dtype=np.float64), np.asarray(h, dtype=np.float64)
    if np.any(w <= 0) or np.any(h <= 0):
        raise ValueError(f"image width and height must be > 0 pixels; got w={w}, h={h}")
    return w, h


def _as_boxes(boxes) -> np.ndarray:
    b = np.asarray(boxes, dtype=np.float64)
    if b.size == 0:
        return b.reshape(0, 4)
    if b.shape[-1] != 4:
        raise ValueError(f"boxes must have 4 numbers each (shape (..., 4)); got shape {b.shape}")
    return b


def xyxy_to_yolo(boxes, w, h) -> np.ndarray:
    """Pixel corners ``x1, y1, x2, y2`` -> YOLO ``x_center, y_center, width, height`` as fractions.

    ``boxes`` is (..., 4); ``w``, ``h`` the image width and height in pixels, one number or one per box.
    Pixel coordinates are continuous (the image spans 0..w): a box over pixel columns 0..9 is x1=0, x2=10.

    >>> xyxy_to_yolo([[10, 20, 50, 60]], w=100, h=200).tolist()
    [[0.3, 0.2, 0.4, 0.2]]
    """
    b = _as_boxes(boxes)
    w, h = _wh(w, h)
    out = np.empty_like(b)
    out[..., 0] = (b[..., 0] + b[..., 2]) / 2 / w
    out[..., 1] = (b[..., 1] + b[..., 3]) / 2 / h
    out[..., 2] = (b[..., 2] - b[..., 0]) / w
    out[..., 3] = (b[..., 3] - b[..., 1]) / h
    return out


def yolo_to_xyxy(boxes, w, h) -> np.ndarray:
    """YOLO ``x_center, y_center, width, height`` fractions -> pixel corners ``x1, y1, x2, y2``.

    The inverse of :func:`xyxy_to_yolo`; ``w``, ``h`` the image size in pixels (one number or one per box).

    >>> yolo_to_xyxy([[0.3, 0.2, 0.4, 0.2]], w=100, h=200).round(6).tolist()
    [[10.0, 20.0, 50.0, 60.0]]
    """
    b = _as_boxes(boxes)
    w, h = _wh(w, h)
    out = np.empty_like(b)
    out[..., 0] = (b[..., 0] - b[..., 2] / 2) * w
    out[..., 1] = (b[..., 1] - b[..., 3] / 2) * h
    out[..., 2] = (b[..., 0] + b[..., 2] / 2) * w
    out[..., 3] = (b[..., 1] + b[..., 3] / 2) * h
    return out



def write_yolo_dataset(out_dir: str | os.PathLike, splits: Mapping[str, tuple], names: Sequence[str],
                       overwrite: bool = False) -> Path:
    """Write images with their boxes as a YOLO dataset (PNG images, one label file each, ``data.yaml``).

    ``splits``: ``{"train": (images, detections), "val": ...}``; ``images`` RGB uint8 (N, H, W, 3),
    ``detections`` one :class:`~coursekit.types.Detections` per image (pixel xyxy boxes, ``class_id`` into
    ``names``). Every file is written atomically and ``data.yaml`` last, so an interrupted run never leaves a
    dataset that looks complete. Returns the path of ``data.yaml`` (what ``ultralytics`` trains on).

    >>> import numpy as np, tempfile
    >>> from coursekit.types import Detections
    >>> img = np.zeros((2, 32, 32, 3), np.uint8)
    >>> det = [Detections(np.array([[4., 4, 12, 20]]), class_id=np.array([0]), class_names=["hole"]), Detections.empty(["hole"])]
    >>> y = write_yolo_dataset(tempfile.mkdtemp() + "/holes", {"train": (img, det)}, ["hole"])
    >>> (y.parent / "labels/train/000000.txt").read_text()
    '0 0.250000 0.375000 0.250000 0.500000\\n'
    """
    import cv2

    from .shipped import building_folder

    root = Path(out_dir)
    if root.exists() and any(root.iterdir()) and not overwrite:
        raise FileExistsError(f"{root} already holds files: pick an empty folder or pass overwrite=True")
    names = list(names)
    with building_folder(root) as tmp:
        for split, (images, dets) in splits.items():
            images = np.asarray(images)
            if images.ndim != 4 or images.shape[-1] != 3 or images.dtype != np.uint8:
                raise ValueError(f"split {split!r}: images must be RGB uint8 (N, H, W, 3); got {images.dtype} "
                                 f"{images.shape}")
            if len(dets) != len(images):
                raise ValueError(f"split {split!r}: {len(images)} images but {len(dets)} Detections (one per image)")
            for k, (image, det) in enumerate(zip(images, dets)):
                h, w = image.shape[:2]
                ids = np.asarray(det.class_id if det.class_id is not None else np.zeros(len(det), int), int)
                if len(ids) and (ids.min() < 0 or ids.max() >= len(names)):
                    raise ValueError(f"split {split!r}, image {k}: class_id {ids.tolist()} outside 0..{len(names) - 1} "
                                     f"(names: {_names_text(names)})")
                ok, png = cv2.imencode(".png", np.ascontiguousarray(image[..., ::-1]))
                if not ok:
                    raise ValueError(f"split {split!r}, image {k}: OpenCV could not encode it as PNG")
                (tmp / "images" / split).mkdir(parents=True, exist_ok=True)
                (tmp / "images" / split / f"{k:06d}.png").write_bytes(png.tobytes())
                boxes = xyxy_to_yolo(np.asarray(det.xyxy, np.float64).reshape(-1, 4), w, h)
                (tmp / "labels" / split).mkdir(parents=True, exist_ok=True)
                (tmp / "labels" / split / f"{k:06d}.txt").write_text(
                    "".join(_yolo_line(c, b) + "\n" for c, b in zip(ids, boxes)), encoding="utf-8")
        config = {"path": str(root.resolve()), **{split: f"images/{split}" for split in splits},
                  "names": dict(enumerate(names))}
        (tmp / "data.yaml").write_text(_yaml().safe_dump(config, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return root / "data.yaml"


def _iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """IoU of every box in ``a`` with every box in ``b`` (both cx, cy, w, h)."""
    ax1, ay1 = a[:, 0] - a[:, 2] / 2, a[:, 1] - a[:, 3] / 2
    ax2, ay2 = a[:, 0] + a[:, 2] / 2, a[:, 1] + a[:, 3] / 2
    bx1, by1 = b[:, 0] - b[:, 2] / 2, b[:, 1] - b[:, 3] / 2
    bx2, by2 = b[:, 0] + b[:, 2] / 2, b[:, 1] + b[:, 3] / 2
    iw = np.clip(np.minimum(ax2[:, None], bx2[None]) - np.maximum(ax1[:, None], bx1[None]), 0, None)
    ih = np.clip(np.minimum(ay2[:, None], by2[None]) - np.maximum(ay1[:, None], by1[None]), 0, None)
    inter = iw * ih
    union = (a[:, 2] * a[:, 3])[:, None] + (b[:, 2] * b[:, 3])[None] - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1), 0.0)


# ----------------------------------------------------------------------------------------------------
# one label file


def _parse_class(text: str, names: Sequence[str] | None, add) -> int | None:
    """The class id of one line, or None after reporting why not."""
    n = len(names) if names is not None else None
    fix_range = (" — fix the id, or add the class to names in data.yaml" if names is not None else "")
    try:
        cid = int(text)
    except ValueError:
        try:
            value = float(text)
        except ValueError:
            hint = ""
            if names is not None and text in names:
                hint = f" — write its id instead: {text!r} is {list(names).index(text)}"
            elif names is not None:
                hint = f" — write the class id; {_valid_ids(names)}"
            add("bad_class", "error", f"class {text!r} is not a number{hint}")
            return None
        if not math.isfinite(value) or value != int(value):
            add("bad_class", "error", f"class id {text!r} is not a whole number — write an integer; "
                                      f"{_valid_ids(names) if names is not None else 'ids start at 0'}")
            return None
        cid = int(value)
        add("bad_class", "warning", f"class id written as {text!r}: ultralytics reads it as {cid} but other tools "
                                    f"(and int()) fail — write {cid}")
    if cid < 0 or (n is not None and cid >= n):
        if n is None:
            add("bad_class", "error", f"class id {cid} is negative — ids start at 0")
        else:
            add("bad_class", "error", f"class id {cid} is out of range: {_valid_ids(names)}{fix_range}")
        return None
    return cid


def read_yolo_labels(path: str | os.PathLike, names: Sequence[str] | int | None = None, *,
                     root: str | os.PathLike | None = None, split: str | None = None) -> YoloLabels:
    """Read one YOLO label file: the boxes of its good lines, and a :class:`LabelProblem` per bad line.

    Args:
        path: the ``.txt`` label file.
        names: the class names (or just their number) to check class ids against; ``None`` checks only
            that ids are whole numbers >= 0.
        root: file names in the messages are relative to this folder (default: as given).
        split: recorded in each problem.

    Blank lines, Windows line endings (``\\r\\n``), a UTF-8 byte-order mark, tabs and trailing spaces are
    fine. Nothing is dropped silently: every non-blank line is either a box or named in an error.

    >>> import tempfile, pathlib
    >>> f = pathlib.Path(tempfile.mkdtemp()) / "a.txt"
    >>> _ = f.write_text("0 0.5 0.5 0.2 0.4\\r\\n1 0.5 0.5 0 0.1\\n")
    >>> labels = read_yolo_labels(f, names=["washer", "gear"])
    >>> labels.classes.tolist(), labels.lines.tolist(), [(p.kind, p.line) for p in labels.problems]
    ([0], [1], [('bad_size', 2)])
    """
    path = Path(path)
    if isinstance(names, (int, np.integer)) and not isinstance(names, bool):
        names = [str(i) for i in range(int(names))]
    names = list(names) if names is not None else None
    base = Path(root) if root is not None else None
    rel = _rel(path, base)
    problems: list[LabelProblem] = []
    empty = YoloLabels(path, np.zeros(0, np.int64), np.zeros((0, 4)), np.zeros(0, np.int64), problems, 0)

    try:
        data = path.read_bytes()
    except OSError as err:
        problems.append(LabelProblem("unreadable_label", "error", path,
                                     f"{rel}: cannot be read ({err.strerror or err}) — check the file and its "
                                     "permissions", None, split))
        return empty
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data[:err.start].count(b"\n") + 1
        problems.append(LabelProblem("unreadable_label", "error", path,
                                     f"{rel}:{line}: not UTF-8 text (byte {err.start} is 0x{data[err.start]:02x}) — "
                                     "is it really a label file? re-export it as plain text", line, split))
        return empty

    classes, boxes, lines = [], [], []
    n_lines = 0
    for lineno, raw in enumerate(_LINE_SPLIT.split(text), 1):
        fields = raw.split()
        if not fields:
            continue
        n_lines += 1
        where = f"{rel}:{lineno}"
        line_errors = 0

        def add(kind: str, severity: str, what: str) -> None:
            nonlocal line_errors
            line_errors += severity == "error"
            shown = raw.strip() if len(raw.strip()) <= 80 else raw.strip()[:77] + "..."
            problems.append(LabelProblem(kind, severity, path, f"{where}: {what} (line: {shown!r})", lineno, split))

        if len(fields) != 5:
            k = len(fields)
            if k == 1 and "," in fields[0]:
                hint = "the values are separated by commas — YOLO separates them by spaces"
            elif k == 6:
                hint = ("6 values: a confidence or track id at the end? (a prediction file saved with "
                        "save_conf=True?) — training labels have exactly 5")
            elif k >= 7 and k % 2 == 1:
                hint = ("an odd number >= 7 looks like a segmentation polygon (class x1 y1 x2 y2 ...) — export "
                        "detection boxes (class x_center y_center width height) instead")
            elif k < 5:
                hint = "a value is missing — each line is class x_center y_center width height"
            else:
                hint = "each line is exactly: class x_center y_center width height"
            add("wrong_columns", "error", f"{k} value(s), expected 5; {hint}")
            continue

        cid = _parse_class(fields[0], names, add)
        values, bad = [], []
        for col, text_v in zip(_COLUMNS, fields[1:]):
            try:
                v = float(text_v)
            except ValueError:
                v = float("nan")
            if not math.isfinite(v):
                bad.append(f"{col}={text_v!r}")
            values.append(v)
        if bad:
            add("not_a_number", "error", f"{', '.join(bad)} {'is' if len(bad) == 1 else 'are'} not a finite "
                                         "number — each coordinate is a number between 0 and 1")
        else:
            cx, cy, bw, bh = values
            nonpos = [f"{c}={v:g}" for c, v in zip(_COLUMNS[2:], (bw, bh)) if v <= 0]
            if nonpos:
                add("bad_size", "error", f"{' and '.join(nonpos)}: a box needs a width and height > 0 — "
                                         "redraw the box, or delete the line")
            outside = [f"{c}={v:g}" for c, v in zip(_COLUMNS, values)
                       if not 0 <= v <= 1 and not (c in ("width", "height") and v <= 0)]
            if outside:
                hint = ("these look like pixels: divide x_center and width by the image width, y_center and "
                        "height by the image height" if max(values) > 1.5 else
                        "YOLO coordinates are fractions of the image size, in [0, 1]: fix or redraw the box")
                add("out_of_range", "error", f"{', '.join(outside)} outside [0, 1] — {hint}")
            if not nonpos and not outside:
                edges = {"left": cx - bw / 2, "top": cy - bh / 2, "right": 1 - (cx + bw / 2),
                         "bottom": 1 - (cy + bh / 2)}
                past = [f"{side} by {-v:.4f}" for side, v in edges.items() if v < -EDGE_TOLERANCE]
                if past:
                    add("box_outside_image", "warning", f"the box sticks out of the image ({', '.join(past)} of "
                                                        "the image size); YOLO clips it to the image — check it, "
                                                        "or clip it yourself")
        if line_errors == 0 and cid is not None:
            classes.append(cid)
            boxes.append(values)
            lines.append(lineno)

    classes_a = np.asarray(classes, np.int64)
    boxes_a = np.asarray(boxes, np.float64).reshape(-1, 4)
    lines_a = np.asarray(lines, np.int64)
    problems.extend(_duplicates(path, rel, classes_a, boxes_a, lines_a, split))
    problems.sort(key=lambda p: (p.line or 0))
    return YoloLabels(path, classes_a, boxes_a, lines_a, problems, n_lines)


def _duplicates(path: Path, rel: str, classes: np.ndarray, boxes: np.ndarray, lines: np.ndarray,
                split: str | None) -> list[LabelProblem]:
    """A warning for each box that repeats an earlier box of the same class (identical or IoU > 0.95)."""
    out = []
    for c in np.unique(classes):
        idx = np.flatnonzero(classes == c)
        if len(idx) < 2:
            continue
        b = boxes[idx]
        iou = _iou_matrix(b, b)
        same = (b[:, None, :] == b[None, :, :]).all(-1)
        dup = np.triu((iou > DUPLICATE_IOU) | same, k=1)  # dup[i, j]: j (later) repeats i
        for j in range(len(idx)):
            earlier = np.flatnonzero(dup[:j, j])
            if earlier.size:
                i = int(earlier[0])
                how = "identical to" if same[i, j] else f"IoU {iou[i, j]:.3f} with"
                out.append(LabelProblem(
                    "duplicate_box", "warning", path,
                    f"{rel}:{lines[idx[j]]}: class {int(c)} box {how} the box on line {lines[idx[i]]} — the same "
                    "object labelled twice? delete one line (in val/test a duplicate is an object no model can "
                    "find twice)", int(lines[idx[j]]), split))
    return out


# ----------------------------------------------------------------------------------------------------
# data.yaml


@dataclass
class _Config:
    yaml_path: Path | None
    root: Path
    names: list[str]
    sources: dict[str, list[Path]]          # split -> image folders or list files (resolved)
    raw: dict


def _yaml():
    try:
        import yaml
    except ImportError as err:  # pragma: no cover - ultralytics depends on PyYAML
        raise ImportError("reading data.yaml needs PyYAML: pip install pyyaml") from err
    return yaml


def _find_yaml(p: Path) -> tuple[Path | None, str]:
    if p.is_file():
        return p, ""
    if p.is_dir():
        for name in ("data.yaml", "data.yml"):
            if (p / name).is_file():
                return p / name, ""
        found = sorted(q for q in p.iterdir() if q.suffix.lower() in (".yaml", ".yml") and q.is_file())
        if len(found) == 1:
            return found[0], ""
        if found:
            return None, (f"{p}: no data.yaml but {len(found)} other .yaml files ({', '.join(q.name for q in found)})"
                          " — pass the one that describes the dataset")
        return None, (f"{p}: no data.yaml — write one next to images/ and labels/, e.g.\n"
                      "        train: images/train\n        val: images/val\n        names: [washer, gear]")
    return None, f"{p}: no such file or folder — pass the dataset folder or its data.yaml"


def _names_from(raw: dict, yaml_path: Path, problems: list[LabelProblem]) -> list[str]:
    def err(msg: str, severity: str = "error") -> None:
        problems.append(LabelProblem("bad_yaml", severity, yaml_path, f"{yaml_path.name}: {msg}"))

    names = raw.get("names")
    nc = raw.get("nc")
    out: list[str] = []
    n_before = len(problems)
    if names is None:
        err("no 'names' key — add the class names in class-id order, e.g. names: [washer, gear] "
            "or names: {0: washer, 1: gear}")
        if isinstance(nc, int) and nc > 0:
            out = [f"class_{i}" for i in range(nc)]
    elif isinstance(names, Mapping):
        try:
            keys = {int(k): str(v) for k, v in names.items()}
        except (TypeError, ValueError):
            err(f"names is a dict whose keys are not all class ids (integers): {list(names)[:10]} — use "
                "names: {0: washer, 1: gear}")
            keys = {}
        if keys:
            expected = list(range(len(keys)))
            if sorted(keys) != expected:
                missing = sorted(set(range(max(keys) + 1)) - set(keys))
                err(f"names ids must be 0..{len(keys) - 1} with none missing; got {sorted(keys)}"
                    + (f" (missing {missing})" if missing else "") + " — renumber the classes (and their labels)")
                out = [keys.get(i, f"class_{i}") for i in range(max(keys) + 1)] if max(keys) >= 0 else []
            else:
                out = [keys[i] for i in expected]
    elif isinstance(names, (list, tuple)):
        out = [str(n) for n in names]
    else:
        err(f"names must be a list or an {{id: name}} dict; got {type(names).__name__} {names!r}")
    if names is not None and not out and len(problems) == n_before:
        err("names is empty — list the class names")
    if nc is not None and out and nc != len(out):
        err(f"nc is {nc} but names has {len(out)} classes — fix nc (or delete it: names is enough)")
    dup = [n for n, k in Counter(out).items() if k > 1]
    if dup:
        err(f"class name(s) {dup} appear more than once in names — two ids for one class split its boxes; merge "
            "them (and renumber the labels)", "warning")
    return out


def _split_keys(raw: dict) -> list[str]:
    keys = [k for k in STANDARD_SPLITS if k in raw]
    keys += sorted(k for k in raw if isinstance(k, str) and k.startswith(("test_", "val_")))
    return keys


def _load_config(root_or_data_yaml: str | os.PathLike, wanted: Sequence[str] = ()
                 ) -> tuple[_Config, list[LabelProblem]]:
    """Read data.yaml: the root, names and each split's image sources (the standard split keys and those
    ``wanted``), and the problems found."""
    yaml = _yaml()
    p = Path(root_or_data_yaml).expanduser()
    problems: list[LabelProblem] = []
    yaml_path, why = _find_yaml(p)
    if yaml_path is None:
        problems.append(LabelProblem("bad_yaml", "error", p, why))
        return _Config(None, p if p.is_dir() else p.parent, [], {}, {}), problems
    yaml_path = yaml_path.resolve()
    ydir = yaml_path.parent
    try:
        raw = yaml.safe_load(yaml_path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError) as err:
        problems.append(LabelProblem("bad_yaml", "error", yaml_path, f"{yaml_path.name}: cannot be read ({err})"))
        return _Config(yaml_path, ydir, [], {}, {}), problems
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        problems.append(LabelProblem("bad_yaml", "error", yaml_path,
                                     f"{yaml_path.name}{f':{line}' if line else ''}: not valid YAML "
                                     f"({getattr(err, 'problem', None) or err}) — check the indentation and colons",
                                     line))
        return _Config(yaml_path, ydir, [], {}, {}), problems
    if not isinstance(raw, dict):
        problems.append(LabelProblem("bad_yaml", "error", yaml_path,
                                     f"{yaml_path.name}: expected keys (train, val, names), got "
                                     f"{type(raw).__name__} — see the ultralytics dataset format"))
        return _Config(yaml_path, ydir, [], {}, raw if isinstance(raw, dict) else {}), problems

    names = _names_from(raw, yaml_path, problems)

    # the root: ultralytics reads a relative `path` from the current folder; a missing `path` means ydir
    root = ydir
    given = raw.get("path")
    if given not in (None, ""):
        gp = Path(str(given)).expanduser()
        if gp.is_absolute():
            root = gp
        else:
            from_cwd, from_yaml = (Path.cwd() / gp).resolve(), (ydir / gp).resolve()
            train = raw.get("train")
            probe = train if isinstance(train, str) else ""

            def has(r: Path) -> bool:
                return r.is_dir() and (r / probe).exists()

            if from_cwd == from_yaml or has(from_cwd):
                root = from_cwd
            else:
                root = from_yaml
                problems.append(LabelProblem(
                    "bad_yaml", "warning", yaml_path,
                    f"{yaml_path.name}: path: {given} is relative; ultralytics reads it from the current folder "
                    f"({from_cwd}, {'no dataset there' if from_cwd.exists() else 'does not exist'}), this check "
                    f"used {from_yaml} (next to data.yaml) — delete the 'path' line (then the folder of "
                    "data.yaml is the root) or make it absolute"))
        if not root.is_dir():
            problems.append(LabelProblem("missing_folder", "error", root,
                                         f"{yaml_path.name}: path: {given} -> {root} does not exist — fix 'path' "
                                         "(or delete it: then the folder of data.yaml is the root)"))

    sources: dict[str, list[Path]] = {}
    for key in ("train", "val"):
        if raw.get(key) in (None, "", []):
            problems.append(LabelProblem(
                "bad_yaml", "error", yaml_path,
                f"{yaml_path.name}: {'no' if key not in raw else 'empty'} {key!r} key — add {key}: images/{key} "
                f"(the folder of the {key} images, relative to the root {root})", None, key))
    keys = _split_keys(raw)
    keys += [k for k in wanted if k in raw and k not in keys and k not in ("path", "names", "nc")]
    for key in keys:
        value = raw[key]
        if value in (None, "", []):
            continue  # `test:` left empty: no such split (the two required ones are reported above)
        entries = value if isinstance(value, list) else [value]
        paths = []
        for entry in entries:
            if not isinstance(entry, (str, os.PathLike)):
                problems.append(LabelProblem("bad_yaml", "error", yaml_path,
                                             f"{yaml_path.name}: {key}: {entry!r} is not a folder path", None, key))
                continue
            ep = Path(entry).expanduser()
            full = ep if ep.is_absolute() else root / ep
            if not full.exists():
                problems.append(LabelProblem(
                    "missing_folder", "error", full,
                    f"{yaml_path.name}: {key}: {entry} -> {full} does not exist — create it (images/{key}/ with the "
                    f"images, labels/{key}/ with one .txt per image) or fix the path (relative to the root {root})",
                    None, key))
                continue
            paths.append(full)
        sources[key] = paths
    resolved = defaultdict(list)
    for key, paths in sources.items():
        for q in paths:
            resolved[q.resolve()].append(key)
    for q, keys in resolved.items():
        if len(keys) > 1:
            problems.append(LabelProblem(
                "bad_yaml", "warning", yaml_path,
                f"{yaml_path.name}: {' and '.join(keys)} use the same images ({q}) — "
                + ("a model evaluated on its own training images looks better than it is; " if "train" in keys else
                   "the two splits are one measurement, not two; ") + "give each split its own folder"))
    return _Config(yaml_path, root, names, sources, raw), problems


# ----------------------------------------------------------------------------------------------------
# a split


@dataclass
class _Record:
    split: str
    image: Path
    label: Path | None
    size: tuple[int, int] | None      # (width, height) as shown, None if unreadable
    labels: YoloLabels | None         # None when there is no label file


def _listed_images(list_file: Path, split: str, root: Path) -> tuple[list[Path], list[LabelProblem]]:
    """The images named in a split's .txt list file (relative lines: from the list file's folder)."""
    problems, images = [], []
    try:
        text = list_file.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        return [], [LabelProblem("missing_folder", "error", list_file,
                                 f"{_rel(list_file, root)}: the {split} list file cannot be read ({err})", None, split)]
    for lineno, raw in enumerate(_LINE_SPLIT.split(text), 1):
        entry = raw.strip()
        if not entry:
            continue
        p = Path(entry).expanduser()
        candidates = [p] if p.is_absolute() else [list_file.parent / p, Path.cwd() / p, root / p]
        found = next((c for c in candidates if c.is_file()), None)
        if found is None:
            problems.append(LabelProblem("missing_image", "error", list_file,
                                         f"{_rel(list_file, root)}:{lineno}: {entry} does not exist (looked next to "
                                         "the list file, in the current folder and in the root) — fix the line or "
                                         "delete it", lineno, split))
        else:
            images.append(found.resolve() if not found.is_absolute() else found)
    return images, problems


def _scan_folder(folder: Path, root: Path, split: str, problems: list[LabelProblem], want: str) -> list[Path]:
    """Files of one kind (``"image"`` or ``"label"``) under ``folder``; every other file is reported."""
    found, junk, stray = [], [], []
    for dirpath, dirs, files in os.walk(folder):
        keep = []
        for d in sorted(dirs):
            (junk.append(Path(dirpath) / d) if _is_junk(d) else keep.append(d))
        dirs[:] = keep
        for f in sorted(files):
            p = Path(dirpath) / f
            if _is_junk(f):
                junk.append(p)
            elif (want == "image" and _is_image(p)) or (want == "label" and p.suffix.lower() == ".txt"):
                found.append(p)
            else:
                stray.append(p)
    for p in junk:
        problems.append(LabelProblem("stray_file", "info", p, f"{_rel(p, root)}: system/hidden file, ignored "
                                                              "(harmless; delete it to silence this)", None, split))
    for p in stray:
        if want == "image":
            what = ("a label file among the images — move it to the labels folder" if p.suffix.lower() == ".txt"
                    else f"not an image ({'/'.join(e[1:] for e in IMAGE_EXTENSIONS)} are), YOLO ignores it — "
                         "convert it to JPEG/PNG or move it out")
        else:
            what = ("an image among the labels — move it to the images folder" if _is_image(p) else
                    "not a .txt label file, YOLO ignores it — move it out of the labels folder")
        problems.append(LabelProblem("stray_file", "warning", p, f"{_rel(p, root)}: {what}", None, split))
    return sorted(found)


def _check_split(cfg: _Config, split: str, decode: bool, progress: bool
                 ) -> tuple[list[_Record], list[LabelProblem], dict[str, int]]:
    from tqdm.auto import tqdm

    root, names = cfg.root, cfg.names
    problems: list[LabelProblem] = []
    images: list[Path] = []
    label_dirs: dict[Path, tuple[Path, bool]] = {}     # label folder -> (image folder, recursive)
    for src in cfg.sources.get(split, []):
        if src.is_dir():
            images += _scan_folder(src, root, split, problems, "image")
            lp = _label_path(src / "_")
            if lp is None:
                problems.append(LabelProblem(
                    "bad_layout", "error", src,
                    f"{_rel(src, root)}/: no folder named 'images' in this path, so YOLO cannot find the labels (it "
                    "replaces /images/ by /labels/ in each image path) — move the images to images/"
                    f"{split}/ and the labels to labels/{split}/", None, split))
            else:
                label_dirs[lp.parent] = (src, True)
        elif src.suffix.lower() == ".txt":
            listed, probs = _listed_images(src, split, root)
            problems += probs
            images += listed
            for img in listed:
                lp = _label_path(img)
                if lp is not None:
                    label_dirs.setdefault(lp.parent, (img.parent, False))
        else:
            problems.append(LabelProblem("bad_yaml", "error", src,
                                         f"{split}: {_rel(src, root)} is neither a folder nor a .txt list of images "
                                         "— point it at the folder of the images", None, split))
    counts = {"images": len(images), "unreadable": 0, "labelled": 0, "background": 0, "missing_label": 0, "boxes": 0}
    if not images and cfg.sources.get(split):
        problems.append(LabelProblem("empty_split", "error" if split == "train" else "warning",
                                     cfg.sources[split][0],
                                     f"{split}: no images in {', '.join(_rel(s, root) for s in cfg.sources[split])} "
                                     f"— add images (and labels)", None, split))
    for ld, (imgdir, _rec) in label_dirs.items():
        if not ld.is_dir() and images:
            problems.append(LabelProblem("missing_folder", "error", ld,
                                         f"{_rel(ld, root)}/: the labels folder of {_rel(imgdir, root)}/ does not "
                                         f"exist, so every {split} image counts as background — put the .txt "
                                         "labels there (same names as the images)", None, split))

    by_label: dict[Path, list[Path]] = defaultdict(list)
    for img in images:
        lp = _label_path(img)
        if lp is None:
            if not any(p.kind == "bad_layout" for p in problems):
                problems.append(LabelProblem(
                    "bad_layout", "error", img, f"{_rel(img, root)}: no folder named 'images' in its path, so YOLO "
                    "cannot find its label — keep images under images/<split>/", None, split))
            continue
        by_label[lp].append(img)
    for lp, imgs in by_label.items():
        if len(imgs) > 1:
            problems.append(LabelProblem(
                "name_clash", "error", tuple(imgs),
                f"{', '.join(_rel(i, root) for i in imgs)}: the same name with different extensions share one label "
                f"file {_rel(lp, root)} — rename one (and give it its own label file)", None, split))

    records: list[_Record] = []
    class_counts = np.zeros(len(names), np.int64)
    for img in tqdm(images, desc=f"checking {split}", unit="img", disable=not progress):
        rel = _rel(img, root)
        size = None
        try:
            size = _open_full(img) if decode else _header_size(img)
        except Exception as err:  # noqa: BLE001 - name the file whatever went wrong
            counts["unreadable"] += 1
            why = str(err) if isinstance(err, ValueError) and str(err) else f"{type(err).__name__}: {err}"
            problems.append(LabelProblem("unreadable_image", "error", img,
                                         f"{rel}: cannot be decoded ({why}) — YOLO skips it and its labels; "
                                         "re-export or copy it again, or delete it and its label file", None, split))
        lp = _label_path(img)
        labels = None
        if lp is not None and lp.is_file():
            labels = read_yolo_labels(lp, names if names else None, root=root, split=split)
            problems += labels.problems
            counts["labelled"] += 1
            if labels.n_lines == 0:
                counts["background"] += 1
                problems.append(LabelProblem("empty_label", "info", lp,
                                             f"{_rel(lp, root)}: empty label file: a background image (no objects), "
                                             f"which is fine — {rel} teaches the model what is not an object",
                                             None, split))
            if size is not None and len(labels):
                w_px, h_px = labels.boxes[:, 2] * size[0], labels.boxes[:, 3] * size[1]
                for k in np.flatnonzero((w_px < 2) | (h_px < 2)):
                    line = int(labels.lines[k])
                    problems.append(LabelProblem(
                        "tiny_box", "warning", lp,
                        f"{_rel(lp, root)}:{line}: the box is {w_px[k]:.1f} x {h_px[k]:.1f} px (w x h) in the "
                        f"{size[0]}x{size[1]} image — a click instead of a drag? redraw or delete it", line, split))
            if size is not None:
                counts["boxes"] += len(labels)
                np.add.at(class_counts, labels.classes[labels.classes < len(names)], 1)
        elif lp is not None:
            counts["missing_label"] += 1
            counts["background"] += 1
            problems.append(LabelProblem("missing_label", "warning", img,
                                         f"{rel}: no label file ({_rel(lp, root)}) — YOLO treats the image as "
                                         "background (no objects); if it shows objects, label them; if it is "
                                         "really empty, create an empty .txt to say so", None, split))
        records.append(_Record(split, img, lp, size, labels))

    # label files without an image
    for ld, (imgdir, recursive) in label_dirs.items():
        if not ld.is_dir():
            continue
        have = {_label_path(p) for p in (_images_in(imgdir, recursive))}
        files = _scan_folder(ld, root, split, problems, "label") if recursive else \
            sorted(p for p in ld.iterdir() if p.is_file() and p.suffix.lower() == ".txt")
        for lf in files:
            if lf in have:
                continue
            if lf.name == "classes.txt":
                problems.append(_classes_txt(lf, names, root, split))
                continue
            problems.append(LabelProblem("orphan_label", "error", lf,
                                         f"{_rel(lf, root)}: label file without an image (no "
                                         f"{_rel(imgdir, root)}/{_rel(lf.with_suffix(''), ld)}.jpg/.png/...) — its "
                                         "boxes are never used: add the image, fix the name, or delete the file",
                                         None, split))
    counts["boxes"] = int(counts["boxes"])
    cc = {n: int(class_counts[i]) for i, n in enumerate(names)}
    return records, problems, {**counts, "_classes": cc}


def _images_in(folder: Path, recursive: bool) -> list[Path]:
    if not folder.is_dir():
        return []
    it = folder.rglob("*") if recursive else folder.iterdir()
    return [p for p in it if p.is_file() and _is_image(p)]


def _classes_txt(path: Path, names: list[str], root: Path, split: str) -> LabelProblem:
    try:
        listed = [ln.strip() for ln in path.read_text(encoding="utf-8-sig").splitlines() if ln.strip()]
    except (OSError, UnicodeDecodeError):
        listed = []
    if listed and names and listed != names:
        return LabelProblem("stray_file", "warning", path,
                            f"{_rel(path, root)}: labelImg's class list {listed[:10]} differs from names in data.yaml "
                            f"{names[:10]} — the ids in the labels follow classes.txt: make names the same list in "
                            "the same order", None, split)
    return LabelProblem("stray_file", "info", path,
                        f"{_rel(path, root)}: labelImg's class list, not a label file (YOLO reads the names from "
                        "data.yaml) — fine; move it out to silence this", None, split)


# ----------------------------------------------------------------------------------------------------
# the validator


def _validate(root_or_data_yaml, splits, decode: bool, progress: bool
              ) -> tuple[LabelReport, list[_Record], _Config]:
    wanted = [] if splits is None else [splits] if isinstance(splits, str) else [str(s) for s in splits]
    cfg, problems = _load_config(root_or_data_yaml, wanted)
    if splits is None:
        chosen = list(cfg.sources)
    else:
        if not wanted:
            raise ValueError("splits=[] names no split; pass None to check every split in data.yaml")
        have = [k for k in cfg.sources]
        for s in wanted:
            if cfg.yaml_path is None or s in cfg.sources:
                continue
            if s not in cfg.raw or cfg.raw[s] in (None, "", []):
                problems.append(LabelProblem("bad_yaml", "error", cfg.yaml_path,
                                             f"{cfg.yaml_path.name}: splits asks for {s!r} but data.yaml has "
                                             f"{'no' if s not in cfg.raw else 'an empty'} {s!r} key (its splits: "
                                             f"{', '.join(have) or 'none'}) — add {s}: images/{s}", None, s))
        chosen = [s for s in wanted if s in cfg.sources]
    counts, class_counts, records = {}, {}, []
    for split in chosen:
        recs, probs, c = _check_split(cfg, split, decode, progress)
        class_counts[split] = c.pop("_classes")
        counts[split] = c
        problems += probs
        records += recs
    order = {s: i for i, s in enumerate(SEVERITIES)}
    problems.sort(key=lambda p: order[p.severity])
    report = LabelReport(root=cfg.root, data_yaml=cfg.yaml_path, names=list(cfg.names), splits=chosen,
                         counts=counts, class_counts=class_counts, problems=problems)
    return report, records, cfg


def validate_yolo_dataset(root_or_data_yaml: str | os.PathLike, splits: str | Sequence[str] | None = None, *,
                          progress: bool = True) -> LabelReport:
    """Check a YOLO dataset file by file and line by line; returns a :class:`LabelReport` (never raises for data).

    Args:
        root_or_data_yaml: the dataset folder (holding ``data.yaml``) or the yaml file itself.
        splits: the splits to check, e.g. ``["train", "val"]`` (keys of data.yaml); ``None``: every
            split data.yaml names (``train``, ``val``, ``test``, ``test_*``/``val_*``; an empty ``test:``
            is no split).
        progress: a progress bar while the images are decoded.

    data.yaml (read with ``yaml.safe_load``): ``train`` and ``val`` are required, each a folder (or a
    list of folders, or a .txt list of images) relative to ``path``; ``names`` is a list or an
    ``{id: name}`` dict with ids 0..n-1. A missing ``path`` means the folder of data.yaml (as in
    ultralytics; a relative ``path`` is read from the current folder by ultralytics, see the warning).

    Severities: errors = training or evaluation would lose or misread boxes (bad yaml, missing folders,
    unreadable images, label files without an image, bad lines); warnings = worth a look (images without a
    label file, which YOLO treats as background; duplicates; boxes past the edge; tiny boxes; stray files);
    info = fine (empty label files: background images; system files).

    >>> report = validate_yolo_dataset("parts")            # doctest: +SKIP
    >>> report.ok, report.counts["train"]["boxes"]         # doctest: +SKIP
    (False, 412)
    >>> report.by_kind("bad_class")[0].message             # doctest: +SKIP
    'labels/train/img_007.txt:3: class id 5 is out of range: valid ids are 0..2 (0=washer, 1=flange, 2=gear) ...'
    """
    return _validate(root_or_data_yaml, splits, decode=True, progress=progress)[0]


# ----------------------------------------------------------------------------------------------------
# COCO


_COCO_KEYS = ("images", "annotations", "categories")

#: coco_to_yolo's reasons to skip an annotation (the keys of ``ConversionResult.skipped``), and what they mean.
_SKIP_REASONS = {
    "crowd_region": "crowd region(s) (iscrowd=1) — YOLO has no 'ignore' regions",
    "not_a_number": "box(es) with a bbox value that is not a finite number",
    "bad_size": "box(es) with zero or negative width or height",
    "out_of_range": "box(es) entirely outside the image",
}
#: label-line errors that yolo_to_coco skips (with a warning) instead of refusing the split
_DEGENERATE_LINE_KINDS = ("bad_size", "not_a_number")
_WARN_SHOWN = 10  # a skip warning names at most this many annotations (result.problems has every one)


def _load_json(coco_json) -> tuple[dict, str]:
    """The COCO dataset dict and a name for messages; a :class:`LabelError` if it is not a COCO dataset."""
    json_path = None
    if isinstance(coco_json, Mapping):
        coco, src_name = dict(coco_json), "COCO dict"
    elif isinstance(coco_json, list):
        coco, src_name = coco_json, "COCO list"
    else:
        json_path = Path(coco_json)
        src_name = json_path.name
        try:
            coco = json.loads(json_path.read_text(encoding="utf-8-sig"))
        except json.JSONDecodeError as err:
            raise LabelError(f"{json_path}:{err.lineno}: not valid JSON ({err.msg})") from None
    where = str(json_path) if json_path is not None else src_name
    expected = ("coco_to_yolo needs a COCO dataset JSON: an object with 'images', 'annotations' and 'categories' "
                "(e.g. instances_train2017.json)")

    def fail(msg: str, kind: str = "bad_source"):
        problem = LabelProblem(kind, "error", json_path or (), f"{where}: {msg}")
        raise LabelError(problem.message, [problem])

    if isinstance(coco, list):
        first = coco[0] if coco else None
        if isinstance(first, Mapping) and {"image_id", "category_id"} <= set(first):
            what = ("this looks like a COCO results (predictions) file: a list of {image_id, category_id, bbox, "
                    "score}, as a detector's evaluation writes it")
        else:
            what = f"its first entry is {str(first)[:80]}" if coco else "an empty list"
        entries = f"{len(coco)} entr{'y' if len(coco) == 1 else 'ies'}"
        fail(f"the top level is a list ({entries}), not an object — {what}. {expected}; pass the ground-truth "
             "annotation file instead")
    if not isinstance(coco, Mapping):
        fail(f"the top level is a {type(coco).__name__} ({str(coco)[:60]!r}), not an object — {expected}")
    missing = [k for k in _COCO_KEYS if k not in coco]
    if missing:
        has = ", ".join(repr(k) for k in list(coco)[:10]) or "no keys at all"
        fail(f"missing key(s) {', '.join(repr(k) for k in missing)} (it has {has}) — {expected}"
             + ("; a COCO file with no objects still has 'annotations': []" if missing == ["annotations"] else ""))
    not_lists = [f"{k!r} is a {type(coco[k]).__name__}" for k in _COCO_KEYS if not isinstance(coco[k], list)]
    if not_lists:
        fail(f"{', '.join(not_lists)}, not a list — {expected}, each a list of objects")
    return coco, src_name


def _skip_warning(src_name: str, skipped: list[tuple[str, object, str, str]]) -> None:
    """One ``UserWarning`` per reason, naming the annotations (id and image file_name) it skipped."""
    by_reason: dict[str, list] = defaultdict(list)
    for reason, aid, fname, _detail in skipped:
        by_reason[reason].append((aid, fname))
    for reason, anns in by_reason.items():
        shown = ", ".join(f"id {aid} ({fname})" for aid, fname in anns[:_WARN_SHOWN])
        more = (f" and {len(anns) - _WARN_SHOWN} more (result.problems lists every one)"
                if len(anns) > _WARN_SHOWN else "")
        warnings.warn(f"coco_to_yolo: {src_name}: skipped {len(anns)} {_SKIP_REASONS[reason]}: annotation "
                      f"{shown}{more}; the other annotations are written", UserWarning, stacklevel=3)


def coco_to_yolo(coco_json: str | os.PathLike | Mapping, images_dir: str | os.PathLike, out_dir: str | os.PathLike,
                 split: str = "train", class_names: Sequence[str] | None = None) -> ConversionResult:
    """Convert a COCO detection json into a YOLO dataset: ``out_dir/images/<split>``, ``labels/<split>``, data.yaml.

    Args:
        coco_json: the COCO file (or its dict): ``images`` (id, file_name, width, height), ``annotations``
            (image_id, category_id, bbox ``[x, y, w, h]`` in pixels, iscrowd), ``categories`` (id, name).
        images_dir: the folder ``file_name`` is relative to. The images are copied to
            ``out_dir/images/<split>/`` (unless they are already there).
        out_dir: the YOLO dataset root; an existing data.yaml there gets the ``split`` key added (its
            names must be the same).
        split: the split to write, e.g. ``"train"`` or ``"val"``.
        class_names: the YOLO class order by category name; default: the order of ``categories`` in the
            json (class i = ``categories[i]``, as ``coursekit.types.Detections.from_coco`` reads it).

    Class indices: YOLO class ``i`` is the ``i``-th category of ``categories`` *as listed in the json*
    (not sorted by id, and not ``category_id - 1``), or, with ``class_names``, the category named
    ``class_names[i]``. COCO ids need not be 0..K-1 nor contiguous: ``result.category_ids`` and
    data.yaml's ``coco_category_ids: {yolo_id: coco_id}`` record the map, and :func:`yolo_to_coco` uses
    it to map back (class ``i`` -> ``coco_category_ids[i]``, names from data.yaml's ``names``), so a
    round trip keeps every category id and name. A category without annotations still gets its index.
    (COCO's own files list categories by ascending id, so this is ultralytics' ``cls91to80`` map there;
    ultralytics' ``convert_coco(cls91to80=False)`` uses ``category_id - 1``, which differs when ids have
    gaps.)

    Skipped, with a ``UserWarning`` naming each annotation's id and image ``file_name`` (one warning
    per reason), a ``"warning"`` :class:`LabelProblem` each in ``result.problems`` and a count by reason
    in ``result.skipped``; everything else is written. These are the reasons (the keys of ``skipped``):
    ``crowd_region`` (``iscrowd: 1``: YOLO has no "ignore" regions), ``not_a_number`` (a bbox value that
    is not finite), ``bad_size`` (zero or negative width or height) and ``out_of_range`` (a box entirely
    outside the image). Ultralytics' converter skips crowd regions and boxes of width or height <= 0 too.
    A box partly outside the image is clipped to it, with a warning problem.

    Input that cannot be converted as it stands raises a :class:`LabelError` naming the file and field
    and what to do, and nothing is written; everything is checked first, so the error lists all of it:
    not a COCO dataset (a list, e.g. a results file, or an object without ``images`` / ``annotations`` /
    ``categories``), an entry without its required fields, an annotation whose bbox is not 4 numbers,
    an unknown image or category id, a category not in ``class_names``, a missing image file or one of
    another size than the json says, two images sharing a label file, and a data.yaml in ``out_dir``
    with other classes.

    >>> result = coco_to_yolo("annotations/instances_train.json", "photos", "parts", split="train")  # doctest: +SKIP
    >>> result.category_ids                                                                           # doctest: +SKIP
    {0: 1, 1: 3, 2: 7}
    """
    yaml = _yaml()
    coco, src_name = _load_json(coco_json)
    images_dir, out_dir = Path(images_dir), Path(out_dir)
    errors: list[LabelProblem] = []
    notes: list[LabelProblem] = []
    skipped: list[tuple[str, object, str, str]] = []  # (reason, annotation id, file_name, what is wrong)
    json_path = None if isinstance(coco_json, (Mapping, list)) else Path(coco_json)

    def err(msg: str, path=None, kind: str = "bad_source") -> None:
        errors.append(LabelProblem(kind, "error", path if path is not None else (json_path or ()),
                                   f"{src_name}: {msg}", None, split))

    cats = coco["categories"]
    cat_names = {}
    for c in cats:
        if not isinstance(c, Mapping) or "id" not in c or "name" not in c:
            err(f"category {c!r} needs an 'id' and a 'name'")
            continue
        if c["id"] in cat_names:
            err(f"category id {c['id']} appears twice in categories")
        cat_names[c["id"]] = str(c["name"])
    if class_names is None:
        order = list(cat_names)
    else:
        by_name = {n: i for i, n in cat_names.items()}
        order = []
        for n in class_names:
            if n not in by_name:
                close = get_close_matches(n, by_name, n=1)
                err(f"class_names has {n!r}, which is not a category name"
                    + (f" (did you mean {close[0]!r}?)" if close else f"; the categories are {list(by_name)}"))
            else:
                order.append(by_name[n])
    coco_to_class = {cid: i for i, cid in enumerate(order)}
    names = [cat_names[c] for c in order]

    imgs: dict = {}
    seen_files: dict[str, object] = {}
    for im in coco["images"]:
        try:
            iid, fname, w, h = im["id"], str(im["file_name"]), float(im["width"]), float(im["height"])
        except (KeyError, TypeError, ValueError):
            err(f"image entry {str(im)[:120]} needs id, file_name, width and height")
            continue
        if fname in seen_files:
            err(f"file_name {fname!r} is used by image ids {seen_files[fname]} and {iid}")
        seen_files[fname] = iid
        path = images_dir / fname
        if not path.is_file():
            err(f"image {iid}: {path} does not exist — check images_dir (file_name is relative to it)")
            continue
        try:
            real = _header_size(path)
        except Exception as e:  # noqa: BLE001
            err(f"image {iid}: {path} cannot be opened ({e})", path, "unreadable_image")
            continue
        if real != (int(w), int(h)):
            err(f"image {iid} ({fname}): the json says {int(w)}x{int(h)} (w x h) but the file is "
                f"{real[0]}x{real[1]}" + (" — rotated by its EXIF orientation?" if real == (int(h), int(w)) else "")
                + " — fix width/height in the json (the boxes must be for the image as shown)", path, "size_mismatch")
            continue
        imgs[iid] = (path, fname, real)

    rows: dict = defaultdict(list)
    for k, ann in enumerate(coco["annotations"]):
        aid = ann.get("id", f"#{k}") if isinstance(ann, Mapping) else f"#{k}"
        if not isinstance(ann, Mapping) or "image_id" not in ann or "category_id" not in ann or "bbox" not in ann:
            err(f"annotation {aid} needs image_id, category_id and bbox")
            continue
        if ann["image_id"] not in imgs:
            if not any(im.get("id") == ann["image_id"] for im in coco["images"] if isinstance(im, Mapping)):
                err(f"annotation {aid}: image_id {ann['image_id']} is not in images")
            continue  # (a missing or mis-sized image is already an error)
        if ann["category_id"] not in cat_names:
            err(f"annotation {aid}: category_id {ann['category_id']} is not in categories {list(cat_names)}")
            continue
        if ann["category_id"] not in coco_to_class:
            err(f"annotation {aid}: category {cat_names[ann['category_id']]!r} is not in class_names "
                f"{list(class_names)} — add it to class_names (or drop those annotations from the json yourself)")
            continue
        path, fname, (W, H) = imgs[ann["image_id"]]
        if ann.get("iscrowd", 0):
            skipped.append(("crowd_region", aid, fname, "a crowd region (iscrowd=1): YOLO has no 'ignore' regions"))
            continue
        try:
            bbox = ann["bbox"]
            if isinstance(bbox, (str, bytes)) or len(bbox) != 4:
                raise ValueError
            x, y, bw, bh = (float(v) for v in bbox)
        except (TypeError, ValueError):
            err(f"annotation {aid} ({fname}): bbox {ann['bbox']!r} is not 4 numbers [x, y, width, height] — fix "
                "or delete that annotation")
            continue
        if not all(map(math.isfinite, (x, y, bw, bh))):
            skipped.append(("not_a_number", aid, fname, f"bbox {ann['bbox']} has a value that is not a finite number"))
            continue
        if bw <= 0 or bh <= 0:
            what = " and ".join(f"{n} {v:g}" for n, v in (("width", bw), ("height", bh)) if v <= 0)
            skipped.append(("bad_size", aid, fname, f"bbox {ann['bbox']} has {what}"))
            continue
        x1, y1, x2, y2 = max(x, 0.0), max(y, 0.0), min(x + bw, W), min(y + bh, H)
        if x2 <= x1 or y2 <= y1:
            skipped.append(("out_of_range", aid, fname, f"bbox {ann['bbox']} lies entirely outside the "
                                                        f"{W:g}x{H:g} image"))
            continue
        if (x1, y1, x2, y2) != (x, y, x + bw, y + bh):
            notes.append(LabelProblem("box_outside_image", "warning", path,
                                      f"{src_name}: annotation {aid} ({fname}): bbox {ann['bbox']} sticks out of the "
                                      f"{W}x{H} image; clipped", None, split))
        rows[ann["image_id"]].append((coco_to_class[ann["category_id"]], x1, y1, x2, y2))

    out_images, out_labels = out_dir / "images" / split, out_dir / "labels" / split
    label_files = {}
    for iid, (path, fname, _size) in imgs.items():
        lf = out_labels / Path(fname).with_suffix(".txt")
        if lf in label_files:
            err(f"images {label_files[lf][1]} and {fname} would share the label file {lf.name} (same name, other "
                "extension) — rename one", None, "name_clash")
        label_files[lf] = (iid, fname)

    data_yaml = out_dir / "data.yaml"
    existing = {}
    if data_yaml.is_file():
        existing = yaml.safe_load(data_yaml.read_text(encoding="utf-8")) or {}
        old_names = existing.get("names")
        if isinstance(old_names, Mapping):
            old_names = [old_names[k] for k in sorted(old_names)]
        if old_names is not None and list(old_names) != names:
            err(f"{data_yaml} already has names {list(old_names)}, not {names} — convert every split with the same "
                "classes (pass class_names=...)", data_yaml, "bad_yaml")
        old_ids = existing.get("coco_category_ids")
        if old_ids is not None and {int(k): v for k, v in old_ids.items()} != dict(enumerate(order)):
            err(f"{data_yaml} maps classes to COCO ids {old_ids}, this json to {dict(enumerate(order))} — use the "
                "same categories for every split", data_yaml, "bad_yaml")
    if errors:
        raise LabelError(f"{len(errors)} error(s) in {src_name}; nothing was written:\n"
                         + "\n".join(f"  - {p.message}" for p in errors), errors)

    written, n_boxes = [], 0
    path_of = {fname: path for path, fname, _size in imgs.values()}
    for reason, aid, fname, detail in skipped:
        notes.append(LabelProblem(reason, "warning", path_of[fname],
                                  f"{src_name}: annotation {aid} ({fname}): {detail} — skipped", None, split))
    if skipped:
        _skip_warning(src_name, skipped)
    for lf, (iid, fname) in label_files.items():
        path = imgs[iid][0]
        W, H = imgs[iid][2]
        dst = out_images / fname
        if dst.resolve() != path.resolve():
            atomic_copy(path, dst)
            written.append(dst)
        boxes = rows.get(iid, [])
        if boxes:
            arr = np.asarray([b[1:] for b in boxes], np.float64)
            yolo = xyxy_to_yolo(arr, W, H)
            text = "".join(_yolo_line(b[0], y) + "\n" for b, y in zip(boxes, yolo))
        else:
            text = ""
            notes.append(LabelProblem("empty_label", "info", lf, f"{fname}: no boxes: written as an empty label file "
                                                                 "(a background image)", None, split))
        atomic_write_text(lf, text)
        written.append(lf)
        n_boxes += len(boxes)

    config = dict(existing)
    config[split] = f"images/{split}"
    config["names"] = dict(enumerate(names))
    config["coco_category_ids"] = dict(enumerate(order))
    if "val" not in config:
        notes.append(LabelProblem("bad_yaml", "info", data_yaml, f"{data_yaml.name} has no 'val' split yet — convert "
                                                                 "the validation json with split='val'"))
    atomic_write_text(data_yaml, yaml.safe_dump(config, sort_keys=False, allow_unicode=True))
    written.append(data_yaml)
    counts = Counter(reason for reason, *_ in skipped)
    return ConversionResult(out_dir, data_yaml, names, dict(enumerate(order)), len(label_files), n_boxes, written,
                            notes, {r: counts[r] for r in _SKIP_REASONS if counts[r]})


def yolo_to_coco(root_or_yaml: str | os.PathLike, split: str = "val",
                 category_ids: Mapping[int, int] | None = None, *, progress: bool = False) -> dict:
    """One split of a YOLO dataset as a COCO detection dict (ready for ``json.dump`` or pycocotools).

    ``images``: id (1, 2, ... in file order), file_name (relative to the split's image folder), width,
    height (as shown, EXIF orientation applied); ``annotations``: id, image_id, category_id, bbox
    ``[x, y, w, h]`` in pixels, area (w * h), iscrowd 0; ``categories``: id and name, listed in YOLO class
    order (``categories[i]`` is class i). Category ids: ``category_ids`` ({yolo id: coco id}), else
    data.yaml's ``coco_category_ids`` (written by :func:`coco_to_yolo`), else ``i + 1`` (COCO's ids start
    at 1). The split is validated first (:func:`validate_yolo_dataset`). A label line whose box is
    degenerate (``bad_size``: zero or negative width or height; ``not_a_number``: a coordinate that is
    not a finite number) is skipped with a ``UserWarning`` naming its label file and line (and the
    validator's error stays in its report); any other error raises a :class:`LabelError` that lists
    them all (nothing is dropped silently).

    >>> coco = yolo_to_coco("parts", "val")                                   # doctest: +SKIP
    >>> coco["categories"]                                                     # doctest: +SKIP
    [{'id': 1, 'name': 'washer'}, {'id': 2, 'name': 'gear'}]
    """
    report, records, cfg = _validate(root_or_yaml, [split], decode=True, progress=progress)
    errors = [p for p in report.errors if p.split in (split, None)]
    degenerate = {id(p) for p in errors if p.kind in _DEGENERATE_LINE_KINDS and p.line is not None}
    bad_lines = {(p.path, p.line) for p in errors if id(p) not in degenerate and p.line is not None}
    # a degenerate box is skipped when nothing else is wrong on its line
    skipped = [p for p in errors if id(p) in degenerate and (p.path, p.line) not in bad_lines]
    skipped_ids = {id(p) for p in skipped}
    errors = [p for p in errors if id(p) not in skipped_ids]
    if errors:
        shown = "\n".join(f"  - {p.message}" for p in errors[:_MAX_SHOWN])
        raise LabelError(f"{len(errors)} error(s) in split {split!r} of {report.root}; fix them first "
                         f"(validate_yolo_dataset lists them all):\n{shown}", errors, report)
    if category_ids is None:
        stored = cfg.raw.get("coco_category_ids")
        category_ids = {int(k): int(v) for k, v in stored.items()} if stored else \
            {i: i + 1 for i in range(len(report.names))}
    category_ids = {int(k): int(v) for k, v in category_ids.items()}
    if skipped:
        shown = "; ".join(p.message for p in skipped[:_WARN_SHOWN])
        more = f"; and {len(skipped) - _WARN_SHOWN} more" if len(skipped) > _WARN_SHOWN else ""
        warnings.warn(f"yolo_to_coco: skipped {len(skipped)} label line(s) with a degenerate box in split {split!r} "
                      f"of {report.root}: {shown}{more}", UserWarning, stacklevel=2)
    missing = [i for i in range(len(report.names)) if i not in category_ids]
    if missing or len(set(category_ids.values())) != len(category_ids):
        raise ValueError(f"category_ids must give each class 0..{len(report.names) - 1} its own COCO id; got "
                         f"{category_ids}" + (f" (missing {missing})" if missing else ""))
    image_root = {src: src if src.is_dir() else src.parent for src in cfg.sources.get(split, [])}
    images, annotations = [], []
    ann_id = 0
    for img_id, rec in enumerate(sorted(records, key=lambda r: str(r.image)), 1):
        base = next((d for d in image_root.values() if _is_under(rec.image, d)), rec.image.parent)
        W, H = rec.size
        images.append({"id": img_id, "file_name": _rel(rec.image, base), "width": int(W), "height": int(H)})
        if rec.labels is None or not len(rec.labels):
            continue
        xyxy = yolo_to_xyxy(rec.labels.boxes, W, H)
        for c, (x1, y1, x2, y2) in zip(rec.labels.classes, xyxy):
            ann_id += 1
            w, h = float(x2 - x1), float(y2 - y1)
            annotations.append({"id": ann_id, "image_id": img_id, "category_id": category_ids[int(c)],
                                "bbox": [float(x1), float(y1), w, h], "area": w * h, "iscrowd": 0})
    categories = [{"id": category_ids[i], "name": n} for i, n in enumerate(report.names)]
    info = {"description": f"{report.root.name} {split} (converted from YOLO labels by coursekit)"}
    return {"info": info, "licenses": [], "images": images, "annotations": annotations, "categories": categories}


def _is_under(path: Path, folder: Path) -> bool:
    try:
        path.relative_to(folder)
        return True
    except ValueError:
        return False


# ----------------------------------------------------------------------------------------------------
# Pascal VOC


def _xml_number(node, tag: str):
    el = node.find(tag)
    if el is None or el.text is None or not el.text.strip():
        return None
    try:
        return float(el.text.strip())
    except ValueError:
        return None


def voc_to_yolo(xml_dir: str | os.PathLike, out_dir: str | os.PathLike, class_names: Sequence[str], *,
                one_based: bool = True) -> ConversionResult:
    """Convert Pascal VOC XML files (one per image) into YOLO label files, one ``<xml name>.txt`` each.

    Args:
        xml_dir: the folder of ``.xml`` files (VOC's ``Annotations/``).
        out_dir: the labels folder to write, e.g. ``parts/labels/train`` (the images go to
            ``parts/images/train`` under the same names: ``000123.xml`` labels ``000123.jpg``).
        class_names: the YOLO class order; each ``<object><name>`` must be one of them.
        one_based: Pascal VOC numbers pixels from 1 and its ``bndbox`` includes both end pixels:
            ``xmin=1, xmax=W`` is the whole width. So pixels ``xmin..xmax`` become the continuous span
            ``x1 = xmin - 1``, ``x2 = xmax`` (width ``xmax - xmin + 1``), and the same for y. Some tools
            write 0-based corners instead: pass ``one_based=False`` to take ``xmin..xmax`` as the
            continuous span as it is. A ``0`` in a one-based file is an error naming the file.

    Read from each file: ``size/width``, ``size/height``, and per ``object``: ``name`` and
    ``bndbox/xmin, ymin, xmax, ymax``. Unknown class names, a missing size, a box with xmax < xmin
    are errors naming the file (and nothing is written); boxes past the edge are clipped with a
    warning; ``difficult`` objects are kept (an info counts them).

    >>> result = voc_to_yolo("VOC/Annotations", "parts/labels/train", ["washer", "gear"])  # doctest: +SKIP
    """
    xml_dir, out_dir = Path(xml_dir), Path(out_dir)
    class_names = [str(n) for n in class_names]
    if not class_names:
        raise ValueError("class_names is empty: pass the class names in YOLO id order")
    files = sorted(p for p in xml_dir.iterdir() if p.is_file() and p.suffix.lower() == ".xml") if xml_dir.is_dir() \
        else None
    if files is None:
        raise FileNotFoundError(f"{xml_dir} is not a folder of VOC .xml files")
    errors, notes, outputs = [], [], []
    others = [p for p in xml_dir.iterdir() if p.is_file() and p.suffix.lower() != ".xml" and not _is_junk(p.name)]
    for p in others:
        notes.append(LabelProblem("stray_file", "warning", p, f"{p.name}: not an .xml file, not converted"))
    if not files:
        raise LabelError(f"{xml_dir}: no .xml files — pass VOC's Annotations folder")

    skipped: dict[str, int] = {}

    def skip(path: Path, msg: str, kind: str) -> None:
        skipped[kind] = skipped.get(kind, 0) + 1
        notes.append(LabelProblem(kind, "warning", path, f"{path.name}: {msg}"))
        warnings.warn(f"voc_to_yolo: {path}: {msg}", stacklevel=3)

    def err(path: Path, msg: str, kind: str = "bad_source") -> None:
        errors.append(LabelProblem(kind, "error", path, f"{path.name}: {msg}"))

    n_boxes, n_difficult = 0, 0
    for xf in files:
        try:
            tree = ET.parse(xf)
        except ET.ParseError as e:
            err(xf, f"not valid XML ({e})", "unreadable_label")
            continue
        node = tree.getroot()
        size = node.find("size")
        W = _xml_number(size, "width") if size is not None else None
        H = _xml_number(size, "height") if size is not None else None
        if not W or not H or W <= 0 or H <= 0:
            err(xf, "no <size><width>/<height> (or 0) — VOC needs the image size to turn pixels into fractions; "
                    "fill it in from the image")
            continue
        fname = (node.findtext("filename") or "").strip()
        if fname and Path(fname).stem != xf.stem:
            notes.append(LabelProblem("name_clash", "warning", xf,
                                      f"{xf.name}: <filename> is {fname!r} but the labels are written to "
                                      f"{xf.stem}.txt — the image must be named {xf.stem}.<ext> for YOLO"))
        lines, ok = [], True
        for k, obj in enumerate(node.findall("object"), 1):
            name = (obj.findtext("name") or "").strip()
            if name not in class_names:
                close = get_close_matches(name, class_names, n=1)
                err(xf, f"object {k}: unknown class name {name!r} — class_names are {class_names}"
                        + (f" (did you mean {close[0]!r}?)" if close else "") + "; add it or fix the name", "bad_class")
                ok = False
                continue
            box = obj.find("bndbox")
            vals = [_xml_number(box, t) if box is not None else None for t in ("xmin", "ymin", "xmax", "ymax")]
            if any(v is None or not math.isfinite(v) for v in vals):
                err(xf, f"object {k} ({name}): <bndbox> needs numeric xmin, ymin, xmax, ymax", "not_a_number")
                ok = False
                continue
            xmin, ymin, xmax, ymax = vals
            if one_based and (xmin < 1 or ymin < 1):
                err(xf, f"object {k} ({name}): xmin={xmin:g}, ymin={ymin:g} but one-based VOC starts at 1 — this "
                        "file is 0-based: pass one_based=False", "out_of_range")
                ok = False
                continue
            x1, y1, x2, y2 = (xmin - 1, ymin - 1, xmax, ymax) if one_based else (xmin, ymin, xmax, ymax)
            if x2 <= x1 or y2 <= y1:  # degenerate: skipped and said, as ultralytics' converters skip it
                skip(xf, f"object {k} ({name}): xmin..xmax = {xmin:g}..{xmax:g}, ymin..ymax = {ymin:g}..{ymax:g} "
                         "is an empty box; skipped (redraw it if the object is real)", "bad_size")
                continue
            c = (max(x1, 0.0), max(y1, 0.0), min(x2, W), min(y2, H))
            if c[2] <= c[0] or c[3] <= c[1]:
                skip(xf, f"object {k} ({name}): the box lies outside the {W:g}x{H:g} image; skipped", "out_of_range")
                continue
            if c != (x1, y1, x2, y2):
                notes.append(LabelProblem("box_outside_image", "warning", xf,
                                          f"{xf.name}: object {k} ({name}) sticks out of the {W:g}x{H:g} image; "
                                          "clipped"))
            if (obj.findtext("difficult") or "0").strip() == "1":
                n_difficult += 1
            lines.append(_yolo_line(class_names.index(name), xyxy_to_yolo([c], W, H)[0]))
        if ok:
            outputs.append((out_dir / f"{xf.stem}.txt", "".join(ln + "\n" for ln in lines)))
            n_boxes += len(lines)
            if not lines:
                notes.append(LabelProblem("empty_label", "info", xf, f"{xf.name}: no objects: written as an empty "
                                                                     "label file (a background image)"))
    if errors:
        raise LabelError(f"{len(errors)} error(s) in {xml_dir}; nothing was written:\n"
                         + "\n".join(f"  - {p.message}" for p in errors), errors)
    if n_difficult:
        notes.append(LabelProblem("difficult_object", "info", xml_dir,
                                  f"{n_difficult} object(s) marked difficult were kept (YOLO has no 'difficult' flag)"))
    for path, text in outputs:
        atomic_write_text(path, text)
    return ConversionResult(out_dir, None, class_names, None, len(outputs), n_boxes, [p for p, _ in outputs], notes,
                            skipped)


# ----------------------------------------------------------------------------------------------------
# box statistics


_STAT_COLUMNS = ["split", "file", "label", "line", "class", "class_name", "image_width", "image_height", "x_center",
                 "y_center", "width", "height", "width_px", "height_px", "area", "area_px", "aspect_ratio"]


def box_stats(root_or_yaml: str | os.PathLike, split: str | Sequence[str] | None = None):
    """One row per box: where it is, its class and size, as a pandas DataFrame.

    Columns: ``split``, ``file`` (the image, relative to the root), ``label`` and ``line`` (the label file
    and the line of the box), ``class`` (id),
    ``class_name``, ``image_width``/``image_height`` (px), ``x_center``/``y_center``/``width``/``height``
    (fractions of the image), ``width_px``/``height_px``, ``area`` (fraction of the image) and ``area_px``,
    ``aspect_ratio`` (width_px / height_px). ``split=None``: every split in data.yaml.

    Only good boxes are in the table (image sizes are read from the headers, nothing is decoded): if
    some lines or images have errors, a warning says how many boxes are missing, and
    :func:`validate_yolo_dataset` names them.

    >>> df = box_stats("parts", "train")                          # doctest: +SKIP
    >>> df.groupby("class_name").size()                           # doctest: +SKIP
    """
    import pandas as pd

    report, records, _cfg = _validate(root_or_yaml, split, decode=False, progress=False)
    if not report.splits:
        raise LabelError(f"no split to read in {report.root}:\n" + "\n".join(f"  - {p.message}" for p in report.errors),
                         report.errors, report)
    rows = []
    lost = 0
    for rec in records:
        if rec.labels is None:
            continue
        if rec.size is None:
            lost += len(rec.labels)
            continue
        W, H = rec.size
        for c, (cx, cy, bw, bh), line in zip(rec.labels.classes, rec.labels.boxes, rec.labels.lines):
            rows.append({"split": rec.split, "file": _rel(rec.image, report.root),
                         "label": _rel(rec.labels.path, report.root), "line": int(line),
                         "class": int(c), "class_name": report.names[c] if c < len(report.names) else str(c),
                         "image_width": W, "image_height": H, "x_center": cx, "y_center": cy, "width": bw,
                         "height": bh, "width_px": bw * W, "height_px": bh * H, "area": bw * bh,
                         "area_px": bw * W * bh * H, "aspect_ratio": (bw * W) / (bh * H)})
    bad_lines = sum(1 for p in report.errors if p.line is not None and p.kind != "bad_yaml")
    if lost or bad_lines:
        warnings.warn(f"box_stats: {bad_lines} label line(s) with errors and {lost} box(es) of unreadable images are "
                      "not in the table — validate_yolo_dataset() names them", stacklevel=2)
    df = pd.DataFrame(rows, columns=_STAT_COLUMNS)
    df.attrs["names"] = list(report.names)
    return df


def plot_box_stats(df, max_points: int = 5000):
    """Three panels from :func:`box_stats`: boxes per class (per split), width vs height in pixels, aspect ratios.

    Returns a :class:`matplotlib.figure.Figure` (built without pyplot, like :mod:`coursekit.viz`).

    >>> fig = plot_box_stats(box_stats("parts"))                  # doctest: +SKIP
    >>> len(fig.axes)                                             # doctest: +SKIP
    3
    """
    from matplotlib.figure import Figure
    from matplotlib.ticker import NullFormatter

    missing = [c for c in ("split", "class_name", "width_px", "height_px", "aspect_ratio") if c not in df.columns]
    if missing:
        raise ValueError(f"plot_box_stats needs box_stats()' table; columns {missing} are missing")
    fig = Figure(figsize=(14, 4), layout="constrained")
    ax_count, ax_wh, ax_ar = fig.subplots(1, 3)
    names = list(df.attrs.get("names") or sorted(df["class_name"].unique()))
    names += [n for n in sorted(df["class_name"].unique()) if n not in names]
    if df.empty:
        for ax in (ax_count, ax_wh, ax_ar):
            ax.text(0.5, 0.5, "no boxes", ha="center", va="center", transform=ax.transAxes)
    else:
        splits = list(dict.fromkeys(df["split"]))
        x = np.arange(len(names))
        width = 0.8 / len(splits)
        for k, s in enumerate(splits):
            counts = df[df["split"] == s]["class_name"].value_counts()
            ax_count.bar(x + (k - (len(splits) - 1) / 2) * width, [counts.get(n, 0) for n in names], width, label=s)
        ax_count.set_xticks(x, names, rotation=45 if len(names) > 4 else 0, ha="right" if len(names) > 4 else "center")
        if len(splits) > 1:
            ax_count.legend(title="split", fontsize="small", ncols=min(len(splits), 4), loc="upper center")
            ax_count.set_ylim(top=ax_count.get_ylim()[1] * 1.3)  # room for the legend
        sample = df.sample(max_points, random_state=0) if len(df) > max_points else df
        for n in names:
            sub = sample[sample["class_name"] == n]
            if len(sub):
                ax_wh.scatter(sub["width_px"], sub["height_px"], s=8, alpha=0.6, label=n)
        ax_wh.legend(title="class", fontsize="small", markerscale=2)
        ar = df["aspect_ratio"].to_numpy()
        lo, hi = max(ar.min(), 1e-3), max(ar.max(), 1e-3)
        bins = np.geomspace(lo / 1.05, hi * 1.05, 30)
        ax_ar.hist(ar, bins=bins, color="tab:blue")
        ax_ar.set_xscale("log")
        ax_ar.axvline(1.0, color="grey", lw=1, ls="--")
        ticks = [t for t in (1 / 8, 1 / 4, 1 / 2, 2 / 3, 1, 1.5, 2, 4, 8) if bins[0] <= t <= bins[-1]] or [1.0]
        ax_ar.set_xticks(ticks, [f"{t:.2g}" for t in ticks])
        ax_ar.xaxis.set_minor_formatter(NullFormatter())
    ax_count.set(title="boxes per class", ylabel="boxes")
    ax_wh.set(title="box size", xlabel="width (px)", ylabel="height (px)")
    ax_ar.set(title="aspect ratio (width / height)", xlabel="width / height (log scale)", ylabel="boxes")
    return fig
