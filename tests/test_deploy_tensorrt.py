"""coursekit.deploy.tensorrt: command builder, log parsers on realistic lines, engine compatibility."""
import pytest

from coursekit.deploy import tensorrt as T

TRTEXEC_LOG = """\
&&&& RUNNING TensorRT.trtexec [TensorRT v100300] # /usr/src/tensorrt/bin/trtexec --onnx=model_int8.onnx --saveEngine=model.engine --stronglyTyped
[11/26/2026-14:01:02] [I] TensorRT version: 10.3.0
[11/26/2026-14:01:02] [I] Selected Device: Orin
[11/26/2026-14:02:11] [I] === Performance summary ===
[11/26/2026-14:02:11] [I] Throughput: 1523.41 qps
[11/26/2026-14:02:11] [I] Latency: min = 0.612549 ms, max = 1.90454 ms, mean = 0.658203 ms, median = 0.651367 ms, percentile(90%) = 0.69751 ms, percentile(95%) = 0.716797 ms, percentile(99%) = 0.953125 ms
[11/26/2026-14:02:11] [I] Enqueue Time: min = 0.0893555 ms, max = 0.345947 ms, mean = 0.104839 ms, median = 0.0986328 ms, percentile(90%) = 0.121094 ms, percentile(95%) = 0.131836 ms, percentile(99%) = 0.19165 ms
[11/26/2026-14:02:11] [I] GPU Compute Time: min = 0.579346 ms, max = 1.85132 ms, mean = 0.623779 ms, median = 0.617432 ms, percentile(90%) = 0.661133 ms, percentile(95%) = 0.680908 ms, percentile(99%) = 0.914795 ms
&&&& PASSED TensorRT.trtexec [TensorRT v100300]
"""

ORIN = ("11-26-2026 14:05:01 RAM 3190/7620MB (lfb 1x4MB) SWAP 0/3810MB (cached 0MB) CPU [12%@1510,8%@1510,5%@1510,"
        "4%@1510,off,off] EMC_FREQ 0% GR3D_FREQ 45% cpu@48.5C soc2@46.9C soc0@47.2C gpu@47.8C tj@48.5C soc1@46.4C "
        "VDD_IN 5123mW/5002mW VDD_CPU_GPU_CV 1020mW/990mW VDD_SOC 1450mW/1440mW")
NANO = ("RAM 2062/3956MB (lfb 4x4MB) SWAP 0/1978MB (cached 0MB) IRAM 0/252kB(lfb 252kB) CPU [5%@1479,2%@1479,"
        "1%@1479,1%@1479] EMC_FREQ 0%@1600 GR3D_FREQ 0%@921 APE 25 PLL@38.5C CPU@40C PMIC@50C GPU@38C AO@46.5C "
        "thermal@39.25C POM_5V_IN 2116/2116 POM_5V_GPU 0/0 POM_5V_CPU 424/424")


def test_trtexec_command_per_precision_and_version():
    base = dict(input_name="images", shape=(3, 96, 96), max_batch=32, opt_batch=8)
    fp16 = T.trtexec_command("m.onnx", "m.engine", precision="fp16", **base)
    assert fp16[:3] == ["trtexec", "--onnx=m.onnx", "--saveEngine=m.engine"]
    assert "--minShapes=images:1x3x96x96" in fp16 and "--optShapes=images:8x3x96x96" in fp16
    assert "--maxShapes=images:32x3x96x96" in fp16 and "--fp16" in fp16
    assert "--stronglyTyped" in T.trtexec_command("q.onnx", "q.engine", precision="int8", trt_version="10.3", **base)
    old = T.trtexec_command("q.onnx", "q.engine", precision="int8", trt_version="8.6.2", **base)
    assert "--int8" in old and "--fp16" in old and "--stronglyTyped" not in old
    fp32 = T.trtexec_command("m.onnx", "m.engine", precision="fp32", **base)
    assert not {"--fp16", "--int8", "--stronglyTyped"} & set(fp32)
    with pytest.raises(ValueError, match="precision"):
        T.trtexec_command("m.onnx", "m.engine", precision="int4", **base)
    with pytest.raises(ValueError, match="opt_batch"):
        T.trtexec_command("m.onnx", "m.engine", precision="fp16", input_name="x", shape=(3, 4, 4), max_batch=2, opt_batch=4)


def test_parse_trtexec_log():
    s = T.parse_trtexec_log(TRTEXEC_LOG)
    assert s.throughput_qps == 1523.41 and s.tensorrt == "10.3.0"
    assert s.latency["median"] == pytest.approx(0.651367) and s.latency["p99"] == pytest.approx(0.953125)
    assert s.gpu_compute["mean"] == pytest.approx(0.623779) and s.gpu_compute["p90"] == pytest.approx(0.661133)
    assert "--stronglyTyped" in s.precision_flags
    with pytest.raises(ValueError, match="no trtexec performance summary"):
        T.parse_trtexec_log("[E] Error[4]: network has no inputs\n&&&& FAILED TensorRT.trtexec")


