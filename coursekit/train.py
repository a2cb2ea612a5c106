"""Training and evaluation: ``fit``, checkpoints that survive a crash, ``predict`` and ``evaluate``.

>>> import torch
>>> from coursekit.models import create_model
>>> from coursekit.data.loaders import TensorLoader
>>> _ = torch.manual_seed(0)
>>> loader = TensorLoader(torch.rand(16, 3, 32, 32), torch.arange(16) % 2, batch_size=8)
>>> model = create_model("simple_cnn", num_classes=2, width=8)
>>> optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
>>> history = fit(model, loader, epochs=2, optimizer=optimizer, device="cpu", progress=False)
>>> history["epoch"], sorted(evaluate(model, loader))
([1, 2], ['accuracy', 'loss', 'n'])
"""
from __future__ import annotations

import io
import os
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import torch
import torch.nn as nn
from tqdm.auto import tqdm

from .config import pick_device
from .files import atomic_write_bytes
from .types import Classifications

__all__ = ["History", "fit", "CheckpointError", "save_checkpoint", "load_checkpoint", "predict", "evaluate",
           "predict_classes", "amp_dtype"]


def _plain(value: Any) -> Any:
    """Tensors and numpy scalars -> Python numbers, so a History fits in a ``weights_only`` checkpoint."""
    return value.item() if hasattr(value, "item") and getattr(value, "ndim", 0) == 0 else value


@dataclass
class History:
    """One dict per epoch: ``epoch, train_loss, train_acc, val_loss, val_acc, lr, seconds`` (``val_*`` None without
    a validation set; ``lr`` of the epoch's last step; ``seconds`` with validation).

    >>> h = History([{"epoch": 1, "val_acc": 0.5, "val_loss": 1.2}, {"epoch": 2, "val_acc": 0.7, "val_loss": 0.9}])
    >>> h["val_acc"], h.last["epoch"], h.best("val_loss")["epoch"]
    ([0.5, 0.7], 2, 2)
    """

    records: list[dict] = field(default_factory=list)

    def append(self, record: dict) -> None:
        self.records.append({k: _plain(v) for k, v in record.items()})

    def __len__(self) -> int:
        return len(self.records)

    def __getitem__(self, key: str | int):
        """``history["val_acc"]`` -> that value for every epoch; ``history[-1]`` -> one epoch's record."""
        return self.records[key] if isinstance(key, int) else [r.get(key) for r in self.records]

    @property
    def last(self) -> dict:
        """The most recent epoch's record."""
        if not self.records:
            raise ValueError("the history is empty: no epoch has finished yet")
        return self.records[-1]

    def best(self, metric: str = "val_acc") -> dict:
        """The record with the best ``metric``: lowest for names containing "loss", else highest."""
        scored = [r for r in self.records if r.get(metric) is not None]
        if not scored:
            keys = sorted(self.records[0]) if self.records else []
            raise ValueError(f"no epoch has a value for {metric!r}; keys are {keys}")
        return (min if "loss" in metric else max)(scored, key=lambda r: r[metric])

    def to_dict(self) -> dict:
        """Plain Python types only (for JSON or a ``weights_only=True`` checkpoint)."""
        return {"records": [dict(r) for r in self.records]}

    @classmethod
    def from_dict(cls, data: dict) -> "History":
        return cls([dict(r) for r in data["records"]])

    def __repr__(self) -> str:
        if not self.records:
            return "History(0 epochs)"
        shown = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in self.last.items())
        return f"History({len(self)} epochs, last: {shown})"


class CheckpointError(RuntimeError):
    """A checkpoint file cannot be read, or does not fit the model / optimizer / scheduler given."""


def _unwrap(model: nn.Module) -> nn.Module:
    """The original module behind ``torch.compile(model)`` (its state dict keys have no ``_orig_mod.``)."""
    return getattr(model, "_orig_mod", model)


