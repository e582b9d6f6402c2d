from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_sigkill_loses_nothing_and_each_job_completes_once(tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.durability_child", "submit", str(tmp_path)],
        cwd=Path.cwd(),
        env=env,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    assert child.stdout.readline().strip() == "submitted"
    log = tmp_path / "completed.log"
    deadline = time.monotonic() + 30
    while not (log.exists() and log.read_text().strip()) and time.monotonic() < deadline:
        time.sleep(0.05)
    child.send_signal(signal.SIGKILL)  # mid-way: one done, one drawing, the rest queued
    child.wait(10)
    child.stdout.close()
    done_before = log.read_text().split()
    assert 1 <= len(done_before) < 6

    resumed = subprocess.run(
        [sys.executable, "-m", "tests.durability_child", "resume", str(tmp_path)],
        cwd=Path.cwd(),
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert resumed.returncode == 0, resumed.stderr
    completed = log.read_text().split()
    assert sorted(completed, key=int) == [str(i) for i in range(1, 7)]  # each exactly once
    with sqlite3.connect(tmp_path / "z.sqlite3") as db:
        rows = db.execute("SELECT status, image_path FROM jobs ORDER BY id").fetchall()
    assert [r[0] for r in rows] == ["done"] * 6
    assert all(Path(r[1]).is_file() for r in rows)
