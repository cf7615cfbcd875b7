"""Send what changed (issue 16 item 3): the lease owner publishes deltas and now and then a full snapshot; a view
applying them holds the owner's snapshot. On real Redis, through the real publisher and the views' reader."""

from __future__ import annotations

import asyncio
import json
import random
import statistics
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from wallboard import delta
from wallboard.config import load_config
from wallboard.delta import Delta, DeltaPublisher, SnapshotStream
from wallboard.engine import Engine
from wallboard.events import AgentStateChanged
from wallboard.incremental import IncrementalSnapshots
from wallboard.keys import Keys
from wallboard.sim import SimCentre
from wallboard.sim.scenarios import overload_spike
from wallboard.thresholds import LevelState

ROOT = Path(__file__).resolve().parent.parent
START = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)  # a Monday


def test_committed_delta_schema_matches_the_model():
    committed = (ROOT / "docs" / "delta.schema.json").read_text()
    assert committed == delta.schema_json(), "regenerate: python -c 'from wallboard.delta import schema_json; ...'"
    props = json.loads(committed)["properties"]
    assert {"seq", "at", "queues", "queues_removed", "agents", "agents_removed", "total"} <= set(props)


# what moves with the clock alone, which a view holds as last sent (written here, not taken from the module)
def _masked(summary: dict, agents: dict) -> dict:
    out = json.loads(json.dumps({"summary": summary, "agents": agents}))
    for q in out["summary"]["queues"].values():
        q.pop("longest_wait_s")
        q.pop("oldest_callback_s")
        for c in q["callers"]:
            c.pop("wait_s")
        for c in q["callbacks"]:
            c.pop("age_s")
    for a in out["agents"].values():
        for k in ("talk_s", "wrap_s", "available_s", "pause_s", "pause_s_by_reason"):
            a.pop(k)
    return out


def _owner(snap) -> tuple[dict, dict]:
    d = json.loads(snap.model_dump_json())
    agents = d.pop("agents")
    return d, agents


def _view(stream: SnapshotStream) -> tuple[dict, dict]:
    m = stream.mirror
    agents = {a: json.loads(s.model_dump_json()) for a, s in m.agents.agents.items()}
    return json.loads(m.summary.model_dump_json()), agents


class _Owner:
    """The lease owner's publishing step (as ``Ingest.tick``): build, evaluate, publish."""

    def __init__(self, redis_client, prefix: str, full_publish_s: float):
        self.config = load_config("config/wallboard.toml")
        self.keys = Keys(prefix)
        self.engine = Engine(redis_client, self.config, self.keys, feed_name="sim")
        self.inc = IncrementalSnapshots(self.engine, full_rebuild_s=30.0)
        self.pub = DeltaPublisher(redis_client, self.keys, self.inc, full_publish_s)
        self.levels = LevelState()
        self.sim = SimCentre(self.config, overload_spike(at_offset_s=3660.0, factor=4.0), 7, START - timedelta(hours=1))

    async def start(self) -> None:
        await self.engine.start()
        await self.engine.apply(self.sim.advance_to(START))

    async def publish(self, now: datetime):
        snap = await self.inc.build(now)
        snap, self.levels = self.engine.evaluate(snap, self.levels, now)
        return await self.pub.publish(snap, now)

    async def step(self, t: datetime):
        batch = self.sim.advance_to(t)
        if batch:
            await self.engine.apply(batch)
        return await self.publish(t + timedelta(milliseconds=137))


async def _until(gen, stream: SnapshotStream, seq: int, full: bool = False) -> None:
    """Read the view's stream until it holds ``seq`` in both parts (``full``: and has handled the full snapshot
    that came after its delta)."""
    while not (stream.mirror.seq == seq and stream.mirror.in_step() and (not full or stream.full_seq == seq)):
        await asyncio.wait_for(anext(gen), 5)


async def _drain(gen) -> None:
    async for _ in gen:
        pass


async def _held(stream: SnapshotStream, seq: int, full: bool = False) -> None:
    """Wait (the stream read by a task of its own) until it holds ``seq`` as ``_until`` says."""
    for _ in range(500):
        if stream.mirror.seq == seq and stream.mirror.in_step() and (not full or stream.full_seq == seq):
            return
        await asyncio.sleep(0.01)
    raise TimeoutError(f"the stream holds {stream.mirror.seq}, its last full one {stream.full_seq}; not {seq}")


