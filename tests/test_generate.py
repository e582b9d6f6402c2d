from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from core.draw.generate import DiffusersGenerator
from core.draw.images import read_png_metadata
from core.errors import JobCancelled, ModelError
from core.jobs.job import GenParams

ROOT = Path(__file__).resolve().parent.parent


def params(seed: int, steps: int = 3, prompt: str = "rigabalsam bottle") -> GenParams:
    return GenParams(prompt, "blurry", seed, steps, 7.5, 64, 64, False)


def test_diffusers_backend_batch_progress_and_seed(tiny_models: dict[str, Path]) -> None:
    gen = DiffusersGenerator(str(tiny_models["sd"]), device="cpu")
    gen.load()
    steps: list[int] = []
    out = gen.generate(
        [params(1), params(2), params(1)], lambda s, t: steps.append(s), lambda: False
    )
    assert len(out) == 3 and out[0][0].size == (64, 64)
    assert steps == [1, 2, 3]  # one callback per step for the whole batch
    import numpy as np

    a, b, c = (np.asarray(img, dtype=np.float32) for img, _ in out)
    # same seed -> the same image (up to batched float rounding); another seed differs
    assert np.abs(a - c).mean() < 1.0 < np.abs(a - b).mean()


def test_flagged_images_come_back_as_drawn_with_their_flag(tiny_models: dict[str, Path]) -> None:
    """The real safety checker class runs on the finished images, but never blacks them
    out: the worker blurs them instead (a black square tells the user nothing)."""
    from dataclasses import replace

    import numpy as np

    gen = DiffusersGenerator(str(tiny_models["sd"]), device="cpu")
    checked = replace(params(1, steps=1), safety_checker=True)
    [(image, flagged)] = gen.generate([checked], lambda s, t: None, lambda: False)
    assert not flagged  # the tiny checker's concept weights are ones: it flags nothing
    gen._safety.concept_embeds_weights.data[:] = -1.0  # now everything is over threshold
    [(again, flagged)] = gen.generate([checked], lambda s, t: None, lambda: False)
    assert flagged and np.asarray(again).max() > 0  # not blacked out
    assert np.abs(np.asarray(again, np.float32) - np.asarray(image, np.float32)).mean() < 1
    [(_, off)] = gen.generate([params(1, steps=1)], lambda s, t: None, lambda: False)
    assert not off  # safety_checker=False in the job: not checked at all


def test_cooperative_cancel_and_failed_reload(tiny_models: dict[str, Path]) -> None:
    gen = DiffusersGenerator(str(tiny_models["sd"]), device="cpu")
    with pytest.raises(JobCancelled):
        gen.generate([params(1, steps=5)], lambda s, t: None, lambda: True)
    with pytest.raises(ModelError):
        gen.reload(str(ROOT / "no-such-model-dir"))
    assert gen.model == str(tiny_models["sd"])  # the old model stays
    assert len(gen.generate([params(3)], lambda s, t: None, lambda: False)) == 1


def test_generate_cli_with_tiny_models(tiny_models: dict[str, Path], tmp_path: Path) -> None:
    cfg = tmp_path / "cfg.toml"
    cfg.write_text(
        f'[models]\ngenerator = "{tiny_models["sd"]}"\ntranslator = "{tiny_models["nllb"]}"\n'
        'device = "cpu"\n[generation]\nwidth = 64\nheight = 64\n',
        encoding="utf-8",
    )
    out = tmp_path / "out.png"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "core",
            "generate",
            "kaķis pie Brīvības pieminekļa",
            "-o",
            str(out),
            "--config",
            str(cfg),
            "--seed",
            "11",
            "--steps",
            "3",
        ],
        cwd=Path.cwd(),
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert proc.returncode == 0, proc.stderr
    meta = read_png_metadata(out)
    assert meta["seed"] == "11" and "brivpiem statue" in meta["prompt"]
    assert meta["model_path"] == str(tiny_models["sd"]) and meta["steps"] == "3"
    assert meta["model"] == "default"  # the catalogue name of a single `generator`


def test_generate_cli_takes_the_chat_options(tiny_models: dict[str, Path], tmp_path: Path) -> None:
    cfg = tmp_path / "cfg.toml"
    cfg.write_text(
        f'[models]\ngenerator = "{tiny_models["sd"]}"\ntranslator = "{tiny_models["opus"]}"\n'
        'device = "cpu"\n[generation]\nsteps = 2\nwidth = 64\nheight = 64\n',
        encoding="utf-8",
    )
    out = tmp_path / "out.png"

    def generate(*text: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "core", "generate", *text, "-o", str(out), "--config", str(cfg)],
            cwd=Path.cwd(),
            capture_output=True,
            text=True,
            timeout=120,
            env={**os.environ, "HF_HUB_OFFLINE": "1"},
        )

    # the options as a chat message carries them, quoted or not
    proc = generate("Rainis --ar 16:9 --n 4", "--ne", "kaķis", "--sēkla", "3")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[:5] == [*(str(tmp_path / f"out-{n}.png") for n in range(1, 5)), f"grid: {out}"]
    meta = read_png_metadata(tmp_path / "out-2.png")
    assert meta["seed"] == "4" and "rainis" in meta["prompt"]  # image 2: seed + 1
    assert meta["negative_prompt"].startswith("lowres") and meta["negative_prompt"].count(",") > 4
    record = json.loads(read_png_metadata(out)["zime"])
    assert record["kind"] == "grid"
    typo = generate("Rainis --seeds 5")
    assert (
        typo.returncode == 2 and "--sēkla/--seed" in typo.stderr and "Traceback" not in typo.stderr
    )


