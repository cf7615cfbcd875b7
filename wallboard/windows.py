"""Windows on the centre's clock: the daily reset (in the centre's time zone) and minute buckets.

A window is half-open, ``[start, now)``, on the time of the transition being counted. The since-reset window
starts at the latest ``reset_time`` (local, in ``timezone``) at or before the transition; a transition exactly
at the reset instant belongs to the new window. ``mode="all"`` makes one window of everything (replay
``--window all``).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from operator import sub
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

    def next_reset_after(self, epoch: float) -> int:
        """Epoch second of the first daily reset after ``epoch``."""
        day = datetime.fromtimestamp(epoch, self.tz).date()
        while True:
            day += timedelta(days=1)
            r = self._reset_on(day)
            if r > epoch:
                return r

    def window_id(self, epoch: float) -> str:
        return "all" if self.mode == "all" else str(self.reset_at_or_before(epoch))

    def window_start(self, epoch: float) -> datetime | None:
        if self.mode == "all":
            return None
        return datetime.fromtimestamp(self.reset_at_or_before(epoch), timezone.utc)

    def bounds(self, times: list[float], reach: float) -> list[int] | str:
        """Window starts covering ``[t - reach, t]`` for every ``t`` in ``times``, ascending (for splitting
        agent state time, which reaches back at most ``reach``), or 'all'. The days between two far-apart
        times are skipped: the work grows with the days covered, never with the gap between times (an event
        of 1990 beside one of today is two short walks, not 13,000 days)."""
        if self.mode == "all":
            return "all"
        out: set[int] = set()
        if not times:
            return []
        lo, hi = min(times), max(times)
        if hi - lo <= reach:  # one run (a batch's times mostly span less than ``reach``): no sorting
            ts, ends = [lo, hi], [1]
        else:
            ts = sorted(times)
            # runs of times each within ``reach`` of the one before: the last of each (found in C but for the
            # comprehension's test)
            ends = [j for j, gap in enumerate(map(sub, ts[1:], ts)) if not gap <= reach]
            ends.append(len(ts) - 1)
        i = 0
        for j in ends:
            first, last = ts[i] - reach - 60, ts[j]  # a minute more: the script floors ``first`` to its minute
            out.add(self.reset_at_or_before(first))
            day = datetime.fromtimestamp(first, self.tz).date()
            end = datetime.fromtimestamp(last, self.tz).date() + timedelta(days=1)
            while day <= end:
                r = self._reset_on(day)
                if first < r <= last:
                    out.add(r)
                day += timedelta(days=1)
            i = j + 1
        return sorted(out)

    @staticmethod
    def minute(epoch: float) -> int:
        return int(epoch // 60) * 60

    def rolling_minutes_at(self, now: float) -> list[int]:
        """Buckets of the rolling window at ``now``: minutes starting at or after floor(now - N min), before now."""
        start = self.minute(now - self.rolling_minutes * 60)
        return [m for m in range(start, int(now) + 1, 60) if m < now]
