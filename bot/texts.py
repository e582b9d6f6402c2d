"""User-facing texts shared by the frontends. Every sentence goes through the gettext
catalogs in `bot/locale` (lv, en, ru): `t(lang, "English msgid", name=value)`."""

from __future__ import annotations

from bot.locale import N_, t
from bot.option_texts import bad_option
from core.errors import (
    BadArgument,
    BadMask,
    BadPhoto,
    Banned,
    BlockedPrompt,
    ControlCharacters,
    DescribeBusy,
    DescribeUnavailable,
    EmptyPrompt,
    Failure,
    JobCancelled,
    JobFailed,
    ModelNotLoaded,
    ModelOffline,
    ModelUnavailable,
    NoFastMode,
    NotAdmin,
    NotFound,
    NotOwner,
    PrivateOnly,
    PromptTooLong,
    QueueFull,
    RateLimited,
    SettingsRefused,
    StorageError,
    TooLarge,
    TrainError,
    TranslationFailed,
    UnknownModel,
    UnknownUser,
    UnsupportedLanguage,
    WebOff,
    ZimeError,
    render,
)
from core.jobs.job import Job, JobView, Options, Status
from core.lang.options import BadOption, UnknownOption
from core.lang.styles import Styles

EXAMPLE = "/zime Rīgas balzama pudele uz galda"

__all__ = [
    "EXAMPLE",
    "caption",
    "error_text",
    "job_caption",
    "job_error",
    "options_line",
    "progress_text",
    "queued_text",
    "status_name",
    "status_text",
    "t",
]

STATUS_NAMES = {
    Status.QUEUED: N_("queued"),
    Status.RUNNING: N_("drawing"),
    Status.DONE: N_("done"),
    Status.FAILED: N_("failed"),
    Status.CANCELLED: N_("cancelled"),
}
DEMO_NOTICE = N_("(demo: random models, the image is noise)")


def status_name(status: str, lang: str) -> str:
    """A job state as a person reads it, in their language."""
    try:
        return t(lang, STATUS_NAMES[Status(status)])
    except ValueError:
        return status


NOTHING_DRAWN = N_("Nothing was drawn.")
THIS_LANGUAGE = N_("this language")
# names of languages, as "I cannot read {language}" and "write in {served}" use them
LANGUAGE_NAMES = {
    "lv": N_("Latvian"),
    "en": N_("English"),
    "ru": N_("Russian"),
    "lt": N_("Lithuanian"),
    "ltg": N_("Latgalian"),
    "et": N_("Estonian"),
    "de": N_("German"),
    "pl": N_("Polish"),
    "uk": N_("Ukrainian"),
    "fi": N_("Finnish"),
    "sv": N_("Swedish"),
}


