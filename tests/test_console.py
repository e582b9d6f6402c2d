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
        cwd=Path.cwd(),
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
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
        [sys.executable, "-m", "bot", "--config", str(cfg)],
        input="",
        cwd=Path.cwd(),
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert proc.returncode == 2
    assert "--demo" in proc.stderr and "Traceback" not in proc.stderr


def console_config(tmp_path: Path, tiny: dict[str, Path], **generation: int) -> Path:
    gen = {"steps": 2, "width": 64, "height": 64, **generation}
    cfg = tmp_path / "cfg.toml"
    cfg.write_text(
        f'[models]\ngenerator = "{tiny["sd"]}"\ntranslator = "{tiny["opus"]}"\n'
        'device = "cpu"\n[generation]\n'
        + "".join(f"{k} = {v}\n" for k, v in gen.items())
        + f'[storage]\ndatabase = "{tmp_path / "z.sqlite3"}"\nimages = "{tmp_path / "img"}"\n',
        encoding="utf-8",
    )
    return cfg


def run_console(cfg: Path, script: str) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "bot", "--config", str(cfg)],
        input=script,
        cwd=Path.cwd(),
        capture_output=True,
        text=True,
        timeout=180,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    assert proc.returncode == 0, proc.stderr
    assert "Traceback" not in proc.stderr
    return proc.stdout


def test_the_console_runs_every_command_and_every_button(
    tiny_models: dict[str, Path], tmp_path: Path
) -> None:
    out = run_console(
        console_config(tmp_path, tiny_models),
        "\n".join(
            [
                "/iestatijumi",  # answered, with its buttons
                "/velreiz abc",  # a bad argument: one sentence, and the loop goes on
                "/zime Milda --n 2 --sēkla 5 --ar 16:9 --soļi 3 --ne kaķis",
                "U2",  # image 2 alone: typed labels press the last message's buttons
                "🔍",  # ... and its 🔍 2×
                "Z",  # 🔭 zooms that one out: its console label
                "V1",  # variations of the grid's image 1
                "ℹ️",
                "/zime kaķis --seeds 5",  # a typo: the closest flag, nothing drawn
                "/vesture",
                "🗑",
                "/stats",
                "/nezinama",
                "/palidziba",
            ]
        )
        + "\n",
    )
    assert "Tavi iestatījumi" in out and "[🖼 1]" in out and "Nezināma komanda" not in out[:400]
    assert "/velreiz vajag zīmējuma numuru no /vesture, piemēram: /velreiz 12" in out
    # the grid's caption names every option in effect, and that the models are tiny
    assert "Opcijas: 16:9 · 2 attēli · 3 soļi · bez: kaķis" in out
    assert "(demo: nejauši modeļi — attēls ir troksnis)" in out  # a tiny-models config
    assert "[U1]  [U2]  [V1]  [V2]" in out
    assert "U2 · Sēkla: 6" in out  # the seed of image 2 is seed + 1
    assert out.count("Opcijas:") >= 3  # the grid, the 🔍 and the V1 results
    assert "[🔭 Attālināt (Z)]" in out
    assert "Opcijas: 16:9 · 4 attēli" in out  # the V1 grid of 4
    assert "Teksts: Milda --n 2" in out and "Uzvedne: a photo of brivpiem statue" in out  # ℹ️
    assert "Opciju --seeds nepazīstu; varbūt domāji --sēkla/--seed? Nekas netika zīmēts." in out
    assert "· gatavs · sēkla" in out and "done" not in out
    assert "Izdzēsts." in out
    assert (
        "Pēdējās 7 dienās: gatavs 4" in out
    )  # the grid, 🔍, 🔭 and V1; the typo drew nothing and "Neveiksmes: 0 (0 %)" in out
    assert "Nezināma komanda. /palidziba" in out and "Pogas:" in out
    images = [p for p in (tmp_path / "img").rglob("*.png") if "uploads" not in p.parts]
    assert len(images) == 1 + 2 + 1 + 1  # the grid and its 2, 🔍, 🔭; 🗑 removed the V1 grid


def test_ctrl_c_and_sigterm_stop_the_console_and_keep_the_jobs(
    tiny_models: dict[str, Path], tmp_path: Path
) -> None:
    import signal
    import sqlite3
    import time

    cfg = console_config(tmp_path, tiny_models, width=256, height=256, max_steps=150)
    for last, sig in ((2, signal.SIGINT), (4, signal.SIGTERM)):
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "--config", str(cfg)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=Path.cwd(),
            text=True,
            env={**os.environ, "HF_HUB_OFFLINE": "1"},
        )
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write("/zime Rainis --soļi 150 --sēkla 9\n/zime Milda --sēkla 10\n")
        proc.stdin.flush()  # stdin stays open: a terminal, not a pipe at its end
        seen = ""  # wait until one job draws and the last one is queued
        while "Zīmēju" not in seen or f"\n#{last} " not in seen:
            line = proc.stdout.readline()
            assert line, proc.stderr.read() if proc.stderr else ""
            seen += "\n" + line
        started = time.monotonic()
        proc.send_signal(sig)
        assert proc.wait(timeout=10) == 0
        # 5 s on an idle machine (README); the bound leaves room for a loaded one, and is
        # still far below the 150-step drawing it must not wait for
        assert time.monotonic() - started < 8.0
        for pipe in (proc.stdin, proc.stdout, proc.stderr):
            if pipe is not None:
                pipe.close()
        rows = (
            sqlite3.connect(tmp_path / "z.sqlite3")
            .execute("SELECT status FROM jobs ORDER BY id")
            .fetchall()
        )
        assert [r[0] for r in rows][-2:] == ["queued", "queued"], rows  # kept for next time
    # the next start draws what the stops kept (EOF waits for them)
    out = run_console(cfg, "")
    assert out.count("Uzzīmēts:") == 4
    rows = sqlite3.connect(tmp_path / "z.sqlite3").execute("SELECT status FROM jobs").fetchall()
    assert {r[0] for r in rows} == {"done"}
