from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_piped_console_draws_and_exits(tiny_models: dict[str, Path], tmp_path: Path) -> None:
    cfg = tmp_path / "cfg.toml"
    cfg.write_text(
        f'[models]\ngenerator = "{tiny_models["sd"]}"\ntranslator = "{tiny_models["opus"]}"\n'
        'device = "cpu"\n[generation]\nsteps = 2\nwidth = 64\nheight = 64\n'
        f'[storage]\ndatabase = "{tmp_path / "z.sqlite3"}"\nimages = "{tmp_path / "img"}"\n',
        encoding="utf-8",
    )
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "--config", str(cfg)],
        input="/zime Rainis\n/zime\nBrīvības piemineklis naktī\n/palidziba\n",
        cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "Uzraksti, ko uzzīmēt" in out  # empty /zime -> usage hint, no crash
    assert "Uzzīmēts: a photo of rainis poet" in out
    assert "brivpiem statue" in out and "Atpazinu: Brīvības piemineklis" in out
    assert len(list((tmp_path / "img").rglob("*.png"))) == 2
    assert "Traceback" not in proc.stderr


def test_offline_without_models_explains_and_offers_demo(tmp_path: Path) -> None:
    cfg = tmp_path / "cfg.toml"
    cfg.write_text(f'[storage]\ndatabase = "{tmp_path / "z.sqlite3"}"\n', encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "--config", str(cfg)], input="", cwd=ROOT,
        capture_output=True, text=True, timeout=60, env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )  # fmt: skip
    assert proc.returncode == 2
    assert "--demo" in proc.stderr and "Traceback" not in proc.stderr
