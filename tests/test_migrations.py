"""Upgrades from every earlier schema: a database as each version left it
(tests/data/schemas/vN.sql, written once by that version's migrations and never regenerated)
opens with today's Store, and its data reads back right."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from core.errors import Failure
from core.jobs.job import GenParams, Job, Status
from core.jobs.store import MIGRATIONS, Store
from tests.redis_server import free_port

ROOT = Path(__file__).resolve().parent.parent
SCHEMAS = ROOT / "tests" / "data" / "schemas"
VERSIONS = sorted(int(p.stem[1:]) for p in SCHEMAS.glob("v*.sql"))


def database(tmp_path: Path, version: int) -> Path:
    path = tmp_path / f"v{version}.sqlite3"
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.executescript((SCHEMAS / f"v{version}.sql").read_text(encoding="utf-8"))
    return path


def test_there_is_a_fixture_for_every_earlier_version() -> None:
    assert list(range(1, len(MIGRATIONS))) == VERSIONS


@pytest.mark.parametrize("version", VERSIONS)
async def test_an_old_database_upgrades_with_its_data(tmp_path: Path, version: int) -> None:
    path = database(tmp_path, version)
    async with Store(path) as store:
        assert await store.schema_version() == len(MIGRATIONS)
        done, timeout, unavailable, model, queued = [await store.get_job(i) for i in range(1, 6)]
        assert done is not None and done.status == Status.DONE and done.failure is None
        assert done.image_path == "/img/1.png" and done.request_text == "Rīgas balzama pudele"
        assert done.seed == 1001 and done.params.guidance == 7.5 and done.delivered
        assert "delivered" not in done.meta  # migration 8: a column of its own
        # migration 3's defaults: one image, no start photo, no options
        assert (done.params.count, done.params.init_image, done.params.strength) == (1, None, 0)
        assert done.options.to_json() == done.options.__class__().to_json()
        # migration 5: the kind of each failure, read from the old error's first word
        assert timeout is not None and timeout.failure == Failure.TIMEOUT
        assert timeout.error == "timeout: after 300 s"  # the details stay for admins
        assert unavailable is not None and unavailable.failure == Failure.UNAVAILABLE
        assert model is not None and model.failure == Failure.MODEL
        assert queued is not None and queued.status == Status.QUEUED and queued.failure is None
        assert [j.id for j in await store.unfinished_jobs()] == [5]
        # migration 4: settings default to none; the language and the ban are kept
        assert await store.settings("telegram", "7") == {}
        assert await store.is_banned("discord", "9") and not await store.is_banned("telegram", "7")
        # an unavailable failure is not counted against the daily limit; the others are
        assert (await store.jobs_since("telegram", "7", 0))[0] == 4
        params = GenParams("a cat", "", 1, 4, 7.5, 64, 64, False)
        last = max(r[0] for r in await store._rows("SELECT id FROM jobs"))
        new = await store.create_job(Job(0, "telegram", "7", "7", params))
        assert new.id == last + 1  # no id is given twice


async def test_migration_8_moves_the_typed_fields_out_of_meta(tmp_path: Path) -> None:
    async with Store(database(tmp_path, 6)) as store:
        job = await store.get_job(6)
        assert job is not None
        assert (job.kind, job.nsfw, job.deleted, job.delivered) == ("variation", True, True, True)
        assert job.params.adapters == ("rigasdoms",)
        assert job.meta == {"language": "lv", "is_group": True, "channel_id": 555, "message_id": 77}
        assert job.model == "minusthousand/lv-sb" == job.model_path  # migration 9
        plain = await store.get_job(1)
        assert plain is not None and plain.kind == "draw" and not plain.nsfw and not plain.deleted
        assert [j.id for j in await store.browse_jobs(flagged=True)] == [6]  # the new index
        with pytest.raises(ValueError, match="columns"):
            await store.update_meta(1, nsfw=True)


async def test_migration_5_reads_each_kind_from_the_old_error(tmp_path: Path) -> None:
    """Every prefix migration 5 maps, storage included (no fixture row has one)."""
    path = database(tmp_path, 4)
    with contextlib.closing(sqlite3.connect(path)) as db:
        db.executemany(
            "INSERT INTO jobs (platform, user_id, chat_id, request_text, normalized, lang,"
            " concepts, prompt, negative_prompt, seed, steps, guidance, width, height, safety,"
            " model, status, error, created_at) VALUES ('telegram', '8', '8', 't', 't', 'lv',"
            " '[]', 'p', '', 1, 4, 7.5, 64, 64, 0, 'm', ?, ?, 1764900100.0)",
            [
                ("failed", "storage: disk full"),
                ("failed", "unavailable: down"),
                ("failed", "timeout: after 300 s"),
                ("failed", "CUDA error"),
                ("done", "storage: an old retry"),
            ],
        )
        db.commit()
    async with Store(path) as store:
        rows = await store._rows("SELECT id FROM jobs WHERE user_id = '8' ORDER BY id")
        jobs = [await store.get_job(r[0]) for r in rows]
        assert [j.failure if j else "?" for j in jobs] == [
            Failure.STORAGE,
            Failure.UNAVAILABLE,
            Failure.TIMEOUT,
            Failure.MODEL,
            None,
        ]


def test_a_failed_migration_exits_with_a_clear_message(tmp_path: Path) -> None:
    path = database(tmp_path, 4)
    with contextlib.closing(sqlite3.connect(path)) as db:  # a column the next migration adds
        db.execute("ALTER TABLE jobs ADD COLUMN failure TEXT")
    cfg = tmp_path / "config.toml"
    cfg.write_text(
        f'[storage]\ndatabase = "{path}"\n[queue]\nbackend = "redis"\n'
        f'url = "redis://127.0.0.1:{free_port()}/0"\n',
        encoding="utf-8",
    )
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "--config", str(cfg)],
        cwd=Path.cwd(),
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=120,
    )
    assert proc.returncode == 2, proc.stderr[-2000:]
    last = proc.stderr.strip().splitlines()[-1]
    assert last.startswith("zime: cannot open the database") and "migration 5 failed" in last
    assert "Traceback" not in proc.stderr
