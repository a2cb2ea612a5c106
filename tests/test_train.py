"""Tests for coursekit.train (fit, History, checkpoints, predict/evaluate) and coursekit.data.loaders."""
import os

import numpy as np
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from coursekit.data.loaders import (
    CIFAR10_MEAN,
    CIFAR10_STD,
    Augment,
    TensorLoader,
    batch_crop,
    channel_stats,
    batch_cutout,
)
from coursekit.models import create_model, resnet9_recipe
from coursekit.train import (
    CheckpointError,
    History,
    amp_dtype,
    evaluate,
    fit,
    load_checkpoint,
    predict,
    predict_classes,
    save_checkpoint,
)
from coursekit.types import Classifications


def random_images(n, size=16, seed=0):
    """uint8 (N, H, W, 3) images and int64 labels in [0, 4)."""
    rng = np.random.default_rng(seed)
    return rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8), rng.integers(0, 4, n)


def small_model(seed=0, num_classes=4):
    torch.manual_seed(seed)
    return create_model("simple_cnn", num_classes=num_classes, width=8)


def flat_weights(model):
    return torch.cat([t.detach().flatten().float() for t in model.state_dict().values()])


# ---------------------------------------------------------------------------------------------- fit


def test_fit_overfits_a_tiny_batch():
    images, _ = random_images(32)
    labels = np.random.default_rng(1).integers(0, 10, 32)  # random labels: only memorising can fit them
    loader = TensorLoader(images, labels, batch_size=32, mean=CIFAR10_MEAN, std=CIFAR10_STD)
    model = small_model(num_classes=10)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    history = fit(model, loader, epochs=30, optimizer=optimizer, device="cpu", progress=False)
    assert len(history) == 30
    assert history[0]["train_acc"] < 0.5
    assert history.last["train_acc"] == 1.0
    assert history.last["train_loss"] < 0.1 < history[0]["train_loss"]
    assert history.last["val_loss"] is None


def test_fit_records_validation_lr_and_progress_output(capsys):
    images, labels = random_images(64)
    train = TensorLoader(images[:48], labels[:48], batch_size=16, shuffle=True, augment=True)
    val = TensorLoader(images[48:], labels[48:], batch_size=16)
    model = small_model()
    optimizer, scheduler = resnet9_recipe(model, steps_per_epoch=len(train), epochs=2)
    history = fit(model, train, epochs=2, optimizer=optimizer, scheduler=scheduler, val_loader=val,
                  device="cpu", label_smoothing=0.2)
    assert history["epoch"] == [1, 2]
    assert set(history.last) == {"epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr", "seconds"}
    assert all(0 <= a <= 1 for a in history["val_acc"])
    assert history.last["val_acc"] == pytest.approx(evaluate(model, val)["accuracy"])
    # 6 steps, warm-up over the first 5/24 of them, then linear decay: lr = 0.4 * (1 - t) / (19 / 24)
    assert history[0]["lr"] == pytest.approx(0.4 * (1 - 2 / 6) * 24 / 19)  # epoch 1's last step is step 2
    assert history.last["lr"] == pytest.approx(0.4 * (1 - 5 / 6) * 24 / 19)
    assert "epoch   2/2  train loss" in capsys.readouterr().out  # the summary line (tqdm.write)


def test_fit_on_epoch_end_can_stop_early():
    images, labels = random_images(16)
    loader = TensorLoader(images, labels, batch_size=8)
    model = small_model()
    history = fit(model, loader, epochs=5, optimizer=torch.optim.SGD(model.parameters(), lr=0.01),
                  device="cpu", progress=False, on_epoch_end=lambda h: len(h) == 2)
    assert len(history) == 2


def test_fit_trains_in_train_mode():
    images, labels = random_images(16)
    model = small_model().eval()  # e.g. left in eval mode by an earlier evaluate()
    running_mean = model.features.block1.bn.running_mean.clone()
    history = fit(model, TensorLoader(images, labels, batch_size=8), epochs=1, device="cpu", progress=False,
                  optimizer=torch.optim.SGD(model.parameters(), lr=0.1))
    assert np.isfinite(history.last["train_loss"])
    assert not torch.equal(model.features.block1.bn.running_mean, running_mean)  # BatchNorm was in train mode


