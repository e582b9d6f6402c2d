"""THE button registry: what each button does, how it is laid out, and its callback data.

Callback data is versioned: `z1:<action>:<job id>[:<image n>]`, and `z1:set:<user id>:<change>`
for a settings button. It fits Telegram's 64 bytes and Discord's custom ids, and a button
pressed after a restart still works. Data of earlier versions (Telegram's `again:5`,
`u:5:1`, Discord's `zime:u:5:1`) decodes to the same actions.

Every handler asks `Service`, which checks that the presser owns the job (or is an admin).
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any

from bot.message import Ask, Button, Ctx, Picture, Reply, Rows
from bot.texts import error_text, t
from core.errors import NotFound, ZimeError
from core.jobs.job import Job
from core.service import Submitted

VERSION = "z1"
_DIGITS = re.compile(r"[0-9]{1,19}")  # ASCII only: "²".isdigit() is True in Python


@dataclass(frozen=True)
class Press:
    act: str
    job_id: int = 0
    n: int = 0
    arg: str = ""  # settings: "<user id>:<key=value>"


def encode(act: str, job_id: int, n: int = 0) -> str:
    return f"{VERSION}:{act}:{job_id}" + (f":{n}" if n else "")


def encode_setting(user_id: str, change: str) -> str:
    return f"{VERSION}:set:{user_id}:{change}"


def decode(data: str) -> Press | None:
    """The press a button's data stands for, or None for data no version of Zīme wrote."""
    parts = data.split(":")
    if parts[0] in (VERSION, "zime"):  # this version, or Discord's first ids
        parts = parts[1:]
    if not parts or parts[0] not in HANDLERS:
        return None
    act, rest = parts[0], parts[1:]
    if act == "set":
        return Press(act, arg=":".join(rest)) if len(rest) >= 2 else None
    if act == "wait":
        return Press(act)
    if not 1 <= len(rest) <= 2 or not all(_DIGITS.fullmatch(p) for p in rest):
        return None
    job_id, n = int(rest[0]), int(rest[1]) if len(rest) == 2 else 0
    return Press(act, job_id, n)


# what a button's label starts with: a line beginning so means a button, never a prompt
BUTTON_SYMBOLS = (
    "🔁",
    "♻️",
    "🔍",
    "🔀",
    "🔭",
    "📄",
    "ℹ️",
    "✏️",
    "🗑",
    "❌",
    "🖼",
    "🔒",
    "🔓",
    "🎨",
    "⚡",
)
_GRID_LABEL = re.compile(r"[UV][1-4]|Z|D")


def looks_like_button(label: str) -> bool:
    """A typed word that is a button's label (U2, V1, Z, 🔁 …), on offer or not."""
    return label.startswith(BUTTON_SYMBOLS) or bool(_GRID_LABEL.fullmatch(label))


# layouts
def _b(label: str, act: str, job_id: int, n: int = 0) -> Button:
    return Button(label, encode(act, job_id, n))


def result_buttons(job_id: int, count: int, lang: str) -> Rows:
    """Under a result. A grid: U1–U4 and V1–V4; one image: 🔍 2×, 🔀 and 🔭. Then 🔁, 📄
    and ℹ️; then 📝, ✏️ and 🗑 (three to a row, so that labels fit a phone)."""
    if count > 1:
        first: tuple[tuple[Button, ...], ...] = (
            tuple(_b(f"U{n}", "u", job_id, n) for n in range(1, count + 1)),
            tuple(_b(f"V{n}", "v", job_id, n) for n in range(1, count + 1)),
        )
    else:
        first = (image_row(job_id, 1, lang),)
    return (
        *first,
        (
            _b(t(lang, "🔁 Again"), "again", job_id),
            _b(t(lang, "📄 Original"), "orig", job_id),
            _b(t(lang, "ℹ️ Details"), "info", job_id),
        ),
        (
            replace(_b("📝", "desc", job_id), key="D"),
            _b("✏️", "fix", job_id),
            _b("🗑", "del", job_id),
        ),
    )


def description_buttons(description_id: int, lang: str) -> Rows:
    """Under /apraksti's four prompts: 1–4 draw one, "Zīmēt visus" all four."""
    return (
        tuple(_b(str(n), "dr", description_id, n) for n in range(1, 5)),
        (_b(t(lang, "Draw all"), "dr", description_id),),
    )


def described(ctx: Ctx, description_id: int, prompts: list[str]) -> Reply:
    """The four prompts, numbered, with their buttons."""
    lines = [t(ctx.lang, "Four prompts for this picture:")]
    lines += [f"{n}. {text}" for n, text in enumerate(prompts, 1)]
    return Reply(text="\n".join(lines), buttons=description_buttons(description_id, ctx.lang))


def image_row(job_id: int, n: int, lang: str) -> tuple[Button, ...]:
    return (
        _b(t(lang, "🔍 2×"), "up", job_id, n),
        _b(t(lang, "🔀 Variations"), "v", job_id, n),
        replace(_b(t(lang, "🔭 Zoom out"), "zoom", job_id, n), key="Z"),
    )


