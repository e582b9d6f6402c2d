"""The admins' texts: /stats, the runners of /rinda, and what teaching a concept reports
(its headlines, its reasons and its scores). The rest of the shared texts are in
bot/texts.py; all of them go through the same catalogs (bot/locale)."""

from __future__ import annotations

from typing import Any

from bot.locale import t
from bot.texts import percent, seconds, status_name, train_reason
from core.admin import ModelQueue
from core.errors import TrainError
from core.jobs.job import RunnerInfo


def teaching_text(event: str, details: dict[str, Any], lang: str = "lv") -> tuple[str, str]:
    """What a chat training reports: (headline, scores table). Events: started (token, cls,
    name), queued (token), progress (text), failed (token, error), done (token, scores)."""
    if event == "started":
        return t(
            lang,
            "Teaching {name} ({token} {cls}). Send {least}–{most} photos of it, then /gatavs.",
            name=details["name"],
            token=details["token"],
            cls=details["cls"],
            least=4,
            most=20,
        ), ""
    if event == "queued":
        return t(
            lang,
            "Training {token} starts as soon as no picture is waiting; I will send "
            "the results here.",
            token=details["token"],
        ), ""
    if event == "progress":
        return str(details["text"]), ""
    if event == "failed":
        error = details["error"]
        why = train_reason(error, lang) if isinstance(error, TrainError) else str(error)
        return t(
            lang, "Training {token} failed: {error}", token=details["token"], error=why[:1500]
        ), ""
    scores: Any = details["scores"]
    table = "\n".join(
        f"{c['checkpoint']}: DINO {c['dino']:.3f} · CLIP-I {c['clip_i']:.3f} · "
        f"CLIP-T {c['clip_t']:.3f} · −{c['forgetting']:.3f}"
        for c in scores["checkpoints"]
    )
    return t(
        lang,
        "Trained {token}; chosen: {chosen}. /pievienot {token} adds it, /atmest "
        "{token} discards it.",
        token=details["token"],
        chosen=scores["chosen"],
    ), table


def runners_text(runners: list[RunnerInfo], lang: str = "lv") -> str:
    """/rinda and /stats: each runner with its device, state and last heartbeat, the models
    it serves and those it has loaded."""
    lines = []
    for r in runners:
        state = t(lang, "down") if r.down else t(lang, "busy") if r.busy else t(lang, "idle")
        lines.append(
            f"• {r.name} · {r.device or '?'} · {state} · {seconds(r.heartbeat_age_s, lang)}"
        )
        lines.append(
            "  "
            + t(
                lang,
                "serves: {served}; loaded: {loaded}; loads: {loads}",
                served=", ".join(r.served) or r.model,
                loaded=", ".join(r.loaded) or "—",
                loads=sum(r.loads.values()),
            )
        )
    return t(lang, "Runners:") + "\n" + "\n".join(lines) if lines else ""


def model_queues_text(rows: list[ModelQueue], lang: str = "lv") -> str:
    """/rinda: the queue per model, and which runners serve it; a model without one waits."""
    lines = []
    for q in rows:
        line = t(
            lang,
            "{model}: {queued} queued, {drawing} drawing",
            model=q.model,
            queued=q.queued,
            drawing=q.drawing,
        )
        if q.paused:
            line += " · " + t(lang, "paused: no runner serves it")
        elif q.runners:
            line += " · " + ", ".join(q.runners)
        lines.append(line)
    return t(lang, "Models:") + "\n" + "\n".join(lines) if lines else ""


def stats_text(s: dict[str, Any], lang: str = "lv") -> str:
    """Admin statistics from Service.stats, in words and rounded numbers."""
    by_status: dict[str, int] = s["by_status"]
    total = sum(by_status.values())
    states = ", ".join(f"{status_name(k, lang)} {v}" for k, v in sorted(by_status.items())) or "—"
    days = ", ".join(f"{day}: {n}" for day, n in sorted(s["jobs_per_day"].items())) or "—"
    failures = int(s["failures"])
    text = t(
        lang,
        "Queued: {queued}\nLast 7 days: {states}\nPer day: {per_day}\n"
        "Median wait: {wait}, drawing: {draw}\nFailures: {failures} ({share})\n"
        "Model: {model}",
        queued=s["queued"],
        states=states,
        per_day=days,
        wait=seconds(s["median_wait_s"], lang),
        draw=seconds(s["median_draw_s"], lang),
        failures=failures,
        share=percent(failures, total),
        model=s["model"],
    )
    return text + ("\n" + runners_text(s["runners"], lang) if s.get("runners") else "")
