"""Model hub helpers: tell quickly and clearly when a hub id cannot be had offline."""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import urlparse

from core.errors import ModelError

DEFAULT_ENDPOINT = "https://huggingface.co"


def is_local(source: str) -> bool:
    return Path(source).expanduser().exists()


def is_cached(repo_id: str, filename: str = "config.json", cache_dir: str | None = None) -> bool:
    """True when the hub cache (`cache_dir`, or the default) holds `filename` of `repo_id`
    (no network)."""
    from huggingface_hub import try_to_load_from_cache

    try:
        found = try_to_load_from_cache(repo_id, filename, cache_dir=cache_dir or None)
    except Exception:  # not a valid repo id (e.g. a missing local path)
        return False
    return isinstance(found, str)


def hub_address(env: Mapping[str, str]) -> tuple[str, int]:
    """Host and port of the hub: `HF_ENDPOINT` (a mirror or self-hosted hub, port included)
    or huggingface.co."""
    url = urlparse(env.get("HF_ENDPOINT") or DEFAULT_ENDPOINT)
    return url.hostname or "huggingface.co", url.port or (80 if url.scheme == "http" else 443)


def hub_reachable(env: Mapping[str, str] | None = None, timeout: float = 3.0) -> bool:
    env = os.environ if env is None else env
    if env.get("HF_HUB_OFFLINE", "") not in ("", "0"):
        return False
    try:
        with socket.create_connection(hub_address(env), timeout=timeout):
            return True
    except OSError:
        return False


def check_available(
    source: str, what: str, filename: str = "config.json", cache_dir: str | None = None
) -> None:
    """Fail fast with one clear sentence when `source` is a hub id that is neither cached
    (in `cache_dir`) nor downloadable, instead of letting the loader retry for half a minute."""
    if is_local(source) or is_cached(source, filename, cache_dir) or hub_reachable():
        return
    raise ModelError(
        f"the {what} {source!r} is not on this machine and the model hub cannot be reached; "
        "run `python -m core fetch-models` where there is internet, or point the config at "
        "a local copy (e.g. tiny models from `python -m core tiny-models DIR`)"
    )
