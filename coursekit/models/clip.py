"""CLIP for Module 4: the real OpenCLIP weights, or the course's tiny stand-in trained on generated scenes.

>>> clip = clip_model(settings())                                       # doctest: +SKIP
>>> pred = zero_shot(clip.model, clip.preprocess, clip.tokenizer, images,
...                  PART_CLASS_NAMES, ENSEMBLE_TEMPLATES)              # doctest: +SKIP
>>> pred.names[:3]                                                      # doctest: +SKIP
['washer', 'gear', 'plate']
"""
from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn as nn

from ..assets import ASSETS, fetch
from ..config import settings as _settings
from ..standins import real_or_standin
from ..types import Classifications
from .pretrain import resnet9_backbone
from .registry import Loaded, count_parameters, shipped_standin

__all__ = ["CLIP_MODELS", "ClipSpec", "STANDIN_NAME", "SINGLE_TEMPLATE", "ENSEMBLE_TEMPLATES", "PART_CLASS_NAMES",
           "DEFECT_CLASS_NAMES", "clip_model", "real_clip_model", "standin_clip_model", "encode_images", "encode_texts",
           "zero_shot_classifier", "zero_shot", "build_tiny_clip", "unpack_state", "standin_words",
           "UnknownWordWarning"]

STANDIN_NAME = "clip_standin"


@dataclass(frozen=True)
class ClipSpec:
    """A real CLIP the course can load: open_clip's architecture name, the weights' asset (in ``ASSETS``), notes."""

    arch: str
    pretrained_tag: str
    asset: str
    imagenet_zero_shot: float
    note: str


CLIP_MODELS: dict[str, ClipSpec] = {
    "ViT-B-32": ClipSpec("ViT-B-32", "laion2b_s34b_b79k", "clip-vit-b-32-laion2b", 0.666,
                         "the default: 151M parameters, 224 px input with 32 px patches (49 tokens); CPU-friendly"),
    "ViT-B-16": ClipSpec("ViT-B-16", "laion2b_s34b_b88k", "clip-vit-b-16-laion2b", 0.702,
                         "the larger option: 150M parameters but 16 px patches (196 tokens), about 4x slower"),
}


def real_clip_model(settings=None, name: str = "ViT-B-32", progress: bool = True, device: str | None = None) -> Loaded:
    """The real OpenCLIP ``name`` (a key of :data:`CLIP_MODELS`) with its LAION-2B weights, as a
    :class:`~coursekit.models.registry.Loaded` with its ``preprocess`` and ``tokenizer``."""
    import open_clip

    if name not in CLIP_MODELS:
        raise ValueError(f"unknown CLIP {name!r}; choose one of {', '.join(CLIP_MODELS)}")
    S = settings or _settings()
    spec = CLIP_MODELS[name]
    asset = ASSETS[spec.asset]
    path = fetch(asset, home=S.home, progress=progress, offline=S.offline)
    device = device or S.device
    model, _, preprocess = open_clip.create_model_and_transforms(
        spec.arch, pretrained=str(path), device=device, weights_only=True, require_pretrained=True)
    model.eval()
    tokenizer = open_clip.get_tokenizer(spec.arch)
    info = {"name": f"{spec.arch} {spec.pretrained_tag}", "arch": spec.arch, "pretrained_tag": spec.pretrained_tag,
            "weights": str(path), "asset": asset.name, "url": asset.url, "licence": asset.licence,
            "embed_dim": int(model.text_projection.shape[1]), "image_size": _image_size(model),
            "context_length": int(model.context_length), "parameters": count_parameters(model, trainable_only=False),
            "imagenet_zero_shot": spec.imagenet_zero_shot, "note": spec.note}
    return Loaded(model, False, info["name"], weights=str(path), info=info, preprocess=preprocess, tokenizer=tokenizer)


def clip_model(settings=None, name: str = "ViT-B-32", progress: bool = True, device: str | None = None) -> Loaded:
    """The real CLIP ``name`` when its weights are cached or can be downloaded; offline, the announced stand-in
    (smoke profile, or ``COURSEKIT_STANDINS=1``)."""
    def by(clip):
        held = clip.info.get("results", {}).get("heldout", {}).get("part", {}).get("ensemble")
        return (f"a tiny CLIP ({clip.info['parameters'] / 1e6:.1f}M parameters) trained by the course on generated "
                "inspection photos and their captions"
                + (f"; zero-shot part type on held-out (part, defect) pairs: {held:.0%}" if held is not None else ""))

    S = settings or _settings()
    return real_or_standin(
        S, lambda: real_clip_model(S, name, progress=progress, device=device),
        lambda: standin_clip_model(device=device or S.device), what="the CLIP weights file", by=by,
        replaces=(f"OpenCLIP {name} with LAION-2B weights ({CLIP_MODELS[name].imagenet_zero_shot:.1%} zero-shot "
                  "ImageNet top-1)") if name in CLIP_MODELS else name,
        real_result="a real CLIP has seen 2 billion web images; it knows words the stand-in never read")


