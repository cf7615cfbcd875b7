"""Feed faults (issue 9): a dropped AMI socket, a half-open link, a PBX restart, and a caller whose leave never
arrives (``centre.caller_expiry_s``).

The end-to-end tests run the production path over real sockets: the simulated centre as a PBX (``SimPbx``, on a
manual clock, writing its queue_log as Asterisk does) -> the ``ami`` feed -> ``Ingest`` (pump, engine, the lease
owner's tick) -> Redis. Fault detection, backoff and reconnects run on real time; the model only moves when the
test moves its clock, so a fault can be made with nothing in flight (exact counts) or with calls going on.
They print what they measure (run with ``-s``): detection of a half-open link, reconnect, resync.

Covered elsewhere, not repeated here: a cut socket while calls go on, the gap filled from the queue_log
(test_ami_e2e.py::test_cut_socket_reconnects_resyncs_and_records_the_gap); keep-alive and resync against the
fake PBX with short timings (test_ami_live.py); the resync's ghost drop in the engine
(test_engine_counters.py::test_resync_drops_ghost_callers_without_counting_and_gaps_are_recorded).
"""

from __future__ import annotations

import asyncio
import itertools
import json
import logging
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from feeds.ami import AmiFeed
from feeds.queue_log import QueueLogFeed
from tests.ami_fake import FakePbx
from wallboard.clock import ManualClock
from wallboard.config import load_config
from wallboard.engine import Engine
from wallboard.events import CallerAbandoned, CallerAnswered, CallerJoined, FeedGap, utc
from wallboard.feed import DeadLetter
from wallboard.ingest import Ingest
from wallboard.keys import Keys
from wallboard.replay import replay
from wallboard.sim import SimCentre, scenario_by_name
from wallboard.sim.ami_server import SimPbx

from .conftest import at, redis_url
from .polling import settle, task_failed, until

ROOT = Path(__file__).resolve().parent.parent
START = datetime(2026, 11, 23, 10, 0, tzinfo=ZoneInfo("Asia/Jerusalem"))  # aware, and not UTC on purpose
FIGS = ("entered", "answered", "abandoned", "short_abandoned", "overflowed", "completed", "wait_answered_s")
_ids = itertools.count()


def ev(cls, t, **kw):
    return cls(id=f"ff{next(_ids)}", ts=at(t), source="test", queue="support", **kw)


@pytest.fixture
def ami_env(monkeypatch):
    monkeypatch.setenv("WALLBOARD_AMI_USER", "wallboard")
    monkeypatch.setenv("WALLBOARD_AMI_SECRET", "s3cret")


@pytest.fixture
async def clean(redis_client, prefix):
    """Deletes the test's namespaces afterwards (the prefix, and the prefix of its reference replay)."""
    yield
    for p in (prefix, prefix + "-ql"):
        keys = [k async for k in redis_client.scan_iter(match=f"{p}:*", count=1000)]
        if keys:
            await redis_client.unlink(*keys)


# --- caller expiry, in the engine (hand-computed) -------------------------------------------------------------


