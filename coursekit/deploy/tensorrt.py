"""TensorRT: build an engine (Python API) or print the equivalent ``trtexec`` command; read the logs; refuse
engines built elsewhere.

>>> " ".join(trtexec_command("m.onnx", "m.engine", precision="int8", input_name="images", shape=(3, 96, 96),
...                          max_batch=8, trt_version="10.3.0"))     # doctest: +NORMALIZE_WHITESPACE
'trtexec --onnx=m.onnx --saveEngine=m.engine --minShapes=images:1x3x96x96 --optShapes=images:1x3x96x96
 --maxShapes=images:8x3x96x96 --memPoolSize=workspace:1024 --stronglyTyped'
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

from .run_template import engine_problems, jetson_release  # the package's run.py applies the same checks

__all__ = ["tensorrt_available", "trtexec_command", "build_engine", "engine_record", "engine_manifest",
           "check_engine_compatible", "EngineMismatch", "parse_trtexec_log", "TrtexecSummary", "parse_tegrastats", "TegraSample",
           "jetson_release", "PRECISIONS"]

PRECISIONS = ("fp32", "fp16", "int8")


def tensorrt_available() -> str | None:
    """TensorRT's version when ``import tensorrt`` works, else ``None``."""
    try:
        import tensorrt as trt  # noqa: F401
    except Exception:
        return None
    return str(trt.__version__)


def _check_precision(precision: str) -> None:
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS}; got {precision!r}")


def _major(version: str | None) -> int:
    try:
        return int(str(version).split(".")[0])
    except (TypeError, ValueError):
        return 10


def trtexec_command(onnx_path: str | os.PathLike, engine_path: str | os.PathLike, *, precision: str, input_name: str,
                    shape: Sequence[int], max_batch: int = 1, opt_batch: int = 1, workspace_mib: int = 1024,
                    trt_version: str | None = None) -> list[str]:
    """The ``trtexec`` command (an argument list, no shell) that builds the same engine as :func:`build_engine`."""
    _check_precision(precision)
    if not 1 <= opt_batch <= max_batch:
        raise ValueError(f"need 1 <= opt_batch <= max_batch; got opt_batch={opt_batch}, max_batch={max_batch}")
    dims = "x".join(str(int(d)) for d in shape)
    cmd = ["trtexec", f"--onnx={onnx_path}", f"--saveEngine={engine_path}",
           f"--minShapes={input_name}:1x{dims}", f"--optShapes={input_name}:{opt_batch}x{dims}",
           f"--maxShapes={input_name}:{max_batch}x{dims}", f"--memPoolSize=workspace:{int(workspace_mib)}"]
    if precision == "fp16":
        cmd.append("--fp16")
    elif precision == "int8":
        cmd += ["--stronglyTyped"] if _major(trt_version) >= 10 else ["--int8", "--fp16"]
    return cmd


def engine_manifest(trt_version: str | None = None) -> dict:
    """What an engine is bound to, read from this machine: TensorRT version (unless given), compute capability
    (``"8.7"``), GPU name, Jetson L4T release."""
    compute_capability = gpu = None
    try:
        import torch

        if torch.cuda.is_available():
            compute_capability = "{}.{}".format(*torch.cuda.get_device_capability())
            gpu = torch.cuda.get_device_name()
    except Exception:
        pass
    return {"tensorrt": trt_version if trt_version is not None else tensorrt_available(),
            "compute_capability": compute_capability, "gpu": gpu, "l4t": jetson_release()}


class EngineMismatch(RuntimeError):
    """A TensorRT engine was built for another TensorRT version, GPU or JetPack; rebuild it on this device."""


def check_engine_compatible(built: dict, here: dict | None = None) -> None:
    """Raise :class:`EngineMismatch`, naming each field and the fix, unless the engine's manifest ``built`` fits this
    machine (``here``): TensorRT major.minor.patch, compute capability and L4T release.

    >>> check_engine_compatible({"tensorrt": "10.3.0", "compute_capability": "8.7", "l4t": "R36.3.0"},
    ...                         {"tensorrt": "10.3.0", "compute_capability": "8.7", "l4t": "R36.3.0"})
    """
    problems = engine_problems(built, here if here is not None else engine_manifest())
    if problems:
        raise EngineMismatch("refusing to load a TensorRT engine built elsewhere (engines are not portable across "
                             "TensorRT versions, GPUs or JetPack releases):\n  - " + "\n  - ".join(problems)
                             + "\nFix: rebuild the engine from the package's model.onnx on this device "
                               "(the trtexec command in manifest.json -> tensorrt.trtexec).")


