"""The ONE delivery path every frontend shares: a finished job becomes an image or one clear
sentence in the chat it came from.

A frontend subclasses `Delivery` and says only what is platform-specific: how to send an
image, how to send a failure, and which of its errors are worth retrying (the one place
errors are classified per platform). The rules live here:
  * retryable failures (429s, timeouts, 5xx) are tried again in this process, then at the
    next start (`redeliver`);
  * any other failure (the chat is gone, the bot was blocked, a 400) ends the job's delivery
    for good, so no restart sends it again;
  * `delivered` is recorded the moment the platform accepted the message.
"""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from collections.abc import Awaitable
from typing import Any

from bot.texts import error_text, job_caption, job_error
from core.jobs.job import Job, Status
from core.service import Service

log = logging.getLogger("zime.delivery")


class Delivery(ABC):
    platform: str
    attempts = 3  # in this process; then the next start tries again
    retry_delay_s = 30.0

    def __init__(self, service: Service, demo: bool = False) -> None:
        self.service = service
        # Tiny random models (`--demo`, or a config pointing at `core tiny-models`) draw
        # noise: every caption says so.
        self.demo = demo or service.demo
        self._tasks: set[asyncio.Task[None]] = set()
        service.subscribe(self.platform, self._on_job_finished)

    def caption(self, job: Job, lang: str) -> str:
        """THE caption of a result (plain text; a platform escapes it as it needs)."""
        names = self.service.concept_names(job.concepts)
        return job_caption(job, names, lang, self.demo, self.service.default_steps)

    # what a platform says
    @abstractmethod
    async def send_image(self, job: Job, lang: str) -> None:
        """Send the picture; call `delivered(job)` as soon as the platform accepted it."""

    @abstractmethod
    async def send_failure(self, job: Job, text: str, lang: str) -> None:
        """Tell the user, in `text`, why there is no picture."""

    @abstractmethod
    def retryable(self, exc: BaseException) -> bool:
        """True for errors worth another try: flood limits, timeouts, 5xx."""

    # the shared rules
    def spawn(self, coro: Awaitable[None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def cancel_tasks(self) -> None:
        for task in list(self._tasks):
            task.cancel()

    async def redeliver(self) -> None:
        """At start: what a crash or a failed delivery left undelivered."""
        for job_id in await self.service.undelivered(self.platform):
            self.spawn(self.deliver(job_id))

    async def _on_job_finished(self, job_id: int) -> None:
        self.spawn(self.deliver(job_id))

    async def delivered(self, job: Job, **details: Any) -> None:
        await self.service.note(job.id, delivered=True, **details)

    async def deliver(self, job_id: int, attempt: int = 1) -> None:
        job = await self.service.to_deliver(job_id)
        if job is None:
            return
        lang = str(job.meta.get("language", "lv"))
        try:
            if job.status == Status.DONE:
                await self.send_image(job, lang)
            else:
                await self.send_failure(job, error_text(job_error(job), lang), lang)
                await self.delivered(job)
        except Exception as exc:
            await self._failed(job, exc, attempt)

    async def _failed(self, job: Job, exc: Exception, attempt: int) -> None:
        name = f"{type(exc).__name__}: {exc}"
        if not self.retryable(exc):
            log.warning("job %s cannot be delivered (%s); giving up", job.id, name)
            await self.delivered(job, delivery_error=name[:200])
            return
        if attempt >= self.attempts:
            log.warning("delivery of job %s failed %d times (%s); the next start tries again",
                        job.id, attempt, name)  # fmt: skip
            return
        delay = self.retry_delay_s * attempt
        log.warning("delivery of job %s failed (%s); trying again in %.0f s", job.id, name, delay)
        await asyncio.sleep(delay)
        await self.deliver(job.id, attempt + 1)
