"""Checks for notebook 04's exercises (CLIP and SAM by hand; the contract of :mod:`coursekit.exercise_base`):
zero-shot probabilities and the prompt ensemble against PyTorch's ``F.normalize``; mask IoU against scikit-learn's
``jaccard_score``; a prompt set whose gain on validation must beat the noise (a paired bootstrap interval of the
accuracy gain, ``scipy.stats.bootstrap``, above 0); SAM's refinement with a negative click, pixel for pixel against
segment-anything's ``SamPredictor`` on the course's stand-in SAM.

>>> def prompt_ensemble(text_features):
...     ...  # your code here
>>> check_prompt_ensemble(prompt_ensemble)  # doctest: +ELLIPSIS
… prompt_ensemble: not attempted yet — hint: divide each prompt's embedding by its length ...
False
"""
from __future__ import annotations

import copy
import functools
from typing import Any, Callable

import numpy as np
import torch
import torch.nn.functional as F

from . import exercise_base
from .exercise_base import (ExerciseError, NotAttempted, as_array, blank, call, check_cases, close, correct, exercise,
                            first_match, torch_sandbox, wrong)

__all__ = ["check_zero_shot", "check_mask_iou", "check_prompt_ensemble", "check_prompt_gain", "bootstrap_gain",
           "check_sam_refinement", "check_box_refinement", "refinement_cases", "ExerciseError"]


def _unit(x: np.ndarray, axis: int = -1) -> np.ndarray:
    return x / np.linalg.norm(x, axis=axis, keepdims=True)


def _softmax(z: np.ndarray, axis: int = -1) -> np.ndarray:
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _rounded(a: np.ndarray) -> list:
    return np.round(a, 4).tolist()


_ZS_HINT = (
    "normalise each image and each text embedding to length 1 (x / ||x||, along the last axis), take the "
    "cosine similarities image @ text.T (N, C), multiply by logit_scale, and softmax over the classes (axis 1)."
)


def _zero_shot_reference(image_features, text_features, logit_scale):
    img = F.normalize(torch.as_tensor(image_features, dtype=torch.float64), dim=-1)
    txt = F.normalize(torch.as_tensor(text_features, dtype=torch.float64), dim=-1)
    return torch.softmax(float(logit_scale) * img @ txt.T, dim=-1).numpy()


def _zero_shot_cases():
    rng = np.random.default_rng(7)
    return [
        ("3 images, 4 classes, embeddings of length 8 (not normalised), logit_scale 5", rng.normal(size=(3, 8)) * 2,
         rng.normal(size=(4, 8)) * 0.5, 5.0),
        ("1 image, 2 classes, logit_scale 3", rng.normal(size=(1, 5)), rng.normal(size=(2, 5)) * 4, 3.0),
        ("5 images, 3 classes, logit_scale 1 (soft probabilities)", rng.normal(size=(5, 6)), rng.normal(size=(3, 6)),
         1.0),
    ]


_ZS_VARIANTS = [
        (lambda i, t, s: _softmax(s * i @ t.T),
         "normalise both embeddings first: CLIP compares *directions* (cosine similarity), so divide each row by "
         "its length before the dot product."),
        (lambda i, t, s: _softmax(s * _unit(i) @ t.T),
         "normalise the text embeddings too, not only the images' (each class row divided by its length)."),
        (lambda i, t, s: _softmax(s * i @ _unit(t).T),
         "normalise the image embeddings too, not only the texts' (each image row divided by its length)."),
        (lambda i, t, s: _softmax(_unit(i) @ _unit(t).T),
         "multiply the cosine similarities by logit_scale before the softmax: similarities in [-1, 1] give "
         "almost uniform probabilities; the learnt temperature (about 100 for CLIP) sharpens them."),
        (lambda i, t, s: s * _unit(i) @ _unit(t).T,
         "these are the logits; return probabilities: a softmax over the classes (each row sums to 1)."),
        (lambda i, t, s: _softmax(s * _unit(i) @ _unit(t).T, axis=0),
         "softmax over the *classes* (axis 1, each image's row sums to 1), not over the images (axis 0)."),
]


