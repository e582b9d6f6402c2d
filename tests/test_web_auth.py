"""The web's ways in (issue #23, bot/web/auth.py): every auth failure is refused."""

from __future__ import annotations

import hashlib
import hmac
import json
from urllib.parse import parse_qsl, urlencode

import pytest

from bot.web.auth import (
    AuthError,
    LoginLinks,
    SessionSigner,
    WebUser,
    check_csrf,
    csrf_token,
    sign_init_data,
    validate_init_data,
)

TOKEN = "123:TEST"
NOW = 1_790_000_000.0


def init_data(user_id: int = 42, auth_date: float = NOW - 60) -> str:
    user = json.dumps({"id": user_id, "first_name": "Anna"}, separators=(",", ":"))
    return sign_init_data(
        {"auth_date": str(int(auth_date)), "query_id": "AAE", "user": user}, TOKEN
    )


def test_signed_init_data_names_the_telegram_user() -> None:
    user = validate_init_data(init_data(), TOKEN, now=NOW)
    assert user == WebUser("telegram:42", "gallery", "Anna")


def test_the_signature_is_telegrams_own_algorithm() -> None:
    """Written out independently of sign_init_data: the documented steps."""
    fields = dict(parse_qsl(init_data()))
    given = fields.pop("hash")
    check = "\n".join(f"{k}={fields[k]}" for k in sorted(fields))
    key = hmac.new(b"WebAppData", TOKEN.encode(), hashlib.sha256).digest()
    assert hmac.new(key, check.encode(), hashlib.sha256).hexdigest() == given


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ("", "missing"),
        (urlencode({"auth_date": str(int(NOW)), "user": '{"id":1}'}), "missing hash"),
        (init_data().replace("Anna", "Olga"), "bad hash"),  # tampered
        (init_data(user_id=7).replace("%3A7%2C", "%3A8%2C"), "bad hash"),  # another user
        (init_data(auth_date=NOW - 25 * 3600), "expired"),
        (init_data(auth_date=NOW + 10 * 365 * 86400), "from the future"),
        (init_data(auth_date=NOW + 120), "from the future"),  # past the minute of skew
        (init_data().rsplit("=", 1)[0] + "=%E9" * 64, "bad hash"),  # non-ASCII: no TypeError
        (sign_init_data({"auth_date": "soon", "user": "{}"}, TOKEN), "malformed"),
    ],
)
def test_bad_init_data_is_refused(data: str, reason: str) -> None:
    with pytest.raises(AuthError) as err:
        validate_init_data(data, TOKEN, now=NOW)
    assert err.value.reason == reason


def test_init_data_is_good_for_a_day_and_a_minute_of_skew() -> None:
    """The age limit is 24 hours (not minutes): a Mini App left open all afternoon works."""
    for auth_date in (NOW - 23 * 3600, NOW - 2 * 3600, NOW + 50):
        assert validate_init_data(init_data(auth_date=auth_date), TOKEN, now=NOW).user_key


def test_init_data_signed_for_another_bot_is_refused() -> None:
    with pytest.raises(AuthError, match="bad hash"):
        validate_init_data(init_data(), "999:OTHER", now=NOW)


def test_a_login_link_works_once_within_ten_minutes() -> None:
    links = LoginLinks()
    admin = WebUser("telegram:1", "admin")
    token = links.issue(admin, now=NOW)
    assert links.redeem(token, "1.2.3.4", now=NOW + 599) == admin
    with pytest.raises(AuthError, match="used"):
        links.redeem(token, "1.2.3.4", now=NOW + 600)  # reused
    late = links.issue(admin, now=NOW)
    with pytest.raises(AuthError, match="expired"):
        links.redeem(late, "1.2.3.4", now=NOW + 601)


def test_guessing_login_tokens_is_rate_limited() -> None:
    links = LoginLinks(tries_per_minute=3)
    good = links.issue(WebUser("telegram:1", "admin"), now=NOW)
    for n in range(3):
        with pytest.raises(AuthError, match="used or unknown"):
            links.redeem(f"guess-{n}", "6.6.6.6", now=NOW + n)
    with pytest.raises(AuthError, match="rate limited"):
        links.redeem(good, "6.6.6.6", now=NOW + 4)  # even the right one, for a minute
    assert links.redeem(good, "1.2.3.4", now=NOW + 4).scope == "admin"  # another client


def test_the_failure_map_keeps_only_the_last_minutes_failing_clients() -> None:
    links = LoginLinks()
    for n in range(500):  # 500 clients each fail once
        with pytest.raises(AuthError):
            links.redeem("guess", f"10.0.{n // 250}.{n % 250}", now=NOW)
    assert links.failing_clients == 500
    token = links.issue(WebUser("telegram:1", "admin"), now=NOW + 61)
    links.redeem(token, "1.2.3.4", now=NOW + 61)
    assert links.failing_clients <= 1  # a minute later: pruned


def test_session_cookies_are_signed_expire_and_carry_a_csrf_token() -> None:
    secret = b"s" * 32
    clock = [NOW]
    signer = SessionSigner(secret, clock=lambda: clock[0])
    cookie = signer.sign("token-1")
    clock[0] = NOW + 3600
    assert signer.read(cookie) == "token-1"
    clock[0] = NOW + 12 * 3600 + 1
    with pytest.raises(AuthError, match="expired"):
        signer.read(cookie)
    clock[0] = NOW
    forged = SessionSigner(b"x" * 32, clock=lambda: NOW).sign("token-1")
    bad_signature = cookie[:-2] + "\xe9\xe9"
    for bad in ("", "nonsense", forged, cookie.replace("token-1", "token-2"), bad_signature):
        with pytest.raises(AuthError):
            signer.read(bad)
    token = csrf_token("token-1", secret)
    check_csrf("token-1", token, secret)
    for wrong in ("", token[:-1] + "0", csrf_token("token-2", secret), "\xe9" * 64):
        with pytest.raises(AuthError, match="csrf"):
            check_csrf("token-1", wrong, secret)
