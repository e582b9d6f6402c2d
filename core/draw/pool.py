"""Several catalogue models in one process (issue #29): at most `max_resident` loaded, least
recently used out. A batch names its model (`GenParams.model`); the pool draws it with that
model's generator, loading it first when it is not resident. Every load is counted per
catalogue name (`zime_model_loads_total{model}`, the first included) and logged with its
seconds. A `Generator` itself, so the drawers take it like one model."""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from typing import Any

from core.draw.generate import Cancelled, Generator, Progress, free_memory
from core.errors import ModelError
from core.jobs.job import GenParams

log = logging.getLogger("zime.pool")

MakeGenerator = Callable[[str], Generator]  # catalogue name -> its (unloaded) generator


class ModelPool:
    def __init__(
        self,
        make: MakeGenerator,
        default: str,
        paths: dict[str, str],
        max_resident: int = 1,
        on_load: Callable[[str, float], None] = lambda name, seconds: None,
    ) -> None:
        self.make = make
        self.default = default
        self.paths = paths  # catalogue name -> hub id or folder (what `model` reports)
        self.max_resident = max(1, max_resident)
        self.on_load = on_load
        self.loads: dict[str, int] = {}
        self._resident: OrderedDict[str, Generator] = OrderedDict()  # oldest use first
        self._lock = threading.RLock()
        self.model = paths.get(default, default)  # the last model that drew (its path)

    def loaded(self) -> list[str]:
        """The resident models' names, the most recently used last."""
        with self._lock:
            return list(self._resident)

    def _get(self, name: str) -> Generator:
        with self._lock:
            generator = self._resident.get(name)
            if generator is not None:
                self._resident.move_to_end(name)
                return generator
            while len(self._resident) >= self.max_resident:
                old, _ = self._resident.popitem(last=False)
                log.info("model %s unloaded (least recently used)", old)
                free_memory()
            started = time.perf_counter()
            generator = self.make(name)
            generator.load()
            self._loaded(name, time.perf_counter() - started, generator)
            self._resident[name] = generator
            return generator

    def _loaded(self, name: str, seconds: float, generator: Generator) -> None:
        """Every load, a reload included: counted, reported (metrics) and logged."""
        self.loads[name] = self.loads.get(name, 0) + 1
        self.on_load(name, seconds)
        log.info("model %s loaded in %.1f s: %s", name, seconds, generator.describe())

    # the Generator protocol
    def load(self) -> None:
        self._get(self.default)

    def describe(self) -> str:
        with self._lock:
            if not self._resident:
                return f"image models {', '.join(self.paths)} (none loaded)"
            return "; ".join(g.describe() for g in self._resident.values())

    def reload(self, model: str | None = None) -> None:
        """`/reload NAME`: that model again (loaded if it was not); `/reload`: every
        resident one. A failed reload keeps the old pipeline (the generator's own rule)."""
        if model and model not in self.paths:
            if len(self.paths) > 1:
                known = ", ".join(self.paths)
                raise ModelError(f"no model {model!r} in the catalogue ({known})")
            with self._lock:  # one model (a config's single generator): a new path for it
                self._reload(self.default, model)
                self.paths[self.default] = self.model = model
            return
        with self._lock:
            names = [model] if model else list(self._resident) or [self.default]
            for name in names:
                if name in self._resident:
                    self._reload(name, None)
                else:
                    self._get(name)

    def _reload(self, name: str, path: str | None) -> None:
        generator = self._resident.get(name) or self._get(name)
        started = time.perf_counter()
        generator.reload(path)
        self._loaded(name, time.perf_counter() - started, generator)

    def generate(
        self, batch: Sequence[GenParams], progress: Progress, cancelled: Cancelled
    ) -> list[tuple[Any, bool]]:
        # a job from before the catalogue names a path, not a model: the default draws it
        name = batch[0].model if batch[0].model in self.paths else self.default
        with self._lock:  # one batch at a time: a swap never happens under a drawing
            generator = self._get(name)
            self.model = self.paths.get(name, name)
            return generator.generate(batch, progress, cancelled)

    def __getattr__(self, attr: str) -> Any:
        """`device`, `full_size` …: the default model's, for the start-up checks."""
        if attr.startswith("_"):
            raise AttributeError(attr)
        with self._lock:
            first = self._resident.get(self.default) or next(iter(self._resident.values()), None)
        if first is None:
            raise AttributeError(attr)
        return getattr(first, attr)
