"""Counters, formulas, windows and exactly-once, against a real Redis, with hand-computed values."""

from __future__ import annotations

import itertools
import random
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from wallboard import metrics
from wallboard.events import (
    AgentMissed,
    AgentStateChanged,
    CallbackDone,
    CallbackRequested,
    CallCompleted,
    CallerAbandoned,
    CallerAnswered,
    CallerJoined,
    CallerOverflowed,
    DialAttempt,
    MemberAdded,
    MemberPenalty,
    MemberRemoved,
    OutboundCall,
    WrapupCompleted,
)

from .conftest import T0, at

_ids = itertools.count()


def ev(cls, t, **kw):
    ts = t if isinstance(t, datetime) else at(t)
    return cls(id=f"t{next(_ids)}", ts=ts, source="test", **kw)


def worked_example(queue: str, start: float = 0.0) -> list:
    """DESIGN.md's worked example: 80 answered (60 within 20 s), 10 abandoned (4 within 20 s, 2 within 5 s),
    10 timeouts. Waits: answered 10 s x60, 30 s x20; abandoned 3 s x2, 15 s x2, 40 s x6; timeouts 60 s."""
    out, t = [], start
    plan = [("A", 10)] * 60 + [("A", 30)] * 20 + [("X", 3)] * 2 + [("X", 15)] * 2 + [("X", 40)] * 6
    plan += [("O", 60)] * 10
    for n, (kind, wait) in enumerate(plan):
        cid = f"{queue}-{n}"
        out.append(ev(CallerJoined, t, queue=queue, call_id=cid))
        if kind == "A":
            out.append(ev(CallerAnswered, t + wait, queue=queue, call_id=cid, agent="1001", wait_s=wait))
        elif kind == "X":
            out.append(ev(CallerAbandoned, t + wait, queue=queue, call_id=cid, wait_s=wait))
        else:
            out.append(ev(CallerOverflowed, t + wait, queue=queue, call_id=cid, reason="timeout", wait_s=wait))
        t += 1
    return sorted(out, key=lambda e: e.ts)


FORMULAS = ["answered", "excl_short_abandons", "all_offered", "abandons_good"]


async def test_worked_example_every_formula(make_engine):
    queues = [{"name": f, "sl_formula": f} for f in FORMULAS]
    queues.append({"name": "excl_co", "sl_formula": "excl_short_abandons", "count_overflow": True})
    eng = await make_engine(queues=queues)
    events = []
    for q in queues:
        events += worked_example(q["name"])
    await eng.apply(events)
    snap = await eng.build_snapshot(at(3600))
    expected = {
        "answered": 60 / 80,
        "excl_short_abandons": 60 / 88,
        "all_offered": 60 / 90,
        "abandons_good": 64 / 90,
        "excl_co": 60 / 98,
    }
    for name, sl in expected.items():
        q = snap.queues[name]
        assert q.service_level == pytest.approx(sl, abs=1e-12), name
        assert (q.entered, q.offered, q.answered, q.answered_within_sl) == (100, 100, 80, 60)
        assert (q.abandoned, q.short_abandoned, q.abandoned_within_sl) == (10, 2, 4)
        assert q.overflowed == 10 and q.overflowed_by_reason == {"timeout": 10}
        assert q.abandon_rate == pytest.approx(8 / 98)
        assert q.asa_s == pytest.approx((60 * 10 + 20 * 30) / 80)
        wait_all = 60 * 10 + 20 * 30 + 2 * 3 + 2 * 15 + 6 * 40 + 10 * 60
        assert q.avg_wait_s == pytest.approx(wait_all / 100)
    # rounded as DESIGN.md prints them
    assert round(snap.queues["excl_short_abandons"].service_level, 4) == 0.6818
    assert round(snap.queues["excl_co"].service_level, 4) == 0.6122
    assert round(snap.queues["abandons_good"].service_level, 4) == 0.7111
    ex = snap.queues["excl_short_abandons"].explain["service_level"]
    assert (ex.numerator, ex.denominator) == (60, 88)
    # the centre total: sum of numerators over sum of denominators, each queue by its own formula
    num = 60 + 60 + 60 + 64 + 60
    den = 80 + 88 + 90 + 90 + 98
    assert snap.total.service_level == pytest.approx(num / den)
    assert snap.total.offered == 500 and snap.total.entered == 500


