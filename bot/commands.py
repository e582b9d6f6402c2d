"""THE command table: every chat command, once, for every frontend.

Each command has its names (Latvian first, then the Russian and English aliases), its typed
arguments, the typed options a platform with typed commands shows (Discord's slash commands
are generated from them: bot/discord/slash.py), who may run it, the `Service` call, and its
reply as a neutral `Reply` (bot/message.py). Telegram, Discord and the console only turn
their events into `run(ctx, name, args)` and render what comes back. Teaching a concept
(/macies, /foto, /gatavs, /pievienot, /atmest) is here too: its photos come through
`Ctx.photo`, its progress through `Ctx.news`.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace

from bot.actions import draw, history_buttons, settings_buttons
from bot.locale import N_
from bot.message import Button, Ctx, Reply
from bot.teaching import finish_teaching
from bot.texts import (
    error_text,
    help_text,
    history_line,
    runners_text,
    settings_text,
    stats_text,
    t,
    teaching_text,
)
from core.errors import BadArgument, EmptyPrompt, NotAdmin, PrivateOnly, ZimeError
from core.lang.styles import Styles
from core.logins import ADMIN, GALLERY
from core.service import Submitted

log = logging.getLogger("zime.commands")

Run = Callable[[Ctx, "Args"], Awaitable[Reply]]


@dataclass(frozen=True)
class Arg:
    name: str
    kind: str  # text | job | user | word
    required: bool = False
    what: str = ""  # English msgid for an error sentence ("a picture number")
    example: str = ""


@dataclass(frozen=True)
class Args:
    """A command's arguments, checked against its `Arg`s."""

    text: str = ""
    job: int = 0
    user: tuple[str, str] = ("", "")  # (platform, user id)
    word: str = ""


PHOTO = "photo"  # an Option's type: a picture the user attaches


@dataclass(frozen=True)
class Option:
    """One typed option of a command, as a platform with typed commands shows it (Discord's
    slash options). Its value becomes the same text a chat message carries: `as_text` with
    the value in it (a flag `--ar {}`, a setting `skaits={}`, or the text itself `{}`), so one
    parser reads both."""

    name: str  # Latvian, ASCII: what Discord shows
    description: str  # English msgid
    type: type | str = str  # str | int | float | bool | PHOTO
    as_text: str = "{}"
    required: bool = False
    choices: tuple[tuple[str, str], ...] = ()  # (label, value)
    low: float | None = None  # a number's range
    high: float | None = None


@dataclass(frozen=True)
class Command:
    names: tuple[str, ...]  # Latvian first, then aliases (ru in Latin letters, en)
    description: str  # English msgid: menus, /palidziba and Discord's command list
    run: Run
    args: tuple[Arg, ...] = ()
    admin: bool = False
    menu: bool = True  # listed in the platform's command menu
    options: tuple[Option, ...] = ()  # typed options; none: one per argument

    @property
    def name(self) -> str:
        return self.names[0]

    def typed_options(self) -> tuple[Option, ...]:
        """The typed options (Discord's): `options`, or one text option per argument."""
        if self.options:
            return self.options
        return tuple(
            Option(a.name, a.what or self.description, required=a.required) for a in self.args
        )

    def text_of(self, values: dict[str, object]) -> str:
        """Typed option values as the text after the command in a chat message (options
        without a value are left out; a photo travels apart, in `Ctx.photo`)."""
        parts = []
        for option in self.typed_options():
            value = values.get(option.name)
            if value is None or option.type == PHOTO:
                continue
            if isinstance(value, bool):
                value = "ja" if value else "ne"
            parts.append(option.as_text.format(value))
        return " ".join(parts)


_JOB = re.compile(r"#?([0-9]{1,18})")


def parse_args(command: Command, raw: str, platform: str) -> Args:
    """`raw` (the text after the command) as the command's arguments; a bad one raises
    BadArgument naming the command, what it takes and an example."""
    raw = raw.strip()
    args = Args(text=raw)
    for arg in command.args:
        if not raw:
            if arg.required:
                raise BadArgument(f"/{command.name}", arg.what, arg.example)
            continue
        if arg.kind == "job":
            m = _JOB.fullmatch(raw)
            if m is None or int(m[1]) == 0:
                raise BadArgument(f"/{command.name}", arg.what, arg.example)
            args = Args(text=raw, job=int(m[1]))
        elif arg.kind == "user":
            where, sep, who = raw.partition(":")
            user = (where, who) if sep else (platform, raw)
            if not user[1] or " " in raw:
                raise BadArgument(f"/{command.name}", arg.what, arg.example)
            args = Args(text=raw, user=user)
        elif arg.kind == "word":
            if " " in raw:
                raise BadArgument(f"/{command.name}", arg.what, arg.example)
            args = Args(text=raw, word=raw)
    return args


