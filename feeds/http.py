"""``http``: events POSTed over HTTP, by our own model or through a webhook mapping (see docs/HTTP_FEED.md).

``wallboard ingest --feed http --host H --port P`` runs an aiohttp server in the ingester's loop:

- ``POST /events`` (the source is the one whose token the request bears) or ``POST /events/<source>``: one
  JSON object or an array of them. A source without a mapping sends our events (``docs/events.schema.json``,
  written by ``python -m feeds.http schema``); a source with a mapping (``feeds/mappings/NAME.toml``,
  ``kind = "webhook"``) sends its platform's webhook payloads, each turned into one event (or none).
- ``GET /healthz``: 200 while the feed is serving.

Order of the checks, cheapest first, so that what is refused costs nothing downstream: the route; the
bearer token (per source, compared in constant time as SHA-256 digests, never logged: 401); the source's
token bucket must hold a token (429 + ``Retry-After``, body unread); the content type (415); the body size
(``Content-Length`` or the bytes read: 413; a body that does not arrive within ``body_timeout_s``: 408); the
JSON (400, and a dead letter with the reason); the number of items (413); the bucket is charged one token
per item (429: the whole POST is refused, nothing of it applied); room in the queue towards the engine (503
+ ``Retry-After``: a stuck Redis is not buffered without bound). Then each item is validated on its own: a
good one goes to the engine, a bad one to the dead letters (``http:<source>:<index>``, with the reason) and
to ``rejected`` in the answer: ``202 {"accepted": n, "duplicates": d, "ignored": i, "rejected": [{"index":
i, "reason": ...}]}``.

**Idempotency.** An event's ``id`` is its idempotency key. The engine counts by meaning (a queue entry's
transition moves its counters once, whatever its id), so a retried POST never counts twice; the answer tells
``duplicates`` (ids this process accepted before with the same content), and an id accepted before with a
*different* content is a dead letter (an idempotency key names one event). The ``source`` of an event is
set here to ``http:<source>`` (the authenticated one), whatever the body says.

**A conversation never opened.** An exit (answered, abandoned, overflowed, callback) with no ``wait_s`` takes
its wait from the conversation's queue entry in Redis, wherever and whenever its join was applied (before a
restart of this ingester, by another one). With no entry there it would count as a join and an exit in the
same second (a wait of 0, inside the service level): the engine refuses it as a dead letter instead
(``wallboard.feed.EXITS_NEED_THEIR_ENTRY``), after the 202, as only Redis knows. Give the wait (a mapping
does, from the conversation's start time) and the engine records the join the exit implies. A close or a
wrap-up of a conversation with no entry in Redis is refused the same way (it carries no wait to imply one).

**What this process remembers** (the last 100,000 each, lost at a restart): the ids it accepted, only to tell
``duplicates`` and an id reused for another event in the answer (the engine counts by meaning either way);
and each conversation's answer time, for a mapping whose payloads give none (``fields.answered_at``): a close's
handle time, and whether a close naming no agent is the end of an answered conversation (docs/HTTP_FEED.md).

**202 means** validated and queued for the engine (applied within ``FLUSH_S``, 50 ms); should the process
die in between, those events are lost unless re-sent, and re-sending is always safe.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import math
import os
import re
import sys
from collections import OrderedDict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, AsyncIterator, Literal, Union
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError, field_validator, model_validator

from feeds.mapping_file import load_mapping_file
from wallboard.channels import Channel, channel_problem
from wallboard.clock import Clock, SystemClock
from wallboard.config import WallboardConfig
from wallboard.events import (
    EVENT_ADAPTER,
    OVERFLOW_REASONS,
    CallerAnswered,
    CallerJoined,
    Event,
    OverflowReason,
)
from wallboard.feed import DeadLetter, FeedOptions, LiveFeed, Redrivable, build_options
from wallboard.ratelimit import Bucket

try:  # the event model's time bounds follow the ingester's clock (where the model has them)
    from wallboard.events import wall_clock
except ImportError:  # pragma: no cover - an event model without time bounds
    from contextlib import nullcontext as _null

    def wall_clock(clock):
        return _null()


__all__ = ["HttpFeed", "HttpOptions", "HttpSource", "WebhookMapping", "events_schema_json", "load_webhook_mapping"]

log = logging.getLogger("wallboard.feeds.http")

_NAME_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
MIN_TOKEN_CHARS = 16
_REMEMBER = 100_000  # ids, answers and joins remembered (each a bounded FIFO)


# ---- options ---------------------------------------------------------------------------------------------


class HttpSource(BaseModel):
    """One sender: its token (from the environment or a secret file), and optionally a webhook mapping."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)

    token_env: str | None = Field(None, description="Environment variable holding this source's bearer token.")
    token_file: Path | None = Field(None, description="Or a file holding it (beats token_env).")
    mapping: str | None = Field(
        None, description="A webhook mapping (built-in name or TOML path); unset = our events as JSON."
    )
    rate_per_s: float | None = Field(None, gt=0, le=1e6, description="Events a second, sustained (unset: the feed's).")
    burst: int | None = Field(None, ge=1, le=10_000_000, description="Events at once (unset: the feed's).")