def single_image_buttons(job_id: int, n: int, lang: str) -> Rows:
    """Under image n of a grid sent alone (Un): 🔍 2×, 🔀, 🔭, then 📄 its PNG, 📝 it, ✏️ and
    🗑."""
    return (
        image_row(job_id, n, lang),
        (
            _b(t(lang, "📄 Original"), "orig", job_id, n),
            replace(_b("📝", "desc", job_id, n), key="D"),
            _b("✏️", "fix", job_id),
            _b("🗑", "del", job_id),
        ),
    )


def status_buttons(job_id: int) -> Rows:
    """Under a status message: ❌ cancels that job."""
    return ((_b("❌", "cancel", job_id),),)


def history_buttons(jobs: Sequence[Job]) -> Rows:
    """/vesture: for each drawing, ♻️ draws it again with its seed (as everywhere: 🔁 is a
    new seed, ♻️ the same one) and 📄 sends its PNG."""
    return tuple((_b(f"♻️ #{j.id}", "redo", j.id), _b(f"📄 #{j.id}", "orig", j.id)) for j in jobs)


def settings_buttons(
    user_id: str, settings: dict[str, object], lang: str, models: Sequence[str] = ()
) -> Rows:
    """/iestatijumi as buttons: images per request, aspect ratio, private results, language,
    and with several models the model and fast mode. The current choice is marked; the user
    id in the data keeps them to their owner."""

    def button(label: str, change: str, current: bool) -> Button:
        return Button(f"• {label}" if current else label, encode_setting(user_id, change))

    aspect = settings.get("aspect")
    ratio = f"{aspect[0]}:{aspect[1]}" if isinstance(aspect, list | tuple) else None
    private = bool(settings.get("private"))
    rows: Rows = (
        tuple(button(f"🖼 {n}", f"skaits={n}", settings.get("count") == n) for n in range(1, 5)),
        tuple(button(r, f"formats={r}", ratio == r) for r in ("1:1", "3:2", "2:3", "16:9")),
        (
            button(t(lang, "🔒 Private: yes"), "privati=ja", private),
            button(t(lang, "🔓 Private: no"), "privati=ne", not private),
        ),
        tuple(button(c, f"valoda={c}", settings.get("language") == c) for c in ("lv", "ru", "en")),
    )
    if len(models) < 2:
        return rows
    mine = settings.get("model") or models[0]
    fast = bool(settings.get("fast"))
    return (
        *rows,
        tuple(button(f"🎨 {m}", f"modelis={m}", mine == m) for m in models),
        (
            button(t(lang, "⚡ Fast: yes"), "atri=ja", fast),
            button(t(lang, "⚡ Fast: no"), "atri=ne", not fast),
        ),
    )


# handlers
Handler = Callable[[Ctx, Press], Awaitable[Reply]]


def draw(ctx: Ctx, start: Callable[[Ctx], Awaitable[Submitted]]) -> Reply:
    """A reply that queues a drawing once the frontend has posted its status message."""

    async def go(meta: dict[str, Any]) -> Submitted:
        request = replace(ctx.request, meta={**ctx.request.meta, **meta})
        return await start(replace(ctx, request=request))

    return Reply(start=go)


async def _again(ctx: Ctx, p: Press) -> Reply:
    await ctx.service.check_owner(p.job_id, ctx.request)  # an alert, not a status message
    same = p.act == "redo"
    return draw(ctx, lambda c: c.service.again(p.job_id, c.request, same_seed=same))


async def _derive(ctx: Ctx, p: Press) -> Reply:
    await ctx.service.grid_image(p.job_id, p.n, ctx.request)  # owner and image checks
    s = ctx.service
    derive = {"v": s.variation, "up": s.upscale, "zoom": s.zoom}[p.act]
    return draw(ctx, lambda c: derive(p.job_id, p.n, c.request))


async def _single(ctx: Ctx, p: Press) -> Reply:
    job, path = await ctx.service.grid_image(p.job_id, p.n, ctx.request)
    seed = job.params.image_seed(p.n)
    picture = Picture(
        path,
        f"U{p.n} · {t(ctx.lang, 'Seed: {seed}', seed=seed)}",
        job.nsfw,
        filename=f"zime-{p.job_id}-{p.n}.png",
    )
    return Reply(pictures=(picture,), buttons=single_image_buttons(p.job_id, p.n, ctx.lang))


async def _original(ctx: Ctx, p: Press) -> Reply:
    if p.n:
        path = (await ctx.service.grid_image(p.job_id, p.n, ctx.request))[1]
    else:
        path = await ctx.service.original(p.job_id, ctx.request)
    name = f"zime-{p.job_id}{f'-{p.n}' if p.n else ''}.png"
    return Reply(pictures=(Picture(path, document=True, filename=name),))


