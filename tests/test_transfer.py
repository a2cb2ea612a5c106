"""Transfer learning: frozen really means frozen; fine-tune and scratch train everything; the labels curve."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from coursekit import assets
from coursekit.data.inspection import DEFAULT_COUNTS
from coursekit.data.loaders import TensorLoader
from coursekit.models.pretrain import resnet9_backbone
from coursekit.models.transfer import (STRATEGIES, TRANSFER_SETTINGS, TransferClassifier, count_trainable,
                                       fit_transfer, label_saving_factor, labels_to_reach, load_weights,
                                       param_groups, resnet18_backbone, subset_per_class, transfer_setting)
from coursekit.config import Settings


def _one_step(model, lr=0.1):
    opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=lr, momentum=0.9)
    model.train()
    x, y = torch.randn(8, 3, 32, 32), torch.randint(0, 3, (8,))
    loss = F.cross_entropy(model(x), y)
    opt.zero_grad()
    loss.backward()
    opt.step()


def test_frozen_backbone_is_really_frozen_weights_and_batchnorm_statistics():
    torch.manual_seed(0)
    model = TransferClassifier(resnet18_backbone(), num_classes=3, strategy="frozen")
    before = {k: v.clone() for k, v in model.backbone.state_dict().items()}  # params AND BN buffers
    head_before = model.head.weight.clone()
    _one_step(model)
    after = model.backbone.state_dict()
    changed = [k for k in before if not torch.equal(before[k], after[k])]
    assert changed == [], f"frozen backbone changed: {changed[:5]}"
    assert not torch.equal(head_before, model.head.weight), "the head did not learn"
    assert model.training and not model.backbone.training
    assert count_trainable(model) == 512 * 3 + 3


@pytest.mark.parametrize("strategy", ["finetune", "scratch"])
def test_finetune_and_scratch_train_the_backbone(strategy):
    torch.manual_seed(0)
    model = TransferClassifier(resnet18_backbone(), num_classes=3, strategy=strategy)
    w = model.backbone.conv1.weight.clone()
    _one_step(model)
    assert not torch.equal(w, model.backbone.conv1.weight)
    assert model.backbone.training
    assert count_trainable(model) == sum(p.numel() for p in model.parameters())


def test_param_groups_give_the_backbone_a_smaller_step():
    model = TransferClassifier(resnet18_backbone(), num_classes=3, strategy="finetune")
    groups = {g["name"]: g for g in param_groups(model, lr=0.1, backbone_lr_factor=0.1)}
    assert groups["head"]["lr"] == 0.1 and groups["backbone"]["lr"] == pytest.approx(0.01)
    frozen = TransferClassifier(resnet18_backbone(), num_classes=3, strategy="frozen")
    assert [g["name"] for g in param_groups(frozen, lr=0.1)] == ["head"]


def test_load_weights_round_trip_and_clear_mismatch(tmp_path):
    src = resnet18_backbone()
    path = tmp_path / "backbone.pt"
    torch.save({"model": src.state_dict()}, path)  # a coursekit-style checkpoint
    dst = load_weights(resnet18_backbone(), path)
    assert all(torch.equal(a, b) for a, b in zip(src.state_dict().values(), dst.state_dict().values()))
    torch.save({"conv1.weight": torch.zeros(1)}, tmp_path / "bad.pt")
    with pytest.raises(ValueError, match="size mismatch"):
        load_weights(resnet18_backbone(), tmp_path / "bad.pt")
    full = {**src.state_dict(), "fc.weight": torch.zeros(1000, 512), "fc.bias": torch.zeros(1000)}
    torch.save(full, tmp_path / "with_classifier.pt")  # like the ImageNet file: its classifier is skipped
    resnet18_backbone(tmp_path / "with_classifier.pt")
    torch.save({"fc9.weight": torch.zeros(1)}, tmp_path / "other.pt")
    with pytest.raises(ValueError, match="missing keys"):
        load_weights(resnet18_backbone(), tmp_path / "other.pt")
    with pytest.raises(FileNotFoundError):
        load_weights(resnet18_backbone(), tmp_path / "nope.pt")


def test_imagenet_weights_come_from_the_registry_offline_error(home, monkeypatch):
    monkeypatch.setenv("COURSEKIT_OFFLINE", "1")
    with pytest.raises(assets.AssetUnavailable, match="coursekit fetch resnet18-imagenet"):
        resnet18_backbone("imagenet")


def test_bad_strategy():
    with pytest.raises(ValueError, match="strategy"):
        TransferClassifier(resnet18_backbone(), 3, strategy="half")


# --- the labels curve: subsets, training runs, reading the curve ------------------------------------------

def _labels():
    return np.random.default_rng(0).permutation(np.repeat([0, 1, 2], [10, 12, 8]))


def test_subset_per_class_draws_k_of_each_class_nested_and_seeded():
    y = _labels()
    five = subset_per_class(y, 5, seed=0)
    assert np.bincount(y[five], minlength=3).tolist() == [5, 5, 5]
    assert len(set(five.tolist())) == 15 and (np.diff(five) > 0).all()
    assert np.array_equal(five, subset_per_class(y, 5, seed=0))
    three = subset_per_class(y, 3, seed=0)
    assert np.bincount(y[three], minlength=3).tolist() == [3, 3, 3]
    assert set(three.tolist()) < set(five.tolist()), "the subsets of a labels curve must be nested"
    assert not np.array_equal(five, subset_per_class(y, 5, seed=1))
    everything = subset_per_class(y, 8, seed=3)  # class 2 has exactly 8: all of them
    assert set(np.flatnonzero(y == 2).tolist()) <= set(everything.tolist())
    with pytest.raises(ValueError, match="class 2 has 8 examples, fewer than k=9"):
        subset_per_class(y, 9)
    with pytest.raises(ValueError, match="class 3 has 0"):
        subset_per_class(y, 1, num_classes=4)
    for bad in (0, -1, 2.0):
        with pytest.raises(ValueError, match="positive int"):
            subset_per_class(y, bad)


def test_labels_to_reach_reads_the_curve_in_log_k():
    ks, acc = [10, 100, 1000], [0.5, 0.9, 0.95]
    assert labels_to_reach(ks, acc, 0.9) == pytest.approx(100)
    assert labels_to_reach(ks, acc, 0.95) == pytest.approx(1000)
    assert labels_to_reach(ks, acc, 0.7) == pytest.approx(10 ** 0.5 * 10, rel=1e-6)  # 31.62
    assert labels_to_reach(ks, acc, 0.925) == pytest.approx(10 ** 2.5, rel=1e-6)
    assert labels_to_reach(ks, acc, 0.96) is None
    assert labels_to_reach(ks, acc, 0.5) == 10 and labels_to_reach(ks, acc, 0.2) == 10
    # a curve that dips is read at its first crossing
    assert labels_to_reach([1, 10, 100], [0.2, 0.8, 0.6], 0.5) == pytest.approx(10 ** 0.5, rel=1e-6)
    for bad in ([10, 10, 100], [100, 10, 1000]):
        with pytest.raises(ValueError, match="increase"):
            labels_to_reach(bad, acc, 0.7)
    with pytest.raises(ValueError, match="same length"):
        labels_to_reach([10, 100], acc, 0.7)
    with pytest.raises(ValueError):
        labels_to_reach([], [], 0.7)


def test_label_saving_factor():
    r = label_saving_factor([10, 100, 1000], [0.5, 0.9, 0.95], [0.2, 0.4, 0.7])
    assert r["target"] == 0.7 and r["scratch_labels"] == 1000
    assert r["pretrained_labels"] == pytest.approx(10 ** 1.5, rel=1e-6)
    assert r["factor"] == pytest.approx(10 ** 1.5, abs=1e-3) and r["at_least"] is False  # 1000 / 31.62
    exact = label_saving_factor([5, 50, 500], [0.8, 0.9, 0.95], [0.3, 0.6, 0.9])
    assert exact["factor"] == 10.0 and exact["pretrained_labels"] == pytest.approx(50)
    # already better than scratch's best at the smallest k: the factor is a lower bound
    low = label_saving_factor([5, 50, 500], [0.95, 0.96, 0.97], [0.3, 0.6, 0.9])
    assert low["factor"] == 100.0 and low["pretrained_labels"] == 5 and low["at_least"] is True
    # never gets there
    never = label_saving_factor([5, 50, 500], [0.3, 0.4, 0.5], [0.3, 0.6, 0.9])
    assert never["factor"] is None and never["pretrained_labels"] is None and never["at_least"] is False


def _tiny_loader():
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (16, 32, 32, 3), dtype=np.uint8)
    y = np.arange(16) % 3
    return TensorLoader(x, y, batch_size=8, shuffle=True, mean=(0.5,) * 3, std=(0.25,) * 3, seed=0)


@pytest.fixture
def one_thread():
    """Tiny networks train faster on one thread (and do not fight a busy machine's other jobs)."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def _spy_on_fit(monkeypatch):
    import coursekit.train

    seen = {}
    real_fit = coursekit.train.fit

    def spy(model, loader, **kw):
        seen["optimizer"], seen["scheduler"] = kw["optimizer"], kw["scheduler"]
        return real_fit(model, loader, **kw)

    monkeypatch.setattr(coursekit.train, "fit", spy)
    return seen


def test_fit_transfer_frozen_trains_only_the_head(monkeypatch, one_thread):
    seen = _spy_on_fit(monkeypatch)
    torch.manual_seed(0)
    model = TransferClassifier(resnet9_backbone(width=4), num_classes=3, strategy="frozen")
    before = {k: v.clone() for k, v in model.backbone.state_dict().items()}  # params AND BatchNorm buffers
    head = model.head.weight.clone()
    history = fit_transfer(model, _tiny_loader(), epochs=2, lr=0.05, device="cpu")
    assert len(history) == 2
    after = model.backbone.state_dict()
    changed = [k for k in before if not torch.equal(before[k], after[k])]
    assert changed == [], f"frozen backbone changed: {changed[:5]}"
    assert not torch.equal(head, model.head.weight), "the head did not learn"
    assert [g["name"] for g in seen["optimizer"].param_groups] == ["head"]


@pytest.mark.parametrize("strategy, factor", [("finetune", 0.1), ("scratch", 1.0)])
def test_fit_transfer_trains_the_backbone_at_its_own_rate(monkeypatch, one_thread, strategy, factor):
    seen = _spy_on_fit(monkeypatch)
    torch.manual_seed(0)
    model = TransferClassifier(resnet9_backbone(width=4), num_classes=3, strategy=strategy)
    conv = model.backbone.prep.conv.weight.clone()
    bn = model.backbone.prep.bn.running_mean.clone()
    fit_transfer(model, _tiny_loader(), epochs=2, lr=0.05, device="cpu")
    assert not torch.equal(conv, model.backbone.prep.conv.weight)
    assert not torch.equal(bn, model.backbone.prep.bn.running_mean)
    groups = {g["name"]: g for g in seen["optimizer"].param_groups}
    assert set(groups) == {"head", "backbone"}
    assert groups["head"]["max_lr"] == pytest.approx(0.05)
    assert groups["backbone"]["max_lr"] == pytest.approx(0.05 * factor)
    assert groups["backbone"]["lr"] == pytest.approx(factor * groups["head"]["lr"])  # the whole schedule
    n_backbone = sum(p.numel() for p in groups["backbone"]["params"])
    assert n_backbone == sum(p.numel() for p in model.backbone.parameters())
    assert seen["scheduler"].last_epoch == len(_tiny_loader()) * 2  # stepped once per batch, no more


def test_fit_transfer_passes_the_backbone_factor(monkeypatch, one_thread):
    seen = _spy_on_fit(monkeypatch)
    model = TransferClassifier(resnet9_backbone(width=4), num_classes=3, strategy="finetune")
    fit_transfer(model, _tiny_loader(), epochs=1, lr=0.1, backbone_lr_factor=0.2, device="cpu")
    groups = {g["name"]: g for g in seen["optimizer"].param_groups}
    assert groups["backbone"]["max_lr"] == pytest.approx(0.02)


def test_transfer_setting_follows_the_profile():
    for profile, name in (("smoke", "smoke"), ("full", "full")):
        row = transfer_setting(Settings(profile=profile, device="cpu"))
        assert row == {"name": name, **TRANSFER_SETTINGS[name]}
    assert set(TRANSFER_SETTINGS) == {"smoke", "full"}
    for name, row in TRANSFER_SETTINGS.items():
        ks = row["ks"]
        assert all(b > a for a, b in zip(ks, ks[1:])), f"{name}: ks must increase"
        assert ks[0] >= 1, f"{name}: ks must be positive"
        # smoke stays within the shipped split; beyond it the notebook renders more labelled photos
        assert name != "smoke" or max(ks) <= DEFAULT_COUNTS["train"], "smoke must not render extra photos"
        assert set(row["lr"]) == set(STRATEGIES) and len(row["seeds"]) >= 1
        assert row["steps"] >= 1 and row["min_epochs"] >= 0 and row["cycles"] >= 2
        # each cycle takes n_extra targeted and n_extra random photos from what is left of the pool
        assert 2 * row["n_extra"] * row["cycles"] <= row["pool"]
    full = TRANSFER_SETTINGS["full"]
    assert max(full["ks"]) >= 2000 and len(full["seeds"]) >= 3 and full["min_epochs"] > 0  # issue 14.2
