"""The AMI mapper on hand-written event sequences in Asterisk's real orders (docs/PROTOCOLS.md): every way out
of a queue, missed vs lost rings, dials, wrap-up inference, pauses, and the QueueStatus resync.

Events carry a ``Timestamp`` of T + the given seconds, so every expected time and wait is simple arithmetic.
"""

from __future__ import annotations

from datetime import datetime, timezone

from wallboard.ami.mapper import AmiMapper, device_of, epoch_of
from wallboard.ami.protocol import Message
from wallboard.config import AgentConfig, QueueConfig, WallboardConfig
from wallboard.events import (
    AgentMissed,
    AgentStateChanged,
    CallCompleted,
    CallerAbandoned,
    CallerAnswered,
    CallerJoined,
    CallerOverflowed,
    DialAttempt,
    MemberAdded,
    MemberRemoved,
    OutboundCall,
    WaitingResync,
    WrapupCompleted,
)
from wallboard.feed import DeadLetter

T = 1_700_000_000.0
CALL = "1700000000.11"
CONFIG = WallboardConfig(
    queues=[QueueConfig(name="Q1"), QueueConfig(name="Q2"), QueueConfig(name="W", wrapup_s=10)],
    agents=[AgentConfig(id="1001", interface="PJSIP/1001"), AgentConfig(id="1002", interface="PJSIP/1002")],
)


def ev(name: str, t: float, **fields: object) -> Message:
    f = {"event": name, "timestamp": f"{T + t:.6f}"}
    f.update({k.lower(): str(v) for k, v in fields.items()})
    return Message(f)


def dt(t: float) -> datetime:
    return datetime.fromtimestamp(T + t, timezone.utc)


def run(mapper: AmiMapper, *msgs: Message) -> list:
    out: list = []
    for i, m in enumerate(msgs):
        out += mapper.map(m, None, str(i))
    return out


def calls(out: list) -> list:
    return [e for e in out if not isinstance(e, AgentStateChanged)]


def states(out: list, agent: str) -> list[str]:
    return [e.state for e in out if isinstance(e, AgentStateChanged) and e.agent == agent]


def join(t: float, queue: str = "Q1", call: str = CALL) -> Message:
    return ev("QueueCallerJoin", t, Queue=queue, Uniqueid=call, CallerIDNum="0501234567", Position=1, Count=1)


def abandon(t: float, hold: int, queue: str = "Q1", call: str = CALL) -> Message:
    return ev("QueueCallerAbandon", t, Queue=queue, Uniqueid=call, Position=1, OriginalPosition=1, HoldTime=hold)


def leave(t: float, queue: str = "Q1", call: str = CALL) -> Message:
    return ev("QueueCallerLeave", t, Queue=queue, Uniqueid=call, Position=1, Count=0)


def queuestatus(t: float, value: str, call: str = CALL) -> Message:
    return ev("VarSet", t, Uniqueid=call, Variable="QUEUESTATUS", Value=value)


def connect(t: float, hold: int, ring: int, iface: str = "PJSIP/1001", queue: str = "Q1") -> Message:
    return ev(
        "AgentConnect",
        t,
        Queue=queue,
        Uniqueid=CALL,
        Interface=iface,
        MemberName=iface,
        HoldTime=hold,
        RingTime=ring,
        DestUniqueid="1700000001.12",
    )


def dialend_answer(t: float, iface: str = "PJSIP/1001") -> Message:
    return ev(
        "DialEnd",
        t,
        Uniqueid=CALL,
        Channel="PJSIP/trunk-00000001",
        DestChannel=f"{iface}-00000002",
        DestUniqueid="1700000001.12",
        DialStatus="ANSWER",
    )


# -- every way out of a queue --------------------------------------------------------------------------------


def test_answer_leave_then_agentconnect():
    m = AmiMapper(CONFIG)
    out = run(m, join(0), dialend_answer(11.9), leave(12), connect(12.01, hold=12, ring=3))
    joined, answered = calls(out)
    assert isinstance(joined, CallerJoined) and joined.ts == dt(0) and joined.caller == "0501234567"
    assert isinstance(answered, CallerAnswered)
    assert (answered.agent, answered.wait_s, answered.ring_s, answered.ts) == ("1001", 12.0, 3.0, dt(12.01))
    assert states(out, "1001") == ["on_call"]
    assert m.next_due() is None  # nothing left pending


