"""Checks for notebook 04's exercises (CLIP and SAM by hand), in the style of :mod:`coursekit.exercises`: a blank
answer prints "not attempted" and returns ``False`` (no exception, so the notebook runs top to bottom with the
stubs); a wrong one raises :class:`ExerciseError` naming the case, the expected value, yours and the likely
mistake; a right one prints ``✓ correct`` and returns ``True``.

- :func:`check_zero_shot`, :func:`check_mask_iou` (defined in :mod:`coursekit.exercises`, re-exported here);
- :func:`check_prompt_ensemble`: normalise each prompt's text embedding, average over the templates, normalise
  again (compared with ``torch.nn.functional.normalize``; the reference open_clip pipeline is
  :func:`coursekit.models.clip.zero_shot_classifier`);
- :func:`check_prompt_gain`: a prompt set must beat the default prompt on validation by more than the noise
  (a paired bootstrap interval of the accuracy gain, ``scipy.stats.bootstrap``, must lie above 0);
- :func:`check_sam_refinement`: one click, the best of SAM's three masks, then a negative click with the
  previous low-resolution mask logits fed back through ``mask_input``; compared pixel for pixel with the
  reference calls of segment-anything's ``SamPredictor`` on the course's stand-in SAM.

>>> def prompt_ensemble(text_features):
...     ...  # your code here
>>> check_prompt_ensemble(prompt_ensemble)  # doctest: +ELLIPSIS
… prompt_ensemble: not attempted yet — hint: divide each prompt's embedding by its length ...
False
"""
from __future__ import annotations

import functools
from typing import Any, Callable

import numpy as np

from .exercises import (ExerciseError, _NotAttempted, _attempt, _blank, _call, _check_templates, _correct, _wrong, check_mask_iou,
                        check_zero_shot)

__all__ = ["check_zero_shot", "check_mask_iou", "check_prompt_ensemble", "check_prompt_gain", "bootstrap_gain",
           "check_sam_refinement", "refinement_cases", "ExerciseError"]


def _array(out: Any, name: str, case: str) -> np.ndarray:
    try:
        return np.asarray(out.detach().cpu().numpy() if hasattr(out, "detach") else out, dtype=np.float64)
    except (TypeError, ValueError):
        raise ExerciseError(f"{name}: for {case} you returned {type(out).__name__}; return an array") from None


# ---------------------------------------------------------------------------------------- the prompt ensemble

_ENS_HINT = ("divide each prompt's embedding by its length (text_features / ||text_features|| along the last "
             "axis), average over the templates (axis 1), and divide the mean by its length again: one unit "
             "vector per class, shape (C, D).")


def _unit(x: np.ndarray, axis: int = -1) -> np.ndarray:
    return x / np.linalg.norm(x, axis=axis, keepdims=True)


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and bool(np.allclose(a, b, atol=1e-6))


def _ensemble_reference(text_features: np.ndarray) -> np.ndarray:
    import torch
    import torch.nn.functional as F

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


