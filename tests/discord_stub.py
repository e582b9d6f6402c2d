"""A small stand-in for Discord's REST API and gateway on 127.0.0.1, for end-to-end tests.

REST: the routes the bot uses (login, application info, command sync, interaction callbacks,
webhook edits/followups, channel messages). Gateway: HELLO → IDENTIFY → READY, heartbeat
ACKs, and `dispatch()` of events such as INTERACTION_CREATE. Every REST call is recorded.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import BodyPartReader, WSMsgType, web

APP_ID = "4242"
BOT = {
    "id": APP_ID,
    "username": "zime",
    "discriminator": "0",
    "avatar": None,
    "bot": True,
    "global_name": "Zīme",
}


@dataclass
class Call:
    method: str
    path: str
    body: dict[str, Any]
    files: dict[str, bytes] = field(default_factory=dict)
    at: float = field(default_factory=time.monotonic)


def user(user_id: int) -> dict[str, Any]:
    return {
        "id": str(user_id),
        "username": f"u{user_id}",
        "discriminator": "0",
        "avatar": None,
        "global_name": f"U{user_id}",
    }


class DiscordStub:
    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.ids = itertools.count(10_000)
        self.sockets: list[web.WebSocketResponse] = []
        self.ready = asyncio.Event()
        self.changed = asyncio.Event()
        self.seq = itertools.count(2)
        self.runner: web.AppRunner | None = None
        self.port = 0
        self.interactions: dict[str, float] = {}  # token -> when dispatched
        self.attachments: dict[str, bytes] = {}  # attachment id -> bytes, served like the CDN

    async def start(self) -> None:
        app = web.Application(client_max_size=50 * 1024 * 1024)
        app.router.add_get("/gateway", self._gateway)
        app.router.add_route("*", "/api/v10/{path:.*}", self._rest)
        app.router.add_get("/attachments/{id}/{name}", self._attachment)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        server: Any = site._server
        self.port = server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        for ws in self.sockets:
            with contextlib.suppress(Exception):
                await ws.close()
        if self.runner is not None:
            await self.runner.cleanup()

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v10"

    @property
    def gateway(self) -> str:
        return f"ws://127.0.0.1:{self.port}/gateway"

    # gateway
    async def _gateway(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.sockets.append(ws)
        await ws.send_str(json.dumps({"op": 10, "d": {"heartbeat_interval": 30000}}))
        async for msg in ws:
            if msg.type != WSMsgType.TEXT:
                continue
            payload = json.loads(msg.data)
            if payload["op"] == 1:
                await ws.send_str(json.dumps({"op": 11}))
            elif payload["op"] == 2:
                ready = {
                    "v": 10,
                    "user": BOT,
                    "guilds": [],
                    "session_id": "sess",
                    "resume_gateway_url": self.gateway,
                    "application": {"id": APP_ID, "flags": 0},
                }
                await ws.send_str(json.dumps({"op": 0, "t": "READY", "s": 1, "d": ready}))
                self.ready.set()
        return ws

    async def dispatch(self, event: str, data: dict[str, Any]) -> None:
        ws = self.sockets[-1]
        await ws.send_str(json.dumps({"op": 0, "t": event, "s": next(self.seq), "d": data}))

    async def slash(
        self,
        name: str,
        options: dict[str, str | int | float | bool] | None = None,
        user_id: int = 1,
        guild_id: int | None = 77,
        channel_id: int = 500,
        locale: str = "lt",
        nsfw: bool = False,
        attachment: tuple[str, bytes] | None = None,
        reported_size: int | None = None,
    ) -> str:
        """Dispatch a slash command interaction; returns its token. `attachment`: (option
        name, file bytes), resolved as Discord does and served at its URL; its size as
        Discord reports it is `reported_size` (default: the true size)."""
        token = f"tok-{next(self.ids)}"
        # option types as Discord sends them: string 3, integer 4, boolean 5, number 10
        kinds = {bool: 5, int: 4, float: 10, str: 3}
        opts: list[dict[str, Any]] = [
            {"name": k, "type": kinds[type(v)], "value": v} for k, v in (options or {}).items()
        ]
        data: dict[str, Any] = {"id": str(next(self.ids)), "name": name, "type": 1, "options": opts}
        if attachment is not None:
            aid = str(next(self.ids))
            self.attachments[aid] = attachment[1]
            url = f"http://127.0.0.1:{self.port}/attachments/{aid}/photo.jpg"
            opts.append({"name": attachment[0], "type": 11, "value": aid})
            data["resolved"] = {
                "attachments": {
                    aid: {
                        "id": aid,
                        "filename": "photo.jpg",
                        "size": reported_size or len(attachment[1]),
                        "url": url,
                        "proxy_url": url,
                        "content_type": "image/jpeg",
                    }
                }
            }
        await self._interaction(2, data, token, user_id, guild_id, channel_id, locale, nsfw)
        return token

    async def click(
        self,
        custom_id: str,
        user_id: int = 1,
        guild_id: int | None = 77,
        channel_id: int = 500,
        locale: str = "en-US",
    ) -> str:
        token = f"tok-{next(self.ids)}"
        data = {"custom_id": custom_id, "component_type": 2}
        message = self._message(str(channel_id), "picture")
        # the clicked button must be on the message, as on Discord
        message["components"] = [
            {
                "type": 1,
                "components": [{"type": 2, "style": 2, "custom_id": custom_id, "label": "button"}],
            }
        ]
        await self._interaction(
            3, data, token, user_id, guild_id, channel_id, locale, False, message=message
        )
        return token

    async def submit_modal(
        self,
        custom_id: str,
        values: dict[str, str],
        user_id: int = 1,
        guild_id: int | None = 77,
        channel_id: int = 500,
        locale: str = "en-US",
    ) -> str:
        """A modal submitted with these text input values (custom id -> value)."""
        token = f"tok-{next(self.ids)}"
        data = {
            "custom_id": custom_id,
            "components": [
                {"type": 1, "components": [{"type": 4, "custom_id": k, "value": v}]}
                for k, v in values.items()
            ],
        }
        await self._interaction(5, data, token, user_id, guild_id, channel_id, locale, False)
        return token

    async def _interaction(
        self,
        kind: int,
        data: dict[str, Any],
        token: str,
        user_id: int,
        guild_id: int | None,
        channel_id: int,
        locale: str,
        nsfw: bool,
        message: dict[str, Any] | None = None,
    ) -> None:
        channel: dict[str, Any] = {
            "id": str(channel_id),
            "type": 0 if guild_id else 1,
            "name": "zimejumi",
            "nsfw": nsfw,
            "position": 0,
            "permission_overwrites": [],
        }
        payload: dict[str, Any] = {
            "id": str(next(self.ids)),
            "application_id": APP_ID,
            "type": kind,
            "data": data,
            "channel_id": str(channel_id),
            "channel": channel,
            "token": token,
            "version": 1,
            "locale": locale,
            "app_permissions": "0",
            "entitlements": [],
            "authorizing_integration_owners": {},
            "context": 0 if guild_id else 1,
            "attachment_size_limit": 25 * 1024 * 1024,
        }
        if guild_id:
            channel["guild_id"] = str(guild_id)
            payload["guild_id"] = str(guild_id)
            payload["member"] = {
                "user": user(user_id),
                "roles": [],
                "deaf": False,
                "mute": False,
                "joined_at": "2024-01-01T00:00:00+00:00",
                "permissions": "0",
                "flags": 0,
            }
        else:
            payload["user"] = user(user_id)
        if message is not None:
            payload["message"] = message
        self.interactions[token] = time.monotonic()
        await self.dispatch("INTERACTION_CREATE", payload)

    # REST
    def _message(self, channel_id: str, content: str, attachments: int = 0) -> dict[str, Any]:
        return {
            "id": str(next(self.ids)),
            "channel_id": channel_id,
            "author": BOT,
            "content": content,
            "timestamp": "2026-01-01T00:00:00+00:00",
            "edited_timestamp": None,
            "tts": False,
            "mention_everyone": False,
            "mentions": [],
            "mention_roles": [],
            "embeds": [],
            "pinned": False,
            "type": 0,
            "flags": 0,
            "components": [],
            "attachments": [
                {
                    "id": str(next(self.ids)),
                    "filename": "zime.png",
                    "size": 1,
                    "url": f"http://127.0.0.1/att/{i}.png",
                    "proxy_url": "x",
                }
                for i in range(attachments)
            ],
        }

    async def _attachment(self, request: web.Request) -> web.Response:
        self.calls.append(Call("GET", f"/attachments/{request.match_info['id']}", {}, {}))
        return web.Response(body=self.attachments.get(request.match_info["id"], b""))

    async def _rest(self, request: web.Request) -> web.StreamResponse:
        path = "/" + request.match_info["path"]
        body: dict[str, Any] = {}
        files: dict[str, bytes] = {}
        if request.content_type == "application/json":
            data = await request.json()
            body = data if isinstance(data, dict) else {"__list__": data}
        elif request.content_type.startswith("multipart/"):
            reader = await request.multipart()
            async for part in reader:
                if not isinstance(part, BodyPartReader):
                    continue
                if part.name == "payload_json":
                    body = json.loads(await part.text())
                elif part.name:
                    files[part.name] = bytes(await part.read())
        self.calls.append(Call(request.method, path, body, files))
        self.changed.set()
        # discord.py parses JSON only for exactly "application/json" (no charset suffix)
        data = json.dumps(self._answer(request.method, path, body, files)).encode()
        return web.Response(body=data, headers={"Content-Type": "application/json"})

    def _answer(self, method: str, path: str, body: dict[str, Any], files: dict[str, bytes]) -> Any:
        if path == "/users/@me":
            return BOT
        if path == "/oauth2/applications/@me":
            return {
                "id": APP_ID,
                "name": "Zīme",
                "icon": None,
                "description": "",
                "rpc_origins": [],
                "bot_public": True,
                "bot_require_code_grant": False,
                "owner": user(1),
                "team": None,
                "verify_key": "k",
                "flags": 0,
                "summary": "",
            }
        if path.endswith("/commands"):
            return [
                {
                    **c,
                    "id": str(next(self.ids)),
                    "application_id": APP_ID,
                    "version": "1",
                    "type": c.get("type", 1),
                    "default_member_permissions": None,
                }
                for c in body.get("__list__", [])
            ]
        if path.endswith("/callback"):
            iid = path.split("/")[2]
            return {
                "interaction": {"id": iid, "type": 2, "response_message_loading": True},
                "resource": {"type": body.get("type", 5)},
            }
        if path.startswith(("/webhooks/", "/channels/")):
            channel = path.split("/")[2] if path.startswith("/channels/") else "500"
            return self._message(channel, body.get("content") or "", attachments=len(files))
        return {}

    def sent(self, method: str, path_part: str) -> list[Call]:
        return [c for c in self.calls if c.method == method and path_part in c.path]

    async def wait_for(
        self,
        method: str,
        path_part: str,
        count: int = 1,
        timeout: float = 30,
        content: str | None = None,
    ) -> list[Call]:
        deadline = time.monotonic() + timeout
        while True:
            found = [
                c
                for c in self.sent(method, path_part)
                if content is None or content in str(c.body.get("content"))
            ]
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                last = [(c.method, c.path, c.body) for c in self.calls[-8:]]
                raise AssertionError(f"no {count}x {method} {path_part} {content!r}; last: {last}")
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), 0.2)