async def test_deltas_applied_equal_the_owners_snapshot_and_a_gap_resynchronises(redis_client, prefix, cleanup):
    owner = _Owner(redis_client, prefix, full_publish_s=40.0)
    await owner.start()
    view = SnapshotStream(redis_client, owner.keys)
    gen = view.parts()
    # the desk's: no agent's clock figures brought up to date by a full part, but for one (its open scorecard);
    # a full snapshot whose delta it applied (in step) not read at all, but for the agents part with a card open
    desk = SnapshotStream(redis_client, owner.keys, clock_figures=set(), skip_fulls=True)
    # read as the desk reads it, all along: a full part it leaves unread yields nothing to wait for
    desk_reads = asyncio.create_task(_drain(desk.parts()))
    sizes = []
    stale = 0  # steps at which the desk held an agent's clock figures as an earlier message had them
    try:
        snap = await owner.publish(START)  # the first publish is a full one; the view starts from it
        await _until(gen, view, snap.seq)
        await _held(desk, snap.seq)
        t = START
        late = None
        for i in range(60):  # 5 minutes of a busy centre with a spike, a publish every 5 s
            t += timedelta(seconds=5)
            if i == 20:
                # a delta that never arrives (as when a view's connection drops): the seq skips one
                await redis_client.incr(owner.keys.seq)
            deltas_before, fulls_before, skipped_before = owner.pub.deltas, owner.pub.fulls, desk.skipped
            snap = await owner.step(t)
            full = owner.pub.fulls > fulls_before
            if owner.pub.deltas > deltas_before and not full:
                sizes.append(owner.pub.last_sizes[1])
            await _until(gen, view, snap.seq, full)
            await _held(desk, snap.seq, full)
            if i == 30:
                desk.clock_figures.add(next(iter(snap.agents)))  # type: ignore[union-attr]
            if i == 20:
                assert view.resyncs == 1  # read the stored parts again, and asked for a full one
                assert owner.pub.fulls == fulls_before  # this one was a delta
            if i == 21:
                assert owner.pub.fulls == fulls_before + 1  # the view's request: a full snapshot
            if i == 35:  # a view starting mid-stream converges
                late = SnapshotStream(redis_client, owner.keys)
                late_gen = late.parts()
                await _until(late_gen, late, snap.seq)
            if late is not None:
                await _until(late_gen, late, snap.seq, full and i > 35)
                assert _view(late) == _view(view)
            summary, agents = _owner(snap)
            assert _masked(*_view(view)) == _masked(summary, agents), i
            # the desk's view: the same but for the clock figures of an agent that only ticked
            assert _masked(*_view(desk)) == _masked(summary, agents), i
            stale += _view(desk)[1] != agents
            if full and owner.pub.deltas > deltas_before:  # a full one with its delta: the desk reads no part of it
                # (but the agents part while it names an agent: i > 30), its figures kept as the delta left them
                assert desk.skipped - skipped_before == (1 if i > 30 else 2), i
            else:
                assert desk.skipped == skipped_before, i
            if full:  # a full one: the figures that tick are current too
                assert _view(view) == (summary, agents), i
                if desk.clock_figures:  # and the desk's for the agents it names
                    assert all(_view(desk)[1][a] == agents[a] for a in desk.clock_figures), i  # type: ignore[union-attr]
        assert view.resyncs == 1 and view.mirror.gaps == 1
        assert desk.skipped >= 2 * 5, desk.skipped  # a full every 40 s (8 steps) and the one asked for
        assert stale > 10, stale  # (what the comparison above leaves out does happen)
        assert owner.pub.deltas > 50
        assert sizes and statistics.median(sizes) < len(snap.agents) / 4, sizes  # what changed, not everything
        # asked for, a full snapshot: the view holds the owner's snapshot exactly
        await view.ask_full()
        snap = await owner.publish(t + timedelta(seconds=1))
        await _until(gen, view, snap.seq, True)
        assert _view(view) == _owner(snap)
        # and the stored parts are the same snapshot (what `wallboard snapshot` and a starting view read)
        stored = json.loads(await redis_client.get(owner.keys.summary))
        assert stored == _owner(snap)[0]
        await late_gen.aclose()
    finally:
        await gen.aclose()
        desk_reads.cancel()


async def _next_delta(pubsub) -> Delta:
    while True:  # (the subscription's confirmation reads as None)
        msg = await pubsub.get_message(timeout=5)
        if msg is not None:
            return Delta.model_validate_json(msg["data"])


async def test_a_delta_names_what_changed_and_what_was_removed(redis_client, prefix, cleanup):
    owner = _Owner(redis_client, prefix, full_publish_s=1e9)
    await owner.start()
    pubsub = redis_client.pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe(owner.keys.delta_channel)
    try:
        await owner.publish(START)  # full
        before = await owner.publish(START + timedelta(seconds=1))  # nothing applied in between
        d = await _next_delta(pubsub)
        assert d.seq == before.seq and d.queues == {} and d.agents == {}  # nothing changed: only the head and total
        # an agent logs in anew: that agent alone, and the queues it serves (their agent counts moved)
        agent = next(a for a, s in before.agents.items() if s.state == "available" and s.queues)
        await owner.engine.apply(
            [
                AgentStateChanged(
                    id="x1", ts=START + timedelta(seconds=2), source="t", agent=agent, state="paused", reason="lunch"
                )
            ]
        )
        await owner.publish(START + timedelta(seconds=2))
        d = await _next_delta(pubsub)
        assert list(d.agents) == [agent] and d.agents[agent].state == "paused"
        assert set(d.queues) == set(before.agents[agent].queues)
        assert d.total.agent_counts.paused == before.total.agent_counts.paused + 1
        # an agent never seen before: added at the end (the snapshot's order, so no order sent); then the
        # registry loses it (a full rebuild no longer finds it): removed
        await owner.engine.apply(
            [AgentStateChanged(id="x2", ts=START + timedelta(seconds=3), source="t", agent="zz-new", state="available")]
        )
        await owner.publish(START + timedelta(seconds=3))
        d = await _next_delta(pubsub)
        assert list(d.agents) == ["zz-new"] and d.agent_order is None and d.agents_removed == []
        await redis_client.srem(owner.keys.agents, "zz-new")
        owner.inc.invalidate()
        await owner.publish(START + timedelta(seconds=4))
        d = await _next_delta(pubsub)
        assert d.agents_removed == ["zz-new"] and d.agents == {} and d.agent_order is None
    finally:
        await pubsub.aclose()


async def test_a_new_run_whose_seq_starts_again_is_followed_and_a_late_full_one_refused(redis_client, prefix, cleanup):
    """The seq counter restarts (the demo started again, the namespace wiped, a fresh Redis): a view holding the
    old run's seq 500 takes the new run's full snapshot at seq 3 (computed later), then its deltas."""
    old = _Owner(redis_client, prefix, full_publish_s=1e9)
    await old.start()
    await redis_client.set(old.keys.seq, 499)
    view = SnapshotStream(redis_client, old.keys)
    gen = view.parts()
    try:
        snap = await old.publish(START)
        assert snap.seq == 500
        await _until(gen, view, 500)
        # the old run ends; its namespace is wiped and a new run starts a minute later, its seq from 1
        keys = [k async for k in redis_client.scan_iter(match=f"{prefix}:*")]
        await redis_client.unlink(*keys)
        new = _Owner(redis_client, prefix, full_publish_s=1e9)
        await new.start()
        await redis_client.set(new.keys.seq, 2)
        t = START + timedelta(minutes=1)
        first = await new.publish(t)
        assert first.seq == 3 and new.pub.fulls == 1
        await _until(gen, view, 3)
        assert _view(view) == _owner(first)
        stored = await redis_client.mget(new.keys.summary, new.keys.agents_detail)  # the full one at seq 3
        for _ in range(3):  # its deltas follow the new seq
            t += timedelta(seconds=5)
            snap = await new.step(t)
            await _until(gen, view, snap.seq)
            assert _masked(*_view(view)) == _masked(*_owner(snap))
        assert new.pub.deltas == 3 and view.resyncs == 0
        # the full one at seq 3 delivered late (a lower seq, older): refused, the next delta follows the held one
        await redis_client.publish(new.keys.channel, stored[0])
        await redis_client.publish(new.keys.agents_channel, stored[1])
        t += timedelta(seconds=5)
        snap = await new.step(t)
        await _until(gen, view, snap.seq)
        assert snap.seq == 7 and view.resyncs == 0 and view.mirror.gaps == 0
        assert _masked(*_view(view)) == _masked(*_owner(snap))
    finally:
        await gen.aclose()


