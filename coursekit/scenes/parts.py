"""Parts: the ten machined/moulded part shapes, the distractor pieces, and their materials.

>>> import numpy as np
>>> spec = build_part("gear", np.random.default_rng(0))
>>> spec.name, len(spec.prims) > 2, spec.radius() <= 1.0 + 1e-6
('gear', True, True)
"""
from __future__ import annotations

import colorsys
import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

__all__ = ["PARTS", "DISTRACTORS", "HOLE", "Prim", "PartSpec", "Material", "build_part", "sample_material"]

PARTS: tuple[str, ...] = ("washer", "hex_nut", "gear", "bracket", "flange",
                          "plate", "circlip", "bolt", "hinge", "knob")
DISTRACTORS: tuple[str, ...] = ("pebble", "pin", "chip", "ball", "swarf")
HOLE = -1.0  # level of a primitive that cuts a hole through the part


@dataclass
class Prim:
    """One drawing primitive in unit part coordinates."""

    kind: str
    pts: np.ndarray
    level: float
    r: float = 0.0

    @property
    def is_hole(self) -> bool:
        return self.level == HOLE


@dataclass
class PartSpec:
    """A part instance: primitives drawn in order, plus how its edges and surface look."""

    name: str
    prims: list[Prim] = field(default_factory=list)
    bevel: float = 0.1
    thickness: float = 0.12
    finish: str | None = None

    def radius(self) -> float:
        """Largest distance of any drawn point from the origin."""
        return max((float(np.hypot(p.pts[:, 0], p.pts[:, 1]).max()) + p.r for p in self.prims if not p.is_hole),
                   default=0.0)

    def holes(self) -> list[Prim]:
        """The hole primitives (for a defect hook that fills a hole in)."""
        return [p for p in self.prims if p.is_hole]

    def _normalise(self, margin: float = 0.98) -> "PartSpec":
        """Centre the material's bounding box on the origin and scale it into the unit circle."""
        solid = [p for p in self.prims if not p.is_hole]
        lo = np.min([p.pts.min(0) - p.r for p in solid], axis=0)
        hi = np.max([p.pts.max(0) + p.r for p in solid], axis=0)
        centre = (lo + hi) / 2
        for p in self.prims:
            p.pts = (p.pts - centre).astype(np.float32)
        k = margin / self.radius()
        for p in self.prims:
            p.pts = p.pts * k
            p.r *= k
        return self


def _circle(cx: float, cy: float, r: float, level: float) -> Prim:
    return Prim("circle", np.array([[cx, cy]], np.float32), level, r)


def _poly(pts, level: float) -> Prim:
    return Prim("poly", np.asarray(pts, np.float32), level)


def _polar(r, a) -> np.ndarray:
    return np.stack([r * np.cos(a), r * np.sin(a)], 1)


def _ngon(n: int, r: float, phase: float = 0.0) -> np.ndarray:
    return _polar(r, phase + np.arange(n) * 2 * math.pi / n)


def _rect(x0, y0, x1, y1) -> np.ndarray:
    return np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.float32)


def _rounded_rect(x0, y0, x1, y1, rad, n: int = 6) -> np.ndarray:
    corners = ((x1 - rad, y0 + rad, -math.pi / 2), (x1 - rad, y1 - rad, 0.0),
               (x0 + rad, y1 - rad, math.pi / 2), (x0 + rad, y0 + rad, math.pi))
    return np.concatenate([(cx, cy) + _polar(rad, a0 + np.linspace(0, math.pi / 2, n)) for cx, cy, a0 in corners])


def _capsule(x0, y0, x1, y1, r, n: int = 10) -> np.ndarray:
    a = math.atan2(y1 - y0, x1 - x0)
    return np.concatenate([(x1, y1) + _polar(r, a - math.pi / 2 + np.linspace(0, math.pi, n)),
                           (x0, y0) + _polar(r, a + math.pi / 2 + np.linspace(0, math.pi, n))])


def _bore(cx, cy, r: float, rim: float, level: float) -> list[Prim]:
    """A hole of radius ``r`` with a raised or sunk rim ``rim`` wider (a countersink, a chamfer)."""
    return [_circle(cx, cy, r + rim, level), _circle(cx, cy, r, HOLE)]


def _washer(rng) -> PartSpec:
    inner = rng.uniform(0.38, 0.58)
    prims = [_circle(0, 0, 1.0, 0.2), *_bore(0, 0, inner, 0.05, 0.17)]
    return PartSpec("washer", prims, bevel=rng.uniform(0.06, 0.1), thickness=0.1, finish="turned")


