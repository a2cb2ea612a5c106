"""coursekit.deploy.benchmark and detect: percentiles on known timings, the protocol, NMS and box agreement."""
import numpy as np
import pytest

import importlib

B = importlib.import_module("coursekit.deploy.benchmark")  # the package exports a function of the same name
from coursekit.deploy import detect as DD


def test_percentiles_of_known_timings():
    s = B.latency_stats(list(range(1, 101)), batch=4)  # 1..100 ms
    assert (s.n, s.batch, s.min, s.max) == (100, 4, 1.0, 100.0)
    assert s.p50 == pytest.approx(50.5) and s.p90 == pytest.approx(90.1) and s.p99 == pytest.approx(99.01)


def test_benchmark_on_a_fake_clock_counts_only_timed_calls():
    # per-call durations 1, 1, 1, ..., then one slow call of 10 "seconds"
    durations = iter([1.0] * 9 + [10.0] + [2.0] * 10)
    state = {"t": 0.0, "open": False}
    calls = []

    def clock():
        if state["open"]:
            state["t"] += next(durations)
        state["open"] = not state["open"]
        return state["t"]

    def run(x):
        calls.append(len(x))

    class Runner:
        synced = 0

        def __call__(self, x):
            run(x)

        def sync(self):
            Runner.synced += 1

    r = B.benchmark(Runner(), lambda b: np.zeros((b, 2)), name="fake", backend="none", precision="fp32",
                    batches=(1, 5), warmup=2, iters=10, clock=clock, measure_memory=False)
    assert calls == [1] * 12 + [5] * 12           # warm-up calls run, but are not timed
    assert Runner.synced == 24                    # sync after every call, warm-up included
    assert r.latency[1].max == 10000.0 and r.latency[1].p50 == 1000.0 and r.latency[5].mean == 2000.0
    assert r.throughput == pytest.approx(5 / 2.0) and r.timed == "model only"
    assert r.raw_ms[1][-1] == 10000.0
    with pytest.raises(ValueError, match="timed"):
        B.benchmark(run, np.zeros((1, 2)), name="x", backend="x", precision="x", timed="everything")


def test_benchmark_real_runner_and_table(tmp_path):
    f = tmp_path / "m.bin"
    f.write_bytes(b"0" * 2**20)
    r = B.benchmark(lambda x: x.sum(), np.ones((8, 3)), name="np", backend="numpy", precision="fp32",
                    batches=(1, 8), warmup=1, iters=5, size_paths=[f], timed="end to end")
    assert r.size_mb == pytest.approx(1.0) and r.peak_rss_mb > 0 and r.latency[8].n == 5
    table = B.benchmark_table([r], {"np": {"accuracy": 0.5}})
    assert table.loc["np", "accuracy"] == 0.5 and "p99 ms (b=1)" in table.columns
    assert table.loc["np", "timed"] == "end to end"


def _rss_now_mb():
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def test_peak_rss_is_the_peak_not_the_rss_after_each_batch():
    """A runner that allocates 256 MiB and frees it: RSS before and after every batch misses it; the process's
    high-water mark (ru_maxrss) does not."""
    before = _rss_now_mb()

    def spike(x):
        big = np.ones(256 * 2**20 // 8)            # 256 MiB, touched, freed on return
        return x.sum() + big[-1]

    r = B.benchmark(spike, np.ones((2, 3)), name="spike", backend="numpy", precision="fp32", batches=(1,),
                    warmup=0, iters=1)
    assert r.peak_rss_mb >= before + 200, (before, r.peak_rss_mb, _rss_now_mb())
    assert r.peak_rss_mb >= _rss_now_mb() - 1 and r.peak_rss_mb == pytest.approx(B.peak_rss_mb(), abs=1)
    off = B.benchmark(spike, np.ones((2, 3)), name="x", backend="numpy", precision="fp32", batches=(1,), warmup=0,
                      iters=1, measure_memory=False)
    assert off.peak_rss_mb is None


def test_cpu_info_reads_flags(tmp_path):
    f = tmp_path / "cpuinfo"
    f.write_text("processor\t: 0\nmodel name\t: Test CPU\nflags\t\t: fpu avx2 avx512_vnni amx_int8\n")
    info = B.cpu_info(str(f))
    assert info["model"] == "Test CPU" and info["int8_flags"]["avx512_vnni"] and not info["int8_flags"]["asimddp"]
    arm = tmp_path / "cpuinfo_arm"
    arm.write_text("processor\t: 0\nFeatures\t: fp asimd asimddp i8mm\n")
    assert B.cpu_info(str(arm))["int8_flags"]["asimddp"]


def test_nms_and_decode_match_torchvision():
    torchvision = pytest.importorskip("torchvision")
    import torch

    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 100, (200, 2))
    boxes = np.concatenate([xy, xy + rng.uniform(5, 40, (200, 2))], 1)
    scores = rng.uniform(0, 1, 200)
    ours = DD.nms(boxes, scores, 0.5)
    theirs = torchvision.ops.nms(torch.tensor(boxes), torch.tensor(scores), 0.5).numpy()
    assert ours.tolist() == theirs.tolist()


