"""Discord frontend (discord.py 2.x): slash commands and buttons → core.Request, Service
results → deferred-response edits and a file attachment in the followup.

Delivery goes through the worker's job listener: a live interaction gets the image as a
followup; when the interaction token has expired (15 minutes) or the bot restarted, the
image is posted to the channel, mentioning the user.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar

import aiohttp
import discord
import yarl
from discord import app_commands

from bot.delivery import Delivery
from bot.discord.teaching import TeachingCommands
from bot.discord.views import FixModal, JobButton, history_view, image_view, result_view
from bot.locale import N_, languages
from bot.texts import (
    caption,
    error_text,
    help_text,
    history_line,
    options_line,
    settings_text,
    stats_text,
    status_text,
    t,
)
from core.config import DiscordConfig
from core.errors import BadPhoto, NotAdmin, NotFound, ZimeError
from core.images import MAX_PHOTO_BYTES
from core.models import Job, Request
from core.queue.worker import JobHandle
from core.service import Service, Submitted

log = logging.getLogger("zime.discord")

INTERACTION_TTL_S = 14 * 60  # Discord tokens live 15 minutes; keep a margin
EDIT_INTERVAL_S = 2.5
COMMAND_NAMES = ("zime", "vesture", "iestatijumi", "atcelt", "palidziba", "reload", "stats",
                 "ban", "unban", "macies", "foto", "gatavs", "pievienot", "atmest")  # fmt: skip


def configure_endpoints(config: DiscordConfig) -> None:
    """THE one place that points discord.py at other endpoints (a REST proxy, or a local
    stand-in in tests): discord.py has no option for its REST base or gateway URL."""
    discord.http.Route.BASE = config.api_base_url.rstrip("/")
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(config.gateway_url)


# Aspect ratio choices of /zime (label, value).
ASPECTS = [("ainava 3:2", "3:2"), ("portrets 2:3", "2:3"), ("kvadrāts 1:1", "1:1"),
           ("plats 16:9", "16:9"), ("augsts 9:16", "9:16")]  # fmt: skip


def code_span(text: str) -> str:
    """`text` as inline code. A backtick in user text would close the span early and let
    what follows render as markdown, so it becomes a look-alike (U+02CB)."""
    return f"`{text.replace('`', 'ˋ')}`"


def language(interaction: discord.Interaction) -> str:
    # Discord has no Latvian client locale: Latvian for everyone whose client language has
    # no catalog of ours (English and Russian clients get theirs).
    code = str(interaction.locale).split("-")[0]
    return code if code in languages() else "lv"


class EnglishLocalizations(app_commands.Translator):
    """Latvian names/descriptions are the defaults; English clients see the English ones
    below, Russian clients their translation from the catalog."""

    ENGLISH: ClassVar[dict[str, str]] = {  # Russian clients get these through the catalog
        "Uzzīmēt attēlu pēc latviska apraksta": N_("Draw a picture from a Latvian description"),
        "Malu attiecība": N_("Aspect ratio"),
        "Ko nezīmēt": N_("What to leave out"),
        "Sēkla (seed)": N_("Seed"),
        "Soļi": N_("Steps"),
        "Attēlu skaits (vairāki: režģis)": N_("Number of images (several: a grid)"),
        "Foto, no kura zīmēt": N_("A photo to draw from"),
        "Cik tālu no foto atkāpties (0.1–1)": N_("How far to move from the photo (0.1–1)"),
        "Ko uzzīmēt, piemēram: Vanšu tilts saulrietā": N_(
            "What to draw, e.g. Vanšu tilts saulrietā"
        ),
        "Mani pēdējie zīmējumi": N_("My latest pictures"),
        "Mani noklusētie iestatījumi": N_("My default settings"),
        "Rezultātus sūtīt privāti, ja jautāju serverī": N_(
            "Send results privately when I ask in a server"
        ),
        "Atbilžu valoda": N_("Language of the answers"),
        "Atcelt manus zīmējumus rindā": N_("Cancel my queued pictures"),
        "Ko es protu": N_("What I can do"),
        "Pārlādēt modeli (administratoriem)": N_("Reload the model (admins)"),
        "Statistika (administratoriem)": N_("Statistics (admins)"),
        "Iemācīt jaunu jēdzienu (administratoriem)": N_("Teach a new concept (admins)"),
        "Foto jaunajam jēdzienam (administratoriem)": N_("A photo of the new concept (admins)"),
        "Sākt mācīšanu (administratoriem)": N_("Start the training (admins)"),
        "Pievienot iemācīto (administratoriem)": N_("Add the trained concept (admins)"),
        "Atmest iemācīto (administratoriem)": N_("Discard the trained concept (admins)"),
        "Bloķēt lietotāju (administratoriem)": N_("Ban a user (admins)"),
        "Atbloķēt lietotāju (administratoriem)": N_("Unban a user (admins)"),
    }

    async def translate(
        self,
        string: app_commands.locale_str,
        locale: discord.Locale,
        context: app_commands.TranslationContextTypes,
    ) -> str | None:
        english = self.ENGLISH.get(string.message)
        code = str(locale).split("-")[0]
        if english is None or code not in languages() or code == "lv":
            return None
        return t(code, english)


class ZimeClient(discord.Client):
    def __init__(self, frontend: DiscordFrontend) -> None:
        # No prompt can ping anyone: mentions are off by default, and only the requester is
        # mentioned where a result is posted to a channel (see `_channel_send`).
        super().__init__(intents=discord.Intents.none(),
                         allowed_mentions=discord.AllowedMentions.none())  # fmt: skip
        self.frontend = frontend
        self.tree = app_commands.CommandTree(self)

    async def setup_hook(self) -> None:
        await self.tree.set_translator(EnglishLocalizations())
        self.frontend.register(self.tree)
        self.add_dynamic_items(JobButton)
        guilds = self.frontend.config.guilds
        if guilds:
            for gid in guilds:
                guild = discord.Object(gid)
                self.tree.copy_global_to(guild=guild)
                await self.tree.sync(guild=guild)
        else:
            await self.tree.sync()


def _log_connection_end(task: asyncio.Task[None]) -> None:
    """A dead gateway connection must be visible: the other frontends keep running."""
    if not task.cancelled() and task.exception() is not None:
        log.error("discord connection ended: %r", task.exception())


def frontend_of(interaction: discord.Interaction) -> DiscordFrontend:
    client = interaction.client
    assert isinstance(client, ZimeClient)
    return client.frontend


class DiscordFrontend(TeachingCommands, Delivery):
    platform = "discord"

    def __init__(self, service: Service, config: DiscordConfig, demo: bool = False) -> None:
        configure_endpoints(config)
        super().__init__(service)  # subscribes to finished jobs
        self.config = config
        self.demo = demo
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

    # commands
    def register(self, tree: app_commands.CommandTree[Any]) -> None:
        s = app_commands.locale_str

        @tree.command(name="zime", description=s("Uzzīmēt attēlu pēc latviska apraksta"))
        @app_commands.describe(
            teksts=s("Ko uzzīmēt, piemēram: Vanšu tilts saulrietā"),
            formats=s("Malu attiecība"), ne=s("Ko nezīmēt"), sekla=s("Sēkla (seed)"),
            soli=s("Soļi"), skaits=s("Attēlu skaits (vairāki: režģis)"),
            attels=s("Foto, no kura zīmēt"), stiprums=s("Cik tālu no foto atkāpties (0.1–1)"),
        )  # fmt: skip
        @app_commands.choices(formats=[app_commands.Choice(name=n, value=v) for n, v in ASPECTS])
        async def zime(
            interaction: discord.Interaction, teksts: str, formats: str | None = None,
            ne: str | None = None, sekla: app_commands.Range[int, 0, 2**32 - 1] | None = None,
            soli: app_commands.Range[int, 1, 150] | None = None,
            skaits: app_commands.Range[int, 1, 4] | None = None,
            attels: discord.Attachment | None = None,
            stiprums: app_commands.Range[float, 0.1, 1.0] | None = None,
        ) -> None:  # fmt: skip
            # Slash options become the same flags a chat message carries: one parser.
            flags = {"--ar": formats, "--sēkla": sekla, "--soļi": soli, "--skaits": skaits,
                     "--stiprums": stiprums}  # fmt: skip
            text = " ".join([teksts, *(f"{k} {v}" for k, v in flags.items() if v is not None)])
            await self.on_zime(interaction, f"{text} --ne {ne}" if ne else text, attels)

        @tree.command(name="vesture", description=s("Mani pēdējie zīmējumi"))
        async def vesture(interaction: discord.Interaction) -> None:
            await self.on_history(interaction)

        @tree.command(name="iestatijumi", description=s("Mani noklusētie iestatījumi"))
        @app_commands.describe(
            skaits=s("Attēlu skaits (vairāki: režģis)"), formats=s("Malu attiecība"),
            privati=s("Rezultātus sūtīt privāti, ja jautāju serverī"),
            valoda=s("Atbilžu valoda"),
        )  # fmt: skip
        @app_commands.choices(
            formats=[app_commands.Choice(name=n, value=v) for n, v in ASPECTS],
            valoda=[app_commands.Choice(name=n, value=v)
                    for n, v in (("latviešu", "lv"), ("русский", "ru"), ("English", "en"))],
        )  # fmt: skip
        async def iestatijumi(
            interaction: discord.Interaction,
            skaits: app_commands.Range[int, 1, 4] | None = None, formats: str | None = None,
            privati: bool | None = None, valoda: str | None = None,
        ) -> None:  # fmt: skip
            # the same `key=value` text as Telegram's /iestatijumi: one parser
            changes = {"skaits": skaits, "formats": formats, "valoda": valoda,
                       "privati": None if privati is None else ("ja" if privati else "ne")}  # fmt: skip
            await self.on_settings(
                interaction, " ".join(f"{k}={v}" for k, v in changes.items() if v is not None)
            )

        @tree.command(name="atcelt", description=s("Atcelt manus zīmējumus rindā"))
        async def atcelt(interaction: discord.Interaction) -> None:
            req = self.request(interaction)
            ids = await self.service.cancel(req)
            await interaction.response.send_message(
                t(req.language, "Cancelled: {n}.", n=len(ids)),
                ephemeral=True,
            )

        @tree.command(name="palidziba", description=s("Ko es protu"))
        async def palidziba(interaction: discord.Interaction) -> None:
            concepts = self.service.known_concepts()
            await interaction.response.send_message(
                help_text(concepts, language(interaction)), ephemeral=True
            )

        @tree.command(name="macies", description=s("Iemācīt jaunu jēdzienu (administratoriem)"))
        async def macies(interaction: discord.Interaction, token: str, klase: str,
                         nosaukums: str) -> None:  # fmt: skip
            await self.on_teach(interaction, "macies", [token, klase, *nosaukums.split()])

        @tree.command(name="foto", description=s("Foto jaunajam jēdzienam (administratoriem)"))
        async def foto(interaction: discord.Interaction, attels: discord.Attachment) -> None:
            await self.on_teach(interaction, "foto", [], attels)

        @tree.command(name="gatavs", description=s("Sākt mācīšanu (administratoriem)"))
        async def gatavs(interaction: discord.Interaction) -> None:
            await self.on_teach(interaction, "gatavs", [])

        @tree.command(name="pievienot", description=s("Pievienot iemācīto (administratoriem)"))
        async def pievienot(interaction: discord.Interaction, token: str) -> None:
            await self.on_teach(interaction, "pievienot", [token])

        @tree.command(name="atmest", description=s("Atmest iemācīto (administratoriem)"))
        async def atmest(interaction: discord.Interaction, token: str) -> None:
            await self.on_teach(interaction, "atmest", [token])

        @tree.command(name="reload", description=s("Pārlādēt modeli (administratoriem)"))
        async def reload(interaction: discord.Interaction, modelis: str | None = None) -> None:
            await self.admin(interaction, "reload", modelis)

        @tree.command(name="stats", description=s("Statistika (administratoriem)"))
        async def stats(interaction: discord.Interaction) -> None:
            await self.admin(interaction, "stats", None)

        @tree.command(name="ban", description=s("Bloķēt lietotāju (administratoriem)"))
        async def ban(interaction: discord.Interaction, lietotajs: str) -> None:
            await self.admin(interaction, "ban", lietotajs)

        @tree.command(name="unban", description=s("Atbloķēt lietotāju (administratoriem)"))
        async def unban(interaction: discord.Interaction, lietotajs: str) -> None:
            await self.admin(interaction, "unban", lietotajs)

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

    async def on_zime(
        self, interaction: discord.Interaction, text: str, photo: discord.Attachment | None = None
    ) -> None:
        await interaction.response.defer(thinking=True)  # well within Discord's 3 s
        meta = {"channel_id": interaction.channel_id,
                "deferred_at": time.time()}  # fmt: skip

        async def start() -> Submitted:
            data = None
            if photo is not None:  # photo → picture: validated in the service
                if photo.size > MAX_PHOTO_BYTES:
                    raise BadPhoto("too_big")
                data = await photo.read()
            request = replace(self.request(interaction, text, **meta), photo=data)
            return await self.service.handle(request)

        await self._submit(interaction, start())

    async def _submit(self, interaction: discord.Interaction, start: Any) -> None:
        lang = language(interaction)
        try:
            sub: Submitted = await start
        except Exception as exc:  # every request ends in an answer, never a lone "thinking…"
            if not isinstance(exc, ZimeError):
                log.exception("request failed")
            text = error_text(exc if isinstance(exc, ZimeError) else ZimeError(), lang)
            with contextlib.suppress(discord.HTTPException):
                await interaction.edit_original_response(content=text)
            return
        self._live[sub.job_id] = interaction
        self.spawn(self._edit_status(interaction, sub.handle, lang))

    async def _edit_status(self, interaction: discord.Interaction, h: JobHandle, lang: str) -> None:
        last = ""
        while not h.finished:
            text = status_text(h, lang)
            if text != last:
                last = text
                with contextlib.suppress(discord.HTTPException):
                    await interaction.edit_original_response(content=text)
                await asyncio.sleep(self.edit_interval_s)  # respect rate limits
            await h.wait_changed(self.edit_interval_s)

    async def on_history(self, interaction: discord.Interaction) -> None:
        req = self.request(interaction)
        items = await self.service.history(req, 10)
        lines = [history_line(i, discord.utils.escape_markdown(i.request_text)[:80]) for i in items]
        if not items:
            await interaction.response.send_message(t(req.language, "No history yet."),
                                                    ephemeral=True)  # fmt: skip
            return
        await interaction.response.send_message("\n".join(lines), view=history_view(items),
                                                ephemeral=True)  # fmt: skip

    async def on_settings(self, interaction: discord.Interaction, changes: str) -> None:
        """/iestatijumi: show the user's defaults, or change the ones given (ephemeral)."""
        req = self.request(interaction)
        try:
            if changes:
                settings = await self.service.update_settings(req, changes)
            else:
                settings = await self.service.settings(req)
            text = settings_text(settings, settings.get("language") or req.language)
        except ZimeError as exc:
            text = error_text(exc, req.language)
        await interaction.response.send_message(text, ephemeral=True)

    async def admin(self, interaction: discord.Interaction, command: str, arg: str | None) -> None:
        req = self.request(interaction)
        if not req.is_admin:
            await interaction.response.send_message(
                error_text(NotAdmin(), req.language), ephemeral=True
            )
            return
        await interaction.response.defer(ephemeral=True, thinking=True)
        try:
            if command == "reload":
                model = await self.service.reload(req, arg)
                text = t(req.language, "Model loaded: {model}", model=model)
            elif command == "stats":
                text = stats_text(await self.service.stats(req), req.language)
            else:
                await self.service.set_banned(req, "discord", str(arg), command == "ban")
                text = t(req.language, "Done.")
        except ZimeError as exc:
            text = error_text(exc, req.language)
        await interaction.edit_original_response(content=text)

    # buttons: only the requester or an admin
    async def _owned(self, interaction: discord.Interaction, job_id: int) -> Job | None:
        req = self.request(interaction)
        try:
            await self.service.check_owner(job_id, req)
        except NotFound:
            text = t(req.language, "Only the author of this picture can use this button.")  # fmt: skip
            await interaction.response.send_message(text, ephemeral=True)
            return None
        return await self.service.job(job_id)

    async def on_button(
        self, interaction: discord.Interaction, act: str, job_id: int, n: int
    ) -> None:
        """Every job button (see views.ACTIONS), for the author or an admin only."""
        if await self._owned(interaction, job_id) is None:
            return
        req = self.request(interaction)
        try:
            if act in ("again", "redo"):
                await self._draw(interaction, lambda r: self.service.again(
                    job_id, r, same_seed=act == "redo"))  # fmt: skip
            elif act in ("v", "up"):
                derive = self.service.variation if act == "v" else self.service.upscale
                await self._draw(interaction, lambda r: derive(job_id, n, r))
            elif act == "u":
                job, path = await self.service.grid_image(job_id, n, req)
                data = await asyncio.to_thread(Path(path).read_bytes)
                file = discord.File(io.BytesIO(data), filename=f"zime-{job_id}-{n}.png",
                                    spoiler=job.nsfw)  # fmt: skip
                await interaction.response.send_message(
                    f"U{n} · Seed: {job.params.image_seed(n)}", file=file,
                    view=image_view(job_id, n, req.language),
                )  # fmt: skip
            elif act == "orig":
                path = (await self.service.grid_image(job_id, n, req))[1] if n else (
                    await self.service.original(job_id, req))  # fmt: skip
                data = await asyncio.to_thread(Path(path).read_bytes)
                name = f"zime-{job_id}{f'-{n}' if n else ''}.png"
                await interaction.response.send_message(
                    file=discord.File(io.BytesIO(data), filename=name), ephemeral=True
                )
            elif act == "fix":
                prompt = await self.service.prompt_to_fix(job_id, req)
                await interaction.response.send_modal(FixModal(job_id, prompt, req.language))
            elif act == "info":
                await self.on_details(interaction, job_id)
            elif act == "del":
                await self.service.delete(job_id, req)
                await interaction.response.send_message(t(req.language, "Deleted."),
                                                        ephemeral=True)  # fmt: skip
                if interaction.message is not None:
                    with contextlib.suppress(discord.HTTPException):
                        await interaction.message.delete()
            else:
                raise NotFound(f"button {act}")
        except (ZimeError, OSError) as exc:  # a deleted file is gone like a deleted job
            error = exc if isinstance(exc, ZimeError) else NotFound(f"job {job_id}")
            if not interaction.response.is_done():
                await interaction.response.send_message(error_text(error, req.language),
                                                        ephemeral=True)  # fmt: skip

    async def on_fixed(self, interaction: discord.Interaction, job_id: int, text: str) -> None:
        """✏️ submitted: draw the corrected English prompt."""
        await self._draw(interaction, lambda r: self.service.draw_fixed(job_id, text, r))

    async def _draw(
        self, interaction: discord.Interaction, start: Callable[[Request], Awaitable[Submitted]]
    ) -> None:
        """A drawing started by a button or the modal: answered like /zime."""
        await interaction.response.defer(thinking=True)
        meta = {"channel_id": interaction.channel_id, "deferred_at": time.time()}
        await self._submit(interaction, start(self.request(interaction, "", **meta)))

    async def on_details(self, interaction: discord.Interaction, job_id: int) -> None:
        job = await self._owned(interaction, job_id)
        if job is None:
            return
        names = ", ".join(self.service.concept_names(job.concepts)) or "—"
        text = t(language(interaction),
                 "**Text:** {text}\n**Prompt:** `{prompt}`\n**Concepts:** {concepts}\n"
                 "**Seed:** {seed} · **Steps:** {steps} · **Model:** {model}",
                 text=discord.utils.escape_markdown(job.request_text),
                 prompt=job.prompt.replace("`", "ˋ"), concepts=names, seed=job.seed,
                 steps=job.params.steps, model=job.model)  # fmt: skip
        await interaction.response.send_message(text[:2000], ephemeral=True)

    # delivery (the shared rules are in bot/delivery.py)
    def retryable(self, exc: BaseException) -> bool:
        """THE place Discord errors are classified: 429 and 5xx, timeouts and dropped
        connections are worth another try; 4xx (a deleted channel, missing access) are not."""
        if isinstance(exc, discord.HTTPException):
            return exc.status == 429 or exc.status >= 500
        return isinstance(exc, TimeoutError | OSError | aiohttp.ClientError)

    def _interaction(self, job: Job) -> discord.Interaction | None:
        """The live interaction of a job, while its 15-minute token is still good."""
        interaction = self._live.pop(job.id, None)
        fresh = time.time() - float(job.meta.get("deferred_at", 0)) < self.interaction_ttl_s
        return interaction if fresh else None

    async def send_failure(self, job: Job, text: str, lang: str) -> None:
        interaction = self._interaction(job)
        if interaction is not None:
            await interaction.edit_original_response(content=text)
        else:
            await self._channel_send(job.meta, text, job.user_id)

    async def _channel_send(
        self, meta: dict[str, Any], text: str, user_id: str, **kw: Any
    ) -> discord.Message:
        channel = self.client.get_partial_messageable(int(meta["channel_id"]))
        mention = discord.AllowedMentions(users=[discord.Object(int(user_id))], roles=False,
                                          everyone=False)  # fmt: skip
        return await channel.send(f"<@{int(user_id)}> {text}", allowed_mentions=mention, **kw)

    async def send_image(self, job: Job, lang: str) -> None:
        names = self.service.concept_names(job.concepts)
        options = options_line(job.options, job.params.count, job.params.steps, lang)
        text = caption(code_span(job.prompt), names, job.seed, lang, self.demo, job.nsfw, options)
        file = discord.File(
            Path(job.image_path or ""), filename=f"zime-{job.id}.png", spoiler=job.nsfw
        )  # a flagged picture is blurred and a spoiler
        view = result_view(job.id, lang, job.params.count)
        interaction = self._interaction(job)
        private = bool(job.meta.get("private_result"))  # the user's setting, asked in a server
        if interaction is not None:
            # private: an ephemeral followup, which only the requester sees
            await interaction.followup.send(content=text[:2000], file=file, view=view,
                                            ephemeral=private, wait=True)  # fmt: skip
            with contextlib.suppress(discord.HTTPException):  # the status message goes away
                if private:
                    done = t(lang, "Sent to you in a private message.")
                    await interaction.edit_original_response(content=done)
                else:
                    await interaction.delete_original_response()
        elif private:  # token expired or bot restarted: a direct message
            user = await self.client.fetch_user(int(job.user_id))
            await user.send(content=text[:2000], file=file, view=view)
        else:  # token expired or bot restarted: post to the channel and mention the user
            await self._channel_send(job.meta, text[:1900], job.user_id, file=file, view=view)
        await self.delivered(job)
