from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import io
import json
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from bot.telegram import TelegramFrontend
from bot.telegram.render import CAPTION_LIMIT, html_caption, user_language
from bot.texts import caption
from core.app import open_service
from core.config import Config, load_config
from core.errors import ConfigError
from core.jobs.job import Request
from tests.telegram_stub import TelegramStub

ROOT = Path(__file__).resolve().parent.parent
ADMIN = 42
ANY_PRIVATE_CHAT_HINT = (
    "Atver privātu saraksti ar mani un nospied Start, tad mēģini vēlreiz: caur to es sūtu "
    "inline attēlus."
)


def write_config(tmp_path: Path, tiny: dict[str, Path], api: str, **limits: int) -> Path:
    lim = {"per_user_per_minute": 5, "per_chat_per_minute": 50, **limits}
    cfg = tmp_path / "cfg.toml"
    cfg.write_text(
        f'[telegram]\ntoken = "123:TEST"\napi_base_url = "{api}"\nadmins = [{ADMIN}]\n'
        "edit_interval_s = 0.2\n"
        f'[models]\ngenerator = "{tiny["sd"]}"\ntranslator = "{tiny["opus"]}"\ndevice = "cpu"\n'
        "[generation]\nsteps = 2\nwidth = 64\nheight = 64\n"
        f'[storage]\ndatabase = "{tmp_path / "z.sqlite3"}"\nimages = "{tmp_path / "img"}"\n'
        "[limits]\n" + "".join(f"{k} = {v}\n" for k, v in lim.items()),
        encoding="utf-8",
    )
    return cfg


def bot_config(stub: TelegramStub, tiny: dict[str, Path], tmp_path: Path) -> Config:
    """A bot config against the stub on its port, with tiny models."""
    return load_config(write_config(tmp_path, tiny, f"http://127.0.0.1:{stub.port}/bot"), {})


@pytest.fixture
async def stub() -> AsyncIterator[TelegramStub]:
    s = TelegramStub()
    await s.start()
    yield s
    await s.stop()


@contextlib.asynccontextmanager
async def running_bot(cfg: Config) -> AsyncIterator[TelegramFrontend]:
    async with open_service(cfg) as service:
        frontend = TelegramFrontend(service, cfg.telegram)
        await frontend.start()
        try:
            yield frontend
        finally:
            await frontend.stop()


def button(call: Any, act: str) -> dict[str, str]:
    """The button of a sent message whose callback does `act` (z1:ACT:…), in any row."""
    rows = call.params["reply_markup"]["inline_keyboard"]
    return next(b for row in rows for b in row if b["callback_data"].split(":")[1] == act)


def result_row_texts(call: Any) -> list[str]:
    """The texts of the buttons under a result after its image row(s): 🔁 📄 ℹ️, 📝 ✏️ 🗑."""
    rows = call.params["reply_markup"]["inline_keyboard"]
    return [b["text"] for row in rows[-2:] for b in row]


def reply_to(call: Any) -> int | None:
    rp = call.params.get("reply_parameters") or {}
    return rp.get("message_id") if isinstance(rp, dict) else None


async def test_private_draw_reply_caption_buttons(
    stub: TelegramStub, tiny_models: dict[str, Path], tmp_path: Path
) -> None:
    cfg = bot_config(stub, tiny_models, tmp_path)
    async with running_bot(cfg):
        await stub.wait_for("setMyCommands")
        mid = stub.send_text("/zime Rīgas balzama pudele 🍾", user_id=7)
        [photo] = await stub.wait_for("sendPhoto", chat_id=7)
        assert reply_to(photo) == mid
        assert "rigabalsam bottle" in photo.params["caption"]
        assert (
            "Rīgas Melnais balzams" in photo.params["caption"]
            and "Sēkla:" in photo.params["caption"]
        )
        assert photo.params["parse_mode"] == "HTML"
        texts = result_row_texts(photo)
        assert texts == ["🔁 Vēlreiz", "📄 Oriģināls", "ℹ️ Detaļas", "📝", "✏️", "🗑"]
        assert all(len(row) <= 3 for row in photo.params["reply_markup"]["inline_keyboard"])
        assert photo.files["photo"].startswith(b"\x89PNG")
        [status] = stub.sent("sendMessage", chat_id=7)
        assert status.params["text"] == "⏳" and reply_to(status) == mid
        await stub.wait_for("deleteMessage", chat_id=7)

        # buttons: original PNG as a document, reroll with a new seed
        job_id = int(button(photo, "orig")["callback_data"].split(":")[2])
        message = {"message_id": 5000, "date": 0, "chat": {"id": 7, "type": "private"}}
        stub.press(f"orig:{job_id}", message, user_id=7)
        [doc] = await stub.wait_for("sendDocument", chat_id=7)
        assert doc.files["document"].startswith(b"\x89PNG") and reply_to(doc) == 5000
        stub.press(f"again:{job_id}", message, user_id=7)
        photos = await stub.wait_for("sendPhoto", 2, chat_id=7)
        assert photos[1].params["caption"] != photos[0].params["caption"]  # new seed
        await stub.wait_for("answerCallbackQuery", 2)
        # someone else cannot reroll my picture
        stub.press(f"again:{job_id}", message, user_id=8)
        [alert] = await stub.wait_for("answerCallbackQuery", 1, show_alert=True)
        assert "nav atrasts" in alert.params["text"]

        # plain private text is a prompt too; history lists both prompts with redo buttons
        stub.send_text("Vanšu tilts saulrietā", user_id=7)
        await stub.wait_for("sendPhoto", 3, chat_id=7)
        stub.send_text("/vesture", user_id=7)
        hist = [await stub.wait_for_text("sendMessage", "sēkla", chat_id=7)]
        assert "Vanšu tilts saulrietā" in hist[0].params["text"]
        assert "Rīgas balzama pudele" in hist[0].params["text"]


