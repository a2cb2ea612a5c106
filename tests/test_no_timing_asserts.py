"""No notebook asserts a timing comparison.

CI runs every notebook on a shared, busy 2-core machine: there, "A is faster than B" or "end to end costs at
least the model alone" is noise, not a result (a fresh-clone `make test` once failed on exactly that in notebook
06). Timings are printed; assertions are on the deterministic rest (counts, finite and positive values, sizes).

The scan is deliberately simple (Python's ``ast``, no data flow): in every code cell, the expressions that are
asserted are ``assert`` statements and the values of a checks dict (``checks = {...}`` / ``checks[k] = ...``,
or any dict passed to ``assert all(d.values())`` or ``run_checks(d)``, inline or by name). An ordering comparison
(``<``, ``<=``, ``>``, ``>=``) inside one of them fails this test when a side names a timing (``lat``,
``latency``, ``ms``, ``p99``, ``fps``, ``throughput``, ``elapsed``, ``time.time()``, ...). Allowed: a timing
against the literal 0 (a sanity check that it is positive), and ``len(...)`` or ``.n`` of one (a count).
"""
from __future__ import annotations

import ast
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))

# identifier parts (split on "_", non-alphanumerics and camelCase) that name a timing
TIMING_WORDS = {
    "lat", "latency", "latencies", "ms", "msec", "usec", "sec", "secs", "second", "seconds", "fps", "qps",
    "throughput", "speed", "speedup", "speedups", "faster", "slower", "p50", "p90", "p95", "p99", "elapsed",
    "wall", "walltime", "perf", "time", "times", "timing", "timings", "duration", "durations", "runtime",
    "clock", "tic", "toc",
}
TIMING_SUFFIXES = ("_s",)  # render_s, set_image_s: seconds (a bare "s" is too common a name to count)
ORDERING = (ast.Lt, ast.LtE, ast.Gt, ast.GtE)


