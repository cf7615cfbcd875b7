"""Crash safety: nothing lost, nothing double-counted (issue 9).

A long simulated day (the simulated PBX's queue_log: ``SimCentre`` rendered by ``QueueLogWriter``, as
``wallboard pbx`` writes it) is followed by real ``wallboard ingest --feed queue-log`` processes that are
killed with SIGKILL at random points and restarted, each resuming from the cursor it kept in Redis. When every
cursor has reached the end of the file, the ingesters are stopped and the snapshot at a fixed ``now`` (the last
event + 1 s) must equal a clean offline ``replay`` of the same file, figure for figure: every queue's counters,
ratios and gauges, every agent's counters and times, the centre total. Only the engine's count of duplicates
(events delivered again after a restart, recognised and not counted) may differ, and must have grown.

(a) one ingester, killed 5 times; (b) three ingesters sharing the partitions (``--shard I/3``), running at once,
each killed and restarted at its own random points. The expected figures come from the clean replay (an
independent path: offline, no cursor, no restart) and from a plain scan of the file's rows.

(c) a targeted restart the simulated day never has: between a pause an agent takes during a call (the sample
day's billing meeting) and the end of that call; the queue_log cursor must carry who is paused, since the feed
infers the agent's state after wrap-up from it and the PAUSE rows are behind the cursor.

Run with ``-s`` to see the figures (kills, events, duplicates re-applied, recovery time after each restart).
"""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
import redis

from feeds.queue_log import QueueLogFeed
from wallboard.config import load_config
from wallboard.engine import Engine
from wallboard.events import AgentStateChanged, CallerJoined
from wallboard.feed import CursorMark, DeadLetter
from wallboard.ingest import Ingest, parse_shard, shard_of
from wallboard.keys import Keys
from wallboard.replay import drop_namespace_sync, replay
from wallboard.sim.model import SimCentre
from wallboard.sim.queue_log_writer import QueueLogWriter
from wallboard.sim.scenarios import Spike, normal_day
from wallboard.store import connect

from .conftest import redis_url
from .polling import until

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "config" / "wallboard.toml"
# A past Sunday (the ingesters release queue_log's inferred wrap-up ends on the wall clock), 06:00-14:00
# local: one daily window, every inferred event before midnight.
DAY_START = datetime(2026, 11, 1, 6, 0, tzinfo=ZoneInfo("Asia/Jerusalem"))
DAY_HOURS = 8
LOAD = 4.0  # times the example centre's call rates: 17,491 rows, busy queues (abandons, timeouts, callbacks)
TIMEOUT_S = 40.0  # for one ingester to reach a kill point or the end
QUEUE_COUNTS = (
    "entered",
    "offered",
    "answered",
    "answered_within_sl",
    "abandoned",
    "short_abandoned",
    "abandoned_within_sl",
    "overflowed",
    "completed",
    "callbacks_pending",
    "waiting",
)
AGENT_COUNTS = ("calls_handled", "missed", "outbound_calls", "dial_attempts")


def _config(prefix: str):
    return load_config(CONFIG, redis={"prefix": prefix})


@pytest.fixture(scope="module")
def day(tmp_path_factory) -> Path:
    """The recorded day: the simulated centre's day as the simulated PBX writes its queue_log."""
    config = load_config(CONFIG)
    base = normal_day()
    scenario = replace(
        base,
        name="crash-safety-day",
        honour_hours=False,
        queues={q: replace(p, calls_per_hour=p.calls_per_hour * LOAD) for q, p in base.queues.items()},
        spikes=(Spike("support", 4 * 3600.0, 3600.0, 2.0),),
    )
    path = tmp_path_factory.mktemp("crash") / "queue_log"
    centre = SimCentre(config, scenario, 9, DAY_START)
    with QueueLogWriter(path, config) as writer:
        writer.queue_start(DAY_START)
        for h in range(1, DAY_HOURS + 1):
            writer.write(centre.advance_to(DAY_START + timedelta(hours=h)))
    return path


# --- the expected figures: a clean replay and a plain scan of the rows -----------------------------------------


@dataclass
class Reference:
    prefix: str
    now: datetime
    snapshot: dict
    duplicates: int
    events: int
    lines: int
    size: int
    scan: dict[str, Counter]


