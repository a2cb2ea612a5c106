#!/usr/bin/env python3
"""Run the packaged image classifier. Needs only NumPy and onnxruntime (TensorRT when present).

write_package copies this file into the package as run.py; coursekit imports its preprocessing, L4T and engine
checks from here too, so the package and the course apply the same ones.
"""
import argparse
import hashlib
import json
import os
import re
import sys
import tempfile
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent


def load_manifest(folder=HERE, error=SystemExit):
    """The package's manifest.json, once every file it lists is there with its sha256; else ``error``."""
    manifest = json.loads((Path(folder) / "manifest.json").read_text(encoding="utf-8"))
    for name, info in manifest["files"].items():
        path = Path(folder) / name
        if not path.is_file():
            raise error(f"REFUSED: {name} is listed in manifest.json but missing from {folder}")
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):  # 1 MiB at a time: engines can be large on a Jetson
                digest.update(block)
        got = digest.hexdigest()
        if got != info["sha256"]:
            raise error(f"REFUSED: {name} does not match manifest.json (sha256 {got[:16]}..., expected "
                        f"{info['sha256'][:16]}...): the file was modified or corrupted. Re-copy the package.")
    return manifest


def preprocess(images, spec):
    """uint8 RGB (N, H, W, 3) (or one image) -> float32 (N, 3, H, W): / 255, - mean, / std, as ``spec`` says."""
    images = np.asarray(images)
    if images.ndim == 3:
        images = images[None]
    h, w = spec["input_size"]
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[1:] != (h, w, 3):
        raise ValueError(f"images must be uint8 RGB of shape (N, {h}, {w}, 3); got {images.dtype} {images.shape}. "
                         "Resize them first (preprocessing.json says how the model was fed).")
    x = images.astype(np.float32) / 255.0
    x = (x - np.asarray(spec["mean"], np.float32)) / np.asarray(spec["std"], np.float32)
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))


def jetson_release(path="/etc/nv_tegra_release"):
    """The L4T release on a Jetson (``"R36.3.0"``), read from /etc/nv_tegra_release; ``None`` elsewhere."""
    try:
        first = Path(path).read_text(encoding="utf-8", errors="replace").splitlines()[0]
    except (OSError, IndexError):
        return None
    m = re.search(r"R(\d+)\s*\(release\),\s*REVISION:\s*([\d.]+)", first)
    return f"R{m.group(1)}.{m.group(2)}" if m else None


ENGINE_FIELDS = {"tensorrt": "TensorRT version", "compute_capability": "GPU compute capability",
                 "l4t": "Jetson L4T release"}


def engine_problems(built, here):
    """One line per field of :data:`ENGINE_FIELDS` where the engine's manifest ``built`` differs from ``here``
    (TensorRT compared to major.minor.patch); ``[]``: the engine fits."""
    problems = []
    for key, what in ENGINE_FIELDS.items():
        a, b = built.get(key), here.get(key)
        if a is not None and b is not None:  # a hand-edited manifest may hold 8.7 where this machine reports "8.7"
            a, b = (str(a).split(".")[:3], str(b).split(".")[:3]) if key == "tensorrt" else (str(a), str(b))
        if a != b:
            problems.append(f"{what}: engine built with {built.get(key)!r}, this machine has {here.get(key)!r}")
    return problems


class OnnxRuntimeBackend:
    name = "onnxruntime"

    def __init__(self, manifest):
        import onnxruntime as ort

        self.session = ort.InferenceSession(str(HERE / manifest["model"]["file"]), providers=["CPUExecutionProvider"])
        self.input = self.session.get_inputs()[0].name

    def __call__(self, x):
        return np.asarray(self.session.run(None, {self.input: x})[0], np.float32)


def cuda_check(cudart, what, result):
    """A cuda-python call's ``(error, *values)``: its value(s), or a clear error unless cudaSuccess."""
    err, values = result[0], tuple(result[1:])
    if err != cudart.cudaError_t.cudaSuccess:
        raise RuntimeError(f"CUDA {what} failed: {getattr(err, 'name', err)} (code {int(err)})")
    return values[0] if len(values) == 1 else values


