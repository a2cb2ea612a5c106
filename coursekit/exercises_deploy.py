"""Checks for notebook 05's exercises (deploy to the edge; the contract of :mod:`coursekit.exercise_base`): sizes,
p99 and frame budgets by hand, then the learner's own export, onnxruntime run, parity, calibration reader,
quantization and timing loop, compared with what the library computes on a small network built here.

>>> def int8_size_mb(n_params):
...     ...  # your code here
>>> check_int8_size(int8_size_mb)  # doctest: +ELLIPSIS
… int8_size_mb: not attempted yet — hint: ...
False
"""
from __future__ import annotations

import contextlib
import itertools
import math
import tempfile
import time
from pathlib import Path
from typing import Callable
from unittest import mock

import numpy as np
import torch

from .exercise_base import ExerciseError, NotAttempted, call, check_cases, correct, exercise, first_match, number, wrong

__all__ = ["check_int8_size", "check_p99", "check_fps_budget", "check_export", "check_ort_run", "check_parity",
           "check_calibration_reader", "check_quantize", "check_timing_loop", "ExerciseError"]

MB = 2**20

_SIZE_CASES = [11_689_512, 2_583_322, 1_000_000, 415_000]
_SIZE_MISTAKES = [  # (what a mistake multiplies the right size by, its hint)
    (4, "that is the FP32 size (4 bytes per weight); INT8 keeps one byte per weight."),
    (MB / 1e6, "megabytes here are 2**20 bytes (what file browsers and `du -m` show), not 10**6."),
    (1 / 8, "INT8 is 8 bits = one byte per weight; you divided by 8 bits once too often.")]
_SIZE_HINT = ("FP32 stores 4 bytes per weight, INT8 one byte; ignore the per-channel scales and zero points "
              "(a few numbers per layer). Return megabytes of 2**20 bytes.")


@exercise("int8_size_mb", _SIZE_HINT)
def check_int8_size(fn: Callable) -> bool:
    """Check ``fn(n_params) -> MB``: the INT8 weights' size of ``n_params`` weights, in MB (2**20 bytes), within 1%."""
    near = lambda a, b: math.isclose(a, b, rel_tol=0.01)  # noqa: E731
    check_cases(fn, [(f"n_params={n:,}", (n,)) for n in _SIZE_CASES], name="int8_size_mb", hint=_SIZE_HINT,
                reference=lambda n: n / MB, same=near, show=lambda v: f"{v:.3f}", source=" MB",
                mistake=lambda i, got, want: first_match(got, [(k * want, h) for k, h in _SIZE_MISTAKES], same=near))
    return correct("int8_size_mb: one byte per weight, a quarter of FP32. The measured file is a bit bigger "
                   "(scales, zero points, the graph, layers left in float).")


_P99_HINT = ("sort the timings; the 99th percentile is the value 99% of the way along them. np.percentile(t, 99) "
             "is one accepted answer (linear interpolation); the nearest-rank value t_sorted[ceil(0.99 n) - 1] is "
             "the other.")


def _p99_cases() -> list[tuple[str, tuple[np.ndarray]]]:
    rng = np.random.default_rng(5)
    return [("1..100 ms", (np.arange(1, 101, dtype=float),)),
            ("200 timings around 8 ms with 3 slow outliers",
             (np.concatenate([rng.normal(8, 0.3, 197), [25.0, 31.0, 40.0]])[rng.permutation(200)],)),
            ("1000 log-normal timings", (rng.lognormal(1.0, 0.4, 1000),)),
            ("37 timings", (rng.uniform(3, 6, 37),))]


@exercise("p99", _P99_HINT)
def check_p99(fn: Callable) -> bool:
    """Check ``fn(times_ms) -> float``, the p99: NumPy's linear or the nearest-rank definition."""
    rank = lambda t: float(t[math.ceil(0.99 * len(t)) - 1])  # noqa: E731
    n = check_cases(fn, _p99_cases(), name="p99", hint=_P99_HINT,
                    reference=lambda t: (float(np.percentile(t, 99)), rank(np.sort(t))),
                    same=lambda a, b: any(math.isclose(a, v, rel_tol=1e-6) for v in np.atleast_1d(b)),
                    show=lambda v: f"{v[0]:.4f} (linear) or {v[1]:.4f} (nearest rank)" if isinstance(v, tuple)
                    else f"{v:.4f}",
                    variants=[(np.mean, "that is the mean; the tail is what breaks a frame budget."),
                              (rank, "sort the timings first: they come in the order they were measured.")])
    return correct(f"p99: the tail latency, from raw timings, on all {n} cases.")


