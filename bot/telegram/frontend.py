"""Telegram frontend (python-telegram-bot v22): Telegram updates → core.Request,
Service results → photos, status edits and buttons. No rules or SQL here.

Delivery goes through the worker's job listener, with the message ids kept in the job's
meta in the database, so a job finished after a restart (or a delivery that failed on a
network error) still reaches the chat it came from.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from functools import partial
from typing import Any

from telegram import (
    BotCommand,
    CallbackQuery,
    ForceReply,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    InlineQueryResultArticle,
    InputMediaPhoto,
    InputTextMessageContent,
    Message,
    PhotoSize,
    Update,
)
from telegram.constants import ChatType, ParseMode
from telegram.error import BadRequest, Forbidden, NetworkError, TelegramError
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

from bot.delivery import Delivery
from bot.telegram.render import (
    COMMANDS,
    buttons,
    file_url,
    fit,
    is_retryable,
    read_image,
    render_caption,
    settings_buttons,
    single_image_buttons,
    strip_command,
    user_language,
    with_retry,
)
from bot.telegram.teaching import TeachingCommands
from bot.texts import (
    error_text,
    help_text,
    history_line,
    options_line,
    runners_text,
    settings_text,
    stats_text,
    status_text,
    t,
)
from core.config import TelegramConfig
from core.errors import BadPhoto, EmptyPrompt, NotFound, ZimeError
from core.images import MAX_PHOTO_BYTES
from core.models import Job, Request
from core.queue.worker import JobHandle
from core.service import Service, Submitted

log = logging.getLogger("zime.telegram")
Ctx = ContextTypes.DEFAULT_TYPE


class TelegramFrontend(TeachingCommands, Delivery):
    platform = "telegram"

    def __init__(self, service: Service, config: TelegramConfig, demo: bool = False) -> None:
        self.service = service
        self.config = config
        self.demo = demo
        self.admins = set(config.admins)
        self.app: Application[Any, Any, Any, Any, Any, Any] = (
            ApplicationBuilder()
            .token(config.token)
            .base_url(config.api_base_url)
            .concurrent_updates(True)
            # PTB's own flood control: paces calls and waits out 429s before they reach us
            .rate_limiter(AIORateLimiter(max_retries=2))
            .base_file_url(file_url(config.api_base_url))
            .build()
        )
        self._inline_chat_type: dict[int, str] = {}  # user id -> chat type of the last query
        self._register()
        super().__init__(service)  # subscribes to finished jobs

    # lifecycle
    async def start(self) -> None:
        await with_retry(self.app.initialize)
        with contextlib.suppress(ZimeError, NetworkError, BadRequest):
            await with_retry(
                lambda: self.app.bot.set_my_commands([BotCommand(c, d) for c, d in COMMANDS])
            )
        await self.app.start()
        assert self.app.updater is not None
        await self.app.updater.start_polling(
            allowed_updates=Update.ALL_TYPES, error_callback=self._polling_error
        )
        await self.redeliver()

    async def stop(self) -> None:
        if self.app.updater is not None and self.app.updater.running:
            await self.app.updater.stop()
        self.cancel_tasks()
        if self.app.running:
            await self.app.stop()
        await self.app.shutdown()

    def _polling_error(self, exc: Exception) -> None:
        log.warning("telegram polling error: %s", type(exc).__name__)

    def _register(self) -> None:
        add = self.app.add_handler
        add(CommandHandler("zime", self.cmd_zime))
        add(MessageHandler(filters.PHOTO & filters.CaptionRegex(r"^/zime(@\w+)?(\s|$)"),
                           self.on_photo))  # fmt: skip
        add(CommandHandler(["start", "help", "palidziba"], self.cmd_help))
        add(CommandHandler("vesture", self.cmd_history))
        add(CommandHandler("iestatijumi", self.cmd_settings))
        add(CommandHandler("atcelt", self.cmd_cancel))
        add(CommandHandler(["reload", "stats", "ban", "unban", "rinda"], self.cmd_admin))
        add(CommandHandler(["macies", "gatavs", "pievienot", "atmest"], self.cmd_teach))
        add(MessageHandler(filters.PHOTO & filters.ChatType.PRIVATE, self.on_teaching_photo))
        # Plain text is a prompt in private chats; in groups only a reply to a ✏️ question.
        add(MessageHandler(filters.TEXT & ~filters.COMMAND
                           & (filters.ChatType.PRIVATE | filters.REPLY), self.on_text))  # fmt: skip
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

    async def reply(self, message: Message, text: str, **kw: Any) -> Message:
        return await with_retry(lambda: message.reply_text(text, do_quote=True, **kw))

    async def on_error(self, update: object, context: Ctx) -> None:
        log.error("handler error: %s", type(context.error).__name__, exc_info=context.error)

    # commands
    async def cmd_zime(self, update: Update, context: Ctx) -> None:
        message = update.effective_message
        assert message is not None and message.text is not None
        replied = message.reply_to_message
        if replied is not None and replied.photo:  # "/zime …" as a reply to a photo
            await self.draw(update, message, strip_command(message.text), replied.photo[-1])
            return
        await self.draw(update, message, strip_command(message.text))

    async def on_photo(self, update: Update, context: Ctx) -> None:
        """A photo with the caption "/zime …": photo → picture."""
        message = update.effective_message
        assert message is not None and message.caption is not None and message.photo
        await self.draw(update, message, strip_command(message.caption), message.photo[-1])

    async def _download(self, photo: PhotoSize) -> bytes:
        """The photo's bytes from the Bot API's file URL (`[telegram] api_base_url`'s
        /file/bot… sibling, as a self-hosted Bot API server serves them)."""
        if photo.file_size and photo.file_size > MAX_PHOTO_BYTES:
            raise BadPhoto("too_big")
        file = await with_retry(photo.get_file)
        return bytes(await with_retry(file.download_as_bytearray))

    async def on_text(self, update: Update, context: Ctx) -> None:
        message = update.effective_message
        assert message is not None and message.text is not None
        if await self._fixed_prompt(update, message):
            return
        if message.chat.type == ChatType.PRIVATE:  # group chatter is not a prompt
            await self.draw(update, message, message.text)

    async def _fixed_prompt(self, update: Update, message: Message) -> bool:
        """A reply to a ✏️ question: draw the corrected English prompt."""
        replied = message.reply_to_message
        if replied is None or message.text is None:
            return False
        req = self.request(update)
        job = await self.service.job_for_reply(req, replied.message_id)
        if job is None:
            return False
        text = message.text
        await self.submit(update, message, req.language, lambda meta: self.service.draw_fixed(
            job.id, text, self.request(update, **meta)))  # fmt: skip
        return True

    async def draw(
        self, update: Update, message: Message, text: str, photo: PhotoSize | None = None
    ) -> None:
        req = self.request(update, text)
        if not text.strip():  # usage hint without touching the service
            await self.reply(message, error_text(EmptyPrompt(), req.language))
            return

        async def start(meta: dict[str, Any]) -> Submitted:
            data = await self._download(photo) if photo is not None else None
            return await self.service.handle(
                replace(self.request(update, text, **meta), photo=data)
            )

        await self.submit(update, message, req.language, start)

    async def submit(
        self, update: Update, message: Message, lang: str,
        start: Callable[[dict[str, Any]], Awaitable[Submitted]],
    ) -> None:  # fmt: skip
        """Post the status message first, so its id is stored with the job from the start."""
        status = await self.reply(message, "⏳")
        meta = {"chat_id": message.chat_id, "reply_to": message.message_id,
                "status_message_id": status.message_id}  # fmt: skip
        try:
            sub = await start(meta)
        except Exception as exc:  # every request ends in an answer, never a lone "⏳"
            if not isinstance(exc, ZimeError):
                log.exception("request failed")
            message_text = error_text(exc if isinstance(exc, ZimeError) else ZimeError(), lang)
            with contextlib.suppress(BadRequest, NetworkError):
                await with_retry(lambda: status.edit_text(message_text))
            return
        self.spawn(self._edit_status(sub.handle, lang, status.chat_id, status.message_id, None))

    async def _edit_status(
        self, h: JobHandle, lang: str, chat_id: int | None, message_id: int | None,
        inline_id: str | None, caption: bool = False,
    ) -> None:  # fmt: skip
        """Edit the status message (or, for a redraw of an inline photo, its caption) in
        place, at most once per `edit_interval_s`, until the job ends."""
        edit = self.app.bot.edit_message_caption if caption else self.app.bot.edit_message_text
        last = status_text(h, lang)
        while not h.finished:
            await h.wait_changed(self.config.edit_interval_s)
            text = status_text(h, lang)
            if h.finished or text == last:
                continue
            last = text
            body = {"caption": text} if caption else {"text": text}
            with contextlib.suppress(TelegramError):
                await with_retry(partial(edit, chat_id=chat_id, message_id=message_id,
                                         inline_message_id=inline_id, **body))  # fmt: skip
            await asyncio.sleep(self.config.edit_interval_s)

    async def cmd_help(self, update: Update, context: Ctx) -> None:
        assert update.effective_message is not None
        req = self.request(update)
        concepts = self.service.known_concepts()
        await self.reply(update.effective_message, help_text(concepts, req.language))

    async def cmd_history(self, update: Update, context: Ctx) -> None:
        assert update.effective_message is not None
        req = self.request(update)
        items = await self.service.history(req, 10)
        if not items:
            await self.reply(update.effective_message, t(req.language, "No history yet."))
            return
        lines, rows = [], []
        for item in items:
            text = item.request_text
            short = text if len(text) <= 60 else text[:59] + "…"
            lines.append(history_line(item, html.escape(short)))
            rows.append([InlineKeyboardButton(f"🔁 #{item.id}", callback_data=f"redo:{item.id}")])
        await self.reply(update.effective_message, "\n".join(lines), parse_mode=ParseMode.HTML,
                         reply_markup=InlineKeyboardMarkup(rows))  # fmt: skip

    async def cmd_settings(self, update: Update, context: Ctx) -> None:
        """/iestatijumi [skaits=4 formats=3:2 privāti=jā valoda=ru]"""
        message = update.effective_message
        assert message is not None
        req = self.request(update)
        try:
            if context.args:
                settings = await self.service.update_settings(req, " ".join(context.args))
            else:
                settings = await self.service.settings(req)
            lang = settings.get("language") or req.language
        except ZimeError as exc:
            await self.reply(message, error_text(exc, req.language))
            return
        await self.reply(message, settings_text(settings, lang),
                         reply_markup=settings_buttons(int(req.user_id), settings, lang))  # fmt: skip

    async def _on_settings_button(self, query: CallbackQuery, req: Request, data: str) -> None:
        """A settings button: `set:<user id>:<key=value>`, for that user only; the message
        is redrawn with the new settings."""
        owner, _, change = data.partition(":")
        if owner != req.user_id:
            await query.answer(t(req.language, "These are someone else's settings: send "
                                               "/iestatijumi for yours."), show_alert=True)  # fmt: skip
            return
        settings = await self.service.update_settings(req, change)
        lang = settings.get("language") or req.language
        await query.answer(t(lang, "Saved."))
        with contextlib.suppress(TelegramError):  # an unchanged text is "not modified"
            keyboard = settings_buttons(int(owner), settings, lang)
            await query.edit_message_text(settings_text(settings, lang), reply_markup=keyboard)

    async def cmd_cancel(self, update: Update, context: Ctx) -> None:
        assert update.effective_message is not None
        req = self.request(update)
        ids = await self.service.cancel(req)
        await self.reply(update.effective_message,
                         t(req.language, "Cancelled: {n}.", n=len(ids)))  # fmt: skip

    async def cmd_admin(self, update: Update, context: Ctx) -> None:
        message = update.effective_message
        assert message is not None and message.text is not None
        req = self.request(update)
        command = message.text.split()[0].split("@")[0].lstrip("/")
        args = context.args or []
        try:
            self.service.check_admin(req)  # refused before anything is announced
            if command == "reload":
                await self.reply(message, t(req.language, "Loading the model…"))
                model = await self.service.reload(req, args[0] if args else None)
                text = t(req.language, "Model loaded: {model}", model=model)
            elif command == "stats":
                text = stats_text(await self.service.stats(req), req.language)
            elif command in ("ban", "unban"):
                if not args:
                    text = t(req.language, "Usage: /{command} <user id>", command=command)
                else:
                    await self.service.set_banned(req, "telegram", args[0], command == "ban")
                    text = t(req.language, "Done.")
            else:
                rows = self.service.queue(req)
                text = "\n".join(f"{i}. #{j} {u}: {p[:60]}" for i, (j, u, p) in enumerate(rows, 1))
                text = text or t(req.language, "The queue is empty.")
                text += "\n" + runners_text(self.service.runners(req), req.language)
        except ZimeError as exc:
            text = error_text(exc, req.language)
        await self.reply(message, fit(text))

    # buttons
    async def on_button(self, update: Update, context: Ctx) -> None:
        query = update.callback_query
        assert query is not None and query.data is not None
        action, _, raw_id = query.data.partition(":")
        if action == "set":
            try:
                await self._on_settings_button(query, self.request(update), raw_id)
            except ZimeError as exc:
                await query.answer(error_text(exc, self.request(update).language), show_alert=True)
            return
        raw_id, _, raw_n = raw_id.partition(":")
        n = int(raw_n) if raw_n.isdigit() else 0  # image n of a grid (U, V, 🔍)
        req = self.request(update)
        message = query.message if isinstance(query.message, Message) else None
        inline_id = query.inline_message_id
        try:
            job_id = int(raw_id) if raw_id.isdigit() else 0
            if action in ("again", "redo"):
                await self.service.check_owner(job_id, req)  # alert instead of a chat message
                await query.answer()
                same = action == "redo"
                if message is not None:
                    await self.submit(update, message, req.language, lambda meta: self.service.again(
                        job_id, self.request(update, **meta), same_seed=same))  # fmt: skip
                elif inline_id:  # a picture posted inline: redraw into the same message
                    await self._again_inline(update, job_id, inline_id, same)
            elif action == "u":  # one image of a grid, alone
                job, path = await self.service.grid_image(job_id, n, req)
                data = await asyncio.to_thread(read_image, path)
                if data is None:
                    raise NotFound(f"job {job_id}")
                await query.answer()
                chat_id = message.chat_id if message is not None else query.from_user.id
                seed = job.params.image_seed(n)
                await with_retry(lambda: self.app.bot.send_photo(
                    chat_id, data, caption=f"U{n} · Seed: {seed}",
                    reply_to_message_id=message.message_id if message else None,
                    allow_sending_without_reply=True, has_spoiler=job.nsfw,
                    reply_markup=single_image_buttons(job_id, n, req.language)))  # fmt: skip
            elif action in ("v", "up"):  # variations of image n, or image n at 2×
                derive = self.service.variation if action == "v" else self.service.upscale
                await self.service.grid_image(job_id, n, req)  # owner check: an alert
                await query.answer()
                if message is not None:
                    await self.submit(update, message, req.language, lambda meta: derive(
                        job_id, n, self.request(update, **meta)))  # fmt: skip
            elif action == "fix":  # ✏️: show the English prompt, ask for a corrected one
                prompt = await self.service.prompt_to_fix(job_id, req)
                await query.answer()
                chat_id = message.chat_id if message is not None else query.from_user.id
                asked = await with_retry(lambda: self.app.bot.send_message(
                    chat_id, t(req.language, "This is what I drew (in English):\n{prompt}\n"
                               "Reply to this message with a corrected English prompt.",
                               prompt=prompt),
                    reply_markup=ForceReply(selective=True,
                                            input_field_placeholder=prompt[:64])))  # fmt: skip
                await self.service.note(job_id, fix_message=asked.message_id)
            elif action == "del":  # 🗑: the author or an admin removes the result
                await self.service.delete(job_id, req)
                await query.answer(t(req.language, "Deleted."))
                with contextlib.suppress(TelegramError):
                    if message is not None:
                        await message.delete()
                    elif inline_id:
                        await self.app.bot.edit_message_text(t(req.language, "Deleted."),
                                                             inline_message_id=inline_id)  # fmt: skip
            elif action == "orig":  # the PNG (of image n of a grid), owner or admin only
                path = (await self.service.grid_image(job_id, n, req))[1] if n else (
                    await self.service.original(job_id, req))  # fmt: skip
                data = await asyncio.to_thread(read_image, path)
                if data is None:
                    raise NotFound(f"job {job_id}")
                await query.answer()
                # Into the chat of the button, or (inline) the user's private chat.
                chat_id = message.chat_id if message is not None else query.from_user.id
                await with_retry(lambda: self.app.bot.send_document(
                    chat_id, data, filename=f"zime-{job_id}{f'-{n}' if n else ''}.png",
                    reply_to_message_id=message.message_id if message else None,
                    allow_sending_without_reply=True))  # fmt: skip
            else:
                await query.answer()
        except ZimeError as exc:
            await query.answer(error_text(exc, req.language), show_alert=True)
        except TelegramError as exc:
            log.warning("button %s failed: %s", action, exc)

    async def _again_inline(self, update: Update, job_id: int, inline_id: str, same: bool) -> None:
        req = self.request(update, inline_message_id=inline_id,
                           chat_id=update.effective_user.id if update.effective_user else None)  # fmt: skip
        try:
            sub = await self.service.again(job_id, req, same_seed=same)
        except ZimeError as exc:
            with contextlib.suppress(TelegramError):
                await self.app.bot.edit_message_caption(inline_message_id=inline_id,
                                                        caption=error_text(exc, req.language))  # fmt: skip
            return
        self.spawn(self._edit_status(sub.handle, req.language, None, None, inline_id,
                                      caption=True))  # fmt: skip

    # inline mode
    async def on_inline_query(self, update: Update, context: Ctx) -> None:
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
        wait = InlineKeyboardMarkup([[InlineKeyboardButton("⏳", callback_data="wait:0")]])
        result = InlineQueryResultArticle(
            id="draw", title=title[:256], input_message_content=InputTextMessageContent(body[:4096]),
            reply_markup=wait, description=t(lang, "The picture appears here"),
        )  # fmt: skip
        await query.answer([result], cache_time=0, is_personal=True)

    async def on_inline_chosen(self, update: Update, context: Ctx) -> None:
        chosen = update.chosen_inline_result
        assert chosen is not None
        inline_id = chosen.inline_message_id
        chat_type = self._inline_chat_type.pop(chosen.from_user.id, "")
        private = chat_type in ("sender", ChatType.PRIVATE)
        req = replace(
            self.request(update, chosen.query, inline_message_id=inline_id,
                         chat_id=chosen.from_user.id, inline_chat_type=chat_type),
            # Unknown or any group: the stricter group rules, keyed by the user's inline use.
            is_group=not private, chat_id=f"inline:{chat_type or 'unknown'}:{chosen.from_user.id}",
        )  # fmt: skip
        try:
            sub = await self.service.handle(req)
        except ZimeError as exc:
            if inline_id:
                with contextlib.suppress(BadRequest, NetworkError):
                    await self.app.bot.edit_message_text(error_text(exc, req.language),
                                                         inline_message_id=inline_id)  # fmt: skip
            return
        self.spawn(self._edit_status(sub.handle, req.language, None, None, inline_id))

    # delivery (the shared rules are in bot/delivery.py)
    def retryable(self, exc: BaseException) -> bool:
        return is_retryable(exc)

    async def send_failure(self, job: Job, text: str, lang: str) -> None:
        meta = job.meta
        if meta.get("inline_message_id"):
            await with_retry(lambda: self.app.bot.edit_message_text(
                text, inline_message_id=meta["inline_message_id"]))  # fmt: skip
        elif meta.get("chat_id") is not None:
            await self._send_or_edit_status(meta, text)

    async def _send_or_edit_status(self, meta: dict[str, Any], text: str) -> None:
        chat_id, status_id = meta["chat_id"], meta.get("status_message_id")
        if status_id:
            try:
                await with_retry(lambda: self.app.bot.edit_message_text(
                    text, chat_id=chat_id, message_id=status_id))  # fmt: skip
                return
            except BadRequest:  # the status message was deleted: send a new one
                pass
        await with_retry(lambda: self.app.bot.send_message(
            chat_id, text, reply_to_message_id=meta.get("reply_to"),
            allow_sending_without_reply=True))  # fmt: skip

    async def send_image(self, job: Job, lang: str) -> None:
        meta = job.meta
        names = self.service.concept_names(job.concepts)
        options = options_line(job.options, job.params.count, job.params.steps, lang)
        text = render_caption(job.prompt, names, job.seed, lang, self.demo, job.nsfw, options)
        data = await asyncio.to_thread(read_image, job.image_path)
        if data is None:
            raise BadRequest(f"image of job {job.id} is missing")
        # a flagged (blurred) picture is also a spoiler: nobody sees even the blur unasked
        spoiler = job.nsfw or (bool(meta.get("is_group")) and self.config.spoiler_in_groups)
        bot = self.app.bot
        if meta.get("inline_message_id"):
            await self._send_inline_image(job, lang, data, text, spoiler)
            return
        private = bool(meta.get("private_result"))  # the user's setting, asked in a group
        chat_id = int(job.user_id) if private else meta["chat_id"]
        await with_retry(lambda: bot.send_photo(
            chat_id, data, caption=text, parse_mode=ParseMode.HTML,
            reply_to_message_id=None if private else meta.get("reply_to"),
            allow_sending_without_reply=True,
            reply_markup=buttons(job.id, lang, job.params.count), has_spoiler=spoiler))  # fmt: skip
        if private and meta.get("status_message_id"):
            await self.delivered(job)
            with contextlib.suppress(TelegramError):
                await bot.edit_message_text(t(lang, "Sent to you in a private message."),
                                            chat_id=meta["chat_id"],
                                            message_id=meta["status_message_id"])  # fmt: skip
            return
        # Recorded at once: a kill between Telegram accepting the photo and this commit is
        # the one window in which a restart sends it twice (milliseconds, see README).
        await self.delivered(job)
        if meta.get("status_message_id"):
            with contextlib.suppress(TelegramError):
                await bot.delete_message(meta["chat_id"], meta["status_message_id"])

    async def _send_inline_image(
        self, job: Job, lang: str, data: bytes, text: str, spoiler: bool
    ) -> None:
        """Inline messages cannot receive uploads: upload to the user's private chat first,
        then put that file into the inline message by file id. A user who never opened a
        private chat with the bot (403) is told so in the inline message."""
        bot, inline_id = self.app.bot, job.meta["inline_message_id"]
        try:
            sent = await with_retry(lambda: bot.send_photo(
                job.meta["chat_id"], data, caption=text, parse_mode=ParseMode.HTML,
                has_spoiler=spoiler))  # fmt: skip
        except Forbidden:
            await with_retry(lambda: bot.edit_message_text(
                t(lang, "Open a private chat with me and press Start, then try again: "
                        "I send inline pictures through it."),
                inline_message_id=inline_id))  # fmt: skip
            await self.delivered(job, delivery_error="forbidden")
            return
        file_id = sent.photo[-1].file_id
        await with_retry(lambda: bot.edit_message_media(
            InputMediaPhoto(file_id, caption=text, parse_mode=ParseMode.HTML, has_spoiler=spoiler),
            inline_message_id=inline_id, reply_markup=buttons(job.id, lang, job.params.count)))  # fmt: skip
        await self.delivered(job)
