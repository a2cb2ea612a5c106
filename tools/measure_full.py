"""Run whole notebooks in a profile (default: full) outside nbval and commit what the run measured: its wall
time on this machine and the notebook's key numbers (notebooks/measured/<profile>_<hardware>_<notebook>.json;
rendered into the budgets and the notebooks' closing cells by tools/render_measurements.py).

    python tools/measure_full.py 03_train_yolo_detector [06_when_classical_wins ...] [--profile full]

Each notebook runs top to bottom in a fresh kernel (nbclient), in ``notebooks/``, offline
(``COURSEKIT_OFFLINE=1 COURSEKIT_STANDINS=1``: the course's stand-ins at full size, announced by the
notebooks themselves) unless ``--online``.
Nothing of the executed notebook is saved; the file records the total and the slowest cells, the load average
before and after (above the number of cores, other jobs shared the machine and the times are upper bounds),
what the closing cells printed, and, where :data:`SUMMARIES` names them, the notebook's key numbers read from
its variables after the last cell.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from datetime import date, datetime
from pathlib import Path

from coursekit.files import atomic_write_text

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
MEASURED = NOTEBOOKS / "measured"
MARK = "@@measure_full@@"

#: Per notebook, an expression evaluated in its kernel after the last cell: the numbers the closing text renders.
SUMMARIES = {
    "03_train_yolo_detector": """{
    "weights": str(info["weights"]), "is_standin": bool(is_standin), "model": M3["model"], "epochs": M3["epochs"],
    "imgsz": M3["imgsz"], "train_minutes": round(float(train_minutes), 2), "device": str(S.device),
    "test": {k: round(float(v), 4) for k, v in report.metrics.items() if isinstance(v, (int, float))},
    "shifted": {k: round(float(v), 4) for k, v in report_shifted.metrics.items() if isinstance(v, (int, float))},
    "threshold": round(float(choice.threshold), 4), "goal": float(GOAL), "goal_achieved": bool(choice.achieved),
    "missed_parts_per_100_images": {str(r): round(float(costs.loc[r, "missed parts / 100 images"]), 1) for r in costs.index},
    "compare_epochs": M3["compare_epochs"], "compare_fraction": M3["compare_fraction"],
    "compare_val_map50": {str(k): [round(float(x), 4) for x in s] for k, s in compare.items()},
}""",
}


def cell_seconds(cell) -> float | None:
    """A cell's execution time from nbclient's timing metadata."""
    t = cell.get("metadata", {}).get("execution", {})
    start, end = t.get("iopub.execute_input"), t.get("shell.execute_reply")
    if not (start and end):
        return None
    parse = lambda s: datetime.fromisoformat(s.replace("Z", "+00:00"))  # noqa: E731
    return (parse(end) - parse(start)).total_seconds()


def stream_text(cell) -> str:
    return "".join(o.get("text", "") for o in cell.get("outputs", []) if o.get("output_type") == "stream")


def run(name: str, profile: str, online: bool, timeout: int) -> dict:
    import nbformat
    from nbclient import NotebookClient

    path = NOTEBOOKS / f"{name}.ipynb"
    if not path.is_file():
        raise SystemExit(f"{path} does not exist (give a notebook's name without .ipynb, e.g. 03_train_yolo_detector)")
    nb = nbformat.read(path, as_version=4)
    n_code = sum(c.cell_type == "code" for c in nb.cells)
    if name in SUMMARIES:
        nb.cells.append(nbformat.v4.new_code_cell(f"import json as _j; print({MARK!r} + _j.dumps({SUMMARIES[name]}))"))
    env = {"COURSEKIT_PROFILE": profile, "MPLBACKEND": "Agg", **({} if online else {"COURSEKIT_OFFLINE": "1", "COURSEKIT_STANDINS": "1"})}
    os.environ.update(env)
    commit = _commit()  # before the run: what ran, even if the tree changes meanwhile
    hardware, machine = _hardware()
    load_before = round(os.getloadavg()[0], 2)
    t0 = time.time()
    NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(NOTEBOOKS)}}).execute()
    wall = time.time() - t0
    code = [c for c in nb.cells if c.cell_type == "code"][:n_code]
    times = [(i, cell_seconds(c)) for i, c in enumerate(code)]
    slowest = sorted((t for t in times if t[1] is not None), key=lambda t: -t[1])[:5]
    summary = None
    if name in SUMMARIES:
        text = stream_text(nb.cells[-1])
        summary = json.loads(text[text.index(MARK) + len(MARK):].splitlines()[0])
    return {"what": f"notebook {name}, profile {profile}, run whole by tools/measure_full.py "
                    f"({'online' if online else 'offline: the course stand-ins'})",
            "notebook": name, "profile": profile, "hardware": hardware, "date": date.today().isoformat(),
            "commit": commit, "machine": machine,
            "load_average_1min": [load_before, round(os.getloadavg()[0], 2)],
            "wall_seconds": round(wall, 1), "cells_seconds": round(sum(t for _, t in times if t is not None), 1),
            "slowest_cells": [{"code_cell": i, "seconds": round(t, 1)} for i, t in slowest],
            "closing_output": [stream_text(c)[-3000:] for c in code[-2:]],
            "summary": summary}


def _commit() -> str | None:
    """HEAD, marked when the package or a notebook differs from it."""
    git = lambda *a: subprocess.run(["git", *a], cwd=ROOT, capture_output=True, text=True).stdout.strip()  # noqa: E731
    head = git("rev-parse", "--short", "HEAD")
    dirty = git("status", "--porcelain", "--", "coursekit", "notebooks/*.ipynb")
    return (head + ("+uncommitted" if dirty else "")) or None


def _hardware() -> tuple[str, str]:
    """("gpu" or "cpu", the machine in words)."""
    import torch

    if torch.cuda.is_available():
        return "gpu", f"{torch.cuda.get_device_name(0)}, {os.cpu_count()} CPU cores"
    return "cpu", f"{platform.machine()}, {os.cpu_count()} CPU cores, no GPU"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("notebooks", nargs="+")
    ap.add_argument("--profile", default="full")
    ap.add_argument("--online", action="store_true", help="allow downloads (the real weights) instead of stand-ins")
    ap.add_argument("--timeout", type=int, default=7200, help="seconds per cell")
    args = ap.parse_args(argv)
    for name in args.notebooks:
        data = run(name.removesuffix(".ipynb"), args.profile, args.online, args.timeout)
        out = MEASURED / f"{args.profile}_{data['hardware']}_{data['notebook']}.json"
        atomic_write_text(out, json.dumps(data, indent=1, ensure_ascii=False) + "\n")
        print(f"{out.relative_to(ROOT)}: {data['wall_seconds'] / 60:.1f} min")
    return 0


if __name__ == "__main__":
    sys.exit(main())
