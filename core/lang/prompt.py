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

What the message says it does not want ("bez cilvēkiem", core/lang/negation.py) and the
style it names ("…, akvarelis", core/lang/styles.py) are taken out of it first: the first
is translated into the negative prompt (a concept there is not drawn: its English name is
added to the negative prompt), the second adds its English fragment to the prompt.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Literal

from core.lang.concepts import ConceptRegistry
from core.lang.context import Context
from core.lang.morph import is_cyrillic, to_cyrillic
from core.lang.negation import english_trigger, split_negatives
from core.lang.patterns import Match
from core.lang.styles import Style, Styles, strip_style
from core.lang.text import (
    DEFAULT_MAX_CHARS,
    Lang,
    Word,
    chat_plain,
    detect_language,
    fold,
    normalize,
    tidy,
    words,
)
from core.lang.translate import Translators, join_translation, plan_translation

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
    concepts: tuple[Match, ...]  # spans into `text`
    source: str  # the exact text for the translator (or what would be sent)
    concept_only: bool  # nothing but concepts and link words: no translation needed
    text: str = ""  # `normalized` without the negative phrases and the style words
    negative_source: str = ""  # the exact text for the translator of the negative prompt
    negative_lang: Lang = "lv"
    negative_concepts: tuple[str, ...] = ()  # concept ids named after "bez": not drawn
    style: Style | None = None

    @property
    def shown_concepts(self) -> tuple[Match, ...]:
        """The concepts with their places in `normalized` (what `core prompt` prints)."""
        if not self.text or self.text == self.normalized:
            return self.concepts
        out, cursor = [], 0
        for m in self.concepts:
            start = self.normalized.find(m.text, cursor)
            if start < 0:
                return self.concepts
            out.append(replace(m, start=start, end=start + len(m.text)))
            cursor = start + len(m.text)
        return tuple(out)

    @property
    def concept_ids(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(m.id for m in self.concepts))

    @property
    def negative_needs_translation(self) -> bool:
        return bool(self.negative_source) and self.negative_lang != "en"


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
    negative_source: str = ""
    negative: str = ""  # the English negative prompt (without the config's)
    style: str | None = None  # the style id

    def as_dict(self) -> dict[str, Any]:
        return {
            "input": self.input,
            "normalized": self.normalized,
            "lang": self.lang,
            "concepts": [m.as_dict() for m in self.concepts],
            "source": self.source,
            "english": self.english,
            "prompt": self.prompt,
            "negative_source": self.negative_source,
            "negative": self.negative,
            "style": self.style,
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
        self.styles = Styles.load()
        self.context = Context.load()

    def parse(
        self, text: str, bot_username: str = "", negative: str = "", style: str | None = None
    ) -> Parsed:
        """Normalize, take out the style and the "bez …" phrases, find concepts, decide the
        language. `negative`: the --ne text, joined to the "bez …" phrases; `style`: the
        --stils id, which wins over a style named in the text. Raises InvalidPrompt."""
        normalized = normalize(text, max_chars=self.max_chars, bot_username=bot_username)
        positive, named = strip_style(normalized, self.styles)
        english = "no" in {w.folded for w in words(positive)} and detect_language(positive) == "en"
        found = self.find(positive)  # a "bez" phrase takes a name whole
        kept, phrases = split_negatives(positive, english, [(m.start, m.end) for m in found])
        if not any(True for _ in words(kept)):  # nothing would be left to draw
            kept, phrases, named = normalized, [], None
        # the concepts found above hold when nothing was taken out (the common case)
        concepts, content, lang = self._concepts_and_language(
            kept, found if kept == positive else None, "en" if english_trigger(positive) else None
        )
        positive = kept
        if lang == "ru" and not is_cyrillic(positive):  # Russian typed in Latin letters
            positive = to_cyrillic(positive)
            concepts, content, _ = self._concepts_and_language(positive)
        if self.carry == "placeholder":
            source = _replace_spans(positive, [(m.start, m.end, m.id) for m in concepts])
        else:
            source = positive
        source = tidy(chat_plain(source))  # for the translator: no emoji, no dangling "un"
        parts = [p for p in (negative.strip(), *phrases) if p]
        negative_source, negative_ids = self._negative(parts)
        negative_lang = (
            lang
            if phrases or not negative_source
            else detect_language(negative_source, default=lang)
        )
        chosen = self.styles.get(style) if style else named
        return Parsed(
            text,
            normalized,
            lang,
            concepts,
            source,
            bool(concepts) and not content,
            positive,
            negative_source,
            negative_lang,
            negative_ids,
            chosen,
        )

    def _concepts_and_language(
        self, text: str, concepts: tuple[Match, ...] | None = None, prefer: Lang | None = None
    ) -> tuple[tuple[Match, ...], list[Word], Lang]:
        """The concepts of `text` (found here unless given), its other content words and its
        language (`prefer`: what decides when the words do not, e.g. "without" was said). A
        message that reads as English but has a Latvian phrase is Latvian: the translator
        takes that phrase, and the English ones stay as written."""
        if concepts is None:
            concepts = self.find(text)
        rest = _without_spans(text, concepts)
        content = [w for w in words(rest) if w.folded not in _LINKS and not w.text.isdigit()]
        # The languages the concepts were named in break ties the rest cannot decide.
        vias = {m.via for m in concepts}
        hint = next(iter(vias)) if len(vias) == 1 and vias <= {"en", "ru", "lt", "ltg"} else "lv"
        hint = prefer if prefer and hint == "lv" else hint
        lang = detect_language(rest, default=hint) if content or rest else hint
        if lang == "en" and any(detect_language(p, default="en") == "lv" for p in rest.split(",")):
            lang = "lv"  # "piparkūkas on a plate, ar kafiju"
        if hint == "ltg" and lang == "lv":  # a Latgalian name in Latvian-looking words
            lang = "ltg"
        return concepts, content, lang

    def find(self, text: str) -> tuple[Match, ...]:
        """The concepts of `text` its sentences do not rule out (core/lang/context.py)."""
        return tuple(
            m
            for m in self.registry.find(text)
            if not self.context.ruled_out(text, m.start, m.end, m.id)
        )

    def _negative(self, parts: Sequence[str]) -> tuple[str, tuple[str, ...]]:
        """The negative prompt's text for the translator, and the concepts named in it
        (taken out of the text: their English names are added as they are)."""
        texts: list[str] = []
        ids: list[str] = []
        for part in parts:
            found = self.registry.find(part)
            ids += [m.id for m in found]
            rest = tidy(_without_spans(part, found) if found else part)
            if rest:
                texts.append(rest)
        return ", ".join(texts), tuple(dict.fromkeys(ids))

    def served_languages(self) -> tuple[str, ...]:
        """The languages read now: Latvian and English always, and each translator's."""
        return tuple(dict.fromkeys(["lv", "en", *self.translators.by_lang]))

    def needs_translation(self, parsed: Parsed) -> bool:
        return parsed.lang != "en" and not parsed.concept_only

    def can_translate(self, parsed: Parsed) -> bool:
        return not self.needs_translation(parsed) or self.translators.supports(parsed.lang)

    def assemble(
        self, parsed: Parsed, english: str | None, negative: str | None = None
    ) -> PromptResult:
        """Build the final prompt; `english` is the translated source and `negative` the
        translated negative source (None: untranslated)."""
        ids = parsed.concept_ids
        phrases = [self.registry.get(i).phrase for i in ids]
        text = parsed.text or parsed.normalized
        if parsed.concept_only:
            english = "" if parsed.lang != "en" else text
            prompt = f"a photo of {_join_phrases(phrases)}"
        elif parsed.lang == "en" or english is None:
            # English needs no translator; untranslated text keeps its own words. Either
            # way each concept is swapped for its token where it stands.
            if parsed.lang == "en":
                english = text
            spans = [(m.start, m.end, self._phrase(m.id, text, m.end)) for m in parsed.concepts]
            prompt = tidy(_replace_spans(text, spans))
        else:
            prompt = self.place_concepts(english, ids)
        if parsed.style is not None:
            prompt = f"{prompt.rstrip(' ,.')}, {parsed.style.prompt}"
        if negative is None or not parsed.negative_needs_translation:
            negative = parsed.negative_source
        names = [self.registry.get(i).name_en for i in parsed.negative_concepts]
        return PromptResult(
            input=parsed.input,
            normalized=parsed.normalized,
            lang=parsed.lang,
            concepts=parsed.shown_concepts,
            source=parsed.source,
            english=english,
            prompt=prompt,
            concept_ids=ids,
            negative_source=parsed.negative_source,
            negative=", ".join(n for n in (negative, *names) if n),
            style=parsed.style.id if parsed.style else None,
        )

    def for_model(self, result: PromptResult, knows: Callable[[str], bool]) -> PromptResult:
        """The prompt for a model that may not know every concept token: each concept it
        does not know (`knows(id)` false) is written as its English description ("the
        Freedom Monument in Riga") where its `token class` (or token) stood."""
        prompt = result.prompt
        for concept_id in result.concept_ids:
            if knows(concept_id):
                continue
            concept = self.registry.get(concept_id)
            said = concept.described
            prompt = re.sub(rf"\b{re.escape(concept.phrase)}\b", said, prompt)
            prompt = re.sub(rf"\b{re.escape(concept.id)}\b", said, prompt)
            prompt = prompt.replace("a photo of a photo of", "a photo of")
        return replace(result, prompt=prompt)

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
        return [english for english, _ in self.translate_all(parsed)]

    def translate_all(
        self, parsed: Sequence[Parsed], beams: int | None = None
    ) -> list[tuple[str | None, str | None]]:
        """Each message's source and negative source, translated in one batch per language
        (the sentence and its negative go together). None where nothing was translated.
        `beams`: fewer than the configured beams, for speed (a long queue)."""
        out: list[list[str | None]] = [
            [None if self.needs_translation(p) else "", None] for p in parsed
        ]
        # a message's source goes as its sentences (code-switched ones as their phrases), all
        # in one batch per language; what is English already is kept as written
        plans: dict[int, list[list[tuple[str, bool]]]] = {}
        by_lang: dict[str, list[tuple[int, int, str]]] = {}
        for i, p in enumerate(parsed):
            if self.needs_translation(p):
                plans[i] = plan_translation(p.source)
                for sentence in plans[i]:
                    for text, translate in sentence:
                        if translate:
                            by_lang.setdefault(p.lang, []).append((i, 0, text))
            if p.negative_needs_translation:
                by_lang.setdefault(p.negative_lang, []).append((i, 1, p.negative_source))
        done: dict[tuple[int, int], list[str]] = {}
        for lang, items in by_lang.items():
            translator = self.translators.for_lang(lang)
            if translator is None:
                continue
            # only translators that say so take fewer beams (a test double may not)
            extra = {"beams": beams} if beams and getattr(translator, "takes_beams", False) else {}
            english = translator.translate([text for _, _, text in items], lang, **extra)
            for (i, which, _), text in zip(items, english, strict=True):
                done.setdefault((i, which), []).append(text)
        for i, plan in plans.items():
            if (i, 0) in done or not any(t for s in plan for _, t in s):
                out[i][0] = join_translation(plan, iter(done.get((i, 0), [])))
        for (i, which), texts in done.items():
            if which == 1:
                out[i][1] = texts[0]
        return [(english, negative) for english, negative in out]

    def build(self, text: str, translate: bool = True, bot_username: str = "") -> PromptResult:
        parsed = self.parse(text, bot_username)
        if not translate:
            return self.assemble(parsed, None)
        [(english, negative)] = self.translate_all([parsed])
        return self.assemble(parsed, english, negative)