def test_box_agreement():
    raw = np.zeros((2, 6, 4), np.float32)  # 2 images, 2 classes, 4 anchors
    raw[:, :4, 0] = [50, 50, 20, 20]
    raw[:, 4, 0] = 0.9
    raw[:, :4, 1] = [10, 10, 8, 8]
    raw[:, 5, 1] = 0.6
    ref = DD.decode_yolo(raw)
    assert [len(b) for b, _, _ in ref] == [2, 2]
    same = DD.box_agreement(ref, DD.decode_yolo(raw.copy()))
    assert same.matched == 1.0 and same.extra == 0 and same.mean_iou == pytest.approx(1.0)
    moved = raw.copy()
    moved[:, 0, 0] += 15  # the big box moves by 15 px: IoU < 0.9
    a = DD.box_agreement(ref, DD.decode_yolo(moved))
    assert a.matched == 0.5 and a.extra == 2
    empty = DD.decode_yolo(np.zeros((1, 6, 4), np.float32))
    assert DD.box_agreement(empty, empty).matched == 1.0
    assert DD.box_agreement(empty, DD.decode_yolo(raw[:1])).matched == 0.0


def test_deploy_exercise_checks():
    from coursekit import exercises_deploy as X

    assert X.check_int8_size(lambda n: n / 2**20)
    with pytest.raises(X.ExerciseError, match="FP32 size"):
        X.check_int8_size(lambda n: 4 * n / 2**20)
    assert X.check_p99(lambda t: float(np.percentile(t, 99)))
    assert X.check_p99(lambda t: float(np.sort(t)[int(np.ceil(0.99 * len(t))) - 1]))
    with pytest.raises(X.ExerciseError, match="mean"):
        X.check_p99(lambda t: float(np.mean(t)))
    assert X.check_fps_budget(lambda p99, pre, post, fps=30: pre + p99 + post <= 1000 / fps)
    with pytest.raises(X.ExerciseError):
        X.check_fps_budget(lambda p99, pre, post, fps=30: p99 <= 1000 / fps)
    assert X.check_p99(lambda t: ...) is False


@pytest.mark.skipif(not __import__("torch").cuda.is_available(), reason="needs a CUDA GPU (torch.cuda.synchronize path)")
@pytest.mark.parametrize("half,compile", [(False, False), (True, False), (False, True)])
def test_torch_runner_on_cuda(half, compile):
    import torch

    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.ReLU(), torch.nn.Flatten(), torch.nn.LazyLinear(4))
    net(torch.zeros(1, 3, 16, 16))
    r = B.benchmark(B.torch_runner(net, device="cuda", half=half, compile=compile), np.zeros((8, 3, 16, 16), np.float32),
                    name="cuda", backend="pytorch", precision="fp16" if half else "fp32", device="cuda", batches=(1, 8),
                    warmup=3, iters=5)
    assert r.peak_gpu_mb > 0 and r.latency[8].n == 5


def test_torch_runner_cpu_numpy_roundtrip():
    import torch

    net = torch.nn.Linear(3, 2).eval()
    run = B.torch_runner(net)
    x = np.ones((4, 3), np.float32)
    assert np.allclose(run.numpy(x), net(torch.from_numpy(x)).detach().numpy())
    assert run.prepare(x).dtype == torch.float32


def test_footprint_is_measured_in_a_fresh_process_per_backend(tmp_path):
    """Each backend in its own child: the onnxruntime child never imports torch, so its memory is its own."""
    import torch
    from coursekit.deploy import export as E
    from coursekit.deploy.footprint import measure_footprint

    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.Flatten(), torch.nn.LazyLinear(2))
    net(torch.zeros(1, 3, 8, 8))
    net.eval()
    onnx_path = E.export_onnx(net, torch.zeros(1, 3, 8, 8), tmp_path / "m.onnx").path
    torch.save(net, tmp_path / "m.pt")
    ort = measure_footprint("onnxruntime", onnx_path, (1, 3, 8, 8), calls=3)
    pt = measure_footprint("torch", tmp_path / "m.pt", (1, 3, 8, 8), calls=3)
    assert ort["torch_imported"] is False and pt["torch_imported"] is True
    for r in (ort, pt):
        assert r["calls"] == 3 and r["load_s"] >= 0 and r["peak_rss_mb"] >= r["rss_after_import_mb"] > 0
    with pytest.raises(ValueError, match="backend"):
        measure_footprint("tflite", onnx_path, (1, 3, 8, 8))


def test_footprint_loads_whole_modules_weights_only_and_refuses_foreign_classes(tmp_path):
    """The torch child unpickles only torch / torchvision / coursekit classes (weights_only=True, allowed one by one)."""
    import fractions

    import torch
    from coursekit.deploy.footprint import _load_module

    torch.save(torch.nn.Sequential(torch.nn.Conv2d(3, 2, 1)), tmp_path / "ok.pt")
    assert isinstance(_load_module(str(tmp_path / "ok.pt")), torch.nn.Sequential)
    torch.save({"scale": fractions.Fraction(1, 3)}, tmp_path / "foreign.pt")  # a class from outside torch
    with pytest.raises(ValueError, match="fractions.Fraction"):
        _load_module(str(tmp_path / "foreign.pt"))


def test_footprint_child_does_not_inherit_the_parents_peak(tmp_path):
    """getrusage's ru_maxrss survives fork + exec; the child reports its own high-water mark (VmHWM)."""
    import sys
    import torch
    from coursekit.deploy import export as E
    from coursekit.deploy.footprint import measure_footprint

    if not sys.platform.startswith("linux"):
        pytest.skip("VmHWM is Linux's")
    big = np.ones(300 * 2**20 // 8)             # the parent's peak grows by 300 MiB
    net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 2)).eval()
    path = E.export_onnx(net, torch.zeros(1, 3, 2, 2), tmp_path / "m.onnx").path
    child = measure_footprint("onnxruntime", path, (1, 3, 2, 2), calls=2)
    parent_peak = B.peak_rss_mb()
    del big
    assert child["peak_rss_mb"] < parent_peak - 200, (child["peak_rss_mb"], parent_peak)
