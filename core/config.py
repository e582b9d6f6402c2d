"""One typed, frozen config object loaded from TOML; secrets may come from the environment.

`load_config(path, env)` is the only place that reads the environment (principle 7).
Unknown keys and wrongly typed values fail early with a `ConfigError` naming the key.
"""

from __future__ import annotations

import dataclasses
import tomllib
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.config_check import section, validate
from core.errors import ConfigError

DEFAULT_GENERATOR = "minusthousand/lv-sb"
DEFAULT_TRANSLATOR = "Helsinki-NLP/opus-mt-tc-big-lv-en"
DEFAULT_TRANSLATORS = {"ru": "Helsinki-NLP/opus-mt-ru-en"}  # fetched by fetch-models too
TELEGRAM_API = "https://api.telegram.org/bot"
DISCORD_API = "https://discord.com/api/v10"
DISCORD_GATEWAY = "wss://gateway.discord.gg"


@dataclass(frozen=True)
class TelegramConfig:
    token: str = ""
    api_base_url: str = TELEGRAM_API
    admins: tuple[int, ...] = ()
    spoiler_in_groups: bool = False
    edit_interval_s: float = 2.5
    # Receive updates on the web app at BASE/telegram/webhook instead of polling ([web]
    # enabled and public_url needed). The secret Telegram sends back with each update; empty:
    # a random one at each start.
    webhook: bool = False
    webhook_secret: str = ""


@dataclass(frozen=True)
class DiscordConfig:
    token: str = ""
    admins: tuple[int, ...] = ()
    api_base_url: str = DISCORD_API
    gateway_url: str = DISCORD_GATEWAY
    guilds: tuple[int, ...] = ()


@dataclass(frozen=True)
class ModelSpec:
    """One image model of the catalogue (`[models.generators.NAME]`)."""

    path: str = ""  # a hub id or a local folder
    family: str = "sd15"  # sd15 | sdxl
    name: str = ""  # what users see ("Latvija (SD 1.5)"); empty: the catalogue name
    aliases: tuple[str, ...] = ()  # other names users may type
    about: str = ""  # one line for /modeli
    concepts: bool = False  # it knows the built-in concept tokens (lv-sb and its kin)
    fast_lora: str = ""  # a few-step LoRA: a hub id/file or a local file; empty: no fast mode
    fast_steps: int = 8
    fast_guidance: float = 5.0
    width: int = 0  # 0: the family's size ([generation] for sd15, 1024 for sdxl)
    height: int = 0
    # a dedicated inpainting checkpoint for region edits and 🔭 (hub id or folder); empty:
    # the model itself draws them (its components in an inpainting pipeline)
    inpaint: str = ""


def _default_catalogue() -> dict[str, ModelSpec]:
    return {
        "lv-sb": ModelSpec(
            path=DEFAULT_GENERATOR,
            family="sd15",
            name="Latvija (SD 1.5)",
            aliases=("latvija", "lv"),
            about="SD 1.5 ar 10 Latvijas jēdzieniem",
            concepts=True,
        )
    }


@dataclass(frozen=True)
class ModelsConfig:
    # The catalogue: `default` names one of `generators`. The single `generator` key of
    # earlier configs still works: it is one model named "default" that knows the concepts.
    default: str = "lv-sb"
    generators: Mapping[str, ModelSpec] = field(default_factory=_default_catalogue)
    generator: str = ""
    translator: str = DEFAULT_TRANSLATOR  # serves Latvian
    # /apraksti: the image captioner (BLIP) and the English → Latvian translator
    captioner: str = "Salesforce/blip-image-captioning-base"
    describe_translator: str = "Helsinki-NLP/opus-mt-tc-big-en-lv"
    # Other source languages; Russian is served out of the box. An NLLB model (here or as
    # `translator`) serves every language it knows; a language nobody serves is refused.
    translators: Mapping[str, str] = field(default_factory=lambda: dict(DEFAULT_TRANSLATORS))
    device: str = "auto"  # auto | cuda | cpu
    scheduler: str = "euler_a"  # euler_a | dpm | ddim | pndm
    safety_checker: str = "groups"  # always | groups | never
    compile_unet: bool = False  # torch.compile the UNet on CUDA (slow first image, faster after)
    translate_beams: int = 2
    translate_max_tokens: int = 96
    cache_dir: str = ""


