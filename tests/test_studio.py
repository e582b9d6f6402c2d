"""The Mini App studio's API (issue #31) over real HTTP: redrawing a region (masks, owners,
limits, bans, and the pixels kept outside the mask), 🔭 zoom-out, a job's live events, and
the gallery's texts in the user's Zīme language."""

from __future__ import annotations

import asyncio
import io
import json
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from PIL import Image, ImageDraw

from core.draw.regions import BLUR_PX, paste_back, zoom_canvas
from tests.web_helpers import ENGLISH, init_data, site


def client(base: str, user: int) -> httpx.AsyncClient:
    headers = {"Authorization": f"tma {init_data(user)}", "Accept-Language": "en"}
    return httpx.AsyncClient(base_url=base, headers=headers, timeout=20)


def png(image: Any) -> bytes:
    buf = io.BytesIO()
    image.save(buf, format="PNG")
    return buf.getvalue()


def stroke_mask(size: tuple[int, int], box: tuple[int, int, int, int], mode: str = "L") -> bytes:
    mask = Image.new(mode, size, 0)
    ImageDraw.Draw(mask).rectangle(box, fill=255 if mode == "L" else (255, 255, 255))
    return png(mask)


def picture(path: str) -> Any:
    with Image.open(path) as img:
        return img.convert("RGB")


async def test_a_region_is_redrawn_and_everything_outside_it_is_kept(tmp_path: Path) -> None:
    async with site(tmp_path) as s, client(s.base, 7) as http:
        original_id = await s.draw("7", "a cat on a roof")
        original = await s.service.job(original_id)
        assert original is not None and original.image_path
        box = (20, 20, 40, 40)  # on the 64×64 picture
        files = {"mask": ("m.png", stroke_mask((64, 64), box), "image/png")}
        response = await http.post(
            f"/api/jobs/{original_id}/edit", files=files, data={"text": "a dog"}
        )
        assert response.status_code == 202, response.text
        new = await s.finished(response.json()["id"])
        assert new.status == "done" and new.parent_id == original_id and new.kind == "region"
        assert new.prompt == "a dog" and new.params.mask_image
        before, after = picture(original.image_path), picture(new.image_path)
        reach = 3 * BLUR_PX * 64 / 512 + 1  # the blurred edge, scaled to the picture
        changed_inside = kept_outside = 0
        for x in range(64):
            for y in range(64):
                dx = max(box[0] - x, 0, x - box[2])
                dy = max(box[1] - y, 0, y - box[3])
                same = all(
                    abs(a - b) <= 1
                    for a, b in zip(before.getpixel((x, y)), after.getpixel((x, y)), strict=True)
                )
                if (dx * dx + dy * dy) ** 0.5 > reach:
                    assert same, (x, y)
                    kept_outside += 1
                elif dx == dy == 0:
                    changed_inside += not same
        assert kept_outside > 2000 and changed_inside > 300  # the fake draws another colour


