"""Segment Anything (SAM) for Module 4: the real checkpoints, or the course's tiny trained stand-in.

:func:`sam_model` is the one call a notebook makes; it returns a ``segment_anything.modeling.Sam`` either
way, so the notebook drives it with segment-anything's own :class:`~segment_anything.SamPredictor` and
:class:`~segment_anything.SamAutomaticMaskGenerator`, and its code is the same for the stand-in and the
real weights.

- **Real**: Meta's checkpoints through the asset registry (:data:`SAM_ASSETS`: URL, sha256, size, licence;
  downloaded once, checksummed). ViT-B (91M parameters, 375 MB) is the default: it is the one a CPU can run
  (a few seconds per image embedding at 1024 x 1024; ViT-L and ViT-H are 3x and 7x larger for a few points of
  mask quality). Loaded as ``sam_model_registry[kind](checkpoint=None)`` + ``torch.load(path,
  weights_only=True)`` + ``load_state_dict``: segment-anything's own ``build_sam`` calls a plain
  ``torch.load(f)``, which unpickles arbitrary objects on torch < 2.6.
- **Stand-in** (offline: smoke profile, or ``COURSEKIT_STANDINS=1``; loudly announced): a SAM of the same
  classes (``Sam``, ``ImageEncoderViT``, ``PromptEncoder``, ``MaskDecoder``, ``TwoWayTransformer``), 1.2M
  parameters instead of 94M, 256-pixel input instead of 1024, that the course trained itself
  (:func:`build_sam_standin`, ``python -m coursekit.models.sam``) on masks of the scene generator with
  SAM's recipe in miniature: random box and point prompts from the ground-truth mask, one round of
  SAM's interactive refinement (a point in the error region plus the previous mask as a prompt), three
  output masks trained with the best-of-3 loss plus the single-mask token, focal + dice (20 : 1), and
  the IoU-prediction head trained with MSE. It is trained on part types that are *not* in the course's
  detection dataset (hex nuts, circlips, bolts, knobs), so its numbers on the six detection part types
  measure prompted segmentation of parts it never saw. Random weights would teach nothing; its measured
  IoUs are in ``datasets/sam_standin/README.md``.

Lighter real models, for comparison (not registered): MobileSAM keeps SAM's prompt encoder and mask decoder
and replaces the 89M-parameter ViT-B image encoder by a 5M TinyViT (about 10x less encoder time, a 40 MB
checkpoint), but segment-anything has no TinyViT class: it needs the ``mobile_sam`` package (same
``SamPredictor`` API). SAM 2 tiny (Hiera-T, 39M parameters) needs the ``sam2`` package, whose
``SAM2ImagePredictor`` and config-file builder replace ``sam_model_registry`` and ``SamPredictor`` (masks
and scores come back the same way), and adds video.

Helpers shared by stand-in and real weights: :func:`mask_iou`, :func:`mask_iou_matrix`,
:func:`box_mask` (the trivial box-as-mask baseline), :func:`predict_box`, :func:`predict_points`,
:func:`interior_point`, :func:`time_predictor`, :func:`evaluate_sam`, and a classical baseline with the
same box-in, mask-out interface, :func:`grabcut_box` (OpenCV GrabCut). Images are RGB uint8 (H, W, 3);
boxes are pixel ``(x0, y0, x1, y1)`` with x1/y1 exclusive (the course's convention); points are pixel
``(x, y)``.

>>> sam, is_standin, info = sam_model(ck.settings())              # doctest: +SKIP
>>> predictor = SamPredictor(sam); predictor.set_image(image_rgb)  # doctest: +SKIP
>>> mask, score = predict_box(predictor, (40, 52, 118, 130))       # doctest: +SKIP
"""
from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..assets import ASSETS, Asset, sha256_of

__all__ = [
    "SAM_ASSETS", "SAM_KINDS", "STANDIN_NAME", "TRAIN_PARTS", "TinySamArch", "SamRecipe",
    "sam_model", "load_sam_checkpoint", "tiny_sam", "standin_sam", "standin_root", "build_sam_standin",
    "sam_training_set", "train_tiny_sam", "evaluate_sam",
    "mask_iou", "mask_iou_matrix", "box_mask", "interior_point", "random_point", "predict_box", "predict_points",
    "time_predictor", "grabcut_box", "amg_thresholds", "STANDIN_AMG_THRESHOLDS", "sync",
]

# --- the real checkpoints ---------------------------------------------------------------------------------------

#: The official SAM checkpoints (dl.fbaipublicfiles.com/segment_anything). The sha256 and byte sizes are the
#: ones other projects pin in their download code (e.g. micro-sam's pooch registry, micro_sam/util.py, for all
#: three sha256; the sizes as served, e.g. wget's "Length: 375042383" for ViT-B); not re-downloaded by the
#: course (no internet where this was written): the first ``coursekit fetch`` checks them.
SAM_ASSETS: dict[str, Asset] = {name: ASSETS[name] for name in ("sam-vit-b", "sam-vit-l", "sam-vit-h")}
SAM_KINDS: dict[str, str] = {"vit_b": "sam-vit-b", "vit_l": "sam-vit-l", "vit_h": "sam-vit-h"}
"""segment-anything's model type (``sam_model_registry`` key) -> asset name."""
_REAL_PARAMS = {"vit_b": "93.7M", "vit_l": "312M", "vit_h": "641M"}  # whole model (encoder 89.7M / 308M / 636M)

STANDIN_NAME = "sam_standin"

#: ``SamAutomaticMaskGenerator`` thresholds for the course's tiny stand-in only: SAM's defaults
#: (``pred_iou_thresh=0.88``, ``stability_score_thresh=0.95``) are tuned for the real models, and the stand-in's
#: less confident masks all fall below them (its README measures the recall of both settings). The real SAM
#: keeps its defaults: :func:`amg_thresholds` returns ``{}`` for it.
STANDIN_AMG_THRESHOLDS: dict[str, float] = {"pred_iou_thresh": 0.7, "stability_score_thresh": 0.8}


def amg_thresholds(is_standin: bool) -> dict[str, float]:
    """The keyword arguments for ``SamAutomaticMaskGenerator``: lowered thresholds for the stand-in only,
    SAM's own defaults (an empty dict) for the real weights.

    >>> amg_thresholds(False), amg_thresholds(True)["pred_iou_thresh"]
    ({}, 0.7)
    """
    return dict(STANDIN_AMG_THRESHOLDS) if is_standin else {}


def _asset(name: str) -> Asset:
    return ASSETS.get(name) or SAM_ASSETS[name]


def load_sam_checkpoint(path: str | os.PathLike, kind: str = "vit_b"):
    """A real SAM of ``kind`` (``vit_b``, ``vit_l``, ``vit_h``) with the weights in ``path``.

    Built empty by ``sam_model_registry[kind](checkpoint=None)``, then the state dict is read with
    ``torch.load(..., weights_only=True)`` (tensors only, no code from the file) and loaded strictly.
    """
    from segment_anything import sam_model_registry

    if kind not in SAM_KINDS:
        raise ValueError(f"unknown SAM kind {kind!r}; valid: {', '.join(SAM_KINDS)} (or 'standin')")
    state = torch.load(Path(path), map_location="cpu", weights_only=True)  # refuses pickled code
    sam = sam_model_registry[kind](checkpoint=None)
    try:
        sam.load_state_dict(state)
    except RuntimeError as err:
        raise ValueError(f"{path} is not a SAM {kind} checkpoint: {str(err).splitlines()[0]}") from None
    return sam.eval()


