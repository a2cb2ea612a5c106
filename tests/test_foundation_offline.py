"""Module 4's offline path, end to end, with the network cut: what notebook 04 runs in CI (smoke profile,
COURSEKIT_OFFLINE=1) must never try to download anything. Any attempt to open a socket fails the test.

The path: CLIP (the shipped stand-in, announced) -> zero-shot on inspection photos; SAM (the shipped stand-in)
through segment-anything's own SamPredictor and SamAutomaticMaskGenerator; boxes -> SAM masks -> CLIP names
-> one coursekit Detections per image -> the evaluation harness.
"""
from __future__ import annotations

import socket

import numpy as np
import pytest
import torch

import coursekit as ck
from coursekit import foundation as F
from coursekit.data.detection import load_detection_split
from coursekit.models import clip as C
from coursekit.models import sam as SM
from coursekit.config import Settings


@pytest.fixture
def cut_network(monkeypatch, tmp_path):
    """Offline smoke settings in an empty cache, and sockets that fail loudly."""
    def refuse(*args, **kwargs):
        raise AssertionError(f"tried to open a network connection: {args[:2]}")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setenv("COURSEKIT_OFFLINE", "1")
    monkeypatch.delenv("COURSEKIT_STANDINS", raising=False)
    monkeypatch.setenv("COURSEKIT_HOME", str(tmp_path / "home"))
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield Settings(profile="smoke", device="cpu", seed=0, home=tmp_path / "home", offline=True)
    torch.set_num_threads(before)


def test_notebook_04_offline_path_runs_without_the_network(cut_network, capsys):
    from segment_anything import SamAutomaticMaskGenerator, SamPredictor

    S = cut_network
    clip = C.clip_model(S, progress=False)
    sam, sam_is_standin, _ = SM.sam_model(S, progress=False)
    out = capsys.readouterr().out
    assert clip.is_standin and sam_is_standin and out.count("STAND-IN") >= 2, "each stand-in must be announced"

    # CLIP zero-shot on a few inspection photos: one probability row per image
    ds, meta = ck.load_inspection("test")
    parts = list(C.PART_CLASS_NAMES)
    preds = C.zero_shot(clip.model, clip.preprocess, clip.tokenizer, ds.images[:16], parts, C.ENSEMBLE_TEMPLATES)
    assert preds.probs.shape == (16, len(parts))
    np.testing.assert_allclose(preds.probs.sum(1), 1, atol=1e-5)

    # SAM through segment-anything's own classes, then the detector -> SAM -> CLIP pipeline into the harness
    images, truth, _ = load_detection_split("test", as_detections=True)
    predictor = SamPredictor(sam)
    amg = SamAutomaticMaskGenerator(sam, points_per_side=4)
    classifier = C.zero_shot_classifier(clip.model, clip.tokenizer, parts, C.ENSEMBLE_TEMPLATES)
    scale = float(clip.model.logit_scale.exp().detach())
    results = []
    for image, t in zip(images[:2], truth[:2]):
        predictor.set_image(image)
        for m in amg.generate(image):  # segment-anything's own records, masks at the image's size
            assert m["segmentation"].shape == image.shape[:2] and 0 <= m["predicted_iou"] <= 1.5 and m["area"] > 0
        found = F.segment_and_name(image, t, lambda b: SM.predict_box(predictor, b),
                                   lambda crops: C.encode_images(clip.model, clip.preprocess, crops),
                                   classifier, scale, parts)
        assert isinstance(found, ck.Detections) and len(found) == len(t) and found.masks is not None
        results.append(found)
    report = ck.evaluate_detections(results, truth[:2], model_id="truth boxes+SAM+CLIP", dataset_id="test[:2]",
                                    threshold=0.0)
    assert report.n == 2