def test_progress_total_comes_from_the_scheduler(tiny_models: dict[str, Path]) -> None:
    gen = DiffusersGenerator(str(tiny_models["sd"]), device="cpu", scheduler="pndm")
    calls: list[tuple[int, int]] = []
    gen.generate([params(1, steps=4)], lambda s, t: calls.append((s, t)), lambda: False)
    assert len(calls) > 4  # PNDM runs more model calls than steps
    assert all(s <= t for s, t in calls) and calls[-1][0] == calls[-1][1]


def test_cancel_stops_before_the_vae_decode(tiny_models: dict[str, Path]) -> None:
    gen = DiffusersGenerator(str(tiny_models["sd"]), device="cpu")
    gen.load()
    decoded: list[int] = []
    vae = gen._pipe.vae
    original = vae.decode

    def counting_decode(*args: Any, **kwargs: Any) -> Any:
        decoded.append(1)
        return original(*args, **kwargs)

    vae.decode = counting_decode
    with pytest.raises(JobCancelled):
        gen.generate([params(1, steps=5)], lambda s, t: None, lambda: True)
    assert decoded == []
    gen.generate([params(1, steps=2)], lambda s, t: None, lambda: False)
    assert decoded == [1]


def test_device_line_slicing_and_cpu_guard(
    tiny_models: dict[str, Path], caplog: pytest.LogCaptureFixture
) -> None:
    from core.app import check_device
    from core.config import config_from_dict

    caplog.set_level("INFO", logger="zime.generate")
    gen = DiffusersGenerator(str(tiny_models["sd"]), device="cpu", safety_checker=False)
    gen.load()
    assert gen.device == "cpu" and gen.dtype == "float32" and not gen.full_size
    assert any(
        "on cpu, float32" in r.message and "safety checker off" in r.message for r in caplog.records
    )
    gen.generate([params(1, steps=1), params(2, steps=1)], lambda s, t: None, lambda: False)
    assert gen._pipe.vae.use_slicing  # a batch decodes image by image
    gen.generate([params(1, steps=1)], lambda s, t: None, lambda: False)
    assert not gen._pipe.vae.use_slicing

    gen.full_size = True  # as SD 1.5 would be
    with pytest.raises(ModelError, match="full-size"):
        check_device(config_from_dict({"models": {"device": "auto"}}), gen)
    check_device(config_from_dict({"models": {"device": "cpu"}}), gen)  # chosen knowingly


def _into_hub_cache(model_dir: Path, cache: Path, repo_id: str) -> None:
    """Lay a model dir out the way huggingface_hub caches a download."""
    import shutil

    repo = cache / ("models--" + repo_id.replace("/", "--"))
    revision = "0123456789abcdef0123456789abcdef01234567"
    shutil.copytree(model_dir, repo / "snapshots" / revision)
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(revision, encoding="utf-8")


def test_offline_models_in_a_custom_cache_dir(tiny_models: dict[str, Path], tmp_path: Path) -> None:
    cache = tmp_path / "hub-cache"
    _into_hub_cache(tiny_models["sd"], cache, "zime-test/tiny-sd")
    _into_hub_cache(tiny_models["opus"], cache, "zime-test/tiny-opus")
    cfg = tmp_path / "cfg.toml"
    cfg.write_text(
        '[models]\ngenerator = "zime-test/tiny-sd"\ntranslator = "zime-test/tiny-opus"\n'
        f'device = "cpu"\ncache_dir = "{cache}"\n[generation]\nwidth = 64\nheight = 64\n',
        encoding="utf-8",
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "HF_HOME": str(tmp_path / "empty-home")}
    out = tmp_path / "out.png"
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "core",
            "generate",
            "kaķis uz jumta",
            "-o",
            str(out),
            "--config",
            str(cfg),
            "--steps",
            "2",
        ],
        cwd=Path.cwd(),
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    assert out.is_file() and "image model zime-test/tiny-sd on cpu, float32" in proc.stderr


def test_img2img_from_an_image_at_twice_the_size(
    tiny_models: dict[str, Path], tmp_path: Path
) -> None:
    from PIL import Image

    source = tmp_path / "src.png"
    Image.new("RGB", (64, 64), (200, 30, 30)).save(source)
    gen = DiffusersGenerator(str(tiny_models["sd"]), device="cpu")
    calls: list[tuple[int, int]] = []
    big = GenParams("rigabalsam bottle", "", 1, 4, 7.5, 128, 128, False, 1, str(source), 0.5)
    [(image, _)] = gen.generate([big], lambda s, t: calls.append((s, t)), lambda: False)
    assert image.size == (128, 128)
    assert calls[-1] == (2, 2)  # img2img runs steps × strength
    # the text-to-image pipeline still works after it (same components)
    assert gen.generate([params(1)], lambda s, t: None, lambda: False)[0][0].size == (64, 64)