def sam_model(settings=None, kind: str = "vit_b", progress: bool = True):
    """The SAM a notebook uses: ``(sam, is_standin, info)``.

    ``kind``: ``"vit_b"`` (default; the one a CPU can run), ``"vit_l"``, ``"vit_h"``, or ``"standin"`` (the
    course's tiny SAM, announced). A real kind downloads its checkpoint once through the asset registry
    (checksummed). When it is not cached and cannot be downloaded, the smoke profile (or
    ``COURSEKIT_STANDINS=1``) gets the announced stand-in; the full profile stops with the offline error
    (how to pre-fetch it), never a silent fallback. The model is in eval mode on ``settings.device``.
    ``info``: what was loaded (``kind``, ``img_size``, ``params``, and the asset or the stand-in's manifest).
    """
    from ..assets import AssetUnavailable, fetch
    from ..config import env_flag, settings as _settings

    S = settings or _settings()
    if kind != "standin" and kind not in SAM_KINDS:
        raise ValueError(f"unknown SAM kind {kind!r}; valid: {', '.join(SAM_KINDS)}, standin")
    if kind == "standin":
        sam, manifest = standin_sam()
        _announce(manifest, "kind='standin' was asked for")
        return sam.to(S.device), True, _standin_info(sam, manifest)
    asset = _asset(SAM_KINDS[kind])
    try:
        path = fetch(asset, home=S.home, progress=progress, offline=S.offline)
    except AssetUnavailable as err:
        if not (S.smoke or env_flag("COURSEKIT_STANDINS")):
            raise AssetUnavailable(
                f"{err}\nOr run on the course's offline stand-in (its numbers are not the real result): "
                "COURSEKIT_PROFILE=smoke, or COURSEKIT_STANDINS=1 for the full-size run.", err.reason) from None
        sam, manifest = standin_sam()
        _announce(manifest, f"the SAM {kind} weights are not cached and this machine is offline "
                            f"({err.reason or 'offline'})", kind)
        return sam.to(S.device), True, _standin_info(sam, manifest)
    sam = load_sam_checkpoint(path, kind)
    info = {"kind": kind, "asset": asset.name, "weights": str(path), "img_size": sam.image_encoder.img_size,
            "params": _count(sam)}
    return sam.to(S.device), False, info


def _count(model) -> int:
    return int(sum(p.numel() for p in model.parameters()))


def _standin_info(sam, manifest: dict) -> dict:
    return {"kind": "standin", "img_size": sam.image_encoder.img_size, "params": _count(sam), "manifest": manifest}


def _announce(manifest: dict, why: str, kind: str = "vit_b") -> None:
    from ..standins import announce_standin

    a = manifest["arch"]
    m = manifest.get("metrics", {}).get("test", {})
    measured = (f"; on unseen part types it reaches box-prompt mask IoU {m['box_iou']:.2f} "
                f"(the box itself as the mask: {m['box_as_mask_iou']:.2f})") if "box_iou" in m else ""
    announce_standin(
        replaces=f"Segment Anything {kind.replace('_', '-').upper()} (Meta, {_REAL_PARAMS[kind]} parameters at 1024 px)",
        by=f"a tiny SAM (the same classes, ViT {a['embed_dim']}x{a['depth']}, {a['img_size']} px, "
           f"{manifest['params'] / 1e6:.1f}M parameters) trained by the course on generated parts{measured}",
        why=why,
        real_result="SAM segments objects of any kind zero-shot; see 'What the real run shows' below",
    )


# --- the tiny SAM ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class TinySamArch:
    """The stand-in's architecture: segment-anything's classes at a small width and input size.

    SAM ViT-B for comparison: img_size 1024, patch 16, embed_dim 768, depth 12, 12 heads, window 14 with
    global attention in blocks (2, 5, 8, 11), prompt_dim 256, decoder mlp 2048, 8 heads, mask_in_chans 16.
    ``pe_scale`` scales the random frequencies of the prompt encoder's positional code (SAM: 1). Measured
    on the stand-in's recipe (400 steps, train IoU of the single-mask token): scale 3 never left the "empty
    mask" phase, 1 left it after about 200 steps, 0.25 after about 100 and ended 0.03 higher; from scratch,
    smoother positional codes make the prompt-to-pixel matching easier to find.
    """

    img_size: int = 256
    patch_size: int = 16
    embed_dim: int = 128
    depth: int = 4
    num_heads: int = 4
    window_size: int = 8
    global_attn_indexes: tuple[int, ...] = (1, 3)
    prompt_dim: int = 64
    decoder_depth: int = 2
    decoder_mlp_dim: int = 256
    decoder_heads: int = 4
    mask_in_chans: int = 16
    pe_scale: float = 0.25


