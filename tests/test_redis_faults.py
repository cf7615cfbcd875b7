"""Redis faults (issue 9): Redis crashes mid-day and is restarted from its AOF (``appendfsync everysec``) while
ingest, the executor, the hub (with a websocket screen) and the desk UI run. Each must reconnect on its own,
the screens must say "stale" meanwhile and show fresh data after, and once the queue_log cursor has caught up
the figures must equal a clean replay of the same file.

The worst case of everysec is a crash of the machine: the OS has not written the last second of the AOF to
disk. Killing only the server loses nothing (its writes are in the page cache), so the test SIGKILLs it and
then cuts the AOF back to its size one second before the kill: the lost second. The cursor saved in Redis
goes back with it, and ingest must read those rows again (applying is idempotent, so nothing counts twice).

Each test starts a private valkey-server (the embedded binary) on a free port in its own directory.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry
from websockets.asyncio.client import connect as ws_connect

from feeds.queue_log import QueueLogFeed
from wallboard.actions.auth import issue
from wallboard.aio import cancel_and_wait
from wallboard.actions.executor import GROUP, Executor, Outcome
from wallboard.clock import ManualClock
from wallboard.config import load_config
from wallboard.engine import Engine
from wallboard.events import utc
from wallboard.feed import DeadLetter
from wallboard.hub.server import Hub
from wallboard.ingest import Ingest
from wallboard.keys import Keys
from wallboard.redis_server import EmbeddedPaths, binary_path, ensure_embedded
from wallboard.redis_server import stop as stop_embedded
from wallboard.store import connect

from .conftest import free_port, wire
from .polling import until, wait_until


ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "samples" / "sample_day.queue_log"
VIEWER = "fault-viewer-1"
LOST_S = 1.0  # AOF everysec: what a crash of the machine can lose
LABELS = {
    "ingest": "ingest applies again",
    "ingest caught up": "ingest has read the lost second again",
    "executor": "executor takes requests again",
    "hub": "hub follows the snapshot channel again",
    "hub screen": "TV screen gets a fresh update",
    "desk": "desk shows fresh data (stale mark off)",
}


class Valkey:
    """A private server with AOF everysec on a TCP port, killed and restarted from the same directory."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="wbf", dir="/tmp"))
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port, socket_timeout=2, retry=Retry(NoBackoff(), 0), decode_responses=True)

    def start(self) -> float:
        """Start it; returns the monotonic time it first answered."""
        subprocess.run(
            [
                str(binary_path()),
                "--daemonize",
                "yes",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(self.root),
                "--appendonly",
                "yes",
                "--appendfsync",
                "everysec",
                "--save",
                "",
                "--pidfile",
                str(self.root / "pid"),
                "--logfile",
                str(self.root / "log"),
            ],
            check=True,
            capture_output=True,
        )
        try:
            wait_until(
                lambda: self.client().ping(),
                "valkey to answer",
                every=0.005,
                ignoring=(redis.ConnectionError, redis.BusyLoadingError),
            )
        except AssertionError:
            raise RuntimeError(f"valkey did not start: {(self.root / 'log').read_text()[-2000:]}") from None
        return time.monotonic()

    def pid(self) -> int:
        return int((self.root / "pid").read_text())

    def incr_aof(self) -> Path:
        """The AOF file being appended to (the last incremental one in the manifest)."""
        aof_dir = self.root / "appendonlydir"
        manifest = next(aof_dir.glob("*.manifest")).read_text().split("\n")
        incr = [line.split()[1] for line in manifest if line.endswith("type i")]
        return aof_dir / incr[-1]

    def kill(self) -> None:
        pid = self.pid()
        os.kill(pid, signal.SIGKILL)

        def gone() -> bool:  # reaped, or a zombie: either way it holds no socket and writes nothing
            try:
                return "\nState:\tZ" in Path(f"/proc/{pid}/status").read_text()
            except FileNotFoundError:
                return True

        wait_until(gone, f"valkey {pid} killed", every=0.005)

    def close(self) -> None:
        try:
            self.client().shutdown(nosave=True)
        except (redis.ConnectionError, redis.ResponseError):
            pass
        shutil.rmtree(self.root, ignore_errors=True)


