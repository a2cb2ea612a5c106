"""The prediction types every model and pipeline in the course returns.

>>> import numpy as np
>>> c = Classifications.from_logits(np.array([[2.0, 0.0], [0.0, 1.0]]), class_names=["cat", "dog"])
>>> c.labels.tolist(), c.names
([0, 1], ['cat', 'dog'])
"""
from __future__ import annotations

import os
import warnings
from collections import Counter
from dataclasses import dataclass, fields
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

__all__ = ["Classifications", "Detections", "as_xyxy"]


def softmax(logits: np.ndarray) -> np.ndarray:
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


@dataclass
class Classifications:
    """Class probabilities for N images over C classes."""

    probs: np.ndarray
    class_names: Sequence[str]

    def __post_init__(self):
        self.probs = np.asarray(self.probs, dtype=np.float32)
        if self.probs.ndim != 2:
            raise ValueError(f"probs must be (N, C); got shape {self.probs.shape}")
        if self.probs.shape[1] != len(self.class_names):
            raise ValueError(f"probs has {self.probs.shape[1]} columns but {len(self.class_names)} class_names "
                             "were given")
        self.class_names = list(self.class_names)

    @classmethod
    def from_logits(cls, logits, class_names: Sequence[str]) -> "Classifications":
        """From raw scores (numpy array or torch tensor), applying a softmax."""
        if hasattr(logits, "detach"):
            logits = logits.detach().float().cpu().numpy()
        return cls(softmax(np.asarray(logits, dtype=np.float64)), class_names)

    def __len__(self) -> int:
        return len(self.probs)

    def __getitem__(self, index) -> "Classifications":
        """Select rows with an int, a slice, a boolean mask or an index array."""
        rows = self.probs[index]
        return Classifications(rows[None] if rows.ndim == 1 else rows, self.class_names)

    @property
    def labels(self) -> np.ndarray:
        """The predicted class index of each image (argmax), int64 (N,)."""
        return self.probs.argmax(axis=1).astype(np.int64)

    @property
    def confidence(self) -> np.ndarray:
        """The probability of the predicted class, float32 (N,)."""
        return self.probs.max(axis=1)

    @property
    def names(self) -> list[str]:
        """The predicted class name of each image."""
        return [self.class_names[i] for i in self.labels]

    def prob_of(self, targets) -> np.ndarray:
        """The probability given to each image's *true* class (targets: int array (N,))."""
        return self.probs[np.arange(len(self)), np.asarray(targets, dtype=np.int64)]


def as_numpy(x) -> np.ndarray:
    """A numpy array from a list, an array or a torch tensor (on any device)."""
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def as_xyxy(boxes, name: str = "boxes", strict: bool = False) -> np.ndarray:
    """Boxes (a Detections, array, list or tensor; (N, 4) or one (4,)) as float64 (N, 4) x1, y1, x2, y2;
    ``strict``: also finite, with x2 > x1 and y2 > y1."""
    if isinstance(boxes, Detections):
        boxes = boxes.xyxy
    arr = as_numpy(boxes).astype(np.float64)
    if arr.size == 0:
        arr = arr.reshape(0, 4)
    if arr.shape == (4,):
        arr = arr[None]
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise ValueError(f"{name} must be (N, 4) boxes x1, y1, x2, y2, or a Detections; got shape {arr.shape}")
    if strict:
        if not np.isfinite(arr).all():
            raise ValueError(f"{name} has values that are not finite numbers (nan or inf)")
        bad = (arr[:, 2] <= arr[:, 0]) | (arr[:, 3] <= arr[:, 1])
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            raise ValueError(f"{name}[{i}] = {arr[i].tolist()} has x2 <= x1 or y2 <= y1: boxes are x1, y1, x2, y2 "
                             "(corners), not x, y, w, h (convert with x2 = x + w, y2 = y + h)")
    return arr


def _image_size(size, what: str = "image_size") -> tuple[int, int]:
    """A validated (height, width) of positive whole numbers."""
    try:
        h, w = (float(v) for v in size)
    except (TypeError, ValueError):
        raise ValueError(f"{what} must be (height, width) in pixels; got {size!r}") from None
    if not (h > 0 and w > 0 and h == int(h) and w == int(w)):
        raise ValueError(f"{what} must be (height, width), two positive whole numbers of pixels; got {size!r}")
    return int(h), int(w)


