"""One connection to a PBX's event socket, whatever its protocol: Asterisk's AMI (``wallboard.ami.client``) and
FreeSWITCH's event socket (``wallboard.esl.client``) are both a TCP stream of framed messages in which the
answers to our requests arrive among the events. The part they share lives here, once:

- a reader task that frames what arrives, hands each unit to the protocol (``_unit``), and notes when anything
  last came (``last_rx``);
- a bounded queue of events (and of malformed units, kept as dead letters) for the feed, ended by a sentinel
  when the connection is lost, so the feed learns it in order, after every event that came before;
- a keep-alive that sends the protocol's cheapest request (``_probe``: AMI ``Ping``, ESL ``api status``) and
  drops the connection when nothing at all came back in time: a half-open socket never says it is dead, and an
  answer queued behind a burst of events is not taken for silence;
- ``abort`` (drop now) and ``close`` (stop the tasks, say goodbye when the protocol has a word for it).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator
from typing import Any

from .aio import cancel_and_wait, wait_for

log = logging.getLogger(__name__)

LOST = object()  # queued after the last event of a connection


class Session:
    """Subclasses set ``kind`` (for task names and logs), ``peer`` (who closes), ``probe_name``, ``lost_error``
    (their ConnectionLost) and implement ``_framer``, ``_unit``, ``_tail``, ``_probe`` and ``_fail_waiting``."""

    kind = "link"
    peer = "the peer"
    probe_name = "a probe"
    lost_error: type[Exception] = ConnectionError

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, origin: str = "", queue_size: int = 100_000
    ):
        self.origin = origin
        self.closed: str | None = None  # why the connection ended
        self._reader, self._writer = reader, writer
        self._queue: asyncio.Queue = asyncio.Queue(queue_size)
        self._abort_reason: str | None = None
        self._loop = asyncio.get_running_loop()
        self.last_rx = self._loop.time()
        self._tasks: list[asyncio.Task] = []

    # -- the protocol's part ----------------------------------------------------------------------------------

    def _framer(self):
        raise NotImplementedError

    async def _unit(self, unit) -> None:
        """One framed unit: an answer to match, an event or a malformed unit to queue."""
        raise NotImplementedError

    def _tail(self, framer):
        """What was left half-framed when the connection closed (an item to queue), or None."""
        raise NotImplementedError

    async def _probe(self, timeout: float) -> None:
        raise NotImplementedError

    def _fail_waiting(self, error: Exception) -> None:
        """Fail every request still waiting for its answer."""
        raise NotImplementedError

    def _goodbye(self) -> bytes | None:
        """What to send before closing, if the protocol says goodbye."""
        return None

    # -- shared -----------------------------------------------------------------------------------------------

    def start(self) -> None:
        self._tasks.append(asyncio.create_task(self._read(), name=f"{self.kind.lower()}-read {self.origin}"))

    def start_keepalive(self, every_s: float, timeout_s: float | None = None) -> None:
        self._tasks.append(
            asyncio.create_task(
                self._keepalive(every_s, timeout_s or every_s), name=f"{self.kind.lower()}-ping {self.origin}"
            )
        )

    def idle_s(self) -> float:
        """Seconds since anything was received."""
        return self._loop.time() - self.last_rx

    async def next_item(self, timeout: float | None = None):
        """The next event or malformed unit; None when ``timeout`` passes first; ``lost_error`` at the end."""
        if self.closed and self._queue.empty():
            raise self.lost_error(self.closed)
        try:
            item = await wait_for(self._queue.get(), timeout)
        except asyncio.TimeoutError:
            return None
        if item is LOST:
            raise self.lost_error(self.closed or "closed")
        return item

    async def _read(self) -> None:
        framer = self._framer()
        reason = f"{self.peer} closed the connection"
        try:
            while True:
                data = await self._reader.read(65536)
                if not data:
                    break
                self.last_rx = self._loop.time()
                for unit in framer.feed(data):
                    await self._unit(unit)
            tail = self._tail(framer)
            if tail is not None:
                await self._queue.put(tail)
        except (OSError, asyncio.IncompleteReadError) as e:
            reason = f"connection error: {e}"
        except asyncio.CancelledError:
            reason = "closed"
            raise
        finally:
            self._lost(self._abort_reason or reason)

    def _lost(self, reason: str) -> None:
        if self.closed:
            return
        self.closed = reason
        self._fail_waiting(self.lost_error(reason))
        try:
            self._queue.put_nowait(LOST)
        except asyncio.QueueFull:  # the reader of a full queue will find ``closed`` once it has drained it
            pass

    async def _keepalive(self, every_s: float, timeout_s: float) -> None:
        try:
            while not self.closed:
                await asyncio.sleep(every_s)
                sent = self._loop.time()
                try:
                    await self._probe(timeout_s)
                except asyncio.TimeoutError:
                    if self.last_rx > sent:  # events came meanwhile: the link works, the answer is behind them
                        continue
                    log.warning(
                        "%s %s: nothing received within %.1f s of %s; dropping the connection",
                        self.kind,
                        self.origin,
                        timeout_s,
                        self.probe_name,
                    )
                    self.abort(f"keep-alive: no answer to {self.probe_name}")
                    return
        except self.lost_error:
            return

    def abort(self, reason: str) -> None:
        """Drop the connection now (a half-open socket would never say so itself)."""
        self._abort_reason = self._abort_reason or reason
        self._writer.transport.abort()

    async def close(self) -> None:
        await cancel_and_wait(*self._tasks)
        self._lost(self._abort_reason or "closed")
        bye = self._goodbye()
        if bye is not None and not self._writer.transport.is_closing():
            try:
                self._writer.write(bye)
            except (OSError, RuntimeError):
                pass
        self._writer.close()
        try:
            await wait_for(self._writer.wait_closed(), 1.0)
        except (OSError, asyncio.TimeoutError):
            pass


async def reconnecting(
    connect,
    *,
    kind: str,
    origin: str,
    backoff,
    stable_s: float,
    errors: tuple,
    auth_error: type[Exception],
    auth_hint: str,
    connected,
    logger: logging.Logger,
) -> AsyncGenerator[Any, None]:
    """Sessions, forever: ``await connect()`` again after a session ends or an attempt fails, with ``backoff``
    (reset once a session lasted ``stable_s``). A streak of the same failure is logged once, then at debug level;
    ``connected(session)`` says what a new session is (e.g. the PBX's greeting)."""
    loop = asyncio.get_running_loop()
    told = ""  # the failure already logged in this streak
    while True:
        began = loop.time()
        try:
            session = await connect()
        except auth_error as e:
            delay = backoff.next()
            if told != "auth":
                logger.error("%s; %s; retrying with backoff (next in %.1f s)", e, auth_hint, delay)
                told = "auth"
            else:
                logger.debug("%s; retrying in %.1f s", e, delay)
            await asyncio.sleep(delay)
            continue
        except errors as e:
            delay = backoff.next()
            what = str(e) or e.__class__.__name__
            if told != "net":
                logger.warning(
                    "%s %s unreachable (%s); retrying with backoff (next in %.1f s)", kind, origin, what, delay
                )
                told = "net"
            else:
                logger.debug("%s %s unreachable (%s); retrying in %.1f s", kind, origin, what, delay)
            await asyncio.sleep(delay)
            continue
        told = ""
        logger.info("%s %s: %s", kind, origin, connected(session))
        try:
            yield session
        finally:
            await session.close()
        if loop.time() - began >= stable_s:
            backoff.reset()
        delay = backoff.next()
        logger.warning("%s %s: connection lost (%s); reconnecting in %.1f s", kind, origin, session.closed, delay)
        await asyncio.sleep(delay)
