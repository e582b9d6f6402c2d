from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from bot.locale import catalog_path, languages, t, ui_language
from bot.texts import error_text, progress_text
from core.errors import QueueFull, UnsupportedLanguage

ROOT = Path(__file__).resolve().parent.parent
FIELD = re.compile(r"\{(\w+)\}")


def used_messages() -> set[str]:
    """Every msgid the code passes to t(lang, …) or N_(…), as `make locale` extracts them."""
    found = extract_from_dir(
        str(ROOT / "bot"), method_map=[("**.py", "python")], keywords={"t": (2,), "N_": None}
    )
    return {msg for _file, _line, msg, _comments, _ctx in found if isinstance(msg, str) and msg}


@pytest.mark.parametrize("lang", ["lv", "ru"])
def test_every_text_is_translated_with_the_same_fields(lang: str) -> None:
    with catalog_path(lang).open("rb") as f:
        catalog = read_po(f)
    translated = {m.id: m.string for m in catalog if m.id}
    used = used_messages()
    assert len(used) >= 40
    missing = sorted(m for m in used if not translated.get(m))
    assert not missing, f"{lang}: untranslated {missing[:5]}"
    for msgid in used:
        assert set(FIELD.findall(msgid)) == set(FIELD.findall(str(translated[msgid]))), msgid


def test_languages_come_from_the_catalogs() -> None:
    assert set(languages()) == {"en", "lv", "ru"}
    assert ui_language("ru") == "ru" and ui_language("ru-RU") == "ru"
    assert ui_language("lv") == "lv" and ui_language(None) == "lv"
    assert ui_language("de") == "en" and ui_language("en-GB") == "en"


def test_texts_in_three_languages() -> None:
    assert progress_text(0.4, "lv") == "Zīmēju… 40%"
    assert progress_text(0.4, "ru") == "Рисую… 40%"
    assert progress_text(0.4, "en") == "Drawing… 40%"
    assert error_text(QueueFull(3, per_user=True), "ru").startswith("У тебя уже 3")
    assert t("ru", "Cancelled: {n}.", n=2) == "Отменено: 2."


def test_an_unserved_language_is_refused_in_the_users_language_naming_what_is_read() -> None:
    """Issue #33: a Lithuanian sentence from a Latvian user is refused in Latvian, and the
    refusal names every language read now (Russian too, where it is served)."""
    served = ("lv", "en", "ru")
    assert error_text(UnsupportedLanguage("lt", served), "lv") == (
        "Atvaino, lietuviešu valodu vēl nelasu. Lūdzu, raksti latviešu, angļu, krievu valodā."
    )
    assert error_text(UnsupportedLanguage("ltg", served), "ru").startswith("Извините")
    assert "Russian" in error_text(UnsupportedLanguage("et", served), "en")
    assert "this language" in error_text(UnsupportedLanguage("xx", ("lv", "en")), "en")
