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
    #: the ``Stages.values`` key that says why a frame gave no answer
    WHY: ClassVar[str] = "why"

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

    def _give_up(self, frame: np.ndarray, stages: Stages | None, why: str):
        """``(no answer, stages)`` for a frame the pipeline cannot read, the reason noted as ``stages.values[WHY]``."""
        if stages is not None:
            stages.values[self.WHY] = why
        return self._no_answer(frame), stages

    def _no_answer(self, frame: np.ndarray):  # pragma: no cover - abstract
        raise NotImplementedError

    def _predict_one(self, frame: np.ndarray, stages: Stages | None):  # pragma: no cover - abstract
        """``(this frame's prediction, stages)``; ``stages`` (when explaining) gets every intermediate image."""
        raise NotImplementedError

    def _collate(self, items: list):  # pragma: no cover - abstract
        raise NotImplementedError

    def predict(self, frames):
        """Run on a batch (an (N, H, W, 3) uint8 array or a list of frames); one prediction object back."""
        checked = check_frames(frames, self.expected_size)
        return self._collate([self._predict_one(f, None)[0] for f in checked])

    def __call__(self, frames):
        return self.predict(frames)

    def explain(self, frame) -> Stages:
        """Every intermediate image for one frame, and the prediction (``Stages.result``)."""
        frame = check_frame(frame, self.expected_size)
        result, stages = self._predict_one(frame, Stages().add("frame", frame))
        stages.result = result
        return stages


@dataclass
class ReferenceClassifier(ClassicalPipeline):
    """What the reference-image classifiers (templates, keypoints) share: ``fit`` stores ``(label, *reference)``
    per labelled frame (``_reference(frame)``, ``None`` when unusable), at least one per class."""

    class_names: list = field(default_factory=list, kw_only=True)
    _refs: list = field(default_factory=list, repr=False, kw_only=True)
    #: the error when some class has no usable reference (its names follow)
    UNUSABLE: ClassVar[str] = "no usable reference for class(es)"

    def _reference(self, frame: np.ndarray) -> tuple | None:  # pragma: no cover - abstract
        raise NotImplementedError

    def fit(self, frames, labels, class_names):
        """Store the references of the labelled frames (the whole "training"); returns ``self``."""
        frames = check_frames(frames, self.expected_size)
        labels = np.asarray(labels, np.int64)
        if len(labels) != len(frames):
            raise ValueError(f"{len(frames)} frames but {len(labels)} labels")
        self.class_names = list(class_names)
        if len(labels) and (labels.min() < 0 or labels.max() >= len(self.class_names)):
            raise ValueError(f"labels must be 0..{len(self.class_names) - 1}")
        self._refs = [(int(y), *ref) for f, y in zip(frames, labels) for ref in [self._reference(f)] if ref is not None]
        missing = sorted(set(range(len(self.class_names))) - {r[0] for r in self._refs})
        if missing:
            raise ValueError(f"{self.UNUSABLE} {[self.class_names[i] for i in missing]}")
        return self

    def state_dict(self) -> dict[str, Any]:
        """The parameters and the stored references (labels, then their arrays): what decides the output."""
        d = super().state_dict()
        d["references"] = b"".join(np.int64(y).tobytes() + b"".join(np.asarray(a).tobytes() for a in arrays)
                                   for y, *arrays in self._refs)
        return d

    def _require_fitted(self) -> None:
        if not self._refs:
            raise RuntimeError(f"{type(self).__name__} is not fitted: call fit(frames, labels, class_names) first")

    def _collate(self, items):
        return Classifications(np.concatenate([c.probs for c in items]) if items
                               else np.zeros((0, len(self.class_names))), self.class_names)

    def _no_answer(self, frame):
        """Uniform probabilities: no decision."""
        return Classifications(np.full((1, len(self.class_names)), 1.0 / len(self.class_names)), self.class_names)

    def _score_references(self, score) -> tuple[np.ndarray, np.ndarray, tuple]:
        """``score(ref) -> (value, detail)`` on every reference -> class scores (mean of the ``top_k`` best per class,
        (C,)), their softmax at ``temperature`` as :class:`Classifications`, and the best ``(value, ref, detail)``."""
        scores, best = [[] for _ in self.class_names], (-np.inf, None, None)
        for ref in self._refs:
            value, detail = score(ref)
            scores[ref[0]].append(value)
            if value > best[0]:
                best = (value, ref, detail)
        s = np.array([np.mean(sorted(v, reverse=True)[: self.top_k]) if v else 0.0 for v in scores])
        z = (s - s.max()) / self.temperature
        return s, Classifications((np.exp(z) / np.exp(z).sum())[None], self.class_names), best
