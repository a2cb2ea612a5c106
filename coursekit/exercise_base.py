"""What every notebook's exercise checks share (``coursekit.exercises_*`` hold the checks themselves).

A check takes the learner's answer: **not attempted yet** (``None``, ``...``, a body returning None, or
NotImplementedError on the first case) prints a hint and returns ``False``; **wrong** raises :class:`ExerciseError`
naming the case, the expected value (from the libraries or coursekit), yours and a hint (the likely mistake);
**right** prints ``✓ correct: ...`` and returns ``True``.

>>> @exercise("double", "return 2 * x")
... def check_double(fn):
...     got = number(call(fn, (3,), name="double", case="x=3", first=True, hint="return 2 * x"), "double", "x=3")
...     return correct("double(3) = 6") if got == 6 else False
>>> check_double(lambda x: None)
… double: not attempted yet — hint: return 2 * x
False
"""
from __future__ import annotations

import contextlib
import copy
import functools
import math
from typing import Any, Callable, Sequence

__all__ = ["ExerciseError", "NotAttempted", "exercise", "torch_sandbox", "blank", "correct", "not_attempted", "wrong",
           "call", "number", "as_array", "others", "close", "diagnose", "explain", "first_match", "check_cases"]


class ExerciseError(AssertionError):
    """A wrong answer. The message names the failing case, the expected value, yours, and a hint."""


class NotAttempted(Exception):
    """Raised inside a check when the learner's answer is still blank."""


def blank(value: Any) -> bool:
    return value is None or value is Ellipsis


def correct(message: str) -> bool:
    print(f"✓ correct: {message}")
    return True


def not_attempted(name: str, hint: str) -> bool:
    print(f"… {name}: not attempted yet — hint: {hint}")
    return False


def wrong(name: str, case: str, expected: Any, got: Any, hint: str) -> ExerciseError:
    return ExerciseError(f"{name}: wrong answer for {case}\n  expected: {expected}\n  yours:    {got}\n  hint: {hint}")


def exercise(name: str, hint: str, *, torch_seed: int | None = None):
    """Decorator: a blank answer, or :class:`NotAttempted` raised by the check, prints ``hint`` and returns False;
    ``torch_seed``: run the check in :func:`torch_sandbox` seeded so."""
    def wrap(check):
        @functools.wraps(check)
        def run(answer, *args, **kwargs):
            try:
                if blank(answer):
                    raise NotAttempted
                with torch_sandbox(torch_seed) if torch_seed is not None else contextlib.nullcontext():
                    return check(answer, *args, **kwargs)
            except NotAttempted:
                return not_attempted(name, hint)
        return run
    return wrap


@contextlib.contextmanager
def torch_sandbox(seed: int | None = None):
    """torch's RNG forked (and seeded, if ``seed`` is given) and one CPU thread: a check's tiny tensors run much
    faster on one thread, and the notebook's random state is left as it was."""
    import torch

    threads = torch.get_num_threads()
    with torch.random.fork_rng(devices=[]):
        if seed is not None:
            torch.manual_seed(seed)
        torch.set_num_threads(1)
        try:
            yield
        finally:
            torch.set_num_threads(threads)


def call(fn: Callable, args: tuple, kwargs: dict | None = None, *, name: str, case: str, first: bool, hint: str,
         error_hint: Callable[[Exception], str | None] | None = None):
    """Call the learner's function; blank on the first case means not attempted, later it is a mistake
    (``error_hint(exception)`` may turn a typical crash into a specific hint)."""
    try:
        out = fn(*args, **(kwargs or {}))
    except NotImplementedError:
        if first:
            raise NotAttempted from None
        raise ExerciseError(
            f"{name}: raised NotImplementedError for {case}\n  this case must be handled too.\n  hint: {hint}"
        ) from None
    except Exception as e:  # the learner's bug: say where, keep the traceback (chained)
        specific = error_hint(e) if error_hint else None
        raise ExerciseError(
            f"{name}: your function raised {type(e).__name__}: {e}\n  on {case}\n  hint: {specific or hint}"
        ) from e
    if blank(out):
        if first:
            raise NotAttempted
        raise ExerciseError(f"{name}: returned {out!r} for {case}\n"
                            "  hint: every path through your function must end with `return <value>`")
    return out


def number(out: Any, name: str, case: str) -> float:
    """A plain Python number from an int, float, numpy scalar or one-element tensor."""
    if hasattr(out, "item") and getattr(out, "numel", lambda: getattr(out, "size", 1))() == 1:
        out = out.item()
    if isinstance(out, bool) or not isinstance(out, (int, float)):
        try:
            out = float(out)
        except (TypeError, ValueError, RuntimeError):
            raise ExerciseError(f"{name}: for {case} your function returned {out!r} ({type(out).__name__}); "
                                "it should return a single number") from None
    return out


