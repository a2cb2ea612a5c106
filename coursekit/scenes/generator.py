"""The seeded scene generator: parts on a background, photographed, with their annotations.

>>> gen = SceneGenerator(size=64, domain="source", seed=0)
>>> scene = gen.render(3)
>>> scene.image.shape, scene.image.dtype, len(scene.objects)
((64, 64, 3), dtype('uint8'), 1)
>>> obj = scene.objects[0]
>>> bool(obj.mask.any()), obj.box_xyxy.dtype
(True, dtype('float32'))
>>> bool((gen.render(3).image == scene.image).all())
True
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable, Sequence

import cv2
import numpy as np

from .backgrounds import render_background
from .domains import Domain, get_domain
from .parts import DISTRACTORS, PARTS, build_part, sample_material
from .render import (Light, PartCanvas, illumination, jpeg, kelvin_gains, paste, rasterize, sensor_noise, shade,
                     soft_shadow)

__all__ = ["SceneObject", "Scene", "SceneGenerator", "DefectHook", "make_object_dataset"]

DefectHook = Callable[[PartCanvas, np.random.Generator], "list[str] | None"]
"""``hook(canvas, rng) -> defect names``: edits a part's maps in place before it is shaded (Module 2)."""

_MIN_SIZE = 16
#: the domain ranges every scene draws first, in this order (then JPEG quality, background, its tint and brightness)
_SAMPLED = ("light_azimuth_deg", "light_elevation_deg", "light_intensity", "ambient", "shadow_strength",
            "gradient_strength", "vignette_strength", "color_temperature_k", "blur_sigma", "noise_std", "shot_noise")


@dataclass
class SceneObject:
    """One annotated part in a scene (distractors are never annotated)."""

    part: str
    class_id: int
    box_xyxy: np.ndarray
    mask: np.ndarray
    angle_deg: float
    center_xy: tuple[float, float]
    scale: float
    defects: list[str] = field(default_factory=list)
    material: str = ""


@dataclass
class Scene:
    """A rendered image with its annotations."""

    image: np.ndarray
    objects: list[SceneObject]
    domain: str
    index: int
    seed: int
    conditions: dict = field(default_factory=dict)

    @property
    def boxes(self) -> np.ndarray:
        """float32 (N, 4) boxes, xyxy pixels."""
        return np.stack([o.box_xyxy for o in self.objects]) if self.objects else np.zeros((0, 4), np.float32)

    @property
    def masks(self) -> np.ndarray:
        """bool (N, H, W) visible masks."""
        return np.stack([o.mask for o in self.objects]) if self.objects else np.zeros((0, *self.image.shape[:2]), bool)


@dataclass
class _Placement:
    name: str
    center: tuple[float, float]  # output pixels
    diameter: float  # output pixels
    angle: float
    stream: tuple[int, ...]  # (1, i): the i-th part, annotated; (2, j): the j-th distractor
    over: bool = False  # distractors: drawn over the parts


def _check_size(size) -> tuple[int, int]:
    pair = (size, size) if not isinstance(size, (tuple, list)) else tuple(size)
    ok = len(pair) == 2 and all(isinstance(v, (int, np.integer)) and not isinstance(v, bool) for v in pair)
    if not ok:
        raise TypeError(f"size must be an int or an (h, w) pair of ints; got {size!r}")
    if min(pair) < _MIN_SIZE:
        raise ValueError(f"size must be >= {_MIN_SIZE} pixels on each side; got {size!r}")
    return int(pair[0]), int(pair[1])


def _check_int(name: str, value, low: int = 0) -> int:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool) or value < low:
        raise ValueError(f"{name} must be {'a non-negative int' if low == 0 else f'an int >= {low}'}; got {value!r}")
    return int(value)


