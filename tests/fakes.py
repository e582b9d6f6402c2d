"""Honest fakes for the GPU edge: same protocol as DiffusersGenerator, no model."""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Sequence
from typing import Any

from core.draw.generate import Cancelled, Progress
from core.errors import JobCancelled, ModelError
from core.jobs.job import GenParams


class FakeGenerator:
    """Draws a flat colour derived from the seed. `step_s` makes each step take time;
    prompts containing `fail_on` raise a model error (like a CUDA OOM would)."""

    def __init__(
        self,
        model: str = "fake/model",
        step_s: float = 0.0,
        fail_on: str = "",
        hang: bool = False,
        nsfw_on: str = "",
        hang_on: str = "",
        crash_on: str = "",
    ) -> None:
        self.model = model
        self.step_s = step_s
        self.fail_on = fail_on
        self.hang = threading.Event() if hang else None  # a wedged CUDA call: never returns
        self.nsfw_on = nsfw_on  # prompts the fake safety checker flags
        self.hang_on = hang_on  # prompts that wedge the call (it never returns)
        self.crash_on = crash_on  # prompts that end the process (a segfault in a CUDA call)
        self.calls: list[list[GenParams]] = []
        self.reloads: list[str | None] = []
        self.reload_gate = threading.Event()  # cleared: a reload waits for it (a slow load)
        self.reload_gate.set()
        self.reload_started = threading.Event()
        self.reload_error = ""
        self.loaded = False

    def load(self) -> None:
        self.loaded = True

    def describe(self) -> str:
        return f"fake image model {self.model}"

    def reload(self, model: str | None = None) -> None:
        self.reload_started.set()
        self.reload_gate.wait(60)
        if self.reload_error:
            raise ModelError(self.reload_error)
        self.reloads.append(model)
        self.model = model or self.model

    def generate(
        self, batch: Sequence[GenParams], progress: Progress, cancelled: Cancelled
    ) -> list[tuple[Any, bool]]:
        from PIL import Image

        self.calls.append(list(batch))
        if self.hang is not None:
            self.hang.wait()  # ignores `cancelled`, like a stuck kernel
        if self.hang_on and any(self.hang_on in p.prompt for p in batch):
            threading.Event().wait()
        if self.crash_on and any(self.crash_on in p.prompt for p in batch):
            os._exit(11)
        if self.fail_on and any(self.fail_on in p.prompt for p in batch):
            raise ModelError(f"fake failure for {self.fail_on!r}")
        steps = batch[0].steps
        for step in range(steps):
            if self.step_s:
                time.sleep(self.step_s)
            progress(step + 1, steps)
            if cancelled():
                raise JobCancelled("cancelled")
        return [
            (
                Image.new("RGB", (p.width, p.height), (p.seed % 256, 40, 90)),
                bool(self.nsfw_on) and p.safety_checker and self.nsfw_on in p.prompt,
            )
            for p in batch
        ]