async def test_groups_mentions_chatter_and_bad_input(
    stub: TelegramStub, tiny_models: dict[str, Path], tmp_path: Path
) -> None:
    cfg = bot_config(stub, tiny_models, tmp_path)
    async with running_bot(cfg):
        group = -100
        stub.send_text("sveiki visiem, kas jauns?", user_id=11, chat_id=group, chat_type="group")
        stub.send_text(
            "/zime@zime_test_bot Milda naktī", user_id=11, chat_id=group, chat_type="group"
        )
        [photo] = await stub.wait_for("sendPhoto", chat_id=group)
        assert "brivpiem statue" in photo.params["caption"]
        stub.send_text("/zime@citsbots kaķis", user_id=11, chat_id=group, chat_type="group")
        stub.send_text("/zime", user_id=12)
        stub.send_text("/zime " + "ļoti " * 80, user_id=13)
        stub.send_text("/zime", user_id=14, language="en")
        await stub.wait_for("editMessageText", chat_id=13)
        await stub.wait_for("sendMessage", chat_id=12)
        await stub.wait_for("sendMessage", chat_id=14)
        texts = {c.params["chat_id"]: c.params["text"] for c in stub.sent("editMessageText")}
        assert "Uzraksti, ko uzzīmēt" in str(stub.sent("sendMessage", chat_id=12))
        assert "Write what to draw" in str(stub.sent("sendMessage", chat_id=14))
        assert "Pārāk garš teksts" in texts[13]
        group_msgs = stub.sent("sendMessage", chat_id=group)
        assert len(group_msgs) == 1  # only the status of the addressed command; chatter ignored
        assert len(stub.sent("sendPhoto", chat_id=group)) == 1


async def test_rate_limit_cancel_and_admin(
    stub: TelegramStub, tiny_models: dict[str, Path], tmp_path: Path
) -> None:
    api = f"http://127.0.0.1:{stub.port}/bot"
    cfg = load_config(write_config(tmp_path, tiny_models, api, per_user_per_minute=2), {})
    async with running_bot(cfg):
        for i in range(3):
            stub.send_text(f"/zime māja {i}", user_id=21)
        await stub.wait_for("editMessageText", chat_id=21, text="Pagaidi 30 s un mēģini vēlreiz.")
        stub.send_text("/atcelt", user_id=21)
        await stub.wait_for("sendMessage", chat_id=21, text="Atcelti: 0.")  # none left queued
        stub.send_text("/stats", user_id=22)
        await stub.wait_for("sendMessage", chat_id=22, text="Šī komanda ir tikai administratoriem.")
        stub.send_text("/stats", user_id=ADMIN)
        [stats] = await stub.wait_for("sendMessage", chat_id=ADMIN)
        assert "Rindā:" in stats.params["text"] and "Modelis:" in stats.params["text"]
        stub.send_text(f"/reload {tiny_models['sd']}", user_id=ADMIN)
        await stub.wait_for(
            "sendMessage", chat_id=ADMIN, text=f"Modelis ielādēts: {tiny_models['sd']}"
        )
        stub.send_text("/ban 23", user_id=ADMIN)  # never used Zīme: a typo, or another platform's
        await stub.wait_for(
            "sendMessage",
            chat_id=ADMIN,
            text="telegram:23 Zīmi nekad nav lietojis; pārbaudi numuru (telegram:42, discord:42)"
            " vai pievieno --force.",
        )
        stub.send_text("/ban 23 --force", user_id=ADMIN)
        await stub.wait_for("sendMessage", chat_id=ADMIN, text="Bloķēts: telegram:23.")
        stub.send_text("/zime kaķis", user_id=23)
        await stub.wait_for("editMessageText", chat_id=23, text="Tev nav atļauts izmantot šo botu.")


async def test_inline_mode(
    stub: TelegramStub, tiny_models: dict[str, Path], tmp_path: Path
) -> None:
    cfg = bot_config(stub, tiny_models, tmp_path)
    async with running_bot(cfg):
        stub.inject(
            {
                "inline_query": {
                    "id": "iq1",
                    "from": stub.user(31),
                    "query": "Vanšu tilts saulrietā",
                    "offset": "",
                }
            }
        )
        [answer] = await stub.wait_for("answerInlineQuery", inline_query_id="iq1")
        [result] = answer.params["results"]
        assert "Vanšu tilts saulrietā" in result["title"] and result["reply_markup"]
        chosen = {
            "result_id": "draw",
            "from": stub.user(31),
            "query": "Vanšu tilts saulrietā",
            "inline_message_id": "IM1",
        }
        stub.inject({"chosen_inline_result": chosen})
        [media] = await stub.wait_for("editMessageMedia", inline_message_id="IM1")
        assert "vansutilts bridge" in media.params["media"]["caption"]
        assert media.params["media"]["media"].startswith("photo-")  # the uploaded file's id
        # the buttons of an inline picture work: 🔁 redraws into it, 📄 goes to the private chat
        again, orig = (button(media, act)["callback_data"] for act in ("again", "orig"))
        stub.inject(
            {
                "callback_query": {
                    "id": "cb1",
                    "from": stub.user(31),
                    "chat_instance": "ci",
                    "data": again,
                    "inline_message_id": "IM1",
                }
            }
        )
        await stub.wait_for("editMessageMedia", 2, inline_message_id="IM1")
        stub.inject(
            {
                "callback_query": {
                    "id": "cb2",
                    "from": stub.user(31),
                    "chat_instance": "ci",
                    "data": orig,
                    "inline_message_id": "IM1",
                }
            }
        )
        [doc] = await stub.wait_for("sendDocument", chat_id=31)
        assert doc.files


