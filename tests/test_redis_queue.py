"""The redis backend (issue #14) on a real redis-server: runners behind Redis Streams."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
import redis

from bot.texts import status_text
from core.app import open_service
from core.config import Config
from core.draw.generate import Generator
from core.draw.images import read_png_metadata
from core.draw.pool import ModelPool
from core.jobs.job import Request
from core.lang.translate import IdentityTranslator, Translators
from core.queue.fair import JobHandle
from core.queue.runner import Runner
from core.service import Service
from tests.fakes import FakeGenerator
from tests.helpers import make_config
from tests.redis_server import RedisServer

ROOT = Path(__file__).resolve().parent.parent
IDENTITY = Translators.single(IdentityTranslator())
STREAM = "zime:jobs:lv-sb"  # the default model's jobs stream
CLAIM_S = 1.0
SWAP_S = 3.0


def redis_config(tmp_path: Path, server: RedisServer, **generation: Any) -> Config:
    return make_config(
        tmp_path,
        queue={"backend": "redis", "url": server.url, "claim_after_s": CLAIM_S},
        generation={"steps": 4, **generation},
    )


def req(user: str, text: str = "a cat on a roof") -> Request:
    return Request(platform="test", user_id=user, chat_id=user, text=text)


NAMES = itertools.count()


@contextlib.asynccontextmanager
async def runners(server: RedisServer, *gens: Generator) -> AsyncIterator[list[Runner]]:
    """Runners in this process (r0, r1 … across the test session, never reused); a plain
    generator serves the config's default model, a pool its own."""
    rs = [
        Runner(
            g,
            server.url,
            models=() if isinstance(g, ModelPool) else ("lv-sb",),
            name=f"r{next(NAMES)}",
            claim_after_s=CLAIM_S,
            job_timeout_s=60,
            swap_after_s=SWAP_S,
        )
        for g in gens
    ]
    async with running(rs):
        yield rs


@contextlib.asynccontextmanager
async def running(rs: list[Runner]) -> AsyncIterator[None]:
    """Runners serving in this process until the block ends; each must stop in time."""
    tasks = [asyncio.create_task(r.run()) for r in rs]
    try:
        yield
    finally:
        for r in rs:
            r.stop()
        done, _ = await asyncio.wait(tasks, timeout=15)
        assert len(done) == len(tasks), "a runner did not stop"


@contextlib.asynccontextmanager
async def coordinator(cfg: Config) -> AsyncIterator[tuple[Service, list[int]]]:
    """The bot side (no image model); `delivered` lists every job id that finished done."""
    delivered: list[int] = []

    async def record(h: JobHandle) -> None:
        if h.status == "done":
            delivered.append(h.id)

    async with open_service(cfg, translators=IDENTITY) as svc:
        svc.worker.listeners.append(record)
        yield svc, delivered


