"""Rollups of hand-made events through the real engine: 15-minute intervals and daily totals, hand-computed;
idempotent; late events; an agent's open state; intervals out of the buckets' lifetime kept; the layout."""

from __future__ import annotations

import itertools
from datetime import date, datetime, timedelta, timezone

import pytest

from wallboard.clock import ManualClock
from wallboard.config import load_config
from wallboard.events import (
    AgentMissed,
    AgentStateChanged,
    CallCompleted,
    CallerAbandoned,
    CallerAnswered,
    CallerJoined,
    CallerOverflowed,
    DialAttempt,
    OutboundCall,
    WrapupCompleted,
)
from wallboard.history.calendar import CentreCalendar
from wallboard.history.codec import AGENT_FIELDS, QUEUE_FIELDS, pack, unpack
from wallboard.history.rollup import HistoryKeys, HistoryReader, Rollup

from .test_hash_tags import hash_tags

_ids = itertools.count()
DAY = date(2026, 11, 23)


def t(hms: str) -> datetime:
    h, m, s = (int(x) for x in hms.split(":"))
    return datetime(2026, 11, 23, h, m, s, tzinfo=timezone.utc)


def ev(cls, hms, **kw):
    return cls(id=f"r{next(_ids)}", ts=t(hms), source="test", **kw)


def day_events() -> list:
    """A morning of queue 'support' (SL 20 s, short abandon 5 s) and agents 1001 and 1002, in UTC."""
    q = {"queue": "support"}
    return [
        ev(AgentStateChanged, "09:00:00", agent="1001", state="available"),
        ev(AgentStateChanged, "09:00:00", agent="1002", state="available"),
        # 09:00-09:15
        ev(CallerJoined, "09:00:10", call_id="c1", **q),
        ev(AgentStateChanged, "09:00:20", agent="1001", state="ringing", call_id="c1", **q),
        ev(CallerAnswered, "09:00:25", call_id="c1", agent="1001", wait_s=15, **q),
        ev(AgentStateChanged, "09:00:25", agent="1001", state="on_call", call_id="c1", **q),
        ev(CallCompleted, "09:05:25", call_id="c1", agent="1001", talk_s=300, **q),
        ev(AgentStateChanged, "09:05:25", agent="1001", state="wrap_up", call_id="c1", **q),
        ev(WrapupCompleted, "09:05:55", call_id="c1", agent="1001", wrap_s=30, **q),
        ev(AgentStateChanged, "09:05:55", agent="1001", state="available"),
        ev(CallerJoined, "09:14:50", call_id="c2", **q),
        # 09:15-09:30
        ev(CallerAbandoned, "09:15:02", call_id="c2", wait_s=12, **q),
        ev(AgentMissed, "09:19:00", agent="1001", call_id="c3", ring_s=10, **q),
        ev(CallerJoined, "09:20:00", call_id="c3", **q),
        ev(CallerJoined, "09:20:05", call_id="c6", **q),
        ev(CallerAnswered, "09:20:40", call_id="c3", agent="1001", wait_s=40, **q),
        ev(AgentStateChanged, "09:20:40", agent="1001", state="on_call", call_id="c3", **q),
        ev(CallerAnswered, "09:20:50", call_id="c6", agent="1002", wait_s=45, **q),
        ev(AgentStateChanged, "09:20:50", agent="1002", state="on_call", call_id="c6", **q),
        ev(CallCompleted, "09:22:50", call_id="c6", agent="1002", talk_s=120, **q),
        ev(AgentStateChanged, "09:22:50", agent="1002", state="available"),
        ev(CallCompleted, "09:24:40", call_id="c3", agent="1001", talk_s=240, **q),
        ev(AgentStateChanged, "09:24:40", agent="1001", state="wrap_up", call_id="c3", **q),
        ev(WrapupCompleted, "09:25:00", call_id="c3", agent="1001", wrap_s=20, **q),
        ev(AgentStateChanged, "09:25:00", agent="1001", state="available"),
        # 09:30-09:45
        ev(CallerJoined, "09:31:00", call_id="c4", **q),
        ev(CallerOverflowed, "09:32:00", call_id="c4", reason="timeout", wait_s=60, **q),
        ev(CallerJoined, "09:40:00", call_id="c5", **q),
        ev(CallerAbandoned, "09:40:03", call_id="c5", wait_s=3, **q),
        ev(AgentStateChanged, "09:40:00", agent="1001", state="paused", reason="lunch"),
        # 10:00-10:30
        ev(AgentStateChanged, "10:10:00", agent="1001", state="available"),
        ev(DialAttempt, "10:12:00", agent="1001", call_id="d1", number="0541112222"),
        ev(OutboundCall, "10:12:20", agent="1001", call_id="d1", number="0541112222"),
        ev(DialAttempt, "10:20:00", agent="1001", call_id="d2", number="0541113333"),
        ev(AgentStateChanged, "10:30:00", agent="1001", state="logged_out"),
    ]


