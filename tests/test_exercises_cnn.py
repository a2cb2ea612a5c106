"""coursekit.exercises_cnn: notebook 01's from-scratch checks accept a right answer, name each usual mistake,
and say "not attempted" for a blank stub without raising; and the notebook wires every exercise to a check
and a hidden solution of another name.

The implementations here are the tests' own (the notebook holds the learner's and the solutions).
"""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from coursekit import exercises_cnn as X
from coursekit.exercise_base import ExerciseError

ROOT = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------- a from-scratch ResNet-9 with knobs


def make_conv_bn(bias=False, relu=True, padding=1, relu_first=False, bn=True, kernel=3):
    def conv_bn(c_in, c_out):
        conv = nn.Conv2d(c_in, c_out, kernel, padding=padding, bias=bias)
        layers = [conv] + ([nn.BatchNorm2d(c_out)] if bn else []) + ([nn.ReLU()] if relu else [])
        if relu_first and relu and bn:
            layers = [conv, nn.ReLU(), nn.BatchNorm2d(c_out)]
        return nn.Sequential(*layers)
    return conv_bn


def make_residual(conv_bn=make_conv_bn(), skip=True, relu_after=False, basic_block=False, n_convs=2):
    class Residual(nn.Module):
        def __init__(self, c):
            super().__init__()
            self.body = nn.Sequential(*[conv_bn(c, c) for _ in range(n_convs)])
            if basic_block:
                self.body[-1] = self.body[-1][:2]  # conv, bn: no ReLU before the sum

        def forward(self, x):
            y = self.body(x)
            y = x + y if skip else y
            return F.relu(y) if relu_after or basic_block else y
    return Residual


def make_resnet9(conv_bn=make_conv_bn(), residual=None, pool=nn.MaxPool2d, head_pool=nn.AdaptiveMaxPool2d,
                 scale=0.125, fc_bias=False, fixed_classes=None, pool_first=False, no_pool_layer2=False,
                 res_after_pool=True, stride_conv=False):
    Residual = residual or make_residual(conv_bn)

    class MyResNet9(nn.Module):
        def __init__(self, num_classes=10, width=64):
            super().__init__()
            w, k = width, fixed_classes or num_classes

            def stage(c_in, c_out, res, pooled=True):
                conv = conv_bn(c_in, c_out)
                if stride_conv:
                    conv[0].stride = (2, 2)
                parts = [pool(2)] if pool_first else []
                parts += [conv] + ([pool(2)] if pooled and not pool_first and not stride_conv else [])
                if res:
                    parts = parts + [Residual(c_out)] if res_after_pool else [conv, Residual(c_out), pool(2)]
                return nn.Sequential(*parts)

            self.prep = conv_bn(3, w)
            self.layer1 = stage(w, 2 * w, True)
            self.layer2 = stage(2 * w, 4 * w, False, pooled=not no_pool_layer2)
            self.layer3 = stage(4 * w, 8 * w, True)
            self.pool = head_pool(1)
            self.fc = nn.Linear(8 * w, k, bias=fc_bias)

        def forward(self, x):
            x = self.layer3(self.layer2(self.layer1(self.prep(x))))
            return self.fc(torch.flatten(self.pool(x), 1)) * scale
    return MyResNet9


def evaluate_right(model, loader):
    model.eval()
    correct = total = 0
    with torch.no_grad():
        for images, labels in loader:
            correct += (model(images).argmax(1) == labels).sum().item()
            total += len(labels)
    return correct / total


def make_evaluate(eval_mode=True, no_grad=True, per_batch=False, first_only=False, percent=False, count=False):
    def evaluate(model, loader):
        if eval_mode:
            model.eval()
        correct = total = 0
        accs = []
        with torch.set_grad_enabled(not no_grad):
            for images, labels in loader:
                hits = (model(images).argmax(1) == labels).sum().item()
                correct, total = correct + hits, total + len(labels)
                accs.append(hits / len(labels))
                if first_only:
                    break
        if count:
            return correct
        value = sum(accs) / len(accs) if per_batch else correct / total
        return 100 * value if percent else value
    return evaluate


