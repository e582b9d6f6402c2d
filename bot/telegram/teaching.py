"""Teaching a concept from the Telegram chat (admins): /macies, photos, /gatavs, /pievienot,
/atmest. A mixin of TelegramFrontend; the rules are in core/train/session.py."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from telegram import Message, PhotoSize, Update
from telegram.ext import Application, ContextTypes

from bot.message import read_image
from bot.teaching import finish_teaching
from bot.telegram.render import fit, with_retry
from bot.texts import error_text, t, teaching_text
from core.errors import ZimeError
from core.jobs.job import Request
from core.service import Service

Ctx = ContextTypes.DEFAULT_TYPE


class TeachingCommands:
    service: Service
    app: Application[Any, Any, Any, Any, Any, Any]
    request: Callable[..., Request]
    reply: Callable[..., Awaitable[Message]]
    _download: Callable[[PhotoSize], Awaitable[bytes]]

    # teaching a concept (admins): /macies, photos, /gatavs, /pievienot, /atmest
    async def cmd_teach(self, update: Update, context: Ctx) -> None:
        message = update.effective_message
        assert message is not None and message.text is not None
        req = self.request(update)
        command = message.text.split()[0].split("@")[0].lstrip("/")
        args = list(context.args or [])
        lang = req.language
        try:
            if command == "macies":
                session = self.service.teach_start(req, args)
                text, _ = teaching_text("started", {"name": session.name_lv, "cls": session.cls,
                                                    "token": session.token}, lang)  # fmt: skip
            elif command == "gatavs":
                chat_id = message.chat_id

                async def notify(event: str, details: dict[str, Any]) -> None:
                    await self._teaching_news(chat_id, lang, event, details)

                session = self.service.teach_ready(req, notify)
                text, _ = teaching_text("queued", {"token": session.token}, lang)
            else:  # pievienot / atmest
                text = await finish_teaching(self.service, req, command, args)
        except ZimeError as exc:
            text = error_text(exc, lang)
        await self.reply(message, text)

    async def on_teaching_photo(self, update: Update, context: Ctx) -> None:
        """A photo (without /zime) from an admin who is teaching a concept."""
        message = update.effective_message
        assert message is not None
        req = self.request(update)
        if not message.photo or not self.service.teaching_open(req):
            return
        try:
            count = await self.service.teach_photo(req, await self._download(message.photo[-1]))
            text = t(req.language, "Photo {n} saved.", n=count)
        except ZimeError as exc:
            text = error_text(exc, req.language)
        await self.reply(message, text)

    async def _teaching_news(
        self, chat_id: int, lang: str, event: str, details: dict[str, Any]
    ) -> None:
        bot = self.app.bot
        headline, table = teaching_text(event, details, lang)
        if event != "done":
            await with_retry(lambda: bot.send_message(chat_id, headline))
            return
        data = await asyncio.to_thread(read_image, str(details["sheet"]))
        await with_retry(lambda: bot.send_photo(chat_id, data or b"", caption=headline[:1024]))
        await with_retry(lambda: bot.send_message(chat_id, fit(table)))
