"""Concept registry and extraction: find the Latvian concepts the model knows in a prompt.

Matching works on folded words (`core.lang.text.fold`: lower case, no diacritics, chat
spelling undone), so `Brīvības pieminekļa`, `brivibas piemineklis` and `BRĪVĪBAS
PIEMINEKLIM` all match. Inflection is handled with Lucene's light Latvian stemmer (the
`LatvianStemmer` package): a word matches an alias word when their stems are equal *and* the
input's ending is one the alias word's declension can take — so `Raiņa` (Rainis, 2nd
declension) matches but `rains` (a river bank) and the English `rain` do not. Diminutives
(`piparkūciņa`, `tiltiņš`) are undone before comparing. Russian aliases match by stem
(`Памятника Свободы`). One-letter typos are forgiven only where a name stays unmistakable
(see `_fuzzy_allowed`). The data lives in `concepts.toml`; this module holds no concept
names.
"""

from __future__ import annotations

import tomllib
from collections import defaultdict
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from core.errors import ConfigError
from core.lang.morph import (
    VOCATIVE_PARADIGMS,
    deletions,
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
_GAP_CHARS = frozenset(" \t.-–—\"'«»“”„‘’_#")
# Typo tolerance. A word of a multi-word name may carry one typo when it has at least
# _FUZZY_MIN letters: the other words of the name must match, so "Brivibas pieminekis"
# is safe while a lone "pieminekis" is not a concept at all. A name of one word must be
# long and distinctive (_FUZZY_MIN_ALONE letters: "piperkūkas", "Melgalvji") before a typo
# in it is forgiven; short ones ("Milda" ~ "mild", "Rainis" ~ "rains") never are.
_FUZZY_MIN = 5
_FUZZY_MIN_ALONE = 8

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
class _WordPattern:
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
        if not self.forms or len(w.folded) < _FUZZY_MIN - 1:  # a deletion from 5 letters
            return False
        key = english_key(w.folded) if self.kind == "en" else w.folded
        return near_any(key, self.forms)


@dataclass(frozen=True)
class _Pattern:
    concept: Concept
    words: tuple[_WordPattern, ...]
    via: str = "lv"


def _lv_word(word: str, last: bool, alone: bool) -> _WordPattern:
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
        return _WordPattern("exact", folded, forms=_typo_forms({folded}, alone))
    if last and not alone and endings in VOCATIVE_PARADIGMS:
        endings = endings | {""}  # "Vanšu tilt!": safe, the genitive before it pins the name
    forms = {stem + e for e in endings}
    return _WordPattern("inflect", stem, endings, _typo_forms(forms, alone))


def _typo_forms(forms: set[str], alone: bool) -> frozenset[str]:
    """The forms a one-letter typo may be measured against (none when it is not safe)."""
    shortest = min((len(f) for f in forms), default=0)
    return (
        frozenset(forms) if shortest >= (_FUZZY_MIN_ALONE if alone else _FUZZY_MIN) else frozenset()
    )


def _en_word(word: str, alone: bool) -> _WordPattern:
    key = english_key(fold(word))
    return _WordPattern("en", key, forms=_typo_forms({key}, alone))


def _compile(concept: Concept) -> list[_Pattern]:
    out: list[_Pattern] = []
    for via, lv_like in (("lv", concept.lv), ("ltg", concept.ltg)):
        for alias in lv_like:
            ws = [w.text for w in words(alias)]
            alone = len(ws) == 1
            out.append(
                _Pattern(
                    concept,
                    tuple(_lv_word(w, i == len(ws) - 1, alone) for i, w in enumerate(ws)),
                    via,
                )
            )
            if not alone:  # glued, as in hashtags: "#gaismaspils"; long enough to be distinctive
                out.append(_Pattern(concept, (_lv_word("".join(ws), True, True),), via))
    for alias in concept.lt:
        ws = [lt_stem(w.folded) for w in words(alias)]
        out.append(_Pattern(concept, tuple(_WordPattern("lt", w) for w in ws), "lt"))
    for via, aliases in (("en", concept.en), ("mt", concept.mt)):
        for alias in aliases:
            ws = [w.text for w in words(alias)]
            out.append(_Pattern(concept, tuple(_en_word(w, len(ws) == 1) for w in ws), via))
            if len(ws) > 1 and via == "en":  # "#freedommonument"
                out.append(_Pattern(concept, (_en_word("".join(ws), True),), via))
    for alias in concept.ru:
        ws = [ru_stem(w.folded) for w in words(alias)]
        out.append(_Pattern(concept, tuple(_WordPattern("ru", w) for w in ws), "ru"))
    token = fold(concept.id)
    out.append(_Pattern(concept, (_WordPattern("exact", token),), "token"))
    for abbr in concept.abbr:
        out.append(_Pattern(concept, (_WordPattern("abbr", abbr),), "abbr"))
    return out


def _first_keys(w: Word) -> set[str]:
    if is_cyrillic(w.text):
        return set(ru_readings(w.folded))
    keys = {w.text, w.folded, english_key(w.folded), lt_stem(w.folded)}
    keys.update(stem for stem, _ in stem_candidates(w.folded))
    return keys


def _gap_ok(text: str, a: Word, b: Word) -> bool:
    gap = text[a.end : b.start]
    return len(gap) <= 3 and all(ch in _GAP_CHARS for ch in gap)


def _phrase_word_ok(key: str, w: Word) -> bool:
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


def _phrase_at(phrase: Phrase, ws: Sequence[Word]) -> bool:
    return len(ws) == len(phrase) and all(
        _phrase_word_ok(k, w) for k, w in zip(phrase, ws, strict=True)
    )


def _phrases(item: dict[str, Any], key: str) -> tuple[Phrase, ...]:
    return tuple(
        tuple("#" if w == "#" else fold(w) for w in p.split())
        for p in item.get(key, ())
        if p.split()
    )


@dataclass(order=True)
class _Candidate:
    n_words: int
    exact: bool
    # on a tie the Latvian reading wins ("Vanšu tilt!" is Latvian, not a Lithuanian stem)
    primary: bool = False
    pattern: _Pattern | None = field(default=None, compare=False)


class ConceptRegistry:
    """The known concepts and a matcher over them. Build once; `find` is pure and fast."""

    def __init__(self, concepts: Sequence[Concept]) -> None:
        ids = [c.id for c in concepts]
        if len(set(ids)) != len(ids):
            raise ConfigError(f"duplicate concept id in {ids}")
        self.concepts: tuple[Concept, ...] = tuple(concepts)
        self._by_id = {c.id: c for c in concepts}
        self._index: dict[str, list[_Pattern]] = defaultdict(list)
        # Typo index (one deletion away, both ways): first-word forms and their deletions.
        self._typo_index: dict[str, list[_Pattern]] = defaultdict(list)
        self._typo_longest = 0  # a word longer than this + 1 is no typo of any form
        for concept in concepts:
            for pattern in _compile(concept):
                first = pattern.words[0]
                self._index[first.key].append(pattern)
                for form in first.forms:
                    self._typo_longest = max(self._typo_longest, len(form))
                    for key in {form} | deletions(form):
                        self._typo_index[key].append(pattern)

    @classmethod
    def load(
        cls, path: str | Path | None = None, extra: str | Path | None = None
    ) -> ConceptRegistry:
        """Load `concepts.toml` (the packaged one when `path` is None), and the trained
        concepts installed in `extra` (`[storage] concepts`) when that file exists."""
        if path is None:
            raw = resources.files("core.lang").joinpath("concepts.toml").read_text(encoding="utf-8")
        else:
            raw = Path(path).read_text(encoding="utf-8")
        items = list(tomllib.loads(raw).get("concept", []))
        if extra is not None and Path(extra).exists():
            items += tomllib.loads(Path(extra).read_text(encoding="utf-8")).get("concept", [])
        concepts = []
        for i, item in enumerate(items):
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
                        ru=tuple(item.get("ru", ())),
                        mt=tuple(item.get("mt", ())),
                        lt=tuple(item.get("lt", ())),
                        ltg=tuple(item.get("ltg", ())),
                        not_before=_phrases(item, "not_before"),
                        not_after=_phrases(item, "not_after"),
                        adapter=bool(item.get("adapter", False)),
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
        return self._find(text, None)

    def find_in_translation(self, text: str, ids: Collection[str]) -> list[Match]:
        """Mentions of the concepts `ids` in a translator's English output: also through the
        renderings translators are known to give them (`mt`), and through their tokens."""
        return self._find(text, frozenset(ids))

    def _find(self, text: str, only: frozenset[str] | None) -> list[Match]:
        ws = list(words(text))
        found: list[Match] = []
        i = 0
        while i < len(ws):
            best = self._match_at(text, ws, i, only)
            if best.pattern is None:
                i += 1
                continue
            n, pattern = best.n_words, best.pattern
            start, end = ws[i].start, ws[i + n - 1].end
            found.append(
                Match(pattern.concept.id, start, end, text[start:end], pattern.via, not best.exact)
            )
            i += n
        return found

    def _candidates(self, w: Word) -> list[_Pattern]:
        seen: dict[int, _Pattern] = {}
        for key in _first_keys(w):
            for p in self._index.get(key, ()):
                seen[id(p)] = p
        # Deletions of a word are quadratic in its length: only a word within one letter of
        # an indexed form can be a typo of it, so a long one (a pasted blob) is not tried.
        length = len(w.folded)
        if _FUZZY_MIN - 1 <= length <= self._typo_longest + 1 and not is_cyrillic(w.text):
            keys = {w.folded, english_key(w.folded)}
            for key in set(keys) | {d for k in keys for d in deletions(k)}:
                for p in self._typo_index.get(key, ()):
                    seen[id(p)] = p
        return list(seen.values())

    def _match_at(
        self, text: str, ws: list[Word], i: int, only: frozenset[str] | None
    ) -> _Candidate:
        best = _Candidate(0, False, False)
        excluded: set[str] = set()
        for pattern in self._candidates(ws[i]):
            concept = pattern.concept
            if only is None and pattern.via == "mt":
                continue
            if only is not None and concept.id not in only:
                continue
            n = len(pattern.words)
            if n < best.n_words or i + n > len(ws):
                continue
            typos = 0
            for k, pw in enumerate(pattern.words):
                w = ws[i + k]
                if k and not _gap_ok(text, ws[i + k - 1], w):
                    break
                if pw.accepts(w):
                    continue
                if typos or not pw.accepts_typo(w):
                    break
                typos += 1
            else:
                candidate = _Candidate(n, typos == 0, pattern.via not in ("lt", "ltg"), pattern)
                if self._excluded(pattern, text, ws, i, n):
                    excluded.add(concept.id)
                elif candidate > best:
                    best = candidate
        # "Melngalvju nams Tallinā": the whole name is excluded, so its shorter alias
        # ("Melngalvji") inside it is not the concept either
        if best.pattern is not None and best.pattern.concept.id in excluded:
            return _Candidate(0, False, False)
        return best

    @staticmethod
    def _excluded(pattern: _Pattern, text: str, ws: list[Word], i: int, n: int) -> bool:
        """An exclusion phrase next to the match makes it something else. A number ("#")
        does so only next to an abbreviation ("RMB 100" is money), and not when a unit
        follows it: a bottle size or a year after a name is part of the picture
        ("Rīgas Melnais balzams 0,5 l", "RMB 200 ml", "Dziesmu svētki 2023")."""
        concept = pattern.concept

        def applies(p: Phrase, start: int) -> bool:
            if "#" not in p:
                return True
            return pattern.via == "abbr" and not _unit_follows(text, ws, start + len(p) - 1)

        after = any(
            _phrase_at(p, ws[i + n : i + n + len(p)]) and applies(p, i + n)
            for p in concept.not_before
        )
        before = any(
            i >= len(p) and _phrase_at(p, ws[i - len(p) : i]) and applies(p, i - len(p))
            for p in concept.not_after
        )
        return after or before


# What may follow a number after a name to make it a measure, not money.
_UNITS = frozenset(
    fold(u)
    for u in """l ml cl dl litri litrs litru litra litros litr л мл
    g gr kg grami gramu % proc procenti gads gadā gada gadam gadi gadu g. year years год года
    году cm mm m""".split()
)


def _unit_follows(text: str, ws: list[Word], k: int) -> bool:
    """Whether the number at ws[k] (with any "0,5"-style decimal part) is followed by a
    unit ("0,5 l", "200ml", "40%", "1935. gadā")."""
    while (
        k + 1 < len(ws)
        and ws[k + 1].text.isdigit()
        and text[ws[k].end : ws[k + 1].start] in (",", ".")
    ):
        k += 1
    rest = text[ws[k].end :].lstrip(" .")
    if rest.startswith("%"):
        return True
    return k + 1 < len(ws) and ws[k + 1].folded in _UNITS and ws[k + 1].start - ws[k].end <= 2
