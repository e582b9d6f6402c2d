"""/apraksti (issue #34): four Latvian prompts for a photo or a Zīme picture, each one tap
from being drawn, through the same /zime path; the describer's models are the tiny ones (or
fakes where a test needs to know what CLIP says)."""

from __future__ import annotations

import asyncio
import io
import os
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from bot import actions, commands
from bot.message import Ctx
from bot.texts import error_text
from core.errors import DescribeBusy, DescribeUnavailable, NotFound
from core.jobs.job import Request
from core.lang.concepts import ConceptRegistry
from core.see.describe import Describer
from tests.test_console import console_config
from tests.web_helpers import site


def photo_bytes(colour: str = "blue") -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", (64, 64), colour).save(buf, format="PNG")
    return buf.getvalue()


class FakeCaptioner:
    def caption(self, image: Any, prompt: str = "") -> str:
        return "a tall stone column in a park" if not prompt else "trees and a street"


class FakeClip:
    """CLIP that recognises the Freedom Monument (and nothing else), and likes watercolour."""

    def scores(self, image: Any, texts: Sequence[str]) -> list[float]:
        return [
            0.31 if "Freedom Monument" in t else 0.3 if "watercolor" in t else 0.1 for t in texts
        ]


class Latvian:
    name = "fake-en-lv"

    def translate(self, texts: Sequence[str], src: str = "en") -> list[str]:
        words = {"a tall stone column in a park": "augsta akmens kolonna parkā"}
        return [
            words.get(t.split(",")[0], t.split(",")[0]) + t[len(t.split(",")[0]) :] for t in texts
        ]


def fake_describer() -> Describer:
    return Describer(FakeCaptioner(), Latvian(), FakeClip(), ConceptRegistry.load())


async def test_a_concept_clip_recognises_is_named_in_latvian_and_drawn_with_its_token(
    tmp_path: Path,
) -> None:
    async with site(tmp_path) as s:
        s.service._describer = fake_describer()
        reply = await commands.run(
            Ctx(s.service, s.request("7"), photo=lambda: _ready(photo_bytes())), "apraksti"
        )
        assert not reply.error, reply.text
        lines = reply.text.splitlines()[1:]
        assert len(lines) == 4 and len(set(lines)) == 4  # four different prompts
        assert all("Brīvības piemineklis" in line for line in lines)  # above the threshold
        assert "akvarelis" in lines[3]  # the style CLIP liked best, by its Latvian name
        assert [b.label for b in reply.buttons[0]] == ["1", "2", "3", "4"]
        assert reply.buttons[1][0].label == "Draw all"
        two = await actions.press(Ctx(s.service, s.request("7")), reply.buttons[0][1].data)
        assert two.start is not None
        sub = await two.start({"chat_id": 7})
        job = await asyncio.wait_for(sub.handle.wait(), 20)
        assert job.user_id == "7" and "brivpiem" in job.prompt  # drawn with its token
        assert job.request_text == lines[1].split(". ", 1)[1]
        other = await actions.press(Ctx(s.service, s.request("8")), reply.buttons[0][0].data)
        assert other.error and other.start is None  # only the asker


async def test_image_n_of_a_grid_sent_alone_is_described_from_that_image(
    tmp_path: Path,
) -> None:
    """📝 under U3's message describes image 3 (each image of a grid has its own seed and
    colour here), with the grid's text first."""
    async with site(tmp_path) as s:
        describer, seen = fake_describer(), []
        real = describer.describe

        def spy(image: Any, first: str = "") -> Any:
            seen.append(image.getpixel((0, 0)))
            return real(image, first)

        describer.describe = spy  # type: ignore[method-assign]
        s.service._describer = describer
        job_id = await s.draw("7", "Vanšu tilts --skaits 4")
        ctx = Ctx(s.service, s.request("7"))
        reply = await actions.press(ctx, actions.encode("desc", job_id, 3))
        assert reply.text.splitlines()[1] == "1. Vanšu tilts --skaits 4"
        colours = []
        for n in (1, 3):
            _job, path = await s.service.grid_image(job_id, n, s.request("7"))
            with Image.open(path) as img:
                colours.append(img.convert("RGB").getpixel((0, 0)))
        assert colours[0] != colours[1] and seen == [colours[1]]


