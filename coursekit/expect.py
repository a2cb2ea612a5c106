"""A notebook's closing checks: what is asserted, and what is only expected.

Facts of the run are asserted. A quality floor is :func:`expectation` ``(ok, source=...)``: with a ``source`` (a
committed measurement or a published figure) it raises :class:`FloorNotMet` when missed; without one it is a stated
expectation that only warns (:class:`UnmeasuredExpectation`) and never fails a learner's run.

>>> run_checks({"the errors add up": True, "mAP above 0.6": expectation(False, why="an estimate")})
✓ the errors add up
⚠ mAP above 0.6 (not met; a stated expectation, not a measured floor: an estimate)
{'the errors add up': True, 'mAP above 0.6': False}
"""
from __future__ import annotations

import warnings
from dataclasses import dataclass
from typing import Mapping

__all__ = ["Expectation", "expectation", "run_checks", "FloorNotMet", "UnmeasuredExpectation"]


class FloorNotMet(AssertionError):
    """A floor that rests on a measurement (or a published figure) was not reached."""


class UnmeasuredExpectation(UserWarning):
    """A stated expectation that no measurement backs yet was not met (a warning, not a failure)."""


@dataclass(frozen=True)
class Expectation:
    """A check on model quality: ``ok``, and the measurement it rests on (``source``) or why it is stated."""

    ok: bool
    source: str | None = None
    why: str = "not yet measured by the course"

    def __bool__(self) -> bool:
        return bool(self.ok)


def expectation(ok, source: str | None = None, why: str = "not yet measured by the course") -> Expectation:
    """Mark a quality check. ``source``: the committed measurement (e.g. ``"measured/m3_full_h100.json"``) or
    the published figure's source; ``None``: a stated expectation (``why`` says what it rests on)."""
    return Expectation(bool(ok), source, why)


def run_checks(checks: Mapping[str, object]) -> dict[str, bool]:
    """Print each check (✓ / ✗ / ⚠) and enforce them: a plain check that is false fails with an
    ``AssertionError`` listing every failed one; an :class:`Expectation` with a source that is false raises
    :class:`FloorNotMet`; one without a source only warns. Returns ``{name: passed}``."""
    failed, floors = [], []
    for name, value in checks.items():
        if isinstance(value, Expectation):
            if value.ok:
                print(f"✓ {name}" + (f" (floor from {value.source})" if value.source else ""))
            elif value.source:
                print(f"✗ {name} (floor from {value.source})")
                floors.append(name)
            else:
                print(f"⚠ {name} (not met; a stated expectation, not a measured floor: {value.why})")
                warnings.warn(f"{name}: not met ({value.why}); a stated expectation, so this run goes on",
                              UnmeasuredExpectation, stacklevel=2)
        else:
            print(("✓ " if value else "✗ ") + name)
            if not value:
                failed.append(name)
    if failed:
        raise AssertionError(f"failed: {failed}")
    if floors:
        raise FloorNotMet(f"below the measured floor: {floors}")
    return {name: bool(value) for name, value in checks.items()}
