"""A small asyncio client for FreeSWITCH's event socket (inbound mode: we connect to mod_event_socket).

Our own rather than ``genesis`` (the maintained asyncio ESL library, checked at 2026.10.18; greenswitch is
gevent, python-ESL a SWIG binding last released in 2016): genesis pins ``redis<6`` and ``rich<14`` where this
project pins redis 8 and rich 15, stops at Python 3.12, and brings FastAPI, uvicorn, OpenTelemetry and typer with
it; its event dicts turn a repeated header into a list and its consumer reconnects on its own terms. What we need
is small and must behave exactly like the AMI client (``wallboard.ami.client``): the same keep-alive with half-open
detection, the same jittered ``Backoff``, bad input as dead letters with the raw text, a bounded event queue. That
is the protocol module plus this.

- ``EslClient.connect()``: TCP, the ``auth/request`` greeting, ``auth PASSWORD`` (a ``-ERR invalid`` is an
  ``AuthError``; the switch then closes the socket), ``event plain <events>`` (``CUSTOM callcenter::info`` by
  default), then a keep-alive ``api status`` every ``keepalive_s``: when nothing at all (no answer, no event)
  comes back within ``keepalive_timeout_s`` the connection is dropped, so a half-open socket is found within
  ``keepalive_s + keepalive_timeout_s`` of going silent, while an answer queued behind a burst of events is
  no reason to drop a working link. The password is read through a callable at every login (a rotated
  secret file is picked up) and never logged.
- ``EslClient.sessions()``: authenticated sessions one after another, reconnecting with ``Backoff``; wrong
  credentials are logged once per failure streak; the backoff resets only after a session lasted
  ``stable_s``.
- ``EslSession``: commands answered in order (the event socket has no request ids: replies come back in the
  order the commands were sent, so a FIFO of waiters matches them; a waiter that timed out keeps its place and
  its late reply is dropped), ``api`` (the ``api/response`` body), ``bgapi`` (the ``Reply-Text`` with the
  Job-UUID), and the event stream (``next_item``: an ``EslEvent``, a ``BadFrame`` for input that could not be
  read, None on timeout, ``ConnectionLost`` once the connection is gone).
"""

from __future__ import annotations

import asyncio
import collections
import logging
import random
from dataclasses import dataclass
from typing import AsyncGenerator, Callable

from wallboard.aio import wait_for
from wallboard.backoff import Backoff
from wallboard.link import Session, reconnecting

from .protocol import Frame, Framer, ParseError, encode_command, parse_event

log = logging.getLogger("wallboard.esl")

CALLCENTER_EVENTS = "CUSTOM callcenter::info"


class EslError(Exception):
    pass


class AuthError(EslError):
    pass


class ConnectionLost(EslError):
    pass


@dataclass(frozen=True)
class BadFrame:
    """Input that could not become an event: the reason, the raw text, its frame number in the session."""

    reason: str
    raw: str
    where: int


class EslEvent:
    """One plain event: decoded headers under lower-case names, and the raw text for a dead letter."""

    __slots__ = ("fields", "number", "raw")

    def __init__(self, fields: dict[str, str], number: int = 0, raw: str = ""):
        self.fields = {k.lower(): v for k, v in fields.items()}
        self.number = number
        self.raw = raw

    @property
    def name(self) -> str:
        return self.fields.get("event-name", "")

    def get(self, key: str, default: str | None = None) -> str | None:
        v = self.fields.get(key.lower())
        return default if v is None or v == "" else v

    def __repr__(self) -> str:
        return f"EslEvent({self.fields!r})"


def reply_ok(text: str) -> bool:
    return text.startswith("+OK")


