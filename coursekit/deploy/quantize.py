"""Smaller models: onnxruntime static INT8 (QDQ, per-channel), FP16, and the accuracy gate before packaging.

>>> accuracy_gate(0.90, 0.895, min_ratio=0.99).passed
True
>>> print(accuracy_gate(0.90, 0.85, min_ratio=0.99).message)      # doctest: +NORMALIZE_WHITESPACE
REFUSED: candidate accuracy 0.8500 is 94.44% of the reference 0.9000; the gate needs >= 99.00%
(short by 4.56 points of ratio, 0.0410 accuracy).
"""
from __future__ import annotations

import contextlib
import os
import warnings
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..files import temporary_dir_beside

__all__ = ["MIN_CALIBRATION", "CalibrationError", "CalibrationReader", "calibration_set", "quantize_int8",
           "qdq_zero_points", "tensorrt_qdq_problems", "convert_fp16", "GateResult", "GateFailed", "accuracy_gate",
           "CALIBRATION_METHODS"]

MIN_CALIBRATION = 64
"""Fewest calibration images accepted by default: a handful misses the rarer, larger activations."""

CALIBRATION_METHODS = ("minmax", "percentile", "entropy")


class CalibrationError(ValueError):
    """The calibration set is too small or malformed."""


def calibration_set(images: np.ndarray, n: int, seed: int = 0, minimum: int = MIN_CALIBRATION) -> np.ndarray:
    """``n`` images drawn at random (seeded, without replacement) from the *training* ``images``.

    >>> calibration_set(np.zeros((100, 2)), 64).shape
    (64, 2)
    """
    images = np.asarray(images)
    if n < minimum:
        raise CalibrationError(f"a calibration set of {n} images is below the minimum of {minimum}: activation "
                               f"ranges from so few images are unreliable. Draw at least {minimum} training images "
                               f"(calibration_set(train_images, n={minimum})), or lower minimum= knowingly.")
    if len(images) < n:
        raise CalibrationError(f"asked for {n} calibration images but the training data has only {len(images)}")
    idx = np.random.default_rng(seed).choice(len(images), n, replace=False)
    return images[np.sort(idx)]


class CalibrationReader:
    """An onnxruntime ``CalibrationDataReader`` over a preprocessed float32 (N, C, H, W) array, in batches; it
    enforces the minimum size."""

    def __init__(self, data: np.ndarray, input_name: str = "images", batch_size: int = 16,
                 minimum: int = MIN_CALIBRATION):
        data = np.asarray(data)
        if data.dtype != np.float32 or data.ndim != 4:
            raise CalibrationError(f"calibration data must be preprocessed float32 (N, C, H, W); got {data.dtype} "
                                   f"{data.shape}. Apply the model's preprocessing first (PreprocessSpec.apply).")
        if len(data) < minimum:
            raise CalibrationError(f"calibration data has {len(data)} images, below the minimum of {minimum}; "
                                   f"draw more from the training set (calibration_set(..., n={minimum})).")
        self.data, self.input_name, self.batch_size = data, input_name, batch_size
        self._i = 0

    def get_next(self):
        if self._i >= len(self.data):
            return None
        batch = self.data[self._i:self._i + self.batch_size]
        self._i += self.batch_size
        return {self.input_name: batch}

    def rewind(self) -> None:
        self._i = 0

    def __len__(self) -> int:
        return len(self.data)


def ort_calibration_reader():
    """:class:`CalibrationReader` as an onnxruntime ``CalibrationDataReader`` subclass (onnxruntime loads on call)."""
    from onnxruntime.quantization import CalibrationDataReader

    class _Reader(CalibrationReader, CalibrationDataReader):
        pass

    return _Reader


