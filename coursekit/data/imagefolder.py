"""Image folders: check a learner's own photo folder, then load it as an :class:`ArrayDataset`.

Two layouts are understood (the split names are folders, the class names are folders)::

    photos/train/cat/img_001.jpg        photos/cat/img_001.jpg     <- "flat": one split, like
    photos/train/dog/...                photos/dog/...                torchvision's ImageFolder
    photos/val/cat/...
    photos/test/cat/...
    photos/test_shifted/cat/...         <- extra test splits: any folder named ``test_<something>``

:func:`validate_image_folder` walks **every** file, opens **every** image (``PIL.Image.verify`` and
then a full decode, so truncated files are caught) and returns a :class:`FolderReport` listing each
:class:`Problem` with its file names and how to fix it. Nothing is skipped silently: every file under
the folder is either loadable or named in a problem (``report.not_loaded``).

:func:`load_image_folder` loads one split as uint8 NHWC RGB, refusing when the report has errors;
:func:`list_image_folder` gives the file behind each loaded image (``dataset[i]`` is ``files[i]``).

>>> report = validate_image_folder("photos")                     # doctest: +SKIP
>>> print(report.summary())                                      # doctest: +SKIP
>>> report.raise_if_errors()                                     # doctest: +SKIP
>>> train = load_image_folder("photos", "train", image_size=(128, 128))  # doctest: +SKIP
>>> files = list_image_folder("photos", "train")                 # doctest: +SKIP
>>> files[0]                                        # (path, label) of train[0]  # doctest: +SKIP
(PosixPath('photos/train/cat/img_001.jpg'), 0)
"""
from __future__ import annotations

import contextlib
import hashlib
import io
import os
import statistics
import warnings
from collections import defaultdict
from dataclasses import dataclass, field
from difflib import get_close_matches
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from .arrays import ArrayDataset

__all__ = [
    "IMAGE_EXTENSIONS",
    "STANDARD_SPLITS",
    "FLAT_SPLIT",
    "PROBLEM_KINDS",
    "SEVERITIES",
    "Problem",
    "FolderReport",
    "ImageFolderError",
    "NEAR_DUPLICATE_DISTANCE",
    "PERCEPTUAL_HASH_BITS",
    "perceptual_hash",
    "hash_distance",
    "validate_image_folder",
    "list_image_folder",
    "load_image_folder",
]

#: File endings read as images (compared case-insensitively).
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff")

#: Split folder names recognised when ``splits`` is not given; ``test_<anything>`` is also a split.
STANDARD_SPLITS = ("train", "val", "test")

#: The split name used for the flat layout ``root/<class>/<image>`` (no split folders).
FLAT_SPLIT = "all"

#: Every kind of :class:`Problem`, with what it means.
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
    "near_duplicate_across_splits": "probably the same picture in two splits, re-encoded or resized (perceptual "
                                    "hashes at most NEAR_DUPLICATE_DISTANCE bits apart): a likely leak, look at both",
    "odd_mode": "not plain 8-bit RGB (grayscale, palette, transparency, CMYK, 16-bit); converted on load",
    "size_outlier": "an image much smaller/larger or thinner than the folder's typical image",
}

#: ``error``: the loader refuses; ``warning``: printed when loading; ``info``: only in the report.
SEVERITIES = ("error", "warning", "info")

#: Kinds whose files are not loaded (the rest describe files that do load, or folders).
_NOT_LOADED_KINDS = ("unreadable", "not_an_image", "empty_file", "wrong_layout")

#: Image formats people have that PIL cannot read here: a hint for each.
_UNSUPPORTED_IMAGE_HINTS = {
    ".heic": "HEIC (iPhone photo format) is not supported: export it as JPEG (Photos: File > Export, "
             "or set Camera > Formats > Most Compatible)",
    ".heif": "HEIF is not supported: export it as JPEG",
    ".avif": "AVIF is not supported: convert it to JPEG or PNG",
    ".gif": "GIF is not read as a training image: convert it to PNG",
    ".svg": "SVG is a vector drawing, not a photo: export it as PNG",
    ".jfif": "rename it to .jpg (JFIF is JPEG)",
    ".dng": "camera RAW is not supported: export it as JPEG",
    ".cr2": "camera RAW is not supported: export it as JPEG",
    ".nef": "camera RAW is not supported: export it as JPEG",
    ".arw": "camera RAW is not supported: export it as JPEG",
}

#: System clutter that is never data; reported as info and not loaded.
_META_SUFFIXES = {".md", ".txt", ".csv", ".json", ".yaml", ".yml", ".rst", ""}  # README, LICENSE, labels, manifest
_JUNK_NAMES = {"thumbs.db", "desktop.ini", "__macosx", ".ds_store", ".ipynb_checkpoints"}

#: At most this many file names are spelled out in one message (the rest are in ``Problem.paths``).
_MAX_NAMES = 10

#: :func:`load_image_folder` refuses to build arrays larger than this (bytes).
MAX_LOAD_BYTES = 4 * 1024**3

#: Bits in :func:`perceptual_hash`: a 16x16 pHash (256 bits) followed by a 16x16 dHash (256 bits).
PERCEPTUAL_HASH_BITS = 512

#: Two pictures in different splits whose :func:`perceptual_hash` differ in at most this many of the
#: :data:`PERCEPTUAL_HASH_BITS` bits (Hamming distance) are reported as ``near_duplicate_across_splits``:
#: probably one picture saved twice, at another JPEG quality or size. 64 is one bit in eight.
#:
#: Chosen by measurement (imagehash 4.3.2, Pillow 13, on the 1800 images of ``datasets/inspection``
#: and 1000 96-px renders of :func:`coursekit.scenes.make_object_dataset`): the same picture saved at
#: JPEG quality 95 and 60, or resized to 0.5 or 0.75 of its size (bilinear), stays within 38 bits
#: (inspection; 35 for the renders); two distinct pictures, including look-alike renders of the same
#: part (dark four-hole flanges, centred), are at least 95 bits apart (108 for the renders). 64 leaves 26 bits of room
#: above the first and 31 below the second. A harsher re-export (half size *and* quality 60) reaches
#: 70 bits and is then usually, not always, caught. ``tests/test_imagefolder.py`` measures this again.
#: Tiny images (32 px, CIFAR size) carry too little detail: a copy at quality 60 or half size can be as
#: far from its original as two distinct renders are from each other, so there copies can be missed.
#: The hash ignores colour and does not survive crops, flips or rotations.
NEAR_DUPLICATE_DISTANCE = 64

#: Images with a shorter side above twice this are first shrunk by an integer factor (``Image.reduce``)
#: to at least this size, so that hashing a 12-megapixel photo costs about a tenth of decoding it, not half
#: (measured: 20 ms instead of 85, against 170 ms to decode; the hash moves by 10 of 512 bits).
_HASH_MIN_SIDE = 128
_HASH_SIDE = 64  # pHash with hash_size=16 reads a 64x64 grey image (imagehash's highfreq_factor=4)