async def test_a_deleted_picture_is_not_found_not_a_fault(tmp_path: Path) -> None:
    """🗑, then /apraksti N or 📝: "no such picture", as every other button says."""
    async with site(tmp_path) as s:
        s.service._describer = fake_describer()
        job_id = await s.draw("7", "Vanšu tilts")
        ctx = Ctx(s.service, s.request("7"))
        await s.service.delete(job_id, s.request("7"))
        gone = error_text(NotFound("image"), "en")
        by_command = await commands.run(ctx, "apraksti", str(job_id))
        by_button = await actions.press(ctx, actions.encode("desc", job_id))
        assert (by_command.text, by_button.text) == (gone, gone)


async def test_the_web_api_describes_a_picture_and_draws_one_prompt(tmp_path: Path) -> None:
    """The Mini App's 📝: POST /api/jobs/{id}/describe → four prompts; POST
    /api/descriptions/{id}/draw {"n": 2} → the second drawn as the asker's job; another
    user gets 404 for both, a bad n 400."""
    import httpx

    from tests.web_helpers import init_data

    def client(base: str, user: int) -> httpx.AsyncClient:
        headers = {"Authorization": f"tma {init_data(user)}", "Accept-Language": "en"}
        return httpx.AsyncClient(base_url=base, headers=headers, timeout=20)

    async with site(tmp_path) as s, client(s.base, 7) as mine, client(s.base, 8) as other:
        s.service._describer = fake_describer()
        job_id = await s.draw("7", "Vanšu tilts naktī")
        got = await mine.post(f"/api/jobs/{job_id}/describe", json={})
        assert got.status_code == 200, got.text
        described = got.json()
        assert len(described["prompts"]) == 4 and described["prompts"][0] == "Vanšu tilts naktī"
        draw = f"/api/descriptions/{described['id']}/draw"
        assert (await other.post(f"/api/jobs/{job_id}/describe", json={})).status_code == 404
        assert (await other.post(draw, json={"n": 2})).status_code == 404
        assert (await mine.post(draw, json={"n": 9})).status_code == 400
        started = await mine.post(draw, json={"n": 2, "job": job_id})
        assert started.status_code == 202, started.text
        job = await s.finished(started.json()["id"])
        assert job.user_id == "7" and job.request_text == described["prompts"][1]
        described_job = await s.service.job(job_id)
        assert described_job is not None and job.chat_id == described_job.chat_id  # its chat


async def _ready(data: bytes) -> bytes:
    return data


async def test_a_zime_picture_is_described_with_its_own_text_first(tmp_path: Path) -> None:
    async with site(tmp_path) as s:
        s.service._describer = fake_describer()
        job_id = await s.draw("7", "Vanšu tilts naktī --ar 3:2")
        desc = await actions.press(Ctx(s.service, s.request("7")), actions.encode("desc", job_id))
        assert desc.text.splitlines()[1] == "1. Vanšu tilts naktī --ar 3:2"
        assert len(desc.text.splitlines()) == 5
        refused = await actions.press(
            Ctx(s.service, s.request("8")), actions.encode("desc", job_id)
        )
        assert refused.error  # someone else's picture: one sentence, nothing described


async def test_a_busy_describer_says_so(tmp_path: Path) -> None:
    async with site(tmp_path, limits={"describe_queue": 1}) as s:
        gate = asyncio.Event()
        started = asyncio.Event()
        describer = fake_describer()
        real = describer.describe

        def slow(image: Any, first: str = "") -> Any:
            asyncio.run_coroutine_threadsafe(_set(started), loop).result()
            asyncio.run_coroutine_threadsafe(gate.wait(), loop).result()
            return real(image, first)

        loop = asyncio.get_running_loop()
        describer.describe = slow  # type: ignore[method-assign]
        s.service._describer = describer
        first = asyncio.create_task(s.service.describe(s.request("7"), photo=photo_bytes()))
        await asyncio.wait_for(started.wait(), 10)
        with pytest.raises(DescribeBusy) as busy:
            await s.service.describe(s.request("8"), photo=photo_bytes("red"))
        assert "mēģini vēlreiz" in error_text(busy.value, "lv")
        gate.set()
        _id, described = await asyncio.wait_for(first, 10)
        assert len(described.latvian) == 4