# the commands
async def _zime(ctx: Ctx, args: Args) -> Reply:
    text = args.text
    if not text.strip():  # a usage hint, nothing queued
        raise EmptyPrompt()

    async def start(c: Ctx) -> Submitted:
        photo = await c.photo() if c.photo is not None else c.request.photo
        return await c.service.handle(replace(c.request, text=text, photo=photo))

    return draw(ctx, start)


async def _help(ctx: Ctx, args: Args) -> Reply:
    return Reply(text=help_text(ctx.service.known_concepts(), ctx.lang))


async def _history(ctx: Ctx, args: Args) -> Reply:
    items = await ctx.service.history(ctx.request, 10)
    if not items:
        return Reply(text=t(ctx.lang, "No history yet."))
    lines = [history_line(item, ctx.lang) for item in items]
    return Reply(text="\n".join(lines), buttons=history_buttons(items))


async def _settings(ctx: Ctx, args: Args) -> Reply:
    """/iestatijumi [skaits=4 formats=3:2 privāti=jā valoda=ru]"""
    svc = ctx.service
    if args.text:
        settings = await svc.update_settings(ctx.request, args.text)
    else:
        settings = await svc.settings(ctx.request)
    lang = str(settings.get("language") or ctx.lang)
    return Reply(
        text=settings_text(settings, lang),
        buttons=settings_buttons(ctx.request.user_id, settings, lang),
    )


async def _cancel(ctx: Ctx, args: Args) -> Reply:
    ids = await ctx.service.cancel(ctx.request)
    return Reply(text=t(ctx.lang, "Cancelled: {n}.", n=len(ids)))


def _again(same_seed: bool) -> Run:
    async def again(ctx: Ctx, args: Args) -> Reply:
        await ctx.service.check_owner(args.job, ctx.request)
        return draw(ctx, lambda c: c.service.again(args.job, c.request, same_seed=same_seed))

    return again


async def _stats(ctx: Ctx, args: Args) -> Reply:
    return Reply(text=stats_text(await ctx.service.stats(ctx.request), ctx.lang))


async def _queue(ctx: Ctx, args: Args) -> Reply:
    rows = ctx.service.queue(ctx.request)
    text = "\n".join(f"{i}. #{j} {u}: {p[:60]}" for i, (j, u, p) in enumerate(rows, 1))
    runners = runners_text(ctx.service.runners(ctx.request), ctx.lang)
    return Reply(
        text="\n".join(x for x in (text or t(ctx.lang, "The queue is empty."), runners) if x)
    )


async def _reload(ctx: Ctx, args: Args) -> Reply:
    model = await ctx.service.reload(ctx.request, args.word or None)
    return Reply(text=t(ctx.lang, "Model loaded: {model}", model=model))


def _ban(banned: bool) -> Run:
    async def ban(ctx: Ctx, args: Args) -> Reply:
        platform, user = args.user
        await ctx.service.set_banned(ctx.request, platform, user, banned)
        return Reply(text=t(ctx.lang, "Done."))

    return ban


def _personal(ctx: Ctx) -> None:
    """A one-time link is for its asker alone. Discord answers commands privately
    (ephemeral) everywhere; a Telegram group would show it to everyone."""
    if ctx.request.is_group and ctx.request.platform == "telegram":
        raise PrivateOnly()


async def _panel(ctx: Ctx, args: Args) -> Reply:
    """/panelis: a one-time link to the operator's dashboard."""
    _personal(ctx)
    link = ctx.service.login_link(ctx.request, ADMIN)
    text = t(ctx.lang, "The dashboard (the link works once, for 10 minutes): {link}", link=link)
    return Reply(text=text, private=True, preview=False)


async def _gallery(ctx: Ctx, args: Args) -> Reply:
    """/galerija: in a Telegram private chat, a button that opens the gallery as a Mini App
    (Telegram opens https pages only); anywhere else a one-time link to it."""
    _personal(ctx)
    app = ctx.service.app_url()
    if ctx.request.platform == "telegram" and app.startswith("https://"):
        button = Button(t(ctx.lang, "🖼 Open the gallery"), url=app, web_app=True)
        return Reply(text=t(ctx.lang, "Your pictures:"), buttons=((button,),), private=True)
    link = ctx.service.login_link(ctx.request, GALLERY)
    text = t(ctx.lang, "Your gallery (the link works once, for 10 minutes): {link}", link=link)
    return Reply(text=text, private=True, preview=False)


