"""Capped exponential backoff with jitter: how every process waits between tries to reach Redis or the PBX.

The jitter (a delay drawn from [d/2, d]) keeps the hub, the screens, the executor and the ingesters from all
knocking at the same instant when a restarted server comes back.
"""

from __future__ import annotations

import asyncio
import random

from .aio import cancellation_pending
from .config import WallboardConfig


class Backoff:
    def __init__(self, initial: float, cap: float, rng: random.Random | None = None):
        self.initial, self.cap, self.n = initial, cap, 0
        self.rng = rng or random.Random()

    def next(self) -> float:
        """The next wait: ``initial`` doubling each time up to ``cap``, jittered. Every retry loop asks here
        before it waits, so a task whose cancellation was lost on the way stops here instead of retrying on."""
        if cancellation_pending():
            raise asyncio.CancelledError("cancelled while it failed")
        delay = min(self.cap, self.initial * (2**self.n))
        self.n += 1
        return self.rng.uniform(delay / 2, delay)

    def reset(self) -> None:
        self.n = 0


def redis_backoff(config: WallboardConfig) -> Backoff:
    """Between tries to reach Redis (``redis.retry_initial_s`` doubling to ``redis.retry_max_s``)."""
    return Backoff(config.redis.retry_initial_s, config.redis.retry_max_s)
