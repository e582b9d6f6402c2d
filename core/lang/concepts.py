"""Concept registry and extraction: find the Latvian concepts the model knows in a prompt.

Matching works on folded words (lower case, no diacritics), so `Brīvības pieminekļa`,
`brivibas piemineklis` and `BRĪVĪBAS PIEMINEKLIM` all match. Inflection is handled with
Lucene's light Latvian stemmer (the `LatvianStemmer` package): a word matches an alias word
when their stems are equal *and* the input's ending is one the alias word's declension can
take — so `Raiņa` (Rainis, 2nd declension) matches but `rains` (a river bank) and the
English `rain` do not. Diminutives (`piparkūciņa`, `tiltiņš`) are undone before comparing.
The data lives in `concepts.toml`; this module holds no concept names.
"""

from __future__ import annotations

import tomllib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import LatvianStemmer

from core.errors import ConfigError
from core.lang.text import Word, fold, words

# Endings (folded) each declension can show, singular and plural. Chosen by the
# nominative ending of the alias word; see `_paradigm`.
_P1 = frozenset({"s", "a", "am", "u", "i", "iem", "us", "os"})  # tilts, balzams
_P2 = frozenset({"is", "a", "im", "i", "u", "iem", "us", "os"})  # Rainis, Jānis
_P3 = frozenset({"us", "um", "u", "i", "iem", "os"})  # tirgus
_P4 = frozenset({"a", "as", "ai", "u", "am"})  # piparkūka, bibliotēka, Milda
_P5 = frozenset({"e", "es", "ei", "i", "u", "em"})  # zīme, universitāte
_P6 = frozenset({"s", "ij", "i", "is", "u", "im"})  # pils
_ADJ = _P1 | {"ais", "ajam", "o", "aja", "ie", "ajiem", "ajos", "as", "ajai", "ajas", "ai", "e"}
_ANY = frozenset({"*"})  # diminutives: the suffix, not the ending, identifies the word

# The stemmer's affixes, folded (ā -> a …) so that words typed without diacritics are
# stemmed like their proper spelling. Order matters (longest first) and is the library's.
_AFFIXES: tuple[tuple[str, int, bool], ...] = tuple(
    dict.fromkeys((fold(a.affix), a.vc, a.palatalizes) for a in LatvianStemmer.affixes)
)
_VOWELS = frozenset("aeiou")
_DIMINUTIVE_SUFFIXES = ("in", "it", "en")  # -iņ-, -īt-, -ēn-
_ALTERNATIONS = (("dz", "g"), ("c", "k"))  # piparkūciņa <- piparkūka, kājiņa <- kāja
_GAP_CHARS = frozenset(" \t.-–—\"'«»“”„‘’")


@lru_cache(maxsize=8192)
def split_ending(folded: str) -> tuple[str, str]:
    """Split a folded word into (stem, ending) with the Latvian light stemmer's rules."""
    vowels = sum(ch in _VOWELS for ch in folded)
    for affix, vc, palatalizes in _AFFIXES:
        if vowels > vc and len(folded) >= len(affix) + 3 and folded.endswith(affix):
            n = len(folded) - len(affix)
            chars = list(folded)
            stem = folded[:n]
            if palatalizes:
                stem = "".join(LatvianStemmer.un_palatalize(chars, n))
            return stem, affix
    return folded, ""


@lru_cache(maxsize=8192)
def stem_candidates(folded: str) -> tuple[tuple[str, str], ...]:
    """(stem, ending) readings of an input word: the plain one and, for diminutives, the
    base word's stem with the wildcard ending."""
    stem, ending = split_ending(folded)
    out = [(stem, ending)]
    for suffix in _DIMINUTIVE_SUFFIXES:
        base = stem[: -len(suffix)]
        if stem.endswith(suffix) and len(base) >= 3 and ending:
            out.append((base, "*"))
            for changed, original in _ALTERNATIONS:
                if base.endswith(changed):
                    out.append((base[: -len(changed)] + original, "*"))
    return tuple(out)


def english_key(folded: str) -> str:
    """Tolerate English plural and possessive: 'blackheads' -> 'blackhead', "riga's" -> 'riga'."""
    for tail in ("'s", "’s"):
        if folded.endswith(tail):
            folded = folded[: -len(tail)]
    if len(folded) > 4 and folded.endswith("ies"):
        return folded[:-3] + "y"
    if len(folded) > 3 and folded.endswith("s") and not folded.endswith("ss"):
        return folded[:-1]
    return folded


@dataclass(frozen=True)
class Concept:
    id: str
    cls: str
    name_lv: str
    name_en: str
    lv: tuple[str, ...]
    en: tuple[str, ...]
    abbr: tuple[str, ...] = ()
    not_before: frozenset[str] = frozenset()

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
    via: str = "lv"  # which alias list matched: lv | en | token | abbr (not in the JSON)

    def as_dict(self) -> dict[str, Any]:
        return {"id": self.id, "start": self.start, "end": self.end, "text": self.text}


# One word of an alias pattern: how an input word is compared with it.
@dataclass(frozen=True)
class _WordPattern:
    kind: str  # "exact" | "inflect" | "en" | "abbr"
    key: str
    endings: frozenset[str] = frozenset()

    def accepts(self, w: Word) -> bool:
        if self.kind == "abbr":
            return w.text == self.key
        if self.kind == "exact":
            return w.folded == self.key
        if self.kind == "en":
            return english_key(w.folded) == self.key
        return any(
            stem == self.key and (ending in self.endings or ending == "*")
            for stem, ending in stem_candidates(w.folded)
        )


@dataclass(frozen=True)
class _Pattern:
    concept: Concept
    words: tuple[_WordPattern, ...]
    via: str = "lv"


