"""CLIP for Module 4: the real OpenCLIP weights, or the course's tiny stand-in trained on generated scenes.

:func:`clip_model` is the one call a notebook makes. It returns a :class:`ClipModel` (``model``,
``preprocess``, ``tokenizer``, ``is_standin``, ``info``) built by open_clip in both cases, so the notebook's
code is the same whatever the weights:

- **Real**: an OpenCLIP model with LAION-2B weights (``"ViT-B-32"``, the CPU-friendly default, or the
  larger ``"ViT-B-16"``), downloaded once through the course's asset registry (checksummed) and loaded
  with ``open_clip.create_model_and_transforms(name, pretrained=<the cached file>)``: open_clip reads the
  local file and never downloads; its tokenizer (``SimpleTokenizer``) ships its BPE vocabulary inside the
  package, so nothing here reaches the network.
- **Stand-in** (offline, smoke profile or ``COURSEKIT_STANDINS=1``; loudly announced): no package ships
  CLIP weights and random weights teach nothing, so the course trains its own tiny ``open_clip.CLIP``
  contrastively, with open_clip's ``ClipLoss``, on inspection photos from the course's generator and
  captions written from what the generator drew ("a close-up photo of a brass washer with a scratch, in
  dim light."): open_clip's text transformer, read by open_clip's own tokenizer, and as image tower the
  course's ResNet-9 started from Module 2's stand-in backbone (pre-trained on defects of *other* part
  types; see :class:`ClipRecipe` for why).
  Some (part, defect) pairs are **held out** of training, so zero-shot accuracy on them is a measured
  result, not a memorised one (``info["results"]``; the README in ``datasets/clip_standin``).

The zero-shot API works on the ``model`` / ``preprocess`` / ``tokenizer`` triple of either:

>>> clip = clip_model(settings())                                       # doctest: +SKIP
>>> pred = zero_shot(clip.model, clip.preprocess, clip.tokenizer, images,
...                  PART_CLASS_NAMES, ENSEMBLE_TEMPLATES)              # doctest: +SKIP
>>> pred.names[:3]                                                      # doctest: +SKIP
['washer', 'gear', 'plate']

Rebuild the stand-in (deterministic on one machine; 21.5 minutes measured on 2 CPU cores shared with a training run)::

    python -m coursekit.models.clip          # writes datasets/clip_standin
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
from typing import Any, Callable, NamedTuple, Sequence

import numpy as np
import torch
import torch.nn as nn

from ..assets import ASSETS, Asset, sha256_of

__all__ = [
    "CLIP_ASSETS", "CLIP_MODELS", "ClipSpec", "ClipModel", "ClipRecipe", "STANDIN_NAME",
    "SINGLE_TEMPLATE", "ENSEMBLE_TEMPLATES", "PART_CLASS_NAMES", "DEFECT_CLASS_NAMES", "HELDOUT_PAIRS",
    "clip_model", "real_clip_model", "standin_clip_model", "standin_root",
    "encode_images", "encode_texts", "zero_shot_classifier", "zero_shot", "zero_shot_logits",
    "build_tiny_clip", "caption", "standin_vocabulary", "standin_words", "UnknownWordWarning", "render_caption_set", "train_clip_standin",
    "evaluate_zero_shot", "pack_state", "unpack_state",
]

STANDIN_NAME = "clip_standin"

# --- the real weights ---------------------------------------------------------------------------------------

#: The names, in the one asset registry (``coursekit.assets.ASSETS``), of the OpenCLIP weight files the
#: course can use. Looked up at call time: a copy taken at import would miss a later registry change.
CLIP_ASSETS: tuple[str, ...] = ("clip-vit-b-32-laion2b", "clip-vit-b-16-laion2b")


@dataclass(frozen=True)
class ClipSpec:
    """A real CLIP the course can load: open_clip's architecture name, the weights' asset and notes."""

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


class ClipModel(NamedTuple):
    """What :func:`clip_model` returns; unpacks as ``model, preprocess, tokenizer, is_standin, info = ...``.

    Attributes:
        model: an ``open_clip`` model (``encode_image``, ``encode_text``, ``logit_scale``), in eval mode.
        preprocess: open_clip's inference transform, PIL image -> normalised tensor (C, S, S).
        tokenizer: open_clip's tokenizer, list of str -> int64 tensor (T, context_length).
        is_standin: ``True`` for the course's tiny stand-in (its numbers are not the real result).
        info: what it is: name, architecture, weights file, embedding size, input size, licence, and for
            the stand-in its recipe and measured zero-shot results.
    """

    model: nn.Module
    preprocess: Callable
    tokenizer: Callable
    is_standin: bool
    info: dict


def real_clip_model(settings=None, name: str = "ViT-B-32", progress: bool = True,
                    device: str | None = None) -> ClipModel:
    """The real OpenCLIP ``name`` (a key of :data:`CLIP_MODELS`) with its LAION-2B weights.

    The weights come from the asset registry (downloaded once, sha256 checked); open_clip loads the local
    file (``pretrained=<path>``; ``weights_only=True``, no code from the file runs). Raises
    :class:`~coursekit.assets.AssetUnavailable` when they are not cached and cannot be downloaded.
    """
    import open_clip

    from ..assets import fetch
    from ..config import settings as _settings

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
    info = {
        "name": f"{spec.arch} {spec.pretrained_tag}", "arch": spec.arch, "pretrained_tag": spec.pretrained_tag,
        "weights": str(path), "asset": asset.name, "url": asset.url, "licence": asset.licence,
        "embed_dim": int(model.text_projection.shape[1]), "image_size": _image_size(model),
        "context_length": int(model.context_length), "parameters": _count(model),
        "imagenet_zero_shot": spec.imagenet_zero_shot, "note": spec.note,
    }
    return ClipModel(model, preprocess, tokenizer, False, info)


def clip_model(settings=None, name: str = "ViT-B-32", progress: bool = True, device: str | None = None) -> ClipModel:
    """The real CLIP ``name`` when its weights are cached or can be downloaded; offline, the announced
    stand-in (smoke profile, or ``COURSEKIT_STANDINS=1``). In the full profile without the weights it stops
    with the offline error (how to pre-fetch them), never a silent fallback.
    """
    from ..assets import AssetUnavailable
    from ..config import env_flag, settings as _settings
    from ..standins import announce_standin

    S = settings or _settings()
    try:
        return real_clip_model(S, name, progress=progress, device=device)
    except AssetUnavailable as err:
        if not (S.smoke or env_flag("COURSEKIT_STANDINS")):
            raise AssetUnavailable(
                f"{err}\nOr run on the course's offline stand-in (its numbers are not the real result): "
                "COURSEKIT_PROFILE=smoke, or COURSEKIT_STANDINS=1 for the full-size run.", err.reason) from None
        clip = standin_clip_model(device=device or S.device)
        r = clip.info.get("results", {})
        held = r.get("heldout", {}).get("part", {}).get("ensemble")
        announce_standin(
            replaces=f"OpenCLIP {name} with LAION-2B weights ({CLIP_MODELS[name].imagenet_zero_shot:.1%} zero-shot "
                     "ImageNet top-1)",
            by=f"a tiny CLIP ({clip.info['parameters'] / 1e6:.1f}M parameters) trained by the course on "
               "generated inspection photos and their captions"
               + (f"; zero-shot part type on held-out (part, defect) pairs: {held:.0%}" if held is not None else ""),
            why=f"the CLIP weights are not cached and this machine is offline ({err.reason or 'offline'})",
            real_result="a real CLIP has seen 2 billion web images; it knows words the stand-in never read",
        )
        return clip


def _image_size(model: nn.Module) -> int:
    size = getattr(model.visual, "image_size", 224)
    return int(size[0] if isinstance(size, (tuple, list)) else size)


def _count(model: nn.Module) -> int:
    return int(sum(p.numel() for p in model.parameters()))


# --- the zero-shot API (real and stand-in alike) ---------------------------------------------------------------

SINGLE_TEMPLATE: tuple[str, ...] = ("a photo of a {}.",)
"""One prompt per class, the CLIP paper's baseline."""
ENSEMBLE_TEMPLATES: tuple[str, ...] = (
    "a photo of a {}.",
    "a close-up photo of a {}.",
    "a photo of the {}.",
    "a cropped photo of a {}.",
    "a picture of a {}.",
    "an inspection photo of a {}.",
)
"""A prompt ensemble (CLIP paper, section 3.1.4): a class's text embedding is the re-normalised mean of
its normalised embeddings under every template."""

