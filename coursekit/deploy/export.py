"""PyTorch -> ONNX, with the exporter and opset chosen explicitly and checked, and parity against PyTorch.

>>> import torch, tempfile, pathlib
>>> net = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(12, 3)).eval()
>>> out = pathlib.Path(tempfile.mkdtemp()) / "tiny.onnx"
>>> res = export_onnx(net, torch.zeros(1, 3, 2, 2), out, opset=17)
>>> res.opset, res.path.name, res.external_data
(17, 'tiny.onnx', None)
"""
from __future__ import annotations

import os
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from ..files import temporary_dir_beside

__all__ = ["ExportResult", "ParityReport", "export_onnx", "onnx_opset", "parity", "DEFAULT_OPSET"]

DEFAULT_OPSET = 17  # onnxruntime >= 1.13, TensorRT 8.5+ (JetPack 5.1) and 10.x (JetPack 6)


@dataclass(frozen=True)
class ExportResult:
    """What :func:`export_onnx` wrote and checked."""

    path: Path
    external_data: Path | None
    opset: int
    exporter: str
    input_name: str
    output_names: tuple[str, ...]
    dynamic_batch: bool
    size_bytes: int


def onnx_opset(model_or_path) -> int:
    """The default-domain (``""`` / ``ai.onnx``) opset of an ONNX model or file."""
    import onnx

    model = model_or_path if isinstance(model_or_path, onnx.ModelProto) else onnx.load(str(model_or_path),
                                                                                       load_external_data=False)
    for imp in model.opset_import:
        if imp.domain in ("", "ai.onnx"):
            return int(imp.version)
    raise ValueError("the model imports no default-domain opset")


def export_onnx(model, example, path: str | os.PathLike, *, opset: int = DEFAULT_OPSET, exporter: str = "torchscript",
                input_name: str = "images", output_names: Sequence[str] = ("logits",), dynamic_batch: bool = True,
                external_data: bool | None = None) -> ExportResult:
    """Export ``model`` (in eval mode, on the CPU) to ``path`` and check it; atomic."""
    import onnx
    import torch

    if exporter not in ("torchscript", "dynamo"):
        raise ValueError(f"exporter must be 'torchscript' or 'dynamo'; got {exporter!r}")
    if exporter == "dynamo":
        try:
            import onnxscript  # noqa: F401
        except ImportError:
            raise ImportError("exporter='dynamo' needs the onnxscript package (pip install onnxscript); "
                              "or use exporter='torchscript'") from None
    path = Path(path)
    if path.suffix != ".onnx":
        raise ValueError(f"{path}: the file name must end in .onnx")
    model = model.eval().cpu()
    example = example.detach().cpu()
    output_names = tuple(output_names)
    axes = {input_name: {0: "batch"}, **{n: {0: "batch"} for n in output_names}} if dynamic_batch else None
    with temporary_dir_beside(path) as tmp:
        raw = tmp / path.name
        with warnings.catch_warnings():
            # the TorchScript exporter is deprecated in favour of dynamo; the choice is deliberate here
            warnings.filterwarnings("ignore", category=DeprecationWarning)
            warnings.filterwarnings("ignore", message=".*legacy TorchScript-based ONNX export.*")
            warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
            with torch.no_grad():
                torch.onnx.export(model, (example,), str(raw), dynamo=(exporter == "dynamo"), opset_version=opset,
                                  input_names=[input_name], output_names=list(output_names), dynamic_axes=axes,
                                  do_constant_folding=True)
        proto = onnx.load(str(raw), load_external_data=True)  # reads <name>.data too when the exporter wrote one
        got = onnx_opset(proto)
        assert got == opset, (f"{path.name}: the {exporter} exporter wrote opset {got}, not the {opset} asked for; "
                              f"pass opset={got} if that is acceptable for your runtime, or use exporter='torchscript'")
        had_external = any(p.suffix == ".data" for p in tmp.iterdir() if p != raw)  # the exporter wrote <name>.data
        external = had_external if external_data is None else external_data
        final = tmp / "final"
        final.mkdir()
        data_name = f"{path.name}.data"
        onnx.save_model(proto, str(final / path.name), save_as_external_data=external, all_tensors_to_one_file=True,
                        location=data_name, size_threshold=0)
        onnx.checker.check_model(str(final / path.name), full_check=True)  # path form: follows external data
        if dynamic_batch:
            dim0 = onnx.load(str(final / path.name), load_external_data=False).graph.input[0].type.tensor_type.shape.dim[0]
            assert dim0.dim_param, f"{path.name}: the batch axis of input {input_name!r} is not dynamic"
        # every check passed: move the data file first, then the model (a model never points at a missing file)
        data_dest = path.with_name(data_name)
        if external:
            os.replace(final / data_name, data_dest)
        else:
            data_dest.unlink(missing_ok=True)  # a stale .data from an earlier export would be misleading
        os.replace(final / path.name, path)
    size = path.stat().st_size + (data_dest.stat().st_size if external else 0)
    return ExportResult(path=path, external_data=data_dest if external else None, opset=got, exporter=exporter,
                        input_name=input_name, output_names=output_names, dynamic_batch=dynamic_batch,
                        size_bytes=size)


@dataclass(frozen=True)
class ParityReport:
    """PyTorch against another backend on the same inputs, per batch size."""

    batch: int
    max_abs_err: float
    mean_abs_err: float
    cosine: float
    top1_agreement: float | None
    ok: bool
    tolerance: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        return asdict(self)


def parity(reference: np.ndarray, candidate: np.ndarray, *, classifier: bool = True, atol: float = 1e-4,
           min_cosine: float = 0.9999, min_top1: float = 1.0) -> ParityReport:
    """Compare two output arrays (reference first, e.g. PyTorch FP32, then e.g. ONNX Runtime).

    >>> r = parity(np.array([[1.0, 2.0]]), np.array([[1.0, 2.00001]]))
    >>> r.ok, r.top1_agreement
    (True, 1.0)
    """
    ref, cand = np.asarray(reference, np.float64), np.asarray(candidate, np.float64)
    if ref.shape != cand.shape:
        raise ValueError(f"outputs differ in shape: reference {ref.shape}, candidate {cand.shape}")
    diff = np.abs(ref - cand)
    top1 = float(np.mean(ref.argmax(-1) == cand.argmax(-1))) if classifier else None
    den = np.linalg.norm(ref) * np.linalg.norm(cand)  # cosine of the flattened outputs (1.0: same direction)
    cos = float(ref.ravel() @ cand.ravel() / den) if den > 0 else float(np.array_equal(ref, cand))
    ok = bool(diff.max() <= atol and cos >= min_cosine and (top1 is None or top1 >= min_top1))
    return ParityReport(batch=int(ref.shape[0]), max_abs_err=float(diff.max()), mean_abs_err=float(diff.mean()),
                        cosine=cos, top1_agreement=top1, ok=ok,
                        tolerance={"atol": atol, "min_cosine": min_cosine, "min_top1": min_top1 if classifier else None})
