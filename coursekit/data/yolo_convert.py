"""Convert COCO json to and from YOLO labels (bad input refused before anything is written; what the field's
tools skip is skipped with a warning), and look at the boxes (:func:`box_stats`)."""
from __future__ import annotations

import json
import math
import os
import warnings
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from difflib import get_close_matches
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
import yaml

from ..files import atomic_copy, atomic_write_text
from .validate import MAX_SHOWN, Problem, ValidationError, rel as _rel
from .yolo import check_dataset, header_size, xyxy_to_yolo, yolo_line, yolo_to_xyxy

__all__ = ["ConversionResult", "coco_to_yolo", "yolo_to_coco", "box_stats", "plot_box_stats"]


@dataclass
class ConversionResult:
    """What a converter wrote: ``files``, counts, ``names`` (index = YOLO id), ``category_ids`` (YOLO -> COCO id),
    warning/info ``problems`` and ``skipped`` annotations by reason."""

    out_dir: Path
    data_yaml: Path | None
    names: list[str]
    category_ids: dict[int, int] | None
    n_images: int
    n_boxes: int
    files: list[Path] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
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


_COCO_KEYS = ("images", "annotations", "categories")

#: coco_to_yolo's reasons to skip an annotation (the keys of ``ConversionResult.skipped``), and what they mean.
_SKIP_REASONS = {"crowd_region": "crowd region(s) (iscrowd=1) — YOLO has no 'ignore' regions",
                 "not_a_number": "box(es) with a bbox value that is not a finite number",
                 "bad_size": "box(es) with zero or negative width or height",
                 "out_of_range": "box(es) entirely outside the image"}
#: label-line errors that yolo_to_coco skips (with a warning) instead of refusing the split
_DEGENERATE_LINE_KINDS = ("bad_size", "not_a_number")
_WARN_SHOWN = 10  # a skip warning names at most this many annotations (result.problems has every one)


