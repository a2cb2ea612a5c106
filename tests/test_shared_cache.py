"""A shared, read-only course cache (a classroom's COURSEKIT_HOME, chmod 0555): coursekit reads it and never writes
it; every write goes to the learner's own folder (COURSEKIT_WORK), decided by one function (writable_home)."""
from __future__ import annotations

import hashlib
import io
import os
import tarfile
from pathlib import Path

import pytest

from coursekit import assets
from coursekit.assets import Asset, AssetUnavailable, fetch
from coursekit.config import Settings, cache_is_shared, course_path, is_writable, writable_home

PAYLOAD = bytes(range(256)) * 64


def _asset(url: str = "http://127.0.0.1:9/none", data: bytes = PAYLOAD) -> Asset:
    return Asset(name="sharedblob", url=url, sha256=hashlib.sha256(data).hexdigest(), size=len(data),
                 filename="blob.bin", licence="test", used_by=("tests",), description="a test file")


def _snapshot(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(folder.rglob("*"))}


def _lock(folder: Path) -> None:
    """chmod 0555 the folder and everything under it (files 0444), as an instructor's shared cache."""
    for p in sorted(folder.rglob("*"), reverse=True):
        p.chmod(0o555 if p.is_dir() else 0o444)
    folder.chmod(0o555)


@pytest.fixture
def shared(tmp_path, monkeypatch):
    """A read-only COURSEKIT_HOME (unlocked again afterwards, so tmp_path can be removed) and the learner's
    own COURSEKIT_WORK."""
    cache, work = tmp_path / "shared-cache", tmp_path / "learner-work"
    cache.mkdir()
    monkeypatch.setenv("COURSEKIT_HOME", str(cache))
    monkeypatch.setenv("COURSEKIT_WORK", str(work))
    monkeypatch.delenv("COURSEKIT_OFFLINE", raising=False)
    yield cache, work
    for p in [cache, *cache.rglob("*")]:
        p.chmod(0o755 if p.is_dir() else 0o644)


def test_a_0555_cache_is_read_only_and_shared_and_writes_go_to_the_learner(shared):
    cache, work = shared
    assert is_writable(cache) and not cache_is_shared() and writable_home() == cache  # before the lock
    _lock(cache)
    assert not is_writable(cache) and not is_writable(cache / "datasets" / "new")
    assert cache_is_shared() and writable_home() == work
    assert course_path("datasets", "cifar10") == work / "datasets" / "cifar10"  # not there: your own copy
    assert not cache_is_shared(cache / "missing")  # a cache not created yet is not a shared one


def test_a_prepared_folder_in_the_shared_cache_is_read_from_there(shared):
    cache, work = shared
    (cache / "datasets" / "parts").mkdir(parents=True)
    (cache / "datasets" / "parts" / "manifest.json").write_text("{}")
    _lock(cache)
    assert course_path("datasets", "parts", marker="manifest.json") == cache / "datasets" / "parts"
    assert course_path("datasets", "parts", marker="other.json") == work / "datasets" / "parts"


def test_an_asset_in_the_shared_cache_is_used_and_its_check_stamp_goes_to_the_learner(shared):
    cache, work = shared
    asset = _asset()
    shared_file = cache / "assets" / asset.name / asset.filename
    shared_file.parent.mkdir(parents=True)
    shared_file.write_bytes(PAYLOAD)
    _lock(cache)
    before = _snapshot(cache)
    assert fetch(asset, progress=False, offline=True) == shared_file  # no download, no error
    assert _snapshot(cache) == before  # nothing written to the shared cache
    assert (work / "assets" / asset.name / "blob.bin.verified").is_file()  # the learner's own stamp
    assert fetch(asset, progress=False, offline=True) == shared_file  # second call: the stamp is read back


def test_an_asset_missing_from_the_shared_cache_downloads_into_the_learners_folder(shared, http_files):
    cache, work = shared
    base, handler = http_files
    handler.files["/blob.bin"] = PAYLOAD
    asset = _asset(base + "/blob.bin")
    _lock(cache)
    path = fetch(asset, progress=False)
    assert path == work / "assets" / asset.name / asset.filename and path.read_bytes() == PAYLOAD
    assert list(cache.iterdir()) == []
    assert assets.is_cached(asset) and assets.asset_path(asset) == path


def test_offline_error_for_a_shared_cache_names_the_learners_path(shared):
    cache, work = shared
    _lock(cache)
    with pytest.raises(AssetUnavailable, match="coursekit fetch") as info:
        fetch(_asset(), progress=False, offline=True)
    assert str(work) in str(info.value)