async def until(check: Callable[[], bool], timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


async def test_runners_draw_fairly_and_name_themselves(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    cfg = redis_config(tmp_path, redis_server)
    gens = (FakeGenerator(step_s=0.05), FakeGenerator(step_s=0.05))
    async with coordinator(cfg) as (svc, delivered), runners(redis_server, *gens):
        await until(lambda: len(svc.worker.runners()) == 2)
        first = [await svc.handle(req("anna", f"a cat number {i}")) for i in range(4)]
        second = await svc.handle(req("bruno", "a dog"))
        jobs = [await asyncio.wait_for(s.handle.wait(), 30) for s in [*first, second]]
        # round-robin across both runners: bruno is not served after all of anna's jobs
        started = sorted(jobs, key=lambda j: j.started_at or 0)
        assert started[-1].user_id == "anna"  # bruno came before anna's last queued job
        assert sorted(delivered) == sorted(j.id for j in jobs)  # each exactly once
        names = {json.loads(read_png_metadata(str(j.image_path))["zime"])["runner"] for j in jobs}
        assert len(names) == 2  # both drew, and each PNG says who
        assert svc.worker.model == "fake/model"
        listed = svc.runners(Request("test", "admin", "admin", "", is_admin=True))
        assert {r.name for r in listed} == names and not any(r.down for r in listed)


async def test_grids_options_and_variations_work_the_same(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    cfg = redis_config(tmp_path, redis_server, width=128, height=128)
    async with coordinator(cfg) as (svc, _), runners(redis_server, FakeGenerator()):
        grid = await asyncio.wait_for(
            (await svc.handle(req("anna", "a cat --skaits 4 --sēkla 7 --ar 3:2"))).handle.wait(), 30
        )
        assert grid.params.count == 4 and grid.params.seed == 7
        var = await svc.variation(grid.id, 2, req("anna", ""))
        done = await asyncio.wait_for(var.handle.wait(), 30)  # the start image went through redis
        assert done.parent_id == grid.id and done.image_path
        up = await asyncio.wait_for(
            (await svc.upscale(grid.id, 1, req("anna", ""))).handle.wait(), 30
        )
        assert (up.params.width, up.params.height) == (
            2 * grid.params.width,
            2 * grid.params.height,
        )


async def test_a_killed_runner_is_taken_over_and_the_user_gets_one_result(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    cfg = redis_config(tmp_path, redis_server, steps=30)
    child = subprocess.Popen(  # noqa: ASYNC220 (started once, before the loop has work)
        [
            sys.executable,
            "-m",
            "tests.runner_child",
            redis_server.url,
            "doomed",
            "0.2",
            str(CLAIM_S),
        ],
        cwd=Path.cwd(),
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        async with coordinator(cfg) as (svc, delivered):
            sub = await svc.handle(req("anna"))
            await until(lambda: any(r.busy for r in svc.worker.runners()))
            await until(lambda: sub.handle.progress > 0)  # progress came through redis
            child.send_signal(signal.SIGKILL)
            child.wait(10)
            killed = time.monotonic()
            # no live runner: within claim_after_s the user is told drawing is paused and
            # their request is saved (the README's bound is job_timeout_s + hang_grace_s)
            await until(lambda: sub.handle.paused)
            assert time.monotonic() - killed < CLAIM_S + 4
            assert status_text(sub.handle, "lv").startswith("Zīmēšana uz brīdi apturēta")
            stored = await svc.job(sub.job_id)
            assert stored is not None and stored.status in ("queued", "running")
            survivor = FakeGenerator(step_s=0.01)
            async with runners(redis_server, survivor) as rs:
                job = await asyncio.wait_for(sub.handle.wait(), 30)
                await asyncio.sleep(2 * CLAIM_S)  # nothing else arrives later
            assert delivered == [job.id] and len(survivor.calls) == 1
            meta = json.loads(read_png_metadata(str(job.image_path))["zime"])
            assert meta["runner"] == rs[0].name
            assert [r.down for r in svc.worker.runners() if r.name == "doomed"] in ([True], [])
    finally:
        if child.poll() is None:
            child.kill()


async def test_a_live_runner_keeps_its_claim_past_claim_after(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    cfg = redis_config(tmp_path, redis_server, steps=10)
    slow, idle = FakeGenerator(step_s=0.3), FakeGenerator()  # 3 s: three claim periods
    async with coordinator(cfg) as (svc, delivered), runners(redis_server, slow):
        sub = await svc.handle(req("anna"))
        await until(lambda: len(slow.calls) == 1)
        async with runners(redis_server, idle):  # a second runner looking for silent ones
            await asyncio.wait_for(sub.handle.wait(), 30)
        assert len(slow.calls) == 1 and idle.calls == [] and len(delivered) == 1


def pretend_runner(url: str, name: str, model: str = "lv-sb") -> None:
    """One heartbeat of a runner serving `model` that never beats again: the coordinator
    sends it a batch, and within CLAIM_S sees it down."""
    client = redis.Redis.from_url(url)
    beat = {"name": name, "models": [model], "loaded": [model], "heartbeat": time.time()}
    client.hset("zime:runners", name, json.dumps(beat))
    client.close()


async def take_as_ghosts(url: str, *ghosts: str) -> None:
    """Runners that take the waiting batch, one after another, and die holding it."""
    import redis.asyncio as aioredis

    pretend_runner(url, ghosts[0])
    client = aioredis.from_url(url)
    try:
        got: Any = None
        deadline = time.monotonic() + 20
        while not got:  # the coordinator dispatches it once the worker takes it
            assert time.monotonic() < deadline, "the batch never reached the stream"
            got = await client.xreadgroup("runners", ghosts[0], {STREAM: ">"}, count=1, block=100)
        entry_id: bytes = got[0][1][0][0]
        for ghost in ghosts[1:]:
            await client.xclaim(STREAM, "runners", ghost, 0, [entry_id])
    finally:
        await client.aclose()


@pytest.mark.parametrize("runner_left", [False, True])
async def test_a_batch_that_stopped_two_runners_fails_as_poison(
    tmp_path: Path, redis_server: RedisServer, runner_left: bool
) -> None:
    """Found by the coordinator when no runner is left, or by the next runner: failed once,
    for good (no retry), with the model sentence; never handed out again."""
    from core.errors import JobFailed

    cfg = redis_config(tmp_path, redis_server)  # max_attempts 3: poison is not retried
    async with coordinator(cfg) as (svc, delivered):
        sub = await svc.handle(req("anna"))  # no runner yet: it waits in the queue
        await take_as_ghosts(redis_server.url, "ghost-1", "ghost-2")
        gen = FakeGenerator()
        async with contextlib.AsyncExitStack() as stack:
            if runner_left:
                await stack.enter_async_context(runners(redis_server, gen))
            with pytest.raises(JobFailed) as err:
                await asyncio.wait_for(sub.handle.wait(), 30)
        assert err.value.kind == "model" and "stopped 2 runners" in str(err.value)
        stored = await svc.job(sub.job_id)
        assert stored is not None and stored.status == "failed" and stored.failure == "model"
        assert stored.attempts == 1 and gen.calls == [] and delivered == []


async def test_cancel_reaches_the_runner(tmp_path: Path, redis_server: RedisServer) -> None:
    cfg = redis_config(tmp_path, redis_server, steps=100)
    gen = FakeGenerator(step_s=0.1)
    async with coordinator(cfg) as (svc, _), runners(redis_server, gen):
        sub = await svc.handle(req("anna"))
        await until(lambda: sub.handle.progress > 0)
        started = time.monotonic()
        await svc.cancel(req("anna"))
        with pytest.raises(Exception, match="cancel"):
            await asyncio.wait_for(sub.handle.wait(), 10)
        assert time.monotonic() - started < 5  # stopped at a step, not after 10 s of drawing


async def test_a_restarted_coordinator_draws_what_sqlite_says_once(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    cfg = redis_config(tmp_path, redis_server)
    async with coordinator(cfg) as (svc, _):  # no runner yet: the job waits in SQLite
        sub = await svc.handle(req("anna"))
        job_id = sub.job_id
    gen = FakeGenerator()
    async with coordinator(cfg) as (svc, delivered), runners(redis_server, gen) as rs:
        await until(lambda: delivered == [job_id])
        await asyncio.sleep(2 * CLAIM_S)
        assert delivered == [job_id] and len(gen.calls) == 1 and rs[0].drawn == 1


async def test_redis_down_pauses_and_loses_nothing(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    cfg = redis_config(tmp_path, redis_server)
    gen = FakeGenerator()
    async with coordinator(cfg) as (svc, delivered), runners(redis_server, gen):
        await until(lambda: len(svc.worker.runners()) == 1)
        redis_server.stop()  # SIGTERM: the append-only file is written
        await until(lambda: svc.worker.paused, 15)
        sub = await svc.handle(req("anna"))  # still accepted into SQLite
        assert sub.handle.paused  # and told so, on every frontend (bot/status.py)
        assert status_text(sub.handle, "lv").startswith("Zīmēšana uz brīdi apturēta")
        stored = await svc.job(sub.job_id)
        assert stored is not None and stored.status in ("queued", "running")
        redis_server.start()  # same port and dir: the runner and the bot reconnect
        job = await asyncio.wait_for(sub.handle.wait(), 30)
        assert delivered == [job.id] and not svc.worker.paused


async def test_a_redis_restart_keeps_accepted_jobs(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    cfg = redis_config(tmp_path, redis_server)
    async with coordinator(cfg) as (svc, delivered):
        pretend_runner(redis_server.url, "gone")
        sub = await svc.handle(req("anna"))  # dispatched to a runner that never takes it
        stream = redis.Redis(port=redis_server.port)
        await until(lambda: stream.xlen(STREAM) >= 1)
        stream.close()
        redis_server.stop()
        redis_server.start()
        async with runners(redis_server, FakeGenerator()):
            job = await asyncio.wait_for(sub.handle.wait(), 30)
        assert delivered == [job.id]


async def test_reload_rolls_through_the_runners(
    tmp_path: Path, redis_server: RedisServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A load that outlasts the client's socket timeout and the heartbeat period is waited
    for; the admin always gets an answer (bot/commands.run)."""
    from bot.commands import run
    from bot.message import Ctx

    monkeypatch.setattr("core.queue.control.SOCKET_TIMEOUT_S", 1.0)
    cfg = redis_config(tmp_path, redis_server)
    gens = (FakeGenerator(), FakeGenerator())
    gens[0].reload_gate.clear()  # the first runner's load takes 3 claim periods
    async with coordinator(cfg) as (svc, _), runners(redis_server, *gens):
        await until(lambda: len(svc.worker.runners()) == 2)
        admin = Request("test", "admin", "admin", "", is_admin=True)
        timer = threading.Timer(3 * CLAIM_S, gens[0].reload_gate.set)
        timer.start()
        try:
            assert await svc.reload(admin, "new/model") == "new/model"
        finally:
            timer.cancel()
            gens[0].reload_gate.set()  # whatever happened, the runner can finish and stop
        assert [g.reloads for g in gens] == [["new/model"], ["new/model"]]
        gens[1].reload_error = "no such model"
        answer = await run(Ctx(svc, admin), "reload", "bad/model")
        assert answer.error and answer.text  # one sentence, never silence


def test_the_whole_system_on_one_machine(
    tiny_models: dict[str, Path], tmp_path: Path, redis_server: RedisServer
) -> None:
    """redis-server, two `python -m core runner` processes on tiny models, and the console
    frontend of `python -m bot`, as the README says."""
    cfg = tmp_path / "cfg.toml"
    cfg.write_text(
        f'[models]\ngenerator = "{tiny_models["sd"]}"\ntranslator = "{tiny_models["opus"]}"\n'
        'device = "cpu"\n[generation]\nsteps = 2\nwidth = 64\nheight = 64\n'
        f'[storage]\ndatabase = "{tmp_path / "z.sqlite3"}"\nimages = "{tmp_path / "img"}"\n'
        f'[queue]\nbackend = "redis"\nurl = "{redis_server.url}"\nclaim_after_s = 2\n',
        encoding="utf-8",
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    logs = [tmp_path / f"{name}.log" for name in ("gpu-a", "gpu-b")]
    stack = contextlib.ExitStack()
    gpus = [
        subprocess.Popen(
            [sys.executable, "-m", "core", "runner", "--config", str(cfg), "--name", log.stem],
            cwd=Path.cwd(),
            env=env,
            stderr=stack.enter_context(log.open("w")),
        )
        for log in logs
    ]
    try:
        deadline = time.monotonic() + 60
        while not all("serving redis://" in log.read_text() for log in logs):
            assert time.monotonic() < deadline, [log.read_text()[-500:] for log in logs]
            time.sleep(0.2)
        proc = subprocess.run(
            [sys.executable, "-m", "bot", "--config", str(cfg)],
            input="/zime Rainis\n/zime Brīvības piemineklis naktī\n/rinda\n",
            cwd=Path.cwd(),
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
        )
    finally:
        for gpu in gpus:
            gpu.terminate()
            gpu.wait(20)
        stack.close()
    assert proc.returncode == 0, proc.stderr
    assert "Uzzīmēts: a photo of rainis poet" in proc.stdout
    assert "brivpiem statue" in proc.stdout
    assert "gpu-a" in proc.stdout and "gpu-b" in proc.stdout  # /rinda lists the runners
    pngs = list((tmp_path / "img").rglob("*.png"))
    assert len(pngs) == 2 and "Traceback" not in proc.stderr
    drawn_by = {json.loads(read_png_metadata(str(p))["zime"])["runner"] for p in pngs}
    assert drawn_by <= {"gpu-a", "gpu-b"}
    assert all(gpu.returncode == 0 for gpu in gpus)  # SIGTERM: a clean stop


def test_one_wire_status_enum_decides_a_batch() -> None:
    """The runner writes WireStatus values, the coordinator reads them back as the same
    enum, and `batch_failure` alone says what a batch's statuses mean."""
    from core.errors import JobCancelled, ModelError
    from core.queue import DrawTimeout, Poisoned
    from core.queue.wire import (
        WireResult,
        WireStatus,
        batch_failure,
        decode_results,
        encode_results,
    )

    def batch(*statuses: WireStatus) -> list[WireResult]:
        sent = [WireResult(i, s, error=f"e{i}") for i, s in enumerate(statuses)]
        back = decode_results(encode_results(sent))
        assert all(isinstance(r.status, WireStatus) for r in back)
        return back

    S = WireStatus
    assert batch_failure(batch(S.DONE, S.CANCELLED)) is None  # drawn ones are collected
    assert isinstance(batch_failure(batch(S.CANCELLED, S.CANCELLED)), JobCancelled)
    assert isinstance(batch_failure(batch(S.DONE, S.FAILED, S.POISON)), Poisoned)
    assert isinstance(batch_failure(batch(S.FAILED, S.TIMEOUT)), DrawTimeout)
    failed = batch_failure(batch(S.DONE, S.FAILED))
    assert isinstance(failed, ModelError) and str(failed) == "e1"
