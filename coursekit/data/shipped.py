"""Where the datasets the course ships live: the repository's ``datasets/`` folder, else the cache.

>>> find_shipped_dataset("inspection").name  # doctest: +SKIP
'inspection'
"""
from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from ..files import replace_dir, temporary_dir_beside

__all__ = ["find_shipped_dataset", "swap_in_folder", "building_folder", "checked_weights"]


def find_shipped_dataset(name: str, root: str | os.PathLike | None = None, rebuild: str = "") -> Path:
    """``root``, else the first of ``<repository>/datasets/<name>`` and :func:`coursekit.config.course_path`'s
    folder that holds a ``manifest.json``; the error quotes ``rebuild``, the command that regenerates it."""
    if root is not None:
        return Path(root)
    here = Path(__file__).resolve().parents[2] / "datasets" / name
    if (here / "manifest.json").is_file():
        return here
    from ..config import course_path

    cached = course_path("datasets", name, marker="manifest.json")
    if (cached / "manifest.json").is_file():
        return cached
    raise FileNotFoundError(
        f"the {name} dataset is in neither {here} (a checkout of the course repository) nor {cached} "
        f"(the cache, $COURSEKIT_HOME). Copy the repository's datasets/{name} folder there"
        + (f", or rebuild it: {rebuild}" if rebuild else ""))


def swap_in_folder(new: str | os.PathLike, out: str | os.PathLike) -> Path:
    """Put the finished folder ``new`` at ``out``, replacing any folder there (:func:`coursekit.files.replace_dir`)."""
    return replace_dir(Path(new), Path(out), overwrite=True)


@contextmanager
def building_folder(out: str | os.PathLike) -> Iterator[Path]:
    """Build a folder in a temporary sibling of ``out``, swapped in when the block ends (deleted if it raises).

    >>> import tempfile
    >>> out = Path(tempfile.mkdtemp()) / "data"
    >>> with building_folder(out) as tmp:
    ...     _ = (tmp / "a.txt").write_text("done")
    >>> sorted(p.name for p in out.parent.iterdir()), (out / "a.txt").read_text()
    (['data'], 'done')
    """
    with temporary_dir_beside(out) as tmp:
        tmp.chmod(0o755)
        yield tmp
        replace_dir(tmp, Path(out), overwrite=True)


def checked_weights(folder: str | os.PathLike, name: str, rebuild: str) -> tuple[dict, Path]:
    """A shipped stand-in's ``(manifest, weights path)``, its sha256 checked; a missing or changed file is refused
    with both fixes (restore ``datasets/<name>`` from git, or run ``rebuild``)."""
    import json

    from ..assets import sha256_of

    folder = Path(folder)
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    path = folder / manifest["weights"]
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing; rebuild it with: {rebuild}")
    digest = sha256_of(path)
    if digest != manifest["sha256"]:
        raise ValueError(
            f"{path} does not match its manifest (sha256 {digest[:12]}..., expected {manifest['sha256'][:12]}...): "
            f"the file was changed or damaged. Restore it from the repository (git checkout -- datasets/{name}) "
            f"or rebuild it with: {rebuild}")
    return manifest, path
