"""Render the README's tables of measured numbers from the committed measurements (never typed by hand).

    python tools/render_measurements.py          # rewrite the blocks in README.md
    python tools/render_measurements.py --check  # exit 1 if README.md is out of date (tests/test_packaging.py)

A block sits between ``<!-- measured:NAME -->`` and ``<!-- /measured:NAME -->``; NAME picks the renderer.
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"


def real_path_cpu() -> str:
    """notebooks/measured/real_path_cpu.json (tools/real_format_assets.py --measure) as a table."""
    data = json.loads((ROOT / "notebooks" / "measured" / "real_path_cpu.json").read_text())
    rows = ["| notebook | smoke on the real-format files | load average (1 min) before / after | errors | "
            "expectations not met (random weights) |", "|---|---|---|---|---|"]
    for name, r in data["notebooks"].items():
        load = " / ".join(f"{x:.1f}" for x in r["load_average_1min"])
        rows.append(f"| `{name}` | {r['seconds'] / 60:.1f} min ({r['date']}) | {load} | {len(r['errors'])} | "
                    f"{len(r['unmet_expectations'])} |")
    return (f"Measured with `{data['what'].split(': ')[-1]}` on {data['machine']}; a load average above 2 means "
            "other jobs shared the cores, so these are upper bounds.\n\n" + "\n".join(rows))


RENDERERS = {"real-path-cpu": real_path_cpu}


def render(text: str) -> str:
    def block(m: re.Match) -> str:
        name = m.group(1)
        return f"<!-- measured:{name} -->\n{RENDERERS[name]()}\n<!-- /measured:{name} -->"

    return re.sub(r"<!-- measured:([\w-]+) -->.*?<!-- /measured:\1 -->", block, text, flags=re.S)


if __name__ == "__main__":
    old = README.read_text()
    new = render(old)
    if "--check" in sys.argv:
        sys.exit(0 if new == old else "README.md is out of date: run python tools/render_measurements.py")
    tmp = README.with_name(README.name + ".tmp")
    tmp.write_text(new)
    tmp.replace(README)
