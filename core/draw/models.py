"""The catalogue of image models (`[models.generators.NAME]`, issue #29): which models there
are, what users call them (names and aliases, case and diacritics aside), each one's size,
whether it knows the built-in concept tokens, and its fast mode."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, replace

from core.config import Config, GenerationConfig, ModelSpec
from core.errors import NoFastMode, UnknownModel
from core.jobs.job import GenParams, Options, size_for
from core.lang.text import fold

SDXL_SIDE = 1024  # SDXL draws at 1024² unless its table says otherwise


@dataclass(frozen=True)
class Choice:
    """The model a request draws with: its catalogue name and spec, and fast or not."""

    name: str
    spec: ModelSpec
    fast: bool = False


class Catalogue:
    def __init__(self, config: Config) -> None:
        self.specs = config.catalogue()
        self.default = config.default_model
        self._names = {fold(name): name for name in self.specs}
        for name, spec in self.specs.items():
            for alias in spec.aliases:
                self._names.setdefault(fold(alias), name)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(self.specs.items())

    def __contains__(self, name: object) -> bool:
        return name in self.specs

    def display(self, name: str) -> str:
        return self.specs[name].name or name

    def resolve(self, text: str) -> str:
        """The catalogue name for a name or alias as a user typed it. Raises UnknownModel
        with the closest name."""
        found = self._names.get(fold(text.strip()))
        if found is None:
            raise UnknownModel(text, self.closest(text))
        return found

    def resolve_or(self, text: str) -> str:
        """The catalogue name for `text`, or `text` itself when it names none."""
        return self._names.get(fold(text.strip()), text)

    def closest(self, text: str) -> str:
        key = fold(text)
        best = max(self._names, key=lambda k: difflib.SequenceMatcher(None, key, k).ratio())
        return self._names[best]

    def choose(self, model: str | None, fast: bool | None) -> Choice:
        """The model a request names (None: the default) and whether it draws fast. Raises
        UnknownModel, or NoFastMode for a model without a fast LoRA."""
        name = self.resolve(model) if model else self.default
        spec = self.specs[name]
        if fast and not spec.fast_lora:
            raise NoFastMode(self.display(name))
        return Choice(name, spec, bool(fast))

    def size(self, name: str, g: GenerationConfig) -> tuple[int, int]:
        """The model's default width and height: its table's, else its family's."""
        spec = self.specs[name]
        if spec.width and spec.height:
            return spec.width, spec.height
        if spec.family == "sdxl":
            return SDXL_SIDE, SDXL_SIDE
        return g.width, g.height

    def path(self, name: str) -> str:
        return self.specs[name].path

    def params(self, params: GenParams, options: Options, g: GenerationConfig) -> GenParams:
        """A job's parameters for its model: the model's size (SDXL 1024²) for the aspect
        ratio asked, and fast mode's steps and guidance."""
        name = options.model or self.default
        spec = self.specs[name]
        width, height = self.size(name, g)
        if options.aspect:
            width, height = size_for(options.aspect, width * height, max(g.max_side, width, height))
        fast = bool(options.fast)
        return replace(
            params,
            model=name,
            fast=fast,
            width=width,
            height=height,
            steps=spec.fast_steps if fast else params.steps,
            guidance=spec.fast_guidance if fast else params.guidance,
        )

    def knows(self, name: str, concept_id: str, adapter: bool, base: str) -> bool:
        """Whether the model draws a concept by its token: the built-in ones on models with
        `concepts = true`; a trained one on the model it was trained on (its `base`; none
        recorded: the default model)."""
        if adapter:
            return name == (base or self.default)
        return self.specs[name].concepts