# Hand-computed: interval index = minutes since 00:00 UTC / 15 (09:00 -> 36).
SUPPORT_INTERVALS = {
    36: {
        "entered": 2,
        "answered": 1,
        "answered_within_sl": 1,
        "completed": 1,
        "talk_s": 300,
        "wrap_s": 30,
        "wait_answered_s": 15,
        "wait_all_s": 15,
        "peak_waiting": 1,
    },
    37: {
        "abandoned": 1,
        "abandoned_within_sl": 1,
        "entered": 2,
        "answered": 2,
        "wait_answered_s": 85,
        "wait_all_s": 97,
        "completed": 2,
        "talk_s": 360,
        "wrap_s": 20,
        "peak_waiting": 2,
    },
    38: {
        "entered": 2,
        "overflowed": 1,
        "overflowed:timeout": 1,
        "abandoned": 1,
        "short_abandoned": 1,
        "abandoned_within_sl": 1,
        "wait_all_s": 63,
        "peak_waiting": 1,
    },
}
SUPPORT_DAY = {
    "entered": 6,
    "answered": 3,
    "answered_within_sl": 1,
    "abandoned": 2,
    "short_abandoned": 1,
    "abandoned_within_sl": 2,
    "overflowed": 1,
    "overflowed:timeout": 1,
    "completed": 3,
    "talk_s": 660,
    "wrap_s": 50,
    "wait_answered_s": 100,
    "wait_all_s": 175,
    "peak_waiting": 2,
}
A1001_INTERVALS = {
    36: {"calls_handled": 1, "available_s": 20 + 545, "ringing_s": 5, "on_call_s": 300, "wrap_up_s": 30},
    37: {"calls_handled": 1, "missed": 1, "available_s": 340 + 300, "on_call_s": 240, "wrap_up_s": 20},
    38: {"available_s": 600, "paused_s": 300, "paused_s:lunch": 300},
    39: {"paused_s": 900, "paused_s:lunch": 900},
    40: {"paused_s": 600, "paused_s:lunch": 600, "available_s": 300, "dial_attempts": 1, "outbound_calls": 1},
    41: {"available_s": 900, "dial_attempts": 1},
}
A1001_DAY = {
    "calls_handled": 2,
    "missed": 1,
    "dial_attempts": 2,
    "outbound_calls": 1,
    "available_s": 3005,
    "ringing_s": 5,
    "on_call_s": 540,
    "wrap_up_s": 50,
    "paused_s": 1800,
    "paused_s:lunch": 1800,
}


async def engine_with_day(make_engine, **cfg):
    eng = await make_engine(centre={"timezone": "UTC"}, **cfg)
    await eng.apply(day_events())
    return eng


async def stored(redis_client, prefix: str) -> dict:
    out = {}
    async for k in redis_client.scan_iter(match=f"{prefix}:*", count=1000):
        if ":hi:" in k or ":hd:" in k:
            out[k] = await redis_client.hgetall(k)
    return out


