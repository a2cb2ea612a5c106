"""The registry of every downloadable thing the course uses, and a safe way to fetch it.

>>> from coursekit.assets import ASSETS
>>> ASSETS["cifar10"].filename
'cifar-10-python.tar.gz'
"""
from __future__ import annotations

import os
import shutil
import tarfile
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from .files import replace_dir, sha256_file, temporary_dir_beside
from .config import cache_dir, env_flag, is_writable, work_dir, writable_home

__all__ = ["Asset", "ASSETS", "AssetError", "AssetUnavailable", "ChecksumMismatch", "asset_path", "is_cached",
           "cache_state", "forget", "fetch", "extract_tar", "sha256_of"]

CHUNK = 1 << 20

class AssetError(RuntimeError):
    """Base class of the asset errors."""


class AssetUnavailable(AssetError):
    """The asset is not cached and could not be downloaded (offline, or the server failed); ``reason``: the short
    cause (e.g. "URLError: Name or service not known")."""

    def __init__(self, message: str, reason: str = ""):
        super().__init__(message)
        self.reason = reason


class ChecksumMismatch(AssetError):
    """The downloaded bytes are not the registered ones; nothing was kept."""


@dataclass(frozen=True)
class Asset:
    """One downloadable file."""

    name: str
    url: str
    sha256: str
    size: int
    filename: str
    licence: str
    used_by: tuple[str, ...]
    description: str = ""

    def __post_init__(self):
        if len(self.sha256) != 64 or any(c not in "0123456789abcdef" for c in self.sha256):
            raise ValueError(f"asset {self.name!r}: sha256 must be 64 lower-case hex characters")


_SAM_LICENCE = ("Apache-2.0 (Meta AI, segment-anything); trained on SA-1B, whose images have their own "
                "research licence")

ASSETS: dict[str, Asset] = {asset.name: asset for asset in (
    Asset("cifar10", "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
          "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce", 170_498_071, "cifar-10-python.tar.gz",
          "Research use; cite Krizhevsky (2009), 'Learning Multiple Layers of Features from Tiny Images'",
          ("01_cnn_from_scratch",), "CIFAR-10, 60k 32x32 colour images in 10 classes (python pickle version)"),
    Asset("resnet18-imagenet", "https://download.pytorch.org/models/resnet18-f37072fd.pth",
          "f37072fd47e89c5e827621c5baffa7500819f7896bbacec160b1a16c560e07ec", 46_830_571, "resnet18-f37072fd.pth",
          "BSD-3-Clause (torchvision weights, IMAGENET1K_V1); trained on ImageNet-1k, whose images have their own terms",
          ("02_finetune_pretrained",), "torchvision ResNet-18 ImageNet weights (69.8% top-1), a state dict"),
    Asset("yolo11n", "https://github.com/ultralytics/assets/releases/download/v8.3.0/yolo11n.pt",
          "0ebbc80d4a7680d14987a577cd21342b65ecfd94632bd9a8da63ae6417644ee1", 5_613_764, "yolo11n.pt",
          "AGPL-3.0 (Ultralytics; an Enterprise licence exists for closed use); trained on COCO 2017, whose "
          "images have their own terms",
          ("03_train_yolo_detector",),
          "Ultralytics YOLO11n COCO detection weights (2.6M parameters, 39.5 mAP50-95 at 640 px)"),
    Asset("clip-vit-b-32-laion2b",
          # pinned to a revision (a commit) of the model repository, never `main`, which can move
          "https://huggingface.co/laion/CLIP-ViT-B-32-laion2B-s34B-b79K/resolve/"
          "1a25a446712ba5ee05982a381eed697ef9b435cf/open_clip_pytorch_model.bin",
          "1bd3c7172de5b207ceac554f5ab5266166f3b9baccc9af5989bc801016d080ad", 605_219_813,
          "CLIP-ViT-B-32-laion2B-s34B-b79K.bin",
          "MIT (OpenCLIP weights by LAION); trained on LAION-2B-en, whose images have their own terms",
          ("04_foundation_models_zero_shot",),
          "OpenCLIP ViT-B/32 trained on LAION-2B (66.6% zero-shot ImageNet top-1), a state dict"),
    Asset("clip-vit-b-16-laion2b",
          "https://huggingface.co/laion/CLIP-ViT-B-16-laion2B-s34B-b88K/resolve/"
          "7288da5a0d6f0b51c4a2b27c624837a9236d0112/open_clip_model.safetensors",
          "3f25d29d3cc74e1d25d47e0593b4dd0864ced1e9b4d8e486a247ca4502f227f1", 598_516_980,
          "CLIP-ViT-B-16-laion2B-s34B-b88K.safetensors",
          "MIT (OpenCLIP weights by LAION); trained on LAION-2B-en, whose images have their own terms",
          ("04_foundation_models_zero_shot",),
          "OpenCLIP ViT-B/16 trained on LAION-2B (70.2% zero-shot ImageNet top-1), safetensors"),
    Asset("sam-vit-b", "https://dl.fbaipublicfiles.com/segment_anything/sam_vit_b_01ec64.pth",
          "ec2df62732614e57411cdcf32a23ffdf28910380d03139ee0f4fcbe91eb8c912", 375_042_383, "sam_vit_b_01ec64.pth",
          _SAM_LICENCE, ("04_foundation_models_zero_shot",),
          "Segment Anything ViT-B (91M-parameter image encoder, 94M in all), a state dict"),
    Asset("sam-vit-l", "https://dl.fbaipublicfiles.com/segment_anything/sam_vit_l_0b3195.pth",
          "3adcc4315b642a4d2101128f611684e8734c41232a17c648ed1693702a49a622", 1_249_524_607, "sam_vit_l_0b3195.pth",
          _SAM_LICENCE, ("04_foundation_models_zero_shot",),
          "Segment Anything ViT-L (308M-parameter image encoder), a state dict; GPU recommended"),
    Asset("sam-vit-h", "https://dl.fbaipublicfiles.com/segment_anything/sam_vit_h_4b8939.pth",
          "a7bf3b02f3ebf1267aba913ff637d9a2d5c33d3173bb679e46d9f338c26f262e", 2_564_550_879, "sam_vit_h_4b8939.pth",
          _SAM_LICENCE, ("04_foundation_models_zero_shot",),
          "Segment Anything ViT-H (636M-parameter image encoder), a state dict; GPU recommended"),
)}