def test_amp_dtype_choices():
    cpu = torch.device("cpu")
    assert amp_dtype("auto", cpu) is None and amp_dtype(True, cpu) is None and amp_dtype(False, cpu) is None
    assert amp_dtype("bf16", cpu) is torch.bfloat16
    with pytest.raises(ValueError, match="CUDA"):
        amp_dtype("fp16", cpu)
    with pytest.raises(ValueError, match="amp must be"):
        amp_dtype("yes", cpu)


# -------------------------------------------------------------------------------------------- History


def test_history_accessors_and_round_trip(tmp_path):
    h = History()
    h.append({"epoch": 1, "train_loss": torch.tensor(2.0), "val_acc": np.float32(0.5), "val_loss": 1.5})
    h.append({"epoch": 2, "train_loss": 1.0, "val_acc": 0.75, "val_loss": 1.7})
    h.append({"epoch": 3, "train_loss": 0.5, "val_acc": 0.70, "val_loss": 1.6})
    assert h["val_acc"] == [0.5, 0.75, pytest.approx(0.70)]
    assert type(h[0]["train_loss"]) is float and type(h[0]["val_acc"]) is float  # plain python numbers
    assert h.last["epoch"] == 3
    assert h.best("val_acc")["epoch"] == 2 and h.best("val_loss")["epoch"] == 1
    assert History.from_dict(h.to_dict()) == h
    with pytest.raises(ValueError):
        History().last
    # a History must survive the weights_only=True checkpoint format
    save_checkpoint(tmp_path / "c.pt", nn.Linear(2, 2), history=h)
    assert torch.load(tmp_path / "c.pt", weights_only=True)["history"] == h.to_dict()


# ---------------------------------------------------------------------------------------- checkpoints


def test_checkpoint_round_trip(tmp_path):
    model = small_model(seed=0)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(torch.randn(4, 3, 16, 16)).sum().backward()
    optimizer.step()  # creates momentum buffers
    path = save_checkpoint(tmp_path / "sub" / "ckpt.pt", model, optimizer, epoch=3, extra={"note": "hi"})

    clone = small_model(seed=1)
    assert not torch.equal(flat_weights(clone), flat_weights(model))
    clone_opt = torch.optim.SGD(clone.parameters(), lr=0.5, momentum=0.9)
    ckpt = load_checkpoint(path, clone, clone_opt)
    assert torch.equal(flat_weights(clone), flat_weights(model))
    assert ckpt["epoch"] == 3 and ckpt["extra"] == {"note": "hi"}
    assert clone_opt.param_groups[0]["lr"] == 0.1
    first = next(iter(clone.parameters()))
    assert torch.equal(clone_opt.state[first]["momentum_buffer"], optimizer.state[next(iter(model.parameters()))]["momentum_buffer"])
    assert os.listdir(tmp_path / "sub") == ["ckpt.pt"]


def test_checkpoint_save_is_atomic(tmp_path, monkeypatch):
    path = tmp_path / "ckpt.pt"
    model = small_model(seed=0)
    save_checkpoint(path, model, epoch=1)
    good_bytes = path.read_bytes()

    def save_that_dies_halfway(obj, f, *args, **kwargs):
        f.write(b"PK\x03\x04 half a checkpoint")
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(torch, "save", save_that_dies_halfway)
    with pytest.raises(OSError, match="simulated"):
        save_checkpoint(path, small_model(seed=1), epoch=2)
    assert path.read_bytes() == good_bytes  # the old checkpoint is untouched
    assert os.listdir(tmp_path) == ["ckpt.pt"]  # and no temporary file is left behind
    monkeypatch.undo()
    assert load_checkpoint(path, small_model(seed=2))["epoch"] == 1


def test_load_checkpoint_missing_or_corrupt_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nothere.pt"):
        load_checkpoint(tmp_path / "nothere.pt", small_model())
    path = tmp_path / "ckpt.pt"
    save_checkpoint(path, small_model(), epoch=1)
    path.write_bytes(path.read_bytes()[:200])  # truncated, as by a crash without atomic saving
    with pytest.raises(CheckpointError, match="ckpt.pt.*truncated or corrupt"):
        load_checkpoint(path, small_model())
    path.write_bytes(b"this is not a checkpoint")
    with pytest.raises(CheckpointError, match="ckpt.pt"):
        load_checkpoint(path, small_model())


