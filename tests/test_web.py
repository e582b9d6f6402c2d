"""The web app (issue #23) over real HTTP: uvicorn on 127.0.0.1, httpx as the client. Signing
in (one-time links, initData), the JSON API's auth and ownership rules, actions through the
button registry, settings, the dashboard's pages and CSRF-checked forms, and /panelis and
/galerija on the command table."""

from __future__ import annotations

from pathlib import Path

import httpx

from bot.texts import error_text
from core.errors import NotAdmin, PrivateOnly, WebOff
from tests.web_helpers import init_data, site


def client(base: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=base, follow_redirects=False, timeout=20)


async def signed_in(http: httpx.AsyncClient, link: str) -> str:
    """Follow a login link; returns the session's CSRF token (from the dashboard page)."""
    response = await http.get(link)
    assert response.status_code == 303, response.text
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    assert "Max-Age=43200" in cookie
    return cookie


async def csrf_of(http: httpx.AsyncClient, page: str) -> str:
    html = (await http.get(page)).text
    marker = 'name="csrf" value="' if 'name="csrf"' in html else 'name="csrf-token" content="'
    return html.split(marker, 1)[1].split('"', 1)[0]


async def test_panelis_links_work_once_and_sign_an_admin_in(tmp_path: Path) -> None:
    async with site(tmp_path) as s, client(s.base) as http:
        link = await s.link("1", "panelis")
        assert link.startswith(f"{s.base}/login/")
        cookie = await signed_in(http, link)
        assert "Secure" not in cookie  # an http base: the browser would drop a Secure cookie
        page = await http.get("/admin")
        assert page.status_code == 200 and "Overview" in page.text
        # the queue per model (issue #30): the default model, drawn by the local runner
        models = page.text.split('id="models"', 1)[1].split("</table>", 1)[0]
        assert "<td>lv-sb</td>" in models and "<td>local</td>" in models
        csp = page.headers["content-security-policy"]
        assert "unsafe-inline" not in csp and "script-src 'self'" in csp
        async with client(s.base) as other:  # the same link again: used
            again = await other.get(link.replace(s.base, ""))
            assert again.status_code == 401 and "used or has expired" in again.text
            assert (await other.get("/admin")).status_code == 401
        # not an admin, a group chat, or the pages off: one sentence each
        refused = await s.command("2", "panelis")
        assert refused.error and refused.text == error_text(NotAdmin(), "en")
        group = await s.command("1", "panelis", admin=True, group=True)
        assert group.error and group.text == error_text(PrivateOnly(), "en")


async def test_the_pages_off_is_one_sentence(tmp_path: Path) -> None:
    async with site(tmp_path) as s:
        s.service.config = s.service.config.__class__(
            **{**s.service.config.__dict__, "web": s.service.config.web.__class__(enabled=False)}
        )
        for name in ("panelis", "galerija"):
            reply = await s.command("1", name, admin=True)
            assert reply.error and reply.text == error_text(WebOff(), "en")


async def test_galerija_is_a_mini_app_button_on_https_and_a_link_on_http(tmp_path: Path) -> None:
    async with site(tmp_path, public_url="https://zime.example.lv") as s:
        reply = await s.command("5", "galerija")
        (button,) = reply.buttons[0]
        assert button.web_app and button.url == "https://zime.example.lv/app"
    async with site(tmp_path / "b") as s, client(s.base) as http:
        link = await s.link("5", "galerija", admin=False)
        await signed_in(http, link)
        assert (await http.get("/admin")).status_code == 404  # a gallery session is no admin's
        page = await http.get("/app")
        assert (
            page.status_code == 200 and "frame-ancestors" in page.headers["content-security-policy"]
        )