class HttpOptions(FeedOptions):
    """``[feeds.http]`` in the config; ``--host``/``--port``/``--feed-opt`` on the command line beat it. Tokens
    are never options: each source names the environment variable or file holding its own."""

    host: str = Field("127.0.0.1", min_length=1, description="Listen on this address. Shortcut: --host.")
    port: int = Field(8780, ge=0, le=65535, description="0 = any free port.")
    max_body_bytes: int = Field(1 << 20, ge=256, le=64 << 20, description="Largest POST body.")
    max_events: int = Field(1000, ge=1, le=100_000, description="Most items in one POST.")
    max_pending: int = Field(20_000, ge=1, description="Items queued towards the engine; past it 503.")
    body_timeout_s: float = Field(30, gt=0, le=3600, description="A body not read within this long: 408.")
    rate_per_s: float = Field(200, gt=0, le=1e6, description="Events a source may send a second, sustained.")
    burst: int = Field(2000, ge=1, le=10_000_000, description="Events a source may send at once.")
    token_env: str = Field(
        "WALLBOARD_HTTP_TOKEN",
        description="The token of the implicit source 'default' (used when no [feeds.http.sources.*] is configured).",
    )
    mapping: str | None = Field(None, description="Mapping of the implicit source 'default'.")
    sources: dict[str, HttpSource] = Field(
        default_factory=dict,
        description="[feeds.http.sources.NAME]: one "
        "table per sender (token_env or token_file, mapping, rate_per_s, "
        "burst); config only.",
    )

    @classmethod
    def secret_hint(cls, config: WallboardConfig) -> str:
        return "name the variable holding a token with token_env, or its file with token_file"

    @field_validator("sources")
    @classmethod
    def _names(cls, v: dict[str, HttpSource]) -> dict[str, HttpSource]:
        for name in v:
            if not _NAME_RE.match(name):
                raise ValueError(f"source name {name!r}: use 1-64 letters, digits, '_' or '-'")
        return v

    @model_validator(mode="after")
    def _burst_fits(self) -> HttpOptions:
        for name, src in self.all_sources().items():
            burst = src.burst or self.burst
            if burst < self.max_events:
                raise ValueError(
                    f"source {name!r}: burst {burst} is below max_events {self.max_events}, so a "
                    "full POST could never pass the rate limit"
                )
        return self

    def all_sources(self) -> dict[str, HttpSource]:
        if self.sources:
            return self.sources
        return {"default": HttpSource(token_env=self.token_env, mapping=self.mapping)}


# ---- webhook mappings ------------------------------------------------------------------------------------

Meaning = Literal["joined", "answered", "abandoned", "overflowed", "completed", "ignore"]


class _Conditional(BaseModel):
    model_config = ConfigDict(extra="forbid")

    meaning: Meaning
    without_agent: Meaning | None = Field(None, description="What it means when the payload names no agent.")


class _Fields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    event: str = Field(description="Path of the platform's event name.")
    conversation_id: str
    at: str = Field(description="Path of the time it happened.")
    queue: str | None = None
    started_at: str | None = Field(None, description="When the customer opened it (gives the wait).")
    answered_at: str | None = Field(None, description="When an agent accepted it (gives the handle time).")
    agent: str | None = None
    customer: str | None = None
    id: str | None = Field(None, description="The delivery's own id (else conversation:meaning:time).")
    reason: str | None = Field(None, description="An overflow's reason (timeout, empty, key, withdrawn, callback).")