def build_engine(onnx_path: str | os.PathLike, engine_path: str | os.PathLike, *, precision: str, input_name: str,
                 shape: Sequence[int], max_batch: int = 1, opt_batch: int = 1, workspace_mib: int = 1024) -> dict:
    """Build and save (atomically) a TensorRT engine with the Python API; returns its :func:`engine_record`, also
    written beside it as ``<engine>.json``."""
    import json

    import tensorrt as trt

    from ..files import atomic_write_bytes, atomic_write_text

    _check_precision(precision)
    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    v10 = _major(trt.__version__) >= 10
    flag = trt.NetworkDefinitionCreationFlag  # explicit batch is implicit in TensorRT 10
    flags = (1 << int(flag.STRONGLY_TYPED) if precision == "int8" else 0) if v10 else 1 << int(flag.EXPLICIT_BATCH)
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_path)):
        errors = "\n".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise RuntimeError(f"TensorRT could not parse {onnx_path}:\n{errors}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(workspace_mib) << 20)
    if precision == "fp16" or (precision == "int8" and not v10):
        config.set_flag(trt.BuilderFlag.FP16)
        if precision == "int8":
            config.set_flag(trt.BuilderFlag.INT8)
    profile = builder.create_optimization_profile()
    dims = tuple(int(d) for d in shape)
    profile.set_shape(input_name, (1, *dims), (opt_batch, *dims), (max_batch, *dims))
    config.add_optimization_profile(profile)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise RuntimeError(f"TensorRT failed to build an engine from {onnx_path} (see the log above)")
    atomic_write_bytes(engine_path, bytes(serialized))
    manifest = engine_record(engine_path, onnx_path, precision=precision, input_name=input_name, shape=dims,
                             max_batch=max_batch, facts=engine_manifest(trt_version=str(trt.__version__)))
    atomic_write_text(f"{engine_path}.json", json.dumps(manifest, indent=2))
    return manifest


def engine_record(engine_path: str | os.PathLike, onnx_path: str | os.PathLike, *, precision: str, input_name: str,
                  shape: Sequence[int], max_batch: int, facts: dict) -> dict:
    """An engine's manifest: ``facts`` (:func:`engine_manifest`), its ``file`` name (what ``run.py`` loads), the
    ``onnx`` it was built from, its precision and input.

    >>> r = engine_record("/x/model.engine", "/y/m.onnx", precision="fp16", input_name="images", shape=(3, 8, 8),
    ...                   max_batch=4, facts={"tensorrt": "10.3.0", "compute_capability": "8.7", "gpu": None,
    ...                                       "l4t": None})
    >>> r["file"], r["onnx"], r["input"]
    ('model.engine', 'm.onnx', {'name': 'images', 'shape': [3, 8, 8], 'max_batch': 4})
    """
    _check_precision(precision)
    return {**facts, "file": Path(engine_path).name, "onnx": Path(onnx_path).name, "precision": precision,
            "input": {"name": input_name, "shape": [int(d) for d in shape], "max_batch": int(max_batch)}}


@dataclass(frozen=True)
class TrtexecSummary:
    """A ``trtexec`` run's summary: ``throughput_qps``, ``latency`` (end to end, with transfers) and ``gpu_compute``
    (kernels only) dicts of min, max, mean, median, p90, p95, p99 in ms, and the TensorRT version."""

    throughput_qps: float | None
    latency: dict
    gpu_compute: dict
    tensorrt: str | None
    precision_flags: tuple[str, ...] = field(default_factory=tuple)


_STAT = re.compile(r"(min|max|mean|median|percentile\((\d+(?:\.\d+)?)%\))\s*=\s*([\d.eE+-]+)\s*ms")


def _stats(text: str) -> dict:
    return {f"p{float(m.group(2)):g}" if m.group(2) else m.group(1): float(m.group(3)) for m in _STAT.finditer(text)}


def parse_trtexec_log(text: str) -> TrtexecSummary:
    """Read a ``trtexec`` log's performance summary (the last one when there are several).

    >>> s = parse_trtexec_log("[11/26/2026-14:02:11] [I] Throughput: 1523.4 qps\\n"
    ...     "[11/26/2026-14:02:11] [I] Latency: min = 0.61 ms, max = 1.90 ms, mean = 0.66 ms, median = 0.65 ms, "
    ...     "percentile(90%) = 0.70 ms, percentile(95%) = 0.72 ms, percentile(99%) = 0.95 ms")
    >>> s.throughput_qps, s.latency["p99"], s.latency["median"]
    (1523.4, 0.95, 0.65)
    """
    throughput, latency, gpu, version, flags = None, {}, {}, None, []
    for line in text.splitlines():
        if m := re.search(r"\]\s*Throughput:\s*([\d.eE+-]+)\s*qps", line):
            throughput = float(m.group(1))
        elif re.search(r"\]\s*Latency:\s*min", line):
            latency = _stats(line)
        elif re.search(r"\]\s*GPU Compute Time:\s*min", line):
            gpu = _stats(line)
        elif m := re.search(r"TensorRT version:\s*([\d.]+)", line):
            version = m.group(1)
        elif m := re.search(r"&&&& RUNNING TensorRT\.trtexec \[TensorRT v(\d+)\]", line):
            version = version or m.group(1)
        if "&&&& RUNNING" in line:
            flags = [f for f in ("--fp16", "--int8", "--stronglyTyped", "--best") if f in line.split()]
    if throughput is None and not latency:
        raise ValueError("no trtexec performance summary found (expected lines like '[I] Throughput: ... qps' and "
                         "'[I] Latency: min = ... ms, ...'); was the log cut, or did the build fail?")
    return TrtexecSummary(throughput_qps=throughput, latency=latency, gpu_compute=gpu, tensorrt=version,
                          precision_flags=tuple(flags))


@dataclass(frozen=True)
class TegraSample:
    """One ``tegrastats`` line: RAM (MB), per-core CPU load (%, ``None`` when off) and MHz, GPU load (%),
    temperatures (deg C) and power rails ((now, average) mW)."""

    ram_used_mb: int | None
    ram_total_mb: int | None
    cpu_load: tuple
    cpu_mhz: tuple
    gpu_load: int | None
    temps_c: dict
    power_mw: dict

    @property
    def total_power_mw(self) -> int | None:
        """The board's input power: ``VDD_IN`` (Orin) or ``POM_5V_IN`` (Nano/TX2/Xavier), else the sum of rails."""
        for key in ("VDD_IN", "POM_5V_IN"):
            if key in self.power_mw:
                return self.power_mw[key][0]
        return sum(v[0] for v in self.power_mw.values()) if self.power_mw else None


def parse_tegrastats(line: str) -> TegraSample:
    """Parse one line of ``tegrastats`` output (Jetson Nano/TX2/Xavier and Orin formats).

    >>> s = parse_tegrastats("11-26-2026 14:05:01 RAM 3190/7620MB (lfb 1x4MB) SWAP 0/3810MB (cached 0MB) "
    ...     "CPU [12%@1510,8%@1510,off,off,5%@1510,4%@1510] EMC_FREQ 0% GR3D_FREQ 45% cpu@48.5C gpu@47.8C "
    ...     "tj@48.5C VDD_IN 5123mW/5002mW VDD_CPU_GPU_CV 1020mW/990mW VDD_SOC 1450mW/1440mW")
    >>> s.ram_used_mb, s.gpu_load, s.cpu_load[:3], s.temps_c["gpu"], s.total_power_mw
    (3190, 45, (12, 8, None), 47.8, 5123)
    """
    ram = re.search(r"RAM (\d+)/(\d+)MB", line)
    cpu = re.search(r"CPU \[([^\]]*)\]", line)
    cores = [re.match(r"(\d+)%(?:@(\d+))?", c.strip()) for c in cpu.group(1).split(",")] if cpu else []
    loads = [int(m.group(1)) if m else None for m in cores]
    mhz = [int(m.group(2)) if m and m.group(2) else None for m in cores]
    gr3d = re.search(r"GR3D_FREQ (\d+)%", line)
    temps = {m.group(1).lower(): float(m.group(2)) for m in re.finditer(r"\b([A-Za-z][\w]*)@(-?[\d.]+)C\b", line)}
    power = {m.group(1): (int(m.group(2)), int(m.group(3)))
             for m in re.finditer(r"\b((?:VDD|POM)_[A-Z0-9_]+) (\d+)(?:mW)?/(\d+)(?:mW)?", line)}
    if not (ram or cpu or power):
        raise ValueError(f"not a tegrastats line (no RAM, CPU or power field): {line[:80]!r}")
    return TegraSample(ram_used_mb=int(ram.group(1)) if ram else None, ram_total_mb=int(ram.group(2)) if ram else None,
                       cpu_load=tuple(loads), cpu_mhz=tuple(mhz), gpu_load=int(gr3d.group(1)) if gr3d else None,
                       temps_c=temps, power_mw=power)
