"""The pre-trained backbones of Module 2 (coursekit.models.pretrain): the stand-in, how it is made and checked,
and when the course falls back to it."""
from __future__ import annotations

import hashlib
import json
import shutil
import stat
from pathlib import Path

import numpy as np
import pytest
import torch

from coursekit.assets import AssetUnavailable
from coursekit.data.inspection import INSPECTION_CLASSES, INSPECTION_PARTS, plan_sample
from coursekit.models.pretrain import STANDIN_PARTS, Backbone, pretrained_backbone, resnet9_backbone, standin_backbone
from coursekit.models.resnet9 import ResNet9
from coursekit.config import Settings
from tools.build_pretrain_standin import PretrainRecipe, pretrain_standin, pretraining_set

STANDIN_FILE = "resnet9w8-parts-defects.pt"  # the weights file of the width-8 recipe below

TINY = PretrainRecipe(scenes=24, epochs=1, width=8)


def _sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def built(tmp_path_factory) -> Path:
    """A tiny stand-in, pre-trained once for the whole module (about 2-3 s on 2 CPU cores)."""
    return pretrain_standin(tmp_path_factory.mktemp("standin") / "s", TINY, progress=False)


# --- the architecture ----------------------------------------------------------------------------------------

def test_resnet9_backbone_features_and_weights(tmp_path):
    torch.manual_seed(0)
    net = resnet9_backbone(width=8)
    assert net.num_features == 64
    assert net(torch.zeros(2, 3, 96, 96)).shape == (2, 64)
    # a full ResNet-9 checkpoint (with its classifier) loads: the classifier is skipped
    src = ResNet9(num_classes=4, width=8)
    torch.save(src.state_dict(), tmp_path / "full.pt")
    dst = resnet9_backbone(width=8, weights=tmp_path / "full.pt")
    want = {k: v for k, v in src.state_dict().items() if not k.startswith("fc.")}
    got = dst.state_dict()
    assert set(got) == set(want) and all(torch.equal(got[k], want[k]) for k in want)
    # another width does not fit, and the error names the file
    torch.save(resnet9_backbone(width=4).state_dict(), tmp_path / "w4.pt")
    with pytest.raises(ValueError) as err:
        resnet9_backbone(width=8, weights=tmp_path / "w4.pt")
    assert str(tmp_path / "w4.pt") in str(err.value)


# --- making the stand-in -------------------------------------------------------------------------------------

@pytest.mark.slow
def test_pretrain_standin_writes_a_checked_folder(built):
    assert sorted(p.name for p in built.iterdir()) == sorted([STANDIN_FILE, "manifest.json", "README.md"])
    assert sorted(p.name for p in built.parent.iterdir()) == [built.name], "a temp or .old folder was left"
    assert stat.S_IMODE(built.stat().st_mode) == 0o755  # not mkdtemp's private 0700
    weights = built / STANDIN_FILE
    manifest = json.loads((built / "manifest.json").read_text())
    assert manifest["weights"] == STANDIN_FILE
    assert manifest["sha256"] == _sha256(weights) and manifest["size"] == weights.stat().st_size
    assert manifest["recipe"]["scenes"] == 24 and manifest["recipe"]["width"] == 8
    assert manifest["recipe"]["parts"] == list(STANDIN_PARTS)
    assert manifest["data"]["images"] == sum(manifest["data"]["per_class"].values())
    assert len(manifest["mean"]) == len(manifest["std"]) == 3
    readme = (built / "README.md").read_text()
    assert manifest["sha256"] in readme and "python -m tools.build_pretrain_standin" in readme
    assert all(p in readme for p in STANDIN_PARTS)
    # the weights hold no classifier: the backbone loads them strictly
    state = torch.load(weights, map_location="cpu", weights_only=True)
    assert not any(k.startswith("fc.") for k in state)


