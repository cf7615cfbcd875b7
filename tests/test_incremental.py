"""Incremental snapshots (issue 16 item 2): after every batch of a simulated busy hour, the lease owner's
incremental snapshot equals a full ``build_snapshot`` at the same ``now``, figure by figure."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta, timezone

from wallboard.config import load_config
from wallboard.engine import Engine
from wallboard.events import CallerAbandoned, CallerJoined
from wallboard.incremental import IncrementalSnapshots
from wallboard.ingest import Ingest
from wallboard.keys import Keys
from wallboard.sim import SimCentre
from wallboard.sim.scenarios import overload_spike
from wallboard.thresholds import LevelState

from .polling import task_failed, until

START = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)  # a Monday


def _json(snap) -> dict:
    return json.loads(snap.model_dump_json())


def _diff(a: dict, b: dict, path: str = "") -> list[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out = []
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b:
                out.append(f"{path}/{k}: only in {'incremental' if k in a else 'full'}")
            else:
                out += _diff(a[k], b[k], f"{path}/{k}")
        return out
    return [] if a == b else [f"{path}: incremental {a!r} != full {b!r}"]


async def _busy_hour(redis_client, prefix, *, minutes: int, step_s: float, full_rebuild_s: float, **cfg):
    config = load_config("config/wallboard.toml", **cfg)
    engine = Engine(redis_client, config, Keys(prefix), feed_name="sim")
    await engine.start()
    inc = IncrementalSnapshots(engine, full_rebuild_s=full_rebuild_s)
    sim = SimCentre(config, overload_spike(at_offset_s=4200.0, factor=4.0), 11, START - timedelta(hours=1))
    await engine.apply(sim.advance_to(START))  # logins, queues filling
    await inc.build(START)
    t = START
    end = START + timedelta(minutes=minutes)
    checked = events = 0
    lv_inc, lv_full = LevelState(), LevelState()
    while t < end:
        t += timedelta(seconds=step_s)
        batch = sim.advance_to(t)
        events += len(batch)
        if batch:
            await engine.apply(batch)
        if checked % 7 == 3:  # callers dropped by the owner's expiry touch their queue too
            await engine.expire_callers(t)
        now = t + timedelta(milliseconds=137)  # between batches: the clock moves on by itself
        mine = await inc.build(now)
        full = await engine.build_snapshot(now)
        diff = _diff(_json(mine), _json(full))
        assert not diff, f"at {now}: " + "; ".join(diff[:10])
        # levels and alerts evaluated on each (each with its own hysteresis state) agree too
        mine, lv_inc = engine.evaluate(mine, lv_inc, now)
        full, lv_full = engine.evaluate(full, lv_full, now)
        diff = _diff(_json(mine), _json(full))
        assert not diff, f"evaluated, at {now}: " + "; ".join(diff[:10])
        checked += 1
    return inc, checked, events


async def test_incremental_equals_full_through_a_busy_hour(redis_client, prefix, cleanup):
    # a busy hour with a spike, batch by batch, the full rebuild only at the start: every snapshot after it
    # is incremental (a minute boundary re-reads the queues, never the agents)
    inc, checked, events = await _busy_hour(
        redis_client, prefix, minutes=60, step_s=4.0, full_rebuild_s=1e9, centre={"caller_expiry_s": 600}
    )
    assert checked == 900 and events > 3000
    assert inc.fulls == 1 and inc.partials == checked


async def test_incremental_with_periodic_full_rebuilds_and_a_daily_reset(redis_client, prefix, cleanup):
    # short steps across a reset at 00:00 Asia/Jerusalem (22:00 UTC): the window changes, a full rebuild follows
    global START
    saved = START
    START = datetime(2026, 11, 23, 21, 50, tzinfo=timezone.utc)
    try:
        inc, checked, _ = await _busy_hour(redis_client, prefix, minutes=20, step_s=1.5, full_rebuild_s=30)
    finally:
        START = saved
    assert inc.fulls >= 20 and inc.partials > inc.fulls


async def test_the_rolling_window_reads_only_the_minutes_written_and_stays_exact(redis_client, prefix, cleanup):
    """The owner keeps each queue's rolling-window minute buckets and reads again only those a batch wrote
    (an event's minute, an exit's implied join minute) and a minute new to the window. Events that land in
    older minutes of the window, in a minute the window has not reached yet (a PBX clock ahead of ours), and
    another ingester's (its change set through Redis) all show, equal to a full build, with no full rebuild."""
    config = load_config(None, redis={"prefix": prefix}, queues=[{"name": "support"}, {"name": "sales"}])
    keys = Keys(prefix)
    engine = Engine(redis_client, config, keys, feed_name="t")
    other = Engine(redis_client, config, keys, feed_name="chat")  # another ingester on the same centre
    await engine.start()
    await other.start()
    inc = IncrementalSnapshots(engine, full_rebuild_s=1e9)
    t0 = START + timedelta(seconds=30)
    n = 0

    def join(q: str, at: datetime) -> CallerJoined:
        nonlocal n
        n += 1
        return CallerJoined(id=f"rj{n}", ts=at, source="t", queue=q, call_id=f"rc{n}")

    async def same(now: datetime) -> None:
        diff = _diff(_json(await inc.build(now)), _json(await engine.build_snapshot(now)))
        assert not diff, f"at {now}: " + "; ".join(diff[:10])

    await engine.apply([join("support", t0 - timedelta(minutes=m)) for m in range(5)])
    await same(t0)
    # late: a join 7 minutes back, and an abandon now whose implied join (no join seen) falls 12 minutes back
    await engine.apply([join("support", t0 - timedelta(minutes=7))])
    await engine.apply(
        [CallerAbandoned(id="ra1", ts=t0, source="t", queue="sales", call_id="never-seen", wait_s=720.0)]
    )
    await same(t0 + timedelta(seconds=1))
    # early: two minutes ahead of the owner's clock, then the window reaches it (no event in between)
    await engine.apply([join("sales", t0 + timedelta(minutes=2))])
    await same(t0 + timedelta(seconds=2))
    await same(t0 + timedelta(minutes=2, seconds=10))
    # another ingester's late join: its change set names the minute it wrote
    await other.apply([join("sales", t0 - timedelta(minutes=9))])
    await other.share_touched()
    now = t0 + timedelta(minutes=2, seconds=11)
    await same(now)
    assert inc.fulls == 1 and inc.partials == 4
    snap = await engine.build_snapshot(now)
    # by hand: sales' rolling window (30 minutes back from now) holds the abandoned call's implied join (12
    # minutes back), the early join and the other ingester's: 3 entered, 1 abandoned; support's 6 joins
    assert snap.queues["sales"].rolling.entered == 3 and snap.queues["sales"].rolling.abandoned == 1
    assert snap.queues["support"].rolling.entered == 6