def quantize_int8(fp32_path: str | os.PathLike, out_path: str | os.PathLike, calibration: np.ndarray, *,
                  method: str = "minmax", per_channel: bool = True, input_name: str = "images",
                  minimum: int = MIN_CALIBRATION, percentile: float = 99.999,
                  exclude_prefixes: tuple[str, ...] = (), for_tensorrt: bool = False) -> Path:
    """Static INT8 quantisation of an FP32 ONNX file (pre-process -> QDQ, per-channel); atomic."""
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    methods = {"minmax": CalibrationMethod.MinMax, "percentile": CalibrationMethod.Percentile,
               "entropy": CalibrationMethod.Entropy}
    if method not in methods:
        raise ValueError(f"method must be one of {CALIBRATION_METHODS}; got {method!r}")
    reader = ort_calibration_reader()(np.asarray(calibration), input_name=input_name, minimum=minimum)
    fp32_path, out_path = Path(fp32_path), Path(out_path)
    if not fp32_path.is_file():
        raise FileNotFoundError(f"{fp32_path} does not exist: export the FP32 model first (export_onnx)")
    extra = {"CalibMovingAverage": False}
    if for_tensorrt:
        # biases stay float: onnxruntime would otherwise store them as int32 behind a DequantizeLinear, which
        # TensorRT's Q/DQ (INT8/FP8/INT4 only) does not take; TensorRT fuses the float bias into the INT8 conv
        extra.update(ActivationSymmetric=True, WeightSymmetric=True, QuantizeBias=False)
    if method == "percentile":
        extra["CalibPercentile"] = percentile
    with temporary_dir_beside(out_path) as tmp:
        prepped = tmp / "prepped.onnx"
        src = str(fp32_path.resolve())
        # onnxruntime's symbolic shape inference, when it fails, saves "sym_shape_infer_temp.onnx" (+ a .data file)
        # into the *current folder*: run it from the temporary folder so nothing is left behind
        with contextlib.chdir(tmp):
            try:
                quant_pre_process(src, str(prepped), skip_symbolic_shape=False)
            except Exception as err:  # e.g. YOLO's graph: "Incomplete symbolic shape inference"
                warnings.warn(f"{fp32_path.name}: symbolic shape inference failed ({err}); pre-processing with "
                              "ONNX's own shape inference only (fine when only the batch axis is dynamic)",
                              RuntimeWarning)
                quant_pre_process(src, str(prepped), skip_symbolic_shape=True)
        exclude = []
        if exclude_prefixes:
            import onnx

            exclude = [n.name for n in onnx.load(str(prepped), load_external_data=False).graph.node
                       if n.name.startswith(tuple(exclude_prefixes))]
            if not exclude:
                raise ValueError(f"no node of {fp32_path.name} starts with {exclude_prefixes}: check the node names "
                                 "(e.g. with netron or onnx.load(...).graph.node)")
        quantize_static(str(prepped), str(tmp / out_path.name), reader, quant_format=QuantFormat.QDQ,
                        per_channel=per_channel, nodes_to_exclude=exclude, weight_type=QuantType.QInt8,
                        activation_type=QuantType.QInt8 if for_tensorrt else QuantType.QUInt8,
                        calibrate_method=methods[method], extra_options=extra)
        os.replace(tmp / out_path.name, out_path)
    return out_path


def qdq_zero_points(model_or_path) -> list[tuple[str, str, np.ndarray]]:
    """``(node name, dtype name, values)`` of every QuantizeLinear / DequantizeLinear node's zero point (none: an
    implied uint8 0, as ONNX defines it)."""
    import onnx
    from onnx import numpy_helper

    model = model_or_path if isinstance(model_or_path, onnx.ModelProto) else onnx.load(str(model_or_path))
    inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    inits.update({n.output[0]: numpy_helper.to_array(a.t) for n in model.graph.node if n.op_type == "Constant"
                  for a in n.attribute if a.name == "value"})
    out = []
    for n in model.graph.node:
        if n.op_type not in ("QuantizeLinear", "DequantizeLinear"):
            continue
        if len(n.input) < 3 or not n.input[2]:
            out.append((n.name, "uint8 (implied)", np.zeros(1, np.uint8)))
        elif (zp := inits.get(n.input[2])) is None:
            out.append((n.name, "unknown (computed at run time)", np.array([])))
        else:
            out.append((n.name, zp.dtype.name, zp))
    return out


