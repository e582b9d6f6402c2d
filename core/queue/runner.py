"""A GPU runner (`python -m core runner`): takes batches from the Redis jobs stream, draws
them and reports progress and results. Start any number, on any machine that reaches Redis.

- Batches come through the consumer group `runners` (XREADGROUP); a batch is acknowledged
  (XACK) in the same transaction that publishes its result.
- A batch whose runner went silent for `claim_after_s` is taken over (XAUTOCLAIM). While a
  runner draws, it renews its claim (XCLAIM of its own entry) and its heartbeat, so a long
  batch is never taken from a live runner.
- Cancel keys are checked while drawing; progress is published on a channel.
- Redis going away never ends the runner: it reconnects with backoff.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import tempfile
import time
from pathlib import Path
from typing import Any

from core.draw.generate import Generator
from core.errors import JobCancelled
from core.queue import DrawTimeout, ModelHung
from core.queue.local import ThreadDrawer
from core.queue.wire import (
    GROUP_COORDINATOR,
    GROUP_RUNNERS,
    Keys,
    WireJob,
    WireResult,
    WireStatus,
    as_text,
    decode_jobs,
    encode_results,
    png_bytes,
)

log = logging.getLogger("zime.runner")

BLOCK_MS = 1000  # how long one read waits for a batch (control commands wait as long)
POISON_AFTER = 2  # a batch delivered this often without a result stopped that many runners


def poisoned(times_delivered: int) -> bool:
    """A batch handed out this often and silent again stopped every runner that took it:
    it is failed, never handed out again (checked by the runners and the coordinator)."""
    return times_delivered >= POISON_AFTER


async def publish(
    client: Any,
    keys: Keys,
    entry_id: str,
    results: list[WireResult],
    images: dict[int, list[bytes]],
    ttl_s: float,
) -> None:
    """A batch's images, its results and its acknowledgement, in one transaction."""
    pipe = client.pipeline(transaction=True)
    for job_id, pictures in images.items():
        for n, data in enumerate(pictures, 1):
            pipe.set(keys.image(job_id, n), data, ex=int(ttl_s))
    pipe.xadd(keys.results, {"results": encode_results(results), "entry": entry_id})
    pipe.xack(keys.jobs, GROUP_RUNNERS, entry_id)
    pipe.xdel(keys.jobs, entry_id)
    await pipe.execute()


async def fail_poisoned(
    client: Any, keys: Keys, entry_id: str, jobs_field: bytes, times: int, who: str
) -> None:
    log.error("batch %s was taken %d times without a result: failing it", entry_id, times)
    error = f"the batch stopped {times} runners"
    results = [
        WireResult(j.id, WireStatus.POISON, error=error, runner=who)
        for j in decode_jobs(jobs_field)
    ]
    await publish(client, keys, entry_id, results, {}, 0)


def default_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


