"""Names in context (issue #33, core/lang/context.toml): one test per rule, each with the
sentences it must rule out and those it must leave alone."""

from __future__ import annotations

from collections.abc import Sequence

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


def load_meaning_cases() -> list[tuple[str, frozenset[str], str, str]]:
    """tests/data/meaning_cases.tsv: text, concept ids drawn, lang, negative source."""
    from pathlib import Path

    path = Path(__file__).resolve().parent / "data" / "meaning_cases.tsv"
    cases = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("#"):
            continue
        text, ids, lang, negative = [*line.split("\t"), "", "", ""][:4]
        cases.append((text, frozenset(i for i in ids.split(",") if i), lang, negative))
    return cases


MEANING_CASES = load_meaning_cases()


def test_the_development_set_is_big_and_new() -> None:
    from tests.test_concepts import CASES, CHAT_CASES
    from tests.test_negatives import REGION_CASES

    assert len(MEANING_CASES) >= 150
    earlier = {t for t, _ in CASES} | {t for t, _, _ in CHAT_CASES} | {t for t, *_ in REGION_CASES}
    assert not earlier & {t for t, *_ in MEANING_CASES}  # new cases only


@pytest.mark.parametrize(
    ("text", "expected", "lang", "negative"),
    MEANING_CASES,
    ids=[c[0][:40] for c in MEANING_CASES],
)
def test_meaning_set(
    builder: PromptBuilder, text: str, expected: frozenset[str], lang: str, negative: str
) -> None:
    p = builder.parse(text)
    assert (frozenset(p.concept_ids), p.lang, p.negative_source) == (expected, lang, negative)
    assert not any(ch in p.source for ch in "🐱🌙🐶☀✍🇱")  # no emoji reach the prompt
    for phrase in [p.source, *p.negative_source.split(",")]:
        words = phrase.strip().rstrip(".!?").split()
        if words:  # no phrase starts or ends with a conjunction or a dangling trigger
            assert words[0].lower() not in ("un", "vai", "and", "or", "и", "или"), phrase
            assert words[-1].lower() not in ("un", "vai", "and", "bez", "без", "without"), phrase


class Recording:
    """A translator that writes what it was given in capitals and remembers each call."""

    name = "recording"

    def __init__(self) -> None:
        self.calls: list[list[str]] = []

    def translate(self, texts: Sequence[str], src: str = "lv") -> list[str]:
        self.calls.append(list(texts))
        return [t.upper() for t in texts]


def test_a_long_message_goes_as_its_sentences_in_one_batch() -> None:
    from core.lang.translate import Translators

    recording = Recording()
    builder = PromptBuilder(ConceptRegistry.load(), Translators.single(recording))
    text = "Vakarā gājām pa Vecrīgu. Pie Brīvības pieminekļa spēlēja mūziķi. Bija silts."
    result = builder.build(text)
    assert len(recording.calls) == 1 and len(recording.calls[0]) == 3  # one batch, 3 sentences
    assert result.english is not None and result.english.count(".") == 3
    assert result.concept_ids == ("brivpiem",)


def test_a_code_switched_sentence_keeps_its_english_phrases() -> None:
    from core.lang.translate import Translators

    recording = Recording()
    builder = PromptBuilder(ConceptRegistry.load(), Translators.single(recording))
    result = builder.build("Vanšu tilts, at night, ļoti skaists")
    assert recording.calls == [["Vanšu tilts", "ļoti skaists"]]  # "at night" is not sent
    assert result.english == "VANŠU TILTS, at night, ĻOTI SKAISTS"
