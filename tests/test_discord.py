from __future__ import annotations

import asyncio
import contextlib
import io
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from PIL import Image

from bot.discord import DiscordFrontend
from bot.texts import error_text
from core.app import open_service
from core.config import load_config
from core.errors import BadPhoto
from tests.discord_stub import DiscordStub

ADMIN = 42


@pytest.fixture
async def stub() -> AsyncIterator[DiscordStub]:
    s = DiscordStub()
    await s.start()
    yield s
    await s.stop()


def write_config(tmp_path: Path, tiny: dict[str, Path], stub: DiscordStub, steps: int = 2) -> Path:
    cfg = tmp_path / "cfg.toml"
    cfg.write_text(
        f'[discord]\ntoken = "DISCORD.TEST.TOKEN"\napi_base_url = "{stub.api}"\n'
        f'gateway_url = "{stub.gateway}"\nadmins = [{ADMIN}]\n'
        f'[models]\ngenerator = "{tiny["sd"]}"\ntranslator = "{tiny["opus"]}"\ndevice = "cpu"\n'
        f"[generation]\nsteps = {steps}\nwidth = 64\nheight = 64\n"
        f'[storage]\ndatabase = "{tmp_path / "z.sqlite3"}"\nimages = "{tmp_path / "img"}"\n'
        "[limits]\nper_user_per_minute = 20\n",
        encoding="utf-8",
    )
    return cfg


@contextlib.asynccontextmanager
async def running(cfg_path: Path, stub: DiscordStub) -> AsyncIterator[DiscordFrontend]:
    cfg = load_config(cfg_path, {})
    async with open_service(cfg) as service:
        frontend = DiscordFrontend(service, cfg.discord)
        frontend.edit_interval_s = 0.1
        await frontend.start()
        await asyncio.wait_for(stub.ready.wait(), 20)
        await asyncio.wait_for(frontend.client.wait_until_ready(), 20)
        try:
            yield frontend
        finally:
            await frontend.stop()


async def test_slash_command_defer_progress_and_file(
    stub: DiscordStub, tiny_models: dict[str, Path], tmp_path: Path
) -> None:
    async with running(write_config(tmp_path, tiny_models, stub), stub):
        [sync] = stub.sent("PUT", "/commands")
        names = {c["name"] for c in sync.body["__list__"]}
        assert names == {
            "zime",
            "vesture",
            "velreiz",
            "atkartot",
            "rinda",
            "iestatijumi",
            "atcelt",
            "palidziba",
            "reload",
            "stats",
            "ban",
            "unban",
            "macies",
            "foto",
            "gatavs",
            "pievienot",
            "atmest",
            "galerija",
            "labot",
            "panelis",
            "modeli",
            "apraksti",
        }
        zime = next(c for c in sync.body["__list__"] if c["name"] == "zime")
        assert zime["options"][0]["name"] == "teksts" and zime["options"][0]["type"] == 3
        assert zime["description_localizations"]["en-US"].startswith("Draw a picture")

        token = await stub.slash("zime", {"teksts": "Rīgas balzama pudele"}, user_id=7)
        [callback] = await stub.wait_for("POST", f"/{token}/callback")
        assert callback.body["type"] == 5  # deferred
        assert callback.at - stub.interactions[token] < 3.0
        [followup] = await stub.wait_for("POST", f"/webhooks/4242/{token}")
        assert "rigabalsam bottle" in followup.body["content"]
        assert "Rīgas Melnais balzams" in followup.body["content"]
        assert any(v.startswith(b"\x89PNG") for v in followup.files.values())
        ids = [c["custom_id"] for row in followup.body["components"] for c in row["components"]]
        job_id = ids[0].split(":")[2]
        assert ids == [
            f"z1:{act}:{job_id}" + n
            for act, n in (
                ("up", ":1"),
                ("v", ":1"),
                ("zoom", ":1"),
                ("again", ""),
                ("orig", ""),
                ("info", ""),
                ("desc", ""),
                ("fix", ""),
                ("del", ""),
            )
        ]
        edits = [c.body.get("content") for c in stub.sent("PATCH", f"/{token}/messages/@original")]
        assert any(e and ("Zīmēju" in e or "Rindā" in e) for e in edits)

        # buttons: only the requester
        custom = f"zime:info:{job_id}"  # the first version's ids still work
        other = await stub.click(custom, user_id=8)
        [refusal] = await stub.wait_for("POST", f"/{other}/callback")
        assert refusal.body["data"]["flags"] & 64  # ephemeral (4: no link previews)
        assert "No such picture" in refusal.body["data"]["content"]  # en-US clicker
        mine = await stub.click(custom, user_id=7)
        [details] = await stub.wait_for("POST", f"/{mine}/callback")
        assert "rigabalsam" in details.body["data"]["content"]
        again = await stub.click(f"zime:again:{job_id}", user_id=7)
        await stub.wait_for("POST", f"/webhooks/4242/{again}")