def _image_size(model: nn.Module) -> int:
    size = getattr(model.visual, "image_size", 224)
    return int(size[0] if isinstance(size, (tuple, list)) else size)


SINGLE_TEMPLATE: tuple[str, ...] = ("a photo of a {}.",)
"""One prompt per class, the CLIP paper's baseline."""
ENSEMBLE_TEMPLATES: tuple[str, ...] = ("a photo of a {}.", "a close-up photo of a {}.", "a photo of the {}.",
                                       "a cropped photo of a {}.", "a picture of a {}.", "an inspection photo of a {}.")
"""A prompt ensemble (CLIP paper, section 3.1.4): a class's text embedding is the re-normalised mean of
its normalised embeddings under every template."""

PART_CLASS_NAMES: tuple[str, ...] = ("washer", "flange", "plate", "bracket", "hinge", "gear")
"""The inspection dataset's part types, in :data:`~coursekit.data.inspection.INSPECTION_PARTS` order."""
DEFECT_CLASS_NAMES: dict[str, str] = {"ok": "part with no defects", "scratch": "part with a scratch",
                                       "crack": "part with a crack", "missing_hole": "part with a missing hole"}
"""The text of each inspection class (:data:`~coursekit.data.inspection.INSPECTION_CLASSES` order), to put
in the templates: "a photo of a part with a scratch."."""


