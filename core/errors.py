"""Typed errors. Each carries what the user did wrong; frontends render them in Latvian/English."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum


class ZimeError(Exception):
    """Base class of every error Zīme shows to a user."""


class InvalidPrompt(ZimeError):
    """The prompt cannot be drawn. `reason` is a stable code used to pick the user's message."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason
        self.detail = detail


class EmptyPrompt(InvalidPrompt):
    def __init__(self) -> None:
        super().__init__("empty")


class PromptTooLong(InvalidPrompt):
    def __init__(self, length: int, limit: int) -> None:
        super().__init__("too_long", f"{length} > {limit} characters")
        self.length = length
        self.limit = limit


class ControlCharacters(InvalidPrompt):
    def __init__(self, codepoint: int) -> None:
        super().__init__("control_chars", f"U+{codepoint:04X}")
        self.codepoint = codepoint


class BlockedPrompt(InvalidPrompt):
    def __init__(self, word: str) -> None:
        super().__init__("blocked", word)
        self.word = word


class BadPhoto(InvalidPrompt):
    """A photo Zīme cannot draw from; `problem`: too_big | format | pixels | unreadable."""

    def __init__(self, problem: str) -> None:
        super().__init__("bad_photo", problem)
        self.problem = problem


class BadMask(InvalidPrompt):
    """A region mask Zīme cannot redraw with; `problem`: too_big | format | size | empty.
    For `size`, `got` and `want` are the mask's and the picture's (width, height)."""

    def __init__(
        self, problem: str, got: tuple[int, int] = (0, 0), want: tuple[int, int] = (0, 0)
    ) -> None:
        super().__init__("bad_mask", problem)
        self.problem = problem
        self.got = got
        self.want = want


class UnsupportedLanguage(InvalidPrompt):
    """The prompt is in a language no configured translator serves (`lang`: ISO 639-1)."""

    def __init__(self, lang: str, served: tuple[str, ...] = ("lv", "en")) -> None:
        super().__init__("unsupported_language", lang)
        self.lang = lang
        self.served = served  # the languages read now, to name in the refusal


class BadArgument(InvalidPrompt):
    """A command's argument is missing or not what it takes (`/velreiz abc`). `what` is an
    English msgid the frontends translate ("a picture number"); `example` a usage."""

    def __init__(self, command: str, what: str, example: str) -> None:
        super().__init__("bad_argument", f"{command}: {what}")
        self.command = command
        self.what = what
        self.example = example


class UnknownModel(InvalidPrompt):
    """`--modelis NAME` (or a settings value) names no model of the catalogue."""

    def __init__(self, name: str, closest: str) -> None:
        super().__init__("unknown_model", name)
        self.name = name
        self.closest = closest


class NoFastMode(InvalidPrompt):
    """`--ātri` for a model that has no few-step LoRA."""

    def __init__(self, model: str) -> None:
        super().__init__("no_fast_mode", model)
        self.model = model


class RateLimited(ZimeError):
    def __init__(self, retry_after: float, scope: str = "user") -> None:
        super().__init__(f"rate limited ({scope}); retry after {retry_after:.0f} s")
        self.retry_after = retry_after
        self.scope = scope


class QueueFull(ZimeError):
    def __init__(self, limit: int, per_user: bool = False) -> None:
        who = "per-user" if per_user else "global"
        super().__init__(f"{who} queue is full ({limit})")
        self.limit = limit
        self.per_user = per_user


class Banned(ZimeError):
    pass


class SettingsRefused(InvalidPrompt):
    """A settings change (/iestatijumi, its buttons, the web form) that a bad value stopped:
    `cause` says which; nothing was stored (and nothing was to be drawn)."""

    def __init__(self, cause: ZimeError) -> None:
        super().__init__("settings", str(cause))
        self.cause = cause


class UnknownUser(ZimeError):
    """/ban of a user id Zīme has never seen on that platform (`--force` bans it anyway)."""

    def __init__(self, user_key: str) -> None:
        super().__init__(user_key)
        self.user_key = user_key


class NotAdmin(ZimeError):
    pass


class NotFound(ZimeError):
    pass