def _hex_nut(rng) -> PartSpec:
    bore = rng.uniform(0.42, 0.52)
    prims = [_poly(_ngon(6, 1.0), 0.35), _circle(0, 0, rng.uniform(0.9, 0.95), 0.48), *_bore(0, 0, bore, 0.08, 0.38)]
    return PartSpec("hex_nut", prims, bevel=0.05, thickness=0.12, finish="turned")


def _gear(rng) -> PartSpec:
    n = int(rng.integers(10, 17))
    depth = rng.uniform(0.14, 0.2)
    root, tip = 1.0 - depth, 1.0
    pitch = 2 * math.pi / n
    pts = []
    for i in range(n):
        a = i * pitch
        for frac, r in ((0.0, root), (0.18, tip), (0.5, tip), (0.68, root)):
            pts.append((r * math.cos(a + frac * pitch), r * math.sin(a + frac * pitch)))
    prims = [_poly(pts, 0.3)]
    if rng.random() < 0.5:  # recessed web with lightening holes
        prims.append(_circle(0, 0, root - 0.12, 0.2))
        k = int(rng.integers(4, 7))
        ring = (root - 0.12 + 0.34) / 2
        prims += [_circle(x, y, rng.uniform(0.1, 0.14), HOLE) for x, y in _ngon(k, ring, rng.uniform(0, 1))]
    bore = rng.uniform(0.14, 0.2)
    prims += [_circle(0, 0, 0.34, 0.42), _circle(0, 0, bore, HOLE),  # hub and bore
              _poly(_rect(-0.05, -bore - 0.07, 0.05, 0), HOLE)]  # keyway
    return PartSpec("gear", prims, bevel=0.05, thickness=0.1, finish="turned")


def _bracket(rng) -> PartSpec:
    w = rng.uniform(0.42, 0.55)
    lx, ly = rng.uniform(1.6, 2.0), rng.uniform(1.4, 2.0)
    outline = [(0, 0), (lx, 0), (lx, w), (w, w), (w, ly), (0, ly)]
    prims = [_poly(outline, 0.22)]
    if rng.random() < 0.6:  # gusset
        g = rng.uniform(0.3, 0.45)
        prims.append(_poly([(w, w), (w + g, w), (w, w + g)], 0.32))
    hr = rng.uniform(0.08, 0.11)
    if rng.random() < 0.5:  # slots
        prims.append(_poly(_capsule(w + 0.35, w / 2, lx - 0.3, w / 2, hr), HOLE))
        prims.append(_poly(_capsule(w / 2, w + 0.35, w / 2, ly - 0.3, hr), HOLE))
    else:
        for t in (0.45, 0.8):
            prims.append(_circle(w + t * (lx - w) - 0.05, w / 2, hr, HOLE))
            prims.append(_circle(w / 2, w + t * (ly - w) - 0.05, hr, HOLE))
    return PartSpec("bracket", prims, bevel=0.05, thickness=0.08, finish="brushed")._normalise()


def _flange(rng) -> PartSpec:
    hub = rng.uniform(0.42, 0.55)
    bore = rng.uniform(0.18, 0.26)
    prims = [_circle(0, 0, 1.0, 0.22), _circle(0, 0, hub + 0.06, 0.32), _circle(0, 0, hub, 0.5)]
    k = int(rng.choice([4, 6, 8]))
    ring = (1.0 + hub + 0.06) / 2
    hr = rng.uniform(0.07, 0.1)
    prims += [_circle(x, y, hr, HOLE) for x, y in _ngon(k, ring, rng.uniform(0, 1))] + [_circle(0, 0, bore, HOLE)]
    return PartSpec("flange", prims, bevel=0.05, thickness=0.1, finish="turned")


def _plate(rng) -> PartSpec:
    aspect = rng.uniform(1.25, 1.8)
    h = 1.0 / aspect
    prims = [_poly(_rounded_rect(-1, -h, 1, h, rng.uniform(0.06, 0.18)), 0.15)]
    inset = rng.uniform(0.14, 0.2)
    hr = rng.uniform(0.06, 0.09)
    for sx in (-1, 1):
        for sy in (-1, 1):
            prims += _bore(sx * (1 - inset), sy * (h - inset), hr, 0.04, 0.1)  # countersunk
    u = rng.random()
    if u < 0.35:
        prims.append(_poly(_rounded_rect(-0.35, -h * 0.35, 0.35, h * 0.35, 0.06), HOLE))
    elif u < 0.7:
        prims.append(_circle(0, 0, rng.uniform(0.2, 0.3) * h / 0.6, HOLE))
    return PartSpec("plate", prims, bevel=0.04, thickness=0.06, finish="brushed")._normalise()


