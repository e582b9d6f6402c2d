"""Latvian text normalization, folding for matching, and language routing (lv / en)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any, Literal

from core.errors import ControlCharacters, EmptyPrompt, PromptTooLong

Lang = Literal["lv", "en"]

DEFAULT_MAX_CHARS = 300

_MENTION = re.compile(r"(?<![\w@])@[A-Za-z0-9_]{3,64}\b")
_WS = re.compile(r"\s+")
# Letters (incl. Latvian ones) and digits; an apostrophe inside a word keeps it whole
# ("Riga's"), a hyphen separates ("pieminekļa-siluets").
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")
_FOLD = str.maketrans("āčēģīķļņšūžōŗ", "acegiklnsuzor")
_LV_LETTERS = frozenset("āčēģīķļņšūžĀČĒĢĪĶĻŅŠŪŽ")
_ALLOWED_CONTROL = frozenset("\t\n\r")


def normalize(text: str, *, max_chars: int = DEFAULT_MAX_CHARS, bot_username: str = "") -> str:
    """NFC, strip @mentions (of this bot, or any when `bot_username` is empty), collapse spaces.

    Raises EmptyPrompt, PromptTooLong or ControlCharacters with the offending value.
    """
    text = unicodedata.normalize("NFC", text)
    for ch in text:
        if ch in _ALLOWED_CONTROL:
            continue
        if unicodedata.category(ch) in ("Cc", "Cs", "Co") or ch in "\u2028\u2029":
            raise ControlCharacters(ord(ch))
    # Zero-width and BOM characters carry nothing visible; they would only break matching.
    text = re.sub("[\u200b\u200c\u200d\u2060\ufeff]", "", text)
    if bot_username:
        text = re.sub(rf"(?<![\w@])@{re.escape(bot_username.lstrip('@'))}\b", " ", text, flags=re.I)
    else:
        text = _MENTION.sub(" ", text)
    text = _WS.sub(" ", text).strip()
    if not text:
        raise EmptyPrompt()
    if len(text) > max_chars:
        raise PromptTooLong(len(text), max_chars)
    return text


_DOUBLED_VOWEL = re.compile(r"([aeiu])\1")


def fold(text: str) -> str:
    """Lower-case and strip Latvian diacritics: 'Pieminekļa' -> 'pieminekla'.

    Doubled vowels are the chat spelling of long ones ('melnaa' for 'melnā'), so they fold
    to one letter as well."""
    return _DOUBLED_VOWEL.sub(r"\1", text.lower().translate(_FOLD))


@dataclass(frozen=True)
class Word:
    text: str
    start: int
    end: int

    @cached_property
    def folded(self) -> str:  # read once per candidate pattern: compute once
        return fold(self.text)


def words(text: str) -> Iterator[Word]:
    for m in _WORD.finditer(text):
        yield Word(m.group(), m.start(), m.end())


# Closed-class words are the best language signal in short chat prompts typed without
# diacritics ("kakis uz jumta"). Folded forms, so they match with or without diacritics.
LV_FUNCTION_WORDS = frozenset(
    """
    un uz ar pie par pa zem virs aiz pret starp bez pec lidz ap gar caur ka ko kas ir bija
    ari vai bet jo ta tas tas seit tur kur kad tik loti viens viena divi tris mans mana tavs
    tava savs sava vins vina vini vinas es tu mes jus ir nav ne jau vel kurs kura kuri kuras
    saja sis si sie kaut neka nekas visi visas viss laba labs liels liela maza mazs skaists
    skaista sarkans sarkana zils zila zals zala balts balta melns melna dzeltens dzeltena
    jauns jauna vecs veca ziema vasara rudeni pavasari nakti vakara rita diena
    """.split()
)
EN_FUNCTION_WORDS = frozenset(
    """
    the a an of in on at with and or from by for is are was be this that these those it its
    his her their my your our near under over above behind next into onto as like very big
    small red blue green white black yellow old new beautiful night day morning evening
    sunset sunrise winter summer autumn spring snow rain photo painting picture drawing
    style standing sitting walking flying cat dog woman house city street
    """.split()
)


@lru_cache(maxsize=1)
def _identifier() -> Any:
    import py3langid.langid as langid  # small, pure-Python model shipped with the package

    ident = langid.LanguageIdentifier.from_model_file(langid.MODEL_FILE, norm_probs=True)
    ident.set_languages(["lv", "en", "lt", "et", "de"])
    return ident


def detect_language(text: str) -> Lang:
    """'lv' or 'en'. Latvian letters or Latvian function words decide first; py3langid then
    judges the rest, restricted to the languages a Latvian user plausibly types."""
    if any(ch in _LV_LETTERS for ch in text):
        return "lv"
    toks = [w.folded for w in words(text)]
    if not toks:
        return "lv"
    lv_hits = sum(t in LV_FUNCTION_WORDS for t in toks)
    en_hits = sum(t in EN_FUNCTION_WORDS for t in toks)
    if lv_hits != en_hits:
        return "lv" if lv_hits > en_hits else "en"
    lang, _prob = _identifier().classify(text.lower())
    # Latvian typed without diacritics often looks Lithuanian/Estonian to a generic model;
    # for this bot anything that is not English is Latvian.
    return "en" if lang == "en" else "lv"
