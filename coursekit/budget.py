"""What a notebook costs on this machine, told before it runs: the settings printout's budget line.

>>> from coursekit.config import Settings
>>> print(budget_note("02_finetune_pretrained", Settings(profile="smoke", device="cpu")))  # doctest: +ELLIPSIS
on the CPU (no GPU found): this notebook's smoke profile took ... min on ...
"""
from __future__ import annotations

import json
from pathlib import Path

__all__ = ["budget_note", "measured_dir"]


def measured_dir() -> Path | None:
    """``notebooks/measured`` of the course checkout coursekit runs from (None when installed without it)."""
    here = Path(__file__).resolve().parents[1] / "notebooks" / "measured"
    return here if here.is_dir() else None


def _load(name: str) -> dict:
    folder = measured_dir()
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
    cost = (f"measured {r['measured_seconds'] / 60:.1f} min ({r['source']})" if r.get("measured_seconds") is not None
            else f"{r['estimate']} (estimate: {r['rests_on']})")
    advice = "" if gpu else ("\n  a GPU runtime is much faster; COURSEKIT_PROFILE=smoke runs the same code on tiny data "
                             "in minutes")
    return f"{where}: the {settings.profile} profile here ({r['runs']}): {cost}{advice}"
