"""The one report type of the dataset validators (:func:`~coursekit.data.validate_image_folder`,
:func:`~coursekit.data.validate_yolo_dataset`) and the image checks they share.

>>> p = Problem("bad_size", "error", Path("/d/labels/train/a.txt"), "a.txt:3: width is 0", line=3)
>>> p.path.name, p.line, str(p)
('a.txt', 3, 'error: a.txt:3: width is 0')
"""
from __future__ import annotations

import io
import os
import warnings
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

__all__ = ["IMAGE_EXTENSIONS", "SEVERITIES", "PROBLEM_KINDS", "Problem", "Report", "ValidationError", "check_image"]

#: File endings read as images (compared case-insensitively).
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")

#: ``error``: loading or training would lose or mislabel data; ``warning``: worth a look; ``info``: fine.
SEVERITIES = ("error", "warning", "info")

#: Every kind of :class:`Problem`, with what it means (image folders first, then YOLO datasets).
PROBLEM_KINDS = {
    "unreadable": "the file cannot be read or decoded (truncated, corrupt, unsupported format, no permission)",
    "not_an_image": "the file has an image extension but is not an image (text, HTML page, ...)",
    "empty_file": "the file is 0 bytes",
    "wrong_layout": "a file or folder is not where root/<split>/<class>/<image> expects it",
    "empty_class": "a class folder with no readable image",
    "tiny_class": "a class with fewer than min_per_class readable images",
    "class_missing_in_split": "a class that has a folder in one split but not in another",
    "duplicate_across_splits": "the same image (bytes or decoded pixels) in two splits: test leaks into train",
    "duplicate_within_split": "the same image twice in one split",
    "near_duplicate_across_splits": "probably the same picture in two splits, re-encoded or resized",
    "odd_mode": "not plain 8-bit RGB (grayscale, palette, transparency, CMYK, 16-bit); converted on load",
    "size_outlier": "an image much smaller/larger or thinner than the folder's typical image",
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
    "bad_source": "a COCO json entry that cannot be converted (missing fields, unknown ids)",
    "size_mismatch": "a COCO image whose width/height differ from the image file (EXIF rotation?)",
    "crowd_region": "a COCO crowd region (iscrowd=1), left out: YOLO has no 'ignore' regions",
}

MAX_SHOWN = 100  # raise_if_errors spells out at most this many errors (all are in the report)
_JUNK_NAMES = {"thumbs.db", "desktop.ini", "__macosx", ".ds_store", ".ipynb_checkpoints"}


class ValidationError(ValueError):
    """A dataset has errors: ``.problems`` lists them and ``.report`` is the :class:`Report`, if any."""

    def __init__(self, message: str, problems: Sequence["Problem"] = (), report: "Report | None" = None):
        super().__init__(message)
        self.problems = list(problems or (report.errors if report is not None else ()))
        self.report = report


@dataclass(frozen=True)
class Problem:
    """One thing wrong (or worth knowing): ``message`` names the file (and line) and the fix."""

    kind: str
    severity: str
    paths: tuple[Path, ...]
    message: str
    line: int | None = None
    split: str | None = None
    class_name: str | None = None

    def __post_init__(self):
        if self.kind not in PROBLEM_KINDS:
            raise ValueError(f"Problem kind {self.kind!r} is not one of {', '.join(PROBLEM_KINDS)}")
        if self.severity not in SEVERITIES:
            raise ValueError(f"Problem severity {self.severity!r} is not one of {', '.join(SEVERITIES)}")
        paths = (self.paths,) if isinstance(self.paths, (str, os.PathLike)) else tuple(self.paths or ())
        object.__setattr__(self, "paths", tuple(Path(p) for p in paths))

    @property
    def path(self) -> Path | None:
        return self.paths[0] if self.paths else None

    def __str__(self) -> str:
        return f"{self.severity}: {self.message}"


