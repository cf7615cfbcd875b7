"""Windows on the centre's clock: the daily reset (in the centre's time zone) and minute buckets.

A window is half-open, ``[start, now)``, on the time of the transition being counted. The since-reset window
starts at the latest ``reset_time`` (local, in ``timezone``) at or before the transition; a transition exactly
at the reset instant belongs to the new window. ``mode="all"`` makes one window of everything (replay
``--window all``).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from .config import CentreConfig, parse_hhmm


class Windows:
    def __init__(self, centre: CentreConfig, mode: str = "since_reset"):
        if mode not in ("since_reset", "all"):
            raise ValueError(f"window mode {mode!r}: use 'since_reset' or 'all'")
        self.mode = mode
        self.tz = ZoneInfo(centre.timezone)
        self.reset = parse_hhmm(centre.reset_time)
        self.rolling_minutes = centre.rolling_minutes
        self._cache: dict[date, int] = {}

    def _reset_on(self, day: date) -> int:
        r = self._cache.get(day)
        if r is None:
            r = int(datetime.combine(day, self.reset, tzinfo=self.tz).timestamp())
            self._cache[day] = r
        return r

    def reset_at_or_before(self, epoch: float) -> int:
        """Epoch second of the latest daily reset at or before ``epoch``."""
        day = datetime.fromtimestamp(epoch, self.tz).date()
        r = self._reset_on(day)
        if r > epoch:
            r = self._reset_on(day - timedelta(days=1))
        return r

    def window_id(self, epoch: float) -> str:
        return "all" if self.mode == "all" else str(self.reset_at_or_before(epoch))

    def window_start(self, epoch: float) -> datetime | None:
        if self.mode == "all":
            return None
        return datetime.fromtimestamp(self.reset_at_or_before(epoch), timezone.utc)

    def bounds(self, first: float, last: float) -> list[int] | str:
        """Window starts covering [first, last], ascending (for splitting agent state time), or 'all'."""
        if self.mode == "all":
            return "all"
        out = [self.reset_at_or_before(first)]
        day = datetime.fromtimestamp(first, self.tz).date()
        end = datetime.fromtimestamp(last, self.tz).date() + timedelta(days=1)
        while day <= end:
            r = self._reset_on(day)
            if out[-1] < r <= last:
                out.append(r)
            day += timedelta(days=1)
        return out

    @staticmethod
    def minute(epoch: float) -> int:
        return int(epoch // 60) * 60

    def rolling_minutes_at(self, now: float) -> list[int]:
        """Buckets of the rolling window at ``now``: minutes starting at or after floor(now - N min), before now."""
        start = self.minute(now - self.rolling_minutes * 60)
        return [m for m in range(start, int(now) + 1, 60) if m < now]
