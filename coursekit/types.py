"""The prediction types every model and pipeline in the course returns.

A course network, a vendor model and a classical OpenCV pipeline all hand back these small dataclasses,
so evaluation, calibration, plots and export never look at a vendor's objects (the seed article's
"own the interface" advice). Module 1 needs :class:`Classifications`; detections join in Module 3.

>>> import numpy as np
>>> c = Classifications.from_logits(np.array([[2.0, 0.0], [0.0, 1.0]]), class_names=["cat", "dog"])
>>> c.labels.tolist(), c.names
([0, 1], ['cat', 'dog'])
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

__all__ = ["Classifications"]


def _softmax(logits: np.ndarray) -> np.ndarray:
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


@dataclass
class Classifications:
    """Class probabilities for N images over C classes.

    Attributes:
        probs: float32 array (N, C), rows sum to 1.
        class_names: the C class names, in column order.
    """

    probs: np.ndarray
    class_names: Sequence[str]

    def __post_init__(self):
        self.probs = np.asarray(self.probs, dtype=np.float32)
        if self.probs.ndim != 2:
            raise ValueError(f"probs must be (N, C); got shape {self.probs.shape}")
        if self.probs.shape[1] != len(self.class_names):
            raise ValueError(
                f"probs has {self.probs.shape[1]} columns but {len(self.class_names)} class_names were given"
            )
        self.class_names = list(self.class_names)

    @classmethod
    def from_logits(cls, logits, class_names: Sequence[str]) -> "Classifications":
        """From raw scores (numpy array or torch tensor), applying a softmax."""
        if hasattr(logits, "detach"):
            logits = logits.detach().float().cpu().numpy()
        return cls(_softmax(np.asarray(logits, dtype=np.float64)), class_names)

    def __len__(self) -> int:
        return len(self.probs)

    def __getitem__(self, index) -> "Classifications":
        """Select rows with an int, a slice, a boolean mask or an index array."""
        rows = self.probs[index]
        return Classifications(rows[None] if rows.ndim == 1 else rows, self.class_names)

    @property
    def labels(self) -> np.ndarray:
        """The predicted class index of each image (argmax), int64 (N,)."""
        return self.probs.argmax(axis=1).astype(np.int64)

    @property
    def confidence(self) -> np.ndarray:
        """The probability of the predicted class, float32 (N,)."""
        return self.probs.max(axis=1)

    @property
    def names(self) -> list[str]:
        """The predicted class name of each image."""
        return [self.class_names[i] for i in self.labels]

    def prob_of(self, targets) -> np.ndarray:
        """The probability given to each image's *true* class (targets: int array (N,))."""
        targets = np.asarray(targets, dtype=np.int64)
        return self.probs[np.arange(len(self)), targets]
