"""Training captions: `a photo of TOKEN CLASS` templates, and, when a captioner's weights
are present, what the captioner sees in each photo after them ("a photo of rigasdoms
building, an old church tower with a red roof")."""

from __future__ import annotations

import logging
from typing import Any

log = logging.getLogger("zime.train")

TEMPLATES = (
    "a photo of {token} {cls}",
    "a close-up photo of {token} {cls}",
    "a good photo of {token} {cls}",
)


def describe(captioner: str, images: list[Any], device: str = "cpu") -> list[str] | None:
    """One caption per photo, or None when the captioner's weights are not present (it is
    never downloaded for this: local files or the hub cache only)."""
    if not captioner:
        return None
    from transformers import BlipForConditionalGeneration, BlipProcessor

    try:
        processor = BlipProcessor.from_pretrained(captioner, local_files_only=True)
        model = BlipForConditionalGeneration.from_pretrained(captioner, local_files_only=True)
    except (OSError, ValueError) as exc:  # ValueError: a path that is no folder nor hub id
        log.warning("captioner %s is not present (%s): templates only", captioner, exc)
        return None
    import torch

    model.to(device).eval()  # type: ignore[arg-type]
    with torch.no_grad():
        inputs = processor(images=images, return_tensors="pt").to(device)
        ids = model.generate(**inputs, max_new_tokens=24)
    return [text.strip() for text in processor.batch_decode(ids, skip_special_tokens=True)]


def captions(token: str, cls: str, n_photos: int, seen: list[str] | None) -> list[list[str]]:
    """Per photo, the captions a training step cycles through."""
    base = [t.format(token=token, cls=cls) for t in TEMPLATES]
    if not seen:
        return [base] * n_photos
    return [[f"{c}, {s}" if s else c for c in base] for s in seen]