async def test_expiry_drops_a_caller_whose_leave_never_came_and_a_late_exit_counts_once(make_engine):
    eng = await make_engine(queues=[{"name": "support", "sl_threshold_s": 20}], centre={"caller_expiry_s": 120})

    async def q(t):
        snap = await eng.build_snapshot(at(t))
        return snap.queues["support"], snap.total

    await eng.apply(
        [ev(CallerJoined, 0, call_id="a"), ev(CallerJoined, 30, call_id="b"), ev(CallerJoined, 100, call_id="c")]
    )
    assert await eng.expire_callers(at(120)) == 0  # a has waited exactly 120 s: not older than the limit yet
    assert await eng.expire_callers(at(150)) == 1  # a 150 s: out; b exactly 120 s: kept
    s, total = await q(150)
    assert [c.call_id for c in s.callers] == ["b", "c"] and s.waiting == 2
    # lost unseen: nothing counted but the join; shown as expired
    assert (s.entered, s.offered, s.answered, s.abandoned, s.overflowed, s.wait_all_s) == (3, 0, 0, 0, 0, 0)
    assert (s.expired, total.expired) == (1, 1)

    # a's real exit arrives late: counted once, as what it was (wait 200 s > 20 s), and a is not seated again
    await eng.apply(
        [
            ev(CallerAbandoned, 200, call_id="a", wait_s=200),
            ev(CallerAnswered, 160, call_id="b", agent="1001", wait_s=130),
        ]
    )
    s, _ = await q(200)
    assert (s.abandoned, s.short_abandoned, s.abandoned_within_sl, s.wait_all_s) == (1, 0, 0, 330)
    assert (s.answered, s.answered_within_sl, s.wait_answered_s, s.offered) == (1, 0, 130, 2)
    assert [c.call_id for c in s.callers] == ["c"] and s.expired == 0  # a's outcome is known now
    await eng.apply([ev(CallerAbandoned, 200, call_id="a", wait_s=200)])  # re-sent: a duplicate
    s, _ = await q(200)
    assert (s.abandoned, s.duplicates) == (1, 1)

    assert await eng.expire_callers(at(300)) == 1  # c joined at 100: 200 s
    assert await eng.expire_callers(at(300)) == 0  # once
    # the PBX re-reports c's join (a resync's QueueStatus, join within 1 s): the same entry, not seated again
    await eng.apply([ev(CallerJoined, 100.4, call_id="c")])
    s, _ = await q(300)
    assert (s.waiting, s.entered, s.expired) == (0, 3, 1)
    await eng.apply([ev(CallerAnswered, 310, call_id="c", agent="1001", wait_s=210)])
    s, _ = await q(310)
    assert (s.answered, s.wait_answered_s, s.wait_all_s, s.offered, s.waiting, s.expired) == (2, 340, 540, 3, 0, 0)
    # a real re-entry later is a new entry and waits as usual
    await eng.apply([ev(CallerJoined, 400, call_id="c")])
    s, _ = await q(410)
    assert (s.entered, s.waiting, s.expired) == (4, 1, 0)
    with pytest.raises(ValueError, match="aware"):
        await eng.expire_callers(datetime(2026, 11, 23, 9, 10))


async def test_expiry_is_off_by_default(make_engine):
    eng = await make_engine(queues=[{"name": "support"}])
    await eng.apply([ev(CallerJoined, 0, call_id="a")])
    assert await eng.expire_callers(at(86_400)) == 0
    assert (await eng.build_snapshot(at(86_400))).queues["support"].waiting == 1


class ListFeed:
    name = "list"

    def __init__(self, events):
        self.events = events

    def read(self):
        return iter(self.events)


async def test_replay_expires_at_its_end_as_the_live_tick_would():
    # a joins at 0 and never leaves; b joins at 150 and abandons at 200: the end is 200 + 1 s
    events = [
        ev(CallerJoined, 0, call_id="a"),
        ev(CallerJoined, 150, call_id="b"),
        ev(CallerAbandoned, 200, call_id="b", wait_s=50),
    ]
    for limit, waiting, expired in ((60, 0, 1), (0, 1, 0), (202, 1, 0)):
        config = load_config(None, queues=[{"name": "support"}], centre={"caller_expiry_s": limit})
        snap, _ = await replay(ListFeed(events), config, redis_url=redis_url())
        s = snap.queues["support"]
        assert (s.waiting, s.expired, s.entered, s.abandoned) == (waiting, expired, 2, 1), limit


# --- the production path against the simulated PBX --------------------------------------------------------------


class Recorded:
    """A feed passed through, noting when each item was handed over (wall time)."""

    name = "ami"

    def __init__(self, feed):
        self.inner = feed
        self.items: list[tuple[float, object]] = []

    def request_resync(self) -> None:
        self.inner.request_resync()

    async def follow(self, clock):
        async for x in self.inner.follow(clock):
            self.items.append((time.time(), x))
            yield x

    def of(self, kind) -> list[tuple[float, object]]:
        return [(t, x) for t, x in self.items if isinstance(x, kind)]