async def test_invalidate_forces_a_full_build(redis_client, prefix, cleanup):
    config = load_config("config/wallboard.toml")
    engine = Engine(redis_client, config, Keys(prefix), feed_name="sim")
    await engine.start()
    inc = IncrementalSnapshots(engine, full_rebuild_s=1e9)
    sim = SimCentre(config, overload_spike(), 3, START)
    await engine.apply(sim.advance_to(START + timedelta(minutes=10)))
    await inc.build(START + timedelta(minutes=10, seconds=5))
    await inc.build(START + timedelta(minutes=10, seconds=6))
    assert (inc.fulls, inc.partials) == (1, 1)
    assert inc.last_rebuilt == (0, 0)  # nothing applied in between: nothing read again
    # a write the change set did not see (another process, a lost connection): only a full build knows it
    await redis_client.sadd(engine.keys.agents, "9999")
    inc.invalidate()
    snap = await inc.build(START + timedelta(minutes=10, seconds=7))
    assert inc.fulls == 2 and "9999" in snap.agents


# ---- publishing promptly (issue 16 item 4) -------------------------------------------------------------------


class _GateFeed:
    """A live feed that hands over what the test puts in, when it does."""

    name = "gate"

    def __init__(self):
        self.q: asyncio.Queue = asyncio.Queue()

    async def follow(self, clock):
        while True:
            yield await self.q.get()


async def _entered(redis_client, keys) -> int:
    raw = await redis_client.get(keys.summary)
    return json.loads(raw)["queues"]["support"]["entered"] if raw else -1


