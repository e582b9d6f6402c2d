"""Composition root: `python -m bot --config FILE [--demo]`."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import signal
import sys
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Protocol

from core.app import demo_config
from core.config import Config, load_config
from core.errors import ConfigError, ModelError, ZimeError
from core.ops.logs import configure_logging, log_to_file, quiet_libraries

if TYPE_CHECKING:
    from bot.console import Console
    from bot.telegram import TelegramFrontend
    from bot.web.server import WebServer
    from core.service import Service

OFFLINE_HELP = """\
Zīme could not load its models: {error}

On first use Zīme downloads the real models (Stable Diffusion 1.5 fine-tuned on Latvian
concepts, about 4 GB, and an OPUS-MT translator, about 1 GB) from the Hugging Face hub.
This machine cannot reach the hub and has no cached copy. Run Zīme where there is
internet once (or `python -m core fetch-models`), or try the whole pipeline offline now
with `make run ARGS=--demo` (or `python -m bot --demo`): the same code on tiny
random models, so the images are noise."""

log = logging.getLogger("zime")


class Frontend(Protocol):
    async def start(self) -> None: ...

    async def stop(self) -> None: ...


async def run(cfg: Config, demo: bool) -> int:
    """Run every configured frontend over one service; SIGTERM/SIGINT stop all cleanly."""
    from bot.console import Console
    from core.app import open_service

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    async with open_service(cfg) as service, web_app(cfg, service) as server:
        frontends: list[Frontend] = []
        if cfg.telegram.token:
            frontends.append(telegram_frontend(cfg, service, server, demo))
        if cfg.discord.token:
            from bot.discord import DiscordFrontend

            frontends.append(DiscordFrontend(service, cfg.discord, demo=demo))
        if not frontends:
            return await run_console(Console(service, demo=demo), service, stop)
        started: list[Frontend] = []
        for frontend in frontends:  # one platform failing to connect does not stop the others
            try:
                await frontend.start()
                started.append(frontend)
                log.info("%s running", type(frontend).__name__)
            except Exception as exc:
                log.error("%s failed to start: %s", type(frontend).__name__, type(exc).__name__)
                with contextlib.suppress(Exception):
                    await frontend.stop()  # release its half-open connections
        if not started:
            return 1
        try:
            await stop.wait()
        finally:
            for frontend in started:
                with contextlib.suppress(Exception):
                    await frontend.stop()
    return 0


def telegram_frontend(
    cfg: Config, service: Service, server: WebServer | None, demo: bool = False
) -> TelegramFrontend:
    """The Telegram frontend: polling, or with `[telegram] webhook` fed by the web app's
    BASE/telegram/webhook (ConfigError when the web app did not start)."""
    from bot.telegram import TelegramFrontend
    from bot.web.app import WEBHOOK_PATH

    hook = cfg.web.base_url + WEBHOOK_PATH if cfg.telegram.webhook else ""
    telegram = TelegramFrontend(service, cfg.telegram, demo=demo, webhook_url=hook)
    if hook:
        if server is None:
            raise ConfigError(
                "the web app did not start, so Telegram's webhook has nowhere to post"
            )
        server.accept_telegram(telegram.webhook_secret, telegram.feed)
    return telegram


@contextlib.asynccontextmanager
async def web_app(cfg: Config, service: Service) -> AsyncIterator[WebServer | None]:
    """The dashboard and the gallery (`[web] enabled`), beside whichever frontends run. A
    port that cannot be bound is one log line: the chat keeps working without the pages
    (polling; a webhook needs them)."""
    if not cfg.web.enabled:
        yield None
        return
    from bot.web.server import WebServer

    server = WebServer(service, cfg)
    try:
        await server.start()
    except OSError as exc:
        log.error("the web app could not start: %s", exc)
        yield None
        return
    try:
        yield server
    finally:
        await server.stop()


async def run_console(console: Console, service: Service, stop: asyncio.Event) -> int:
    """Until EOF (and the jobs started are answered) or a signal. On Ctrl-C or SIGTERM it
    stops within seconds: nothing new starts, the drawing stops at its next step, and that
    job and those still queued stay in SQLite for the next start."""
    from bot.console import stdin_lines
    from bot.texts import t

    loop = asyncio.create_task(console.run(await stdin_lines()))
    stopper = asyncio.create_task(stop.wait())
    await asyncio.wait({loop, stopper}, return_when=asyncio.FIRST_COMPLETED)
    stopper.cancel()
    if stop.is_set():
        loop.cancel()
        console.cancel_tasks()
        await service.interrupt()
        console.say(
            t(
                console.lang,
                "Stopped. Unfinished pictures are saved and will be drawn at the next start.",
            )
        )
        return 0
    console.cancel_tasks()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bot", description=__doc__)
    parser.add_argument("--config", help="config TOML (default: built-in defaults)")
    parser.add_argument("--demo", action="store_true", help="use tiny random models (offline)")
    parser.add_argument(
        "--verbose", action="store_true", help="the console's log lines on stderr, not in a file"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    try:
        cfg = load_config(args.config, os.environ)
        configure_logging(cfg)
        if not (cfg.telegram.token or cfg.discord.token or args.verbose):
            log_to_file(cfg)  # the console chat: its terminal shows only the chat
        quiet_libraries()
        if args.demo:
            cfg = demo_config(cfg)
        return asyncio.run(run(cfg, args.demo))
    except ModelError as exc:
        print(OFFLINE_HELP.format(error=exc), file=sys.stderr)
        return 2
    except ZimeError as exc:
        print(f"zime: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
