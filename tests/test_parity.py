"""One script, three frontends: the console, the Telegram stand-in and the Discord stand-in
must answer it the same way (issue #20). Each step's answers (error sentences, texts,
captions with their seeds) are compared after the platform's markup is taken off, and so
are the job rows in SQLite at the end. Seeds come from the same injected sequence, so the
same requests give the same seeds everywhere."""

from __future__ import annotations

import asyncio
import contextlib
import html
import io
import itertools
import re
import sqlite3
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import pytest

from bot.console import Console
from bot.delivery import Delivery
from bot.discord import DiscordFrontend
from bot.telegram import TelegramFrontend
from core.app import open_service
from core.config import Config, load_config
from core.service import Service
from tests.discord_stub import DiscordStub
from tests.telegram_stub import TelegramStub

ADMIN = 42

# (kind, argument): "cmd" a chat line, "press" a button by its label on the last message
# that offered it, "fix" the answer to the ✏️ question. 34 steps.
SCRIPT: list[tuple[str, str]] = [
    ("cmd", "/palidziba"),
    ("cmd", "/zime Rainis --sēkla 11"),
    ("press", "🔁 Vēlreiz"),
    ("cmd", "/zime Vanšu tilts --ar 16:9 --sēkla 12 --soļi 3"),
    ("press", "🔍 2×"),
    ("cmd", "/zime Milda --n 2 --sēkla 13 --ne kaķis"),
    ("press", "U2"),
    ("press", "🔀 Variācijas"),
    ("press", "V1"),
    ("cmd", "/zime suns --seeds 5"),
    ("cmd", "/zime --sēkla 14 -- Gaismas pils --ne"),
    ("cmd", "/zime"),
    ("cmd", "/zime " + "Rīga " * 80),
    ("cmd", "/velreiz abc"),
    ("cmd", "/velreiz 1"),
    ("cmd", "/atkartot 1"),
    ("cmd", "/iestatijumi skaits=2"),
    ("press", "🖼 3"),
    ("cmd", "/zime Rīgas balzams --sēkla 15"),
    ("cmd", "/iestatijumi skaits=1"),
    ("cmd", "/zime Brīvības piemineklis --sēkla 16"),
    ("press", "ℹ️ Detaļas"),
    ("press", "📄 Oriģināls"),
    ("press", "✏️"),
    ("fix", "brivpiem statue at night"),
    ("press", "🗑"),
    ("cmd", "/vesture"),
    ("press", "♻️ #9"),
    ("cmd", "/stats"),
    ("cmd", "/rinda"),
    ("cmd", "/ban 999"),
    ("cmd", "/unban 999"),
    ("cmd", f"/reload {'{sd}'}"),
    ("cmd", "/atcelt"),
]
VOLATILE = [
    (re.compile(r"\d+(\.\d+)? s\b"), "N s"),  # wait, drawing and heartbeat seconds
    (re.compile(r"\b(console|telegram|discord):(?=\d)"), "PLATFORM:"),  # /ban names whom
    (re.compile(r"^• local · .*$", re.M), "• local"),  # a runner's state and heartbeat
    (re.compile(r"^/\S+\.png$", re.M), "[png]"),  # the console prints paths
]


def clean(text: str) -> str:
    text = re.sub(r"^#\d+ (?!·)", "", text.strip())  # the console's job prefix
    for pattern, repl in VOLATILE:
        text = pattern.sub(repl, text)
    return text.strip()


def is_status(text: str) -> bool:
    return (
        text in ("⏳", "")
        or text.startswith(("Zīmēju", "[❌]"))
        or bool(re.fullmatch(r"Rindā: \d+\.", text))
    )


class Driver(Protocol):
    service: Service

    def mark(self) -> None: ...

    def answers(self) -> list[str]: ...

    async def command(self, line: str) -> None: ...

    async def press(self, label: str) -> None: ...

    async def fix(self, text: str) -> None: ...


@dataclass
class Labelled:
    label: str
    data: str
    where: Any


def pick(offers: list[Labelled], label: str) -> Labelled:
    """The newest button with this label (as the console reads a typed label)."""
    for offer in reversed(offers):
        if offer.label == label:
            return offer
    raise AssertionError(f"no button {label!r} among {[o.label for o in offers[-12:]]}")