@exercise("zero_shot", _ZS_HINT)
def check_zero_shot(fn: Callable) -> bool:
    """Check ``fn(image_features, text_features, logit_scale) -> (N, C)`` CLIP zero-shot probabilities."""
    cases = [(what, (img, txt, scale)) for what, img, txt, scale in _zero_shot_cases()]
    n = check_cases(fn, cases, name="zero_shot", hint=_ZS_HINT, reference=_zero_shot_reference, convert=as_array,
                    same=lambda a, b: close(a, b, 1e-5, 1e-5), variants=_ZS_VARIANTS, show=_rounded,
                    shape_hint="one row per image, one column per class: image @ text.T")
    return correct("zero-shot probabilities match PyTorch (normalise, cosine similarity x logit_scale, "
                   f"softmax over the classes) on all {n} cases.")


_MASK_HINT = ("IoU of two masks = the number of pixels in both (a & b) divided by the number of pixels in "
              "either (a | b); if both masks are empty there is nothing to compare: return 0.")


def _mask_cases():
    a = np.zeros((6, 8), bool)
    a[1:4, 1:5] = True  # 12 pixels
    b = np.zeros((6, 8), bool)
    b[2:5, 3:8] = True  # 15 pixels, 4 shared with a (every wrong formula gives another number)
    inner = np.zeros((6, 8), bool)
    inner[2:3, 2:4] = True  # inside a
    far = np.zeros((6, 8), bool)
    far[5:6, 7:8] = True
    rng = np.random.default_rng(3)
    r1, r2 = rng.random((32, 48)) > 0.5, rng.random((32, 48)) > 0.3
    return [("two overlapping rectangles", a, b), ("a mask inside the other", a, inner),
            ("disjoint masks", a, far), ("identical masks", b, b.copy()),
            ("an empty prediction", a, np.zeros_like(a)), ("two random 32x48 masks", r1, r2)]


@exercise("mask_iou", _MASK_HINT)
def check_mask_iou(fn: Callable) -> bool:
    """Check ``fn(mask_a, mask_b) -> float``, bool masks' IoU (0 when both empty), against ``jaccard_score``."""
    from sklearn.metrics import jaccard_score

    ratio = lambda num, den: num / den if den else 0.0  # noqa: E731
    variants = [
        (lambda a, b: ratio((a & b).sum(), a.sum()),
         "you divided by the first mask's area: the union (a | b) counts the pixels of *either* mask."),
        (lambda a, b: ratio((a & b).sum(), b.sum()),
         "you divided by the second mask's area: the union (a | b) counts the pixels of *either* mask."),
        (lambda a, b: ratio((a & b).sum(), a.sum() + b.sum()),
         "the sum of the areas counts the shared pixels twice: use the union (a | b), or a + b - (a & b)."),
        (lambda a, b: ratio(2 * (a & b).sum(), a.sum() + b.sum()),
         "that is the Dice coefficient (2|a∩b| / (|a| + |b|)), not IoU: divide the intersection by the union."),
    ]
    n = check_cases(fn, [(what, (a, b)) for what, a, b in _mask_cases()], name="mask_iou", hint=_MASK_HINT,
                    same=lambda x, y: close(x, y, 1e-9), show=lambda v: f"{v:.6g}", variants=variants,
                    reference=lambda a, b: float(jaccard_score(b.ravel(), a.ravel(), zero_division=0.0)),
                    source="   (sklearn.metrics.jaccard_score)")
    return correct(f"mask_iou matches scikit-learn's jaccard_score on all {n} cases (an empty mask included).")


_ENS_HINT = ("divide each prompt's embedding by its length (text_features / ||text_features|| along the last "
             "axis), average over the templates (axis 1), and divide the mean by its length again: one unit "
             "vector per class, shape (C, D).")


def _ensemble_reference(text_features: np.ndarray) -> np.ndarray:
    t = F.normalize(torch.as_tensor(text_features, dtype=torch.float64), dim=-1)
    return F.normalize(t.mean(dim=1), dim=-1).numpy()