async def test_bad_masks_other_users_limits_and_bans(tmp_path: Path) -> None:
    async with site(tmp_path, limits={"per_user_per_day": 2}) as s, client(s.base, 7) as http:
        job_id = await s.draw("7", "a cat")

        async def post(mask: bytes, user: httpx.AsyncClient = http) -> httpx.Response:
            files = {"mask": ("m.png", mask, "image/png")}
            return await user.post(f"/api/jobs/{job_id}/edit", files=files)

        cases = [
            (b"not a picture", 400, "PNG"),
            (png(Image.new("RGB", (64, 64), "white")).replace(b"PNG", b"GIF", 1), 400, "PNG"),
            (stroke_mask((32, 32), (1, 1, 9, 9)), 400, "32×32"),
            (png(Image.new("L", (64, 64), 0)), 400, "Nothing is painted"),
            (b"\x89PNG" + b"\0" * (2 * 1024 * 1024 + 10), 413, "2 MB"),
        ]
        for mask, status, words in cases:
            response = await post(mask)
            assert response.status_code == status, (words, response.text)
            assert words in response.json()["error"]
        jpeg = io.BytesIO()
        Image.new("RGB", (64, 64), "white").save(jpeg, format="JPEG")
        assert (await post(jpeg.getvalue())).status_code == 400
        rgba = Image.new("RGBA", (64, 64), (0, 0, 0, 0))  # transparent, strokes opaque white
        ImageDraw.Draw(rgba).ellipse((10, 10, 30, 30), fill=(255, 255, 255, 255))
        assert (await post(png(rgba))).status_code == 202  # any colour mode
        async with client(s.base, 8) as other:
            assert (await post(stroke_mask((64, 64), (1, 1, 9, 9)), other)).status_code == 404
        limited = await post(stroke_mask((64, 64), (1, 1, 9, 9)))  # 3 images in a day of 2
        assert limited.status_code == 429 and "wait" in limited.json()["error"]
        await s.service.set_banned(s.request("1", admin=True), "telegram", "7", True)
        banned = await post(stroke_mask((64, 64), (1, 1, 9, 9)))
        assert banned.status_code == 403 and "not allowed" in banned.json()["error"]


async def test_the_events_stream_follows_a_job_to_its_end(tmp_path: Path) -> None:
    async with site(tmp_path) as s, client(s.base, 7) as http:
        s.generator.step_s = 0.15  # 12 steps below: about 2 s of drawing
        reply_job = await s.draw("7", "a cat")  # one done already: its stream is one event
        async with http.stream("GET", f"/api/jobs/{reply_job}/events") as response:
            assert response.headers["content-type"].startswith("text/event-stream")
            events = [json.loads(line[6:]) async for line in response.aiter_lines() if line]
        assert events == [{"status": "done", "position": None, "percent": 100}]
        # a job drawing now: progress, at least once a second, then done, then the end
        from bot import commands
        from bot.message import Ctx

        reply = await commands.run(Ctx(s.service, s.request("7")), "zime", "a dog --soļi 12")
        assert reply.start is not None
        sub = await reply.start({"chat_id": 7})
        seen: list[dict[str, Any]] = []
        started = time.monotonic()
        async with http.stream("GET", f"/api/jobs/{sub.job_id}/events") as response:
            async for line in response.aiter_lines():
                if line.startswith("data: "):
                    seen.append(json.loads(line[6:]))
        assert seen[-1]["status"] == "done" and seen[-1]["percent"] == 100
        drawing = [e for e in seen if e["status"] == "running"]
        assert len({e["percent"] for e in drawing}) >= 3  # progress came through
        assert len(seen) >= int(time.monotonic() - started) - 1
        # auth: none is 401, another user's job is 404
        async with httpx.AsyncClient(base_url=s.base) as anonymous:
            assert (await anonymous.get(f"/api/jobs/{sub.job_id}/events")).status_code == 401
        async with client(s.base, 8) as other:
            assert (await other.get(f"/api/jobs/{sub.job_id}/events")).status_code == 404


async def test_zoom_out_draws_a_larger_canvas_and_keeps_the_picture(tmp_path: Path) -> None:
    async with site(tmp_path) as s, client(s.base, 7) as http:
        job_id = await s.draw("7", "a cat")
        response = await http.post(f"/api/jobs/{job_id}/actions/zoom", json={})
        assert response.status_code == 202, response.text
        zoomed = await s.finished(response.json()["id"])
        original = await s.service.job(job_id)
        assert original is not None and zoomed.kind == "zoom"
        assert (zoomed.params.width, zoomed.params.height) == (96, 96)
        before, after = picture(str(original.image_path)), picture(zoomed.image_path)
        # the picture in the middle, kept (blended only within the blur's reach of its edge)
        m = int(3 * BLUR_PX * 96 / 512) + 1
        middle = np.asarray(after.crop((16 + m, 16 + m, 80 - m, 80 - m)), dtype=int)
        kept = np.asarray(before.crop((m, m, 64 - m, 64 - m)), dtype=int)
        assert np.abs(kept - middle).max() <= 1
        assert after.getpixel((2, 48)) == (zoomed.seed % 256, 40, 90)  # the border: drawn


