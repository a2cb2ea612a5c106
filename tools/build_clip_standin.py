"""Train the course's tiny CLIP stand-in (Module 4), shipped in ``datasets/clip_standin``.

Build-time only: the notebooks load the shipped weights (``coursekit.models.clip.clip_model``, which falls
back to ``standin_clip_model`` offline) and use the zero-shot API of ``coursekit.models.clip``; this script
is the recipe that made the weights: captions written from what the inspection generator drew, open_clip's
``ClipLoss``, the course's ResNet-9 image tower started from Module 2's stand-in, some (part, defect) pairs
held out (:data:`HELDOUT_PAIRS`) so that zero-shot accuracy on them is measured, not memorised.

    python -m tools.build_clip_standin        # from the repository root; writes datasets/clip_standin

Deterministic on one machine and library versions (21.5 minutes measured on 2 CPU cores shared with a
training run); ``tests/test_clip.py`` rebuilds a tiny recipe twice and checks the files are byte-identical.
"""
from __future__ import annotations

import colorsys
import json
import math
import os
import re
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch
import torch.nn as nn

from coursekit.assets import sha256_of
from coursekit.models.clip import MATERIAL_WORDS, standin_words  # the vocabulary: runtime
from coursekit.models.clip import (TOKEN_KEY, DEFECT_CLASS_NAMES, ENSEMBLE_TEMPLATES, PART_CLASS_NAMES,
                                   SINGLE_TEMPLATE, STANDIN_NAME, build_tiny_clip,
                                   encode_images, standin_clip_model, zero_shot)
from coursekit.models.registry import Loaded, count_parameters

__all__ = ["HELDOUT_PAIRS", "ClipRecipe", "caption", "standin_vocabulary", "pack_state", "render_caption_set",
           "evaluate_zero_shot", "train_clip_standin", "main"]

#: (part, class) pairs never shown in training: the held-out zero-shot test. Each part keeps three of its
#: four classes in training and each class keeps at least four of its six parts.
HELDOUT_PAIRS: tuple[tuple[str, str], ...] = (
    ("washer", "crack"), ("flange", "missing_hole"), ("plate", "scratch"),
    ("bracket", "ok"), ("hinge", "crack"), ("gear", "scratch"),
)


def standin_vocabulary(tokenizer=None) -> list[int]:
    """The token ids the stand-in's captions and prompts use (sorted): its token embedding stores only these
    rows; every other word of the 49,408-token BPE vocabulary reads as a zero vector."""
    import open_clip

    tok = tokenizer or open_clip.SimpleTokenizer()
    ids = {tok.sot_token_id, tok.eot_token_id}
    for w in standin_words() + [".", ","]:
        ids.update(tok.encode(w))
    return sorted(ids)


def _colour_name(rgb: np.ndarray) -> str:
    """A colour word for a median RGB (0-255) of a plastic part's pixels."""
    h, s, v = colorsys.rgb_to_hsv(*(np.asarray(rgb, np.float64) / 255.0))
    if v < 0.18:
        return "black"
    if s < 0.22:
        return "white" if v > 0.62 else "grey"
    deg = h * 360
    for limit, name in ((15, "red"), (40, "orange"), (70, "yellow"), (165, "green"), (255, "blue"),
                        (290, "purple"), (340, "pink")):
        if deg < limit:
            return name
    return "red"


def _appearance(material: str, image: np.ndarray, mask: np.ndarray) -> str:
    """How the part looks, in words: its metal (``"brass"``) or, for plastics, colour + ``"plastic"``."""
    if material in MATERIAL_WORDS:
        return MATERIAL_WORDS[material]
    pixels = image[mask] if mask is not None and mask.any() else image.reshape(-1, 3)
    return f"{_colour_name(np.median(pixels, axis=0))} plastic"


