"""The course's networks: :func:`create_model` builds one by name (random weights); every loader of trained weights
returns a :class:`Loaded` (:func:`yolo_weights`: the file notebook 03 hands to ultralytics' ``YOLO``).

>>> from coursekit.models import create_model, list_models
>>> [name for name in list_models() if name in ("resnet9", "simple_cnn")]
['resnet9', 'simple_cnn']
>>> model = create_model("resnet9", num_classes=10, width=16)
"""
from .registry import Loaded, count_parameters, create_model, list_models, register_model
from .resnet9 import (RESNET9_SETTINGS, ConvBN, Residual, ResNet9, piecewise_linear, resnet9, resnet9_recipe,
                      resnet9_setting)
from .simple_cnn import SimpleCNN, simple_cnn
from .pretrain import (IMAGENET_MEAN, IMAGENET_STD, STANDIN_PARTS, Backbone, imagenet_backbone, pretrained_backbone,
                       resnet9_backbone, standin_backbone)
from .yolo import (YOLO_ASSETS, YOLO_SETTINGS, UltralyticsSetup, offline_ultralytics, predict_detections, train_yolo,
                   ultralytics_config_dir, yolo_amp, yolo_data_yaml, yolo_model, yolo_setting, yolo_weights)
from .transfer import (STRATEGIES, TRANSFER_SETTINGS, TransferClassifier, count_trainable, fit_transfer,
                       label_saving_factor, labels_to_reach, load_weights, param_groups, resnet18_backbone,
                       subset_per_class, transfer_setting)

__all__ = ["register_model", "create_model", "list_models", "count_parameters", "Loaded",
           "ConvBN", "Residual", "ResNet9", "resnet9", "resnet9_recipe", "resnet9_setting", "RESNET9_SETTINGS",
           "piecewise_linear", "SimpleCNN", "simple_cnn",
           "resnet18_backbone", "load_weights", "TransferClassifier", "count_trainable", "param_groups", "STRATEGIES",
           "subset_per_class", "TRANSFER_SETTINGS", "transfer_setting", "fit_transfer", "labels_to_reach",
           "label_saving_factor",
           "Backbone", "STANDIN_PARTS", "IMAGENET_MEAN", "IMAGENET_STD", "pretrained_backbone", "standin_backbone",
           "imagenet_backbone", "resnet9_backbone",
           "YOLO_ASSETS", "UltralyticsSetup", "offline_ultralytics", "ultralytics_config_dir", "yolo_model",
           "YOLO_SETTINGS", "yolo_setting", "train_yolo", "yolo_amp", "yolo_data_yaml", "predict_detections"]
