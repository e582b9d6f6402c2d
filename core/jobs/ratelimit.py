"""Per-user and per-chat token buckets (per minute) with an injectable clock. The daily
limit is counted in SQLite by the store, so it survives restarts (see Service.handle)."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Protocol

from core.errors import RateLimited


class Clock(Protocol):
    def __call__(self) -> float: ...


def monotonic() -> float:
    return time.monotonic()


@dataclass
class _Bucket:
    capacity: float
    per_second: float
    tokens: float
    updated: float

    def refill(self, now: float) -> None:
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.per_second)
        self.updated = now

    def wait_for(self, cost: int) -> float:
        return 0.0 if self.tokens >= cost else (cost - self.tokens) / self.per_second


@dataclass(frozen=True)
class Rule:
    scope: str  # user | user_day | chat
    capacity: int
    period_s: float


class RateLimiter:
    """`acquire(user, chat)` takes one token from every applicable bucket or raises
    RateLimited(retry_after) without taking any. A capacity of 0 disables that rule."""

    PRUNE_EVERY = 256  # acquisitions between sweeps of idle buckets

    def __init__(
        self, per_user_per_minute: int, per_chat_per_minute: int = 0, clock: Clock = monotonic
    ) -> None:
        self.rules = [
            r
            for r in (
                Rule("user", per_user_per_minute, 60.0),
                Rule("chat", per_chat_per_minute, 60.0),
            )
            if r.capacity > 0
        ]
        self.clock = clock
        self._buckets: dict[tuple[str, str], _Bucket] = {}
        self._since_prune = 0
        self._last_prune = clock()

    def _prune(self, now: float) -> None:
        """Forget buckets that have refilled: a full bucket is what a new one would be."""
        for key, b in list(self._buckets.items()):
            b.refill(now)
            if b.tokens >= b.capacity:
                del self._buckets[key]

    def _bucket(self, rule: Rule, key: str, now: float) -> _Bucket:
        b = self._buckets.get((rule.scope, key))
        if b is None:
            b = _Bucket(rule.capacity, rule.capacity / rule.period_s, float(rule.capacity), now)
            self._buckets[(rule.scope, key)] = b
        b.refill(now)
        return b

    def acquire(
        self, user_key: str, chat_key: str | None = None, exempt: bool = False, cost: int = 1
    ) -> None:
        """Take `cost` tokens (requests: Service charges one per request) from each bucket,
        or none and raise RateLimited."""
        if exempt:
            return
        now = self.clock()
        self._since_prune += 1
        if self._since_prune >= self.PRUNE_EVERY or now - self._last_prune > 60.0:
            self._prune(now)
            self._since_prune, self._last_prune = 0, now
        buckets = []
        for rule in self.rules:
            if rule.scope == "chat" and chat_key is None:
                continue
            key = chat_key if rule.scope == "chat" and chat_key else user_key
            buckets.append((rule, self._bucket(rule, key, now)))
        waits = [(b.wait_for(cost), rule.scope) for rule, b in buckets if b.tokens < cost]
        if waits:
            retry, scope = max(waits)
            raise RateLimited(retry_after=max(1.0, retry), scope=scope)
        for _rule, b in buckets:
            b.tokens -= cost

    def refund(self, user_key: str, chat_key: str | None = None, cost: int = 1) -> None:
        """Give the tokens back (the request failed before it cost anything)."""
        for rule in self.rules:
            key = chat_key if rule.scope == "chat" else user_key
            if key is None:
                continue
            b = self._buckets.get((rule.scope, key))
            if b is not None:
                b.tokens = min(b.capacity, b.tokens + cost)
