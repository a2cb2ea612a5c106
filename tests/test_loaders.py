"""Every loader of trained weights returns the one shape, a ``Loaded``; every module's settings are its table's
row for the run's profile (``module_setting``). Offline: the loaders take the course's stand-ins."""
from __future__ import annotations

import os
import warnings

import pytest
import torch
import torch.nn as nn

import coursekit as ck
from coursekit.config import Settings, module_setting
from coursekit.models.registry import Loaded


@pytest.fixture
def offline_smoke(home, monkeypatch):
    monkeypatch.setenv("COURSEKIT_OFFLINE", "1")
    monkeypatch.delenv("COURSEKIT_STANDINS", raising=False)
    for var in ("YOLO_CONFIG_DIR", "YOLO_OFFLINE", "YOLO_AUTOINSTALL"):  # offline_ultralytics sets them
        if var in os.environ:
            monkeypatch.setenv(var, os.environ[var])
        else:
            monkeypatch.delenv(var, raising=False)
    return Settings(profile="smoke", device="cpu", seed=0, home=home, offline=True)


def _load(which: str, S: Settings):
    from coursekit.models import clip, pretrain, sam, yolo

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="ultralytics was", category=RuntimeWarning)
        return {"pretrained_backbone": lambda: pretrain.pretrained_backbone(S, progress=False),
                "standin_backbone": pretrain.standin_backbone,
                "yolo_model": lambda: yolo.yolo_model(S, progress=False),
                "clip_model": lambda: clip.clip_model(S, progress=False),
                "standin_clip_model": clip.standin_clip_model,
                "sam_model": lambda: sam.sam_model(S, progress=False),
                "standin_sam": sam.standin_sam}[which]()


@pytest.mark.parametrize("which", ["pretrained_backbone", "standin_backbone", "yolo_model", "clip_model",
                                   "standin_clip_model", "sam_model", "standin_sam"])
def test_each_loader_returns_a_loaded(which, offline_smoke):
    loaded = _load(which, offline_smoke)
    assert isinstance(loaded, Loaded) and loaded.is_standin is True
    assert isinstance(loaded.name, str) and loaded.name and isinstance(loaded.info, dict)
    assert loaded.weights is not None
    model = loaded.model.model if which == "yolo_model" else loaded.model  # ultralytics' YOLO wraps the network
    assert isinstance(model, nn.Module)
    assert "model=" not in repr(loaded)  # the printout stays short: no network in it
    if "clip" in which:
        assert callable(loaded.preprocess) and callable(loaded.tokenizer)


def test_the_backbone_model_is_its_pretrained_network_and_leaves_the_random_stream(offline_smoke):
    torch.manual_seed(0)
    expected = torch.rand(3)
    torch.manual_seed(0)
    BB = ck.pretrained_backbone(offline_smoke, progress=False)
    assert torch.equal(torch.rand(3), expected)  # building BB.model drew nothing from the caller's stream
    fresh = BB.create(pretrained=True)
    assert all(torch.equal(a, b) for a, b in zip(BB.model.state_dict().values(), fresh.state_dict().values()))


def test_yolo_model_carries_its_weights(offline_smoke):
    yolo = _load("yolo_model", offline_smoke)
    assert yolo.weights == "yolo11n.yaml" and yolo.model.task == "detect" and "random weights" in yolo.name


TABLES = [("resnet9_setting", "coursekit.models", "RESNET9_SETTINGS"),
          ("transfer_setting", "coursekit.models", "TRANSFER_SETTINGS"),
          ("yolo_setting", "coursekit.models", "YOLO_SETTINGS"),
          ("deploy_setting", "coursekit.deploy", "DEPLOY_SETTINGS"),
          ("classical_setting", "coursekit.classical", "CLASSICAL_SETTINGS")]


@pytest.mark.parametrize("function, module, table", TABLES)
@pytest.mark.parametrize("profile, device", [("smoke", "cpu"), ("full", "cpu"), ("full", "cuda")])
def test_every_module_reads_its_settings_the_same_way(function, module, table, profile, device):
    import importlib

    S = Settings(profile=profile, device=device)
    rows = getattr(importlib.import_module(module), table)
    assert getattr(ck, function)(S) == module_setting(rows, S)
    assert module_setting(rows, S)["name"] in rows


def test_module_setting_picks_the_profile_row_then_the_hardware():
    table = {"smoke": dict(epochs=2), "full / GPU": dict(epochs=24), "full / CPU": dict(epochs=12)}
    assert module_setting(table, Settings(profile="smoke")) == {"name": "smoke", "epochs": 2}
    assert module_setting(table, Settings(profile="full", device="cpu"))["name"] == "full / CPU"
    assert module_setting(table, Settings(profile="full", device="mps"))["name"] == "full / GPU"
    assert ck.foundation_setting(Settings(profile="full")) == {
        **module_setting(ck.foundation.FOUNDATION_SETTINGS, Settings(profile="full")), "reduced": []}


def test_notebook_05_and_06_values_are_the_ones_they_had_inline():
    for profile in ("smoke", "full"):
        S = Settings(profile=profile)
        assert ck.deploy_setting(S) == dict(
            name=S.pick(full="full", smoke="smoke"), cls_epochs=S.pick(full=10, smoke=2),
            cls_strategy=S.pick(full="finetune", smoke="frozen"), det_epochs_if_no_checkpoint=S.pick(full=60, smoke=3),
            n_calib=S.pick(full=512, smoke=64), iters=S.pick(full=200, smoke=30), warmup=S.pick(full=20, smoke=5),
            cls_batch=32, det_batch=8, min_ratio=0.99, det_min_ratio=0.95)
        assert ck.classical_setting(S) == dict(
            name=profile, n_test=S.pick(full=300, smoke=60), ks=S.pick(full=(20, 100, 1000), smoke=(20, 100, 300)),
            steps=S.pick(full=1500, smoke=300), tiny_steps=S.pick(full=200, smoke=30),
            count_labels=S.pick(full=1000, smoke=300), sweep=(0.0, 0.25, 0.5, 0.75, 1.0),
            n_sweep=S.pick(full=150, smoke=30), tol_deg=3.0, yolo_epochs=S.pick(full=60, smoke=3))