class WebhookMapping(BaseModel):
    """One webhook mapping file (``kind = "webhook"``; see feeds/mappings/chat_webhook.toml)."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["webhook"]
    name: str = ""
    description: str = ""
    items: str | None = Field(
        None,
        description="Path of the array of events inside an envelope; unset = the "
        "body is one event or an array of them.",
    )
    time_format: Literal["iso", "epoch", "epoch_ms"] = "iso"
    timezone: str | None = Field(None, description="Zone of ISO times without an offset (unset: UTC).")
    queue: str | None = Field(None, description="Queue when the payload names none.")
    channel: Channel | None = Field(None, description="The events' channel: must be the queue's (wallboard.channels).")
    overflow_reason: OverflowReason = "timeout"
    unknown_events: Literal["reject", "ignore"] = "reject"
    fields: _Fields
    events: dict[str, Union[Meaning, _Conditional]]
    queue_names: dict[str, str] = Field(default_factory=dict)

    @field_validator("timezone")
    @classmethod
    def _zone(cls, v: str | None) -> str | None:
        if v is not None:
            try:
                ZoneInfo(v)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"unknown time zone {v!r}") from None
        return v


def load_webhook_mapping(spec: str) -> WebhookMapping:
    return load_mapping_file(spec, WebhookMapping, "webhook mapping")[0]


class _Bad(Exception):
    """An item that cannot become an event; the message is the dead letter's reason."""


def _get(obj: Any, path: str | None) -> Any:
    """The value at a dotted path (``conversation.agent.id``; a number indexes a list), or None."""
    if path is None:
        return None
    for part in path.split("."):
        if isinstance(obj, dict):
            obj = obj.get(part)
        elif isinstance(obj, list) and part.isdigit() and int(part) < len(obj):
            obj = obj[int(part)]
        else:
            return None
        if obj is None:
            return None
    return obj


def _text(v: Any) -> str | None:
    if v is None or isinstance(v, (dict, list)) or v == "":
        return None
    if isinstance(v, bool):
        return str(v).lower()
    if isinstance(v, float) and v.is_integer():
        v = int(v)
    return str(v)


# ---- the feed --------------------------------------------------------------------------------------------


class _SourceState:
    __slots__ = ("name", "digest", "mapping", "bucket", "rate")

    def __init__(self, name: str, digest: bytes | None, mapping: WebhookMapping | None, rate: float, burst: int):
        self.name, self.digest, self.mapping, self.rate = name, digest, mapping, rate
        self.bucket = Bucket(rate, burst, 0.0)


def _fill(bucket: Bucket, now: float) -> float:
    """The bucket's tokens now (refilled; nothing taken)."""
    bucket.tokens = min(bucket.burst, bucket.tokens + (now - bucket.at) * bucket.rate)
    bucket.at = now
    return bucket.tokens


class _Fifo(OrderedDict):
    """A bounded memory: the oldest entry goes when it is full."""

    def remember(self, key: Any, value: Any) -> None:
        self[key] = value
        self.move_to_end(key)
        if len(self) > _REMEMBER:
            self.popitem(last=False)