def error_text(exc: ZimeError, lang: str = "lv") -> str:
    """One clear sentence for every error a user can cause; never a stack trace."""
    if isinstance(exc, SettingsRefused):  # the same sentence, but nothing was to be drawn
        said = error_text(exc.cause, lang).replace(t(lang, NOTHING_DRAWN), "").strip()
        unchanged = t(lang, "Your settings were not changed.")
        return f"{said} {unchanged}"
    if isinstance(exc, EmptyPrompt):
        return t(lang, "Write what to draw, for example: {example}", example=EXAMPLE)
    if isinstance(exc, PromptTooLong):
        return t(
            lang,
            "Too long: {length} characters, the limit is {limit}.",
            length=exc.length,
            limit=exc.limit,
        )
    if isinstance(exc, ControlCharacters):
        return t(lang, "The text contains invisible control characters; please retype it.")
    if isinstance(exc, BadOption):
        return bad_option(exc, lang)
    if isinstance(exc, UnknownModel):
        return t(
            lang,
            "I don't know the model {name}; did you mean {closest}? /modeli lists them. "
            "Nothing was drawn.",
            name=exc.name[:40],
            closest=exc.closest,
        )
    if isinstance(exc, NoFastMode):
        return t(lang, "The model {model} has no fast mode. Nothing was drawn.", model=exc.model)
    if isinstance(exc, UnknownOption):
        return t(
            lang,
            "I don't know the option {flag}; did you mean {closest}? Nothing was drawn.",
            flag=exc.flag,
            closest=exc.closest,
        )
    if isinstance(exc, BadArgument):
        return t(
            lang,
            "{command} needs {what}, for example: {example}",
            command=exc.command,
            what=t(lang, exc.what),
            example=exc.example,
        )
    if isinstance(exc, BadPhoto):
        if exc.problem == "too_big":
            return t(lang, "The photo is larger than 10 MB. Please send a smaller one.")
        if exc.problem == "format":
            return t(lang, "I can draw from JPEG, PNG or WebP photos only.")
        if exc.problem == "pixels":
            return t(lang, "The photo has too many pixels. Please send a smaller one.")
        return t(lang, "I could not read that photo. Please send it again.")
    if isinstance(exc, BadMask):
        if exc.problem == "too_big":
            return t(lang, "The mask is larger than 2 MB.")
        if exc.problem == "size":
            return t(
                lang,
                "The mask is {got}, the picture {want}: paint over the picture itself.",
                got="×".join(map(str, exc.got)),
                want="×".join(map(str, exc.want)),
            )
        if exc.problem == "empty":
            return t(lang, "Nothing is painted: paint the part to redraw.")
        return t(lang, "The mask must be a PNG picture.")
    if isinstance(exc, UnsupportedLanguage):
        # in the user's Zīme language (the frontends pass it), naming every language read now
        served = [t(lang, LANGUAGE_NAMES.get(code, code)) for code in exc.served]
        return t(
            lang,
            "Sorry, I cannot read {language} yet. Please write in {served}.",
            language=t(lang, LANGUAGE_NAMES.get(exc.lang, THIS_LANGUAGE)),
            served=", ".join(served),
        )
    if isinstance(exc, BlockedPrompt):
        return t(lang, "I won't draw that. Try something else.")
    if isinstance(exc, RateLimited):
        return t(lang, "Please wait {seconds} s and try again.", seconds=round(exc.retry_after))
    if isinstance(exc, QueueFull):
        if exc.per_user:
            return t(
                lang, "You already have {limit} pictures queued; wait for them.", limit=exc.limit
            )
        return t(lang, "The queue is full. Try again soon.")
    if isinstance(exc, Banned):
        return t(lang, "You are not allowed to use this bot.")
    if isinstance(exc, UnknownUser):
        return t(
            lang,
            "{who} has never used Zīme; check the id (telegram:42, discord:42), or add --force.",
            who=exc.user_key,
        )
    if isinstance(exc, NotAdmin):
        return t(lang, "This command is for admins only.")
    if isinstance(exc, WebOff):
        return t(lang, "The web pages are turned off on this bot.")
    if isinstance(exc, TooLarge):
        return t(lang, "The request is too large: at most {limit} KB.", limit=exc.limit_kb)
    if isinstance(exc, PrivateOnly):
        return t(lang, "Ask me in a private chat: this link is for you alone.")
    if isinstance(exc, NotFound):
        return t(lang, "No such picture.")
    if isinstance(exc, NotOwner):
        return t(lang, "These are someone else's settings: send /iestatijumi for yours.")
    if isinstance(exc, JobCancelled):
        return t(lang, "Cancelled.")
    if isinstance(exc, JobFailed):
        return _failure_text(exc.reason, lang)
    if isinstance(exc, StorageError):
        return t(lang, "I could not save your request right now. Please try again in a minute.")
    if isinstance(exc, TranslationFailed):
        return t(lang, "The translator is not answering right now. Please try again in a minute.")
    if isinstance(exc, TrainError):  # for admins: why, in their language
        return t(lang, "Teaching: {reason}", reason=train_reason(exc, lang))
    if isinstance(exc, DescribeBusy):
        return t(lang, "I am describing other pictures right now. Please try again in a minute.")
    if isinstance(exc, DescribeUnavailable):
        return t(lang, "I cannot describe pictures on this server right now; drawing works.")
    if isinstance(exc, ModelOffline):
        return t(
            lang,
            "The model {model} is not available right now: no drawing machine serves it. "
            "/modeli lists the models. Nothing was drawn.",
            model=exc.model,
        )
    if isinstance(exc, ModelNotLoaded):
        return t(
            lang,
            "No runner has the model {model} loaded, so there is nothing to reload; it loads "
            "when a picture asks for it.",
            model=exc.model,
        )
    if isinstance(exc, ModelUnavailable):
        return t(lang, "The drawing model is restarting. Please try again in a few minutes.")
    # Anything else is our fault, not the user's: no internals, one sentence.
    return t(lang, "Something went wrong on my side. Please try again.")


def train_reason(exc: TrainError, lang: str) -> str:
    """Why teaching cannot go on, every line in the admin's language."""
    return render(exc.parts, lambda template: t(lang, template))


