"""coursekit.deploy.package: the gate refuses, the package runs in a fresh torch-free process, tampering is refused."""
import importlib.util
import json
import os
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch

from coursekit.deploy import export as E
from coursekit.deploy import package as P
from coursekit.deploy import quantize as Q
from coursekit.deploy import tensorrt as T
from coursekit.deploy.benchmark import onnx_runner
from coursekit.files import sha256_file

# run.py in a fresh interpreter (-I: no PYTHONPATH, no user site, no current folder), with torch and coursekit
# made unimportable: sys.modules[name] = None turns any `import torch` into ImportError.
NO_TORCH = ("import sys, runpy; [sys.modules.__setitem__(m, None) for m in ('torch', 'coursekit', 'torchvision')]; "
            "sys.argv = [sys.argv[1]] + sys.argv[2:]; runpy.run_path(sys.argv[0], run_name='__main__')")


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    root = tmp_path_factory.mktemp("pkg")
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.ReLU(), torch.nn.AdaptiveAvgPool2d(1),
                              torch.nn.Flatten(), torch.nn.Linear(4, 3)).eval()
    res = E.export_onnx(net, torch.zeros(1, 3, 8, 8), root / "m.onnx")
    spec = P.PreprocessSpec(input_size=(8, 8), mean=(0.5, 0.4, 0.3), std=(0.2, 0.2, 0.2))
    images = np.random.default_rng(0).integers(0, 256, (5, 8, 8, 3), dtype=np.uint8)
    logits = onnx_runner(res.path).numpy(spec.apply(images))
    probs = np.exp(logits - logits.max(1, keepdims=True))
    probs /= probs.sum(1, keepdims=True)
    gate = Q.accuracy_gate(0.9, 0.9)
    out = P.write_package(root / "package", res.path, labels=["a", "b", "c"], preprocess=spec, gate=gate,
                          golden_images=images, golden_probabilities=probs, metrics={"accuracy": 0.9},
                          precision="fp32", max_batch=8)
    return out, res, spec, images, probs


def _run(folder, *args):
    return subprocess.run([sys.executable, "-I", "-c", NO_TORCH, str(folder / "run.py"), *args],
                          capture_output=True, text=True, timeout=60, cwd=folder)


def test_manifest_lists_every_file_with_sha256(package):
    out = package[0]
    manifest = P.verify_package(out)
    assert set(manifest["files"]) == {p.name for p in out.iterdir()} - {"manifest.json"}
    assert manifest["accuracy_gate"]["passed"] and manifest["versions"]["onnxruntime"]
    assert "FROM nvcr.io/nvidia/l4t" in (out / "Dockerfile").read_text()
    assert "import torch" not in (out / "run.py").read_text() and "coursekit" not in (out / "run.py").read_text().split('"""')[2]


def test_gate_failure_writes_nothing(package, tmp_path):
    _, res, spec, images, probs = package
    with pytest.raises(Q.GateFailed, match=r"REFUSED.*short by"):
        P.write_package(tmp_path / "nope", res.path, labels=["a", "b", "c"], preprocess=spec,
                        gate=Q.accuracy_gate(0.9, 0.5), golden_images=images, golden_probabilities=probs)
    assert list(tmp_path.iterdir()) == []


def test_copied_package_reproduces_golden_in_fresh_process_without_torch(package, tmp_path):
    src, _, spec, images, probs = package
    dest = shutil.copytree(src, tmp_path / "copy")
    r = _run(dest, "--selftest", "--backend", "onnxruntime")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout.strip().splitlines()[-1])["selftest"] == "passed"
    np.save(tmp_path / "in.npy", images[:3])
    r = _run(dest, str(tmp_path / "in.npy"), "--out", str(tmp_path / "pred.json"))
    assert r.returncode == 0, r.stderr
    pred = json.loads((tmp_path / "pred.json").read_text())
    assert pred["class_index"] == probs[:3].argmax(1).tolist() and pred["backend"] == "onnxruntime"
    assert np.abs(np.asarray(pred["probabilities"]) - probs[:3]).max() < 1e-4


def test_tampered_model_is_refused(package, tmp_path):
    dest = shutil.copytree(package[0], tmp_path / "tampered")
    data = bytearray((dest / "model.onnx").read_bytes())
    data[-1] ^= 0xFF
    (dest / "model.onnx").write_bytes(bytes(data))
    r = _run(dest, "--selftest")
    assert r.returncode != 0 and "REFUSED: model.onnx does not match manifest.json" in r.stderr
    with pytest.raises(P.PackageError, match="model.onnx"):
        P.verify_package(dest)


def test_existing_folder_is_not_overwritten_silently(package):
    out, res, spec, images, probs = package
    with pytest.raises(FileExistsError, match="overwrite=True"):
        P.write_package(out, res.path, labels=["a", "b", "c"], preprocess=spec, gate=Q.accuracy_gate(1, 1),
                        golden_images=images, golden_probabilities=probs)


