"""The shapes of the one command table (bot/commands.py): a command, its arguments as a
chat message carries them, and its typed options as a platform with typed commands shows
them (Discord's slash commands, generated from these: bot/discord/slash.py); the parser of
the arguments; and the option sets /zime, /iestatijumi and /macies share."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from bot.locale import N_
from bot.message import Ctx, Reply
from core.errors import BadArgument
from core.lang.styles import Styles

Run = Callable[[Ctx, "Args"], Awaitable[Reply]]


@dataclass(frozen=True)
class Arg:
    name: str
    kind: str  # text | job | user | word
    required: bool = False
    what: str = ""  # English msgid for an error sentence ("a picture number")
    example: str = ""


@dataclass(frozen=True)
class Args:
    """A command's arguments, checked against its `Arg`s."""

    text: str = ""
    job: int = 0
    user: tuple[str, str] = ("", "")  # (platform, user id)
    word: str = ""
    force: bool = False  # `--force`: /ban a user id Zīme has never seen


PHOTO = "photo"  # an Option's type: a picture the user attaches


@dataclass(frozen=True)
class Option:
    """One typed option of a command, as a platform with typed commands shows it (Discord's
    slash options). Its value becomes the same text a chat message carries: `as_text` with
    the value in it (a flag `--ar {}`, a setting `skaits={}`, or the text itself `{}`), so one
    parser reads both."""

    name: str  # Latvian, ASCII: what Discord shows
    description: str  # English msgid
    type: type | str = str  # str | int | float | bool | PHOTO
    as_text: str = "{}"
    required: bool = False
    choices: tuple[tuple[str, str], ...] = ()  # (label, value)
    low: float | None = None  # a number's range
    high: float | None = None
    complete: str = ""  # "models": Discord suggests the catalogue's models as one types


@dataclass(frozen=True)
class Command:
    names: tuple[str, ...]  # Latvian first, then aliases (ru in Latin letters, en)
    description: str  # English msgid: menus, /palidziba and Discord's command list
    run: Run
    args: tuple[Arg, ...] = ()
    admin: bool = False
    menu: bool = True  # listed in the platform's command menu
    options: tuple[Option, ...] = ()  # typed options; none: one per argument

    @property
    def name(self) -> str:
        return self.names[0]

    def typed_options(self) -> tuple[Option, ...]:
        """The typed options (Discord's): `options`, or one text option per argument."""
        if self.options:
            return self.options
        return tuple(
            Option(a.name, a.what or self.description, required=a.required) for a in self.args
        )

    def text_of(self, values: dict[str, object]) -> str:
        """Typed option values as the text after the command in a chat message (options
        without a value are left out; a photo travels apart, in `Ctx.photo`). A `key={}`
        option takes one word: a value with spaces could smuggle in other settings."""
        parts = []
        for option in self.typed_options():
            value = values.get(option.name)
            if value is None or option.type == PHOTO:
                continue
            if isinstance(value, bool) and "{}" not in option.as_text:  # a switch: on or absent
                if value:
                    parts.append(option.as_text)
                continue
            if isinstance(value, bool):
                value = "ja" if value else "ne"
            one_word = "=" in option.as_text
            if one_word and (
                isinstance(value, dict | list) or any(c.isspace() for c in str(value))
            ):
                raise BadArgument(option.name, N_("one word"), f"{option.name}=4")
            parts.append(option.as_text.format(value))
        return " ".join(parts)


_JOB = re.compile(r"#?([0-9]{1,18})")


def parse_args(command: Command, raw: str, platform: str) -> Args:
    """`raw` (the text after the command) as the command's arguments; a bad one raises
    BadArgument naming the command, what it takes and an example."""
    raw = raw.strip()
    args = Args(text=raw)
    for arg in command.args:
        if not raw:
            if arg.required:
                raise BadArgument(f"/{command.name}", arg.what, arg.example)
            continue
        if arg.kind == "job":
            m = _JOB.fullmatch(raw)
            if m is None or int(m[1]) == 0:
                raise BadArgument(f"/{command.name}", arg.what, arg.example)
            args = Args(text=raw, job=int(m[1]))
        elif arg.kind == "user":
            force = raw.endswith("--force")
            raw = raw.removesuffix("--force").strip()
            where, sep, who = raw.partition(":")
            user = (where, who) if sep else (platform, raw)
            if not user[1] or " " in raw:
                raise BadArgument(f"/{command.name}", arg.what, arg.example)
            args = Args(text=raw, user=user, force=force)
        elif arg.kind == "word":
            if " " in raw:
                raise BadArgument(f"/{command.name}", arg.what, arg.example)
            args = Args(text=raw, word=raw)
    return args


ASPECTS = (
    ("ainava 3:2", "3:2"),
    ("portrets 2:3", "2:3"),
    ("kvadrāts 1:1", "1:1"),
    ("plats 16:9", "16:9"),
    ("augsts 9:16", "9:16"),
)
LANGUAGES = (("latviešu", "lv"), ("русский", "ru"), ("English", "en"))
_COUNT = Option(
    "skaits", N_("Number of images (several: a grid)"), int, "--skaits {}", low=1, high=4
)
ZIME_OPTIONS = (
    Option("teksts", N_("What to draw, e.g. Vanšu tilts saulrietā"), required=True),
    Option("formats", N_("Aspect ratio"), str, "--ar {}", choices=ASPECTS),
    Option("ne", N_("What to leave out"), str, "--ne {}"),
    Option("sekla", N_("Seed"), int, "--sēkla {}", low=0, high=2**32 - 1),
    Option("soli", N_("Steps"), int, "--soļi {}", low=1, high=150),
    _COUNT,
    Option("attels", N_("A photo to draw from"), PHOTO),
    Option(
        "stiprums",
        N_("How far to move from the photo (0.1–1)"),
        float,
        "--stiprums {}",
        low=0.1,
        high=1.0,
    ),
    Option("modelis", N_("Model (see /modeli)"), str, "--modelis {}", complete="models"),
    Option("atri", N_("Fast mode (fewer steps)"), bool, "--ātri"),
    Option(
        "stils",
        N_("Style"),
        str,
        "--stils {}",
        choices=tuple((s.name_lv, s.id) for s in Styles.load()),
    ),
)
SETTINGS_OPTIONS = (
    Option(_COUNT.name, _COUNT.description, int, "skaits={}", low=1, high=4),
    Option("formats", N_("Aspect ratio"), str, "formats={}", choices=ASPECTS),
    Option("privati", N_("Send results privately when I ask in a server"), bool, "privati={}"),
    Option("valoda", N_("Language of the answers"), str, "valoda={}", choices=LANGUAGES),
    Option("modelis", N_("Model (see /modeli)"), str, "modelis={}", complete="models"),
    Option("atri", N_("Fast mode (fewer steps)"), bool, "ātri={}"),
)
TEACH_OPTIONS = (
    Option("token", N_("The new concept's token, e.g. rigasdoms"), required=True),
    Option("klase", N_("Its class, e.g. building"), required=True),
    Option("nosaukums", N_("Its Latvian name, e.g. Rīgas Doms"), required=True),
)