def save_checkpoint(path: str | os.PathLike, model: nn.Module, optimizer: torch.optim.Optimizer | None = None,
                    scheduler: Any = None, epoch: int | None = None, history: History | None = None,
                    extra: dict | None = None) -> Path:
    """Save the training state to ``path`` **atomically**: a crash mid-save never leaves a broken file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {"model": _unwrap(model).state_dict(), "epoch": epoch, "extra": extra,
             "optimizer": optimizer.state_dict() if optimizer is not None else None,
             "scheduler": scheduler.state_dict() if scheduler is not None else None,
             "history": history.to_dict() if history is not None else None,
             "rng": {"torch": torch.get_rng_state(),
                     "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else None},
             "torch_version": str(torch.__version__)}  # str(): TorchVersion is not a plain type
    buffer = io.BytesIO()
    torch.save(state, buffer)
    return atomic_write_bytes(path, buffer.getvalue())


def _state_dict_mismatch(expected: dict, found: dict, limit: int = 10) -> list[str]:
    """Human-readable differences between the model's state dict and a checkpoint's."""

    def listed(keys: list[str]) -> str:
        return ", ".join(keys[:limit]) + (f", ... ({len(keys) - limit} more)" if len(keys) > limit else "")

    found_by = {"in the model but not the checkpoint": [k for k in expected if k not in found],
                "in the checkpoint but not the model": [k for k in found if k not in expected],
                "different shapes": [f"{k}: checkpoint {tuple(found[k].shape)} vs model {tuple(expected[k].shape)}"
                                     for k in expected if k in found and hasattr(found[k], "shape")
                                     and found[k].shape != expected[k].shape]}
    return [f"{what} ({len(keys)}): {listed(keys)}" for what, keys in found_by.items() if keys]


def load_checkpoint(path: str | os.PathLike, model: nn.Module, optimizer: torch.optim.Optimizer | None = None,
                    scheduler: Any = None, map_location: str | torch.device = "cpu") -> dict:
    """Load a :func:`save_checkpoint` file into ``model`` (and ``optimizer`` / ``scheduler`` if given)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    try:
        ckpt = torch.load(path, map_location=map_location, weights_only=True)
    except Exception as err:  # noqa: BLE001 - zip, pickle and EOF errors all mean "cannot read this file"
        lines = [line.strip() for line in str(err).splitlines() if line.strip()]
        refused = [line for line in lines if line.startswith("WeightsUnpickler error")]
        if refused:  # readable, but holds Python objects other than tensors and plain values
            raise CheckpointError(f"checkpoint {path} holds objects that the safe loader (weights_only=True) refuses "
                                  "to load; it was not written by save_checkpoint, or `extra` held more than plain "
                                  f"values ({refused[0]})") from err
        raise CheckpointError(f"cannot read checkpoint {path}: the file is truncated or corrupt "
                              f"({type(err).__name__}: {lines[0] if lines else 'no details'})") from err
    if not isinstance(ckpt, dict) or "model" not in ckpt:
        raise CheckpointError(f"{path} is not a coursekit checkpoint (no 'model' entry)")

    problems = _state_dict_mismatch(_unwrap(model).state_dict(), ckpt["model"])
    if problems:
        raise CheckpointError(f"checkpoint {path} does not match the model ({type(_unwrap(model)).__name__}):\n  "
                              + "\n  ".join(problems)
                              + "\nWas the model built with the same arguments (width, num_classes, ...)?")
    _unwrap(model).load_state_dict(ckpt["model"])

    for name, obj in (("optimizer", optimizer), ("scheduler", scheduler)):
        if obj is None:
            continue
        if ckpt.get(name) is None:
            raise CheckpointError(f"checkpoint {path} has no {name} state to load")
        try:
            obj.load_state_dict(ckpt[name])
        except (ValueError, KeyError, RuntimeError) as err:
            raise CheckpointError(f"the {name} state in {path} does not fit this {name}: {err}") from err
    return ckpt


def amp_dtype(amp: str | bool, device: torch.device) -> torch.dtype | None:
    """The autocast dtype for ``amp`` on ``device``, or ``None`` for full float32."""
    if amp in (False, None, "off"):
        return None
    if amp in (True, "auto"):
        if device.type != "cuda":
            return None
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if amp == "bf16":
        return torch.bfloat16
    if amp == "fp16":
        if device.type != "cuda":
            raise ValueError(f"amp='fp16' needs a CUDA device; this run is on {device}")
        return torch.float16
    raise ValueError(f"amp must be 'auto', 'bf16', 'fp16', 'off', True or False; got {amp!r}")


