"""Teaching a concept with Discord slash commands (admins): /macies, /foto, /gatavs,
/pievienot, /atmest. A mixin of DiscordFrontend; the rules are in core/train/session.py."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import discord

from bot.message import download
from bot.teaching import finish_teaching
from bot.texts import error_text, t, teaching_text
from core.draw.images import MAX_PHOTO_BYTES
from core.errors import ZimeError
from core.jobs.job import Request
from core.service import Service


class TeachingCommands:
    service: Service
    request: Callable[..., Request]

    if TYPE_CHECKING:  # bot.discord.output.DiscordOutput

        async def _channel_send(
            self, meta: dict[str, Any], text: str, user_id: str, **kw: Any
        ) -> discord.Message: ...

    async def on_teach(
        self, interaction: discord.Interaction, command: str, args: list[str],
        photo: discord.Attachment | None = None,
    ) -> None:  # fmt: skip
        """Teaching a concept (admins): /macies, /foto, /gatavs, /pievienot, /atmest; the
        same service as Telegram's, answered ephemerally, results posted to the channel."""
        req = self.request(interaction)
        lang = req.language
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            self.service.check_admin(req)
            if command == "macies":
                session = self.service.teach_start(req, args)
                text, _ = teaching_text("started", {"name": session.name_lv, "cls": session.cls,
                                                    "token": session.token}, lang)  # fmt: skip
            elif command == "foto":
                assert photo is not None  # a required option of /foto
                data = await download(photo.url, MAX_PHOTO_BYTES, photo.size)
                count = await self.service.teach_photo(req, data)
                text = t(lang, "Photo {n} saved.", n=count)
            elif command == "gatavs":
                meta = {"channel_id": interaction.channel_id}

                async def notify(event: str, details: dict[str, Any]) -> None:
                    await self._teaching_news(meta, req.user_id, lang, event, details)

                session = self.service.teach_ready(req, notify)
                text, _ = teaching_text("queued", {"token": session.token}, lang)
            else:  # pievienot / atmest
                text = await finish_teaching(self.service, req, command, args)
        except ZimeError as exc:
            text = error_text(exc, lang)
        await interaction.edit_original_response(content=text[:2000])

    async def _teaching_news(
        self, meta: dict[str, Any], user_id: str, lang: str, event: str, details: dict[str, Any]
    ) -> None:
        headline, table = teaching_text(event, details, lang)
        if event != "done":
            await self._channel_send(meta, headline[:1900], user_id)
            return
        file = discord.File(Path(str(details["sheet"])), filename="contact_sheet.png")
        await self._channel_send(meta, f"{headline}\n{table}"[:1900], user_id, file=file)
