"""Files in the exact formats of the course's real downloads, with made-up contents: the real path, offline.

CI has no internet, so the code that reads the real CIFAR-10 archive, torchvision's ResNet-18 state dict,
the ultralytics checkpoint, OpenCLIP's weights and SAM's checkpoint would otherwise never run there. This
builds, for each registry entry a notebook uses by default, a file laid out as the real one is (the same
archive members and pickles, the same state-dict keys and shapes, the same checkpoint dict) but with random
weights or generated pictures, and writes them into a course cache (``<home>/assets/<name>/<filename>``).

Their checksums are not the registered ones, on purpose: :func:`registered` returns registry entries for
these files (their own sha256 and size) that a test puts in place of the real ones *in its own process or
kernel only*; nothing a learner can set weakens the registry's checksums.

    python tools/real_format_assets.py /tmp/fake-cache     # build them (about 30 s, 1.1 GB)
    python tools/real_format_assets.py /tmp/fake-cache --measure notebooks/measured/real_path_cpu.json

Contents: CIFAR-10's pickles hold the course's generated 32x32 scenes (learnable, so training still moves);
the weights are random (every accuracy floor for the real weights is expected to fail on them).
"""
from __future__ import annotations

import dataclasses
import io
import json
import pickle
import sys
import tarfile
from pathlib import Path

import numpy as np

from coursekit.files import sha256_file

#: The registry entries the notebooks use by default (the smoke and full profiles alike), by builder.
DEFAULT_ASSETS = ("cifar10", "resnet18-imagenet", "yolo11n", "clip-vit-b-32-laion2b", "sam-vit-b")

DEFAULT_NOTEBOOKS = ("01_cnn_from_scratch", "02_finetune_pretrained", "03_train_yolo_detector",
                     "05_deploy_to_the_edge", "04_foundation_models_zero_shot")  # 05 reads 02's and 03's runs/

CIFAR_PER_BATCH = 1000  # the real batches hold 10,000 images; 5 x 1,000 is enough for the smoke profile


