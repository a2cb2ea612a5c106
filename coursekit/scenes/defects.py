"""Defects: scratches, cracks and missing holes drawn on a part through the generator's defect hook.

>>> from coursekit.scenes import SceneGenerator
>>> hook = defect_hook([Defect("crack", 0.8)], seed=(0, 1))
>>> scene = SceneGenerator(96, parts=("flange",), seed=0, defect_hook=hook).render(0)
>>> scene.objects[0].defects
['crack']
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Callable, Sequence

import cv2
import numpy as np

from .render import _ONE, _SHIFT, PartCanvas, draw_prim, rasterize

__all__ = ["DEFECT_KINDS", "Defect", "DEFECT_RENDERERS", "defect_hook", "draw_scratch",
           "draw_crack", "fill_hole", "draw_stain"]

DEFECT_KINDS: tuple[str, ...] = ("scratch", "crack", "missing_hole", "stain")


@dataclass(frozen=True)
class Defect:
    """One defect to draw."""

    kind: str
    severity: float

    def __post_init__(self):
        if self.kind not in DEFECT_KINDS:
            raise ValueError(f"unknown defect kind {self.kind!r}; valid: {', '.join(DEFECT_KINDS)}")
        if not 0.0 <= float(self.severity) <= 1.0:
            raise ValueError(f"defect severity must be in [0, 1]; got {self.severity!r}")


def _mark(canvas: PartCanvas, x: np.ndarray, albedo: float, shade: float, depth: float) -> None:
    """Darken the surface by ``x`` (0..1 per pixel): the albedo by ``albedo``, the shading by ``shade``, and sink
    it by ``depth`` levels."""
    if albedo:
        canvas.albedo_gain *= 1.0 - x * albedo
    canvas.shade_gain *= 1.0 - x * shade
    if depth:
        canvas.level -= x * depth


def _stroke(shape: tuple[int, int], pts: np.ndarray, thickness: int) -> np.ndarray:
    """A float32 [0, 1] anti-aliased polyline through ``pts`` (patch pixels)."""
    out = np.zeros(shape, np.float32)
    ip = [np.round(np.asarray(pts, np.float64) * _ONE).astype(np.int32)]
    cv2.polylines(out, ip, False, 1.0, max(int(thickness), 1), cv2.LINE_AA, _SHIFT)
    return np.clip(out, 0.0, 1.0)


def _material(canvas: PartCanvas, erode: int = 0) -> np.ndarray:
    """float32 [0, 1] where the part has material (optionally eroded by ``erode`` pixels)."""
    m = canvas.mask
    if erode > 0:
        m = cv2.erode(m, np.ones((2 * erode + 1, 2 * erode + 1), np.uint8))
    return m.astype(np.float32) * (1.0 / 255.0)


def _random_material_point(canvas: PartCanvas, rng: np.random.Generator, erode: int) -> np.ndarray | None:
    ys, xs = np.nonzero(_material(canvas, erode) > 0.5)
    if len(xs) == 0:
        ys, xs = np.nonzero(canvas.mask)
    if len(xs) == 0:
        return None
    i = int(rng.integers(len(xs)))
    return np.array([xs[i], ys[i]], np.float64) + rng.uniform(0, 1, 2)


def draw_scratch(canvas: PartCanvas, rng: np.random.Generator, severity: float) -> bool:
    """One or two thin, gently curved scratches across the part; bright (burnished) or dark (gouged)."""
    rad = canvas.radius
    shape = canvas.mask.shape
    start = _random_material_point(canvas, rng, erode=max(int(0.08 * rad), 1))
    if start is None:
        return False
    n = 2 if rng.random() < 0.3 else 1
    bright = rng.random() < 0.6
    if canvas.material is not None:
        lum = float(np.dot(canvas.material.albedo, (0.3, 0.59, 0.11)))
        bright = lum < 0.3 or (lum < 0.6 and bright)
    heading = rng.uniform(0, 2 * math.pi)
    length = rad * rng.uniform(0.7, 1.3) * (0.7 + 0.5 * severity)
    width = max(1, int(round(rad * (0.022 + 0.016 * severity))))  # about 1 output pixel at 2x supersampling
    lines = np.zeros(shape, np.float32)
    d = np.array([math.cos(heading), math.sin(heading)])
    normal = np.array([-d[1], d[0]])
    t = np.linspace(0, 1, 40)[:, None]
    for k in range(n):
        p0 = start + normal * (k * rng.uniform(0.05, 0.12) * rad) - d * length * rng.uniform(0.35, 0.65)
        p2 = p0 + d * length * rng.uniform(0.8, 1.0)
        p1 = (p0 + p2) / 2 + normal * (rng.uniform(-0.15, 0.15) * length)  # a slight bend: quadratic Bezier
        pts = (1 - t) ** 2 * p0 + 2 * (1 - t) * t * p1 + t * t * p2
        lines = np.maximum(lines, _stroke(shape, pts, width) * rng.uniform(0.75, 1.0))
    lines *= _material(canvas, erode=1)
    if not lines.any():
        return False
    amp = 0.85 * max(severity - 0.1, 0.0) / 0.9
    if bright:  # burnished: brighter albedo, brighter shading
        canvas.albedo_gain += lines * (1.6 * amp)
    _mark(canvas, lines, 0.0 if bright else min(0.9, amp), -0.5 * amp if bright else 0.5 * amp, 0.012 * amp)
    return True


def _edge_points(canvas: PartCanvas) -> tuple[np.ndarray, np.ndarray]:
    """Boundary pixels of the material (outer edge and hole rims) and the inward direction at each."""
    m = canvas.mask
    edge = (m > 0) & (cv2.erode(m, np.ones((3, 3), np.uint8)) == 0)
    ys, xs = np.nonzero(edge)
    dt = cv2.GaussianBlur(cv2.distanceTransform(m, cv2.DIST_L2, 3), (0, 0), 1.5)
    gx = cv2.Sobel(dt, cv2.CV_32F, 1, 0, ksize=3)[ys, xs]
    gy = cv2.Sobel(dt, cv2.CV_32F, 0, 1, ksize=3)[ys, xs]
    return np.stack([xs, ys], 1).astype(np.float64), np.stack([gx, gy], 1).astype(np.float64)


def _walk(canvas: PartCanvas, rng: np.random.Generator, p: np.ndarray, heading: float, length: float,
          step: float) -> np.ndarray:
    """A jagged random walk from ``p`` that keeps to the material."""
    pts = [p.copy()]
    h0 = heading
    m = canvas.mask
    size = m.shape[0]
    for _ in range(max(int(length / step), 2)):
        heading += rng.normal(0, 0.5) + 0.3 * (h0 - heading)
        q = pts[-1] + step * rng.uniform(0.6, 1.4) * np.array([math.cos(heading), math.sin(heading)])
        x, y = int(q[0]), int(q[1])
        if not (0 <= x < size and 0 <= y < size) or m[y, x] == 0:
            break
        pts.append(q)
    return np.array(pts)


def draw_crack(canvas: PartCanvas, rng: np.random.Generator, severity: float) -> bool:
    """A dark, jagged crack running in from the outer edge or a hole's rim, with one or two branches."""
    rad = canvas.radius
    pts, inward = _edge_points(canvas)
    if len(pts) == 0:
        return False
    shape = canvas.mask.shape
    step = max(0.045 * rad, 1.5)
    length = rad * (0.25 + 0.45 * severity) * rng.uniform(0.85, 1.15)
    main = None
    for _ in range(8):  # pick a start whose walk gets some way into the material
        i = int(rng.integers(len(pts)))
        g = inward[i]
        heading = math.atan2(g[1], g[0]) if np.hypot(*g) > 1e-6 else rng.uniform(0, 2 * math.pi)
        walk = _walk(canvas, rng, pts[i] - 0.5 * np.array([math.cos(heading), math.sin(heading)]),
                     heading + rng.uniform(-0.4, 0.4), length, step)
        if main is None or len(walk) > len(main):
            main = walk
        if len(walk) * step >= 0.6 * length:
            break
    if main is None or len(main) < 3:
        return False
    w_main = max(1, int(round(rad * (0.02 + 0.025 * severity))))
    crack = _stroke(shape, main, w_main)
    for _ in range(1 + int(rng.random() < 0.5 * severity + 0.2)):  # branches
        j = int(rng.integers(1, len(main) - 1))
        d = main[j + 1] - main[j - 1]
        h = math.atan2(d[1], d[0]) + rng.choice([-1, 1]) * rng.uniform(0.4, 1.0)
        branch = _walk(canvas, rng, main[j], h, length * rng.uniform(0.25, 0.5), step * 0.8)
        if len(branch) >= 2:
            crack = np.maximum(crack, _stroke(shape, branch, max(1, w_main - 1)) * 0.9)
    crack *= _material(canvas)
    dark = 0.9 * min(max(severity - 0.08, 0.0) / 0.6, 1.0) ** 0.9  # a hairline at 0.2, black from 0.7
    _mark(canvas, crack, dark, 0.85 * dark, 0.05 * dark)
    return True


