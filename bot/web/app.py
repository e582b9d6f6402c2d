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

import logging
import secrets
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.applications import Starlette
from starlette.requests import Request as HttpRequest
from starlette.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    Response,
)
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

from bot.web.auth import (
    AuthError,
    WebUser,
    check_csrf,
    csrf_token,
    read_session,
    sign_session,
    validate_init_data,
)
from core.config import Config
from core.errors import NotAdmin, NotFound, ZimeError
from core.logins import ADMIN
from core.service import Service

log = logging.getLogger("zime.web")
HERE = Path(__file__).resolve().parent
COOKIE = "zime_session"
# No inline script or style anywhere: the pages load /static/*.js and *.css only.
CSP_PAGE = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
            "object-src 'none'; base-uri 'none'; form-action 'self'")  # fmt: skip
CSP_DASHBOARD = CSP_PAGE + "; frame-ancestors 'none'"
# The gallery fetches its images with the API's auth and shows them as blob: URLs.
CSP_APP = (CSP_PAGE.replace("img-src 'self' data:", "img-src 'self' data: blob:")
           + "; frame-ancestors 'self' https://web.telegram.org https://*.telegram.org")  # fmt: skip


class Web:
    """The app's state: the service, the secret that signs sessions, the templates."""

    def __init__(self, service: Service, config: Config, bot_token: str = "") -> None:
        self.service = service
        self.config = config
        self.bot_token = bot_token
        self.secret = (config.web.secret or secrets.token_hex(32)).encode("utf-8")
        self.secure = config.web.base_url.startswith("https://")
        self.templates = Environment(loader=FileSystemLoader(HERE / "templates"),
                                     autoescape=select_autoescape(["html"]))  # fmt: skip

    # who asks
    def who(self, request: HttpRequest) -> tuple[WebUser, bool]:
        """The signed-in user, and whether by cookie (then a change needs the CSRF token).
        Raises AuthError."""
        auth = request.headers.get("authorization", "")
        if auth:
            kind, _, data = auth.partition(" ")
            if kind.lower() != "tma":
                raise AuthError("unknown authorization")
            return validate_init_data(data.strip(), self.bot_token), False
        return read_session(request.cookies.get(COOKIE, ""), self.secret), True

    def csrf(self, request: HttpRequest) -> str:
        return csrf_token(request.cookies.get(COOKIE, ""), self.secret)

    async def check_change(self, request: HttpRequest, by_cookie: bool, token: str = "") -> None:
        """A POST made with the cookie carries the CSRF token (header, or form field)."""
        if by_cookie:
            given = token or request.headers.get("x-csrf-token", "")
            check_csrf(request.cookies.get(COOKIE, ""), given, self.secret)

    def admin(self, request: HttpRequest) -> WebUser:
        user, _ = self.who(request)
        if user.scope != ADMIN:
            raise NotAdmin(user.user_key)
        return user

    def page(self, template: str, csp: str = CSP_DASHBOARD, code: int = 200,
             **values: Any) -> HTMLResponse:  # fmt: skip
        body = self.templates.get_template(template).render(**values)
        return HTMLResponse(body, status_code=code, headers=security_headers(csp))


def security_headers(csp: str) -> dict[str, str]:
    return {"Content-Security-Policy": csp, "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}  # fmt: skip


def client_of(request: HttpRequest) -> str:
    return request.client.host if request.client else ""


async def login(request: HttpRequest) -> Response:
    """BASE/login/TOKEN: once, within 10 minutes; sets the 12-hour session cookie."""
    web: Web = request.app.state.web
    try:
        user = web.service.redeem_login(request.path_params["token"], client_of(request))
    except AuthError as exc:
        log.info("login refused: %s", exc.reason)
        return web.page("denied.html", code=401, reason=exc.reason)
    target = "/admin" if user.scope == ADMIN else "/app"
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(COOKIE, sign_session(user, web.secret), max_age=12 * 3600,
                        httponly=True, samesite="strict", secure=web.secure, path="/")  # fmt: skip
    return response


async def logout(request: HttpRequest) -> Response:
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
    csrf = web.csrf(request) if request.cookies.get(COOKIE) else ""
    return web.page("app.html", csp=CSP_APP, csrf=csrf)


async def health(request: HttpRequest) -> Response:
    return JSONResponse({"ok": True})


def build_app(service: Service, config: Config, bot_token: str = "") -> Starlette:
    from bot.web import api, dashboard

    routes = [
        Route("/", index),
        Route("/healthz", health),
        Route("/login/{token}", login),
        Route("/logout", logout, methods=["POST", "GET"]),
        Route("/app", app_page),
        *api.ROUTES,
        *dashboard.ROUTES,
        Mount("/static", StaticFiles(directory=HERE / "static"), name="static"),
    ]
    app = Starlette(routes=routes, exception_handlers={
        AuthError: auth_failed, ZimeError: zime_failed})  # fmt: skip
    app.state.web = Web(service, config, bot_token)
    return app


async def auth_failed(request: HttpRequest, exc: Exception) -> Response:
    web: Web = request.app.state.web
    reason = exc.reason if isinstance(exc, AuthError) else "denied"
    if request.url.path.startswith("/api/"):
        return JSONResponse({"error": "unauthorized", "reason": reason}, status_code=401)
    return web.page("denied.html", code=401, reason=reason)


async def zime_failed(request: HttpRequest, exc: Exception) -> Response:
    """A ZimeError as its status code and the user's sentence."""
    from bot.texts import error_text
    from core.errors import InvalidPrompt, QueueFull, RateLimited

    web: Web = request.app.state.web
    assert isinstance(exc, ZimeError)
    status = (404 if isinstance(exc, NotFound | NotAdmin) else 429
              if isinstance(exc, RateLimited | QueueFull) else 400
              if isinstance(exc, InvalidPrompt) else 409)  # fmt: skip
    text = error_text(exc, "en" if request.url.path.startswith("/admin") else language(request))
    if request.url.path.startswith("/api/"):
        return JSONResponse({"error": text}, status_code=status)
    return web.page("denied.html", code=status, reason=text)


def language(request: HttpRequest) -> str:
    """The user's language for an error sentence: the browser's (a Mini App runs in the
    Telegram client's language), if Zīme speaks it; else Latvian."""
    for part in request.headers.get("accept-language", "").split(","):
        code = part.split(";")[0].strip()[:2].lower()
        if code in ("lv", "ru", "en"):
            return code
    return "lv"


def file_response(path: str) -> Response:
    return FileResponse(path, media_type="image/png",
                        headers={"Cache-Control": "private, max-age=3600"})  # fmt: skip
