"""Telegram frontend (python-telegram-bot): `frontend` adapts updates to `Service`,
`render` fits captions and texts into Telegram's limits."""

from bot.telegram.frontend import TelegramFrontend

__all__ = ["TelegramFrontend"]
