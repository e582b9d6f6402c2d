"""The bot's user-facing texts in gettext catalogs, one per UI language.

Message ids are English; `bot/locale/<lang>/LC_MESSAGES/zime.po` translates them. The
catalogs are compiled with Babel when first used, so a `.po` file is all a language needs:
adding a language means adding a catalog (see README, "Add a UI language"). `make locale`
re-extracts the ids from the code (`t(lang, "…")` calls) and updates every catalog.
"""

from __future__ import annotations

import gettext
import io
from functools import cache
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

DOMAIN = "zime"
LOCALE_DIR = Path(__file__).resolve().parent
SOURCE_LANGUAGE = "en"  # message ids are English: it needs no catalog
DEFAULT_LANGUAGE = "lv"


def catalog_path(lang: str) -> Path:
    return LOCALE_DIR / lang / "LC_MESSAGES" / f"{DOMAIN}.po"


def languages() -> tuple[str, ...]:
    """Every UI language: the source language and each one with a catalog."""
    found = {p.parent.parent.name for p in LOCALE_DIR.glob(f"*/LC_MESSAGES/{DOMAIN}.po")}
    return tuple(sorted(found | {SOURCE_LANGUAGE}))


@cache
def translations(lang: str) -> gettext.NullTranslations:
    path = catalog_path(lang)
    if not path.is_file():
        return gettext.NullTranslations()
    with path.open("rb") as f:
        catalog = read_po(f, locale=lang.replace("-", "_"), domain=DOMAIN)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return gettext.GNUTranslations(buffer)


def t(lang: str, message: str, **values: object) -> str:
    """`message` (an English msgid) in `lang`, with `{name}` fields filled from `values`."""
    text = translations(lang).gettext(message)
    return text.format(**values) if values else text


def N_(message: str) -> str:
    """Mark `message` for the catalogs where it is only translated later (a table value)."""
    return message


def ui_language(code: str | None, default: str = DEFAULT_LANGUAGE) -> str:
    """The UI language for a client locale ('ru', 'en-GB', 'lv' …): Latvian for Latvian
    clients and where the platform does not say, else the client's language when there is
    a catalog for it, else English."""
    if not code:
        return default
    base = code.lower().replace("_", "-").split("-")[0]
    return base if base in languages() else SOURCE_LANGUAGE