def as_array(out: Any, name: str, case: str, wanted: str = "an array"):
    """The learner's answer as a float64 numpy array (from a list, tuple, array or tensor)."""
    import numpy as np

    try:
        return np.asarray(out.detach().cpu().numpy() if hasattr(out, "detach") else out, dtype=np.float64)
    except (TypeError, ValueError, RuntimeError):
        raise ExerciseError(f"{name}: for {case} you returned {type(out).__name__}; return {wanted}") from None


def others(fn: Callable, cases: Sequence[tuple], convert: Callable = float) -> list[tuple[tuple, Any]]:
    """The learner's answers on the remaining cases, for diagnosis only (crashes are skipped)."""
    out = []
    for args in cases:
        with contextlib.suppress(Exception):  # a diagnosis must never hide the real failure
            out.append((args, convert(fn(*args))))
    return out


def close(a, b, tol: float = 1e-6, rtol: float = 0.0) -> bool:
    """Numbers, or arrays of numbers, of one shape and equal within ``tol + rtol * |b|``; nan matches nothing."""
    import numpy as np

    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return a.shape == b.shape and bool(np.all(np.abs(a - b) <= tol + rtol * np.abs(b)))


def diagnose(seen: list[tuple[tuple, Any]], variants: Sequence[tuple[Callable, Any]], failing: tuple,
             failing_got: Any, same: Callable[[Any, Any], bool] = close) -> str | None:
    """The hint of the wrong variant that explains every answer seen, else of the one that explains the failing
    answer, else None. ``variants``: (value_fn(*args), hint or hint_fn(*failing))."""
    def value(fn, args):
        try:
            return fn(*args)
        except Exception:  # noqa: BLE001 - a variant that cannot compute a case explains nothing
            return math.nan

    named = lambda hint: hint(*failing) if callable(hint) else hint  # noqa: E731

    for fn, hint in variants:
        if all(same(value(fn, args), got) for args, got in seen):
            return named(hint)
    return next((named(hint) for fn, hint in variants if same(value(fn, failing), failing_got)), None)


def explain(fn: Callable, cases: Sequence[tuple[str, tuple]], i: int, got: Any, variants, convert: Callable = float,
            same: Callable[[Any, Any], bool] = close) -> str | None:
    """:func:`diagnose` over the learner's answers on every ``(case, args)`` (``got`` for case ``i``)."""
    rest = [copy.deepcopy(args) for k, (_, args) in enumerate(cases) if k != i]
    return diagnose(others(fn, rest, convert) + [(cases[i][1], got)], variants, cases[i][1], got, same)


def first_match(got: Any, variants, fallback: Any = None, *, args: tuple | None = None,
                same: Callable[[Any, Any], bool] = close):
    """The hint of the first (value, hint) variant whose value is ``same`` as ``got`` (values called on ``args``
    when given), else ``fallback``."""
    return next((h for v, h in variants if same(got, v(*args) if args is not None else v)), fallback)


def check_cases(fn: Callable, cases: Sequence[tuple[str, tuple]], *, name: str, hint: str, reference: Callable,
                convert: Callable = number, same: Callable = close, variants: Sequence = (), across: bool = False,
                mistake: Callable | None = None, shape_hint: str | None = None, show: Callable = str,
                source: str = "", error_hint: Callable | None = None) -> int:
    """Compare ``convert(fn(*copy of args), name, case)`` with ``reference(*args)`` on each ``(case, args)``; a wrong
    answer raises :func:`wrong` with the first hint found: of the ``variants`` ((value_fn(*args), hint), which
    explain it on this case or, ``across``, on all of them: :func:`explain`), ``mistake(i, got, expected)``, ``hint``.
    ``shape_hint``: shapes are compared first. Returns the number of cases."""
    import numpy as np

    for i, (case, args) in enumerate(cases):
        out = call(fn, copy.deepcopy(args), name=name, case=case, first=i == 0, hint=hint, error_hint=error_hint)
        got, expected = convert(out, name, case), reference(*args)
        shaped = shape_hint is not None and np.shape(got) != np.shape(expected)
        if shaped or not same(got, expected):
            found = (explain(fn, cases, i, got, variants, lambda v: convert(v, name, case), same) if across
                     else first_match(got, variants, args=args, same=same))
            if shaped:
                raise wrong(name, case, f"shape {np.shape(expected)}", f"shape {np.shape(got)}", found or shape_hint)
            raise wrong(name, case, f"{show(expected)}{source}", show(got),
                        found or (mistake and mistake(i, got, expected)) or hint)
    return len(cases)