async def test_a_new_runs_delta_resynchronises_a_view_still_on_the_old_run(redis_client, prefix, cleanup):
    """A view still on the old run (it missed the new run's full snapshot) gets the new run's delta, a lower seq
    computed later: a gap, not an old delta; the stored parts it then reads are the new run's, and taken."""
    old = _Owner(redis_client, prefix, full_publish_s=1e9)
    await old.start()
    await redis_client.set(old.keys.seq, 499)
    await old.publish(START)
    view = SnapshotStream(redis_client, old.keys)
    held = await view._stored()  # what the stream reads first
    assert [p.seq for p in held] == [500, 500] and view.mirror.in_step()
    keys = [k async for k in redis_client.scan_iter(match=f"{prefix}:*")]
    await redis_client.unlink(*keys)
    new = _Owner(redis_client, prefix, full_publish_s=1e9)
    await new.start()
    pubsub = redis_client.pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe(new.keys.delta_channel)
    try:
        await new.publish(START + timedelta(minutes=1))  # full, seq 1: this view missed it
        snap = await new.step(START + timedelta(minutes=1, seconds=5))
        d = await _next_delta(pubsub)
        assert d.seq == snap.seq == 2
        assert view.mirror.apply(d) == "gap" and view.mirror.seq == 500
        assert [p.seq for p in await view._stored()] == [2, 2]
        assert _masked(*_view(view)) == _masked(*_owner(snap))
        # an old run's delta arriving late (a lower seq, older than held) is an old one, not a gap
        stale = d.model_copy(update={"seq": 1, "at": START})
        assert view.mirror.apply(stale) == "old" and view.mirror.gaps == 1
    finally:
        await pubsub.aclose()


async def test_the_owners_deferred_ticks_and_alerting_agents_publish_what_a_plain_owner_publishes(
    redis_client, prefix, cleanup
):
    """The lease owner (``Ingest``) builds with ``defer_ticks`` (an agent not re-read is ticked only when written
    out) and tells the publisher which agents may have alerts (its timers'); an owner doing neither (every agent
    ticked and its alerts compared at every publish) stores the same two parts, text for text, after every
    publish. Alert limits are low here, so agents cross them between their own events (the timers' work)."""
    from wallboard.thresholds import AgentAlertTimers, QueueLevels

    owners = []
    for ns, lazy in ((prefix, False), (f"{prefix}-x", True)):
        o = _Owner(redis_client, ns, full_publish_s=40.0)
        alerts = o.config.agent_alerts.model_copy(
            update={"long_call_s": 60.0, "long_wrap_s": 8.0, "long_pause_s": {"default": 45.0}}
        )
        o.config = o.config.model_copy(update={"agent_alerts": alerts})
        o.engine.config = o.config
        o.inc = IncrementalSnapshots(o.engine, full_rebuild_s=30.0, defer_ticks=lazy)
        o.pub = DeltaPublisher(redis_client, o.keys, o.inc, 40.0)
        o.timers, o.qlevels, o.lazy = AgentAlertTimers(alerts), QueueLevels(), lazy
        await o.start()
        owners.append(o)

    async def publish(o, now):
        snap = await o.inc.build(now)
        part = not o.inc.full_build
        snap, o.levels = o.engine.evaluate(
            snap,
            o.levels,
            now,
            o.timers,
            o.inc.changed_agents if part else None,
            o.qlevels,
            o.inc.changed_queues if part else None,
        )
        return await o.pub.publish(snap, now, o.timers.alerting if o.lazy and part else None)

    t = START
    seen_alerts, deltas = set(), 0
    for i in range(120):  # ten minutes, a publish every 5 s
        t += timedelta(seconds=5)
        for o in owners:
            batch = o.sim.advance_to(t)
            if batch:
                await o.engine.apply(batch)
            await publish(o, t + timedelta(milliseconds=137))
        (plain, lazy) = [
            (await redis_client.get(o.keys.summary), await redis_client.get(o.keys.agents_detail)) for o in owners
        ]
        assert lazy == plain, i
        for a in json.loads(plain[1])["agents"].values():
            seen_alerts.update(a["alerts"])
        deltas = owners[1].pub.deltas
    # the run crossed limits between agents' own events, and mostly sent deltas
    assert {"long_call", "long_wrap"} <= seen_alerts, seen_alerts
    assert deltas > 90 and owners[1].inc.partials > 90


def test_a_full_summary_read_keeps_the_models_of_the_queues_whose_json_did_not_change():
    """``delta.read_summary`` with a view's ``seen``: a queue read again as it was is the very model read before
    (nothing new for the view's collections to walk); a changed one is read anew; both equal a fresh read."""
    from .test_tui import snapshot

    first = snapshot(1)
    second = snapshot(2, support={"offered": 399})  # the support queue changed, tech and the closed one did not
    seen: dict = {}
    a = asyncio.run(delta.read_summary(first.summary_json(), seen))
    assert set(seen) == set(a.queues)
    b = asyncio.run(delta.read_summary(second.summary_json(), seen))
    fresh = asyncio.run(delta.read_summary(second.summary_json()))
    unchanged = [q for q in b.queues if q != "support"]
    assert unchanged and all(b.queues[q] is a.queues[q] for q in unchanged)
    assert b.queues["support"] is not a.queues["support"] and b.queues["support"].offered == 399
    assert b == fresh and b.seq == 2