def _check_range(name: str, value, lo_min: float, integer: bool = False) -> tuple:
    pair = (value, value) if not isinstance(value, (tuple, list)) else tuple(value)
    if len(pair) != 2 or not all(isinstance(v, (int, float, np.number)) and not isinstance(v, bool) for v in pair):
        raise TypeError(f"{name} must be a number or a (low, high) pair; got {value!r}")
    if integer and not all(float(v).is_integer() for v in pair):
        raise TypeError(f"{name} must be whole numbers; got {value!r}")
    if pair[0] > pair[1] or pair[0] < lo_min:
        raise ValueError(f"{name} must satisfy {lo_min} <= low <= high; got {value!r}")
    return (int(pair[0]), int(pair[1])) if integer else (float(pair[0]), float(pair[1]))


class SceneGenerator:
    """Renders seeded, annotated scenes of parts in a domain.

    >>> SceneGenerator(32, domain="nowhere")
    Traceback (most recent call last):
    ...
    ValueError: unknown domain 'nowhere'; valid: source, target, shifted (or pass a coursekit.scenes.Domain)
    """

    def __init__(self, size: int | tuple[int, int] = 32, domain: str | Domain = "source", seed: int = 0,
                 parts: Sequence[str] = PARTS, objects_per_scene: int | tuple[int, int] = (1, 1),
                 centred: bool | None = None, object_size: tuple[float, float] | None = None,
                 defect_hook: DefectHook | None = None):
        self.h, self.w = _check_size(size)
        self.domain = get_domain(domain)
        self.seed = _check_int("seed", seed)
        if isinstance(parts, str):
            parts = (parts,)
        self.parts = tuple(parts)
        if not self.parts:
            raise ValueError("parts must name at least one part")
        unknown = [p for p in self.parts if p not in PARTS]
        if unknown:
            raise ValueError(f"unknown part(s) {unknown}; valid: {', '.join(PARTS)}")
        if len(set(self.parts)) != len(self.parts):
            raise ValueError(f"parts has duplicates: {self.parts}")
        self.objects_per_scene = _check_range("objects_per_scene", objects_per_scene, 1, integer=True)
        self.centred = self.objects_per_scene[1] == 1 if centred is None else bool(centred)
        if self.centred and self.objects_per_scene[1] > 1:
            raise ValueError(f"centred=True draws one part per scene; got objects_per_scene={objects_per_scene}")
        default_size = (0.62, 0.9) if self.centred else (0.15, 0.32)
        self.object_size = _check_range("object_size", default_size if object_size is None else object_size, 0.01)
        self.ss = 2  # drawn at twice the size, then area-averaged down: anti-aliased edges
        self.defect_hook = defect_hook

    def __repr__(self) -> str:
        return (f"SceneGenerator(size=({self.h}, {self.w}), domain={self.domain.name!r}, seed={self.seed}, "
                f"parts={len(self.parts)}, objects_per_scene={self.objects_per_scene}, centred={self.centred})")

    def _rng(self, index: int, *stream: int) -> np.random.Generator:
        return np.random.default_rng([self.seed, self.domain.code, index, *stream])

    def _layout(self, rng: np.random.Generator, part) -> tuple[list[_Placement], list[_Placement]]:
        d, h, w = self.domain, self.h, self.w
        side = min(h, w)
        objects: list[_Placement] = []
        n = int(rng.integers(self.objects_per_scene[0], self.objects_per_scene[1] + 1))
        for i in range(n):
            name = self.parts[int(rng.integers(len(self.parts)))]
            name = part if i == 0 and part is not None else name
            diameter = rng.uniform(*self.object_size) * rng.uniform(*d.object_scale) * side
            angle = float(rng.uniform(*d.rotation_deg))
            if self.centred:
                jitter = rng.uniform(-0.06, 0.06, 2) * side
                objects.append(_Placement(name, (w / 2 + jitter[0], h / 2 + jitter[1]), diameter, angle, (1, i)))
                continue
            r = diameter / 2
            for _ in range(30):  # rejection sampling: inside the frame, overlapping neighbours a little at most
                c = (rng.uniform(0.8 * r, w - 0.8 * r), rng.uniform(0.8 * r, h - 0.8 * r))
                if all(math.hypot(c[0] - o.center[0], c[1] - o.center[1]) > 0.85 * (r + o.diameter / 2)
                       for o in objects):
                    objects.append(_Placement(name, c, diameter, angle, (1, i)))
                    break
        clutter: list[_Placement] = []
        k = int(rng.integers(d.clutter[0], d.clutter[1] + 1))
        for j in range(k):
            name = DISTRACTORS[int(rng.integers(len(DISTRACTORS)))]
            over = bool(objects) and rng.random() < d.occlusion_prob
            if over:  # on the rim of a part, drawn over it: a partial occlusion
                host = objects[int(rng.integers(len(objects)))]
                diameter = host.diameter * rng.uniform(0.2, 0.4)
                a = rng.uniform(0, 2 * math.pi)
                rr = host.diameter / 2 * rng.uniform(0.85, 1.1)
                c = (host.center[0] + rr * math.cos(a), host.center[1] + rr * math.sin(a))
            else:
                diameter = side * (rng.uniform(0.12, 0.3) if self.centred else rng.uniform(0.04, 0.12))
                c = (rng.uniform(0, w), rng.uniform(0, h))
            clutter.append(_Placement(name, c, diameter, float(rng.uniform(0, 360)), (2, j), over))
        return objects, clutter

    def _draw(self, img, p: _Placement, index: int, light: Light, shadow_strength: float):
        rng = self._rng(index, *p.stream)
        spec = build_part(p.name, rng)
        material = sample_material(rng)
        ss = self.ss
        radius = p.diameter * ss / 2
        el = math.radians(light.elevation_deg)
        lift = radius * (spec.thickness + 0.25)
        reach = min(lift / math.tan(el), 1.2 * radius)
        size = int(math.ceil(2 * radius)) + 4
        cx, cy = p.center[0] * ss - 0.5, p.center[1] * ss - 0.5  # OpenCV pixel-centre coordinates
        x0, y0 = int(math.floor(cx - size / 2)), int(math.floor(cy - size / 2))
        canvas = rasterize(spec, size, (cx - x0, cy - y0), radius, p.angle)
        canvas.material = material
        defects: list[str] = []
        if p.stream[0] == 1 and self.defect_hook is not None:
            defects = list(self.defect_hook(canvas, rng) or [])
        rgb, alpha = shade(canvas, material, light, rng)
        shadow, pad = soft_shadow(alpha, 0.06 * radius + 0.2 * reach + 0.5)
        shadow *= shadow_strength
        lx, ly, _ = light.direction
        norm = math.hypot(lx, ly) or 1.0
        dx, dy = int(round(-lx / norm * reach)), int(round(-ly / norm * reach))
        paste(img, shadow, x0 + dx - pad, y0 + dy - pad, mode="darken")
        paste(img, rgb, x0, y0, alpha, mode="over")
        return alpha, x0, y0, defects, material.name

    def render(self, index: int, part: str | int | None = None, draw_objects: bool = True) -> Scene:
        """Render scene ``index``."""
        index = _check_int("index", index)
        if part is not None:
            if isinstance(part, (int, np.integer)) and not isinstance(part, bool):
                if not 0 <= part < len(self.parts):
                    raise ValueError(f"part id {part} out of range 0..{len(self.parts) - 1}")
                part = self.parts[int(part)]
            elif part not in self.parts:
                raise ValueError(f"unknown part {part!r}; this generator draws {', '.join(self.parts)}")
        d, ss = self.domain, self.ss
        rng = self._rng(index, 0)
        c = {f: float(rng.uniform(*getattr(d, f))) for f in _SAMPLED}  # the scene's conditions, in drawing order
        c["jpeg_quality"] = int(rng.uniform(*d.jpeg_quality)) if d.jpeg_quality else None
        c["background"] = d.backgrounds[int(rng.integers(len(d.backgrounds)))]
        c.update({f: float(rng.uniform(*getattr(d, f))) for f in ("background_tint", "background_brightness")})
        light = Light(c["light_azimuth_deg"], c["light_elevation_deg"], c["light_intensity"], c["ambient"])
        objects, clutter = self._layout(rng, part)

        hr, wr = self.h * ss, self.w * ss
        img = render_background(c["background"], hr, wr, rng, tint=c["background_tint"],
                                brightness=c["background_brightness"])
        c["exposure"] = light.ambient + light.fill * 0.6 + 0.8 * light.intensity * float(light.direction[2])
        img *= c["exposure"]  # the table is lit like a flat part
        order = [p for p in clutter if not p.over] + (objects if draw_objects else []) + [p for p in clutter if p.over]
        layers = [(p, *self._draw(img, p, index, light, c["shadow_strength"])) for p in order]

        img = cv2.resize(img, (self.w, self.h), interpolation=cv2.INTER_AREA)
        if c["blur_sigma"] >= 0.15:
            img = cv2.GaussianBlur(img, (0, 0), c["blur_sigma"])
        lit = illumination(self.h, self.w, light.azimuth_deg, c["gradient_strength"], c["vignette_strength"])
        img *= lit[..., None] * kelvin_gains(c["color_temperature_k"])
        img = sensor_noise(img, rng, c["noise_std"], c["shot_noise"])
        image = (np.clip(img, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)
        if c["jpeg_quality"] is not None:
            image = jpeg(image, c["jpeg_quality"])

        annotated = []
        for li, (p, alpha, x0, y0, defects, material) in enumerate(layers):
            if p.stream[0] != 1:  # distractors are not annotated
                continue
            full = np.zeros((hr, wr), np.float32)
            paste(full, alpha, x0, y0, mode="set")
            for _, alpha2, x2, y2, _, _ in layers[li + 1:]:
                paste(full, alpha2, x2, y2, mode="darken")
            full = cv2.resize(full, (self.w, self.h), interpolation=cv2.INTER_AREA)
            mask = full > 0.5
            if not mask.any():  # fully hidden or outside the frame: not annotated
                continue
            ys, xs = np.nonzero(mask.any(axis=1))[0], np.nonzero(mask.any(axis=0))[0]
            annotated.append(SceneObject(
                part=p.name, class_id=self.parts.index(p.name),
                box_xyxy=np.array([xs[0], ys[0], xs[-1] + 1, ys[-1] + 1], np.float32), mask=mask,
                angle_deg=p.angle, center_xy=(float(p.center[0]), float(p.center[1])),
                scale=float(p.diameter / min(self.h, self.w)), defects=defects, material=material))
        return Scene(image=image, objects=annotated, domain=d.name, index=index, seed=self.seed,
                     conditions={**c, "clutter": len(clutter)})


def make_object_dataset(n: int, size: int | tuple[int, int] = 32, seed: int = 0, domain: str | Domain = "source",
                        parts: Sequence[str] = PARTS, progress: bool = True,
                        offset: int = 0) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """A class-balanced image-classification set: one centred part per image, CIFAR-style framing.

    >>> x, y, names = make_object_dataset(20, size=32, progress=False)
    >>> x.shape, y.dtype, sorted(np.bincount(y).tolist()) == [2] * 10, names[0]
    ((20, 32, 32, 3), dtype('int64'), True, 'washer')
    """
    n, offset = _check_int("n", n, 1), _check_int("offset", offset)
    gen = SceneGenerator(size, domain=domain, seed=seed, parts=parts, objects_per_scene=(1, 1), centred=True)
    k = len(gen.parts)
    labels = np.repeat(np.arange(k, dtype=np.int64), n // k)
    labels = np.concatenate([labels, np.arange(n % k, dtype=np.int64)])
    labels = np.random.default_rng([gen.seed, gen.domain.code, offset, 99]).permutation(labels)
    from tqdm.auto import tqdm

    images = np.empty((n, gen.h, gen.w, 3), np.uint8)
    for i in tqdm(range(n), desc=f"rendering {n} {gen.domain.name} images", unit="img", leave=False,
                  disable=not (progress and n >= 500)):
        images[i] = gen.render(offset + i, part=int(labels[i])).image
    return images, labels, list(gen.parts)
