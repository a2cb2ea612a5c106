"""make test's two xdist workers: a notebook's cells never split over two kernels, and the notebooks that read
another's outputs run after it, on the same worker (tests/conftest.py's scheduler)."""
from __future__ import annotations

from pathlib import Path

from conftest import NOTEBOOK_CHAIN, _unit_of

NOTEBOOKS = sorted(p.name for p in (Path(__file__).resolve().parents[1] / "notebooks").glob("0*.ipynb"))


def test_each_notebook_is_one_unit_and_the_chain_shares_one():
    units = {nb: {_unit_of(f"notebooks/{nb}::Cell {i}") for i in (0, 7, 40)} for nb in NOTEBOOKS}
    assert all(len(u) == 1 for u in units.values()), units
    chain = {nb: u.pop() for nb, u in units.items()}
    assert len({chain[f"{nb}.ipynb"] for nb in NOTEBOOK_CHAIN}) == 1
    others = [u for nb, u in chain.items() if Path(nb).stem not in NOTEBOOK_CHAIN]
    assert len(set(others)) == len(others) == len(NOTEBOOKS) - len(NOTEBOOK_CHAIN)


def test_the_chain_is_every_notebook_that_reads_another_ones_checkpoint():
    root = Path(__file__).resolve().parents[1] / "notebooks"
    readers = {p.stem for p in root.glob("0*.ipynb") if "runs/03_yolo" in p.read_text(encoding="utf-8")}
    assert readers <= set(NOTEBOOK_CHAIN), readers - set(NOTEBOOK_CHAIN)


def test_unit_tests_group_by_file():
    assert _unit_of("tests/test_a.py::test_x") == _unit_of("tests/test_a.py::T::test_y[1]") == "tests/test_a.py"
    assert _unit_of("tests/test_a.py::test_x") != _unit_of("tests/test_b.py::test_x")
