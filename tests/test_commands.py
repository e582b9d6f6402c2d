"""The one command table, button registry and status loop, through Service with a fake
generator: the defects of issue #20 that are not about one platform."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from bot import actions, commands
from bot.admin_texts import stats_text
from bot.message import Ctx, Reply, Rows
from bot.texts import error_text
from bot.user_texts import history_line
from core.app import open_service
from core.config import config_from_dict
from core.errors import RateLimited
from core.jobs.job import Request, Status
from core.lang.options import UnknownOption
from core.lang.translate import IdentityTranslator, Translators
from core.service import Service
from tests.fakes import FakeGenerator
from tests.helpers import make_config

ENGLISH = Translators.single(IdentityTranslator())


def ctx(svc: Service, user: str = "u1", admin: bool = False, lang: str = "lv") -> Ctx:
    return Ctx(svc, Request("test", user, user, "", language=lang, is_admin=admin))


async def draw(reply: Reply) -> int:
    """Queue a reply's drawing (as a frontend does) and wait for the job to end."""
    assert reply.start is not None, reply
    sub = await reply.start({})
    await asyncio.wait_for(sub.handle.wait(), 10)
    return sub.job_id


def default_limits(tmp_path: Path, **generation: int) -> dict[str, dict[str, object]]:
    """The shipped defaults for [limits] (3 requests a minute, 100 images a day)."""
    return {
        "storage": {"database": str(tmp_path / "z.sqlite3"), "images": str(tmp_path / "img")},
        "generation": {"steps": 2, "width": 64, "height": 64, "batch_size": 4, **generation},
    }


async def test_unknown_flags_name_the_closest_and_draw_nothing(tmp_path: Path) -> None:
    async with open_service(
        make_config(tmp_path), generator=FakeGenerator(), translators=ENGLISH
    ) as svc:
        for text, closest in (
            ("a dog --seeds 5", "--sēkla/--seed"),
            ("a dog --nezinams 3", "--ne/--no"),
            ("a dog --stiprum 0.5", "--stiprums/--strength"),
        ):
            reply = await commands.run(ctx(svc), "zime", text)
            assert reply.start is not None
            with pytest.raises(UnknownOption) as exc:
                await reply.start({})
            assert exc.value.closest == closest
            sentence = error_text(exc.value, "lv")
            assert closest in sentence and "Nekas netika zīmēts" in sentence
        assert await svc.history(ctx(svc).request) == []  # nothing was drawn or stored
        # a lone "--" ends the options: the rest is drawn as it is written
        job_id = await draw(await commands.run(ctx(svc), "zime", "--seed 7 -- a dog --seeds 5"))
        job = await svc.job(job_id)
        assert job is not None and job.seed == 7 and "--seeds 5" in job.prompt


async def test_the_default_limits_fit_the_image_counts(tmp_path: Path) -> None:
    cfg = config_from_dict(default_limits(tmp_path))
    assert cfg.limits.per_user_per_minute == 3  # the shipped default
    async with open_service(cfg, generator=FakeGenerator(), translators=ENGLISH) as svc:
        # 4 images are one request: the per-minute bucket of 3 does not refuse them
        await draw(await commands.run(ctx(svc), "zime", "a dog --n 4"))
        await draw(await commands.run(ctx(svc), "zime", "a cat --skaits 4"))
        await draw(await commands.run(ctx(svc), "zime", "a fox"))
        with pytest.raises(RateLimited):  # the 4th request this minute
            await (await commands.run(ctx(svc), "zime", "a bird")).start({})  # type: ignore[misc]
        for _ in range(5):  # admins are exempt
            await draw(await commands.run(ctx(svc, "root", admin=True), "zime", "a bird --n 4"))
    cfg = config_from_dict(default_limits(tmp_path / "b", images=4))
    async with open_service(cfg, generator=FakeGenerator(), translators=ENGLISH) as svc:
        job_id = await draw(await commands.run(ctx(svc), "zime", "a dog"))
        job = await svc.job(job_id)
        assert job is not None and job.params.count == 4 and job.status == Status.DONE


