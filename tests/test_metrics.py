"""coursekit.metrics agrees with scikit-learn, accepts the course's inputs and fails with clear messages."""
import numpy as np
import pytest
import sklearn.metrics as skm
import torch

from coursekit.metrics import (
    accuracy,
    classification_report,
    confusion_matrix,
    per_class_accuracy,
    top_confusions,
    worst_predictions,
)
from coursekit.types import Classifications

NAMES = ["plane", "car", "bird", "cat", "deer"]


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    y_true = rng.integers(0, 5, 300)
    # a model that is right ~60% of the time, else random
    y_pred = np.where(rng.random(300) < 0.6, y_true, rng.integers(0, 5, 300))
    return y_true, y_pred


def test_accuracy_matches_sklearn(data):
    y_true, y_pred = data
    assert accuracy(y_true, y_pred) == pytest.approx(skm.accuracy_score(y_true, y_pred), abs=1e-6)


@pytest.mark.parametrize("convert", [list, np.asarray, torch.as_tensor], ids=["list", "numpy", "tensor"])
def test_accuracy_accepts_lists_arrays_tensors(data, convert):
    y_true, y_pred = data
    assert accuracy(convert(y_true), convert(y_pred)) == pytest.approx(skm.accuracy_score(y_true, y_pred), abs=1e-6)


def test_accepts_classifications_and_scores(data):
    y_true, y_pred = data
    logits = np.eye(5)[y_pred] * 3.0 + np.random.default_rng(1).normal(0, 0.1, (300, 5))
    preds = Classifications.from_logits(logits, NAMES)
    assert (preds.labels == y_pred).all()
    expected = skm.accuracy_score(y_true, y_pred)
    assert accuracy(y_true, preds) == pytest.approx(expected, abs=1e-6)
    assert accuracy(torch.as_tensor(y_true), torch.as_tensor(logits)) == pytest.approx(expected, abs=1e-6)
    np.testing.assert_array_equal(confusion_matrix(y_true, preds), skm.confusion_matrix(y_true, y_pred))


def test_confusion_matrix_matches_sklearn(data):
    y_true, y_pred = data
    cm = confusion_matrix(y_true, y_pred)
    assert cm.dtype == np.int64
    np.testing.assert_array_equal(cm, skm.confusion_matrix(y_true, y_pred, labels=range(5)))
    for norm in ("true", "pred", "all"):
        np.testing.assert_allclose(
            confusion_matrix(y_true, y_pred, normalize=norm),
            skm.confusion_matrix(y_true, y_pred, labels=range(5), normalize=norm),
            atol=1e-6,
        )


def test_confusion_matrix_num_classes_and_empty_rows():
    cm = confusion_matrix([0, 1, 1], [0, 1, 0], num_classes=4, normalize="true")
    assert cm.shape == (4, 4)
    np.testing.assert_allclose(cm[1], [0.5, 0.5, 0, 0])
    np.testing.assert_allclose(cm[3], 0)  # no images of class 3: a row of zeros, no nan
    assert cm.sum(axis=1).tolist() == [1.0, 1.0, 0.0, 0.0]


def test_per_class_accuracy_is_sklearn_recall(data):
    y_true, y_pred = data
    got = per_class_accuracy(y_true, y_pred, NAMES)
    assert list(got) == NAMES
    expected = skm.recall_score(y_true, y_pred, average=None, labels=range(5))
    np.testing.assert_allclose(list(got.values()), expected, atol=1e-9)


def test_per_class_accuracy_absent_class_is_nan():
    got = per_class_accuracy([0, 0, 1], [0, 1, 1], ["a", "b", "c"])
    assert got["a"] == 0.5 and got["b"] == 1.0 and np.isnan(got["c"])


def test_classification_report_dict_and_text(data):
    y_true, y_pred = data
    report = classification_report(y_true, y_pred, NAMES)
    expected = skm.classification_report(y_true, y_pred, target_names=NAMES, output_dict=True, zero_division=0)
    for name in NAMES + ["macro avg", "weighted avg"]:
        for key in ("precision", "recall", "f1-score", "support"):
            assert report[name][key] == pytest.approx(expected[name][key])
    assert report["accuracy"] == pytest.approx(skm.accuracy_score(y_true, y_pred))
    text = classification_report(y_true, y_pred, NAMES, output="text")
    assert "macro avg" in text and "deer" in text


