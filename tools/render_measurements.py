"""Render the README's tables of measured numbers from the committed measurements (never typed by hand).

    python tools/render_measurements.py          # rewrite the blocks in README.md and the notebooks
    python tools/render_measurements.py --check  # exit 1 if one is out of date (tests/test_packaging.py)

A block sits between ``<!-- measured:NAME -->`` and ``<!-- /measured:NAME -->``; NAME picks the renderer:
``real-path-cpu`` (README), ``colab-badges`` / ``colab-badge-<notebook>`` (from pyproject.toml's
``[tool.coursekit] repository``), ``budget-<notebook>`` (each notebook's time budget, in its first markdown cell) or
``full-cpu-03`` (notebook 03's closing text: its committed full-profile run, tools/measure_full.py) or
``sam-encoder`` (notebook 04: SAM ViT-B's encoder time, notebooks/measured/sam_encoder.py).
"""
from __future__ import annotations

import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
sys.path.insert(0, str(ROOT))  # this checkout's coursekit, even where another one is installed


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


HARDWARE = {"gpu": "one NVIDIA GPU", "cpu": "CPU only (laptop)"}


def budget(notebook: str) -> str:
    """A notebook's time budget: the smoke row measured (smoke_cpu.json), the others from budgets.json."""
    smoke = json.loads((MEASURED / "smoke_cpu.json").read_text())
    rows = json.loads((MEASURED / "budgets.json").read_text())["notebooks"][notebook]
    t = smoke["notebooks"].get(notebook)
    lines = ["| profile | hardware | what runs | time |", "|---|---|---|---|",
             f"| `smoke` (CI) | {smoke['machine']} | tiny data, the course's stand-ins offline | "
             + (f"{t / 60:.1f} min (measured: make test, {smoke['date']}, commit {smoke['commit']}; load average "
                f"{smoke['load_average_1min_after']:.1f} after{_shared(smoke)})" if t is not None else "not measured yet")
             + " |"]
    for r in rows:
        lines.append(f"| `{r['profile']}` | {HARDWARE[r['hardware']]} | {r['runs']} | {_cost(r)} |")
    return "\n".join(lines)


def _shared(smoke: dict) -> str:
    return f"; {smoke['shared']}: alone, a notebook takes less" if smoke.get("shared") else ""


def _cost(r: dict) -> str:
    from coursekit.budget import cost  # one wording for the tables and the settings printout

    return cost(r, MEASURED)


def budgets() -> str:
    """README: every notebook's budget in one table (smoke measured by make test; the rest from budgets.json)."""
    smoke = json.loads((MEASURED / "smoke_cpu.json").read_text())
    rows = json.loads((MEASURED / "budgets.json").read_text())["notebooks"]
    lines = [f"| notebook | smoke, {smoke['machine']} (measured: make test, {smoke['date']}) | full, one NVIDIA GPU "
             "| full, CPU only |", "|---|---|---|---|"]
    for nb, entries in rows.items():
        by = {r["hardware"]: r for r in entries if r["profile"] == "full"}
        t = smoke["notebooks"].get(nb)
        lines.append(f"| `{nb}` | {'not measured' if t is None else f'{t / 60:.1f} min'} | {_cost(by['gpu'])} | "
                     f"{_cost(by['cpu'])} |")
    wall = smoke.get("make_test_wall_seconds")
    total = (f"\n\n`make test` from a fresh clone, installs included: {wall // 60:.0f} min {wall % 60:.0f} s on "
             f"{smoke['machine']} ({smoke['tests']:,} tests; load average {smoke['load_average_1min_after']:.1f} at the "
             f"end, commit {smoke['commit']})." if wall else "")
    if smoke.get("shared"):
        total += f" The notebooks' times above come from that run ({smoke['shared']}): alone, a notebook takes less."
    return "\n".join(lines) + total


def _metric(m: dict, key: str) -> str:
    v = m.get(key)
    return "—" if v is None or v != v else f"{v:.3f}"  # v != v: NaN (e.g. precision with no box kept)