def tensorrt_qdq_problems(model_or_path) -> list[str]:
    """Why TensorRT's explicit quantisation would not take this QDQ model, one line per bad zero point (or no Q/DQ
    at all); ``[]`` when fine."""
    zps = qdq_zero_points(model_or_path)
    if not zps:
        return ["no QuantizeLinear/DequantizeLinear nodes: not a QDQ model (quant_format=QuantFormat.QDQ)"]
    problems = []
    for name, dtype, values in zps:
        if dtype == "int32":
            problems.append(f"{name}: an int32 (quantised bias) DequantizeLinear; TensorRT's Q/DQ takes int8 only: "
                            "keep biases float (extra_options QuantizeBias=False)")
        elif dtype != "int8":
            problems.append(f"{name}: zero point of type {dtype}; TensorRT needs int8 (activation_type=QuantType.QInt8)")
        elif np.any(values != 0):
            problems.append(f"{name}: non-zero zero point {values.ravel()[:4].tolist()}; TensorRT needs symmetric "
                            "scales (extra_options ActivationSymmetric=True, WeightSymmetric=True)")
    return problems


def convert_fp16(fp32_path: str | os.PathLike, out_path: str | os.PathLike) -> Path:
    """Convert an FP32 ONNX file to FP16 weights and compute (inputs and outputs stay float32); atomic."""
    import onnx
    from onnxruntime.transformers.float16 import convert_float_to_float16
    from onnxruntime.transformers.onnx_model import OnnxModel

    out_path = Path(out_path)
    half = convert_float_to_float16(onnx.load(str(fp32_path)), keep_io_types=True)
    OnnxModel.graph_topological_sort(half.graph)  # the converter appends its input casts at the end
    with temporary_dir_beside(out_path) as tmp:
        onnx.save_model(half, str(tmp / out_path.name))
        onnx.checker.check_model(str(tmp / out_path.name))
        os.replace(tmp / out_path.name, out_path)
    return out_path


@dataclass(frozen=True)
class GateResult:
    """The accuracy gate's verdict: ``passed`` and the ``message`` that says by how much."""

    passed: bool
    reference: float
    candidate: float
    ratio: float
    min_ratio: float
    metric: str
    message: str

    def as_dict(self) -> dict:
        return asdict(self)

    def require(self) -> "GateResult":
        """Raise :class:`GateFailed` (with the message) unless the gate passed."""
        if not self.passed:
            raise GateFailed(self.message)
        return self


class GateFailed(RuntimeError):
    """A model failed the accuracy gate and must not be packaged."""


def accuracy_gate(reference: float, candidate: float, *, min_ratio: float = 0.99, metric: str = "accuracy") -> GateResult:
    """Does ``candidate`` keep at least ``min_ratio`` of ``reference`` (e.g. INT8 vs FP32 accuracy)? The message says
    by how much it passed or failed."""
    if reference <= 0:
        raise ValueError(f"reference {metric} must be > 0 to take a ratio; got {reference}")
    ratio = candidate / reference
    if passed := ratio >= min_ratio:
        msg = (f"PASSED: candidate {metric} {candidate:.4f} is {ratio:.2%} of the reference {reference:.4f} "
               f"(gate >= {min_ratio:.2%}, margin {100 * (ratio - min_ratio):.2f} points of ratio).")
    else:
        msg = (f"REFUSED: candidate {metric} {candidate:.4f} is {ratio:.2%} of the reference {reference:.4f}; the gate "
               f"needs >= {min_ratio:.2%} (short by {100 * (min_ratio - ratio):.2f} points of ratio, "
               f"{min_ratio * reference - candidate:.4f} {metric}).")
    return GateResult(passed=bool(passed), reference=float(reference), candidate=float(candidate), ratio=float(ratio),
                      min_ratio=float(min_ratio), metric=metric, message=msg)
