"""The evaluation harness: lock the model, evaluate it the same way every time, keep the report.

An :class:`EvalReport` names its weights (:func:`lock_model`) and data, holds the metrics, the task's tables and
the metrics per *slice* (lighting, part type, ...); it saves to JSON atomically and loads back exactly.

>>> import numpy as np
>>> from coursekit.types import Classifications
>>> preds = Classifications([[.8, .2], [.3, .7], [.6, .4], [.1, .9]], ["ok", "crack"])
>>> r = evaluate_classifications(preds, [0, 1, 1, 1], model_id="demo", dataset_id="toy",
...                              slices={"lighting": ["dim", "dim", "bright", "bright"]}, positive=["crack"])
>>> r.metrics["accuracy"], r.decision["recall"]
(0.75, 0.6666666666666666)
>>> r.to_frame("lighting")["accuracy"].to_dict()
{'bright': 0.5, 'dim': 1.0}
"""
from __future__ import annotations

import hashlib
import json
import math
import os
import platform
import warnings
from dataclasses import asdict, dataclass, field, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

from .calibrate import (DEFAULT_THRESHOLD, binary_scores, calibration_bins, class_indices, expected_calibration_error,
                        operating_point, pr_curve)
from .files import atomic_write_text
from .types import Classifications

__all__ = ["SCHEMA_VERSION", "TASK_DETAILS", "EvalReport", "ReportError", "lock_model", "model_card",
           "evaluate_classifications", "evaluate_detections", "plot_slices"]

SCHEMA_VERSION = 1

#: The ``details`` keys each task's report must have (checked by :meth:`EvalReport.load`).
TASK_DETAILS: dict[str, tuple[str, ...]] = {
    "classification": ("per_class", "confusion_matrix", "calibration", "decision"),
    "detection": ("per_class", "decision", "errors"),
}


class ReportError(ValueError):
    """A saved report cannot be read: not JSON, an unknown schema version, or a missing field."""


def lock_model(model) -> str:
    """A sha256 fingerprint (64 hex digits) of the model's weights (its ``state_dict``, or a state dict): every
    entry's name, dtype, shape and bytes, buffers included; the same on any device and after a save/load.

    >>> import torch
    >>> a = torch.nn.Linear(2, 1)
    >>> b = torch.nn.Linear(2, 1); _ = b.load_state_dict(a.state_dict())
    >>> lock_model(a) == lock_model(b), len(lock_model(a))
    (True, 64)
    """
    import torch

    from .train import _unwrap

    state = _unwrap(model).state_dict() if hasattr(model, "state_dict") else model
    if not isinstance(state, Mapping):
        raise TypeError(f"lock_model needs an nn.Module or a state_dict, got {type(model).__name__}")
    h = hashlib.sha256()
    for key, value in state.items():
        h.update(key.encode() + b"\0")
        if isinstance(value, torch.Tensor):
            t = value.detach().to("cpu").contiguous()
            h.update(f"{t.dtype}|{tuple(t.shape)}\0".encode())
            h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
        else:  # e.g. a module's extra state
            h.update(f"{type(value).__name__}|{value!r}\0".encode())
    return h.hexdigest()


def model_card(model) -> dict:
    """What a report records about the model: class, parameter counts, dtype, fingerprint.

    >>> import torch
    >>> card = model_card(torch.nn.Linear(10, 2))
    >>> card["class"], card["parameters"]
    ('torch.nn.modules.linear.Linear', 22)
    """
    from .models import count_parameters
    from .train import _unwrap

    inner = _unwrap(model)
    dtypes = sorted({str(p.dtype) for p in inner.parameters()})
    return {"class": f"{type(inner).__module__}.{type(inner).__qualname__}",
            "parameters": count_parameters(inner, trainable_only=False),
            "trainable_parameters": count_parameters(inner, trainable_only=True),
            "dtype": dtypes[0] if len(dtypes) == 1 else dtypes, "fingerprint": lock_model(inner)}


