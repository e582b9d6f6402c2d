"""The ONE delivery path every frontend shares: a finished job becomes an image or one clear
sentence in the chat it came from.

A frontend subclasses `Delivery` and says only what is platform-specific: how to send an
image, how to send a failure, and what each of its library's errors means (`platform_fault`).
Every failure is then one of three `Fault`s, decided in `Delivery.fault` for every platform:
  * PERMANENT: the chat is gone, the bot was blocked, a 400, or the image file is missing
    (on every platform): delivery ends for good, and no restart sends it again;
  * RETRIED: a flood limit, a 5xx or a timeout that the platform's library (discord.py's
    five tries) or our one Telegram retry layer (`with_retry`) has already retried: left
    for the next start (`redeliver`), never retried again on top in this process;
  * TRANSIENT: a dropped connection nobody retried yet: tried again here (`attempts`,
    `retry_delay_s`), then at the next start.
`delivered` is recorded the moment the platform accepted the message. A picture whose file
is gone (deleted, lost with a disk) is answered with the storage sentence instead.
"""

from __future__ import annotations

import asyncio
import logging
from abc import ABC, abstractmethod
from collections.abc import Awaitable
from enum import Enum
from pathlib import Path
from typing import Any

from bot.texts import error_text, job_caption, job_error
from core.errors import Failure, JobFailed
from core.jobs.job import Job, Status
from core.service import Service

log = logging.getLogger("zime.delivery")


class Fault(Enum):
    """What a failed delivery means; see the module docstring."""

    PERMANENT = "permanent"
    RETRIED = "retried"
    TRANSIENT = "transient"


class ImageMissing(Exception):
    """The picture's file is not on disk (🗑, retention, a lost disk): permanent."""


class Delivery(ABC):
    platform: str
    attempts = 3  # TRANSIENT failures, in this process; then the next start tries again
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
        return job_caption(
            job, names, lang, self.demo, self.service.default_steps, self.service.model_note(job)
        )

    # what a platform says
    @abstractmethod
    async def send_image(self, job: Job, lang: str) -> None:
        """Send the picture; call `delivered(job)` as soon as the platform accepted it."""

    @abstractmethod
    async def send_failure(self, job: Job, text: str, lang: str) -> None:
        """Tell the user, in `text`, why there is no picture."""

    @abstractmethod
    def platform_fault(self, exc: BaseException) -> Fault:
        """What one of the platform library's errors means (the only platform-specific
        part of the classification)."""

    def fault(self, exc: BaseException) -> Fault:
        """THE classification of a failed delivery, the same for every platform: a local
        file problem is permanent (a missing image, a file that cannot be read); the rest is
        the platform's."""
        if isinstance(exc, ImageMissing) or _local_file_error(exc):
            return Fault.PERMANENT
        return self.platform_fault(exc)

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
        await self.service.mark_delivered(job.id, **details)

    async def deliver(self, job_id: int, attempt: int = 1) -> None:
        job = await self.service.to_deliver(job_id)
        if job is None:
            return
        lang = str(job.meta.get("language", "lv"))
        try:
            if job.status == Status.DONE and not await _image_on_disk(job):
                log.warning(
                    "job %s: its image %s is gone; telling the user", job.id, job.image_path
                )
                failure = JobFailed("the image file is missing", Failure.STORAGE)
                await self.send_failure(job, error_text(failure, lang), lang)
                await self.delivered(job, delivery_error="image missing")
            elif job.status == Status.DONE:
                await self.send_image(job, lang)
            else:
                await self.send_failure(job, error_text(job_error(job), lang), lang)
                await self.delivered(job)
        except Exception as exc:
            await self._failed(job, exc, attempt)

    async def _failed(self, job: Job, exc: Exception, attempt: int) -> None:
        name = f"{type(exc).__name__}: {exc}"
        fault = self.fault(exc)
        if fault is Fault.PERMANENT:
            log.warning("job %s cannot be delivered (%s); giving up", job.id, name)
            await self.delivered(job, delivery_error=name[:200])
            return
        if fault is Fault.RETRIED:
            log.warning(
                "delivery of job %s failed after the library's own retries (%s);"
                " the next start tries again",
                job.id,
                name,
            )
            return
        if attempt >= self.attempts:
            log.warning(
                "delivery of job %s failed %d times (%s); the next start tries again",
                job.id,
                attempt,
                name,
            )
            return
        delay = self.retry_delay_s * attempt
        log.warning("delivery of job %s failed (%s); trying again in %.0f s", job.id, name, delay)
        await asyncio.sleep(delay)
        await self.deliver(job.id, attempt + 1)


async def _image_on_disk(job: Job) -> bool:
    path = job.image_path
    return bool(path) and await asyncio.to_thread(Path(str(path)).is_file)


def _local_file_error(exc: BaseException) -> bool:
    """FileNotFoundError, PermissionError, any OSError naming a file: not the network, and
    not going to change on another try."""
    if not isinstance(exc, OSError) or isinstance(exc, ConnectionError | TimeoutError):
        return False
    return exc.filename is not None or isinstance(exc, FileNotFoundError | PermissionError)
