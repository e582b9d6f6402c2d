"""Which model a runner draws next (issue #30). Each catalogue model has its own jobs stream;
a runner reads the streams of the models it has loaded first. When they are empty and a
served model it has not loaded has batches nobody took yet, it loads the one with the most
pressure (jobs waiting × 10 + the oldest one's seconds in Redis, as SwarmUI weighs it), but
only when one of these holds:

- it has nothing loaded (a fresh runner takes any work at once);
- that work has waited `[queue] swap_after_s` (a swap is not paid for every odd job);
- it has room for one more model (`max_resident`: loading into free memory evicts nothing)
  and no other live runner has that model loaded or is loading it, or its pressure has
  reached `swap_after_s` (two jobs waiting, or one for half as long as a swap waits: the
  runners that have it cannot keep up).

Two idle runners never load a cold model for one job: a batch is read by one consumer of
the group, and only after a runner took a batch does it load that batch's model."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from core.queue.wire import GROUP_RUNNERS, Keys, as_text, decode_jobs

PRESSURE_PER_JOB = 10.0


@dataclass(frozen=True)
class Waiting:
    """A model's work nobody has taken yet."""

    model: str
    jobs: int
    oldest_s: float  # how long the oldest of its batches has been in Redis

    @property
    def pressure(self) -> float:
        return self.jobs * PRESSURE_PER_JOB + self.oldest_s


def pick_cold(
    waiting: Iterable[Waiting],
    loaded: set[str],
    room: bool,
    elsewhere: set[str],
    swap_after_s: float,
) -> str | None:
    """The model to load now for its waiting work, or None (see the module's rules).
    `elsewhere`: models another live runner has loaded or is loading."""

    def may(w: Waiting) -> bool:
        if w.jobs <= 0 or w.model in loaded:
            return False
        if not loaded or w.oldest_s >= swap_after_s:
            return True
        return room and (w.model not in elsewhere or w.pressure >= swap_after_s)

    ready = [w for w in waiting if may(w)]
    return max(ready, key=lambda w: w.pressure).model if ready else None


def demand(queued: Iterable[tuple[str, float]]) -> dict[str, str]:
    """The coordinator's backlog as it publishes it (`Keys.demand`): per model, the jobs
    queued and how long the oldest has waited, from (model, seconds waited) pairs."""
    out: dict[str, tuple[int, float]] = {}
    for model, waited in queued:
        jobs, oldest = out.get(model, (0, 0.0))
        out[model] = (jobs + 1, max(oldest, waited))
    return {m: json.dumps({"jobs": n, "oldest_s": round(s, 1)}) for m, (n, s) in out.items()}


async def waiting_work(client: Any, keys: Keys, models: Iterable[str]) -> list[Waiting]:
    """Each model's work nobody has taken: batches in its stream no runner has read yet (on
    Redis's clock: runners on other machines may not agree on the time), and the jobs the
    coordinator still queues for it (`demand`, republished every couple of seconds)."""
    names = list(models)
    pipe = client.pipeline(transaction=False)
    pipe.time()
    pipe.hgetall(keys.demand)
    for model in names:
        pipe.xinfo_groups(keys.stream(model))
    now_s, queued, *infos = await pipe.execute(raise_on_error=False)
    backlog = {as_text(k): json.loads(v) for k, v in (queued or {}).items()}
    now_ms = int(now_s[0]) * 1000 + int(now_s[1]) // 1000
    last: dict[str, str] = {}
    for model, groups in zip(names, infos, strict=True):
        if isinstance(groups, Exception):  # no stream yet: nothing waits
            continue
        for g in groups:
            if as_text(g.get("name")) == GROUP_RUNNERS:
                last[model] = as_text(g.get("last-delivered-id"))
    pipe = client.pipeline(transaction=False)
    for model, after in last.items():
        pipe.xrange(keys.stream(model), f"({after}", "+", count=100)
    out = []
    for model, entries in zip(last, await pipe.execute() if last else [], strict=True):
        jobs = sum(len(decode_jobs(fields[b"jobs"])) for _id, fields in entries if fields)
        born_ms = int(as_text(entries[0][0]).split("-")[0]) if entries else now_ms
        queued_here = backlog.get(model, {})
        jobs += int(queued_here.get("jobs", 0))
        oldest = max((now_ms - born_ms) / 1000, float(queued_here.get("oldest_s", 0.0)))
        if jobs:
            out.append(Waiting(model, jobs, max(0.0, oldest)))
    return out
