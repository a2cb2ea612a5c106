"""Segment Anything (SAM) for Module 4: the real checkpoints, or the course's tiny trained stand-in.

>>> SAM = sam_model(ck.settings())                                 # doctest: +SKIP
>>> predictor = SamPredictor(SAM.model); predictor.set_image(image_rgb)  # doctest: +SKIP
>>> mask, score = predict_box(predictor, (40, 52, 118, 130))       # doctest: +SKIP
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
import torch

from ..assets import ASSETS, fetch
from ..config import settings as _settings
from ..standins import announce_standin, real_or_standin
from .registry import Loaded, count_parameters, shipped_standin

__all__ = ["SAM_KINDS", "STANDIN_NAME", "TinySamArch", "sam_model", "load_sam_checkpoint", "tiny_sam", "standin_sam",
           "mask_iou", "box_mask", "interior_point", "random_point", "predict_box", "predict_points",
           "time_predictor", "grabcut_box", "amg_thresholds", "STANDIN_AMG_THRESHOLDS", "sync"]


SAM_KINDS: dict[str, str] = {"vit_b": "sam-vit-b", "vit_l": "sam-vit-l", "vit_h": "sam-vit-h"}
"""segment-anything's model type (``sam_model_registry`` key) -> asset name in :data:`coursekit.assets.ASSETS`."""
_REAL_PARAMS = {"vit_b": "93.7M", "vit_l": "312M", "vit_h": "641M"}  # whole model (encoder 89.7M / 308M / 636M)

STANDIN_NAME = "sam_standin"

#: ``SamAutomaticMaskGenerator`` thresholds for the stand-in only: its less confident masks all fall below SAM's
#: defaults (0.88 / 0.95, tuned for the real models; its README measures the recall of both settings).
STANDIN_AMG_THRESHOLDS: dict[str, float] = {"pred_iou_thresh": 0.7, "stability_score_thresh": 0.8}


def amg_thresholds(is_standin: bool) -> dict[str, float]:
    """``SamAutomaticMaskGenerator``'s keyword arguments: lowered thresholds for the stand-in, ``{}`` (SAM's own
    defaults) for the real weights.

    >>> amg_thresholds(False), amg_thresholds(True)["pred_iou_thresh"]
    ({}, 0.7)
    """
    return dict(STANDIN_AMG_THRESHOLDS) if is_standin else {}


def load_sam_checkpoint(path: str | Path, kind: str = "vit_b"):
    """A real SAM of ``kind`` (``vit_b``, ``vit_l``, ``vit_h``) with the weights in ``path``."""
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


def sam_model(settings=None, kind: str = "vit_b", progress: bool = True) -> Loaded:
    """The SAM a notebook uses, as a :class:`~coursekit.models.registry.Loaded` (on the run's device);
    ``kind="standin"`` asks for the course's stand-in."""
    S = settings or _settings()
    if kind != "standin" and kind not in SAM_KINDS:
        raise ValueError(f"unknown SAM kind {kind!r}; valid: {', '.join(SAM_KINDS)}, standin")

    standin = partial(standin_sam, device=S.device)
    if kind == "standin":
        loaded, banner = standin(), _banner("vit_b")
        announce_standin(why="kind='standin' was asked for", replaces=banner["replaces"],
                         by=banner["by"](loaded), real_result=banner["real_result"])
        return loaded
    asset = ASSETS[SAM_KINDS[kind]]

    def real():
        path = fetch(asset, home=S.home, progress=progress, offline=S.offline)
        sam = load_sam_checkpoint(path, kind).to(S.device)
        return Loaded(sam, False, f"SAM {kind}", weights=str(path),
                      info={"kind": kind, "asset": asset.name, "weights": str(path),
                            "img_size": sam.image_encoder.img_size,
                            "params": count_parameters(sam, trainable_only=False)})

    return real_or_standin(S, real, standin, what=f"the SAM {kind} checkpoint", **_banner(kind))


def _banner(kind: str) -> dict:
    def by(loaded) -> str:
        manifest = loaded.info["manifest"]
        a, m = manifest["arch"], manifest.get("metrics", {}).get("test", {})
        measured = (f"; on unseen part types it reaches box-prompt mask IoU {m['box_iou']:.2f} "
                    f"(the box itself as the mask: {m['box_as_mask_iou']:.2f})") if "box_iou" in m else ""
        return (f"a tiny SAM (the same classes, ViT {a['embed_dim']}x{a['depth']}, {a['img_size']} px, "
                f"{manifest['params'] / 1e6:.1f}M parameters) trained by the course on generated parts{measured}")

    return dict(replaces=f"Segment Anything {kind.replace('_', '-').upper()} (Meta, {_REAL_PARAMS[kind]} parameters "
                         "at 1024 px)", by=by,
                real_result="SAM segments objects of any kind zero-shot; see 'What the real run shows' below")


@dataclass(frozen=True)
class TinySamArch:
    """The stand-in's architecture: segment-anything's classes at a small width and input size."""

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