def test_parse_tegrastats_orin_and_nano():
    o = T.parse_tegrastats(ORIN)
    assert (o.ram_used_mb, o.ram_total_mb, o.gpu_load) == (3190, 7620, 45)
    assert o.cpu_load == (12, 8, 5, 4, None, None) and o.cpu_mhz[0] == 1510
    assert o.temps_c["tj"] == 48.5 and o.power_mw["VDD_SOC"] == (1450, 1440) and o.total_power_mw == 5123
    n = T.parse_tegrastats(NANO)
    assert n.ram_used_mb == 2062 and n.gpu_load == 0 and n.temps_c["gpu"] == 38.0 and n.total_power_mw == 2116
    with pytest.raises(ValueError, match="not a tegrastats line"):
        T.parse_tegrastats("hello world")


def test_foreign_engine_is_refused():
    built = {"tensorrt": "10.3.0", "compute_capability": "8.7", "l4t": "R36.3.0", "gpu": "Orin"}
    T.check_engine_compatible(built, {"tensorrt": "10.3.0.30", "compute_capability": "8.7", "l4t": "R36.3.0"})
    with pytest.raises(T.EngineMismatch) as err:
        T.check_engine_compatible(built, {"tensorrt": "8.6.2", "compute_capability": "7.2", "l4t": "R35.4.1"})
    msg = str(err.value)
    assert "TensorRT version" in msg and "compute capability" in msg and "L4T" in msg and "rebuild" in msg


def test_jetson_release(tmp_path):
    f = tmp_path / "nv_tegra_release"
    f.write_text("# R36 (release), REVISION: 3.0, GCID: 36191598, BOARD: generic, EABI: aarch64, DATE: Mon May 6\n")
    assert T.jetson_release(str(f)) == "R36.3.0"
    assert T.jetson_release(str(tmp_path / "missing")) is None


def test_build_engine_needs_tensorrt(tmp_path):
    if T.tensorrt_available():
        pytest.skip("TensorRT is installed: the engine build is exercised on the device")
    with pytest.raises(ImportError):
        T.build_engine(tmp_path / "m.onnx", tmp_path / "m.engine", precision="fp16", input_name="images", shape=(3, 8, 8))


def test_engine_record_names_the_engine_file():
    """build_engine returns (and writes beside the engine) engine_record(...): run.py loads manifest["engine"]["file"]."""
    facts = {"tensorrt": "10.3.0", "compute_capability": "8.7", "gpu": "Orin", "l4t": "R36.4.0"}
    r = T.engine_record("/tmp/out/classifier_fp16.engine", "/tmp/x/classifier.onnx", precision="fp16",
                        input_name="images", shape=(3, 96, 96), max_batch=32, facts=facts)
    assert r["file"] == "classifier_fp16.engine" and r["onnx"] == "classifier.onnx" and r["precision"] == "fp16"
    assert r["input"] == {"name": "images", "shape": [3, 96, 96], "max_batch": 32}
    assert all(r[k] == v for k, v in facts.items())
    with pytest.raises(ValueError, match="precision"):
        T.engine_record("m.engine", "m.onnx", precision="bf16", input_name="x", shape=(3,), max_batch=1, facts=facts)
    import inspect
    assert "engine_record(" in inspect.getsource(T.build_engine)   # build_engine's manifest is this record


def _run_template():
    import importlib.util
    from pathlib import Path

    path = Path(T.__file__).with_name("run_template.py")
    spec = importlib.util.spec_from_file_location("run_template_under_test", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_run_py_finds_tensors_by_io_mode_not_by_index():
    from types import SimpleNamespace

    run = _run_template()
    trt = SimpleNamespace(TensorIOMode=SimpleNamespace(INPUT="in", OUTPUT="out"))

    class Engine:
        def __init__(self, modes):
            self.modes = modes
            self.num_io_tensors = len(modes)

        def get_tensor_name(self, i):
            return list(self.modes)[i]

        def get_tensor_mode(self, name):
            return self.modes[name]

    assert run.io_tensors(Engine({"logits": "out", "images": "in"}), trt) == ("images", "logits")
    with pytest.raises(RuntimeError, match="one input and one output"):
        run.io_tensors(Engine({"a": "in", "b": "in", "c": "out"}), trt)


def test_run_py_checks_cuda_error_codes():
    import enum
    from types import SimpleNamespace

    class cudaError_t(enum.IntEnum):
        cudaSuccess = 0
        cudaErrorMemoryAllocation = 2

    cudart = SimpleNamespace(cudaError_t=cudaError_t)
    run = _run_template()
    assert run.cuda_check(cudart, "cudaMalloc", (cudaError_t.cudaSuccess, 1234)) == 1234
    assert run.cuda_check(cudart, "cudaMemcpy", (cudaError_t.cudaSuccess,)) == ()
    with pytest.raises(RuntimeError, match=r"cudaMalloc\(64 bytes\) failed: cudaErrorMemoryAllocation"):
        run.cuda_check(cudart, "cudaMalloc(64 bytes)", (cudaError_t.cudaErrorMemoryAllocation, 0))
