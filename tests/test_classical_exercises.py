"""The checks of notebook 06's exercises accept right answers, reject wrong ones, and spare blank ones."""
from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from coursekit import exercises_classical as X
from coursekit.classical import HoleCounter


def otsu(gray):
    hist = np.bincount(gray.ravel(), minlength=256).astype(float)
    p = hist / hist.sum()
    best, t_best = -1, 0
    for t in range(256):
        w0, w1 = p[: t + 1].sum(), p[t + 1:].sum()
        if w0 == 0 or w1 == 0:
            continue
        mu0 = (np.arange(t + 1) * p[: t + 1]).sum() / w0
        mu1 = (np.arange(t + 1, 256) * p[t + 1:]).sum() / w1
        v = w0 * w1 * (mu0 - mu1) ** 2
        if v > best:
            best, t_best = v, t
    return t_best


def test_otsu_check():
    assert X.check_otsu_threshold(otsu)
    with pytest.raises(X.ExerciseError, match="mean grey level"):
        X.check_otsu_threshold(lambda g: g.mean())
    assert X.check_otsu_threshold(lambda g: ...) is False


def angle(mask):
    m = cv2.moments(mask.astype(np.uint8), binaryImage=True)
    return (-math.degrees(0.5 * math.atan2(2 * m["mu11"], m["mu20"] - m["mu02"]))) % 180


def test_moments_check():
    assert X.check_moments_angle(angle)
    with pytest.raises(X.ExerciseError, match="clockwise"):
        X.check_moments_angle(lambda m: (-angle(m)) % 180)
    assert X.check_moments_angle(lambda m: None) is False


def test_hough_check():
    from test_classical_pipelines import HOLES, plate

    img = plate(15.0, holes=HOLES[:4])
    count = lambda f, p2: len(HoleCounter("hough", hough_param2=p2).predict([f])[0])  # noqa: E731
    assert X.check_hough_count(9, count, img, 4)
    with pytest.raises(X.ExerciseError, match="found"):
        X.check_hough_count(60, count, img, 4)
    assert X.check_hough_count(None, count, img, 4) is False
