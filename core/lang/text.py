"""Latvian text normalization, folding for matching, and language routing (lv / en)."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import Any

from core.errors import ControlCharacters, EmptyPrompt, PromptTooLong

# An ISO 639-1 code: "lv", "en", "ru", "lt", "et", "de", …
Lang = str

DEFAULT_MAX_CHARS = 300

_MENTION = re.compile(r"(?<![\w@])@[A-Za-z0-9_]{3,64}\b")
_WS = re.compile(r"\s+")
# A run of letters (an apostrophe inside keeps it whole: "Riga's"), a run of digits, or "&".
# Hyphens and underscores separate ("Gaismas_pils"), and so do letter/digit boundaries
# ("#dziesmusvetki2025" -> "dziesmusvetki", "2025").
_WORD = re.compile(r"&|[^\W\d_]+(?:['’][^\W\d_]+)*|\d+")
_FOLD = str.maketrans({**dict(zip("āčēģīķļņšūžōŗё", "acegiklnsuzorе", strict=True)), "&": "un"})
# Chat spelling without a Latvian keyboard: "vanshu" = "vanšu" (sh/ch/zh for š/č/ž) and
# "Rainja" = "Raiņa" (nj/lj/kj/gj for ņ/ļ/ķ/ģ). Real Latvian words almost never have these
# pairs, and aliases fold the same way, so the rule only merges spellings of one word.
_DIGRAPH = re.compile(r"([scz])h|([nlkg])j")
# A letter typed twice is chat spelling of a long vowel ("melnaa") or a slip ("Rainiss").
_DOUBLED = re.compile(r"([^\W\d_])\1+")
# Letters only Latvian writes (Lithuanian shares š, ž, č and ū).
_LV_ONLY = frozenset("āēīķļņģĀĒĪĶĻŅĢ")
_LT_ONLY = frozenset("ąęėįųĄĘĖĮŲ")
_ET_ONLY = frozenset("õÕ")
_DE_ONLY = frozenset("ßẞ")
_ALLOWED_CONTROL = frozenset("\t\n\r")


def normalize(text: str, *, max_chars: int = DEFAULT_MAX_CHARS, bot_username: str = "") -> str:
    """NFC, strip @mentions (of this bot, or any when `bot_username` is empty), collapse spaces.

    Raises EmptyPrompt, PromptTooLong or ControlCharacters with the offending value.
    """
    text = unicodedata.normalize("NFC", text)
    for ch in text:
        if ch in _ALLOWED_CONTROL:
            continue
        if unicodedata.category(ch) in ("Cc", "Cs", "Co") or ch in "\u2028\u2029":
            raise ControlCharacters(ord(ch))
    # Zero-width and BOM characters carry nothing visible; they would only break matching.
    text = re.sub("[\u200b\u200c\u200d\u2060\ufeff]", "", text)
    if bot_username:
        text = re.sub(rf"(?<![\w@])@{re.escape(bot_username.lstrip('@'))}\b", " ", text, flags=re.I)
    else:
        text = _MENTION.sub(" ", text)
    text = _WS.sub(" ", text).strip()
    if not text:
        raise EmptyPrompt()
    if len(text) > max_chars:
        raise PromptTooLong(len(text), max_chars)
    return text


def _undigraph(m: re.Match[str]) -> str:
    return m.group(1) or m.group(2)


def fold(text: str) -> str:
    """The matching key of a text: lower case without Latvian diacritics, chat spelling undone.

    'Pieminekļa' -> 'pieminekla'; 'melnaa' -> 'melna' and 'Rainiss' -> 'rainis' (a doubled
    letter is one); 'vanshu' -> 'vansu' (sh/ch/zh for š/č/ž); '&' -> 'un'; 'ё' -> 'е'.
    Aliases and input are folded alike, so a rule here can only merge spellings, never make
    a word match an alias it does not equal after folding."""
    return _DOUBLED.sub(r"\1", _DIGRAPH.sub(_undigraph, text.lower().translate(_FOLD)))


@dataclass(frozen=True)
class Word:
    text: str
    start: int
    end: int

    @cached_property
    def folded(self) -> str:  # read once per candidate pattern: compute once
        return fold(self.text)


def words(text: str) -> Iterator[Word]:
    for m in _WORD.finditer(text):
        yield from _camel_parts(m.group(), m.start())


def _camel_parts(token: str, offset: int) -> Iterator[Word]:
    """CamelCase hashtags ("#BrivibasPiemineklis") split where a lower-case letter meets a
    capital."""
    start = 0
    for i in range(1, len(token)):
        if token[i].isupper() and token[i - 1].islower():
            yield Word(token[start:i], offset + start, offset + i)
            start = i
    yield Word(token[start:], offset + start, offset + len(token))


# Closed-class and very common words are the best language signal in short chat prompts
# typed without diacritics ("kakis uz jumta"). Folded like the input, so they match with or
# without diacritics. A word that is common in two of these languages is left out.
def _folded_set(text: str) -> frozenset[str]:
    return frozenset(fold(w) for w in text.split())


FUNCTION_WORDS: dict[str, frozenset[str]] = {
    "lv": _folded_set(
        """
        un uz pie par pa zem virs aiz pret starp bez pēc līdz ap gar caur kā ko kas ir bija
        arī vai bet jo tā tas šeit tur kur kad tik ļoti viens viena divi trīs mans mana tavs
        tava savs sava viņš viņa viņi viņas es tu mēs jūs nav jau vēl kurš kura kuri kuras
        šajā šis šī šie kaut nekā nekas visi visas viss laba labs liels liela maza mazs
        skaists skaista sarkans sarkana zils zila zaļš zaļa balts balta melns melna dzeltens
        dzeltena jauns jauna vecs veca ziemā vasarā rudenī pavasarī naktī vakarā rītā diena
        kaķis suns meitene puisis māja mežā jūra jūrā saulrietā sniegā lietū
        """
    ),
    "en": _folded_set(
        """
        the a an of in on at with and or from by for is are was be this that these those it
        its his her their my your our near under over above behind next into onto as like
        very big small red blue green white black yellow old new beautiful night day morning
        evening sunset sunrise winter summer autumn spring snow rain photo painting picture
        drawing style standing sitting walking flying cat dog woman man house city street
        girl boy forest sea
        """
    ),
    # Latgalian (ltg), the written language of Latgale: its own spelling of the common words
    # ("i" for un, "kai" for kā, "myusu", "pyls") and the letters y and ō
    "ltg": _folded_set(
        """
        kai myusu jū jei jis vysi vysu vysa iz pi aba byut beja tys itys vydā sovu sūpluok
        pyls dīna dīnā vokors vokorā vosorā sāta sātā cylvāks cylvāki bārni bārns lels
        lela moza mozs breivis Latgola Latgolys Latgolā Reigā Reigys kūks kūki upis dzīsme
        dzīsmis myužs vuordi vuords ūtrs pyrmais golds golda golvys sauleite
        """
    ),
    # Russian typed in Latin letters ("kot na kryshe nochyu"): detected as "ru", then read in
    # Cyrillic (core.lang.morph.to_cyrillic)
    "ru": _folded_set(
        """
        na v vo s so u eto kak ochen pod nad okolo vozle ryadom nochyu noch'yu dnem utrom
        vecherom zimoy letom osenyu vesnoy kot koshka sobaka gorod ulitsa doroga reka nebo
        solntse krasivyy krasivaya krasivoe staryy staraya bolshoy bolshaya malenkiy
        pamyatnik svobody rizhskiy rizhskij chernyy chyornyy balzam butylka stole stol
        prazdnik pesni tantsa biblioteka universitet most vantovyy dom chernogolovykh
        pryanik pryaniki imbirnoe pechenye zamok sveta chitaet chitayet knigu kniga pishet
        stoit idet idyot sidit spit gulyaet tantsuet poet igraet risuet devushka malchik
        zhenshchina muzhchina babushka dedushka lesu zakat rassvet dozhd sneg zimoy
        """
    ),
    "lt": _folded_set(
        """
        su ant prie po iš į kad kaip yra buvo labai tai mano tavo šalia virš naktį prieš
        tarp nuo apie gražus graži didelis didelė mažas maža senas sena naujas nauja žalias
        baltas balta juodas juoda raudonas mėlynas ežero ežeras namas katinas šuo mergina
        vaikas žmogus saulėlydis saulė miške mieste sniege žiemą vasarą kalnuose
        """
    ),
    "et": _folded_set(
        """
        ja ning koos peal kus mis see üks ilus suur väike kass koer öösel talvel metsas päike
        järve linnas maja mees naine tüdruk
        """
    ),
    "de": _folded_set(
        """
        der die das und mit auf im ein eine ist einem einer den dem bei unter über nacht
        hund katze schöne schöner alte alter winter stadt wald
        """
    ),
}
# Letters that name their language outright (Latvian ones only in a word that is not a
# capitalised name: "walking in Jūrmala" is English).
_LTG_ONLY = frozenset("ōŌ")
# "uo"; the genitive "-ys" after a consonant (golvys; not "toys"); "y" in a word with a
# Latvian ending (tylts, vysi, myusu; not "cyberpunk", "yoga")
_LTG_SPELLING = re.compile(r"(?<!q)uo|[^aeiouy]ys$|^[^y]*y(?!s$)\w*[suiāēīū]$")
# A sentence whose grammar words are Latvian is Latvian, whatever its nouns are.
_LV_GRAMMAR = frozenset({"ar", "un", "uz", "pie", "par", "zem", "virs", "aiz", "starp", "pec"})
_EN_GRAMMAR = frozenset(
    {
        "the",
        "a",
        "an",
        "of",
        "in",
        "on",
        "at",
        "with",
        "and",
        "or",
        "from",
        "to",
        "by",
        "for",
        "is",
        "are",
        "near",
        "under",
        "over",
    }
)
_UNIQUE_LETTERS = (
    ("lv", _LV_ONLY),
    ("lt", _LT_ONLY),
    ("et", _ET_ONLY),
    ("de", _DE_ONLY),
    ("ltg", _LTG_ONLY),
)
_LATIN_LANGS = ["lv", "en", "lt", "et", "de"]
_CYRILLIC = re.compile(r"[\u0400-\u04ff]")
_LATIN = re.compile(r"[A-Za-z\u00c0-\u024f]")


@lru_cache(maxsize=1)
def _identifier() -> Any:
    import py3langid.langid as langid  # small, pure-Python model shipped with the package

    ident = langid.LanguageIdentifier.from_model_file(langid.MODEL_FILE, norm_probs=True)
    ident.set_languages(_LATIN_LANGS)
    return ident


def _cyrillic_language(text: str) -> Lang:
    if any(ch in "їєґЇЄҐ" for ch in text):
        return "uk"
    if any(ch in "ўЎ" for ch in text):
        return "be"
    return "ru"


def _is_name(w: Word, first: bool) -> bool:
    return w.text[:1].isupper() and not first


def _latgalian_spellings(ws: list[Word], score: dict[str, int]) -> int:
    """Lower-case words spelt as Latvian never is, with "uo" or "y" (tylts, gruomota),
    counted only in a sentence that reads Latvian or Latgalian already, with no Lithuanian
    letter (Lithuanian writes both) and no English word ("sunny day")."""
    if not (score["lv"] or score["ltg"]) or score["lt"] or score["en"]:
        return 0
    return sum(1 for w in ws if w.text.islower() and _LTG_SPELLING.search(w.text))


def detect_language(text: str, default: Lang = "lv") -> Lang:
    """The code of `text`: "lv", "ltg" (Latgalian), "en", "ru", "lt", "et", "de", "uk" or "be".

    1. Cyrillic script decides outright (Russian unless Ukrainian/Belarusian letters show).
    2. Letters only one language writes, and that language's common words, are counted;
       Latvian letters inside a capitalised name do not count, so an English sentence that
       names a Latvian place stays English.
    3. With no clear winner, py3langid judges among the Latin-script languages a Latvian
       user plausibly types. Latvian typed without diacritics often looks Lithuanian or
       Estonian to it, so those win only when it is very sure; otherwise the text is in
       `default`: Latvian (this is a Latvian bot), or what the caller knows better (English
       when every concept in the message was named in English)."""
    cyrillic = len(_CYRILLIC.findall(text))
    if cyrillic and cyrillic >= len(_LATIN.findall(text)):
        return _cyrillic_language(text)
    ws = [w for w in words(text) if not w.text.isdigit()]
    if not ws:
        return default
    score = dict.fromkeys(FUNCTION_WORDS, 0)
    for i, w in enumerate(ws):
        for lang, letters in _UNIQUE_LETTERS:
            if any(ch in letters for ch in w.text) and not (lang == "lv" and _is_name(w, i == 0)):
                score[lang] += 2
                score["ltg"] += lang == "lv"  # Latgalian writes the Latvian letters too
        for lang, common in FUNCTION_WORDS.items():
            # Latgalian's own spellings of common words are its surest sign
            score[lang] += (2 if lang == "ltg" else 1) * (w.folded in common)
    score["ltg"] += 2 * _latgalian_spellings(ws, score)
    ranked = sorted(score.items(), key=lambda kv: -kv[1])
    folded = {w.folded for w in ws}
    others = max(v for k, v in score.items() if k not in ("lv", "en"))
    if folded & _LV_GRAMMAR and not folded & _EN_GRAMMAR and score["en"] >= others:
        return "lv"  # "cat ar sunglasses uz beach": English nouns, Latvian grammar
    if ranked[0][1] > ranked[1][1]:
        return ranked[0][0]
    if any(ch in _LV_ONLY for ch in text) and ranked[0][1] == 0:
        return "lv"  # nothing but a Latvian name or two
    lang, prob = _identifier().classify(text.lower())
    if lang == "en" or (lang in ("lt", "et", "de", "lv") and prob >= 0.9):
        return str(lang)
    return default


_LEADING = frozenset({"un", "vai", "bet", "and", "or", "nor", "but", "и", "или", "а", "но"})
# a phrase may not end with these: a conjunction, or a trigger or preposition left dangling
_TRAILING = _LEADING | {"ne", "bez", "без", "without", "no"}
_SPACE_BEFORE = re.compile(r"\s+([,.!?;:])")
_COMMA_RUN = re.compile(r",(\s*,)+")
_COMMA_END = re.compile(r",\s*([.!?;:])")
_SENTENCE = re.compile(r"[^.!?]+[.!?]*")
_PHRASE_COMMA = re.compile(r"(?<!\d),|,(?!\d)")  # not the comma of 3,5


def is_emoji(ch: str) -> bool:
    """A pictograph, its skin tone, variation selector or joiner: nothing a model reads."""
    return unicodedata.category(ch) in ("So", "Sk", "Cs") or ch in "\u200d\ufe0f\ufe0e"


def tidy(text: str) -> str:
    """Text for the translator and the prompt (issue #33): no emoji, no comma or space before
    a full stop, no doubled commas, and no sentence or comma-joined phrase that starts or
    ends with a conjunction or a comma, or ends with a dangling "bez"/"without"."""
    text = "".join(ch for ch in text if not is_emoji(ch))
    text = _COMMA_END.sub(r"\1", _COMMA_RUN.sub(",", text))
    text = _SPACE_BEFORE.sub(r"\1", _WS.sub(" ", text)).strip()
    sentences = []
    for sentence in _SENTENCE.findall(text):
        body = sentence.rstrip(".!? ")
        end = sentence[len(body) :].strip()
        kept = ", ".join(p for p in (_trim(x) for x in _PHRASE_COMMA.split(body)) if p)
        if kept:
            sentences.append(kept + end)
    return " ".join(sentences).strip()


def _trim(phrase: str) -> str:
    ws = phrase.split()
    while ws and ws[0].lower() in _LEADING:
        ws.pop(0)
    while ws and ws[-1].lower() in _TRAILING:
        ws.pop()
    return " ".join(ws)


_HASHTAG = re.compile(r"#(\w+)")
_CAMEL = re.compile(r"(?<=[a-zāčēģīķļņšūž])(?=[A-ZĀČĒĢĪĶĻŅŠŪŽ])")
_REPEATS = re.compile(r"([^\W\d_])\1{2,}")  # three or more of one letter: chat emphasis


def chat_plain(text: str) -> str:
    """Chat writing as a translator reads it: hashtags as words ("#RīgasDoms" → "Rīgas
    Doms"), a letter repeated for emphasis once ("ļoooti" → "ļoti"), and shouting (a word
    of four or more capitals, or a message all in capitals) in lower case."""
    text = _HASHTAG.sub(lambda m: _CAMEL.sub(" ", m.group(1)), text)
    text = _REPEATS.sub(r"\1", text)
    letters = [c for c in text if c.isalpha()]
    if letters and sum(c.isupper() for c in letters) > 0.8 * len(letters) and len(letters) > 6:
        return text.lower()
    return re.sub(
        r"\b[^\W\d_]{4,}\b", lambda m: m.group().lower() if m.group().isupper() else m.group(), text
    )


def sentences(text: str) -> list[str]:
    """A message's sentences (the text between full stops, question and exclamation marks)."""
    return [s.strip() for s in _SENTENCE.findall(text) if s.strip()]
