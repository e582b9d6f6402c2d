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
from importlib import resources
from pathlib import Path
from typing import Any

from core.errors import ConfigError
from core.lang.morph import (
    deletions,
    english_key,
    is_cyrillic,
)
from core.lang.patterns import (
    FUZZY_MIN,
    Candidate,
    Concept,
    Match,
    Pattern,
    Phrase,
    compile_patterns,
    first_keys,
    gap_ok,
    phrase_at,
    phrases,
)
from core.lang.text import Word, fold, words


class ConceptRegistry:
    """The known concepts and a matcher over them. Build once; `find` is pure and fast."""

    def __init__(self, concepts: Sequence[Concept]) -> None:
        ids = [c.id for c in concepts]
        if len(set(ids)) != len(ids):
            raise ConfigError(f"duplicate concept id in {ids}")
        self.concepts: tuple[Concept, ...] = tuple(concepts)
        self._by_id = {c.id: c for c in concepts}
        self._index: dict[str, list[Pattern]] = defaultdict(list)
        # Typo index (one deletion away, both ways): first-word forms and their deletions.
        self._typo_index: dict[str, list[Pattern]] = defaultdict(list)
        self._typo_longest = 0  # a word longer than this + 1 is no typo of any form
        for concept in concepts:
            for pattern in compile_patterns(concept):
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
                        not_before=phrases(item, "not_before"),
                        not_after=phrases(item, "not_after"),
                        adapter=bool(item.get("adapter", False)),
                        base=str(item.get("base", "")),
                        description=str(item.get("description", "")),
                    )
                )
            except KeyError as exc:
                raise ConfigError(f"concept #{i + 1} lacks key {exc.args[0]!r}") from exc
        return cls(concepts)

    def get(self, concept_id: str) -> Concept:
        return self._by_id[concept_id]

    @property
    def ids(self) -> frozenset[str]:
        return frozenset(self._by_id)

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

    def _candidates(self, w: Word) -> list[Pattern]:
        seen: dict[int, Pattern] = {}
        for key in first_keys(w):
            for p in self._index.get(key, ()):
                seen[id(p)] = p
        # Deletions of a word are quadratic in its length: only a word within one letter of
        # an indexed form can be a typo of it, so a long one (a pasted blob) is not tried.
        length = len(w.folded)
        if FUZZY_MIN - 1 <= length <= self._typo_longest + 1 and not is_cyrillic(w.text):
            keys = {w.folded, english_key(w.folded)}
            for key in set(keys) | {d for k in keys for d in deletions(k)}:
                for p in self._typo_index.get(key, ()):
                    seen[id(p)] = p
        return list(seen.values())

    def _match_at(
        self, text: str, ws: list[Word], i: int, only: frozenset[str] | None
    ) -> Candidate:
        best = Candidate(0, False, False)
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
                if k and not gap_ok(text, ws[i + k - 1], w):
                    break
                if pw.accepts(w):
                    continue
                if typos or not pw.accepts_typo(w):
                    break
                typos += 1
            else:
                candidate = Candidate(n, typos == 0, pattern.via not in ("lt", "ltg"), pattern)
                if self._excluded(pattern, text, ws, i, n):
                    excluded.add(concept.id)
                elif candidate > best:
                    best = candidate
        # "Melngalvju nams Tallinā": the whole name is excluded, so its shorter alias
        # ("Melngalvji") inside it is not the concept either
        if best.pattern is not None and best.pattern.concept.id in excluded:
            return Candidate(0, False, False)
        return best

    @staticmethod
    def _excluded(pattern: Pattern, text: str, ws: list[Word], i: int, n: int) -> bool:
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
            phrase_at(p, ws[i + n : i + n + len(p)]) and applies(p, i + n)
            for p in concept.not_before
        )
        before = any(
            i >= len(p) and phrase_at(p, ws[i - len(p) : i]) and applies(p, i - len(p))
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