def test_load_checkpoint_mismatched_model_names_keys(tmp_path):
    path = tmp_path / "ckpt.pt"
    save_checkpoint(path, create_model("simple_cnn", num_classes=4, width=8))
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(path, create_model("simple_cnn", num_classes=10, width=8))
    message = str(err.value)
    assert "ckpt.pt" in message and "fc.weight" in message and "(4, 32)" in message and "(10, 32)" in message
    with pytest.raises(CheckpointError) as err:
        load_checkpoint(path, create_model("resnet9", width=8))
    assert "prep.conv.weight" in str(err.value) and "features.block1.conv.weight" in str(err.value)


def test_load_checkpoint_without_optimizer_state(tmp_path):
    path = save_checkpoint(tmp_path / "ckpt.pt", small_model())
    model = small_model()
    with pytest.raises(CheckpointError, match="no optimizer state"):
        load_checkpoint(path, model, torch.optim.SGD(model.parameters(), lr=0.1))


# -------------------------------------------------------------------------------------------- resume


def _run(tmp_path, epochs, resume, crash_after=None, seed=0):
    """Train simple_cnn with the ResNet-9 recipe on a shuffled, augmented TensorLoader (CPU)."""
    images, labels = random_images(96, seed=3)
    loader = TensorLoader(images, labels, batch_size=32, shuffle=True, augment=Augment(cutout=4), seed=5,
                          mean=CIFAR10_MEAN, std=CIFAR10_STD)
    model = small_model(seed=seed)
    optimizer, scheduler = resnet9_recipe(model, steps_per_epoch=len(loader), epochs=4, peak_lr=0.1)

    def crash(history):
        if crash_after is not None and len(history) == crash_after:
            raise KeyboardInterrupt("simulated crash")

    checkpoint = tmp_path / "run.pt" if resume is not None else None
    try:
        history = fit(model, loader, epochs=epochs, optimizer=optimizer, scheduler=scheduler, device="cpu",
                      checkpoint=checkpoint, resume=bool(resume), progress=False, on_epoch_end=crash)
    except KeyboardInterrupt:
        history = None
    return model, optimizer, history


def _without_seconds(history):
    return [{k: v for k, v in r.items() if k != "seconds"} for r in history.records]


def test_resume_gives_identical_weights_and_history(tmp_path, capsys):
    straight, straight_opt, straight_history = _run(tmp_path / "a", epochs=4, resume=None)

    _run(tmp_path / "b", epochs=4, resume=False, crash_after=2)  # dies after epoch 2's checkpoint
    assert "starting from scratch" not in capsys.readouterr().out
    resumed, resumed_opt, resumed_history = _run(tmp_path / "b", epochs=4, resume=True, seed=123)  # new objects
    assert "resuming from" in capsys.readouterr().out

    assert torch.equal(flat_weights(resumed), flat_weights(straight))
    assert _without_seconds(resumed_history) == _without_seconds(straight_history)
    assert resumed_opt.param_groups[0]["lr"] == straight_opt.param_groups[0]["lr"]


def test_resume_without_checkpoint_starts_fresh_and_says_so(tmp_path, capsys):
    _, _, history = _run(tmp_path, epochs=1, resume=True)
    assert "starting from scratch" in capsys.readouterr().out
    assert len(history) == 1 and (tmp_path / "run.pt").exists()


# ------------------------------------------------------------------------------------ predict/evaluate


def test_evaluate_predict_and_classifications_agree():
    images, labels = random_images(20)
    loader = TensorLoader(images, labels, batch_size=8)
    model = small_model()
    logits = predict(model, loader)
    assert logits.shape == (20, 4) and logits.dtype == torch.float32
    assert torch.allclose(predict(model, loader.images, batch_size=7), logits, atol=1e-6)
    assert torch.allclose(predict(model, loader.images.numpy(), batch_size=7), logits, atol=1e-6)
    with pytest.raises(ValueError, match="preprocessed float images"):
        predict(model, torch.from_numpy(images))
    result = evaluate(model, loader)
    assert result["n"] == 20
    assert result["accuracy"] == pytest.approx((logits.argmax(1) == loader.labels).float().mean().item())
    assert result["loss"] == pytest.approx(F.cross_entropy(logits, loader.labels).item(), rel=1e-5)
    classes = predict_classes(model, loader, ["a", "b", "c", "d"])
    assert isinstance(classes, Classifications) and len(classes) == 20
    assert classes.labels.tolist() == logits.argmax(1).tolist()


