"""coursekit.anchors: YOLOv5-style k-means anchors and their fit, YOLOv8/11 anchor points and candidates,
checked against hand-computed cases and against ultralytics' own make_anchors / select_candidates_in_gts."""
import io

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from coursekit.anchors import (  # noqa: E402
    YOLOV5_ANCHORS,
    anchor_fit,
    anchor_points,
    assignment_candidates,
    kmeans_anchors,
    plot_anchors,
    plot_assignment,
    ratio_metric,
    scale_anchors,
)

PLANTED = np.array([[12.0, 20.0], [60.0, 45.0], [150.0, 160.0]])


def _planted_wh(seed: int = 0, per: int = 100) -> np.ndarray:
    """Box sizes around three known sizes, +-5 % noise, shuffled."""
    rng = np.random.default_rng(seed)
    wh = np.concatenate([c * rng.uniform(0.95, 1.05, (per, 2)) for c in PLANTED])
    return rng.permutation(wh)


def _renders(fig: Figure) -> None:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=40)
    assert buf.getvalue()[:4] == b"\x89PNG"


# ------------------------------------------------------------------------------------- constants


def test_yolov5_anchors_are_the_coco_defaults_small_to_large():
    assert YOLOV5_ANCHORS.shape == (9, 2)
    assert YOLOV5_ANCHORS[0].tolist() == [10, 13] and YOLOV5_ANCHORS[-1].tolist() == [373, 326]
    areas = YOLOV5_ANCHORS.prod(1).reshape(3, 3).mean(1)
    assert (np.diff(areas) > 0).all()  # P3 < P4 < P5 on average
    with pytest.raises(ValueError):
        YOLOV5_ANCHORS[0, 0] = 1  # read-only: nobody edits the reference by accident


# ------------------------------------------------------------------------------ k-means anchors


def test_kmeans_recovers_planted_sizes_sorted_by_area():
    k = kmeans_anchors(_planted_wh(), n=3, seed=0)
    assert k.shape == (3, 2)
    np.testing.assert_allclose(k, PLANTED, rtol=0.02)
    assert (np.diff(k.prod(1)) > 0).all()


def test_kmeans_accepts_box_stats_table():
    pd = pytest.importorskip("pandas")
    wh = _planted_wh()
    df = pd.DataFrame({"width_px": wh[:, 0], "height_px": wh[:, 1], "class_name": "x"})
    np.testing.assert_allclose(kmeans_anchors(df, n=3), kmeans_anchors(wh, n=3), rtol=1e-12)


def test_kmeans_is_deterministic_with_the_seed():
    wh = np.random.default_rng(1).uniform(5, 200, (300, 2))
    a, b = kmeans_anchors(wh, n=9, seed=3), kmeans_anchors(wh, n=9, seed=3)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("wh, n, match", [
    (np.ones((5, 3)), 2, r"\(N, 2\)"),
    (np.array([[10, 10, 20, 30]]), 1, "x2 - x1"),
    (np.array([[10.0, 0.0], [5.0, 5.0]]), 1, "positive"),
    (np.array([[10.0, np.nan], [5.0, 5.0]]), 1, "positive finite"),
    (np.zeros((0, 2)), 1, "empty"),
    (np.array([[10.0, 10.0], [20.0, 20.0]]), 3, "at least n boxes"),
    (np.array([[10.0, 10.0]] * 5 + [[20.0, 20.0]] * 5), 3, "only 2 different sizes"),
    (np.array([[10.0, 10.0], [20.0, 20.0]]), 0, "whole number >= 1"),
])
def test_kmeans_rejects_bad_input_with_a_clear_message(wh, n, match):
    with pytest.raises(ValueError, match=match):
        kmeans_anchors(wh, n=n)


# ------------------------------------------------------------------------------------ anchor fit


def test_ratio_metric_by_hand():
    x = ratio_metric([[20, 10], [10, 20]], [[20, 10], [40, 40]])
    np.testing.assert_allclose(x, [[1.0, 0.25], [0.5, 0.25]])


def test_anchor_fit_is_perfect_for_anchors_equal_to_the_boxes():
    wh = _planted_wh()
    fit = anchor_fit(wh, wh)
    assert fit.bpr == 1.0 and fit.mean_best == pytest.approx(1.0)
    np.testing.assert_array_equal(fit.best_ratio, 1.0)
    np.testing.assert_array_equal(fit.best_anchor, np.arange(len(wh)))


