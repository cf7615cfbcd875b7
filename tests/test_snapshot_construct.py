"""The queue and agent entries the engine makes without validating them (``snapshot.trusted``, a tenth of a
rebuild) are the models validation makes from the same values: validating each entry again changes not one byte of its JSON (an
int where a float belongs would write "20" for "20.0"), through a simulated busy spell, full and incremental
builds alike, and on a chat queue (the slots' expected wait)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from wallboard.config import load_config
from wallboard.engine import Engine
from wallboard.events import AgentStateChanged, CallCompleted, CallerAnswered, CallerJoined
from wallboard.incremental import IncrementalSnapshots
from wallboard.keys import Keys
from wallboard.sim import SimCentre
from wallboard.sim.scenarios import overload_spike
from wallboard.snapshot import Snapshot

START = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)  # a Monday


def _unvalidated(snap: Snapshot) -> list[str]:
    """The queues and agents whose JSON changes when validated again (with what differs), none when every entry
    is exact."""
    out = []
    for name, entry in [*snap.queues.items(), *snap.agents.items()]:
        made = entry.model_dump_json()
        again = type(entry).model_validate(entry.model_dump()).model_dump_json()
        if made != again:
            at = next(i for i, (x, y) in enumerate(zip(made, again)) if x != y)
            out.append(f"{name}: {made[max(0, at - 60) : at + 20]!r} != {again[max(0, at - 60) : at + 20]!r}")
    return out


async def test_queue_entries_made_unvalidated_are_what_validation_makes(redis_client, prefix, cleanup):
    config = load_config("config/wallboard.toml")
    engine = Engine(redis_client, config, Keys(prefix), feed_name="sim")
    await engine.start()
    inc = IncrementalSnapshots(engine, full_rebuild_s=1e9)
    sim = SimCentre(config, overload_spike(at_offset_s=600.0, factor=4.0), 7, START - timedelta(hours=1))
    await engine.apply(sim.advance_to(START))
    t, seen, paused = START, 0, 0
    for _ in range(60):
        t += timedelta(seconds=20)
        await engine.apply(sim.advance_to(t))
        for snap in (await inc.build(t), await engine.build_snapshot(t)):
            assert not _unvalidated(snap), _unvalidated(snap)[:3]
            seen += sum(q.waiting + q.answered for q in snap.queues.values())
            paused += sum(a.state == "paused" and a.pause_s > 0 for a in snap.agents.values())
    # incremental builds; queues with callers and figures, agents with their times
    assert (inc.fulls, inc.partials) == (1, 59) and seen > 0 and paused > 0


async def test_a_chat_queue_made_unvalidated_is_what_validation_makes(make_engine):
    eng = await make_engine(
        queues=[{"name": "web", "channel": "chat", "sl_threshold_s": 30}, {"name": "phone"}],
        agents=[{"id": "a1", "skills": {"web": 0}, "capacity": {"chat": 2}}, {"id": "a2", "skills": {"phone": 0}}],
    )
    t0 = START.timestamp()

    def at(s: float) -> datetime:
        return datetime.fromtimestamp(t0 + s, timezone.utc)

    q = {"queue": "web", "channel": "chat"}
    await eng.apply(
        [
            AgentStateChanged(ts=at(0), id="s1", source="t", agent="a1", state="available"),
            CallerJoined(ts=at(10), id="j1", source="t", call_id="c1", **q),
            CallerJoined(ts=at(12), id="j2", source="t", call_id="c2", **q),
            CallerJoined(ts=at(14), id="j3", source="t", call_id="c3", **q),
            CallerAnswered(ts=at(16), id="a3", source="t", call_id="c3", agent="a1", **q),
            CallCompleted(ts=at(36), id="e3", source="t", call_id="c3", agent="a1", talk_s=20, **q),
            CallerAnswered(ts=at(30), id="a1", source="t", call_id="c1", agent="a1", **q),
        ]
    )
    snap = await eng.build_snapshot(at(40))
    web = snap.queues["web"]
    # by hand: c3 answered after 2 s and closed after 20 s of talk (AHT 20 s), c1 answered after 20 s and open,
    # c2 waiting since 12 s; a1 holds c1 in one of its 2 slots: c2's next one waits (1 + 1 - 1) x 20 / 2 = 10 s
    assert (web.answered, web.waiting, web.longest_wait_s, web.sl_threshold_s) == (2, 1, 28.0, 30.0)
    assert (web.aht_s, web.ewt_s) == (20.0, 10.0)
    assert not _unvalidated(snap)