class ImageFolderError(ValueError):
    """An image folder has errors; ``.report`` (a :class:`FolderReport`, or None) has them all."""

    def __init__(self, message: str, report: "FolderReport | None" = None):
        super().__init__(message)
        self.report = report


@dataclass(frozen=True)
class Problem:
    """One thing wrong (or worth knowing) about an image folder.

    Attributes:
        kind: one of :data:`PROBLEM_KINDS`, e.g. ``"unreadable"``.
        severity: ``"error"``, ``"warning"`` or ``"info"`` (:data:`SEVERITIES`).
        paths: the files (or folders) concerned, absolute; ``path`` is the first.
        message: what is wrong, naming the files relative to the root, and how to fix it.
        split: the split concerned (``None`` when several or none).
        class_name: the class concerned, if one.

    >>> p = Problem("empty_file", "error", Path("/d/train/cat/a.jpg"), "train/cat/a.jpg: empty")
    >>> p.path.name, str(p)
    ('a.jpg', 'error: train/cat/a.jpg: empty')
    """

    kind: str
    severity: str
    paths: tuple[Path, ...]
    message: str
    split: str | None = None
    class_name: str | None = None

    def __post_init__(self):
        if self.kind not in PROBLEM_KINDS:
            raise ValueError(f"Problem kind {self.kind!r} is not one of {', '.join(PROBLEM_KINDS)}")
        if self.severity not in SEVERITIES:
            raise ValueError(f"Problem severity {self.severity!r} is not one of {', '.join(SEVERITIES)}")
        paths = (self.paths,) if isinstance(self.paths, (str, os.PathLike)) else self.paths
        object.__setattr__(self, "paths", tuple(Path(p) for p in paths))

    @property
    def path(self) -> Path | None:
        """The first path concerned (None if none)."""
        return self.paths[0] if self.paths else None

    def __str__(self) -> str:
        return f"{self.severity}: {self.message}"


@dataclass
class FolderReport:
    """What :func:`validate_image_folder` found.

    Attributes:
        root: the folder checked.
        layout: ``"splits"`` (root/<split>/<class>/<image>) or ``"flat"`` (root/<class>/<image>).
        splits: the splits checked, in order (``["all"]`` for the flat layout).
        classes: every class folder name across splits, sorted like torchvision (``sorted()``);
            label ``i`` is ``classes[i]`` in every split.
        counts: split -> class -> number of readable images (what would load); 0 where missing.
        problems: every :class:`Problem`, errors first.
        n_files: how many files are under ``root`` (all of them: loadable + :attr:`not_loaded`).
        not_loaded: every file under ``root`` that will not be loaded; each is named in a problem.
    """

    root: Path
    layout: str
    splits: list[str]
    classes: list[str]
    counts: dict[str, dict[str, int]]
    problems: list[Problem] = field(default_factory=list)
    n_files: int = 0
    not_loaded: list[Path] = field(default_factory=list)

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

    @property
    def n_images(self) -> int:
        """Readable images in all splits (what would load)."""
        return sum(sum(c.values()) for c in self.counts.values())

    def summary(self) -> str:
        """A short text table: images per class and split, then the problems grouped by kind."""
        n_err, n_warn, n_info = len(self.errors), len(self.warnings), len(self.infos)
        lines = [f"image folder {self.root} ({self.layout} layout): {len(self.classes)} classes, "
                 f"{self.n_images} readable images of {self.n_files} files; "
                 f"{n_err} errors, {n_warn} warnings, {n_info} info"]
        if self.classes:
            width = max(5, *(len(c) for c in self.classes))
            cols = [max(5, len(s)) for s in self.splits]
            lines.append("  " + "class".ljust(width) + "".join(f"  {s:>{w}}" for s, w in zip(self.splits, cols)))
            for c in self.classes:
                lines.append("  " + c.ljust(width) + "".join(
                    f"  {self.counts[s].get(c, 0):>{w}}" for s, w in zip(self.splits, cols)))
            lines.append("  " + "total".ljust(width) + "".join(
                f"  {sum(self.counts[s].values()):>{w}}" for s, w in zip(self.splits, cols)))
        groups: dict[tuple[str, str], list[Problem]] = defaultdict(list)
        for p in self.problems:
            groups[(p.severity, p.kind)].append(p)
        if groups:
            lines.append("problems:")
        for sev in SEVERITIES:
            for (s, kind), probs in groups.items():
                if s != sev:
                    continue
                names = [_rel(p.path, self.root) for p in probs if p.path is not None]
                shown = ", ".join(names[:3]) + (f", ... (+{len(names) - 3})" if len(names) > 3 else "")
                lines.append(f"  {sev:<7}  {kind} x{len(probs)}: {shown}")
        if n_err:
            lines.append("report.raise_if_errors() lists every error with its fix.")
        return "\n".join(lines)

    def error_text(self, severity: str = "error") -> str:
        """Every problem of ``severity``, one per line, each naming its files and the fix."""
        return "\n".join(f"  - {p.message}" for p in self.problems if p.severity == severity)

    def raise_if_errors(self) -> None:
        """Raise :class:`ImageFolderError` listing **every** error (not just the first), if any."""
        errors = self.errors
        if not errors:
            return
        msg = (f"{len(errors)} error(s) in image folder {self.root}; fix them and run the check again "
               f"(coursekit.data.validate_image_folder):\n{self.error_text('error')}")
        if self.warnings:
            msg += f"\n(and {len(self.warnings)} warning(s): print(report.summary()) or see report.warnings)"
        raise ImageFolderError(msg, self)

    def to_dict(self) -> dict:
        """A JSON-serialisable dict (paths as strings relative to ``root``)."""
        return {
            "root": str(self.root),
            "layout": self.layout,
            "ok": self.ok,
            "splits": list(self.splits),
            "classes": list(self.classes),
            "counts": {s: dict(c) for s, c in self.counts.items()},
            "n_files": self.n_files,
            "problems": [{"kind": p.kind, "severity": p.severity, "split": p.split, "class_name": p.class_name,
                          "paths": [_rel(q, self.root) for q in p.paths], "message": p.message}
                         for p in self.problems],
        }

    def to_frame(self):
        """A pandas DataFrame, one row per problem: severity, kind, split, class, path, n_paths, message."""
        import pandas as pd

        rows = [{"severity": p.severity, "kind": p.kind, "split": p.split, "class": p.class_name,
                 "path": _rel(p.path, self.root) if p.path is not None else None, "n_paths": len(p.paths),
                 "message": p.message} for p in self.problems]
        return pd.DataFrame(rows, columns=["severity", "kind", "split", "class", "path", "n_paths", "message"])

    def __repr__(self) -> str:
        return (f"FolderReport({str(self.root)!r}: {self.layout}, {len(self.classes)} classes, "
                f"{self.n_images} images, ok={self.ok}, {len(self.errors)} errors, "
                f"{len(self.warnings)} warnings, {len(self.infos)} info)")


# ----------------------------------------------------------------------------------------------------
# walking the folder (layout only, nothing opened)