class Floor:
    """The simulated centre as a PBX on a manual clock, and the production ingest applying what its ami feed
    hears into Redis (the lease owner ticking every 0.1 s)."""

    def __init__(self, redis_client, prefix, tmp_path, scenario="demo", seed=5, **feed_options):
        self.r = redis_client
        self.config = load_config(ROOT / "config" / "wallboard.toml", redis={"prefix": prefix}, engine={"tick_s": 0.1})
        self.clock = ManualClock(START)
        self.centre = SimCentre(
            self.config, scenario_by_name(scenario, [q.name for q in self.config.queues]), seed, START
        )
        self.queue_log = tmp_path / "queue_log"
        self.pbx = SimPbx(self.config, self.centre, self.clock, secret="s3cret", step_s=0.005, queue_log=self.queue_log)
        # backoff from 0.05 s so reconnects are quick here; keep-alive as configured unless a test says otherwise
        self.feed_options = {"backoff_initial_s": 0.05, "backoff_max_s": 0.4, **feed_options}

    async def __aenter__(self) -> Floor:
        await self.pbx.start()
        self.feed = Recorded(AmiFeed(None, self.config, host="127.0.0.1", port=self.pbx.port, **self.feed_options))
        self.ingest = Ingest(self.r, self.config, self.feed, clock=self.clock, name="faults")
        self.engine = self.ingest.engine
        self.task = asyncio.create_task(self.ingest.run())
        await self.until(lambda: self.feed.items, what="the first resync")
        return self

    async def __aexit__(self, *exc) -> None:
        self.ingest.stop.set()
        await asyncio.wait_for(self.task, 5)
        await self.pbx.stop()

    async def until(self, pred, timeout: float = 10.0, what: str = "") -> None:
        await until(pred, what, timeout=timeout, every=0.005, check=task_failed(self.task))

    async def run_for(self, seconds: float, step: float = 1.0) -> None:
        """The model's time, fast: a second of calls per few milliseconds."""
        for _ in range(int(seconds / step)):
            self.clock.advance(step)
            await asyncio.sleep(0.004)

    async def settle(self) -> None:
        """Stop the model and let the feed catch up (``polling.settle``)."""

        async def figs():
            return (await self.engine.build_snapshot(self.clock.now())).model_dump(include={"queues", "agents"})

        await settle(figs, pbx=self.pbx, what="the ami feed")

    async def figures(self) -> dict:
        return await figures(self.engine, self.clock.now())

    async def check_present(self) -> None:
        """Who waits and each agent's state are the PBX's own."""
        snap = await self.engine.build_snapshot(self.clock.now())
        centre = self.pbx.centre  # a new one after a restart
        for q in self.config.queues:
            pbx_waiting = sorted(c[0] for c in centre.waiting_calls(q.name))
            assert sorted(c.call_id for c in snap.queues[q.name].callers) == pbx_waiting, q.name
        states = {a.id: centre.agent_state(a.id) for a in self.config.agents}
        assert {a: snap.agents[a].state for a in states} == states

    async def versus_queue_log(self, prefix: str) -> None:
        """Our counters equal a replay of the queue_log the PBX wrote (every call counted once)."""
        ref = Engine(self.r, self.config, Keys(prefix + "-ql"))
        await ref.start()
        items = list(QueueLogFeed(str(self.queue_log), self.config).read())
        assert not [i for i in items if isinstance(i, DeadLetter)]
        await ref.apply([i for i in items if hasattr(i, "ts")])
        ours, theirs = await self.figures(), await figures(ref, self.clock.now())
        assert sum(q["entered"] for q in ours.values()) > 30  # a busy morning, not an empty one
        assert ours == theirs, {
            q: {f: (ours[q][f], theirs[q][f]) for f in FIGS if ours[q][f] != theirs[q][f]} for q in ours
        }


async def figures(eng: Engine, now: datetime) -> dict:
    snap = await eng.build_snapshot(now)
    return {q: {f: getattr(s, f) for f in FIGS} | {"by_reason": s.overflowed_by_reason} for q, s in snap.queues.items()}


def logged(caplog, text: str, after: float) -> float:
    """Wall time of the first log record saying ``text`` at or after ``after``."""
    return next(r.created for r in caplog.records if text in r.getMessage() and r.created >= after)