def _normalise(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def encode_images(model: nn.Module, preprocess: Callable, images, batch_size: int = 64,
                  progress: bool = False) -> np.ndarray:
    """L2-normalised image embeddings, float32 (N, D)."""
    from PIL import Image
    from tqdm.auto import tqdm

    if isinstance(images, np.ndarray):
        if images.ndim == 3 and images.shape[-1] == 3:
            raise ValueError("images must be (N, H, W, 3); for one image pass images[None]")
        if images.ndim != 4 or images.shape[-1] != 3:
            raise ValueError(f"images must be uint8 (N, H, W, 3) RGB; got shape {images.shape}")
    images, device, out = list(images), next(model.parameters()).device, []
    model.eval()
    it = tqdm(range(0, len(images), batch_size), desc="encoding images", unit="batch", leave=False,
              disable=not progress)
    with torch.no_grad():
        for start in it:
            batch = []
            for im in images[start:start + batch_size]:
                if not isinstance(im, Image.Image):
                    arr = np.asarray(im)
                    if arr.dtype != np.uint8 or arr.ndim != 3 or arr.shape[-1] != 3:
                        raise ValueError(f"each image must be uint8 (H, W, 3) RGB; got {arr.dtype} {arr.shape}")
                    im = Image.fromarray(arr)
                batch.append(preprocess(im))
            x = torch.stack(batch).to(device)
            out.append(model.encode_image(x).float().cpu().numpy())
    width = int(model.text_projection.shape[1]) if getattr(model, "text_projection", None) is not None else 0
    return _normalise(np.concatenate(out)) if out else np.zeros((0, width), np.float32)


def encode_texts(model: nn.Module, tokenizer: Callable, texts: Sequence[str], batch_size: int = 256) -> np.ndarray:
    """L2-normalised text embeddings, float32 (T, D), one per text (tokenised by ``tokenizer``)."""
    if isinstance(texts, str):
        raise TypeError("texts must be a list of strings; for one text pass [text]")
    texts, device, out = list(texts), next(model.parameters()).device, []
    model.eval()
    with torch.no_grad():
        for start in range(0, len(texts), batch_size):
            tokens = tokenizer(texts[start:start + batch_size]).to(device)
            out.append(model.encode_text(tokens).float().cpu().numpy())
    return _normalise(np.concatenate(out)) if out else np.zeros((0, 0), np.float32)


def _names(class_names) -> list[str]:
    if isinstance(class_names, str):
        raise TypeError("class_names must be a list of class names (or a dict label -> text)")
    return list(class_names.values()) if isinstance(class_names, dict) else list(class_names)


def zero_shot_classifier(model: nn.Module, tokenizer: Callable, class_names, templates: Sequence[str] = SINGLE_TEMPLATE
                         ) -> np.ndarray:
    """The zero-shot classifier's weights, float32 (C, D): per class, the re-normalised mean of the normalised
    text embeddings of ``template.format(class_name)`` over ``templates`` (the CLIP paper's prompt ensemble)."""
    names = _names(class_names)
    templates = [templates] if isinstance(templates, str) else list(templates)
    if not names or not templates:
        raise ValueError("zero_shot_classifier needs at least one class name and one template")
    bad = [t for t in templates if "{}" not in t]
    if bad:
        raise ValueError(f"every template must contain '{{}}' where the class name goes; got {bad}")
    prompts = [t.format(c) for c in names for t in templates]
    emb = encode_texts(model, tokenizer, prompts).reshape(len(names), len(templates), -1)
    return _normalise(emb.mean(axis=1))


def zero_shot(model: nn.Module, preprocess: Callable, tokenizer: Callable, images, class_names,
              templates: Sequence[str] = SINGLE_TEMPLATE, batch_size: int = 64,
              image_features: np.ndarray | None = None):
    """Zero-shot classification: :class:`~coursekit.types.Classifications` with ``probs = softmax(logit_scale *
    image @ text.T)`` over ``class_names`` (the model's own learnt temperature, as in CLIP)."""
    names = _names(class_names)
    if image_features is None:
        image_features = encode_images(model, preprocess, images, batch_size)
    classifier = zero_shot_classifier(model, tokenizer, names, templates)
    scale = float(model.logit_scale.detach().exp().float().cpu())
    labels = list(class_names) if isinstance(class_names, dict) else names
    logits = scale * np.asarray(image_features, np.float32) @ classifier.T
    return Classifications.from_logits(logits, labels)


MATERIAL_WORDS = {"steel": "steel", "aluminium": "aluminium", "brass": "brass", "copper": "copper",
                   "black_oxide": "black oxide", "yellow_zinc": "yellow zinc", "cast_iron": "cast iron",
                   "rubber": "black rubber"}
_COLOURS = ("red", "orange", "yellow", "green", "blue", "purple", "pink", "white", "grey", "black")
_LIGHTING = ("dark", "dim", "normal", "bright")


def standin_words() -> list[str]:
    """The only words the stand-in has read (sorted): those of :data:`ENSEMBLE_TEMPLATES`, the part and defect
    names, materials, colours and lighting of its training captions."""
    words = set(" ".join(ENSEMBLE_TEMPLATES).replace("{}", " ").replace(".", " ").split())
    words |= set(PART_CLASS_NAMES) | {"part", "with", "an", "in", "light", "plastic"}
    words |= {w for v in DEFECT_CLASS_NAMES.values() for w in v.split()}
    words |= {w for v in MATERIAL_WORDS.values() for w in v.split()} | set(_COLOURS) | set(_LIGHTING)
    return sorted(words)


class UnknownWordWarning(UserWarning):
    """A prompt uses a word the stand-in CLIP never read (its embedding row is zero: the word says nothing)."""


def _standin_tokenizer_class():
    import open_clip

    class StandinTokenizer(open_clip.SimpleTokenizer):
        """open_clip's ``SimpleTokenizer`` that also warns (:class:`UnknownWordWarning`, once per word) when a text
        uses a word outside the stand-in's vocabulary."""

        def __init__(self, vocabulary: Sequence[int], context_length: int):
            super().__init__(context_length=context_length)
            self.known_ids = frozenset(int(v) for v in vocabulary)
            self.warned: set[str] = set()

        def unknown_words(self, text: str) -> list[str]:
            """The words of ``text`` (in order, each once) with a token the stand-in never read."""
            words = dict.fromkeys(self.pat.findall(self.clean_fn(text)))
            return [w for w in words if not set(self.encode(w)) <= self.known_ids]

        def __call__(self, texts, context_length=None):
            for text in [texts] if isinstance(texts, str) else texts:
                new = [w for w in self.unknown_words(text) if w not in self.warned]
                if new:
                    self.warned.update(new)
                    warnings.warn(
                        f"the stand-in CLIP does not know the word{'s' if len(new) > 1 else ''} "
                        f"{', '.join(repr(w) for w in new)} (in the prompt {text!r}): it has read only "
                        f"{len(standin_words())} words, those of its training captions; an unknown word's token embedding "
                        "is zero: the stand-in reads a blank where a real CLIP would read the word",
                        UnknownWordWarning, stacklevel=2)
            return super().__call__(texts, context_length)

    return StandinTokenizer


class CourseResNetTower(nn.Module):
    """The stand-in's image tower (``vision_cfg["tower"] == "resnet9"``): the course's ResNet-9 trunk, then
    ``ln_post`` and ``proj`` into the joint embedding, as in open_clip's ViT."""

    def __init__(self, width: int, embed_dim: int, image_size: int):
        super().__init__()
        self.trunk = resnet9_backbone(width)
        self.ln_post = nn.LayerNorm(self.trunk.num_features)
        self.proj = nn.Linear(self.trunk.num_features, embed_dim, bias=False)
        self.image_size = (image_size, image_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(self.ln_post(self.trunk(x)))


def build_tiny_clip(config: dict) -> nn.Module:
    """An ``open_clip.CLIP`` (random weights) from a recipe's ``model_config()`` (``tools/build_clip_standin.py``)."""
    import open_clip
    from open_clip.model import CLIPTextCfg, CLIPVisionCfg

    vision = dict(config["vision_cfg"])
    tower = vision.pop("tower", None)
    embed_dim = int(config["embed_dim"])
    if tower is None:
        return open_clip.CLIP(embed_dim, CLIPVisionCfg(**vision), CLIPTextCfg(**config["text_cfg"]))
    if tower != "resnet9":
        raise ValueError(f"unknown image tower {tower!r}")
    size = int(vision["image_size"])
    placeholder = CLIPVisionCfg(layers=1, width=32, head_width=32, patch_size=size, image_size=size)
    model = open_clip.CLIP(embed_dim, placeholder, CLIPTextCfg(**config["text_cfg"]))
    model.visual = CourseResNetTower(int(vision["width"]), embed_dim, size)
    return model


TOKEN_KEY = "token_embedding.weight"


def unpack_state(packed: dict[str, torch.Tensor], vocab_size: int = 49408) -> dict[str, torch.Tensor]:
    """A full float32 state dict from the shipped one (``tools/build_clip_standin.py``'s ``pack_state``): the
    missing token rows as zeros."""
    packed = dict(packed)
    rows, values = packed.pop("token_embedding.rows"), packed.pop("token_embedding.values")
    emb = torch.zeros(vocab_size, values.shape[1], dtype=torch.float32)
    emb[rows] = values.float()
    state = {k: v.float() if v.is_floating_point() else v for k, v in packed.items()}
    state[TOKEN_KEY] = emb
    return state


def standin_clip_model(root: str | os.PathLike | None = None, device: str = "cpu") -> Loaded:
    """The course's stand-in (shipped weights, sha256 checked against its manifest)."""
    from open_clip.transform import PreprocessCfg, image_transform_v2

    manifest, path = shipped_standin(STANDIN_NAME, root, "python -m tools.build_clip_standin")
    config = manifest["config"]
    model = build_tiny_clip(config)
    packed = torch.load(path, map_location="cpu", weights_only=True)
    model.load_state_dict(unpack_state(packed, config["text_cfg"]["vocab_size"]), strict=True)
    model.to(device).eval()
    size = int(config["vision_cfg"]["image_size"])
    preprocess = image_transform_v2(PreprocessCfg(size=size, mean=tuple(manifest["mean"]), std=tuple(manifest["std"])),
                                    is_train=False)
    rows = packed["token_embedding.rows"].tolist()
    tokenizer = _standin_tokenizer_class()(rows, int(config["text_cfg"]["context_length"]))
    n_params = count_parameters(model, trainable_only=False)
    info = {"name": "coursekit tiny CLIP (stand-in)", "arch": manifest["arch"], "weights": str(path),
            "licence": manifest["licence"], "embed_dim": int(config["embed_dim"]), "image_size": size,
            "context_length": int(config["text_cfg"]["context_length"]),
            "parameters": n_params - model.token_embedding.weight.numel() + packed["token_embedding.values"].numel(),
            "parameters_in_memory": n_params, "vocabulary": len(packed["token_embedding.rows"]),
            "recipe": manifest["recipe"], "image_tower_init": manifest.get("image_tower_init"),
            "heldout_pairs": manifest["recipe"]["heldout"], "results": manifest.get("results", {}),
            "words": standin_words(), "caption_templates": list(ENSEMBLE_TEMPLATES),
            "training_images": manifest.get("data", {}).get("train_images")}
    return Loaded(model, True, info["name"], weights=str(path), info=info, preprocess=preprocess, tokenizer=tokenizer)
