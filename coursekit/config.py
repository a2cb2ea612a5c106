"""Run settings: the profile, the device, the seed and the cache folder, read once."""
from __future__ import annotations

import copy
import os
import random
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["PROFILES", "Settings", "settings", "pick_device", "seed_everything", "cache_dir", "work_dir",
           "is_writable", "cache_is_shared", "writable_home", "course_path", "module_setting"]

PROFILES = ("full", "smoke")


def _user_dir(variable: str, name: str) -> Path:
    """``$variable`` if set, else the platform's user cache dir + ``name`` (``~/.cache/<name>`` on Linux)."""
    from platformdirs import user_cache_dir

    value = os.environ.get(variable)
    return Path(value).expanduser().resolve() if value else Path(user_cache_dir(name, appauthor=False))


def cache_dir() -> Path:
    """The course's cache folder: ``$COURSEKIT_HOME`` or the platform's user cache dir + ``coursekit``."""
    return _user_dir("COURSEKIT_HOME", "coursekit")


def work_dir() -> Path:
    """The learner's own writable folder, used when the cache is read-only: ``$COURSEKIT_WORK`` or the user
    cache dir + ``coursekit-work``."""
    return _user_dir("COURSEKIT_WORK", "coursekit-work")


def is_writable(path: str | os.PathLike) -> bool:
    """True if this process may create files in ``path`` (or, if it does not exist yet, in its nearest parent).

    >>> import tempfile; d = Path(tempfile.mkdtemp()); is_writable(d), is_writable(d / "new" / "sub")
    (True, True)
    >>> d.chmod(0o555); is_writable(d), is_writable(d / "new"); d.chmod(0o755)
    (False, False)
    """
    p = Path(path)
    while not p.exists():
        if p.parent == p:
            return False
        p = p.parent
    if not p.is_dir() or not os.access(p, os.W_OK | os.X_OK):
        return False
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return bool(p.stat().st_mode & 0o200)
    return True


def cache_is_shared(home: str | os.PathLike | None = None) -> bool:
    """True if the cache folder exists and is read-only for this user (a classroom's shared cache)."""
    home = Path(home) if home is not None else cache_dir()
    return home.is_dir() and not is_writable(home)


def writable_home(home: str | os.PathLike | None = None) -> Path:
    """Where the course writes (the one place that decides it): the cache folder (``home``, default
    :func:`cache_dir`) when this user may write there, else :func:`work_dir` (a shared classroom cache)."""
    home = Path(home) if home is not None else cache_dir()
    return home if is_writable(home) else work_dir()


def course_path(*parts: str, home: str | os.PathLike | None = None, marker: str | None = None) -> Path:
    """The folder ``<cache>/<parts>`` if it is already there (``marker``: a file inside it that must exist),
    else the same path under :func:`writable_home`: read the shared copy, write your own.

    >>> import tempfile; d = Path(tempfile.mkdtemp()); course_path("datasets", "x", home=d) == d / "datasets" / "x"
    True
    """
    home = Path(home) if home is not None else cache_dir()
    shared = home.joinpath(*parts)
    if (shared / marker).exists() if marker else shared.exists():
        return shared
    return writable_home(home).joinpath(*parts)


def pick_device(preferred: str | None = None) -> str:
    """Return the device to run on: ``preferred`` if given, else cuda > mps > cpu.

    >>> pick_device("cpu")
    'cpu'
    """
    import torch

    mps = torch.backends.mps.is_available()
    if preferred:
        dev = preferred.strip().lower()
        if dev.startswith("cuda") and not torch.cuda.is_available():
            raise RuntimeError(f"COURSEKIT_DEVICE={preferred!r} but torch sees no CUDA GPU (torch {torch.__version__}, "
                               f"built for CUDA {torch.version.cuda}). Unset COURSEKIT_DEVICE to pick automatically, "
                               "or install a CUDA build of torch.")
        if dev == "mps" and not mps:
            raise RuntimeError("COURSEKIT_DEVICE='mps' but this torch has no Apple MPS backend; unset it.")
        if dev not in ("cpu", "mps") and not dev.startswith("cuda"):
            raise ValueError(f"COURSEKIT_DEVICE={preferred!r}: expected cpu, cuda, cuda:N or mps")
        return dev
    return "cuda" if torch.cuda.is_available() else "mps" if mps else "cpu"