def _low_res(arch: TinySamArch) -> int:
    """The side of the decoder's low-res masks: 4 x the image embedding's side (256 for SAM at 1024)."""
    return 4 * (arch.img_size // arch.patch_size)


def tiny_sam(arch: TinySamArch = TinySamArch()):
    """A ``segment_anything.modeling.Sam`` of the given (small) size, randomly initialised, in eval mode.

    Built exactly like segment-anything's ``_build_sam`` (LayerNorm eps 1e-6, relative positions, windowed
    attention with some global blocks, 3 multimask outputs, 3-layer IoU head), only smaller.
    """
    from segment_anything.modeling import ImageEncoderViT, MaskDecoder, PromptEncoder, Sam, TwoWayTransformer

    if arch.img_size % arch.patch_size:
        raise ValueError(f"img_size {arch.img_size} must be a multiple of patch_size {arch.patch_size}")
    grid = arch.img_size // arch.patch_size
    sam = Sam(
        image_encoder=ImageEncoderViT(
            depth=arch.depth, embed_dim=arch.embed_dim, img_size=arch.img_size, mlp_ratio=4,
            norm_layer=partial(torch.nn.LayerNorm, eps=1e-6), num_heads=arch.num_heads,
            patch_size=arch.patch_size, qkv_bias=True, use_rel_pos=True,
            global_attn_indexes=tuple(arch.global_attn_indexes), window_size=arch.window_size,
            out_chans=arch.prompt_dim),
        prompt_encoder=PromptEncoder(
            embed_dim=arch.prompt_dim, image_embedding_size=(grid, grid),
            input_image_size=(arch.img_size, arch.img_size), mask_in_chans=arch.mask_in_chans),
        mask_decoder=MaskDecoder(
            num_multimask_outputs=3,
            transformer=TwoWayTransformer(depth=arch.decoder_depth, embedding_dim=arch.prompt_dim,
                                          mlp_dim=arch.decoder_mlp_dim, num_heads=arch.decoder_heads),
            transformer_dim=arch.prompt_dim, iou_head_depth=3, iou_head_hidden_dim=arch.prompt_dim),
        pixel_mean=[123.675, 116.28, 103.53],
        pixel_std=[58.395, 57.12, 57.375],
    )
    if arch.pe_scale != 1.0:  # PositionEmbeddingRandom(scale=...): the frequencies of the prompts' positional code
        with torch.no_grad():
            sam.prompt_encoder.pe_layer.positional_encoding_gaussian_matrix.mul_(arch.pe_scale)
    return sam.eval()



def standin_root(root: str | os.PathLike | None = None) -> Path:
    """The folder holding the shipped stand-in (repository ``datasets/sam_standin``, else the cache)."""
    from ..data.shipped import find_shipped_dataset

    return find_shipped_dataset(STANDIN_NAME, root, rebuild="python -m coursekit.models.sam")


def standin_sam(root: str | os.PathLike | None = None):
    """The course's tiny SAM: ``(sam, manifest)``; the weights' sha256 is checked against the manifest.

    Not announced: :func:`sam_model` is the call that announces it.
    """
    folder = standin_root(root)
    from ..data.shipped import checked_weights

    manifest, path = checked_weights(folder, STANDIN_NAME, "python -m coursekit.models.sam")
    arch = manifest["arch"]
    sam = tiny_sam(TinySamArch(**{**arch, "global_attn_indexes": tuple(arch["global_attn_indexes"])}))
    sam.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return sam.eval(), manifest


# --- helpers the notebook uses (stand-in and real alike) ------------------------------------------------------------

def _bool_masks(a, name: str) -> np.ndarray:
    a = np.asarray(a)
    if a.dtype != bool:
        raise TypeError(f"{name} must be a bool mask array; got dtype {a.dtype} (threshold it first, e.g. m > 0)")
    if a.ndim < 2:
        raise ValueError(f"{name} must be (H, W) or (..., H, W); got shape {a.shape}")
    return a


def mask_iou(a, b) -> float | np.ndarray:
    """Intersection over union of bool masks: ``(H, W)`` pairs give a float; ``(N, H, W)`` (or any
    broadcastable leading shape) gives one IoU per pair. Two empty masks agree: IoU 1.0.

    >>> a = np.zeros((4, 4), bool); a[:2] = True          # 8 pixels
    >>> b = np.zeros((4, 4), bool); b[1:3] = True         # 8 pixels, 4 shared
    >>> round(mask_iou(a, b), 4), mask_iou(a, a), mask_iou(a, ~a)
    (0.3333, 1.0, 0.0)
    """
    a, b = _bool_masks(a, "a"), _bool_masks(b, "b")
    if a.shape[-2:] != b.shape[-2:]:
        raise ValueError(f"masks must have the same (H, W); got {a.shape} and {b.shape}")
    inter = np.logical_and(a, b).sum(axis=(-2, -1))
    union = np.logical_or(a, b).sum(axis=(-2, -1))
    iou = np.where(union > 0, inter / np.maximum(union, 1), 1.0)
    return float(iou) if np.ndim(iou) == 0 else iou.astype(np.float64)


def mask_iou_matrix(a, b) -> np.ndarray:
    """Pairwise IoU of two sets of bool masks, ``(N, H, W)`` x ``(M, H, W)`` -> ``(N, M)`` (like ``box_iou``)."""
    a, b = _bool_masks(a, "a"), _bool_masks(b, "b")
    if a.ndim != 3 or b.ndim != 3 or a.shape[1:] != b.shape[1:]:
        raise ValueError(f"need (N, H, W) and (M, H, W) masks of one size; got {a.shape} and {b.shape}")
    fa = a.reshape(len(a), -1).astype(np.float32)
    fb = b.reshape(len(b), -1).astype(np.float32)
    inter = fa @ fb.T
    union = fa.sum(1)[:, None] + fb.sum(1)[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1), 1.0).astype(np.float64)


def _check_box(box_xyxy, shape: tuple[int, int]) -> tuple[int, int, int, int]:
    """A pixel box -> int ``(x0, y0, x1, y1)`` clipped to the image (x1/y1 exclusive); clear errors otherwise."""
    box = np.asarray(box_xyxy, dtype=np.float64) if not isinstance(box_xyxy, np.ndarray) else box_xyxy
    if box.shape != (4,) or not np.issubdtype(box.dtype, np.number):
        raise ValueError(f"box must be 4 numbers (x0, y0, x1, y1) in pixels; got {box_xyxy!r}")
    box = box.astype(np.float64)
    if not np.isfinite(box).all():
        raise ValueError(f"box must be finite; got {box_xyxy!r}")
    x0, y0, x1, y1 = box
    if x1 <= x0 or y1 <= y0:
        raise ValueError(f"empty box {tuple(box.tolist())}: need x1 > x0 and y1 > y0 (pixels, x1/y1 exclusive)")
    h, w = shape
    if x1 <= 0 or y1 <= 0 or x0 >= w or y0 >= h:
        raise ValueError(f"box {tuple(box.tolist())} lies outside the {w}x{h} (width x height) image")
    return (max(0, int(math.floor(x0))), max(0, int(math.floor(y0))),
            min(w, int(math.ceil(x1))), min(h, int(math.ceil(y1))))


def box_mask(box_xyxy, shape: tuple[int, int]) -> np.ndarray:
    """The box itself as a mask (the trivial baseline a segmenter must beat): bool ``shape`` (H, W)."""
    x0, y0, x1, y1 = _check_box(box_xyxy, tuple(shape))
    m = np.zeros(tuple(shape), bool)
    m[y0:y1, x0:x1] = True
    return m


def _check_image(image) -> np.ndarray:
    if not isinstance(image, np.ndarray):
        raise TypeError(f"image must be a numpy array (H, W, 3) RGB uint8; got {type(image).__name__}")
    if image.dtype != np.uint8:
        raise TypeError(f"image must be uint8 (0-255) RGB; got dtype {image.dtype} "
                        "(float images: (img * 255).clip(0, 255).astype(np.uint8))")
    if image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"image must be (H, W, 3) RGB; got shape {image.shape}"
                         + (" (grey: np.repeat(img[..., None], 3, 2); RGBA: img[..., :3])" if image.ndim in (2, 3)
                            else ""))
    if min(image.shape[:2]) < 2:
        raise ValueError(f"image is too small: {image.shape}")
    return np.ascontiguousarray(image)