class HttpFeed:
    name = "http"
    Options = HttpOptions
    provides = (LiveFeed, Redrivable)

    def __init__(
        self,
        path: str | os.PathLike[str] | None,
        config: WallboardConfig,
        host: str | None = None,
        port: int | str | None = None,
        mapping: str | None = None,
        **options: Any,
    ):
        """``path``: unset for a live feed; a source name when ``wallboard deadletter --redrive`` builds the
        feed to read a dead letter again (no server, no tokens)."""
        given = {"host": host, "port": port, "mapping": mapping, **options}
        self.options = build_options(HttpOptions, self.name, config, given)
        self.config = config
        self.redrive_source = os.fspath(path) if path else None
        self.sources: dict[str, _SourceState] = {}
        for name, src in self.options.all_sources().items():
            if self.redrive_source is not None and name != self.redrive_source:
                continue
            digest = None if self.redrive_source else hashlib.sha256(_token(name, src).encode()).digest()
            m = load_webhook_mapping(src.mapping) if src.mapping else None
            self.sources[name] = _SourceState(
                name, digest, m, src.rate_per_s or self.options.rate_per_s, src.burst or self.options.burst
            )
        digests = [st.digest for st in self.sources.values() if st.digest is not None]
        if len(set(digests)) != len(digests):
            raise ValueError("http: two sources share a token; each source needs its own (it names the source)")
        if self.redrive_source is not None and self.redrive_source not in self.sources:
            raise ValueError(f"http: no source {self.redrive_source!r} under [feeds.http.sources]")
        self._ids: _Fifo = _Fifo()  # "source\0id" -> digest of the event accepted with it
        self._answered_at: _Fifo = _Fifo()  # (call_id, queue) -> epoch of its answer (a mapping's handle time)
        self._opened: _Fifo = _Fifo()  # (call_id, queue) joined here -> None (a close naming no agent: _was_answered)
        self._since: float | None = None  # when this process began serving (epoch): what began later it has seen
        self._q: asyncio.Queue | None = None
        self._clock: Clock = SystemClock()
        self.started = asyncio.Event()
        self.bound_port: int | None = None
        self.counters = {"accepted": 0, "duplicates": 0, "ignored": 0, "rejected": 0, "refused": 0}

    # ---- serving ---------------------------------------------------------------------------------------

    async def follow(self, clock: Clock | None = None) -> AsyncIterator[Event | DeadLetter]:
        from aiohttp import web

        self._clock = clock or SystemClock()
        self._since = self._clock.now().timestamp()
        self._q = asyncio.Queue()  # bounded by the handler's check against max_pending
        app = web.Application(client_max_size=self.options.max_body_bytes)
        app.router.add_post("/events", self._handle)
        app.router.add_post("/events/{source}", self._handle)
        app.router.add_get("/healthz", self._healthz)
        runner = web.AppRunner(app, access_log=None, handle_signals=False, shutdown_timeout=1.0)  # no access log
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.options.host, self.options.port)
            await site.start()
            self.bound_port = runner.addresses[0][1]
            log.info(
                "http feed listening on %s:%s (sources: %s)",
                self.options.host,
                self.bound_port,
                ", ".join(self.sources),
            )
            self.started.set()
            while True:
                yield await self._q.get()
        finally:
            self.started.clear()
            await runner.cleanup()

    async def _healthz(self, request) -> Any:
        from aiohttp import web

        return web.json_response({"status": "ok", "pending": self._q.qsize() if self._q else 0})

    def _refuse(self, status: int, reason: str, headers: dict | None = None) -> Any:
        from aiohttp import web

        self.counters["refused"] += 1
        return web.json_response({"error": reason}, status=status, headers=headers)

    def _authenticate(self, request) -> _SourceState | None:
        """The source the request's bearer token belongs to (the one in the path, if it names one)."""
        auth = request.headers.get("Authorization", "")
        scheme, _, given = auth.partition(" ")
        if scheme.lower() != "bearer" or not given.strip():
            return None
        digest = hashlib.sha256(given.strip().encode("utf-8", "replace")).digest()
        wanted = request.match_info.get("source")
        found = None
        for src in self.sources.values():  # every digest compared, in constant time: no early exit
            if hmac.compare_digest(digest, src.digest or b"") and (wanted is None or wanted == src.name):
                found = src
        return found

    async def _handle(self, request) -> Any:
        from aiohttp import web

        src = self._authenticate(request)
        if src is None:
            return self._refuse(
                401,
                "a valid bearer token for this source is required",
                {"WWW-Authenticate": 'Bearer realm="wallboard"'},
            )
        loop = asyncio.get_running_loop()
        if _fill(src.bucket, loop.time()) < 1:  # a flood is refused before its body is read
            return self._refuse(429, "rate limit", {"Retry-After": _retry_after(src, 1)})
        ctype = request.content_type
        if ctype != "application/json" and not (ctype.startswith("application/") and ctype.endswith("+json")):
            return self._refuse(415, f"content type {ctype or '(none)'!r}: send application/json")
        if request.content_length is not None and request.content_length > self.options.max_body_bytes:
            return self._refuse(413, f"body over {self.options.max_body_bytes} bytes")
        try:
            body = await asyncio.wait_for(request.read(), self.options.body_timeout_s)
        except web.HTTPRequestEntityTooLarge:
            return self._refuse(413, f"body over {self.options.max_body_bytes} bytes")
        except asyncio.TimeoutError:
            return self._refuse(408, f"the body did not arrive within {self.options.body_timeout_s:g} s")
        text = body.decode("utf-8", errors="replace").lstrip("\ufeff")
        try:
            data = json.loads(text)
        except (ValueError, RecursionError) as e:
            src.bucket.take(loop.time())
            reason = f"malformed JSON: {e}" if isinstance(e, ValueError) else "malformed JSON: nested too deep"
            self._put([DeadLetter(f"http:{src.name}:body", reason, text)])
            return self._refuse(400, reason)
        try:
            items = self._items(src, data)
        except _Bad as e:
            src.bucket.take(loop.time())
            self._put([DeadLetter(f"http:{src.name}:body", str(e), text)])
            return self._refuse(400, str(e))
        if len(items) > self.options.max_events:
            return self._refuse(413, f"{len(items)} items in one POST; at most {self.options.max_events}")
        cost = max(1, len(items))
        if _fill(src.bucket, loop.time()) < cost:
            return self._refuse(429, "rate limit", {"Retry-After": _retry_after(src, cost)})
        if self._q is None or self._q.qsize() + len(items) > self.options.max_pending:
            return self._refuse(503, "the ingester is behind (is Redis away?); try again", {"Retry-After": "1"})
        src.bucket.tokens -= cost
        with wall_clock(self._clock):  # the event model's time bounds follow the ingester's clock
            out, answer = self._admit(src, items)
        self._put(out)
        for k in ("accepted", "duplicates", "ignored"):
            self.counters[k] += answer[k]
        self.counters["rejected"] += len(answer["rejected"])
        return web.json_response(answer, status=202)

    def _put(self, items: list) -> None:
        if self._q is not None:
            for it in items:  # no await between: one POST's items stay together and in order
                self._q.put_nowait(it)

    # ---- reading ---------------------------------------------------------------------------------------

    def _items(self, src: _SourceState, data: Any) -> list:
        if src.mapping is not None and src.mapping.items:
            inner = _get(data, src.mapping.items)
            if not isinstance(inner, list):
                raise _Bad(f"no array at {src.mapping.items!r} (the mapping's items)")
            return inner
        if isinstance(data, list):
            return data
        if isinstance(data, dict):
            return [data]
        raise _Bad("the body must be a JSON object or an array of them")

    def _admit(self, src: _SourceState, items: list) -> tuple[list, dict]:
        """Each item to an event (or none) or a dead letter; the answer to the POST."""
        out: list = []
        rejected: list[dict] = []
        accepted = duplicates = ignored = 0
        for i, item in enumerate(items):
            try:
                ev = self._event(src, item)
                if ev is None:
                    ignored += 1
                    continue
                dup = self._check(src, ev)
            except _Bad as e:
                reason = str(e)
                rejected.append({"index": i, "reason": reason})
                out.append(DeadLetter(f"http:{src.name}:{i}", reason, _raw(item)))
                continue
            accepted += 1
            duplicates += dup
            out.append(ev)
        return out, {"accepted": accepted, "duplicates": duplicates, "ignored": ignored, "rejected": rejected}

    def _event(self, src: _SourceState, item: Any) -> Any:
        if not isinstance(item, dict):
            raise _Bad(f"an item must be a JSON object, not {type(item).__name__}")
        data = _map(src.mapping, item, src.name, self) if src.mapping else dict(item)
        if data is None:
            return None
        data["source"] = f"http:{src.name}"
        try:
            return EVENT_ADAPTER.validate_python(data)
        except ValidationError as e:
            first = e.errors()[0]
            where = ".".join(str(p) for p in first["loc"]) or "(item)"
            raise _Bad(f"{where}: {first['msg']}") from None

    def _check(self, src: _SourceState, ev: Any) -> bool:
        """The checks across events (an id reused, a foreign channel); remembers the event. Returns whether the
        id was accepted before with the same content. (An exit of a conversation never opened is the engine's
        to judge: the feed cannot tell one from a conversation opened before its start.)"""
        key = f"{src.name}\0{ev.id}"
        digest = hashlib.sha256(ev.model_dump_json().encode()).digest()
        before = self._ids.get(key)
        if before is not None and before != digest:
            raise _Bad(f"id {ev.id[:80]!r} was accepted before for a different event (an id names one event)")
        conv = (getattr(ev, "call_id", None), getattr(ev, "queue", None))
        channel, queue = getattr(ev, "channel", None), conv[1]  # a queue's call events carry both
        if channel is not None and queue is not None and (problem := channel_problem(self.config, queue, channel)):
            raise _Bad(problem)
        if isinstance(ev, CallerAnswered):
            self._answered_at.remember(conv, ev.ts.timestamp())
        elif isinstance(ev, CallerJoined):
            self._opened.remember(conv, None)
        self._ids.remember(key, digest)
        return before is not None

    def parse_record(self, raw: str, where: str = "") -> list:
        """A dead letter read again (``wallboard deadletter --redrive``): its item(s) under today's code."""
        src = next(iter(self.sources.values()))
        try:
            data = json.loads(raw)
            items = self._items(src, data) if where == "body" else [data]
        except (ValueError, RecursionError, _Bad) as e:
            return [DeadLetter(f"http:{src.name}:{where}", f"malformed JSON: {e}", raw)]
        out, _ = self._admit(src, items)
        return out


