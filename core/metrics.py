"""Health and Prometheus metrics: counters kept in-process, served on a small HTTP port."""

from __future__ import annotations

import bisect
import threading
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

DRAW_BUCKETS = (0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300)
TRANSLATE_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5)


@dataclass
class Histogram:
    buckets: tuple[float, ...]
    counts: list[int] = field(default_factory=list)
    total: float = 0.0
    n: int = 0

    def __post_init__(self) -> None:
        self.counts = [0] * len(self.buckets)

    def observe(self, value: float) -> None:
        i = bisect.bisect_left(self.buckets, value)
        if i < len(self.counts):
            self.counts[i] += 1
        self.total += value
        self.n += 1

    def render(self, name: str, help_text: str) -> list[str]:
        lines = [f"# HELP {name} {help_text}", f"# TYPE {name} histogram"]
        cumulative = 0
        for bound, count in zip(self.buckets, self.counts, strict=True):
            cumulative += count
            lines.append(f'{name}_bucket{{le="{bound:g}"}} {cumulative}')
        lines += [f'{name}_bucket{{le="+Inf"}} {self.n}', f"{name}_sum {self.total:.6f}",
                  f"{name}_count {self.n}"]  # fmt: skip
        return lines


class Metrics:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.jobs: Counter[str] = Counter()
        self.draw = Histogram(DRAW_BUCKETS)
        self.translate = Histogram(TRANSLATE_BUCKETS)
        self.queue_length: Callable[[], int] = lambda: 0
        self.healthy: Callable[[], bool] = lambda: True

    def job_finished(self, status: str) -> None:
        with self._lock:
            self.jobs[status] += 1

    def observe_draw(self, seconds: float) -> None:
        with self._lock:
            self.draw.observe(seconds)

    def observe_translate(self, seconds: float) -> None:
        with self._lock:
            self.translate.observe(seconds)

    def render(self) -> str:
        with self._lock:
            lines = [
                "# HELP zime_queue_length Jobs waiting for the GPU.",
                "# TYPE zime_queue_length gauge",
                f"zime_queue_length {self.queue_length()}",
                "# HELP zime_jobs_total Jobs finished since start, by status.",
                "# TYPE zime_jobs_total counter",
            ]
            for status in ("done", "failed", "cancelled"):
                lines.append(f'zime_jobs_total{{status="{status}"}} {self.jobs[status]}')
            lines += self.draw.render("zime_draw_seconds", "Seconds one pipeline call took.")
            lines += self.translate.render(
                "zime_translate_seconds", "Seconds one translation took."
            )
        return "\n".join(lines) + "\n"


class MetricsServer:
    """`/healthz` (200 ok / 503) and `/metrics` (Prometheus text format)."""

    def __init__(self, metrics: Metrics, host: str, port: int) -> None:
        self.metrics = metrics
        self.host = host
        self.port = port
        self._runner: Any = None

    async def start(self) -> int:
        from aiohttp import web

        async def healthz(_request: web.Request) -> web.Response:
            ok = self.metrics.healthy()
            return web.Response(text="ok\n" if ok else "unhealthy\n", status=200 if ok else 503)

        async def metrics(_request: web.Request) -> web.Response:
            return web.Response(text=self.metrics.render(), content_type="text/plain",
                                charset="utf-8", headers={"X-Content-Type-Version": "0.0.4"})  # fmt: skip

        app = web.Application()
        app.router.add_get("/healthz", healthz)
        app.router.add_get("/metrics", metrics)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, self.host, self.port)
        await site.start()
        server: Any = site._server
        self.port = server.sockets[0].getsockname()[1]
        return int(self.port)

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