PART_CLASS_NAMES: tuple[str, ...] = ("washer", "flange", "plate", "bracket", "hinge", "gear")
"""The inspection dataset's part types, in :data:`~coursekit.data.inspection.INSPECTION_PARTS` order."""
DEFECT_CLASS_NAMES: dict[str, str] = {
    "ok": "part with no defects",
    "scratch": "part with a scratch",
    "crack": "part with a crack",
    "missing_hole": "part with a missing hole",
}
"""The text of each inspection class (:data:`~coursekit.data.inspection.INSPECTION_CLASSES` order), to put
in the templates: "a photo of a part with a scratch."."""


def _device_of(model: nn.Module) -> torch.device:
    try:
        return next(model.parameters()).device
    except StopIteration:  # pragma: no cover - every CLIP has parameters
        return torch.device("cpu")


def _normalise(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, np.float32)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def encode_images(model: nn.Module, preprocess: Callable, images, batch_size: int = 64,
                  progress: bool = False) -> np.ndarray:
    """L2-normalised image embeddings, float32 (N, D).

    ``images``: uint8 RGB (N, H, W, 3) (one array, or a list of (H, W, 3) arrays of any sizes) or PIL
    images; each goes through ``preprocess`` (open_clip's resize, centre crop and normalisation).
    """
    from PIL import Image

    if isinstance(images, np.ndarray):
        if images.ndim == 3 and images.shape[-1] == 3:
            raise ValueError("images must be (N, H, W, 3); for one image pass images[None]")
        if images.ndim != 4 or images.shape[-1] != 3:
            raise ValueError(f"images must be uint8 (N, H, W, 3) RGB; got shape {images.shape}")
    images = list(images)
    device = _device_of(model)
    model.eval()
    out = []
    it = range(0, len(images), batch_size)
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(it, desc="encoding images", unit="batch", leave=False)
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
    texts = list(texts)
    device = _device_of(model)
    model.eval()
    out = []
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
    """The zero-shot classifier's weights, float32 (C, D): for each class, the mean of the normalised text
    embeddings of ``template.format(class_name)`` over ``templates``, normalised again (the CLIP paper's
    prompt ensemble; one template: just that prompt's embedding).

    ``class_names``: a list of texts, or a dict ``label -> text`` (e.g. :data:`DEFECT_CLASS_NAMES`).
    """
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