def full_detector_run(hardware: str = "cpu") -> str:
    """Notebook 03's closing bullet: the course's own full-profile run (tools/measure_full.py), if committed."""
    path = MEASURED / f"full_{hardware}_03_train_yolo_detector.json"
    if not path.is_file():
        return ("- **The course's own full-profile run:** none is committed yet (`python tools/measure_full.py "
                "03_train_yolo_detector` makes one), so no number is quoted here.")
    run = json.loads(path.read_text())
    r = run["summary"]
    who = (f"the **stand-in**, `{r['weights']}`: YOLO11n trained from random weights, offline" if r["is_standin"]
           else f"`{r['weights']}`")
    rows = ["| split | mAP@0.5 | mAP@0.5:0.95 | precision | recall |", "|---|---|---|---|---|"]
    for split, m in (("test", r["test"]), ("test_shifted", r["shifted"])):
        rows.append(f"| `{split}` | " + " | ".join(_metric(m, k) for k in ("map_50", "map", "precision", "recall")) + " |")
    missed = "; ".join(f"{k}: {v:.0f}" for k, v in r["missed_parts_per_100_images"].items())
    compare = "; ".join(f"{k}: {v[-1]:.3f}" for k, v in r["compare_val_map50"].items())
    goal = ("met on validation" if r["goal_achieved"] else
            "out of reach on validation; the threshold is the one closest to it")
    load = run.get("load_average_1min", [None, None])[-1]
    text = (f"- **The course's own full-profile run** ({run['date']}, commit {run['commit']}, {run['machine']}, "
            f"{run['wall_seconds'] / 60:.0f} min in all, training {r['train_minutes']:.0f} min"
            + (f", load average {load:.1f} at the end" if load is not None else "")
            + f"; `{path.relative_to(ROOT)}`, made by `tools/measure_full.py`, rendered here from that file) ran {who}, "
              f"{r['epochs']} epochs at {r['imgsz']} px."
            + (" Its numbers show what this notebook's method reaches on this dataset without pre-training; they "
               "are not what YOLO11n fine-tuned from COCO reaches." if r["is_standin"] else "")
            + " Precision and recall at the threshold chosen on validation, conf >= "
              f"{r['threshold']:.3f}:\n\n" + "\n".join(rows)
            + f"\n\nRecall goal {r['goal']:.2f}: {goal}. Parts missed per 100 test images: {missed}. "
              f"Section 4's comparison ({r['compare_epochs']} epochs each on {r['compare_fraction']:.0%} of the "
              f"training images), validation mAP@0.5 after the last epoch: {compare}"
            + (". Offline, the \"pre-trained\" side is this run's own checkpoint trained further, so that gap is what "
               "a start that has already seen these parts gives, not what COCO pre-training gives." if r["is_standin"]
               else "."))
    return "\n".join(("  " + line if line and i else line) for i, line in enumerate(text.split("\n")))


def repository() -> str:
    """pyproject.toml's ``[tool.coursekit] repository``: the course's public git URL, or "" while unpublished."""
    import tomllib

    url = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["coursekit"]["repository"].strip()
    if url and not re.fullmatch(r"https://github\.com/[\w.-]+/[\w.-]+", url.removesuffix(".git")):
        raise SystemExit(f"pyproject.toml [tool.coursekit] repository = {url!r}: give the repository's GitHub address, "
                         "https://github.com/<owner>/<name> (Colab opens notebooks from GitHub)")
    return url.removesuffix(".git")


def colab_url(notebook: str, url: str) -> str:
    return f"https://colab.research.google.com/github/{url.removeprefix('https://github.com/')}/blob/main/notebooks/{notebook}.ipynb"


BADGE = "https://colab.research.google.com/assets/colab-badge.svg"


def colab_badge(notebook: str) -> str:
    """A notebook's "Open in Colab" badge, or nothing while the course names no public repository."""
    url = repository()
    return f"[![Open In Colab]({BADGE})]({colab_url(notebook, url)})" if url else ""


def colab_badges() -> str:
    """README: one badge per notebook, or what to set while the course names no public repository."""
    url = repository()
    if not url:
        return ("This copy of the course names no public repository yet, so there are no \"Open in Colab\" badges: "
                "set `[tool.coursekit] repository` in `pyproject.toml` to its GitHub address and run "
                "`python tools/render_measurements.py`, which writes them here, at the top of each notebook and into "
                "the hosted cell's clone URL. Until then set `os.environ[\"COURSEKIT_REPO\"]` to the course's git "
                "URL in a cell above the first one.")
    return "\n".join(f"- `{p.stem}` [![Open In Colab]({BADGE})]({colab_url(p.stem, url)})"
                     for p in sorted((ROOT / "notebooks").glob("0*.ipynb")))