class EslSession(Session):
    """One authenticated connection (see the module docstring; the reading, queueing and keep-alive it shares
    with AMI are ``wallboard.link.Session``)."""

    kind, peer, probe_name, lost_error = "ESL", "the switch", "`api status`", ConnectionLost

    def __init__(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, origin: str = "", queue_size: int = 100_000
    ):
        super().__init__(reader, writer, origin=origin, queue_size=queue_size)
        self._waiters: collections.deque[asyncio.Future] = collections.deque()
        self._greeting: asyncio.Future = self._loop.create_future()

    async def greeting(self, timeout: float) -> Frame:
        return await wait_for(asyncio.shield(self._greeting), timeout)

    # -- commands -------------------------------------------------------------------------------------------

    async def command(self, command: str, timeout: float = 5.0) -> Frame:
        """Send one command; its reply frame (``command/reply`` or ``api/response``). TimeoutError after
        ``timeout``; ValueError for a command with a line break (nothing is sent)."""
        if self.closed:
            raise ConnectionLost(self.closed)
        data = encode_command(command)
        fut = self._loop.create_future()
        self._waiters.append(fut)
        self._writer.write(data)
        try:
            return await wait_for(asyncio.shield(fut), timeout)
        except asyncio.TimeoutError:
            fut.cancel()  # keeps its place in the FIFO: its late reply is dropped
            raise

    async def api(self, command: str, timeout: float = 5.0) -> str:
        """``api COMMAND``: the command's output (for mod_callcenter: ``+OK``, ``-ERR ...`` or a table)."""
        frame = await self.command(f"api {command}", timeout)
        return frame.body.decode("utf-8", "replace")

    async def bgapi(self, command: str, timeout: float = 5.0) -> str:
        """``bgapi COMMAND``: the switch's ``Reply-Text`` (``+OK Job-UUID: ...`` once queued)."""
        frame = await self.command(f"bgapi {command}", timeout)
        return frame.headers.get("reply-text", "")

    # -- the link's protocol part ---------------------------------------------------------------------------

    def _framer(self) -> Framer:
        return Framer()

    def _tail(self, framer: Framer) -> BadFrame | None:
        tail = framer.close()
        return BadFrame(tail.error or "truncated", tail.raw(), tail.number) if tail is not None else None

    async def _probe(self, timeout: float) -> None:
        await self.api("status", timeout=timeout)

    def _fail_waiting(self, error: Exception) -> None:
        for fut in (*self._waiters, self._greeting):
            if not fut.done():
                fut.set_exception(error)
        self._greeting.exception() if self._greeting.done() and not self._greeting.cancelled() else None

    def _goodbye(self) -> bytes | None:
        return encode_command("exit")

    async def _unit(self, frame: Frame) -> None:
        if frame.error:
            await self._queue.put(BadFrame(frame.error, frame.raw(), frame.number))
            return
        ctype = frame.content_type
        if ctype == "auth/request":
            if not self._greeting.done():
                self._greeting.set_result(frame)
        elif ctype in ("command/reply", "api/response"):
            while self._waiters:
                fut = self._waiters.popleft()
                if not fut.done():
                    fut.set_result(frame)
                    break
                if not fut.cancelled():
                    continue
                break  # the timed-out command's reply: dropped
        elif ctype == "text/event-plain":
            try:
                fields = parse_event(frame.body)
            except ParseError as e:
                await self._queue.put(BadFrame(str(e), frame.raw(), frame.number))
                return
            await self._queue.put(EslEvent(fields, frame.number, frame.raw()))
        elif ctype in ("text/disconnect-notice", "text/rude-rejection"):
            self._abort_reason = (
                self._abort_reason or f"the switch sent {ctype}: " + frame.body.decode("utf-8", "replace").strip()[:200]
            )
            if ctype == "text/rude-rejection" and not self._greeting.done():
                self._greeting.set_exception(
                    AuthError(
                        f"{self.origin} refused the connection (its ACL): "
                        + frame.body.decode("utf-8", "replace").strip()[:200]
                    )
                )
        else:
            await self._queue.put(BadFrame(f"unexpected Content-Type {ctype or '(none)'!r}", frame.raw(), frame.number))


class EslClient:
    def __init__(
        self,
        host: str,
        port: int,
        password: Callable[[], str],
        *,
        events: str = CALLCENTER_EVENTS,
        keepalive_s: float = 2.0,
        keepalive_timeout_s: float | None = None,
        timeout_s: float = 5.0,
        backoff_initial_s: float = 0.5,
        backoff_max_s: float = 30.0,
        stable_s: float = 30.0,
        rng: random.Random | None = None,
    ):
        self.host, self.port = host, int(port)
        self.origin = f"{host}:{port}"
        self._password = password
        self.events = events
        self.keepalive_s, self.timeout_s, self.stable_s = keepalive_s, timeout_s, stable_s
        self.keepalive_timeout_s = keepalive_timeout_s or keepalive_s
        self.backoff = Backoff(backoff_initial_s, backoff_max_s, rng)

    async def connect(self) -> EslSession:
        """One attempt: connect, greeting, auth, event subscription, keep-alive. Raises AuthError, EslError,
        OSError, TimeoutError."""
        reader, writer = await wait_for(asyncio.open_connection(self.host, self.port), self.timeout_s)
        session = EslSession(reader, writer, origin=self.origin)
        try:
            session.start()
            try:
                await session.greeting(self.timeout_s)
            except ConnectionLost as e:
                raise EslError(f"{self.origin} sent no auth/request greeting ({e})") from None
            reply = (await session.command(f"auth {self._password()}", self.timeout_s)).headers.get("reply-text", "")
            if not reply_ok(reply):
                raise AuthError(f"ESL login to {self.origin} failed: {reply or 'no reply'}")
            if self.events:
                reply = (await session.command(f"event plain {self.events}", self.timeout_s)).headers.get(
                    "reply-text", ""
                )
                if not reply_ok(reply):
                    raise EslError(f"ESL {self.origin} refused `event plain {self.events}`: {reply or 'no reply'}")
            session.start_keepalive(self.keepalive_s, self.keepalive_timeout_s)
            return session
        except BaseException:
            await session.close()
            raise

    def sessions(self) -> AsyncGenerator[EslSession, None]:
        """Authenticated sessions, forever: reconnects with backoff when one ends or an attempt fails."""
        return reconnecting(
            self.connect,
            kind="ESL",
            origin=self.origin,
            backoff=self.backoff,
            stable_s=self.stable_s,
            errors=(OSError, asyncio.TimeoutError, EslError),
            auth_error=AuthError,
            auth_hint="check the event-socket password",
            connected=lambda s: "authenticated",
            logger=log,
        )
