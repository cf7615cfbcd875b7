"""Report days, 15-minute intervals, weeks and months on the centre's clock.

A report day ``D`` is ``[reset(D), reset(D + 1))`` where ``reset(D)`` is the centre's ``reset_time`` on ``D`` in
its ``timezone`` -- the span the since-reset wallboard counts, so the 17:00 screen and the daily report agree.
With the default reset at 00:00 it is the local calendar day. Intervals are 15 minutes from the day's start
(a day with a daylight-saving change has 92 or 100 of them). Weeks start on ``centre.week_start``; a month is
the report days of one calendar month.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from typing import Iterator, Literal
from zoneinfo import ZoneInfo

from ..config import CentreConfig, parse_hhmm
from ..events import utc

INTERVAL_S = 900
DAY_S = 86400
PeriodKind = Literal["day", "week", "month", "range"]
_WEEKDAY = {"monday": 0, "tuesday": 1, "wednesday": 2, "thursday": 3, "friday": 4, "saturday": 5, "sunday": 6}


@dataclass(frozen=True)
class Period:
    """Report days ``first`` .. ``last`` (inclusive)."""

    kind: PeriodKind
    first: date
    last: date

    def days(self) -> list[date]:
        return [self.first + timedelta(days=i) for i in range((self.last - self.first).days + 1)]

    @property
    def key(self) -> str:
        """Stable name of the period (used in Message-IDs and delivery records)."""
        if self.kind == "day":
            return self.first.isoformat()
        if self.kind == "month":
            return self.first.strftime("%Y-%m")
        if self.kind == "week":
            return f"week-{self.first.isoformat()}"
        return f"{self.first.isoformat()}..{self.last.isoformat()}"

    def label(self) -> str:
        if self.kind == "day":
            return self.first.strftime("%a %d %b %Y")
        if self.kind == "month":
            return self.first.strftime("%B %Y")
        span = f"{self.first.strftime('%a %d %b %Y')} – {self.last.strftime('%a %d %b %Y')}"
        return f"week {span}" if self.kind == "week" else span


class CentreCalendar:
    def __init__(self, centre: CentreConfig):
        self.tz = ZoneInfo(centre.timezone)
        self.reset = parse_hhmm(centre.reset_time)
        self.week_start = _WEEKDAY[centre.week_start]
        self._starts: dict[date, int] = {}

    # -- days and intervals -------------------------------------------------------------------------------

    def day_start(self, day: date) -> int:
        """Epoch of the day's reset (computed as ``wallboard.windows.Windows`` computes the daily reset)."""
        s = self._starts.get(day)
        if s is None:
            s = int(datetime.combine(day, self.reset, tzinfo=self.tz).timestamp())
            self._starts[day] = s
        return s

    def day_bounds(self, day: date) -> tuple[int, int]:
        return self.day_start(day), self.day_start(day + timedelta(days=1))

    def day_of(self, epoch: float) -> date:
        """The report day holding ``epoch``."""
        d = datetime.fromtimestamp(epoch, self.tz).date()
        if self.day_start(d) > epoch:
            d -= timedelta(days=1)
        elif self.day_start(d + timedelta(days=1)) <= epoch:
            d += timedelta(days=1)
        return d

    def intervals(self, day: date) -> list[tuple[int, int]]:
        """(start, end) epochs of the day's 15-minute intervals; index = position in the list."""
        start, end = self.day_bounds(day)
        return [(s, min(s + INTERVAL_S, end)) for s in range(start, end, INTERVAL_S)]

    def days_between(self, since: float, until: float) -> Iterator[date]:
        """Report days overlapping ``[since, until)``."""
        if until <= since:
            return
        d, last = self.day_of(since), self.day_of(until - 1)
        while d <= last:
            yield d
            d += timedelta(days=1)

    def local(self, epoch: float) -> datetime:
        return datetime.fromtimestamp(epoch, self.tz)

    def local_iso(self, epoch: float) -> str:
        return self.local(epoch).isoformat(timespec="minutes")

    def today(self, now: datetime) -> date:
        return self.day_of(now.timestamp())

    # -- periods ------------------------------------------------------------------------------------------

    def week_of(self, day: date) -> date:
        """First day of the week holding ``day`` (weeks start on the configured day)."""
        return day - timedelta(days=(day.weekday() - self.week_start) % 7)

    def period(self, kind: PeriodKind, ref: date, to: date | None = None) -> Period:
        """The ``kind`` period holding ``ref`` (``range``: ``ref`` .. ``to``)."""
        if kind == "day":
            return Period("day", ref, ref)
        if kind == "week":
            first = self.week_of(ref)
            return Period("week", first, first + timedelta(days=6))
        if kind == "month":
            first = ref.replace(day=1)
            nxt = (first + timedelta(days=32)).replace(day=1)
            return Period("month", first, nxt - timedelta(days=1))
        if kind == "range":
            if to is None:
                raise ValueError("a range needs --to as well as --from")
            return Period("range", ref, to)
        raise ValueError(f"unknown period {kind!r}: use day, week, month or range")

    def last_complete(self, kind: PeriodKind, today: date) -> Period:
        """The latest period of ``kind`` that ended before ``today``."""
        if kind == "day":
            return self.period("day", today - timedelta(days=1))
        if kind == "week":
            return self.period("week", self.week_of(today) - timedelta(days=1))
        if kind == "month":
            return self.period("month", today.replace(day=1) - timedelta(days=1))
        raise ValueError(f"no 'last complete' {kind}")

    def next_period(self, p: Period) -> Period:
        return self.period(p.kind, p.last + timedelta(days=1))

    def period_bounds(self, p: Period) -> tuple[int, int]:
        return self.day_start(p.first), self.day_start(p.last + timedelta(days=1))


def utc_iso(epoch: float) -> str:
    """An epoch as snapshots write a time (``events.utc``, the one writer of that form)."""
    return utc(datetime.fromtimestamp(epoch, timezone.utc))


def parse_day(text: str, what: str = "date") -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{what} {text!r} is not a date; write YYYY-MM-DD, e.g. 2026-11-22") from None


def parse_when(text: str, cal: CentreCalendar, what: str = "time") -> datetime:
    """``YYYY-MM-DD`` (that report day's start), a local ``YYYY-MM-DDTHH:MM`` (the centre's zone), or an ISO
    time with an offset."""
    if len(text) == 10:
        return datetime.fromtimestamp(cal.day_start(parse_day(text, what)), timezone.utc)
    try:
        t = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{what} {text!r} is not a date or time; write YYYY-MM-DD or YYYY-MM-DDTHH:MM") from None
    return t if t.tzinfo else t.replace(tzinfo=cal.tz)


def resolve_period(cal: CentreCalendar, kind: str, frm: str | None, to: str | None, today: date) -> Period:
    """The period a command line asks for; without ``--from``, the latest complete one."""
    if kind == "range":
        if not frm or not to:
            raise ValueError("--period range needs --from and --to (YYYY-MM-DD, both days included)")
        return cal.period("range", parse_day(frm, "--from"), parse_day(to, "--to"))
    if to:
        raise ValueError(f"--to is for --period range; a {kind} is given by --from alone")
    if frm is None:
        return cal.last_complete(kind, today)  # type: ignore[arg-type]
    return cal.period(kind, parse_day(frm, "--from"))  # type: ignore[arg-type]
