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
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, TypeVar

from core.errors import JobCancelled, JobFailed, ModelUnavailable, QueueFull, StorageError
from core.generate import Generator
from core.images import grid, image_variant_path, png_metadata, save_png, veil
from core.metrics import Metrics
from core.models import GenParams, Job, Status
from core.store import Store

log = logging.getLogger("zime.worker")
T = TypeVar("T")

QUEUED, RUNNING, DONE, FAILED, CANCELLED = (
    Status.QUEUED, Status.RUNNING, Status.DONE, Status.FAILED, Status.CANCELLED
)  # fmt: skip
FINAL = (DONE, FAILED, CANCELLED)
# How long past its timeout a model call may take to notice the cancel flag before it is
# declared hung (the pipeline checks the flag once per step).
HANG_GRACE_S = 10.0


def in_daemon_thread(fn: Callable[..., T], *args: Any) -> asyncio.Future[T]:
    """Run a blocking call in a daemon thread. Unlike `asyncio.to_thread`, a call that never
    returns (a wedged CUDA kernel) cannot keep the process from exiting on SIGTERM."""
    loop = asyncio.get_running_loop()
    future: asyncio.Future[T] = loop.create_future()

    def settle(result: T | None, exc: BaseException | None) -> None:
        if future.done():
            return
        if exc is not None:
            future.set_exception(exc)
        else:
            future.set_result(result)  # type: ignore[arg-type]

    def target() -> None:
        try:
            result = fn(*args)
        except BaseException as exc:  # handed to the awaiting task, not lost
            loop.call_soon_threadsafe(settle, None, exc)
        else:
            loop.call_soon_threadsafe(settle, result, None)

    threading.Thread(target=target, name=f"zime-{getattr(fn, '__name__', 'call')}",
                     daemon=True).start()  # fmt: skip
    return future


