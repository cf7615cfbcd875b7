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

from pydantic import Field, field_validator

from wallboard.clock import Clock, SystemClock
from wallboard.config import WallboardConfig
from wallboard.events import Event
from wallboard.feed import FeedOptions, FileFeed, LiveFeed, build_options
from wallboard.sim import SCENARIOS, Scenario, SimCentre, scenario_by_name


class SimOptions(FeedOptions):
    """``[feeds.sim]`` / ``--feed-opt`` (shortcuts: --scenario, --seed, --speed)."""

    scenario: str = Field("normal", description=f"The simulated day: {', '.join(SCENARIOS)}.")
    seed: int = Field(1, ge=0, description="Random seed: the same seed gives the same day.")
    speed: float = Field(1.0, gt=0, le=10_000_000, description="Live: simulated seconds per real second.")
    start: datetime | None = Field(
        None,
        description="When the simulated day starts, with a time zone (unset: "
        "read: today's local midnight; follow: now).",
    )
    hours: float = Field(24, gt=0, le=24 * 366, description="read(): how long a stretch to simulate.")
    step_s: float = Field(0.2, ge=0, le=60, description="Live: real seconds between simulation steps.")

    @field_validator("scenario")
    @classmethod
    def _known(cls, v: str) -> str:
        if v not in SCENARIOS:
            raise ValueError(f"no scenario {v!r}; choose one of {', '.join(SCENARIOS)}")
        return v

    @field_validator("start")
    @classmethod
    def _aware(cls, v: datetime | None) -> datetime | None:
        if v is not None and v.tzinfo is None:
            raise ValueError("start needs a time zone, e.g. 2026-11-23T08:00:00+02:00")
        return v


class SimFeed:
    name = "sim"
    Options = SimOptions
    provides = (FileFeed, LiveFeed)

    def __init__(
        self,
        path: str | None,
        config: WallboardConfig,
        scenario: str | Scenario | None = None,
        seed: int | str | None = None,
        speed: float | str | None = None,
        start: datetime | str | None = None,
        **options: Any,
    ):
        # ``path`` is unused: the simulated centre reads no file. A Scenario object (tests) is taken as it is.
        given = {
            "scenario": None if isinstance(scenario, Scenario) else scenario,
            "seed": seed,
            "speed": speed,
            "start": start,
            **options,
        }
        opts = self.options = build_options(SimOptions, self.name, config, given)
        self.config = config
        self.scenario = (
            scenario
            if isinstance(scenario, Scenario)
            else scenario_by_name(opts.scenario, [q.name for q in config.queues])
        )
        self.seed = opts.seed
        self.speed = opts.speed
        self.start = opts.start
        self.hours = opts.hours
        self.step_s = opts.step_s
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
