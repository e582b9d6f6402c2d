"""One-time login links and who they sign in (issue #23). They live beside `Service`, which
issues them (/panelis, /galerija on every frontend) and redeems them (the web app's
`/login/TOKEN`): no web framework is needed for either."""

from __future__ import annotations

import secrets
import time
from collections import deque
from dataclasses import dataclass, field

LOGIN_TTL_S = 600
SESSION_TTL_S = 12 * 3600  # a web session (its cookie, and its row in web_sessions)
LOGIN_TRIES_PER_MINUTE = 10
ADMIN, GALLERY = "admin", "gallery"  # the dashboard; one user's own drawings


class AuthError(Exception):
    """Missing, forged, expired or used: the request gets 401. `reason` says which (logs)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class WebUser:
    """A signed-in person: their platform user key ("telegram:42") and what they may see."""

    user_key: str
    scope: str  # "admin": the dashboard; "gallery": their own drawings only
    name: str = ""
    language: str = ""  # the Telegram client's (initData language_code), when known


@dataclass
class LoginLinks:
    """One-time login tokens, in memory (a restart voids them: ask for a new link)."""

    ttl_s: float = LOGIN_TTL_S
    tries_per_minute: int = LOGIN_TRIES_PER_MINUTE
    _tokens: dict[str, tuple[WebUser, float]] = field(default_factory=dict)
    _failures: dict[str, deque[float]] = field(default_factory=dict)

    def issue(self, user: WebUser, now: float | None = None) -> str:
        now = time.time() if now is None else now
        self._tokens = {t: v for t, v in self._tokens.items() if v[1] > now}  # drop expired
        token = secrets.token_urlsafe(24)
        self._tokens[token] = (user, now + self.ttl_s)
        return token

    def redeem(self, token: str, client: str = "", now: float | None = None) -> WebUser:
        """The user the token was issued to; the token is gone after this. Raises AuthError
        (unknown, used, expired, or too many failed tries from `client`)."""
        now = time.time() if now is None else now
        self._prune(now)
        failures = self._failures.setdefault(client, deque())
        if len(failures) >= self.tries_per_minute:
            raise AuthError("rate limited")
        found = self._tokens.pop(token, None)
        if found is None or found[1] <= now:
            failures.append(now)
            raise AuthError("used or unknown" if found is None else "expired")
        return found[0]

    def _prune(self, now: float) -> None:
        """Forget failures older than a minute, and clients left with none: the map holds
        only the last minute's failing clients, however many have come and gone."""
        for client in list(self._failures):
            failures = self._failures[client]
            while failures and failures[0] < now - 60:
                failures.popleft()
            if not failures:
                del self._failures[client]

    @property
    def failing_clients(self) -> int:
        return len(self._failures)
