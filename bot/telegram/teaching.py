"""Teaching a concept from the Telegram chat (admins): the commands (/macies, /gatavs,
/pievienot, /atmest) are in the one command table; here are what only Telegram does: a
photo sent while teaching is /foto, and the training's news is posted to the admin's chat.
A mixin of TelegramFrontend; the rules are in core/train/session.py."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from telegram import Message, Update
from telegram.ext import Application, ContextTypes

from bot import commands
from bot.admin_texts import teaching_text
from bot.message import Ctx, read_image
from bot.telegram.render import fit, with_retry
from core.jobs.job import Request
from core.service import Service

Context = ContextTypes.DEFAULT_TYPE


class TeachingCommands:
    service: Service
    app: Application[Any, Any, Any, Any, Any, Any]
    request: Callable[..., Request]
    reply: Callable[..., Awaitable[Message]]
    ctx: Callable[..., Ctx]

    async def on_teaching_photo(self, update: Update, context: Context) -> None:
        """A photo (without /zime) from an admin who is teaching a concept."""
        message = update.effective_message
        assert message is not None
        req = self.request(update)
        if not message.photo or not self.service.teaching_open(req):
            return
        reply = await commands.run(self.ctx(update, message.photo[-1]), "foto")
        await self.reply(message, reply.text)

    async def teaching_news(
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
