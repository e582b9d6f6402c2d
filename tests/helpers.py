from __future__ import annotations

from pathlib import Path
from typing import Any

from core.config import Config, config_from_dict


def make_config(tmp_path: Path, **sections: dict[str, Any]) -> Config:
    data: dict[str, dict[str, Any]] = {
        "storage": {"database": str(tmp_path / "z.sqlite3"), "images": str(tmp_path / "img")},
        "generation": {"steps": 2, "width": 64, "height": 64, "batch_size": 1},
        "limits": {"per_user_per_minute": 100, "per_user_per_day": 1000, "per_user_queued": 20},
    }
    for name, values in sections.items():
        data.setdefault(name, {}).update(values)
    # base_dir: every relative path of the defaults (data/…) resolves inside the test's folder
    return config_from_dict(data, base_dir=str(tmp_path))
