"""Each long-running process's own figures for Prometheus, defined here and nowhere else: names, help texts,
label sets (``SPECS``), the objects each process counts with, the ``--metrics-port`` endpoint, and the
liveness marks behind ``--check``.

Every process object (``Ingest``, ``Executor``, ``ReportScheduler``, ``Notifier``, ``Hub``) makes its own
``CollectorRegistry``: nothing is registered globally, so two processes (or two tests) in one interpreter never
share a counter. Counters move where the work is done (a one-line hook); figures the process already keeps
(Redis up, lease held, snapshot age) are read at scrape time by callbacks.

``--metrics-port PORT`` (default off) serves ``/metrics`` with ``prometheus_client``'s own HTTP server (a
daemon thread) on ``--metrics-host`` (default 127.0.0.1: the figures name queues and users; expose them
further on purpose, e.g. behind the same reverse proxy as the hub). The hub (``wallboard serve``) needs no
flag: its ``/metrics`` is on its own port, behind its bearer token or loopback rule (``hub.auth``).

The Grafana dashboard (docs/grafana-dashboard.json) queries these names only (tests/test_telemetry.py).
"""

from __future__ import annotations

import json
import math
import os
import socket
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .actions.model import ACTIONS as REQUEST_TYPES

if TYPE_CHECKING:
    from prometheus_client import CollectorRegistry, Counter, Gauge

# prometheus_client is imported where a process starts counting, not here: every `wallboard` command builds
# its parser with ``add_flags`` and should not pay for it.
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"  # the text format every scraper reads (the hub's always)


@dataclass(frozen=True)
class Spec:
    name: str  # as exposed (a counter's name ends in _total)
    kind: str  # counter | gauge | histogram | summary
    help: str
    labels: tuple[str, ...] = ()


_SPECS = [
    # ---- ingest ----------------------------------------------------------------------------------------------
    Spec("wallboard_ingest_events_applied_total", "counter", "Events applied to Redis, by feed.", ("feed",)),
    Spec(
        "wallboard_ingest_events_rejected_total",
        "counter",
        "Input the feed rejected (dead letters: unparseable or impossible records), by feed.",
        ("feed",),
    ),
    Spec(
        "wallboard_ingest_feed_lag_seconds",
        "gauge",
        "From the newest applied event's time to its application, by feed (how far behind the PBX ingest is).",
        ("feed",),
    ),
    Spec(
        "wallboard_ingest_snapshot_build_seconds",
        "histogram",
        "One owner tick: building, evaluating and publishing a snapshot.",
    ),
    Spec("wallboard_ingest_snapshots_published_total", "counter", "Snapshots this process built and published."),
    Spec(
        "wallboard_ingest_snapshot_age_seconds",
        "gauge",
        "Since this process last published a snapshot (NaN before its first: a standby never publishes).",
    ),
    Spec("wallboard_ingest_lease_owner", "gauge", "1 while this process holds the lease (ticks and publishes)."),
    Spec("wallboard_ingest_redis_up", "gauge", "1 while this process reaches Redis."),
    # ---- executor --------------------------------------------------------------------------------------------
    Spec(
        "wallboard_executor_requests_total",
        "counter",
        "Supervisor requests handled, by action and result (performed, refused, failed); action revert: the "
        "scheduled undo of a temporary move.",
        ("action", "result"),
    ),
    Spec("wallboard_executor_redis_up", "gauge", "1 while the executor reaches Redis."),
    # ---- scheduler -------------------------------------------------------------------------------------------
    Spec(
        "wallboard_scheduler_deliveries_total",
        "counter",
        "Scheduled report e-mails attempted, by schedule and result (sent, failed).",
        ("schedule", "result"),
    ),
    Spec(
        "wallboard_scheduler_last_run_timestamp_seconds",
        "gauge",
        "When the scheduler last checked what is due (Unix time).",
    ),
    # ---- notifier --------------------------------------------------------------------------------------------
    Spec(
        "wallboard_notifier_transitions_total",
        "counter",
        "Alert transitions detected (breach, escalation, end), by kind.",
        ("kind",),
    ),
    Spec(
        "wallboard_notifier_deliveries_total",
        "counter",
        "Alert deliveries attempted, by channel kind and result (sent, failed, gave_up).",
        ("channel", "result"),
    ),
    Spec("wallboard_notifier_detector", "gauge", "1 while this notifier holds the detector lease."),
    # ---- hub (wallboard serve): names kept from its hand-written exposition --------------------------------
    Spec("wallboard_hub_clients", "gauge", "Screens connected now, by layout and role.", ("layout", "role")),
    Spec("wallboard_hub_connections_total", "counter", "Websocket connections opened (refused ones included)."),
    Spec("wallboard_hub_messages_sent_total", "counter", "Messages written to screens."),
    Spec("wallboard_hub_bytes_sent_total", "counter", "Bytes of messages written to screens."),
    Spec(
        "wallboard_hub_messages_dropped_total", "counter", "Messages replaced by a newer one while a screen was behind."
    ),
    Spec("wallboard_hub_clients_dropped_total", "counter", "Screens disconnected for being too slow."),
    Spec("wallboard_hub_refused_total", "counter", "Connections or messages refused, by reason.", ("reason",)),
    Spec("wallboard_hub_requests_sent_total", "counter", "Supervisor requests put on the request stream."),
    Spec("wallboard_hub_snapshots_received_total", "counter", "Summaries received from Redis."),
    Spec("wallboard_hub_ingest_lag_seconds", "gauge", "From a summary's server time to its arrival at the hub."),
    Spec("wallboard_hub_snapshot_age_seconds", "gauge", "Age of the latest summary now (grows while snapshots stop)."),
    Spec("wallboard_hub_fanout_seconds", "summary", "Projecting, encoding and writing one summary to every screen."),
    Spec("wallboard_hub_redis_up", "gauge", "1 while the hub follows the snapshot channel."),
]
SPECS: dict[str, Spec] = {s.name: s for s in _SPECS}
# The executor's action label: the request types (anything else a sender wrote is "other": no label explosion).
ACTIONS = (*REQUEST_TYPES, "revert")