def test_answer_late_after_member_gosub_is_still_an_answer():
    # DialEnd ANSWER then the leave: the member gosub / AGI may delay AgentConnect past settle_s
    m = AmiMapper(CONFIG, settle_s=3, connect_wait_s=30)
    out = run(m, join(0), dialend_answer(11.9), leave(12))
    assert m.due(T + 20) == []
    out = run(m, connect(25, hold=25, ring=3))
    assert [type(e) for e in calls(out)] == [CallerAnswered] and calls(out)[0].wait_s == 25.0


def test_agent_dump_cancels_the_coming_answer():
    # the member answered, then hung up during the announcement (AgentDump): the caller stays queued and
    # later leaves by a key press; that leave must not wait for an AgentConnect that will never come
    m = AmiMapper(CONFIG, settle_s=3, connect_wait_s=30)
    run(
        m,
        join(0),
        called(2, "PJSIP/1001"),
        dialend_answer(5),
        ev("AgentDump", 6, Queue="Q1", Uniqueid=CALL, Interface="PJSIP/1001", MemberName="PJSIP/1001"),
        leave(9),
    )
    assert m.next_due() == T + 12
    (ov,) = m.due(T + 12)
    assert isinstance(ov, CallerOverflowed) and (ov.reason, ov.wait_s) == ("key", 9.0)


def test_hangup_abandon_then_leave_then_hangup():
    m = AmiMapper(CONFIG)
    out = run(m, join(0), abandon(7, hold=7), leave(7), ev("Hangup", 7.2, Uniqueid=CALL, Cause=16))
    (ab,) = calls(out)[1:]
    assert isinstance(ab, CallerAbandoned) and ab.wait_s == 7.0 and ab.ts == dt(7)  # the leave's time


def test_abandon_with_no_news_settles_as_abandoned_after_settle_s():
    m = AmiMapper(CONFIG, settle_s=3)
    run(m, join(0), abandon(9, hold=9), leave(9))
    assert m.next_due() == T + 12
    assert m.due(T + 11.9) == []
    (ab,) = m.due(T + 12)
    assert isinstance(ab, CallerAbandoned) and ab.wait_s == 9.0 and ab.ts == dt(9)


def test_queuestatus_after_abandon_says_why():
    for value, reason in [
        ("TIMEOUT", "timeout"),
        ("LEAVEEMPTY", "empty"),
        ("LEAVEUNAVAIL", "empty"),
        ("WITHDRAW", "withdrawn"),
    ]:
        m = AmiMapper(CONFIG)
        out = run(m, join(0), abandon(30, hold=30), leave(30), queuestatus(30.01, value))
        (ov,) = calls(out)[1:]
        assert isinstance(ov, CallerOverflowed), value
        assert (ov.reason, ov.wait_s, ov.ts) == (reason, 30.0, dt(30))


def test_key_press_is_a_leave_alone():
    m = AmiMapper(CONFIG, settle_s=3)
    run(m, join(0), leave(4.5))
    (ov,) = m.due(T + 7.5)  # nothing else came: a key exit, wait = leave - join
    assert isinstance(ov, CallerOverflowed) and (ov.reason, ov.wait_s, ov.ts) == ("key", 4.5, dt(4.5))
    # settled earlier by the channel's own next events: its hang-up, or joining another queue
    m = AmiMapper(CONFIG)
    out = run(m, join(0), leave(6), ev("Hangup", 8, Uniqueid=CALL))
    assert [(type(e), getattr(e, "reason", None), e.wait_s) for e in calls(out)[1:]] == [(CallerOverflowed, "key", 6.0)]
    m = AmiMapper(CONFIG)
    out = run(m, join(0), leave(6), join(6.5, queue="Q2"))
    assert [(type(e), e.queue) for e in calls(out)] == [
        (CallerJoined, "Q1"),
        (CallerOverflowed, "Q1"),
        (CallerJoined, "Q2"),
    ]


