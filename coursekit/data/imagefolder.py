"""A learner's own image folder, checked file by file: ``root/<split>/<class>/<image>`` (splits train, val,
test, ``test_<x>``) or flat ``root/<class>/<image>``.

>>> report = validate_image_folder("photos")                     # doctest: +SKIP
"""
from __future__ import annotations

import hashlib
import itertools
import os
import statistics
from collections import defaultdict
from dataclasses import dataclass
from difflib import get_close_matches
from pathlib import Path
from typing import Sequence

import numpy as np
from PIL import Image

from .validate import (IMAGE_EXTENSIONS, SEVERITIES, Problem as _Problem, Report, check_image,
                       is_image_name as _is_image_name, is_junk as _is_junk, rel as _rel, table, to_rgb)

__all__ = ["STANDARD_SPLITS", "FLAT_SPLIT", "NEAR_DUPLICATE_DISTANCE", "PERCEPTUAL_HASH_BITS", "perceptual_hash",
           "hash_distance", "validate_image_folder"]


def Problem(kind, severity, paths, message, split=None, class_name=None) -> _Problem:  # noqa: N802
    return _Problem(kind, severity, paths, message, split=split, class_name=class_name)


STANDARD_SPLITS = ("train", "val", "test")  # split folders detected when splits=None; test_<x> is one too
FLAT_SPLIT = "all"  # the split name of the flat layout root/<class>/<image>
_SPLIT_ALIASES = {**{s: s for s in STANDARD_SPLITS}, "validation": "val", "valid": "val", "training": "train",
                  "testing": "test"}  # a misnamed split folder -> the name to give it
_NOT_LOADED_KINDS = ("unreadable", "not_an_image", "empty_file", "wrong_layout")  # their files are not loaded
#: Image formats people have that PIL cannot read here: a hint for each.
_UNSUPPORTED_IMAGE_HINTS = {
    ".heic": "HEIC (iPhone photo format) is not supported: export it as JPEG (Photos: File > Export, "
             "or set Camera > Formats > Most Compatible)",
    ".heif": "HEIF is not supported: export it as JPEG", ".avif": "AVIF is not supported: convert it to JPEG or PNG",
    ".gif": "GIF is not read as a training image: convert it to PNG",
    ".svg": "SVG is a vector drawing, not a photo: export it as PNG", ".jfif": "rename it to .jpg (JFIF is JPEG)",
    **dict.fromkeys((".dng", ".cr2", ".nef", ".arw"), "camera RAW is not supported: export it as JPEG"),
}
_META_SUFFIXES = {".md", ".txt", ".csv", ".json", ".yaml", ".yml", ".rst", ""}  # README, LICENSE, labels, manifest
_MAX_NAMES = 10  # file names spelled out in one message (the rest are in Problem.paths)
PERCEPTUAL_HASH_BITS = 512  # perceptual_hash: a 16x16 pHash (256 bits) then a 16x16 dHash (256 bits)
#: Max Hamming distance of two images' perceptual hashes across splits that counts as a near-duplicate.
#: Measured on the shipped inspection renders: re-encoded/resized copies stay within 38 bits, distinct
#: pictures are at least 95 apart (tests/test_imagefolder.py measures it again).
NEAR_DUPLICATE_DISTANCE = 64
_HASH_MIN_SIDE = 128  # larger images are first shrunk (Image.reduce) to at least this before hashing
_HASH_SIDE = 64  # pHash with hash_size=16 reads a 64x64 grey image (imagehash's highfreq_factor=4)


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


def _names(paths: Sequence[Path], root: Path) -> str:
    shown = ", ".join(_rel(p, root) for p in paths[:_MAX_NAMES])
    return shown + (f" and {len(paths) - _MAX_NAMES} more (see Problem.paths)" if len(paths) > _MAX_NAMES else "")


