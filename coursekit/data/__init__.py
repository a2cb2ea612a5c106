"""Datasets and loaders: CIFAR-10 (real or stand-in), the course's inspection dataset and its two-annotator
sample, a learner's own image folders, in-memory arrays, on-device batching.

>>> from coursekit.data import ArrayDataset, TensorLoader, load_cifar10
"""
from .arrays import ArrayDataset
from .cifar import CIFAR10_CLASSES, SMOKE_SIZES, cifar10_loaders, load_cifar10
from .annotators import agreement, cohen_kappa, disagreement_table, load_annotations
from .inspection import (INSPECTION_CLASSES, INSPECTION_PARTS, SEVERITY_THRESHOLD, DatasetIntegrityError,
                         load_inspection, render_inspection_sample, verify_inspection_dataset)
from .detection import (DETECTION_CLASSES, DETECTION_SPLITS, detection_root, load_detection_split,
                        render_detection_scene, verify_detection_dataset)
from .validate import PROBLEM_KINDS, Problem, Report, ValidationError
from .yolo import YoloLabels, read_yolo_labels, validate_yolo_dataset, write_yolo_dataset, xyxy_to_yolo, yolo_to_xyxy
from .yolo_convert import ConversionResult, box_stats, coco_to_yolo, plot_box_stats, yolo_to_coco
from .imagefolder import validate_image_folder
from .loaders import CIFAR10_MEAN, CIFAR10_STD, Augment, TensorLoader, channel_stats
from .standin import make_standin_cifar10

__all__ = ["ArrayDataset", "load_cifar10", "cifar10_loaders", "CIFAR10_CLASSES", "SMOKE_SIZES", "make_standin_cifar10",
           "TensorLoader", "Augment", "channel_stats", "CIFAR10_MEAN", "CIFAR10_STD",
           "Problem", "Report", "ValidationError", "PROBLEM_KINDS", "validate_image_folder",
           "INSPECTION_CLASSES", "INSPECTION_PARTS", "SEVERITY_THRESHOLD", "DatasetIntegrityError", "load_inspection",
           "verify_inspection_dataset", "render_inspection_sample",
           "load_annotations", "agreement", "cohen_kappa", "disagreement_table",
           "DETECTION_CLASSES", "DETECTION_SPLITS", "detection_root", "load_detection_split",
           "render_detection_scene", "verify_detection_dataset",
           "validate_yolo_dataset", "read_yolo_labels", "write_yolo_dataset", "YoloLabels", "ConversionResult",
           "coco_to_yolo", "yolo_to_coco", "xyxy_to_yolo", "yolo_to_xyxy", "box_stats", "plot_box_stats"]