def fill_hole(canvas: PartCanvas, rng: np.random.Generator, severity: float) -> bool:
    """Leave one of the part's holes undrilled (holes overlapping it, e.g. a keyway, go with it)."""
    spec = canvas.spec
    holes = []  # (primitive index, bool patch of the pixels it cuts out)
    for i, p in enumerate(spec.prims):
        if p.is_hole:
            r = np.zeros(canvas.mask.shape, np.uint8)
            draw_prim(r, p, canvas.to_pixels(p.pts), canvas.radius, 1)
            holes.append((i, r.astype(bool)))
    candidates = [r for _, r in holes if r.sum() >= 4]
    if not candidates:
        return False
    chosen = candidates[int(rng.integers(len(candidates)))]
    group = [(i, r) for i, r in holes if (r & chosen).any()]
    drop = {i for i, _ in group}
    region = np.logical_or.reduce([r for _, r in group])
    filled = rasterize(replace(spec, prims=[p for i, p in enumerate(spec.prims) if i not in drop]),
                       canvas.mask.shape[0], canvas.center, canvas.radius, canvas.angle_deg)
    grow = cv2.dilate(region.astype(np.uint8), np.ones((3, 3), np.uint8)).astype(bool)
    canvas.mask[grow] = filled.mask[grow]
    canvas.level[grow] = filled.level[grow]
    canvas.spec = filled.spec
    # the mark left where the hole should be
    ys, xs = np.nonzero(chosen)
    c = (float(xs.mean()) + 0.5, float(ys.mean()) + 0.5)
    r_px = math.sqrt(len(xs) / math.pi)
    yy, xx = np.ogrid[:region.shape[0], :region.shape[1]]
    dist = np.sqrt((xx - c[0]) ** 2 + (yy - c[1]) ** 2).astype(np.float32)
    if severity >= 0.6:  # flush, with a small centre-drill spot
        spot = np.clip(1.0 - dist / max(0.35 * r_px, 1.0), 0.0, 1.0)
        depth = 0.6 * (1.0 - severity) + 0.05
    else:  # blind pit, slightly smaller than the hole
        spot = np.clip((0.85 * r_px - dist) / 1.5 + 0.5, 0.0, 1.0)
        depth = 0.9 - 0.9 * (severity - 0.2) / 0.4  # 0.9 (hole-like) at 0.2 .. 0 at 0.6
        depth = float(np.clip(depth, 0.1, 0.9))
    spot *= region
    _mark(canvas, spot, 0.0, depth, 0.04 * depth)
    return True


