"""How the Telegram frontend puts a neutral reply into a chat: texts with buttons, pictures
and PNGs, the ✏️ question, a removal, a status message and a result. A mixin of
TelegramFrontend."""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

from telegram import ForceReply, LinkPreviewOptions, Message
from telegram.constants import ParseMode
from telegram.error import BadRequest, TelegramError
from telegram.ext import Application

from bot import actions
from bot.delivery import ImageMissing
from bot.message import Ask, Picture, Rows, read_image
from bot.telegram.render import fit, html_caption, keyboard, with_retry
from bot.texts import t
from core.config import TelegramConfig
from core.errors import NotFound
from core.jobs.job import Job


class TelegramOutput:
    app: Application[Any, Any, Any, Any, Any, Any]
    config: TelegramConfig

    if TYPE_CHECKING:  # from bot.delivery.Delivery and the frontend, which subclass both

        async def delivered(self, job: Job, **details: Any) -> None: ...

        def caption(self, job: Job, lang: str) -> str: ...

        async def send_inline_image(
            self, job: Job, lang: str, text: str, rows: Rows, spoiler: bool
        ) -> None: ...

    async def send_text(
        self, chat_id: int, text: str, reply_to: int | None, rows: Rows, preview: bool = True
    ) -> None:
        await with_retry(
            lambda: self.app.bot.send_message(
                chat_id,
                fit(text),
                reply_to_message_id=reply_to,
                allow_sending_without_reply=True,
                reply_markup=keyboard(rows),
                link_preview_options=None if preview else LinkPreviewOptions(is_disabled=True),
            )
        )

    async def send_picture(
        self, chat_id: int, picture: Picture, reply_to: int | None, rows: Rows
    ) -> None:
        data = await asyncio.to_thread(read_image, picture.path)
        if data is None:
            raise NotFound(picture.path)
        bot = self.app.bot
        if picture.document:
            await with_retry(
                lambda: bot.send_document(
                    chat_id,
                    data,
                    filename=picture.filename,
                    reply_to_message_id=reply_to,
                    allow_sending_without_reply=True,
                )
            )
            return
        await with_retry(
            lambda: bot.send_photo(
                chat_id,
                data,
                caption=html_caption(picture.caption),
                parse_mode=ParseMode.HTML,
                reply_to_message_id=reply_to,
                allow_sending_without_reply=True,
                has_spoiler=picture.spoiler,
                reply_markup=keyboard(rows),
            )
        )

    async def ask(self, chat_id: int, ask: Ask) -> Message:
        """✏️: the English prompt, with a reply field the answer goes into."""
        return await with_retry(
            lambda: self.app.bot.send_message(
                chat_id,
                fit(ask.question),
                reply_markup=ForceReply(selective=True, input_field_placeholder=ask.prompt[:64]),
            )
        )

    async def remove(self, message: Message | None, inline_id: str | None, lang: str) -> None:
        """🗑: the message under which it was pressed goes away."""
        with contextlib.suppress(TelegramError):
            if message is not None:
                await message.delete()
            elif inline_id:
                await self.app.bot.edit_message_text(
                    t(lang, "Deleted."), inline_message_id=inline_id
                )

    async def send_failure(self, job: Job, text: str, lang: str) -> None:
        meta = job.meta
        if meta.get("inline_message_id"):
            await with_retry(
                lambda: self.app.bot.edit_message_text(
                    text, inline_message_id=meta["inline_message_id"]
                )
            )
        elif meta.get("chat_id") is not None:
            await self.send_or_edit_status(meta, text)

    async def send_image(self, job: Job, lang: str) -> None:
        text = self.caption(job, lang)
        rows = actions.result_buttons(job.id, job.params.count, lang)
        # a flagged (blurred) picture is also a spoiler: nobody sees even the blur unasked
        spoiler = job.nsfw or (bool(job.meta.get("is_group")) and self.config.spoiler_in_groups)
        if job.meta.get("inline_message_id"):
            await self.send_inline_image(job, lang, text, rows, spoiler)
            return
        await self.send_result(job, lang, text, rows, spoiler)

    async def send_or_edit_status(self, meta: dict[str, Any], text: str) -> None:
        chat_id, status_id = meta["chat_id"], meta.get("status_message_id")
        if status_id:
            try:
                await with_retry(
                    lambda: self.app.bot.edit_message_text(
                        text, chat_id=chat_id, message_id=status_id
                    )
                )
                return
            except BadRequest:  # the status message was deleted: send a new one
                pass
        await with_retry(
            lambda: self.app.bot.send_message(
                chat_id,
                text,
                reply_to_message_id=meta.get("reply_to"),
                allow_sending_without_reply=True,
            )
        )

    async def send_result(self, job: Job, lang: str, text: str, rows: Rows, spoiler: bool) -> None:
        meta, bot = job.meta, self.app.bot
        data = await asyncio.to_thread(read_image, job.image_path)
        if data is None:
            raise ImageMissing(f"image of job {job.id} is missing")  # permanent (delivery.py)
        private = bool(meta.get("private_result"))  # the user's setting, asked in a group
        chat_id = int(job.user_id) if private else meta["chat_id"]
        sent = await with_retry(
            lambda: bot.send_photo(
                chat_id,
                data,
                caption=html_caption(text),
                parse_mode=ParseMode.HTML,
                reply_to_message_id=None if private else meta.get("reply_to"),
                allow_sending_without_reply=True,
                reply_markup=keyboard(rows),
                has_spoiler=spoiler,
            )
        )
        # Recorded at once: a kill between Telegram accepting the photo and this commit is
        # the one window in which a restart sends it twice (milliseconds, see README).
        await self.delivered(job, result_message=sent.message_id)
        if not meta.get("status_message_id"):
            return
        with contextlib.suppress(TelegramError):
            if private:
                await bot.edit_message_text(
                    t(lang, "Sent to you in a private message."),
                    chat_id=meta["chat_id"],
                    message_id=meta["status_message_id"],
                )
            else:
                await bot.delete_message(meta["chat_id"], meta["status_message_id"])
