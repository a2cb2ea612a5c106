"""Measure each notebook's smoke-profile time from a ``make test`` run, for the budgets the notebooks and the
settings printout show (notebooks/measured/smoke_cpu.json; rendered by tools/render_measurements.py).

    make test                                  # writes .ci/make-test.xml (pytest's JUnit report)
    python tools/measure_budgets.py .ci/make-test.xml [--machine "2 CPU cores, CI"] [--wall 812]

A notebook's time is the sum of its cells' times under nbval (the first cell includes starting the kernel).
The load average at the end is recorded: above the number of cores, other jobs shared the machine and the
times are upper bounds.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import xml.etree.ElementTree as ET
from datetime import date
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "notebooks" / "measured" / "smoke_cpu.json"


def notebook_times(junit: Path) -> tuple[dict[str, float], float, int]:
    """(seconds per notebook, seconds of everything else, number of tests) from a JUnit XML report."""
    root = ET.parse(junit).getroot()
    per: dict[str, float] = {}
    rest, n = 0.0, 0
    for case in root.iter("testcase"):
        n += 1
        t = float(case.get("time") or 0)
        cls = case.get("classname") or ""
        if cls.endswith(".ipynb"):
            name = cls[: -len(".ipynb")].replace("/", ".").split(".")[-1]
            per[name] = per.get(name, 0.0) + t
        else:
            rest += t
    if not per:
        raise SystemExit(f"{junit}: no notebook cells in this report (was it written by `make test`?)")
    return dict(sorted(per.items())), rest, n


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("junit", type=Path, nargs="+", help="JUnit reports (make test's, or nbval runs of some notebooks)")
    ap.add_argument("--machine", default=f"{platform.machine()}, {os.cpu_count()} CPU cores, no GPU")
    ap.add_argument("--what", default="smoke profile under nbval in make test (sum of the cells' times): "
                    "tools/measure_budgets.py", help="how the reports were made")
    ap.add_argument("--wall", type=float, default=None, help="make test's wall time from a fresh clone, in seconds "
                    "(installs included: `time make test`)")
    ap.add_argument("--shared", default="", help="how the notebooks shared the machine, e.g. make test's "
                    "'2 pytest-xdist workers, 1 thread each': the per-notebook times are then upper bounds")
    args = ap.parse_args(argv)
    per, rest, n = {}, 0.0, 0
    for report in args.junit:
        p, r, k = notebook_times(report)
        per.update(p)
        rest, n = rest + r, n + k
    per = dict(sorted(per.items()))
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    data = {"what": args.what,
            "date": date.today().isoformat(), "commit": commit or None, "machine": args.machine,
            "load_average_1min_after": round(os.getloadavg()[0], 2), "tests": n,
            "notebooks": {k: round(v, 1) for k, v in per.items()}, "other_tests_seconds": round(rest, 1),
            "make_test_wall_seconds": args.wall, "shared": args.shared or None}
    from coursekit.files import atomic_write_text

    atomic_write_text(OUT, json.dumps(data, indent=1) + "\n")
    print(json.dumps(data, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
