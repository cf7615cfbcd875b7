"""Sending to many screens without one slow screen slowing the rest.

Each message is encoded once per layout and written to every ready client of that layout in one synchronous
pass (``websockets``' ``broadcast``: no task per client, no awaiting a client). A client is *ready* while its
send buffer holds at most ``write_buffer_bytes``. Past that it gets nothing more written: the newest message
of each type waits in its ``pending`` slot (latest wins: an older pending update is replaced and counted as
dropped), and a small flusher task writes the pending messages once the buffer has drained below half the
cap. A client that falls more than ``max_behind`` messages behind, or stays blocked for ``slow_client_s``, is
dropped (its connection aborted: a stalled peer would never read a close frame).

So the hub's memory per client is bounded (the kernel's send buffer, capped at ``write_buffer_bytes`` too,
plus the cap, plus one message per type), and a stalled TV costs the others nothing.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from websockets.asyncio.server import ServerConnection, broadcast

log = logging.getLogger(__name__)

FLUSH_POLL_S = 0.02


@dataclass
class Stats:
    messages_sent: int = 0
    bytes_sent: int = 0
    messages_dropped: int = 0  # superseded while a client was behind (latest wins)
    clients_dropped: Counter = field(default_factory=Counter)  # reason -> count
    refused: Counter = field(default_factory=Counter)  # reason kind -> count
    requests_sent: int = 0
    connections_total: int = 0


class Client:
    __slots__ = (
        "conn",
        "layout",
        "role",
        "user",
        "token",
        "peer",
        "pending",
        "behind",
        "blocked_since",
        "flusher",
        "closed",
        "expires",
        "bucket",
        "rate_noticed",
    )

    def __init__(self, conn: ServerConnection, layout: str, role: str, user: str | None, token: str, peer: str):
        self.conn = conn
        self.layout = layout
        self.role = role
        self.user = user
        self.token = token
        self.peer = peer
        self.pending: dict[str, bytes] = {}
        self.rate_noticed: float | None = None  # when this connection was last told it is over its rate
        self.behind = 0
        self.blocked_since: float | None = None
        self.flusher: asyncio.Task | None = None
        self.closed = False
        self.expires: float | None = None  # the token's expiry (epoch seconds), when it has one
        self.bucket = None  # the connection's rate limit (wallboard.ratelimit.Bucket), made at its first request

    def buffered(self) -> int:
        transport = self.conn.transport
        return transport.get_write_buffer_size() if transport is not None else 0


def cap_kernel_buffer(conn: ServerConnection, size: int) -> None:
    """Bound the kernel's send buffer of one connection too (else a stalled peer can hold megabytes)."""
    sock = conn.transport.get_extra_info("socket") if conn.transport is not None else None
    if sock is not None:
        try:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, size)
        except OSError:  # not a TCP socket (tests may use others): nothing to cap
            pass


class Fanout:
    def __init__(
        self,
        stats: Stats,
        *,
        cap_bytes: int,
        max_behind: int,
        slow_s: float,
        monotonic: Callable[[], float] = time.monotonic,
    ):
        self.stats = stats
        self.cap = cap_bytes
        self.max_behind = max_behind
        self.slow_s = slow_s
        self.monotonic = monotonic
        self.by_layout: dict[str, set[Client]] = {}

    # ---- registry ---------------------------------------------------------------------------------------

    def add(self, client: Client) -> None:
        self.by_layout.setdefault(client.layout, set()).add(client)

    def remove(self, client: Client) -> None:
        client.closed = True
        group = self.by_layout.get(client.layout)
        if group is not None:
            group.discard(client)
            if not group:
                del self.by_layout[client.layout]
        if client.flusher is not None and not client.flusher.done():
            client.flusher.cancel()

    def clients(self, layout: str | None = None) -> Iterable[Client]:
        if layout is not None:
            return list(self.by_layout.get(layout, ()))
        return [c for group in self.by_layout.values() for c in group]

    def count(self) -> Counter:
        """(layout, role) -> clients connected."""
        return Counter((c.layout, c.role) for c in self.clients())

    # ---- sending ----------------------------------------------------------------------------------------

    def send(self, clients: Iterable[Client], kind: str, data: bytes) -> None:
        """Write ``data`` now to each ready client; hold it (latest wins) for the others."""
        ready = []
        now = self.monotonic()
        for c in clients:
            if c.closed:
                continue
            if c.blocked_since is not None:
                self._hold(c, kind, data, now)
            else:
                ready.append(c)
        if not ready:
            return
        broadcast([c.conn for c in ready], data, text=True)
        self.stats.messages_sent += len(ready)
        self.stats.bytes_sent += len(ready) * len(data)
        for c in ready:
            if c.buffered() > self.cap:
                self._block(c, now)

    def publish(self, layout: str, kind: str, data: bytes) -> None:
        self.send(list(self.by_layout.get(layout, ())), kind, data)  # a copy: a slow client may be dropped

    def _hold(self, c: Client, kind: str, data: bytes, now: float) -> None:
        if kind in c.pending:
            self.stats.messages_dropped += 1
            c.behind += 1
        c.pending[kind] = data
        if c.behind > self.max_behind:
            self.drop(c, f"too slow: {c.behind} messages behind")
        elif c.blocked_since is not None and now - c.blocked_since > self.slow_s:
            self.drop(c, f"too slow: blocked {now - c.blocked_since:.0f}s")

    def _block(self, c: Client, now: float) -> None:
        c.blocked_since = now
        if c.flusher is None or c.flusher.done():
            c.flusher = asyncio.get_running_loop().create_task(self._flush_when_drained(c))

    async def _flush_when_drained(self, c: Client) -> None:
        """Wait for the client's buffer to drain below half the cap, then write what is pending."""
        while not c.closed:
            await asyncio.sleep(FLUSH_POLL_S)
            now = self.monotonic()
            if c.blocked_since is not None and now - c.blocked_since > self.slow_s:
                self.drop(c, f"too slow: blocked {now - c.blocked_since:.0f}s")
                return
            if c.buffered() > self.cap // 2:
                continue
            pending, c.pending = c.pending, {}
            c.blocked_since, c.behind = None, 0
            for kind in ("update", "ticker", "heartbeat", *pending):
                data = pending.pop(kind, None)
                if data is not None:
                    self.send([c], kind, data)
            if c.blocked_since is None:
                return
            # blocked again by what we just wrote: _block started no new task since this one is running
            c.flusher = asyncio.current_task()

    def drop(self, c: Client, reason: str) -> None:
        if c.closed:
            return
        log.warning("dropped %s client %s on layout %s: %s", c.role, c.peer, c.layout, reason)
        self.stats.clients_dropped[reason.split(":")[0]] += 1
        self.remove(c)
        if c.conn.transport is not None:
            c.conn.transport.abort()  # a stalled peer reads no close frame; free its buffers now
