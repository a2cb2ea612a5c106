"""The ``coursekit`` command: check a machine, pre-fetch the course's downloads.

    coursekit doctor            # python, torch, device, CUDA / MPS / Jetson / TensorRT, cached assets
    coursekit fetch cifar10     # download one asset into the cache (checksummed)
    coursekit fetch --all       # pre-cache the whole course (instructors, before a workshop)
    coursekit assets            # list the registry: name, size, licence, cached or not
"""
from __future__ import annotations

import argparse
import importlib
import platform
import shutil
import sys
import tarfile
from pathlib import Path

from . import assets
from .config import cache_dir, cache_is_shared, settings, writable_home

__all__ = ["main", "doctor_report", "cache_rows"]


def _version(module: str) -> str:
    try:
        mod = importlib.import_module(module)
    except Exception as err:  # noqa: BLE001 - any import failure is worth reporting, not crashing on
        return f"not importable ({type(err).__name__}: {str(err)[:80]})"
    return str(getattr(mod, "__version__", "installed"))


def _jetson_model() -> str | None:
    """A Jetson's board name from the device tree (containers often lack /etc/nv_tegra_release), else None."""
    try:
        model = Path("/proc/device-tree/model").read_text(errors="replace").strip("\x00 \n")
    except OSError:
        return None
    return model if "jetson" in model.lower() else None


def _nms_works() -> str:
    try:
        import torch
        from torchvision.ops import nms
        keep = nms(torch.tensor([[0.0, 0, 10, 10], [1, 1, 10, 10]]), torch.tensor([0.9, 0.8]), 0.5)
        return "ok" if keep.tolist() == [0] else f"WRONG result {keep.tolist()}"
    except Exception as err:  # noqa: BLE001
        return f"FAILS: {type(err).__name__}: {err} (reinstall torch and torchvision as a matching pair)"


def doctor_report() -> list[tuple[str, str]]:
    """The rows ``coursekit doctor`` prints, as (label, value) pairs."""
    from .deploy.run_template import jetson_release  # NumPy only, like the package's run.py

    rows: list[tuple[str, str]] = [("python", f"{platform.python_version()} ({sys.executable})"),
                                   ("platform", f"{platform.system()} {platform.machine()}")]
    try:
        import torch
        if torch.cuda.is_available():
            cuda = f"yes: {torch.cuda.get_device_name(0)}"
        elif shutil.which("nvidia-smi"):
            cuda = ("WARNING: an NVIDIA driver is installed but torch sees no GPU: the driver may be older than this "
                    "torch's CUDA build, or the GPU older than it supports (see README, Hardware notes)")
        else:
            cuda = "no"
        rows += [("torch", f"{torch.__version__} (CUDA build: {torch.version.cuda or 'none'})"), ("CUDA", cuda),
                 ("Apple MPS", "yes" if torch.backends.mps.is_available() else "no")]
    except Exception as err:  # noqa: BLE001
        rows.append(("torch", f"not importable ({err})"))
    rows += [("torchvision", _version("torchvision")), ("torchvision.ops.nms", _nms_works()),
             ("Jetson", jetson_release() or _jetson_model() or "no"), ("TensorRT", _version("tensorrt"))]
    try:
        import onnxruntime
        rows.append(("onnxruntime", f"{onnxruntime.__version__} providers={onnxruntime.get_available_providers()}"))
    except Exception as err:  # noqa: BLE001
        rows.append(("onnxruntime", f"not importable ({type(err).__name__})"))
    rows += [(name, _version(module)) for name, module in (
        ("opencv", "cv2"), ("ultralytics", "ultralytics"), ("open_clip", "open_clip"),
        ("segment_anything", "segment_anything"), ("torchmetrics", "torchmetrics"))]
    try:
        S = settings()
        rows += [("profile", S.profile), ("device", S.device)]
    except Exception as err:  # noqa: BLE001 - a bad env var is exactly what doctor should show
        rows.append(("settings", f"ERROR: {err}"))
    return rows + cache_rows() + [(f"asset {a.name}", f"{assets.cache_state(a)} ({a.size / 1e6:.1f} MB)")
                                  for a in assets.ASSETS.values()]


