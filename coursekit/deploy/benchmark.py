"""One honest timing function for every backend (PyTorch, ONNX Runtime, TensorRT).

>>> ticks = iter(range(0, 10_000, 2))          # a fake clock: every call takes exactly 2 "seconds"
>>> r = benchmark(lambda x: x, lambda b: np.zeros((b, 3)), name="id", backend="numpy", precision="fp32",
...               batches=(1, 4), warmup=1, iters=5, clock=lambda: next(ticks), measure_memory=False)
>>> r.latency[1].p50, r.latency[4].p99, r.throughput
(2000.0, 2000.0, 2.0)
"""
from __future__ import annotations

import os
import platform
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np

from .footprint import peak_rss_mb  # one implementation (footprint's child process runs it standalone)

__all__ = ["LatencyStats", "BenchmarkResult", "latency_stats", "benchmark", "benchmark_table", "torch_runner",
           "onnx_runner", "cpu_info", "peak_rss_mb"]


@dataclass(frozen=True)
class LatencyStats:
    """Latency of one batch size in ms per call (not per image); NumPy's (linearly interpolated) percentiles."""

    batch: int
    n: int
    mean: float
    p50: float
    p90: float
    p99: float
    min: float
    max: float


def latency_stats(times_ms: Sequence[float], batch: int = 1) -> LatencyStats:
    """Summary of raw per-call timings in ms.

    >>> latency_stats([1, 2, 3, 4, 100]).p50
    3.0
    """
    t = np.asarray(times_ms, np.float64)
    if t.size == 0:
        raise ValueError("no timings to summarise")
    p50, p90, p99 = np.percentile(t, [50, 90, 99])
    return LatencyStats(batch=int(batch), n=int(t.size), mean=float(t.mean()), p50=float(p50), p90=float(p90),
                        p99=float(p99), min=float(t.min()), max=float(t.max()))


@dataclass
class BenchmarkResult:
    """One backend's timings."""

    name: str
    backend: str
    precision: str
    device: str
    timed: str
    latency: dict[int, LatencyStats]
    throughput: float
    size_mb: float | None
    peak_rss_mb: float | None
    peak_gpu_mb: float | None
    raw_ms: dict[int, list[float]] = field(repr=False, default_factory=dict)

    def row(self) -> dict:
        """One table row (batch 1 latency percentiles, throughput, size, memory)."""
        b1 = self.latency[min(self.latency)]
        bt = max(self.latency)
        return {"model": self.name, "backend": self.backend, "precision": self.precision, "device": self.device,
                "timed": self.timed, "p50 ms (b=1)": b1.p50, "p90 ms (b=1)": b1.p90, "p99 ms (b=1)": b1.p99,
                f"throughput img/s (b={bt})": self.throughput, "size MB": self.size_mb,
                "peak RSS MB": self.peak_rss_mb, "peak GPU MB": self.peak_gpu_mb}

    def as_dict(self) -> dict:
        d = asdict(self)
        d["latency"] = {str(k): asdict(v) for k, v in self.latency.items()}
        d.pop("raw_ms")
        return d


