"""coursekit.exercises_deploy: each check accepts a right answer, names each usual mistake, and says "not
attempted" (returning False, raising nothing) for the notebook's blank stub."""
from __future__ import annotations

import math
import time

import numpy as np
import pytest
import torch

from coursekit import exercises_deploy as X
from coursekit.exercise_base import ExerciseError


def _blank(*args, **kwargs):
    ...  # ✏️ your code here


# ------------------------------------------------------------------------------------------- export

def export_right(model, example, path):
    torch.onnx.export(model.eval(), (example,), str(path), dynamo=False, opset_version=17, input_names=["images"],
                      output_names=["logits"], dynamic_axes={"images": {0: "batch"}, "logits": {0: "batch"}})
    return path


def _export(**over):
    def fn(model, example, path):
        kw = dict(dynamo=False, opset_version=17, input_names=["images"], output_names=["logits"],
                  dynamic_axes={"images": {0: "batch"}, "logits": {0: "batch"}})
        kw.update(over)
        torch.onnx.export(model.eval(), (example,), str(path), **{k: v for k, v in kw.items() if v is not None})
        return path
    return fn


def test_export_right_and_blank(capsys):
    assert X.check_export(export_right) is True
    assert X.check_export(_blank) is False
    assert "not attempted" in capsys.readouterr().out


@pytest.mark.parametrize("wrong, match", [
    (_export(opset_version=13), "opset_version=17"),
    (_export(dynamic_axes=None), "dynamic_axes"),
    (_export(input_names=["input"]), "input_names=\\['images'\\]"),
])
def test_export_names_the_mistake(wrong, match):
    with pytest.raises(ExerciseError, match=match):
        X.check_export(wrong)


def test_export_must_return_the_path():
    def no_return_value(model, example, path):
        export_right(model, example, path)
        return "somewhere.onnx"
    with pytest.raises(ExerciseError, match="return the path"):
        X.check_export(no_return_value)


# ---------------------------------------------------------------------------------------- ORT run

def ort_right(path, x, threads=1):
    import onnxruntime as ort
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    sess = ort.InferenceSession(str(path), opts, providers=["CPUExecutionProvider"])
    return sess.run(None, {sess.get_inputs()[0].name: x})[0]


def test_ort_run_right_blank_and_mistakes(capsys):
    import onnxruntime as ort
    assert X.check_ort_run(ort_right) is True
    assert X.check_ort_run(_blank) is False and "not attempted" in capsys.readouterr().out

    def hard_coded(path, x, threads=1):
        return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"images": x})[0]

    def the_list(path, x, threads=1):
        sess = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        return sess.run(None, {sess.get_inputs()[0].name: x})

    with pytest.raises(ExerciseError, match="get_inputs"):
        X.check_ort_run(hard_coded)
    with pytest.raises(ExerciseError, match="returns a list"):
        X.check_ort_run(the_list)


# ----------------------------------------------------------------------------------------- parity

def parity_right(reference, candidate):
    return float(np.abs(reference - candidate).max()), float((reference.argmax(1) == candidate.argmax(1)).mean())


@pytest.mark.parametrize("wrong, match", [
    (lambda r, c: (float((r - c).max()), float((r.argmax(1) == c.argmax(1)).mean())), "absolute value"),
    (lambda r, c: (float(np.abs(r - c).mean()), float((r.argmax(1) == c.argmax(1)).mean())), "that is the mean"),
    (lambda r, c: (float(np.abs(r - c).max()), float((r.argmax(1) == c.argmax(1)).sum())), "fraction"),
    (lambda r, c: (float(np.abs(r - c).max()), float((r.argmax(0) == c.argmax(0)).mean())), "axis=1"),
])
def test_parity_names_the_mistake(wrong, match):
    with pytest.raises(ExerciseError, match=match):
        X.check_parity(wrong)


def test_parity_right_and_blank(capsys):
    assert X.check_parity(parity_right) is True
    assert X.check_parity(_blank) is False and "not attempted" in capsys.readouterr().out


# ------------------------------------------------------------------------------ calibration reader

def _reader_class(step=None, key=None, drop_last=False, single=False, endless=False):
    from onnxruntime.quantization import CalibrationDataReader

    class Reader(CalibrationDataReader):
        def __init__(self, data, input_name, batch_size=16):
            self.data, self.name, self.b, self.i = data, input_name, batch_size, 0

        def get_next(self):
            n = len(self.data) - (len(self.data) % self.b if drop_last else 0)
            if self.i >= n and not endless:
                return None
            b = step or self.b
            batch = self.data[self.i % len(self.data)] if single else self.data[self.i:self.i + b]
            self.i += 1 if single else b
            return {key or self.name: batch}

        def rewind(self):
            self.i = 0

    return Reader