def _load_json(coco_json) -> tuple[dict, str]:
    """The COCO dataset dict and a name for messages; a :class:`ValidationError` if it is not a COCO dataset."""
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
            raise ValidationError(f"{json_path}:{err.lineno}: not valid JSON ({err.msg})") from None
    where = str(json_path) if json_path is not None else src_name
    expected = ("coco_to_yolo needs a COCO dataset JSON: an object with 'images', 'annotations' and 'categories' "
                "(e.g. instances_train2017.json)")

    def fail(msg: str, kind: str = "bad_source"):
        problem = Problem(kind, "error", json_path or (), f"{where}: {msg}")
        raise ValidationError(problem.message, [problem])

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
    """COCO detection json (or dict) -> ``out_dir/images|labels/<split>`` + data.yaml (class ``i``: the ``i``-th
    category, or ``class_names[i]``; ``coco_category_ids`` in data.yaml maps back).

    >>> result = coco_to_yolo("annotations/instances_train.json", "photos", "parts", split="train")  # doctest: +SKIP
    >>> result.category_ids                                                                           # doctest: +SKIP
    {0: 1, 1: 3, 2: 7}
    """
    coco, src_name = _load_json(coco_json)
    images_dir, out_dir = Path(images_dir), Path(out_dir)
    errors: list[Problem] = []
    notes: list[Problem] = []  # the warnings and info that come back in ConversionResult.problems
    skipped: list[tuple[str, object, str, str]] = []  # (reason, annotation id, file_name, what is wrong)
    json_path = None if isinstance(coco_json, (Mapping, list)) else Path(coco_json)

    def err(msg: str, path=None, kind: str = "bad_source") -> None:
        errors.append(Problem(kind, "error", path if path is not None else (json_path or ()),
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
            real = header_size(path)
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
            notes.append(Problem("box_outside_image", "warning", path,
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
        raise ValidationError(f"{len(errors)} error(s) in {src_name}; nothing was written:\n"
                              + "\n".join(f"  - {p.message}" for p in errors), errors)

    written, n_boxes = [], 0
    for reason, aid, fname, detail in skipped:
        notes.append(Problem(reason, "warning", images_dir / fname,
                             f"{src_name}: annotation {aid} ({fname}): {detail} — skipped", None, split))
    if skipped:
        _skip_warning(src_name, skipped)
    for lf, (iid, fname) in label_files.items():
        path, _fname, (W, H) = imgs[iid]
        dst = out_images / fname
        if dst.resolve() != path.resolve():
            atomic_copy(path, dst)
            written.append(dst)
        boxes = rows.get(iid, [])
        if boxes:
            yolo = xyxy_to_yolo([b[1:] for b in boxes], W, H)
            text = "".join(yolo_line(b[0], y) + "\n" for b, y in zip(boxes, yolo))
        else:
            text = ""
            notes.append(Problem("empty_label", "info", lf, f"{fname}: no boxes: written as an empty label file "
                                                                 "(a background image)", None, split))
        atomic_write_text(lf, text)
        written.append(lf)
        n_boxes += len(boxes)

    config = {**existing, split: f"images/{split}", "names": dict(enumerate(names)),
              "coco_category_ids": dict(enumerate(order))}
    if "val" not in config:
        notes.append(Problem("bad_yaml", "info", data_yaml, f"{data_yaml.name} has no 'val' split yet — convert "
                                                                 "the validation json with split='val'"))
    atomic_write_text(data_yaml, yaml.safe_dump(config, sort_keys=False, allow_unicode=True))
    written.append(data_yaml)
    counts = Counter(reason for reason, *_ in skipped)
    return ConversionResult(out_dir, data_yaml, names, dict(enumerate(order)), len(label_files), n_boxes, written,
                            notes, {r: counts[r] for r in _SKIP_REASONS if counts[r]})


def yolo_to_coco(root_or_yaml: str | os.PathLike, split: str = "val",
                 category_ids: Mapping[int, int] | None = None, *, progress: bool = False) -> dict:
    """One validated split as a COCO detection dict (bbox ``[x, y, w, h]`` px; ids from ``category_ids``, else
    data.yaml's ``coco_category_ids``, else ``i + 1``); degenerate boxes are skipped with a warning.

    >>> coco = yolo_to_coco("parts", "val")                                   # doctest: +SKIP
    """
    report, records, cfg = check_dataset(root_or_yaml, [split], decode=True, progress=progress)
    errors = [p for p in report.errors if p.split in (split, None)]
    degenerate = [p.kind in _DEGENERATE_LINE_KINDS and p.line is not None for p in errors]
    bad_lines = {(p.path, p.line) for p, d in zip(errors, degenerate) if not d}
    # a degenerate box is skipped when nothing else is wrong on its line
    keep = [not d or (p.path, p.line) in bad_lines for p, d in zip(errors, degenerate)]
    skipped = [p for p, k in zip(errors, keep) if not k]
    errors = [p for p, k in zip(errors, keep) if k]
    if errors:
        shown = "\n".join(f"  - {p.message}" for p in errors[:MAX_SHOWN])
        raise ValidationError(f"{len(errors)} error(s) in split {split!r} of {report.root}; fix them first "
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
        base = next((d for d in image_root.values() if rec.image.is_relative_to(d)), rec.image.parent)
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


_STAT_COLUMNS = ["split", "file", "label", "line", "class", "class_name", "image_width", "image_height", "x_center",
                 "y_center", "width", "height", "width_px", "height_px", "area", "area_px", "aspect_ratio"]


def box_stats(root_or_yaml: str | os.PathLike, split: str | Sequence[str] | None = None):
    """A pandas DataFrame, one row per good box of ``split`` (``None``: all), with the columns ``_STAT_COLUMNS``
    (sizes from image headers); boxes left out by errors are counted in a warning.

    >>> df = box_stats("parts", "train")                          # doctest: +SKIP
    """
    import pandas as pd

    report, records, _cfg = check_dataset(root_or_yaml, split, decode=False, progress=False)
    if not report.splits:
        raise ValidationError(f"no split to read in {report.root}:\n"
                              + "\n".join(f"  - {p.message}" for p in report.errors), report.errors, report)
    rows, lost = [], 0
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
    """A Figure from :func:`box_stats`: boxes per class and split, width vs height (px), aspect ratios.

    >>> fig = plot_box_stats(box_stats("parts"))                  # doctest: +SKIP
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