def test_standin_backbone_loads_the_built_folder(built):
    spec = standin_backbone(built)
    manifest = json.loads((built / "manifest.json").read_text())
    assert isinstance(spec, Backbone) and spec.is_standin
    assert spec.input_size == 96 and spec.arch == "resnet9-w8" and spec.weights == built / STANDIN_FILE
    assert len(spec.mean) == len(spec.std) == 3
    assert spec.mean == tuple(manifest["mean"]) and spec.std == tuple(manifest["std"])
    model = spec.create()
    state = torch.load(spec.weights, map_location="cpu", weights_only=True)
    got = model.state_dict()
    assert set(got) == set(state) and all(torch.equal(got[k], v) for k, v in state.items())
    assert model.num_features == 64 and model.eval()(torch.zeros(1, 3, 96, 96)).shape == (1, 64)
    fresh = spec.create(pretrained=False).state_dict()
    assert not torch.equal(fresh["prep.conv.weight"], state["prep.conv.weight"])


@pytest.mark.slow
def test_pretrain_standin_is_deterministic_and_replaces_atomically(built, tmp_path):
    out = tmp_path / "s"
    shutil.copytree(built, out)  # an existing output: the rebuild replaces it
    (out / "stray.txt").write_text("from an older build")
    pretrain_standin(out, TINY, progress=False)
    assert _sha256(out / STANDIN_FILE) == _sha256(built / STANDIN_FILE), "the same recipe gave other weights"
    assert not (out / "stray.txt").exists(), "the old folder was not replaced"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s"], "a temp or .old folder was left"
    a = json.loads((built / "manifest.json").read_text())
    b = json.loads((out / "manifest.json").read_text())
    for key in ("sha256", "mean", "std", "data", "pretrain_val_accuracy", "pretrain_train_accuracy"):
        assert a[key] == b[key], key


