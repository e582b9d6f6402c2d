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
from core.jobs.job import Request
from core.jobs.store import MIGRATIONS
from core.lang.translate import IdentityTranslator, Translators
from core.ops.maintenance import backup, db_stats, prune_images
from tests.fakes import FakeGenerator
from tests.helpers import make_config

ROOT = Path(__file__).resolve().parent.parent
PUBLIC = {"ZIME_WEB_PUBLIC_URL": "https://zime.example.lv"}  # deploy/zime.toml listens on 0.0.0.0


def run_core(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "core", *args],
        cwd=Path.cwd(),
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )


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
        assert item.request_text == "Rīgas balzams" and item.status == "done"
    stats = db_stats(copy)
    assert (
        stats["jobs"] == 1
        and stats["jobs_by_status"] == {"done": 1}
        and stats["schema_version"] == len(MIGRATIONS)
    )


def test_db_cli(tmp_path: Path) -> None:
    cfg_file = tmp_path / "cfg.toml"
    cfg_file.write_text(f'[storage]\ndatabase = "{tmp_path / "z.sqlite3"}"\n', encoding="utf-8")
    missing = run_core("db", "stats", "--config", str(cfg_file))
    assert missing.returncode == 2 and "no database" in missing.stderr

    async def make() -> None:
        async with open_service(
            make_config(tmp_path),
            generator=FakeGenerator(),
            translators=Translators.single(IdentityTranslator()),
        ):
            pass

    asyncio.run(make())
    proc = run_core("db", "--config", str(cfg_file), "backup", str(tmp_path / "copy.sqlite3"))
    assert proc.returncode == 0, proc.stderr
    assert (tmp_path / "copy.sqlite3").is_file()  # the check itself, not its message
    with sqlite3.connect(tmp_path / "copy.sqlite3") as db:
        assert db.execute("SELECT MAX(version) FROM schema_migrations").fetchone() == (
            len(MIGRATIONS),
        )
    stats = run_core("db", "stats", "--config", str(cfg_file))
    assert json.loads(stats.stdout)["schema_version"] == len(MIGRATIONS)


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


def test_compose_gpus_profile_runs_one_runner_per_gpu() -> None:
    """The "gpus" profile: Redis with append-only persistence, a coordinator that reaches
    it, and runners that each reserve one distinct GPU and run `core runner`."""
    import yaml  # transformers' own dependency

    from core.config import load_config

    services = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))["services"]
    gpus = {name: s for name, s in services.items() if "gpus" in s.get("profiles", [])}
    assert "--appendonly" in gpus["redis"]["command"]
    assert gpus["zime-coordinator"]["environment"]["ZIME_REDIS_URL"] == "redis://redis:6379/0"
    runners = {n: s for n, s in gpus.items() if n.startswith("runner-")}
    assert len(runners) >= 2
    devices = [
        s["deploy"]["resources"]["reservations"]["devices"][0]["device_ids"][0]
        for s in runners.values()
    ]
    assert len(set(devices)) == len(devices)
    served = []
    catalogue = load_config(ROOT / "deploy" / "zime.toml", PUBLIC).catalogue()
    for name, s in runners.items():
        assert s["entrypoint"][2:4] == ["core", "runner"] and name in s["entrypoint"]
        assert s["environment"]["ZIME_QUEUE_BACKEND"] == "redis"
        served.append(s["entrypoint"][s["entrypoint"].index("--models") + 1])
    # two runners serving different models of the catalogue (issue #30)
    assert len(set(served)) == len(served) and set(served) <= set(catalogue)


def test_compose_containers_share_the_data_dir_and_a_container_config() -> None:
    """Every service that loads the config mounts deploy/zime.toml as it and ./data as
    /data, and every path of that config is under /data: the runners see the adapters the
    coordinator installs (#23), and nothing is written to the read-only /config."""
    import yaml

    from core.config import load_config

    services = yaml.safe_load((ROOT / "compose.yaml").read_text(encoding="utf-8"))["services"]
    cfg = load_config(ROOT / "deploy" / "zime.toml", PUBLIC)
    for path in (
        cfg.storage.database,
        cfg.storage.images,
        cfg.storage.adapters,
        cfg.storage.concepts,
        cfg.training.class_images,
    ):
        assert str(cfg.path(path)).startswith("/data/"), path
    assert cfg.metrics.enabled and cfg.metrics.host == "0.0.0.0"
    users = [n for n in services if n not in ("redis", "caddy")]
    assert {"zime", "zime-coordinator", "runner-0", "runner-1"} <= set(users)
    for name in users:
        volumes = services[name]["volumes"]
        assert "./data:/data" in [v.split(" ")[0] for v in volumes], name
        assert "./deploy/zime.toml:/config/config.toml:ro" in volumes, name
    redis_env = load_config(
        ROOT / "deploy" / "zime.toml", {**PUBLIC, "ZIME_QUEUE_BACKEND": "redis"}
    )
    assert redis_env.queue.backend == "redis"


def test_an_extra_translator_that_cannot_load_is_left_out(
    tiny_models: dict[str, Path], monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Russian is on by default (#22); offline and not fetched, the bot still starts and
    Russian prompts get the polite refusal. The Latvian translator must load."""
    from core.app import make_translators

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    opus = str(tiny_models["opus"])
    cfg = config_from_dict(
        {
            "models": {
                "translator": opus,
                "translators": {"ru": "Helsinki-NLP/opus-mt-ru-en", "lt": opus},
            }
        }
    )
    translators = make_translators(cfg, device="cpu")
    assert translators.supports("lv") and translators.supports("lt")
    assert not translators.supports("ru") and "ru translator is left out" in caplog.text
    with pytest.raises(ModelError):
        make_translators(config_from_dict({"models": {"translator": "nobody/nothing"}}))
