"""load_cifar10: the real path (on a small fake archive in CIFAR-10's format), the stand-in, the errors."""
from __future__ import annotations

import dataclasses
import hashlib
import io
import pickle
import subprocess
import sys
import tarfile
from pathlib import Path

import numpy as np
import pytest

from coursekit import assets, standins
from coursekit.assets import AssetUnavailable
from coursekit.data import SMOKE_SIZES, load_cifar10
from coursekit.data.cifar import CorruptCIFAR10
from coursekit.config import settings

ROOT = Path(__file__).resolve().parents[1]
NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]


def _fake_cifar_archive(per_batch: int = 40) -> bytes:
    """A tar.gz laid out like cifar-10-python.tar.gz: 5 train batches, a test batch, batches.meta."""
    rng = np.random.default_rng(0)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        def add(name, obj):
            data = pickle.dumps(obj)
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
        for name in [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]:
            labels = [int(v) for v in np.arange(per_batch) % 10]
            add(name, {"data": rng.integers(0, 256, (per_batch, 3072), dtype=np.uint8), "labels": labels})
        add("batches.meta", {"label_names": NAMES})
    return buf.getvalue()


@pytest.fixture
def fake_cifar(home, monkeypatch):
    """Put a fake CIFAR-10 archive in the cache under the registry's name, with its own checksum."""
    data = _fake_cifar_archive()
    fake = dataclasses.replace(assets.ASSETS["cifar10"], sha256=hashlib.sha256(data).hexdigest(), size=len(data))
    monkeypatch.setitem(assets.ASSETS, "cifar10", fake)
    path = assets.asset_path("cifar10")
    path.parent.mkdir(parents=True)
    path.write_bytes(data)
    return path


def test_full_profile_reads_real_format(fake_cifar):
    train, test = load_cifar10(settings(profile="full", device="cpu"), progress=False)
    assert (len(train), len(test)) == (200, 40)
    assert train.images.shape == (200, 32, 32, 3) and train.images.dtype == np.uint8
    assert train.classes == NAMES and not train.is_standin
    home = fake_cifar.parents[2]
    assert (home / "datasets" / "cifar10" / "cifar-10-batches-py" / "batches.meta").is_file()


def test_smoke_profile_takes_a_balanced_subset_of_real_data(fake_cifar):
    train, test = load_cifar10(settings(profile="smoke", device="cpu"), n_train=100, n_test=20, progress=False)
    assert len(train) == 100 and np.bincount(train.labels).tolist() == [10] * 10
    assert len(test) == 20 and not test.is_standin


def test_a_damaged_batch_gets_the_course_error_naming_the_file_and_the_fix(fake_cifar):
    S = settings(profile="full", device="cpu")
    load_cifar10(S, progress=False)
    batch = fake_cifar.parents[2] / "datasets" / "cifar10" / "cifar-10-batches-py" / "data_batch_3"
    batch.write_bytes(batch.read_bytes()[:1000])  # a truncated file (a full disk, an interrupted copy)
    with pytest.raises(CorruptCIFAR10) as info:
        load_cifar10(S, progress=False)
    msg = str(info.value)
    assert "data_batch_3" in msg and "coursekit fetch cifar10 --force" in msg and "download=True" not in msg
    assert not batch.exists()  # the damaged extraction is gone: the next call extracts the checked archive again
    train, _ = load_cifar10(S, progress=False)
    assert len(train) == 200


def test_a_pickle_that_would_run_code_is_refused(fake_cifar):
    S = settings(profile="full", device="cpu")
    load_cifar10(S, progress=False)
    batch = fake_cifar.parents[2] / "datasets" / "cifar10" / "cifar-10-batches-py" / "test_batch"
    batch.write_bytes(pickle.dumps({"data": print, "labels": []}))  # a reference to a callable
    with pytest.raises(CorruptCIFAR10, match="refusing to load builtins.print"):
        load_cifar10(S, progress=False)


def test_an_archive_whose_checksum_changed_replaces_the_old_extraction(fake_cifar, monkeypatch):
    S = settings(profile="full", device="cpu")
    load_cifar10(S, progress=False)
    folder = fake_cifar.parents[2] / "datasets" / "cifar10"
    (folder / "cifar-10-batches-py" / "stale_file").write_text("from the old archive")
    data = _fake_cifar_archive(per_batch=20)  # "a new version" of the registered file
    fake = dataclasses.replace(assets.ASSETS["cifar10"], sha256=hashlib.sha256(data).hexdigest(), size=len(data))
    monkeypatch.setitem(assets.ASSETS, "cifar10", fake)
    assets.forget("cifar10")
    fake_cifar.write_bytes(data)
    train, _ = load_cifar10(S, progress=False)
    assert len(train) == 100  # read from the new archive, not the old extraction
    assert not (folder / "cifar-10-batches-py" / "stale_file").exists()
    assert (folder / ".extracted-from").read_text().strip() == fake.sha256


def test_full_profile_never_falls_back(home, monkeypatch):
    monkeypatch.setenv("COURSEKIT_OFFLINE", "1")
    with pytest.raises(AssetUnavailable, match="coursekit fetch cifar10"):
        load_cifar10(settings(profile="full", device="cpu"), progress=False)


def test_smoke_profile_offline_uses_the_announced_standin(home, monkeypatch, capsys):
    monkeypatch.setenv("COURSEKIT_OFFLINE", "1")
    monkeypatch.setattr(standins, "STANDINS_USED", [])
    train, test = load_cifar10(settings(profile="smoke", device="cpu"), n_train=50, n_test=20, progress=False)
    out = capsys.readouterr().out
    assert "STAND-IN" in out and "CIFAR-10" in out and "NOT the real result" in out
    assert train.is_standin and test.is_standin and len(train) == 50 and len(test) == 20
    assert train.images.shape[1:] == (32, 32, 3) and len(train.classes) == 10
    assert SMOKE_SIZES == (5000, 1000)


@pytest.mark.slow
def test_benchmark_script_runs_end_to_end_in_smoke(home, tmp_path):
    """The GPU benchmark must not rot: run it tiny on the stand-in and read its result line."""
    env = {"COURSEKIT_PROFILE": "smoke", "COURSEKIT_OFFLINE": "1", "COURSEKIT_HOME": str(home),
           "COURSEKIT_DEVICE": "cpu", "PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT)}  # this checkout's coursekit
    proc = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "cifar10_resnet9.py"), "--epochs", "1",
                           "--width", "8", "--batch-size", "128", "--quiet"],
                          capture_output=True, text=True, env=env, timeout=600, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "RESULT accuracy" in proc.stdout and "stand-in data: True" in proc.stdout
    record = __import__("json").loads(proc.stdout.strip().splitlines()[-1])
    assert record["standin"] and record["epochs"] == 1 and 0.0 <= record["runs"][0]["test_acc_tta"] <= 1.0
