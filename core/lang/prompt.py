"""From a chat message to a Stable Diffusion prompt: normalize → concepts → language →
translate the whole sentence → put each concept's token where its English name landed.

How concepts survive translation (issue #10, measured in `benchmarks/carry.py`):
  * "refind" (the default): the translator gets the whole message as written, so grammar
    and relations ("Rainis sits in the House of the Blackheads and eats gingerbread") stay
    intact; the concepts are then found again in the English through their English names
    and known translator renderings (`mt` in concepts.toml), and replaced by `token class`.
  * "placeholder": each concept span is replaced by its model token before translation, and
    the tokens are found again afterwards. Translators copy unknown tokens well, but the
    case ending that carried "in"/"at"/"of" is lost with the span.
Either way a concept the English does not show is appended, and none is placed twice.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from core.lang.concepts import ConceptRegistry, Match
from core.lang.text import DEFAULT_MAX_CHARS, Lang, detect_language, fold, normalize, words
from core.lang.translate import Translators

Carry = Literal["refind", "placeholder"]

# Words that only tie a concept to the sentence ("kaķis pie Brīvības pieminekļa"): a message
# of concepts and these alone is drawn as "a photo of …" without a translator.
_LINKS = frozenset(
    fold(w)
    for w in """
    pie uz ar no par pa zem virs aiz pret starp bez pēc līdz ap gar caur blakus pretī iekš
    un vai & and or with at in on of the a an near
    у в на с со и или около возле под над за перед рядом
    """.split()
)
_EDGE_PUNCT = re.compile(r"^[\s,.;:!?\-–—]+|[\s,;:\-–—]+$")


@dataclass(frozen=True)
class Parsed:
    """Everything up to translation."""

    input: str
    normalized: str
    lang: Lang
    concepts: tuple[Match, ...]
    source: str  # the exact text for the translator (or what would be sent)
    concept_only: bool  # nothing but concepts and link words: no translation needed

    @property
    def concept_ids(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(m.id for m in self.concepts))


@dataclass(frozen=True)
class PromptResult:
    input: str
    normalized: str
    lang: Lang
    concepts: tuple[Match, ...]
    source: str
    english: str | None
    prompt: str
    concept_ids: tuple[str, ...] = field(default=())

    def as_dict(self) -> dict[str, Any]:
        return {
            "input": self.input,
            "normalized": self.normalized,
            "lang": self.lang,
            "concepts": [m.as_dict() for m in self.concepts],
            "source": self.source,
            "english": self.english,
            "prompt": self.prompt,
        }


def _without_spans(text: str, spans: Sequence[Match]) -> str:
    """`text` with the concept spans cut out: what decides the language."""
    parts, pos = [], 0
    for m in spans:
        parts.append(text[pos : m.start])
        pos = m.end
    parts.append(text[pos:])
    pieces = [_EDGE_PUNCT.sub("", p).strip() for p in parts]
    return re.sub(r"\s+", " ", ", ".join(p for p in pieces if p)).strip()


def _replace_spans(text: str, spans: Sequence[tuple[int, int, str]]) -> str:
    out, pos = [], 0
    for start, end, replacement in spans:
        out.append(text[pos:start])
        out.append(replacement)
        pos = end
    out.append(text[pos:])
    return "".join(out)


def _join_phrases(phrases: Sequence[str]) -> str:
    return " and ".join(phrases)


class PromptBuilder:
    def __init__(
        self,
        registry: ConceptRegistry,
        translators: Translators | None = None,
        max_chars: int = DEFAULT_MAX_CHARS,
        carry: Carry = "refind",
    ) -> None:
        self.registry = registry
        self.translators = translators or Translators()
        self.max_chars = max_chars
        self.carry = carry

    def parse(self, text: str, bot_username: str = "") -> Parsed:
        """Normalize, find concepts, decide the language. Raises InvalidPrompt subclasses."""
        normalized = normalize(text, max_chars=self.max_chars, bot_username=bot_username)
        concepts = tuple(self.registry.find(normalized))
        rest = _without_spans(normalized, concepts)
        content = [w for w in words(rest) if w.folded not in _LINKS and not w.text.isdigit()]
        # The languages the concepts were named in break ties the rest cannot decide.
        vias = {m.via for m in concepts}
        hint = "en" if vias == {"en"} else "ru" if vias == {"ru"} else "lv"
        lang = detect_language(rest, default=hint) if content or rest else hint
        if self.carry == "placeholder":
            source = _replace_spans(normalized, [(m.start, m.end, m.id) for m in concepts])
        else:
            source = normalized
        return Parsed(text, normalized, lang, concepts, source, bool(concepts) and not content)

    def needs_translation(self, parsed: Parsed) -> bool:
        return parsed.lang != "en" and not parsed.concept_only

    def can_translate(self, parsed: Parsed) -> bool:
        return not self.needs_translation(parsed) or self.translators.supports(parsed.lang)

    def assemble(self, parsed: Parsed, english: str | None) -> PromptResult:
        """Build the final prompt; `english` is the translated source (None: untranslated)."""
        ids = parsed.concept_ids
        phrases = [self.registry.get(i).phrase for i in ids]
        if parsed.concept_only:
            english = "" if parsed.lang != "en" else parsed.normalized
            prompt = f"a photo of {_join_phrases(phrases)}"
        elif parsed.lang == "en" or english is None:
            # English needs no translator; untranslated text keeps its own words. Either
            # way each concept is swapped for its token where it stands.
            if parsed.lang == "en":
                english = parsed.normalized
            text = parsed.normalized
            spans = [(m.start, m.end, self._phrase(m.id, text, m.end)) for m in parsed.concepts]
            prompt = _replace_spans(parsed.normalized, spans)
        else:
            prompt = self.place_concepts(english, ids)
        return PromptResult(
            input=parsed.input,
            normalized=parsed.normalized,
            lang=parsed.lang,
            concepts=parsed.concepts,
            source=parsed.source,
            english=english,
            prompt=prompt,
            concept_ids=ids,
        )

    def _phrase(self, concept_id: str, text: str, end: int) -> str:
        """`token class`, or just the token where the text already says the class next
        ("a photo of brivpiem statue" stays so, not "brivpiem statue statue")."""
        concept = self.registry.get(concept_id)
        following = text[end:].lstrip().lower()
        if concept.cls and following.startswith(concept.cls.lower()):
            return concept.id
        return concept.phrase

    def place_concepts(self, english: str, ids: Sequence[str]) -> str:
        """Put `token class` where each concept of `ids` shows in the translation; append
        the ones it does not show. Each token appears once."""
        placed: dict[str, tuple[int, int]] = {}
        for m in self.registry.find_in_translation(english, ids):
            placed.setdefault(m.id, (m.start, m.end))
        spans = sorted((s, e, self._phrase(i, english, e)) for i, (s, e) in placed.items())
        prompt = _replace_spans(english, spans).strip()
        missing = [self.registry.get(i).phrase for i in ids if i not in placed]
        if missing and prompt:
            return f"{prompt.rstrip(' ,.')}, {_join_phrases(missing)}"
        if missing:
            return f"a photo of {_join_phrases(missing)}"
        return prompt

    def translate_many(self, parsed: Sequence[Parsed]) -> list[str | None]:
        """Translate every source that needs it, one batch per language. None where no
        translator serves the language; "" where no translation is needed."""
        out: list[str | None] = [None if self.needs_translation(p) else "" for p in parsed]
        by_lang: dict[str, list[int]] = {}
        for i, p in enumerate(parsed):
            if self.needs_translation(p):
                by_lang.setdefault(p.lang, []).append(i)
        for lang, idx in by_lang.items():
            translator = self.translators.for_lang(lang)
            if translator is None:
                continue
            done = translator.translate([parsed[i].source for i in idx], lang)
            for i, english in zip(idx, done, strict=True):
                out[i] = english
        return out

    def build(self, text: str, translate: bool = True, bot_username: str = "") -> PromptResult:
        parsed = self.parse(text, bot_username)
        if not translate:
            return self.assemble(parsed, None)
        [english] = self.translate_many([parsed])
        return self.assemble(parsed, english)