async def settle(
    service: Service,
    frontend: Delivery,
    changed: Callable[[], int],
    answered: Callable[[], bool] = lambda: True,
) -> None:
    """Until the step is answered, nothing is queued, drawn or being delivered, and the
    platform is quiet."""
    last, quiet_since = -1, time.monotonic()
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        busy = service.worker.busy() or bool(service.worker.handles) or not answered()
        count = changed()
        if count != last or busy:
            last, quiet_since = count, time.monotonic()
        elif time.monotonic() - quiet_since > 0.3:
            return
        await asyncio.sleep(0.05)
    raise AssertionError("the bot never settled")


class ConsoleDriver:
    def __init__(self, service: Service) -> None:
        self.service = service
        self.out = io.StringIO()
        self.console = Console(service, self.out)
        self.said: list[str] = []
        self.console.say = self.said.append  # type: ignore[method-assign,assignment]
        self.start = 0

    def mark(self) -> None:
        self.start = len(self.said)

    def answers(self) -> list[str]:
        return [
            clean(s)
            for s in self.said[self.start :]
            if not is_status(clean(s)) and not s.startswith("[")
        ]

    async def _line(self, line: str) -> None:
        await self.console.line(line)
        while self.console.open_jobs:
            await self.console.answered()
        await settle(self.service, self.console, lambda: len(self.said))

    async def command(self, line: str) -> None:
        await self._line(line)

    async def press(self, label: str) -> None:
        await self._line(label)

    async def fix(self, text: str) -> None:
        await self._line(f"✏️ {text}")
        self.said[self.start :] = [s for s in self.said[self.start :] if "Raksti: ✏️" not in s]


class TelegramDriver:
    def __init__(self, stub: TelegramStub, frontend: TelegramFrontend) -> None:
        self.stub, self.frontend, self.service = stub, frontend, frontend.service
        self.start = 0
        self.message_ids = itertools.count(70_000)

    def mark(self) -> None:
        self.start = len(self.stub.calls)

    def answers(self) -> list[str]:
        out = []
        for c in self.stub.calls[self.start :]:
            p = c.params
            if c.method in ("sendMessage", "editMessageText") and not p.get("reply_markup", {}).get(
                "force_reply"
            ):
                out.append(p.get("text", ""))
            elif c.method == "sendPhoto":
                out.append("[png]\n" + html.unescape(p.get("caption", "")))
            elif c.method == "sendDocument":
                out.append("[png]")
            elif c.method == "answerCallbackQuery" and p.get("text"):
                out.append(p["text"])
        return [clean(a) for a in out if not is_status(clean(a))]

    def offers(self) -> list[Labelled]:
        found = []
        for c in self.stub.calls:
            rows = (c.params.get("reply_markup") or {}).get("inline_keyboard") or []
            for row in rows:
                for b in row:
                    found.append(Labelled(b["text"], b["callback_data"], c))
        return found

    async def _settle(self, answered: bool = True) -> None:
        await settle(
            self.service,
            self.frontend,
            lambda: len(self.stub.calls),
            lambda: not answered or bool(self.answers()),
        )

    async def command(self, line: str) -> None:
        self.stub.send_text(line, user_id=ADMIN)
        await self._settle()

    async def press(self, label: str) -> None:
        offer = pick(self.offers(), label)
        message = {
            "message_id": next(self.message_ids),
            "date": 0,
            "chat": {"id": ADMIN, "type": "private"},
            "text": "…",
        }
        self.stub.press(offer.data, message, user_id=ADMIN)
        await self._settle(answered=label != "✏️")

    async def fix(self, text: str) -> None:
        asked = next(
            m
            for m in reversed(self.stub.messages)
            if "in English" in m.get("text", "") or "angliski" in m.get("text", "")
        )
        self.stub.inject(
            {
                "message": {
                    "message_id": next(self.message_ids),
                    "date": 0,
                    "chat": {"id": ADMIN, "type": "private"},
                    "from": self.stub.user(ADMIN),
                    "text": text,
                    "reply_to_message": asked,
                }
            }
        )
        await self._settle()