def _map(m: WebhookMapping, item: dict, source: str, seen: HttpFeed) -> dict | None:
    """A platform's webhook payload -> our event as a dict (None: an event the mapping ignores); ``seen``: what
    the feed remembers of the conversations (their answer times, their starts, since when)."""
    answered_at = seen._answered_at
    f = m.fields
    name = _text(_get(item, f.event))
    if name is None:
        raise _Bad(f"no event name at {f.event!r}")
    rule = m.events.get(name)
    if rule is None:
        if m.unknown_events == "ignore":
            return None
        raise _Bad(f"unknown event {name[:80]!r} at {f.event!r} (mapped: {', '.join(sorted(m.events))})")
    agent = _text(_get(item, f.agent))
    if isinstance(rule, str):
        meaning = rule
    elif agent is None and rule.without_agent is not None:
        taken = _was_answered(m, item, seen)
        if taken is None:
            raise _Bad(
                f"event {name[:80]!r} names no agent and gives no answer time (fields.answered_at), and this ingester "
                "has seen neither the conversation's start nor its answer (it began before this ingester's start): "
                "whether an agent took it is unknown, so it is not counted; map the platform's answer time"
            )
        meaning = rule.meaning if taken else rule.without_agent
    else:
        meaning = rule.meaning
    if meaning == "ignore":
        return None
    conv = _text(_get(item, f.conversation_id))
    if conv is None:
        raise _Bad(f"no conversation id at {f.conversation_id!r}")
    queue = _text(_get(item, f.queue)) or m.queue
    if queue is None:
        raise _Bad(f"no queue at {f.queue!r} and the mapping names no default queue")
    queue = m.queue_names.get(queue, queue)
    at = _time(m, item, f.at, required=True)
    assert at is not None
    d: dict[str, Any] = {"queue": queue, "call_id": conv, "ts": datetime.fromtimestamp(at, timezone.utc)}
    d["id"] = _text(_get(item, f.id)) or f"{source}:{conv}:{meaning}:{at:.3f}"
    if m.channel is not None:
        d["channel"] = m.channel
    started = _time(m, item, f.started_at)
    wait = None if started is None else at - started
    if wait is not None and wait < 0:
        raise _Bad(f"{f.at!r} is before {f.started_at!r} (a negative wait)")
    if meaning == "joined":
        d.update(type="caller_joined", caller=_text(_get(item, f.customer)))
    elif meaning == "answered":
        d.update(type="caller_answered", agent=agent, wait_s=wait)
    elif meaning == "abandoned":
        d.update(type="caller_abandoned", wait_s=wait)
    elif meaning == "overflowed":
        reason = _text(_get(item, f.reason)) or m.overflow_reason
        if reason not in OVERFLOW_REASONS:
            raise _Bad(f"overflow reason {reason[:40]!r} at {f.reason!r} is not one of {OVERFLOW_REASONS}")
        d.update(type="caller_overflowed", reason=reason, wait_s=wait)
    else:  # completed: handle time from the answer (the payload's, else the one seen here)
        answered = _time(m, item, f.answered_at)
        if answered is None:
            answered = answered_at.get((conv, queue))
        if answered is None:
            raise _Bad(
                f"a close with no answer time: nothing at {f.answered_at!r} and no answer seen for "
                f"conversation {conv!r} in queue {queue!r} by this ingester (since its start)"
            )
        if at < answered:
            raise _Bad(f"{f.at!r} is before the answer (a negative handle time)")
        d.update(type="call_completed", agent=agent, talk_s=at - answered)
    return d