def make_augment(mode="reflect", pad=4, flip_dim=3, high=9, same_shift=False, p_flip=0.5, global_rng=False,
                 pad_sides=(4, 4, 4, 4)):
    def augment(x, generator):
        g = None if global_rng else generator
        n = len(x)
        padded = F.pad(x, pad_sides if pad == 4 else (pad,) * 4, mode=mode)
        flip = torch.rand(n, generator=g) < p_flip
        top = torch.randint(0, high if pad == 4 else 2 * pad + 1, (n,), generator=g)
        left = torch.randint(0, high if pad == 4 else 2 * pad + 1, (n,), generator=g)
        if same_shift:
            top, left = top[:1].expand(n), left[:1].expand(n)
        if pad_sides[2] == 0:
            top = torch.zeros(n, dtype=torch.long)
        out = torch.stack([padded[i, :, top[i]:top[i] + 32, left[i]:left[i] + 32] for i in range(n)])
        return torch.where(flip[:, None, None, None], out.flip(flip_dim), out)
    return augment


def blank(*args, **kwargs):
    ...


class BlankModule(nn.Module):
    def __init__(self, *args, **kwargs):
        super().__init__()
        ...

    def forward(self, x):
        ...


def rejects(check, answer, hint):
    with pytest.raises(ExerciseError, match=hint):
        check(answer)


# ---------------------------------------------------------------------------------------------- tests


@pytest.mark.parametrize("check, right", [
    (X.check_conv_bn, make_conv_bn()), (X.check_residual, make_residual()), (X.check_resnet9, make_resnet9()),
    (X.check_evaluate, evaluate_right), (X.check_augment, make_augment()),
], ids=["conv_bn", "residual", "resnet9", "evaluate", "augment"])
def test_right_answers_pass_and_blanks_are_not_attempted(check, right, capsys):
    assert check(right) is True
    assert "✓ correct" in capsys.readouterr().out
    stub = BlankModule if check in (X.check_residual, X.check_resnet9) else blank
    assert check(stub) is False and check(None) is False
    assert "not attempted yet" in capsys.readouterr().out


def test_checks_leave_the_callers_random_state_alone():
    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    X.check_conv_bn(make_conv_bn())
    X.check_augment(make_augment())
    assert torch.equal(torch.rand(3), expected)


@pytest.mark.parametrize("wrong, hint", [
    (make_conv_bn(bias=True), "bias=True in a conv before BatchNorm"),
    (make_conv_bn(relu=False), "negative values"),
    (make_conv_bn(relu_first=True), "before the BatchNorm"),
    (make_conv_bn(padding=0), "padding=1"),
    (make_conv_bn(bn=False, bias=False), "BatchNorm is missing"),
    (make_conv_bn(kernel=5, padding=2), "3x3"),
    (lambda c_in, c_out: nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), "BatchNorm is missing"),
    (lambda c_in, c_out: [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False)], "return an nn.Module"),
])
def test_conv_bn_mistakes(wrong, hint):
    rejects(X.check_conv_bn, wrong, hint)


@pytest.mark.parametrize("wrong, hint", [
    (make_residual(skip=False), "skip connection is missing"),
    (make_residual(relu_after=True), "nothing comes after the sum"),
    (make_residual(basic_block=True), "BasicBlock"),
    (make_residual(conv_bn=make_conv_bn(relu=False)), "negative values"),
    (make_residual(n_convs=1), "two conv_bn"),
    (make_residual(conv_bn=make_conv_bn(bias=True)), "bias=True"),
    (make_residual(conv_bn=make_conv_bn(padding=0)), "keep the shape: padding=1"),
])
def test_residual_mistakes(wrong, hint):
    rejects(X.check_residual, wrong, hint)


