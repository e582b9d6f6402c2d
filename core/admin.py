"""What admins may do (statistics, the queue and runners, reload, bans, teaching a concept
from the chat): a mixin of `Service`. Each checks `is_admin` first."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from core.errors import N_, BadArgument, NotAdmin, UnknownModel, UnknownUser
from core.jobs.job import Request, RunnerInfo
from core.lang.prompt import PromptBuilder
from core.train.session import Notify, Session, Teaching

if TYPE_CHECKING:
    from core.config import Config
    from core.draw.models import Catalogue
    from core.jobs.store import Store
    from core.queue.worker import Worker


@dataclass(frozen=True)
class ModelQueue:
    """One model's line in /rinda and on the dashboard."""

    model: str
    queued: int
    drawing: int
    runners: list[str]  # live ones serving it
    loaded_on: list[str]
    paused: bool  # its jobs wait: no live runner serves it (or drawing is paused)


MODEL_NAME_MAX = 255  # a hub id or a folder name; a longer one is no file name either


def model_name_ok(model: str) -> bool:
    """A model a reload may name: a hub id or a path of printable characters, not too long
    for a file name (the OS refuses longer ones with an error of its own)."""
    return 0 < len(model) <= MODEL_NAME_MAX and model.isprintable() and "\x00" not in model


class AdminOps:
    config: Config
    catalogue: Catalogue
    model_names: Callable[[], list[str]]  # ModelOps'
    store: Store
    worker: Worker
    builder: PromptBuilder
    teaching: Teaching
    decode_photo: Callable[[bytes], Awaitable[Any]]  # Service's, with its concurrency cap

    def check_admin(self, request: Request) -> None:
        if not request.is_admin:
            raise NotAdmin(request.user_key)

    async def stats(self, request: Request) -> dict[str, Any]:
        self.check_admin(request)
        out = await self.store.stats()
        out["queued"] = self.worker.queued_count()
        out["model"] = self.worker.model
        out["runners"] = self.worker.runners()
        return out

    def runners(self, request: Request) -> list[RunnerInfo]:
        """The GPU runners (one, "local", without Redis): name, device, model, state."""
        self.check_admin(request)
        return self.worker.runners()

    def queue(self, request: Request) -> list[tuple[int, str, str, str]]:
        """The queued jobs in drawing order: id, user, prompt, model."""
        self.check_admin(request)
        return [
            (h.id, h.job.user_key, h.job.params.prompt, h.job.params.model)
            for h in self.worker.order()
        ]

    def model_queues(self, request: Request) -> list[ModelQueue]:
        """Per catalogue model (and any other a job names): queued and drawing jobs, the
        live runners serving it and those that have it loaded. /rinda and the dashboard."""
        self.check_admin(request)
        live = [r for r in self.worker.runners() if not r.down]
        names = dict.fromkeys(
            [*self.model_names(), *(h.job.params.model for h in self.worker.order())]
        )
        out = []
        for name in names:
            queued = sum(1 for h in self.worker.order() if h.job.params.model == name)
            drawing = sum(1 for h in self.worker.drawing() if h.job.params.model == name)
            out.append(
                ModelQueue(
                    name,
                    queued,
                    drawing,
                    [r.name for r in live if name in r.served or not r.served],
                    [r.name for r in live if name in r.loaded],
                    self.worker.paused_for(name),
                )
            )
        return out

    async def reload(self, request: Request, model: str | None = None) -> str:
        """Reload the image model (and its concept adapters) and the concept registry: a
        concept installed with `core concepts add` is live after this."""
        self.check_admin(request)
        from core.lang.concepts import ConceptRegistry

        if model is not None and not model_name_ok(model):
            raise BadArgument(
                "/reload", N_("a model name or folder"), "/reload minusthousand/lv-sb"
            )

        if model is not None:  # a catalogue name or alias (one model: a path to load it from)
            model = self.catalogue.resolve_or(model)
            if model not in self.catalogue and len(self.model_names()) > 1:
                raise UnknownModel(model, self.catalogue.closest(model))
        extra = self.config.path(self.config.storage.concepts)
        registry = await asyncio.to_thread(ConceptRegistry.load, None, extra)
        loaded = await self.worker.reload(model)
        self.builder.registry = registry
        return loaded

    # teaching a concept from the chat (admins; core/train/session.py)
    def teach_start(self, request: Request, args: list[str]) -> Session:
        known = {c.id for c in self.builder.registry}
        return self.teaching.start(request.user_key, request.is_admin, args, known)

    def teaching_open(self, request: Request) -> bool:
        """The admin is sending photos for a concept: a photo without /zime is one of them."""
        return request.is_admin and self.teaching.collecting(request.user_key)

    async def teach_photo(self, request: Request, data: bytes) -> int:
        self.check_admin(request)
        self.teaching.room(request.user_key)  # refused before decoding when already full
        image = await self.decode_photo(data)
        return await asyncio.to_thread(self.teaching.add_photo, request.user_key, image)

    def teach_ready(self, request: Request, notify: Notify) -> Session:
        self.check_admin(request)
        known = {c.id: f"a photo of {c.phrase}" for c in self.builder.registry}
        return self.teaching.ready(request.user_key, known, notify)

    async def teach_accept(self, request: Request, token: str) -> str:
        """/pievienot: install the trained concept and make it live (a reload)."""
        from core.train import install

        self.check_admin(request)
        trained = self.teaching.accept(request.user_key, token)
        await asyncio.to_thread(install.add, self.config, trained)
        await self.reload(request)
        return token

    def teach_discard(self, request: Request, token: str) -> None:
        self.check_admin(request)
        self.teaching.discard(request.user_key, token)

    async def set_banned(
        self, request: Request, platform: str, user_id: str, banned: bool, force: bool = False
    ) -> str:
        """Ban or unban `platform:user_id`; returns that key. A user Zīme has never seen on
        that platform (a typo, or an id from another platform) is refused unless `force`."""
        self.check_admin(request)
        if not force and not await self.store.has_user(platform, user_id):
            raise UnknownUser(f"{platform}:{user_id}")
        await self.store.set_banned(platform, user_id, banned)
        if banned:  # their web sessions end now too
            await self.store.end_sessions(user_key=f"{platform}:{user_id}")
        return f"{platform}:{user_id}"
