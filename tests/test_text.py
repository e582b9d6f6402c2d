from __future__ import annotations

import pytest

from core.errors import ControlCharacters, EmptyPrompt, PromptTooLong
from core.lang.text import detect_language, fold, normalize, words


def test_normalize_nfc_whitespace_and_mentions() -> None:
    decomposed = "Ri\u0304gas   balzams\n\t@ZimeBot"
    assert normalize(decomposed) == "Rīgas balzams"
    assert normalize("@zime_bot kaķis", bot_username="zime_bot") == "kaķis"
    assert normalize("e-pasts a@b.lv") == "e-pasts a@b.lv"  # not a mention
    assert normalize("kaķis\u200b uz jumta") == "kaķis uz jumta"


@pytest.mark.parametrize("text", ["", "   ", "\n", "@zimebot"])
def test_empty(text: str) -> None:
    with pytest.raises(EmptyPrompt):
        normalize(text)


def test_too_long_names_the_length() -> None:
    with pytest.raises(PromptTooLong) as err:
        normalize("a" * 301)
    assert err.value.length == 301 and err.value.limit == 300
    assert normalize("a" * 20, max_chars=20)
    with pytest.raises(PromptTooLong):
        normalize("a" * 21, max_chars=20)


@pytest.mark.parametrize("ch", ["\x00", "\x07", "\x1b", "\x7f", "\u2028"])
def test_control_characters(ch: str) -> None:
    with pytest.raises(ControlCharacters) as err:
        normalize(f"kaķis{ch}")
    assert err.value.codepoint == ord(ch)


def test_fold() -> None:
    assert fold("Brīvības PIEMINEKĻA") == "brivibas pieminekla"
    assert fold("melnaa") == "melna"


def test_words_offsets_and_emoji() -> None:
    got = [(w.text, w.start) for w in words("🎄piparkūkas, Riga's (Milda)!")]
    assert got == [("piparkūkas", 1), ("Riga's", 13), ("Milda", 21)]


LATVIAN = [
    "kaķis uz jumta",
    "kakis uz jumta",
    "suns parka",
    "balta maja mezha",
    "meitene ar suni",
    "zvejnieks jura",
    "pilseta nakti",
    "melns kakis",
    "skaista princese pili",
    "putni lido",
    "kosmonauts uz menesa",
    "egle ar rotajumiem",
    "vilks sniega",
    "laiva ezera",
]
ENGLISH = [
    "a cat on the roof",
    "dog in the park",
    "sunset over the sea",
    "astronaut riding a horse",
    "portrait of an old man",
    "cyberpunk city at night",
    "watercolor painting of a fox",
    "a castle in the mountains",
    "oil painting",
    "two cats playing",
    "cozy cabin in winter",
]


@pytest.mark.parametrize("text", LATVIAN)
def test_latvian_detected(text: str) -> None:
    assert detect_language(text) == "lv"


@pytest.mark.parametrize("text", ENGLISH)
def test_english_detected(text: str) -> None:
    assert detect_language(text) == "en"
