"""The embedded default: the image model in this process, called in a daemon thread."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any, TypeVar

from core.draw.generate import Generator
from core.errors import JobCancelled
from core.jobs.job import GenParams, Job
from core.queue import Cancelled, Drawn, DrawTimeout, ModelHung, Progress, RunnerInfo

T = TypeVar("T")


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

    threading.Thread(
        target=target, name=f"zime-{getattr(fn, '__name__', 'call')}", daemon=True
    ).start()
    return future


def threadsafe_progress(progress: Progress) -> Progress:
    """`progress` as a callback a model thread may call."""
    loop = asyncio.get_running_loop()

    def report(step: int, total: int) -> None:
        loop.call_soon_threadsafe(progress, step, total)

    return report


class ThreadDrawer:
    """One batch at a time on the loaded generator. A call past `timeout_s` is asked to
    stop at its next step; one that ignores that for `hang_grace_s` more is hung: only a
    restart of the process helps (the worker reports itself unhealthy)."""

    name = "local"

    def __init__(self, generator: Generator, timeout_s: float, hang_grace_s: float) -> None:
        self.generator = generator
        self.timeout_s = timeout_s
        self.hang_grace_s = hang_grace_s
        self._slot = asyncio.Semaphore(1)
        self._busy = False

    @property
    def model(self) -> str:
        return self.generator.model

    @property
    def paused(self) -> bool:
        return False

    async def start(self) -> None:
        pass

    async def stop(self) -> None:
        pass

    async def slot(self) -> None:
        await self._slot.acquire()

    def capacity(self) -> dict[str, int] | None:
        return None

    def release(self) -> None:
        self._slot.release()

    async def draw(self, jobs: list[Job], progress: Progress, cancelled: Cancelled) -> Drawn:
        return await self.draw_params(
            [p for job in jobs for p in job.params.expanded()], progress, cancelled
        )

    async def draw_params(
        self, params: list[GenParams], progress: Progress, cancelled: Cancelled
    ) -> Drawn:
        """Draw single-image parameter sets (a runner has parameters, not jobs)."""
        deadline = time.monotonic() + self.timeout_s

        def stop() -> bool:
            return cancelled() or time.monotonic() > deadline

        started = time.monotonic()
        self._busy = True
        call = in_daemon_thread(
            self.generator.generate, params, threadsafe_progress(progress), stop
        )
        try:
            images = await asyncio.wait_for(
                asyncio.shield(call), self.timeout_s + self.hang_grace_s
            )
        except TimeoutError:
            raise ModelHung(f"model hung after {self.timeout_s:.0f} s") from None
        except JobCancelled:
            if time.monotonic() > deadline:
                raise DrawTimeout(f"after {self.timeout_s:.0f} s") from None
            raise
        finally:
            self._busy = False
        return Drawn(images, time.monotonic() - started, "local", self.generator.model)

    async def reload(self, model: str | None) -> str:
        """Swap the model between batches: queued jobs wait, none is dropped."""
        async with self._slot:
            await asyncio.to_thread(self.generator.reload, model)
        return self.generator.model

    def loaded_models(self) -> list[str]:
        """The catalogue models resident in the generator (a `ModelPool`'s); [] otherwise."""
        loaded = getattr(self.generator, "loaded", None)
        return list(loaded()) if callable(loaded) else []

    def runners(self) -> list[RunnerInfo]:
        device = str(getattr(self.generator, "device", "") or "")
        served = list(getattr(self.generator, "paths", None) or ())
        info = RunnerInfo("local", device, self.generator.model, self._busy, 0.0)
        loads = dict(getattr(self.generator, "loads", None) or {})
        return [replace(info, served=served, loaded=self.loaded_models(), loads=loads)]
