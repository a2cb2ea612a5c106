"""What a notebook costs on this machine, told before it runs: the settings printout's budget line.

>>> from coursekit.config import Settings
>>> print(budget_note("02_finetune_pretrained", Settings(profile="smoke", device="cpu")))  # doctest: +ELLIPSIS
on the CPU (no GPU found): this notebook's smoke profile took ... min on ...
"""
from __future__ import annotations

import json
from pathlib import Path

__all__ = ["budget_note", "measured_dir", "cost"]


def measured_dir() -> Path | None:
    """``notebooks/measured`` of the course checkout coursekit runs from (None when installed without it)."""
    here = Path(__file__).resolve().parents[1] / "notebooks" / "measured"
    return here if here.is_dir() else None


def _load(name: str, folder: Path | None = None) -> dict:
    folder = folder or measured_dir()
    try:
        return json.loads((folder / name).read_text(encoding="utf-8")) if folder else {}
    except (OSError, ValueError):
        return {}


def budget_note(notebook: str, settings) -> str:
    """One or two lines: the device this run uses and what this notebook costs there, in this profile."""
    gpu = str(settings.device).startswith("cuda")
    where = {"cpu": "on the CPU (no GPU found)", "mps": "on the Apple GPU (MPS)"}.get(
        str(settings.device), f"on the GPU ({settings.device})")
    smoke = _load("smoke_cpu.json")
    if settings.smoke:
        t = smoke.get("notebooks", {}).get(notebook)
        if t is None:
            return f"{where}: no measured time for this notebook's smoke profile in this checkout"
        return (f"{where}: this notebook's smoke profile took {t / 60:.1f} min on {smoke['machine']} "
                f"(make test, {smoke['date']}" + (f", {smoke['shared']}: alone it takes less" if smoke.get("shared")
                                                   else "; a busy machine takes longer") + ")")
    rows = [r for r in _load("budgets.json").get("notebooks", {}).get(notebook, [])
            if r["profile"] == settings.profile and r["hardware"] == ("gpu" if gpu else "cpu")]
    if not rows:
        return f"{where}: the course has no budget for this notebook's {settings.profile} profile on this hardware"
    r = rows[0]
    advice = "" if gpu else ("\n  a GPU runtime is much faster; COURSEKIT_PROFILE=smoke runs the same code on tiny data "
                             "in minutes")
    return f"{where}: the {settings.profile} profile here ({r['runs']}): {cost(r)}{advice}"


def cost(row: dict, folder: Path | None = None) -> str:
    """A budgets.json row's cost: measured (``"measured"`` names the run's file in ``folder``, by default this
    checkout's notebooks/measured, written by tools/measure_full.py) or an estimate with what it rests on."""
    if row.get("measured"):
        run = _load(row["measured"], folder)
        if not run.get("wall_seconds"):
            return f"{row.get('estimate', 'not measured')} (the measured run {row['measured']} is not in this checkout)"
        load = run.get("load_average_1min", [None, None])[-1]
        return (f"{run['wall_seconds'] / 60:.0f} min, measured ({row['measured']}: the whole notebook on "
                f"{run['machine']}, {run['date']}, commit {run['commit']}"
                + (f", load average {load:.1f} after" if load is not None else "")
                + (", offline with the course's stand-ins: the same networks and schedule" if "offline" in run.get("what", "")
                   else "") + ")")
    return f"{row['estimate']} (estimate: {row['rests_on']})"