def test_a_full_agents_part_keeps_the_models_of_agents_unchanged_but_for_their_clock_figures():
    """``delta.parse_agents`` with a view's ``seen``: an agent read again as it was is the very model read before; one
    whose seconds in each state moved shares everything else with it (its queues: the same dict) and has the new
    seconds; a changed agent is read anew, a new one added, a gone one left out; all equal a fresh read."""
    from .test_tui import snapshot

    first = snapshot(1)
    a = first.agents
    ticked = a["1002"].model_copy(update={"talk_s": 12, "pause_s_by_reason": {"lunch": 30}})
    moved = a["1003"].model_copy(update={"state": "wrap_up", "reason": None, "pause_s": 7})
    agents = {"1001": a["1001"], "1002": ticked, "1003": moved, "2001": a["1001"].model_copy(update={"name": "New"})}
    second = first.model_copy(update={"seq": 2, "agents": agents})  # 1004 gone
    seen: dict = {}
    one = asyncio.run(delta.parse_agents(first.agents_json(), seen))
    assert set(seen) == {"1001", "1002", "1003", "1004"}
    two = asyncio.run(delta.parse_agents(second.agents_json(), seen))
    fresh = asyncio.run(delta.parse_agents(second.agents_json()))
    assert list(two.agents) == ["1001", "1002", "1003", "2001"] and two.seq == 2
    assert two.agents["1001"] is one.agents["1001"]
    t = two.agents["1002"]
    assert t is not one.agents["1002"] and t.queues is one.agents["1002"].queues
    assert (t.talk_s, t.pause_s_by_reason, t.name) == (12.0, {"lunch": 30.0}, one.agents["1002"].name)
    assert two.agents["1003"].queues is not one.agents["1003"].queues and two.agents["1003"].state == "wrap_up"
    assert two == fresh and all(two.agents[k].model_fields_set == fresh.agents[k].model_fields_set for k in agents)
    assert set(seen) == set(agents)
    # read a third time as it was: every model the very one of the second read
    three = asyncio.run(delta.parse_agents(second.agents_json(), seen))
    assert all(three.agents[k] is two.agents[k] for k in agents)


def test_a_view_that_shows_no_clock_figure_keeps_the_model_of_an_agent_that_only_ticked():
    """``parse_agents(clock=False)`` (the desk's: ``SnapshotSource``, whose rows read no clock figure): an agent
    whose seconds in each state moved, and nothing else, is the very model read before, its seconds as they were;
    an agent that changed is read anew with every figure the part has, clock figures included."""
    from wallboard.ui.source import SnapshotSource

    from .test_tui import snapshot

    first = snapshot(1)
    a = first.agents
    ticked = a["1002"].model_copy(update={"talk_s": a["1002"].talk_s + 12, "available_s": 99})
    moved = a["1003"].model_copy(update={"state": "wrap_up", "reason": None, "pause_s": 7})
    second = first.model_copy(update={"seq": 2, "agents": {**a, "1002": ticked, "1003": moved}})
    seen: dict = {}
    one = asyncio.run(delta.parse_agents(first.agents_json(), seen, clock=False))
    two = asyncio.run(delta.parse_agents(second.agents_json(), seen, clock=False))
    assert two.agents["1002"] is one.agents["1002"]
    assert (two.agents["1002"].talk_s, two.agents["1002"].available_s) == (a["1002"].talk_s, a["1002"].available_s)
    assert two.agents["1003"] is not one.agents["1003"]
    assert (two.agents["1003"].state, two.agents["1003"].pause_s) == ("wrap_up", 7.0)
    assert two.agents["1001"] is one.agents["1001"] and two.seq == 2
    # the desk's source reads its parts so, a view in general brings them up to date
    assert SnapshotSource(None, Keys("unused")).stream.clock_figures == frozenset()
    # but for the agents named (the desk's open scorecard): 1002's seconds read anew, 1001's left as they were
    third = first.model_copy(update={"seq": 3, "agents": {**a, "1002": ticked, "1003": moved}})
    third.agents["1001"] = a["1001"].model_copy(update={"talk_s": a["1001"].talk_s + 5})
    three = asyncio.run(delta.parse_agents(third.agents_json(), seen, clock={"1002"}))
    assert three.agents["1002"] is not one.agents["1002"]
    assert (three.agents["1002"].talk_s, three.agents["1002"].available_s) == (a["1002"].talk_s + 12, 99.0)
    assert three.agents["1001"] is one.agents["1001"] and three.agents["1003"] is two.agents["1003"]
    assert SnapshotStream(None, Keys("unused")).clock_figures is True


def test_the_json_a_view_keeps_holds_one_copy_of_each_name():
    """What ``seen`` keeps of each queue and agent (to compare the next part with) has its keys, nested ones too,
    as the one interned string of each name: orjson's key cache (2,048 names) is thrashed by 5,000 agent ids, and
    each entry kept held its own copies of "state", "since", ... (thousands more strings a minute on a desk)."""
    import sys

    from .test_tui import snapshot

    def keys(v, out):
        if isinstance(v, dict):
            out.extend(v)
            for x in v.values():
                keys(x, out)
        elif isinstance(v, list):
            for x in v:
                keys(x, out)
        return out

    first = snapshot(1)
    queues_seen: dict = {}
    agents_seen: dict = {}
    for seq in (1, 2):  # read twice, the second time everything new: every entry kept again
        s = snapshot(seq, support={"offered": 400 + seq})
        s = s.model_copy(
            update={"agents": {k: v.model_copy(update={"calls_handled": seq}) for k, v in first.agents.items()}}
        )
        asyncio.run(delta.read_summary(s.summary_json(), queues_seen))
        asyncio.run(delta.parse_agents(s.agents_json(), agents_seen))
    names = keys([e[0] for e in queues_seen.values()], []) + keys([e[0] for e in agents_seen.values()], [])
    assert len(names) > 100 and {"state", "since", "offered", "callers"} <= set(names)
    assert all(k is sys.intern(k) for k in names)


def test_a_full_part_after_a_delta_keeps_the_models_the_delta_brought():
    """``delta.read_delta`` reads a delta as its model does and notes its queues and agents in the view's ``seen``:
    the next full summary and agents part keep the very models the delta brought for what did not change since."""
    from .test_tui import snapshot

    first = snapshot(1)
    queues_seen: dict = {}
    agents_seen: dict = {}
    asyncio.run(delta.read_summary(first.summary_json(), queues_seen))
    asyncio.run(delta.parse_agents(first.agents_json(), agents_seen))
    second = snapshot(2, support={"offered": 399})
    moved = first.agents["1003"].model_copy(update={"state": "wrap_up", "reason": None})
    second = second.model_copy(update={"agents": {**first.agents, "1003": moved}})
    d = delta.Delta(
        seq=2,
        at=second.at,
        window=second.window,
        queues={"support": second.queues["support"]},
        agents={"1003": moved},
        total=second.total,
    )
    text = d.model_dump_json()
    read = asyncio.run(delta.read_delta(text, queues_seen, agents_seen))
    assert read == delta.Delta.model_validate_json(text) and read.queues["support"].offered == 399
    summary = asyncio.run(delta.read_summary(second.summary_json(), queues_seen))
    agents = asyncio.run(delta.parse_agents(second.agents_json(), agents_seen))
    assert summary.queues["support"] is read.queues["support"] and agents.agents["1003"] is read.agents["1003"]
    assert summary == asyncio.run(delta.read_summary(second.summary_json()))
    assert agents == asyncio.run(delta.parse_agents(second.agents_json()))