def test_fast_mode_loads_its_lora_and_scheduler_for_its_own_calls(
    tiny_models: dict[str, Path],
) -> None:
    """A fast job draws with the "fast" adapter active and DDIM trailing timesteps; a
    normal job on the same pipeline keeps the configured scheduler and no LoRA."""
    from dataclasses import replace

    import numpy as np

    gen = DiffusersGenerator(
        str(tiny_models["sd"]), device="cpu", fast_lora=str(tiny_models["fast-lora"])
    )
    gen.load()
    usual = type(gen._pipe.scheduler).__name__
    seen: list[tuple[str, str, list[str]]] = []
    real_call = type(gen._pipe).__call__

    def spy(pipe: Any, *a: Any, **kw: Any) -> Any:
        active = pipe.get_active_adapters() if pipe.unet.peft_config else []
        seen.append(
            (
                type(pipe.scheduler).__name__,
                getattr(pipe.scheduler.config, "timestep_spacing", ""),
                list(active),
            )
        )
        return real_call(pipe, *a, **kw)

    type(gen._pipe).__call__ = spy
    try:
        fast = replace(params(3, steps=2), fast=True)
        [(fast_img, _)] = gen.generate([fast], lambda s, t: None, lambda: False)
        [(normal_img, _)] = gen.generate([params(3, steps=2)], lambda s, t: None, lambda: False)
    finally:
        type(gen._pipe).__call__ = real_call
    assert seen[0] == ("DDIMScheduler", "trailing", ["fast"])
    assert seen[1][0] == usual  # the normal job's scheduler, restored after the fast call
    assert type(gen._pipe.scheduler).__name__ == usual
    plain = DiffusersGenerator(str(tiny_models["sd"]), device="cpu")
    [(plain_img, _)] = plain.generate([params(3, steps=2)], lambda s, t: None, lambda: False)

    def diff(a: Any, b: Any) -> float:
        return float(np.abs(np.asarray(a, np.float32) - np.asarray(b, np.float32)).mean())

    assert diff(normal_img, plain_img) < 0.5  # the LoRA was off for the normal job
    assert diff(fast_img, normal_img) > 0.5
    with pytest.raises(ModelError, match="no fast LoRA"):
        plain.generate([fast], lambda s, t: None, lambda: False)


def test_the_sdxl_family_draws_and_redraws_from_an_image(
    tiny_models: dict[str, Path], tmp_path: Path
) -> None:
    """family = "sdxl": the SDXL pipelines over the same code (a photo, 🔍 and V use its
    image-to-image pipeline, built from the loaded one)."""
    from dataclasses import replace

    gen = DiffusersGenerator(str(tiny_models["sdxl"]), device="cpu", family="sdxl")
    gen.load()
    assert type(gen._pipe).__name__ == "StableDiffusionXLPipeline"
    [(image, flagged)] = gen.generate([params(5, steps=2)], lambda s, t: None, lambda: False)
    assert image.size == (64, 64) and not flagged
    start = tmp_path / "start.png"
    image.save(start)
    again = replace(params(6, steps=4), init_image=str(start), strength=0.5, width=128, height=128)
    [(bigger, _)] = gen.generate([again], lambda s, t: None, lambda: False)
    assert bigger.size == (128, 128)
    assert type(gen._pipes.img2img(gen._pipe)).__name__ == "StableDiffusionXLImg2ImgPipeline"


def test_a_concept_adapter_and_the_fast_lora_draw_together(
    tiny_models: dict[str, Path], tmp_path: Path
) -> None:
    """peft's set_adapters with both: a trained concept's LoRA stays active in fast mode."""
    from dataclasses import replace

    from core.draw.tiny import build_fast_lora

    concept = tmp_path / "rigasdoms" / "pytorch_lora_weights.safetensors"
    concept.parent.mkdir()
    build_fast_lora(tiny_models["sd"], concept, rank=2)  # any LoRA of the tiny UNet's shape
    gen = DiffusersGenerator(
        str(tiny_models["sd"]),
        device="cpu",
        adapters=lambda: {"rigasdoms": str(concept)},
        fast_lora=str(tiny_models["fast-lora"]),
    )
    gen.load()
    active: list[list[str]] = []
    real_call = type(gen._pipe).__call__

    def spy(pipe: Any, *a: Any, **kw: Any) -> Any:
        active.append(sorted(pipe.get_active_adapters()))
        return real_call(pipe, *a, **kw)

    type(gen._pipe).__call__ = spy
    try:
        both = replace(params(4, steps=2), adapters=("rigasdoms",), fast=True)
        gen.generate([both], lambda s, t: None, lambda: False)
        gen.generate([replace(both, fast=False)], lambda s, t: None, lambda: False)
    finally:
        type(gen._pipe).__call__ = real_call
    assert active == [["fast", "rigasdoms"], ["rigasdoms"]]
