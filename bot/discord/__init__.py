"""Discord frontend (discord.py): `frontend` adapts slash commands and buttons to
`Service`, `views` holds the persistent buttons and the modal."""

from bot.discord.frontend import DiscordFrontend

__all__ = ["DiscordFrontend"]
