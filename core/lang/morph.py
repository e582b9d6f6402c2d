"""Word morphology for concept matching: Latvian endings, English plurals, Russian endings,
and one-letter typos. Works on folded words (see `core.lang.text.fold`)."""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache

import LatvianStemmer

from core.lang.text import fold

# Endings (folded) each Latvian declension can show, singular and plural. Chosen by the
# nominative ending of the alias word; see `paradigm`.
_P1 = frozenset({"s", "a", "am", "u", "i", "iem", "us", "os"})  # tilts, balzams
_P2 = frozenset({"is", "a", "im", "i", "u", "iem", "us", "os"})  # Rainis, Jānis
_P3 = frozenset({"us", "um", "u", "i", "iem", "os"})  # tirgus
_P4 = frozenset({"a", "as", "ai", "u", "am"})  # piparkūka, bibliotēka, Milda
_P5 = frozenset({"e", "es", "ei", "i", "u", "em"})  # zīme, universitāte
_P6 = frozenset({"s", "ij", "i", "is", "u", "im"})  # pils
_ADJ = _P1 | {"ais", "ajam", "o", "aja", "ie", "ajiem", "ajos", "as", "ajai", "ajas", "ai", "e"}
# Masculine nouns of the 1st and 2nd declension drop the ending in the vocative ("Vanšu
# tilt!"); only the last word of a multi-word name gets it (see patterns.lv_word).
VOCATIVE_PARADIGMS = (_P1, _P2, _P1 | _P6)

# The stemmer's affixes, folded (ā -> a …) so that words typed without diacritics are
# stemmed like their proper spelling. Order matters (longest first) and is the library's.
_AFFIXES: tuple[tuple[str, int, bool], ...] = tuple(
    dict.fromkeys((fold(a.affix), a.vc, a.palatalizes) for a in LatvianStemmer.affixes)
)
_VOWELS = frozenset("aeiou")
_DIMINUTIVE_SUFFIXES = ("in", "it", "en")  # -iņ-, -īt-, -ēn-
_ALTERNATIONS = (("dz", "g"), ("c", "k"))  # piparkūciņa <- piparkūka, kājiņa <- kāja

# Russian case endings of nouns and adjectives (folded: ё -> е). An input word is read with
# each ending it may carry removed; an alias, written in the nominative, loses only its
# nominative ending. That ties the cases of a name together ("Памятника Свободы",
# "бальзамом" ~ "бальзам") without a full stemmer.
_RU_ENDINGS = tuple(
    """
    ого его ому ему ыми ими ами ями ой ей ий ый ая яя ое ее ые ие ую юю ым им ом ем ах ях
    ам ям ов ев ых их ы и а я у ю е о ь
    """.split()
)
_RU_NOMINATIVE = (
    "ый",
    "ий",
    "ой",
    "ая",
    "яя",
    "ое",
    "ее",
    "ые",
    "ие",
    "а",
    "я",
    "о",
    "е",
    "ь",
    "ы",
    "и",
)
_RU_MIN_STEM = 3


@lru_cache(maxsize=8192)
def split_ending(folded: str) -> tuple[str, str]:
    """Split a folded word into (stem, ending) with the Latvian light stemmer's rules."""
    vowels = sum(ch in _VOWELS for ch in folded)
    for affix, vc, palatalizes in _AFFIXES:
        if vowels > vc and len(folded) >= len(affix) + 3 and folded.endswith(affix):
            n = len(folded) - len(affix)
            chars = list(folded)
            stem = folded[:n]
            if palatalizes:
                stem = "".join(LatvianStemmer.un_palatalize(chars, n))
            return stem, affix
    return folded, ""


@lru_cache(maxsize=8192)
def stem_candidates(folded: str) -> tuple[tuple[str, str], ...]:
    """(stem, ending) readings of an input word: the plain one and, for diminutives, the
    base word's stem with the wildcard ending."""
    stem, ending = split_ending(folded)
    out = [(stem, ending)]
    for suffix in _DIMINUTIVE_SUFFIXES:
        base = stem[: -len(suffix)]
        if stem.endswith(suffix) and len(base) >= 3 and ending:
            out.append((base, "*"))
            for changed, original in _ALTERNATIONS:
                if base.endswith(changed):
                    out.append((base[: -len(changed)] + original, "*"))
    return tuple(out)


def english_key(folded: str) -> str:
    """Tolerate English plural and possessive: 'blackheads' -> 'blackhead', "riga's" -> 'riga'."""
    for tail in ("'s", "’s", "'", "’"):
        if folded.endswith(tail):
            folded = folded[: -len(tail)]
    if len(folded) > 4 and folded.endswith("ies"):
        return folded[:-3] + "y"
    if len(folded) > 3 and folded.endswith("s") and not folded.endswith("us"):
        return folded[:-1]
    return folded


@lru_cache(maxsize=8192)
def ru_stem(nominative: str) -> str:
    """A Russian alias word without its nominative ending: 'рижский' -> 'рижск'. The soft
    sign is dropped, as Russian typed in Latin letters often drops it ('balzam')."""
    nominative = nominative.replace("ь", "")
    for ending in _RU_NOMINATIVE:
        if nominative.endswith(ending) and len(nominative) - len(ending) >= _RU_MIN_STEM:
            return nominative[: -len(ending)]
    return nominative


