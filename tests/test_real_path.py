"""The learner's real path, offline: files in the exact formats of the real downloads, in a test-only cache.

Every learner with internet runs the real CIFAR-10, ResNet-18, YOLO11n, CLIP and SAM files; CI cannot
download them. ``tools/real_format_assets.py`` builds files laid out exactly as the real ones (archive
members and pickles, state-dict keys and shapes, the ultralytics checkpoint dict) with random weights or
generated pictures. Their checksums are registered *for this test only*: in this process with
``monkeypatch`` and inside a notebook's kernel by a first cell (nothing a learner can set weakens the
registry). Then:

- each real-asset loader runs and must take the real path (no ``STAND-IN`` banner);
- each notebook's cells tagged ``real-path`` run in the smoke profile (a few sizes cut further, listed in
  ``SHRINK``, to stay within a few minutes) and must finish without an error. Quality floors cannot hold on
  random weights: the notebooks mark them with ``ck.expectation`` (a warning, not a failure), so an error
  here is always a bug on the real path.

``COURSEKIT_REAL_PATH_FULL=1 pytest tests/test_real_path.py -k whole`` runs every cell of notebooks 01-05
instead (about 15 minutes on 2 cores): there, only ``FloorNotMet`` may fail.
"""
from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import numpy as np
import pytest

from coursekit import assets, standins

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import real_format_assets as RFA  # noqa: E402

NOTEBOOKS = ["01_cnn_from_scratch", "02_finetune_pretrained", "03_train_yolo_detector",
             "04_foundation_models_zero_shot", "05_deploy_to_the_edge"]
#: The loader call each notebook's real path must contain (and run).
LOADERS = {"01_cnn_from_scratch": ["load_cifar10("], "02_finetune_pretrained": ["pretrained_backbone("],
           "03_train_yolo_detector": ["yolo_weights(", "YOLO(weights"], "04_foundation_models_zero_shot": ["clip_model("],  # SAM: test_sam_real_path (its encoder costs ~20 s an image on a CPU)
           "05_deploy_to_the_edge": ["pretrained_backbone("]}
#: Sizes cut further than smoke for this test, run right after the cell that defines them (the real path's
#: code is the same at any size; the smoke sizes are what nbval runs).
SHRINK = {
    "01_cnn_from_scratch": ("M1 = ck.resnet9_setting(S)", None),  # smoke's 4 epochs: the loss check needs them
    "02_finetune_pretrained": ("M2 = ck.transfer_setting(S)", 'M2 = {**M2, "ks": (10,), "steps": 6}'),
    "03_train_yolo_detector": ("M3 = ck.yolo_setting(S)", 'M3 = {**M3, "epochs": 1}'),
    "04_foundation_models_zero_shot": ("M4 = ck.foundation_setting(S)", None),
    "05_deploy_to_the_edge": ("M5 = ck.deploy_setting(S)", 'M5 = {**M5, "cls_epochs": 1}'),
}


@pytest.fixture(scope="module")
def real_files(tmp_path_factory):
    """The real-format files in a cache folder of their own (built once per test run, about 30 s)."""
    home = tmp_path_factory.mktemp("real-path-cache")
    return home, RFA.build(home)


@pytest.fixture
def real_registry(real_files, monkeypatch):
    home, index = real_files
    for name, entry in RFA.registered(index).items():
        monkeypatch.setitem(assets.ASSETS, name, entry)
    monkeypatch.setenv("COURSEKIT_HOME", str(home))
    monkeypatch.setenv("COURSEKIT_OFFLINE", "1")
    monkeypatch.setenv("COURSEKIT_PROFILE", "smoke")
    monkeypatch.setattr(standins, "STANDINS_USED", [])
    return home, index


def _no_standin(capsys):
    out = capsys.readouterr().out
    assert "STAND-IN" not in out, out
    assert standins.STANDINS_USED == []


def test_the_registry_itself_is_untouched_outside_the_test(real_files):
    _, index = real_files
    for name, entry in index.items():
        assert assets.ASSETS[name].sha256 != entry["sha256"]  # the real checksums stay in force for learners


def test_cifar10_real_path(real_registry, capsys):
    import coursekit as ck

    train, test = ck.load_cifar10(ck.settings(), progress=False)
    assert (len(train), len(test)) == (5000, 1000) and not train.is_standin and not test.is_standin
    assert train.images.shape[1:] == (32, 32, 3) and train.classes[0] == "airplane"
    assert np.bincount(train.labels).tolist() == [500] * 10
    _no_standin(capsys)


