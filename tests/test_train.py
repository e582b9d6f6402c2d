"""Teaching a new concept (issue #15) on tiny models: photos, training, scoring, install."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from core.train.photos import TrainError, prepare

ROOT = Path(__file__).resolve().parent.parent


def photo(
    path: Path,
    seed: int,
    size: tuple[int, int] = (480, 400),
    blur: float = 0.0,
    exif_rotate: bool = False,
) -> Path:
    """A sharp, distinct synthetic photo: coloured blocks of a seed-dependent pattern."""
    import numpy as np
    from PIL import Image, ImageFilter

    rng = np.random.default_rng(seed)
    blocks = rng.integers(0, 256, (size[1] // 16, size[0] // 16, 3), dtype=np.uint8)
    img = Image.fromarray(blocks).resize(size, Image.Resampling.NEAREST)
    if blur:
        img = img.filter(ImageFilter.GaussianBlur(blur))
    exif = Image.Exif()
    if exif_rotate:
        exif[0x0112] = 6  # rotated: the photo is taller than it is stored
    img.save(path, exif=exif)
    return path


def photo_set(folder: Path, n: int = 4) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(n):
        photo(folder / f"p{i}.jpg", i, exif_rotate=i == 0)
    return folder


def test_bad_photo_sets_get_a_clear_list(tmp_path: Path) -> None:
    folder = photo_set(tmp_path / "photos", 3)
    photo(folder / "small.jpg", 10, size=(300, 200))
    photo(folder / "blurry.jpg", 11, blur=12)
    (folder / "dup.png").write_bytes((folder / "p1.jpg").read_bytes())
    (folder / "broken.jpg").write_bytes(b"not a jpeg")
    (folder / "notes.txt").write_text("x")
    with pytest.raises(TrainError) as err:
        prepare(folder)
    text = str(err.value)
    assert "only 3 usable photo(s), at least 4" in text
    for name, why in [
        ("small.jpg", "too small"),
        ("blurry.jpg", "blurry"),
        ("p1.jpg", "a near-duplicate of dup.png"),
        ("broken.jpg", "unreadable"),
        ("notes.txt", "not a JPEG"),
    ]:
        assert f"refused {name}: {why}" in text
    photo(folder / "p3.jpg", 3)
    ready = prepare(folder, size=64)
    assert len(ready.images) == 4 and ready.images[0].size == (64, 64)
    assert ready.files == ["dup.png", "p0.jpg", "p2.jpg", "p3.jpg"]


async def test_photos_sent_at_once_keep_the_limit_and_refusals_are_latvian(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """25 photos at once: 20 kept, 5 refused with a reason in the admin's language, decoded
    at most PHOTO_DECODES at a time."""
    import asyncio
    import threading

    from bot.admin_texts import teaching_text
    from bot.texts import error_text
    from core.app import open_service
    from core.draw import images
    from core.draw.images import PHOTO_DECODES
    from core.jobs.job import Request
    from core.lang.translate import IdentityTranslator, Translators
    from core.train.session import MAX_PHOTOS
    from tests.fakes import FakeGenerator
    from tests.helpers import make_config

    data = [photo(tmp_path / f"p{i}.jpg", i).read_bytes() for i in range(MAX_PHOTOS + 5)]
    load, lock, now, most = images.load_photo, threading.Lock(), [0], [0]

    def counted(raw: bytes) -> object:  # how many decode at once, seen from the threads
        with lock:
            now[0] += 1
            most[0] = max(most[0], now[0])
        try:
            return load(raw)
        finally:
            with lock:
                now[0] -= 1

    monkeypatch.setattr(images, "load_photo", counted)
    admin = Request("test", "1", "1", "", is_admin=True)
    async with open_service(
        make_config(tmp_path),
        generator=FakeGenerator(),
        translators=Translators.single(IdentityTranslator()),
    ) as svc:
        svc.teach_start(admin, ["rigasdoms", "building", "Rīgas", "Doms"])
        results = await asyncio.gather(
            *(svc.teach_photo(admin, d) for d in data), return_exceptions=True
        )
        root = svc.teaching.root
    kept = [r for r in results if isinstance(r, int)]
    refused = [r for r in results if isinstance(r, TrainError)]
    assert sorted(kept) == list(range(1, MAX_PHOTOS + 1)) and len(refused) == 5
    assert len(list(root.rglob("photo-*.png"))) == MAX_PHOTOS
    assert error_text(refused[0], "lv") == "Mācīšana: 20 foto pietiek: sūti /gatavs"
    assert error_text(refused[0], "ru").endswith("20 фото достаточно: отправьте /gatavs")
    assert 1 <= most[0] <= PHOTO_DECODES  # 25 at once, at most 2 decoding at a time
    # a failed training's per-photo reasons are Latvian too
    folder = photo_set(tmp_path / "few", 2)
    (folder / "notes.txt").write_text("x")
    with pytest.raises(TrainError) as err:
        prepare(folder)
    text, _ = teaching_text("failed", {"token": "rigasdoms", "error": err.value}, "lv")
    assert "derīgi tikai 2 foto, vajag vismaz 4" in text
    assert "atteikts notes.txt: nav JPEG, PNG vai WebP foto" in text and "refused" not in text


def train_config(tmp_path: Path, tiny: dict[str, Path], **training: object) -> Path:
    cfg = tmp_path / "cfg.toml"
    values: dict[str, object] = {
        "clip_model": str(tiny["clip"]),
        "dino_model": str(tiny["dino"]),
        "class_images": str(tmp_path / "class"),
        "resolution": 64,
        "learning_rate": 0.01,
        "checkpoint_every": 10,
        "validation_steps": 2,
        **training,
    }
    section = "".join(f"{k} = {json.dumps(v)}\n" for k, v in values.items())
    cfg.write_text(
        f'[models]\ngenerator = "{tiny["sd"]}"\ntranslator = "{tiny["opus"]}"\ndevice = "cpu"\n'
        "[generation]\nsteps = 2\nwidth = 64\nheight = 64\n"
        f'[storage]\ndatabase = "{tmp_path / "z.sqlite3"}"\nimages = "{tmp_path / "img"}"\n'
        f'adapters = "{tmp_path / "adapters"}"\nconcepts = "{tmp_path / "concepts.toml"}"\n'
        f"[training]\n{section}",
        encoding="utf-8",
    )
    return cfg


def run_core(*args: str, timeout: float = 240) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "core", *args],
        cwd=Path.cwd(),
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )


TRAIN_ARGS = (
    "--token",
    "rigasdoms",
    "--class",
    "building",
    "--name-lv",
    "Rīgas Doms",
    "--lv",
    "Doms,Doma baznīca",
    "--en",
    "Riga Cathedral",
)


async def test_a_four_photo_run_end_to_end_and_the_new_token_draws(
    tmp_path: Path, tiny_models: dict[str, Path]
) -> None:
    cfg = train_config(tmp_path, tiny_models, captioner=str(tiny_models["blip"]))
    photos = photo_set(tmp_path / "photos")
    outs = []
    for name in ("out", "again"):  # twice: the choice is the same with fixed seeds
        proc = run_core(
            "train",
            str(photos),
            *TRAIN_ARGS,
            "--steps",
            "30",
            "--class-images",
            "1",
            "--config",
            str(cfg),
            "-o",
            str(tmp_path / name),
        )
        assert proc.returncode == 0, proc.stderr
        assert "step 30/30" in proc.stderr and "ETA" in proc.stderr
        outs.append(Path(proc.stdout.strip()))
    out = outs[0]
    for f in (
        "pytorch_lora_weights.safetensors",
        "concept.toml",
        "scores.json",
        "report.md",
        "contact_sheet.png",
    ):
        assert (out / f).exists(), f
    scores = json.loads((out / "scores.json").read_text())
    assert [c["checkpoint"] for c in scores["checkpoints"]] == [
        "step-000010",
        "step-000020",
        "step-000030",
    ]
    assert scores == json.loads((outs[1] / "scores.json").read_text())  # deterministic
    report = (out / "report.md").read_text()
    assert "**chosen**" in report and "DreamBooth paper" in report and "0.668" in report
    assert "Tiny random models" in report and "Steps: 30. Class images" in report
    captions = (out / "captions.txt").read_text().splitlines()  # templates + the captioner's
    assert len(captions) == 4 and captions[0].startswith("p0.jpg: a photo of rigasdoms building, ")
    assert len(list((tmp_path / "class").rglob("*.png"))) == 4  # 1 per photo, cached
    from PIL import Image

    from core.train.run import CHOSEN, SHEET_GAP, SHEET_HEADER_H, SHEET_LABEL_W

    with Image.open(out / "contact_sheet.png") as sheet:
        step = 128 + SHEET_GAP  # 3 prompts × 2 seeds; the photos, then 3 checkpoints
        assert sheet.size == (
            SHEET_LABEL_W + 6 * step + SHEET_GAP,
            SHEET_HEADER_H + 4 * step + SHEET_GAP,
        )
        row = 1 + [c["checkpoint"] for c in scores["checkpoints"]].index(scores["chosen"])
        frame = (SHEET_LABEL_W + SHEET_GAP // 2, SHEET_HEADER_H + row * step + 64)
        assert sheet.convert("RGB").getpixel(frame) == CHOSEN  # the chosen row is framed
        assert sheet.convert("RGB").getpixel((SHEET_LABEL_W + 2, SHEET_HEADER_H + 64)) == (
            255,
            255,
            255,
        )  # a gap between the labels and the tiles

    # install it into the data dir (never the source tree), list it, draw with it
    assert run_core("concepts", "add", str(out), "--config", str(cfg)).returncode == 0
    listed = run_core("concepts", "list", "--config", str(cfg)).stdout
    assert listed.strip() == "rigasdoms\tRīgas Doms\tok"
    assert (tmp_path / "adapters" / "rigasdoms" / "pytorch_lora_weights.safetensors").exists()
    again = run_core("concepts", "add", str(out), "--config", str(cfg))
    assert again.returncode == 2 and "already installed" in again.stderr

    from core.app import open_service
    from core.config import load_config
    from core.jobs.job import Request
    from core.lang.translate import IdentityTranslator, Translators

    config = load_config(cfg, {})
    identity = Translators.single(IdentityTranslator())
    async with open_service(config, translators=identity) as svc:
        sub = await svc.handle(Request("test", "u1", "u1", "Rīgas Doma tornis --sēkla 5"))
        job = await sub.handle.wait()
        assert job.concepts == ("rigasdoms",) and job.params.adapters == ("rigasdoms",)
        assert job.prompt.startswith("rigasdoms building")
        generator = svc.worker.drawer.generator  # type: ignore[attr-defined]
        assert generator.loaded_adapters == ("rigasdoms",)
        with_lora, _ = generator.generate([job.params], lambda s, t: None, lambda: False)[0]
        plain = dataclasses.replace(job.params, adapters=())
        without, _ = generator.generate([plain], lambda s, t: None, lambda: False)[0]
        doms = await svc.handle(Request("test", "u1", "u1", "Rīgas Doms --sēkla 5"))
        chat = await doms.handle.wait()
        bare = dataclasses.replace(chat.params, adapters=())
        no_lora, _ = generator.generate([bare], lambda s, t: None, lambda: False)[0]
    import numpy as np

    def diff(a: object, b: object) -> float:
        return float(np.abs(np.asarray(a, np.float32) - np.asarray(b, np.float32)).mean())

    assert diff(with_lora, without) > 0.5  # the adapter changes the image
    # `core generate` is the same chat message without a chat: the adapter is on, and the
    # pixels are those of the chat for the same text and seed
    cli = run_core(
        "generate", "Rīgas Doms --sēkla 5", "-o", str(tmp_path / "cli.png"), "--config", str(cfg)
    )
    assert cli.returncode == 0, cli.stderr
    assert "rigasdoms" in cli.stdout and str(tmp_path / "cli.png") in cli.stdout
    assert chat.image_path is not None
    with Image.open(tmp_path / "cli.png") as drawn, Image.open(chat.image_path) as in_chat:
        assert drawn.tobytes() == in_chat.tobytes()
        assert diff(drawn.convert("RGB"), no_lora) > 0.5

    assert run_core("concepts", "remove", "rigasdoms", "--config", str(cfg)).returncode == 0
    assert run_core("concepts", "list", "--config", str(cfg)).stdout == ""
    assert not (tmp_path / "adapters" / "rigasdoms").exists()


def test_a_captioner_that_is_not_present_leaves_the_templates(tmp_path: Path) -> None:
    from core.train.captions import captions, describe

    assert describe(str(tmp_path / "no-such-blip"), []) is None
    assert captions("rigasdoms", "building", 2, None)[1][0] == "a photo of rigasdoms building"


def test_the_loss_falls_and_a_killed_run_resumes(
    tmp_path: Path, tiny_models: dict[str, Path]
) -> None:
    from core.train.lora import LoraTrainer, TrainOptions

    photos = prepare(photo_set(tmp_path / "photos"), size=64).images
    options = TrainOptions(
        "rigasdoms",
        "building",
        steps=40,
        resolution=64,
        learning_rate=1e-2,
        checkpoint_every=10,
        device="cpu",
    )
    trainer = LoraTrainer(str(tiny_models["sd"]), options, tmp_path / "full")
    before = trainer.fixed_loss(photos)
    trainer.train(photos, [], lambda s: None)
    assert trainer.fixed_loss(photos) < before - 0.02  # overfitting 4 photos

    # a SIGKILL mid-training leaves whole checkpoints; a new run resumes from the last one
    cfg = train_config(tmp_path, tiny_models, resolution=128, checkpoint_every=5)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "core",
            "train",
            str(tmp_path / "photos"),
            *TRAIN_ARGS,
            "--steps",
            "5000",
            "--class-images",
            "0",
            "--config",
            str(cfg),
            "-o",
            str(tmp_path / "killed"),
        ],
        cwd=Path.cwd(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    checkpoints = tmp_path / "killed" / "rigasdoms" / "checkpoints"
    deadline = time.monotonic() + 600  # 3× its slowest run under load, and more
    while not (checkpoints / "step-000010").exists():
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.1)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    whole = sorted(p.name for p in checkpoints.iterdir() if not p.name.endswith(".part"))
    resumed = LoraTrainer(
        str(tiny_models["sd"]),
        dataclasses.replace(options, resolution=128, steps=5000),
        tmp_path / "killed" / "rigasdoms",
    )
    assert resumed.resume() and f"step-{resumed.step:06d}" == whole[-1]
    assert resumed.step >= 10 and len(resumed.losses) == resumed.step
