"""`[queue] isolate = true` (issue #14): the model in a child process that is killed and
restarted when it hangs or crashes, while the bot and its queue stay up."""

from __future__ import annotations

import asyncio
import functools
from pathlib import Path

import pytest

from core.app import open_service
from core.errors import JobFailed
from core.jobs.job import Request
from core.lang.translate import IdentityTranslator, Translators
from core.queue.child import ChildDrawer
from tests.fakes import FakeGenerator
from tests.helpers import make_config

IDENTITY = Translators.single(IdentityTranslator())


def req(user: str, text: str) -> Request:
    return Request(platform="test", user_id=user, chat_id=user, text=text)


async def test_a_hung_or_crashed_model_process_is_replaced(tmp_path: Path) -> None:
    cfg = make_config(
        tmp_path,
        generation={"steps": 3, "job_timeout_s": 1.0, "hang_grace_s": 1.0},
        limits={"max_attempts": 1},
    )
    factory = functools.partial(FakeGenerator, step_s=0.01, hang_on="wedge", crash_on="boom")
    drawer = ChildDrawer(factory, cfg.generation.job_timeout_s, cfg.generation.hang_grace_s)
    async with open_service(cfg, translators=IDENTITY, drawer=drawer) as svc:
        ok = await svc.handle(req("anna", "a cat"))
        assert (await asyncio.wait_for(ok.handle.wait(), 30)).image_path
        assert drawer.restarts == 0
        hung = await svc.handle(req("anna", "a wedge"))
        with pytest.raises(JobFailed, match="timeout"):
            await asyncio.wait_for(hung.handle.wait(), 30)
        assert drawer.restarts == 1 and svc.worker.alive()  # killed, replaced, still serving
        crashed = await svc.handle(req("bruno", "a boom"))
        with pytest.raises(JobFailed, match="model"):
            await asyncio.wait_for(crashed.handle.wait(), 30)
        assert drawer.restarts == 2
        after = await svc.handle(req("bruno", "a dog"))
        assert (await asyncio.wait_for(after.handle.wait(), 30)).image_path


async def test_isolate_from_the_config_draws_with_the_tiny_model(
    tmp_path: Path, tiny_models: dict[str, Path]
) -> None:
    cfg = make_config(
        tmp_path,
        queue={"isolate": True},
        models={"generator": str(tiny_models["sd"]), "device": "cpu"},
    )
    async with open_service(cfg, translators=IDENTITY) as svc:
        assert svc.worker.runners()[0].name == "child"
        job = await asyncio.wait_for((await svc.handle(req("anna", "a cat"))).handle.wait(), 60)
        assert job.image_path and Path(job.image_path).exists()
        assert svc.worker.model == str(tiny_models["sd"])
