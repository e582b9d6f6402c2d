"""Terminal frontend: a local chat over stdin/stdout, the default when no token is set.

Reads one command per line (`/zime …` or plain text), so it also works piped:
`printf '/zime Rainis\\n' | python -m bot --config cfg.toml` draws, prints and exits at EOF
after the queued jobs finish. The local user is an admin.
"""

from __future__ import annotations

import asyncio
import sys
from typing import TextIO

from bot.texts import (
    caption,
    error_text,
    help_text,
    runners_text,
    stats_text,
    status_text,
    t,
)
from core.errors import ZimeError
from core.models import Request
from core.service import Service, Submitted


class Console:
    def __init__(self, service: Service, out: TextIO = sys.stdout, demo: bool = False) -> None:
        self.service = service
        self.out = out
        self.demo = demo
        self.pending: list[asyncio.Task[None]] = []
        self.lang = "lv"  # a terminal has no client language; Latvian is the bot's own

    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def request(self, text: str = "") -> Request:
        return Request("console", "local", "local", text, language=self.lang, is_admin=True)

    async def run(self, lines: asyncio.Queue[str | None]) -> None:
        self.say(t(self.lang, "Zīme is ready. Write /zime <text> or /palidziba."))
        while (line := await lines.get()) is not None:
            await self.command(line.strip())
        if self.pending:
            await asyncio.gather(*self.pending)

    async def command(self, line: str) -> None:
        if not line:
            return
        cmd, _, arg = line.partition(" ")
        cmd = cmd.lower() if cmd.startswith("/") else ""
        arg = arg.strip() if cmd else line
        try:
            await self._dispatch(cmd, arg)
        except ZimeError as exc:
            self.say(error_text(exc, self.lang))

    async def _dispatch(self, cmd: str, arg: str) -> None:
        svc = self.service
        if cmd in ("", "/zime"):
            sub = await svc.handle(self.request(arg))
            self.pending.append(asyncio.create_task(self._follow(sub)))
        elif cmd in ("/help", "/palidziba", "/start"):
            self.say(help_text(svc.known_concepts(), self.lang))
        elif cmd == "/vesture":
            items = await svc.history(self.request(), 10)
            self.say("\n".join(f"#{i.id} {i.status:9} seed {i.seed}  {i.request_text}" for i in items)
                     or t(self.lang, "No history yet."))  # fmt: skip
        elif cmd == "/atcelt":
            ids = await svc.cancel(self.request())
            self.say(t(self.lang, "Cancelled: {n}.", n=len(ids)))
        elif cmd in ("/velreiz", "/atkartot"):
            sub = await svc.again(int(arg), self.request(), same_seed=cmd == "/atkartot")
            self.pending.append(asyncio.create_task(self._follow(sub)))
        elif cmd == "/stats":
            self.say(stats_text(await svc.stats(self.request()), self.lang))
        elif cmd == "/rinda":
            rows = svc.queue(self.request())
            self.say("\n".join(f"{i}. #{j} {u}: {p}" for i, (j, u, p) in enumerate(rows, 1))
                     or t(self.lang, "The queue is empty."))  # fmt: skip
            self.say(runners_text(svc.runners(self.request()), self.lang))
        elif cmd == "/reload":
            model = await svc.reload(self.request(), arg or None)
            self.say(t(self.lang, "Model loaded: {model}", model=model))
        elif cmd in ("/ban", "/unban"):
            platform, _, user = arg.partition(":")
            await svc.set_banned(self.request(), platform, user, cmd == "/ban")
            self.say(t(self.lang, "Done."))
        else:
            self.say(t(self.lang, "Unknown command. /palidziba"))

    async def _follow(self, sub: Submitted) -> None:
        h = sub.handle
        self.say(f"#{sub.job_id} {status_text(h, self.lang)}")
        last = ""
        while not h.finished:
            await h.wait_changed(2.0)
            text = status_text(h, self.lang)
            if text and text != last and not h.finished:
                self.say(f"#{sub.job_id} {text}")
                last = text
        try:
            result = await h.wait()
        except ZimeError as exc:
            self.say(f"#{sub.job_id} {error_text(exc)}")
            return
        self.say(f"#{sub.job_id} {result.image_path}\n"
                 f"{caption(sub.prompt, sub.concept_names, result.seed, demo=self.demo)}")  # fmt: skip


async def stdin_lines() -> asyncio.Queue[str | None]:
    """Feed stdin lines into a queue from a thread (works for pipes and terminals)."""
    queue: asyncio.Queue[str | None] = asyncio.Queue()
    loop = asyncio.get_running_loop()

    def pump() -> None:
        for line in sys.stdin:
            loop.call_soon_threadsafe(queue.put_nowait, line)
        loop.call_soon_threadsafe(queue.put_nowait, None)

    loop.run_in_executor(None, pump)
    return queue
