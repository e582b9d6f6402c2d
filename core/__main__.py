"""`python -m core …`: the pipeline without a chat platform (see README, "Command line")."""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from core.config import Config, load_config
from core.draw.models import Catalogue
from core.errors import InvalidPrompt, ModelError, ZimeError
from core.lang.concepts import ConceptRegistry
from core.lang.options import parse_options
from core.lang.prompt import Parsed, PromptBuilder, PromptResult
from core.lang.translate import Translators
from core.ops.commands import (
    cmd_concepts,
    cmd_config,
    cmd_db,
    cmd_describe,
    cmd_fetch_models,
    cmd_runner,
    cmd_train,
)
from core.ops.logs import quiet_libraries


def _config(path: str | None) -> Config:
    return load_config(path, os.environ)


def _load_translators(source: str | None, cfg: Config, err: TextIO) -> Translators:
    from core.app import make_translators

    try:
        return make_translators(cfg, source, device="cpu")
    except ModelError as exc:
        print(
            f"zime: translator unavailable ({exc}).\n"
            "zime: showing prompts without translation; pass --translator PATH "
            "(e.g. a `python -m core tiny-models` dir) or --no-translate.",
            file=err,
        )
        return Translators()


def _summary(r: PromptResult) -> str:
    found = ", ".join(f"{m.id} ({m.text!r})" for m in r.concepts) or "—"
    english = r.english if r.english is not None else "(not translated)"
    return (
        f"input:      {r.input}\n"
        f"language:   {r.lang}\n"
        f"concepts:   {found}\n"
        f"source:     {r.source}\n"
        f"english:    {english or '—'}\n"
        f"prompt:     {r.prompt}\n"
        f"negative:   {r.negative or '—'} (from: {r.negative_source or '—'})\n"
        f"style:      {r.style or '—'}"
    )


