"""Generation options written in the chat message (issue #13), in Latvian or English.

    /zime Vanšu tilts saulrietā --ar 16:9 --ne cilvēki --sēkla 42 --soļi 30 --skaits 4
    /zime Gaismas pils ziemā, ainava

Flags may stand anywhere; `--ne/--no` takes the words up to the next flag. A trailing
`, ainava | portrets | kvadrāts` (after a comma, flags may follow) is an aspect ratio; the
same word inside the sentence stays a word to draw. A bad value raises `BadOption` naming
the flag and what it allows, and nothing is drawn.
"""

from __future__ import annotations

import difflib
import re
from typing import Any

from core.errors import InvalidPrompt, PromptTooLong
from core.jobs.job import MAX_IMAGES, Options
from core.lang.text import DEFAULT_MAX_CHARS, fold

SEED_MAX = 2**32 - 1
STRENGTH_RANGE = (0.1, 1.0)


class BadOption(InvalidPrompt):
    """A flag with a missing or out-of-range value. `flag` as written; `allowed` is a range
    ("1–50") or, for the frontends to put in words, one of "ratio", "negative", "photo",
    "fraction", "style"."""

    def __init__(self, flag: str, allowed: str) -> None:
        super().__init__("bad_option", f"{flag}: {allowed}")
        self.flag = flag
        self.allowed = allowed


class UnknownOption(InvalidPrompt):
    """`--seeds 5`: a flag Zīme does not know. `closest` is the known flag nearest to it as
    the help writes it (`--sēkla/--seed`); nothing is drawn, so a typo costs nothing."""

    def __init__(self, flag: str, closest: str) -> None:
        super().__init__("unknown_option", f"{flag} (closest: {closest})")
        self.flag = flag
        self.closest = closest


# flag (without dashes) -> option name; compared folded, so "--sekla" = "--sēkla"
_FLAGS = {
    fold(flag): name
    for flag, name in {
        "ar": "aspect",
        "ne": "negative",
        "no": "negative",
        "sēkla": "seed",
        "seed": "seed",
        "soļi": "steps",
        "steps": "steps",
        "skaits": "count",
        "n": "count",
        "stiprums": "strength",
        "strength": "strength",
        "stils": "style",
        "style": "style",
        "modelis": "model",
        "model": "model",
        "ātri": "fast",
        "fast": "fast",
    }.items()
}
# How the help and error sentences name each option (Latvian flag, then its alias).
FLAG_NAMES = {
    "aspect": "--ar",
    "negative": "--ne/--no",
    "seed": "--sēkla/--seed",
    "steps": "--soļi/--steps",
    "count": "--skaits/--n",
    "strength": "--stiprums/--strength",
    "style": "--stils/--style",
    "model": "--modelis/--model",
    "fast": "--ātri/--fast",
}
_ALIASES = {
    fold(word): aspect
    for word, aspect in {"ainava": (3, 2), "portrets": (2, 3), "kvadrāts": (1, 1)}.items()
}
_FLAG = re.compile(r"(?:(?<=\s)|^)(--|—|–)([^\W\d_]+)(?=\s|$)")
# A lone "--" ends the options: what follows is drawn as written ("-- --ne ir vārds").
_END = re.compile(r"(?:(?<=\s)|^)--(?=\s|$)")
_TRAILING_ALIAS = re.compile(r",\s*([^\W\d_]+)\s*$")


def _int(flag: str, value: str, low: int, high: int) -> int:
    # ASCII digits, and no more than the bound has: int() of 5,000 digits raises ValueError
    if not re.fullmatch(r"[0-9]+", value) or len(value.lstrip("0")) > len(str(high)):
        raise BadOption(flag, f"{low}–{high}")
    if not low <= int(value) <= high:
        raise BadOption(flag, f"{low}–{high}")
    return int(value)


def _aspect(flag: str, value: str) -> tuple[int, int]:
    m = re.fullmatch(r"(\d{1,2})\s*[:x×/]\s*(\d{1,2})", value)
    if m is None:
        raise BadOption(flag, "ratio")
    w, h = int(m[1]), int(m[2])
    if w == 0 or h == 0 or max(w, h) / min(w, h) > 3:
        raise BadOption(flag, "ratio")
    return w, h


def _strength(flag: str, value: str) -> float:
    try:
        x = float(value.replace(",", "."))
    except ValueError:
        x = -1.0
    low, high = STRENGTH_RANGE
    if not low <= x <= high:  # 0 too: img2img with no strength would divide by zero
        raise BadOption(flag, "fraction")
    return x


def closest_flag(flag: str) -> str:
    """The known flag nearest to an unknown one, as FLAG_NAMES writes it."""
    word = fold(flag.lstrip("-—–"))
    best = max(_FLAGS, key=lambda known: difflib.SequenceMatcher(None, word, known).ratio())
    return FLAG_NAMES[_FLAGS[best]]


