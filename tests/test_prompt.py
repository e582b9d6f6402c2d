from __future__ import annotations

import re
from collections.abc import Sequence
from typing import ClassVar

import pytest

from core.errors import EmptyPrompt
from core.lang.concepts import ConceptRegistry
from core.lang.prompt import PromptBuilder
from core.lang.text import words
from core.lang.translate import Translators
from tests.test_concepts import CHAT_CASES


class UpperTranslator:
    """Honest fake: a deterministic 'translation' that records what it was asked."""

    name = "upper"

    def __init__(self) -> None:
        self.calls: list[tuple[str, list[str]]] = []

    def translate(self, texts: Sequence[str], src: str = "lv") -> list[str]:
        self.calls.append((src, list(texts)))
        return [f"EN({t})" for t in texts]


class GlossaryTranslator:
    """Honest fake of a real MT model: translates the phrases it knows (longest first, any
    case) and copies everything else, as Marian/NLLB copy names they do not know."""

    name = "glossary"
    GLOSSARY: ClassVar[dict[str, str]] = {
        "melngalvju namā": "in the House of the Blackheads",
        "sēž": "sits",
        "un": "and",
        "ēd": "eats",
        "piparkūkas": "gingerbread",
        "trīs": "three",
        "vanšu tiltu": "Vanšu bridge",
        "akvareļi": "watercolours",
        "pie": "on",
        "latvijas universitātes": "the University of Latvia",
        "sienas": "wall",
    }

    def __init__(self) -> None:
        self.seen: list[str] = []

    def translate(self, texts: Sequence[str], src: str = "lv") -> list[str]:
        self.seen.extend(texts)
        keys = sorted(self.GLOSSARY, key=len, reverse=True)
        pattern = re.compile("|".join(re.escape(k) for k in keys), re.IGNORECASE)
        return [pattern.sub(lambda m: self.GLOSSARY[m.group().lower()], t) for t in texts]


@pytest.fixture
def upper() -> UpperTranslator:
    return UpperTranslator()


@pytest.fixture
def builder(upper: UpperTranslator) -> PromptBuilder:
    return PromptBuilder(ConceptRegistry.load(), Translators.single(upper))


def test_the_whole_sentence_reaches_the_translator() -> None:
    fake = GlossaryTranslator()
    b = PromptBuilder(ConceptRegistry.load(), Translators.single(fake))
    text = "Rainis sēž Melngalvju namā un ēd piparkūkas"
    r = b.build(text)
    assert fake.seen == [text] and r.source == text
    assert r.english == "Rainis sits in the House of the Blackheads and eats gingerbread"
    assert r.prompt == "rainis poet sits in the melgalvjunams building and eats piparkuka cookie"
    order = [r.prompt.index(w) for w in ("rainis", "sits", "melgalvjunams", "eats", "piparkuka")]
    assert order == sorted(order)


def test_relations_survive_in_a_second_sentence() -> None:
    b = PromptBuilder(ConceptRegistry.load(), Translators.single(GlossaryTranslator()))
    r = b.build("Trīs Vanšu tiltu akvareļi pie Latvijas Universitātes sienas")
    assert r.prompt == (
        "three vansutilts bridge watercolours on the latvijasuniversitate building wall"
    )


def test_a_concept_the_translation_lost_is_appended_once() -> None:
    class Lossy:
        name = "lossy"

        def translate(self, texts: Sequence[str], src: str = "lv") -> list[str]:
            return ["a bottle on the table." for _ in texts]

    b = PromptBuilder(ConceptRegistry.load(), Translators.single(Lossy()))
    r = b.build("Rīgas balzama pudele uz galda")
    assert r.source == "Rīgas balzama pudele uz galda"
    assert r.prompt == "a bottle on the table, rigabalsam bottle"


def test_a_name_the_translator_copied_is_replaced_in_place(builder: PromptBuilder) -> None:
    r = builder.build("Rīgas balzama pudele uz galda")
    assert r.prompt == "EN(rigabalsam bottle pudele uz galda)"


def test_no_token_twice_when_the_translation_names_a_concept_twice() -> None:
    b = PromptBuilder(ConceptRegistry.load())
    assert b.place_concepts("Rainis and Rainis again", ["rainis"]) == (
        "rainis poet and Rainis again"
    )


