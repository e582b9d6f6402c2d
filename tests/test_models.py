"""The catalogue of models (issue #29) on the local backend: picking a model by name or
alias, per-user defaults, unknown names, concepts on a model that does not know them, fast
mode where there is one, 🔁 keeping the model, /modeli, and a mixed queue drawn with one
resident model loading each model the fewest times fair order allows."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from bot import commands
from bot.message import Ctx
from bot.texts import error_text
from core.app import open_service
from core.draw.images import read_png_metadata
from core.draw.pool import ModelPool
from core.errors import NoFastMode, UnknownModel
from core.jobs.job import Request
from core.lang.options import BadOption
from core.lang.translate import IdentityTranslator, Translators
from core.service import Service
from tests.fakes import FakeGenerator
from tests.helpers import make_config

ENGLISH = Translators.single(IdentityTranslator())
CATALOGUE = {
    "default": "lv-sb",
    "generators": {
        "lv-sb": {
            "path": "minusthousand/lv-sb",
            "name": "Latvija (SD 1.5)",
            "concepts": True,
            "aliases": ["latvija", "lv"],
            "fast_lora": "a/b/fast.safetensors",
            "about": "SD 1.5 ar 10 Latvijas jēdzieniem",
        },
        "plain": {"path": "runwayml/sd15", "name": "Parastais SD 1.5", "aliases": ["Parasts"]},
        "xl": {"path": "stabilityai/sdxl", "family": "sdxl", "name": "SDXL"},
    },
}


@asynccontextmanager
async def catalogue_service(
    tmp_path: Path, max_resident: int = 1, step_s: float = 0.0, **queue: Any
) -> AsyncIterator[tuple[Service, ModelPool, dict[str, FakeGenerator]]]:
    cfg = make_config(tmp_path, models=CATALOGUE, queue={"max_resident": max_resident, **queue})
    made: dict[str, FakeGenerator] = {}
    paths = {name: spec.path for name, spec in cfg.catalogue().items()}

    def make(name: str) -> FakeGenerator:
        made[name] = FakeGenerator(model=paths[name], step_s=step_s)
        return made[name]

    pool = ModelPool(make, cfg.default_model, paths, max_resident)
    async with open_service(cfg, generator=pool, translators=ENGLISH) as svc:
        yield svc, pool, made


def req(text: str, user: str = "u1") -> Request:
    return Request("console", user, user, text, language="lv")


async def drawn(svc: Service, text: str, user: str = "u1") -> Any:
    sub = await svc.handle(req(text, user))
    await asyncio.wait_for(sub.handle.wait(), 20)
    job = await svc.job(sub.job_id)
    assert job is not None
    return job


async def test_a_model_by_name_or_alias_is_drawn_and_named(tmp_path: Path) -> None:
    async with catalogue_service(tmp_path) as (svc, _pool, made):
        default = await drawn(svc, "kaķis uz jumta")
        assert default.params.model == "lv-sb" and svc.model_note(default) == ("", ())
        for alias in ("plain", "PARASTS", "pārasts"):  # case and diacritics aside
            job = await drawn(svc, f"kaķis --modelis {alias}")
            assert job.params.model == "plain" and job.model_path == "runwayml/sd15"
        meta = read_png_metadata(job.image_path)
        assert (meta["model"], meta["model_path"]) == ("plain", "runwayml/sd15")
        assert made["plain"].calls and svc.model_note(job) == ("Parastais SD 1.5", ())
        xl = await drawn(svc, "kaķis --model xl")
        assert (xl.params.width, xl.params.height) == (1024, 1024)  # the family's size
        wide = await drawn(svc, "kaķis --model xl --ar 16:9")
        assert wide.params.width == 1024 and wide.params.height == 576  # within its side


async def test_an_unknown_model_is_one_sentence_and_nothing_is_drawn(tmp_path: Path) -> None:
    async with catalogue_service(tmp_path) as (svc, _, _):
        with pytest.raises(UnknownModel) as err:
            await svc.handle(req("kaķis --modelis latvia"))
        assert err.value.closest == "lv-sb"
        assert "latvia" in error_text(err.value, "lv") and "lv-sb" in error_text(err.value, "lv")
        assert await svc.history(req("")) == []
        with pytest.raises(BadOption) as bad:
            await svc.handle(req("kaķis --modelis"))
        assert "/modeli" in error_text(bad.value, "lv")


async def test_a_concept_on_a_model_that_does_not_know_it(tmp_path: Path) -> None:
    async with catalogue_service(tmp_path) as (svc, _, _):
        knows = await drawn(svc, "Brīvības piemineklis naktī")
        assert "brivpiem" in knows.params.prompt
        job = await drawn(svc, "Brīvības piemineklis naktī --modelis plain")
        assert "brivpiem" not in job.params.prompt
        assert "the Freedom Monument in Riga" in job.params.prompt
        assert job.concepts == ("brivpiem",)  # still recognised, and said so once
        shown, unknown = svc.model_note(job)
        assert shown == "Parastais SD 1.5" and unknown == ("Brīvības piemineklis",)
        from bot.texts import job_caption

        caption = job_caption(job, ("Brīvības piemineklis",), "lv", False, 2, (shown, unknown))
        assert "Modelis: Parastais SD 1.5" in caption
        assert caption.count("nepazīst") == 1


async def test_fast_mode_where_the_model_has_one(tmp_path: Path) -> None:
    async with catalogue_service(tmp_path) as (svc, _, _made):
        fast = await drawn(svc, "kaķis --ātri")
        assert fast.params.fast and (fast.params.steps, fast.params.guidance) == (8, 5.0)
        assert read_png_metadata(fast.image_path)["fast"] == "true"
        normal = await drawn(svc, "kaķis")
        assert not normal.params.fast and normal.params.steps == 2
        assert normal.params.batch_key() != fast.params.batch_key()  # never one batch
        with pytest.raises(NoFastMode) as err:
            await svc.handle(req("kaķis --modelis plain --fast"))
        assert "Parastais SD 1.5" in error_text(err.value, "en")


async def test_the_users_default_model_and_fast_and_again_keeps_the_model(
    tmp_path: Path,
) -> None:
    async with catalogue_service(tmp_path) as (svc, _, _):
        ctx = Ctx(svc, req(""))
        reply = await commands.run(ctx, "iestatijumi", "modelis=parasts ātri=ne")
        assert not reply.error and "modelis: plain" in reply.text
        job = await drawn(svc, "kaķis")
        assert job.params.model == "plain"
        again = await svc.again(job.id, req(""), same_seed=False)
        await asyncio.wait_for(again.handle.wait(), 20)
        redrawn = await svc.job(again.job_id)
        assert redrawn is not None and redrawn.params.model == "plain"
        bad = await commands.run(ctx, "iestatijumi", "modelis=nope")
        assert bad.error and "nope" in bad.text
        listing = await commands.run(ctx, "modeli")
        lines = listing.text.splitlines()
        assert lines[0].startswith("Modeļi")
        plain = next(line for line in lines if line.startswith("• plain, Parasts"))
        assert "tavs noklusētais" in plain
        lv = next(line for line in lines if line.startswith("• lv-sb, latvija, lv"))
        assert "ātrais režīms" in lv and "SD 1.5 ar 10 Latvijas jēdzieniem" in lv
        # Discord's autocomplete: by name, alias or display name, case and diacritics aside
        assert svc.model_choices("PĀR") == [("plain", "Parastais SD 1.5")]
        assert [n for n, _ in svc.model_choices("")] == ["lv-sb", "plain", "xl"]


async def queue_behind_a_held_job(
    svc: Service, made: dict[str, FakeGenerator], texts: list[tuple[str, str]]
) -> list[Any]:
    """Hold the GPU with one default-model job, queue `texts` ((text, user) pairs) behind
    it, then let everything draw; returns the queued jobs as stored."""
    import threading

    gate = made["lv-sb"].hang = threading.Event()
    blocker = await svc.handle(req("kaķis", "u0"))
    deadline = asyncio.get_running_loop().time() + 20
    while not made["lv-sb"].calls:  # drawing now, and held
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.02)
    subs = [await svc.handle(req(text, user)) for text, user in texts]
    gate.set()
    await asyncio.wait_for(
        asyncio.gather(blocker.handle.wait(), *(s.handle.wait() for s in subs)), 30
    )
    return [await svc.job(s.job_id) for s in subs]


async def test_a_mixed_queue_loads_each_model_the_fewest_times(tmp_path: Path) -> None:
    """One resident model; six jobs of three users alternating two models: the loaded
    model's jobs go first, then the other model loads once (not once per job)."""
    async with catalogue_service(tmp_path, swap_after_s=60) as (svc, pool, made):
        texts = [
            (f"suns {i} --modelis {'plain' if i % 2 else 'lv-sb'}", f"u{i % 3 + 1}")
            for i in range(6)
        ]
        jobs = await queue_behind_a_held_job(svc, made, texts)
        assert pool.loads == {"lv-sb": 1, "plain": 1}
        by_end = [j.params.model for j in sorted(jobs, key=lambda j: j.finished_at)]
        assert by_end == ["lv-sb"] * 3 + ["plain"] * 3
        metrics = svc.worker.metrics.render()
        assert 'zime_model_loads_total{model="plain"} 1.0' in metrics
        assert 'zime_model_loads_total{model="lv-sb"} 1.0' in metrics


