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


class _Owned:
    """Keys of the user and chat a request or job belongs to ('telegram:42')."""

    platform: str
    user_id: str
    chat_id: str

    @property
    def user_key(self) -> str:
        return f"{self.platform}:{self.user_id}"

    @property
    def chat_key(self) -> str:
        return f"{self.platform}:{self.chat_id}"


@dataclass(frozen=True)
class Request(_Owned):
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
class Job(_Owned):
    """THE job record, from request to delivery: what was asked, how it is drawn, where it
    stands and what came of it. The store reads and writes it; the worker, the service and
    the frontends pass it around (a new one has id 0 until the store gives it one)."""

    id: int
    platform: str
    user_id: str
    chat_id: str
    params: GenParams
    request_text: str = ""
    normalized: str = ""
    lang: str = "lv"
    concepts: tuple[str, ...] = ()
    english: str | None = None
    model: str = ""
    status: Status = Status.QUEUED
    attempts: int = 0
    error: str | None = None
    created_at: float = 0.0
    started_at: float | None = None
    finished_at: float | None = None
    wait_s: float | None = None
    draw_s: float | None = None
    image_path: str | None = None
    parent_id: int | None = None
    meta: dict[str, Any] = field(default_factory=dict)  # delivery details (message ids …)

    @property
    def prompt(self) -> str:
        return self.params.prompt

    @property
    def seed(self) -> int:
        return self.params.seed

    @property
    def nsfw(self) -> bool:
        """The safety checker blacked the image out: the caption must say so."""
        return bool(self.meta.get("nsfw"))