def exported_series() -> set[str]:
    """Every series name a scrape can show (a histogram's _bucket/_sum/_count, a summary's _sum/_count)."""
    out = set()
    for s in _SPECS:
        out.add(s.name)
        if s.kind == "histogram":
            out |= {f"{s.name}_bucket", f"{s.name}_sum", f"{s.name}_count"}
        elif s.kind == "summary":
            out |= {f"{s.name}_sum", f"{s.name}_count"}
    return out


def _base(name: str) -> str:
    return name[: -len("_total")] if SPECS[name].kind == "counter" else name


def _counter(reg: CollectorRegistry, name: str) -> Counter:
    from prometheus_client import Counter

    s = SPECS[name]
    return Counter(_base(name), s.help, s.labels, registry=reg)


def _gauge(reg: CollectorRegistry, name: str, fn: Callable[[], float] | None = None) -> Gauge:
    from prometheus_client import Gauge

    s = SPECS[name]
    g = Gauge(name, s.help, s.labels, registry=reg)
    if fn is not None:
        g.set_function(fn)
    return g


def _nan_if_none(v: float | None) -> float:
    return math.nan if v is None else float(v)


def _registry(**kw) -> CollectorRegistry:
    from prometheus_client import CollectorRegistry

    return CollectorRegistry(**kw)


def text(reg: CollectorRegistry) -> bytes:
    from prometheus_client import generate_latest

    return generate_latest(reg)


# ---- the processes ----------------------------------------------------------------------------------------


class IngestMetrics:
    """``ingest`` is the ``Ingest``: its lease and Redis state are read at scrape time."""

    def __init__(self, ingest) -> None:
        self.registry = reg = _registry()
        self.feed = getattr(ingest.feed, "name", "") or "?"
        self.applied = _counter(reg, "wallboard_ingest_events_applied_total").labels(self.feed)
        self.rejected = _counter(reg, "wallboard_ingest_events_rejected_total").labels(self.feed)
        self.lag = _gauge(reg, "wallboard_ingest_feed_lag_seconds").labels(self.feed)
        self.lag.set(math.nan)
        from prometheus_client import Histogram

        self.build = Histogram(
            "wallboard_ingest_snapshot_build_seconds",
            SPECS["wallboard_ingest_snapshot_build_seconds"].help,
            registry=reg,
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
        )
        self.published = _counter(reg, "wallboard_ingest_snapshots_published_total")
        self.published_at: float | None = None  # monotonic
        _gauge(
            reg,
            "wallboard_ingest_snapshot_age_seconds",
            lambda: math.nan if self.published_at is None else time.monotonic() - self.published_at,
        )
        _gauge(reg, "wallboard_ingest_lease_owner", lambda: float(bool(ingest.owner)))
        _gauge(reg, "wallboard_ingest_redis_up", lambda: float(bool(ingest.redis_ok)))

    def batch(self, events: list, dead: list, now) -> None:
        """A batch applied: its events, its dead letters, and the lag behind its newest event."""
        if events:
            self.applied.inc(len(events))
            newest = max(e.ts for e in events)
            self.lag.set(max(0.0, (now - newest).total_seconds()))
        if dead:
            self.rejected.inc(len(dead))

    def snapshot(self, seconds: float) -> None:
        self.build.observe(seconds)
        self.published.inc()
        self.published_at = time.monotonic()


