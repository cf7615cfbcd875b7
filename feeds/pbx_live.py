"""The live loop of a PBX feed, whatever its protocol (the ``ami`` and ``freeswitch`` feeds).

Each session (the client reconnects with backoff) goes the same way: the timed settlements that fell due while
we were away; the protocol's picture of the present (``_on_connect``: QueueStatus, the switch's tables); a
``FeedGap`` for the time nothing was heard; then events as they come, with the settlements on time when the PBX
is quiet, a resync whenever ingest asks for one, and the protocol's periodic work (``_tick``). The protocols
supply the mapper, the sessions and those hooks.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import aclosing
from datetime import datetime, timedelta
from typing import Any, AsyncGenerator, AsyncIterator

from wallboard.clock import Clock, SystemClock
from wallboard.events import Event, FeedGap
from wallboard.feed import DeadLetter


class PbxLiveFeed:
    name: str
    host: str
    port: int
    protocol = "PBX"  # for log lines
    session_errors: tuple[type[BaseException], ...] = (asyncio.TimeoutError, OSError)
    bad_item: type[Any]  # the client's item for a block it could not parse (a dead letter)
    log: logging.Logger

    def __init__(self) -> None:
        self.gaps: list[FeedGap] = []
        self._resync_wanted = False

    def request_resync(self) -> None:
        """Ask the PBX again for the present on the live session, within a second (ingest asks when Redis comes
        back: it may have lost its last writes)."""
        self._resync_wanted = True

    # -- what a protocol supplies ---------------------------------------------------------------------------

    def _mapper(self, origin: str, clock: Clock) -> Any:
        """The mapper for a follow that begins now."""
        raise NotImplementedError

    def _sessions(self, mapper: Any) -> AsyncGenerator[Any, None]:
        raise NotImplementedError

    async def _on_connect(
        self, session: Any, mapper: Any, clock: Clock, tag: str, gap_start: datetime | None
    ) -> tuple[list, datetime]:
        """The present after a (re)login, and the time it was taken (the end of any gap)."""
        raise NotImplementedError

    async def _resync(self, session: Any, mapper: Any, clock: Clock, where: str) -> list:
        raise NotImplementedError

    def _where(self, item: Any) -> str:
        """An item's position in its session, for ids."""
        raise NotImplementedError

    async def _tick(self, session: Any, mapper: Any, clock: Clock, tag: str) -> list:
        """Periodic work on the live session (none by default)."""
        return []

    def _until_tick(self) -> float:
        """Seconds until ``_tick`` has work (the loop wakes at least every second anyway)."""
        return 1.0

    def _session_started(self) -> None:
        """Reset what ``_tick`` counts from, at each new session."""

    # -- the loop -------------------------------------------------------------------------------------------

    async def follow(self, clock: Clock | None = None) -> AsyncIterator[Event | DeadLetter]:
        clock = clock or SystemClock()
        origin = f"{self.host}:{self.port}"
        mapper = self._mapper(origin, clock)
        gap_start: datetime | None = None
        count = asked = 0  # sessions; resyncs asked for by request_resync
        async with aclosing(self._sessions(mapper)) as sessions:
            async for session in sessions:
                count += 1
                tag = f"s{int(clock.now().timestamp())}.{count}"
                try:
                    for item in mapper.due(clock.now()):  # settlements that fell due while we were away
                        yield item
                    present, now = await self._on_connect(session, mapper, clock, tag, gap_start)
                    for item in present:
                        yield item
                    if gap_start is not None:
                        gap = FeedGap(
                            id=f"{self.name}:gap:{tag}:{gap_start.timestamp():.6f}",
                            ts=now,
                            source=f"{self.name}:{origin}",
                            start=gap_start,
                            length_s=max(0.0, (now - gap_start).total_seconds()),
                            feed=self.name,
                        )
                        self.gaps.append(gap)
                        yield gap
                        gap_start = None
                    self._session_started()
                    while True:
                        if self._resync_wanted:
                            self._resync_wanted = False
                            asked += 1
                            for item in await self._resync(session, mapper, clock, f"{tag}.resync{asked}"):
                                yield item
                        for item in await self._tick(session, mapper, clock, tag):
                            yield item
                        due = mapper.next_due()
                        # at most a second between looks at the resync flag (a quiet PBX sends nothing)
                        timeout = min(1.0, max(0.0, due - clock.now().timestamp())) if due is not None else 1.0
                        item = await session.next_item(min(timeout, self._until_tick()))
                        now = clock.now()
                        if item is None:
                            out = mapper.due(now)
                        elif isinstance(item, self.bad_item):
                            out = [DeadLetter(f"{self.name}:{origin}:{tag}.{item.where}", item.reason, item.raw)]
                        else:
                            out = mapper.map(item, now, f"{tag}.{self._where(item)}")
                        for x in out:
                            yield x
                except self.session_errors as e:
                    self.log.warning("%s %s: session ended (%s)", self.protocol, origin, e or e.__class__.__name__)
                if gap_start is None:  # a failed resync keeps the earlier start
                    gap_start = clock.now() - timedelta(seconds=session.idle_s())
