"""The web sessions kept server-side (issue #28, migration 7): the cookie carries a signed
random token; the database keeps only the token's SHA-256 with who it signs in, so signing
out, a ban, an admin removed from the config, or "end" on the dashboard ends a session at
once, whatever the cookie still says (and a copy of the database holds no live token)."""

from __future__ import annotations

import hashlib
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from core.jobs.guard import guarded

R = TypeVar("R")


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class SessionRecord:
    """One web session: who, with what rights, from where, until when."""

    id: int
    user_key: str
    scope: str
    name: str
    client: str
    created_at: float
    expires_at: float
    ended_at: float | None

    def live(self, now: float) -> bool:
        return self.ended_at is None and now < self.expires_at


def session_record(row: sqlite3.Row) -> SessionRecord:
    return SessionRecord(
        int(row["id"]),
        row["user_key"],
        row["scope"],
        row["name"],
        row["client"],
        row["created_at"],
        row["expires_at"],
        row["ended_at"],
    )


class SessionRecords:
    """Mixed into Store: the session writes (the reads are in core/jobs/queries.py)."""

    if TYPE_CHECKING:
        retry_s: float

        async def _write(self, operation: Callable[[sqlite3.Connection], R]) -> R: ...

        async def _rows(self, sql: str, params: Any = ()) -> list[sqlite3.Row]: ...

        async def _row(self, sql: str, params: Any = ()) -> sqlite3.Row | None: ...

    @guarded
    async def open_session(
        self, token: str, user_key: str, scope: str, name: str, client: str, ttl_s: float
    ) -> None:
        now = time.time()
        await self._write(
            lambda db: db.execute(
                "INSERT INTO web_sessions (token_hash, user_key, scope, name, client, created_at,"
                " expires_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                (token_hash(token), user_key, scope, name, client, now, now + ttl_s),
            )
        )

    @guarded
    async def end_sessions(
        self, *, token: str = "", session_id: int = 0, user_key: str = ""
    ) -> int:
        """End one session (by its token or its id) or every session of a user; returns how
        many were live. Ended and expired rows older than a day are dropped here too."""
        if not (token or session_id or user_key):
            raise ValueError("end_sessions needs a token, a session id or a user")
        now = time.time()
        where, value = (
            ("token_hash = ?", token_hash(token))
            if token
            else ("id = ?", session_id)
            if session_id
            else ("user_key = ?", user_key)
        )

        def end(db: sqlite3.Connection) -> int:
            cur = db.execute(
                f"UPDATE web_sessions SET ended_at = ? WHERE {where} AND ended_at IS NULL",
                (now, value),
            )
            db.execute(
                "DELETE FROM web_sessions WHERE COALESCE(ended_at, expires_at) < ?",
                (now - 86400,),
            )
            return int(cur.rowcount)

        return await self._write(end)
