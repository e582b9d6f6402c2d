"""Many models on many runners (issue #30), on a real redis-server: each job goes to a runner
that serves its model, a model nobody serves is refused at once, a model whose last runner
died waits paused and is drawn once when one is back, and runners load cold models only as
`core.queue.routing` says."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from bot.admin_texts import model_queues_text, runners_text
from bot.commands import run
from bot.message import Ctx
from bot.texts import error_text, status_text
from bot.user_texts import models_text
from core.config import Config
from core.draw.images import read_png_metadata
from core.draw.pool import ModelPool
from core.errors import ModelOffline
from core.jobs.job import Request
from core.queue.routing import Waiting, demand, pick_cold, waiting_work
from core.queue.runner import Runner
from core.service import Service
from tests.fakes import FakeGenerator
from tests.helpers import make_config
from tests.redis_server import RedisServer
from tests.test_redis_queue import NAMES, coordinator, running, until

ROOT = Path(__file__).resolve().parent.parent
CLAIM_S = 1.0
SWAP_S = 3.0
CATALOGUE = {
    "default": "alfa",
    "generators": {m: {"path": f"x/{m}"} for m in ("alfa", "beta", "gamma")},
}
ADMIN = Request("test", "admin", "admin", "", is_admin=True, language="lv")


def config(tmp_path: Path, server: RedisServer, claim_s: float = CLAIM_S) -> Config:
    return make_config(
        tmp_path,
        models=CATALOGUE,
        queue={"backend": "redis", "url": server.url, "claim_after_s": claim_s},
        generation={"steps": 4},
    )


class Pool(ModelPool):
    """A runner's catalogue models as fakes: `made[name]` is the generator of each load."""

    def __init__(self, models: list[str], max_resident: int = 1, step_s: float = 0.0) -> None:
        self.made: dict[str, list[FakeGenerator]] = {}

        def make(name: str) -> FakeGenerator:
            generator = FakeGenerator(model=f"x/{name}", step_s=step_s)
            self.made.setdefault(name, []).append(generator)
            return generator

        super().__init__(make, models[0], {m: f"x/{m}" for m in models}, max_resident)


@contextlib.asynccontextmanager
async def serving(
    server: RedisServer, *pools: Pool, claim_s: float = CLAIM_S
) -> AsyncIterator[list[Runner]]:
    """A runner per pool, in this process, its first model loaded (as `core runner` does).
    `claim_s`: how long a runner may be silent before another takes its batch over."""
    for pool in pools:
        pool.load()
    rs = [
        Runner(
            p,
            server.url,
            name=f"r{next(NAMES)}",
            claim_after_s=claim_s,
            swap_after_s=SWAP_S,
            job_timeout_s=60,
        )
        for p in pools
    ]
    async with running(rs):
        yield rs


def req(user: str, text: str) -> Request:
    return Request(platform="test", user_id=user, chat_id=user, text=text, language="lv")


def drawn_by(path: str | None) -> str:
    return str(json.loads(read_png_metadata(str(path))["zime"])["runner"])


def live(svc: Service, n: int) -> Callable[[], bool]:
    return lambda: len([r for r in svc.worker.runners() if not r.down]) == n


def test_a_runner_loads_a_cold_model_only_as_the_rules_say() -> None:
    fresh, old = Waiting("beta", 1, 0.5), Waiting("gamma", 1, SWAP_S + 1)
    assert pick_cold([fresh], set(), False, {"beta"}, SWAP_S) == "beta"  # nothing loaded
    assert pick_cold([fresh], {"alfa"}, False, set(), SWAP_S) is None  # a swap: not yet
    assert pick_cold([fresh, old], {"alfa"}, False, set(), SWAP_S) == "gamma"  # waited
    assert pick_cold([fresh], {"alfa"}, True, set(), SWAP_S) == "beta"  # room, nobody has it
    assert pick_cold([fresh], {"alfa"}, True, {"beta"}, 20.0) is None  # another one has it
    assert pick_cold([Waiting("beta", 2, 0.1)], {"alfa"}, True, {"beta"}, 20.0) == "beta"
    assert pick_cold([fresh], {"beta"}, True, set(), SWAP_S) is None  # loaded: read, not loaded
    # pressure: jobs waiting × 10 + the oldest one's seconds
    many = Waiting("beta", 3, 0.1)
    assert pick_cold([many, Waiting("gamma", 1, 15.0)], set(), False, set(), SWAP_S) == "beta"
    assert pick_cold([many, Waiting("gamma", 1, 25.0)], set(), False, set(), SWAP_S) == "gamma"


