"""Logging for every Zīme process (issue #28, W8): the configured level, and no secret in
any line at any level.

- **Secrets** (the bot tokens, the web secret, any Telegram- or Discord-shaped token, a
  one-time login link's token, an initData hash) are replaced by `…` in every record that
  reaches the root logger's handlers, the libraries' own lines and tracebacks included:
  python-telegram-bot logs its request URLs, which hold the token, at DEBUG.
- **Privacy** (`[logging] privacy = true`): the libraries that log what users send (chat
  updates, gateway events, SQL parameters) at DEBUG are held at INFO, whatever the level;
  Zīme's own lines never carry a user's text under privacy (core/queue/worker.py).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import Any

from core.config import Config

# Loggers whose DEBUG lines carry what users wrote (updates, events, SQL parameters).
PAYLOAD_LOGGERS = ("telegram", "discord", "httpx", "httpcore", "aiohttp", "aiosqlite", "hpack")
_PATTERNS = (
    re.compile(r"\b\d{5,}:[A-Za-z0-9_-]{30,}"),  # a Telegram bot token
    re.compile(r"\b[A-Za-z0-9_-]{20,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{20,}"),  # Discord's
    re.compile(r"(?<=/login/)[A-Za-z0-9_-]+"),  # a one-time login link
    re.compile(r"(?<=hash=)[0-9a-fA-F]{32,}"),  # Telegram initData's signature
)
HIDDEN = "…"


class Redactor(logging.Filter):
    """Replaces secrets in a record's message and traceback before any handler writes it."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        # the longest first, so a secret containing another is hidden whole
        self.secrets = sorted({s for s in secrets if len(s) >= 6}, key=len, reverse=True)

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, HIDDEN)
        for pattern in _PATTERNS:
            text = pattern.sub(HIDDEN, text)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: leave the record to the handler's own error
            return True
        record.msg, record.args = self.redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        return True


def configure_logging(config: Config) -> Redactor:
    """Apply `[logging]` to the root logger and its handlers (set up by basicConfig before):
    the level, the redactor on every handler, and privacy's cap on payload loggers."""
    level = logging.getLevelName(config.logging.level)
    root = logging.getLogger()
    root.setLevel(level)
    redactor = Redactor([config.telegram.token, config.discord.token, config.web.secret])
    for handler in root.handlers:
        for old in [f for f in handler.filters if isinstance(f, Redactor)]:
            handler.removeFilter(old)
        handler.addFilter(redactor)
    # httpx logs every request URL at INFO, and Bot API URLs contain the token.
    logging.getLogger("httpx").setLevel(max(logging.WARNING, level))
    for name in PAYLOAD_LOGGERS:
        if name != "httpx":
            cap = max(logging.INFO, level) if config.logging.privacy else logging.NOTSET
            logging.getLogger(name).setLevel(cap)
    return redactor


def quiet_libraries() -> None:
    """No loading bars and no library chatter on the terminal: diffusers', transformers' and
    the hub's progress bars off, their log lines (and Python warnings) sent through the root
    logger's handlers like ours, at WARNING and above."""
    import os

    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    logging.captureWarnings(True)
    import importlib

    import diffusers
    import transformers

    hub: Any = importlib.import_module("huggingface_hub.utils")
    hub.disable_progress_bars()
    for lib in (diffusers, transformers):
        lib.utils.logging.disable_progress_bar()
        lib.utils.logging.set_verbosity_warning()
        lib.utils.logging.disable_default_handler()
        lib.utils.logging.enable_propagation()


def log_to_file(config: Config) -> str:
    """Every log line (ours, the libraries', warnings) to `[logging] file` instead of the
    terminal, where the console chat is. Returns the file's path."""
    path = config.path(config.logging.file)
    path.parent.mkdir(parents=True, exist_ok=True)
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(message)s"))
    root.addHandler(handler)
    configure_logging(config)
    return str(path)