async def test_swap_after_bounds_how_long_another_models_job_waits(tmp_path: Path) -> None:
    """swap_after_s = 0: the oldest job's model loads next even while the loaded model
    has jobs waiting (fair order wins over saving a load)."""
    async with catalogue_service(tmp_path, swap_after_s=0) as (svc, pool, made):
        texts = [("suns --modelis plain", "u1"), ("putns 1", "u2"), ("putns 2", "u3")]
        jobs = await queue_behind_a_held_job(svc, made, texts)
        by_end = [j.params.model for j in sorted(jobs, key=lambda j: j.finished_at)]
        assert by_end == ["plain", "lv-sb", "lv-sb"]
        assert pool.loads == {"lv-sb": 2, "plain": 1}


def test_two_sd15_models_and_sdxl_in_one_catalogue_on_the_console(
    tiny_models: dict[str, Path], tmp_path: Path
) -> None:
    """The real code path end to end (`python -m bot`, the terminal frontend): the tiny SD
    1.5 twice (one knows the concepts and has a fast LoRA) and the tiny SDXL, one resident
    at a time."""
    import shutil

    from tests.test_console import run_console

    other = tmp_path / "other-sd"
    shutil.copytree(tiny_models["sd"], other)
    cfg = tmp_path / "cfg.toml"
    cfg.write_text(
        f'[models]\ntranslator = "{tiny_models["opus"]}"\ndevice = "cpu"\ndefault = "lv"\n'
        "[models.generators.lv]\n"
        f'path = "{tiny_models["sd"]}"\nname = "Latvija"\naliases = ["latvija"]\n'
        f'concepts = true\nfast_lora = "{tiny_models["fast-lora"]}"\nfast_steps = 2\n'
        "[models.generators.cits]\n"
        f'path = "{other}"\nname = "Cits SD 1.5"\n'
        "[models.generators.xl]\n"
        f'path = "{tiny_models["sdxl"]}"\nfamily = "sdxl"\nname = "SDXL"\n'
        "width = 64\nheight = 64\n"
        "[generation]\nsteps = 2\nwidth = 64\nheight = 64\n[queue]\nmax_resident = 1\n"
        f'[storage]\ndatabase = "{tmp_path / "z.sqlite3"}"\nimages = "{tmp_path / "img"}"\n',
        encoding="utf-8",
    )
    out = run_console(
        cfg,
        "/modeli\n/zime kaķis --modelis XL\n/zime Milda --modelis cits\n"
        "/zime kaķis --ātri\n/zime kaķis --modelis cits --ātri\n/zime kaķis --modelis latvia\n"
        "/zime Milda --stiprums 0.5\n",
    )
    assert "• lv, latvija — Latvija" in out and "• xl — SDXL" in out
    assert "Modelis: SDXL" in out  # the caption names a model that is not the default
    assert "the Freedom Monument in Riga" in out and "Šis modelis nepazīst" in out
    assert "Modelim Cits SD 1.5 nav ātrā režīma" in out
    assert "Modeli latvia nepazīstu; varbūt domāji lv?" in out
    rows = (
        sqlite3.connect(tmp_path / "z.sqlite3")
        .execute("SELECT model, model_path, width, options FROM jobs ORDER BY id")
        .fetchall()
    )
    assert [r[0] for r in rows] == ["xl", "cits", "lv"]
    assert rows[0][1] == str(tiny_models["sdxl"]) and rows[1][1] == str(other)
    assert '"fast": true' in rows[2][3]
    pngs = sorted((tmp_path / "img").rglob("*.png"))
    metas = [read_png_metadata(p) for p in pngs]
    assert {m["model"] for m in metas} == {"xl", "cits", "lv"}
    assert [m.get("fast") for m in metas if m["model"] == "lv"] == ["true"]


