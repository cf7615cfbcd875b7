"""The websocket hub: one port for the TV page, ``/healthz``, ``/metrics`` and the websocket ``/ws``.

It follows the Redis snapshot channel (subscribe first, then read the stored summary, so nothing published in
between is lost), projects each summary once per layout that has screens, and pushes it: the full state on
connect, then updates (``protocol``). It keeps no state of its own beyond the latest summary, so any number
of hubs run side by side. The ticker text is the Redis key ``<prefix>:{c}:ticker`` (``ticker``).

Screens connect to ``/ws?layout=NAME&token=TOKEN``. Refusals (missing or wrong token, foreign origin, unknown
layout, a viewer sending anything, a malformed or oversized message) close the connection with a code and a
reason a person can read, are logged and counted, and the hub carries on.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
import logging
import re
import time
from datetime import datetime
from importlib.resources import files
from typing import Any
from urllib.parse import parse_qs, urlsplit

from pydantic import ValidationError
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.frames import CloseCode
from websockets.http11 import Request, Response

from wallboard.aio import cancel_and_wait, wait_for

from .. import telemetry
from ..actions.model import to_fields
from ..actions.submit import submit
from ..backoff import redis_backoff
from ..clock import Clock, SystemClock
from ..config import WallboardConfig
from ..delta import SnapshotStream
from ..events import utc
from ..keys import Keys
from ..projection import TrendBook, layout_info, project, record_trends
from ..ratelimit import Bucket
from ..snapshot import Summary
from ..ticker import read_ticker
from .auth import Access, Denied
from .fanout import Client, Fanout, Stats, cap_kernel_buffer
from .protocol import Malformed, encode, iso_ms, parse_client_message, to_request
from .tls import server_context

RATE_NOTICE_S = 1.0  # a connection over its rate is told so at most this often (each refusal is counted)
log = logging.getLogger(__name__)


class _HideTokens(logging.Filter):
    """The websockets library logs request lines and headers at DEBUG (``GET /ws?...&token=...``,
    ``Authorization: Bearer ...``): never the credential."""

    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.getMessage()
        hidden = _CREDENTIALS.sub(lambda m: (m.group(1) or m.group(2)) + "***", msg)
        if hidden != msg:
            record.msg, record.args = hidden, None
        return True


_CREDENTIALS = re.compile(r"(?i)(token=)[^&\s]+|((?:proxy-)?authorization:\s*|cookie:\s*)[^\r\n]+")
_WS_LOG = logging.getLogger("wallboard.hub.ws")
_WS_LOG.addFilter(_HideTokens())

STATIC = {
    "/": ("index.html", "text/html; charset=utf-8"),
    "/index.html": ("index.html", "text/html; charset=utf-8"),
    "/tv.css": ("tv.css", "text/css; charset=utf-8"),
    "/tv.js": ("tv.js", "text/javascript; charset=utf-8"),
}
# The page loads only its own files and talks only to its own hub.
CSP = "default-src 'self'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; frame-ancestors 'none'"


class Hub:
    """``await hub.start()`` listens; ``await hub.stop()`` closes every connection and stops following Redis.
    ``client`` is an asyncio Redis client (``decode_responses=True``); the caller owns it."""

    def __init__(
        self,
        config: WallboardConfig,
        client,
        *,
        host: str | None = None,
        port: int | None = None,
        clock: Clock | None = None,
    ):
        self.config = config
        self.client = client
        self.keys = Keys(config.redis.prefix)
        self.host = host if host is not None else config.hub.host
        self.port = port if port is not None else config.hub.port
        self.clock: Clock = clock or SystemClock()
        self.access = Access(config)
        self.ssl = server_context(config.hub)  # https/wss when hub.tls_cert and hub.tls_key are set
        # without [[layouts]], one "default" layout: every queue, the default figures
        self.layouts = {lay.name: lay for lay in (config.layouts or [config.layout(None)])}
        self.stats = Stats()
        self.user_buckets: dict[str, Bucket] = {}  # per user, across the user's connections to this hub
        hub = config.hub
        self.fanout = Fanout(
            self.stats, cap_bytes=hub.write_buffer_bytes, max_behind=hub.client_buffer, slow_s=hub.slow_client_s
        )
        self.summary: Summary | None = None
        # each figure's recent values, for the trend arrows (kept as long as the longest layout's trend_s)
        self.trends = TrendBook(keep_s=max((lay.trend_s for lay in self.layouts.values()), default=0) + 60)
        self._trend_keys = {f for lay in self.layouts.values() for f in lay.figures}
        self.projections: dict[str, dict] = {}  # layout -> its projection of the latest summary
        self.ticker = ""
        self.redis_connected = False
        self.ingest_lag_s: float | None = None
        self.summaries_received = 0
        self.fanout_s_sum = 0.0  # time to project, encode and write each summary to every screen
        self.fanout_count = 0
        self.metrics_registry = telemetry.hub_registry(self)  # this hub's own: /metrics reads it
        self.server: Server | None = None
        self._tasks: list[asyncio.Task] = []
        self._synced: asyncio.Event | None = None
        self._static = {
            path: files("wallboard").joinpath("web", name).read_bytes() for path, (name, _) in STATIC.items()
        }

    # ---- life cycle -------------------------------------------------------------------------------------

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._synced = asyncio.Event()
        self._tasks = [
            loop.create_task(f(), name=f"hub-{f.__name__}")
            for f in (self.follow_snapshots, self.follow_ticker, self.heartbeats)
        ]
        try:  # the first screens get the stored summary in their full state, when Redis answers at once
            await wait_for(self._synced.wait(), 2)
        except TimeoutError:
            log.warning("no snapshot from Redis yet; screens get one as soon as it comes")
        hub = self.config.hub
        self.server = await serve(
            self.handler,
            self.host,
            self.port,
            process_request=self.process_request,
            compression=None,  # 2 KB JSON at 4 Hz: deflate costs CPU and memory per client for nothing
            max_size=hub.max_message_bytes,
            max_queue=4,
            write_limit=hub.write_buffer_bytes,
            ping_interval=20,
            ping_timeout=20,
            close_timeout=2,
            server_header=None,
            ssl=self.ssl,
            logger=_WS_LOG,
        )
        self.port = self.server.sockets[0].getsockname()[1]
        log.info("hub listening on %s:%s (%s)", self.host, self.port, "https/wss" if self.ssl else "http/ws")

    async def stop(self) -> None:
        await cancel_and_wait(*self._tasks)
        self._tasks = []
        for c in self.fanout.clients():
            if c.buffered() and c.conn.transport is not None:  # a screen that does not read would hold the
                c.conn.transport.abort()  # closing handshake (and the hub's exit) forever
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
            self.server = None

    def now(self) -> datetime:
        return self.clock.now()

    # ---- Redis ------------------------------------------------------------------------------------------

    async def follow_snapshots(self) -> None:
        backoff = redis_backoff(self.config)
        while True:
            # the summary kept current from full parts and deltas (wallboard.delta), beginning with the stored
            # one, read once subscribed; a gap in seq resynchronises inside the stream
            stream = SnapshotStream(self.client, self.keys, agents=False, on_ready=self._stream_ready).parts()
            try:
                async for part in stream:
                    self.on_summary_model(part)  # type: ignore[arg-type]
                    backoff.reset()
                raise ConnectionError("subscription ended")
            except asyncio.CancelledError:
                raise
            except Exception as e:  # Redis gone or restarting: the screens keep the last state and go stale
                self.set_redis_connected(False)
                delay = backoff.next()
                log.warning("snapshot channel: %s; retrying in %.1fs", e, delay)
                await asyncio.sleep(delay)
            finally:
                await stream.aclose()

    def _stream_ready(self) -> None:
        """Subscribed and the stored summary read (there may be none yet)."""
        self.set_redis_connected(True)
        self._synced.set()

    def set_redis_connected(self, ok: bool) -> None:
        """Tell the screens at once when the hub loses or regains Redis (``stale`` in the heartbeat), rather
        than leave them to notice the data's age ``stale_after_s`` later."""
        if ok == self.redis_connected:
            return
        self.redis_connected = ok
        log.log(
            logging.INFO if ok else logging.WARNING,
            "Redis %s: screens told the data is %s",
            "back" if ok else "lost",
            "live" if ok else "stale",
        )
        self.send_heartbeat()

    def on_summary(self, text: str | None) -> None:
        if not text:
            return
        try:
            s = Summary.model_validate_json(text)
        except (ValidationError, ValueError) as e:
            log.warning("ignored a malformed summary: %s", str(e)[:200])
            return
        self.on_summary_model(s)

    def on_summary_model(self, s: Summary) -> None:
        old = self.summary
        if old is not None and s.seq <= old.seq and s.at <= old.at:
            # older, or the stored summary and its publication, seen twice; but a full summary sent after the delta
            # to it (the same seq and time: ``DeltaPublisher.publish``) brings the waits up to date
            if (s.seq, s.at) != (old.seq, old.at) or s == old:
                return
        now = self.now()
        self.ingest_lag_s = (now - s.at).total_seconds()
        self.summary = s
        self.summaries_received += 1
        record_trends(self.trends, s, self.config, self._trend_keys)
        self.projections.clear()
        started = time.perf_counter()
        for name in list(self.fanout.by_layout):
            self.fanout.publish(name, "update", encode("update", now, **self._projection(name)))
        self.fanout_s_sum += time.perf_counter() - started
        self.fanout_count += 1

    def _projection(self, layout: str) -> dict[str, Any]:
        """The layout's projection of the latest summary (computed once per summary and layout)."""
        cached = self.projections.get(layout)
        if cached is None:
            cached = (
                project(self.summary, self.layouts[layout], self.config, self.trends)
                if self.summary
                else {"snapshot": None, "queues": [], "total": None, "alerts": []}
            )
            self.projections[layout] = cached
        return cached

    async def follow_ticker(self) -> None:
        while True:
            try:
                text = await read_ticker(self.client, self.keys)
                if text != self.ticker:
                    self.ticker = text
                    data = encode("ticker", self.now(), text=text)
                    for name in list(self.fanout.by_layout):
                        self.fanout.publish(name, "ticker", data)
            except asyncio.CancelledError:
                raise
            except Exception as e:
                log.debug("ticker read failed: %s", e)
            await asyncio.sleep(self.config.hub.ticker_poll_s)

    async def heartbeats(self) -> None:
        while True:
            await asyncio.sleep(self.config.hub.heartbeat_s)
            self.send_heartbeat()

    def send_heartbeat(self) -> None:
        data = encode(
            "heartbeat",
            self.now(),
            snapshot_at=utc(self.summary.at) if self.summary else None,
            stale=not self.redis_connected,
        )
        for name in list(self.fanout.by_layout):
            self.fanout.publish(name, "heartbeat", data)

    # ---- HTTP -------------------------------------------------------------------------------------------

    def process_request(self, conn: ServerConnection, request: Request) -> Response | None:
        path = urlsplit(request.path).path
        if path == "/ws":
            return None
        if path == "/healthz":
            status = self.health()
            age = self.snapshot_age_s()
            body = {
                "status": status,
                "clients": len(self.fanout.clients()),
                "snapshot_seq": self.summary.seq if self.summary else None,
                "snapshot_at": utc(self.summary.at) if self.summary else None,
                "snapshot_age_s": round(age, 1) if age is not None else None,
                "stale_after_s": self.config.display.stale_after_s,
                "at": iso_ms(self.now()),
            }
            return _response(200 if status == "ok" else 503, json.dumps(body).encode(), "application/json")
        if path == "/metrics":
            addr = conn.remote_address
            denied = self.access.metrics_denied(request.headers.get("Authorization"), addr[0] if addr else None)
            if denied is not None:
                self.stats.refused["metrics"] += 1
                log.warning("refused %s: %s", _peer(conn), denied)
                return _response(
                    401,
                    (denied + "\n").encode(),
                    "text/plain; charset=utf-8",
                    [("WWW-Authenticate", 'Bearer realm="wallboard"')],
                )
            return _response(200, self.metrics_text().encode(), telemetry.CONTENT_TYPE)
        if path in STATIC:
            return _response(
                200,
                self._static[path],
                STATIC[path][1],
                [
                    ("Cache-Control", "no-cache"),
                    ("Content-Security-Policy", CSP),
                    ("X-Content-Type-Options", "nosniff"),
                    ("Referrer-Policy", "no-referrer"),
                ],
            )
        return _response(404, b"not found\n", "text/plain; charset=utf-8")

    def snapshot_age_s(self) -> float | None:
        """Seconds since the latest summary was computed (its server time), now: it grows while snapshots stop."""
        at = self.summary.at if self.summary else None
        return max(0.0, (self.now() - at).total_seconds()) if at else None

    def health(self) -> str:
        """``ok``; or why the TVs show stale data: Redis lost, no snapshot yet, or snapshots stopped (older than
        ``display.stale_after_s``: the same limit at which every screen says so)."""
        if not self.redis_connected:
            return "redis unavailable"
        age = self.snapshot_age_s()
        if age is None:
            return "no snapshot yet (is ingest running?)"
        if age > self.config.display.stale_after_s:
            return f"stale: no snapshot for {age:.0f} s (is ingest running?)"
        return "ok"

    def metrics_text(self) -> str:
        """The Prometheus exposition (``prometheus_client``; the names, help texts and labels in
        ``wallboard.telemetry``), read from the hub's state at scrape time."""
        return telemetry.text(self.metrics_registry).decode()

    # ---- websocket --------------------------------------------------------------------------------------

    async def refuse(self, conn: ServerConnection, code: int, kind: str, reason: str) -> None:
        self.stats.refused[kind] += 1
        log.warning("refused %s: %s", _peer(conn), reason)
        await conn.close(code, reason.encode()[:120].decode(errors="ignore"))  # a close reason is <= 123 bytes

    async def handler(self, conn: ServerConnection) -> None:
        self.stats.connections_total += 1
        request = conn.request
        query = parse_qs(urlsplit(request.path).query)
        origin = request.headers.get("Origin")
        if not self.access.origin_allowed(origin, request.headers.get("Host")):
            return await self.refuse(conn, CloseCode.POLICY_VIOLATION, "origin", f"origin not allowed: {origin}")
        name = (query.get("layout") or [None])[0]
        if name is None and len(self.layouts) == 1:
            name = next(iter(self.layouts))
        if name is None:  # the bare "/": say which layouts there are, not "unknown layout None"
            return await self.refuse(
                conn,
                CloseCode.POLICY_VIOLATION,
                "layout",
                "no layout in the URL: open /?layout=NAME&token=TOKEN with NAME one of " + ", ".join(self.layouts),
            )
        if name not in self.layouts:
            return await self.refuse(conn, CloseCode.POLICY_VIOLATION, "layout", f"unknown layout {name!r}")
        layout = self.layouts[name]
        try:
            ident = self.access.identify(layout, (query.get("token") or [None])[0])
        except Denied as e:
            return await self.refuse(conn, CloseCode.POLICY_VIOLATION, "token", str(e))
        cap_kernel_buffer(conn, self.config.hub.write_buffer_bytes)
        client = Client(conn, name, ident.role, ident.user, ident.token, _peer(conn))
        client.expires = ident.expires
        state = encode(
            "state",
            self.now(),
            layout=layout_info(layout, self.config),
            role=ident.role,
            user=ident.user,
            ticker=self.ticker,
            stale=not self.redis_connected,
            **self._projection(name),
        )
        self.fanout.add(client)
        self.fanout.send([client], "update", state)
        log.info("%s %s connected to layout %s from %s", ident.role, ident.user or "", name, client.peer)
        expiry = None
        if ident.expires is not None:  # a signed token ends: so does the connection it opened
            delay = max(0.0, ident.expires - self.now().timestamp())
            expiry = asyncio.get_running_loop().create_task(self._close_at_expiry(client, delay))
        try:
            async for raw in conn:
                if not await self.on_message(client, raw):
                    break
        except ConnectionClosed as e:
            if e.sent is not None and e.sent.code == CloseCode.MESSAGE_TOO_BIG:
                self.stats.refused["oversized"] += 1
                log.warning("refused %s: a message over %d bytes", client.peer, self.config.hub.max_message_bytes)
        finally:
            if expiry is not None:
                expiry.cancel()
            self.fanout.remove(client)

    async def _close_at_expiry(self, client: Client, delay: float) -> None:
        await asyncio.sleep(delay)
        await self.refuse(
            client.conn, CloseCode.POLICY_VIOLATION, "expired", "token expired: open the kiosk URL with a new token"
        )

    def _over_rate(self, client: Client) -> str | None:
        """None when the connection and its user may send one more request now; else the reason."""
        now = asyncio.get_running_loop().time()
        hub = self.config.hub
        if client.bucket is None:
            client.bucket = Bucket(hub.connection_rate_per_s, hub.connection_burst, now)
        per_min = self.config.security.action_rate_per_min
        user = self.user_buckets.get(client.user or "")
        if user is None:
            user = self.user_buckets[client.user or ""] = Bucket(per_min / 60, per_min, now)
        if not client.bucket.take(now):
            return f"rate limit: more than {hub.connection_rate_per_s:g} requests a second on this connection"
        if not user.take(now):
            return f"rate limit: more than {per_min} requests a minute from {client.user}"
        return None

    async def on_message(self, client: Client, raw: str | bytes) -> bool:
        """Handle one message from a screen; False when the connection was closed for it."""
        conn = client.conn
        if client.role != "supervisor":
            await self.refuse(
                conn, CloseCode.POLICY_VIOLATION, "read-only", "read-only: a viewer token cannot send messages"
            )
            return False
        if client.expires is not None and client.expires <= self.now().timestamp():
            await self.refuse(
                conn, CloseCode.POLICY_VIOLATION, "expired", "token expired: open the kiosk URL with a new token"
            )
            return False
        over = self._over_rate(client)
        if over is not None:  # refused here, counted, never put on the request stream
            self.stats.refused["rate"] += 1
            # told once a second at most: a flood answered frame by frame would be a flood back (and the
            # client, not reading it as fast, dropped as too slow before the hub has read what it sent)
            now = self.now().timestamp()
            if client.rate_noticed is None or now - client.rate_noticed >= RATE_NOTICE_S:
                client.rate_noticed = now
                self.fanout.send([client], "refused", encode("refused", self.now(), reason=over))
            return True
        try:
            msg = parse_client_message(raw)
        except Malformed as e:
            await self.refuse(conn, CloseCode.INVALID_DATA, "malformed", f"malformed message: {e}")
            return False
        denied = self.access.may(client.user or "", msg.type, msg.queue)
        if denied is None and self.summary is not None and msg.queue not in self.summary.queues:
            denied = f"no queue {msg.queue!r}"
        if denied is not None:
            self.stats.refused["permission"] += 1
            log.warning("refused %s from %s: %s", msg.type, client.user, denied)
            self.fanout.send([client], "refused", encode("refused", self.now(), reason=denied))
            return True
        req = to_request(msg, client.user or "", self.now())
        try:
            [rid] = await submit(self.client, self.keys, [req], client.token)
        except Exception as e:
            log.warning("request from %s not sent: %s", client.user, e)
            self.fanout.send([client], "refused", encode("refused", self.now(), reason="request stream unavailable"))
            return True
        self.stats.requests_sent += 1
        log.info("%s %s %s/%s (request %s)", client.user, msg.type, msg.queue, msg.metric, rid)
        self.fanout.send([client], "accepted", encode("accepted", self.now(), id=rid, request=to_fields(req)))
        return True


def _peer(conn: ServerConnection) -> str:
    addr = conn.remote_address
    return f"{addr[0]}:{addr[1]}" if addr else "?"


def _response(status: int, body: bytes, content_type: str, extra: list[tuple[str, str]] = ()) -> Response:
    import http

    headers = Headers(
        [
            ("Date", email.utils.formatdate(usegmt=True)),
            ("Content-Length", str(len(body))),
            ("Content-Type", content_type),
            *extra,
        ]
    )
    return Response(status, http.HTTPStatus(status).phrase, headers, body)
