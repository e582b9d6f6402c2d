"""What every route of the web app shares: who asks (`Web.who`), the page renderer with its
security headers, and the strict readers of numbers and JSON bodies. The routes (app.py,
api.py, dashboard.py) import this module; it imports none of them."""

from __future__ import annotations

import json
import re
import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request as HttpRequest
from starlette.responses import FileResponse, HTMLResponse, Response

from bot.locale import N_
from bot.web.auth import (
    AuthError,
    SessionSigner,
    WebUser,
    check_csrf,
    csrf_token,
    validate_init_data,
)
from core.config import Config
from core.errors import BadArgument, NotAdmin, NotFound
from core.logins import ADMIN
from core.service import Service

HERE = Path(__file__).resolve().parent
COOKIE = "zime_session"
# No inline script or style anywhere: the pages load /static/*.js and *.css only.
CSP_PAGE = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "object-src 'none'; base-uri 'none'; form-action 'self'"
)
CSP_DASHBOARD = CSP_PAGE + "; frame-ancestors 'none'"
# The gallery fetches its images with the API's auth and shows them as blob: URLs.
CSP_APP = (
    CSP_PAGE.replace("img-src 'self' data:", "img-src 'self' data: blob:")
    + "; frame-ancestors 'self' https://web.telegram.org https://*.telegram.org"
)
_NUMBER = re.compile(r"[0-9]{1,18}")  # ASCII digits only: int() also takes '٣' and '３'


Feed = Callable[[dict[str, Any]], Awaitable[None]]  # a Telegram update, as JSON


class Web:
    """The app's state: the service, the session signer, the templates."""

    def __init__(self, service: Service, config: Config, bot_token: str = "") -> None:
        self.service = service
        self.config = config
        self.bot_token = bot_token
        self.secret = (config.web.secret or secrets.token_hex(32)).encode("utf-8")
        self.sessions = SessionSigner(self.secret)
        self.streams: dict[str, int] = {}  # open event streams per user (bot/web/studio.py)
        self.telegram_hook: tuple[str, Feed] | None = None  # the webhook's secret and feed
        self.secure = config.web.base_url.startswith("https://")
        self.templates = Environment(
            loader=FileSystemLoader(HERE / "templates"), autoescape=select_autoescape(["html"])
        )
        self.templates.filters["ago"] = ago

    # who asks
    async def who(self, request: HttpRequest) -> tuple[WebUser, bool]:
        """The signed-in user, and whether by cookie (then a change needs the CSRF token).
        Raises AuthError: no or bad credentials, an ended session, a banned user."""
        auth = request.headers.get("authorization", "")
        if auth:
            kind, _, data = auth.partition(" ")
            if kind.lower() != "tma":
                raise AuthError("unknown authorization")
            user = validate_init_data(data.strip(), self.bot_token)
            await self.service.check_web_user(user)
            return user, False
        return await self.service.session_user(self.session(request)), True

    def session(self, request: HttpRequest) -> str:
        """The session token of the request's cookie. Raises AuthError."""
        return self.sessions.read(request.cookies.get(COOKIE, ""))

    def csrf(self, request: HttpRequest) -> str:
        try:
            return csrf_token(self.session(request), self.secret)
        except AuthError:
            return ""

    def check_change(self, request: HttpRequest, by_cookie: bool, token: str = "") -> None:
        """A POST made with the cookie carries the CSRF token (header, or form field)."""
        if by_cookie:
            given = token or request.headers.get("x-csrf-token", "")
            check_csrf(self.session(request), given, self.secret)

    async def admin(self, request: HttpRequest) -> WebUser:
        user, _ = await self.who(request)
        if user.scope != ADMIN:
            raise NotAdmin(user.user_key)
        return user

    def page(
        self, template: str, csp: str = CSP_DASHBOARD, code: int = 200, **values: Any
    ) -> HTMLResponse:
        body = self.templates.get_template(template).render(**values)
        return HTMLResponse(body, status_code=code, headers=security_headers(csp))


def ago(then: float, now: float) -> str:
    """How long ago, as a person says it: "just now", "5 min ago", "3 h ago", "2 days ago"."""
    seconds = max(0.0, now - then)
    if seconds < 60:
        return "just now"
    if seconds < 3600:
        return f"{int(seconds // 60)} min ago"
    if seconds < 86400:
        return f"{int(seconds // 3600)} h ago"
    days = int(seconds // 86400)
    return f"{days} day{'s' if days > 1 else ''} ago"


def security_headers(csp: str) -> dict[str, str]:
    return {
        "Content-Security-Policy": csp,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": "no-referrer",
        "Cache-Control": "no-store",
    }


def client_of(request: HttpRequest) -> str:
    """The client's address (uvicorn took it from X-Forwarded-For only when the connection
    came from one of `[web] trusted_proxies`)."""
    return request.client.host if request.client else ""


def file_response(path: str) -> Response:
    return FileResponse(
        path, media_type="image/png", headers={"Cache-Control": "private, max-age=3600"}
    )


def number(value: str | None, default: int | None = None, what: str = "?") -> int | None:
    """A whole number from a URL (a path part, a query value): ASCII digits only, up to 18
    of them; anything else is BadArgument (400)."""
    if value is None or value == "":
        return default
    if not _NUMBER.fullmatch(value):
        raise BadArgument(what, N_("a whole number"), "20")
    return int(value)


def job_id_of(request: HttpRequest) -> int:
    """The job id in the path: a malformed one is 400, zero is 404."""
    value = number(request.path_params["job_id"], what="job")
    if not value:
        raise NotFound("job")
    return value


async def json_body(request: HttpRequest) -> dict[str, Any]:
    """The request's JSON object ({} for none). Malformed, not an object, or nested past
    the parser's recursion limit: BadArgument (400)."""
    raw = await request.body()
    if not raw:
        return {}
    try:
        data = json.loads(raw)
    except (ValueError, RecursionError) as exc:
        raise BadArgument("body", N_("a JSON object"), "{}") from exc
    if not isinstance(data, dict):
        raise BadArgument("body", N_("a JSON object"), "{}")
    return data


def language(request: HttpRequest) -> str:
    """The user's language for an error sentence: the browser's (a Mini App runs in the
    Telegram client's language), if Zīme speaks it; else Latvian."""
    for part in request.headers.get("accept-language", "").split(","):
        code = part.split(";")[0].strip()[:2].lower()
        if code in ("lv", "ru", "en"):
            return code
    return "lv"