async def test_russian_client_gets_russian_texts_and_a_polite_refusal(
    stub: TelegramStub, tiny_models: dict[str, Path], tmp_path: Path
) -> None:
    cfg = bot_config(stub, tiny_models, tmp_path)
    async with running_bot(cfg):
        # No Russian translator is configured: a Russian sentence is refused in Russian, the
        # user's language, naming the languages read now
        stub.send_text("/zime кот на крыше", user_id=51, language="ru")
        await stub.wait_for(
            "editMessageText",
            chat_id=51,
            text="Извините, я пока не читаю на русском. Пожалуйста, пишите на латышском, "
            "английском.",
        )
        # A Russian concept-only prompt needs no translator; the caption is in Russian.
        stub.send_text("/zime Рижский чёрный бальзам", user_id=51, language="ru")
        [photo] = await stub.wait_for("sendPhoto", chat_id=51)
        assert "rigabalsam bottle" in photo.params["caption"]
        assert "Нарисовано:" in photo.params["caption"]
        assert result_row_texts(photo) == [
            "🔁 Ещё раз",
            "📄 Оригинал",
            "ℹ️ Подробности",
            "📝",
            "✏️",
            "🗑",
        ]


def test_caption_rendering_is_escaped_and_bounded() -> None:
    plain = caption("<b>rigabalsam</b> & " + "x" * 3000, ("Rīgas Melnais balzams",), 7, "lv")
    text = html_caption(plain)
    assert len(text) <= CAPTION_LIMIT and "&lt;b&gt;" in text and "<b>" not in text
    assert text.rstrip().endswith("Sēkla: 7")
    assert "Drawn:" in html_caption(caption("p", (), 1, "en"))
    assert len(html_caption("&" * 2000)) <= CAPTION_LIMIT  # no entity cut in half
    assert (
        user_language("lv") == "lv"
        and user_language("ru") == "ru"
        and user_language("en-US") == "en"
        and user_language(None) == "lv"
    )


async def test_sigterm_and_restart_keep_history(
    stub: TelegramStub, tiny_models: dict[str, Path], tmp_path: Path
) -> None:
    api = f"http://127.0.0.1:{stub.port}/bot"
    cfg = write_config(tmp_path, tiny_models, api)
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}

    async def start() -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "--config",
            str(cfg),
            cwd=Path.cwd(),
            env=env,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.PIPE,
        )

    proc = await start()
    stub.send_text("/zime Gaismas pils", user_id=41)
    await stub.wait_for("sendPhoto", chat_id=41, timeout=60)
    proc.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(proc.wait(), 15) == 0
    assert proc.stderr is not None
    log = (await proc.stderr.read()).decode()
    assert "123:TEST" not in log  # the token never reaches the logs

    proc = await start()
    stub.send_text("/vesture", user_id=41)
    hist = await stub.wait_for_text("sendMessage", "sēkla", chat_id=41, timeout=60)
    assert "Gaismas pils" in hist.params["text"]
    proc.send_signal(signal.SIGTERM)
    assert await asyncio.wait_for(proc.wait(), 15) == 0


async def test_failed_delivery_is_retried_after_restart(
    stub: TelegramStub, tiny_models: dict[str, Path], tmp_path: Path
) -> None:
    cfg = bot_config(stub, tiny_models, tmp_path)
    stub.fail_next["sendPhoto"] = 100  # Telegram is down for photos
    async with running_bot(cfg):
        stub.send_text("/zime Dziesmu svētki", user_id=51)
        await stub.wait_for("sendPhoto", 5, chat_id=51)  # retried with backoff, then given up
    stub.fail_next["sendPhoto"] = 0

    def first_job_photos() -> list[Any]:  # job 1's photos (the stub may replay the update)
        return [
            c
            for c in stub.sent("sendPhoto", chat_id=51)
            if "again:1" in str(c.params.get("reply_markup"))
        ]

    tried = len(first_job_photos())
    async with running_bot(cfg) as frontend:  # the image is on disk and in the DB: delivered now
        await stub.wait_for("sendPhoto", tried + 1, chat_id=51)
        deadline = time.monotonic() + 30
        while await frontend.service.undelivered("telegram"):  # until it is recorded
            assert time.monotonic() < deadline
            await asyncio.sleep(0.05)
        assert "dziesmusvetki festival" in first_job_photos()[-1].params["caption"]
    assert len(first_job_photos()) == tried + 1  # once after the restart
    async with running_bot(cfg):  # delivered is recorded: a third start sends nothing
        await stub.wait_for("setMyCommands", 3)
        await asyncio.sleep(0.5)
    assert len(first_job_photos()) == tried + 1