async def _fix(ctx: Ctx, p: Press) -> Reply:
    prompt = await ctx.service.prompt_to_fix(p.job_id, ctx.request)
    question = t(
        ctx.lang,
        "This is what I drew (in English):\n{prompt}\n"
        "Reply to this message with a corrected English prompt.",
        prompt=prompt,
    )
    return Reply(ask=Ask(p.job_id, prompt, question))


def fixed(ctx: Ctx, job_id: int, english: str) -> Reply:
    """The answer to a ✏️ question: draw the corrected English prompt (owner checked in
    Service)."""
    return draw(ctx, lambda c: c.service.draw_fixed(job_id, english, c.request))


async def _describe(ctx: Ctx, p: Press) -> Reply:
    """📝 under a result (or under image n sent alone): four prompts for that picture, its
    own text first."""
    description_id, found = await ctx.service.describe(ctx.request, job_id=p.job_id, n=p.n or 1)
    return described(ctx, description_id, found.latvian)


async def _draw_described(ctx: Ctx, p: Press) -> Reply:
    """1–4 under a description: that prompt drawn as a request of the asker's (every limit);
    "Zīmēt visus": all four. Anyone else's press is one sentence, nothing drawn."""
    prompts = await ctx.service.described(p.job_id, ctx.request)
    chosen = [prompts[p.n - 1]] if p.n else prompts

    async def start(c: Ctx, text: str) -> Submitted:
        return await c.service.handle(replace(c.request, text=text))

    if len(chosen) == 1:
        return draw(ctx, lambda c: start(c, chosen[0]))
    for text in chosen[1:]:  # the first is followed here; the others arrive as results
        await start(ctx, text)
    return draw(ctx, lambda c: start(c, chosen[0]))


async def _info(ctx: Ctx, p: Press) -> Reply:
    job = await ctx.service.job_details(p.job_id, ctx.request)
    names = ", ".join(ctx.service.concept_names(job.concepts)) or "—"
    text = t(
        ctx.lang,
        "Text: {text}\nPrompt: {prompt}\nConcepts: {concepts}\n"
        "Seed: {seed} · Steps: {steps} · Model: {model}",
        text=job.request_text,
        prompt=job.prompt,
        concepts=names,
        seed=job.seed,
        steps=job.params.steps,
        model=job.model,
    )
    if job.options.negative:  # what "bez …" or --ne left out, and the English the model read
        left_out = t(ctx.lang, "Left out: {what}", what=job.options.negative)
        text += f"\n{left_out} ({ctx.service.own_negative(job)})"
    return Reply(text=text, private=True)


async def _delete(ctx: Ctx, p: Press) -> Reply:
    await ctx.service.delete(p.job_id, ctx.request)
    return Reply(text=t(ctx.lang, "Deleted."), notice=True, remove=True)


async def _cancel(ctx: Ctx, p: Press) -> Reply:
    """❌ under a status message: that job, for its owner or an admin (as /atcelt)."""
    cancelled = await ctx.service.cancel_job(p.job_id, ctx.request)
    text = t(ctx.lang, "Cancelled.") if cancelled else t(ctx.lang, "It is already finished.")
    return Reply(text=text, notice=True)


async def _setting(ctx: Ctx, p: Press) -> Reply:
    owner, _, change = p.arg.partition(":")
    settings = await ctx.service.update_settings(ctx.request, change, owner=owner)
    lang = str(settings.get("language") or ctx.lang)
    from bot.user_texts import settings_text

    return Reply(
        text=settings_text(settings, lang),
        edit=True,
        buttons=settings_buttons(ctx.request.user_id, settings, lang, ctx.service.model_names()),
    )


async def _wait(ctx: Ctx, p: Press) -> Reply:
    return Reply(notice=True)  # the ⏳ placeholder under an inline picture being drawn


HANDLERS: dict[str, Handler] = {
    "again": _again,
    "redo": _again,
    "v": _derive,
    "up": _derive,
    "zoom": _derive,
    "u": _single,
    "orig": _original,
    "fix": _fix,
    "info": _info,
    "desc": _describe,
    "dr": _draw_described,
    "del": _delete,
    "cancel": _cancel,
    "set": _setting,
    "wait": _wait,
}


async def dispatch(ctx: Ctx, data: str) -> Reply:
    """Run the button whose callback data is `data`; faults are raised (the web API turns
    them into status codes)."""
    pressed = decode(data)
    if pressed is None:
        raise NotFound(f"button {data[:40]!r}")
    return await HANDLERS[pressed.act](ctx, pressed)


async def press(ctx: Ctx, data: str) -> Reply:
    """Run the button whose callback data is `data`; a fault is one sentence (an alert)."""
    try:
        return await dispatch(ctx, data)
    except ZimeError as exc:
        return Reply(text=error_text(exc, ctx.lang), error=True, private=True)
    except OSError:  # the PNG was deleted meanwhile: gone like a deleted job
        return Reply(text=error_text(NotFound("image"), ctx.lang), error=True, private=True)