async def test_the_waiting_work_counts_the_streams_and_the_coordinators_backlog(
    redis_server: RedisServer,
) -> None:
    """Pressure weighs every job waiting for a model: batches in its stream nobody read,
    and jobs the coordinator still queues (it sends a model only as many as its runners)."""
    import redis.asyncio as aioredis

    from core.queue.streams import ensure_groups
    from core.queue.wire import Keys

    keys, client = Keys(), aioredis.from_url(redis_server.url)
    try:
        await ensure_groups(client, keys, ["alfa", "beta"])
        await client.xadd(keys.stream("beta"), {"jobs": '[{"id": 1, "params": {}}]'})
        await client.xadd(keys.stream("beta"), {"jobs": '[{"id": 2, "params": {}}]'})
        await client.xreadgroup("runners", "someone", {keys.stream("beta"): ">"}, count=1)
        backlog: dict[Any, Any] = demand([("alfa", 4.0), ("alfa", 9.5), ("beta", 1.0)])
        await client.hset(keys.demand, mapping=backlog)
        found = {w.model: w for w in await waiting_work(client, keys, ["alfa", "beta"])}
        assert (found["alfa"].jobs, found["alfa"].oldest_s) == (2, 9.5)
        assert found["beta"].jobs == 2  # one unread batch + one queued; the read one is taken
        assert found["alfa"].pressure == 2 * 10 + 9.5
    finally:
        await client.aclose()


