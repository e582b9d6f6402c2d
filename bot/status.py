"""THE status loop: while a job waits or draws, its status message shows the queue position,
the progress or "paused", and ❌; every frontend renders it with its own `show`. The result
and a failure arrive through delivery (bot/delivery.py), which ends the message."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from bot.actions import status_buttons
from bot.message import Rows
from bot.texts import status_text
from core.jobs.job import JobView

Show = Callable[[str, Rows], Awaitable[None]]


async def follow(view: JobView, lang: str, show: Show, interval_s: float) -> None:
    """Call `show(text, buttons)` with each new status until the job ends, at most once per
    `interval_s` (platforms limit how often a message may be edited)."""
    last = ""
    buttons = status_buttons(view.id)
    while not view.finished:
        text = status_text(view, lang)
        if text and text != last:
            last = text
            await show(text, buttons)
            await asyncio.sleep(interval_s)
            continue
        await view.wait_changed(interval_s)