@dataclass
class _Scan:
    root: Path
    layout: str
    splits: list[str]
    class_dirs: dict[str, dict[str, Path]]           # split -> class -> folder
    candidates: dict[str, dict[str, list[Path]]]     # split -> class -> image files (sorted by name)
    problems: list[Problem]
    all_files: list[Path]

    @property
    def classes(self) -> list[str]:
        return sorted({c for d in self.class_dirs.values() for c in d})


def _rel(path: Path | None, root: Path) -> str:
    if path is None:
        return ""
    try:
        return Path(path).relative_to(root).as_posix()
    except ValueError:
        return str(path)


def _names(paths: Sequence[Path], root: Path) -> str:
    shown = ", ".join(_rel(p, root) for p in paths[:_MAX_NAMES])
    return shown + (f" and {len(paths) - _MAX_NAMES} more (see Problem.paths)" if len(paths) > _MAX_NAMES else "")


def _is_junk(name: str) -> bool:
    return name.startswith(".") or name.lower() in _JUNK_NAMES


def _is_image_name(name: str) -> bool:
    return name.lower().endswith(IMAGE_EXTENSIONS)


def _files_under(folder: Path, on_error) -> list[Path]:
    """Every file below ``folder``, sorted; links to folders are listed, not followed."""
    out = []
    for dirpath, dirs, files in os.walk(folder, onerror=on_error):
        out.extend(Path(dirpath) / f for f in files)
        out.extend(Path(dirpath) / d for d in dirs if (Path(dirpath) / d).is_symlink())
    return sorted(out)


def _is_split_name(name: str) -> bool:
    return name in STANDARD_SPLITS or name.startswith("test_")


def _split_order(names: Iterable[str]) -> list[str]:
    def key(n):
        return (STANDARD_SPLITS.index(n), n) if n in STANDARD_SPLITS else (3, n)
    return sorted(names, key=key)


def _scan(root: Path, splits: Sequence[str] | None) -> _Scan:
    """Sort every file under ``root`` into image candidates (by layout and extension) and layout problems."""
    root = Path(root).expanduser()
    if not root.exists():
        raise FileNotFoundError(f"image folder {root} does not exist (check the path; relative paths start "
                                f"from {Path.cwd()})")
    if not root.is_dir():
        extra = " — it is an archive: extract it first and pass the extracted folder" \
            if root.suffix.lower() in (".zip", ".tar", ".gz", ".tgz", ".7z") else ""
        raise NotADirectoryError(f"image folder {root} is a file, not a folder{extra}")
    root = root.resolve()
    problems: list[Problem] = []
    all_files: list[Path] = []

    def walk_error(err: OSError) -> None:
        problems.append(Problem("unreadable", "error", Path(err.filename or root),
                                f"{_rel(Path(err.filename or root), root)}: folder cannot be listed ({err.strerror}) "
                                "— fix its permissions", None, None))

    def entries(folder: Path) -> list[os.DirEntry]:
        try:
            with os.scandir(folder) as it:
                return sorted(it, key=lambda e: e.name)
        except OSError as err:
            walk_error(err)
            return []

    def junk(paths: list[Path], where: str, split: str | None) -> None:
        if paths:
            all_files.extend(paths)
            problems.append(Problem(
                "wrong_layout", "info", tuple(paths),
                f"{_names(paths, root)}: system/hidden file(s) in {where}, not loaded (harmless; delete them "
                "to silence this)", split, None))

    def misplaced(paths: list[Path], where: str, fix: str, split: str | None, cls: str | None = None) -> None:
        """Files that are in the wrong place: images are errors (they would be lost), others warnings."""
        images = [p for p in paths if _is_image_name(p.name)]
        others = [p for p in paths if not _is_image_name(p.name)]
        all_files.extend(paths)
        if images:
            problems.append(Problem("wrong_layout", "error", tuple(images),
                                    f"{_names(images, root)}: {len(images)} image(s) {where} — {fix}", split, cls))
        if others:
            problems.append(Problem(
                "wrong_layout", "warning", tuple(others),
                f"{_names(others, root)}: {len(others)} non-image file(s) {where}, not loaded (only "
                f"{'/'.join(e[1:] for e in IMAGE_EXTENSIONS)} are images) — move them out of the dataset folder",
                split, cls))

    def scan_junk_dir(path: Path, split: str | None) -> None:
        junk(_files_under(path, walk_error), f"hidden/system folder {_rel(path, root)}/", split)

    def scan_class(split: str, cls: str, folder: Path, class_dirs, candidates) -> None:
        class_dirs[split][cls] = folder
        found: list[Path] = []
        stray: list[Path] = []
        junk_files: list[Path] = []
        for e in entries(folder):
            path = Path(e.path)
            if _is_junk(e.name):
                scan_junk_dir(path, split) if e.is_dir() else junk_files.append(path)
            elif e.is_dir():
                deep = _files_under(path, walk_error)
                misplaced(deep, f"nested too deep in {_rel(path, root)}/",
                          f"move them up into {_rel(folder, root)}/ (or make {e.name!r} its own class folder "
                          f"next to {cls!r})", split, cls)
                if not deep:
                    problems.append(Problem("wrong_layout", "info", path,
                                            f"{_rel(path, root)}/: empty sub-folder inside class {cls!r}, ignored "
                                            "— delete it", split, cls))
            elif _is_image_name(e.name):
                found.append(path)
            elif path.suffix.lower() in _UNSUPPORTED_IMAGE_HINTS:
                all_files.append(path)
                problems.append(Problem("unreadable", "error", path,
                                        f"{_rel(path, root)}: {_UNSUPPORTED_IMAGE_HINTS[path.suffix.lower()]}",
                                        split, cls))
            else:
                stray.append(path)
        junk(junk_files, f"{_rel(folder, root)}/", split)
        misplaced(stray, f"in class folder {_rel(folder, root)}/", "", split, cls)
        all_files.extend(found)
        candidates[split][cls] = found

    def scan_split(split: str, folder: Path, class_dirs, candidates) -> None:
        loose: list[Path] = []
        junk_files: list[Path] = []
        for e in entries(folder):
            path = Path(e.path)
            if _is_junk(e.name):
                scan_junk_dir(path, split) if e.is_dir() else junk_files.append(path)
            elif e.is_dir():
                scan_class(split, e.name, path, class_dirs, candidates)
            else:
                loose.append(path)
        junk(junk_files, f"{_rel(folder, root)}/", split)
        where = f"directly in {_rel(folder, root)}/, not in a class folder" if folder != root else \
            "directly in the dataset folder, not in a class folder"
        fix = (f"move each into {_rel(folder, root) + '/' if folder != root else ''}<class>/ "
               "(one folder per class)")
        misplaced(loose, where, fix, split)
        if not class_dirs[split]:
            hint = ""
            if folder == root and any(_is_image_name(p.name) for p in loose):
                hint = f" (did you pass a class folder? pass its parent, {root.parent})"
            problems.append(Problem("wrong_layout", "error", folder,
                                    f"{_rel(folder, root) if folder != root else root.name}/: no class folders "
                                    f"found{hint} — expected "
                                    f"{'<split>/' if folder != root else ''}<class>/<image> with one folder per "
                                    "class", split, None))

    top = entries(root)
    top_dirs = [e for e in top if e.is_dir() and not _is_junk(e.name)]
    explicit = splits is not None
    if explicit:
        splits = [str(s) for s in splits]
        if not splits:
            raise ValueError("splits=[] names no split; pass None to detect them, or e.g. ['train', 'val']")
        layout = "splits"
    else:
        layout = "splits" if any(_is_split_name(e.name.lower()) for e in top_dirs) else "flat"

    class_dirs: dict[str, dict[str, Path]] = defaultdict(dict)
    candidates: dict[str, dict[str, list[Path]]] = defaultdict(dict)
    if layout == "flat":
        scan_split(FLAT_SPLIT, root, class_dirs, candidates)
        found_splits = [FLAT_SPLIT]
        # a flat folder whose "classes" hold no images but sub-folders: unrecognised split names
        deep = [p for p in problems if p.kind == "wrong_layout" and "nested too deep" in p.message]
        if deep and not any(candidates[FLAT_SPLIT].values()):
            names = ", ".join(sorted({p.class_name for p in deep if p.class_name}))
            problems.append(Problem(
                "wrong_layout", "error", root,
                f"{root.name}/: the folders {names} hold sub-folders, not images — if they are splits, rename "
                f"them to train/val/test (or test_<name>), or pass splits=[...] with their names", None, None))
    else:
        found_splits = []
        loose, junk_files = [], []
        for e in top:
            path = Path(e.path)
            if _is_junk(e.name):
                scan_junk_dir(path, None) if e.is_dir() else junk_files.append(path)
            elif not e.is_dir():
                loose.append(path)
            elif (e.name in splits) if explicit else _is_split_name(e.name):
                found_splits.append(e.name)
                scan_split(e.name, path, class_dirs, candidates)
            else:
                inside = _files_under(path, walk_error)
                if explicit:
                    junk_msg = f"{e.name}/ is not one of splits={splits}, so it was not checked or loaded"
                    all_files.extend(inside)
                    problems.append(Problem("wrong_layout", "info", tuple(inside) or (path,),
                                            f"{junk_msg} ({len(inside)} files)", None, None))
                    continue
                like = get_close_matches(e.name.lower(), [*STANDARD_SPLITS, "validation", "valid", "training",
                                                          "testing"], n=1, cutoff=0.6)
                alias = {"validation": "val", "valid": "val", "training": "train", "testing": "test"}
                guess = alias.get(like[0], like[0]) if like else None
                fix = (f"rename {e.name}/ to {guess}/" if guess else
                       f"rename {e.name}/ to train, val, test or test_<name>, or move it out")
                fix += " (or pass splits=[...] naming your split folders)"
                if inside:
                    misplaced(inside, f"in {e.name}/, which is not a split folder", fix, None)
                else:
                    problems.append(Problem("wrong_layout", "warning", path,
                                            f"{e.name}/: empty folder that is not a split — delete it", None, None))
        junk(junk_files, "the dataset folder", None)
        meta = [p for p in loose if p.suffix.lower() in _META_SUFFIXES and not _is_image_name(p.name)]
        if meta:  # README, labels.csv, manifest.json ... belong next to the splits
            all_files.extend(meta)
            problems.append(Problem("wrong_layout", "info", tuple(meta),
                                    f"{_names(meta, root)}: dataset documentation/metadata, not loaded", None, None))
        loose = [p for p in loose if p not in meta]
        misplaced(loose, "directly in the dataset folder, not in <split>/<class>/",
                  "move each into train/<class>/ (or val/, test/)", None)
        if explicit:
            for s in splits:
                if s not in found_splits:
                    problems.append(Problem("wrong_layout", "error", root / s,
                                            f"{s}/: split folder not found in {root} (splits={splits}) — create it "
                                            "or leave it out of splits", s, None))
            found_splits = [s for s in splits if s in found_splits]
        else:
            found_splits = _split_order(found_splits)
            if "train" not in found_splits:
                problems.append(Problem("wrong_layout", "info", root / "train",
                                        f"no train/ folder in {root.name}/ (found {', '.join(found_splits)}): fine "
                                        "for evaluation only; to train, add train/<class>/<image>", None, None))

    for s in found_splits:
        class_dirs.setdefault(s, {})
        candidates.setdefault(s, {})
    return _Scan(root, layout, found_splits, dict(class_dirs), dict(candidates), problems, all_files)