def test_a_view_without_the_agent_detail_keeps_no_agent_a_delta_names():
    """A hub or a board (``agents=False``) reads no agents part, so nothing would ever forget an agent a delta
    noted for the next one (``read_delta``'s ``seen``): at 5,000 agents ~28 MB held for nothing, and more with each
    agent id that comes and goes. Its deltas are still applied."""
    from .test_tui import snapshot

    first = snapshot(1)
    a = next(iter(first.agents.values()))
    stream = SnapshotStream(None, Keys("unused"), agents=False)
    summary = asyncio.run(stream._parse(stream.keys.channel, first.summary_json()))
    assert stream.mirror.full_summary(summary)
    for seq in (2, 3, 4):  # each delta names agents not seen before (ids come and go)
        d = Delta(
            seq=seq,
            at=first.at + timedelta(seconds=seq),
            window=first.window,
            agents={f"{seq}-{i}": a.model_copy(update={"name": f"n{i}"}) for i in range(3)},
            total=first.total,
        )
        item = asyncio.run(stream._parse(stream.keys.delta_channel, d.model_dump_json()))
        assert isinstance(item, Delta) and len(item.agents) == 3 and stream.mirror.apply(item) == "applied"
    assert stream.mirror.seq == 4 and stream.mirror.agents is None
    assert stream.agents_seen == {}


def test_a_message_nested_too_deep_is_refused_not_raised():
    """A delta's text was read by pydantic, which refuses a text nested too deep (a ValidationError, counted and
    ignored); read by json (``read_delta``) it raises RecursionError, which ended the view's stream (the desk
    disconnected and retried, the hub told its screens Redis was lost). Refused on every channel."""
    stream = SnapshotStream(None, Keys("unused"))
    deep = '{"seq":1,"agents":{"x":' + "[" * 100_000 + "]" * 100_000 + "}}"
    for n, channel in enumerate((stream.keys.delta_channel, stream.keys.agents_channel, stream.keys.channel), 1):
        assert asyncio.run(stream._parse(channel, deep)) is None
        assert stream.rejected == n


def test_a_view_reads_what_orjson_refuses_as_json_reads_it():
    """A view reads the snapshot's texts by orjson (``store.loads``), and by json what orjson refuses: a figure
    written NaN or Infinity, a name with a lone surrogate, an int past 64 bits. Each reads as json reads it (the
    models validated from json's values), in a delta, a full summary and an agents part."""
    from .test_tui import snapshot

    snap = snapshot(1)
    d = Delta(
        seq=2, at=snap.at, window=snap.window, queues=dict(snap.queues), agents=dict(snap.agents), total=snap.total
    )
    texts = {
        "nan": d.model_dump_json().replace('"asa_s":null', '"asa_s":NaN', 1),
        "inf": d.model_dump_json().replace('"sl_threshold_s":', '"sl_threshold_s":Infinity,"x":', 1),
        "surrogate": d.model_dump_json().replace('"name":"', '"name":"\\ud800', 1),
        "big int": d.model_dump_json().replace('"dead_letters":0', '"dead_letters":123456789012345678901234567890'),
    }
    for what, text in texts.items():
        assert text != d.model_dump_json(), what  # the text was changed as meant
        try:
            want = Delta.model_validate(json.loads(text))
        except ValueError as e:  # pydantic's ValidationError is one: what json's values fail, the view fails
            try:
                asyncio.run(delta.read_delta(text))
            except ValueError as e2:
                assert type(e2) is type(e) and what == "inf", what
            else:
                raise AssertionError(f"{what}: read though json's values fail validation")
            continue
        assert what != "inf"
        got = asyncio.run(delta.read_delta(text, {}, {}))
        assert repr(got) == repr(want), what  # (repr: NaN is not equal to itself, a lone surrogate not JSON)
    assert "asa_s=nan" in repr(asyncio.run(delta.read_delta(texts["nan"])))  # as json reads it
    assert asyncio.run(delta.read_delta(texts["big int"])).dead_letters == 123456789012345678901234567890
    assert next(iter(asyncio.run(delta.read_delta(texts["surrogate"])).agents.values())).name.startswith("\ud800")
    summary = snap.summary_json().replace('"asa_s":null', '"asa_s":NaN', 1)
    read = asyncio.run(delta.read_summary(summary, {}))
    assert repr(read) == repr(delta.Summary.model_validate(json.loads(summary)))
    agents = snap.agents_json().replace('"name":"', '"name":"\\ud800', 1)
    part = asyncio.run(delta.parse_agents(agents, {}))
    assert next(iter(part.agents.values())).name.startswith("\ud800")


def _owner_step(rng, owner: dict, pool: dict) -> dict:
    """The owner's agents a second later: some ticked (clock figures only), some changed, gone or back."""
    out = dict(owner)
    for name, was in pool.items():
        cur = owner.get(name)
        x = rng.random()
        if cur is None:
            if x < 0.3:  # back, as it was first or changed
                out[name] = was.model_copy(update=rng.choice([{}, {"state": "paused", "reason": "lunch"}]))
            continue
        if x < 0.3:
            tick = {"talk_s": cur.talk_s + rng.choice([0, 1, 2.5]), "pause_s_by_reason": {"lunch": rng.randint(0, 3)}}
            out[name] = cur.model_copy(update=tick)
        elif x < 0.4:  # a state and reason (often one it had before)
            upd = {"state": rng.choice(["available", "paused"]), "reason": rng.choice([None, "lunch", "break"])}
            out[name] = cur.model_copy(update=upd)
        elif x < 0.45:
            out[name] = cur.model_copy(update={"queues": rng.choice([{}, {"support": 1}, {"support": 2, "tech": 0}])})
        elif x < 0.5:
            out[name] = cur.model_copy(
                update={"alerts": rng.choice([[], ["long_pause"]]), "name": rng.choice(["A", "B"])}
            )
        elif x < 0.55:
            out[name] = cur.model_copy(update={"pause_s": cur.pause_s + 1, "state": "available", "reason": None})
        elif x < 0.6:
            del out[name]
    if rng.random() < 0.2:  # the order changes
        names = list(out)
        rng.shuffle(names)
        out = {k: out[k] for k in names}
    return out


