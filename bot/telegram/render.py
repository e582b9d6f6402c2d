"""Telegram rendering and transport helpers: captions, buttons, languages, retries.
Pure functions of their inputs, unit-tested without a server."""

from __future__ import annotations

import html
import re
from collections.abc import Awaitable, Callable
from typing import TypeVar

from telegram import InlineKeyboardButton, InlineKeyboardMarkup, WebAppInfo
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
from bot.message import Button, Rows

T = TypeVar("T")

CAPTION_LIMIT = 1024
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


def html_caption(text: str) -> str:
    """A plain caption as Telegram HTML (user text escaped), cut to ≤ 1024 characters
    (before escaping, so no entity is cut in half)."""
    escaped = html.escape(text)
    while len(escaped) > CAPTION_LIMIT:
        text = text[: len(text) - (len(escaped) - CAPTION_LIMIT) - 1].rstrip()
        escaped = html.escape(text + "…")
    return escaped


def keyboard(rows: Rows) -> InlineKeyboardMarkup | None:
    """The neutral buttons (bot/actions.py) as an inline keyboard."""
    if not rows:
        return None
    return InlineKeyboardMarkup([[_button(b) for b in row] for row in rows])


def _button(b: Button) -> InlineKeyboardButton:
    if b.web_app:
        return InlineKeyboardButton(b.label, web_app=WebAppInfo(b.url))
    if b.url:
        return InlineKeyboardButton(b.label, url=b.url)
    return InlineKeyboardButton(b.label, callback_data=b.data)


TEXT_LIMIT = 4096


def is_permanent(exc: BaseException) -> bool:
    """THE place Telegram errors are classified. Permanent: the request itself is wrong or
    the chat is gone (400 BadRequest, 403 Forbidden, a bad token, a migrated chat); retrying
    cannot help. PTB's `BadRequest` subclasses `NetworkError`, so it is tested first."""
    return isinstance(exc, BadRequest | Forbidden | InvalidToken | ChatMigrated)


def is_retryable(exc: BaseException) -> bool:
    """Flood limits (429 RetryAfter), timeouts and other network errors (5xx included)."""
    return not is_permanent(exc) and isinstance(
        exc,
        RetryAfter | TimedOut | NetworkError | ConnectionError,  # the last: a download
    )


def _wait(state: RetryCallState) -> float:
    """Telegram's own retry_after for a 429, else exponential backoff (0.5 s … 10 s)."""
    exc = state.outcome.exception() if state.outcome else None
    if isinstance(exc, RetryAfter):
        after = exc.retry_after
        return float(after.total_seconds() if hasattr(after, "total_seconds") else after)
    return float(min(10.0, 0.5 * 2 ** (state.attempt_number - 1)))


async def with_retry(call: Callable[[], Awaitable[T]], attempts: int = 8) -> T:
    """THE retry layer of Telegram calls: a retryable error (is_retryable) is tried again,
    waiting Telegram's own retry_after for a 429, else 0.5 s doubling to 10 s (about 45 s in
    all); a permanent one is raised at once. It is the only one in this process: PTB's
    AIORateLimiter only paces calls (max_retries=0) and Delivery does not repeat a Telegram
    delivery (attempts=1); what still fails is delivered at the next start. One layer, so a
    call is tried at most `attempts` times, not the product of three layers' counts."""
    async for attempt in AsyncRetrying(
        retry=retry_if_exception(is_retryable),
        stop=stop_after_attempt(attempts),
        wait=_wait,
        reraise=True,
    ):
        with attempt:
            return await call()
    raise AssertionError("unreachable")  # pragma: no cover


def fit(text: str, limit: int = TEXT_LIMIT) -> str:
    """Cut `text` to a platform's message limit, marking the cut."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"
