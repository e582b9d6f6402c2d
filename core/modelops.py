"""What users see of the catalogue of models (issue #29): /modeli, the caption's model line,
and which concepts a model draws by their token. A mixin of `Service`."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from core.jobs.job import Job, Request
from core.lang.text import fold

if TYPE_CHECKING:
    from core.draw.models import Catalogue
    from core.lang.prompt import PromptBuilder
    from core.queue.worker import Worker


@dataclass(frozen=True)
class ModelInfo:
    """One model as /modeli lists it."""

    name: str  # what to type after --modelis
    aliases: tuple[str, ...]
    display: str
    about: str
    family: str
    fast: bool  # it has a fast mode
    drawing: bool  # loaded now, here or on a runner
    default: bool  # the user's default (their setting, else the config's)
    offline: bool = False  # runners are live, but none serves it: refused now


class ModelOps:
    catalogue: Catalogue
    builder: PromptBuilder
    worker: Worker

    if TYPE_CHECKING:

        def concept_names(self, ids: tuple[str, ...] | list[str]) -> tuple[str, ...]: ...

        async def settings(self, request: Request) -> dict[str, object]: ...

    def model_note(self, job: Job) -> tuple[str, tuple[str, ...]]:
        """For a caption: the model's display name when it is not the default ("" else),
        and the Latvian names of the job's concepts that model does not know."""
        model = job.params.model
        if not model or model not in self.catalogue or model == self.catalogue.default:
            return "", ()
        knows = self.catalogue.knower(model, self.builder.registry)
        unknown = tuple(c for c in job.concepts if c in self.builder.registry.ids and not knows(c))
        return self.catalogue.display(model), self.concept_names(unknown)

    def model_display(self, name: str) -> str:
        """What users call a catalogue model ("Latvija (SD 1.5)"); another name as it is."""
        return self.catalogue.display(name) if name in self.catalogue else name

    def model_names(self) -> list[str]:
        """The catalogue's names, the default first (the settings buttons)."""
        default = self.catalogue.default
        return [default, *(name for name, _ in self.catalogue if name != default)]

    def model_choices(self, typed: str) -> list[tuple[str, str]]:
        """(name, display name) of the models whose name, alias or display name contains
        `typed` (case and diacritics aside): Discord's autocomplete."""
        key = fold(typed)
        return [
            (name, self.catalogue.display(name))
            for name, spec in self.catalogue
            if any(key in fold(n) for n in (name, *spec.aliases, spec.name))
        ]

    async def model_list(self, request: Request) -> list[ModelInfo]:
        """/modeli: every catalogue model, whether it draws now and the user's default."""
        settings = await self.settings(request)
        mine = self.catalogue.resolve_or(str(settings.get("model") or self.catalogue.default))
        # what is resident where this bot draws, or on a live runner; unknown: the default
        runners = [r for r in self.worker.runners() if not r.down]
        loaded = set(self.worker.loaded_models()) | {m for r in runners for m in r.loaded}
        loaded = loaded or {self.catalogue.default}
        return [
            ModelInfo(
                name,
                spec.aliases,
                self.catalogue.display(name),
                spec.about,
                spec.family,
                bool(spec.fast_lora),
                name in loaded,
                name == mine,
                self.worker.offline(name),
            )
            for name, spec in self.catalogue
        ]
