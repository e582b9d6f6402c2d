from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

import pytest

from core.app import open_service
from core.draw.images import read_png_metadata
from core.errors import (
    Banned,
    BlockedPrompt,
    JobCancelled,
    JobFailed,
    ModelError,
    NotAdmin,
    QueueFull,
    RateLimited,
    UnsupportedLanguage,
)
from core.jobs.job import Request
from core.lang.translate import IdentityTranslator, Translators
from tests.fakes import FakeGenerator
from tests.helpers import make_config


def req(user: str, text: str = "kaķis uz jumta", **kw: object) -> Request:
    return Request(platform="test", user_id=user, chat_id=user, text=text, **kw)  # type: ignore[arg-type]


async def test_job_roundtrip_png_metadata_and_history(tmp_path: Path) -> None:
    gen = FakeGenerator()
    async with open_service(
        make_config(tmp_path), generator=gen, translators=Translators.single(IdentityTranslator())
    ) as svc:
        sub = await svc.handle(req("u1", "Rīgas balzama pudele", seed=42))
        assert sub.concept_ids == ("rigabalsam",) and sub.concept_names == (
            "Rīgas Melnais balzams",
        )
        result = await asyncio.wait_for(sub.handle.wait(), 10)
        assert result.seed == 42 and result.image_path and Path(result.image_path).is_file()
        meta = read_png_metadata(result.image_path)
        assert (
            meta["seed"] == "42" and meta["model_path"] == "fake/model" and meta["model"] == "lv-sb"
        )
        assert meta["prompt"] == sub.prompt and "rigabalsam" in meta["prompt"]
        [item] = await svc.history(req("u1"))
        assert (
            item.status == "done"
            and item.seed == 42
            and item.request_text == "Rīgas balzama pudele"
        )
        row = await svc.job(sub.job_id)
        assert row is not None and row.concepts == ("rigabalsam",) and row.wait_s is not None


async def test_round_robin_fairness(tmp_path: Path) -> None:
    gen = FakeGenerator()
    cfg = make_config(tmp_path)
    async with open_service(
        cfg, generator=gen, translators=Translators.single(IdentityTranslator())
    ) as svc:
        await svc.worker.stop()  # fill the queue first, then start draining
        svc.worker.per_user_queued = 20
        svc.worker._stopping = False
        a = [await svc.handle(req("alice", f"suns {i}", seed=i)) for i in range(10)]
        b = await svc.handle(req("bob", "kaķis", seed=100))
        assert b.handle.position == 2  # behind at most one of alice's jobs
        assert [h.id for h in svc.worker.order()][:3] == [a[0].job_id, b.job_id, a[1].job_id]
        await svc.worker.start()
        await asyncio.wait_for(asyncio.gather(*(s.handle.wait() for s in [*a, b])), 20)
        drawn = [call[0].seed for call in gen.calls]
        assert drawn.index(100) <= 1


async def test_compatible_jobs_are_batched(tmp_path: Path) -> None:
    gen = FakeGenerator()
    cfg = make_config(tmp_path, generation={"batch_size": 4})
    async with open_service(
        cfg, generator=gen, translators=Translators.single(IdentityTranslator())
    ) as svc:
        await svc.worker.stop()
        svc.worker._stopping = False
        subs = [await svc.handle(req(f"user{i}", f"māja {i}")) for i in range(5)]
        await svc.worker.start()
        await asyncio.wait_for(asyncio.gather(*(s.handle.wait() for s in subs)), 20)
        assert [len(c) for c in gen.calls] == [4, 1]


async def test_failing_job_does_not_stop_the_next(tmp_path: Path) -> None:
    gen = FakeGenerator(fail_on="sprādziens")
    async with open_service(
        make_config(tmp_path), generator=gen, translators=Translators.single(IdentityTranslator())
    ) as svc:
        bad = await svc.handle(req("u1", "sprādziens"))
        good = await svc.handle(req("u2", "kaķis"))
        with pytest.raises(JobFailed, match="fake failure"):
            await asyncio.wait_for(bad.handle.wait(), 10)
        assert (await asyncio.wait_for(good.handle.wait(), 10)).id == good.job_id
        row = await svc.job(bad.job_id)
        assert row is not None and row.status == "failed" and row.attempts == 3
        assert "fake failure" in (row.error or "")


async def test_cancel_queued_and_running(tmp_path: Path) -> None:
    gen = FakeGenerator(step_s=0.05)
    cfg = make_config(tmp_path, generation={"steps": 40})
    async with open_service(
        cfg, generator=gen, translators=Translators.single(IdentityTranslator())
    ) as svc:
        first = await svc.handle(req("u1", "viens"))
        second = await svc.handle(req("u1", "divi"))
        while first.handle.progress == 0:
            await asyncio.sleep(0.01)
        cancelled = await svc.cancel(req("u1"))
        assert set(cancelled) == {first.job_id, second.job_id}
        for sub in (first, second):
            with pytest.raises(JobCancelled):
                await asyncio.wait_for(sub.handle.wait(), 10)
        row = await svc.job(second.job_id)
        assert row is not None and row.status == "cancelled"
        assert len(gen.calls) == 1  # the queued one never reached the GPU


async def test_progress_and_timeout(tmp_path: Path) -> None:
    gen = FakeGenerator(step_s=0.05)
    cfg = make_config(
        tmp_path, generation={"steps": 100, "job_timeout_s": 0.3}, limits={"max_attempts": 1}
    )
    async with open_service(
        cfg, generator=gen, translators=Translators.single(IdentityTranslator())
    ) as svc:
        sub = await svc.handle(req("u1"))
        seen: list[float] = []
        while not sub.handle.finished:
            await sub.handle.wait_changed(1)
            seen.append(sub.handle.progress)
        with pytest.raises(JobFailed, match="timeout"):
            await sub.handle.wait()
        assert any(0 < p < 1 for p in seen)