class AofSampler(threading.Thread):
    """Records the AOF's size every few ms, to cut it back to where it was ``LOST_S`` before a crash."""

    def __init__(self, server: Valkey):
        super().__init__(daemon=True)
        self.server, self.sizes, self.halt = server, [], threading.Event()

    def run(self) -> None:
        path = self.server.incr_aof()
        while not self.halt.is_set():
            try:
                self.sizes.append((time.monotonic(), path.stat().st_size))
            except FileNotFoundError:
                pass
            time.sleep(0.005)

    def size_at(self, when: float) -> int:
        return max((s for t, s in self.sizes if t <= when), default=0)


class PbxBackend:
    """Counts what the executor asks of the PBX, per request (the pause reason carries the request's tag)."""

    def __init__(self):
        self.performed: Counter[str] = Counter()

    async def queue_pause(self, target, paused, reason, queue) -> Outcome:
        self.performed[reason] += 1
        return Outcome(True, f"paused {target.agent}")


@dataclass
class Timeline:
    """First time (monotonic) each named condition held, after the restart."""

    t_kill: float = 0.0
    t_up: float = 0.0
    seen: dict[str, float] = field(default_factory=dict)
    stale: list[tuple[float, float]] = field(default_factory=list)  # (start, end) of each stale period, desk


def _config(prefix: str):
    return load_config(
        ROOT / "config" / "wallboard.toml",
        redis={"prefix": prefix, "retry_initial_s": 0.05, "retry_max_s": 0.4},
        engine={"tick_s": 0.2, "publish_min_interval_ms": 100},
        display={"stale_after_s": 5},
        security={"action_rate_per_min": 10_000},
        hub={"host": "127.0.0.1", "port": 0, "heartbeat_s": 0.5, "ticker_poll_s": 0.5},
    )


def _figures(snap) -> dict:
    """Every figure of a snapshot; ``duplicates`` apart: it counts transitions delivered again (re-reading
    after the crash adds to it), not calls."""
    queues = {k: v.model_dump(exclude={"duplicates"}) for k, v in snap.queues.items()}
    return {
        "queues": queues,
        "total": snap.total.model_dump(exclude={"duplicates"}),
        "agents": {k: v.model_dump() for k, v in snap.agents.items()},
    }


