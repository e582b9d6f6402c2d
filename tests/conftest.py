from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Tiny random SD / NLLB / Marian models, built once per test session (~10 s)."""
    from core.tiny import build_tiny_models

    return build_tiny_models(tmp_path_factory.mktemp("tiny"))