def _names_list(names) -> list[str]:
    """Class names from a list, or from ultralytics' ``{index: name}`` dict (indices 0..K-1)."""
    if isinstance(names, Mapping):
        keys = sorted(int(k) for k in names)
        if keys != list(range(len(keys))):
            raise ValueError(f"class names dict must have the indices 0..{len(keys) - 1}; got keys {keys}")
        return [names[k] if k in names else names[str(k)] for k in keys]
    return list(names)


def _rle_encode(masks: np.ndarray) -> list[dict]:
    """COCO run-length encodings (pycocotools), JSON-ready: ``{"size": [h, w], "counts": str}``."""
    from pycocotools import mask as mask_utils
    if len(masks) == 0:
        return []
    rles = mask_utils.encode(np.asfortranarray(masks.transpose(1, 2, 0).astype(np.uint8)))
    return [{"size": [int(v) for v in r["size"]], "counts": r["counts"].decode("ascii")} for r in rles]


def _rle_decode(rle: Mapping, height: int, width: int, where: str) -> np.ndarray:
    """A COCO compressed run-length encoding (as :func:`_rle_encode` writes it) as a bool (H, W) mask."""
    from pycocotools import mask as mask_utils
    if not isinstance(rle, Mapping) or "counts" not in rle:
        raise ValueError(f"{where}: a mask must be an RLE dict {{'size': [h, w], 'counts': ...}}; "
                         f"got {type(rle).__name__}")
    size = [int(v) for v in rle.get("size", (height, width))]
    if size != [height, width]:
        raise ValueError(f"{where}: its mask is {size[0]}x{size[1]} but the image is {height}x{width}")
    counts = rle["counts"]
    if not isinstance(counts, (str, bytes)):
        raise ValueError(f"{where}: 'counts' must be a compressed RLE string, as Detections.to_dict writes it (got "
                         f"{type(counts).__name__}: polygons or an uncompressed RLE; convert them with "
                         "pycocotools.mask.frPyObjects first)")
    rle = {"size": size, "counts": counts.encode("ascii") if isinstance(counts, str) else counts}
    with warnings.catch_warnings():  # pycocotools' own NumPy 2 deprecation notice, nothing to act on here
        warnings.filterwarnings("ignore", message=".*__array__ implementation doesn't accept a copy keyword",
                                category=DeprecationWarning)
        return mask_utils.decode(rle).astype(bool)


def _read_labels(source) -> tuple[str, str]:
    """(text, where) from label text or a path to a label file."""
    if isinstance(source, os.PathLike):
        return Path(source).read_text(encoding="utf-8"), f"{os.fspath(source)}: "
    if not isinstance(source, str):
        raise TypeError(f"expected label text or a path to a .txt file; got {type(source).__name__}")
    if "\n" not in source and source.strip() and os.path.isfile(source.strip()):
        return Path(source.strip()).read_text(encoding="utf-8"), f"{source.strip()}: "
    if "\n" not in source and source.strip().endswith(".txt"):
        raise FileNotFoundError(f"no such label file: {source.strip()}")
    return source, ""


def _per_box(values, must: str, n: int) -> np.ndarray:
    """A 1-D array of ``n`` values, one per box (``must``: the error's start)."""
    arr = as_numpy(values)
    arr = arr.reshape(0) if arr.size == 0 else arr
    if arr.ndim != 1 or len(arr) != n:
        raise ValueError(f"{must}; got shape {arr.shape}")
    return arr


