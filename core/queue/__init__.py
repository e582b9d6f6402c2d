"""Where batches are drawn. The worker (`core.queue.worker`) keeps the fair queue, the job records
and the delivery; a `Drawer` only turns a batch of jobs into images:

- `local.ThreadDrawer`: the image model in this process, called in a daemon thread (the
  embedded default);
- `child.ChildDrawer`: the model in a child process that is killed and restarted when it
  hangs or crashes (`[queue] isolate = true`);
- `redis.RedisDrawer`: runners on any number of GPUs behind Redis Streams
  (`[queue] backend = "redis"`, runners started with `python -m core runner`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from core.errors import ZimeError
from core.jobs.job import Job, RunnerInfo

__all__ = ["RunnerInfo"]  # defined with the job types; drawers report it

Progress = Callable[[int, int], None]  # (step, total), called on the event loop
Cancelled = Callable[[], bool]


class DrawTimeout(ZimeError):
    """The batch ran past the job timeout and was stopped."""


class ModelHung(ZimeError):
    """The model call ignored its deadline. `recovered`: the drawer replaced the model
    (a killed child process); otherwise only a restart of the process helps."""

    def __init__(self, message: str, recovered: bool = False) -> None:
        super().__init__(message)
        self.recovered = recovered


class Poisoned(ZimeError):
    """The batch stopped the runners that took it (twice): it fails for good and is never
    handed to a runner again."""


class DrawingPaused(ZimeError):
    """The transport to the runners is down (Redis unreachable): nothing was drawn and the
    batch goes back to the front of the queue until it is back."""


@dataclass
class Drawn:
    """A batch's images in job order (each job's `count` images in seed order), each with
    the safety checker's flag, and who drew them."""

    images: list[tuple[Any, bool]]
    draw_s: float
    runner: str = ""
    model: str = ""
    taken_at: float = 0.0  # when the runner took the batch (wall clock; 0: unknown)


class Drawer(Protocol):
    @property
    def model(self) -> str: ...

    @property
    def paused(self) -> bool:
        """Drawing cannot proceed now (the transport is down); requests are still taken."""
        ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    async def slot(self) -> None:
        """Wait until another batch may be drawn; `release` gives the slot back."""
        ...

    def capacity(self) -> dict[str, int] | None:
        """How many batches of each catalogue model may be in flight at once (runners behind
        Redis: one per live runner serving it; a model missing has no runner); None: any
        model, as the slots allow (the model is in this process or its child)."""
        ...

    def release(self) -> None: ...

    async def draw(self, jobs: list[Job], progress: Progress, cancelled: Cancelled) -> Drawn:
        """Draw every image of `jobs`. Raises JobCancelled (all were cancelled),
        DrawTimeout, ModelHung, DrawingPaused, or another error (the model failed)."""
        ...

    async def reload(self, model: str | None) -> str: ...

    def runners(self) -> list[RunnerInfo]: ...
