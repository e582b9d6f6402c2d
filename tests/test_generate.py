from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.errors import JobCancelled, ModelError
from core.generate import DiffusersGenerator
from core.images import read_png_metadata
from core.models import GenParams

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
        [sys.executable, "-m", "core", "generate", "kaķis pie Brīvības pieminekļa", "-o", str(out),
         "--config", str(cfg), "--seed", "11", "--steps", "3"],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    meta = read_png_metadata(out)
    assert meta["seed"] == "11" and "brivpiem statue" in meta["prompt"]
    assert meta["model"] == str(tiny_models["sd"]) and meta["steps"] == "3"
