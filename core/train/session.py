"""Teaching a concept from the chat (admins): `/macies TOKEN klase Latviskais nosaukums`,
4–20 photos, `/gatavs`; then `/pievienot TOKEN` or `/atmest TOKEN`.

Photos are kept on disk as they arrive (nothing an admin sent is lost). The training runs
on this process's GPU when no drawing job waits, and between its steps it pauses while
drawing jobs wait or draw: users never wait for a training."""

from __future__ import annotations

import asyncio
import json
import logging
import shutil
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.config import Config
from core.errors import N_, NotAdmin, TrainError
from core.train.photos import MIN_PHOTOS

log = logging.getLogger("zime.teach")

MAX_PHOTOS = 20
Notify = Callable[[str, dict[str, object]], Coroutine[Any, Any, None]]  # (event, details)
Busy = Callable[[], bool]  # drawing jobs wait or draw: the training pauses


@dataclass
class Session:
    token: str
    cls: str
    name_lv: str
    folder: Path
    photos: list[str] = field(default_factory=list)
    state: str = "collecting"  # collecting | training | trained | failed

    def save(self) -> None:
        (self.folder / "session.json").write_text(
            json.dumps(
                {
                    "token": self.token,
                    "cls": self.cls,
                    "name_lv": self.name_lv,
                    "photos": self.photos,
                    "state": self.state,
                },
                ensure_ascii=False,
            )
        )


class Teaching:
    def __init__(self, config: Config, busy: Busy) -> None:
        self.config = config
        self.busy = busy
        self.root = config.path(config.storage.adapters).parent / "teaching"
        self.sessions: dict[str, Session] = {}  # by the admin's user key
        self.tasks: set[asyncio.Task[None]] = set()
        self._adding = threading.Lock()  # photos are added from threads

    def _session(self, admin: str) -> Session:
        session = self.sessions.get(admin)
        if session is None:
            raise TrainError(
                N_("no concept is being taught: start with /macies TOKEN klase Nosaukums")
            )
        return session

    def start(self, admin: str, is_admin: bool, args: list[str], known: set[str]) -> Session:
        from core.train.run import check_token

        if not is_admin:
            raise NotAdmin()
        if len(args) < 3:
            raise TrainError(
                N_(
                    "usage: /macies TOKEN klase Latviskais nosaukums, e.g. "
                    "/macies rigasdoms building Rīgas Doms"
                )
            )
        token, cls, name = args[0].lower(), args[1], " ".join(args[2:])
        check_token(token, known)
        folder = self.root / token
        shutil.rmtree(folder, ignore_errors=True)
        (folder / "photos").mkdir(parents=True)
        session = Session(token, cls, name, folder)
        session.save()
        self.sessions[admin] = session
        return session

    def collecting(self, admin: str) -> bool:
        session = self.sessions.get(admin)
        return session is not None and session.state == "collecting"

    def room(self, admin: str) -> None:
        """Raise TrainError when the session takes no more photos."""
        session = self._session(admin)
        if len(session.photos) >= MAX_PHOTOS:
            raise TrainError(N_("{most} photos are enough: send /gatavs"), most=MAX_PHOTOS)

    def add_photo(self, admin: str, image: Any) -> int:
        """Keep one decoded photo (validated like any user photo: Service.decode_photo);
        returns how many there are. Photos arriving at once are kept one at a time, so the
        limit holds: the ones past it are refused."""
        with self._adding:
            self.room(admin)
            session = self._session(admin)
            name = f"photo-{len(session.photos) + 1:02d}.png"
            image.save(session.folder / "photos" / name)
            session.photos.append(name)
            session.save()
            return len(session.photos)

    def ready(self, admin: str, known: dict[str, str], notify: Notify) -> Session:
        """Queue the training; `notify` hears "progress", "done" and "failed"."""
        session = self._session(admin)
        if self.config.queue.backend != "local" or self.config.queue.isolate:
            raise TrainError(
                N_(
                    "teaching from the chat needs the model in this process "
                    "([queue] backend = local): use `python -m core train` on a "
                    "GPU"
                )
            )
        if len(session.photos) < MIN_PHOTOS:
            raise TrainError(
                N_("{count} photo(s) so far; send at least {least}"),
                count=len(session.photos),
                least=MIN_PHOTOS,
            )
        if session.state == "training":
            raise TrainError(N_("this concept is already training"))
        session.state = "training"
        session.save()
        task = asyncio.create_task(self._train(session, known, notify))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)
        return session

    async def _train(self, session: Session, known: dict[str, str], notify: Notify) -> None:
        from core.train.run import TrainRequest, train

        loop = asyncio.get_running_loop()
        last = [0.0]

        def report(line: str) -> None:  # from the training thread
            if time.monotonic() - last[0] > 5 or line.startswith("chose"):
                last[0] = time.monotonic()
                asyncio.run_coroutine_threadsafe(notify("progress", {"text": line}), loop)

        def pause() -> None:  # between steps: drawing jobs first
            while self.busy():
                time.sleep(0.2)

        await asyncio.to_thread(pause)  # it starts when no drawing job waits
        req = TrainRequest(
            session.folder / "photos",
            session.token,
            session.cls,
            session.name_lv,
            out=session.folder / "out",
            class_images=self.config.training.prior_images,
        )
        try:
            target = await asyncio.to_thread(train, self.config, req, known, report, pause)
        except Exception as exc:
            log.exception("teaching %s failed", session.token)
            session.state = "failed"
            session.save()
            await notify("failed", {"token": session.token, "error": exc})
            return
        session.state = "trained"
        session.save()
        scores = json.loads((target / "scores.json").read_text(encoding="utf-8"))
        await notify(
            "done",
            {"token": session.token, "sheet": str(target / "contact_sheet.png"), "scores": scores},
        )

    def accept(self, admin: str, token: str) -> Path:
        """The trained OUT/TOKEN to install (/pievienot)."""
        session = self._session(admin)
        if session.token != token or session.state != "trained":
            raise TrainError(N_("{token} is not a finished training of yours"), token=token)
        del self.sessions[admin]
        return session.folder / "out" / token

    def discard(self, admin: str, token: str) -> None:
        """/atmest: forget the session and its files."""
        session = self._session(admin)
        if session.token != token:
            raise TrainError(N_("{token} is not being taught by you"), token=token)
        if session.state == "training":
            raise TrainError(N_("wait until the training ends, then /atmest"))
        del self.sessions[admin]
        shutil.rmtree(session.folder, ignore_errors=True)