def zero_shot_logits(image_features: np.ndarray, classifier: np.ndarray, logit_scale: float) -> np.ndarray:
    """``logit_scale * image_features @ classifier.T``: (N, C) logits from normalised embeddings."""
    return float(logit_scale) * np.asarray(image_features, np.float32) @ np.asarray(classifier, np.float32).T


def zero_shot(model: nn.Module, preprocess: Callable, tokenizer: Callable, images, class_names,
              templates: Sequence[str] = SINGLE_TEMPLATE, batch_size: int = 64,
              image_features: np.ndarray | None = None):
    """Zero-shot classification: :class:`~coursekit.types.Classifications` with ``probs = softmax(logit_scale *
    image @ text.T)`` over ``class_names`` (the model's own learnt temperature, as in CLIP).

    ``image_features``: embeddings already computed by :func:`encode_images` (then ``images`` is not read
    and may be ``None``): encode a test set once, try many prompts.
    """
    from ..types import Classifications

    names = _names(class_names)
    if image_features is None:
        image_features = encode_images(model, preprocess, images, batch_size)
    classifier = zero_shot_classifier(model, tokenizer, names, templates)
    scale = float(model.logit_scale.detach().exp().float().cpu())
    labels = list(class_names) if isinstance(class_names, dict) else names
    return Classifications.from_logits(zero_shot_logits(image_features, classifier, scale), labels)


