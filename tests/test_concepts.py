from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import ConfigError
from core.lang.concepts import ConceptRegistry
from core.lang.morph import english_key, split_ending, stem_candidates

DATA = Path(__file__).parent / "data"


def load_cases(name: str) -> list[tuple[str, frozenset[str], str]]:
    """(text, expected ids, expected language or "") from a TSV; "# " starts a comment (a
    hashtag such as "#gaismaspils" is a case)."""
    cases = []
    for line in (DATA / name).read_text(encoding="utf-8").splitlines():
        if not line.strip() or line.startswith("# ") or line == "#":
            continue
        text, ids, lang = [*line.split("\t"), "", ""][:3]
        cases.append((text, frozenset(i for i in ids.split(",") if i), lang))
    return cases


CASES = [(t, ids) for t, ids, _ in load_cases("concept_cases.tsv")]
CHAT_CASES = load_cases("chat_cases.tsv")


@pytest.fixture(scope="module")
def registry() -> ConceptRegistry:
    return ConceptRegistry.load()


def test_case_file_is_big_enough() -> None:
    assert len(CASES) >= 150
    assert sum(1 for _, ids in CASES if not ids) >= 40  # look-alikes and plain prompts


@pytest.mark.parametrize(("text", "expected"), CASES, ids=[c[0][:40] for c in CASES])
def test_concept_set(registry: ConceptRegistry, text: str, expected: frozenset[str]) -> None:
    assert {m.id for m in registry.find(text)} == expected


def test_chat_set_is_big_and_has_enough_negatives() -> None:
    assert len(CHAT_CASES) >= 250
    assert sum(1 for _, ids, _ in CHAT_CASES if not ids) >= 0.4 * len(CHAT_CASES)
    assert not {t for t, _, _ in CHAT_CASES} & {t for t, _ in CASES}  # new cases only


@pytest.mark.parametrize(
    ("text", "expected", "lang"), CHAT_CASES, ids=[c[0][:40] for c in CHAT_CASES]
)
def test_chat_set(
    registry: ConceptRegistry, text: str, expected: frozenset[str], lang: str
) -> None:
    assert {m.id for m in registry.find(text)} == expected


def test_spans_point_into_the_text(registry: ConceptRegistry) -> None:
    text = "kaķis pie Brīvības pieminekļa un Raiņa"
    found = registry.find(text)
    assert [(m.id, m.text) for m in found] == [
        ("brivpiem", "Brīvības pieminekļa"),
        ("rainis", "Raiņa"),
    ]
    for m in found:
        assert text[m.start : m.end] == m.text


def test_longest_alias_wins(registry: ConceptRegistry) -> None:
    [m] = registry.find("Rīgas Melnais balzams")
    assert m.text == "Rīgas Melnais balzams"


@pytest.mark.parametrize(
    ("word", "stem", "ending"),
    [
        ("piemineklis", "pieminekl", "is"),
        ("pieminekla", "pieminekl", "a"),
        ("zimem", "zim", "em"),
        ("nacionalajai", "nacional", "ajai"),
        ("svetkos", "svetk", "os"),
        ("melngalvju", "melngalv", "u"),
        ("lu", "lu", ""),
    ],
)
def test_split_ending(word: str, stem: str, ending: str) -> None:
    assert split_ending(word) == (stem, ending)


def test_diminutive_readings() -> None:
    assert ("piparkuk", "*") in stem_candidates("piparkucina")
    assert ("tilt", "*") in stem_candidates("tiltins")


def test_english_key() -> None:
    assert english_key("blackheads") == "blackhead"
    assert english_key("riga's") == "riga"
    assert english_key("bus") == "bus"


def test_every_concept_has_a_class_and_names(registry: ConceptRegistry) -> None:
    ids = {c.id for c in registry}
    assert ids == {
        "melgalvjunams",
        "nacbib",
        "vansutilts",
        "brivpiem",
        "latvijasuniversitate",
        "piparkuka",
        "rigabalsam",
        "latviesurakstuzimes",
        "dziesmusvetki",
        "rainis",
    }
    for c in registry:
        assert c.cls and c.name_lv and c.name_en
        assert registry.find(c.name_lv), c.name_lv
        assert {m.id for m in registry.find(c.name_en)} == {c.id}, c.name_en


def test_bad_data_names_the_missing_key(tmp_path: Path) -> None:
    bad = tmp_path / "c.toml"
    bad.write_text('[[concept]]\nid = "x"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="name_lv"):
        ConceptRegistry.load(bad)
