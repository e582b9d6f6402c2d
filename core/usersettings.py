"""A user's defaults (/iestatijumi, the settings buttons, the Mini App's form): stored in
SQLite, checked by the same parser as the text command, the model against the catalogue. A
mixin of `Service`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from core.errors import InvalidPrompt, NotOwner, SettingsRefused
from core.jobs.job import Request
from core.lang.options import parse_settings

if TYPE_CHECKING:
    from core.draw.models import Catalogue
    from core.jobs.store import Store


class SettingsOps:
    store: Store
    catalogue: Catalogue

    async def settings(self, request: Request) -> dict[str, Any]:
        return await self.store.settings(request.platform, request.user_id)

    async def update_settings(
        self, request: Request, text: str, owner: str | None = None
    ) -> dict[str, Any]:
        """/iestatijumi skaits=4 formats=3:2 privāti=jā valoda=ru: stored in SQLite, so they
        survive restarts. Raises BadOption naming the bad key. `owner`: the user a settings
        button belongs to; anyone else is refused (NotOwner)."""
        if owner is not None and owner != request.user_id:
            raise NotOwner(request.user_key)
        current = await self.store.settings(request.platform, request.user_id)
        try:
            changes = parse_settings(text)
            merged = {k: v for k, v in {**current, **changes}.items() if v is not None}
            # a model by its catalogue name; fast only where that model has a fast mode
            name = self.catalogue.choose(merged.get("model"), merged.get("fast"))
        except InvalidPrompt as exc:
            raise SettingsRefused(exc) from exc
        if merged.get("model"):
            merged["model"] = name
        await self.store.save_settings(request.platform, request.user_id, merged)
        return merged