def _load_run_py(folder):
    """The package's run.py as a module (it needs only NumPy and onnxruntime), to call its functions."""
    spec = importlib.util.spec_from_file_location(f"run_{abs(hash(str(folder)))}", folder / "run.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def _trtexec_files(cmd):
    args = dict(a[2:].split("=", 1) for a in cmd[1:] if a.startswith("--") and "=" in a)
    return args["onnx"], args["saveEngine"]


def test_trtexec_command_is_built_from_the_package_files(package):
    out, res, spec, images, probs = package
    manifest = P.verify_package(out)
    cmd = manifest["tensorrt"]["trtexec"]
    onnx, engine = _trtexec_files(cmd)
    assert (out / onnx).is_file() and onnx == manifest["model"]["file"] == "model.onnx"
    assert res.path.name not in " ".join(cmd)                     # not the name it had on the building machine
    assert engine == manifest["tensorrt"]["engine_file"] == "model.engine" and not (out / engine).exists()
    assert "--minShapes=images:1x3x8x8" in cmd and "--maxShapes=images:8x3x8x8" in cmd
    assert not {"--fp16", "--int8", "--stronglyTyped"} & set(cmd)   # fp32 shipped: no precision flag
    assert manifest["engine"] is None and manifest["tensorrt"]["engine_included"] is False


def test_trtexec_precision_follows_the_shipped_model(package, tmp_path):
    _, res, spec, images, probs = package
    for precision, flags in (("int8", {"--stronglyTyped"}), ("fp16", {"--fp16"})):
        out = P.write_package(tmp_path / precision, res.path, labels=["a", "b", "c"], preprocess=spec,
                              gate=Q.accuracy_gate(1, 1), golden_images=images, golden_probabilities=probs,
                              precision=precision, trt_version="10.3.0")
        cmd = P.verify_package(out)["tensorrt"]["trtexec"]
        assert flags <= set(cmd) and _trtexec_files(cmd) == ("model.onnx", "model.engine")
    old = P.write_package(tmp_path / "jp5", res.path, labels=["a", "b", "c"], preprocess=spec,
                          gate=Q.accuracy_gate(1, 1), golden_images=images, golden_probabilities=probs,
                          precision="int8", trt_version="8.6.2")
    assert {"--int8", "--fp16"} <= set(P.verify_package(old)["tensorrt"]["trtexec"])
    with pytest.raises(ValueError, match="precision"):
        P.write_package(tmp_path / "bad", res.path, labels=["a", "b", "c"], preprocess=spec,
                        gate=Q.accuracy_gate(1, 1), golden_images=images, golden_probabilities=probs, precision="INT8")


def test_package_with_an_engine_lists_it_with_sha256_and_engine_facts(package, tmp_path):
    _, res, spec, images, probs = package
    fake = tmp_path / "classifier_fp32.engine"
    fake.write_bytes(b"not really a TensorRT engine" * 100)
    facts = {"tensorrt": "10.3.0", "compute_capability": "8.7", "gpu": "Orin", "l4t": "R36.4.0"}
    record = T.engine_record(fake, res.path, precision="fp32", input_name="images", shape=(3, 8, 8), max_batch=4,
                             facts=facts)
    (tmp_path / "classifier_fp32.engine.json").write_text(json.dumps(record))   # what build_engine writes
    out = P.write_package(tmp_path / "pkg", res.path, labels=["a", "b", "c"], preprocess=spec,
                          gate=Q.accuracy_gate(1, 1), golden_images=images, golden_probabilities=probs,
                          precision="fp32", engine_path=fake)
    manifest = P.verify_package(out)
    assert manifest["files"]["model.engine"]["sha256"] == sha256_file(fake) == sha256_file(out / "model.engine")
    eng = manifest["engine"]
    assert eng["file"] == "model.engine" and (out / eng["file"]).is_file()
    assert (eng["tensorrt"], eng["compute_capability"], eng["l4t"]) == ("10.3.0", "8.7", "R36.4.0")
    trt = manifest["tensorrt"]
    assert trt["engine_included"] and (trt["tensorrt"], trt["compute_capability"], trt["l4t"]) == ("10.3.0", "8.7", "R36.4.0")
    onnx, engine = _trtexec_files(trt["trtexec"])
    assert (out / onnx).is_file() and (out / engine).is_file() and "--maxShapes=images:4x3x8x8" in trt["trtexec"]
    # no TensorRT here: run.py falls back to onnxruntime and still reproduces the golden outputs
    r = _run(out, "--selftest")
    assert r.returncode == 0 and json.loads(r.stdout.strip().splitlines()[-1])["backend"] == "onnxruntime", r.stderr
    # refusals: an engine of another precision or model, an engine without facts, facts without an engine
    with pytest.raises(ValueError, match="built at fp16"):
        P.write_package(tmp_path / "p2", res.path, labels=["a", "b", "c"], preprocess=spec, gate=Q.accuracy_gate(1, 1),
                        golden_images=images, golden_probabilities=probs, precision="fp32", engine_path=fake,
                        engine={**record, "precision": "fp16"})
    with pytest.raises(ValueError, match="built from other.onnx"):
        P.write_package(tmp_path / "p3", res.path, labels=["a", "b", "c"], preprocess=spec, gate=Q.accuracy_gate(1, 1),
                        golden_images=images, golden_probabilities=probs, precision="fp32", engine_path=fake,
                        engine={**record, "onnx": "other.onnx"})
    bare = tmp_path / "bare.engine"
    bare.write_bytes(b"x")
    with pytest.raises(ValueError, match="no facts for the engine"):
        P.write_package(tmp_path / "p4", res.path, labels=["a", "b", "c"], preprocess=spec, gate=Q.accuracy_gate(1, 1),
                        golden_images=images, golden_probabilities=probs, precision="fp32", engine_path=bare)
    with pytest.raises(ValueError, match="engine_path"):
        P.write_package(tmp_path / "p5", res.path, labels=["a", "b", "c"], preprocess=spec, gate=Q.accuracy_gate(1, 1),
                        golden_images=images, golden_probabilities=probs, precision="fp32", engine=record)
    assert not any(p.name.startswith("p") and p.is_dir() and p.name != "pkg" for p in tmp_path.iterdir())


def test_out_is_written_atomically_and_leaves_no_temp_file(package, tmp_path, monkeypatch):
    src, _, spec, images, probs = package
    np.save(tmp_path / "in.npy", images[:2])
    dest = tmp_path / "results"
    dest.mkdir()
    (dest / "pred.json").write_text("old")
    r = _run(src, str(tmp_path / "in.npy"), "--out", str(dest / "pred.json"))
    assert r.returncode == 0, r.stderr
    assert [p.name for p in dest.iterdir()] == ["pred.json"]
    assert json.loads((dest / "pred.json").read_text())["class_index"] == probs[:2].argmax(1).tolist()
    run = _load_run_py(src)

    def failing_replace(a, b):
        raise RuntimeError("disk full")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(RuntimeError, match="disk full"):
        run.write_atomic(dest / "pred.json", "new")
    assert [p.name for p in dest.iterdir()] == ["pred.json"] and "class_index" in (dest / "pred.json").read_text()


def test_selftest_tolerance_is_read_per_backend(package, monkeypatch, capsys):
    src = package[0]
    golden = json.loads((src / "golden_outputs.json").read_text())
    assert golden["tolerance"] == P.DEFAULT_TOLERANCES == P.verify_package(src)["selftest_tolerance"]
    run = _load_run_py(src)
    assert run.selftest_tolerance(golden, "onnxruntime") == 1e-4 and run.selftest_tolerance(golden, "tensorrt") == 2e-2
    assert run.selftest_tolerance({"tolerance": 1e-3}, "tensorrt") == 1e-3          # an older package: one number

    class Approximate:
        """onnxruntime with the logits scaled by 1.05: the same top-1, probabilities off by ~1e-3, like an FP16
        engine."""

        def __init__(self, name, manifest):
            self.name, self.ort = name, run.OnnxRuntimeBackend(manifest)

        def __call__(self, x):
            return self.ort(x) * 1.05

    reports = {}
    for name in ("tensorrt", "onnxruntime"):
        monkeypatch.setattr(run, "make_backend", lambda manifest, choice, name=name: Approximate(name, manifest))
        code = run.main(["--selftest"])
        reports[name] = (code, json.loads(capsys.readouterr().out.strip().splitlines()[-1]))
    code, rep = reports["tensorrt"]
    assert 1e-4 < rep["max_prob_diff"] < 2e-2 and rep["same_classes"]       # the test means something
    assert code == 0 and rep["selftest"] == "passed" and rep["tolerance"] == 2e-2
    code, rep = reports["onnxruntime"]
    assert code == 1 and rep["selftest"] == "FAILED" and rep["tolerance"] == 1e-4
    wrong = dict(golden, class_index=[(c + 1) % 3 for c in golden["class_index"]])
    res = {"backend": "tensorrt", "class_index": golden["class_index"], "probabilities": golden["probabilities"]}
    assert run.check_golden(res, golden)["selftest"] == "passed"
    assert run.check_golden(res, wrong)["selftest"] == "FAILED"             # top-1 must match on every backend


def test_engine_fields_compare_as_text_and_a_bad_input_is_refused_without_a_traceback(tmp_path):
    from coursekit.deploy import run_template as R

    # a hand-edited manifest.json may hold 8.7 where this machine reports "8.7": the same release
    assert R.engine_problems({"compute_capability": 8.7, "tensorrt": "10.3.0.26"},
                             {"compute_capability": "8.7", "tensorrt": "10.3.0"}) == []
    assert R.engine_problems({"compute_capability": 8.7}, {"compute_capability": "7.2"}) != []
    with pytest.raises(ValueError, match="Resize them first"):
        R.preprocess(np.zeros((2, 10, 10, 3), np.float32), {"input_size": [96, 96], "mean": [0] * 3, "std": [1] * 3})
    R.write_atomic(tmp_path / "out.json", "{}")
    assert (tmp_path / "out.json").read_text() == "{}" and list(tmp_path.iterdir()) == [tmp_path / "out.json"]
