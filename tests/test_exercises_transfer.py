"""coursekit.exercises_transfer: notebook 02's fine-tuning checks accept a right answer, name each usual mistake,
and say "not attempted" for a blank stub. The implementations here are the tests' own."""
from __future__ import annotations

import pytest
import torch
import torch.nn as nn

from coursekit import exercises_transfer as X
from coursekit.exercise_base import ExerciseError


def new_head(net, num_classes):
    net.fc = nn.Linear(net.fc.in_features, num_classes)
    return net


def make_frozen(freeze=True, bn_eval=True, freeze_head=False, call_net=True, super_train=True):
    class Frozen(nn.Module):
        def __init__(self, net):
            super().__init__()
            self.net = net
            for name, p in net.named_parameters():
                p.requires_grad_((not freeze or name.startswith("fc.")) and not freeze_head)

        def train(self, mode=True):
            if super_train:
                super().train(mode)
            else:
                self.training = mode
            if bn_eval:
                for m in self.net.modules():
                    if isinstance(m, nn.BatchNorm2d):
                        m.eval()
            return self

        def forward(self, x):
            return self.net(x) if call_net else self.net.fc(torch.zeros(len(x), 512))
    return Frozen


def param_groups(net, lr, backbone_factor, swap=False, dup=False, only_convs=False, no_lr=False):
    head = list(net.fc.parameters())
    body = [p for n, p in net.named_parameters() if not n.startswith("fc.") and (not only_convs or "conv" in n)]
    if dup:
        body = list(net.parameters())
    a, b = (lr * backbone_factor, lr) if swap else (lr, lr * backbone_factor)
    groups = [{"params": head, "lr": a}, {"params": body, "lr": b}]
    if no_lr:
        del groups[1]["lr"]
    return groups


def test_right_answers_pass():
    assert X.check_new_head(new_head) is True
    assert X.check_frozen(make_frozen()) is True
    assert X.check_param_groups(param_groups) is True


def test_blank_stubs_are_not_attempted(capsys):
    def stub(net, k):
        ...

    class Stub(nn.Module):
        def __init__(self, net):
            super().__init__()
            ...

        def forward(self, x):
            ...

    assert X.check_new_head(stub) is False and X.check_frozen(Stub) is False
    assert X.check_param_groups(lambda net, lr, f: ...) is False
    assert capsys.readouterr().out.count("not attempted") == 3


@pytest.mark.parametrize("fn, words", [
    (lambda net, k: setattr(net, "fc", nn.Sequential(net.fc, nn.Linear(1000, k))) or net, "1000-way"),
    (lambda net, k: setattr(net, "fc", nn.Linear(512, 4)) or net, "num_classes"),
    (lambda net, k: new_head(__import__("torchvision").models.resnet18(weights=None), k), "pre-trained weights"),
    (lambda net, k: nn.Linear(512, k), "no Linear .fc"),
])
def test_new_head_mistakes_are_named(fn, words):
    with pytest.raises(ExerciseError, match=words):
        X.check_new_head(fn)


@pytest.mark.parametrize("kwargs, words", [
    (dict(bn_eval=False), "BatchNorm statistic"),
    (dict(freeze=False), "requires_grad=True"),
    (dict(freeze_head=True), "no parameter is trainable"),
    (dict(super_train=False), "train mode"),
])
def test_frozen_mistakes_are_named(kwargs, words):
    with pytest.raises(ExerciseError, match=words):
        X.check_frozen(make_frozen(**kwargs))


@pytest.mark.parametrize("kwargs, words", [
    (dict(swap=True), "swapped"),
    (dict(dup=True), "in two groups"),
    (dict(only_convs=True), "in no group"),
    (dict(no_lr=True), "no 'lr'"),
])
def test_param_group_mistakes_are_named(kwargs, words):
    with pytest.raises(ExerciseError, match=words):
        X.check_param_groups(lambda net, lr, f: param_groups(net, lr, f, **kwargs))


def test_coursekit_transfer_classifier_is_what_the_exercises_describe():
    """The notebook's "concise" version: ck.TransferClassifier('frozen') passes the same one-step freeze test."""
    from coursekit.models.transfer import TransferClassifier, param_groups as ck_groups
    import torchvision

    torch.manual_seed(0)
    net = torchvision.models.resnet18(weights=None)
    net.fc = nn.Identity()
    net.num_features = 512
    frozen = TransferClassifier(net, 4, strategy="frozen").train()
    stats = {k: v.clone() for k, v in frozen.backbone.named_buffers()}
    frozen(torch.randn(4, 3, 64, 64))
    assert all(torch.equal(v, stats[k]) for k, v in frozen.backbone.named_buffers())
    groups = ck_groups(TransferClassifier(net, 4, strategy="finetune"), 0.05, 0.1)
    assert [g["lr"] for g in groups] == [0.05, pytest.approx(0.005)]