async def test_dropped_socket_reconnects_with_backoff_resyncs_and_counts_nothing_twice(
    redis_client, prefix, tmp_path, ami_env, clean, caplog
):
    # Three drops in a row with nothing in flight: each resync re-reports every waiting caller and every agent,
    # and none of it may count again. Without a queue_log to fill from, our counters must still equal it exactly.
    caplog.set_level(logging.INFO, logger="wallboard")
    async with Floor(redis_client, prefix, tmp_path) as floor:
        await floor.run_for(5 * 60)
        await floor.settle()
        assert sum(s.waiting for s in (await floor.engine.build_snapshot(floor.clock.now())).queues.values()) > 0
        reconnects, resyncs = [], []
        for k in range(3):
            cut = time.time()
            assert floor.pbx.drop_connections() == 1
            await floor.until(lambda: len(floor.feed.of(FeedGap)) == k + 1, what="the resync")
            gap_at = floor.feed.of(FeedGap)[-1][0]
            ended = logged(caplog, "session ended", cut)
            back = logged(caplog, "logged in", cut)
            reconnects.append(back - ended)
            resyncs.append(gap_at - back)
            await floor.settle()
            await floor.check_present()
        await floor.run_for(5 * 60)
        await floor.run_for(10)  # the last exits settle
        await floor.settle()
        await floor.check_present()
        await floor.versus_queue_log(prefix)
        snap = await floor.engine.build_snapshot(floor.clock.now())
        # three gaps recorded, three records: two alike to the second (the manual clock) are still two
        assert len(floor.feed.of(FeedGap)) == 3
        assert sorted(g["id"] for g in snap.gaps) == sorted(g.id for _, g in floor.feed.of(FeedGap))
        assert all(g["feed"] == "ami" for g in snap.gaps)
    print(
        f"\ndropped socket: reconnect {', '.join(f'{x * 1000:.0f}' for x in reconnects)} ms "
        f"(backoff 0.05 s doubling); resync {', '.join(f'{x * 1000:.0f}' for x in resyncs)} ms"
    )
    # backoff: each delay is in [d/2, d] with d = 0.05, 0.1, 0.2 s (a session shorter than stable_s keeps it growing)
    for k, took in enumerate(reconnects):
        assert 0.05 * 2**k / 2 <= took < 0.05 * 2**k + 1.0, (k, took)


async def test_half_open_link_is_found_by_the_keepalive_within_5_s(
    redis_client, prefix, tmp_path, ami_env, clean, caplog
):
    # The configured keep-alive (no test override): the PBX goes silent without closing, calls go on meanwhile
    # on real time; the feed finds out, reconnects, resyncs, and fills the hole from the queue_log.
    caplog.set_level(logging.INFO, logger="wallboard")
    ami = load_config(ROOT / "config" / "wallboard.toml").ami
    bound = ami.keepalive_s + (ami.keepalive_timeout_s or ami.keepalive_s)
    assert bound <= 5.0, "the configured keep-alive cannot find a half-open link within 5 s"
    async with Floor(redis_client, prefix, tmp_path, queue_log=str(tmp_path / "queue_log")) as floor:
        await floor.run_for(3 * 60)
        await floor.settle()
        # the worst moment: just after a Pong went out, so the next Ping is a whole interval away
        pinged, answer = asyncio.Event(), floor.pbx._action_ping
        floor.pbx._action_ping = lambda s, msg: (pinged.set(), answer(s, msg))[1]
        await asyncio.wait_for(pinged.wait(), 5)
        began, t0 = time.time(), floor.clock.now()
        assert floor.pbx.freeze_connections() == 1

        def found_gap():
            floor.clock.set(t0 + timedelta(seconds=time.time() - began))  # the model on real time while we are deaf
            return floor.feed.of(FeedGap)

        await until(found_gap, "the half-open link found by the keep-alive", timeout=bound + 3, every=0.02)
        gap_at = floor.feed.of(FeedGap)[0][0]
        found = logged(caplog, "nothing received within", began)
        back = logged(caplog, "logged in", found)
        await floor.run_for(2 * 60)
        await floor.run_for(10)
        await floor.settle()
        await floor.check_present()
        await floor.versus_queue_log(prefix)
        (gap,) = (await floor.engine.build_snapshot(floor.clock.now())).gaps
    detect, reconnect, resync = found - began, back - found, gap_at - back
    print(
        f"\nhalf-open link, frozen just after a Pong: detected after {detect:.2f} s (bound {bound:g} s), "
        f"reconnect {reconnect * 1000:.0f} ms, resync {resync * 1000:.0f} ms; gap recorded {gap['length_s']:.2f} s"
    )
    assert bound - 0.5 <= detect <= bound + 0.5, detect  # the worst case, give or take scheduling
    assert gap["length_s"] >= detect - 0.5


