"""The Redis reader of a screen (the desk and the board share it): its client, the subscription worker, the
reconnect with backoff, and when the figures are stale.

- ``client()`` is the app's one asyncio Redis client: given, or made by a factory in the app's own event loop
  (then ``close()`` closes it);
- ``start()`` runs the long-running worker (group ``snapshots``): ``source.SnapshotSource.parts()`` turned
  into typed messages (``messages``), ``FeedStatus`` on connect and on each failure, a retry after
  ``redis_backoff`` (reset by each part that arrives);
- staleness, on the local monotonic clock: ``heard()`` for each part that arrives, ``status()`` for each
  ``FeedStatus``; ``is_stale()`` is true at once when Redis is lost (until newer data comes) or when nothing
  came for ``display.stale_after_s``.

The apps keep what they draw from the parts; this only says how fresh the parts are.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Protocol

from textual.app import App
from textual.worker import Worker

from ..backoff import redis_backoff
from ..clock import Clock
from ..config import WallboardConfig
from ..delta import WANT_TTL_S
from ..keys import Keys
from ..snapshot import Summary
from ..livetime import monotonic_of
from .messages import AgentsArrived, FeedStatus, SummaryArrived
from .source import SnapshotSource

log = logging.getLogger(__name__)

ClientFactory = Callable[[], Awaitable[object]]
SNAPSHOTS = "snapshots"  # the worker group of the subscription


class Part(Protocol):
    seq: int
    at: str


class SnapshotReader:
    """One app's Redis client and snapshot subscription. ``client`` is an asyncio Redis client (the caller
    closes it) or a zero-argument async factory (the reader connects in the app's loop and closes it).
    ``agents``: read and post the agent detail parts too (the board needs only the summary)."""

    def __init__(
        self,
        app: App,
        config: WallboardConfig,
        client: ClientFactory | object,
        clock: Clock,
        *,
        agents: bool = True,
        name: str = "snapshot reader",
    ) -> None:
        self.app = app
        self.config = config
        self.keys = Keys(config.redis.prefix)
        self.clock = clock
        self.agents = agents
        self.name = name
        self._client_arg = client
        self.owns_client = callable(client) and not hasattr(client, "get")
        self._client = None if self.owns_client else client
        self.connected = False
        self.detail = "connecting to Redis…"
        self.started_mono = monotonic_of(clock)
        self.last_message_mono: float | None = None
        self.redis_lost = False  # lost Redis: stale at once, until newer data comes
        self.closed = False
        # agents whose clock figures each full part brings up to date (``SnapshotSource``): an open scorecard's
        self.clock_for: set[str] = set()

    @property
    def has_client(self) -> bool:
        return self._client is not None

    async def client(self):
        if self._client is None:
            self._client = await self._client_arg()  # type: ignore[operator]
        return self._client

    # ---- the worker ---------------------------------------------------------------------------------------

    def start(self) -> Worker:
        return self.app.run_worker(self._read, name=self.name, group=SNAPSHOTS, exclusive=True, exit_on_error=False)

    async def _read(self) -> None:
        backoff = redis_backoff(self.config)
        post = self.app.post_message
        while True:
            try:
                source = SnapshotSource(await self.client(), self.keys, agents=self.agents, clock_for=self.clock_for)
                post(FeedStatus(True, "connected"))
                async for part in source.parts():
                    mono = monotonic_of(self.clock)
                    if isinstance(part, Summary):
                        post(SummaryArrived(part, mono))
                    elif self.agents:
                        post(AgentsArrived(part, mono))
                    backoff.reset()
                raise ConnectionError("subscription ended")
            except asyncio.CancelledError:
                raise
            except Exception as e:  # connection lost, server restarted, Redis unreachable: retry
                delay = backoff.next()
                log.warning("%s: %s; retrying in %.1fs", self.name, e, delay)
                post(FeedStatus(False, str(e)))
                await asyncio.sleep(delay)

    async def ask_full(self) -> None:
        """Ask the lease owner for a full snapshot at its next publish (``delta.SnapshotStream.ask_full``)."""
        await (await self.client()).set(self.keys.snap_want, "1", ex=WANT_TTL_S)

    # ---- staleness ----------------------------------------------------------------------------------------

    def heard(self, part: Part, old: Part | None, received_mono: float) -> bool:
        """A part arrived: True when it is news (newer than ``old``, the last one kept). The stored part read
        again on a reconnect is not news, and leaves a lost Redis stale."""
        self.last_message_mono = received_mono
        if old is not None and part.seq <= old.seq and part.at <= old.at:
            return False
        self.redis_lost = False
        return True

    @staticmethod
    def again(part: Part, old: Part | None) -> bool:
        """A part of the seq and time held, that ``heard`` says is no news: the full part sent after the delta to
        it (``DeltaPublisher.publish``), which brings the figures that move with the clock alone up to date (the
        delta left them as last sent), or the stored part read again on a reconnect (the same). Taken for its
        figures, not as news: the server time is not anchored on it again, a lost Redis stays stale."""
        return old is not None and part is not old and part.seq == old.seq and part.at == old.at

    def status(self, message: FeedStatus) -> None:
        self.connected = message.connected
        self.detail = message.detail
        if not message.connected:  # the figures stop here: say so now, not stale_after_s later
            self.redis_lost = True

    def is_stale(self) -> bool:
        since = self.last_message_mono if self.last_message_mono is not None else self.started_mono
        return self.redis_lost or monotonic_of(self.clock) - since > self.config.display.stale_after_s

    # ---- closing ------------------------------------------------------------------------------------------

    async def close(self, groups: Iterable[str] = (), wait: bool = True) -> None:
        """Cancel the subscription and the app's other Redis workers (``groups``), waiting for them to stop
        unless ``wait`` is false, then close the client we opened (once)."""
        if self.closed:
            return
        self.closed = True
        stop = {SNAPSHOTS, *groups}
        for worker in list(self.app.workers):
            if worker.group in stop:
                worker.cancel()
                if not wait:
                    continue
                try:
                    await worker.wait()
                except Exception:  # WorkerCancelled / WorkerFailed: it is stopping, as asked
                    pass
        if self.owns_client and self._client is not None:
            try:
                await self._client.aclose()  # type: ignore[attr-defined]
            except Exception:
                log.debug("closing the Redis client failed", exc_info=True)
            self._client = None