async def test_the_api_needs_auth_and_hides_other_users_jobs(tmp_path: Path) -> None:
    async with site(tmp_path) as s, client(s.base) as http:
        mine = await s.draw("42", "a red cat")
        theirs = await s.draw("43", "a blue dog")
        assert (await http.get("/api/me/jobs")).status_code == 401
        bad = {"Authorization": "tma " + init_data(42).replace("hash=", "hash=0")}
        assert (await http.get("/api/me/jobs", headers=bad)).status_code == 401
        old = {"Authorization": "tma " + init_data(42, age_s=25 * 3600)}
        assert (await http.get("/api/me/jobs", headers=old)).status_code == 401
        forged = {"Authorization": "tma " + init_data(42, token="999:another-bot")}
        assert (await http.get("/api/me/jobs", headers=forged)).status_code == 401
        tma = {"Authorization": "tma " + init_data(42)}
        listed = (await http.get("/api/me/jobs?limit=5", headers=tma)).json()["jobs"]
        assert [j["id"] for j in listed] == [mine]
        job = listed[0]
        assert job["text"] == "a red cat" and job["status"] == "done" and job["count"] == 1
        assert set(job) >= {"id", "status", "text", "prompt", "seed", "count", "created", "images"}
        png = await http.get(job["images"][0], headers=tma)
        assert png.status_code == 200 and png.content.startswith(b"\x89PNG")
        thumb = await http.get(job["thumb"], headers=tma)
        assert thumb.status_code == 200 and thumb.content.startswith(b"\xff\xd8")
        assert (await http.get(f"/api/jobs/{theirs}", headers=tma)).status_code == 404
        assert (await http.get(f"/api/jobs/{theirs}/images/0", headers=tma)).status_code == 404
        assert (await http.get("/api/jobs/999999", headers=tma)).status_code == 404
        # an admin's session sees every job
        await signed_in(http, await s.link("1", "panelis"))
        assert (await http.get(f"/api/jobs/{theirs}")).json()["text"] == "a blue dog"


async def test_paging_goes_back_in_time(tmp_path: Path) -> None:
    async with site(tmp_path) as s, client(s.base) as http:
        ids = [await s.draw("42", f"a cat number {i}") for i in range(5)]
        tma = {"Authorization": "tma " + init_data(42)}
        first = (await http.get("/api/me/jobs?limit=2", headers=tma)).json()["jobs"]
        assert [j["id"] for j in first] == ids[::-1][:2]
        rest = (
            await http.get(f"/api/me/jobs?limit=10&before={first[-1]['id']}", headers=tma)
        ).json()["jobs"]
        assert [j["id"] for j in rest] == ids[::-1][2:]
        assert (await http.get("/api/me/jobs?limit=x", headers=tma)).status_code == 400


async def test_actions_run_as_buttons_do_and_csrf_guards_the_cookie(tmp_path: Path) -> None:
    async with site(tmp_path) as s, client(s.base) as http:
        first = await s.draw("42", "a red cat")
        theirs = await s.draw("43", "a blue dog")
        tma = {"Authorization": "tma " + init_data(42)}
        again = await http.post(f"/api/jobs/{first}/actions/again", headers=tma)
        assert again.status_code == 202, again.text
        new = await s.finished(again.json()["id"])
        assert new.parent_id == first and new.status == "done" and new.user_id == "42"
        assert new.meta["chat_id"] == 42  # delivered in the chat the first one came from
        redo = await http.post(f"/api/jobs/{first}/actions/redo", headers=tma)
        parent = await s.service.job(first)
        assert parent is not None and (await s.finished(redo.json()["id"])).seed == parent.seed
        up = await http.post(f"/api/jobs/{first}/actions/upscale", headers=tma, json={"n": 1})
        assert (await s.finished(up.json()["id"])).kind == "upscale"
        refused = await http.post(f"/api/jobs/{theirs}/actions/again", headers=tma)
        assert refused.status_code == 404
        assert (
            await http.post(f"/api/jobs/{first}/actions/explode", headers=tma)
        ).status_code == 404
        # by cookie: the CSRF token is required
        await signed_in(http, await s.link("42", "galerija", admin=False))
        assert (await http.post(f"/api/jobs/{first}/actions/again")).status_code == 401
        token = await csrf_of(http, "/app")
        ok = await http.post(f"/api/jobs/{first}/actions/again", headers={"X-CSRF-Token": token})
        assert ok.status_code == 202
        await s.finished(ok.json()["id"])
        gone = await http.post(f"/api/jobs/{first}/actions/delete", headers={"X-CSRF-Token": token})
        assert gone.status_code == 202 and gone.json()["deleted"] == first
        assert (await http.get(f"/api/jobs/{first}/images/0")).status_code == 404
        assert (await http.get(f"/api/jobs/{first}")).json()["deleted"] is True


