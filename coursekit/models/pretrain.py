"""Pre-trained backbones for Module 2: the real ImageNet ResNet-18, or the course's offline stand-in.

:func:`pretrained_backbone` is the one call a notebook makes. With internet (or the file already cached)
it returns ResNet-18 with torchvision's official ImageNet weights, through the asset registry
(checksummed, loaded with ``weights_only=True``). Offline, in the smoke profile (or with
``COURSEKIT_STANDINS=1``), it returns the course's **stand-in**, loudly announced: a small ResNet-9
(width 16, 0.4M parameters) that the course pre-trained itself on the inspection generator's *other* part
types (hex nuts, circlips, bolts, knobs: never the six parts of the inspection dataset), to tell ok parts
from scratched, cracked and undrilled ones. Random weights would teach nothing about transfer; this
stand-in still shows a real, measured (smaller) transfer effect, because what it learnt on other parts
(what a scratch or a crack looks like on machined metal) is what the new task needs.

The stand-in's weights are small enough to ship in the repository (``datasets/pretrained_standin``,
with their sha256 in a manifest); :func:`pretrain_standin` is the deterministic script that made them,
and rebuilds them when the file is missing (about 20-35 minutes on 2 CPU cores).

>>> spec = standin_backbone()                     # doctest: +SKIP
>>> model = spec.create(pretrained=True)          # doctest: +SKIP
>>> model.num_features                            # doctest: +SKIP
128
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn as nn

from ..assets import sha256_of

__all__ = ["Backbone", "PretrainRecipe", "STANDIN_PARTS", "IMAGENET_MEAN", "IMAGENET_STD",
           "pretrained_backbone", "standin_backbone", "imagenet_backbone", "resnet9_backbone",
           "pretraining_set", "pretrain_standin", "standin_root"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
STANDIN_PARTS: tuple[str, ...] = ("hex_nut", "circlip", "bolt", "knob")
"""The part types the stand-in is pre-trained on: none of them is in the inspection dataset."""
STANDIN_NAME = "pretrained_standin"
_STANDIN_SPLIT_SEED = 777  # the pre-training scenes: another seed than the shipped dataset (seed 0)


@dataclass(frozen=True)
class PretrainRecipe:
    """How the stand-in was pre-trained (stored in the weights file and its README).

    ``scenes`` inspection-style images of :data:`STANDIN_PARTS` (a quarter per class; missing holes
    only on the parts that have holes; a defective scene also adds its defect-free twin as ``ok``, so
    the only difference the network can use is the defect), ``epochs`` of SGD with a one-cycle
    schedule; ``val_fraction`` of the *scenes* (each with its twin) are held out to report how well the
    pre-training task itself was learnt.
    """

    scenes: int = 4000
    epochs: int = 16
    width: int = 16
    batch_size: int = 64
    lr: float = 0.1
    weight_decay: float = 5e-4
    seed: int = _STANDIN_SPLIT_SEED
    size: int = 96
    twins: bool = True
    val_fraction: float = 0.1
    parts: tuple[str, ...] = STANDIN_PARTS


@dataclass
class Backbone:
    """A pre-trained feature extractor and how to feed it.

    Attributes:
        name: what it is (e.g. ``"resnet18-imagenet"``).
        arch: the architecture (``"resnet18"`` or ``"resnet9-w16"``).
        weights: the weights file (``None``: none, random init only).
        mean, std: the normalisation the weights were trained with (``TensorLoader(mean=, std=)``).
        input_size: the image side to feed (images are resized to it by :meth:`prepare`).
        is_standin: ``True`` for the course's stand-in (its numbers are not the real result).
        factory: ``factory(weights_or_None) -> nn.Module`` with a ``num_features`` attribute.
        lr: head learning rates per strategy that differ from :data:`~coursekit.models.transfer.TRANSFER_SETTINGS`
            (features of another scale need another step size); empty: use the settings' values.
    """

    name: str
    arch: str
    weights: Path | None
    mean: tuple[float, ...]
    std: tuple[float, ...]
    input_size: int
    is_standin: bool
    factory: Callable[[Path | None], nn.Module] = field(repr=False)
    info: dict = field(default_factory=dict, repr=False)
    lr: dict = field(default_factory=dict)

    def create(self, pretrained: bool = True) -> nn.Module:
        """A new backbone: with the pre-trained weights, or (``pretrained=False``) the same architecture
        from random weights (the "from scratch" baseline)."""
        return self.factory(self.weights if pretrained else None)

    def prepare(self, images: np.ndarray) -> np.ndarray:
        """uint8 (N, H, W, 3) images resized to ``input_size`` (a no-op when they already have it)."""
        import cv2

        images = np.asarray(images)
        if images.ndim != 4 or images.shape[-1] != 3:
            raise ValueError(f"images must be (N, H, W, 3); got shape {images.shape}")
        if len(images) == 0:
            return np.empty((0, self.input_size, self.input_size, 3), images.dtype)
        if images.shape[1:3] == (self.input_size, self.input_size):
            return images
        interp = cv2.INTER_CUBIC if images.shape[1] < self.input_size else cv2.INTER_AREA
        return np.stack([cv2.resize(im, (self.input_size, self.input_size), interpolation=interp) for im in images])


# --- architectures ----------------------------------------------------------------------------------------

def resnet9_backbone(width: int = 16, weights: str | os.PathLike | None = None) -> nn.Module:
    """The course's ResNet-9 without its classifier: images -> ``8 * width`` features (global max pool, x 0.125).

    ``weights``: a state dict file (e.g. the shipped stand-in), loaded with ``weights_only=True``.
    """
    from .resnet9 import ResNet9
    from .transfer import load_weights

    net = ResNet9(num_classes=1, width=width)
    net.fc = nn.Identity()  # the features keep ResNet-9's x 0.125 scale: max-pooled features are large, and
    # a new head on unscaled ones starts with huge logits (training then diverges at usual learning rates)
    if weights is not None:
        load_weights(net, weights, ignore=("fc.",))
    net.num_features = 8 * width
    return net


def imagenet_backbone(settings=None, progress: bool = True) -> Backbone:
    """ResNet-18 with the official ImageNet weights (downloaded once, checksummed). Raises
    :class:`~coursekit.assets.AssetUnavailable` when they are not cached and cannot be downloaded.

    Images are upscaled to 192 pixels on a GPU (closer to the object scale ImageNet models saw), to 128 on
    a CPU (about 2x cheaper than 192; a little less accurate), and kept at the dataset's 96 in the smoke
    profile on a CPU (smoke checks the code in minutes, whatever is cached).
    """
    from ..assets import fetch
    from ..config import settings as _settings
    from .transfer import resnet18_backbone

    S = settings or _settings()
    path = fetch("resnet18-imagenet", home=S.home, progress=progress, offline=S.offline)
    size = 192 if str(S.device).startswith("cuda") else (96 if S.smoke else 128)
    # ResNet-18's average-pooled features are several times longer than the stand-in's (x 0.125) ones: smaller
    # head steps. Usual values for ImageNet transfer with SGD; not yet tuned on this dataset by the course.
    lr = {"frozen": 0.02, "finetune": 0.01, "scratch": 0.05}
    return Backbone("resnet18-imagenet", "resnet18", Path(path), IMAGENET_MEAN, IMAGENET_STD, size, False,
                    factory=lambda w: resnet18_backbone(w), lr=lr)


def standin_root(root: str | os.PathLike | None = None) -> Path:
    """The folder holding the shipped stand-in weights (repository ``datasets/``, else the cache)."""
    from ..data.shipped import find_shipped_dataset

    return find_shipped_dataset(STANDIN_NAME, root, rebuild="python -m coursekit.models.pretrain")



def standin_backbone(root: str | os.PathLike | None = None) -> Backbone:
    """The course's stand-in backbone (shipped weights, checksum verified). See the module docstring."""
    folder = standin_root(root)
    from ..data.shipped import checked_weights

    manifest, path = checked_weights(folder, STANDIN_NAME, "python -m coursekit.models.pretrain")
    width = int(manifest["recipe"]["width"])
    return Backbone("resnet9-parts-standin", f"resnet9-w{width}", path, tuple(manifest["mean"]),
                    tuple(manifest["std"]), int(manifest["recipe"]["size"]), True,
                    factory=lambda w: resnet9_backbone(width, w), info=manifest)