async def test_fix_the_translation_history_buttons_and_settings(
    stub: DiscordStub, tiny_models: dict[str, Path], tmp_path: Path
) -> None:
    async with running(write_config(tmp_path, tiny_models, stub), stub):
        token = await stub.slash("zime", {"teksts": "Milda naktī"}, user_id=7)
        [followup] = await stub.wait_for("POST", f"/webhooks/4242/{token}")
        job_id = next(
            c["custom_id"] for row in followup.body["components"] for c in row["components"]
        ).split(":")[2]
        # ✏️ opens a modal holding the English prompt; submitting it draws the corrected text
        fix = await stub.click(f"zime:fix:{job_id}", user_id=8)  # not the author: refused
        [refusal] = await stub.wait_for("POST", f"/{fix}/callback")
        assert refusal.body["type"] == 4 and refusal.body["data"]["flags"] & 64
        fix = await stub.click(f"zime:fix:{job_id}", user_id=7)
        [modal] = await stub.wait_for("POST", f"/{fix}/callback")
        assert modal.body["type"] == 9  # a modal
        field = modal.body["data"]["components"][0]["components"][0]
        assert "brivpiem" in field["value"]
        done = await stub.submit_modal(
            modal.body["data"]["custom_id"],
            {field["custom_id"]: "brivpiem statue in the snow"},
            user_id=7,
        )
        [fixed] = await stub.wait_for("POST", f"/webhooks/4242/{done}", timeout=60)
        assert "brivpiem statue in the snow" in fixed.body["content"]

        # /vesture: ♻️ and 📄 per drawing, which work like the result's own buttons
        token = await stub.slash("vesture", user_id=7)
        [hist] = await stub.wait_for("POST", f"/{token}/callback")
        ids = [c["custom_id"] for row in hist.body["data"]["components"] for c in row["components"]]
        assert f"z1:redo:{job_id}" in ids and f"z1:orig:{job_id}" in ids
        redo = await stub.click(f"zime:redo:{job_id}", user_id=7)
        [again] = await stub.wait_for("POST", f"/webhooks/4242/{redo}", timeout=60)
        seed = followup.body["content"].split("Sēkla:")[1][:12]
        assert seed in again.body["content"]  # the same seed
        orig = await stub.click(f"zime:orig:{job_id}", user_id=7)
        [png] = await stub.wait_for("POST", f"/{orig}/callback")
        assert next(iter(png.files.values())).startswith(b"\x89PNG")

        # /iestatijumi: slash options; a bad combination is one sentence; 2 images from now on
        token = await stub.slash(
            "iestatijumi", {"skaits": 2, "formats": "3:2", "privati": True}, user_id=7
        )
        [saved] = await stub.wait_for("POST", f"/{token}/callback")
        assert "2" in saved.body["data"]["content"] and saved.body["data"]["flags"] & 64
        token = await stub.slash("zime", {"teksts": "Milda"}, user_id=7)
        [grid] = await stub.wait_for("POST", f"/webhooks/4242/{token}", timeout=60)
        assert grid.body["flags"] == 64  # private in a server: only the requester sees it
        assert "3:2" in grid.body["content"] and "2 attēli" in grid.body["content"]
        await stub.wait_for(
            "PATCH", f"/{token}/messages/@original", content="Nosūtīju tev privātā ziņā."
        )


