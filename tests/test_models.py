"""Tests for coursekit.models: the registry, ResNet-9, SimpleCNN, the ResNet-9 recipe and flip TTA."""
import pytest
import torch
import torch.nn as nn

from coursekit.models import (
    ResNet9,
    count_parameters,
    create_model,
    list_models,
    piecewise_linear,
    register_model,
    resnet9_recipe,
)
from coursekit.models import registry
from coursekit.train import predict


@pytest.mark.parametrize("width", [16, 64])
def test_resnet9_output_shape(width):
    model = create_model("resnet9", num_classes=10, width=width)
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)


def test_resnet9_other_inputs():
    gray = create_model("resnet9", num_classes=7, width=8, in_channels=1)
    assert gray(torch.randn(3, 1, 32, 32)).shape == (3, 7)
    assert gray(torch.randn(3, 1, 64, 64)).shape == (3, 7)  # global max pool: any size divisible by 8


def test_resnet9_parameter_count():
    # convs (3x3, no bias): 3*64 + 64*128 + 2*128*128 + 128*256 + 256*512 + 2*512*512 = 729,280 x 9,
    # BatchNorm: 2 per channel = 2*(64 + 3*128 + 256 + 3*512), linear 512*10 without bias.
    expected = 729_280 * 9 + 2 * (64 + 3 * 128 + 256 + 3 * 512) + 5120
    assert count_parameters(create_model("resnet9")) == expected == 6_573_120
    small = count_parameters(create_model("resnet9", width=16))
    assert 6_573_120 / 17 < small < 6_573_120 / 15  # convolutions scale with width squared


def test_resnet9_blocks_and_logit_scale():
    model = ResNet9(width=8).eval()
    names = {name for name, _ in model.named_children()}
    assert names == {"prep", "layer1", "layer2", "layer3", "pool", "flatten", "fc"}
    assert hasattr(model.layer1, "residual") and hasattr(model.layer3, "residual")
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        features = model.flatten(model.pool(model.layer3(model.layer2(model.layer1(model.prep(x))))))
        assert torch.allclose(model(x), model.fc(features) * 0.125)


def test_simple_cnn():
    model = create_model("simple_cnn", num_classes=5, width=8)
    assert model(torch.randn(4, 3, 32, 32)).shape == (4, 5)
    assert count_parameters(model) < count_parameters(create_model("resnet9", width=16))


def test_create_model_unknown_name_lists_available():
    with pytest.raises(ValueError) as err:
        create_model("resnet_nine")
    assert "resnet_nine" in str(err.value)
    assert "resnet9" in str(err.value) and "simple_cnn" in str(err.value)


def test_register_model_and_list(monkeypatch):
    monkeypatch.setattr(registry, "_MODELS", dict(registry._MODELS))  # keep the real registry clean

    @register_model
    def tiny_linear(num_classes=10):
        return nn.Linear(4, num_classes)

    @register_model(name="renamed")
    def _builder():
        return nn.Identity()

    assert "tiny_linear" in list_models() and "renamed" in list_models()
    assert list_models("tiny*") == ["tiny_linear"]
    assert create_model("tiny_linear", num_classes=3).out_features == 3
    assert isinstance(create_model("renamed"), nn.Identity)


def test_count_parameters_trainable_only():
    model = nn.Linear(10, 2)
    model.bias.requires_grad_(False)
    assert count_parameters(model) == 20
    assert count_parameters(model, trainable_only=False) == 22


def test_piecewise_linear():
    assert piecewise_linear(-1, [0, 5, 24], [0, 0.4, 0]) == 0
    assert piecewise_linear(5, [0, 5, 24], [0, 0.4, 0]) == pytest.approx(0.4)
    assert piecewise_linear(14.5, [0, 5, 24], [0, 0.4, 0]) == pytest.approx(0.2)
    assert piecewise_linear(30, [0, 5, 24], [0, 0.4, 0]) == 0


def test_resnet9_recipe_schedule():
    model = nn.Linear(4, 2)
    optimizer, scheduler = resnet9_recipe(model, steps_per_epoch=10, epochs=24)
    group = optimizer.param_groups[0]
    assert group["nesterov"] and group["momentum"] == 0.9 and group["weight_decay"] == 5e-4
    lrs = []
    for _ in range(240):
        lrs.append(group["lr"])
        optimizer.step()
        scheduler.step()
    assert lrs[0] == 0.0
    assert max(lrs) == pytest.approx(0.4) and lrs.index(max(lrs)) == 50  # peak after 5 of 24 epochs
    assert lrs[-1] == pytest.approx(0.4 / 190)  # linear decay to 0 at step 240
    with pytest.raises(ValueError, match="loss_reduction"):
        resnet9_recipe(model, 10, 24, loss_reduction="max")


def test_recipe_sum_loss_equals_mean_loss():
    """Page's form (summed loss, lr/batch, wd*batch) makes the same SGD steps as mean loss, lr, wd."""
    torch.manual_seed(0)
    x, y = torch.randn(16, 3, 16, 16), torch.randint(0, 4, (16,))
    weights = []
    for reduction in ("mean", "sum"):
        torch.manual_seed(1)
        model = create_model("simple_cnn", num_classes=4, width=4)
        optimizer, scheduler = resnet9_recipe(
            model, steps_per_epoch=5, epochs=1, batch_size=16, loss_reduction=reduction, warmup_fraction=0.2
        )
        loss_fn = nn.CrossEntropyLoss(reduction=reduction)
        for _ in range(5):
            optimizer.zero_grad()
            loss_fn(model(x), y).backward()
            optimizer.step()
            scheduler.step()
        weights.append(torch.cat([p.detach().flatten() for p in model.parameters()]))
    torch.manual_seed(1)
    initial = torch.cat([p.detach().flatten() for p in create_model("simple_cnn", num_classes=4, width=4).parameters()])
    assert not torch.allclose(weights[0], initial, atol=1e-3)  # the steps did move the weights
    assert torch.allclose(weights[0], weights[1], atol=1e-5)


def test_predict_tta_flip_averages_the_two_views():
    torch.manual_seed(0)
    model = create_model("resnet9", num_classes=10, width=8).eval()
    x = torch.randn(5, 3, 32, 32)
    plain = predict(model, x, batch_size=2)
    mirrored = predict(model, x.flip(3), batch_size=2)
    tta = predict(model, x, tta_flip=True, batch_size=2)
    assert tta.shape == (5, 10)
    assert not torch.allclose(plain, mirrored)  # the network is not mirror-symmetric...
    assert torch.allclose(tta, (plain + mirrored) / 2, atol=1e-6)  # ...and TTA averages both views


def test_predict_restores_train_mode_and_does_not_touch_batchnorm_stats():
    model = create_model("resnet9", num_classes=10, width=8).train()
    before = model.prep.bn.running_mean.clone()
    predict(model, torch.randn(4, 3, 32, 32))
    assert model.training
    assert torch.equal(model.prep.bn.running_mean, before)
