"""Terminal frontend: a local chat over stdin/stdout, the default when no token is set.

Reads one command per line (`/zime …` or plain text), so it also works piped:
`printf '/zime Rainis\\n' | python -m bot --config cfg.toml` draws, prints and exits at EOF
after the queued jobs finish. The local user is an admin.

It runs the one command table (bot/commands.py) and the one button registry
(bot/actions.py): a message's buttons are printed by their labels (`[U1] [V1] [🔍 2×]`), and
typing a label (`U2`, `V1`, `🔍`, `🗑`) presses it on the last message that offered it.
`✏️ <English prompt>` answers a ✏️ question.
"""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
from typing import TextIO

from bot import actions, commands
from bot.admin_texts import teaching_text
from bot.delivery import Delivery, Fault
from bot.message import Ctx, Reply, Rows
from bot.status import follow
from bot.texts import error_text, t
from core.errors import ZimeError
from core.jobs.job import Job, JobView, Request
from core.service import Service

log = logging.getLogger("zime.console")
STATUS_INTERVAL_S = 1.0


class Console(Delivery):
    platform = "console"

    def __init__(self, service: Service, out: TextIO = sys.stdout, demo: bool = False) -> None:
        super().__init__(service, demo)
        self.out = out
        self.lang = "lv"  # a terminal has no client language; Latvian is the bot's own
        self.offers: dict[str, str] = {}  # a button label -> its callback data
        self.open_jobs: set[int] = set()  # started here, not yet answered
        self._answered = asyncio.Event()
        self.tty = out.isatty()  # a terminal: a job's status is one line, updated in place
        self._status = False  # a status line is on screen, unfinished

    def say(self, text: str) -> None:
        if self._status:
            self.out.write("\r\033[K")  # the status line gives way to the message
            self._status = False
        print(text, file=self.out, flush=True)

    def status(self, text: str) -> None:
        self.out.write("\r\033[K" + text)
        self.out.flush()
        self._status = True

    def ctx(self) -> Ctx:
        request = Request("console", "local", "local", "", language=self.lang, is_admin=True)
        return Ctx(self.service, request, news=self.news)

    async def news(self, event: str, details: dict[str, object]) -> None:
        """A training's news (/macies … /gatavs from the terminal): printed like replies."""
        headline, table = teaching_text(event, details, self.lang)
        self.say(headline if event != "done" else f"{headline}\n{table}")

    async def run(self, lines: asyncio.Queue[str | None]) -> None:
        self.say(t(self.lang, "Zīme is ready. Write /zime <text> or /palidziba."))
        await self.redeliver()
        for view in self.service.unfinished(self.platform):  # left by an earlier stop
            self.open_jobs.add(view.id)
            self.follow(view)
        while (line := await lines.get()) is not None:
            try:
                await self.line(line.strip())
            except Exception:  # a bad line never ends the loop
                log.exception("console line failed")
                self.say(error_text(ZimeError(), self.lang))
        while self.open_jobs:
            await self.answered()

    async def answered(self) -> None:
        """Until the next job started here is answered."""
        self._answered.clear()
        await self._answered.wait()

    async def line(self, line: str) -> None:
        if not line:
            return
        label, _, rest = line.partition(" ")
        if not line.startswith("/") and label != "❌":
            # A label means the latest message that offers it: let what is being drawn
            # arrive first, so a typed (or piped) script reads the same on every run.
            while self.open_jobs:
                await self.answered()
        data = self.offers.get(line) or self.offers.get(label)
        if data is None and actions.looks_like_button(label):  # a button, but not on offer
            self.say(t(self.lang, "No message here offers {label}.", label=label))
            return
        if data is not None and not line.startswith("/"):
            pressed = actions.decode(data)
            if pressed is not None and pressed.act == "fix" and rest.strip():
                reply = actions.fixed(self.ctx(), pressed.job_id, rest.strip())
            else:
                reply = await actions.press(self.ctx(), data)
        else:
            name, raw = commands.split(line)
            reply = await commands.run(self.ctx(), name, raw)
        await self.render(reply)

    async def render(self, reply: Reply) -> None:
        if reply.start is not None:
            await self._start(reply)
            return
        if reply.ask is not None:
            self.say(reply.ask.question)
            self.say(t(self.lang, "Write: ✏️ <corrected English prompt>"))
            self.offers["✏️"] = actions.encode("fix", reply.ask.job_id)
            return
        for picture in reply.pictures:
            self.say(picture.path + (f"\n{picture.caption}" if picture.caption else ""))
        if reply.text:
            self.say(reply.text)
        self.offer(reply.buttons)

    def offer(self, rows: Rows, shown: bool = True) -> None:
        """Print the buttons by label (unless not `shown`) and remember them: typing one
        presses it."""
        if not rows:
            return
        if shown:
            self.say(
                "  ".join(
                    f"[{b.label}: {b.url}]"
                    if b.url
                    else f"[{b.label} ({b.key})]"
                    if b.key
                    else f"[{b.label}]"
                    for row in rows
                    for b in row
                )
            )
        labels = [b for row in rows for b in row if not b.url]
        short: dict[str, list[str]] = {}
        for b in labels:
            self.offers[b.label] = b.data
            if b.key:
                short.setdefault(b.key, []).append(b.data)
            short.setdefault(b.label.split(" ")[0], []).append(b.data)
        for word, datas in short.items():  # "🔍" for "🔍 2×", when only one button has it
            if len(datas) == 1:
                self.offers[word] = datas[0]

    async def _start(self, reply: Reply) -> None:
        assert reply.start is not None
        try:
            sub = await reply.start({})
        except ZimeError as exc:
            self.say(error_text(exc, self.lang))
            return
        self.open_jobs.add(sub.job_id)
        self.follow(sub.handle)

    def follow(self, view: JobView) -> None:
        """A job's status: on a terminal one line updated in place; piped, a line when it
        changes kind (queued, drawing), not one per step."""
        kinds: set[str] = set()

        async def show(text: str, rows: Rows) -> None:
            if view.id not in self.open_jobs:
                return
            if self.tty:
                self.offer(rows, shown=False)
                self.status(f"#{view.id} {text}  [❌]")
                return
            kind = "".join(c for c in text if not c.isdigit())
            if kind not in kinds:
                kinds.add(kind)
                self.say(f"#{view.id} {text}")
                self.offer(rows)

        self.spawn(follow(view, self.lang, show, STATUS_INTERVAL_S))

    # delivery (the shared rules are in bot/delivery.py)
    def platform_fault(self, exc: BaseException) -> Fault:
        return Fault.PERMANENT  # a terminal has no network in between

    def _answer(self, job: Job) -> None:
        self.open_jobs.discard(job.id)
        self._answered.set()

    async def send_image(self, job: Job, lang: str) -> None:
        self.say(f"#{job.id} {job.image_path}\n{self.caption(job, lang)}")
        self.offer(actions.result_buttons(job.id, job.params.count, lang))
        await self.delivered(job)
        self._answer(job)

    async def send_failure(self, job: Job, text: str, lang: str) -> None:
        self.say(f"#{job.id} {text}")
        self._answer(job)


async def stdin_lines() -> asyncio.Queue[str | None]:
    """Feed stdin lines into a queue from a daemon thread (works for pipes and terminals; a
    daemon, so a blocked read never keeps the process from ending on Ctrl-C or SIGTERM)."""
    queue: asyncio.Queue[str | None] = asyncio.Queue()
    loop = asyncio.get_running_loop()

    def pump() -> None:
        try:
            for line in sys.stdin:
                loop.call_soon_threadsafe(queue.put_nowait, line)
            loop.call_soon_threadsafe(queue.put_nowait, None)
        except RuntimeError:  # the loop has closed: the bot is stopping
            pass

    threading.Thread(target=pump, name="zime-stdin", daemon=True).start()
    return queue
