from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.redis_server import RedisServer

ROOT = Path(__file__).resolve().parent.parent


def _data_state() -> list[tuple[str, int]] | None:
    data = ROOT / "data"
    if not data.exists():
        return None
    return sorted((str(p.relative_to(data)), p.stat().st_mtime_ns) for p in data.rglob("*"))


@pytest.fixture(scope="session", autouse=True)
def _checkout_data_untouched() -> Iterator[None]:
    """No test may write the checkout's ./data (an operator's database and concepts)."""
    before = _data_state()
    yield
    assert _data_state() == before, "a test wrote into the checkout's ./data"


@pytest.fixture(autouse=True)
def _in_tmp_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test runs in its own tmp folder, and so does every process it starts: a
    relative path (the config's default data/…) lands there, never in the checkout's ./data,
    which an operator may be using. Child processes find the project (and `tests.*`) through
    PYTHONPATH."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("PYTHONPATH", str(ROOT))


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Tiny random SD / NLLB / Marian models, built once per test session (~10 s)."""
    from core.draw.tiny import build_tiny_models

    return build_tiny_models(tmp_path_factory.mktemp("tiny"))


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    """A real redis-server with append-only persistence, stopped after the test."""
    server = RedisServer(tmp_path / "redis")
    server.start()
    yield server
    server.stop()
