"""Discord components: one persistent button class for every job action, the ✏️ modal, and
the views that lay them out. Buttons carry `zime:<action>:<job id>[:<image n>]` in their
custom id, so they work after a restart; each press goes to the frontend, which checks the
owner before anything else."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import discord

from bot.texts import t
from core.models import Job

# What a button may ask for (the frontend's `on_button` acts on them):
#   again / redo   draw the prompt again with a new / the same seed
#   info           the details of the drawing (ephemeral)
#   u / v / up     image n alone / variations of image n / image n at 2×
#   orig           the PNG of the result (image n of a grid when n > 0)
#   fix            ✏️: correct the English prompt in a modal and draw that
#   del            🗑: delete the result
ACTIONS = ("again", "redo", "info", "u", "v", "up", "orig", "fix", "del")
PROMPT_LIMIT = 1000  # a corrected prompt; CLIP reads 77 tokens anyway


class Handlers(Protocol):
    async def on_button(
        self, interaction: discord.Interaction, act: str, job_id: int, n: int
    ) -> None: ...

    async def on_fixed(self, interaction: discord.Interaction, job_id: int, text: str) -> None: ...


def handlers(interaction: discord.Interaction) -> Handlers:
    frontend: Handlers = interaction.client.frontend  # type: ignore[attr-defined]
    return frontend


class JobButton(
    discord.ui.DynamicItem[discord.ui.Button[Any]],
    template=r"zime:(?P<act>[a-z]+):(?P<id>\d+)(?::(?P<n>\d+))?",
):
    """Every job button. Ids of earlier versions (`zime:again:5`, `zime:u:5:1`) still match."""

    def __init__(self, act: str, job_id: int, n: int = 0, label: str = "") -> None:
        custom_id = f"zime:{act}:{job_id}" + (f":{n}" if n else "")
        super().__init__(discord.ui.Button(label=label or act, custom_id=custom_id,
                                           style=discord.ButtonStyle.secondary))  # fmt: skip
        self.act, self.job_id, self.n = act, job_id, n

    @classmethod
    async def from_custom_id(
        cls, interaction: discord.Interaction, item: Any, match: Any
    ) -> JobButton:
        return cls(match["act"], int(match["id"]), int(match["n"] or 0))

    async def callback(self, interaction: discord.Interaction) -> None:
        await handlers(interaction).on_button(interaction, self.act, self.job_id, self.n)


class FixModal(discord.ui.Modal):
    """✏️ "Labot tulkojumu": the English prompt, editable; submitting draws the new text."""

    def __init__(self, job_id: int, prompt: str, lang: str) -> None:
        super().__init__(title=t(lang, "Fix the translation")[:45], timeout=15 * 60,
                         custom_id=f"zime:fixed:{job_id}")  # fmt: skip
        self.job_id = job_id
        self.prompt: discord.ui.TextInput[FixModal] = discord.ui.TextInput(
            label=t(lang, "English prompt")[:45], style=discord.TextStyle.paragraph,
            default=prompt[:PROMPT_LIMIT], max_length=PROMPT_LIMIT, custom_id="prompt",
        )  # fmt: skip
        self.add_item(self.prompt)

    async def on_submit(self, interaction: discord.Interaction) -> None:
        await handlers(interaction).on_fixed(interaction, self.job_id, self.prompt.value)


def _view(buttons: Sequence[JobButton]) -> discord.ui.View:
    view = discord.ui.View(timeout=None)
    for button in buttons:
        view.add_item(button)
    return view


def result_view(job_id: int, lang: str, count: int = 1) -> discord.ui.View:
    """Under a result. A grid: U1–U4 and V1–V4; one image: 🔍 2× and 🔀. Then 🔁, ℹ️,
    ✏️ and 🗑."""
    if count > 1:
        first = [JobButton(act, job_id, n, f"{act.upper()}{n}")
                 for act in ("u", "v") for n in range(1, count + 1)]  # fmt: skip
    else:
        first = [JobButton("up", job_id, 1, t(lang, "🔍 2×")),
                 JobButton("v", job_id, 1, t(lang, "🔀 Variations"))]  # fmt: skip
    return _view([*first, JobButton("again", job_id, 0, t(lang, "🔁 Again")),
                  JobButton("info", job_id, 0, t(lang, "ℹ️ Details")),
                  JobButton("fix", job_id, 0, "✏️"), JobButton("del", job_id, 0, "🗑")])  # fmt: skip


def image_view(job_id: int, n: int, lang: str) -> discord.ui.View:
    """Under image n of a grid sent alone (Un): 🔍 2×, 🔀, 📄, ✏️ and 🗑."""
    return _view([JobButton("up", job_id, n, t(lang, "🔍 2×")),
                  JobButton("v", job_id, n, t(lang, "🔀 Variations")),
                  JobButton("orig", job_id, n, t(lang, "📄 Original")),
                  JobButton("fix", job_id, 0, "✏️"), JobButton("del", job_id, 0, "🗑")])  # fmt: skip


def history_view(jobs: Sequence[Job]) -> discord.ui.View:
    """/vesture: for each drawing (10 at most), 🔁 draws it again with its seed and 📄
    sends its PNG."""
    return _view([JobButton(act, job.id, 0, f"{icon} #{job.id}")
                  for job in jobs[:10] for act, icon in (("redo", "🔁"), ("orig", "📄"))])  # fmt: skip