async def test_reload_while_jobs_wait(tmp_path: Path) -> None:
    gen = FakeGenerator()
    async with open_service(
        make_config(tmp_path), generator=gen, translators=Translators.single(IdentityTranslator())
    ) as svc:
        admin = req("boss", is_admin=True)
        with pytest.raises(NotAdmin):
            await svc.reload(req("u1"), "other/model")
        gen.reload_gate.clear()
        reload = asyncio.create_task(svc.reload(admin, "other/model"))
        assert await asyncio.to_thread(gen.reload_started.wait, 60)  # an event, not a sleep
        subs = [await svc.handle(req(f"u{i}")) for i in range(3)]
        assert not gen.calls  # waiting for the swap (and drawn by the new model below)
        gen.reload_gate.set()
        assert await reload == "other/model"
        results = await asyncio.wait_for(asyncio.gather(*(s.handle.wait() for s in subs)), 10)
        assert {r.model_path for r in results} == {"other/model"}
        # a failed reload keeps the old model and tells the admin
        gen.reload_error = "no such model"
        with pytest.raises(ModelError, match="no such model"):
            await svc.reload(admin, "broken/model")
        assert gen.model == "other/model"


async def test_limits_bans_queue_caps_and_blocklist(tmp_path: Path) -> None:
    now = [1000.0]
    cfg = make_config(
        tmp_path,
        limits={"per_user_per_minute": 2, "per_user_queued": 5},
        moderation={"blocklist": ["asinis", "gore"]},
    )
    gen = FakeGenerator(step_s=0.2)
    async with open_service(
        cfg,
        generator=gen,
        translators=Translators.single(IdentityTranslator()),
        clock=lambda: now[0],
    ) as svc:
        await svc.worker.stop()  # nothing is drawn: queue caps are exact
        svc.worker._stopping = False
        await svc.handle(req("u1"))
        await svc.handle(req("u1"))
        with pytest.raises(RateLimited) as err:
            await svc.handle(req("u1"))
        assert 1 <= err.value.retry_after <= 30
        await svc.handle(req("boss", is_admin=True))  # admins are exempt from rate limits
        for _ in range(4):  # but not from the per-user queue cap (5)
            await svc.handle(req("boss", is_admin=True))
        with pytest.raises(QueueFull):
            await svc.handle(req("boss", is_admin=True))
        with pytest.raises(BlockedPrompt):
            await svc.handle(req("u2", "asinīm klāts"))
        with pytest.raises(BlockedPrompt):
            await svc.handle(req("u2", "lots of gore"))
        admin = req("boss", is_admin=True)
        await svc.set_banned(admin, "test", "u3", True, force=True)
        with pytest.raises(Banned):
            await svc.handle(req("u3"))
        await svc.set_banned(admin, "test", "u3", False, force=True)
        await svc.handle(req("u3"))
        now[0] += 30  # half a minute refills one of u1's two tokens
        await svc.handle(req("u1"))
        with pytest.raises(RateLimited):
            await svc.handle(req("u1"))


async def test_reroll_and_redraw(tmp_path: Path) -> None:
    gen = FakeGenerator()
    async with open_service(
        make_config(tmp_path), generator=gen, translators=Translators.single(IdentityTranslator())
    ) as svc:
        first = await svc.handle(req("u1", "Vanšu tilts", seed=5))
        await first.handle.wait()
        same = await svc.again(first.job_id, req("u1"), same_seed=True)
        other = await svc.again(first.job_id, req("u1"), same_seed=False)
        assert same.seed == 5 and same.prompt == first.prompt
        assert other.prompt == first.prompt and other.concept_ids == ("vansutilts",)
        await asyncio.gather(same.handle.wait(), other.handle.wait())
        stats = await svc.stats(req("boss", is_admin=True))
        assert stats["by_status"]["done"] == 3 and stats["median_draw_s"] is not None


async def test_unserved_language_is_refused_before_a_rate_token(tmp_path: Path) -> None:
    cfg = make_config(tmp_path, limits={"per_user_per_minute": 1})
    async with open_service(
        cfg, generator=FakeGenerator(), translators=Translators.single(IdentityTranslator())
    ) as svc:
        for _ in range(3):
            with pytest.raises(UnsupportedLanguage) as err:
                await svc.handle(req("u1", "кот на крыше"))
            assert err.value.lang == "ru"
        sub = await svc.handle(req("u1", "kaķis uz jumta"))  # the one token is still there
        await asyncio.wait_for(sub.handle.wait(), 10)


async def test_russian_prompt_uses_the_russian_translator(tmp_path: Path) -> None:
    class Tagging:
        name = "tagging"

        def __init__(self, tag: str) -> None:
            self.tag = tag

        def translate(self, texts: Sequence[str], src: str = "lv") -> list[str]:
            return [f"{self.tag}:{text}" for text in texts]

    translators = Translators({"lv": Tagging("lv"), "ru": Tagging("ru")})
    async with open_service(
        make_config(tmp_path), generator=FakeGenerator(), translators=translators
    ) as svc:
        sub = await svc.handle(req("u1", "Памятник Свободы ночью"))
        assert sub.english == "ru:Памятник Свободы ночью" and "brivpiem statue" in sub.prompt
