"""Discord frontend (discord.py 2.x): slash commands and buttons → the one command table and
button registry (bot/commands.py, bot/actions.py); their replies → interaction responses,
deferred-response edits and file attachments.

Delivery goes through the worker's job listener: a live interaction gets the image as a
followup; when the interaction token has expired (15 minutes) or the bot restarted, the
image is posted to the channel, mentioning the user.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import re
import time
from typing import Any

import aiohttp
import discord

from bot import actions, commands
from bot.delivery import Delivery, Fault
from bot.discord.output import DiscordOutput
from bot.discord.slash import ZimeClient, configure_endpoints, language
from bot.discord.teaching import TeachingCommands
from bot.discord.views import FixModal, view
from bot.message import Ctx, Picture, Reply, Rows, Start, download, read_image
from bot.status import follow
from bot.texts import error_text
from core.config import DiscordConfig
from core.draw.images import MAX_PHOTO_BYTES
from core.errors import ZimeError
from core.jobs.job import Request
from core.service import Service

log = logging.getLogger("zime.discord")

INTERACTION_TTL_S = 14 * 60  # Discord tokens live 15 minutes; keep a margin
EDIT_INTERVAL_S = 2.5


def _log_connection_end(task: asyncio.Task[None]) -> None:
    """A dead gateway connection must be visible: the other frontends keep running."""
    if not task.cancelled() and task.exception() is not None:
        log.error("discord connection ended: %r", task.exception())


class DiscordFrontend(TeachingCommands, DiscordOutput, Delivery):
    platform = "discord"

    def __init__(self, service: Service, config: DiscordConfig, demo: bool = False) -> None:
        configure_endpoints(config)
        super().__init__(service, demo)  # subscribes to finished jobs
        self.config = config
        self.admins = set(config.admins)
        self.client = ZimeClient(self)
        self.interaction_ttl_s: float = INTERACTION_TTL_S
        self.edit_interval_s = EDIT_INTERVAL_S
        self._live: dict[int, discord.Interaction] = {}
        self._runner: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.client.login(self.config.token)
        self._runner = asyncio.create_task(self.client.connect(reconnect=True))
        self._runner.add_done_callback(_log_connection_end)
        await self.redeliver()

    async def stop(self) -> None:
        self.cancel_tasks()
        await self.client.close()
        if self._runner is not None:
            with contextlib.suppress(Exception, asyncio.CancelledError):
                await asyncio.wait_for(self._runner, 5)

    def request(self, interaction: discord.Interaction, text: str = "", **meta: Any) -> Request:
        channel = interaction.channel
        nsfw = bool(channel is not None and getattr(channel, "is_nsfw", lambda: False)())
        return Request(
            platform="discord",
            user_id=str(interaction.user.id),
            chat_id=str(interaction.channel_id or interaction.user.id),
            text=text,
            language=language(interaction),
            # the safety checker ("groups" mode) is on in guild channels unless marked NSFW
            is_group=interaction.guild_id is not None and not nsfw,
            is_admin=interaction.user.id in self.admins,
            meta=meta,
        )

    def ctx(self, interaction: discord.Interaction, photo: discord.Attachment | None = None) -> Ctx:
        async def fetch() -> bytes:  # photo → picture: validated in the service
            assert photo is not None
            return await download(photo.url, MAX_PHOTO_BYTES, photo.size)

        request = self.request(interaction)
        meta = {"channel_id": interaction.channel_id}

        async def news(event: str, details: dict[str, object]) -> None:  # a training's
            await self.teaching_news(meta, request.user_id, request.language, event, details)

        return Ctx(self.service, request, fetch if photo is not None else None, news)

    # events → the command table and the button registry
    async def on_command(
        self,
        interaction: discord.Interaction,
        name: str,
        raw: str = "",
        photo: discord.Attachment | None = None,
    ) -> None:
        ctx = self.ctx(interaction, photo)
        command = commands.find(name)
        if command is not None and command.admin and ctx.request.is_admin:
            await interaction.response.defer(ephemeral=True, thinking=True)  # a reload is slow
        await self.render(interaction, await commands.run(ctx, name, raw))

    async def on_button(self, interaction: discord.Interaction, data: str) -> None:
        await self.render(interaction, await actions.press(self.ctx(interaction), data))

    async def on_fixed(self, interaction: discord.Interaction, job_id: int, text: str) -> None:
        """✏️ submitted: draw the corrected English prompt."""
        await self.render(interaction, actions.fixed(self.ctx(interaction), job_id, text))

    async def render(self, interaction: discord.Interaction, reply: Reply) -> None:
        lang = language(interaction)
        if reply.start is not None:
            await self.submit(interaction, reply.start)
        elif reply.ask is not None:
            await interaction.response.send_modal(
                FixModal(reply.ask.job_id, reply.ask.prompt, lang)
            )
        elif reply.edit:
            await interaction.response.edit_message(
                content=self.text(reply.text), view=view(reply.buttons)
            )
        elif reply.pictures:
            for picture in reply.pictures:
                await self.send_picture(interaction, picture, reply.buttons)
        else:
            await self.respond(interaction, reply.text or "✓", reply.buttons, reply.preview)
            if reply.remove and interaction.message is not None:
                with contextlib.suppress(discord.HTTPException):
                    await interaction.message.delete()

    def text(self, text: str) -> str:
        return discord.utils.escape_markdown(text)[:2000]

    async def respond(
        self, interaction: discord.Interaction, text: str, rows: Rows = (), preview: bool = True
    ) -> None:
        """A text only the asker sees (Discord answers commands privately in a channel).
        Without a preview, links are written `<url>`: an edited (deferred) answer cannot
        carry the suppress-embeds flag, and a preview would fetch a one-time link."""
        body = self.text(text)
        if not preview:
            body = re.sub(r"(?<!<)(https?://[^\s<>]+)", r"<\1>", body)
        if interaction.response.is_done():
            await interaction.edit_original_response(content=body, view=view(rows))
        else:
            # never a link preview: Discord would fetch a one-time login link (/panelis)
            await interaction.response.send_message(
                body, view=view(rows), ephemeral=True, suppress_embeds=True
            )

    async def send_picture(
        self, interaction: discord.Interaction, picture: Picture, rows: Rows
    ) -> None:
        data = await asyncio.to_thread(read_image, picture.path)
        if data is None:
            await self.respond(interaction, error_text(ZimeError(), language(interaction)))
            return
        file = discord.File(
            io.BytesIO(data), filename=picture.filename or "zime.png", spoiler=picture.spoiler
        )
        if picture.document:  # the PNG, for the asker
            await interaction.response.send_message(file=file, ephemeral=True)
            return
        await interaction.response.send_message(
            self.text(picture.caption), file=file, view=view(rows)
        )

    async def submit(self, interaction: discord.Interaction, start: Start) -> None:
        """A drawing, answered like /zime: "thinking…", the status, then the picture."""
        if not interaction.response.is_done():
            await interaction.response.defer(thinking=True)  # well within Discord's 3 s
        lang = language(interaction)
        meta = {"channel_id": interaction.channel_id, "deferred_at": time.time()}
        try:
            sub = await start(meta)
        except Exception as exc:  # every request ends in an answer, never a lone "thinking…"
            if not isinstance(exc, ZimeError):
                log.exception("request failed")
            text = error_text(exc if isinstance(exc, ZimeError) else ZimeError(), lang)
            with contextlib.suppress(discord.HTTPException):
                await interaction.edit_original_response(content=text)
            return
        self._live[sub.job_id] = interaction

        async def show(text: str, rows: Rows) -> None:
            with contextlib.suppress(discord.HTTPException):
                await interaction.edit_original_response(content=text, view=view(rows))

        self.spawn(follow(sub.handle, lang, show, self.edit_interval_s))

    # delivery (the shared rules are in bot/delivery.py)
    def platform_fault(self, exc: BaseException) -> Fault:
        """Discord's errors: discord.py has already tried a 429 or a 5xx five times, so
        those wait for the next start; a 4xx (a deleted channel, missing access) is
        permanent; a timeout or a dropped connection (not retried by discord.py) is tried
        again here."""
        if isinstance(exc, discord.HTTPException):
            return Fault.RETRIED if exc.status == 429 or exc.status >= 500 else Fault.PERMANENT
        if isinstance(exc, TimeoutError | ConnectionError | aiohttp.ClientError):
            return Fault.TRANSIENT
        return Fault.PERMANENT

    def live(self, job_id: int, deferred_at: float) -> discord.Interaction | None:
        """The live interaction of a job, while its 15-minute token is still good."""
        interaction = self._live.pop(job_id, None)
        return interaction if time.time() - deferred_at < self.interaction_ttl_s else None
