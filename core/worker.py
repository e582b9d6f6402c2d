"""The single GPU worker: a fair (round-robin per user) bounded queue, batching of compatible
jobs, progress, cancellation, timeouts, retries and a graceful drain.

One consumer task owns the generator; blocking model calls run in a thread so the event
loop never stalls. Jobs are persisted by the service before they reach `submit`, and the
worker records every state change in the store, so a crash loses nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from core.errors import JobCancelled, JobFailed, QueueFull
from core.generate import Generator
from core.images import png_metadata, save_png
from core.metrics import Metrics
from core.models import Job, JobResult
from core.store import Store

log = logging.getLogger("zime.worker")

QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"
FINAL = (DONE, FAILED, CANCELLED)


class JobHandle:
    """What a frontend holds while a job waits: status, queue position, progress, result."""

    def __init__(self, job: Job, worker: Worker) -> None:
        self.job = job
        self.status = QUEUED
        self.progress = 0.0
        self.result: JobResult | None = None
        self.error: str | None = None
        self.cancel_requested = False
        self.solo = False  # retried after a batch failure: draw alone to isolate it
        self._worker = worker
        self._changed = asyncio.Event()
        self._done = asyncio.Event()

    @property
    def id(self) -> int:
        return self.job.id

    @property
    def position(self) -> int | None:
        """1-based place in the queue (1 = next), None once drawing or finished."""
        return self._worker.position(self.id) if self.status == QUEUED else None

    def _notify(self) -> None:
        self._changed.set()
        if self.status in FINAL:
            self._done.set()

    async def wait_changed(self, timeout: float | None = None) -> None:
        """Return after the next change (or timeout); used to render status messages."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._changed.wait(), timeout)
        self._changed.clear()

    async def wait(self) -> JobResult:
        await self._done.wait()
        if self.status == DONE and self.result is not None:
            return self.result
        if self.status == CANCELLED:
            raise JobCancelled(self.error or "cancelled")
        raise JobFailed(self.error or "failed")

    @property
    def finished(self) -> bool:
        return self.status in FINAL


Listener = Callable[[JobHandle], Awaitable[None]]