def sam_encoder() -> str:
    """Notebook 04: SAM ViT-B's size and its image encoder's time per image (notebooks/measured/sam_encoder.py)."""
    runs = [json.loads(p.read_text()) for p in sorted(MEASURED.glob("sam_vit_b_encoder_*.json"))]
    if not runs:
        return "(No timing of SAM's image encoder is committed yet: `python notebooks/measured/sam_encoder.py`.)"
    r = runs[0]
    def took(x: dict) -> str:
        t = x["encoder_seconds_median"]
        cpu = "no GPU" in x["machine"]
        return (f"{t:.1f} s" if t >= 1 else f"{t * 1000:.0f} ms") + f" on {x['machine']} (" + (
            f"{x['torch_threads']} threads, " if cpu else "") + f"{x['date']}, load average {x['load_average_1min'][-1]:.1f} after)"

    times = "; ".join(took(x) for x in runs)
    return (f"Measured (`notebooks/measured/sam_encoder.py`): SAM ViT-B has {r['params'] / 1e6:.1f}M parameters, "
            f"{r['image_encoder_params'] / 1e6:.1f}M of them in the image encoder, which took {times} per 1024 px "
            "image (the median of the timed passes; a load average above the number of cores means other jobs shared "
            "the machine, so the time is an upper bound). The prompt encoder and the mask decoder are the rest.")


MEASURED = ROOT / "notebooks" / "measured"
RENDERERS = {"sam-encoder": sam_encoder, "real-path-cpu": real_path_cpu, "budgets": budgets, "full-cpu-03": full_detector_run,
             "colab-badges": colab_badges}


def renderer(name: str):
    for prefix, fn in (("budget-", budget), ("colab-badge-", colab_badge)):
        if name.startswith(prefix):
            return lambda: fn(name[len(prefix):])
    return RENDERERS[name]


def render(text: str) -> str:
    def block(m: re.Match) -> str:
        name = m.group(1)
        return f"<!-- measured:{name} -->\n{renderer(name)()}\n<!-- /measured:{name} -->"

    return re.sub(r"<!-- measured:([\w-]+) -->.*?<!-- /measured:\1 -->", block, text, flags=re.S)


HOSTED_REPO = re.compile(r'os\.environ\.get\("COURSEKIT_REPO", "[^"]*"\)')


def render_hosted_cell(source: str) -> str:
    """The hosted cell clones ``COURSEKIT_REPO`` or, by default, the course's public repository."""
    url = repository()
    return HOSTED_REPO.sub(f'os.environ.get("COURSEKIT_REPO", "{url + ".git" if url else ""}")', source)


def render_notebook(path: Path) -> tuple[str, str]:
    """(old text, new text) of a notebook whose markdown cells hold measured blocks."""
    old = path.read_text(encoding="utf-8")
    if "<!-- measured:" not in old and "hosted-setup" not in old:
        return old, old
    nb = json.loads(old)
    for cell in nb["cells"]:
        text = "".join(cell["source"])
        if cell["cell_type"] == "markdown" and "<!-- measured:" in text:
            cell["source"] = render(text).splitlines(True)
        elif "hosted-setup" in cell["metadata"].get("tags", []):
            cell["source"] = render_hosted_cell(text).splitlines(True)
    return old, json.dumps(nb, indent=1, ensure_ascii=False) + "\n"


if __name__ == "__main__":
    targets = [(README, README.read_text(), render(README.read_text()))]
    for nb in sorted((ROOT / "notebooks").glob("0*.ipynb")):
        targets.append((nb, *render_notebook(nb)))
    stale = [p.name for p, old, new in targets if new != old]
    if "--check" in sys.argv:
        sys.exit(0 if not stale else f"out of date: {', '.join(stale)}: run python tools/render_measurements.py")
    from coursekit.files import atomic_write_text

    for p, old, new in targets:
        if new != old:
            atomic_write_text(p, new)