def _cifar_tar(tmp_path: Path) -> Path:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        data = b"meta"
        info = tarfile.TarInfo("cifar-10-batches-py/batches.meta")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    path = tmp_path / "cifar.tar.gz"
    path.write_bytes(buf.getvalue())
    return path


def test_cifar10_is_extracted_into_the_learners_folder_when_the_cache_is_read_only(shared, tmp_path):
    from coursekit.data.cifar import cifar10_root

    cache, work = shared
    archive = _cifar_tar(tmp_path)
    _lock(cache)
    root = cifar10_root(archive, Settings(home=cache))
    assert root == work / "datasets" / "cifar10" and (root / "cifar-10-batches-py" / "batches.meta").is_file()
    assert list(cache.iterdir()) == []


def test_cifar10_extracted_once_in_the_shared_cache_is_read_from_there(shared, tmp_path):
    from coursekit.data.cifar import cifar10_root

    cache, work = shared
    archive = _cifar_tar(tmp_path)
    first = cifar10_root(archive, Settings(home=cache))  # the instructor's `coursekit fetch --all`
    assert first == cache / "datasets" / "cifar10"
    _lock(cache)
    assert cifar10_root(archive, Settings(home=cache)) == first
    assert not work.exists()


def test_ultralytics_settings_and_yolo_yamls_go_to_the_learners_folder(shared):
    from coursekit.models.yolo import ultralytics_config_dir

    cache, work = shared
    _lock(cache)
    assert ultralytics_config_dir(Settings(home=cache)) == work / "ultralytics"


def test_yolo_data_yamls_are_written_to_the_learners_folder(shared):
    from coursekit.data.detection import detection_root
    from coursekit.models.yolo import yolo_data_yaml

    cache, work = shared
    _lock(cache)
    written = yolo_data_yaml(detection_root())  # the shipped dataset (repository datasets/), its test split
    assert written.parent == work / "yolo_data" and written.is_file()
    assert list(cache.iterdir()) == []


def test_doctor_says_the_cache_is_read_only_and_shared_and_where_writes_go(shared):
    from coursekit.cli import cache_rows

    cache, work = shared
    assert "writable" in cache_rows()[0][1]
    _lock(cache)
    rows = dict(cache_rows())
    assert rows["cache (COURSEKIT_HOME)"] == (f"{cache} is read-only (shared course cache): downloads are done; "
                                              f"anything the course writes goes to {work}")
    assert rows["your folder (COURSEKIT_WORK)"] == str(work)


def test_nothing_in_coursekit_builds_a_write_path_from_the_cache_folder_directly():
    """Every write under the cache goes through writable_home / course_path: no `S.home / ...` or
    `cache_dir() / ...` path is built anywhere else in the package."""
    root = Path(__file__).resolve().parents[1] / "coursekit"
    allowed = {"config.py"}
    offenders = []
    for path in root.rglob("*.py"):
        if path.name in allowed:
            continue
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            code = line.split("#")[0]
            if "cache_dir() /" in code or "S.home /" in code or "Path(S.home) /" in code:
                offenders.append(f"{path.relative_to(root)}:{n}: {line.strip()}")
    assert not offenders, "\n".join(offenders)


def test_fetch_all_extracts_cifar10_into_the_cache_so_learners_share_one_copy(shared, tmp_path, http_files, monkeypatch):
    from coursekit import cli

    cache, work = shared
    base, handler = http_files
    data = _cifar_tar(tmp_path).read_bytes()
    handler.files["/cifar.tar.gz"] = data
    fake = Asset(name="cifar10", url=base + "/cifar.tar.gz", sha256=hashlib.sha256(data).hexdigest(), size=len(data),
                 filename="cifar-10-python.tar.gz", licence="test", used_by=("tests",))
    monkeypatch.setattr(assets, "ASSETS", {"cifar10": fake})
    assert cli.main(["fetch", "--all", "-q"]) == 0  # the instructor, before the workshop
    extracted = cache / "datasets" / "cifar10" / "cifar-10-batches-py" / "batches.meta"
    assert extracted.is_file()
    _lock(cache)
    from coursekit.data.cifar import cifar10_root

    assert cifar10_root(cache / "assets" / "cifar10" / fake.filename, Settings(home=cache)) == extracted.parents[1]
    assert not work.exists()  # the learner extracted nothing
