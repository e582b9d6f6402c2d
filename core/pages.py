"""What the web pages ask of `Service` (issue #23): one-time login links, the user's gallery,
and the operator's dashboard (overview, jobs, flagged images, users, concepts). A mixin of
`Service`, like AdminOps; the web app (bot/web) calls only these and the button registry.
"""

from __future__ import annotations

import asyncio
import json
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.errors import NotFound, WebOff
from core.jobs.job import Job, Request
from core.jobs.queries import UserUsage
from core.jobs.sessions import SessionRecord
from core.lang.prompt import PromptBuilder
from core.logins import ADMIN, SESSION_TTL_S, AuthError, LoginLinks, WebUser

if TYPE_CHECKING:
    from core.config import Config
    from core.jobs.store import Store
    from core.queue.worker import Worker
    from core.train.session import Teaching

# What a job's meta says about where its result goes (a Telegram chat, a Discord channel,
# private or not). A job started on a web page is delivered where its parent was, or in
# private when that was a group.
DELIVERY_KEYS = ("chat_id", "channel_id", "private_result", "is_group")
EVENT_PERIOD_S = 1.0  # a job's event stream: at least one event this often while it waits
FINAL_STATES = ("done", "failed", "cancelled")


@dataclass(frozen=True)
class ConceptInfo:
    """One concept on the dashboard: built in (the fine-tuned model's), installed (trained
    and live), or trained and waiting to be installed (with its contact sheet and scores)."""

    token: str
    name_lv: str
    name_en: str
    state: str  # builtin | installed | trained
    sheet: str = ""  # contact_sheet.png of its training, when it is still on disk
    scores: dict[str, Any] | None = None


def user_of(user: WebUser) -> tuple[str, str]:
    platform, _, user_id = user.user_key.partition(":")
    return platform, user_id


def request_of(user: WebUser) -> Request:
    """A signed-in person as a request: their id, and the admin rights of a dashboard
    session (a gallery session or a Mini App has none)."""
    platform, user_id = user_of(user)
    return Request(platform, user_id, "", "", is_admin=user.scope == ADMIN)