def _ensemble_cases() -> list[tuple[str, np.ndarray]]:
    rng = np.random.default_rng(11)

    def feats(c, t, d):  # prompts of one class point roughly one way; their lengths differ a lot (as CLIP's do)
        centre = rng.normal(size=(c, 1, d))
        return (centre + 0.8 * rng.normal(size=(c, t, d))) * rng.uniform(0.3, 6.0, size=(c, t, 1))

    return [("3 classes x 4 templates x 8 dimensions (not normalised)", feats(3, 4, 8)),
            ("4 classes x 4 templates x 6 dimensions (as many templates as classes)", feats(4, 4, 6)),
            ("2 classes x 1 template x 5 dimensions (a single prompt)", feats(2, 1, 5))]


_ENS_VARIANTS = [
        (lambda t: _unit(t.mean(axis=1)),
         "normalise each prompt's embedding *before* averaging: CLIP's text embeddings have different lengths, "
         "and a raw mean lets the longest prompt outvote the others."),
        (lambda t: _unit(t).mean(axis=1),
         "normalise the mean again: the mean of unit vectors is shorter than 1 (the more the templates disagree, "
         "the shorter), so its class would get smaller logits. (Averaging the per-template *logits* is the same "
         "mistake: it equals this un-normalised mean.)"),
        (lambda t: t.mean(axis=1),
         "normalise twice: each prompt's embedding before averaging, and the mean after (unit vectors, axis -1)."),
        (lambda t: _unit(_unit(t).mean(axis=0)),
         "average over the templates (axis 1: one vector per class), not over the classes (axis 0)."),
        (lambda t: _unit(_unit(t, axis=1).mean(axis=1)),
         "normalise along the embedding axis (the last one, D), not along the templates."),
        (lambda t: _unit(t)[:, 0],
         "use every template: average the normalised embeddings over axis 1, not only the first template's."),
]


@exercise("prompt_ensemble", _ENS_HINT)
def check_prompt_ensemble(fn: Callable) -> bool:
    """Check ``fn(text_features (C, T, D)) -> (C, D)``: normalise, average templates, normalise."""
    n = check_cases(fn, [(what, (feats,)) for what, feats in _ensemble_cases()], name="prompt_ensemble",
                    hint=_ENS_HINT, reference=_ensemble_reference, convert=as_array, variants=_ENS_VARIANTS,
                    same=lambda a, b: close(a, b, 1e-6, 1e-5), show=_rounded,
                    shape_hint="one row per class: average over the templates (axis 1) of the (C, T, D) input.")
    return correct("prompt ensemble matches PyTorch (normalise each prompt, average over the templates, "
                   f"normalise again) on all {n} cases.")


_GAIN_HINT = ("write a few templates with a '{}' where the class name goes, e.g. 'a close-up photo of a {}.': "
              "describe how *these* photos look; the check then asks whether the gain on validation is larger "
              "than its noise.")


def _check_templates(templates, name: str, hint: str) -> None:
    """A blank answer is "not attempted"; otherwise a list of strings with exactly one ``{}`` each."""
    if blank(templates) or (isinstance(templates, (list, tuple)) and not templates):
        raise NotAttempted
    if isinstance(templates, str) or not isinstance(templates, (list, tuple)):
        raise ExerciseError(f"{name}: give a list of template strings, e.g. ['a photo of a {{}}.'], not "
                            f"{type(templates).__name__}")
    for t in templates:
        if not isinstance(t, str) or t.count("{}") != 1:
            raise ExerciseError(f"{name}: template {t!r} must be a string with exactly one '{{}}' (where the "
                                f"class name goes). hint: {hint}")


