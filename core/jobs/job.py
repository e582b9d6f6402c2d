"""Plain data passed between frontends, service, worker and store (frozen dataclasses)."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, replace
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

from core.errors import Failure

if TYPE_CHECKING:
    from core.config import GenerationConfig


OPTIONS_VERSION = 1
MAX_IMAGES = 4


def size_for(aspect: tuple[int, int], area: int, max_side: int, step: int = 64) -> tuple[int, int]:
    """Width and height for an aspect ratio: about `area` pixels, each side a multiple of
    `step` (64 for `--ar`; 8, what the VAE needs, keeps a photo's shape within 5%), the
    longer side at most `max_side`."""
    w, h = aspect
    width, height = math.sqrt(area * w / h), math.sqrt(area * h / w)
    scale = min(1.0, max_side / max(width, height))
    width, height = width * scale, height * scale
    top = max_side - max_side % step
    return (
        max(64, min(top, round(width / step) * step)),
        max(64, min(top, round(height / step) * step)),
    )


@dataclass(frozen=True)
class Options:
    """What the user asked for beyond the text. None: the user's or the config's default.
    Stored as one versioned JSON column with the job."""

    aspect: tuple[int, int] | None = None
    negative: str | None = None
    seed: int | None = None
    steps: int | None = None
    count: int | None = None
    strength: float | None = None
    style: str | None = None  # a style id (core/lang/styles.toml)
    model: str | None = None  # a catalogue model's name ([models.generators])
    fast: bool | None = None  # the model's few-step LoRA

    def to_json(self) -> str:
        data = {k: v for k, v in asdict(self).items() if v is not None}
        return json.dumps({"v": OPTIONS_VERSION, **data}, ensure_ascii=False)

    @classmethod
    def from_json(cls, raw: str | None) -> Options:
        if not raw:
            return cls()
        data: dict[str, Any] = json.loads(raw)
        data.pop("v", None)  # version 1 is the only one so far
        if "aspect" in data:
            data["aspect"] = tuple(data["aspect"])
        return cls(**data)

    def merged(self, defaults: Options) -> Options:
        """These options, with the gaps filled from `defaults` (a user's settings)."""
        return replace(defaults, **{k: v for k, v in asdict(self).items() if v is not None})


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
    photo: bytes | None = None  # photo → picture: the user's photo, as sent


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
    count: int = 1  # images drawn with seeds seed, seed+1 …; more than one come as a grid
    init_image: str | None = None  # img2img: the image to start from (variation, upscale)
    strength: float = 0.0  # img2img: how far to move from it (0.1–1.0)
    mask_image: str | None = None  # inpainting: white is redrawn, the rest kept exactly
    adapters: tuple[str, ...] = ()  # trained concepts whose LoRA this job draws with
    model: str = ""  # the catalogue model that draws it ("": the default)
    fast: bool = False  # with that model's few-step LoRA

    @classmethod
    def from_config(
        cls,
        g: GenerationConfig,
        prompt: str,
        seed: int,
        options: Options,
        safety_checker: bool,
        negative: str = "",
    ) -> GenParams:
        """Parameters for `prompt` from a GenerationConfig `g` and the user's options;
        `negative` (translated) is added to the configured negative prompt."""
        width, height = g.width, g.height
        if options.aspect:
            width, height = size_for(options.aspect, g.width * g.height, g.max_side)
        negative_prompt = ", ".join(n for n in (g.negative_prompt, negative) if n)
        return cls(
            prompt,
            negative_prompt,
            seed,
            options.steps or g.steps,
            g.guidance,
            width,
            height,
            safety_checker,
            options.count or g.images,
        )

    def batch_key(self) -> tuple[Any, ...]:
        """Jobs with equal keys can be drawn in one pipeline call (the adapters in use
        included: one call has one set of LoRA weights active)."""
        return (
            self.width,
            self.height,
            self.steps,
            self.guidance,
            self.safety_checker,
            self.init_image is not None,
            self.mask_image is not None,
            self.strength,
            tuple(sorted(self.adapters)),
            self.model,  # a batch never mixes models
            self.fast,  # nor fast and normal drawing
        )

    def image_seed(self, n: int) -> int:
        """The seed of image n (1-based) of this job: seed, seed+1 …"""
        return (self.seed + n - 1) % 2**32

    def expanded(self) -> list[GenParams]:
        """One single-image parameter set per image of this job (seed, seed+1 …)."""
        return [replace(self, seed=self.image_seed(n), count=1) for n in range(1, self.count + 1)]

    def from_image(self, path: str, strength: float, **changes: Any) -> GenParams:
        """These parameters drawn by img2img from the image at `path`. img2img runs
        steps × strength denoising steps, so the steps are raised until that is at least one."""
        if not 0 < strength <= 1:
            raise ValueError(f"img2img strength {strength} is outside (0, 1]")
        steps = max(changes.pop("steps", self.steps), math.ceil(1 / strength))
        return replace(self, init_image=path, strength=strength, steps=steps, **changes)


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
    error: str | None = None  # the details, for admins
    failure: Failure | None = None  # why it failed (status failed), for the user's sentence
    created_at: float = 0.0
    started_at: float | None = None
    finished_at: float | None = None
    wait_s: float | None = None
    draw_s: float | None = None
    image_path: str | None = None
    parent_id: int | None = None
    meta: dict[str, Any] = field(default_factory=dict)  # free-form delivery details (message ids …)
    options: Options = field(default_factory=Options)  # what the user asked for (flags)
    # Where the job came from: draw / grid / photo, or (with a parent) upscale / variation /
    # edit, as its button recorded it; "" is filled in from the parameters.
    kind: str = ""
    model_path: str = ""  # the hub id or folder `model` (the catalogue name) drew from
    runner: str = ""  # who drew it: "local", or the Redis runner's name
    nsfw: bool = False  # the safety checker flagged an image, which is blurred
    deleted: bool = False  # 🗑: its image files are gone; the row stays for history and limits
    delivered: bool = False  # the platform accepted the result (or it can never be delivered)

    def __post_init__(self) -> None:
        if not self.kind:
            p = self.params
            default = "photo" if p.init_image else "grid" if p.count > 1 else "draw"
            object.__setattr__(self, "kind", default)

    @property
    def prompt(self) -> str:
        return self.params.prompt

    @property
    def seed(self) -> int:
        return self.params.seed


@dataclass
class RunnerInfo:
    """One runner as /rinda and /stats list it."""

    name: str
    device: str
    model: str
    busy: bool
    heartbeat_age_s: float
    down: bool = False
    jobs: list[int] = field(default_factory=list)
    served: list[str] = field(default_factory=list)  # the catalogue models it draws
    loaded: list[str] = field(default_factory=list)  # those in its memory now
    loads: dict[str, int] = field(default_factory=dict)  # model loads since it started


class JobView(Protocol):
    """A queued job as a frontend follows it (the worker's JobHandle is one): where it
    stands, how far it got, and when it changes."""

    @property
    def id(self) -> int: ...

    @property
    def job(self) -> Job: ...

    @property
    def finished(self) -> bool: ...

    @property
    def paused(self) -> bool: ...

    @property
    def position(self) -> int | None: ...

    @property
    def progress(self) -> float: ...

    async def wait_changed(self, timeout: float | None = None) -> None: ...

    async def wait(self) -> Job: ...
