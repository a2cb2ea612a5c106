"""YOLO detection labels (``images/<split>/x.jpg`` + ``labels/<split>/x.txt``, one ``class cx cy w h`` line per
box, fractions of the image): read and check them line by line, convert boxes, write a dataset.

>>> report = validate_yolo_dataset("parts")             # doctest: +SKIP
>>> print(report.summary())                              # doctest: +SKIP
"""
from __future__ import annotations

import math
import os
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import yaml
from PIL import Image

from .validate import (IMAGE_EXTENSIONS, SEVERITIES, Problem, Report, check_image,
                       is_image_name, is_junk as _is_junk, rel as _rel, table)
from .yolo_yaml import Config, load_config

__all__ = ["YoloLabels", "read_yolo_labels", "validate_yolo_dataset", "xyxy_to_yolo", "yolo_to_xyxy",
           "write_yolo_dataset"]

#: Boxes in one file with the same class and an IoU above this are reported as duplicates.
DUPLICATE_IOU = 0.95

#: A box edge further than this (a fraction of the image) outside [0, 1] is ``box_outside_image``.
EDGE_TOLERANCE = 1e-3

#: Label files are written with this many decimals (5e-7 of the image: sub-pixel below 10^6 pixels).
DECIMALS = 6

_COLUMNS = ("x_center", "y_center", "width", "height")
_LINE_SPLIT = re.compile(r"\r\n|\n|\r")


@dataclass
class YoloLabels:
    """One label file: ``classes``, ``boxes`` (cx, cy, w, h fractions) and 1-based ``lines`` of the error-free
    lines (as ultralytics keeps them), and a :class:`Problem` per bad line."""

    path: Path
    classes: np.ndarray
    boxes: np.ndarray
    lines: np.ndarray
    problems: list[Problem] = field(default_factory=list)
    n_lines: int = 0

    def __len__(self) -> int:
        return len(self.classes)

    @property
    def errors(self) -> list[Problem]:
        return [p for p in self.problems if p.severity == "error"]


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


def yolo_line(cls: int, box: Sequence[float]) -> str:
    return f"{int(cls)} " + " ".join(f"{float(v):.{DECIMALS}f}" for v in box)


def header_size(path: Path) -> tuple[int, int]:
    """(width, height) as shown (EXIF orientation applied), from the header only."""
    with Image.open(path) as im:
        w, h = im.size
        try:
            swaps = im.getexif().get(0x0112, 1) in (5, 6, 7, 8)  # orientations that turn the image by 90 degrees
        except Exception:  # noqa: BLE001 - a broken EXIF block: the stored orientation is used
            swaps = False
    return (h, w) if swaps else (w, h)


def _open_full(path: Path) -> tuple[int, int]:
    """(width, height) after a full decode (EXIF orientation applied); a ValueError saying why if it cannot be."""
    rgb, _kind, why = check_image(path.read_bytes(), path.suffix)
    if rgb is None:
        raise ValueError(why)
    return rgb.width, rgb.height


def _convert(boxes, w, h, fmt_in: str, fmt_out: str, scale_in: bool) -> np.ndarray:
    """``torchvision.ops.box_convert`` on float64 numpy boxes (..., 4), scaled by the image size before or after."""
    import torch
    from torchvision.ops import box_convert

    b = np.asarray(boxes, dtype=np.float64)
    b = b.reshape(0, 4) if b.size == 0 else b
    if b.shape[-1] != 4:
        raise ValueError(f"boxes must have 4 numbers each (shape (..., 4)); got shape {b.shape}")
    w, h = np.asarray(w, dtype=np.float64), np.asarray(h, dtype=np.float64)
    if np.any(w <= 0) or np.any(h <= 0):
        raise ValueError(f"image width and height must be > 0 pixels; got w={w}, h={h}")
    scale = np.stack(np.broadcast_arrays(w, h, w, h), -1)
    b = b * scale if scale_in else b
    out = box_convert(torch.from_numpy(np.ascontiguousarray(b.reshape(-1, 4))), fmt_in, fmt_out)
    out = out.numpy().reshape(b.shape)
    return out if scale_in else out / scale