def io_tensors(engine, trt):
    """The engine's one input and one output tensor name, by I/O mode (TensorRT 10 has no binding order)."""
    names = [engine.get_tensor_name(i) for i in range(engine.num_io_tensors)]
    inputs = [n for n in names if engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT]
    outputs = [n for n in names if engine.get_tensor_mode(n) == trt.TensorIOMode.OUTPUT]
    if len(inputs) != 1 or len(outputs) != 1:
        raise RuntimeError(f"expected an engine with one input and one output; it has inputs {inputs}, "
                           f"outputs {outputs}")
    return inputs[0], outputs[0]


class TensorRTBackend:
    """TensorRT 10 (named tensors, execute_async_v3) with cuda-python device memory; larger batches than the
    engine's profile allows run in chunks."""

    name = "tensorrt"

    def __init__(self, manifest):
        import tensorrt as trt
        try:
            from cuda.bindings import runtime as cudart
        except ImportError:  # cuda-python < 12.6
            from cuda import cudart

        engine_info = manifest["engine"]
        here = {"tensorrt": trt.__version__, "l4t": jetson_release(), "compute_capability": compute_capability(cudart)}
        if bad := engine_problems(engine_info, here):
            raise RuntimeError("engine built elsewhere (" + "; ".join(bad) + "): rebuild it on this device with "
                               + " ".join(manifest["tensorrt"]["trtexec"]))
        self.trt, self.cudart = trt, cudart
        self.runtime = trt.Runtime(trt.Logger(trt.Logger.WARNING))
        self.engine = self.runtime.deserialize_cuda_engine((HERE / engine_info["file"]).read_bytes())
        if self.engine is None:
            raise RuntimeError(f"TensorRT could not deserialize {engine_info['file']} (see its log above)")
        self.context = self.engine.create_execution_context()
        self.input_name, self.output_name = io_tensors(self.engine, trt)
        self.input_dtype = trt.nptype(self.engine.get_tensor_dtype(self.input_name))
        self.output_dtype = trt.nptype(self.engine.get_tensor_dtype(self.output_name))
        self.max_batch = int(self.engine.get_tensor_profile_shape(self.input_name, 0)[2][0])
        self.stream = cuda_check(cudart, "cudaStreamCreate", cudart.cudaStreamCreate())

    def __call__(self, x):
        step = max(1, self.max_batch)
        return np.concatenate([self._run(x[i:i + step]) for i in range(0, len(x), step)])

    def _run(self, x):
        cudart = self.cudart
        x = np.ascontiguousarray(x, self.input_dtype)
        if not self.context.set_input_shape(self.input_name, x.shape):
            raise RuntimeError(f"the engine does not accept input shape {x.shape} for {self.input_name!r}")
        out = np.empty(tuple(self.context.get_tensor_shape(self.output_name)), self.output_dtype)
        ptrs = []
        try:
            for a in (x, out):  # ptrs holds what was allocated, freed below even when a later step fails
                ptrs.append(cuda_check(cudart, f"cudaMalloc({a.nbytes} bytes)", cudart.cudaMalloc(a.nbytes)))
            d_in, d_out = ptrs
            cuda_check(cudart, "cudaMemcpyAsync (host to device)", cudart.cudaMemcpyAsync(
                d_in, x.ctypes.data, x.nbytes, cudart.cudaMemcpyKind.cudaMemcpyHostToDevice, self.stream))
            self.context.set_tensor_address(self.input_name, d_in)
            self.context.set_tensor_address(self.output_name, d_out)
            if not self.context.execute_async_v3(stream_handle=self.stream):
                raise RuntimeError("TensorRT execute_async_v3 failed (see its log above)")
            cuda_check(cudart, "cudaMemcpyAsync (device to host)", cudart.cudaMemcpyAsync(
                out.ctypes.data, d_out, out.nbytes, cudart.cudaMemcpyKind.cudaMemcpyDeviceToHost, self.stream))
            cuda_check(cudart, "cudaStreamSynchronize", cudart.cudaStreamSynchronize(self.stream))
        finally:
            freed = [cudart.cudaFree(p) for p in ptrs]
        for result in freed:
            cuda_check(cudart, "cudaFree", result)
        return out.astype(np.float32)