async def test_errors_history_admin_and_dm(
    stub: DiscordStub, tiny_models: dict[str, Path], tmp_path: Path
) -> None:
    async with running(write_config(tmp_path, tiny_models, stub), stub):
        token = await stub.slash("zime", {"teksts": "x" * 400}, user_id=9, locale="en-US")
        await stub.wait_for("PATCH", f"/{token}/messages/@original", content="Too long")
        token = await stub.slash(
            "zime", {"teksts": "Vanšu tilts"}, user_id=9, guild_id=None, channel_id=901
        )
        await stub.wait_for("POST", f"/webhooks/4242/{token}")
        token = await stub.slash("vesture", user_id=9)
        [hist] = await stub.wait_for("POST", f"/{token}/callback")
        assert "Vanšu tilts" in hist.body["data"]["content"]
        token = await stub.slash("stats", user_id=9)
        [no] = await stub.wait_for("POST", f"/{token}/callback")
        assert "administratoriem" in no.body["data"]["content"]
        token = await stub.slash("stats", user_id=ADMIN)
        await stub.wait_for("PATCH", f"/{token}/messages/@original", content="Rindā")
        token = await stub.slash("palidziba", user_id=9)
        [helpmsg] = await stub.wait_for("POST", f"/{token}/callback")
        assert "Brīvības piemineklis" in helpmsg.body["data"]["content"]


async def test_expired_interaction_posts_to_channel(
    stub: DiscordStub, tiny_models: dict[str, Path], tmp_path: Path
) -> None:
    async with running(write_config(tmp_path, tiny_models, stub), stub) as frontend:
        frontend.interaction_ttl_s = 0  # every token counts as expired
        token = await stub.slash("zime", {"teksts": "Gaismas pils"}, user_id=12, channel_id=555)
        [post] = await stub.wait_for("POST", "/channels/555/messages")
        assert (
            post.body["content"].startswith("<@12>") and "nacbib building" in post.body["content"]
        )
        assert not stub.sent("POST", f"/webhooks/4242/{token}")


async def test_prompts_cannot_ping_roles_or_break_the_code_span(
    stub: DiscordStub, tiny_models: dict[str, Path], tmp_path: Path
) -> None:
    async with running(write_config(tmp_path, tiny_models, stub), stub) as frontend:
        text = "Rainis` <@&42> @everyone"
        token = await stub.slash("zime", {"teksts": text}, user_id=12, channel_id=555)
        [followup] = await stub.wait_for("POST", f"/webhooks/4242/{token}")
        content = followup.body["content"]
        assert followup.body["allowed_mentions"] == {"parse": []}
        assert "`" not in content.replace("\\`", "")  # a prompt's backtick is escaped
        frontend.interaction_ttl_s = 0  # expired: posted to the channel, mentioning the user
        await stub.slash("zime", {"teksts": text}, user_id=12, channel_id=555)
        [post] = await stub.wait_for("POST", "/channels/555/messages")
        assert post.body["allowed_mentions"] == {"parse": [], "users": [12]}


async def test_slash_options_become_flags(
    stub: DiscordStub, tiny_models: dict[str, Path], tmp_path: Path
) -> None:
    async with running(write_config(tmp_path, tiny_models, stub), stub):
        [sync] = stub.sent("PUT", "/commands")
        zime = next(c for c in sync.body["__list__"] if c["name"] == "zime")
        assert [o["name"] for o in zime["options"]] == [
            "teksts",
            "formats",
            "ne",
            "sekla",
            "soli",
            "skaits",
            "attels",
            "stiprums",
            "modelis",
            "atri",
            "stils",
        ]
        stils = next(o for o in zime["options"] if o["name"] == "stils")
        assert {c["value"] for c in stils["choices"]} >= {"watercolor", "oil", "anime"}
        modelis = next(o for o in zime["options"] if o["name"] == "modelis")
        assert modelis["autocomplete"] is True  # the catalogue's models, as one types
        atri = next(o for o in zime["options"] if o["name"] == "atri")
        assert atri["type"] == 5  # a boolean: on, or absent
        token = await stub.slash(
            "zime",
            {"teksts": "Milda", "formats": "3:2", "skaits": 2, "sekla": 3, "stils": "watercolor"},
            user_id=7,
        )
        [followup] = await stub.wait_for("POST", f"/webhooks/4242/{token}")
        assert "Opcijas: 3:2 · 2 attēli · stils: akvarelis" in followup.body["content"]
        assert "Sēkla: 3" in followup.body["content"]


