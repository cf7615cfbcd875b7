"""The simulated centre: determinism, Asterisk order, call log vs events, routing, actions, scenarios, feed."""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from feeds.sim import SimFeed
from wallboard.clock import ManualClock
from wallboard.config import load_config
from wallboard.events import AgentStateChanged
from wallboard.sim import SimCentre, normal_day, overload_spike, quiet, scenario_by_name

ROOT = Path(__file__).resolve().parents[1]
# Monday 2026-11-23, 00:00 in Jerusalem (UTC+2): a working day for every queue of the example centre.
DAY = datetime(2026, 11, 22, 22, 0, tzinfo=timezone.utc)


@pytest.fixture(scope="module")
def example():
    return load_config(ROOT / "config" / "wallboard.toml")


@pytest.fixture(scope="module")
def day(example):
    """One simulated normal day of the example centre (shared: it is the slow part)."""
    sim = SimCentre(example, normal_day(), 1, DAY)
    events = sim.advance_to(DAY + timedelta(hours=24))
    return sim, events


def tiny(agents: dict[str, dict[str, int]], queues=("a", "b"), wrapup_s: float = 0):
    """A hand-built centre: queues with no arrivals of their own, agents with the given skills."""
    config = load_config(
        None,
        queues=[{"name": q, "wrapup_s": wrapup_s} for q in queues],
        agents=[{"id": a, "skills": s} for a, s in agents.items()],
    )
    return SimCentre(config, quiet(), 1, DAY)


def at(s: float) -> datetime:
    return DAY + timedelta(seconds=s)


def answered_by(sim: SimCentre) -> list[tuple[str, str | None]]:
    return [(c.queue, c.agent) for c in sim.calls]


# --- determinism -----------------------------------------------------------------------------------------


def test_same_seed_same_events_other_seed_differs(example, day):
    _, events = day
    again = SimCentre(example, normal_day(), 1, DAY).advance_to(DAY + timedelta(hours=24))
    assert again == events  # pydantic models compare field by field
    morning = DAY + timedelta(hours=10)
    other = SimCentre(example, normal_day(), 2, DAY).advance_to(morning)
    assert other != [e for e in events if e.ts <= morning]


def test_stepping_does_not_change_the_run(example):
    """Advancing in many small steps or one big one gives the same events."""
    one = SimCentre(example, normal_day(), 3, DAY).advance_to(DAY + timedelta(hours=12))
    sim = SimCentre(example, normal_day(), 3, DAY)
    steps = []
    for m in range(1, 12 * 60 + 1, 7):
        steps += sim.advance_to(DAY + timedelta(minutes=m))
    steps += sim.advance_to(DAY + timedelta(hours=12))
    assert steps == one


# --- the event stream --------------------------------------------------------------------------------------


def test_day_in_time_order_with_stable_unique_ids(day):
    _, events = day
    assert len(events) > 10_000
    assert all(a.ts <= b.ts for a, b in zip(events, events[1:]))
    assert all(e.ts.utcoffset() == timedelta(0) and e.source == "sim" for e in events)
    assert len({e.id for e in events}) == len(events)
    assert all(e.id.startswith("sim:1:") for e in events)


_TOKENS = {
    "caller_joined": "J",
    "agent_state:ringing": "R",
    "agent_missed": "M",
    "caller_answered": "A",
    "agent_state:on_call": "O",
    "call_completed": "C",
    "agent_state:wrap_up": "W",
    "wrapup_completed": "D",
    "caller_abandoned": "X",
    "caller_overflowed": "V",
    "callback_requested": "B",
    "callback_done": "K",
}
# Joined; rings, some missed; then answered (caller leaves, then the agent connects), talk, wrap-up - or a
# way out while waiting (perhaps while a phone rang); a callback request is called back later.
_CALL = re.compile(r"J(RM)*(RAOCWD|R?[XV]|R?BK?)")


