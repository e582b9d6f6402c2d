"""Teaching a concept from the chat (admins): the runs of /macies, /foto, /gatavs,
/pievienot and /atmest in the command table. Photos come through `Ctx.photo`, the
training's progress and results go out through `Ctx.news`; the rules are in
core/train/session.py."""

from __future__ import annotations

import logging

from bot.admin_texts import teaching_text
from bot.arguments import Args, Run
from bot.locale import N_
from bot.message import Ctx, Reply
from bot.texts import t
from core.errors import BadArgument
from core.jobs.job import Request
from core.service import Service

log = logging.getLogger("zime.teaching")


async def finish_teaching(service: Service, req: Request, command: str, args: list[str]) -> str:
    """Install (`pievienot`) or discard (`atmest`) the admin's trained concept; the answer.
    Raises ZimeError (not an admin, no such training …)."""
    token = args[0] if args else ""
    if command == "pievienot":
        token = await service.teach_accept(req, token)
        return t(req.language, "{token} is added: try /zime with its name.", token=token)
    service.teach_discard(req, token)
    return t(req.language, "Discarded.")


async def teach_start(ctx: Ctx, args: Args) -> Reply:
    """/macies TOKEN KLASE Latvian name: a teaching session; photos follow."""
    session = ctx.service.teach_start(ctx.request, args.text.split())
    text, _ = teaching_text(
        "started", {"name": session.name_lv, "cls": session.cls, "token": session.token}, ctx.lang
    )
    return Reply(text=text, private=True)


async def teach_photo(ctx: Ctx, args: Args) -> Reply:
    """/foto with a photo (Discord), or a photo sent while teaching (Telegram)."""
    if ctx.photo is None:
        raise BadArgument("/foto", N_("a photo"), "/foto + 📎")
    count = await ctx.service.teach_photo(ctx.request, await ctx.photo())
    return Reply(text=t(ctx.lang, "Photo {n} saved.", n=count), private=True)


async def teach_ready(ctx: Ctx, args: Args) -> Reply:
    """/gatavs: the training is queued; its progress and results come through `ctx.news`."""

    async def quiet(event: str, details: dict[str, object]) -> None:
        log.info("teaching %s: %s", event, details.get("token", ""))

    session = ctx.service.teach_ready(ctx.request, ctx.news or quiet)
    text, _ = teaching_text("queued", {"token": session.token}, ctx.lang)
    return Reply(text=text, private=True)


def teach_finish(command: str) -> Run:
    async def finish(ctx: Ctx, args: Args) -> Reply:
        text = await finish_teaching(ctx.service, ctx.request, command, args.text.split())
        return Reply(text=text, private=True)

    return finish
