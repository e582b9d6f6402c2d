"""Names in context (issue #33, core/lang/context.toml): one test per rule, each with the
sentences it must rule out and those it must leave alone."""

from __future__ import annotations

import pytest

from core.lang.concepts import ConceptRegistry
from core.lang.prompt import PromptBuilder


@pytest.fixture(scope="module")
def builder() -> PromptBuilder:
    return PromptBuilder(ConceptRegistry.load())


def ids(builder: PromptBuilder, text: str) -> list[str]:
    return list(builder.parse(text).concept_ids)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Milda ar vīru dejo kāzās", []),
        ("моя бабушка Милда вяжет носки", []),
        ("Milda cep piparkūkas ar mazmeitu", ["piparkuka"]),
        ("mana draudzene Milda smejas", []),
        ("Milda tur zvaigznes virs pilsētas", ["brivpiem"]),  # the monument's own pose
        ("Milda naktī ar ziediem", ["brivpiem"]),  # no person's signal
        ("Brīvības piemineklis un mamma", ["brivpiem"]),  # not by the name "Milda"
        ("Rainis ar sievu Aspaziju", ["rainis"]),  # a person concept: never ruled out
        ("Milda ar vīru dejo. Milda naktī.", ["brivpiem"]),  # another sentence: the monument
    ],
)
def test_a_first_name_among_people_is_a_person(
    builder: PromptBuilder, text: str, expected: list[str]
) -> None:
    assert ids(builder, text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Raiņa vārdā nosauktā ģimnāzija", []),
        ("suns vārdā Rainis guļ uz dīvāna", []),
        ("корабль имени Райниса в порту", []),
        ("a cat named Rainis", []),
        ("Rainis raksta vēstuli", ["rainis"]),
        ("Raiņa piemineklis Esplanādē", ["rainis"]),
    ],
)
def test_named_after_is_the_thing_named(
    builder: PromptBuilder, text: str, expected: list[str]
) -> None:
    assert ids(builder, text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("koris dzied Vītola „Gaismas pili”", []),
        ("grāmata „Melngalvju nams” uz galda", []),
        ("хор поёт «Замок Света»", []),
        ("„Rīgas Melnais balzams” uz etiķetes", ["rigabalsam"]),  # a brand on a label
        ("„Milda” sniegā", ["brivpiem"]),  # a quoted nickname
        ("Gaismas pils un dziesma", ["nacbib"]),  # a title word, but no quotes
    ],
)
def test_a_quoted_name_beside_a_title_word_is_a_title(
    builder: PromptBuilder, text: str, expected: list[str]
) -> None:
    assert ids(builder, text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Brīvības piemineklis Kauņā", []),
        ("Kauņas Brīvības piemineklis saulrietā", []),
        ("Freedom Monument in Kaunas", []),
        ("Памятник Свободы в Каунасе", []),
        ("Nacionālā bibliotēka Viļņā", []),
        ("Brīvības piemineklis no Kauņas", ["brivpiem"]),  # from there: not its location
        ("Rīgas balzams Ņujorkā", ["rigabalsam"]),  # a product travels
        ("Brīvības piemineklis Rīgā", ["brivpiem"]),  # its own city
    ],
)
def test_another_place_makes_it_that_places_own(
    builder: PromptBuilder, text: str, expected: list[str]
) -> None:
    assert ids(builder, text) == expected


def test_a_ruled_out_name_stays_in_the_words_for_the_translator(builder: PromptBuilder) -> None:
    parsed = builder.parse("Milda ar vīru dejo kāzās")
    assert parsed.concept_ids == () and "Milda" in parsed.source