async def test_pbx_restart_leaves_no_ghost_callers_and_keeps_the_counters(
    redis_client, prefix, tmp_path, ami_env, clean, caplog
):
    caplog.set_level(logging.INFO, logger="wallboard")
    async with Floor(redis_client, prefix, tmp_path) as floor:
        await floor.run_for(5 * 60)
        # The resync keeps a caller who joined within its last second (a join racing the QueueStatus answer):
        # restart at a moment with none, so every caller held is one the restart cut off.
        for _ in range(30):
            floor.pbx.step()  # the model at the clock's time (its own step may not have run since the advance)
            centre = floor.pbx.centre
            if all(
                (centre.now - c[2]).total_seconds() > 2
                for q in floor.config.queues
                for c in centre.waiting_calls(q.name)
            ):
                break
            await floor.run_for(1)
        await floor.settle()
        before = await floor.figures()
        snap = await floor.engine.build_snapshot(floor.clock.now())
        assert sum(s.waiting for s in snap.queues.values()) > 0  # callers to become ghosts
        assert any(a.state == "on_call" for a in snap.agents.values())  # and calls cut mid-talk
        cut = time.time()
        floor.pbx.restart()  # every call gone, app_queue's statistics reset; the day goes on from now
        await floor.until(lambda: floor.feed.of(FeedGap), what="the resync after the restart")
        gap_at = floor.feed.of(FeedGap)[0][0]
        back = logged(caplog, "logged in", cut)
        await floor.settle()
        snap = await floor.engine.build_snapshot(floor.clock.now())
        assert {q: s.waiting for q, s in snap.queues.items()} == {q.name: 0 for q in floor.config.queues}
        assert await floor.figures() == before  # our counters are ours: kept, not reset with the PBX's
        await floor.check_present()
        await floor.run_for(3 * 60)  # the restarted PBX takes calls again, counted on top
        await floor.run_for(10)
        await floor.settle()
        await floor.check_present()
        await floor.versus_queue_log(prefix)
        after = await floor.figures()
        assert all(after[q]["entered"] >= before[q]["entered"] for q in before)
    print(f"\nPBX restart: reconnect {(back - cut) * 1000:.0f} ms, resync {(gap_at - back) * 1000:.0f} ms")


# --- caller expiry end to end: a leave that never arrives over AMI ---------------------------------------------


async def test_caller_expiry_end_to_end_through_the_owners_tick(redis_client, prefix, ami_env, clean):
    config = load_config(
        None,
        redis={"prefix": prefix},
        queues=[{"name": "Q1"}],
        engine={"tick_s": 0.05},
        centre={"timezone": "Asia/Jerusalem", "caller_expiry_s": 600},
    )
    keys = Keys(prefix)
    pbx = FakePbx(queue_status=["Event: QueueParams\nQueue: Q1\nMax: 0\nStrategy: ringall\nCalls: 0"])
    await pbx.start()
    clock = ManualClock(START)
    feed = AmiFeed(
        None, config, host="127.0.0.1", port=pbx.port, keepalive_s=0.5, backoff_initial_s=0.05, backoff_max_s=0.1
    )
    ingest = Ingest(redis_client, config, feed, clock=clock, name="expiry")
    task = asyncio.create_task(ingest.run())

    async def board(t: float, pred=lambda q: True) -> dict:
        """The published summary once the owner has ticked at START + t (and ``pred`` holds)."""
        clock.set(START + timedelta(seconds=t))

        async def ticked() -> dict | None:
            raw = await redis_client.get(keys.summary)
            s = json.loads(raw) if raw else None
            if s and s["at"] == utc(clock.now()) and "Q1" in s["queues"] and pred(s["queues"]["Q1"]):
                return s["queues"]["Q1"]
            return None

        return await until(ticked, f"a tick at {t} s", check=task_failed(task))

    def epoch(t: float) -> str:
        return f"{(START + timedelta(seconds=t)).timestamp():.6f}"

    try:
        await asyncio.wait_for(pbx.logged_in.wait(), 5)
        for n, t in ((1, 0), (2, 300)):
            await pbx.event(
                Event="QueueCallerJoin",
                Queue="Q1",
                Uniqueid=f"1795420800.{n}",
                Position=n,
                CallerIDNum=f"050000000{n}",
                Timestamp=epoch(t),
            )
        q = await board(300, lambda q: q["waiting"] == 2)
        q = await board(600)  # caller 1 has waited exactly 600 s: not older than the limit yet
        assert (q["waiting"], q["expired"]) == (2, 0)
        q = await board(601)  # .1's leave never came: dropped, counted nowhere but in expired
        assert [c["call_id"] for c in q["callers"]] == ["1795420800.2"]
        assert (q["waiting"], q["expired"], q["entered"], q["offered"], q["abandoned"]) == (1, 1, 2, 0, 0)

        # the leave turns up after all (as Asterisk orders it: abandon, leave, hang-up): counted once, as it was
        for name in ("QueueCallerAbandon", "QueueCallerLeave", "Hangup"):
            await pbx.event(Event=name, Queue="Q1", Uniqueid="1795420800.1", HoldTime=700, Timestamp=epoch(700))
        q = await board(701, lambda q: q["abandoned"] == 1)
        assert (q["waiting"], q["expired"], q["offered"], q["wait_all_s"]) == (1, 0, 1, 700)

        q = await board(1000, lambda q: q["expired"] == 1)  # .2: 700 s
        assert q["waiting"] == 0
        # a reconnect whose QueueStatus still lists .2 as waiting re-reports its join: not seated again
        pbx.queue_status.append("Event: QueueEntry\nQueue: Q1\nPosition: 1\nUniqueid: 1795420800.2\nWait: 700")
        pbx.drop()
        await until(
            lambda: pbx.connections == 2 and len(pbx.actions("QueueStatus")) == 2,
            "the second login's QueueStatus",
            timeout=5,
        )
        q = await board(1001, lambda q: q["entered"] == 2 and q["duplicates"] >= 1)
        assert (q["waiting"], q["expired"]) == (0, 1)
        # and its late answer counts as an answer
        await pbx.event(Event="QueueCallerLeave", Queue="Q1", Uniqueid="1795420800.2", Timestamp=epoch(1010))
        await pbx.event(
            Event="AgentConnect",
            Queue="Q1",
            Uniqueid="1795420800.2",
            MemberName="Alice",
            Interface="PJSIP/1001",
            HoldTime=710,
            RingTime=2,
            Timestamp=epoch(1010),
        )
        q = await board(1011, lambda q: q["answered"] == 1)
        assert (q["waiting"], q["expired"], q["offered"], q["wait_answered_s"]) == (0, 0, 2, 710)
    finally:
        ingest.stop.set()
        await asyncio.wait_for(task, 5)
        await pbx.close()


