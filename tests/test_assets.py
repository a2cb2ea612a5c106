"""The asset registry: checksummed, atomic, resumable downloads and clear offline errors."""
from __future__ import annotations

import hashlib
import io
import tarfile

import pytest

from coursekit import assets
from coursekit.assets import Asset, AssetUnavailable, ChecksumMismatch, extract_tar, fetch

PAYLOAD = bytes(range(256)) * 4096  # 1 MiB, not all equal bytes


def make_asset(url: str, data: bytes = PAYLOAD, sha: str | None = None, name: str = "testblob") -> Asset:
    return Asset(name=name, url=url, sha256=sha or hashlib.sha256(data).hexdigest(), size=len(data),
                 filename="blob.bin", licence="test", used_by=("tests",), description="a test file")


def test_registry_entries_are_complete():
    assert "cifar10" in assets.ASSETS
    for a in assets.ASSETS.values():
        assert a.url.startswith("https://"), a
        assert len(a.sha256) == 64 and a.size > 0 and a.licence and a.used_by


def test_bad_sha_in_registry_is_refused():
    with pytest.raises(ValueError, match="sha256"):
        Asset("x", "https://e/x", "abc", 1, "x", "l", ("t",))


def test_fetch_downloads_verifies_and_caches(home, http_files):
    base, handler = http_files
    handler.files["/blob.bin"] = PAYLOAD
    asset = make_asset(base + "/blob.bin")
    path = fetch(asset, progress=False)
    assert path.read_bytes() == PAYLOAD
    assert path == home / "assets" / "testblob" / "blob.bin"
    assert not path.with_name("blob.bin.part").exists()
    assert assets.is_cached(asset, verify=True)
    # second call: served from the cache, no new request
    n = len(handler.seen)
    assert fetch(asset, progress=False) == path and len(handler.seen) == n


def test_checksum_mismatch_leaves_no_file(home, http_files):
    base, handler = http_files
    handler.files["/blob.bin"] = PAYLOAD
    asset = make_asset(base + "/blob.bin", sha="0" * 64)
    with pytest.raises(ChecksumMismatch, match="expected 0000"):
        fetch(asset, progress=False)
    folder = home / "assets" / "testblob"
    assert list(folder.iterdir()) == []


def test_offline_error_names_asset_url_and_command(home):
    asset = make_asset("http://127.0.0.1:9/nothing-listens-here")
    with pytest.raises(AssetUnavailable) as info:
        fetch(asset, progress=False, timeout=5)
    msg = str(info.value)
    assert "testblob" in msg and asset.url in msg and "coursekit fetch testblob" in msg
    assert not assets.asset_path(asset).exists()


def test_offline_flag_never_touches_network(home, http_files, monkeypatch):
    base, handler = http_files
    handler.files["/blob.bin"] = PAYLOAD
    monkeypatch.setenv("COURSEKIT_OFFLINE", "1")
    with pytest.raises(AssetUnavailable, match="COURSEKIT_OFFLINE"):
        fetch(make_asset(base + "/blob.bin"), progress=False)
    assert handler.seen == []


@pytest.mark.parametrize("server_supports_range", [True, False])
def test_resume_after_interrupted_download(home, http_files, server_supports_range):
    base, handler = http_files
    handler.files["/blob.bin"] = PAYLOAD
    handler.ranges = server_supports_range
    asset = make_asset(base + "/blob.bin")
    part = assets.asset_path(asset).with_name("blob.bin.part")
    part.parent.mkdir(parents=True)
    half = len(PAYLOAD) // 2
    part.write_bytes(PAYLOAD[:half])  # what an interrupted download leaves behind
    path = fetch(asset, progress=False)
    assert path.read_bytes() == PAYLOAD
    assert handler.seen[-1][1] == f"bytes={half}-"  # it asked for the rest only
    assert not part.exists()


def test_dropped_connection_keeps_the_part_and_the_next_call_resumes(home, http_files):
    base, handler = http_files
    handler.files["/blob.bin"] = PAYLOAD
    handler.cut_next = 300_000
    asset = make_asset(base + "/blob.bin")
    with pytest.raises(AssetUnavailable, match="stopped at 300,000 of"):
        fetch(asset, progress=False)
    part = assets.asset_path(asset).with_name("blob.bin.part")
    assert part.stat().st_size == 300_000  # kept, not deleted as "corrupt"
    assert fetch(asset, progress=False).read_bytes() == PAYLOAD
    assert handler.seen[-1][1] == "bytes=300000-"


def test_complete_part_is_not_downloaded_again(home, http_files):
    base, handler = http_files
    asset = make_asset(base + "/blob.bin")  # the server has no such file: any request would fail
    part = assets.asset_path(asset).with_name("blob.bin.part")
    part.parent.mkdir(parents=True)
    part.write_bytes(PAYLOAD)  # e.g. the process died while hashing
    assert fetch(asset, progress=False).read_bytes() == PAYLOAD
    assert handler.seen == []


def test_file_copied_in_by_hand_is_checked_once(home, http_files, monkeypatch):
    asset = make_asset("http://127.0.0.1:9/unused")
    dest = assets.asset_path(asset)
    dest.parent.mkdir(parents=True)
    dest.write_bytes(PAYLOAD)
    assert fetch(asset, progress=False) == dest
    assert dest.with_name("blob.bin.verified").is_file()
    calls = []
    monkeypatch.setattr(assets, "sha256_of", lambda p: calls.append(p) or "x")
    assert fetch(asset, progress=False) == dest and calls == []  # the stamp spares re-hashing


