"""coursekit.harness: fingerprints that follow the weights, metrics right on a hand-built example,
reports that round-trip exactly, fail loudly when damaged and are saved atomically."""
import io
import json
import math

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import sklearn.metrics as skm  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from coursekit.calibrate import choose_threshold, expected_calibration_error  # noqa: E402
from coursekit.harness import (  # noqa: E402
    EvalReport,
    ReportError,
    evaluate_classifications,
    lock_model,
    model_card,
    plot_slices,
)
from coursekit.types import Classifications  # noqa: E402

NAMES = ["ok", "scratch", "crack"]
# image: true class, probabilities -> predicted class, lighting; the reject score is 1 - p(ok)
PROBS = np.array([
    [.9, .05, .05],  # 0 ok      -> ok       dim     score .1
    [.4, .5, .1],    # 1 ok      -> scratch  dim     score .6  (false reject)
    [.2, .7, .1],    # 2 scratch -> scratch  dim     score .8
    [.6, .1, .3],    # 3 crack   -> ok       dim     score .4  (defect passed)
    [.8, .1, .1],    # 4 ok      -> ok       bright  score .2
    [.1, .8, .1],    # 5 scratch -> scratch  bright  score .9
    [.1, .1, .8],    # 6 crack   -> crack    bright  score .9
    [.7, .2, .1],    # 7 ok      -> ok       bright  score .3
])
Y = np.array([0, 0, 1, 2, 0, 1, 2, 0])
LIGHT = ["dim"] * 4 + ["bright"] * 4
PART = ["bracket", "gear", "gear", "bracket", "gear", "bracket", "gear", "bracket"]


@pytest.fixture
def report():
    return evaluate_classifications(
        Classifications(PROBS, NAMES), Y, model_id="a" * 64, dataset_id="inspection-test-v1",
        slices={"lighting": LIGHT, "part": PART}, positive=["scratch", "crack"], notes="hand-built",
    )


# ------------------------------------------------------------------------------------ lock_model


def _net():
    return torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3), torch.nn.BatchNorm2d(4), torch.nn.Flatten(),
                               torch.nn.Linear(4 * 6 * 6, 2))


def test_lock_model_follows_the_weights():
    torch.manual_seed(0)
    a = _net()
    b = _net()  # different random init
    assert lock_model(a) != lock_model(b)
    b.load_state_dict(a.state_dict())
    assert lock_model(a) == lock_model(b)
    assert lock_model(a.state_dict()) == lock_model(a)
    buf = io.BytesIO()
    torch.save(a.state_dict(), buf)
    c = _net()
    c.load_state_dict(torch.load(io.BytesIO(buf.getvalue()), weights_only=True))
    assert lock_model(c) == lock_model(a)
    with torch.no_grad():
        c[3].weight[0, 0] += 1e-6  # one weight, barely
    assert lock_model(c) != lock_model(a)
    c.load_state_dict(a.state_dict())
    c[1].running_mean[0] = 0.5  # a buffer counts too
    assert lock_model(c) != lock_model(a)
    assert lock_model(_double(a)) != lock_model(a)  # same values, other dtype


def _double(model):
    import copy

    return copy.deepcopy(model).double()


def test_model_card_and_module_as_model_id():
    torch.manual_seed(0)
    model = torch.nn.Linear(10, 3)
    card = model_card(model)
    assert card["parameters"] == 33 and card["class"].endswith("Linear") and card["fingerprint"] == lock_model(model)
    r = evaluate_classifications(Classifications(PROBS, NAMES), Y, model_id=model, dataset_id="d")
    assert r.model_id == lock_model(model) and r.model_info["parameters"] == 33
    r.check_model(model)
    with torch.no_grad():
        model.bias[0] = 9.0
    with pytest.raises(ValueError, match="not the ones the report describes"):
        r.check_model(model)


# ------------------------------------------------------------------------------------- metrics


def test_overall_metrics(report):
    assert report.task == "classification" and report.n == 8 and report.class_names == NAMES
    assert report.metrics["accuracy"] == pytest.approx(6 / 8)
    y_pred = PROBS.argmax(1)
    assert report.metrics["macro_f1"] == pytest.approx(skm.f1_score(Y, y_pred, average="macro"))
    assert report.metrics["macro_precision"] == pytest.approx(skm.precision_score(Y, y_pred, average="macro"))
    assert report.metrics["macro_recall"] == pytest.approx(skm.recall_score(Y, y_pred, average="macro"))
    assert report.confusion_matrix.tolist() == [[3, 1, 0], [0, 2, 0], [1, 0, 1]]
    assert report.per_class["crack"] == {"precision": 1.0, "recall": 0.5, "f1": pytest.approx(2 / 3), "support": 2}
    ece = expected_calibration_error(Classifications(PROBS, NAMES), Y)
    assert report.metrics["ece"] == report.calibration["ece"] == pytest.approx(ece)
    assert sum(report.calibration["bins"]["count"]) == 8