# teaching a concept (admins); the rules are in core/train/session.py
async def _teach_start(ctx: Ctx, args: Args) -> Reply:
    """/macies TOKEN KLASE Latvian name: a teaching session; photos follow."""
    session = ctx.service.teach_start(ctx.request, args.text.split())
    text, _ = teaching_text(
        "started", {"name": session.name_lv, "cls": session.cls, "token": session.token}, ctx.lang
    )
    return Reply(text=text, private=True)


async def _teach_photo(ctx: Ctx, args: Args) -> Reply:
    """/foto with a photo (Discord), or a photo sent while teaching (Telegram)."""
    if ctx.photo is None:
        raise BadArgument("/foto", N_("a photo"), "/foto + 📎")
    count = await ctx.service.teach_photo(ctx.request, await ctx.photo())
    return Reply(text=t(ctx.lang, "Photo {n} saved.", n=count), private=True)


async def _teach_ready(ctx: Ctx, args: Args) -> Reply:
    """/gatavs: the training is queued; its progress and results come through `ctx.news`."""

    async def quiet(event: str, details: dict[str, object]) -> None:
        log.info("teaching %s: %s", event, details.get("token", ""))

    session = ctx.service.teach_ready(ctx.request, ctx.news or quiet)
    text, _ = teaching_text("queued", {"token": session.token}, ctx.lang)
    return Reply(text=text, private=True)


def _teach_finish(command: str) -> Run:
    async def finish(ctx: Ctx, args: Args) -> Reply:
        text = await finish_teaching(ctx.service, ctx.request, command, args.text.split())
        return Reply(text=text, private=True)

    return finish


_PICTURE = Arg("id", "job", True, N_("a picture number from /vesture"), "/velreiz 12")
_USER = Arg("lietotajs", "user", True, N_("a user id"), "/ban 123456")
_TOKEN = Arg("token", "word", True, N_("the concept's token"), "/pievienot rigasdoms")
ASPECTS = (
    ("ainava 3:2", "3:2"),
    ("portrets 2:3", "2:3"),
    ("kvadrāts 1:1", "1:1"),
    ("plats 16:9", "16:9"),
    ("augsts 9:16", "9:16"),
)
LANGUAGES = (("latviešu", "lv"), ("русский", "ru"), ("English", "en"))
_COUNT = Option(
    "skaits", N_("Number of images (several: a grid)"), int, "--skaits {}", low=1, high=4
)
ZIME_OPTIONS = (
    Option("teksts", N_("What to draw, e.g. Vanšu tilts saulrietā"), required=True),
    Option("formats", N_("Aspect ratio"), str, "--ar {}", choices=ASPECTS),
    Option("ne", N_("What to leave out"), str, "--ne {}"),
    Option("sekla", N_("Seed"), int, "--sēkla {}", low=0, high=2**32 - 1),
    Option("soli", N_("Steps"), int, "--soļi {}", low=1, high=150),
    _COUNT,
    Option("attels", N_("A photo to draw from"), PHOTO),
    Option(
        "stiprums",
        N_("How far to move from the photo (0.1–1)"),
        float,
        "--stiprums {}",
        low=0.1,
        high=1.0,
    ),
    Option(
        "stils",
        N_("Style"),
        str,
        "--stils {}",
        choices=tuple((s.name_lv, s.id) for s in Styles.load()),
    ),
)
SETTINGS_OPTIONS = (
    Option(_COUNT.name, _COUNT.description, int, "skaits={}", low=1, high=4),
    Option("formats", N_("Aspect ratio"), str, "formats={}", choices=ASPECTS),
    Option("privati", N_("Send results privately when I ask in a server"), bool, "privati={}"),
    Option("valoda", N_("Language of the answers"), str, "valoda={}", choices=LANGUAGES),
)
TEACH_OPTIONS = (
    Option("token", N_("The new concept's token, e.g. rigasdoms"), required=True),
    Option("klase", N_("Its class, e.g. building"), required=True),
    Option("nosaukums", N_("Its Latvian name, e.g. Rīgas Doms"), required=True),
)

