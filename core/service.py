"""Service.handle(request): the numbered steps from a chat message to a queued job."""

from __future__ import annotations

import asyncio
import logging
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from core.admin import AdminOps
from core.config import Config
from core.derived import DerivedJobs
from core.describing import DescribeOps
from core.draw.images import PHOTO_DECODES
from core.draw.models import Catalogue
from core.draw.tiny import is_tiny
from core.errors import (
    Banned,
    Failure,
    NotFound,
    RateLimited,
    TranslationFailed,
    UnsupportedLanguage,
    ZimeError,
)
from core.jobs.job import GenParams, Job, JobView, Options, Request, size_for
from core.jobs.ratelimit import RateLimiter
from core.jobs.store import Store
from core.lang.moderation import Blocklist
from core.lang.options import BadOption, parse_options
from core.lang.prompt import Parsed, PromptBuilder, PromptResult
from core.logins import LoginLinks
from core.modelops import ModelOps
from core.pages import PageOps
from core.queue.local import in_daemon_thread
from core.queue.worker import Worker
from core.results import Results
from core.train.session import Teaching
from core.usersettings import SettingsOps

BUSY_QUEUE = 4  # jobs waiting: from here on, translations use one beam (benchmarks/README.md)
# A translation of one chat message takes well under a second (benchmarks/translate.py);
# one that takes this long is stuck, and the user gets an answer instead of a spinner.
TRANSLATE_TIMEOUT_S = 60.0
PHOTO_STRENGTH = 0.75  # photo → picture without --stiprums: keeps the layout, redraws the rest


def _save_upload(image: Any, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path, format="PNG")


log = logging.getLogger("zime.service")


@dataclass(frozen=True)
class Submitted:
    """A queued job and what the bot understood: frontends render the caption from this."""

    handle: JobView
    job_id: int
    prompt: str
    english: str | None
    concept_ids: tuple[str, ...]
    concept_names: tuple[str, ...]  # Latvian names, for captions
    seed: int
    text: str
    options: Options


def new_seed() -> int:
    return random.randrange(2**32)


