"""Read a YOLO dataset's ``data.yaml``: the root, the class names and each split's image folders, with a
:class:`~coursekit.data.validate.Problem` for everything wrong in it."""
from __future__ import annotations

import os
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import yaml

from .validate import Problem

#: The splits ``data.yaml`` may name besides ``train``/``val``/``test``: any key starting ``test_`` or ``val_``.
STANDARD_SPLITS = ("train", "val", "test")


@dataclass
class Config:
    yaml_path: Path | None
    root: Path
    names: list[str]
    sources: dict[str, list[Path]]          # split -> image folders or list files (resolved)
    raw: dict


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


def _names_from(raw: dict, err) -> list[str]:
    """The class names in id order; ``err(message, severity="error")`` reports what is wrong with them."""
    names = raw.get("names")
    nc = raw.get("nc")
    out: list[str] = []
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
            out = [keys.get(i, f"class_{i}") for i in range(max(keys) + 1)]
            if sorted(keys) != list(range(len(keys))):
                missing = sorted(set(range(max(keys) + 1)) - set(keys))
                err(f"names ids must be 0..{len(keys) - 1} with none missing; got {sorted(keys)}"
                    + (f" (missing {missing})" if missing else "") + " — renumber the classes (and their labels)")
    elif isinstance(names, (list, tuple)):
        out = [str(n) for n in names]
    else:
        err(f"names must be a list or an {{id: name}} dict; got {type(names).__name__} {names!r}")
    if isinstance(names, (Mapping, list, tuple)) and not names:
        err("names is empty — list the class names")
    if nc is not None and out and nc != len(out):
        err(f"nc is {nc} but names has {len(out)} classes — fix nc (or delete it: names is enough)")
    dup = [n for n, k in Counter(out).items() if k > 1]
    if dup:
        err(f"class name(s) {dup} appear more than once in names — two ids for one class split its boxes; merge "
            "them (and renumber the labels)", "warning")
    return out


def load_config(root_or_data_yaml: str | os.PathLike, wanted: Sequence[str] = ()
                 ) -> tuple[Config, list[Problem]]:
    """Read data.yaml: the root, names and each split's image sources (the standard split keys and those
    ``wanted``), and the problems found."""
    p = Path(root_or_data_yaml).expanduser()
    problems: list[Problem] = []
    yaml_path, why = _find_yaml(p)
    if yaml_path is None:
        problems.append(Problem("bad_yaml", "error", p, why))
        return Config(None, p if p.is_dir() else p.parent, [], {}, {}), problems
    yaml_path = yaml_path.resolve()
    ydir = yaml_path.parent
    why, line, raw = "", None, {}
    try:
        raw = yaml.safe_load(yaml_path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError) as err:
        why = f"{yaml_path.name}: cannot be read ({err})"
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        why = (f"{yaml_path.name}{f':{line}' if line else ''}: not valid YAML "
               f"({getattr(err, 'problem', None) or err}) — check the indentation and colons")
    if not why and not isinstance(raw, dict):
        why = (f"{yaml_path.name}: expected keys (train, val, names), got {type(raw).__name__} — see the "
               "ultralytics dataset format")
    if why:
        problems.append(Problem("bad_yaml", "error", yaml_path, why, line))
        return Config(yaml_path, ydir, [], {}, {}), problems

    def err(msg: str, severity: str = "error", split: str | None = None) -> None:
        problems.append(Problem("bad_yaml", severity, yaml_path, f"{yaml_path.name}: {msg}", None, split))

    names = _names_from(raw, err)

    # the root: ultralytics reads a relative `path` from the current folder; a missing `path` means ydir
    root = ydir
    given = raw.get("path")
    if given not in (None, ""):
        gp = Path(str(given)).expanduser()
        if gp.is_absolute():
            root = gp
        else:
            from_cwd, from_yaml = (Path.cwd() / gp).resolve(), (ydir / gp).resolve()
            probe = raw["train"] if isinstance(raw.get("train"), str) else ""
            if from_cwd == from_yaml or (from_cwd.is_dir() and (from_cwd / probe).exists()):
                root = from_cwd
            else:
                root = from_yaml
                err(f"path: {given} is relative; ultralytics reads it from the current folder "
                    f"({from_cwd}, {'no dataset there' if from_cwd.exists() else 'does not exist'}), this check "
                    f"used {from_yaml} (next to data.yaml) — delete the 'path' line (then the folder of "
                    "data.yaml is the root) or make it absolute", "warning")
        if not root.is_dir():
            problems.append(Problem("missing_folder", "error", root,
                                    f"{yaml_path.name}: path: {given} -> {root} does not exist — fix 'path' "
                                    "(or delete it: then the folder of data.yaml is the root)"))

    sources: dict[str, list[Path]] = {}
    for key in ("train", "val"):
        if raw.get(key) in (None, "", []):
            err(f"{'no' if key not in raw else 'empty'} {key!r} key — add {key}: images/{key} (the folder of the "
                f"{key} images, relative to the root {root})", split=key)
    keys = [k for k in STANDARD_SPLITS if k in raw]
    keys += sorted(k for k in raw if isinstance(k, str) and k.startswith(("test_", "val_")))
    keys += [k for k in wanted if k in raw and k not in keys and k not in ("path", "names", "nc")]
    for key in keys:
        value = raw[key]
        if value in (None, "", []):
            continue  # `test:` left empty: no such split (the two required ones are reported above)
        entries = value if isinstance(value, list) else [value]
        paths = []
        for entry in entries:
            if not isinstance(entry, (str, os.PathLike)):
                err(f"{key}: {entry!r} is not a folder path", split=key)
                continue
            ep = Path(entry).expanduser()
            full = ep if ep.is_absolute() else root / ep
            if not full.exists():
                problems.append(Problem(
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
            err(f"{' and '.join(keys)} use the same images ({q}) — "
                + ("a model evaluated on its own training images looks better than it is; " if "train" in keys else
                   "the two splits are one measurement, not two; ") + "give each split its own folder", "warning")
    return Config(yaml_path, root, names, sources, raw), problems


