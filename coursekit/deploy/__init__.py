"""Module 5: deploy to the edge. One job per module::

>>> from coursekit.deploy import trtexec_command
>>> trtexec_command("m.onnx", "m.engine", precision="fp16", input_name="images", shape=(3, 96, 96))[:2]
['trtexec', '--onnx=m.onnx']
"""
from .benchmark import (BenchmarkResult, LatencyStats, benchmark, benchmark_table, cpu_info, latency_stats, onnx_runner,
                        torch_runner)
from .export import ExportResult, ParityReport, export_onnx, onnx_opset, parity
from .quantize import (CalibrationError, CalibrationReader, GateFailed, GateResult, accuracy_gate, calibration_set,
                       convert_fp16, qdq_zero_points, quantize_int8, tensorrt_qdq_problems)
from .tensorrt import (EngineMismatch, TegraSample, TrtexecSummary, build_engine, check_engine_compatible,
                       engine_manifest, engine_record, parse_tegrastats, parse_trtexec_log, tensorrt_available, trtexec_command)
from .footprint import measure_footprint
from .package import PackageError, PreprocessSpec, verify_package, write_package

__all__ = ["BenchmarkResult", "LatencyStats", "benchmark", "benchmark_table", "cpu_info", "latency_stats", "onnx_runner",
           "torch_runner", "ExportResult", "ParityReport", "export_onnx", "onnx_opset", "parity",
           "CalibrationError", "CalibrationReader",
           "GateFailed", "GateResult", "accuracy_gate", "calibration_set", "convert_fp16", "quantize_int8",
           "qdq_zero_points", "tensorrt_qdq_problems",
           "EngineMismatch", "TegraSample", "TrtexecSummary", "build_engine", "check_engine_compatible",
           "engine_manifest", "engine_record", "parse_tegrastats", "parse_trtexec_log", "tensorrt_available", "trtexec_command",
           "measure_footprint", "PackageError", "PreprocessSpec", "verify_package", "write_package",
           "DEPLOY_SETTINGS", "deploy_setting"]

#: Notebook 05's sizes per run profile. ``cls_*``: the classifier trained here (Module 2's backbone);
#: ``det_epochs_if_no_checkpoint``: the detector's epochs when notebook 03 left no checkpoint; ``n_calib``: INT8
#: calibration images; ``iters`` / ``warmup``: timed and warm-up calls per benchmark; ``*_min_ratio``: the
#: accuracy gate (a quantised model keeps at least this fraction of the FP32 accuracy / mAP).
DEPLOY_SETTINGS: dict[str, dict] = {
    "full": dict(cls_epochs=10, cls_strategy="finetune", det_epochs_if_no_checkpoint=60, n_calib=512, iters=200,
                 warmup=20, cls_batch=32, det_batch=8, min_ratio=0.99, det_min_ratio=0.95),
    "smoke": dict(cls_epochs=2, cls_strategy="frozen", det_epochs_if_no_checkpoint=3, n_calib=64, iters=30,
                  warmup=5, cls_batch=32, det_batch=8, min_ratio=0.99, det_min_ratio=0.95),
}


def deploy_setting(S=None) -> dict:
    """This run's row of :data:`DEPLOY_SETTINGS` (by the profile), with its ``name``."""
    from ..config import module_setting

    return module_setting(DEPLOY_SETTINGS, S)
