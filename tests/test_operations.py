from __future__ import annotations

import asyncio
import json
import os
import sqlite3
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from core.app import open_service
from core.config import config_from_dict
from core.errors import ModelError
from core.fetch import fetch_models
from core.lang.translate import IdentityTranslator, Translators
from core.maintenance import backup, db_stats, prune_images
from core.models import Request
from tests.fakes import FakeGenerator
from tests.helpers import make_config

ROOT = Path(__file__).resolve().parent.parent


def run_core(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "core", *args], cwd=ROOT, capture_output=True,
                          text=True, timeout=120, env={**os.environ, "HF_HUB_OFFLINE": "1"})  # fmt: skip


def test_fetch_models_unreachable_hub_is_a_clear_error(tmp_path: Path) -> None:
    cfg = config_from_dict({"models": {"generator": "minusthousand/lv-sb"}})
    with pytest.raises(ModelError, match="cannot be reached"):
        fetch_models(cfg, reachable=lambda: False)
    proc = run_core("fetch-models")
    assert proc.returncode == 2 and "cannot be reached" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_fetch_models_with_local_paths_is_a_no_op_and_converts(
    tiny_models: dict[str, Path], tmp_path: Path
) -> None:
    import shutil

    opus = tmp_path / "opus"
    shutil.copytree(tiny_models["opus"], opus)
    cfg = tmp_path / "cfg.toml"
    cfg.write_text(
        f'[models]\ngenerator = "{tiny_models["sd"]}"\ntranslator = "{opus}"\n', encoding="utf-8"
    )
    proc = run_core("fetch-models", "--config", str(cfg), "--ctranslate2")
    assert proc.returncode == 0, proc.stderr
    rows = [line.split("\t") for line in proc.stdout.splitlines()]
    assert rows[0] == ["generator", str(tiny_models["sd"]), "local"]
    assert rows[1] == ["translator", str(opus), "local"]
    assert rows[2][0] == "translator-ct2" and (tmp_path / "opus-ct2" / "model.bin").is_file()


def test_fetch_models_downloads_hub_ids_with_the_given_downloader(tmp_path: Path) -> None:
    got: list[str] = []

    def fake_download(repo: str, cache: str) -> Path:
        got.append(repo)
        return tmp_path / repo.replace("/", "--")

    cfg = config_from_dict({})
    items = fetch_models(cfg, download=fake_download, reachable=lambda: True)
    assert got == ["minusthousand/lv-sb", "Helsinki-NLP/opus-mt-tc-big-lv-en"]
    assert all(i.downloaded for i in items)


async def test_backup_restore_round_trip_and_stats(tmp_path: Path) -> None:
    cfg = make_config(tmp_path)
    async with open_service(
        cfg, generator=FakeGenerator(), translators=Translators.single(IdentityTranslator())
    ) as svc:
        sub = await svc.handle(Request("test", "u1", "u1", "Rīgas balzams"))
        await sub.handle.wait()
        copy = backup(Path(cfg.storage.database), tmp_path / "backups" / "b.sqlite3")  # while open
    with sqlite3.connect(copy) as db:
        assert db.execute("SELECT request_text, status FROM jobs").fetchall() == [
            ("Rīgas balzams", "done")
        ]
    restored = make_config(tmp_path / "restored")
    Path(restored.storage.database).parent.mkdir(parents=True, exist_ok=True)
    Path(restored.storage.database).write_bytes(copy.read_bytes())
    async with open_service(
        restored, generator=FakeGenerator(), translators=Translators.single(IdentityTranslator())
    ) as svc:
        [item] = await svc.history(Request("test", "u1", "u1", ""))
        assert item.text == "Rīgas balzams" and item.status == "done"
    stats = db_stats(copy)
    assert (
        stats["jobs"] == 1
        and stats["jobs_by_status"] == {"done": 1}
        and stats["schema_version"] == 1
    )


def test_db_cli(tmp_path: Path) -> None:
    cfg_file = tmp_path / "cfg.toml"
    cfg_file.write_text(f'[storage]\ndatabase = "{tmp_path / "z.sqlite3"}"\n', encoding="utf-8")
    missing = run_core("db", "stats", "--config", str(cfg_file))
    assert missing.returncode == 2 and "no database" in missing.stderr

    async def make() -> None:
        async with open_service(make_config(tmp_path), generator=FakeGenerator(),
                                translators=Translators.single(IdentityTranslator())):  # fmt: skip
            pass

    asyncio.run(make())
    proc = run_core("db", "--config", str(cfg_file), "backup", str(tmp_path / "copy.sqlite3"))
    assert proc.returncode == 0, proc.stderr and (tmp_path / "copy.sqlite3").is_file()
    stats = run_core("db", "stats", "--config", str(cfg_file))
    assert json.loads(stats.stdout)["schema_version"] == 1


def test_image_retention(tmp_path: Path) -> None:
    old = tmp_path / "2020-01-01" / "1.png"
    new = tmp_path / "2026-01-01" / "2.png"
    for p in (old, new):
        p.parent.mkdir(parents=True)
        p.write_bytes(b"png")
    os.utime(old, (time.time() - 40 * 86400,) * 2)
    assert prune_images(tmp_path, 30) == 1
    assert not old.exists() and not old.parent.exists() and new.exists()
    assert prune_images(tmp_path, 0) == 0


async def test_metrics_endpoint(tmp_path: Path) -> None:
    cfg = make_config(tmp_path, metrics={"enabled": True, "port": 39417})
    async with open_service(
        cfg, generator=FakeGenerator(), translators=Translators.single(IdentityTranslator())
    ) as svc:
        sub = await svc.handle(Request("test", "u1", "u1", "kaķis uz jumta"))
        await sub.handle.wait()

        def get(path: str) -> tuple[int, str]:
            with urllib.request.urlopen(f"http://127.0.0.1:39417{path}", timeout=5) as r:
                return r.status, r.read().decode()

        status, body = await asyncio.to_thread(get, "/healthz")
        assert status == 200 and body.strip() == "ok"
        _, text = await asyncio.to_thread(get, "/metrics")
    assert "zime_queue_length 0" in text
    assert 'zime_jobs_total{status="done"} 1' in text
    assert "zime_draw_seconds_count 1" in text and 'zime_draw_seconds_bucket{le="+Inf"} 1' in text
    assert "zime_translate_seconds_count 1" in text


@pytest.mark.parametrize("privacy", [False, True])
async def test_one_log_line_per_job_and_privacy_mode(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, privacy: bool
) -> None:
    cfg = make_config(tmp_path, logging={"privacy": privacy})
    caplog.set_level("INFO", logger="zime.worker")
    async with open_service(
        cfg, generator=FakeGenerator(), translators=Translators.single(IdentityTranslator())
    ) as svc:
        sub = await svc.handle(Request("test", "u9", "u9", "mana slepenā vēlme"))
        await sub.handle.wait()
    [line] = [r.getMessage() for r in caplog.records if r.getMessage().startswith("job ")]
    assert f"id={sub.job_id}" in line and "status=done" in line and "draw_s=" in line
    assert ("slepenā" in line) is (not privacy)
