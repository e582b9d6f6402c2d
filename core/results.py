"""What the frontends need to deliver results: the finished-job events, which jobs still
wait for delivery (after a restart too), and the record of each delivery. A mixin of
`Service`, like AdminOps and PageOps."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from core.jobs.job import Job, JobView

if TYPE_CHECKING:
    from core.jobs.store import Store
    from core.queue.worker import Worker


class Results:
    store: Store
    worker: Worker

    async def note(self, job_id: int, **meta: Any) -> None:
        """Remember delivery details of a job (message ids …) so a restart can finish it."""
        await self.store.update_meta(job_id, **meta)

    async def mark_delivered(self, job_id: int, **details: Any) -> None:
        """The platform accepted the result (or it can never be delivered: `details` say
        why): no restart sends it again."""
        await self.store.set_flags(job_id, delivered=True, **details)

    def subscribe(self, platform: str, deliver: Callable[[int], Awaitable[None]]) -> None:
        """Call `deliver(job_id)` whenever a job of `platform` reaches a final state."""

        async def listener(handle: JobView) -> None:
            if handle.job.user_key.startswith(f"{platform}:"):
                await deliver(handle.id)

        self.worker.listeners.append(listener)

    async def to_deliver(self, job_id: int) -> Job | None:
        """The job if its result still has to be delivered, else None. An outcome the store
        could not record (a storage fault) is taken from the worker."""
        job = await self.store.get_job(job_id)
        if job is None or job.delivered:
            return None
        if job_id in self.worker.final_states:
            status, error, failure = self.worker.final_states[job_id]
            job = replace(job, status=status, error=error, failure=failure)
        return job

    def unfinished(self, platform: str) -> list[JobView]:
        """Jobs of `platform` still queued or drawing (those a restart restored included)."""
        return [
            h for h in self.worker.order() + self.worker.drawing() if h.job.platform == platform
        ]

    async def undelivered(self, platform: str) -> list[int]:
        return await self.store.undelivered(platform)
