"""The worker: a fair (round-robin per user) bounded queue, batching of compatible jobs,
progress, cancellation, timeouts, retries, delivery of results and a graceful drain.

Batches are drawn by a `Drawer` (core.queue): in a thread of this process, in a child
process, or by runners behind Redis; the worker sends as many batches at once as the drawer
has room for (one locally; behind Redis, one per live runner serving the batch's model).
Jobs are persisted by the service before they reach `submit`, and the worker records every
state change in the store, so a crash loses nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path

from core.draw.images import save_drawn
from core.errors import (
    Failure,
    JobCancelled,
    ModelOffline,
    ModelUnavailable,
    QueueFull,
    StorageError,
)
from core.jobs.job import Job, Status
from core.jobs.store import Store
from core.ops.metrics import Metrics
from core.queue import (
    Drawer,
    DrawingPaused,
    Drawn,
    DrawTimeout,
    ModelHung,
    Poisoned,
    RunnerInfo,
)
from core.queue.failures import Failures
from core.queue.fair import FairQueue, JobHandle, finished_line, with_room

log = logging.getLogger("zime.worker")

QUEUED, RUNNING, DONE, FAILED, CANCELLED = (
    Status.QUEUED,
    Status.RUNNING,
    Status.DONE,
    Status.FAILED,
    Status.CANCELLED,
)


Listener = Callable[[JobHandle], Awaitable[None]]
IDLE_CHECK_S = 0.5  # queued jobs whose models have no free runner: how often to look again


class Worker(Failures):
    def __init__(
        self,
        drawer: Drawer,
        store: Store,
        image_dir: Path,
        *,
        batch_size: int = 4,
        queue_size: int = 100,
        per_user_queued: int = 3,
        max_attempts: int = 3,
        scheduler_name: str = "",
        metrics: Metrics | None = None,
        privacy: bool = False,
        swap_after_s: float = 20.0,
    ) -> None:
        self.drawer = drawer
        self.store = store
        self.image_dir = Path(image_dir)
        self.batch_size = batch_size
        self.queue_size = queue_size
        self.per_user_queued = per_user_queued
        self.max_attempts = max_attempts
        self.scheduler_name = scheduler_name
        self.metrics = metrics or Metrics()
        self.metrics.queue_length = self.queued_count
        self.metrics.healthy = self.alive
        self.privacy = privacy
        self.swap_after_s = swap_after_s
        self.handles: dict[int, JobHandle] = {}
        self.listeners: list[Listener] = []
        self.queue = FairQueue()
        self._wakeup = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._running: set[asyncio.Task[None]] = set()
        self._stopping = False
        self._interrupting = False  # stopping now: a stopped drawing is queued, not cancelled
        self._current: list[JobHandle] = []  # every job being drawn now
        self._flying: dict[str, int] = {}  # batches in flight per model
        self.wedged = False  # a model call never returned: only a restart helps
        # Outcomes the store could not record (job id -> status, error, failure), for delivery.
        self.final_states: dict[int, tuple[Status, str | None, Failure | None]] = {}

    # lifecycle
    async def __aenter__(self) -> Worker:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def model(self) -> str:
        return self.drawer.model

    @property
    def paused(self) -> bool:
        """Drawing waits for its transport (Redis): requests are still taken and kept."""
        return self.drawer.paused

    def paused_for(self, model: str) -> bool:
        """Jobs of `model` wait: drawing is paused, or no live runner serves the model."""
        capacity = self.drawer.capacity()
        return self.drawer.paused or (capacity is not None and model not in capacity)

    def offline(self, model: str) -> bool:
        """Runners are live, but none serves `model` (requests for it are refused)."""
        capacity = self.drawer.capacity()
        return bool(capacity) and model not in (capacity or {}) and not self.drawer.paused

    def runners(self) -> list[RunnerInfo]:
        return self.drawer.runners()

    def loaded_models(self) -> list[str]:
        """The catalogue models loaded where this worker draws (none known: [])."""
        loaded = getattr(self.drawer, "loaded_models", None)
        return list(loaded()) if loaded is not None else []

    async def start(self) -> None:
        self._stopping = self._interrupting = False
        observe = getattr(self.drawer, "observe", None)  # runners weigh the backlog by model
        if observe is not None:
            observe(lambda: [(h.job.params.model, h.waited()) for h in self.queue.order()])
        await self.drawer.start()
        self._task = asyncio.create_task(self._consume(), name="zime-worker")

    async def stop(self, drain_timeout: float = 6.0, interrupt: bool = False) -> None:
        """Finish the batch being drawn (up to `drain_timeout`), keep the rest queued in the
        store for the next start. Returns within about drain_timeout + 2 s even when the
        model call is wedged (it runs in a daemon thread and is left behind). `interrupt`:
        stop the drawing at its next step too, and keep its jobs queued in the store."""
        self._stopping = True
        if interrupt:
            self._interrupting = True
            for h in self._current:
                h.cancel_requested = True
        self._wakeup.set()
        if self._task is None:
            return
        try:
            await asyncio.wait_for(asyncio.shield(self._drained()), drain_timeout)
        except TimeoutError:
            for h in self._current:  # cooperative: the pipeline stops at its next step
                h.cancel_requested = True
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(self._drained(), 2.0)
        for task in self._running:  # a wedged local call, or a runner that never answers
            task.cancel()
        self._task.cancel()
        await asyncio.wait({self._task, *self._running}, timeout=3)  # bounded, whatever hangs
        self._task = None
        await self.drawer.stop()

    async def _drained(self) -> None:
        while self._running:
            await asyncio.wait(set(self._running))

    def alive(self) -> bool:
        """For /healthz: False when the consumer died or the model hung (restart me)."""
        return self._task is not None and not self._task.done() and not self.wedged

    # queue
    def queued_count(self) -> int:
        return len(self.queue)

    def busy(self) -> bool:
        """Jobs wait or draw (a chat training pauses meanwhile). Safe from any thread."""
        return self.queued_count() > 0 or bool(self._current)

    def check_room(self, user_key: str, model: str = "") -> None:
        """Raise what `submit` would, before anything is stored or counted. A model no live
        runner serves while others run is refused at once (none runs at all: drawing is
        paused, and requests are kept for when they are back)."""
        if self.wedged:
            raise ModelUnavailable("the image model stopped answering")
        if model and self.offline(model):
            raise ModelOffline(model)
        if self._stopping:
            raise QueueFull(0)
        if self.queued_count() >= self.queue_size:
            raise QueueFull(self.queue_size)
        if self.queue.of_user(user_key) >= self.per_user_queued:
            raise QueueFull(self.per_user_queued, per_user=True)

    def submit(self, job: Job) -> JobHandle:
        self.check_room(job.user_key, job.params.model)
        return self.restore(job)

    def restore(self, job: Job) -> JobHandle:
        """Queue `job` without the limits (as for jobs found unfinished at start-up)."""
        handle = JobHandle(job, self)
        self.handles[job.id] = handle
        self._enqueue(handle)
        return handle

    def _enqueue(self, handle: JobHandle, front: bool = False) -> None:
        self.queue.add(handle, front)
        self._wakeup.set()
        # Others' positions are re-announced when a job leaves the queue; notifying every
        # waiting job on every submit would make a burst of N submits cost O(N²).
        handle._notify()

    def order(self) -> list[JobHandle]:
        """Queued jobs in the order they will be drawn: round-robin over users."""
        return self.queue.order()

    def drawing(self) -> list[JobHandle]:
        """The jobs being drawn now."""
        return list(self._current)

    def position(self, job_id: int) -> int | None:
        return self.queue.position(job_id)

    async def cancel(self, job_id: int) -> bool:
        """Cancel a queued job at once, or a running one at its next step."""
        h = self.handles.get(job_id)
        if h is None or h.finished:
            return False
        h.cancel_requested = True
        if self.queue.remove(h):
            await self._finish(h, CANCELLED, error="cancelled")
            self.queue.notify_all()
        return True

    async def cancel_user(self, user_key: str) -> list[int]:
        ids = [h.id for h in self.handles.values() if h.job.user_key == user_key and not h.finished]
        return [i for i in ids if await self.cancel(i)]

    async def reload(self, model: str | None = None) -> str:
        """Swap the model between batches (locally), or roll through the runners one at a
        time (redis); queued jobs wait, none is dropped."""
        return await self.drawer.reload(model)

    # consumer
    async def _consume(self) -> None:
        while not self._stopping and not self.wedged:
            if not self.queue:
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            await self.drawer.slot()
            batch = [] if self._stopping or self.wedged else self._next_batch()
            if not batch:  # only models without a free runner wait: until one frees
                self.drawer.release()
                self._wakeup.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wakeup.wait(), IDLE_CHECK_S)
                continue
            task = asyncio.create_task(self._in_slot(batch), name=f"zime-batch-{batch[0].id}")
            self._running.add(task)
            task.add_done_callback(self._running.discard)

    def _next_batch(self) -> list[JobHandle]:
        """The next batch of a model with room for one more in flight (its runners'
        `capacity`; None: any), loaded models first (`FairQueue.next_job`); counted."""
        room = with_room(self.drawer.capacity(), self._flying)
        loaded = self.loaded_models()
        batch = self.queue.take_batch(self.batch_size, loaded, self.swap_after_s, room)
        if batch:
            model = batch[0].job.params.model
            self._flying[model] = self._flying.get(model, 0) + 1
        return batch

    async def _in_slot(self, batch: list[JobHandle]) -> None:
        self._current.extend(batch)
        try:
            await self._run(batch)
        except Exception:  # the worker must survive anything a job does
            log.exception("unexpected error in batch %s", [h.id for h in batch])
        finally:
            model = batch[0].job.params.model
            self._flying[model] = self._flying.get(model, 1) - 1
            for h in batch:
                with contextlib.suppress(ValueError):
                    self._current.remove(h)
            self.drawer.release()
            self._wakeup.set()

    async def _run(self, batch: list[JobHandle]) -> None:
        ids = [h.id for h in batch]
        try:
            await self.store.mark_running(ids)
        except StorageError as exc:
            for h in batch:
                await self._finish(h, FAILED, str(exc), Failure.STORAGE)
            return
        for h in batch:
            h.status = RUNNING
            h._notify()
        self.queue.notify_all()

        def progress(step: int, total: int) -> None:
            for h in batch:
                h.progress = min(1.0, step / max(1, total))
                h._notify()

        def cancelled() -> bool:
            return all(h.cancel_requested for h in batch)

        dispatched_at = time.time()
        try:
            drawn = await self.drawer.draw([h.job for h in batch], progress, cancelled)
        except ModelHung as exc:
            if exc.recovered:  # a killed and restarted child: these jobs fail, others go on
                await self._failed(batch, Failure.TIMEOUT, str(exc), final=True)
            else:
                await self._hung(batch, str(exc))
            return
        except DrawTimeout as exc:
            await self._failed(batch, Failure.TIMEOUT, str(exc), final=True)
            return
        except JobCancelled:
            if self._interrupting:  # stopped by the operator: drawn again at the next start
                await self._requeue(batch)
                return
            for h in batch:
                await self._finish(h, CANCELLED, error="cancelled")
            return
        except DrawingPaused as exc:  # back to the front of the queue, drawn once it is back
            log.warning("drawing paused (%s): %d job(s) wait", exc, len(batch))
            await self._requeue(batch)
            return
        except Exception as exc:  # model errors, OOM …: fail these jobs, keep serving
            log.warning("batch %s failed: %s", ids, exc)
            await self._failed(
                batch,
                Failure.MODEL,
                str(exc) or type(exc).__name__,
                final=isinstance(exc, Poisoned),
            )
            return
        self.metrics.observe_draw(drawn.draw_s)
        if drawn.taken_at:
            self.metrics.observe_dispatch(max(0.0, drawn.taken_at - dispatched_at))
        start = 0
        for h in batch:
            mine = drawn.images[start : start + h.job.params.count]  # in seed order
            start += h.job.params.count
            if h.cancel_requested and not self._interrupting:
                await self._finish(h, CANCELLED, error="cancelled")
                continue
            await self._deliver(h, replace(drawn, images=mine))

    async def _deliver(self, h: JobHandle, drawn: Drawn) -> None:
        """Save the job's image (or its images and their grid) and record the result."""
        day = dt.date.today().isoformat()
        path = self.image_dir / day / f"{h.id}.png"
        nsfw = any(flag for _, flag in drawn.images)
        draw_s = drawn.draw_s
        try:
            await asyncio.to_thread(
                save_drawn,
                h.job,
                drawn.images,
                path,
                drawn.model or self.model,
                self.scheduler_name,
                drawn.runner,
            )
        except OSError as exc:  # a full or unwritable disk: this job cannot be kept
            log.error("job %s: cannot save the image: %s", h.id, exc)
            await self._failed(
                [h], Failure.STORAGE, f"cannot save the image ({exc.strerror or exc})", final=True
            )
            return
        try:
            # nsfw: an image is blurred; the caption must say why, the frontend hides it
            stored = await self.store.finish_job(
                h.id, str(path), draw_s, drawn.model or self.model, nsfw, drawn.runner
            )
        except StorageError as exc:
            await self._finish(h, FAILED, str(exc), Failure.STORAGE)
            return
        h.job = stored or replace(h.job, image_path=str(path), draw_s=draw_s)
        await self._finish(h, DONE)

    async def _finish(
        self, h: JobHandle, status: Status, error: str | None = None, failure: Failure | None = None
    ) -> None:
        """The one way a job ends. The store is told where it was not yet (a cancel, or a
        failure the store itself caused); if even that fails, the handle still ends, its
        listeners still run, and `final_states` keeps the outcome for delivery."""
        failure = (failure or Failure.MODEL) if status == FAILED else None
        h.job = replace(
            h.job, status=status, error=error if status != DONE else None, failure=failure
        )
        self.metrics.job_finished(status)
        log.info("%s", finished_line(h.job, self.privacy))
        if status == CANCELLED or failure == Failure.STORAGE:
            try:
                await self.store.set_status(h.id, status, error, failure)
            except StorageError:
                self.final_states[h.id] = (status, error, failure)
        h._notify()
        self.handles.pop(h.id, None)
        for listener in self.listeners:
            try:
                await listener(h)
            except Exception:
                log.exception("job listener failed for job %s", h.id)
