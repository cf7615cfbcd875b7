"""The ``freeswitch`` feed: mod_callcenter over FreeSWITCH's event socket -> Events (``wallboard ingest --feed
freeswitch --host H --port 8021``). Mapping: wallboard.esl.mapper; connection, auth, keep-alive and
reconnects: wallboard.esl.client; the protocol facts: docs/PROTOCOLS_FREESWITCH.md.

- **The password** comes from the environment variable named by ``esl.password_env``
  (``WALLBOARD_ESL_PASSWORD``) or ``esl.password_file`` (read again at each login: a rotated secret is picked
  up), never from options or the command line (a ``password``/``secret`` option is refused).
- **After every (re)connect** the switch's tables rebuild the present (``callcenter_config queue list``, then
  per queue ``queue list members`` and ``queue list tiers``, and ``agent list``): memberships, every agent's
  state and wrap-up, a ``CallerJoined`` per waiting caller at its own ``joined_epoch``, a ``CallerAnswered``
  for a caller bridged while we were away, and a ``WaitingResync`` per queue (callers who left unseen stop
  waiting; nothing is counted for them). The engine applies transitions once by meaning, so what the resync
  repeats is not counted twice.
- **After a reconnect** a ``FeedGap`` (start = the last thing heard on the lost link, length up to the resync):
  the event socket never re-sends what happened in between; screens and reports show the hole.
- **Tiers** (queue memberships) raise no event: the tier table is read every ``esl.tier_poll_s`` and changes
  come out as MemberAdded / MemberRemoved.
- Timed wrap-up ends come out on time when the switch is quiet: the loop waits for the next event or the next
  due time, whichever is first.
"""

from __future__ import annotations

import asyncio
import logging
import os
from contextlib import aclosing
from datetime import datetime, timedelta
from typing import Any, AsyncIterator, ClassVar

from pydantic import Field

from wallboard.clock import Clock, SystemClock
from wallboard.config import EslConfig, WallboardConfig
from wallboard.esl.client import BadFrame, ConnectionLost, EslClient, EslError, EslSession
from wallboard.esl.mapper import EslMapper
from wallboard.esl.protocol import parse_table
from wallboard.events import Event, FeedGap
from wallboard.feed import DeadLetter, FeedOptions, LiveFeed, Resyncable, build_options

log = logging.getLogger("wallboard.feeds.freeswitch")


class FreeswitchOptions(FeedOptions):
    """``[feeds.freeswitch]`` / ``--feed-opt``. The password comes from ``[esl]`` (environment or file), never here."""

    secret_names: ClassVar[frozenset[str]] = frozenset({"password", "secret", "passwd", "auth", "token"})

    host: str | None = Field(
        None, min_length=1, description="The switch's event-socket host (unset: [esl] host). Shortcut: --host."
    )
    port: int | None = Field(None, ge=1, le=65535, description="Its port (unset: [esl] port, 8021). Shortcut: --port.")
    keepalive_s: float | None = Field(
        None, gt=0, le=3600, description="Send `api status` this often (unset: [esl] keepalive_s)."
    )
    keepalive_timeout_s: float | None = Field(
        None,
        gt=0,
        le=3600,
        description="Drop the link when nothing comes back this long after it (unset: [esl], else keepalive_s).",
    )
    timeout_s: float = Field(5.0, gt=0, le=600, description="A command's answer within this long.")
    backoff_initial_s: float = Field(0.5, gt=0, le=600, description="First wait before a reconnect.")
    backoff_max_s: float = Field(30.0, gt=0, le=3600, description="Longest wait between reconnects.")
    stable_s: float = Field(30.0, ge=0, le=86400, description="A session this long resets the reconnect backoff.")
    tier_poll_s: float | None = Field(
        None, gt=0, le=3600, description="Read the tier table this often (unset: [esl] tier_poll_s)."
    )

    @classmethod
    def secret_hint(cls, config: WallboardConfig) -> str:
        return f"set ${config.esl.password_env} or esl.password_file"


def esl_password(esl: EslConfig) -> str:
    """The event-socket password from ``esl.password_env``, else ``esl.password_file``. Never from the command
    line. Raises ValueError saying what to set."""
    secret = os.environ.get(esl.password_env, "")
    if not secret and esl.password_file:
        try:
            secret = esl.password_file.read_text(encoding="utf-8").strip()
        except OSError as e:
            raise ValueError(f"ESL password file {esl.password_file}: {e.strerror or e}") from None
    if not secret:
        raise ValueError(
            f"esl: set the event-socket password in ${esl.password_env} or esl.password_file "
            "(never on the command line)"
        )
    return secret


