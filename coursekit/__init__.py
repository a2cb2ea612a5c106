"""coursekit: the small package the course's notebooks share.

One job per module::

    config     the run profile (COURSEKIT_PROFILE), device, seed, cache folder: ck.settings()
    assets     registry of every download (URL, sha256, size, licence), checksummed cached fetch
    cli        `coursekit doctor`, `coursekit fetch`, `coursekit assets`
    scenes     the seeded scene generator (parts on backgrounds, with boxes, masks, angles; domains)
    data       CIFAR-10 (real or stand-in), ArrayDataset, TensorLoader (on-device batches + augmentation),
               image folders (validate and load a learner's own photos)
    types      the prediction types every model returns (Classifications, Detections)
    models     the course's networks by name (create_model("resnet9")), transfer learning, YOLO (offline-safe)
    train      fit (progress, AMP, atomic checkpoints, resume), predict, evaluate
    metrics    thin wrappers over torchmetrics / scikit-learn
    calibrate  decision thresholds from PR curves, calibration error, reliability diagrams
    harness    the eval harness: a locked model + data -> a saved, reloadable report (slices, confusion)
    detection_metrics  IoU, COCO mAP (torchmetrics), box matching, detector thresholds and error tables
    anchors    YOLOv5-style anchor fitting (k-means) and YOLOv8/11's anchor-free target candidates
    deploy     ONNX export + parity, INT8/FP16 + accuracy gate, TensorRT / trtexec, one benchmark, a package
    classical  OpenCV pipelines (pose, templates, keypoints, hole counting) returning the same prediction types
    foundation zero-shot with foundation models: linear-probe curve, masks as Detections, boxes -> SAM -> CLIP
               (the models themselves: coursekit.models.clip, coursekit.models.sam)
    viz        image grids, curves, confusion matrices, prediction galleries
    exercise_base  what every exercise check shares (blank -> a hint, wrong -> ExerciseError, right -> True)
    exercises_cnn, _transfer, _detect, _foundation, _deploy, _classical: notebook 01..06's exercise checks
    standins   the loud banner every stand-in announces itself with
    expect     a notebook's closing checks: asserted facts, measured floors, stated expectations (warn)

A notebook starts with::

    import coursekit as ck
    S = ck.settings()
    ck.seed_everything(S.seed)
"""
from importlib import import_module as _import_module

# Light modules (no torch at import time) load now, so `coursekit doctor` works even when torch is broken.
from . import assets, expect, config as _config_module, standins
from .expect import FloorNotMet, UnmeasuredExpectation, expectation, run_checks
from .assets import ASSETS, AssetError, AssetUnavailable, ChecksumMismatch, fetch
from .config import (Settings, course_path, module_setting, pick_device, seed_everything, settings, work_dir,
                     writable_home)
from .standins import announce_standin

__version__ = "0.1.0"

