"""The one delivery path (bot/delivery.py, issue #28): one classification of failures for
every platform, no retry stacked on a library's own, and a missing image is permanent
everywhere, answered with one sentence."""

from __future__ import annotations

import asyncio
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import aiohttp
import discord
import pytest
from telegram.error import BadRequest, Forbidden, RetryAfter, TimedOut

from bot.delivery import Delivery, Fault, ImageMissing
from bot.discord.frontend import DiscordFrontend
from bot.telegram.frontend import TelegramFrontend
from bot.texts import error_text
from core.app import open_service
from core.errors import Failure, JobFailed
from core.jobs.job import Job, Request
from core.lang.translate import IdentityTranslator, Translators
from core.service import Service
from tests.fakes import FakeGenerator
from tests.helpers import make_config

ENGLISH = Translators.single(IdentityTranslator())


class Classifier(Delivery):
    """The shared `fault` over one platform's `platform_fault`, without its client."""

    platform = "test"

    def __init__(self, platform_fault: Any) -> None:  # no service: classification only
        self._platform_fault = platform_fault

    def platform_fault(self, exc: BaseException) -> Fault:
        return self._platform_fault(None, exc)  # type: ignore[no-any-return]

    async def send_image(self, job: Job, lang: str) -> None:
        raise AssertionError

    async def send_failure(self, job: Job, text: str, lang: str) -> None:
        raise AssertionError


def discord_http(status: int) -> discord.HTTPException:
    response = SimpleNamespace(status=status, reason="x")
    return discord.HTTPException(response, "error")  # type: ignore[arg-type]


TELEGRAM = Classifier(TelegramFrontend.platform_fault)
DISCORD = Classifier(DiscordFrontend.platform_fault)


@pytest.mark.parametrize("platform", [TELEGRAM, DISCORD], ids=["telegram", "discord"])
def test_a_missing_or_unreadable_file_is_permanent_on_every_platform(platform: Classifier) -> None:
    for exc in (
        FileNotFoundError(2, "No such file or directory", "/data/images/1.png"),
        PermissionError(13, "Permission denied", "/data/images/1.png"),
        IsADirectoryError(21, "Is a directory", "/data/images"),
        ImageMissing("gone"),
    ):
        assert platform.fault(exc) is Fault.PERMANENT, exc


def test_telegram_errors_after_the_one_retry_layer() -> None:
    assert TELEGRAM.fault(RetryAfter(3)) is Fault.RETRIED  # with_retry waited them out
    assert TELEGRAM.fault(TimedOut()) is Fault.RETRIED
    assert TELEGRAM.fault(BadRequest("chat not found")) is Fault.PERMANENT
    assert TELEGRAM.fault(Forbidden("bot was blocked")) is Fault.PERMANENT


def test_discord_errors_are_not_retried_on_top_of_discord_py() -> None:
    assert DISCORD.fault(discord_http(503)) is Fault.RETRIED  # discord.py tried 5 times
    assert DISCORD.fault(discord_http(429)) is Fault.RETRIED
    assert DISCORD.fault(discord_http(403)) is Fault.PERMANENT
    assert DISCORD.fault(discord_http(404)) is Fault.PERMANENT
    assert DISCORD.fault(TimeoutError()) is Fault.TRANSIENT  # nobody retried these yet
    assert DISCORD.fault(aiohttp.ServerDisconnectedError()) is Fault.TRANSIENT
    assert DISCORD.fault(ConnectionResetError()) is Fault.TRANSIENT


class Recorder(Delivery):
    platform = "test"
    retry_delay_s = 0.01

    def __init__(self, service: Service, error: BaseException | None = None) -> None:
        super().__init__(service)
        self.error = error
        self.images: list[int] = []
        self.failures: list[str] = []
        self.tries = 0

    def platform_fault(self, exc: BaseException) -> Fault:
        return DISCORD.platform_fault(exc)

    async def send_image(self, job: Job, lang: str) -> None:
        self.tries += 1
        if self.error is not None:
            raise self.error
        self.images.append(job.id)
        await self.delivered(job)

    async def send_failure(self, job: Job, text: str, lang: str) -> None:
        self.failures.append(text)


async def drawn(svc: Service, text: str = "a cat") -> Job:
    sub = await svc.handle(Request("test", "u1", "u1", text, language="en"))
    job = await asyncio.wait_for(sub.handle.wait(), 20)
    stored = await svc.job(job.id)
    assert stored is not None and stored.image_path
    return stored


async def test_a_picture_whose_file_is_gone_gets_one_sentence_and_is_not_retried(
    tmp_path: Path,
) -> None:
    async with open_service(
        make_config(tmp_path), generator=FakeGenerator(), translators=ENGLISH
    ) as svc:
        job = await drawn(svc)
        out = Recorder(svc)  # subscribed after the job finished: only our calls deliver
        Path(job.image_path or "").unlink()
        await out.deliver(job.id)
        storage = error_text(JobFailed("", Failure.STORAGE), "en")
        assert out.failures == [storage] and out.images == [] and out.tries == 0
        assert await svc.undelivered("test") == []  # no restart tries it again
        await out.deliver(job.id)
        assert out.failures == [storage]


async def test_what_the_library_retried_waits_for_the_next_start(tmp_path: Path) -> None:
    async with open_service(
        make_config(tmp_path), generator=FakeGenerator(), translators=ENGLISH
    ) as svc:
        job = await drawn(svc)
        retried = Recorder(svc, discord_http(503))
        await retried.deliver(job.id)
        assert retried.tries == 1  # not 3 more on top of discord.py's five
        assert await svc.undelivered("test") == [job.id]
        transient = Recorder(svc, TimeoutError())
        await transient.deliver(job.id)
        assert transient.tries == transient.attempts  # a timeout: tried again here
        assert await svc.undelivered("test") == [job.id]
        ok = Recorder(svc)
        await ok.redeliver()
        for task in list(ok._tasks):
            await task
        assert ok.images == [job.id] and await svc.undelivered("test") == []
