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
    WebUser,
    check_csrf,
    csrf_token,
    read_session,
    sign_init_data,
    sign_session,
    validate_init_data,
)

TOKEN = "123:TEST"
NOW = 1_790_000_000.0


def init_data(user_id: int = 42, auth_date: float = NOW - 60) -> str:
    user = json.dumps({"id": user_id, "first_name": "Anna"}, separators=(",", ":"))
    return sign_init_data({"auth_date": str(int(auth_date)), "query_id": "AAE", "user": user},
                          TOKEN)  # fmt: skip


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
        (sign_init_data({"auth_date": "soon", "user": "{}"}, TOKEN), "malformed"),
    ],
)
def test_bad_init_data_is_refused(data: str, reason: str) -> None:
    with pytest.raises(AuthError) as err:
        validate_init_data(data, TOKEN, now=NOW)
    assert err.value.reason == reason


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


def test_sessions_are_signed_expire_and_carry_a_csrf_token() -> None:
    secret = b"s" * 32
    user = WebUser("discord:9", "gallery", "Jānis")
    cookie = sign_session(user, secret, now=NOW)
    assert read_session(cookie, secret, now=NOW + 3600) == user
    with pytest.raises(AuthError, match="expired"):
        read_session(cookie, secret, now=NOW + 12 * 3600)
    signature = cookie.rsplit(".", 1)[1]
    forged = sign_session(WebUser("discord:9", "admin"), b"x" * 32, now=NOW)
    for bad in ("", "nonsense", forged, f"{forged.split('.')[0]}.{signature}"):
        with pytest.raises(AuthError):
            read_session(bad, secret, now=NOW)
    token = csrf_token(cookie, secret)
    check_csrf(cookie, token, secret)
    for wrong in ("", token[:-1] + "0", csrf_token(forged, secret)):
        with pytest.raises(AuthError, match="csrf"):
            check_csrf(cookie, wrong, secret)