async def test_first_change_after_a_quiet_moment_goes_out_at_once_then_coalesced(redis_client, prefix, cleanup):
    """Told by order against the ingester's own loop-time records (``last_publish``), not by how fast: the first
    change is published before the deadline a coalescing interval counted from the periodic publish would set
    (what happened before: it waited out the interval), the second is applied and held back, and goes out no
    sooner than one interval after the first change."""
    gap_s = 8.0  # long beside a loaded machine's stalls: the first change must still come well before it
    # a tick far away and a long interval: every deadline is seconds from what the test looks at
    config = load_config(
        None,
        redis={"prefix": prefix},
        queues=[{"name": "support"}],
        engine={"tick_s": 60, "publish_min_interval_ms": int(gap_s * 1000)},
    )
    feed = _GateFeed()
    ing = Ingest(redis_client, config, feed, name="ing-prompt")
    task = asyncio.create_task(ing.run())
    keys = Keys(prefix)
    loop = asyncio.get_running_loop()

    def join(k: int) -> CallerJoined:
        return CallerJoined(id=f"pj{k}", ts=datetime.now(timezone.utc), source="t", queue="support", call_id=f"pc{k}")

    async def entered(n: int) -> bool:
        return await _entered(redis_client, keys) == n

    try:

        async def first_published():
            return ing.last_publish > 0 and await entered(0)

        await until(first_published, "the first (periodic) publish", timeout=10, check=task_failed(task))
        periodic = ing.last_publish  # loop time; nothing changed since: a quiet moment
        put0 = loop.time()
        feed.q.put_nowait(join(0))
        await until(lambda: entered(1), "the first caller published", timeout=gap_s, check=task_failed(task))
        first = ing.last_publish
        assert periodic < put0 < first < periodic + gap_s  # at once: not held back by the periodic publish

        feed.q.put_nowait(join(1))
        await until(lambda: ing.events_applied == 2, "the second caller applied", check=task_failed(task))
        assert await entered(1)  # applied, not published: coalesced
        await until(lambda: entered(2), "the second caller published", timeout=3 * gap_s, check=task_failed(task))
        assert ing.last_publish >= put0 + gap_s  # an interval after the first change's publish began, or later
    finally:
        ing.stop.set()
        await task


async def test_the_owner_publishes_another_ingesters_change_without_waiting_for_its_tick(redis_client, prefix, cleanup):
    """The owner's own feed is quiet and its tick a minute away: a caller applied by another ingester (the chat
    platform's beside the PBX's) is published all the same, as the owner looks for handed-over changes."""
    config = load_config(None, redis={"prefix": prefix}, queues=[{"name": "support"}], engine={"tick_s": 60})
    keys = Keys(prefix)
    ing = Ingest(redis_client, config, _GateFeed(), name="ing-owner")
    task = asyncio.create_task(ing.run())
    try:

        async def published(n: int):
            return await _entered(redis_client, keys) == n

        await until(lambda: published(0), "the first (periodic) publish", timeout=5)
        assert ing.owner
        other = Engine(redis_client, config, keys, feed_name="http")
        await other.start()
        await other.apply(
            [CallerJoined(id="sj1", ts=datetime.now(timezone.utc), source="t", queue="support", call_id="sc1")]
        )
        await other.share_touched()

        await until(lambda: published(1), "the other ingester's caller, before the owner's next tick", timeout=10)
    finally:
        ing.stop.set()
        await task


async def test_a_failed_build_makes_the_next_one_full(redis_client, prefix, cleanup):
    config = load_config("config/wallboard.toml")
    engine = Engine(redis_client, config, Keys(prefix), feed_name="sim")
    await engine.start()
    inc = IncrementalSnapshots(engine, full_rebuild_s=1e9)
    sim = SimCentre(config, overload_spike(), 5, START)
    await engine.apply(sim.advance_to(START + timedelta(minutes=5)))
    await inc.build(START + timedelta(minutes=5, seconds=5))
    await engine.apply(sim.advance_to(START + timedelta(minutes=5, seconds=20)))
    assert engine.touched.queues or engine.touched.agents

    async def lost(*_a, **_k):
        raise ConnectionError("Redis went away mid-read")

    real, engine.read_parts = engine.read_parts, lost
    try:
        await inc.build(START + timedelta(minutes=5, seconds=21))
    except ConnectionError:
        pass
    engine.read_parts = real
    now = START + timedelta(minutes=5, seconds=22)
    mine = await inc.build(now)  # the change set taken by the failed build is not lost: a full build
    assert inc.fulls == 2
    assert _json(mine) == _json(await engine.build_snapshot(now))


