"""What every classical pipeline shares: parameters as its "weights", batch ``predict``, ``explain``.

>>> from coursekit.harness import lock_model
>>> class Demo(ClassicalPipeline):
...     def __init__(self, k=3): self.k = k
>>> lock_model(Demo(3)) == lock_model(Demo(3)) != lock_model(Demo(5))
True
"""
from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np

from ..types import Classifications
from .frames import check_frame, check_frames
from .stages import Stages

__all__ = ["ClassicalPipeline", "ReferenceClassifier"]


@dataclass
class ClassicalPipeline:
    """Base class: parameters are the public attributes (or dataclass fields) of the pipeline."""

    expected_size: tuple[int, int] | None = field(default=None, kw_only=True)
    #: field name -> its allowed values, checked when the pipeline is made
    CHOICES: ClassVar[dict[str, tuple]] = {}

    def __post_init__(self):
        for name, allowed in self.CHOICES.items():
            if getattr(self, name) not in allowed:
                raise ValueError(f"{name} must be one of {allowed}; got {getattr(self, name)!r}")

    def params(self) -> dict[str, Any]:
        """The parameters that decide the output (public, non-callable attributes), sorted by name."""
        d = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if not f.name.startswith("_")}
        d.update({k: v for k, v in vars(self).items() if not k.startswith("_") and not callable(v)})
        return dict(sorted(d.items()))

    def state_dict(self) -> dict[str, Any]:
        """The parameters, for :func:`coursekit.harness.lock_model` (hashed by value)."""
        return {k: (v if not isinstance(v, np.ndarray) else v.tobytes()) for k, v in self.params().items()}

    def parameters(self):
        """No learnt parameters (what ``model_card`` counts): an empty iterator."""
        return iter(())

    @staticmethod
    def _stages(frame: np.ndarray, explain: bool) -> Stages | None:
        """A new :class:`Stages` holding the frame when explaining, else ``None``."""
        return Stages().add("frame", frame) if explain else None

    @staticmethod
    def _give_up(result, stages: Stages | None, key: str, why: str):
        """``(result, stages)`` for a frame the pipeline cannot read, the reason noted as ``stages.values[key]``."""
        if stages is not None:
            stages.values[key] = why
            stages.result = result
        return result, stages

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


@dataclass
class ReferenceClassifier(ClassicalPipeline):
    """What the reference-image classifiers (templates, keypoints) share: checked ``fit`` inputs, a reference per
    class."""

    class_names: list = field(default_factory=list, kw_only=True)
    _refs: list = field(default_factory=list, repr=False, kw_only=True)

    def _fit_inputs(self, frames, labels, class_names) -> tuple[list, np.ndarray]:
        frames = check_frames(frames, self.expected_size)
        labels = np.asarray(labels, np.int64)
        if len(labels) != len(frames):
            raise ValueError(f"{len(frames)} frames but {len(labels)} labels")
        self.class_names = list(class_names)
        if len(labels) and (labels.min() < 0 or labels.max() >= len(self.class_names)):
            raise ValueError(f"labels must be 0..{len(self.class_names) - 1}")
        return frames, labels

    def _check_coverage(self, problem: str) -> None:
        missing = sorted(set(range(len(self.class_names))) - {r[0] for r in self._refs})
        if missing:
            raise ValueError(f"{problem} {[self.class_names[i] for i in missing]}")

    def _require_fitted(self) -> None:
        if not self._refs:
            raise RuntimeError(f"{type(self).__name__} is not fitted: call fit(frames, labels, class_names) first")

    def _collate(self, items):
        return Classifications(np.concatenate(items) if items else np.zeros((0, len(self.class_names))),
                               self.class_names)

    def _uniform(self, stages: Stages | None, why: str):
        k = len(self.class_names)
        probs = np.full((1, k), 1.0 / k)
        return probs, self._give_up(Classifications(probs, self.class_names), stages, "why", why)[1]

    def _score_references(self, score) -> tuple[np.ndarray, np.ndarray, tuple]:
        """``score(ref) -> (value, detail)`` on every reference -> class scores (mean of the ``top_k`` best per class,
        (C,)), softmax probabilities (1, C) at ``temperature``, and the best ``(value, ref, detail)``."""
        scores, best = [[] for _ in self.class_names], (-np.inf, None, None)
        for ref in self._refs:
            value, detail = score(ref)
            scores[ref[0]].append(value)
            if value > best[0]:
                best = (value, ref, detail)
        s = np.array([np.mean(sorted(v, reverse=True)[: self.top_k]) if v else 0.0 for v in scores])
        z = (s - s.max()) / self.temperature
        return s, (np.exp(z) / np.exp(z).sum())[None], best