class FreeswitchFeed:
    name = "freeswitch"
    Options = FreeswitchOptions
    provides = (LiveFeed, Resyncable)

    def __init__(
        self, path: Any, config: WallboardConfig, host: str | None = None, port: int | str | None = None, **options: Any
    ):
        opts = build_options(FreeswitchOptions, self.name, config, {"host": host, "port": port, **options})
        self.options = opts
        if path is not None:
            raise ValueError(
                "the freeswitch feed is live and reads no file: give --host and --port (or [esl] "
                "host/port in the config)"
            )
        self.config = config
        esl = config.esl
        self.host = opts.host or esl.host
        self.port = opts.port or esl.port
        self.keepalive_s = opts.keepalive_s or esl.keepalive_s
        self.keepalive_timeout_s = opts.keepalive_timeout_s or esl.keepalive_timeout_s or self.keepalive_s
        self.timeout_s = opts.timeout_s
        self.backoff_initial_s = opts.backoff_initial_s
        self.backoff_max_s = opts.backoff_max_s
        self.stable_s = opts.stable_s
        self.tier_poll_s = opts.tier_poll_s or esl.tier_poll_s
        esl_password(esl)  # fail now, clearly, when nothing is set
        self.gaps: list[FeedGap] = []
        self._resync_wanted = False
        self._queues: list[str] = []  # the switch's queue names (name@domain), from the last resync

    def request_resync(self) -> None:
        """Read the switch's tables again on the live session, within a second (ingest asks when Redis comes
        back: it may have lost its last writes)."""
        self._resync_wanted = True

    def client(self) -> EslClient:
        return EslClient(
            self.host,
            self.port,
            lambda: esl_password(self.config.esl),
            keepalive_s=self.keepalive_s,
            keepalive_timeout_s=self.keepalive_timeout_s,
            timeout_s=self.timeout_s,
            backoff_initial_s=self.backoff_initial_s,
            backoff_max_s=self.backoff_max_s,
            stable_s=self.stable_s,
        )

    async def _table(self, session: EslSession, command: str) -> list[dict[str, str]]:
        rows, err = parse_table(await session.api(command, self.timeout_s))
        if err:
            raise EslError(f"`{command}` refused: {err}")
        return rows

    async def _resync(self, session: EslSession, mapper: EslMapper, now: datetime, where: str) -> list:
        queues = [r["name"] for r in await self._table(session, "callcenter_config queue list") if r.get("name")]
        members = {q: await self._table(session, f"callcenter_config queue list members {q}") for q in queues}
        tiers: list[dict[str, str]] = []
        for q in queues:
            tiers += await self._table(session, f"callcenter_config queue list tiers {q}")
        agents = await self._table(session, "callcenter_config agent list")
        self._queues = queues
        return mapper.resync(queues, members, tiers, agents, now, where)

    async def _poll_tiers(self, session: EslSession, mapper: EslMapper, now: datetime, where: str) -> list:
        rows = await self._table(session, "callcenter_config tier list")
        return mapper.tiers(rows, now, where, covered={mapper.queue_of(q) for q in self._queues})

    async def follow(self, clock: Clock | None = None) -> AsyncIterator[Event | DeadLetter]:
        clock = clock or SystemClock()
        origin = f"{self.host}:{self.port}"
        mapper = EslMapper(self.config, feed=self.name, origin=origin)
        gap_start: datetime | None = None
        count = asked = polls = 0
        loop = asyncio.get_running_loop()
        async with aclosing(self.client().sessions()) as sessions:
            async for session in sessions:
                count += 1
                tag = f"s{int(clock.now().timestamp())}.{count}"
                try:
                    for item in mapper.due(clock.now()):  # wrap-ups that ended while we were away
                        yield item
                    now = clock.now()
                    for item in await self._resync(session, mapper, now, f"{tag}.resync"):
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
                    next_poll = loop.time() + self.tier_poll_s
                    while True:
                        if self._resync_wanted:
                            self._resync_wanted = False
                            asked += 1
                            for item in await self._resync(session, mapper, clock.now(), f"{tag}.resync{asked}"):
                                yield item
                        if loop.time() >= next_poll:
                            polls += 1
                            next_poll = loop.time() + self.tier_poll_s
                            for item in await self._poll_tiers(session, mapper, clock.now(), f"{tag}.tiers{polls}"):
                                yield item
                        due = mapper.next_due()
                        # at most a second between looks at the resync flag and the tier poll
                        timeout = min(1.0, max(0.0, due - clock.now().timestamp())) if due is not None else 1.0
                        timeout = min(timeout, max(0.0, next_poll - loop.time()))
                        item = await session.next_item(timeout)
                        now = clock.now()
                        if item is None:
                            out = mapper.due(now)
                        elif isinstance(item, BadFrame):
                            out = [DeadLetter(f"{self.name}:{origin}:{tag}.{item.where}", item.reason, item.raw)]
                        else:
                            out = mapper.map(item, now, f"{tag}.{item.number}")
                        for x in out:
                            yield x
                except (ConnectionLost, EslError, asyncio.TimeoutError, OSError) as e:
                    log.warning("ESL %s: session ended (%s)", origin, e or e.__class__.__name__)
                if gap_start is None:  # a failed resync keeps the earlier start
                    gap_start = clock.now() - timedelta(seconds=session.idle_s())