def test_timeout_then_overflow_queue():
    m = AmiMapper(CONFIG)
    out = run(
        m,
        join(0),
        abandon(60, hold=60),
        leave(60),
        queuestatus(60.01, "TIMEOUT"),
        join(60.2, queue="Q2"),
        abandon(75, hold=15, queue="Q2"),
        leave(75, queue="Q2"),
        ev("Hangup", 75.1, Uniqueid=CALL),
    )
    assert [(type(e).__name__, e.queue, getattr(e, "wait_s", None)) for e in out] == [
        ("CallerJoined", "Q1", None),
        ("CallerOverflowed", "Q1", 60.0),
        ("CallerJoined", "Q2", None),
        ("CallerAbandoned", "Q2", 15.0),
    ]


# -- rings: missed vs lost -----------------------------------------------------------------------------------


def called(t: float, iface: str) -> Message:
    return ev("AgentCalled", t, Queue="Q1", Uniqueid=CALL, Interface=iface, MemberName=iface)


def qms(t: float, iface: str, status: int, queue: str = "Q1", **more: object) -> Message:
    return ev(
        "QueueMemberStatus",
        t,
        Queue=queue,
        Interface=iface,
        MemberName=iface,
        StateInterface=iface,
        Penalty=0,
        Status=status,
        Paused=more.pop("Paused", 0),
        **more,
    )


def test_ring_all_lost_ring_is_not_missed_but_ringnoanswer_is():
    m = AmiMapper(CONFIG)
    out = run(
        m,
        qms(0, "PJSIP/1001", 1),
        qms(0, "PJSIP/1002", 1),
        join(1),
        called(2, "PJSIP/1001"),
        called(2, "PJSIP/1002"),
        dialend_answer(6, "PJSIP/1002"),
        leave(6),
        connect(6, 6, 4, "PJSIP/1002"),
        qms(6.1, "PJSIP/1001", 1),
    )
    assert not [e for e in out if isinstance(e, AgentMissed)]
    assert states(out, "1001") == ["available", "ringing", "available"]
    assert states(out, "1002") == ["available", "ringing", "on_call"]
    m = AmiMapper(CONFIG)
    out = run(
        m,
        join(1),
        called(2, "PJSIP/1001"),
        ev(
            "AgentRingNoAnswer",
            17,
            Queue="Q1",
            Uniqueid=CALL,
            Interface="PJSIP/1001",
            MemberName="PJSIP/1001",
            RingTime=15000,
        ),
    )
    (missed,) = [e for e in out if isinstance(e, AgentMissed)]
    assert (missed.agent, missed.call_id, missed.ring_s, missed.ts) == ("1001", CALL, 15.0, dt(17))


def test_caller_hangs_up_while_agent_rings_is_an_abandon_not_a_miss():
    m = AmiMapper(CONFIG)
    out = run(
        m,
        join(0),
        called(3, "PJSIP/1001"),
        abandon(5, 5),
        leave(5),
        qms(5.1, "PJSIP/1001", 1),
        ev("Hangup", 5.2, Uniqueid=CALL),
    )
    assert [type(e) for e in calls(out)] == [CallerJoined, MemberAdded, CallerAbandoned]
    assert states(out, "1001") == ["ringing", "available"]


# -- dials ---------------------------------------------------------------------------------------------------


def dial(name: str, t: float, chan: str, dest: str, uid: str, status: str | None = None) -> Message:
    extra = {"DialStatus": status} if status else {"DialString": "trunk/0501234567"}
    return ev(
        name,
        t,
        Channel=chan,
        Uniqueid="1700000100.20",
        DestChannel=dest,
        DestUniqueid=uid,
        DestCallerIDNum="0501234567",
        **extra,
    )


