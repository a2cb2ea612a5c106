"""Ultralytics YOLO for Module 3, safe without internet (classrooms without Wi-Fi, CI)."""
from __future__ import annotations

import hashlib
import json
import os
import sys
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from ..assets import ASSETS, fetch
from ..config import Settings, module_setting, settings as _settings, writable_home
from ..files import atomic_copy, atomic_write_text
from ..standins import real_or_standin
from ..types import Detections
from .registry import Loaded

__all__ = ["YOLO_ASSETS", "UltralyticsSetup", "offline_ultralytics", "ultralytics_config_dir", "yolo_model",
           "yolo_weights", "val_predictions", "train_yolo", "yolo_data_yaml", "predict_detections", "yolo_amp",
           "YOLO_SETTINGS", "yolo_setting"]

#: Model name -> asset name in :data:`coursekit.assets.ASSETS` (the pre-trained ``.pt`` file).
YOLO_ASSETS: dict[str, str] = {"yolo11n": "yolo11n"}

# Read once, when ultralytics is first imported (ultralytics/utils/__init__.py): YOLO_OFFLINE=1 makes ONLINE False
# without a DNS lookup (no update check, usage events, Sentry or pip); YOLO_AUTOINSTALL=0 never runs pip.
_ENV = {"YOLO_OFFLINE": "1", "YOLO_AUTOINSTALL": "0"}
# Its settings.json for the course: no sync, no Platform key, no experiment trackers (each may log to a server).
_OFF_SETTINGS = {"sync": False, "api_key": "", "clearml": False, "comet": False, "dvc": False, "mlflow": False,
                 "raytune": False, "tensorboard": False, "wandb": False, "vscode_msg": False}
# check_font() downloads these unless found in USER_CONFIG_DIR or matplotlib's fonts: DejaVu Sans under both names.
_FONT_NAMES = ("Arial.ttf", "Arial.Unicode.ttf")


@dataclass(frozen=True)
class UltralyticsSetup:
    """What :func:`offline_ultralytics` put in place."""

    config_dir: Path
    settings_file: Path
    fonts: tuple[Path, ...]
    imported_before: bool


_SETUP: UltralyticsSetup | None = None
_WARNED: set[str] = set()  # cache folders already warned about (one warning each)


def ultralytics_config_dir(settings: Settings | None = None) -> Path:
    """``YOLO_CONFIG_DIR``: ``<cache>/ultralytics``, under the learner's own folder when the cache is read-only.

    >>> ultralytics_config_dir(Settings(home=Path("/tmp/ck"))).as_posix()
    '/tmp/ck/ultralytics'
    """
    return writable_home((settings or _settings()).home) / "ultralytics"