def benchmark(run: Callable[[Any], Any], make_input: Callable[[int], np.ndarray] | np.ndarray, *, name: str,
              backend: str, precision: str, timed: str = "model only", batches: Iterable[int] = (1, 32),
              warmup: int = 5, iters: int = 50, device: str = "cpu", size_paths: Sequence[str | os.PathLike] = (),
              clock: Callable[[], float] = time.perf_counter, measure_memory: bool = True,
              progress: bool = False) -> BenchmarkResult:
    """Time ``run`` at each batch size."""
    if timed not in ("model only", "end to end"):
        raise ValueError(f"timed must be 'model only' or 'end to end'; got {timed!r}")
    batches = sorted(set(int(b) for b in batches))
    prepare = getattr(run, "prepare", None) or (lambda x: x)
    sync = getattr(run, "sync", None) or (lambda: None)
    from tqdm.auto import tqdm

    gpu_memory = measure_memory and str(device).startswith("cuda")
    if gpu_memory:
        import torch

        torch.cuda.reset_peak_memory_stats()

    latency, raw = {}, {}
    bar = tqdm(total=len(batches) * (warmup + iters), desc=f"{name} [{backend} {precision}]", leave=False,
               disable=not progress)
    for b in batches:
        x = make_input(b) if callable(make_input) else np.asarray(make_input)[:b]
        if len(x) != b:
            raise ValueError(f"make_input gave {len(x)} rows for batch {b}")
        x = prepare(x)
        for _ in range(warmup):
            run(x); sync()
            bar.update()
        times = []
        for _ in range(iters):
            t0 = clock()
            run(x)
            sync()
            times.append((clock() - t0) * 1000.0)
            bar.update()
        latency[b] = latency_stats(times, b)
        raw[b] = times
    bar.close()
    peak_rss = peak_rss_mb() if measure_memory else None   # the process's peak so far, read after the runs
    peak_gpu = torch.cuda.max_memory_allocated() / 2**20 if gpu_memory else None
    bt = max(batches)
    size = sum(Path(p).stat().st_size for p in size_paths) / 2**20 if size_paths else None
    return BenchmarkResult(name=name, backend=backend, precision=precision, device=str(device), timed=timed,
                           latency=latency, throughput=bt / (latency[bt].mean / 1000.0), size_mb=size,
                           peak_rss_mb=peak_rss, peak_gpu_mb=peak_gpu, raw_ms=raw)


def benchmark_table(results: Sequence[BenchmarkResult], metrics: dict[str, dict] | None = None):
    """A pandas table, one row per result; ``metrics[result.name]`` (e.g. ``{"accuracy": 0.91}``) adds columns."""
    import pandas as pd

    return pd.DataFrame([{**r.row(), **(metrics or {}).get(r.name, {})} for r in results]).set_index("model")


def torch_runner(model, device: str = "cpu", half: bool = False, compile: bool = False):
    """A runner for a torch module: NumPy float32 in, NumPy out."""
    import torch

    model = model.eval().to(device)
    if half:
        model = model.half()
    fn = torch.compile(model) if compile else model
    dtype = torch.float16 if half else torch.float32

    class _TorchRunner:
        def prepare(self, x):
            return torch.as_tensor(np.asarray(x)).to(device=device, dtype=dtype)

        def sync(self):
            if str(device).startswith("cuda"):
                torch.cuda.synchronize(device)

        @torch.inference_mode()
        def __call__(self, x):
            if not torch.is_tensor(x):
                x = self.prepare(x)
            return fn(x)

        def numpy(self, x) -> np.ndarray:
            """Outputs as float32 NumPy (for accuracy; not used while timing)."""
            y = self(x)
            y = y[0] if isinstance(y, (tuple, list)) else y
            return y.float().cpu().numpy()

    return _TorchRunner()


def onnx_runner(path: str | os.PathLike, threads: int | None = None):
    """A runner for an ONNX file through onnxruntime on the CPU (``threads``: ``intra_op_num_threads``)."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    if threads:
        opts.intra_op_num_threads = int(threads)
    sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name

    class _OrtRunner:
        def __call__(self, x):
            return sess.run(None, {name: np.ascontiguousarray(x, np.float32)})

        def numpy(self, x) -> np.ndarray:
            return np.asarray(self(x)[0], np.float32)

    return _OrtRunner()


def cpu_info(path: str = "/proc/cpuinfo") -> dict:
    """This CPU's model name, core count and the instruction-set flags that decide whether INT8 is fast."""
    flags: set[str] = set()
    model = platform.processor() or platform.machine()
    try:
        text = Path(path).read_text(encoding="utf-8", errors="replace")
    except OSError:
        text = ""
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip().lower()
        if key in ("flags", "features") and not flags:
            flags = set(value.split())
        elif key in ("model name", "cpu model", "hardware") and value.strip():
            model = value.strip()
    wanted = ["avx2", "avx512f", "avx512_vnni", "avx_vnni", "amx_int8", "amx_bf16", "avx512_fp16", "asimddp",
              "i8mm", "asimdhp", "fphp"]
    return {"model": model, "machine": platform.machine(), "logical_cpus": os.cpu_count(),
            "int8_flags": {f: f in flags for f in wanted}}