def test_each_call_follows_asterisk_order(day):
    sim, events = day
    per_call: dict[str, list] = {}
    for e in events:
        if e.type in ("dial_attempt", "outbound_call") or getattr(e, "call_id", None) is None:
            continue
        key = e.type + (f":{e.state}" if e.type == "agent_state" else "")
        per_call.setdefault(e.call_id, []).append((key, e))
    finished = {
        c.call_id
        for c in sim.calls
        if c.outcome in ("abandoned", "overflow") or c.wrap_s is not None or c.callback is not None
    }
    ended = Counter()
    for call_id in finished:
        seq = per_call[call_id]
        word = "".join(_TOKENS[k] for k, _ in seq)
        assert _CALL.fullmatch(word), (call_id, word)
        ended[word[-1]] += 1
        for (k1, e1), (k2, e2) in zip(seq, seq[1:]):
            if k1 == "caller_answered":  # the agent that connects is the one that answered, at once
                assert k2 == "agent_state:on_call" and e2.agent == e1.agent and e2.ts == e1.ts
    assert len(finished) > 0.99 * len(sim.calls)
    assert ended["D"] > 1000 and ended["X"] > 20 and ended["K"] > 0


_NEXT = {
    "available": {"ringing", "paused", "on_call"},  # on_call: dialling out or calling back
    "ringing": {"on_call", "available", "paused"},  # available: missed, or the caller left
    "on_call": {"wrap_up", "available", "paused"},
    "wrap_up": {"available", "paused"},
    "paused": {"available", "paused"},  # paused again: a new reason
}


def test_agent_states_move_legally(day):
    _, events = day
    last: dict[str, str] = {}
    for e in events:
        if isinstance(e, AgentStateChanged):
            if e.agent in last:
                assert e.state in _NEXT[last[e.agent]], (e.agent, last[e.agent], e.state, e.ts)
            last[e.agent] = e.state
            assert (e.reason is not None) == (e.state == "paused")
    reasons = Counter(e.reason for e in events if isinstance(e, AgentStateChanged) and e.reason)
    assert set(reasons) == {"break", "lunch", "training"}


def test_call_log_agrees_with_events(day):
    sim, events = day
    kinds = Counter(e.type for e in events)
    log = Counter(c.outcome for c in sim.calls)
    assert kinds["caller_joined"] == len(sim.calls)
    assert kinds["caller_answered"] == log["answered"]
    assert kinds["caller_abandoned"] == log["abandoned"]
    assert kinds["callback_requested"] == log["callback"]
    assert kinds["callback_done"] == sum(c.callback is not None for c in sim.calls)
    by_reason = Counter(e.reason for e in events if e.type == "caller_overflowed")
    assert by_reason == Counter(c.reason for c in sim.calls if c.outcome == "overflow")
    assert kinds["agent_missed"] == sum(c.missed for c in sim.calls)
    waits = {e.call_id: e.wait_s for e in events if e.type == "caller_answered"}
    assert waits == {c.call_id: c.wait_s for c in sim.calls if c.outcome == "answered"}
    joined = {c.call_id: c.joined for c in sim.calls}
    for e in events:  # a wait is the time since joining, to the millisecond
        if e.type in ("caller_answered", "caller_abandoned", "caller_overflowed", "callback_requested"):
            assert (e.ts - joined[e.call_id]).total_seconds() == pytest.approx(e.wait_s, abs=1e-6)
    # membership and login at the start, once per skill and agent
    assert kinds["member_added"] == sum(len(a.skills) for a in sim.config.agents)
    assert all(e.ts == DAY for e in events[: kinds["member_added"] + len(sim.config.agents)])
    assert kinds["dial_attempt"] >= kinds["outbound_call"] > 0


def test_normal_day_is_busy_but_mostly_healthy(day, example):
    sim, _ = day
    for q in example.queues:
        calls = [c for c in sim.calls if c.queue == q.name and c.outcome]
        answered = [c for c in calls if c.outcome == "answered"]
        abandoned = [c for c in calls if c.outcome == "abandoned"]
        short = sum(c.wait_s <= q.short_abandon_s for c in abandoned)
        within = sum(c.wait_s <= q.sl_threshold_s for c in answered)
        sl = within / (len(answered) + len(abandoned) - short)
        assert 0.7 <= sl <= 0.95, (q.name, sl)
        assert len(calls) > 300


# --- routing -----------------------------------------------------------------------------------------------


def test_lowest_penalty_first_even_when_idle_shorter():
    sim = tiny({"x": {"a": 1}, "y": {"a": 0}})
    sim.schedule_caller("a", at(10))
    sim.advance_to(at(300))
    assert answered_by(sim) == [("a", "y")]


