"""Channels and capacity attacked: a written conversation's close that does not name the agent who took it."""

from __future__ import annotations

import itertools

from wallboard.events import AgentStateChanged, CallCompleted, CallerAnswered, CallerJoined

from .conftest import at

_ids = itertools.count()


def ev(cls, t, **kw):
    return cls(id=f"cha{next(_ids)}", ts=at(t), source="test", **kw)


async def test_a_close_without_the_answering_agent_still_frees_that_agent(make_engine):
    # A chat platform's close when the customer leaves often names no agent; one after a hand-over names the
    # last agent, not the one whose slot the answer took. Either way the conversation is the answering agent's.
    eng = await make_engine(
        queues=[{"name": "web", "channel": "chat"}],
        agents=[{"id": "a1", "skills": {"web": 0}, "capacity": {"chat": 2}}, {"id": "a2", "skills": {"web": 0}}],
    )
    q = {"queue": "web", "channel": "chat"}
    events = [
        ev(AgentStateChanged, 0, agent="a1", state="available"),
        ev(AgentStateChanged, 0, agent="a2", state="available"),
        ev(CallerJoined, 10, call_id="c1", **q),
        ev(CallerJoined, 20, call_id="c2", **q),
        ev(CallerAnswered, 30, call_id="c1", agent="a1", **q),
        ev(CallerAnswered, 50, call_id="c2", agent="a1", **q),
        ev(CallCompleted, 160, call_id="c1", talk_s=130, **q),  # the customer closed: no agent
        ev(CallCompleted, 200, call_id="c2", agent="a2", talk_s=150, **q),  # closed naming a2
    ]
    await eng.apply(events)
    await eng.apply(events)  # re-sent: nothing moves
    snap = await eng.build_snapshot(at(300))
    a1, a2 = snap.agents["a1"], snap.agents["a2"]
    # by hand: a1 holds nothing open and was busy 30 -> 200 once (170 s); a2 never took a conversation
    assert (a1.conversations, a1.conversation_s) == ({}, 170)
    assert (a2.conversations, a2.conversation_s) == ({}, 0)
    ac = snap.queues["web"].agent_counts
    assert (ac.slots, ac.in_use, ac.free) == (2 + 3, 0, 2)


async def test_the_expected_wait_counts_each_agent_s_own_free_slots(make_engine):
    # a1 may hold 1 chat but holds 3 (its capacity lowered while they were open, or the platform over-assigned);
    # a2 may hold 3 and holds none. One customer waits: a2 takes them at once, so the expected wait is 0. Summed
    # over the queue (4 slots, 3 in use) only 1 slot looked free and the wait was 1 x AHT / 4.
    eng = await make_engine(
        queues=[{"name": "web", "channel": "chat"}],
        agents=[{"id": "a1", "skills": {"web": 0}, "capacity": {"chat": 1}}, {"id": "a2", "skills": {"web": 0}}],
    )
    q = {"queue": "web", "channel": "chat"}
    events = [ev(AgentStateChanged, 0, agent=a, state="available") for a in ("a1", "a2")]
    events += [
        ev(CallerJoined, 5, call_id="c0", **q),
        ev(CallerAnswered, 10, call_id="c0", agent="a2", **q),
        ev(CallCompleted, 110, call_id="c0", agent="a2", talk_s=100, **q),  # AHT 100 s
    ]
    for n in (1, 2, 3):
        events += [
            ev(CallerJoined, 100 + n, call_id=f"o{n}", **q),
            ev(CallerAnswered, 120 + n, call_id=f"o{n}", agent="a1", **q),
        ]
    events.append(ev(CallerJoined, 200, call_id="w1", **q))
    await eng.apply(events)
    web = (await eng.build_snapshot(at(210))).queues["web"]
    ac = web.agent_counts
    assert (ac.slots, ac.in_use, ac.free, web.waiting, web.aht_s) == (1 + 3, 3, 1, 1, 100)
    assert web.ewt_s == 0
