"""Backgrounds: table, belt and floor textures that parts lie on.

>>> import numpy as np
>>> bg = render_background("brick", 64, 64, np.random.default_rng(0))
>>> bg.shape, bg.dtype
((64, 64, 3), dtype('float32'))
"""
from __future__ import annotations

import functools
import math
import zlib
from dataclasses import dataclass

import cv2
import numpy as np

__all__ = ["Background", "BACKGROUNDS", "render_background", "texture"]

_TEX = 512  # side of every source texture


@dataclass(frozen=True)
class Background:
    """One background texture and how to colour it."""

    name: str
    source: str
    color: tuple[float, float, float]
    contrast: tuple[float, float] = (0.15, 0.3)
    crop: tuple[float, float] = (0.3, 0.7)


BACKGROUNDS: dict[str, Background] = {b.name: b for b in (
    Background("belt", "procedural", (0.17, 0.18, 0.19), (0.25, 0.45), (0.25, 0.5)),
    Background("steel", "procedural", (0.56, 0.58, 0.60), (0.06, 0.12), (0.3, 0.7)),
    Background("wood", "procedural", (0.60, 0.43, 0.27), (0.12, 0.22), (0.3, 0.7)),
    Background("paper", "procedural", (0.80, 0.79, 0.76), (0.04, 0.10), (0.3, 0.7)),
    Background("brick", "skimage:brick", (0.58, 0.36, 0.29), (0.12, 0.25), (0.3, 0.6)),
    Background("gravel", "skimage:gravel", (0.52, 0.50, 0.47), (0.15, 0.30), (0.2, 0.5)),
    Background("grass", "skimage:grass", (0.33, 0.42, 0.22), (0.20, 0.35), (0.2, 0.5)),
    Background("moon", "skimage:moon", (0.50, 0.49, 0.47), (0.25, 0.50), (0.3, 0.7)),
    Background("camera", "skimage:camera", (0.50, 0.50, 0.50), (0.25, 0.45), (0.15, 0.4)),
    Background("coffee", "skimage:coffee", (0.5, 0.5, 0.5), (0.8, 1.0), (0.15, 0.35)),
)}


def _noise(rng: np.random.Generator, size: int, cells: int) -> np.ndarray:
    """Smooth value noise: ``cells`` x ``cells`` random values, cubic-resized to ``size``."""
    small = rng.standard_normal((cells, cells)).astype(np.float32)
    return cv2.resize(small, (size, size), interpolation=cv2.INTER_CUBIC)


def _procedural(name: str) -> np.ndarray:
    rng = np.random.default_rng([7, zlib.crc32(name.encode())])  # fixed: the same texture every run
    n = _TEX
    fine = rng.standard_normal((n, n)).astype(np.float32)
    if name == "belt":  # rubber conveyor belt: fine grit, faint longitudinal ribs, wear blotches
        grit = cv2.GaussianBlur(fine, (0, 0), 0.8)
        y = np.arange(n, dtype=np.float32)[:, None]
        ribs = np.sin(y * (2 * math.pi / 9.0)) * 0.6
        tex = grit + ribs + 0.8 * _noise(rng, n, 6)
    elif name == "steel":  # brushed sheet with a few scratches
        tex = cv2.blur(fine, (61, 1)) * 6.0 + 0.7 * _noise(rng, n, 5)
        for _ in range(12):
            x0, y0 = rng.uniform(0, n, 2)
            a = rng.uniform(-0.3, 0.3)
            ln = rng.uniform(20, 160)
            p2 = (int(x0 + ln * math.cos(a)), int(y0 + ln * math.sin(a)))
            cv2.line(tex, (int(x0), int(y0)), p2, float(rng.choice([-2.5, 2.5])), 1, cv2.LINE_AA)
    elif name == "wood":  # planks: grain lines warped by smooth noise
        y = np.arange(n, dtype=np.float32)[:, None] + 18.0 * _noise(rng, n, 4)
        grain = np.sin(y * (2 * math.pi / 23.0)) + 0.5 * np.sin(y * (2 * math.pi / 7.0))
        tex = grain + 0.4 * cv2.blur(fine, (25, 1)) * 4.0 + 0.5 * _noise(rng, n, 3)
    elif name == "paper":  # matte board: fibres and soft blotches
        tex = cv2.GaussianBlur(fine, (0, 0), 1.0) + 1.5 * _noise(rng, n, 8)
    else:  # fallback for a missing bundled image: generic stone
        tex = cv2.GaussianBlur(fine, (0, 0), 1.5) + 1.2 * _noise(rng, n, 16) + 0.8 * _noise(rng, n, 5)
    return tex.astype(np.float32)