class ExecutorMetrics:
    def __init__(self, executor) -> None:
        self.registry = reg = _registry()
        self.requests = _counter(reg, "wallboard_executor_requests_total")
        _gauge(reg, "wallboard_executor_redis_up", lambda: float(bool(executor.redis_ok)))

    def handled(self, action: str | None, result: str) -> None:
        """``result`` as audited (``ok``, ``refused: ...``, ``failed: ...``)."""
        outcome = "performed" if result == "ok" else "refused" if result.startswith("refused") else "failed"
        self.requests.labels(action if action in ACTIONS else "other", outcome).inc()


class SchedulerMetrics:
    def __init__(self) -> None:
        self.registry = reg = _registry()
        self.deliveries = _counter(reg, "wallboard_scheduler_deliveries_total")
        self.last_run = _gauge(reg, "wallboard_scheduler_last_run_timestamp_seconds")
        self.last_run.set(math.nan)

    def delivered(self, schedule: str, state: str) -> None:
        self.deliveries.labels(schedule, "sent" if state == "sent" else "failed").inc()


class NotifierMetrics:
    def __init__(self) -> None:
        self.registry = reg = _registry()
        self.transitions = _counter(reg, "wallboard_notifier_transitions_total")
        self.deliveries = _counter(reg, "wallboard_notifier_deliveries_total")
        self.detector = _gauge(reg, "wallboard_notifier_detector")

    def delivered(self, channel: str, result: str) -> None:
        self.deliveries.labels(channel or "?", result).inc()


class HubCollector:
    """The hub's figures, read from its state at scrape time (it counts in ``hub.fanout.Stats``)."""

    def __init__(self, hub) -> None:
        self.hub = hub

    def _family(self, name: str, value: float | None = None, labels: Sequence[str] | None = None):
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        s = SPECS[name]
        cls = CounterMetricFamily if s.kind == "counter" else GaugeMetricFamily
        return cls(name, s.help, value=value, labels=labels)

    def collect(self):
        hub = self.hub
        s = hub.stats
        clients = self._family("wallboard_hub_clients", labels=("layout", "role"))
        for (layout, role), n in sorted(hub.fanout.count().items()):
            clients.add_metric([layout, role], n)
        yield clients
        yield self._family("wallboard_hub_connections_total", s.connections_total)
        yield self._family("wallboard_hub_messages_sent_total", s.messages_sent)
        yield self._family("wallboard_hub_bytes_sent_total", s.bytes_sent)
        yield self._family("wallboard_hub_messages_dropped_total", s.messages_dropped)
        yield self._family("wallboard_hub_clients_dropped_total", sum(s.clients_dropped.values()))
        refused = self._family("wallboard_hub_refused_total", labels=("reason",))
        for reason, n in sorted(s.refused.items()):
            refused.add_metric([reason], n)
        yield refused
        yield self._family("wallboard_hub_requests_sent_total", s.requests_sent)
        yield self._family("wallboard_hub_snapshots_received_total", hub.summaries_received)
        yield self._family("wallboard_hub_ingest_lag_seconds", _nan_if_none(hub.ingest_lag_s))
        age = hub.snapshot_age_s()
        age_s = round(age, 3) if age is not None else None
        yield self._family("wallboard_hub_snapshot_age_seconds", _nan_if_none(age_s))
        from prometheus_client.core import SummaryMetricFamily

        spec = SPECS["wallboard_hub_fanout_seconds"]
        yield SummaryMetricFamily(spec.name, spec.help, count_value=hub.fanout_count, sum_value=hub.fanout_s_sum)
        yield self._family("wallboard_hub_redis_up", float(hub.redis_connected))


def hub_registry(hub) -> CollectorRegistry:
    reg = _registry(auto_describe=False)
    reg.register(HubCollector(hub))
    return reg


# ---- the endpoint -----------------------------------------------------------------------------------------


class MetricsServer:
    """``prometheus_client``'s HTTP server (a daemon thread) for one registry; ``port`` is the bound one."""

    def __init__(self, registry: CollectorRegistry, port: int, host: str = "127.0.0.1") -> None:
        from prometheus_client import start_http_server

        self.httpd, self.thread = start_http_server(port, addr=host, registry=registry)
        self.host, self.port = host, self.httpd.server_port

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


def add_flags(sp) -> None:
    sp.add_argument(
        "--metrics-port",
        type=int,
        default=None,
        metavar="PORT",
        help="serve this process's figures for Prometheus on http://HOST:PORT/metrics (default: off; "
        "0 = any free port, printed)",
    )
    sp.add_argument(
        "--metrics-host",
        default="127.0.0.1",
        metavar="HOST",
        help="address for --metrics-port (default 127.0.0.1; 0.0.0.0 to let a remote Prometheus in)",
    )