# --- Redis lost its last writes: the PBX still knows the present -----------------------------------------------


async def test_after_a_redis_crash_the_ami_feed_asks_the_pbx_again(tmp_path, ami_env):
    """AMI has no cursor to re-read from. A machine crash loses Redis' last second (AOF everysec): here the server
    is SIGKILLed while calls go on and its AOF cut back by a second before it starts again. When ingest finds
    Redis back it asks the feed for a resync on the live session, so who waits and what every agent is doing
    are the PBX's again; a counter may miss the lost second's transitions (docs/RELIABILITY.md) but none is
    counted twice: each stays at or under a replay of the PBX's own queue_log."""
    from wallboard.store import connect

    from .test_redis_faults import AofSampler, Valkey

    server = Valkey()
    server.start()
    prefix = "wbtest-amicrash"
    cfg = load_config(None, redis={"retry_initial_s": 0.05, "retry_max_s": 0.3})
    client = await connect(cfg, server.url)
    sampler = AofSampler(server)
    try:
        async with Floor(client, prefix, tmp_path) as floor:
            floor.config.redis.retry_initial_s, floor.config.redis.retry_max_s = 0.05, 0.3
            floor.ingest.backoff.initial, floor.ingest.backoff.cap = 0.05, 0.3
            await floor.run_for(5 * 60)
            await floor.settle()
            sampler.start()
            await asyncio.sleep(0.3)
            mover = asyncio.create_task(floor.run_for(4 * 60))  # calls go on, across the crash
            await asyncio.sleep(0.4)  # writes in the second about to be lost
            t_kill = time.monotonic()
            server.kill()
            keep = sampler.size_at(t_kill - 1.0)
            sampler.halt.set()
            with open(server.incr_aof(), "r+b") as f:
                f.truncate(keep)
            await asyncio.to_thread(server.start)
            t_back = time.monotonic()
            await mover
            await floor.until(lambda: floor.ingest.redis_ok, what="ingest finding Redis back")
            await floor.settle()
            await floor.check_present()
            took = time.monotonic() - t_back
            ours = await floor.figures()
            ref = Engine(client, floor.config, Keys(prefix + "-ql"))
            await ref.start()
            await ref.apply([i for i in QueueLogFeed(str(floor.queue_log), floor.config).read() if hasattr(i, "ts")])
            theirs = await figures(ref, floor.clock.now())
            over = {q: f for q in ours for f in FIGS if ours[q][f] > theirs[q][f]}
            assert not over, over
    finally:
        sampler.halt.set()
        await client.aclose()
        server.close()
    print(
        f"\nRedis crash under an AMI feed: the present restored {took:.2f} s after the server answered "
        f"(settle included)"
    )