def test_anchor_fit_by_hand():
    # boxes 10, 40, 200 px square; anchors 10 and 30: ratios [[1, 1/3], [1/4, 3/4], [1/20, 3/20]]
    fit = anchor_fit([[10, 10], [40, 40], [200, 200]], [[10, 10], [30, 30]], thr=4.0)
    assert fit.bpr == pytest.approx(2 / 3)  # the 200 px box is 6.7x the largest anchor: no anchor may learn it
    assert fit.aat == pytest.approx((2 + 1 + 0) / 3)  # 1/4 is not above 1/thr: the 40 px box fits only one
    assert fit.best_anchor.tolist() == [0, 1, 1]
    assert fit.mean_best == pytest.approx((1 + 0.75 + 0.15) / 3)
    assert "best possible recall 0.667" in str(fit)


def test_far_off_anchors_drop_bpr():
    wh = _planted_wh()  # 12 to 160 px
    assert anchor_fit(wh, [[1000, 1000]]).bpr == 0.0
    # the 12x20 boxes are 5x narrower than a 60x45 anchor; the 150x160 ones are within 4x (45 * 4 = 180 > 168)
    assert anchor_fit(wh, [[60, 45]]).bpr == pytest.approx(2 / 3)
    assert anchor_fit(wh, [[60, 45]], thr=20).bpr == 1.0  # a looser threshold lets every box fit


def test_anchor_fit_rejects_a_threshold_below_one():
    with pytest.raises(ValueError, match="> 1"):
        anchor_fit([[10, 10]], [[10, 10]], thr=0.25)


def test_scale_anchors():
    half = scale_anchors(YOLOV5_ANCHORS, 640, 320)
    np.testing.assert_allclose(half, YOLOV5_ANCHORS / 2)
    np.testing.assert_allclose(scale_anchors(YOLOV5_ANCHORS, 640, 160)[-1], [93.25, 81.5])
    # ratios are scale-free: scaling boxes and anchors together changes no fit
    wh = _planted_wh()
    assert anchor_fit(wh, YOLOV5_ANCHORS).mean_best == pytest.approx(anchor_fit(wh / 4, scale_anchors(
        YOLOV5_ANCHORS, 640, 160)).mean_best)
    with pytest.raises(ValueError, match="positive number"):
        scale_anchors(YOLOV5_ANCHORS, 0, 320)


# ----------------------------------------------------------------------------------- anchor points


def test_anchor_points_count_and_positions_at_320():
    points, strides = anchor_points(320, (8, 16, 32))
    assert points.shape == (40 * 40 + 20 * 20 + 10 * 10, 2) == (2100, 2)
    assert np.bincount(strides.astype(int)).tolist()[8::8] == [1600, 400, 0, 100]
    assert points[0].tolist() == [4, 4] and points[1].tolist() == [12, 4] and points[40].tolist() == [4, 12]
    assert points[1600].tolist() == [8, 8] and points[-1].tolist() == [304, 304]
    s32 = points[strides == 32]
    assert sorted(set(s32[:, 0])) == [16 + 32 * i for i in range(10)]