def compute_capability(cudart):
    props = cuda_check(cudart, "cudaGetDeviceProperties", cudart.cudaGetDeviceProperties(0))
    return f"{props.major}.{props.minor}"


def make_backend(manifest, choice):
    if choice in ("auto", "tensorrt") and manifest.get("engine"):
        try:
            return TensorRTBackend(manifest)
        except Exception as err:
            if choice == "tensorrt":
                raise
            print(f"TensorRT not used ({type(err).__name__}: {err}); falling back to onnxruntime", file=sys.stderr)
    elif choice == "tensorrt":
        raise SystemExit("--backend tensorrt: this package has no engine; build one on the device (see README.txt)")
    return OnnxRuntimeBackend(manifest)


def softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def predict(images, manifest=None, backend="auto"):
    manifest = manifest or load_manifest()
    spec = json.loads((HERE / "preprocessing.json").read_text(encoding="utf-8"))
    labels = json.loads((HERE / "labels.json").read_text(encoding="utf-8"))
    run = make_backend(manifest, backend)
    probs = softmax(run(preprocess(images, spec)))
    top = probs.argmax(1)
    return {"backend": run.name, "labels": [labels[i] for i in top], "class_index": top.tolist(),
            "scores": probs.max(1).round(6).tolist(), "probabilities": probs.round(6).tolist()}


def selftest_tolerance(golden, backend):
    """The largest probability difference allowed for ``backend`` (golden_outputs.json -> tolerance); the top-1
    classes must match whatever the backend."""
    tol = golden.get("tolerance", 1e-4)
    if isinstance(tol, (int, float)):  # a package written before tolerances were per backend
        return float(tol)
    if backend not in tol:
        raise SystemExit(f"golden_outputs.json has no selftest tolerance for backend {backend!r} (has {sorted(tol)})")
    return float(tol[backend])


def check_golden(result, golden):
    """Compare predictions with the golden ones under the backend's tolerance; a JSON-able report."""
    err = float(np.abs(np.asarray(result["probabilities"]) - np.asarray(golden["probabilities"])).max())
    same = result["class_index"] == golden["class_index"]
    tol = selftest_tolerance(golden, result["backend"])
    return {"selftest": "passed" if same and err <= tol else "FAILED", "backend": result["backend"],
            "max_prob_diff": err, "tolerance": tol, "same_classes": same}


def write_atomic(path, text):
    """Write ``text`` to ``path`` through a temporary file renamed into place (standalone: no coursekit.files)."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("images", nargs="?", help=".npy file of uint8 (N, H, W, 3) RGB images")
    ap.add_argument("--backend", choices=("auto", "onnxruntime", "tensorrt"), default="auto")
    ap.add_argument("--selftest", action="store_true", help="reproduce golden_outputs.json on golden_inputs.npy")
    ap.add_argument("--out", help="write the predictions JSON here (default: print)")
    args = ap.parse_args(argv)
    manifest = load_manifest()
    if args.selftest:
        golden = json.loads((HERE / "golden_outputs.json").read_text(encoding="utf-8"))
        result = predict(np.load(HERE / "golden_inputs.npy", allow_pickle=False), manifest, args.backend)
        report = check_golden(result, golden)
        print(json.dumps(report))
        return 0 if report["selftest"] == "passed" else 1
    if not args.images:
        ap.error("give an images .npy file, or --selftest")
    try:
        result = predict(np.load(args.images, allow_pickle=False), manifest, args.backend)
    except ValueError as err:  # a badly shaped input: refuse it with the reason, not a traceback
        raise SystemExit(f"REFUSED: {err}") from None
    text = json.dumps(result)
    if args.out:
        write_atomic(args.out, text)
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
