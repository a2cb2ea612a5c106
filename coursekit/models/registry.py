"""A tiny timm-style model registry (build any course network from its name), and what weight loaders return."""
from __future__ import annotations

import fnmatch
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, TypeVar

import torch.nn as nn

__all__ = ["register_model", "create_model", "list_models", "count_parameters", "Loaded"]

F = TypeVar("F", bound=Callable[..., nn.Module])

#: name -> the function that builds the model. Filled by :func:`register_model`.
_MODELS: dict[str, Callable[..., nn.Module]] = {}


def register_model(fn: F | None = None, *, name: str | None = None):
    """Decorator that adds a model-building function to the registry under its name."""

    def add(f: F) -> F:
        _MODELS[name or f.__name__] = f
        return f

    return add(fn) if fn is not None else add


def list_models(pattern: str = "*") -> list[str]:
    """The registered model names, sorted; ``pattern`` filters them shell-style (``"resnet*"``)."""
    return sorted(n for n in _MODELS if fnmatch.fnmatch(n, pattern))


def create_model(name: str, **kwargs) -> nn.Module:
    """Build the model registered as ``name``, passing ``kwargs`` to its builder."""
    if name not in _MODELS:
        raise ValueError(f"unknown model {name!r}; available models: {', '.join(list_models()) or '(none)'}")
    return _MODELS[name](**kwargs)


def count_parameters(model: nn.Module, trainable_only: bool = True) -> int:
    """Number of parameters (scalars) in ``model``; only those with ``requires_grad`` by default.

    >>> count_parameters(nn.Linear(10, 2))  # 10*2 weights + 2 biases
    22
    """
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def shipped_standin(name: str, root: str | os.PathLike | None, rebuild: str) -> tuple[dict, Path]:
    """A shipped stand-in's ``(manifest, weights)`` from ``datasets/<name>`` (or ``root``), sha256 checked;
    ``rebuild``: the command that rebuilds it, quoted in the errors."""
    from ..data.shipped import checked_weights, find_shipped_dataset

    return checked_weights(find_shipped_dataset(name, root, rebuild=rebuild), name, rebuild)


@dataclass
class Loaded:
    """What every loader of trained weights returns: the model, whether it is the course's stand-in, its name, the
    weights file, details (``info``) and, for CLIP, the ``preprocess`` and ``tokenizer`` to feed it with."""

    model: Any = field(repr=False)
    is_standin: bool
    name: str
    weights: str | os.PathLike | None = None
    info: dict = field(default_factory=dict, repr=False)
    preprocess: Callable | None = field(default=None, repr=False)
    tokenizer: Callable | None = field(default=None, repr=False)