def _load_skimage(func: str) -> np.ndarray | None:
    try:
        import skimage.data

        img = getattr(skimage.data, func)()
    except Exception:  # a stripped wheel or a renamed dataset: fall back to a procedural texture
        return None
    img = np.asarray(img, dtype=np.float32) / 255.0
    if img.ndim == 3:
        img = img[..., :3]
    h, w = img.shape[:2]
    side = min(h, w)
    img = img[(h - side) // 2:(h - side) // 2 + side, (w - side) // 2:(w - side) // 2 + side]
    return cv2.resize(img, (_TEX, _TEX), interpolation=cv2.INTER_AREA)


@functools.lru_cache(maxsize=None)
def texture(name: str) -> tuple[np.ndarray, ...]:
    """The texture pyramid of ``name`` (level 0 = 512 x 512, each next level half size), cached."""
    source = BACKGROUNDS[name].source
    img = _load_skimage(source.split(":", 1)[1]) if source.startswith("skimage:") else None
    if img is None:
        img = _procedural(name)
    if img.ndim == 2:
        img = (img - img.mean()) / (img.std() + 1e-6)
    img = np.ascontiguousarray(img, dtype=np.float32)
    levels = [img]
    while levels[-1].shape[0] > 16:
        levels.append(cv2.pyrDown(levels[-1]))
    return tuple(levels)


def _tint(rng: np.random.Generator, saturation: float) -> np.ndarray:
    hue = rng.uniform(0, 2 * math.pi)
    rgb = 1.0 + saturation * np.cos(hue - np.array([0.0, 2.094, 4.189]))
    return (rgb / rgb.mean()).astype(np.float32)


def render_background(name: str, h: int, w: int, rng: np.random.Generator, *, tint: float = 0.0,
                      brightness: float = 1.0) -> np.ndarray:
    """A float32 RGB (h, w, 3) background in about [0, 1]: a random crop of texture ``name``."""
    if name not in BACKGROUNDS:
        raise ValueError(f"unknown background {name!r}; valid: {', '.join(sorted(BACKGROUNDS))}")
    spec = BACKGROUNDS[name]
    crop = rng.uniform(*spec.crop)
    theta = rng.uniform(0, 2 * math.pi)
    cx, cy = rng.uniform(0.25, 0.75, 2) * _TEX
    contrast = rng.uniform(*spec.contrast)
    tint_rgb = _tint(rng, tint)
    # texels per output pixel; use the pyramid level that keeps the warp from aliasing
    s = crop * _TEX / max(h, w)
    pyramid = texture(name)
    level = min(max(int(math.floor(math.log2(max(s, 1.0)))), 0), len(pyramid) - 1)
    tex = pyramid[level]
    s /= 2 ** level
    cx, cy = cx / 2 ** level, cy / 2 ** level
    c, si = math.cos(theta) * s, math.sin(theta) * s
    # inverse map: texture coords = centre + s * R(theta) @ (pixel - image centre)
    m = np.array([[c, -si, cx - c * (w - 1) / 2 + si * (h - 1) / 2],
                  [si, c, cy - si * (w - 1) / 2 - c * (h - 1) / 2]], dtype=np.float64)
    crop_img = cv2.warpAffine(tex, m, (w, h), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
                              borderMode=cv2.BORDER_REFLECT_101)
    if crop_img.ndim == 2:
        base = np.asarray(spec.color, dtype=np.float32) * brightness
        out = (1.0 + contrast * crop_img)[..., None] * base
    else:
        mean = crop_img.mean(axis=(0, 1), keepdims=True)
        out = (mean + contrast * (crop_img - mean)) * brightness
    return np.clip(out * tint_rgb, 0.0, 1.2).astype(np.float32)
