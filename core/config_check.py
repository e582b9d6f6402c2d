"""Reading the config's sections and checking their values (core/config.py defines them):
types are coerced with a message that names the key, and every value is checked against its
range, so a bad key stops the start with one clear line."""

from __future__ import annotations

import dataclasses
import ipaddress
import re
import types
import typing
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from core.errors import ConfigError

if TYPE_CHECKING:
    from core.config import Config

FAMILIES = ("sd15", "sdxl")
_MODEL_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,23}")  # fits a button's callback data
_CHOICES: dict[tuple[str, str], tuple[str, ...]] = {
    ("models", "device"): ("auto", "cuda", "cpu"),
    ("models", "scheduler"): ("euler_a", "dpm", "ddim", "pndm"),
    ("models", "safety_checker"): ("always", "groups", "never"),
    ("logging", "level"): ("DEBUG", "INFO", "WARNING", "ERROR"),
    ("queue", "backend"): ("local", "redis"),
}


def _coerce(key: str, value: Any, hint: Any) -> Any:
    origin = typing.get_origin(hint)
    if origin is tuple:
        if not isinstance(value, list | tuple):
            raise ConfigError(f"{key} must be a list, got {value!r}")
        (item_hint, _ellipsis) = typing.get_args(hint)
        return tuple(_coerce(f"{key}[{i}]", v, item_hint) for i, v in enumerate(value))
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{key} must be a number, got {value!r}")
        return float(value)
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{key} must be an integer, got {value!r}")
        return value
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(f"{key} must be true or false, got {value!r}")
        return value
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        return section(key, hint, value)
    if typing.get_origin(hint) is Mapping:
        if not isinstance(value, Mapping):
            raise ConfigError(f"{key} must be a table, got {value!r}")
        _key_hint, item_hint = typing.get_args(hint)
        return types.MappingProxyType(
            {str(k): _coerce(f"{key}.{k}", v, item_hint) for k, v in value.items()}
        )
    if hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"{key} must be a string, got {value!r}")
        return value
    raise ConfigError(f"{key}: unsupported type {hint!r}")


def section(name: str, cls: type, data: Mapping[str, Any]) -> Any:
    if not isinstance(data, Mapping):
        raise ConfigError(f"[{name}] must be a table, got {data!r}")
    hints = typing.get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"unknown key {name}.{unknown[0]} (known: {', '.join(sorted(known))})")
    values = {k: _coerce(f"{name}.{k}", v, hints[k]) for k, v in data.items()}
    for (sec, key), choices in _CHOICES.items():
        if sec == name and key in values and values[key] not in choices:
            raise ConfigError(f"{name}.{key} must be one of {choices}, got {values[key]!r}")
    return cls(**values)