def bootstrap_gain(mine, baseline, n_resamples: int = 2000, confidence: float = 0.95,
                   seed: int = 0) -> tuple[float, float, float]:
    """``(gain, low, high)``: the accuracy gain of ``mine`` over ``baseline`` (per-image bools) and its paired
    percentile bootstrap interval (``scipy.stats.bootstrap``, seeded).

    >>> bootstrap_gain([True, True, False], [True, True, False])
    (0.0, 0.0, 0.0)
    """
    from scipy.stats import bootstrap

    a, b = np.asarray(mine, bool), np.asarray(baseline, bool)
    if a.shape != b.shape or a.ndim != 1 or not len(a):
        raise ValueError(f"need two per-image bool arrays of one length; got shapes {a.shape} and {b.shape}")
    gain = float(a.mean() - b.mean())
    if (a == b).all():  # no image changed: the interval is exactly [0, 0] (scipy calls the sample degenerate)
        return gain, 0.0, 0.0
    res = bootstrap((a.astype(float), b.astype(float)), lambda x, y, axis: x.mean(axis) - y.mean(axis),
                    paired=True, vectorized=True, n_resamples=n_resamples, confidence_level=confidence,
                    method="percentile", random_state=np.random.default_rng(seed))
    return gain, float(res.confidence_interval.low), float(res.confidence_interval.high)


@exercise("prompt_gain", _GAIN_HINT)
def check_prompt_gain(templates, correct: Callable[[list[str]], Any], baseline_correct, n_resamples: int = 2000,
                      confidence: float = 0.95) -> bool:
    """Check ``templates``: the bootstrap interval of their validation gain over ``baseline_correct`` is above 0."""
    name = "prompt_gain"
    _check_templates(templates, name, _GAIN_HINT)
    base = np.asarray(baseline_correct, bool)
    mine = np.asarray(correct(list(templates)), bool)
    gain, low, high = bootstrap_gain(mine, base, n_resamples=n_resamples, confidence=confidence)
    what = f"your {len(templates)} template(s) on the {len(base)} validation images"
    interval = (f"{gain:+.3f} (accuracy {mine.mean():.3f} vs {base.mean():.3f}), {confidence:.0%} interval "
                f"[{low:+.3f}, {high:+.3f}]")
    if low <= 0:
        raise wrong(name, what, f"a gain whose {confidence:.0%} bootstrap interval lies above 0", interval,
                    f"the gain is within the noise: only {int((mine != base).sum())} of {len(base)} images changed "
                    "their answer. "
                    "A gain that resampling the same images can erase is not a gain; keep the default "
                    "prompt, or find templates that describe the photos better (or more validation images).")
    return exercise_base.correct(f"{what}: gain {interval}, above the noise.")


_SAM_HINT = ("masks, scores, logits = predictor.predict(point_coords=np.array([positive_xy]), point_labels="
             "np.array([1]), multimask_output=True); best = scores.argmax(); then predictor.predict(point_coords="
             "np.array([positive_xy, negative_xy]), point_labels=np.array([1, 0]), mask_input=logits[best][None], "
             "multimask_output=False) and return its one mask, masks[0].")
_BOX_HINT = ("masks, _, logits = predictor.predict(box=box, multimask_output=False); then predictor.predict(box=box, "
             "point_coords=np.array([negative_xy]), point_labels=np.array([0]), mask_input=logits, "
             "multimask_output=False) and return masks[0].")


def _refine_variant(binary=False, negative_label=0, pick="best", first_multimask=True, use_mask=True,
                    second_multimask=False, keep_positive=True) -> Callable:
    def refine(predictor, positive_xy, negative_xy):
        masks, scores, logits = predictor.predict(point_coords=np.array([positive_xy], float),
                                                  point_labels=np.array([1]), multimask_output=first_multimask)
        prev = logits[int(np.argmax(scores)) if pick == "best" else 0][None]
        prev = (prev > 0).astype(np.float32) if binary else prev
        pts = [positive_xy, negative_xy] if keep_positive else [negative_xy]
        labels = [1, negative_label] if keep_positive else [negative_label]
        masks, scores, _ = predictor.predict(point_coords=np.array(pts, float), point_labels=np.array(labels),
                                             multimask_output=second_multimask,
                                             **({"mask_input": prev} if use_mask else {}))
        return masks[int(np.argmax(scores))]
    return refine