class BlankReader:
    def __init__(self, data, input_name, batch_size=16):
        ...  # ✏️ your code here

    def get_next(self):
        ...  # ✏️ your code here


def test_calibration_reader_right_and_blank(capsys):
    assert X.check_calibration_reader(_reader_class()) is True
    assert X.check_calibration_reader(BlankReader) is False and "not attempted" in capsys.readouterr().out


@pytest.mark.parametrize("kw, match", [
    (dict(key="images"), "input name"),
    (dict(drop_last=True), "last, shorter batch"),
    (dict(single=True), "keep the batch axis"),
    (dict(endless=True), "return None"),
    (dict(step=4), "batch_size given"),
])
def test_calibration_reader_names_the_mistake(kw, match):
    with pytest.raises(ExerciseError, match=match):
        X.check_calibration_reader(_reader_class(**kw))


# ---------------------------------------------------------------------------------- quantize_static

def _quantizer(**over):
    def fn(fp32_path, out_path, reader):
        from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
        kw = dict(quant_format=QuantFormat.QDQ, per_channel=True, activation_type=QuantType.QInt8,
                  weight_type=QuantType.QInt8, calibrate_method=CalibrationMethod.MinMax,
                  extra_options={"ActivationSymmetric": True, "WeightSymmetric": True, "QuantizeBias": False})
        kw.update(over)
        quantize_static(str(fp32_path), str(out_path), reader, **kw)
        return out_path
    return fn


def test_quantize_right_and_blank(capsys):
    assert X.check_quantize(_quantizer()) is True
    assert X.check_quantize(_blank) is False and "not attempted" in capsys.readouterr().out


def test_quantize_names_the_mistake():
    from onnxruntime.quantization import QuantFormat, QuantType
    cases = [(_quantizer(activation_type=QuantType.QUInt8, extra_options={"QuantizeBias": False}), "QInt8"),
             (_quantizer(extra_options={"QuantizeBias": False}), "ActivationSymmetric"),
             (_quantizer(extra_options={"ActivationSymmetric": True, "WeightSymmetric": True}), "QuantizeBias"),
             (_quantizer(per_channel=False), "per_channel=True"),
             (_quantizer(quant_format=QuantFormat.QOperator), "QuantFormat.QDQ")]
    for wrong, match in cases:
        with pytest.raises(ExerciseError, match=match):
            X.check_quantize(wrong)


# ----------------------------------------------------------------------------------- timing loop

def time_right(run, x, warmup=10, iters=200):
    for _ in range(warmup):
        run(x)
    times = []
    for _ in range(iters):
        t0 = time.perf_counter()
        run(x)
        times.append((time.perf_counter() - t0) * 1000)
    return np.array(times)


def time_warmup_timed(run, x, warmup=10, iters=200):
    out = []
    for _ in range(warmup + iters):
        t0 = time.perf_counter()
        run(x)
        out.append((time.perf_counter() - t0) * 1000)
    return out[:iters]


def time_seconds(run, x, warmup=10, iters=200):
    return time_right(run, x, warmup, iters) / 1000


def time_mean(run, x, warmup=10, iters=200):
    return float(np.mean(time_right(run, x, warmup, iters)))


def time_no_warmup(run, x, warmup=10, iters=200):
    return time_right(run, x, 0, iters)


def time_wall_clock(run, x, warmup=10, iters=200):
    for _ in range(warmup):
        run(x)
    out = []
    for _ in range(iters):
        t0 = time.time()
        run(x)
        out.append((time.time() - t0) * 1000)
    return out


def time_sorted(run, x, warmup=10, iters=200):
    return np.sort(time_right(run, x, warmup, iters))


def test_timing_loop_right_and_blank(capsys):
    assert X.check_timing_loop(time_right) is True
    assert X.check_timing_loop(_blank) is False and "not attempted" in capsys.readouterr().out
    t0 = time.perf_counter()
    assert time.perf_counter() >= t0   # the real clock is back after the check


@pytest.mark.parametrize("wrong, match", [
    (time_warmup_timed, "warm-up calls are in your timings"), (time_seconds, "x 1000"), (time_mean, "each call on its own"),
    (time_no_warmup, "warmup times untimed"), (time_wall_clock, "time.perf_counter"), (time_sorted, "order"),
])
def test_timing_loop_names_the_mistake(wrong, match):
    with pytest.raises(ExerciseError, match=match):
        X.check_timing_loop(wrong)


def test_existing_checks_still_take_blank_stubs():
    assert X.check_p99(_blank) is False
    assert X.check_int8_size(_blank) is False
    assert X.check_fps_budget(_blank) is False
    assert X.check_p99(lambda t: float(np.percentile(t, 99)))
    assert math.isclose(1.0, 1.0)
