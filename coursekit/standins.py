"""Loud announcements for stand-ins: the one way every notebook says "this is not the real thing"."""
from __future__ import annotations

from dataclasses import dataclass

from .assets import AssetUnavailable
from .config import env_flag

__all__ = ["StandIn", "announce_standin", "real_or_standin", "STANDINS_USED"]


@dataclass(frozen=True)
class StandIn:
    """What was replaced, by what, why, and where the real result is described."""

    replaces: str
    by: str
    why: str
    real_result: str

    def banner(self) -> str:
        bar = "!" * 78
        return "\n".join([bar, f"!! STAND-IN: {self.by}", f"!!   replaces:     {self.replaces}",
                          f"!!   why:          {self.why}", f"!!   real result:  {self.real_result}",
                          "!!   Numbers below come from the stand-in. They check the method, they are NOT the real "
                          "result.", bar])


STANDINS_USED: list[StandIn] = []


def announce_standin(replaces: str, by: str, why: str, real_result: str) -> StandIn:
    """Print a banner for a stand-in and record it in ``STANDINS_USED``; returns the record."""
    record = StandIn(replaces=replaces, by=by, why=why, real_result=real_result)
    if record not in STANDINS_USED:
        STANDINS_USED.append(record)
    print("\n" + record.banner(), flush=True)
    return record


def real_or_standin(settings, load_real, load_standin, *, what: str, replaces: str, by, real_result: str,
                    note: str = ""):
    """``load_real()``; if its weights are unavailable and stand-ins are allowed (smoke profile or
    ``COURSEKIT_STANDINS=1``), ``load_standin()`` announced with a banner (``by`` may be a function of it)."""
    try:
        return load_real()
    except AssetUnavailable as err:
        if not (settings.smoke or env_flag("COURSEKIT_STANDINS")):
            raise AssetUnavailable(
                f"{err}\nOr run on the course's offline stand-in ({note}its numbers are not the real result): "
                "COURSEKIT_PROFILE=smoke, or COURSEKIT_STANDINS=1 for the full-size run.", err.reason) from None
        value = load_standin()
        announce_standin(replaces=replaces, by=by(value) if callable(by) else by, real_result=real_result,
                         why=f"{what} is not cached and this machine is offline ({err.reason or 'offline'})")
        return value
