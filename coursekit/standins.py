"""Loud announcements for stand-ins: the one way every notebook says "this is not the real thing"."""
from __future__ import annotations

from dataclasses import dataclass

__all__ = ["StandIn", "announce_standin", "STANDINS_USED"]


@dataclass(frozen=True)
class StandIn:
    """What was replaced, by what, why, and where the real result is described."""

    replaces: str
    by: str
    why: str
    real_result: str

    def banner(self) -> str:
        bar = "!" * 78
        return "\n".join(
            [
                bar,
                f"!! STAND-IN: {self.by}",
                f"!!   replaces:     {self.replaces}",
                f"!!   why:          {self.why}",
                f"!!   real result:  {self.real_result}",
                "!!   Numbers below come from the stand-in. They check the method, they are NOT the real result.",
                bar,
            ]
        )


STANDINS_USED: list[StandIn] = []


def announce_standin(replaces: str, by: str, why: str, real_result: str) -> StandIn:
    """Print a banner for a stand-in and record it in ``STANDINS_USED``; returns the record."""
    record = StandIn(replaces=replaces, by=by, why=why, real_result=real_result)
    if record not in STANDINS_USED:
        STANDINS_USED.append(record)
    print("\n" + record.banner(), flush=True)
    return record