def _files_under(folder: Path, on_error) -> list[Path]:
    """Every file below ``folder``, sorted; links to folders are listed, not followed."""
    out = []
    for dirpath, dirs, files in os.walk(folder, onerror=on_error):
        out.extend(Path(dirpath) / f for f in files)
        out.extend(Path(dirpath) / d for d in dirs if (Path(dirpath) / d).is_symlink())
    return sorted(out)


def _is_split_name(name: str) -> bool:
    return name in STANDARD_SPLITS or name.startswith("test_")


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
    class_dirs: dict[str, dict[str, Path]] = defaultdict(dict)
    candidates: dict[str, dict[str, list[Path]]] = defaultdict(dict)

    def walk_error(err: OSError) -> None:
        problems.append(Problem("unreadable", "error", Path(err.filename or root),
                                f"{_rel(Path(err.filename or root), root)}: folder cannot be listed ({err.strerror}) "
                                "— fix its permissions"))

    def entries(folder: Path) -> list[os.DirEntry]:
        try:
            with os.scandir(folder) as it:
                return sorted(it, key=lambda e: e.name)
        except OSError as err:
            walk_error(err)
            return []

    def note(severity: str, paths: list[Path], text: str, split: str | None, cls: str | None = None) -> None:
        """One wrong_layout problem naming ``paths``, which are accounted for as not loaded."""
        if paths:
            all_files.extend(paths)
            problems.append(Problem("wrong_layout", severity, tuple(paths), f"{_names(paths, root)}: {text}",
                                    split, cls))

    def junk(paths: list[Path], where: str, split: str | None) -> None:
        note("info", paths, f"system/hidden file(s) in {where}, not loaded (harmless; delete them to silence this)",
             split)

    def misplaced(paths: list[Path], where: str, fix: str, split: str | None, cls: str | None = None) -> None:
        """Files that are in the wrong place: images are errors (they would be lost), others warnings."""
        images = [p for p in paths if _is_image_name(p.name)]
        others = [p for p in paths if not _is_image_name(p.name)]
        note("error", images, f"{len(images)} image(s) {where} — {fix}", split, cls)
        note("warning", others, f"{len(others)} non-image file(s) {where}, not loaded (only "
             f"{'/'.join(e[1:] for e in IMAGE_EXTENSIONS)} are images) — move them out of the dataset folder",
             split, cls)

    def visible(listed: list[os.DirEntry], split: str | None, where: str):
        """The entries that are not system clutter; the clutter is reported (info) once they are consumed."""
        junk_files = []
        for e in listed:
            if not _is_junk(e.name):
                yield e
            elif e.is_dir():
                junk(_files_under(Path(e.path), walk_error), f"hidden/system folder {_rel(Path(e.path), root)}/", split)
            else:
                junk_files.append(Path(e.path))
        junk(junk_files, where, split)

    def scan_class(split: str, cls: str, folder: Path) -> None:
        class_dirs[split][cls] = folder
        found: list[Path] = []
        stray: list[Path] = []  # files that are not images: reported, not loaded
        for e in visible(entries(folder), split, f"{_rel(folder, root)}/"):
            path = Path(e.path)
            if e.is_dir():
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
        misplaced(stray, f"in class folder {_rel(folder, root)}/", "", split, cls)
        all_files.extend(found)
        candidates[split][cls] = found

    def scan_split(split: str, folder: Path) -> None:
        loose: list[Path] = []
        for e in visible(entries(folder), split, f"{_rel(folder, root)}/"):
            if e.is_dir():
                scan_class(split, e.name, Path(e.path))
            else:
                loose.append(Path(e.path))
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

    if layout == "flat":
        scan_split(FLAT_SPLIT, root)
        found_splits = [FLAT_SPLIT]
        # a flat folder whose "classes" hold no images but sub-folders: unrecognised split names
        deep = [p for p in problems if p.kind == "wrong_layout" and "nested too deep" in p.message]
        if deep and not any(candidates[FLAT_SPLIT].values()):
            names = ", ".join(sorted({p.class_name for p in deep if p.class_name}))
            problems.append(Problem(
                "wrong_layout", "error", root,
                f"{root.name}/: the folders {names} hold sub-folders, not images — if they are splits, rename "
                f"them to train/val/test (or test_<name>), or pass splits=[...] with their names"))
    else:
        found_splits, loose = [], []
        for e in visible(top, None, "the dataset folder"):
            path = Path(e.path)
            if not e.is_dir():
                loose.append(path)
            elif (e.name in splits) if explicit else _is_split_name(e.name):
                found_splits.append(e.name)
                scan_split(e.name, path)
            else:
                inside = _files_under(path, walk_error)
                if explicit:
                    all_files.extend(inside)
                    problems.append(Problem("wrong_layout", "info", tuple(inside) or (path,),
                                            f"{e.name}/ is not one of splits={splits}, so it was not checked or "
                                            f"loaded ({len(inside)} files)"))
                    continue
                like = get_close_matches(e.name.lower(), _SPLIT_ALIASES, n=1, cutoff=0.6)
                fix = (f"rename {e.name}/ to {_SPLIT_ALIASES[like[0]]}/" if like else
                       f"rename {e.name}/ to train, val, test or test_<name>, or move it out")
                fix += " (or pass splits=[...] naming your split folders)"
                if inside:
                    misplaced(inside, f"in {e.name}/, which is not a split folder", fix, None)
                else:
                    problems.append(Problem("wrong_layout", "warning", path,
                                            f"{e.name}/: empty folder that is not a split — delete it"))
        meta = [p for p in loose if p.suffix.lower() in _META_SUFFIXES and not _is_image_name(p.name)]
        note("info", meta, "dataset documentation/metadata, not loaded", None)  # README, labels.csv, ...
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
            found_splits.sort(key=lambda n: (STANDARD_SPLITS.index(n), n) if n in STANDARD_SPLITS else (3, n))
            if "train" not in found_splits:
                problems.append(Problem("wrong_layout", "info", root / "train",
                                        f"no train/ folder in {root.name}/ (found {', '.join(found_splits)}): fine "
                                        "for evaluation only; to train, add train/<class>/<image>"))

    return _Scan(root, layout, found_splits, {s: class_dirs[s] for s in found_splits},
                 {s: candidates[s] for s in found_splits}, problems, all_files)