def _box_variant(binary=False, negative_label=0, use_mask=True, keep_box=True, xywh=False) -> Callable:
    def refine(predictor, box, negative_xy):
        b = np.asarray(box, float)
        b = np.r_[b[:2], b[2:] - b[:2]] if xywh else b
        _, _, logits = predictor.predict(box=b, multimask_output=False)
        prev = (logits > 0).astype(np.float32) if binary else logits
        masks, _, _ = predictor.predict(box=b if keep_box else None, point_coords=np.array([negative_xy], float),
                                        point_labels=np.array([negative_label]), multimask_output=False,
                                        **({"mask_input": prev} if use_mask else {}))
        return masks[0]
    return refine


_SAM_VARIANTS = [
    (dict(binary=True), "mask_input takes the previous call's low-resolution *logits* (logits[best][None]), "
                        "not a 0/1 mask."),
    (dict(negative_label=1), "a negative click has label 0: with label 1 SAM adds the region you meant to remove."),
    (dict(pick="first"), "feed back the logits of the best-scored mask, logits[np.argmax(scores)], not logits[0]."),
    (dict(first_multimask=False), "one click is ambiguous: ask the first call for 3 masks (multimask_output=True)."),
    (dict(use_mask=False), "pass the previous mask back: mask_input=logits[best][None]."),
    (dict(second_multimask=True), "the refining call takes multimask_output=False: two clicks and a mask are not "
                                  "ambiguous."),
    (dict(keep_positive=False), "keep the first click in the second call: point_coords [positive, negative], "
                                "point_labels [1, 0]."),
]
_BOX_VARIANTS = [
    (dict(binary=True), "mask_input takes the box call's low-resolution *logits* (its third output), not a 0/1 mask."),
    (dict(negative_label=1), "a negative click has label 0: with label 1 SAM adds the region you meant to remove."),
    (dict(use_mask=False), "pass the box call's logits back: mask_input=logits (already (1, 256, 256) with one "
                           "output)."),
    (dict(keep_box=False), "keep the box in the second call: box=box together with the negative click."),
    (dict(xywh=True), "SAM's box is (x0, y0, x1, y1) in pixels, not (x, y, width, height)."),
]
#: kind -> (check name, hint, variant factory, its mistakes, the prompt's key, IoU gain a case must show)
_KINDS = {"positive": ("sam_refinement", _SAM_HINT, _refine_variant, _SAM_VARIANTS, 0.02),
          "box": ("box_refinement", _BOX_HINT, _box_variant, _BOX_VARIANTS, 0.0)}


@functools.lru_cache(maxsize=1)
def _standin_predictor():
    from segment_anything import SamPredictor

    from .models.sam import standin_sam

    return SamPredictor(standin_sam().model.to("cpu").eval())


def refinement_cases(n: int = 3, scenes: int = 6) -> list[dict]:
    """The parts (cached dicts) where refining a click matters and every click mistake shows."""
    return [dict(c) for c in _cases("positive", n, scenes)]


def _box_cases() -> tuple[dict, ...]:
    return _cases("box", 3, 8)


@functools.lru_cache(maxsize=3)
def _cases(kind: str, n: int, scenes: int) -> tuple[dict, ...]:
    """Up to ``n`` test-scene parts where refining ``kind`` gains IoU and every mistake shows."""
    from .data.detection import render_detection_scene
    from .models.sam import interior_point, mask_iou

    _, _, variant, variants, gain = _KINDS[kind]
    predictor, out = _standin_predictor(), []
    with torch_sandbox(), torch.inference_mode():
        for i in range(scenes):
            scene, labels = render_detection_scene(i, "test", seed=0)
            predictor.set_image(scene.image)
            for lab in labels:
                gt = scene.objects[lab["object"]].mask
                if kind == "box":
                    prompt = np.asarray(lab["box_xyxy"], float)
                    first = predictor.predict(box=prompt, multimask_output=False)[0][0]
                else:
                    prompt = interior_point(gt)
                    masks, scores, _ = predictor.predict(point_coords=np.array([prompt], float),
                                                         point_labels=np.array([1]), multimask_output=True)
                    first = masks[int(np.argmax(scores))]
                if (first & ~gt).sum() < 20:
                    continue
                neg = interior_point(first & ~gt)
                ref = variant()(predictor, prompt, neg)
                if mask_iou(ref, gt) > mask_iou(first, gt) + gain and all(
                        (variant(**kw)(predictor, prompt, neg) != ref).any() for kw, _ in variants):
                    where = f"box {prompt.round(1).tolist()}" if kind == "box" else f"click {prompt}"
                    out.append({"image": scene.image, "truth": gt, kind: prompt, "negative": neg, "reference": ref,
                                "what": f"test scene {i}, the {lab['class']}: {where}, negative click {neg}"})
                if len(out) == n:
                    return tuple(out)
    return tuple(out)


