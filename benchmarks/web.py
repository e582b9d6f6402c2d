"""The web app under a big history: 100,000 jobs of 5,000 users (2% of them flagged, 3%
failed), served by uvicorn in the bot's process, asked over real HTTP one request at a time.
Goals (issue #23): p99 of `GET /api/me/jobs` ≤ 50 ms; the dashboard's jobs page ≤ 200 ms.
Not a test; run `python -m benchmarks.web [--jobs N] [--users N] [--requests N]`."""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sqlite3
import tempfile
import time
from pathlib import Path

import httpx

from benchmarks.overhead import ZeroGenerator, pct
from bot.web.server import WebServer
from core.app import open_service
from core.config import config_from_dict
from core.jobs.store import Store
from core.lang.translate import IdentityTranslator, Translators
from tests.redis_server import free_port
from tests.web_helpers import BOT_TOKEN, init_data

WORDS = "Rīgas doms saulrietā ar mākoņiem un Vanšu tilts ziemā piparkūkas uz galda".split()


async def fill(path: Path, jobs: int, users: int) -> None:
    async with Store(path):  # migrated, with every index
        pass
    rng = random.Random(7)
    now = time.time()
    db = sqlite3.connect(path)
    db.executemany(
        "INSERT INTO users (platform, user_id, language, created_at) VALUES (?, ?, ?, ?)",
        [("telegram", str(u), "lv", now - 90 * 86400) for u in range(1, users + 1)],
    )
    rows = []
    for i in range(jobs):
        user = rng.randint(1, users)
        text = " ".join(rng.choices(WORDS, k=6))
        status = "failed" if rng.random() < 0.03 else "done"
        meta = {"language": "lv", "delivered": True, "chat_id": user}
        if rng.random() < 0.02:
            meta["nsfw"] = True
        created = now - (jobs - i) * 30  # one every 30 s: about five weeks
        rows.append(
            (
                "telegram",
                str(user),
                str(user),
                text,
                text,
                "lv",
                "[]",
                text,
                text,
                "",
                i,
                25,
                7.5,
                512,
                512,
                1,
                "minusthousand/lv-sb",
                status,
                "model" if status == "failed" else None,
                created,
                created + 1,
                created + 5,
                1.0,
                4.0,
                f"/nowhere/{i}.png",
                json.dumps(meta),
            )
        )
    db.executemany(
        "INSERT INTO jobs (platform, user_id, chat_id, request_text, normalized, lang, concepts,"
        " english, prompt, negative_prompt, seed, steps, guidance, width, height, safety, model,"
        " status, failure, created_at, started_at, finished_at, wait_s, draw_s, image_path, meta)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        rows,
    )
    db.commit()
    db.execute("ANALYZE")
    db.close()


async def timed(http: httpx.AsyncClient, url: str, headers: dict[str, str]) -> float:
    start = time.perf_counter()
    response = await http.get(url, headers=headers)
    elapsed = (time.perf_counter() - start) * 1000
    assert response.status_code == 200, (url, response.status_code, response.text[:200])
    return elapsed


async def main(jobs: int, users: int, requests: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        started = time.perf_counter()
        await fill(root / "z.sqlite3", jobs, users)
        print(f"filled {jobs} jobs of {users} users in {time.perf_counter() - started:.1f} s")
        port = free_port()
        cfg = config_from_dict(
            {
                "storage": {"database": str(root / "z.sqlite3"), "images": str(root / "img")},
                "web": {"enabled": True, "port": port},
                "telegram": {"token": BOT_TOKEN},
            }
        )
        gen, translators = ZeroGenerator(), Translators.single(IdentityTranslator())
        async with open_service(cfg, generator=gen, translators=translators) as svc:
            server = WebServer(svc, cfg)
            await server.start()
            try:
                base = f"http://127.0.0.1:{port}"
                async with httpx.AsyncClient(base_url=base, timeout=30) as http:
                    await report(http, svc, users, requests)
            finally:
                await server.stop()


async def report(http: httpx.AsyncClient, svc: object, users: int, requests: int) -> None:
    from core.service import Service

    assert isinstance(svc, Service)
    rng = random.Random(11)
    api: list[float] = []
    for _ in range(requests):
        user = rng.randint(1, users)
        headers = {"Authorization": "tma " + init_data(user)}
        api.append(await timed(http, "/api/me/jobs?limit=20", headers))
    line("GET /api/me/jobs?limit=20 (tma)", api, 50)
    await http.get(await_link(svc))  # the admin's cookie, as /panelis gives it
    pages: dict[str, list[float]] = {
        "/admin/jobs": [],
        "/admin/jobs?status=failed": [],
        "/admin/jobs?user=telegram:17": [],
        "/admin": [],
        "/admin/flagged": [],
        "/admin/users": [],
    }
    for page, times in pages.items():
        for _ in range(max(20, requests // 10)):
            times.append(await timed(http, page, {}))
        line(f"GET {page}", times, 200)


def await_link(svc: object) -> str:
    from core.jobs.job import Request
    from core.logins import ADMIN
    from core.service import Service

    assert isinstance(svc, Service)
    return svc.login_link(Request("telegram", "1", "1", "", is_admin=True), ADMIN)


def line(what: str, times: list[float], goal_ms: float) -> None:
    p50, p99 = pct(times, 50), pct(times, 99)
    verdict = "ok" if p99 <= goal_ms else "OVER"
    print(
        f"{what:42s} n={len(times):4d}  p50 {p50:6.1f} ms  p99 {p99:6.1f} ms"
        f"  (goal p99 ≤ {goal_ms:.0f} ms: {verdict})"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--users", type=int, default=5_000)
    parser.add_argument("--requests", type=int, default=500)
    args = parser.parse_args()
    asyncio.run(main(args.jobs, args.users, args.requests))