def caption(attrs: dict, rng: np.random.Generator, defect: bool = False) -> str:
    """One random caption of an image from its attributes (``part``, ``class``, ``appearance``, ``lighting``).

    A template of :data:`ENSEMBLE_TEMPLATES` around a subject ("washer", "brass washer", or the generic
    "part"), a defect clause ("with a scratch"; "with no defects" for ok parts; always there after the
    generic "part") and sometimes the light ("in dim light"). Leaving attributes out at random is what lets
    short prompts ("a photo of a washer.") match images that also have a defect. ``defect=True`` always
    says the defect (for a defect and its twin in one batch, the only words that tell them apart).
    """
    generic = rng.random() < 0.2
    subject = "part" if generic else attrs["part"]
    if not generic and rng.random() < 0.6:
        subject = f"{attrs['appearance']} {subject}"
    text = subject
    if rng.random() < 0.7 or generic or defect:
        text += " with " + DEFECT_CLASS_NAMES[attrs["class"]].split(" with ", 1)[1]
    if rng.random() < 0.3:
        text += f", in {attrs['lighting']} light"
    template = ENSEMBLE_TEMPLATES[int(rng.integers(len(ENSEMBLE_TEMPLATES)))]
    return re.sub(r"\ba (?=[aeiou])", "an ", template.format(text))


# --- the stand-in: model, weights file ------------------------------------------------------------------------

