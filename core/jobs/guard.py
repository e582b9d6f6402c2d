"""Store operations guarded once: a locked database is waited for, then every SQLite or
disk error becomes StorageError."""

from __future__ import annotations

import functools
import logging
import sqlite3
from collections.abc import Awaitable, Callable
from typing import ParamSpec, TypeVar

from tenacity import AsyncRetrying, retry_if_exception, stop_after_delay, wait_exponential

from core.errors import StorageError

log = logging.getLogger("zime.store")
P = ParamSpec("P")
R = TypeVar("R")


def _busy(exc: BaseException) -> bool:
    """Another connection holds the write lock: worth waiting for."""
    return isinstance(exc, sqlite3.OperationalError) and any(
        word in str(exc) for word in ("locked", "busy")
    )


def guarded(method: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """Retry a whole store operation while the database is locked (up to `Store.retry_s`),
    then turn any SQLite or disk error into StorageError, one clear error for the layers
    above. A write is one transaction (`Store._write`) that rolls back alone, so a retried
    write is never applied twice and never takes anyone else's writes with it."""

    @functools.wraps(method)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        store = args[0]
        retry_s = float(getattr(store, "retry_s", 0.0))
        try:
            async for attempt in AsyncRetrying(
                retry=retry_if_exception(_busy),
                stop=stop_after_delay(retry_s),
                wait=wait_exponential(multiplier=0.05, max=1.0),
                reraise=True,
            ):
                with attempt:
                    return await method(*args, **kwargs)
        except (sqlite3.Error, OSError) as exc:
            log.warning("store %s failed: %s", method.__name__, exc)
            raise StorageError(f"{method.__name__}: {exc}") from exc
        raise AssertionError("unreachable")  # pragma: no cover

    return wrapper