@dataclass
class Report:
    """What a validator found: every :class:`Problem` (errors first), counts per split, and ``summary()``.

    ``source`` is ``"image folder"`` or ``"YOLO dataset"``; ``classes`` (alias ``names``) index = label;
    ``n_files``/``not_loaded`` (image folders) account for every file under ``root``.
    """

    root: Path
    splits: list[str]
    counts: dict[str, dict[str, int]]
    problems: list[Problem] = field(default_factory=list)
    source: str = "image folder"
    classes: list[str] = field(default_factory=list)
    layout: str | None = None
    n_images: int = 0
    n_files: int = 0
    not_loaded: list[Path] = field(default_factory=list)
    data_yaml: Path | None = None
    class_counts: dict[str, dict[str, int]] = field(default_factory=dict)
    tables: list[str] = field(default_factory=list, repr=False)

    @property
    def names(self) -> list[str]:
        return self.classes

    @property
    def ok(self) -> bool:
        """True when there is no error (warnings and info are allowed)."""
        return not self.errors

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]

    @property
    def warnings(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "warning"]

    @property
    def infos(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "info"]

    def by_kind(self, kind: str) -> list[Problem]:
        """The problems of one kind, e.g. ``report.by_kind("unreadable")``."""
        if kind not in PROBLEM_KINDS:
            raise ValueError(f"{kind!r} is not a problem kind; use one of {', '.join(PROBLEM_KINDS)}")
        return [p for p in self.problems if p.kind == kind]

    def _head(self) -> str:
        what = (f"{self.layout} layout): {len(self.classes)} classes, {self.n_images} readable images of "
                f"{self.n_files} files" if self.source == "image folder" else
                f"{self.data_yaml.name if self.data_yaml else 'no data.yaml'}): {len(self.classes)} classes, splits "
                f"{', '.join(self.splits) or 'none'}")
        return f"{self.source} {self.root} ({what}"

    def summary(self, per_kind: int = 3) -> str:
        """Counts per split and class, then the problems grouped by kind (the first ``per_kind`` of each)."""
        lines = [f"{self._head()}; {len(self.errors)} errors, {len(self.warnings)} warnings, {len(self.infos)} info",
                 *self.tables]
        groups: dict[tuple[str, str], list[Problem]] = defaultdict(list)
        for p in sorted(self.problems, key=lambda p: SEVERITIES.index(p.severity)):
            groups[(p.severity, p.kind)].append(p)
        if groups:
            lines.append(f"problems (the first {per_kind} of each kind; report.to_frame() has them all):")
        for (sev, kind), probs in groups.items():
            lines.append(f"  {sev:<7}  {kind} x{len(probs)}")
            lines.extend(f"      {p.message}" for p in probs[:per_kind])
            if len(probs) > per_kind:
                lines.append(f"      ... and {len(probs) - per_kind} more")
        if self.errors:
            lines.append("report.raise_if_errors() lists every error with its fix.")
        return "\n".join(lines)

    def raise_if_errors(self) -> None:
        """Raise :class:`ValidationError` listing every error (up to 100) with its fix, if there is one."""
        errors = self.errors
        if not errors:
            return
        shown = "\n".join(f"  - {p.message}" for p in errors[:MAX_SHOWN])
        more = f"\n  ... and {len(errors) - MAX_SHOWN} more (report.to_frame())" if len(errors) > MAX_SHOWN else ""
        checker = "validate_image_folder" if self.source == "image folder" else "validate_yolo_dataset"
        msg = (f"{len(errors)} error(s) in {self.source} {self.root}; fix them and run the check again "
               f"(coursekit.data.{checker}):\n{shown}{more}")
        if self.warnings:
            msg += f"\n(and {len(self.warnings)} warning(s): print(report.summary()) or see report.warnings)"
        raise ValidationError(msg, errors, self)

    def _rows(self) -> list[dict]:
        return [{"severity": p.severity, "kind": p.kind, "split": p.split, "class": p.class_name,
                 "path": rel(p.path, self.root) if p.path is not None else None, "line": p.line,
                 "n_paths": len(p.paths), "message": p.message} for p in self.problems]

    def to_dict(self) -> dict:
        """A JSON-serialisable dict (paths relative to ``root``)."""
        problems = [{"severity": p.severity, "kind": p.kind, "split": p.split, "line": p.line, "message": p.message,
                     "class_name": p.class_name, "paths": [rel(q, self.root) for q in p.paths]} for p in self.problems]
        return {"root": str(self.root), "source": self.source, "layout": self.layout, "ok": self.ok,
                "splits": list(self.splits), "classes": list(self.classes),
                "counts": {s: dict(c) for s, c in self.counts.items()}, "n_files": self.n_files, "problems": problems}

    def to_frame(self):
        """A pandas DataFrame, one row per problem: severity, kind, split, class, path, line, n_paths, message."""
        import pandas as pd

        df = pd.DataFrame(self._rows(), columns=["severity", "kind", "split", "class", "path", "line", "n_paths",
                                                 "message"])
        df["line"] = df["line"].astype("Int64")
        return df

    def __repr__(self) -> str:
        return (f"Report({self._head()}, ok={self.ok}, {len(self.errors)} errors, {len(self.warnings)} warnings, "
                f"{len(self.infos)} info)")


def table(corner: str, rows: Sequence[str], cols: Sequence[str], get) -> list[str]:
    """Text table lines: ``get(row, col)`` under each column, rows labelled in the first column."""
    width = max(5, len(corner), *(len(r) for r in rows))
    ws = [max(5, len(c)) for c in cols]
    return ["  " + corner.ljust(width) + "".join(f"  {c:>{w}}" for c, w in zip(cols, ws))] + [
        "  " + r.ljust(width) + "".join(f"  {get(r, c):>{w}}" for c, w in zip(cols, ws)) for r in rows]


def rel(path: Path | None, root: Path | None) -> str:
    """``path`` relative to ``root`` (posix), else as given."""
    if path is None:
        return ""
    try:
        return Path(path).relative_to(root).as_posix()
    except (TypeError, ValueError):
        return str(path)


def is_junk(name: str) -> bool:
    """Hidden or system clutter (.DS_Store, Thumbs.db, __MACOSX, .ipynb_checkpoints)."""
    return name.startswith(".") or name.lower() in _JUNK_NAMES


