"""Styles a message names (issue #22): a data table (`styles.toml`) of style ids, their
English prompt fragments and the words that name them in Latvian, Russian and English.

A style word is a style only where it stands as one:
  * the last comma-separated part of the message: `Rīgas doms, akvarelis`;
  * before "stilā"/"tehnikā": `eļļas glezna stilā`, `akvareļa tehnikā`;
  * after "в стиле"/"в технике": `в стиле аниме`; in English `in watercolor style`,
    `watercolor style`;
  * after `--stils` (core.lang.options).
Elsewhere it is ordinary text: `akvarelis uz galda` is a painting on a table.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

from core.lang.text import Word, fold, words

MAX_ENDING = 4  # letters a `*` word may add to its stem
# Words that mark the phrase before them as a style (lv), or after them (ru, en "in").
_AFTER_MARKS: tuple[tuple[str, ...], ...] = (("stila",), ("tehnika",), ("style",), ("стиль",))
_BEFORE_MARKS: tuple[tuple[str, ...], ...] = (
    ("в", "стиле"),
    ("в", "технике"),
    ("in", "the", "style", "of"),
)
_SEGMENT_END = re.compile(r"[\s.!?…]+$")


@dataclass(frozen=True)
class Style:
    id: str
    prompt: str  # the English fragment added to the prompt
    name_lv: str
    name_ru: str
    phrases: tuple[tuple[str, ...], ...] = field(repr=False)  # folded; "stem*": any ending

    def name(self, lang: str) -> str:
        return self.name_ru if lang == "ru" else self.id if lang == "en" else self.name_lv


@dataclass(frozen=True)
class StyleMatch:
    style: Style
    start: int  # the span to take out of the message (marks and a leading comma included)
    end: int


def _word_matches(pattern: str, word: str) -> bool:
    if pattern.endswith("*"):
        stem = pattern[:-1]
        return word.startswith(stem) and len(word) - len(stem) <= MAX_ENDING
    return word == pattern


class Styles:
    def __init__(self, styles: list[Style]) -> None:
        self.styles = styles
        self._by_id = {s.id: s for s in styles}
        # longest phrases first: "eļļas glezna" before "eļļa"
        self._phrases = sorted(
            ((p, s) for s in styles for p in s.phrases), key=lambda ps: -len(ps[0])
        )

    @classmethod
    @lru_cache(maxsize=1)
    def load(cls) -> Styles:
        raw = resources.files("core.lang").joinpath("styles.toml").read_text(encoding="utf-8")
        styles = []
        for entry in tomllib.loads(raw)["style"]:
            phrases = tuple(
                tuple(fold(w.text) + ("*" if p[w.end : w.end + 1] == "*" else "") for w in words(p))
                for lang in ("lv", "ru", "en")
                for p in entry.get(lang, [])
            )
            styles.append(
                Style(entry["id"], entry["prompt"], entry["name_lv"], entry["name_ru"], phrases)
            )
        return cls(styles)

    def __iter__(self) -> Iterator[Style]:
        return iter(self.styles)

    def get(self, style_id: str) -> Style | None:
        return self._by_id.get(style_id)

    def named(self, text: str) -> Style | None:
        """The style `text` names as a whole: an id or one of its phrases (`--stils`)."""
        by_id = self._by_id.get(text.strip().lower())
        return by_id or self._whole(list(words(text)))

    def _whole(self, ws: list[Word]) -> Style | None:
        """The style whose phrase is exactly the words `ws`."""
        found = self._longest_at(ws, 0)
        return found[0] if found is not None and found[1] == len(ws) else None

    def _longest_at(
        self, ws: list[Word], i: int, stop: int | None = None
    ) -> tuple[Style, int] | None:
        limit = len(ws) if stop is None else stop
        for phrase, style in self._phrases:
            n = len(phrase)
            if i + n <= limit and all(
                _word_matches(p, w.folded) for p, w in zip(phrase, ws[i : i + n], strict=True)
            ):
                return style, n
        return None

    def find(self, text: str) -> StyleMatch | None:
        """The style the message names, and the span of the message that names it."""
        ws = list(words(text))
        folded = [w.folded for w in ws]
        # "… akvareļa tehnikā", "… anime stilā", "… watercolor style": the phrase ends right
        # before the mark
        for k in range(len(ws)):
            for mark in _AFTER_MARKS:
                if tuple(folded[k : k + len(mark)]) != mark:
                    continue
                for start in range(max(0, k - 3), k):
                    found = self._longest_at(ws, start, k)
                    if found is not None and start + found[1] == k:
                        begin = ws[start].start
                        if start >= 1 and folded[start - 1] == "in":  # "in watercolor style"
                            begin = ws[start - 1].start
                        return StyleMatch(found[0], begin, ws[k + len(mark) - 1].end)
        # "в стиле аниме", "in the style of anime"
        for k in range(len(ws)):
            for mark in _BEFORE_MARKS:
                n = len(mark)
                if tuple(folded[k : k + n]) == mark and k + n < len(ws):
                    found = self._longest_at(ws, k + n)
                    if found is not None:
                        return StyleMatch(found[0], ws[k].start, ws[k + n + found[1] - 1].end)
        # "Rīgas doms, akvarelis": the last comma-separated part is a style phrase
        comma = text.rfind(",")
        if comma >= 0:
            tail = [w for w in ws if w.start > comma]
            if tail:
                style = self._whole(tail)
                if style is not None and not _SEGMENT_END.sub("", text[tail[-1].end :]):
                    return StyleMatch(style, comma, len(text))
        return None


def strip_style(text: str, styles: Styles | None = None) -> tuple[str, Style | None]:
    """`text` without the words that name its style, and the style (None: none named)."""
    match = (styles or Styles.load()).find(text)
    if match is None:
        return text, None
    rest = (text[: match.start] + " " + text[match.end :]).strip()
    rest = re.sub(r"\s+([,.;:!?])", r"\1", re.sub(r"\s{2,}", " ", rest)).strip(" ,;:")
    return rest, match.style
