"""Faults a bad day brings (issue #12): every request still ends in an image or one clear
answer within the job timeout plus a grace, and the process stays up and stoppable."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from core.app import open_service
from core.errors import (
    JobFailed,
    ModelUnavailable,
    NotFound,
    QueueFull,
    RateLimited,
    StorageError,
    TranslationFailed,
)
from core.jobs.job import Request
from core.lang.translate import IdentityTranslator, Translators
from tests.fakes import FakeGenerator
from tests.helpers import make_config

ROOT = Path(__file__).resolve().parent.parent
IDENTITY = Translators.single(IdentityTranslator())


def req(user: str, text: str = "kaķis uz jumta") -> Request:
    return Request(platform="test", user_id=user, chat_id=user, text=text)


@contextlib.contextmanager
def db_locked(path: Path) -> Iterator[sqlite3.Connection]:
    """Another process-like connection holding the write lock of the real SQLite file."""
    conn = sqlite3.connect(path, timeout=0.1, isolation_level=None)
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield conn
    finally:
        conn.execute("ROLLBACK")
        conn.close()


async def test_only_the_owner_gets_the_original(tmp_path: Path) -> None:
    async with open_service(
        make_config(tmp_path), generator=FakeGenerator(), translators=IDENTITY
    ) as svc:
        sub = await svc.handle(req("alice"))
        await asyncio.wait_for(sub.handle.wait(), 10)
        assert Path(await svc.original(sub.job_id, req("alice"))).is_file()
        with pytest.raises(NotFound):
            await svc.original(sub.job_id, req("mallory"))
        admin = Request("test", "root", "root", "", is_admin=True)
        assert await svc.original(sub.job_id, admin)
        with pytest.raises(NotFound):  # a forged 23-digit id in a button
            await svc.original(10**22, req("alice"))


async def test_an_unwritable_image_dir_fails_the_job_with_a_reason(tmp_path: Path) -> None:
    blocker = tmp_path / "img"
    blocker.write_text("a file where the image folder should be", encoding="utf-8")
    async with open_service(
        make_config(tmp_path), generator=FakeGenerator(), translators=IDENTITY
    ) as svc:
        sub = await svc.handle(req("u1"))
        with pytest.raises(JobFailed) as err:
            await asyncio.wait_for(sub.handle.wait(), 10)
        assert err.value.reason == "storage"
        row = await svc.job(sub.job_id)
        assert row is not None and row.status == "failed"
        assert not list(tmp_path.rglob("*.part"))


async def test_a_locked_database_is_a_clear_error_and_costs_no_token(tmp_path: Path) -> None:
    cfg = make_config(tmp_path, storage={"lock_wait_s": 0.5}, limits={"per_user_per_minute": 1})
    async with open_service(cfg, generator=FakeGenerator(), translators=IDENTITY) as svc:
        await svc.handle(req("warm-up"))
        with db_locked(tmp_path / "z.sqlite3"):
            started = time.monotonic()
            with pytest.raises(StorageError):
                await svc.handle(Request("test", "u1", "u1", "kaķis uz jumta", language="ru"))
            assert time.monotonic() - started < 5
        sub = await svc.handle(req("u1"))  # the one token per minute was given back
        await asyncio.wait_for(sub.handle.wait(), 10)
        with pytest.raises(RateLimited):
            await svc.handle(req("u1"))


async def test_a_lock_shorter_than_the_wait_is_waited_out(tmp_path: Path) -> None:
    cfg = make_config(tmp_path, storage={"lock_wait_s": 10.0})
    gen = FakeGenerator(step_s=0.2)
    async with open_service(cfg, generator=gen, translators=IDENTITY) as svc:
        sub = await svc.handle(req("u1"))
        with db_locked(tmp_path / "z.sqlite3"):
            await asyncio.sleep(1.5)  # the job finishes while the database is locked
        result = await asyncio.wait_for(sub.handle.wait(), 15)
        assert result.image_path and Path(result.image_path).is_file()
        row = await svc.job(sub.job_id)
        assert row is not None and row.status == "done"


async def test_a_hung_model_fails_every_job_in_time_and_turns_unhealthy(tmp_path: Path) -> None:
    cfg = make_config(tmp_path, generation={"job_timeout_s": 1.0, "hang_grace_s": 1.0})
    gen = FakeGenerator(hang=True)
    try:
        async with open_service(cfg, generator=gen, translators=IDENTITY) as svc:
            started = time.monotonic()
            subs = [await svc.handle(req("u1")), await svc.handle(req("u2"))]
            for sub in subs:
                with pytest.raises(JobFailed) as err:
                    await asyncio.wait_for(sub.handle.wait(), 5)
                assert err.value.reason in ("timeout", "unavailable")
            assert time.monotonic() - started < 4
            assert not svc.worker.alive()  # /healthz says unhealthy: restart me
            with pytest.raises(ModelUnavailable):
                await svc.handle(req("u3"))
    finally:
        assert gen.hang is not None
        gen.hang.set()


def test_sigterm_ends_the_process_with_a_wedged_model(tmp_path: Path) -> None:
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.hang_child", str(tmp_path)],
        cwd=Path.cwd(),
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    try:
        assert child.stdout is not None
        assert child.stdout.readline().strip() == "drawing"
        started = time.monotonic()
        child.send_signal(signal.SIGTERM)
        child.wait(timeout=20)
        assert time.monotonic() - started < 10
    finally:
        child.kill()
        if child.stdout is not None:
            child.stdout.close()


async def test_a_full_queue_stores_nothing_and_costs_no_token(tmp_path: Path) -> None:
    cfg = make_config(tmp_path, limits={"queue_size": 1, "per_user_per_minute": 2})
    gen = FakeGenerator(step_s=0.5)
    async with open_service(cfg, generator=gen, translators=IDENTITY) as svc:
        first = await svc.handle(req("u1"))
        deadline = time.monotonic() + 20
        while first.handle.id not in [h.id for h in svc.worker.drawing()]:  # drawing now
            assert time.monotonic() < deadline
            await asyncio.sleep(0.02)
        await svc.handle(req("u2"))  # fills the queue
        for _ in range(3):
            with pytest.raises(QueueFull):
                await svc.handle(req("u3"))
        assert await svc.history(req("u3")) == []  # nothing stored that a restart could resend
        await asyncio.wait_for(first.handle.wait(), 10)
    async with open_service(cfg, generator=FakeGenerator(), translators=IDENTITY) as svc:
        sub = await svc.handle(req("u3"))  # the refused attempts cost u3 no tokens
        await asyncio.wait_for(sub.handle.wait(), 10)
        sub = await svc.handle(req("u3"))
        with pytest.raises(RateLimited):
            await svc.handle(req("u3"))


async def test_a_failing_translator_is_answered_and_refunded(tmp_path: Path) -> None:
    class Broken:
        name = "broken"

        def translate(self, texts: Sequence[str], src: str = "lv") -> list[str]:
            raise RuntimeError("CUDA error: device-side assert triggered")

    cfg = make_config(tmp_path, limits={"per_user_per_minute": 1})
    async with open_service(
        cfg, generator=FakeGenerator(), translators=Translators.single(Broken())
    ) as svc:
        for _ in range(3):
            with pytest.raises(TranslationFailed):
                await svc.handle(req("u1", "kaķis uz jumta"))
        sub = await svc.handle(req("u1", "Rainis"))  # needs no translation; token still there
        await asyncio.wait_for(sub.handle.wait(), 10)


async def test_the_daily_limit_survives_a_restart(tmp_path: Path) -> None:
    cfg = make_config(tmp_path, limits={"per_user_per_day": 2})
    for _ in range(2):  # two restarts, one job each
        async with open_service(cfg, generator=FakeGenerator(), translators=IDENTITY) as svc:
            sub = await svc.handle(req("u1"))
            await asyncio.wait_for(sub.handle.wait(), 10)
    async with open_service(cfg, generator=FakeGenerator(), translators=IDENTITY) as svc:
        with pytest.raises(RateLimited) as err:
            await svc.handle(req("u1"))
        assert err.value.scope == "user_day" and err.value.retry_after > 3600
        with pytest.raises(RateLimited):  # nor through a redraw button
            await svc.again(sub.job_id, req("u1"), same_seed=False)
        await svc.handle(req("u2"))  # others are not affected


def test_logging_level_is_honoured(tmp_path: Path) -> None:
    import logging

    from core.ops.logs import configure_logging

    try:
        configure_logging(make_config(tmp_path, logging={"level": "ERROR"}))
        assert not logging.getLogger("zime.worker").isEnabledFor(logging.INFO)
        assert logging.getLogger("zime.worker").isEnabledFor(logging.ERROR)
        configure_logging(make_config(tmp_path, logging={"level": "DEBUG"}))
        assert not logging.getLogger("httpx").isEnabledFor(logging.INFO)  # URLs carry tokens
    finally:
        configure_logging(make_config(tmp_path, logging={"level": "WARNING"}))


def test_no_secret_or_user_text_in_the_log_at_debug_with_privacy(tmp_path: Path) -> None:
    """W8: at DEBUG with privacy on, the log held the bot token (PTB's own debug line), a
    login link and the user's text."""
    import io
    import logging

    from core.ops.logs import configure_logging

    token = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw"
    secret = "web-secret-never-logged"
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    root = logging.getLogger()
    root.addHandler(handler)
    try:
        configure_logging(
            make_config(
                tmp_path,
                logging={"level": "DEBUG", "privacy": True},
                telegram={"token": token},
                web={"secret": secret},
            )
        )
        logging.getLogger("zime.web").debug(
            "/panelis for telegram:1: %s", "https://z.example/login/Zq3x_Yz-0123456789abcdef"
        )
        logging.getLogger("zime.web").info("signed %s with %s", "x", secret)
        logging.getLogger("telegram.ext.ExtBot").info(
            "Calling Bot API endpoint `getMe`: https://api.telegram.org/bot%s/getMe", token
        )
        logging.getLogger("telegram.ext.Updater").debug("Got update: %s", "Rīgas balzams")
        logging.getLogger("aiosqlite").debug("executing %s", "INSERT … 'Rīgas balzams'")
        try:
            raise ConnectionError(f"https://api.telegram.org/bot{token}/sendPhoto failed")
        except ConnectionError:
            logging.getLogger("zime.telegram").exception("send failed")
        written = out.getvalue()
    finally:
        root.removeHandler(handler)
        configure_logging(make_config(tmp_path, logging={"level": "WARNING"}))
    assert "getMe" in written and "send failed" in written and "Traceback" in written
    for leak in (token, token.split(":")[1], secret, "Zq3x_Yz-0123456789abcdef", "Rīgas balzams"):
        assert leak not in written, leak


async def test_a_flagged_image_is_blurred_and_says_why(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from bot.texts import caption
    from core.draw import images

    veiled: list[tuple[int, int]] = []
    real_veil = images.veil

    def spy(image: Any) -> Any:
        veiled.append(image.size)
        return real_veil(image)

    monkeypatch.setattr(images, "veil", spy)

    cfg = make_config(tmp_path, models={"safety_checker": "always"})
    gen = FakeGenerator(nsfw_on="kaķis")
    async with open_service(cfg, generator=gen, translators=IDENTITY) as svc:
        sub = await svc.handle(req("u1"))
        job = await asyncio.wait_for(sub.handle.wait(), 10)
        assert job.nsfw
        text = caption(job.prompt, (), job.seed, "lv", hidden=job.nsfw)
        assert text.startswith("Drošības filtrs šo attēlu atzīmēja, tāpēc tas ir izpludināts.")
        assert veiled == [(job.params.width, job.params.height)]  # blurred before saving
        clean = await svc.handle(req("u2", "suns"))
        assert not (await asyncio.wait_for(clean.handle.wait(), 10)).nsfw


async def test_a_wedged_model_fails_its_jobs_in_sqlite_and_a_restart_draws_nothing(
    tmp_path: Path,
) -> None:
    cfg = make_config(tmp_path, generation={"job_timeout_s": 1.0, "hang_grace_s": 1.0})
    gen = FakeGenerator(hang_on="wedge")  # the wedged call stays in a daemon thread
    async with open_service(cfg, generator=gen, translators=IDENTITY) as svc:
        wedging = await svc.handle(req("u1", "wedge the model"))
        waiting = await svc.handle(req("u2", "a calm sea"))
        for sub, reason in ((wedging, "timeout"), (waiting, "unavailable")):
            with pytest.raises(JobFailed) as err:
                await asyncio.wait_for(sub.handle.wait(), 10)
            assert err.value.reason == reason
        rows = {j: await svc.job(j) for j in (wedging.job_id, waiting.job_id)}
    for job in rows.values():  # the rows are true: failed, with the reason
        assert job is not None and job.status == "failed"
    assert [rows[j].failure for j in (wedging.job_id, waiting.job_id)] == [  # type: ignore[union-attr]
        "timeout",
        "unavailable",
    ]
    from bot.texts import error_text, job_error

    sentence = error_text(job_error(rows[wedging.job_id]), "lv")  # type: ignore[arg-type]
    assert "ieilga" in sentence  # the timeout sentence, not the generic one
    again = FakeGenerator()
    async with open_service(cfg, generator=again, translators=IDENTITY) as svc:
        assert await svc.start() == []  # nothing to draw again
        await asyncio.sleep(0)
    assert again.calls == []
