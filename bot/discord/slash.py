"""Discord's slash commands: the typed options Discord shows, turned into the same text a
chat message carries, then run through the one command table (bot/commands.py). Teaching
(/macies …) goes to the teaching mixin. Also the client, its endpoints and localizations."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import discord
import yarl
from discord import app_commands

from bot.discord.views import JobButton
from bot.locale import N_, languages
from bot.texts import t
from core.config import DiscordConfig
from core.lang.styles import Styles

if TYPE_CHECKING:
    from bot.discord.frontend import DiscordFrontend

# Aspect ratio choices of /zime (label, value).
ASPECTS = [("ainava 3:2", "3:2"), ("portrets 2:3", "2:3"), ("kvadrāts 1:1", "1:1"),
           ("plats 16:9", "16:9"), ("augsts 9:16", "9:16")]  # fmt: skip


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
        "Stils": N_("Style"),
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
        "Zīmēt vēlreiz ar jaunu sēklu": N_("Draw a picture again with a new seed"),
        "Zīmēt vēlreiz ar to pašu sēklu": N_("Draw a picture again with its seed"),
        "Zīmējuma numurs no /vesture": N_("A picture number from /vesture"),
        "Rinda un zīmētāji (administratoriem)": N_("The queue and the runners (admins)"),
        "Pārlādēt modeli (administratoriem)": N_("Reload the model (admins)"),
        "Statistika (administratoriem)": N_("Statistics (admins)"),
        "Iemācīt jaunu jēdzienu (administratoriem)": N_("Teach a new concept (admins)"),
        "Foto jaunajam jēdzienam (administratoriem)": N_("A photo of the new concept (admins)"),
        "Sākt mācīšanu (administratoriem)": N_("Start the training (admins)"),
        "Pievienot iemācīto (administratoriem)": N_("Add the trained concept (admins)"),
        "Atmest iemācīto (administratoriem)": N_("Discard the trained concept (admins)"),
        "Bloķēt lietotāju (administratoriem)": N_("Ban a user (admins)"),
        "Atbloķēt lietotāju (administratoriem)": N_("Unban a user (admins)"),
        "Mani zīmējumi tīmekļa lapā": N_("My pictures on a web page"),
        "Vadības panelis, vienreizēja saite (administratoriem)": N_(
            "The dashboard, a one-time link (admins)"
        ),
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
        # mentioned where a result is posted to a channel (see `channel_send`).
        super().__init__(intents=discord.Intents.none(),
                         allowed_mentions=discord.AllowedMentions.none())  # fmt: skip
        self.frontend = frontend
        self.tree = app_commands.CommandTree(self)

    async def setup_hook(self) -> None:
        await self.tree.set_translator(EnglishLocalizations())
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


def register(tree: app_commands.CommandTree[Any], self: DiscordFrontend) -> None:
    """Every slash command; `self` is the frontend that runs them."""
    s = app_commands.locale_str

    @tree.command(name="zime", description=s("Uzzīmēt attēlu pēc latviska apraksta"))
    @app_commands.describe(
        teksts=s("Ko uzzīmēt, piemēram: Vanšu tilts saulrietā"),
        formats=s("Malu attiecība"), ne=s("Ko nezīmēt"), sekla=s("Sēkla (seed)"),
        soli=s("Soļi"), skaits=s("Attēlu skaits (vairāki: režģis)"),
        attels=s("Foto, no kura zīmēt"), stiprums=s("Cik tālu no foto atkāpties (0.1–1)"),
        stils=s("Stils"),
    )  # fmt: skip
    @app_commands.choices(
        formats=[app_commands.Choice(name=n, value=v) for n, v in ASPECTS],
        stils=[app_commands.Choice(name=st.name_lv, value=st.id) for st in Styles.load()],
    )
    async def zime(
        interaction: discord.Interaction, teksts: str, formats: str | None = None,
        ne: str | None = None, sekla: app_commands.Range[int, 0, 2**32 - 1] | None = None,
        soli: app_commands.Range[int, 1, 150] | None = None,
        skaits: app_commands.Range[int, 1, 4] | None = None,
        attels: discord.Attachment | None = None,
        stiprums: app_commands.Range[float, 0.1, 1.0] | None = None,
        stils: str | None = None,
    ) -> None:  # fmt: skip
        # Slash options become the same flags a chat message carries: one parser.
        flags = {"--ar": formats, "--sēkla": sekla, "--soļi": soli, "--skaits": skaits,
                 "--stiprums": stiprums, "--stils": stils}  # fmt: skip
        text = " ".join([teksts, *(f"{k} {v}" for k, v in flags.items() if v is not None)])
        await self.on_command(interaction, "zime", f"{text} --ne {ne}" if ne else text, attels)

    @tree.command(name="vesture", description=s("Mani pēdējie zīmējumi"))
    async def vesture(interaction: discord.Interaction) -> None:
        await self.on_command(interaction, "vesture")

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
        await self.on_command(
            interaction, "iestatijumi",
            " ".join(f"{k}={v}" for k, v in changes.items() if v is not None),
        )  # fmt: skip

    @tree.command(name="atcelt", description=s("Atcelt manus zīmējumus rindā"))
    async def atcelt(interaction: discord.Interaction) -> None:
        await self.on_command(interaction, "atcelt")

    @tree.command(name="velreiz", description=s("Zīmēt vēlreiz ar jaunu sēklu"))
    @app_commands.describe(id=s("Zīmējuma numurs no /vesture"))
    async def velreiz(interaction: discord.Interaction, id: str) -> None:
        await self.on_command(interaction, "velreiz", id)  # checked by the command table

    @tree.command(name="atkartot", description=s("Zīmēt vēlreiz ar to pašu sēklu"))
    @app_commands.describe(id=s("Zīmējuma numurs no /vesture"))
    async def atkartot(interaction: discord.Interaction, id: str) -> None:
        await self.on_command(interaction, "atkartot", id)  # checked by the command table

    @tree.command(name="galerija", description=s("Mani zīmējumi tīmekļa lapā"))
    async def galerija(interaction: discord.Interaction) -> None:
        await self.on_command(interaction, "galerija")

    @tree.command(name="panelis",
                  description=s("Vadības panelis, vienreizēja saite (administratoriem)"))  # fmt: skip
    async def panelis(interaction: discord.Interaction) -> None:
        await self.on_command(interaction, "panelis")

    @tree.command(name="palidziba", description=s("Ko es protu"))
    async def palidziba(interaction: discord.Interaction) -> None:
        await self.on_command(interaction, "palidziba")

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
        await self.on_command(interaction, "reload", modelis or "")

    @tree.command(name="stats", description=s("Statistika (administratoriem)"))
    async def stats(interaction: discord.Interaction) -> None:
        await self.on_command(interaction, "stats")

    @tree.command(name="rinda", description=s("Rinda un zīmētāji (administratoriem)"))
    async def rinda(interaction: discord.Interaction) -> None:
        await self.on_command(interaction, "rinda")

    @tree.command(name="ban", description=s("Bloķēt lietotāju (administratoriem)"))
    async def ban(interaction: discord.Interaction, lietotajs: str) -> None:
        await self.on_command(interaction, "ban", lietotajs)

    @tree.command(name="unban", description=s("Atbloķēt lietotāju (administratoriem)"))
    async def unban(interaction: discord.Interaction, lietotajs: str) -> None:
        await self.on_command(interaction, "unban", lietotajs)