def _sam_crash_hint(e: Exception) -> str | None:
    text = str(e)
    if "mask_input" in text or "size of tensor" in text or "shape" in text and "256" in text:
        return ("mask_input must be the low-resolution logits of one mask, logits[best][None] (the third output of "
                "predictor.predict; shape (1, 256, 256) for the real SAM), not the full-size bool mask.")
    if "point_labels" in text or "point_coords" in text:
        return "point_coords is an (N, 2) array of (x, y) pixels and point_labels an (N,) array of 1s and 0s."
    return None


def _check_refinement(fn: Callable, kind: str) -> list[float]:
    """``fn``'s mask against the reference refinement, pixel for pixel; returns the IoUs."""
    from .models.sam import mask_iou

    name, hint, variant, variants, _ = _KINDS[kind]
    predictor, cases, ious = _standin_predictor(), _cases(kind, 3, 8 if kind == "box" else 6), []
    if not cases:
        raise RuntimeError(f"no test-scene part shows every {name} mistake on this stand-in SAM")
    for i, c in enumerate(cases):
        with torch_sandbox(), torch.inference_mode():
            predictor.set_image(c["image"])
            out = call(fn, (predictor, copy.copy(c[kind]), c["negative"]), name=name, case=c["what"], first=i == 0,
                       hint=hint, error_hint=_sam_crash_hint)
            wrongs = [(variant(**kw)(predictor, c[kind], c["negative"]), h) for kw, h in variants]
        if isinstance(out, tuple):
            raise ExerciseError(f"{name}: for {c['what']} you returned a tuple of {len(out)}; return the one "
                                f"refined mask (masks[0] of the second call), a bool (H, W) array")
        got, ref = np.asarray(out), c["reference"]
        got = got[0] if got.ndim == 3 and got.shape[0] == 1 else got
        if got.shape != ref.shape:
            raise wrong(name, c["what"], f"one bool mask of shape {ref.shape}", f"shape {got.shape}",
                        "the refining call's multimask_output=False gives one mask: return masks[0].")
        got = got.astype(bool) if got.dtype == bool else got > 0
        if (got != ref).any():
            iou_ref, iou_got = mask_iou(ref, c["truth"]), mask_iou(got, c["truth"])
            raise wrong(name, c["what"], f"the reference refinement (IoU with the part {iou_ref:.3f})",
                        f"a mask {mask_iou(got, ref):.3f} IoU from it (IoU with the part {iou_got:.3f})",
                        first_match(got, wrongs, hint, same=np.array_equal))
        ious.append(mask_iou(ref, c["truth"]))
    return ious


@exercise("sam_refinement", _SAM_HINT)
def check_sam_refinement(fn: Callable) -> bool:
    """Check ``fn(predictor, positive_xy, negative_xy) -> mask``: 3 masks, then refine with both clicks."""
    ious = _check_refinement(fn, "positive")
    return correct(f"your refinement matches segment-anything's reference calls pixel for pixel on {len(ious)} parts "
                   f"(the stand-in SAM; IoU with the part after refining: {', '.join(f'{v:.2f}' for v in ious)}).")


@exercise("box_refinement", _BOX_HINT)
def check_box_refinement(fn: Callable) -> bool:
    """Check ``fn(predictor, box_xyxy, negative_xy) -> mask``: the box, then the box and a negative click."""
    ious = _check_refinement(fn, "box")
    return correct(f"your box + negative click matches segment-anything's reference calls pixel for pixel on "
                   f"{len(ious)} parts (the stand-in SAM).")