async def test_intervals_and_days_hand_computed(make_engine, redis_client):
    eng = await engine_with_day(make_engine)
    clock = ManualClock(t("11:00:00"))
    stats = await Rollup(redis_client, eng.config, eng.keys, clock).run(t("00:00:00"), t("11:00:00"))
    assert stats.days == ["2026-11-23"] and stats.queues == 1 and stats.agents == 2
    reader = HistoryReader(redis_client, eng.config, eng.keys)
    assert (await reader.intervals("q", ["support"], [DAY]))["support"][DAY] == SUPPORT_INTERVALS
    assert (await reader.daily("q", ["support"], [DAY]))["support"][DAY] == SUPPORT_DAY
    a = await reader.intervals("a", ["1001", "1002"], [DAY])
    assert a["1001"][DAY] == A1001_INTERVALS
    assert (await reader.daily("a", ["1001"], [DAY]))["1001"][DAY] == A1001_DAY
    # 1002 is still available (since 09:22:50): its open state counts up to "now" (11:00), as on the wallboard
    assert a["1002"][DAY] == {
        36: {"available_s": 900},
        37: {"available_s": 350 + 430, "on_call_s": 120, "calls_handled": 1},
        **{i: {"available_s": 900} for i in range(38, 44)},
    }
    snap = await eng.build_snapshot(t("11:00:00"))
    d1002 = (await reader.daily("a", ["1002"], [DAY]))["1002"][DAY]
    assert d1002["available_s"] == snap.agents["1002"].available_s == 900 + 780 + 6 * 900

    # the open state ends: the engine writes the same seconds into the buckets; rolled up again, they are there
    await eng.apply([ev(AgentStateChanged, "11:30:00", agent="1002", state="logged_out")])
    clock.set(t("12:00:00"))
    await Rollup(redis_client, eng.config, eng.keys, clock).run()
    iv = (await reader.intervals("a", ["1002"], [DAY]))["1002"][DAY]
    assert iv[44] == iv[45] == {"available_s": 900} and 46 not in iv
    assert (await reader.daily("a", ["1002"], [DAY]))["1002"][DAY]["available_s"] == 900 + 780 + 8 * 900


async def test_idempotent_and_late_events(make_engine, redis_client, prefix):
    eng = await engine_with_day(make_engine)
    clock = ManualClock(t("11:00:00"))
    ru = Rollup(redis_client, eng.config, eng.keys, clock)
    first = await ru.run()
    before = await stored(redis_client, prefix)
    assert first.written > 0 and before
    again = await ru.run()  # incremental: recomputes from the mark less history.late_h, changes nothing
    assert again.intervals > 0 and again.written == again.cleared == again.daily_written == 0
    exact = await ru.run(t("00:00:00"), t("11:00:00"))  # the whole span again, explicitly
    assert exact.written == exact.cleared == 0
    assert await stored(redis_client, prefix) == before

    # a late call in 09:00-09:15 (abandoned after 30 s), and the same events delivered again
    late = [
        ev(CallerJoined, "09:10:00", queue="support", call_id="c7"),
        ev(CallerAbandoned, "09:10:30", queue="support", call_id="c7", wait_s=30),
    ]
    await eng.apply(late + day_events()[:5])
    clock.set(t("11:05:00"))
    await ru.run()
    reader = HistoryReader(redis_client, eng.config, eng.keys)
    iv = (await reader.intervals("q", ["support"], [DAY]))["support"][DAY]
    assert iv[36] == {**SUPPORT_INTERVALS[36], "entered": 3, "abandoned": 1, "wait_all_s": 45}
    assert iv[37] == SUPPORT_INTERVALS[37]
    day = (await reader.daily("q", ["support"], [DAY]))["support"][DAY]
    assert day == {**SUPPORT_DAY, "entered": 7, "abandoned": 3, "wait_all_s": 205}
    after = await stored(redis_client, prefix)
    assert await ru.run() and await stored(redis_client, prefix) == after


