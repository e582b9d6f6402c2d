"""Who is asking, on the web (issue #23). Three ways in, all checked here:

- **Telegram Mini App**: `Authorization: tma <initData>`. initData is validated as Telegram
  documents it: the data-check string (every field but `hash`, sorted, `key=value` lines) is
  signed with HMAC-SHA256 under the key HMAC-SHA256("WebAppData", bot token); `auth_date`
  may be at most 24 h old.
- **One-time login links** (`/panelis`, `/galerija` off Telegram): `BASE/login/TOKEN` works
  once, within 10 minutes; failed tries are rate-limited per client.
- **Sessions**: a cookie signed with the server's secret, valid 12 hours, with a CSRF token
  derived from it for every state change made with the cookie.

Pure functions and one small in-memory class: no web framework is needed to test them.

Why our own code (principle 9): the initData check is the dozen lines Telegram documents,
and the PyPI packages for it (init-data-py, telegram-webapp-auth, telegram-init-data) are
young single-maintainer projects; python-telegram-bot, which we use, has no helper, and
aiogram's would bring a second Telegram framework. Sessions are one HMAC over a JSON list
with an expiry we can test with an injected clock (itsdangerous' timed signer reads the
clock itself). tests/test_web_auth.py covers every way each can fail.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from urllib.parse import parse_qsl

from core.logins import AuthError, LoginLinks, WebUser

__all__ = [
    "AuthError",
    "LoginLinks",
    "WebUser",
    "check_csrf",
    "csrf_token",
    "read_session",
    "sign_init_data",
    "sign_session",
    "validate_init_data",
]

INIT_DATA_MAX_AGE_S = 24 * 3600
SESSION_TTL_S = 12 * 3600


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).digest()


def validate_init_data(init_data: str, bot_token: str, now: float | None = None,
                       max_age_s: float = INIT_DATA_MAX_AGE_S) -> WebUser:  # fmt: skip
    """The Telegram user an initData string was signed for. Raises AuthError."""
    if not init_data or not bot_token:
        raise AuthError("missing")
    fields = dict(parse_qsl(init_data, keep_blank_values=True, strict_parsing=False))
    given = fields.pop("hash", "")
    if not given:
        raise AuthError("missing hash")
    check = "\n".join(f"{k}={v}" for k, v in sorted(fields.items()))
    secret = _hmac(b"WebAppData", bot_token)
    expected = hmac.new(secret, check.encode("utf-8"), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(expected, given):
        raise AuthError("bad hash")
    try:
        auth_date = int(fields.get("auth_date", ""))
        user = json.loads(fields.get("user", ""))
        user_id = int(user["id"])
    except (ValueError, KeyError, TypeError) as exc:
        raise AuthError("malformed") from exc
    if (time.time() if now is None else now) - auth_date > max_age_s:
        raise AuthError("expired")
    return WebUser(f"telegram:{user_id}", "gallery", str(user.get("first_name", "")))


def sign_init_data(fields: dict[str, str], bot_token: str) -> str:
    """What Telegram does (for tests and the screenshots): `fields` with their `hash`."""
    from urllib.parse import urlencode

    check = "\n".join(f"{k}={v}" for k, v in sorted(fields.items()))
    digest = hmac.new(_hmac(b"WebAppData", bot_token), check.encode("utf-8"),
                      hashlib.sha256).hexdigest()  # fmt: skip
    return urlencode({**fields, "hash": digest})


def sign_session(user: WebUser, secret: bytes, now: float | None = None,
                 ttl_s: float = SESSION_TTL_S) -> str:  # fmt: skip
    """A session cookie value: the user, the scope and the expiry, signed."""
    expires = int((time.time() if now is None else now) + ttl_s)
    payload = base64.urlsafe_b64encode(
        json.dumps([user.user_key, user.scope, user.name, expires]).encode("utf-8")
    ).decode("ascii")
    return f"{payload}.{base64.urlsafe_b64encode(_hmac(secret, payload)).decode('ascii')}"


def read_session(cookie: str, secret: bytes, now: float | None = None) -> WebUser:
    """The user of a session cookie. Raises AuthError (missing, forged, expired)."""
    if not cookie or "." not in cookie:
        raise AuthError("missing")
    payload, signature = cookie.rsplit(".", 1)
    expected = base64.urlsafe_b64encode(_hmac(secret, payload)).decode("ascii")
    if not hmac.compare_digest(expected, signature):
        raise AuthError("bad signature")
    try:
        user_key, scope, name, expires = json.loads(base64.urlsafe_b64decode(payload))
    except (ValueError, TypeError) as exc:
        raise AuthError("malformed") from exc
    if (time.time() if now is None else now) >= int(expires):
        raise AuthError("expired")
    return WebUser(str(user_key), str(scope), str(name))


def csrf_token(cookie: str, secret: bytes) -> str:
    """The token every state-changing form of this session must send back."""
    return _hmac(secret, "csrf:" + cookie).hex()


def check_csrf(cookie: str, token: str, secret: bytes) -> None:
    if not token or not hmac.compare_digest(csrf_token(cookie, secret), token):
        raise AuthError("bad csrf token")
