"""Automatic checks for notebook 06's exercises (classical computer vision), with helpful messages.

Same contract as :mod:`coursekit.exercises`: a blank answer prints a hint and returns ``False``; a wrong
one raises :class:`~coursekit.exercises.ExerciseError` naming the case, the expected value (from OpenCV
itself), yours and a hint; a right one prints ``✓ correct`` and returns ``True``.

>>> def otsu_threshold(gray):
...     ...  # your code here
>>> check_otsu_threshold(otsu_threshold)  # doctest: +ELLIPSIS
… otsu_threshold: not attempted yet — hint: ...
False
"""
from __future__ import annotations

from typing import Callable

import cv2
import numpy as np

from .exercises import ExerciseError, _NotAttempted, _attempt, _blank, _call, _correct, _number, _wrong

__all__ = ["check_otsu_threshold", "check_moments_angle", "check_hough_count", "ExerciseError"]

_OTSU_HINT = ("for every candidate t in 0..255 split the histogram into below-or-equal t and above; "
              "keep the t with the largest between-class variance w0 * w1 * (mu0 - mu1)**2.")


def _otsu_cases():
    rng = np.random.default_rng(6)
    a = np.clip(np.concatenate([rng.normal(60, 12, 3000), rng.normal(180, 20, 1000)]), 0, 255)
    b = np.clip(np.concatenate([rng.normal(100, 8, 500), rng.normal(140, 8, 3500)]), 0, 255)
    c = np.clip(rng.normal(128, 40, 4000), 0, 255)
    return [("two peaks, 3:1", a), ("close peaks, 1:8", b), ("one broad peak", c)]


def check_otsu_threshold(fn: Callable) -> bool:
    """Check ``fn(gray uint8 array) -> threshold``: Otsu's threshold, compared with ``cv2.threshold(...,
    THRESH_OTSU)`` on three histograms (within 1 grey level: ties between equal variances may differ)."""
    name = "otsu_threshold"

    def body() -> bool:
        if _blank(fn):
            raise _NotAttempted
        for i, (what, values) in enumerate(_otsu_cases()):
            gray = values.round().astype(np.uint8).reshape(40, -1)
            expected, _ = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
            got = _number(_call(fn, (gray.copy(),), {}, name=name, case=what, first=i == 0, hint=_OTSU_HINT),
                          name, what)
            if abs(got - expected) > 1:
                hint = _OTSU_HINT
                if abs(got - gray.mean()) < 1:
                    hint = "that is the mean grey level, not Otsu's threshold. " + _OTSU_HINT
                raise _wrong(name, what, f"{expected:.0f}   (cv2.threshold with THRESH_OTSU)", f"{got:.4g}", hint)
        return _correct("your threshold matches OpenCV's Otsu on all three histograms")

    return _attempt(name, _OTSU_HINT, body)


_MOM_HINT = ("with the central moments mu20, mu02, mu11 (cv2.moments), the principal axis is "
             "0.5 * atan2(2 mu11, mu20 - mu02); image y points down, so negate it for counter-clockwise, "
             "and return it modulo 180.")


def check_moments_angle(fn: Callable) -> bool:
    """Check ``fn(mask) -> angle in degrees`` (counter-clockwise in the image, modulo 180) on rotated bars
    drawn with OpenCV; within 1.5 degrees."""
    name = "moments_angle"

    def body() -> bool:
        if _blank(fn):
            raise _NotAttempted
        for i, angle in enumerate((0.0, 30.0, 75.0, 120.0, 160.0)):
            mask = np.zeros((101, 101), np.uint8)
            box = cv2.boxPoints(((50, 50), (70, 16), -angle))  # OpenCV: negative = counter-clockwise on screen
            cv2.fillPoly(mask, [np.round(box).astype(np.int32)], 1)
            case = f"a 70 x 16 bar at {angle:g} degrees counter-clockwise"
            got = _number(_call(fn, (mask.copy(),), {}, name=name, case=case, first=i == 0, hint=_MOM_HINT), name, case)
            err = abs((got - angle + 90) % 180 - 90)
            if err > 1.5:
                mirrored = abs((-got - angle + 90) % 180 - 90) <= 1.5
                swapped = abs((got - 90 - angle + 90) % 180 - 90) <= 1.5
                hint = ("you measured clockwise: image y points down, so negate the angle. " if mirrored else
                        "you are 90 degrees off: mu20 - mu02 (x spread minus y spread), not the other way. "
                        if swapped else "") + _MOM_HINT
                raise _wrong(name, case, f"{angle:g} (mod 180)", f"{got:.4g}", hint)
        return _correct("your angle matches every bar within 1.5 degrees")

    return _attempt(name, _MOM_HINT, body)


def check_hough_count(param2, counter: Callable, frame, expected_count: int) -> bool:
    """Check a HoughCircles accumulator threshold: ``counter(frame, param2)`` must find ``expected_count``
    holes on the exercise's frame."""
    name = "hough param2"
    hint = ("param2 is the accumulator threshold: lower finds more (and false) circles, higher fewer. "
            "Try values between 5 and 30 and watch the count.")
    if _blank(param2):
        print(f"… {name}: not attempted yet — hint: {hint}")
        return False
    got = int(counter(frame, float(param2)))
    if got != expected_count:
        more = "lower it: the threshold is too strict" if got < expected_count else "raise it: false circles pass"
        raise ExerciseError(f"{name}={param2}: found {got} holes\n  expected: {expected_count}\n  hint: {more}. {hint}")
    return _correct(f"param2={param2} finds exactly {expected_count} holes")
