"""Bounds (issue #21): 🔍 stops at max_side, MPO photos, 🗑 takes the upload too, the
strength sentence; and the edges of the rules whose tests passed with the rule broken
(the ratio cap, the strength range, the checkpoint choice, the daily sum of images)."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import pytest
from PIL import Image

from bot.texts import error_text
from core.app import open_service
from core.jobs.job import Request
from core.lang.options import BadOption, parse_options
from core.lang.translate import IdentityTranslator, Translators
from tests.fakes import FakeGenerator
from tests.helpers import make_config

ENGLISH = Translators.single(IdentityTranslator())


def req(text: str = "", photo: bytes | None = None) -> Request:
    return Request("test", "u1", "u1", text, photo=photo)


def test_the_strength_sentence_says_it_is_a_fraction() -> None:
    with pytest.raises(BadOption) as exc:
        parse_options("a dog --stiprums 5", 50)
    text = error_text(exc.value, "lv")
    assert "no 0.1 līdz 1" in text and "veselu" not in text


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("3:1", True),
        ("1:3", True),
        ("16:9", True),
        ("19:6", False),
        ("1:4", False),
        ("31:10", False),
    ],
)
def test_the_ratio_cap_is_3_to_1_exactly(value: str, ok: bool) -> None:
    if ok:
        assert parse_options(f"Milda --ar {value}", 50)[1].aspect is not None
    else:
        with pytest.raises(BadOption):
            parse_options(f"Milda --ar {value}", 50)


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("0.1", True),
        ("0,1", True),
        ("1", True),
        ("0.09", False),
        ("0.01", False),
        ("1.01", False),
        ("-0.5", False),
    ],
)
def test_the_strength_range_is_a_tenth_to_one(value: str, ok: bool) -> None:
    if ok:
        assert parse_options(f"Milda --stiprums {value}", 50)[1].strength == float(
            value.replace(",", ".")
        )
    else:
        with pytest.raises(BadOption):
            parse_options(f"Milda --stiprums {value}", 50)


def test_the_checkpoint_choice_is_the_best_total_and_the_earliest_on_a_tie() -> None:
    from core.train.score import Scores, choose

    def scored(step: int, dino: float) -> Scores:
        return Scores(f"step-{step:06d}", step, dino, dino, 0.3, 0.0)

    scores = [scored(10, 0.5), scored(20, 0.9), scored(30, 0.9), scored(40, 0.2)]
    assert choose(scores).step == 20
    assert choose(list(reversed(scores))).step == 20


async def test_the_day_sums_images_not_requests(tmp_path: Path) -> None:
    from core.jobs.job import GenParams, Job
    from core.jobs.store import Store

    async with Store(tmp_path / "z.sqlite3") as store:
        for count in (4, 2, 1):
            params = GenParams("a cat", "", 1, 4, 7.5, 64, 64, False, count=count)
            await store.create_job(Job(0, "test", "u1", "u1", params))
        assert (await store.jobs_since("test", "u1", 0))[0] == 7


async def test_upscale_stops_at_max_side_and_says_so(tmp_path: Path) -> None:
    cfg = make_config(tmp_path, generation={"width": 256, "height": 256, "max_side": 768})
    async with open_service(cfg, generator=FakeGenerator(), translators=ENGLISH) as svc:
        sub = await svc.handle(req("a dog --seed 1"))
        job = await asyncio.wait_for(sub.handle.wait(), 10)
        sizes = []
        for _ in range(2):  # 256 → 512 → 768 (not 1024)
            up = await svc.upscale(job.id, 1, req())
            job = await asyncio.wait_for(up.handle.wait(), 10)
            sizes.append((job.params.width, job.params.height))
        assert sizes == [(512, 512), (768, 768)]
        with pytest.raises(BadOption) as exc:  # at the limit: one sentence, nothing drawn
            await svc.upscale(job.id, 1, req())
        assert "jau ir tik liels" in error_text(exc.value, "lv")


def mpo_photo() -> bytes:
    """A two-frame MPO, as phone cameras write them."""
    buf = io.BytesIO()
    first, second = Image.new("RGB", (96, 64), (200, 10, 10)), Image.new("RGB", (96, 64))
    first.save(buf, format="MPO", save_all=True, append_images=[second])
    return buf.getvalue()


async def test_an_mpo_photo_is_drawn_from_and_delete_removes_the_upload(tmp_path: Path) -> None:
    from core.draw.images import load_photo

    data = mpo_photo()
    assert Image.open(io.BytesIO(data)).format == "MPO"
    red, _, _ = load_photo(data).getpixel((0, 0))
    assert red > 150  # the first frame (JPEG is lossy), not the black second one
    async with open_service(
        make_config(tmp_path), generator=FakeGenerator(), translators=ENGLISH
    ) as svc:
        sub = await svc.handle(req("a painting", photo=data))
        job = await asyncio.wait_for(sub.handle.wait(), 10)
        upload = Path(job.params.init_image or "")
        assert upload.is_file() and upload.parent.name == "uploads"
        await svc.delete(job.id, req())
        assert not upload.exists() and not Path(job.image_path or "").exists()


async def test_the_prompt_limit_counts_the_whole_message_options_included(tmp_path: Path) -> None:
    """W9: a 6,000-character --ne was stored whole; the limit is over the whole message."""
    from core.errors import PromptTooLong

    with pytest.raises(PromptTooLong):
        parse_options("a cat --ne " + "suns " * 1200, 50, 300)
    assert parse_options("a cat --ne suns", 50, 300)[1].negative == "suns"
    async with open_service(
        make_config(tmp_path), generator=FakeGenerator(), translators=ENGLISH
    ) as svc:
        with pytest.raises(PromptTooLong):
            await svc.handle(req("a cat --ne " + "x" * 6023))
        assert await svc.store.jobs_since("test", "u1", 0) == (0, 0)


def test_the_concept_lookup_is_linear_in_one_long_word(monkeypatch: pytest.MonkeyPatch) -> None:
    """W10: a word's one-letter deletions are quadratic in its length; a word far longer
    than any concept name is never expanded into them."""
    from core.lang import concepts

    calls: list[int] = []
    real = concepts.deletions  # type: ignore[attr-defined]

    def counting(word: str) -> set[str]:
        calls.append(len(word))
        return set(real(word))

    monkeypatch.setattr(concepts, "deletions", counting)
    registry = concepts.ConceptRegistry.load()
    calls.clear()
    assert registry.find("brivibaspieminekis" * 2000) == []  # 36,000 letters, one word
    assert all(n < 64 for n in calls), max(calls)
    assert [m.id for m in registry.find("Brivibas pieminekis naktī")] == ["brivpiem"]