async def test_describer_models_not_on_this_machine_are_one_sentence_and_logged(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A server without the describer's models (not fetched, no hub): 📝 gets one sentence
    that drawing still works, the operator's log says why, and nothing else breaks."""
    missing = {"captioner": str(tmp_path / "no-blip"), "describe_translator": str(tmp_path)}
    async with site(tmp_path, models=missing) as s:
        job_id = await s.draw("7", "Vanšu tilts")
        with caplog.at_level("WARNING", logger="zime.describe"):
            desc = await actions.press(
                Ctx(s.service, s.request("7")), actions.encode("desc", job_id)
            )
            photo = await commands.run(Ctx(s.service, s.request("7")), "apraksti", "")
        assert desc.error and desc.text == error_text(DescribeUnavailable(), "en")
        assert error_text(DescribeUnavailable(), "lv") == (
            "Šajā serverī attēlus aprakstīt šobrīd nevaru; zīmēt var."
        )
        assert "/apraksti is unavailable" in caplog.text
        assert photo.error  # no photo: its own sentence, not a crash
        assert await s.draw("7", "Rainis") > job_id  # drawing goes on


def test_the_demo_describes_with_its_tiny_models(tiny_models: dict[str, Path]) -> None:
    from core.app import demo_config
    from core.config import Config

    root = tiny_models["sd"].parent
    cfg = demo_config(Config(), root)
    assert cfg.models.captioner == str(root / "captioner")
    assert cfg.models.describe_translator == str(root / "opus-en-lv")
    assert cfg.training.clip_model == str(root / "clip")


async def _set(event: asyncio.Event) -> None:
    event.set()


def test_the_console_describes_a_picture_with_d_and_draws_the_second(
    tiny_models: dict[str, Path], tmp_path: Path
) -> None:
    """On the tiny models, through the real captioner, CLIP and translator: D (📝) under a
    result answers four prompts with 1–4, and "2" draws the second as the user's job."""
    cfg = with_describer(console_config(tmp_path, tiny_models), tiny_models)
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "--config", str(cfg)],
        input="/zime Vanšu tilts naktī\nD\n2\n",
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    out = proc.stdout
    assert proc.returncode == 0, proc.stderr
    assert "[📝 (D)]" in out and "Četri apraksti šim attēlam:" in out
    assert "1. Vanšu tilts naktī" in out and "[1]  [2]  [3]  [4]" in out
    assert out.count("Uzzīmēts:") == 2  # the picture, and the second prompt drawn