@contextmanager
def metrics_served(args, registry: CollectorRegistry, who: str) -> Iterator[MetricsServer | None]:
    """The process's metrics served on ``--metrics-port`` (if given) for as long as the block runs."""
    server = serve_from_args(args, registry, who)
    try:
        yield server
    finally:
        if server is not None:
            server.close()


def serve_from_args(args, registry: CollectorRegistry, who: str) -> MetricsServer | None:
    port = getattr(args, "metrics_port", None)
    if port is None:
        return None
    server = MetricsServer(registry, port, getattr(args, "metrics_host", "127.0.0.1"))
    print(f"wallboard {who}: metrics on http://{server.host}:{server.port}/metrics", flush=True)
    return server


# ---- liveness marks (``--check``) -------------------------------------------------------------------------


def beats_key(keys, kind: str) -> str:
    """A hash, one field per running process of ``kind``: ``{"until": unix time, "host", "pid", "at"}``."""
    return keys.beats(kind)


class Beat:
    """A process's liveness mark in Redis (its field in ``beats_key``, good until ``ttl_s`` from now), written at
    most every ``ttl_s / 3``. A hash rather than a key per process: ``--check`` reads one key, never a SCAN of
    the whole server. Marks past their time are dropped by the next writer; the hash expires with the last."""

    def __init__(self, keys, kind: str, name: str, ttl_s: float) -> None:
        self.key = beats_key(keys, kind)
        self.name = name
        self.ttl_s = ttl_s
        self._at = float("-inf")

    async def __call__(self, r, **info) -> None:
        mono = time.monotonic()
        if mono - self._at < self.ttl_s / 3:
            return
        now = time.time()
        body = {"host": socket.gethostname(), "pid": os.getpid(), "at": now, "until": now + self.ttl_s, **info}
        dead = [f for f, v in (await r.hgetall(self.key)).items() if _until(v) < now and f != self.name]
        pipe = r.pipeline(transaction=True)
        pipe.hset(self.key, self.name, json.dumps(body))
        if dead:
            pipe.hdel(self.key, *dead)
        pipe.expire(self.key, int(self.ttl_s) + 1)
        await pipe.execute()
        self._at = mono

    async def clear(self, r) -> None:
        """A clean stop: the mark goes at once (a crash leaves it to its time)."""
        try:
            await r.hdel(self.key, self.name)
        except Exception:  # noqa: BLE001 - Redis gone as we stop: the mark lapses on its own
            pass


def _until(raw: str) -> float:
    try:
        return float(json.loads(raw)["until"])
    except (ValueError, KeyError, TypeError):
        return 0.0


def alive(r, keys, kind: str) -> list[dict]:
    """The live marks of ``kind`` (a synchronous client): one dict per process, with its ``name``."""
    now = time.time()
    marks = [{"name": f, **json.loads(v)} for f, v in r.hgetall(beats_key(keys, kind)).items() if _until(v) >= now]
    return sorted(marks, key=lambda b: b["name"])


def check(r, keys, kind: str) -> tuple[int, str]:
    """``wallboard KIND --check``: exit code (0 alive, 1 not) and one line."""
    try:
        beats = alive(r, keys, kind)
    except Exception as e:  # noqa: BLE001 - whatever stops us reading Redis, the answer is "cannot tell"
        return 1, f"{kind}: unknown — Redis unreachable ({type(e).__name__}: {e})"
    if not beats:
        return 1, f"{kind}: not running — no live {kind} marks in Redis (prefix {keys.prefix})"
    now = time.time()
    who = ", ".join(
        f"{b['name']} (pid {b.get('pid')} on {b.get('host')}, seen {max(0.0, now - b['at']):.0f} s ago)" for b in beats
    )
    return 0, f"{kind}: OK — {len(beats)} alive: {who}"


def check_command(config, args, kind: str, before: str = "") -> int:
    """Print ``check``'s line (``before`` it: what the command checked already) and return its exit code."""
    from .keys import Keys
    from .store import connect_sync

    try:
        r = connect_sync(config, getattr(args, "redis", None))
    except Exception as e:  # noqa: BLE001
        code, line = 1, f"{kind}: unknown — Redis unreachable ({type(e).__name__}: {e})"
    else:
        code, line = check(r, Keys(config.redis.prefix), kind)
        r.close()
    demo = getattr(args, "running_demo", None)  # the `wallboard demo` this check follows (commands._context)
    if code and demo is not None and demo.runs(kind) is False:
        line = (
            f"{kind}: not running — the running demo ({demo.prefix}, pid {demo.pid}) runs no {kind} "
            f"(it runs {', '.join(demo.services)})"
        )
    print(before + line, flush=True)
    return code
