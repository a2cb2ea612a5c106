"""Pre-train the course's stand-in for ImageNet weights (Module 2), shipped in ``datasets/pretrained_standin``.

Build-time only: the notebooks load the shipped weights (``coursekit.models.pretrain.pretrained_backbone``,
which falls back to ``standin_backbone`` offline); this script is the deterministic recipe that made them
(about 20-35 minutes on 2 CPU cores).

    python -m tools.build_pretrain_standin           # from the repository root; writes datasets/pretrained_standin

``tests/test_pretrain.py`` rebuilds a tiny recipe twice and checks the files are byte-identical.
"""
from __future__ import annotations

import json
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from coursekit.assets import sha256_of
from coursekit.models.pretrain import STANDIN_NAME, STANDIN_PARTS

__all__ = ["PretrainRecipe", "pretraining_set", "pretrain_standin", "main"]

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


def pretraining_set(recipe: PretrainRecipe = PretrainRecipe(), progress: bool = True):
    """Render the stand-in's pre-training images: ``(images uint8 (N, s, s, 3), labels (N,), scenes (N,), report)``.

    Labels index :data:`~coursekit.data.inspection.INSPECTION_CLASSES`; ``scenes`` is each image's scene
    index (a defect and its twin share one, so a held-out split can keep them together). ``report``
    counts the images per class and the scenes whose defect could not be drawn; those are left out and
    counted, never hidden.
    """
    from coursekit.data.inspection import INSPECTION_CLASSES, render_inspection_scene

    images, labels, scenes, skipped = [], [], [], {c: 0 for c in INSPECTION_CLASSES}
    it = range(recipe.scenes)
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(it, desc="rendering pre-training scenes", unit="img", leave=False)
    for i in it:
        try:
            scene, meta = render_inspection_scene(i, "train", recipe.seed, recipe.size, parts=recipe.parts)
        except RuntimeError:  # the defect has no place on this part (e.g. a missing hole on a knob)
            from coursekit.data.inspection import plan_sample

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
    from coursekit.data.loaders import TensorLoader, channel_stats
    from coursekit.data.shipped import building_folder
    from coursekit.config import seed_everything
    from coursekit.train import evaluate, fit
    from coursekit.models.resnet9 import ResNet9

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
            "made_by": "tools.build_pretrain_standin.pretrain_standin (python -m tools.build_pretrain_standin)",
        }
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
        (tmp / "README.md").write_text(_readme(manifest), encoding="utf-8")
    return out


def _readme(m: dict) -> str:
    r = m["recipe"]
    val = m["pretrain_val_accuracy"]
    return f"""# The course's stand-in for ImageNet weights (Module 2)

`{m['weights']}`: a ResNet-9 (width {r['width']}, no classifier; {m['size'] / 1e6:.1f} MB) pre-trained by
`tools.build_pretrain_standin.pretrain_standin` to classify inspection-style photos of part types that are
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

    python -m tools.build_pretrain_standin            # writes datasets/{STANDIN_NAME}
"""


def main(argv: list[str] | None = None) -> int:  # pragma: no cover - the one-off build
    import argparse

    p = argparse.ArgumentParser(description="Pre-train the course's stand-in backbone (Module 2).")
    p.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "datasets" / STANDIN_NAME))
    p.add_argument("--scenes", type=int, default=PretrainRecipe.scenes)
    p.add_argument("--epochs", type=int, default=PretrainRecipe.epochs)
    a = p.parse_args(argv)
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    out = pretrain_standin(a.out, PretrainRecipe(scenes=a.scenes, epochs=a.epochs))
    print(json.loads((out / "manifest.json").read_text())["pretrain_val_accuracy"], "->", out)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
