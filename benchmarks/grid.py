"""What a 4-image grid costs against 4 single images (issue #13), through Zīme's own
generator on the tiny models (CPU) — or a GPU when one is lent. Not a test; run
`python -m benchmarks.grid [--size 64] [--steps 10] [--rounds 5]`."""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

from core.draw.generate import DiffusersGenerator
from core.jobs.job import GenParams


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--model", help="a model dir (default: tiny models built here)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        model = args.model
        if model is None:
            from core.draw.tiny import build_tiny_models

            model = str(build_tiny_models(tmp)["sd"])
        gen = DiffusersGenerator(model, device="auto")
        gen.load()
        print(gen.describe())
        grid = GenParams(
            "rigabalsam bottle on a table",
            "blurry",
            1,
            args.steps,
            7.5,
            args.size,
            args.size,
            False,
            count=4,
        )
        singles = grid.expanded()
        gen.generate(singles[:1], lambda s, t: None, lambda: False)  # warm-up
        batched, separate = [], []
        for _ in range(args.rounds):
            started = time.perf_counter()
            gen.generate(singles, lambda s, t: None, lambda: False)  # what a grid job draws
            batched.append(time.perf_counter() - started)
            started = time.perf_counter()
            for p in singles:
                gen.generate([p], lambda s, t: None, lambda: False)
            separate.append(time.perf_counter() - started)
        b, s = statistics.median(batched), statistics.median(separate)
        print(
            f"{args.size}², {args.steps} steps, median of {args.rounds}: grid of 4 in one "
            f"batch {b:.3f} s, 4 single images {s:.3f} s, ratio {s / b:.2f}×"
        )


if __name__ == "__main__":
    main()