def grabcut_box(image_rgb, box_xyxy, iters: int = 5) -> np.ndarray:
    """OpenCV GrabCut initialised with a box: the classical segmenter behind SAM's box-in, mask-out interface.

    ``cv2.grabCut(..., cv2.GC_INIT_WITH_RECT)``: pixels outside the box are background, those inside
    "probably foreground"; colour models (5-component GMMs) and a graph cut alternate ``iters`` times.
    Returns a bool (H, W) mask (definite + probable foreground). The box is clipped to the image; an empty
    box, one outside the image, or one that covers the whole image (no background left to learn from)
    raises ``ValueError``; a non-uint8 or non-RGB image raises ``TypeError`` / ``ValueError``.
    """
    import cv2

    image = _check_image(image_rgb)
    h, w = image.shape[:2]
    if not isinstance(iters, (int, np.integer)) or isinstance(iters, bool) or iters < 1:
        raise ValueError(f"iters must be an int >= 1; got {iters!r}")
    x0, y0, x1, y1 = _check_box(box_xyxy, (h, w))
    if x1 - x0 < 2 or y1 - y0 < 2:
        raise ValueError(f"box {tuple(np.asarray(box_xyxy).tolist())} is under 2 pixels wide or high inside the "
                         "image: GrabCut needs foreground pixels to learn from")
    if (x0, y0, x1, y1) == (0, 0, w, h):
        raise ValueError("the box covers the whole image: GrabCut learns the background from the pixels outside "
                         "the box, and there are none (shrink the box by a few pixels)")
    mask = np.zeros((h, w), np.uint8)
    bgd, fgd = np.zeros((1, 65), np.float64), np.zeros((1, 65), np.float64)
    cv2.grabCut(image, mask, (x0, y0, x1 - x0, y1 - y0), bgd, fgd, int(iters), cv2.GC_INIT_WITH_RECT)
    return (mask == cv2.GC_FGD) | (mask == cv2.GC_PR_FGD)


def predict_box(predictor, box_xyxy) -> tuple[np.ndarray, float]:
    """One mask for a box prompt: ``(bool (H, W) mask, predicted IoU)`` from a ``SamPredictor`` with its image set.

    Uses SAM's single-mask output (``multimask_output=False``), the one SAM's authors recommend for an
    unambiguous prompt such as a box.
    """
    box = np.asarray(box_xyxy, dtype=np.float64)
    if box.shape != (4,) or not np.isfinite(box).all():
        raise ValueError(f"box must be 4 finite numbers (x0, y0, x1, y1); got {box_xyxy!r}")
    if box[2] <= box[0] or box[3] <= box[1]:
        raise ValueError(f"empty box {tuple(box.tolist())}: need x1 > x0 and y1 > y0")
    masks, scores, _ = predictor.predict(box=box, multimask_output=False)
    return masks[0].astype(bool), float(scores[0])


