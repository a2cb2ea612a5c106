"""Module 5: deploy to the edge. One job per module::

    files      atomic writes (a temporary sibling renamed into place), sha256 of files
    export     PyTorch -> ONNX (explicit exporter and opset, asserted), onnx.checker, parity against PyTorch
    detect     the detector's raw-output decoding and a small NMS in NumPy (box agreement, deployment)
    quantize   onnxruntime static INT8 (QDQ, per-channel, calibration), FP16 conversion, the accuracy gate
    tensorrt   TensorRT engine build (when it imports) or the equivalent trtexec command; trtexec/tegrastats
               log parsers; the engine manifest compatibility check
    footprint  memory and load time per backend, each in a fresh process
    benchmark  one timing function for every backend (warm-up, batch 1 + throughput batch, percentiles)
    package    a deployable folder: model, labels, preprocessing, manifest with sha256, a torch-free run.py

>>> from coursekit.deploy import trtexec_command
>>> trtexec_command("m.onnx", "m.engine", precision="fp16", input_name="images", shape=(3, 96, 96))[:2]
['trtexec', '--onnx=m.onnx']
"""
from .benchmark import (BenchmarkResult, LatencyStats, benchmark, benchmark_table, cpu_info, latency_stats, onnx_runner,
                        torch_runner)
from .export import ExportResult, ParityReport, export_onnx, onnx_opset, parity
from ..files import atomic_write_bytes, atomic_write_text, sha256_file
from .quantize import (CalibrationError, CalibrationReader, GateFailed, GateResult, accuracy_gate, calibration_set,
                       convert_fp16, qdq_zero_points, quantize_int8, tensorrt_qdq_problems)
from .tensorrt import (EngineMismatch, TegraSample, TrtexecSummary, build_engine, check_engine_compatible,
                       engine_manifest, engine_record, parse_tegrastats, parse_trtexec_log, tensorrt_available, trtexec_command)
from .footprint import measure_footprint
from .package import PackageError, PreprocessSpec, verify_package, write_package

__all__ = ["BenchmarkResult", "LatencyStats", "benchmark", "benchmark_table", "cpu_info", "latency_stats", "onnx_runner",
           "torch_runner", "ExportResult", "ParityReport", "export_onnx", "onnx_opset", "parity",
           "atomic_write_bytes", "atomic_write_text", "sha256_file", "CalibrationError", "CalibrationReader",
           "GateFailed", "GateResult", "accuracy_gate", "calibration_set", "convert_fp16", "quantize_int8",
           "qdq_zero_points", "tensorrt_qdq_problems",
           "EngineMismatch", "TegraSample", "TrtexecSummary", "build_engine", "check_engine_compatible",
           "engine_manifest", "engine_record", "parse_tegrastats", "parse_trtexec_log", "tensorrt_available", "trtexec_command",
           "measure_footprint", "PackageError", "PreprocessSpec", "verify_package", "write_package"]
