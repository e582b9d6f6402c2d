"""Throughput with 1, 2 and 4 runners behind a real redis-server (issue #14), against the
local backend. Generators are fakes of fixed latency per batch, so the figures measure the
queue, not a model. Not a test; run
`python -m benchmarks.scale [--latency 0.2] [--jobs 80] [--runners 1 2 4]`
(needs `redis-server` on PATH).

`--mixed` (issue #30): the same runners serving three catalogue models, each load costing
`--load-s`, against one model; a steady random mix (see `benchmarks/mixed.py`)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import statistics
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

from core.app import open_service
from core.config import Config
from core.draw.generate import Cancelled, Progress
from core.errors import JobCancelled
from core.jobs.job import GenParams, Job, Request
from core.lang.translate import IdentityTranslator, Translators
from core.queue.runner import Runner
from tests.helpers import make_config
from tests.redis_server import RedisServer


class FixedLatency:
    """Draws a batch in exactly `latency_s` (a sleep), whatever its size; a load takes
    `load_s`."""

    def __init__(self, latency_s: float, load_s: float = 0.0, model: str = "fixed-latency") -> None:
        self.latency_s = latency_s
        self.load_s = load_s
        self.model = model

    def load(self) -> None:
        time.sleep(self.load_s)

    def describe(self) -> str:
        return f"fake generator, {self.latency_s * 1000:.0f} ms per batch"

    def reload(self, model: str | None = None) -> None:
        pass

    def generate(
        self, batch: Sequence[GenParams], progress: Progress, cancelled: Cancelled
    ) -> list[tuple[Any, bool]]:
        from PIL import Image

        time.sleep(self.latency_s)
        if cancelled():
            raise JobCancelled("cancelled")
        progress(1, 1)
        return [(Image.new("RGB", (p.width, p.height)), False) for p in batch]


def config(root: Path, url: str | None, jobs: int) -> Config:
    queue = {"backend": "redis", "url": url, "claim_after_s": 5.0} if url else {}
    return make_config(
        root,
        queue=queue,
        generation={"steps": 1, "batch_size": 1},
        limits={"queue_size": jobs, "per_user_queued": jobs},
    )


@contextlib.asynccontextmanager
async def runners(url: str, n: int, latency_s: float) -> AsyncIterator[None]:
    """n runner processes, as on n machines."""
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "benchmarks.scale",
            "--serve",
            url,
            f"bench-{i}",
            "--latency",
            str(latency_s),
        )
        for i in range(n)
    ]
    try:
        yield
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            await p.wait()


async def serve(url: str, name: str, latency_s: float) -> None:
    runner = Runner(FixedLatency(latency_s), url, models=["lv-sb"], name=name, claim_after_s=5.0)
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, runner.stop)
    await runner.run()


async def run_jobs(cfg: Config, jobs: int, users: int, expect_runners: int) -> dict[str, float]:
    identity = Translators.single(IdentityTranslator())
    generator = None if cfg.queue.backend == "redis" else FixedLatency(LATENCY)
    async with open_service(cfg, generator=generator, translators=identity) as svc:
        for _ in range(400):  # up to 20 s for the runners to register through Redis
            if len([r for r in svc.worker.runners() if not r.down]) >= expect_runners:
                break
            await asyncio.sleep(0.05)
        started = time.perf_counter()
        subs = [
            await svc.handle(Request("bench", f"u{i % users}", f"u{i % users}", f"a cat {i}"))
            for i in range(jobs)
        ]
        done: list[Job] = [await s.handle.wait() for s in subs]
        elapsed = time.perf_counter() - started
        dispatch = sorted(svc.worker.metrics.dispatch_s) or [0.0]
    waits = sorted(j.wait_s or 0.0 for j in done)
    # dispatch overhead: from the worker taking the job to its result being recorded, less
    # the drawing itself (the runner's own figure)
    overhead = sorted(
        max(0.0, (j.finished_at or 0) - (j.started_at or 0) - (j.draw_s or 0)) for j in done
    )
    return {
        "jobs_per_s": jobs / elapsed,
        "wait_p50_s": statistics.median(waits),
        "wait_p99_s": waits[int(0.99 * (len(waits) - 1))],
        "overhead_p50_ms": statistics.median(overhead) * 1000,
        "overhead_p99_ms": overhead[int(0.99 * (len(overhead) - 1))] * 1000,
        "dispatch_p50_ms": statistics.median(dispatch) * 1000,
        "dispatch_p99_ms": dispatch[int(0.99 * (len(dispatch) - 1))] * 1000,
    }


LATENCY = 0.2


async def main() -> None:
    global LATENCY
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--latency", type=float, default=0.2, help="seconds per batch")
    parser.add_argument("--jobs", type=int, default=80)
    parser.add_argument("--users", type=int, default=8)
    parser.add_argument("--runners", type=int, nargs="+", default=[1, 2, 4])
    parser.add_argument("--serve", nargs=2, metavar=("URL", "NAME"), help=argparse.SUPPRESS)
    parser.add_argument("--mixed", action="store_true", help="the mixed-model run (issue #30)")
    args, rest = parser.parse_known_args()
    LATENCY = args.latency
    if args.mixed:
        from benchmarks.mixed import main as mixed

        await mixed(rest, args.latency, args.runners)
        return
    if args.serve:
        await serve(args.serve[0], args.serve[1], args.latency)
        return
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        rows.append(
            (
                "local",
                await run_jobs(config(root / "local", None, args.jobs), args.jobs, args.users, 1),
            )
        )
        server = RedisServer(root / "redis")
        server.start()
        try:
            for n in args.runners:
                async with runners(server.url, n, args.latency):
                    cfg = config(root / f"redis{n}", server.url, args.jobs)
                    rows.append(
                        (f"redis, {n} runner(s)", await run_jobs(cfg, args.jobs, args.users, n))
                    )
        finally:
            server.stop()
    base = next(r for name, r in rows if name.startswith("redis"))["jobs_per_s"]
    print(f"{args.jobs} jobs from {args.users} users, {args.latency * 1000:.0f} ms per batch")
    print(
        "| backend | jobs/s | × one runner | wait p50 / p99 (s) | dispatch p50 / p99 (ms) "
        "| round trip less drawing p50 / p99 (ms) |"
    )
    print("|---|---|---|---|---|---|")
    for name, r in rows:
        print(
            f"| {name} | {r['jobs_per_s']:.2f} | {r['jobs_per_s'] / base:.2f} | "
            f"{r['wait_p50_s']:.2f} / {r['wait_p99_s']:.2f} | "
            f"{r['dispatch_p50_ms']:.1f} / {r['dispatch_p99_ms']:.1f} | "
            f"{r['overhead_p50_ms']:.1f} / {r['overhead_p99_ms']:.1f} |"
        )


if __name__ == "__main__":
    asyncio.run(main())
