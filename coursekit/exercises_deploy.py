"""Automatic checks for notebook 05's exercises (deploy to the edge), in the style of :mod:`coursekit.exercises`:
blank answer -> a hint and ``False``; wrong -> :class:`~coursekit.exercises.ExerciseError` naming the case,
the expected value, yours and a hint; right -> ``✓ correct: ...`` and ``True``.

>>> def int8_size_mb(n_params):
...     ...  # your code here
>>> check_int8_size(int8_size_mb)  # doctest: +ELLIPSIS
… int8_size_mb: not attempted yet — hint: ...
False
"""
from __future__ import annotations

import math
from typing import Callable

import numpy as np

from .exercises import ExerciseError, _NotAttempted, _attempt, _blank, _call, _correct, _number, _wrong

__all__ = ["check_int8_size", "check_p99", "check_fps_budget", "ExerciseError"]

MB = 2**20

# --------------------------------------------------------------------------------- INT8 size by hand

_SIZE_CASES = [(11_689_512, None), (2_583_322, None), (1_000_000, None), (415_000, None)]
_SIZE_HINT = ("FP32 stores 4 bytes per weight, INT8 one byte; ignore the per-channel scales and zero points "
              "(a few numbers per layer). Return megabytes of 2**20 bytes.")


def check_int8_size(fn: Callable) -> bool:
    """Check ``fn(n_params) -> MB``: the INT8 weights' size of a model with ``n_params`` weights, in MB (2**20
    bytes), within 1%."""
    name = "int8_size_mb"

    def body() -> bool:
        if _blank(fn):
            raise _NotAttempted
        for i, (n, _) in enumerate(_SIZE_CASES):
            case = f"n_params={n:,}"
            got = _number(_call(fn, (n,), {}, name=name, case=case, first=i == 0, hint=_SIZE_HINT), name, case)
            expected = n / MB
            if not math.isclose(got, expected, rel_tol=0.01):
                hint = _SIZE_HINT
                if math.isclose(got, 4 * n / MB, rel_tol=0.01):
                    hint = "that is the FP32 size (4 bytes per weight); INT8 keeps one byte per weight."
                elif math.isclose(got, n / 1e6, rel_tol=0.01):
                    hint = "megabytes here are 2**20 bytes (what file browsers and `du -m` show), not 10**6."
                elif math.isclose(got, n / 8 / MB, rel_tol=0.01):
                    hint = "INT8 is 8 bits = one byte per weight; you divided by 8 bits once too often."
                raise _wrong(name, case, f"{expected:.3f} MB", f"{got:.3f}", hint)
        return _correct(f"{name}: one byte per weight, a quarter of FP32. The measured file is a bit bigger "
                        "(scales, zero points, the graph, layers left in float).")

    return _attempt(name, _SIZE_HINT, body)


# ----------------------------------------------------------------------------- p99 from raw timings

_P99_HINT = ("sort the timings; the 99th percentile is the value 99% of the way along them. np.percentile(t, 99) "
             "is one accepted answer (linear interpolation); the nearest-rank value t_sorted[ceil(0.99 n) - 1] is "
             "the other.")


def _p99_cases() -> list[tuple[str, np.ndarray]]:
    rng = np.random.default_rng(5)
    return [("1..100 ms", np.arange(1, 101, dtype=float)),
            ("200 timings around 8 ms with 3 slow outliers",
             np.concatenate([rng.normal(8, 0.3, 197), [25.0, 31.0, 40.0]])[rng.permutation(200)]),
            ("1000 log-normal timings", rng.lognormal(1.0, 0.4, 1000)),
            ("37 timings", rng.uniform(3, 6, 37))]


def check_p99(fn: Callable) -> bool:
    """Check ``fn(times_ms) -> float``: the 99th percentile latency of raw timings (unsorted). Accepted: NumPy's
    default (linear interpolation) or the nearest-rank definition."""
    name = "p99"

    def body() -> bool:
        if _blank(fn):
            raise _NotAttempted
        for i, (what, t) in enumerate(_p99_cases()):
            got = _number(_call(fn, (t.copy(),), {}, name=name, case=what, first=i == 0, hint=_P99_HINT), name, what)
            linear = float(np.percentile(t, 99))
            rank = float(np.sort(t)[math.ceil(0.99 * len(t)) - 1])
            if not (math.isclose(got, linear, rel_tol=1e-6) or math.isclose(got, rank, rel_tol=1e-6)):
                hint = _P99_HINT
                if math.isclose(got, float(np.mean(t)), rel_tol=1e-6):
                    hint = "that is the mean; the tail is what breaks a frame budget."
                elif math.isclose(got, float(t[math.ceil(0.99 * len(t)) - 1]), rel_tol=1e-6):
                    hint = "sort the timings first: they come in the order they were measured."
                raise _wrong(name, what, f"{linear:.4f} (linear) or {rank:.4f} (nearest rank)", f"{got:.4f}", hint)
        return _correct(f"{name}: the tail latency, from raw timings, on all {len(_p99_cases())} cases.")

    return _attempt(name, _P99_HINT, body)


# ------------------------------------------------------------------------------- 30 FPS budget

_FPS_HINT = ("a camera at `fps` frames per second leaves 1000 / fps ms per frame; a frame is late when "
             "pre-processing + the model's *p99* latency + post-processing exceed it.")
_FPS_CASES = [  # (p99_ms, pre_ms, post_ms, fps, meets)
    (20.0, 5.0, 3.0, 30, True), (30.0, 2.0, 2.0, 30, False), (33.0, 0.0, 0.0, 30, True),
    (12.0, 3.0, 2.0, 60, False), (9.0, 3.0, 4.0, 60, True), (80.0, 10.0, 5.0, 10, True), (50.0, 4.0, 1.0, 20, False),
]


def check_fps_budget(fn: Callable) -> bool:
    """Check ``fn(p99_ms, pre_ms, post_ms, fps=30) -> bool``: does a model meet the frame budget at its p99?"""
    name = "meets_budget"

    def body() -> bool:
        if _blank(fn):
            raise _NotAttempted
        for i, (p99, pre, post, fps, meets) in enumerate(_FPS_CASES):
            case = f"p99={p99} ms, pre={pre} ms, post={post} ms, fps={fps}"
            got = _call(fn, (p99, pre, post), {"fps": fps}, name=name, case=case, first=i == 0, hint=_FPS_HINT)
            if not isinstance(got, (bool, np.bool_)):
                raise ExerciseError(f"{name}: for {case} you returned {got!r}; return True or False")
            if bool(got) != meets:
                budget = 1000 / fps
                raise _wrong(name, case, f"{meets} (budget {budget:.1f} ms, needed {p99 + pre + post:.1f} ms)", got,
                             _FPS_HINT if p99 + pre + post != budget else "exactly on budget still meets it (<=).")
        return _correct(f"{name}: frame-budget decisions right on all {len(_FPS_CASES)} cases.")

    return _attempt(name, _FPS_HINT, body)