async def test_another_ingesters_changes_reach_the_owners_incremental_build(redis_client, prefix, cleanup):
    """A blended floor: the PBX's feed applied by the lease owner, the chat platform's (written queues, and the
    agents who serve only them) by a second ingester on the same centre. The owner's incremental build must
    show the second one's changes at once, not at its next full rebuild: after every step it equals a full
    build (the full rebuild never comes here)."""
    from wallboard.sim import scenario_by_name
    from wallboard.sim.written import split_written, written_only_agents

    config = load_config("wallboard/data/demo.toml", redis={"prefix": prefix})
    owner = Engine(redis_client, config, Keys(prefix), feed_name="ami")
    other = Engine(redis_client, config, Keys(prefix), feed_name="http")
    await owner.start()
    await other.start()
    written = {q.name for q in config.queues if q.channel != "voice"}
    agents = written_only_agents(config)
    inc = IncrementalSnapshots(owner, full_rebuild_s=1e9)
    sim = SimCentre(config, scenario_by_name("demo", [q.name for q in config.queues]), 3, START)
    await inc.build(START)
    t, steps, seen_written = START, 0, 0
    while t < START + timedelta(minutes=10):
        t += timedelta(seconds=10)
        pbx, chat = split_written(sim.advance_to(t), written, agents)
        if pbx:
            await owner.apply(pbx)
        if chat:
            await other.apply(chat)
            await other.share_touched()
            seen_written += len(chat)
        now = t + timedelta(milliseconds=250)
        diff = _diff(_json(await inc.build(now)), _json(await owner.build_snapshot(now)))
        assert not diff, f"at {now}: " + "; ".join(diff[:10])
        steps += 1
    assert inc.fulls == 1 and inc.partials == steps and seen_written > 30
    # and what it shows is the chat platform's: the written-only agents logged in, chats answered
    snap = await owner.build_snapshot(t)
    assert all(snap.agents[a].state != "logged_out" for a in agents)
    assert snap.queues["chat"].answered > 10


async def test_a_sharded_ingester_hands_its_changes_to_an_unsharded_owner(redis_client, prefix, cleanup):
    """The PBX's feed split over shards (``--shard I/N``) beside the chat platform's unsharded ingester, which
    holds the lease: the owner builds incrementally, so a shard that is not the owner must hand its change set
    over too (through the real pump), or its changes wait for the owner's next full rebuild."""
    from wallboard.events import partition_of
    from wallboard.ingest import shard_of

    config = load_config(None, redis={"prefix": prefix}, queues=[{"name": "support"}, {"name": "sales"}])
    keys = Keys(prefix)
    owner = Engine(redis_client, config, keys, feed_name="http")
    await owner.start()
    inc = IncrementalSnapshots(owner, full_rebuild_s=1e9)
    # inside a minute: a build a second later in the next minute would read every queue (the window moved)
    now = datetime.now(timezone.utc).replace(second=20, microsecond=0)
    await inc.build(now)
    await redis_client.set(keys.lease, "the-chat-ingester", px=60_000)  # the owner (not this process)
    join = CallerJoined(id="sj1", ts=now, source="t", queue="support", call_id="sc1")
    feed = _GateFeed()
    ing = Ingest(redis_client, config, feed, name="pbx-shard", shard=(shard_of(partition_of(join), 2), 2))
    task = asyncio.create_task(ing.run())
    try:
        feed.q.put_nowait(join)

        async def handed_over():
            return bool(await redis_client.exists(keys.touched))

        await until(handed_over, "the shard's change set handed to the owner", timeout=5)
        assert not ing.owner and ing.events_applied == 1
    finally:
        ing.stop.set()
        await task
    snap = await inc.build(now + timedelta(seconds=1))
    assert (inc.fulls, inc.partials) == (1, 1) and inc.last_rebuilt == (1, 0)  # support alone, read again
    assert snap.queues["support"].waiting == 1 and snap.queues["sales"].waiting == 0