# ----------------------------------------------------------------------------------------------------
# decoding


@contextlib.contextmanager
def _strict_truncation():
    """Make PIL raise on truncated files even if someone set ``ImageFile.LOAD_TRUNCATED_IMAGES``."""
    old = ImageFile.LOAD_TRUNCATED_IMAGES
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        yield
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = old


def _to_rgb(im: Image.Image) -> Image.Image:
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


def _decode(data: bytes) -> tuple[Image.Image, str, str]:
    """(RGB image with EXIF orientation applied, original mode, format) or raise."""
    with _strict_truncation():
        with Image.open(io.BytesIO(data)) as im:
            im.verify()
        im = Image.open(io.BytesIO(data))
        mode, fmt = im.mode, im.format or "image"
        im.load()
    try:
        im = ImageOps.exif_transpose(im)
    except Exception:  # a broken EXIF block: the pixels are fine, keep the stored orientation
        pass
    return _to_rgb(im), mode, fmt


def _is_text(data: bytes) -> bool:
    """True if the file starts like text (HTML, XML, plain text) rather than binary image data."""
    try:
        text = data[:64].decode("utf-8")
    except UnicodeDecodeError:
        return False
    return bool(text) and all(ch.isprintable() or ch in "\r\n\t" for ch in text)


_MAGIC = ((b"\xff\xd8\xff", "JPEG"), (b"\x89PNG\r\n\x1a\n", "PNG"), (b"GIF87a", "GIF"), (b"GIF89a", "GIF"),
          (b"BM", "BMP"), (b"II*\x00", "TIFF"), (b"MM\x00*", "TIFF"))


def _magic_format(data: bytes) -> str | None:
    """The image format a file's first bytes announce (its signature), or None.

    >>> _magic_format(bytes([0xFF, 0xD8, 0xFF, 0xE0]) + bytes(10)), _magic_format(b"<html>")
    ('JPEG', None)
    """
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "WebP"
    return next((name for sig, name in _MAGIC if data.startswith(sig)), None)


def _sniff(data: bytes) -> str:
    head = data[:256].lstrip()
    low = head.lower()
    if low.startswith((b"<!doctype html", b"<html")) or b"<html" in low:
        return "it is an HTML web page (the link saved the page, not the picture: open the image itself and save it)"
    if low.startswith((b"<?xml", b"<svg")):
        return "it is XML/SVG text, not a photo"
    try:
        text = head[:40].decode("utf-8")
    except UnicodeDecodeError:
        return "its content is not an image format PIL knows"
    if text and all(ch.isprintable() or ch in "\r\n\t" for ch in text):
        return f"it is a text file (starts with {text.strip()[:30]!r})"
    return "its content is not an image format PIL knows"