def test_dials_from_the_agents_own_device():
    m = AmiMapper(CONFIG)
    out = run(
        m,
        dial("DialBegin", 0, "PJSIP/1001-0000000a", "PJSIP/trunk-0000000b", "1700000100.21"),
        dial("DialEnd", 9, "PJSIP/1001-0000000a", "PJSIP/trunk-0000000b", "1700000100.21", "ANSWER"),
        dial("DialBegin", 60, "PJSIP/1001-0000000c", "PJSIP/trunk-0000000d", "1700000160.23"),
        dial("DialEnd", 70, "PJSIP/1001-0000000c", "PJSIP/trunk-0000000d", "1700000160.23", "BUSY"),
        # the queue ringing an agent is a dial *to* the device, not from it
        dial("DialBegin", 80, "PJSIP/trunk-0000000e", "PJSIP/1001-0000000f", "1700000180.25"),
    )
    assert [(type(e), e.agent, e.call_id, e.number) for e in out] == [
        (DialAttempt, "1001", "1700000100.21", "0501234567"),
        (OutboundCall, "1001", "1700000100.21", "0501234567"),
        (DialAttempt, "1001", "1700000160.23", "0501234567"),
    ]


# -- wrap-up, pause, membership --------------------------------------------------------------------------------


def complete(t: float, hold: int, talk: int, iface: str = "PJSIP/1001", queue: str = "W") -> Message:
    return ev(
        "AgentComplete",
        t,
        Queue=queue,
        Uniqueid=CALL,
        Interface=iface,
        MemberName=iface,
        HoldTime=hold,
        TalkTime=talk,
        Reason="agent",
    )


def test_wrapup_inferred_from_the_queue_config_and_status_1_does_not_end_it():
    m = AmiMapper(CONFIG)  # queue W: wrapup_s = 10
    out = run(
        m,
        qms(0, "PJSIP/1001", 1, queue="W"),
        join(1, queue="W"),
        leave(5, queue="W"),
        connect(5, 4, 2, queue="W"),
        qms(5, "PJSIP/1001", 2, queue="W"),
        complete(40, 4, 35),
        qms(40.5, "PJSIP/1001", 1, queue="W"),
    )
    done = [e for e in out if isinstance(e, CallCompleted)]
    assert [(e.talk_s, e.ended_by, e.ts) for e in done] == [(35.0, "agent", dt(40))]
    assert states(out, "1001") == ["available", "on_call", "wrap_up"]
    assert m.next_due() == T + 50
    wrap, back = m.due(T + 50)
    assert isinstance(wrap, WrapupCompleted) and (wrap.wrap_s, wrap.ts, wrap.call_id) == (10.0, dt(50), CALL)
    assert isinstance(back, AgentStateChanged) and (back.state, back.ts) == ("available", dt(50))


def pause(t: float, status: int, paused: int = 1, reason: str = "lunch", queue: str = "W") -> Message:
    return ev(
        "QueueMemberPause",
        t,
        Queue=queue,
        Interface="PJSIP/1001",
        MemberName="PJSIP/1001",
        Status=status,
        Paused=paused,
        PausedReason=reason if paused else "",
    )


def test_member_wrapuptime_overrides_config_and_a_pause_in_wrapup_is_pending_until_it_ends():
    m = AmiMapper(CONFIG)
    out = run(m, qms(0, "PJSIP/1001", 2, queue="W", Wrapuptime=15), complete(40, 4, 30), pause(45, 1))
    assert [(e.state, e.reason, e.pause_pending) for e in out if isinstance(e, AgentStateChanged)] == [
        ("on_call", None, False),
        ("wrap_up", None, False),
        ("wrap_up", "lunch", True),  # app_queue paused the member at 45; the wrap-up is still the agent's
    ]
    wrap, paused = m.due(T + 55)  # the member's 15 s, not the config's 30: then paused, from the end of wrap-up
    assert isinstance(wrap, WrapupCompleted) and wrap.wrap_s == 15.0
    assert (paused.state, paused.reason, paused.pause_pending, paused.ts) == ("paused", "lunch", False, dt(55))