def test_core_describe_prints_four_prompts_and_refuses_a_bad_file(
    tiny_models: dict[str, Path], tmp_path: Path
) -> None:
    import json

    cfg = tmp_path / "cfg.toml"
    cfg.write_text(
        f'[models]\ncaptioner = "{tiny_models["captioner"]}"\n'
        f'describe_translator = "{tiny_models["opus-en-lv"]}"\n'
        f'[training]\nclip_model = "{tiny_models["clip"]}"\n',
        encoding="utf-8",
    )
    (tmp_path / "p.png").write_bytes(photo_bytes())
    run = [sys.executable, "-m", "core", "describe"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    got = subprocess.run(
        [*run, str(tmp_path / "p.png"), "--json", "--config", str(cfg)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=True,
    )
    data = json.loads(got.stdout)
    assert len(data["latvian"]) == 4 and len(data["english"]) == 4 and data["style"]
    bad = subprocess.run(
        [*run, str(cfg), "--config", str(cfg)], capture_output=True, text=True, env=env, timeout=60
    )
    assert bad.returncode == 2 and "bad_photo" not in bad.stderr and "zime: " in bad.stderr
    missing = subprocess.run(
        [*run, str(tmp_path / "nope.png")], capture_output=True, text=True, env=env, timeout=60
    )
    assert missing.returncode == 2 and "Traceback" not in missing.stderr
    assert missing.stderr.strip().endswith("nope.png: No such file or directory")


async def test_a_telegram_photo_captioned_apraksti_gets_four_prompts_and_2_draws(
    tiny_models: dict[str, Path], tmp_path: Path
) -> None:
    """The real client against the stand-in Bot API: a photo with the caption /apraksti is
    answered with four prompts and 1–4; "2" draws the second as the user's job; someone
    else's press draws nothing; junk is the photo → picture sentence."""
    import json as _json

    from core.config import load_config
    from tests.telegram_stub import TelegramStub
    from tests.test_telegram import running_bot, write_config

    stub = TelegramStub()
    await stub.start()
    try:
        api = f"http://127.0.0.1:{stub.port}/bot"
        path = with_describer(write_config(tmp_path, tiny_models, api), tiny_models)
        async with running_bot(load_config(path, {})) as frontend:
            stub.send_photo(photo_bytes(), "/apraksti", user_id=61)
            [answer] = await stub.wait_for("sendMessage", chat_id=61, timeout=60)
            lines = answer.params["text"].splitlines()
            assert lines[0] == "Četri apraksti šim attēlam:" and len(lines) == 5
            rows = answer.params["reply_markup"]["inline_keyboard"]
            assert [b["text"] for b in rows[0]] == ["1", "2", "3", "4"]
            assert rows[1][0]["text"] == "Zīmēt visus"
            shown = {"message_id": 9100, "date": 0, "chat": {"id": 61, "type": "private"}}
            stub.press(rows[0][0]["callback_data"], shown, user_id=62)  # not the asker
            await stub.wait_for("answerCallbackQuery", text="Tāds zīmējums nav atrasts.")
            stub.press(rows[0][1]["callback_data"], shown, user_id=61)
            await stub.wait_for("sendPhoto", chat_id=61, timeout=60)  # the second prompt drawn
            asker = Request("telegram", "61", "61", "")
            jobs = await frontend.service.history(asker, 5)
            assert [j.request_text for j in jobs] == [lines[2].split(". ", 1)[1]]
            assert "62" not in _json.dumps([j.user_id for j in jobs])
            stub.send_photo(b"junk", "/apraksti", user_id=63)
            [junk] = await stub.wait_for("sendMessage", chat_id=63)
            assert junk.params["text"] == "Šo foto nevarēju nolasīt. Lūdzu, atsūti to vēlreiz."
            # a file sent as a document: the same checks and sentences as a photo
            stub.send_document(b"GIF89a not really", "/apraksti", user_id=64)
            [doc] = await stub.wait_for("sendMessage", chat_id=64)
            assert doc.params["text"] == junk.params["text"]
            stub.send_document(photo_bytes("green"), "/apraksti", user_id=65)
            [good] = await stub.wait_for("sendMessage", chat_id=65, timeout=60)
            assert good.params["text"].startswith("Četri apraksti šim attēlam:")
    finally:
        await stub.stop()


def with_describer(path: Path, tiny: dict[str, Path]) -> Path:
    """A frontend test's config with the tiny describer models."""
    path.write_text(
        path.read_text(encoding="utf-8").replace(
            "[models]\n",
            f'[models]\ncaptioner = "{tiny["captioner"]}"\n'
            f'describe_translator = "{tiny["opus-en-lv"]}"\n',
        )
        + f'[training]\nclip_model = "{tiny["clip"]}"\n',
        encoding="utf-8",
    )
    return path


async def test_a_discord_attachment_described_and_drawn(
    tiny_models: dict[str, Path], tmp_path: Path
) -> None:
    from tests.discord_stub import DiscordStub
    from tests.test_discord import running
    from tests.test_discord import write_config as discord_config

    stub = DiscordStub()
    await stub.start()
    try:
        cfg = with_describer(discord_config(tmp_path, tiny_models, stub), tiny_models)
        async with running(cfg, stub):
            [sync] = stub.sent("PUT", "/commands")
            apraksti = next(c for c in sync.body["__list__"] if c["name"] == "apraksti")
            assert "attels" in [o["name"] for o in apraksti["options"]]
            token = await stub.slash(
                "apraksti", {}, user_id=7, attachment=("attels", photo_bytes())
            )
            [answer] = await stub.wait_for("POST", f"/{token}/callback", timeout=60)
            data = answer.body["data"]
            assert data["content"].startswith("Četri apraksti šim attēlam:")
            ids = [c["custom_id"] for row in data["components"] for c in row["components"]]
            assert len(ids) == 5
            drawn = await stub.click(ids[1], user_id=7)
            [picture] = await stub.wait_for("POST", f"/webhooks/4242/{drawn}", timeout=60)
            assert picture.files  # the second prompt, drawn
            other = await stub.click(ids[0], user_id=8)
            [refusal] = await stub.wait_for("POST", f"/{other}/callback")
            assert refusal.body["data"]["flags"] & 64  # one private sentence, nothing drawn
    finally:
        await stub.stop()
