"""PyTorch latency on a GPU for notebook 05 (Module 5, item 7): FP32 vs FP16 vs torch.compile, both course models,
through coursekit's own benchmark function (the one the notebook uses on the CPU). Model only, batch 1 and a
throughput batch, 20 warm-up + 200 timed calls, CUDA-synchronised. Untrained weights: latency does not depend on
their values. Writes gpu_latency.json (in $OUT or the current folder); the notebook renders the table from it.

    python notebooks/measured/gpu_latency.py        # on a machine with an NVIDIA GPU

The committed gpu_latency_h100.json was measured this way on one NVIDIA H100 80GB HBM3 (torch 2.14, 2026-11-26).
"""
import importlib, json, os, time

import numpy as np


def main():
    import torch, torchvision

    B = importlib.import_module("coursekit.deploy.benchmark")
    print(torch.__version__, torch.cuda.get_device_name(0), flush=True)
    def clf(): return torchvision.models.resnet18(num_classes=4).eval()
    def det():
        from ultralytics import YOLO
        return YOLO("yolo11n.yaml").model.fuse().eval()
    rows = []
    for name, make, size, big in (("resnet18 classifier (Module 2, full: 192 px)", clf, 192, 64),
                                  ("YOLO11n detector (Module 3, full: 320 px)", det, 320, 32),
                                  ("YOLO11n detector (640 px, COCO default)", det, 640, 32)):
        for half, comp in ((False, False), (True, False)) + (((False, True), (True, True)) if size < 640 else ()):
            torch._dynamo.reset(); t0 = time.time()
            try:
                r = B.benchmark(B.torch_runner(make(), device="cuda", half=half, compile=comp),
                                lambda b: np.random.rand(b, 3, size, size).astype(np.float32), name=name, backend="pytorch",
                                precision=("fp16" if half else "fp32") + (" + compile" if comp else ""), device="cuda",
                                batches=(1, big), warmup=20, iters=200)
                row = {"model": name, "precision": r.precision, "p50_b1_ms": round(r.latency[1].p50, 3),
                       "p99_b1_ms": round(r.latency[1].p99, 3), f"p50_b{big}_ms": round(r.latency[big].p50, 3),
                       "images_per_s": round(r.throughput, 1), "peak_gpu_mb": r.peak_gpu_mb, "timed": r.timed,
                       "wall_s": round(time.time() - t0, 1)}
            except Exception as e:
                row = {"model": name, "half": half, "compile": comp, "error": repr(e)[:400]}
            rows.append(row); print(json.dumps(row), flush=True)
    meta = {"device": torch.cuda.get_device_name(0), "torch": torch.__version__, "date": time.strftime("%Y-%m-%d"),
            "timed": "model only", "iters": 200, "warmup": 20, "source": "notebooks/measured/gpu_latency.py"}
    with open(os.path.join(os.environ.get("OUT", "."), "gpu_latency.json"), "w") as f:
        json.dump({"meta": meta, "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main()