def options_line(
    options: Options, count: int, steps: int, lang: str, default_steps: int | None = None
) -> str:
    """The options in effect, for the caption ("" when all are defaults): the ratio, the
    count, the steps when not the default, the negative prompt, the photo strength and the
    style."""
    parts = []
    if options.aspect:
        parts.append(f"{options.aspect[0]}:{options.aspect[1]}")
    if count > 1:
        parts.append(t(lang, "{n} images", n=count))
    if options.steps or (default_steps is not None and steps != default_steps):
        parts.append(t(lang, "{n} steps", n=steps))
    if options.negative:
        parts.append(t(lang, "without: {what}", what=options.negative))
    if options.strength is not None:
        parts.append(t(lang, "strength {x}", x=f"{options.strength:g}"))
    style = Styles.load().get(options.style) if options.style else None
    if style is not None:
        parts.append(t(lang, "style: {name}", name=style.name(lang)))
    return t(lang, "Options: {options}", options=" · ".join(parts)) if parts else ""


def job_caption(
    job: Job,
    names: tuple[str, ...],
    lang: str,
    demo: bool,
    default_steps: int | None = None,
    model: tuple[str, tuple[str, ...]] = ("", ()),
) -> str:
    """THE caption of a result, on every frontend: what was drawn, the concepts found, the
    seed, the options in effect, the model when it is not the default (`model`: its name,
    and the concepts it does not know), and the demo notice with tiny models."""
    options = options_line(job.options, job.params.count, job.params.steps, lang, default_steps)
    lines = [options] if options else []
    shown, unknown = model
    if shown:
        fast = t(lang, " (fast)") if job.params.fast else ""
        lines.append(t(lang, "Model: {model}", model=shown) + fast)
    if unknown:
        lines.append(
            t(
                lang,
                "This model does not know {concepts}: drawn from the description.",
                concepts=", ".join(unknown),
            )
        )
    return caption(job.prompt, names, job.seed, lang, demo, job.nsfw, "\n".join(lines))


def _failure_text(reason: Failure, lang: str) -> str:
    """A sentence for each reason a job can fail (core.errors.Failure); the stored error
    text with the details is for admins (/stats, logs), never for users."""
    if reason == "timeout":
        return t(lang, "Drawing took too long and was stopped. Please try again.")
    if reason == "storage":
        return t(lang, "The picture was drawn but could not be saved. Please try again later.")
    if reason == "unavailable":
        return t(lang, "The drawing model is restarting. Please try again in a few minutes.")
    return t(lang, "Drawing failed. Please try again, perhaps with other words.")


def job_error(job: Job) -> ZimeError:
    """The error to show for a job that ended without an image."""
    if job.status == Status.CANCELLED:
        return JobCancelled()
    return JobFailed(job.error or "", job.failure or Failure.MODEL)


def queued_text(position: int | None, lang: str = "lv") -> str:
    return t(lang, "Queued: {position}.", position=position) if position else ""


def progress_text(progress: float, lang: str = "lv") -> str:
    return t(lang, "Drawing… {percent}%", percent=round(progress * 100))


def status_text(handle: JobView, lang: str = "lv") -> str:
    """The status line of a waiting job: paused, queued at n, or drawing at p%."""
    if handle.paused:
        return t(
            lang,
            "Drawing is paused for a moment; your request is saved and will be "
            "drawn as soon as it resumes.",
        )
    return queued_text(handle.position, lang) or progress_text(handle.progress, lang)


def seconds(value: float | None, lang: str) -> str:
    """Seconds as a person reads them: 0.7 s, 12 s, 95 s; "—" when unknown."""
    if value is None:
        return "—"
    shown = f"{value:.1f}" if value < 10 else f"{value:.0f}"
    return t(lang, "{n} s", n=shown)


def percent(part: int, whole: int) -> str:
    return f"{round(100 * part / whole)} %" if whole else "0 %"


def caption(
    prompt: str,
    concept_names: tuple[str, ...],
    seed: int,
    lang: str = "lv",
    demo: bool = False,
    hidden: bool = False,
    options: str = "",
) -> str:
    understood = ", ".join(concept_names) or "—"
    lines = (
        [
            t(
                lang,
                "The safety checker flagged this picture, so it is blurred. Try another seed or prompt.",
            )
        ]
        if hidden
        else []
    )
    lines += [
        t(lang, "Drawn: {prompt}", prompt=prompt if len(prompt) <= 500 else prompt[:499] + "…"),
        t(lang, "Recognised: {concepts}", concepts=understood),
        t(lang, "Seed: {seed}", seed=seed),
    ]
    if options:
        lines.append(options)
    if demo:
        lines.append(t(lang, DEMO_NOTICE))
    return "\n".join(lines)
