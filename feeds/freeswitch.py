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
from datetime import datetime
from typing import Any, AsyncGenerator, ClassVar

from pydantic import Field

from wallboard.clock import Clock
from wallboard.config import EslConfig, WallboardConfig
from wallboard.esl.client import BadFrame, ConnectionLost, EslClient, EslError, EslSession
from wallboard.esl.mapper import EslMapper
from wallboard.esl.protocol import parse_table
from feeds.pbx_live import PbxLiveFeed
from wallboard.feed import FeedOptions, LiveFeed, Resyncable, build_options

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


class FreeswitchFeed(PbxLiveFeed):
    name = "freeswitch"
    protocol = "ESL"
    session_errors = (ConnectionLost, EslError, asyncio.TimeoutError, OSError)
    bad_item = BadFrame
    log = log
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
        super().__init__()
        self._next_poll = 0.0  # loop time of the next tier poll
        self._polls = 0
        self._queues: list[str] = []  # the switch's queue names (name@domain), from the last resync

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

    async def _resync(self, session: EslSession, mapper: EslMapper, clock: Clock, where: str) -> list:
        return await self._resync_at(session, mapper, clock.now(), where)

    async def _resync_at(self, session: EslSession, mapper: EslMapper, now: datetime, where: str) -> list:
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

    def _mapper(self, origin: str, clock: Clock) -> EslMapper:
        return EslMapper(self.config, feed=self.name, origin=origin)

    def _sessions(self, mapper: EslMapper) -> AsyncGenerator[EslSession, None]:
        return self.client().sessions()

    async def _on_connect(
        self, session: EslSession, mapper: EslMapper, clock: Clock, tag: str, gap_start: datetime | None
    ) -> tuple[list, datetime]:
        now = clock.now()
        return await self._resync_at(session, mapper, now, f"{tag}.resync"), now

    def _session_started(self) -> None:
        self._next_poll = asyncio.get_running_loop().time() + self.tier_poll_s

    def _until_tick(self) -> float:
        return max(0.0, self._next_poll - asyncio.get_running_loop().time())

    async def _tick(self, session: EslSession, mapper: EslMapper, clock: Clock, tag: str) -> list:
        """The tier table polled (mod_callcenter sends no event when a tier is added or removed)."""
        if asyncio.get_running_loop().time() < self._next_poll:
            return []
        self._polls += 1
        self._session_started()
        return await self._poll_tiers(session, mapper, clock.now(), f"{tag}.tiers{self._polls}")

    def _where(self, item: Any) -> str:
        return str(item.number)