def xyxy_to_yolo(boxes, w, h) -> np.ndarray:
    """Pixel corners ``x1, y1, x2, y2`` -> YOLO ``cx, cy, w, h`` fractions of the image size ``w``, ``h``.

    >>> xyxy_to_yolo([[10, 20, 50, 60]], w=100, h=200).tolist()
    [[0.3, 0.2, 0.4, 0.2]]
    """
    return _convert(boxes, w, h, "xyxy", "cxcywh", scale_in=False)


def yolo_to_xyxy(boxes, w, h) -> np.ndarray:
    """YOLO ``cx, cy, w, h`` fractions -> pixel corners ``x1, y1, x2, y2`` (the inverse of :func:`xyxy_to_yolo`).

    >>> yolo_to_xyxy([[0.3, 0.2, 0.4, 0.2]], w=100, h=200).round(6).tolist()
    [[10.0, 20.0, 50.0, 60.0]]
    """
    return _convert(boxes, w, h, "cxcywh", "xyxy", scale_in=True)


def write_yolo_dataset(out_dir: str | os.PathLike, splits: Mapping[str, tuple], names: Sequence[str],
                       overwrite: bool = False) -> Path:
    """Write ``{"train": (RGB uint8 images (N, H, W, 3), one Detections each), ...}`` as a YOLO dataset (PNGs,
    labels, data.yaml), built aside and swapped in whole; returns the data.yaml path.

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
                    "".join(yolo_line(c, b) + "\n" for c, b in zip(ids, boxes)), encoding="utf-8")
        config = {"path": str(root.resolve()), **{split: f"images/{split}" for split in splits},
                  "names": dict(enumerate(names))}
        (tmp / "data.yaml").write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True), "utf-8")
    return root / "data.yaml"


def _parse_class(text: str, names: Sequence[str] | None, add) -> int | None:
    """The class id of one line, or None after reporting why not."""
    valid = _valid_ids(names) if names is not None else "ids start at 0"
    try:
        value = float(text)
    except ValueError:
        hint = ""
        if names is not None:
            hint = (f" — write its id instead: {text!r} is {list(names).index(text)}" if text in names else
                    f" — write the class id; {valid}")
        add("bad_class", "error", f"class {text!r} is not a number{hint}")
        return None
    if not math.isfinite(value) or value != int(value):
        add("bad_class", "error", f"class id {text!r} is not a whole number — write an integer; {valid}")
        return None
    try:
        cid = int(text)
    except ValueError:
        cid = int(value)
        add("bad_class", "warning", f"class id written as {text!r}: ultralytics reads it as {cid} but other tools "
                                    f"(and int()) fail — write {cid}")
    if cid < 0 or (names is not None and cid >= len(names)):
        add("bad_class", "error", f"class id {cid} is negative — ids start at 0" if names is None else
            f"class id {cid} is out of range: {valid} — fix the id, or add the class to names in data.yaml")
        return None
    return cid


def read_yolo_labels(path: str | os.PathLike, names: Sequence[str] | int | None = None, *,
                     root: str | os.PathLike | None = None, split: str | None = None) -> YoloLabels:
    """One label file's good boxes and a :class:`Problem` per bad line (``names``, or their number, checks class
    ids; ``root`` shortens names in messages).

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
    rel = _rel(path, root)
    problems: list[Problem] = []
    empty = YoloLabels(path, np.zeros(0, np.int64), np.zeros((0, 4)), np.zeros(0, np.int64), problems, 0)
    try:
        data = path.read_bytes()
        text = data.decode("utf-8-sig")
    except OSError as err:
        problems.append(Problem("unreadable_label", "error", path,
                                f"{rel}: cannot be read ({err.strerror or err}) — check the file and its "
                                "permissions", None, split))
        return empty
    except UnicodeDecodeError as err:
        line = data[:err.start].count(b"\n") + 1
        problems.append(Problem("unreadable_label", "error", path,
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
            problems.append(Problem(kind, severity, path, f"{where}: {what} (line: {shown!r})", lineno, split))

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
                split: str | None) -> list[Problem]:
    """A warning for each box that repeats an earlier box of the same class (identical or IoU > 0.95)."""
    import torch
    from torchvision.ops import box_iou

    out = []
    for c in np.unique(classes):
        idx = np.flatnonzero(classes == c)
        if len(idx) < 2:
            continue
        b = boxes[idx]
        xyxy = torch.from_numpy(yolo_to_xyxy(b, 1, 1))  # IoU does not depend on the image size
        iou = box_iou(xyxy, xyxy).numpy()
        same = (b[:, None, :] == b[None, :, :]).all(-1)
        dup = np.triu((iou > DUPLICATE_IOU) | same, k=1)  # dup[i, j]: j (later) repeats i
        for j in range(len(idx)):
            earlier = np.flatnonzero(dup[:j, j])
            if earlier.size:
                i = int(earlier[0])
                how = "identical to" if same[i, j] else f"IoU {iou[i, j]:.3f} with"
                out.append(Problem(
                    "duplicate_box", "warning", path,
                    f"{rel}:{lines[idx[j]]}: class {int(c)} box {how} the box on line {lines[idx[i]]} — the same "
                    "object labelled twice? delete one line (in val/test a duplicate is an object no model can "
                    "find twice)", int(lines[idx[j]]), split))
    return out


@dataclass
class _Record:
    split: str
    image: Path
    label: Path | None
    size: tuple[int, int] | None      # (width, height) as shown, None if unreadable
    labels: YoloLabels | None         # None when there is no label file


def _listed_images(list_file: Path, split: str, root: Path) -> tuple[list[Path], list[Problem]]:
    """The images named in a split's .txt list file (relative lines: from the list file's folder)."""
    problems, images = [], []
    try:
        text = list_file.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as err:
        return [], [Problem("missing_folder", "error", list_file,
                            f"{_rel(list_file, root)}: the {split} list file cannot be read ({err})", None, split)]
    for lineno, raw in enumerate(_LINE_SPLIT.split(text), 1):
        entry = raw.strip()
        if not entry:
            continue
        p = Path(entry).expanduser()
        candidates = [p] if p.is_absolute() else [list_file.parent / p, Path.cwd() / p, root / p]
        found = next((c for c in candidates if c.is_file()), None)
        if found is None:
            problems.append(Problem("missing_image", "error", list_file,
                                    f"{_rel(list_file, root)}:{lineno}: {entry} does not exist (looked next to "
                                    "the list file, in the current folder and in the root) — fix the line or "
                                    "delete it", lineno, split))
        else:
            images.append(found.resolve() if not found.is_absolute() else found)
    return images, problems


def _scan_folder(folder: Path, root: Path, split: str, problems: list[Problem], want: str) -> list[Path]:
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
            elif (want == "image" and is_image_name(p.name)) or (want == "label" and p.suffix.lower() == ".txt"):
                found.append(p)
            else:
                stray.append(p)
    for p in junk:
        problems.append(Problem("stray_file", "info", p, f"{_rel(p, root)}: system/hidden file, ignored "
                                                              "(harmless; delete it to silence this)", None, split))
    for p in stray:
        if want == "image":
            what = ("a label file among the images — move it to the labels folder" if p.suffix.lower() == ".txt"
                    else f"not an image ({'/'.join(e[1:] for e in IMAGE_EXTENSIONS)} are), YOLO ignores it — "
                         "convert it to JPEG/PNG or move it out")
        else:
            what = ("an image among the labels — move it to the images folder" if is_image_name(p.name) else
                    "not a .txt label file, YOLO ignores it — move it out of the labels folder")
        problems.append(Problem("stray_file", "warning", p, f"{_rel(p, root)}: {what}", None, split))
    return sorted(found)


def check_split(cfg: Config, split: str, decode: bool, progress: bool
                 ) -> tuple[list[_Record], list[Problem], dict[str, int], dict[str, int]]:
    """One split's records, problems, counts and boxes per class name."""
    from tqdm.auto import tqdm

    root, names = cfg.root, cfg.names
    problems: list[Problem] = []

    def add(kind: str, severity: str, paths, message: str, line: int | None = None) -> None:
        problems.append(Problem(kind, severity, paths, message, line, split))

    images: list[Path] = []
    label_dirs: dict[Path, tuple[Path, bool]] = {}     # label folder -> (image folder, recursive)
    for src in cfg.sources.get(split, []):
        if src.is_dir():
            images += _scan_folder(src, root, split, problems, "image")
            lp = _label_path(src / "_")
            if lp is None:
                add("bad_layout", "error", src,
                    f"{_rel(src, root)}/: no folder named 'images' in this path, so YOLO cannot find the labels (it "
                    "replaces /images/ by /labels/ in each image path) — move the images to images/"
                    f"{split}/ and the labels to labels/{split}/")
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
            add("bad_yaml", "error", src, f"{split}: {_rel(src, root)} is neither a folder nor a .txt list of images "
                                          "— point it at the folder of the images")
    counts = {"images": len(images), "unreadable": 0, "labelled": 0, "background": 0, "missing_label": 0, "boxes": 0}
    if not images and cfg.sources.get(split):
        add("empty_split", "error" if split == "train" else "warning", cfg.sources[split][0],
            f"{split}: no images in {', '.join(_rel(s, root) for s in cfg.sources[split])} — add images (and labels)")
    for ld, (imgdir, _rec) in label_dirs.items():
        if not ld.is_dir() and images:
            add("missing_folder", "error", ld,
                f"{_rel(ld, root)}/: the labels folder of {_rel(imgdir, root)}/ does not exist, so every {split} "
                "image counts as background — put the .txt labels there (same names as the images)")

    by_label: dict[Path, list[Path]] = defaultdict(list)
    for img in images:
        lp = _label_path(img)
        if lp is None:
            if not any(p.kind == "bad_layout" for p in problems):
                add("bad_layout", "error", img, f"{_rel(img, root)}: no folder named 'images' in its path, so YOLO "
                                                "cannot find its label — keep images under images/<split>/")
            continue
        by_label[lp].append(img)
    for lp, imgs in by_label.items():
        if len(imgs) > 1:
            add("name_clash", "error", tuple(imgs),
                f"{', '.join(_rel(i, root) for i in imgs)}: the same name with different extensions share one label "
                f"file {_rel(lp, root)} — rename one (and give it its own label file)")

    records: list[_Record] = []
    class_counts = np.zeros(len(names), np.int64)
    for img in tqdm(images, desc=f"checking {split}", unit="img", disable=not progress):
        rel = _rel(img, root)
        size = None
        try:
            size = _open_full(img) if decode else header_size(img)
        except Exception as err:  # noqa: BLE001 - name the file whatever went wrong
            counts["unreadable"] += 1
            why = str(err) if isinstance(err, ValueError) and str(err) else \
                f"cannot be decoded ({type(err).__name__}: {err}) — re-export it or delete it"
            add("unreadable_image", "error", img, f"{rel}: {why}; YOLO skips it and its labels (delete its label "
                                                  "file with it)")
        lp = _label_path(img)
        labels = None
        if lp is not None and lp.is_file():
            labels = read_yolo_labels(lp, names if names else None, root=root, split=split)
            problems += labels.problems
            counts["labelled"] += 1
            if labels.n_lines == 0:
                counts["background"] += 1
                add("empty_label", "info", lp, f"{_rel(lp, root)}: empty label file: a background image (no "
                                               f"objects), which is fine — {rel} teaches the model what is not an "
                                               "object")
            if size is not None and len(labels):
                w_px, h_px = labels.boxes[:, 2] * size[0], labels.boxes[:, 3] * size[1]
                for k in np.flatnonzero((w_px < 2) | (h_px < 2)):
                    line = int(labels.lines[k])
                    add("tiny_box", "warning", lp,
                        f"{_rel(lp, root)}:{line}: the box is {w_px[k]:.1f} x {h_px[k]:.1f} px (w x h) in the "
                        f"{size[0]}x{size[1]} image — a click instead of a drag? redraw or delete it", line)
            if size is not None:
                counts["boxes"] += len(labels)
                np.add.at(class_counts, labels.classes[labels.classes < len(names)], 1)
        elif lp is not None:
            counts["missing_label"] += 1
            counts["background"] += 1
            add("missing_label", "warning", img,
                f"{rel}: no label file ({_rel(lp, root)}) — YOLO treats the image as background (no objects); if "
                "it shows objects, label them; if it is really empty, create an empty .txt to say so")
        records.append(_Record(split, img, lp, size, labels))

    # label files without an image (a list file's folder: every image in it has its label)
    for ld, (imgdir, recursive) in label_dirs.items():
        if not ld.is_dir():
            continue
        have = {_label_path(p) for p in (images if recursive else imgdir.iterdir()) if is_image_name(p.name)}
        files = _scan_folder(ld, root, split, problems, "label") if recursive else \
            sorted(p for p in ld.iterdir() if p.is_file() and p.suffix.lower() == ".txt")
        for lf in files:
            if lf.name == "classes.txt" and lf not in have:
                problems.append(_classes_txt(lf, names, root, split))
            elif lf not in have:
                add("orphan_label", "error", lf,
                    f"{_rel(lf, root)}: label file without an image (no {_rel(imgdir, root)}/"
                    f"{_rel(lf.with_suffix(''), ld)}.jpg/.png/...) — its boxes are never used: add the image, fix "
                    "the name, or delete the file")
    return records, problems, counts, {n: int(class_counts[i]) for i, n in enumerate(names)}


def _classes_txt(path: Path, names: list[str], root: Path, split: str) -> Problem:
    try:
        listed = [ln.strip() for ln in path.read_text(encoding="utf-8-sig").splitlines() if ln.strip()]
    except (OSError, UnicodeDecodeError):
        listed = []
    if listed and names and listed != names:
        return Problem("stray_file", "warning", path,
                       f"{_rel(path, root)}: labelImg's class list {listed[:10]} differs from names in data.yaml "
                       f"{names[:10]} — the ids in the labels follow classes.txt: make names the same list in "
                       "the same order", None, split)
    return Problem("stray_file", "info", path,
                   f"{_rel(path, root)}: labelImg's class list, not a label file (YOLO reads the names from "
                   "data.yaml) — fine; move it out to silence this", None, split)


def check_dataset(root_or_data_yaml, splits, decode: bool, progress: bool) -> tuple[Report, list[_Record], Config]:
    """:func:`validate_yolo_dataset` and the records it read (``decode=False``: image sizes from the headers)."""
    wanted = [] if splits is None else [splits] if isinstance(splits, str) else [str(s) for s in splits]
    cfg, problems = load_config(root_or_data_yaml, wanted)
    if splits is None:
        chosen = list(cfg.sources)
    elif not wanted:
        raise ValueError("splits=[] names no split; pass None to check every split in data.yaml")
    else:
        for s in wanted:
            if cfg.yaml_path is None or s in cfg.sources:
                continue
            if s not in cfg.raw or cfg.raw[s] in (None, "", []):
                problems.append(Problem("bad_yaml", "error", cfg.yaml_path,
                                        f"{cfg.yaml_path.name}: splits asks for {s!r} but data.yaml has "
                                        f"{'no' if s not in cfg.raw else 'an empty'} {s!r} key (its splits: "
                                        f"{', '.join(cfg.sources) or 'none'}) — add {s}: images/{s}", None, s))
        chosen = [s for s in wanted if s in cfg.sources]
    counts, class_counts, records = {}, {}, []
    for split in chosen:
        recs, probs, counts[split], class_counts[split] = check_split(cfg, split, decode, progress)
        problems += probs
        records += recs
    problems.sort(key=lambda p: SEVERITIES.index(p.severity))
    names = list(cfg.names)
    keys = ("images", "labelled", "background", "missing_label", "unreadable", "boxes")
    tables = table("split", list(counts), keys, lambda s, k: counts[s].get(k, 0)) if counts else []
    if class_counts and names:
        tables += table("class", names, list(class_counts), lambda n, s: class_counts[s].get(n, 0))
    report = Report(root=cfg.root, splits=chosen, counts=counts, problems=problems, source="YOLO dataset",
                    classes=names, n_images=sum(c["images"] for c in counts.values()), data_yaml=cfg.yaml_path,
                    class_counts=class_counts, tables=tables)
    return report, records, cfg


def validate_yolo_dataset(root_or_data_yaml: str | os.PathLike, splits: str | Sequence[str] | None = None, *,
                          progress: bool = True) -> Report:
    """Check a YOLO dataset (folder or data.yaml) file by file, line by line: a :class:`Report` whose problems
    name file, line and fix; never raises for data.

    >>> report = validate_yolo_dataset("parts")            # doctest: +SKIP
    >>> report.by_kind("bad_class")[0].message             # doctest: +SKIP
    'labels/train/img_007.txt:3: class id 5 is out of range: valid ids are 0..2 (0=washer, 1=flange, 2=gear) ...'
    """
    return check_dataset(root_or_data_yaml, splits, decode=True, progress=progress)[0]


