"""The bot's own cost per job: Service + worker + SQLite store with a zero-cost generator
and translator. Not a test; run `python -m benchmarks.overhead [--quick]`."""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from collections.abc import Sequence
from typing import Any

from core.app import open_service
from core.config import config_from_dict
from core.draw.generate import Cancelled, Progress
from core.jobs.job import GenParams, Request
from core.lang.translate import IdentityTranslator, Translators


class ZeroGenerator:
    model = "zero"

    def load(self) -> None: ...

    def describe(self) -> str:
        return "zero-cost generator"

    def reload(self, model: str | None = None) -> None: ...

    def generate(
        self, batch: Sequence[GenParams], progress: Progress, cancelled: Cancelled
    ) -> list[tuple[Any, bool]]:
        from PIL import Image

        return [(Image.new("RGB", (8, 8)), False) for _ in batch]


def pct(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] if len(values) > 1 else values[0]


async def main(jobs: int, users: int) -> None:
    sequential: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        cfg = config_from_dict(
            {
                "storage": {"database": f"{tmp}/b.sqlite3", "images": f"{tmp}/img"},
                "generation": {"steps": 1, "width": 64, "height": 64, "batch_size": 8},
                "limits": {
                    "per_user_per_minute": 0,
                    "per_user_per_day": 0,
                    "queue_size": jobs + 1,
                    "per_user_queued": jobs + 1,
                },
            }
        )
        async with open_service(
            cfg, generator=ZeroGenerator(), translators=Translators.single(IdentityTranslator())
        ) as svc:
            latencies: list[float] = []

            async def one(i: int) -> Any:
                t0 = time.perf_counter()
                sub = await svc.handle(Request("bench", f"u{i % users}", "c", f"Rīgas balzams {i}"))
                latencies.append(time.perf_counter() - t0)
                return sub

            # one at a time: the cost of one request on an idle bot
            for i in range(min(jobs, 200)):
                await (await one(i)).handle.wait()
            sequential = [x * 1000 for x in latencies]
            latencies.clear()
            t0 = time.perf_counter()
            subs = await asyncio.gather(*(one(i) for i in range(jobs)))
            submit_s = time.perf_counter() - t0
            await asyncio.gather(*(s.handle.wait() for s in subs))
            total_s = time.perf_counter() - t0
    ms = [x * 1000 for x in latencies]
    print(f"jobs {jobs} users {users}")
    print(f"sequential submit p50 {pct(sequential, 50):.2f} ms  p99 {pct(sequential, 99):.2f} ms")
    print(f"submit p50 {pct(ms, 50):.2f} ms  p99 {pct(ms, 99):.2f} ms (queued concurrently)")
    print(f"submits/s {jobs / submit_s:.0f}   end-to-end jobs/s {jobs / total_s:.0f}")


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--jobs", type=int, default=2000)
    ap.add_argument("--users", type=int, default=50)
    a = ap.parse_args()
    asyncio.run(main(200 if a.quick else a.jobs, a.users))
