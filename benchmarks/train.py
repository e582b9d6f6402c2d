"""The cost of teaching a concept (issue #15) on the full-size SD 1.5 architecture with random
weights: seconds per LoRA step at a resolution, and peak GPU memory, through Zīme's own
`LoraTrainer` — then the 800-step total it implies. Not a test; for a GPU machine:

    python -m benchmarks.train DIR [--skip-build] [--steps 20] [--resolution 512]

DIR/sd is built by `benchmarks.fullsize` (about 5 GB). On a CPU it runs too (slowly) and says
so; the goal (a concept in ≤ 15 minutes on one ≤ 8 GB GPU, class images included) can only be
judged on a GPU.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import time
from pathlib import Path


def main() -> None:
    import torch
    from PIL import Image

    from benchmarks.fullsize import build_sd
    from core.train.lora import LoraTrainer, TrainOptions

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("dir")
    parser.add_argument("--skip-build", action="store_true")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--resolution", type=int, default=512)
    args = parser.parse_args()
    root = Path(args.dir)
    if not args.skip_build:
        build_sd(root / "sd")
    photos = [
        Image.effect_noise((args.resolution, args.resolution), 60 + i).convert("RGB")
        for i in range(4)
    ]
    options = TrainOptions(
        "rigasdoms",
        "building",
        steps=args.steps,
        resolution=args.resolution,
        checkpoint_every=args.steps,
    )
    shutil.rmtree(root / "bench-out", ignore_errors=True)  # a fresh run, not a resume
    trainer = LoraTrainer(str(root / "sd"), options, root / "bench-out")
    cuda = trainer.device.startswith("cuda")
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    times: list[float] = []
    last = [time.perf_counter()]

    def step_timer(line: str) -> None:
        now = time.perf_counter()
        times.append(now - last[0])
        last[0] = now

    trainer.o.checkpoint_every = args.steps + 1  # no checkpoint inside the timing
    started = time.perf_counter()
    trainer.train(photos, photos[:1], lambda s: None, lambda: step_timer(""))
    total = time.perf_counter() - started
    per_step = statistics.median(times[2:] or times)  # the first steps warm up
    peak = torch.cuda.max_memory_allocated() / 2**30 if cuda else float("nan")
    print(
        f"device {trainer.device} ({trainer.dtype}); {args.steps} steps at "
        f"{args.resolution}² with prior preservation in {total:.1f} s"
    )
    print(
        f"median {per_step:.3f} s/step → 800 steps ≈ {800 * per_step / 60:.1f} min "
        f"(class images not included); peak GPU memory {peak:.2f} GiB"
    )


if __name__ == "__main__":
    main()