def _was_answered(m: WebhookMapping, item: dict, seen: HttpFeed) -> bool | None:
    """An agent took the conversation (the payload's answer time, else the answer seen here): an event meaning
    one thing without an agent (a close: abandoned) means the other once it was answered (the customer closed
    it: completed, which ends the answering agent's conversation). Not taken: the mapping reads an answer time
    and the payload's is empty, or this process saw the conversation start (its join, or a start time after the
    process began serving) and no answer. None: unknown (a
    conversation begun before this process started, and a mapping without an answer time: this process's
    memory is all it has, and guessing "abandoned" would lose the completion of an answered one)."""
    f = m.fields
    if _get(item, f.answered_at) not in (None, ""):
        return True
    queue = _text(_get(item, f.queue)) or m.queue
    conv = (_text(_get(item, f.conversation_id)), m.queue_names.get(queue, queue) if queue else None)
    if conv in seen._answered_at:
        return True
    if f.answered_at is not None or conv in seen._opened:
        return False
    started = _time(m, item, f.started_at)
    if started is not None and seen._since is not None and started >= seen._since:
        return False
    return None


def _time(m: WebhookMapping, item: dict, path: str | None, required: bool = False) -> float | None:
    v = _get(item, path)
    if v is None or v == "":
        if required:
            raise _Bad(f"no time at {path!r}")
        return None
    try:
        if m.time_format in ("epoch", "epoch_ms"):
            if isinstance(v, bool):
                raise ValueError
            t = float(v) / (1000 if m.time_format == "epoch_ms" else 1)
        else:
            if not isinstance(v, str):
                raise ValueError
            dt = datetime.fromisoformat(v.replace("Z", "+00:00") if v.endswith("Z") else v)
            if dt.tzinfo is None:
                dt = dt.replace(tzinfo=ZoneInfo(m.timezone) if m.timezone else timezone.utc)
            t = dt.timestamp()
    except (ValueError, TypeError, OverflowError):
        raise _Bad(f"{path!r}: {str(v)[:40]!r} is not a time ({m.time_format})") from None
    if not math.isfinite(t) or not 0 <= t < 1e11:
        raise _Bad(f"{path!r}: {str(v)[:40]!r} is out of range")
    return t