_MODE_NOTES = {"L": "grayscale; copied into 3 channels", "1": "1-bit black and white; converted to RGB",
               **dict.fromkeys(("P", "PA"), "palette (indexed-colour) image; converted to RGB"),
               **dict.fromkeys(("RGBA", "LA", "La", "RGBa"), "has transparency; the alpha channel is dropped "
                               "(transparent pixels show their hidden colour)"),
               "CMYK": "CMYK (print colours); converted with a simple formula, colours may look off — re-export "
                       "as sRGB"}


def _mode_note(mode: str) -> str:
    if mode.startswith("I") or mode == "F":
        return f"{'16' if mode.startswith('I;16') else '32'}-bit ({mode}); scaled to 8 bits"
    return _MODE_NOTES.get(mode, f"mode {mode}; converted to RGB")


def perceptual_hash(image: Image.Image) -> np.ndarray:
    """A 512-bit perceptual hash (imagehash pHash + dHash, ``hash_size=16``, of a 64x64 grey copy) as 8 ``uint64``.

    >>> img = Image.linear_gradient("L").convert("RGB")
    >>> h = perceptual_hash(img)
    >>> h.shape, h.dtype, hash_distance(h, perceptual_hash(img.resize((128, 128))))
    ((8,), dtype('uint64'), 0)
    >>> hash_distance(h, perceptual_hash(img.rotate(90))) > NEAR_DUPLICATE_DISTANCE
    True
    """
    import imagehash

    if image.mode not in ("RGB", "L"):
        image = to_rgb(image)
    factor = min(image.size) // _HASH_MIN_SIDE
    if factor >= 2:
        image = image.reduce(factor)
    grey = image.convert("L")
    if grey.size != (_HASH_SIDE, _HASH_SIDE):
        grey = grey.resize((_HASH_SIDE, _HASH_SIDE), Image.Resampling.LANCZOS)
    bits = np.concatenate([imagehash.phash(grey, hash_size=16).hash.ravel(),
                           imagehash.dhash(grey, hash_size=16).hash.ravel()])
    return np.packbits(bits).view(np.uint64)


