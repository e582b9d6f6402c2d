"""What the pages, /vesture and /stats ask the database: read-only queries, each one read
on the reader connection (`Store._rows`), with the indexes of migration 6 behind them."""

from __future__ import annotations

import json
import sqlite3
import statistics
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from core.errors import Failure
from core.jobs.guard import guarded
from core.jobs.job import GenParams, Job, Options, Status
from core.jobs.sessions import SessionRecord, session_record, token_hash

PAGE_MAX = 200  # rows a page may ask for at once
# The daily limit's count (see Store.jobs_since), read by the pre-check and inside the insert.
IMAGES_SINCE = (
    "SELECT COALESCE(SUM(count), 0), MIN(created_at) FROM jobs WHERE platform = ?"
    " AND user_id = ? AND created_at >= ?"
    " AND NOT (status = 'failed' AND failure = 'unavailable')"
    " AND NOT (status = 'cancelled' AND started_at IS NULL)"
)


def images_since(row: sqlite3.Row | None, since: float) -> tuple[int, float]:
    """IMAGES_SINCE's row as (images, when the oldest job was created)."""
    return (int(row[0]), float(row[1] or since)) if row else (0, since)


def job_from_row(row: sqlite3.Row) -> Job:
    options = Options.from_json(row["options"])
    params = GenParams(
        prompt=row["prompt"],
        negative_prompt=row["negative_prompt"],
        seed=row["seed"],
        steps=row["steps"],
        guidance=row["guidance"],
        width=row["width"],
        height=row["height"],
        safety_checker=bool(row["safety"]),
        count=row["count"],
        init_image=row["init_image"],
        mask_image=row["mask_image"],
        strength=row["strength"],
        adapters=tuple(json.loads(row["adapters"])),
        model=row["model"],
        fast=bool(options.fast),
    )
    return Job(
        id=row["id"],
        platform=row["platform"],
        user_id=row["user_id"],
        chat_id=row["chat_id"],
        params=params,
        request_text=row["request_text"],
        normalized=row["normalized"],
        lang=row["lang"],
        concepts=tuple(json.loads(row["concepts"])),
        english=row["english"],
        model=row["model"],
        status=Status(row["status"]),
        attempts=row["attempts"],
        error=row["error"],
        failure=Failure(row["failure"]) if row["failure"] else None,
        created_at=row["created_at"],
        started_at=row["started_at"],
        finished_at=row["finished_at"],
        wait_s=row["wait_s"],
        draw_s=row["draw_s"],
        image_path=row["image_path"],
        parent_id=row["parent_id"],
        meta=json.loads(row["meta"]),
        options=options,
        model_path=row["model_path"],
        runner=row["runner"],
        kind=row["kind"],
        nsfw=bool(row["nsfw"]),
        deleted=bool(row["deleted"]),
        delivered=bool(row["delivered"]),
    )


@dataclass(frozen=True)
class UserUsage:
    """One user on the dashboard's users page."""

    platform: str
    user_id: str
    language: str
    banned: bool
    jobs: int
    images: int
    last_at: float | None

    @property
    def user_key(self) -> str:
        return f"{self.platform}:{self.user_id}"


def _page(limit: int) -> int:
    return max(1, min(PAGE_MAX, limit))