def pretrained_backbone(settings=None, progress: bool = True) -> Backbone:
    """The real ImageNet ResNet-18 when available; offline, the announced stand-in (smoke profile, or
    ``COURSEKIT_STANDINS=1``). In the full profile without the weights it stops with the offline error
    (how to pre-fetch them), never a silent fallback.
    """
    from ..assets import AssetUnavailable
    from ..config import env_flag, settings as _settings
    from ..standins import announce_standin

    S = settings or _settings()
    try:
        return imagenet_backbone(S, progress=progress)
    except AssetUnavailable as err:
        if not (S.smoke or env_flag("COURSEKIT_STANDINS")):
            raise AssetUnavailable(
                f"{err}\nOr run on the course's offline stand-in (its numbers are not the real result): "
                "COURSEKIT_PROFILE=smoke, or COURSEKIT_STANDINS=1 for the full-size run.", err.reason) from None
        spec = standin_backbone()
        announce_standin(
            replaces="ResNet-18 with ImageNet weights (torchvision, 11.7M parameters)",
            by=f"ResNet-9 width {spec.info['recipe']['width']} pre-trained by the course on defects of other part "
               f"types ({', '.join(spec.info['recipe']['parts'])})",
            why=f"the ImageNet weights are not cached and this machine is offline ({err.reason or 'offline'})",
            real_result="ImageNet features transfer to the inspection task; see 'What the real run shows' below",
        )
        return spec


