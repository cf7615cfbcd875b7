"""The calls-csv feed: the bank profile rule by rule on hand-written rows, and the generic mapping.

Every expected value below is worked out by hand from the row it comes from. Times in Israel: +02:00 in
winter, +03:00 in summer (1999: from 1999-04-02 02:00 to 1999-09-03 02:00 local).
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from feeds.calls_csv import CallsCsvFeed, MappingError, load_mapping
from wallboard.config import WallboardConfig
from wallboard.events import CallCompleted, CallerAbandoned, CallerAnswered, CallerJoined, CallerOverflowed
from wallboard.feed import DeadLetter, load_feed

HEADER = (
    "vru+line\tcall_id\tcustomer_id\tpriority\ttype\tdate\tvru_entry\tvru_exit\tvru_time\tq_start\tq_exit\t"
    "q_time\toutcome\tser_start\tser_exit\tser_time\tserver"
)
IST = timezone(timedelta(hours=2))  # Israel standard time
IDT = timezone(timedelta(hours=3))  # Israel summer time


def row(*cells: object) -> str:
    assert len(cells) == 17, cells
    return "\t".join(str(c) for c in cells)


def bank_file(tmp_path: Path, *rows: str, name: str = "calls.tsv") -> Path:
    p = tmp_path / name
    p.write_text("\n".join([HEADER, *rows]) + "\n", encoding="ascii")
    return p


def read(path: Path, mapping: str = "bank", config: WallboardConfig | None = None):
    feed = CallsCsvFeed(str(path), config or WallboardConfig(), mapping=mapping)
    items = list(feed.read())
    events = [i for i in items if not isinstance(i, DeadLetter)]
    dead = [i for i in items if isinstance(i, DeadLetter)]
    return feed, events, dead


def counters(feed: CallsCsvFeed) -> dict[str, int]:
    keys = ("rows", "offered", "answered", "abandoned", "not_offered", "phantom", "dead")
    return {k: getattr(feed, k) for k in keys}


# ---- one rule at a time ------------------------------------------------------------------------------


def test_queued_answered(tmp_path):
    # Queued 10:00:10, waited 30 s; the service row starts 1 s before q_exit: the answer is q_start + q_time.
    p = bank_file(
        tmp_path,
        row(
            "AA0101",
            100,
            0,
            0,
            "PS",
            990315,
            "10:00:00",
            "10:00:10",
            10,
            "10:00:10",
            "10:00:40",
            30,
            "AGENT",
            "10:00:39",
            "10:05:39",
            300,
            "DANA",
        ),
    )
    feed, events, dead = read(p)
    assert dead == []
    assert [type(e) for e in events] == [CallerJoined, CallerAnswered, CallCompleted]
    j, a, c = events
    src = f"calls-csv:{p}:2"
    assert j.id == "csv:calls.tsv:2:j" and j.source == src
    assert j.queue == "PS" and j.call_id == "AA0101-100"
    assert j.ts == datetime(1999, 3, 15, 10, 0, 10, tzinfo=IST)
    assert j.ts.utcoffset() == timedelta(hours=2)
    assert j.caller is None
    assert a.id == "csv:calls.tsv:2:a" and a.source == src
    assert a.queue == "PS" and a.call_id == "AA0101-100"
    assert a.ts == datetime(1999, 3, 15, 10, 0, 40, tzinfo=IST)
    assert a.wait_s == 30.0 and a.agent == "DANA"
    assert c.id == "csv:calls.tsv:2:c" and c.source == src
    assert c.queue == "PS" and c.call_id == "AA0101-100"
    assert c.ts == datetime(1999, 3, 15, 10, 5, 39, tzinfo=IST)
    assert c.talk_s == 300.0 and c.agent == "DANA"
    assert counters(feed) == {
        "rows": 1,
        "offered": 1,
        "answered": 1,
        "abandoned": 0,
        "not_offered": 0,
        "phantom": 0,
        "dead": 0,
    }


def test_served_straight_from_the_voice_menu_is_answered_with_wait_0(tmp_path):
    # No q_start, a ser_start: offered and answered at vru_exit (11:00:12) with a wait of 0; NO_SERVER = no agent.
    p = bank_file(
        tmp_path,
        row(
            "AA0102",
            101,
            0,
            0,
            "NW",
            990315,
            "11:00:00",
            "11:00:12",
            12,
            "0:00:00",
            "0:00:00",
            0,
            "AGENT",
            "11:00:11",
            "11:02:11",
            120,
            "NO_SERVER",
        ),
    )
    feed, events, dead = read(p)
    assert dead == []
    j, a, c = events
    assert isinstance(j, CallerJoined) and isinstance(a, CallerAnswered) and isinstance(c, CallCompleted)
    assert j.ts == a.ts == datetime(1999, 3, 15, 11, 0, 12, tzinfo=IST)
    assert j.queue == a.queue == c.queue == "NW"
    assert j.call_id == a.call_id == c.call_id == "AA0102-101"
    assert a.wait_s == 0.0 and a.agent is None
    assert c.ts == datetime(1999, 3, 15, 11, 2, 11, tzinfo=IST)
    assert c.talk_s == 120.0 and c.agent is None
    assert (feed.offered, feed.answered) == (1, 1)


def test_hang_after_queueing_is_abandoned(tmp_path):
    # Queued 12:00:06, hung up after 67 s: abandoned at 12:01:13; the HANG row's service columns are not read.
    p = bank_file(
        tmp_path,
        row(
            "AA0103",
            102,
            5551234,
            2,
            "PE",
            990315,
            "12:00:00",
            "12:00:06",
            6,
            "12:00:06",
            "12:01:13",
            67,
            "HANG",
            "0:00:00",
            "0:00:00",
            0,
            "NO_SERVER",
        ),
    )
    feed, events, dead = read(p)
    assert dead == []
    j, ab = events
    assert isinstance(j, CallerJoined) and isinstance(ab, CallerAbandoned)
    assert j.ts == datetime(1999, 3, 15, 12, 0, 6, tzinfo=IST) and j.queue == "PE" and j.call_id == "AA0103-102"
    assert ab.id == "csv:calls.tsv:2:a"
    assert ab.ts == datetime(1999, 3, 15, 12, 1, 13, tzinfo=IST)
    assert ab.wait_s == 67.0 and ab.queue == "PE" and ab.call_id == "AA0103-102"
    assert counters(feed) == {
        "rows": 1,
        "offered": 1,
        "answered": 0,
        "abandoned": 1,
        "not_offered": 0,
        "phantom": 0,
        "dead": 0,
    }


def test_hang_up_in_the_voice_menu_is_never_offered(tmp_path):
    p = bank_file(
        tmp_path,
        row(
            "AA0101",
            36227,
            0,
            0,
            "PS",
            990315,
            "0:14:46",
            "0:15:01",
            15,
            "0:00:00",
            "0:00:00",
            0,
            "HANG",
            "0:00:00",
            "0:00:00",
            0,
            "NO_SERVER",
        ),
    )
    feed, events, dead = read(p)
    assert events == [] and dead == []
    assert counters(feed) == {
        "rows": 1,
        "offered": 0,
        "answered": 0,
        "abandoned": 0,
        "not_offered": 1,
        "phantom": 0,
        "dead": 0,
    }


def test_phantom_rows_are_ignored(tmp_path):
    p = bank_file(
        tmp_path,
        row(
            "AA0101",
            33180,
            69100527,
            2,
            "PS",
            990315,
            "10:19:09",
            "10:19:15",
            6,
            "10:19:15",
            "10:19:31",
            16,
            "PHANTOM",
            "10:19:30",
            "10:20:13",
            43,
            "NO_SERVER",
        ),
    )
    feed, events, dead = read(p)
    assert events == [] and dead == []
    assert counters(feed) == {
        "rows": 1,
        "offered": 0,
        "answered": 0,
        "abandoned": 0,
        "not_offered": 0,
        "phantom": 1,
        "dead": 0,
    }


def test_agent_row_without_queue_or_service_times_is_a_dead_letter(tmp_path):
    bad = row(
        "AA0102",
        28609,
        0,
        0,
        "PS",
        990315,
        "13:39:21",
        "13:39:30",
        9,
        "0:00:00",
        "0:00:00",
        0,
        "AGENT",
        "0:00:00",
        "0:00:00",
        0,
        "GILI",
    )
    good = row(
        "AA0103",
        7,
        0,
        0,
        "PS",
        990315,
        "13:40:00",
        "13:40:05",
        5,
        "13:40:05",
        "13:40:15",
        10,
        "HANG",
        "0:00:00",
        "0:00:00",
        0,
        "NO_SERVER",
    )
    p = bank_file(tmp_path, bad, good)
    feed, events, dead = read(p)
    assert len(dead) == 1
    assert dead[0].source == f"calls-csv:{p}:2"
    assert "outcome" in dead[0].reason and "neither queue nor service" in dead[0].reason
    assert dead[0].raw == bad
    assert [type(e) for e in events] == [CallerJoined, CallerAbandoned]  # reading went on
    assert events[0].call_id == "AA0103-7"
    assert counters(feed) == {
        "rows": 2,
        "offered": 1,
        "answered": 0,
        "abandoned": 1,
        "not_offered": 0,
        "phantom": 0,
        "dead": 1,
    }


def test_malformed_rows_are_dead_letters_naming_the_column(tmp_path):
    ok = [
        "AA0101",
        1,
        0,
        0,
        "PS",
        990315,
        "9:00:00",
        "9:00:05",
        5,
        "9:00:05",
        "9:00:25",
        20,
        "AGENT",
        "9:00:25",
        "9:01:25",
        60,
        "DANA",
    ]
    short = "\t".join(str(c) for c in ok[:16])
    bad_time = list(ok)
    bad_time[9] = "9:0o:05"
    bad_number = list(ok)
    bad_number[11] = "2O"
    bad_outcome = list(ok)
    bad_outcome[12] = "BUSY"
    bad_date = list(ok)
    bad_date[5] = "991332"
    p = bank_file(tmp_path, short, row(*bad_time), row(*bad_number), row(*bad_outcome), row(*bad_date), row(*ok))
    feed, events, dead = read(p)
    assert [d.source for d in dead] == [f"calls-csv:{p}:{n}" for n in (2, 3, 4, 5, 6)]
    assert "expected 17 columns, found 16" in dead[0].reason
    assert "'q_start'" in dead[1].reason and "9:0o:05" in dead[1].reason
    assert "'q_time'" in dead[2].reason and "2O" in dead[2].reason
    assert "'outcome'" in dead[3].reason and "BUSY" in dead[3].reason
    assert "'date'" in dead[4].reason
    assert dead[0].raw == short and dead[1].raw == row(*bad_time)
    assert [type(e) for e in events] == [CallerJoined, CallerAnswered, CallCompleted]
    assert all(e.source == f"calls-csv:{p}:7" for e in events)
    assert counters(feed) == {
        "rows": 6,
        "offered": 1,
        "answered": 1,
        "abandoned": 0,
        "not_offered": 0,
        "phantom": 0,
        "dead": 5,
    }


def test_a_call_across_midnight(tmp_path):
    # Entered 1999-03-15 23:59:50; queued 23:59:55 for 25 s: answered 00:00:20 on the 16th, talk to 00:03:19.
    p = bank_file(
        tmp_path,
        row(
            "AA0104",
            103,
            0,
            0,
            "PS",
            990315,
            "23:59:50",
            "23:59:55",
            5,
            "23:59:55",
            "0:00:20",
            25,
            "AGENT",
            "0:00:19",
            "0:03:19",
            180,
            "TOVA",
        ),
    )
    _, (j, a, c), dead = read(p)
    assert dead == []
    assert j.ts == datetime(1999, 3, 15, 23, 59, 55, tzinfo=IST)
    assert a.ts == datetime(1999, 3, 16, 0, 0, 20, tzinfo=IST) and a.wait_s == 25.0
    assert c.ts == datetime(1999, 3, 16, 0, 3, 19, tzinfo=IST) and c.talk_s == 180.0


def test_queue_start_at_exactly_midnight_is_a_queue_start(tmp_path):
    # A real February row: q_start "0:00:00" is midnight here (q_exit and q_time say the call queued).
    p = bank_file(
        tmp_path,
        row(
            "AA0102",
            31056,
            15696776,
            2,
            "PS",
            990215,
            "23:59:54",
            "23:59:54",
            0,
            "0:00:00",
            "0:00:27",
            27,
            "AGENT",
            "0:00:26",
            "0:01:33",
            67,
            "AVNI",
        ),
    )
    _, (j, a, c), dead = read(p)
    assert dead == []
    assert j.ts == datetime(1999, 2, 16, 0, 0, 0, tzinfo=IST)
    assert a.ts == datetime(1999, 2, 16, 0, 0, 27, tzinfo=IST) and a.wait_s == 27.0 and a.agent == "AVNI"
    assert c.ts == datetime(1999, 2, 16, 0, 1, 33, tzinfo=IST) and c.talk_s == 67.0


def test_negative_vru_time_is_not_a_midnight_crossing(tmp_path):
    # A real January row: vru_exit 53 s *before* vru_entry (vru_time -53), same day; the queue times follow it.
    p = bank_file(
        tmp_path,
        row(
            "AA0101",
            34400,
            48820351,
            2,
            "PS",
            990315,
            "15:46:49",
            "15:45:56",
            -53,
            "15:45:56",
            "15:46:59",
            63,
            "AGENT",
            "15:46:57",
            "15:53:31",
            394,
            "DORIT",
        ),
    )
    _, (j, a, c), dead = read(p)
    assert dead == []
    assert j.ts == datetime(1999, 3, 15, 15, 45, 56, tzinfo=IST)
    assert a.ts == datetime(1999, 3, 15, 15, 46, 59, tzinfo=IST) and a.wait_s == 63.0
    assert c.ts == datetime(1999, 3, 15, 15, 53, 31, tzinfo=IST)


def test_daylight_saving_days(tmp_path):
    rows = [
        # The day before summer time: +02:00.
        row(
            "AA0101",
            1,
            0,
            0,
            "PS",
            990401,
            "10:00:00",
            "10:00:05",
            5,
            "10:00:05",
            "10:00:15",
            10,
            "HANG",
            "0:00:00",
            "0:00:00",
            0,
            "NO_SERVER",
        ),
        # The day summer time starts (02:00 -> 03:00): a 20 s wait from 01:59:50 ends at 03:00:10 wall clock.
        row(
            "AA0101",
            2,
            0,
            0,
            "NE",
            990402,
            "1:59:40",
            "1:59:50",
            10,
            "1:59:50",
            "3:00:10",
            20,
            "AGENT",
            "3:00:10",
            "3:01:10",
            60,
            "MIKI",
        ),
        # Later that day: +03:00.
        row(
            "AA0101",
            3,
            0,
            0,
            "PS",
            990402,
            "10:00:00",
            "10:00:05",
            5,
            "10:00:05",
            "10:00:15",
            10,
            "HANG",
            "0:00:00",
            "0:00:00",
            0,
            "NO_SERVER",
        ),
        # The day summer time ends (02:00 -> 01:00): 01:30 happens twice; read as the first (+03:00).
        row(
            "AA0101",
            4,
            0,
            0,
            "TT",
            990903,
            "1:30:00",
            "1:30:05",
            5,
            "1:30:05",
            "1:30:15",
            10,
            "HANG",
            "0:00:00",
            "0:00:00",
            0,
            "NO_SERVER",
        ),
        # After the change: +02:00 again.
        row(
            "AA0101",
            5,
            0,
            0,
            "TT",
            990903,
            "10:00:00",
            "10:00:05",
            5,
            "10:00:05",
            "10:00:15",
            10,
            "HANG",
            "0:00:00",
            "0:00:00",
            0,
            "NO_SERVER",
        ),
    ]
    _, events, dead = read(bank_file(tmp_path, *rows))
    assert dead == []
    by = {(e.call_id, e.type): e for e in events}
    j1 = by[("AA0101-1", "caller_joined")]
    assert j1.ts == datetime(1999, 4, 1, 10, 0, 5, tzinfo=IST) and j1.ts.utcoffset() == timedelta(hours=2)
    j2 = by[("AA0101-2", "caller_joined")]
    a2 = by[("AA0101-2", "caller_answered")]
    c2 = by[("AA0101-2", "call_completed")]
    assert j2.ts == datetime(1999, 4, 1, 23, 59, 50, tzinfo=timezone.utc)  # 01:59:50 +02:00
    assert a2.ts == datetime(1999, 4, 2, 0, 0, 10, tzinfo=timezone.utc)  # 03:00:10 +03:00
    assert a2.ts - j2.ts == timedelta(seconds=20) and a2.wait_s == 20.0  # fixed offsets: real elapsed time
    assert a2.ts.utcoffset() == timedelta(hours=3) and (a2.ts.hour, a2.ts.minute, a2.ts.second) == (3, 0, 10)
    assert c2.ts == datetime(1999, 4, 2, 3, 1, 10, tzinfo=IDT)
    j3 = by[("AA0101-3", "caller_joined")]
    assert j3.ts == datetime(1999, 4, 2, 10, 0, 5, tzinfo=IDT) and j3.ts.utcoffset() == timedelta(hours=3)
    j4 = by[("AA0101-4", "caller_joined")]
    assert j4.ts == datetime(1999, 9, 3, 1, 30, 5, tzinfo=IDT)
    j5 = by[("AA0101-5", "caller_joined")]
    assert j5.ts == datetime(1999, 9, 3, 10, 0, 5, tzinfo=IST) and j5.ts.utcoffset() == timedelta(hours=2)
    # In time order across the zone changes.
    assert [e.ts for e in events] == sorted(e.ts for e in events)


def test_same_call_id_on_two_lines_is_two_calls(tmp_path):
    rows = [
        row(
            "AA0101",
            500,
            0,
            0,
            "PS",
            990315,
            "9:00:00",
            "9:00:05",
            5,
            "9:00:05",
            "9:00:15",
            10,
            "AGENT",
            "9:00:15",
            "9:02:15",
            120,
            "DANA",
        ),
        row(
            "AA0202",
            500,
            0,
            0,
            "PS",
            990315,
            "9:00:00",
            "9:00:05",
            5,
            "9:00:05",
            "9:00:25",
            20,
            "HANG",
            "0:00:00",
            "0:00:00",
            0,
            "NO_SERVER",
        ),
    ]
    feed, events, dead = read(bank_file(tmp_path, *rows))
    assert dead == []
    assert {e.call_id for e in events} == {"AA0101-500", "AA0202-500"}
    assert [(e.call_id, e.type) for e in events] == [
        ("AA0101-500", "caller_joined"),  # same second: file order (stable sort)
        ("AA0202-500", "caller_joined"),
        ("AA0101-500", "caller_answered"),
        ("AA0202-500", "caller_abandoned"),
        ("AA0101-500", "call_completed"),
    ]
    assert (feed.offered, feed.answered, feed.abandoned) == (2, 1, 1)


# ---- order, ids, clamping ----------------------------------------------------------------------------


def test_events_come_out_in_time_order_with_the_join_first_at_equal_times(tmp_path):
    rows = [
        # Later call first in the file.
        row(
            "AA0101",
            2,
            0,
            0,
            "PS",
            990315,
            "9:10:00",
            "9:10:05",
            5,
            "9:10:05",
            "9:10:15",
            10,
            "HANG",
            "0:00:00",
            "0:00:00",
            0,
            "NO_SERVER",
        ),
        # Served from the voice menu: join and answer share 9:00:05; the join must come first.
        row(
            "AA0101",
            1,
            0,
            0,
            "PS",
            990315,
            "9:00:00",
            "9:00:05",
            5,
            "0:00:00",
            "0:00:00",
            0,
            "AGENT",
            "9:00:04",
            "9:05:04",
            300,
            "DANA",
        ),
        # Another call's answer at 9:00:05 too, then its completion.
        row(
            "AA0102",
            3,
            0,
            0,
            "PS",
            990315,
            "8:59:50",
            "8:59:55",
            5,
            "8:59:55",
            "9:00:05",
            10,
            "AGENT",
            "9:00:05",
            "9:00:06",
            1,
            "MIKI",
        ),
    ]
    _, events, _ = read(bank_file(tmp_path, *rows))
    assert [e.id for e in events] == [
        "csv:calls.tsv:4:j",  # 8:59:55
        "csv:calls.tsv:3:j",  # 9:00:05 join (order 0)
        "csv:calls.tsv:3:a",  # 9:00:05 answer (order 1), file line 3 before line 4
        "csv:calls.tsv:4:a",  # 9:00:05 answer (order 1)
        "csv:calls.tsv:4:c",  # 9:00:06
        "csv:calls.tsv:3:c",  # 9:05:04
        "csv:calls.tsv:2:j",  # 9:10:05
        "csv:calls.tsv:2:a",  # 9:10:15
    ]


def test_completion_is_never_before_the_answer(tmp_path):
    # A real pattern: service 12:09:45-12:09:46 while q_start + q_time = 12:09:47.
    p = bank_file(
        tmp_path,
        row(
            "AA0106",
            35183,
            59756973,
            1,
            "PS",
            990315,
            "12:08:46",
            "12:08:52",
            6,
            "12:08:52",
            "12:09:47",
            55,
            "AGENT",
            "12:09:45",
            "12:09:46",
            1,
            "YIFAT",
        ),
    )
    _, (j, a, c), _ = read(p)
    assert a.ts == datetime(1999, 3, 15, 12, 9, 47, tzinfo=IST) and a.wait_s == 55.0
    assert c.ts == a.ts and c.talk_s == 1.0


def test_queued_answered_without_service_times_has_no_completion(tmp_path):
    p = bank_file(
        tmp_path,
        row(
            "AA0102",
            28607,
            11766342,
            1,
            "PS",
            990315,
            "13:01:45",
            "13:01:51",
            6,
            "13:01:51",
            "13:04:08",
            137,
            "AGENT",
            "0:00:00",
            "0:00:00",
            0,
            "IDIT",
        ),
    )
    feed, events, _ = read(p)
    assert [type(e) for e in events] == [CallerJoined, CallerAnswered]
    assert events[1].wait_s == 137.0 and events[1].agent == "IDIT"
    assert feed.answered == 1


def test_ids_are_stable_across_reads(tmp_path):
    rows = [
        row(
            "AA0101",
            2,
            0,
            0,
            "PS",
            990315,
            "9:10:00",
            "9:10:05",
            5,
            "9:10:05",
            "9:10:15",
            10,
            "HANG",
            "0:00:00",
            "0:00:00",
            0,
            "NO_SERVER",
        ),
        row(
            "AA0101",
            1,
            0,
            0,
            "PS",
            990315,
            "9:00:00",
            "9:00:05",
            5,
            "0:00:00",
            "0:00:00",
            0,
            "AGENT",
            "9:00:04",
            "9:05:04",
            300,
            "DANA",
        ),
    ]
    p = bank_file(tmp_path, *rows)
    feed = CallsCsvFeed(str(p), WallboardConfig())
    first = [e.model_dump() for e in feed.read()]
    second = [e.model_dump() for e in feed.read()]
    assert first == second and len(first) == 5
    assert feed.rows == 2 and feed.offered == 2  # counters restart with each read


def test_found_through_the_entry_point_with_the_bank_mapping_by_default(tmp_path):
    p = bank_file(
        tmp_path,
        row(
            "AA0101",
            1,
            0,
            0,
            "IN",
            990315,
            "9:00:00",
            "9:00:05",
            5,
            "9:00:05",
            "9:00:15",
            10,
            "HANG",
            "0:00:00",
            "0:00:00",
            0,
            "NO_SERVER",
        ),
    )
    feed = load_feed("calls-csv", str(p), WallboardConfig())
    assert feed.name == "calls-csv" and feed.mapping.name == "bank" and feed.mapping.profile == "bank"
    assert [e.type for e in feed.read()] == ["caller_joined", "caller_abandoned"]


def test_a_mapping_by_path_and_mapping_errors(tmp_path):
    # The built-in bank mapping, copied, with its queue values renamed.
    assert load_mapping("bank").queue_names == {}
    custom = tmp_path / "mine.toml"
    bank_toml = Path(__file__).parents[1] / "feeds" / "mappings" / "bank.toml"
    custom.write_text(bank_toml.read_text(encoding="utf-8") + '\n[queue_names]\nPS = "private"\n', encoding="utf-8")
    p = bank_file(
        tmp_path,
        row(
            "AA0101",
            1,
            0,
            0,
            "PS",
            990315,
            "9:00:00",
            "9:00:05",
            5,
            "9:00:05",
            "9:00:15",
            10,
            "HANG",
            "0:00:00",
            "0:00:00",
            0,
            "NO_SERVER",
        ),
    )
    _, events, _ = read(p, mapping=str(custom))
    assert {e.queue for e in events} == {"private"}

    with pytest.raises(MappingError, match="no mapping 'nosuch'"):
        CallsCsvFeed(str(p), WallboardConfig(), mapping="nosuch")
    broken = tmp_path / "broken.toml"
    broken.write_text('profile = "bank"\n[columns]\ncall_id = "call_id"\n[outcomes]\nAGENT = "answered"\n')
    with pytest.raises(MappingError, match="needs columns for"):
        CallsCsvFeed(str(p), WallboardConfig(), mapping=str(broken))
    wrong_header = tmp_path / "other.tsv"
    wrong_header.write_text(HEADER.replace("q_time", "queue_time") + "\n")
    with pytest.raises(MappingError, match="'q_time'"):
        list(CallsCsvFeed(str(wrong_header), WallboardConfig()).read())


# ---- the generic mapping -----------------------------------------------------------------------------

GENERIC_CSV = """\
call_id,queue,joined_at,wait_s,outcome,talk_s,agent
c1,support,2026-11-23 09:00:00,12,answered,180,1001
c2,support,2026-11-23 09:01:30,40,abandoned,,
c3,sales,2026-11-23 09:02:00,300,overflow,,
c4,sales,2026-11-23 09:03:00,x,answered,10,1002
"""


def test_generic_mapping(tmp_path):
    p = tmp_path / "calls.csv"
    p.write_text(GENERIC_CSV, encoding="utf-8")
    config = WallboardConfig(centre={"timezone": "Europe/London"})  # naive times are in the centre's zone
    feed, events, dead = read(p, mapping="generic", config=config)
    utc = timezone.utc
    assert [(e.type, e.call_id, e.queue, e.ts) for e in events] == [
        ("caller_joined", "c1", "support", datetime(2026, 11, 23, 9, 0, 0, tzinfo=utc)),
        ("caller_answered", "c1", "support", datetime(2026, 11, 23, 9, 0, 12, tzinfo=utc)),
        ("caller_joined", "c2", "support", datetime(2026, 11, 23, 9, 1, 30, tzinfo=utc)),
        ("caller_joined", "c3", "sales", datetime(2026, 11, 23, 9, 2, 0, tzinfo=utc)),
        ("caller_abandoned", "c2", "support", datetime(2026, 11, 23, 9, 2, 10, tzinfo=utc)),
        ("call_completed", "c1", "support", datetime(2026, 11, 23, 9, 3, 12, tzinfo=utc)),
        ("caller_overflowed", "c3", "sales", datetime(2026, 11, 23, 9, 7, 0, tzinfo=utc)),
    ]
    by = {(e.call_id, e.type): e for e in events}
    assert by[("c1", "caller_answered")].agent == "1001" and by[("c1", "caller_answered")].wait_s == 12.0
    assert by[("c1", "call_completed")].talk_s == 180.0 and by[("c1", "call_completed")].agent == "1001"
    assert by[("c2", "caller_abandoned")].wait_s == 40.0
    ov = by[("c3", "caller_overflowed")]
    assert isinstance(ov, CallerOverflowed) and ov.reason == "timeout" and ov.wait_s == 300.0
    assert by[("c1", "caller_joined")].id == "csv:calls.csv:2:j"
    assert len(dead) == 1 and dead[0].source == f"calls-csv:{p}:5" and "'wait_s'" in dead[0].reason
    assert (feed.rows, feed.offered, feed.answered, feed.abandoned, feed.overflowed, feed.dead) == (4, 3, 1, 1, 1, 1)


def test_generic_mapping_file_of_ones_own(tmp_path):
    # Another layout: semicolons, other column names and outcome words, epoch times, a reason column.
    mapping = tmp_path / "pbx.toml"
    mapping.write_text(
        """
