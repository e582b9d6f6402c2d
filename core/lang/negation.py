"""What people say they do not want (issue #22): "vecrīga bez cilvēkiem", "ainava bez mājām
un ceļiem", "город без машин", "a forest without people".

The phrase after a trigger word ("bez", "без", "without"; "no" in an English sentence), with
the nouns coordinated with it ("un", "и", "and", a comma), is taken out of the message; the
caller translates it into the negative prompt. The rules and the fixed expressions that stay
where they are ("bez maksas", "bez šaubām"), each with its reason, are data in
`negatives.toml`.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

from core.lang.text import Word, detect_language, fold, words

MAX_WORDS = 8  # a phrase longer than this is a sentence, not a list of things to leave out
_CLAUSE_END = re.compile(r"[.;:!?()\[\]\n—–]")


@dataclass(frozen=True)
class Negative:
    start: int  # the span taken out of the message, trigger included
    end: int
    text: str  # the things to leave out, as written


@dataclass(frozen=True)
class _Rules:
    triggers: frozenset[str]
    joiners: frozenset[str]
    stop: frozenset[str]
    oblique: tuple[str, ...]
    oblique_folded: tuple[str, ...]
    manner: tuple[str, ...] = ()  # noun stems that make "bez X" an expression
    articles: frozenset[str] = frozenset()  # skipped right after the trigger
    new_clause: bool = False  # a comma and then a joiner ends the phrase
    common: frozenset[str] = frozenset()  # English nouns "no" takes in any message


@lru_cache(maxsize=1)
def _data() -> tuple[dict[str, _Rules], list[tuple[str, ...]]]:
    raw = resources.files("core.lang").joinpath("negatives.toml").read_text(encoding="utf-8")
    data: dict[str, Any] = tomllib.loads(raw)
    rules = {
        lang: _Rules(
            frozenset(fold(w) for w in r["triggers"]),
            frozenset(fold(w) for w in r["joiners"]),
            frozenset(fold(w) for w in r["stop"]),
            tuple(r.get("oblique", ())),
            tuple(r.get("oblique_folded", ())),
            tuple(fold(w) for w in r.get("manner", ())),
            frozenset(fold(w) for w in r.get("articles", ())),
            bool(r.get("new_clause", False)),
            frozenset(fold(w) for w in r.get("common", ())),
        )
        for lang, r in data["lang"].items()
    }
    keep = [tuple(w.folded for w in words(k["phrase"])) for k in data["keep"]]
    return rules, keep


def kept_expressions() -> list[tuple[str, str]]:
    """The fixed expressions and why each stays in the prompt (for tests and docs)."""
    raw = resources.files("core.lang").joinpath("negatives.toml").read_text(encoding="utf-8")
    return [(k["phrase"], k["why"]) for k in tomllib.loads(raw)["keep"]]


def _continues(rules: _Rules, w: Word) -> bool:
    """Whether a word after the first still belongs to the phrase: for Latvian, a word in a
    case "bez" governs; for the others, any word that is not a stop word."""
    if not rules.oblique:
        return True
    lower = w.text.lower()
    if lower != w.folded:  # written with diacritics: they tell the cases apart
        return lower.endswith(rules.oblique)
    return w.folded.endswith(rules.oblique_folded)


def find_negatives(text: str, english: bool = False) -> list[Negative]:
    """Every "bez …" phrase of `text`, in order. `english`: the sentence is English, so "no"
    is a trigger too."""
    rules, keep = _data()
    ws = list(words(text))
    found: list[Negative] = []
    i = 0
    while i < len(ws):
        lang = next((lg for lg, r in rules.items() if ws[i].folded in r.triggers), None)
        if lang is None or _kept(ws, i, keep) or _manner(ws, i, rules[lang]):
            i += 1
            continue
        if ws[i].folded == "no" and not (english or _english_after(text, ws, i, rules["en"])):
            i += 1
            continue
        r = rules[lang]
        last = _phrase_end(text, ws, i, r)
        if last is None:
            i += 1
            continue
        first = i + 1
        while first < last and ws[first].folded in r.articles:
            first += 1
        found.append(Negative(ws[i].start, ws[last].end, text[ws[first].start : ws[last].end]))
        i = last + 1
    return found


def _manner(ws: list[Word], i: int, r: _Rules) -> bool:
    """ "bez steigas", "без цели": the trigger with a noun of manner or degree."""
    return bool(r.manner) and i + 1 < len(ws) and ws[i + 1].folded.startswith(r.manner)


def _english_after(text: str, ws: list[Word], i: int, en: _Rules) -> bool:
    """ "no" followed by English words ("…, no people"): a negative in any message (in
    Latvian "no" means "from", and a Latvian word follows it)."""
    clause = re.split(r"[,.;:!?()\n]", text[ws[i].end :], maxsplit=1)[0]
    following = list(words(clause))[:3]
    if not following or not all(w.text.isascii() for w in following):
        return False
    if following[0].folded in en.common:
        return True
    return len(following) >= 2 and detect_language(clause, default="lv") == "en"


def english_trigger(text: str) -> bool:
    """The message says "without": what its other words leave open is English."""
    return any(w.folded == "without" for w in words(text))


def _kept(ws: list[Word], i: int, keep: list[tuple[str, ...]]) -> bool:
    return any(tuple(w.folded for w in ws[i : i + len(k)]) == k for k in keep)


def _phrase_end(text: str, ws: list[Word], i: int, r: _Rules) -> int | None:
    """The index of the last word of the phrase that starts after the trigger ws[i]."""
    j = i + 1
    while j < len(ws) - 1 and ws[j].folded in r.articles:  # "without the National Library"
        j += 1
    if j >= len(ws) or ws[j].folded in r.stop or _CLAUSE_END.search(text[ws[i].end : ws[j].start]):
        return None
    last = j
    k = j + 1
    while k < len(ws) and k - j < MAX_WORDS:
        gap = text[ws[k - 1].end : ws[k].start]
        if _CLAUSE_END.search(gap):
            break
        if "," in gap and not _list_goes_on(text, ws, k, r):
            break  # "bez cilvēkiem, vakara gaisma": a new part of the sentence
        joined = "," in gap
        if ws[k].folded in r.joiners:  # "un", ", un"
            joined = True
            k += 1
            if k >= len(ws) or _CLAUSE_END.search(text[ws[k - 1].end : ws[k].start]):
                break
        w = ws[k]
        if w.folded in r.stop or w.folded in r.triggers or not _continues(r, w):
            break
        if not joined and _attribute_of_next(text, ws, k, r):
            break  # "bez sniega ziemas rītā": "ziemas" belongs to "rītā"
        last = k
        k += 1
    return last


def _widened(n: Negative, text: str, names: Sequence[tuple[int, int]]) -> Negative:
    end = max([n.end] + [e for s, e in names if n.start < s < n.end < e])
    if end == n.end:
        return n
    return Negative(n.start, end, text[n.start : end].split(None, 1)[1])


def _attribute_of_next(text: str, ws: list[Word], k: int, r: _Rules) -> bool:
    """A Latvian genitive right before a word outside the phrase is that word's attribute
    ("ziemas rītā": a winter morning), not another thing to leave out. A dative plural
    ("zaļiem kokiem parkā") never is."""
    if not r.oblique or k + 1 >= len(ws) or _CLAUSE_END.search(text[ws[k].end : ws[k + 1].start]):
        return False
    after = ws[k + 1]
    if after.folded in r.joiners or "," in text[ws[k].end : after.start] or _continues(r, after):
        return False
    return not ws[k].folded.endswith(("iem", "am", "em", "im", "um"))


def _list_goes_on(text: str, ws: list[Word], k: int, r: _Rules) -> bool:
    """After a comma, a list of things goes on only when a joiner ("un", "и", "and") comes
    before the next comma or the end of the clause: "bez mākoņiem, koku un putnu"."""
    for n in range(k, len(ws)):
        if n > k and re.search(r"[,.;:!?()\n]", text[ws[n - 1].end : ws[n].start]):
            return False
        if ws[n].folded in r.joiners:
            return not (n == k and r.new_clause)  # ", un": a new part, in Latvian and Russian
    return False


def split_negatives(
    text: str, english: bool = False, names: Sequence[tuple[int, int]] = ()
) -> tuple[str, list[str]]:
    """`text` without its "bez …" phrases, and the phrases. `names`: spans of names (the
    concepts) a phrase takes whole: "bez Gaismas pils" is not cut after "Gaismas"."""
    found = [_widened(n, text, names) for n in find_negatives(text, english)]
    if not found:
        return text, []
    parts, pos = [], 0
    for n in found:
        parts.append(text[pos : n.start])
        pos = n.end
    parts.append(text[pos:])
    rest = re.sub(r"\s{2,}", " ", " ".join(p.strip() for p in parts)).strip()
    rest = re.sub(r"\s+([,.;:!?])", r"\1", rest)
    rest = re.sub(r",\s*,", ",", rest).strip(" ,;:")
    return rest, [n.text for n in found]
