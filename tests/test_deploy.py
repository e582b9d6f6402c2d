"""The deployment as written (issue #32): compose passes every ZIME_* variable the config
reads, from an .env like .env.example, and what an operator puts there arrives in each
service's config; a wildcard web host without public_url is refused with the fix."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from core.config import ENV_OVERRIDES, load_config
from core.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent
SERVICES = ("zime", "zime-coordinator", "runner-0", "runner-1")


def compose() -> dict[str, Any]:
    import yaml

    return dict(yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))["services"])


def dotenv(text: str) -> dict[str, str]:
    pairs = (line.split("=", 1) for line in text.splitlines() if "=" in line)
    return {k.strip(): v.strip() for k, v in pairs if not k.lstrip().startswith("#")}


def interpolate(value: str, env: dict[str, str]) -> str:
    """Compose's `${VAR:-default}`, as `docker compose` reads .env."""
    return re.sub(r"\$\{(\w+)(?::-([^}]*))?\}", lambda m: env.get(m[1]) or (m[2] or ""), str(value))


def test_every_service_gets_every_variable_the_config_reads() -> None:
    services = compose()
    example = dotenv((ROOT / ".env.example").read_text(encoding="utf-8"))
    for name in SERVICES:
        environment = services[name]["environment"]
        missing = sorted(set(ENV_OVERRIDES) - set(environment))
        assert not missing, (name, missing)
    documented = {v for v in ENV_OVERRIDES if v not in ("ZIME_QUEUE_BACKEND", "ZIME_REDIS_URL")}
    assert documented - {"ZIME_DATABASE", "ZIME_DEVICE"} <= set(example)


@pytest.mark.parametrize("service", SERVICES)
def test_what_the_env_file_says_arrives_in_each_services_config(
    tmp_path: Path, service: str
) -> None:
    """The service's environment, interpolated from an operator's .env, given to the config
    the compose file mounts (deploy/zime.toml), read by `python -m core config`."""
    dot = dotenv((ROOT / ".env.example").read_text(encoding="utf-8"))
    dot.update(
        ZIME_TELEGRAM_TOKEN="123456:AAAA-secret-token-AAAAAAAAAAAAAAAAAAAA",
        ZIME_TELEGRAM_ADMINS="111, 222",
        ZIME_DISCORD_ADMINS="333",
        ZIME_WEB_PUBLIC_URL="https://zime.example.lv",
        ZIME_WEB_SECRET="a-long-random-secret",
    )
    env = {k: interpolate(v, dot) for k, v in compose()[service]["environment"].items()}
    proc = subprocess.run(
        [sys.executable, "-m", "core", "config", "--config", str(ROOT / "deploy" / "zime.toml")],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    got = json.loads(proc.stdout)
    assert got["telegram"]["admins"] == [111, 222] and got["discord"]["admins"] == [333]
    assert got["web"]["public_url"] == "https://zime.example.lv"
    assert got["web"]["secret"] == "(set)" and got["telegram"]["token"] == "(set)"
    assert "secret-token" not in proc.stdout and "a-long-random" not in proc.stdout
    redis = service != "zime"
    assert got["queue"]["backend"] == ("redis" if redis else "local")


def test_a_wildcard_web_host_needs_a_public_url() -> None:
    with pytest.raises(ConfigError, match=r"public_url \(or ZIME_WEB_PUBLIC_URL\)"):
        load_config(ROOT / "deploy" / "zime.toml", {})
    cfg = load_config(ROOT / "deploy" / "zime.toml", {"ZIME_WEB_PUBLIC_URL": "https://z.lv"})
    assert cfg.web.base_url == "https://z.lv"
    with pytest.raises(ConfigError, match="ZIME_TELEGRAM_ADMINS"):
        load_config(None, {"ZIME_TELEGRAM_ADMINS": "anna"})


def test_the_https_profile_puts_caddy_in_front() -> None:
    caddy = compose()["caddy"]
    assert caddy["profiles"] == ["https"] and "443:443" in caddy["ports"]
    assert "./deploy/Caddyfile:/etc/caddy/Caddyfile:ro" in caddy["volumes"]
    caddyfile = (ROOT / "deploy" / "Caddyfile").read_text(encoding="utf-8")
    assert "{$ZIME_DOMAIN}" in caddyfile and "reverse_proxy {$ZIME_UPSTREAM}" in caddyfile
