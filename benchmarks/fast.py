"""Fast mode against normal drawing, and a model swap, on the full-size SD 1.5 architecture
(random weights, as `benchmarks/fullsize.py` builds them), through Zīme's own generator and
model pool (issue #29).

    python -m benchmarks.fast DIR [--skip-build] [--size 256] [--steps 25] [--fast-steps 8]

Builds DIR/sd (about 4 GB; skipped with --skip-build when it is there) and DIR/fast-lora
(a rank-64 LoRA on the UNet's attention, the shape of Hyper-SD's SD 1.5 LoRA), then in one
run: one image at SIZE² with STEPS normal steps and one with FAST-STEPS fast steps (its LoRA
active, DDIM trailing), each after a warm-up, and the ratio of seconds per image; and the
seconds a model swap costs (unloading one full-size model and loading another, a copy of
it, through `ModelPool` with max_resident = 1). Not a test and not run by CI.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path
from typing import Any

from benchmarks.fullsize import build_sd
from core.draw.generate import DiffusersGenerator
from core.draw.pool import ModelPool
from core.draw.tiny import build_fast_lora
from core.jobs.job import GenParams


def seconds_per_image(gen: DiffusersGenerator, params: GenParams) -> float:
    gen.generate([params], lambda s, t: None, lambda: False)  # warm-up
    started = time.perf_counter()
    gen.generate([params], lambda s, t: None, lambda: False)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("dir")
    parser.add_argument("--skip-build", action="store_true")
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=25)
    parser.add_argument("--fast-steps", type=int, default=8)
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    root = Path(args.dir)
    sd, lora = root / "sd", root / "fast-lora.safetensors"
    if not (args.skip_build and (sd / "model_index.json").is_file()):
        build_sd(sd)
    if not (args.skip_build and lora.is_file()):
        build_fast_lora(sd, lora, rank=64)
    gen = DiffusersGenerator(str(sd), args.device, safety_checker=False, fast_lora=str(lora))
    started = time.perf_counter()
    gen.load()
    load_s = time.perf_counter() - started
    size = args.size
    normal = GenParams("a photo of a bridge", "", 1, args.steps, 7.5, size, size, False)
    fast = GenParams(
        "a photo of a bridge", "", 1, args.fast_steps, 5.0, size, size, False, fast=True
    )
    normal_s = seconds_per_image(gen, normal)
    fast_s = seconds_per_image(gen, fast)
    # a swap: the pool holds one full-size model; drawing with the other loads it
    twin = root / "sd-twin"
    if not twin.exists():
        shutil.copytree(sd, twin)
    paths = {"a": str(sd), "b": str(twin)}
    pool = ModelPool(
        lambda name: DiffusersGenerator(paths[name], args.device, safety_checker=False),
        "a",
        paths,
        max_resident=1,
    )
    pool.load()
    one_step = GenParams("a bridge", "", 1, 1, 7.5, size, size, False, model="b")
    started = time.perf_counter()
    pool.generate([one_step], lambda s, t: None, lambda: False)
    swap_s = time.perf_counter() - started
    out: dict[str, Any] = {
        "device": gen.device,
        "dtype": gen.dtype,
        "size": size,
        "load_s": round(load_s, 1),
        "normal": {"steps": args.steps, "s_per_image": round(normal_s, 2)},
        "fast": {"steps": args.fast_steps, "s_per_image": round(fast_s, 2)},
        "speedup": round(normal_s / fast_s, 2),
        "swap_s_including_one_step": round(swap_s, 1),
        "loads": pool.loads,
    }
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