async def test_a_permanent_error_is_not_retried_nor_resent(
    stub: TelegramStub, tiny_models: dict[str, Path], tmp_path: Path
) -> None:
    cfg = bot_config(stub, tiny_models, tmp_path)
    stub.fail("sendPhoto", 400, "Bad Request: chat not found", times=50)
    async with running_bot(cfg):
        stub.send_text("/zime Vanšu tilts", user_id=61)
        await stub.wait_for("sendPhoto", chat_id=61)
        await asyncio.sleep(1.0)

    def job_photos() -> list[Any]:  # job 1's photos (the stub may replay the update)
        return [
            c
            for c in stub.sent("sendPhoto", chat_id=61)
            if "again:1" in str(c.params.get("reply_markup"))
        ]

    assert len(job_photos()) == 1  # a 400 is not a network error: not retried
    async with running_bot(cfg):
        await stub.wait_for("setMyCommands", 2)
        await asyncio.sleep(0.5)
    assert len(job_photos()) == 1  # nor sent again at the next start


async def test_a_storm_of_429s_is_waited_out_in_process(
    stub: TelegramStub, tiny_models: dict[str, Path], tmp_path: Path
) -> None:
    cfg = bot_config(stub, tiny_models, tmp_path)
    stub.fail("sendPhoto", 429, "Too Many Requests: retry after 1", times=6, retry_after=1)
    async with running_bot(cfg):
        stub.send_text("/zime Gaismas pils", user_id=62)
        photos = await stub.wait_for("sendPhoto", 7, chat_id=62, timeout=90)
        assert "nacbib building" in photos[-1].params["caption"]


async def test_originals_are_for_their_owner_and_ids_are_checked(
    stub: TelegramStub, tiny_models: dict[str, Path], tmp_path: Path
) -> None:
    cfg = bot_config(stub, tiny_models, tmp_path)
    async with running_bot(cfg):
        stub.send_text("/zime Milda", user_id=71)
        [photo] = await stub.wait_for("sendPhoto", chat_id=71)
        orig = button(photo, "orig")["callback_data"]
        message = {"message_id": 5000, "date": 0, "chat": {"id": 72, "type": "private"}}
        stub.press(orig, message, user_id=72)  # someone else's job id
        [alert] = await stub.wait_for("answerCallbackQuery", text="Tāds zīmējums nav atrasts.")
        assert alert.params["show_alert"]
        stub.press("orig:" + "9" * 23, message, user_id=72)  # a forged id
        await stub.wait_for("answerCallbackQuery", 2, text="Tāds zīmējums nav atrasts.")
        assert not stub.sent("sendDocument")
        own = {"message_id": 5001, "date": 0, "chat": {"id": 71, "type": "private"}}
        stub.press(orig, own, user_id=71)
        [doc] = await stub.wait_for("sendDocument", chat_id=71)
        assert doc.files


async def test_admin_commands_refuse_before_announcing_and_cut_long_texts(
    stub: TelegramStub, tiny_models: dict[str, Path], tmp_path: Path
) -> None:
    from bot.telegram.render import TEXT_LIMIT, fit

    cfg = bot_config(stub, tiny_models, tmp_path)
    async with running_bot(cfg):
        stub.send_text("/reload", user_id=81)
        [refusal] = await stub.wait_for("sendMessage", chat_id=81)
        assert refusal.params["text"] == "Šī komanda ir tikai administratoriem."
        await asyncio.sleep(0.3)
        assert len(stub.sent("sendMessage", chat_id=81)) == 1  # no "Ielādēju modeli…" first
    long = "\n".join(f"{i}. #{i} telegram:{i}: " + "x" * 60 for i in range(1, 63))
    assert len(long) > TEXT_LIMIT and len(fit(long)) == TEXT_LIMIT and fit("ok") == "ok"


async def test_inline_follows_the_target_chat_rules_and_explains_a_403(
    stub: TelegramStub, tiny_models: dict[str, Path], tmp_path: Path
) -> None:
    cfg = bot_config(stub, tiny_models, tmp_path)
    async with running_bot(cfg) as frontend:
        query = {
            "id": "iq9",
            "from": stub.user(91),
            "query": "Rainis",
            "offset": "",
            "chat_type": "supergroup",
        }
        stub.inject({"inline_query": query})
        await stub.wait_for("answerInlineQuery", inline_query_id="iq9")
        stub.fail("sendPhoto", 403, "Forbidden: bot can't initiate conversation with a user")
        stub.inject(
            {
                "chosen_inline_result": {
                    "result_id": "draw",
                    "from": stub.user(91),
                    "query": "Rainis",
                    "inline_message_id": "IM9",
                }
            }
        )
        [told] = await stub.wait_for(
            "editMessageText", inline_message_id="IM9", timeout=30, text=ANY_PRIVATE_CHAT_HINT
        )
        assert "Start" in told.params["text"]
        [item] = await frontend.service.history(Request("telegram", "91", "91", ""))
        row = await frontend.service.job(item.id)
        assert row is not None and row.params.safety_checker  # group rules: safety checker on