@dataclass(eq=False, repr=False)
class Detections:
    """The boxes (and optionally masks) found in, or labelled on, one image.

    >>> d = Detections(xyxy=[[10, 20, 50, 60], [0, 0, 8, 8]], class_id=[1, 0],
    ...                class_names=["scratch", "dent"], confidence=[0.9, 0.3])
    >>> len(d), d.names, d.area.tolist()
    (2, ['dent', 'scratch'], [1600.0, 64.0])
    >>> d.filter(min_confidence=0.5).names
    ['dent']
    """

    xyxy: np.ndarray
    class_id: np.ndarray
    class_names: Sequence[str]
    confidence: np.ndarray | None = None
    masks: np.ndarray | None = None
    image_size: tuple[int, int] | None = None

    def __post_init__(self):
        names = self.class_names
        if isinstance(names, (str, bytes)) or not all(isinstance(n, str) for n in names):
            raise TypeError(f"class_names must be a list of strings, e.g. ['scratch', 'dent']; got {names!r}")
        names = list(names)
        twice = [name for i, name in enumerate(names) if name in names[:i]]
        if twice:
            raise ValueError(f"class name {twice[0]!r} appears twice in class_names {names}")
        self.class_names = names

        xyxy = as_numpy(self.xyxy)
        if xyxy.dtype.kind not in "biuf":
            raise TypeError(f"xyxy holds {xyxy.dtype} values; expected numbers")
        if xyxy.size == 0:
            xyxy = xyxy.reshape(0, 4)
        if xyxy.ndim != 2 or xyxy.shape[1] != 4:
            raise ValueError(f"xyxy must be (N, 4), the corners x1, y1, x2, y2 of N boxes; got shape {xyxy.shape}")
        xyxy = xyxy.astype(np.float32)
        bad = np.flatnonzero(~np.isfinite(xyxy).all(axis=1))
        if bad.size:
            raise ValueError(f"box {bad[0]} is {xyxy[bad[0]].tolist()}: every coordinate must be a finite number")
        bad = np.flatnonzero((xyxy[:, 2] < xyxy[:, 0]) | (xyxy[:, 3] < xyxy[:, 1]))
        if bad.size:
            i = int(bad[0])
            raise ValueError(f"box {i} is {xyxy[i].tolist()}: {'x2 < x1' if xyxy[i, 2] < xyxy[i, 0] else 'y2 < y1'}. "
                             "Boxes are corners x1, y1, x2, y2 in pixels; for COCO's x, y, w, h use "
                             "Detections.from_coco, for YOLO's normalised cx, cy, w, h use Detections.from_yolo_txt")
        self.xyxy = xyxy
        n = len(xyxy)

        cid = _per_box(self.class_id, f"class_id must be one class index per box ({n})", n)
        if cid.dtype.kind == "f":
            bad = np.flatnonzero(~np.isfinite(cid) | (cid != np.round(cid)))
            if bad.size:
                raise ValueError(f"class_id of box {bad[0]} is {cid[bad[0]]!r}, not a whole class index")
        elif cid.dtype.kind not in "iu":
            raise TypeError(f"class_id holds {cid.dtype} values; expected class indices 0..{len(names) - 1}")
        cid = cid.astype(np.int64)
        bad = np.flatnonzero((cid < 0) | (cid >= len(names)))
        if bad.size:
            raise ValueError(f"class_id of box {bad[0]} is {cid[bad[0]]}, outside 0..{len(names) - 1}: there are "
                             f"{len(names)} class_names")
        self.class_id = cid

        if self.confidence is not None:
            conf = _per_box(self.confidence, f"confidence must be one score per box ({n}), or None for ground truth", n)
            if conf.dtype.kind not in "biuf":
                raise TypeError(f"confidence holds {conf.dtype} values; expected numbers")
            conf = conf.astype(np.float32)
            bad = np.flatnonzero(~np.isfinite(conf))
            if bad.size:
                raise ValueError(f"confidence of box {bad[0]} is {conf[bad[0]]!r}; scores must be finite numbers")
            self.confidence = conf

        if self.image_size is not None:
            self.image_size = _image_size(self.image_size)

        if self.masks is not None:
            masks = as_numpy(self.masks)
            if masks.ndim != 3 or len(masks) != n:
                raise ValueError(f"masks must be (N, H, W), one full-image mask per box ({n}); got shape {masks.shape}")
            if masks.dtype != bool:
                if masks.dtype.kind not in "biuf" or not ((masks == 0) | (masks == 1)).all():
                    raise ValueError("masks must be boolean (or 0/1); threshold soft masks first, e.g. masks > 0.5")
                masks = masks.astype(bool)
            hw = (int(masks.shape[1]), int(masks.shape[2]))
            if self.image_size is None:
                self.image_size = hw
            elif hw != self.image_size:
                raise ValueError(f"masks are {hw[0]}x{hw[1]} (H x W) but image_size is "
                                 f"{self.image_size[0]}x{self.image_size[1]}: masks must cover the whole image")
            self.masks = masks

    @classmethod
    def empty(cls, class_names: Sequence[str], image_size: tuple[int, int] | None = None) -> "Detections":
        """No boxes: an image where the model found nothing (an empty ``confidence``, so it is a valid
        prediction; as ground truth, "nothing to find", the empty confidence is ignored)."""
        return cls(xyxy=np.zeros((0, 4), np.float32), class_id=np.zeros(0, np.int64), class_names=class_names,
                   confidence=np.zeros(0, np.float32), image_size=image_size)

    def __len__(self) -> int:
        return len(self.xyxy)

    def __getitem__(self, index) -> "Detections":
        """Boxes by an int, a slice, a boolean mask (one entry per box) or an index array: always a Detections."""
        n = len(self)
        if not isinstance(index, slice):
            index = as_numpy(index).reshape(-1) if np.ndim(index) == 0 else as_numpy(index)
            index = index.astype(np.int64) if index.size == 0 else index
            if index.dtype == bool and index.shape != (n,):
                raise IndexError(f"a boolean mask must have one entry per box ({n}); got shape {index.shape}")
            if index.dtype != bool and (index.dtype.kind not in "iu" or index.ndim != 1):
                raise IndexError(f"index boxes with an int, a slice, a boolean mask or a 1-D array of ints; "
                                 f"got {index.dtype} of shape {index.shape}")
            if index.dtype != bool and not ((-n <= index) & (index < n)).all():
                bad = int(index[(index < -n) | (index >= n)][0])
                raise IndexError(f"box index {bad} is out of range for {n} boxes")
        return Detections(xyxy=self.xyxy[index], class_id=self.class_id[index], class_names=self.class_names,
                          confidence=None if self.confidence is None else self.confidence[index],
                          masks=None if self.masks is None else self.masks[index], image_size=self.image_size)

    def __repr__(self) -> str:
        parts = [f"{len(self)} boxes", f"classes={dict(Counter(self.names))}"]
        if self.confidence is None:
            parts.append("ground truth")
        elif len(self):
            parts.append(f"confidence {self.confidence.min():.3g}..{self.confidence.max():.3g}")
        if self.masks is not None:
            parts.append("with masks")
        if self.image_size is not None:
            parts.append(f"image_size={self.image_size}")
        return f"Detections({', '.join(parts)})"

    def _class_ids(self, classes) -> np.ndarray:
        """Class indices from a name, an index, or a list of either."""
        if isinstance(classes, (str, int, np.integer)):
            classes = [classes]
        ids = []
        for c in classes:
            if isinstance(c, str):
                if c not in self.class_names:
                    raise ValueError(f"unknown class {c!r}; the classes are {self.class_names}")
                ids.append(self.class_names.index(c))
            else:
                if not 0 <= int(c) < len(self.class_names):
                    raise ValueError(f"class index {c} is outside 0..{len(self.class_names) - 1}")
                ids.append(int(c))
        return np.asarray(ids, dtype=np.int64)

    def filter(self, min_confidence: float | None = None, classes=None) -> "Detections":
        """The boxes with ``confidence >= min_confidence`` (the decision threshold; the same ``>=``
        convention as :mod:`coursekit.calibrate`) and, if given, of the named ``classes``."""
        keep = np.ones(len(self), dtype=bool)
        if min_confidence is not None:
            if self.confidence is None:
                raise ValueError("these detections have no confidence (ground truth?): there is nothing to threshold")
            keep &= self.confidence >= min_confidence
        if classes is not None:
            keep &= np.isin(self.class_id, self._class_ids(classes))
        return self[keep]

    @property
    def names(self) -> list[str]:
        """The class name of each box (like :attr:`Classifications.names`; ``class_id`` holds the indices)."""
        return [self.class_names[i] for i in self.class_id]

    @property
    def area(self) -> np.ndarray:
        """Each box's area in square pixels, float32 (N,)."""
        return (self.xyxy[:, 2] - self.xyxy[:, 0]) * (self.xyxy[:, 3] - self.xyxy[:, 1])

    def to_dict(self) -> dict:
        """A JSON-ready dict (lists, floats, None); masks as COCO run-length encodings (pycocotools).

        ``Detections.from_dict(d.to_dict())`` gives back exactly the same arrays."""
        return {"xyxy": self.xyxy.tolist(), "class_id": self.class_id.tolist(), "class_names": list(self.class_names),
                "confidence": None if self.confidence is None else self.confidence.tolist(),
                "masks": None if self.masks is None else _rle_encode(self.masks),
                "image_size": None if self.image_size is None else list(self.image_size)}

    @classmethod
    def from_dict(cls, data: Mapping) -> "Detections":
        """The inverse of :meth:`to_dict`."""
        if not isinstance(data, Mapping):
            raise TypeError(f"expected a dict from Detections.to_dict(), got {type(data).__name__}")
        missing = sorted({"xyxy", "class_id", "class_names"} - set(data))
        if missing:
            raise ValueError(f"not a Detections dict: missing {missing}")
        unknown = sorted(set(data) - {f.name for f in fields(cls)})
        if unknown:
            raise ValueError(f"not a Detections dict: unknown key(s) {unknown}")
        masks = data.get("masks")
        if masks is not None:
            if data.get("image_size") is None:
                raise ValueError("a Detections dict with masks needs its image_size")
            h, w = _image_size(data["image_size"])
            masks = np.array([_rle_decode(m, h, w, f"mask {i}") for i, m in enumerate(masks)], bool).reshape(-1, h, w)
        return cls(**{**data, "masks": masks})

    @classmethod
    def from_ultralytics(cls, result) -> "Detections":
        """From one ultralytics ``Results`` (one image): ``model(image)[0]``."""
        if isinstance(result, (list, tuple)):
            raise TypeError(f"from_ultralytics takes one image's result, but got a list of {len(result)} (what "
                            "model(...) returns): use Detections.from_ultralytics(results[0]), or one per result in a "
                            "list comprehension")
        names = getattr(result, "names", None)
        if names is None or not hasattr(result, "orig_shape"):
            raise TypeError(f"expected an ultralytics Results (with .boxes, .names, .orig_shape); "
                            f"got {type(result).__name__}")
        class_names = _names_list(names)
        image_size = _image_size(tuple(result.orig_shape)[:2], "result.orig_shape")
        if getattr(result, "obb", None) is not None:
            raise ValueError("this result holds oriented boxes (an OBB model); Detections holds axis-aligned boxes")
        boxes = getattr(result, "boxes", None)
        if boxes is None:
            raise ValueError("this ultralytics result is a classification (.probs): use Classifications"
                             if getattr(result, "probs", None) is not None else "this ultralytics result has no boxes")
        xyxy = as_numpy(boxes.xyxy).reshape(-1, 4)
        masks = _ultralytics_masks(result.masks, image_size) if getattr(result, "masks", None) is not None else None
        return cls(xyxy=xyxy, class_id=as_numpy(boxes.cls).reshape(-1), class_names=class_names,
                   confidence=as_numpy(boxes.conf).reshape(-1), masks=masks, image_size=image_size)

    @classmethod
    def from_yolo_txt(cls, source, image_size: tuple[int, int], class_names: Sequence[str]) -> "Detections":
        """From a YOLO label file (a path) or its text: one ``class cx cy w h [confidence]`` line per box."""
        text, where = _read_labels(source)
        h, w = _image_size(image_size)
        rows = []
        for lineno, line in enumerate(text.splitlines(), 1):
            parts = line.split()
            if not parts:
                continue
            if len(parts) not in (5, 6):
                hint = (" (a segmentation polygon? this reads boxes only)" if len(parts) > 6 and len(parts) % 2 == 1
                        else "")
                raise ValueError(f"{where}line {lineno} has {len(parts)} values, expected 5 "
                                 f"('class cx cy w h') or 6 (with a confidence){hint}: {line.strip()!r}")
            if rows and len(parts) != len(rows[0]):
                raise ValueError(f"{where}line {lineno} has {len(parts)} values but the lines before it have "
                                 f"{len(rows[0])}: either every line has a confidence or none does")
            try:
                row = [float(v) for v in parts]
            except ValueError:
                raise ValueError(f"{where}line {lineno} is not numbers: {line.strip()!r}") from None
            if row[0] != int(row[0]) or not 0 <= row[0] < len(class_names):
                raise ValueError(f"{where}line {lineno}: class {row[0]:g} is not a class index "
                                 f"0..{len(class_names) - 1}")
            if not all(-1e-6 <= v <= 1 + 1e-6 for v in row[1:5]):
                raise ValueError(f"{where}line {lineno}: cx cy w h = {row[1:5]} are not all in 0..1; "
                                 "YOLO labels are fractions of the image width and height, not pixels")
            rows.append(row)
        arr = np.asarray(rows, dtype=np.float64).reshape(-1, len(rows[0]) if rows else 5)
        cx, cy, bw, bh = arr[:, 1:5].T
        xyxy = np.stack([(cx - bw / 2) * w, (cy - bh / 2) * h, (cx + bw / 2) * w, (cy + bh / 2) * h], axis=1)
        return cls(xyxy=xyxy, class_id=arr[:, 0], class_names=class_names,
                   confidence=arr[:, 5] if arr.shape[1] == 6 else None, image_size=(h, w))

    @classmethod
    def from_coco(cls, annotations, image_id, categories: Sequence[Mapping] | None = None,
                  image_size: tuple[int, int] | None = None) -> "Detections":
        """One image's boxes from COCO annotations (``bbox`` = x, y, width, height in pixels)."""
        if isinstance(annotations, Mapping):
            dataset = annotations
            if "annotations" not in dataset:
                raise ValueError("expected a COCO annotations list, or a COCO dataset dict with an 'annotations' key")
            annotations = dataset["annotations"]
            if categories is None:
                categories = dataset.get("categories")
            if image_size is None:
                image_size = next(((img["height"], img["width"]) for img in dataset.get("images", [])
                                   if img.get("id") == image_id and "height" in img and "width" in img), None)
        if categories is None:
            raise ValueError("from_coco needs categories: COCO's list of {'id': ..., 'name': ...}")
        index = {}
        for i, c in enumerate(categories):
            if not isinstance(c, Mapping) or "id" not in c or "name" not in c:
                raise ValueError(f"category {i} is {c!r}: expected {{'id': ..., 'name': ...}}")
            index[c["id"]] = i
        names = [c["name"] for c in categories]
        mine = [a for a in annotations if a.get("image_id") == image_id and not a.get("iscrowd", 0)]
        scored = ["score" in a for a in mine]
        if any(scored) and not all(scored):
            raise ValueError(f"image {image_id!r}: some annotations have a 'score' and some do not; "
                             "predictions all have one, ground truth none")
        xyxy, class_id = [], []
        for a in mine:
            where = f"annotation {a.get('id', '?')} (image {image_id!r})"
            if a.get("category_id") not in index:
                raise ValueError(f"{where}: category_id {a.get('category_id')!r} is not in categories "
                                 f"(ids {sorted(index)})")
            bbox = a.get("bbox")
            if bbox is None or len(bbox) != 4:
                raise ValueError(f"{where}: 'bbox' must be [x, y, width, height]; got {bbox!r}")
            x, y, bw, bh = (float(v) for v in bbox)
            if bw < 0 or bh < 0:
                raise ValueError(f"{where}: bbox {list(bbox)} has a negative width or height")
            xyxy.append([x, y, x + bw, y + bh])
            class_id.append(index[a["category_id"]])
        scores = np.asarray([a["score"] for a in mine], dtype=np.float64) if mine and all(scored) else None
        return cls(xyxy=np.asarray(xyxy, dtype=np.float64).reshape(-1, 4), class_id=np.asarray(class_id, np.int64),
                   class_names=names, confidence=scores, image_size=image_size)

    def to_coco(self, image_id, category_ids: Sequence[int] | None = None) -> list[dict]:
        """COCO annotation dicts, one per box: ``image_id``, ``category_id``, ``bbox`` [x, y, w, h] in pixels, ``area``,
        ``iscrowd`` 0, plus ``score`` (predictions: COCO's results format) and ``segmentation`` (masks, as RLE)."""
        ids = range(1, len(self.class_names) + 1) if category_ids is None else category_ids
        ids = [c.item() if isinstance(c, np.generic) else c for c in ids]
        if len(ids) != len(self.class_names):
            raise ValueError(f"category_ids has {len(ids)} ids but there are {len(self.class_names)} classes")
        rles = _rle_encode(self.masks) if self.masks is not None else None
        out = []
        for k in range(len(self)):
            x1, y1, x2, y2 = (float(v) for v in self.xyxy[k])
            ann = {"image_id": image_id, "category_id": ids[self.class_id[k]], "bbox": [x1, y1, x2 - x1, y2 - y1],
                   "area": float(self.masks[k].sum()) if self.masks is not None else (x2 - x1) * (y2 - y1),
                   "iscrowd": 0}
            if self.confidence is not None:
                ann["score"] = float(self.confidence[k])
            if rles is not None:
                ann["segmentation"] = rles[k]
            out.append(ann)
        return out


def _ultralytics_masks(masks, image_size: tuple[int, int]) -> np.ndarray:
    """ultralytics ``Masks`` (or their ``data``, (N, h, w)) -> bool (N, H, W) at the original image size."""
    import torch
    data = torch.as_tensor(getattr(masks, "data", masks)).detach().cpu().float()
    if data.ndim != 3:
        raise ValueError(f"result.masks.data must be (N, H, W); got shape {tuple(data.shape)}")
    if len(data) == 0:
        return np.zeros((0, *image_size), dtype=bool)
    if tuple(data.shape[1:]) != tuple(image_size):  # a segmentation model's masks are at its (letterboxed) input size
        from ultralytics.utils.ops import scale_masks
        data = scale_masks(data[None], image_size)[0]
    return (data > 0.5).numpy()