COMMANDS: tuple[Command, ...] = (
    Command(
        ("zime", "risuj", "draw"),
        N_("Draw a picture: /zime Vanšu tilts saulrietā"),
        _zime,
        (Arg("teksts", "text"),),
        options=ZIME_OPTIONS,
    ),
    Command(("vesture", "istorija", "history"), N_("My latest pictures"), _history),
    Command(
        ("iestatijumi", "nastroiki", "settings"),
        N_("My settings: count, aspect, private, language"),
        _settings,
        (Arg("changes", "text"),),
        options=SETTINGS_OPTIONS,
    ),
    Command(("atcelt", "otmena", "cancel"), N_("Cancel my queued pictures"), _cancel),
    Command(
        ("velreiz", "esche", "again"),
        N_("Draw a picture again with a new seed"),
        _again(False),
        (_PICTURE,),
    ),
    Command(
        ("atkartot", "povtor", "redo"),
        N_("Draw a picture again with its seed"),
        _again(True),
        (Arg("id", "job", True, _PICTURE.what, "/atkartot 12"),),
    ),
    Command(("galerija", "galereja", "gallery"), N_("My pictures on a web page"), _gallery),
    Command(("palidziba", "pomosch", "help", "start"), N_("What I can do"), _help),
    Command(("stats", "statistika"), N_("Statistics (admins)"), _stats, admin=True, menu=False),
    Command(
        ("rinda", "ochered", "queue"),
        N_("The queue and the runners (admins)"),
        _queue,
        admin=True,
        menu=False,
    ),
    Command(
        ("panelis", "panel", "dashboard"),
        N_("The dashboard, a one-time link (admins)"),
        _panel,
        admin=True,
        menu=False,
    ),
    Command(
        ("reload", "perezagruzka"),
        N_("Reload the model (admins)"),
        _reload,
        (Arg("modelis", "word", False, N_("one model name"), "/reload minusthousand/lv-sb"),),
        admin=True,
        menu=False,
    ),
    Command(
        ("ban", "zablokirovat"),
        N_("Ban a user (admins)"),
        _ban(True),
        (_USER,),
        admin=True,
        menu=False,
    ),
    Command(
        ("unban", "razblokirovat"),
        N_("Unban a user (admins)"),
        _ban(False),
        (Arg(_USER.name, "user", True, _USER.what, "/unban 123456"),),
        admin=True,
        menu=False,
    ),
    Command(
        ("macies", "uchit", "teach"),
        N_("Teach a new concept (admins)"),
        _teach_start,
        (
            Arg(
                "args",
                "text",
                True,
                N_("a token, a class and a Latvian name"),
                "/macies rigasdoms building Rīgas Doms",
            ),
        ),
        admin=True,
        menu=False,
        options=TEACH_OPTIONS,
    ),
    Command(
        ("foto", "photo"),
        N_("A photo of the new concept (admins)"),
        _teach_photo,
        admin=True,
        menu=False,
        options=(Option("attels", N_("The photo"), PHOTO, required=True),),
    ),
    Command(
        ("gatavs", "gotovo", "ready"),
        N_("Start the training (admins)"),
        _teach_ready,
        admin=True,
        menu=False,
    ),
    Command(
        ("pievienot", "dobavit", "install"),
        N_("Add the trained concept (admins)"),
        _teach_finish("pievienot"),
        (_TOKEN,),
        admin=True,
        menu=False,
    ),
    Command(
        ("atmest", "otbrosit", "discard"),
        N_("Discard the trained concept (admins)"),
        _teach_finish("atmest"),
        (Arg(_TOKEN.name, "word", True, _TOKEN.what, "/atmest rigasdoms"),),
        admin=True,
        menu=False,
    ),
)

BY_NAME: dict[str, Command] = {name: c for c in COMMANDS for name in c.names}
DRAW = BY_NAME["zime"]
# the names of the commands that take a photo (as a reply to one, or attached)
PHOTO_COMMANDS = frozenset(
    n for c in COMMANDS if any(o.type == PHOTO for o in c.typed_options()) for n in c.names
)


def find(name: str) -> Command | None:
    """The command for `/name` or `/name@bot` (any case)."""
    return BY_NAME.get(name.lstrip("/").split("@")[0].lower())


async def run(ctx: Ctx, name: str, raw: str = "") -> Reply:
    """Run a command by any of its names; every fault becomes one sentence in the user's
    language. An unknown name answers with /palidziba."""
    command = find(name)
    if command is None:
        return Reply(text=t(ctx.lang, "Unknown command. /palidziba"), error=True)
    try:
        if command.admin and not ctx.request.is_admin:
            raise NotAdmin(ctx.request.user_key)
        args = parse_args(command, raw, ctx.request.platform)
        return await command.run(ctx, args)
    except ZimeError as exc:
        return Reply(text=error_text(exc, ctx.lang), error=True)
    except Exception:  # our fault, not the user's: logged, and still one sentence
        log.exception("command /%s failed", command.names[0])
        return Reply(text=error_text(ZimeError(), ctx.lang), error=True)


def split(line: str) -> tuple[str, str]:
    """'/zime@bot  Rīga' -> ('zime', 'Rīga'); plain text is a /zime prompt."""
    if not line.startswith("/"):
        return "zime", line
    head, _, rest = line.partition(" ")
    head, _, rest2 = head.partition("\n")
    rest = f"{rest2}\n{rest}".strip() if rest2 else rest
    return head[1:].split("@")[0].lower(), rest.strip()