def validate(cfg: Config) -> None:
    g, lim = cfg.generation, cfg.limits
    checks: list[tuple[bool, str, object]] = [
        (g.steps >= 1 and g.steps <= 150, "generation.steps", g.steps),
        (1 <= g.max_steps <= 150, "generation.max_steps", g.max_steps),
        (1 <= g.images <= 4, "generation.images", g.images),
        (g.width % 8 == 0 and 64 <= g.width <= g.max_side, "generation.width", g.width),
        (g.height % 8 == 0 and 64 <= g.height <= g.max_side, "generation.height", g.height),
        (g.batch_size >= 1, "generation.batch_size", g.batch_size),
        (g.job_timeout_s > 0, "generation.job_timeout_s", g.job_timeout_s),
        (g.hang_grace_s > 0, "generation.hang_grace_s", g.hang_grace_s),
        (cfg.storage.lock_wait_s > 0, "storage.lock_wait_s", cfg.storage.lock_wait_s),
        (lim.max_prompt_chars >= 1, "limits.max_prompt_chars", lim.max_prompt_chars),
        (lim.per_user_per_minute >= 0, "limits.per_user_per_minute", lim.per_user_per_minute),
        (lim.per_user_per_day >= 0, "limits.per_user_per_day", lim.per_user_per_day),
        (lim.per_chat_per_minute >= 0, "limits.per_chat_per_minute", lim.per_chat_per_minute),
        (lim.queue_size >= 1, "limits.queue_size", lim.queue_size),
        (lim.per_user_queued >= 1, "limits.per_user_queued", lim.per_user_queued),
        (lim.max_attempts >= 1, "limits.max_attempts", lim.max_attempts),
        (cfg.storage.retention_days >= 0, "storage.retention_days", cfg.storage.retention_days),
        (0 < cfg.metrics.port < 65536, "metrics.port", cfg.metrics.port),
        (0 < cfg.web.port < 65536, "web.port", cfg.web.port),
        (
            cfg.web.public_url == "" or cfg.web.public_url.startswith(("http://", "https://")),
            "web.public_url",
            cfg.web.public_url,
        ),
        (cfg.web.max_body_kb >= 1, "web.max_body_kb", cfg.web.max_body_kb),
        (cfg.web.max_connections >= 1, "web.max_connections", cfg.web.max_connections),
        (cfg.web.header_timeout_s > 0, "web.header_timeout_s", cfg.web.header_timeout_s),
        (cfg.queue.claim_after_s > 0, "queue.claim_after_s", cfg.queue.claim_after_s),
        (cfg.queue.max_resident >= 1, "queue.max_resident", cfg.queue.max_resident),
        (cfg.queue.swap_after_s >= 0, "queue.swap_after_s", cfg.queue.swap_after_s),
        (cfg.training.steps >= 1, "training.steps", cfg.training.steps),
        (cfg.training.rank >= 1, "training.rank", cfg.training.rank),
        (cfg.training.prior_images >= 0, "training.prior_images", cfg.training.prior_images),
        (cfg.training.learning_rate > 0, "training.learning_rate", cfg.training.learning_rate),
        (
            cfg.training.checkpoint_every >= 1,
            "training.checkpoint_every",
            cfg.training.checkpoint_every,
        ),
        (
            cfg.training.resolution % 8 == 0 and cfg.training.resolution >= 64,
            "training.resolution",
            cfg.training.resolution,
        ),
        (cfg.queue.result_ttl_s > 0, "queue.result_ttl_s", cfg.queue.result_ttl_s),
        (
            cfg.queue.url.startswith(("redis://", "rediss://", "unix://")),
            "queue.url",
            cfg.queue.url,
        ),
    ]
    for proxy in cfg.web.trusted_proxies:
        checks.append((_is_network(proxy), "web.trusted_proxies", proxy))
    checks += _catalogue_checks(cfg)
    for lang in cfg.models.translators:
        checks.append(
            (
                lang.isalpha() and lang.islower() and len(lang) in (2, 3),
                f"models.translators.{lang}",
                "a language code like ru",
            )
        )
    for ok, key, value in checks:
        if not ok:
            raise ConfigError(f"{key} has a bad value: {value!r}")
    _web_checks(cfg)


WILDCARD_HOSTS = ("0.0.0.0", "::", "[::]", "")


def _web_checks(cfg: Config) -> None:
    """Links must reach the web app: a wildcard host is no address to send anyone to, and
    Telegram webhooks need the web app and an https address."""
    web = cfg.web
    if web.enabled and web.host in WILDCARD_HOSTS and not web.public_url:
        raise ConfigError(
            f"[web] host = {web.host!r} listens on every address, so the links the bot sends "
            "need [web] public_url (or ZIME_WEB_PUBLIC_URL), e.g. https://zime.example.lv"
        )
    if cfg.telegram.webhook and not (web.enabled and web.public_url):
        raise ConfigError(
            "[telegram] webhook = true receives updates on the web app: set [web] enabled = "
            "true and [web] public_url to its https address (Telegram posts to https only)"
        )


def _catalogue_checks(cfg: Config) -> list[tuple[bool, str, object]]:
    """Every catalogue model is complete, and every name or alias means one model."""
    m = cfg.models
    checks: list[tuple[bool, str, object]] = [
        (bool(m.generator) or m.default in m.generators, "models.default", m.default),
    ]
    seen: dict[str, str] = {}
    for name, spec in m.generators.items():
        key = f"models.generators.{name}"
        checks += [
            (bool(_MODEL_NAME.fullmatch(name)), key, "a name of a-z, 0-9, . _ -"),
            (bool(spec.path), f"{key}.path", spec.path),
            (spec.family in FAMILIES, f"{key}.family", spec.family),
            (1 <= spec.fast_steps <= 50, f"{key}.fast_steps", spec.fast_steps),
            (0 < spec.fast_guidance <= 30, f"{key}.fast_guidance", spec.fast_guidance),
            (spec.width % 8 == 0 and spec.width >= 0, f"{key}.width", spec.width),
            (spec.height % 8 == 0 and spec.height >= 0, f"{key}.height", spec.height),
        ]
        for alias in (name, *spec.aliases):
            folded = alias.casefold()
            checks.append((seen.get(folded, name) == name, f"{key}.aliases", alias))
            seen[folded] = name
    return checks


def _is_network(value: str) -> bool:
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError:
        return False
    return True