async def test_bad_arguments_and_admin_commands_answer_in_one_sentence(tmp_path: Path) -> None:
    async with open_service(
        make_config(tmp_path), generator=FakeGenerator(), translators=ENGLISH
    ) as svc:
        bad = await commands.run(ctx(svc), "velreiz", "abc")
        assert bad.error and bad.text.startswith("/velreiz vajag zīmējuma numuru")
        assert (await commands.run(ctx(svc, lang="en"), "atkartot", "")).text.startswith(
            "/atkartot needs a picture number"
        )
        assert "Nezināma komanda" in (await commands.run(ctx(svc), "nezinama")).text
        refused = await commands.run(ctx(svc), "stats")
        assert refused.error and "administratoriem" in refused.text
        assert "sēkla" not in (await commands.run(ctx(svc), "vesture")).text  # no history yet
        for name in ("risuj", "draw"):  # Russian and English aliases
            await draw(await commands.run(ctx(svc), name, "a dog --seed 3"))
        history = await commands.run(ctx(svc), "istorija")
        assert "gatavs · sēkla 3" in history.text and "done" not in history.text
        assert len(history.buttons) == 2  # ♻️ and 📄 for each drawing
        assert history.buttons[0][0].label.startswith("♻️ #")  # the same seed: ♻️, never 🔁
        stats = await commands.run(ctx(svc, "root", admin=True), "stats")
        assert "Pēdējās 7 dienās: gatavs 2" in stats.text
        assert "{" not in stats.text and "Neveiksmes: 0 (0 %)" in stats.text
        unknown = await commands.run(ctx(svc, "root", admin=True), "ban", "u9")
        assert unknown.error and "u9 Zīmi nekad nav lietojis" in unknown.text  # a typo?
        ban = await commands.run(ctx(svc, "root", admin=True), "ban", "u9 --force")
        assert ban.text.startswith("Bloķēts: ") and ban.text.endswith(":u9.")
        banned = await commands.run(ctx(svc, "u9"), "zime", "a dog")
        with pytest.raises(Exception) as exc:
            await banned.start({})  # type: ignore[misc]
        assert "nav atļauts" in error_text(exc.value, "lv")  # type: ignore[arg-type]


def test_stats_numbers_are_rounded_as_people_read_them() -> None:
    text = stats_text(
        {
            "queued": 1,
            "by_status": {"done": 7, "failed": 1, "running": 1},
            "jobs_per_day": {"2026-12-05": 9},
            "median_wait_s": 0.6666666,
            "median_draw_s": 12.345678,
            "failures": 1,
            "model": "m",
        },
        "lv",
    )
    assert "0.7 s" in text and "12 s" in text and "(11 %)" in text
    assert "gatavs 7" in text and "zīmēju 1" in text and "neizdevās 1" in text
    assert "2026-12-05: 9" in text and "0.666" not in text and "{" not in text


def test_the_callback_codec_reads_every_version_and_refuses_the_rest() -> None:
    assert actions.decode(actions.encode("u", 5, 2)) == actions.Press("u", 5, 2)
    assert actions.decode("again:5") == actions.Press("again", 5)  # Telegram's first version
    assert actions.decode("u:5:1") == actions.Press("u", 5, 1)
    assert actions.decode("zime:up:7:3") == actions.Press("up", 7, 3)  # Discord's first
    assert actions.decode("z1:set:42:formats=3:2") == actions.Press("set", arg="42:formats=3:2")
    for bad in ("u:²:1", "u:5:x", "nope:5", "", "z1:", "u:" + "9" * 30, "z1:del:5:1:2"):
        assert actions.decode(bad) is None, bad


