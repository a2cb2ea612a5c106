"""Module 1's full run: ResNet-9 on real CIFAR-10, timed. Target: >= 94% test accuracy in <= 60 s of
training on one modern GPU.

    python benchmarks/cifar10_resnet9.py                 # the full recipe (24 epochs, width 64)
    python benchmarks/cifar10_resnet9.py --runs 3        # mean and spread over 3 seeds
    python benchmarks/cifar10_resnet9.py --cpu-setting   # the stated CPU-only setting (width 32, 12 epochs)
    COURSEKIT_PROFILE=smoke python benchmarks/cifar10_resnet9.py --epochs 1 --width 8   # plumbing check

What is timed: the training loop only (all epochs, data augmentation on the device included), after a
short untimed warm-up (one short epoch of the same fit() on a throw-away model) that pays for CUDA context
creation and cuDNN autotuning (cudnn.benchmark is on); the CUDA queue is synchronised before the clock is
read. The notebook trains through the same loaders, recipe and fit(), plus a checkpoint write per epoch. Loading CIFAR-10 into memory and the final evaluation are not
timed (they are printed separately). The last line is a JSON record for reports.
"""
from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time

import torch

import coursekit as ck


def sync(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def one_run(args, S, train, test, seed: int) -> dict:
    ck.seed_everything(seed)
    device = S.device
    if device.startswith("cuda"):
        torch.backends.cudnn.benchmark = True  # let cuDNN time its kernels once per shape (the warm-up pays)
    train_loader, test_loader, _ = ck.cifar10_loaders(train, test, device=device, batch_size=args.batch_size,
                                                      seed=seed)

    def new_model():
        model = ck.create_model("resnet9", width=args.width).to(device)
        return model.to(memory_format=torch.channels_last) if device.startswith("cuda") else model

    # Untimed warm-up: one short epoch of the same fit() on a throw-away model pays for CUDA context
    # creation, cuDNN autotuning and the allocator, which a long run would amortise anyway.
    few = train.subset(range(min(len(train), 8 * args.batch_size)))
    warm_loader, _, _ = ck.cifar10_loaders(few, test, device=device, batch_size=args.batch_size, seed=seed)
    warm = new_model()
    opt, sched = ck.resnet9_recipe(warm, steps_per_epoch=len(warm_loader), epochs=1)
    ck.fit(warm, warm_loader, epochs=1, optimizer=opt, scheduler=sched, device=device, progress=False)
    del warm, opt, sched

    model = new_model()
    optimizer, scheduler = ck.resnet9_recipe(model, steps_per_epoch=len(train_loader), epochs=args.epochs)
    sync(device)
    t0 = time.perf_counter()
    history = ck.fit(model, train_loader, epochs=args.epochs, optimizer=optimizer, scheduler=scheduler,
                     label_smoothing=0.2, device=device, progress=not args.quiet)
    sync(device)
    train_seconds = time.perf_counter() - t0

    t1 = time.perf_counter()
    plain = ck.evaluate(model, test_loader, device=device)["accuracy"]
    tta = ck.evaluate(model, test_loader, device=device, tta_flip=True)["accuracy"]
    sync(device)
    return dict(seed=seed, train_seconds=train_seconds, eval_seconds=time.perf_counter() - t1,
                test_acc=plain, test_acc_tta=tta, final_train_loss=history.last["train_loss"])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    gpu = ck.models.RESNET9_SETTINGS["full / GPU"]
    p.add_argument("--epochs", type=int, default=gpu["epochs"])
    p.add_argument("--width", type=int, default=gpu["width"])
    p.add_argument("--batch-size", type=int, default=gpu["batch_size"])
    p.add_argument("--runs", type=int, default=1, help="independent runs with seeds 0, 1, ...")
    p.add_argument("--cpu-setting", action="store_true", help="notebook 01's CPU-only setting (width 32, 12 epochs)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    args = p.parse_args(argv)
    if args.cpu_setting:
        cpu = ck.models.RESNET9_SETTINGS["full / CPU"]
        args.width, args.epochs, args.batch_size = cpu["width"], cpu["epochs"], cpu["batch_size"]

    S = ck.settings()
    t0 = time.perf_counter()
    train, test = ck.load_cifar10(S)
    load_seconds = time.perf_counter() - t0
    device_name = torch.cuda.get_device_name(0) if S.device.startswith("cuda") else platform.processor() or "cpu"
    print(f"data: {train.name} ({len(train)} train / {len(test)} test, loaded in {load_seconds:.1f} s, "
          f"stand-in: {train.is_standin}) | device: {S.device} ({device_name}) | torch {torch.__version__}")
    print(f"recipe: ResNet-9 width {args.width}, {args.epochs} epochs, batch {args.batch_size}, "
          "SGD nesterov + warm-up/decay LR, label smoothing 0.2, crop+flip+cutout, flip TTA")

    runs = [one_run(args, S, train, test, seed) for seed in range(args.runs)]
    for r in runs:
        print(f"seed {r['seed']}: test accuracy {r['test_acc']:.2%} (flip TTA {r['test_acc_tta']:.2%}) "
              f"| training {r['train_seconds']:.1f} s | eval {r['eval_seconds']:.1f} s")
    accs = [r["test_acc_tta"] for r in runs]
    secs = [r["train_seconds"] for r in runs]
    spread = f" ± {statistics.stdev(accs):.2%}" if len(accs) > 1 else ""
    print(f"RESULT accuracy {statistics.mean(accs):.2%}{spread} | training seconds {statistics.mean(secs):.1f} "
          f"| target >= 94% in <= 60 s on one modern GPU | stand-in data: {train.is_standin}")
    record = dict(profile=S.profile, device=S.device, device_name=device_name, torch=torch.__version__,
                  width=args.width, epochs=args.epochs, batch_size=args.batch_size, standin=train.is_standin,
                  n_train=len(train), n_test=len(test), runs=runs)
    print(json.dumps(record))
    return 0


if __name__ == "__main__":
    sys.exit(main())
