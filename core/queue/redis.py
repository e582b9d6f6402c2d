"""The coordinator's side of `[queue] backend = "redis"`: batches go to the runners through
one Redis stream per catalogue model, results come back through another. SQLite stays the
record of every job; Redis is transport only.

- Routing by model (issue #30): a batch goes to its model's stream, which only the runners
  serving that model read (their heartbeats list the models they serve and have loaded).
  A model may have as many batches in flight as live runners serve it (`capacity`); a
  model no live runner serves gets none, and its jobs wait in the worker's queue, paused.
- Fairness stays here: the worker's round-robin queue hands out a batch only when its model
  has a free slot, so no user's backlog sits in Redis ahead of another user's job by more
  than a model's runners.
- Results are read through the consumer group `coordinator`; one the bot did not take
  before a restart is read again after it. A job finishes once in SQLite, so a batch drawn
  twice (a runner killed after drawing, before acknowledging) is delivered once.
- Every few seconds each awaited job is checked against the stream: one that is neither
  there nor answered (a Redis restarted without its data) is sent again.
- Redis unreachable, or no live runner (none has beaten its heartbeat for `claim_after_s`):
  `paused` is true, so every waiting user is told that drawing is paused and their request
  is saved; requests are still accepted into SQLite. Unreachable: the batch goes back to the
  queue until a ping answers again. No runner for a model: its jobs wait in the queue (a
  batch already sent waits in its stream, taken over by the next runner serving it).
- A batch that stopped two runners (taken twice, silent twice) is failed as poison by
  whoever sees it first, this coordinator or a runner: it is never handed out again.
- `/reload` rolls through the runners that have the model loaded (core/queue/control.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from core.errors import ModelError
from core.jobs.job import Job
from core.queue import (
    Cancelled,
    DrawingPaused,
    Drawn,
    Progress,
    RunnerInfo,
    control,
)
from core.queue.control import RunnerControl
from core.queue.routing import demand
from core.queue.streams import ensure_groups, fail_poisoned, poisoned
from core.queue.wire import (
    GROUP_COORDINATOR,
    GROUP_RUNNERS,
    Keys,
    WireResult,
    WireStatus,
    as_text,
    batch_failure,
    decode_jobs,
    decode_results,
    encode_jobs,
    from_png,
    is_connection_error,
    runner_info,
)

log = logging.getLogger("zime.redis")

RECONCILE_S = 2.0


class RedisDrawer(RunnerControl):
    def __init__(
        self,
        url: str,
        *,
        prefix: str = "zime",
        claim_after_s: float = 30.0,
        result_ttl_s: float = 86400.0,
        name: str = "coordinator",
        models: tuple[str, ...] = ("default",),
    ) -> None:
        self.url = url
        self.models = models  # the catalogue's names; the first draws jobs that name none
        self.keys = Keys(prefix)
        self.claim_after_s = claim_after_s
        self.result_ttl_s = result_ttl_s
        self.name = name
        self._client: Any = None
        self._connected = False
        self._changed = asyncio.Event()  # a slot, a runner or the connection changed
        self._runners: list[RunnerInfo] = []
        self._waiting: dict[int, asyncio.Future[WireResult]] = {}
        self._progress: dict[int, Progress] = {}
        self._early: dict[int, WireResult] = {}  # results for jobs not awaited yet
        self._dispatched: set[int] = set()  # in the jobs stream at start: not sent again
        self._jobs: dict[int, Job] = {}
        self._missing: dict[int, int] = {}
        self._tasks: list[asyncio.Task[None]] = []
        self._closing = False
        self._queued: Callable[[], list[tuple[str, float]]] = list  # the worker's backlog
        self._last_model = ""

    # Drawer
    @property
    def paused(self) -> bool:
        return not self._connected or self._live() == 0

    def capacity(self) -> dict[str, int]:
        """Batches each model may have in flight: one per live runner serving it."""
        out: dict[str, int] = {}
        for r in self._runners:
            if not r.down:
                for model in r.served:
                    out[model] = out.get(model, 0) + 1
        return out

    def observe(self, queued: Callable[[], list[tuple[str, float]]]) -> None:
        """The worker's queued jobs as (model, seconds waited), published for the runners
        (`routing.waiting_work`) every watch period."""
        self._queued = queued

    async def _publish_demand(self) -> None:
        backlog = demand(self._queued())
        pipe = self._client.pipeline(transaction=True)
        pipe.delete(self.keys.demand)
        if backlog:
            pipe.hset(self.keys.demand, mapping=backlog)
            pipe.expire(self.keys.demand, max(10, int(4 * self.claim_after_s)))
        await pipe.execute()

    def _route(self, job: Job) -> str:
        """A job's model, for its stream (one from before the catalogue: the default)."""
        model = job.params.model
        return model if model in self.models else self.models[0]

    def _streams(self) -> list[str]:
        """Every model stream there may be batches in: the catalogue's, any a runner serves."""
        names = dict.fromkeys([*self.models, *(m for r in self._runners for m in r.served)])
        return [self.keys.stream(m) for m in names]

    async def _entries(self) -> list[tuple[str, Any, dict[bytes, bytes]]]:
        """Every batch in the model streams: (stream, entry id, fields)."""
        pipe = self._client.pipeline(transaction=False)
        streams = self._streams()
        for stream in streams:
            pipe.xrange(stream, "-", "+")
        got = await pipe.execute()
        return [(s, i, f) for s, entries in zip(streams, got, strict=True) for i, f in entries]

    async def start(self) -> None:
        import redis.asyncio as aioredis

        self._client = aioredis.from_url(
            self.url, socket_timeout=control.SOCKET_TIMEOUT_S, health_check_interval=5
        )
        try:
            await self._connect()
            await self._refresh_runners()
            # What a previous coordinator sent: batches still in the streams are awaited, not
            # sent again; results it did not take are read first by the results loop.
            entries = await self._entries()
            self._dispatched = {j.id for _s, _i, f in entries for j in decode_jobs(f[b"jobs"])}
        except Exception as exc:
            if not is_connection_error(exc):
                raise
            log.warning("redis at %s unreachable at start (%s): drawing paused", self.url, exc)
        self._tasks = [
            asyncio.create_task(coro)
            for coro in (self._results_loop(), self._progress_loop(), self._watch_loop())
        ]

    async def stop(self) -> None:
        # The loops end on the flag too: redis-py may turn a cancel inside a blocking read
        # into a connection error, which a loop would otherwise retry forever.
        self._closing = True
        for task in self._tasks:
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=5)
        if self._client is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._client.aclose(), 5)

    async def slot(self) -> None:
        """Redis is reachable. How many batches may go is per model (`capacity`), counted by
        the worker: a batch whose runner died does not hold up other models' batches."""
        while not self._connected:
            self._changed.clear()
            # asyncio.wait, not wait_for: Python 3.11's wait_for can swallow a cancel
            waiter = asyncio.ensure_future(self._changed.wait())
            try:
                await asyncio.wait({waiter}, timeout=1.0)
            finally:
                waiter.cancel()

    def release(self) -> None:
        self._changed.set()

    async def draw(self, jobs: list[Job], progress: Progress, cancelled: Cancelled) -> Drawn:
        if not self._connected:
            raise DrawingPaused("redis unreachable")
        loop = asyncio.get_running_loop()
        futures = {}
        for job in jobs:
            fut: asyncio.Future[WireResult] = loop.create_future()
            if job.id in self._early:
                fut.set_result(self._early.pop(job.id))
            self._waiting[job.id] = futures[job.id] = fut
            self._progress[job.id] = progress
            self._jobs[job.id] = job
        try:
            todo = [j for j in jobs if not futures[j.id].done() and j.id not in self._dispatched]
            if todo:
                await self._dispatch(todo)
            results = await self._await(futures, cancelled)
            return await self._collect(jobs, results)
        except Exception as exc:
            if is_connection_error(exc):
                self._connected = False
                raise DrawingPaused(str(exc)) from exc
            raise
        finally:
            for job in jobs:
                self._waiting.pop(job.id, None)
                self._progress.pop(job.id, None)
                self._jobs.pop(job.id, None)
                self._dispatched.discard(job.id)
                self._missing.pop(job.id, None)

    def runners(self) -> list[RunnerInfo]:
        return list(self._runners)

    # inside
    async def _connect(self) -> None:
        await self._client.ping()
        await ensure_groups(self._client, self.keys, self.models)
        if not self._connected:
            log.info("redis at %s reachable: drawing", self.url)
        self._connected = True
        self._changed.set()

    async def _dispatch(self, jobs: list[Job]) -> None:
        pipe = self._client.pipeline(transaction=True)
        ttl = int(self.result_ttl_s)
        for job in jobs:
            for path, key in (
                (job.params.init_image, self.keys.input(job.id)),
                (job.params.mask_image, self.keys.mask(job.id)),
            ):
                if path:
                    pipe.set(key, await asyncio.to_thread(Path(path).read_bytes), ex=ttl)
        stream = self.keys.stream(self._route(jobs[0]))  # a batch never mixes models
        pipe.xadd(stream, {"jobs": encode_jobs([(j.id, j.params) for j in jobs])})
        await pipe.execute()

    async def _await(
        self, futures: dict[int, asyncio.Future[WireResult]], cancelled: Cancelled
    ) -> dict[int, WireResult]:
        sent_cancel = False
        pending = set(futures.values())
        while pending:
            _done, pending = await asyncio.wait(pending, timeout=0.25)
            if not sent_cancel and cancelled():
                sent_cancel = True
                pipe = self._client.pipeline(transaction=False)
                for job_id in futures:
                    pipe.set(self.keys.cancel(job_id), 1, ex=3600)
                with contextlib.suppress(Exception):
                    await pipe.execute()
        return {job_id: fut.result() for job_id, fut in futures.items()}

    async def _collect(self, jobs: list[Job], results: dict[int, WireResult]) -> Drawn:
        failure = batch_failure(list(results.values()))
        if failure is not None:
            raise failure
        images: list[tuple[Any, bool]] = []
        first = next(r for r in results.values() if r.status == WireStatus.DONE)
        for job in jobs:
            r = results[job.id]
            keys = [self.keys.image(job.id, n) for n in range(1, job.params.count + 1)]
            if r.status != WireStatus.DONE:  # cancelled beside drawn ones: the worker drops it
                images += [(None, False)] * job.params.count
                continue
            blobs = await self._client.mget(keys)
            if any(b is None for b in blobs):
                raise ModelError(f"the images of job {job.id} expired in redis")
            pictures = [await asyncio.to_thread(from_png, b) for b in blobs]
            images += list(zip(pictures, r.flags or [False] * len(pictures), strict=True))
        with contextlib.suppress(Exception):  # kept on the coordinator's disk from here
            await self._client.delete(
                *[self.keys.image(j.id, n) for j in jobs for n in range(1, j.params.count + 1)],
                *[self.keys.input(j.id) for j in jobs],
                *[self.keys.mask(j.id) for j in jobs],
            )
        self._last_model = first.model or self._last_model
        return Drawn(images, first.draw_s, first.runner, first.model, first.taken_at)

    async def _results_loop(self) -> None:
        """Results through the consumer group: first any this coordinator read but did not
        acknowledge before a restart, then new ones."""
        start = "0"
        while not self._closing:
            try:
                got = await self._client.xreadgroup(
                    GROUP_COORDINATOR, self.name, {self.keys.results: start}, count=20, block=1000
                )
                entries = [e for _stream, es in got or [] for e in es]
                if start == "0" and not entries:
                    start = ">"
                for entry_id, fields in entries:
                    if fields:
                        for result in decode_results(fields[b"results"]):
                            self._resolve(result)
                    await self._client.xack(self.keys.results, GROUP_COORDINATOR, entry_id)
                    await self._client.xdel(self.keys.results, entry_id)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the watch loop decides whether Redis is down
                log.debug("results loop: %s", exc)
                await asyncio.sleep(0.5)
                start = "0"

    def _resolve(self, result: WireResult) -> None:
        fut = self._waiting.get(result.id)
        if fut is not None and not fut.done():
            fut.set_result(result)
        elif fut is None:
            self._early[result.id] = result  # a job restored after a restart, not taken yet

    async def _progress_loop(self) -> None:
        while not self._closing:
            try:
                async with self._client.pubsub() as pubsub:
                    await pubsub.subscribe(self.keys.progress)
                    async for message in pubsub.listen():
                        if message.get("type") != "message":
                            continue
                        data = json.loads(message["data"])
                        for job_id in data["ids"]:
                            callback = self._progress.get(int(job_id))
                            if callback is not None:
                                callback(int(data["step"]), int(data["total"]))
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the watch loop decides whether Redis is down
                log.debug("progress loop: %s", exc)
                await asyncio.sleep(0.5)

    async def _watch_loop(self) -> None:
        """Runners and their heartbeats; the jobs stream against what is awaited."""
        while not self._closing:
            try:
                await self._connect()
                await self._refresh_runners()
                await self._reconcile()
                await self._fail_poisoned()
                await self._publish_demand()
                await asyncio.sleep(min(RECONCILE_S, self.claim_after_s / 2))
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                await self._lost(exc)

    async def _refresh_runners(self) -> None:
        now = time.time()
        raw = await self._client.hgetall(self.keys.runners)
        runners = sorted(
            (runner_info(v, now, self.claim_after_s) for v in raw.values()), key=lambda r: r.name
        )
        if [(r.name, r.down) for r in runners] != [(r.name, r.down) for r in self._runners]:
            self._changed.set()
        self._runners = runners

    async def _reconcile(self) -> None:
        """Awaited jobs that are neither in the stream nor answered, twice in a row, were
        lost (a Redis restart without its data): send them again."""
        entries = await self._entries()
        in_stream = {j.id for _s, _id, fields in entries for j in decode_jobs(fields[b"jobs"])}
        for job_id, fut in list(self._waiting.items()):
            if fut.done() or job_id in in_stream:
                self._missing.pop(job_id, None)
                continue
            self._missing[job_id] = self._missing.get(job_id, 0) + 1
        lost = [i for i, n in self._missing.items() if n >= 2]
        if lost:
            log.warning("jobs %s are not in redis any more: sending them again", lost)
            for job_id in lost:
                self._missing.pop(job_id, None)
            await self._dispatch([self._jobs[i] for i in lost if i in self._jobs])

    async def _fail_poisoned(self) -> None:
        """Batches whose holder went silent after they were handed out twice stopped two
        runners: failed here, so the answer comes even when no runner is left to see it."""
        for stream in self._streams():
            pending = await self._client.xpending_range(stream, GROUP_RUNNERS, "-", "+", 100)
            for p in pending:
                times = int(p["times_delivered"])
                if not poisoned(times) or p["time_since_delivered"] < self.claim_after_s * 1000:
                    continue
                entry_id = p["message_id"]
                entries = await self._client.xrange(stream, entry_id, entry_id)
                if entries and entries[0][1]:
                    await fail_poisoned(
                        self._client,
                        self.keys,
                        stream,
                        as_text(entry_id),
                        entries[0][1][b"jobs"],
                        times,
                        self.name,
                    )

    async def _lost(self, exc: BaseException) -> None:
        if self._connected:
            log.warning("redis at %s unreachable (%s): drawing paused", self.url, exc)
        self._connected = False  # nothing awaited is lost: it is in SQLite and in the stream
        self._changed.set()
        await asyncio.sleep(1.0)
