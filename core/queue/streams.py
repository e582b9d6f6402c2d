"""The Redis streams the coordinator and the runners share: one jobs stream per catalogue
model (`Keys.stream`), read by the consumer group `runners`, and one results stream read by
the group `coordinator`. What both sides do to them is here, once: create them, publish a
batch's result with its acknowledgement, and fail a batch that stopped two runners."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from core.queue.wire import (
    GROUP_COORDINATOR,
    GROUP_RUNNERS,
    Keys,
    WireResult,
    WireStatus,
    decode_jobs,
    encode_results,
)

log = logging.getLogger("zime.streams")

POISON_AFTER = 2  # a batch delivered this often without a result stopped that many runners


def poisoned(times_delivered: int) -> bool:
    """A batch handed out this often and silent again stopped every runner that took it:
    it is failed, never handed out again (checked by the runners and the coordinator)."""
    return times_delivered >= POISON_AFTER


async def ensure_groups(client: Any, keys: Keys, models: Iterable[str]) -> None:
    """The jobs stream of each model, the results stream and their consumer groups
    (idempotent)."""
    import redis

    pairs = [(keys.stream(m), GROUP_RUNNERS) for m in models]
    for stream, group in [*pairs, (keys.results, GROUP_COORDINATOR)]:
        try:
            await client.xgroup_create(stream, group, id="0", mkstream=True)
        except redis.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise


async def publish(
    client: Any,
    keys: Keys,
    stream: str,
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
    pipe.xack(stream, GROUP_RUNNERS, entry_id)
    pipe.xdel(stream, entry_id)
    await pipe.execute()


async def fail_poisoned(
    client: Any, keys: Keys, stream: str, entry_id: str, jobs_field: bytes, times: int, who: str
) -> None:
    log.error("batch %s was taken %d times without a result: failing it", entry_id, times)
    error = f"the batch stopped {times} runners"
    results = [
        WireResult(j.id, WireStatus.POISON, error=error, runner=who)
        for j in decode_jobs(jobs_field)
    ]
    await publish(client, keys, stream, entry_id, results, {}, 0)