def _mode_note(mode: str) -> str:
    if mode == "L":
        return "grayscale; copied into 3 channels"
    if mode in ("P", "PA"):
        return "palette (indexed-colour) image; converted to RGB"
    if mode in ("RGBA", "LA", "La", "RGBa", "PA"):
        return "has transparency; the alpha channel is dropped (transparent pixels show their hidden colour)"
    if mode == "CMYK":
        return "CMYK (print colours); converted with a simple formula, colours may look off — re-export as sRGB"
    if mode.startswith("I") or mode == "F":
        return f"{'16' if mode.startswith('I;16') else '32'}-bit ({mode}); scaled to 8 bits"
    if mode == "1":
        return "1-bit black and white; converted to RGB"
    return f"mode {mode}; converted to RGB"


# ----------------------------------------------------------------------------------------------------
# perceptual hashes (near-duplicates)


def perceptual_hash(image: Image.Image) -> np.ndarray:
    """A 512-bit perceptual hash of a picture, as 8 ``uint64`` words (compare with :func:`hash_distance`).

    The picture is turned grey and resized to 64x64 (Lanczos); the hash is imagehash's **pHash** with
    ``hash_size=16`` (which 16x16 low-frequency DCT coefficients are above their median: the coarse
    layout of light and dark) followed by its **dHash** with ``hash_size=16`` (whether each pixel of a
    17x16 thumbnail is brighter than its right neighbour: the edges). Re-encoding or resizing a picture
    changes few bits; another picture changes about half. The imagehash default (64-bit pHash) cannot
    tell the course's renders apart: two distinct ones came within 4 bits, a re-encoded copy 6 bits
    away. See :data:`NEAR_DUPLICATE_DISTANCE` for the measurements.

    >>> img = Image.linear_gradient("L").convert("RGB")
    >>> h = perceptual_hash(img)
    >>> h.shape, h.dtype, hash_distance(h, perceptual_hash(img.resize((128, 128))))
    ((8,), dtype('uint64'), 0)
    >>> hash_distance(h, perceptual_hash(img.rotate(90))) > NEAR_DUPLICATE_DISTANCE
    True
    """
    import imagehash

    if image.mode not in ("RGB", "L"):
        image = _to_rgb(image)
    factor = min(image.size) // _HASH_MIN_SIDE
    if factor >= 2:
        image = image.reduce(factor)
    grey = image.convert("L")
    if grey.size != (_HASH_SIDE, _HASH_SIDE):
        grey = grey.resize((_HASH_SIDE, _HASH_SIDE), Image.Resampling.LANCZOS)
    bits = np.concatenate([imagehash.phash(grey, hash_size=16).hash.ravel(),
                           imagehash.dhash(grey, hash_size=16).hash.ravel()])
    return np.packbits(bits).view(np.uint64)


_POPCOUNT8 = np.array([bin(i).count("1") for i in range(256)], dtype=np.uint8)


def _popcount(x: np.ndarray) -> np.ndarray:
    """Set bits of each uint64 (``np.bitwise_count`` on NumPy 2, a byte table on NumPy 1)."""
    if hasattr(np, "bitwise_count"):
        return np.bitwise_count(x)
    return _POPCOUNT8[x.view(np.uint8)].reshape(*x.shape, 8).sum(-1, dtype=np.uint8)


def hash_distance(a: np.ndarray, b: np.ndarray) -> int:
    """How many bits two :func:`perceptual_hash` values differ in (0 .. :data:`PERCEPTUAL_HASH_BITS`).

    >>> hash_distance(np.zeros(8, np.uint64), np.full(8, 255, np.uint64))
    64
    """
    return int(_popcount(np.bitwise_xor(np.asarray(a, np.uint64), np.asarray(b, np.uint64))).sum())


