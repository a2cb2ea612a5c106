"""Domains: the ranges a scene's lighting, background, camera and layout are drawn from.

>>> DOMAINS["source"].blur_sigma
(0.0, 0.35)
>>> get_domain("shifted").name
'shifted'
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass, fields, replace

__all__ = ["Domain", "DOMAINS", "get_domain"]

Range = tuple[float, float]


@dataclass(frozen=True)
class Domain:
    """Ranges that scenes are sampled from (each ``(low, high)``, drawn uniformly per scene)."""

    name: str
    light_intensity: Range = (0.9, 1.1)
    light_azimuth_deg: Range = (110.0, 160.0)
    light_elevation_deg: Range = (40.0, 65.0)
    ambient: Range = (0.30, 0.40)
    gradient_strength: Range = (0.0, 0.15)
    vignette_strength: Range = (0.0, 0.15)
    color_temperature_k: Range = (5200.0, 6800.0)
    backgrounds: tuple[str, ...] = ("belt", "steel", "gravel", "brick", "paper")
    background_tint: Range = (0.0, 0.15)
    background_brightness: Range = (0.8, 1.15)
    shadow_strength: Range = (0.35, 0.55)
    blur_sigma: Range = (0.0, 0.35)
    noise_std: Range = (0.003, 0.012)
    shot_noise: Range = (0.0, 0.01)
    jpeg_quality: Range | None = None
    object_scale: Range = (0.9, 1.1)
    rotation_deg: Range = (-180.0, 180.0)
    clutter: tuple[int, int] = (0, 2)
    occlusion_prob: float = 0.15

    def __post_init__(self):
        if not isinstance(self.name, str) or not self.name:
            raise ValueError(f"Domain.name must be a non-empty string; got {self.name!r}")
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name in ("name", "backgrounds", "occlusion_prob") or value is None:
                continue
            if not (isinstance(value, tuple) and len(value) == 2 and value[0] <= value[1]):
                raise ValueError(f"Domain {self.name!r}: {f.name} must be a (low, high) tuple with low <= high; "
                                 f"got {value!r}")
        if self.clutter[0] < 0:
            raise ValueError(f"Domain {self.name!r}: clutter counts must be >= 0; got {self.clutter}")
        if not 0.0 <= self.occlusion_prob <= 1.0:
            raise ValueError(f"Domain {self.name!r}: occlusion_prob must be in [0, 1]; got {self.occlusion_prob}")
        if not self.backgrounds:
            raise ValueError(f"Domain {self.name!r}: backgrounds must name at least one background")
        from .backgrounds import BACKGROUNDS

        unknown = [b for b in self.backgrounds if b not in BACKGROUNDS]
        if unknown:
            raise ValueError(f"Domain {self.name!r}: unknown background(s) {unknown}; "
                             f"valid: {', '.join(sorted(BACKGROUNDS))}")

    @property
    def code(self) -> int:
        """A stable 32-bit number for the name, mixed into every scene's seed."""
        return zlib.crc32(self.name.encode("utf-8"))

    def replace(self, **changes) -> "Domain":
        """A copy with some ranges changed: ``DOMAINS["source"].replace(name="dark", light_intensity=(0.4, 0.6))``."""
        return replace(self, **changes)


DOMAINS: dict[str, Domain] = {
    "source": Domain(name="source"),
    "target": Domain(name="target", light_intensity=(0.8, 1.05), light_azimuth_deg=(20.0, 200.0),
        light_elevation_deg=(35.0, 60.0), ambient=(0.25, 0.38), gradient_strength=(0.05, 0.25),
        vignette_strength=(0.05, 0.25), color_temperature_k=(3800.0, 5200.0),
        backgrounds=("belt", "steel", "moon", "wood", "paper"), background_tint=(0.05, 0.25), blur_sigma=(0.2, 0.6),
        noise_std=(0.008, 0.02), shot_noise=(0.005, 0.02), jpeg_quality=(70.0, 95.0), object_scale=(0.8, 1.1),
        clutter=(0, 3), occlusion_prob=0.25),
    "shifted": Domain(name="shifted", light_intensity=(0.5, 0.8), light_azimuth_deg=(0.0, 360.0),
        light_elevation_deg=(18.0, 38.0), ambient=(0.12, 0.25), gradient_strength=(0.25, 0.5),
        vignette_strength=(0.25, 0.5), color_temperature_k=(2800.0, 3800.0),
        backgrounds=("grass", "coffee", "camera", "wood", "moon"), background_tint=(0.1, 0.3),
        background_brightness=(0.7, 1.2), shadow_strength=(0.5, 0.75), blur_sigma=(0.5, 1.0),
        noise_std=(0.015, 0.035), shot_noise=(0.015, 0.04), jpeg_quality=(40.0, 75.0), object_scale=(0.7, 1.15),
        clutter=(1, 4), occlusion_prob=0.4),
}


def get_domain(domain: "str | Domain") -> Domain:
    """Look up a preset by name, or pass a :class:`Domain` through.

    >>> get_domain("source") is DOMAINS["source"]
    True
    """
    if isinstance(domain, Domain):
        return domain
    if isinstance(domain, str):
        try:
            return DOMAINS[domain]
        except KeyError:
            raise ValueError(f"unknown domain {domain!r}; valid: {', '.join(DOMAINS)} "
                             "(or pass a coursekit.scenes.Domain)") from None
    raise TypeError(f"domain must be a name ({', '.join(DOMAINS)}) or a Domain; got {type(domain).__name__}")
