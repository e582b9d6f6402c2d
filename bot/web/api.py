"""The JSON API under the gallery and the dashboard. Either auth (the session cookie, or
`Authorization: tma <initData>`); 401 for none or a bad one; another user's job is 404
(admins see every job). Actions run through the button registry (bot/actions.py), with the
same owner checks as a button, and their result is delivered in the chat."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from starlette.requests import Request as HttpRequest
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bot import actions, commands
from bot.message import Ctx
from bot.web.auth import WebUser
from bot.web.state import Web, file_response, job_id_of, json_body, number
from bot.web.studio import job_words, ui_language, ui_texts
from bot.web.thumbs import thumbnail
from core.errors import NotFound
from core.jobs.job import Job

# the API's action names -> the buttons they press
ACTIONS = {
    "again": "again",
    "redo": "redo",
    "variation": "v",
    "upscale": "up",
    "zoom": "zoom",
    "delete": "del",
}
PAGE = 20


def job_json(job: Job) -> dict[str, Any]:
    """A job as the API shows it; `images` are the single images (one, or a grid's)."""
    base = f"/api/jobs/{job.id}"
    gone = job.deleted or not job.image_path
    count = job.params.count
    images = (
        []
        if gone
        else [f"{base}/images/0"]
        if count == 1
        else [f"{base}/images/{n}" for n in range(1, count + 1)]
    )
    return {
        "id": job.id,
        "status": str(job.status),
        "text": job.request_text,
        "prompt": job.prompt,
        "seed": job.seed,
        "count": count,
        "created": job.created_at,
        "images": images,
        "grid": None if gone or count == 1 else f"{base}/images/0",
        "thumb": None if gone else f"{base}/thumb",
        "english": job.english,
        "negative": job.params.negative_prompt,
        "options": json.loads(job.options.to_json()),
        "kind": job.kind,
        "parent_id": job.parent_id,
        "nsfw": job.nsfw,
        "failure": str(job.failure) if job.failure else None,
        "deleted": gone,
        "user": job.user_key,
        "steps": job.params.steps,
        "size": [job.params.width, job.params.height],
    }


async def my_jobs(request: HttpRequest) -> Response:
    """GET /api/me/jobs?limit=N&before=ID[&lang=xx]: the user's drawings, newest first (🗑
    ones left out), with their status and options in words (`lang`, else Latvian)."""
    web: Web = request.app.state.web
    user, _ = await web.who(request)
    limit = number(request.query_params.get("limit"), PAGE) or PAGE
    before = number(request.query_params.get("before"))
    jobs = await web.service.gallery(user, limit, before)
    return JSONResponse({"jobs": [worded(web, j, request) for j in jobs]})


async def one_job(request: HttpRequest) -> Response:
    web: Web = request.app.state.web
    user, _ = await web.who(request)
    return JSONResponse(worded(web, await web.service.web_job(user, job_id_of(request)), request))


def worded(web: Web, job: Job, request: HttpRequest) -> dict[str, Any]:
    lang = ui_language({}, WebUser("", ""), request.query_params.get("lang", ""))
    return {**job_json(job), **job_words(job, lang, web.service.model_display(job.model))}


async def image(request: HttpRequest) -> Response:
    """GET /api/jobs/{id}/images/{n}: the PNG (n = 0: the picture, or a grid's grid)."""
    web: Web = request.app.state.web
    user, _ = await web.who(request)
    n = number(request.path_params["n"]) or 0
    return file_response(await web.service.image_path(user, job_id_of(request), n))


async def thumb(request: HttpRequest) -> Response:
    """A small JPEG of the picture, made once and kept beside it."""
    web: Web = request.app.state.web
    user, _ = await web.who(request)
    path = await web.service.image_path(user, job_id_of(request), 0)
    small = await asyncio.to_thread(thumbnail, path)
    return Response(
        small, media_type="image/jpeg", headers={"Cache-Control": "private, max-age=3600"}
    )


async def act(request: HttpRequest) -> Response:
    """POST /api/jobs/{id}/actions/{action} [n]: 202 with the new job's id."""
    web: Web = request.app.state.web
    user, by_cookie = await web.who(request)
    web.check_change(request, by_cookie)
    body = await json_body(request)
    n = number(str(body.get("n", request.query_params.get("n", "")) or ""), 1) or 1
    job_id = job_id_of(request)
    new = await run_action(web, user, job_id, request.path_params["action"], n)
    if new is None:  # 🗑
        return JSONResponse({"id": None, "deleted": job_id}, status_code=202)
    return JSONResponse({"id": new}, status_code=202)


async def run_action(web: Web, user: WebUser, job_id: int, name: str, n: int = 1) -> int | None:
    """Press the button `name` stands for, as `user`, on their job (or any, for an admin):
    the new job's id (delivered in the chat the job came from), or None for 🗑."""
    if name not in ACTIONS:
        raise NotFound(f"action {name}")
    job = await web.service.web_job(user, job_id)
    ctx = Ctx(web.service, await web.service.web_request(user, parent=job))
    reply = await actions.dispatch(ctx, actions.encode(ACTIONS[name], job.id, n))
    if reply.start is None:
        return None
    return (await reply.start({})).job_id


def settings_text(data: dict[str, Any]) -> str:
    """The JSON settings as /iestatijumi's words, made by the same options as Discord's
    /iestatijumi, so all are checked by one parser."""
    values = {
        "skaits": data.get("count"),
        "formats": (data["aspect"] or "") if "aspect" in data else None,
        "privati": bool(data["private"]) if "private" in data else None,
        "valoda": (data["language"] or "") if "language" in data else None,
        "modelis": (data["model"] or "") if "model" in data else None,
        "atri": bool(data["fast"]) if "fast" in data else None,
    }
    return commands.BY_NAME["iestatijumi"].text_of(values)


async def settings(request: HttpRequest) -> Response:
    """GET and POST /api/me/settings: the user's /iestatijumi."""
    web: Web = request.app.state.web
    user, by_cookie = await web.who(request)
    req = await web.service.web_request(user)
    if request.method == "POST":
        web.check_change(request, by_cookie)
        text = settings_text(await json_body(request))
        current = (
            await web.service.update_settings(req, text)
            if text
            else (await web.service.settings(req))
        )
    else:
        current = await web.service.settings(req)
    lang = ui_language(current, user, request.query_params.get("browser", ""))
    return JSONResponse({"settings": current, "lang": lang, "texts": ui_texts(lang)})


ROUTES = [
    Route("/api/me/jobs", my_jobs),
    Route("/api/me/settings", settings, methods=["GET", "POST"]),
    Route("/api/jobs/{job_id}", one_job),
    Route("/api/jobs/{job_id}/images/{n}", image),
    Route("/api/jobs/{job_id}/thumb", thumb),
    Route("/api/jobs/{job_id}/actions/{action}", act, methods=["POST"]),
]
