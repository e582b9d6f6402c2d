"""Teaching a concept on Discord (admins): the commands (/macies, /foto, /gatavs,
/pievienot, /atmest) are in the one command table; here is what only Discord does: the
training's news is posted to the channel, mentioning the admin. A mixin of DiscordFrontend;
the rules are in core/train/session.py."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import discord

from bot.admin_texts import teaching_text
from core.jobs.job import Request
from core.service import Service


class TeachingCommands:
    service: Service
    request: Callable[..., Request]

    if TYPE_CHECKING:  # bot.discord.output.DiscordOutput

        async def _channel_send(
            self, meta: dict[str, Any], text: str, user_id: str, **kw: Any
        ) -> discord.Message: ...

    async def teaching_news(
        self, meta: dict[str, Any], user_id: str, lang: str, event: str, details: dict[str, Any]
    ) -> None:
        headline, table = teaching_text(event, details, lang)
        if event != "done":
            await self._channel_send(meta, headline[:1900], user_id)
            return
        file = discord.File(Path(str(details["sheet"])), filename="contact_sheet.png")
        await self._channel_send(meta, f"{headline}\n{table}"[:1900], user_id, file=file)