def _plain(value: Any) -> Any:
    """JSON-ready: numpy -> Python, tuples -> lists, keys -> str, nan/inf -> None."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_plain(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def _environment() -> dict:
    import sklearn
    import torch
    import torchmetrics

    from . import __version__

    return {"coursekit": __version__, "torch": str(torch.__version__), "torchmetrics": torchmetrics.__version__,
            "scikit-learn": sklearn.__version__, "numpy": np.__version__, "python": platform.python_version(),
            "platform": platform.platform(terse=True)}


def _num(x) -> float:
    return math.nan if x is None else float(x)


@dataclass
class EvalReport:
    """One evaluation of one locked model (``model_id``, :func:`lock_model`) on one named data set: headline
    ``metrics``, the task's ``details`` (:data:`TASK_DETAILS`) and ``slices`` ({key: one row per value}); an
    undefined number is ``None``, never ``nan``, so the JSON is standard and loads back equal."""

    task: str
    model_id: str
    dataset_id: str
    created: str
    class_names: list[str]
    n: int
    metrics: dict[str, float | None]
    details: dict[str, Any]
    slices: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    model_info: dict[str, Any] = field(default_factory=dict)
    environment: dict[str, Any] = field(default_factory=dict)
    notes: str = ""

    @property
    def confusion_matrix(self) -> np.ndarray | None:
        cm = self.details.get("confusion_matrix")
        return None if cm is None else np.asarray(cm, dtype=np.int64)

    per_class = property(lambda self: self.details.get("per_class"), doc="The per-class table (a dict), or None.")
    calibration = property(lambda self: self.details.get("calibration"), doc="The calibration table, or None.")
    decision = property(lambda self: self.details.get("decision"), doc="The decision at the threshold, or None.")

    def check_model(self, model) -> None:
        """Raise ``ValueError`` unless ``model`` has exactly the weights this report describes."""
        found = lock_model(model)
        if found != self.model_id:
            raise ValueError(f"this model's weights ({found[:12]}…) are not the ones the report describes "
                             f"({self.model_id[:12]}…): re-run the evaluation on the model you deploy")

    def to_dict(self) -> dict:
        return {"schema_version": SCHEMA_VERSION, **_plain(asdict(self))}

    @classmethod
    def from_dict(cls, data: Mapping, source: str = "report") -> "EvalReport":
        """Validate and build; :class:`ReportError` names what is wrong."""
        if not isinstance(data, Mapping):
            raise ReportError(f"{source}: expected a JSON object, got {type(data).__name__}")
        if "schema_version" not in data:
            raise ReportError(f"{source}: missing field 'schema_version' (is this an EvalReport?)")
        if (version := data["schema_version"]) != SCHEMA_VERSION:
            raise ReportError(f"{source}: schema_version {version!r} is unknown; this coursekit reads version "
                              f"{SCHEMA_VERSION}. Update coursekit, or re-run the evaluation to write a new report.")
        names = [f.name for f in fields(cls)]
        missing = [k for k in names if k not in data]  # save() writes every field: a damaged or foreign file
        if missing:
            raise ReportError(f"{source}: missing field {missing[0]!r}" +
                              (f" (and {missing[1:]})" if len(missing) > 1 else ""))
        unknown = sorted(set(data) - set(names) - {"schema_version"})
        if unknown:
            raise ReportError(f"{source}: unknown field(s) {unknown} for schema_version {SCHEMA_VERSION}")
        if data["task"] not in TASK_DETAILS:
            raise ReportError(f"{source}: unknown task {data['task']!r}; known: {sorted(TASK_DETAILS)}")
        for key, kind in (("metrics", dict), ("details", dict), ("slices", dict), ("class_names", list)):
            if key in data and not isinstance(data[key], kind):
                raise ReportError(f"{source}: field {key!r} must be a {kind.__name__}")
        missing = [k for k in TASK_DETAILS[data["task"]] if k not in data["details"]]
        if missing:
            raise ReportError(f"{source}: missing field 'details.{missing[0]}' for a {data['task']} report")
        return cls(**{k: v for k, v in data.items() if k != "schema_version"})

    def save(self, path: str | os.PathLike, markdown: bool = False) -> Path:
        """Write the report as JSON, atomically (a failed write leaves an old file untouched); ``markdown=True``
        also writes the :meth:`to_markdown` summary next to it (``.md``)."""
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, json.dumps(self.to_dict(), indent=2, allow_nan=False))
        if markdown:
            atomic_write_text(path.with_suffix(".md"), self.to_markdown())
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> "EvalReport":
        """Read a report written by :meth:`save`; :class:`ReportError` if it is not a valid one."""
        path = Path(path)
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as e:
            raise ReportError(f"{path}: not valid JSON ({e})") from None
        return cls.from_dict(data, source=str(path))

    def to_frame(self, key: str | None = None):
        """The per-slice table (pandas): one row per slice value; all keys (a ``slice`` column) or one key."""
        import pandas as pd

        if key is not None:
            if key not in self.slices:
                raise KeyError(f"no slice {key!r} in this report; slices: {sorted(self.slices)}")
            return pd.DataFrame(self.slices[key]).set_index("value")
        return pd.DataFrame([{"slice": k, **row} for k, table in self.slices.items() for row in table])

    def headline(self, slice_metric: str | None = "accuracy") -> dict[str, float]:
        """The numbers :meth:`compare` compares: ``n``, the metrics, and one metric per slice value."""
        out = {"n": float(self.n), **{k: _num(v) for k, v in self.metrics.items()}}
        out.update({f"{slice_metric} [{key}={row['value']}]": _num(row[slice_metric]) for key, table in
                    (self.slices.items() if slice_metric else ()) for row in table if slice_metric in row})
        return out

    def compare(self, other: "EvalReport", labels: tuple[str, str] | None = None,
                slice_metric: str | None = "accuracy"):
        """A table of :meth:`headline`'s numbers of this report and ``other`` (NaN where one lacks it), and ``delta =
        other - this``; columns named by ``labels``, else by what differs (dataset, else model).

        >>> from coursekit.types import Classifications
        >>> p = Classifications([[.8, .2], [.3, .7]], ["ok", "crack"])
        >>> a = evaluate_classifications(p, [0, 0], model_id="m", dataset_id="day")
        >>> b = evaluate_classifications(p, [0, 1], model_id="m", dataset_id="night")
        >>> a.compare(b).loc["accuracy"].tolist()
        [0.5, 1.0, 0.5]
        """
        import pandas as pd

        if not isinstance(other, EvalReport):
            raise TypeError(f"compare needs another EvalReport, got {type(other).__name__}")
        if other.task != self.task:
            raise ValueError(f"cannot compare a {self.task} report with a {other.task} report")
        if other.class_names != self.class_names:
            warnings.warn(f"the reports have different classes: {self.class_names} vs {other.class_names}",
                          UserWarning, stacklevel=2)
        da, db = self.decision or {}, other.decision or {}
        if da and db and (da.get("threshold") != db.get("threshold") or da.get("positive") != db.get("positive")):
            warnings.warn(f"the decisions differ (threshold {da.get('threshold')} vs {db.get('threshold')}, positive "
                          f"{da.get('positive')} vs {db.get('positive')}): their decision_* numbers are not like for "
                          "like", UserWarning, stacklevel=2)
        if labels is None:
            labels = ((self.dataset_id, other.dataset_id) if self.dataset_id != other.dataset_id
                      else (self.model_id[:12], other.model_id[:12]) if self.model_id != other.model_id
                      else ("this", "other"))
            labels = ("this", "other") if labels[0] == labels[1] else labels
        a, b = self.headline(slice_metric), other.headline(slice_metric)
        rows = list(a) + [k for k in b if k not in a]
        frame = pd.DataFrame({labels[0]: [a.get(k, math.nan) for k in rows],
                              labels[1]: [b.get(k, math.nan) for k in rows]}, index=rows)
        frame["delta"] = frame[labels[1]] - frame[labels[0]]
        return frame

    def summary(self) -> str:
        """A few lines of text: what was evaluated, the headline numbers, the decision, the slices."""
        m = self.metrics
        f = lambda x, pct=False: "n/a" if x is None else (f"{x:.1%}" if pct else f"{x:.3f}")  # noqa: E731
        lines = [f"{self.task} report  model {self.model_id[:12]}  data {self.dataset_id}  ({self.created})"]
        d = self.decision
        if self.task == "detection":
            lines.append(f"images={self.n}  objects={d['n_objects']}  mAP@0.5 {f(m.get('map_50'))}  "
                         f"mAP@0.5:0.95 {f(m.get('map'))}")
            lines.append(f"decision at conf >= {d['threshold']:.4g} (IoU {d['iou']:g}): precision {f(d['precision'])}, "
                         f"recall {f(d['recall'])}  ({d['fp']} false boxes, {d['fn']} missed objects)")
            if errors := {k: v for k, v in self.details.get("errors", {}).items() if v}:
                lines.append("errors: " + ", ".join(f"{k} {v}" for k, v in errors.items()))
        else:
            lines.append(f"n={self.n}  accuracy {f(m.get('accuracy'), True)}  macro-F1 {f(m.get('macro_f1'))}  "
                         f"ECE {f(m.get('ece'))}")
            if d:
                lines.append(f"decision (positive = {', '.join(d['positive'])}) at {d['threshold']:.4g}: precision "
                             f"{f(d['precision'])}, recall {f(d['recall'])}  (FP {d['fp']}, FN {d['fn']} of {self.n})")
        shown, label = ("recall", "recall ") if self.task == "detection" else ("accuracy", "")
        lines += [f"slice {key}: " + " · ".join(f"{row['value']} {label}{f(row.get(shown), True)} (n={row['n']})"
                                                 for row in table) for key, table in self.slices.items()]
        return "\n".join(lines + ([f"notes: {self.notes}"] if self.notes else []))

    def to_markdown(self) -> str:
        """A short Markdown summary: headline metrics, decision, per-class and per-slice tables."""
        f = lambda x: "n/a" if x is None else (f"{x:.4f}" if isinstance(x, float) else str(x))  # noqa: E731

        def table(title, header, rows) -> list[str]:
            return ["", *([title, ""] if title else []), "| " + " | ".join(header) + " |", "|---" * len(header) + "|",
                    *("| " + " | ".join(f(v) for v in row) + " |" for row in rows)]

        out = [f"# Evaluation: {self.dataset_id}", "", f"- task: {self.task}", f"- model: `{self.model_id}`",
               f"- created: {self.created}", f"- images: {self.n}"] + ([f"- notes: {self.notes}"] if self.notes else [])
        out += table(None, ["metric", "value"], self.metrics.items())
        d, pc = self.decision, self.per_class
        if d and self.task == "classification":
            out += table(f"## Decision: positive = {', '.join(d['positive'])}, threshold {d['threshold']:.4g}",
                         ["precision", "recall", "F1", "TP", "FP", "FN", "TN"],
                         [[d[k] for k in ("precision", "recall", "f1", "tp", "fp", "fn", "tn")]])
        elif d:
            keys = ("precision", "recall", "f1", "tp", "fp", "fn")
            out += table(f"## Decision: threshold {d['threshold']:.4g}", keys, [[d[k] for k in keys]])
        if pc and self.task == "classification":
            out += table("## Per class", ["class", "precision", "recall", "F1", "support"],
                         [[c, r["precision"], r["recall"], r["f1"], r["support"]] for c, r in pc.items()])
        elif pc:
            cols = list(next(iter(pc.values())))
            out += table("## Per class", ["class", *cols], [[c, *(r[k] for k in cols)] for c, r in pc.items()])
        for key, rows in self.slices.items():
            cols = [c for c in rows[0] if c != "value"] if rows else []
            out += table(f"## Slice: {key}", ["value", *cols],
                         [[str(r["value"]), *(r.get(c) for c in cols)] for r in rows])
        return "\n".join(out) + "\n"

    def __str__(self) -> str:
        return self.summary()


def _classification_rows(y: np.ndarray, p: np.ndarray, binary: tuple[np.ndarray, np.ndarray] | None,
                         threshold: float) -> dict[str, Any]:
    """n, accuracy, macro-F1 (and the decision's precision / recall) of one slice."""
    from sklearn.metrics import accuracy_score, f1_score

    row: dict[str, Any] = {
        "n": int(len(y)),
        "accuracy": float(accuracy_score(y, p)),  # sklearn: a slice may hold one class (torchmetrics needs 2)
        "macro_f1": float(f1_score(y, p, average="macro", zero_division=0)),  # over the classes in this slice
    }
    if binary is not None:
        point = operating_point(binary[0], binary[1], threshold)
        row["decision_precision"], row["decision_recall"] = point.precision, point.recall
    return row


def _slices(slices, n: int, kind: str = "slice") -> dict[str, list]:
    """Each slice's values, one per image (an object slice: one list per image), checked."""
    out = {}
    for key, values in (slices or {}).items():
        if not isinstance(key, str):
            raise TypeError(f"{kind} keys must be strings (e.g. 'lighting'), got {key!r}")
        out[key] = values.tolist() if hasattr(values, "tolist") else list(values)
        if len(out[key]) != n:
            each = "value" if kind == "slice" else "list of values (one per object)"
            raise ValueError(f"{kind} {key!r} has {len(out[key])} {'values' if kind == 'slice' else 'entries'} but "
                             f"there are {n} images: one {each} per image")
    return out


def _groups(values) -> list[tuple[str, np.ndarray]]:
    """(value as text, the mask of its items), for each distinct value in sorted order."""
    text = np.array([str(v) for v in values])
    return [(value, text == value) for value in sorted(set(text.tolist()))]


def _report(task: str, model_id: str, dataset_id: str, names: list[str], n: int, metrics: dict, details: dict,
            slices: dict, model_info, notes: str) -> EvalReport:
    return EvalReport(task=task, model_id=model_id, dataset_id=dataset_id,
                      created=datetime.now(timezone.utc).isoformat(timespec="seconds"), class_names=names, n=n,
                      metrics=_plain(metrics), details=_plain(details), slices=_plain(slices),
                      model_info=_plain(dict(model_info or {})), environment=_environment(), notes=notes)


def _identify(model_id, dataset_id, model_info: dict | None) -> tuple[str, dict | None]:
    """The report's model fingerprint and card: ``model_id`` is a name, or the model itself (then locked)."""
    if hasattr(model_id, "state_dict"):
        card = model_card(model_id)
        model_info = {**card, **(model_info or {})}
        model_id = card["fingerprint"]
    if not isinstance(model_id, str) or not model_id:
        raise TypeError("model_id must be a non-empty string (lock_model(model)) or the model itself")
    if not isinstance(dataset_id, str) or not dataset_id:
        raise TypeError("dataset_id must be a non-empty string naming the evaluation set")
    return model_id, model_info


def evaluate_classifications(preds: Classifications, y_true, *, model_id, dataset_id: str,
                             slices: Mapping[str, Sequence] | None = None, positive: str | Sequence[str] | None = None,
                             threshold: float | Any = None, n_bins: int = 15,
                             model_info: Mapping[str, Any] | None = None, notes: str = "") -> EvalReport:
    """Evaluate class predictions (``y_true``: indices or names) overall, per class, calibration (ECE), the decision
    (``positive`` classes' summed probability at ``threshold``, default 0.5, or a ``ThresholdChoice``) and per slice;
    ``model_id``: :func:`lock_model`'s fingerprint, or the model itself (then locked, its :func:`model_card` kept)."""
    from .metrics import classification_report, confusion_matrix

    if not isinstance(preds, Classifications):
        raise TypeError(f"preds must be a Classifications, got {type(preds).__name__}; "
                        "wrap logits with Classifications.from_logits(logits, class_names)")
    model_id, model_info = _identify(model_id, dataset_id, model_info)
    names, n, p = list(preds.class_names), len(preds), preds.labels
    y = class_indices(y_true, names, n)  # range checked by classification_report

    report = classification_report(y, p, names)  # validates y against the classes
    y = np.asarray(y, dtype=np.int64)
    macro = report["macro avg"]
    metrics: dict[str, Any] = {"accuracy": report["accuracy"], "macro_precision": macro["precision"],
                               "macro_recall": macro["recall"], "macro_f1": macro["f1-score"],
                               "weighted_f1": report["weighted avg"]["f1-score"]}
    per_class = {c: {"precision": report[c]["precision"], "recall": report[c]["recall"],
                     "f1": report[c]["f1-score"], "support": int(report[c]["support"])} for c in names}
    cm = confusion_matrix(y, p, num_classes=len(names))
    ece = expected_calibration_error(preds, y, n_bins=n_bins)
    metrics["ece"] = ece
    calibration = {"ece": ece, "n_bins": n_bins, "norm": "l1", "bins": calibration_bins(preds, y, n_bins).to_dict()}

    decision = binary = None
    goal, threshold = getattr(threshold, "goal", None), getattr(threshold, "threshold", threshold)
    if positive is None and threshold is not None:
        raise ValueError("threshold is for the binary decision: also say which classes are positive (positive=[...])")
    if positive is not None:
        threshold = DEFAULT_THRESHOLD if threshold is None else float(threshold)
        pos = [positive] if isinstance(positive, str) else list(positive)
        binary = binary_scores(preds, pos, y)
        point = operating_point(*binary, threshold)
        ap = pr_curve(*binary).average_precision if 0 < binary[0].sum() < n else None
        decision = {"positive": pos, **point.to_dict(), "average_precision": ap, "threshold_goal": goal}
        metrics.update(decision_precision=point.precision, decision_recall=point.recall,
                       decision_f1=point.f1, decision_ap=ap)

    slice_tables = {key: [{"value": value, **_classification_rows(
        y[m], p[m], None if binary is None else (binary[0][m], binary[1][m]), threshold)}
        for value, m in _groups(values)] for key, values in _slices(slices, n).items()}

    return _report("classification", model_id, dataset_id, names, n, metrics,
                   {"per_class": per_class, "confusion_matrix": cm, "calibration": calibration, "decision": decision},
                   slice_tables, model_info, notes)


def _decision(preds, targets, threshold: float, iou: float, classes=None):
    """The operating point at ``threshold`` over these images (and ``classes``)."""
    from .detection_metrics import detection_pr_points, detection_recall_precision
    return detection_recall_precision(*detection_pr_points(preds, targets, iou=iou, classes=classes), threshold)


def evaluate_detections(preds, targets, *, model_id, dataset_id: str, threshold: float | Any, iou: float = 0.5,
                        slices: Mapping[str, Sequence] | None = None,
                        object_slices: Mapping[str, Sequence] | None = None,
                        model_info: Mapping[str, Any] | None = None, notes: str = "") -> EvalReport:
    """Evaluate a detector's boxes (one ``Detections`` per image, at a low confidence): COCO mAP, the decision at
    ``threshold`` (or a ``DetectionThreshold``) at IoU ``iou``, the error table, per image slice, and recall per
    ``object_slices`` ({key: per image, one value per object}).

    >>> from coursekit.types import Detections
    >>> truth = [Detections(xyxy=[[0, 0, 10, 10]], class_id=[0], class_names=["part"])] * 2
    >>> preds = [Detections(xyxy=[[0, 0, 10, 10]], class_id=[0], class_names=["part"], confidence=[0.9]),
    ...          Detections(xyxy=[[40, 0, 50, 10]], class_id=[0], class_names=["part"], confidence=[0.8])]
    >>> r = evaluate_detections(preds, truth, model_id="demo", dataset_id="toy", threshold=0.5,
    ...                         slices={"light": ["day", "night"]})
    >>> r.metrics["recall"], r.details["errors"]["missed: not found"], r.to_frame("light")["recall"].tolist()
    (0.5, 1, [1.0, 0.0])
    """
    from .detection_metrics import detection_errors, match_detections, mean_average_precision

    preds, targets = list(preds), list(targets)
    model_id, model_info = _identify(model_id, dataset_id, model_info)
    goal = getattr(threshold, "goal", None)
    threshold = float(getattr(threshold, "threshold", threshold))
    if not 0 <= threshold <= 1:
        raise ValueError(f"threshold={threshold!r}: expected a confidence in [0, 1], e.g. 0.25")

    coco = mean_average_precision(preds, targets)  # also checks the pairs (Detections, same length and classes)
    names, n = list(targets[0].class_names), len(preds)
    point = _decision(preds, targets, threshold, iou)
    metrics = {k: coco[k] for k in ("map", "map_50", "map_75", "mar_100")}
    metrics.update(precision=point.precision, recall=point.recall, f1=point.f1)

    per_class = {}
    for c, name in enumerate(names):
        c_point, row = _decision(preds, targets, threshold, iou, classes=[c]), coco["per_class"][name]
        per_class[name] = {"map": row["map"], "map_50": row["map_50"], "n_objects": row["n_targets"],
                           "n_boxes_kept": c_point.tp + c_point.fp, "precision": c_point.precision,
                           "recall": c_point.recall}
    errors_table = detection_errors(preds, targets, threshold, iou)
    errors = {k: int((errors_table["error"] == k).sum()) for k in (
        "background", "localization", "wrong_class", "duplicate", "missed: below threshold", "missed: wrong class",
        "missed: not found")}
    decision = {**point.to_dict(), "iou": float(iou), "threshold_goal": goal, "n_objects": point.tp + point.fn}

    slice_tables = {}
    for key, values in _slices(slices, n).items():
        rows = []
        for value, m in _groups(values):
            sub = [p for p, k in zip(preds, m) if k], [t for t, k in zip(targets, m) if k]
            s_point = _decision(*sub, threshold, iou)
            rows.append({"value": value, "n": int(m.sum()), "n_objects": s_point.tp + s_point.fn,
                         "map_50": mean_average_precision(*sub)["map_50"], "precision": s_point.precision,
                         "recall": s_point.recall})
        slice_tables[key] = rows
    if object_slices:
        hit = np.concatenate([match_detections(p.filter(min_confidence=threshold), t, iou).target_matched
                              for p, t in zip(preds, targets)])
        for key, per_image in _slices(object_slices, n, "object slice").items():
            for i, (vals, t) in enumerate(zip(per_image, targets)):
                if len(vals) != len(t):
                    raise ValueError(f"object slice {key!r}, image {i}: {len(vals)} values for {len(t)} objects")
            slice_tables[key] = [{"value": value, "n": int(m.sum()), "recall": float(hit[m].mean())}
                                 for value, m in _groups([v for vals in per_image for v in vals])]

    return _report("detection", model_id, dataset_id, names, n, metrics,
                   {"per_class": per_class, "decision": decision, "errors": errors}, slice_tables, model_info, notes)


def plot_slices(report: EvalReport, key: str, metric: str = "accuracy", ax=None, title: str | None = None) -> Figure:
    """Bars of ``metric`` per value of slice ``key``, each labelled with its image count; the overall
    value as a dashed line. The slices with few images are the ones to distrust.

    >>> from coursekit.types import Classifications
    >>> p = Classifications([[.8, .2], [.3, .7], [.6, .4]], ["ok", "crack"])
    >>> r = evaluate_classifications(p, [0, 1, 1], model_id="m", dataset_id="d", slices={"light": ["a", "a", "b"]})
    >>> len(plot_slices(r, "light").axes[0].patches)
    2
    """
    frame = report.to_frame(key)
    if metric not in frame.columns:
        raise KeyError(f"slice {key!r} has no metric {metric!r}; it has {[c for c in frame.columns if c != 'n']}")
    values, labels = frame[metric].astype(float).to_numpy(), [str(v) for v in frame.index]
    fig = Figure(figsize=(max(4.0, 0.7 * len(labels) + 2), 3.4), layout="constrained") if ax is None else ax.figure
    ax = fig.add_subplot() if ax is None else ax
    x = np.arange(len(labels))
    bars = ax.bar(x, np.nan_to_num(values, nan=0.0), color="tab:blue")
    ax.bar_label(bars, labels=[("n/a" if np.isnan(v) else f"{v:.0%}") + f"\nn={n}"
                               for v, n in zip(values, frame["n"])], fontsize=7, padding=2)
    overall = report.metrics.get(metric)
    if overall is not None:
        ax.axhline(overall, color="k", linestyle="--", linewidth=1, label=f"overall {overall:.0%}")
        ax.legend(loc="lower right", fontsize=8)
    tilt = len(labels) > 6
    ax.set_xticks(x, labels, rotation=45 if tilt else 0, ha="right" if tilt else "center")
    ax.set(ylim=(0, 1.2), ylabel=metric, title=title if title is not None else f"{metric} by {key}")
    return fig
