"""Explainability: every intermediate image of a classical pipeline, named, in order, and one plot of them.

>>> import numpy as np
>>> st = Stages()
>>> st = st.add("mask", np.zeros((4, 4), np.uint8), "Otsu threshold 120")
>>> st.names, st.note("mask")
(['mask'], 'Otsu threshold 120')
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["Stages", "show_stages"]


@dataclass
class Stages:
    """Named intermediate images in pipeline order, with a note each, and the pipeline's decision."""

    images: dict = field(default_factory=dict)
    notes: dict = field(default_factory=dict)
    values: dict = field(default_factory=dict)
    result: object = None

    def add(self, name: str, image: np.ndarray, note: str = "") -> "Stages":
        """Record one stage's image (and what it shows); returns ``self``."""
        self.images[name] = np.asarray(image)
        self.notes[name] = note
        return self

    @property
    def names(self) -> list[str]:
        return list(self.images)

    def note(self, name: str) -> str:
        return self.notes.get(name, "")

    def __getitem__(self, name: str) -> np.ndarray:
        return self.images[name]


def show_stages(stages: Stages, title: str = "", size: float = 2.4, axes=None):
    """Draw every stage in a row, each titled with its name and note; returns the matplotlib Figure."""
    import matplotlib.pyplot as plt

    names = stages.names
    if axes is None:
        fig, axes = plt.subplots(1, len(names), figsize=(size * len(names), size * 1.15), squeeze=False)
        axes = axes[0]
    else:
        fig = axes[0].figure
    for ax, name in zip(axes, names):
        img = stages.images[name]
        ax.imshow(img, cmap="gray" if img.ndim == 2 else None, vmin=0, vmax=255 if img.dtype == np.uint8 else None)
        note = stages.note(name)
        ax.set_title(f"{name}\n{note}" if note else name, fontsize=8)
        ax.axis("off")
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig
