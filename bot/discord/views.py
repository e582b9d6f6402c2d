"""Discord components: one persistent button class for every action of the one registry
(bot/actions.py), the ✏️ modal, and neutral button rows as a view. A button's custom id is
its callback data (`z1:u:5:1`; Discord's first ids `zime:u:5:1` still match), so it works
after a restart; each press goes to the frontend, which runs it through the registry."""

from __future__ import annotations

from typing import Any, Protocol

import discord

from bot.message import Rows
from bot.texts import t

PROMPT_LIMIT = 1000  # a corrected prompt; CLIP reads 77 tokens anyway


class Handlers(Protocol):
    async def on_button(self, interaction: discord.Interaction, data: str) -> None: ...

    async def on_fixed(self, interaction: discord.Interaction, job_id: int, text: str) -> None: ...


def handlers(interaction: discord.Interaction) -> Handlers:
    frontend: Handlers = interaction.client.frontend  # type: ignore[attr-defined]
    return frontend


class JobButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"(?P<data>(?:z1|zime):[^\s]{1,90})",
):
    """Every button: its custom id is the action's callback data."""

    def __init__(self, data: str, label: str = "") -> None:
        super().__init__(
            discord.ui.Button(
                label=label or data, custom_id=data, style=discord.ButtonStyle.secondary
            )
        )
        self.data = data

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: Any, match: Any
    ) -> JobButton:
        return cls(match["data"])

    async def callback(self, interaction: discord.Interaction) -> None:
        await handlers(interaction).on_button(interaction, self.data)


class FixModal(discord.ui.Modal):
    """✏️ "Labot tulkojumu": the English prompt, editable; submitting draws the new text."""

    def __init__(self, job_id: int, prompt: str, lang: str) -> None:
        super().__init__(
            title=t(lang, "Fix the translation")[:45],
            timeout=15 * 60,
            custom_id=f"zime:fixed:{job_id}",
        )
        self.job_id = job_id
        self.prompt: discord.ui.TextInput[FixModal] = discord.ui.TextInput(
            label=t(lang, "English prompt")[:45],
            style=discord.TextStyle.paragraph,
            default=prompt[:PROMPT_LIMIT],
            max_length=PROMPT_LIMIT,
            custom_id="prompt",
        )
        self.add_item(self.prompt)

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await handlers(interaction).on_fixed(interaction, self.job_id, self.prompt.value)


def view(rows: Rows) -> discord.ui.View:
    """Neutral button rows as a persistent view (discord.py lays them out, 5 to a row; a
    message holds 25 at most)."""
    out = discord.ui.View(timeout=None)
    for button in [b for row in rows for b in row][:25]:
        if button.url:  # a link (a Mini App opens as a plain link here)
            out.add_item(discord.ui.Button(label=button.label, url=button.url))
        else:
            out.add_item(JobButton(button.data, button.label))
    return out