profile = "generic"
delimiter = ";"
time_format = "epoch"
[columns]
call_id = "id"
queue = "q"
joined_at = "t"
wait_s = "w"
outcome = "result"
overflow_reason = "why"
caller = "from"
[outcomes]
OK = "answered"
LOST = "abandoned"
OUT = "overflowed"
IVR = "not_offered"
TEST = "ignore"
""",
        encoding="utf-8",
    )
    p = tmp_path / "x.csv"
    p.write_text(
        "id;q;t;w;result;why;from\n"
        'a;"billing";1700000000;5;OK;;0541234567\n'
        "b;billing;1700000010;65;OUT;callback;\n"
        "c;billing;1700000020;0;IVR;;\n"
        "d;billing;1700000030;0;TEST;;\n",
        encoding="utf-8",
    )
    feed, events, dead = read(p, mapping=str(mapping))
    assert dead == []
    t0 = datetime.fromtimestamp(1700000000, timezone.utc)
    assert [(e.type, e.call_id, e.ts - t0) for e in events] == [
        ("caller_joined", "a", timedelta(0)),
        ("caller_answered", "a", timedelta(seconds=5)),
        ("caller_joined", "b", timedelta(seconds=10)),
        ("caller_overflowed", "b", timedelta(seconds=75)),
    ]
    assert events[0].caller == "0541234567" and events[0].queue == "billing"
    assert events[1].agent is None and events[1].wait_s == 5.0
    assert events[3].reason == "callback" and events[3].wait_s == 65.0
    assert (feed.rows, feed.offered, feed.not_offered, feed.phantom) == (4, 2, 1, 1)