@dataclass(frozen=True)
class GenerationConfig:
    steps: int = 25
    max_steps: int = 50  # the most `--soļi` a user may ask for
    images: int = 1  # images per request unless `--skaits` says otherwise (1-4; 4 = a grid)
    guidance: float = 7.5
    width: int = 512
    height: int = 512
    max_side: int = 768
    negative_prompt: str = "lowres, blurry, watermark, text, deformed"
    batch_size: int = 4
    job_timeout_s: float = 300.0
    # A model call still running this long after its timeout is declared hung: its jobs fail
    # and /healthz turns unhealthy so the process is restarted.
    hang_grace_s: float = 10.0


@dataclass(frozen=True)
class StorageConfig:
    database: str = "data/zime.sqlite3"
    images: str = "data/images"
    retention_days: int = 0  # delete images older than this many days; 0 keeps them all
    lock_wait_s: float = 15.0  # how long a locked database is waited for before giving up
    adapters: str = "data/adapters"  # trained concepts' LoRA weights (python -m core concepts)
    concepts: str = "data/concepts.toml"  # their registry entries, read beside the packaged


@dataclass(frozen=True)
class TrainingConfig:
    clip_model: str = "openai/clip-vit-large-patch14"  # CLIP-I and CLIP-T scores
    dino_model: str = "facebook/dinov2-small"  # DINO score
    # An image captioner (e.g. Salesforce/blip-image-captioning-base) that adds what each
    # photo shows to its caption, used when its weights are present; "" keeps templates only.
    captioner: str = ""
    class_images: str = "data/class-images"  # prior-preservation images, cached per class
    prior_images: int = 10  # class images per photo (the thesis' 10); 0 turns prior off
    steps: int = 800
    rank: int = 8
    learning_rate: float = 1e-4
    checkpoint_every: int = 100
    resolution: int = 512
    validation_steps: int = 25  # denoising steps of each validation image


@dataclass(frozen=True)
class MetricsConfig:
    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = 9108


@dataclass(frozen=True)
class WebConfig:
    """The dashboard, the gallery (Telegram Mini App) and their JSON API (bot/web)."""

    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = 8080
    public_url: str = ""  # the base of every link; empty: http://host:port
    # Signs session cookies. Empty: a new random one at each start (sessions end with a
    # restart). Set it (or ZIME_WEB_SECRET) when sessions must outlive one; they stay
    # revocable either way (the session list is kept in SQLite).
    secret: str = ""
    # Proxies whose X-Forwarded-For / X-Forwarded-Proto are believed (addresses or networks,
    # e.g. ["172.16.0.0/12"] for Docker's bridge). Empty: no forwarded header is believed.
    trusted_proxies: tuple[str, ...] = ()
    max_body_kb: int = 1024  # a larger request body is refused (413) before it is read whole
    max_connections: int = 256  # open connections at once (kept below the open-file limit)
    header_timeout_s: float = 10.0  # a connection that sends no whole request head is closed

    @property
    def base_url(self) -> str:
        return (self.public_url or f"http://{self.host}:{self.port}").rstrip("/")


@dataclass(frozen=True)
class LoggingConfig:
    level: str = "INFO"
    privacy: bool = False  # never log what users wrote (only ids, timings, concept ids)
    # The console chat's log lines go here (not between its messages); `--verbose`: stderr.
    file: str = "data/zime.log"