def seed_everything(seed: int = 0, deterministic: bool = False) -> None:
    """Seed Python, NumPy and torch (all devices); ``deterministic=True`` also asks cuDNN for deterministic
    kernels (slower; CPU runs are deterministic already)."""
    import numpy as np
    import torch

    random.seed(seed)
    np.random.seed(seed % (2**32))
    torch.manual_seed(seed)
    if deterministic:
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False


@dataclass(frozen=True)
class Settings:
    """What a notebook needs to know about this run. Build it with :func:`settings`."""

    profile: str = "full"
    device: str = "cpu"
    seed: int = 0
    home: Path = field(default_factory=cache_dir)
    offline: bool = False
    #: the notebook of this run (``"02_finetune_pretrained"``): ``print(S)`` then says what it costs here
    notebook: str | None = field(default=None, compare=False)

    @property
    def smoke(self) -> bool:
        """True in the CI profile: tiny data, few steps, same code path."""
        return self.profile == "smoke"

    def pick(self, *, full, smoke):
        """Choose a value by profile: ``S.pick(full=24, smoke=2)`` -> epochs."""
        return smoke if self.smoke else full

    def __str__(self) -> str:
        text = repr(self)
        if self.notebook:
            from .budget import budget_note

            text += "\n" + budget_note(self.notebook, self)
        return text

    def __post_init__(self):
        if self.profile not in PROFILES:
            raise ValueError(f"COURSEKIT_PROFILE={self.profile!r} is not a profile; use one of {', '.join(PROFILES)} "
                             "(full = the real course, smoke = tiny data for CI).")


def env_flag(name: str) -> bool:
    """True if the environment variable is set to 1 / true / yes / on (any case)."""
    return os.environ.get(name, "").strip().lower() in ("1", "true", "yes", "on")


def settings(profile: str | None = None, device: str | None = None, seed: int | None = None,
             notebook: str | None = None) -> Settings:
    """The run settings from arguments, then environment variables, then defaults; ``notebook`` (e.g.
    ``"01_cnn_from_scratch"``) makes ``print(S)`` say what the notebook costs on this device.

    >>> settings(profile="smoke", device="cpu").smoke
    True
    """
    profile = (profile or os.environ.get("COURSEKIT_PROFILE") or "full").strip().lower()
    device = pick_device(device or os.environ.get("COURSEKIT_DEVICE") or None)
    raw_seed = os.environ.get("COURSEKIT_SEED", "0") if seed is None else seed
    try:
        seed = int(raw_seed)
    except ValueError:
        raise ValueError(f"COURSEKIT_SEED={raw_seed!r} is not an integer") from None
    return Settings(profile=profile, device=device, seed=seed, home=cache_dir(),
                    offline=env_flag("COURSEKIT_OFFLINE"), notebook=notebook)


def module_setting(table: dict[str, dict], S: Settings | None = None) -> dict:
    """This run's row of a module's settings table (``<MODULE>_SETTINGS``), with its ``name``: ``smoke`` or
    ``full``; a table may split ``full`` by hardware (``full / GPU``, ``full / CPU``).

    >>> module_setting({"full": dict(epochs=24), "smoke": dict(epochs=2)}, Settings(profile="smoke"))
    {'name': 'smoke', 'epochs': 2}
    """
    S = S or settings()
    name = "smoke" if S.smoke else "full"
    if name not in table:
        name = "full / CPU" if S.device == "cpu" else "full / GPU"
    return {"name": name, **copy.deepcopy(table[name])}  # a copy: editing M<n> leaves the table as it is