def fit(model: nn.Module, train_loader: Iterable, *, epochs: int, optimizer: torch.optim.Optimizer,
        scheduler: Any = None, label_smoothing: float = 0.0, val_loader: Iterable | None = None,
        device: str | torch.device | None = None, amp: str | bool = "auto", checkpoint: str | os.PathLike | None = None,
        resume: bool = False, progress: bool = True,
        on_epoch_end: Callable[[History], bool | None] | None = None) -> History:
    """Train ``model`` for ``epochs`` epochs and return the :class:`History`."""
    if epochs < 1:
        raise ValueError(f"epochs must be >= 1; got {epochs}")
    # ``device``, else $COURSEKIT_DEVICE, else cuda > mps > cpu
    device = torch.device(device if device is not None else pick_device(os.environ.get("COURSEKIT_DEVICE") or None))
    model.to(device)
    loss_fn = nn.CrossEntropyLoss(label_smoothing=label_smoothing)
    autocast_dtype = amp_dtype(amp, device)
    # float16 has a small range: scale the loss up so small gradients do not underflow to 0
    scaler = torch.amp.GradScaler(device.type, enabled=autocast_dtype == torch.float16)

    history, start_epoch = History(), 0
    if resume and checkpoint is None:
        raise ValueError("resume=True needs checkpoint=<path to the checkpoint file>")
    if checkpoint is not None and Path(checkpoint).exists():
        if resume:
            # to the CPU: RNG states stay CPU tensors; load_state_dict copies the rest onto the model's device
            ckpt = load_checkpoint(checkpoint, model, optimizer, scheduler, map_location="cpu")
            history = History.from_dict(ckpt["history"]) if ckpt.get("history") else History()
            start_epoch = ckpt.get("epoch") or 0
            rng = ckpt.get("rng") or {}
            if rng.get("torch") is not None:
                torch.set_rng_state(rng["torch"].cpu())
            if rng.get("cuda") is not None and device.type == "cuda":
                torch.cuda.set_rng_state_all([state.cpu() for state in rng["cuda"]])
            if scaler.is_enabled() and (ckpt.get("extra") or {}).get("scaler"):
                scaler.load_state_dict(ckpt["extra"]["scaler"])
            print(f"resuming from {checkpoint}: {start_epoch} of {epochs} epochs already done")
        else:
            print(f"note: {checkpoint} exists and resume=False; training from scratch and overwriting it")
    elif resume:
        print(f"no checkpoint at {checkpoint} yet; starting from scratch")

    for epoch in range(start_epoch, epochs):
        started = time.perf_counter()
        if hasattr(train_loader, "set_epoch"):
            train_loader.set_epoch(epoch)

        model.train()
        loss_sum = torch.zeros((), device=device)  # summed on the device: no GPU->CPU sync per batch
        correct = torch.zeros((), device=device)
        seen = 0
        bar = tqdm(train_loader, desc=f"epoch {epoch + 1}/{epochs}", disable=not progress, leave=False)
        for step, (images, labels) in enumerate(bar):
            images, labels = images.to(device, non_blocking=True), labels.to(device, non_blocking=True)
            with torch.autocast(device.type, dtype=autocast_dtype, enabled=autocast_dtype is not None):
                logits = model(images)
                loss = loss_fn(logits, labels)

            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            lr = optimizer.param_groups[0]["lr"]
            if scheduler is not None:
                scheduler.step()

            n = labels.shape[0]
            targets = labels.argmax(1) if labels.ndim > 1 else labels  # soft labels (mixup) -> class index
            loss_sum += loss.detach().float() * n
            correct += (logits.argmax(1) == targets).sum()
            seen += n
            # .item() makes the CPU wait for the GPU to finish; on a GPU, read the numbers every 10 steps only
            if progress and (device.type == "cpu" or step % 10 == 0):
                bar.set_postfix(loss=f"{loss_sum.item() / seen:.3f}", acc=f"{correct.item() / seen:.3f}")
        bar.close()
        if seen == 0:
            raise ValueError("train_loader produced no batches")

        record = {"epoch": epoch + 1, "train_loss": loss_sum.item() / seen, "train_acc": correct.item() / seen,
                  "val_loss": None, "val_acc": None, "lr": lr}
        if val_loader is not None:
            val = evaluate(model, val_loader, device=device)
            record["val_loss"], record["val_acc"] = val["loss"], val["accuracy"]
        record["seconds"] = time.perf_counter() - started
        history.append(record)
        if progress:
            tqdm.write(_summary(record, epochs))
        if checkpoint is not None:
            extra = {"scaler": scaler.state_dict()} if scaler.is_enabled() else None
            save_checkpoint(checkpoint, model, optimizer, scheduler, epoch=epoch + 1, history=history, extra=extra)
        if on_epoch_end is not None and on_epoch_end(history):
            if progress:
                tqdm.write(f"stopped early by on_epoch_end after epoch {epoch + 1}")
            break
    return history


