"""A deployable folder: the model, what it needs to be fed, a manifest that proves every file, and run.py.

>>> PreprocessSpec(input_size=(2, 2), mean=(0.5, 0.5, 0.5), std=(0.5, 0.5, 0.5)).apply(
...     np.full((1, 2, 2, 3), 255, np.uint8))[0, :, 0, 0].tolist()
[1.0, 1.0, 1.0]
"""
from __future__ import annotations

import json
import os
import platform
import shutil
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from ..files import atomic_write_text, replace_dir, sha256_file, temporary_dir_beside
from .quantize import GateFailed, GateResult
from . import run_template

__all__ = ["PreprocessSpec", "write_package", "verify_package", "PackageError", "jetson_dockerfile",
           "DEFAULT_L4T_IMAGE", "DEFAULT_TOLERANCES"]

DEFAULT_L4T_IMAGE = "nvcr.io/nvidia/l4t-jetpack:r36.4.0"
"""JetPack 6.1 (L4T R36.4) with TensorRT for Jetson Orin; match the tag to the device's ``/etc/nv_tegra_release``."""


class PackageError(RuntimeError):
    """A package is incomplete, or a file does not match its manifest."""


@dataclass(frozen=True)
class PreprocessSpec:
    """How uint8 RGB images (N, H, W, 3) become the model's float32 input (N, 3, H, W): / 255, - ``mean``, / ``std``
    (per channel); ``input_size``: the (H, W) the model expects."""

    input_size: tuple[int, int]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    input_name: str = "images"
    layout: str = "NCHW"
    channels: str = "RGB"
    scale: str = "1/255"

    def apply(self, images: np.ndarray) -> np.ndarray:
        return run_template.preprocess(images, self.as_dict())  # what the package's run.py does

    def as_dict(self) -> dict:
        return asdict(self)


def _versions() -> dict:
    from importlib.metadata import PackageNotFoundError, version

    out = {"python": platform.python_version(), "platform": platform.platform()}
    for name in ("numpy", "onnx", "onnxruntime", "torch", "tensorrt"):
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def jetson_dockerfile(image: str = DEFAULT_L4T_IMAGE) -> str:
    """A Dockerfile that runs the package on a Jetson (L4T base image; TensorRT comes with it)."""
    return f"""# Run this package on an NVIDIA Jetson. Build ON the device (the base image is arm64 + L4T):
#   docker build -t edge-classifier .
#   docker run --rm --runtime nvidia -v $PWD/data:/data edge-classifier /data/images.npy
# The base image's L4T release must match the device's (cat /etc/nv_tegra_release): {image.split(':')[-1]} here.
FROM {image}
RUN apt-get update && apt-get install -y --no-install-recommends python3-pip && rm -rf /var/lib/apt/lists/*
# numpy + onnxruntime (CPU) from PyPI; TensorRT's Python bindings come with the base image.
# For onnxruntime on the GPU use NVIDIA's Jetson wheel for your JetPack (onnxruntime-gpu), see README.txt.
RUN python3 -m pip install --no-cache-dir "numpy<3" onnxruntime cuda-python
WORKDIR /app
COPY . /app
# Build the TensorRT engine on first start if absent (engines are tied to this device):
#   trtexec ... (the exact command is in manifest.json -> tensorrt.trtexec)
RUN python3 run.py --selftest --backend onnxruntime
ENTRYPOINT ["python3", "run.py"]
"""


MODEL_FILE = "model.onnx"
ENGINE_FILE = "model.engine"
DEFAULT_TOLERANCES = {"onnxruntime": 1e-4, "tensorrt": 2e-2}
"""``run.py --selftest``'s largest difference from the golden (onnxruntime) probabilities, per backend."""


def _engine_facts(engine_path: Path, engine: dict | None) -> dict:
    if engine is None:
        sidecar = Path(f"{engine_path}.json")
        if not sidecar.is_file():
            raise ValueError(f"no facts for the engine {engine_path}: pass engine= (build_engine's manifest) or keep "
                             f"the {sidecar.name} that build_engine writes beside it")
        engine = json.loads(sidecar.read_text(encoding="utf-8"))
    missing = [k for k in ("tensorrt", "compute_capability") if not engine.get(k)]
    if missing:
        raise ValueError(f"the engine's manifest lacks {missing}: run.py could not check that the engine fits the "
                         "device; use build_engine's manifest")
    return dict(engine)