def predict_points(predictor, points, labels, multimask: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Masks for point prompts: ``(bool (K, H, W) masks, (K,) predicted IoUs)``, K = 3 with ``multimask``, else 1.

    ``points``: (N, 2) pixel ``(x, y)``; ``labels``: (N,) 1 = on the object, 0 = not on it. With one point the
    prompt is ambiguous (a hole, the part, the part and its neighbour): keep the 3 masks and pick one, e.g.
    by the predicted IoU (``masks[scores.argmax()]``).
    """
    pts = np.asarray(points, dtype=np.float64)
    if pts.ndim == 1 and pts.shape == (2,):
        pts = pts[None]
    lab = np.atleast_1d(np.asarray(labels))
    if pts.ndim != 2 or pts.shape[1] != 2 or len(pts) == 0 or not np.isfinite(pts).all():
        raise ValueError(f"points must be (N, 2) finite pixel (x, y); got shape {np.shape(points)}")
    if lab.shape != (len(pts),) or not np.isin(lab, (0, 1)).all():
        raise ValueError(f"labels must be N = {len(pts)} values in {{0, 1}}; got {labels!r}")
    masks, scores, _ = predictor.predict(point_coords=pts, point_labels=lab.astype(np.int64),
                                         multimask_output=bool(multimask))
    return masks.astype(bool), scores.astype(np.float32)


def interior_point(mask) -> tuple[int, int]:
    """The pixel ``(x, y)`` of a bool mask farthest from its border: a deterministic "click on the object"."""
    import cv2

    m = _bool_masks(mask, "mask")
    if m.ndim != 2 or not m.any():
        raise ValueError("interior_point needs a non-empty (H, W) mask")
    d = cv2.distanceTransform(np.pad(m, 1).astype(np.uint8), cv2.DIST_L2, 5)[1:-1, 1:-1]
    r, c = np.unravel_index(int(np.argmax(d)), d.shape)
    return int(c), int(r)


def random_point(mask, rng) -> tuple[int, int]:
    """A pixel ``(x, y)`` drawn uniformly among the ``True`` pixels of a bool mask with ``rng`` (a
    ``np.random.Generator``): a click as a person makes it, anywhere on the object, near its border too
    (unlike :func:`interior_point`, the most interior pixel, the easiest click there is).

    >>> m = np.zeros((5, 5), bool); m[1:3, 2:4] = True
    >>> x, y = random_point(m, np.random.default_rng(0)); bool(m[y, x])
    True
    """
    m = _bool_masks(mask, "mask")
    if m.ndim != 2 or not m.any():
        raise ValueError("random_point needs a non-empty (H, W) mask")
    rows, cols = np.nonzero(m)
    k = int(rng.integers(len(rows)))
    return int(cols[k]), int(rows[k])


def sync(device) -> None:
    """Wait for the GPU's queued work (``torch.cuda.synchronize``) when ``device`` is CUDA; nothing on a CPU.
    CUDA calls return before the work is done: read the clock only after this, or a timing measures the queue."""
    if str(device).startswith("cuda") and torch.cuda.is_available():
        torch.cuda.synchronize(torch.device(device))


def time_predictor(predictor, image, box_xyxy=None, repeats: int = 3) -> dict:
    """Median seconds of ``set_image`` (the image encoder: once per image) and of one box prompt (prompt
    encoder + mask decoder: once per prompt), after one warm-up call. ``box_xyxy`` default: the middle half.
    On a GPU the clock is read after :func:`sync` (CUDA kernels run asynchronously)."""
    image = _check_image(image)
    h, w = image.shape[:2]
    box = np.asarray(box_xyxy if box_xyxy is not None else (w / 4, h / 4, 3 * w / 4, 3 * h / 4), np.float64)
    device = predictor.device
    predictor.set_image(image)
    predict_box(predictor, box)
    t_img, t_prompt = [], []
    for _ in range(max(1, int(repeats))):
        sync(device)
        t = time.perf_counter()
        predictor.set_image(image)
        sync(device)
        t_img.append(time.perf_counter() - t)
        t = time.perf_counter()
        predict_box(predictor, box)
        sync(device)
        t_prompt.append(time.perf_counter() - t)
    return {"set_image_s": float(np.median(t_img)), "prompt_s": float(np.median(t_prompt)),
            "image_size": (h, w), "threads": torch.get_num_threads(), "device": str(predictor.device)}


def evaluate_sam(sam, split: str = "test", n_images: int = 60, seed: int = 0, size: int = 320,
                 grabcut: bool = False, progress: bool = False) -> dict:
    """Mean mask IoU of ``sam`` (through the real ``SamPredictor``) on the labelled parts of the course's
    detection scenes (``coursekit.data.detection``; ``test`` is the lab, ``test_shifted`` the other factory).

    Per part: a box prompt (its label box; single-mask output), one point prompt (the mask's
    :func:`interior_point`; 3 masks, scored by the mask SAM rates best and by the best of the 3 in hindsight,
    the "oracle"), the box itself as the mask (the trivial baseline) and, with ``grabcut=True``,
    :func:`grabcut_box`. Returns the means, the number of parts and images, and the median seconds per image
    (``set_image``) and per prompt.
    """
    from segment_anything import SamPredictor

    from ..data.detection import render_detection_scene

    predictor = SamPredictor(sam)
    rows = {"box_iou": [], "point_best_score_iou": [], "point_oracle_iou": [], "box_as_mask_iou": []}
    if grabcut:
        rows["grabcut_iou"] = []
    t_img, t_prompt = [], []
    it = range(int(n_images))
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(it, desc=f"evaluating SAM on {split}", unit="img", leave=False)
    with torch.inference_mode():
        for i in it:
            scene, labels = render_detection_scene(i, split, seed=seed, size=size)
            t = time.perf_counter()
            predictor.set_image(scene.image)
            t_img.append(time.perf_counter() - t)
            for lab in labels:
                gt = scene.objects[lab["object"]].mask
                box = np.asarray(lab["box_xyxy"], np.float64)
                t = time.perf_counter()
                mask, _ = predict_box(predictor, box)
                t_prompt.append(time.perf_counter() - t)
                rows["box_iou"].append(mask_iou(mask, gt))
                masks, scores = predict_points(predictor, [interior_point(gt)], [1], multimask=True)
                ious = mask_iou(masks, gt[None])
                rows["point_best_score_iou"].append(float(ious[int(np.argmax(scores))]))
                rows["point_oracle_iou"].append(float(ious.max()))
                rows["box_as_mask_iou"].append(mask_iou(box_mask(box, gt.shape), gt))
                if grabcut:
                    rows["grabcut_iou"].append(mask_iou(grabcut_box(scene.image, box), gt))
    out = {k: round(float(np.mean(v)), 4) if v else None for k, v in rows.items()}
    out.update(split=split, seed=seed, images=int(n_images), parts=len(rows["box_iou"]),
               set_image_s=round(float(np.median(t_img)), 4) if t_img else None,
               prompt_s=round(float(np.median(t_prompt)), 4) if t_prompt else None,
               threads=torch.get_num_threads())
    return out


# --- making the stand-in ------------------------------------------------------------------------------------------

TRAIN_PARTS: tuple[str, ...] = ("hex_nut", "circlip", "bolt", "knob")
"""The part types the stand-in is trained on: none of them is in the detection dataset it is measured on."""
_SEED = 4242  # training scenes: another seed than every shipped dataset (0) and the Module 2 stand-in (777)


@dataclass(frozen=True)
class SamRecipe:
    """How the stand-in is trained (stored in its manifest and README).

    ``scenes`` generated photos of :data:`TRAIN_PARTS` at ``render_size`` (a ``large_fraction`` of them with
    1-2 big parts, the rest like the detection dataset: 2-6 parts among clutter), shown in ``steps`` batches
    of ``batch_size`` images with random flips. Per part and step: a box prompt (jittered like SAM's: std
    10% of the side, at most 20 px at 1024), a point prompt (uniform in the mask) and one refinement round of
    the point prompt. AdamW, linear warm-up then cosine decay, gradient clipping at 1.
    """

    arch: TinySamArch = TinySamArch()
    scenes: int = 1600
    render_size: int = 320
    large_fraction: float = 0.25
    shifted_fraction: float = 0.25
    steps: int = 1500
    batch_size: int = 8
    max_parts: int = 6
    lr: float = 2e-3
    weight_decay: float = 0.1
    warmup: float = 0.05
    focal_weight: float = 20.0
    refine: bool = True
    seed: int = _SEED
    parts: tuple[str, ...] = TRAIN_PARTS
    eval_images: int = 60


@dataclass
class _Part:
    target: np.ndarray  # uint8 (t, t): area fraction x 255 of the mask at the loss resolution
    box: np.ndarray  # float32 (4,) x0 y0 x1 y1 in render pixels (x1/y1 exclusive)
    pos: np.ndarray  # int (k, 2) pixel (x, y) inside the mask


def _generators(recipe: SamRecipe) -> dict:
    """(domain, big) -> SceneGenerator: the detection dataset's two cameras, with 2-6 parts or 1-2 big ones."""
    from ..data.detection import DETECTION_DOMAINS, OBJECT_SIZE, PARTS_PER_IMAGE
    from ..scenes import SceneGenerator

    gens = {}
    for dom in ("source", "shifted"):
        for big in (False, True):
            gens[dom, big] = SceneGenerator(
                recipe.render_size, domain=DETECTION_DOMAINS[dom], seed=recipe.seed, parts=recipe.parts,
                objects_per_scene=(1, 2) if big else PARTS_PER_IMAGE, centred=False,
                object_size=(0.35, 0.65) if big else OBJECT_SIZE)
    return gens


def _every(i: int, n: int, fraction: float) -> bool:
    """Whether item ``i`` of ``n`` is one of the ``round(fraction * n)`` spread evenly (any prefix has the mix)."""
    k = int(round(fraction * n))
    return k > 0 and (i * k) // n != ((i + 1) * k) // n


def sam_training_set(recipe: SamRecipe = SamRecipe(), progress: bool = True):
    """Render the stand-in's training scenes: ``(images uint8 (N, s, s, 3), parts per image, report)``.

    Images are already resized the way ``SamPredictor`` resizes them (``ResizeLongestSide(img_size)``);
    each part holds its mask at the loss resolution (SAM's low-res mask grid, 4 x the image embedding's side, as area fractions), its box and 32
    pixels inside it for point prompts. Parts under 16 visible pixels are left out and counted.
    """
    import cv2
    from segment_anything.utils.transforms import ResizeLongestSide

    s, t = recipe.arch.img_size, _low_res(recipe.arch)
    resize = ResizeLongestSide(s)
    gens = _generators(recipe)
    n_big = sum(_every(i, recipe.scenes, recipe.large_fraction) for i in range(recipe.scenes))
    n_shifted = 0
    images = np.empty((recipe.scenes, s, s, 3), np.uint8)
    parts: list[list[_Part]] = []
    skipped = 0
    it = range(recipe.scenes)
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(it, desc="rendering SAM training scenes", unit="img", leave=False)
    for i in it:
        big = _every(i, recipe.scenes, recipe.large_fraction)
        shifted = bool(np.random.default_rng([recipe.seed, 4, i]).random() < recipe.shifted_fraction)
        n_shifted += shifted
        scene = gens["shifted" if shifted else "source", big].render(i)
        images[i] = resize.apply_image(scene.image)
        rng = np.random.default_rng([recipe.seed, 3, i])
        ps = []
        for obj in scene.objects:
            ys, xs = np.nonzero(obj.mask)
            if len(xs) < 16:
                skipped += 1
                continue
            k = rng.choice(len(xs), size=32, replace=len(xs) < 32)
            frac = cv2.resize(obj.mask.astype(np.float32), (t, t), interpolation=cv2.INTER_AREA)
            ps.append(_Part(target=np.round(frac * 255).astype(np.uint8), box=obj.box_xyxy.astype(np.float32),
                            pos=np.stack([xs[k], ys[k]], 1).astype(np.int32)))
        parts.append(ps)
    counts = [len(p) for p in parts]
    report = {"images": int(recipe.scenes), "big_part_images": n_big, "shifted_images": int(n_shifted),
              "parts": int(sum(counts)),
              "parts_per_image": round(float(np.mean(counts)), 2), "skipped_tiny_parts": skipped}
    return images, parts, report


def _flip(part: _Part, hflip: bool, vflip: bool, size: int) -> _Part:
    target, box, pos = part.target, part.box.copy(), part.pos.copy()
    if hflip:
        target = target[:, ::-1]
        box[[0, 2]] = size - box[[2, 0]]
        pos[:, 0] = size - 1 - pos[:, 0]
    if vflip:
        target = target[::-1]
        box[[1, 3]] = size - box[[3, 1]]
        pos[:, 1] = size - 1 - pos[:, 1]
    return _Part(np.ascontiguousarray(target), box, pos)


def _mask_losses(logits: torch.Tensor, target: torch.Tensor, focal_weight: float):
    """Per-mask ``focal_weight * focal + dice`` and the masks' true IoU. logits (N, K, t, t), target (N, t, t)."""
    t = target[:, None].expand_as(logits)
    p = logits.sigmoid()
    ce = F.binary_cross_entropy_with_logits(logits, t, reduction="none")
    p_t = p * t + (1 - p) * (1 - t)
    focal = (ce * (1 - p_t) ** 2).mean(dim=(-2, -1))  # gamma 2, no alpha: from scratch, alpha 0.25 learns "empty"
    dice = 1 - (2 * (p * t).sum(dim=(-2, -1)) + 1) / (p.sum(dim=(-2, -1)) + t.sum(dim=(-2, -1)) + 1)
    with torch.no_grad():
        hard = (logits > 0).float()
        iou = torch.minimum(hard, t).sum(dim=(-2, -1)) / torch.maximum(hard, t).sum(dim=(-2, -1)).clamp_min(1e-6)
    return focal_weight * focal + dice, iou


def train_tiny_sam(sam, images: np.ndarray, parts: list[list[_Part]], recipe: SamRecipe = SamRecipe(),
                   progress: bool = True, log_every: int = 20) -> list[dict]:
    """Train ``sam`` in place with SAM's recipe in miniature (see the module docstring); returns the loss log.

    Deterministic for a given recipe, machine, thread count and library versions: every random draw comes
    from ``np.random.default_rng([seed, ...])``, and the model was initialised under ``torch.manual_seed``.
    """
    from segment_anything.utils.transforms import ResizeLongestSide

    s, t = recipe.arch.img_size, _low_res(recipe.arch)
    render = recipe.render_size
    resize = ResizeLongestSide(s)
    pe, dec = sam.prompt_encoder, sam.mask_decoder
    decay = [p for n, p in sam.named_parameters() if p.ndim >= 2 and "pos" not in n and "embed" not in n]
    other = [p for n, p in sam.named_parameters() if not (p.ndim >= 2 and "pos" not in n and "embed" not in n)]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": recipe.weight_decay},
                             {"params": other, "weight_decay": 0.0}], lr=recipe.lr)
    warm = max(1, int(recipe.warmup * recipe.steps))

    def lr_at(step):
        if step < warm:
            return recipe.lr * (step + 1) / warm
        q = (step - warm) / max(1, recipe.steps - warm)
        return recipe.lr * (0.02 + 0.98 * 0.5 * (1 + math.cos(math.pi * q)))

    usable = np.array([i for i, p in enumerate(parts) if p])
    order, epoch = np.empty(0, np.int64), 0
    log, acc, t0 = [], [], time.time()
    box_cap = 20.0 * render / 1024.0
    sam.train()
    it = range(recipe.steps)
    if progress:
        from tqdm.auto import tqdm

        it = tqdm(it, desc="training the tiny SAM", unit="step", leave=False)
    for step in it:
        if len(order) < recipe.batch_size:
            order = np.concatenate([order, np.random.default_rng([recipe.seed, 1, epoch]).permutation(usable)])
            epoch += 1
        batch, order = order[:recipe.batch_size], order[recipe.batch_size:]
        rng = np.random.default_rng([recipe.seed, 2, step])
        flips = rng.random((len(batch), 2)) < 0.5
        x = torch.from_numpy(np.stack([images[i][::-1 if fh else 1, ::-1 if fw else 1]
                                       for i, (fw, fh) in zip(batch, flips)]))
        x = sam.preprocess(x.permute(0, 3, 1, 2).float())
        emb = sam.image_encoder(x)
        dense_pe = pe.get_dense_pe()
        all_logits, all_iou, all_t = [], [], []
        for b, i in enumerate(batch):
            ps = parts[i]
            if len(ps) > recipe.max_parts:
                ps = [ps[j] for j in np.sort(rng.choice(len(ps), recipe.max_parts, replace=False))]
            ps = [_flip(p, bool(flips[b, 0]), bool(flips[b, 1]), render) for p in ps]
            k = len(ps)
            target = torch.from_numpy(np.stack([p.target for p in ps]).astype(np.float32) / 255.0)
            # box prompts, jittered like SAM's training boxes
            boxes = np.stack([p.box for p in ps]).astype(np.float64)
            side = np.stack([boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]] * 2, 1)
            boxes = boxes + np.clip(rng.normal(0, 0.1, (k, 4)) * side, -box_cap, box_cap)
            boxes = np.clip(boxes, 0, render)
            boxes[:, 2:] = np.maximum(boxes[:, 2:], boxes[:, :2] + 1)
            box_in = torch.as_tensor(resize.apply_boxes(boxes, (render, render)), dtype=torch.float)
            # one point prompt inside each mask
            pts = np.stack([p.pos[rng.integers(len(p.pos))] for p in ps]).astype(np.float64)
            pts_in = torch.as_tensor(resize.apply_coords(pts, (render, render)), dtype=torch.float)[:, None]
            ones = torch.ones(k, 1, dtype=torch.int)
            sb, db = pe(points=None, boxes=box_in, masks=None)
            sp, dp = pe(points=(pts_in, ones), boxes=None, masks=None)
            logits, iou = dec.predict_masks(image_embeddings=emb[b:b + 1], image_pe=dense_pe,
                                            sparse_prompt_embeddings=torch.cat([sb, sp]),
                                            dense_prompt_embeddings=torch.cat([db, dp]))
            all_logits.append(logits)
            all_iou.append(iou)
            all_t += [target, target]
            if recipe.refine:
                # SAM's interactive round: a point in the error region of the best-rated mask of the point
                # prompt (positive if missed, negative if spurious) plus that mask's logits as a prompt
                prev = logits[k:].detach()
                pick = iou[k:, 1:].detach().argmax(1) + 1
                prev = prev[torch.arange(k), pick][:, None]
                up = prev[:, 0] > 0
                gt = target >= 0.5
                new_pts, new_lab = [], []
                for j in range(k):
                    err = (up[j] ^ gt[j]).numpy()
                    if not err.any():
                        q = ps[j].pos[rng.integers(len(ps[j].pos))].astype(np.float64)
                        new_pts.append(q)
                        new_lab.append(1)
                        continue
                    rr, cc = np.nonzero(err)
                    e = rng.integers(len(rr))
                    q = (np.array([cc[e], rr[e]]) + rng.random(2)) * (render / t)
                    new_pts.append(np.minimum(q, render - 1))
                    new_lab.append(int(gt[j, rr[e], cc[e]]))
                two = np.stack([pts, np.stack(new_pts)], 1)
                two_in = torch.as_tensor(resize.apply_coords(two, (render, render)), dtype=torch.float)
                lab2 = torch.as_tensor(np.stack([np.ones(k), new_lab], 1), dtype=torch.int)
                sr, dr = pe(points=(two_in, lab2), boxes=None, masks=prev)
                logits2, iou2 = dec.predict_masks(image_embeddings=emb[b:b + 1], image_pe=dense_pe,
                                                  sparse_prompt_embeddings=sr, dense_prompt_embeddings=dr)
                all_logits.append(logits2)
                all_iou.append(iou2)
                all_t.append(target)
        logits = torch.cat(all_logits)  # the low-res masks (img_size / 4), like SAM's 256 x 256 at 1024
        pred_iou = torch.cat(all_iou)
        per_mask, true_iou = _mask_losses(logits, torch.cat(all_t), recipe.focal_weight)
        loss_multi = per_mask[:, 1:].min(dim=1).values.mean()
        loss_single = per_mask[:, 0].mean()
        loss_iou = F.mse_loss(pred_iou, true_iou)
        loss = loss_multi + loss_single + loss_iou
        for g in opt.param_groups:
            g["lr"] = lr_at(step)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(sam.parameters(), 1.0)
        opt.step()
        acc.append([loss.item(), loss_multi.item(), loss_single.item(), loss_iou.item(),
                    true_iou[:, 0].mean().item(), true_iou[:, 1:].max(1).values.mean().item()])
        if (step + 1) % log_every == 0 or step + 1 == recipe.steps:
            m = np.mean(acc, 0)
            log.append({"step": step + 1, "loss": round(float(m[0]), 4), "multi": round(float(m[1]), 4),
                        "single": round(float(m[2]), 4), "iou_mse": round(float(m[3]), 4),
                        "train_iou_single": round(float(m[4]), 4), "train_iou_best3": round(float(m[5]), 4),
                        "seconds": round(time.time() - t0, 1)})
            acc = []
            if progress:
                it.set_postfix(loss=log[-1]["loss"], iou=log[-1]["train_iou_single"])
    sam.eval()
    return log


