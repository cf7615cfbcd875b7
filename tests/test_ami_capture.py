"""The ami-capture feed on the real captures (../shared/data/asterisk_ami) and on small hand-made ones.

log_setVar.js (docs/PROTOCOLS.md, SOURCES.md): one call on Q1 from Uniqueid 1514295827.372, agent leg
1514295839.373 on SIP/777; AgentConnect HoldTime 9, RingTime 9; AgentComplete TalkTime 3, Reason caller;
member status 1 -> 6 -> 2 -> 1. No Timestamp headers: times come from the capture clock (Uniqueid epochs,
pushed on by HoldTime / TalkTime), so the answer is at 1514295839 (the agent leg's creation) and the
completion at 1514295839 + 3.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest

from feeds.ami_capture import AmiCaptureFeed
from tests.conftest import shared_data
from wallboard.config import load_config
from wallboard.events import (
    AgentStateChanged,
    CallCompleted,
    CallerAnswered,
    CallerJoined,
    MemberAdded,
)
from wallboard.feed import DeadLetter, load_feed

AMI = shared_data() / "asterisk_ami"
LOG = AMI / "log_setVar.js"
EXCERPTS = AMI / "github_issue_ami_event_excerpts.txt"
CALL = "1514295827.372"


def utc(epoch: int) -> datetime:
    return datetime.fromtimestamp(epoch, timezone.utc)


def test_log_setvar_one_answered_call():
    feed = load_feed("ami-capture", str(LOG), load_config(None))
    out = list(feed.read())
    assert not [d for d in out if isinstance(d, DeadLetter)]
    assert [type(e) for e in out] == [
        MemberAdded,
        AgentStateChanged,
        CallerJoined,
        AgentStateChanged,
        AgentStateChanged,
        CallerAnswered,
        CallCompleted,
        AgentStateChanged,
    ]
    joined = [e for e in out if isinstance(e, CallerJoined)]
    answered = [e for e in out if isinstance(e, CallerAnswered)]
    completed = [e for e in out if isinstance(e, CallCompleted)]
    assert [(e.queue, e.call_id, e.caller, e.position, e.ts) for e in joined] == [
        ("Q1", CALL, "123", 1, utc(1514295827))
    ]
    assert [(e.queue, e.call_id, e.agent, e.wait_s, e.ring_s, e.ts) for e in answered] == [
        ("Q1", CALL, "SIP/777", 9.0, 9.0, utc(1514295839))
    ]
    assert [(e.call_id, e.agent, e.talk_s, e.ended_by, e.ts) for e in completed] == [
        (CALL, "SIP/777", 3.0, "caller", utc(1514295842))
    ]
    # member status 1 -> 6 -> 2 -> 1 as agent states (AgentCalled / AgentConnect repeat the state: not re-sent)
    assert [(e.state, e.call_id) for e in out if isinstance(e, AgentStateChanged)] == [
        ("available", None),
        ("ringing", None),
        ("on_call", CALL),
        ("available", None),
    ]
    assert [(e.queue, e.penalty) for e in out if isinstance(e, MemberAdded)] == [("Q1", 1)]
    # of the 221 printed events only 14 are parsed (4 QueueMemberStatus, Join, AgentCalled, DialBegin, DialEnd,
    # Leave, AgentConnect, AgentComplete, the VarSet of QUEUESTATUS, 2 Hangup); the 16 printed twice are
    # VarSet / Newexten, skipped before any duplicate check
    assert feed.skipped == 221 - 14 and feed.duplicates == 0


def test_log_setvar_ids_are_stable():
    a = [e.id for e in AmiCaptureFeed(LOG, load_config(None)).read()]
    b = [e.id for e in AmiCaptureFeed(LOG, load_config(None)).read()]
    assert a == b and len(set(a)) == len(a)


async def test_log_setvar_through_the_engine(make_engine):
    eng = await make_engine(agents=[{"id": "777", "name": "Romanenko", "interface": "SIP/777"}])
    events = list(AmiCaptureFeed(LOG, eng.config).read())
    res = await eng.apply(events)
    assert res.duplicates == 0
    snap = await eng.build_snapshot(utc(1514295842) + timedelta(seconds=1))
    q = snap.queues["Q1"]
    assert (q.entered, q.offered, q.answered, q.answered_within_sl, q.abandoned, q.overflowed) == (1, 1, 1, 1, 0, 0)
    assert (q.wait_answered_s, q.wait_all_s, q.completed, q.talk_s, q.waiting) == (9.0, 9.0, 1, 3.0, 0)
    assert q.asa_s == 9.0 and q.service_level == 1.0
    a = snap.agents["777"]
    assert (a.state, a.calls_handled, a.missed, a.queues) == ("available", 1, 0, {"Q1": 1})
    assert a.talk_s == 3.0  # on_call from 1514295839 to 1514295842
    # applying the same capture again changes nothing
    again = await eng.apply(list(AmiCaptureFeed(LOG, eng.config).read()))
    snap2 = await eng.build_snapshot(utc(1514295842) + timedelta(seconds=1))
    assert again.applied == 0 and snap2.queues["Q1"].answered == 1 and snap2.agents["777"].calls_handled == 1


def test_github_excerpts_old_layouts_and_lower_case_keys():
    out = list(AmiCaptureFeed(EXCERPTS, load_config(None)).read())
    answered, on_call, ringing, dead = out
    # PAMI#19: lower-case keys, 1.8 layout (member, bridgedchannel)
    assert isinstance(answered, CallerAnswered)
    assert (answered.queue, answered.call_id, answered.agent, answered.wait_s, answered.ring_s) == (
        "5001",
        "1301942099.1324731",
        "Local/7001@from-queue/n",
        3.0,
        3.0,
    )
    assert answered.ts == utc(1301942099)
    assert (on_call.state, on_call.agent) == ("on_call", "Local/7001@from-queue/n")
    # PAMI#104: pre-12 AgentCalled (AgentCalled / AgentName / ChannelCalling / DestinationChannel)
    assert isinstance(ringing, AgentStateChanged)
    assert (ringing.state, ringing.agent, ringing.queue, ringing.call_id) == (
        "ringing",
        "SIP/203",
        "queue-02",
        "1463567210.51331",
    )
    # asterisk#393: cut by the index before Uniqueid/TalkTime: read, but it cannot complete a call
    assert isinstance(dead, DeadLetter)
    assert dead.reason == "AgentComplete: missing Uniqueid, TalkTime (truncated event?)"
    assert dead.raw.startswith("Event: AgentComplete\nPrivilege: agent,all")


def test_duplicates_dropped_by_sequence_number_or_timestamp(tmp_path):
    block = (
        "<-- Examining AMI event: -->\nEvent: QueueCallerJoin\nSequenceNumber: 10\nQueue: Q1\n"
        "Uniqueid: 1700000000.1\nPosition: 1\n\n"
    )
    stamped = "Event: QueueCallerJoin\nQueue: Q1\nUniqueid: 1700000000.2\nTimestamp: 1700000001.250000\n\n"
    plain = "Event: QueueCallerJoin\nQueue: Q1\nUniqueid: 1700000000.3\n\n"
    p = tmp_path / "two_sessions.log"
    p.write_text(
        "  == Manager 'a' logged on\n"
        + block
        + "    -- Executing [s@x:1]\n"
        + block
        + stamped
        + stamped
        + plain
        + plain
    )
    feed = AmiCaptureFeed(p, load_config(None))
    out = list(feed.read())
    assert [e.call_id for e in out] == ["1700000000.1", "1700000000.2", "1700000000.3", "1700000000.3"]
    assert feed.duplicates == 2


def test_bad_input_each_a_dead_letter_and_the_feed_goes_on(tmp_path):
    good = "Event: QueueCallerJoin\nQueue: Q1\nUniqueid: 1700000000.{n}\nTimestamp: 17000000{n}0.5\n\n"
    data = (
        good.format(n=1).encode()
        + b"Event: QueueCallerJoin\nQueue: Q1\nthis line has no colon\nUniqueid: 1700000000.2\n\n"
        + b"Event: QueueCallerJoin\nQueue: Q1\nCallerIDName: "
        + b"x" * (1 << 20)
        + b"\nUniqueid: 1700000000.3\n\n"
        + b"Event: QueueCallerJoin\nQueue: Q1\nCallerIDName: caf\xe9\nUniqueid: 1700000000.4\n\n"
        + b"Event: SomethingNew\nUniqueid: 1700000000.5\n\n"
        + good.format(n=6).encode()
        + b"Event: QueueCallerJoin\nQueue: Q1\nUniq"
    )
    p = tmp_path / "bad.txt"
    p.write_bytes(data)
    out = list(AmiCaptureFeed(p, load_config(None)).read())
    kinds = [(type(x).__name__, x.reason if isinstance(x, DeadLetter) else x.call_id) for x in out]
    assert kinds == [
        ("CallerJoined", "1700000000.1"),
        ("DeadLetter", "line 3 has no colon: 'this line has no colon'"),
        ("DeadLetter", "line 3 is longer than 65536 bytes"),
        ("DeadLetter", "line 3 is not UTF-8 (byte 0xe9 at column 18)"),
        ("DeadLetter", "unknown AMI event 'SomethingNew' (reported once, then ignored)"),
        ("CallerJoined", "1700000000.6"),
        ("DeadLetter", "truncated: the file ends inside a line"),
    ]
    assert out[2].source.endswith("bad.txt:11") and len(out[2].raw) < 5000


def test_capture_needs_a_path():
    with pytest.raises(ValueError):
        AmiCaptureFeed(None, load_config(None))