def _get(name: str | Asset) -> Asset:
    if isinstance(name, Asset):
        return name
    try:
        return ASSETS[name]
    except KeyError:
        raise KeyError(f"unknown asset {name!r}; registered assets: {', '.join(sorted(ASSETS))}") from None


def asset_path(name: str | Asset, home: Path | None = None) -> Path:
    """The cache path of an asset (whether or not it is there yet): ``<cache>/assets/<name>/<file>`` when the
    file is there or the cache is writable; with a shared, read-only cache that lacks it, the same path under
    the learner's own folder (:func:`coursekit.config.writable_home`), where :func:`fetch` downloads it."""
    asset = _get(name)
    shared = Path(home or cache_dir()) / "assets" / asset.name / asset.filename
    return shared if shared.is_file() else Path(writable_home(home)) / "assets" / asset.name / asset.filename


sha256_of = sha256_file  # the sha256 of a file, read in 1 MiB chunks (the name tests and tools use)


def is_cached(name: str | Asset, home: Path | None = None, verify: bool = False) -> bool:
    """True if the asset's file is in the cache with the right size (``verify=True``: and its sha256
    matches). Cheap by default; :func:`fetch` is what guarantees a verified file."""
    asset = _get(name)
    return cache_state(asset, home) == "cached" and (not verify or _verified(asset, asset_path(asset, home)))


def cache_state(name: str | Asset, home: Path | None = None) -> str:
    """``"cached"`` (right size; :func:`fetch` checks the sha256), ``"not cached"``, or ``"wrong size / wrong
    version: found N bytes, expected M (...)"``."""
    asset, path = _get(name), asset_path(name, home)
    if not path.is_file():
        return "not cached"
    found = path.stat().st_size
    if found != asset.size:
        return (f"wrong size / wrong version: found {found:,} bytes, expected {asset.size:,} (another version of "
                "the file, or an incomplete copy)")
    return "cached"


def forget(name: str | Asset, home: Path | None = None) -> None:
    """Remove an asset's cached file, its checked stamp and any partial download (``coursekit fetch --force``)."""
    path = asset_path(name, home)
    for p in (path, *_stamps(path), path.with_name(path.name + ".part")):
        p.unlink(missing_ok=True)


def _own(asset_name: str, filename: str) -> Path:
    """The learner's own copy of a file of the cache (beside a shared, read-only one)."""
    return work_dir() / "assets" / asset_name / filename


def _stamps(path: Path) -> tuple[Path, Path]:
    """The checked stamp beside the file, and the learner's own one (for a file in a read-only, shared cache:
    checking a shared file never writes to the shared cache)."""
    name = path.name + ".verified"
    return path.with_name(name), _own(path.parent.name, name)


def _verified(asset: Asset, path: Path) -> bool:
    """Check ``path`` against the sha256 once; a stamp file (hash, size, mtime) spares re-hashing it."""
    st = path.stat()
    expected = f"{asset.sha256} {st.st_size} {st.st_mtime_ns}"
    beside, own = _stamps(path)
    if any(s.is_file() and s.read_text().strip() == expected for s in (beside, own)):
        return True
    if sha256_of(path) != asset.sha256:
        return False
    stamp = beside if is_writable(path.parent) else own
    stamp.parent.mkdir(parents=True, exist_ok=True)
    stamp.write_text(expected + "\n")
    return True


