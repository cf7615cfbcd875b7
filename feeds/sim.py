"""The ``sim`` feed: the simulated centre (wallboard.sim) as a feed.

``read()`` runs a whole simulated stretch (``hours``, default 24, from ``start``) as fast as it can, for
replay and tests. ``follow(clock)`` runs it live: simulated time is ``start`` plus the clock's elapsed time
times ``speed``; between steps it sleeps ``step_s`` of real time. ``centre`` is the model, so supervisor
actions (move, pause) can be applied to it while it runs.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any, AsyncIterator, Iterator

from wallboard.clock import Clock, SystemClock
from wallboard.config import WallboardConfig
from wallboard.events import Event
from wallboard.sim import Scenario, SimCentre, scenario_by_name


def _aware(value: datetime | str | None) -> datetime | None:
    if value is None or isinstance(value, datetime):
        when = value
    else:
        when = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if when is not None and when.tzinfo is None:
        raise ValueError("sim feed: start needs a time zone, e.g. 2026-11-23T08:00:00+02:00")
    return when


class SimFeed:
    name = "sim"

    def __init__(
        self,
        path: str | None,
        config: WallboardConfig,
        scenario: str | Scenario = "normal",
        seed: int | str = 1,
        speed: float | str = 1.0,
        start: datetime | str | None = None,
        **options: Any,
    ):
        # ``path`` is unused: the simulated centre reads no file.
        self.config = config
        self.scenario = (
            scenario if isinstance(scenario, Scenario)
            else scenario_by_name(scenario, [q.name for q in config.queues])
        )
        self.seed = int(seed)
        self.speed = float(speed)
        self.start = _aware(start)
        self.hours = float(options.pop("hours", 24))
        self.step_s = float(options.pop("step_s", 0.2))
        if options:
            raise TypeError(f"sim feed: unknown option(s) {', '.join(sorted(options))}; known: hours, step_s")
        # Built now when the start is known, else when the feed starts (read: today's local midnight;
        # follow: the clock's now).
        self.centre: SimCentre | None = self._build(self.start) if self.start else None

    def _build(self, start: datetime) -> SimCentre:
        self.centre = SimCentre(self.config, self.scenario, self.seed, start)
        return self.centre

    def read(self) -> Iterator[Event]:
        if self.centre is None:
            local = SystemClock().now().astimezone(self.config.centre.tz)
            self._build(local.replace(hour=0, minute=0, second=0, microsecond=0))
        centre = self.centre
        assert centre is not None
        end = centre.start + timedelta(hours=self.hours)
        t = centre.start
        while t < end:  # an hour at a time, so memory stays small on long runs
            t = min(t + timedelta(hours=1), end)
            yield from centre.advance_to(t)

    async def follow(self, clock: Clock | None = None) -> AsyncIterator[Event]:
        clock = clock or SystemClock()
        began = clock.now()
        centre = self.centre or self._build(began)
        while True:
            now = clock.now()
            # sped up, the centre runs ahead of the clock, but never past the event model's bound (a day ahead):
            # there it waits for the clock, instead of making events every feed must refuse
            target = min(centre.start + (now - began) * self.speed, now + timedelta(days=1))
            for event in centre.advance_to(target):
                yield event
            await asyncio.sleep(self.step_s)
