"""`[queue] isolate = true`: the image model runs in a child process. A call that hangs past
its timeout (a wedged CUDA kernel) or a child that crashes is killed and restarted; the
batch fails with one sentence, and the bot and its queue stay up.

Parent and child talk over a multiprocessing pipe:
  parent → child  ("draw", [GenParams]) · ("cancel",) · ("reload", model)
  child → parent  ("ready", model, device) · ("progress", step, total)
                  · ("done", [(image, flagged)]) · ("cancelled",) · ("failed", message)
                  · ("reloaded", model) · ("reload_failed", message)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import multiprocessing
import queue as thread_queue
import threading
import time
from collections.abc import Callable
from typing import Any

from core.draw.generate import Generator
from core.errors import JobCancelled, ModelError
from core.jobs.job import Job
from core.queue import Cancelled, Drawn, DrawTimeout, ModelHung, Progress, RunnerInfo

log = logging.getLogger("zime.child")

START_TIMEOUT_S = 600.0  # loading a full-size model from a cold disk


def _child_main(factory: Callable[[], Generator], conn: Any) -> None:
    """The child: load the model, then draw what the parent sends, one batch at a time."""
    generator = factory()
    generator.load()
    conn.send(("ready", generator.model, str(getattr(generator, "device", "") or "")))
    work: thread_queue.Queue[tuple[Any, ...]] = thread_queue.Queue()
    cancel = threading.Event()

    def read() -> None:  # cancels must arrive while the main thread draws
        while True:
            try:
                message = conn.recv()
            except (EOFError, OSError):
                work.put(("exit",))
                return
            if message[0] == "cancel":
                cancel.set()
            else:
                work.put(message)

    threading.Thread(target=read, daemon=True).start()
    while True:
        message = work.get()
        if message[0] == "exit":
            return
        if message[0] == "reload":
            try:
                generator.reload(message[1])
                conn.send(("reloaded", generator.model))
            except Exception as exc:
                conn.send(("reload_failed", str(exc)))
            continue
        cancel.clear()
        try:
            images = generator.generate(
                message[1], lambda s, t: conn.send(("progress", s, t)), cancel.is_set
            )
            conn.send(("done", images))
        except JobCancelled:
            conn.send(("cancelled",))
        except Exception as exc:
            conn.send(("failed", str(exc) or type(exc).__name__))


class ChildDrawer:
    """One batch at a time in a child process that is replaced when it hangs or dies."""

    def __init__(
        self, factory: Callable[[], Generator], timeout_s: float, hang_grace_s: float
    ) -> None:
        self.factory = factory
        self.timeout_s = timeout_s
        self.hang_grace_s = hang_grace_s
        self.restarts = 0
        self._ctx = multiprocessing.get_context("spawn")
        self._proc: Any = None
        self._conn: Any = None
        self._inbox: asyncio.Queue[tuple[Any, ...]] = asyncio.Queue()
        self._slot = asyncio.Semaphore(1)
        self._model = ""
        self._device = ""
        self._busy = False

    @property
    def model(self) -> str:
        return self._model

    @property
    def paused(self) -> bool:
        return False

    async def start(self) -> None:
        await self._spawn()

    async def stop(self) -> None:
        self._kill()

    async def slot(self) -> None:
        await self._slot.acquire()

    def capacity(self) -> dict[str, int] | None:
        return None

    def release(self) -> None:
        self._slot.release()

    async def _spawn(self) -> None:
        parent, child = self._ctx.Pipe()
        self._proc = self._ctx.Process(
            target=_child_main, args=(self.factory, child), name="zime-model", daemon=True
        )
        self._proc.start()
        child.close()
        self._conn = parent
        self._inbox = asyncio.Queue()
        loop = asyncio.get_running_loop()
        inbox = self._inbox

        def pump() -> None:  # the pipe's messages onto the event loop
            while True:
                try:
                    message = parent.recv()
                except (EOFError, OSError):
                    loop.call_soon_threadsafe(inbox.put_nowait, ("died",))
                    return
                loop.call_soon_threadsafe(inbox.put_nowait, message)

        threading.Thread(target=pump, name="zime-child-pipe", daemon=True).start()
        message = await self._next(START_TIMEOUT_S)
        if message[0] != "ready":
            raise ModelError(f"the model process did not start ({message[0]})")
        _, self._model, self._device = message
        log.info("model process %s ready: %s on %s", self._proc.pid, self._model, self._device)

    def _kill(self) -> None:
        if self._proc is not None and self._proc.is_alive():
            self._proc.kill()
            self._proc.join(5)
        with contextlib.suppress(Exception):
            self._conn.close()
        self._proc = None

    async def _restart(self, why: str) -> None:
        log.error("model process %s: %s; restarting it", getattr(self._proc, "pid", "?"), why)
        self._kill()
        self.restarts += 1
        await self._spawn()

    async def _next(self, timeout: float) -> tuple[Any, ...]:
        try:
            return await asyncio.wait_for(self._inbox.get(), timeout)
        except TimeoutError:
            return ("timeout",)

    async def draw(self, jobs: list[Job], progress: Progress, cancelled: Cancelled) -> Drawn:
        if self._proc is None or not self._proc.is_alive():
            await self._restart("it was not running")
        started = time.monotonic()
        deadline = started + self.timeout_s
        self._busy = True
        self._conn.send(("draw", [p for job in jobs for p in job.params.expanded()]))
        asked_to_stop = False
        try:
            while True:
                message = await self._next(0.1)
                kind = message[0]
                if kind == "progress":
                    progress(message[1], message[2])
                elif kind == "done":
                    return Drawn(message[1], time.monotonic() - started, "child", self._model)
                elif kind == "cancelled":
                    if time.monotonic() > deadline:
                        raise DrawTimeout(f"after {self.timeout_s:.0f} s")
                    raise JobCancelled("cancelled")
                elif kind == "failed":
                    raise ModelError(message[1])
                elif kind == "died":
                    await self._restart("it died while drawing")
                    raise ModelError("the model process died while drawing")
                now = time.monotonic()
                if not asked_to_stop and (cancelled() or now > deadline):
                    asked_to_stop = True
                    self._conn.send(("cancel",))
                if now > deadline + self.hang_grace_s:
                    await self._restart(f"no answer {self.hang_grace_s:.0f} s past the timeout")
                    raise ModelHung(f"model hung after {self.timeout_s:.0f} s", recovered=True)
        finally:
            self._busy = False

    async def reload(self, model: str | None) -> str:
        async with self._slot:
            self._conn.send(("reload", model))
            while True:
                message = await self._next(START_TIMEOUT_S)
                if message[0] == "reloaded":
                    self._model = message[1]
                    return self._model
                if message[0] in ("reload_failed", "died", "timeout"):
                    if message[0] != "reload_failed":
                        await self._restart("it did not survive the reload")
                    raise ModelError(str(message[1:] or message[0]))

    def runners(self) -> list[RunnerInfo]:
        return [
            RunnerInfo(
                "child",
                self._device,
                self._model,
                self._busy,
                0.0,
                self._proc is None or not self._proc.is_alive(),
            )
        ]