class Queries:
    """Mixed into Store, which supplies the reads."""

    if TYPE_CHECKING:
        retry_s: float

        async def _rows(self, sql: str, params: Any = ()) -> list[sqlite3.Row]: ...

        async def _row(self, sql: str, params: Any = ()) -> sqlite3.Row | None: ...

    @guarded
    async def user_jobs(
        self, platform: str, user_id: str, limit: int = 20, before: int | None = None
    ) -> list[Job]:
        """A user's jobs, newest first, `limit` at a time from below job id `before`
        (index jobs_user); deleted ones (🗑) are left out."""
        rows = await self._rows(
            "SELECT * FROM jobs WHERE platform = ? AND user_id = ? AND id < ? AND deleted = 0"
            " ORDER BY id DESC LIMIT ?",
            (platform, user_id, before or 2**63 - 1, _page(limit)),
        )
        return [job_from_row(r) for r in rows]

    @guarded
    async def browse_jobs(
        self,
        status: str = "",
        user_key: str = "",
        limit: int = 50,
        before: int | None = None,
        flagged: bool = False,
    ) -> list[Job]:
        """Every user's jobs for the dashboard, newest first, filtered by status, by user
        ("telegram:42") and to the flagged (blurred) ones."""
        where: list[str] = ["id < ?"]
        params: list[object] = [before or 2**63 - 1]
        if status:
            where.append("status = ?")
            params.append(status)
        if user_key:
            platform, _, user_id = user_key.partition(":")
            where += ["platform = ?", "user_id = ?"]
            params += [platform, user_id]
        if flagged:  # the partial index jobs_flagged has exactly this condition
            where.append("nsfw = 1")
        rows = await self._rows(
            f"SELECT * FROM jobs WHERE {' AND '.join(where)} ORDER BY id DESC LIMIT ?",
            (*params, _page(limit)),
        )
        return [job_from_row(r) for r in rows]

    @guarded
    async def children(self, job_id: int, limit: int = 50) -> list[Job]:
        """The jobs made from this one (again, variations, upscales), oldest first."""
        rows = await self._rows(
            "SELECT * FROM jobs WHERE parent_id = ? ORDER BY id LIMIT ?", (job_id, _page(limit))
        )
        return [job_from_row(r) for r in rows]

    @guarded
    async def overview(self, window_s: float = 600.0, day_s: float = 86400.0) -> dict[str, Any]:
        """The dashboard's first page: jobs per minute over `window_s`, and the last day's
        jobs by status and failures by kind (index jobs_created)."""
        now = time.time()
        recent = await self._row(
            "SELECT COUNT(*) FROM jobs WHERE created_at >= ?", (now - window_s,)
        )
        by_status = {
            r[0]: r[1]
            for r in await self._rows(
                "SELECT status, COUNT(*) FROM jobs WHERE created_at >= ? GROUP BY status",
                (now - day_s,),
            )
        }
        failures = {
            r[0]: r[1]
            for r in await self._rows(
                "SELECT failure, COUNT(*) FROM jobs WHERE created_at >= ? AND status = 'failed'"
                " GROUP BY failure",
                (now - day_s,),
            )
        }
        per_minute = (recent[0] if recent else 0) / (window_s / 60)
        return {
            "jobs_per_minute": round(per_minute, 2),
            "by_status": by_status,
            "failures": {str(Failure(k)) if k else "model": v for k, v in failures.items()},
        }

    @guarded
    async def users(self, limit: int = 100, offset: int = 0) -> list[UserUsage]:
        """Users, the latest to register first, with their jobs and images (index jobs_user)."""
        rows = await self._rows(
            "WITH page AS (SELECT rowid AS r, platform, user_id, language, banned FROM users"
            " ORDER BY rowid DESC LIMIT ? OFFSET ?)"
            " SELECT p.platform, p.user_id, p.language, p.banned, COUNT(j.id),"
            " COALESCE(SUM(j.count), 0), MAX(j.created_at) FROM page p"
            " LEFT JOIN jobs j ON j.platform = p.platform AND j.user_id = p.user_id"
            " GROUP BY p.r ORDER BY p.r DESC",
            (_page(limit), max(0, offset)),
        )
        return [UserUsage(r[0], r[1], r[2] or "", bool(r[3]), r[4], r[5], r[6]) for r in rows]

    @guarded
    async def history(self, platform: str, user_id: str, limit: int = 10) -> list[Job]:
        rows = await self._rows(
            "SELECT * FROM jobs WHERE platform = ? AND user_id = ? ORDER BY id DESC LIMIT ?",
            (platform, user_id, limit),
        )
        return [job_from_row(r) for r in rows]

    @guarded
    async def stats(self, days: int = 7) -> dict[str, Any]:
        since = time.time() - days * 86400
        per_day = {
            r[0]: r[1]
            for r in await self._rows(
                "SELECT date(created_at, 'unixepoch') AS day, COUNT(*) FROM jobs"
                " WHERE created_at >= ? GROUP BY day ORDER BY day",
                (since,),
            )
        }
        rows = await self._rows(
            "SELECT wait_s, draw_s FROM jobs WHERE status = 'done' AND created_at >= ?", (since,)
        )
        by_status = {
            r[0]: r[1]
            for r in await self._rows(
                "SELECT status, COUNT(*) FROM jobs WHERE created_at >= ? GROUP BY status", (since,)
            )
        }
        waits = [r[0] for r in rows if r[0] is not None]
        draws = [r[1] for r in rows if r[1] is not None]
        return {
            "jobs_per_day": per_day,
            "by_status": by_status,
            "median_wait_s": statistics.median(waits) if waits else None,
            "median_draw_s": statistics.median(draws) if draws else None,
            "failures": by_status.get("failed", 0),
        }

    @guarded
    async def schema_version(self) -> int:
        row = await self._row("SELECT MAX(version) FROM schema_migrations")
        return int(row[0]) if row and row[0] else 0

    @guarded
    async def settings(self, platform: str, user_id: str) -> dict[str, Any]:
        row = await self._row(
            "SELECT settings FROM users WHERE platform = ? AND user_id = ?", (platform, user_id)
        )
        return dict(json.loads(row[0])) if row else {}

    @guarded
    async def description(self, description_id: int) -> tuple[str, list[str]] | None:
        """Whose description it is and its four prompts (None: no such one)."""
        row = await self._row(
            "SELECT user_key, prompts FROM descriptions WHERE id = ?", (description_id,)
        )
        return (row[0], list(json.loads(row[1]))) if row is not None else None

    @guarded
    async def has_user(self, platform: str, user_id: str) -> bool:
        """The user has used Zīme on that platform (a row in users)."""
        row = await self._row(
            "SELECT 1 FROM users WHERE platform = ? AND user_id = ?", (platform, user_id)
        )
        return row is not None

    @guarded
    async def is_banned(self, platform: str, user_id: str) -> bool:
        row = await self._row(
            "SELECT banned FROM users WHERE platform = ? AND user_id = ?", (platform, user_id)
        )
        return bool(row and row[0])

    @guarded
    async def get_job(self, job_id: int) -> Job | None:
        row = await self._row("SELECT * FROM jobs WHERE id = ?", (job_id,))
        return job_from_row(row) if row is not None else None

    @guarded
    async def undelivered(self, platform: str, max_age_s: float = 86400.0) -> list[int]:
        """Finished jobs whose result the frontend has not confirmed delivering."""
        return [
            int(r[0])
            for r in await self._rows(
                "SELECT id FROM jobs WHERE platform = ? AND status IN ('done', 'failed')"
                " AND delivered = 0 AND created_at >= ? ORDER BY id",
                (platform, time.time() - max_age_s),
            )
        ]

    @guarded
    async def jobs_since(self, platform: str, user_id: str, since: float) -> tuple[int, float]:
        """How many images the user started since `since` (wall clock; a grid of 4 is 4),
        and when the oldest job was created: the daily limit, kept in SQLite so a restart
        cannot reset it. Requests refused before they were queued, and jobs cancelled
        before they were drawn (/atcelt, ❌), do not count."""
        return images_since(await self._row(IMAGES_SINCE, (platform, user_id, since)), since)

    @guarded
    async def find_by_meta(self, platform: str, chat_id: str, key: str, value: int) -> Job | None:
        """The newest job of a chat whose meta `key` equals `value` (a message id the bot
        sent for it, such as the ✏️ prompt it asked the user to correct)."""
        row = await self._row(
            "SELECT * FROM jobs WHERE platform = ? AND chat_id = ?"
            " AND json_extract(meta, '$.' || ?) = ? ORDER BY id DESC LIMIT 1",
            (platform, chat_id, key, value),
        )
        return job_from_row(row) if row is not None else None

    @guarded
    async def session_by_token(self, token: str) -> SessionRecord | None:
        row = await self._row(
            "SELECT * FROM web_sessions WHERE token_hash = ?", (token_hash(token),)
        )
        return session_record(row) if row is not None else None

    @guarded
    async def live_sessions(self, limit: int = 200) -> list[SessionRecord]:
        """Sessions not ended and not expired, newest first (the dashboard's list)."""
        rows = await self._rows(
            "SELECT * FROM web_sessions WHERE ended_at IS NULL AND expires_at > ?"
            " ORDER BY id DESC LIMIT ?",
            (time.time(), limit),
        )
        return [session_record(r) for r in rows]