async def ensure_groups(client: Any, keys: Keys) -> None:
    """The jobs and results streams and their consumer groups (idempotent)."""
    import redis

    for stream, group in ((keys.jobs, GROUP_RUNNERS), (keys.results, GROUP_COORDINATOR)):
        try:
            await client.xgroup_create(stream, group, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise


class Runner:
    def __init__(
        self,
        generator: Generator,
        url: str,
        *,
        name: str = "",
        device: str = "",
        prefix: str = "zime",
        claim_after_s: float = 30.0,
        job_timeout_s: float = 300.0,
        hang_grace_s: float = 10.0,
        result_ttl_s: float = 86400.0,
    ) -> None:
        self.generator = generator
        self.url = url
        self.name = name or default_name()
        self.device = device or str(getattr(generator, "device", "") or "")
        self.keys = Keys(prefix)
        self.claim_after_s = claim_after_s
        self.result_ttl_s = result_ttl_s
        self._drawer = ThreadDrawer(generator, job_timeout_s, hang_grace_s)
        self.busy: list[int] = []
        self.drawn = 0  # batches drawn, for tests and logs
        self.wedged = False
        self._stop = asyncio.Event()
        self._client: Any = None

    def stop(self) -> None:
        self._stop.set()

    @property
    def heartbeat_every_s(self) -> float:
        return max(0.05, min(1.0, self.claim_after_s / 3))

    async def run(self) -> None:
        """Serve until `stop()`; a wedged model ends the loop (the process should exit)."""
        import redis.asyncio as aioredis
        from redis.exceptions import ConnectionError as RedisConnectionError
        from redis.exceptions import TimeoutError as RedisTimeoutError

        self._client = aioredis.from_url(
            self.url, socket_timeout=BLOCK_MS / 1000 + 5, health_check_interval=5
        )
        backoff = 0.2
        log.info("runner %s on %s serving %s", self.name, self.device or "?", self.url)
        connected, last_beat = False, 0.0
        try:
            while not self._stop.is_set() and not self.wedged:
                try:
                    if not connected:
                        await ensure_groups(self._client, self.keys)
                        connected = True
                    if time.monotonic() - last_beat >= self.heartbeat_every_s:
                        # housekeeping once a heartbeat, not before every batch
                        await self._beat()
                        await self._control()
                        entry = await self._claim_dead()
                        last_beat = time.monotonic()
                    else:
                        entry = None
                    entry = entry or await self._read_new()
                    if entry is not None:
                        await self._draw(*entry)
                    backoff = 0.2
                except (RedisConnectionError, RedisTimeoutError, OSError) as exc:
                    connected = False
                    log.warning(
                        "runner %s: redis unreachable (%s); retrying in %.1f s",
                        self.name,
                        exc,
                        backoff,
                    )
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._stop.wait(), backoff)
                    backoff = min(5.0, backoff * 2)
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._client.hdel(self.keys.runners, self.name), 5)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._client.aclose(), 5)

    async def _beat(self) -> None:
        info = {
            "name": self.name,
            "device": self.device,
            "model": self.generator.model,
            "busy": bool(self.busy),
            "jobs": self.busy,
            "heartbeat": time.time(),
        }
        await self._client.hset(self.keys.runners, self.name, json.dumps(info))

    async def _control(self) -> None:
        """Commands for this runner (a rolling reload), between batches."""
        raw = await self._client.lpop(self.keys.control(self.name))
        if raw is None:
            return
        command = json.loads(raw)
        if command.get("op") == "reload":
            reply: dict[str, Any] = {"ok": True}
            beating = asyncio.create_task(self._beat_meanwhile())  # a long load is not death
            try:
                await asyncio.to_thread(self.generator.reload, command.get("model") or None)
                reply["model"] = self.generator.model
            except Exception as exc:
                reply = {"ok": False, "error": str(exc) or type(exc).__name__}
            finally:
                beating.cancel()
            await self._client.rpush(self.keys.reply(command["reply"]), json.dumps(reply))
            await self._client.expire(self.keys.reply(command["reply"]), 3600)

    async def _beat_meanwhile(self) -> None:
        while True:
            await asyncio.sleep(self.heartbeat_every_s)
            with contextlib.suppress(Exception):  # a Redis blip must not stop the reload
                await self._beat()

    async def _claim_dead(self) -> tuple[str, dict[bytes, bytes]] | None:
        """A batch pending with a runner silent for claim_after_s: it died; draw it here."""
        ms = int(self.claim_after_s * 1000)
        result = await self._client.xautoclaim(
            self.keys.jobs, GROUP_RUNNERS, self.name, ms, "0-0", count=1
        )
        for entry_id, fields in result[1]:
            if not fields:  # None: the entry was deleted meanwhile
                continue
            pending = await self._client.xpending_range(
                self.keys.jobs, GROUP_RUNNERS, entry_id, entry_id, 1
            )
            times = int(pending[0]["times_delivered"]) if pending else 1
            if poisoned(times - 1):  # this claim counts too: `times - 1` runners stopped on it
                await fail_poisoned(
                    self._client,
                    self.keys,
                    as_text(entry_id),
                    fields[b"jobs"],
                    times - 1,
                    self.name,
                )
                continue
            log.warning("runner %s takes over batch %s from a silent runner", self.name, entry_id)
            return as_text(entry_id), fields
        return None

    async def _read_new(self) -> tuple[str, dict[bytes, bytes]] | None:
        result = await self._client.xreadgroup(
            GROUP_RUNNERS, self.name, {self.keys.jobs: ">"}, count=1, block=BLOCK_MS
        )
        for _stream, entries in result or []:
            for entry_id, fields in entries:
                return as_text(entry_id), fields
        return None

    async def _draw(self, entry_id: str, fields: dict[bytes, bytes]) -> None:
        taken_at = time.time()
        jobs = decode_jobs(fields[b"jobs"])
        flags = await self._client.mget([self.keys.cancel(j.id) for j in jobs])
        cancelled = {j.id for j, flag in zip(jobs, flags, strict=True) if flag is not None}
        todo = [j for j in jobs if j.id not in cancelled]
        results = [
            WireResult(j.id, WireStatus.CANCELLED, runner=self.name)
            for j in jobs
            if j.id in cancelled
        ]
        images: dict[int, list[Any]] = {}
        if todo:
            self.busy = [j.id for j in todo]
            try:
                drawn = await self._generate(entry_id, todo, cancelled)
            finally:
                self.busy = []
            results += drawn[0]
            images = drawn[1]
        for r in results:
            r.taken_at = taken_at
        await publish(self._client, self.keys, entry_id, results, images, self.result_ttl_s)
        self.drawn += 1

    async def _generate(
        self, entry_id: str, jobs: list[WireJob], cancelled: set[int]
    ) -> tuple[list[WireResult], dict[int, list[bytes]]]:
        """Draw one batch with a live claim; returns per-job results and PNG bytes."""
        with tempfile.TemporaryDirectory(prefix="zime-runner-") as tmp:
            params = []
            for j in jobs:
                init = None
                if j.params.get("init_image"):
                    data = await self._client.get(self.keys.input(j.id))
                    if data is None:
                        return [
                            WireResult(
                                j.id,
                                WireStatus.FAILED,
                                error="the start image expired",
                                runner=self.name,
                            )
                            for j in jobs
                        ], {}
                    init = os.path.join(tmp, f"{j.id}.png")
                    await asyncio.to_thread(Path(init).write_bytes, data)
                params.append(j.gen_params(init))
            expanded = [p for gp in params for p in gp.expanded()]
            ids = [j.id for j in jobs]
            stop_flags = {"cancel": False}

            publishing: set[asyncio.Task[Any]] = set()

            def progress(step: int, total: int) -> None:
                message = json.dumps({"ids": ids, "step": step, "total": total})
                task = asyncio.ensure_future(self._client.publish(self.keys.progress, message))
                publishing.add(task)  # kept until sent; a lost update is harmless
                task.add_done_callback(publishing.discard)

            keeper = asyncio.create_task(self._keep_claim(entry_id, ids, stop_flags))
            try:  # the same deadline and hang rules as drawing in the bot's own process
                drawn = await self._drawer.draw_params(
                    expanded, progress, lambda: stop_flags["cancel"]
                )
            except ModelHung:
                self.wedged = True  # the process must be restarted: report, then stop
                log.error("runner %s: the model call hung; stopping", self.name)
                return [
                    WireResult(i, WireStatus.TIMEOUT, error="model hung", runner=self.name)
                    for i in ids
                ], {}
            except DrawTimeout as exc:
                return [
                    WireResult(i, WireStatus.TIMEOUT, error=str(exc), runner=self.name) for i in ids
                ], {}
            except JobCancelled:
                return [WireResult(i, WireStatus.CANCELLED, runner=self.name) for i in ids], {}
            except Exception as exc:
                log.warning("runner %s: batch %s failed: %s", self.name, ids, exc)
                return [
                    WireResult(
                        i, WireStatus.FAILED, error=str(exc) or type(exc).__name__, runner=self.name
                    )
                    for i in ids
                ], {}
            finally:
                stop_flags["done"] = True
                keeper.cancel()
        out, draw_s = drawn.images, drawn.draw_s
        results, pngs, start = [], {}, 0
        for j, gp in zip(jobs, params, strict=True):
            mine = out[start : start + gp.count]
            start += gp.count
            pngs[j.id] = [await asyncio.to_thread(png_bytes, img) for img, _ in mine]
            results.append(
                WireResult(
                    j.id,
                    WireStatus.DONE,
                    [bool(f) for _, f in mine],
                    "",
                    self.name,
                    self.generator.model,
                    draw_s,
                )
            )
        return results, pngs

    async def _keep_claim(self, entry_id: str, ids: list[int], flags: dict[str, bool]) -> None:
        """While drawing: renew the claim on the batch and the heartbeat, and look for
        cancels."""
        while not flags.get("done"):  # the flag, not only the cancel: see RedisDrawer.stop
            await asyncio.sleep(self.heartbeat_every_s)
            with contextlib.suppress(Exception):  # a Redis blip must not stop the drawing
                await self._client.xclaim(
                    self.keys.jobs, GROUP_RUNNERS, self.name, 0, [entry_id], justid=True
                )
                await self._beat()
                cancels = [await self._client.exists(self.keys.cancel(i)) for i in ids]
                if all(cancels):
                    flags["cancel"] = True