def _add(tar: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size, info.mode, info.mtime = len(data), 0o644, 1_250_000_000
    tar.addfile(info, io.BytesIO(data))


def build_cifar10(path: Path, per_batch: int = CIFAR_PER_BATCH, seed: int = 0) -> None:
    """``cifar-10-python.tar.gz``: ``cifar-10-batches-py/`` with ``data_batch_1..5``, ``test_batch``,
    ``batches.meta`` and ``readme.html``; each batch a protocol-2 pickle of a dict with bytes keys
    ``batch_label``, ``labels`` (list of int), ``data`` (uint8 (N, 3072), channel planes R, G, B) and
    ``filenames``, as in the real archive."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from coursekit.data.standin import make_standin_cifar10

    train, test = make_standin_cifar10(5 * per_batch, per_batch, seed=seed, progress=False)
    classes = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]

    def batch(images, labels, label):
        data = np.ascontiguousarray(images.transpose(0, 3, 1, 2).reshape(len(images), 3072), dtype=np.uint8)
        d = {b"batch_label": label.encode(), b"labels": [int(v) for v in labels], b"data": data,
             b"filenames": [f"img_{i:05d}.png".encode() for i in range(len(images))]}
        return pickle.dumps(d, protocol=2)

    rng = np.random.default_rng(seed)
    order = rng.permutation(len(train.labels))  # the real batches are not sorted by class
    with tarfile.open(path, "w:gz") as tar:
        for b in range(5):
            idx = order[b * per_batch:(b + 1) * per_batch]
            _add(tar, f"cifar-10-batches-py/data_batch_{b + 1}",
                 batch(train.images[idx], train.labels[idx], f"training batch {b + 1} of 5"))
        _add(tar, "cifar-10-batches-py/test_batch", batch(test.images, test.labels, "testing batch 1 of 1"))
        meta = {b"num_cases_per_batch": per_batch, b"label_names": [c.encode() for c in classes], b"num_vis": 3072}
        _add(tar, "cifar-10-batches-py/batches.meta", pickle.dumps(meta, protocol=2))
        _add(tar, "cifar-10-batches-py/readme.html", b"<meta HTTP-EQUIV=\"REFRESH\" content=\"0; URL=...\">\n")


def build_resnet18(path: Path, seed: int = 0) -> None:
    """torchvision's ``resnet18-f37072fd.pth``: a plain state dict (``conv1.weight`` ... ``fc.bias``)."""
    import torch
    import torchvision

    torch.manual_seed(seed)
    torch.save(torchvision.models.resnet18(weights=None).state_dict(), path)


def build_yolo11n(path: Path) -> None:
    """Ultralytics' ``yolo11n.pt``: a checkpoint dict whose ``model`` is the pickled ``DetectionModel``
    (80 COCO classes, FP16) with ``date``, ``version``, ``license``, ``docs`` and ``train_args``, written
    the way ultralytics writes it (``Model.save``)."""
    import os
    import tempfile

    os.environ.setdefault("YOLO_OFFLINE", "1")
    os.environ.setdefault("YOLO_CONFIG_DIR", tempfile.mkdtemp(prefix="ultralytics-"))
    from ultralytics import YOLO
    from ultralytics.cfg import get_cfg
    from ultralytics.data.utils import check_det_dataset  # noqa: F401  (imports what a real load imports)

    model = YOLO("yolo11n.yaml", task="detect", verbose=False)
    coco = [f"class{i}" for i in range(80)]
    model.model.names = dict(enumerate(coco))
    model.model.args = {k: v for k, v in vars(get_cfg()).items()
                        if isinstance(v, (int, float, str, bool, type(None)))} | {"model": "yolo11n.yaml",
                                                                                  "data": "coco.yaml"}
    model.ckpt = {"epoch": -1, "best_fitness": None, "optimizer": None, "updates": None,
                  "train_args": dict(model.model.args), "train_metrics": {}, "train_results": {}}
    model.save(str(path))


def build_clip_vit_b_32(path: Path, seed: int = 0) -> None:
    """OpenCLIP's ``open_clip_pytorch_model.bin`` for ViT-B-32: a state dict (``positional_embedding``,
    ``text_projection``, ``logit_scale``, ``visual.*``, ``transformer.*``, ...) saved with ``torch.save``."""
    import open_clip
    import torch

    torch.manual_seed(seed)
    torch.save(open_clip.create_model("ViT-B-32", pretrained=None).state_dict(), path)


def build_sam_vit_b(path: Path, seed: int = 0) -> None:
    """Meta's ``sam_vit_b_01ec64.pth``: a state dict of ``segment_anything``'s ``Sam`` (ViT-B)."""
    import torch
    from segment_anything import sam_model_registry

    torch.manual_seed(seed)
    torch.save(sam_model_registry["vit_b"](checkpoint=None).state_dict(), path)


BUILDERS = {"cifar10": build_cifar10, "resnet18-imagenet": build_resnet18, "yolo11n": build_yolo11n,
            "clip-vit-b-32-laion2b": build_clip_vit_b_32, "sam-vit-b": build_sam_vit_b}


def build(home: str | Path, names=DEFAULT_ASSETS) -> dict[str, dict]:
    """Write the files into ``<home>/assets`` (skipping those already there) and return, per asset,
    ``{"path", "sha256", "size"}``; also written to ``<home>/real_format_assets.json``."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from coursekit.assets import ASSETS

    home = Path(home)
    index_path = home / "real_format_assets.json"
    index = json.loads(index_path.read_text()) if index_path.is_file() else {}
    for name in names:
        dest = home / "assets" / name / ASSETS[name].filename
        if name in index and dest.is_file() and dest.stat().st_size == index[name]["size"]:
            continue
        dest.parent.mkdir(parents=True, exist_ok=True)
        part = dest.with_name(dest.name + ".building")
        BUILDERS[name](part)
        part.replace(dest)
        index[name] = {"path": str(dest), "sha256": sha256_file(dest), "size": dest.stat().st_size}
        index_path.write_text(json.dumps(index, indent=1))
    return {n: index[n] for n in names}


def registered(index: dict[str, dict]) -> dict:
    """The registry entries for these files: the real entries with this file's sha256 and size."""
    from coursekit.assets import ASSETS

    return {n: dataclasses.replace(ASSETS[n], sha256=v["sha256"], size=v["size"]) for n, v in index.items()}


def kernel_prelude(index: dict[str, dict]) -> str:
    """Python source that registers these files' checksums inside a notebook kernel (first cell of a test run)."""
    return ("import dataclasses as _dc\nfrom coursekit import assets as _assets\n"
            + "".join(f"_assets.ASSETS[{n!r}] = _dc.replace(_assets.ASSETS[{n!r}], sha256={v['sha256']!r}, "
                      f"size={v['size']})\n" for n, v in index.items()))


def run_notebook(path: str | Path, home: str | Path, index: dict, workdir: str | Path, cells=None,
                 extra: dict | None = None, timeout: int = 1800) -> dict:
    """Execute a notebook's code cells (all, or ``cells``: a list of sources) in a fresh kernel whose first cell
    registers these files' checksums, with ``COURSEKIT_HOME=home``, offline, smoke profile. ``extra``: source
    to run right after the first cell containing each key. Returns ``{"errors": [(cell, ename, evalue)],
    "output": all printed text, "seconds": wall time}``; the notebook's own files go under ``workdir``."""
    import os
    import time

    import nbformat
    from nbclient import NotebookClient

    if cells is None:
        cells = [c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]
    run = [nbformat.v4.new_code_cell(kernel_prelude(index) + "import coursekit.standins as _st\n")]
    for source in cells:
        run.append(nbformat.v4.new_code_cell(source))
        for key, code in (extra or {}).items():
            if key in source:
                run.append(nbformat.v4.new_code_cell(code))
    run.append(nbformat.v4.new_code_cell("print('STANDINS_USED', len(_st.STANDINS_USED))"))
    nb = nbformat.v4.new_notebook(cells=run)
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    measured = Path(path).resolve().parent / "measured"
    if measured.is_dir() and not (workdir / "measured").exists():
        (workdir / "measured").symlink_to(measured)
    env = {"COURSEKIT_HOME": str(home), "COURSEKIT_OFFLINE": "1", "COURSEKIT_PROFILE": "smoke", "MPLBACKEND": "Agg"}
    old = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    t = time.perf_counter()
    try:
        NotebookClient(nb, timeout=timeout, kernel_name="python3", allow_errors=True,
                       resources={"metadata": {"path": str(workdir)}}).execute()
    finally:
        for k, v in old.items():
            os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)
    from datetime import datetime

    errors, text, cell_seconds = [], [], {}
    for i, c in enumerate(nb.cells):
        ex = c.get("metadata", {}).get("execution", {})
        if "iopub.execute_input" in ex and "shell.execute_reply" in ex:
            start, end = (datetime.fromisoformat(ex[k].replace("Z", "+00:00"))
                          for k in ("iopub.execute_input", "shell.execute_reply"))
            cell_seconds[i - 1] = round((end - start).total_seconds(), 1)  # -1: the notebook's own code-cell index
        for o in c.get("outputs", []):
            if o.get("output_type") == "error":
                errors.append((i, o["ename"], o["evalue"][:300]))
            elif o.get("output_type") == "stream":
                text.append(o.get("text", ""))
    return {"errors": errors, "output": "".join(text), "seconds": time.perf_counter() - t,
            "cell_seconds": cell_seconds}