async def test_an_owner_that_loses_the_lease_hands_over_what_it_did_not_build(redis_client, prefix, cleanup):
    """Applied while it still held the lease, not yet in a snapshot of its own: once the lease is another's,
    the new owner builds it (it would otherwise wait for this ingester's next batch, or a full rebuild)."""
    config = load_config(None, redis={"prefix": prefix}, queues=[{"name": "support"}, {"name": "sales"}])
    keys = Keys(prefix)
    ing = Ingest(redis_client, config, _GateFeed(), name="old-owner")
    await ing.engine.start()
    assert await ing._lease() and ing.owner
    now = datetime.now(timezone.utc)
    await ing.engine.apply([CallerJoined(id="lj1", ts=now, source="t", queue="sales", call_id="lc1")])
    await redis_client.set(keys.lease, "the-new-owner", px=60_000)  # ours ran out while we were slow
    assert not await ing._lease() and not ing.owner
    # the queue, and the rolling window's minute bucket its join wrote (the new owner reads only that one)
    minute = int(now.timestamp()) // 60 * 60
    assert await redis_client.smembers(keys.touched) == {"q:sales", f"m:{minute}:sales"}


async def test_a_re_driven_close_shows_in_the_owner_s_incremental_snapshot(redis_client, prefix, cleanup):
    """``wallboard deadletter --redrive`` applies with an engine of its own: the lease owner's incremental
    snapshot sees what it counted (its change set through Redis), rolling figures too, equal to a full build
    with no full rebuild. By hand: c9 joined 60 s and answered 50 s before t0 by a2, its close (before its join,
    refused) at t0 with a handle time of 50 s: re-driven, completed 1 in the window and the rolling window."""
    from wallboard.commands.deadletter import redrive
    from wallboard.events import CallCompleted, CallerAnswered

    config = load_config(None, redis={"prefix": prefix}, queues=[{"name": "chat", "channel": "chat"}])
    engine = Engine(redis_client, config, Keys(prefix), feed_name="http")
    await engine.start()
    inc = IncrementalSnapshots(engine, full_rebuild_s=1e9)
    t0 = START + timedelta(minutes=5)
    q = {"source": "http:chat", "queue": "chat", "channel": "chat", "call_id": "c9"}
    closed = CallCompleted(id="k9", ts=t0, agent="a2", talk_s=50, **q)
    assert len((await engine.apply([closed])).rejected) == 1
    # its join and answer through another feed (which leaves the close for the re-drive: wallboard.parking)
    q["source"] = "jsonl:/var/spool/chat.jsonl:1"
    await engine.apply(
        [
            CallerJoined(id="j9", ts=t0 - timedelta(seconds=60), **q),
            CallerAnswered(id="a9", ts=t0 - timedelta(seconds=50), agent="a2", **q),
        ]
    )
    now = t0 + timedelta(seconds=10)
    await inc.build(now)
    res = await redrive(redis_client, config)
    assert (res.redriven, res.still_rejected) == (1, 0)
    now += timedelta(seconds=1)
    snap = await inc.build(now)
    diff = _diff(_json(snap), _json(await engine.build_snapshot(now)))
    assert not diff, "; ".join(diff[:10])
    assert (inc.fulls, inc.partials) == (1, 1)
    chat = snap.queues["chat"]
    assert (chat.completed, chat.rolling.completed, chat.talk_s) == (1, 1, 50)


