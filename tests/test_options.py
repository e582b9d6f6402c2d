"""Options in the message (issue #13): flags, aliases, validation, sizes, grids."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from pathlib import Path

import pytest

from core.app import open_service
from core.draw.images import image_variant_path
from core.errors import NotFound, RateLimited
from core.jobs.job import Options, Request, size_for
from core.lang.options import BadOption, parse_options
from core.lang.translate import Translators
from tests.fakes import FakeGenerator
from tests.helpers import make_config


@pytest.mark.parametrize(
    ("text", "prompt", "options"),
    [
        ("Vanšu tilts --ar 16:9", "Vanšu tilts", Options(aspect=(16, 9))),
        ("--sēkla 42 Milda", "Milda", Options(seed=42)),
        ("Milda --sekla 42 naktī", "Milda naktī", Options(seed=42)),
        ("Milda --seed 7 --steps 30", "Milda", Options(seed=7, steps=30)),
        ("Milda --soļi 30 --skaits 4", "Milda", Options(steps=30, count=4)),
        ("Milda --n 2", "Milda", Options(count=2)),
        ("Milda —n 2", "Milda", Options(count=2)),  # a phone turned -- into a dash
        (
            "Milda --ne cilvēki, mašīnas --n 2",
            "Milda",
            Options(negative="cilvēki, mašīnas", count=2),
        ),
        ("Milda --no people", "Milda", Options(negative="people")),
        ("Gaismas pils ziemā, ainava", "Gaismas pils ziemā", Options(aspect=(3, 2))),
        ("Milda, portrets --seed 1", "Milda", Options(aspect=(2, 3), seed=1)),
        ("Milda, kvadrāts", "Milda", Options(aspect=(1, 1))),
        ("Milda --sēkla 5, kvadrāts", "Milda", Options(aspect=(1, 1), seed=5)),
        ("ainava ar kalniem", "ainava ar kalniem", Options()),  # a word to draw
        ("kalni, ainava pie jūras", "kalni, ainava pie jūras", Options()),
        ("a--b c -- d", "a--b c d", Options()),  # "a--b" is no flag; a lone "--" ends them
        ("Milda -- --ne kaķis, ainava", "Milda --ne kaķis, ainava", Options()),
        ("--sēkla 3 -- suns --n 2", "suns --n 2", Options(seed=3)),
        ("Rīga — pilsēta –vakarā", "Rīga — pilsēta –vakarā", Options()),  # dashes stay text
        ("Milda --stiprums 0,5", "Milda", Options(strength=0.5)),
    ],
)
def test_flags(text: str, prompt: str, options: Options) -> None:
    assert parse_options(text, 50) == (prompt, options)


@pytest.mark.parametrize(
    ("text", "flag", "allowed"),
    [
        ("Milda --soļi 99", "--soļi", "1–50"),
        ("Milda --steps 0", "--steps", "1–50"),
        ("Milda --skaits 5", "--skaits", "1–4"),
        ("Milda --n", "--n", "1–4"),
        ("Milda --sēkla -1", "--sēkla", "0–4294967295"),
        ("Milda --seed 99999999999", "--seed", "0–4294967295"),
        ("Milda --ar 4:0", "--ar", "ratio"),
        ("Milda --ar 10:1", "--ar", "ratio"),
        ("Milda --ar plats", "--ar", "ratio"),
        ("Milda --ne", "--ne", "negative"),
        ("Milda --stiprums 2", "--stiprums", "fraction"),
        ("Milda --stiprums 0", "--stiprums", "fraction"),
        ("Milda --sēkla " + "9" * 5000, "--sēkla", "0–4294967295"),
        ("Milda --soļi ²", "--soļi", "1–50"),
    ],
)
def test_bad_values_name_the_flag_and_range(text: str, flag: str, allowed: str) -> None:
    with pytest.raises(BadOption) as err:
        parse_options(text, 50, 10_000)  # the range, not the length
    assert (err.value.flag, err.value.allowed) == (flag, allowed)


def test_sizes_follow_the_ratio_in_multiples_of_64() -> None:
    for aspect in [(1, 1), (3, 2), (2, 3), (16, 9), (9, 16), (3, 1), (4, 3)]:
        w, h = size_for(aspect, 512 * 512, 768)
        assert w % 64 == 0 and h % 64 == 0 and max(w, h) <= 768
        if max(w, h) < 768:  # where the longest side is not what binds, the area holds
            assert abs(w * h - 512 * 512) / (512 * 512) < 0.15
        assert abs(w / h - aspect[0] / aspect[1]) < 0.2
    assert size_for((1, 1), 512 * 512, 768) == (512, 512)


def test_options_are_one_versioned_json_record() -> None:
    options = Options(aspect=(3, 2), negative="cilvēki", seed=5, steps=20, count=4)
    raw = options.to_json()
    assert '"v": 1' in raw and Options.from_json(raw) == options
    assert Options.from_json("{}") == Options()
    assert Options(seed=1).merged(Options(count=4, seed=9)) == Options(seed=1, count=4)


def req(user: str, text: str) -> Request:
    return Request("test", user, user, text)


async def test_a_grid_is_one_batch_one_request_and_four_images(tmp_path: Path) -> None:
    cfg = make_config(
        tmp_path,
        limits={"per_user_per_minute": 2, "per_user_per_day": 6},
        generation={"width": 256, "height": 256},
    )
    gen = FakeGenerator()
    async with open_service(cfg, generator=gen, translators=Translators()) as svc:
        sub = await svc.handle(req("u1", "Milda --skaits 4 --ar 3:2 --sēkla 10"))
        job = await asyncio.wait_for(sub.handle.wait(), 10)
        assert len(gen.calls) == 1 and len(gen.calls[0]) == 4  # drawn in one batch
        assert [p.seed for p in gen.calls[0]] == [10, 11, 12, 13]
        assert job.params.count == 4 and job.options == Options(aspect=(3, 2), seed=10, count=4)
        from PIL import Image

        w, h = job.params.width, job.params.height
        assert (w, h) == size_for((3, 2), 256 * 256, 768) == (320, 192)
        assert job.image_path is not None
        with Image.open(job.image_path) as grid:
            assert grid.size == (2 * w, 2 * h)  # 2×2, no gutters
        for n in range(1, 5):
            assert image_variant_path(job.image_path, n).is_file()
        _, second = await svc.grid_image(job.id, 2, req("u1", ""))
        assert second.endswith("-2.png")
        # the same seed gives the same image
        again = await svc.handle(req("u1", "Milda --sēkla 11 --ar 3:2"))
        single = await asyncio.wait_for(again.handle.wait(), 10)
        assert single.image_path is not None
        assert Path(single.image_path).read_bytes() != b""
        with Image.open(single.image_path) as a, Image.open(second) as b:
            assert a.tobytes() == b.tobytes()
        # two requests (4 + 1 images) used the 2 requests a minute allows
        with pytest.raises(RateLimited) as minute:
            await svc.handle(req("u1", "Milda"))
        assert minute.value.scope == "user"
        # the day counts images: 4 + 4 would be 8 of 6
        first = await svc.handle(req("u2", "Milda --skaits 4"))
        await asyncio.wait_for(first.handle.wait(), 10)
        with pytest.raises(RateLimited) as day:
            await svc.handle(req("u2", "Milda --skaits 4"))
        assert day.value.scope == "user_day"


async def test_the_negative_prompt_is_translated_and_added(tmp_path: Path) -> None:
    class Upper:
        name = "upper"

        def translate(self, texts: Sequence[str], src: str = "lv") -> list[str]:
            return [t.upper() for t in texts]

    async with open_service(
        make_config(tmp_path), generator=FakeGenerator(), translators=Translators.single(Upper())
    ) as svc:
        sub = await svc.handle(req("u1", "kaķis uz jumta --ne cilvēki"))
        job = await asyncio.wait_for(sub.handle.wait(), 10)
        assert job.params.negative_prompt.endswith(", CILVĒKI")
        assert job.params.negative_prompt.startswith("lowres")
        assert "cilvēki" not in job.prompt.lower()


async def test_variations_and_upscale_start_from_the_image(tmp_path: Path) -> None:
    cfg = make_config(tmp_path, generation={"width": 128, "height": 128})
    gen = FakeGenerator()
    async with open_service(cfg, generator=gen, translators=Translators()) as svc:
        grid = await asyncio.wait_for(
            (await svc.handle(req("u1", "Milda --skaits 4 --sēkla 3"))).handle.wait(), 10
        )
        assert grid.image_path is not None
        var = await svc.variation(grid.id, 2, req("u1", ""))
        done = await asyncio.wait_for(var.handle.wait(), 10)
        assert {p.init_image for p in gen.calls[-1]} == {
            str(image_variant_path(grid.image_path, 2))
        }
        assert done.params.count == 4 and done.params.strength == 0.6 and done.parent_id == grid.id
        assert done.kind == "variation" and done.params.seed != grid.seed
        up = await svc.upscale(grid.id, 2, req("u1", ""))
        big = await asyncio.wait_for(up.handle.wait(), 10)
        assert (big.params.width, big.params.height) == (256, 256) and big.params.strength == 0.3
        assert big.params.seed == 4 and big.params.count == 1  # image 2's own seed
        # the lineage, in the PNG and in /vesture
        from bot.user_texts import history_line
        from core.draw.images import read_png_metadata

        lineage = json.loads(read_png_metadata(str(big.image_path))["zime"])
        assert lineage["kind"] == "upscale" and lineage["parent_id"] == grid.id
        assert history_line(big, "en") == (
            f"#{big.id} · 🔍 #{grid.id} · done · seed 4 · {big.request_text}"
        )
        assert grid.kind == "grid" and history_line(grid, "x").startswith(f"#{grid.id} · ▦ ·")
        with pytest.raises(NotFound):  # only the owner
            await svc.upscale(grid.id, 2, req("u2", ""))
        with pytest.raises(NotFound):
            await svc.variation(grid.id, 5, req("u1", ""))


def test_photos_are_validated_and_oriented(monkeypatch: pytest.MonkeyPatch) -> None:
    import io

    from PIL import Image

    from core.draw import images
    from core.errors import BadPhoto

    def encoded(fmt: str, size: tuple[int, int] = (40, 20), **kw: object) -> bytes:
        buf = io.BytesIO()
        Image.new("RGB", size, (200, 10, 10)).save(buf, format=fmt, **kw)
        return buf.getvalue()

    exif = Image.Exif()
    exif[0x0112] = 6  # "rotate 90° clockwise to view"
    assert images.load_photo(encoded("JPEG", exif=exif)).size == (20, 40)
    assert images.load_photo(encoded("WEBP")).size == (40, 20)
    for data, problem in [
        (encoded("GIF"), "format"),
        (b"junk", "unreadable"),
        (b"x" * (images.MAX_PHOTO_BYTES + 1), "too_big"),
    ]:
        with pytest.raises(BadPhoto) as err:
            images.load_photo(data)
        assert err.value.problem == problem
    monkeypatch.setattr(images, "MAX_PHOTO_PIXELS", 100)  # a decompression bomb, in small
    with pytest.raises(BadPhoto) as err:
        images.load_photo(encoded("PNG"))
    assert err.value.problem == "pixels"


def test_veil_blurs_past_recognition() -> None:
    """A flagged image keeps its size and rough colours, and loses its detail."""
    import numpy as np
    from PIL import Image

    from core.draw.images import veil

    checker = np.indices((96, 64)).sum(axis=0) % 2 * 255  # the finest detail there is
    drawn = Image.fromarray(np.stack([checker] * 3, axis=-1).astype(np.uint8))
    shown = np.asarray(veil(drawn), dtype=np.float32)
    assert shown.shape == (96, 64, 3)
    assert shown.std() < 8 and abs(shown.mean() - 127.5) < 8  # grey: detail gone
