"""The command line: doctor, fetch, assets."""
from __future__ import annotations

import hashlib
import subprocess
import sys

import pytest

from coursekit import assets, cli


def test_doctor_reports_the_machine(home):
    proc = subprocess.run([sys.executable, "-m", "coursekit.cli", "doctor"], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    for label in ("python", "torch", "CUDA", "Apple MPS", "Jetson", "TensorRT", "torchvision.ops.nms",
                  "asset cifar10"):
        assert label in out, f"doctor output lacks {label!r}:\n{out}"
    nms_row = next(line for line in out.splitlines() if line.startswith("torchvision.ops.nms"))
    assert nms_row.split()[-1] == "ok", nms_row
    assert str(home) in out and "not cached" in out


def test_doctor_flags_a_bad_profile(home, monkeypatch, capsys):
    monkeypatch.setenv("COURSEKIT_PROFILE", "quick")
    assert cli.main(["doctor"]) == 1
    assert "COURSEKIT_PROFILE='quick'" in capsys.readouterr().out


def test_fetch_needs_names_or_all(capsys):
    assert cli.main(["fetch"]) == 2
    assert cli.main(["fetch", "cifar10", "--all"]) == 2
    assert cli.main(["fetch", "nonsense"]) == 2
    assert "registered: " in capsys.readouterr().err


@pytest.fixture
def local_asset(http_files):
    base, handler = http_files
    data = b"course data" * 1000
    handler.files["/d.bin"] = data
    a = assets.Asset("clitest", base + "/d.bin", hashlib.sha256(data).hexdigest(), len(data), "d.bin",
                     "test", ("tests",))
    assets.ASSETS[a.name] = a
    yield a
    del assets.ASSETS[a.name]


def test_fetch_downloads_and_lists(home, local_asset, capsys):
    assert cli.main(["fetch", "clitest", "-q"]) == 0
    assert assets.asset_path("clitest").read_bytes() == b"course data" * 1000
    assert cli.main(["assets"]) == 0
    out = capsys.readouterr().out
    assert "clitest: ok" in out and "cached" in out


def test_fetch_all_reports_failures_with_fix(home, local_asset, monkeypatch, capsys):
    monkeypatch.setenv("COURSEKIT_OFFLINE", "1")
    assert cli.main(["fetch", "--all", "-q"]) == 1
    err = capsys.readouterr().err
    assert "cifar10: FAILED" in err and "coursekit fetch cifar10" in err


def test_doctor_still_reports_when_torch_is_broken(home, tmp_path):
    """The one tool for diagnosing a broken install must not need a working torch to start."""
    fake = tmp_path / "fake" / "torch"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text("raise ImportError('simulated broken torch install')\n")
    env = {"PYTHONPATH": str(tmp_path / "fake"), "COURSEKIT_HOME": str(home), "PATH": "/usr/bin:/bin"}
    proc = subprocess.run([sys.executable, "-m", "coursekit.cli", "doctor"], capture_output=True, text=True,
                          env=env, timeout=300)
    assert "simulated broken torch install" in proc.stdout, proc.stdout + proc.stderr
    assert proc.returncode == 1 and "Problems" in proc.stderr


def test_fetch_force_downloads_again_a_cached_file(home, local_asset, http_files, capsys):
    _, handler = http_files
    assert cli.main(["fetch", "clitest", "-q"]) == 0
    n = len(handler.seen)
    assert cli.main(["fetch", "clitest", "-q"]) == 0 and len(handler.seen) == n  # cached: no request
    assert cli.main(["fetch", "clitest", "-q", "--force"]) == 0 and len(handler.seen) == n + 1
    assert assets.asset_path("clitest").read_bytes() == b"course data" * 1000


def test_assets_listing_flags_a_wrong_size_file(home, local_asset, capsys):
    path = assets.asset_path("clitest")
    path.parent.mkdir(parents=True)
    path.write_bytes(b"short")
    assert cli.main(["assets"]) == 0
    assert "WRONG SIZE" in capsys.readouterr().out
