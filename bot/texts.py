"""User-facing texts (Latvian first, English for everyone else) shared by the frontends."""

from __future__ import annotations

from typing import Any

from core.errors import (
    Banned,
    BlockedPrompt,
    ControlCharacters,
    EmptyPrompt,
    JobCancelled,
    JobFailed,
    NotAdmin,
    NotFound,
    PromptTooLong,
    QueueFull,
    RateLimited,
    ZimeError,
)

EXAMPLE = "/zime Rīgas balzama pudele uz galda"


def pick(lang: str, lv: str, en: str) -> str:
    return lv if lang == "lv" else en


def error_text(exc: ZimeError, lang: str = "lv") -> str:
    """One clear sentence for every error a user can cause; never a stack trace."""
    if isinstance(exc, EmptyPrompt):
        return pick(lang, f"Uzraksti, ko uzzīmēt, piemēram: {EXAMPLE}",
                    f"Write what to draw, for example: {EXAMPLE}")  # fmt: skip
    if isinstance(exc, PromptTooLong):
        return pick(lang, f"Pārāk garš teksts: {exc.length} zīmes, atļautas {exc.limit}.",
                    f"Too long: {exc.length} characters, the limit is {exc.limit}.")  # fmt: skip
    if isinstance(exc, ControlCharacters):
        return pick(lang, "Tekstā ir neredzamas vadības rakstzīmes — lūdzu, pārraksti to.",
                    "The text contains invisible control characters; please retype it.")  # fmt: skip
    if isinstance(exc, BlockedPrompt):
        return pick(
            lang, "Šo es nezīmēšu. Pamēģini ko citu.", "I won't draw that. Try something else."
        )
    if isinstance(exc, RateLimited):
        secs = round(exc.retry_after)
        return pick(
            lang, f"Pagaidi {secs} s un mēģini vēlreiz.", f"Please wait {secs} s and try again."
        )
    if isinstance(exc, QueueFull):
        if exc.per_user:
            return pick(lang, f"Tev jau ir {exc.limit} zīmējumi rindā — pagaidi, kamēr tie top.",
                        f"You already have {exc.limit} pictures queued; wait for them.")  # fmt: skip
        return pick(
            lang, "Rinda ir pilna. Pamēģini pēc brītiņa.", "The queue is full. Try again soon."
        )
    if isinstance(exc, Banned):
        return pick(
            lang, "Tev nav atļauts izmantot šo botu.", "You are not allowed to use this bot."
        )
    if isinstance(exc, NotAdmin):
        return pick(
            lang, "Šī komanda ir tikai administratoriem.", "This command is for admins only."
        )
    if isinstance(exc, NotFound):
        return pick(lang, "Tāds zīmējums nav atrasts.", "No such picture.")
    if isinstance(exc, JobCancelled):
        return pick(lang, "Atcelts.", "Cancelled.")
    if isinstance(exc, JobFailed):
        return pick(lang, f"Neizdevās uzzīmēt: {exc}", f"Drawing failed: {exc}")
    return pick(lang, f"Kļūda: {exc}", f"Error: {exc}")


def job_error(row: dict[str, Any]) -> ZimeError:
    """The error to show for a job that ended without an image (a store row)."""
    if row["status"] == "cancelled":
        return JobCancelled()
    return JobFailed(row.get("error") or "")


def queued_text(position: int | None, lang: str = "lv") -> str:
    return pick(lang, f"Rindā: {position}.", f"Queued: {position}.") if position else ""


def progress_text(progress: float, lang: str = "lv") -> str:
    pct = round(progress * 100)
    return pick(lang, f"Zīmēju… {pct}%", f"Drawing… {pct}%")


def caption(prompt: str, concept_names: tuple[str, ...], seed: int, lang: str = "lv",
            demo: bool = False) -> str:  # fmt: skip
    understood = ", ".join(concept_names) or "—"
    lines = [
        pick(lang, f"Uzzīmēts: {prompt}", f"Drawn: {prompt}"),
        pick(lang, f"Atpazinu: {understood}", f"Recognised: {understood}"),
        f"Seed: {seed}",
    ]
    if demo:
        lines.append(pick(lang, "(demo: nejauši modeļi — attēls ir troksnis)",
                          "(demo: random models, the image is noise)"))  # fmt: skip
    return "\n".join(lines)


def help_text(concepts: list[tuple[str, str]], lang: str = "lv") -> str:
    known = "\n".join(f"• {lv} ({en})" for lv, en in concepts)
    return pick(
        lang,
        "Es zīmēju attēlus pēc latviska apraksta.\n"
        f"Piemēri:\n  {EXAMPLE}\n  /zime Vanšu tilts saulrietā\n  /zime kaķis pie Brīvības pieminekļa\n"
        "Komandas: /zime <teksts>, /vesture, /atcelt, /palidziba\n"
        f"Es pazīstu:\n{known}",
        "I draw pictures from a Latvian (or English) description.\n"
        f"Examples:\n  {EXAMPLE}\n  /zime Vanšu tilts saulrietā\n"
        "Commands: /zime <text>, /vesture (history), /atcelt (cancel), /palidziba (help)\n"
        f"I know:\n{known}",
    )


def stats_text(s: dict[str, Any]) -> str:
    """Admin statistics from Service.stats (admins read Latvian)."""
    return (
        f"Rindā: {s['queued']}\nPa statusiem: {s['by_status']}\n"
        f"Dienā: {s['jobs_per_day']}\nMediānā gaida: {s['median_wait_s']} s, "
        f"zīmē: {s['median_draw_s']} s\nKļūdas: {s['failures']}\nModelis: {s['model']}"
    )