async def test_options_grid_and_u_buttons(
    stub: TelegramStub, tiny_models: dict[str, Path], tmp_path: Path
) -> None:
    api = f"http://127.0.0.1:{stub.port}/bot"  # a grid, an upscale and 4 variations: 9 images
    cfg = load_config(write_config(tmp_path, tiny_models, api, per_user_per_minute=20), {})
    async with running_bot(cfg):
        stub.send_text("/zime Milda --soļi 999", user_id=95)
        await stub.wait_for(
            "editMessageText",
            chat_id=95,
            text="--soļi vajag veselu skaitli 1–50. Nekas netika zīmēts.",
        )
        stub.send_text("/zime Milda naktī --skaits 4 --sēkla 5, kvadrāts", user_id=95)
        [photo] = await stub.wait_for("sendPhoto", chat_id=95)
        assert "Opcijas: 1:1 · 4 attēli" in photo.params["caption"]
        assert "Sēkla: 5" in photo.params["caption"]
        rows = photo.params["reply_markup"]["inline_keyboard"]
        assert [b["text"] for b in rows[0]] == ["U1", "U2", "U3", "U4"]
        grid = next(iter(photo.files.values()))
        message = {"message_id": 7000, "date": 0, "chat": {"id": 95, "type": "private"}}
        stub.press(rows[0][1]["callback_data"], message, user_id=95)
        await stub.wait_for("sendPhoto", 2, chat_id=95)
        single = stub.sent("sendPhoto", chat_id=95)[-1]
        assert single.params["caption"] == "U2 · Sēkla: 6"
        assert len(next(iter(single.files.values()))) < len(grid)  # one image, not the grid
        stub.press(rows[0][1]["callback_data"], message, user_id=96)  # not the owner
        await stub.wait_for("answerCallbackQuery", text="Tāds zīmējums nav atrasts.")
        # U2's photo offers 🔍 2×, 🔀 and 🔭; 🔍 redraws image 2 at twice the size
        up, variations, zoom = single.params["reply_markup"]["inline_keyboard"][0]
        assert up["callback_data"].startswith("z1:up:")
        assert variations["callback_data"].startswith("z1:v:")
        assert zoom["text"] == "🔭 Attālināt" and zoom["callback_data"].endswith(":2")
        orig, describe, fix, delete = single.params["reply_markup"]["inline_keyboard"][1]
        assert fix["text"] == "✏️" and delete["text"] == "🗑"
        assert describe["text"] == "📝" and describe["callback_data"].endswith(":2")
        stub.press(orig["callback_data"], message, user_id=95)  # image 2's own PNG
        [doc] = await stub.wait_for("sendDocument", chat_id=95)
        assert doc.files["document"] == next(iter(single.files.values()))
        stub.press(up["callback_data"], message, user_id=95)
        await stub.wait_for("sendPhoto", 3, chat_id=95, timeout=60)
        from PIL import Image

        upscaled = stub.sent("sendPhoto", chat_id=95)[-1]
        with Image.open(io.BytesIO(next(iter(upscaled.files.values())))) as img:
            assert img.size == (128, 128)  # the tiny config draws 64×64
        stub.press(zoom["callback_data"], message, user_id=95)  # 🔭: image 2 on a 1.5× canvas
        await stub.wait_for("sendPhoto", 4, chat_id=95, timeout=60)
        zoomed = stub.sent("sendPhoto", chat_id=95)[-1]
        with Image.open(io.BytesIO(next(iter(zoomed.files.values())))) as img:
            assert img.size == (96, 96)
        # V1 under the grid: a new grid of variations of image 1
        stub.press(rows[1][0]["callback_data"], message, user_id=95)
        await stub.wait_for("sendPhoto", 5, chat_id=95, timeout=60)
        varied = stub.sent("sendPhoto", chat_id=95)[-1]
        assert [b["text"] for b in varied.params["reply_markup"]["inline_keyboard"][1]] == [
            "V1",
            "V2",
            "V3",
            "V4",
        ]


async def test_delete_is_for_the_author_only(
    stub: TelegramStub, tiny_models: dict[str, Path], tmp_path: Path
) -> None:
    cfg = bot_config(stub, tiny_models, tmp_path)
    async with running_bot(cfg) as frontend:
        stub.send_text("/zime Vanšu tilts", user_id=97)
        [photo] = await stub.wait_for("sendPhoto", chat_id=97)
        delete = button(photo, "del")["callback_data"]
        job_id = int(delete.split(":")[2])
        job = await frontend.service.job(job_id)
        assert job is not None and job.image_path and Path(job.image_path).is_file()
        shown = {"message_id": 8000, "date": 0, "chat": {"id": 97, "type": "private"}}
        stub.press(delete, shown, user_id=98)  # someone else
        await stub.wait_for("answerCallbackQuery", text="Tāds zīmējums nav atrasts.")
        assert Path(job.image_path).is_file() and not stub.sent("deleteMessage", message_id=8000)
        stub.press(delete, shown, user_id=97)
        await stub.wait_for("deleteMessage", chat_id=97, message_id=8000)
        assert not Path(job.image_path).exists()


