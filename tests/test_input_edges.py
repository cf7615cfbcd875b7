"""Input at the edges: times far from now, names that would break a key, an answer with no join, and queue
members as Asterisk means them. Real Redis; expected values worked out by hand in each test.

Times: T0 (conftest) is 2026-11-23 09:00:00Z; Asia/Jerusalem is UTC+2 in November and January, so its 00:00
reset is 22:00Z the day before.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from pydantic import ValidationError

from feeds.ami_capture import AmiCaptureFeed
from feeds.jsonl import JsonlFeed
from feeds.queue_log import QueueLogFeed
from wallboard.ami.mapper import AmiMapper
from wallboard.ami.protocol import Message
from wallboard.clock import ManualClock
from wallboard.config import AgentConfig, QueueConfig, WallboardConfig, load_config
from wallboard.events import (
    AgentStateChanged,
    CallerAbandoned,
    CallerAnswered,
    CallerJoined,
    MemberAdded,
    MemberRemoved,
    WaitingResync,
    wall_clock,
)
from wallboard.feed import DeadLetter
from wallboard.replay import replay
from wallboard.windows import Windows

from .conftest import T0, at, redis_url

ROOT = Path(__file__).resolve().parent.parent
WALLBOARD = Path(sys.executable).with_name("wallboard")
QL_T0 = int(T0.timestamp())  # 1795424400
YEAR_5000 = 95617584000  # 5000-01-01T00:00:00Z

CONFIG = WallboardConfig(
    queues=[QueueConfig(name="support", wrapup_s=15), QueueConfig(name="tech", wrapup_s=0)],
    agents=[
        AgentConfig(id="1001", interface="PJSIP/1001", skills={"support": 0}),
        AgentConfig(id="1002", interface="PJSIP/1002", skills={"support": 0, "tech": 0}),
    ],
)

_ids = itertools.count()


def ev(cls, t, **kw):
    ts = t if isinstance(t, datetime) else at(t)
    return cls(id=f"e{next(_ids)}", ts=ts, source="test", **kw)


def read_ql(tmp_path: Path, data: bytes | str, config: WallboardConfig = CONFIG) -> list:
    path = tmp_path / "queue_log"
    path.write_bytes(data if isinstance(data, bytes) else data.encode())
    return list(QueueLogFeed(path, config).read())


def rows(*lines: str) -> str:
    """'offset|rest' lines, offset in seconds after T0."""
    return "".join(f"{QL_T0 + int(o)}|{rest}\n" for o, rest in (line.split("|", 1) for line in lines))


def dead(items: list) -> list[DeadLetter]:
    return [i for i in items if isinstance(i, DeadLetter)]


def states(items: list) -> list[tuple]:
    return [(e.id, e.agent, e.state) for e in items if isinstance(e, AgentStateChanged)]


# -- 6. times far from now: one bound in the event model, for every feed -------------------------------------


def test_the_time_bounds_follow_an_injected_wall_clock():
    """Before 1990-01-01 or more than a day after the wall clock is refused; exactly at either edge is not."""
    kw = dict(id="x", source="test", queue="support", call_id="c1")
    with wall_clock(ManualClock(T0)):
        CallerJoined(ts=T0 + timedelta(days=1), **kw)
        CallerJoined(ts=datetime(1990, 1, 1, tzinfo=timezone.utc), **kw)
        with pytest.raises(ValidationError, match="more than a day after the wall clock"):
            CallerJoined(ts=T0 + timedelta(days=1, seconds=1), **kw)
        with pytest.raises(ValidationError, match="before 1990-01-01"):
            CallerJoined(ts=datetime(1989, 12, 31, 23, 59, 59, tzinfo=timezone.utc), **kw)
        # the join an exit implies (ts - wait) is an event time too: 2026-11-23 minus 1e9 s is 1995, 2e9 s 1963
        CallerAnswered(ts=T0, wait_s=1e9, **kw)
        with pytest.raises(ValidationError, match="the join it implies"):
            CallerAnswered(ts=T0, wait_s=2e9, **kw)
    with wall_clock(ManualClock(T0 + timedelta(days=30))):  # another clock, another bound
        CallerJoined(ts=T0 + timedelta(days=30), **kw)


def test_far_times_are_dead_letters_in_every_feed(tmp_path):
    # queue_log: year 5000 (and 1989) rows are dead letters; the rows around them are read
    items = read_ql(
        tmp_path,
        rows("0|c1|support|NONE|ENTERQUEUE||050|1")
        + f"{YEAR_5000}|c2|support|NONE|ENTERQUEUE||050|1\n"
        + "631151999|c3|support|NONE|ENTERQUEUE||050|1\n"
        + rows("5|c4|support|NONE|ENTERQUEUE||050|1"),
    )
    assert [e.call_id for e in items if isinstance(e, CallerJoined)] == ["c1", "c4"]
    reasons = [d.reason for d in dead(items)]
    assert len(reasons) == 2
    assert "more than a day after the wall clock" in reasons[0] and "before 1990-01-01" in reasons[1]

    # ami-capture: a Timestamp in the year 5000
    cap = tmp_path / "cap.txt"
    cap.write_text(
        f"Event: QueueCallerJoin\nTimestamp: {YEAR_5000}.000000\nQueue: support\nUniqueid: 1795424400.1\n"
        f"Position: 1\n\nEvent: QueueCallerJoin\nTimestamp: {QL_T0}.5\nQueue: support\n"
        f"Uniqueid: 1795424400.2\nPosition: 1\n\n"
    )
    out = list(AmiCaptureFeed(cap, CONFIG).read())
    assert [e.call_id for e in out if isinstance(e, CallerJoined)] == ["1795424400.2"]
    assert "more than a day after the wall clock" in dead(out)[0].reason

    # jsonl: the largest and the smallest time ISO 8601 allows
    times = ["9999-12-31T23:59:59Z", "0001-01-01T00:00:00+01:00", "2026-11-23T09:00:00Z"]
    lines = [
        json.dumps(
            {"type": "caller_joined", "id": f"j{n}", "ts": ts, "source": "t", "queue": "support", "call_id": f"c{n}"}
        )
        for n, ts in enumerate(times)
    ]
    path = tmp_path / "e.jsonl"
    path.write_text("\n".join(lines) + "\n")
    out = list(JsonlFeed(str(path), CONFIG).read())
    assert [e.call_id for e in out if isinstance(e, CallerJoined)] == ["c2"]
    assert ["after the wall clock" in d.reason for d in dead(out)] == [True, False]
    assert "before 1990-01-01" in dead(out)[1].reason


def test_a_capture_uniqueid_far_ahead_does_not_drag_the_capture_clock():
    """A capture without Timestamps dates events by Uniqueid epochs, and that clock never goes back: one
    Uniqueid of year 5138 must not date every later event (to dead letters)."""
    mapper = AmiMapper(CONFIG, capture=True)
    out = []
    for i, (uid, q) in enumerate([("1795424400.1", "support"), ("99999999999.2", "support"), ("1795424460.3", "tech")]):
        out += mapper.map(
            Message({"event": "QueueCallerJoin", "queue": q, "uniqueid": uid, "position": "1"}), None, str(i)
        )
    assert not dead(out)
    assert [(e.call_id, e.ts) for e in out] == [("1795424400.1", T0), ("99999999999.2", T0), ("1795424460.3", at(60))]


def test_window_bounds_cost_the_days_covered_not_the_gap_between_times():
    """Splitting agent time needs the daily resets within ``reach`` before each event; a batch holding a 1990
    event and a 2026 one walked every day between (13,000; to year 5000, 1.1 million)."""
    w = Windows(load_config(None, centre={"timezone": "Asia/Jerusalem"}).centre)
    t1990 = datetime(1990, 1, 10, 12, 0, tzinfo=timezone.utc).timestamp()
    reach = 72 * 3600.0
    z = lambda *a: int(datetime(*a, 22, 0, tzinfo=timezone.utc).timestamp())  # noqa: E731 - 00:00 local
    # each run: the reset at or before (t - 72 h - 1 min), then every reset up to t
    assert w.bounds([T0.timestamp(), t1990, T0.timestamp() - 5], reach) == [
        z(1990, 1, 6),
        z(1990, 1, 7),
        z(1990, 1, 8),
        z(1990, 1, 9),
        z(2026, 11, 19),
        z(2026, 11, 20),
        z(2026, 11, 21),
        z(2026, 11, 22),
    ]


async def test_agent_time_is_split_right_in_a_batch_spanning_decades(make_engine):
    eng = await make_engine(centre={"timezone": "Asia/Jerusalem"}, queues=[{"name": "support"}])
    old = datetime(1990, 1, 10, 12, 0, tzinfo=timezone.utc)
    await eng.apply(
        [
            ev(AgentStateChanged, old, agent="9001", state="available"),
            ev(AgentStateChanged, old + timedelta(minutes=5), agent="9001", state="paused", reason="x"),
            ev(AgentStateChanged, -3600, agent="1001", state="available"),
            ev(AgentStateChanged, 1800, agent="1001", state="paused", reason="lunch"),
        ]
    )
    snap = await eng.build_snapshot(at(1800))
    assert snap.agents["1001"].available_s == 5400.0  # 08:00 to 09:30, all in the window since 22:00Z
    assert snap.agents["9001"].available_s == 0.0  # its 5 minutes are in a 1990 window


async def test_a_replay_with_a_year_5000_row_is_quick_and_counts_the_rest(tmp_path, namespace):
    config = load_config(ROOT / "config" / "wallboard.toml")
    path = tmp_path / "queue_log"
    path.write_text(
        rows("0|c1|support|NONE|ENTERQUEUE||050|1", "12|c1|support|PJSIP/1001|CONNECT|12|u1|3")
        + f"{YEAR_5000}|c2|support|NONE|ENTERQUEUE||050|1\n"
    )
    snap, stats = await replay(QueueLogFeed(str(path), config), config, redis_url=redis_url(), prefix=namespace)
    assert (stats.dead_letters, snap.dead_letters) == (1, 1)
    assert (snap.queues["support"].entered, snap.queues["support"].answered) == (1, 1)
    assert snap.at == datetime(2026, 11, 23, 9, 0, 13, tzinfo=timezone.utc)  # the last good event + 1 s


async def test_a_sped_up_simulation_waits_at_the_bound_instead_of_failing():
    """The sim feed at 200,000x asks for 2.3 days of centre in one second of clock: it runs to a day ahead of the
    clock (the bound) and waits there, rather than make events the event model refuses (an ingester crash)."""
    from feeds.sim import SimFeed

    clock = ManualClock(T0)
    feed = SimFeed(
        None, load_config(ROOT / "config" / "wallboard.toml"), scenario="normal", seed=1, speed=200_000, step_s=0
    )
    with wall_clock(clock):
        stream = feed.follow(clock)
        await anext(stream)
        clock.advance(1)
        while feed.centre.now == T0:  # the logins at T0 first
            await asyncio.wait_for(anext(stream), 30)
        assert feed.centre.now == T0 + timedelta(days=1, seconds=1)
        await stream.aclose()


# -- 7. names -----------------------------------------------------------------------------------------------


def test_a_byte_order_mark_is_not_part_of_the_first_row(tmp_path):
    items = read_ql(
        tmp_path,
        b"\xef\xbb\xbf" + rows("0|c1|support|NONE|ENTERQUEUE||050|1", "1|c2|support|NONE|ENTERQUEUE||050|1").encode(),
    )
    assert [(e.id, e.call_id) for e in items] == [("ql:1:1", "c1"), ("ql:2:1", "c2")]
    path = tmp_path / "e.jsonl"
    line = json.dumps(
        {
            "type": "caller_joined",
            "id": "j",
            "ts": "2026-11-23T09:00:00Z",
            "source": "t",
            "queue": "support",
            "call_id": "c1",
        }
    )
    path.write_bytes(b"\xef\xbb\xbf" + line.encode())
    assert [e.call_id for e in JsonlFeed(str(path), CONFIG).read()] == ["c1"]


def test_names_that_would_break_a_key_are_dead_letters_not_queues(tmp_path):
    data = (
        rows("0|c1|sup{port|NONE|ENTERQUEUE||050|1", "1|c2|a\x01b|NONE|ENTERQUEUE||050|1").encode()
        + f"{QL_T0 + 2}|c3|caf\xe9|NONE|ENTERQUEUE||050|1\n".encode("latin-1")  # not UTF-8
        + rows(
            f"3|c4|{'q' * 129}|NONE|ENTERQUEUE||050|1",
            "4|NONE|support|Agent/10}01|ADDMEMBER|",
            f"5|c6|{'q' * 128}|NONE|ENTERQUEUE||050|1",
            "6|NONE|NONE|NONE|QUEUESTART|",
        ).encode()
    )
    items = read_ql(tmp_path, data)
    reasons = [d.reason for d in dead(items)]
    assert len(reasons) == 5
    assert "'{'" in reasons[0] and "hash tag" in reasons[0]
    assert "control character" in reasons[1]
    assert "not valid UTF-8" in reasons[2]
    assert "longer than 128 characters (129)" in reasons[3]
    assert "'}'" in reasons[4]
    good = [e for e in items if not isinstance(e, DeadLetter)]
    assert [e.call_id for e in good if isinstance(e, CallerJoined)] == ["c6"]
    # the PBX restart empties the configured queues and the one good name seen, not the refused ones
    assert [e.queue for e in good if isinstance(e, WaitingResync)] == ["support", "tech", "q" * 128]


def test_bad_names_from_ami_are_dead_letters_and_leave_the_mapper_as_it_was():
    mapper = AmiMapper(CONFIG)
    msgs = [
        {
            "event": "QueueMemberAdded",
            "timestamp": f"{QL_T0}",
            "queue": "support",
            "membername": "Agent{1}",
            "interface": "Local/1@x",
            "status": "1",
            "paused": "0",
        },
        {"event": "QueueCallerJoin", "timestamp": f"{QL_T0 + 1}", "queue": "tech\x7f", "uniqueid": "u1"},
        {"event": "QueueCallerJoin", "timestamp": f"{QL_T0 + 2}", "queue": "tech", "uniqueid": "u1"},
    ]
    out = []
    for i, m in enumerate(msgs):
        out += mapper.map(Message(m), None, str(i))
    assert [d.reason.split(":")[0] for d in dead(out)] == ["QueueMemberAdded", "QueueCallerJoin"]
    assert "hash tag" in dead(out)[0].reason and "control character" in dead(out)[1].reason
    assert [(type(e), e.queue) for e in out if not isinstance(e, DeadLetter)] == [(CallerJoined, "tech")]
    assert mapper._agents == {}  # the refused member left no model behind


async def test_a_replay_makes_no_queue_of_a_refused_name(tmp_path, namespace):
    config = load_config(ROOT / "config" / "wallboard.toml")
    path = tmp_path / "queue_log"
    path.write_text(rows("0|c1|support|NONE|ENTERQUEUE||050|1", "1|c2|x}y|NONE|ENTERQUEUE||050|1"))
    snap, stats = await replay(QueueLogFeed(str(path), config), config, redis_url=redis_url(), prefix=namespace)
    assert stats.dead_letters == 1
    assert "x}y" not in snap.queues and snap.queues["support"].entered == 1


# -- 8. an answer with no join ------------------------------------------------------------------------------


async def test_an_exit_with_no_join_counts_the_entry_it_implies_once(make_engine):
    eng = await make_engine(queues=[{"name": "support"}])
    # the feed began mid-call: an answer after 12 s and an abandon after 40 s, their joins never seen
    await eng.apply(
        [
            ev(CallerAnswered, 30, queue="support", call_id="c1", agent="1001", wait_s=12),
            ev(CallerAbandoned, 100, queue="support", call_id="c2", wait_s=40),
        ]
    )
    q = (await eng.build_snapshot(at(120))).queues["support"]
    assert (q.entered, q.offered, q.answered, q.abandoned, q.answered_within_sl, q.waiting) == (2, 2, 1, 1, 1, 0)
    assert (q.wait_answered_s, q.wait_all_s) == (12.0, 52.0)
    # the ENTERQUEUEs turn up after all (a file read again; queue_log's whole seconds: within 1 s of 30 - 12)
    res = await eng.apply(
        [ev(CallerJoined, 18, queue="support", call_id="c1"), ev(CallerJoined, 60.4, queue="support", call_id="c2")]
    )
    assert (res.applied, res.duplicates) == (0, 2)
    q = (await eng.build_snapshot(at(120))).queues["support"]
    snap = await eng.build_snapshot(at(120))
    assert (snap.queues["support"].entered, snap.queues["support"].offered, snap.queues["support"].waiting) == (2, 2, 0)
    assert snap.agents["1001"].calls_handled == 1


async def test_the_implied_join_is_counted_in_its_own_window_and_minute(make_engine):
    eng = await make_engine(centre={"timezone": "Asia/Jerusalem"}, queues=[{"name": "support"}])
    reset = datetime(2026, 11, 23, 22, 0, tzinfo=timezone.utc)  # 00:00 on the 24th in Jerusalem
    await eng.apply([ev(CallerAnswered, reset + timedelta(seconds=5), queue="support", call_id="c1", wait_s=10)])
    before = (await eng.build_snapshot(reset - timedelta(seconds=1))).queues["support"]
    after = (await eng.build_snapshot(reset + timedelta(seconds=6))).queues["support"]
    # joined 21:59:55Z (the day before, as an ENTERQUEUE row would have been), answered 22:00:05Z
    assert (before.entered, before.answered) == (1, 0)
    assert (after.entered, after.answered) == (0, 1)
    assert (after.rolling.entered, after.rolling.answered) == (1, 1)  # minutes 21:59 and 22:00 both rolling


# -- 9. queue members as Asterisk means them -----------------------------------------------------------------


def test_a_plain_addmember_is_logged_in_and_available(tmp_path, namespace):
    """The issue's repro, through the command line."""
    path = tmp_path / "t.ql"
    path.write_text("1543940942|MANAGER|tech|PJSIP/1002|ADDMEMBER|\n")
    env = {k: v for k, v in os.environ.items() if not k.startswith("WALLBOARD_")}
    proc = subprocess.run(
        [
            str(WALLBOARD),
            "replay",
            "--feed",
            "queue-log",
            str(path),
            "--json",
            "--config",
            str(ROOT / "config" / "wallboard.toml"),
            "--prefix",
            namespace,
            "--redis",
            redis_url(),
        ],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    snap = json.loads(proc.stdout)
    assert snap["agents"]["1002"]["state"] == "available"
    assert snap["queues"]["tech"]["agent_counts"]["logged_in"] == 1


def test_queue_log_member_verbs_as_asterisk_means_them(tmp_path):
    items = read_ql(
        tmp_path,
        rows(
            "0|NONE|tech|PJSIP/1001|ADDMEMBER|",  # logged out until now: available
            "1|c1|support|PJSIP/1001|CONNECT|5|u1|2",
            "2|NONE|sales|PJSIP/1001|ADDMEMBER|",  # on a call: still on it
            "3|NONE|NONE|PJSIP/1001|PAUSEALL|",  # paused at once by Asterisk: on the call, the pause pending
            "4|NONE|NONE|PJSIP/1001|UNPAUSEALL|",  # unpaused, still on the call, nothing pending
            "10|c1|support|PJSIP/1001|COMPLETEAGENT|5|9|1",  # wrap-up, then available (not paused)
            "29|NONE|tech|PJSIP/1002|ADDMEMBER|",  # available
            "30|NONE|support|PJSIP/1002|REMOVEMEMBER|",  # still in tech: no change
            "31|NONE|tech|PJSIP/1002|REMOVEMEMBER|",  # its last queue: logged out
            "32|NONE|tech|PJSIP/1002|ADDMEMBER|",  # back: available
            "33|NONE|tech|PJSIP/1003|REMOVEMEMBER|",  # never seen logged in: logged out already, no state
        ),
    )
    assert not dead(items)
    assert states(items) == [
        ("ql:1:2", "1001", "available"),
        ("ql:2:2", "1001", "on_call"),
        ("ql:4:1", "1001", "on_call"),
        ("ql:5:1", "1001", "on_call"),
        ("ql:6:2", "1001", "wrap_up"),
        ("ql:6:a", "1001", "available"),
        ("ql:7:2", "1002", "available"),
        ("ql:9:2", "1002", "logged_out"),
        ("ql:10:2", "1002", "available"),
    ]
    pending = {e.id: e.pause_pending for e in items if e.id in ("ql:4:1", "ql:5:1", "ql:6:2")}
    assert pending == {"ql:4:1": True, "ql:5:1": False, "ql:6:2": False}
    unpaused = next(e for e in items if e.id == "ql:5:1")
    assert (unpaused.call_id, unpaused.queue) == ("c1", "support")
    assert [type(e) for e in items if e.id in ("ql:8:1", "ql:9:1", "ql:11:1")] == [MemberRemoved] * 3


def test_ami_member_added_without_status_is_available_and_removed_from_all_is_logged_out():
    mapper = AmiMapper(CONFIG)
    out = []
    for i, m in enumerate(
        [
            {
                "event": "QueueMemberAdded",
                "queue": "tech",
                "membername": "PJSIP/1001",
                "interface": "PJSIP/1001",
                "penalty": "0",
                "paused": "0",
            },  # an old or proxied event: no Status
            {"event": "QueueMemberRemoved", "queue": "tech", "membername": "PJSIP/1001", "interface": "PJSIP/1001"},
        ]
    ):
        out += mapper.map(Message({**m, "timestamp": f"{QL_T0 + i}"}), None, str(i))
    assert [(type(e), getattr(e, "state", None), e.ts) for e in out] == [
        (MemberAdded, None, T0),
        (AgentStateChanged, "available", T0),
        (MemberRemoved, None, at(1)),
        (AgentStateChanged, "logged_out", at(1)),
    ]
