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
from dataclasses import replace

from bot import actions, teaching
from bot.actions import draw, history_buttons, settings_buttons
from bot.admin_texts import model_queues_text, runners_text, stats_text
from bot.arguments import (
    PHOTO,
    SETTINGS_OPTIONS,
    TEACH_OPTIONS,
    ZIME_OPTIONS,
    Arg,
    Args,
    Command,
    Option,
    Run,
    parse_args,
)
from bot.locale import N_
from bot.message import Button, Ctx, Reply
from bot.texts import (
    error_text,
    t,
)
from bot.user_texts import help_text, history_line, models_text, settings_text
from core.errors import BadArgument, EmptyPrompt, NotAdmin, PrivateOnly, ZimeError
from core.logins import ADMIN, GALLERY
from core.service import Submitted

log = logging.getLogger("zime.commands")


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
        buttons=settings_buttons(ctx.request.user_id, settings, lang, ctx.service.model_names()),
    )


async def _models(ctx: Ctx, args: Args) -> Reply:
    """/modeli: the catalogue, what draws now, and the user's default."""
    return Reply(text=models_text(await ctx.service.model_list(ctx.request), ctx.lang))


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
    text = "\n".join(f"{i}. #{j} {u} [{m}]: {p[:60]}" for i, (j, u, p, m) in enumerate(rows, 1))
    models = model_queues_text(ctx.service.model_queues(ctx.request), ctx.lang)
    runners = runners_text(ctx.service.runners(ctx.request), ctx.lang)
    parts = (text or t(ctx.lang, "The queue is empty."), models, runners)
    return Reply(text="\n".join(x for x in parts if x))


async def _reload(ctx: Ctx, args: Args) -> Reply:
    model = await ctx.service.reload(ctx.request, args.word or None)
    return Reply(text=t(ctx.lang, "Model loaded: {model}", model=model))


def _ban(banned: bool) -> Run:
    async def ban(ctx: Ctx, args: Args) -> Reply:
        platform, user = args.user
        who = await ctx.service.set_banned(ctx.request, platform, user, banned, args.force)
        if banned:
            return Reply(text=t(ctx.lang, "Banned: {who}.", who=who))
        return Reply(text=t(ctx.lang, "Unbanned: {who}.", who=who))

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


async def _edit(ctx: Ctx, args: Args) -> Reply:
    """/labot: the region editor for a picture (a reply to it, or its number): on Telegram
    with an https base a Mini App button, elsewhere a one-time link that opens it."""
    _personal(ctx)
    await ctx.service.check_owner(args.job, ctx.request)
    app = ctx.service.app_url()
    label = t(ctx.lang, "🖌 Redraw a region")
    if ctx.request.platform == "telegram" and app.startswith("https://"):
        button = Button(label, url=f"{app}?edit={args.job}", web_app=True)
        return Reply(text=t(ctx.lang, "Paint over the part to redraw."), buttons=((button,),))
    link = ctx.service.login_link(ctx.request, GALLERY, edit=args.job)
    text = t(ctx.lang, "The editor (the link works once, for 10 minutes): {link}", link=link)
    return Reply(text=text, private=True, preview=False)


async def _apraksti(ctx: Ctx, args: Args) -> Reply:
    """/apraksti: four Latvian prompts for the attached photo (or the one replied to), or
    for picture N (/apraksti 12)."""
    photo = await ctx.photo() if ctx.photo is not None else ctx.request.photo
    if args.job:
        description_id, found = await ctx.service.describe(ctx.request, job_id=args.job)
    elif photo is not None:
        description_id, found = await ctx.service.describe(ctx.request, photo=photo)
    else:
        raise BadArgument("/apraksti", N_("a photo to describe"), "/apraksti 12")
    return actions.described(ctx, description_id, found.latvian)


_PICTURE = Arg("id", "job", True, N_("a picture number from /vesture"), "/velreiz 12")
_USER = Arg("lietotajs", "user", True, N_("a user id"), "/ban 123456")
_TOKEN = Arg("token", "word", True, N_("the concept's token"), "/pievienot rigasdoms")
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
    Command(
        ("apraksti", "opisat", "describe"),
        N_("Describe a photo: four prompts, each one tap from being drawn"),
        _apraksti,
        (Arg("id", "job", False, _PICTURE.what, "/apraksti 12"),),
        options=(Option("attels", N_("A photo to describe"), PHOTO),),
    ),
    Command(
        ("labot", "izmenit", "edit"),
        N_("Redraw a region of a picture: reply /labot to it, or /labot 12"),
        _edit,
        (Arg("id", "job", True, _PICTURE.what, "/labot 12"),),
    ),
    Command(("modeli", "models"), N_("The models I draw with"), _models),
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
        teaching.teach_start,
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
        teaching.teach_photo,
        admin=True,
        menu=False,
        options=(Option("attels", N_("The photo"), PHOTO, required=True),),
    ),
    Command(
        ("gatavs", "gotovo", "ready"),
        N_("Start the training (admins)"),
        teaching.teach_ready,
        admin=True,
        menu=False,
    ),
    Command(
        ("pievienot", "dobavit", "install"),
        N_("Add the trained concept (admins)"),
        teaching.teach_finish("pievienot"),
        (_TOKEN,),
        admin=True,
        menu=False,
    ),
    Command(
        ("atmest", "otbrosit", "discard"),
        N_("Discard the trained concept (admins)"),
        teaching.teach_finish("atmest"),
        (Arg(_TOKEN.name, "word", True, _TOKEN.what, "/atmest rigasdoms"),),
        admin=True,
        menu=False,
    ),
)

BY_NAME: dict[str, Command] = {name: c for c in COMMANDS for name in c.names}
DRAW = BY_NAME["zime"]
# the names of the commands that take a photo (as a reply to one, or attached)
# the commands a reply to a Zīme picture gives that picture's number
REPLY_COMMANDS = frozenset((*BY_NAME["labot"].names, *BY_NAME["apraksti"].names))
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