def _paradigm(nominative: str) -> frozenset[str]:
    """The endings a Latvian word can take, judged from its nominative (with diacritics)."""
    w = nominative.lower()
    if w.endswith(("ais", "ā", "ās", "ie")):
        return _ADJ
    if w.endswith("is"):
        return _P2
    if w.endswith("us"):
        return _P3
    if w.endswith("es"):
        return _P5
    if w.endswith("as"):
        return _P4
    if w.endswith(("s", "š")):
        return _P1 | _P6
    if w.endswith("a"):
        return _P4
    if w.endswith("e"):
        return _P5
    if w.endswith("i"):
        return _P1
    return frozenset()


def _lv_word(word: str, last: bool) -> _WordPattern:
    folded = fold(word)
    lower = word.lower()
    inflects = (
        last
        or lower.endswith(("ais", "ā", "ās"))
        or (lower.endswith(("is", "s", "š")) and not lower.endswith(("as", "es", "ts")))
    )
    endings = _paradigm(word) if inflects else frozenset()
    if not endings:
        return _WordPattern("exact", folded)
    stem, ending = split_ending(folded)
    if not ending:  # too short to inflect safely ("J", "LU"): compare whole
        return _WordPattern("exact", folded)
    return _WordPattern("inflect", stem, endings)


def _compile(concept: Concept) -> list[_Pattern]:
    out: list[_Pattern] = []
    for alias in concept.lv:
        ws = [w.text for w in words(alias)]
        out.append(
            _Pattern(concept, tuple(_lv_word(w, i == len(ws) - 1) for i, w in enumerate(ws)))
        )
    for alias in concept.en:
        ws = [w.folded for w in words(alias)]
        out.append(_Pattern(concept, tuple(_WordPattern("en", english_key(w)) for w in ws), "en"))
    out.append(_Pattern(concept, (_WordPattern("exact", concept.id),), "token"))
    for abbr in concept.abbr:
        out.append(_Pattern(concept, (_WordPattern("abbr", abbr),), "abbr"))
    return out


def _first_keys(w: Word) -> set[str]:
    keys = {w.text, w.folded, english_key(w.folded)}
    keys.update(stem for stem, _ in stem_candidates(w.folded))
    return keys


def _gap_ok(text: str, a: Word, b: Word) -> bool:
    gap = text[a.end : b.start]
    return len(gap) <= 3 and all(ch in _GAP_CHARS for ch in gap)


class ConceptRegistry:
    """The known concepts and a matcher over them. Build once; `find` is pure and fast."""

    def __init__(self, concepts: Sequence[Concept]) -> None:
        ids = [c.id for c in concepts]
        if len(set(ids)) != len(ids):
            raise ConfigError(f"duplicate concept id in {ids}")
        self.concepts: tuple[Concept, ...] = tuple(concepts)
        self._by_id = {c.id: c for c in concepts}
        self._index: dict[str, list[_Pattern]] = defaultdict(list)
        for concept in concepts:
            for pattern in _compile(concept):
                self._index[pattern.words[0].key].append(pattern)
        for patterns in self._index.values():
            patterns.sort(key=lambda p: -len(p.words))

    @classmethod
    def load(cls, path: str | Path | None = None) -> ConceptRegistry:
        """Load `concepts.toml` (the packaged one when `path` is None)."""
        if path is None:
            raw = resources.files("core.lang").joinpath("concepts.toml").read_text(encoding="utf-8")
        else:
            raw = Path(path).read_text(encoding="utf-8")
        data = tomllib.loads(raw)
        concepts = []
        for i, item in enumerate(data.get("concept", [])):
            try:
                concepts.append(
                    Concept(
                        id=item["id"],
                        cls=item.get("class", ""),
                        name_lv=item["name_lv"],
                        name_en=item["name_en"],
                        lv=tuple(item.get("lv", ())),
                        en=tuple(item.get("en", ())),
                        abbr=tuple(item.get("abbr", ())),
                        not_before=frozenset(fold(w) for w in item.get("not_before", ())),
                    )
                )
            except KeyError as exc:
                raise ConfigError(f"concept #{i + 1} lacks key {exc.args[0]!r}") from exc
        return cls(concepts)

    def get(self, concept_id: str) -> Concept:
        return self._by_id[concept_id]

    def __iter__(self) -> Any:
        return iter(self.concepts)

    def find(self, text: str) -> list[Match]:
        """All concept mentions in `text`, leftmost-longest, non-overlapping, in order."""
        ws = list(words(text))
        found: list[Match] = []
        i = 0
        while i < len(ws):
            match_len, pattern = self._match_at(text, ws, i)
            if pattern is None:
                i += 1
                continue
            start, end = ws[i].start, ws[i + match_len - 1].end
            found.append(Match(pattern.concept.id, start, end, text[start:end], pattern.via))
            i += match_len
        return found

    def _match_at(self, text: str, ws: list[Word], i: int) -> tuple[int, _Pattern | None]:
        best: tuple[int, _Pattern | None] = (0, None)
        seen: set[int] = set()
        for key in _first_keys(ws[i]):
            for pattern in self._index.get(key, ()):
                if id(pattern) in seen:
                    continue
                seen.add(id(pattern))
                n = len(pattern.words)
                if n <= best[0] or i + n > len(ws):
                    continue
                if not all(
                    pw.accepts(ws[i + k]) and (k == 0 or _gap_ok(text, ws[i + k - 1], ws[i + k]))
                    for k, pw in enumerate(pattern.words)
                ):
                    continue
                after = ws[i + n] if i + n < len(ws) else None
                if after is not None and after.folded in pattern.concept.not_before:
                    continue
                best = (n, pattern)
        return best
