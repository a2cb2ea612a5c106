"""Module 1's full run: ResNet-9 on real CIFAR-10, timed. Target: >= 94% test accuracy in <= 60 s of
training on one modern GPU.

    python benchmarks/cifar10_resnet9.py                 # the full recipe (24 epochs, width 64)
    python benchmarks/cifar10_resnet9.py --runs 3        # mean and spread over 3 seeds
    python benchmarks/cifar10_resnet9.py --cpu-setting   # the stated CPU-only setting (width 32, 12 epochs)
    COURSEKIT_PROFILE=smoke python benchmarks/cifar10_resnet9.py --epochs 1 --width 8   # plumbing check

Several GPUs or machines: the same script under torchrun runs one process per GPU with
DistributedDataParallel (NCCL on GPUs, gloo on CPUs); the global batch stays --batch-size, each process
trains on its shard of every batch (batch size / number of processes) and the gradients are averaged:

    torchrun --standalone --nproc_per_node=4 benchmarks/cifar10_resnet9.py           # 4 GPUs, one machine
    torchrun --nnodes=2 --node_rank=0 --nproc_per_node=8 --rdzv_backend=c10d \
             --rdzv_endpoint=HOST0:29500 benchmarks/cifar10_resnet9.py               # on machine 0 of 2 (1 likewise)
    COURSEKIT_DEVICE=cpu torchrun --standalone --nproc_per_node=2 benchmarks/cifar10_resnet9.py  # CPU, gloo

BatchNorm is per process by default (each normalises its own shard; the running statistics are rank 0's,
which DDP broadcasts): with 64 or more images per GPU that changes nothing measurable and saves 8
all-reduces per forward pass; --sync-bn (CUDA only) converts to SyncBatchNorm, worth it only for small
per-GPU batches. Only rank 0 prints, evaluates and writes the result.

What is timed: the training loop only (all epochs, data augmentation on the device included), after a
short untimed warm-up (one short epoch of the same fit() on a throw-away model) that pays for CUDA context
creation and cuDNN autotuning (cudnn.benchmark is on); the CUDA queue is synchronised before the clock is
read. The notebook trains through the same loaders, recipe and fit(), plus a checkpoint write per epoch. Loading CIFAR-10 into memory and the final evaluation are not
timed (they are printed separately). The last line is a JSON record for reports.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time

import torch
import torch.distributed as dist
from torch.nn.parallel import DistributedDataParallel

import coursekit as ck


class Dist:
    """Where this process stands: torchrun's RANK / LOCAL_RANK / WORLD_SIZE, or one process without them."""

    def __init__(self, device: str, sync_bn: bool = False):
        self.world = int(os.environ.get("WORLD_SIZE", "1"))
        self.rank, self.local_rank = int(os.environ.get("RANK", "0")), int(os.environ.get("LOCAL_RANK", "0"))
        self.device, self.backend, self.sync_bn = device, None, sync_bn
        if sync_bn and not (self.world > 1 and device.startswith("cuda")):
            raise SystemExit("--sync-bn needs several CUDA processes (torchrun on GPUs); SyncBatchNorm has no CPU kernel")
        if self.world == 1:
            return
        if device.startswith("cuda"):
            torch.cuda.set_device(self.local_rank)  # one GPU per process
            self.device, self.backend = f"cuda:{self.local_rank}", "nccl"
        elif device == "cpu":
            self.backend = "gloo"
        else:
            raise SystemExit(f"DistributedDataParallel runs on CUDA (NCCL) or the CPU (gloo), not on {device}; "
                             "run without torchrun, or set COURSEKIT_DEVICE=cpu")
        kwargs = {"device_id": torch.device(self.device)} if self.backend == "nccl" else {}
        dist.init_process_group(backend=self.backend, **kwargs)  # MASTER_ADDR/PORT etc. from torchrun

    @property
    def main(self) -> bool:
        return self.rank == 0

    def wrap(self, model: torch.nn.Module) -> torch.nn.Module:
        if self.world == 1:
            return model
        if self.sync_bn:
            model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
        return DistributedDataParallel(model, device_ids=[self.local_rank] if self.backend == "nccl" else None)

    def mean(self, value: float) -> float:
        """The mean of ``value`` over all processes (equal shards: the mean of means is the global mean)."""
        if self.world == 1:
            return value
        t = torch.tensor([value], dtype=torch.float64, device=self.device)
        dist.all_reduce(t)
        return t.item() / self.world

    def barrier(self) -> None:
        if self.world > 1:
            dist.barrier()

    def close(self) -> None:
        if self.world > 1:
            dist.destroy_process_group()


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def one_run(args, D: Dist, train, test, seed: int) -> dict:
    ck.seed_everything(seed)  # the same seed on every process: the same initial weights and epoch plans
    device = D.device
    if device.startswith("cuda"):
        torch.backends.cudnn.benchmark = True  # let cuDNN time its kernels once per shape (the warm-up pays)
    per_process = args.batch_size // D.world
    loaders = dict(device=device, batch_size=per_process, seed=seed, rank=D.rank, world_size=D.world)
    train_loader, test_loader, _ = ck.cifar10_loaders(train, test, **loaders)

    def new_model():
        model = ck.create_model("resnet9", width=args.width).to(device)
        return model.to(memory_format=torch.channels_last) if device.startswith("cuda") else model

    # Untimed warm-up: one short epoch of the same fit() on a throw-away model pays for CUDA context
    # creation, cuDNN autotuning and the allocator, which a long run would amortise anyway.
    if args.warmup:
        few = train.subset(range(min(len(train), 8 * args.batch_size)))
        warm_loader, _, _ = ck.cifar10_loaders(few, test, **loaders)
        warm = new_model()  # not wrapped in DDP: each process warms up its own device, no communication
        opt, sched = ck.resnet9_recipe(warm, steps_per_epoch=len(warm_loader), epochs=1)
        ck.fit(warm, warm_loader, epochs=1, optimizer=opt, scheduler=sched, device=device, progress=False)
        del warm, opt, sched

    ck.seed_everything(seed)  # the same initial weights with or without the warm-up
    model = D.wrap(new_model())
    optimizer, scheduler = ck.resnet9_recipe(model, steps_per_epoch=len(train_loader), epochs=args.epochs)
    sync(device)
    D.barrier()
    t0 = time.perf_counter()
    history = ck.fit(model, train_loader, epochs=args.epochs, optimizer=optimizer, scheduler=scheduler,
                     label_smoothing=0.2, device=device, progress=D.main and not args.quiet)
    sync(device)
    D.barrier()
    train_seconds = time.perf_counter() - t0
    final_loss = D.mean(history.last["train_loss"])  # each process's history covers its own shard

    result = dict(seed=seed, train_seconds=train_seconds, final_train_loss=final_loss)
    if D.main:  # the test set is evaluated once, on rank 0, with the plain module
        net = model.module if isinstance(model, DistributedDataParallel) else model
        t1 = time.perf_counter()
        result["test_acc"] = ck.evaluate(net, test_loader, device=device)["accuracy"]
        result["test_acc_tta"] = ck.evaluate(net, test_loader, device=device, tta_flip=True)["accuracy"]
        sync(device)
        result["eval_seconds"] = time.perf_counter() - t1
        if args.save_weights:
            torch.save({k: v.detach().cpu() for k, v in net.state_dict().items()}, args.save_weights)
    D.barrier()
    return result


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    gpu = ck.models.RESNET9_SETTINGS["full / GPU"]
    p.add_argument("--epochs", type=int, default=gpu["epochs"])
    p.add_argument("--width", type=int, default=gpu["width"])
    p.add_argument("--batch-size", type=int, default=gpu["batch_size"])
    p.add_argument("--runs", type=int, default=1, help="independent runs with seeds 0, 1, ...")
    p.add_argument("--cpu-setting", action="store_true", help="notebook 01's CPU-only setting (width 32, 12 epochs)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--warmup", action=argparse.BooleanOptionalAction, default=True,
                   help="the untimed warm-up epoch before the timed run (default on)")
    p.add_argument("--n-train", type=int, default=None, help="train on a class-balanced subset of this size")
    p.add_argument("--n-test", type=int, default=None, help="evaluate on a class-balanced subset of this size")
    p.add_argument("--sync-bn", action="store_true", help="SyncBatchNorm across the processes (torchrun on GPUs only)")
    p.add_argument("--json", default=None, help="also write the JSON record to this file (rank 0)")
    p.add_argument("--save-weights", default=None, help="save the last run's final state_dict here (rank 0)")
    args = p.parse_args(argv)
    if args.cpu_setting:
        cpu = ck.models.RESNET9_SETTINGS["full / CPU"]
        args.width, args.epochs, args.batch_size = cpu["width"], cpu["epochs"], cpu["batch_size"]

    S = ck.settings()
    D = Dist(S.device, sync_bn=args.sync_bn)
    if args.batch_size % D.world:
        raise SystemExit(f"--batch-size {args.batch_size} is not divisible by the {D.world} processes")
    if not D.main:  # only rank 0 prints (the other ranks' errors still reach stderr)
        sys.stdout = open(os.devnull, "w")
    log = print
    t0 = time.perf_counter()
    train, test = ck.load_cifar10(S, n_train=args.n_train, n_test=args.n_test, progress=D.main)
    load_seconds = time.perf_counter() - t0
    device_name = torch.cuda.get_device_name(D.device) if D.device.startswith("cuda") else platform.processor() or "cpu"
    log(f"data: {train.name} ({len(train)} train / {len(test)} test, loaded in {load_seconds:.1f} s, "
        f"stand-in: {train.is_standin}) | device: {D.device} ({device_name}) | torch {torch.__version__}")
    log(f"recipe: ResNet-9 width {args.width}, {args.epochs} epochs, batch {args.batch_size}, "
        "SGD nesterov + warm-up/decay LR, label smoothing 0.2, crop+flip+cutout, flip TTA")
    if D.world > 1:
        log(f"distributed: {D.world} processes ({D.backend}), {args.batch_size // D.world} images each per step "
            f"(global batch {args.batch_size}), BatchNorm {'synced (SyncBatchNorm)' if D.sync_bn else 'per process'}")

    runs = [one_run(args, D, train, test, seed) for seed in range(args.runs)]
    D.close()
    if not D.main:
        return 0
    for r in runs:
        print(f"seed {r['seed']}: test accuracy {r['test_acc']:.2%} (flip TTA {r['test_acc_tta']:.2%}) "
              f"| training {r['train_seconds']:.1f} s | eval {r['eval_seconds']:.1f} s")
    accs = [r["test_acc_tta"] for r in runs]
    secs = [r["train_seconds"] for r in runs]
    spread = f" ± {statistics.stdev(accs):.2%}" if len(accs) > 1 else ""
    print(f"RESULT accuracy {statistics.mean(accs):.2%}{spread} | training seconds {statistics.mean(secs):.1f} "
          f"| target >= 94% in <= 60 s on one modern GPU | stand-in data: {train.is_standin}")
    record = dict(profile=S.profile, device=D.device, device_name=device_name, torch=torch.__version__,
                  width=args.width, epochs=args.epochs, batch_size=args.batch_size, standin=train.is_standin,
                  n_train=len(train), n_test=len(test), world_size=D.world, backend=D.backend,
                  per_process_batch=args.batch_size // D.world, sync_bn=D.sync_bn, warmup=args.warmup, runs=runs)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(record, f, indent=1)
    print(json.dumps(record))
    return 0


if __name__ == "__main__":
    sys.exit(main())
