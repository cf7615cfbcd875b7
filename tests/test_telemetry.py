"""Each long-running process's own figures for Prometheus (``wallboard.telemetry``), scraped over HTTP from its
real endpoint while it runs (ingest on a small jsonl, the executor on the simulated PBX, the scheduler with a
recording mailer, the notifier, the hub); the ``--check`` liveness marks; and the shipped Grafana dashboard,
which must query only what the code exports."""

from __future__ import annotations

import asyncio
import json
import re
import subprocess
import sys
import urllib.request
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import redis as sync_redis
from prometheus_client.parser import text_string_to_metric_families

from feeds.jsonl import JsonlFeed
from wallboard import telemetry
from wallboard.actions.auth import issue
from wallboard.actions.executor import Executor, Outcome
from wallboard.actions.sim_backend import SimBackend
from wallboard.clock import ManualClock
from wallboard.config import load_config
from wallboard.events import CallerAnswered, CallerJoined, utc
from wallboard.ingest import Ingest
from wallboard.keys import Keys
from wallboard.reports.scheduler import ReportScheduler
from wallboard.sim import SimCentre, scenario_by_name

from . import polling
from .conftest import at, redis_url, wire

ROOT = Path(__file__).resolve().parent.parent
DASHBOARD = ROOT / "docs" / "grafana-dashboard.json"


# ---- scraping -------------------------------------------------------------------------------------------


def _scrape_sync(port: int) -> dict[tuple[str, frozenset], float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    out = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, frozenset(s.labels.items()))] = s.value
    return out


async def scrape(port: int) -> dict[tuple[str, frozenset], float]:
    return await asyncio.to_thread(_scrape_sync, port)


def value(samples: dict, name: str, **labels) -> float | None:
    return samples.get((name, frozenset(labels.items())))


async def until(port: int, ready, timeout: float = 10.0) -> dict:
    """Scrape until ``ready(samples)`` holds (no fixed sleeps: a short poll with a deadline)."""

    async def samples():
        got = await scrape(port)
        return got if ready(got) else None

    return await polling.until(samples, "the figures", timeout=timeout, every=0.02)


def sync_client():
    return sync_redis.Redis.from_url(redis_url(), decode_responses=True)


# ---- ingest ---------------------------------------------------------------------------------------------


class FollowedJsonl:
    """The jsonl feed, followed as a live feed: its lines, then the connection stays open."""

    name = "jsonl"

    def __init__(self, path: Path, config) -> None:
        self.inner = JsonlFeed(str(path), config)

    async def follow(self, clock):
        for item in self.inner.read():
            yield item
        await asyncio.Event().wait()


async def test_ingest_counts_applied_rejected_lag_and_snapshots(redis_client, prefix, cleanup, tmp_path):
    config = load_config(None, redis={"prefix": prefix}, queues=[{"name": "support"}], engine={"tick_s": 0.1})
    events = [CallerJoined(id=f"j{i}", ts=at(i), source="t", queue="support", call_id=f"c{i}") for i in range(3)]
    events += [
        CallerAnswered(id=f"a{i}", ts=at(3 + i), source="t", queue="support", call_id=f"c{i}", agent="1001", wait_s=3)
        for i in range(2)
    ]
    lines = [e.model_dump_json() for e in events]
    lines.insert(2, '{"type": "caller_joined", "id": "x"}')  # no ts, no queue: a dead letter
    lines.append("this is not JSON")  # another
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(lines) + "\n")
    clock = ManualClock(at(10))  # the newest event is at(4): 6 s of lag, by hand
    ingest = Ingest(redis_client, config, FollowedJsonl(path, config), clock=clock, name="ing-telemetry")
    server = telemetry.MetricsServer(ingest.metrics.registry, 0)
    task = asyncio.create_task(ingest.run())
    try:
        s = await until(
            server.port,
            lambda s: (
                value(s, "wallboard_ingest_events_applied_total", feed="jsonl") == 5
                and (value(s, "wallboard_ingest_snapshots_published_total") or 0) >= 1
            ),
        )
        assert value(s, "wallboard_ingest_events_rejected_total", feed="jsonl") == 2
        assert value(s, "wallboard_ingest_feed_lag_seconds", feed="jsonl") == 6.0
        assert value(s, "wallboard_ingest_lease_owner") == 1 and value(s, "wallboard_ingest_redis_up") == 1
        built = value(s, "wallboard_ingest_snapshot_build_seconds_count")
        assert built == value(s, "wallboard_ingest_snapshots_published_total") and built >= 1
        assert 0 < value(s, "wallboard_ingest_snapshot_build_seconds_sum") < 5 * built
        assert 0 <= value(s, "wallboard_ingest_snapshot_age_seconds") < 5
    finally:
        ingest.stop.set()
        await task
        server.close()
    # the counts are this ingester's own: a second one in this interpreter starts at nothing
    other = Ingest(redis_client, config, FollowedJsonl(path, config), clock=clock, name="ing-other")
    assert other.metrics.registry.get_sample_value("wallboard_ingest_events_applied_total", {"feed": "jsonl"}) == 0