async def test_out_of_the_buckets_lifetime_is_kept(make_engine, redis_client, prefix):
    eng = await engine_with_day(make_engine)
    clock = ManualClock(t("11:00:00"))
    ru = Rollup(redis_client, eng.config, eng.keys, clock)
    await ru.run(t("00:00:00"), t("11:00:00"))
    before = await stored(redis_client, prefix)
    # four days on, the minute buckets are gone (72 h): recomputing finds nothing, and must not erase
    async for k in redis_client.scan_iter(match=f"{prefix}:*:m:*", count=1000):
        await redis_client.unlink(k)
    clock.set(t("11:00:00") + timedelta(days=4))
    stats = await ru.run(t("00:00:00"), t("11:00:00"))
    assert stats.kept_old > 0 and stats.written == stats.cleared == 0
    assert await stored(redis_client, prefix) == before
    # with --force it would be recomputed from what is there (nothing): the operator's explicit choice
    forced = await ru.run(t("00:00:00"), t("11:00:00"), force=True)
    assert forced.cleared > 0


async def test_time_zone_day_and_interval_index(make_engine, redis_client):
    eng = await make_engine(centre={"timezone": "Asia/Jerusalem"})
    ts = [
        datetime(2026, 11, 22, 21, 59, 59, tzinfo=timezone.utc),  # 23:59:59 local on the 22nd
        datetime(2026, 11, 22, 22, 0, 0, tzinfo=timezone.utc),  # 00:00 local on the 23rd: index 0
        datetime(2026, 11, 23, 9, 20, 0, tzinfo=timezone.utc),
    ]  # 11:20 local: index 45
    await eng.apply([CallerJoined(id=f"tz{i}", ts=x, source="t", queue="q", call_id=f"z{i}") for i, x in enumerate(ts)])
    clock = ManualClock(datetime(2026, 11, 23, 12, 0, tzinfo=timezone.utc))
    await Rollup(redis_client, eng.config, eng.keys, clock).run(ts[0] - timedelta(hours=1), clock.now())
    reader = HistoryReader(redis_client, eng.config, eng.keys)
    d22, d23 = date(2026, 11, 22), date(2026, 11, 23)
    got = (await reader.intervals("q", ["q"], [d22, d23]))["q"]
    assert got[d22] == {95: {"entered": 1, "peak_waiting": 1}}
    assert got[d23] == {0: {"entered": 1, "peak_waiting": 2}, 45: {"entered": 1, "peak_waiting": 3}}
    # the interval keys live in the queue's slot, one per local day
    hk = HistoryKeys(eng.keys)
    assert hk.intervals("q", "q", d23).endswith("{q:q}:hi:20261123") and hash_tags(hk.daily("a", "7", d23)) == ["a:7"]


def test_calendar_days_weeks_months_and_dst():
    cal = CentreCalendar(load_config(None, centre={"timezone": "Europe/London", "week_start": "monday"}).centre)
    assert len(cal.intervals(date(2026, 10, 25))) == 100  # clocks back: 25 hours
    assert len(cal.intervals(date(2026, 3, 29))) == 92  # clocks forward: 23 hours
    assert len(cal.intervals(date(2026, 11, 23))) == 96
    wk = cal.period("week", date(2026, 11, 22))  # a Sunday: Monday weeks hold it at their end
    assert (wk.first, wk.last) == (date(2026, 11, 16), date(2026, 11, 22))
    mo = cal.period("month", date(2026, 2, 14))
    assert (mo.first, mo.last, mo.key) == (date(2026, 2, 1), date(2026, 2, 28), "2026-02")
    assert cal.last_complete("month", date(2026, 1, 1)).key == "2025-12"
    assert cal.last_complete("week", date(2026, 11, 23)).first == date(2026, 11, 16)


def test_codec_round_trip_and_size():
    q = {
        "entered": 120,
        "answered": 110,
        "answered_within_sl": 90,
        "abandoned": 8,
        "short_abandoned": 2,
        "abandoned_within_sl": 4,
        "overflowed": 2,
        "overflowed:timeout": 2,
        "completed": 105,
        "talk_s": 31500.25,
        "wrap_s": 4200,
        "wait_answered_s": 1320.5,
        "wait_all_s": 1500.125,
        "peak_waiting": 7,
    }
    text = pack(QUEUE_FIELDS, q)
    assert unpack(QUEUE_FIELDS, text) == q and len(text) <= 64
    a = {
        "calls_handled": 3,
        "available_s": 412.5,
        "on_call_s": 300.25,
        "wrap_up_s": 60,
        "paused_s": 127.5,
        "paused_s:lunch": 97.5,
        "paused_s:a,b=c": 30,
    }
    text = pack(AGENT_FIELDS, a)
    assert unpack(AGENT_FIELDS, text) == a and "paused_s" not in text  # pause total implied by its reasons
    assert pack(AGENT_FIELDS, {"missed": 0}) == "" and unpack(AGENT_FIELDS, "") == {}
    assert unpack(AGENT_FIELDS, pack(AGENT_FIELDS, {"paused_s": 5})) == {"paused_s": 5}
    # a counter the format does not know yet survives by name
    assert unpack(QUEUE_FIELDS, pack(QUEUE_FIELDS, {"entered": 1, "new_thing": 2})) == {"entered": 1, "new_thing": 2}


