"""Committed measurements of whole-notebook runs (tools/measure_full.py) and how they are rendered
(tools/render_measurements.py): numbers in the notebooks' text come from the file, a stand-in run says so."""
from __future__ import annotations

import ast
import builtins
import json
import re
from pathlib import Path

import pytest

from tools import measure_full, render_measurements

ROOT = Path(__file__).resolve().parents[1]

RUN = {"date": "2026-12-04", "commit": "abc1234", "machine": "x86_64, 2 CPU cores, no GPU", "wall_seconds": 3000.0,
       "load_average_1min": [0.2, 2.1],
       "summary": {"weights": "STAND-IN: yolo11n from yaml, random init", "is_standin": True, "model": "yolo11n",
                   "epochs": 60, "imgsz": 320, "train_minutes": 31.5, "device": "cpu",
                   "test": {"map": 0.4321, "map_50": 0.7654, "precision": 0.5, "recall": 0.9012},
                   "shifted": {"map": 0.1234, "map_50": 0.2351, "precision": 0.1, "recall": 0.3456},
                   "threshold": 0.0421, "goal": 0.95, "goal_achieved": False,
                   "missed_parts_per_100_images": {"chosen on val": 12.3, "ultralytics default": 45.6, "'obvious' 0.5": 78.9},
                   "compare_epochs": 15, "compare_fraction": 1.0,
                   "compare_val_map50": {"pre-trained (stand-in)": [0.5, 0.7001], "from scratch": [0.0, 0.3002]}}}


def test_the_detector_run_is_rendered_from_its_file_and_says_it_is_the_stand_in(monkeypatch, tmp_path):
    monkeypatch.setattr(render_measurements, "MEASURED", tmp_path)
    monkeypatch.setattr(render_measurements, "ROOT", tmp_path.parent)
    assert "none is committed yet" in render_measurements.full_detector_run()
    (tmp_path / "full_cpu_03_train_yolo_detector.json").write_text(json.dumps(RUN))
    text = render_measurements.full_detector_run()
    for number in ("| `test` | 0.765 | 0.432 | 0.500 | 0.901 |", "| `test_shifted` | 0.235 | 0.123 |", "conf >= 0.042",
                   "pre-trained (stand-in): 0.700", "from scratch: 0.300", "chosen on val: 12;", "ultralytics default: 46",
                   "'obvious' 0.5: 79", "50 min in all", "training 32 min", "load average 2.1"):
        assert number in text, number
    assert "**stand-in**" in text and "not what YOLO11n fine-tuned from COCO reaches" in text
    assert "not what COCO pre-training gives" in text  # the offline 'pre-trained' side is the run's own checkpoint
    assert all(line.startswith("  ") for line in text.splitlines()[1:] if line), "the table stays inside the bullet"
    nan = {**RUN, "summary": {**RUN["summary"], "shifted": {"map": 0.1, "map_50": 0.2, "precision": float("nan")}}}
    (tmp_path / "full_cpu_03_train_yolo_detector.json").write_text(json.dumps(nan))
    assert "| `test_shifted` | 0.200 | 0.100 | — | — |" in render_measurements.full_detector_run()
    real = {**RUN, "summary": {**RUN["summary"], "is_standin": False, "weights": "yolo11n.pt",
                               "compare_val_map50": {"pre-trained": [0.8], "from scratch": [0.3]}}}
    (tmp_path / "full_cpu_03_train_yolo_detector.json").write_text(json.dumps(real))
    assert "stand-in" not in render_measurements.full_detector_run()


def _assigned(code: str) -> set[str]:
    """Names a notebook defines at its top level (not inside functions, classes or comprehensions)."""
    names: set[str] = set()

    def visit(node):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.alias):
            names.add((node.asname or node.name).split(".")[0])
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
            return
        if isinstance(node, (ast.Lambda, ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            return
        for child in ast.iter_child_nodes(node):
            visit(child)

    visit(ast.parse(code))
    return names


@pytest.mark.parametrize("notebook", sorted(measure_full.SUMMARIES))
def test_every_name_a_summary_reads_is_defined_by_its_notebook(notebook):
    nb = json.loads((ROOT / "notebooks" / f"{notebook}.ipynb").read_text(encoding="utf-8"))
    code = "\n".join(re.sub(r"^[!%].*$", "", "".join(c["source"]), flags=re.M)
                     for c in nb["cells"] if c["cell_type"] == "code")
    defined = _assigned(code) | set(dir(builtins))
    read = {n.id for n in ast.walk(ast.parse(measure_full.SUMMARIES[notebook], mode="eval"))
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}
    read -= {n.id for n in ast.walk(ast.parse(measure_full.SUMMARIES[notebook], mode="eval"))
             if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}  # comprehension variables
    assert read <= defined, f"{notebook} no longer defines {sorted(read - defined)}: update tools/measure_full.py"


def test_a_cells_time_comes_from_nbclients_timing_metadata():
    cell = {"metadata": {"execution": {"iopub.execute_input": "2026-12-04T19:00:00.000000Z",
                                       "shell.execute_reply": "2026-12-04T19:01:02.500000Z"}}}
    assert measure_full.cell_seconds(cell) == 62.5
    assert measure_full.cell_seconds({"metadata": {}}) is None


def test_committed_full_runs_name_their_commit_and_machine():
    for path in sorted((ROOT / "notebooks" / "measured").glob("full_*_0*.json")):
        run = json.loads(path.read_text())
        assert run["wall_seconds"] > 0 and run["commit"] and run["machine"] and run["date"], path.name
        hardware = run.get("hardware") or ("cpu" if "no GPU" in run["machine"] else "gpu")
        assert path.name == f"full_{hardware}_{run['notebook']}.json", path.name


def test_sam_encoder_timing_is_rendered_from_its_file(monkeypatch, tmp_path):
    monkeypatch.setattr(render_measurements, "MEASURED", tmp_path)
    assert "No timing" in render_measurements.sam_encoder()
    run = {"params": 93_735_472, "image_encoder_params": 89_670_912, "encoder_seconds_median": 17.04,
           "machine": "x86_64, 2 CPU cores, no GPU", "torch_threads": 2, "date": "2026-12-04",
           "load_average_1min": [0.5, 1.9]}
    (tmp_path / "sam_vit_b_encoder_cpu.json").write_text(json.dumps(run))
    text = render_measurements.sam_encoder()
    assert "93.7M parameters" in text and "89.7M" in text and "17.0 s on x86_64, 2 CPU cores, no GPU (2 threads" in text
    (tmp_path / "sam_vit_b_encoder_gpu.json").write_text(json.dumps({**run, "encoder_seconds_median": 0.034,
                                                                     "machine": "NVIDIA H200"}))
    assert "34 ms on NVIDIA H200 (2026-12-04" in render_measurements.sam_encoder()