def _automatic_recall(sam, n_images: int = 8, size: int = 320) -> list[dict]:
    """How many labelled parts ``SamAutomaticMaskGenerator`` (16 x 16 points) finds with mask IoU >= 0.5, with
    SAM's default filters and with looser ones (a small model's IoU predictions are less sure)."""
    from segment_anything import SamAutomaticMaskGenerator

    from ..data.detection import render_detection_scene

    scenes = [render_detection_scene(i, "test", seed=0, size=size) for i in range(n_images)]
    out = []
    for iou_t, stab_t in ((0.88, 0.95), (0.7, 0.8)):
        gen = SamAutomaticMaskGenerator(sam, points_per_side=16, pred_iou_thresh=iou_t, stability_score_thresh=stab_t)
        found, total, n_masks, secs = 0, 0, [], []
        for scene, labels in scenes:
            t = time.perf_counter()
            masks = gen.generate(scene.image)
            secs.append(time.perf_counter() - t)
            n_masks.append(len(masks))
            if not labels:
                continue
            gt = np.stack([scene.objects[lab["object"]].mask for lab in labels])
            total += len(gt)
            if masks:
                ious = mask_iou_matrix(gt, np.stack([m["segmentation"] for m in masks]))
                found += int((ious.max(1) >= 0.5).sum())
        out.append({"settings": f"points_per_side=16, pred_iou_thresh={iou_t}, stability_score_thresh={stab_t}",
                    "images": n_images, "parts": total, "recall_at_iou_0.5": round(found / max(total, 1), 4),
                    "masks_per_image": round(float(np.mean(n_masks)), 2),
                    "seconds_per_image": round(float(np.median(secs)), 3)})
    return out


