from __future__ import annotations

from pathlib import Path

import pytest

from core.config import config_from_dict, load_config
from core.errors import ConfigError, RateLimited
from core.jobs.ratelimit import RateLimiter
from core.jobs.store import MIGRATIONS, Store


def test_token_bucket_with_fake_clock() -> None:
    now = [0.0]
    lim = RateLimiter(per_user_per_minute=3, clock=lambda: now[0])
    for _ in range(3):
        lim.acquire("u")
    with pytest.raises(RateLimited) as err:
        lim.acquire("u")
    assert err.value.retry_after == pytest.approx(20.0) and err.value.scope == "user"
    lim.acquire("other")  # per user
    now[0] += 20
    lim.acquire("u")
    lim.acquire("u", exempt=True)
    lim.refund("u")
    lim.acquire("u")  # the refunded token


def test_idle_buckets_are_pruned() -> None:
    now = [0.0]
    lim = RateLimiter(per_user_per_minute=3, clock=lambda: now[0])
    for i in range(500):
        lim.acquire(f"user-{i}")
    assert len(lim._buckets) == 500
    now[0] += 120  # every bucket has refilled: it carries no state worth keeping
    lim.acquire("late")
    assert len(lim._buckets) <= 2


def test_chat_limit_only_for_groups() -> None:
    lim = RateLimiter(per_user_per_minute=10, per_chat_per_minute=2, clock=lambda: 0.0)
    lim.acquire("a", "g")
    lim.acquire("b", "g")
    with pytest.raises(RateLimited) as err:
        lim.acquire("c", "g")
    assert err.value.scope == "chat"
    lim.acquire("c")  # private chat: no chat bucket


def test_config_defaults_env_and_errors(tmp_path: Path) -> None:
    cfg = config_from_dict({}, {"ZIME_TELEGRAM_TOKEN": "123:abc"})
    assert cfg.telegram.token == "123:abc" and cfg.limits.max_prompt_chars == 300
    assert cfg.generator_path == "minusthousand/lv-sb" and cfg.default_model == "lv-sb"
    with pytest.raises(ConfigError, match="limits.per_user_per_minute"):
        config_from_dict({"limits": {"per_user_per_minute": "three"}})
    with pytest.raises(ConfigError, match="models.device"):
        config_from_dict({"models": {"device": "tpu"}})
    with pytest.raises(ConfigError, match="unknown key telegram.tokn"):
        config_from_dict({"telegram": {"tokn": "x"}})
    with pytest.raises(ConfigError, match="generation.width"):
        config_from_dict({"generation": {"width": 500}})
    with pytest.raises(ConfigError, match="not found"):
        load_config(tmp_path / "missing.toml")


def test_translators_by_language() -> None:
    cfg = config_from_dict({"models": {"translators": {"ru": "Helsinki-NLP/opus-mt-ru-en"}}})
    assert dict(cfg.models.translators) == {"ru": "Helsinki-NLP/opus-mt-ru-en"}
    # Russian out of the box (#22); an explicit table replaces the default
    assert dict(config_from_dict({}).models.translators) == {"ru": "Helsinki-NLP/opus-mt-ru-en"}
    assert dict(config_from_dict({"models": {"translators": {}}}).models.translators) == {}
    with pytest.raises(ConfigError, match="models.translators.Russian"):
        config_from_dict({"models": {"translators": {"Russian": "x"}}})
    with pytest.raises(ConfigError, match="models.translators must be a table"):
        config_from_dict({"models": {"translators": "ru=x"}})


def test_example_config_is_valid_and_complete() -> None:
    import dataclasses
    import tomllib

    root = Path(__file__).resolve().parent.parent
    cfg = load_config(root / "config.example.toml", {})
    data = tomllib.loads((root / "config.example.toml").read_text(encoding="utf-8"))
    for section in dataclasses.fields(cfg):
        if section.name == "base_dir":
            continue
        documented = set(data.get(section.name, {}))
        known = {f.name for f in dataclasses.fields(getattr(cfg, section.name))}
        assert documented == known, f"[{section.name}] documents {documented ^ known} wrongly"
    # and the example shows the defaults
    defaults = load_config(None, {})
    assert dataclasses.replace(cfg, base_dir=defaults.base_dir) == defaults


async def test_store_migrations_are_recorded_once(tmp_path: Path) -> None:
    path = tmp_path / "db.sqlite3"
    async with Store(path) as store:
        assert await store.schema_version() == len(MIGRATIONS)
    async with Store(path) as store:  # reopening applies nothing twice
        assert await store.schema_version() == len(MIGRATIONS)
        async with store.db.execute("PRAGMA journal_mode") as cur:
            row = await cur.fetchone()
        assert row is not None and row[0] == "wal"


def test_the_model_catalogue_and_the_single_generator_of_earlier_configs() -> None:
    from core.config import ModelSpec, config_to_dict

    legacy = config_from_dict({"models": {"generator": "some/model"}})
    assert legacy.default_model == "default" and legacy.generator_path == "some/model"
    assert legacy.catalogue() == {"default": ModelSpec(path="some/model", concepts=True)}
    two = {
        "generators": {
            "lv-sb": {"path": "minusthousand/lv-sb", "concepts": True, "aliases": ["latvija"]},
            "xl": {"path": "stabilityai/sdxl", "family": "sdxl", "fast_lora": "a/b/c.safetensors"},
        }
    }
    cfg = config_from_dict({"models": two})
    assert cfg.default_model == "lv-sb" and list(cfg.catalogue()) == ["lv-sb", "xl"]
    assert cfg.catalogue()["xl"].family == "sdxl" and not cfg.catalogue()["xl"].concepts
    named = config_from_dict({"models": {**two, "default": "xl"}})
    assert named.generator_path == "stabilityai/sdxl"
    assert config_from_dict(config_to_dict(named)) == named  # a child process reads it back
    assert config_from_dict(config_to_dict(legacy)) == legacy
    bad = [
        ({**two, "default": "nope"}, "models.default"),
        ({**two, "generator": "x/y"}, "both generator and generators"),
        ({"generators": {"a": {"path": "p", "family": "sd3"}}}, "models.generators.a.family"),
        ({"generators": {"a": {"family": "sd15"}}}, "models.generators.a.path"),
        ({"generators": {"a": {"path": "p", "aliasez": []}}}, "unknown key"),
        (
            {"generators": {"a": {"path": "p"}, "b": {"path": "q", "aliases": ["A"]}}},
            "models.generators.b.aliases",
        ),
        ({"generators": {"Big Name": {"path": "p"}}}, "models.generators.Big Name"),
    ]
    for models, message in bad:
        with pytest.raises(ConfigError, match=message):
            config_from_dict({"models": models})
