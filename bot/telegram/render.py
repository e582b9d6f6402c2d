"""Telegram rendering and transport helpers: captions, buttons, languages, retries.
Pure functions of their inputs, unit-tested without a server."""

from __future__ import annotations

import html
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TimedOut,
)
from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt

from bot.locale import ui_language
from bot.texts import caption, t

T = TypeVar("T")

CAPTION_LIMIT = 1024
COMMANDS = [
    ("zime", "Uzzīmēt attēlu: /zime Vanšu tilts saulrietā"),
    ("vesture", "Mani pēdējie zīmējumi"),
    ("atcelt", "Atcelt manus zīmējumus rindā"),
    ("iestatijumi", "Mani iestatījumi: skaits, formāts, privāti, valoda"),
    ("palidziba", "Ko es protu"),
]
_COMMAND = re.compile(r"^/\w+(?:@\w+)?\s*", re.S)


_COMMAND = re.compile(r"^/\w+(?:@\w+)?\s*", re.S)


def file_url(api_base_url: str) -> str:
    """The Bot API's file download base for an API base: '…/bot' -> '…/file/bot'."""
    base = api_base_url.rstrip("/")
    head, _, tail = base.rpartition("/")
    return f"{head}/file/{tail}"


def strip_command(text: str) -> str:
    """'/zime@bot  Rīgas balzams' -> 'Rīgas balzams'."""
    return _COMMAND.sub("", text, count=1)


def user_language(code: str | None) -> str:
    """Telegram's language_code ('lv', 'ru', 'en-GB'; absent for some clients)."""
    return ui_language(code)


def render_caption(
    prompt: str, names: tuple[str, ...], seed: int, lang: str, demo: bool = False,
    hidden: bool = False, options: str = "",
) -> str:  # fmt: skip
    """HTML caption ≤ 1024 characters with the user-derived text escaped."""
    text = caption(prompt, names, seed, lang, demo, hidden, options)
    escaped = html.escape(text)
    if len(escaped) > CAPTION_LIMIT:
        room = len(prompt) - (len(escaped) - CAPTION_LIMIT) - 1
        text = caption(prompt[: max(0, room)] + "…", names, seed, lang, demo, hidden, options)
        escaped = html.escape(text)
    return escaped[:CAPTION_LIMIT]


def buttons(job_id: int, lang: str, count: int = 1) -> InlineKeyboardMarkup:
    """🔁, 📄, ✏️ (fix the translation) and 🗑 under every result. Under a grid: U1–U4
    (image n alone, full size) and V1–V4 (a new grid of variations of image n); under a
    single image: 🔍 2× and 🔀."""
    rows = [[
        InlineKeyboardButton(t(lang, "🔁 Again"), callback_data=f"again:{job_id}"),
        InlineKeyboardButton(t(lang, "📄 Original"), callback_data=f"orig:{job_id}"),
        InlineKeyboardButton("✏️", callback_data=f"fix:{job_id}"),
        InlineKeyboardButton("🗑", callback_data=f"del:{job_id}"),
    ]]  # fmt: skip
    if count > 1:
        rows[:0] = [
            [InlineKeyboardButton(f"U{n}", callback_data=f"u:{job_id}:{n}") for n in range(1, count + 1)],
            [InlineKeyboardButton(f"V{n}", callback_data=f"v:{job_id}:{n}") for n in range(1, count + 1)],
        ]  # fmt: skip
    else:
        rows.insert(0, image_buttons(job_id, 1, lang))
    return InlineKeyboardMarkup(rows)


def image_buttons(job_id: int, n: int, lang: str) -> list[InlineKeyboardButton]:
    """What one image offers: 🔍 2× upscale and 🔀 variations."""
    return [InlineKeyboardButton(t(lang, "🔍 2×"), callback_data=f"up:{job_id}:{n}"),
            InlineKeyboardButton(t(lang, "🔀 Variations"), callback_data=f"v:{job_id}:{n}")]  # fmt: skip


def single_image_buttons(job_id: int, n: int, lang: str) -> InlineKeyboardMarkup:
    """Under image n of a grid sent alone (Un): 🔍 2×, 🔀, then 📄 its PNG, ✏️ and 🗑."""
    return InlineKeyboardMarkup([image_buttons(job_id, n, lang), [
        InlineKeyboardButton(t(lang, "📄 Original"), callback_data=f"orig:{job_id}:{n}"),
        InlineKeyboardButton("✏️", callback_data=f"fix:{job_id}"),
        InlineKeyboardButton("🗑", callback_data=f"del:{job_id}"),
    ]])  # fmt: skip


def settings_buttons(user_id: int, settings: dict[str, Any], lang: str) -> InlineKeyboardMarkup:
    """/iestatijumi as buttons: images per request, aspect ratio, private results, language.
    The current choice is marked; the user id in the data keeps them to their owner."""

    def button(label: str, change: str, current: bool) -> InlineKeyboardButton:
        return InlineKeyboardButton(f"• {label}" if current else label,
                                    callback_data=f"set:{user_id}:{change}")  # fmt: skip

    aspect = settings.get("aspect")
    ratio = f"{aspect[0]}:{aspect[1]}" if aspect else None
    private = bool(settings.get("private"))
    return InlineKeyboardMarkup([
        [button(f"🖼 {n}", f"skaits={n}", settings.get("count") == n) for n in range(1, 5)],
        [button(r, f"formats={r}", ratio == r) for r in ("1:1", "3:2", "2:3", "16:9")],
        [button(t(lang, "🔒 Private: yes"), "privati=ja", private),
         button(t(lang, "🔓 Private: no"), "privati=ne", not private)],
        [button(code, f"valoda={code}", settings.get("language") == code)
         for code in ("lv", "ru", "en")],
    ])  # fmt: skip


TEXT_LIMIT = 4096


def is_permanent(exc: BaseException) -> bool:
    """THE place Telegram errors are classified. Permanent: the request itself is wrong or
    the chat is gone (400 BadRequest, 403 Forbidden, a bad token, a migrated chat); retrying
    cannot help. PTB's `BadRequest` subclasses `NetworkError`, so it is tested first."""
    return isinstance(exc, BadRequest | Forbidden | InvalidToken | ChatMigrated)


def is_retryable(exc: BaseException) -> bool:
    """Flood limits (429 RetryAfter), timeouts and other network errors (5xx included)."""
    return not is_permanent(exc) and isinstance(exc, RetryAfter | TimedOut | NetworkError)


def _wait(state: RetryCallState) -> float:
    """Telegram's own retry_after for a 429, else exponential backoff (0.5 s … 10 s)."""
    exc = state.outcome.exception() if state.outcome else None
    if isinstance(exc, RetryAfter):
        after = exc.retry_after
        return float(after.total_seconds() if hasattr(after, "total_seconds") else after)
    return float(min(10.0, 0.5 * 2 ** (state.attempt_number - 1)))


async def with_retry(call: Callable[[], Awaitable[T]], attempts: int = 5) -> T:
    """Retry a Telegram call on retryable errors; a permanent one is raised at once."""
    async for attempt in AsyncRetrying(
        retry=retry_if_exception(is_retryable), stop=stop_after_attempt(attempts),
        wait=_wait, reraise=True,
    ):  # fmt: skip
        with attempt:
            return await call()
    raise AssertionError("unreachable")  # pragma: no cover


def fit(text: str, limit: int = TEXT_LIMIT) -> str:
    """Cut `text` to a platform's message limit, marking the cut."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def read_image(path: str | None) -> bytes | None:
    if not path or not Path(path).is_file():
        return None
    return Path(path).read_bytes()
