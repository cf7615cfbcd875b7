"""mod_callcenter events -> our events (wallboard.esl.mapper), on the sample events of the official
documentation.

Samples: FreeSWITCH mod_callcenter documentation, "Events" section
(https://developer.signalwire.com/freeswitch/FreeSWITCH-Explained/Modules/mod_callcenter_1049389): the
agent-status-change, agent-state-change, agent-offering, bridge-agent-start, bridge-agent-end,
bridge-agent-fail, member-queue-start and member-queue-end (Terminated and Cancel/TIMEOUT) examples, header
for header. Two changes, both said where made: the documentation's times are toy epochs (9000, 10000,
10009...) that the event model refuses as before 1990, so every ``CC-*-Time`` is shifted by ``SHIFT`` (the
differences, which are what we count, are the documentation's); and the documentation notes that the
channel data, ``Event-Date-Timestamp`` included, is present on the call events without printing it, so the
samples get one. Headers the documentation does not show (``Answer-State``, the other cancel reasons, the
fail's Called/Aborted times) are as mod_callcenter.c writes them (signalwire/freeswitch, commit cc93a68).
Expected values are worked out by hand in each test."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from wallboard.config import load_config
from wallboard.esl.client import EslEvent
from wallboard.esl.mapper import EslMapper
from wallboard.events import AgentStateChanged
from wallboard.feed import DeadLetter

SHIFT = 1_790_000_000  # documentation time 9000 -> 1790009000 (2026-09-21)
AT = datetime.fromtimestamp(SHIFT + 10_009, timezone.utc)


def cfg(agents=None):
    return load_config(
        None,
        queues=[{"name": "support", "wrapup_s": 0}, {"name": "sales", "wrapup_s": 15}],
        agents=agents or [{"id": "1000", "skills": {"support": 0}}, {"id": "AgentNameHere", "skills": {"support": 0}}],
    )


def ev(action: str, t: float | None = None, **headers: str) -> EslEvent:
    base = {"Event-Name": "CUSTOM", "Event-Subclass": "callcenter::info", "CC-Action": action}
    if t is not None:
        base["Event-Date-Timestamp"] = str(int(t * 1_000_000))
    return EslEvent({**base, **{k.replace("_", "-"): v for k, v in headers.items()}})


def doc_times(*names_and_values: tuple[str, int]) -> dict[str, str]:
    return {name: str(SHIFT + v) for name, v in names_and_values}


MEMBER = {
    "CC-Queue": "support@default",
    "CC-Member-UUID": "453324f8-3424-4322-4242362fd23d",
    "CC-Member-Session-UUID": "c6360976-231c-43c6-bda7-7ac4c7d1c125",
    "CC-Member-CID-Name": "Their Name",
    "CC-Member-CID-Number": "555-555-5555",
}


def one(out, kind):
    got = [e for e in out if type(e).__name__ == kind]
    assert len(got) == 1, out
    return got[0]


def test_member_queue_start_is_a_join_in_the_configured_queue():
    m = EslMapper(cfg())
    out = m.map(
        ev(
            "member-queue-start",
            SHIFT + 9000,
            **{
                "CC-Queue": "support@default",
                "CC-Member-UUID": "453324f8-3424-4322-4242362fd23d",
                "CC-Member-Session-UUID": "b77c49c2-a732-11df-9438-e7d9456f8886",
                "CC-Member-CID-Name": "CHOUINARD MO",
                "CC-Member-CID-Number": "4385551212",
            },
        )
    )
    j = one(out, "CallerJoined")
    assert (j.queue, j.call_id, j.caller) == ("support", "b77c49c2-a732-11df-9438-e7d9456f8886", "4385551212")
    assert j.ts.timestamp() == SHIFT + 9000


def test_bridge_agent_start_answers_with_the_events_own_wait_and_ring():
    m = EslMapper(cfg())
    out = m.map(
        ev(
            "bridge-agent-start",
            SHIFT + 10_009.25,
            **MEMBER,
            **{
                "CC-Agent": "AgentNameHere",
                "CC-Agent-System": "single_box",
                "CC-Agent-UUID": "7acfecd3-ab50-470b-8875-d37aba0429ba",
            },
            **doc_times(
                ("CC-Agent-Called-Time", 10000), ("CC-Agent-Answered-Time", 10009), ("CC-Member-Joined-Time", 9000)
            ),
        ),
        received=datetime(2030, 1, 1, tzinfo=timezone.utc),
    )
    a = one(out, "CallerAnswered")
    assert a.wait_s == 1009.0  # answered 10009 - joined 9000, not our clock
    assert a.ring_s == 9.0  # answered 10009 - called 10000
    assert a.agent == "AgentNameHere" and a.queue == "support"
    assert a.ts.timestamp() == pytest.approx(SHIFT + 10_009.25)  # Event-Date-Timestamp, not the received time
    s = one(out, "AgentStateChanged")
    assert (s.state, s.call_id) == ("on_call", MEMBER["CC-Member-Session-UUID"])


def test_bridge_agent_end_completes_with_talk_from_its_times_then_wrap_up_runs_out():
    m = EslMapper(cfg())
    sales = {**MEMBER, "CC-Queue": "sales@default"}
    m.map(
        ev(
            "bridge-agent-start",
            SHIFT + 10_009,
            **sales,
            **{"CC-Agent": "AgentNameHere"},
            **doc_times(("CC-Agent-Answered-Time", 10009), ("CC-Member-Joined-Time", 9000)),
        )
    )
    out = m.map(
        ev(
            "bridge-agent-end",
            SHIFT + 10_500,
            **sales,
            **{"CC-Agent": "AgentNameHere"},
            **doc_times(
                ("CC-Agent-Called-Time", 10000),
                ("CC-Agent-Answered-Time", 10009),
                ("CC-Bridge-Terminated-Time", 10500),
                ("CC-Member-Joined-Time", 9000),
            ),
        )
    )
    assert one(out, "CallCompleted").talk_s == 491.0  # 10500 - 10009
    assert one(out, "AgentStateChanged").state == "wrap_up"  # sales has wrapup_s 15 (no agent list read yet)
    # mod_callcenter puts the agent back to Waiting at once; inside the wrap-up window that is still wrap-up
    assert (
        m.map(ev("agent-state-change", SHIFT + 10_500.1, **{"CC-Agent": "AgentNameHere", "CC-Agent-State": "Waiting"}))
        == []
    )
    assert m.next_due() == SHIFT + 10_515
    done = m.due(SHIFT + 10_515)
    assert one(done, "WrapupCompleted").wrap_s == 15.0
    assert one(done, "AgentStateChanged").state == "available"


def test_member_queue_end_terminated_adds_nothing_after_its_bridge_events():
    m = EslMapper(cfg())
    times = doc_times(
        ("CC-Agent-Called-Time", 10000),
        ("CC-Agent-Answered-Time", 10009),
        ("CC-Member-Joined-Time", 9000),
        ("CC-Member-Leaving-Time", 10100),
    )
    m.map(ev("bridge-agent-start", SHIFT + 10_009, **MEMBER, **{"CC-Agent": "AgentNameHere"}, **times))
    m.map(
        ev(
            "bridge-agent-end",
            SHIFT + 10_100,
            **MEMBER,
            **{"CC-Agent": "AgentNameHere"},
            **times,
            **doc_times(("CC-Bridge-Terminated-Time", 10100)),
        )
    )
    out = m.map(
        ev(
            "member-queue-end",
            SHIFT + 10_100,
            **MEMBER,
            **{"CC-Cause": "Terminated", "CC-Hangup-Cause": "NORMAL_CLEARING"},
            **times,
        )
    )
    assert out == []


def test_member_queue_end_terminated_fills_in_a_lost_answer_and_talk():
    m = EslMapper(cfg())
    out = m.map(
        ev(
            "member-queue-end",
            SHIFT + 10_100,
            **MEMBER,
            **{"CC-Cause": "Terminated", "CC-Agent": "1000@default"},
            **doc_times(
                ("CC-Agent-Called-Time", 10000),
                ("CC-Agent-Answered-Time", 10009),
                ("CC-Member-Joined-Time", 9000),
                ("CC-Member-Leaving-Time", 10100),
            ),
        )
    )
    a, c = one(out, "CallerAnswered"), one(out, "CallCompleted")
    assert (a.wait_s, a.ts.timestamp(), a.agent) == (1009.0, SHIFT + 10_009, "1000")
    assert c.talk_s == 91.0  # leaving 10100 - answered 10009


@pytest.mark.parametrize(
    "reason, answer_state, kind, why",
    [
        ("TIMEOUT", "answered", "CallerOverflowed", "timeout"),
        ("NO_AGENT_TIMEOUT", "answered", "CallerOverflowed", "empty"),
        ("EXIT_WITH_KEY", "answered", "CallerOverflowed", "key"),
        ("BREAK_OUT", "hangup", "CallerAbandoned", None),
        ("BREAK_OUT", "answered", "CallerOverflowed", "withdrawn"),
        ("NONE", "hangup", "CallerAbandoned", None),
    ],
)
def test_member_queue_end_cancel_by_reason(reason, answer_state, kind, why):
    m = EslMapper(cfg())
    out = m.map(
        ev(
            "member-queue-end",
            SHIFT + 10_050,
            **{
                "CC-Queue": "support@default",
                "CC-Cause": "Cancel",
                "CC-Cancel-Reason": reason,
                "CC-Member-UUID": "453324f8-3424-4322-4242362fd23d",
                "CC-Member-Session-UUID": "e260ffd0-a731-11df-9341",
                "CC-Member-CID-Name": "Marc O Robinson",
                "CC-Member-CID-Number": "5145551212",
                "Answer-State": answer_state,
            },
            **doc_times(("CC-Member-Joined-Time", 9000), ("CC-Member-Leaving-Time", 10050)),
        )
    )
    x = one(out, kind)
    assert x.wait_s == 1050.0  # leaving 10050 - joined 9000
    assert getattr(x, "reason", None) == why


@pytest.mark.parametrize(
    "cause, missed", [("NO_ANSWER", True), ("USER_BUSY", True), ("LOSE_RACE", False), ("ORIGINATOR_CANCEL", False)]
)
def test_bridge_agent_fail_is_a_missed_ring_unless_the_ring_was_lost(cause, missed):
    m = EslMapper(cfg())
    out = m.map(
        ev(
            "bridge-agent-fail",
            SHIFT + 10_030,
            **MEMBER,
            **{"CC-Hangup-Cause": cause, "CC-Agent": "AgentNameHere"},
            **doc_times(
                ("CC-Agent-Called-Time", 10000), ("CC-Agent-Aborted-Time", 10030), ("CC-Member-Joined-Time", 9000)
            ),
        )
    )
    got = [e for e in out if type(e).__name__ == "AgentMissed"]
    assert bool(got) == missed
    if missed:
        assert got[0].ring_s == 30.0 and got[0].agent == "AgentNameHere"


def test_agent_status_and_state_changes():
    m = EslMapper(cfg())
    t = SHIFT + 100

    def state(action, **h):
        out = m.map(ev(action, t, **{"CC-Agent": "1000@default", **h}))
        return [(e.agent, e.state, e.reason) for e in out]

    assert state("agent-status-change", **{"CC-Agent-Status": "Available"}) == [("1000", "available", None)]
    assert state("agent-state-change", **{"CC-Agent-State": "Receiving"}) == [("1000", "ringing", None)]
    assert state("agent-state-change", **{"CC-Agent-State": "Waiting"}) == [("1000", "available", None)]
    assert state("agent-status-change", **{"CC-Agent-Status": "On Break"}) == [("1000", "paused", "On Break")]
    assert state("agent-status-change", **{"CC-Agent-Status": "Available (On Demand)"}) == [("1000", "available", None)]
    assert state("agent-state-change", **{"CC-Agent-State": "Idle"}) == [("1000", "wrap_up", None)]
    assert state("agent-status-change", **{"CC-Agent-Status": "Logged Out"}) == [("1000", "logged_out", None)]


def test_queue_and_agent_names_map_to_the_configuration():
    m = EslMapper(cfg(agents=[{"id": "gefen", "interface": "1001@pbx.example.com"}]))
    assert m.queue_of("support@default") == "support"
    assert m.queue_of("support") == "support"
    assert m.queue_of("5000@tenant-b") == "5000"  # not configured: its name before the domain
    assert m.agent_of("1001@pbx.example.com") == "gefen"  # by the configured interface
    assert m.agent_of("1002@default") == "1002"


@pytest.mark.parametrize(
    "action, headers, reason",
    [
        ("member-queue-start", {"CC-Queue": "support@default"}, "member-queue-start: missing CC-Member-Session-UUID"),
        (
            "bridge-agent-start",
            {**MEMBER, "CC-Agent": "1000", "CC-Member-Joined-Time": "soon", "CC-Agent-Answered-Time": str(SHIFT)},
            "CC-Member-Joined-Time is not epoch seconds",
        ),
        (
            "bridge-agent-start",
            {
                **MEMBER,
                "CC-Agent": "1000",
                "CC-Member-Joined-Time": str(SHIFT + 10),
                "CC-Agent-Answered-Time": str(SHIFT),
            },
            "a duration of -10 s",
        ),
        (
            "member-queue-end",
            {
                **MEMBER,
                "CC-Cause": "Exploded",
                "CC-Member-Joined-Time": str(SHIFT),
                "CC-Member-Leaving-Time": str(SHIFT),
            },
            "unknown CC-Cause 'Exploded'",
        ),
        (
            "member-queue-end",
            {
                **MEMBER,
                "CC-Cause": "Cancel",
                "CC-Cancel-Reason": "SOLAR_FLARE",
                "CC-Member-Joined-Time": str(SHIFT),
                "CC-Member-Leaving-Time": str(SHIFT),
            },
            "unknown CC-Cancel-Reason",
        ),
        ("agent-status-change", {"CC-Agent": "1000"}, "missing CC-Agent-Status"),
        ("agent-state-change", {"CC-Agent": "10{00", "CC-Agent-State": "Waiting"}, "hash tag"),
        ("member-queue-start", {**MEMBER, "CC-Member-Joined-Time": str(SHIFT)}, "Event-Date-Timestamp"),
    ],
)
def test_bad_events_are_dead_letters_with_their_reason(action, headers, reason):
    m = EslMapper(cfg())
    t = None if reason == "Event-Date-Timestamp" else SHIFT + 50
    e = ev(action, t, **headers)
    if t is None:
        e.fields["event-date-timestamp"] = "12x"
    out = m.map(e)
    assert len(out) == 1 and isinstance(out[0], DeadLetter), out
    assert reason in out[0].reason


def test_unknown_action_is_reported_once_and_known_chatter_is_ignored():
    m = EslMapper(cfg())
    first = m.map(ev("agent-teleported", SHIFT + 1, **{"CC-Agent": "1000"}))
    assert len(first) == 1 and "unknown CC-Action 'agent-teleported'" in first[0].reason
    assert m.map(ev("agent-teleported", SHIFT + 2, **{"CC-Agent": "1000"})) == []
    assert (
        m.map(
            ev(
                "members-count",
                SHIFT + 3,
                **{"CC-Queue": "support@default", "CC-Count": "1", "CC-Selection": "Single-Queue"},
            )
        )
        == []
    )
    assert m.map(EslEvent({"Event-Name": "HEARTBEAT", "Up-Time": "0 years"})) == []


def test_a_dead_letter_leaves_the_mapper_as_it_was():
    m = EslMapper(cfg())
    bad = ev(
        "bridge-agent-start",
        SHIFT + 10,
        **MEMBER,
        **{"CC-Agent": "1000", "CC-Member-Joined-Time": "x", "CC-Agent-Answered-Time": str(SHIFT)},
    )
    assert isinstance(m.map(bad)[0], DeadLetter)
    assert (
        m.map(ev("agent-state-change", SHIFT + 11, **{"CC-Agent": "1000", "CC-Agent-State": "Waiting"}))[0].state
        == "available"
    )  # not on_call: the refused bridge changed nothing


def test_resync_from_the_switch_tables():
    """Tables as ``callcenter_config`` prints them (columns of mod_callcenter.c's members/agents/tiers)."""
    m = EslMapper(cfg())
    now = datetime.fromtimestamp(SHIFT + 500, timezone.utc)
    members = {
        "support@default": [
            {
                "queue": "support@default",
                "uuid": "m1",
                "session_uuid": "call-1",
                "cid_number": "0501234567",
                "joined_epoch": str(SHIFT + 440),
                "bridge_epoch": "0",
                "serving_agent": "",
                "state": "Waiting",
            },
            {
                "queue": "support@default",
                "uuid": "m2",
                "session_uuid": "call-2",
                "cid_number": "0507654321",
                "joined_epoch": str(SHIFT + 400),
                "bridge_epoch": str(SHIFT + 430),
                "serving_agent": "1000@default",
                "state": "Answered",
            },
            {
                "queue": "support@default",
                "uuid": "m3",
                "session_uuid": "",
                "joined_epoch": str(SHIFT + 100),
                "state": "Abandoned",
            },
        ]
    }
    tiers = [{"queue": "support@default", "agent": "1000@default", "state": "Ready", "level": "2", "position": "1"}]
    agents = [
        {
            "name": "1000@default",
            "status": "Available",
            "state": "Waiting",
            "wrap_up_time": "30",
            "last_bridge_end": str(SHIFT + 490),
        }
    ]
    out = m.resync(["support@default"], members, tiers, agents, now, "r")
    j = one(out, "CallerJoined")
    assert (j.call_id, j.ts.timestamp()) == ("call-1", SHIFT + 440)  # at its own joined_epoch
    a = one(out, "CallerAnswered")
    assert (a.call_id, a.wait_s, a.agent) == ("call-2", 30.0, "1000")  # bridged while we were away
    assert one(out, "MemberAdded").penalty == 2  # the tier level is the penalty
    assert one(out, "WaitingResync").call_ids == ["call-1"]
    assert one(out, "AgentStateChanged").state == "wrap_up"  # 490 + 30 > 500: still in wrap-up
    assert m.next_due() == SHIFT + 520
    # the tier goes: a later poll of the tier table says so
    gone = m.tiers([], now, "p", covered={"support"})
    assert [type(e).__name__ for e in gone][:1] == ["MemberRemoved"]


def test_on_break_while_in_a_queue_call_is_pending_until_the_wrap_up_ends():
    """mod_callcenter changes an agent's status at once (agent-status-change), call or not; it offers calls only
    to Available agents, so an agent put On Break mid-call finishes the call and its wrap-up, then is paused."""
    m = EslMapper(cfg())
    sales = {**MEMBER, "CC-Queue": "sales@default", "CC-Agent": "1000@default"}
    agent = {"CC-Agent": "1000@default"}
    m.map(ev("agent-status-change", SHIFT + 1, **agent, **{"CC-Agent-Status": "Available"}))
    m.map(ev("agent-state-change", SHIFT + 5, **agent, **{"CC-Agent-State": "In a queue call"}))
    m.map(
        ev(
            "bridge-agent-start",
            SHIFT + 5,
            **sales,
            **doc_times(("CC-Agent-Answered-Time", 5), ("CC-Member-Joined-Time", 0)),
        )
    )
    out = m.map(ev("agent-status-change", SHIFT + 20, **agent, **{"CC-Agent-Status": "On Break"}))
    assert [(e.state, e.reason, e.pause_pending) for e in out] == [("on_call", "On Break", True)]
    out = m.map(
        ev(
            "bridge-agent-end",
            SHIFT + 60,
            **sales,
            **doc_times(("CC-Agent-Answered-Time", 5), ("CC-Bridge-Terminated-Time", 60), ("CC-Member-Joined-Time", 0)),
        )
    )
    out += m.map(ev("agent-state-change", SHIFT + 60, **agent, **{"CC-Agent-State": "Waiting"}))
    states = [(e.state, e.pause_pending) for e in out if isinstance(e, AgentStateChanged)]
    assert states == [("wrap_up", True)]  # sales: wrap-up 15 s, the break pending
    done = m.due(SHIFT + 75)
    assert [
        (e.state, e.reason, e.pause_pending, e.ts.timestamp()) for e in done if isinstance(e, AgentStateChanged)
    ] == [("paused", "On Break", False, SHIFT + 75)]