def draw_stain(canvas: PartCanvas, rng: np.random.Generator, severity: float) -> bool:
    """A soft, dark oil stain or fingerprint smudge (cosmetic: *not* a defect)."""
    rad = canvas.radius
    c = _random_material_point(canvas, rng, erode=0)
    if c is None:
        return False
    size = canvas.mask.shape[0]
    blob = np.zeros((size, size), np.float32)
    for _ in range(int(rng.integers(2, 5))):
        q = c + rng.normal(0, 0.12 * rad, 2)
        axes = (max(int(rad * rng.uniform(0.08, 0.22)), 1), max(int(rad * rng.uniform(0.06, 0.18)), 1))
        cv2.ellipse(blob, (int(q[0]), int(q[1])), axes, float(rng.uniform(0, 180)), 0, 360, 1.0, -1)
    blob = cv2.GaussianBlur(blob, (0, 0), max(0.06 * rad, 1.0))
    blob = np.clip(blob, 0, 1) * _material(canvas)
    _mark(canvas, blob, 0.15 + 0.35 * severity, 0.1 + 0.2 * severity, 0.0)
    return True


#: kind -> ``draw(canvas, rng, severity)``, in place; ``False`` if the part cannot have it (no holes, no room)
DEFECT_RENDERERS: dict[str, Callable[[PartCanvas, np.random.Generator, float], bool]] = {
    "scratch": draw_scratch, "crack": draw_crack, "missing_hole": fill_hole, "stain": draw_stain,
}


def defect_hook(defects: Sequence[Defect],
                seed: int | Sequence[int]) -> Callable[[PartCanvas, np.random.Generator], list[str]]:
    """The ``hook(canvas, rng) -> drawn kinds`` that draws ``defects`` in order (missing holes first)."""
    order = sorted(defects, key=lambda d: d.kind != "missing_hole")

    def hook(canvas: PartCanvas, rng: np.random.Generator) -> list[str]:
        own = np.random.default_rng(seed)
        return [d.kind for d in order if DEFECT_RENDERERS[d.kind](canvas, own, float(d.severity))]

    return hook