# --- making the stand-in -------------------------------------------------------------------------------------

def pretraining_set(recipe: PretrainRecipe = PretrainRecipe(), progress: bool = True):
    """Render the stand-in's pre-training images: ``(images uint8 (N, s, s, 3), labels (N,), scenes (N,), report)``.

    Labels index :data:`~coursekit.data.inspection.INSPECTION_CLASSES`; ``scenes`` is each image's scene
    index (a defect and its twin share one, so a held-out split can keep them together). ``report``
    counts the images per class and the scenes whose defect could not be drawn; those are left out and
    counted, never hidden.
    """
    from ..data.inspection import INSPECTION_CLASSES, render_inspection_scene

    images, labels, scenes, skipped = [], [], [], {c: 0 for c in INSPECTION_CLASSES}
    it = range(recipe.scenes)
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(it, desc="rendering pre-training scenes", unit="img", leave=False)
    for i in it:
        try:
            scene, meta = render_inspection_scene(i, "train", recipe.seed, recipe.size, parts=recipe.parts)
        except RuntimeError:  # the defect has no place on this part (e.g. a missing hole on a knob)
            from ..data.inspection import plan_sample

            skipped[plan_sample(i, "train", recipe.seed, recipe.parts).label] += 1
            continue
        c = INSPECTION_CLASSES.index(meta["class"])
        images.append(scene.image)
        labels.append(c)
        scenes.append(i)
        if recipe.twins and c != 0:
            twin, _ = render_inspection_scene(i, "train", recipe.seed, recipe.size, clean=True, parts=recipe.parts)
            images.append(twin.image)
            labels.append(0)
            scenes.append(i)
    y = np.asarray(labels, np.int64)
    report = {"images": int(len(y)), "per_class": {c: int((y == k).sum()) for k, c in enumerate(INSPECTION_CLASSES)},
              "skipped_scenes": skipped}
    return np.stack(images), y, np.asarray(scenes, np.int64), report


def pretrain_standin(out_dir: str | os.PathLike, recipe: PretrainRecipe = PretrainRecipe(), device: str = "cpu",
                     progress: bool = True) -> Path:
    """Pre-train the stand-in backbone and write ``out_dir`` (weights, ``manifest.json``, ``README.md``).

    Deterministic for a given recipe, machine and library versions (seeded data, order and init). The
    folder is written next to ``out_dir`` and renamed into place, so an interrupted run leaves nothing half.
    """
    from ..data.loaders import TensorLoader, channel_stats
    from ..data.shipped import building_folder
    from ..config import seed_everything
    from ..train import evaluate, fit
    from .resnet9 import ResNet9

    t0 = time.time()
    X, y, scene, report = pretraining_set(recipe, progress)
    ids = np.unique(scene)
    held = np.random.default_rng(recipe.seed).permutation(ids)[:int(round(recipe.val_fraction * len(ids)))]
    is_val = np.isin(scene, held)  # a scene and its twin stay on the same side
    val, tr = np.flatnonzero(is_val), np.flatnonzero(~is_val)
    n_val = len(val)
    mean, std = channel_stats(X[tr])
    seed_everything(recipe.seed)
    train_loader = TensorLoader(X[tr], y[tr], batch_size=min(recipe.batch_size, len(tr)), shuffle=True, augment=True,
                                mean=mean, std=std, drop_last=True, device=device, seed=recipe.seed)
    val_loader = TensorLoader(X[val], y[val], batch_size=256, mean=mean, std=std, device=device) if n_val else None
    model = ResNet9(num_classes=4, width=recipe.width)
    opt = torch.optim.SGD(model.parameters(), lr=recipe.lr, momentum=0.9, nesterov=True,
                          weight_decay=recipe.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, recipe.lr, total_steps=len(train_loader) * recipe.epochs,
                                                pct_start=0.25)
    history = fit(model, train_loader, epochs=recipe.epochs, optimizer=opt, scheduler=sched, val_loader=val_loader,
                  device=device, progress=progress)
    val_acc = evaluate(model, val_loader, device=device)["accuracy"] if val_loader is not None else None

    weights = f"resnet9w{recipe.width}-parts-defects.pt"
    out = Path(out_dir)
    with building_folder(out) as tmp:
        state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items() if not k.startswith("fc.")}
        torch.save(state, tmp / weights)
        manifest = {
            "name": STANDIN_NAME, "weights": weights, "sha256": sha256_of(tmp / weights),
            "size": (tmp / weights).stat().st_size, "arch": f"resnet9 width {recipe.width} (no classifier)",
            "recipe": {**asdict(recipe), "parts": list(recipe.parts)}, "mean": list(mean), "std": list(std),
            "data": report, "pretrain_val_accuracy": val_acc,
            "pretrain_train_accuracy": history.last["train_acc"], "seconds": round(time.time() - t0, 1),
            "torch": torch.__version__, "licence": "CC0-1.0",
            "made_by": "coursekit.models.pretrain.pretrain_standin (python -m coursekit.models.pretrain)",
        }
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
        (tmp / "README.md").write_text(_readme(manifest), encoding="utf-8")
    return out