@pytest.mark.parametrize("clock", [True, False, frozenset({"a0", "a3"})], ids=["every", "none", "some"])
def test_a_view_follows_the_owner_through_ticks_changes_gaps_late_deltas_and_agents_gone_and_back(clock):
    """Random seconds of an owner's agents (``_owner_step``) sent as full parts or deltas, some deltas lost (a gap:
    the full part read again) and some delivered late (an old one): whenever the view's agents part is at the
    owner's seq, each agent is what the owner holds (its state, reason, queues, alerts, name and clock figures),
    in its order, though the view keeps models from one message to the next (``read_delta``, ``parse_agents``).
    A view that keeps no agent's clock figures up to date (``clock_figures=False``, the desk's) or only some
    agents' (its open scorecard's) holds the same but for the clock figures of the others."""
    from .test_tui import snapshot

    base = snapshot(1)
    checked = 0
    for seed in range(25):
        rng = random.Random(seed)
        firsts = list(base.agents.values())
        pool = {f"a{i}": rng.choice(firsts).model_copy(update={"name": f"Agent {i}"}) for i in range(10)}
        owner, seq, sent = dict(pool), 1, []
        stream = SnapshotStream(None, Keys("unused"), clock_figures=clock)
        mirror = stream.mirror

        async def full(snap) -> None:
            assert mirror.full_summary(await stream._parse(stream.keys.channel, snap.summary_json()))
            assert mirror.full_agents(await stream._parse(stream.keys.agents_channel, snap.agents_json()))

        async def run() -> int:
            nonlocal owner, seq
            n = 0
            await full(base.model_copy(update={"agents": owner}))
            for _ in range(40):
                prev, owner, seq = owner, _owner_step(rng, owner, pool), seq + 1
                at = base.at + timedelta(seconds=seq)
                snap = base.model_copy(update={"seq": seq, "at": at, "agents": owner})
                changed = {k: a for k, a in owner.items() if prev.get(k) is not a}
                d = Delta(
                    seq=seq,
                    at=at,
                    window=base.window,
                    agents=changed,
                    agents_removed=[k for k in prev if k not in owner],
                    agent_order=list(owner),
                    total=base.total,
                )
                sent.append(d.model_dump_json())
                x = rng.random()
                if x < 0.15:
                    await full(snap)
                elif x < 0.22:
                    continue  # lost: the next delta is a gap
                else:
                    if x < 0.3 and len(sent) > 3:  # a late one first
                        mirror.apply(await stream._parse(stream.keys.delta_channel, rng.choice(sent[:-2])))
                    if mirror.apply(await stream._parse(stream.keys.delta_channel, sent[-1])) == "gap":
                        await full(snap)
                if mirror.agents.seq == seq:
                    got = mirror.agents.agents
                    assert list(got) == list(owner), (seed, seq)
                    for k, a in owner.items():
                        skip = () if clock is True or (clock is not False and k in clock) else delta.AGENT_CLOCK
                        want = a.model_dump(exclude=set(skip))
                        assert got[k].model_dump(exclude=set(skip)) == want, (seed, seq, k)
                    n += 1
            return n

        checked += asyncio.run(run())
    assert checked > 700


async def _soon(condition) -> None:
    for _ in range(200):
        if condition():
            return
        await asyncio.sleep(0.01)


async def test_a_full_part_is_left_unread_only_when_it_is_the_one_held(redis_client, prefix, cleanup):
    """``skip_fulls``: a full part is not read only when its head names the seq and time the view holds (its delta
    applied). The same seq computed later (a new run: the seq counter started again) is read, and so is a text
    whose head is not as the owner writes it; a view that holds nothing yet reads everything."""
    owner = _Owner(redis_client, prefix, full_publish_s=3600.0)
    await owner.start()
    ready = asyncio.Event()
    desk = SnapshotStream(redis_client, owner.keys, clock_figures=set(), skip_fulls=True, on_ready=ready.set)
    reads = asyncio.create_task(_drain(desk.parts()))
    try:
        await asyncio.wait_for(ready.wait(), 5)  # subscribed, nothing stored yet
        snap = await owner.publish(START)  # the first full one: read (nothing held)
        await _held(desk, snap.seq)
        assert desk.skipped == 0
        stored = await redis_client.get(owner.keys.summary)
        agents_text = await redis_client.get(owner.keys.agents_detail)
        assert stored.startswith('{"schema_version":1,"seq":%d,"at":"2026-11-23T09:00:00Z"' % snap.seq)
        # the part held, sent again: left unread
        await redis_client.publish(owner.keys.channel, stored)
        await redis_client.publish(owner.keys.agents_channel, agents_text)
        await _soon(lambda: desk.skipped == 2)
        assert desk.skipped == 2
        # the same seq a minute later (a new run): read, and taken
        later = stored.replace('"at":"2026-11-23T09:00:00Z"', '"at":"2026-11-23T09:01:00Z"', 1)
        await redis_client.publish(owner.keys.channel, later)
        await _soon(lambda: desk.mirror.summary.at == START + timedelta(minutes=1))
        assert desk.mirror.summary.at == START + timedelta(minutes=1) and desk.skipped == 2
        # the first one again, its head written in another order: read (and taken: the same seq is not older)
        data = json.loads(stored)
        reordered = json.dumps({"seq": data.pop("seq"), **data})
        await redis_client.publish(owner.keys.channel, reordered)
        await _soon(lambda: desk.mirror.summary.at == START)
        assert desk.mirror.summary.at == START and desk.skipped == 2
        # and as the owner writes it, once read (not the one held), then held: left unread
        await redis_client.publish(owner.keys.channel, later)
        await redis_client.publish(owner.keys.channel, later)
        await _soon(lambda: desk.skipped == 3)
        assert desk.skipped == 3 and desk.mirror.summary.at == START + timedelta(minutes=1)
    finally:
        reads.cancel()