class NotOwner(ZimeError):
    """A settings button pressed by someone other than the user it belongs to."""


class WebOff(ZimeError):
    """/panelis or /galerija while the web app is off (`[web] enabled = false`)."""


class TooLarge(ZimeError):
    """A web request whose body is larger than `[web] max_body_kb`: refused unread (413)."""

    def __init__(self, limit_kb: int) -> None:
        super().__init__(f"request body over {limit_kb} KB")
        self.limit_kb = limit_kb


class PrivateOnly(ZimeError):
    """A personal link asked for in a group chat, where everyone would see it."""


class ConfigError(ZimeError):
    """A config key has a bad value; the message names the key and the value."""


class ModelError(ZimeError):
    """A model could not be loaded or failed while running."""


class StorageError(ZimeError):
    """The database or the disk failed (full, locked for too long, unwritable)."""


class TranslationFailed(ZimeError):
    """The translator failed or did not answer in time."""


class ModelUnavailable(ZimeError):
    """The image model stopped answering; the process must be restarted."""


class DescribeBusy(ZimeError):
    """/apraksti: `limit` descriptions already wait; the user is asked to try again soon."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"{limit} descriptions wait")
        self.limit = limit


class DescribeUnavailable(ZimeError):
    """/apraksti: the describer's models cannot be loaded here (not fetched, hub unreachable);
    the operator's reason is logged, the user gets one sentence."""


class ModelOffline(ZimeError):
    """No live runner serves this catalogue model now (runners are up for others): the
    request is refused at once rather than queued for nobody (issue #30)."""

    def __init__(self, model: str) -> None:
        super().__init__(f"no live runner serves the model {model}")
        self.model = model


class ModelNotLoaded(ModelError):
    """`/reload NAME`: no runner has that model loaded, so there is nothing to reload (it
    loads fresh when a job asks for it)."""

    def __init__(self, model: str) -> None:
        super().__init__(f"no runner has the model {model} loaded")
        self.model = model


class Failure(StrEnum):
    """Why a job failed: the `failure` column of its row. Users see one sentence per kind;
    the row's `error` keeps the details for admins (/stats, logs)."""

    TIMEOUT = "timeout"  # the drawing ran past the job timeout, or the model wedged on it
    STORAGE = "storage"  # drawn, but the disk or the database could not keep it
    MODEL = "model"  # the model failed (an error, out of memory, a batch that stopped runners)
    UNAVAILABLE = "unavailable"  # never drawn: the model stopped answering, or not queued


class JobFailed(ZimeError):
    def __init__(self, detail: str = "", kind: Failure = Failure.MODEL) -> None:
        super().__init__(f"{kind}: {detail}" if detail else str(kind))  # for logs and admins
        self.kind = kind

    @property
    def reason(self) -> Failure:
        return self.kind


class JobCancelled(ZimeError):
    pass


Part = tuple[str, dict[str, object]]  # an English template and its values


def N_(message: str) -> str:
    """Marks a template for the bot's catalogs (`make locale` reads core/train and this file);
    the bot translates it when it shows it."""
    return message


class TrainError(ZimeError):
    """Teaching a concept cannot go on (too few usable photos, a bad token …). `parts`: the
    lines that say why, each an English template (marked with N_) and its values, so the bot
    shows them in the admin's language; str() is the English text (`core train`)."""

    def __init__(self, template: str, *more: Part, **values: object) -> None:
        self.parts: list[Part] = [(template, values), *more]
        super().__init__(render(self.parts))


def render(parts: list[Part], translate: Callable[[str], str] = str) -> str:
    """Lines from templates: `translate` gives each template in the reader's language. A
    value that is itself a part (a template and its values) is rendered the same way."""

    def line(template: str, values: dict[str, object]) -> str:
        filled = {k: line(*v) if _is_part(v) else v for k, v in values.items()}  # type: ignore[misc]
        return translate(template).format(**filled)

    return "\n".join(line(template, values) for template, values in parts)


def _is_part(value: object) -> bool:
    return isinstance(value, tuple) and len(value) == 2 and isinstance(value[1], dict)
