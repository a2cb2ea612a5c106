"""The checks of notebook 06's exercises accept right answers, reject wrong ones, and spare blank ones."""
from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from coursekit import exercises_classical as X


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


# ------------------------------------------------------------------ the pose pipeline, templates, holes, tuning
def _part(frame, inv=True):
    gray = cv2.cvtColor(frame, cv2.COLOR_RGB2GRAY)
    flag = cv2.THRESH_BINARY_INV if inv else cv2.THRESH_BINARY
    _, mask = cv2.threshold(gray, 0, 255, flag + cv2.THRESH_OTSU)
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)
    return cv2.minAreaRect(max(contours, key=cv2.contourArea))


def pose(frame, inv=True, sign=1.0):
    (cx, cy), _, _ = rect = _part(frame, inv)
    p = cv2.boxPoints(rect)
    e1, e2 = p[1] - p[0], p[2] - p[1]
    v = e1 if np.hypot(*e1) >= np.hypot(*e2) else e2
    return (sign * math.degrees(math.atan2(-v[1], v[0]))) % 180, (cx + 0.5, cy + 0.5)


def test_pose_check_accepts_the_pipeline_and_names_the_angle_pitfalls():
    assert X.check_pose(pose)
    with pytest.raises(X.ExerciseError, match="clockwise"):
        X.check_pose(lambda f: pose(f, sign=-1.0))
    raw = lambda f: (_part(f)[2] % 180, _part(f)[0])  # noqa: E731  OpenCV's angle as it comes
    with pytest.raises(X.ExerciseError, match="raw angle"):
        X.check_pose(raw)
    unswapped = lambda f: ((-_part(f)[2]) % 180, _part(f)[0])  # noqa: E731  sign right, (w, h) never swapped
    with pytest.raises(X.ExerciseError, match="90 degrees off|raw angle"):
        X.check_pose(unswapped)
    with pytest.raises(X.ExerciseError, match="THRESH_BINARY_INV"):
        X.check_pose(lambda f: pose(f, inv=False))
    assert X.check_pose(lambda f: ...) is False


def scores(query, refs, mode=cv2.TM_CCOEFF_NORMED):
    return np.array([cv2.matchTemplate(query, r, mode)[0, 0] for r in refs])


def test_template_check_names_the_matching_mode():
    assert X.check_template_scores(scores)
    with pytest.raises(X.ExerciseError, match="TM_CCORR_NORMED"):
        X.check_template_scores(lambda q, r: scores(q, r, cv2.TM_CCORR_NORMED))
    with pytest.raises(X.ExerciseError, match="TM_SQDIFF_NORMED"):
        X.check_template_scores(lambda q, r: scores(q, r, cv2.TM_SQDIFF_NORMED))
    with pytest.raises(X.ExerciseError, match="index"):
        X.check_template_scores(lambda q, r: int(np.argmax(scores(q, r))))
    assert X.check_template_scores(lambda q, r: None) is False


def holes(mask, mode=cv2.RETR_EXTERNAL):
    contours, _ = cv2.findContours(mask, mode, cv2.CHAIN_APPROX_NONE)
    if mode != cv2.RETR_EXTERNAL:
        return len(contours)
    filled = np.zeros_like(mask)
    cv2.drawContours(filled, [max(contours, key=cv2.contourArea)], -1, 255, -1)
    _, _, stats, _ = cv2.connectedComponentsWithStats(cv2.bitwise_and(filled, cv2.bitwise_not(mask)))
    return int((stats[1:, cv2.CC_STAT_AREA] >= 3).sum())


def test_hole_check_names_the_outline_counted():
    assert X.check_count_holes(holes)
    with pytest.raises(X.ExerciseError, match="outline"):
        X.check_count_holes(lambda m: holes(m, cv2.RETR_LIST))
    with pytest.raises(X.ExerciseError, match="one per part"):
        X.check_count_holes(lambda m: len(cv2.findContours(m, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_NONE)[0]))
    assert X.check_count_holes(lambda m: ...) is False


def tune(count_fn, frames, true, candidates, pick=np.argmax, score="exact", out="value"):
    if score == "exact":
        s = [np.mean([count_fn(f, p) == t for f, t in zip(frames, true)]) for p in candidates]
    else:
        s = [-np.mean([abs(count_fn(f, p) - t) for f, t in zip(frames, true)]) for p in candidates]
    i = int(pick(s))
    return {"value": candidates[i], "index": i, "score": s[i]}[out]


def test_tune_check_names_the_usual_mistakes():
    assert X.check_tune_param2(tune)
    for kwargs, words in ((dict(pick=np.argmin), "worst"), (dict(score="mae"), "mean count error"),
                          (dict(out="index"), "index"), (dict(out="score"), "best score")):
        with pytest.raises(X.ExerciseError, match=words):
            X.check_tune_param2(lambda *a, kw=kwargs: tune(*a, **kw))
    assert X.check_tune_param2(lambda *a: None) is False