def build_sam_standin(out_dir: str | os.PathLike, recipe: SamRecipe = SamRecipe(), progress: bool = True,
                      evaluate: bool = True) -> Path:
    """Train the stand-in and write ``out_dir`` (weights, ``manifest.json``, ``README.md``); returns ``out_dir``.

    Deterministic for a given recipe, machine, thread count and library versions. The folder is written next
    to ``out_dir`` and renamed into place, so an interrupted run leaves nothing half. ``evaluate``: measure it
    on the held-out detection scenes (``recipe.eval_images`` of ``test`` and ``test_shifted``, GrabCut too).
    """
    from ..data.shipped import building_folder

    t0 = time.time()
    images, parts, report = sam_training_set(recipe, progress)
    t_data = time.time() - t0
    torch.manual_seed(recipe.seed)
    sam = tiny_sam(recipe.arch)
    log = train_tiny_sam(sam, images, parts, recipe, progress)
    t_train = time.time() - t0 - t_data
    metrics = {}
    if evaluate:
        size = recipe.render_size if recipe.render_size % 32 == 0 else 320
        metrics["test"] = evaluate_sam(sam, "test", recipe.eval_images, size=size, grabcut=True, progress=progress)
        metrics["test_shifted"] = evaluate_sam(sam, "test_shifted", recipe.eval_images, size=size, progress=progress)
        metrics["automatic"] = _automatic_recall(sam, min(8, recipe.eval_images), size=size)

    weights = f"tiny-sam-{recipe.arch.img_size}px-parts.pt"
    out = Path(out_dir)
    with building_folder(out) as tmp:
        state = {k: v.detach().cpu().contiguous().clone() for k, v in sam.state_dict().items()}
        torch.save(state, tmp / weights)
        manifest = {
            "name": STANDIN_NAME, "weights": weights, "sha256": sha256_of(tmp / weights),
            "size": (tmp / weights).stat().st_size, "params": _count(sam),
            "arch": {**asdict(recipe.arch), "global_attn_indexes": list(recipe.arch.global_attn_indexes)},
            "recipe": {**{k: v for k, v in asdict(recipe).items() if k != "arch"}, "parts": list(recipe.parts)},
            "data": report, "train_log": log, "metrics": metrics,
            "seconds": {"data": round(t_data, 1), "train": round(t_train, 1), "total": round(time.time() - t0, 1)},
            "threads": torch.get_num_threads(), "torch": torch.__version__, "licence": "MIT",
            "made_by": "coursekit.models.sam.build_sam_standin (python -m coursekit.models.sam)",
        }
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1) + "\n", encoding="utf-8")
        (tmp / "README.md").write_text(_readme(manifest), encoding="utf-8")
    return out


def _fmt(v, spec=".3f") -> str:
    return "n/a" if v is None else format(v, spec)