def tiny_sam(arch: TinySamArch = TinySamArch()):
    """A ``segment_anything.modeling.Sam`` of the given (small) size, randomly initialised, in eval mode."""
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
        pixel_mean=[123.675, 116.28, 103.53], pixel_std=[58.395, 57.12, 57.375])
    if arch.pe_scale != 1.0:  # PositionEmbeddingRandom(scale=...): the frequencies of the prompts' positional code
        with torch.no_grad():
            sam.prompt_encoder.pe_layer.positional_encoding_gaussian_matrix.mul_(arch.pe_scale)
    return sam.eval()


def standin_sam(root=None, device: str = "cpu") -> Loaded:
    """The course's tiny SAM on ``device`` as a :class:`~coursekit.models.registry.Loaded` (``info["manifest"]``:
    its manifest, against which the weights' sha256 is checked)."""
    manifest, path = shipped_standin(STANDIN_NAME, root, "python -m tools.build_sam_standin")
    arch = manifest["arch"]
    sam = tiny_sam(TinySamArch(**{**arch, "global_attn_indexes": tuple(arch["global_attn_indexes"])}))
    sam.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
    return Loaded(sam.to(device).eval(), True, "coursekit tiny SAM (stand-in)", weights=str(path), info={
        "kind": "standin", "img_size": sam.image_encoder.img_size, "params": count_parameters(sam, trainable_only=False),
        "manifest": manifest})


def _bool_masks(a, name: str, one: str = "") -> np.ndarray:
    """``a`` as a bool mask array; ``one``: the function that needs a single non-empty (H, W) mask."""
    a = np.asarray(a)
    if a.dtype != bool:
        raise TypeError(f"{name} must be a bool mask array; got dtype {a.dtype} (threshold it first, e.g. m > 0)")
    if a.ndim < 2:
        raise ValueError(f"{name} must be (H, W) or (..., H, W); got shape {a.shape}")
    if one and (a.ndim != 2 or not a.any()):
        raise ValueError(f"{one} needs a non-empty (H, W) mask")
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


def _box(box_xyxy) -> np.ndarray:
    """A box as float ``(x0, y0, x1, y1)`` pixels (x1/y1 exclusive), refused with a clear error if it is none."""
    try:
        box = np.asarray(box_xyxy, dtype=np.float64)
    except (TypeError, ValueError):
        box = np.full(1, np.nan)
    if box.shape != (4,) or not np.isfinite(box).all():
        raise ValueError(f"box must be 4 numbers (x0, y0, x1, y1) in pixels, all 4 finite; got {box_xyxy!r}")
    if box[2] <= box[0] or box[3] <= box[1]:
        raise ValueError(f"empty box {tuple(box.tolist())}: need x1 > x0 and y1 > y0 (pixels, x1/y1 exclusive)")
    return box


def _check_box(box_xyxy, shape: tuple[int, int]) -> tuple[int, int, int, int]:
    """A pixel box -> int ``(x0, y0, x1, y1)`` clipped to the image (x1/y1 exclusive); clear errors otherwise."""
    x0, y0, x1, y1 = box = _box(box_xyxy)
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
    """OpenCV GrabCut initialised with a box: the classical segmenter behind SAM's box-in, mask-out interface."""
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
    """One mask for a box prompt: ``(bool (H, W) mask, predicted IoU)`` from a ``SamPredictor`` with its image set."""
    masks, scores, _ = predictor.predict(box=_box(box_xyxy), multimask_output=False)
    return masks[0].astype(bool), float(scores[0])


def predict_points(predictor, points, labels, multimask: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Masks for point prompts: ``(bool (K, H, W) masks, (K,) predicted IoUs)``, K = 3 with ``multimask``, else 1."""
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

    m = _bool_masks(mask, "mask", one="interior_point")
    d = cv2.distanceTransform(np.pad(m, 1).astype(np.uint8), cv2.DIST_L2, 5)[1:-1, 1:-1]
    r, c = np.unravel_index(int(np.argmax(d)), d.shape)
    return int(c), int(r)


def random_point(mask, rng) -> tuple[int, int]:
    """A pixel ``(x, y)`` drawn uniformly (``rng``: a ``np.random.Generator``) among a bool mask's ``True`` ones: a
    click as a person makes it, near the border too (unlike :func:`interior_point`, the easiest click there is).

    >>> m = np.zeros((5, 5), bool); m[1:3, 2:4] = True
    >>> x, y = random_point(m, np.random.default_rng(0)); bool(m[y, x])
    True
    """
    rows, cols = np.nonzero(_bool_masks(mask, "mask", one="random_point"))
    k = int(rng.integers(len(rows)))
    return int(cols[k]), int(rows[k])


def sync(device) -> None:
    """Wait for the GPU's queued work (``torch.cuda.synchronize``) on CUDA, nothing on a CPU: CUDA calls return
    before the work is done, so read the clock only after this."""
    if str(device).startswith("cuda") and torch.cuda.is_available():
        torch.cuda.synchronize(torch.device(device))


def time_predictor(predictor, image, box_xyxy=None, repeats: int = 3) -> dict:
    """Median seconds of ``set_image`` (the image encoder, once per image) and of one box prompt (``box_xyxy``,
    default the middle half: prompt encoder + mask decoder), after a warm-up, the clock read after :func:`sync`."""
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
