"""One writer for SQLite (issue #21): a lock held by another process (a backup, the sqlite3
shell) fails an operation or makes it wait, but never loses a write another operation was
told succeeded, and never gives an id twice. A migration that fails is a clear error."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
from pathlib import Path

import aiosqlite
import pytest

from core.errors import StorageError
from core.jobs.job import GenParams, Job
from core.jobs.store import MIGRATIONS, Store


def new_job(n: int) -> Job:
    params = GenParams(f"prompt {n}", "", n, 2, 7.5, 64, 64, False)
    return Job(0, "test", f"u{n % 3}", "c", params, request_text=f"text {n}")


def foreign_locks(path: Path, stop: threading.Event, held: threading.Event) -> None:
    """Another process-like connection that takes the write lock again and again."""
    conn = sqlite3.connect(path, timeout=5, isolation_level=None)
    try:
        while not stop.is_set():
            conn.execute("BEGIN IMMEDIATE")
            held.set()
            stop.wait(0.07)  # longer than the store's busy timeout: some operations fail
            conn.execute("ROLLBACK")
            stop.wait(0.03)
    finally:
        conn.close()


async def test_a_foreign_lock_loses_no_reported_write_and_no_id_twice(tmp_path: Path) -> None:
    path = tmp_path / "z.sqlite3"
    store = Store(path, busy_timeout_s=0.05, retry_s=0.2)
    async with store:
        existing = [await store.create_job(new_job(n)) for n in range(12)]
        stop, held = threading.Event(), threading.Event()
        locker = threading.Thread(target=foreign_locks, args=(path, stop, held), daemon=True)
        locker.start()
        held.wait(5)
        created: list[int] = []
        finished: list[int] = []
        noted: list[int] = []
        failed = 0

        async def attempt(kind: str, n: int) -> None:
            nonlocal failed
            try:
                if kind == "create":
                    created.append((await store.create_job(new_job(100 + n))).id)
                elif kind == "finish":
                    job = existing[n % len(existing)]
                    await store.finish_job(job.id, f"/img/{job.id}.png", 0.1, "m")
                    finished.append(job.id)
                else:
                    job = existing[n % len(existing)]
                    await store.update_meta(job.id, **{f"k{n}": n})
                    noted.append(n)
            except StorageError:
                failed += 1

        for round_ in range(30):  # bursts of concurrent writes while the lock comes and goes
            await asyncio.gather(
                *(
                    attempt(kind, round_ * 10 + i)
                    for i, kind in enumerate(["create", "finish", "meta"] * 4)
                )
            )
        stop.set()
        locker.join(5)
    assert created and finished and noted  # the lock did not stop everything …
    with contextlib.closing(sqlite3.connect(path)) as db:
        ids = [r[0] for r in db.execute("SELECT id FROM jobs")]
        assert len(ids) == len(set(ids))
        assert len(created) == len(set(created)) and set(created) <= set(ids)  # no id twice
        done = {r[0] for r in db.execute("SELECT id FROM jobs WHERE status = 'done'")}
        assert set(finished) <= done  # every reported finish is there
        metas = " ".join(r[0] for r in db.execute("SELECT meta FROM jobs"))
        assert all(f'"k{n}": {n}' in metas for n in noted)
        # what failed left nothing behind: only the created jobs that were reported exist
        assert len(ids) == len(existing) + len(created)


async def test_a_failing_migration_is_a_clear_error_and_lets_the_process_exit(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "z.sqlite3"
    async with Store(path):
        pass
    monkeypatch.setattr("core.jobs.store.MIGRATIONS", (*MIGRATIONS, "ALTER TABLE nope ADD x;"))
    store = Store(path)
    with pytest.raises(StorageError, match=f"migration {len(MIGRATIONS) + 1} failed"):
        await store.open()
    for _ in range(100):  # its connection thread ends, so the process can exit
        if not any(isinstance(t, aiosqlite.Connection) for t in threading.enumerate()):
            break
        await asyncio.sleep(0.02)
    assert not any(isinstance(t, aiosqlite.Connection) for t in threading.enumerate())
    with contextlib.closing(sqlite3.connect(path)) as db:  # the old version is intact
        (version,) = db.execute("SELECT MAX(version) FROM schema_migrations").fetchone()
    assert version == len(MIGRATIONS)


async def test_a_read_after_a_write_sees_it_while_other_reads_overlap(tmp_path: Path) -> None:
    """Reads run on one connection; overlapping cursors once kept its read transaction (and
    an old snapshot) open, so a job read straight after `finish_job` could still be running
    without its image (a flaky Redis test found it). Each read is now one call."""
    async with Store(tmp_path / "z.sqlite3") as store:
        for n in range(30):
            await store.create_job(new_job(n))
        stop = asyncio.Event()

        async def reader() -> None:
            while not stop.is_set():
                await store.history("test", "u1", limit=30)
                await store.get_job(1)

        readers = [asyncio.create_task(reader()) for _ in range(8)]
        try:
            for n in range(60):
                job = await store.create_job(new_job(n))
                finished = await store.finish_job(job.id, f"/img/{job.id}.png", 0.1, "m")
                assert finished is not None and finished.image_path == f"/img/{job.id}.png"
                again = await store.get_job(job.id)
                assert again is not None and again.status == "done", n
                assert again.image_path == f"/img/{job.id}.png"
        finally:
            stop.set()
            await asyncio.gather(*readers)
