"""A GPU runner (`python -m core runner`): takes batches from the Redis jobs streams of the
models it serves, draws them and reports progress and results. Start any number, on any
machine that reaches Redis.

- Each catalogue model has its own jobs stream; the runner reads those of its loaded models
  first, and loads another served model only as `core.queue.routing` decides (pressure,
  `swap_after_s`, room). Its heartbeat lists the models it serves and those it has loaded.
- Batches come through the consumer group `runners` (XREADGROUP); a batch is acknowledged
  (XACK) in the same transaction that publishes its result.
- A batch whose runner went silent for `claim_after_s` is taken over (XAUTOCLAIM) by a
  runner serving its model. While a runner draws, it renews its claims (XCLAIM) and its
  heartbeat, so a long batch is never taken from a live runner.
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
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from core.draw.generate import Generator
from core.errors import JobCancelled
from core.queue import DrawTimeout, ModelHung
from core.queue.local import ThreadDrawer
from core.queue.routing import pick_cold, waiting_work
from core.queue.streams import ensure_groups, fail_poisoned, poisoned, publish
from core.queue.wire import (
    GROUP_RUNNERS,
    Keys,
    WireJob,
    WireResult,
    WireStatus,
    as_text,
    decode_jobs,
    png_bytes,
    runner_info,
)

log = logging.getLogger("zime.runner")

BLOCK_MS = 1000  # how long one read waits for a batch (control commands wait as long)
COLD_POLL_S = 0.2  # with no model loaded: how often to look for work to load one for

Entry = tuple[str, str, dict[bytes, bytes]]  # stream, entry id, fields


def default_name() -> str:
    return f"{socket.gethostname()}-{os.getpid()}"


class Runner:
    def __init__(
        self,
        generator: Generator,
        url: str,
        *,
        models: Sequence[str] = (),
        name: str = "",
        device: str = "",
        prefix: str = "zime",
        claim_after_s: float = 30.0,
        job_timeout_s: float = 300.0,
        hang_grace_s: float = 10.0,
        result_ttl_s: float = 86400.0,
        swap_after_s: float = 20.0,
    ) -> None:
        self.generator = generator
        self.url = url
        # the catalogue models it draws: a pool's (`ModelPool.paths`), or those named
        self.served = list(models) or list(getattr(generator, "paths", None) or ())
        if not self.served:
            raise ValueError("a runner serves at least one catalogue model")
        self.name = name or default_name()
        self.device = device or str(getattr(generator, "device", "") or "")
        self.keys = Keys(prefix)
        self.claim_after_s = claim_after_s
        self.result_ttl_s = result_ttl_s
        self.swap_after_s = swap_after_s
        self._drawer = ThreadDrawer(generator, job_timeout_s, hang_grace_s)
        self._models = {self.keys.stream(m): m for m in self.served}
        self.busy: list[int] = []
        self.drawn = 0  # batches drawn, for tests and logs
        self.wedged = False
        self._held: list[Entry] = []  # read in one go with the one being drawn; drawn next
        self._drawing = ""  # the model of the batch being drawn (loaded, or loading)
        self._stop = asyncio.Event()
        self._client: Any = None

    def stop(self) -> None:
        self._stop.set()

    @property
    def heartbeat_every_s(self) -> float:
        return max(0.05, min(1.0, self.claim_after_s / 3))

    def loaded(self) -> list[str]:
        """The served models in memory now (a pool's resident ones; a single model always)."""
        resident = getattr(self.generator, "loaded", None)
        if not callable(resident):
            return list(self.served)
        return [m for m in resident() if m in self._models.values()]

    def _room(self) -> bool:
        limit = getattr(self.generator, "max_resident", None)
        return isinstance(limit, int) and len(self.loaded()) < limit

    async def run(self) -> None:
        """Serve until `stop()`; a wedged model ends the loop (the process should exit)."""
        import redis.asyncio as aioredis
        from redis.exceptions import ConnectionError as RedisConnectionError
        from redis.exceptions import TimeoutError as RedisTimeoutError

        self._client = aioredis.from_url(
            self.url, socket_timeout=BLOCK_MS / 1000 + 5, health_check_interval=5
        )
        backoff = 0.2
        log.info(
            "runner %s on %s serving %s (models: %s)",
            self.name,
            self.device or "?",
            self.url,
            ", ".join(self.served),
        )
        connected, last_beat = False, 0.0
        try:
            while not self._stop.is_set() and not self.wedged:
                try:
                    if not connected:
                        await ensure_groups(self._client, self.keys, self.served)
                        connected = True
                    entry = None
                    if time.monotonic() - last_beat >= self.heartbeat_every_s:
                        # housekeeping once a heartbeat, not before every batch
                        await self._beat()
                        await self._control()
                        entry = await self._claim_dead()
                        last_beat = time.monotonic()
                    entry = entry or await self._next()
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
                    await self._pause(backoff)
                    backoff = min(5.0, backoff * 2)
        finally:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._client.hdel(self.keys.runners, self.name), 5)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._client.aclose(), 5)

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), seconds)

    async def _beat(self) -> None:
        loaded = self.loaded()
        if self._drawing and self._drawing not in loaded:
            loaded.append(self._drawing)  # loading it: no other runner needs to
        info = {
            "name": self.name,
            "device": self.device,
            "model": self.generator.model,
            "busy": bool(self.busy),
            "jobs": self.busy,
            "models": self.served,
            "loaded": loaded,
            "loads": dict(getattr(self.generator, "loads", {})),
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

    def _order(self) -> list[str]:
        """The served models, the loaded ones first."""
        loaded = self.loaded()
        return loaded + [m for m in self.served if m not in loaded]

    async def _claim_dead(self) -> Entry | None:
        """A batch pending with a runner silent for claim_after_s: it died; draw it here."""
        ms = int(self.claim_after_s * 1000)
        for model in self._order():
            stream = self.keys.stream(model)
            result = await self._client.xautoclaim(
                stream, GROUP_RUNNERS, self.name, ms, "0-0", count=1
            )
            for entry_id, fields in result[1]:
                if not fields:  # None: the entry was deleted meanwhile
                    continue
                pending = await self._client.xpending_range(
                    stream, GROUP_RUNNERS, entry_id, entry_id, 1
                )
                times = int(pending[0]["times_delivered"]) if pending else 1
                if poisoned(times - 1):  # this claim counts too: `times - 1` runners stopped
                    await fail_poisoned(
                        self._client,
                        self.keys,
                        stream,
                        as_text(entry_id),
                        fields[b"jobs"],
                        times - 1,
                        self.name,
                    )
                    continue
                log.warning(
                    "runner %s takes over batch %s from a silent runner", self.name, entry_id
                )
                return stream, as_text(entry_id), fields
        return None

    async def _next(self) -> Entry | None:
        """The next batch: one read with the last, then the loaded models' streams, then
        work for a model to load (`routing.pick_cold`), else a short blocking wait."""
        if self._held:
            return self._held.pop(0)
        loaded = self.loaded()
        if loaded and (entry := await self._read(loaded, None)):
            return entry
        cold = await self._cold(loaded)
        if cold is not None and (entry := await self._read([cold], None)):
            log.info("runner %s loads %s for its waiting work", self.name, cold)
            return entry
        if loaded:
            return await self._read(loaded, BLOCK_MS)
        await self._pause(COLD_POLL_S)
        return None

    async def _cold(self, loaded: list[str]) -> str | None:
        others = [m for m in self.served if m not in loaded]
        if not others:
            return None
        waiting = await waiting_work(self._client, self.keys, others)
        if not waiting:
            return None
        now = time.time()
        elsewhere = {
            m
            for raw in (await self._client.hgetall(self.keys.runners)).values()
            for r in [runner_info(raw, now, self.claim_after_s)]
            if r.name != self.name and not r.down
            for m in r.loaded
        }
        return pick_cold(waiting, set(loaded), self._room(), elsewhere, self.swap_after_s)

    async def _read(self, models: list[str], block: int | None) -> Entry | None:
        streams = {self.keys.stream(m): ">" for m in models}
        result = await self._client.xreadgroup(
            GROUP_RUNNERS, self.name, streams, count=1, block=block
        )
        entries = [
            (as_text(stream), as_text(entry_id), fields)
            for stream, got in result or []
            for entry_id, fields in got
        ]
        self._held.extend(entries[1:])  # several streams answered at once: drawn next
        return entries[0] if entries else None

    async def _draw(self, stream: str, entry_id: str, fields: dict[bytes, bytes]) -> None:
        taken_at = time.time()
        model = self._models.get(stream, "")
        if model not in self.loaded():
            self._drawing = model
            await self._beat()  # the others see it loading here at once
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
            self._drawing = model
            try:
                drawn = await self._generate(stream, entry_id, todo, cancelled)
            finally:
                self.busy = []
                self._drawing = ""
            results += drawn[0]
            images = drawn[1]
        self._drawing = ""
        for r in results:
            r.taken_at = taken_at
        await publish(self._client, self.keys, stream, entry_id, results, images, self.result_ttl_s)
        self.drawn += 1

    async def _generate(
        self, stream: str, entry_id: str, jobs: list[WireJob], cancelled: set[int]
    ) -> tuple[list[WireResult], dict[int, list[bytes]]]:
        """Draw one batch with a live claim; returns per-job results and PNG bytes."""
        with tempfile.TemporaryDirectory(prefix="zime-runner-") as tmp:
            params = []
            for j in jobs:
                files: list[str | None] = []
                for field, key in (("init_image", self.keys.input), ("mask_image", self.keys.mask)):
                    data = await self._client.get(key(j.id)) if j.params.get(field) else None
                    if j.params.get(field) and data is None:
                        return self._all(jobs, WireStatus.FAILED, "the start image expired")
                    path = os.path.join(tmp, f"{j.id}-{field}.png") if data else None
                    if path and data is not None:
                        await asyncio.to_thread(Path(path).write_bytes, data)
                    files.append(path)
                params.append(j.gen_params(*files))
            expanded = [p for gp in params for p in gp.expanded()]
            ids = [j.id for j in jobs]
            stop_flags = {"cancel": False}

            publishing: set[asyncio.Task[Any]] = set()

            def progress(step: int, total: int) -> None:
                message = json.dumps({"ids": ids, "step": step, "total": total})
                task = asyncio.ensure_future(self._client.publish(self.keys.progress, message))
                publishing.add(task)  # kept until sent; a lost update is harmless
                task.add_done_callback(publishing.discard)

            keeper = asyncio.create_task(self._keep_claim(stream, entry_id, ids, stop_flags))
            try:  # the same deadline and hang rules as drawing in the bot's own process
                drawn = await self._drawer.draw_params(
                    expanded, progress, lambda: stop_flags["cancel"]
                )
            except ModelHung:
                self.wedged = True  # the process must be restarted: report, then stop
                log.error("runner %s: the model call hung; stopping", self.name)
                return self._all(jobs, WireStatus.TIMEOUT, "model hung")
            except DrawTimeout as exc:
                return self._all(jobs, WireStatus.TIMEOUT, str(exc))
            except JobCancelled:
                return self._all(jobs, WireStatus.CANCELLED, "")
            except Exception as exc:
                log.warning("runner %s: batch %s failed: %s", self.name, ids, exc)
                return self._all(jobs, WireStatus.FAILED, str(exc) or type(exc).__name__)
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

    def _all(
        self, jobs: list[WireJob], status: WireStatus, error: str
    ) -> tuple[list[WireResult], dict[int, list[bytes]]]:
        """The same outcome for every job of a batch, without images."""
        return [WireResult(j.id, status, error=error, runner=self.name) for j in jobs], {}

    async def _keep_claim(
        self, stream: str, entry_id: str, ids: list[int], flags: dict[str, bool]
    ) -> None:
        """While drawing: renew the claims on the batch (and on any read with it) and the
        heartbeat, and look for cancels."""
        while not flags.get("done"):  # the flag, not only the cancel: see RedisDrawer.stop
            await asyncio.sleep(self.heartbeat_every_s)
            with contextlib.suppress(Exception):  # a Redis blip must not stop the drawing
                for key, held_id, _fields in [(stream, entry_id, {}), *self._held]:
                    await self._client.xclaim(
                        key, GROUP_RUNNERS, self.name, 0, [held_id], justid=True
                    )
                await self._beat()
                cancels = [await self._client.exists(self.keys.cancel(i)) for i in ids]
                if all(cancels):
                    flags["cancel"] = True