async def test_settings_read_and_change_through_one_parser(tmp_path: Path) -> None:
    async with site(tmp_path) as s, client(s.base) as http:
        tma = {"Authorization": "tma " + init_data(42)}
        got = (await http.get("/api/me/settings", headers=tma)).json()
        assert got["settings"] == {} and got["lang"] == "lv"  # initData's language_code
        assert got["texts"]["settings"] == "Iestatījumi"  # the gallery's words, translated
        changed = await http.post(
            "/api/me/settings", headers=tma, json={"count": 4, "aspect": "3:2", "private": True}
        )
        assert changed.json()["settings"] == {"count": 4, "aspect": [3, 2], "private": True}
        bad = await http.post("/api/me/settings", headers=tma, json={"count": 9})
        assert bad.status_code == 400 and "error" in bad.json()
        reply = await s.command("42", "iestatijumi")  # the chat sees the same settings
        assert "4" in reply.text


async def test_dashboard_pages_and_forms(tmp_path: Path) -> None:
    async with site(tmp_path, models={"safety_checker": "always"}) as s, client(s.base) as http:
        await s.draw("42", "a red cat")
        s.generator.nsfw_on = "beach"
        flagged = await s.draw("43", "a beach")
        await signed_in(http, await s.link("1", "panelis"))
        for page in (
            "/admin",
            "/admin/jobs",
            "/admin/jobs?status=done&user=telegram:42",
            f"/admin/jobs/{flagged}",
            "/admin/flagged",
            "/admin/users",
            "/admin/concepts",
        ):
            response = await http.get(page)
            assert response.status_code == 200, (page, response.text[:300])
            assert "unsafe-inline" not in response.headers["content-security-policy"]
        jobs = (await http.get("/admin/jobs?user=telegram:42")).text
        assert "a red cat" in jobs and "a beach" not in jobs and "/thumb" in jobs
        assert 'class="thumb veiled"' in (await http.get("/admin/flagged")).text
        assert "brivpiem" in (await http.get("/admin/concepts")).text
        token = await csrf_of(http, "/admin/users")
        # a form without the token changes nothing
        assert (
            await http.post("/admin/users/ban", data={"user": "telegram:43", "banned": "1"})
        ).status_code == 401
        assert not await s.service.store.is_banned("telegram", "43")
        banned = await http.post(
            "/admin/users/ban", data={"user": "telegram:43", "banned": "1", "csrf": token}
        )
        assert banned.status_code == 303 and await s.service.store.is_banned("telegram", "43")
        deleted = await http.post(f"/admin/jobs/{flagged}/actions/delete", data={"csrf": token})
        assert deleted.status_code == 303
        gone = await s.service.job(flagged)
        assert gone is not None and gone.deleted
        reloaded = await http.post("/admin/reload", data={"csrf": token})
        assert reloaded.status_code == 303 and s.generator.reloads == [None]