def test_a_pause_during_the_call_is_pending_through_wrap_up_and_an_unpause_cancels_it():
    m = AmiMapper(CONFIG)
    out = run(
        m,
        qms(0, "PJSIP/1001", 2, queue="W", Wrapuptime=15),
        pause(10, 2, reason="coaching"),  # Asterisk: Paused 1 while in use (InCall 1), PAUSE row at 10
        complete(40, 4, 30),
    )
    assert [(e.state, e.reason, e.pause_pending) for e in out if isinstance(e, AgentStateChanged)] == [
        ("on_call", None, False),
        ("on_call", "coaching", True),
        ("wrap_up", "coaching", True),
    ]
    assert [(e.state, e.reason, e.ts) for e in m.due(T + 55) if isinstance(e, AgentStateChanged)] == [
        ("paused", "coaching", dt(55))
    ]
    # paused during the next call, unpaused before it ends: nothing pending any more, available after wrap-up
    m2 = AmiMapper(CONFIG)
    out = run(
        m2,
        qms(0, "PJSIP/1001", 2, queue="W", Wrapuptime=15),
        pause(10, 2),
        pause(20, 2, paused=0),
        complete(40, 4, 30),
    )
    assert [(e.state, e.pause_pending) for e in out if isinstance(e, AgentStateChanged)] == [
        ("on_call", False),
        ("on_call", True),
        ("on_call", False),
        ("wrap_up", False),
    ]
    assert [e.state for e in m2.due(T + 55) if isinstance(e, AgentStateChanged)] == ["available"]


def test_a_pause_stamped_just_before_our_wrap_up_timer_fired_is_not_sent_older():
    """The demo's lost pause: the feed's timer ended the wrap-up at its due time (available), then the PBX's
    pause arrived stamped half a millisecond earlier. Sent at its own time the engine would refuse it as older
    than 'available' and the agent would stay available; sent at the time of the state before it, it wins."""
    m = AmiMapper(CONFIG)
    run(m, qms(0, "PJSIP/1001", 2, queue="W", Wrapuptime=15), complete(40, 4, 30))
    avail = [e for e in m.due(T + 55) if isinstance(e, AgentStateChanged)]
    assert [(e.state, e.ts) for e in avail] == [("available", dt(55))]
    (paused,) = [e for e in run(m, pause(54.9995, 1)) if isinstance(e, AgentStateChanged)]
    assert (paused.state, paused.reason) == ("paused", "lunch") and paused.ts == dt(55)


def test_paused_only_when_paused_in_every_queue_and_removed_from_all_is_logged_out():
    m = AmiMapper(CONFIG)
    out = run(
        m,
        qms(0, "PJSIP/1001", 1, queue="Q1"),
        qms(0, "PJSIP/1001", 1, queue="Q2"),
        qms(1, "PJSIP/1001", 1, queue="Q1", Paused=1, PausedReason="break"),
        qms(2, "PJSIP/1001", 1, queue="Q2", Paused=1, PausedReason="break"),
        ev("QueueMemberRemoved", 3, Queue="Q1", Interface="PJSIP/1001", MemberName="PJSIP/1001"),
        ev("QueueMemberRemoved", 4, Queue="Q2", Interface="PJSIP/1001", MemberName="PJSIP/1001"),
    )
    assert states(out, "1001") == ["available", "paused", "logged_out"]
    assert [(type(e), e.queue) for e in out if isinstance(e, (MemberAdded, MemberRemoved))] == [
        (MemberAdded, "Q1"),
        (MemberAdded, "Q2"),
        (MemberRemoved, "Q1"),
        (MemberRemoved, "Q2"),
    ]


# -- resync, bad events, helpers ---------------------------------------------------------------------------