class Service(DerivedJobs, AdminOps, PageOps, Results, ModelOps, SettingsOps, DescribeOps):
    def __init__(
        self,
        config: Config,
        store: Store,
        worker: Worker,
        builder: PromptBuilder,
        limiter: RateLimiter,
    ) -> None:
        self.config = config
        self.store = store
        self.worker = worker
        self.builder = builder
        self.limiter = limiter
        self.blocklist = Blocklist(config.moderation.blocklist)
        self.new_seed: Callable[[], int] = new_seed  # injectable: tests replay the same seeds
        self.teaching = Teaching(config, worker.busy)
        self.logins = LoginLinks()  # /panelis, /galerija: one-time links to the web pages
        self._decoding = asyncio.Semaphore(PHOTO_DECODES)  # photos decoded at once
        # Tiny random models draw noise: every caption says so (`--demo`, or a config that
        # points at `core tiny-models` output).
        self.demo = is_tiny(config.model(config.generator_path))
        self.catalogue = Catalogue(config)

    @property
    def default_steps(self) -> int:
        return self.config.generation.steps

    async def start(self) -> list[JobView]:
        """Re-queue what a crash or restart left unfinished; returns their handles."""
        return [self.worker.restore(job) for job in await self.store.unfinished_jobs()]

    def _safety(self, request: Request) -> bool:
        mode = self.config.models.safety_checker
        return mode == "always" or (mode == "groups" and request.is_group)

    def known_concepts(self) -> list[tuple[str, str]]:
        """(Latvian name, English name) of every concept the model knows, for /palidziba."""
        return [(c.name_lv, c.name_en) for c in self.builder.registry]

    def preview(self, text: str, bot_username: str = "") -> str:
        """The normalized text a request would draw (inline previews); raises InvalidPrompt."""
        return self.builder.parse(text, bot_username).normalized

    def concept_names(self, ids: tuple[str, ...] | list[str]) -> tuple[str, ...]:
        return tuple(self.builder.registry.get(i).name_lv for i in ids)

    def options_for(
        self, request: Request, settings: dict[str, Any] | None = None
    ) -> tuple[str, Options]:
        """The text to draw and the options in effect (flags, then the request's own seed and
        steps, then the user's settings, then the config). Raises BadOption with the flag
        and its allowed values."""
        g, lim = self.config.generation, self.config.limits
        text, options = parse_options(request.text, max(g.max_steps, g.steps), lim.max_prompt_chars)
        if settings:
            aspect = settings.get("aspect")
            defaults = Options(
                aspect=tuple(aspect) if aspect else None,
                count=settings.get("count"),
                model=settings.get("model"),
                fast=settings.get("fast"),
            )
            options = options.merged(defaults)
        options = self.catalogue.canonical(options)  # UnknownModel, NoFastMode
        if options.strength is not None and request.photo is None:
            raise BadOption("--stiprums", "photo")
        options = replace(
            options,
            seed=options.seed if options.seed is not None else request.seed,
            steps=options.steps or request.steps,
        )
        count = options.count or g.images
        if not request.is_admin and 0 < lim.per_user_per_day < count:  # could never fit
            raise BadOption("--skaits", f"1–{lim.per_user_per_day}")
        return text, options

    async def handle(self, request: Request) -> Submitted:
        # 1. options, then normalize and find concepts (pure, fast; raises InvalidPrompt)
        settings = await self.store.settings(request.platform, request.user_id)
        request = self._with_settings(request, settings)
        text, options = self.options_for(request, settings)
        parsed = self.builder.parse(
            text, request.bot_username, options.negative or "", options.style
        )
        if not self.builder.can_translate(parsed):  # refused before it costs a rate token
            raise UnsupportedLanguage(parsed.lang, self.builder.served_languages())
        # 2. bans, room in the queue and limits (a grid of 4: one request, 4 images a day)
        if await self.store.upsert_user(request.platform, request.user_id, request.language):
            raise Banned(request.user_key)
        images = options.count or self.config.generation.images
        chat = await self._charge(request, images, options.model or self.catalogue.default)
        try:
            result, options = await self._understand(parsed, options)  # 3. and 4.
            # 5. persist, then 6. enqueue
            params = await self._photo_params(request, result, options, result.negative)
            return await self._submit(request, result, options, None, result.negative, params)
        except Exception:
            self.limiter.refund(request.user_key, chat)  # nothing was drawn: no cost
            raise

    async def _understand(self, parsed: Parsed, options: Options) -> tuple[PromptResult, Options]:
        """3. Translate the whole sentence and its negative ("bez …", --ne) in one call, for
        the model's concepts; 4. moderation before and after translation."""
        self.blocklist.check(parsed.normalized)
        [(english, negative)] = await self._translate([parsed])
        result = self.builder.assemble(parsed, english, negative)
        knows = self.catalogue.knower(options.model, self.builder.registry)
        result = self.builder.for_model(result, knows)
        # named in the text or by flags: the style, and what "bez …" / --ne leaves out
        options = replace(options, style=result.style, negative=parsed.negative_source or None)
        self.blocklist.check(result.english)
        return result, options

    async def understood(
        self, request: Request, text: str, options: Options
    ) -> tuple[PromptResult, Options]:
        """A text drawn from an earlier job (a region redrawn): the same language pipeline
        as a request, with that job's options."""
        parsed = self.builder.parse(text, request.bot_username, "", options.style)
        if not self.builder.can_translate(parsed):
            raise UnsupportedLanguage(parsed.lang, self.builder.served_languages())
        return await self._understand(parsed, options)

    @staticmethod
    def _with_settings(request: Request, settings: dict[str, Any]) -> Request:
        """The user's UI language and "results privately" for delivery."""
        meta = dict(request.meta)
        if settings.get("private") and request.is_group:
            meta["private_result"] = True
        return replace(request, language=settings.get("language") or request.language, meta=meta)

    async def decode_photo(self, data: bytes) -> Any:
        """A user's photo, validated and decoded in a thread, PHOTO_DECODES at a time (a 40 MP
        photo is about 400 MB decoded); the others wait their turn on the event loop."""
        from core.draw.images import load_photo

        async with self._decoding:
            return await asyncio.to_thread(load_photo, data)

    async def _photo_params(
        self, request: Request, result: PromptResult, options: Options, negative: str
    ) -> GenParams | None:
        """Photo → picture: the photo (validated, EXIF-oriented) is kept beside the images and
        drawn from by img2img, at its own aspect ratio within `max_side`."""
        if request.photo is None:
            return None
        image = await self.decode_photo(request.photo)
        g = self.catalogue.generation(options.model, self.config.generation)  # its model's
        width, height = size_for((image.width, image.height), g.width * g.height, g.max_side, 8)
        path = self.worker.image_dir / "uploads" / f"{uuid.uuid4().hex}.png"
        await asyncio.to_thread(_save_upload, image, path)
        seed = self.new_seed() if options.seed is None else options.seed
        base = GenParams.from_config(
            g, result.prompt, seed, options, self._safety(request), negative
        )
        base = self.catalogue.params(base, options)
        return base.from_image(
            str(path), options.strength or PHOTO_STRENGTH, width=width, height=height
        )

    async def _charge(self, request: Request, images: int, model: str = "") -> str | None:
        """Room in the queue, `images` from the daily limit, then one request from the
        per-minute limits (a grid of 4 is one request and 4 images: an image count the
        config allows is never refused by the size of the per-minute bucket). Admins are
        exempt from both. Returns the chat key charged (groups only), for a refund if
        nothing is queued."""
        self.worker.check_room(request.user_key, model)
        await self._check_daily(request, images)
        chat = request.chat_key if request.is_group else None
        self.limiter.acquire(request.user_key, chat, request.is_admin)
        return chat

    async def _check_daily(self, request: Request, cost: int = 1) -> None:
        """`[limits] per_user_per_day` images, counted from the jobs in SQLite (survives
        restarts). This refuses early, before the translation; the count that decides is
        taken again in the job's own insert transaction (Store.create_job)."""
        limit = self.config.limits.per_user_per_day
        if limit <= 0 or request.is_admin:
            return
        if cost > limit:  # could never fit: say so, don't wait a day
            raise BadOption("--skaits", f"1–{limit}")
        now = time.time()
        count, oldest = await self.store.jobs_since(request.platform, request.user_id, now - 86400)
        if count + cost > limit:
            raise RateLimited(retry_after=max(60.0, oldest + 86400 - now), scope="user_day")

    async def _translate(self, parsed: list[Parsed]) -> list[tuple[str | None, str | None]]:
        """Translate what needs it (each sentence and its negative), off the event loop, with
        a deadline; "" / None for what needs none."""
        b = self.builder
        if not any(b.needs_translation(p) or p.negative_needs_translation for p in parsed):
            return [("", None) for _ in parsed]
        started = time.perf_counter()
        try:
            # a long queue: one beam (greedy) instead of the configured ones, for speed
            beams = 1 if self.worker.queued_count() >= BUSY_QUEUE else None
            english = await asyncio.wait_for(
                in_daemon_thread(self.builder.translate_all, parsed, beams), TRANSLATE_TIMEOUT_S
            )
        except ZimeError:
            raise
        except TimeoutError as exc:
            raise TranslationFailed(f"no answer in {TRANSLATE_TIMEOUT_S:.0f} s") from exc
        except Exception as exc:
            log.warning("translation failed: %s", exc)
            raise TranslationFailed(str(exc) or type(exc).__name__) from exc
        self.worker.metrics.observe_translate(time.perf_counter() - started)
        return english

    async def _submit(
        self,
        request: Request,
        result: PromptResult,
        options: Options,
        parent_id: int | None,
        negative: str = "",
        params: GenParams | None = None,
        kind: str = "",
    ) -> Submitted:
        """Persist and enqueue. `kind`: what a button made (upscale, variation, edit); ""
        for a request (draw / grid / photo, from the parameters)."""
        if params is None:
            seed = self.new_seed() if options.seed is None else options.seed
            params = GenParams.from_config(
                self.catalogue.generation(options.model, self.config.generation),
                result.prompt,
                seed,
                options,
                self._safety(request),
                negative,
            )
            params = self.catalogue.params(params, options)
        self.worker.check_room(request.user_key, params.model)  # again: translation took time
        registry = self.builder.registry
        adapters = tuple(c for c in result.concept_ids if registry.get(c).adapter)
        params = replace(params, adapters=adapters)
        day_limit = 0 if request.is_admin else self.config.limits.per_user_per_day
        job = await self.store.create_job(
            Job(
                id=0,
                platform=request.platform,
                user_id=request.user_id,
                chat_id=request.chat_id,
                params=params,
                request_text=request.text or result.input,  # a button: its parent's text
                normalized=result.normalized,
                lang=result.lang,
                concepts=result.concept_ids,
                english=result.english,
                model=params.model or self.catalogue.default,
                model_path=self.catalogue.path(params.model or self.catalogue.default),
                parent_id=parent_id,
                meta={"language": request.language, "is_group": request.is_group, **request.meta},
                options=options,
                kind=kind,
            ),
            day_limit,
        )
        try:
            handle = self.worker.submit(job)
        except Exception as exc:
            # The user is answered right now: nothing is left to deliver after a restart.
            await self.store.set_status(job.id, "failed", f"not queued: {exc}", Failure.UNAVAILABLE)
            await self.store.set_flags(job.id, delivered=True)
            raise
        return Submitted(
            handle=handle,
            job_id=job.id,
            prompt=params.prompt,
            english=result.english,
            concept_ids=result.concept_ids,
            concept_names=self.concept_names(result.concept_ids),
            seed=params.seed,
            text=result.normalized,
            options=options,
        )

    async def _job_for(self, job_id: int, request: Request) -> Job:
        """The job, when its owner or an admin asks; NotFound for anyone else (ids count up,
        so a button's id is easy to forge)."""
        if not 0 < job_id < 2**63:  # a forged button: SQLite integers end there
            raise NotFound(f"job {job_id}")
        job = await self.store.get_job(job_id)
        if job is None or (job.user_key != request.user_key and not request.is_admin):
            raise NotFound(f"job {job_id}")
        return job

    async def check_owner(self, job_id: int, request: Request) -> None:
        """NotFound unless the job exists and belongs to the requester (or they are admin)."""
        await self._job_for(job_id, request)

    async def cancel(self, request: Request) -> list[int]:
        """/atcelt: every unfinished job of the user. A cancelled job that was not drawn
        costs nothing against the daily limit (the store counts only what was queued)."""
        return await self.worker.cancel_user(request.user_key)

    async def cancel_job(self, job_id: int, request: Request) -> bool:
        """❌ under a status message: that one job, for its owner or an admin, by the rules
        of /atcelt. False when it has already finished."""
        await self._job_for(job_id, request)
        return await self.worker.cancel(job_id)

    async def job_details(self, job_id: int, request: Request) -> Job:
        """ℹ️: the job, for its owner or an admin."""
        return await self._job_for(job_id, request)

    async def interrupt(self) -> None:
        """Stop now (the console's Ctrl-C or SIGTERM): nothing new starts, the drawing stops
        at its next step, and that job and the queued ones stay in SQLite for the next
        start."""
        await self.worker.stop(drain_timeout=2.0, interrupt=True)

    async def history(self, request: Request, limit: int = 10) -> list[Job]:
        return await self.store.history(request.platform, request.user_id, limit)

    async def job(self, job_id: int) -> Job | None:
        return await self.store.get_job(job_id)
