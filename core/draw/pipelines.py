"""The pipelines a loaded text-to-image pipeline lends its components to (`from_pipe`: no
new weights): image-to-image (variations, upscales, photos) and inpainting (a region redrawn,
🔭 zoom-out), for SD 1.5 and SDXL. Inpainting uses a dedicated checkpoint instead when the
catalogue names one (`[models.generators.NAME] inpaint`), loaded on first use. The inputs
(start image, mask) are read at the job's size here too."""

from __future__ import annotations

from typing import Any


class DerivedPipes:
    def __init__(self, family: str, inpaint_checkpoint: str = "", cache_dir: str | None = None):
        self.family = family  # sd15 | sdxl
        self.inpaint_checkpoint = inpaint_checkpoint
        self.cache_dir = cache_dir
        self._made: dict[str, tuple[Any, Any]] = {}  # kind -> (pipeline, the base it shares)

    def clear(self) -> None:
        """The base pipeline was replaced (a reload): the derived ones share its old parts."""
        self._made.clear()

    def img2img(self, pipe: Any) -> Any:
        import diffusers

        xl = self.family == "sdxl"
        cls = (
            diffusers.StableDiffusionXLImg2ImgPipeline
            if xl
            else diffusers.StableDiffusionImg2ImgPipeline
        )
        return self._get("img2img", pipe, lambda: cls.from_pipe(pipe))

    def inpaint(self, pipe: Any) -> Any:
        import diffusers

        xl = self.family == "sdxl"
        cls = (
            diffusers.StableDiffusionXLInpaintPipeline
            if xl
            else diffusers.StableDiffusionInpaintPipeline
        )
        if not self.inpaint_checkpoint:
            return self._get("inpaint", pipe, lambda: cls.from_pipe(pipe))

        def own() -> Any:  # its own weights, on the base's device and dtype
            loader: Any = cls  # the family's own class, not AutoPipeline (it imports all)
            made = loader.from_pretrained(
                self.inpaint_checkpoint, torch_dtype=pipe.dtype, cache_dir=self.cache_dir
            )
            made.safety_checker = None
            return made.to(pipe.device)

        return self._get("inpaint", pipe, own)

    def _get(self, kind: str, base: Any, make: Any) -> Any:
        made = self._made.get(kind)
        if made is None or made[1] is not base:
            pipeline = make()
            pipeline.set_progress_bar_config(disable=True)
            self._made[kind] = made = (pipeline, base)
        made[0].safety_checker = None  # the generator runs the checker itself
        return made[0]


def start_image(path: str | None, width: int, height: int) -> Any:
    """The start image of an img2img or inpainting job, at the job's size (2× for an
    upscale)."""
    from PIL import Image

    with Image.open(str(path)) as img:
        return img.convert("RGB").resize((width, height), Image.Resampling.LANCZOS)


def mask_image(path: str | None, width: int, height: int) -> Any:
    """An inpainting job's mask at its size: white is redrawn."""
    from PIL import Image

    with Image.open(str(path)) as img:
        return img.convert("L").resize((width, height), Image.Resampling.NEAREST)
