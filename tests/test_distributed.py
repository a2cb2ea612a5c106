"""Module 1's full run under torchrun: DistributedDataParallel on 2 CPU processes (gloo) against one process.

The sharding is checked exactly (no processes needed): the shards of every batch together are the one-process
batch with the same global batch size, with the same augmentations. The end-to-end test runs
benchmarks/cifar10_resnet9.py under ``torchrun --nproc_per_node=2`` on the stand-in and compares it with a
one-process run of the same script, same global batch, same seed.
"""
from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from coursekit.data import Augment, TensorLoader

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "benchmarks" / "cifar10_resnet9.py"
WORLD = 2
ARGS = ["--epochs", "2", "--width", "8", "--batch-size", "32", "--n-train", "256", "--n-test", "100",
        "--no-warmup", "--quiet"]

#: Tolerances of the end-to-end comparison (see test_ddp_matches_one_process).
PARAM_RTOL = 1e-3
LOSS_ATOL = 1e-4


def _loader(rank=0, world_size=1, batch_size=8, n=37):
    images = np.random.default_rng(0).integers(0, 256, (n, 8, 8, 3), dtype=np.uint8)
    return TensorLoader(images, np.arange(n) % 5, batch_size=batch_size, shuffle=True, drop_last=True,
                        augment=Augment(crop_pad=2, flip=True, cutout=3), seed=3, rank=rank, world_size=world_size)


@pytest.mark.parametrize("world_size", [2, 3])
def test_shards_of_each_batch_make_the_global_batch(world_size):
    whole = _loader(batch_size=4 * world_size)
    shards = [_loader(rank=r, world_size=world_size, batch_size=4) for r in range(world_size)]
    assert all(len(s) == len(whole) for s in shards)  # every process takes the same number of steps
    for epoch in (0, 1):
        whole.set_epoch(epoch)
        for s in shards:
            s.set_epoch(epoch)
        for (x, y), *parts in zip(whole, *shards):
            # rank r holds positions r, r + world, ... of the global batch (DistributedSampler's interleaving)
            xs = torch.stack([p[0] for p in parts], 1).flatten(0, 1)
            ys = torch.stack([p[1] for p in parts], 1).flatten(0, 1)
            assert torch.equal(xs, x) and torch.equal(ys, y)


def test_epochs_reshuffle_and_ranks_are_disjoint():
    a0, a1 = _loader(rank=0, world_size=2).epoch_plan(0)["order"], _loader(rank=1, world_size=2).epoch_plan(0)["order"]
    assert not set(a0.tolist()) & set(a1.tolist()) and len(a0) == len(a1) == 37 // 2
    assert not torch.equal(_loader(rank=0, world_size=2).epoch_plan(1)["order"], a0)
    assert "rank=1, world_size=2" in repr(_loader(rank=1, world_size=2))


def test_bad_rank_is_refused():
    with pytest.raises(ValueError, match="rank < world_size"):
        _loader(rank=2, world_size=2)


class PerShardBatchNorm(nn.Module):
    """One process's DDP training emulated in one process: BatchNorm statistics per shard of the batch.

    Rank r's shard is positions r, r + W, ... of each global batch (TensorLoader's sharding). The loss is the
    mean over the whole batch = the mean over ranks of each shard's mean, so the gradient is DDP's averaged
    gradient. DDP broadcasts rank 0's buffers before every forward pass, so the running statistics are updated
    from rank 0's shard only: each shard starts from the same buffers, rank 0 goes last and its update is kept.
    """

    def __init__(self, net: nn.Module, world: int):
        super().__init__()
        self.net, self.world = net, world

    def forward(self, x):
        if not self.training:
            return self.net(x)
        owners = [(m, name) for m in self.net.modules() for name, _ in m.named_buffers(recurse=False)]
        saved = [getattr(m, name).clone() for m, name in owners]
        outs = [None] * self.world
        for r in reversed(range(self.world)):
            for (m, name), value in zip(owners, saved):
                setattr(m, name, value.clone())  # new tensors: autograd keeps the earlier shards' ones
            outs[r] = self.net(x[r :: self.world])
        return torch.stack(outs, 1).flatten(0, 1)