def _readme(m: dict) -> str:
    r = m["recipe"]
    val = m["pretrain_val_accuracy"]
    return f"""# The course's stand-in for ImageNet weights (Module 2)

`{m['weights']}`: a ResNet-9 (width {r['width']}, no classifier; {m['size'] / 1e6:.1f} MB) pre-trained by
`coursekit.models.pretrain.pretrain_standin` to classify inspection-style photos of part types that are
**not** in the inspection dataset ({', '.join(r['parts'])}) as ok / scratch / crack / missing_hole.
Module 2 uses it *only* when the real ImageNet ResNet-18 weights cannot be downloaded (CI, offline
classrooms), and announces it as a stand-in every time: its numbers check the method, they are not the
real result.

- Data: {m['data']['images']} images of {r['size']}x{r['size']} pixels, rendered by the course's scene
  generator (seed {r['seed']}, {r['scenes']} scenes; each defective scene also adds its defect-free twin as
  `ok`; missing holes only on parts that have holes). Per class: {m['data']['per_class']}.
  Scenes whose defect had no place on the part (left out, counted): {m['data']['skipped_scenes']}.
- Training: {r['epochs']} epochs of SGD (Nesterov momentum 0.9, one-cycle, peak lr {r['lr']}, weight decay
  {r['weight_decay']}), batch {r['batch_size']}, crop + flip augmentation; {m['seconds'] / 60:.1f} min on the machine that built it.
- Pre-training task accuracy on the images of {r['val_fraction']:.0%} held-out scenes (each with its twin): {val if val is None else f'{val:.3f}'}
  (always answering `ok`, the largest class with the twins, would score {m['data']['per_class']['ok'] / m['data']['images']:.3f}).
  The task is hard on purpose (faint defects, stains that are not defects); what matters is that its
  features transfer, which notebook 02 measures.
- Normalisation: mean {[round(x, 4) for x in m['mean']]}, std {[round(x, 4) for x in m['std']]}.
- sha256 `{m['sha256']}` (also in `manifest.json`, checked on every load).
- Licence: CC0-1.0 (made by the course from generated images).

Rebuild (deterministic on one machine; about 20-35 minutes on 2 CPU cores):

    python -m coursekit.models.pretrain            # writes datasets/{STANDIN_NAME}
"""


def main(argv: list[str] | None = None) -> int:  # pragma: no cover - the one-off build
    import argparse

    p = argparse.ArgumentParser(description="Pre-train the course's stand-in backbone (Module 2).")
    p.add_argument("--out", default=str(Path(__file__).resolve().parents[2] / "datasets" / STANDIN_NAME))
    p.add_argument("--scenes", type=int, default=PretrainRecipe.scenes)
    p.add_argument("--epochs", type=int, default=PretrainRecipe.epochs)
    a = p.parse_args(argv)
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    out = pretrain_standin(a.out, PretrainRecipe(scenes=a.scenes, epochs=a.epochs))
    print(json.loads((out / "manifest.json").read_text())["pretrain_val_accuracy"], "->", out)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
