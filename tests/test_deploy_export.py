"""coursekit.deploy.export / quantize: ONNX export (opset asserted, atomic), parity, INT8/FP16, the gate."""
import numpy as np
import pytest
import torch

from coursekit.deploy import export as E
from coursekit.deploy import quantize as Q
from coursekit.deploy.benchmark import onnx_runner


class Tiny(torch.nn.Module):
    def __init__(self):
        super().__init__()
        torch.manual_seed(0)
        self.conv = torch.nn.Conv2d(3, 8, 3, padding=1)
        self.bn = torch.nn.BatchNorm2d(8)
        self.fc = torch.nn.Linear(8, 4)

    def forward(self, x):
        return self.fc(torch.relu(self.bn(self.conv(x))).mean((2, 3)))


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    net = Tiny().eval()
    path = tmp_path_factory.mktemp("onnx") / "tiny.onnx"
    res = E.export_onnx(net, torch.zeros(1, 3, 16, 16), path, opset=17)
    return net, res


def test_opset_is_asserted_and_batch_is_dynamic(exported):
    import onnx

    _, res = exported
    assert res.opset == 17 == E.onnx_opset(res.path)
    dim0 = onnx.load(str(res.path)).graph.input[0].type.tensor_type.shape.dim[0]
    assert dim0.dim_param == "batch"


@pytest.mark.parametrize("batch", [1, 7])
def test_parity_at_batch_1_and_larger(exported, batch):
    net, res = exported
    x = np.random.default_rng(batch).normal(size=(batch, 3, 16, 16)).astype(np.float32)
    with torch.no_grad():
        ref = net(torch.from_numpy(x)).numpy()
    r = E.parity(ref, onnx_runner(res.path).numpy(x))
    assert r.ok and r.batch == batch and r.max_abs_err < 1e-4 and r.top1_agreement == 1.0, r


def test_parity_catches_a_wrong_model(exported):
    _, res = exported
    x = np.random.default_rng(0).normal(size=(5, 3, 16, 16)).astype(np.float32)
    with torch.no_grad():
        other = Tiny().eval()
        torch.nn.init.normal_(other.fc.weight)
        ref = other(torch.from_numpy(x)).numpy()
    assert not E.parity(ref, onnx_runner(res.path).numpy(x)).ok


def test_wrong_opset_request_fails_and_leaves_nothing(tmp_path, monkeypatch):
    """A failed check (here: the file declares another opset) leaves no .onnx and no temporary file."""
    real = E.onnx_opset
    monkeypatch.setattr(E, "onnx_opset", lambda m: real(m) + 1)
    with pytest.raises(AssertionError, match="opset"):
        E.export_onnx(Tiny().eval(), torch.zeros(1, 3, 16, 16), tmp_path / "m.onnx", opset=17)
    assert list(tmp_path.iterdir()) == []


def test_failing_model_leaves_no_file(tmp_path):
    class Broken(torch.nn.Module):
        def forward(self, x):
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        E.export_onnx(Broken(), torch.zeros(1, 3, 4, 4), tmp_path / "m.onnx")
    assert list(tmp_path.iterdir()) == []


def test_external_data_is_written_and_loadable(tmp_path):
    res = E.export_onnx(Tiny().eval(), torch.zeros(1, 3, 16, 16), tmp_path / "ext.onnx", external_data=True)
    assert res.external_data == tmp_path / "ext.onnx.data" and res.external_data.is_file()
    x = np.ones((2, 3, 16, 16), np.float32)
    assert onnx_runner(res.path).numpy(x).shape == (2, 4)


def test_calibration_minimum_is_enforced():
    with pytest.raises(Q.CalibrationError, match="below the minimum of 64"):
        Q.calibration_set(np.zeros((100, 4)), n=10)
    with pytest.raises(Q.CalibrationError, match="below the minimum"):
        Q.CalibrationReader(np.zeros((10, 3, 4, 4), np.float32))
    with pytest.raises(Q.CalibrationError, match="float32"):
        Q.CalibrationReader(np.zeros((100, 4, 4, 3), np.uint8))