# ---- executor -------------------------------------------------------------------------------------------

START = datetime(2026, 11, 23, 9, 0, tzinfo=ZoneInfo("Asia/Jerusalem"))


class RefusingUnpause(SimBackend):
    """The simulated PBX, which refuses to unpause (as Asterisk answers an unknown interface)."""

    async def queue_pause(self, target, paused, reason, queue):
        if not paused:
            return Outcome(False, "Interface not found")
        return await super().queue_pause(target, paused, reason, queue)


def _executor_config(prefix):
    cfg = load_config(ROOT / "config" / "wallboard.toml", redis={"prefix": prefix})
    roles = {**{k: v.model_dump() for k, v in cfg.roles.items()}, "viewer": {"permissions": []}}
    users = [u.model_dump() for u in cfg.users] + [{"name": "vera", "roles": ["viewer"]}]
    return load_config(ROOT / "config" / "wallboard.toml", redis={"prefix": prefix}, roles=roles, users=users)


async def test_executor_counts_performed_refused_failed_per_action(redis_client, prefix, cleanup, monkeypatch):
    monkeypatch.setenv("WALLBOARD_TOKEN_SECRET", "test-secret-123")
    config = _executor_config(prefix)
    clock = ManualClock(START)
    centre = SimCentre(config, scenario_by_name("quiet", [q.name for q in config.queues]), 1, START)
    ex = Executor(redis_client, config, RefusingUnpause(centre), clock=clock, name="ex-telemetry")
    keys = Keys(prefix)
    r = sync_client()
    assert telemetry.check(r, keys, "executor")[0] == 1  # not started yet
    server = telemetry.MetricsServer(ex.metrics.registry, 0)
    task = asyncio.create_task(ex.run())
    try:
        now = clock.now().timestamp()
        tok = {u: issue(config, u, now=now) for u in ("rivka", "moshe", "vera")}
        when = utc(clock.now())
        requests = [
            {
                "type": "pause",
                "user": "rivka",
                "token": tok["rivka"],
                "agent": "1001",
                "queue": "support",
                "reason": "coaching",
                "at": when,
            },  # performed
            {
                "type": "unpause",
                "user": "rivka",
                "token": tok["rivka"],
                "agent": "1001",
                "queue": "support",
                "at": when,
            },  # failed: the PBX refuses
            {
                "type": "move",
                "user": "moshe",
                "token": tok["moshe"],
                "agent": "1003",
                "queue": "support",
                "at": when,
            },  # refused: a team lead may not move
            {
                "type": "ack",
                "user": "vera",
                "token": tok["vera"],
                "queue": "support",
                "metric": "waiting",
                "at": when,
            },  # refused: a viewer may not acknowledge
            {
                "type": "move",
                "user": "rivka",
                "token": tok["rivka"][:-3] + "AAA",
                "agent": "1002",
                "queue": "tech",
                "at": when,
            },  # refused: forged (never authenticated)
            {
                "type": "move",
                "user": "rivka",
                "token": tok["rivka"],
                "agent": "1002",
                "queue": "tech",
                "colour": "red",
                "at": when,
            },  # refused: malformed
        ]
        for fields in requests:
            await redis_client.xadd(keys.requests, wire(fields))
        want = {("pause", "performed"): 1, ("unpause", "failed"): 1, ("move", "refused"): 3, ("ack", "refused"): 1}

        def counted(s):
            return {
                (dict(k[1])["action"], dict(k[1])["result"]): v
                for k, v in s.items()
                if k[0] == "wallboard_executor_requests_total"
            }

        s = await until(server.port, lambda s: counted(s) == want)
        assert value(s, "wallboard_executor_redis_up") == 1
        code, line = telemetry.check(r, keys, "executor")
        assert code == 0 and line.startswith("executor: OK — 1 alive: ex-telemetry (pid ")
    finally:
        ex.stop.set()
        await task
        server.close()
    # a clean stop takes its mark away
    assert telemetry.check(r, keys, "executor") == (
        1,
        f"executor: not running — no live executor marks in Redis (prefix {prefix})",
    )