def test_zoom_canvas_sizes_and_paste_back() -> None:
    canvas, mask = zoom_canvas(Image.new("RGB", (512, 768), "red"), 1024)
    assert canvas.size == (680, 1024)  # 768 × 1152 is past max_side: the same aspect within
    assert mask.getpixel((0, 0)) == 255 and mask.getpixel((340, 512)) == 0
    big, _ = zoom_canvas(Image.new("RGB", (512, 512), "red"), 2048)
    assert big.size == (768, 768)
    drawn = Image.new("RGB", (64, 64), "blue")
    small_mask = Image.new("L", (64, 64), 0)
    kept = paste_back(drawn, Image.new("RGB", (64, 64), "red"), small_mask)
    assert kept.getpixel((5, 5)) == (255, 0, 0)


@pytest.mark.parametrize("settings_lang", ["", "ru"])
async def test_the_gallery_speaks_the_users_zime_language(
    tmp_path: Path, settings_lang: str
) -> None:
    async with site(tmp_path) as s, client(s.base, 7) as http:
        if settings_lang:
            await s.service.update_settings(s.request("7"), f"valoda={settings_lang}")
        got = (await http.get("/api/me/settings?browser=en-US")).json()
        # initData says lv (the Telegram client's); the user's own setting wins over it
        assert got["lang"] == (settings_lang or "lv")
        assert (
            got["texts"]["edit"]
            == {"": "🖌 Labot apgabalu", "ru": "🖌 Изменить область"}[settings_lang]
        )
        job_id = await s.draw("7", "a cat --ar 16:9")
        one = (await http.get(f"/api/jobs/{job_id}?lang={got['lang']}")).json()
        assert one["status_text"] == {"": "gatavs", "ru": "готов"}[settings_lang]
        assert "16:9" in one["options_text"]
        await asyncio.sleep(0)


async def test_regions_and_zoom_draw_with_the_real_pipelines(
    tiny_models: dict[str, Path], tmp_path: Path
) -> None:
    """The inpainting pipeline built from the loaded SD 1.5 and SDXL ones (`from_pipe`), on
    tiny random models: a region and a zoom-out each draw, and keep what they must."""
    from bot.user_texts import history_line
    from core.app import make_generator, open_service
    from core.jobs.job import Request
    from tests.helpers import make_config

    catalogue = {
        "default": "sd",
        "generators": {
            "sd": {"path": str(tiny_models["sd"]), "concepts": True},
            "xl": {"path": str(tiny_models["sdxl"]), "family": "sdxl", "width": 64, "height": 64},
        },
    }
    cfg = make_config(tmp_path, models={**catalogue, "device": "cpu"}, queue={"max_resident": 2})
    async with open_service(cfg, generator=make_generator(cfg), translators=ENGLISH) as svc:
        for model in ("sd", "xl"):
            req = Request("console", "u", "u", f"a cat --modelis {model}")
            first = await asyncio.wait_for((await svc.handle(req)).handle.wait(), 120)
            mask = stroke_mask((64, 64), (8, 8, 24, 24))
            region = await svc.edit_region(first.id, 1, mask, "a dog", req)
            zoomed = await svc.zoom(first.id, 1, req)
            done = [await asyncio.wait_for(s.handle.wait(), 120) for s in (region, zoomed)]
            assert [j.kind for j in done] == ["region", "zoom"]
            lines = [history_line(j, "en") for j in done]  # /vesture: the button's symbol
            assert [line.split(" · ")[1] for line in lines] == [f"🖌 #{first.id}", f"🔭 #{first.id}"]
            before, after = picture(str(first.image_path)), picture(str(done[0].image_path))
            far = np.asarray(before.crop((40, 40, 64, 64)), dtype=int)
            assert np.abs(far - np.asarray(after.crop((40, 40, 64, 64)), dtype=int)).max() <= 1
            assert picture(str(done[1].image_path)).size == (96, 96)