class DiscordDriver:
    def __init__(self, stub: DiscordStub, frontend: DiscordFrontend) -> None:
        self.stub, self.frontend, self.service = stub, frontend, frontend.service
        self.start = 0
        self.modal: dict[str, Any] = {}

    def mark(self) -> None:
        self.start = len(self.stub.calls)

    def answers(self) -> list[str]:
        out = []
        for c in self.stub.calls[self.start :]:
            body = c.body.get("data", c.body) if c.path.endswith("/callback") else c.body
            if c.path.endswith("/callback") and c.body.get("type") in (5, 6, 9):
                continue  # deferred, or a modal
            if c.method not in ("POST", "PATCH") or not isinstance(body, dict):
                continue
            if "/commands" in c.path:
                continue
            content = re.sub(r"\\(\W)", r"\1", str(body.get("content") or ""))  # unescaped
            out.append(("[png]\n" + content) if c.files else content)
        return [clean(a).rstrip() for a in out if not is_status(clean(a))]

    def offers(self) -> list[Labelled]:
        found = []
        for c in self.stub.calls:
            body = c.body.get("data", c.body) if c.path.endswith("/callback") else c.body
            for row in (body or {}).get("components") or []:
                for b in row.get("components", []):
                    if "label" in b:
                        found.append(Labelled(b["label"], b["custom_id"], c))
        return found

    async def _settle(self, answered: bool = True) -> None:
        await settle(
            self.service,
            self.frontend,
            lambda: len(self.stub.calls),
            lambda: not answered or bool(self.answers()),
        )

    async def command(self, line: str) -> None:
        name, _, raw = line[1:].partition(" ")
        options: dict[str, Any] = {}
        if name == "zime":
            options = {"teksts": raw}
        elif name in ("velreiz", "atkartot"):
            options = {"id": raw}
        elif name == "iestatijumi":
            key, _, value = raw.partition("=")
            options = {key: int(value)}
        elif name in ("ban", "unban"):
            options = {"lietotajs": raw}
        elif name == "reload":
            options = {"modelis": raw}
        await self.stub.slash(name, options, user_id=ADMIN, guild_id=None, channel_id=600)
        await self._settle()

    async def press(self, label: str) -> None:
        offer = pick(self.offers(), label)
        token = await self.stub.click(
            offer.data, user_id=ADMIN, guild_id=None, channel_id=600, locale="lt"
        )
        await self._settle(answered=label != "✏️")
        modal = [c for c in self.stub.sent("POST", f"/{token}/callback") if c.body["type"] == 9]
        if modal:
            self.modal = modal[0].body["data"]

    async def fix(self, text: str) -> None:
        field = self.modal["components"][0]["components"][0]["custom_id"]
        await self.stub.submit_modal(
            self.modal["custom_id"],
            {field: text},
            user_id=ADMIN,
            guild_id=None,
            channel_id=600,
            locale="lt",
        )
        await self._settle()


def config(
    tmp_path: Path, tiny: dict[str, Path], platform: str, api: str = "", gateway: str = ""
) -> Config:
    section = {
        "console": "",
        "telegram": f'[telegram]\ntoken = "123:TEST"\napi_base_url = "{api}"\n'
        f"admins = [{ADMIN}]\nedit_interval_s = 0.05\n",
        "discord": f'[discord]\ntoken = "DISCORD.TEST.TOKEN"\napi_base_url = "{api}"\n'
        f'gateway_url = "{gateway}"\nadmins = [{ADMIN}]\n',
    }[platform]
    path = tmp_path / f"{platform}.toml"
    path.write_text(
        section + f'[models]\ngenerator = "{tiny["sd"]}"\ntranslator = "{tiny["opus"]}"\n'
        'device = "cpu"\n[generation]\nsteps = 2\nwidth = 64\nheight = 64\nbatch_size = 1\n'
        f'[storage]\ndatabase = "{tmp_path / platform}.sqlite3"\n'
        f'images = "{tmp_path / platform}-img"\n',
        encoding="utf-8",
    )
    return load_config(path, {})


def seeded(service: Service) -> None:
    seeds = itertools.count(1000)
    service.new_seed = lambda: next(seeds)


@contextlib.asynccontextmanager
async def console_driver(tmp_path: Path, tiny: dict[str, Path]) -> AsyncIterator[Driver]:
    async with open_service(config(tmp_path, tiny, "console")) as service:
        seeded(service)
        yield ConsoleDriver(service)


@contextlib.asynccontextmanager
async def telegram_driver(tmp_path: Path, tiny: dict[str, Path]) -> AsyncIterator[Driver]:
    stub = TelegramStub()
    api = await stub.start()
    try:
        cfg = config(tmp_path, tiny, "telegram", api)
        async with open_service(cfg) as service:
            seeded(service)
            frontend = TelegramFrontend(service, cfg.telegram)
            await frontend.start()
            await stub.wait_for("setMyCommands")
            try:
                yield TelegramDriver(stub, frontend)
            finally:
                await frontend.stop()
    finally:
        await stub.stop()


