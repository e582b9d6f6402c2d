"""The operator's dashboard at BASE/admin: overview, jobs (with a page per job), flagged
images, users, concepts, model reload. Signed in with /panelis; every change is a POST
form carrying the session's CSRF token, answered with a redirect back (no script needed)."""

from __future__ import annotations

import time
from typing import Any
from urllib.parse import urlencode

from starlette.requests import Request as HttpRequest
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from bot.locale import N_
from bot.web.api import job_json, run_action
from bot.web.auth import WebUser
from bot.web.state import Web, file_response, job_id_of, number
from bot.web.studio import job_words
from core.errors import BadArgument, NotFound
from core.jobs.job import Request, Status
from core.pages import request_of

STATUSES = [str(s) for s in Status]


async def admin_request(web: Web, http: HttpRequest) -> Request:
    return request_of(await web.admin(http))


async def _render(web: Web, http: HttpRequest, template: str, **values: Any) -> Response:
    return web.page(template, csrf=web.csrf(http), now=time.time(), **values)


async def overview(http: HttpRequest) -> Response:
    web: Web = http.app.state.web
    req = await admin_request(web, http)
    return await _render(
        web,
        http,
        "overview.html",
        page="overview",
        data=await web.service.dashboard(req),
        runners=web.service.runners(req),
        models=web.service.model_queues(req),
        queue=web.service.queue(req),
        sessions=await web.service.live_sessions(req),
    )


async def jobs(http: HttpRequest) -> Response:
    web: Web = http.app.state.web
    req = await admin_request(web, http)
    q = http.query_params
    status = q.get("status", "")
    if status and status not in STATUSES:
        raise BadArgument("status", N_("a job status"), "done")
    user_key = q.get("user", "").strip()
    before = number(q.get("before"))
    found = await web.service.browse(req, status, user_key, 50, before)
    more = (
        f"?{urlencode({'status': status, 'user': user_key, 'before': found[-1].id})}"
        if len(found) == 50
        else ""
    )
    return await _render(
        web,
        http,
        "jobs.html",
        page="jobs",
        jobs=[job_json(j) for j in found],
        status=status,
        user=user_key,
        statuses=STATUSES,
        more=more,
    )


async def job_page(http: HttpRequest) -> Response:
    web: Web = http.app.state.web
    user = await web.admin(http)
    job_id = job_id_of(http)
    job = await web.service.web_job(user, job_id)
    parents, children = await web.service.lineage(user, job)
    timings = {
        "waited": job.wait_s,
        "drew": job.draw_s,
        "total": (job.finished_at - job.created_at) if job.finished_at else None,
    }
    return await _render(
        web,
        http,
        "job.html",
        page="jobs",
        job=job_json(job),
        raw=job,
        lineage=[job_json(j) for j in parents],
        children=[job_json(j) for j in children],
        timings=timings,
        error=job.error,
        words=job_words(job, "en", web.service.model_display(job.model)),
    )


async def flagged(http: HttpRequest) -> Response:
    web: Web = http.app.state.web
    req = await admin_request(web, http)
    found = await web.service.browse(
        req, "", "", 50, number(http.query_params.get("before")), flagged=True
    )
    return await _render(
        web, http, "flagged.html", page="flagged", jobs=[job_json(j) for j in found]
    )


async def users(http: HttpRequest) -> Response:
    web: Web = http.app.state.web
    req = await admin_request(web, http)
    offset = number(http.query_params.get("offset"), 0) or 0
    found = await web.service.user_list(req, 100, offset)
    return await _render(
        web, http, "users.html", page="users", users=found, offset=offset, more=len(found) == 100
    )


async def concepts(http: HttpRequest) -> Response:
    web: Web = http.app.state.web
    req = await admin_request(web, http)
    return await _render(
        web, http, "concepts.html", page="concepts", concepts=web.service.concept_list(req)
    )


async def concept_sheet(http: HttpRequest) -> Response:
    web: Web = http.app.state.web
    req = await admin_request(web, http)
    return file_response(web.service.concept_sheet(req, http.path_params["token"]))


async def _form(web: Web, http: HttpRequest) -> tuple[WebUser, Any]:
    """An admin's POST form, its CSRF token checked."""
    user = await web.admin(http)
    form = await http.form()
    web.check_change(http, True, str(form.get("csrf", "")))
    return user, form


def back(http: HttpRequest, default: str) -> Response:
    target = http.headers.get("referer", "")
    path = "/" + target.split("/", 3)[3] if target.count("/") >= 3 else default
    return RedirectResponse(path if path.startswith("/admin") else default, status_code=303)


async def job_action(http: HttpRequest) -> Response:
    """🔁, 🗑 and the other result buttons on a job's page (the one route per action, as
    the API's): the new job's page, or back where 🗑 was pressed."""
    web: Web = http.app.state.web
    user, _ = await _form(web, http)
    job_id = job_id_of(http)
    new = await run_action(web, user, job_id, http.path_params["action"])
    if new is None:
        return back(http, f"/admin/jobs/{job_id}")
    return RedirectResponse(f"/admin/jobs/{new}", status_code=303)


async def ban(http: HttpRequest) -> Response:
    web: Web = http.app.state.web
    user, form = await _form(web, http)
    req = request_of(user)
    platform, _, user_id = str(form.get("user", "")).partition(":")
    if not platform or not user_id:
        raise BadArgument("user", N_("a user (platform:id)"), "telegram:42")
    # from the dashboard's own lists: a known user, or one an admin names on purpose
    banned = form.get("banned") == "1"
    await web.service.set_banned(req, platform, user_id, banned, force=True)
    return back(http, "/admin/users")


async def concept_change(http: HttpRequest) -> Response:
    web: Web = http.app.state.web
    user, _ = await _form(web, http)
    req = request_of(user)
    token, change = http.path_params["token"], http.path_params["change"]
    if change == "install":
        await web.service.install_concept(req, token)
    elif change == "remove":
        await web.service.remove_concept(req, token)
    else:
        raise NotFound(change)
    return RedirectResponse("/admin/concepts", status_code=303)


async def end_session(http: HttpRequest) -> Response:
    """ "End" on the overview's session list: that session stops working now."""
    web: Web = http.app.state.web
    user, _ = await _form(web, http)
    session_id = number(http.path_params["session_id"], what="session") or 0
    await web.service.end_session_by_id(request_of(user), session_id)
    return RedirectResponse("/admin", status_code=303)


async def reload(http: HttpRequest) -> Response:
    web: Web = http.app.state.web
    user, form = await _form(web, http)
    req = request_of(user)
    model = str(form.get("model", "")).strip() or None
    await web.service.reload(req, model)
    return RedirectResponse("/admin", status_code=303)


ROUTES = [
    Route("/admin", overview),
    Route("/admin/jobs", jobs),
    Route("/admin/jobs/{job_id}", job_page),
    Route("/admin/jobs/{job_id}/actions/{action}", job_action, methods=["POST"]),
    Route("/admin/flagged", flagged),
    Route("/admin/users", users),
    Route("/admin/users/ban", ban, methods=["POST"]),
    Route("/admin/concepts", concepts),
    Route("/admin/concepts/{token}/sheet", concept_sheet),
    Route("/admin/concepts/{token}/{change}", concept_change, methods=["POST"]),
    Route("/admin/reload", reload, methods=["POST"]),
    Route("/admin/sessions/{session_id}/end", end_session, methods=["POST"]),
]
