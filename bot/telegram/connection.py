"""How the Telegram frontend meets Telegram: polling (the default), or a webhook on the
web app (`[telegram] webhook`: `setWebhook` with a secret at start, `deleteWebhook` at
stop, updates handed over by the web app's `/telegram/webhook`). A mixin of
`TelegramFrontend`."""

from __future__ import annotations

import contextlib
import logging
from typing import TYPE_CHECKING, Any

from telegram import BotCommand, Update
from telegram.error import BadRequest, NetworkError, TelegramError

from bot import commands
from bot.telegram.render import with_retry
from bot.texts import t
from core.errors import ZimeError

if TYPE_CHECKING:
    from telegram.ext import Application

log = logging.getLogger("zime.telegram")


class Connection:
    app: Application[Any, Any, Any, Any, Any, Any]
    webhook_url: str  # "": polling
    webhook_secret: str

    if TYPE_CHECKING:

        async def redeliver(self) -> None: ...

        def cancel_tasks(self) -> None: ...

    async def start(self) -> None:
        await with_retry(self.app.initialize)
        menu = [BotCommand(c.name, t("lv", c.description)) for c in commands.COMMANDS if c.menu]
        with contextlib.suppress(ZimeError, NetworkError, BadRequest):
            await with_retry(lambda: self.app.bot.set_my_commands(menu))
        await self.app.start()
        if self.webhook_url:
            await with_retry(
                lambda: self.app.bot.set_webhook(
                    self.webhook_url,
                    secret_token=self.webhook_secret,
                    allowed_updates=Update.ALL_TYPES,
                )
            )
        else:
            assert self.app.updater is not None
            await self.app.updater.start_polling(
                allowed_updates=Update.ALL_TYPES, error_callback=self._polling_error
            )
        await self.redeliver()

    async def feed(self, data: dict[str, Any]) -> None:
        """An update Telegram posted to the webhook (the web app checked its secret)."""
        update = Update.de_json(data, self.app.bot)
        if update is not None:
            await self.app.update_queue.put(update)

    async def stop(self) -> None:
        if self.webhook_url:
            with contextlib.suppress(TelegramError):
                await self.app.bot.delete_webhook()
        if self.app.updater is not None and self.app.updater.running:
            await self.app.updater.stop()
        self.cancel_tasks()
        if self.app.running:
            await self.app.stop()
        await self.app.shutdown()

    def _polling_error(self, exc: Exception) -> None:
        log.warning("telegram polling error: %s", type(exc).__name__)