async def test_the_mini_app_settings_take_the_model_and_fast(tmp_path: Path) -> None:
    import httpx

    from tests.web_helpers import init_data, site

    async with (
        site(tmp_path, models=CATALOGUE) as s,
        httpx.AsyncClient(base_url=s.base, timeout=30) as http,
    ):
        auth = {"Authorization": f"tma {init_data(42)}"}
        ok = await http.post(
            "/api/me/settings", json={"model": "Parasts", "fast": False}, headers=auth
        )
        assert ok.status_code == 200 and ok.json()["settings"]["model"] == "plain"
        bad = await http.post(
            "/api/me/settings", json={"model": "plain", "fast": True}, headers=auth
        )
        assert bad.status_code == 400 and "ātrā režīma" in bad.json()["error"]


def test_core_prompt_names_the_model_and_writes_its_prompt(tmp_path: Path) -> None:
    import subprocess
    import sys

    cfg = tmp_path / "cfg.toml"
    cfg.write_text(
        '[models.generators.lv-sb]\npath = "minusthousand/lv-sb"\nconcepts = true\n'
        '[models.generators.plain]\npath = "runwayml/sd15"\naliases = ["parasts"]\n',
        encoding="utf-8",
    )
    lines = "Milda naktī --modelis PARASTS\nMilda naktī\nkaķis --modelis nope\n"
    proc = subprocess.run(
        [sys.executable, "-m", "core", "prompt", "--jsonl", "--no-translate", "--config", str(cfg)],
        input=lines,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    plain, default, unknown = (json.loads(line) for line in proc.stdout.splitlines())
    assert plain["model"] == "plain" and "the Freedom Monument in Riga" in plain["prompt"]
    assert default["model"] is None and "brivpiem" in default["prompt"]
    assert unknown["error"] == "unknown_model"


def test_a_trained_concept_records_its_base_and_is_a_token_there_only(tmp_path: Path) -> None:
    from core.train.run import TrainRequest, concept_entry

    entry = concept_entry(TrainRequest(Path("."), "rigasdoms", "building", "Rīgas Doms"), "plain")
    assert 'base = "plain"' in entry
    cfg = make_config(tmp_path, models=CATALOGUE)
    from core.draw.models import Catalogue

    catalogue = Catalogue(cfg)
    assert catalogue.knows("plain", adapter=True, base="plain")
    assert not catalogue.knows("lv-sb", adapter=True, base="plain")
    assert catalogue.knows("lv-sb", adapter=True, base="")  # none: the default
    assert catalogue.knows("lv-sb", adapter=False, base="")
    assert not catalogue.knows("xl", adapter=False, base="")


async def test_settings_buttons_pick_the_model_and_fast(tmp_path: Path) -> None:
    from bot import actions

    async with catalogue_service(tmp_path) as (svc, _, _):
        ctx = Ctx(svc, req(""))
        reply = await commands.run(ctx, "iestatijumi")
        labels = reply.labels()
        assert "• 🎨 lv-sb" in labels and "🎨 plain" in labels and "🎨 xl" in labels
        data = {b.label: b.data for row in reply.buttons for b in row}
        assert all(len(d.encode()) <= 64 for d in data.values())  # Telegram's callback limit
        pressed = await actions.press(ctx, data["🎨 plain"])
        assert "• 🎨 plain" in pressed.labels() and pressed.edit
        refused = await actions.press(ctx, data["⚡ Ātri: jā"])  # plain has no fast mode
        assert refused.error and "nav ātrā režīma" in refused.text
        assert (await svc.settings(req(""))).get("model") == "plain"


async def test_the_model_picker_on_telegram(tiny_models: dict[str, Path], tmp_path: Path) -> None:
    """Through the real python-telegram-bot client against the Bot API stand-in: /modeli,
    a drawing with another model named in the caption, and an unknown model."""
    import shutil

    from core.config import load_config
    from tests.telegram_stub import TelegramStub
    from tests.test_telegram import running_bot

    other = tmp_path / "cits-sd"
    shutil.copytree(tiny_models["sd"], other)
    stub = TelegramStub()
    await stub.start()
    try:
        path = tmp_path / "cfg.toml"
        path.write_text(
            f'[telegram]\ntoken = "123:TEST"\napi_base_url = "http://127.0.0.1:{stub.port}/bot"\n'
            f'[models]\ntranslator = "{tiny_models["opus"]}"\ndevice = "cpu"\ndefault = "lv"\n'
            f'[models.generators.lv]\npath = "{tiny_models["sd"]}"\nconcepts = true\n'
            f'[models.generators.cits]\npath = "{other}"\nname = "Cits SD 1.5"\n'
            "[generation]\nsteps = 2\nwidth = 64\nheight = 64\n"
            f'[storage]\ndatabase = "{tmp_path / "z.sqlite3"}"\nimages = "{tmp_path / "img"}"\n',
            encoding="utf-8",
        )
        async with running_bot(load_config(path, {})):
            stub.send_text("/modeli", user_id=5)
            [listing] = await stub.wait_for("sendMessage", chat_id=5)
            assert "• cits — Cits SD 1.5" in listing.params["text"]
            stub.send_text("/zime Milda --modelis CITS", user_id=5)
            [photo] = await stub.wait_for("sendPhoto", chat_id=5, timeout=60)
            caption = photo.params["caption"]
            assert "Modelis: Cits SD 1.5" in caption and "the Freedom Monument in Riga" in caption
            stub.send_text("/zime kaķis --modelis xyz", user_id=6)
            refusal = await stub.wait_for_text("editMessageText", "nepazīstu", chat_id=6)
            assert "varbūt domāji" in refusal.params["text"]
    finally:
        await stub.stop()


async def test_a_photo_is_drawn_at_its_models_size(tmp_path: Path) -> None:
    """Photo → picture keeps the photo's aspect ratio at the model's own area: 1024² for
    SDXL, the configured one for SD 1.5."""
    import io

    from PIL import Image

    buf = io.BytesIO()
    Image.new("RGB", (300, 200), (10, 120, 30)).save(buf, format="PNG")
    async with catalogue_service(tmp_path) as (svc, _, _):
        sizes = {}
        for model in ("xl", "plain"):
            sub = await svc.handle(
                Request("console", "u1", "u1", f"kaķis --modelis {model}", photo=buf.getvalue())
            )
            job = await asyncio.wait_for(sub.handle.wait(), 20)
            sizes[model] = (job.params.width, job.params.height)
        assert sizes["xl"] == (1024, 680)  # 3:2 at SDXL's area, within its 1024 side
        assert sizes["plain"] == (80, 64)  # 3:2 at the configured 64², as before