class JobHandle:
    """What a frontend holds while a job waits: status, queue position, progress, result."""

    def __init__(self, job: Job, worker: Worker) -> None:
        self.job = job
        self.status: Status = QUEUED
        self.progress = 0.0
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

    async def wait(self) -> Job:
        """The finished job (status done, image_path set), or JobCancelled / JobFailed."""
        await self._done.wait()
        if self.status == DONE:
            return self.job
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
        hang_grace_s: float = HANG_GRACE_S,
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
        self.hang_grace_s = hang_grace_s
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
        self.wedged = False  # a model call never returned: only a restart helps
        # Outcomes the store could not record (job id -> status, error), for delivery.
        self.final_states: dict[int, tuple[Status, str | None]] = {}

    # lifecycle
    async def __aenter__(self) -> Worker:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        self._stopping = False
        self._task = asyncio.create_task(self._consume(), name="zime-worker")

    async def stop(self, drain_timeout: float = 6.0) -> None:
        """Finish the batch being drawn (up to `drain_timeout`), keep the rest queued in the
        store for the next start. Returns within about drain_timeout + 2 s even when the
        model call is wedged (it runs in a daemon thread and is left behind)."""
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
                await asyncio.wait_for(self._task, 2.0)
        self._task = None

    def alive(self) -> bool:
        """For /healthz: False when the consumer died or the model hung (restart me)."""
        return self._task is not None and not self._task.done() and not self.wedged

    # queue
    def queued_count(self) -> int:
        return sum(len(q) for q in self._queues.values())

    def check_room(self, user_key: str) -> None:
        """Raise what `submit` would, before anything is stored or counted."""
        if self.wedged:
            raise ModelUnavailable("the image model stopped answering")
        if self._stopping:
            raise QueueFull(0)
        if self.queued_count() >= self.queue_size:
            raise QueueFull(self.queue_size)
        q = self._queues.get(user_key)
        if q is not None and len(q) >= self.per_user_queued:
            raise QueueFull(self.per_user_queued, per_user=True)

    def submit(self, job: Job) -> JobHandle:
        self.check_room(job.user_key)
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
        images = first.job.params.count  # the batch size counts images: a grid of 4 is 4
        if not first.solo:
            key = first.job.params.batch_key()
            for h in order[1:]:
                if images >= self.batch_size:
                    break
                n = h.job.params.count
                if not h.solo and h.job.params.batch_key() == key and images + n <= self.batch_size:
                    batch.append(h)
                    images += n
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
        while not self._stopping and not self.wedged:
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
        try:
            await self.store.mark_running(ids)
        except StorageError as exc:
            for h in batch:
                await self._finish(h, FAILED, error=f"storage: {exc}")
            return
        for h in batch:
            h.status = RUNNING
            h._notify()
        self._notify_positions()
        deadline = time.monotonic() + self.job_timeout_s

        def progress(step: int, total: int) -> None:
            def apply() -> None:
                for h in batch:
                    h.progress = min(1.0, step / max(1, total))
                    h._notify()

            loop.call_soon_threadsafe(apply)

        def cancelled() -> bool:
            return all(h.cancel_requested for h in batch) or time.monotonic() > deadline

        started = time.monotonic()
        call = in_daemon_thread(
            self.generator.generate,
            [p for h in batch for p in h.job.params.expanded()],
            progress,
            cancelled,
        )
        try:
            images = await asyncio.wait_for(
                asyncio.shield(call), self.job_timeout_s + self.hang_grace_s
            )
        except TimeoutError:
            await self._hung(batch)
            return
        except JobCancelled:
            if time.monotonic() > deadline:
                await self._failed(batch, f"timeout: after {self.job_timeout_s:.0f} s", final=True)
            else:
                for h in batch:
                    await self._finish(h, CANCELLED, error="cancelled")
            return
        except Exception as exc:  # model errors, OOM …: fail these jobs, keep serving
            log.warning("batch %s failed: %s", ids, exc)
            await self._failed(batch, f"model: {exc or type(exc).__name__}")
            return
        draw_s = time.monotonic() - started
        self.metrics.observe_draw(draw_s)
        start = 0
        for h in batch:
            mine = images[start : start + h.job.params.count]  # this job's images, in seed order
            start += h.job.params.count
            if h.cancel_requested:
                await self._finish(h, CANCELLED, error="cancelled")
                continue
            await self._deliver(h, mine, draw_s)

    def _save(self, job: Job, images: list[tuple[Any, bool]], path: Path) -> None:
        """One image: `<id>.png`. Several: each as `<id>-<n>.png` (U1–U4 send them) and
        their 2×2 grid as `<id>.png`. Every PNG carries the parameters that redraw it. An
        image the safety checker flagged is blurred before it is written: the drawn one is
        never kept nor sent."""
        shown = [veil(image) if flagged else image for image, flagged in images]

        def metadata(params: GenParams) -> dict[str, str]:
            return png_metadata(params, self.generator.model, job.id, self.scheduler_name,
                                job.kind, job.parent_id)  # fmt: skip

        if len(shown) == 1:
            save_png(shown[0], path, metadata(job.params))
            return
        for n, (params, image) in enumerate(zip(job.params.expanded(), shown, strict=True), 1):
            save_png(image, image_variant_path(path, n), metadata(params))
        save_png(grid(shown), path, metadata(job.params))

    async def _hung(self, batch: list[JobHandle]) -> None:
        """The model call ignored its deadline: it is wedged (a stuck CUDA kernel, a
        deadlock). Fail its jobs and the queued ones with a clear reason, stop taking work
        and report unhealthy, so the orchestrator restarts the process."""
        log.error("image model call did not return %.0f s after its timeout; marking the "
                  "worker unhealthy", self.hang_grace_s)  # fmt: skip
        self.wedged = True
        self.metrics.healthy = self.alive
        for h in batch:
            await self._finish(
                h, FAILED, error=f"timeout: model hung after {self.job_timeout_s:.0f} s"
            )
        for h in self.order():
            self._queues[h.job.user_key].remove(h)
            await self._finish(h, FAILED, error="unavailable: the image model stopped answering")
        self._queues.clear()

    async def _deliver(self, h: JobHandle, images: list[tuple[Any, bool]], draw_s: float) -> None:
        """Save the job's image (or its images and their grid) and record the result."""
        day = dt.date.today().isoformat()
        path = self.image_dir / day / f"{h.id}.png"
        nsfw = any(flag for _, flag in images)
        try:
            await asyncio.to_thread(self._save, h.job, images, path)
        except OSError as exc:  # a full or unwritable disk: this job cannot be kept
            log.error("job %s: cannot save the image: %s", h.id, exc)
            await self._failed([h], f"storage: cannot save the image ({exc.strerror or exc})",
                               final=True)  # fmt: skip
            return
        try:
            if nsfw:  # an image is blurred: the caption must say why, the frontend hides it
                await self.store.update_meta(h.id, nsfw=True)
            await self.store.finish_job(h.id, str(path), draw_s, self.generator.model)
            stored = await self.store.get_job(h.id)
        except StorageError as exc:
            await self._finish(h, FAILED, error=f"storage: {exc}")
            return
        h.job = stored or replace(h.job, image_path=str(path), draw_s=draw_s)
        await self._finish(h, DONE)

    async def _failed(self, batch: list[JobHandle], reason: str, final: bool = False) -> None:
        for h in batch:
            last = final or h.job.attempts + 1 >= self.max_attempts
            try:
                attempts = await self.store.record_failure(h.id, reason, last)
            except StorageError as exc:
                await self._finish(h, FAILED, error=f"storage: {exc}")
                continue
            final_here = last
            h.job = replace(h.job, attempts=attempts, error=reason)
            if final_here:
                await self._finish(h, FAILED, error=reason)
            else:
                h.status = QUEUED
                h.solo = True
                self._enqueue(h, front=True)

    async def _finish(self, h: JobHandle, status: Status, error: str | None = None) -> None:
        """The one way a job ends. The store is told where it was not yet (a cancel, or a
        failure the store itself caused); if even that fails, the handle still ends, its
        listeners still run, and `final_states` keeps the outcome for delivery."""
        h.status = status
        h.error = error
        h.job = replace(h.job, status=status, error=error or h.job.error)
        self.metrics.job_finished(status)
        r = h.job
        log.info(
            "job id=%s user=%s status=%s attempts=%s wait_s=%.2f draw_s=%.2f seed=%s%s%s",
            h.id, h.job.user_key, status, h.job.attempts, r.wait_s or 0.0,
            r.draw_s or 0.0, h.job.params.seed,
            f" error={error!r}" if error and status == FAILED else "",
            "" if self.privacy else f" prompt={h.job.params.prompt!r}",
        )  # fmt: skip
        if status == CANCELLED or (error or "").startswith("storage:"):
            try:
                await self.store.set_status(h.id, status, error)
            except StorageError:
                self.final_states[h.id] = (status, error)
        h._notify()
        self.handles.pop(h.id, None)
        for listener in self.listeners:
            try:
                await listener(h)
            except Exception:
                log.exception("job listener failed for job %s", h.id)
