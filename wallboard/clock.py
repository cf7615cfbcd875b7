"""Clocks: the engine, the simulator and the UIs take one, so replay and tests control "now". And ``UtcTime``,
the type of a time that models publish."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone
from typing import Annotated, Protocol

from pydantic import AfterValidator, AwareDatetime, TypeAdapter
from pydantic_core import TzInfo

_ZERO = timedelta(0)


def utc_seconds(when: datetime) -> datetime:
    """``when`` in UTC, to the whole second (the part after it dropped, as ISO text to the second drops it)."""
    tz = when.tzinfo
    if not when.microsecond and (tz is timezone.utc or (type(tz) is TzInfo and tz.utcoffset(None) == _ZERO)):
        return when  # already so (pydantic's fixed offset 0 from "...Z" text too): the common case, kept cheap
    return when.astimezone(timezone.utc).replace(microsecond=0)


def utc_at(ts: float) -> datetime:
    """Epoch seconds as a ``UtcTime`` value."""
    return datetime.fromtimestamp(ts, timezone.utc).replace(microsecond=0)


# A published time (snapshots, advice): an aware datetime, held in UTC to the second, so pydantic writes it as
# ISO 8601 with a Z ("2026-11-23T09:00:00Z") and reads that text (or any offset) back to the same value.
UtcTime = Annotated[AwareDatetime, AfterValidator(utc_seconds)]
UTC_TIME: TypeAdapter[datetime] = TypeAdapter(UtcTime)  # one such time outside a model (a part's head)


class Clock(Protocol):
    def now(self) -> datetime: ...


class SystemClock:
    """The wall clock, in UTC."""

    def now(self) -> datetime:
        return datetime.now(timezone.utc)

    def monotonic(self) -> float:
        return time.monotonic()


class ManualClock:
    """A clock that moves only when told (tests, replay)."""

    def __init__(self, start: datetime):
        if start.tzinfo is None:
            raise ValueError("ManualClock needs an aware datetime")
        self._now = start

    def now(self) -> datetime:
        return self._now

    def set(self, when: datetime) -> None:
        if when.tzinfo is None:
            raise ValueError("ManualClock needs an aware datetime")
        self._now = when

    def advance(self, seconds: float) -> datetime:
        self._now += timedelta(seconds=seconds)
        return self._now
