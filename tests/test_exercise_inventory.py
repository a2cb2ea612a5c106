"""Every notebook's learner-written exercises, counted: each is defined once in a lesson cell, handed to a
``check_*`` function there, and has a hidden solution cell (tagged ``solution``, source hidden) that calls the
same check on a differently named solution, so "Run all" never overwrites the learner's code.

Removing an exercise, its check or its hidden solution from a notebook fails this test; adding one means adding
its row here. The per-notebook minimums are what issues 14 and 15 ask the notebooks to hold.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: notebook -> {learner's name: (the check called on it, the solution's name; None: the solution defines no name)}
EXERCISES: dict[str, dict[str, tuple[str, str | None]]] = {}

# ----------------------------------------------------------------------------- notebook 01
EXERCISES["01_cnn_from_scratch"] = {
    "conv_bn": ("check_conv_bn", "conv_bn_solution"),
    "Residual": ("check_residual", "ResidualSolution"),
    "MyResNet9": ("check_resnet9", "MyResNet9Solution"),
    "my_evaluate": ("check_evaluate", "my_evaluate_solution"),
    "my_augment": ("check_augment", "my_augment_solution"),
    "conv_output_size": ("check_conv_output_size", "conv_output_size_solution"),
    "my_accuracy": ("check_accuracy", "my_accuracy_solution"),
    "my_batchnorm": ("check_batchnorm", "my_batchnorm_solution"),
    "answer": ("check_param_count", None),
}
# (one block per notebook, kept apart so that edits to two notebooks merge cleanly)
#
#
# ----------------------------------------------------------------------------- notebook 02
EXERCISES["02_finetune_pretrained"] = {
    "my_kappa": ("check_cohen_kappa", "my_kappa_solution"),
    "new_head": ("check_new_head", "new_head_solution"),
    "Frozen": ("check_frozen", "FrozenSolution"),
    "my_param_groups": ("check_param_groups", "my_param_groups_solution"),
    "confusions_to_fix": ("check_spec_fix", None),
    "my_factor": ("check_label_saving_factor", None),
    "my_threshold": ("check_threshold_for_precision", "my_threshold_solution"),
}
#
#
#
# ----------------------------------------------------------------------------- notebook 03
EXERCISES["03_train_yolo_detector"] = {
    "yolo_to_xyxy": ("check_yolo_to_xyxy", "yolo_to_xyxy_solution"),
    "my_kmeans_anchors": ("check_kmeans_anchors", "my_kmeans_anchors_solution"),
    "iou": ("check_iou", "iou_solution"),
    "my_nms": ("check_nms", "my_nms_solution"),
    "my_ap": ("check_average_precision", "my_ap_solution"),
    "my_threshold": ("check_pr_reading", "my_threshold_solution"),
}
#
#
#
# ----------------------------------------------------------------------------- notebook 04
EXERCISES["04_foundation_models_zero_shot"] = {
    "zero_shot_probs": ("check_zero_shot", "zero_shot_probs_solution"),
    "prompt_ensemble": ("check_prompt_ensemble", "prompt_ensemble_solution"),
    "my_templates": ("check_prompt_gain", "my_templates_solution"),
    "mask_iou": ("check_mask_iou", "mask_iou_solution"),
    "refine_with_negative_click": ("check_sam_refinement", "refine_with_negative_click_solution"),
    "box_with_negative_click": ("check_box_refinement", "box_with_negative_click_solution"),
}
#
#
#
# ----------------------------------------------------------------------------- notebook 05
EXERCISES["05_deploy_to_the_edge"] = {
    "int8_size_mb": ("check_int8_size", "int8_size_mb_solution"),
    "p99": ("check_p99", "p99_solution"),
    "meets_budget": ("check_fps_budget", "meets_budget_solution"),
    "my_export": ("check_export", "my_export_solution"),
    "my_ort_run": ("check_ort_run", "my_ort_run_solution"),
    "my_parity": ("check_parity", "my_parity_solution"),
    "MyCalibrationReader": ("check_calibration_reader", "MyCalibrationReaderSolution"),
    "my_quantize": ("check_quantize", "my_quantize_solution"),
    "my_time_calls": ("check_timing_loop", "my_time_calls_solution"),
}
#
#
#
# ----------------------------------------------------------------------------- notebook 06
EXERCISES["06_when_classical_wins"] = {
    "my_pose": ("check_pose", "my_pose_solution"),
    "template_scores": ("check_template_scores", "template_scores_solution"),
    "count_holes": ("check_count_holes", "count_holes_solution"),
    "otsu_threshold": ("check_otsu_threshold", "otsu_threshold_solution"),
    "moments_angle": ("check_moments_angle", "moments_angle_solution"),
    "tune_param2": ("check_tune_param2", "tune_param2_solution"),
}
#
#
#
# -----------------------------------------------------------------------------

#: the fewest learner-written, checked exercises each notebook must keep
MINIMUM = {"01_cnn_from_scratch": 9, "02_finetune_pretrained": 7, "03_train_yolo_detector": 6,
           "04_foundation_models_zero_shot": 6, "05_deploy_to_the_edge": 9, "06_when_classical_wins": 6}

ROWS = [(nb, name) for nb, table in EXERCISES.items() for name in table]


def _code_cells(notebook: str) -> list[dict]:
    nb = json.loads((ROOT / "notebooks" / f"{notebook}.ipynb").read_text(encoding="utf-8"))
    return [c for c in nb["cells"] if c["cell_type"] == "code"]


def _defines(source: str, name: str) -> bool:
    return re.search(rf"^(def|class) {re.escape(name)}\b|^{re.escape(name)} = ", source, re.M) is not None


def _hidden(cell: dict) -> bool:
    return "solution" in cell["metadata"].get("tags", [])


def test_every_notebook_has_its_table_and_keeps_its_minimum():
    notebooks = sorted(p.stem for p in (ROOT / "notebooks").glob("0*.ipynb"))
    assert sorted(EXERCISES) == notebooks
    for nb, table in EXERCISES.items():
        assert len(table) >= MINIMUM[nb], f"{nb}: {len(table)} exercises, at least {MINIMUM[nb]} expected"


@pytest.mark.parametrize("notebook, learner", ROWS, ids=[f"{nb[:2]}-{name}" for nb, name in ROWS])
def test_exercise_is_checked_once_and_has_a_hidden_differently_named_solution(notebook, learner):
    check, solution = EXERCISES[notebook][learner]
    cells = _code_cells(notebook)
    hidden = [c for c in cells if _hidden(c)]
    assert all(c["metadata"].get("jupyter", {}).get("source_hidden") for c in hidden), \
        f"{notebook}: a solution cell is not hidden (metadata.jupyter.source_hidden)"
    lesson = ["".join(c["source"]) for c in cells if not _hidden(c)]
    mine = [s for s in lesson if _defines(s, learner)]
    assert len(mine) == 1, f"{notebook}: {learner} defined in {len(mine)} lesson cells (expected exactly 1)"
    assert re.search(rf"\b{check}\(\s*{re.escape(learner)}\b", mine[0]), \
        f"{notebook}: the cell defining {learner} does not call {check}({learner}, ...)"
    sols = ["".join(c["source"]) for c in hidden if re.search(rf"\b{check}\(", "".join(c["source"]))]
    assert sols, f"{notebook}: no hidden solution cell calls {check}"
    assert not any(_defines(s, learner) for s in sols), \
        f"{notebook}: a solution cell redefines the learner's {learner} ('Run all' would overwrite it)"
    if solution is not None:
        assert solution != learner
        assert any(_defines(s, solution) and re.search(rf"\b{check}\(\s*{re.escape(solution)}\b", s) for s in sols), \
            f"{notebook}: no hidden cell defines {solution} and checks it with {check}"