@dataclass(frozen=True)
class LimitsConfig:
    per_user_per_minute: int = 3  # requests (a grid is one)
    per_user_per_day: int = 100  # images (a grid of 4 is four)
    per_chat_per_minute: int = 10  # requests
    max_prompt_chars: int = 300
    queue_size: int = 100
    per_user_queued: int = 3
    describe_queue: int = 8  # /apraksti: descriptions waiting at once (one runs at a time)
    max_attempts: int = 3


@dataclass(frozen=True)
class QueueConfig:
    backend: str = "local"  # local: draw in this process | redis: runners behind Redis
    url: str = "redis://127.0.0.1:6379/0"
    claim_after_s: float = 30.0  # a runner silent this long is down; its jobs go elsewhere
    isolate: bool = False  # local: draw in a child process, killed and restarted if it hangs
    result_ttl_s: float = 86400.0  # how long drawn images wait in Redis for the coordinator
    prefix: str = "zime"  # Redis key prefix (several bots may share one Redis)
    max_resident: int = 1  # catalogue models kept loaded at once (least recently used out)
    swap_after_s: float = 20.0  # another model's oldest job waits at most this for a swap


@dataclass(frozen=True)
class ModerationConfig:
    blocklist: tuple[str, ...] = ()


@dataclass(frozen=True)
class Config:
    telegram: TelegramConfig = field(default_factory=TelegramConfig)
    discord: DiscordConfig = field(default_factory=DiscordConfig)
    models: ModelsConfig = field(default_factory=ModelsConfig)
    generation: GenerationConfig = field(default_factory=GenerationConfig)
    storage: StorageConfig = field(default_factory=StorageConfig)
    limits: LimitsConfig = field(default_factory=LimitsConfig)
    queue: QueueConfig = field(default_factory=QueueConfig)
    training: TrainingConfig = field(default_factory=TrainingConfig)
    moderation: ModerationConfig = field(default_factory=ModerationConfig)
    metrics: MetricsConfig = field(default_factory=MetricsConfig)
    web: WebConfig = field(default_factory=WebConfig)
    logging: LoggingConfig = field(default_factory=LoggingConfig)
    base_dir: str = "."

    def path(self, value: str) -> Path:
        """Resolve a path from the config relative to the config file's folder."""
        p = Path(value).expanduser()
        return p if p.is_absolute() else Path(self.base_dir) / p

    def catalogue(self) -> dict[str, ModelSpec]:
        """Every image model by its catalogue name (the legacy `generator`: "default")."""
        m = self.models
        if m.generator:
            return {LEGACY_MODEL: ModelSpec(path=m.generator, concepts=True)}
        return dict(m.generators)

    @property
    def default_model(self) -> str:
        """The catalogue name of the model that draws when a user names none."""
        return LEGACY_MODEL if self.models.generator else self.models.default

    @property
    def generator_path(self) -> str:
        """The default model's hub id or folder."""
        return self.catalogue()[self.default_model].path

    def is_admin(self, platform: str, user_id: str) -> bool:
        """Whether the config names this user an admin now (the console is the operator)."""
        if platform == "console":
            return True
        by_platform = {"telegram": self.telegram.admins, "discord": self.discord.admins}
        admins = by_platform.get(platform, ())
        return user_id.isascii() and user_id.isdigit() and int(user_id) in admins

    def model(self, value: str) -> str:
        """A model named in the config: its local folder when that exists, else a hub id."""
        local = self.path(value)
        return str(local) if local.exists() else value


LEGACY_MODEL = "default"  # the catalogue name of a config's single `[models] generator`