class PageOps:
    config: Config
    store: Store
    worker: Worker
    builder: PromptBuilder
    teaching: Teaching
    logins: LoginLinks

    if TYPE_CHECKING:

        def check_admin(self, request: Request) -> None: ...

        async def reload(self, request: Request, model: str | None = None) -> str: ...

        async def _job_for(self, job_id: int, request: Request) -> Job: ...

        async def settings(self, request: Request) -> dict[str, Any]: ...

        async def grid_image(self, job_id: int, n: int, request: Request) -> tuple[Job, str]: ...

    # signing in
    def _web_base(self) -> str:
        """The base of every link to the pages; WebOff while they are off."""
        if not self.config.web.enabled:
            raise WebOff()
        return self.config.web.base_url

    def login_link(self, request: Request, scope: str, edit: int = 0) -> str:
        """/panelis (scope admin, admins only) and /galerija (scope gallery): a link that
        signs its holder in once, within 10 minutes (`edit`: and opens that picture's region
        editor, /labot)."""
        base = self._web_base()
        if scope == ADMIN:
            self.check_admin(request)
        token = self.logins.issue(WebUser(request.user_key, scope))
        return f"{base}/login/{token}" + (f"?edit={edit}" if edit else "")

    async def job_of_message(self, request: Request, message_id: int) -> Job | None:
        """The job whose result the message `message_id` is, in the request's chat (/labot
        as a reply to a picture)."""
        return await self.store.find_by_meta(
            request.platform, request.chat_id, "result_message", message_id
        )

    def app_url(self) -> str:
        """The gallery as a Telegram Mini App (Telegram opens https bases only)."""
        return f"{self._web_base()}/app"

    async def redeem_login(self, token: str, client: str) -> tuple[WebUser, str]:
        """The user a link was issued to (once) and a new session token for them, recorded
        server-side. Raises AuthError."""
        user = self.logins.redeem(token, client)
        await self.check_web_user(user)
        session = secrets.token_urlsafe(32)
        await self.store.open_session(
            session, user.user_key, user.scope, user.name, client, SESSION_TTL_S
        )
        return user, session

    async def session_user(self, session: str) -> WebUser:
        """Who a session token signs in, while the session is live and its user may still
        use it. Raises AuthError (unknown, ended, expired, banned, no longer an admin)."""
        record = await self.store.session_by_token(session)
        if record is None or not record.live(time.time()):
            raise AuthError("session ended" if record else "unknown session")
        user = WebUser(record.user_key, record.scope, record.name)
        await self.check_web_user(user)
        return user

    async def check_web_user(self, user: WebUser) -> None:
        """A banned user, or a dashboard session of someone the config no longer names an
        admin, is refused, and their sessions end now. Raises AuthError."""
        platform, user_id = user_of(user)
        if user.scope == ADMIN and not self.config.is_admin(platform, user_id):
            await self.store.end_sessions(user_key=user.user_key)
            raise AuthError("not an admin")
        if await self.store.is_banned(platform, user_id):
            await self.store.end_sessions(user_key=user.user_key)
            raise AuthError("banned")

    async def end_session(self, session: str) -> None:
        """Sign-out: the session ends now, whatever its cookie still says."""
        await self.store.end_sessions(token=session)

    async def live_sessions(self, request: Request) -> list[SessionRecord]:
        self.check_admin(request)
        return await self.store.live_sessions()

    async def end_session_by_id(self, request: Request, session_id: int) -> None:
        """ "End" on the dashboard's session list (admins)."""
        self.check_admin(request)
        if not await self.store.end_sessions(session_id=session_id):
            raise NotFound(f"session {session_id}")

    async def web_request(self, user: WebUser, parent: Job | None = None) -> Request:
        """A request on behalf of a signed-in person: their id and language, the admin
        rights of a dashboard session, and the chat of `parent` to deliver a new drawing to."""
        request = request_of(user)
        settings = await self.settings(request)
        language = str(
            settings.get("language") or (parent.meta.get("language") if parent else "") or "lv"
        )
        if parent is None:
            return replace(request, language=language)
        meta = {k: parent.meta[k] for k in DELIVERY_KEYS if k in parent.meta}
        if parent.meta.get("is_group"):
            # Pressed on a web page, not in the group: the user may have left it since, and
            # nobody there asked. The picture goes to the user's private chat instead.
            meta["private_result"] = True
        return replace(
            request,
            chat_id=parent.chat_id,
            language=language,
            is_group=bool(parent.meta.get("is_group")),
            meta=meta,
        )

    # the gallery
    async def gallery(self, user: WebUser, limit: int = 20, before: int | None = None) -> list[Job]:
        platform, user_id = user_of(user)
        return await self.store.user_jobs(platform, user_id, limit, before)

    async def web_job(self, user: WebUser, job_id: int) -> Job:
        """The job, for its owner or a dashboard admin; NotFound for anyone else."""
        return await self._job_for(job_id, request_of(user))

    async def job_events(self, job_id: int) -> AsyncIterator[dict[str, Any]]:
        """A job's state as it changes ({"status", "position", "percent"}), at least once a
        second, until its final state (done, failed or cancelled), which comes last. The
        caller checks the owner first (`web_job`)."""
        while True:
            handle = self.worker.handles.get(job_id)
            if handle is None:  # not in the queue: the record says where it stands
                job = await self.store.get_job(job_id)
                if job is None:
                    return
                status = str(job.status)
                yield {"status": status, "position": None, "percent": 100 if job.image_path else 0}
                if status in FINAL_STATES:
                    return
                await asyncio.sleep(EVENT_PERIOD_S)  # restored after a restart: soon queued
                continue
            state = {
                "status": str(handle.status),
                "position": handle.position,
                "percent": round(handle.progress * 100),
            }
            if handle.finished:  # its record is final once its handle is: read above
                await asyncio.sleep(0.05)
                continue
            yield state
            await handle.wait_changed(EVENT_PERIOD_S)

    async def lineage(self, user: WebUser, job: Job) -> tuple[list[Job], list[Job]]:
        """The job's parents (back to the request that began it) and its children."""
        parents: list[Job] = []
        parent_id = job.parent_id
        while parent_id and len(parents) < 20:
            try:
                parent = await self.web_job(user, parent_id)
            except NotFound:
                break
            parents.append(parent)
            parent_id = parent.parent_id
        return parents, await self.store.children(job.id)

    async def image_path(self, user: WebUser, job_id: int, n: int) -> str:
        """The PNG of a job (n = 0: the picture or grid; 1–4: one image of a grid, as U1–U4
        find it)."""
        if n:
            job, found = await self.grid_image(job_id, n, request_of(user))
        else:
            job = await self.web_job(user, job_id)
            found = job.image_path or ""
        if not found or job.deleted:
            raise NotFound(f"job {job_id} image {n}")
        path = Path(found)
        if not await asyncio.to_thread(path.is_file):
            raise NotFound(f"job {job_id} image {n}")
        return str(path)

    # the dashboard (admins)
    async def dashboard(self, request: Request) -> dict[str, Any]:
        """Queue, runners with their heartbeat, jobs per minute, failures by kind."""
        self.check_admin(request)
        out = await self.store.overview()
        out["queued"] = self.worker.queued_count()
        out["drawing"] = [h.id for h in self.worker.drawing()]
        out["model"] = self.worker.model
        out["paused"] = self.worker.paused
        return out

    async def browse(
        self,
        request: Request,
        status: str = "",
        user_key: str = "",
        limit: int = 50,
        before: int | None = None,
        flagged: bool = False,
    ) -> list[Job]:
        self.check_admin(request)
        return await self.store.browse_jobs(status, user_key, limit, before, flagged)

    async def user_list(
        self, request: Request, limit: int = 100, offset: int = 0
    ) -> list[UserUsage]:
        self.check_admin(request)
        return await self.store.users(limit, offset)

    def concept_list(self, request: Request) -> list[ConceptInfo]:
        """Built-in concepts, installed trained ones, and trainings waiting to be installed."""
        from core.train import install

        self.check_admin(request)
        installed = set(install.installed(self.config))
        out = [
            ConceptInfo(
                c.id,
                c.name_lv,
                c.name_en,
                "installed" if c.id in installed else "builtin",
                *self._training(c.id),
            )
            for c in self.builder.registry
        ]
        known = {c.token for c in out}
        for folder in sorted(self.teaching.root.glob("*/out/*/concept.toml")):
            token = folder.parent.name
            if token not in known:
                import tomllib

                entry = tomllib.loads(folder.read_text(encoding="utf-8"))["concept"][0]
                out.append(
                    ConceptInfo(
                        token,
                        entry.get("name_lv", ""),
                        entry.get("name_en", ""),
                        "trained",
                        *self._training(token),
                    )
                )
        return out

    def _training(self, token: str) -> tuple[str, dict[str, Any] | None]:
        """The contact sheet and scores of a concept's training, when still on disk: the
        chat's training folder, else the installed concept's (install.add keeps them)."""
        folder = self.teaching.root / token / "out" / token
        if not (folder / "scores.json").is_file():
            folder = self.config.path(self.config.storage.adapters) / token
        sheet = folder / "contact_sheet.png"
        scores_file = folder / "scores.json"
        scores = (
            json.loads(scores_file.read_text(encoding="utf-8")) if scores_file.is_file() else None
        )
        return (str(sheet) if sheet.is_file() else "", scores)

    def concept_sheet(self, request: Request, token: str) -> str:
        self.check_admin(request)
        for c in self.concept_list(request):
            if c.token == token and c.sheet:
                return c.sheet
        raise NotFound(f"concept {token}")

    async def install_concept(self, request: Request, token: str) -> None:
        """Install a finished training (as `core concepts add`) and make it live."""
        from core.train import install

        self.check_admin(request)
        folder = self.teaching.root / token / "out" / token
        if not token.isidentifier() or not (folder / "concept.toml").is_file():
            raise NotFound(f"training {token}")
        await asyncio.to_thread(install.add, self.config, folder)
        await self.reload(request)

    async def remove_concept(self, request: Request, token: str) -> None:
        """Remove an installed trained concept (as `core concepts remove`) and reload."""
        from core.train import install

        self.check_admin(request)
        await asyncio.to_thread(install.remove, self.config, token)
        await self.reload(request)
