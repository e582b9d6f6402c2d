"""The operator's subcommands of `python -m core`: fetch-models, db, runner, train and
concepts (the parser and the pipeline's own commands are in core/__main__.py)."""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import TextIO

from core.config import Config, load_config
from core.ops.logs import configure_logging, quiet_libraries


def _config(path: str | None) -> Config:
    return load_config(path, os.environ)


SECRET_KEYS = (
    ("telegram", "token"),
    ("telegram", "webhook_secret"),
    ("discord", "token"),
    ("web", "secret"),
)


def cmd_config(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """The config in effect (the file, then the ZIME_* environment) as JSON; secrets show
    only whether they are set."""
    import json

    from core.config import config_to_dict

    data = config_to_dict(_config(args.config))
    for sec, key in SECRET_KEYS:
        if sec in data and key in data[sec]:
            data[sec][key] = "(set)" if data[sec][key] else ""
    print(json.dumps(data, ensure_ascii=False, indent=2, default=list), file=out)
    return 0


def cmd_describe(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Four Latvian prompts for a photo (as /apraksti answers), or with --json the English
    ones, the Latvian ones, the concepts recognised and the style offered."""
    import json

    from bot.texts import error_text  # the chat's own sentences (no platform code)
    from core.draw.images import load_photo
    from core.errors import ZimeError
    from core.lang.concepts import ConceptRegistry
    from core.see.describe import build_describer

    cfg = _config(args.config)
    quiet_libraries()
    if args.demo:  # the tiny random models, offline (as `core generate --demo`)
        from core.app import demo_config

        cfg = demo_config(cfg)
    try:
        data = Path(args.photo).read_bytes()
    except OSError as exc:
        print(f"zime: cannot read {args.photo}: {exc.strerror or exc}", file=err)
        return 2
    try:
        image = load_photo(data)  # the checks photo → picture makes
    except ZimeError as exc:
        print(f"zime: {error_text(exc, 'lv')}", file=err)
        return 2
    registry = ConceptRegistry.load(extra=cfg.path(cfg.storage.concepts))
    described = build_describer(cfg, registry).describe(image)
    if args.json:
        print(json.dumps(described.as_json(), ensure_ascii=False), file=out)
    else:
        print("\n".join(f"{n}. {p}" for n, p in enumerate(described.latvian, 1)), file=out)
    return 0


def cmd_fetch_models(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from core.ops.fetch import fetch_models

    cfg = _config(args.config)

    def report(line: str) -> None:
        print(f"zime: {line}", file=err, flush=True)

    only = args.only or ""
    for item in fetch_models(cfg, convert=args.ctranslate2, report=report, only=only):
        note = "downloaded" if item.downloaded else "local"
        if item.role == "translator-ct2":
            note = "converted (int8)"
        print(f"{item.role}\t{item.path}\t{note}", file=out)
    if args.ctranslate2:
        print(
            "zime: a '<dir>-ct2' beside a local translator dir is used automatically; for a hub "
            "id set [models] translator to the converted dir.",
            file=err,
        )
    print("zime: models are on this machine; the bot can run with HF_HUB_OFFLINE=1.", file=err)
    return 0


def cmd_db(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from core.ops.maintenance import backup, db_stats

    cfg = _config(args.config)
    database = cfg.path(cfg.storage.database)
    try:
        if args.db_command == "backup":
            print(backup(database, Path(args.path)), file=out)
        else:
            print(json.dumps(db_stats(database), ensure_ascii=False, indent=2), file=out)
    except FileNotFoundError as exc:
        print(f"zime: {exc}", file=err)
        return 2
    return 0


def cmd_runner(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """One GPU runner behind Redis ([queue] url): draws batches until SIGTERM/SIGINT."""
    import asyncio
    import dataclasses
    import logging
    import os
    import signal

    from core.app import check_device, make_generator, models_on_this_machine
    from core.queue.runner import Runner, default_name

    cfg = _config(args.config)
    device = args.device or ""
    if device.startswith("cuda:"):  # one GPU of several: this process sees only that one
        os.environ["CUDA_VISIBLE_DEVICES"] = device.split(":", 1)[1]
    if device:
        models = dataclasses.replace(cfg.models, device=device.split(":")[0])
        cfg = dataclasses.replace(cfg, models=models)
    logging.basicConfig(
        level=cfg.logging.level,
        stream=err,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    configure_logging(cfg)
    served = _split(args.models) if args.models else models_on_this_machine(cfg)
    unknown = [m for m in served if m not in cfg.catalogue()]
    known = ", ".join(cfg.catalogue())
    if unknown:
        print(f"zime: --models names {unknown[0]!r}, not in the catalogue ({known})", file=err)
        return 2
    if not served:
        print(
            f"zime: none of the catalogue's models ({known}) is on this machine: fetch them "
            "(python -m core fetch-models) or name them with --models",
            file=err,
        )
        return 2
    generator = make_generator(cfg, served, args.max_resident or 0)
    generator.load()
    check_device(cfg, generator)
    name = args.name or default_name()
    print(f"zime: runner {name}: {generator.describe()}", file=err)
    q, g = cfg.queue, cfg.generation
    runner = Runner(
        generator,
        q.url,
        name=name,
        device=device,
        prefix=q.prefix,
        claim_after_s=q.claim_after_s,
        job_timeout_s=g.job_timeout_s,
        hang_grace_s=g.hang_grace_s,
        result_ttl_s=q.result_ttl_s,
        models=served,
        swap_after_s=q.swap_after_s,
    )

    async def serve() -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, runner.stop)
        await runner.run()

    asyncio.run(serve())
    return 3 if runner.wedged else 0  # wedged: the orchestrator restarts it


def cmd_train(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Teach a new concept from a folder of photos; writes OUT/TOKEN/."""
    import logging

    from core.lang.concepts import ConceptRegistry
    from core.train.run import TrainRequest, train

    cfg = _config(args.config)
    logging.basicConfig(level=logging.WARNING, stream=err)
    quiet_libraries()
    registry = ConceptRegistry.load(extra=cfg.path(cfg.storage.concepts))
    known = {c.id: f"a photo of {c.phrase}" for c in registry}
    req = TrainRequest(
        Path(args.photos),
        args.token,
        args.cls,
        args.name_lv,
        lv=_split(args.lv),
        en=_split(args.en),
        base=args.base or "",
        steps=args.steps,
        out=Path(args.output),
        class_images=cfg.training.prior_images if args.class_images is None else args.class_images,
    )
    target = train(cfg, req, known, lambda s: print(f"zime: {s}", file=err, flush=True))
    print(target, file=out)
    return 0


def _split(value: str | None) -> tuple[str, ...]:
    return tuple(v.strip() for v in (value or "").split(",") if v.strip())


def cmd_concepts(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Install, list or remove trained concepts (in the data dir; /reload makes it live)."""
    from core.train import install

    cfg = _config(args.config)
    if args.concepts_command == "add":
        token = install.add(cfg, Path(args.dir))
        print(f"installed {token}; send /reload (or restart) to make it live", file=out)
    elif args.concepts_command == "remove":
        install.remove(cfg, args.token)
        print(f"removed {args.token}; send /reload (or restart) to make it live", file=out)
    else:
        for token, name, ok in install.listing(cfg):
            print(f"{token}\t{name}\t{'ok' if ok else 'weights missing'}", file=out)
    return 0
