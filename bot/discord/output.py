"""How the Discord frontend delivers a finished job: to the live interaction while its token
is good, else to the channel (mentioning the user) or, for private results, as a DM. A
mixin of DiscordFrontend."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import TYPE_CHECKING, Any

import discord

from bot.actions import result_buttons
from bot.discord.views import view
from bot.texts import t
from core.jobs.job import Job


class DiscordOutput:
    client: discord.Client

    if TYPE_CHECKING:  # from DiscordFrontend and bot.delivery.Delivery

        def live(self, job_id: int, deferred_at: float) -> discord.Interaction | None: ...

        def caption(self, job: Job, lang: str) -> str: ...

        async def delivered(self, job: Job, **details: Any) -> None: ...

    def _interaction(self, job: Job) -> discord.Interaction | None:
        return self.live(job.id, float(job.meta.get("deferred_at", 0)))

    async def send_failure(self, job: Job, text: str, lang: str) -> None:
        interaction = self._interaction(job)
        if interaction is not None:
            await interaction.edit_original_response(content=text, view=None)
        else:
            await self._channel_send(job.meta, text, job.user_id)

    async def _channel_send(
        self, meta: dict[str, Any], text: str, user_id: str, **kw: Any
    ) -> discord.Message:
        channel = self.client.get_partial_messageable(int(meta["channel_id"]))
        mention = discord.AllowedMentions(
            users=[discord.Object(int(user_id))], roles=False, everyone=False
        )
        return await channel.send(f"<@{int(user_id)}> {text}", allowed_mentions=mention, **kw)

    async def send_image(self, job: Job, lang: str) -> None:
        text = discord.utils.escape_markdown(self.caption(job, lang))
        file = discord.File(
            Path(job.image_path or ""), filename=f"zime-{job.id}.png", spoiler=job.nsfw
        )  # a flagged picture is blurred and a spoiler
        buttons = view(result_buttons(job.id, job.params.count, lang))
        interaction = self._interaction(job)
        private = bool(job.meta.get("private_result"))  # the user's setting, asked in a server
        if interaction is not None:
            # private: an ephemeral followup, which only the requester sees
            await interaction.followup.send(
                content=text[:2000], file=file, view=buttons, ephemeral=private, wait=True
            )
            with contextlib.suppress(discord.HTTPException):  # the status message goes away
                if private:
                    done = t(lang, "Sent to you in a private message.")
                    await interaction.edit_original_response(content=done, view=None)
                else:
                    await interaction.delete_original_response()
        elif private:  # token expired or bot restarted: a direct message
            user = await self.client.fetch_user(int(job.user_id))
            await user.send(content=text[:2000], file=file, view=buttons)
        else:  # token expired or bot restarted: post to the channel and mention the user
            await self._channel_send(job.meta, text[:1900], job.user_id, file=file, view=buttons)
        await self.delivered(job)