def test_classification_report_frame(data):
    pd = pytest.importorskip("pandas")
    y_true, y_pred = data
    frame = classification_report(y_true, y_pred, NAMES, output="frame")
    assert isinstance(frame, pd.DataFrame)
    assert list(frame.index) == NAMES + ["accuracy", "macro avg", "weighted avg"]
    assert frame.loc["accuracy", "f1-score"] == pytest.approx(skm.accuracy_score(y_true, y_pred))


def test_worst_predictions_only_wrong_sorted_by_confidence():
    rng = np.random.default_rng(3)
    probs = rng.dirichlet(np.ones(4) * 0.5, size=200)
    preds = Classifications(probs, list("abcd"))
    y_true = rng.integers(0, 4, 200)
    worst = worst_predictions(preds, y_true, k=16)
    assert worst.dtype == np.int64 and len(worst) == 16
    assert (preds.labels[worst] != y_true[worst]).all()
    conf = preds.confidence[worst]
    assert (np.diff(conf) <= 0).all()
    # nothing wrong and more confident was left out
    wrong = preds.labels != y_true
    assert conf[-1] >= preds.confidence[wrong & ~np.isin(np.arange(200), worst)].max()
    # all mistakes with k=None; fewer than k when there are few mistakes
    assert len(worst_predictions(preds, y_true, k=None)) == wrong.sum()
    assert len(worst_predictions(preds, preds.labels, k=16)) == 0


def test_worst_predictions_by_true_prob():
    probs = np.array([[0.5, 0.4, 0.1], [0.2, 0.7, 0.1], [0.1, 0.5, 0.4], [0.6, 0.3, 0.1]])
    preds = Classifications(probs, ["a", "b", "c"])
    y_true = [1, 1, 0, 2]
    # wrong: 0 (true prob 0.4, conf 0.5), 2 (0.1, 0.5), 3 (0.1, 0.6)
    assert worst_predictions(preds, y_true, by="confidence").tolist() == [3, 0, 2]
    assert worst_predictions(preds, y_true, by="true_prob").tolist() == [2, 3, 0]
    with pytest.raises(ValueError, match="by="):
        worst_predictions(preds, y_true, by="loss")
    with pytest.raises(TypeError, match="from_logits"):
        worst_predictions(probs, y_true)


def test_top_confusions():
    cm = np.array([[5, 1, 0], [3, 4, 0], [0, 2, 6]])
    assert top_confusions(cm, ["cat", "dog", "fox"], k=5) == [("dog", "cat", 3), ("fox", "dog", 2), ("cat", "dog", 1)]
    assert top_confusions(cm, ["cat", "dog", "fox"], k=1) == [("dog", "cat", 3)]
    with pytest.raises(ValueError, match="2 class_names"):
        top_confusions(cm, ["cat", "dog"])
    with pytest.raises(ValueError, match="square"):
        top_confusions(np.zeros((2, 3)), ["a", "b"])


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match="y_true has 3 labels but y_pred has 2"):
        accuracy([0, 1, 1], [0, 1])
    with pytest.raises(ValueError, match="y_true is empty"):
        accuracy([], [])
    with pytest.raises(ValueError, match=r"y_pred contains label 7, outside the valid range 0\.\.4"):
        per_class_accuracy([0, 1], [0, 7], NAMES)
    with pytest.raises(ValueError, match=r"y_true contains label 5, outside the valid range 0\.\.2"):
        confusion_matrix([0, 5], [0, 1], num_classes=3)
    with pytest.raises(ValueError, match=r"label -1"):
        accuracy([0, -1], [0, 1])
    with pytest.raises(ValueError, match="not a class index"):
        accuracy([0.5, 1], [0, 1])
    with pytest.raises(TypeError, match="class indices"):
        accuracy(["cat", "dog"], [0, 1])
    with pytest.raises(ValueError, match="normalize"):
        confusion_matrix([0, 1], [0, 1], normalize="rows")


def test_accuracy_on_a_single_class_slice():
    from coursekit.metrics import accuracy as acc
    assert acc([0, 0, 0], [0, 0, 1]) == pytest.approx(2 / 3)
