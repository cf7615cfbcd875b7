"""The ``ami`` feed: a live Asterisk Manager Interface session -> Events (``wallboard ingest --feed ami --host H
--port 5038``). Mapping: wallboard.ami.mapper; connection, login, keep-alive and reconnects:
wallboard.ami.client.

- **Credentials** come from the environment variables named in ``[ami]`` (``username_env``, ``secret_env``)
  or ``ami.secret_file``, never from options or the command line (a ``secret``/``username`` option is
  refused). The file is read again at each login, so a rotated secret is picked up.
- **After every (re)login** ``QueueStatus`` rebuilds the present: member states and memberships, a
  ``CallerJoined`` per waiting caller (join = now - Wait; the engine takes a join within 1 s of a known entry
  as that entry, so nothing is counted twice) and a ``WaitingResync`` per queue (callers we still held as
  waiting who are no longer there left unseen: they stop waiting, nothing is counted).
- **After a reconnect** a ``FeedGap`` (start = the last thing heard on the lost connection, length up to the
  resync) so screens and reports show the hole. AMI never re-sends; with ``queue_log=PATH`` the rows of that
  file inside the gap are replayed first (the queue-log mapping, same call ids and agent names), and the
  engine applies them once by meaning. With ``backfill_s`` the first login does the same for the time before
  the ingester started (the day so far), without a gap record.
- **Times**: the ``Timestamp`` header when the PBX sends it (``timestampevents = yes``), else the time received.
- Timed settlements (a pending queue exit, the end of an inferred wrap-up) come out on time even when the PBX
  is quiet: the loop waits for the next event or the next due time, whichever is first.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, AsyncGenerator, ClassVar, Literal

from pydantic import Field

from wallboard.ami.client import AmiClient, AmiError, AmiSession, BadBlock, ConnectionLost, credentials
from wallboard.ami.mapper import AmiMapper
from wallboard.clock import Clock
from wallboard.config import WallboardConfig
from wallboard.events import Event
from feeds.pbx_live import PbxLiveFeed
from wallboard.feed import DeadLetter, FeedOptions, GapFilling, LiveFeed, Resyncable, build_options

log = logging.getLogger("wallboard.feeds.ami")


class AmiOptions(FeedOptions):
    """``[feeds.ami]`` / ``--feed-opt``. The login comes from ``[ami]`` (environment or secret file), never here."""

    secret_names: ClassVar[frozenset[str]] = frozenset(
        {"secret", "password", "passwd", "username", "user", "key", "token"}
    )

    host: str | None = Field(
        None, min_length=1, description="The PBX's AMI host (unset: [ami] host). Shortcut: --host."
    )
    port: int | None = Field(
        None, ge=1, le=65535, description="The PBX's AMI port (unset: [ami] port, 5038). Shortcut: --port."
    )
    keepalive_s: float | None = Field(
        None, gt=0, le=3600, description="Send a Ping this often (unset: [ami] keepalive_s)."
    )
    keepalive_timeout_s: float | None = Field(
        None,
        gt=0,
        le=3600,
        description="Drop the link when nothing comes back this long after a Ping (unset: [ami], else keepalive_s).",
    )
    settle_s: float = Field(
        3.0,
        ge=0,
        le=600,
        description="How long a queue exit waits for what explains it (the events of one hang-up arrive in any order).",
    )
    connect_wait_s: float = Field(
        30.0,
        ge=0,
        le=3600,
        description="How long after an answer the agent's Connect may still come before the answer stands alone.",
    )
    auth: Literal["md5", "plain"] = Field("md5", description="Login method: md5 (challenge) or plain.")
    queue_log: Path | None = Field(
        None,
        description="Gap fill: after a reconnect, the rows of this queue_log "
        "file inside the gap are replayed before the resync (unset: the gap stays a "
        "hole).",
    )
    backfill_s: float = Field(
        0.0,
        ge=0,
        le=7 * 86400,
        description="At the first login, the rows of queue_log from this many seconds before are replayed "
        "before the resync: an ingester started mid-day gets the day so far (counters, buckets, the advisor's "
        "history); applied once by meaning, so a restart counts nothing twice (0: none).",
    )
    timeout_s: float = Field(5.0, gt=0, le=600, description="An action's answer (login, QueueStatus) within this long.")
    backoff_initial_s: float = Field(0.5, gt=0, le=600, description="First wait before a reconnect.")
    backoff_max_s: float = Field(30.0, gt=0, le=3600, description="Longest wait between reconnects.")
    stable_s: float = Field(30.0, ge=0, le=86400, description="A session this long resets the reconnect backoff.")
    pbx_filter: bool = Field(True, description="Ask the PBX to send only the events the mapping uses (AMI Filter).")

    @classmethod
    def secret_hint(cls, config: WallboardConfig) -> str:
        return f"set ${config.ami.secret_env} / ${config.ami.username_env} or ami.secret_file"


class AmiFeed(PbxLiveFeed):
    name = "ami"
    protocol = "AMI"
    session_errors = (ConnectionLost, AmiError, asyncio.TimeoutError, OSError)
    bad_item = BadBlock
    log = log
    Options = AmiOptions
    provides = (LiveFeed, Resyncable, GapFilling)

    def __init__(
        self, path: Any, config: WallboardConfig, host: str | None = None, port: int | str | None = None, **options: Any
    ):
        opts = build_options(AmiOptions, self.name, config, {"host": host, "port": port, **options})
        self.options = opts
        if path is not None:
            raise ValueError(
                "the ami feed is live and reads no file: give --host and --port (or [ami] host/port in "
                "the config); for a recorded capture use --feed ami-capture PATH"
            )
        self.config = config
        self.host = opts.host or config.ami.host
        self.port = opts.port or config.ami.port
        self.keepalive_s = opts.keepalive_s or config.ami.keepalive_s
        # unset (here and in [ami]): the Ping interval, so a fast keepalive_s alone makes a fast detection
        self.keepalive_timeout_s = opts.keepalive_timeout_s or config.ami.keepalive_timeout_s or self.keepalive_s
        self.settle_s = opts.settle_s
        self.connect_wait_s = opts.connect_wait_s
        self.auth = opts.auth
        self.queue_log = str(opts.queue_log) if opts.queue_log else None
        if opts.backfill_s and not self.queue_log:
            raise ValueError("ami feed option backfill_s needs queue_log (the file the history is read from)")
        self.backfill_s = opts.backfill_s
        self.timeout_s = opts.timeout_s
        self.backoff_initial_s = opts.backoff_initial_s
        self.backoff_max_s = opts.backoff_max_s
        self.stable_s = opts.stable_s
        self.pbx_filter = opts.pbx_filter
        credentials(config.ami)  # fail now, clearly, when nothing is set
        super().__init__()
        self._backfill: datetime | None = None  # from where the first login fills the history (backfill_s)

    def client(self, mapper: AmiMapper) -> AmiClient:
        from wallboard.ami.client import PBX_FILTERS

        return AmiClient(
            self.host,
            self.port,
            lambda: credentials(self.config.ami),
            auth=self.auth,
            filters=PBX_FILTERS if self.pbx_filter else (),
            keepalive_s=self.keepalive_s,
            keepalive_timeout_s=self.keepalive_timeout_s,
            timeout_s=self.timeout_s,
            backoff_initial_s=self.backoff_initial_s,
            backoff_max_s=self.backoff_max_s,
            stable_s=self.stable_s,
            wanted=mapper.wants,
        )

    def _mapper(self, origin: str, clock: Clock) -> AmiMapper:
        self._backfill = clock.now() - timedelta(seconds=self.backfill_s) if self.backfill_s else None
        return AmiMapper(
            self.config, feed=self.name, origin=origin, settle_s=self.settle_s, connect_wait_s=self.connect_wait_s
        )

    def _sessions(self, mapper: AmiMapper) -> AsyncGenerator[AmiSession, None]:
        return self.client(mapper).sessions()

    async def _on_connect(
        self, session: AmiSession, mapper: AmiMapper, clock: Clock, tag: str, gap_start: datetime | None
    ) -> tuple[list, datetime]:
        _, listed = await session.action_list("QueueStatus", timeout=self.timeout_s)
        now = clock.now()
        fill_from, backfill = gap_start, self._backfill
        if backfill is not None:  # the time before we started: filled, never a gap record
            fill_from = backfill if gap_start is None else min(gap_start, backfill)
        out: list = []
        if fill_from is not None and self.queue_log:  # the rows the PBX wrote while we were away, first
            out += await asyncio.to_thread(self.fill_gap, fill_from, now)
        self._backfill = None
        return out + mapper.resync(listed, now, f"{tag}.resync"), now

    async def _resync(self, session: AmiSession, mapper: AmiMapper, clock: Clock, where: str) -> list:
        _, listed = await session.action_list("QueueStatus", timeout=self.timeout_s)
        return mapper.resync(listed, clock.now(), where)

    def _where(self, item: Any) -> str:
        return str(item.line_no)

    def fill_gap(self, start: datetime, end: datetime) -> list[Event]:
        """The queue_log rows inside the gap, as events (dead letters are left to a queue-log replay); none
        without ``queue_log``."""
        from feeds.queue_log import QueueLogFeed

        if not self.queue_log:
            return []
        lo, hi = start.timestamp() - 1, end.timestamp()
        try:
            rows = QueueLogFeed(self.queue_log, self.config).read()
            return [e for e in rows if not isinstance(e, DeadLetter) and lo <= e.ts.timestamp() <= hi]
        except OSError as e:
            log.warning("AMI gap: cannot read queue_log %s (%s); the gap stays unfilled", self.queue_log, e)
            return []