def test_anchor_points_match_ultralytics_make_anchors():
    from ultralytics.utils.tal import make_anchors

    feats = [torch.zeros(1, 1, 192 // s, 256 // s) for s in (8, 16, 32)]
    ua, us = make_anchors(feats, torch.tensor([8.0, 16.0, 32.0]), 0.5)
    points, strides = anchor_points((192, 256))
    np.testing.assert_allclose(points, (ua * us).numpy())
    np.testing.assert_allclose(strides, us[:, 0].numpy())


def test_anchor_points_reject_a_size_that_is_not_a_multiple_of_the_strides():
    with pytest.raises(ValueError, match="multiple of stride 32.*use e.g. 320"):
        anchor_points(304)  # a multiple of 8 and 16, not of 32
    with pytest.raises(ValueError, match="imgsz"):
        anchor_points(-64)
    with pytest.raises(ValueError, match="strides"):
        anchor_points(64, strides=(8, 0))


# ----------------------------------------------------------------------------- assignment candidates


def test_candidates_by_hand():
    c = assignment_candidates([[0, 0, 32, 32], [4, 4, 36, 36]], imgsz=64, strides=(8, 16, 32))
    # [0, 32]: x centres 4, 12, 20, 28 inside -> 16 at stride 8; 8, 24 -> 4 at 16; 16 -> 1 at 32.
    # [4, 36]: the centres 4 and 36 lie on its edges, not strictly inside: 12, 20, 28 -> 9; 8, 24 -> 4; 16 -> 1
    assert c.counts.tolist() == [[16, 4, 1], [9, 4, 1]]
    assert c.mask.shape == (2, 64 + 16 + 4) and c.total.tolist() == [21, 14]
    df = c.to_frame()
    assert df.columns.tolist() == ["width", "height", "stride_8", "stride_16", "stride_32", "total"]


def test_small_boxes_are_widened_to_the_second_stride():
    box = [[120, 120, 130, 130]]  # 10 px: widened to 16 px about its centre, 117..133
    c = assignment_candidates(box, 320)
    assert c.counts.tolist() == [[4, 1, 0]] and c.regions.tolist() == [[117, 117, 133, 133]]
    assert assignment_candidates(box, 320, min_side=0).counts.tolist() == [[1, 0, 0]]


@pytest.mark.parametrize("imgsz, strides", [(320, (8, 16, 32)), ((160, 224), (8, 16, 32)), (128, (16,))])
def test_candidates_agree_with_ultralytics_select_candidates_in_gts(imgsz, strides):
    from ultralytics.utils.tal import TaskAlignedAssigner, make_anchors

    h, w = (imgsz, imgsz) if isinstance(imgsz, int) else imgsz
    rng = np.random.default_rng(0)
    n = 60
    xy = rng.uniform(-10, [w, h], (n, 2))
    side = np.exp(rng.uniform(np.log(2), np.log(max(h, w)), (n, 2)))  # 2 px to the whole image
    boxes = np.concatenate([xy, xy + side], 1)
    boxes[:4] = [[0, 0, 32, 32], [4, 4, 36, 36], [8, 8, 9, 9], [0, 0, w, h]]  # on-grid edges, a 1-px box, all

    assigner = TaskAlignedAssigner(topk=10, num_classes=1, alpha=0.5, beta=6.0, stride=list(strides))
    feats = [torch.zeros(1, 1, h // s, w // s) for s in strides]
    ua, us = make_anchors(feats, torch.tensor(strides, dtype=torch.float64), 0.5)
    gt = torch.from_numpy(boxes)[None]
    theirs = assigner.select_candidates_in_gts((ua * us).double(), gt, torch.ones(1, n, 1, dtype=torch.float64))
    # ultralytics' floor for small boxes (recent releases; older ones had none)
    min_side = getattr(assigner, "stride_val", 0)
    ours = assignment_candidates(boxes, imgsz, strides, min_side=min_side)
    np.testing.assert_array_equal(ours.mask, theirs[0].numpy().astype(bool))
    if hasattr(assigner, "stride_val"):
        assert assignment_candidates(boxes, imgsz, strides).mask.tolist() == ours.mask.tolist()  # the default


@pytest.mark.parametrize("boxes, match", [
    ([[10, 10, 5, 20]], "x2 <= x1"),
    ([[10, 10, 20]], r"\(N, 4\)"),
    ([[10, 10, np.inf, 20]], "finite"),
])
def test_candidates_reject_bad_boxes(boxes, match):
    with pytest.raises(ValueError, match=match):
        assignment_candidates(boxes, 320)


def test_candidates_for_no_boxes():
    c = assignment_candidates(np.zeros((0, 4)), 64)
    assert c.mask.shape == (0, 84) and c.counts.shape == (0, 3)


# ----------------------------------------------------------------------------------------- plots


def test_plot_anchors_returns_a_figure_with_bpr_in_the_legend():
    wh = _planted_wh() / 2
    fig = plot_anchors(wh, {"YOLOv5": scale_anchors(YOLOV5_ANCHORS, 640, 320), "k-means": kmeans_anchors(wh, 3)},
                       imgsz=320)
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert any(lbl.startswith("k-means: 3 anchors, bpr 1.000") for lbl in labels)
    _renders(fig)
    with pytest.raises(ValueError, match="dict"):
        plot_anchors(wh, [YOLOV5_ANCHORS])


def test_plot_assignment_returns_a_figure():
    image = np.random.default_rng(0).integers(0, 256, (240, 320, 3), dtype=np.uint8)  # letterboxed into 320
    fig = plot_assignment(image, [[10, 20, 80, 60], [100, 100, 300, 230], [5, 5, 9, 9]], imgsz=320)
    assert isinstance(fig, Figure) and len(fig.axes) == 1
    ax = fig.axes[0]
    assert list(ax.images[0].get_extent()) == [0, 320, 280, 40]  # 40 px of padding above and below
    assert "3 boxes" in ax.get_title()
    _renders(fig)
    chw = plot_assignment(torch.rand(3, 64, 64), [[0, 0, 32, 32]])  # tensor image, imgsz = its size
    assert "imgsz 64" in chw.axes[0].get_title()
