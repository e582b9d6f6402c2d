"""Image generation behind a small protocol; the diffusers backend is the only importer of
torch/diffusers outside translation. Calls block: the worker runs them in a thread."""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from core.draw.pipelines import DerivedPipes, mask_image, start_image
from core.errors import JobCancelled, ModelError
from core.hub import check_available
from core.jobs.job import GenParams

log = logging.getLogger("zime.generate")

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

    def describe(self) -> str:
        """One line for the log: the model, device and dtype in use."""
        ...

    def reload(self, model: str | None = None) -> None:
        """Build the new pipeline, then swap; on failure keep the old one and raise."""
        ...

    def generate(
        self, batch: Sequence[GenParams], progress: Progress, cancelled: Cancelled
    ) -> list[tuple[Any, bool]]:
        """Draw every item of a compatible batch; returns (PIL image, nsfw flagged)."""
        ...


FAST = "fast"  # the adapter name of a model's few-step LoRA

# A UNet this large is a real model (SD 1.5's has 860M parameters; the tiny test one < 1M).
FULL_SIZE_PARAMS = 200_000_000


class _Stop(Exception):
    """Raised from the step callback to leave the pipeline before the VAE decode."""


class DiffusersGenerator:
    """StableDiffusionPipeline from a hub id or local dir.

    On CUDA it loads the fp16 safetensors variant in fp16 (falling back to fp32 files cast to
    fp16 when a repository has no fp16 variant); on the CPU fp32 (or the fp16 files cast up).
    The safety checker is not loaded when it is off. `device` and `dtype` say what is in use
    after `load()`; `describe()` is the one log line that says so."""

    def __init__(
        self,
        model: str,
        device: str = "auto",
        scheduler: str = "euler_a",
        cache_dir: str = "",
        compile_unet: bool = False,
        safety_checker: bool = True,
        warmup: Sequence[tuple[int, int, int]] = (),
        adapters: Callable[[], Mapping[str, str]] = dict,
        fast_lora: str = "",
        family: str = "sd15",
        inpaint: str = "",
    ) -> None:
        if scheduler not in SCHEDULERS:
            raise ModelError(f"unknown scheduler {scheduler!r}; use one of {sorted(SCHEDULERS)}")
        self.model = model
        self.device_pref = device
        self.scheduler = scheduler
        self.cache_dir = cache_dir or None
        self.compile_unet = compile_unet
        self.load_safety_checker = safety_checker
        self.warmup_shapes = tuple(warmup)  # (batch, width, height) to compile ahead
        self.adapters = adapters  # token -> LoRA weights file of each trained concept
        self.loaded_adapters: tuple[str, ...] = ()
        # fast mode: a few-step LoRA (a local file, or owner/repo/file on the hub), loaded as
        # the adapter "fast" beside the concept adapters; its scheduler is DDIM, trailing
        self.fast_lora = fast_lora
        self._fast_scheduler: Any = None
        self.family = family  # sd15: the SD 1.5 pipelines; sdxl: the SDXL ones
        self.device = ""
        self.dtype = ""
        self.variant: str | None = None
        self.full_size = False
        self._pipe: Any = None
        self._safety: Any = None
        self._pipes = DerivedPipes(family, inpaint, self.cache_dir)  # img2img, inpainting
        self._lock = threading.Lock()

    def _device(self) -> str:
        import torch

        if self.device_pref == "cpu":
            return "cpu"
        if torch.cuda.is_available():
            return "cuda"
        if self.device_pref == "cuda":
            raise ModelError("models.device = 'cuda' but no CUDA GPU is available")
        log.warning(
            "models.device = 'auto' and no usable CUDA GPU: drawing on the CPU (very slow for "
            "a full-size model; set device = 'cuda' to fail instead, or 'cpu' to accept it)"
        )
        return "cpu"

    def _from_pretrained(self, model: str, device: str) -> Any:
        import diffusers
        import torch

        dtype = torch.float16 if device == "cuda" else torch.float32
        kwargs: dict[str, Any] = {"dtype": dtype, "cache_dir": self.cache_dir}
        xl = self.family == "sdxl"
        pipeline = diffusers.StableDiffusionXLPipeline if xl else diffusers.StableDiffusionPipeline
        if not self.load_safety_checker and not xl:  # SDXL ships no safety checker
            kwargs.update(
                safety_checker=None, feature_extractor=None, requires_safety_checker=False
            )
        # The variant that matches the dtype first; a repository without it serves the other.
        first, second = ("fp16", None) if device == "cuda" else (None, "fp16")
        try:
            pipe = pipeline.from_pretrained(model, variant=first, **kwargs)
            self.variant = first
        except (OSError, ValueError) as exc:
            log.info(
                "no %s weights in %s (%s); trying %s", first or "fp32", model, exc, second or "fp32"
            )
            pipe = pipeline.from_pretrained(model, variant=second, **kwargs)
            self.variant = second
        return pipe

    def _build(self, model: str) -> Any:
        """Load on the CPU; `_install` moves it to the device once the old one is gone."""
        import diffusers

        check_available(model, "image model", "model_index.json", self.cache_dir)
        device = self._device()
        try:
            pipe = self._from_pretrained(model, device)
            sched_cls = getattr(diffusers, SCHEDULERS[self.scheduler])
            pipe.scheduler = sched_cls.from_config(pipe.scheduler.config)
            pipe.set_progress_bar_config(disable=True)
        except Exception as exc:
            raise ModelError(f"cannot load image model {model!r}: {exc}") from exc
        return pipe

    def _install(self, pipe: Any, model: str) -> None:
        import torch

        device = self._device()
        try:
            pipe.to(device)
            # diffusers uses PyTorch SDPA attention by default (AttnProcessor2_0).
            if device == "cuda":
                pipe.unet.to(memory_format=torch.channels_last)
                if self.compile_unet:
                    # dynamic shapes: one compile serves every batch size and resolution
                    pipe.unet = torch.compile(pipe.unet, dynamic=True)
        except Exception as exc:
            raise ModelError(f"cannot move image model {model!r} to {device}: {exc}") from exc
        self._load_adapters(pipe)
        if self.fast_lora:
            self._load_fast(pipe)
        self._pipe = pipe
        # Run by `_flagged` on the finished images, never inside the pipeline: the
        # pipeline's own call blacks flagged images out, and they are to be blurred instead.
        self._safety = getattr(pipe, "safety_checker", None)
        self._features = getattr(pipe, "feature_extractor", None)
        pipe.safety_checker = None
        self.model = model
        self.device = device
        self.dtype = str(pipe.unet.dtype).removeprefix("torch.")
        self.full_size = sum(p.numel() for p in pipe.unet.parameters()) > FULL_SIZE_PARAMS
        log.info(self.describe())
        if self.compile_unet and device == "cuda":
            self._warm_up()

    def _load_adapters(self, pipe: Any) -> None:
        """Every installed concept's LoRA, by its token; `generate` activates the ones a
        batch names (several trained concepts in one prompt work together)."""
        loaded = []
        for token, weights in sorted(self.adapters().items()):
            try:
                _load_lora(pipe, str(Path(weights).parent), Path(weights).name, token)
                loaded.append(token)
            except Exception as exc:  # one broken adapter must not stop drawing
                log.error("cannot load the adapter of %s from %s: %s", token, weights, exc)
        self.loaded_adapters = tuple(loaded)
        if loaded:
            log.info("concept adapters loaded: %s", ", ".join(loaded))

    def _load_fast(self, pipe: Any) -> None:
        """The fast LoRA as the adapter "fast", and the scheduler it was distilled for
        (Hyper-SD: DDIM with trailing timesteps), kept aside for the fast calls only."""
        import diffusers

        local = Path(self.fast_lora)
        if local.is_file():
            source, weight = str(local.parent), local.name
        else:  # owner/repo/file.safetensors
            parts = self.fast_lora.split("/")
            source, weight = "/".join(parts[:2]), "/".join(parts[2:])
        try:
            _load_lora(pipe, source, weight, FAST, cache_dir=self.cache_dir)
        except Exception as exc:
            raise ModelError(f"cannot load the fast LoRA {self.fast_lora!r}: {exc}") from exc
        self.loaded_adapters = (*self.loaded_adapters, FAST)
        self._fast_scheduler = diffusers.DDIMScheduler.from_config(
            pipe.scheduler.config, timestep_spacing="trailing"
        )

    def _activate(self, pipe: Any, tokens: Sequence[str], fast: bool = False) -> None:
        """The adapters a batch draws with: its trained concepts, and fast mode's LoRA."""
        if not self.loaded_adapters:
            return
        active = [t for t in tokens if t in self.loaded_adapters and t != FAST]
        if fast:
            active.append(FAST)
        if active:
            pipe.enable_lora()
            pipe.set_adapters(active, [1.0] * len(active))
        else:
            pipe.disable_lora()

    def describe(self) -> str:
        size = "full-size" if self.full_size else "small"
        return (
            f"image model {self.model} on {self.device}, {self.dtype} "
            f"({self.variant or 'fp32'} weights, {size}, safety checker "
            f"{'loaded' if self._safety is not None else 'off'})"
        )

    def _warm_up(self) -> None:
        """Compile ahead for the configured sizes, so no user waits for it."""
        import torch

        for batch, width, height in self.warmup_shapes:
            started = time.perf_counter()
            with torch.inference_mode():
                self._pipe(
                    prompt=["warm-up"] * batch,
                    num_inference_steps=2,
                    width=width,
                    height=height,
                    output_type="latent",
                )
            log.info(
                "compiled for %d x %dx%d in %.1f s",
                batch,
                width,
                height,
                time.perf_counter() - started,
            )

    def load(self) -> None:
        with self._lock:
            if self._pipe is None:
                self._install(self._build(self.model), self.model)

    def reload(self, model: str | None = None) -> None:
        target = model or self.model
        new = self._build(target)  # on the CPU; the old pipeline serves until this succeeded
        with self._lock:
            old, self._pipe = self._pipe, None
            self._pipes.clear()  # they share the old components
            del old  # free the old weights before the new ones reach the GPU
            free_memory()
            self._install(new, target)

    def generate(
        self, batch: Sequence[GenParams], progress: Progress, cancelled: Cancelled
    ) -> list[tuple[Any, bool]]:
        import torch

        self.load()
        first = batch[0]
        with self._lock:
            pipe = self._pipe
            if first.fast and self._fast_scheduler is None:
                raise ModelError(f"the image model {self.model} has no fast LoRA loaded")
            self._activate(pipe, first.adapters, first.fast)
            # Decoding a batch image by image: batch-4 decode +1.2 GB instead of +3.3 GB.
            if len(batch) > 1:
                pipe.vae.enable_slicing()
            else:
                pipe.vae.disable_slicing()

            def on_step(p: Any, step: int, _t: Any, kwargs: dict[str, Any]) -> dict[str, Any]:
                # The pipeline's own count: some schedulers run more model calls than steps
                # (PNDM: 26 for 25), img2img fewer (steps × strength).
                total = getattr(p, "_num_timesteps", None) or len(p.scheduler.timesteps)
                progress(step + 1, max(total, step + 1))
                if cancelled():
                    raise _Stop()
                return kwargs

            generators = [torch.Generator(device="cpu").manual_seed(p.seed) for p in batch]
            args: dict[str, Any] = {
                "prompt": [p.prompt for p in batch],
                "negative_prompt": [p.negative_prompt for p in batch],
                "num_inference_steps": first.steps,
                "guidance_scale": first.guidance,
                "generator": generators,
                "callback_on_step_end": on_step,
            }
            size = {"width": first.width, "height": first.height}
            if first.mask_image:  # a region redrawn, or 🔭's border: inpainting
                pipe = self._pipes.inpaint(pipe)
                args["image"] = [start_image(p.init_image, p.width, p.height) for p in batch]
                args["mask_image"] = [mask_image(p.mask_image, p.width, p.height) for p in batch]
                args.update(strength=first.strength or 1.0, **size)
            elif first.init_image:  # variations and upscales start from an image
                pipe = self._pipes.img2img(pipe)
                args["image"] = [start_image(p.init_image, p.width, p.height) for p in batch]
                args["strength"] = first.strength
            else:
                args.update(size)
            out_of_memory = False
            # fast mode's own scheduler for this call only: no other job sees it
            usual = pipe.scheduler
            if first.fast:
                pipe.scheduler = self._fast_scheduler
            try:
                with torch.inference_mode():
                    out = pipe(**args)
            except _Stop:
                out = None
            except torch.cuda.OutOfMemoryError:
                out_of_memory = True  # freed below, once this frame no longer pins the tensors
                out = None
            except Exception as exc:
                free_memory()
                raise ModelError(f"image model failed: {exc}") from exc
            finally:
                pipe.scheduler = usual
        if out_of_memory:
            free_memory()
            raise ModelError(
                f"GPU out of memory drawing {len(batch)} image(s) of {first.width}x{first.height}"
            )
        if out is None:
            free_memory()
            raise JobCancelled("cancelled while drawing")
        flags = self._flagged(out.images) if first.safety_checker else [False] * len(out.images)
        return list(zip(out.images, flags, strict=True))

    def _flagged(self, images: list[Any]) -> list[bool]:
        """The safety checker's verdict per image. The images are left as drawn: the worker
        blurs flagged ones before anything is saved or sent."""
        if self._safety is None or self._features is None:
            return [False] * len(images)
        import numpy as np
        import torch

        with self._lock, torch.inference_mode():
            clip_input = self._features(images, return_tensors="pt").pixel_values
            arrays = np.stack([np.asarray(img, dtype=np.float32) / 255 for img in images])
            # the checker zeroes flagged entries of `arrays` in place: a throwaway copy
            _, flags = self._safety(
                images=arrays, clip_input=clip_input.to(self.device, self._safety.dtype)
            )
        return [bool(f) for f in flags]


def _load_lora(pipe: Any, source: str, weight: str, name: str, **kw: Any) -> None:
    """One named LoRA adapter into the pipeline. Several in one model is what Zīme does
    (concept adapters beside fast mode's), so peft's warning about a second adapter is not
    news: it is silenced here, and only here."""
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Already found a `peft_config` attribute")
        pipe.load_lora_weights(source, weight_name=weight, adapter_name=name, **kw)


def free_memory() -> None:
    gc.collect()
    try:
        import torch

        if torch.cuda.is_available():
            torch.cuda.empty_cache()
    except ImportError:  # pragma: no cover
        pass