def test_wrong_file_copied_in_by_hand_is_refused_and_removed(home):
    asset = make_asset("http://127.0.0.1:9/unused")
    dest = assets.asset_path(asset)
    dest.parent.mkdir(parents=True)
    dest.write_bytes(bytes(len(PAYLOAD)))  # right size, wrong bytes
    with pytest.raises(ChecksumMismatch, match="was deleted"):
        fetch(asset, progress=False)
    assert not dest.exists()


def test_unknown_asset_lists_registered():
    with pytest.raises(KeyError, match="cifar10"):
        fetch("no-such-asset")


def _tar_with(members: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def test_extract_tar_extracts_and_skips_when_marker_exists(tmp_path):
    archive = tmp_path / "a.tar.gz"
    archive.write_bytes(_tar_with({"d/x.txt": b"hello"}))
    out = extract_tar(archive, tmp_path / "out", marker="d/x.txt")
    assert (out / "d" / "x.txt").read_bytes() == b"hello"
    archive.write_bytes(b"not a tar any more")
    assert extract_tar(archive, tmp_path / "out", marker="d/x.txt") == out  # marker: no re-extraction


def test_extract_tar_refuses_path_traversal(tmp_path):
    archive = tmp_path / "evil.tar.gz"
    archive.write_bytes(_tar_with({"../escaped.txt": b"gotcha"}))
    with pytest.raises(tarfile.TarError):
        extract_tar(archive, tmp_path / "out")
    assert not (tmp_path / "escaped.txt").exists()
    assert not (tmp_path / "out").exists() and not (tmp_path / "out.extracting").exists()


def test_every_asset_names_notebooks_that_exist():
    """used_by is what `coursekit assets` shows learners: each entry must be a notebook of the course."""
    from pathlib import Path

    from coursekit.assets import ASSETS

    notebooks = {p.stem for p in (Path(__file__).resolve().parents[1] / "notebooks").glob("*.ipynb")}
    for asset in ASSETS.values():
        missing = set(asset.used_by) - notebooks
        assert not missing, f"asset {asset.name!r}: used_by names {sorted(missing)}, not among {sorted(notebooks)}"


def test_a_cached_file_of_the_wrong_size_is_reported_as_such_not_as_missing(home):
    asset = make_asset("http://127.0.0.1:9/unused")
    dest = assets.asset_path(asset)
    dest.parent.mkdir(parents=True)
    dest.write_bytes(PAYLOAD[:1000])  # an older version, or a copy that stopped early
    assert assets.cache_state(asset).startswith("wrong size / wrong version")
    with pytest.raises(AssetUnavailable) as info:
        fetch(asset, progress=False, offline=True)
    msg = str(info.value)
    assert "wrong size / wrong version" in msg and f"{len(PAYLOAD):,}" in msg and "1,000" in msg
    assert "is not in the cache" not in msg
    assert dest.exists()  # offline, nothing is deleted


def test_online_a_wrong_size_file_is_replaced_by_the_registered_one(home, http_files):
    base, handler = http_files
    handler.files["/blob.bin"] = PAYLOAD
    asset = make_asset(base + "/blob.bin")
    dest = assets.asset_path(asset)
    dest.parent.mkdir(parents=True)
    dest.write_bytes(b"old version")
    assert fetch(asset, progress=False).read_bytes() == PAYLOAD


def test_forget_removes_the_file_its_stamp_and_a_partial_download(home):
    asset = make_asset("http://127.0.0.1:9/unused")
    dest = assets.asset_path(asset)
    dest.parent.mkdir(parents=True)
    dest.write_bytes(PAYLOAD)
    fetch(asset, progress=False)  # writes the stamp
    dest.with_name("blob.bin.part").write_bytes(b"x")
    assets.forget(asset)
    assert list(dest.parent.iterdir()) == [] and assets.cache_state(asset) == "not cached"


def test_extract_tar_replaces_an_extraction_made_from_another_archive(tmp_path):
    archive = tmp_path / "a.tar.gz"
    archive.write_bytes(_tar_with({"d/x.txt": b"v1", "d/only_in_v1.txt": b"old"}))
    out = extract_tar(archive, tmp_path / "out", marker="d/x.txt", source_sha256="1" * 64)
    archive.write_bytes(_tar_with({"d/x.txt": b"v2"}))
    assert extract_tar(archive, tmp_path / "out", marker="d/x.txt", source_sha256="1" * 64) == out  # same source
    assert (out / "d" / "x.txt").read_bytes() == b"v1"
    extract_tar(archive, tmp_path / "out", marker="d/x.txt", source_sha256="2" * 64)  # the checksum changed
    assert (out / "d" / "x.txt").read_bytes() == b"v2" and not (out / "d" / "only_in_v1.txt").exists()
    assert not (tmp_path / "out.old").exists() and not (tmp_path / "out.extracting").exists()


def test_model_hub_urls_are_pinned_to_a_revision():
    """A Hugging Face `resolve/main` URL follows the repository; a commit keeps the file the sha256 names."""
    import re

    for a in assets.ASSETS.values():
        if "huggingface.co" in a.url:
            assert re.search(r"/resolve/[0-9a-f]{40}/", a.url), f"{a.name}: {a.url} is not pinned to a commit"