# ------------------------------------------------------------------------------------------ TensorLoader


def _epoch(loader, epoch):
    loader.set_epoch(epoch)
    xs, ys = zip(*loader)
    return torch.cat(xs), torch.cat(ys)


def test_tensorloader_batches_len_and_formats():
    images, labels = random_images(10)
    loader = TensorLoader(images, labels, batch_size=4)
    assert len(loader) == 3 and len(TensorLoader(images, labels, batch_size=4, drop_last=True)) == 2
    assert [len(y) for _, y in loader] == [4, 4, 2]
    x, y = _epoch(loader, 0)
    assert x.shape == (10, 3, 16, 16) and x.dtype == torch.float32 and y.dtype == torch.int64
    expected = torch.from_numpy(images).permute(0, 3, 1, 2).float() / 255
    assert torch.equal(x, expected) and y.tolist() == labels.tolist()  # no shuffle: dataset order
    # float (N, C, H, W) input in [0, 1] gives the same; normalisation uses the mean and std
    assert torch.equal(_epoch(TensorLoader(expected, labels), 0)[0], expected)
    normed = _epoch(TensorLoader(images, labels, mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25)), 0)[0]
    assert torch.allclose(normed, (expected - 0.5) / 0.25)
    half = TensorLoader(images, labels, dtype=torch.float16, channels_last=True)
    xb, _ = next(iter(half))
    assert xb.dtype == torch.float16 and xb.is_contiguous(memory_format=torch.channels_last)


def test_tensorloader_is_deterministic_per_seed_and_epoch():
    images, labels = random_images(40)

    def make(seed):
        return TensorLoader(images, labels, batch_size=16, shuffle=True, augment=Augment(cutout=4), seed=seed)

    a, b = make(0), make(0)
    xa, ya = _epoch(a, 3)
    xb, yb = _epoch(b, 3)
    assert torch.equal(xa, xb) and torch.equal(ya, yb)  # same (seed, epoch): identical batches
    x4, y4 = _epoch(a, 4)
    assert not torch.equal(y4, ya) and sorted(y4.tolist()) == sorted(ya.tolist())  # reshuffled, same data
    assert not torch.equal(_epoch(make(1), 3)[1], ya)  # another seed, another order
    # without set_epoch every loop is the next epoch
    c = make(0)
    first, second = torch.cat([y for _, y in c]), torch.cat([y for _, y in c])
    assert torch.equal(first, _epoch(a, 0)[1]) and torch.equal(second, _epoch(a, 1)[1])


def test_tensorloader_augmentation_changes_images_not_shape():
    images, labels = random_images(32)
    plain = _epoch(TensorLoader(images, labels, batch_size=8), 0)[0]
    augmented = _epoch(TensorLoader(images, labels, batch_size=8, augment=Augment(cutout=4)), 0)[0]
    assert augmented.shape == plain.shape and augmented.dtype == plain.dtype
    changed = [not torch.equal(a, p) for a, p in zip(augmented, plain)]
    assert sum(changed) >= 28  # almost every image is moved, mirrored or cut