@dataclass(frozen=True)
class ClipRecipe:
    """How the stand-in is made (stored in its manifest and README).

    Data: ``scenes`` indices of the inspection generator's ``train`` split with seed ``seed`` (not the
    shipped dataset's seed 0), less the images of :data:`HELDOUT_PAIRS`, each defective one followed by
    its defect-free twin (``twins``). Model (``vision``): ``"resnet9"``, the course's ResNet-9 of width
    ``vision_width`` as image tower (:class:`CourseResNetTower`), initialised from Module 2's stand-in
    backbone (``init_from_standin``: it learnt what scratches, cracks and missing holes look like on
    *other* part types), its ``locked`` modules frozen with their batch-norm statistics (LiT-style partial
    locking); or ``"open_clip"``, one of open_clip's own image towers from random weights (its CLIP ResNet
    when ``vision_layers`` is a tuple, else a ViT with ``patch_size`` patches). Text: open_clip's text
    transformer (``text_width``, ``text_layers``, ``context_length``). Training: ``epochs`` of AdamW (cosine
    schedule after ``warmup`` of the steps) on batches of ``batch_size`` image/caption pairs, each epoch a
    new random caption per image and a random flip/quarter-turn of the image. Evaluation: the first
    ``eval_scenes`` images of the ``test`` split with seed 0 (the shipped dataset's test images and more).

    Measured on 2 busy CPU cores, 440 steps: open_clip's CLIP ResNet (width 16) from random weights learnt
    part types (73% zero-shot) but not defects (36% on seen pairs); the ResNet-9 tower from Module 2's
    stand-in reached 93% and 72% in half the steps. That is why it is the default.
    """

    scenes: int = 12000
    epochs: int = 3
    batch_size: int = 128
    lr: float = 1e-3
    weight_decay: float = 0.1
    warmup: float = 0.05
    seed: int = 4242
    twins: bool = True
    image_size: int = 96
    vision: str = "resnet9"
    init_from_standin: bool = True
    locked: tuple[str, ...] = ("prep", "layer1")
    vision_layers: tuple[int, ...] | int = (1, 1, 1, 1)
    vision_width: int = 16
    patch_size: int = 12
    text_width: int = 64
    text_layers: int = 2
    embed_dim: int = 64
    context_length: int = 24
    eval_scenes: int = 2000
    heldout: tuple[tuple[str, str], ...] = HELDOUT_PAIRS

    def model_config(self) -> dict:
        """open_clip's ``embed_dim`` / ``vision_cfg`` / ``text_cfg`` for this recipe."""
        if self.vision not in ("resnet9", "open_clip"):
            raise ValueError(f"vision must be 'resnet9' or 'open_clip'; got {self.vision!r}")
        if self.vision == "resnet9":
            vision = {"tower": "resnet9", "image_size": self.image_size, "width": self.vision_width}
        elif isinstance(self.vision_layers, (tuple, list)):
            vision = {"image_size": self.image_size, "layers": list(self.vision_layers), "width": self.vision_width}
        else:
            vision = {"image_size": self.image_size, "patch_size": self.patch_size, "width": self.vision_width,
                      "layers": int(self.vision_layers), "head_width": 32}
        return {
            "embed_dim": self.embed_dim,
            "vision_cfg": vision,
            "text_cfg": {"context_length": self.context_length, "vocab_size": 49408, "width": self.text_width,
                         "heads": max(1, self.text_width // 32), "layers": self.text_layers},
        }

    def describe(self) -> str:
        if self.vision == "resnet9":
            v = (f"the course's ResNet-9 (width {self.vision_width}) + LayerNorm + linear projection as image tower"
                 + (", initialised from Module 2's stand-in backbone" if self.init_from_standin else ""))
        elif isinstance(self.vision_layers, (tuple, list)):
            v = (f"CLIP ResNet image tower (open_clip ModifiedResNet, width {self.vision_width}, blocks "
                 f"{tuple(self.vision_layers)}, attention pooling)")
        else:
            v = f"ViT image tower (patch {self.patch_size}, width {self.vision_width}, {self.vision_layers} layers)"
        return (f"open_clip.CLIP: {v} at {self.image_size} px; text transformer width {self.text_width}, "
                f"{self.text_layers} layers, context {self.context_length}; joint embedding {self.embed_dim}")


def pack_state(model: nn.Module, vocabulary: Sequence[int]) -> dict[str, torch.Tensor]:
    """The weights to ship: float16, and of the token embedding only the ``vocabulary`` rows
    (``token_embedding.rows`` int64 ids + ``token_embedding.values``); every other row must be zero."""
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    emb = state.pop(TOKEN_KEY)
    rows = torch.as_tensor(sorted(vocabulary), dtype=torch.int64)
    rest = torch.ones(len(emb), dtype=torch.bool)
    rest[rows] = False
    if emb[rest].abs().max() > 0:
        raise ValueError("the token embedding has non-zero rows outside the vocabulary; they would be lost")
    out = {k: v.to(torch.float16).clone() if v.is_floating_point() else v.clone() for k, v in state.items()}
    out["token_embedding.rows"] = rows
    out["token_embedding.values"] = emb[rows].to(torch.float16).clone()
    return out


def render_caption_set(split: str, seed: int, scenes: int, heldout=HELDOUT_PAIRS, keep: str = "train",
                       size: int = 96, twins: bool = False, progress: bool = True) -> tuple[np.ndarray, list[dict]]:
    """Render inspection photos with their caption attributes: ``(images uint8 (N, size, size, 3), attrs)``.

    ``keep``: ``"train"`` drops the :data:`HELDOUT_PAIRS` images before rendering them, ``"all"`` keeps
    everything (an evaluation set; ``attrs[i]["heldout"]`` says which are held out). ``twins``: after each
    defective image, also its defect-free twin (same part, pose, light; class ``ok``; ``attrs["twin"]``
    True) unless (part, ok) is held out: in one batch the two differ only by the defect, which is what
    teaches the image tower to see defects. ``attrs[i]["scene"]`` is the scene index (shared by twins).
    """
    from coursekit.data.inspection import plan_sample, render_inspection_scene

    if keep not in ("train", "all"):
        raise ValueError(f"keep must be 'train' or 'all'; got {keep!r}")
    held = {tuple(p) for p in heldout}
    images, attrs = [], []
    it = range(scenes)
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(it, desc=f"rendering {split} scenes", unit="img", leave=False)

    def add(scene, meta, label, is_held, twin):
        images.append(scene.image)
        attrs.append({"scene": meta["index"], "part": meta["part"], "class": label, "lighting": meta["lighting"],
                      "material": meta["material"],
                      "appearance": _appearance(meta["material"], scene.image, scene.objects[0].mask),
                      "heldout": is_held, "twin": twin})

    for i in it:
        plan = plan_sample(i, split, seed)
        is_held = (plan.part, plan.label) in held
        if keep == "train" and is_held:
            continue
        scene, meta = render_inspection_scene(i, split, seed, size)
        add(scene, meta, meta["class"], is_held, False)
        if twins and plan.label != "ok" and (plan.part, "ok") not in held:
            scene, meta = render_inspection_scene(i, split, seed, size, clean=True)
            add(scene, meta, "ok", False, True)
    return (np.stack(images) if images else np.zeros((0, size, size, 3), np.uint8)), attrs


def _batches(attrs: list[dict], batch_size: int, rng: np.random.Generator) -> list[np.ndarray]:
    """One epoch's batches of image indices: scenes in random order, a defect and its twin always in the
    same batch; a batch holds ``batch_size`` images (one fewer when the next pair would not fit) and a last
    partial one is dropped."""
    units: dict[int, list[int]] = {}
    for k, a in enumerate(attrs):
        units.setdefault(a["scene"], []).append(k)
    order = [units[s] for s in rng.permutation(sorted(units))]
    out, cur = [], []
    for u in order:
        if len(cur) + len(u) > batch_size:
            out.append(np.asarray(cur))
            cur = []
        cur.extend(u)
    if len(cur) == batch_size:
        out.append(np.asarray(cur))
    return out


def _param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """open_clip's rule: no weight decay on gains, biases, embeddings' norms and the logit scale."""
    decay, no_decay = [], []
    for n, p in model.named_parameters():
        if not p.requires_grad:
            continue
        exclude = p.ndim < 2 or "bn" in n or "ln" in n or "bias" in n or "logit_scale" in n
        (no_decay if exclude else decay).append(p)
    return [{"params": no_decay, "weight_decay": 0.0}, {"params": decay, "weight_decay": weight_decay}]


class _Tokens:
    """Caption -> token row, cached; checks every token is in the stand-in's vocabulary."""

    def __init__(self, tokenizer, vocabulary: Sequence[int]):
        self.tok, self.vocab, self.cache = tokenizer, set(int(v) for v in vocabulary), {}

    def __call__(self, texts: list[str]) -> torch.Tensor:
        rows = []
        for t in texts:
            if t not in self.cache:
                ids = self.tok.encode(t)
                if not set(ids) <= self.vocab or len(ids) + 2 > self.tok.context_length:
                    raise ValueError(f"caption {t!r} uses tokens outside the vocabulary or is too long "
                                     f"({len(ids) + 2} tokens, context {self.tok.context_length})")
                self.cache[t] = self.tok([t])[0]
            rows.append(self.cache[t])
        return torch.stack(rows)


def _augment(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    """A random flip and quarter-turn per image (the captions say nothing about orientation)."""
    k = torch.randint(0, 4, (len(x),), generator=gen)
    flip = torch.randint(0, 2, (len(x),), generator=gen).bool()
    out = torch.empty_like(x)
    for r in range(4):
        for f in (False, True):
            sel = (k == r) & (flip == f)
            if sel.any():
                y = torch.rot90(x[sel], r, (2, 3))
                out[sel] = torch.flip(y, (3,)) if f else y
    return out


def evaluate_zero_shot(clip: Loaded, images: np.ndarray, attrs: list[dict]) -> dict:
    """Zero-shot accuracy of ``clip`` on ``images``: part type (6 classes) and defect (4 classes), with the
    single prompt and the ensemble, on the held-out (part, class) pairs and on the others.

    Returns ``{"heldout": {...}, "seen": {...}, "chance": {...}, "majority": {...}, "n": {...},
    "per_heldout_pair": {...}}`` where each of heldout/seen is ``{"part": {"single": acc, "ensemble": acc},
    "defect": {...}}``, majority is the share of the most frequent true class, and per_heldout_pair gives
    each held-out pair's ensemble accuracy and most frequent answer per task.
    """
    from coursekit.data.inspection import INSPECTION_CLASSES

    feats = encode_images(clip.model, clip.preprocess, images, batch_size=128)
    truth = {"part": np.array([PART_CLASS_NAMES.index(a["part"]) for a in attrs]),
             "defect": np.array([INSPECTION_CLASSES.index(a["class"]) for a in attrs])}
    classes = {"part": list(PART_CLASS_NAMES), "defect": [DEFECT_CLASS_NAMES[c] for c in INSPECTION_CLASSES]}
    held = np.array([a["heldout"] for a in attrs], bool)
    out: dict[str, Any] = {"heldout": {}, "seen": {}, "n": {"heldout": int(held.sum()), "seen": int((~held).sum())},
                           "chance": {"part": 1 / 6, "defect": 1 / 4}, "majority": {}, "per_heldout_pair": {}}
    for task, names in classes.items():
        for tname, templates in (("single", SINGLE_TEMPLATE), ("ensemble", ENSEMBLE_TEMPLATES)):
            pred = zero_shot(clip.model, clip.preprocess, clip.tokenizer, None, names, templates,
                             image_features=feats).labels
            for subset, sel in (("heldout", held), ("seen", ~held)):
                acc = float((pred[sel] == truth[task][sel]).mean()) if sel.any() else float("nan")
                out[subset].setdefault(task, {})[tname] = round(acc, 4)
        out["majority"][task] = {s: round(float(np.bincount(truth[task][sel]).max() / max(sel.sum(), 1)), 4)
                                 for s, sel in (("heldout", held), ("seen", ~held))}
        # per held-out pair (ensemble): accuracy and the most frequent answer
        pred = zero_shot(clip.model, clip.preprocess, clip.tokenizer, None, names, ENSEMBLE_TEMPLATES,
                         image_features=feats).labels
        labels = list(PART_CLASS_NAMES) if task == "part" else list(INSPECTION_CLASSES)
        for part, cls in sorted({(a["part"], a["class"]) for a in attrs if a["heldout"]}):
            sel = np.array([a["heldout"] and a["part"] == part and a["class"] == cls for a in attrs])
            top = int(np.bincount(pred[sel], minlength=len(labels)).argmax())
            out["per_heldout_pair"].setdefault(f"{part}+{cls}", {"n": int(sel.sum())})[task] = {
                "accuracy": round(float((pred[sel] == truth[task][sel]).mean()), 4), "most_answered": labels[top]}
    return out


def train_clip_standin(out_dir: str | os.PathLike, recipe: ClipRecipe = ClipRecipe(), progress: bool = True,
                       device: str = "cpu") -> Path:
    """Train the stand-in and write ``out_dir`` (weights, ``manifest.json``, ``README.md``); returns it.

    Deterministic for a given recipe, machine and library versions (seeded data, captions, order,
    augmentation and init). The weights are evaluated *after* the round trip through the shipped file
    (float16, vocabulary rows only), so the reported numbers are those of what ships. The folder is written
    next to ``out_dir`` and renamed into place, so an interrupted run leaves nothing half.
    """
    import open_clip
    from open_clip.constants import OPENAI_DATASET_MEAN, OPENAI_DATASET_STD

    from coursekit.data.shipped import building_folder

    t0 = time.time()
    X, attrs = render_caption_set("train", recipe.seed, recipe.scenes, recipe.heldout, "train", recipe.image_size,
                                  recipe.twins, progress)
    render_s = time.time() - t0
    config = recipe.model_config()
    torch.manual_seed(recipe.seed)
    model = build_tiny_clip(config)
    init_note = "random"
    img_mean, img_std = OPENAI_DATASET_MEAN, OPENAI_DATASET_STD
    if recipe.vision == "resnet9" and recipe.init_from_standin:
        from coursekit.models.pretrain import standin_backbone
        from coursekit.models.transfer import load_weights

        spec = standin_backbone()
        if int(spec.info["recipe"]["width"]) != recipe.vision_width:
            raise ValueError(f"Module 2's stand-in has width {spec.info['recipe']['width']}, "
                             f"the recipe {recipe.vision_width}")
        load_weights(model.visual.trunk, spec.weights)
        img_mean, img_std = tuple(spec.mean), tuple(spec.std)  # the normalisation those weights learnt with
        init_note = f"datasets/pretrained_standin/{spec.weights.name} (sha256 {spec.info['sha256'][:12]}...)"
    locked = [getattr(model.visual.trunk, name) for name in recipe.locked]
    for module in locked:
        module.requires_grad_(False)
    model.to(device)
    tokenizer = open_clip.SimpleTokenizer(context_length=recipe.context_length)
    vocabulary = standin_vocabulary(tokenizer)
    with torch.no_grad():  # rows of words the captions never use: zero, and zero they stay (no gradient, and
        keep = torch.zeros(model.token_embedding.weight.shape[0], dtype=torch.bool)  # they get no weight decay)
        keep[vocabulary] = True
        model.token_embedding.weight[~keep.to(device)] = 0
    tokens = _Tokens(tokenizer, vocabulary)
    opt = torch.optim.AdamW(_param_groups(model, recipe.weight_decay), lr=recipe.lr, betas=(0.9, 0.98), eps=1e-6)
    n = len(X)
    bs = min(recipe.batch_size, n)
    rng = np.random.default_rng(recipe.seed)
    epochs = [_batches(attrs, bs, rng) for _ in range(recipe.epochs)]  # the order is part of the recipe
    total = sum(len(e) for e in epochs)
    if total == 0:
        raise ValueError(f"{n} images do not fill one batch of {bs}")
    warm = max(int(recipe.warmup * total), 1)

    def lr_at(step: int) -> float:
        if step < warm:
            return recipe.lr * (step + 1) / warm
        return 0.5 * recipe.lr * (1 + math.cos(math.pi * (step - warm) / max(total - warm, 1)))

    loss_fn = open_clip.ClipLoss()
    mean = torch.tensor(img_mean, dtype=torch.float32).view(1, 3, 1, 1)
    std = torch.tensor(img_std, dtype=torch.float32).view(1, 3, 1, 1)
    gen = torch.Generator().manual_seed(recipe.seed)
    history = []
    step = 0
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=total, desc="training the CLIP stand-in", unit="step", leave=False)
    model.train()
    for module in locked:
        module.eval()  # frozen batch-norm statistics too
    twinned = {a["scene"] for a in attrs if a["twin"]}
    for epoch, batches in enumerate(epochs):
        running = []
        for idx in batches:
            x = torch.from_numpy(X[idx]).permute(0, 3, 1, 2).float().div_(255)
            x = ((_augment(x, gen) - mean) / std).to(device)
            texts = tokens([caption(attrs[i], rng, defect=attrs[i]["scene"] in twinned) for i in idx]).to(device)
            for g in opt.param_groups:
                g["lr"] = lr_at(step)
            image_f, text_f, scale = model(x, texts)
            loss = loss_fn(image_f, text_f, scale)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            with torch.no_grad():
                model.logit_scale.clamp_(0, math.log(100))
            running.append(float(loss.detach()))
            step += 1
            if bar is not None:
                bar.update()
                bar.set_postfix(loss=f"{np.mean(running[-20:]):.3f}", epoch=epoch + 1)
        history.append(round(float(np.mean(running)), 4))
    if bar is not None:
        bar.close()
    train_s = time.time() - t0 - render_s
    model.eval().cpu()

    weights = "tiny-clip-inspection.pt"
    out = Path(out_dir)
    with building_folder(out) as tmp:
        torch.save(pack_state(model, vocabulary), tmp / weights)
        arch = recipe.describe()
        manifest = {
            "name": STANDIN_NAME, "weights": weights, "sha256": sha256_of(tmp / weights),
            "size": (tmp / weights).stat().st_size, "arch": arch, "config": config,
            "recipe": {**asdict(recipe), "heldout": [list(p) for p in recipe.heldout],
                       "vision_layers": (list(recipe.vision_layers) if isinstance(recipe.vision_layers, (tuple, list))
                                         else recipe.vision_layers)},
            "mean": list(img_mean), "std": list(img_std), "image_tower_init": init_note,
            "vocabulary": len(vocabulary), "parameters": count_parameters(model, trainable_only=False),
            "parameters_stored": int(sum(p.numel() for p in model.parameters())
                                     - model.token_embedding.weight.numel() + len(vocabulary) * recipe.text_width),
            "data": {"train_images": int(n), "twins": int(sum(a["twin"] for a in attrs)),
                     "per_class": _counts(attrs, "class"), "per_part": _counts(attrs, "part"),
                     "steps": total},
            "loss_per_epoch": history, "seconds": {"render": round(render_s, 1), "train": round(train_s, 1)},
            "torch": torch.__version__, "open_clip": open_clip.__version__, "licence": "MIT",
            "made_by": "tools.build_clip_standin.train_clip_standin (python -m tools.build_clip_standin)",
        }
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
        # evaluate what ships: reload from the file just written
        t1 = time.time()
        clip = standin_clip_model(tmp)
        Xe, ae = render_caption_set("test", 0, recipe.eval_scenes, recipe.heldout, "all", recipe.image_size,
                                    progress=progress)
        manifest["results"] = evaluate_zero_shot(clip, Xe, ae)
        manifest["seconds"]["evaluate"] = round(time.time() - t1, 1)
        manifest["seconds"]["total"] = round(time.time() - t0, 1)
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
        (tmp / "README.md").write_text(_readme(manifest), encoding="utf-8")
    return out


def _counts(attrs: list[dict], key: str) -> dict[str, int]:
    out: dict[str, int] = {}
    for a in attrs:
        out[a[key]] = out.get(a[key], 0) + 1
    return dict(sorted(out.items()))


def _readme(m: dict) -> str:
    import textwrap

    r, res, s = m["recipe"], m["results"], m["seconds"]

    def para(text: str, bullet: bool = True) -> str:
        return textwrap.fill(text, 110, initial_indent="- " if bullet else "",
                             subsequent_indent="  " if bullet else "", break_on_hyphens=False)

    def row(task, subset):
        d = res[subset][task]
        return f"{d['single']:.1%} / {d['ensemble']:.1%}"

    def chance(task):
        mj = res["majority"][task]
        return f"{res['chance'][task]:.1%} (most frequent class: {mj['heldout']:.1%} / {mj['seen']:.1%})"

    held = ", ".join(f"{p} + {c}" for p, c in r["heldout"])
    d_held = res["heldout"]["defect"]["ensemble"]
    pairs = res.get("per_heldout_pair", {})
    per_pair = "; ".join(f"{k.replace('+', ' + ')}: {v['defect']['accuracy']:.0%} "
                         f"(most often \"{v['defect']['most_answered']}\")" for k, v in pairs.items())
    defect_claim = (
        f"Defects on the held-out pairs: {d_held:.1%}, against {res['chance']['defect']:.0%} for a random guess and "
        f"{res['majority']['defect']['heldout']:.1%} for always answering their most frequent class. Per pair "
        f"(ensemble): {per_pair}. A defect learnt on other parts carries over to some parts never seen with it and "
        "not to others, which then get one of the states they had in training: it does not "
        "reliably compose part and defect. A real CLIP's numbers on these prompts are the notebook's to measure.")
    if pairs:
        worst = min(pairs, key=lambda k: pairs[k]["part"]["accuracy"])
        defect_claim += (f" Part type suffers too where the defect is new: {pairs[worst]['part']['accuracy']:.0%} on "
                         f"{worst.replace('+', ' + ')}.")
    init = m.get("image_tower_init", "random")
    return "\n".join([
        "# The course's stand-in for CLIP (Module 4)",
        "",
        para(f"`{m['weights']}` ({m['size'] / 1e6:.1f} MB): a tiny `open_clip.CLIP` trained by the course, because "
             "no package ships CLIP weights and random weights teach nothing. Module 4 uses it *only* when the real "
             "OpenCLIP weights cannot be downloaded (CI, offline classrooms), and announces it as a stand-in every "
             "time: its numbers check the method, they are not the real result. The notebook's code is the same "
             "for both: `coursekit.models.clip.clip_model()` returns an open_clip model, open_clip's preprocessing "
             "and open_clip's own tokenizer (`SimpleTokenizer`, the real CLIP BPE vocabulary).", bullet=False),
        "",
        para(f"Architecture: {m['arch']}. {m['parameters'] / 1e6:.2f}M parameters in memory, of which the token "
             f"embedding (49,408 x {r['text_width']}) holds {49408 * r['text_width'] / 1e6:.2f}M."),
        para(f"Image tower start: {init}, the course's Module 2 stand-in, pre-trained to tell ok parts from "
             "scratched, cracked and undrilled ones on four *other* part types (never the six here); its "
             f"{', '.join(r['locked']) or 'no'} modules stay frozen (LiT-style partial locking). Images are "
             f"normalised with that backbone's mean {[round(x, 4) for x in m['mean']]} and std "
             f"{[round(x, 4) for x in m['std']]}."),
        para(f"What is stored: every weight in float16, and of the token embedding only the {m['vocabulary']} rows "
             f"of the tokens the captions and the course's prompts use ({m['parameters_stored'] / 1e6:.2f}M numbers "
             "in all); loading rebuilds the other rows as zeros (they were zero throughout training). The numbers "
             "below were measured on the reloaded file, i.e. on what ships."),
        para(f"Data: {m['data']['train_images']} inspection photos of {r['image_size']}x{r['image_size']} pixels "
             f"rendered by the course's generator (`train` split, seed {r['seed']}: none of them is in the shipped "
             f"inspection dataset), {m['data']['twins']} of them the defect-free twins of defective ones (same "
             f"part, pose and light), per class {m['data']['per_class']}. Left out of training, to test zero-shot "
             f"on combinations never seen: {held}."),
        para("Captions: written from what the generator drew, a new random one per image each epoch: a template "
             "(\"a close-up photo of a {}.\"), the part, often its look (metal name, or colour + \"plastic\"), "
             "usually the defect (\"with a crack\", \"with no defects\"; always for a defect and its twin), "
             "sometimes the light (\"in dim light\"); sometimes the generic \"part\" instead of the part's name."),
        para(f"Training: open_clip's `ClipLoss` (symmetric InfoNCE with the learnt temperature), {r['epochs']} "
             f"epochs ({m['data']['steps']} steps) of AdamW (lr {r['lr']}, weight decay {r['weight_decay']}, cosine "
             f"after {r['warmup']:.0%} warm-up), batch {r['batch_size']}, random flips and quarter turns. Loss per "
             f"epoch: {m['loss_per_epoch']}. Time on the machine that built it (2 CPU cores shared with other "
             f"work): {s['render'] / 60:.1f} min rendering, {s['train'] / 60:.1f} min training, "
             f"{s['evaluate'] / 60:.1f} min evaluating."),
        "",
        "## What it can do (zero-shot, measured)",
        "",
        para(f"On the first {r['eval_scenes']} images of the inspection generator's `test` split (seed 0: the "
             f"shipped dataset's test images and more): {res['n']['heldout']} images of the held-out pairs (never "
             f"seen in training) and {res['n']['seen']} of the other pairs. Prompts: \"a photo of a {{part}}.\" "
             "over the 6 parts, \"a photo of a part with {a scratch / a crack / a missing hole / no defects}.\" "
             f"over the 4 classes. Each cell: single prompt / ensemble of {len(ENSEMBLE_TEMPLATES)} templates.",
             bullet=False),
        "",
        "| task | chance (most frequent class: held-out / seen) | held-out pairs | seen pairs |",
        "|---|---|---|---|",
        f"| part type (6) | {chance('part')} | {row('part', 'heldout')} | {row('part', 'seen')} |",
        f"| defect (4) | {chance('defect')} | {row('defect', 'heldout')} | {row('defect', 'seen')} |",
        "",
        "## What it cannot do",
        "",
        para(defect_claim),
        para(f"It has read {m['vocabulary']} tokens of text, all about six machined parts: any other word (\"cat\", "
             "\"rust\", \"screw\") reads as a zero vector, so prompts outside its captions' words give meaningless "
             "scores. It has never seen a real photo. It says nothing about how well a real CLIP does on these "
             "images: the notebook's real-weights run does."),
        "",
        para(f"sha256 `{m['sha256']}` (also in `manifest.json`, checked on every load). Licence: MIT (made by the "
             f"course from generated images; torch {m['torch']}, open_clip {m['open_clip']}).", bullet=False),
        "",
        para("Rebuild (deterministic on one machine and library versions; it reads Module 2's stand-in in "
             f"`datasets/pretrained_standin`; about {s['total'] / 60:.0f} minutes here):", bullet=False),
        "",
        "    python -m tools.build_clip_standin         # writes datasets/" + STANDIN_NAME,
        "",
    ])


def main(argv: list[str] | None = None) -> int:  # pragma: no cover - the one-off build
    import argparse

    p = argparse.ArgumentParser(description="Train the course's tiny CLIP stand-in (Module 4).")
    p.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "datasets" / STANDIN_NAME))
    p.add_argument("--scenes", type=int, default=ClipRecipe.scenes)
    p.add_argument("--epochs", type=int, default=ClipRecipe.epochs)
    p.add_argument("--eval-scenes", type=int, default=ClipRecipe.eval_scenes)
    p.add_argument("--threads", type=int, default=max(1, os.cpu_count() or 1))
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    out = train_clip_standin(a.out, ClipRecipe(scenes=a.scenes, epochs=a.epochs, eval_scenes=a.eval_scenes))
    m = json.loads((out / "manifest.json").read_text())
    print(json.dumps(m["results"], indent=1), "\n->", out, f"({m['seconds']['total'] / 60:.1f} min)")
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
