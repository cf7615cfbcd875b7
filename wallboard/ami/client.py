"""A small asyncio AMI client (our own: panoramisk 1.4, the last release, has no MD5 login, a fixed reconnect
delay and uses the deprecated ``get_event_loop``; asterisk-ami runs on threads and pyst2 stopped in 2019. What
we need must behave exactly like the event-socket client: ``wallboard.link``'s reconnect loop and keep-alive,
bad input as dead letters with the raw text, a bounded event queue).

- ``AmiClient.connect()``: TCP, the ``Asterisk Call Manager/x.y`` greeting, ``Login`` plain or by MD5
  ``Challenge`` (the default: the secret never crosses the wire), an event mask (``Events: agent,call,dialplan``)
  and optional PBX-side ``Filter`` regexes so unrelated events are not even sent (a PBX that refuses the
  Filter action is filtered on our side only), then a keep-alive ``Ping`` every ``keepalive_s``: when nothing at
  all (no Pong, no event) comes back within ``keepalive_timeout_s`` (default ``keepalive_s``) the connection is
  dropped, so a half-open socket is found within ``keepalive_s + keepalive_timeout_s`` of going silent (4 s with
  the defaults), while a Pong merely queued behind a burst of events is no reason to drop a working link.
- ``AmiClient.sessions()``: logged-in sessions one after another, reconnecting with capped exponential
  backoff and jitter. Wrong credentials are logged once as an error per failure streak (then at debug) and
  backed off like any failure, never a tight loop. The backoff resets only after a session lasted
  ``stable_s``, so a flapping PBX is not hammered either.
- ``AmiSession``: actions matched to responses by ``ActionID`` (``action``), list actions such as
  ``QueueStatus`` (``action_list``: the response, then its events up to ``...Complete``), and the event
  stream (``next_item``: a ``Message``, a ``BadBlock`` for input that could not be read, or None on timeout;
  ``ConnectionLost`` once the connection is gone). Events the ``wanted`` filter rejects are dropped from
  their first line, unparsed. The event queue is bounded: a consumer stalled long enough to fill it stops the
  reader, the keep-alive then drops the link and the feed resyncs (a recorded gap) instead of growing memory.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import os
import random
from dataclasses import dataclass
from typing import AsyncGenerator, Callable

from wallboard.aio import wait_for
from wallboard.backoff import Backoff
from wallboard.config import AmiConfig
from wallboard.link import Session, reconnecting

from .protocol import (
    MAX_LINE,
    Block,
    Framer,
    Message,
    ParseError,
    encode_action,
    parse,
    peek_event,
    raw_text,
)

log = logging.getLogger("wallboard.ami")

EVENT_MASK = "agent,call,dialplan"  # queue/member events; Dial*/Hangup; VarSet (QUEUESTATUS)
# PBX-side whitelist (Asterisk 13+ Filter action, regexes on the event text). The QueueStatus list events are
# included in case a PBX applies filters to them too.
PBX_FILTERS = (
    r"Event: (QueueCaller|QueueMember|QueueParams|QueueEntry|QueueStatusComplete|Agent|Dial|Hangup|Join|Leave|ChanSpy)",
    r"Variable: QUEUESTATUS",
)


class AmiError(Exception):
    pass


class AuthError(AmiError):
    pass


class ConnectionLost(AmiError):
    pass


@dataclass(frozen=True)
class BadBlock:
    """Input that could not become a message: the reason, the raw text, its message number in the session."""

    reason: str
    raw: str
    where: int


def credentials(ami: AmiConfig) -> tuple[str, str]:
    """(username, secret) from the environment variables AmiConfig names, the secret else from its file.
    Never from the command line. Raises ValueError saying what to set."""
    user = os.environ.get(ami.username_env, "")
    secret = os.environ.get(ami.secret_env, "")
    if not secret and ami.secret_file:
        try:
            secret = ami.secret_file.read_text(encoding="utf-8").strip()
        except OSError as e:
            raise ValueError(f"AMI secret file {ami.secret_file}: {e.strerror or e}") from None
    missing = []
    if not user:
        missing.append(f"the AMI user in ${ami.username_env}")
    if not secret:
        missing.append(f"the AMI secret in ${ami.secret_env} or ami.secret_file")
    if missing:
        raise ValueError("ami: set " + " and ".join(missing) + " (never on the command line)")
    return user, secret


def _ok(r: Message) -> bool:
    return (r.get("response") or "").lower() in ("success", "goodbye", "follows")


class AmiSession(Session):
    """One logged-in TCP session (see the module docstring; the reading, queueing and keep-alive it shares with
    the event socket are ``wallboard.link.Session``)."""

    kind, peer, probe_name, lost_error = "AMI", "the PBX", "a Ping", ConnectionLost

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        *,
        origin: str = "",
        wanted: Callable[[str | None, list[bytes]], bool] | None = None,
        max_line: int = MAX_LINE,
        queue_size: int = 100_000,
    ):
        super().__init__(reader, writer, origin=origin, queue_size=queue_size)
        self.greeting = ""
        self._wanted = wanted
        self._max_line = max_line
        self._pending: dict[str, asyncio.Future] = {}
        self._lists: dict[str, list[Message]] = {}
        self._list_done: dict[str, asyncio.Future] = {}
        self._aid = 0
        self._n = 0

    # -- actions ----------------------------------------------------------------------------------------------

    def _send(self, action: str, fields: dict | None) -> str:
        if self.closed:
            raise ConnectionLost(self.closed)
        self._aid += 1
        aid = f"wb{self._aid}"
        self._writer.write(encode_action(action, aid, fields or {}))
        return aid

    async def action(self, action: str, fields: dict | None = None, timeout: float = 5.0) -> Message:
        """Send one action; its response (asyncio.TimeoutError after ``timeout``)."""
        fut = self._loop.create_future()
        aid = self._send(action, fields)
        self._pending[aid] = fut
        try:
            return await wait_for(fut, timeout)
        finally:
            self._pending.pop(aid, None)

    async def action_list(
        self, action: str, fields: dict | None = None, timeout: float = 10.0
    ) -> tuple[Message, list[Message]]:
        """A list action (QueueStatus): its response and then its events, up to the ``...Complete`` one."""
        fut, done = self._loop.create_future(), self._loop.create_future()
        aid = self._send(action, fields)
        self._pending[aid], self._lists[aid], self._list_done[aid] = fut, [], done
        try:
            resp = await wait_for(fut, timeout)
            if not _ok(resp):
                raise AmiError(f"{action} refused: {resp.get('message') or 'no reason given'}")
            await wait_for(done, timeout)
            return resp, self._lists[aid]
        finally:
            self._pending.pop(aid, None)
            self._lists.pop(aid, None)
            self._list_done.pop(aid, None)

    # -- the link's protocol part -----------------------------------------------------------------------------

    def _framer(self) -> Framer:
        return Framer(self._max_line)

    def _tail(self, framer: Framer) -> BadBlock | None:
        if not framer.pending:
            return None
        tail = framer.close()
        if tail is None:
            return None
        self._n += 1
        return BadBlock("truncated: the connection closed inside a message", tail.raw(), self._n)

    async def _probe(self, timeout: float) -> None:
        await self.action("Ping", timeout=timeout)

    def _fail_waiting(self, error: Exception) -> None:
        for fut in (*self._pending.values(), *self._list_done.values()):
            if not fut.done():
                fut.set_exception(error)

    async def _unit(self, block: Block) -> None:
        self._n += 1
        if block.error:
            await self._queue.put(BadBlock(block.error, block.raw(), self._n))
            return
        lines = block.lines
        name = peek_event(lines)
        # cheap skip of unwanted events, except while a list action collects its events
        if name is not None and not self._lists and self._wanted is not None and not self._wanted(name, lines):
            return
        try:
            msg = Message(parse(lines), self._n, lines)
        except ParseError as e:
            await self._queue.put(BadBlock(str(e), raw_text(lines), self._n))
            return
        aid = msg.get("actionid")
        if msg.get("response") is not None:
            fut = self._pending.get(aid or "")
            if fut is not None and not fut.done():
                fut.set_result(msg)
            return
        if aid is not None and aid in self._lists:
            self._lists[aid].append(msg)
            if (msg.get("eventlist") or "").lower() == "complete" or (msg.name or "").endswith("complete"):
                done = self._list_done[aid]
                if not done.done():
                    done.set_result(None)
            return
        await self._queue.put(msg)


class AmiClient:
    def __init__(
        self,
        host: str,
        port: int,
        creds: Callable[[], tuple[str, str]],
        *,
        auth: str = "md5",
        events: str = EVENT_MASK,
        filters: tuple[str, ...] = PBX_FILTERS,
        keepalive_s: float = 2.0,
        keepalive_timeout_s: float | None = None,
        timeout_s: float = 5.0,
        backoff_initial_s: float = 0.5,
        backoff_max_s: float = 30.0,
        stable_s: float = 30.0,
        wanted: Callable[[str | None, list[bytes]], bool] | None = None,
        rng: random.Random | None = None,
    ):
        if auth not in ("md5", "plain"):
            raise ValueError(f"ami: auth must be 'md5' or 'plain', not {auth!r}")
        self.host, self.port = host, int(port)
        self.origin = f"{host}:{port}"
        self._creds = creds
        self.auth, self.events, self.filters = auth, events, filters
        self.keepalive_s, self.timeout_s, self.stable_s = keepalive_s, timeout_s, stable_s
        self.keepalive_timeout_s = keepalive_timeout_s or keepalive_s
        self.wanted = wanted
        self.backoff = Backoff(backoff_initial_s, backoff_max_s, rng)
        self._filter_refused = False

    async def connect(self) -> AmiSession:
        """One attempt: connect, greeting, login, filters, keep-alive. Raises AuthError, AmiError, OSError."""
        reader, writer = await wait_for(asyncio.open_connection(self.host, self.port), self.timeout_s)
        session = AmiSession(reader, writer, origin=self.origin, wanted=self.wanted)
        try:
            try:
                greeting = await wait_for(reader.readuntil(b"\n"), self.timeout_s)
            except (asyncio.IncompleteReadError, asyncio.LimitOverrunError) as e:
                raise AmiError(f"{self.origin} sent no AMI greeting ({e.__class__.__name__})") from None
            session.greeting = greeting.decode("utf-8", "replace").strip()
            if not session.greeting.lower().startswith("asterisk call manager"):
                log.warning("AMI %s: unexpected greeting %r; trying to log in anyway", self.origin, session.greeting)
            session.start()
            user, secret = self._creds()
            if self.auth == "md5":
                r = await session.action("Challenge", {"AuthType": "MD5"}, self.timeout_s)
                if not _ok(r) or not r.get("challenge"):
                    raise AmiError(f"AMI {self.origin}: MD5 challenge refused: {r.get('message') or 'no challenge'}")
                key = hashlib.md5((r.get("challenge", "") + secret).encode("utf-8")).hexdigest()  # AMI's scheme
                login = {"AuthType": "MD5", "Username": user, "Key": key, "Events": self.events}
            else:
                login = {"Username": user, "Secret": secret, "Events": self.events}
            r = await session.action("Login", login, self.timeout_s)
            if not _ok(r):
                raise AuthError(
                    f"AMI login to {self.origin} as {user!r} failed: {r.get('message') or 'no reason given'}"
                )
            await self._add_filters(session)
            session.start_keepalive(self.keepalive_s, self.keepalive_timeout_s)
            return session
        except BaseException:
            await session.close()
            raise

    async def _add_filters(self, session: AmiSession) -> None:
        if self._filter_refused:
            return
        for regex in self.filters:
            r = await session.action("Filter", {"Operation": "Add", "Filter": regex}, self.timeout_s)
            if not _ok(r):
                self._filter_refused = True
                log.info(
                    "AMI %s refused the Filter action (%s): filtering on our side only", self.origin, r.get("message")
                )
                return

    def sessions(self) -> AsyncGenerator[AmiSession, None]:
        """Logged-in sessions, forever: reconnects with backoff when one ends or an attempt fails."""
        return reconnecting(
            self.connect,
            kind="AMI",
            origin=self.origin,
            backoff=self.backoff,
            stable_s=self.stable_s,
            errors=(OSError, asyncio.TimeoutError, AmiError),
            auth_error=AuthError,
            auth_hint="check the AMI user and secret",
            connected=lambda s: f"logged in ({s.greeting})",
            logger=log,
        )
