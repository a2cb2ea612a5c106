"""coursekit: the small package the course's notebooks share.

One job per module::

    settings   the run profile (COURSEKIT_PROFILE), device, seed, cache folder
    assets     registry of every download (URL, sha256, size, licence), checksummed cached fetch
    cli        `coursekit doctor`, `coursekit fetch`, `coursekit assets`
    scenes     the seeded scene generator (parts on backgrounds, with boxes, masks, angles; domains)
    data       CIFAR-10 (real or stand-in), ArrayDataset, TensorLoader (on-device batches + augmentation),
               image folders (validate and load a learner's own photos)
    types      the prediction types every model returns (Classifications)
    models     the course's networks by name (create_model("resnet9"))
    train      fit (progress, AMP, atomic checkpoints, resume), predict, evaluate
    metrics    thin wrappers over torchmetrics / scikit-learn
    viz        image grids, curves, confusion matrices, prediction galleries
    exercises  automatic checks for the notebooks' exercises
    standins   the loud banner every stand-in announces itself with

A notebook starts with::

    import coursekit as ck
    S = ck.settings()
    ck.seed_everything(S.seed)
"""
from . import assets, data, exercises, metrics, models, scenes, viz
from .assets import ASSETS, AssetError, AssetUnavailable, ChecksumMismatch, fetch
from .data import (CIFAR10_MEAN, CIFAR10_STD, ArrayDataset, Augment, FolderReport, ImageFolderError, TensorLoader,
                   channel_stats, load_cifar10, load_image_folder, make_standin_cifar10, validate_image_folder)
from .exercises import (ExerciseError, check_accuracy, check_batchnorm, check_conv_output_size,
                        check_param_count, check_receptive_field)
from .metrics import (accuracy, classification_report, confusion_matrix, per_class_accuracy, top_confusions,
                      worst_predictions)
from .models import ResNet9, SimpleCNN, count_parameters, create_model, list_models, register_model, resnet9_recipe
from .scenes import DOMAINS, PARTS, Domain, Scene, SceneGenerator, SceneObject, make_object_dataset
from .settings import Settings, pick_device, seed_everything, settings
from .standins import announce_standin
from .train import CheckpointError, History, evaluate, fit, load_checkpoint, predict, predict_classes, save_checkpoint
from .types import Classifications
from .viz import (plot_class_balance, plot_confusion, plot_history, plot_per_class_accuracy, show_class_grid,
                  show_images, show_predictions)

__version__ = "0.1.0"

__all__ = [
    # settings
    "settings", "Settings", "seed_everything", "pick_device",
    # assets
    "ASSETS", "fetch", "AssetError", "AssetUnavailable", "ChecksumMismatch",
    # data
    "load_cifar10", "make_standin_cifar10", "ArrayDataset", "TensorLoader", "Augment", "channel_stats",
    "CIFAR10_MEAN", "CIFAR10_STD", "validate_image_folder", "load_image_folder", "FolderReport", "ImageFolderError",
    # scenes
    "SceneGenerator", "Scene", "SceneObject", "Domain", "PARTS", "DOMAINS", "make_object_dataset",
    # types
    "Classifications",
    # models
    "create_model", "list_models", "register_model", "count_parameters", "ResNet9", "SimpleCNN", "resnet9_recipe",
    # train
    "fit", "History", "CheckpointError", "save_checkpoint", "load_checkpoint", "predict", "evaluate", "predict_classes",
    # metrics
    "accuracy", "confusion_matrix", "per_class_accuracy", "classification_report", "worst_predictions",
    "top_confusions",
    # viz
    "show_images", "show_class_grid", "plot_class_balance", "plot_history", "plot_confusion",
    "show_predictions", "plot_per_class_accuracy",
    # exercises
    "check_conv_output_size", "check_accuracy", "check_batchnorm", "check_param_count",
    "check_receptive_field", "ExerciseError",
    # stand-ins
    "announce_standin",
    # submodules
    "assets", "data", "exercises", "metrics", "models", "scenes", "viz",
]
