"""How the worker (core/queue/worker.py) handles a batch that did not draw: a failed
attempt retried alone (up to `max_attempts`), a failure for good, a wedged model (its jobs
and the queued ones fail, the worker reports unhealthy), and a batch put back at the front of
the queue (drawing paused, or stopped by the operator). A mixin of `Worker`."""

from __future__ import annotations

import contextlib
import logging
from dataclasses import replace
from typing import TYPE_CHECKING

from core.errors import Failure, StorageError
from core.jobs.job import Status
from core.queue.fair import FairQueue, JobHandle

if TYPE_CHECKING:
    from core.jobs.store import Store
    from core.ops.metrics import Metrics

log = logging.getLogger("zime.worker")
QUEUED, FAILED = Status.QUEUED, Status.FAILED


class Failures:
    store: Store
    queue: FairQueue
    metrics: Metrics
    max_attempts: int
    wedged: bool
    final_states: dict[int, tuple[Status, str | None, Failure | None]]

    if TYPE_CHECKING:

        def alive(self) -> bool: ...

        def _enqueue(self, handle: JobHandle, front: bool = False) -> None: ...

        async def _finish(
            self,
            h: JobHandle,
            status: Status,
            error: str | None = None,
            failure: Failure | None = None,
        ) -> None: ...

    async def _requeue(self, batch: list[JobHandle]) -> None:
        for h in batch:
            with contextlib.suppress(StorageError):
                await self.store.set_status(h.id, QUEUED)
        for h in reversed(batch):
            h.status = QUEUED
            h.progress = 0.0
            self._enqueue(h, front=True)

    async def _hung(self, batch: list[JobHandle], reason: str) -> None:
        """The model call ignored its deadline: it is wedged (a stuck CUDA kernel, a
        deadlock). Fail its jobs and the queued ones with a clear reason, stop taking work
        and report unhealthy, so the orchestrator restarts the process."""
        log.error("image model call did not return (%s); marking the worker unhealthy", reason)
        self.wedged = True
        self.metrics.healthy = self.alive
        for h in batch:  # in SQLite too: a restart must never draw the wedging prompt again
            await self._fail_for_good(h, Failure.TIMEOUT, reason)
        for h in self.queue.clear():
            await self._fail_for_good(h, Failure.UNAVAILABLE, "the image model stopped answering")

    async def _fail_for_good(self, h: JobHandle, kind: Failure, reason: str) -> None:
        """Failed, recorded as failed in the store (its reason included), then finished."""
        try:
            await self.store.record_failure(h.id, kind, reason, final=True)
        except StorageError as exc:
            log.error("job %s: cannot record its failure: %s", h.id, exc)
            self.final_states[h.id] = (FAILED, reason, kind)
        await self._finish(h, FAILED, reason, kind)

    async def _failed(
        self, batch: list[JobHandle], kind: Failure, reason: str, final: bool = False
    ) -> None:
        for h in batch:
            last = final or h.job.attempts + 1 >= self.max_attempts
            try:
                attempts = await self.store.record_failure(h.id, kind, reason, last)
            except StorageError as exc:
                await self._finish(h, FAILED, str(exc), Failure.STORAGE)
                continue
            h.job = replace(h.job, attempts=attempts, error=reason)
            if last:
                await self._finish(h, FAILED, reason, kind)
            else:
                h.status = QUEUED
                h.solo = True
                self._enqueue(h, front=True)
