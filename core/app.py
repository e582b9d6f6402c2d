"""Wiring of core parts for one process: store, models, worker and service lifetimes."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
import sys
from collections.abc import AsyncIterator, Sequence
from pathlib import Path
from typing import Any

from core.config import Config, config_from_dict, config_to_dict
from core.draw.generate import DiffusersGenerator, Generator
from core.draw.pool import ModelPool
from core.errors import ModelError
from core.jobs.ratelimit import Clock, RateLimiter, monotonic
from core.jobs.store import Store
from core.lang.concepts import ConceptRegistry
from core.lang.prompt import PromptBuilder
from core.lang.translate import TranslateOptions, Translator, Translators, load_translator
from core.ops.maintenance import prune_images
from core.ops.metrics import MetricsServer
from core.queue import Drawer
from core.queue.local import ThreadDrawer
from core.queue.worker import Worker
from core.service import Service
from core.train.install import installed_for

log = logging.getLogger("zime")


def make_translator(
    config: Config, source: str | None = None, device: str | None = None
) -> Translator:
    """The configured Latvian translator (or `source`), with the config's decoding options."""
    m = config.models
    opts = TranslateOptions(beams=m.translate_beams, max_tokens=m.translate_max_tokens)
    device = device or ("cpu" if m.device == "cpu" else "auto")
    return load_translator(config.model(source or m.translator), device, opts, m.cache_dir or None)


def make_translators(
    config: Config, source: str | None = None, device: str | None = None
) -> Translators:
    """Every configured translator: `[models] translator` (or `source`) for Latvian, and
    `[models] translators` for other languages. A model named twice is loaded once. The
    Latvian one must load; another that cannot (not fetched, no internet) is left out with a
    warning, and its language gets the polite refusal."""
    loaded: dict[str, Translator] = {}
    by_lang: dict[str, Translator] = {}
    for lang, src in {
        "lv": source or config.models.translator,
        **config.models.translators,
    }.items():
        if src not in loaded:
            try:
                loaded[src] = make_translator(config, src, device)
            except ModelError as exc:
                if lang == "lv":
                    raise
                log.warning("the %s translator is left out: %s", lang, exc)
                continue
        by_lang[lang] = loaded[src]
    return Translators(by_lang)


def make_generator(config: Config, models: Sequence[str] = (), max_resident: int = 0) -> ModelPool:
    """Every catalogue model (or those of `models`, the first as the default), loaded on
    demand, `max_resident` (else `[queue] max_resident`) at a time."""
    m, g = config.models, config.generation
    catalogue = config.catalogue()
    if models:
        catalogue = {name: catalogue[name] for name in models}

    def one(name: str) -> Generator:
        spec = catalogue[name]
        return DiffusersGenerator(
            config.model(spec.path),
            m.device,
            m.scheduler,
            m.cache_dir,
            m.compile_unet,
            safety_checker=m.safety_checker != "never",
            warmup=[(b, g.width, g.height) for b in sorted({1, g.batch_size})],
            adapters=lambda: {t: str(p) for t, p in installed_for(config, name).items()},
            fast_lora=config.model(spec.fast_lora) if spec.fast_lora else "",
            family=spec.family,
            inpaint=config.model(spec.inpaint) if spec.inpaint else "",
        )

    paths = {name: config.model(spec.path) for name, spec in catalogue.items()}
    default = models[0] if models else config.default_model
    return ModelPool(one, default, paths, max_resident or config.queue.max_resident)


def models_on_this_machine(config: Config) -> list[str]:
    """The catalogue models whose files are here (a folder, or the hub cache): what a runner
    serves when `--models` names none. The default model first."""
    from core.hub import is_cached, is_local

    names = [config.default_model, *(n for n in config.catalogue() if n != config.default_model)]
    cache = config.models.cache_dir or None
    out = []
    for name in names:
        path = config.model(config.catalogue()[name].path)
        if is_local(path) or is_cached(path, "model_index.json", cache):
            out.append(name)
    return out


def drawer_models(config: Config) -> tuple[str, ...]:
    """The catalogue's names for routing, the default first (it draws jobs that name none)."""
    names = config.catalogue()
    return (config.default_model, *(n for n in names if n != config.default_model))


def demo_config(cfg: Config, root: Path | None = None) -> Config:
    """The same config on tiny random models built (once) under `root` (default:
    data/demo-models beside the config): `--demo` of `python -m bot` and `core generate`."""
    root = root or cfg.path("data/demo-models")
    from core.draw.tiny import build_tiny_models

    if not (root / "sd" / "model_index.json").is_file():
        print(f"Building tiny demo models in {root} …", file=sys.stderr)
        build_tiny_models(root)
    models = dataclasses.replace(
        cfg.models,
        generator=str(root / "sd"),
        translator=str(root / "opus"),
        device="cpu",
        translators={lang: str(root / "opus") for lang in cfg.models.translators},
        captioner=str(root / "captioner"),  # /apraksti
        describe_translator=str(root / "opus-en-lv"),
    )
    training = dataclasses.replace(
        cfg.training,
        clip_model=str(root / "clip"),  # /apraksti's concepts and styles, and training scores
        dino_model=str(root / "dino"),
    )
    gen = dataclasses.replace(cfg.generation, steps=min(cfg.generation.steps, 10))
    return dataclasses.replace(cfg, models=models, training=training, generation=gen)


