"""Agents' alerts evaluated for what changed (issue 16): the lease owner evaluates only the agents its
incremental build re-read and those whose time-in-state limit has come (``AgentAlertTimers``), and the alerts
are those of evaluating every agent."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from wallboard.clock import ManualClock
from wallboard.config import load_config
from wallboard.engine import Engine
from wallboard.events import AgentStateChanged, MemberAdded
from wallboard.incremental import IncrementalSnapshots
from wallboard.ingest import Ingest
from wallboard.keys import Keys
from wallboard.sim import SimCentre
from wallboard.sim.scenarios import overload_spike
from wallboard.thresholds import AgentAlertTimers, LevelState, QueueLevels, ack

START = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)  # a Monday


class _NoFeed:
    name = "none"


async def _published_alerts(redis_client, keys: Keys) -> dict[str, list[str]]:
    """The two agents' alerts as a view reads them (the centre's other agents are logged out: none)."""
    part = json.loads(await redis_client.get(keys.agents_detail))
    alerts = {a: s["alerts"] for a, s in part["agents"].items()}
    assert len(alerts) > 2 and not any(v for a, v in alerts.items() if a not in ("1001", "1002"))
    return {a: alerts[a] for a in ("1001", "1002")}


async def test_a_long_call_alert_fires_on_time_with_no_event(redis_client, prefix, cleanup):
    config = load_config(
        "config/wallboard.toml",
        redis={"prefix": prefix},
        agent_alerts={"long_call_s": 300, "long_pause_s": {"default": 120}},
        engine={"full_rebuild_s": 1e9, "full_publish_s": 1e9},
    )
    clock = ManualClock(START)
    ing = Ingest(redis_client, config, _NoFeed(), clock=clock, name="ing-timers")
    keys = ing.keys
    await ing.engine.start()
    await ing.engine.apply(
        [
            MemberAdded(id="m1", ts=START, source="t", agent="1001", queue="support"),
            MemberAdded(id="m2", ts=START, source="t", agent="1002", queue="support"),
            AgentStateChanged(id="s1", ts=START, source="t", agent="1001", state="on_call", queue="support"),
            AgentStateChanged(id="s2", ts=START + timedelta(seconds=10), source="t", agent="1002", state="paused"),
        ]
    )
    clock.set(START + timedelta(seconds=11))
    await ing.tick(periodic=False)  # the first build: full, every agent evaluated
    assert await _published_alerts(redis_client, keys) == {"1001": [], "1002": []}

    # no event from here on: each tick's build re-reads no agent; only the timers can raise an alert
    clock.set(START + timedelta(seconds=129, microseconds=999_999))
    await ing.tick(periodic=False)
    assert ing.snapshots.changed_agents == set() and not ing.snapshots.full_build
    assert await _published_alerts(redis_client, keys) == {"1001": [], "1002": []}
    clock.set(START + timedelta(seconds=130))  # 1002 paused at +10 s, limit 120 s: exactly now
    await ing.tick(periodic=False)
    assert ing.snapshots.changed_agents == set()
    assert await _published_alerts(redis_client, keys) == {"1001": [], "1002": ["long_pause"]}
    clock.set(START + timedelta(seconds=299))
    await ing.tick(periodic=False)
    assert await _published_alerts(redis_client, keys) == {"1001": [], "1002": ["long_pause"]}
    clock.set(START + timedelta(seconds=300))  # 1001 on a call since 0, limit 300 s
    await ing.tick(periodic=False)
    assert ing.snapshots.changed_agents == set() and not ing.snapshots.full_build
    assert await _published_alerts(redis_client, keys) == {"1001": ["long_call"], "1002": ["long_pause"]}

    # an event ends 1002's pause: its alert goes at once, 1001's stays without being evaluated again
    await ing.engine.apply(
        [AgentStateChanged(id="s3", ts=START + timedelta(seconds=301), source="t", agent="1002", state="available")]
    )
    clock.set(START + timedelta(seconds=302))
    await ing.tick(periodic=False)
    assert ing.snapshots.changed_agents == {"1002"}
    assert await _published_alerts(redis_client, keys) == {"1001": ["long_call"], "1002": []}


async def test_evaluating_what_changed_equals_evaluating_every_agent(redis_client, prefix, cleanup):
    # short limits so that alerts come and go all the time, most of them on the clock between events
    config = load_config(
        "config/wallboard.toml",
        agent_alerts={"long_call_s": 200, "long_wrap_s": 15, "long_pause_s": {"default": 60}, "missed_in_row": 2},
    )
    engine = Engine(redis_client, config, Keys(prefix), feed_name="sim")
    await engine.start()
    inc = IncrementalSnapshots(engine, full_rebuild_s=300)
    timers = AgentAlertTimers(config.agent_alerts)
    qlevels = QueueLevels()
    sim = SimCentre(config, overload_spike(at_offset_s=600.0, factor=4.0), 5, START - timedelta(hours=1))
    await engine.apply(sim.advance_to(START))
    t = START
    lv_mine, lv_all = LevelState(), LevelState()
    fired = timed = acks = 0
    for step in range(250):
        t += timedelta(seconds=3)
        batch = sim.advance_to(t)
        if batch and step % 3:  # every third step no event: only the clock moves
            await engine.apply(batch)
        now = t + timedelta(milliseconds=137)
        mine = await inc.build(now)
        changed = None if inc.full_build else inc.changed_agents
        cq = None if inc.full_build else inc.changed_queues
        quiet = [  # alerts of queues with nobody waiting: their levels are kept from one publish to the next
            k for k, st in lv_all.items() if mine.queues[k[0]].longest_wait_s is None and st.acked_by is None
        ]
        if step % 3 == 0 and quiet:  # an ack with no event: that queue is evaluated again
            lv_mine, lv_all = ack(lv_mine, *quiet[0], "sup", now), ack(lv_all, *quiet[0], "sup", now)
            acks += 1
        mine, lv_mine = engine.evaluate(mine, lv_mine, now, timers, changed, qlevels, cq)
        full = await engine.build_snapshot(now)
        full, lv_all = engine.evaluate(full, lv_all, now)
        assert lv_mine == lv_all, f"at {now}"
        for q, qs in full.queues.items():
            got_q = (mine.queues[q].levels, mine.queues[q].alerts, mine.queues[q].open)
            assert got_q == (qs.levels, qs.alerts, qs.open), f"{q} at {now}"
        got = {a: s.alerts for a, s in mine.agents.items()}
        want = {a: s.alerts for a, s in full.agents.items()}
        assert got == want, f"at {now}: " + str({a: (got[a], want.get(a)) for a in got if got[a] != want.get(a)})
        fired += sum(map(len, want.values()))
        timed += sum(1 for a, al in want.items() if al and a not in (changed or ()))
    assert fired > 100 and timed > 50  # alerts held and raised with no event for the agent, checked each time
    assert qlevels.kept > 50 and acks  # queues kept their levels, and acknowledged