def test_resync_lists_members_and_waiting_callers():
    m = AmiMapper(CONFIG)
    run(m, qms(0, "PJSIP/1002", 1, queue="Q1"), join(1, call="1700000001.1"), join(2, call="1700000002.2"))
    now = dt(100)
    listed = [
        Message({"event": "QueueParams", "queue": "Q1", "calls": "1"}),
        Message(
            {
                "event": "QueueMember",
                "queue": "Q1",
                "name": "Alice",
                "location": "PJSIP/1001",
                "stateinterface": "PJSIP/1001",
                "penalty": "2",
                "status": "2",
                "paused": "0",
            }
        ),
        Message(
            {
                "event": "QueueEntry",
                "queue": "Q1",
                "position": "1",
                "uniqueid": "1700000002.2",
                "calleridnum": "0509999999",
                "wait": "98",
            }
        ),
    ]
    out = m.resync(listed, now, "r")
    assert [type(e) for e in out] == [MemberAdded, AgentStateChanged, CallerJoined, WaitingResync, MemberRemoved]
    added, state, joined, resync, removed = out
    assert (added.agent, added.queue, added.penalty) == ("1001", "Q1", 2)
    assert state.state == "on_call"
    assert (joined.call_id, joined.ts, joined.caller) == ("1700000002.2", dt(2), "0509999999")  # 100 - 98
    assert (resync.queue, resync.call_ids, resync.ts) == ("Q1", ["1700000002.2"], now)
    assert (removed.agent, removed.queue) == ("1002", "Q1")  # no longer listed: removed while we were away


def test_bad_and_unknown_events_are_dead_letters_and_the_mapper_goes_on():
    m = AmiMapper(CONFIG)
    out = run(
        m,
        ev("AgentConnect", 1, Queue="Q1", Interface="PJSIP/1001", HoldTime=3),
        ev("AgentConnect", 2, Queue="Q1", Uniqueid=CALL, Interface="PJSIP/1001", HoldTime="soon"),
        ev("FooBarStarted", 3),
        ev("FooBarStarted", 4),
        join(5),
    )
    dead = [d.reason for d in out if isinstance(d, DeadLetter)]
    assert dead == [
        "AgentConnect: missing Uniqueid (truncated event?)",
        "AgentConnect: holdtime is not a number: 'soon'",
        "unknown AMI event 'FooBarStarted' (reported once, then ignored)",
    ]
    assert isinstance(out[-1], CallerJoined)
    assert not m.wants("foobarstarted") and not m.wants("newexten") and m.wants("queuecallerjoin")
    assert m.wants("varset", [b"Variable: QUEUESTATUS"]) and m.wants("varset", [b"variable: queuestatus"])
    assert not m.wants("varset", [b"Variable: SIPCALLID", b"Value: QUEUESTATUS"])


def test_helpers():
    assert device_of("PJSIP/1001-0000001a") == "PJSIP/1001"
    assert device_of("Local/7001@from-queue-f153;1") == "Local/7001@from-queue"
    assert device_of("SIP/777") == "SIP/777" and device_of(None) is None
    assert epoch_of("1514295827.372") == 1514295827 and epoch_of("abc") is None


async def test_a_configured_skill_queuestatus_does_not_list_is_no_membership(make_engine):
    """A fresh ingester: the agent is configured for Q1 and Q2, but the PBX lists them in Q2 only (removed from
    Q1 before we started). The wallboard shows what the PBX has, not the configured skills."""
    eng = await make_engine(
        queues=[{"name": "Q1"}, {"name": "Q2"}, {"name": "W"}],
        agents=[{"id": "1001", "interface": "PJSIP/1001", "skills": {"Q1": 0, "Q2": 1}}],
    )
    m = AmiMapper(eng.config)
    listed = [
        Message({"event": "QueueParams", "queue": "Q1", "calls": "0"}),
        Message({"event": "QueueParams", "queue": "Q2", "calls": "0"}),
        Message({"event": "QueueParams", "queue": "W", "calls": "0"}),
        Message(
            {
                "event": "QueueMember",
                "queue": "Q2",
                "name": "PJSIP/1001",
                "location": "PJSIP/1001",
                "penalty": "1",
                "status": "1",
                "paused": "0",
            }
        ),
    ]
    out = m.resync(listed, dt(100), "r")
    removed = [(e.agent, e.queue) for e in out if isinstance(e, MemberRemoved)]
    assert removed == [("1001", "Q1")]
    await eng.apply(out)
    snap = await eng.build_snapshot(dt(101))
    assert snap.agents["1001"].queues == {"Q2": 1}
    # the next resync says it again (the config still names Q1): a removal of a non-member changes nothing
    await eng.apply(m.resync(listed, dt(200), "r2"))
    assert (await eng.build_snapshot(dt(201))).agents["1001"].queues == {"Q2": 1}
