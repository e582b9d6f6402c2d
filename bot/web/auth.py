"""Who is asking, on the web (issues #23, #28). Three ways in, all checked here:

- **Telegram Mini App**: `Authorization: tma <initData>`. initData is validated as Telegram
  documents it: the data-check string (every field but `hash`, sorted, `key=value` lines) is
  signed with HMAC-SHA256 under the key HMAC-SHA256("WebAppData", bot token); `auth_date`
  may be at most 24 h old, and at most a minute in the future (clock skew).
- **One-time login links** (`/panelis`, `/galerija` off Telegram): `BASE/login/TOKEN` works
  once, within 10 minutes; failed tries are rate-limited per client (core/logins.py).
- **Sessions**: the cookie is a random session token signed with itsdangerous'
  `TimestampSigner` (12 hours); the session itself lives in SQLite (core/jobs/sessions.py),
  so it can be ended at once. A CSRF token derived from it guards every state change made
  with the cookie.

Every value compared here comes from the client: a non-ASCII one is refused as forged
before `hmac.compare_digest` (which raises TypeError on non-ASCII text) sees it.

Why our own initData check (principle 9): it is the dozen lines Telegram documents, and the
PyPI packages for it (init-data-py, telegram-webapp-auth, telegram-init-data) are young
single-maintainer projects; python-telegram-bot, which we use, has no helper, and aiogram's
would bring a second Telegram framework. tests/test_web_auth.py covers every way each can
fail.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Callable
from urllib.parse import parse_qsl

from itsdangerous import BadSignature, SignatureExpired, TimestampSigner

from core.logins import SESSION_TTL_S, AuthError, LoginLinks, WebUser

__all__ = [
    "AuthError",
    "LoginLinks",
    "SessionSigner",
    "WebUser",
    "check_csrf",
    "csrf_token",
    "sign_init_data",
    "validate_init_data",
]

INIT_DATA_MAX_AGE_S = 24 * 3600
CLOCK_SKEW_S = 60  # an auth_date up to this far in the future is the clocks disagreeing


def _hmac(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).digest()


def validate_init_data(
    init_data: str, bot_token: str, now: float | None = None, max_age_s: float = INIT_DATA_MAX_AGE_S
) -> WebUser:
    """The Telegram user an initData string was signed for. Raises AuthError."""
    if not init_data or not bot_token:
        raise AuthError("missing")
    fields = dict(parse_qsl(init_data, keep_blank_values=True, strict_parsing=False))
    given = fields.pop("hash", "")
    if not given:
        raise AuthError("missing hash")
    if not given.isascii():
        raise AuthError("bad hash")
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
    age = (time.time() if now is None else now) - auth_date
    if age > max_age_s:
        raise AuthError("expired")
    if age < -CLOCK_SKEW_S:
        raise AuthError("from the future")
    name, language = str(user.get("first_name", "")), str(user.get("language_code", ""))
    return WebUser(f"telegram:{user_id}", "gallery", name, language[:2].lower())


def sign_init_data(fields: dict[str, str], bot_token: str) -> str:
    """What Telegram does (for tests and the screenshots): `fields` with their `hash`."""
    from urllib.parse import urlencode

    check = "\n".join(f"{k}={v}" for k, v in sorted(fields.items()))
    digest = hmac.new(
        _hmac(b"WebAppData", bot_token), check.encode("utf-8"), hashlib.sha256
    ).hexdigest()
    return urlencode({**fields, "hash": digest})


class SessionSigner:
    """The session cookie: a session token signed with the server's secret and the time,
    valid `ttl_s`. `clock` is the signer's time (tests move it)."""

    def __init__(
        self, secret: bytes, ttl_s: float = SESSION_TTL_S, clock: Callable[[], float] = time.time
    ) -> None:
        self.secret = secret
        self.ttl_s = ttl_s

        class Signer(TimestampSigner):
            def get_timestamp(self) -> int:
                return int(clock())

        self._signer = Signer(secret, salt="zime-session")

    def sign(self, session: str) -> str:
        return self._signer.sign(session).decode("ascii")

    def read(self, cookie: str) -> str:
        """The session token in a cookie. Raises AuthError (missing, forged, expired)."""
        if not cookie:
            raise AuthError("missing")
        if not cookie.isascii():
            raise AuthError("bad signature")
        try:
            value: bytes = self._signer.unsign(cookie, max_age=int(self.ttl_s))
            return value.decode("ascii")
        except SignatureExpired as exc:
            raise AuthError("expired") from exc
        except (BadSignature, UnicodeDecodeError) as exc:
            raise AuthError("bad signature") from exc


def csrf_token(session: str, secret: bytes) -> str:
    """The token every state-changing request of this session must send back."""
    return _hmac(secret, "csrf:" + session).hex()


def check_csrf(session: str, token: str, secret: bytes) -> None:
    if not token or not token.isascii():
        raise AuthError("bad csrf token")
    if not hmac.compare_digest(csrf_token(session, secret), token):
        raise AuthError("bad csrf token")
