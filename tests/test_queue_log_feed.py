"""The queue_log feed: every verb's mapping, wrap-up inference, dead letters, stable ids, the shipped sample.

Expected values are worked out by hand from the lines in each test (PROTOCOLS.md gives each verb's fields).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from feeds.queue_log import QueueLogFeed
from wallboard.config import AgentConfig, QueueConfig, WallboardConfig, load_config
from wallboard.events import (
    AgentMissed,
    AgentStateChanged,
    CallCompleted,
    CallerAbandoned,
    CallerAnswered,
    CallerJoined,
    CallerOverflowed,
    MemberAdded,
    MemberPenalty,
    MemberRemoved,
    WrapupCompleted,
)
from wallboard.feed import DeadLetter, load_feed

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "samples" / "sample_day.queue_log"
T0 = 1795327200  # 2026-11-22 06:00:00 UTC, 08:00 in Jerusalem
TS0 = datetime(2026, 11, 22, 6, 0, 0, tzinfo=timezone.utc)

CONFIG = WallboardConfig(
    queues=[QueueConfig(name="support", wrapup_s=15), QueueConfig(name="nowrap", wrapup_s=0)],
    agents=[AgentConfig(id="1001", interface="PJSIP/1001"), AgentConfig(id="1002", interface="PJSIP/1002")],
)


def at(seconds: float) -> datetime:
    return TS0 + timedelta(seconds=seconds)


def read(tmp_path: Path, text: str, config: WallboardConfig = CONFIG) -> tuple[list, QueueLogFeed]:
    path = tmp_path / "queue_log"
    path.write_text(text, encoding="utf-8")
    feed = QueueLogFeed(path, config)
    return list(feed.read()), feed


def rows(*lines: str) -> str:
    """Lines written as 'offset|rest', offset in seconds after T0."""
    out = []
    for line in lines:
        offset, rest = line.split("|", 1)
        out.append(f"{T0 + int(offset)}|{rest}")
    return "\n".join(out) + "\n"


def summary(items: list) -> list[tuple]:
    """(id, type, ts offset in s, state or None) per item, for checking order."""
    out = []
    for e in items:
        assert not isinstance(e, DeadLetter), e
        out.append((e.id, e.type, (e.ts - TS0).total_seconds(), getattr(e, "state", None)))
    return out


# -- calls -----------------------------------------------------------------------------------------------------


def test_enterqueue_is_caller_joined(tmp_path):
    items, _ = read(tmp_path, rows("0|1795327200.11|support|NONE|ENTERQUEUE||0541234567|3"))
    assert items == [
        CallerJoined(
            id="ql:1:1",
            ts=TS0,
            source=f"queue-log:{tmp_path / 'queue_log'}:1",
            queue="support",
            call_id="1795327200.11",
            caller="0541234567",
            position=3,
        )
    ]


def test_enterqueue_without_caller_number(tmp_path):
    (e,), _ = read(tmp_path, rows("0|c1|support|NONE|ENTERQUEUE|||1"))
    assert e.caller is None and e.position == 1


def test_connect_is_answer_and_on_call(tmp_path):
    items, _ = read(tmp_path, rows("12|c1|support|PJSIP/1001|CONNECT|12|1795327212.5|4"))
    answered, state = items
    assert isinstance(answered, CallerAnswered)
    assert (answered.id, answered.ts, answered.queue, answered.call_id) == ("ql:1:1", at(12), "support", "c1")
    assert (answered.agent, answered.wait_s, answered.ring_s) == ("1001", 12.0, 4.0)
    assert isinstance(state, AgentStateChanged)
    assert (state.id, state.ts, state.agent, state.state) == ("ql:1:2", at(12), "1001", "on_call")
    assert (state.queue, state.call_id, state.reason) == ("support", "c1", None)


def test_complete_caller_then_inferred_wrapup(tmp_path):
    items, _ = read(tmp_path, rows("100|c1|support|PJSIP/1001|COMPLETECALLER|12|88|1"))
    completed, wrap, done, available = items
    assert isinstance(completed, CallCompleted)
    assert (completed.id, completed.ts, completed.agent) == ("ql:1:1", at(100), "1001")
    assert (completed.talk_s, completed.ended_by, completed.queue, completed.call_id) == (
        88.0,
        "caller",
        "support",
        "c1",
    )
    assert isinstance(wrap, AgentStateChanged)
    assert (wrap.id, wrap.ts, wrap.state, wrap.call_id) == ("ql:1:2", at(100), "wrap_up", "c1")
    # support's wrapup_s is 15: the wrap-up ends at 100 + 15
    assert isinstance(done, WrapupCompleted)
    assert (done.id, done.ts, done.agent, done.wrap_s, done.queue, done.call_id) == (
        "ql:1:w",
        at(115),
        "1001",
        15.0,
        "support",
        "c1",
    )
    assert done.source == completed.source
    assert isinstance(available, AgentStateChanged)
    assert (available.id, available.ts, available.agent, available.state) == ("ql:1:a", at(115), "1001", "available")


def test_complete_agent_without_wrapup_is_available_at_once(tmp_path):
    items, _ = read(tmp_path, rows("100|c1|nowrap|PJSIP/1001|COMPLETEAGENT|3|47|2"))
    assert summary(items) == [
        ("ql:1:1", "call_completed", 100, None),
        ("ql:1:2", "agent_state", 100, "available"),
    ]
    assert items[0].ended_by == "agent" and items[0].talk_s == 47.0


def test_queue_not_in_config_has_no_wrapup(tmp_path):
    items, _ = read(tmp_path, rows("100|c1|elsewhere|PJSIP/1001|COMPLETECALLER|3|47|2"))
    assert [e.type for e in items] == ["call_completed", "agent_state"]
    assert items[1].state == "available"


def test_abandon(tmp_path):
    (e,), _ = read(tmp_path, rows("30|c1|support|NONE|ABANDON|2|4|30"))
    assert isinstance(e, CallerAbandoned)
    assert (e.id, e.ts, e.queue, e.call_id, e.position, e.wait_s) == ("ql:1:1", at(30), "support", "c1", 2, 30.0)


@pytest.mark.parametrize(
    "line, reason, wait_s",
    [
        ("300|c1|support|NONE|EXITWITHTIMEOUT|1|5|300", "timeout", 300.0),
        ("7|c1|support|NONE|EXITEMPTY|1|1|7", "empty", 7.0),
        ("45|c1|support|NONE|EXITWITHKEY|1|2|3|45", "key", 45.0),
        ("60|c1|support|NONE|WITHDRAW|2|2|60|callback", "withdrawn", 60.0),
    ],
)
def test_overflow_exits_are_not_abandons(tmp_path, line, reason, wait_s):
    (e,), _ = read(tmp_path, rows(line))
    assert isinstance(e, CallerOverflowed)
    assert (e.reason, e.wait_s, e.queue, e.call_id, e.id) == (reason, wait_s, "support", "c1", "ql:1:1")


def test_old_asterisk_exit_without_wait_field(tmp_path):
    # Asterisk 1.4 wrote EXITWITHTIMEOUT with the position only: the wait is then unknown, not a dead letter.
    (e,), _ = read(tmp_path, rows("300|c1|support|NONE|EXITWITHTIMEOUT|1"))
    assert (e.reason, e.wait_s) == ("timeout", None)


def test_ringnoanswer_is_a_miss_in_seconds(tmp_path):
    (e,), _ = read(tmp_path, rows("20|c1|support|PJSIP/1002|RINGNOANSWER|15000"))
    assert isinstance(e, AgentMissed)
    assert (e.id, e.ts, e.agent, e.queue, e.call_id, e.ring_s) == ("ql:1:1", at(20), "1002", "support", "c1", 15.0)


def test_ringcanceled_is_neither_miss_nor_dead_letter(tmp_path):
    items, feed = read(tmp_path, rows("9|c1|support|PJSIP/1002|RINGCANCELED|4000"))
    assert items == []
    assert feed.ignored == Counter({"RINGCANCELED": 1})


# -- transfers -------------------------------------------------------------------------------------------------


def test_blindtransfer_is_answer_then_completed(tmp_path):
    items, _ = read(tmp_path, rows("200|c1|support|PJSIP/1001|BLINDTRANSFER|2000|from-internal|14|171|1"))
    answered, talk, completed, wrap, done, available = items
    assert isinstance(answered, CallerAnswered)
    assert (answered.id, answered.agent, answered.wait_s, answered.ring_s) == ("ql:1:1", "1001", 14.0, None)
    # no CONNECT put the agent on the call: on it from the answer, the row's time less its talk (200 - 171)
    assert (talk.id, talk.ts, talk.state, talk.call_id, talk.queue) == ("ql:1:t", at(29), "on_call", "c1", "support")
    assert isinstance(completed, CallCompleted)
    assert (completed.id, completed.talk_s, completed.ended_by) == ("ql:1:2", 171.0, "transfer")
    assert (wrap.id, wrap.state) == ("ql:1:3", "wrap_up")
    assert (done.ts, done.wrap_s, available.ts, available.state) == (at(215), 15.0, at(215), "available")


@pytest.mark.parametrize(
    "data, hold, talk",
    [
        ("BRIDGE|9f1c2e7a-33b1-4c55-8d2e-0a1b2c3d4e5f|6|130|2", 6.0, 130.0),
        ("APP|VoiceMail|9|41|1", 9.0, 41.0),
        ("LINK|PJSIP/1001-0000002a|PJSIP/2000-0000002c|11|205|3", 11.0, 205.0),
    ],
)
def test_attendedtransfer_kinds(tmp_path, data, hold, talk):
    items, _ = read(tmp_path, rows(f"300|c1|support|PJSIP/1001|ATTENDEDTRANSFER|{data}"))
    answered, on_call, completed = items[:3]
    assert (answered.type, answered.wait_s, answered.agent) == ("caller_answered", hold, "1001")
    assert (on_call.state, on_call.ts) == ("on_call", at(300 - talk))
    assert (completed.type, completed.talk_s, completed.ended_by) == ("call_completed", talk, "transfer")


def test_attendedtransfer_without_connect_still_answered(tmp_path):
    # The shape of asterisk/asterisk#759: DID, ENTERQUEUE, then ATTENDEDTRANSFER with no CONNECT row.
    items, feed = read(
        tmp_path,
        rows(
            "0|1717397390.239830|support|NONE|DID|",
            "0|1717397390.239830|support|NONE|ENTERQUEUE||7009|1",
            "95|1717397390.239830|support|PJSIP/1002|ATTENDEDTRANSFER|BRIDGE|b-1|8|87|1",
        ),
    )
    assert summary(items) == [
        ("ql:2:1", "caller_joined", 0, None),
        ("ql:3:1", "caller_answered", 95, None),
        ("ql:3:t", "agent_state", 8, "on_call"),  # the answer: 95 less 87 s of talk (0 + 8 s held)
        ("ql:3:2", "call_completed", 95, None),
        ("ql:3:3", "agent_state", 95, "wrap_up"),
        ("ql:3:w", "wrapup_completed", 110, None),
        ("ql:3:a", "agent_state", 110, "available"),
    ]
    assert items[1].wait_s == 8.0 and items[3].talk_s == 87.0 and items[2].call_id == "1717397390.239830"
    assert feed.ignored == Counter({"DID": 1})


def test_connect_then_transfer_answers_twice_for_the_engine_to_merge(tmp_path):
    items, _ = read(
        tmp_path,
        rows(
            "10|c1|nowrap|PJSIP/1001|CONNECT|10|u2|2",
            "70|c1|nowrap|PJSIP/1001|ATTENDEDTRANSFER|APP|Dial|10|60|1",
        ),
    )
    assert summary(items) == [
        ("ql:1:1", "caller_answered", 10, None),
        ("ql:1:2", "agent_state", 10, "on_call"),
        ("ql:2:1", "caller_answered", 70, None),
        ("ql:2:2", "call_completed", 70, None),
        ("ql:2:3", "agent_state", 70, "available"),
    ]
    # both answers say the same wait, so whichever the engine keeps, the numbers agree
    assert items[0].wait_s == items[2].wait_s == 10.0


def test_pre12_transfer(tmp_path):
    items, _ = read(tmp_path, rows("100|c1|nowrap|PJSIP/1001|TRANSFER|2000|from-internal|7|93|1"))
    answered, talk, completed, available = items
    assert (answered.wait_s, completed.talk_s, completed.ended_by) == (7.0, 93.0, "transfer")
    assert (talk.state, talk.ts, available.state, available.ts) == ("on_call", at(7), "available", at(100))


# -- wrap-up inference -----------------------------------------------------------------------------------------


def test_inferred_wrapup_end_comes_in_time_order(tmp_path):
    items, _ = read(
        tmp_path,
        rows(
            "100|c1|support|PJSIP/1001|COMPLETECALLER|5|60|1",
            "110|c2|support|NONE|ENTERQUEUE||0501111111|1",
            "115|c3|support|NONE|ENTERQUEUE||0502222222|2",  # same second as the wrap-up end: the end goes first
            "120|c4|support|NONE|ENTERQUEUE||0503333333|3",
        ),
    )
    assert summary(items) == [
        ("ql:1:1", "call_completed", 100, None),
        ("ql:1:2", "agent_state", 100, "wrap_up"),
        ("ql:2:1", "caller_joined", 110, None),
        ("ql:1:w", "wrapup_completed", 115, None),
        ("ql:1:a", "agent_state", 115, "available"),
        ("ql:3:1", "caller_joined", 115, None),
        ("ql:4:1", "caller_joined", 120, None),
    ]


def test_pause_during_wrapup_is_pending_and_the_wrapup_ends_in_paused(tmp_path):
    # Asterisk pauses the member at 105 (the PAUSE row) and writes nothing when its wrap-up ends at 115: the
    # agent is still wrapping up the call until then, paused from then on (not available).
    items, _ = read(
        tmp_path,
        rows(
            "100|c1|support|PJSIP/1001|COMPLETECALLER|5|60|1",
            "105|NONE|support|PJSIP/1001|PAUSE|lunch",
            "200|c2|support|NONE|ENTERQUEUE||0501111111|1",
        ),
    )
    assert summary(items) == [
        ("ql:1:1", "call_completed", 100, None),
        ("ql:1:2", "agent_state", 100, "wrap_up"),
        ("ql:2:1", "agent_state", 105, "wrap_up"),
        ("ql:1:w", "wrapup_completed", 115, None),  # wrap time is still counted
        ("ql:1:a", "agent_state", 115, "paused"),
        ("ql:3:1", "caller_joined", 200, None),
    ]
    assert (items[2].pause_pending, items[2].reason) == (True, "lunch")
    assert (items[4].pause_pending, items[4].reason) == (False, "lunch")


def test_new_connect_during_wrapup_cancels_the_inferred_available(tmp_path):
    items, _ = read(
        tmp_path,
        rows(
            "100|c1|support|PJSIP/1001|COMPLETEAGENT|5|60|1",
            "110|c2|support|PJSIP/1001|CONNECT|30|u9|1",
        ),
    )
    assert summary(items) == [
        ("ql:1:1", "call_completed", 100, None),
        ("ql:1:2", "agent_state", 100, "wrap_up"),
        ("ql:2:1", "caller_answered", 110, None),
        ("ql:2:2", "agent_state", 110, "on_call"),
        ("ql:1:w", "wrapup_completed", 115, None),
    ]


def test_another_agents_pause_does_not_cancel(tmp_path):
    items, _ = read(
        tmp_path,
        rows(
            "100|c1|support|PJSIP/1001|COMPLETECALLER|5|60|1",
            "105|NONE|support|PJSIP/1002|PAUSE|break",
        ),
    )
    assert summary(items)[-2:] == [
        ("ql:1:w", "wrapup_completed", 115, None),
        ("ql:1:a", "agent_state", 115, "available"),
    ]


def test_second_call_wrapup_replaces_the_first(tmp_path):
    # Talk on c2 ends before c1's wrap-up would have: only c2's available is still true.
    items, _ = read(
        tmp_path,
        rows(
            "100|c1|support|PJSIP/1001|COMPLETECALLER|5|60|1",
            "104|c2|nowrap|PJSIP/1001|CONNECT|1|u3|1",
            "110|c2|nowrap|PJSIP/1001|COMPLETECALLER|1|6|1",
        ),
    )
    assert summary(items) == [
        ("ql:1:1", "call_completed", 100, None),
        ("ql:1:2", "agent_state", 100, "wrap_up"),
        ("ql:2:1", "caller_answered", 104, None),
        ("ql:2:2", "agent_state", 104, "on_call"),
        ("ql:3:1", "call_completed", 110, None),
        ("ql:3:2", "agent_state", 110, "available"),
        ("ql:1:w", "wrapup_completed", 115, None),
    ]


def test_paused_during_the_call_goes_back_to_paused_after_wrapup(tmp_path):
    # A supervisor pauses the agent mid-call; Asterisk keeps the pause, so wrap-up ends in 'paused', not 'available'.
    items, _ = read(
        tmp_path,
        rows(
            "10|c1|support|PJSIP/1001|CONNECT|10|u1|2",
            "30|NONE|support|PJSIP/1001|PAUSE|meeting",
            "100|c1|support|PJSIP/1001|COMPLETECALLER|10|90|1",
            "101|c2|nowrap|PJSIP/1002|CONNECT|1|u2|1",
            "102|NONE|nowrap|PJSIP/1002|PAUSE|",
            "103|c2|nowrap|PJSIP/1002|COMPLETEAGENT|1|2|1",
        ),
    )
    assert summary(items) == [
        ("ql:1:1", "caller_answered", 10, None),
        ("ql:1:2", "agent_state", 10, "on_call"),
        ("ql:2:1", "agent_state", 30, "on_call"),  # still talking: the pause is pending
        ("ql:3:1", "call_completed", 100, None),
        ("ql:3:2", "agent_state", 100, "wrap_up"),
        ("ql:4:1", "caller_answered", 101, None),
        ("ql:4:2", "agent_state", 101, "on_call"),
        ("ql:5:1", "agent_state", 102, "on_call"),
        ("ql:6:1", "call_completed", 103, None),
        ("ql:6:2", "agent_state", 103, "paused"),  # no wrap-up in this queue: paused at once
        ("ql:3:w", "wrapup_completed", 115, None),
        ("ql:3:a", "agent_state", 115, "paused"),
    ]
    pending = [(e.id, e.pause_pending, e.reason, e.call_id) for e in items if getattr(e, "pause_pending", False)]
    assert pending == [
        ("ql:2:1", True, "meeting", "c1"),
        ("ql:3:2", True, "meeting", "c1"),
        ("ql:5:1", True, None, "c2"),
    ]
    assert (items[-1].agent, items[-1].reason, items[-1].pause_pending) == ("1001", "meeting", False)
    assert (items[9].agent, items[9].reason) == ("1002", None)


def test_unpaused_during_the_call_is_available_after_wrapup(tmp_path):
    items, _ = read(
        tmp_path,
        rows(
            "5|NONE|NONE|PJSIP/1001|PAUSEALL|",
            "30|NONE|NONE|PJSIP/1001|UNPAUSEALL|",
            "100|c1|support|PJSIP/1001|COMPLETECALLER|10|90|1",
        ),
    )
    assert summary(items)[-1] == ("ql:3:a", "agent_state", 115, "available")


def test_pending_wrapups_flush_at_end_of_file_in_time_order(tmp_path):
    items, _ = read(
        tmp_path,
        rows(
            "100|c1|support|PJSIP/1001|COMPLETECALLER|5|60|1",
            "101|c2|support|PJSIP/1002|COMPLETECALLER|5|60|1",
        ),
    )
    assert [i for i, *_ in summary(items)] == [
        "ql:1:1",
        "ql:1:2",
        "ql:2:1",
        "ql:2:2",
        "ql:1:w",
        "ql:1:a",
        "ql:2:w",
        "ql:2:a",
    ]


# -- members and agent states ----------------------------------------------------------------------------------


def test_member_and_state_verbs(tmp_path):
    items, feed = read(
        tmp_path,
        rows(
            "0|NONE|support|PJSIP/1001|ADDMEMBER|",
            "1|NONE|support|PJSIP/1002|ADDMEMBER|PAUSED",
            "2|NONE|support|PJSIP/1001|PENALTY|2",
            "3|NONE|support|PJSIP/1001|PAUSE|training",
            "4|NONE|support|PJSIP/1001|UNPAUSE|",
            "5|NONE|NONE|PJSIP/1001|PAUSEALL|",
            "6|NONE|NONE|PJSIP/1001|UNPAUSEALL|",
            "7|1795327207.3|NONE|Agent/1005|AGENTLOGIN|PJSIP/1005-00000011",
            "8|1795327207.3|NONE|Agent/1005|AGENTLOGOFF|PJSIP/1005-00000011|3600",
            "9|c1|support|PJSIP/1002|AGENTDUMP",
            "10|NONE|support|PJSIP/1002|REMOVEMEMBER|",
        ),
    )
    (
        added,
        available_on_add,
        added_paused,
        paused_on_add,
        penalty,
        paused,
        unpaused,
        paused_all,
        unpaused_all,
        login,
        logoff,
        removed,
        logged_out_on_remove,
    ) = items
    assert isinstance(added, MemberAdded) and (added.agent, added.queue, added.penalty) == ("1001", "support", 0)
    # Asterisk: added without PAUSED is logged in and available; removed from its last queue, logged out
    assert (available_on_add.id, available_on_add.state, available_on_add.agent) == ("ql:1:2", "available", "1001")
    assert (logged_out_on_remove.id, logged_out_on_remove.state) == ("ql:11:2", "logged_out")
    assert isinstance(added_paused, MemberAdded) and added_paused.agent == "1002"
    assert (paused_on_add.id, paused_on_add.state, paused_on_add.agent) == ("ql:2:2", "paused", "1002")
    assert isinstance(penalty, MemberPenalty) and (penalty.agent, penalty.queue, penalty.penalty) == (
        "1001",
        "support",
        2,
    )
    assert (paused.state, paused.reason, paused.queue, paused.call_id) == ("paused", "training", "support", None)
    assert (unpaused.state, unpaused.reason) == ("available", None)
    assert (paused_all.state, paused_all.reason, paused_all.queue) == ("paused", None, None)
    assert unpaused_all.state == "available"
    assert (login.agent, login.state, login.ts) == ("1005", "available", at(7))
    assert (logoff.agent, logoff.state, logoff.call_id) == ("1005", "logged_out", None)
    assert isinstance(removed, MemberRemoved) and (removed.agent, removed.queue, removed.id) == (
        "1002",
        "support",
        "ql:11:1",
    )
    assert feed.ignored == Counter({"AGENTDUMP": 1})


def test_agent_field_mapping(tmp_path):
    items, _ = read(
        tmp_path,
        rows(
            "0|NONE|support|PJSIP/1002|PAUSE|",  # a configured interface -> its agent id
            "1|NONE|support|Agent/2040|PAUSE|",  # chan_agent style
            "2|NONE|support|Gefen|PAUSE|",  # a member name: as it is
            "3|NONE|support|PJSIP/3999|PAUSE|",  # an interface nobody has: as it is
        ),
    )
    assert [e.agent for e in items] == ["1002", "2040", "Gefen", "PJSIP/3999"]


def test_custom_and_system_rows_are_ignored_and_counted(tmp_path):
    items, feed = read(
        tmp_path,
        rows(
            "1|NONE|NONE|NONE|CONFIGRELOAD|",
            "2|c1|support|NONE|DID|035551234",
            "3|c1|support|NONE|INFO|IVR|2",
            "4|NONE|support|PJSIP/1001|RINGINUSE|1",
            "5|c1|support|PJSIP/1001|SYSCOMPAT",
            "6|c1|support|NONE|MYAPP_SURVEY|5|good",
            "7|c1|support|NONE|DID|035551234",
        ),
    )
    assert items == []
    assert feed.ignored == Counter(
        {"DID": 2, "CONFIGRELOAD": 1, "INFO": 1, "RINGINUSE": 1, "SYSCOMPAT": 1, "MYAPP_SURVEY": 1}
    )


async def test_a_pbx_restart_leaves_no_ghost_callers(tmp_path, make_engine):
    """QUEUESTART mid-day: the callers cut off by the restart never get an exit row. They stop waiting and count
    as nothing (neither answered nor abandoned); a caller who joins after the restart waits as usual."""
    items, _ = read(
        tmp_path,
        rows(
            "0|c1|support|NONE|ENTERQUEUE||0501111111|1",
            "5|c2|nowrap|NONE|ENTERQUEUE||0502222222|1",
            "9|c3|mystery|NONE|ENTERQUEUE||0503333333|1",  # a queue the config does not name
            "30|NONE|NONE|NONE|QUEUESTART|",
            "60|c4|support|NONE|ENTERQUEUE||0504444444|1",
        ),
    )
    resyncs = [e for e in items if e.type == "waiting_resync"]
    assert [e.queue for e in resyncs] == ["support", "nowrap", "mystery"]  # configured first, then the rest
    assert all(e.call_ids == [] and e.ts == at(30) for e in resyncs)
    engine = await make_engine()
    await engine.apply(items)
    snap = await engine.build_snapshot(at(61))
    s, n, m = snap.queues["support"], snap.queues["nowrap"], snap.queues["mystery"]
    assert (s.entered, s.waiting, [c.call_id for c in s.callers]) == (2, 1, ["c4"])
    assert (s.answered, s.abandoned, s.overflowed) == (0, 0, 0)
    assert (n.entered, n.waiting, m.entered, m.waiting) == (1, 0, 1, 0)


# -- malformed input -------------------------------------------------------------------------------------------


def test_dead_letters_name_the_problem_and_the_read_goes_on(tmp_path):
    bad = [
        ("1795327200|c1|support|ENTERQUEUE", "too few fields (4)"),
        ("yesterday|c1|support|NONE|ENTERQUEUE||050|1", "epoch is not a valid time: 'yesterday'"),
        (f"{T0}||support|NONE|ENTERQUEUE||050|1", "ENTERQUEUE: call id is empty"),
        (f"{T0}|c1||NONE|ABANDON|1|1|5", "ABANDON: queue is empty"),
        ("1e12|c1|support|NONE|ENTERQUEUE||050|1", "epoch is not a valid time: '1e12'"),
        ("-5|c1|support|NONE|ENTERQUEUE||050|1", "epoch is not a valid time: '-5'"),
        (f"{T0}|NONE|support|NONE|ABANDON|1|1|5", "ABANDON: call id is empty or NONE"),
        (f"{T0}|c1|support|PJSIP/1001|CONNECT|soon|u1|2", "CONNECT: holdtime (data1) is not a number: 'soon'"),
        (
            f"{T0}|c1|support|PJSIP/1001|COMPLETECALLER|5|-3|1",
            "COMPLETECALLER: talktime (data2) must be a non-negative number, got '-3'",
        ),
        (f"{T0}|c1|support|PJSIP/1001|COMPLETEAGENT|5", "COMPLETEAGENT: talktime (data2) is missing"),
        (f"{T0}|c1|support|NONE|ABANDON|first|1|5", "ABANDON: position (data1) is not a whole number: 'first'"),
        (
            f"{T0}|c1|support|NONE|EXITWITHKEY|1|1|1|nan",
            "EXITWITHKEY: waittime (data4) must be a non-negative number, got 'nan'",
        ),
        (f"{T0}|NONE|support|PJSIP/1001|PENALTY|high", "PENALTY: penalty (data1) is not a whole number: 'high'"),
        (f"{T0}|NONE|support|PJSIP/1001|PENALTY|-1", "PENALTY: penalty (data1) must not be negative, got '-1'"),
        (f"{T0}|NONE|support|NONE|ADDMEMBER|", "ADDMEMBER: agent is empty (NONE)"),
        (f"{T0}|NONE|NONE|PJSIP/1001|REMOVEMEMBER|", "REMOVEMEMBER: queue is empty"),
        (f"{T0}|c1|support|NONE|RINGNOANSWER|15000", "RINGNOANSWER: agent is empty (NONE)"),
        (
            f"{T0}|c1|support|PJSIP/1001|ATTENDEDTRANSFER|WHAT|1",
            "ATTENDEDTRANSFER: destination 'WHAT' with 2 data fields: no room for holdtime and talktime",
        ),
    ]
    good = f"{T0 + 1}|c9|support|NONE|ENTERQUEUE||0509999999|1"
    text = "\n".join(line for pair in bad for line in (pair[0], good)) + "\n"
    items, _ = read(tmp_path, text)
    path = tmp_path / "queue_log"
    assert len(items) == 2 * len(bad)
    for i, (raw, reason) in enumerate(bad):
        dead, joined = items[2 * i], items[2 * i + 1]
        assert isinstance(dead, DeadLetter), (raw, dead)
        assert dead.source == f"queue-log:{path}:{2 * i + 1}"
        assert dead.raw == raw
        assert dead.reason.startswith(reason), (dead.reason, reason)
        assert isinstance(joined, CallerJoined) and joined.id == f"ql:{2 * i + 2}:1"


def test_a_bad_row_emits_nothing_half_done(tmp_path):
    # The answer is built before the talk time is checked: neither may come out, nor a wrap-up be scheduled.
    items, _ = read(tmp_path, rows("10|c1|support|PJSIP/1001|BLINDTRANSFER|2000|ctx|5|long|1"))
    assert len(items) == 1 and isinstance(items[0], DeadLetter)
    assert items[0].reason == "BLINDTRANSFER: talktime (data4) is not a number: 'long'"


def test_blank_lines_comments_and_crlf(tmp_path):
    text = (
        "# queue_log excerpt\n\n   \n"
        f"{T0}|c1|support|NONE|ENTERQUEUE||050|1\r\n"
        f"{T0 + 5}|c1|support|NONE|ABANDON|1|1|5\r\n"
    )
    items, feed = read(tmp_path, text)
    assert [(e.id, e.type) for e in items] == [("ql:4:1", "caller_joined"), ("ql:5:1", "caller_abandoned")]
    assert items[1].wait_s == 5.0
    assert feed.cursor == (5, len(text.encode()))


def test_fractional_epoch(tmp_path):
    (e,), _ = read(tmp_path, f"{T0}.250|c1|support|NONE|ENTERQUEUE||050|1\n")
    assert e.ts == TS0 + timedelta(milliseconds=250)


def test_cursor_is_line_and_byte_offset_of_the_last_line_read(tmp_path):
    text = rows("0|c1|support|NONE|ENTERQUEUE||050|1", "5|c1|support|NONE|ABANDON|1|1|5")
    path = tmp_path / "queue_log"
    path.write_text(text, encoding="utf-8")
    feed = QueueLogFeed(path, CONFIG)
    it = feed.read()
    next(it)
    first_len = len(text.splitlines(keepends=True)[0].encode())
    assert feed.cursor == (1, first_len)
    list(it)
    assert feed.cursor == (2, len(text.encode()))


# -- identity --------------------------------------------------------------------------------------------------


def test_same_file_read_twice_gives_the_same_events(tmp_path):
    text = rows(
        "0|c1|support|NONE|ENTERQUEUE||050|1",
        "10|c1|support|PJSIP/1001|CONNECT|10|u1|3",
        "70|c1|support|PJSIP/1001|COMPLETECALLER|10|60|1",
        "72|NONE|support|PJSIP/1001|PAUSE|break",
        "80|c2|support|NONE|ENTERQUEUE||051|1",
        "90|c2|support|NONE|ABANDON|1|1|10",
    )
    path = tmp_path / "queue_log"
    path.write_text(text, encoding="utf-8")
    feed = QueueLogFeed(path, CONFIG)
    first = list(feed.read())
    second = list(feed.read())  # the same instance again: state from the first read must not leak
    third = list(QueueLogFeed(path, CONFIG).read())
    assert first == second == third
    ids = [e.id for e in first]
    assert len(ids) == len(set(ids))


def test_registered_as_queue_log_feed(tmp_path):
    path = tmp_path / "queue_log"
    path.write_text("", encoding="utf-8")
    feed = load_feed("queue-log", str(path), CONFIG)
    assert isinstance(feed, QueueLogFeed) and feed.name == "queue-log"
    assert list(feed.read()) == []


# -- the shipped sample day ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def sample_items():
    config = load_config(ROOT / "config" / "wallboard.toml")
    feed = QueueLogFeed(SAMPLE, config)
    return list(feed.read()), feed


def test_sample_day_parses_without_dead_letters(sample_items):
    items, feed = sample_items
    dead = [e for e in items if isinstance(e, DeadLetter)]
    assert dead == []
    types = Counter(e.type for e in items)
    assert 1500 <= types["caller_joined"] <= 3000
    for t in (
        "caller_answered",
        "caller_abandoned",
        "caller_overflowed",
        "call_completed",
        "wrapup_completed",
        "agent_missed",
        "member_added",
        "member_removed",
        "member_penalty",
        "agent_state",
    ):
        assert types[t] > 0, t
    reasons = Counter(e.reason for e in items if e.type == "caller_overflowed")
    assert set(reasons) == {"timeout", "empty", "key", "withdrawn"}
    assert Counter(e.ended_by for e in items if e.type == "call_completed").keys() == {"caller", "agent", "transfer"}
    assert {e.reason for e in items if e.type == "agent_state" and e.state == "paused"} >= {"lunch", "break"}
    assert feed.ignored["RINGCANCELED"] > 0 and feed.ignored["DID"] > 0
    # every agent id is a configured one
    agents = {e.agent for e in items if getattr(e, "agent", None)}
    assert agents <= {f"{i}" for i in range(1001, 1029)}
    # counted again from the raw rows: one join per ENTERQUEUE, an answer per CONNECT and per transfer, and
    # (every queue here has a wrap-up) one wrap-up end per completed or transferred call
    verbs = Counter(line.split("|")[4] for line in SAMPLE.read_text(encoding="utf-8").splitlines())
    transfers = verbs["BLINDTRANSFER"] + verbs["ATTENDEDTRANSFER"]
    ended = verbs["COMPLETECALLER"] + verbs["COMPLETEAGENT"] + transfers
    assert types["caller_joined"] == verbs["ENTERQUEUE"]
    assert types["caller_answered"] == verbs["CONNECT"] + transfers
    assert types["call_completed"] == types["wrapup_completed"] == ended
    assert types["caller_abandoned"] == verbs["ABANDON"]
    assert types["agent_missed"] == verbs["RINGNOANSWER"]


def test_sample_day_events_come_in_time_order(sample_items):
    items, _ = sample_items
    # apart from the talk a transfer with no CONNECT infers (once: 1024 on sales call 1795339114.49119, from
    # its ATTENDEDTRANSFER row less 238 s of talk)
    inferred = [(e.agent, e.call_id, e.ts.timestamp()) for e in items if e.id.endswith(":t")]
    assert inferred == [("1024", "1795339114.49119", 1795339368 - 238)]
    stamps = [e.ts for e in items if not e.id.endswith(":t")]
    assert stamps == sorted(stamps)
    tz_local = load_config(ROOT / "config" / "wallboard.toml").centre.tz
    first = stamps[0].astimezone(tz_local)
    assert first.date().isoformat() == "2026-11-22" and first.hour >= 7


def test_sample_day_calls_follow_asterisk_row_order():
    """Per call: DID?, ENTERQUEUE, failed rings (RINGNOANSWER, AGENTDUMP)*, then one ending: CONNECT and a
    COMPLETE* or transfer; a transfer alone (the no-CONNECT case, once); RINGCANCELED* and ABANDON; or one of
    EXIT* / WITHDRAW."""
    calls: dict[str, list[str]] = defaultdict(list)
    epochs = []
    for line in SAMPLE.read_text(encoding="utf-8").splitlines():
        if not line or line.startswith("#"):
            continue
        parts = line.split("|")
        epochs.append(int(parts[0]))
        if parts[1] != "NONE" and parts[2] != "NONE":
            calls[parts[1]].append(parts[4])
    assert epochs == sorted(epochs)
    ends = {"COMPLETECALLER", "COMPLETEAGENT", "BLINDTRANSFER", "ATTENDEDTRANSFER"}
    exits = {"EXITWITHTIMEOUT", "EXITEMPTY", "EXITWITHKEY", "WITHDRAW"}
    no_connect = 0
    for call_id, verbs in calls.items():
        if verbs[0] == "DID":
            verbs = verbs[1:]
        assert verbs[0] == "ENTERQUEUE", (call_id, verbs)
        rest = verbs[1:]
        while rest and rest[0] in ("RINGNOANSWER", "AGENTDUMP"):
            rest = rest[1:]
        if rest[0] == "CONNECT":
            assert len(rest) == 2 and rest[1] in ends, (call_id, verbs)
        elif rest[0] == "ATTENDEDTRANSFER":
            assert len(rest) == 1, (call_id, verbs)
            no_connect += 1
        elif rest[-1] == "ABANDON":
            assert set(rest[:-1]) <= {"RINGCANCELED"}, (call_id, verbs)
        else:
            assert len(rest) == 1 and rest[0] in exits, (call_id, verbs)
    assert no_connect == 1
