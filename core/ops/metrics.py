"""Health and Prometheus metrics (prometheus-client), served on a small HTTP port.

Each `Metrics` has its own registry: one process may run several services (tests, the
composition root), and prometheus-client's default registry is a module-level global."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST

DRAW_BUCKETS = (0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300)
TRANSLATE_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5)
DISPATCH_BUCKETS = (0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5, 1)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.queue_length: Callable[[], int] = lambda: 0
        self.healthy: Callable[[], bool] = lambda: True
        self._jobs = Counter(
            "zime_jobs", "Jobs finished since start, by status.", ["status"], registry=self.registry
        )
        for status in ("done", "failed", "cancelled"):
            self._jobs.labels(status)  # present from the start, at 0
        self._draw = Histogram(
            "zime_draw_seconds",
            "Seconds one pipeline call took.",
            buckets=DRAW_BUCKETS,
            registry=self.registry,
        )
        self._translate = Histogram(
            "zime_translate_seconds",
            "Seconds one translation took.",
            buckets=TRANSLATE_BUCKETS,
            registry=self.registry,
        )
        self._dispatch = Histogram(
            "zime_dispatch_seconds",
            "Seconds from a batch leaving the queue to a runner taking it (redis backend).",
            buckets=DISPATCH_BUCKETS,
            registry=self.registry,
        )
        self.dispatch_s: list[float] = []  # the last 10 000, for benchmarks
        self._loads = Counter(
            "zime_model_loads",
            "Image model loads since start, by catalogue model (the first load included).",
            ["model"],
            registry=self.registry,
        )
        queue = Gauge("zime_queue_length", "Jobs waiting for the GPU.", registry=self.registry)
        queue.set_function(lambda: float(self.queue_length()))
        up = Gauge(
            "zime_healthy", "1 while the worker runs and the model answers.", registry=self.registry
        )
        up.set_function(lambda: float(self.healthy()))

    def model_loaded(self, model: str, count: int = 1) -> None:
        """An image model was loaded (`zime_model_loads_total{model}`, the catalogue name)."""
        self._loads.labels(model).inc(count)

    def job_finished(self, status: str) -> None:
        self._jobs.labels(str(status)).inc()

    def observe_draw(self, seconds: float) -> None:
        self._draw.observe(seconds)

    def observe_dispatch(self, seconds: float) -> None:
        self._dispatch.observe(seconds)
        self.dispatch_s = [*self.dispatch_s[-9999:], seconds]

    def observe_translate(self, seconds: float) -> None:
        self._translate.observe(seconds)

    def render(self) -> str:
        return generate_latest(self.registry).decode("utf-8")


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
            return web.Response(
                body=self.metrics.render().encode("utf-8"),
                headers={"Content-Type": CONTENT_TYPE_LATEST},
            )

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
