"""A small stand-in for the Telegram Bot API on 127.0.0.1, for end-to-end tests.

It answers the methods the bot uses with realistic objects, serves injected updates through
long-polling `getUpdates`, and records every call so tests can assert what the bot sent.
The bot under test may run in the test's process or as a subprocess (`python -m bot`).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

BOT_USER = {
    "id": 999,
    "is_bot": True,
    "first_name": "Zīme",
    "username": "zime_test_bot",
    "can_join_groups": True,
    "can_read_all_group_messages": False,
    "supports_inline_queries": True,
}


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    files: dict[str, bytes] = field(default_factory=dict)


class TelegramStub:
    def __init__(self) -> None:
        self.calls: list[Call] = []
        self.updates: list[dict[str, Any]] = []
        self._new_update = asyncio.Event()
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1000)
        self._file_ids = itertools.count(1)
        self.fail_next: dict[str, int] = {}  # method -> how many calls answer 502
        self.served: dict[str, int] = {}  # file id -> bytes of it written to the client
        self.file_headers = True
        # method -> errors to answer, in order: (HTTP code, description, retry_after)
        self.errors: dict[str, list[tuple[int, str, int | None]]] = {}
        self.files: dict[str, bytes] = {}  # file_id -> bytes, served like the Bot API does
        self.messages: list[dict[str, Any]] = []  # what sendMessage answered, in order
        self.photos: list[dict[str, Any]] = []  # what sendPhoto answered, in order
        self.webhook: tuple[str, str] | None = None  # setWebhook's url and secret_token
        self.webhook_answers: list[int] = []  # the bot's HTTP status for each posted update
        self._posting: set[asyncio.Task[int]] = set()
        self.runner: web.AppRunner | None = None
        self.port = 0
        self.changed = asyncio.Event()

    # server
    async def start(self, port: int = 0) -> str:
        app = web.Application(client_max_size=50 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._handle)
        app.router.add_get("/file/bot{token}/{path:.*}", self._file)
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", port)
        await site.start()
        server: Any = site._server
        self.port = server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{self.port}/bot"

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()

    # test helpers
    def fail(
        self,
        method: str,
        code: int,
        description: str,
        times: int = 1,
        retry_after: int | None = None,
    ) -> None:
        """Answer the next `times` calls of `method` with a Bot API error."""
        self.errors.setdefault(method, []).extend([(code, description, retry_after)] * times)

    confirmed = 0  # the highest getUpdates offset seen: updates below it are done

    def inject(self, update: dict[str, Any]) -> dict[str, Any]:
        """A user's update: kept for getUpdates, or posted to the webhook when one is set
        (as Telegram does, with the secret given to setWebhook in its header)."""
        update = {"update_id": next(self._update_ids), **update}
        if self.webhook is not None:
            task = asyncio.ensure_future(self.post_update(update))
            self._posting.add(task)
            task.add_done_callback(self._posting.discard)
            return update
        self.updates.append(update)
        self._new_update.set()
        return update

    async def post_update(self, update: dict[str, Any], secret: str | None = None) -> int:
        """POST an update to the webhook; returns the HTTP status the bot answered."""
        import aiohttp

        assert self.webhook is not None, "no webhook is set"
        url, real = self.webhook
        headers = {"X-Telegram-Bot-Api-Secret-Token": real if secret is None else secret}
        async with (
            aiohttp.ClientSession() as session,
            session.post(url, json=update, headers=headers) as response,
        ):
            self.webhook_answers.append(response.status)
            return response.status

    def send_photo(self, data: bytes, caption: str, user_id: int = 1, size: int = 0) -> int:
        """Inject a user's photo with a caption; returns its message_id."""
        photo = {"width": 640, "height": 480, "file_size": size or len(data)}
        return self._send_file(data, caption, user_id, "photo", photo)

    def send_document(self, data: bytes, caption: str, user_id: int = 1) -> int:
        """Inject a user's file sent as a document, with a caption; returns its message_id."""
        document = {"file_name": "picture.png", "file_size": len(data)}
        return self._send_file(data, caption, user_id, "document", document)

    def _send_file(
        self, data: bytes, caption: str, user_id: int, kind: str, about: dict[str, Any]
    ) -> int:
        file_id = f"upload-{len(self.files) + 1}"
        self.files[file_id] = data
        message_id = next(self._message_ids)
        entities = []
        if caption.startswith("/"):
            entities = [{"type": "bot_command", "offset": 0, "length": len(caption.split()[0])}]
        media = {"file_id": file_id, "file_unique_id": file_id, **about}
        self.inject(
            {
                "message": {
                    "message_id": message_id,
                    "date": int(time.time()),
                    "chat": {"id": user_id, "type": "private"},
                    "from": self.user(user_id),
                    kind: [media] if kind == "photo" else media,
                    "caption": caption,
                    "caption_entities": entities,
                }
            }
        )
        return message_id

    async def _file(self, request: web.Request) -> web.StreamResponse:
        """The file in 1 MB writes; `served` counts the bytes the client took, so a test sees
        where a download stopped. `file_headers=False` leaves the Content-Length out."""
        file_id = request.match_info["path"].split("/")[-1].split(".")[0]
        self.calls.append(Call("file", {"path": request.match_info["path"]}, {}))
        data = self.files.get(file_id, b"")
        response = web.StreamResponse()
        if self.file_headers:
            response.content_length = len(data)
        await response.prepare(request)
        step = 1 << 20
        for start in range(0, len(data), step):
            try:
                await response.write(data[start : start + step])
            except (ConnectionError, RuntimeError):
                return response
            self.served[file_id] = start + len(data[start : start + step])
        await response.write_eof()
        return response

    def send_text(
        self,
        text: str,
        user_id: int = 1,
        chat_id: int | None = None,
        chat_type: str = "private",
        language: str = "lv",
        reply_to: dict[str, Any] | None = None,
    ) -> int:
        """Inject a user's message (`reply_to`: a message it replies to); returns its
        message_id."""
        message_id = next(self._message_ids)
        entities = []
        if text.startswith("/"):
            entities = [{"type": "bot_command", "offset": 0, "length": len(text.split()[0])}]
        chat = {"id": chat_id if chat_id is not None else user_id, "type": chat_type}
        if chat_type != "private":
            chat["title"] = "Grupa"
        self.inject(
            {
                "message": {
                    "message_id": message_id,
                    "date": int(time.time()),
                    "chat": chat,
                    "from": self.user(user_id, language),
                    "text": text,
                    "entities": entities,
                    **({"reply_to_message": reply_to} if reply_to else {}),
                }
            }
        )
        return message_id

    def press(self, data: str, message: dict[str, Any], user_id: int = 1) -> None:
        self.inject(
            {
                "callback_query": {
                    "id": str(next(self._message_ids)),
                    "from": self.user(user_id),
                    "chat_instance": "ci",
                    "data": data,
                    "message": message,
                }
            }
        )

    @staticmethod
    def user(user_id: int, language: str = "lv") -> dict[str, Any]:
        return {
            "id": user_id,
            "is_bot": False,
            "first_name": f"U{user_id}",
            "language_code": language,
        }

    def sent(self, method: str, **match: Any) -> list[Call]:
        return [
            c
            for c in self.calls
            if c.method == method and all(c.params.get(k) == v for k, v in match.items())
        ]

    async def wait_for(
        self, method: str, count: int = 1, timeout: float = 30, **match: Any
    ) -> list[Call]:
        deadline = time.monotonic() + timeout
        while len(self.sent(method, **match)) < count:
            if time.monotonic() > deadline:
                seen = [(c.method, c.params) for c in self.calls[-10:]]
                raise AssertionError(f"no {count}x {method} {match} in {timeout}s; last: {seen}")
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), 0.2)
        return self.sent(method, **match)

    async def wait_for_text(
        self, method: str, needle: str, timeout: float = 30, **match: Any
    ) -> Call:
        """The first `method` call whose text contains `needle`."""
        deadline = time.monotonic() + timeout
        while True:
            found = [c for c in self.sent(method, **match) if needle in str(c.params.get("text"))]
            if found:
                return found[0]
            if time.monotonic() > deadline:
                seen = [(c.method, c.params) for c in self.calls[-10:]]
                raise AssertionError(f"no {method} with {needle!r} in {timeout}s; last: {seen}")
            self.changed.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.changed.wait(), 0.2)

    # protocol
    def _message(self, chat_id: Any, **extra: Any) -> dict[str, Any]:
        return {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": {"id": int(chat_id), "type": "private" if int(chat_id) > 0 else "group"},
            "from": BOT_USER,
            **extra,
        }

    def _photo(self) -> list[dict[str, Any]]:
        n = next(self._file_ids)
        return [{"file_id": f"photo-{n}", "file_unique_id": f"u{n}", "width": 64, "height": 64}]

    async def _handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params: dict[str, Any] = {}
        files: dict[str, bytes] = {}
        if request.content_type == "application/json":
            params = await request.json()
        elif request.can_read_body:
            form = await request.post()
            for key, value in form.items():
                if hasattr(value, "file"):
                    files[key] = value.file.read()
                    value.file.close()
                    continue
                try:
                    params[key] = json.loads(str(value))
                except ValueError:
                    params[key] = value
        if method == "getUpdates":
            return await self._get_updates(params)
        self.calls.append(Call(method, params, files))
        self.changed.set()
        queued = self.errors.get(method)
        if queued:
            code, description, retry_after = queued.pop(0)
            body: dict[str, Any] = {"ok": False, "error_code": code, "description": description}
            if retry_after is not None:
                body["parameters"] = {"retry_after": retry_after}
            return web.json_response(body, status=code)
        if self.fail_next.get(method, 0) > 0:
            self.fail_next[method] -= 1
            return web.json_response(
                {"ok": False, "error_code": 502, "description": "Bad Gateway"}, status=502
            )
        return web.json_response({"ok": True, "result": self._result(method, params)})

    def _result(self, method: str, p: dict[str, Any]) -> Any:
        if method == "getMe":
            return BOT_USER
        if method == "setWebhook":
            self.webhook = (p["url"], p.get("secret_token", ""))
            return True
        if method == "deleteWebhook":
            self.webhook = None
            return True
        if method == "sendMessage":
            sent = self._message(p["chat_id"], text=p.get("text", ""))
            self.messages.append(sent)
            return sent
        if method == "sendPhoto":
            sent = self._message(p["chat_id"], photo=self._photo(), caption=p.get("caption"))
            self.photos.append(sent)
            return sent
        if method == "getFile":
            fid = p["file_id"]
            return {
                "file_id": fid,
                "file_unique_id": fid,
                "file_size": len(self.files.get(fid, b"")),
                "file_path": f"photos/{fid}.jpg",
            }
        if method == "sendDocument":
            n = next(self._file_ids)
            return self._message(
                p["chat_id"], document={"file_id": f"doc-{n}", "file_unique_id": f"d{n}"}
            )
        if method == "editMessageText":
            if "inline_message_id" in p:
                return True
            return self._message(p["chat_id"], text=p.get("text", ""))
        return True

    async def _get_updates(self, params: dict[str, Any]) -> web.Response:
        offset = int(params.get("offset") or 0)
        if offset:  # as Telegram: a higher offset confirms the earlier updates, which go away
            self.confirmed = max(self.confirmed, offset)
        offset = max(offset, self.confirmed)  # a restarted bot is not sent them again
        timeout = float(params.get("timeout") or 0)
        deadline = time.monotonic() + min(timeout, 2.0)
        while True:
            pending = [u for u in self.updates if u["update_id"] >= offset]
            if pending or time.monotonic() >= deadline:
                return web.json_response({"ok": True, "result": pending})
            self._new_update.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._new_update.wait(), max(0.01, deadline - time.monotonic())
                )