def test_resnet18_real_path(real_registry, capsys):
    import torch

    import coursekit as ck

    BB = ck.pretrained_backbone(ck.settings(device="cpu"))
    assert not BB.is_standin and BB.arch == "resnet18"
    net = BB.create(pretrained=True)
    state = torch.load(assets.fetch("resnet18-imagenet"), weights_only=True)
    assert torch.equal(net.conv1.weight, state["conv1.weight"])  # the file's weights, not a fresh init
    prepared = BB.prepare(np.zeros((2, 96, 96, 3), np.uint8))  # resized uint8 NHWC, as the loaders take it
    assert prepared.shape == (2, BB.input_size, BB.input_size, 3)
    x = torch.from_numpy(prepared).permute(0, 3, 1, 2).float() / 255
    assert net(x).shape == (2, net.num_features)
    _no_standin(capsys)


def test_yolo11n_real_path(real_registry, capsys):
    import coursekit as ck
    from coursekit.models import yolo as Y

    yolo = Y.yolo_model(ck.settings(device="cpu"), "yolo11n", progress=False)
    model = yolo.model
    assert not yolo.is_standin and len(model.names) == 80
    dets = Y.predict_detections(model, np.zeros((64, 64, 3), np.uint8), conf=0.5, device="cpu")
    assert len(dets) == 1 and isinstance(dets[0], ck.Detections)
    _no_standin(capsys)


def test_clip_real_path(real_registry, capsys):
    import coursekit as ck
    from coursekit.models import clip as C

    clip = C.clip_model(ck.settings(device="cpu"), name="ViT-B-32", progress=False)
    assert not clip.is_standin and clip.info["arch"] == "ViT-B-32" and clip.info["embed_dim"] == 512
    emb = C.encode_images(clip.model, clip.preprocess, np.zeros((2, 48, 48, 3), np.uint8))
    assert emb.shape == (2, 512) and np.allclose(np.linalg.norm(emb, axis=1), 1, atol=1e-4)
    _no_standin(capsys)


def test_sam_real_path(real_registry, capsys):
    import coursekit as ck
    from coursekit.models import sam as SM

    sam = SM.sam_model(ck.settings(device="cpu"), kind="vit_b", progress=False)
    assert not sam.is_standin and sam.info["img_size"] == 1024 and sam.info["params"] > 90e6
    _no_standin(capsys)


# --- the notebooks' real-path cells -----------------------------------------------------------------------------

def _cells(name: str, whole: bool):
    import nbformat

    nb = nbformat.read(ROOT / "notebooks" / f"{name}.ipynb", as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    return code if whole else [c for c in code if "real-path" in c.get("metadata", {}).get("tags", [])]


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_each_notebook_tags_its_real_path_cells_and_they_call_the_loader(name):
    cells = _cells(name, whole=False)
    assert cells, f"{name}: no cell is tagged 'real-path'"
    source = "\n".join(c.source for c in cells)
    for call in LOADERS[name]:
        assert call in source, f"{name}: the cells tagged 'real-path' never call {call}...)"
    anchor = SHRINK[name][0]
    assert anchor is None or anchor in source, f"{name}: no real-path cell defines {anchor!r}"


def _run(name: str, home: Path, index: dict, whole: bool, tmp_path: Path):
    anchor, shrink = SHRINK[name]
    r = RFA.run_notebook(ROOT / "notebooks" / f"{name}.ipynb", home, index, tmp_path / "notebooks",
                         cells=[c.source for c in _cells(name, whole)],
                         extra={anchor: shrink} if (anchor and shrink and not whole) else None, timeout=900)
    return r["errors"], r["output"]


@pytest.mark.slow
@pytest.mark.parametrize("name", NOTEBOOKS)
def test_notebook_real_path_cells_run(name, real_files, tmp_path):
    home, index = real_files
    errors, out = _run(name, home, index, whole=False, tmp_path=tmp_path)
    assert not errors, errors
    assert "STAND-IN" not in out and "STANDINS_USED 0" in out, out[-2000:]


@pytest.mark.skipif(not os.environ.get("COURSEKIT_REAL_PATH_FULL"), reason="set COURSEKIT_REAL_PATH_FULL=1 (15 min)")
def test_whole_notebooks_on_the_real_files(real_files, tmp_path):
    home, index = real_files
    for name in NOTEBOOKS:  # in order: 05 reads 02's and 03's outputs from runs/
        errors, out = _run(name, home, index, whole=True, tmp_path=tmp_path)
        assert all(e[1] == "FloorNotMet" for e in errors), (name, errors)
        assert "STAND-IN" not in out, name