def _plain_scan(path: Path) -> dict[str, Counter]:
    """Per queue, counted straight from the rows (no feed, no engine): joins, answers (a CONNECT or a transfer
    per call and queue), abandons and overflows."""
    entered, abandoned, overflowed = Counter(), Counter(), Counter()
    answered: set[tuple[str, str]] = set()
    for line in path.read_text().splitlines():
        f = line.split("|")
        if len(f) < 5:
            continue
        verb, queue = f[4], f[2]
        if verb == "ENTERQUEUE":
            entered[queue] += 1
        elif verb in ("CONNECT", "BLINDTRANSFER", "ATTENDEDTRANSFER", "TRANSFER"):
            answered.add((f[1], queue))
        elif verb == "ABANDON":
            abandoned[queue] += 1
        elif verb in ("EXITWITHTIMEOUT", "EXITEMPTY", "EXITWITHKEY", "WITHDRAW"):
            overflowed[queue] += 1
    return {
        "entered": entered,
        "answered": Counter(q for _, q in answered),
        "abandoned": abandoned,
        "overflowed": overflowed,
    }


async def _snapshot(prefix: str, now: datetime) -> tuple[dict, int]:
    """The snapshot of a namespace at ``now`` (as JSON data) and every duplicate the engine recognised there
    (queue and agent slots)."""
    config = _config(prefix)
    client = await connect(config, redis_url())
    try:
        engine = Engine(client, config, Keys(prefix))
        await engine.start()
        snap = (await engine.build_snapshot(now)).model_dump(mode="json")
        keys = Keys(prefix)
        dups = sum(q["duplicates"] for q in snap["queues"].values())
        for a in snap["agents"]:
            dups += int(await client.hget(keys.agent(a) + ":stats", "duplicates") or 0)
        return snap, dups
    finally:
        await client.aclose()


@pytest.fixture(scope="module")
def reference(day):
    """The clean run: ``replay`` of the whole file into its own namespace, read at the last event + 1 s."""
    prefix = f"wbcrash-ref-{os.getpid()}-{random.randrange(1 << 30):x}"
    config = _config(prefix)
    items = list(QueueLogFeed(str(day), config).read())
    events = [e for e in items if not isinstance(e, DeadLetter)]
    assert events and len(events) == len(items), "the simulated day reads back with no dead letters"
    now = max(e.ts for e in events) + timedelta(seconds=1)
    assert now < datetime.now(timezone.utc), "the day must be over on the wall clock (wrap-up ends are released)"
    try:
        asyncio.run(replay(QueueLogFeed(str(day), config), config, redis_url=redis_url(), prefix=prefix))
        snap, dups = asyncio.run(_snapshot(prefix, now))
        lines = len(day.read_text().splitlines())
        yield Reference(prefix, now, snap, dups, len(events), lines, day.stat().st_size, _plain_scan(day))
    finally:
        drop_namespace_sync(redis.Redis.from_url(redis_url()), prefix)


# --- ingesters killed and restarted ----------------------------------------------------------------------------


@dataclass
class Kill:
    shard: str
    cursor_line: int  # the cursor saved in Redis when the process was killed
    cursor_offset: int
    recover_s: float | None = None  # from the restart to the cursor passing the kill point


@dataclass
class Runner:
    """One ingester (one shard, or the only one), its kill points (byte offsets the cursor must pass first)
    and what happened to it."""

    args: list[str]
    cursor_key: str
    targets: list[int]
    log: Path
    name: str
    proc: subprocess.Popen | None = None
    started: float = 0.0
    kills: list[Kill] = field(default_factory=list)
    recovering: Kill | None = None
    kill_at: float | None = None  # when the target was passed: killed after a random delay
    done: bool = False
    wall_s: float = 0.0  # from the first start to every ingester stopped at the end of the file