# Secrets and a few operational keys may be overridden from the environment.
ENV_OVERRIDES: dict[str, tuple[str, str]] = {
    "ZIME_TELEGRAM_TOKEN": ("telegram", "token"),
    "ZIME_TELEGRAM_ADMINS": ("telegram", "admins"),  # comma-separated user ids
    "ZIME_TELEGRAM_WEBHOOK": ("telegram", "webhook"),  # true / false
    "ZIME_TELEGRAM_WEBHOOK_SECRET": ("telegram", "webhook_secret"),
    "ZIME_DISCORD_TOKEN": ("discord", "token"),
    "ZIME_DISCORD_ADMINS": ("discord", "admins"),
    "ZIME_DATABASE": ("storage", "database"),
    "ZIME_DEVICE": ("models", "device"),
    "ZIME_REDIS_URL": ("queue", "url"),
    "ZIME_QUEUE_BACKEND": ("queue", "backend"),
    "ZIME_WEB_SECRET": ("web", "secret"),
    "ZIME_WEB_PUBLIC_URL": ("web", "public_url"),
}


def config_from_dict(
    data: Mapping[str, Any], env: Mapping[str, str] | None = None, base_dir: str = "."
) -> Config:
    sections: dict[str, Any] = {}
    hints = typing.get_type_hints(Config)
    merged: dict[str, dict[str, Any]] = {k: dict(v) for k, v in data.items() if k in hints}
    unknown = sorted(k for k in data if k not in hints or k == "base_dir")
    if unknown:
        raise ConfigError(f"unknown section [{unknown[0]}]")
    for var, (sec, key) in ENV_OVERRIDES.items():
        if env and env.get(var):
            hint = typing.get_type_hints(hints[sec])[key]
            merged.setdefault(sec, {})[key] = from_env(var, env[var], hint)
    models = merged.get("models", {})
    if models.get("generator") and models.get("generators"):
        raise ConfigError("[models] has both generator and generators: keep one (the catalogue)")
    if models.get("generators") and "default" not in models:  # the first one draws
        models["default"] = next(iter(models["generators"]))
    for name, sec_data in merged.items():
        sections[name] = section(name, hints[name], sec_data)
    cfg = Config(**sections, base_dir=base_dir)
    validate(cfg)
    return cfg


def from_env(var: str, value: str, hint: Any) -> Any:
    """An environment variable's text as its config key's type: a comma-separated list, a
    number, true/false."""
    try:
        if typing.get_origin(hint) is tuple:
            (item, _) = typing.get_args(hint)
            parts = [p.strip() for p in value.split(",") if p.strip()]
            return [int(p) if item is int else p for p in parts]
        if hint is bool:
            if value.strip().lower() not in ("1", "true", "yes", "0", "false", "no"):
                raise ValueError(value)
            return value.strip().lower() in ("1", "true", "yes")
        if hint is int:
            return int(value)
        if hint is float:
            return float(value)
    except ValueError as exc:
        raise ConfigError(f"{var}={value!r} is not what it takes ({hint})") from exc
    return value


def config_to_dict(cfg: Config) -> dict[str, dict[str, Any]]:
    """The config as plain TOML-like data (for a child process: it pickles)."""
    out: dict[str, dict[str, Any]] = {}
    for f in dataclasses.fields(cfg):
        section = getattr(cfg, f.name)
        if dataclasses.is_dataclass(section) and not isinstance(section, type):
            out[f.name] = {
                k.name: _plain(getattr(section, k.name)) for k in dataclasses.fields(section)
            }
    models = out["models"]  # one form of the catalogue: the single generator, or the tables
    for key in ("generators", "default") if models["generator"] else ("generator",):
        models.pop(key)
    return out


def _plain(value: Any) -> Any:
    """A value as TOML-like data: a table for a ModelSpec or a mapping, a list for a tuple."""
    if isinstance(value, ModelSpec):
        return {f.name: _plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, tuple):
        return [_plain(v) for v in value]
    return value


def load_config(path: str | Path | None, env: Mapping[str, str] | None = None) -> Config:
    """Load `path` (None: built-in defaults). `env` overrides secrets (see ENV_OVERRIDES)."""
    if path is None:
        return config_from_dict({}, env)
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"config file not found: {p}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{p} is not valid TOML: {exc}") from exc
    return config_from_dict(data, env, base_dir=str(p.resolve().parent))