def test_residual_with_conv_bn_unfinished_says_so():
    rejects(X.check_residual, make_residual(conv_bn=blank), "finish conv_bn")


class ListModel(nn.Module):  # layers in a plain Python list: PyTorch never sees them
    def __init__(self, num_classes=10, width=64):
        super().__init__()
        self.layers = [make_resnet9()(num_classes, width)]
        self.prep = self.layer1 = self.layer2 = self.layer3 = nn.Identity()

    def forward(self, x):
        return self.layers[0](x)


@pytest.mark.parametrize("wrong, hint", [
    (make_resnet9(conv_bn=make_conv_bn(bias=True)), "bias=True in a conv before BatchNorm"),
    (make_resnet9(fc_bias=True), "final layer has no bias"),
    (make_resnet9(conv_bn=make_conv_bn(relu=False)), "negative values"),
    (make_resnet9(conv_bn=make_conv_bn(padding=0)), "padding=1"),
    (make_resnet9(residual=make_residual(skip=False)), "lost its skip"),
    (make_resnet9(pool=nn.AvgPool2d), "max pooling"),
    (make_resnet9(pool_first=True), "after the stage's first conv_bn"),
    (make_resnet9(res_after_pool=False), "after the max pool"),
    (make_resnet9(stride_conv=True), "stride-2 conv"),
    (make_resnet9(no_pool_layer2=True), "layer2 must halve the resolution"),
    (make_resnet9(head_pool=nn.AdaptiveAvgPool2d), "global \\*max\\* pooling"),
    (make_resnet9(scale=1.0), "multiplied by 0.125"),
    (make_resnet9(fixed_classes=10), "number of classes is an argument"),
    (ListModel, "registers no parameters"),
])
def test_resnet9_mistakes(wrong, hint):
    rejects(X.check_resnet9, wrong, hint)


def test_resnet9_needs_named_stages_and_the_arguments():
    class Flat(nn.Module):
        def __init__(self, num_classes=10, width=64):
            super().__init__()
            self.net = make_resnet9()(num_classes, width)

        def forward(self, x):
            return self.net(x)

    rejects(X.check_resnet9, Flat, "self.prep, self.layer1")

    class NoWidth(nn.Module):
        def __init__(self, num_classes=10):
            super().__init__()

    rejects(X.check_resnet9, NoWidth, "def __init__\\(self, num_classes=10, width=64\\)")


@pytest.mark.slow
def test_resnet9_that_does_not_train_is_named():
    base = make_resnet9()

    class Detached(base):
        def forward(self, x):
            with torch.no_grad():
                x = self.layer3(self.layer2(self.layer1(self.prep(x))))
            return self.fc(torch.flatten(self.pool(x), 1)) * 0.125

    rejects(X.check_resnet9, Detached, "got no gradient")


@pytest.mark.parametrize("wrong, hint", [
    (make_evaluate(eval_mode=False), "forgot model.eval"),
    (make_evaluate(no_grad=False), "forgot torch.no_grad"),
    (make_evaluate(per_batch=True), "averaged the per-batch accuracies"),
    (make_evaluate(first_only=True), "every batch"),
    (make_evaluate(percent=True), "not a percentage"),
    (make_evaluate(count=True), "number of correct predictions"),
])
def test_evaluate_mistakes(wrong, hint):
    rejects(X.check_evaluate, wrong, hint)


def test_evaluate_on_the_learners_model_and_loader(capsys):
    from coursekit.data.loaders import TensorLoader
    from coursekit.models import create_model

    torch.manual_seed(0)
    model = create_model("simple_cnn", num_classes=3, width=4).train()
    loader = TensorLoader(torch.rand(20, 3, 32, 32), torch.arange(20) % 3, batch_size=8)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    assert X.check_evaluate(evaluate_right, model, loader)
    with pytest.raises(ExerciseError, match="forgot model.eval"):
        X.check_evaluate(make_evaluate(eval_mode=False), model, loader)
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())  # checks ran on a copy
    assert model.training


