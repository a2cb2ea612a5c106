"""The course's networks, built by name through a small registry.

>>> from coursekit.models import create_model, list_models
>>> [name for name in list_models() if name in ("resnet9", "simple_cnn")]
['resnet9', 'simple_cnn']
>>> model = create_model("resnet9", num_classes=10, width=16)
"""
from .registry import count_parameters, create_model, list_models, register_model
from .resnet9 import (RESNET9_SETTINGS, ConvBN, Residual, ResNet9, piecewise_linear, resnet9, resnet9_recipe,
                      resnet9_setting)
from .simple_cnn import SimpleCNN, simple_cnn
from .transfer import STRATEGIES, TransferClassifier, count_trainable, load_weights, param_groups, resnet18_backbone

__all__ = [
    "register_model",
    "create_model",
    "list_models",
    "count_parameters",
    "ConvBN",
    "Residual",
    "ResNet9",
    "resnet9",
    "resnet9_recipe",
    "resnet9_setting",
    "RESNET9_SETTINGS",
    "piecewise_linear",
    "SimpleCNN",
    "simple_cnn",
    "resnet18_backbone",
    "load_weights",
    "TransferClassifier",
    "count_trainable",
    "param_groups",
    "STRATEGIES",
]
