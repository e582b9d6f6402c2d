"""The mixed-model run of `python -m benchmarks.scale --mixed` (issue #30): 2 and 4 runner
processes behind a real redis-server, each serving three catalogue models (a fake generator:
`--load-s` per model load, `--latency` per batch), against the same runners serving one
model. A closed loop keeps `--outstanding` jobs per runner in the system, each of a model
drawn at random (a steady mix); after `--warm-s` the next `--measure-s` are measured.

Each runner serves the models in its own order (runner i starts with model i), as an
operator spreads them, and keeps `--max-resident` loaded. Prints images/s, the ratio to one
model, the p95 wait, and each runner's loads: over the whole run, and while the mix was
steady (after the warm-up). Goal: ≥ 0.8 of the one-model throughput, at most one load per
model per runner."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import random
import signal
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from benchmarks.scale import FixedLatency
from core.app import open_service
from core.config import Config
from core.draw.pool import ModelPool
from core.jobs.job import Job, Request
from core.lang.translate import IdentityTranslator, Translators
from core.queue.runner import Runner
from core.service import Service
from tests.helpers import make_config
from tests.redis_server import RedisServer

MODELS = ("m0", "m1", "m2")
CLAIM_S = 5.0


def config(root: Path, url: str, models: Sequence[str], swap_after_s: float, prefix: str) -> Config:
    catalogue = {"default": models[0], "generators": {m: {"path": f"bench/{m}"} for m in models}}
    return make_config(
        root,
        models=catalogue,
        queue={
            "backend": "redis",
            "url": url,
            "prefix": prefix,
            "claim_after_s": CLAIM_S,
            "swap_after_s": swap_after_s,
        },
        generation={"steps": 1, "batch_size": 1},
        limits={"queue_size": 10000, "per_user_queued": 10000, "per_user_per_minute": 10000},
    )


async def serve(args: argparse.Namespace) -> None:
    models = args.models.split(",")
    pool = ModelPool(
        lambda name: FixedLatency(args.latency, args.load_s, name),
        models[0],
        {m: m for m in models},
        args.max_resident,
    )
    pool.load()  # the first model, as `core runner` does before it serves
    url, name = args.serve
    runner = Runner(
        pool,
        url,
        name=name,
        prefix=args.prefix,
        claim_after_s=CLAIM_S,
        swap_after_s=args.swap_after,
    )
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, runner.stop)
    await runner.run()


@contextlib.asynccontextmanager
async def runners(
    cfg: Config, n: int, models: Sequence[str], args: argparse.Namespace
) -> AsyncIterator[None]:
    procs = []
    for i in range(n):
        order = [*models[i % len(models) :], *models[: i % len(models)]]
        procs.append(
            await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "benchmarks.mixed",
                "--serve",
                cfg.queue.url,
                f"bench-{i}",
                "--models",
                ",".join(order),
                "--latency",
                str(args.latency),
                "--load-s",
                str(args.load_s),
                "--max-resident",
                str(args.max_resident),
                "--swap-after",
                str(args.swap_after),
                "--prefix",
                cfg.queue.prefix,
            )
        )
    try:
        yield
    finally:
        for p in procs:
            p.send_signal(signal.SIGTERM)
        for p in procs:
            await p.wait()


def loads(svc: Service) -> dict[str, dict[str, int]]:
    return {r.name: dict(r.loads) for r in svc.worker.runners() if not r.down}


@dataclass
class Result:
    images_per_s: float
    wait_p95_s: float
    loads: dict[str, dict[str, int]]  # per runner, per model, over the whole run
    steady_loads: int  # loads after the warm-up, all runners together


async def closed_loop(
    svc: Service, models: Sequence[str], n: int, args: argparse.Namespace
) -> Result:
    for _ in range(600):  # the runners register and load their first model
        live = [r for r in svc.worker.runners() if not r.down and r.loaded]
        if len(live) >= n:
            break
        await asyncio.sleep(0.05)
    rng = random.Random(args.seed)
    users = itertools.count()
    done: list[tuple[float, Job]] = []
    start = time.monotonic()
    warm_until, end = start + args.warm_s, start + args.warm_s + args.measure_s

    async def client() -> None:
        while time.monotonic() < end:
            user = f"u{next(users) % 64}"
            text = f"a cat --modelis {rng.choice(models)}"
            sub = await svc.handle(Request("bench", user, user, text))
            done.append((time.monotonic(), await sub.handle.wait()))

    tasks = [asyncio.create_task(client()) for _ in range(args.outstanding * n)]
    await asyncio.sleep(args.warm_s + 1.5)  # a heartbeat after the warm-up
    warm = loads(svc)
    await asyncio.gather(*tasks)
    await asyncio.sleep(1.5)
    final = loads(svc)
    measured = [j for t, j in done if warm_until <= t <= end]
    waits = sorted(j.wait_s or 0.0 for j in measured) or [0.0]
    steady = sum(sum(final[r].values()) - sum(warm.get(r, {}).values()) for r in final)
    return Result(
        len(measured) / args.measure_s, waits[int(0.95 * (len(waits) - 1))], final, steady
    )


def loads_text(loads: dict[str, dict[str, int]]) -> str:
    return "; ".join(
        f"{name}: " + ", ".join(f"{m}×{n}" for m, n in sorted(per.items()))
        for name, per in sorted(loads.items())
    )


async def main(argv: list[str], latency: float, counts: list[int]) -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--load-s", type=float, default=2.0, help="seconds per model load")
    parser.add_argument("--max-resident", type=int, default=2)
    parser.add_argument("--swap-after", type=float, default=20.0, help="[queue] swap_after_s")
    parser.add_argument("--outstanding", type=int, default=3, help="jobs per runner in flight")
    parser.add_argument("--warm-s", type=float, default=10.0)
    parser.add_argument("--measure-s", type=float, default=30.0)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    args.latency = latency
    identity = Translators.single(IdentityTranslator())
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        server = RedisServer(root / "redis")
        server.start()
        try:
            for n in [c for c in counts if c > 1]:
                for models in (MODELS[:1], MODELS):
                    prefix = f"bench{n}x{len(models)}"  # a run's keys: no state of another
                    cfg = config(root / prefix, server.url, models, args.swap_after, prefix)
                    rows.append((n, len(models), await run(cfg, n, models, args, identity)))
        finally:
            server.stop()
    print(
        f"{latency * 1000:.0f} ms per image, {args.load_s:.0f} s per model load, "
        f"max_resident {args.max_resident}, swap_after_s {args.swap_after:.0f}, "
        f"{args.outstanding} jobs per runner outstanding, {args.measure_s:.0f} s measured "
        f"after {args.warm_s:.0f} s"
    )
    print(
        "| runners | models | images/s | × one model | wait p95 (s) "
        "| loads while steady | loads per runner (whole run) |"
    )
    print("|---|---|---|---|---|---|---|")
    base: dict[int, float] = {}
    for n, m, r in rows:
        base.setdefault(n, r.images_per_s)
        print(
            f"| {n} | {m} | {r.images_per_s:.2f} | {r.images_per_s / base[n]:.2f} "
            f"| {r.wait_p95_s:.2f} | {r.steady_loads} | {loads_text(r.loads)} |"
        )


async def run(
    cfg: Config,
    n: int,
    models: Sequence[str],
    args: argparse.Namespace,
    identity: Translators,
) -> Result:
    async with runners(cfg, n, models, args), open_service(cfg, translators=identity) as svc:
        return await closed_loop(svc, models, n, args)


if __name__ == "__main__":
    cli = argparse.ArgumentParser()
    cli.add_argument("--serve", nargs=2, metavar=("URL", "NAME"), required=True)
    cli.add_argument("--models", required=True)
    cli.add_argument("--latency", type=float, required=True)
    cli.add_argument("--load-s", type=float, required=True)
    cli.add_argument("--max-resident", type=int, required=True)
    cli.add_argument("--swap-after", type=float, required=True)
    cli.add_argument("--prefix", default="zime")
    asyncio.run(serve(cli.parse_args()))