async def test_a_replay_into_the_owner_s_namespace_shows_in_its_incremental_snapshot(
    redis_client, prefix, cleanup, tmp_path
):
    """``wallboard replay --prefix`` into a live centre's namespace applies with an engine of its own: the
    lease owner's next incremental build shows it, rolling figures too, equal to a full build. By hand: one
    call into support 120 s before now, answered after 20 s, completed 40 s before now (talk 60 s)."""
    from feeds.jsonl import JsonlFeed
    from wallboard.replay import replay

    from .conftest import redis_url

    config = load_config(None, redis={"prefix": prefix}, queues=[{"name": "support"}])
    engine = Engine(redis_client, config, Keys(prefix), feed_name="t")
    await engine.start()
    inc = IncrementalSnapshots(engine, full_rebuild_s=1e9)
    now = datetime.now(timezone.utc).replace(microsecond=0)
    await inc.build(now)

    def at_(s: int) -> str:
        return (now - timedelta(seconds=s)).isoformat()

    c = {"source": "jsonl", "queue": "support", "call_id": "r1"}
    lines = [
        {"type": "caller_joined", "id": "r1j", "ts": at_(120), **c},
        {"type": "caller_answered", "id": "r1a", "ts": at_(100), "agent": "1001", "wait_s": 20, **c},
        {"type": "call_completed", "id": "r1c", "ts": at_(40), "agent": "1001", "talk_s": 60, **c},
    ]
    path = tmp_path / "day.jsonl"
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))
    await replay(JsonlFeed(str(path), config), config, redis_url=redis_url(), prefix=prefix)

    later = now + timedelta(seconds=1)
    snap = await inc.build(later)
    diff = _diff(_json(snap), _json(await engine.build_snapshot(later)))
    assert not diff, "; ".join(diff[:10])
    assert (inc.fulls, inc.partials) == (1, 1)
    support = snap.queues["support"]
    assert (support.rolling.entered, support.rolling.answered, support.rolling.completed) == (1, 1, 1)
    assert "1001" in snap.agents


async def test_a_long_queue_keeps_its_callers_models_while_their_call_join_and_number_are_the_same(
    redis_client, prefix, cleanup
):
    """The owner keeps each waiting caller's and callback's model from one build to the next (their ages set
    anew): a caller whose number changed (joined again at the same second with another number) is made anew,
    masked; one who left is gone; the others are the very models, each at its age now, and the whole queue as a
    full build makes it."""
    from wallboard.events import CallbackDone, CallbackRequested

    config = load_config("config/wallboard.toml", centre={"mask_callers": True, "mask_keep_digits": 4})
    engine = Engine(redis_client, config, Keys(prefix), feed_name="sim")
    await engine.start()
    inc = IncrementalSnapshots(engine, full_rebuild_s=1e9)
    n = 0

    def ev(cls, at_s: float, call: str, **kw):
        nonlocal n
        n += 1
        return cls(id=f"e{n}", ts=START + timedelta(seconds=at_s), source="t", queue="support", call_id=call, **kw)

    await engine.apply(
        [
            ev(CallerJoined, 0, "a", caller="0501234567"),
            ev(CallerJoined, 1, "b", caller="0509990001"),
            ev(CallerJoined, 2, "c"),
            ev(CallerJoined, 3, "d", caller="0507770003"),
            ev(CallbackRequested, 4, "d", caller="0507770003"),
            ev(CallerJoined, 5, "e", caller="0506660005"),
            ev(CallbackRequested, 6, "e", caller="0506660005"),
        ]
    )

    async def both(at_s: float):
        now = START + timedelta(seconds=at_s)
        mine, full = await inc.build(now), await engine.build_snapshot(now)
        diff = _diff(_json(mine), _json(full))
        assert not diff, "; ".join(diff[:10])
        q = mine.queues["support"]
        return {c.call_id: c for c in q.callers}, {b.call_id: b for b in q.callbacks}, q

    callers, callbacks, q = await both(10.5)
    assert [(c, m.wait_s, m.caller) for c, m in callers.items()] == [
        ("a", 10.5, "***4567"),
        ("b", 9.5, "***0001"),
        ("c", 8.5, None),
    ]
    assert [(c, m.age_s) for c, m in callbacks.items()] == [("d", 7.5), ("e", 5.5)]  # joined at 3 and 5
    assert (q.longest_wait_s, q.oldest_callback_s) == (10.5, 7.5)

    # b joins again with another number; a caller joins (the queue is re-read)
    await engine.apply([ev(CallerJoined, 11, "b", caller="0508880002"), ev(CallerJoined, 12, "f")])
    callers2, callbacks2, q = await both(13.25)
    assert inc.last_rebuilt[0] == 1  # the queue was re-read, not ticked
    assert callers2["a"] is callers["a"] and callers2["c"] is callers["c"]
    assert callers2["b"] is not callers["b"] and callers2["b"].caller == "***0002"
    assert [(c, m.wait_s) for c, m in callers2.items()] == [("a", 13.25), ("c", 11.25), ("b", 2.25), ("f", 1.25)]
    assert callbacks2["d"] is callbacks["d"] and callbacks2["e"] is callbacks["e"]
    assert [(c, m.age_s) for c, m in callbacks2.items()] == [("d", 10.25), ("e", 8.25)]

    # a leaves, d's callback is done: gone; the rest kept, each at its age
    await engine.apply([ev(CallerAbandoned, 14, "a"), ev(CallbackDone, 14, "d")])
    callers3, callbacks3, q = await both(20)
    assert list(callers3) == ["c", "b", "f"] and list(callbacks3) == ["e"]
    assert callers3["b"] is callers2["b"] and callbacks3["e"] is callbacks["e"]
    assert (q.longest_wait_s, q.oldest_callback_s, q.waiting, q.callbacks_pending) == (18.0, 15.0, 3, 1)