def test_ratios_with_zero_denominators_are_null():
    empty: dict = {}
    for f in FORMULAS:
        assert metrics.service_level(empty, f, True).value is None
    assert metrics.asa_s(empty).value is None
    assert metrics.avg_wait_s(empty).value is None
    assert metrics.abandon_rate(empty).value is None
    assert metrics.aht_s(empty).value is None
    # only short abandons: abandon rate's denominator (offered - short) is zero
    assert metrics.abandon_rate({"abandoned": 2, "short_abandoned": 2}).value is None
    assert metrics.ewt_s(3, None, 2) is None and metrics.ewt_s(3, 100.0, 0) is None
    assert metrics.ewt_s(3, 100.0, 2) == pytest.approx(200.0)


def every_kind(queue="support", agent="1001", base=0.0) -> list:
    """One of each event kind, in Asterisk's order."""
    b = base
    return [
        ev(MemberAdded, b, agent=agent, queue=queue, penalty=0),
        ev(AgentStateChanged, b, agent=agent, state="available"),
        ev(CallerJoined, b + 1, queue=queue, call_id="k1", caller="0541234567"),
        ev(AgentMissed, b + 6, agent=agent, queue=queue, call_id="k1", ring_s=5),
        ev(CallerAnswered, b + 12, queue=queue, call_id="k1", agent=agent, wait_s=11),
        ev(AgentStateChanged, b + 12, agent=agent, state="on_call", queue=queue, call_id="k1"),
        ev(CallCompleted, b + 72, queue=queue, call_id="k1", agent=agent, talk_s=60),
        ev(AgentStateChanged, b + 72, agent=agent, state="wrap_up", queue=queue, call_id="k1"),
        ev(WrapupCompleted, b + 82, queue=queue, call_id="k1", agent=agent, wrap_s=10),
        ev(AgentStateChanged, b + 82, agent=agent, state="available"),
        ev(CallerJoined, b + 90, queue=queue, call_id="k2"),
        ev(CallerAbandoned, b + 94, queue=queue, call_id="k2", wait_s=4),
        ev(CallerJoined, b + 100, queue=queue, call_id="k3"),
        ev(CallerOverflowed, b + 130, queue=queue, call_id="k3", reason="key", wait_s=30),
        ev(CallerJoined, b + 140, queue=queue, call_id="k4"),
        ev(CallbackRequested, b + 170, queue=queue, call_id="k4", wait_s=30),
        ev(CallbackDone, b + 400, queue=queue, call_id="k4"),
        ev(DialAttempt, b + 200, agent=agent, call_id="out1", number="0521111111"),
        ev(OutboundCall, b + 205, agent=agent, call_id="out1", number="0521111111"),
        ev(AgentStateChanged, b + 300, agent=agent, state="paused", reason="lunch"),
        ev(MemberPenalty, b + 310, agent=agent, queue=queue, penalty=2),
        ev(MemberAdded, b + 320, agent=agent, queue="tech", penalty=1),
        ev(MemberRemoved, b + 330, agent=agent, queue="tech"),
        ev(AgentStateChanged, b + 500, agent=agent, state="available"),
    ]


def _figures(snap, queue="support", agent="1001"):
    q = snap.queues[queue].model_dump(exclude={"callers", "callbacks", "rolling", "explain"})
    a = snap.agents[agent].model_dump()
    return q, a


