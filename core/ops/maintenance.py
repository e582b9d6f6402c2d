"""Data care: online SQLite backups, database statistics, image retention."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any


def backup(database: Path, target: Path) -> Path:
    """Copy a live database with SQLite's online backup API (safe while the bot runs)."""
    if not database.is_file():
        raise FileNotFoundError(f"no database at {database}")
    target.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(database) as src, sqlite3.connect(target) as dst:
        src.backup(dst)
    return target


def db_stats(database: Path) -> dict[str, Any]:
    if not database.is_file():
        raise FileNotFoundError(f"no database at {database}")
    with sqlite3.connect(f"file:{database}?mode=ro", uri=True) as db:
        by_status = dict(db.execute("SELECT status, COUNT(*) FROM jobs GROUP BY status").fetchall())
        users, banned = db.execute(
            "SELECT COUNT(*), COALESCE(SUM(banned), 0) FROM users"
        ).fetchone()
        version = db.execute("SELECT MAX(version) FROM schema_migrations").fetchone()[0]
        first, last = db.execute("SELECT MIN(created_at), MAX(created_at) FROM jobs").fetchone()
    return {
        "database": str(database),
        "size_bytes": database.stat().st_size,
        "schema_version": version,
        "jobs": sum(by_status.values()),
        "jobs_by_status": by_status,
        "users": users,
        "banned_users": banned,
        "first_job": time.strftime("%Y-%m-%d %H:%M", time.gmtime(first)) if first else None,
        "last_job": time.strftime("%Y-%m-%d %H:%M", time.gmtime(last)) if last else None,
    }


def prune_images(directory: Path, days: int, now: float | None = None) -> int:
    """Delete PNGs older than `days`; returns how many. The job rows keep their metadata."""
    if days <= 0 or not directory.is_dir():
        return 0
    cutoff = (now or time.time()) - days * 86400
    removed = 0
    for path in directory.rglob("*.png"):
        if path.stat().st_mtime < cutoff:
            path.unlink(missing_ok=True)
            path.with_name(path.stem + ".thumb.jpg").unlink(missing_ok=True)  # the web pages'
            removed += 1
    for sub in sorted(directory.iterdir(), reverse=True):
        if sub.is_dir() and not any(sub.iterdir()):
            sub.rmdir()
    return removed
