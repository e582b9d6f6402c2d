"""Choosing a checkpoint by measurement, as in the DreamBooth paper: for each checkpoint,
fixed validation prompts are drawn with fixed seeds and scored.

- subject fidelity: DINO and CLIP-I, the mean cosine similarity of the drawn images to the
  training photos (DINO ViT CLS embeddings; CLIP image embeddings);
- prompt fidelity: CLIP-T, the cosine similarity of each image to its prompt with the token
  left out ("a photo of building in the snow");
- forgetting: the other concepts' prompts drawn with the same seeds with and without the
  LoRA; 1 − their CLIP-I similarity (0: nothing forgotten).

The rule (`choose`): the highest `(DINO + CLIP-I) / 2 + CLIP-T − forgetting`; on a tie the
earlier checkpoint. Seeds are fixed, so the choice is the same on every run.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

VALIDATION = (
    "a photo of {token} {cls}",
    "a photo of {token} {cls} in the snow",
    "a {token} {cls} at night, photo",
)
SEEDS = (11, 22)


@dataclass
class Scores:
    checkpoint: str
    step: int
    dino: float
    clip_i: float
    clip_t: float
    forgetting: float
    images: list[Any] = field(default_factory=list, repr=False)  # validation images, in order

    @property
    def total(self) -> float:
        return (self.dino + self.clip_i) / 2 + self.clip_t - self.forgetting

    def as_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d.pop("images")
        return {**d, "total": round(self.total, 6)}


def choose(scores: list[Scores]) -> Scores:
    """The documented rule: best total, earliest step on a tie."""
    return max(scores, key=lambda s: (round(s.total, 6), -s.step))


class Embedder:
    """CLIP (images and texts) and DINO (images) embeddings, L2-normalised."""

    def __init__(self, clip_model: str, dino_model: str, device: str = "cpu") -> None:
        from transformers import AutoImageProcessor, AutoModel, CLIPModel, CLIPProcessor

        self.device = device
        self.clip = CLIPModel.from_pretrained(clip_model).to(device).eval()  # type: ignore[arg-type]
        self.clip_processor = CLIPProcessor.from_pretrained(clip_model)
        self.dino = AutoModel.from_pretrained(dino_model).to(device).eval()
        self.dino_processor = AutoImageProcessor.from_pretrained(dino_model)

    def clip_images(self, images: list[Any]) -> Any:
        import torch

        with torch.no_grad():
            px = self.clip_processor(images=images, return_tensors="pt")["pixel_values"]
            out = self.clip.get_image_features(pixel_values=px.to(self.device))
            emb = out if isinstance(out, torch.Tensor) else out.pooler_output
        return torch.nn.functional.normalize(emb.float(), dim=-1)

    def clip_texts(self, texts: list[str]) -> Any:
        import torch

        with torch.no_grad():
            tok = self.clip_processor(
                text=texts, return_tensors="pt", padding=True, truncation=True
            )
            ids, mask = tok["input_ids"].to(self.device), tok["attention_mask"].to(self.device)
            out = self.clip.get_text_features(input_ids=ids, attention_mask=mask)
            emb = out if isinstance(out, torch.Tensor) else out.pooler_output
        return torch.nn.functional.normalize(emb.float(), dim=-1)

    def dino_images(self, images: list[Any]) -> Any:
        import torch

        with torch.no_grad():
            px = self.dino_processor(images=images, return_tensors="pt")["pixel_values"]
            cls = self.dino(pixel_values=px.to(self.device)).last_hidden_state[:, 0]
        return torch.nn.functional.normalize(cls.float(), dim=-1)


def mean_similarity(a: Any, b: Any) -> float:
    return float((a @ b.T).mean())


def pairwise_similarity(a: Any, b: Any) -> float:
    return float((a * b).sum(dim=-1).mean())


def validation_prompts(token: str, cls: str) -> list[str]:
    return [p.format(token=token, cls=cls) for p in VALIDATION]


def draw(pipe: Any, prompts: list[str], resolution: int, steps: int) -> list[Any]:
    import torch

    images = []
    for prompt in prompts:
        for seed in SEEDS:
            g = torch.Generator("cpu").manual_seed(seed)
            images.append(
                pipe(
                    prompt,
                    num_inference_steps=steps,
                    width=resolution,
                    height=resolution,
                    generator=g,
                ).images[0]
            )
    return images


def score_checkpoints(
    base: str,
    checkpoints: list[Path],
    photos: list[Any],
    token: str,
    cls: str,
    others: list[str],
    embedder: Embedder,
    resolution: int,
    steps: int,
    device: str,
) -> list[Scores]:
    """Score every checkpoint; `others` are other concepts' prompts (forgetting)."""
    from diffusers import StableDiffusionPipeline

    pipe = StableDiffusionPipeline.from_pretrained(
        base, safety_checker=None, requires_safety_checker=False
    )
    pipe.set_progress_bar_config(disable=True)
    pipe.to(device)
    prompts = validation_prompts(token, cls)
    plain = [p.replace(f"{token} ", "") for p in prompts for _ in SEEDS]
    base_others = embedder.clip_images(draw(pipe, others, resolution, steps)) if others else None
    photo_clip, photo_dino = embedder.clip_images(photos), embedder.dino_images(photos)
    out = []
    for ck in checkpoints:
        pipe.load_lora_weights(str(ck), adapter_name="candidate")
        images = draw(pipe, prompts, resolution, steps)
        forgetting = 0.0
        if base_others is not None:
            after = embedder.clip_images(draw(pipe, others, resolution, steps))
            forgetting = 1.0 - pairwise_similarity(base_others, after)
        pipe.unload_lora_weights()
        clip_img = embedder.clip_images(images)
        out.append(
            Scores(
                checkpoint=ck.name,
                step=int(ck.name.split("-")[-1]),
                dino=mean_similarity(embedder.dino_images(images), photo_dino),
                clip_i=mean_similarity(clip_img, photo_clip),
                clip_t=pairwise_similarity(clip_img, embedder.clip_texts(plain)),
                forgetting=forgetting,
                images=images,
            )
        )
    return out
