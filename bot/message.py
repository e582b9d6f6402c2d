"""The platform-neutral reply: what a command or a button answers, before a frontend turns it
into a Telegram message, a Discord response or console lines.

Text is plain (no markup): each renderer escapes or formats it for its platform.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.jobs.job import Request
from core.service import Service, Submitted
from core.train.session import Notify

# A drawing to queue. The frontend first posts its status message, then calls this with the
# delivery details (message ids …) to store with the job, so a restart can still finish it.
Start = Callable[[dict[str, Any]], Awaitable[Submitted]]


@dataclass(frozen=True)
class Button:
    label: str
    data: str = ""  # callback data, from bot.actions.encode
    url: str = ""  # a link button instead (data unused)
    web_app: bool = False  # Telegram: `url` opens as a Mini App (other platforms: a link)
    key: str = ""  # the console's short label to type (🔭: Z), besides the label itself


Rows = tuple[tuple[Button, ...], ...]


@dataclass(frozen=True)
class Picture:
    path: str
    caption: str = ""
    spoiler: bool = False  # a flagged (blurred) picture: hidden until clicked
    document: bool = False  # sent as a file (📄 the PNG), not as a photo
    filename: str = ""


@dataclass(frozen=True)
class Ask:
    """✏️: show the English prompt of a job and take a corrected one as the answer."""

    job_id: int
    prompt: str
    question: str


@dataclass(frozen=True)
class Reply:
    text: str = ""
    pictures: tuple[Picture, ...] = ()
    buttons: Rows = ()
    private: bool = False  # only the asker sees it (Discord: ephemeral)
    start: Start | None = None  # a drawing to queue; `text` is then unused
    ask: Ask | None = None
    notice: bool = False  # a short answer to a button press (a toast), not a new message
    error: bool = False  # `text` is an error sentence (an alert under a button)
    remove: bool = False  # the message whose button was pressed goes away (🗑)
    edit: bool = False  # this replaces the message whose button was pressed (settings)
    preview: bool = True  # False: no link preview (a one-time login link must not be fetched)

    def labels(self) -> list[str]:
        return [b.label for row in self.buttons for b in row]


@dataclass(frozen=True)
class Ctx:
    """Who asks, through which frontend: every command and button runs with one."""

    service: Service
    request: Request  # built by the frontend from its platform event
    # Photo → picture: fetches the user's photo once the status message is up.
    photo: Callable[[], Awaitable[bytes]] | None = None
    # Where a long task's news goes (a training's progress and contact sheet): the chat
    # the command came from, as the frontend posts there.
    news: Notify | None = None

    @property
    def lang(self) -> str:
        return self.request.language


def read_image(path: str | None) -> bytes | None:
    """A picture's PNG bytes, or None when it is gone (🗑, retention). Blocking: call it
    off the event loop."""
    if not path or not Path(path).is_file():
        return None
    return Path(path).read_bytes()


async def download(url: str, limit: int, reported_size: int | None = None) -> bytes:
    """A user's file from its platform URL, refused as too big by the size the platform
    reported (`reported_size`) and by its Content-Length before anything is read, and while
    streaming past `limit` (either may lie or be absent). Network faults are raised as
    ConnectionError (worth retrying); a refusal is BadPhoto."""
    import httpx

    from core.errors import BadPhoto

    if reported_size and reported_size > limit:
        raise BadPhoto("too_big")
    try:
        async with (
            httpx.AsyncClient(timeout=30, follow_redirects=True) as client,
            client.stream("GET", url) as response,
        ):
            if response.status_code in (404, 410):
                raise BadPhoto("unreadable")
            response.raise_for_status()
            size = response.headers.get("content-length", "")
            if size.isdigit() and int(size) > limit:
                raise BadPhoto("too_big")
            data = bytearray()
            async for chunk in response.aiter_bytes():
                data += chunk
                if len(data) > limit:
                    raise BadPhoto("too_big")
            return bytes(data)
    except httpx.HTTPStatusError as exc:
        raise BadPhoto("unreadable") from exc
    except httpx.HTTPError as exc:  # a timeout or a dropped connection: worth retrying
        raise ConnectionError(f"download failed: {type(exc).__name__}") from exc