async def test_photo_to_picture_from_an_attachment(
    stub: DiscordStub, tiny_models: dict[str, Path], tmp_path: Path
) -> None:
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (90, 60), (30, 90, 10)).save(buf, format="PNG")
    async with running(write_config(tmp_path, tiny_models, stub), stub):
        token = await stub.slash(
            "zime",
            {"teksts": "latvju rakstu zīmes", "stiprums": 0.4},
            user_id=7,
            attachment=("attels", buf.getvalue()),
        )
        [followup] = await stub.wait_for("POST", f"/webhooks/4242/{token}")
        assert "0.4" in followup.body["content"], followup.body["content"]
        assert stub.sent("GET", "/attachments/")  # fetched from the attachment's URL
        assert "latviesurakstuzimes symbols" in followup.body["content"]
        token = await stub.slash(
            "zime", {"teksts": "kaķis"}, user_id=7, attachment=("attels", b"not an image")
        )
        edits = await stub.wait_for("PATCH", f"/{token}/messages/@original")
        # a Lithuanian client: Latvian (Discord has no Latvian locale; see bot/discord/frontend.py)
        assert edits[-1].body["content"] == "Šo foto nevarēju nolasīt. Lūdzu, atsūti to vēlreiz."
        # Discord says the file is 11 MB: refused by that size, before it is fetched
        fetched = len(stub.sent("GET", "/attachments/"))
        token = await stub.slash(
            "zime",
            {"teksts": "kaķis"},
            user_id=7,
            attachment=("attels", buf.getvalue()),
            reported_size=11 * 1024 * 1024,
        )
        edits = await stub.wait_for("PATCH", f"/{token}/messages/@original")
        assert edits[-1].body["content"] == error_text(BadPhoto("too_big"), "lv")
        assert len(stub.sent("GET", "/attachments/")) == fetched


async def test_grid_buttons_u_v_and_delete(
    stub: DiscordStub, tiny_models: dict[str, Path], tmp_path: Path
) -> None:
    async with running(write_config(tmp_path, tiny_models, stub), stub):
        token = await stub.slash("zime", {"teksts": "Milda", "skaits": 2}, user_id=7)
        [followup] = await stub.wait_for("POST", f"/webhooks/4242/{token}")
        ids = [c["custom_id"] for row in followup.body["components"] for c in row["components"]]
        u2, v1, delete = (
            next(i for i in ids if i.startswith(p)) for p in ("z1:u:", "z1:v:", "z1:del:")
        )
        assert u2.endswith(":1")
        u2 = u2[: -len(":1")] + ":2"
        other = await stub.click(u2, user_id=8)  # not the author
        [refusal] = await stub.wait_for("POST", f"/{other}/callback")
        assert refusal.body["data"]["flags"] & 64
        mine = await stub.click(u2, user_id=7)
        [single] = await stub.wait_for("POST", f"/{mine}/callback")
        assert single.body["data"]["content"].startswith("U2 · Seed:") and single.files
        # U2 alone offers 🔍 2×, 🔀, 🔭, 📄, ✏️ and 🗑; 🔍 redraws it at twice the size
        offered = [
            c["custom_id"] for row in single.body["data"]["components"] for c in row["components"]
        ]
        job_id = u2.split(":")[2]
        assert offered == [
            f"z1:up:{job_id}:2",
            f"z1:v:{job_id}:2",
            f"z1:zoom:{job_id}:2",
            f"z1:orig:{job_id}:2",
            f"z1:desc:{job_id}:2",
            f"z1:fix:{job_id}",
            f"z1:del:{job_id}",
        ]
        up = await stub.click(offered[0], user_id=7)
        [big] = await stub.wait_for("POST", f"/webhooks/4242/{up}", timeout=60)
        with Image.open(io.BytesIO(next(iter(big.files.values())))) as img:
            assert img.size == (128, 128)  # the tiny config draws 64×64
        zoom = await stub.click(offered[2], user_id=7)  # 🔭: on a canvas 1.5× each side
        [wider] = await stub.wait_for("POST", f"/webhooks/4242/{zoom}", timeout=60)
        with Image.open(io.BytesIO(next(iter(wider.files.values())))) as img:
            assert img.size == (96, 96)
        orig = await stub.click(offered[3], user_id=7)
        [png] = await stub.wait_for("POST", f"/{orig}/callback")
        assert png.body["data"]["flags"] == 64 and next(iter(png.files.values())) == next(
            iter(single.files.values())
        )
        varied = await stub.click(v1, user_id=7)
        [grid] = await stub.wait_for("POST", f"/webhooks/4242/{varied}", timeout=60)
        assert "Options: 4 images" in grid.body["content"]  # a new grid of 4, for an en-US clicker
        gone = await stub.click(delete, user_id=7)
        await stub.wait_for("POST", f"/{gone}/callback")
        await stub.wait_for("DELETE", "/messages/")