async def test_labot_opens_the_editor_of_a_picture_through_a_one_time_link(
    tmp_path: Path,
) -> None:
    """/labot 12 off Telegram (or without https): a one-time link that signs in and lands
    on the editor of that picture (/app?edit=12); someone else's picture is refused."""
    async with site(tmp_path) as s:
        job_id = await s.draw("7", "a cat")
        from bot import commands
        from bot.message import Ctx

        mine = await commands.run(Ctx(s.service, s.request("7")), "labot", str(job_id))
        assert not mine.error and mine.private and "/login/" in mine.text
        link = mine.text.rsplit(" ", 1)[-1]
        async with httpx.AsyncClient(follow_redirects=False) as browser:
            landed = await browser.get(link)
        assert landed.status_code == 303 and landed.headers["location"] == f"/app?edit={job_id}"
        theirs = await commands.run(Ctx(s.service, s.request("8")), "labot", str(job_id))
        assert theirs.error and "/login/" not in theirs.text


def tiny_inpainting_checkpoint(sd: Path, out: Path) -> Path:
    """A dedicated inpainting checkpoint like runwayml's in shape: the tiny SD model's parts
    around a UNet that reads 9 channels (latents, mask, masked picture)."""
    import diffusers
    import torch

    base = diffusers.StableDiffusionPipeline.from_pretrained(str(sd), safety_checker=None)
    torch.manual_seed(1)
    unet = diffusers.UNet2DConditionModel.from_config({**base.unet.config, "in_channels": 9})
    parts = {k: getattr(base, k) for k in ("vae", "text_encoder", "tokenizer", "scheduler")}
    made: Any = diffusers.StableDiffusionInpaintPipeline(
        **parts, unet=unet, safety_checker=None, feature_extractor=None
    )
    made.save_pretrained(str(out))
    return out


async def test_a_dedicated_inpainting_checkpoint_draws_regions_and_zoom(
    tiny_models: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`[models.generators.NAME] inpaint` names a checkpoint: region edits and 🔭 load it once
    (its own 9-channel UNet) and keep the picture outside the mask as from_pipe does."""
    import diffusers

    from core.app import make_generator, open_service
    from core.jobs.job import Request
    from tests.helpers import make_config

    ckpt = tiny_inpainting_checkpoint(tiny_models["sd"], tmp_path / "inpaint")
    loads: list[Any] = []
    real = diffusers.StableDiffusionInpaintPipeline.from_pretrained

    def recorded(path: str, **kwargs: Any) -> Any:
        made = real(path, **kwargs)
        loads.append((path, made.unet.config.in_channels))
        return made

    monkeypatch.setattr(diffusers.StableDiffusionInpaintPipeline, "from_pretrained", recorded)
    spec = {"path": str(tiny_models["sd"]), "inpaint": str(ckpt)}
    models = {"default": "sd", "generators": {"sd": spec}, "device": "cpu"}
    cfg = make_config(tmp_path, models=models)
    async with open_service(cfg, generator=make_generator(cfg), translators=ENGLISH) as svc:
        req = Request("console", "u", "u", "a cat")
        first = await asyncio.wait_for((await svc.handle(req)).handle.wait(), 120)
        mask = stroke_mask((64, 64), (8, 8, 24, 24))
        region = await svc.edit_region(first.id, 1, mask, "a dog", req)
        zoomed = await svc.zoom(first.id, 1, req)
        done = [await asyncio.wait_for(s.handle.wait(), 120) for s in (region, zoomed)]
    assert [j.status for j in done] == ["done", "done"]
    assert loads == [(str(ckpt), 9)]  # loaded once, for both jobs
    before, after = picture(str(first.image_path)), picture(str(done[0].image_path))
    far = np.asarray(before.crop((40, 40, 64, 64)), dtype=int)
    assert np.abs(far - np.asarray(after.crop((40, 40, 64, 64)), dtype=int)).max() <= 1
    assert picture(str(done[1].image_path)).size == (96, 96)
