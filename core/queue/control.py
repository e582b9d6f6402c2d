"""Commands from the coordinator to its runners, through a Redis list per runner: the
rolling reload (`/reload`). One runner at a time, so the others keep drawing. A reload
waits as long as the runner takes to load (`RELOAD_WAIT_S`), polling its answer in short
reads (a blocking read past the client's socket timeout would fail), and stops waiting when
the runner has been silent for three times `claim_after_s`. A mixin of `RedisDrawer`."""

from __future__ import annotations

import json
import logging
import time
import uuid
from typing import Any

from core.errors import ModelError, ModelNotLoaded
from core.jobs.job import RunnerInfo

log = logging.getLogger("zime.redis")

RELOAD_WAIT_S = 900.0
SOCKET_TIMEOUT_S = 10.0  # the coordinator's Redis client


class RunnerControl:
    keys: Any
    models: tuple[str, ...]
    claim_after_s: float
    _client: Any
    _connected: bool
    _runners: list[RunnerInfo]
    _last_model: str

    @property
    def model(self) -> str:
        live = [r for r in self._runners if not r.down]
        return live[0].model if live else self._last_model or "(no runner)"

    def _live(self) -> int:
        return sum(1 for r in self._runners if not r.down)

    async def reload(self, model: str | None) -> str:
        """Roll through the live runners one at a time: the others keep drawing. Any fault
        (Redis away, a runner that fails, stops or never answers) is a ModelError."""
        if not self._connected:
            raise ModelError("redis is unreachable")
        if self._live() == 0:
            raise ModelError("no runner is running")
        try:
            return await self._reload(model)
        except ModelError:
            raise
        except Exception as exc:
            raise ModelError(f"reload over redis: {exc or type(exc).__name__}") from exc

    async def _reload(self, model: str | None) -> str:
        """A catalogue model: on every live runner that has it loaded (none: ModelNotLoaded);
        no name: every runner's loaded models; a path (a one-model config): every runner."""
        live = [r for r in self._runners if not r.down]
        targets = [r for r in live if model not in self.models or model in r.loaded]
        if model and not targets:
            raise ModelNotLoaded(model)
        loaded = ""
        for runner in targets:
            token = uuid.uuid4().hex
            command = {"op": "reload", "model": model or "", "reply": token}
            await self._client.rpush(self.keys.control(runner.name), json.dumps(command))
            answer = await self._reload_answer(runner.name, self.keys.reply(token))
            reply = json.loads(answer)
            if not reply.get("ok"):
                raise ModelError(f"runner {runner.name}: {reply.get('error')}")
            loaded = reply.get("model", "")
            log.info("runner %s reloaded %s", runner.name, loaded)
        self._last_model = loaded or self._last_model
        return loaded or self.model

    async def _reload_answer(self, runner: str, key: str) -> bytes:
        """The runner's answer, read in short blocking reads until RELOAD_WAIT_S."""
        deadline = time.monotonic() + RELOAD_WAIT_S
        while time.monotonic() < deadline:
            # one blocking read, well under the socket timeout (or the client gives up)
            answer = await self._client.blpop(key, timeout=SOCKET_TIMEOUT_S / 4)
            if answer is not None:
                return bytes(answer[1])
            # gone, or silent three times as long as a runner counts as down: a loaded machine
            # may delay a heartbeat of a runner that is busy loading
            ages = [r.heartbeat_age_s for r in self._runners if r.name == runner]
            if not ages or ages[0] > 3 * self.claim_after_s:
                raise ModelError(f"runner {runner} stopped during the reload")
        raise ModelError(f"runner {runner} did not answer the reload in {RELOAD_WAIT_S:.0f} s")