def _place_fonts(folder: Path) -> tuple[Path, ...]:
    """Copy matplotlib's DejaVu Sans into ``folder`` as Arial.ttf and Arial.Unicode.ttf (once, atomically)."""
    import matplotlib

    source = Path(matplotlib.get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
    folder.mkdir(parents=True, exist_ok=True)
    placed = tuple(folder / name for name in _FONT_NAMES)
    for dest in placed:
        if not dest.is_file() or dest.stat().st_size != source.stat().st_size:
            atomic_copy(source, dest)
    return placed


def _runtime_flags() -> list[str]:
    """Apply YOLO_OFFLINE / YOLO_AUTOINSTALL / sync=False to an ultralytics imported before they were set."""
    import ultralytics.utils as uu
    from ultralytics.utils import checks

    changed = []
    for module in (uu, checks):
        for attr in ("ONLINE", "AUTOINSTALL"):
            if getattr(module, attr, False):
                setattr(module, attr, False)
                changed.append(f"{module.__name__}.{attr}=False")
    events = sys.modules.get("ultralytics.utils.events")  # usage events: enabled is decided when it is imported
    if events is not None and getattr(events.events, "enabled", False):
        events.events.enabled = False
        changed.append("ultralytics.utils.events.events.enabled=False")
    return changed


def offline_ultralytics(settings: Settings | None = None) -> UltralyticsSetup:
    """Make ultralytics work without the network, through its own variables and settings (in
    ``<cache>/ultralytics``); call it before importing ultralytics. Idempotent."""
    global _SETUP
    folder = ultralytics_config_dir(settings)
    imported_before = "ultralytics.utils" in sys.modules
    os.environ["YOLO_CONFIG_DIR"] = str(folder)
    os.environ.update(_ENV)

    import ultralytics.utils as uu  # first import here: reads the variables above

    ours = Path(uu.USER_CONFIG_DIR).resolve() == (folder / "Ultralytics").resolve()
    wanted = dict(_OFF_SETTINGS)
    if ours:
        wanted.update({f"{k}_dir": str(folder / k) for k in ("datasets", "weights", "runs")})
    changes = {k: v for k, v in wanted.items() if k in uu.SETTINGS.defaults and uu.SETTINGS.get(k) != v}
    if changes and ours:
        uu.SETTINGS.update(changes)  # validated and saved to <cache>/ultralytics/Ultralytics/settings.json
    elif changes:
        dict.update(uu.SETTINGS, changes)  # this process only: someone else's settings file stays untouched

    fonts = _place_fonts(folder / "Ultralytics")
    changed = _runtime_flags()
    if not ours:
        from matplotlib import font_manager

        known = {Path(f.fname).resolve() for f in font_manager.fontManager.ttflist}
        for font in fonts:
            if font.resolve() not in known:
                font_manager.fontManager.addfont(str(font))  # check_font's second place to look

    late = imported_before if _SETUP is None else _SETUP.imported_before
    _SETUP = UltralyticsSetup(Path(uu.USER_CONFIG_DIR), Path(uu.SETTINGS_FILE), fonts, late)
    if changed or (not ours and str(folder) not in _WARNED):
        _WARNED.add(str(folder))
        why = ("ultralytics was imported before coursekit.models.yolo.offline_ultralytics() and already ran its "
               "online check (a DNS lookup) then" if late
               else "ultralytics was first imported for another cache folder")
        where = "" if ours else f"; it keeps its settings in {uu.SETTINGS_FILE}, not under {folder}"
        what = f" ({', '.join(changed)})" if changed else ""
        warnings.warn(
            f"{why}{where}. The offline choices were applied to this process only{what}. To keep ultralytics off "
            "the network from the start, call offline_ultralytics(S) (or yolo_model(S)) before importing ultralytics, "
            f"or export YOLO_OFFLINE=1 YOLO_AUTOINSTALL=0 YOLO_CONFIG_DIR={folder}.", RuntimeWarning, stacklevel=2)
    return _SETUP


def yolo_weights(settings: Settings | None = None, name: str = "yolo11n", progress: bool = True) -> tuple[str, bool]:
    """What to hand ``ultralytics.YOLO(...)``, offline-safe: ``(weights, is_standin)``: the cached COCO ``.pt``,
    or offline ``"<name>.yaml"`` (the stand-in: the same architecture with random weights), announced.

    >>> weights, is_standin = yolo_weights(S)              # doctest: +SKIP
    >>> model = YOLO(weights, task="detect")                # doctest: +SKIP
    """
    S = settings or _settings()
    if name not in YOLO_ASSETS:
        raise KeyError(f"no pre-trained weights registered for {name!r}; known: {', '.join(sorted(YOLO_ASSETS))}")
    asset = ASSETS[YOLO_ASSETS[name]]
    offline_ultralytics(S)
    return real_or_standin(
        S, lambda: (str(fetch(asset, home=S.home, progress=progress, offline=S.offline)), False),
        lambda: (f"{name}.yaml", True), what=f"the {name} weights file", note=f"{name} with random weights; ",
        replaces=f"{name} pre-trained on COCO (official Ultralytics weights, {asset.filename})",
        by=f"the same {name} architecture built from {name}.yaml with random weights (no pre-training)",
        real_result="fine-tuned from COCO weights the detector should reach a higher mAP in the same epochs; "
                    "that number is the learner's measurement (coursekit fetch yolo11n, then the full profile)")


def yolo_model(settings: Settings | None = None, name: str = "yolo11n", progress: bool = True) -> Loaded:
    """The YOLO detector to fine-tune as a :class:`~coursekit.models.registry.Loaded`: ``model`` is ultralytics'
    ``YOLO(weights)`` with :func:`yolo_weights`' file (``yolo.weights``)."""
    weights, is_standin = yolo_weights(settings, name, progress=progress)
    from ultralytics import YOLO

    model = YOLO(weights, task="detect", **({"verbose": False} if is_standin else {}))
    return Loaded(model, is_standin, f"{name} from {name}.yaml, random weights" if is_standin
                  else f"{name}, COCO pre-trained", weights=weights)


#: Module 3's settings per run profile: ``full`` fine-tunes at the images' own 320 px, ``smoke`` (CI) trains fewer
#: epochs at half the size; ``recall_goal``: the share of parts the detector is calibrated to find;
#: ``compare_epochs`` / ``compare_fraction``: the short schedule comparing pre-trained and from-scratch starts.
YOLO_SETTINGS: dict[str, dict] = {
    "full": dict(model="yolo11n", epochs=60, imgsz=320, batch=16, recall_goal=0.95, compare_epochs=15,
                 compare_fraction=1.0),
    "smoke": dict(model="yolo11n", epochs=13, imgsz=160, batch=16, recall_goal=0.95, compare_epochs=2,
                  compare_fraction=0.5),
}


def yolo_setting(S: Settings | None = None) -> dict:
    """This run's row of :data:`YOLO_SETTINGS` (by the profile), with its ``name``.

    >>> yolo_setting(Settings(profile="smoke"))["imgsz"]
    160
    """
    return module_setting(YOLO_SETTINGS, S)


def yolo_amp(device: str) -> bool | str:
    """The ``amp`` training argument that never starts ultralytics' AMP check.

    >>> yolo_amp("cpu")
    False
    """
    if not str(device).startswith("cuda"):
        return False
    import torch

    try:
        native = torch.cuda.is_available() and torch.cuda.is_bf16_supported(including_emulation=False)
    except TypeError:  # older torch without including_emulation
        native = torch.cuda.is_available() and torch.cuda.get_device_capability()[0] >= 8
    return "bf16" if native else False


def train_yolo(model, data_yaml: str | os.PathLike, *, epochs: int, imgsz: int, batch: int, device: str,
               project: str | os.PathLike, name: str, seed: int, workers: int = 0, amp: bool | str | None = None,
               plots: bool = True, **overrides: Any):
    """Train (fine-tune) ``model`` on a YOLO dataset, offline-safe; return ``(path of best.pt, metrics)``."""
    device = str(device)
    if amp is None:
        amp = yolo_amp(device)
    elif amp is True or amp == "fp16":
        from ultralytics import utils as uu

        check_weights = Path(uu.WEIGHTS_DIR) / "yolo26n.pt"  # where check_amp loads it from (checks.py:1042)
        if device.startswith("cuda") and not check_weights.is_file():
            raise ValueError(
                f"amp={amp!r} on {device} starts ultralytics' AMP check, which downloads yolo26n.pt into "
                f"{check_weights}. Use amp='bf16' (Ampere or newer GPUs), amp=False, or leave amp=None to choose.")
    args = dict(data=str(Path(data_yaml).resolve()), epochs=int(epochs), imgsz=int(imgsz), batch=int(batch),
                device=device, project=str(Path(project).resolve()), name=str(name), exist_ok=True, seed=int(seed),
                deterministic=True, workers=int(workers), amp=amp, plots=bool(plots), val=True)
    metrics = model.train(**{**args, **overrides})
    best = Path(model.trainer.best)
    return (best if best.is_file() else Path(model.trainer.last)), metrics


def yolo_data_yaml(root: str | os.PathLike | None = None, test_split: str = "test",
                   out_dir: str | os.PathLike | None = None) -> Path:
    """A copy of a YOLO dataset's ``data.yaml`` whose ``test`` is ``test_split``, with absolute paths.

    >>> yaml_file = yolo_data_yaml(test_split="test_shifted")          # doctest: +SKIP
    >>> metrics = model.val(data=str(yaml_file), split="test")          # doctest: +SKIP
    """
    from ..data.detection import detection_root

    root = Path(root) if root is not None else detection_root()
    source = root if root.suffix in (".yaml", ".yml") else root / "data.yaml"
    if not source.is_file():
        raise FileNotFoundError(f"{source} does not exist: expected a YOLO dataset folder with a data.yaml")
    root = source.parent.resolve()
    data = yaml.safe_load(source.read_text(encoding="utf-8")) or {}
    base = (root / (data.get("path") or ".")).resolve()
    splits = {k: v for k, v in data.items() if isinstance(v, str) and k not in ("path", "download")
              and (k in ("train", "val", "test", "minival") or k.startswith(("test", "val")))}
    rel = data.get(test_split) if isinstance(data.get(test_split), str) else f"images/{test_split}"
    target = (base / rel).resolve()
    if not target.exists():
        have = sorted(k for k, v in splits.items() if (base / v).exists())
        raise ValueError(f"{source} has no split {test_split!r} ({target} does not exist); it has {', '.join(have)}")
    out = {k: v for k, v in data.items() if k != "download"}  # a local dataset never downloads anything
    out.update({"path": str(base), **{k: str((base / v).resolve()) for k, v in splits.items()}, "test": str(target)})

    folder = Path(out_dir) if out_dir is not None else writable_home() / "yolo_data"
    folder.mkdir(parents=True, exist_ok=True)
    tag = hashlib.sha256(str(root).encode()).hexdigest()[:8]
    dest = folder / f"{root.name}-{tag}-{test_split}.yaml"
    atomic_write_text(dest, f"# {test_split} of {root} as ultralytics' 'test' split; written by "
                            "coursekit.models.yolo.yolo_data_yaml\n" + yaml.safe_dump(out, sort_keys=False,
                                                                                       allow_unicode=True))
    return dest


def _sources(images) -> list:
    """Paths stay paths; RGB uint8 arrays (the course's convention) become the BGR arrays ultralytics expects."""
    if isinstance(images, (str, os.PathLike)):
        return [str(images)]
    if isinstance(images, np.ndarray) and images.ndim == 3:
        images = images[None]
    if isinstance(images, np.ndarray) and (images.ndim != 4 or images.shape[-1] != 3):
        raise ValueError(f"images must be (H, W, 3) or (N, H, W, 3) RGB arrays; got shape {images.shape}")
    out = []
    for i, im in enumerate(images):
        if isinstance(im, (str, os.PathLike)):
            out.append(str(im))
            continue
        im = np.asarray(im)
        if im.ndim != 3 or im.shape[-1] != 3:
            raise ValueError(f"image {i} must be an (H, W, 3) RGB array or a path; got shape {im.shape}")
        out.append(np.ascontiguousarray(im[..., ::-1]))
    return out


def predict_detections(model, images, conf: float = 0.001, iou: float = 0.7, imgsz: int | None = None,
                       device: str | None = None, max_det: int = 300) -> list:
    """Run ``model`` on images (paths or RGB arrays); return one :class:`~coursekit.types.Detections` per image."""
    sources = _sources(images)
    if not sources:
        return []
    kwargs: dict[str, Any] = dict(conf=conf, iou=iou, max_det=max_det, verbose=False, stream=True, save=False)
    if imgsz is not None:
        kwargs["imgsz"] = int(imgsz)
    if device is not None:
        kwargs["device"] = str(device)
    return [Detections.from_ultralytics(r) for r in model.predict(source=sources, **kwargs)]


def val_predictions(predictions_json: str | os.PathLike, names, data_yaml: str | os.PathLike, split: str,
                    images: list | None = None) -> list:
    """The boxes ``model.val(save_json=True)`` scored, read back from its ``predictions.json``: one
    :class:`~coursekit.types.Detections` per image of ``split`` (sorted by file name unless ``images`` says).

    >>> metrics = model.val(data=yaml_file, split="val", save_json=True)         # doctest: +SKIP
    >>> preds = val_predictions(metrics.save_dir / "predictions.json", model.names, yaml_file, "val")  # doctest: +SKIP
    """
    out, data_yaml = Path(predictions_json), Path(data_yaml)
    if not out.is_file():
        raise FileNotFoundError(f"ultralytics wrote no {out}: model.val needs save_json=True")
    results = json.loads(out.read_text(encoding="utf-8"))
    names = [names[i] for i in range(len(names))]
    categories = [{"id": i + 1, "name": n} for i, n in enumerate(names)]
    if images is None:
        cfg = yaml.safe_load(data_yaml.read_text(encoding="utf-8"))
        folder = data_yaml.parent / (cfg.get("path") or ".") / cfg[split]
        images = sorted(p for p in folder.iterdir() if p.suffix.lower() in (".jpg", ".jpeg", ".png", ".bmp"))
    stems = [Path(p).stem for p in images]
    unknown = sorted({r["image_id"] for r in results} - set(stems))
    if unknown:
        raise ValueError(f"{out} has predictions for images {unknown[:3]} that are not in the {len(stems)} images "
                         "given: pass the split's image files as images=")
    preds = [Detections.from_coco(results, stem, categories) for stem in stems]
    # an image without a box: an empty prediction, not ground truth
    return [Detections.empty(names, d.image_size) if d.confidence is None else d for d in preds]
