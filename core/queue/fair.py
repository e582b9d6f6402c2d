"""The fair queue (round-robin per user) and the handle a frontend holds while a job waits.
The worker (core/queue/worker.py) owns one `FairQueue` and takes its batches from it."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import OrderedDict, deque
from collections.abc import Collection, Sequence
from dataclasses import replace
from typing import Protocol

from core.errors import Failure, JobCancelled, JobFailed
from core.jobs.job import Job, Status

QUEUED, DONE, CANCELLED = Status.QUEUED, Status.DONE, Status.CANCELLED
FINAL = (Status.DONE, Status.FAILED, Status.CANCELLED)


class Owner(Protocol):
    """What a handle asks of its worker."""

    def paused_for(self, model: str) -> bool: ...

    def position(self, job_id: int) -> int | None: ...


class JobHandle:
    """What a frontend holds while a job waits: status, queue position, progress, result."""

    def __init__(self, job: Job, worker: Owner) -> None:
        self.job = replace(job, status=QUEUED)  # one source: the status is the job's
        self.progress = 0.0
        self.cancel_requested = False
        self.solo = False  # retried after a batch failure: draw alone to isolate it
        self.queued_at = time.monotonic()  # how long it waits: a model swap's "pressure"
        self._worker = worker
        self._changed = asyncio.Event()
        self._done = asyncio.Event()

    @property
    def id(self) -> int:
        return self.job.id

    def waited(self) -> float:
        return time.monotonic() - self.queued_at

    @property
    def status(self) -> Status:
        return self.job.status

    @status.setter
    def status(self, value: Status) -> None:
        self.job = replace(self.job, status=value)

    @property
    def error(self) -> str | None:
        return self.job.error

    @property
    def paused(self) -> bool:
        """Waiting, or handed to a runner that stopped, while drawing is paused for its model
        (Redis unreachable, or no live runner serves it): it is saved, and drawn when a
        runner for it is back."""
        return not self.finished and self._worker.paused_for(self.job.params.model)

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
        raise JobFailed(self.error or "", self.job.failure or Failure.MODEL)

    @property
    def finished(self) -> bool:
        return self.status in FINAL


def with_room(capacity: dict[str, int] | None, flying: dict[str, int]) -> set[str] | None:
    """The models a batch may go for now: those with fewer batches in `flying` than their
    `capacity` (runners serving them); None: any model."""
    if capacity is None:
        return None
    return {m for m, n in capacity.items() if flying.get(m, 0) < n}


def finished_line(job: Job, privacy: bool) -> str:
    """The one log line of a finished job: ids and timings; the prompt only without
    `[logging] privacy`."""
    r = job
    error = f" error={r.error!r}" if r.error and r.status == Status.FAILED else ""
    prompt = "" if privacy else f" prompt={r.params.prompt!r}"
    return (
        f"job id={r.id} user={r.user_key} status={r.status} attempts={r.attempts}"
        f" wait_s={r.wait_s or 0.0:.2f} draw_s={r.draw_s or 0.0:.2f} seed={r.params.seed}"
        f"{error}{prompt}"
    )


class FairQueue:
    """Queued jobs, one queue per user, drawn round-robin: a user's backlog never holds up
    another user's first job."""

    def __init__(self) -> None:
        self._queues: OrderedDict[str, deque[JobHandle]] = OrderedDict()

    def __len__(self) -> int:
        return sum(len(q) for q in self._queues.values())

    def __bool__(self) -> bool:
        return bool(self._queues)

    def of_user(self, user_key: str) -> int:
        q = self._queues.get(user_key)
        return len(q) if q is not None else 0

    def add(self, handle: JobHandle, front: bool = False) -> None:
        q = self._queues.setdefault(handle.job.user_key, deque())
        if front:
            q.appendleft(handle)
        else:
            q.append(handle)

    def remove(self, handle: JobHandle) -> bool:
        """Take a queued handle out; False when it is not queued."""
        user = handle.job.user_key
        q = self._queues.get(user)
        if q is None or handle not in q:
            return False
        q.remove(handle)
        if not q:
            del self._queues[user]
        return True

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

    def notify_all(self) -> None:
        for q in self._queues.values():
            for h in q:
                h._notify()

    def next_job(
        self, order: list[JobHandle], loaded: list[str], swap_after_s: float, now: float
    ) -> JobHandle:
        """Which job goes next. Round-robin order, but a model swap is not paid per job:
        while a loaded model has jobs, they go first, unless another model's oldest job has
        waited `swap_after_s`; with none for a loaded model, the oldest job's model loads."""
        if not loaded:
            return order[0]
        oldest = min(order, key=lambda h: h.queued_at)
        if oldest.job.params.model not in loaded and now - oldest.queued_at >= swap_after_s:
            return oldest
        return next((h for h in order if h.job.params.model in loaded), oldest)

    def take_batch(
        self,
        batch_size: int,
        loaded: Sequence[str] = (),
        swap_after_s: float = 0.0,
        allowed: Collection[str] | None = None,
    ) -> list[JobHandle]:
        """The next job (`next_job`) and the compatible jobs after it (same batch key, the
        model included, up to `batch_size` images: a grid of 4 is 4); their users go to the
        back. `allowed`: only jobs of these models may go now (None: any)."""
        order = self.order()
        if allowed is not None:
            order = [h for h in order if h.job.params.model in allowed]
        if not order:
            return []
        first = self.next_job(order, list(loaded), swap_after_s, time.monotonic())
        order = [first, *(h for h in order if h is not first)]
        batch = [first]
        images = first.job.params.count
        if not first.solo:
            key = first.job.params.batch_key()
            for h in order[1:]:
                if images >= batch_size:
                    break
                n = h.job.params.count
                if not h.solo and h.job.params.batch_key() == key and images + n <= batch_size:
                    batch.append(h)
                    images += n
        for h in batch:
            user = h.job.user_key
            self._queues[user].remove(h)
            self._queues.move_to_end(user)  # round-robin: this user goes to the back
            if not self._queues[user]:
                del self._queues[user]
        return batch

    def clear(self) -> list[JobHandle]:
        """Empty the queue; returns what was in it, in drawing order."""
        taken = self.order()
        self._queues.clear()
        return taken