async def test_photo_to_picture(
    stub: TelegramStub, tiny_models: dict[str, Path], tmp_path: Path
) -> None:
    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (300, 200), (10, 120, 200)).save(buf, format="JPEG")
    cfg = bot_config(stub, tiny_models, tmp_path)
    # 256² so that rounding to 8 px can keep a 3:2 photo's shape (at 64² the 64 px floor binds)
    cfg = dataclasses.replace(
        cfg, generation=dataclasses.replace(cfg.generation, width=256, height=256)
    )
    async with running_bot(cfg) as frontend:
        stub.send_photo(buf.getvalue(), "/zime piparkūku stilā --stiprums 0.6", user_id=99)
        [photo] = await stub.wait_for("sendPhoto", chat_id=99, timeout=60)
        assert stub.sent("file")  # downloaded from the Bot API's file URL
        with Image.open(io.BytesIO(next(iter(photo.files.values())))) as drawn:
            assert abs(drawn.width / drawn.height - 1.5) / 1.5 < 0.05  # the photo's shape
        [job] = await frontend.service.history(Request("telegram", "99", "99", ""))
        assert job.params.init_image and job.params.strength == 0.6
        assert "piparkuka" in job.prompt
        # not a photo at all: one clear sentence
        gif = io.BytesIO()
        Image.new("RGB", (8, 8)).save(gif, format="GIF")
        stub.send_photo(gif.getvalue(), "/zime kaķis", user_id=99)
        await stub.wait_for(
            "editMessageText", chat_id=99, text="Es varu zīmēt tikai no JPEG, PNG vai WebP foto."
        )
        stub.send_photo(b"junk", "/zime kaķis", user_id=99)
        await stub.wait_for(
            "editMessageText",
            chat_id=99,
            text="Šo foto nevarēju nolasīt. Lūdzu, atsūti to vēlreiz.",
        )
        too_big = "Foto ir lielāks par 10 MB. Lūdzu, atsūti mazāku."
        stub.send_photo(b"x", "/zime kaķis", user_id=99, size=11 * 1024 * 1024)
        await stub.wait_for("editMessageText", 1, chat_id=99, text=too_big)
        # the Bot API refuses a file (over 20 MB): the same sentence, not the generic one
        stub.fail("getFile", 400, "Bad Request: file is too big")
        stub.send_photo(b"x", "/zime kaķis", user_id=99)
        await stub.wait_for("editMessageText", 2, chat_id=99, text=too_big)
        # a lying file_size: refused by the Content-Length, then (without it) while streaming
        big = bytes(50 * 1024 * 1024)
        for n, headers in ((3, True), (4, False)):
            stub.file_headers = headers
            stub.send_photo(big, "/zime kaķis", user_id=99, size=1000)
            await stub.wait_for("editMessageText", n, chat_id=99, text=too_big)
        served = [v for k, v in stub.served.items() if len(stub.files[k]) == len(big)]
        assert len(served) <= 2 and all(v <= 16 * 1024 * 1024 for v in served), served


async def test_fix_the_translation(
    stub: TelegramStub, tiny_models: dict[str, Path], tmp_path: Path
) -> None:
    cfg = bot_config(stub, tiny_models, tmp_path)
    async with running_bot(cfg) as frontend:
        stub.send_text("/zime kaķis pie Brīvības pieminekļa", user_id=101)
        [photo] = await stub.wait_for("sendPhoto", chat_id=101)
        fix = button(photo, "fix")
        assert fix["text"] == "✏️"
        shown = {"message_id": 9000, "date": 0, "chat": {"id": 101, "type": "private"}}
        stub.press(fix["callback_data"], shown, user_id=102)  # not the author
        await stub.wait_for("answerCallbackQuery", text="Tāds zīmējums nav atrasts.")
        stub.press(fix["callback_data"], shown, user_id=101)
        asked = (await stub.wait_for("sendMessage", 2, chat_id=101))[-1]  # after the "⏳"
        assert asked.params["reply_markup"]["force_reply"] is True
        assert "brivpiem statue" in asked.params["text"]
        question = stub.messages[-1]
        first = int(fix["callback_data"].split(":")[2])
        for _ in range(100):  # the bot records which question it asked right after sending it
            job = await frontend.service.job(first)
            if job is not None and "fix_message" in job.meta:
                break
            await asyncio.sleep(0.05)
        # the user answers by replying to the question
        stub.inject(
            {
                "message": {
                    "message_id": 9100,
                    "date": 0,
                    "chat": {"id": 101, "type": "private"},
                    "from": stub.user(101),
                    "text": "a black cat next to brivpiem statue, oil painting",
                    "reply_to_message": question,
                }
            }
        )
        await stub.wait_for("sendPhoto", 2, chat_id=101)
        items = await frontend.service.history(Request("telegram", "101", "101", ""))
        assert items[0].prompt == "a black cat next to brivpiem statue, oil painting"
        assert items[0].parent_id == items[1].id and items[0].kind == "edit"


async def test_settings_survive_a_restart_and_apply(
    stub: TelegramStub, tiny_models: dict[str, Path], tmp_path: Path
) -> None:
    api = f"http://127.0.0.1:{stub.port}/bot"
    cfg = load_config(write_config(tmp_path, tiny_models, api, per_user_per_minute=20), {})
    async with running_bot(cfg):
        stub.send_text("/iestatijumi skaits=9", user_id=111)
        await stub.wait_for(
            "sendMessage",
            chat_id=111,
            text="skaits= vajag veselu skaitli 1–4. Tavi iestatījumi netika mainīti.",
        )
        stub.send_text("/iestatijumi skaits=2 formats=ainava privāti=jā valoda=ru", user_id=111)
        await stub.wait_for("sendMessage", 2, chat_id=111)
        assert "картинок в запросе: 2" in stub.sent("sendMessage", chat_id=111)[-1].params["text"]
        # the same through buttons: 3 images, then back to 2; someone else's press is refused
        stub.send_text("/iestatijumi", user_id=111)
        shown = (await stub.wait_for("sendMessage", 3, chat_id=111))[-1]
        rows = shown.params["reply_markup"]["inline_keyboard"]
        assert [b["text"] for b in rows[0]] == ["🖼 1", "• 🖼 2", "🖼 3", "🖼 4"]
        assert rows[1][1]["text"] == "• 3:2" and rows[3][1]["text"] == "• ru"
        message = {
            "message_id": stub.messages[-1]["message_id"],
            "date": 0,
            "chat": {"id": 111, "type": "private"},
        }
        stub.press(rows[0][2]["callback_data"], message, user_id=111)
        [edit] = await stub.wait_for("editMessageText", chat_id=111)
        assert "картинок в запросе: 3" in edit.params["text"]
        assert edit.params["reply_markup"]["inline_keyboard"][0][2]["text"] == "• 🖼 3"
        stub.press(rows[0][0]["callback_data"], message, user_id=112)
        [alert] = await stub.wait_for("answerCallbackQuery", show_alert=True)
        assert "/iestatijumi" in alert.params["text"]
        stub.press(rows[0][1]["callback_data"], message, user_id=111)
        # the edit that shows 2 (it is sent after the setting is saved), not any second edit
        await stub.wait_for_text("editMessageText", "картинок в запросе: 2", chat_id=111)
    async with running_bot(cfg):  # after a restart
        stub.send_text("/zime@zime_test_bot Milda", user_id=111, chat_id=-500, chat_type="group")
        [photo] = await stub.wait_for("sendPhoto", chat_id=111, timeout=60)  # privately
        assert "Опции: 3:2 · 2 картинки" in photo.params["caption"]  # Russian, 2 images, 3:2
        await stub.wait_for(
            "editMessageText", chat_id=-500, text="Отправил тебе в личные сообщения."
        )
        assert not stub.sent("sendPhoto", chat_id=-500)