async def test_every_button_runs_through_the_registry_with_the_owner_check(
    tmp_path: Path,
) -> None:
    async with open_service(
        make_config(tmp_path), generator=FakeGenerator(), translators=ENGLISH
    ) as svc:
        grid = await draw(await commands.run(ctx(svc), "zime", "a dog --n 2 --seed 5"))
        labels = [b.label for row in actions.result_buttons(grid, 2, "lv") for b in row]
        assert labels[:4] == ["U1", "U2", "V1", "V2"] and labels[-2:] == ["✏️", "🗑"]
        single = await actions.press(ctx(svc), actions.encode("u", grid, 2))
        assert single.pictures[0].caption == "U2 · Sēkla: 6"
        assert single.labels()[:2] == ["🔍 2×", "🔀 Variācijas"]
        assert (await actions.press(ctx(svc, "u2"), actions.encode("u", grid, 2))).error
        up = await draw(await actions.press(ctx(svc), actions.encode("up", grid, 2)))
        big = await svc.job(up)
        assert big is not None and (big.params.width, big.params.height) == (128, 128)
        for _ in range(3):  # variations are 4 images, whatever the per-minute bucket
            await draw(await actions.press(ctx(svc), actions.encode("v", grid, 1)))
        info = await actions.press(ctx(svc), actions.encode("info", grid))
        assert "Sēkla: 5" in info.text and info.private
        ask = await actions.press(ctx(svc), actions.encode("fix", grid))
        assert ask.ask is not None and "a dog" in ask.ask.question
        fixed = await draw(actions.fixed(ctx(svc), grid, "a red dog"))
        assert (job := await svc.job(fixed)) is not None and job.prompt == "a red dog"
        orig = await actions.press(ctx(svc), actions.encode("orig", grid, 1))
        assert orig.pictures[0].document and Path(orig.pictures[0].path).is_file()
        settings = await actions.press(ctx(svc), actions.encode_setting("u1", "skaits=3"))
        assert settings.edit and "attēli pieprasījumā: 3" in settings.text
        other = await actions.press(ctx(svc, "u2"), actions.encode_setting("u1", "skaits=1"))
        assert other.error and "/iestatijumi" in other.text
        gone = await actions.press(ctx(svc), actions.encode("del", grid))
        assert gone.remove and gone.notice
        assert (await actions.press(ctx(svc), "u:²:1")).error  # forged data: one sentence


async def test_the_cancel_button_stops_that_job_for_its_owner_or_an_admin(
    tmp_path: Path,
) -> None:
    from bot.status import follow

    gen = FakeGenerator(step_s=0.05)
    cfg = make_config(tmp_path)
    async with open_service(cfg, generator=gen, translators=ENGLISH) as svc:
        reply = await commands.run(ctx(svc), "zime", "a dog --soļi 50")
        assert reply.start is not None
        sub = await reply.start({})
        shown: list[tuple[str, list[str]]] = []

        async def show(text: str, rows: Rows) -> None:
            shown.append((text, [b.label for row in rows for b in row]))

        loop = asyncio.create_task(follow(sub.handle, "lv", show, 0.01))
        while not any("Zīmēju" in text for text, _ in shown):
            await asyncio.sleep(0.01)
        assert shown[-1][1] == ["❌"]
        cancel = actions.encode("cancel", sub.job_id)
        refused = await actions.press(ctx(svc, "u2"), cancel)  # someone else's job
        assert refused.error and not sub.handle.finished
        done = await actions.press(ctx(svc), cancel)
        assert done.notice and done.text == "Atcelts."
        with pytest.raises(Exception, match="cancel"):
            await asyncio.wait_for(sub.handle.wait(), 10)
        await asyncio.wait_for(loop, 5)
        job = await svc.job(sub.job_id)
        assert job is not None and job.status == Status.CANCELLED
        again = await actions.press(ctx(svc, "root", admin=True), cancel)
        assert again.text == "Tas jau ir pabeigts."
        assert "atcelts" in history_line(job, "lv")


async def test_a_job_cancelled_before_drawing_costs_nothing_of_the_day(tmp_path: Path) -> None:
    cfg = make_config(tmp_path, limits={"per_user_per_day": 5, "per_user_queued": 5})
    gen = FakeGenerator(step_s=0.05)
    async with open_service(cfg, generator=gen, translators=ENGLISH) as svc:
        first = await (await commands.run(ctx(svc), "zime", "a dog --soļi 40")).start({})  # type: ignore[misc]
        waiting = await (await commands.run(ctx(svc), "zime", "a cat --n 4")).start({})  # type: ignore[misc]
        assert waiting.handle.position == 1
        done = await actions.press(ctx(svc), actions.encode("cancel", waiting.job_id))
        assert done.text == "Atcelts."
        await asyncio.wait_for(first.handle.wait(), 10)
        # 1 image drawn of 5: the cancelled grid of 4 gave its images back
        await draw(await commands.run(ctx(svc), "zime", "a fox --n 4"))