def test_placeholder_carry_replaces_spans_with_tokens() -> None:
    fake = GlossaryTranslator()
    b = PromptBuilder(ConceptRegistry.load(), Translators.single(fake), carry="placeholder")
    r = b.build("Rainis sēž Melngalvju namā un ēd piparkūkas")
    assert r.source == "rainis sēž melgalvjunams un ēd piparkuka"
    for token in ("rainis", "melgalvjunams", "piparkuka"):
        assert r.prompt.count(token) == 1


@pytest.mark.parametrize(
    "text",
    [t for t, ids, _ in CHAT_CASES if ids][:80],
)
def test_source_keeps_every_other_word_in_order(builder: PromptBuilder, text: str) -> None:
    for carry in ("refind", "placeholder"):
        builder.carry = carry
        p = builder.parse(text)
        inside = {i for m in p.concepts for i in range(m.start, m.end)}
        rest = [w.text for w in words(p.normalized) if w.start not in inside]
        pos = 0
        for w in rest:
            pos = p.source.index(w, pos) + len(w)


def test_concept_only_prompt_is_not_translated(
    builder: PromptBuilder, upper: UpperTranslator
) -> None:
    r = builder.build("Rainis")
    assert r.lang == "lv" and r.english == "" and r.prompt == "a photo of rainis poet"
    r = builder.build("Rainis un piparkūkas")
    assert r.prompt == "a photo of rainis poet and piparkuka cookie"
    assert upper.calls == []


def test_english_skips_translation_and_replaces_in_place(
    builder: PromptBuilder, upper: UpperTranslator
) -> None:
    r = builder.build("the Freedom Monument in the fog")
    assert r.lang == "en"
    assert r.prompt == "the brivpiem statue in the fog"
    assert upper.calls == []


def test_a_token_written_with_its_class_is_not_doubled(builder: PromptBuilder) -> None:
    assert builder.build("a photo of brivpiem statue at night").prompt == (
        "a photo of brivpiem statue at night"
    )
    assert builder.place_concepts("the brivpiem statue glows", ["brivpiem"]) == (
        "the brivpiem statue glows"
    )


def test_no_translate_keeps_latvian_words_and_swaps_tokens(builder: PromptBuilder) -> None:
    r = builder.build("Gaismas pils rudenī", translate=False)
    assert r.english is None and r.prompt == "nacbib building rudenī"
    assert r.source == "Gaismas pils rudenī"


def test_batch_translation_is_one_call_per_language(
    builder: PromptBuilder, upper: UpperTranslator
) -> None:
    parsed = [builder.parse(t) for t in ("kaķis uz jumta", "Rainis", "suns parkā")]
    english = builder.translate_many(parsed)
    assert english == ["EN(kaķis uz jumta)", "", "EN(suns parkā)"]
    assert upper.calls == [("lv", ["kaķis uz jumta", "suns parkā"])]


def test_russian_goes_to_the_russian_translator() -> None:
    lv, ru = UpperTranslator(), UpperTranslator()
    b = PromptBuilder(ConceptRegistry.load(), Translators({"lv": lv, "ru": ru}))
    r = b.build("Памятник Свободы ночью")
    assert r.lang == "ru" and "brivpiem statue" in r.prompt
    assert ru.calls == [("ru", ["Памятник Свободы ночью"])] and lv.calls == []


def test_a_language_without_translator_cannot_be_translated(builder: PromptBuilder) -> None:
    p = builder.parse("кот на крыше")
    assert p.lang == "ru" and not builder.can_translate(p)
    assert builder.translate_many([p]) == [None]
    assert builder.can_translate(builder.parse("Рижский чёрный бальзам"))  # concepts only


def test_a_multilingual_model_serves_any_language() -> None:
    nllb = UpperTranslator()
    nllb.multilingual = True  # type: ignore[attr-defined]
    b = PromptBuilder(ConceptRegistry.load(), Translators({"lv": nllb}))
    assert b.can_translate(b.parse("katinas ant stogo"))
    b.build("katinas ant stogo")
    assert nllb.calls == [("lt", ["katinas ant stogo"])]


@pytest.mark.parametrize(
    ("text", "lang"),
    [(t, lang) for t, _, lang in CHAT_CASES if lang],
    ids=[t[:40] for t, _, lang in CHAT_CASES if lang],
)
def test_language_of_chat_prompts(builder: PromptBuilder, text: str, lang: str) -> None:
    assert builder.parse(text).lang == lang


def test_invalid_input_raises_typed_error(builder: PromptBuilder) -> None:
    with pytest.raises(EmptyPrompt):
        builder.build("   ")