async def test_an_admin_teaches_a_concept_with_slash_commands(
    stub: DiscordStub, tiny_models: dict[str, Path], tmp_path: Path
) -> None:
    from tests.test_train import photo

    cfg = write_config(tmp_path, tiny_models, stub)
    with cfg.open("a", encoding="utf-8") as f:  # train tiny and fast
        f.write(
            f'[training]\nclip_model = "{tiny_models["clip"]}"\n'
            f'dino_model = "{tiny_models["dino"]}"\nresolution = 64\nsteps = 20\n'
            "checkpoint_every = 10\nprior_images = 0\nvalidation_steps = 2\n"
        )
    async with running(cfg, stub):
        token = await stub.slash(
            "macies",
            {"token": "rigasdoms", "klase": "building", "nosaukums": "Rīgas Doms"},
            user_id=9,
        )
        [no] = await stub.wait_for("POST", f"/{token}/callback")  # refused at once, privately
        assert "administratoriem" in no.body["data"]["content"] and no.body["data"]["flags"] & 64
        token = await stub.slash(
            "macies",
            {"token": "rigasdoms", "klase": "building", "nosaukums": "Rīgas Doms"},
            user_id=ADMIN,
        )
        await stub.wait_for("PATCH", f"/{token}/messages/@original", content="Mācu Rīgas Doms")
        for i in range(4):
            data = photo(tmp_path / f"p{i}.jpg", i).read_bytes()
            token = await stub.slash("foto", user_id=ADMIN, attachment=("attels", data))
            await stub.wait_for(
                "PATCH", f"/{token}/messages/@original", content=f"Foto {i + 1} saglabāts."
            )
        token = await stub.slash("gatavs", user_id=ADMIN)
        await stub.wait_for("PATCH", f"/{token}/messages/@original", content="mācīšana sāksies")
        [sheet] = await stub.wait_for(
            "POST", "/channels/500/messages", content="iemācīts", timeout=120
        )
        assert sheet.files and "DINO" in sheet.body["content"]
        token = await stub.slash("pievienot", {"token": "rigasdoms"}, user_id=ADMIN)
        await stub.wait_for(
            "PATCH", f"/{token}/messages/@original", content="pievienots", timeout=60
        )
        token = await stub.slash("zime", {"teksts": "Rīgas Doms naktī"}, user_id=7)
        [followup] = await stub.wait_for("POST", f"/webhooks/4242/{token}", timeout=60)
        assert "rigasdoms building" in followup.body["content"]


async def test_panelis_and_galerija_are_private_links_without_previews(
    stub: DiscordStub, tiny_models: dict[str, Path], tmp_path: Path
) -> None:
    path = write_config(tmp_path, tiny_models, stub)
    path.write_text(
        path.read_text(encoding="utf-8") + "[web]\nenabled = true\n"
        'public_url = "https://zime.example.lv"\n',
        encoding="utf-8",
    )
    async with running(path, stub):

        async def answer(name: str, user: int) -> tuple[int, str]:
            """The flags and text of a command's answer: direct, or deferred then edited."""
            token = await stub.slash(name, {}, user_id=user)
            [callback] = await stub.wait_for("POST", f"/{token}/callback")
            if callback.body["type"] == 5:
                [edit] = await stub.wait_for("PATCH", f"/{token}/messages/@original")
                return callback.body["data"]["flags"], edit.body["content"]
            return callback.body["data"]["flags"], callback.body["data"]["content"]

        for user, name in ((ADMIN, "panelis"), (7, "galerija")):  # a link here, no Mini App
            flags, text = await answer(name, user)
            assert flags & 64  # only the asker sees it
            # <url>: Discord shows no preview, so nothing fetches the one-time link
            assert "<https://zime.example.lv/login/" in text
        assert "/login/" not in (await answer("panelis", 7))[1]