async def test_each_job_is_drawn_by_a_runner_that_serves_its_model(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    cfg = config(tmp_path, redis_server)
    a, b = Pool(["alfa"]), Pool(["beta"])
    async with coordinator(cfg) as (svc, delivered), serving(redis_server, a, b) as (ra, rb):
        await until(live(svc, 2))
        subs = [
            await svc.handle(req(f"u{i}", f"a cat {i} --modelis {m}"))
            for i, m in enumerate(["alfa", "beta"] * 3)
        ]
        jobs = [await asyncio.wait_for(s.handle.wait(), 30) for s in subs]
        assert sorted(delivered) == sorted(j.id for j in jobs)
        for job in jobs:
            runner = ra.name if job.params.model == "alfa" else rb.name
            assert drawn_by(job.image_path) == runner
            stored = await svc.job(job.id)
            assert stored is not None and stored.runner == runner  # the job row says so too
        assert (a.loads, b.loads) == ({"alfa": 1}, {"beta": 1})  # nobody swapped
        # /rinda: the queue per model, and each runner's served and loaded models
        text = runners_text(svc.runners(ADMIN), "lv")
        assert "apkalpo: alfa; ielādēti: alfa; ielādes: 1" in text
        assert "apkalpo: beta; ielādēti: beta; ielādes: 1" in text
        models = model_queues_text(svc.model_queues(ADMIN), "lv")
        assert f"alfa: rindā 0, zīmē 0 · {ra.name}" in models
        assert "gamma: rindā 0, zīmē 0 · apturēts" in models


async def test_a_model_nobody_serves_is_refused_at_once(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    cfg = config(tmp_path, redis_server)
    async with coordinator(cfg) as (svc, _), serving(redis_server, Pool(["alfa"])):
        await until(live(svc, 1))
        started = time.monotonic()
        with pytest.raises(ModelOffline) as err:
            await svc.handle(req("anna", "a cat --modelis gamma"))
        assert time.monotonic() - started < 2
        assert error_text(err.value, "lv").startswith("Modelis gamma šobrīd nav pieejams")
        assert svc.worker.queued_count() == 0 and await svc.store.unfinished_jobs() == []
        # /modeli says so before anyone asks
        listed = await svc.model_list(req("anna", ""))
        assert [m.name for m in listed if m.offline] == ["beta", "gamma"]
        assert "• gamma — gamma · šobrīd nav pieejams" in models_text(listed, "lv")
        # what a frontend does with the command table's reply: one sentence, nothing queued
        reply = await run(Ctx(svc, req("anna", "")), "zime", "a cat --modelis gamma")
        assert reply.start is not None
        with pytest.raises(ModelOffline):
            await reply.start({})
        assert svc.worker.queued_count() == 0


async def test_a_model_whose_last_runner_died_waits_paused_and_is_drawn_once_later(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    cfg = config(tmp_path, redis_server)
    command = ["tests.runner_child", redis_server.url, "beta-1", "0.3", str(CLAIM_S), "beta"]
    child = subprocess.Popen(  # noqa: ASYNC220 (a runner process serving beta only)
        [sys.executable, "-m", *command],
        cwd=Path.cwd(),
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    try:
        async with coordinator(cfg) as (svc, delivered), serving(redis_server, Pool(["alfa"])):
            await until(live(svc, 2))
            drawing = await svc.handle(req("anna", "a cat --modelis beta"))  # 4 × 0.3 s
            waiting = await svc.handle(req("bruno", "a dog --modelis beta"))  # queued behind
            await until(lambda: drawing.handle.progress > 0)
            child.send_signal(signal.SIGKILL)
            child.wait(10)
            await until(lambda: drawing.handle.paused and waiting.handle.paused)
            assert not svc.worker.paused  # alfa's runner draws on
            for sub in (drawing, waiting):
                assert status_text(sub.handle, "lv").startswith("Zīmēšana uz brīdi apturēta")
            other = await svc.handle(req("carl", "a fox --modelis alfa"))
            assert (await asyncio.wait_for(other.handle.wait(), 30)).runner.startswith("r")
            with pytest.raises(ModelOffline):  # a new request for beta: refused at once
                await svc.handle(req("dora", "a cow --modelis beta"))
            back = Pool(["beta"])
            async with serving(redis_server, back) as (rb,):
                jobs = [await asyncio.wait_for(s.handle.wait(), 30) for s in (drawing, waiting)]
                await asyncio.sleep(2 * CLAIM_S)  # and nothing arrives twice
            assert all(drawn_by(j.image_path) == rb.name for j in jobs)
            assert sorted(delivered) == sorted([other.job_id, drawing.job_id, waiting.job_id])
            assert sum(len(g.calls) for g in back.made["beta"]) == 2
    finally:
        if child.poll() is None:
            child.kill()


async def test_two_idle_runners_do_not_both_load_a_cold_model_for_one_job(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    cfg = config(tmp_path, redis_server, claim_s=30.0)  # no claim on a busy machine
    pools = [Pool(["alfa", "beta"], max_resident=2) for _ in range(2)]
    async with coordinator(cfg) as (svc, _), serving(redis_server, *pools, claim_s=30.0) as rs:
        await until(live(svc, 2))
        sub = await svc.handle(req("anna", "a cat --modelis beta"))
        job = await asyncio.wait_for(sub.handle.wait(), 30)
        await asyncio.sleep(3.0)  # time for a second load, which must not come
        assert sum(p.loads.get("beta", 0) for p in pools) == 1
        drew = next(r for r in rs if r.name == drawn_by(job.image_path))
        await until(lambda: any("beta" in r.loaded for r in svc.worker.runners()))
        assert [r.loaded for r in svc.worker.runners() if r.name == drew.name] == [["alfa", "beta"]]


async def test_a_swap_waits_for_swap_after_s_unless_a_runner_has_nothing_loaded(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    # A busy machine can starve a loading runner's heartbeat for a second: with the usual
    # 1 s claim the other runner would take its batch over (and load beta too). Nobody dies
    # here, so a claim that never comes keeps the count about routing alone.
    cfg = config(tmp_path, redis_server, claim_s=30.0)
    pools = [Pool(["alfa", "beta"]) for _ in range(2)]  # one model in memory at a time
    async with coordinator(cfg) as (svc, _), serving(redis_server, *pools, claim_s=30.0):
        await until(live(svc, 2))
        started = time.monotonic()
        sub = await svc.handle(req("anna", "a cat --modelis beta"))
        job = await asyncio.wait_for(sub.handle.wait(), 30)
        assert time.monotonic() - started >= SWAP_S - 0.5  # both had alfa: no swap at once
        assert sum(p.loads.get("beta", 0) for p in pools) == 1 and job.runner


async def test_reload_names_a_model_and_reaches_only_the_runners_that_have_it(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    cfg = config(tmp_path, redis_server)
    a, b = Pool(["alfa"]), Pool(["beta"])
    async with coordinator(cfg) as (svc, _), serving(redis_server, a, b):
        await until(live(svc, 2))
        await until(lambda: all(r.loaded for r in svc.worker.runners()))
        assert await svc.reload(ADMIN, "alfa") == "x/alfa"
        assert a.loads == {"alfa": 2} and b.loads == {"beta": 1}
        answer = await run(Ctx(svc, ADMIN), "reload", "gamma")  # nobody has it loaded
        assert answer.error and answer.text.startswith("Modelis gamma nav ielādēts")


def test_two_runner_processes_on_tiny_models_each_draw_their_own(
    tiny_models: dict[str, Path], tmp_path: Path, redis_server: RedisServer
) -> None:
    """`python -m core runner --models …` twice, on tiny SD 1.5 and SDXL, behind one bot: each
    image comes from its model's runner; a model without one is refused; a runner killed
    with a job for it leaves that job paused until another runner for its model starts."""
    asyncio.run(_two_processes(tiny_models, tmp_path, redis_server))


async def _two_processes(tiny: dict[str, Path], tmp_path: Path, server: RedisServer) -> None:
    claim = 4.0  # a stopped runner counts as live this long: the request below gets in
    cfg_file = tmp_path / "cfg.toml"
    cfg_file.write_text(
        f'[models]\ntranslator = "{tiny["opus"]}"\ndevice = "cpu"\ndefault = "sd"\n'
        f'[models.generators.sd]\npath = "{tiny["sd"]}"\nconcepts = true\n'
        f'[models.generators.xl]\npath = "{tiny["sdxl"]}"\nfamily = "sdxl"\n'
        "width = 64\nheight = 64\n"
        f'[models.generators.cits]\npath = "{tmp_path / "not-here"}"\n'
        "[generation]\nsteps = 2\nwidth = 64\nheight = 64\n"
        f'[storage]\ndatabase = "{tmp_path / "z.sqlite3"}"\nimages = "{tmp_path / "img"}"\n'
        f'[queue]\nbackend = "redis"\nurl = "{server.url}"\nclaim_after_s = {claim}\n',
        encoding="utf-8",
    )
    from core.config import load_config

    cfg = load_config(str(cfg_file))
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    procs: list[subprocess.Popen[bytes]] = []
    logs = contextlib.ExitStack()

    def start(name: str, model: str) -> subprocess.Popen[bytes]:
        log = logs.enter_context((tmp_path / f"{name}.log").open("w"))
        command = [sys.executable, "-m", "core", "runner", "--config", str(cfg_file)]
        proc = subprocess.Popen(
            [*command, "--name", name, "--models", model], cwd=Path.cwd(), env=env, stderr=log
        )
        procs.append(proc)
        return proc

    def runner_of(svc: Service, name: str) -> Callable[[], bool]:
        return lambda: any(r.name == name and not r.down for r in svc.worker.runners())

    try:
        start("gpu-sd", "sd")
        xl = start("gpu-xl", "xl")
        async with coordinator(cfg) as (svc, delivered):
            await until(runner_of(svc, "gpu-sd"), 90)
            await until(runner_of(svc, "gpu-xl"), 90)
            subs = [await svc.handle(req("anna", f"a cat --modelis {m}")) for m in ("sd", "xl")]
            jobs = [await asyncio.wait_for(s.handle.wait(), 60) for s in subs]
            assert [drawn_by(j.image_path) for j in jobs] == ["gpu-sd", "gpu-xl"]
            with pytest.raises(ModelOffline):
                await svc.handle(req("anna", "a cat --modelis cits"))
            xl.send_signal(signal.SIGSTOP)  # frozen: live for up to `claim` more seconds
            late = await svc.handle(req("bruno", "a dog --modelis xl"))
            xl.send_signal(signal.SIGKILL)
            await until(lambda: late.handle.paused, 20)
            assert status_text(late.handle, "lv").startswith("Zīmēšana uz brīdi apturēta")
            start("gpu-xl-2", "xl")
            job = await asyncio.wait_for(late.handle.wait(), 90)
            assert drawn_by(job.image_path) == "gpu-xl-2"
            assert delivered.count(job.id) == 1
        with contextlib.closing(sqlite3.connect(tmp_path / "z.sqlite3")) as db:
            rows = db.execute("SELECT model, runner FROM jobs WHERE status = 'done' ORDER BY id")
            assert rows.fetchall() == [("sd", "gpu-sd"), ("xl", "gpu-xl"), ("xl", "gpu-xl-2")]
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
                proc.wait(20)
        logs.close()


def test_a_runner_serves_the_models_on_its_machine_or_those_named(tmp_path: Path) -> None:
    """`core runner` without --models serves every catalogue model whose files are here; none
    here, or a name not in the catalogue, is one sentence and exit status 2."""
    import io

    from core.__main__ import main
    from core.app import models_on_this_machine
    from core.config import load_config

    here = tmp_path / "beta-files"
    here.mkdir()
    cfg_file = tmp_path / "cfg.toml"
    cfg_file.write_text(
        '[models]\ndefault = "alfa"\n[models.generators.alfa]\npath = "nobody/alfa"\n'
        f'[models.generators.beta]\npath = "{here}"\n',
        encoding="utf-8",
    )
    cfg = load_config(str(cfg_file), {"HF_HOME": str(tmp_path / "hf")})
    assert models_on_this_machine(cfg) == ["beta"]
    err = io.StringIO()
    assert main(["runner", "--config", str(cfg_file), "--models", "delta"], err=err) == 2
    assert "--models names 'delta', not in the catalogue (alfa, beta)" in err.getvalue()
    here.rmdir()
    err = io.StringIO()
    assert main(["runner", "--config", str(cfg_file)], err=err) == 2
    assert "none of the catalogue's models (alfa, beta) is on this machine" in err.getvalue()
