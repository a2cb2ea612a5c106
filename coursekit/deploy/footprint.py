"""Memory and load time per backend, each measured in a fresh Python process."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Sequence

__all__ = ["measure_footprint", "peak_rss_mb", "BACKENDS"]

BACKENDS = ("onnxruntime", "torch")
_RUN = "import runpy, sys; sys.argv = sys.argv[1:]; runpy.run_path(sys.argv[0], run_name='__main__')"


def measure_footprint(backend: str, model_path: str | os.PathLike, input_shape: Sequence[int], *, threads: int = 1,
                      calls: int = 20, timeout: float = 300) -> dict:
    """Load ``model_path`` with ``backend`` in a fresh process and measure it."""
    if backend not in BACKENDS:
        raise ValueError(f"backend must be one of {BACKENDS}; got {backend!r}")
    if not Path(model_path).is_file():
        raise FileNotFoundError(model_path)
    root = str(Path(__file__).resolve().parents[2])     # so the torch child can unpickle coursekit's classes
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p),
           "OMP_NUM_THREADS": str(threads)}
    cmd = [sys.executable, "-c", _RUN, str(Path(__file__).resolve()), backend, str(Path(model_path).resolve()),
           ",".join(str(int(d)) for d in input_shape), str(int(threads)), str(int(calls))]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    if done.returncode != 0:
        raise RuntimeError(f"the {backend} child failed (exit {done.returncode}): {done.stderr.strip()[-800:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def peak_rss_mb() -> float | None:
    """This process's peak resident memory so far in MiB: Linux's ``VmHWM`` (``ru_maxrss`` would include the
    parent's, as it survives fork + exec), elsewhere ``ru_maxrss``; ``None`` on Windows."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 2**10          # kB
    except OSError:
        pass
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows
        return None

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 2**10


#: The only packages whose classes a pickled whole module may name (torch.load stays weights_only=True).
TRUSTED = ("torch.", "torchvision.", "coursekit.")


def _load_module(path: str):
    """A whole ``torch.save``d module, loaded with ``weights_only=True``: the classes it names are allowed one by
    one, and only from :data:`TRUSTED` packages (a file naming any other class is refused)."""
    import importlib

    import torch

    names = torch.serialization.get_unsafe_globals_in_checkpoint(path)
    refused = [n for n in names if not n.startswith(TRUSTED)]
    if refused:
        raise ValueError(f"{path} names classes outside {', '.join(TRUSTED)}: {', '.join(refused)}; save a module "
                         "built from torch, torchvision or coursekit classes (or export it to ONNX)")
    allowed = [getattr(importlib.import_module(n.rpartition(".")[0]), n.rpartition(".")[2]) for n in names]
    with torch.serialization.safe_globals(allowed):
        return torch.load(path, weights_only=True, map_location="cpu").eval()


def _child(backend: str, model_path: str, shape: str, threads: int, calls: int) -> dict:
    import time

    t0 = time.perf_counter()
    import numpy as np

    x = np.random.default_rng(0).normal(size=[int(d) for d in shape.split(",")]).astype(np.float32)
    if backend == "onnxruntime":
        import onnxruntime as ort
    else:
        import torch

        torch.set_num_threads(threads)
    import_s, rss_import = time.perf_counter() - t0, peak_rss_mb()
    t1 = time.perf_counter()
    if backend == "onnxruntime":
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        sess = ort.InferenceSession(model_path, opts, providers=["CPUExecutionProvider"])
        name = sess.get_inputs()[0].name

        def run():
            sess.run(None, {name: x})
    else:
        model = _load_module(model_path)
        xt = torch.from_numpy(x)

        def run():
            with torch.inference_mode():
                model(xt)
    load_s = time.perf_counter() - t1
    times = []
    for _ in range(max(1, calls)):
        t = time.perf_counter()
        run()
        times.append((time.perf_counter() - t) * 1000)
    return {"backend": backend, "model": Path(model_path).name, "import_s": import_s,
            "rss_after_import_mb": rss_import, "load_s": load_s, "first_call_ms": times[0],
            "median_call_ms": float(np.median(times[1:] or times)), "calls": len(times),
            "peak_rss_mb": peak_rss_mb(), "torch_imported": "torch" in sys.modules,
            "file_mb": Path(model_path).stat().st_size / 2**20}


if __name__ == "__main__":
    b, m, s, th, n = sys.argv[1:6]
    print(json.dumps(_child(b, m, s, int(th), int(n))))