async def test_every_kind_counted_once_and_duplicates_change_nothing(make_engine):
    eng = await make_engine(queues=[{"name": "support"}, {"name": "tech"}])
    events = sorted(every_kind(), key=lambda e: e.ts)
    await eng.apply(events)
    snap = await eng.build_snapshot(at(600))
    q, a = _figures(snap)
    assert (q["entered"], q["answered"], q["abandoned"], q["short_abandoned"], q["overflowed"]) == (4, 1, 1, 1, 2)
    assert q["overflowed_by_reason"] == {"key": 1, "callback": 1}
    assert (q["completed"], q["talk_s"], q["wrap_s"], q["callbacks_done"]) == (1, 60, 10, 1)
    assert q["aht_s"] == pytest.approx(70.0)
    assert q["callbacks_pending"] == 0
    assert (a["calls_handled"], a["missed"], a["dial_attempts"], a["outbound_calls"]) == (1, 1, 1, 1)
    assert a["queues"] == {"support": 2}  # penalty changed; tech added then removed
    # time in state from intervals: on call 12..72, wrap-up 72..82, paused 300..500 (lunch)
    assert a["talk_s"] == pytest.approx(60) and a["wrap_s"] == pytest.approx(10)
    assert a["pause_s"] == pytest.approx(200) and a["pause_s_by_reason"] == {"lunch": pytest.approx(200)}
    # available: 0..12, 82..300, 500..600 (open interval up to now)
    assert a["available_s"] == pytest.approx(12 + 218 + 100)

    # every event delivered again, one at a time and all together, in another order: nothing moves
    for e in events:
        await eng.apply([e])
    shuffled = list(events)
    random.Random(3).shuffle(shuffled)
    res = await eng.apply(shuffled)
    assert res.applied == 0
    snap2 = await eng.build_snapshot(at(600))
    q2, a2 = _figures(snap2)
    q2.pop("duplicates"), q.pop("duplicates")
    assert q2 == q and a2 == a


async def test_reentry_with_same_call_id_is_two_entries(make_engine):
    eng = await make_engine(queues=[{"name": "support"}])
    await eng.apply(
        [
            ev(CallerJoined, 0, queue="support", call_id="c"),
            ev(CallerOverflowed, 30, queue="support", call_id="c", reason="timeout", wait_s=30),
            # the dialplan sends the caller back into the same queue with the same call id
            ev(CallerJoined, 45, queue="support", call_id="c"),
            ev(CallerAnswered, 50, queue="support", call_id="c", agent="1001", wait_s=5),
        ]
    )
    # AMI microsecond join of the second entry, delivered again: within 1 s, so the same entry
    await eng.apply([ev(CallerJoined, 45.6, queue="support", call_id="c")])
    q = (await eng.build_snapshot(at(100))).queues["support"]
    assert (q.entered, q.offered, q.answered, q.overflowed) == (2, 2, 1, 1)
    assert q.wait_all_s == 35 and q.waiting == 0


async def test_callback_counted_once_and_keeps_its_place(make_engine):
    eng = await make_engine(queues=[{"name": "support"}])
    evs = [
        ev(CallerJoined, 0, queue="support", call_id="cb"),
        ev(CallbackRequested, 40, queue="support", call_id="cb", wait_s=40),
    ]
    await eng.apply(evs)
    await eng.apply(evs)  # again
    q = (await eng.build_snapshot(at(100))).queues["support"]
    assert q.overflowed == 1 and q.overflowed_by_reason == {"callback": 1}
    assert q.callbacks_pending == 1 and q.oldest_callback_s == pytest.approx(100)  # from the entry, not the request
    assert q.callbacks[0].entered_at == datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)
    assert q.waiting == 0 and q.offered == 1
    await eng.apply([ev(CallbackDone, 300, queue="support", call_id="cb")])
    q = (await eng.build_snapshot(at(400))).queues["support"]
    assert q.callbacks_pending == 0 and q.callbacks_done == 1 and q.offered == 1  # not offered again


async def test_waiting_gauges_and_masking(make_engine):
    eng = await make_engine(queues=[{"name": "support"}])
    await eng.apply(
        [
            ev(CallerJoined, 0, queue="support", call_id="w1", caller="0541234567"),
            ev(CallerJoined, 20, queue="support", call_id="w2", caller="12"),
            ev(CallerJoined, 25, queue="support", call_id="w3"),
            ev(CallerAnswered, 30, queue="support", call_id="w3", wait_s=5),
        ]
    )
    q = (await eng.build_snapshot(at(90))).queues["support"]
    assert q.waiting == 2 and q.longest_wait_s == pytest.approx(90)
    assert [c.caller for c in q.callers] == ["***4567", "***12"]


