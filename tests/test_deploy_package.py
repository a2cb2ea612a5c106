"""coursekit.deploy.package: the gate refuses, the package runs in a fresh torch-free process, tampering is refused."""
import json
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch

from coursekit.deploy import export as E
from coursekit.deploy import package as P
from coursekit.deploy import quantize as Q
from coursekit.deploy.benchmark import onnx_runner

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
                          trtexec=["trtexec", "--onnx=model.onnx"], precision="fp32")
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
