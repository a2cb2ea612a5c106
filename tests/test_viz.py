"""coursekit.viz returns Figures with the expected axes, titles and colours, headless (Agg)."""
import io

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.colors import to_rgba  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from coursekit.types import Classifications  # noqa: E402
from coursekit.viz import (  # noqa: E402
    RIGHT_COLOR,
    WRONG_COLOR,
    plot_class_balance,
    plot_confusion,
    plot_history,
    plot_per_class_accuracy,
    show_class_grid,
    show_images,
    show_predictions,
)

NAMES = ["plane", "car", "bird"]


def _renders(fig: Figure) -> None:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=40)
    assert buf.getvalue()[:4] == b"\x89PNG"


def test_show_images_uint8_nhwc_with_titles():
    images = np.random.default_rng(0).integers(0, 256, (10, 16, 16, 3), dtype=np.uint8)
    fig = show_images(images, titles=[f"img {i}" for i in range(10)], ncols=4, title="ten")
    assert isinstance(fig, Figure)
    assert len(fig.axes) == 10  # no empty tiles left over in the 3x4 grid
    assert [ax.get_title() for ax in fig.axes][:2] == ["img 0", "img 1"]
    assert fig.get_suptitle() == "ten"
    assert fig.axes[0].get_images()[0].get_array().shape == (16, 16, 3)
    _renders(fig)


def test_show_images_unnormalises_float_nchw():
    mean, std = (0.5, 0.4, 0.3), (0.2, 0.25, 0.3)
    original = torch.rand(3, 3, 8, 8)
    normalised = (original - torch.tensor(mean).view(1, 3, 1, 1)) / torch.tensor(std).view(1, 3, 1, 1)
    fig = show_images(normalised, mean=mean, std=std)
    shown = np.asarray(fig.axes[0].get_images()[0].get_array())
    np.testing.assert_allclose(shown, original[0].permute(1, 2, 0).numpy(), atol=1e-5)


def test_show_images_grayscale_and_lists():
    fig = show_images(torch.rand(5, 1, 8, 8))
    assert len(fig.axes) == 5 and fig.axes[0].get_images()[0].get_array().shape == (8, 8)
    fig = show_images([np.zeros((8, 8, 3), np.uint8), torch.zeros(3, 12, 12)])
    assert len(fig.axes) == 2


def test_show_images_errors():
    with pytest.raises(ValueError, match="2 titles for 3 images"):
        show_images(torch.rand(3, 3, 8, 8), titles=["a", "b"])
    with pytest.raises(ValueError, match="too many"):
        show_images(np.zeros((300, 4, 4, 3), np.uint8))


def test_show_class_grid_one_labelled_row_per_class():
    images = torch.rand(20, 3, 8, 8)
    labels = torch.tensor([0, 1, 2, 0, 1] * 4)
    fig = show_class_grid(images, labels, NAMES, per_class=6)  # bird (2) has only 4 images
    assert len(fig.axes) == 3 * 6
    assert [fig.axes[r * 6].get_ylabel() for r in range(3)] == NAMES
    assert len(fig.axes[2 * 6 + 3].get_images()) == 1
    assert len(fig.axes[2 * 6 + 4].get_images()) == 0  # blank tile
    _renders(fig)


def test_plot_class_balance_single_and_splits():
    fig = plot_class_balance([0, 0, 1, 2, 2, 2], NAMES)
    ax = fig.axes[0]
    assert [p.get_height() for p in ax.patches] == [2, 1, 3]
    assert {t.get_text() for t in ax.texts} >= {"2", "1", "3"}  # counts written on the bars
    fig = plot_class_balance({"train": [0, 1, 2, 2], "val": [0, 1]}, NAMES, title="splits")
    ax = fig.axes[0]
    assert len(ax.patches) == 6 and ax.get_title() == "splits"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["train", "val"]
    with pytest.raises(ValueError, match="'val'"):
        plot_class_balance({"train": [0], "val": [5]}, NAMES)


def test_plot_history_records_list_and_missing_keys():
    class History:
        records = [
            {"epoch": e, "train_loss": 2.0 / e, "train_acc": 0.3 * e,
             "val_loss": 2.2 / e, "val_acc": 0.25 * e, "lr": 0.1 / e}
            for e in (1, 2, 3)
        ]

    fig = plot_history(History())
    assert [ax.get_title() for ax in fig.axes] == ["loss", "accuracy", "learning rate"]
    assert len(fig.axes[0].get_lines()) == 2  # train and val
    np.testing.assert_allclose(fig.axes[0].get_lines()[0].get_xdata(), [1, 2, 3])
    fig = plot_history([{"epoch": 1, "train_loss": 1.0}, {"epoch": 2, "train_loss": 0.5, "val_loss": None}])
    assert [ax.get_title() for ax in fig.axes] == ["loss"]
    assert len(fig.axes[0].get_lines()) == 1
    with pytest.raises(ValueError, match="nothing to plot"):
        plot_history([{"epoch": 1, "foo": 3}])
    _renders(fig)


def test_plot_confusion_annotated_and_normalised():
    cm = np.array([[8, 2, 0], [1, 9, 0], [0, 0, 0]])
    fig = plot_confusion(cm, NAMES)
    ax = fig.axes[0]
    assert len(fig.axes) == 2  # heatmap + colour bar
    assert len(ax.texts) == 9
    assert ax.texts[0].get_text() == "0.80" and ax.texts[8].get_text() == "0.00"
    assert ax.get_ylabel() == "true" and ax.get_xlabel() == "predicted"
    assert [t.get_text() for t in ax.get_yticklabels()] == NAMES
    counts = plot_confusion(cm, NAMES, normalize=False)
    assert counts.axes[0].texts[0].get_text() == "8"
    _renders(fig)


def test_show_predictions_red_when_wrong_green_when_right():
    probs = np.array([[0.9, 0.05, 0.05], [0.1, 0.7, 0.2], [0.2, 0.2, 0.6]])
    preds = Classifications(probs, NAMES)
    y_true = np.array([0, 2, 2])
    fig = show_predictions(torch.rand(3, 3, 8, 8), y_true, preds, indices=[1, 0])
    assert len(fig.axes) == 2
    wrong, right = fig.axes
    assert wrong.get_title() == "bird → car (70%)"
    assert to_rgba(wrong.title.get_color()) == to_rgba(WRONG_COLOR)
    assert right.get_title() == "plane → plane (90%)"
    assert to_rgba(right.title.get_color()) == to_rgba(RIGHT_COLOR)
    _renders(fig)


def test_show_predictions_from_a_dataset_of_pairs():
    dataset = [(np.zeros((8, 8, 3), np.uint8), 0), (np.ones((8, 8, 3), np.uint8), 1)]
    preds = Classifications([[0.8, 0.2], [0.6, 0.4]], ["a", "b"])
    fig = show_predictions(dataset, [0, 1], preds)
    assert [ax.get_title() for ax in fig.axes] == ["a → a (80%)", "b → a (60%)"]


def test_plot_per_class_accuracy():
    fig = plot_per_class_accuracy({"plane": 0.9, "car": 0.5, "bird": float("nan")})
    ax = fig.axes[0]
    assert len(ax.patches) == 3
    assert [t.get_text() for t in ax.get_yticklabels()] == NAMES
    assert {"90%", "50%", "n/a"} <= {t.get_text() for t in ax.texts}
    _renders(fig)
