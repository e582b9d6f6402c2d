"""From a chat message to a Stable Diffusion prompt: normalize → concepts → language →
remainder → translate → assemble. No GPU; translation is the only model call."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from core.lang.concepts import ConceptRegistry, Match
from core.lang.text import DEFAULT_MAX_CHARS, Lang, detect_language, fold, normalize, words
from core.lang.translate import Translator

# Latvian prepositions/conjunctions that only tied a removed concept to the sentence
# ("kaķis pie Brīvības pieminekļa" -> "kaķis"); left alone they confuse the translator.
_LV_LINKS = frozenset(
    """
    pie uz ar no par pa zem virs aiz pret starp bez pec lidz ap gar caur blakus pretim ieks
    un vai
    """.split()
)
_EDGE_PUNCT = re.compile(r"^[\s,.;:!?\-–—]+|[\s,;:\-–—]+$")


@dataclass(frozen=True)
class PromptResult:
    input: str
    normalized: str
    lang: Lang
    concepts: tuple[Match, ...]
    remainder: str
    english: str | None
    prompt: str
    concept_ids: tuple[str, ...] = field(default=())

    def as_dict(self) -> dict[str, Any]:
        return {
            "input": self.input,
            "normalized": self.normalized,
            "lang": self.lang,
            "concepts": [m.as_dict() for m in self.concepts],
            "remainder": self.remainder,
            "english": self.english,
            "prompt": self.prompt,
        }


@dataclass(frozen=True)
class Parsed:
    """Everything up to translation."""

    input: str
    normalized: str
    lang: Lang
    concepts: tuple[Match, ...]
    remainder: str


def _remainder(text: str, spans: Sequence[Match], lang: Lang) -> str:
    """`text` without the concept spans (and, for Latvian, the link words just before them)."""
    if not spans:
        return text
    cut: list[tuple[int, int]] = []
    for m in spans:
        start = m.start
        if lang == "lv":
            before = [w for w in words(text[: m.start]) if w.end <= m.start]
            if before and fold(before[-1].text) in _LV_LINKS:
                gap = text[before[-1].end : m.start]
                if not gap.strip(" \"'«»„“”"):
                    start = before[-1].start
        cut.append((start, m.end))
    parts, pos = [], 0
    for start, end in cut:
        parts.append(text[pos:start])
        pos = end
    parts.append(text[pos:])
    pieces = [_EDGE_PUNCT.sub("", p).strip() for p in parts]
    joined = ", ".join(p for p in pieces if p)
    return re.sub(r"\s+", " ", joined).strip()


def _in_place(text: str, spans: Sequence[Match], registry: ConceptRegistry) -> str:
    """English input: swap each concept span for its token phrase where it stands."""
    out, pos = [], 0
    for m in spans:
        out.append(text[pos : m.start])
        out.append(registry.get(m.id).phrase)
        pos = m.end
    out.append(text[pos:])
    return "".join(out)


class PromptBuilder:
    def __init__(
        self,
        registry: ConceptRegistry,
        translator: Translator | None = None,
        max_chars: int = DEFAULT_MAX_CHARS,
    ) -> None:
        self.registry = registry
        self.translator = translator
        self.max_chars = max_chars

    def parse(self, text: str, bot_username: str = "") -> Parsed:
        """Normalize and find concepts. Raises InvalidPrompt subclasses on bad input."""
        normalized = normalize(text, max_chars=self.max_chars, bot_username=bot_username)
        concepts = tuple(self.registry.find(normalized))
        rest = _remainder(normalized, concepts, "en")
        lang: Lang
        if rest:
            lang = detect_language(rest)
        else:  # only concepts: English only when every one was named in English
            lang = "en" if concepts and all(m.via == "en" for m in concepts) else "lv"
        return Parsed(text, normalized, lang, concepts, _remainder(normalized, concepts, lang))

    def needs_translation(self, parsed: Parsed) -> bool:
        return parsed.lang == "lv" and bool(parsed.remainder)

    def assemble(self, parsed: Parsed, english: str | None) -> PromptResult:
        """Build the final prompt; `english` is the translated remainder (None: untranslated)."""
        unique_ids = tuple(dict.fromkeys(m.id for m in parsed.concepts))
        phrases = [self.registry.get(i).phrase for i in unique_ids]
        if parsed.lang == "en":
            english = parsed.remainder
            prompt = _in_place(parsed.normalized, parsed.concepts, self.registry)
        else:
            rest = english if english is not None else parsed.remainder
            if phrases and rest:
                prompt = f"{' and '.join(phrases)}, {rest}"
            elif phrases:
                prompt = f"a photo of {' and '.join(phrases)}"
            else:
                prompt = rest
        return PromptResult(
            input=parsed.input,
            normalized=parsed.normalized,
            lang=parsed.lang,
            concepts=parsed.concepts,
            remainder=parsed.remainder,
            english=english,
            prompt=prompt,
            concept_ids=unique_ids,
        )

    def translate_many(self, parsed: Sequence[Parsed]) -> list[str | None]:
        """Translate every remainder that needs it, in one batch."""
        todo = [p.remainder for p in parsed if self.needs_translation(p)]
        if not todo or self.translator is None:
            return [None if self.needs_translation(p) else "" for p in parsed]
        done = iter(self.translator.translate(todo))
        return [next(done) if self.needs_translation(p) else "" for p in parsed]

    def build(self, text: str, translate: bool = True, bot_username: str = "") -> PromptResult:
        parsed = self.parse(text, bot_username)
        if not translate:
            return self.assemble(parsed, None)
        [english] = self.translate_many([parsed])
        return self.assemble(parsed, english)
