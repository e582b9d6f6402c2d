"""/apraksti (issue #34): four Latvian prompts for a photo or a Zīme picture, each one tap
from being drawn. A mixin of `Service`: the describer's models load on first use, run off the
event loop one description at a time, with at most `[limits] describe_queue` waiting; the
four prompts are kept in SQLite for their buttons, which only the asker may press. A
described photo is decoded in memory and never written to disk."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from core.errors import DescribeBusy, DescribeUnavailable, ModelError, NotFound, ZimeError
from core.jobs.job import Job, Request

log = logging.getLogger("zime.describe")

if TYPE_CHECKING:
    from core.config import Config
    from core.jobs.store import Store
    from core.lang.prompt import PromptBuilder
    from core.see.describe import Describer, Description


class DescribeOps:
    config: Config
    store: Store
    builder: PromptBuilder
    decode_photo: Callable[[bytes], Awaitable[Any]]
    _describer: Describer | None = None
    _describe_lock: asyncio.Lock | None = None
    _describing = 0  # descriptions running or waiting now

    if TYPE_CHECKING:

        async def _job_for(self, job_id: int, request: Request) -> Job: ...

        async def grid_image(self, job_id: int, n: int, request: Request) -> tuple[Job, str]: ...

    def describer(self) -> Describer:
        """The captioner, the English → Latvian translator and CLIP, built on first use (a
        test may set `_describer` to one with fakes)."""
        if self._describer is None:
            from core.see.describe import build_describer

            self._describer = build_describer(self.config, self.builder.registry)
        return self._describer

    def _describe(self, image: Any, first: str) -> Description:
        """In a worker thread. Models that cannot load are the operator's to fix: logged
        with the reason; the user gets DescribeUnavailable's sentence."""
        try:
            return self.describer().describe(image, first)  # the models load on first use
        except (ModelError, OSError) as exc:  # not fetched, hub unreachable, bad files
            log.warning("/apraksti is unavailable: %s", exc)
            raise DescribeUnavailable(str(exc)) from exc
        except Exception as exc:  # a model's fault: logged; the user gets one sentence
            log.exception("describing a picture failed")
            raise ZimeError("describe failed") from exc

    async def describe(
        self, request: Request, photo: bytes | None = None, job_id: int = 0, n: int = 1
    ) -> tuple[int, Description]:
        """Four prompts for `photo`, or for a Zīme picture (image `n` of a grid; its own text
        first): the id its buttons carry, and the description. Raises DescribeBusy past the
        queue, BadPhoto for a photo photo → picture would refuse, NotFound for someone
        else's picture."""
        from PIL import Image

        first = ""
        if job_id:
            job, path = await self.grid_image(job_id, n, request)
            first = job.request_text

            def load() -> Any:
                with Image.open(path) as img:
                    return img.convert("RGB")

            try:
                image = await asyncio.to_thread(load)
            except OSError as exc:  # removed meanwhile (retention): gone like a deleted one
                raise NotFound(f"image of job {job_id}") from exc
        elif photo is not None:
            image = await self.decode_photo(photo)
        else:
            raise NotFound("photo")
        if self._describing >= self.config.limits.describe_queue:
            raise DescribeBusy(self.config.limits.describe_queue)
        self._describing += 1
        try:
            if self._describe_lock is None:
                self._describe_lock = asyncio.Lock()
            async with self._describe_lock:  # one at a time: the models are not re-entrant
                described = await asyncio.to_thread(self._describe, image, first)
        finally:
            self._describing -= 1
        description_id = await self.store.save_description(request.user_key, described.latvian)
        return description_id, described

    async def described(self, description_id: int, request: Request) -> list[str]:
        """The four prompts behind a description's buttons, for the one who asked only."""
        found = await self.store.description(description_id)
        if found is None or found[0] != request.user_key:
            raise NotFound(f"description {description_id}")
        return found[1]