@contextlib.asynccontextmanager
async def discord_driver(tmp_path: Path, tiny: dict[str, Path]) -> AsyncIterator[Driver]:
    stub = DiscordStub()
    await stub.start()
    try:
        cfg = config(tmp_path, tiny, "discord", stub.api, stub.gateway)
        async with open_service(cfg) as service:
            seeded(service)
            frontend = DiscordFrontend(service, cfg.discord)
            frontend.edit_interval_s = 0.05
            await frontend.start()
            await asyncio.wait_for(stub.ready.wait(), 20)
            await asyncio.wait_for(frontend.client.wait_until_ready(), 20)
            try:
                yield DiscordDriver(stub, frontend)
            finally:
                await frontend.stop()
    finally:
        await stub.stop()


async def play(driver: Driver, tiny: dict[str, Path]) -> list[list[str]]:
    outcomes = []
    for kind, arg in SCRIPT:
        driver.mark()
        arg = arg.replace("{sd}", str(tiny["sd"]))
        if kind == "cmd":
            await driver.command(arg)
        elif kind == "press":
            await driver.press(arg)
        else:
            await driver.fix(arg)
        answers = driver.answers()
        if kind == "press" and arg == "✏️":
            answers = []  # a question in the chat, a modal on Discord: compared by what follows
        outcomes.append(sorted(answers))
    return outcomes


JOB_COLUMNS = (
    "id, status, request_text, normalized, english, seed, count, width, height, "
    "steps, parent_id, json_extract(meta, '$.kind'), options, prompt"
)


def rows(tmp_path: Path, platform: str) -> list[tuple[Any, ...]]:
    with contextlib.closing(sqlite3.connect(tmp_path / f"{platform}.sqlite3")) as db:
        try:
            return db.execute(f"SELECT {JOB_COLUMNS} FROM jobs ORDER BY id").fetchall()
        except sqlite3.OperationalError:  # the column list names what the schema has
            cols = [r[1] for r in db.execute("PRAGMA table_info(jobs)")]
            raise AssertionError(f"jobs has {cols}") from None


@pytest.mark.timeout(600)
async def test_one_script_gives_the_same_outcome_on_every_frontend(
    tiny_models: dict[str, Path], tmp_path: Path
) -> None:
    assert len(SCRIPT) >= 30
    results: dict[str, list[list[str]]] = {}
    for name, make in (
        ("console", console_driver),
        ("telegram", telegram_driver),
        ("discord", discord_driver),
    ):
        async with make(tmp_path, tiny_models) as driver:
            results[name] = await play(driver, tiny_models)
    console = results["console"]
    # the script does what it says, on the console …
    by_step = dict(zip([f"{k} {a}" for k, a in SCRIPT], console, strict=True))
    assert any("Sēkla: 1000" in a for a in by_step["press 🔁 Vēlreiz"])  # injected seeds
    assert by_step["cmd /zime suns --seeds 5"] == [
        "Opciju --seeds nepazīstu; varbūt domāji --sēkla/--seed? Nekas netika zīmēts."
    ]
    assert any(
        "Opcijas: 16:9 · 3 soļi" in a
        for a in by_step["cmd /zime Vanšu tilts --ar 16:9 --sēkla 12 --soļi 3"]
    )
    assert any("3 attēli" in a for a in by_step["cmd /zime Rīgas balzams --sēkla 15"])
    assert by_step["cmd /velreiz abc"] == [
        "/velreiz vajag zīmējuma numuru no /vesture, piemēram: /velreiz 12"
    ]
    assert any(
        "Atpazinu: Brīvības piemineklis" in a for a in by_step["fix brivpiem statue at night"]
    )
    assert by_step["press 🗑"] == ["Izdzēsts."]
    assert by_step["cmd /atcelt"] == ["Atcelti: 0."]
    # … and every frontend answers every step the same way
    for name in ("telegram", "discord"):
        for (kind, arg), mine, theirs in zip(SCRIPT, console, results[name], strict=True):
            assert theirs == mine, f"{name} differs at {kind} {arg!r}"
    # the same rows in SQLite: the same jobs, texts, seeds, sizes, lineage and options
    expected = rows(tmp_path, "console")
    assert len(expected) >= 14
    for name in ("telegram", "discord"):
        assert rows(tmp_path, name) == expected, name
