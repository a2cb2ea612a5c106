"""Rendering: rasterise a part, shade it from a height map, cast its shadow, then light and "shoot" the scene.

>>> import numpy as np
>>> from coursekit.scenes.parts import build_part, sample_material
>>> rng = np.random.default_rng(0)
>>> canvas = rasterize(build_part("washer", rng), 40, (20.0, 20.0), 16.0, 30.0)
>>> rgb, alpha = shade(canvas, sample_material(rng), Light(), rng)
>>> rgb.shape, bool(alpha[20, 20]), bool(alpha[20, 4])   # the washer's hole shows the background
((40, 40, 3), False, True)
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from .parts import Material, PartSpec, Prim

__all__ = ["Light", "PartCanvas", "draw_prim", "rasterize", "shade", "soft_shadow", "paste", "illumination",
           "kelvin_gains", "sensor_noise", "jpeg"]

_SHIFT = 3  # OpenCV sub-pixel bits: coordinates are drawn at 1/8 pixel precision
_ONE = float(1 << _SHIFT)


@dataclass(frozen=True)
class Light:
    """The key light: where it comes from and how strong it is, plus ambient and a weak fill light."""

    azimuth_deg: float = 135.0
    elevation_deg: float = 50.0
    intensity: float = 1.0
    ambient: float = 0.35
    fill: float = 0.2

    @property
    def direction(self) -> np.ndarray:
        """Unit vector towards the light in image coordinates (x right, y down, z towards the camera)."""
        az, el = math.radians(self.azimuth_deg), math.radians(self.elevation_deg)
        return np.array([math.cos(el) * math.cos(az), -math.cos(el) * math.sin(az), math.sin(el)], np.float32)


@dataclass
class PartCanvas:
    """One part rasterised in its own square patch (render resolution), before shading."""

    spec: PartSpec
    mask: np.ndarray
    level: np.ndarray
    albedo_gain: np.ndarray
    center: tuple[float, float]
    radius: float
    angle_deg: float
    to_patch: np.ndarray
    shade_gain: np.ndarray
    material: Material | None = None

    def to_pixels(self, pts) -> np.ndarray:
        """Map unit part coordinates (K, 2) to patch pixels (K, 2)."""
        pts = np.asarray(pts, np.float32).reshape(-1, 2)
        return pts @ self.to_patch[:, :2].T + self.to_patch[:, 2]


def _affine(center, radius: float, angle_deg: float) -> np.ndarray:
    a = math.radians(angle_deg)
    c, s = math.cos(a) * radius, math.sin(a) * radius
    # counter-clockwise on screen (y points down): unit +x turns towards unit -y
    return np.array([[c, s, center[0]], [-s, c, center[1]]], np.float32)


def draw_prim(img: np.ndarray, p: Prim, pts: np.ndarray, radius: float, value, where: str = "") -> None:
    """Draw primitive ``p`` (its points ``pts`` in patch pixels, ``radius`` px per unit) into ``img``, in place."""
    ip = [np.round(pts * _ONE).astype(np.int32)]
    if p.kind == "circle":
        c = (int(round(pts[0, 0] * _ONE)), int(round(pts[0, 1] * _ONE)))
        cv2.circle(img, c, max(int(round(p.r * radius * _ONE)), 1), value, -1, cv2.LINE_8, _SHIFT)
    elif p.kind == "poly":
        cv2.fillPoly(img, ip, value, cv2.LINE_8, _SHIFT)
    elif p.kind == "line":
        cv2.polylines(img, ip, False, value, max(int(round(2 * p.r * radius)), 1), cv2.LINE_8, _SHIFT)
    else:
        raise ValueError(f"unknown primitive kind {p.kind!r}{where}")


def rasterize(spec: PartSpec, size: int, center, radius: float, angle_deg: float) -> PartCanvas:
    """Draw ``spec`` into a ``size`` x ``size`` patch, centred at ``center`` with ``radius`` px per unit."""
    mask = np.zeros((size, size), np.uint8)
    level = np.zeros((size, size), np.float32)
    m = _affine(center, radius, angle_deg)
    for p in spec.prims:
        pts = p.pts @ m[:, :2].T + m[:, 2]
        draw_prim(mask, p, pts, radius, 0 if p.is_hole else 255, f" in part {spec.name!r}")
        draw_prim(level, p, pts, radius, 0.0 if p.is_hole else float(p.level))
    return PartCanvas(spec, mask, level, np.ones((size, size), np.float32), (float(center[0]), float(center[1])),
                      float(radius), float(angle_deg), m, np.ones((size, size), np.float32))


def _surface(finish: str, size: int, canvas: PartCanvas, rng: np.random.Generator) -> np.ndarray:
    """Zero-mean, roughly unit-std surface texture of a finish, in the part's own frame."""
    noise = rng.standard_normal((size, size), dtype=np.float32)
    if finish == "brushed":
        k = max(3, size // 5) | 1
        tex = cv2.blur(noise, (k, 1)) * math.sqrt(k)
        rot = cv2.getRotationMatrix2D(canvas.center, canvas.angle_deg + float(rng.uniform(-10, 10)), 1.0)
        return cv2.warpAffine(tex, rot, (size, size), borderMode=cv2.BORDER_REFLECT_101)
    if finish == "turned":
        cx, cy = canvas.center
        yy, xx = np.ogrid[:size, :size]
        r = np.sqrt((xx - cx) ** 2 + (yy - cy) ** 2, dtype=np.float32)
        period = max(1.7, 0.012 * canvas.radius)
        rings = np.sin(r * (2 * math.pi / period) + float(rng.uniform(0, 6.3)))
        return rings * 0.4 + cv2.GaussianBlur(noise, (0, 0), 0.7) * 1.2
    if finish == "cast":
        cells = max(3, size // 8)
        blotch = cv2.resize(rng.standard_normal((cells, cells), dtype=np.float32), (size, size),
                            interpolation=cv2.INTER_CUBIC)
        return blotch + 0.7 * noise
    return cv2.GaussianBlur(noise, (0, 0), 0.8) * 1.5  # grain


def shade(canvas: PartCanvas, material: Material, light: Light, rng: np.random.Generator):
    """Shade a rasterised part. Returns ``(rgb float32 (P, P, 3), alpha float32 (P, P))``."""
    size = canvas.mask.shape[0]
    spec, rad = canvas.spec, canvas.radius
    alpha = canvas.mask.astype(np.float32) * (1.0 / 255.0)
    # height map in pixels: rounded edge profile + blurred relief steps + bump texture
    bw = max(spec.bevel * rad, 0.75)
    dt = cv2.distanceTransform(canvas.mask, cv2.DIST_L2, 3)
    e = np.minimum(dt * (1.0 / bw), 1.0)
    profile = np.sqrt(e * (2.0 - e))
    level = cv2.GaussianBlur(canvas.level, (0, 0), max(0.6, 0.025 * rad))
    finish = spec.finish if (material.metallic and spec.finish) else material.finish
    tex = _surface(finish, size, canvas, rng)
    height = rad * (spec.thickness * profile + 0.45 * level) + tex * (material.roughness * 0.8)
    height *= alpha
    gx = cv2.Sobel(height, cv2.CV_32F, 1, 0, ksize=3) * 0.125
    gy = cv2.Sobel(height, cv2.CV_32F, 0, 1, ksize=3) * 0.125
    inv = 1.0 / np.sqrt(gx * gx + gy * gy + 1.0)
    lx, ly, lz = light.direction
    ndl = (lz - gx * lx - gy * ly) * inv
    # fill light from the opposite side, higher up
    fill = np.clip((0.8 + gx * lx + gy * ly) * inv, 0.0, None) * light.fill
    hx, hy, hz = lx, ly, lz + 1.0
    hn = 1.0 / math.sqrt(hx * hx + hy * hy + hz * hz)
    ndh = np.clip((hz - gx * hx - gy * hy) * inv * hn, 0.0, 1.0)
    spec_term = ndh ** material.shininess * (material.specular * light.intensity)
    diffuse = light.ambient + fill + material.diffuse * light.intensity * np.clip(ndl, 0.0, None)
    albedo = np.asarray(material.albedo, np.float32)
    gain = canvas.albedo_gain * (1.0 + (0.35 * material.roughness) * tex)
    rgb = (diffuse * gain)[..., None] * albedo
    if material.metallic:
        # metal mirrors its surroundings: a soft reflected "window" sweeping across flat faces, bright
        # sheen on slopes, and highlights in the metal's own colour
        b = float(rng.uniform(0, 2 * math.pi))
        yy, xx = np.ogrid[:size, :size]
        sweep = np.cos(((xx * math.cos(b) + yy * math.sin(b)) * (1.0 / size) - 0.5) * 3.0).astype(np.float32)
        reflect = 0.45 * sweep * sweep - 0.2 + 0.6 * (1.0 - inv)
        rgb += (reflect * light.intensity)[..., None] * albedo
        rgb += spec_term[..., None] * (0.3 + 0.7 * albedo)
    else:
        rgb += spec_term[..., None]
    rgb *= canvas.shade_gain[..., None]
    return rgb.astype(np.float32, copy=False), alpha


def soft_shadow(alpha: np.ndarray, sigma: float) -> tuple[np.ndarray, int]:
    """The part's mask blurred by ``sigma`` pixels: a soft shadow to offset away from the light."""
    sigma = max(float(sigma), 0.5)
    f = max(1, int(sigma / 2.5))
    small = alpha if f == 1 else cv2.resize(alpha, (max(alpha.shape[1] // f, 1), max(alpha.shape[0] // f, 1)),
                                            interpolation=cv2.INTER_AREA)
    pad = int(math.ceil(3 * sigma / f)) + 1
    small = cv2.copyMakeBorder(small, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=0)
    small = cv2.GaussianBlur(small, (0, 0), sigma / f)
    if f == 1:
        return small, pad
    h, w = small.shape
    return cv2.resize(small, (w * f, h * f), interpolation=cv2.INTER_LINEAR), pad * f


def paste(dst: np.ndarray, src: np.ndarray, x0: int, y0: int, alpha: np.ndarray | None = None,
          mode: str = "over") -> None:
    """Composite patch ``src`` into ``dst`` at top-left ``(x0, y0)``, clipped to ``dst``, in place."""
    h, w = dst.shape[:2]
    ph, pw = src.shape[:2]
    ax0, ay0 = max(x0, 0), max(y0, 0)
    ax1, ay1 = min(x0 + pw, w), min(y0 + ph, h)
    if ax0 >= ax1 or ay0 >= ay1:
        return
    d = dst[ay0:ay1, ax0:ax1]
    s = src[ay0 - y0:ay1 - y0, ax0 - x0:ax1 - x0]
    if mode == "over":
        a = alpha[ay0 - y0:ay1 - y0, ax0 - x0:ax1 - x0]
        if d.ndim == 3:
            a = a[..., None]
        d += (s - d) * a
    elif mode == "darken":
        d *= (1.0 - s)[..., None] if d.ndim == 3 else (1.0 - s)
    elif mode == "set":
        d[...] = s
    else:
        raise ValueError(f"paste mode {mode!r}: use over, darken or set")


def illumination(h: int, w: int, azimuth_deg: float, gradient: float, vignette: float) -> np.ndarray:
    """A float32 (h, w) light field: a ramp brighter towards the light, times a corner vignette."""
    yy, xx = np.ogrid[:h, :w]
    x = (xx - (w - 1) / 2) / (max(w, h) / 2)
    y = (yy - (h - 1) / 2) / (max(w, h) / 2)
    a = math.radians(azimuth_deg)
    ramp = 1.0 + 0.5 * gradient * (x * math.cos(a) - y * math.sin(a))
    vig = 1.0 - vignette * 0.5 * (x * x + y * y)
    return (ramp * vig).astype(np.float32)


def kelvin_gains(kelvin: float, strength: float = 0.6) -> np.ndarray:
    """RGB gains of a light of colour temperature ``kelvin``, relative to 6500 K (mean gain 1).

    >>> g = kelvin_gains(3000); bool(g[0] > 1 > g[2])
    True
    """
    def rgb(k: float) -> np.ndarray:
        t = k / 100.0
        r = 255.0 if t <= 66 else 329.698727446 * (t - 60) ** -0.1332047592
        g = 99.4708025861 * math.log(t) - 161.1195681661 if t <= 66 else 288.1221695283 * (t - 60) ** -0.0755148492
        b = 255.0 if t >= 66 else (0.0 if t <= 19 else 138.5177312231 * math.log(t - 10) - 305.0447927307)
        return np.clip(np.array([r, g, b]), 1.0, 255.0)

    gains = (rgb(kelvin) / rgb(6500.0)) ** strength
    return (gains / gains.mean()).astype(np.float32)


def sensor_noise(img: np.ndarray, rng: np.random.Generator, std: float, shot: float) -> np.ndarray:
    """Add Gaussian read noise (``std``) and signal-dependent shot noise (``shot * sqrt(I)``)."""
    n = rng.standard_normal(img.shape, dtype=np.float32)
    sigma = np.sqrt(std * std + shot * shot * np.clip(img, 0.0, None))
    return img + n * sigma


def jpeg(img: np.ndarray, quality: int) -> np.ndarray:
    """Round-trip an RGB uint8 image through JPEG at ``quality`` (in memory)."""
    _, buf = cv2.imencode(".jpg", img[..., ::-1], [int(cv2.IMWRITE_JPEG_QUALITY), int(quality)])
    return np.ascontiguousarray(cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1])
