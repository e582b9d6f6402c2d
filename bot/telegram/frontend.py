"""Telegram frontend (python-telegram-bot v22): updates → the one command table and button
registry (bot/commands.py, bot/actions.py), their replies → Telegram messages. No rules or
SQL here.

Delivery goes through the worker's job listener, with the message ids kept in the job's
meta in the database, so a job finished after a restart (or a delivery that failed on a
network error) still reaches the chat it came from.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
from functools import partial
from typing import Any

from telegram import Document, Message, PhotoSize, Update
from telegram.constants import ChatType
from telegram.error import BadRequest, NetworkError, TelegramError
from telegram.ext import (
    AIORateLimiter,
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    ChosenInlineResultHandler,
    CommandHandler,
    ContextTypes,
    InlineQueryHandler,
    MessageHandler,
    filters,
)

from bot import actions, commands
from bot.delivery import Delivery, Fault
from bot.message import Ctx, Reply, Rows, Start, download
from bot.status import follow
from bot.telegram.connection import Connection
from bot.telegram.inline import InlineMode
from bot.telegram.output import TelegramOutput
from bot.telegram.render import (
    file_url,
    is_retryable,
    keyboard,
    strip_command,
    user_language,
    with_retry,
)
from bot.telegram.teaching import TeachingCommands
from bot.texts import error_text
from core.config import TelegramConfig
from core.draw.images import MAX_PHOTO_BYTES
from core.errors import BadPhoto, ZimeError
from core.jobs.job import Request
from core.service import Service

log = logging.getLogger("zime.telegram")
# a photo's caption that runs a command with it: photo → picture, or a description
PHOTO_CAPTION = r"^/(zime|apraksti|opisat|describe)(@\w+)?(\s|$)"
Context = ContextTypes.DEFAULT_TYPE


class TelegramFrontend(Connection, TeachingCommands, InlineMode, TelegramOutput, Delivery):
    platform = "telegram"

    def __init__(
        self,
        service: Service,
        config: TelegramConfig,
        demo: bool = False,
        webhook_url: str = "",
    ) -> None:
        self.config = config
        # webhook mode: Telegram posts updates to `webhook_url` (the web app), with the secret
        self.webhook_url = webhook_url
        self.webhook_secret = config.webhook_secret or secrets.token_urlsafe(32)
        self.edit_interval_s = config.edit_interval_s
        self.admins = set(config.admins)
        self.app: Application[Any, Any, Any, Any, Any, Any] = (
            ApplicationBuilder()
            .token(config.token)
            .base_url(config.api_base_url)
            .concurrent_updates(True)
            # PTB's flood control paces calls; the retries are with_retry's alone (render.py)
            .rate_limiter(AIORateLimiter(max_retries=0))
            .base_file_url(file_url(config.api_base_url))
            .build()
        )
        self._inline_chat_type: dict[int, str] = {}  # user id -> chat type of the last query
        self._register()
        super().__init__(service, demo)  # subscribes to finished jobs

    def _register(self) -> None:
        add = self.app.add_handler
        names = [name for c in commands.COMMANDS for name in c.names]
        add(CommandHandler(names, self.on_command))
        attached = filters.PHOTO | filters.Document.ALL  # a file sent as a document: checked alike
        add(MessageHandler(attached & filters.CaptionRegex(PHOTO_CAPTION), self.on_photo))
        add(MessageHandler(filters.PHOTO & filters.ChatType.PRIVATE, self.on_teaching_photo))
        # Plain text is a prompt in private chats; in groups only a reply to a ✏️ question.
        add(
            MessageHandler(
                filters.TEXT & ~filters.COMMAND & (filters.ChatType.PRIVATE | filters.REPLY),
                self.on_text,
            )
        )
        # Any other command in a private chat: "Unknown command. /palidziba" (groups see
        # other bots' commands, which are none of ours).
        add(MessageHandler(filters.COMMAND & filters.ChatType.PRIVATE, self.on_command))
        add(CallbackQueryHandler(self.on_button))
        add(InlineQueryHandler(self.on_inline_query))
        add(ChosenInlineResultHandler(self.on_inline_chosen))
        self.app.add_error_handler(self.on_error)

    # requests
    def request(self, update: Update, text: str = "", **meta: Any) -> Request:
        user, chat = update.effective_user, update.effective_chat
        assert user is not None
        return Request(
            platform="telegram",
            user_id=str(user.id),
            chat_id=str(chat.id if chat else user.id),
            text=text,
            language=user_language(user.language_code),
            is_group=bool(chat and chat.type != ChatType.PRIVATE),
            is_admin=user.id in self.admins,
            bot_username=self.app.bot.username,
            meta=meta,
        )

    def ctx(self, update: Update, photo: PhotoSize | Document | None = None) -> Ctx:
        """The command's arguments go to the command: a request's text is what /zime draws.
        A training's news goes to the chat the command came from."""
        fetch = partial(self._download, photo) if photo is not None else None
        request = self.request(update)

        async def news(event: str, details: dict[str, object]) -> None:
            await self.teaching_news(int(request.chat_id), request.language, event, details)

        return Ctx(self.service, request, fetch, news)

    async def reply(self, message: Message, text: str, **kw: Any) -> Message:
        return await with_retry(lambda: message.reply_text(text, do_quote=True, **kw))

    async def on_error(self, update: object, context: Context) -> None:
        log.error("handler error: %s", type(context.error).__name__, exc_info=context.error)

    # commands
    async def on_command(self, update: Update, context: Context) -> None:
        message = update.effective_message
        assert message is not None and message.text is not None
        name, raw = commands.split(message.text)
        replied = message.reply_to_message  # "/zime …" as a reply to a photo (or a file)
        photo = None
        if replied is not None:
            photo = replied.photo[-1] if replied.photo else replied.document
        if replied is not None and name in commands.REPLY_COMMANDS and not raw.strip():
            job = await self.service.job_of_message(self.request(update), replied.message_id)
            raw = str(job.id) if job is not None else raw  # /labot as a reply to a picture
        ctx = self.ctx(update, photo if name in commands.PHOTO_COMMANDS else None)
        await self.render(update, message, await commands.run(ctx, name, raw))

    async def on_photo(self, update: Update, context: Context) -> None:
        """A photo (or a file sent as a document) with the caption "/zime …" (photo →
        picture) or "/apraksti" (described)."""
        message = update.effective_message
        assert message is not None and message.caption is not None
        attached = message.photo[-1] if message.photo else message.document
        assert attached is not None
        name, _ = commands.split(message.caption)
        raw = strip_command(message.caption)
        ctx = self.ctx(update, attached)
        await self.render(update, message, await commands.run(ctx, name, raw))

    async def _download(self, photo: PhotoSize | Document) -> bytes:
        """The photo's bytes from the Bot API's file URL (`[telegram] api_base_url`'s
        /file/bot… sibling, as a self-hosted Bot API server serves them)."""
        if photo.file_size and photo.file_size > MAX_PHOTO_BYTES:  # before asking Telegram
            raise BadPhoto("too_big")
        try:
            file = await with_retry(photo.get_file)
        except BadRequest as exc:  # the Bot API refuses files over 20 MB, and lost ones
            raise BadPhoto("too_big" if "too big" in str(exc).lower() else "unreadable") from exc
        if not file.file_path:
            raise BadPhoto("unreadable")
        return await with_retry(partial(download, file.file_path, MAX_PHOTO_BYTES))

    async def on_text(self, update: Update, context: Context) -> None:
        message = update.effective_message
        assert message is not None and message.text is not None
        replied = message.reply_to_message
        if replied is not None:  # a reply to a ✏️ question: draw the corrected prompt
            job = await self.service.job_for_reply(self.request(update), replied.message_id)
            if job is not None:
                reply = actions.fixed(self.ctx(update), job.id, message.text)
                await self.render(update, message, reply)
                return
        if message.chat.type == ChatType.PRIVATE:  # group chatter is not a prompt
            ctx = self.ctx(update)
            await self.render(update, message, await commands.run(ctx, "zime", message.text))

    # buttons
    async def on_button(self, update: Update, context: Context) -> None:
        query = update.callback_query
        assert query is not None
        ctx = self.ctx(update)
        reply = await actions.press(ctx, query.data or "")
        message = query.message if isinstance(query.message, Message) else None
        try:
            await query.answer(
                reply.text[:200] if reply.error or reply.notice else None, show_alert=reply.error
            )
            if reply.error or (reply.notice and not reply.remove):
                return
            if reply.remove:
                await self.remove(message, query.inline_message_id, ctx.lang)
            elif reply.edit and message is not None:
                with contextlib.suppress(BadRequest):  # an unchanged text is "not modified"
                    await message.edit_text(reply.text, reply_markup=keyboard(reply.buttons))
            elif reply.start is not None and message is None and query.inline_message_id:
                await self.start_inline(ctx, reply.start, query.inline_message_id)
            else:
                await self.render(update, message, reply, query.from_user.id)
        except TelegramError as exc:
            log.warning("button failed: %s", type(exc).__name__)

    # replies
    async def render(
        self, update: Update, message: Message | None, reply: Reply, chat_id: int | None = None
    ) -> None:
        """A reply in the chat of `message` (or, for an inline message, the user's private
        chat `chat_id`), answering that message."""
        lang = self.request(update).language
        if reply.start is not None:
            if message is not None:
                await self.submit(message, lang, reply.start)
            return
        target = message.chat_id if message is not None else chat_id
        if target is None:
            return
        reply_to = message.message_id if message is not None else None
        if reply.ask is not None:
            asked = await self.ask(target, reply.ask)
            await self.service.note(reply.ask.job_id, fix_message=asked.message_id)
        for picture in reply.pictures:
            await self.send_picture(target, picture, reply_to, reply.buttons)
        if reply.text and not reply.pictures:
            await self.send_text(target, reply.text, reply_to, reply.buttons, reply.preview)

    async def submit(self, message: Message, lang: str, start: Start) -> None:
        """Post the status message first, so its id is stored with the job from the start."""
        status = await self.reply(message, "⏳")
        meta = {
            "chat_id": message.chat_id,
            "reply_to": message.message_id,
            "status_message_id": status.message_id,
        }
        try:
            sub = await start(meta)
        except Exception as exc:  # every request ends in an answer, never a lone "⏳"
            if not isinstance(exc, ZimeError):
                log.exception("request failed")
            text = error_text(exc if isinstance(exc, ZimeError) else ZimeError(), lang)
            with contextlib.suppress(BadRequest, NetworkError):
                await with_retry(lambda: status.edit_text(text))
            return

        async def show(text: str, rows: Rows) -> None:
            with contextlib.suppress(TelegramError):
                await with_retry(lambda: status.edit_text(text, reply_markup=keyboard(rows)))

        self.spawn(follow(sub.handle, lang, show, self.edit_interval_s))

    # delivery (the shared rules are in bot/delivery.py)
    def platform_fault(self, exc: BaseException) -> Fault:
        """Telegram's errors: a retryable one has already been through `with_retry` (the
        one retry layer), so it waits for the next start; the rest is permanent."""
        return Fault.RETRIED if is_retryable(exc) else Fault.PERMANENT