_FPS_HINT = ("a camera at `fps` frames per second leaves 1000 / fps ms per frame; a frame is late when "
             "pre-processing + the model's *p99* latency + post-processing exceed it.")
_FPS_CASES = [  # (p99_ms, pre_ms, post_ms, fps, meets)
    (20.0, 5.0, 3.0, 30, True), (30.0, 2.0, 2.0, 30, False), (33.0, 0.0, 0.0, 30, True),
    (12.0, 3.0, 2.0, 60, False), (9.0, 3.0, 4.0, 60, True), (80.0, 10.0, 5.0, 10, True), (50.0, 4.0, 1.0, 20, False),
]


@exercise("meets_budget", _FPS_HINT)
def check_fps_budget(fn: Callable) -> bool:
    """Check ``fn(p99_ms, pre_ms, post_ms, fps=30) -> bool``: does a model meet the frame budget at its p99?"""
    name = "meets_budget"
    for i, (p99, pre, post, fps, meets) in enumerate(_FPS_CASES):
        case = f"p99={p99} ms, pre={pre} ms, post={post} ms, fps={fps}"
        got = call(fn, (p99, pre, post), {"fps": fps}, name=name, case=case, first=i == 0, hint=_FPS_HINT)
        if not isinstance(got, (bool, np.bool_)):
            raise ExerciseError(f"{name}: for {case} you returned {got!r}; return True or False")
        if bool(got) != meets:
            budget = 1000 / fps
            raise wrong(name, case, f"{meets} (budget {budget:.1f} ms, needed {p99 + pre + post:.1f} ms)", got,
                        _FPS_HINT if p99 + pre + post != budget else "exactly on budget still meets it (<=).")
    return correct(f"{name}: frame-budget decisions right on all {len(_FPS_CASES)} cases.")


def _tiny_net():  # the classifier's ops (conv, BatchNorm, ReLU, pooling, linear), a hundred times smaller
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3, padding=1), torch.nn.BatchNorm2d(8), torch.nn.ReLU(),
                              torch.nn.Conv2d(8, 8, 3, padding=1), torch.nn.ReLU(),
                              torch.nn.AdaptiveAvgPool2d(1), torch.nn.Flatten(), torch.nn.Linear(8, 4))
    with torch.no_grad():   # BatchNorm statistics that are not the identity: eval and train modes differ
        net[1].running_mean.uniform_(-0.5, 0.5)
        net[1].running_var.uniform_(0.5, 2.0)
    return net.eval()


def _inputs(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, 3, 16, 16)).astype(np.float32)


