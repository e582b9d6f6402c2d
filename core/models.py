"""Plain data passed between frontends, service, worker and store (frozen dataclasses)."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from core.config import GenerationConfig


class Status(StrEnum):
    """A job's state from request to result. Stored as its value; equal to that string."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"

    @property
    def final(self) -> bool:
        return self in (Status.DONE, Status.FAILED, Status.CANCELLED)


@dataclass(frozen=True)
class Request:
    """What a frontend knows about one user message."""

    platform: str  # telegram | discord | console
    user_id: str
    chat_id: str
    text: str
    language: str = "lv"  # the user's UI language (bot/locale): lv, ru or en
    is_group: bool = False
    is_admin: bool = False
    bot_username: str = ""
    seed: int | None = None
    steps: int | None = None
    meta: dict[str, Any] = field(default_factory=dict)  # delivery info (message ids …)

    @property
    def user_key(self) -> str:
        return f"{self.platform}:{self.user_id}"

    @property
    def chat_key(self) -> str:
        return f"{self.platform}:{self.chat_id}"


@dataclass(frozen=True)
class GenParams:
    prompt: str
    negative_prompt: str
    seed: int
    steps: int
    guidance: float
    width: int
    height: int
    safety_checker: bool

    @classmethod
    def from_config(
        cls, g: GenerationConfig, prompt: str, seed: int, steps: int | None, safety_checker: bool
    ) -> GenParams:
        """Parameters for `prompt` from a GenerationConfig `g`; `steps` None: the default."""
        return cls(prompt, g.negative_prompt, seed, steps or g.steps, g.guidance, g.width,
                   g.height, safety_checker)  # fmt: skip

    def batch_key(self) -> tuple[int, int, int, float, bool]:
        """Jobs with equal keys can be drawn in one pipeline call."""
        return (self.width, self.height, self.steps, self.guidance, self.safety_checker)


@dataclass(frozen=True)
class Job:
    id: int
    user_key: str
    chat_key: str
    params: GenParams
    attempts: int = 0


@dataclass(frozen=True)
class JobResult:
    job_id: int
    image_path: str
    seed: int
    model: str
    draw_s: float
    wait_s: float
    nsfw: bool = False  # the safety checker blacked it out: the caption says so


@dataclass(frozen=True)
class HistoryItem:
    job_id: int
    text: str
    prompt: str
    seed: int
    status: str
    created_at: float
    image_path: str | None