async def test_the_owner_s_reads_decode_as_its_client_and_bring_the_centre_s_dead_letters_and_gaps(prefix, cleanup):
    """The snapshot's reads go out packed by ``Scripts.run_calls`` (their replies as the server sends them) with
    the centre's two reads beside them: a caller's number that is not UTF-8 (written by someone else) reads as the
    client reads any text (``store.connect``: U+FFFD for what is not UTF-8), not as an error, and the dead-letter
    count and the window's gaps are the ones written."""
    import redis.asyncio as aredis

    from wallboard.store import connect

    from .conftest import redis_url

    config = load_config("config/wallboard.toml", centre={"mask_callers": False})
    client = await connect(config, redis_url())
    raw = aredis.Redis.from_url(redis_url())  # bytes as they are
    try:
        engine = Engine(client, config, Keys(prefix), feed_name="sim")
        await engine.start()
        joined = CallerJoined(id="e1", ts=START, source="t", queue="support", call_id="a", caller="0501234567")
        await engine.apply([joined, CallerJoined(id="e2", ts=START, source="t", queue="support", call_id="b")])
        await raw.hset(engine.keys.queue("support") + ":callers", "b", b"05\xff\xfe99")
        await raw.set(engine.keys.dlcount, 3)
        gap = {"feed": "sim", "start": "2026-11-23T09:00:05Z", "length_s": 12.5}
        await raw.zadd(engine.keys.gaps, {json.dumps(gap): START.timestamp() + 5})
        for snap in (await IncrementalSnapshots(engine).build(START), await engine.build_snapshot(START)):
            assert [c.caller for c in snap.queues["support"].callers] == ["0501234567", "05\ufffd\ufffd99"]
            assert snap.dead_letters == 3 and snap.gaps == [gap]
    finally:
        await raw.aclose()
        await client.aclose()


async def test_a_client_of_one_connection_still_builds_snapshots(prefix, cleanup):
    """A URL that caps the client's pool at one connection (``?max_connections=1``, redis-py's URL option, as for a
    server that limits its clients) builds the snapshot as before 9bbf2be did, in one round trip at a time: the
    owner's reads never need a second connection at once (they did, the centre's reads beside the scripts': every
    build failed with "Too many connections")."""
    from wallboard.store import connect

    from .conftest import redis_url

    url = redis_url()
    config = load_config("config/wallboard.toml", centre={"mask_callers": False})
    client = await connect(config, url + ("&" if "?" in url else "?") + "max_connections=1")
    try:
        assert client.connection_pool.max_connections == 1
        engine = Engine(client, config, Keys(prefix), feed_name="sim")
        await engine.start()
        await engine.apply(
            [
                CallerJoined(id="e1", ts=START, source="t", queue="support", call_id="a", caller="0501234567"),
                CallerJoined(id="e2", ts=START + timedelta(seconds=4), source="t", queue="sales", call_id="b"),
            ]
        )
        await client.set(engine.keys.dlcount, 2)
        now = START + timedelta(seconds=10)
        for snap in (await IncrementalSnapshots(engine).build(now), await engine.build_snapshot(now)):
            assert [(c.call_id, c.wait_s, c.caller) for c in snap.queues["support"].callers] == [
                ("a", 10.0, "0501234567")
            ]
            assert [(c.call_id, c.wait_s) for c in snap.queues["sales"].callers] == [("b", 6.0)]
            assert snap.dead_letters == 2
    finally:
        await client.aclose()