def cmd_prompt(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    cfg = _config(args.config)
    builder = PromptBuilder(
        ConceptRegistry.load(extra=cfg.path(cfg.storage.concepts)),
        None,
        cfg.limits.max_prompt_chars,
    )
    if args.jsonl:
        lines = [line.rstrip("\r\n") for line in sys.stdin]
    elif args.text:
        lines = [" ".join(args.text)]
    else:
        lines = [sys.stdin.read()]

    parsed: list[Parsed | InvalidPrompt] = []
    models: list[str | None] = []  # the catalogue model each valid line names (None: default)
    g = cfg.generation
    catalogue = Catalogue(cfg)
    for line in lines:
        try:  # the same text as /zime: options included, `source` is the text without them
            text, options = parse_options(
                line, max(g.max_steps, g.steps), cfg.limits.max_prompt_chars
            )
            options = catalogue.canonical(options)
            one = builder.parse(text, negative=options.negative or "", style=options.style)
            parsed.append(dataclasses.replace(one, input=line))
            models.append(options.model)
        except InvalidPrompt as exc:
            parsed.append(exc)
    ok = [p for p in parsed if isinstance(p, Parsed)]
    english: list[tuple[str | None, str | None]] = [(None, None)] * len(ok)
    if not args.no_translate:
        needed = any(builder.needs_translation(p) or p.negative_needs_translation for p in ok)
        if needed:  # load the model only when needed
            builder.translators = _load_translators(args.translator, cfg, err)
        english = builder.translate_all(ok)
        unserved = sorted({p.lang for p in ok if not builder.can_translate(p)})
        if unserved and builder.translators.by_lang:
            print(
                f"zime: no translator for {', '.join(unserved)}; those prompts are shown "
                'untranslated (set [models] translators, e.g. ru = "Helsinki-NLP/opus-mt-ru-en").',
                file=err,
            )
    results = iter(
        (builder.for_model(builder.assemble(p, e, n), catalogue.knower(m, builder.registry)), m)
        for p, (e, n), m in zip(ok, english, models, strict=True)
    )

    status = 0
    for line, p in zip(lines, parsed, strict=True):
        if isinstance(p, InvalidPrompt):
            status = 0 if args.jsonl else 2
            if args.jsonl or args.json:
                print(
                    json.dumps(
                        {"input": line, "error": p.reason, "detail": p.detail}, ensure_ascii=False
                    ),
                    file=out,
                )
            else:
                print(f"zime: cannot use this prompt: {p}", file=err)
            continue
        r, model = next(results)
        if args.jsonl or args.json:
            line_out = {**r.as_dict(), "model": model}
            print(json.dumps(line_out, ensure_ascii=False), file=out, flush=args.jsonl)
        else:
            print(_summary(r), file=out)
    return status


def cmd_tiny_models(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from core.draw.tiny import build_tiny_models

    paths = build_tiny_models(args.dir)
    for name, path in paths.items():
        print(f"{name}\t{path}", file=out)
    return 0


def cmd_generate(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """A chat message without a chat: TEXT is read as `/zime` reads it (options included)
    and drawn through the same `Service` path (trained concepts, safety, the options record,
    PNG metadata, the job in SQLite), so the same text and seed give the same pixels."""
    import asyncio
    import logging

    from bot.texts import error_text  # the chat's own sentences (no platform code)
    from core.app import demo_config
    from core.draw.models import Catalogue
    from core.lang.options import parse_options

    cfg = _config(args.config)
    try:  # the options first: a bad flag is refused before any model loads
        g = cfg.generation
        _text, options = parse_options(
            " ".join(args.text), max(g.max_steps, g.steps), cfg.limits.max_prompt_chars
        )
        Catalogue(cfg).canonical(options)
    except ZimeError as exc:
        print(f"zime: {error_text(exc, 'lv')}", file=err)
        return 2
    handler = logging.StreamHandler(err)  # what loads (model, device, dtype), on stderr
    handler.setFormatter(logging.Formatter("zime: %(message)s"))
    logging.getLogger("zime").addHandler(handler)
    logging.getLogger("zime").setLevel(logging.INFO)
    quiet_libraries()
    if args.demo:
        cfg = demo_config(cfg)
    try:
        return asyncio.run(_generate(cfg, args, out, err))
    except ZimeError as exc:
        print(f"zime: {error_text(exc, 'lv')}", file=err)
        return 2


async def _generate(cfg: Config, args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    import shutil
    import time

    from core.app import open_service
    from core.draw.images import image_variant_path
    from core.jobs.job import Request

    text = " ".join(args.text)
    request = Request(
        "cli", "local", "local", text, is_admin=True, seed=args.seed, steps=args.steps
    )
    started = time.monotonic()
    tty = err.isatty()  # a terminal: one line updated in place; piped: a line a quarter
    async with open_service(cfg) as service:
        sub = await service.handle(request)
        shown = -1
        while not sub.handle.finished:
            await sub.handle.wait_changed(1.0)
            percent = round(sub.handle.progress * 100)
            if tty:
                print(f"\rzime: {percent}%", end="", file=err, flush=True)
            elif percent // 25 > shown:
                shown = percent // 25
                print(f"zime: {percent}%", file=err, flush=True)
        if tty:
            print(file=err)
        job = await sub.handle.wait()
    assert job.image_path is not None
    target = Path(args.output)
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(job.image_path, target)
    paths = [target]
    if job.params.count > 1:  # the grid at OUT, each image beside it as OUT-n.png
        for n in range(1, job.params.count + 1):
            paths.append(image_variant_path(target, n))
            shutil.copyfile(image_variant_path(job.image_path, n), paths[-1])
    lines = [str(p) for p in paths[1:]] + (
        [f"grid: {target}"] if job.params.count > 1 else [str(target)]
    )
    print(
        "\n".join(lines) + f"\nprompt: {job.prompt}\nseed: {job.seed}\n"
        f"concepts: {', '.join(job.concepts) or '—'}\n"
        f"seconds: {time.monotonic() - started:.1f}",
        file=out,
    )
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m core", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("prompt", help="show the Stable Diffusion prompt for a Latvian text")
    fmt = p.add_mutually_exclusive_group()
    fmt.add_argument("--json", action="store_true", help="print one JSON object")
    fmt.add_argument("--jsonl", action="store_true", help="one prompt per stdin line -> JSONL")
    p.add_argument("--no-translate", action="store_true", help="skip the translator")
    p.add_argument("--translator", help="translator dir or hub id (default: from config)")
    p.add_argument("--config", help="config TOML file")
    p.add_argument("text", nargs="*", help="the prompt (default: stdin)")
    p.set_defaults(func=cmd_prompt)

    g = sub.add_parser("generate", help="draw a chat message's pictures and write PNGs")
    g.add_argument("text", nargs="+", help="what /zime takes, options included (--ar 16:9 --n 4)")
    g.add_argument("-o", "--output", required=True, help="PNG file to write")
    g.add_argument("--config", help="config TOML file")
    g.add_argument("--seed", type=int)
    g.add_argument("--steps", type=int)
    g.add_argument("--demo", action="store_true", help="tiny random models (offline; noise)")
    g.set_defaults(func=cmd_generate)

    ds = sub.add_parser("describe", help="four Latvian prompts for a photo (as /apraksti)")
    ds.add_argument("photo", help="a JPEG, PNG or WebP photo")
    ds.add_argument("--json", action="store_true", help="english, latvian, concepts, style")
    ds.add_argument("--config", help="config TOML file")
    ds.add_argument("--demo", action="store_true", help="tiny random models (offline)")
    ds.set_defaults(func=cmd_describe)

    c = sub.add_parser("config", help="print the config in effect (file + ZIME_* environment)")
    c.add_argument("--config", help="config TOML file")
    c.set_defaults(func=cmd_config)

    f = sub.add_parser("fetch-models", help="download the configured models (then run offline)")
    f.add_argument("--config", help="config TOML file")
    f.add_argument("--ctranslate2", action="store_true", help="also convert the translator (int8)")
    f.add_argument("--only", help="one catalogue model (and its fast LoRA), by its name")
    f.set_defaults(func=cmd_fetch_models)

    d = sub.add_parser("db", help="database care: backup PATH | stats")
    d.add_argument("--config", help="config TOML file")
    dsub = d.add_subparsers(dest="db_command", required=True)
    b = dsub.add_parser("backup", help="online backup of the SQLite database to PATH")
    b.add_argument("path")
    b.add_argument("--config", help="config TOML file", default=argparse.SUPPRESS)
    st = dsub.add_parser("stats", help="print database statistics as JSON")
    st.add_argument("--config", help="config TOML file", default=argparse.SUPPRESS)
    d.set_defaults(func=cmd_db)

    r = sub.add_parser("runner", help="one GPU runner behind Redis ([queue] backend = redis)")
    r.add_argument("--config", help="config TOML file")
    r.add_argument("--device", help="cuda:N (one GPU of several), cuda or cpu")
    r.add_argument("--name", help="the runner's name in /rinda and /stats (default: host-pid)")
    r.add_argument(
        "--models",
        help="catalogue models it serves, comma-separated (default: every one on this machine)",
    )
    r.add_argument(
        "--max-resident",
        type=int,
        help="models kept loaded at once (default: [queue] max_resident)",
    )
    r.set_defaults(func=cmd_runner)

    tr = sub.add_parser("train", help="teach a new concept from photos (a LoRA); writes OUT/TOKEN")
    tr.add_argument("photos", help="a folder of 4-20 photos of the subject")
    tr.add_argument("--token", required=True, help="the new model token, e.g. rigasdoms")
    tr.add_argument("--class", dest="cls", required=True, help='its class, e.g. "building"')
    tr.add_argument("--name-lv", required=True, help='the Latvian name, e.g. "Rīgas Doms"')
    tr.add_argument("--lv", help="more Latvian names, comma-separated")
    tr.add_argument("--en", help="English names, comma-separated")
    tr.add_argument(
        "--base", help="a catalogue model name (or a hub id or folder); default: [models] default"
    )
    tr.add_argument("--steps", type=int, help="training steps (default: [training] steps)")
    tr.add_argument(
        "--class-images",
        type=int,
        help="prior-preservation images per photo (default: [training] prior_images, 10; 0: off)",
    )
    tr.add_argument("--config", help="config TOML file")
    tr.add_argument("-o", "--output", required=True, help="output folder")
    tr.set_defaults(func=cmd_train)

    c = sub.add_parser("concepts", help="install, list or remove trained concepts")
    c.add_argument("--config", help="config TOML file")
    csub = c.add_subparsers(dest="concepts_command", required=True)
    ca = csub.add_parser("add", help="install OUT/TOKEN written by `core train`")
    ca.add_argument("dir")
    ca.add_argument("--config", help="config TOML file", default=argparse.SUPPRESS)
    cl = csub.add_parser("list", help="the installed concepts")
    cl.add_argument("--config", help="config TOML file", default=argparse.SUPPRESS)
    cr = csub.add_parser("remove", help="uninstall a concept by its token")
    cr.add_argument("token")
    cr.add_argument("--config", help="config TOML file", default=argparse.SUPPRESS)
    c.set_defaults(func=cmd_concepts)

    t = sub.add_parser(
        "tiny-models",
        help="write tiny random models to DIR (sd, fast-lora.safetensors, nllb, opus, clip, dino, blip)",
    )
    t.add_argument("dir")
    t.set_defaults(func=cmd_tiny_models)
    return parser


def main(
    argv: Sequence[str] | None = None, out: TextIO = sys.stdout, err: TextIO = sys.stderr
) -> int:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and args.command != "generate":
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    if extra:  # `generate kaķis --ar 16:9 -o x.png`: chat options belong to the text
        args.text = [*args.text, *extra]
    try:
        return int(args.func(args, out, err))
    except ZimeError as exc:
        print(f"zime: {exc}", file=err)
        return 2


if __name__ == "__main__":
    sys.exit(main())
