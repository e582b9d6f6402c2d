"""`python -m core train`: photos → class images → LoRA → scores → the chosen checkpoint,
written to OUT/TOKEN/ with concept.toml, scores.json, report.md and contact_sheet.png."""

from __future__ import annotations

import json
import re
import shutil
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.config import Config
from core.draw.tiny import is_tiny
from core.errors import N_, TrainError
from core.train.captions import captions, describe
from core.train.lora import LORA_FILE, LoraTrainer, TrainOptions, class_images, pick_device
from core.train.photos import prepare
from core.train.score import SEEDS, Embedder, Scores, choose, score_checkpoints, validation_prompts

TOKEN_RE = re.compile(r"[a-z][a-z0-9]{3,30}")


@dataclass
class TrainRequest:
    photos: Path
    token: str
    cls: str
    name_lv: str
    lv: tuple[str, ...] = ()
    en: tuple[str, ...] = ()
    base: str = ""
    steps: int | None = None
    class_images: int = 10  # per photo; 0: no prior preservation
    out: Path = Path("out")


def check_token(token: str, known: set[str]) -> None:
    if not TOKEN_RE.fullmatch(token):
        raise TrainError(
            N_(
                "the token {token} must be 4–31 lowercase letters or digits, "
                "starting with a letter (e.g. rigasdoms)"
            ),
            token=token,
        )
    if token in known:
        raise TrainError(N_("the token {token} is already a concept"), token=token)


def concept_entry(req: TrainRequest, base: str = "") -> str:
    """An entry in the registry's format (core/lang/concepts.toml), with the aliases given."""

    def strings(values: tuple[str, ...]) -> str:
        return "[" + ", ".join(json.dumps(v, ensure_ascii=False) for v in values) + "]"

    lv = tuple(dict.fromkeys((req.name_lv, *req.lv)))
    en = tuple(dict.fromkeys(req.en))
    return (
        "[[concept]]\n"
        f"id = {json.dumps(req.token)}\n"
        f"class = {json.dumps(req.cls, ensure_ascii=False)}\n"
        f"name_lv = {json.dumps(req.name_lv, ensure_ascii=False)}\n"
        f"name_en = {json.dumps(en[0] if en else req.name_lv, ensure_ascii=False)}\n"
        f"lv = {strings(lv)}\n"
        f"en = {strings(en)}\n"
        "adapter = true\n" + (f"base = {json.dumps(base)}\n" if base else "")
    )


SHEET_LABEL_W = 120  # the left column: row labels
SHEET_HEADER_H = 40  # the top row: column labels
SHEET_GAP = 6  # between tiles
CHOSEN = (214, 40, 40)  # the frame and label of the chosen checkpoint