def _circlip(rng) -> PartSpec:
    inner = rng.uniform(0.7, 0.78)
    gap = math.radians(rng.uniform(16, 26))
    prims = [_circle(0, 0, 1.0, 0.2), _circle(0, 0, inner, HOLE)]
    wedge = np.concatenate([[[0.0, 0.0]], _polar(1.3, np.linspace(-math.pi / 2 - gap, -math.pi / 2 + gap, 6))])
    prims.append(_poly(wedge, HOLE))
    lug_r = rng.uniform(0.15, 0.19)
    for s in (-1, 1):
        a = -math.pi / 2 + s * (gap + 0.28)
        cx, cy = 0.8 * math.cos(a), 0.8 * math.sin(a)
        prims += [_circle(cx, cy, lug_r, 0.2), _circle(cx, cy, lug_r * 0.45, HOLE)]
    return PartSpec("circlip", prims, bevel=0.05, thickness=0.08, finish="brushed")


def _bolt(rng) -> PartSpec:
    hl = rng.uniform(0.32, 0.45)  # head length
    hw = rng.uniform(0.34, 0.42)  # head half height
    sw = rng.uniform(0.17, 0.22)  # shank half width
    length = rng.uniform(1.3, 2.0)
    x0 = -1.0
    prims = [_poly(_rounded_rect(x0, -hw, x0 + hl, hw, 0.05), 0.35),
             _poly(_rect(x0, -hw * 0.34, x0 + hl, hw * 0.34), 0.45)]  # middle hex facet
    xs = x0 + hl
    prims.append(_poly(_rect(xs, -sw * 1.25, xs + 0.05, sw * 1.25), 0.3))  # washer face
    xt = xs + 0.05 + rng.uniform(0.2, 0.5) * length  # where the thread starts
    xe = xs + 0.05 + length
    pitch = rng.uniform(0.075, 0.1)
    top = [(xs + 0.05, -sw), (xt, -sw)]
    crests, x = [], xt
    while x + pitch < xe - 0.05:
        top += [(x + pitch / 2, -sw - 0.04), (x + pitch, -sw)]
        crests.append(x)
        x += pitch
    top += [(xe - 0.04, -sw), (xe, -sw * 0.6), (xe, sw * 0.6), (xe - 0.04, sw)]
    bottom = [(px, -py) for px, py in top[:-4][::-1]]
    prims.append(_poly(top + bottom, 0.3))  # shank outline with thread teeth
    prims += [Prim("line", np.array([[x + pitch * 0.3, -sw], [x + pitch * 0.7, sw]], np.float32), 0.36, pitch * 0.18)
              for x in crests]  # thread crests as raised slanted ridges
    return PartSpec("bolt", prims, bevel=0.16, thickness=0.22, finish="turned")._normalise()


def _hinge(rng) -> PartSpec:
    h = rng.uniform(0.55, 0.85)
    kw = rng.uniform(0.1, 0.14)  # knuckle half width
    prims = [_poly(_rounded_rect(-1, -h, -kw + 0.02, h, 0.06), 0.15),
             _poly(_rounded_rect(kw - 0.02, -h, 1, h, 0.06), 0.15)]
    k = int(rng.choice([3, 5]))
    edges = np.linspace(-h, h, k + 1)
    for i in range(k):
        prims.append(_poly(_rect(-kw, edges[i] + 0.012, kw, edges[i + 1] - 0.012), 0.42))
    n = int(rng.integers(2, 4))
    hr = rng.uniform(0.07, 0.09)
    for sx in (-1, 1):
        for y in np.linspace(-h * 0.6, h * 0.6, n):
            prims += _bore(sx * (kw + (1 - kw) * 0.55), y, hr, 0.05, 0.08)
    return PartSpec("hinge", prims, bevel=0.04, thickness=0.06, finish="brushed")._normalise()


def _knob(rng) -> PartSpec:
    n = int(rng.integers(4, 7))
    lobe_r = rng.uniform(0.26, 0.34)
    core = rng.uniform(0.58, 0.66)
    prims = [_circle(0, 0, core, 0.35)]
    prims += [_circle(x, y, lobe_r, 0.35) for x, y in _ngon(n, 1.0 - lobe_r, 0.0)]
    prims += [_circle(0, 0, rng.uniform(0.38, 0.46), 0.55), _circle(0, 0, rng.uniform(0.12, 0.17), 0.48)]
    if rng.random() < 0.5:
        prims.append(_circle(0, 0, 0.07, HOLE))
    return PartSpec("knob", prims, bevel=0.14, thickness=0.2, finish=None)


def _pebble(rng) -> PartSpec:
    k = int(rng.integers(7, 11))
    a = np.sort(rng.uniform(0, 2 * math.pi, k))
    r = rng.uniform(0.6, 1.0, k)
    return PartSpec("pebble", [_poly(_polar(r, a), 0.3)], bevel=0.5, thickness=0.4, finish="cast")


