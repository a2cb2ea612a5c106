"""coursekit.exercises_foundation: notebook 04's checks accept a right answer, name each usual mistake, and say
"not attempted" for a blank stub without raising. The implementations here are the tests' own (the notebook
holds the learner's and the solutions)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from coursekit import exercises_foundation as X
from coursekit.exercise_base import ExerciseError


def _unit(x, axis=-1):
    return x / np.linalg.norm(x, axis=axis, keepdims=True)


# ------------------------------------------------------------------------------------------- prompt ensemble


def test_prompt_ensemble_accepts_numpy_and_torch_answers(capsys):
    assert X.check_prompt_ensemble(lambda t: _unit(_unit(t).mean(axis=1)))
    assert X.check_prompt_ensemble(lambda t: _unit(_unit(t).sum(axis=1)))  # the sum points the same way
    assert X.check_prompt_ensemble(
        lambda t: F.normalize(F.normalize(torch.as_tensor(t), dim=-1).mean(1), dim=-1))
    assert "✓ correct" in capsys.readouterr().out


@pytest.mark.parametrize("wrong, phrase", [
    (lambda t: _unit(t.mean(axis=1)), "*before* averaging"),
    (lambda t: _unit(t).mean(axis=1), "normalise the mean again"),
    (lambda t: t.mean(axis=1), "normalise twice"),
    (lambda t: _unit(_unit(t).mean(axis=0)), "not over the classes"),
    (lambda t: _unit(_unit(t, axis=1).mean(axis=1)), "along the embedding axis"),
    (lambda t: _unit(t)[:, 0], "every template"),
], ids=["no-normalise-before", "no-renormalise (= averaging logits)", "no-normalise", "wrong-axis",
        "normalise-wrong-axis", "first-template-only"])
def test_prompt_ensemble_names_the_mistake(wrong, phrase):
    with pytest.raises(ExerciseError, match="prompt_ensemble") as err:
        X.check_prompt_ensemble(wrong)
    assert phrase in str(err.value)


def test_prompt_ensemble_blank_is_not_attempted(capsys):
    def prompt_ensemble(text_features):
        ...  # your code here
    assert X.check_prompt_ensemble(prompt_ensemble) is False
    assert "not attempted" in capsys.readouterr().out


def test_the_reference_is_what_coursekit_clip_computes():
    """zero_shot_classifier's formula (on normalised encode_texts rows) equals the check's reference."""
    from coursekit.models.clip import _normalise

    feats = np.random.default_rng(0).normal(size=(3, 5, 8))
    lib = _normalise(_normalise(feats).reshape(3, 5, -1).mean(axis=1))
    np.testing.assert_allclose(lib, X._ensemble_reference(feats), atol=1e-6)


# --------------------------------------------------------------------------- prompt gain above the noise


def _correct(n, right):
    out = np.zeros(n, bool)
    out[:right] = True
    return out


def test_bootstrap_gain_is_paired_and_seeded():
    base = _correct(200, 150)
    mine = base.copy(); mine[150:190] = True                    # 40 more images right, none lost
    gain, low, high = X.bootstrap_gain(mine, base)
    assert gain == pytest.approx(0.2) and 0 < low < gain < high
    assert X.bootstrap_gain(mine, base) == (gain, low, high)   # seeded: the same interval every time
    assert X.bootstrap_gain(base, base) == (0.0, 0.0, 0.0)
    with pytest.raises(ValueError):
        X.bootstrap_gain(mine, base[:10])


def test_prompt_gain_passes_a_gain_above_the_noise(capsys):
    base = _correct(200, 150)
    better = base.copy(); better[150:190] = True
    assert X.check_prompt_gain(["a photo of a {}.", "a close-up of a {}."], lambda t: better, base)
    assert "above the noise" in capsys.readouterr().out


def test_prompt_gain_refuses_a_gain_within_the_noise():
    base = _correct(200, 150)
    noisy = base.copy(); noisy[150:153] = True; noisy[0:1] = False   # +2 images net: resampling can erase it
    with pytest.raises(ExerciseError, match="within the noise") as err:
        X.check_prompt_gain(["a {}."], lambda t: noisy, base)
    assert "interval" in str(err.value)
    with pytest.raises(ExerciseError, match="within the noise"):           # no change at all
        X.check_prompt_gain(["a {}."], lambda t: base, base)


def test_prompt_gain_checks_the_templates_and_blank(capsys):
    base = _correct(10, 5)
    with pytest.raises(ExerciseError, match="exactly one"):
        X.check_prompt_gain(["a photo of a part."], lambda t: base, base)
    with pytest.raises(ExerciseError, match="list of template strings"):
        X.check_prompt_gain("a photo of a {}.", lambda t: base, base)
    assert X.check_prompt_gain(None, lambda t: base, base) is False
    assert X.check_prompt_gain([], lambda t: base, base) is False
    assert "not attempted" in capsys.readouterr().out


# ------------------------------------------------------------------------------ SAM refinement (stand-in SAM)


def _refine(predictor, positive_xy, negative_xy):
    masks, scores, logits = predictor.predict(point_coords=np.array([positive_xy]), point_labels=np.array([1]),
                                              multimask_output=True)
    best = int(np.argmax(scores))
    masks, _, _ = predictor.predict(point_coords=np.array([positive_xy, negative_xy]), point_labels=np.array([1, 0]),
                                    mask_input=logits[best][None], multimask_output=False)
    return masks[0]


def test_sam_refinement_accepts_the_reference_calls(capsys):
    assert X.check_sam_refinement(_refine)
    assert X.check_sam_refinement(lambda p, a, b: _refine(p, a, b)[None])  # (1, H, W) is one mask too
    assert "pixel for pixel" in capsys.readouterr().out


def test_sam_refinement_cases_are_real_improvements():
    from coursekit.models.sam import mask_iou

    cases = X.refinement_cases()
    assert len(cases) == 3
    for c in cases:
        assert c["truth"][c["positive"][1], c["positive"][0]]          # the click is on the part
        assert not c["truth"][c["negative"][1], c["negative"][0]]      # the negative click is off it
        assert c["reference"].shape == c["truth"].shape and mask_iou(c["reference"], c["truth"]) > 0


_REFINEMENTS = {"sam_refinement": (X.check_sam_refinement, X._refine_variant, X._SAM_VARIANTS),
                "box_refinement": (X.check_box_refinement, X._box_variant, X._BOX_VARIANTS)}


@pytest.mark.parametrize("name, kw, phrase", [(name, kw, hint[:40]) for name, (_, _, variants) in _REFINEMENTS.items()
                                              for kw, hint in variants],
                         ids=[f"{name}-{','.join(kw)}" for name, (_, _, v) in _REFINEMENTS.items() for kw, _ in v])
def test_sam_refinements_name_the_mistake(name, kw, phrase):
    check, variant, _ = _REFINEMENTS[name]
    with pytest.raises(ExerciseError, match=name) as err:
        check(variant(**kw))
    assert phrase in str(err.value)


def test_sam_refinement_explains_a_full_size_mask_as_mask_input_and_a_tuple():
    def full_size(predictor, positive_xy, negative_xy):
        masks, scores, _ = predictor.predict(point_coords=np.array([positive_xy]), point_labels=np.array([1]))
        return predictor.predict(point_coords=np.array([positive_xy, negative_xy]), point_labels=np.array([1, 0]),
                                 mask_input=masks[scores.argmax()][None].astype(np.float32),
                                 multimask_output=False)[0][0]
    with pytest.raises(ExerciseError, match="low-resolution logits"):
        X.check_sam_refinement(full_size)
    with pytest.raises(ExerciseError, match="tuple"):
        X.check_sam_refinement(lambda p, a, b: (_refine(p, a, b), 0.9))


def test_sam_refinement_blank_is_not_attempted(capsys):
    def refine_with_negative_click(predictor, positive_xy, negative_xy):
        ...  # your code here
    assert X.check_sam_refinement(refine_with_negative_click) is False
    assert "not attempted" in capsys.readouterr().out


# ------------------------------------------------------------------- box + negative click (stand-in SAM)


def _box_refine(predictor, box, negative_xy):
    masks, _, logits = predictor.predict(box=box, multimask_output=False)
    masks, _, _ = predictor.predict(box=box, point_coords=np.array([negative_xy]), point_labels=np.array([0]),
                                    mask_input=logits, multimask_output=False)
    return masks[0]


def test_box_refinement_accepts_the_reference_calls_on_real_improvements(capsys):
    from coursekit.models.sam import mask_iou

    assert X.check_box_refinement(_box_refine)
    assert "pixel for pixel" in capsys.readouterr().out
    cases = X._box_cases()
    assert len(cases) == 3
    for c in cases:
        assert not c["truth"][c["negative"][1], c["negative"][0]]      # the negative click is off the part
        assert mask_iou(c["reference"], c["truth"]) > 0


def test_box_refinement_blank_is_not_attempted(capsys):
    def box_with_negative_click(predictor, box, negative_xy):
        ...  # your code here

    assert X.check_box_refinement(box_with_negative_click) is False
    assert "not attempted" in capsys.readouterr().out
