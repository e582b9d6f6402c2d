"""The concept matcher's parts (core/lang/concepts.py uses them): a concept and a match as
records, each alias compiled into word patterns (inflected, English, Russian, Lithuanian,
glued, typo forms), and the rules between words (gaps, exclusion phrases)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from core.lang.morph import (
    VOCATIVE_PARADIGMS,
    english_key,
    is_cyrillic,
    lt_stem,
    near_any,
    paradigm,
    ru_readings,
    ru_stem,
    split_ending,
    stem_candidates,
)
from core.lang.text import Word, fold, words

# Characters allowed between two words of one name: spaces, hyphens, quotes, and the
# underscores and hash signs of hashtags ("Gaismas_pils").
GAP_CHARS = frozenset(" \t.-–—\"'«»“”„‘’_#")
# Typo tolerance. A word of a multi-word name may carry one typo when it has at least
# FUZZY_MIN letters: the other words of the name must match, so "Brivibas pieminekis"
# is safe while a lone "pieminekis" is not a concept at all. A name of one word must be
# long and distinctive (FUZZY_MIN_ALONE letters: "piperkūkas", "Melgalvji") before a typo
# in it is forgiven; short ones ("Milda" ~ "mild", "Rainis" ~ "rains") never are.
FUZZY_MIN = 5
FUZZY_MIN_ALONE = 8

# An exclusion phrase ("iela", "of Estonia", "#"): words that, next to a match, mean the
# name is something else. Each word is a folded key; "#" stands for any number.
Phrase = tuple[str, ...]


@dataclass(frozen=True)
class Concept:
    id: str
    cls: str
    name_lv: str
    name_en: str
    lv: tuple[str, ...]
    en: tuple[str, ...]
    abbr: tuple[str, ...] = ()
    ru: tuple[str, ...] = ()
    mt: tuple[str, ...] = ()  # how translators render it; looked for in translations only
    lt: tuple[str, ...] = ()  # Lithuanian names, matched by stem in any case
    ltg: tuple[str, ...] = ()  # Latgalian names, inflected like the Latvian ones
    not_before: tuple[Phrase, ...] = ()
    not_after: tuple[Phrase, ...] = ()
    adapter: bool = False  # a trained concept: its LoRA is loaded by the generator
    base: str = ""  # a trained concept: the catalogue model it was trained on ("": default)
    description: str = ""  # in English, for a model that does not know the token

    @property
    def described(self) -> str:
        """What a model that does not know the token is told instead."""
        return self.description or self.name_en

    @property
    def phrase(self) -> str:
        """The prompt phrase: the model token followed by its class ('brivpiem statue')."""
        return f"{self.id} {self.cls}".strip()


@dataclass(frozen=True)
class Match:
    id: str
    start: int
    end: int
    text: str
    via: str = "lv"  # which alias list matched: lv | ltg | lt | en | ru | mt | token | abbr
    fuzzy: bool = False  # one word matched with a one-letter typo

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "start": self.start, "end": self.end, "text": self.text}


# One word of an alias pattern: how an input word is compared with it.
@dataclass(frozen=True)
class WordPattern:
    kind: str  # "exact" | "inflect" | "en" | "abbr" | "ru" | "lt"
    key: str
    endings: frozenset[str] = frozenset()
    forms: frozenset[str] = frozenset()  # whole folded forms, for typo matching

    def accepts(self, w: Word) -> bool:
        if self.kind == "abbr":
            return w.text == self.key
        if self.kind == "exact":
            return w.folded == self.key
        if self.kind == "en":
            return english_key(w.folded) == self.key
        if self.kind == "ru":
            return self.key in ru_readings(w.folded)
        if self.kind == "lt":
            return not is_cyrillic(w.text) and lt_stem(w.folded) == self.key
        return any(
            stem == self.key and (ending in self.endings or ending == "*")
            for stem, ending in stem_candidates(w.folded)
        )

    def accepts_typo(self, w: Word) -> bool:
        if not self.forms or len(w.folded) < FUZZY_MIN - 1:  # a deletion from 5 letters
            return False
        key = english_key(w.folded) if self.kind == "en" else w.folded
        return near_any(key, self.forms)


@dataclass(frozen=True)
class Pattern:
    concept: Concept
    words: tuple[WordPattern, ...]
    via: str = "lv"


def lv_word(word: str, last: bool, alone: bool) -> WordPattern:
    folded = fold(word)
    lower = word.lower()
    inflects = (
        last
        or lower.endswith(("ais", "ā", "ās"))
        or (lower.endswith(("is", "s", "š")) and not lower.endswith(("as", "es", "ts")))
    )
    endings = paradigm(word) if inflects else frozenset()
    stem, ending = split_ending(folded)
    if not endings or not ending:  # a fixed genitive, or too short to inflect ("LU")
        return WordPattern("exact", folded, forms=typo_forms({folded}, alone))
    if last and not alone and endings in VOCATIVE_PARADIGMS:
        endings = endings | {""}  # "Vanšu tilt!": safe, the genitive before it pins the name
    forms = {stem + e for e in endings}
    return WordPattern("inflect", stem, endings, typo_forms(forms, alone))


def typo_forms(forms: set[str], alone: bool) -> frozenset[str]:
    """The forms a one-letter typo may be measured against (none when it is not safe)."""
    shortest = min((len(f) for f in forms), default=0)
    return (
        frozenset(forms) if shortest >= (FUZZY_MIN_ALONE if alone else FUZZY_MIN) else frozenset()
    )


def en_word(word: str, alone: bool) -> WordPattern:
    key = english_key(fold(word))
    return WordPattern("en", key, forms=typo_forms({key}, alone))


def compile_patterns(concept: Concept) -> list[Pattern]:
    out: list[Pattern] = []
    for via, lv_like in (("lv", concept.lv), ("ltg", concept.ltg)):
        for alias in lv_like:
            ws = [w.text for w in words(alias)]
            alone = len(ws) == 1
            out.append(
                Pattern(
                    concept,
                    tuple(lv_word(w, i == len(ws) - 1, alone) for i, w in enumerate(ws)),
                    via,
                )
            )
            if not alone:  # glued, as in hashtags: "#gaismaspils"; long enough to be distinctive
                out.append(Pattern(concept, (lv_word("".join(ws), True, True),), via))
    for alias in concept.lt:
        ws = [lt_stem(w.folded) for w in words(alias)]
        out.append(Pattern(concept, tuple(WordPattern("lt", w) for w in ws), "lt"))
    for via, aliases in (("en", concept.en), ("mt", concept.mt)):
        for alias in aliases:
            ws = [w.text for w in words(alias)]
            out.append(Pattern(concept, tuple(en_word(w, len(ws) == 1) for w in ws), via))
            if len(ws) > 1 and via == "en":  # "#freedommonument"
                out.append(Pattern(concept, (en_word("".join(ws), True),), via))
    for alias in concept.ru:
        ws = [ru_stem(w.folded) for w in words(alias)]
        out.append(Pattern(concept, tuple(WordPattern("ru", w) for w in ws), "ru"))
    token = fold(concept.id)
    out.append(Pattern(concept, (WordPattern("exact", token),), "token"))
    for abbr in concept.abbr:
        out.append(Pattern(concept, (WordPattern("abbr", abbr),), "abbr"))
    return out


def first_keys(w: Word) -> set[str]:
    if is_cyrillic(w.text):
        return set(ru_readings(w.folded))
    keys = {w.text, w.folded, english_key(w.folded), lt_stem(w.folded)}
    keys.update(stem for stem, _ in stem_candidates(w.folded))
    return keys


def gap_ok(text: str, a: Word, b: Word) -> bool:
    gap = text[a.end : b.start]
    return len(gap) <= 3 and all(ch in GAP_CHARS for ch in gap)


def phrase_word_ok(key: str, w: Word) -> bool:
    """Loose comparison for exclusion words: any inflection in any of our languages."""
    if key == "#":
        return w.text.isdigit()
    f = w.folded
    if f == key or english_key(f) == english_key(key):
        return True
    if is_cyrillic(f):
        return ru_stem(key) in ru_readings(f)
    stem = split_ending(key)[0]
    return len(stem) >= 3 and split_ending(f)[0] == stem


def phrase_at(phrase: Phrase, ws: Sequence[Word]) -> bool:
    return len(ws) == len(phrase) and all(
        phrase_word_ok(k, w) for k, w in zip(phrase, ws, strict=True)
    )


def phrases(item: dict[str, Any], key: str) -> tuple[Phrase, ...]:
    return tuple(
        tuple("#" if w == "#" else fold(w) for w in p.split())
        for p in item.get(key, ())
        if p.split()
    )


@dataclass(order=True)
class Candidate:
    n_words: int
    exact: bool
    # on a tie the Latvian reading wins ("Vanšu tilt!" is Latvian, not a Lithuanian stem)
    primary: bool = False
    pattern: Pattern | None = field(default=None, compare=False)
