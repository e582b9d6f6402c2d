"""The web app (issue #23): the operator's dashboard, the user's gallery (a Telegram Mini App
too) and one JSON API under both. Starlette, Jinja2 templates and two small static scripts:
no JS build step. A frontend like Telegram's: it talks to `Service` and the button registry
only (bot/actions.py), so an action here runs exactly as the same button in a chat.

Who asks is decided once (`Web.who`): the session cookie (set by a one-time login link),
or `Authorization: tma <initData>` from the Mini App. A state change made with the cookie
must carry the session's CSRF token; one made with `tma` needs none (no browser sends that
header by itself).
"""

from __future__ import annotations

import hmac
import logging

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request as HttpRequest
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from bot.texts import error_text
from bot.web import api, dashboard, studio
from bot.web.auth import AuthError
from bot.web.guard import BodyLimit, HeaderGuard, allowed_hosts
from bot.web.state import COOKIE, CSP_APP, HERE, Web, client_of, json_body, language
from core.config import Config
from core.errors import (
    BadMask,
    Banned,
    InvalidPrompt,
    NotAdmin,
    NotFound,
    QueueFull,
    RateLimited,
    TooLarge,
    ZimeError,
)
from core.logins import ADMIN, SESSION_TTL_S
from core.service import Service

log = logging.getLogger("zime.web")


async def login(request: HttpRequest) -> Response:
    """BASE/login/TOKEN: once, within 10 minutes; sets the 12-hour session cookie."""
    web: Web = request.app.state.web
    try:
        token = request.path_params["token"]
        user, session = await web.service.redeem_login(token, client_of(request))
    except AuthError as exc:
        log.info("login refused: %s", exc.reason)
        return web.page("denied.html", code=401, reason=exc.reason)
    edit = request.query_params.get("edit", "")
    target = "/admin" if user.scope == ADMIN else "/app"
    if user.scope != ADMIN and edit.isascii() and edit.isdigit():  # /labot: the editor
        target = f"/app?edit={int(edit)}"
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(
        COOKIE,
        web.sessions.sign(session),
        max_age=int(SESSION_TTL_S),
        httponly=True,
        samesite="strict",
        secure=web.secure,
        path="/",
    )
    return response


WEBHOOK_PATH = "/telegram/webhook"


async def telegram_webhook(request: HttpRequest) -> Response:
    """POST BASE/telegram/webhook: an update from Telegram, which sends back the secret given
    to setWebhook in X-Telegram-Bot-Api-Secret-Token; any other request is 403."""
    web: Web = request.app.state.web
    if web.telegram_hook is None:
        return Response(status_code=404)
    secret, feed = web.telegram_hook
    given = request.headers.get("x-telegram-bot-api-secret-token", "")
    if not hmac.compare_digest(given.encode(), secret.encode()):
        return Response("forbidden", status_code=403, media_type="text/plain")
    await feed(await json_body(request))
    return Response(status_code=200)


async def logout(request: HttpRequest) -> Response:
    """POST /logout with the session's CSRF token: the session ends on the server now (a
    copy of the cookie no longer works), and the browser forgets the cookie."""
    web: Web = request.app.state.web
    form = await request.form()
    session = web.session(request)
    web.check_change(request, True, str(form.get("csrf", "")))
    await web.service.end_session(session)
    response = RedirectResponse("/", status_code=303)
    response.delete_cookie(COOKIE, path="/")
    return response


async def index(request: HttpRequest) -> Response:
    web: Web = request.app.state.web
    return web.page("index.html")


async def app_page(request: HttpRequest) -> Response:
    """The gallery: the Mini App (initData from Telegram, in the URL fragment) or a signed-in
    browser (the cookie); the page's script asks the API either way."""
    web: Web = request.app.state.web
    return web.page("app.html", csp=CSP_APP, csrf=web.csrf(request))


async def health(request: HttpRequest) -> Response:
    return JSONResponse({"ok": True})


def build_app(service: Service, config: Config, bot_token: str = "") -> Starlette:
    routes = [
        Route("/", index),
        Route("/healthz", health),
        Route("/login/{token}", login),
        Route("/logout", logout, methods=["POST"]),
        Route(WEBHOOK_PATH, telegram_webhook, methods=["POST"]),
        Route("/app", app_page),
        *api.ROUTES,
        *studio.ROUTES,
        *dashboard.ROUTES,
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    web = config.web
    middleware = [
        Middleware(HeaderGuard, hosts=allowed_hosts(web.public_url, web.host)),
        Middleware(
            BodyLimit,
            max_bytes=web.max_body_kb * 1024,
            larger=((studio.EDIT_PATH, max(studio.EDIT_BODY_BYTES, web.max_body_kb * 1024)),),
        ),
    ]
    handlers = {AuthError: auth_failed, ZimeError: zime_failed}
    app = Starlette(routes=routes, middleware=middleware, exception_handlers=handlers)
    app.state.web = Web(service, config, bot_token)
    return app


async def auth_failed(request: HttpRequest, exc: Exception) -> Response:
    web: Web = request.app.state.web
    reason = exc.reason if isinstance(exc, AuthError) else "denied"
    if reason == "banned":  # signed in well, but not allowed: the ban's own sentence
        return await zime_failed(request, Banned(reason))
    if request.url.path.startswith("/api/"):
        return JSONResponse({"error": "unauthorized", "reason": reason}, status_code=401)
    return web.page("denied.html", code=401, reason=reason)


async def zime_failed(request: HttpRequest, exc: Exception) -> Response:
    """A ZimeError as its status code and the user's sentence."""
    web: Web = request.app.state.web
    assert isinstance(exc, ZimeError)
    status = status_of(exc)
    text = error_text(exc, "en" if request.url.path.startswith("/admin") else language(request))
    if request.url.path.startswith("/api/"):
        return JSONResponse({"error": text}, status_code=status)
    return web.page("denied.html", code=status, reason=text)


def status_of(exc: ZimeError) -> int:
    if isinstance(exc, NotFound | NotAdmin):
        return 404
    if isinstance(exc, Banned):
        return 403
    if isinstance(exc, RateLimited | QueueFull):
        return 429
    if isinstance(exc, TooLarge) or (isinstance(exc, BadMask) and exc.problem == "too_big"):
        return 413
    if isinstance(exc, InvalidPrompt):
        return 400
    return 409