def _summary(record: dict, epochs: int) -> str:
    """One line per epoch: ``epoch  3/24  train loss 1.234 acc 56.7%  val loss ... acc ...  lr ...  s``."""
    line = f"epoch {record['epoch']:>3}/{epochs}  train loss {record['train_loss']:.4f} acc {record['train_acc']:6.2%}"
    if record["val_loss"] is not None:
        line += f"  val loss {record['val_loss']:.4f} acc {record['val_acc']:6.2%}"
    return line + f"  lr {record['lr']:.4g}  {record['seconds']:.1f}s"


@contextmanager
def _inference(model: nn.Module, device):
    """``model`` on ``device`` (default: where its weights are), in eval and inference mode; its mode is restored."""
    param = next(model.parameters(), None)
    device = torch.device(device) if device is not None else param.device if param is not None else torch.device("cpu")
    model.to(device)
    was_training = model.training
    model.eval()
    try:
        with torch.inference_mode():
            yield device
    finally:
        model.train(was_training)


def _input_batches(data, batch_size: int) -> Iterator[torch.Tensor]:
    """Image batches from a tensor (N, C, H, W) (cut into ``batch_size`` pieces) or from a loader
    that yields ``images`` or ``(images, labels, ...)``."""
    if hasattr(data, "__array__") and not isinstance(data, torch.Tensor):  # a numpy array
        data = torch.as_tensor(data)
    if isinstance(data, torch.Tensor):
        if data.ndim != 4 or not data.is_floating_point():
            raise ValueError(f"predict needs preprocessed float images (N, C, H, W); got {data.dtype} "
                             f"{tuple(data.shape)} (wrap raw uint8 images in a TensorLoader with the training "
                             "mean/std)")
        yield from data.split(batch_size)
        return
    for batch in data:
        yield batch[0] if isinstance(batch, (tuple, list)) else batch


def _forward(model: nn.Module, images: torch.Tensor, tta_flip: bool) -> torch.Tensor:
    """Logits for ``images``; with ``tta_flip`` the mean of the logits of the images and their mirror images."""
    logits = model(images)
    return ((logits + model(images.flip(3))) / 2 if tta_flip else logits).float()


def predict(model: nn.Module, data, device: str | torch.device | None = None, tta_flip: bool = False,
            batch_size: int = 512) -> torch.Tensor:
    """Logits (N, C) on the CPU for all images in ``data`` (a loader or a preprocessed (N, C, H, W) tensor)."""
    with _inference(model, device) as device:
        outputs = [_forward(model, images.to(device, non_blocking=True), tta_flip).cpu()
                   for images in _input_batches(data, batch_size)]
    if not outputs:
        raise ValueError("predict got no images")
    return torch.cat(outputs)


def evaluate(model: nn.Module, loader: Iterable, device: str | torch.device | None = None,
             tta_flip: bool = False) -> dict:
    """Mean cross-entropy loss and accuracy of ``model`` on a loader of ``(images, labels)`` batches."""
    loss_fn = nn.CrossEntropyLoss()
    loss_sum = correct = 0.0
    seen = 0
    with _inference(model, device) as device:
        for images, labels in loader:
            images, labels = images.to(device, non_blocking=True), labels.to(device, non_blocking=True)
            logits = _forward(model, images, tta_flip)
            loss_sum += loss_fn(logits, labels).item() * labels.shape[0]
            correct += (logits.argmax(1) == labels).sum().item()
            seen += labels.shape[0]
    if seen == 0:
        raise ValueError("evaluate got an empty loader")
    return {"loss": loss_sum / seen, "accuracy": correct / seen, "n": seen}


def predict_classes(model: nn.Module, data, class_names: list[str], device: str | torch.device | None = None,
                    tta_flip: bool = False, batch_size: int = 512) -> Classifications:
    """:func:`predict`, then softmax into :class:`coursekit.types.Classifications` with ``class_names``."""
    return Classifications.from_logits(predict(model, data, device, tta_flip, batch_size), class_names)