async def test_a_view_s_reading_lets_the_event_loop_turn_between_entries(monkeypatch):
    """A delta of many queues changed (each validated and kept anew) was read in one go: 40-120 ms at 500 queues,
    no frame drawn meanwhile. Each of a view's reads lets the loop turn every ``SLICE_S`` of reading; at 0, after
    each entry, so that another task runs between any two entries read (counted here)."""
    from .test_tui import snapshot

    snap = snapshot(1)
    q = next(iter(snap.queues.values()))
    queues = {f"q{i}": q.model_copy(update={"offered": i}) for i in range(40)}
    a = next(iter(snap.agents.values()))
    agents = {f"a{i}": a.model_copy(update={"name": f"n{i}"}) for i in range(30)}
    text = Delta(
        seq=2, at=snap.at, window=snap.window, queues=queues, agents=agents, total=snap.total
    ).model_dump_json()
    monkeypatch.setattr(delta, "SLICE_S", 0.0)
    turns = 0
    reading = True

    async def other_task() -> None:
        nonlocal turns
        while reading:
            turns += 1
            await asyncio.sleep(0)

    other = asyncio.create_task(other_task())
    await asyncio.sleep(0)
    start = turns
    read = await delta.read_delta(text, {}, {})
    during = turns - start
    reading = False
    await other
    assert read.queues["q39"].offered == 39 and read.agents["a29"].name == "n29"
    assert during >= 40 + 30 - 1, during  # a turn after each entry read
    monkeypatch.setattr(delta, "SLICE_S", 3600.0)  # and none within an hour's work
    other = asyncio.create_task(other_task())
    reading = True
    await asyncio.sleep(0)
    start = turns
    await delta.read_delta(text, {}, {})
    during = turns - start
    reading = False
    await other
    assert during == 0


async def test_a_queue_read_after_it_moved_is_the_model_its_whole_json_gives(redis_client, prefix, cleanup):
    """A view reads a queue it read before by validating only the fields whose JSON moved (``delta._moved``): the
    model must be the one its whole JSON gives, through a busy centre's real deltas and full summaries (a spike,
    callers and callbacks coming and going, explanations moving)."""
    owner = _Owner(redis_client, prefix, full_publish_s=20.0)
    await owner.start()
    pubsub = redis_client.pubsub(ignore_subscribe_messages=True)
    await pubsub.subscribe(owner.keys.delta_channel, owner.keys.channel)
    seen: dict = {}
    read = shared = 0
    try:
        t = START
        await owner.publish(t)
        for _ in range(60):
            t += timedelta(seconds=5)
            await owner.step(t)
            while (msg := await pubsub.get_message(timeout=0.2)) is not None:
                text = msg["data"]
                before = {q: was[1] for q, was in seen.items()}
                if msg["channel"] == owner.keys.delta_channel:
                    got, whole = (await delta.read_delta(text, seen)).queues, Delta.model_validate_json(text).queues
                else:
                    got, whole = (await delta.read_summary(text, seen)).queues, delta.parse_summary(text).queues
                for q, model in got.items():
                    assert model == whole[q] and model.model_dump_json() == whole[q].model_dump_json(), q
                    assert seen[q][0] == json.loads(whole[q].model_dump_json())  # the JSON kept: what was read
                    if q in before and model is not before[q]:
                        read += 1
                        shared += model.callbacks is before[q].callbacks  # what did not move was not read again
        assert read > 100 and shared > 10, (read, shared)
    finally:
        await pubsub.aclose()


def test_a_queue_that_moved_into_what_the_model_refuses_is_refused_as_when_read_whole():
    """Only what moved is validated, but as the queue's own fields: a moved field of the wrong type, a field
    unknown, an explanation malformed are refused as a queue read whole refuses them; a field missing (its
    default), explanations removed, added and reordered read as whole."""
    from pydantic import ValidationError

    from .test_tui import snapshot

    text = snapshot(1).summary_json()
    seen: dict = {}
    asyncio.run(delta.read_summary(text, seen))
    data = json.loads(text)

    def moved(change) -> str:
        d = json.loads(json.dumps(data))
        change(d["queues"]["support"])
        return json.dumps(d)

    bad = [
        lambda q: q.update(entered=None),
        lambda q: q.update(entered="many"),
        lambda q: q.update(nope=1),
        lambda q: q["explain"]["asa_s"].update(numerator="x"),
        lambda q: q["callers"].append({"call_id": 1}),
    ]
    for change in bad:
        with pytest.raises(ValidationError):
            asyncio.run(delta.read_summary(moved(change), dict(seen)))
        with pytest.raises(ValidationError):
            asyncio.run(delta.read_summary(moved(change)))

    missing = moved(lambda q: q.pop("offered"))
    got = asyncio.run(delta.read_summary(missing, dict(seen))).queues["support"]
    assert got == delta.parse_summary(missing).queues["support"] and got.offered == 0

    def reshuffled(q) -> None:
        ex = q["explain"]
        gone = next(iter(ex))
        kept = {k: ex[k] for k in reversed(ex) if k != gone}
        kept["asa_s"] = dict(kept["asa_s"], numerator=1.5)
        kept["made.up"] = dict(kept["asa_s"], formula="a / b")
        q["explain"] = kept
        q["offered"] += 1

    text2 = moved(reshuffled)
    got = asyncio.run(delta.read_summary(text2, seen)).queues["support"]
    whole = delta.parse_summary(text2).queues["support"]
    assert got == whole and list(got.explain) == list(whole.explain) == list(
        json.loads(text2)["queues"]["support"]["explain"]
    )
    assert (
        got.explain["asa_s"].numerator == 1.5
        and "made.up" in got.explain
        and got.offered == data["queues"]["support"]["offered"] + 1
    )


