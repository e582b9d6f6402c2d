"""Inline mode (`@bot Vanšu tilts` in any chat): a preview to choose, then the picture drawn
into the posted message. A mixin of TelegramFrontend."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from telegram import (
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InlineQueryResultArticle,
    InputMediaPhoto,
    InputTextMessageContent,
    Update,
)
from telegram.constants import ChatType, ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, TelegramError
from telegram.ext import Application, ContextTypes

from bot.actions import encode
from bot.delivery import ImageMissing
from bot.message import Ctx, Rows, Start, read_image
from bot.status import follow
from bot.telegram.render import html_caption, keyboard, user_language, with_retry
from bot.texts import error_text, t
from core.errors import ZimeError
from core.jobs.job import Job, Request
from core.service import Service

Context = ContextTypes.DEFAULT_TYPE


class InlineMode:
    service: Service
    app: Application[Any, Any, Any, Any, Any, Any]
    request: Callable[..., Request]
    spawn: Callable[[Awaitable[None]], None]
    _inline_chat_type: dict[int, str]
    edit_interval_s: float

    if TYPE_CHECKING:  # from bot.delivery.Delivery, which the frontend also subclasses

        async def delivered(self, job: Job, **details: Any) -> None: ...

    async def on_inline_query(self, update: Update, context: Context) -> None:
        query = update.inline_query
        assert query is not None
        # The chosen result does not say where it is posted; the query does. Remember it, so
        # a picture posted into a group gets the group's rules (safety checker, chat limit).
        self._inline_chat_type[query.from_user.id] = query.chat_type or ""
        lang = user_language(query.from_user.language_code)
        if not query.query.strip():
            await query.answer([], cache_time=0, is_personal=True)
            return
        try:
            normalized = self.service.preview(query.query)
            title = t(lang, "Draw: {text}", text=normalized)
            body = t(lang, "🎨 Drawing: {text}", text=normalized)
        except ZimeError as exc:
            title = body = error_text(exc, lang)
        wait = InlineKeyboardMarkup([[InlineKeyboardButton("⏳", callback_data=encode("wait", 0))]])
        result = InlineQueryResultArticle(
            id="draw",
            title=title[:256],
            input_message_content=InputTextMessageContent(body[:4096]),
            reply_markup=wait,
            description=t(lang, "The picture appears here"),
        )
        await query.answer([result], cache_time=0, is_personal=True)

    async def on_inline_chosen(self, update: Update, context: Context) -> None:
        chosen = update.chosen_inline_result
        assert chosen is not None
        inline_id = chosen.inline_message_id
        if not inline_id:
            return
        chat_type = self._inline_chat_type.pop(chosen.from_user.id, "")
        private = chat_type in ("sender", ChatType.PRIVATE)
        req = replace(
            self.request(update, chosen.query, inline_chat_type=chat_type),
            # Unknown or any group: the stricter group rules, keyed by the user's inline use.
            is_group=not private,
            chat_id=f"inline:{chat_type or 'unknown'}:{chosen.from_user.id}",
        )

        async def start(meta: dict[str, Any]) -> Any:
            return await self.service.handle(replace(req, meta={**req.meta, **meta}))

        await self.start_inline(Ctx(self.service, req), start, inline_id, caption=False)

    async def start_inline(
        self, ctx: Ctx, start: Start, inline_id: str, caption: bool = True
    ) -> None:
        """Draw into an inline message: its text (or, for a redraw of an inline picture, its
        caption) is the status until the picture replaces it."""
        bot, lang = self.app.bot, ctx.lang
        edit = bot.edit_message_caption if caption else bot.edit_message_text
        user_chat = int(ctx.request.user_id)
        try:
            sub = await start({"inline_message_id": inline_id, "chat_id": user_chat})
        except ZimeError as exc:
            body = {"caption" if caption else "text": error_text(exc, lang)}
            with contextlib.suppress(BadRequest, NetworkError):
                await edit(inline_message_id=inline_id, **body)
            return

        async def show(text: str, rows: Rows) -> None:
            body = {"caption" if caption else "text": text}
            with contextlib.suppress(TelegramError):
                await with_retry(
                    lambda: edit(inline_message_id=inline_id, reply_markup=keyboard(rows), **body)
                )

        self.spawn(follow(sub.handle, lang, show, self.edit_interval_s))

    async def send_inline_image(
        self, job: Job, lang: str, text: str, rows: Rows, spoiler: bool
    ) -> None:
        """Inline messages cannot receive uploads: upload to the user's private chat first,
        then put that file into the inline message by file id. A user who never opened a
        private chat with the bot (403) is told so in the inline message."""
        bot, inline_id = self.app.bot, job.meta["inline_message_id"]
        data = await asyncio.to_thread(read_image, job.image_path)
        if data is None:
            raise ImageMissing(f"image of job {job.id} is missing")  # permanent (delivery.py)
        caption = html_caption(text)
        try:
            sent = await with_retry(
                lambda: bot.send_photo(
                    job.meta["chat_id"],
                    data,
                    caption=caption,
                    parse_mode=ParseMode.HTML,
                    has_spoiler=spoiler,
                )
            )
        except Forbidden:
            await with_retry(
                lambda: bot.edit_message_text(
                    t(
                        lang,
                        "Open a private chat with me and press Start, then try again: "
                        "I send inline pictures through it.",
                    ),
                    inline_message_id=inline_id,
                )
            )
            await self.delivered(job, delivery_error="forbidden")
            return
        file_id = sent.photo[-1].file_id
        await with_retry(
            lambda: bot.edit_message_media(
                InputMediaPhoto(
                    file_id, caption=caption, parse_mode=ParseMode.HTML, has_spoiler=spoiler
                ),
                inline_message_id=inline_id,
                reply_markup=keyboard(rows),
            )
        )
        await self.delivered(job)