class Worker:
    def __init__(
        self,
        generator: Generator,
        store: Store,
        image_dir: Path,
        *,
        batch_size: int = 4,
        queue_size: int = 100,
        per_user_queued: int = 3,
        max_attempts: int = 3,
        job_timeout_s: float = 300.0,
        scheduler_name: str = "",
        metrics: Metrics | None = None,
        privacy: bool = False,
    ) -> None:
        self.generator = generator
        self.store = store
        self.image_dir = Path(image_dir)
        self.batch_size = batch_size
        self.queue_size = queue_size
        self.per_user_queued = per_user_queued
        self.max_attempts = max_attempts
        self.job_timeout_s = job_timeout_s
        self.scheduler_name = scheduler_name
        self.metrics = metrics or Metrics()
        self.metrics.queue_length = self.queued_count
        self.metrics.healthy = self.alive
        self.privacy = privacy
        self.handles: dict[int, JobHandle] = {}
        self.listeners: list[Listener] = []
        self._queues: OrderedDict[str, deque[JobHandle]] = OrderedDict()
        self._wakeup = asyncio.Event()
        self._gpu = asyncio.Lock()
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self._current: list[JobHandle] = []
        self.batches_run = 0

    # lifecycle
    async def __aenter__(self) -> Worker:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        self._stopping = False
        self._task = asyncio.create_task(self._consume(), name="zime-worker")

    async def stop(self, drain_timeout: float = 8.0) -> None:
        """Finish the batch being drawn (up to `drain_timeout`), keep the rest queued in the
        store for the next start."""
        self._stopping = True
        self._wakeup.set()
        if self._task is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(self._task), drain_timeout)
        except TimeoutError:
            for h in self._current:  # cooperative: the pipeline stops at its next step
                h.cancel_requested = True
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(self._task, 5.0)
        self._task = None

    def alive(self) -> bool:
        return self._task is not None and not self._task.done()

    # queue
    def queued_count(self) -> int:
        return sum(len(q) for q in self._queues.values())

    def submit(self, job: Job) -> JobHandle:
        if self._stopping:
            raise QueueFull(0)
        if self.queued_count() >= self.queue_size:
            raise QueueFull(self.queue_size)
        q = self._queues.get(job.user_key)
        if q is not None and len(q) >= self.per_user_queued:
            raise QueueFull(self.per_user_queued, per_user=True)
        return self.restore(job)

    def restore(self, job: Job) -> JobHandle:
        """Queue `job` without the limits (as for jobs found unfinished at start-up)."""
        handle = JobHandle(job, self)
        self.handles[job.id] = handle
        self._enqueue(handle)
        return handle

    def _enqueue(self, handle: JobHandle, front: bool = False) -> None:
        q = self._queues.setdefault(handle.job.user_key, deque())
        if front:
            q.appendleft(handle)
        else:
            q.append(handle)
        self._wakeup.set()
        # Others' positions are re-announced when a job leaves the queue; notifying every
        # waiting job on every submit would make a burst of N submits cost O(N²).
        handle._notify()

    def order(self) -> list[JobHandle]:
        """Queued jobs in the order they will be drawn: round-robin over users."""
        queues = [list(q) for q in self._queues.values()]
        out: list[JobHandle] = []
        depth = 0
        while any(depth < len(q) for q in queues):
            out.extend(q[depth] for q in queues if depth < len(q))
            depth += 1
        return out

    def position(self, job_id: int) -> int | None:
        for i, h in enumerate(self.order(), start=1):
            if h.id == job_id:
                return i
        return None

    def _notify_positions(self) -> None:
        for q in self._queues.values():
            for h in q:
                h._notify()

    def _take_batch(self) -> list[JobHandle]:
        order = self.order()
        if not order:
            return []
        first = order[0]
        batch = [first]
        if not first.solo:
            key = first.job.params.batch_key()
            for h in order[1:]:
                if len(batch) >= self.batch_size:
                    break
                if not h.solo and h.job.params.batch_key() == key:
                    batch.append(h)
        for h in batch:
            user = h.job.user_key
            self._queues[user].remove(h)
            self._queues.move_to_end(user)  # round-robin: this user goes to the back
            if not self._queues[user]:
                del self._queues[user]
        return batch

    async def cancel(self, job_id: int) -> bool:
        """Cancel a queued job at once, or a running one at its next step."""
        h = self.handles.get(job_id)
        if h is None or h.finished:
            return False
        h.cancel_requested = True
        q = self._queues.get(h.job.user_key)
        if q is not None and h in q:
            q.remove(h)
            if not q:
                del self._queues[h.job.user_key]
            await self._finish(h, CANCELLED, error="cancelled")
            self._notify_positions()
        return True

    async def cancel_user(self, user_key: str) -> list[int]:
        ids = [h.id for h in self.handles.values() if h.job.user_key == user_key and not h.finished]
        return [i for i in ids if await self.cancel(i)]

    async def reload(self, model: str | None = None) -> str:
        """Swap the model between batches; queued jobs wait, none is dropped."""
        async with self._gpu:
            await asyncio.to_thread(self.generator.reload, model)
        return self.generator.model

    # consumer
    async def _consume(self) -> None:
        while not self._stopping:
            if not self._queues:
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            async with self._gpu:
                batch = self._take_batch()
                if batch:
                    self._current = batch
                    try:
                        await self._run(batch)
                    except Exception:  # the worker must survive anything a job does
                        log.exception("unexpected error in batch %s", [h.id for h in batch])
                    finally:
                        self._current = []

    async def _run(self, batch: list[JobHandle]) -> None:
        loop = asyncio.get_running_loop()
        ids = [h.id for h in batch]
        await self.store.mark_running(ids)
        for h in batch:
            h.status = RUNNING
            h._notify()
        self._notify_positions()
        deadline = time.monotonic() + self.job_timeout_s
        total = batch[0].job.params.steps

        def progress(step: int, _total: int) -> None:
            def apply() -> None:
                for h in batch:
                    h.progress = min(1.0, step / max(1, total))
                    h._notify()

            loop.call_soon_threadsafe(apply)

        def cancelled() -> bool:
            return all(h.cancel_requested for h in batch) or time.monotonic() > deadline

        started = time.monotonic()
        self.batches_run += 1
        try:
            images = await asyncio.to_thread(
                self.generator.generate, [h.job.params for h in batch], progress, cancelled
            )
        except JobCancelled:
            if time.monotonic() > deadline:
                await self._failed(batch, f"timed out after {self.job_timeout_s:.0f} s")
            else:
                for h in batch:
                    await self._finish(h, CANCELLED, error="cancelled")
            return
        except Exception as exc:  # model errors, OOM …: fail these jobs, keep serving
            log.warning("batch %s failed: %s", ids, exc)
            await self._failed(batch, str(exc) or type(exc).__name__)
            return
        draw_s = time.monotonic() - started
        self.metrics.observe_draw(draw_s)
        for h, (image, nsfw) in zip(batch, images, strict=True):
            if h.cancel_requested:
                await self._finish(h, CANCELLED, error="cancelled")
                continue
            await self._deliver(h, image, nsfw, draw_s)

    async def _deliver(self, h: JobHandle, image: Any, nsfw: bool, draw_s: float) -> None:
        day = dt.date.today().isoformat()
        path = self.image_dir / day / f"{h.id}.png"
        meta = png_metadata(h.job.params, self.generator.model, h.id, self.scheduler_name)
        await asyncio.to_thread(save_png, image, path, meta)
        await self.store.finish_job(h.id, str(path), draw_s)
        row = await self.store.get_job(h.id)
        wait_s = float(row["wait_s"] or 0.0) if row else 0.0
        h.result = JobResult(h.id, str(path), h.job.params.seed, self.generator.model, draw_s,
                             wait_s, nsfw)  # fmt: skip
        await self._finish(h, DONE)

    async def _failed(self, batch: list[JobHandle], reason: str) -> None:
        for h in batch:
            final = h.job.attempts + 1 >= self.max_attempts
            attempts = await self.store.record_failure(h.id, reason, final)
            h.job = Job(h.job.id, h.job.user_key, h.job.chat_key, h.job.params, attempts)
            if final:
                await self._finish(h, FAILED, error=reason)
            else:
                h.status = QUEUED
                h.solo = True
                self._enqueue(h, front=True)

    async def _finish(self, h: JobHandle, status: str, error: str | None = None) -> None:
        h.status = status
        h.error = error
        self.metrics.job_finished(status)
        r = h.result
        log.info(
            "job id=%s user=%s status=%s attempts=%s wait_s=%.2f draw_s=%.2f seed=%s%s%s",
            h.id, h.job.user_key, status, h.job.attempts, r.wait_s if r else 0.0,
            r.draw_s if r else 0.0, h.job.params.seed,
            f" error={error!r}" if error and status == FAILED else "",
            "" if self.privacy else f" prompt={h.job.params.prompt!r}",
        )  # fmt: skip
        if status == CANCELLED:
            await self.store.set_status(h.id, CANCELLED, error)
        h._notify()
        self.handles.pop(h.id, None)
        for listener in self.listeners:
            try:
                await listener(h)
            except Exception:
                log.exception("job listener failed for job %s", h.id)