def test_then_longest_idle():
    sim = tiny({"x": {"a": 0}, "y": {"a": 0}})
    sim.schedule_caller("a", at(10), talk_s=30)  # both idle since the start: config order, x
    sim.schedule_caller("a", at(100), talk_s=30)  # x freed at about 45 s, y idle since 0: y
    sim.schedule_caller("a", at(200), talk_s=30)  # x idle since about 45 s, y since about 135 s: x
    sim.advance_to(at(400))
    assert answered_by(sim) == [("a", "x"), ("a", "y"), ("a", "x")]


def test_agent_serves_its_best_queue_before_an_older_caller_elsewhere():
    sim = tiny({"z": {"a": 0, "b": 1}})
    sim.schedule_caller("a", at(0), talk_s=60)
    sim.schedule_caller("b", at(5))  # waits longest, but in z's second-choice queue
    sim.schedule_caller("a", at(10))
    sim.advance_to(at(1000))
    first, older_b, newer_a = sim.calls
    assert newer_a.agent == "z" and older_b.agent == "z"
    assert newer_a.wait_s < older_b.wait_s  # a's caller went first


def test_an_e_mail_is_taken_while_every_phone_is_busy():
    """A written-only agent takes an e-mail at once though no voice agent is free (the demo's overload left
    e-mails waiting beside idle e-mail agents)."""
    config = load_config(
        None,
        queues=[{"name": "a"}, {"name": "mail", "channel": "email"}],
        agents=[{"id": "x", "skills": {"a": 0}}, {"id": "m", "skills": {"mail": 0}}],
    )
    sim = SimCentre(config, quiet(), 1, DAY)
    sim.schedule_caller("a", at(0), talk_s=600)
    sim.schedule_caller("a", at(1), talk_s=600)  # x busy, this caller waits: no phone is free
    sim.schedule_caller("mail", at(60), talk_s=300)
    sim.advance_to(at(120))
    mail = next(c for c in sim.calls if c.queue == "mail")
    assert (mail.agent, mail.wait_s) == ("m", 0.0)


def test_fifo_inside_a_queue():
    sim = tiny({"x": {"a": 0}})
    for i in range(4):
        sim.schedule_caller("a", at(i), talk_s=20)
    sim.advance_to(at(500))
    answers = [c.joined + timedelta(seconds=c.wait_s) for c in sim.calls]
    assert answers == sorted(answers)


def test_missed_ring_goes_to_another_agent_and_counts():
    sim = tiny({"x": {"a": 0}, "y": {"a": 0}})
    sim.scenario = replace(sim.scenario, miss_p=1.0)  # every ring goes unanswered
    sim.schedule_caller("a", at(0), patience_s=40)
    events = sim.advance_to(at(100))
    missed = [e for e in events if e.type == "agent_missed"]
    assert [e.agent for e in missed][:2] == ["x", "y"] and missed[0].ring_s == 15.0
    assert sim.calls[0].outcome == "abandoned" and sim.calls[0].missed == len(missed)


# --- actions -----------------------------------------------------------------------------------------------


def test_moved_agent_takes_the_new_queues_calls():
    sim = tiny({"x": {"a": 0}, "y": {"b": 0}})
    sim.pause_agent("y", "training")
    sim.schedule_caller("b", at(10))
    sim.advance_to(at(60))
    assert sim.calls[0].outcome is None and sim.waiting("b") == 1  # nobody free for b
    sim.move_agent("x", "b")
    events = sim.advance_to(at(120))
    assert events[0].type == "member_added" and events[0].ts == at(60)
    assert (events[0].agent, events[0].queue, events[0].penalty) == ("x", "b", 0)
    assert answered_by(sim) == [("b", "x")]
    sim.move_agent("x", "b", 3)
    sim.remove_member("x", "a")
    kinds = [(e.type, getattr(e, "queue", None)) for e in sim.advance_to(at(121))]
    assert kinds == [("member_penalty", "b"), ("member_removed", "a")]
    assert sim.skills("x") == {"b": 3}
    sim.schedule_caller("a", at(200), patience_s=30)
    sim.advance_to(at(400))
    assert sim.calls[1].outcome == "abandoned"  # x left a: nobody serves it


