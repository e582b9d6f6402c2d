"""Terminal frontend: a local chat over stdin/stdout, the default when no token is set.

Reads one command per line (`/zime …` or plain text), so it also works piped:
`printf '/zime Rainis\\n' | python -m bot --config cfg.toml` draws, prints and exits at EOF
after the queued jobs finish. The local user is an admin.
"""

from __future__ import annotations

import asyncio
import sys
from typing import TextIO

from bot.texts import caption, error_text, help_text, progress_text, queued_text, stats_text
from core.errors import ZimeError
from core.models import Request
from core.service import Service, Submitted


class Console:
    def __init__(self, service: Service, out: TextIO = sys.stdout, demo: bool = False) -> None:
        self.service = service
        self.out = out
        self.demo = demo
        self.pending: list[asyncio.Task[None]] = []

    def say(self, text: str) -> None:
        print(text, file=self.out, flush=True)

    def request(self, text: str = "") -> Request:
        return Request("console", "local", "local", text, language="lv", is_admin=True)

    async def run(self, lines: asyncio.Queue[str | None]) -> None:
        self.say("Zīme gatava. Raksti /zime <teksts> vai /palidziba.")
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
            self.say(error_text(exc))

    async def _dispatch(self, cmd: str, arg: str) -> None:
        svc = self.service
        if cmd in ("", "/zime"):
            sub = await svc.handle(self.request(arg))
            self.pending.append(asyncio.create_task(self._follow(sub)))
        elif cmd in ("/help", "/palidziba", "/start"):
            self.say(help_text([(c.name_lv, c.name_en) for c in svc.builder.registry]))
        elif cmd == "/vesture":
            items = await svc.history(self.request(), 10)
            self.say("\n".join(f"#{i.job_id} {i.status:9} seed {i.seed}  {i.text}" for i in items)
                     or "Vēsture ir tukša.")  # fmt: skip
        elif cmd == "/atcelt":
            ids = await svc.cancel(self.request())
            self.say(f"Atcelti: {len(ids)}.")
        elif cmd in ("/velreiz", "/atkartot"):
            sub = await svc.again(int(arg), self.request(), same_seed=cmd == "/atkartot")
            self.pending.append(asyncio.create_task(self._follow(sub)))
        elif cmd == "/stats":
            self.say(stats_text(await svc.stats(self.request())))
        elif cmd == "/rinda":
            rows = svc.queue(self.request())
            self.say("\n".join(f"{i}. #{j} {u}: {p}" for i, (j, u, p) in enumerate(rows, 1))
                     or "Rinda ir tukša.")  # fmt: skip
        elif cmd == "/reload":
            self.say(f"Modelis ielādēts: {await svc.reload(self.request(), arg or None)}")
        elif cmd in ("/ban", "/unban"):
            platform, _, user = arg.partition(":")
            await svc.set_banned(self.request(), platform, user, cmd == "/ban")
            self.say("Gatavs.")
        else:
            self.say("Nezināma komanda. /palidziba")

    async def _follow(self, sub: Submitted) -> None:
        h = sub.handle
        self.say(f"#{sub.job_id} {queued_text(h.position) or progress_text(h.progress)}")
        last = ""
        while not h.finished:
            await h.wait_changed(2.0)
            text = queued_text(h.position) if h.status == "queued" else progress_text(h.progress)
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