def check_device(config: Config, generator: Generator) -> None:
    """Refuse to serve chats with a full-size model on a CPU (about 70 s a step: every job
    would time out) unless the operator chose `device = "cpu"` knowingly."""
    on_cpu = getattr(generator, "device", "") == "cpu"
    if on_cpu and getattr(generator, "full_size", False) and config.models.device != "cpu":
        raise ModelError(
            f"the image model {generator.model} is full-size and no CUDA GPU is usable, so it "
            "would draw on the CPU at about a minute per step; fix the GPU (nvidia-smi), or "
            'set [models] device = "cpu" to run this slowly on purpose'
        )


@contextlib.asynccontextmanager
async def open_service(
    config: Config,
    *,
    generator: Generator | None = None,
    translators: Translators | None = None,
    clock: Clock = monotonic,
    drawer: Drawer | None = None,
) -> AsyncIterator[Service]:
    """Open the store (first: a database that cannot be opened or migrated is reported in a
    second, not after minutes of model loading), load the models, start the worker; on exit
    drain and close in order."""
    st = config.storage
    store = Store(config.path(st.database), min(5.0, st.lock_wait_s), st.lock_wait_s)
    async with store:
        if translators is None:
            translators = await asyncio.to_thread(make_translators, config)
        q = config.queue
        remote = drawer is not None or ((q.backend == "redis" or q.isolate) and generator is None)
        if not remote:  # runners behind Redis or a child process load it, not the bot
            if generator is None:
                generator = make_generator(config)
            await asyncio.to_thread(generator.load)
            log.info(generator.describe())
            check_device(config, generator)
        registry = ConceptRegistry.load(extra=config.path(config.storage.concepts))
        builder = PromptBuilder(registry, translators, config.limits.max_prompt_chars)
        lim, g = config.limits, config.generation
        limiter = RateLimiter(lim.per_user_per_minute, lim.per_chat_per_minute, clock)
        drawer = drawer or make_drawer(config, generator)
        worker = Worker(
            drawer,
            store,
            config.path(config.storage.images),
            batch_size=g.batch_size,
            queue_size=lim.queue_size,
            per_user_queued=lim.per_user_queued,
            max_attempts=lim.max_attempts,
            scheduler_name=config.models.scheduler,
            privacy=config.logging.privacy,
            swap_after_s=config.queue.swap_after_s,
        )
        if isinstance(generator, ModelPool):  # every load counted, the ones before this too
            for name, loads in generator.loads.items():
                worker.metrics.model_loaded(name, loads)
            generator.on_load = lambda name, seconds: worker.metrics.model_loaded(name)
        server = None
        if config.metrics.enabled:
            server = MetricsServer(worker.metrics, config.metrics.host, config.metrics.port)
            await server.start()
        retention = asyncio.create_task(_retention_loop(config))
        try:
            async with worker:
                service = Service(config, store, worker, builder, limiter)
                await service.start()
                yield service
        finally:
            retention.cancel()
            if server is not None:
                await server.stop()


def generator_from_config(data: dict[str, Any], base_dir: str) -> Generator:
    """The configured generator, built from plain config data (in a child process)."""
    return make_generator(config_from_dict(data, base_dir=base_dir))


def make_drawer(config: Config, generator: Generator | None) -> Drawer:
    """Where batches are drawn: runners behind Redis, a child process, or this process."""
    q, g = config.queue, config.generation
    if generator is None and q.backend == "local":  # isolate: the model in a child process
        from core.queue.child import ChildDrawer

        factory = functools.partial(generator_from_config, config_to_dict(config), config.base_dir)
        return ChildDrawer(factory, g.job_timeout_s, g.hang_grace_s)
    if generator is None:
        from core.queue.redis import RedisDrawer

        return RedisDrawer(
            q.url,
            prefix=q.prefix,
            claim_after_s=q.claim_after_s,
            result_ttl_s=q.result_ttl_s,
            models=drawer_models(config),
        )
    return ThreadDrawer(generator, g.job_timeout_s, g.hang_grace_s)


async def _retention_loop(config: Config) -> None:
    """Delete images older than `storage.retention_days`, at start and then daily."""
    days = config.storage.retention_days
    if days <= 0:
        return
    while True:
        removed = await asyncio.to_thread(prune_images, config.path(config.storage.images), days)
        if removed:
            log.info("retention: removed %d images older than %d days", removed, days)
        await asyncio.sleep(86400)
