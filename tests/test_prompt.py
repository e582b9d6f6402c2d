from __future__ import annotations

from collections.abc import Sequence

import pytest

from core.errors import EmptyPrompt
from core.lang.concepts import ConceptRegistry
from core.lang.prompt import PromptBuilder


class UpperTranslator:
    """Honest fake: a deterministic 'translation' that records what it was asked."""

    name = "upper"

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def translate(self, texts: Sequence[str]) -> list[str]:
        self.calls.append(list(texts))
        return [f"EN({t})" for t in texts]


@pytest.fixture
def builder() -> PromptBuilder:
    return PromptBuilder(ConceptRegistry.load(), UpperTranslator())


def test_concepts_are_protected_from_the_translator(builder: PromptBuilder) -> None:
    r = builder.build("Rīgas balzama pudele uz galda")
    assert r.lang == "lv"
    assert [m.id for m in r.concepts] == ["rigabalsam"]
    assert r.remainder == "pudele uz galda"
    assert r.english == "EN(pudele uz galda)"
    assert r.prompt == "rigabalsam bottle, EN(pudele uz galda)"
    assert builder.translator.calls == [["pudele uz galda"]]  # type: ignore[union-attr]


def test_link_word_before_a_concept_is_dropped(builder: PromptBuilder) -> None:
    r = builder.build("kaķis pie Brīvības pieminekļa naktī")
    assert r.remainder == "kaķis, naktī"
    assert r.prompt.startswith("brivpiem statue, ")


def test_concept_only_prompt_is_not_translated(builder: PromptBuilder) -> None:
    r = builder.build("Rainis")
    assert r.lang == "lv" and r.english == "" and r.prompt == "a photo of rainis poet"
    assert builder.translator.calls == []  # type: ignore[union-attr]


def test_several_concepts_all_in_prompt(builder: PromptBuilder) -> None:
    r = builder.build("Rainis un piparkūkas pie Vanšu tilta")
    for token in ("rainis", "piparkuka", "vansutilts"):
        assert token in r.prompt


def test_english_skips_translation_and_replaces_in_place(builder: PromptBuilder) -> None:
    r = builder.build("the Freedom Monument in the fog")
    assert r.lang == "en"
    assert r.prompt == "the brivpiem statue in the fog"
    assert builder.translator.calls == []  # type: ignore[union-attr]


def test_no_translate_keeps_latvian_rest(builder: PromptBuilder) -> None:
    r = builder.build("Gaismas pils rudenī", translate=False)
    assert r.english is None and r.prompt == "nacbib building, rudenī"


def test_batch_translation_is_one_call(builder: PromptBuilder) -> None:
    parsed = [builder.parse(t) for t in ("kaķis uz jumta", "Rainis", "suns parkā")]
    english = builder.translate_many(parsed)
    assert english == ["EN(kaķis uz jumta)", "", "EN(suns parkā)"]
    assert builder.translator.calls == [["kaķis uz jumta", "suns parkā"]]  # type: ignore[union-attr]


def test_invalid_input_raises_typed_error(builder: PromptBuilder) -> None:
    with pytest.raises(EmptyPrompt):
        builder.build("   ")
