"""The third red-team round (issue #28) against the web app, over real HTTP: bodies are
capped unread, idle and slow connections are closed under a connection cap, sessions end on
the server, forwarded headers are believed only from configured proxies, malformed input is
a 400 (never a 500), thumbnails are made per request, and shutdown does not wait for slow
uploads."""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path

import httpx
import pytest

from bot.texts import error_text
from core.errors import TooLarge
from tests.web_helpers import BOT_TOKEN, init_data, site


def client(base: str, **kw: object) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=base, follow_redirects=False, timeout=30, **kw)  # type: ignore[arg-type]


def tma(user_id: int) -> dict[str, str]:
    return {"Authorization": f"tma {init_data(user_id)}", "Accept-Language": "en"}


async def csrf_of(http: httpx.AsyncClient, page: str) -> str:
    html = (await http.get(page)).text
    marker = 'name="csrf" value="' if 'name="csrf"' in html else 'name="csrf-token" content="'
    return html.split(marker, 1)[1].split('"', 1)[0]


async def eventually(check: object, timeout: float = 20.0) -> None:
    """Wait for `check()` (sync or async) to be true, with a deadline."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()  # type: ignore[operator]
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        assert time.monotonic() < deadline, "the condition did not come true in time"
        await asyncio.sleep(0.05)


def port_of(base: str) -> int:
    return int(base.rsplit(":", 1)[1])


# W1: bodies
async def test_a_declared_huge_body_is_refused_unread(tmp_path: Path) -> None:
    async with site(tmp_path, web={"max_body_kb": 64}) as s:
        port = port_of(s.base)
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        head = (
            "POST /api/me/settings HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json"
            f"\r\nAccept-Language: lv\r\nAuthorization: tma {init_data(42)}\r\n"
            "Content-Length: 200000000\r\n\r\n"
        )
        writer.write(head.encode() + b"{" * 1000)  # 200 MB announced, 1 KB sent
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(4096), 20)
        writer.close()
        assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
        assert error_text(TooLarge(64), "lv").encode() in answer


async def test_a_streamed_body_is_cut_off_at_the_cap(tmp_path: Path) -> None:
    """Chunked, with no length: the app stops reading once the cap is passed."""
    async with site(tmp_path, web={"max_body_kb": 64}) as s:
        reader, writer = await asyncio.open_connection("127.0.0.1", port_of(s.base))
        head = (
            "POST /api/me/settings HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept-Language: en\r\n"
            f"Authorization: tma {init_data(42)}\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        chunk = b"%x\r\n%s\r\n" % (16384, b" " * 16384)
        writer.write(head.encode() + chunk * 8)  # 128 KB against a 64 KB cap
        await writer.drain()
        answer = await asyncio.wait_for(reader.read(4096), 20)
        writer.close()
        assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
        assert b"at most 64 KB" in answer
        async with client(s.base) as http:  # and an ordinary body still works
            ok = await http.post("/api/me/settings", json={"count": 2}, headers=tma(42))
            assert ok.status_code == 200 and ok.json()["settings"]["count"] == 2


# W3: idle sockets and slow request heads
async def test_idle_and_slow_connections_are_closed_under_a_cap(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    web = {"max_connections": 20, "header_timeout_s": 1.0}
    async with site(tmp_path, web=web) as s:
        port = port_of(s.base)
        idle = [await asyncio.open_connection("127.0.0.1", port) for _ in range(40)]

        async def closed(reader: asyncio.StreamReader) -> bool:
            with contextlib.suppress(ConnectionError):
                return await asyncio.wait_for(reader.read(1), 20) == b""
            return True

        started = time.monotonic()
        results = await asyncio.gather(*(closed(r) for r, _ in idle))
        assert all(results)
        assert time.monotonic() - started < 15  # by the head deadline, not never
        for _, w in idle:
            w.close()
        refusals = [r for r in caplog.records if "connection(s) closed" in r.getMessage()]
        assert len(refusals) == 1  # 20 refused: one line, not one per connection
        # a client dribbling its request head a byte at a time is closed too
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        started = time.monotonic()
        with contextlib.suppress(ConnectionError):
            for byte in b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 200:
                writer.write(bytes([byte]))
                await writer.drain()
                await asyncio.sleep(0.1)
                if reader.at_eof() or time.monotonic() - started > 15:
                    break
        assert await closed(reader) and time.monotonic() - started < 15
        writer.close()
        async with client(s.base) as http:  # the app still answers
            assert (await http.get("/healthz")).status_code == 200


# W4: sessions
async def test_sign_out_a_ban_and_end_stop_a_session_at_once(tmp_path: Path) -> None:
    async with site(tmp_path) as s, client(s.base) as admin, client(s.base) as user:
        await admin.get(await s.link("1", "panelis"))
        await user.get(await s.link("42", "galerija", admin=False))
        assert (await user.get("/api/me/jobs")).status_code == 200
        copy = dict(user.cookies)
        # the dashboard lists both sessions, and "end" ends the user's
        page = (await admin.get("/admin")).text
        assert "telegram:42" in page and "/admin/sessions/" in page
        token = await csrf_of(admin, "/admin")
        [record] = [x for x in await s.service.store.live_sessions() if x.user_key == "telegram:42"]
        ended = await admin.post(f"/admin/sessions/{record.id}/end", data={"csrf": token})
        assert ended.status_code == 303
        assert (await user.get("/api/me/jobs")).status_code == 401
        # sign in again, then a ban ends that session too
        await user.get(await s.link("42", "galerija", admin=False))
        assert (await user.get("/api/me/jobs")).status_code == 200
        banned = await admin.post(
            "/admin/users/ban", data={"user": "telegram:42", "banned": "1", "csrf": token}
        )
        assert banned.status_code == 303
        assert (await user.get("/api/me/jobs")).status_code == 401
        # a copy of a signed-out cookie no longer works
        assert (await admin.get("/logout")).status_code == 405  # no cross-site GET sign-out
        assert (await admin.post("/logout", data={})).status_code == 401  # no CSRF token
        out = await admin.post("/logout", data={"csrf": token})
        assert out.status_code == 303
        async with client(s.base, cookies=dict(admin.cookies) or copy) as replay:
            assert (await replay.get("/admin")).status_code == 401


async def test_an_admin_removed_from_the_config_is_out_after_a_restart(tmp_path: Path) -> None:
    web = {"secret": "a-fixed-secret-as-the-readme-advises"}
    async with site(tmp_path, web=web) as s, client(s.base) as http:
        await http.get(await s.link("1", "panelis"))
        assert (await http.get("/admin")).status_code == 200
        cookies = dict(http.cookies)
    async with site(tmp_path, web=web, telegram={"admins": []}) as s:
        async with client(s.base, cookies=cookies) as http:
            assert (await http.get("/admin")).status_code == 401
            token = "0" * 64
            ban = await http.post(
                "/admin/users/ban", data={"user": "telegram:5", "banned": "1", "csrf": token}
            )
            assert ban.status_code == 401
        assert not await s.service.store.is_banned("telegram", "5")
        assert not [x for x in await s.service.store.live_sessions() if x.user_key == "telegram:1"]


# W5: the client's address
async def test_forwarded_for_is_believed_only_from_trusted_proxies(tmp_path: Path) -> None:
    async def tries(base: str) -> list[int]:
        async with client(base) as http:
            return [
                (
                    await http.get(
                        f"/login/wrong{n}", headers={"X-Forwarded-For": f"203.0.113.{n}"}
                    )
                ).status_code
                for n in range(12)
            ]

    async with site(tmp_path / "direct") as s:
        codes = await tries(s.base)
        assert codes.count(401) == 12
        async with client(s.base) as http:  # every header was the one client: locked out
            assert "Too many tries" in (await http.get("/login/x")).text
    async with site(tmp_path / "proxied", web={"trusted_proxies": ["127.0.0.1"]}) as s:
        await tries(s.base)
        good = await s.link("1", "panelis")
        async with client(s.base) as http:  # 12 clients failed once each: nobody is locked out
            assert (await http.get(good)).status_code == 303


# W6: malformed input is a 400 or a 401, never a 500
async def test_malformed_input_never_gives_a_500(tmp_path: Path) -> None:
    async with site(tmp_path) as s, client(s.base) as http:
        job = await s.draw("42", "a red cat")
        for bad in ("²", "٣", "３", "1²", "99999999999999999999"):
            r = await http.get(f"/api/jobs/{bad}", headers=tma(42))
            assert r.status_code == 400, (bad, r.status_code, r.text)
            r = await http.get(f"/api/jobs/{job}/images/{bad}", headers=tma(42))
            assert r.status_code == 400, (bad, r.status_code)
        raw = httpx.Headers({b"Cookie": b"zime_session=abc.\xe9\xe9", b"Accept": b"text/html"})
        assert (await http.get("/admin", headers=raw)).status_code == 401
        bad_hash = init_data(42).rsplit("=", 1)[0] + "=%E9%E9"
        r = await http.get("/api/me/jobs", headers={"Authorization": f"tma {bad_hash}"})
        assert r.status_code == 401
        await http.get(await s.link("1", "panelis"))
        r = await http.post(
            "/api/me/settings", json={}, headers=httpx.Headers({b"X-CSRF-Token": b"\xe9" * 64})
        )
        assert r.status_code == 401
        token = await csrf_of(http, "/admin")
        nested = await http.post(
            "/api/me/settings", content=b"[" * 100_000, headers={"X-CSRF-Token": token}
        )
        assert nested.status_code == 400 and "error" in nested.json()
        smuggled = await http.post(
            "/api/me/settings", json={"count": "2 valoda=ru"}, headers={"X-CSRF-Token": token}
        )
        assert smuggled.status_code == 400
        long_name = await http.post("/admin/reload", data={"csrf": token, "model": "m" * 5000})
        assert long_name.status_code == 400, long_name.text[:300]


# W7: thumbnails
async def test_parallel_first_thumbnails_and_delete(tmp_path: Path) -> None:
    async with (
        site(tmp_path) as s,
        client(s.base, limits=httpx.Limits(max_connections=150)) as http,
    ):
        job = await s.draw("42", "a red cat")
        answers = await asyncio.gather(
            *(http.get(f"/api/jobs/{job}/thumb", headers=tma(42)) for _ in range(60))
        )
        assert {a.status_code for a in answers} == {200}
        assert len({a.content for a in answers}) == 1
        drawn = await s.service.job(job)
        assert drawn is not None and drawn.image_path
        png = Path(drawn.image_path)
        thumb = png.with_name(png.stem + ".thumb.jpg")
        assert thumb.is_file() and not list(png.parent.glob("*.tmp"))
        gone = await http.post(f"/api/jobs/{job}/actions/delete", headers=tma(42))
        assert gone.status_code == 202
        await eventually(lambda: not thumb.exists() and not png.exists())


# minor: headers, hosts
async def test_nosniff_everywhere_and_only_the_configured_host(tmp_path: Path) -> None:
    async with site(tmp_path, public_url="https://zime.example.lv") as s, client(s.base) as http:
        job = await s.draw("42", "a red cat")
        for path in ("/api/me/jobs", f"/api/jobs/{job}/images/0", "/static/style.css", "/"):
            r = await http.get(path, headers=tma(42))
            assert r.status_code == 200, path
            assert r.headers["x-content-type-options"] == "nosniff", path
        r = await http.get("/", headers={"Host": "evil.example"})
        assert r.status_code == 400
        r = await http.get("/", headers={"Host": "zime.example.lv"})
        assert r.status_code == 200


# W12: shutdown
async def test_slow_uploads_do_not_hold_up_shutdown(tmp_path: Path) -> None:
    from bot.web.server import GRACE_S, WebServer
    from core.app import open_service
    from tests.fakes import FakeGenerator
    from tests.helpers import make_config
    from tests.redis_server import free_port
    from tests.web_helpers import ENGLISH

    port = free_port()
    cfg = make_config(tmp_path, web={"enabled": True, "port": port}, telegram={"token": BOT_TOKEN})
    async with open_service(cfg, generator=FakeGenerator(), translators=ENGLISH) as svc:
        server = WebServer(svc, cfg)
        await server.start()
        uploads = []
        for _ in range(20):
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(
                b"POST /api/me/settings HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n"
                + f"Authorization: tma {init_data(42)}\r\n\r\n".encode()
                + b"{"
            )
            await writer.drain()
            uploads.append(writer)
        started = time.monotonic()
        await server.stop()
        assert time.monotonic() - started < GRACE_S + 3
        for w in uploads:
            w.close()


# W2: the daily limit under parallel requests
async def test_parallel_variations_cannot_pass_the_daily_limit(tmp_path: Path) -> None:
    limits = {"per_user_per_day": 6, "per_user_per_minute": 100, "per_user_queued": 20}
    async with site(tmp_path, limits=limits) as s, client(s.base) as http:
        job = await s.draw("42", "a red cat")  # 1 of 6
        answers = await asyncio.gather(
            *(http.post(f"/api/jobs/{job}/actions/variation", headers=tma(42)) for _ in range(4))
        )
        codes = sorted(a.status_code for a in answers)
        assert codes.count(202) >= 1 and set(codes) <= {202, 429}, codes
        used, _ = await s.service.store.jobs_since("telegram", "42", time.time() - 86400)
        assert used <= 6, f"{used} images charged against a limit of 6"


# W11: a gallery action on a job drawn in a group
async def test_a_web_action_on_a_group_job_is_delivered_in_private(tmp_path: Path) -> None:
    from bot import commands
    from bot.message import Ctx

    async with site(tmp_path) as s, client(s.base) as http:
        group = s.request("42", group=True)
        reply = await commands.run(Ctx(s.service, group), "zime", "a red cat")
        assert reply.start is not None
        sub = await reply.start({"chat_id": -10042})
        await asyncio.wait_for(sub.handle.wait(), 20)
        answer = await http.post(f"/api/jobs/{sub.job_id}/actions/again", headers=tma(42))
        assert answer.status_code == 202
        new = await s.finished(answer.json()["id"])
        assert new.meta["private_result"] is True  # to telegram:42's own chat, not the group
        assert new.meta["chat_id"] == -10042  # where it came from, for the record


# mutations the second review found missed
async def test_a_cookie_settings_change_needs_the_csrf_token(tmp_path: Path) -> None:
    async with site(tmp_path) as s, client(s.base) as http:
        await http.get(await s.link("42", "galerija", admin=False))
        refused = await http.post("/api/me/settings", json={"count": 3})
        assert refused.status_code == 401
        assert (await s.service.store.settings("telegram", "42")).get("count") is None
        token = await csrf_of(http, "/app")
        ok = await http.post("/api/me/settings", json={"count": 3}, headers={"X-CSRF-Token": token})
        assert ok.status_code == 200 and ok.json()["settings"]["count"] == 3


async def test_the_same_id_on_another_platform_is_someone_else(tmp_path: Path) -> None:
    """discord:42 is not telegram:42: no button, command or page of one acts on the other's."""
    from bot import commands
    from bot.message import Ctx
    from core.errors import NotFound
    from core.jobs.job import Request

    async with site(tmp_path) as s:
        job = await s.draw("42", "a red cat")
        other = Request("discord", "42", "42", "", language="en")
        for name in ("velreiz", "atkartot"):
            reply = await commands.run(Ctx(s.service, other), name, str(job))
            assert reply.error and reply.text == error_text(NotFound(), "en")
        try:
            await s.service.delete(job, other)
            raise AssertionError("discord:42 deleted telegram:42's picture")
        except NotFound:
            pass
        drawn = await s.service.job(job)
        assert drawn is not None and drawn.image_path and Path(drawn.image_path).is_file()


def test_many_first_thumbnails_at_once_each_write_their_own_file(tmp_path: Path) -> None:
    """W7 without HTTP in between: 32 threads make the same first thumbnail at once."""
    import threading

    from PIL import Image

    from bot.web.thumbs import thumbnail

    png = tmp_path / "7.png"
    Image.new("RGB", (512, 512), (200, 30, 30)).save(png)
    start = threading.Barrier(32)
    results: list[bytes | BaseException] = []

    def make() -> None:
        start.wait()
        try:
            results.append(thumbnail(str(png)))
        except BaseException as exc:  # collected: the test says which
            results.append(exc)

    threads = [threading.Thread(target=make) for _ in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors, errors[:3]
    assert len({r for r in results if isinstance(r, bytes)}) == 1
    assert not list(tmp_path.glob("*.tmp"))