def _ensemble_variants() -> list[tuple[Callable, str]]:
    return [
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


def check_prompt_ensemble(fn: Callable) -> bool:
    """Check ``fn(text_features) -> class_embeddings``: the CLIP paper's prompt ensemble.

    ``text_features``: the raw (not normalised) text embeddings of every prompt, shape (C classes, T templates,
    D), as ``model.encode_text`` returns them reshaped. The answer: (C, D), for each class the mean of its T
    normalised embeddings, normalised again (what ``coursekit.models.clip.zero_shot_classifier`` computes).
    Compared with PyTorch's ``F.normalize`` on 3 cases; skipping either normalisation, averaging over the wrong
    axis or normalising along it gets a specific hint.

    >>> check_prompt_ensemble(lambda t: None)  # doctest: +ELLIPSIS
    … prompt_ensemble: not attempted yet — hint: ...
    False
    """
    name = "prompt_ensemble"

    def body() -> bool:
        if _blank(fn):
            raise _NotAttempted
        for i, (what, feats) in enumerate(_ensemble_cases()):
            got = _array(_call(fn, (feats.copy(),), {}, name=name, case=what, first=i == 0, hint=_ENS_HINT), name, what)
            expected = _ensemble_reference(feats)
            hint = next((h for v, h in _ensemble_variants() if _same(got, v(feats))), None)
            if got.shape != expected.shape:
                raise _wrong(name, what, f"an array of shape {expected.shape} (classes x embedding)",
                             f"shape {got.shape}",
                             hint or "one row per class: average over the templates (axis 1) of the (C, T, D) input.")
            if not _same(got, expected):
                hint = hint or _ENS_HINT
                raise _wrong(name, what, np.round(expected, 4).tolist(), np.round(got, 4).tolist(), hint)
        return _correct("prompt ensemble matches PyTorch (normalise each prompt, average over the templates, "
                        "normalise again) on all 3 cases.")

    return _attempt(name, _ENS_HINT, body)


# ------------------------------------------------------------------------ a prompt set that beats the noise

_GAIN_HINT = ("write a few templates with a '{}' where the class name goes, e.g. 'a close-up photo of a {}.': "
              "describe how *these* photos look; the check then asks whether the gain on validation is larger "
              "than its noise.")


def bootstrap_gain(mine, baseline, n_resamples: int = 2000, confidence: float = 0.95,
                   seed: int = 0) -> tuple[float, float, float]:
    """``(gain, low, high)``: the accuracy gain of ``mine`` over ``baseline`` (two per-image bool arrays of one
    validation set: was each image classified right?) and its paired percentile bootstrap interval
    (``scipy.stats.bootstrap(..., paired=True)``, the images resampled with ``seed``).

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


def check_prompt_gain(templates, correct: Callable[[list[str]], Any], baseline_correct, n_resamples: int = 2000,
                      confidence: float = 0.95) -> bool:
    """Check a learner's prompt templates: their gain over the default prompt on *validation* must be above the
    noise, i.e. the paired bootstrap interval of the accuracy gain (:func:`bootstrap_gain`) must lie above 0.

    ``templates``: a list of strings with one ``{}`` each. ``correct(templates)``: the notebook's measurement, a
    per-image bool array (right or wrong, with a prompt ensemble of these templates) on the validation images;
    ``baseline_correct``: the same array for the default prompt. The test set is not involved: it reports the
    chosen prompts once, afterwards.

    >>> check_prompt_gain(None, correct=lambda t: [True], baseline_correct=[False])  # doctest: +ELLIPSIS
    … prompt_gain: not attempted yet — hint: write a few templates ...
    False
    """
    name = "prompt_gain"

    def body() -> bool:
        _check_templates(templates, name, _GAIN_HINT)
        base = np.asarray(baseline_correct, bool)
        mine = np.asarray(correct(list(templates)), bool)
        gain, low, high = bootstrap_gain(mine, base, n_resamples=n_resamples, confidence=confidence)
        what = f"your {len(templates)} template(s) on the {len(base)} validation images"
        interval = f"{gain:+.3f} (accuracy {mine.mean():.3f} vs {base.mean():.3f}), {confidence:.0%} interval " \
                   f"[{low:+.3f}, {high:+.3f}]"
        if low <= 0:
            changed = int((mine != base).sum())
            raise _wrong(name, what, f"a gain whose {confidence:.0%} bootstrap interval lies above 0", interval,
                         f"the gain is within the noise: only {changed} of {len(base)} images changed their answer. "
                         "A gain that resampling the same images can erase is not a gain; keep the default "
                         "prompt, or find templates that describe the photos better (or more validation images).")
        return _correct(f"{what}: gain {interval}, above the noise.")

    return _attempt(name, _GAIN_HINT, body)


# ------------------------------------------------------------------------------ SAM: refine with a negative click

_SAM_HINT = ("masks, scores, logits = predictor.predict(point_coords=np.array([positive_xy]), point_labels="
             "np.array([1]), multimask_output=True); best = scores.argmax(); then predictor.predict(point_coords="
             "np.array([positive_xy, negative_xy]), point_labels=np.array([1, 0]), mask_input=logits[best][None], "
             "multimask_output=False) and return its one mask, masks[0].")


def _refine_variant(binary=False, negative_label=0, pick="best", first_multimask=True, use_mask=True,
                    second_multimask=False, keep_positive=True) -> Callable:
    def refine(predictor, positive_xy, negative_xy):
        masks, scores, logits = predictor.predict(point_coords=np.array([positive_xy], float),
                                                  point_labels=np.array([1]), multimask_output=first_multimask)
        best = int(np.argmax(scores)) if pick == "best" else 0
        prev = logits[best][None]
        if binary:
            prev = (prev > 0).astype(np.float32)
        pts = [positive_xy, negative_xy] if keep_positive else [negative_xy]
        labels = [1, negative_label] if keep_positive else [negative_label]
        masks, scores, _ = predictor.predict(point_coords=np.array(pts, float), point_labels=np.array(labels),
                                             multimask_output=second_multimask,
                                             **({"mask_input": prev} if use_mask else {}))
        return masks[int(np.argmax(scores))]
    return refine


_reference_refine = _refine_variant()

_SAM_VARIANTS = [
    (dict(binary=True), "mask_input takes the previous call's low-resolution *logits* (its third output, "
                        "logits[best][None]), not a 0/1 mask: SAM was trained on its own logits."),
    (dict(negative_label=1), "a negative click has label 0 (1 = on the object, 0 = not on it): with label 1 SAM "
                             "adds the region you meant to remove."),
    (dict(pick="first"), "the first call returns 3 masks: feed back the logits of the best-scored one, "
                         "logits[np.argmax(scores)], not logits[0]."),
    (dict(first_multimask=False), "one click is ambiguous: ask the first call for 3 masks (multimask_output=True) "
                                  "and keep the best-scored one's logits."),
    (dict(use_mask=False), "pass the previous mask back: mask_input=logits[best][None]; without it SAM starts "
                           "over from the two clicks alone."),
    (dict(second_multimask=True), "the refining call takes multimask_output=False: with two clicks and a mask the "
                                  "prompt is no longer ambiguous (SAM's authors use one output there)."),
    (dict(keep_positive=False), "keep the first click in the second call: point_coords [positive, negative], "
                                "point_labels [1, 0]."),
]


class _one_thread:
    """Tiny models on a busy machine: one thread is many times faster (and the result does not depend on it)."""

    def __enter__(self):
        import torch

        self.threads = torch.get_num_threads()
        torch.set_num_threads(1)

    def __exit__(self, *exc):
        import torch

        torch.set_num_threads(self.threads)


@functools.lru_cache(maxsize=1)
def _standin_predictor():
    from segment_anything import SamPredictor

    from .models.sam import standin_sam

    return SamPredictor(standin_sam().model.to("cpu").eval())


def refinement_cases(n: int = 3, scenes: int = 6) -> list[dict]:
    """Parts of the course's test scenes where the refinement matters (cached): ``image``, ``truth`` mask,
    ``positive`` (the most interior pixel) and ``negative`` (the most interior pixel of the first mask's error
    outside the part), picked so that every mistake of :data:`_SAM_VARIANTS` gives another mask than the
    reference; ``reference``: the reference refinement's mask (the stand-in SAM, on the CPU)."""
    return [dict(c) for c in _cases(n, scenes)]


@functools.lru_cache(maxsize=2)
def _cases(n: int, scenes: int) -> tuple[dict, ...]:
    import torch

    from .data.detection import render_detection_scene
    from .models.sam import interior_point, mask_iou

    predictor, out = _standin_predictor(), []
    with _one_thread(), torch.random.fork_rng(devices=[]), torch.inference_mode():
        for i in range(scenes):
            scene, labels = render_detection_scene(i, "test", seed=0)
            predictor.set_image(scene.image)
            for lab in labels:
                gt = scene.objects[lab["object"]].mask
                pos = interior_point(gt)
                masks, scores, _ = predictor.predict(point_coords=np.array([pos], float), point_labels=np.array([1]),
                                                     multimask_output=True)
                first = masks[int(np.argmax(scores))]
                wrong = first & ~gt
                if wrong.sum() < 20:
                    continue
                neg = interior_point(wrong)
                ref = _reference_refine(predictor, pos, neg)
                if mask_iou(ref, gt) > mask_iou(first, gt) + 0.02 and all((_refine_variant(**kw)(predictor, pos, neg) != ref).any() for kw, _ in _SAM_VARIANTS):
                    out.append({"image": scene.image, "truth": gt, "positive": pos, "negative": neg, "reference": ref,
                                "what": f"test scene {i}, the {lab['class']}: click {pos}, negative click {neg}"})
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


def check_sam_refinement(fn: Callable) -> bool:
    """Check ``fn(predictor, positive_xy, negative_xy) -> mask``: SAM's interactive refinement.

    The predictor has its image set (``predictor.set_image``). The answer: click ``positive_xy`` (label 1) asking
    for 3 masks, keep the best-scored one's low-resolution logits, then click again with both points (labels 1
    and 0) and those logits as ``mask_input``, one output; return that bool (H, W) mask. Run on the course's
    stand-in SAM (CPU) on 3 parts of its test scenes and compared pixel for pixel with the reference calls; a
    0/1 mask instead of the logits, label 1 for the negative click, logits[0] instead of the best, no mask at
    all, or a multimask refining call each get a named hint.

    >>> check_sam_refinement(lambda predictor, positive_xy, negative_xy: None)  # doctest: +ELLIPSIS
    … sam_refinement: not attempted yet — hint: masks, scores, logits = predictor.predict(...
    False
    """
    import torch

    from .models.sam import mask_iou

    name = "sam_refinement"

    def body() -> bool:
        if _blank(fn):
            raise _NotAttempted
        predictor = _standin_predictor()
        cases = _cases(3, 6)
        ious = []
        for i, c in enumerate(cases):
            with _one_thread(), torch.random.fork_rng(devices=[]), torch.inference_mode():
                predictor.set_image(c["image"])
                out = _call(fn, (predictor, c["positive"], c["negative"]), {}, name=name, case=c["what"],
                            first=i == 0, hint=_SAM_HINT, error_hint=_sam_crash_hint)
                variants = [(_refine_variant(**kw)(predictor, c["positive"], c["negative"]), h) for kw, h in _SAM_VARIANTS]
            if isinstance(out, tuple):
                raise ExerciseError(f"{name}: for {c['what']} you returned a tuple of {len(out)}; return the one "
                                    f"refined mask (masks[0] of the second call), a bool (H, W) array")
            got = np.asarray(out)
            if got.ndim == 3 and got.shape[0] == 1:
                got = got[0]
            ref = c["reference"]
            if got.shape != ref.shape:
                raise _wrong(name, c["what"], f"one bool mask of shape {ref.shape}", f"shape {got.shape}",
                             "the refining call's multimask_output=False gives one mask: return masks[0].")
            got = got.astype(bool) if got.dtype == bool else got > 0
            if (got != ref).any():
                hint = next((h for v, h in variants if (got == v).all()), _SAM_HINT)
                raise _wrong(name, c["what"], f"the reference refinement (IoU with the part {mask_iou(ref, c['truth']):.3f})",
                             f"a mask {mask_iou(got, ref):.3f} IoU from it (IoU with the part {mask_iou(got, c['truth']):.3f})",
                             hint)
            ious.append((mask_iou(ref, c["truth"])))
        return _correct(f"your refinement matches segment-anything's reference calls pixel for pixel on "
                        f"{len(cases)} parts (the stand-in SAM; IoU with the part after refining: "
                        f"{', '.join(f'{v:.2f}' for v in ious)}).")

    return _attempt(name, _SAM_HINT, body)