def _close_pairs(a: np.ndarray, b: np.ndarray, max_distance: int,
                 block: int = 1 << 20) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every (i, j, distance) with ``hash_distance(a[i], b[j]) <= max_distance``, sorted by i then j.

    All pairs, vectorised: XOR and popcount on the packed words, ``block`` pairs at a time (a few MB).
    """
    rows_out, cols_out, dist_out = [], [], []
    if len(a) and len(b):
        step = max(1, block // len(b))
        for start in range(0, len(a), step):
            chunk = a[start:start + step]
            dist = np.zeros((len(chunk), len(b)), dtype=np.uint16)
            for w in range(a.shape[1]):
                dist += _popcount(chunk[:, w, None] ^ b[None, :, w])
            r, c = np.nonzero(dist <= max_distance)
            rows_out.append(r + start)
            cols_out.append(c)
            dist_out.append(dist[r, c])
    if not rows_out:
        return np.zeros(0, np.intp), np.zeros(0, np.intp), np.zeros(0, np.uint16)
    return np.concatenate(rows_out), np.concatenate(cols_out), np.concatenate(dist_out)


def _near_duplicates(good: list[tuple], hashes: np.ndarray, splits: Sequence[str], max_distance: int,
                     root: Path) -> list[Problem]:
    """One ``near_duplicate_across_splits`` warning per pair of images in two splits with close hashes.

    ``good[i]`` is ``(split, class, path, byte sha, pixel sha, size)`` and ``hashes[i]`` its perceptual
    hash. Pairs with the same bytes or pixels are skipped: they already are ``duplicate_across_splits``.
    """
    split_of = np.array([splits.index(rec[0]) for rec in good])
    members = [np.flatnonzero(split_of == k) for k in range(len(splits))]
    found = []
    for ka in range(len(splits)):
        for kb in range(ka + 1, len(splits)):
            ia, ib = members[ka], members[kb]
            rows, cols, dists = _close_pairs(hashes[ia], hashes[ib], max_distance)
            for r, c, d in zip(rows.tolist(), cols.tolist(), dists.tolist()):
                a, b = good[ia[r]], good[ib[c]]
                if a[3] == b[3] or a[4] == b[4]:
                    continue
                found.append((d, _rel(a[2], root), _rel(b[2], root), a, b))
    problems = []
    for d, rel_a, rel_b, a, b in sorted(found, key=lambda f: f[:3]):
        labels = (f"both in class {a[1]!r}" if a[1] == b[1] else
                  f"labelled {a[1]!r} in {a[0]} but {b[1]!r} in {b[0]}, so one label is wrong too")
        problems.append(Problem(
            "near_duplicate_across_splits", "warning", (a[2], b[2]),
            f"{rel_a} and {rel_b}: probably the same picture in {a[0]} and {b[0]} (perceptual hash distance "
            f"{d} of {PERCEPTUAL_HASH_BITS} bits; at most {max_distance} counts as near-duplicate), "
            f"{labels} — a copy re-encoded or resized: what is learnt or tuned on one is scored on the other, "
            f"which inflates the {b[0]} score. "
            f"Look at both: if they are one photo, keep it in one split and delete the other", None,
            a[1] if a[1] == b[1] else None))
    return problems


# ----------------------------------------------------------------------------------------------------
# validation


def validate_image_folder(root: str | os.PathLike, splits: Sequence[str] | None = None, min_per_class: int = 5,
                          check_duplicates: bool = True, progress: bool = True, *,
                          near_duplicate_distance: int | None = NEAR_DUPLICATE_DISTANCE) -> FolderReport:
    """Check an image folder file by file and return a :class:`FolderReport` (it never raises for data).

    Args:
        root: the dataset folder (``root/<split>/<class>/<image>`` or ``root/<class>/<image>``).
        splits: the split folder names to check, e.g. ``["train", "valid"]``; every one must exist and
            other folders at the top are reported (info) and not checked. ``None``: detect train, val,
            test and ``test_*``; any other top folder is then an error (a misnamed split loses its images).
        min_per_class: fewer readable images than this in a class of a split is a ``tiny_class`` warning.
        check_duplicates: compare sha256 of the bytes and of the decoded pixels across all splits, and
            the :func:`perceptual_hash` of each image across splits (near-duplicates).
        progress: show a progress bar while opening the images.
        near_duplicate_distance: two images in different splits whose perceptual hashes differ in at
            most this many bits are a ``near_duplicate_across_splits`` warning (default
            :data:`NEAR_DUPLICATE_DISTANCE`, chosen by measurement); ``None`` skips this check.

    Severities: errors = the loader would lose or mislabel data (unreadable/empty/non-image files,
    images in the wrong place, empty classes, a class missing from train, the same image in two splits
    or in two classes); warnings = worth fixing (tiny classes, a class missing from val/test, a repeated
    image in one class, stray non-image files, a near-duplicate across splits); info = harmless (odd
    colour modes, size outliers, hidden/system files such as .DS_Store or .ipynb_checkpoints, which are
    never loaded).

    Near-duplicates: the same picture exported twice (JPEG quality 95 in train, 60 in val; or resized)
    has other bytes and other pixels, so only its perceptual hash gives it away. Each such pair across
    two splits is one warning naming both files and their distance (a warning, not an error: two
    different pictures can, rarely, hash alike; look at both). Pairs that are exact duplicates keep
    their ``duplicate_across_splits`` error and are not reported again. Near-duplicates *within* one
    split are not reported: they leak nothing between splits, and burst shots of one object are normal
    in a training folder (exact copies in a split still are, as ``duplicate_within_split``). The hash
    is computed in the same pass that decodes each image; all pairs across splits are compared with
    vectorised XOR + popcount (10,000 images in about a second).

    >>> report = validate_image_folder("photos")   # doctest: +SKIP
    >>> report.ok, report.counts["train"]          # doctest: +SKIP
    (True, {'cat': 40, 'dog': 38})
    """
    from tqdm.auto import tqdm

    if int(min_per_class) < 1:
        raise ValueError(f"min_per_class must be >= 1; got {min_per_class}")
    if near_duplicate_distance is not None and not 0 <= int(near_duplicate_distance) < PERCEPTUAL_HASH_BITS:
        raise ValueError(f"near_duplicate_distance must be None or 0..{PERCEPTUAL_HASH_BITS - 1} bits; got "
                         f"{near_duplicate_distance!r} (default {NEAR_DUPLICATE_DISTANCE})")
    near = check_duplicates and near_duplicate_distance is not None
    scan = _scan(Path(root), splits)
    root = scan.root
    problems = list(scan.problems)
    classes = scan.classes
    counts: dict[str, dict[str, int]] = {s: {c: 0 for c in classes} for s in scan.splits}

    jobs = [(s, c, p) for s in scan.splits for c in sorted(scan.candidates[s]) for p in scan.candidates[s][c]]
    failures: dict[tuple[str, str], list[tuple[Path, str, str]]] = defaultdict(list)  # -> (path, kind, text)
    good: list[tuple[str, str, Path, str | None, str | None, tuple[int, int]]] = []
    phashes: list[np.ndarray] = []  # perceptual_hash of good[i], when near-duplicates are checked
    modes: list[tuple[str, str, Path, str]] = []
    for split, cls, path in tqdm(jobs, desc=f"checking {root.name}", unit="img", disable=not progress):
        rel = _rel(path, root)
        try:
            data = path.read_bytes()
        except OSError as err:
            why = "the link points nowhere" if path.is_symlink() and not path.exists() else err.strerror or str(err)
            failures[(split, cls)].append((path, "unreadable", f"{rel}: cannot be read ({why}) — check the file "
                                                               "and its permissions, or delete it"))
            continue
        if not data:
            failures[(split, cls)].append((path, "empty_file", f"{rel}: empty file (0 bytes; an interrupted copy "
                                                               "or download?) — copy it again or delete it"))
            continue
        try:
            rgb, mode, fmt = _decode(data)
        except UnidentifiedImageError:
            magic = _magic_format(data)
            if magic:  # an image file's signature, but PIL cannot parse the header: cut short or damaged
                failures[(split, cls)].append((path, "unreadable", f"{rel}: cannot be decoded (a {magic} file whose "
                                                                   f"header is cut short or damaged, {len(data)} bytes) "
                                                                   "— copy or download it again, or delete it"))
            else:
                failures[(split, cls)].append((path, "not_an_image", f"{rel}: not an image — {_sniff(data)}; replace "
                                                                     "it with the real image or delete it"))
            continue
        except Image.DecompressionBombError as err:
            failures[(split, cls)].append((path, "unreadable", f"{rel}: too large to open safely ({err}) — shrink "
                                                               "it to a few thousand pixels per side"))
            continue
        except Exception as err:  # noqa: BLE001 - every decoder failure is reported, whatever its type
            if _is_text(data):  # some plugins (e.g. a HEIF opener another library registered) raise other errors
                failures[(split, cls)].append((path, "not_an_image", f"{rel}: not an image — {_sniff(data)}; "
                                                                     "replace it with the real image or delete it"))
                continue
            magic = _magic_format(data)
            if magic and isinstance(err, ImportError):  # another library's opener, tried after PIL gave up
                failures[(split, cls)].append((path, "unreadable", f"{rel}: cannot be decoded (a {magic} file whose "
                                                                   f"header is cut short or damaged, {len(data)} bytes) "
                                                                   "— copy or download it again, or delete it"))
                continue
            fmt_guess = path.suffix.lstrip(".").upper().replace("JPG", "JPEG")
            reason = f"truncated {fmt_guess}: {err}" if "truncat" in str(err).lower() else \
                f"{type(err).__name__}: {err}"
            failures[(split, cls)].append((path, "unreadable", f"{rel}: cannot be decoded ({reason}) — re-export "
                                                               "it or delete it"))
            continue
        byte_hash = hashlib.sha256(data).hexdigest() if check_duplicates else None
        pixel_hash = hashlib.sha256(rgb.tobytes() + repr(rgb.size).encode()).hexdigest() if check_duplicates else None
        good.append((split, cls, path, byte_hash, pixel_hash, (rgb.height, rgb.width)))
        if near:
            phashes.append(perceptual_hash(rgb))
        counts[split][cls] += 1
        if mode != "RGB":
            modes.append((split, cls, path, mode))

    # decode failures, each with how much of its class it affects
    for (split, cls), fails in failures.items():
        n = len(scan.candidates[split][cls])
        where = f"class {cls!r}" + (f" of {split}" if scan.layout == "splits" else "")
        for path, kind, text in fails:
            problems.append(Problem(kind, "error", path, f"{text}; {len(fails)} of {n} files in {where} are affected",
                                    split, cls))

    # empty / tiny classes, classes missing from a split
    for split in scan.splits:
        for cls, folder in scan.class_dirs[split].items():
            n, n_files = counts[split][cls], len(scan.candidates[split][cls])
            rel = _rel(folder, root)
            if n == 0:
                why = (f"its {n_files} image file(s) cannot be read (see above)" if n_files else
                       "it holds no image files")
                problems.append(Problem("empty_class", "error", folder,
                                        f"{rel}/: class {cls!r} has no readable image ({why}) — add images or "
                                        "delete the folder", split, cls))
            elif n < min_per_class:
                problems.append(Problem("tiny_class", "warning", tuple(scan.candidates[split][cls]) or (folder,),
                                        f"{rel}/: class {cls!r} has only {n} readable image(s) (min_per_class="
                                        f"{min_per_class}): {_names(scan.candidates[split][cls], root)} — add more "
                                        "(a few dozen per class is a good start)",
                                        split, cls))
    if scan.layout == "splits" and len(scan.splits) > 1:
        for cls in classes:
            have = [s for s in scan.splits if cls in scan.class_dirs[s]]
            for split in scan.splits:
                if cls in scan.class_dirs[split] or not scan.class_dirs[split]:
                    continue  # (a split with no class folder at all is already an error)
                missing = root / split / cls
                if split == "train":
                    problems.append(Problem(
                        "class_missing_in_split", "error", missing,
                        f"train/{cls}/ is missing: class {cls!r} is in {', '.join(have)} but not in train, so a model "
                        f"can never learn it — add train/{cls}/ with images, or remove {cls!r} from "
                        f"{', '.join(have)}", split, cls))
                else:
                    problems.append(Problem(
                        "class_missing_in_split", "warning", missing,
                        f"{split}/{cls}/ is missing: class {cls!r} is in {', '.join(have)} but not in {split}, so "
                        f"{split} cannot measure it — add {split}/{cls}/ with images (labels stay the same: classes "
                        f"are shared by all splits)", split, cls))

    # duplicates: identical bytes first, then identical decoded pixels in different files
    if check_duplicates:
        seen_pairs: set[frozenset] = set()
        for which, index in (("identical bytes", 3), ("identical pixels, different files", 4)):
            groups: dict[str, list] = defaultdict(list)
            for rec in good:
                groups[rec[index]].append(rec)
            for recs in groups.values():
                if len(recs) < 2:
                    continue
                key = frozenset(r[2] for r in recs)
                if key in seen_pairs:
                    continue
                seen_pairs.add(key)
                paths = tuple(r[2] for r in recs)
                names = _names(paths, root)
                rec_splits = sorted({r[0] for r in recs}, key=scan.splits.index)
                rec_classes = sorted({r[1] for r in recs})
                if len(rec_splits) > 1:
                    problems.append(Problem(
                        "duplicate_across_splits", "error", paths,
                        f"{names}: the same image ({which}) in {' and '.join(rec_splits)} — an image the model "
                        f"trained on inflates the {rec_splits[-1]} score; keep it in one split only and delete the "
                        "other copies", None, rec_classes[0] if len(rec_classes) == 1 else None))
                elif len(rec_classes) > 1:
                    problems.append(Problem(
                        "duplicate_within_split", "error", paths,
                        f"{names}: the same image ({which}) labelled as {' and '.join(map(repr, rec_classes))} in "
                        f"{rec_splits[0]} — decide which class it is and delete the other copies", rec_splits[0],
                        None))
                else:
                    problems.append(Problem(
                        "duplicate_within_split", "warning", paths,
                        f"{names}: the same image ({which}) {len(paths)} times in class {rec_classes[0]!r} — "
                        "it counts extra in training; delete the copies", rec_splits[0], rec_classes[0]))

    # near-duplicates across splits: perceptual hashes close, but not the same bytes or pixels
    if near and len(scan.splits) > 1 and good:
        problems.extend(_near_duplicates(good, np.stack(phashes), scan.splits, int(near_duplicate_distance), root))

    # odd colour modes and size outliers (info)
    for split, cls, path, mode in modes:
        problems.append(Problem("odd_mode", "info", path, f"{_rel(path, root)}: {_mode_note(mode)}", split, cls))
    if len(good) >= 3:
        short_med = statistics.median(min(r[5]) for r in good)
        long_med = statistics.median(max(r[5]) for r in good)
        for split, cls, path, _b, _p, (h, w) in good:
            short, long_ = min(h, w), max(h, w)
            why = []
            if short < max(16, short_med / 4):
                why.append(f"much smaller than the typical {int(short_med)} px short side")
            if long_ > 4 * long_med:
                why.append(f"much larger than the typical {int(long_med)} px long side")
            if long_ > 4 * short:
                why.append("very elongated (over 4:1)")
            if why:
                problems.append(Problem("size_outlier", "info", path,
                                        f"{_rel(path, root)}: {h}x{w} px (h x w) is {' and '.join(why)} — check it "
                                        "is a real photo of the class (a thumbnail, icon or banner?)", split, cls))

    # the promise: every file is loaded or named in a problem that says why not
    named = {p for prob in problems if prob.kind in _NOT_LOADED_KINDS for p in prob.paths}
    not_loaded = set(scan.all_files) - {rec[2] for rec in good}
    unaccounted = not_loaded - named
    if unaccounted:  # pragma: no cover - a bug in this module, never the learner's fault
        raise RuntimeError(f"coursekit bug: {len(unaccounted)} files neither loaded nor reported, e.g. "
                           f"{sorted(unaccounted)[:3]}; please report it")

    order = {s: i for i, s in enumerate(SEVERITIES)}
    problems.sort(key=lambda p: order[p.severity])  # stable: within a severity, discovery order
    return FolderReport(root=root, layout=scan.layout, splits=list(scan.splits), classes=classes, counts=counts,
                        problems=problems, n_files=len(set(scan.all_files)), not_loaded=sorted(not_loaded))


# ----------------------------------------------------------------------------------------------------
# listing and loading


def _pick_split(scan: _Scan, split: str | None) -> str:
    if scan.layout == "flat":
        if split not in (None, FLAT_SPLIT):
            raise ValueError(f"{scan.root} has no split folders (flat layout root/<class>/<image>), so there is no "
                             f"split {split!r}; pass split=None to load all of it")
        return FLAT_SPLIT
    if split is None:
        raise ValueError(f"{scan.root} has split folders ({', '.join(scan.splits)}); pass split=, "
                         f"e.g. split={scan.splits[0]!r}")
    if split not in scan.splits:
        raise ValueError(f"split {split!r} not found in {scan.root}; it has {', '.join(scan.splits) or 'none'}")
    return split


def list_image_folder(root: str | os.PathLike, split: str | None = None,
                      splits: Sequence[str] | None = None) -> list[tuple[Path, int]]:
    """``[(path, label), ...]`` of one split, in the order :func:`load_image_folder` loads them.

    Classes are sorted by name (``sorted()``, like torchvision) over **all** splits, so a label means
    the same class in train, val and test even when a split lacks a class; files are sorted by name
    within a class. This lists by layout and file extension only and opens nothing: use
    :func:`validate_image_folder` to check the files. ``split=None`` for the flat layout.

    >>> files = list_image_folder("photos", "train")   # doctest: +SKIP
    >>> ds = load_image_folder("photos", "train")        # doctest: +SKIP
    >>> files[7]                                         # the file behind ds[7]  # doctest: +SKIP
    (PosixPath('/home/me/photos/train/cat/img_007.jpg'), 0)
    """
    scan = _scan(Path(root), splits)
    split = _pick_split(scan, split)
    classes = scan.classes
    return [(p, classes.index(c)) for c in sorted(scan.candidates[split]) for p in scan.candidates[split][c]]


def _resize(im: Image.Image, size: tuple[int, int], resize: str) -> Image.Image:
    h, w = size
    if resize == "stretch":
        return im.resize((w, h), Image.Resampling.BILINEAR)
    return ImageOps.fit(im, (w, h), Image.Resampling.BILINEAR, centering=(0.5, 0.5))


def load_image_folder(root: str | os.PathLike, split: str | None = None,
                      image_size: int | tuple[int, int] | None = None, validate: bool = True, *,
                      resize: str = "stretch", splits: Sequence[str] | None = None, min_per_class: int = 5,
                      report: FolderReport | None = None, progress: bool = True) -> ArrayDataset:
    """Load one split of an image folder as an :class:`ArrayDataset` (uint8 NHWC RGB, int64 labels).

    Args:
        root: the dataset folder; see :func:`validate_image_folder` for the layouts.
        split: ``"train"``, ``"val"``, ``"test"``, ``"test_shifted"``...; ``None`` for the flat layout.
        image_size: ``(h, w)`` (or one int for square) to resize every image to; ``None`` keeps the
            size, and then all images must have the same size.
        validate: check the whole folder first (:func:`validate_image_folder`); with errors nothing is
            loaded and :class:`ImageFolderError` lists them all; warnings for this split are printed.
            ``False`` skips the check (an unreadable file still raises, naming it; nothing is skipped).
        resize: ``"stretch"`` (default): resize to exactly (h, w), aspect ratio not kept, like
            ``torchvision.transforms.Resize((h, w))``; ``"crop"``: scale to cover (h, w) keeping the
            aspect ratio, then cut the centre. Both use PIL bilinear, antialiased when shrinking.
        splits, min_per_class: passed to :func:`validate_image_folder`.
        report: a report of this folder from :func:`validate_image_folder` to reuse instead of
            checking again (e.g. when loading train, val and test one after the other).
        progress: progress bars.

    Images get their EXIF orientation applied (as photo viewers show them); grayscale, palette,
    CMYK and 16-bit images are converted to 8-bit RGB and transparency is dropped (torchvision does
    the same). Labels index ``dataset.classes``, the class names of all splits sorted like torchvision.
    :func:`list_image_folder` gives the file of each image: ``dataset[i]`` comes from ``files[i]``.

    >>> train = load_image_folder("photos", "train", image_size=(128, 128))  # doctest: +SKIP
    >>> train                                                                  # doctest: +SKIP
    ArrayDataset('photos train': 78 images (128, 128, 3), 2 classes)
    """
    from tqdm.auto import tqdm

    if resize not in ("stretch", "crop"):
        raise ValueError(f"resize={resize!r}: use 'stretch' (exact size, aspect not kept) or 'crop' "
                         "(keep aspect, cut the centre)")
    if image_size is not None:
        hw = (int(image_size), int(image_size)) if np.isscalar(image_size) else tuple(int(v) for v in image_size)
        if len(hw) != 2 or min(hw) < 1:
            raise ValueError(f"image_size must be (height, width) with both >= 1, or one int; got {image_size!r}")
        image_size = hw
    scan = _scan(Path(root), splits)
    split = _pick_split(scan, split)
    root = scan.root
    if validate:
        if report is None:
            report = validate_image_folder(root, splits=splits, min_per_class=min_per_class, progress=progress)
        elif Path(report.root).resolve() != root:
            raise ValueError(f"report is for {report.root}, not {root}; validate this folder instead")
        report.raise_if_errors()
        mine = [p for p in report.warnings if p.split in (split, None)]
        if mine:
            print(f"{len(mine)} warning(s) for {root.name} {split} (loading anyway):\n"
                  + "\n".join(f"  - {p.message}" for p in mine))
    classes = scan.classes
    files = [(p, classes.index(c)) for c in sorted(scan.candidates[split]) for p in scan.candidates[split][c]]
    name = root.name if scan.layout == "flat" else f"{root.name} {split}"
    if not files:
        raise ImageFolderError(f"{name}: no images to load in {root if scan.layout == 'flat' else root / split} "
                               "— add <class>/<image> files", report)
    if not classes:  # pragma: no cover - files imply classes
        raise ImageFolderError(f"{root}: no class folders", report)

    images: np.ndarray | None = None
    sizes: dict[tuple[int, int], list[Path]] = defaultdict(list)
    for i, (path, _label) in enumerate(tqdm(files, desc=f"loading {name}", unit="img", disable=not progress)):
        try:
            rgb, _mode, _fmt = _decode(path.read_bytes())
        except Exception as err:  # noqa: BLE001 - name the file whatever went wrong
            raise ImageFolderError(f"{_rel(path, root)}: cannot be read or decoded ({type(err).__name__}: {err}) — "
                                   "re-export it or delete it (validate_image_folder lists every such file)",
                                   report) from err
        if image_size is not None:
            rgb = _resize(rgb, image_size, resize)
        hw = (rgb.height, rgb.width)
        sizes[hw].append(path)
        if images is None:
            nbytes = len(files) * hw[0] * hw[1] * 3
            if nbytes > MAX_LOAD_BYTES:
                raise ImageFolderError(f"{name}: {len(files)} images of {hw[0]}x{hw[1]} would take "
                                       f"{nbytes / 1024**3:.1f} GiB of memory — pass a smaller image_size, e.g. "
                                       "image_size=(224, 224)", report)
            images = np.empty((len(files), *hw, 3), dtype=np.uint8)
        if hw == images.shape[1:3]:
            images[i] = np.asarray(rgb, dtype=np.uint8)
    if len(sizes) > 1:
        common = sorted(sizes.items(), key=lambda kv: -len(kv[1]))
        lines = "\n".join(f"  - {len(ps)} image(s) of {h}x{w} (h x w), e.g. {_names(ps[:3], root)}"
                          for (h, w), ps in common)
        raise ImageFolderError(f"{name}: images have {len(sizes)} different sizes, so they cannot be stacked "
                               f"into one array:\n{lines}\npass image_size=(h, w) to resize them "
                               f"(e.g. image_size={common[0][0]})", report)
    labels = np.array([label for _p, label in files], dtype=np.int64)
    return ArrayDataset(images, labels, list(classes), name=name)