@pytest.mark.slow
def test_pretrain_standin_survives_a_leftover_old_folder(tmp_path):
    recipe = PretrainRecipe(scenes=8, epochs=1, width=4)
    out = pretrain_standin(tmp_path / "s", recipe, progress=False)
    leftover = tmp_path / ".s.old-99999"  # what a run killed between files.replace_dir's two renames leaves
    leftover.mkdir()
    (leftover / "x").write_text("x")
    pretrain_standin(out, recipe, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s"]


def test_tampered_or_missing_weights_are_refused(built, tmp_path):
    copy = tmp_path / "copy"
    shutil.copytree(built, copy)
    standin_backbone(copy)  # the untouched copy loads
    weights = copy / STANDIN_FILE
    data = bytearray(weights.read_bytes())
    data[len(data) // 2] ^= 0x01
    weights.write_bytes(bytes(data))
    with pytest.raises(ValueError) as err:
        standin_backbone(copy)
    msg = str(err.value)
    assert "sha256" in msg and "manifest" in msg and str(weights) in msg
    assert "git checkout" in msg and "python -m tools.build_pretrain_standin" in msg
    weights.unlink()
    with pytest.raises(FileNotFoundError, match="python -m tools.build_pretrain_standin"):
        standin_backbone(copy)


# --- the pre-training set ------------------------------------------------------------------------------------

def test_pretraining_set_images_labels_twins_and_report():
    recipe = PretrainRecipe(scenes=12)
    X, y, scene, report = pretraining_set(recipe, progress=False)
    # a defect and its twin share a scene index; scenes are in order
    assert scene.shape == y.shape and np.all(np.diff(scene) >= 0)
    assert all(scene[i + 1] == scene[i] for i in np.flatnonzero(y != 0))
    assert X.dtype == np.uint8 and X.shape == (len(y), 96, 96, 3)
    assert y.dtype == np.int64 and set(y.tolist()) <= set(range(len(INSPECTION_CLASSES)))
    # the report is what the labels say
    assert report["images"] == len(y)
    assert report["per_class"] == {c: int((y == k).sum()) for k, c in enumerate(INSPECTION_CLASSES)}
    # every scene is either rendered (once, plus a twin if defective) or counted as skipped
    plans = [plan_sample(i, "train", recipe.seed, recipe.parts) for i in range(recipe.scenes)]
    skipped = report["skipped_scenes"]
    assert set(skipped) == set(INSPECTION_CLASSES)
    n_defective = int((y != 0).sum())
    assert len(y) - n_defective + sum(skipped.values()) == recipe.scenes
    for k, c in enumerate(INSPECTION_CLASSES[1:], start=1):
        assert (y == k).sum() == sum(p.label == c for p in plans) - skipped[c]
    # twins: each defective image is followed by its defect-free twin, labelled ok
    plan_ok = sum(p.label == "ok" for p in plans) - skipped["ok"]
    assert (y == 0).sum() == plan_ok + n_defective >= n_defective
    for i in np.flatnonzero(y != 0):
        assert y[i + 1] == 0
        differs = (X[i] != X[i + 1]).any(2).mean()
        assert 0 < differs < 0.5, f"image {i} and its twin differ on {differs:.0%} of the pixels"
    # no part the inspection dataset uses
    assert not set(STANDIN_PARTS) & set(INSPECTION_PARTS)
    assert all(p.part in STANDIN_PARTS for p in plans)
    # missing holes are planned only on parts that always have holes
    assert all(p.part not in ("bolt", "knob") for p in plans if p.label == "missing_hole")
    # without twins: one image per drawable scene
    X1, y1, _, report1 = pretraining_set(PretrainRecipe(scenes=12, twins=False), progress=False)
    assert len(y1) == recipe.scenes - sum(report1["skipped_scenes"].values())
    assert (y1 == 0).sum() == plan_ok and (y1 != 0).sum() == n_defective
    assert np.array_equal(X1, X[np.r_[[i for i in range(len(y)) if i == 0 or y[i - 1] == 0 or y[i] != 0]]])


# --- which backbone a notebook gets -------------------------------------------------------------------------

@pytest.fixture
def offline(home, monkeypatch):
    monkeypatch.setenv("COURSEKIT_OFFLINE", "1")
    monkeypatch.delenv("COURSEKIT_STANDINS", raising=False)
    return lambda profile: Settings(profile=profile, device="cpu", seed=0, home=home, offline=True)


def test_offline_smoke_gets_the_announced_standin(offline, capsys):
    spec = pretrained_backbone(offline("smoke"), progress=False)
    assert spec.is_standin and spec.weights.parent.name == "pretrained_standin"
    assert "STAND-IN" in capsys.readouterr().out


def test_offline_full_stops_unless_standins_are_allowed(offline, monkeypatch, capsys):
    with pytest.raises(AssetUnavailable) as err:
        pretrained_backbone(offline("full"), progress=False)
    msg = str(err.value)
    assert "COURSEKIT_STANDINS" in msg and "coursekit fetch resnet18-imagenet" in msg
    assert err.value.reason == "COURSEKIT_OFFLINE is set"
    assert "STAND-IN" not in capsys.readouterr().out  # no silent (or loud) fallback
    monkeypatch.setenv("COURSEKIT_STANDINS", "1")
    spec = pretrained_backbone(offline("full"), progress=False)
    assert spec.is_standin and "STAND-IN" in capsys.readouterr().out


# --- Backbone.prepare ----------------------------------------------------------------------------------------

def _spec(size: int) -> Backbone:
    return Backbone.build(lambda w: resnet9_backbone(4, w), None, name="test", arch="resnet9-w4", mean=(0.5,) * 3,
                          std=(0.25,) * 3, input_size=size, is_standin=True)


def test_prepare_resizes_to_the_input_size():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (2, 96, 96, 3), dtype=np.uint8)
    for size in (128, 64):
        out = _spec(size).prepare(x)
        assert out.shape == (2, size, size, 3) and out.dtype == np.uint8
    flat = np.full((1, 96, 96, 3), 77, np.uint8)
    assert (_spec(128).prepare(flat) == 77).all()  # a resize, not a crop or a rescale of the values
    same = _spec(96).prepare(x)
    assert same.shape == x.shape and same.dtype == np.uint8 and np.array_equal(same, x)
    with pytest.raises(ValueError, match=r"\(N, H, W, 3\)"):
        _spec(128).prepare(x[..., 0])
    assert _spec(96).create(pretrained=False).num_features == 32
