"""Discord's slash commands, generated from the one command table (bot/commands.py): each
command's Latvian name, its description and its typed options come from there, with the
descriptions in Latvian by default and in English and Russian from the same catalogs as
every other text. A slash command's options become the same text a chat message carries
(`Command.text_of`) and run through `commands.run`. Also the client and its endpoints."""

from __future__ import annotations

import inspect
from typing import TYPE_CHECKING, Any

import discord
import yarl
from discord import app_commands

from bot import commands
from bot.arguments import PHOTO, Command, Option
from bot.discord.views import JobButton
from bot.locale import languages
from bot.texts import t
from core.config import DiscordConfig

if TYPE_CHECKING:
    from bot.discord.frontend import DiscordFrontend

DESCRIPTION_MAX = 100  # Discord's limit for a command's or an option's description


def configure_endpoints(config: DiscordConfig) -> None:
    """THE one place that points discord.py at other endpoints (a REST proxy, or a local
    stand-in in tests): discord.py has no option for its REST base or gateway URL."""
    discord.http.Route.BASE = config.api_base_url.rstrip("/")
    discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(config.gateway_url)


def language(interaction: discord.Interaction) -> str:
    # Discord has no Latvian client locale: Latvian for everyone whose client language has
    # no catalog of ours (English and Russian clients get theirs).
    code = str(interaction.locale).split("-")[0]
    return code if code in languages() else "lv"


def described(msgid: str) -> app_commands.locale_str:
    """A description: Latvian by default (Discord has no Latvian locale), the English msgid
    kept for the translator."""
    return app_commands.locale_str(t("lv", msgid)[:DESCRIPTION_MAX], msgid=msgid)


class CatalogLocalizations(app_commands.Translator):
    """English and Russian clients see the descriptions from the catalogs (bot/locale)."""

    async def translate(
        self,
        string: app_commands.locale_str,
        locale: discord.Locale,
        context: app_commands.TranslationContextTypes,
    ) -> str | None:
        msgid = string.extras.get("msgid")
        code = str(locale).split("-")[0]
        if not msgid or code not in languages() or code == "lv":
            return None
        return t(code, msgid)[:DESCRIPTION_MAX]


class ZimeClient(discord.Client):
    def __init__(self, frontend: DiscordFrontend) -> None:
        # No prompt can ping anyone: mentions are off by default, and only the requester is
        # mentioned where a result is posted to a channel (see `channel_send`).
        super().__init__(
            intents=discord.Intents.none(), allowed_mentions=discord.AllowedMentions.none()
        )
        self.frontend = frontend
        self.tree = app_commands.CommandTree(self)

    async def setup_hook(self) -> None:
        await self.tree.set_translator(CatalogLocalizations())
        register(self.tree, self.frontend)
        self.add_dynamic_items(JobButton)
        guilds = self.frontend.config.guilds
        if guilds:
            for gid in guilds:
                guild = discord.Object(gid)
                self.tree.copy_global_to(guild=guild)
                await self.tree.sync(guild=guild)
        else:
            await self.tree.sync()


def register(tree: app_commands.CommandTree[Any], frontend: DiscordFrontend) -> None:
    """Every command of the table as a slash command, run by `frontend`."""
    for command in commands.COMMANDS:
        tree.add_command(slash_command(command, frontend))


def _annotation(option: Option) -> Any:
    if option.type == PHOTO:
        kind: Any = discord.Attachment
    elif option.type in (int, float) and option.low is not None and option.high is not None:
        kind = app_commands.Range[option.type, option.low, option.high]
    else:
        kind = option.type
    return kind if option.required else kind | None


def slash_command(
    command: Command, frontend: DiscordFrontend
) -> app_commands.Command[Any, ..., None]:
    """One command of the table as a Discord slash command: its options typed, described
    and with their choices, its callback turning their values into the chat text."""
    options = command.typed_options()
    photo = next((o.name for o in options if o.type == PHOTO), None)

    async def callback(interaction: discord.Interaction, **values: Any) -> None:
        attachment = values.get(photo) if photo else None
        await frontend.on_command(interaction, command.name, command.text_of(values), attachment)

    keyword = inspect.Parameter.KEYWORD_ONLY
    params = [
        inspect.Parameter(
            "interaction", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=discord.Interaction
        )
    ]
    for o in options:
        default = inspect.Parameter.empty if o.required else None
        params.append(
            inspect.Parameter(o.name, keyword, default=default, annotation=_annotation(o))
        )
    callback.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    if options:
        app_commands.describe(**{o.name: described(o.description) for o in options})(callback)
    choices = {
        o.name: [app_commands.Choice(name=label, value=value) for label, value in o.choices]
        for o in options
        if o.choices
    }
    if choices:
        app_commands.choices(**choices)(callback)
    command_: app_commands.Command[Any, ..., None] = app_commands.Command(
        name=command.name,
        description=described(command.description),
        callback=callback,
    )
    for option in options:
        if option.complete == "models":
            command_.autocomplete(option.name)(_complete_models(frontend))
    return command_


def _complete_models(frontend: DiscordFrontend) -> Any:
    async def complete(
        interaction: discord.Interaction, current: str
    ) -> list[app_commands.Choice[str]]:
        """The catalogue's models whose name, alias or display name has what is typed."""
        return [
            app_commands.Choice(name=f"{name} — {shown}"[:100], value=name)
            for name, shown in frontend.service.model_choices(current)
        ][:25]

    return complete
