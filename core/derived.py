"""Jobs made from earlier jobs by a button or a command (🔁, V, 🔍, 🔭, ✏️, a region redrawn,
U, 📄, 🗑): a mixin
of `Service`. Every one checks the owner first (`_job_for`): job ids count up, so a button's
id is easy to forge."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from core.errors import Banned, NotFound
from core.jobs.job import GenParams, Job, Options, Request
from core.lang.moderation import Blocklist
from core.lang.options import BadOption
from core.lang.prompt import PromptBuilder, PromptResult
from core.lang.text import normalize

if TYPE_CHECKING:
    from core.config import Config
    from core.jobs.ratelimit import RateLimiter
    from core.jobs.store import Store
    from core.queue.worker import Worker
    from core.service import Submitted

# img2img strengths: a variation moves about halfway from its image; an upscale keeps it and
# only adds detail at twice the size.
VARIATION_STRENGTH = 0.6
UPSCALE_STRENGTH = 0.3


class DerivedJobs:
    config: Config
    store: Store
    worker: Worker
    builder: PromptBuilder
    limiter: RateLimiter
    blocklist: Blocklist
    new_seed: Callable[[], int]

    if TYPE_CHECKING:  # from Service

        async def _job_for(self, job_id: int, request: Request) -> Job: ...

        async def _charge(self, request: Request, images: int, model: str = "") -> str | None: ...

        def _safety(self, request: Request) -> bool: ...

        async def understood(
            self, request: Request, text: str, options: Options
        ) -> tuple[PromptResult, Options]: ...

        async def _submit(
            self,
            request: Request,
            result: PromptResult,
            options: Options,
            parent_id: int | None,
            negative: str = "",
            params: GenParams | None = None,
            kind: str = "",
        ) -> Submitted: ...

    async def again(self, job_id: int, request: Request, same_seed: bool) -> Submitted:
        """Reroll (same prompt, new seed) or redraw (same seed) an earlier job."""
        job = await self._job_for(job_id, request)
        options = replace(job.options, seed=job.seed if same_seed else None)
        return await self._derive(
            job, request, job.params.count, options, negative=self.own_negative(job)
        )

    def own_negative(self, job: Job) -> str:
        """The English negative prompt of the job's own ("bez …", --ne), without the
        configured one every job has."""
        general = self.config.generation.negative_prompt
        return job.params.negative_prompt.removeprefix(general).strip(", ")

    async def variation(self, job_id: int, n: int, request: Request) -> Submitted:
        """Vn: a new grid of variations of image n: img2img from it, new seeds, medium
        strength."""
        return await self._from_image(job_id, n, request, "variation", 4, 1, VARIATION_STRENGTH)

    async def upscale(self, job_id: int, n: int, request: Request) -> Submitted:
        """🔍 2×: image n redrawn from a 2× resize at low strength, with the same pipeline."""
        return await self._from_image(job_id, n, request, "upscale", 1, 2, UPSCALE_STRENGTH)

    async def _from_image(
        self,
        job_id: int,
        n: int,
        request: Request,
        kind: str,
        count: int,
        scale: int,
        strength: float,
    ) -> Submitted:
        job, path = await self.grid_image(job_id, n, request)
        if not await asyncio.to_thread(Path(path).is_file):
            raise NotFound(f"job {job_id} image {n}")
        seed = job.params.image_seed(n) if kind == "upscale" else self.new_seed()
        width, height = self._scaled(job.params.width, job.params.height, scale)
        params = job.params.from_image(
            path,
            strength,
            seed=seed,
            count=count,
            width=width,
            height=height,
            safety_checker=self._safety(request),
        )
        options = replace(job.options, seed=seed, count=count)
        return await self._derive(
            job, request, count, options, params=params, kind=kind, from_image=n
        )

    async def edit_region(
        self, job_id: int, n: int, mask: bytes, text: str, request: Request
    ) -> Submitted:
        """ "Labot apgabalu": image n of a job redrawn where `mask` (a PNG of its size) is
        white, with `text` (empty: the job's own) through the same language pipeline as a
        request; every pixel outside the mask's blurred edge is kept (core/draw/regions.py).
        Raises BadMask."""
        from core.draw.regions import read_mask

        job, path = await self._picture(job_id, n, request)
        size = await asyncio.to_thread(_size_of, path)
        painted = await asyncio.to_thread(read_mask, mask, size)
        understood = await self.understood(request, text, job.options) if text.strip() else None
        return await self._region(job, n, request, path, painted, understood, "region")

    async def zoom(self, job_id: int, n: int, request: Request) -> Submitted:
        """🔭: image n on a canvas 1.5× larger each side (within max_side), the border drawn
        with the job's text and the picture kept in the middle."""
        from core.draw.regions import zoom_canvas

        job, path = await self._picture(job_id, n, request)

        def canvas() -> tuple[Any, Any]:
            from PIL import Image

            with Image.open(path) as picture:
                return zoom_canvas(picture, self.config.generation.max_side)

        start, mask = await asyncio.to_thread(canvas)
        return await self._region(job, n, request, start, mask, None, "zoom")

    async def _picture(self, job_id: int, n: int, request: Request) -> tuple[Job, str]:
        job, path = await self.grid_image(job_id, n, request)
        if job.deleted or not await asyncio.to_thread(Path(path).is_file):
            raise NotFound(f"job {job_id} image {n}")
        return job, path

    async def _region(
        self,
        job: Job,
        n: int,
        request: Request,
        start: Any,
        mask: Any,
        understood: tuple[PromptResult, Options] | None,
        kind: str,
    ) -> Submitted:
        """An inpainting job from image n of `job`: `start` (a path or an image) and `mask`
        kept beside the uploads (the original may be deleted before it is drawn)."""
        folder = self.worker.image_dir / "uploads"
        start_path, mask_path = await asyncio.to_thread(_keep_region, folder, start, mask)
        seed = self.new_seed()
        params = replace(
            job.params,
            init_image=start_path,
            mask_image=mask_path,
            strength=1.0,
            seed=seed,
            count=1,
            width=mask.width,
            height=mask.height,
            safety_checker=self._safety(request),
        )
        options = replace(job.options, seed=seed, count=1)
        result = None
        if understood is not None:
            result, options = understood[0], replace(understood[1], seed=seed, count=1)
            g = self.config.generation
            negative = ", ".join(x for x in (g.negative_prompt, result.negative) if x)
            params = replace(params, prompt=result.prompt, negative_prompt=negative)
        return await self._derive(
            job, request, 1, options, params=params, kind=kind, result=result, from_image=n
        )

    def _scaled(self, width: int, height: int, scale: int) -> tuple[int, int]:
        """🔍: `scale` times the size, but never past `[generation] max_side` (sides in
        multiples of 8, as the VAE needs); BadOption when the picture is already there."""
        if scale == 1:
            return width, height
        factor = min(float(scale), self.config.generation.max_side / max(width, height))
        new = (int(width * factor) // 8 * 8, int(height * factor) // 8 * 8)
        if new[0] <= width and new[1] <= height:
            raise BadOption("🔍", "max_side")
        return new

    async def prompt_to_fix(self, job_id: int, request: Request) -> str:
        """✏️: the English prompt of a job, for its owner to correct."""
        return (await self._job_for(job_id, request)).prompt

    async def job_for_reply(self, request: Request, message_id: int) -> Job | None:
        """The job whose ✏️ question the message `message_id` was, in the request's chat."""
        return await self.store.find_by_meta(
            request.platform, request.chat_id, "fix_message", message_id
        )

    async def draw_fixed(self, job_id: int, english: str, request: Request) -> Submitted:
        """✏️: draw a job again from the English prompt its author corrected (no translator:
        the user wrote what the model reads)."""
        job = await self._job_for(job_id, request)
        english = normalize(english, max_chars=self.config.limits.max_prompt_chars)
        self.blocklist.check(english)
        cost = job.params.count if job.params.init_image is None else 1
        return await self._derive(
            job, request, cost, replace(job.options, seed=None), english=english, kind="edit"
        )

    async def _derive(
        self,
        job: Job,
        request: Request,
        cost: int,
        options: Options,
        *,
        english: str | None = None,
        negative: str = "",
        params: GenParams | None = None,
        kind: str | None = None,
        result: PromptResult | None = None,
        **lineage: Any,
    ) -> Submitted:
        """A new job from an earlier one (🔁, V, 🔍, 🔭, ✏️, a region): the same checks and
        charges as a request, the parent and `kind` recorded, the charge given back if it is
        not queued. `result`: a new text's, instead of the earlier job's."""
        if await self.store.is_banned(request.platform, request.user_id):
            raise Banned(request.user_key)
        chat = await self._charge(request, cost, options.model or "")
        prompt = job.prompt if english is None else english
        result = result or PromptResult(
            input=job.request_text,
            normalized=job.normalized,
            lang=job.lang,
            concepts=(),
            source=job.normalized,
            english=job.english if english is None else english,
            prompt=prompt,
            concept_ids=job.concepts,
        )
        if lineage:
            request = replace(request, meta={**request.meta, **lineage})
        try:
            return await self._submit(
                request, result, options, job.id, negative, params, kind or ""
            )
        except Exception:
            self.limiter.refund(request.user_key, chat)
            raise

    async def grid_image(self, job_id: int, n: int, request: Request) -> tuple[Job, str]:
        """Image n (1-based) of a grid job and its path, for its owner or an admin (U1–U4);
        NotFound for a picture deleted with 🗑."""
        from core.draw.images import image_variant_path

        job = await self._job_for(job_id, request)
        if job.deleted or not job.image_path or not 1 <= n <= job.params.count:
            raise NotFound(f"job {job_id} image {n}")
        path = job.image_path if job.params.count == 1 else image_variant_path(job.image_path, n)
        return job, str(path)

    async def delete(self, job_id: int, request: Request) -> None:
        """🗑: remove a result's image files (the grid and its single images) and the photo
        the user uploaded for it, for its owner or an admin. The job row stays (history,
        limits), marked deleted."""
        from core.draw.images import image_variant_path

        job = await self._job_for(job_id, request)
        paths = []
        if job.image_path:
            paths = [Path(job.image_path)]
            if job.params.count > 1:
                paths += [
                    image_variant_path(job.image_path, n) for n in range(1, job.params.count + 1)
                ]
        if job.image_path:  # the web pages' thumbnail (bot/web/thumbs.py)
            paths.append(Path(job.image_path).with_name(Path(job.image_path).stem + ".thumb.jpg"))
        for kept in (job.params.init_image, job.params.mask_image):
            upload = Path(kept or "")
            if kept and upload.parent == self.worker.image_dir / "uploads":
                paths.append(upload)  # the user's photo, a region's start and mask
        for path in paths:
            await asyncio.to_thread(path.unlink, True)
        await self.store.set_flags(job_id, deleted=True)

    async def original(self, job_id: int, request: Request) -> str:
        """The path of a job's PNG, for its owner or an admin only (NotFound otherwise:
        job ids count up, so anyone could guess one)."""
        job = await self._job_for(job_id, request)
        if not job.image_path:
            raise NotFound(f"job {job_id}")
        return job.image_path


def _size_of(path: str) -> tuple[int, int]:
    from PIL import Image

    with Image.open(path) as img:
        return img.size


def _keep_region(folder: Path, start: Any, mask: Any) -> tuple[str, str]:
    """A region job's start image (copied: a path; saved: an image) and mask as PNGs under
    `folder`."""
    import shutil
    import uuid

    folder.mkdir(parents=True, exist_ok=True)
    name = uuid.uuid4().hex
    start_path, mask_path = folder / f"{name}.png", folder / f"{name}-mask.png"
    if isinstance(start, str | Path):
        shutil.copyfile(start, start_path)
    else:
        start.save(start_path)
    mask.save(mask_path)
    return str(start_path), str(mask_path)