def test_paused_agent_takes_no_calls_until_unpaused():
    sim = tiny({"x": {"a": 0}, "y": {"a": 0}})
    sim.pause_agent("x", "lunch")
    first = sim.advance_to(at(0))
    assert [(e.agent, e.state, e.reason) for e in first if e.type == "agent_state"][-1] == ("x", "paused", "lunch")
    for i in range(3):
        sim.schedule_caller("a", at(10 + 100 * i), talk_s=20)
    sim.advance_to(at(400))
    assert [agent for _, agent in answered_by(sim)] == ["y", "y", "y"]
    sim.unpause_agent("x")
    sim.schedule_caller("a", at(500), talk_s=60)
    sim.schedule_caller("a", at(501), talk_s=60)
    sim.advance_to(at(700))
    assert {c.agent for c in sim.calls[-2:]} == {"x", "y"}  # back at work


def test_pause_of_a_busy_agent_is_held_at_once_and_starts_when_the_call_ends():
    sim = tiny({"x": {"a": 0}}, wrapup_s=10)
    sim.schedule_caller("a", at(0), talk_s=60)
    sim.advance_to(at(30))
    assert sim.agent_state("x") == "on_call" and not sim.is_paused("x")
    sim.pause_agent("x", "break")
    # the PBX holds the pause at once (app_queue): said again at 30, still on the call
    assert sim.is_paused("x") and sim.pause_reason("x") == "break" and sim.agent_state("x") == "on_call"
    events = sim.advance_to(at(200))
    states = [(e.state, e.pause_pending, e.reason, e.ts) for e in events if e.type == "agent_state"]
    (done,) = [e for e in events if e.type == "call_completed"]
    end = done.ts
    assert states == [
        ("on_call", True, "break", at(30)),
        ("wrap_up", True, "break", end),
        ("paused", False, "break", end + timedelta(seconds=10)),  # paused from the end of wrap-up
    ]
    assert sim.agent_state("x") == "paused"


def test_an_unpause_while_busy_lifts_the_held_pause_and_the_agent_is_free_after_the_call():
    sim = tiny({"x": {"a": 0}}, wrapup_s=10)
    sim.schedule_caller("a", at(0), talk_s=60)
    sim.advance_to(at(30))
    sim.pause_agent("x", "break")
    sim.advance_to(at(40))
    sim.unpause_agent("x")
    assert not sim.is_paused("x") and sim.pause_reason("x") is None
    events = sim.advance_to(at(200))
    states = [(e.state, e.pause_pending) for e in events if e.type == "agent_state"]
    assert states == [("on_call", False), ("wrap_up", False), ("available", False)]


def test_unknown_agent_or_queue_is_refused():
    sim = tiny({"x": {"a": 0}})
    with pytest.raises(ValueError):
        sim.move_agent("nobody", "a")
    with pytest.raises(ValueError):
        sim.move_agent("x", "nowhere")


# --- scenarios ---------------------------------------------------------------------------------------------


def test_spike_raises_that_queues_arrivals_in_its_window(example, day):
    normal, _ = day
    spike = SimCentre(example, overload_spike("support", 10 * 3600, 3.0, 3600), 1, DAY)
    spike.advance_to(DAY + timedelta(hours=24))
    lo, hi = DAY + timedelta(hours=10), DAY + timedelta(hours=11)

    def joins(sim, queue, inside=True):
        return sum(c.queue == queue and (lo <= c.joined < hi) == inside for c in sim.calls)

    assert joins(spike, "support") > 2 * joins(normal, "support")
    assert joins(spike, "support", inside=False) == pytest.approx(joins(normal, "support", inside=False), rel=0.15)
    assert joins(spike, "tech") == joins(normal, "tech")  # other queues' arrivals are untouched
    hit = [c for c in spike.calls if c.queue == "support" and lo <= c.joined < hi and c.outcome]
    abandoned = sum(c.outcome == "abandoned" for c in hit)
    answered_fast = sum(c.outcome == "answered" and c.wait_s <= 20 for c in hit)
    assert abandoned > 40 and answered_fast / len(hit) < 0.3  # clearly breaching


def test_closed_queues_get_no_callers(day):
    sim, _ = day
    billing = [c.joined.astimezone(sim.config.centre.tz).hour for c in sim.calls if c.queue == "billing"]
    assert billing and min(billing) >= 9 and max(billing) < 17


