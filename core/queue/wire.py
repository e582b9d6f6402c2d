"""What travels between the coordinator and the runners through Redis: key names, and jobs
and results as JSON. Images travel as PNG bytes under their own keys, with a TTL: never as
a path, which only one machine could read."""

from __future__ import annotations

import io
import json
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from typing import Any

from core.errors import JobCancelled, ModelError, ZimeError
from core.jobs.job import GenParams, RunnerInfo
from core.queue import DrawTimeout, Poisoned

GROUP_RUNNERS = "runners"  # the consumer group of the runners on the jobs stream
GROUP_COORDINATOR = "coordinator"  # the consumer group of the bot on the results stream


@dataclass(frozen=True)
class Keys:
    prefix: str = "zime"

    def stream(self, model: str) -> str:
        """The jobs stream of one catalogue model: only runners serving it read it."""
        return f"{self.prefix}:jobs:{model}"

    @property
    def results(self) -> str:
        return f"{self.prefix}:results"

    @property
    def runners(self) -> str:
        return f"{self.prefix}:runners"

    @property
    def demand(self) -> str:
        """The coordinator's queued jobs per model (the backlog runners weigh when loading)."""
        return f"{self.prefix}:demand"

    @property
    def progress(self) -> str:
        return f"{self.prefix}:progress"

    def input(self, job_id: int) -> str:
        return f"{self.prefix}:input:{job_id}"

    def mask(self, job_id: int) -> str:
        return f"{self.prefix}:mask:{job_id}"

    def image(self, job_id: int, n: int) -> str:
        return f"{self.prefix}:image:{job_id}:{n}"

    def cancel(self, job_id: int) -> str:
        return f"{self.prefix}:cancel:{job_id}"

    def control(self, runner: str) -> str:
        return f"{self.prefix}:control:{runner}"

    def reply(self, token: str) -> str:
        return f"{self.prefix}:reply:{token}"


@dataclass
class WireJob:
    """One job of a dispatched batch: its parameters (init_image, mask_image: keys holding
    the bytes when the job starts from an image, or redraws a region of it)."""

    id: int
    params: dict[str, Any]

    def gen_params(self, init_image: str | None = None, mask: str | None = None) -> GenParams:
        return GenParams(**{**self.params, "init_image": init_image, "mask_image": mask})


def encode_jobs(jobs: list[tuple[int, GenParams]]) -> str:
    return json.dumps([{"id": i, "params": asdict(p)} for i, p in jobs], ensure_ascii=False)


def decode_jobs(raw: str | bytes) -> list[WireJob]:
    return [WireJob(int(j["id"]), dict(j["params"])) for j in json.loads(raw)]


class WireStatus(StrEnum):
    """What became of one job on a runner: THE statuses the runner writes and the
    coordinator reads (`batch_failure` says what each means for the batch)."""

    DONE = "done"
    CANCELLED = "cancelled"
    TIMEOUT = "timeout"  # past the job timeout, or the model hung
    FAILED = "failed"  # the model failed (an error, out of memory, an expired start image)
    POISON = "poison"  # the batch stopped two runners: failed for good, never handed out again


@dataclass
class WireResult:
    """What a runner reports for one job."""

    id: int
    status: WireStatus
    flags: list[bool] = field(default_factory=list)  # per image: the safety checker's verdict
    error: str = ""
    runner: str = ""
    model: str = ""
    draw_s: float = 0.0
    taken_at: float = 0.0  # wall clock when the runner took the batch (dispatch latency)


def encode_results(results: list[WireResult]) -> str:
    return json.dumps([asdict(r) for r in results], ensure_ascii=False)


def decode_results(raw: str | bytes) -> list[WireResult]:
    return [WireResult(**{**r, "status": WireStatus(r["status"])}) for r in json.loads(raw)]


def batch_failure(results: list[WireResult]) -> ZimeError | None:
    """What a batch's results mean for the coordinator, decided once: every job cancelled,
    or the worst failure among them (poison, then timeout, then a model failure); None when
    there are images to collect (jobs cancelled beside drawn ones are simply dropped)."""
    statuses = {r.status for r in results}
    if statuses == {WireStatus.CANCELLED}:
        return JobCancelled("cancelled")
    for status, error in (
        (WireStatus.POISON, Poisoned),
        (WireStatus.TIMEOUT, DrawTimeout),
        (WireStatus.FAILED, ModelError),
    ):
        if status in statuses:
            return error(next(r.error for r in results if r.status == status))
    return None


def runner_info(heartbeat: str | bytes, now: float, claim_after_s: float) -> RunnerInfo:
    """A runner's heartbeat record (in the runners hash) as /rinda shows it; silent for
    `claim_after_s`, it is down."""
    r = json.loads(heartbeat)
    age = now - float(r.get("heartbeat", 0))
    return RunnerInfo(
        r["name"],
        r.get("device", ""),
        r.get("model", ""),
        bool(r.get("busy")),
        age,
        age > claim_after_s,
        list(r.get("jobs", [])),
        list(r.get("models", [])),
        list(r.get("loaded", [])),
        dict(r.get("loads", {})),
    )


def as_text(value: Any) -> str:
    """A stream entry id or key as Redis returns it (bytes) or as we wrote it (str)."""
    return value.decode() if isinstance(value, bytes) else str(value)


def png_bytes(image: Any) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def from_png(data: bytes) -> Any:
    from PIL import Image

    with Image.open(io.BytesIO(data)) as img:
        img.load()
        return img.convert("RGB")


def is_connection_error(exc: BaseException) -> bool:
    """Redis is away (refused, reset, timed out): drawing pauses, nothing is lost."""
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    return isinstance(exc, RedisConnectionError | RedisTimeoutError | OSError)