async def test_rollup_writes_stay_in_their_slots_and_expire(make_engine, redis_client, prefix):
    eng = await engine_with_day(make_engine)
    clock = ManualClock(t("11:00:00"))
    await Rollup(redis_client, eng.config, eng.keys, clock).run(t("00:00:00"), t("11:00:00"))
    keys = list(await stored(redis_client, prefix))
    assert {k.split(":")[-2] for k in keys} == {"hi", "hd"}
    for k in keys:
        tags = hash_tags(k)
        assert len(tags) == 1 and tags[0] in {"q:support", "a:1001", "a:1002"}, k
        ttl = await redis_client.ttl(k)
        keep = eng.config.history.interval_keep_days if ":hi:" in k else eng.config.history.daily_keep_days
        assert keep * 86400 <= ttl <= (keep + 31) * 86400, (k, ttl)
        assert await redis_client.object("encoding", k) == "listpack"
    assert await redis_client.hget(f"{prefix}:{{c}}:hrolled", "20261123")


@pytest.mark.parametrize("late_h", [0, 2])
async def test_incremental_rollup_follows_the_mark(make_engine, redis_client, late_h):
    eng = await engine_with_day(make_engine, history={"late_h": late_h})
    clock = ManualClock(t("09:30:00"))
    ru = Rollup(redis_client, eng.config, eng.keys, clock)
    await ru.run()
    clock.set(t("11:00:00"))
    stats = await ru.run()
    reader = HistoryReader(redis_client, eng.config, eng.keys)
    assert (await reader.daily("q", ["support"], [DAY]))["support"][DAY] == SUPPORT_DAY
    today = [sp for sp in stats.spans if sp["day"] == "2026-11-23"]
    assert today == [
        {
            "day": "2026-11-23",
            "since": (t("09:30:00") - timedelta(hours=late_h)).isoformat(),
            "until": t("11:00:00").isoformat(),
        }
    ]


# ---- agent time as spans: written when a state ends, split by the rollup -------------------------------------


async def _redis_calls(client) -> int:
    """Commands the server ran so far (those inside our scripts included), INFO itself left out."""
    stats = await client.info("commandstats")
    return sum(v["calls"] for k, v in stats.items() if k not in ("cmdstat_info",))


async def test_agent_time_costs_the_same_for_a_minute_or_a_night():
    """Round two: an agent's seconds are written when the state ends, never minute by minute, so the Redis
    work of a state change does not grow with how long the agent sat in the state. Counted on a server of its
    own: nothing else's commands in the figures."""
    import redis.asyncio as aredis

    from wallboard.engine import Engine
    from wallboard.keys import Keys
    from wallboard.redis_server import PrivateServer

    server = PrivateServer()
    client = aredis.Redis.from_url(server.url, decode_responses=True)
    try:
        eng = Engine(client, load_config(None, centre={"timezone": "UTC"}), Keys("wbspans"))
        await eng.start()
        costs = {}
        for n, (agent, length_s) in enumerate((("1001", 60), ("1002", 20 * 3600))):
            start = datetime(2026, 11, 23, 2, 0, tzinfo=timezone.utc)
            await eng.apply([AgentStateChanged(id=f"s{n}a", ts=start, source="t", agent=agent, state="available")])
            before = await _redis_calls(client)
            await eng.apply(
                [
                    AgentStateChanged(
                        id=f"s{n}b",
                        ts=start + timedelta(seconds=length_s),
                        source="t",
                        agent=agent,
                        state="on_call",
                        call_id="c",
                        queue="support",
                    )
                ]
            )
            costs[length_s] = await _redis_calls(client) - before - 1  # less our own INFO
    finally:
        await client.aclose()
        server.stop()
    # the night crosses one daily reset: one more window to write (a counter, a span, their expiries)
    assert costs[20 * 3600] <= costs[60] + 4, costs
    assert costs[20 * 3600] < 40, costs  # minute by minute it was over 2,400 (1,200 minutes x HINCRBY + EXPIRE)


