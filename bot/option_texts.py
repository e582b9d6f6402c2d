"""The sentences for a bad option (`--ar 5:1`, `--stils x`, `skaits=9` …), each naming the
flag and what it takes, and the list of styles they and /palidziba show. Split from
bot/texts.py, which calls `bad_option` from `error_text`."""

from __future__ import annotations

from bot.locale import t
from core.lang.options import BadOption
from core.lang.styles import Styles


def bad_option(exc: BadOption, lang: str) -> str:
    """One sentence naming the flag and what it allows; nothing was drawn."""
    if exc.allowed == "ratio":
        return t(
            lang,
            "{flag} takes a ratio W:H up to 3:1, for example 3:2 or 16:9. Nothing was drawn.",
            flag=exc.flag,
        )
    if exc.allowed == "negative":
        return t(
            lang,
            "{flag} takes the things to leave out, for example: --ne cilvēki. Nothing was drawn.",
            flag=exc.flag,
        )
    if exc.allowed == "photo":
        return t(
            lang,
            "{flag} works only when drawing from a photo: send one with the caption "
            "/zime <text>. Nothing was drawn.",
            flag=exc.flag,
        )
    if exc.allowed == "style":
        return t(
            lang,
            "{flag} takes a style: {styles}. Nothing was drawn.",
            flag=exc.flag,
            styles=styles_list(lang),
        )
    if exc.allowed == "fraction":
        return t(
            lang,
            "{flag} takes a number from 0.1 to 1, for example 0.6. Nothing was drawn.",
            flag=exc.flag,
        )
    if exc.allowed == "max_side":
        return t(lang, "This picture is already as large as I draw. Nothing was drawn.")
    if exc.allowed == "settings":
        return t(
            lang,
            "Unknown setting {flag}. Use: skaits=1–4, formats=3:2, privāti=jā/ne, "
            "valoda=lv/ru/en, modelis=NAME, ātri=jā/ne.",
            flag=exc.flag,
        )
    if exc.allowed == "model":
        return t(
            lang, "{flag} takes a model name: /modeli lists them. Nothing was drawn.", flag=exc.flag
        )
    if "/" in exc.allowed:
        return t(lang, "{flag} takes one of: {choices}.", flag=exc.flag, choices=exc.allowed)
    return t(
        lang,
        "{flag} takes a whole number from {range}. Nothing was drawn.",
        flag=exc.flag,
        range=exc.allowed,
    )


def styles_list(lang: str) -> str:
    """Every style as the user may name it: "akvarelis (watercolor), …"."""
    return ", ".join(
        f"{s.name(lang)} ({s.id})" if s.name(lang) != s.id else s.id for s in Styles.load()
    )
