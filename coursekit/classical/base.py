"""What every classical pipeline shares: parameters as its "weights", batch ``predict``, ``explain``.

A classical pipeline has no trained weights, but it has parameters (a blur size, a threshold, a Hough
accumulator level) that decide its output exactly as weights do. :class:`ClassicalPipeline` exposes them
as a ``state_dict()`` so :func:`coursekit.evaluate.lock_model` fingerprints a pipeline like a network, and
the eval harness accepts ``model_id=pipeline`` (``parameters()`` is empty: 0 learnt parameters).

Subclasses implement ``_predict_one(frame) -> (prediction, Stages | None)`` for one checked frame and
``_collate(list) -> batch prediction``.

>>> from coursekit.evaluate import lock_model
>>> class Demo(ClassicalPipeline):
...     def __init__(self, k=3): self.k = k
>>> lock_model(Demo(3)) == lock_model(Demo(3)) != lock_model(Demo(5))
True
"""
from __future__ import annotations

import dataclasses
import time
from typing import Any

import numpy as np

from .frames import check_frame, check_frames
from .stages import Stages

__all__ = ["ClassicalPipeline", "time_per_frame"]


class ClassicalPipeline:
    """Base class: parameters are the public attributes (or dataclass fields) of the pipeline."""

    expected_size: tuple[int, int] | None = None

    # --- "weights" --------------------------------------------------------------------------------------
    def params(self) -> dict[str, Any]:
        """The parameters that decide the output (public, non-callable attributes), sorted by name."""
        if dataclasses.is_dataclass(self):
            d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if not f.name.startswith("_")}
        else:
            d = {k: v for k, v in vars(self).items() if not k.startswith("_") and not callable(v)}
        return dict(sorted(d.items()))

    def state_dict(self) -> dict[str, Any]:
        """The parameters, for :func:`coursekit.evaluate.lock_model` (hashed by value)."""
        return {k: (v if not isinstance(v, np.ndarray) else v.tobytes()) for k, v in self.params().items()}

    def parameters(self):
        """No learnt parameters (what ``model_card`` counts): an empty iterator."""
        return iter(())

    # --- prediction ---------------------------------------------------------------------------------------
    def _predict_one(self, frame: np.ndarray, explain: bool):  # pragma: no cover - abstract
        raise NotImplementedError

    def _collate(self, items: list):  # pragma: no cover - abstract
        raise NotImplementedError

    def predict(self, frames):
        """Run on a batch (an (N, H, W, 3) uint8 array or a list of frames); one prediction object back."""
        checked = check_frames(frames, self.expected_size)
        return self._collate([self._predict_one(f, False)[0] for f in checked])

    def __call__(self, frames):
        return self.predict(frames)

    def explain(self, frame) -> Stages:
        """Every intermediate image for one frame, and the prediction (``Stages.result``)."""
        frame = check_frame(frame, self.expected_size)
        _, stages = self._predict_one(frame, True)
        return stages


def time_per_frame(fn, frames, repeats: int = 3, warmup: int = 2) -> dict[str, float]:
    """Wall time of ``fn(frame)`` per frame (median over ``repeats`` passes), in milliseconds.

    A tiny stand-in timer for classical pipelines; Module 5's ``coursekit.deploy`` benchmark is the
    course's reference for networks.
    """
    frames = list(frames)
    for f in frames[:warmup]:
        fn(f)
    runs = []
    for _ in range(repeats):
        t = time.perf_counter()
        for f in frames:
            fn(f)
        runs.append((time.perf_counter() - t) / max(1, len(frames)))
    runs = np.asarray(runs) * 1000
    return {"median_ms": float(np.median(runs)), "min_ms": float(runs.min()), "frames": len(frames)}