def _diff(a, b, path: str = "") -> list[str]:
    """Where two nested dicts differ (readable when a figure is off)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return [d for k in sorted(set(a) | set(b)) for d in _diff(a.get(k), b.get(k), f"{path}.{k}")]
    return [] if a == b else [f"{path}: {a!r} != {b!r}"]


async def _clean_replay(client, config, prefix: str, path: Path, now: datetime):
    """The same file read start to end into a fresh namespace: the figures a crash must not change."""
    eng = Engine(client, config, Keys(prefix), feed_name="queue-log")
    await eng.start()
    events = [e for e in QueueLogFeed(path, config).read() if not isinstance(e, DeadLetter)]
    for i in range(0, len(events), 2000):
        await eng.apply(events[i : i + 2000])
    return await eng.build_snapshot(now)


async def _drop(client, *prefixes: str) -> None:
    for p in prefixes:
        keys = [k async for k in client.scan_iter(match=f"{p}:*", count=1000)]
        if keys:
            await client.unlink(*keys)


@pytest.fixture
def server():
    srv = Valkey()
    srv.start()
    yield srv
    srv.close()


async def test_mid_day_crash_every_component_recovers_and_nothing_is_lost_or_counted_twice(
    server, monkeypatch, tmp_path
):
    from wallboard.ui.app import build_desk_app

    monkeypatch.setenv("WALLBOARD_TOKEN_SECRET", "fault-secret")
    monkeypatch.setenv("WALLBOARD_VIEWER_TOKEN_FLOOR", VIEWER)
    prefix, clean = "wbfault", "wbclean"
    config = _config(prefix)
    rows = SAMPLE.read_bytes().splitlines(keepends=True)
    epochs = [float(r.split(b"|", 1)[0]) for r in rows]
    live = tmp_path / "queue_log"
    live.write_bytes(b"")
    clock = ManualClock(datetime.fromtimestamp(epochs[0], timezone.utc))  # the PBX's day, moved by the writer
    end = datetime.fromtimestamp(epochs[-1], timezone.utc) + timedelta(hours=1)

    clients = [await connect(config, server.url) for _ in range(4)]
    c_ing, c_ex, c_hub, c_test = clients
    ing = Ingest(c_ing, config, QueueLogFeed(live, config), clock=clock, name="ing-fault")
    pbx = PbxBackend()
    ex = Executor(c_ex, config, pbx, name="ex-fault")
    hub = Hub(config, c_hub, port=0)
    tasks = {"ingest": asyncio.create_task(ing.run()), "executor": asyncio.create_task(ex.run())}
    await hub.start()
    app = build_desk_app(config, server.url, user="rivka", token=issue(config, "rivka"))
    tl = Timeline()
    screen: list[tuple[float, dict]] = []
    sent: dict[str, str] = {}  # request id the server acknowledged -> its tag
    sampler = AofSampler(server)
    sampler.start()

    async def writer():
        """The PBX appends to its queue_log: the sample day in about four seconds, outage or not."""
        for i in range(0, len(rows), 60):
            with live.open("ab") as f:
                f.write(b"".join(rows[i : i + 60]))
            clock.set(datetime.fromtimestamp(epochs[min(i + 59, len(rows) - 1)], timezone.utc))
            await asyncio.sleep(0.03)
        clock.set(end)  # the day is over: inferred wrap-up ends fall due

    async def requester():
        """A supervisor pausing agents every 100 ms; a request made while Redis is away fails (the desk says so)."""
        r = server.client()
        for n in range(80):
            tag = f"req{n}"
            fields = wire(
                {
                    "type": "pause",
                    "user": "rivka",
                    "token": issue(config, "rivka"),
                    "agent": "1001",
                    "queue": "support",
                    "reason": tag,
                    "at": utc(datetime.now(timezone.utc)),
                }
            )
            try:
                sent[await asyncio.to_thread(r.xadd, Keys(prefix).requests, fields)] = tag
            except redis.ConnectionError:
                pass
            await asyncio.sleep(0.1)

    async def tv():
        url = f"ws://127.0.0.1:{hub.port}/ws?layout=floor&token={VIEWER}"
        async with ws_connect(url) as ws:
            async for raw in ws:
                screen.append((time.monotonic(), json.loads(raw)))

    async def monitor():
        stale_since = None
        while True:
            now = time.monotonic()
            if app.stale and stale_since is None:
                stale_since = now
            elif not app.stale and stale_since is not None:
                tl.stale.append((stale_since, now))
                stale_since = None
            if tl.t_up:
                caught_up = ing.rewinds > 0 and json.loads(ing.cursor_state or '{"line": 0}')["line"] >= cursor_before
                checks = {
                    "ingest": ing.redis_ok and ing.events_applied > applied_at_up,
                    "executor": ex.redis_ok,
                    "hub": hub.redis_connected,
                    "desk": not app.stale,
                    "ingest caught up": caught_up,
                }
                for name, ok in checks.items():
                    if ok and name not in tl.seen:
                        tl.seen[name] = now
            await asyncio.sleep(0.005)

    applied_at_up = cursor_before = 0
    try:
        async with app.run_test(size=(100, 30)):
            side = [asyncio.create_task(f()) for f in (writer, requester, tv, monitor)]
            half = sum(map(len, rows)) // 2
            await until(  # mid-day, mid-feed: half the day written, and applied up to somewhere
                lambda: live.stat().st_size >= half and ing.cursor_state and ing.events_applied > 0,
                "half the day written and some of it applied",
            )
            assert not app.stale and hub.redis_connected

            tl.t_kill = time.monotonic()
            cursor_before = json.loads(ing.cursor_state)["line"]
            keep = sampler.size_at(tl.t_kill - LOST_S)
            server.kill()
            sampler.halt.set()
            aof = server.incr_aof()
            lost_bytes = aof.stat().st_size - keep
            with aof.open("r+b") as f:  # the second the OS had not written to disk
                f.truncate(keep)
            await until(
                lambda: app.stale and not hub.redis_connected and not ing.redis_ok,
                "the desk, the hub and the ingester to see Redis gone",
            )
            await until(
                lambda: any(m["type"] == "heartbeat" and m["stale"] for t, m in screen if t > tl.t_kill),
                "a stale heartbeat on the TV",
            )
            await asyncio.sleep(max(0.0, tl.t_kill + 1.0 - time.monotonic()))  # the outage lasts a second
            tl.t_up = await asyncio.to_thread(server.start)
            applied_at_up = ing.events_applied
            cursor_key = Keys(prefix).cursor(QueueLogFeed(live, config).cursor_key())
            raw = await c_test.get(cursor_key)
            cursor_after = json.loads(raw)["line"] if raw else 0

            # everything reconnects by itself; the feed catches up with the file
            async def caught_up() -> bool:
                raw = await c_test.get(cursor_key)
                at_end = bool(raw) and json.loads(raw)["offset"] == live.stat().st_size
                return side[0].done() and side[1].done() and at_end

            await until(caught_up, "the writer and requester done and the cursor at the end of the file", timeout=20)
            back = {"ingest", "executor", "hub", "desk", "ingest caught up"}
            try:
                await until(lambda: set(tl.seen) == back, "every component back", timeout=20)
            except AssertionError as e:
                raise AssertionError(f"{e}; back: {sorted(tl.seen)}, cursor {ing.cursor_state}") from None
            assert not any(t.done() for t in tasks.values()), "a component stopped instead of reconnecting"
            # the last requests are handled, the screens get the last snapshot
            await until(lambda: not app.stale and app.summary is not None, "the desk fresh again")
            for t in side[2:]:
                t.cancel()
            ing.stop.set()  # no snapshot arrives as the desk quits
            await asyncio.wait_for(tasks["ingest"], 10)
    finally:
        sampler.halt.set()
        ing.stop.set()
        ex.stop.set()
        await asyncio.gather(*tasks.values(), return_exceptions=True)
        await hub.stop()

    try:
        # the figures equal a clean replay of the same file: the lost second was read again, nothing twice
        mine = await Engine(c_test, config, Keys(prefix), feed_name="queue-log").build_snapshot(end)
        ref = await _clean_replay(c_test, config, clean, live, end)
        assert not _diff(_figures(mine), _figures(ref))
        assert mine.total.entered > 1000  # a real day, not two empty ones
        dups = sum(q.duplicates for q in mine.queues.values()) - sum(q.duplicates for q in ref.queues.values())
        assert ing.rewinds >= 1 and cursor_after < cursor_before  # the cursor went back with the lost second

        # the executor: the PBX never did a request twice, every request Redis kept was done, and everything
        # done has exactly one audit entry (the ones the crash lost were written again)
        requests = [rid for rid, _ in await c_test.xrange(Keys(prefix).requests)]
        audit = Counter(f["request"] for _, f in await c_test.xrange(Keys(prefix).audit))
        assert max(pbx.performed.values()) == 1
        # each done once, or refused once (later in the day Gefen leaves support: a pause there is refused)
        results = {f["request"]: f["result"] for _, f in await c_test.xrange(Keys(prefix).audit)}
        assert all(pbx.performed[sent[rid]] == (1 if results[rid] == "ok" else 0) for rid in requests)
        assert {results[rid] for rid in requests} <= {"ok", "refused: Gefen is not in support"}
        assert sum(pbx.performed[sent[rid]] for rid in requests) >= 1  # how many before Gefen leaves varies
        done = {rid for rid, tag in sent.items() if pbx.performed[tag]}
        assert {rid: audit[rid] for rid in done} == {rid: 1 for rid in done}
        assert set(audit) <= set(sent)
        assert await c_test.xpending(Keys(prefix).requests, GROUP) == {
            "pending": 0,
            "min": None,
            "max": None,
            "consumers": [],
        }

        # the screen: stale while Redis was away, then fresh updates
        stale_on = min(t for t, m in screen if m["type"] == "heartbeat" and m["stale"] and t > tl.t_kill)
        stale_off = min(t for t, m in screen if m["type"] == "heartbeat" and not m["stale"] and t > stale_on)
        fresh = min(t for t, m in screen if m["type"] == "update" and t > stale_off)
        tl.seen["hub screen"] = fresh
        assert tl.t_kill < stale_on < tl.t_up  # said while Redis was away (how soon: printed below)

        outage = tl.t_up - tl.t_kill
        longest_desk = max(b - a for a, b in tl.stale)
        print(
            f"\noutage (kill -> server answers): {outage:.2f} s; AOF cut back by {lost_bytes} bytes "
            f"({LOST_S:.0f} s of writes); cursor line {cursor_before} -> {cursor_after} after the restart, "
            f"{ing.rewinds} rewind(s), {dups} transition(s) read again and recognised as applied"
        )
        print("  after the server answered again:")
        for name, t in sorted(tl.seen.items(), key=lambda kv: kv[1]):
            print(f"    {t - tl.t_up:5.2f} s  {LABELS[name]}")
        print(
            f"  longest stale: desk {longest_desk:.2f} s, TV screen {fresh - stale_on:.2f} s "
            f"(stale shown {stale_on - tl.t_kill:.2f} s after the kill)"
        )
        print(
            f"  requests: {len(sent)} accepted by Redis, {len(requests)} kept after the crash, "
            f"{len(done)} performed (none twice) and audited once, {len(sent) - len(done)} lost unperformed"
        )
        # the desk went stale during the outage and not again once Redis was back (how long: printed above)
        assert any(tl.t_kill < a < tl.t_up for a, _ in tl.stale) and all(a < tl.t_up for a, _ in tl.stale), tl.stale
    finally:
        await _drop(c_test, prefix, clean)
        for c in clients:
            await c.aclose()


async def test_ingest_notices_a_redis_that_came_back_without_its_writes_with_no_error_seen(
    redis_client, prefix, tmp_path
):
    """A restart quick enough that no call of ours failed (the client reconnects once on its own), of a server
    that kept nothing (no AOF): only the cursor tells. The idle check finds it gone and reads the file again."""
    config = _config(prefix)
    rows = SAMPLE.read_bytes().splitlines(keepends=True)[:2000]
    live = tmp_path / "queue_log"
    live.write_bytes(b"".join(rows))
    end = datetime.fromtimestamp(float(rows[-1].split(b"|", 1)[0]), timezone.utc) + timedelta(hours=1)
    ing = Ingest(redis_client, config, QueueLogFeed(live, config), clock=ManualClock(end), name="ing-quiet")
    task = asyncio.create_task(ing.run())
    key = Keys(prefix).cursor(QueueLogFeed(live, config).cursor_key())

    async def caught_up() -> None:
        async def at_the_end():
            raw = await redis_client.get(key)
            return raw and json.loads(raw)["offset"] == live.stat().st_size

        await until(at_the_end, "the cursor at the end of the file")

    try:
        await caught_up()
        before = _figures(await Engine(redis_client, config, Keys(prefix)).build_snapshot(end))
        await _drop(redis_client, prefix)  # every key of the centre gone, no connection lost
        t0 = time.monotonic()
        await until(lambda: ing.rewinds == 1, "the loss noticed (the file read again)")
        await caught_up()
        after = _figures(await Engine(redis_client, config, Keys(prefix)).build_snapshot(end))
        assert ing.rewinds == 1 and ing.redis_ok
        assert not _diff(after, before)
        assert before["total"]["entered"] > 100
        print(f"\nquiet loss found and the file read again in {time.monotonic() - t0:.2f} s")
    finally:
        ing.stop.set()
        await asyncio.wait_for(task, 10)
        await _drop(redis_client, prefix)


async def test_board_shows_stale_while_redis_is_away_and_recovers(server):
    from wallboard.ui.board import BoardApp

    from .tvdata import four_queues, now_utc, publish, tv_config

    config = tv_config("wbfboard").model_copy(update={"redis": _config("wbfboard").redis})
    client = await connect(config, server.url)
    app = BoardApp(config, client, config.layout("floor"))
    seq = 0

    async def publisher():
        nonlocal seq
        while True:
            try:
                seq += 1
                await publish(client, "wbfboard", four_queues(seq, now_utc()))
            except (redis.ConnectionError, OSError):
                pass
            await asyncio.sleep(0.1)

    try:
        async with app.run_test(size=(80, 24)) as pilot:
            task = asyncio.create_task(publisher())
            await until(lambda: app.summary is not None, "the board's first snapshot", pilot=pilot)
            assert not app.stale
            t_kill = time.monotonic()
            server.kill()
            await until(lambda: app.stale, "the board to go stale", pilot=pilot)
            t_stale = time.monotonic()
            assert app.stale and "STALE" in str(app.query_one("#stale").render())
            before = app.summary.seq
            await pilot.pause(0.5)  # the outage's length: the reader backs off, the badge stays
            assert app.stale
            t_up = await asyncio.to_thread(server.start)
            await until(lambda: not app.stale, "the board fresh again", pilot=pilot)
            t_fresh = time.monotonic()
            assert not app.stale and app.summary.seq > before
            print(
                f"\nboard: stale {t_stale - t_kill:.2f} s after the kill, fresh {t_fresh - t_up:.2f} s after the "
                f"server was back (outage {t_up - t_kill:.2f} s)"
            )
            await cancel_and_wait(task)  # a cancellation can be lost in redis-py's connect timeout race
    finally:
        await client.aclose()


async def test_tv_page_says_stale_as_soon_as_the_hub_loses_redis(server, monkeypatch):
    """The hub's ``stale`` flag: the page shows its badge at once, not ``stale_after_s`` (here 30 s) later."""
    from .cdp import Chromium
    from .tvdata import TOKENS, four_queues, now_utc, publish, tv_config

    for k, v in TOKENS.items():
        monkeypatch.setenv(k, v)
    config = tv_config("wbfpage", display={"stale_after_s": 30})
    config = config.model_copy(update={"redis": _config("wbfpage").redis})
    client = await connect(config, server.url)
    hub = Hub(config, client, port=0)

    async def publisher():
        for seq in range(1, 10_000):
            try:
                await publish(client, "wbfpage", four_queues(seq, now_utc()))
            except (redis.ConnectionError, OSError):
                pass
            await asyncio.sleep(0.1)

    task = asyncio.create_task(publisher())
    await hub.start()
    try:
        async with Chromium.launch() as browser:
            page = await browser.new_page(1280, 720)
            await page.goto(f"http://127.0.0.1:{hub.port}/?layout=floor&token={TOKENS['TV_TEST_VIEWER_FLOOR']}")
            await page.wait_for("window.__tv.queues.length === 4 && document.getElementById('stale').hidden")
            t_kill = time.monotonic()
            server.kill()
            await page.wait_for("!document.getElementById('stale').hidden", timeout=3)
            t_stale = time.monotonic()
            assert (await page.eval("document.getElementById('stale').textContent")).startswith("STALE")
            assert await page.eval("window.__tv.connected")  # the hub is up: only its Redis is away
            await asyncio.to_thread(server.start)
            await page.wait_for("document.getElementById('stale').hidden", timeout=5)
            print(
                f"\nTV page: stale {t_stale - t_kill:.2f} s after the kill, live again "
                f"{time.monotonic() - t_kill:.2f} s after it"
            )
            await page.close()
    finally:
        await cancel_and_wait(task)
        await hub.stop()
        await client.aclose()