def cache_rows() -> list[tuple[str, str]]:
    """Where the course reads and writes: the cache (``COURSEKIT_HOME``) and, when that is a shared,
    read-only classroom cache, the learner's own folder that takes every write."""
    home, mine = cache_dir(), writable_home()
    if cache_is_shared(home):
        return [("cache (COURSEKIT_HOME)", f"{home} is read-only (shared course cache): downloads are done; "
                                           f"anything the course writes goes to {mine}"),
                ("your folder (COURSEKIT_WORK)", str(mine))]
    if not home.exists():
        return [("cache (COURSEKIT_HOME)", f"{home} (not created yet: the first download creates it)")]
    return [("cache (COURSEKIT_HOME)", f"{home} (writable: downloads and generated data go here)")]


def _doctor(_args) -> int:
    rows = doctor_report()
    width = max(len(label) for label, _ in rows)
    for label, value in rows:
        print(f"{label:<{width}}  {value}")
    broken = [label for label, value in rows if value.startswith(("FAILS", "WRONG", "ERROR"))]
    if broken:
        print(f"\nProblems: {', '.join(broken)}", file=sys.stderr)
    return 1 if broken else 0


def _fetch(args) -> int:
    if args.all == bool(args.names):
        print("coursekit fetch: give asset names or --all (see `coursekit assets`)", file=sys.stderr)
        return 2
    names = sorted(assets.ASSETS) if args.all else args.names
    unknown = [n for n in names if n not in assets.ASSETS]
    if unknown:
        print(f"coursekit fetch: unknown asset(s) {', '.join(unknown)}; "
              f"registered: {', '.join(sorted(assets.ASSETS))}", file=sys.stderr)
        return 2
    failed = 0
    for name in names:
        try:
            if args.force:  # drop the cached copy (and its checked stamp) so it is downloaded and checked again
                assets.forget(name)
            path = assets.fetch(name, progress=not args.quiet)
            print(f"{name}: ok  {path}")
            if name in PREPARE:
                print(f"{name}: prepared  {PREPARE[name](path)}")
        except (assets.AssetError, OSError, tarfile.TarError) as err:
            failed += 1
            print(f"{name}: FAILED\n{err}", file=sys.stderr)
    return 1 if failed else 0


def _extract_cifar10(archive: Path) -> Path:
    from .config import Settings
    from .data.cifar import cifar10_root
    return cifar10_root(archive, Settings(home=cache_dir()))


# What `coursekit fetch` also prepares next to the download, so that thirty learners sharing one read-only cache
# do not each extract their own copy (CIFAR-10: 180 MB and a minute each).
PREPARE = {"cifar10": _extract_cifar10}


def _list(_args) -> int:
    for a in assets.ASSETS.values():
        state = {"cached": "cached", "not cached": "-"}.get(assets.cache_state(a), "WRONG SIZE")
        print(f"{a.name:<16} {a.size / 1e6:>9.1f} MB  {state:<7} used by {', '.join(a.used_by)}")
        print(f"{'':<16} {a.url}\n{'':<16} licence: {a.licence}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="coursekit", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("doctor", help="check this machine for the course").set_defaults(func=_doctor)
    p = sub.add_parser("fetch", help="download assets into the cache")
    p.add_argument("names", nargs="*", help="asset names (see `coursekit assets`)")
    p.add_argument("--all", action="store_true", help="every asset the course uses")
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.add_argument("--force", action="store_true", help="download again even if cached (a damaged or stale copy)")
    p.set_defaults(func=_fetch)
    sub.add_parser("assets", help="list the asset registry").set_defaults(func=_list)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