def write_package(out_dir: str | os.PathLike, model_path: str | os.PathLike, *, labels: Sequence[str],
                  preprocess: PreprocessSpec, gate: GateResult, golden_images: np.ndarray,
                  golden_probabilities: np.ndarray, metrics: dict | None = None, benchmark: list | dict | None = None,
                  precision: str = "int8", engine_path: str | os.PathLike | None = None, engine: dict | None = None,
                  max_batch: int | None = None, trt_version: str | None = None, overwrite: bool = False) -> Path:
    """Write the package folder ``out_dir``; :class:`GateFailed` (nothing written) when ``gate.passed`` is False."""
    from .tensorrt import PRECISIONS, tensorrt_available, trtexec_command

    if not gate.passed:
        raise GateFailed(f"package not written to {out_dir}: {gate.message}")
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {PRECISIONS} (what the model file is); got {precision!r}")
    model_path = Path(model_path)
    if not model_path.is_file():
        raise FileNotFoundError(f"{model_path} does not exist: export (and quantise) the model first")
    golden_images = np.asarray(golden_images)
    probs = np.asarray(golden_probabilities, np.float64)
    if len(probs) != len(golden_images) or probs.shape[1] != len(labels):
        raise ValueError(f"golden_probabilities {probs.shape} must be (len(golden_images)={len(golden_images)}, "
                         f"len(labels)={len(labels)})")
    preprocess.apply(golden_images[:1])  # fails early when the golden images do not fit the spec
    facts = {}
    if engine_path is not None:
        engine_path = Path(engine_path)
        if not engine_path.is_file():
            raise FileNotFoundError(f"{engine_path} does not exist: build it first (build_engine), or leave "
                                    "engine_path out and build the engine on the device")
        facts = _engine_facts(engine_path, engine)
        if facts.get("precision") not in (None, precision):
            raise ValueError(f"the engine was built at {facts['precision']}, the package ships a {precision} model: "
                             "build the engine from the shipped model")
        if facts.get("onnx") not in (None, model_path.name):
            raise ValueError(f"the engine was built from {facts['onnx']}, not from {model_path.name}: build it from "
                             "the shipped model")
    elif engine is not None:
        raise ValueError("engine= describes an engine file: pass engine_path= too (or neither)")
    if max_batch is None:  # 0 is refused by trtexec_command, not replaced
        max_batch = int((facts.get("input") or {}).get("max_batch") or 32)
    trtexec = trtexec_command(MODEL_FILE, ENGINE_FILE, precision=precision, input_name=preprocess.input_name,
                              shape=(3, *preprocess.input_size), max_batch=max_batch,
                              trt_version=facts.get("tensorrt") or trt_version or tensorrt_available())
    out_dir = Path(out_dir)
    with temporary_dir_beside(out_dir) as tmp:
        pkg = tmp / out_dir.name
        pkg.mkdir()
        data = model_path.with_name(model_path.name + ".data")
        for src, name in ((model_path, MODEL_FILE), (data, MODEL_FILE + ".data"), (engine_path, ENGINE_FILE),
                          (Path(run_template.__file__), "run.py")):
            if src is not None and src.is_file():
                shutil.copyfile(src, pkg / name)
        readme = ("Run: python run.py images.npy   (uint8 (N, H, W, 3) RGB, see preprocessing.json)\nCheck: "
                  "python run.py --selftest (golden predictions) -- every file is checked against manifest.json.\n"
                  + (f"TensorRT: {ENGINE_FILE} is included, built for the device in manifest.json -> engine; run.py "
                     "uses it there and refuses it elsewhere (then it runs model.onnx with onnxruntime).\n"
                     if engine_path is not None else "")
                  + "TensorRT on another device: in this folder run manifest.json -> tensorrt.trtexec (it reads "
                    f"{MODEL_FILE}, writes {ENGINE_FILE}),\nthen rewrite the package with coursekit's "
                    f"write_package(..., engine_path='{ENGINE_FILE}') (or add the engine's sha256 to manifest.json's\n"
                    "'files' and its TensorRT version, compute capability and L4T release to 'engine'); run.py then "
                    "uses it.\n")
        golden = {"class_index": probs.argmax(1).tolist(), "probabilities": probs.round(6).tolist(),
                  "reference_backend": "onnxruntime", "tolerance": DEFAULT_TOLERANCES}
        for name, text in (("labels.json", json.dumps(list(labels))), ("golden_outputs.json", json.dumps(golden)),
                           ("preprocessing.json", json.dumps(preprocess.as_dict(), indent=2)),
                           ("Dockerfile", jetson_dockerfile()), ("README.txt", readme)):
            (pkg / name).write_text(text, encoding="utf-8")
        np.save(pkg / "golden_inputs.npy", golden_images, allow_pickle=False)
        files = {p.name: {"sha256": sha256_file(p), "bytes": p.stat().st_size}
                 for p in sorted(pkg.iterdir()) if p.is_file()}
        engine_entry, trt_section = None, {"trtexec": trtexec, "precision": precision, "onnx": MODEL_FILE,
                                           "engine_file": ENGINE_FILE, "engine_included": engine_path is not None}
        if precision == "int8":
            trt_section["note"] = ("INT8 from the QDQ model: TensorRT >= 10 builds it with --stronglyTyped, "
                                   "TensorRT 8.x (JetPack 5) with --int8 --fp16 instead")
        if facts:
            engine_entry = {**facts, "file": ENGINE_FILE, "onnx": MODEL_FILE, "precision": precision,
                            "source": {"engine": engine_path.name, "onnx": model_path.name}}
            trt_section.update({k: facts.get(k) for k in ("tensorrt", "compute_capability", "l4t", "gpu")})
        manifest = {"format": "coursekit-edge-package/1", "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                    "model": {"file": MODEL_FILE, "precision": precision, "source": model_path.name,
                              "external_data": MODEL_FILE + ".data" if data.is_file() else None},
                    "files": files, "versions": _versions(), "metrics": metrics or {}, "benchmark": benchmark or {},
                    "accuracy_gate": gate.as_dict(), "selftest_tolerance": DEFAULT_TOLERANCES, "tensorrt": trt_section,
                    "engine": engine_entry}
        atomic_write_text(pkg / "manifest.json", json.dumps(manifest, indent=2, default=str))
        replace_dir(pkg, out_dir, overwrite=overwrite)
    return out_dir


def verify_package(folder: str | os.PathLike) -> dict:
    """Check every file of a package against its manifest, as its run.py does; return the manifest, or raise
    :class:`PackageError` naming the file."""
    mf = Path(folder) / "manifest.json"
    if not mf.is_file():
        raise PackageError(f"{mf} is missing: not a coursekit package (write it with write_package)")
    return run_template.load_manifest(folder, error=PackageError)