# --- the stand-in: captions ------------------------------------------------------------------------------------

#: (part, class) pairs never shown in training: the held-out zero-shot test. Each part keeps three of its
#: four classes in training and each class keeps at least four of its six parts.
HELDOUT_PAIRS: tuple[tuple[str, str], ...] = (
    ("washer", "crack"), ("flange", "missing_hole"), ("plate", "scratch"),
    ("bracket", "ok"), ("hinge", "crack"), ("gear", "scratch"),
)
_MATERIAL_WORDS = {"steel": "steel", "aluminium": "aluminium", "brass": "brass", "copper": "copper",
                   "black_oxide": "black oxide", "yellow_zinc": "yellow zinc", "cast_iron": "cast iron",
                   "rubber": "black rubber"}
_COLOURS = ("red", "orange", "yellow", "green", "blue", "purple", "pink", "white", "grey", "black")
_LIGHTING = ("dark", "dim", "normal", "bright")


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
    if material in _MATERIAL_WORDS:
        return _MATERIAL_WORDS[material]
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


def standin_words() -> list[str]:
    """The words of the stand-in's captions (sorted): :data:`ENSEMBLE_TEMPLATES` (the very templates a prompt
    ensemble averages), the part and defect names, materials, colours and lighting. The stand-in has read no
    other word."""
    words = set(" ".join(ENSEMBLE_TEMPLATES).replace("{}", " ").replace(".", " ").split())
    words |= set(PART_CLASS_NAMES) | {"part", "with", "an", "in", "light", "plastic"}
    words |= {w for v in DEFECT_CLASS_NAMES.values() for w in v.split()}
    words |= {w for v in _MATERIAL_WORDS.values() for w in v.split()} | set(_COLOURS) | set(_LIGHTING)
    return sorted(words)


def standin_vocabulary(tokenizer=None) -> list[int]:
    """The token ids the stand-in's captions and prompts use (sorted): its token embedding stores only these
    rows; every other word of the 49,408-token BPE vocabulary reads as a zero vector."""
    import open_clip

    tok = tokenizer or open_clip.SimpleTokenizer()
    ids = {tok.sot_token_id, tok.eot_token_id}
    for w in standin_words() + [".", ","]:
        ids.update(tok.encode(w))
    return sorted(ids)


class UnknownWordWarning(UserWarning):
    """A prompt uses a word the stand-in CLIP never read (its embedding row is zero: the word says nothing)."""


def _standin_tokenizer_class():
    import open_clip

    class StandinTokenizer(open_clip.SimpleTokenizer):
        """open_clip's own ``SimpleTokenizer`` (the same token ids), which also warns (:class:`UnknownWordWarning`,
        once per word) when a text uses a word outside the stand-in's vocabulary: the stand-in stores a zero
        embedding for it, a blank where a real CLIP would read the word."""

        def __init__(self, vocabulary: Sequence[int], context_length: int):
            super().__init__(context_length=context_length)
            self.known_ids = frozenset(int(v) for v in vocabulary)
            self.warned: set[str] = set()

        def unknown_words(self, text: str) -> list[str]:
            """The words of ``text`` (in order, each once) with a token the stand-in never read."""
            out = []
            for word in self.pat.findall(self.clean_fn(text)):
                if word not in out and not set(self.encode(word)) <= self.known_ids:
                    out.append(word)
            return out

        def __call__(self, texts, context_length=None):
            import warnings

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


class CourseResNetTower(nn.Module):
    """The stand-in's image tower when ``vision_cfg["tower"] == "resnet9"``: the course's ResNet-9 trunk
    (:func:`~coursekit.models.pretrain.resnet9_backbone`, global max pool), a LayerNorm and a linear
    projection into the joint embedding (what ``ln_post`` + ``proj`` are in open_clip's ViT)."""

    def __init__(self, width: int, embed_dim: int, image_size: int):
        super().__init__()
        from .pretrain import resnet9_backbone

        self.trunk = resnet9_backbone(width)
        self.ln_post = nn.LayerNorm(self.trunk.num_features)
        self.proj = nn.Linear(self.trunk.num_features, embed_dim, bias=False)
        self.image_size = (image_size, image_size)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(self.ln_post(self.trunk(x)))


