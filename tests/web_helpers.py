"""A real Zīme with its web app on 127.0.0.1 (uvicorn, as `python -m bot` runs it), a fake
image model, and helpers to sign in the way users do: a /panelis or /galerija link, or
Telegram-signed initData."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bot import commands
from bot.message import Ctx, Reply
from bot.web.auth import sign_init_data
from bot.web.server import WebServer
from core.app import open_service
from core.jobs.job import Request
from core.lang.translate import IdentityTranslator, Translators
from core.service import Service
from tests.fakes import FakeGenerator
from tests.helpers import make_config
from tests.redis_server import free_port

BOT_TOKEN = "123456:TEST-token-for-the-web-tests"
ENGLISH = Translators.single(IdentityTranslator())


@dataclass
class Site:
    service: Service
    base: str
    generator: FakeGenerator

    def request(self, user: str, admin: bool = False, group: bool = False) -> Request:
        return Request(
            "telegram",
            user,
            f"-100{user}" if group else user,
            "",
            language="en",
            is_group=group,
            is_admin=admin,
            meta={"chat_id": int(user)},
        )

    async def command(
        self, user: str, name: str, admin: bool = False, group: bool = False
    ) -> Reply:
        return await commands.run(Ctx(self.service, self.request(user, admin, group)), name)

    async def link(self, user: str, name: str = "panelis", admin: bool = True) -> str:
        reply = await self.command(user, name, admin)
        assert not reply.error, reply.text
        assert reply.preview is False and reply.private
        return str(reply.text.rsplit(" ", 1)[-1])

    async def draw(self, user: str, text: str) -> int:
        reply = await commands.run(Ctx(self.service, self.request(user)), "zime", text)
        assert reply.start is not None, reply.text
        sub = await reply.start({"chat_id": int(user)})
        await asyncio.wait_for(sub.handle.wait(), 20)
        return sub.job_id

    async def finished(self, job_id: int, timeout: float = 20.0) -> Any:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = await self.service.job(job_id)
            if job is not None and job.status in ("done", "failed", "cancelled"):
                return job
            await asyncio.sleep(0.05)
        raise AssertionError(f"job {job_id} did not finish")


def init_data(user_id: int, token: str = BOT_TOKEN, age_s: float = 0.0) -> str:
    """initData as Telegram signs it for a Mini App opened by `user_id`."""
    user = json.dumps({"id": user_id, "first_name": "Anna", "language_code": "lv"})
    fields = {"auth_date": str(int(time.time() - age_s)), "query_id": "AAH", "user": user}
    return sign_init_data(fields, token)


@contextlib.asynccontextmanager
async def site(
    tmp_path: Path, public_url: str = "", **sections: dict[str, Any]
) -> AsyncIterator[Site]:
    port = free_port()
    web = {"enabled": True, "host": "127.0.0.1", "port": port, "public_url": public_url}
    # trained concepts and teaching sessions in the test's folder, never in the checkout
    storage = {
        "adapters": str(tmp_path / "adapters"),
        "concepts": str(tmp_path / "concepts.toml"),
        **sections.pop("storage", {}),
    }
    web.update(sections.pop("web", {}))
    telegram = {"token": BOT_TOKEN, "admins": [1], **sections.pop("telegram", {})}
    cfg = make_config(tmp_path, web=web, telegram=telegram, storage=storage, **sections)
    gen = FakeGenerator()
    async with open_service(cfg, generator=gen, translators=ENGLISH) as svc:
        server = WebServer(svc, cfg)
        await server.start()
        try:
            yield Site(svc, f"http://127.0.0.1:{port}", gen)
        finally:
            await server.stop()