async def test_a_state_across_midnight_is_split_into_its_intervals_and_days(make_engine, redis_client, prefix):
    """Available 22:50 to 01:10 the next day (UTC, reset at 00:00): 70 minutes on each day, hand-split into
    15-minute intervals by the rollup from the one span written when the state ended."""
    eng = await make_engine(centre={"timezone": "UTC"})
    t0 = datetime(2026, 11, 23, 22, 50, tzinfo=timezone.utc)
    await eng.apply(
        [
            AgentStateChanged(id="x1", ts=t0, source="t", agent="1001", state="available"),
            AgentStateChanged(
                id="x2", ts=t0 + timedelta(minutes=140), source="t", agent="1001", state="paused", reason="break"
            ),
            AgentStateChanged(id="x3", ts=t0 + timedelta(minutes=150), source="t", agent="1001", state="logged_out"),
        ]
    )
    clock = ManualClock(t0 + timedelta(hours=3))
    await Rollup(redis_client, eng.config, eng.keys, clock=clock).run(t0 - timedelta(hours=1), clock.now())
    reader = HistoryReader(redis_client, eng.config, eng.keys)
    d1, d2 = date(2026, 11, 23), date(2026, 11, 24)
    iv = await reader.intervals("a", ["1001"], [d1, d2])
    day1, day2 = iv["1001"][d1], iv["1001"][d2]
    assert day1 == {
        91: {"available_s": 600.0},
        92: {"available_s": 900.0},
        93: {"available_s": 900.0},
        94: {"available_s": 900.0},
        95: {"available_s": 900.0},
    }
    assert day2 == {
        0: {"available_s": 900.0},
        1: {"available_s": 900.0},
        2: {"available_s": 900.0},
        3: {"available_s": 900.0},
        4: {"available_s": 600.0, "paused_s": 300.0, "paused_s:break": 300.0},
        5: {"paused_s": 300.0, "paused_s:break": 300.0},
    }
    days = await reader.daily("a", ["1001"], [d1, d2])
    assert days["1001"][d1] == {"available_s": 4200.0}
    assert days["1001"][d2] == {"available_s": 4200.0, "paused_s": 600.0, "paused_s:break": 600.0}


async def test_a_day_of_minutes_is_read_in_one_call_that_returns_only_those_written(redis_client, prefix):
    """The rollup reads a slot's day of minute buckets with ``minutes.lua``: one call, replying with the positions
    (1-based) and contents of only the minutes that hold something, so an idle night costs one call, not 1,440."""
    from wallboard.keys import Keys
    from wallboard.store import Scripts

    base = Keys(prefix).queue("support")
    day = 1_795_300_000 - 1_795_300_000 % 86_400
    minutes = [day + 60 * i for i in range(1440)]
    await redis_client.hset(Keys.minute(base, minutes[3]), mapping={"entered": "2"})
    await redis_client.hset(Keys.minute(base, minutes[1439]), mapping={"answered": "1", "wait_answered_s": "7.5"})
    scripts = Scripts()
    await scripts.load(redis_client)
    try:
        got = await redis_client.evalsha(scripts.shas["minutes"], 1, base, *map(str, minutes))
    finally:
        await redis_client.delete(Keys.minute(base, minutes[3]), Keys.minute(base, minutes[1439]))
    assert got[0::2] == [4, 1440]  # by hand: the 4th and the last minute of the day
    assert dict(zip(got[1][0::2], got[1][1::2])) == {"entered": "2"}
    assert dict(zip(got[3][0::2], got[3][1::2])) == {"answered": "1", "wait_answered_s": "7.5"}
