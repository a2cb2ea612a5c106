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
           "measure_footprint", "PackageError", "PreprocessSpec", "verify_package", "write_package"]
