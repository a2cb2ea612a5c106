"""Atomic file writes and checksums, for the whole package: a reader never sees a half-written file.

>>> import tempfile, pathlib
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> p = atomic_write_text(d / "a.txt", "hello")
>>> p.read_text(), sha256_file(p)[:12]
('hello', '2cf24dba5fb0')
"""
from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tempfile
from pathlib import Path
from typing import Iterator

__all__ = ["atomic_write_bytes", "atomic_write_text", "atomic_copy", "sha256_file", "temporary_dir_beside",
           "replace_dir", "sha256_bytes"]


def sha256_file(path: str | os.PathLike, chunk: int = 1 << 20) -> str:
    """The sha256 hex digest of a file, read in chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def sha256_bytes(data: bytes) -> str:
    """The sha256 hex digest of bytes in memory (the build tools' manifests)."""
    return hashlib.sha256(data).hexdigest()


@contextlib.contextmanager
def _replacing(path: Path) -> Iterator[str]:
    """A temporary file beside ``path`` that replaces it (``os.replace``) when the block succeeds; removed if not."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        yield tmp
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (temporary sibling, then ``os.replace``)."""
    path = Path(path)
    with _replacing(path) as tmp:
        with open(tmp, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
    _fsync_dir(path.parent)
    return path


def _fsync_dir(folder: Path) -> None:
    """Flush the folder entry so the rename itself survives a power cut (POSIX only; best effort)."""
    with contextlib.suppress(OSError, AttributeError):
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def atomic_write_text(path: str | os.PathLike, text: str) -> Path:
    """Write UTF-8 ``text`` to ``path`` atomically."""
    return atomic_write_bytes(path, text.encode("utf-8"))


def atomic_copy(src: str | os.PathLike, dst: str | os.PathLike) -> Path:
    """Copy ``src`` (bytes and metadata, ``shutil.copy2``) to ``dst`` atomically."""
    dst = Path(dst)
    with _replacing(dst) as tmp:
        shutil.copy2(src, tmp)
    return dst


@contextlib.contextmanager
def temporary_dir_beside(path: str | os.PathLike) -> Iterator[Path]:
    """A temporary folder next to ``path`` (same file system, so renames out of it are atomic); removed on exit."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent,
                                     ignore_cleanup_errors=True) as tmp:
        yield Path(tmp).resolve()


def replace_dir(src: Path, dest: Path, overwrite: bool = False) -> Path:
    """Move the finished folder ``src`` to ``dest``. An existing ``dest`` is refused unless ``overwrite``;
    then it is renamed aside first and deleted only once the new folder is in place. Folders set aside by an
    earlier run that was killed between the two renames (``.<name>.old-<pid>``) are deleted too."""
    dest, old = Path(dest), None
    if dest.exists():
        if not overwrite:
            raise FileExistsError(f"{dest} already exists; pass overwrite=True to replace it, or choose another folder")
        old = dest.with_name(f".{dest.name}.old-{os.getpid()}")
        os.replace(dest, old)
    try:
        os.replace(src, dest)
    except BaseException:
        if old is not None:
            os.replace(old, dest)
        raise
    for stale in dest.parent.glob(f".{dest.name}.old-*"):
        shutil.rmtree(stale, ignore_errors=True)
    return dest