async def test_executor_remakes_a_lost_group_and_never_performs_a_request_twice(redis_client, prefix, monkeypatch):
    """What a restart can do to the request stream, by hand: the stream and its group gone (NOGROUP), and
    requests handed over again (the group's delivery position rolled back, one outcome lost); and a request
    a previous executor process took and never finished."""
    monkeypatch.setenv("WALLBOARD_TOKEN_SECRET", "fault-secret")
    config = _config(prefix)
    keys = Keys(prefix)
    pbx = PbxBackend()
    ex = Executor(redis_client, config, pbx, name="ex-group")
    audit_key = keys.audit

    async def request(tag: str) -> str:
        return await redis_client.xadd(
            keys.requests,
            wire(
                {
                    "type": "pause",
                    "user": "rivka",
                    "agent": "1001",
                    "token": issue(config, "rivka"),
                    "queue": "support",
                    "reason": tag,
                    "at": utc(datetime.now(timezone.utc)),
                }
            ),
        )

    async def audited(rid: str) -> int:
        return sum(f["request"] == rid for _, f in await redis_client.xrange(audit_key))

    # a previous process of this executor took z and y, began z (claimed its id) and stopped before its outcome
    z = await request("z")
    y = await request("y")
    await redis_client.xgroup_create(keys.requests, GROUP, id="0")
    await redis_client.xreadgroup(GROUP, "ex-group", {keys.requests: ">"})
    [(_, z_fields)] = await redis_client.xrange(keys.requests, z, z)
    await redis_client.set(keys.claim("rivka", z_fields["id"]), z)
    task = asyncio.create_task(ex.run())
    try:
        await until(lambda: audited(z))
        await until(lambda: audited(y))
        outcome = {f["request"]: f for _, f in await redis_client.xrange(audit_key)}
        assert outcome[z]["result"] == "failed" and outcome[z]["pbx"].startswith("interrupted")  # said, not redone
        assert outcome[y]["result"] == "ok"  # read ahead, never begun: done now
        a = await request("a")
        await until(lambda: audited(a))
        await redis_client.delete(keys.requests)  # the stream and its group gone, as a restart without AOF would
        b = await request("b")
        await until(lambda: audited(b))
        # handed over again: the delivery position back before b, and b's outcome lost
        b_audit = [aid for aid, f in await redis_client.xrange(audit_key) if f["request"] == b]
        await redis_client.xdel(audit_key, *b_audit)  # with its outcome mark: one transaction, lost together
        await redis_client.hdel(keys.outcomes(int(b.split("-")[0]) // 60_000), b)
        await redis_client.xgroup_setid(keys.requests, GROUP, "0")
        await until(lambda: audited(b))
        c = await request("c")
        await until(lambda: audited(c))
        assert pbx.performed == {"y": 1, "a": 1, "b": 1, "c": 1}  # b was audited again, not performed again
        assert [await audited(r) for r in (a, b, c)] == [1, 1, 1]
        assert not task.done()
    finally:
        ex.stop.set()
        await asyncio.wait_for(task, 5)
        await _drop(redis_client, prefix)


def test_embedded_server_runs_with_aof_everysec():
    """The embedded server's own start sets what RELIABILITY.md promises: AOF on, fsync every second."""
    root = Path(tempfile.mkdtemp(prefix="wbe", dir="/tmp"))
    paths = EmbeddedPaths(root)
    try:
        url = ensure_embedded(paths)
        r = redis.Redis(unix_socket_path=url.removeprefix("unix://"), decode_responses=True)
        try:
            assert r.config_get("appendonly") == {"appendonly": "yes"}
            assert r.config_get("appendfsync") == {"appendfsync": "everysec"}
            assert r.config_get("aof-load-truncated") == {"aof-load-truncated": "yes"}  # a torn tail still loads
            assert r.config_get("maxmemory-policy") == {"maxmemory-policy": "noeviction"}  # markers never evicted
        finally:
            r.close()
    finally:
        stop_embedded(paths)
        shutil.rmtree(root, ignore_errors=True)