def _pin(rng) -> PartSpec:
    r = rng.uniform(0.1, 0.18)
    return PartSpec("pin", [_poly(_capsule(-0.85, 0, 0.85, 0, r), 0.2)], bevel=r, thickness=r * 1.2,
                    finish="turned")


def _chip(rng) -> PartSpec:
    w = rng.uniform(0.3, 0.8)
    return PartSpec("chip", [_poly(_rect(-0.8, -w, 0.8, w) + rng.uniform(-0.12, 0.12, (4, 2)), 0.1)],
                    bevel=0.08, thickness=0.05, finish="cast")


def _ball(rng) -> PartSpec:
    return PartSpec("ball", [_circle(0, 0, 1.0, 0.0)], bevel=1.0, thickness=1.0, finish=None)


def _swarf(rng) -> PartSpec:
    turns = rng.uniform(1.2, 2.2)
    t = np.linspace(0, turns * 2 * math.pi, 40)
    r = 0.3 + 0.6 * t / t[-1]
    pts = np.stack([r * np.cos(t), r * np.sin(t) * rng.uniform(0.5, 1.0)], 1)
    return PartSpec("swarf", [Prim("line", pts.astype(np.float32), 0.1, rng.uniform(0.04, 0.07))],
                    bevel=0.05, thickness=0.05, finish="brushed")


_BUILDERS: dict[str, Callable[[np.random.Generator], PartSpec]] = {
    "washer": _washer, "hex_nut": _hex_nut, "gear": _gear, "bracket": _bracket, "flange": _flange, "plate": _plate,
    "circlip": _circlip, "bolt": _bolt, "hinge": _hinge, "knob": _knob,
    "pebble": _pebble, "pin": _pin, "chip": _chip, "ball": _ball, "swarf": _swarf}
assert set(_BUILDERS) == set(PARTS + DISTRACTORS), "every part and distractor needs a builder"


def build_part(name: str, rng: np.random.Generator) -> PartSpec:
    """A random instance of part (or distractor) ``name``, inside the unit circle."""
    if name not in _BUILDERS:
        raise ValueError(f"unknown part {name!r}; valid parts: {', '.join(PARTS)}; "
                         f"distractors: {', '.join(DISTRACTORS)}")
    return _BUILDERS[name](rng)


@dataclass(frozen=True)
class Material:
    """How a surface reflects light."""

    name: str
    albedo: tuple[float, float, float]
    diffuse: float
    specular: float
    shininess: float
    metallic: bool
    finish: str
    roughness: float


_METALS = {  # name: (albedo, diffuse, specular, shininess, finish, roughness)
    "steel": ((0.55, 0.56, 0.58), 0.7, 0.7, 24, "brushed", 0.10),
    "aluminium": ((0.74, 0.75, 0.77), 0.75, 0.55, 16, "brushed", 0.08),
    "brass": ((0.72, 0.57, 0.30), 0.7, 0.7, 28, "turned", 0.08),
    "copper": ((0.70, 0.42, 0.28), 0.7, 0.7, 28, "turned", 0.08),
    "black_oxide": ((0.13, 0.13, 0.14), 0.8, 0.45, 18, "brushed", 0.12),
    "yellow_zinc": ((0.74, 0.66, 0.36), 0.75, 0.6, 22, "turned", 0.08),
    "cast_iron": ((0.30, 0.30, 0.31), 0.9, 0.2, 10, "cast", 0.22),
}


def sample_material(rng: np.random.Generator) -> Material:
    """A random material; the same distribution for every part class (half metals, half plastics)."""
    if rng.random() < 0.5:
        name = list(_METALS)[int(rng.integers(len(_METALS)))]
        albedo, kd, ks, shin, finish, rough = _METALS[name]
        albedo = np.clip(np.asarray(albedo) * rng.uniform(0.85, 1.15) + rng.normal(0, 0.02, 3), 0.03, 0.95)
        return Material(name, tuple(albedo.tolist()), kd, ks, shin * rng.uniform(0.7, 1.4), True, finish,
                        rough * rng.uniform(0.7, 1.3))
    u = rng.random()
    if u < 0.15:  # black rubber / POM
        name, albedo = "rubber", np.full(3, rng.uniform(0.06, 0.14))
        return Material(name, tuple(albedo.tolist()), 0.9, 0.15, 8, False, "grain", 0.06)
    sat = rng.uniform(0.0, 0.2) if u < 0.3 else rng.uniform(0.45, 0.9)  # white/grey or coloured plastic
    albedo = colorsys.hsv_to_rgb(rng.uniform(0, 1), sat, rng.uniform(0.35, 0.9))
    return Material("plastic", tuple(float(a) for a in albedo), 0.85, rng.uniform(0.25, 0.45),
                    rng.uniform(15, 40), False, "grain", 0.04)
