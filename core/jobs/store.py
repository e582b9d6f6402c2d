"""SQLite persistence (aiosqlite): users, jobs and their history. WAL mode, ordered
migrations recorded in the database, parameterized SQL only."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import sqlite3
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import Any, TypeVar

import aiosqlite

from core.errors import Failure, RateLimited, StorageError
from core.jobs.guard import guarded
from core.jobs.job import Job, Status
from core.jobs.migrations import MIGRATIONS
from core.jobs.queries import IMAGES_SINCE, Queries, images_since, job_from_row
from core.jobs.sessions import SessionRecords

__all__ = ["MIGRATIONS", "Store"]
log = logging.getLogger("zime.store")
R = TypeVar("R")


# Job fields that are columns of their own (migration 8), never keys of `meta`.
TYPED = frozenset({"kind", "adapters", "nsfw", "deleted", "delivered"})

UNFINISHED = ("queued", "running")


def _meta_json(meta: dict[str, Any] | None) -> str:
    """Free-form meta as stored: never a typed field (those are columns)."""
    typed = sorted(TYPED & set(meta or {}))
    if typed:
        raise ValueError(f"{typed} are columns, not meta keys")
    return json.dumps(meta or {}, ensure_ascii=False)


def _images_since(
    db: sqlite3.Connection, platform: str, user_id: str, since: float
) -> tuple[int, float]:
    return images_since(db.execute(IMAGES_SINCE, (platform, user_id, since)).fetchone(), since)


Conn = aiosqlite.Connection


class Store(Queries, SessionRecords):
    """One writer, many readers (as sqlite-utils and datasette do it). Every write operation
    is one `BEGIN IMMEDIATE … COMMIT` on the writer connection, run whole on the writer's
    own thread (one thread hop per write), one operation at a time, so two operations never
    interleave in one transaction: a failure (a lock held by a backup or the `sqlite3` shell
    past `busy_timeout`) rolls back that operation alone, and the whole operation is
    retried. Reads use their own connection (aiosqlite) and see what is committed (WAL)."""

    def __init__(
        self, path: str | Path, busy_timeout_s: float = 5.0, retry_s: float = 15.0
    ) -> None:
        self.path = Path(path)
        self.busy_timeout_s = busy_timeout_s  # SQLite's own wait for a lock, per statement
        self.retry_s = retry_s  # then retried with backoff this long before StorageError
        self._writer: sqlite3.Connection | None = None
        self._writer_thread: ThreadPoolExecutor | None = None  # one thread: one write at a time
        self._reader: Conn | None = None

    @property
    def db(self) -> Conn:
        """The read connection."""
        if self._reader is None:
            raise RuntimeError("Store is not open; use `async with Store(path)`")
        return self._reader

    async def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        """One read, run and fetched whole in one call on the reader's thread. Its cursor
        is done when the call returns, so its read transaction ends with it: reads that
        overlap in time never share (and never see) a snapshot older than their start."""
        return list(await self.db.execute_fetchall(sql, params))

    async def _row(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None:
        rows = await self._rows(sql, params)
        return rows[0] if rows else None

    async def _write(self, operation: Callable[[sqlite3.Connection], R]) -> R:
        """Run `operation` as one transaction of the one writer: committed whole, or rolled
        back whole (and only it) when anything in it fails."""
        if self._writer is None or self._writer_thread is None:
            raise RuntimeError("Store is not open; use `async with Store(path)`")
        db = self._writer

        def transaction() -> R:
            db.execute("BEGIN IMMEDIATE")
            try:
                result = operation(db)
                db.execute("COMMIT")
            except BaseException:
                with contextlib.suppress(sqlite3.Error):
                    db.execute("ROLLBACK")
                raise
            return result

        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._writer_thread, transaction)

    async def __aenter__(self) -> Store:
        await self.open()
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def _connect(self) -> Conn:
        # isolation_level=None: no implicit transactions; `_write` says where each begins
        db = await aiosqlite.connect(self.path, isolation_level=None)
        db.row_factory = aiosqlite.Row
        await db.execute(f"PRAGMA busy_timeout={int(self.busy_timeout_s * 1000)}")
        return db

    async def open(self) -> None:
        """Open both connections and migrate. A migration that fails closes them (their
        threads would otherwise keep the process alive) and raises StorageError."""
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._writer_thread = ThreadPoolExecutor(1, thread_name_prefix="zime-store-writer")
        loop = asyncio.get_running_loop()
        try:
            self._writer = await loop.run_in_executor(self._writer_thread, self._open_writer)
            await loop.run_in_executor(self._writer_thread, self._migrate)
            self._reader = await self._connect()
        except (sqlite3.Error, OSError) as exc:
            await self.close()
            raise StorageError(f"cannot open the database {self.path}: {exc}") from exc

    def _open_writer(self) -> sqlite3.Connection:
        # isolation_level=None: no implicit transactions; `_write` says where each begins
        db = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False)
        db.row_factory = sqlite3.Row
        db.execute(f"PRAGMA busy_timeout={int(self.busy_timeout_s * 1000)}")
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=NORMAL")
        return db

    async def close(self) -> None:
        if self._reader is not None:
            with contextlib.suppress(Exception):
                await self._reader.close()
        writer, pool = self._writer, self._writer_thread
        if writer is not None and pool is not None:
            with contextlib.suppress(Exception):
                await asyncio.get_running_loop().run_in_executor(pool, writer.close)
        if pool is not None:
            pool.shutdown(wait=False)
        self._reader = self._writer = self._writer_thread = None

    def _migrate(self) -> None:
        db = self._writer
        assert db is not None
        db.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY,"
            " applied_at REAL NOT NULL)"
        )
        row = db.execute("SELECT MAX(version) FROM schema_migrations").fetchone()
        current = (row[0] if row else None) or 0
        for version, sql in enumerate(MIGRATIONS, start=1):
            if version <= current:
                continue
            try:
                db.executescript(
                    f"BEGIN IMMEDIATE; {sql}; INSERT INTO schema_migrations VALUES ({version},"
                    f" {time.time()}); COMMIT;"
                )
            except sqlite3.Error as exc:
                with contextlib.suppress(sqlite3.Error):
                    db.execute("ROLLBACK")
                raise sqlite3.OperationalError(f"migration {version} failed: {exc}") from exc

    # users
    @guarded
    async def upsert_user(self, platform: str, user_id: str, language: str) -> bool:
        """Record the user (and a changed language); returns whether they are banned.
        One round trip and no commit in the common case of a known user: this is on every
        request's path."""
        row = await self._row(
            "SELECT language, banned FROM users WHERE platform = ? AND user_id = ?",
            (platform, user_id),
        )
        if row is not None and row[0] == language:
            return bool(row[1])
        await self._write(
            lambda db: db.execute(
                "INSERT INTO users (platform, user_id, language, created_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (platform, user_id) DO UPDATE SET language = excluded.language",
                (platform, user_id, language, time.time()),
            )
        )
        return bool(row and row[1])

    @guarded
    async def set_banned(self, platform: str, user_id: str, banned: bool) -> None:
        await self._write(
            lambda db: db.execute(
                "INSERT INTO users (platform, user_id, banned, created_at) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (platform, user_id) DO UPDATE SET banned = excluded.banned",
                (platform, user_id, int(banned), time.time()),
            )
        )

    @guarded
    async def save_settings(self, platform: str, user_id: str, settings: dict[str, Any]) -> None:
        await self._write(
            lambda db: db.execute(
                "INSERT INTO users (platform, user_id, created_at, settings) VALUES (?, ?, ?, ?)"
                " ON CONFLICT (platform, user_id) DO UPDATE SET settings = excluded.settings",
                (platform, user_id, time.time(), json.dumps(settings, ensure_ascii=False)),
            )
        )

    @guarded
    async def save_description(self, user_key: str, prompts: list[str]) -> int:
        """/apraksti: the four prompts behind a description's buttons; returns their id."""

        def insert(db: sqlite3.Connection) -> int:
            cur = db.execute(
                "INSERT INTO descriptions (user_key, prompts, created_at) VALUES (?, ?, ?)",
                (user_key, json.dumps(prompts, ensure_ascii=False), time.time()),
            )
            assert cur.lastrowid is not None
            return cur.lastrowid

        return await self._write(insert)

    # jobs
    @guarded
    async def create_job(self, new: Job, day_limit: int = 0) -> Job:
        """Store a new job (its `id` is ignored); returns it with its id and time.
        `day_limit` > 0: the user's images of the last 24 hours are counted in the same write
        transaction as the insert, so parallel requests cannot all pass one stale count;
        RateLimited (nothing written) when this job's images would pass the limit."""
        p = new.params
        created = time.time()

        def insert(db: sqlite3.Connection) -> int:
            if day_limit > 0:
                count, oldest = _images_since(db, new.platform, new.user_id, created - 86400)
                if count + p.count > day_limit:
                    wait = max(60.0, oldest + 86400 - created)
                    raise RateLimited(retry_after=wait, scope="user_day")
            cur = db.execute(
                "INSERT INTO jobs (platform, user_id, chat_id, request_text, normalized, lang,"
                " concepts, english, prompt, negative_prompt, seed, steps, guidance, width,"
                " height, safety, model, created_at, parent_id, meta, options, count,"
                " init_image, strength, kind, adapters, model_path, mask_image)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?,"
                " ?, ?, ?, ?)",
                (
                    new.platform,
                    new.user_id,
                    new.chat_id,
                    new.request_text,
                    new.normalized,
                    new.lang,
                    json.dumps(list(new.concepts)),
                    new.english,
                    p.prompt,
                    p.negative_prompt,
                    p.seed,
                    p.steps,
                    p.guidance,
                    p.width,
                    p.height,
                    int(p.safety_checker),
                    new.model,
                    created,
                    new.parent_id,
                    _meta_json(new.meta),
                    new.options.to_json(),
                    p.count,
                    p.init_image,
                    p.strength,
                    new.kind,
                    json.dumps(list(p.adapters)),
                    new.model_path,
                    p.mask_image,
                ),
            )
            assert cur.lastrowid is not None  # read inside the transaction: no other insert
            return cur.lastrowid

        job_id = await self._write(insert)
        return dataclasses.replace(new, id=job_id, created_at=created, status=Status.QUEUED)

    @guarded
    async def mark_running(self, job_ids: Sequence[int]) -> None:
        now = time.time()
        await self._write(
            lambda db: db.executemany(
                "UPDATE jobs SET status = 'running', started_at = ?, wait_s = ? - created_at"
                " WHERE id = ?",
                [(now, now, i) for i in job_ids],
            )
        )

    @guarded
    async def finish_job(
        self,
        job_id: int,
        image_path: str,
        draw_s: float,
        model_path: str,
        nsfw: bool = False,
        runner: str = "",
    ) -> Job | None:
        """Done: where the image is, how long it took, the files that drew it (a reload may
        have swapped them since the job was queued; `model`, the catalogue name, stays),
        whether an image is flagged, and the runner that drew it. Returns the row as this
        transaction left it (None when there is no such job)."""

        def finish(db: sqlite3.Connection) -> Job | None:
            db.execute(
                "UPDATE jobs SET status = 'done', finished_at = ?, draw_s = ?, image_path = ?,"
                " model_path = ?, nsfw = ?, runner = ?, error = NULL, failure = NULL WHERE id = ?",
                (time.time(), draw_s, image_path, model_path, int(nsfw), runner, job_id),
            )
            row = db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
            return job_from_row(row) if row is not None else None

        return await self._write(finish)

    @guarded
    async def record_failure(self, job_id: int, failure: Failure, error: str, final: bool) -> int:
        """Count a failed attempt; returns the attempts so far. `final` marks it failed,
        with `failure` as the reason."""

        def count(db: sqlite3.Connection) -> int:
            db.execute(
                "UPDATE jobs SET attempts = attempts + 1, error = ?, status = ?, failure = ?,"
                " finished_at = CASE WHEN ? THEN ? ELSE finished_at END WHERE id = ?",
                (
                    error,
                    "failed" if final else "queued",
                    failure if final else None,
                    int(final),
                    time.time(),
                    job_id,
                ),
            )
            row = db.execute("SELECT attempts FROM jobs WHERE id = ?", (job_id,)).fetchone()
            return int(row[0]) if row else 0

        return await self._write(count)

    @guarded
    async def set_status(
        self, job_id: int, status: str, error: str | None = None, failure: Failure | None = None
    ) -> None:
        await self._write(
            lambda db: db.execute(
                "UPDATE jobs SET status = ?, error = COALESCE(?, error), failure = ?,"
                " finished_at = CASE WHEN ? IN ('done', 'failed', 'cancelled') THEN ?"
                " ELSE finished_at END WHERE id = ?",
                (
                    status,
                    error,
                    failure if status == "failed" else None,
                    status,
                    time.time(),
                    job_id,
                ),
            )
        )

    async def update_meta(self, job_id: int, **values: Any) -> None:
        """Merge free-form delivery details (message ids …) into the job's meta."""
        await self.set_flags(job_id, **values)

    @guarded
    async def set_flags(
        self,
        job_id: int,
        *,
        deleted: bool | None = None,
        delivered: bool | None = None,
        **meta: Any,
    ) -> None:
        """Set what became of a job (`deleted`, `delivered`) and merge free-form `meta`, in
        one transaction. A typed field never goes into meta."""
        typed = sorted(TYPED & set(meta))
        if typed:
            raise ValueError(f"{typed} are columns, not meta keys")

        def change(db: sqlite3.Connection) -> None:
            for column, value in (("deleted", deleted), ("delivered", delivered)):
                if value is not None:
                    db.execute(f"UPDATE jobs SET {column} = ? WHERE id = ?", (int(value), job_id))
            if not meta:
                return
            row = db.execute("SELECT meta FROM jobs WHERE id = ?", (job_id,)).fetchone()
            if row is not None:
                merged = {**json.loads(row[0]), **meta}
                db.execute("UPDATE jobs SET meta = ? WHERE id = ?", (_meta_json(merged), job_id))

        await self._write(change)

    @guarded
    async def unfinished_jobs(self) -> list[Job]:
        """Jobs a crash left queued or running, oldest first; running ones become queued."""
        await self._write(
            lambda db: db.execute("UPDATE jobs SET status = 'queued' WHERE status = 'running'")
        )
        rows = await self._rows("SELECT * FROM jobs WHERE status = 'queued' ORDER BY id")
        return [job_from_row(r) for r in rows]