def parse_options(
    text: str, max_steps: int, max_chars: int = DEFAULT_MAX_CHARS
) -> tuple[str, Options]:
    """Split `text` into the words to draw and the options. Raises BadOption, or
    UnknownOption for a `--word` Zīme does not know (a typo must not be drawn as text), or
    PromptTooLong: `max_chars` (`[limits] max_prompt_chars`) counts the whole message, its
    options (`--ne …`) included, before anything else reads it."""
    length = len(" ".join(text.split()))
    if length > max_chars:
        raise PromptTooLong(length, max_chars)
    stop = _END.search(text)
    literal = text[stop.end() :].strip() if stop else ""
    text = text[: stop.start()] if stop else text
    matches = list(_FLAG.finditer(text))
    values: dict[str, Any] = {}
    kept: list[str] = []
    pos = 0
    for i, m in enumerate(matches):
        name = _FLAGS.get(fold(m[2]))
        if name is None:
            if m[1] == "--":  # a dash (— or –) before a word is ordinary punctuation
                raise UnknownOption(m.group(0), closest_flag(m[2]))
            continue
        kept.append(text[pos : m.start()])
        end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        raw = text[m.end() : end].strip()
        flag = m.group(0)
        if name == "fast":  # a switch: the words after it are the prompt's
            values[name] = True
            pos = m.end()
            continue
        if name == "negative":
            value = raw
            if not value:
                raise BadOption(flag, "negative")
            pos = end
        elif name == "style":  # "--stils eļļas glezna": up to three words name it
            value, taken = _style(flag, raw)
            pos = end - len(raw) + taken if taken < len(raw) else end
        else:
            value, _, rest = raw.partition(" ")
            pos = end - len(rest) if rest else end
            if value.endswith(",") and len(value) > 1:  # "--sēkla 5, kvadrāts": the comma
                value = value[:-1]  # belongs to the sentence (the trailing alias needs it)
                pos = text.index(value, m.end()) + len(value)
        values[name] = value if name == "style" else _value(name, flag, value, max_steps)
    kept.append(text[pos:])
    prompt = re.sub(r"\s+", " ", " ".join(p.strip() for p in kept)).strip()
    alias = _TRAILING_ALIAS.search(prompt)
    if alias and not stop and fold(alias[1]) in _ALIASES and "aspect" not in values:
        values["aspect"] = _ALIASES[fold(alias[1])]
        prompt = prompt[: alias.start()].strip()
    if literal:
        prompt = f"{prompt} {literal}".strip()
    return prompt, Options(**values)


def _value(name: str, flag: str, value: str, max_steps: int) -> Any:
    if name == "aspect":
        return _aspect(flag, value)
    if name == "seed":
        return _int(flag, value, 0, SEED_MAX)
    if name == "steps":
        return _int(flag, value, 1, max_steps)
    if name == "count":
        return _int(flag, value, 1, MAX_IMAGES)
    if name == "strength":
        return _strength(flag, value)
    if name == "model" and not value:
        raise BadOption(flag, "model")
    return value


def _style(flag: str, raw: str) -> tuple[str, int]:
    """The style id the words after --stils name, and how many characters of `raw` they
    take (the rest stays in the prompt)."""
    from core.lang.styles import Styles

    parts = raw.split()
    for n in (3, 2, 1):
        if len(parts) >= n:
            head = " ".join(parts[:n])
            style = Styles.load().named(head.rstrip(","))
            if style is not None:
                return style.id, raw.index(parts[n - 1]) + len(parts[n - 1])
    raise BadOption(flag, "style")


# /iestatijumi keys (folded) -> setting name
_SETTING_KEYS = {
    fold(k): v
    for k, v in {
        "skaits": "count",
        "n": "count",
        "count": "count",
        "formats": "aspect",
        "ar": "aspect",
        "aspect": "aspect",
        "privāti": "private",
        "private": "private",
        "valoda": "language",
        "language": "language",
        "modelis": "model",
        "model": "model",
        "ātri": "fast",
        "fast": "fast",
    }.items()
}
_YES, _NO = (
    frozenset({"ja", "jā", "yes", "on", "1", "да"}),
    frozenset({"ne", "no", "off", "0", "нет"}),
)


def parse_settings(text: str) -> dict[str, Any]:
    """`skaits=4 formats=3:2 privāti=jā valoda=ru` -> {"count": 4, "aspect": [3, 2], …}.
    `formats=` and `valoda=` with no value reset to the default (None). Raises BadOption."""
    out: dict[str, Any] = {}
    for item in text.split():
        key, sep, value = item.partition("=")
        name = _SETTING_KEYS.get(fold(key))
        if name is None or not sep:
            raise BadOption(item, "settings")
        flag = f"{key}="
        if name == "count":
            out[name] = _int(flag, value, 1, MAX_IMAGES)
        elif name == "aspect":
            alias = _ALIASES.get(fold(value))
            out[name] = list(alias or _aspect(flag, value)) if value else None
        elif name in ("private", "fast"):
            if value.lower() not in _YES | _NO:
                raise BadOption(flag, "jā / ne")
            out[name] = value.lower() in _YES
        elif name == "model":  # checked against the catalogue by the service
            out[name] = value or None
        else:
            if value and not re.fullmatch(r"[a-z]{2}", value.lower()):
                raise BadOption(flag, "lv / ru / en")
            out[name] = value.lower() or None
    return out
