"""Transfer learning: frozen really means frozen; fine-tune and scratch train everything."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from coursekit import assets
from coursekit.models.transfer import (TransferClassifier, count_trainable, load_weights, param_groups,
                                       resnet18_backbone)


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
