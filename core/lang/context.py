"""Names in context (issue #33): a concept found by a name that can also mean something else
is drawn only when its sentence does not say otherwise. The rules and their words are data
(core/lang/context.toml), each with its reason:

- **first name**: Milda among family, people or things only people do is a woman (never a
  concept that is a person, such as Rainis, and never when the sentence fits the monument);
- **named after**: "Raiņa vārdā nosauktā ģimnāzija", "suns vārdā Rainis";
- **title**: a quoted name beside a title word or verb ("koris dzied „Gaismas pili”");
- **another place**: a city or country given as its location ("Brīvības piemineklis Kauņā",
  "Kauņas Brīvības piemineklis"); never "no Kauņas" (from), never a product.

`ruled_out(text, match)` says why a match is not the concept (or ""). Only the sentence the
match stands in is read, so a rule in one sentence never rules out a name in another."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from core.lang.text import fold, words

DATA = Path(__file__).with_name("context.toml")
_SENTENCE_END = re.compile(r"[.!?…]+(?=\s|$)")


def _folded(items: list[str]) -> tuple[str, ...]:
    return tuple(fold(i) if not i.endswith(".") else fold(i[:-1]) + "." for i in items)


def _hits(stems: tuple[str, ...], tokens: list[str]) -> bool:
    """A token begins with one of `stems` (one ending in "." must be the whole token)."""
    for stem in stems:
        if stem.endswith("."):
            if stem[:-1] in tokens:
                return True
        elif any(t.startswith(stem) for t in tokens):
            return True
    return False


@dataclass(frozen=True)
class Context:
    data: dict[str, Any]

    @classmethod
    @cache
    def load(cls) -> Context:
        return cls(tomllib.loads(DATA.read_text(encoding="utf-8")))

    def ruled_out(self, text: str, start: int, end: int, concept_id: str) -> str:
        """Why the name at text[start:end] is not concept `concept_id` here ("": it is)."""
        left, right = _sentence(text, start, end)
        before = [w.folded for w in words(text[left:start])]
        after = [w.folded for w in words(text[end:right])]
        name = fold(text[start:end])
        for rule in (self._first_name, self._named_after, self._title, self._another_place):
            why = rule(concept_id, name, before, after, text[left:start], text[end:right])
            if why:
                return why
        return ""

    def _first_name(self, cid: str, name: str, before: list[str], after: list[str], *_: str) -> str:
        r = self.data["first_name"]
        if cid not in r["concepts"] or not name.startswith(_folded(r["names"])):
            return ""
        rest = before + after
        if _hits(_folded(r["fits"]), rest) or not _hits(_folded(r["signals"]), rest):
            return ""
        return str(r["why"])

    def _named_after(
        self, cid: str, name: str, before: list[str], after: list[str], *_: str
    ) -> str:
        r = self.data["named_after"]
        right = " ".join(after[:2])
        left = " ".join(before[-2:])
        if any(right.startswith(fold(w)) for w in r["after"]) or any(
            left.endswith(fold(w)) for w in r["before"]
        ):
            return str(r["why"])
        return ""

    def _title(
        self, cid: str, name: str, before: list[str], after: list[str], left: str, right: str
    ) -> str:
        r = self.data["title"]
        quoted = left.rstrip().endswith(tuple(r["quotes"])) and right.lstrip().startswith(
            tuple(r["quotes"])
        )
        rest = before + after
        if quoted and _hits(_folded(r["words"] + r["verbs"]), rest):
            return str(r["why"])
        return ""

    def _another_place(
        self, cid: str, name: str, before: list[str], after: list[str], *_: str
    ) -> str:
        r = self.data["another_place"]
        if cid not in r["concepts"]:
            return ""
        locative = set(_folded(r["locative"]))
        english = set(_folded(r["english"]))
        russian = set(_folded(r["russian"]))
        tokens = before + after
        for i, token in enumerate(tokens):
            prev = tokens[i - 1] if i else ""
            if prev == "no":  # "no Kauņas": from there
                continue
            if token in locative or (prev == "in" and token in english):
                return str(r["why"])
            if prev in ("в", "во") and token in russian:
                return str(r["why"])
        if before and before[-1] in set(_folded(r["genitive"])):  # Kauņas Brīvības piemineklis
            return str(r["why"])
        return ""


def _sentence(text: str, start: int, end: int) -> tuple[int, int]:
    """The bounds of the sentence holding text[start:end]."""
    left = 0
    right = len(text)
    for m in _SENTENCE_END.finditer(text):
        if m.end() <= start:
            left = m.end()
        elif m.start() >= end:
            right = m.start()
            break
    return left, right
