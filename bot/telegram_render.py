"""Telegram rendering and transport helpers: captions, buttons, languages, retries.
Pure functions of their inputs, unit-tested without a server."""

from __future__ import annotations

import asyncio
import html
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from telegram import InlineKeyboardButton, InlineKeyboardMarkup
from telegram.error import NetworkError, RetryAfter, TimedOut

from bot.locale import ui_language
from bot.texts import caption, t

T = TypeVar("T")

CAPTION_LIMIT = 1024
COMMANDS = [
    ("zime", "Uzzīmēt attēlu: /zime Vanšu tilts saulrietā"),
    ("vesture", "Mani pēdējie zīmējumi"),
    ("atcelt", "Atcelt manus zīmējumus rindā"),
    ("palidziba", "Ko es protu"),
]
_COMMAND = re.compile(r"^/\w+(?:@\w+)?\s*", re.S)


_COMMAND = re.compile(r"^/\w+(?:@\w+)?\s*", re.S)


def strip_command(text: str) -> str:
    """'/zime@bot  Rīgas balzams' -> 'Rīgas balzams'."""
    return _COMMAND.sub("", text, count=1)


def user_language(code: str | None) -> str:
    """Telegram's language_code ('lv', 'ru', 'en-GB'; absent for some clients)."""
    return ui_language(code)


def render_caption(
    prompt: str, names: tuple[str, ...], seed: int, lang: str, demo: bool = False
) -> str:
    """HTML caption ≤ 1024 characters with the user-derived text escaped."""
    text = caption(prompt, names, seed, lang, demo)
    escaped = html.escape(text)
    if len(escaped) > CAPTION_LIMIT:
        room = len(prompt) - (len(escaped) - CAPTION_LIMIT) - 1
        text = caption(prompt[: max(0, room)] + "…", names, seed, lang, demo)
        escaped = html.escape(text)
    return escaped[:CAPTION_LIMIT]


def buttons(job_id: int, lang: str) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[
            InlineKeyboardButton(t(lang, "🔁 Again"), callback_data=f"again:{job_id}"),
            InlineKeyboardButton(t(lang, "📄 Original"), callback_data=f"orig:{job_id}"),
        ]]
    )  # fmt: skip


async def with_retry(call: Callable[[], Awaitable[T]], attempts: int = 5) -> T:
    """Retry Telegram calls on flood limits (retry_after) and network errors with backoff."""
    delay = 0.5
    for attempt in range(attempts):
        try:
            return await call()
        except RetryAfter as exc:
            wait = exc.retry_after
            await asyncio.sleep(wait.total_seconds() if hasattr(wait, "total_seconds") else wait)
        except (NetworkError, TimedOut):
            if attempt == attempts - 1:
                raise
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10)
    return await call()


def read_image(path: str | None) -> bytes | None:
    if not path or not Path(path).is_file():
        return None
    return Path(path).read_bytes()