def _unavailable(asset: Asset, reason: str, present: bool = False) -> AssetUnavailable:
    """The error for an asset that is not cached (``present``: not as registered) and could not be downloaded."""
    where = "is in the cache but not as registered" if present else "is not in the cache"
    return AssetUnavailable(
        f"Asset {asset.name!r} ({asset.description or asset.filename}) {where} and could not be downloaded: {reason}.\n"
        f"  URL:   {asset.url}\n"
        f"  cache: {asset_path(asset)}\n"
        f"Fix: on a machine with internet run `coursekit fetch {asset.name}` (or `coursekit fetch --all` to "
        "pre-cache the whole course), then copy the cache folder here or point COURSEKIT_HOME at it. "
        "You can also download the URL by hand and place the file at the cache path above.", reason)


def fetch(name: str | Asset, home: Path | None = None, progress: bool = True, offline: bool | None = None,
          timeout: float = 30.0) -> Path:
    """Return the local path of a verified asset, downloading it first if needed."""
    asset = _get(name)
    dest, state = asset_path(asset, home), cache_state(asset, home)
    if state == "cached":
        # Also covers a file copied in by hand (classroom USB stick): checked once, then stamped.
        if _verified(asset, dest):
            return dest
        if not is_writable(dest.parent):
            raise ChecksumMismatch(
                f"Asset {asset.name!r}: the file {dest} in the shared, read-only course cache does not have the "
                f"registered sha256 {asset.sha256}. Ask the instructor to run `coursekit fetch --force "
                f"{asset.name}` on the server.")
        dest.unlink()
        raise ChecksumMismatch(f"Asset {asset.name!r}: the cached file {dest} does not have the registered sha256 "
                               f"{asset.sha256}; it was deleted. Copy it again from a trusted source or run "
                               f"`coursekit fetch {asset.name}`.")
    offline = env_flag("COURSEKIT_OFFLINE") if offline is None else offline
    if state != "not cached":  # a file is there, of the wrong size: say so, not "not cached"
        if offline:
            raise _unavailable(asset, f"the cached file {dest} has the {state}", present=True)
        if is_writable(dest.parent):
            dest.unlink()  # not the registered file: download the registered one in its place
        else:  # a shared, read-only cache's wrong copy: download the registered one into the learner's folder
            dest = _own(asset.name, asset.filename)
    if offline:
        raise _unavailable(asset, "COURSEKIT_OFFLINE is set")

    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    try:
        _download(asset, part, progress=progress, timeout=timeout)
    except (urllib.error.URLError, OSError, TimeoutError) as err:
        # Keep the .part file: the next call resumes from where this one stopped.
        raise _unavailable(asset, f"{type(err).__name__}: {getattr(err, 'reason', err)}") from err

    have = part.stat().st_size
    if have < asset.size:  # the connection ended early: keep what we have, the next call resumes
        raise _unavailable(asset, f"the download stopped at {have:,} of {asset.size:,} bytes; run it again to resume")
    got = sha256_of(part)
    if got != asset.sha256:
        part.unlink(missing_ok=True)
        raise ChecksumMismatch(f"Asset {asset.name!r} from {asset.url} has sha256 {got}, expected {asset.sha256}. "
                               "The file was deleted. The download was corrupted or the server changed the file; "
                               "try again, and if it persists, report it to the course maintainers.")
    os.replace(part, dest)
    _verified(asset, dest)  # writes the stamp (hash already known to match)
    return dest


def _download(asset: Asset, part: Path, progress: bool, timeout: float) -> None:
    """Stream ``asset.url`` into ``part``, resuming an earlier partial download if the server allows."""
    from tqdm.auto import tqdm
    have = part.stat().st_size if part.exists() else 0
    if have > asset.size:  # cannot be ours: start over
        part.unlink()
        have = 0
    if have == asset.size:  # complete already (e.g. interrupted while hashing): nothing to download
        return
    request = urllib.request.Request(asset.url, headers={"User-Agent": "coursekit"})
    if have:
        request.add_header("Range", f"bytes={have}-")
    with urllib.request.urlopen(request, timeout=timeout) as response:
        resumed = have and getattr(response, "status", 200) == 206
        with open(part, "ab" if resumed else "wb") as out, tqdm.wrapattr(
                response, "read", total=asset.size, initial=have if resumed else 0, desc=asset.name,
                disable=not progress) as source:
            shutil.copyfileobj(source, out, CHUNK)
            out.flush()
            os.fsync(out.fileno())


def extract_tar(archive: Path, dest: Path, marker: str | None = None, source_sha256: str | None = None) -> Path:
    """Extract a tar archive safely into ``dest`` and return ``dest``."""
    dest = Path(dest)
    record = dest / ".extracted-from"
    same_source = source_sha256 is None or (record.is_file() and record.read_text().strip() == source_sha256)
    if marker and (dest / marker).exists() and same_source:
        return dest
    with temporary_dir_beside(dest) as tmp:
        with tarfile.open(archive) as tar:
            tar.extractall(tmp / "x", filter="data")
        if source_sha256 is not None:
            (tmp / "x" / ".extracted-from").write_text(source_sha256 + "\n")
        return replace_dir(tmp / "x", dest, overwrite=True)