def test_a_queue_read_before_without_its_explanations_is_read_as_whole():
    """``explain`` has a default: a queue without it, read before, that moves (still without it) is the model its
    whole JSON gives, not a KeyError (``_moved`` looked up the kept JSON's ``explain``)."""
    from .test_tui import snapshot

    data = json.loads(snapshot(1).summary_json())
    seen: dict = {}
    for offered in (1, 2, 1):
        data["queues"]["support"].pop("explain", None)
        data["queues"]["support"]["offered"] = offered
        text = json.dumps(data)
        got = asyncio.run(delta.read_summary(text, seen)).queues["support"]
        assert got == delta.parse_summary(text).queues["support"] and got.offered == offered and got.explain == {}


def test_a_queue_whose_dicts_are_in_another_order_has_them_in_that_order():
    """A dict the model keeps in its JSON's key order (``explain``, ``levels``, ``alerts``, a breakdown, the
    counts' ``paused_by_reason``: the owner pops a reason at 0 and adds it again) read before in another order,
    with other fields moved or not, is in the order of the JSON read, as read whole; the JSON kept too."""
    from .test_tui import snapshot

    data = json.loads(snapshot(1).summary_json())
    q = data["queues"]["support"]
    q["agent_counts"]["paused_by_reason"] = {"lunch": 1, "break": 2}
    q["overflowed_by_reason"] = {"full": 1, "timeout": 2}
    seen: dict = {}
    asyncio.run(delta.read_summary(json.dumps(data), seen))
    for offered in (q["offered"], q["offered"] + 1, q["offered"] + 1, q["offered"]):
        q["offered"] = offered
        q["explain"] = dict(reversed(q["explain"].items()))
        q["agent_counts"]["paused_by_reason"] = dict(reversed(q["agent_counts"]["paused_by_reason"].items()))
        q["overflowed_by_reason"] = dict(reversed(q["overflowed_by_reason"].items()))
        text = json.dumps(data)
        got = asyncio.run(delta.read_summary(text, seen)).queues["support"]
        whole = delta.parse_summary(text).queues["support"]
        assert got == whole and got.model_dump_json() == whole.model_dump_json()  # (the key orders too)
        assert json.dumps(seen["support"][0]) == json.dumps(json.loads(json.dumps(q)))


def test_an_agent_whose_dicts_are_in_another_order_has_them_in_that_order():
    """A dict the model keeps in its JSON's key order (``queues``, ``spied_by``, ``capacity``, ``conversations``,
    the clock figure ``pause_s_by_reason``) read before in another order, with other fields moved or not, its clock
    figures moved or not, is in the order of the JSON read, as read whole (``parse_agents`` and ``read_delta``
    without ``seen``); the JSON kept in it too. With ``clock=False``, or a collection of agent ids without this one
    (the desk's, which reads no clock figure and keeps them as the agent's last change brought them), the clock
    dict is a clock figure like the others: kept, its values and its key order, as the last change brought it (the
    very model, when nothing else moved); a change elsewhere, an order too, reads the agent anew with the part's."""
    from wallboard.snapshot import AgentSnapshot

    from .test_tui import snapshot

    first = snapshot(1)
    dicts = {
        "queues": {"x": 1, "y": 2, "z": 0},
        "spied_by": {"sup1": "listen", "sup2": "barge"},
        "capacity": {"chat": 2, "email": 3},
        "conversations": {"chat": 1, "email": 2},
        "pause_s_by_reason": {"lunch": 1.0, "break": 2.0},
    }
    assert set(dicts) == {p[0] for p in delta._orders(AgentSnapshot)}  # every such field of the model's
    head = json.loads(first.model_dump_json(include={"seq", "at", "window", "total"}))

    def reverse(a: dict, *names: str) -> None:
        for k in names:
            a[k] = dict(reversed(a[k].items()))

    # each step: the dicts reversed, the other fields and the clock figures moved or not
    steps = [
        (("queues",), {}),
        (("spied_by", "capacity"), {"calls_handled": 1}),
        (("pause_s_by_reason",), {}),  # the clock dict's order alone
        (("pause_s_by_reason",), {"talk_s": 5.0}),  # and a clock figure
        (("pause_s_by_reason", "conversations"), {}),  # and a plain dict's order
        (("pause_s_by_reason",), {"calls_handled": 1}),  # and another field
        (("queues", "spied_by", "capacity", "conversations", "pause_s_by_reason"), {"talk_s": 5.0}),
        ((), {}),  # as it was: the very model
    ]
    for mode in (True, False, {"1002"}, {"1001"}, "delta"):
        data = json.loads(first.agents_json())
        a = data["agents"]["1002"]
        a.update(json.loads(json.dumps(dicts)))
        seen: dict = {}
        clock = True if mode == "delta" else mode
        asyncio.run(delta.parse_agents(json.dumps(data), seen, clock))
        ticks = mode is True or mode == "delta" or (isinstance(mode, set) and "1002" in mode)
        last = dict(a["pause_s_by_reason"])  # the clock dict as the agent's last change brought it
        for i, (names, moves) in enumerate(steps):
            was = seen["1002"][1]
            reverse(a, *names)
            for k, x in moves.items():
                a[k] += x
            if set(names) - {"pause_s_by_reason"} or "calls_handled" in moves:
                last = dict(a["pause_s_by_reason"])
            text = json.dumps(data)
            whole = asyncio.run(delta.parse_agents(text)).agents["1002"]
            if mode == "delta" and i % 2:
                d = {"type": "delta", **head, "seq": 2 + i, "agents": {"1002": a}}
                got = asyncio.run(delta.read_delta(json.dumps(d), None, seen)).agents["1002"]
                assert asyncio.run(delta.read_delta(json.dumps(d))).agents["1002"].model_dump_json() == (
                    whole.model_dump_json()
                )
            else:
                got = asyncio.run(delta.parse_agents(text, seen, clock)).agents["1002"]
            why = f"{mode} step {i}: {names} {moves}"
            for k in dicts:
                assert list(seen["1002"][0][k] or {}) == (list(a[k]) if k != "pause_s_by_reason" else []), why
            if not names and not moves:
                assert got is was, why
            if ticks:
                assert got == whole and got.model_dump_json() == whole.model_dump_json(), why  # (the orders too)
                continue
            clocks = set(delta.AGENT_CLOCK)
            assert got.model_dump_json(exclude=clocks) == whole.model_dump_json(exclude=clocks), why
            assert json.dumps(got.pause_s_by_reason) == json.dumps(last), why
            if names == ("pause_s_by_reason",) and "calls_handled" not in moves:
                assert got is was, why