def test_the_listening_socket_gets_nodelay_connections() -> None:
    """asyncio sets TCP_NODELAY on a connection only when the listening socket's proto is
    IPPROTO_TCP; without it each keep-alive answer waited ~40 ms (benchmarks/web.py)."""
    import socket

    from bot.web.server import listening_socket

    sock = listening_socket("127.0.0.1", 0)
    try:
        assert sock.proto == socket.IPPROTO_TCP
        client = socket.create_connection(sock.getsockname())
        sock.setblocking(True)
        accepted, _ = sock.accept()
        with client, accepted:
            assert accepted.proto == socket.IPPROTO_TCP
    finally:
        sock.close()


async def test_concepts_install_and_remove_from_the_dashboard(tmp_path: Path) -> None:
    """A finished training waits on the concepts page with its contact sheet and scores;
    Install makes it live (a reload), Remove takes it away again."""
    import json

    from PIL import Image

    from core.train.lora import LORA_FILE
    from core.train.run import TrainRequest, concept_entry

    async with site(tmp_path) as s, client(s.base) as http:
        out = s.service.teaching.root / "rigasdoms" / "out" / "rigasdoms"
        out.mkdir(parents=True)
        request = TrainRequest(
            tmp_path, "rigasdoms", "building", "Rīgas Doms", en=("Riga Cathedral",)
        )
        (out / "concept.toml").write_text(concept_entry(request), encoding="utf-8")
        (out / LORA_FILE).write_bytes(b"weights")
        Image.new("RGB", (64, 64), "white").save(out / "contact_sheet.png")
        scores = {
            "chosen": "step-100",
            "checkpoints": [{"checkpoint": "step-100", "dino": 0.5, "clip_i": 0.7, "clip_t": 0.3}],
        }
        (out / "scores.json").write_text(json.dumps(scores), encoding="utf-8")
        await signed_in(http, await s.link("1", "panelis"))
        page = (await http.get("/admin/concepts")).text
        assert "rigasdoms" in page and "DINO 0.500" in page and "/install" in page
        sheet = await http.get("/admin/concepts/rigasdoms/sheet")
        assert sheet.status_code == 200 and sheet.content.startswith(b"\x89PNG")
        token = await csrf_of(http, "/admin/concepts")
        done = await http.post("/admin/concepts/rigasdoms/install", data={"csrf": token})
        assert done.status_code == 303 and s.generator.reloads == [None]
        assert "rigasdoms" in {c.id for c in s.service.builder.registry}
        assert "/remove" in (await http.get("/admin/concepts")).text
        gone = await http.post("/admin/concepts/rigasdoms/remove", data={"csrf": token})
        assert gone.status_code == 303
        assert "rigasdoms" not in {c.id for c in s.service.builder.registry}


async def test_api_errors_are_one_sentence_in_the_users_language(tmp_path: Path) -> None:
    async with site(tmp_path) as s, client(s.base) as http:
        tma = {"Authorization": "tma " + init_data(42)}
        latvian = "Tāds zīmējums nav atrasts."
        for lang, sentence in (
            ("ru-RU,ru;q=0.9", "Такой рисунок не найден."),
            ("lv", latvian),
            ("de", latvian),
        ):
            response = await http.get("/api/jobs/77", headers={**tma, "Accept-Language": lang})
            assert response.status_code == 404 and response.json() == {"error": sentence}


async def test_a_grids_images_one_by_one(tmp_path: Path) -> None:
    async with site(tmp_path) as s, client(s.base) as http:
        grid = await s.draw("42", "a cat --n 2")
        tma = {"Authorization": "tma " + init_data(42)}
        job = (await http.get(f"/api/jobs/{grid}", headers=tma)).json()
        assert job["images"] == [f"/api/jobs/{grid}/images/1", f"/api/jobs/{grid}/images/2"]
        pngs = [(await http.get(url, headers=tma)).content for url in [job["grid"], *job["images"]]]
        assert all(p.startswith(b"\x89PNG") for p in pngs) and len(set(pngs)) == 3
        assert (await http.get(f"/api/jobs/{grid}/images/3", headers=tma)).status_code == 404