def _raw(item: Any) -> str:
    try:
        return json.dumps(item, ensure_ascii=False, separators=(",", ":"))
    except (ValueError, TypeError):
        return repr(item)


def _retry_after(src: _SourceState, cost: int) -> str:
    """Whole seconds until the bucket holds ``cost`` tokens (at least 1)."""
    return str(max(1, math.ceil((cost - src.bucket.tokens) / src.rate)))


def _token(name: str, src: HttpSource) -> str:
    """The source's token, from its secret file or environment variable; ValueError naming where to put it
    (never the value)."""
    if src.token_file is not None:
        try:
            value = src.token_file.read_text(encoding="utf-8").strip()
        except OSError as e:
            raise ValueError(
                f"http: source {name!r}: cannot read token_file {str(src.token_file)!r}: {e.strerror}"
            ) from None
    else:
        env = src.token_env or f"WALLBOARD_HTTP_TOKEN_{name.upper().replace('-', '_')}"
        value = os.environ.get(env, "").strip()
        if not value:
            raise ValueError(
                f"http: source {name!r} has no token: set {env} in the environment (or token_file "
                f"under [feeds.http.sources.{name}])"
            )
    if len(value) < MIN_TOKEN_CHARS:
        raise ValueError(f"http: source {name!r}: the token is shorter than {MIN_TOKEN_CHARS} characters")
    return value


# ---- the committed schema --------------------------------------------------------------------------------


def events_schema() -> dict:
    """The JSON Schema of a POST /events body (one event or an array of them), from the pydantic models."""
    adapter: TypeAdapter = TypeAdapter(Union[Event, list[Event]])
    schema = adapter.json_schema(ref_template="#/$defs/{model}")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://wallboard.invalid/events.schema.json",
        "title": "wallboard events",
        "description": "The body of POST /events: one event or an array of events (wallboard.events). The "
        "server sets `source`; `id` is the event's idempotency key.",
        **schema,
    }


def events_schema_json() -> str:
    return json.dumps(events_schema(), indent=2, ensure_ascii=False, sort_keys=True) + "\n"


def _main(argv: list[str]) -> int:
    if argv[:1] == ["schema"]:
        target = Path(__file__).resolve().parent.parent / "docs" / "events.schema.json"
        if argv[1:2] == ["--check"]:
            return 0 if target.is_file() and target.read_text(encoding="utf-8") == events_schema_json() else 1
        target.write_text(events_schema_json(), encoding="utf-8")
        print(f"wrote {target}")
        return 0
    print("usage: python -m feeds.http schema [--check]", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(_main(sys.argv[1:]))
