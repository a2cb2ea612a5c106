"""Notebooks are committed clean: no stored results a learner could mistake for their own run."""
from __future__ import annotations

from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def test_there_are_notebooks():
    assert NOTEBOOKS, "no notebooks found under notebooks/"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_only_checked_deterministic_outputs_are_committed(path):
    nb = nbformat.read(path, as_version=4)
    for i, cell in enumerate(nb.cells):
        if cell.cell_type != "code":
            continue
        if cell.get("outputs"):
            assert "# NBVAL_CHECK_OUTPUT" in cell.source, (
                f"{path.name} cell {i}: has stored outputs but is not marked '# NBVAL_CHECK_OUTPUT'; "
                "clear its outputs (only deterministic outputs that nbval checks may be committed)")
            for out in cell.outputs:
                assert out.output_type == "stream", (
                    f"{path.name} cell {i}: stores a {out.output_type} output (figures, tables); clear it")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_states_budget_reads_profile_and_asserts(path):
    nb = nbformat.read(path, as_version=4)
    first_md = next(c.source for c in nb.cells if c.cell_type == "markdown")
    assert "Time budget" in first_md and "smoke" in first_md and "full" in first_md, (
        f"{path.name}: the first markdown cell must state the time budget per profile and hardware")
    code = "\n".join(c.source for c in nb.cells if c.cell_type == "code")
    assert "ck.settings(" in code, f"{path.name}: must read the run profile through ck.settings()"
    # key numbers checked in the lesson itself (solution cells, tagged "solution", do not count)
    lesson = [c.source for c in nb.cells if c.cell_type == "code" and "solution" not in c.metadata.get("tags", [])]
    # a plain assert, or one entry of a checks dict enforced by ck.run_checks (each entry is asserted or a
    # marked expectation)
    asserts = [line for src in lesson for line in src.splitlines() if line.lstrip().startswith("assert ")]
    for src in lesson:
        if "run_checks(" in src:
            asserts += [line for line in src.splitlines() if line.startswith("    ") and '":' in line]
    assert len(asserts) >= 3, f"{path.name}: only {len(asserts)} assertions check its key numbers"