# Everything else loads on first use (``ck.fit`` imports coursekit.train then): importing coursekit stays
# fast, and a broken optional library only breaks what needs it.
_LAZY = {
    "coursekit.data": ["load_cifar10", "cifar10_loaders", "make_standin_cifar10", "ArrayDataset", "TensorLoader",
                       "Augment", "channel_stats", "CIFAR10_MEAN", "CIFAR10_STD", "validate_image_folder", "Report",
                       "ValidationError", "load_inspection", "INSPECTION_CLASSES", "load_annotations", "agreement",
                       "cohen_kappa", "validate_yolo_dataset", "coco_to_yolo", "yolo_to_coco", "box_stats",
                       "plot_box_stats"],
    "coursekit.scenes": ["SceneGenerator", "Scene", "SceneObject", "Domain", "PARTS", "DOMAINS", "make_object_dataset"],
    "coursekit.types": ["Classifications", "Detections"],
    "coursekit.detection_metrics": ["box_iou", "mean_average_precision", "match_detections", "DetectionMatch",
                                    "detection_pr_points", "detection_recall_precision", "detection_pr_curve",
                                    "choose_detection_threshold", "detection_errors", "plot_detection_pr"],
    "coursekit.models": ["create_model", "list_models", "register_model", "count_parameters", "ResNet9", "SimpleCNN",
                         "resnet9_recipe", "resnet9_setting", "transfer_setting", "TransferClassifier",
                         "resnet18_backbone", "pretrained_backbone", "Backbone", "Loaded", "subset_per_class",
                         "fit_transfer", "label_saving_factor", "labels_to_reach", "yolo_model", "train_yolo",
                         "predict_detections", "offline_ultralytics", "yolo_setting"],
    "coursekit.train": ["fit", "History", "CheckpointError", "save_checkpoint", "load_checkpoint", "predict",
                        "evaluate", "predict_classes"],
    "coursekit.metrics": ["accuracy", "confusion_matrix", "per_class_accuracy", "classification_report",
                          "worst_predictions", "top_confusions"],
    "coursekit.viz": ["show_images", "show_class_grid", "plot_class_balance", "plot_history", "plot_confusion",
                      "show_predictions", "plot_per_class_accuracy", "show_detections", "show_detection_errors"],
    "coursekit.calibrate": ["choose_threshold", "ThresholdChoice", "pr_curve", "binary_scores", "plot_pr_curve",
                            "expected_calibration_error", "reliability_diagram"],
    "coursekit.harness": ["evaluate_classifications", "evaluate_detections", "EvalReport", "ReportError", "lock_model",
                          "plot_slices"],
    "coursekit.foundation": ["foundation_setting", "linear_probe_curve", "masks_to_detections", "name_regions",
                             "segment_and_name"],
    "coursekit.deploy": ["export_onnx", "parity", "onnx_opset", "ExportResult", "ParityReport", "quantize_int8",
                         "convert_fp16", "calibration_set", "CalibrationReader", "CalibrationError", "accuracy_gate",
                         "GateResult", "GateFailed", "benchmark", "benchmark_table", "latency_stats", "BenchmarkResult",
                         "LatencyStats", "torch_runner", "onnx_runner", "cpu_info", "trtexec_command", "build_engine",
                         "engine_manifest", "engine_record", "check_engine_compatible", "EngineMismatch",
                         "parse_trtexec_log", "parse_tegrastats", "tensorrt_available", "write_package",
                         "verify_package", "PackageError", "PreprocessSpec", "deploy_setting"],
    "coursekit.classical": ["PoseEstimator", "TemplateClassifier", "KeypointClassifier", "HoleCounter", "Poses",
                            "evaluate_poses", "angle_error", "Stages", "show_stages", "FrameError", "check_frame",
                            "ClassicalPipeline", "render_parts", "nuisance_domain", "FIXTURE", "classical_setting"],
    "coursekit.exercises_cnn": ["check_conv_output_size", "check_accuracy", "check_batchnorm", "check_param_count"],
    "coursekit.exercise_base": ["ExerciseError"],
}
_WHERE = {name: module for module, names in _LAZY.items() for name in names}
_SUBMODULES = ["assets", "data", "exercise_base", "metrics", "models", "scenes", "viz", "train", "types", "cli",
               "standins", "calibrate", "harness", "detection_metrics", "anchors", "foundation", "deploy",
               "exercises_deploy", "classical", "exercises_classical", "expect", "exercises_cnn",
               "exercises_transfer", "exercises_foundation", "exercises_detect"]

__all__ = [
    "settings", "Settings", "module_setting", "seed_everything", "pick_device", "writable_home", "course_path", "work_dir",
    "ASSETS", "fetch", "AssetError", "AssetUnavailable", "ChecksumMismatch",
    "announce_standin",
    "expectation", "run_checks", "FloorNotMet", "UnmeasuredExpectation",
    *_WHERE,
    *[m for m in _SUBMODULES if m not in ("cli",)],
]


def __getattr__(name: str):
    if name in _WHERE:
        value = getattr(_import_module(_WHERE[name]), name)
        globals()[name] = value  # next time, no lookup
        return value
    if name in _SUBMODULES:
        return _import_module(f"coursekit.{name}")
    raise AttributeError(f"module 'coursekit' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(__all__))


def _in_a_notebook() -> bool:
    import sys

    shell = getattr(sys.modules.get("IPython"), "get_ipython", lambda: None)()
    return shell is not None and hasattr(shell, "display_formatter")


if _in_a_notebook():
    # A cell that ends with a matplotlib Figure shows it as a picture: coursekit.viz registers that display
    # (our figures are made without pyplot), so load it now rather than at the first ck.show_* call.
    from . import viz as _viz  # noqa: F401