def build_tiny_clip(config: dict) -> nn.Module:
    """An ``open_clip.CLIP`` from a :meth:`ClipRecipe.model_config` dict (random weights).

    ``vision_cfg`` is open_clip's (a ViT, or its CLIP ResNet when ``layers`` is a list), or
    ``{"tower": "resnet9", "width": w, "image_size": s}`` for :class:`CourseResNetTower` (open_clip builds the
    CLIP with a one-layer placeholder ViT, which is then replaced: the text tower, the logit scale and
    every method are open_clip's).
    """
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


_TOKEN_KEY = "token_embedding.weight"


def pack_state(model: nn.Module, vocabulary: Sequence[int]) -> dict[str, torch.Tensor]:
    """The weights to ship: float16, and of the token embedding only the ``vocabulary`` rows
    (``token_embedding.rows`` int64 ids + ``token_embedding.values``); every other row must be zero."""
    state = {k: v.detach().cpu() for k, v in model.state_dict().items()}
    emb = state.pop(_TOKEN_KEY)
    rows = torch.as_tensor(sorted(vocabulary), dtype=torch.int64)
    rest = torch.ones(len(emb), dtype=torch.bool)
    rest[rows] = False
    if emb[rest].abs().max() > 0:
        raise ValueError("the token embedding has non-zero rows outside the vocabulary; they would be lost")
    out = {k: v.to(torch.float16).clone() if v.is_floating_point() else v.clone() for k, v in state.items()}
    out["token_embedding.rows"] = rows
    out["token_embedding.values"] = emb[rows].to(torch.float16).clone()
    return out


def unpack_state(packed: dict[str, torch.Tensor], vocab_size: int = 49408) -> dict[str, torch.Tensor]:
    """A full float32 state dict from :func:`pack_state`'s (the missing token rows as zeros)."""
    packed = dict(packed)
    rows, values = packed.pop("token_embedding.rows"), packed.pop("token_embedding.values")
    emb = torch.zeros(vocab_size, values.shape[1], dtype=torch.float32)
    emb[rows] = values.float()
    state = {k: v.float() if v.is_floating_point() else v for k, v in packed.items()}
    state[_TOKEN_KEY] = emb
    return state


def standin_root(root: str | os.PathLike | None = None) -> Path:
    """The folder holding the shipped stand-in (repository ``datasets/clip_standin``, else the cache)."""
    from ..data.shipped import find_shipped_dataset

    return find_shipped_dataset(STANDIN_NAME, root, rebuild="python -m coursekit.models.clip")



def _preprocess(size: int, mean, std) -> Callable:
    from open_clip.transform import PreprocessCfg, image_transform_v2

    return image_transform_v2(PreprocessCfg(size=size, mean=tuple(mean), std=tuple(std)), is_train=False)


def standin_clip_model(root: str | os.PathLike | None = None, device: str = "cpu") -> ClipModel:
    """The course's stand-in (shipped weights, sha256 checked against its manifest). See the module docstring."""
    import open_clip

    folder = Path(root) if root is not None else standin_root()
    from ..data.shipped import checked_weights

    manifest, path = checked_weights(folder, STANDIN_NAME, "python -m coursekit.models.clip")
    config = manifest["config"]
    model = build_tiny_clip(config)
    packed = torch.load(path, map_location="cpu", weights_only=True)
    model.load_state_dict(unpack_state(packed, config["text_cfg"]["vocab_size"]), strict=True)
    model.to(device).eval()
    size = int(config["vision_cfg"]["image_size"])
    preprocess = _preprocess(size, manifest["mean"], manifest["std"])
    rows = packed["token_embedding.rows"].tolist()
    tokenizer = _standin_tokenizer_class()(rows, int(config["text_cfg"]["context_length"]))
    info = {
        "name": "coursekit tiny CLIP (stand-in)", "arch": manifest["arch"], "weights": str(path),
        "licence": manifest["licence"], "embed_dim": int(config["embed_dim"]), "image_size": size,
        "context_length": int(config["text_cfg"]["context_length"]),
        "parameters": _count(model) - model.token_embedding.weight.numel() + packed["token_embedding.values"].numel(),
        "parameters_in_memory": _count(model), "vocabulary": len(packed["token_embedding.rows"]),
        "recipe": manifest["recipe"], "image_tower_init": manifest.get("image_tower_init"),
        "heldout_pairs": manifest["recipe"]["heldout"], "results": manifest.get("results", {}),
        "words": standin_words(), "caption_templates": list(ENSEMBLE_TEMPLATES),
        "training_images": manifest.get("data", {}).get("train_images"),
    }
    return ClipModel(model, preprocess, tokenizer, True, info)


