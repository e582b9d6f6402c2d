"""What a user's own commands show: /iestatijumi, /vesture, /palidziba and /modeli. The
shared texts (errors, captions, status) are in bot/texts.py; all of them go through the
same catalogs (bot/locale)."""

from __future__ import annotations

from typing import Any

from bot.locale import t
from bot.option_texts import styles_list
from bot.texts import EXAMPLE, status_name
from core.jobs.job import Job
from core.modelops import ModelInfo


def settings_text(settings: dict[str, Any], lang: str) -> str:
    """/iestatijumi: the user's settings, and how to change them."""
    aspect = settings.get("aspect")
    return t(
        lang,
        "Your settings:\nimages per request: {count}\naspect ratio: {aspect}\n"
        "results privately when asked in a group: {private}\nlanguage: {language}\n"
        "model: {model}\nfast: {fast}\n"
        "Change: /iestatijumi skaits=4 formats=3:2 privāti=jā valoda=lv modelis=NAME ātri=jā",
        count=settings.get("count", "—"),
        aspect=f"{aspect[0]}:{aspect[1]}" if aspect else "—",
        private=t(lang, "yes") if settings.get("private") else t(lang, "no"),
        language=settings.get("language", "—"),
        model=settings.get("model") or "—",
        fast=t(lang, "yes") if settings.get("fast") else t(lang, "no"),
    )


# a job's kind in /vesture, the same symbol as the button that made it
HISTORY_ICONS = {
    "upscale": "🔍",
    "variation": "🔀",
    "edit": "✏️",
    "region": "🖌",
    "zoom": "🔭",
    "photo": "📷",
    "grid": "▦",
}


def history_line(job: Job, lang: str) -> str:
    """One /vesture line: id, where a derived job came from, its state, seed and what was
    asked ("#12 · 🔀 #10 · gatavs · sēkla 7 · …")."""
    icon = HISTORY_ICONS.get(job.kind, "🔁" if job.parent_id else "")  # 🔁: drawn again
    origin = f" · {icon} #{job.parent_id}" if job.parent_id else f" · {icon}" if icon else ""
    text = job.request_text if len(job.request_text) <= 60 else job.request_text[:59] + "…"
    seed = t(lang, "seed {seed}", seed=job.seed)
    return f"#{job.id}{origin} · {status_name(job.status, lang)} · {seed} · {text}"


def help_text(concepts: list[tuple[str, str]], lang: str = "lv") -> str:
    known = "\n".join(f"• {lv} ({en})" for lv, en in concepts)
    return (
        t(
            lang,
            "I draw pictures from a Latvian (or English) description.\n"
            "Examples:\n  {example}\n  /zime Vanšu tilts saulrietā\n  /zime kaķis pie Brīvības pieminekļa\n"
            "Commands: /zime <text>, /vesture (history), /iestatijumi (settings), /atcelt (cancel), "
            "/palidziba (help)\n"
            "Options anywhere in the text:\n"
            "  --ar 16:9 (aspect ratio), --ne <words> (what to leave out), --sēkla 42 (seed),\n"
            "  --soļi 30 (steps), --skaits 4 (images: 4 come as a grid),\n"
            "  --stiprums 0.6 (with a photo: how far to move from it, 0.1–1);\n"
            "  at the end: , ainava / , portrets / , kvadrāts\n"
            "What to leave out, in words: Vecrīga bez cilvēkiem, ainava bez mājām un ceļiem.\n"
            "Styles, at the end after a comma (Rīgas doms, akvarelis), as „… stilā“ or --stils:\n"
            "  {styles}\n"
            "From your photo: send it with the caption /zime <text>, or answer a photo with /zime <text>.\n"
            "Buttons: U1–U4 send one image of the grid alone, V1–V4 draw variations of it; "
            "🔍 2× draws an image at twice the size, 🔀 varies it, 📄 sends the PNG, "
            "✏️ lets you correct the English prompt, 🗑 deletes the picture.\n"
            "Settings: /iestatijumi skaits=4 formats=3:2 privāti=jā valoda=lv (or its buttons).\n"
            "I know:\n{known}",
            example=EXAMPLE,
            known=known,
            styles=styles_list(lang),
        )
        + "\n"
        + t(
            lang,
            "More: /velreiz N draws picture N again with a new seed, /atkartot N with its own; "
            "/galerija shows your pictures on a web page, /labot (as a reply to a picture) redraws "
            "a part of it, /modeli lists the models, /atcelt cancels. 🔁 is always a new seed, "
            "♻️ the same one, 🔭 zooms out.",
        )
    )


def models_text(models: list[ModelInfo], lang: str) -> str:
    """/modeli: every model, the name to type after --modelis and its aliases, its display
    name and what it is, whether it draws now, its fast mode, and the user's default."""
    lines = [t(lang, "Models (choose with --modelis NAME, or /iestatijumi modelis=NAME):")]
    for m in models:
        names = ", ".join((m.name, *m.aliases))
        marks = [
            t(lang, "not available now")
            if m.offline
            else t(lang, "drawing now")
            if m.drawing
            else t(lang, "loads on the first request")
        ]
        if m.fast:
            marks.append(t(lang, "fast mode: --ātri"))
        if m.default:
            marks.append(t(lang, "your default"))
        about = f": {m.about}" if m.about else ""
        lines.append(f"• {names} — {m.display}{about} · " + " · ".join(marks))
    return "\n".join(lines)