@pytest.mark.parametrize("wrong, hint", [
    (make_augment(mode="constant"), "zero padding"),
    (make_augment(mode="replicate"), "replicate padding"),
    (make_augment(flip_dim=2), "upside down"),
    (make_augment(high=8), "upper bound is excluded"),
    (make_augment(pad=2), "shifts stay small"),
    (make_augment(same_shift=True), "one direction never changes"),
    (make_augment(p_flip=0.0), "no image was mirrored"),
    (make_augment(p_flip=1.1), "every image was mirrored"),
    (make_augment(global_rng=True), "same generator seed"),
    (make_augment(pad_sides=(4, 4, 0, 0)), "one direction never changes"),
    (lambda x, g: F.pad(x, (4, 4, 4, 4), mode="reflect"), "did not crop back"),
    (lambda x, g: x.clone(), "unchanged"),
])
def test_augment_mistakes(wrong, hint):
    rejects(X.check_augment, wrong, hint)


def test_augment_with_tensorloaders_draws_says_so(capsys):
    from coursekit.data.loaders import batch_crop, batch_flip

    def like_tensorloader(x, g):
        flip = torch.rand(len(x), generator=g) < 0.5
        dy, dx = torch.randint(0, 9, (len(x),), generator=g), torch.randint(0, 9, (len(x),), generator=g)
        return batch_crop(batch_flip(x, flip), 4, dy, dx)

    assert X.check_augment(like_tensorloader)
    assert "the very draws TensorLoader makes" in capsys.readouterr().out


def test_reveal_shapes_compares_then_reveals(capsys):
    from coursekit.models.resnet9 import ResNet9

    model = ResNet9(10, width=16)
    actual = X.reveal_shapes([...] * 7, model)
    out = capsys.readouterr().out
    assert actual["layer1"] == (2, 32, 16, 16) and actual["fc"] == (2, 10)
    assert "not attempted yet" in out and "(2, 32, 16, 16)" in out
    right = [actual[s] for s in ["prep", "layer1", "layer2", "layer3", "pool", "flatten", "fc"]]
    X.reveal_shapes(right, model)
    assert "7 of 7 predicted right" in capsys.readouterr().out
    wrong = [(2, 16, 30, 30), (2, 32, 32, 32), (64, 8, 8), (2, 4, 4, 128), *right[4:]]
    X.reveal_shapes(wrong, model)
    out = capsys.readouterr().out
    assert "3 of 7" in out and "padding 1 keeps" in out and "halves H and W" in out
    assert "batch dimension" in out and "channels-first" in out


# ------------------------------------------------------------------------------------ the notebook


def _notebook_cells():
    nb = json.loads((ROOT / "notebooks" / "01_cnn_from_scratch.ipynb").read_text(encoding="utf-8"))
    return [c for c in nb["cells"] if c["cell_type"] == "code"]


# the exercise table (learner name, check, hidden solution) is in tests/test_exercise_inventory.py


def _defines(source: str, name: str) -> bool:
    return re.search(rf"^(def|class) {name}\b|^{name} = ", source, re.M) is not None


def test_notebook_shape_prediction_comes_before_the_reveal_and_stores_no_answer():
    cells = _notebook_cells()
    src = ["".join(c["source"]) for c in cells]
    predict = next(i for i, s in enumerate(src) if _defines(s, "my_shapes"))
    reveal = next(i for i, s in enumerate(src) if "reveal_shapes(my_shapes" in s)
    assert predict < reveal and not cells[reveal]["outputs"]


def test_notebook_touches_the_test_set_once():
    src = ["".join(c["source"]) for c in _notebook_cells()]
    # the test images and predictions: only in the cell that builds the loaders and in the one marked cell that
    # evaluates (the class-balance plot counts the test labels; that steers nothing)
    uses = [s for s in src if re.search(r"test_loader|test_set\.images|y_test|preds_test", s)]
    assert len(uses) == 2, uses
    assert any("touched once" in s.lower() for s in uses)
