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
        raise TrainError(N_("the token {token} must be 4–31 lowercase letters or digits, "
                            "starting with a letter (e.g. rigasdoms)"), token=token)  # fmt: skip
    if token in known:
        raise TrainError(N_("the token {token} is already a concept"), token=token)


def concept_entry(req: TrainRequest) -> str:
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
        "adapter = true\n"
    )


def contact_sheet(scores: list[Scores], cell: int = 128) -> Any:
    """Checkpoints (rows) × validation images (columns), with no text: an admin looks."""
    from PIL import Image

    cols = max(len(s.images) for s in scores)
    sheet = Image.new("RGB", (cols * cell, len(scores) * cell), "white")
    for r, s in enumerate(scores):
        for c, img in enumerate(s.images):
            sheet.paste(img.resize((cell, cell)), (c * cell, r * cell))
    return sheet


def report_md(req: TrainRequest, prepared_report: str, scores: list[Scores], best: Scores) -> str:
    lines = [f"# {req.name_lv} (`{req.token} {req.cls}`)", "", "## Photos", "", "```",
             prepared_report, "```", "", "## Checkpoints", "",
             "| checkpoint | DINO | CLIP-I | CLIP-T | forgetting | total |",
             "|---|---|---|---|---|---|"]  # fmt: skip
    for s in scores:
        mark = " **chosen**" if s is best else ""
        lines.append(f"| {s.checkpoint}{mark} | {s.dino:.3f} | {s.clip_i:.3f} | {s.clip_t:.3f} "
                     f"| {s.forgetting:.3f} | {s.total:.3f} |")  # fmt: skip
    prompts = validation_prompts(req.token, req.cls)
    lines += ["", "Rule: the highest (DINO + CLIP-I) / 2 + CLIP-T − forgetting; the earlier "
              "checkpoint on a tie.", "", "Contact sheet columns (each prompt with seeds "
              f"{', '.join(map(str, SEEDS))}): " + "; ".join(prompts), ""]  # fmt: skip
    return "\n".join(lines)


def train(
    config: Config, req: TrainRequest, known: dict[str, str],
    report: Callable[[str], None] = lambda s: print(s, file=sys.stderr, flush=True),
    pause: Callable[[], None] = lambda: None,
) -> Path:  # fmt: skip
    """Run everything; returns OUT/TOKEN. `known`: existing concept ids → their prompt."""
    check_token(req.token, set(known))
    t = config.training
    base = req.base or config.model(config.models.generator)
    device = pick_device(config.models.device)
    prepared = prepare(req.photos, size=t.resolution)
    report(prepared.report())
    target = req.out / req.token
    target.mkdir(parents=True, exist_ok=True)
    prior = class_images(base, req.cls, req.class_images * len(prepared.images), t.resolution,
                         config.path(t.class_images), device, report)  # fmt: skip
    options = TrainOptions(req.token, req.cls, steps=req.steps or t.steps,
                           resolution=t.resolution, rank=t.rank,
                           learning_rate=t.learning_rate, device=device,
                           checkpoint_every=min(t.checkpoint_every, req.steps or t.steps))  # fmt: skip
    seen = describe(config.model(t.captioner), prepared.images, device) if t.captioner else None
    texts = captions(req.token, req.cls, len(prepared.images), seen)
    (target / "captions.txt").write_text("\n".join(
        f"{name}: {' | '.join(c)}" for name, c in zip(prepared.files, texts, strict=True)) + "\n",
        encoding="utf-8")  # fmt: skip
    trainer = LoraTrainer(base, options, target)
    checkpoints = trainer.train(prepared.images, prior, report, pause, texts)
    del trainer
    report(f"scoring {len(checkpoints)} checkpoint(s)")
    embedder = Embedder(config.model(t.clip_model), config.model(t.dino_model), device)
    others = [prompt for cid, prompt in sorted(known.items())][:2]
    scores = score_checkpoints(base, checkpoints, prepared.images, req.token, req.cls, others,
                               embedder, t.resolution, t.validation_steps, device)  # fmt: skip
    best = choose(scores)
    shutil.copy(target / "checkpoints" / best.checkpoint / LORA_FILE, target / LORA_FILE)
    (target / "concept.toml").write_text(concept_entry(req), encoding="utf-8")
    (target / "scores.json").write_text(json.dumps(
        {"chosen": best.checkpoint, "rule": "max (dino + clip_i) / 2 + clip_t - forgetting",
         "checkpoints": [s.as_dict() for s in scores]}, indent=2), encoding="utf-8")  # fmt: skip
    (target / "report.md").write_text(report_md(req, prepared.report(), scores, best),
                                      encoding="utf-8")  # fmt: skip
    contact_sheet(scores).save(target / "contact_sheet.png")
    report(f"chose {best.checkpoint} (total {best.total:.3f}); wrote {target}")
    return target
