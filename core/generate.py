"""Image generation behind a small protocol; the diffusers backend is the only importer of
torch/diffusers outside translation. Calls block: the worker runs them in a thread."""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable, Sequence
from typing import Any, Protocol, runtime_checkable

from core.errors import JobCancelled, ModelError
from core.hub import check_available
from core.models import GenParams

Progress = Callable[[int, int], None]  # (step done, total steps)
Cancelled = Callable[[], bool]

SCHEDULERS = {
    "euler_a": "EulerAncestralDiscreteScheduler",
    "dpm": "DPMSolverMultistepScheduler",
    "ddim": "DDIMScheduler",
    "pndm": "PNDMScheduler",
}


@runtime_checkable
class Generator(Protocol):
    model: str

    def load(self) -> None: ...

    def reload(self, model: str | None = None) -> None:
        """Build the new pipeline, then swap; on failure keep the old one and raise."""
        ...

    def generate(
        self, batch: Sequence[GenParams], progress: Progress, cancelled: Cancelled
    ) -> list[tuple[Any, bool]]:
        """Draw every item of a compatible batch; returns (PIL image, nsfw flagged)."""
        ...


class DiffusersGenerator:
    """StableDiffusionPipeline from a hub id or local dir: fp16 + SDPA on CUDA, fp32 on CPU."""

    def __init__(
        self,
        model: str,
        device: str = "auto",
        scheduler: str = "euler_a",
        cache_dir: str = "",
        compile_unet: bool = False,
    ) -> None:
        if scheduler not in SCHEDULERS:
            raise ModelError(f"unknown scheduler {scheduler!r}; use one of {sorted(SCHEDULERS)}")
        self.model = model
        self.device_pref = device
        self.scheduler = scheduler
        self.cache_dir = cache_dir or None
        self.compile_unet = compile_unet
        self._pipe: Any = None
        self._safety: Any = None
        self._lock = threading.Lock()

    def _device(self) -> str:
        import torch

        if self.device_pref == "cuda" and not torch.cuda.is_available():
            raise ModelError("models.device = 'cuda' but no CUDA GPU is available")
        if self.device_pref == "cpu":
            return "cpu"
        return "cuda" if torch.cuda.is_available() else "cpu"

    def _build(self, model: str) -> Any:
        import diffusers
        import torch

        check_available(model, "image model", "model_index.json")
        device = self._device()
        dtype = torch.float16 if device == "cuda" else torch.float32
        try:
            pipe = diffusers.StableDiffusionPipeline.from_pretrained(
                model, torch_dtype=dtype, cache_dir=self.cache_dir
            )
            sched_cls = getattr(diffusers, SCHEDULERS[self.scheduler])
            pipe.scheduler = sched_cls.from_config(pipe.scheduler.config)
            pipe.set_progress_bar_config(disable=True)
            pipe.to(device)
            # diffusers uses PyTorch SDPA attention by default (AttnProcessor2_0).
            if device == "cuda":
                pipe.unet.to(memory_format=torch.channels_last)
                if self.compile_unet:
                    pipe.unet = torch.compile(pipe.unet)
        except Exception as exc:
            raise ModelError(f"cannot load image model {model!r}: {exc}") from exc
        return pipe

    def load(self) -> None:
        with self._lock:
            if self._pipe is None:
                self._pipe = self._build(self.model)
                self._safety = getattr(self._pipe, "safety_checker", None)

    def reload(self, model: str | None = None) -> None:
        target = model or self.model
        new = self._build(target)  # the old pipeline keeps serving until this succeeded
        with self._lock:
            old, self._pipe = self._pipe, new
            self._safety = getattr(new, "safety_checker", None)
            self.model = target
        del old
        _free_memory()

    def generate(
        self, batch: Sequence[GenParams], progress: Progress, cancelled: Cancelled
    ) -> list[tuple[Any, bool]]:
        import torch

        self.load()
        first = batch[0]
        with self._lock:
            pipe = self._pipe
            pipe.safety_checker = self._safety if first.safety_checker else None
            device = pipe.device

            def on_step(p: Any, step: int, _t: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
                progress(step + 1, first.steps)
                if cancelled():
                    p._interrupt = True
                return kwargs

            generators = [torch.Generator(device="cpu").manual_seed(p.seed) for p in batch]
            try:
                with torch.inference_mode():
                    out = pipe(
                        prompt=[p.prompt for p in batch],
                        negative_prompt=[p.negative_prompt for p in batch],
                        num_inference_steps=first.steps,
                        guidance_scale=first.guidance,
                        width=first.width,
                        height=first.height,
                        generator=generators,
                        callback_on_step_end=on_step,
                    )
            except torch.cuda.OutOfMemoryError as exc:
                _free_memory()
                raise ModelError(
                    f"GPU out of memory drawing {len(batch)} image(s) of "
                    f"{first.width}x{first.height}"
                ) from exc
            except Exception as exc:
                _free_memory()
                raise ModelError(f"image model failed: {exc}") from exc
            if getattr(pipe, "_interrupt", False) or cancelled():
                pipe._interrupt = False
                raise JobCancelled("cancelled while drawing")
            del device
        flags = out.nsfw_content_detected or [False] * len(out.images)
        return [(img, bool(flag)) for img, flag in zip(out.images, flags, strict=True)]


def _free_memory() -> None:
    gc.collect()
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    except ImportError:  # pragma: no cover
        pass