async def test_a_flagged_picture_goes_out_blurred_as_a_spoiler(
    stub: TelegramStub, tiny_models: dict[str, Path], tmp_path: Path
) -> None:
    from tests.fakes import FakeGenerator

    cfg = bot_config(stub, tiny_models, tmp_path)
    cfg = dataclasses.replace(cfg, models=dataclasses.replace(cfg.models, safety_checker="always"))
    async with open_service(cfg, generator=FakeGenerator(nsfw_on="cat")) as service:
        frontend = TelegramFrontend(service, cfg.telegram)
        await frontend.start()
        try:
            stub.send_text("/zime a photo of a cat", user_id=61)  # English: not translated
            [photo] = await stub.wait_for("sendPhoto", chat_id=61)
            assert photo.params.get("has_spoiler") is True, photo.params
            assert "izpludināts" in photo.params["caption"]
            stub.send_text("/zime a photo of a dog", user_id=61)
            photos = await stub.wait_for("sendPhoto", 2, chat_id=61)
            assert not photos[1].params.get("has_spoiler")
        finally:
            await frontend.stop()


async def test_an_admin_teaches_a_concept_in_the_chat(
    stub: TelegramStub, tiny_models: dict[str, Path], tmp_path: Path
) -> None:
    """/macies, 4 photos, /gatavs: the training runs on the worker's GPU between drawings,
    the admin gets the contact sheet and the scores, /pievienot makes it live."""
    from tests.test_train import photo

    cfg_path = write_config(tmp_path, tiny_models, f"http://127.0.0.1:{stub.port}/bot")
    with cfg_path.open("a", encoding="utf-8") as f:  # train tiny and fast
        f.write(
            f'[training]\nclip_model = "{tiny_models["clip"]}"\n'
            f'dino_model = "{tiny_models["dino"]}"\nresolution = 64\nsteps = 20\n'
            "checkpoint_every = 10\nprior_images = 1\nvalidation_steps = 2\n"
            "learning_rate = 0.01\n"
        )
    cfg = load_config(cfg_path, {})
    async with running_bot(cfg):
        stub.send_text("/macies rigasdoms building Rīgas Doms", user_id=7)  # not an admin
        await stub.wait_for("sendMessage", chat_id=7, text="Šī komanda ir tikai administratoriem.")
        stub.send_text("/macies rigasdoms building Rīgas Doms", user_id=ADMIN)
        await stub.wait_for(
            "sendMessage",
            chat_id=ADMIN,
            text="Mācu Rīgas Doms (rigasdoms building). Atsūti 4–20 tā foto, tad /gatavs.",
        )
        stub.send_text("/gatavs", user_id=ADMIN)  # too early
        await stub.wait_for(
            "sendMessage", chat_id=ADMIN, text="Mācīšana: līdz šim 0 foto; atsūti vismaz 4"
        )
        for i in range(4):
            path = photo(tmp_path / f"p{i}.jpg", i)
            stub.send_photo(path.read_bytes(), "", user_id=ADMIN)
            await stub.wait_for("sendMessage", chat_id=ADMIN, text=f"Foto {i + 1} saglabāts.")
        stub.send_text("/zime Milda", user_id=7)  # a user's drawing goes first
        stub.send_text("/gatavs", user_id=ADMIN)
        [sheet] = await stub.wait_for("sendPhoto", chat_id=ADMIN, timeout=120)
        assert "rigasdoms iemācīts" in sheet.params["caption"]
        await stub.wait_for_text("sendMessage", "DINO", chat_id=ADMIN)
        assert stub.sent("sendPhoto", chat_id=7)  # the user's picture was not held up
        stub.send_text("/pievienot rigasdoms", user_id=ADMIN)
        await stub.wait_for(
            "sendMessage",
            chat_id=ADMIN,
            text="rigasdoms pievienots: pamēģini /zime ar tā nosaukumu.",
            timeout=60,
        )
        stub.send_text("/zime Rīgas Doms naktī", user_id=7)
        photos = await stub.wait_for("sendPhoto", 2, chat_id=7, timeout=60)
        assert "rigasdoms building" in photos[1].params["caption"]
        assert "Rīgas Doms" in photos[1].params["caption"]


