"""PNG files that tell how to redraw them: prompt, seed, model … in PNG text chunks."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from core.jobs.job import GenParams


def png_metadata(
    params: GenParams,
    model: str,
    job_id: int,
    scheduler: str = "",
    kind: str = "draw",
    parent_id: int | None = None,
    runner: str = "",
    model_path: str = "",
) -> dict[str, str]:
    """The PNG's text chunks: A1111's `parameters`, each parameter alone, `model` (the
    catalogue name), `model_path` (its hub id or folder), `fast` for a fast drawing, and
    `zime` (the job, its kind, parent and runner)."""
    # "parameters" follows the AUTOMATIC1111 convention so common tools show it too.
    parameters = (
        f"{params.prompt}\nNegative prompt: {params.negative_prompt}\n"
        f"Steps: {params.steps}, Sampler: {scheduler or 'default'}, CFG scale: {params.guidance}, "
        f"Seed: {params.seed}, Size: {params.width}x{params.height}, Model: {model}"
    )
    return {
        "parameters": parameters,
        "prompt": params.prompt,
        "negative_prompt": params.negative_prompt,
        "seed": str(params.seed),
        "steps": str(params.steps),
        "guidance": str(params.guidance),
        "size": f"{params.width}x{params.height}",
        "count": str(params.count),
        "model": model,
        "model_path": model_path or model,
        **({"fast": "true"} if params.fast else {}),
        # the lineage: what the job was (draw, grid, photo, upscale …) and its parent job
        "zime": json.dumps(
            {
                "job_id": job_id,
                "scheduler": scheduler,
                "kind": kind,
                "parent_id": parent_id,
                "runner": runner,
            }
        ),
    }


def save_png(image: Any, path: Path, metadata: dict[str, str]) -> Path:
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    for key, value in metadata.items():
        info.add_itxt(key, value)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".part")
    try:
        image.save(tmp, format="PNG", pnginfo=info)
        tmp.replace(path)  # never leave a half-written image behind
    except BaseException:
        tmp.unlink(missing_ok=True)  # a full disk leaves no .part file either
        raise
    return path


def image_variant_path(grid_path: str | Path, n: int) -> Path:
    """Where image n (1-based) of a grid job is kept: `<id>-<n>.png` beside `<id>.png`."""
    p = Path(grid_path)
    return p.with_name(f"{p.stem}-{n}.png")


def grid(images: list[Any]) -> Any:
    """Images side by side, two per row, without gutters (2: 2×1, 3 or 4: 2×2; an empty
    cell stays black)."""
    from PIL import Image

    w, h = images[0].size
    cols = 1 if len(images) == 1 else 2
    rows = (len(images) + cols - 1) // cols
    out = Image.new("RGB", (w * cols, h * rows))
    for i, img in enumerate(images):
        out.paste(img, ((i % cols) * w, (i // cols) * h))
    return out


def veil(image: Any) -> Any:
    """An image blurred past recognition (shapes and colours only), for one the safety
    checker flagged: a 16-pixel-wide mosaic, smoothed back up to the drawn size."""
    from PIL import Image, ImageFilter

    w, h = image.size
    small = image.convert("RGB").resize((16, max(1, round(16 * h / w))), Image.Resampling.BOX)
    return small.resize((w, h), Image.Resampling.BICUBIC).filter(
        ImageFilter.GaussianBlur(max(w, h) / 64)
    )


MAX_PHOTO_BYTES = 10 * 1024 * 1024
MAX_PHOTO_PIXELS = 40_000_000  # far above any phone camera; a decompression bomb is refused
PHOTO_DECODES = 2  # photos decoded at once (core.service.Service.decode_photo)
# MPO: the multi-picture JPEG most phone cameras write; its first frame is the photo.
PHOTO_FORMATS = ("JPEG", "MPO", "PNG", "WEBP")


def load_photo(data: bytes) -> Any:
    """A user's photo as an RGB image, EXIF orientation applied. Raises BadPhoto: over
    10 MB, not JPEG/PNG/WebP, too many pixels, or unreadable."""
    import io

    from PIL import Image, ImageOps, UnidentifiedImageError

    from core.errors import BadPhoto

    if len(data) > MAX_PHOTO_BYTES:
        raise BadPhoto("too_big")
    try:
        with Image.open(io.BytesIO(data)) as probe:  # reads the header only
            if probe.format not in PHOTO_FORMATS:
                raise BadPhoto("format")
            if probe.width * probe.height > MAX_PHOTO_PIXELS:
                raise BadPhoto("pixels")
        with Image.open(io.BytesIO(data)) as img:
            img.seek(0)  # an MPO's first frame
            img.load()
            return ImageOps.exif_transpose(img).convert("RGB")
    except BadPhoto:
        raise
    except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError) as exc:
        raise BadPhoto("unreadable") from exc


def read_png_metadata(path: str | Path) -> dict[str, str]:
    from PIL import Image

    with Image.open(path) as img:
        return {k: str(v) for k, v in getattr(img, "text", {}).items()}


def save_drawn(
    job: Any, images: list[tuple[Any, bool]], path: Path, model: str, scheduler: str, runner: str
) -> None:
    """A drawn job's PNGs. One image: `<id>.png`. Several: each as `<id>-<n>.png` (U1–U4
    send them) and their 2×2 grid as `<id>.png`. Every PNG carries the parameters that
    redraw it and the runner that drew it. An image the safety checker flagged is blurred
    before it is written: the drawn one is never kept nor sent. A region edit or a zoom-out
    keeps its start image outside the mask (`regions.paste_back`). Blocking."""
    p = job.params
    if p.mask_image and p.init_image:
        from core.draw.regions import paste_back_files

        images = [(paste_back_files(i, p.init_image, p.mask_image), f) for i, f in images]
    shown = [veil(image) if flagged else image for image, flagged in images]

    def metadata(params: Any) -> dict[str, str]:
        return png_metadata(
            params, job.model or model, job.id, scheduler, job.kind, job.parent_id, runner, model
        )

    if len(shown) == 1:
        save_png(shown[0], path, metadata(job.params))
        return
    for n, (params, image) in enumerate(zip(job.params.expanded(), shown, strict=True), 1):
        save_png(image, image_variant_path(path, n), metadata(params))
    save_png(grid(shown), path, metadata(job.params))
