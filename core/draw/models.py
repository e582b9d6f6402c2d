"""The catalogue of image models (`[models.generators.NAME]`, issue #29): which models there
are, what users call them (names and aliases, case and diacritics aside), each one's size,
whether it knows the built-in concept tokens, and its fast mode."""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import replace

from core.config import Config, GenerationConfig
from core.errors import NoFastMode, UnknownModel
from core.jobs.job import GenParams, Options
from core.lang.concepts import ConceptRegistry
from core.lang.text import fold

SDXL_SIDE = 1024  # SDXL draws at 1024² unless its table says otherwise


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

    def choose(self, model: str | None, fast: bool | None) -> str:
        """The catalogue name of the model a request names (None: the default). Raises
        UnknownModel, or NoFastMode when `fast` is asked of a model without a fast LoRA."""
        name = self.resolve(model) if model else self.default
        if fast and not self.specs[name].fast_lora:
            raise NoFastMode(self.display(name))
        return name

    def canonical(self, options: Options) -> Options:
        """`options` with the model a user named as its catalogue name (an alias resolved;
        None: the default), checked with fast mode. Raises UnknownModel or NoFastMode."""
        name = self.choose(options.model, options.fast)
        return replace(options, model=name if options.model else None, fast=options.fast or None)

    def path(self, name: str) -> str:
        return self.specs[name].path

    def generation(self, name: str | None, g: GenerationConfig) -> GenerationConfig:
        """`[generation]` for a model: its table's size, else its family's (SDXL 1024²),
        and room for that size within `max_side`. An aspect ratio and a photo's size are
        computed from it, as for the default model."""
        spec = self.specs[name or self.default]
        if spec.width and spec.height:
            width, height = spec.width, spec.height
        elif spec.family == "sdxl":
            width, height = SDXL_SIDE, SDXL_SIDE
        else:
            return g
        return replace(g, width=width, height=height, max_side=max(g.max_side, width, height))

    def params(self, params: GenParams, options: Options) -> GenParams:
        """A job's parameters for its model: the model's name, and fast mode's steps and
        guidance."""
        name = options.model or self.default
        spec = self.specs[name]
        fast = bool(options.fast)
        return replace(
            params,
            model=name,
            fast=fast,
            steps=spec.fast_steps if fast else params.steps,
            guidance=spec.fast_guidance if fast else params.guidance,
        )

    def knows(self, name: str, adapter: bool, base: str) -> bool:
        """Whether the model draws a concept by its token: the built-in ones on models with
        `concepts = true`; a trained one on the model it was trained on (its `base`; none
        recorded: the default model)."""
        if adapter:
            return name == (base or self.default)
        return self.specs[name].concepts

    def knower(self, name: str | None, registry: ConceptRegistry) -> Callable[[str], bool]:
        """`knows` for the concepts of `registry`, by their ids, on model `name`."""
        model = name or self.default

        def knows(concept_id: str) -> bool:
            concept = registry.get(concept_id)
            return self.knows(model, concept.adapter, concept.base)

        return knows