# --- the stand-in: data and training ---------------------------------------------------------------------------

def render_caption_set(split: str, seed: int, scenes: int, heldout=HELDOUT_PAIRS, keep: str = "train",
                       size: int = 96, twins: bool = False, progress: bool = True) -> tuple[np.ndarray, list[dict]]:
    """Render inspection photos with their caption attributes: ``(images uint8 (N, size, size, 3), attrs)``.

    ``keep``: ``"train"`` drops the :data:`HELDOUT_PAIRS` images before rendering them, ``"all"`` keeps
    everything (an evaluation set; ``attrs[i]["heldout"]`` says which are held out). ``twins``: after each
    defective image, also its defect-free twin (same part, pose, light; class ``ok``; ``attrs["twin"]``
    True) unless (part, ok) is held out: in one batch the two differ only by the defect, which is what
    teaches the image tower to see defects. ``attrs[i]["scene"]`` is the scene index (shared by twins).
    """
    from ..data.inspection import plan_sample, render_inspection_scene

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


def evaluate_zero_shot(clip: ClipModel, images: np.ndarray, attrs: list[dict]) -> dict:
    """Zero-shot accuracy of ``clip`` on ``images``: part type (6 classes) and defect (4 classes), with the
    single prompt and the ensemble, on the held-out (part, class) pairs and on the others.

    Returns ``{"heldout": {...}, "seen": {...}, "chance": {...}, "majority": {...}, "n": {...},
    "per_heldout_pair": {...}}`` where each of heldout/seen is ``{"part": {"single": acc, "ensemble": acc},
    "defect": {...}}``, majority is the share of the most frequent true class, and per_heldout_pair gives
    each held-out pair's ensemble accuracy and most frequent answer per task.
    """
    from ..data.inspection import INSPECTION_CLASSES

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

    from ..data.shipped import building_folder

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
        from .pretrain import standin_backbone
        from .transfer import load_weights

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
            "vocabulary": len(vocabulary), "parameters": _count(model),
            "parameters_stored": int(sum(p.numel() for p in model.parameters())
                                     - model.token_embedding.weight.numel() + len(vocabulary) * recipe.text_width),
            "data": {"train_images": int(n), "twins": int(sum(a["twin"] for a in attrs)),
                     "per_class": _counts(attrs, "class"), "per_part": _counts(attrs, "part"),
                     "steps": total},
            "loss_per_epoch": history, "seconds": {"render": round(render_s, 1), "train": round(train_s, 1)},
            "torch": torch.__version__, "open_clip": open_clip.__version__, "licence": "MIT",
            "made_by": "coursekit.models.clip.train_clip_standin (python -m coursekit.models.clip)",
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
        "    python -m coursekit.models.clip            # writes datasets/" + STANDIN_NAME,
        "",
    ])


def main(argv: list[str] | None = None) -> int:  # pragma: no cover - the one-off build
    import argparse

    p = argparse.ArgumentParser(description="Train the course's tiny CLIP stand-in (Module 4).")
    p.add_argument("--out", default=str(Path(__file__).resolve().parents[2] / "datasets" / STANDIN_NAME))
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