def _readme(m: dict) -> str:
    a, r, d, mt = m["arch"], m["recipe"], m["data"], m["metrics"]
    te, sh = mt.get("test", {}), mt.get("test_shifted", {})
    amg = "\n".join(f"- `{a['settings']}`: {a['recall_at_iou_0.5']:.3f} of {a['parts']} parts on {a['images']} images, "
                    f"{a['masks_per_image']} masks and {a['seconds_per_image']:.2f} s per image"
                    for a in mt.get("automatic", [])) or "- not measured"

    last = m["train_log"][-1] if m["train_log"] else {}
    return f"""# The course's stand-in for Segment Anything (Module 4)

`{m['weights']}`: a tiny SAM ({m['params'] / 1e6:.2f}M parameters, {m['size'] / 1e6:.1f} MB) built from
segment-anything's own classes (`Sam`, `ImageEncoderViT`, `PromptEncoder`, `MaskDecoder`,
`TwoWayTransformer`) and trained by `coursekit.models.sam.build_sam_standin`. Module 4 uses it *only* when
the real SAM checkpoints cannot be downloaded (CI, offline classrooms) and announces it as a stand-in every
time: its numbers check the method, they are not the real result. Because it is a real `Sam`, the notebook
drives it with segment-anything's `SamPredictor` and `SamAutomaticMaskGenerator`, exactly as the real one.

## Architecture

| | tiny SAM (this) | SAM ViT-B |
|---|---|---|
| input | {a['img_size']} px (ResizeLongestSide) | 1024 px |
| image encoder | ViT, patch {a['patch_size']}, width {a['embed_dim']}, {a['depth']} blocks, {a['num_heads']} heads, window {a['window_size']}, global blocks {a['global_attn_indexes']}, relative positions | ViT, patch 16, width 768, 12 blocks, 12 heads, window 14, global blocks [2, 5, 8, 11] |
| image embedding | {a['prompt_dim']} x {a['img_size'] // a['patch_size']} x {a['img_size'] // a['patch_size']} | 256 x 64 x 64 |
| mask decoder | two-way transformer, {a['decoder_depth']} layers, width {a['prompt_dim']}, mlp {a['decoder_mlp_dim']}, {a['decoder_heads']} heads; 3 + 1 mask tokens; IoU head | the same with width 256, mlp 2048, 8 heads |
| prompt positional code | random Fourier features, scale {a['pe_scale']} | scale 1 |
| low-res masks | {4 * (a['img_size'] // a['patch_size'])} x {4 * (a['img_size'] // a['patch_size'])} | 256 x 256 |
| parameters | {m['params']:,} | 93.7M |

## How it was made

- Data: {d['images']} photos of {r['render_size']} x {r['render_size']} pixels from the course's scene generator (seed
  {r['seed']}; the detection dataset's two cameras, `DETECTION_DOMAINS`: {d['shifted_images']} from the `shifted` one,
  the rest from the lab), showing only part types that are **not** in the detection dataset: {', '.join(r['parts'])}.
  {d['big_part_images']} of them show 1-2 large parts, the others 2-6 parts among unlabelled clutter; {d['parts']} part masks in all ({d['parts_per_image']} per image;
  {d['skipped_tiny_parts']} parts under 16 visible pixels left out). Clutter has no masks in the generator, so the
  model learns it only as "not the part".
- SAM's recipe in miniature, {r['steps']} steps of {r['batch_size']} images (random flips), up to {r['max_parts']} parts each; per part:
  a box prompt (jittered: std 10% of its side, at most 20 px at 1024), a point prompt (uniform inside the mask) and
  one round of SAM's interactive training (a second point in the error region of the best-rated mask of the point
  prompt, positive where it missed, negative where it spilled, plus that mask's logits as a mask prompt). Loss:
  {r['focal_weight']:g} x focal + dice, the best of the 3 multimask outputs plus the single-mask token, and the
  IoU head's MSE against each mask's true IoU; on the {4 * (a['img_size'] // a['patch_size'])} x {4 * (a['img_size'] // a['patch_size'])} low-res masks against area-fraction targets.
  AdamW (lr {r['lr']}, weight decay {r['weight_decay']}), {r['warmup']:.0%} warm-up, cosine decay, gradient clipping 1.
- Last logged training IoU (single-mask token, all prompts): {_fmt(last.get('train_iou_single'))}.
- Time: {m['seconds']['data'] / 60:.1f} min rendering + {m['seconds']['train'] / 60:.1f} min training ({m['threads']} threads, CPU,
  on a machine shared with another training job); {m['seconds']['total'] / 60:.1f} min in all, evaluation included.

## What it can and cannot do (measured)

On the held-out scenes of the course's detection dataset (`test` split: {te.get('images')} images, {te.get('parts')} labelled
parts of six types it never saw: washer, flange, plate, bracket, hinge, gear), through the real `SamPredictor`:

| prompt | mean mask IoU (test, lab) | test_shifted (other factory) |
|---|---|---|
| box (single-mask output) | {_fmt(te.get('box_iou'))} | {_fmt(sh.get('box_iou'))} |
| one point, the mask SAM rates best of 3 | {_fmt(te.get('point_best_score_iou'))} | {_fmt(sh.get('point_best_score_iou'))} |
| one point, best of 3 in hindsight (oracle) | {_fmt(te.get('point_oracle_iou'))} | {_fmt(sh.get('point_oracle_iou'))} |
| baseline: the box itself as the mask | {_fmt(te.get('box_as_mask_iou'))} | {_fmt(sh.get('box_as_mask_iou'))} |
| classical: OpenCV GrabCut from the box (5 iterations) | {_fmt(te.get('grabcut_iou'))} | |

The point is the mask's innermost pixel. CPU time ({te.get('threads')} threads, shared machine): `set_image`
{_fmt(te.get('set_image_s'), '.3f')} s per image, {_fmt(te.get('prompt_s'), '.4f')} s per prompt.
`SamAutomaticMaskGenerator` on the first test images (labelled parts found at mask IoU >= 0.5):

{amg}

It can: segment machined parts on the course's backgrounds from a box or a click, rank its 3 masks, and run
through every segment-anything API (points, boxes, masks, multimask, automatic masks). It cannot: segment
anything else (people, animals, street scenes: it saw only generated parts), work at SAM's resolution (its
masks come from a {4 * (a['img_size'] // a['patch_size'])} x {4 * (a['img_size'] // a['patch_size'])} grid, so thin structures and gear teeth are rounded), or
stand for SAM's quality: the real ViT-B was trained on 11M photos and 1.1B masks.

- sha256 `{m['sha256']}` (also in `manifest.json`, checked on every load).
- Licence: MIT (made by the course from generated images; segment-anything's code is Apache-2.0).

Rebuild (deterministic on one machine with the same thread count; about 20-25 minutes on 2 CPU cores):

    python -m coursekit.models.sam            # writes datasets/{STANDIN_NAME}
"""


def main(argv: list[str] | None = None) -> int:  # pragma: no cover - the one-off build
    import argparse

    p = argparse.ArgumentParser(description="Train the course's tiny SAM stand-in (Module 4).")
    p.add_argument("--out", default=str(Path(__file__).resolve().parents[2] / "datasets" / STANDIN_NAME))
    p.add_argument("--scenes", type=int, default=SamRecipe.scenes)
    p.add_argument("--steps", type=int, default=SamRecipe.steps)
    p.add_argument("--threads", type=int, default=1,
                   help="torch threads (the shipped build used 1: on cores shared with another job, two threads "
                        "spent most of their time waiting for each other; the weights depend on this number)")
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    out = build_sam_standin(a.out, SamRecipe(scenes=a.scenes, steps=a.steps))
    print(json.dumps(json.loads((out / "manifest.json").read_text())["metrics"], indent=1), "->", out)
    return 0


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