async def test_window_edges_reset_instant_and_local_midnight(make_engine):
    # Asia/Jerusalem is UTC+2 on 2026-11-23: local midnight is 22:00 UTC the day before
    eng = await make_engine(centre={"timezone": "Asia/Jerusalem", "reset_time": "00:00"}, queues=[{"name": "support"}])
    midnight = datetime(2026, 11, 24, 0, 0, tzinfo=ZoneInfo("Asia/Jerusalem"))
    before = midnight - timedelta(seconds=1)
    await eng.apply(
        [
            ev(CallerJoined, before - timedelta(seconds=10), queue="support", call_id="a"),
            ev(CallerAnswered, before, queue="support", call_id="a", wait_s=10),  # 23:59:59: yesterday
            ev(CallerJoined, midnight - timedelta(seconds=5), queue="support", call_id="b"),
            ev(CallerAnswered, midnight, queue="support", call_id="b", wait_s=5),  # exactly at reset: today
        ]
    )
    snap_before = await eng.build_snapshot(midnight - timedelta(milliseconds=500))
    q = snap_before.queues["support"]
    assert (q.entered, q.answered) == (2, 1)
    assert snap_before.window.since == datetime(2026, 11, 22, 22, 0, tzinfo=timezone.utc)
    snap_after = await eng.build_snapshot(midnight + timedelta(seconds=1))
    q = snap_after.queues["support"]
    assert (q.entered, q.answered) == (0, 1)  # both joins were before the reset
    assert snap_after.window.since == datetime(2026, 11, 23, 22, 0, tzinfo=timezone.utc)


async def test_reset_time_other_than_midnight(make_engine):
    eng = await make_engine(centre={"timezone": "UTC", "reset_time": "06:30"}, queues=[{"name": "support"}])
    t_reset = datetime(2026, 11, 23, 6, 30, tzinfo=timezone.utc)
    await eng.apply(
        [
            ev(CallerJoined, t_reset - timedelta(seconds=1), queue="support", call_id="x"),
            ev(CallerJoined, t_reset, queue="support", call_id="y"),
        ]
    )
    q = (await eng.build_snapshot(t_reset + timedelta(minutes=1))).queues["support"]
    assert q.entered == 1


async def test_rolling_window_floors_to_the_minute(make_engine):
    eng = await make_engine(centre={"rolling_minutes": 30}, queues=[{"name": "support"}])
    # now = 10:30:20 -> rolling covers buckets whose minute starts at or after floor(10:00:20) = 10:00:00
    now = datetime(2026, 11, 23, 10, 30, 20, tzinfo=timezone.utc)
    evs = []
    for cid, when in [("old", "09:59:59"), ("edge", "10:00:00"), ("in", "10:00:40"), ("late", "10:30:10")]:
        h, m, s = map(int, when.split(":"))
        evs.append(ev(CallerJoined, datetime(2026, 11, 23, h, m, s, tzinfo=timezone.utc), queue="support", call_id=cid))
    await eng.apply(evs)
    q = (await eng.build_snapshot(now)).queues["support"]
    assert q.rolling.entered == 3  # edge, in, late
    assert q.rolling.since == datetime(2026, 11, 23, 10, 0, tzinfo=timezone.utc)
    assert q.entered == 4


async def test_window_all_counts_everything(make_engine):
    eng = await make_engine(window_mode="all", queues=[{"name": "support"}])
    await eng.apply(
        [
            ev(CallerJoined, 0, queue="support", call_id="d1"),
            ev(CallerJoined, 3 * 86400, queue="support", call_id="d2"),
        ]
    )
    snap = await eng.build_snapshot(at(3 * 86400 + 1))
    assert snap.queues["support"].entered == 2 and snap.window.kind == "all"


async def test_agent_state_older_never_overwrites_newer(make_engine):
    eng = await make_engine(
        queues=[{"name": "support"}], agents=[{"id": "7", "name": "Gefen", "skills": {"support": 0}}]
    )
    await eng.apply([ev(AgentStateChanged, 100, agent="7", state="paused", reason="break")])
    await eng.apply([ev(AgentStateChanged, 50, agent="7", state="available")])  # late and older
    snap = await eng.build_snapshot(at(160))
    a = snap.agents["7"]
    assert (a.state, a.reason, a.since) == ("paused", "break", datetime(2026, 11, 23, 9, 1, 40, tzinfo=timezone.utc))
    assert a.name == "Gefen" and a.queues == {"support": 0}
    c = snap.queues["support"].agent_counts
    assert (c.paused, c.logged_in, c.paused_by_reason) == (1, 1, {"break": 1})
    assert snap.total.agent_counts.paused == 1