class PacedDay:
    """The day written to ``path`` a piece (5 %, whole lines) at a time, as a PBX writes it while the ingesters
    follow it (inotify): the next piece every ``EVERY_S`` while no kill waits and every ingester with kills to come
    is within two pieces of the end written, and two at once when an ingester's cursor passed a kill point (the
    kill, a moment later, finds it applying them: mid-batch). So the file's end (kill points are below 75 %) is
    only reached once every kill was made, and a kill always finds its ingester mid-file, however fast it
    applies."""

    PIECES = 20
    EVERY_S = 0.1

    def __init__(self, day: Path, path: Path):
        lines = day.read_bytes().splitlines(keepends=True)
        step = -(-len(lines) // self.PIECES)
        self.pieces = [b"".join(lines[i : i + step]) for i in range(0, len(lines), step)]
        self.path = path
        path.write_bytes(self.pieces[0])
        self.written, self.next_i, self.last = len(self.pieces[0]), 1, 0.0

    def write_on(self, runners: list[Runner], offset_of) -> None:
        """The next piece, when its time came and nothing holds it back."""
        if time.monotonic() - self.last < self.EVERY_S or any(r.kill_at is not None for r in runners):
            return
        reach = self.written - 2 * max(map(len, self.pieces))
        if not any(r.targets and offset_of(r) < reach for r in runners):
            self.write_next()

    def write_next(self, pieces: int = 1) -> None:
        more = self.pieces[self.next_i : self.next_i + pieces]
        with open(self.path, "ab") as f:
            f.write(b"".join(more))
        self.written += sum(map(len, more))
        self.next_i += len(more)
        self.last = time.monotonic()


def _start(r: Runner, env: dict) -> None:
    with open(r.log, "ab") as log:
        r.proc = subprocess.Popen(r.args, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    r.started = time.monotonic()


def _cursor(client: redis.Redis, key: str) -> tuple[int, int]:
    raw = client.get(key)
    if not raw:
        return 0, 0
    c = json.loads(raw)
    return int(c["line"]), int(c["offset"])


def _run_with_kills(
    day: Path, prefix: str, shards: int, kills_each: int, seed: int, ref: Reference, logs: Path
) -> list[Runner]:
    """Run ``shards`` ingesters at once (unsharded for 1), each SIGKILLed at ``kills_each`` random points spread
    over the file and restarted at once; when every cursor is at the end of the file, SIGTERM them all.

    The ingesters follow the day as the PBX writes it (``PacedDay``): given the whole file, a shard applies it in
    a few batches of ``ingest.CHUNK`` events it owns, and a kill placed after its cursor passed 70 % could land
    after its last batch (the end 30-50 ms after the write before it), no longer mid-file."""
    rng = random.Random(seed)
    client = redis.Redis.from_url(redis_url(), decode_responses=True)
    env = {**os.environ, "REDIS_URL": redis_url(), "PYTHONUNBUFFERED": "1"}
    paced = PacedDay(day, logs / "queue_log")
    day = paced.path
    base_key = f"{Keys(prefix).centre}:cursor:queue-log:{os.path.abspath(day)}"
    runners = []
    for i in range(shards):
        args = [
            sys.executable,
            "-m",
            "wallboard.cli",
            "ingest",
            "--feed",
            "queue-log",
            str(day),
            "--config",
            str(CONFIG),
            "--prefix",
            prefix,
        ]
        key = base_key
        if shards > 1:
            args += ["--shard", f"{i}/{shards}"]
            key = f"{base_key}:shard-{i}-of-{shards}"
        # kill points spread over the file: one in each of ``kills_each`` equal stretches of 5 %..75 % (the last
        # quarter is left for the cursor to reach while the kill is placed, however fast the machine)
        span = 0.70 / kills_each
        targets = [int(ref.size * (0.05 + span * (k + rng.uniform(0.15, 0.85)))) for k in range(kills_each)]
        name = f"shard {i}/{shards}" if shards > 1 else "ingester"
        runners.append(Runner(args, key, targets, logs / f"ingest-{i}.log", name))
    t0 = time.monotonic()
    try:
        for r in runners:
            _start(r, env)
        deadline = time.monotonic() + TIMEOUT_S * (kills_each + 1)
        while not all(r.done for r in runners):
            assert time.monotonic() < deadline, "the ingesters did not reach the end in time: " + _tails(runners)
            paced.write_on(runners, lambda r: _cursor(client, r.cursor_key)[1])
            for r in runners:
                if r.done:
                    continue
                if r.proc.poll() is not None:
                    raise AssertionError(f"{r.name} exited by itself ({r.proc.returncode}): " + _tails([r]))
                line, offset = _cursor(client, r.cursor_key)
                now = time.monotonic()
                if r.recovering is not None and offset > r.recovering.cursor_offset:
                    r.recovering.recover_s = now - r.started
                    r.recovering = None
                if r.kill_at is not None and now >= r.kill_at:
                    r.proc.send_signal(signal.SIGKILL)
                    r.proc.wait()
                    line, offset = _cursor(client, r.cursor_key)  # what the next run resumes from
                    kill = Kill(r.name, line, offset)
                    previous = r.kills[-1].cursor_offset if r.kills else 0
                    assert previous < offset < ref.size, f"{r.name}: no progress or not mid-file: {kill}"
                    r.kills.append(kill)
                    r.kill_at = None
                    _start(r, env)
                    r.recovering = kill
                elif r.kill_at is None and r.recovering is None and r.targets and offset >= r.targets[0]:
                    r.targets.pop(0)
                    r.kill_at = now + rng.uniform(0.005, 0.04)  # a random moment after the target: mid-batch
                    paced.write_next(2)  # ... of the pieces written now
                elif not r.targets and r.kill_at is None and offset == ref.size and r.recovering is None:
                    assert line == ref.lines
                    r.done = True
            time.sleep(0.005)
    finally:
        for r in runners:
            if r.proc is not None and r.proc.poll() is None:
                r.proc.send_signal(signal.SIGTERM)
        for r in runners:
            if r.proc is not None:
                try:
                    r.proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    r.proc.kill()
                    r.proc.wait()
        client.close()
    for r in runners:
        r.wall_s = time.monotonic() - t0
    return runners


def _tails(runners: list[Runner]) -> str:
    return "\n".join(f"--- {r.name}\n" + (r.log.read_text()[-2000:] if r.log.exists() else "") for r in runners)


# --- comparing ---------------------------------------------------------------------------------------------------


def _without_duplicates(snap: dict) -> dict:
    out = json.loads(json.dumps(snap))
    for q in out["queues"].values():
        q.pop("duplicates")
    return out


def _check_against_reference(
    prefix: str, ref: Reference, runners: list[Runner], title: str, reread: bool = True
) -> dict:
    """Everything counted as the clean replay counted it; ``reread``: and the restarts re-read rows behind a
    cursor (the kills landed mid-batch: the duplicates path was taken), else the caller checks that itself."""
    snap, dups = asyncio.run(_snapshot(prefix, ref.now))
    # lost / double-counted: every whole counter of every queue and agent against the clean run
    lost = double = 0
    for part, counters in (("queues", QUEUE_COUNTS), ("agents", AGENT_COUNTS)):
        for name, want_part in ref.snapshot[part].items():
            for c in counters:
                diff = snap[part].get(name, {}).get(c, 0) - want_part[c]
                lost, double = lost + max(0, -diff), double + max(0, diff)
    assert (lost, double) == (0, 0)
    got, want = _without_duplicates(snap), _without_duplicates(ref.snapshot)
    assert set(got["queues"]) == set(want["queues"]) and set(got["agents"]) == set(want["agents"])
    for q in want["queues"]:
        assert got["queues"][q] == want["queues"][q], f"queue {q} differs from the clean replay"
    for a in want["agents"]:
        assert got["agents"][a] == want["agents"][a], f"agent {a} differs from the clean replay"
    assert got == want  # the total, dead letters, gaps, window: everything else too

    # hand-checkable: the rows of the file, counted by a plain scan, are the snapshot's counters
    for figure, per_queue in ref.scan.items():
        for q, n in per_queue.items():
            assert snap["queues"][q][figure] == n, (figure, q)
    assert snap["total"]["entered"] == sum(ref.scan["entered"].values())

    kills = [k for r in runners for k in r.kills]
    assert all(k.recover_s is not None for k in kills)
    reapplied = dups - ref.duplicates
    if reread:
        assert reapplied > 0, "restarts re-read rows behind the cursor: the engine must have recognised them"
    figures = {
        "title": title,
        "lines": ref.lines,
        "events": ref.events,
        "kills": len(kills),
        "duplicates re-applied (recognised, not counted)": reapplied,
        "duplicates in the clean run": ref.duplicates,
        "lost": lost,
        "double-counted": double,
        "entered (ENTERQUEUE rows)": snap["total"]["entered"],
        "kill points (cursor line)": [f"{k.shard}@{k.cursor_line}" for k in kills],
        "recovery after each restart (s)": [round(k.recover_s, 2) for k in kills],
        "wall time, first start to all stopped at the end (s)": round(max(r.wall_s for r in runners), 1),
    }
    print(f"\n{title}")
    for k, v in figures.items():
        if k != "title":
            print(f"  {k}: {v}")
    return figures


# --- the tests ---------------------------------------------------------------------------------------------------


def test_one_ingester_killed_and_restarted_counts_like_a_clean_replay(day, reference, tmp_path):
    prefix = f"wbcrash-one-{os.getpid()}-{random.randrange(1 << 30):x}"
    try:
        runners = _run_with_kills(day, prefix, shards=1, kills_each=5, seed=9001, ref=reference, logs=tmp_path)
        assert len(runners[0].kills) == 5
        _check_against_reference(prefix, reference, runners, "one ingester, SIGKILLed and restarted")
    finally:
        drop_namespace_sync(redis.Redis.from_url(redis_url()), prefix)


def test_three_sharded_ingesters_killed_and_restarted_count_like_a_clean_replay(day, reference, tmp_path):
    prefix = f"wbcrash-shards-{os.getpid()}-{random.randrange(1 << 30):x}"
    # every shard has work: the partitions (4 queues, 28 agents) spread over the 3 shards
    config = load_config(CONFIG)
    parts = [f"q:{q.name}" for q in config.queues] + [f"a:{a.id}" for a in config.agents]
    assert {shard_of(p, 3) for p in parts} == {0, 1, 2}
    # a shard writes its cursor after each batch of its events, three times in this file, so its two kills can
    # both land right after a cursor write (nothing re-read, nothing to recognise): whether a restart re-read rows
    # is chance here (none in all of three runs with other kill points, in CI), so this test asserts the counts
    # and the one-ingester test above, whose five kills re-read rows, asserts their recognition
    try:
        runners = _run_with_kills(day, prefix, shards=3, kills_each=2, seed=9003, ref=reference, logs=tmp_path)
        assert [len(r.kills) for r in runners] == [2, 2, 2]
        title = "three sharded ingesters, each SIGKILLed and restarted"
        _check_against_reference(prefix, reference, runners, title, reread=False)
    finally:
        drop_namespace_sync(redis.Redis.from_url(redis_url()), prefix)


# --- sharding: the option, the cursors, each event applied by one shard, dead letters recorded once --------------


def test_shard_option_is_checked_with_a_clear_error(capsys):
    from wallboard import cli

    assert parse_shard("2/3") == (2, 3) and parse_shard("0/1") == (0, 1)
    for text, why in (
        ("3/2", "I must be 0..N-1"),
        ("0/0", "N must be at least 1"),
        ("a/3", "expected I/N"),
        ("1", "expected I/N"),
    ):
        with pytest.raises(ValueError, match=why):
            parse_shard(text)
        assert cli.main(["ingest", "--feed", "queue-log", "queue_log", "--shard", text]) == 2
        assert f"wallboard: --shard {text}: {why}" in capsys.readouterr().err


class _ListFeed:
    """A live feed that hands over a fixed list, then a cursor mark, then stays open."""

    name = "list"

    def __init__(self, items):
        self.items = items

    def resume(self, state):
        self.resumed = state

    def cursor_key(self):
        return "list:test"

    async def follow(self, clock):
        for item in self.items:
            yield item
        yield CursorMark(self.cursor_key(), "end")
        await asyncio.Event().wait()


async def test_shards_split_the_partitions_and_record_dead_letters_once(redis_client, prefix):
    config = load_config(CONFIG, redis={"prefix": prefix})
    t0 = DAY_START.astimezone(timezone.utc)
    items: list = []
    for i, q in enumerate(["support", "tech", "billing", "sales"] * 3):
        at = t0 + timedelta(seconds=i)
        items.append(CallerJoined(id=f"j{i}", ts=at, source="t", queue=q, call_id=f"c{i}"))
        items.append(AgentStateChanged(id=f"s{i}", ts=at, source="t", agent=f"10{i + 1:02d}", state="available"))
    items.append(DeadLetter("list:13", "too few fields (1)", "garbage"))
    shards = [Ingest(redis_client, config, _ListFeed(items), name=f"s{i}", shard=(i, 3)) for i in range(3)]
    recorded: list[int] = []  # which shards record dead letters (the store would dedupe a second record anyway)

    def counting(i, record):
        async def dead_letters(dead):
            recorded.append(i)
            return await record(dead)

        return dead_letters

    for i, s in enumerate(shards):
        s.engine.dead_letters = counting(i, s.engine.dead_letters)
    assert Ingest(redis_client, config, _ListFeed([]), shard=(0, 1)).shard is None  # one of one: not sharded
    keys = [s.cursor_key("list:test") for s in shards]
    assert keys[1].endswith(":cursor:list:test:shard-1-of-3") and len(set(keys)) == 3
    tasks = [asyncio.create_task(s.run()) for s in shards]

    async def all_at_end() -> bool:
        return all([await redis_client.get(k) == "end" for k in keys])

    try:
        await until(all_at_end, "every shard's cursor at the end of its events", timeout=10)
    finally:
        for s in shards:
            s.stop.set()
        await asyncio.gather(*tasks)
    events = [e for e in items if not isinstance(e, DeadLetter)]
    assert sum(s.events_applied for s in shards) == len(events)  # each event by exactly one shard
    assert all(s.events_applied for s in shards)  # and each shard had some
    for e in events:
        assert [s.owns(e) for s in shards].count(True) == 1
    snap, dups = await _snapshot(prefix, t0 + timedelta(minutes=1))
    assert snap["total"]["entered"] == 12 and snap["dead_letters"] == 1 and dups == 0
    assert recorded == [0]


# --- a restart between a pause taken during a call and the end of that call -------------------------------------

SAMPLE = ROOT / "samples" / "sample_day.queue_log"


async def _follow_to_end(client, config, path: Path) -> dict:
    """A follower (in this process) until its cursor is at the end of the file, then stopped; its cursor."""
    feed = QueueLogFeed(str(path), config)
    ing = Ingest(client, config, feed, name="follower")
    task = asyncio.create_task(ing.run())
    key = ing.cursor_key(feed.cursor_key())

    async def cursor_at_end() -> dict | None:
        raw = await client.get(key)
        cursor = json.loads(raw) if raw else None
        return cursor if cursor and cursor["offset"] == path.stat().st_size else None

    try:
        return await until(cursor_at_end, "the follower's cursor at the end of the file", timeout=20, every=0.05)
    finally:
        ing.stop.set()
        await asyncio.wait_for(task, 10)


async def test_a_restart_during_a_call_keeps_a_pause_taken_on_that_call(redis_client, tmp_path):
    """The sample day's billing meeting pauses agents on calls (PAUSEALL / PAUSE, the call goes on); queue_log
    has no row for the end of wrap-up, so the feed infers it, and the agent goes back to ``paused`` because the
    pause is in force. An ingester restarted after the PAUSE rows and before the calls end must do the same."""
    lines = SAMPLE.read_text().splitlines(keepends=True)
    rows = [line.split("|") for line in lines]
    on_call: dict[str, int] = {}
    paused_on_call: dict[str, int] = {}  # agent -> line (0-based) of a PAUSE taken during a call
    for i, f in enumerate(rows):
        if f[4] == "CONNECT":
            on_call[f[3]] = i
        elif f[4].startswith("COMPLETE") or f[4].endswith("TRANSFER"):
            on_call.pop(f[3], None)
        elif f[4] == "PAUSE" and f[3] in on_call and not paused_on_call:
            paused_on_call = {
                a: i
                for a in on_call
                if any(g[4] == "PAUSE" and g[3] == a and g[0] == f[0] for g in rows[i - 40 : i + 40])
            }
    assert len(paused_on_call) >= 2  # the meeting: several agents paused on a call at the same second
    pause_at = float(rows[max(paused_on_call.values())][0])
    # cut past every wrap-up of a call that ended before the pause (the cursor resumes after the PAUSE rows)
    cut = next(i for i, f in enumerate(rows) if float(f[0]) > pause_at + 16)
    ends = [
        next(j for j in range(i, len(rows)) if rows[j][3] == a and rows[j][4].startswith("COMPLETE"))
        for a, i in paused_on_call.items()
    ]
    assert all(end > cut for end in ends), "the calls end after the restart"

    prefix, ref_prefix = f"wbcrash-pause-{os.getpid()}", f"wbcrash-pause-ref-{os.getpid()}"
    config, ref_config = _config(prefix), _config(ref_prefix)
    path = tmp_path / "queue_log"
    try:
        path.write_text("".join(lines[:cut]))
        first = await _follow_to_end(redis_client, config, path)
        assert first["line"] > max(paused_on_call.values()) + 1  # resumes after the PAUSE rows
        with open(path, "a") as f:
            f.write("".join(lines[cut:]))
        await _follow_to_end(redis_client, config, path)

        await replay(QueueLogFeed(str(SAMPLE), ref_config), ref_config, redis_url=redis_url(), prefix=ref_prefix)
        now = datetime.fromtimestamp(float(rows[-1][0]) + 60, timezone.utc)
        got, _ = await _snapshot(prefix, now)
        want, _ = await _snapshot(ref_prefix, now)
        agents = [config.agent_by_interface()[iface] for iface in paused_on_call]
        assert {a: got["agents"][a]["pause_s"] for a in agents} == {a: want["agents"][a]["pause_s"] for a in agents}
        assert _without_duplicates(got) == _without_duplicates(want)
    finally:
        sync = redis.Redis.from_url(redis_url())
        drop_namespace_sync(sync, prefix)
        drop_namespace_sync(sync, ref_prefix)