def test_demo_starts_busy_with_a_spike_in_the_first_minute():
    config = load_config(ROOT / "wallboard" / "data" / "demo.toml")
    assert all(not q.hours for q in config.queues)
    scenario = scenario_by_name("demo", [q.name for q in config.queues])
    assert scenario.spikes[0].queue == "support" and scenario.spikes[0].at_offset_s < 60
    night = datetime(2026, 11, 28, 1, 30, tzinfo=timezone.utc)  # Saturday, 03:30 in Jerusalem
    sim = SimCentre(config, scenario, 1, night)
    sim.advance_to(night + timedelta(minutes=15))
    support = sum(c.queue == "support" for c in sim.calls)
    others = Counter(c.queue for c in sim.calls if c.queue != "support")
    written = {q.name for q in config.queues if q.channel != "voice"}
    assert written == {"chat", "email"} and len(others) == 5  # 3 more voice queues, chat, e-mail
    assert support > 40 and all(n > 5 for q, n in others.items() if q not in written)
    assert all(others[q] > 0 for q in written)  # chats and e-mails from the start too


def test_the_demo_writes_at_the_chat_and_e_mail_rates_of_its_written_queues():
    """The demo keeps the written queues' own profiles (a chat platform's rate and curve), placed like the
    voice day at 10:00: expected arrivals = the integral of rate x curve over the hour, from the curve itself."""
    from wallboard.sim.scenarios import shape_of

    config = load_config(ROOT / "wallboard" / "data" / "demo.toml")
    scenario = scenario_by_name("demo", [q.name for q in config.queues])
    start = datetime(2026, 11, 28, 1, 30, tzinfo=timezone.utc)
    sim = SimCentre(config, scenario, 1, start)
    sim.advance_to(start + timedelta(hours=1))
    got = Counter(c.queue for c in sim.calls)
    for queue, per_hour, kind in (("chat", 150.0, "chat"), ("email", 60.0, "email")):
        expected = sum(per_hour * shape_of(kind)(10.0 + (m + 0.5) / 60) / 60 for m in range(60))
        assert abs(got[queue] - expected) < 4 * expected**0.5, (queue, got[queue], expected)


def test_scenario_names():
    assert scenario_by_name("normal").name == "normal"
    assert scenario_by_name("spike", ["tech", "sales"]).spikes[0].queue == "tech"
    with pytest.raises(ValueError, match="choose one of"):
        scenario_by_name("storm")


# --- the feed ----------------------------------------------------------------------------------------------


def test_feed_read_runs_the_requested_stretch(example):
    feed = SimFeed(None, example, scenario="spike", seed="4", start="2026-11-23T00:00:00+02:00", hours=3)
    events = list(feed.read())
    assert events[0].ts == DAY and events[-1].ts <= DAY + timedelta(hours=3)
    assert feed.centre is not None and feed.centre.now == DAY + timedelta(hours=3)
    again = list(SimFeed(None, example, scenario="spike", seed=4, start=DAY, hours=3).read())
    assert [e.id for e in again] == [e.id for e in events]
    with pytest.raises(ValueError, match="time zone"):
        SimFeed(None, example, start="2026-11-23T00:00:00")
    with pytest.raises(TypeError, match="unknown option"):
        SimFeed(None, example, start=DAY, hourz=3)


async def test_feed_follows_an_injected_clock_with_speed(example):
    clock = ManualClock(DAY)
    feed = SimFeed(None, example, scenario="demo", seed=1, speed=60, step_s=0)
    stream = feed.follow(clock)
    logins = sum(len(a.skills) for a in example.agents) + len(example.agents)
    start = [await anext(stream) for _ in range(logins)]
    assert {e.ts for e in start} == {DAY} and feed.centre is not None
    clock.advance(10)  # ten seconds of clock, ten minutes of centre at 60x
    later = await anext(stream)
    assert later.ts > DAY and feed.centre.now == DAY + timedelta(minutes=10)
    assert len(feed.centre.calls) > 20
    feed.centre.move_agent("1002", "support")  # actions land on the running centre, in its stream
    for _ in range(10_000):
        e = await anext(stream)
        if e.type == "member_added":
            break
    assert (e.agent, e.queue, e.ts) == ("1002", "support", DAY + timedelta(minutes=10))
    await stream.aclose()