def test_decision_view(report):
    d = report.decision
    # flagged at .5: images 1 (ok), 2, 5, 6 (defects); image 3 (crack, .4) passes
    assert d["positive"] == ["scratch", "crack"] and d["threshold"] == 0.5
    assert (d["tp"], d["fp"], d["fn"], d["tn"]) == (3, 1, 1, 3)
    assert d["precision"] == 0.75 and d["recall"] == 0.75
    assert report.metrics["decision_precision"] == 0.75
    yb, s = (Y > 0).astype(int), 1 - PROBS[:, 0]
    assert d["average_precision"] == pytest.approx(skm.average_precision_score(yb, s))


def test_per_slice_metrics_by_hand(report):
    dim, bright = report.to_frame("lighting").loc["dim"], report.to_frame("lighting").loc["bright"]
    assert dim["n"] == 4 and dim["accuracy"] == 0.5
    # dim: ok P 1/2 R 1/2 -> F1 .5; scratch P 1/2 R 1 -> 2/3; crack never predicted -> 0
    assert dim["macro_f1"] == pytest.approx((0.5 + 2 / 3 + 0) / 3)
    # dim reject decision: flagged 1 (ok), 2 (scratch); missed 3 (crack)
    assert dim["decision_precision"] == 0.5 and dim["decision_recall"] == 0.5
    assert (bright["n"], bright["accuracy"], bright["macro_f1"]) == (4, 1.0, 1.0)
    assert (bright["decision_precision"], bright["decision_recall"]) == (1.0, 1.0)
    gear = report.to_frame("part").loc["gear"]  # images 1, 2, 4, 6: right 2, 4, 6
    assert gear["n"] == 4 and gear["accuracy"] == 0.75
    frame = report.to_frame()
    assert set(frame["slice"]) == {"lighting", "part"} and len(frame) == 4


def test_undefined_slice_numbers_are_none():
    # a slice without defects has no recall; one where nothing is flagged has no precision
    r = evaluate_classifications(Classifications(PROBS, NAMES), Y, model_id="m", dataset_id="d",
                                 slices={"s": ["x", "y", "y", "y", "x", "y", "y", "x"]}, positive="crack")
    x = r.to_frame("s").loc["x"]  # images 0, 4, 7: all ok, nothing flagged as crack
    assert x["decision_precision"] is None or math.isnan(x["decision_precision"])
    assert r.slices["s"][0]["decision_recall"] is None


def test_threshold_choice_is_recorded():
    preds = Classifications(PROBS, NAMES)
    choice = choose_threshold((Y > 0).astype(int), 1 - PROBS[:, 0], min_recall=1.0)
    r = evaluate_classifications(preds, Y, model_id="m", dataset_id="d", positive=["scratch", "crack"],
                                 threshold=choice)
    assert r.decision["threshold"] == pytest.approx(0.4) and r.decision["threshold_goal"] == "recall >= 1"
    assert r.decision["recall"] == 1.0


def test_input_errors():
    preds = Classifications(PROBS, NAMES)
    with pytest.raises(ValueError, match="slice 'lighting' has 3 values"):
        evaluate_classifications(preds, Y, model_id="m", dataset_id="d", slices={"lighting": ["a", "b", "c"]})
    with pytest.raises(ValueError, match="positive"):
        evaluate_classifications(preds, Y, model_id="m", dataset_id="d", threshold=0.7)
    with pytest.raises(ValueError, match="not a class name"):
        evaluate_classifications(preds, ["ok"] * 7 + ["dent"], model_id="m", dataset_id="d")
    with pytest.raises(ValueError, match="outside the valid range"):
        evaluate_classifications(preds, [0] * 7 + [5], model_id="m", dataset_id="d")
    with pytest.raises(TypeError, match="Classifications"):
        evaluate_classifications(PROBS, Y, model_id="m", dataset_id="d")
    names = evaluate_classifications(preds, [NAMES[i] for i in Y], model_id="m", dataset_id="d")
    assert names.metrics["accuracy"] == 0.75