async def test_missed_ring_counted_once_by_ring_start(make_engine):
    eng = await make_engine(queues=[{"name": "support"}])
    m1 = ev(AgentMissed, 15, agent="9", queue="support", call_id="c", ring_s=15)  # rang 0..15
    m1_again = ev(AgentMissed, 15.4, agent="9", queue="support", call_id="c", ring_s=15.4)  # same ring second
    m2 = ev(AgentMissed, 40, agent="9", queue="support", call_id="c", ring_s=15)  # rang again 25..40
    await eng.apply([m1, m1_again, m2, m1])
    a = (await eng.build_snapshot(at(60))).agents["9"]
    assert a.missed == 2 and a.missed_in_row == 2


async def test_centre_total_counts_entries_and_agents_once(make_engine):
    eng = await make_engine(
        queues=[{"name": "a"}, {"name": "b"}],
        agents=[{"id": "1", "skills": {"a": 0, "b": 1}}, {"id": "2", "skills": {"b": 0}}],
    )
    await eng.apply(
        [
            ev(AgentStateChanged, 0, agent="1", state="available"),
            ev(AgentStateChanged, 0, agent="2", state="available"),
            # one call overflows from a into b: two queue entries
            ev(CallerJoined, 1, queue="a", call_id="x"),
            ev(CallerOverflowed, 31, queue="a", call_id="x", reason="timeout", wait_s=30),
            ev(CallerJoined, 31, queue="b", call_id="x"),
            ev(CallerAnswered, 36, queue="b", call_id="x", agent="2", wait_s=5),
        ]
    )
    snap = await eng.build_snapshot(at(60))
    assert snap.total.entered == 2 and snap.total.offered == 2
    assert snap.queues["a"].agent_counts.available == 1 and snap.queues["b"].agent_counts.available == 2
    assert snap.total.agent_counts.available == 2 and snap.total.agent_counts.logged_in == 2


async def test_answer_without_join_makes_the_entry(make_engine):
    eng = await make_engine(queues=[{"name": "support"}])
    # feed started mid-call: the answer arrives first, then (late) the join it belongs to
    await eng.apply([ev(CallerAnswered, 100, queue="support", call_id="m", wait_s=25)])
    await eng.apply([ev(CallerJoined, 75, queue="support", call_id="m")])
    q = (await eng.build_snapshot(at(200))).queues["support"]
    assert (q.entered, q.answered, q.answered_within_sl, q.waiting) == (1, 1, 0, 0)


async def test_snapshot_publish_seq_and_summary_split(make_engine, redis_client, prefix):
    eng = await make_engine(queues=[{"name": "support"}])
    await eng.apply(every_kind())
    s1 = await eng.publish(await eng.build_snapshot(at(600)))
    s2 = await eng.publish(await eng.build_snapshot(at(601)))
    assert s2.seq == s1.seq + 1
    summary = await redis_client.get(f"{prefix}:{{c}}:summary")
    assert '"agents"' not in summary and '"support"' in summary
    assert '"1001"' in await redis_client.get(f"{prefix}:{{c}}:agents_detail")


def test_t0_is_aware():
    assert T0.tzinfo is not None


