"""Wiring of core parts for one process: store, models, worker and service lifetimes."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from core.concepts import ConceptRegistry
from core.config import Config
from core.generate import DiffusersGenerator, Generator
from core.prompt import PromptBuilder
from core.ratelimit import Clock, RateLimiter, monotonic
from core.service import Service
from core.store import Store
from core.translate import TranslateOptions, Translator, load_translator
from core.worker import Worker


def make_translator(config: Config) -> Translator:
    m = config.models
    opts = TranslateOptions(beams=m.translate_beams, max_tokens=m.translate_max_tokens)
    device = "cpu" if m.device == "cpu" else "auto"
    local = config.path(m.translator)
    return load_translator(str(local) if local.exists() else m.translator, device, opts)


def make_generator(config: Config) -> Generator:
    m = config.models
    local = config.path(m.generator)
    source = str(local) if local.exists() else m.generator
    return DiffusersGenerator(source, m.device, m.scheduler, m.cache_dir)


@contextlib.asynccontextmanager
async def open_service(
    config: Config,
    *,
    generator: Generator | None = None,
    translator: Translator | None = None,
    clock: Clock = monotonic,
) -> AsyncIterator[Service]:
    """Load models, open the store, start the worker; on exit drain and close in order."""
    if translator is None:
        translator = await asyncio.to_thread(make_translator, config)
    if generator is None:
        generator = make_generator(config)
    await asyncio.to_thread(generator.load)
    builder = PromptBuilder(ConceptRegistry.load(), translator, config.limits.max_prompt_chars)
    lim, g = config.limits, config.generation
    limiter = RateLimiter(
        lim.per_user_per_minute, lim.per_user_per_day, lim.per_chat_per_minute, clock
    )
    async with Store(config.path(config.storage.database)) as store:
        worker = Worker(
            generator,
            store,
            config.path(config.storage.images),
            batch_size=g.batch_size,
            queue_size=lim.queue_size,
            per_user_queued=lim.per_user_queued,
            max_attempts=lim.max_attempts,
            job_timeout_s=g.job_timeout_s,
            scheduler_name=config.models.scheduler,
        )
        async with worker:
            service = Service(config, store, worker, builder, limiter)
            await service.start()
            yield service
