"""Describe a picture in Latvian (issue #34): four prompts from a photo, each one tap from
being drawn. The captioner says what it sees in English, CLIP says which Latvian concepts and
which style it shows, and the English → Latvian translator writes the four prompts, which
differ by what they add to the subject: nothing, the setting, the light, the style.

Models load on first use and run off the event loop (the caller's business); the parts are
behind small Protocols, so a test passes fakes and Florence-2 can replace BLIP later."""

from __future__ import annotations

import tomllib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from core.config import Config
from core.lang.concepts import ConceptRegistry
from core.lang.styles import Styles

DATA = Path(__file__).with_name("describe.toml")


class Captioner(Protocol):
    def caption(self, image: Any, prompt: str = "") -> str:
        """What the picture shows, in English; `prompt` starts the sentence to complete."""
        ...


class Scorer(Protocol):
    def scores(self, image: Any, texts: Sequence[str]) -> list[float]:
        """How well each text describes the picture (CLIP's cosine similarity)."""
        ...


class EnglishToLatvian(Protocol):
    def translate(self, texts: Sequence[str], src: str = "en") -> list[str]: ...


@dataclass(frozen=True)
class Description:
    english: list[str]  # the four prompts before translation
    latvian: list[str]  # the four prompts a user draws
    concepts: list[str] = field(default_factory=list)  # concept ids CLIP recognised
    style: str | None = None  # the style id offered in the fourth

    def as_json(self) -> dict[str, Any]:
        return {
            "english": self.english,
            "latvian": self.latvian,
            "concepts": self.concepts,
            "style": self.style,
        }


class Describer:
    def __init__(
        self,
        captioner: Captioner,
        translator: EnglishToLatvian,
        scorer: Scorer,
        registry: ConceptRegistry,
    ) -> None:
        self.captioner = captioner
        self.translator = translator
        self.scorer = scorer
        self.registry = registry
        self.styles = Styles.load()
        self.data = tomllib.loads(DATA.read_text(encoding="utf-8"))

    def describe(self, image: Any, first: str = "") -> Description:
        """Four prompts for `image` (blocking). `first`: a prompt that goes first as it is
        (a Zīme picture's own text); the others are the picture's."""
        subject = _sentence(self.captioner.caption(image)) or "a picture"
        setting = _sentence(self.captioner.caption(image, self.data["setting_prompt"]))
        lights = self.data["lights"]
        light = lights[_best(self.scorer.scores(image, [f"a photo {x}" for x in lights]))]
        styles = list(self.styles)
        style = styles[_best(self.scorer.scores(image, [s.prompt for s in styles]))]
        concepts = self._concepts(image)
        english = [
            subject,
            f"{subject}, {setting}" if setting and setting != subject else f"{subject}, close up",
            f"{subject}, {light}",
            f"{subject}, {style.prompt}",
        ]
        latvian = self.translator.translate(english[:3], "en")
        latvian.append(f"{latvian[0]}, {style.name('lv')}")
        names = [self.registry.get(c).name_lv for c in concepts]
        if names:  # drawn with the concept: its Latvian name is in every prompt
            latvian = [f"{', '.join(names)}: {text}" for text in latvian]
        if first:
            english, latvian = ["", *english[1:]], [first, *latvian[1:]]
        return Description(english, _distinct(latvian), concepts, style.id)

    def _concepts(self, image: Any) -> list[str]:
        """The concepts whose English description CLIP scores at or above the threshold."""
        concepts = list(self.registry)
        texts = [c.described for c in concepts]
        threshold = float(self.data["concept_threshold"])
        scores = self.scorer.scores(image, texts)
        return [c.id for c, s in zip(concepts, scores, strict=True) if s >= threshold]


def _best(scores: Sequence[float]) -> int:
    return max(range(len(scores)), key=lambda i: scores[i])


def _sentence(text: str) -> str:
    return " ".join(text.strip().strip(".").split())


def _distinct(prompts: list[str]) -> list[str]:
    """Four different prompts: a repeat gets a number, so no two buttons draw the same."""
    seen: dict[str, int] = {}
    out = []
    for text in prompts:
        seen[text] = seen.get(text, 0) + 1
        out.append(text if seen[text] == 1 else f"{text} ({seen[text]})")
    return out


def build_describer(config: Config, registry: ConceptRegistry) -> Describer:
    """The configured describer: `[models] captioner` and `describe_translator`, and
    `[training] clip_model`. On the GPU where drawing is in this process and one is there;
    with the Redis backend (no image model here) on the CPU."""
    import torch

    from core.lang.translate import load_translator

    m = config.models
    gpu = m.device != "cpu" and config.queue.backend != "redis" and torch.cuda.is_available()
    device = "cuda" if gpu else "cpu"
    return Describer(
        BlipCaptioner(config.model(m.captioner), device, m.cache_dir or None),
        load_translator(config.model(m.describe_translator), device, cache_dir=m.cache_dir or None),
        ClipScorer(config.model(config.training.clip_model), device),
        registry,
    )


class BlipCaptioner:
    """A BLIP captioning model (`[models] captioner`), loaded on first use."""

    def __init__(self, source: str, device: str = "cpu", cache_dir: str | None = None) -> None:
        self.source, self.device, self.cache_dir = source, device, cache_dir
        self._model: Any = None
        self._processor: Any = None

    def caption(self, image: Any, prompt: str = "") -> str:
        import torch
        from transformers import BlipForConditionalGeneration, BlipProcessor

        if self._model is None:
            processor: Any = BlipProcessor
            model: Any = BlipForConditionalGeneration
            self._processor = processor.from_pretrained(self.source, cache_dir=self.cache_dir)
            self._model = model.from_pretrained(self.source, cache_dir=self.cache_dir)
            self._model = self._model.to(self.device).eval()
        args = {"text": prompt} if prompt else {}
        inputs = self._processor(images=image.convert("RGB"), return_tensors="pt", **args)
        with torch.no_grad():
            ids = self._model.generate(**inputs.to(self.device), max_new_tokens=24)
        text: str = self._processor.decode(ids[0], skip_special_tokens=True)
        return text[len(prompt) :].strip() if prompt and text.startswith(prompt) else text


class ClipScorer:
    """CLIP (`[training] clip_model`): image-text cosine similarity, loaded on first use."""

    def __init__(self, source: str, device: str = "cpu") -> None:
        self.source, self.device = source, device
        self._model: Any = None
        self._processor: Any = None

    def scores(self, image: Any, texts: Sequence[str]) -> list[float]:
        import torch
        from transformers import CLIPModel, CLIPProcessor

        if self._model is None:
            processor: Any = CLIPProcessor
            model: Any = CLIPModel
            self._processor = processor.from_pretrained(self.source)
            self._model = model.from_pretrained(self.source).to(self.device).eval()
        inputs = self._processor(
            text=list(texts), images=image.convert("RGB"), return_tensors="pt", padding=True
        )
        with torch.no_grad():
            out = self._model(**inputs.to(self.device))
        img = out.image_embeds / out.image_embeds.norm(dim=-1, keepdim=True)
        txt = out.text_embeds / out.text_embeds.norm(dim=-1, keepdim=True)
        return [float(x) for x in (txt @ img.T).squeeze(-1)]
