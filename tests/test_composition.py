from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from tests.discord_stub import DiscordStub
from tests.telegram_stub import TelegramStub

ROOT = Path(__file__).resolve().parent.parent


def config(
    tmp_path: Path, tiny: dict[str, Path], tg_api: str, dc_api: str, dc_gateway: str
) -> Path:
    cfg = tmp_path / "cfg.toml"
    cfg.write_text(
        f'[telegram]\ntoken = "123:TEST"\napi_base_url = "{tg_api}"\n'
        f'[discord]\ntoken = "DISCORD.TEST"\napi_base_url = "{dc_api}"\ngateway_url = "{dc_gateway}"\n'
        f'[models]\ngenerator = "{tiny["sd"]}"\ntranslator = "{tiny["opus"]}"\ndevice = "cpu"\n'
        "[generation]\nsteps = 2\nwidth = 64\nheight = 64\n"
        f'[storage]\ndatabase = "{tmp_path / "z.sqlite3"}"\nimages = "{tmp_path / "img"}"\n',
        encoding="utf-8",
    )
    return cfg


async def run_bot(cfg: Path) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "--config",
        str(cfg),
        cwd=Path.cwd(),
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )


async def test_telegram_and_discord_in_one_process(
    tiny_models: dict[str, Path], tmp_path: Path
) -> None:
    tg, dc = TelegramStub(), DiscordStub()
    await tg.start()
    await dc.start()
    try:
        proc = await run_bot(
            config(tmp_path, tiny_models, f"http://127.0.0.1:{tg.port}/bot", dc.api, dc.gateway)
        )
        await asyncio.wait_for(dc.ready.wait(), 60)
        await tg.wait_for("setMyCommands", timeout=60)  # Telegram's frontend is up too
        tg.send_text("/zime Vanšu tilts", user_id=3)
        token = await dc.slash("zime", {"teksts": "Vanšu tilts"}, user_id=3)
        await tg.wait_for("sendPhoto", chat_id=3, timeout=60)
        await dc.wait_for("POST", f"/webhooks/4242/{token}", timeout=60)
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 15) == 0
        assert proc.stderr is not None
        log = (await proc.stderr.read()).decode()
        assert "123:TEST" not in log and "DISCORD.TEST" not in log
    finally:
        await tg.stop()
        await dc.stop()


async def test_one_platform_down_does_not_stop_the_other(
    tiny_models: dict[str, Path], tmp_path: Path
) -> None:
    tg = TelegramStub()
    await tg.start()
    try:
        dead = "http://127.0.0.1:9/api/v10"  # nothing listens on the discard port
        proc = await run_bot(
            config(
                tmp_path, tiny_models, f"http://127.0.0.1:{tg.port}/bot", dead, "ws://127.0.0.1:9/"
            )
        )
        tg.send_text("/zime Rainis", user_id=4)
        await tg.wait_for("sendPhoto", chat_id=4, timeout=60)
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 15) == 0
        assert proc.stderr is not None
        assert "DiscordFrontend failed to start" in (await proc.stderr.read()).decode()
    finally:
        await tg.stop()
