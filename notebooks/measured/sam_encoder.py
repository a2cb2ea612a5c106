"""SAM ViT-B's size and its image encoder's time per image on this machine (notebook 04's "Which SAM" and its CPU
budget). Untrained weights: the time does not depend on their values. One untimed warm-up, then --runs timed
forward passes of one 1024 x 1024 image (what SamPredictor.set_image runs), with torch's default thread count.
Writes sam_vit_b_encoder_<cpu|gpu>.json beside this file; tools/render_measurements.py renders it.

    python notebooks/measured/sam_encoder.py [--runs 3]
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import time
from datetime import date
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    import torch
    from segment_anything import sam_model_registry

    from coursekit.files import atomic_write_text

    gpu = torch.cuda.is_available()
    device = "cuda" if gpu else "cpu"
    sam = sam_model_registry["vit_b"]().eval().to(device)
    x = torch.randn(1, 3, 1024, 1024, device=device)
    load_before = round(os.getloadavg()[0], 2)
    times = []
    with torch.inference_mode():
        for i in range(args.runs + 1):
            t = time.perf_counter()
            sam.image_encoder(x)
            if gpu:
                torch.cuda.synchronize()
            if i:  # the first pass is the warm-up
                times.append(time.perf_counter() - t)
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=HERE, capture_output=True, text=True).stdout.strip()
    data = {"what": "SAM ViT-B (segment-anything, untrained weights): parameters, and its image encoder's time for one "
                    "1024 x 1024 image after one warm-up: notebooks/measured/sam_encoder.py",
            "date": date.today().isoformat(), "commit": commit or None,
            "machine": (torch.cuda.get_device_name(0) if gpu else f"{platform.machine()}, {os.cpu_count()} CPU cores, no GPU"),
            "torch_threads": torch.get_num_threads(), "torch": torch.__version__,
            "load_average_1min": [load_before, round(os.getloadavg()[0], 2)],
            "params": sum(p.numel() for p in sam.parameters()),
            "image_encoder_params": sum(p.numel() for p in sam.image_encoder.parameters()),
            "encoder_seconds": [round(t, 3) for t in times], "encoder_seconds_median": round(statistics.median(times), 3)}
    out = HERE / f"sam_vit_b_encoder_{'gpu' if gpu else 'cpu'}.json"
    atomic_write_text(out, json.dumps(data, indent=1) + "\n")
    print(json.dumps(data, indent=1))


if __name__ == "__main__":
    main()
