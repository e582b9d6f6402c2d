"""What keeps one client from hurting the bot through the web app (issue #28):

- **Bodies** (`BodyLimit`): a body larger than `[web] max_body_kb` is refused with 413
  before it is read whole: at once when `Content-Length` says so, else as soon as the
  streamed bytes pass the cap. Starlette itself reads any size.
- **Connections** (`guarded_protocol`): uvicorn closes an idle keep-alive connection, but
  not one that never sends a whole request head (an idle socket, or one that dribbles a
  byte at a time), and accepts without bound. Here each connection must send its request
  head within `[web] header_timeout_s`, and connections past `[web] max_connections` (kept
  below the process's open-file limit, so the chat frontends and SQLite always get a file)
  are closed at once, with one log line a minute instead of one per connection.
- **Hosts and headers** (`HeaderGuard`): `X-Content-Type-Options: nosniff` on every answer
  (JSON, images, static files too), and, when `[web] public_url` names the host, any other
  `Host` is refused (400).

Why our own code: uvicorn offers neither a request-head deadline nor a connection cap at
accept time (its `limit_concurrency` answers 503 only once a request head has arrived), and
Starlette has no body cap; each is a few lines over their documented hooks.
"""

from __future__ import annotations

import asyncio
import logging
import re
import resource
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from core.errors import TooLarge

log = logging.getLogger("zime.web")
FILES_KEPT_FREE = 128  # open files left for SQLite, Redis, the chat clients and the models


class BodyLimit:
    """ASGI middleware: a request body over `max_bytes` raises TooLarge (answered 413 with a
    sentence by the app's error handler) before more than `max_bytes` is held."""

    def __init__(
        self,
        app: ASGIApp,
        max_bytes: int,
        larger: tuple[tuple[re.Pattern[str], int], ...] = (),
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.larger = larger  # paths that take more (a region's mask), and their cap

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        path = scope.get("path", "")
        cap = next((n for p, n in self.larger if p.fullmatch(path)), self.max_bytes)
        limit_kb = max(1, cap // 1024)
        declared = dict(scope["headers"]).get(b"content-length", b"")
        if declared and (not declared.isdigit() or int(declared) > cap):
            scope["zime.too_large"] = limit_kb  # answered by the app, body unread
        seen = 0

        async def limited() -> Message:
            nonlocal seen
            if "zime.too_large" in scope:
                raise TooLarge(limit_kb)
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > cap:
                    raise TooLarge(limit_kb)
            return message

        await self.app(scope, limited, send)


class HeaderGuard:
    """ASGI middleware: nosniff on every response; only the configured host is answered."""

    def __init__(self, app: ASGIApp, hosts: frozenset[str]) -> None:
        self.app = app
        self.hosts = hosts  # empty: any host (no public_url configured)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.hosts and _host(scope) not in self.hosts:
            await _plain(send, 400, b"unknown host")
            return

        async def with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (k, v)
                    for k, v in message.get("headers", [])
                    if k.lower() != b"x-content-type-options"
                ]
                headers.append((b"x-content-type-options", b"nosniff"))
                message = {**message, "headers": headers}
            await send(message)

        await self.app(scope, receive, with_headers)


def _host(scope: Scope) -> str:
    raw: str = dict(scope["headers"]).get(b"host", b"").decode("latin-1").lower()
    if raw.startswith("["):  # [::1]:8080
        return raw.split("]", 1)[0] + "]"
    return raw.rsplit(":", 1)[0] if raw.count(":") == 1 else raw


async def _plain(send: Send, status: int, body: bytes) -> None:
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                (b"x-content-type-options", b"nosniff"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


def allowed_hosts(public_url: str, host: str) -> frozenset[str]:
    """The hosts answered: public_url's, and the listening address and loopback (health
    checks, the operator on the machine). Empty (any) without a public_url."""
    from urllib.parse import urlsplit

    if not public_url:
        return frozenset()
    named = (urlsplit(public_url).hostname or "").lower()
    return frozenset({named, host.lower(), "localhost", "127.0.0.1", "[::1]"} - {""})


def connection_cap(configured: int) -> int:
    """`[web] max_connections`, but below the open-file limit with FILES_KEPT_FREE to spare
    (a common soft limit is 1,024; at that limit asyncio's accept fails in a loop)."""
    soft, _hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return configured
    return max(8, min(configured, soft - FILES_KEPT_FREE))


class _Refusals:
    """Counts connections closed by the cap; logs them at most once a minute."""

    def __init__(self) -> None:
        self.count = 0
        self.logged_at = 0.0

    def add(self, cap: int) -> None:
        self.count += 1
        now = time.monotonic()
        if now - self.logged_at >= 60:
            log.warning("web: %d connection(s) closed: %d are open (the cap)", self.count, cap)
            self.count, self.logged_at = 0, now


def guarded_protocol(header_timeout_s: float, max_connections: int) -> type[H11Protocol]:
    """uvicorn's h11 protocol with a request-head deadline and a connection cap."""
    refusals = _Refusals()

    class Guarded(H11Protocol):
        _head_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport: Any) -> None:
            super().connection_made(transport)
            if len(self.connections) > max_connections:
                refusals.add(max_connections)
                transport.abort()
                return
            self._arm()

        def _arm(self) -> None:
            self._disarm()
            self._head_timer = self.loop.call_later(header_timeout_s, self._head_late)

        def _disarm(self) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None

        def _waiting_for_head(self) -> bool:
            return self.cycle is None or self.cycle.response_complete

        def _head_late(self) -> None:
            self._head_timer = None
            if self._waiting_for_head() and not self.transport.is_closing():
                self.transport.abort()

        def data_received(self, data: bytes) -> None:
            super().data_received(data)
            if not self._waiting_for_head():
                self._disarm()  # the head is in: the route's own work takes over

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if self._waiting_for_head() and not self.transport.is_closing():
                self._arm()  # the next request's head, on a kept-alive connection

        def connection_lost(self, exc: Exception | None) -> None:
            self._disarm()
            super().connection_lost(exc)

    return Guarded