def hash_distance(a: np.ndarray, b: np.ndarray) -> int:
    """How many bits two :func:`perceptual_hash` values differ in (0 .. :data:`PERCEPTUAL_HASH_BITS`).

    >>> hash_distance(np.zeros(8, np.uint64), np.full(8, 255, np.uint64))
    64
    >>> hash_distance(5, 6)
    2
    """
    return int(np.unpackbits(np.atleast_1d(np.bitwise_xor(np.asarray(a, np.uint64), np.asarray(b, np.uint64))).view(np.uint8)).sum())


def _close_pairs(a: np.ndarray, b: np.ndarray, max_distance: int,
                 block: int = 1 << 20) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every (i, j, distance) with ``hash_distance(a[i], b[j]) <= max_distance``: Hamming distances of the bit
    vectors as ``|x| + |y| - 2 x.y`` (one matrix product per block of rows)."""
    def bits(h: np.ndarray) -> np.ndarray:
        return np.unpackbits(np.ascontiguousarray(h).view(np.uint8), axis=1).astype(np.float32)

    bb = bits(b)
    rows, cols, dists = [np.zeros(0, np.intp)], [np.zeros(0, np.intp)], [np.zeros(0, np.uint16)]
    step = max(1, block // max(len(b), 1))
    for start in range(0, len(a) if len(b) else 0, step):
        ba = bits(a[start:start + step])
        dist = ba.sum(1)[:, None] + bb.sum(1)[None, :] - 2 * ba @ bb.T
        r, c = np.nonzero(dist <= max_distance)
        rows.append(r + start)
        cols.append(c)
        dists.append(dist[r, c].astype(np.uint16))
    return np.concatenate(rows), np.concatenate(cols), np.concatenate(dists)


def _near_duplicates(good: list[tuple], hashes: np.ndarray, splits: Sequence[str], max_distance: int,
                     root: Path) -> list[Problem]:
    """A warning per close pair in two splits; ``good[i]`` is ``(split, class, path, byte sha, pixel sha, size)``."""
    split_of = np.array([splits.index(rec[0]) for rec in good])
    members = [np.flatnonzero(split_of == k) for k in range(len(splits))]
    found = []
    for ia, ib in itertools.combinations(members, 2):
        rows, cols, dists = _close_pairs(hashes[ia], hashes[ib], max_distance)
        for r, c, d in zip(rows.tolist(), cols.tolist(), dists.tolist()):
            a, b = good[ia[r]], good[ib[c]]
            if a[3] != b[3] and a[4] != b[4]:  # (identical bytes or pixels are reported as duplicates)
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


def validate_image_folder(root: str | os.PathLike, splits: Sequence[str] | None = None, min_per_class: int = 5,
                          check_duplicates: bool = True, progress: bool = True, *,
                          near_duplicate_distance: int | None = NEAR_DUPLICATE_DISTANCE) -> Report:
    """Check every file (fully decoded; duplicates by sha256 and :func:`perceptual_hash`) and return a
    :class:`Report` whose problems name each file and its fix; never raises for data.

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
    for split, cls, path in tqdm(jobs, desc=f"checking {root.name}", unit="img", disable=not progress):
        rel = _rel(path, root)
        try:
            data = path.read_bytes()
        except OSError as err:
            why = "the link points nowhere" if path.is_symlink() and not path.exists() else err.strerror or str(err)
            failures[(split, cls)].append((path, "unreadable", f"{rel}: cannot be read ({why}) — check the file "
                                                               "and its permissions, or delete it"))
            continue
        rgb, mode, why = check_image(data, path.suffix)
        if rgb is None:
            failures[(split, cls)].append((path, mode, f"{rel}: {why}"))
            continue
        byte_hash = hashlib.sha256(data).hexdigest() if check_duplicates else None
        pixel_hash = hashlib.sha256(rgb.tobytes() + repr(rgb.size).encode()).hexdigest() if check_duplicates else None
        good.append((split, cls, path, byte_hash, pixel_hash, (rgb.height, rgb.width)))
        if near:
            phashes.append(perceptual_hash(rgb))
        counts[split][cls] += 1
        if mode != "RGB":  # (info: sorted after the errors and warnings found below)
            problems.append(Problem("odd_mode", "info", path, f"{rel}: {_mode_note(mode)}", split, cls))

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
                train = split == "train"
                why = "a model can never learn it" if train else f"{split} cannot measure it"
                fix = (f"add train/{cls}/ with images, or remove {cls!r} from {', '.join(have)}" if train else
                       f"add {split}/{cls}/ with images (labels stay the same: classes are shared by all splits)")
                problems.append(Problem(
                    "class_missing_in_split", "error" if train else "warning", root / split / cls,
                    f"{split}/{cls}/ is missing: class {cls!r} is in {', '.join(have)} but not in {split}, so {why} "
                    f"— {fix}", split, cls))

    # duplicates: identical bytes first, then identical decoded pixels in different files
    if check_duplicates:
        seen: set[frozenset] = set()
        for which, index in (("identical bytes", 3), ("identical pixels, different files", 4)):
            groups: dict[str, list] = defaultdict(list)
            for rec in good:
                groups[rec[index]].append(rec)
            for recs in groups.values():
                paths = tuple(r[2] for r in recs)
                if len(recs) < 2 or frozenset(paths) in seen:
                    continue
                seen.add(frozenset(paths))
                names = _names(paths, root)
                in_splits = sorted({r[0] for r in recs}, key=scan.splits.index)
                in_classes = sorted({r[1] for r in recs})
                if len(in_splits) > 1:
                    problems.append(Problem(
                        "duplicate_across_splits", "error", paths,
                        f"{names}: the same image ({which}) in {' and '.join(in_splits)} — an image the model "
                        f"trained on inflates the {in_splits[-1]} score; keep it in one split only and delete the "
                        "other copies", None, in_classes[0] if len(in_classes) == 1 else None))
                elif len(in_classes) > 1:
                    problems.append(Problem(
                        "duplicate_within_split", "error", paths,
                        f"{names}: the same image ({which}) labelled as {' and '.join(map(repr, in_classes))} in "
                        f"{in_splits[0]} — decide which class it is and delete the other copies", in_splits[0]))
                else:
                    problems.append(Problem(
                        "duplicate_within_split", "warning", paths,
                        f"{names}: the same image ({which}) {len(paths)} times in class {in_classes[0]!r} — "
                        "it counts extra in training; delete the copies", in_splits[0], in_classes[0]))

    # near-duplicates across splits: perceptual hashes close, but not the same bytes or pixels
    if near and len(scan.splits) > 1 and good:
        problems.extend(_near_duplicates(good, np.stack(phashes), scan.splits, int(near_duplicate_distance), root))

    # size outliers (info)
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

    problems.sort(key=lambda p: SEVERITIES.index(p.severity))  # stable: within a severity, discovery order
    tables = table("class", classes + ["total"], scan.splits,
                   lambda c, s: sum(counts[s].values()) if c == "total" else counts[s].get(c, 0)) if classes else []
    return Report(root=root, splits=list(scan.splits), counts=counts, problems=problems, source="image folder",
                  classes=classes, layout=scan.layout, n_images=sum(sum(c.values()) for c in counts.values()),
                  n_files=len(set(scan.all_files)), not_loaded=sorted(not_loaded), tables=tables)