# ---- scheduler ------------------------------------------------------------------------------------------


class Outbox:
    def __init__(self):
        self.sent = []

    async def send(self, msg) -> None:
        self.sent.append(msg)


async def test_scheduler_counts_deliveries_and_marks_itself_alive(redis_client, prefix, cleanup):
    tz = ZoneInfo("Asia/Jerusalem")
    config = load_config(
        None,
        redis={"prefix": prefix},
        centre={"name": "T", "timezone": "Asia/Jerusalem"},
        queues=[{"name": "support"}],
        smtp={"host": "127.0.0.1", "sender": "wb@example.com"},
        reports=[
            {"name": "daily", "period": "day", "at": "07:00", "recipients": ["boss@example.com"], "queues": ["support"]}
        ],
    )
    clock = ManualClock(datetime(2026, 11, 24, 6, 0, tzinfo=tz))
    outbox = Outbox()
    sched = ReportScheduler(redis_client, config, clock=clock, mailer=outbox)
    server = telemetry.MetricsServer(sched.metrics.registry, 0)
    stop = asyncio.Event()
    task = asyncio.create_task(sched.run(stop, poll_s=0.05))
    keys = Keys(prefix)
    r = sync_client()
    try:
        s = await until(server.port, lambda s: (value(s, "wallboard_scheduler_last_run_timestamp_seconds") or 0) > 0)
        assert value(s, "wallboard_scheduler_deliveries_total", schedule="daily", result="sent") is None  # not due
        code, line = telemetry.check(r, keys, "scheduler")
        assert code == 0 and line.startswith("scheduler: OK — 1 alive: ")
        clock.set(datetime(2026, 11, 24, 7, 0, tzinfo=tz))  # Monday's report is due
        s = await until(
            server.port,
            lambda s: value(s, "wallboard_scheduler_deliveries_total", schedule="daily", result="sent") == 1,
        )
        assert len(outbox.sent) == 1
    finally:
        stop.set()
        await task
        server.close()
    assert telemetry.check(r, keys, "scheduler")[0] == 1  # a clean stop takes its mark away


# ---- notifier -------------------------------------------------------------------------------------------


async def test_notifier_exports_its_figures(redis_client, prefix, cleanup):
    from wallboard.notify.notifier import Notifier

    config = load_config(None, redis={"prefix": prefix}, queues=[{"name": "support"}])
    n = Notifier(redis_client, config, name="n-telemetry")
    server = telemetry.MetricsServer(n.metrics.registry, 0)
    try:
        n.metrics.delivered("slack", "sent")
        n.metrics.delivered("slack", "failed")
        n.metrics.transitions.labels("breach").inc()
        s = await scrape(server.port)
        assert value(s, "wallboard_notifier_deliveries_total", channel="slack", result="sent") == 1
        assert value(s, "wallboard_notifier_deliveries_total", channel="slack", result="failed") == 1
        assert value(s, "wallboard_notifier_transitions_total", kind="breach") == 1
        assert value(s, "wallboard_notifier_detector") == 0
    finally:
        server.close()


# ---- the hub: its /metrics, on prometheus_client, with the names it always had ----------------------------


