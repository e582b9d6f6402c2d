"""The last rough edges a new user and a new operator met (issue #32), each on the shared
path every frontend takes: a quiet console, one meaning per button symbol, labels only when
on offer, /ban naming who, settings answers without the drawing sentence, what "bez …" left
out in the caption and ℹ️, /palidziba complete, `core generate` (--demo, options first, the
chat's sentences, progress lines), and the dashboard's words and times."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from pathlib import Path

import httpx

from bot import actions, commands
from bot.message import Ctx
from core.jobs.job import Request
from tests.test_console import console_config
from tests.web_helpers import site

LOG_LINE = re.compile(r"\b(DEBUG|INFO|WARNING|ERROR)\b|Writing model shards|\[transformers\]|it/s")


def test_the_console_shows_the_chat_and_nothing_else(
    tiny_models: dict[str, Path], tmp_path: Path
) -> None:
    """A default run: no library warning, loading bar or log line between the answers (they
    are in the log file), and piped, a job's progress is a line or two, not one a step."""
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "bot",
            "--config",
            str(console_config(tmp_path, tiny_models, steps=8)),
        ],
        input="/zime Vecrīga bez cilvēkiem\n/zime kaķis\n♻️ #9\n/iestatijumi skaits=7\n",
        cwd=tmp_path,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,  # what a terminal shows: both, interleaved
        text=True,
        timeout=180,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    out = proc.stdout
    assert proc.returncode == 0, out
    noise = [line for line in out.splitlines() if LOG_LINE.search(line)]
    assert not noise, noise
    log = (tmp_path / "data" / "zime.log").read_text(encoding="utf-8")
    assert "INFO" in log and "job id=" in log  # the log lines went to the file
    drawing = [line for line in out.splitlines() if "Zīmēju" in line]
    assert 1 <= len(drawing) <= 4, drawing  # two jobs, 8 steps each: not a line a step
    assert "bez: cilvēkiem" in out  # what "bez …" left out, in the caption
    assert "Neviena ziņa šeit nepiedāvā ♻️." in out  # a label not on offer: never a prompt
    assert out.count("Uzzīmēts:") == 2  # "♻️ #9" was not drawn
    refused = next(line for line in out.splitlines() if "--skaits" in line or "skaits" in line)
    assert "Nekas netika zīmēts" not in refused and "netika mainīti" in refused


async def test_one_meaning_per_symbol_help_ban_and_info(tmp_path: Path) -> None:
    async with site(tmp_path) as s:
        job_id = await s.draw("7", "Vecrīga bez cilvēkiem --seed 4")
        labels = [b.label for row in actions.result_buttons(job_id, 1, "lv") for b in row]
        history = await s.command("7", "vesture")
        marks = [b.label.split(" ")[0] for row in history.buttons for b in row]
        assert "🔁 Vēlreiz" in labels and marks == ["♻️", "📄"]  # 🔁 new seed, ♻️ the same
        info = await actions.press(Ctx(s.service, s.request("7")), actions.encode("info", job_id))
        assert "Left out: cilvēkiem (cilvēkiem)" in info.text  # the English the model read
        help_text = (await s.command("7", "palidziba")).text
        assert "/velreiz" in help_text and "/galerija" in help_text and "/labot" in help_text
        admin = Ctx(s.service, s.request("1", admin=True))
        unknown = await commands.run(admin, "ban", "4242")
        assert unknown.error and "telegram:4242 has never used Zīme" in unknown.text
        banned = await commands.run(admin, "ban", "7")
        assert banned.text == "Banned: telegram:7." and not banned.error
        gone = Request("telegram", "8", "8", "", is_admin=True)
        forced = await commands.run(Ctx(s.service, gone), "ban", "discord:99 --force")
        assert forced.text == "Bloķēts: discord:99."  # in the admin's language


async def test_the_dashboard_says_options_in_words_and_times_as_people_do(
    tmp_path: Path,
) -> None:
    async with site(tmp_path) as s, httpx.AsyncClient(base_url=s.base) as http:
        job_id = await s.draw("42", "Vanšu tilts --ar 16:9 --soļi 3")
        await http.get(await s.link("1", "panelis"))
        page = (await http.get(f"/admin/jobs/{job_id}")).text
        assert "Options: 16:9 · 3 steps" in page and '{"v"' not in page
        users = (await http.get("/admin/users")).text
        assert "just now" in users and " h ago" not in users


def test_core_generate_checks_options_first_and_speaks_the_chats_sentences(
    tmp_path: Path,
) -> None:
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    started = time.monotonic()
    bad = subprocess.run(
        [sys.executable, "-m", "core", "generate", "kaķis", "--seeds", "5", "-o", "x.png"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert bad.returncode == 2 and time.monotonic() - started < 10  # no model was loaded
    assert "Opciju --seeds nepazīstu; varbūt domāji --sēkla/--seed?" in bad.stderr
    assert "unknown_option" not in bad.stderr
    good = subprocess.run(
        [sys.executable, "-m", "core", "generate", "kaķis", "--soļi", "8", "-o", "x.png", "--demo"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        timeout=180,
    )
    assert good.returncode == 0, good.stderr
    assert (tmp_path / "x.png").is_file()
    progress = [line for line in good.stderr.splitlines() if line.endswith("%")]
    assert 2 <= len(progress) <= 5 and "\r" not in good.stderr  # piped: a line a quarter
    assert not [line for line in good.stderr.splitlines() if LOG_LINE.search(line)]