def _is_timing_word(text: str) -> bool:
    low = text.lower()
    if any(low.endswith(s) and len(low) > len(s) for s in TIMING_SUFFIXES):
        return True
    parts = re.split(r"[^a-z0-9]+", re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", text).lower())
    return any(p in TIMING_WORDS for p in parts)


def _mentions_timing(node: ast.AST) -> bool:
    """Does this operand name a timing? ``len(x)`` and ``x.n`` are counts, not timings."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "len":
        return False
    if isinstance(node, ast.Attribute) and node.attr == "n":
        return False
    if isinstance(node, ast.Name):
        return _is_timing_word(node.id)
    if isinstance(node, ast.Attribute):
        return _is_timing_word(node.attr) or _mentions_timing(node.value)
    if isinstance(node, ast.Subscript):  # lat["..."], table["p99 ms (b=1)"]
        key = node.slice
        keys = key.elts if isinstance(key, ast.Tuple) else [key]
        if any(isinstance(k, ast.Constant) and isinstance(k.value, str) and _is_timing_word(k.value) for k in keys):
            return True
        return _mentions_timing(node.value) or any(_mentions_timing(k) for k in keys)
    return any(_mentions_timing(child) for child in ast.iter_child_nodes(node))


def _is_zero(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and not isinstance(node.value, bool) and node.value == 0


def _timing_comparisons(expr: ast.AST):
    """The ordering comparisons inside ``expr`` with a timing on one side (and not the literal 0 on the other)."""
    for node in ast.walk(expr):
        if not isinstance(node, ast.Compare):
            continue
        sides = [node.left, *node.comparators]
        for op, a, b in zip(node.ops, sides, sides[1:]):
            if not isinstance(op, ORDERING) or _is_zero(a) or _is_zero(b):
                continue
            if _mentions_timing(a) or _mentions_timing(b):
                yield node
                break


def _parse(source: str) -> ast.Module | None:
    # IPython magics and shell escapes are not Python: blank them (keeps line numbers)
    lines = ["" if line.lstrip().startswith(("%", "!")) else line for line in source.splitlines()]
    try:
        return ast.parse("\n".join(lines))
    except SyntaxError:
        return None


def _checked_dict_names(tree: ast.Module) -> set[str]:
    """``checks``, and every name the cell asserts as a whole: ``assert all(d.values())``, ``run_checks(d)``."""
    names = {"checks"}
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            f = node.func
            fname = f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else ""
            if fname == "run_checks" and node.args and isinstance(node.args[0], ast.Name):
                names.add(node.args[0].id)
            if (fname == "all" and node.args and isinstance(node.args[0], ast.Call)
                    and isinstance(node.args[0].func, ast.Attribute) and node.args[0].func.attr == "values"
                    and isinstance(node.args[0].func.value, ast.Name)):
                names.add(node.args[0].func.value.id)
    return names


def _asserted_expressions(tree: ast.Module):
    """(line, expression) for every assert and every entry of a checks dict in one cell."""
    dicts = _checked_dict_names(tree)
    for node in ast.walk(tree):
        if isinstance(node, ast.Assert):
            yield node.lineno, node.test
        elif (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Dict)
              and (getattr(node.func, "id", None) == "run_checks" or getattr(node.func, "attr", None) == "run_checks")):
            for v in node.args[0].values:  # ck.run_checks({...}) with the dict written inline
                yield v.lineno, v
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for t in targets:
                if isinstance(t, ast.Name) and t.id in dicts and isinstance(node.value, ast.Dict):
                    for k, v in zip(node.value.keys, node.value.values):
                        yield v.lineno, v
                elif (isinstance(t, ast.Subscript) and isinstance(t.value, ast.Name) and t.value.id in dicts
                      and node.value is not None):
                    yield node.lineno, node.value


def timing_asserts(notebook: dict) -> list[str]:
    """``"cell N, line L: <source line>"`` for every asserted timing comparison in a notebook's JSON."""
    found = []
    for i, cell in enumerate(notebook.get("cells", [])):
        if cell.get("cell_type") != "code":
            continue
        source = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        tree = _parse(source)
        if tree is None:  # not scanned is not clean: say so
            found.append(f"cell {i}: not valid Python, could not be scanned")
            continue
        lines = source.splitlines()
        for _, expr in _asserted_expressions(tree):
            for cmp in _timing_comparisons(expr):
                found.append(f"cell {i}, line {cmp.lineno}: {lines[cmp.lineno - 1].strip()}")
    return sorted(set(found), key=found.index)


def _notebook(*sources: str) -> dict:
    return {"cells": [{"cell_type": "code", "source": s, "metadata": {}, "outputs": []} for s in sources]}


def test_there_are_notebooks():
    assert NOTEBOOKS


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_notebook_asserts_a_timing_comparison(path):
    found = timing_asserts(json.loads(path.read_text(encoding="utf-8")))
    assert not found, (
        f"{path.name} asserts a timing comparison (noise on a busy CI machine): print it, marked "
        f"'timing, informative, not asserted', and assert the deterministic rest instead:\n  " + "\n  ".join(found))


# notebook 06's closing check before the fix: it failed a fresh-clone `make test` while the machine was busy
NOTEBOOK_06_BEFORE = '''
checks = {
    "INT8 ONNX files are smaller than FP32 for every network": all(
        onnx_mb[f"{n} INT8"] < onnx_mb[f"{n} FP32"] for n in nets),
    "end to end costs at least the model alone (same network, same precision)": all(
        lat[f"{n} ONNX {p} end to end"] >= 0.9 * lat[f"{n} ONNX {p}"] for n in nets for p in ("FP32", "INT8")),
}
for name, ok in checks.items():
    print(("✓ " if ok else "✗ ") + name)
assert all(checks.values()), [n for n, ok in checks.items() if not ok]
'''


@pytest.mark.parametrize("source", [
    NOTEBOOK_06_BEFORE,
    "assert lat['classical'] < lat['network'], lat",
    "assert r.latency[1].p99 <= 1000 / 30",
    "assert speedup > 1.1",
    "t0 = time.perf_counter()\nrun()\nassert time.perf_counter() - t0 < 5",
    "assert table.loc['int8', 'p50 ms (b=1)'] < table.loc['fp32', 'p50 ms (b=1)']",
    "results = {}\nresults['int8 is faster'] = int8.throughput > fp32.throughput\nassert all(results.values())",
    "gates = {'fits 30 FPS': budget_ms > p99}\nck.run_checks(gates)",
    "ck.run_checks({'INT8 is faster': lat['int8'] < lat['fp32']})",
    "assert elapsed_s < 60",
], ids=["notebook-06-before", "lat", "p99", "speedup", "perf_counter", "column", "dict-by-key", "run_checks",
        "run_checks-inline", "suffix-s"])
def test_the_scan_catches_timing_comparisons(source):
    assert timing_asserts(_notebook(source)), source


@pytest.mark.parametrize("source", [
    "assert all(len(r.latency) == 2 for rs in results.values() for r in rs)",      # structure, not timing
    "assert r.latency[1].n == ITERS and min(r.raw_ms[1]) > 0",                      # a count; positive
    "assert np.isfinite(r.raw_ms[1]).all() and 0 < r.latency[1].p50",
    "assert onnx_mb['pose INT8'] < onnx_mb['pose FP32']",                           # file sizes
    "assert acc >= floor and losses[-1] < 0.8 * losses[0]",
    "timing = {'end to end costs more': lat['e2e'] >= lat['model']}\nprint(timing)",  # printed only
    "print('faster' if lat['a'] < lat['b'] else 'slower')",
    "%time x = 1\nassert x == 1",
], ids=["structure", "count-positive", "finite-positive", "sizes", "accuracy", "printed-dict", "printed",
        "magic"])
def test_the_scan_lets_deterministic_checks_through(source):
    assert timing_asserts(_notebook(source)) == [], source


def test_a_cell_that_cannot_be_scanned_is_reported():
    assert timing_asserts(_notebook("assert lat_ms < (")) == ["cell 0: not valid Python, could not be scanned"]