async def test_panelis_and_galerija_links_and_the_mini_app_button(
    stub: TelegramStub, tiny_models: dict[str, Path], tmp_path: Path
) -> None:
    """/panelis: a one-time link with the preview off; /galerija: a Web App button with an
    https base, a link with an http one; neither is sent into a group."""
    cfg = bot_config(stub, tiny_models, tmp_path)
    web = dataclasses.replace(cfg.web, enabled=True, public_url="https://zime.example.lv")
    async with running_bot(dataclasses.replace(cfg, web=web)) as frontend:
        stub.send_text("/panelis", user_id=ADMIN)
        [link] = await stub.wait_for("sendMessage", chat_id=ADMIN)
        assert "https://zime.example.lv/login/" in link.params["text"]
        assert link.params["link_preview_options"]["is_disabled"] is True
        stub.send_text("/galerija", user_id=55)
        [app] = await stub.wait_for("sendMessage", chat_id=55)
        [[button]] = app.params["reply_markup"]["inline_keyboard"]
        assert button["web_app"] == {"url": "https://zime.example.lv/app"}
        # /labot as a reply to a picture: the region editor of that picture, as a Mini App
        stub.send_text("/zime kaķis", user_id=5501)
        await stub.wait_for("sendPhoto", chat_id=5501, timeout=60)
        [picture] = [m for m in stub.photos if m["chat"]["id"] == 5501]
        asker = Request("telegram", "5501", "5501", "")
        deadline = time.monotonic() + 20  # the result's message id is recorded on delivery
        while not await frontend.service.job_of_message(asker, picture["message_id"]):
            assert time.monotonic() < deadline, "the result's message id was not recorded"
            await asyncio.sleep(0.05)
        stub.send_text("/labot", user_id=5501, reply_to=picture)

        def editor_buttons() -> list[Any]:
            return [
                b
                for m in stub.sent("sendMessage", chat_id=5501)
                for row in m.params.get("reply_markup", {}).get("inline_keyboard", [])
                for b in row
                if "edit=" in b.get("web_app", {}).get("url", "")
            ]

        deadline = time.monotonic() + 20
        while not editor_buttons():
            assert time.monotonic() < deadline, "no editor button"
            await asyncio.sleep(0.05)
        [button] = editor_buttons()
        assert button["text"] == "🖌 Labot apgabalu"
        assert button["web_app"]["url"].startswith("https://zime.example.lv/app?edit=")
        stub.send_text("/labot", user_id=5701, reply_to=picture)  # not theirs
        [refused] = await stub.wait_for("sendMessage", chat_id=5701)
        assert "web_app" not in json.dumps(refused.params)
        stub.send_text("/panelis", user_id=ADMIN, chat_id=-500, chat_type="group")
        [group] = await stub.wait_for("sendMessage", chat_id=-500)
        assert "/login/" not in group.params["text"] and "privātā" in group.params["text"]
    web = dataclasses.replace(cfg.web, enabled=True, public_url="http://127.0.0.1:9")
    async with running_bot(dataclasses.replace(cfg, web=web)):
        stub.send_text("/galerija", user_id=56)
        [link] = await stub.wait_for("sendMessage", chat_id=56)
        assert "http://127.0.0.1:9/login/" in link.params["text"]
        assert "reply_markup" not in link.params or not link.params["reply_markup"]


async def test_a_webhook_takes_updates_on_the_web_app_and_refuses_a_wrong_secret(
    stub: TelegramStub, tiny_models: dict[str, Path], tmp_path: Path
) -> None:
    """`[telegram] webhook = true`: setWebhook with BASE/telegram/webhook and a secret at
    start, no polling; the stand-in Bot API posts updates there; a wrong secret is 403;
    deleteWebhook at stop."""
    from bot.__main__ import telegram_frontend, web_app
    from tests.redis_server import free_port

    port = free_port()
    path = write_config(tmp_path, tiny_models, f"http://127.0.0.1:{stub.port}/bot")
    base = f"http://127.0.0.1:{port}"
    env = {"ZIME_TELEGRAM_WEBHOOK": "true", "ZIME_WEB_PUBLIC_URL": base}
    path.write_text(
        path.read_text(encoding="utf-8") + f"[web]\nenabled = true\nport = {port}\n",
        encoding="utf-8",
    )
    cfg = load_config(path, env)
    async with open_service(cfg) as service, web_app(cfg, service) as server:
        frontend = telegram_frontend(cfg, service, server)
        await frontend.start()
        try:
            [hook] = await stub.wait_for("setWebhook")
            assert hook.params["url"] == f"{base}/telegram/webhook"
            assert len(hook.params["secret_token"]) >= 32  # a random one: none configured
            stub.send_text("/palidziba", user_id=7)  # posted to the webhook, not polled
            [answer] = await stub.wait_for("sendMessage", chat_id=7)
            assert "/zime" in answer.params["text"] and stub.webhook_answers == [200]
            wrong = {"update_id": 99, "message": {"message_id": 1, "date": 0, "text": "x"}}
            assert await stub.post_update(wrong, secret="not-the-secret") == 403
            assert await stub.post_update(wrong, secret="") == 403
            assert not stub.sent("getUpdates")
        finally:
            await frontend.stop()
    assert stub.sent("deleteWebhook")
    with pytest.raises(ConfigError, match="public_url"):
        load_config(path, {"ZIME_TELEGRAM_WEBHOOK": "true"})