def _torch_out(net, x: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return net.eval()(torch.from_numpy(x)).numpy()


def _reference_onnx(folder: Path, input_name: str = "images") -> tuple[object, Path]:
    """The tiny net exported by coursekit's own exporter (what the learner's run/quantize get as input)."""
    from .deploy.export import export_onnx

    net = _tiny_net()
    res = export_onnx(net, torch.from_numpy(_inputs(1)), folder / f"tiny_{input_name}.onnx", opset=17,
                      input_name=input_name, output_names=("logits",))
    return net, res.path


def _written(got, path: Path, name: str, case: str, hint: str) -> None:
    """The learner wrote ``path`` and returned it."""
    if not path.is_file():
        raise ExerciseError(f"{name}: no file at the path given ({path.name})\n  hint: {hint}")
    if Path(str(got)) != path:
        raise wrong(name, case, f"the path written ({path})", got, "return the path you wrote to.")


_EXPORT_HINT = ("torch.onnx.export(model.eval(), (example,), str(path), dynamo=False, opset_version=17, "
                "input_names=['images'], output_names=['logits'], dynamic_axes={'images': {0: 'batch'}, "
                "'logits': {0: 'batch'}}); then return path.")


@exercise("my_export", _EXPORT_HINT)
def check_export(fn: Callable) -> bool:
    """Check ``fn(model, example, path) -> path``: one ONNX file, opset 17, named, dynamic batch."""
    import onnx
    import onnxruntime as ort

    name, case = "my_export", "a small conv net (conv, BatchNorm, ReLU, linear), example of shape (1, 3, 16, 16)"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "tiny.onnx"
        got = call(fn, (_tiny_net(), torch.from_numpy(_inputs(1)), path), name=name, case=case, first=True,
                   hint=_EXPORT_HINT)
        _written(got, path, name, case, _EXPORT_HINT)
        extra = [p.name for p in Path(tmp).iterdir() if p != path]
        model = onnx.load(str(path), load_external_data=False)
        opset = next((int(i.version) for i in model.opset_import if i.domain in ("", "ai.onnx")), None)
        if opset != 17:
            raise wrong(name, case, "opset 17", f"opset {opset}",
                        "pass opset_version=17; the dynamo exporter (torch's default since 2.9) may write "
                        "another opset than asked: choose dynamo=False." if opset and opset > 17
                        else "pass opset_version=17: TensorRT 8.5+ and onnxruntime >= 1.13 read it.")
        if extra:
            raise wrong(name, case, "one self-contained .onnx file", f"also {extra}",
                        "the dynamo exporter may put the weights in a .data file beside the model; use "
                        "dynamo=False (the TorchScript exporter keeps one file below 2 GB).")
        ins, outs = [i.name for i in model.graph.input], [o.name for o in model.graph.output]
        if ins != ["images"] or outs != ["logits"]:
            raise wrong(name, case, "input ['images'], output ['logits']", f"input {ins}, output {outs}",
                        "name them: input_names=['images'], output_names=['logits'] (the package's "
                        "preprocessing and run.py feed 'images').")
        dim0 = model.graph.input[0].type.tensor_type.shape.dim[0]
        if not dim0.dim_param:
            raise wrong(name, case, "a symbolic batch axis (e.g. 'batch')", f"a fixed batch of {dim0.dim_value}",
                        "without dynamic_axes the batch axis is frozen at the example's 1: pass "
                        "dynamic_axes={'images': {0: 'batch'}, 'logits': {0: 'batch'}}.")
        x = _inputs(5, seed=1)
        sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        mine = sess.run(None, {"images": x})[0]
        ref = _torch_out(_tiny_net(), x)
        if mine.shape != ref.shape or np.abs(mine - ref).max() > 1e-4:
            diff = float(np.abs(mine - ref).max()) if mine.shape == ref.shape else mine.shape
            raise wrong(name, "batch 5 through onnxruntime vs PyTorch", "max |diff| <= 1e-4", diff,
                        "export the model in eval mode (model.eval()): in training mode BatchNorm uses the "
                        "batch's own statistics, so the exported graph computes something else.")
    return correct(f"{name}: opset 17, TorchScript exporter, dynamic batch, one file; onnxruntime gives "
                   "PyTorch's outputs at batch 5.")


_RUN_HINT = ("sess = onnxruntime.InferenceSession(str(path), opts, providers=['CPUExecutionProvider']) with "
             "opts.intra_op_num_threads = threads; name = sess.get_inputs()[0].name; "
             "return sess.run(None, {name: x})[0].")


@exercise("my_ort_run", _RUN_HINT)
def check_ort_run(fn: Callable) -> bool:
    """Check ``fn(path, x, threads=1) -> np.ndarray``, onnxruntime's first output, any input name."""
    name = "my_ort_run"
    with tempfile.TemporaryDirectory() as tmp:
        for i, (input_name, n) in enumerate((("images", 1), ("images", 4), ("pixels", 4))):
            net, path = _reference_onnx(Path(tmp), input_name)
            x = _inputs(n, seed=10 + i)
            case = f"a model whose input is named {input_name!r}, batch {n}"

            def crash(e, input_name=input_name):
                if input_name != "images" and ("images" in str(e) or "input" in str(e).lower()):
                    return ("read the input's name from the session (sess.get_inputs()[0].name) instead of "
                            "writing 'images': another model names it otherwise.")
                return None

            got = call(fn, (path, x), {"threads": 1}, name=name, case=case, first=i == 0, hint=_RUN_HINT,
                       error_hint=crash)
            if isinstance(got, (list, tuple)):
                raise wrong(name, case, "one array (N, 4)", f"a {type(got).__name__} of {len(got)}",
                            "sess.run(None, feeds) returns a list, one array per output: return its [0].")
            got = np.asarray(got)
            ref = _torch_out(net, x)
            if got.shape != ref.shape:
                raise wrong(name, case, f"shape {ref.shape}", f"shape {got.shape}", _RUN_HINT)
            if np.abs(got - ref).max() > 1e-4:
                raise wrong(name, case, "PyTorch's outputs (max |diff| <= 1e-4)",
                            f"max |diff| {np.abs(got - ref).max():.3g}", "feed x itself (float32), unchanged.")
    return correct(f"{name}: onnxruntime computes PyTorch's outputs, whatever the input is called.")


_PARITY_HINT = ("max_abs = np.abs(reference - candidate).max(); top1 = (reference.argmax(1) == "
                "candidate.argmax(1)).mean(); return float(max_abs), float(top1).")


def _parity_cases() -> list[tuple[str, np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(7)
    ref = rng.normal(size=(8, 5))
    cand = ref + rng.uniform(-1e-3, 1e-3, size=ref.shape)
    cand[3, 1] = ref[3, 1] + 0.05                         # reference - candidate: its largest deviation is negative
    second = np.argsort(ref[5])[-2]
    cand[5, second] = ref[5].max() + 0.01                  # one row whose top-1 changes (also a negative deviation)
    ref2 = rng.normal(size=(6, 3))
    cand2 = ref2 + 0.2 * rng.normal(size=ref2.shape)
    cand2[0, :] -= 0.9
    return [("8 rows x 5 classes, one row's top-1 changed", ref, cand),
            ("6 rows x 3 classes, noisy", ref2, cand2),
            ("identical outputs", ref, ref.copy())]


@exercise("my_parity", _PARITY_HINT)
def check_parity(fn: Callable) -> bool:
    """Check ``fn(reference, candidate) -> (max_abs_diff, top1_agreement)`` on (N, classes) logits."""
    name = "my_parity"
    for i, (case, ref, cand) in enumerate(_parity_cases()):
        got = call(fn, (ref.copy(), cand.copy()), name=name, case=case, first=i == 0, hint=_PARITY_HINT)
        if not isinstance(got, (tuple, list)) or len(got) != 2:
            raise wrong(name, case, "a pair (max_abs_diff, top1_agreement)", got, _PARITY_HINT)
        mx, top1 = number(got[0], name, case), number(got[1], name, case)
        d, near = ref - cand, lambda a, b: math.isclose(a, b, rel_tol=1e-9)  # noqa: E731
        want_mx, want_top1 = float(np.abs(d).max()), float(np.mean(ref.argmax(1) == cand.argmax(1)))
        absolute = "take the absolute value before the max: a large negative difference counts too."
        if not math.isclose(mx, want_mx, rel_tol=1e-9, abs_tol=1e-12):
            raise wrong(name, f"{case}: max |diff|", f"{want_mx:.6g}", f"{mx:.6g}", first_match(mx, [
                (float(d.max()), absolute), (float((-d).max()), absolute), (float(np.abs(d).mean()), "that is the "
                 "mean; parity is about the worst element: the max of |reference - candidate|.")], _PARITY_HINT,
                same=near))
        if not math.isclose(top1, want_top1, rel_tol=1e-9, abs_tol=1e-12):
            raise wrong(name, f"{case}: top-1 agreement", f"{want_top1:.4f}", f"{top1:.4f}", first_match(top1, [
                (want_top1 * len(ref), "return a fraction (agreeing rows / rows), not a count."),
                (float(np.mean(ref.argmax(0) == cand.argmax(0))), "the arg-max runs over the classes of each row: "
                 "axis=1 (or -1), not axis=0.")], _PARITY_HINT, same=near))
    return correct(f"{name}: worst absolute difference and top-1 agreement right on {len(_parity_cases())} cases.")


_READER_HINT = ("keep data, input_name and batch_size, and a position self.i = 0; get_next() returns "
                "{input_name: data[i:i + batch_size]} and moves i on, or None once i >= len(data); "
                "rewind() sets i back to 0.")


@exercise("MyCalibrationReader", _READER_HINT)
def check_calibration_reader(cls) -> bool:
    """Check ``cls(data, input_name, batch_size=16)``, a ``CalibrationDataReader``."""
    from onnxruntime.quantization import CalibrationDataReader

    name = "MyCalibrationReader"
    if not isinstance(cls, type) or not issubclass(cls, CalibrationDataReader):
        raise ExerciseError(f"{name}: write a class deriving from onnxruntime.quantization.CalibrationDataReader "
                            f"with a get_next() method; got {cls!r}")
    data = _inputs(37, seed=3)
    case = "37 images (3, 16, 16), input 'pixels', batch_size=8"
    try:
        reader = cls(data.copy(), "pixels", batch_size=8)
        got = list(itertools.islice(iter(reader.get_next, None), 40))
    except Exception as e:  # noqa: BLE001 - the learner's bug, named
        raise ExerciseError(f"{name}: raised {type(e).__name__}: {e}\n  on {case}\n  hint: {_READER_HINT}") from e
    if len(got) == 40:
        raise ExerciseError(f"{name}: get_next() still returned data after 40 calls for 37 images in batches of 8\n"
                            "  hint: return None once every image was handed out (quantize_static reads until None).")
    if not got:
        raise NotAttempted
    for j, item in enumerate(got):
        if not isinstance(item, dict) or list(item) != ["pixels"]:
            raise wrong(name, f"{case}, batch {j}", "a dict {'pixels': array}",
                        repr(item)[:80] if not isinstance(item, dict) else f"keys {list(item)}",
                        "the key is the model's input name (the one given to the constructor); "
                        "onnxruntime feeds the dict to the session.")
        b = np.asarray(item["pixels"])
        if b.ndim != 4:
            raise wrong(name, f"{case}, batch {j}", "a 4-D batch (b, 3, 16, 16)", f"shape {b.shape}",
                        "keep the batch axis: data[i:i + batch_size], not data[i].")
        if b.dtype != np.float32:
            raise wrong(name, f"{case}, batch {j}", "float32", b.dtype, "hand the preprocessed float32 data as is.")
    sizes = [len(item["pixels"]) for item in got]
    seen = np.concatenate([item["pixels"] for item in got])
    if sum(sizes) == 32:
        raise wrong(name, case, "37 images in batches 8, 8, 8, 8, 5", f"batches {sizes}",
                    "the last, shorter batch (37 = 4 x 8 + 5) is missing: stop when i >= len(data), not "
                    "when fewer than batch_size remain.")
    if seen.shape != data.shape or not np.array_equal(seen, data):
        raise wrong(name, case, "every image exactly once, in order", f"{len(seen)} images in batches {sizes}",
                    _READER_HINT)
    if any(s != 8 for s in sizes[:-1]):
        raise wrong(name, case, "batches of 8 (the last may be shorter)", f"batches {sizes}",
                    "use the batch_size given to the constructor.")
    own = {k for c in cls.__mro__ if c not in (CalibrationDataReader, object) for k in vars(c)}
    if "rewind" in own:   # optional (quantize_static reads once), but when written it must work
        reader.rewind()
        again = reader.get_next()
        if again is None or not np.array_equal(np.asarray(again["pixels"]), data[:8]):
            raise wrong(name, f"{case}: rewind() then get_next()", "the first batch again",
                        "None" if again is None else "another batch", "rewind() puts the position back to 0.")
    return correct(f"{name}: every image once, in batches of the right size and key, then None.")


_QUANT_HINT = ("quantize_static(str(fp32_path), str(out_path), reader, quant_format=QuantFormat.QDQ, "
               "per_channel=True, activation_type=QuantType.QInt8, weight_type=QuantType.QInt8, "
               "calibrate_method=CalibrationMethod.MinMax, extra_options={'ActivationSymmetric': True, "
               "'WeightSymmetric': True, 'QuantizeBias': False}); return out_path.")


def _qdq_weight_scale_sizes(model) -> list[int]:
    """For each Conv, the number of scales of the DequantizeLinear feeding its weight (1: per tensor)."""
    from onnx import numpy_helper

    inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    producer = {o: n for n in model.graph.node for o in n.output}
    sizes = []
    for n in model.graph.node:
        if n.op_type == "Conv" and len(n.input) > 1:
            dq = producer.get(n.input[1])
            if dq is not None and dq.op_type == "DequantizeLinear" and dq.input[1] in inits:
                sizes.append(int(inits[dq.input[1]].size))
    return sizes


@exercise("my_quantize", _QUANT_HINT)
def check_quantize(fn: Callable) -> bool:
    """Check ``fn(fp32_path, out_path, reader) -> out_path``: a QDQ INT8 model TensorRT can build."""
    import onnx
    import onnxruntime as ort

    from .deploy.quantize import ort_calibration_reader, tensorrt_qdq_problems

    name = "my_quantize"
    with tempfile.TemporaryDirectory() as tmp:
        net, fp32 = _reference_onnx(Path(tmp))
        out = Path(tmp) / "tiny_int8.onnx"
        reader = ort_calibration_reader()(_inputs(64, seed=4), input_name="images", batch_size=16)
        case = "the small conv net, 64 calibration images"
        with warnings_off():
            got = call(fn, (fp32, out, reader), name=name, case=case, first=True, hint=_QUANT_HINT)
        _written(got, out, name, case, _QUANT_HINT)
        model = onnx.load(str(out))
        ops = {n.op_type for n in model.graph.node}
        if "QLinearConv" in ops or "QuantizeLinear" not in ops:
            raise wrong(name, case, "QuantizeLinear/DequantizeLinear pairs (QDQ)", f"ops {sorted(ops)[:8]}",
                        "pass quant_format=QuantFormat.QDQ: the QOperator format (QLinearConv) is "
                        "onnxruntime's own; TensorRT reads Q/DQ pairs.")
        if problems := tensorrt_qdq_problems(model):
            first = problems[0]
            hint = ("activation_type=QuantType.QInt8: unsigned activations (onnxruntime's x86 default QUInt8) carry "
                    "a zero point TensorRT does not take." if "uint8" in first else
                    "biases quantised to int32: pass extra_options={'QuantizeBias': False, ...}." if "int32" in first
                    else "symmetric ranges: extra_options={'ActivationSymmetric': True, 'WeightSymmetric': True} put "
                    "every zero point at 0.")
            raise wrong(name, case, "every Q/DQ zero point an int8 0", f"{len(problems)} problem(s): {first}",
                        hint)
        sizes = _qdq_weight_scale_sizes(model)
        if not sizes or min(sizes) == 1:
            raise wrong(name, case, "one weight scale per output channel (8 per conv)", f"scales {sizes}",
                        "per_channel=True: one scale per output channel, far less rounding error than one "
                        "per tensor.")
        x = _inputs(16, seed=5)
        mine = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"]).run(None, {"images": x})[0]
        ref = _torch_out(net, x)
        cos = float((mine.ravel() @ ref.ravel()) / (np.linalg.norm(mine) * np.linalg.norm(ref) + 1e-12))
        if cos < 0.98:
            raise wrong(name, case, "outputs close to FP32 (cosine >= 0.98)", f"cosine {cos:.4f}",
                        "calibrate on the reader given (calibration_data_reader=reader) with MinMax or "
                        "Percentile.")
    return correct(f"{name}: QDQ, symmetric signed INT8 (zero points 0), per-channel weights; outputs within "
                   f"cosine {cos:.4f} of FP32.")


@contextlib.contextmanager
def warnings_off():
    """Silence warnings and onnxruntime.quantization's log lines (it logs a pre-processing hint at WARNING)."""
    import logging, warnings  # noqa: E401

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        logging.disable(logging.WARNING)
        try:
            yield
        finally:
            logging.disable(logging.NOTSET)


_TIME_HINT = ("for _ in range(warmup): run(x)   # untimed\n"
              "        times = []; for _ in range(iters): t0 = time.perf_counter(); run(x); "
              "times.append((time.perf_counter() - t0) * 1000)\n        return np.array(times)")


class _FakeClock:  # moves only while the runner runs: call k takes a known time (the first ones slow)

    def __init__(self, slow_first: int):
        self.now, self.calls, self.slow_first = 1000.0, 0, slow_first

    def duration_ms(self, k: int) -> float:  # k: 1-based call number; the warm-up calls take 50 ms
        j = k - self.slow_first
        return 50.0 if j <= 0 else 9.0 if j % 50 == 0 else 1.0 + 0.01 * (j % 37)

    def perf_counter(self) -> float:
        return self.now

    def run(self, x):
        self.calls += 1
        self.now += self.duration_ms(self.calls) / 1000.0
        return x


@exercise("my_time_calls", _TIME_HINT)
def check_timing_loop(fn: Callable) -> bool:
    """Check ``fn(run, x, warmup=10, iters=200) -> ms`` per call, on a fake ``time.perf_counter``."""
    name = "my_time_calls"
    for i, (warmup, iters) in enumerate(((5, 200), (0, 10), (3, 250))):
        clock = _FakeClock(slow_first=warmup if warmup else 0)
        case = f"warmup={warmup}, iters={iters} (a runner whose first {warmup} calls take 50 ms)"
        with mock.patch.object(time, "perf_counter", clock.perf_counter):
            got = call(fn, (clock.run, np.zeros((1, 3, 4, 4), np.float32)), {"warmup": warmup, "iters": iters},
                       name=name, case=case, first=i == 0, hint=_TIME_HINT)
        t = np.atleast_1d(np.asarray(got, dtype=float)).ravel()
        expected = np.array([clock.duration_ms(k) for k in range(warmup + 1, warmup + iters + 1)])
        if clock.calls != warmup + iters:
            raise wrong(name, case, f"{warmup + iters} calls of run ({warmup} warm-up + {iters} timed)",
                        f"{clock.calls} calls", "call run exactly warmup times untimed, then iters times timed.")
        if t.size == 1 and iters > 1:
            raise wrong(name, case, f"{iters} timings, one per call", f"one number ({t[0]:.4g})",
                        "time each call on its own and return them all: the tail (p99) needs the distribution, "
                        "a total or a mean hides it.")
        if t.size != iters:
            raise wrong(name, case, f"{iters} timings", f"{t.size} timings", "return one timing per timed call.")
        if np.allclose(t, expected / 1000.0, rtol=1e-6):
            raise wrong(name, case, "milliseconds", "seconds", "time.perf_counter() counts seconds: x 1000.")
        if np.all(np.abs(t) < 0.5) and not np.allclose(t, expected, rtol=1e-6):
            raise wrong(name, case, f"timings from time.perf_counter (median {np.median(expected):.2f} ms on "
                        "the check's clock)", f"median {np.median(t):.4f}",
                        "read the clock as time.perf_counter() (the check replaces it; time.time() is coarse "
                        "and can jump; `from time import perf_counter` binds the real one).")
        if not np.allclose(t, expected, rtol=1e-6):
            hint = ("the warm-up calls are in your timings: run them first, untimed." if warmup and
                    np.any(np.isclose(t, 50.0)) else "keep the timings in the order they were measured (sort later, "
                    "for percentiles)." if np.allclose(np.sort(t), np.sort(expected), rtol=1e-6) else _TIME_HINT)
            raise wrong(name, case, f"per-call times, first {expected[:3].round(3).tolist()}",
                        f"{t[:3].round(3).tolist()}", hint)
    return correct(f"{name}: warm-up untimed, each call timed on its own with perf_counter, in ms.")
