"""Local ticking without clock drift, and the few time formats the screens use.

A snapshot carries the server time it was computed at (``at``). Screens tick timers (time in state, waits)
from that server time plus the *local monotonic* time elapsed since the snapshot arrived, so a desk whose
wall clock is off still shows the right waits. The clock is injected: ``SystemClock`` has ``monotonic()``;
a ``ManualClock`` (tests, replay) has not, and then "monotonic" is its ``now()`` as a timestamp, so a test
moves every ticking figure, the stale mark and the flash phase by advancing one clock.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from .clock import Clock


def monotonic_of(clock: Clock) -> float:
    """The clock's monotonic seconds (``clock.monotonic()``), or its ``now()`` as a timestamp."""
    mono = getattr(clock, "monotonic", None)
    if callable(mono):
        return float(mono())
    return clock.now().timestamp()


def parse_utc(text: str | None) -> datetime | None:
    """A time in wire text (a TV projection's, ISO 8601 with a Z); None stays None. Models parse their own."""
    if not text:
        return None
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(timezone.utc)


class ServerTime:
    """Server time now = the newest snapshot's ``at`` + local monotonic seconds since it arrived."""

    def __init__(self, clock: Clock):
        self.clock = clock
        self._anchor_at: datetime | None = None
        self._anchor_mono = 0.0

    def anchor(self, at: datetime, received_mono: float) -> None:
        self._anchor_at = at
        self._anchor_mono = received_mono

    @property
    def anchored(self) -> bool:
        return self._anchor_at is not None

    def now(self) -> datetime:
        if self._anchor_at is None:
            return self.clock.now()
        elapsed = max(0.0, monotonic_of(self.clock) - self._anchor_mono)
        return self._anchor_at + timedelta(seconds=elapsed)

    def seconds_since(self, when: datetime | None) -> float | None:
        """Seconds from ``when`` to server-now; None when ``when`` is None."""
        if when is None:
            return None
        return max(0.0, (self.now() - when).total_seconds())


def fmt_duration(seconds: float | None) -> str:
    """``m:ss`` under an hour, ``h:mm:ss`` above; ``-`` for None."""
    if seconds is None:
        return "-"
    s = int(max(0.0, seconds))
    h, rest = divmod(s, 3600)
    m, sec = divmod(rest, 60)
    return f"{h}:{m:02d}:{sec:02d}" if h else f"{m}:{sec:02d}"


def fmt_pct(ratio: float | None) -> str:
    """A ratio as a percentage with one decimal (``100%`` exactly at 1); ``-`` for None."""
    if ratio is None:
        return "-"
    if ratio >= 0.9995:
        return "100%"
    return f"{ratio * 100:.1f}%"


def fmt_number(v: float | int | None) -> str:
    if v is None:
        return "-"
    if isinstance(v, float) and not v.is_integer():
        return f"{v:.1f}"
    return str(int(v))


def fmt_clock(when: datetime | None, tz: ZoneInfo) -> str:
    """``HH:MM:SS`` in the centre's time zone."""
    if when is None:
        return "--:--:--"
    return when.astimezone(tz).strftime("%H:%M:%S")


def fmt_local(when: datetime | None, tz: ZoneInfo) -> str:
    """``YYYY-MM-DD HH:MM`` in the centre's time zone."""
    if when is None:
        return "-"
    return when.astimezone(tz).strftime("%Y-%m-%d %H:%M")
