"""Token buckets for what screens send: one per connection and one per user (across that user's connections),
so one socket, or one user with many, cannot flood the request stream. A refused frame costs the hub a counter
and a reply; nothing reaches Redis. The http feed limits its senders with the same bucket."""

from __future__ import annotations


class Bucket:
    """``rate`` tokens a second up to ``burst``; ``take`` spends one when there is one. Times are monotonic
    seconds, passed in (the hub's loop clock; tests pass their own)."""

    __slots__ = ("rate", "burst", "tokens", "at")

    def __init__(self, rate: float, burst: float, now: float):
        self.rate, self.burst = rate, burst
        self.tokens, self.at = burst, now

    def take(self, now: float) -> bool:
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False
