"""Train the course's tiny SAM stand-in (Module 4), shipped in ``datasets/sam_standin``, and measure it.

Build-time only: the notebooks load the shipped weights (``coursekit.models.sam.sam_model``, which falls
back to ``standin_sam`` offline) and drive it with segment-anything's own ``SamPredictor``; this script is
the recipe that made the weights (SAM's recipe in miniature: random box and point prompts from the
ground-truth mask, one round of interactive refinement, best-of-3 focal + dice loss, the IoU head trained
with MSE) on part types that are *not* in the detection dataset (:data:`TRAIN_PARTS`), and
:func:`evaluate_sam`, the measurement quoted in the stand-in's README.

    python -m tools.build_sam_standin         # from the repository root; writes datasets/sam_standin

``tests/test_sam.py`` rebuilds a tiny recipe twice and checks the files are byte-identical.
"""
from __future__ import annotations

import json
import math
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from coursekit.assets import sha256_of
from coursekit.models.registry import count_parameters
from coursekit.models.sam import (STANDIN_NAME, TinySamArch, box_mask, grabcut_box, interior_point,
                                  mask_iou, predict_box, predict_points, tiny_sam)

__all__ = ["TRAIN_PARTS", "SamRecipe", "evaluate_sam", "sam_training_set", "train_tiny_sam", "build_sam_standin",
           "mask_iou_matrix", "main"]


def mask_iou_matrix(a, b) -> np.ndarray:
    """Pairwise IoU of two sets of bool masks, ``(N, H, W)`` x ``(M, H, W)`` -> ``(N, M)`` (like ``box_iou``)."""
    a, b = np.asarray(a), np.asarray(b)
    if a.dtype != bool or b.dtype != bool:
        raise TypeError(f"masks must be bool arrays; got dtypes {a.dtype} and {b.dtype} (threshold them first)")
    if a.ndim != 3 or b.ndim != 3 or a.shape[1:] != b.shape[1:]:
        raise ValueError(f"need (N, H, W) and (M, H, W) masks of one size; got {a.shape} and {b.shape}")
    fa = a.reshape(len(a), -1).astype(np.float32)
    fb = b.reshape(len(b), -1).astype(np.float32)
    inter = fa @ fb.T
    union = fa.sum(1)[:, None] + fb.sum(1)[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1), 1.0).astype(np.float64)

def _low_res(arch: TinySamArch) -> int:
    """The side of the decoder's low-res masks: 4 x the image embedding's side (256 for SAM at 1024)."""
    return 4 * (arch.img_size // arch.patch_size)


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

    from coursekit.data.detection import render_detection_scene

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
    from coursekit.data.detection import DETECTION_DOMAINS, OBJECT_SIZE, PARTS_PER_IMAGE
    from coursekit.scenes import SceneGenerator

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

    from coursekit.data.detection import render_detection_scene

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
    from coursekit.data.shipped import building_folder

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
            "size": (tmp / weights).stat().st_size, "params": count_parameters(sam, trainable_only=False),
            "arch": {**asdict(recipe.arch), "global_attn_indexes": list(recipe.arch.global_attn_indexes)},
            "recipe": {**{k: v for k, v in asdict(recipe).items() if k != "arch"}, "parts": list(recipe.parts)},
            "data": report, "train_log": log, "metrics": metrics,
            "seconds": {"data": round(t_data, 1), "train": round(t_train, 1), "total": round(time.time() - t0, 1)},
            "threads": torch.get_num_threads(), "torch": torch.__version__, "licence": "MIT",
            "made_by": "tools.build_sam_standin.build_sam_standin (python -m tools.build_sam_standin)",
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
`TwoWayTransformer`) and trained by `tools.build_sam_standin.build_sam_standin`. Module 4 uses it *only* when
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

    python -m tools.build_sam_standin            # writes datasets/{STANDIN_NAME}
"""


def main(argv: list[str] | None = None) -> int:  # pragma: no cover - the one-off build
    import argparse

    p = argparse.ArgumentParser(description="Train the course's tiny SAM stand-in (Module 4).")
    p.add_argument("--out", default=str(Path(__file__).resolve().parents[1] / "datasets" / STANDIN_NAME))
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
