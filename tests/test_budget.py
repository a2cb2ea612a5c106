"""A learner is told, before a notebook runs, which device it uses and what the notebook costs there; the
numbers come from committed measurements (smoke_cpu.json from make test; budgets.json: measured or estimate with
what it rests on), never typed into a notebook."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from coursekit.budget import budget_note
from coursekit.config import Settings

ROOT = Path(__file__).resolve().parents[1]
MEASURED = ROOT / "notebooks" / "measured"
NOTEBOOKS = sorted(p.stem for p in (ROOT / "notebooks").glob("0*.ipynb"))


def test_every_budget_row_is_measured_or_an_estimate_with_its_basis():
    rows = json.loads((MEASURED / "budgets.json").read_text())["notebooks"]
    assert sorted(rows) == NOTEBOOKS
    for nb, entries in rows.items():
        assert {(r["profile"], r["hardware"]) for r in entries} >= {("full", "gpu"), ("full", "cpu")}, nb
        for r in entries:
            measured = r.get("measured") and json.loads((MEASURED / r["measured"]).read_text())["wall_seconds"] > 0
            estimate = r.get("estimate") and r.get("rests_on")
            assert measured or estimate, f"{nb}: {r} is neither measured (with its source) nor an estimate with its basis"


def test_smoke_times_are_measured_for_every_notebook():
    smoke = json.loads((MEASURED / "smoke_cpu.json").read_text())
    assert sorted(smoke["notebooks"]) == NOTEBOOKS
    assert all(t > 0 for t in smoke["notebooks"].values()) and smoke["commit"] and smoke["date"]


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_the_settings_printout_says_the_device_and_the_cost(notebook):
    smoke = json.loads((MEASURED / "smoke_cpu.json").read_text())["notebooks"][notebook]
    S = Settings(profile="smoke", device="cpu", notebook=notebook)
    text = str(S)
    assert text.startswith("Settings(profile='smoke'") and "on the CPU (no GPU found)" in text
    assert f"{smoke / 60:.1f} min" in text
    full_cpu = budget_note(notebook, Settings(profile="full", device="cpu"))
    assert "estimate:" in full_cpu or "measured" in full_cpu
    assert "a GPU runtime is much faster" in full_cpu
    assert "on the GPU (cuda)" in budget_note(notebook, Settings(profile="full", device="cuda"))


@pytest.mark.parametrize("notebook", NOTEBOOKS)
def test_each_notebook_prints_its_budget_first_and_renders_its_table(notebook):
    nb = json.loads((ROOT / "notebooks" / f"{notebook}.ipynb").read_text(encoding="utf-8"))
    code = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]
    first = next(s for s in code if "ck.settings(" in s)
    assert re.search(rf"ck\.settings\(notebook=\"{notebook}\"\)", first) and "print(S)" in first
    intro = "".join(nb["cells"][0]["source"])
    assert f"<!-- measured:budget-{notebook} -->" in intro, "the budget table is rendered, not typed"


def test_no_measurement_in_this_checkout_says_so(monkeypatch):
    import coursekit.budget as B

    monkeypatch.setattr(B, "measured_dir", lambda: None)
    assert "no measured time" in budget_note("01_cnn_from_scratch", Settings(profile="smoke", device="cpu"))
    assert "no budget" in budget_note("01_cnn_from_scratch", Settings(profile="full", device="cpu"))


def test_times_measured_beside_other_tests_say_so(monkeypatch, tmp_path):
    import coursekit.budget as B

    smoke = json.loads((MEASURED / "smoke_cpu.json").read_text())
    for shared, said in ((None, "a busy machine takes longer"), ("2 pytest-xdist workers, 1 thread each",
                                                                 "2 pytest-xdist workers, 1 thread each: alone it takes less")):
        (tmp_path / "smoke_cpu.json").write_text(json.dumps({**smoke, "shared": shared}))
        (tmp_path / "budgets.json").write_text((MEASURED / "budgets.json").read_text())
        monkeypatch.setattr(B, "measured_dir", lambda: tmp_path)
        assert said in budget_note("01_cnn_from_scratch", Settings(profile="smoke", device="cpu"))


def test_a_measured_row_reads_its_run_and_says_when_the_run_is_missing(monkeypatch, tmp_path):
    import coursekit.budget as B

    run = {"wall_seconds": 2520.0, "machine": "x86_64, 2 CPU cores, no GPU", "date": "2026-12-04", "commit": "abc1234",
           "load_average_1min": [0.1, 2.3]}
    (tmp_path / "full_cpu_nb.json").write_text(json.dumps(run))
    monkeypatch.setattr(B, "measured_dir", lambda: tmp_path)
    text = B.cost({"measured": "full_cpu_nb.json", "estimate": "about an hour"})
    assert text.startswith("42 min, measured (full_cpu_nb.json") and "commit abc1234" in text and "2.3 after" in text
    assert "stand-ins" not in text
    (tmp_path / "full_cpu_nb.json").write_text(json.dumps({**run, "what": "notebook nb, profile full, offline: ..."}))
    assert "offline with the course's stand-ins" in B.cost({"measured": "full_cpu_nb.json"})
    assert B.cost({"measured": "full_cpu_nb.json"}, folder=tmp_path / "elsewhere").endswith("not in this checkout)")
    missing = B.cost({"measured": "full_cpu_other.json", "estimate": "about an hour"})
    assert missing.startswith("about an hour") and "not in this checkout" in missing
    assert B.cost({"estimate": "a few minutes", "rests_on": "a guess"}) == "a few minutes (estimate: a guess)"