# ------------------------------------------------------------------------------ saving / loading


def test_round_trip(report, tmp_path):
    path = report.save(tmp_path / "reports" / "r.json", markdown=True)
    loaded = EvalReport.load(path)
    assert loaded == report
    assert loaded.slices == report.slices and loaded.confusion_matrix.tolist() == [[3, 1, 0], [0, 2, 0], [1, 0, 1]]
    assert json.loads(path.read_text())["schema_version"] == 1
    md = (tmp_path / "reports" / "r.md").read_text()
    assert "## Slice: lighting" in md and "| dim |" in md


def _saved(report, tmp_path):
    path = report.save(tmp_path / "r.json")
    return path, json.loads(path.read_text())


def test_load_rejects_unknown_version(report, tmp_path):
    path, data = _saved(report, tmp_path)
    data["schema_version"] = 99
    path.write_text(json.dumps(data))
    with pytest.raises(ReportError, match="schema_version 99 is unknown"):
        EvalReport.load(path)


@pytest.mark.parametrize("drop, name", [("dataset_id", "'dataset_id'"), ("slices", "'slices'"),
                                        ("schema_version", "'schema_version'")])
def test_load_names_missing_field(report, tmp_path, drop, name):
    path, data = _saved(report, tmp_path)
    del data[drop]
    path.write_text(json.dumps(data))
    with pytest.raises(ReportError, match=name):
        EvalReport.load(path)


def test_load_names_missing_detail_and_bad_json(report, tmp_path):
    path, data = _saved(report, tmp_path)
    del data["details"]["confusion_matrix"]
    path.write_text(json.dumps(data))
    with pytest.raises(ReportError, match="details.confusion_matrix"):
        EvalReport.load(path)
    path.write_text("{not json")
    with pytest.raises(ReportError, match="not valid JSON"):
        EvalReport.load(path)


def test_atomic_save_keeps_old_report(report, tmp_path, monkeypatch):
    path = report.save(tmp_path / "r.json")
    before = path.read_bytes()

    import coursekit.files

    def broken_fsync(fd):  # the new report is in the temporary file, then the disk fails
        raise OSError("disk full")

    monkeypatch.setattr(coursekit.files.os, "fsync", broken_fsync)
    changed = evaluate_classifications(Classifications(PROBS, NAMES), Y, model_id="b" * 64, dataset_id="other")
    with pytest.raises(OSError, match="disk full"):
        changed.save(path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["r.json"]  # no temporary file left behind
    monkeypatch.undo()
    assert EvalReport.load(path) == report


# ------------------------------------------------------------------------------ comparing, text


def test_compare_deltas(report):
    preds = Classifications(PROBS, NAMES)
    better = PROBS.copy()
    better[1], better[3] = [.6, .3, .1], [.1, .1, .8]  # fix both dim mistakes
    after = evaluate_classifications(Classifications(better, NAMES), Y, model_id="b" * 64,
                                     dataset_id="inspection-test-v1", slices={"lighting": LIGHT},
                                     positive=["scratch", "crack"])
    table = report.compare(after)
    assert list(table.columns) == ["aaaaaaaaaaaa", "bbbbbbbbbbbb", "delta"]  # same data: named by model
    assert table.loc["accuracy"].tolist() == [0.75, 1.0, 0.25]
    assert table.loc["accuracy [lighting=dim]", "delta"] == 0.5
    assert table.loc["accuracy [lighting=bright]", "delta"] == 0.0
    assert table.loc["decision_recall", "delta"] == pytest.approx(0.25)
    assert table.loc["n", "delta"] == 0
    assert math.isnan(table.loc["accuracy [part=gear]", "delta"])  # only in the first report
    shifted = evaluate_classifications(preds[:4], Y[:4], model_id="a" * 64, dataset_id="night")
    table = report.compare(shifted, labels=("day", "night"))
    assert table.loc["n", "night"] == 4 and table.loc["accuracy", "delta"] == pytest.approx(-0.25)


def test_summary_and_plot(report):
    text = report.summary()
    assert "inspection-test-v1" in text and "accuracy 75.0%" in text and "slice lighting:" in text
    assert "FP 1, FN 1" in text
    fig = plot_slices(report, "lighting")
    assert isinstance(fig, Figure) and len(fig.axes[0].patches) == 2
    fig.savefig(io.BytesIO(), format="png")
    with pytest.raises(KeyError, match="no slice 'domain'"):
        plot_slices(report, "domain")