def test_flip_and_crop_on_a_hand_made_image():
    image = torch.arange(36, dtype=torch.float32).reshape(1, 1, 6, 6)  # every pixel unique
    images = image.expand(64, 3, 6, 6).div(36).contiguous()
    labels = torch.zeros(64, dtype=torch.int64)

    flipped = _epoch(TensorLoader(images, labels, batch_size=64, augment=Augment(crop_pad=0, flip=True)), 0)[0]
    is_flipped = [torch.equal(x, images[0].flip(2)) for x in flipped]
    assert all(f or torch.equal(x, images[0]) for f, x in zip(is_flipped, flipped))
    assert 10 < sum(is_flipped) < 54  # about half

    cropped = _epoch(TensorLoader(images, labels, batch_size=64, augment=Augment(crop_pad=2, flip=False)), 0)[0]
    padded = F.pad(images[:1], (2, 2, 2, 2), mode="reflect")[0]
    windows = {(dy, dx): padded[:, dy:dy + 6, dx:dx + 6] for dy in range(5) for dx in range(5)}
    found = [next(k for k, w in windows.items() if torch.equal(w, x)) for x in cropped]  # each is a window
    assert len(set(found)) > 10  # and many different shifts occur
    # by hand: shifting down-right by one pixel, reflect padding mirrors row/column 1 into the border
    out = batch_crop(image, 1, torch.tensor([0]), torch.tensor([0]))[0, 0]
    assert out[0, 0] == image[0, 0, 1, 1] and out[1, 1] == image[0, 0, 0, 0] and out[5, 5] == image[0, 0, 4, 4]
    assert torch.equal(batch_crop(image, 1, torch.tensor([1]), torch.tensor([1])), image)  # centre = no shift
    moved = batch_crop(image, 1, torch.tensor([2]), torch.tensor([1]))[0, 0]  # window 1 row lower: image moves up
    assert torch.equal(moved[:5], image[0, 0, 1:]) and torch.equal(moved[5], image[0, 0, 4])  # reflected last row


def test_cutout_zeroes_one_square():
    x = torch.ones(2, 3, 8, 8)
    out = batch_cutout(x, 3, torch.tensor([0, 5]), torch.tensor([2, 5]))
    assert (out == 0).sum() == 2 * 3 * 9
    assert (out[0, :, 0:3, 2:5] == 0).all() and (out[1, :, 5:8, 5:8] == 0).all()
    images = np.full((16, 8, 8, 3), 200, dtype=np.uint8)
    cut = _epoch(TensorLoader(images, np.zeros(16, int), augment=Augment(crop_pad=0, flip=False, cutout=4)), 0)[0]
    assert ((cut == 0).flatten(1).sum(1) == 3 * 16).all()  # every image: one 4x4 square in all 3 channels


def test_tensorloader_input_errors():
    images, labels = random_images(8)
    labels = np.arange(8) % 4
    with pytest.raises(ValueError, match="8 images, 7 labels"):
        TensorLoader(images, labels[:7])
    with pytest.raises(ValueError, match=r"\(N, H, W, C\)"):
        TensorLoader(images[..., 0], labels)
    with pytest.raises(ValueError, match="permute"):
        TensorLoader(images.astype(np.float32) / 255, labels)  # float but NHWC
    with pytest.raises(TypeError, match="int64"):
        TensorLoader(images.astype(np.int64), labels)
    with pytest.raises(ValueError, match="integer class indices"):
        TensorLoader(images, labels.astype(np.float32))
    with pytest.raises(ValueError, match="labels must be in"):
        TensorLoader(images, labels - 1)
    with pytest.raises(ValueError, match="labels must be in"):
        TensorLoader(images, labels, num_classes=2)
    with pytest.raises(ValueError, match="one value per channel"):
        TensorLoader(images, labels, mean=(0.5,), std=(0.2,))
    with pytest.raises(ValueError, match="both mean and std"):
        TensorLoader(images, labels, mean=CIFAR10_MEAN)
    with pytest.raises(ValueError, match="batch_size"):
        TensorLoader(images, labels, batch_size=0)
    with pytest.raises(ValueError, match="too large"):
        TensorLoader(images, labels, augment=Augment(crop_pad=16))
    with pytest.raises(ValueError, match=">= 0"):
        Augment(cutout=-1)


def test_channel_stats_matches_numpy():
    images, _ = random_images(50)
    mean, std = channel_stats(images, chunk=7)
    as_float = images.astype(np.float64) / 255
    assert np.allclose(mean, as_float.mean(axis=(0, 1, 2))) and np.allclose(std, as_float.std(axis=(0, 1, 2)))
    normed = _epoch(TensorLoader(images, np.zeros(50, int), mean=mean, std=std), 0)[0]
    assert torch.allclose(normed.mean(dim=(0, 2, 3)), torch.zeros(3), atol=1e-5)
    assert torch.allclose(normed.std(dim=(0, 2, 3), correction=0), torch.ones(3), atol=1e-4)