def contact_sheet(
    scores: list[Scores], best: Scores, photos: list[Any], prompts: list[str], cell: int = 128
) -> Any:
    """The reference photos (first row), then each checkpoint's validation images (a row
    each), every column labelled with its prompt and seed, every row with its checkpoint,
    the chosen one framed in red; tiles are `cell` px with a gap between them."""
    from PIL import Image, ImageDraw, ImageFont

    cols = max(len(photos), *(len(s.images) for s in scores))
    step = cell + SHEET_GAP
    width = SHEET_LABEL_W + cols * step + SHEET_GAP
    height = SHEET_HEADER_H + (1 + len(scores)) * step + SHEET_GAP
    sheet = Image.new("RGB", (width, height), "white")
    pen = ImageDraw.Draw(sheet)
    font = ImageFont.load_default()
    labels = [_short(p) for p in prompts]
    for c in range(cols):
        prompt = labels[c // len(SEEDS)] if c // len(SEEDS) < len(labels) else ""
        seed = SEEDS[c % len(SEEDS)]
        x = SHEET_LABEL_W + c * step + SHEET_GAP
        pen.text((x, 4), _fit(prompt, cell, pen, font), fill="black", font=font)
        pen.text((x, 20), f"seed {seed}", fill="dimgray", font=font)

    def row(r: int, label: str, images: list[Any], chosen: bool = False) -> None:
        y = SHEET_HEADER_H + r * step + SHEET_GAP
        if chosen:
            pen.rectangle(
                (
                    SHEET_LABEL_W + SHEET_GAP // 2,
                    y - SHEET_GAP // 2,
                    width - SHEET_GAP // 2,
                    y + cell + SHEET_GAP // 2 - 1,
                ),
                outline=CHOSEN,
                width=3,
            )
        pen.text((6, y + cell // 2 - 14), label, fill=CHOSEN if chosen else "black", font=font)
        if chosen:
            pen.text((6, y + cell // 2 + 2), "chosen", fill=CHOSEN, font=font)
        for c, img in enumerate(images):
            sheet.paste(
                img.convert("RGB").resize((cell, cell)), (SHEET_LABEL_W + c * step + SHEET_GAP, y)
            )

    row(0, "photos", photos[:cols])
    for r, s in enumerate(scores, 1):
        row(r, s.checkpoint, s.images, chosen=s is best)
    return sheet


def _short(prompt: str) -> str:
    """A validation prompt without what every one of them says ("a photo of TOKEN CLASS"):
    "in the snow", "at night, photo", or "plain"."""
    words = prompt.split()
    rest = " ".join(words[5:]) if words[:3] == ["a", "photo", "of"] else " ".join(words[3:])
    return rest.strip(" ,") or "plain"


def _fit(text: str, width: int, pen: Any, font: Any) -> str:
    """`text` cut (with …) to fit `width` pixels."""
    while text and pen.textlength(text, font=font) > width:
        text = text[:-2] + "…"
    return text


# The DreamBooth paper's scores for its own method (Ruiz et al. 2023, table 1): what a good
# concept reaches, for comparison.
PAPER = {"dino": 0.668, "clip_i": 0.803, "clip_t": 0.305}


def report_md(
    req: TrainRequest,
    prepared_report: str,
    scores: list[Scores],
    best: Scores,
    steps: int = 0,
    class_images: int = 0,
    tiny: bool = False,
) -> str:
    lines = [f"# {req.name_lv} (`{req.token} {req.cls}`)", ""]
    if tiny:
        lines += [
            "> **Tiny random models**: these scores mean nothing; they only show the "
            "pipeline ran. Train on the real model for scores worth reading.",
            "",
        ]
    lines += [
        f"Steps: {steps}. Class images (prior preservation): {class_images}.",
        "",
        "## Photos",
        "",
        "```",
        prepared_report,
        "```",
        "",
        "## Checkpoints",
        "",
        "| checkpoint | DINO | CLIP-I | CLIP-T | forgetting | total |",
        "|---|---|---|---|---|---|",
        f"| DreamBooth paper (for comparison) | {PAPER['dino']:.3f} | "
        f"{PAPER['clip_i']:.3f} | {PAPER['clip_t']:.3f} | | |",
    ]
    for s in scores:
        mark = " **chosen**" if s is best else ""
        lines.append(
            f"| {s.checkpoint}{mark} | {s.dino:.3f} | {s.clip_i:.3f} | {s.clip_t:.3f} "
            f"| {s.forgetting:.3f} | {s.total:.3f} |"
        )
    prompts = validation_prompts(req.token, req.cls)
    lines += [
        "",
        "Rule: the highest (DINO + CLIP-I) / 2 + CLIP-T − forgetting; the earlier "
        "checkpoint on a tie.",
        "",
        "Contact sheet columns (each prompt with seeds "
        f"{', '.join(map(str, SEEDS))}): " + "; ".join(prompts),
        "",
    ]
    return "\n".join(lines)


def train(
    config: Config,
    req: TrainRequest,
    known: dict[str, str],
    report: Callable[[str], None] = lambda s: print(s, file=sys.stderr, flush=True),
    pause: Callable[[], None] = lambda: None,
) -> Path:
    """Run everything; returns OUT/TOKEN. `known`: existing concept ids → their prompt."""
    check_token(req.token, set(known))
    t = config.training
    # --base: a catalogue name (recorded in the entry: the concept is drawn by its token on
    # that model only), or a hub id / folder; none: the default model
    catalogue = config.catalogue()
    named = req.base if req.base in catalogue else ""
    base = (config.model(catalogue[named].path) if named else req.base) or config.model(
        config.generator_path
    )
    device = pick_device(config.models.device)
    prepared = prepare(req.photos, size=t.resolution)
    report(prepared.report())
    target = req.out / req.token
    target.mkdir(parents=True, exist_ok=True)
    prior = class_images(
        base,
        req.cls,
        req.class_images * len(prepared.images),
        t.resolution,
        config.path(t.class_images),
        device,
        report,
    )
    options = TrainOptions(
        req.token,
        req.cls,
        steps=req.steps or t.steps,
        resolution=t.resolution,
        rank=t.rank,
        learning_rate=t.learning_rate,
        device=device,
        checkpoint_every=min(t.checkpoint_every, req.steps or t.steps),
    )
    seen = describe(config.model(t.captioner), prepared.images, device) if t.captioner else None
    texts = captions(req.token, req.cls, len(prepared.images), seen)
    (target / "captions.txt").write_text(
        "\n".join(f"{name}: {' | '.join(c)}" for name, c in zip(prepared.files, texts, strict=True))
        + "\n",
        encoding="utf-8",
    )
    trainer = LoraTrainer(base, options, target)
    checkpoints = trainer.train(prepared.images, prior, report, pause, texts)
    del trainer
    report(f"scoring {len(checkpoints)} checkpoint(s)")
    embedder = Embedder(config.model(t.clip_model), config.model(t.dino_model), device)
    others = [prompt for cid, prompt in sorted(known.items())][:2]
    scores = score_checkpoints(
        base,
        checkpoints,
        prepared.images,
        req.token,
        req.cls,
        others,
        embedder,
        t.resolution,
        t.validation_steps,
        device,
    )
    best = choose(scores)
    shutil.copy(target / "checkpoints" / best.checkpoint / LORA_FILE, target / LORA_FILE)
    (target / "concept.toml").write_text(concept_entry(req, named), encoding="utf-8")
    (target / "scores.json").write_text(
        json.dumps(
            {
                "chosen": best.checkpoint,
                "rule": "max (dino + clip_i) / 2 + clip_t - forgetting",
                "checkpoints": [s.as_dict() for s in scores],
            },
            indent=2,
        ),
        encoding="utf-8",
    )
    tiny = is_tiny(base)
    (target / "report.md").write_text(
        report_md(req, prepared.report(), scores, best, options.steps, len(prior), tiny),
        encoding="utf-8",
    )
    contact_sheet(scores, best, prepared.images, validation_prompts(req.token, req.cls)).save(
        target / "contact_sheet.png"
    )
    report(f"chose {best.checkpoint} (total {best.total:.3f}); wrote {target}")
    return target
