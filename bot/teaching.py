"""What both frontends do to end a chat training: /pievienot installs it, /atmest drops it."""

from __future__ import annotations

from bot.texts import t
from core.jobs.job import Request
from core.service import Service


async def finish_teaching(service: Service, req: Request, command: str, args: list[str]) -> str:
    """Install (`pievienot`) or discard (`atmest`) the admin's trained concept; the answer.
    Raises ZimeError (not an admin, no such training …)."""
    token = args[0] if args else ""
    if command == "pievienot":
        token = await service.teach_accept(req, token)
        return t(req.language, "{token} is added: try /zime with its name.", token=token)
    service.teach_discard(req, token)
    return t(req.language, "Discarded.")