@lru_cache(maxsize=8192)
def ru_readings(folded: str) -> frozenset[str]:
    """The stems a Russian input word may have: 'бальзамом' -> {'бальзамом', 'бальзам', …}."""
    folded = folded.replace("ь", "")
    out = {folded}
    for ending in _RU_ENDINGS:
        if folded.endswith(ending) and len(folded) - len(ending) >= _RU_MIN_STEM:
            out.add(folded[: -len(ending)])
    return frozenset(out)


def is_cyrillic(word: str) -> bool:
    return any("\u0400" <= ch <= "\u04ff" for ch in word)


def paradigm(nominative: str) -> frozenset[str]:
    """The endings a Latvian word can take, judged from its nominative (with diacritics)."""
    w = nominative.lower()
    if w.endswith(("ais", "ā", "ās", "ie")):
        return _ADJ
    if w.endswith("is"):
        return _P2
    if w.endswith("us"):
        return _P3
    if w.endswith("es"):
        return _P5
    if w.endswith("as"):
        return _P4
    if w.endswith(("s", "š")):
        return _P1 | _P6
    if w.endswith("a"):
        return _P4
    if w.endswith("e"):
        return _P5
    if w.endswith("i"):
        return _P1
    return frozenset()


def deletions(word: str) -> set[str]:
    """Every string one deletion away from `word` (the keys of a typo index)."""
    return {word[:i] + word[i + 1 :] for i in range(len(word))}


def within_one_edit(a: str, b: str) -> bool:
    """True when `a` and `b` differ by at most one insertion, deletion, substitution or
    transposition of neighbours (Damerau-Levenshtein distance <= 1)."""
    if a == b:
        return True
    la, lb = len(a), len(b)
    if abs(la - lb) > 1:
        return False
    i = 0
    while i < min(la, lb) and a[i] == b[i]:
        i += 1
    if la == lb:
        if a[i + 1 :] == b[i + 1 :]:
            return True  # substitution
        return i + 1 < la and a[i] == b[i + 1] and a[i + 1] == b[i] and a[i + 2 :] == b[i + 2 :]
    if la > lb:
        return a[i + 1 :] == b[i:]
    return a[i:] == b[i + 1 :]


def near_any(word: str, forms: Iterable[str]) -> bool:
    return any(within_one_edit(word, f) for f in forms)


# Lithuanian (issue #22): the neighbours' names of the concepts ("Laisvės paminklas",
# "Rygos juodasis balzamas") in any case, by their stem. Lithuanian letters are folded to
# their base letter first; the longest case ending is cut, keeping a stem of 3 letters.
_LT_FOLD = str.maketrans("ąęėįųūčšž", "aeeiuucsz")
_LT_ENDINGS = tuple(
    sorted(
        dict.fromkeys(
            w.translate(_LT_FOLD)
            for w in """
    iesiems uosius osioms ajame ojoje osios asias asis ojo ajam ąjį uoju ieji ųjų ąją
    iuose uose iams iems ioms iose ose yse ams ems oms ies ius ias iai iui iu ių
    as is ys us es os ai ui ei ą ę į ų ė a o e i u y
    """.split()
        ),
        key=len,
        reverse=True,
    )
)


@lru_cache(maxsize=8192)
def lt_stem(folded: str) -> str:
    """'laisvės' -> 'laisv', 'paminklą' -> 'paminkl', 'rygos' -> 'ryg'."""
    word = folded.translate(_LT_FOLD)
    for ending in _LT_ENDINGS:
        if word.endswith(ending) and len(word) - len(ending) >= _RU_MIN_STEM:
            return word[: -len(ending)]
    return word


# Russian typed in Latin letters (issue #22): "pamyatnik svobody nochyu". Longest first.
_TO_CYRILLIC = sorted(
    {
        "shch": "щ",
        "sch": "щ",
        "oy": "ой",
        "ay": "ай",
        "ey": "ей",
        "uy": "уй",
        "iy": "ий",
        "yy": "ый",
        "yj": "ый",
        "ij": "ий",
        "zh": "ж",
        "kh": "х",
        "ts": "ц",
        "ch": "ч",
        "sh": "ш",
        "yu": "ю",
        "ju": "ю",
        "ya": "я",
        "ja": "я",
        "yo": "ё",
        "jo": "ё",
        "ye": "е",
        "je": "е",
        "a": "а",
        "b": "б",
        "v": "в",
        "g": "г",
        "d": "д",
        "e": "е",
        "z": "з",
        "i": "и",
        "j": "й",
        "k": "к",
        "l": "л",
        "m": "м",
        "n": "н",
        "o": "о",
        "p": "п",
        "r": "р",
        "s": "с",
        "t": "т",
        "u": "у",
        "f": "ф",
        "h": "х",
        "c": "ц",
        "w": "в",
        "x": "кс",
        "q": "к",
        "y": "ы",
        "'": "ь",
        "’": "ь",
    }.items(),
    key=lambda kv: -len(kv[0]),
)


def to_cyrillic(text: str) -> str:
    """Russian written in Latin letters, in Cyrillic ('rizhskiy balzam' -> 'рижский балзам');
    a capital stays a capital, digits and punctuation stay."""
    out, i, lower = [], 0, text.lower()
    while i < len(text):
        for latin, cyr in _TO_CYRILLIC:
            if lower.startswith(latin, i):
                out.append(cyr.capitalize() if text[i].isupper() else cyr)
                i += len(latin)
                break
        else:
            out.append(text[i])
            i += 1
    return "".join(out)