def is_image_name(name: str) -> bool:
    return name.lower().endswith(IMAGE_EXTENSIONS)


# ----------------------------------------------------------------------------------------------------
# decoding


def to_rgb(im: Image.Image) -> Image.Image:
    """8-bit RGB: 16/32-bit grey scaled to 0..255, float clipped, alpha dropped (as torchvision does)."""
    mode = im.mode
    if mode.startswith("I") or mode == "F":
        a = np.asarray(im).astype(np.float64)
        if mode.startswith("I;16") or (mode == "I" and a.size and a.max() > 255):
            a = a / 257.0
        elif mode == "F" and a.size and a.max() <= 1.0:
            a = a * 255.0
        return Image.fromarray(np.clip(np.round(a), 0, 255).astype(np.uint8), "L").convert("RGB")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "Palette images with Transparency expressed in bytes ..."
        return im.convert("RGB")


def decode(data: bytes) -> tuple[Image.Image, str]:
    """(RGB image with EXIF orientation applied, original mode) after ``verify`` and a full decode, or raise."""
    old = ImageFile.LOAD_TRUNCATED_IMAGES
    ImageFile.LOAD_TRUNCATED_IMAGES = False  # raise on truncated files even if someone allowed them
    try:
        with Image.open(io.BytesIO(data)) as im:
            im.verify()
        im = Image.open(io.BytesIO(data))
        mode = im.mode
        im.load()
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = old
    try:
        im = ImageOps.exif_transpose(im)
    except Exception:  # noqa: BLE001 - a broken EXIF block: the pixels are fine, keep the stored orientation
        pass
    return to_rgb(im), mode


def _is_text(data: bytes, n: int = 64) -> bool:
    try:
        text = data[:n].decode("utf-8")
    except UnicodeDecodeError:
        return False
    return bool(text) and all(ch.isprintable() or ch in "\r\n\t" for ch in text)


_MAGIC = ((b"\xff\xd8\xff", "JPEG"), (b"\x89PNG\r\n\x1a\n", "PNG"), (b"GIF87a", "GIF"), (b"GIF89a", "GIF"),
          (b"BM", "BMP"), (b"II*\x00", "TIFF"), (b"MM\x00*", "TIFF"))


def magic_format(data: bytes) -> str | None:
    """The image format a file's first bytes announce, or None.

    >>> magic_format(bytes([0xFF, 0xD8, 0xFF, 0xE0]) + bytes(10)), magic_format(b"<html>")
    ('JPEG', None)
    """
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WebP"
    return next((name for sig, name in _MAGIC if data.startswith(sig)), None)


def sniff(data: bytes) -> str:
    """What a file that is not an image is, in words."""
    head = data[:256].lstrip()
    low = head.lower()
    if low.startswith((b"<!doctype html", b"<html")) or b"<html" in low:
        return "it is an HTML web page (the link saved the page, not the picture: open the image itself and save it)"
    if low.startswith((b"<?xml", b"<svg")):
        return "it is XML/SVG text, not a photo"
    if _is_text(head, 40):
        return f"it is a text file (starts with {head[:40].decode('utf-8').strip()[:30]!r})"
    return "its content is not an image format PIL knows"


def check_image(data: bytes, suffix: str = "") -> tuple[Image.Image | None, str, str]:
    """``(rgb, mode, "")`` for a good image, else ``(None, kind, why)`` with kind ``empty_file``,
    ``not_an_image`` or ``unreadable`` and ``why`` a sentence ending in the fix.

    >>> check_image(b"")[1:]
    ('empty_file', 'empty file (0 bytes; an interrupted copy or download?) — copy it again or delete it')
    """
    if not data:
        return (None, "empty_file",
                "empty file (0 bytes; an interrupted copy or download?) — copy it again or delete it")
    damaged = ("cannot be decoded (a {} file whose header is cut short or damaged, " f"{len(data)} bytes) — copy or "
               "download it again, or delete it")
    not_image = f"not an image — {sniff(data)}; replace it with the real image or delete it"
    try:
        rgb, mode = decode(data)
    except UnidentifiedImageError:
        magic = magic_format(data)
        return (None, "unreadable", damaged.format(magic)) if magic else (None, "not_an_image", not_image)
    except Image.DecompressionBombError as err:
        return None, "unreadable", f"too large to open safely ({err}) — shrink it to a few thousand pixels per side"
    except Exception as err:  # noqa: BLE001 - every decoder failure is reported, whatever its type
        if _is_text(data):  # some plugins (e.g. a HEIF opener another library registered) raise other errors
            return None, "not_an_image", not_image
        magic = magic_format(data)
        if magic and isinstance(err, ImportError):  # another library's opener, tried after PIL gave up
            return None, "unreadable", damaged.format(magic)
        fmt = suffix.lstrip(".").upper().replace("JPG", "JPEG")
        reason = f"truncated {fmt}: {err}" if "truncat" in str(err).lower() else f"{type(err).__name__}: {err}"
        return None, "unreadable", f"cannot be decoded ({reason}) — re-export it or delete it"
    return rgb, mode, ""