def measure(home: str | Path, out: str | Path, names) -> dict:
    """Run whole notebooks (smoke profile) on these files, in order, and write their wall times, errors and
    warnings of unmet expectations as JSON to ``out`` (atomically)."""
    import os
    import platform
    import tempfile
    from datetime import date

    root = Path(__file__).resolve().parents[1]
    index = build(home)
    work = Path(tempfile.mkdtemp(prefix="real-path-"))
    result = {"what": "whole notebooks, smoke profile, on files in the real downloads' formats (random weights, "
                      "generated CIFAR-10 pictures): tools/real_format_assets.py --measure",
              "date": date.today().isoformat(), "machine": f"{platform.machine()}, {os.cpu_count()} CPU cores, no GPU",
              "notebooks": {}}
    out = Path(out)
    if out.is_file():  # measured one notebook at a time: keep the others
        result["notebooks"] = json.loads(out.read_text()).get("notebooks", {})
    for name in names:
        load_before = os.getloadavg()[0]
        r = run_notebook(root / "notebooks" / f"{name}.ipynb", home, index, work)
        result["notebooks"][name] = {
            "seconds": round(r["seconds"], 1), "load_average_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)], "errors": [list(e) for e in r["errors"]],
            "standin_banner": "STAND-IN" in r["output"],
            "slowest_code_cells": dict(sorted(r["cell_seconds"].items(), key=lambda kv: -kv[1])[:5]),
            "unmet_expectations": [line[2:] for line in r["output"].splitlines() if line.startswith("⚠ ")]}
        result["notebooks"][name]["date"] = date.today().isoformat()
        print(name, result["notebooks"][name], flush=True)
    tmp = out.with_name(out.name + ".tmp")
    tmp.write_text(json.dumps(result, indent=1, ensure_ascii=False) + "\n")
    tmp.replace(out)
    return result


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("home", help="the cache folder to build the files in")
    parser.add_argument("--measure", metavar="JSON", help="also run notebooks 01-05 on them and write the times here")
    parser.add_argument("--notebooks", nargs="*", default=list(DEFAULT_NOTEBOOKS))
    args = parser.parse_args()
    for name, entry in build(args.home).items():
        print(f"{name:<24} {entry['size']:>12,} bytes  {entry['path']}")
    if args.measure:
        measure(args.home, args.measure, args.notebooks)
