"""A configurable Latvian + English blocklist, checked before and after translation."""

from __future__ import annotations

from collections.abc import Iterable

from core.errors import BlockedPrompt
from core.lang.morph import split_ending
from core.lang.text import fold, words

_MIN_STEM = 3  # terms with a stem this long also block their inflected forms (asinis -> asinīm)


class Blocklist:
    def __init__(self, terms: Iterable[str]) -> None:
        self.terms = tuple(sorted({fold(t.strip()) for t in terms if t.strip()}))

    def check(self, text: str | None) -> None:
        """Raise BlockedPrompt naming the first blocked term found in `text`."""
        if not text or not self.terms:
            return
        folded_words = [w.folded for w in words(text)]
        joined = " ".join(folded_words)
        for term in self.terms:
            if " " in term:
                if f" {term} " in f" {joined} ":
                    raise BlockedPrompt(term)
                continue
            stem = split_ending(term)[0]
            for w in folded_words:
                if w == term or (len(stem) >= _MIN_STEM and split_ending(w)[0] == stem):
                    raise BlockedPrompt(term)
