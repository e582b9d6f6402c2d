"""The Mini App's studio (issue #31): a job's live events (Server-Sent Events), redrawing a
region of a picture, 📝 describing one (issue #34), and the gallery's texts in the user's
Zīme language. Same auth as the
rest of the API: `Authorization: tma …` or the session cookie (with CSRF on a change)."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from typing import Any

from starlette.requests import Request as HttpRequest
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from bot import actions
from bot.locale import N_, languages, t
from bot.message import Ctx
from bot.texts import error_text, job_error, options_line, status_name
from bot.web.auth import WebUser
from bot.web.state import Web, job_id_of, json_body, number
from core.draw.regions import MAX_MASK_BYTES
from core.errors import BadArgument, BadMask, QueueFull
from core.jobs.job import Job

STREAMS_PER_USER = 4  # open event streams (a gallery page follows a few jobs at once)
EDIT_PATH = re.compile(r"/api/jobs/[0-9]+/edit")
EDIT_BODY_BYTES = MAX_MASK_BYTES + 64 * 1024  # the mask, its text and the form's parts

# The gallery's words, translated by the same catalogs as the chat (bot/locale).
UI = {
    "none": N_("No pictures yet. Write /zime … in the chat."),
    "again": N_("🔁 Again"),
    "redo": N_("♻️ Redo"),
    "variation": N_("🔀 Variations"),
    "upscale": N_("🔍 2×"),
    "zoom": N_("🔭 Zoom out"),
    "edit": N_("🖌 Redraw a region"),
    "describe": N_("📝 Describe"),
    "four": N_("Four prompts for this picture:"),
    "delete": N_("🗑 Delete"),
    "deleted": N_("Deleted."),
    "saved": N_("Saved."),
    "queued_new": N_("Queued: #{id}. It also arrives in the chat."),
    "auth": N_("Open the gallery from the bot: /galerija"),
    "failed": N_("Failed: {error}"),
    "more": N_("More"),
    "back": N_("Back"),
    "brush": N_("Brush"),
    "eraser": N_("Eraser"),
    "undo": N_("Undo"),
    "clear": N_("Clear"),
    "what": N_("What to draw there (empty: the same text)"),
    "draw": N_("Draw"),
    "cancel": N_("Cancel"),
    "paint": N_("Paint over the part to redraw."),
    "settings": N_("Settings"),
    "images": N_("Images"),
    "aspect": N_("Aspect ratio"),
    "private": N_("Results privately"),
    "language": N_("Language"),
    "model": N_("Model"),
    "fast": N_("Fast mode"),
    "save": N_("Save"),
    "queued": N_("Queued: {position}."),
    "drawing": N_("Drawing… {percent}%"),
    "seed": N_("Seed: {seed}"),
    "model_line": N_("Model: {model}"),
}


def ui_language(settings: dict[str, Any], user: WebUser, browser: str) -> str:
    """The gallery's language: the user's /iestatijumi valoda, else the Telegram client's
    (initData), else the browser's, among the languages Zīme speaks; else Latvian."""
    for lang in (settings.get("language"), user.language, browser[:2].lower()):
        if lang and lang in languages():
            return str(lang)
    return "lv"


def ui_texts(lang: str) -> dict[str, str]:
    return {key: t(lang, msgid) for key, msgid in UI.items()}


def job_words(job: Job, lang: str, model: str) -> dict[str, Any]:
    """A job's status and options in the user's words, for the viewer and the cards."""
    options = options_line(job.options, job.params.count, job.params.steps, lang)
    failed = job.status in ("failed", "cancelled")
    return {
        "status_text": error_text(job_error(job), lang)
        if failed
        else status_name(job.status, lang),
        "options_text": options,
        "model_name": model,
    }


