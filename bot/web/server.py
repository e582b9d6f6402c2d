"""The web app in the bot's process: uvicorn, started and stopped with the frontends."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
from collections.abc import Iterator

import uvicorn

from bot.web.guard import connection_cap, guarded_protocol
from bot.web.state import Feed
from core.config import Config
from core.service import Service

log = logging.getLogger("zime.web")
GRACE_S = 2  # seconds open requests get at shutdown (compose gives the whole bot 15)


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        """The bot owns SIGTERM and SIGINT (bot/__main__.py) and stops this server itself;
        uvicorn's own handlers would take them from it."""
        yield


class WebServer:
    """A frontend like the chat ones: `start` returns once it listens, `stop` closes it."""

    def __init__(self, service: Service, config: Config) -> None:
        from bot.web.app import build_app

        self.config = config
        web = config.web
        app = build_app(service, config, config.telegram.token)
        self.web = app.state.web
        protocol = guarded_protocol(web.header_timeout_s, connection_cap(web.max_connections))
        self.server = _Server(
            uvicorn.Config(
                app,
                host=web.host,
                port=web.port,
                http=protocol,
                log_level="warning",
                lifespan="off",
                access_log=False,
                # X-Forwarded-For and -Proto only from the configured proxies
                proxy_headers=bool(web.trusted_proxies),
                forwarded_allow_ips=list(web.trusted_proxies),
                timeout_keep_alive=5,
                # SIGTERM: requests still uploading get this long, then they are cut off
                timeout_graceful_shutdown=GRACE_S,
            )
        )
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Listen, or raise OSError (the port is taken). The socket is bound here: uvicorn
        would end the whole process (SystemExit) on a port it cannot bind."""
        web = self.config.web
        sock = listening_socket(web.host, web.port)
        self._task = asyncio.create_task(self.server.serve([sock]), name="zime-web")
        while not self.server.started:
            if self._task.done():
                self._task.result()
                raise OSError(f"the web app stopped at start on {web.host}:{web.port}")
            await asyncio.sleep(0.02)
        log.info(
            "web app on %s (listening on %s:%s)",
            self.config.web.base_url,
            self.config.web.host,
            self.config.web.port,
        )

    def accept_telegram(self, secret: str, feed: Feed) -> None:
        """Serve Telegram's webhook (BASE/telegram/webhook): updates carrying `secret` go to
        `feed`; any other request is refused."""
        self.web.telegram_hook = (secret, feed)

    async def stop(self) -> None:
        if self._task is None:
            return
        self.server.should_exit = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self._task, GRACE_S + 3)
        self._task = None


def listening_socket(host: str, port: int) -> socket.socket:
    """A TCP socket made as asyncio makes its own: with `proto` IPPROTO_TCP, which is what
    makes asyncio set TCP_NODELAY on each connection. (`socket.create_server` leaves proto 0,
    and every keep-alive response then waited ~40 ms for a delayed ACK: benchmarks/web.py.)"""
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
        sock.setblocking(False)
    except OSError:
        sock.close()
        raise
    return sock