@pytest.mark.parametrize("method", ["minmax", "percentile"])
def test_int8_qdq_is_smaller_and_close(exported, tmp_path, method):
    import onnx

    net, res = exported
    calib = np.random.default_rng(1).normal(size=(32, 3, 16, 16)).astype(np.float32)
    out = Q.quantize_int8(res.path, tmp_path / f"q_{method}.onnx", calib, method=method, minimum=32)
    ops = {n.op_type for n in onnx.load(str(out)).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops  # QDQ format
    x = calib[:8]
    with torch.no_grad():
        ref = net(torch.from_numpy(x)).numpy()
    assert E.parity(ref, onnx_runner(out).numpy(x), atol=0.2, min_cosine=0.98, min_top1=0.5).cosine > 0.98
    assert not list(tmp_path.glob(".*tmp"))


def test_fp16_halves_size_and_passes_checker(exported, tmp_path):
    net, res = exported
    out = Q.convert_fp16(res.path, tmp_path / "h.onnx")
    x = np.random.default_rng(2).normal(size=(4, 3, 16, 16)).astype(np.float32)
    with torch.no_grad():
        ref = net(torch.from_numpy(x)).numpy()
    assert E.parity(ref, onnx_runner(out).numpy(x), atol=1e-2).ok


def test_gate_refuses_and_says_by_how_much():
    g = Q.accuracy_gate(0.80, 0.70, min_ratio=0.99)
    assert not g.passed and "REFUSED" in g.message and "short by 11.50 points" in g.message
    with pytest.raises(Q.GateFailed, match="REFUSED"):
        g.require()
    assert Q.accuracy_gate(0.80, 0.80).require().passed


def test_failed_symbolic_shape_inference_leaves_no_litter(exported, tmp_path, monkeypatch):
    """onnxruntime writes sym_shape_infer_temp.onnx into the current folder when symbolic inference fails."""
    import onnxruntime.quantization.shape_inference as si

    real = si.quant_pre_process
    calls = []

    def flaky(src, dst, skip_symbolic_shape=False, **kw):
        calls.append(skip_symbolic_shape)
        if not skip_symbolic_shape:
            open("sym_shape_infer_temp.onnx", "w").close()
            raise Exception("Incomplete symbolic shape inference")
        return real(src, dst, skip_symbolic_shape=True, **kw)

    monkeypatch.setattr(si, "quant_pre_process", flaky)
    work = tmp_path / "cwd"
    work.mkdir()
    monkeypatch.chdir(work)
    calib = np.random.default_rng(1).normal(size=(32, 3, 16, 16)).astype(np.float32)
    with pytest.warns(RuntimeWarning, match="symbolic shape inference failed"):
        out = Q.quantize_int8(exported[1].path, "q.onnx", calib, minimum=32)
    assert calls == [False, True] and out.is_file()
    assert sorted(p.name for p in work.iterdir()) == ["q.onnx"]


def test_dynamo_exporter_needs_onnxscript(tmp_path):
    try:
        import onnxscript  # noqa: F401
    except ImportError:
        with pytest.raises(ImportError, match="onnxscript"):
            E.export_onnx(Tiny().eval(), torch.zeros(1, 3, 16, 16), tmp_path / "d.onnx", exporter="dynamo")
        assert list(tmp_path.iterdir()) == []
    else:
        res = E.export_onnx(Tiny().eval(), torch.zeros(1, 3, 16, 16), tmp_path / "d.onnx", exporter="dynamo", opset=18)
        assert res.opset == 18 and res.exporter == "dynamo"


def test_tensorrt_variant_is_symmetric_signed_int8(exported, tmp_path):
    """TensorRT's explicit quantisation takes signed symmetric INT8 Q/DQ only: every zero point int8 and 0."""
    import onnx
    from onnx import numpy_helper

    net, res = exported
    calib = np.random.default_rng(3).normal(size=(32, 3, 16, 16)).astype(np.float32)
    out = Q.quantize_int8(res.path, tmp_path / "q_trt.onnx", calib, minimum=32, for_tensorrt=True)
    model = onnx.load(str(out))
    inits = {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}
    qdq = [n for n in model.graph.node if n.op_type in ("QuantizeLinear", "DequantizeLinear")]
    assert len(qdq) >= 4
    for n in qdq:   # read straight from the file, not through coursekit's helper
        assert len(n.input) == 3 and n.input[2] in inits, f"{n.name}: no explicit zero point (implied uint8)"
        zp = inits[n.input[2]]
        assert zp.dtype == np.int8, f"{n.name}: zero point {zp.dtype}, TensorRT needs int8"
        assert not np.any(zp != 0), f"{n.name}: non-zero zero point {zp}"
    assert Q.tensorrt_qdq_problems(out) == []
    x = calib[:8]
    with torch.no_grad():
        ref = net(torch.from_numpy(x)).numpy()
    assert E.parity(ref, onnx_runner(out).numpy(x), atol=0.3, min_cosine=0.98, min_top1=0.5).cosine > 0.98


def test_default_cpu_variant_is_flagged_for_tensorrt(exported, tmp_path):
    """The x86 default (QUInt8 asymmetric activations) is what TensorRT does not take: the checker says so."""
    _, res = exported
    calib = np.random.default_rng(3).normal(size=(32, 3, 16, 16)).astype(np.float32)
    out = Q.quantize_int8(res.path, tmp_path / "q_u8.onnx", calib, minimum=32)
    problems = Q.tensorrt_qdq_problems(out)
    assert problems and any("uint8" in p for p in problems)
    assert Q.tensorrt_qdq_problems(res.path) and "not a QDQ model" in Q.tensorrt_qdq_problems(res.path)[0]