async def test_hub_metrics_parse_and_keep_their_names(redis_client, prefix, cleanup):
    from tests.test_hub import http_get, running_hub
    from tests.tvdata import four_queues, now_utc, publish, tv_config

    config = tv_config(prefix)
    await publish(redis_client, prefix, four_queues(7, now_utc()))
    async with running_hub(config, redis_client) as hub:
        status, headers, body = await http_get(f"http://127.0.0.1:{hub.port}/metrics")
    assert status == 200 and headers["Content-Type"] == telemetry.CONTENT_TYPE
    families = {f.name: f for f in text_string_to_metric_families(body.decode())}
    hub_specs = {n for n in telemetry.SPECS if n.startswith("wallboard_hub_")}
    exposed = {n + "_total" if f.type == "counter" else n for n, f in families.items()}
    assert exposed == hub_specs
    assert families["wallboard_hub_snapshots_received"].samples[0].value == 1
    assert families["wallboard_hub_redis_up"].samples[0].value == 1


# ---- the metrics endpoint is loopback by default; the flags ------------------------------------------------


def test_metrics_flags_default_off_and_loopback():
    import argparse

    p = argparse.ArgumentParser()
    telemetry.add_flags(p)
    args = p.parse_args([])
    assert args.metrics_port is None and args.metrics_host == "127.0.0.1"
    assert telemetry.serve_from_args(args, None, "x") is None


def test_every_long_running_command_has_check_and_metrics_flags():
    for cmd, flags in (
        ("ingest", ("--check", "--metrics-port")),
        ("executor", ("--check", "--metrics-port")),
        ("scheduler", ("--check", "--metrics-port")),
        ("notifier", ("--check", "--metrics-port")),
        ("serve", ("--check",)),
    ):
        out = subprocess.run(
            [sys.executable, "-m", "wallboard.cli", cmd, "--help"], capture_output=True, text=True, cwd=ROOT, timeout=60
        )
        assert out.returncode == 0, out.stderr
        for flag in flags:
            assert flag in out.stdout, (cmd, flag)


def test_serve_check_says_not_running_in_one_line(tmp_path):
    from tests.conftest import free_port

    port = free_port()
    out = subprocess.run(
        [sys.executable, "-m", "wallboard.cli", "serve", "--check", "--host", "127.0.0.1", "--port", str(port)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=60,
    )
    assert out.returncode == 1
    assert out.stdout.count("\n") == 1 and out.stdout.startswith(
        f"hub: not running — nothing answers at http://127.0.0.1:{port}/healthz"
    )


# ---- the Grafana dashboard ----------------------------------------------------------------------------------


def _panels(d: dict):
    for p in d.get("panels", []):
        yield p
        yield from _panels(p)


def test_the_dashboard_imports_as_is_and_queries_only_exported_metrics():
    d = json.loads(DASHBOARD.read_text())
    assert [i["name"] for i in d["__inputs"]] == ["DS_PROMETHEUS"] and d["__inputs"][0]["pluginId"] == "prometheus"
    assert "id" not in d or d["id"] is None  # an import makes its own
    assert d["uid"] and d["title"] and isinstance(d["schemaVersion"], int)
    exported = telemetry.exported_series()
    queried: set[str] = set()
    ids = set()
    for p in _panels(d):
        if p["type"] == "row":
            continue
        assert p["id"] not in ids
        ids.add(p["id"])
        assert p["datasource"]["uid"] == "${DS_PROMETHEUS}"
        assert p["targets"], p["title"]
        for t in p["targets"]:
            assert t["datasource"]["uid"] == "${DS_PROMETHEUS}"
            names = set(re.findall(r"\b(wallboard_[a-z_]+)\b", t["expr"]))
            assert names, (p["title"], t["expr"])
            unknown = names - exported
            assert not unknown, (p["title"], unknown)
            queried |= names
    # a panel for each figure
    bases = {re.sub(r"_(bucket|sum|count)$", "", n) if n not in telemetry.SPECS else n for n in queried}
    missing = set(telemetry.SPECS) - bases
    assert not missing, missing