async def test_resync_drops_ghost_callers_without_counting_and_gaps_are_recorded(make_engine):
    from wallboard.events import FeedGap, WaitingResync

    eng = await make_engine(queues=[{"name": "support"}])
    await eng.apply(
        [
            ev(CallerJoined, 0, queue="support", call_id="stays"),
            ev(CallerJoined, 5, queue="support", call_id="ghost"),  # left while we were disconnected
        ]
    )
    await eng.apply(
        [
            ev(FeedGap, 100, start=at(40), length_s=60, feed="ami"),
            ev(WaitingResync, 100, queue="support", call_ids=["stays", "new"]),
            ev(CallerJoined, 100, queue="support", call_id="new"),
        ]
    )
    snap = await eng.build_snapshot(at(110))
    q = snap.queues["support"]
    assert [c.call_id for c in q.callers] == ["stays", "new"]
    assert (q.entered, q.offered, q.abandoned) == (3, 0, 0)
    assert [{k: g[k] for k in ("start", "length_s", "feed")} for g in snap.gaps] == [
        {"start": "2026-11-23T09:00:40Z", "length_s": 60, "feed": "ami"}
    ]
    # the ghost coming back later (a real re-entry) is a new entry
    await eng.apply([ev(CallerJoined, 200, queue="support", call_id="ghost")])
    q = (await eng.build_snapshot(at(210))).queues["support"]
    assert q.entered == 4 and q.waiting == 3
    # an empty list empties the queue
    await eng.apply([ev(WaitingResync, 300, queue="support", call_ids=[])])
    assert (await eng.build_snapshot(at(310))).queues["support"].waiting == 0


async def test_who_is_listening_to_an_agent(make_engine):
    from wallboard.events import SpyChanged

    eng = await make_engine(queues=[{"name": "support"}])
    await eng.apply(
        [
            ev(SpyChanged, 10, agent="1001", active=True, by="rivka", mode="listen"),
            ev(SpyChanged, 20, agent="1001", active=True, by="moshe", mode="whisper"),
        ]
    )
    assert (await eng.build_snapshot(at(30))).agents["1001"].spied_by == {"rivka": "listen", "moshe": "whisper"}
    await eng.apply(
        [
            ev(SpyChanged, 40, agent="1001", active=False, by="rivka"),
            ev(SpyChanged, 15, agent="1001", active=False, by="moshe"),
        ]
    )  # older: ignored
    assert (await eng.build_snapshot(at(50))).agents["1001"].spied_by == {"moshe": "whisper"}


def test_each_transition_is_in_the_window_of_the_latest_reset_before_it_across_a_dst_change():
    # New York, reset at 02:30: on 2026-03-08 clocks jump from 02:00 to 03:00, so that day's 02:30 does not
    # exist and is read with the offset before the jump (EST, UTC-5). The resets by hand, in UTC:
    # Mar 7 02:30 EST = 07:30Z; Mar 8 "02:30" = 07:30Z; Mar 9 02:30 EDT = 06:30Z; Mar 10 = 06:30Z.
    # Transitions are prepared (no I/O) in shuffled order, back and forth across the resets, 4 s apart.
    import bisect

    from wallboard.config import load_config
    from wallboard.engine import _QC, _QWIN, Engine
    from wallboard.keys import Keys

    resets = [
        datetime(2026, 3, 7, 7, 30, tzinfo=timezone.utc).timestamp(),
        datetime(2026, 3, 8, 7, 30, tzinfo=timezone.utc).timestamp(),
        datetime(2026, 3, 9, 6, 30, tzinfo=timezone.utc).timestamp(),
        datetime(2026, 3, 10, 6, 30, tzinfo=timezone.utc).timestamp(),
    ]
    config = load_config(None, centre={"timezone": "America/New_York", "reset_time": "02:30"})
    eng = Engine(None, config, Keys("unused"))
    rng = random.Random(7)
    times = []
    for r in resets[1:3]:
        times += [r + d for d in range(-600, 600, 4)]  # every 4 s within 10 min of a reset
        times += [r + rng.uniform(-86000, 86000) for _ in range(300)]  # anywhere in the two days around it
    rng.shuffle(times)
    events = [
        ev(CallerJoined, datetime.fromtimestamp(t, timezone.utc), queue="support", call_id=f"c{i}")
        for i, t in enumerate(times)
    ]
    batch = eng.prepare(events)
    got = {rec[_QC]: rec[_QWIN] for _, rec, _ in batch.by_queue["support"]}
    assert len(got) == len(events) == 2 * (300 + 300)
    for i, e in enumerate(events):
        t = e.ts.timestamp()
        assert got[f"c{i}"] == str(int(resets[bisect.bisect_right(resets, t) - 1])), (i, t)