def _load_script():
    spec = importlib.util.spec_from_file_location("cifar10_resnet9_under_test", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _delta(a: dict, b: dict, init: dict) -> float:
    """|a - b| over the trained parameters, relative to how far training moved them (|b - init|)."""
    keys = [k for k in b if b[k].is_floating_point()]
    num = sum(float((a[k] - b[k]).double().pow(2).sum()) for k in keys)
    den = sum(float((b[k] - init[k]).double().pow(2).sum()) for k in keys)
    return (num / den) ** 0.5


@pytest.mark.slow
def test_ddp_matches_one_process(home, tmp_path, monkeypatch, capsys):
    """2 CPU processes (gloo, torchrun) against one process, same global batch (32), seed, data and epochs.

    With the same global batch, DDP's averaged gradient is the one-process gradient up to the order of float
    sums, and TensorLoader gives both the same images with the same augmentations (tested exactly above). What
    is not the same is BatchNorm: without SyncBatchNorm (which has no CPU kernel) each process normalises its
    own 16 images, and one process normalises all 32; over a few dozen SGD steps that difference alone moves
    the weights about as far as training does. So the reference is the one-process run of the same script with
    BatchNorm computed per shard (PerShardBatchNorm), and then the two must agree to float rounding: trained
    parameters and BatchNorm buffers within PARAM_RTOL = 1e-3 of how far training moved them, and the final
    train loss (averaged over the processes) within LOSS_ATOL = 1e-4. Float rounding differences (~1e-7 per
    step, amplified over 16 steps) stay far below that; on 2 CPU processes the two even come out bitwise equal
    (averaging 2 gradients divides by 2, which is exact). A wrong shard, an unaveraged or doubled gradient, a
    wrong schedule, or the plain one-process run (BatchNorm over all 32 images) differ by the order of the
    training update itself (~1).
    """
    env = {**os.environ, "COURSEKIT_PROFILE": "smoke", "COURSEKIT_OFFLINE": "1", "COURSEKIT_HOME": str(home),
           "COURSEKIT_DEVICE": "cpu", "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    for key in ("WORLD_SIZE", "RANK", "LOCAL_RANK"):
        env.pop(key, None)
    ddp = subprocess.Popen([sys.executable, "-m", "torch.distributed.run", "--standalone",
                            f"--nproc_per_node={WORLD}", str(SCRIPT), *ARGS, "--json", str(tmp_path / "ddp.json"),
                            "--save-weights", str(tmp_path / "ddp.pt")],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
    try:
        # Meanwhile, the one-process reference in this process (torch is imported already).
        for key in ("COURSEKIT_PROFILE", "COURSEKIT_OFFLINE", "COURSEKIT_DEVICE"):
            monkeypatch.setenv(key, env[key])
        bench = _load_script()
        monkeypatch.setattr(bench.Dist, "wrap", lambda self, model: PerShardBatchNorm(model, WORLD))
        threads = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            assert bench.main([*ARGS, "--json", str(tmp_path / "one.json"), "--save-weights", str(tmp_path / "one.pt")]) == 0
        finally:
            torch.set_num_threads(threads)
        out, err = ddp.communicate(timeout=600)
    finally:
        if ddp.poll() is None:
            ddp.kill()
    assert ddp.returncode == 0, err[-3000:]
    assert "distributed: 2 processes (gloo), 16 images each per step (global batch 32)" in out
    assert out.count("RESULT accuracy") == 1  # rank 0 only

    one, two = (json.loads((tmp_path / f"{n}.json").read_text()) for n in ("one", "ddp"))
    assert (one["world_size"], two["world_size"], two["backend"], two["per_process_batch"]) == (1, 2, "gloo", 16)
    w_one = {k.removeprefix("net."): v for k, v in torch.load(tmp_path / "one.pt").items()}
    w_two = torch.load(tmp_path / "ddp.pt")
    assert set(w_one) == set(w_two)
    torch.manual_seed(0)
    init = bench.ck.create_model("resnet9", width=8).state_dict()
    delta = _delta(w_two, w_one, init)
    loss_one, loss_two = one["runs"][0]["final_train_loss"], two["runs"][0]["final_train_loss"]
    print(f"DDP vs one process: parameters differ by {delta:.2e} of the training update; "
          f"final train loss {loss_two:.6f} vs {loss_one:.6f}")
    assert delta < PARAM_RTOL
    assert abs(loss_one - loss_two) < LOSS_ATOL
