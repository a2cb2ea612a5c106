"""Scenes for Module 6: a part on a controlled fixture, with a known angle, centre and hole count.

>>> s = render_parts(2, "plate", size=96, seed=0, progress=False)
>>> s.images.shape, s.angle_deg.shape, bool(s.n_holes.min() >= 4)
((2, 96, 96, 3), (2,), True)
>>> nuisance_domain(0.5, "camera").blur_sigma
(0.25, 0.6)
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import cv2
import numpy as np

from ..scenes import DOMAINS, Domain, SceneGenerator
from ..types import Detections
from .segment import filled_contour

__all__ = ["FIXTURE", "FIXTURE_MATERIALS", "NUISANCES", "nuisance_domain", "PartScenes", "render_parts",
           "holes_of_mask"]

FIXTURE = DOMAINS["source"].replace(
    name="fixture", light_intensity=(0.95, 1.05), light_azimuth_deg=(130.0, 140.0), light_elevation_deg=(80.0, 88.0),
    ambient=(0.34, 0.38), gradient_strength=(0.0, 0.03), vignette_strength=(0.0, 0.03),
    color_temperature_k=(6000.0, 6600.0), backgrounds=("paper",), background_tint=(0.0, 0.03),
    background_brightness=(0.95, 1.05), shadow_strength=(0.08, 0.15), blur_sigma=(0.0, 0.2),
    noise_std=(0.003, 0.006), shot_noise=(0.0, 0.005), jpeg_quality=None, object_scale=(0.95, 1.05),
    clutter=(0, 0), occlusion_prob=0.0)
"""The controlled fixture: plain board, fixed overhead light, no clutter."""

FIXTURE_MATERIALS: tuple[str, ...] = ("black_oxide", "cast_iron", "rubber", "copper")
"""Dark parts on the white board: a fixed material family is part of "controlled" (bright steel is where the
threshold fails, see notebook 06)."""

NUISANCES: dict[str, tuple[str, ...]] = {
    "lighting": ("light_intensity", "light_azimuth_deg", "light_elevation_deg", "ambient", "gradient_strength",
                 "vignette_strength", "color_temperature_k", "shadow_strength"),
    "camera": ("blur_sigma", "noise_std", "shot_noise", "jpeg_quality"),
    "clutter": ("clutter", "occlusion_prob"),
    "background": ("backgrounds", "background_tint", "background_brightness"),
}
NUISANCES["all"] = tuple(f for v in NUISANCES.values() for f in v)


def _mix(a, b, t: float):
    return tuple(round(float(x + t * (y - x)), 6) for x, y in zip(a, b))


def nuisance_domain(strength: float, kind: str = "all", start: Domain = FIXTURE,
                    end: Domain | str = "shifted") -> Domain:
    """The domain ``strength`` (0 = ``start``, 1 = ``end``) of the way along one nuisance."""
    if kind not in NUISANCES:
        raise ValueError(f"unknown nuisance {kind!r}; valid: {', '.join(NUISANCES)}")
    t = float(strength)
    if not 0.0 <= t <= 1.0:
        raise ValueError(f"strength must be in [0, 1] (0 = the fixture, 1 = the shifted factory); got {strength}")
    end = DOMAINS[end] if isinstance(end, str) else end
    changes = {}
    for f in NUISANCES[kind]:
        a, b = getattr(start, f), getattr(end, f)
        if f == "backgrounds":
            changes[f] = b if t >= 0.5 else a
        elif f == "occlusion_prob":
            changes[f] = float(a + t * (b - a))
        elif f == "clutter":
            changes[f] = tuple(int(round(x + t * (y - x))) for x, y in zip(a, b))
        elif f == "jpeg_quality":  # None: no JPEG, i.e. quality 100
            changes[f] = None if t == 0 else _mix(a or (100.0, 100.0), b or (100.0, 100.0), t)
        else:
            changes[f] = _mix(a, b, t)
    return start.replace(name=f"{start.name}->{end.name}:{kind}@{t:.3f}", **changes)


def holes_of_mask(mask: np.ndarray, min_area: int = 3) -> np.ndarray:
    """Boxes (K, 4) xyxy of the through-holes (enclosed background regions of at least ``min_area`` px) of one
    part's visible mask."""
    m = np.ascontiguousarray(mask.astype(np.uint8))
    contours, hier = cv2.findContours(m, cv2.RETR_CCOMP, cv2.CHAIN_APPROX_SIMPLE)
    boxes = []
    if hier is not None:
        for c, h in zip(contours, hier[0]):
            if h[3] >= 0:  # has a parent: a hole
                x, y, w, hh = cv2.boundingRect(c)
                if int((filled_contour(m, c, 1) & (1 - m)).sum()) >= min_area:
                    boxes.append([x, y, x + w, y + hh])
    return np.asarray(boxes, np.float32).reshape(-1, 4)


@dataclass
class PartScenes:
    """Rendered images and what is known about each (one part per image)."""

    images: np.ndarray
    labels: np.ndarray
    class_names: list
    angle_deg: np.ndarray
    center_xy: np.ndarray
    masks: np.ndarray
    holes: list
    materials: list
    domain: str

    def __len__(self) -> int:
        return len(self.images)

    @property
    def n_holes(self) -> np.ndarray:
        """int (N,) visible holes per image."""
        return np.array([len(h) for h in self.holes], np.int64)


def _material_of(gen: SceneGenerator, index: int, part: str) -> str | None:
    """The material scene ``index`` will give its part, without rendering it (a guess: ``render_parts`` checks the
    rendered scene's anyway)."""
    from ..scenes import build_part, sample_material

    rng = gen._rng(index, 1, 0)  # the first part's stream (SceneGenerator._draw)
    build_part(part, rng)
    return sample_material(rng).name


def render_parts(n: int, parts: str | Sequence[str] = "plate", *, size: int = 128, seed: int = 0,
                 domain: Domain | str = FIXTURE, offset: int = 0, object_size: tuple[float, float] = (0.6, 0.72),
                 materials: Sequence[str] | None = None, progress: bool = True) -> PartScenes:
    """``n`` seeded images, one centred part each, class-balanced over ``parts`` (in a fixed order)."""
    parts = (parts,) if isinstance(parts, str) else tuple(parts)
    from tqdm.auto import tqdm

    gen = SceneGenerator(size, domain=domain, seed=seed, parts=parts, centred=True, object_size=object_size)
    images, labels, objs = [], [], []
    j = offset
    for i in tqdm(range(n), desc=f"rendering {n} {gen.domain.name} images", unit="img", leave=False,
                  disable=not (progress and n >= 200)):
        label = i % len(parts)
        while True:
            if materials is not None and _material_of(gen, j, parts[label]) not in materials:
                j += 1  # skip without rendering (checked against the rendered scene below)
                continue
            scene = gen.render(j, part=label)
            j += 1
            obj = scene.objects[0] if scene.objects else None
            if obj is not None and (materials is None or obj.material in materials):
                break
        images.append(scene.image); labels.append(label); objs.append(obj)
    holes = [Detections(xyxy=b, class_id=np.zeros(len(b), np.int64), class_names=["hole"], image_size=o.mask.shape)
             for o in objs for b in [holes_of_mask(o.mask)]]
    return PartScenes(np.stack(images), np.asarray(labels, np.int64), list(parts),
                      np.asarray([o.angle_deg for o in objs], np.float64),
                      np.asarray([o.center_xy for o in objs], np.float64), np.stack([o.mask for o in objs]), holes,
                      [o.material for o in objs], gen.domain.name)