async def events(request: HttpRequest) -> Response:
    """GET /api/jobs/{id}/events: `text/event-stream`, one JSON object per event
    ({"status", "position", "percent"}), on every change and at least once a second while
    the job waits or draws; its final state comes last and the stream ends."""
    web: Web = request.app.state.web
    user, _ = await web.who(request)
    job = await web.service.web_job(user, job_id_of(request))
    open_now = web.streams.get(user.user_key, 0)
    if open_now >= STREAMS_PER_USER:
        raise QueueFull(STREAMS_PER_USER, per_user=True)
    web.streams[user.user_key] = open_now + 1

    async def stream() -> AsyncIterator[str]:
        try:
            async for state in web.service.job_events(job.id):
                yield f"data: {json.dumps(state)}\n\n"
        finally:
            web.streams[user.user_key] -= 1
            if not web.streams[user.user_key]:
                del web.streams[user.user_key]

    headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
    return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)


async def edit(request: HttpRequest) -> Response:
    """POST /api/jobs/{id}/edit, multipart: `mask` (a PNG of the picture's size, white is
    redrawn), `text` (empty: the job's own), `n` (a grid's image, default 1) → 202 {"id"}."""
    web: Web = request.app.state.web
    user, by_cookie = await web.who(request)
    async with request.form(max_files=1, max_fields=4) as form:
        web.check_change(request, by_cookie, str(form.get("csrf") or ""))
        upload = form.get("mask")
        if upload is None or isinstance(upload, str):
            raise BadArgument("mask", N_("a PNG mask"), "mask=@mask.png")
        mask = await upload.read(MAX_MASK_BYTES + 1)
        if len(mask) > MAX_MASK_BYTES:
            raise BadMask("too_big")
        text = str(form.get("text") or "")
        n = number(str(form.get("n") or ""), 1, "n") or 1
    job = await web.service.web_job(user, job_id_of(request))
    req = await web.service.web_request(user, parent=job)
    sub = await web.service.edit_region(job.id, n, mask, text, req)
    return JSONResponse({"id": sub.job_id}, status_code=202)


async def describe(request: HttpRequest) -> Response:
    """POST /api/jobs/{id}/describe {"n"}: 📝 (/apraksti) for image n of the picture →
    {"id", "prompts"}: four Latvian prompts, the picture's own text first; each is drawn
    by POST /api/descriptions/{id}/draw."""
    web: Web = request.app.state.web
    user, by_cookie = await web.who(request)
    web.check_change(request, by_cookie)
    n = number(str((await json_body(request)).get("n") or ""), 1, "n") or 1
    job = await web.service.web_job(user, job_id_of(request))
    req = await web.service.web_request(user, parent=job)
    description_id, found = await web.service.describe(req, job_id=job.id, n=n)
    return JSONResponse({"id": description_id, "prompts": found.latvian})


async def draw_described(request: HttpRequest) -> Response:
    """POST /api/descriptions/{id}/draw {"n": 1–4, "job"}: that prompt drawn as the user's
    own request (every limit), delivered in the chat of the described `job` → 202 {"id"}.
    Only the one who asked for the description may draw it (404 for anyone else)."""
    web: Web = request.app.state.web
    user, by_cookie = await web.who(request)
    web.check_change(request, by_cookie)
    body = await json_body(request)
    n = number(str(body.get("n") or ""), None, "n")
    if n is None or not 1 <= n <= 4:
        raise BadArgument("n", N_("a whole number"), "2")
    description_id = number(request.path_params["description_id"], what="description") or 0
    source = number(str(body.get("job") or ""), None, "job")
    parent = await web.service.web_job(user, source) if source else None
    ctx = Ctx(web.service, await web.service.web_request(user, parent=parent))
    reply = await actions.dispatch(ctx, actions.encode("dr", description_id, n))
    assert reply.start is not None  # a refusal was raised, as a ZimeError
    return JSONResponse({"id": (await reply.start({})).job_id}, status_code=202)


ROUTES = [
    Route("/api/jobs/{job_id}/events", events),
    Route("/api/jobs/{job_id}/edit", edit, methods=["POST"]),
    Route("/api/jobs/{job_id}/describe", describe, methods=["POST"]),
    Route("/api/descriptions/{description_id}/draw", draw_described, methods=["POST"]),
]
