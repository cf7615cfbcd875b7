"""Bad input at scale (hypothesis): whatever reaches us — AMI bytes, queue_log lines, call-record rows, config
files, websocket frames — ends as events, exactly one dead letter with a reason, or a clear refusal; never an
exception, and never half applied.

"Never half applied" is checked by comparison: the input with every rejected record blanked out must give the
same events (feeds), the same mapper state afterwards (AMI, which is stateful), and the same Redis content
(through the engine) as the input with them. Inputs are real lines (samples/sample_day.queue_log, bank rows
from ../shared/data, the AMI excerpts) mutated: fields replaced, added, dropped, verbs changed, unicode, huge
and non-finite numbers, stray quotes and separators, binary junk.

The runs are derandomized (the same examples every time) and sized to take well under a minute together.
``WALLBOARD_PROPERTY_EXAMPLES=2000 pytest tests/test_properties.py`` searches randomly with that many examples
per test instead (slow; for hunting, not for CI).
"""

from __future__ import annotations

import asyncio
import copy
import json
import math
import os
import tempfile
import threading
import tomllib
import uuid
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import redis
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from feeds.ami_capture import AmiCaptureFeed
from feeds.calls_csv import CallsCsvFeed
from feeds.queue_log import QueueLogFeed
from wallboard.ami.mapper import AmiMapper
from wallboard.ami.protocol import Framer, Message, ParseError, parse
from wallboard.config import ConfigError, cross_problems, load_config
from wallboard.feed import DeadLetter
from wallboard.hub.protocol import Malformed, parse_client_message
from wallboard.keys import Keys

ROOT = Path(__file__).resolve().parent.parent
CONFIG_PATH = ROOT / "config" / "wallboard.toml"
CONFIG = load_config(CONFIG_PATH)
SAMPLE = ROOT / "samples" / "sample_day.queue_log"
AMI_EXCERPTS = Path("/work/shared/data/asterisk_ami/github_issue_ami_event_excerpts.txt")
_RANDOM = int(os.environ.get("WALLBOARD_PROPERTY_EXAMPLES", "0"))


def fuzz(n: int):
    """``n`` examples, the same ones every run (unless WALLBOARD_PROPERTY_EXAMPLES asks for a random search)."""
    return settings(
        max_examples=_RANDOM or n,
        deadline=None,
        derandomize=not _RANDOM,
        database=None,
        suppress_health_check=list(HealthCheck),
    )


def redis_url() -> str:
    return os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")


# ---- strategies shared by the feeds --------------------------------------------------------------------------

# text that can be written to a UTF-8 file (no lone surrogates), no line breaks (a line is mutated, not split)
TEXT = st.text(alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n"), max_size=12)
NASTY = st.sampled_from(
    [
        "",
        " ",
        "NONE",
        "-1",
        "-0",
        "0",
        "nan",
        "NaN",
        "inf",
        "-inf",
        "1e308",
        "1e400",
        "9" * 40,
        "9" * 400,
        "1_000",
        "0x10",
        "١٢٣",
        "12abc",
        "３",
        "\u200f5",
        "😀",
        "שלום",
        "\x00",
        "\t",
        "|",
        ",",
        '"',
        '"a,b"',
        "0:00:00",
        "23:59:59",
        "24:00:00",
        "9:99:99",
        "990231",
        "000000",
        "2026-02-30 09:00:00",
        "9999-12-31 23:59:59",
        "0001-01-01 00:00:00",
        "PJSIP/1001",
        "Agent/1001",
        "support",
        "sales",
    ]
)
FIELD = st.one_of(NASTY, TEXT, st.integers(-(10**20), 10**20).map(str), st.floats().map(repr))


def mutated_line(lines: list[str], sep: str, verbs: list[str] | None = None, verb_at: int = 4):
    """A real line with 0-3 edits: a field replaced, one added, one dropped, the verb changed, cut short."""

    @st.composite
    def build(draw):
        parts = draw(st.sampled_from(lines)).split(sep)
        for _ in range(draw(st.integers(0, 3))):
            op = draw(st.integers(0, 4))
            if op == 0 and parts:
                parts[draw(st.integers(0, len(parts) - 1))] = draw(FIELD)
            elif op == 1:
                parts.insert(draw(st.integers(0, len(parts))), draw(FIELD))
            elif op == 2 and parts:
                del parts[draw(st.integers(0, len(parts) - 1))]
            elif op == 3 and verbs and len(parts) > verb_at:
                parts[verb_at] = draw(st.sampled_from(verbs))
            else:
                parts = parts[: draw(st.integers(0, len(parts)))]
        return sep.join(parts).replace("\r", " ").replace("\n", " ")

    return build()


def by_line(items: list, prefix: str) -> dict[int, list]:
    """Items grouped by the line number at the end of their ``source`` (``feed:path:line``)."""
    out: dict[int, list] = {}
    for x in items:
        assert x.source.startswith(prefix), x
        out.setdefault(int(x.source.rsplit(":", 1)[1]), []).append(x)
    return out


def event_set(items: list, path: Path | None = None) -> list[str]:
    """Events as comparable text, in a stable order (a rejected line may move an inferred event's place), the
    input file's folder left out of their sources (two reads, two temporary folders)."""
    out = (x.model_dump_json() for x in items if not isinstance(x, DeadLetter))
    return sorted(e.replace(str(path.parent), "<dir>") for e in out) if path else sorted(out)


def check_dead(d: DeadLetter) -> None:
    assert isinstance(d.reason, str) and d.reason.strip(), d
    assert isinstance(d.raw, str)


@contextmanager
def written(text: str | bytes, suffix: str = ""):
    with tempfile.TemporaryDirectory(prefix="wbprop") as folder:
        path = Path(folder) / f"input{suffix}"
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text, encoding="utf-8")
        yield path


# ---- (a) AMI: framing, parsing, the capture feed, the mapper ------------------------------------------------

AMI_BLOCKS = [
    b"Event: QueueCallerJoin\nQueue: support\nUniqueid: 1795417200.1\nCallerIDNum: 0501234567\nPosition: 1",
    b"Event: AgentConnect\nQueue: support\nUniqueid: 1795417200.1\nMemberName: PJSIP/1001\nHoldTime: 12\nRingTime: 3",
    b"Event: AgentComplete\nQueue: support\nUniqueid: 1795417200.1\nMemberName: PJSIP/1001\nTalkTime: 60\n"
    b"Reason: caller",
    b"Event: QueueCallerLeave\nQueue: support\nUniqueid: 1795417200.2",
    b"Event: QueueMemberStatus\nQueue: sales\nMemberName: Agent/1024\nInterface: PJSIP/1024\nStatus: 1\nPaused: 0",
    b"Response: Success\nActionID: 1\nMessage: Authentication accepted",
]
if AMI_EXCERPTS.is_file():  # real events pasted into GitHub issues (shared data, read-only)
    AMI_BLOCKS += [
        b"\n".join(x for x in b.split(b"\n") if not x.startswith(b"#"))
        for b in AMI_EXCERPTS.read_bytes().split(b"\n\n")
        if b.strip(b"#\n ")
    ]
AMI_KEYS = [
    "Uniqueid",
    "Queue",
    "MemberName",
    "Interface",
    "HoldTime",
    "TalkTime",
    "RingTime",
    "Timestamp",
    "Penalty",
    "Status",
    "Paused",
    "Wrapuptime",
    "Position",
    "CallerIDNum",
    "Channel",
    "DestChannel",
    "DestUniqueid",
    "DialStatus",
    "Variable",
    "Value",
    "Linkedid",
    "Reason",
    "LastCall",
]
AMI_VALUE = st.one_of(
    FIELD.map(lambda s: s.encode("utf-8")),
    st.binary(max_size=8),
    st.sampled_from([b"\xff\xfe", b"1795417200.1", b"99999999999.9", b"1e10"]),
)


@st.composite
def ami_block(draw) -> bytes:
    lines = draw(st.sampled_from(AMI_BLOCKS)).split(b"\n")
    for _ in range(draw(st.integers(0, 3))):
        op = draw(st.integers(0, 4))
        if op == 0 and lines:
            i = draw(st.integers(0, len(lines) - 1))
            lines[i] = lines[i].split(b":", 1)[0] + b": " + draw(AMI_VALUE)
        elif op == 1:
            lines.insert(
                draw(st.integers(0, len(lines))), draw(st.sampled_from(AMI_KEYS)).encode() + b": " + draw(AMI_VALUE)
            )
        elif op == 2 and lines:
            del lines[draw(st.integers(0, len(lines) - 1))]
        elif op == 3:  # junk: no colon, bad UTF-8, a line longer than the framer takes
            lines.insert(draw(st.integers(0, len(lines))), draw(st.one_of(st.binary(max_size=30), st.just(b"x" * 300))))
        else:
            lines = lines[: draw(st.integers(0, len(lines)))]
    return b"\r\n".join(line.replace(b"\n", b" ") for line in lines)


AMI_STREAM = st.lists(ami_block(), min_size=1, max_size=6).map(lambda bs: b"\r\n\r\n".join(bs))


def frame(data: bytes, cuts: list[int]) -> list[tuple]:
    framer, out, i = Framer(max_line=256), [], 0
    for n in cuts:
        out += framer.feed(data[i : i + n])
        i += n
    out += framer.feed(data[i:])
    tail = framer.close()
    return [(b.lines, b.line_no, b.error) for b in out + ([tail] if tail else [])]


@fuzz(300)
@given(AMI_STREAM, st.lists(st.integers(1, 40), max_size=30))
def test_ami_framing_does_not_depend_on_how_the_bytes_arrive_and_parse_refuses_cleanly(data, cuts):
    blocks = frame(data, cuts)
    assert blocks == frame(data, [])  # one read or many: the same blocks
    for lines, line_no, error in blocks:
        assert line_no >= 1 and lines
        if error:
            assert "longer than" in error
            continue
        try:
            fields = parse(lines)
        except ParseError as e:
            assert str(e).startswith("line ")
        else:
            assert all(k == k.strip().lower() and k for k in fields)


@fuzz(150)
@given(st.lists(ami_block(), min_size=1, max_size=8), st.booleans())
def test_ami_capture_every_block_is_events_or_one_dead_letter(blocks, newline_at_end):
    data = b"\n\n".join(blocks) + (b"\n\n" if newline_at_end else b"")
    with written(data, ".txt") as path:
        items = list(AmiCaptureFeed(path, CONFIG).read())
    prefix = f"ami-capture:{path}:"
    dead = [x for x in items if isinstance(x, DeadLetter)]
    for d in dead:
        check_dead(d)
    per_block = by_line(dead, prefix)
    assert all(len(v) == 1 for v in per_block.values()), per_block
    for e in items:
        if not isinstance(e, DeadLetter):  # a rejected block made none of its own events (ids name the block)
            assert e.id.split(":")[1] not in {str(n) for n in per_block}, e


MEMBERS = st.sampled_from(["1001", "PJSIP/1001", "Agent/1024", "PJSIP/1024", "", "Local/7001@from-queue/n"])
CALLS_ = st.sampled_from(["1795417200.1", "1795417200.2", "1795417201.7", "", "junk"])
AMI_NAMES = st.sampled_from(
    [
        "QueueCallerJoin",
        "QueueCallerLeave",
        "QueueCallerAbandon",
        "AgentCalled",
        "AgentConnect",
        "AgentComplete",
        "AgentRingNoAnswer",
        "AgentDump",
        "QueueMemberStatus",
        "QueueMemberAdded",
        "QueueMemberRemoved",
        "QueueMemberPause",
        "QueueMemberPenalty",
        "DialBegin",
        "DialEnd",
        "Hangup",
        "VarSet",
        "Newchannel",
        "Teleport",
        "join",
    ]
)
GOOD_NUMBER = st.sampled_from(["0", "1", "3", "12", "60", "2.5"])


@st.composite
def ami_message(draw) -> dict[str, str]:
    f = {
        "event": draw(AMI_NAMES),
        "queue": draw(st.sampled_from(["support", "sales", ""])),
        "uniqueid": draw(CALLS_),
        "membername": draw(MEMBERS),
    }
    for key in ("holdtime", "talktime", "ringtime", "penalty", "status", "position", "wrapuptime", "paused"):
        if draw(st.booleans()):
            f[key] = draw(st.one_of(GOOD_NUMBER, GOOD_NUMBER, FIELD))
    if f["event"] == "VarSet":
        f.update(variable="QUEUESTATUS", value=draw(st.sampled_from(["TIMEOUT", "CONTINUE", "LEAVEEMPTY", ""])))
    if f["event"] in ("DialBegin", "DialEnd"):
        f.update(
            channel="PJSIP/1001-0000001",
            destuniqueid=draw(CALLS_),
            destchannel="PJSIP/1024-0000002",
            dialstatus=draw(st.sampled_from(["ANSWER", "BUSY", ""])),
        )
    if draw(st.integers(0, 9)) == 0:
        f["timestamp"] = draw(FIELD)
    return {k: v for k, v in f.items() if v or draw(st.booleans())}


def run_mapper(msgs: list[tuple[int, dict]]) -> tuple[list, list[int]]:
    """Live mode (time received), so the capture clock plays no part; returns (items, rejected positions)."""
    mapper, out, rejected = AmiMapper(CONFIG, settle_s=3), [], []
    t0 = datetime(2026, 11, 23, 9, 0, tzinfo=timezone.utc)
    for i, fields in msgs:
        got = mapper.map(Message(fields), t0 + timedelta(seconds=i), str(i))
        dead = [x for x in got if isinstance(x, DeadLetter)]
        if dead:  # a rejected message is one dead letter and nothing else
            assert len(got) == 1, got
            check_dead(dead[0])
            rejected.append(i)
        out += got
    return out + mapper.flush(), rejected


@fuzz(300)
@given(st.lists(ami_message(), max_size=25))
@example(
    [  # found: a bad HoldTime dropped the waiting caller; a bad Status left the membership half recorded
        {"event": "QueueCallerJoin", "queue": "support", "uniqueid": "1795417200.1"},
        {
            "event": "AgentConnect",
            "queue": "support",
            "uniqueid": "1795417200.1",
            "membername": "1001",
            "holdtime": "x",
        },
        {"event": "QueueMemberStatus", "queue": "support", "membername": "1001", "penalty": "0", "status": "x"},
        {"event": "QueueMemberStatus", "queue": "support", "membername": "1001", "penalty": "0", "status": "1"},
        {"event": "QueueCallerLeave", "queue": "support", "uniqueid": "1795417200.1"},
    ]
)
@example([{"event": "AgentConnect", "queue": "q", "uniqueid": "1.1", "membername": "a", "timestamp": "nan"}])
def test_ami_mapper_a_rejected_event_leaves_no_trace(msgs):
    items, rejected = run_mapper(list(enumerate(msgs)))
    # the same messages without the rejected ones: the same events (an unknown name reported once moves its
    # report to its next message, which makes no event either)
    without, _ = run_mapper([(i, m) for i, m in enumerate(msgs) if i not in set(rejected)])
    assert event_set(items) == event_set(without)


# ---- (b) queue_log ---------------------------------------------------------------------------------------------

QL_LINES = [line.rstrip("\n") for line in SAMPLE.read_text(encoding="utf-8").splitlines() if line.strip()]
QL_LINES += [  # verbs the sample day does not use
    "1795330000|c9|support|PJSIP/1001|BLINDTRANSFER|2000|ctx|5|60|1",
    "1795330000|c9|support|PJSIP/1001|ATTENDEDTRANSFER|BRIDGE|b1|x|5|60|1",
    "1795330000|c9|support|PJSIP/1001|TRANSFER|2000|ctx|5|60",
    "1795330000|NONE|support|PJSIP/1001|PAUSE|lunch",
    "1795330000|NONE|NONE|Agent/1001|AGENTLOGOFF|",
    "1795330000|NONE|NONE|Agent/1001|AGENTLOGIN|",
]
QL_VERBS = sorted({line.split("|")[4] for line in QL_LINES}) + ["BOGUS", "enterqueue", "", "CONNECT "]
QL_LINE = st.one_of(mutated_line(QL_LINES, "|", QL_VERBS), st.sampled_from(QL_LINES), TEXT, st.just(""))


def read_queue_log(text: str) -> tuple[list, QueueLogFeed, Path]:
    with written(text) as path:
        feed = QueueLogFeed(path, CONFIG)
        return list(feed.read()), feed, path


def blank(lines: list[str], numbers) -> list[str]:
    return ["" if n in numbers else line for n, line in enumerate(lines, 1)]


@fuzz(150)
@given(st.lists(QL_LINE, min_size=1, max_size=20))
def test_queue_log_each_line_is_its_events_or_one_dead_letter(lines):
    items, feed, path = read_queue_log("\n".join(lines) + "\n")
    groups = by_line(items, f"queue-log:{path}:")
    silent = 0
    for n, line in enumerate(lines, 1):
        got = groups.get(n, [])
        dead = [x for x in got if isinstance(x, DeadLetter)]
        if dead:
            assert got == dead and len(dead) == 1, got  # no event of a rejected line, inferred ones included
            check_dead(dead[0])
            assert dead[0].raw == line
        elif not got and line.strip() and not line.startswith("#"):
            silent += 1
    assert sum(feed.ignored.values()) == silent  # a line with no output is an ignored verb, counted
    # the rejected lines, blanked, change no event
    rejected = {n for n, got in groups.items() if isinstance(got[0], DeadLetter)}
    again, _, path2 = read_queue_log("\n".join(blank(lines, rejected)) + "\n")
    assert event_set(again, path2) == event_set(items, path)


# ---- (c) call records: the bank mapping and the generic one ----------------------------------------------------

BANK_HEADER = (
    "vru+line\tcall_id\tcustomer_id\tpriority\ttype\tdate\tvru_entry\tvru_exit\tvru_time\tq_start\tq_exit"
    "\tq_time\toutcome\tser_start\tser_exit\tser_time\tserver"
)
BANK_ROWS = [  # real rows of ../shared/data/anonymous_bank/03_March.txt: queued, from the menu, hung up, phantom
    "AA0101\t36233\t0\t0\tNW\t990301\t8:30:00\t8:30:09\t9\t8:30:09\t8:30:13\t4\tAGENT\t8:30:12\t8:31:00\t48\tMIKI",
    "AA0101\t36239\t22407019\t2\tPS\t990301\t9:17:16\t9:17:22\t6\t9:17:22\t9:17:34\t12\tAGENT\t9:17:33\t9:20:08\t155"
    "\tNAAMA",
    "AA0101\t36236\t0\t0\tNW\t990301\t8:48:28\t8:48:37\t9\t8:48:37\t8:50:14\t97\tHANG\t0:00:00\t0:00:00\t0\tNO_SERVER",
    "AA0101\t36494\t27704964\t2\tPS\t990304\t11:02:50\t11:02:55\t5\t11:02:55\t11:05:49\t174\tPHANTOM\t11:05:48"
    "\t11:05:51\t3\tNO_SERVER",
    "AA0101\t36228\t0\t0\tPS\t990301\t7:19:13\t7:19:23\t10\t0:00:00\t0:00:00\t0\tAGENT\t7:19:22\t7:19:29\t7\tNO_SERVER",
    "AA0101\t36227\t0\t0\tPS\t990301\t0:14:46\t0:15:01\t15\t0:00:00\t0:00:00\t0\tHANG\t0:00:00\t0:00:00\t0\tNO_SERVER",
    "AA0102\t36300\t0\t0\tPS\t990301\t23:58:50\t23:59:10\t20\t23:59:10\t0:00:20\t70\tAGENT\t0:00:19\t0:02:00\t101"
    "\tMIKI",
]
GENERIC_HEADER = "call_id,queue,joined_at,wait_s,outcome,talk_s,agent"
GENERIC_ROWS = [
    "c1,support,2026-11-23 09:00:00,12,answered,180,1001",
    "c2,support,2026-11-23 09:01:30,40,abandoned,,",
    "c3,sales,2026-11-23 09:02:00,300,overflow,,",
    'c4,"billing",2026-11-23 09:03:00,5,answered,60,"1024"',
    "c5,tech,2026-11-23 23:59:59,0,answered,0,1010",
]
CSV_KINDS = {"bank": (BANK_HEADER, BANK_ROWS, "\t"), "generic": (GENERIC_HEADER, GENERIC_ROWS, ",")}


@st.composite
def csv_file(draw) -> tuple[str, str, list[str]]:
    kind = draw(st.sampled_from(sorted(CSV_KINDS)))
    header, rows, sep = CSV_KINDS[kind]
    row = st.one_of(mutated_line(rows, sep), st.sampled_from(rows), st.just(""))
    return kind, header, draw(st.lists(row, min_size=1, max_size=15))


def read_csv(kind: str, text: str) -> tuple[list, CallsCsvFeed, Path]:
    with written(text, ".csv") as path:
        feed = CallsCsvFeed(path, CONFIG, mapping=kind)
        return list(feed.read()), feed, path


@fuzz(150)
@given(csv_file())
@example(("generic", GENERIC_HEADER, ["c1,support,2026-11-23 09:00:00,251606876220.0,answered,180,1001"]))  # found
@example(("bank", BANK_HEADER, [BANK_ROWS[2].replace("\t97\t", "\t" + "9" * 21 + "\t")]))  # found: OverflowError
@example(("generic", GENERIC_HEADER, ['c1,"support,2026-11-23 09:00:00,1,answered,1,1001', *GENERIC_ROWS]))
def test_calls_csv_each_record_is_its_events_or_one_dead_letter(file):
    kind, header, rows = file
    lines = [header, *rows]
    items, feed, path = read_csv(kind, "\n".join(lines) + "\n")
    groups = by_line(items, f"calls-csv:{path}:")
    rejected: set[int] = set()
    for n, got in groups.items():
        dead = [x for x in got if isinstance(x, DeadLetter)]
        if dead:
            assert got == dead and len(dead) == 1, got
            check_dead(dead[0])
            rejected.update(range(n, n + dead[0].raw.count("\n") + 1))  # a quoted record may span lines
    c = feed.counters
    assert c["rows"] == c["offered"] + c["not_offered"] + c["phantom"] + c["dead"]
    assert c["dead"] == sum(isinstance(x, DeadLetter) for x in items)
    assert c["offered"] == sum(getattr(x, "type", "") == "caller_joined" for x in items)
    again, _, path2 = read_csv(kind, "\n".join(blank(lines, rejected)) + "\n")
    assert event_set(again, path2) == event_set(items, path)


def test_a_stray_quote_rejects_its_own_line_and_not_the_rest_of_the_file():
    # found: the quote swallowed every later row into one record, then csv raised past its 128 KiB field limit
    rows = [f"c{i},support,2026-11-23 09:00:00,12,answered,180,1001" for i in range(3000)]
    rows[1] = 'c1,"support,2026-11-23 09:00:00,12,answered,180,1001'
    items, feed, path = read_csv("generic", "\n".join([GENERIC_HEADER, *rows]) + "\n")
    dead = [x for x in items if isinstance(x, DeadLetter)]
    assert [(d.source, d.raw) for d in dead] == [(f"calls-csv:{path}:3", rows[1])]
    assert "unclosed quote" in dead[0].reason
    assert feed.counters["offered"] == 2999 and feed.counters["rows"] == 3000


# ---- good and bad records through the engine: the good all counted, the bad leave no trace -------------------

# (the change set handed to a lease owner, ``{c}:touched``, names each queue's rolling minutes by the wall clock,
# ``replay._hand_over``: a minute may turn between the two replays; the queues and agents are in the registries)
_VOLATILE = (
    "{c}:deadletter",
    "{c}:dlcount",
    "{c}:dlseen",
    "{c}:seq",
    "{c}:summary",
    "{c}:agents_detail",
    "{c}:touched",
)


def namespace_content(r: redis.Redis, prefix: str) -> dict:
    """Everything the engine wrote, by key without the prefix (dead letters and the published snapshot apart)."""
    out = {}
    for key in r.scan_iter(match=f"{prefix}:*", count=10_000):
        name = key[len(prefix) + 1 :]
        if name in _VOLATILE:
            continue
        kind = r.type(key)
        if kind == "hash":
            out[name] = r.hgetall(key)
        elif kind == "zset":
            out[name] = r.zrange(key, 0, -1, withscores=True)
        elif kind == "set":
            out[name] = sorted(r.smembers(key))
        elif kind == "string":
            out[name] = r.get(key)
        else:
            out[name] = (kind, r.xlen(key) if kind == "stream" else None)
    return out


def replay_into(feed, prefix: str, url: str):
    from wallboard.replay import replay

    return asyncio.run(replay(feed, CONFIG, redis_url=url, prefix=prefix, window_mode="all"))


@pytest.fixture(scope="module")
def own_redis(tmp_path_factory):
    """A real server of this module's own (the embedded binary, on a unix socket): ``namespace_content`` walks
    the whole keyspace four times an example, which on a shared server of a hundred thousand keys was most of
    this module's time."""
    import subprocess
    import time

    from wallboard.redis_server import binary_path

    root = tmp_path_factory.mktemp("prop-redis")
    sock = f"/tmp/wbprop-{uuid.uuid4().hex[:8]}.sock"  # unix socket paths stay short
    subprocess.run(
        [str(binary_path()), "--daemonize", "yes", "--port", "0", "--unixsocket", sock, "--dir", str(root)]
        + ["--save", "", "--appendonly", "no", "--pidfile", str(root / "pid")],
        check=True,
        capture_output=True,
    )
    r = redis.Redis(unix_socket_path=sock)
    for _ in range(200):
        try:
            r.ping()
            break
        except (redis.ConnectionError, FileNotFoundError):
            time.sleep(0.02)
    try:
        yield f"unix://{sock}"
    finally:
        try:
            r.shutdown(nosave=True)
        except (redis.ConnectionError, OSError):
            pass
        r.close()


def drop(r: redis.Redis, prefix: str) -> None:
    keys = list(r.scan_iter(match=f"{prefix}:*", count=10_000))
    if keys:
        r.unlink(*keys)


@st.composite
def mixed_file(draw) -> tuple[str, str, list[str]]:
    if draw(st.booleans()):
        return ("queue-log", "", draw(st.lists(QL_LINE, min_size=1, max_size=25)))
    return draw(csv_file())


@fuzz(30)
@given(mixed_file())
@example(
    (
        "queue-log",
        "",
        [  # found: two talk times of 1e308 s summed to inf, which Redis refused mid-script
            "1795327200|c1|support|PJSIP/1001|COMPLETECALLER|1|1e308|1",
            "1795327200|c2|support|PJSIP/1001|COMPLETECALLER|1|1e308|1",
            "1795327201|NONE|support|PJSIP/1001|PENALTY|" + "9" * 400,
        ],
    )
)
def test_through_the_engine_good_records_count_and_bad_ones_leave_no_trace(own_redis, file):
    kind, header, rows = file
    lines = [header, *rows] if header else rows
    r = redis.Redis.from_url(own_redis, decode_responses=True)
    a, b = f"wbtest-prop-{uuid.uuid4().hex[:10]}", f"wbtest-prop-{uuid.uuid4().hex[:10]}"
    try:
        with tempfile.TemporaryDirectory(prefix="wbprop") as folder:
            path = Path(folder) / "input"  # the same path for both runs: ids and sources name it
            path.write_text("\n".join(lines) + "\n", encoding="utf-8")
            make = (
                (lambda: QueueLogFeed(path, CONFIG))
                if kind == "queue-log"
                else (lambda: CallsCsvFeed(path, CONFIG, mapping=kind))
            )
            dead = [x for x in make().read() if isinstance(x, DeadLetter)]
            _, stats = replay_into(make(), a, own_redis)
            rejected: set[int] = set()
            for d in dead:
                n = int(d.source.rsplit(":", 1)[1])
                rejected.update(range(n, n + d.raw.count("\n") + 1))
            path.write_text("\n".join(blank(lines, rejected)) + "\n", encoding="utf-8")
            _, clean = replay_into(make(), b, own_redis)
        assert stats.dead_letters == len(dead) and clean.dead_letters == 0
        assert int(r.get(Keys(a).dlcount) or 0) == len(dead)
        listed = [f for _, f in r.xrange(Keys(a).deadletter)]
        assert sorted((f["source"], f["reason"]) for f in listed) == sorted((d.source, d.reason) for d in dead)
        assert namespace_content(r, a) == namespace_content(r, b)
    finally:
        drop(r, a)
        drop(r, b)
        r.close()


# ---- (d) config files ------------------------------------------------------------------------------------------

BASE = tomllib.loads(CONFIG_PATH.read_text(encoding="utf-8"))


def _paths(d, pre=()) -> list[tuple]:
    out = []
    for k, v in d.items() if isinstance(d, dict) else enumerate(d) if isinstance(d, list) else ():
        out.append((*pre, k))
        out += _paths(v, (*pre, k))
    return out


PATHS = _paths(BASE)
KEY = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=10)
SCALAR = st.one_of(
    st.booleans(),
    st.integers(-(2**63), 2**63 - 1),
    st.floats(),
    KEY,
    NASTY,
    st.sampled_from(["UTC", "Mars/Olympus", "08:00-20:00", "sun-thu", "below", "rolling", "25:00"]),
)
VALUE = st.recursive(
    SCALAR, lambda c: st.one_of(st.lists(c, max_size=3), st.dictionaries(KEY, c, max_size=3)), max_leaves=6
)


def toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return "nan" if v != v else ("inf" if v > 0 else "-inf") if math.isinf(v) else repr(v)
    if isinstance(v, list):
        return "[" + ", ".join(toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{toml_key(k)} = {toml_value(x)}" for k, x in v.items()) + "}"
    return toml_key(str(v))


def toml_key(s: str) -> str:  # a TOML basic string: JSON's escapes, plus DEL, which TOML wants escaped
    return json.dumps(s, ensure_ascii=False).replace("\x7f", "\\u007f")


@st.composite
def config_mutation(draw) -> tuple[dict, str]:
    """The example config with one change: a value replaced (any type), a key dropped or an unknown one added."""
    data, path = copy.deepcopy(BASE), draw(st.sampled_from(PATHS))
    parent = data
    for k in path[:-1]:
        parent = parent[k]
    op = draw(st.integers(0, 2))
    if op == 0:
        parent[path[-1]] = draw(VALUE)
    elif op == 1:
        del parent[path[-1]]
    elif isinstance(parent, dict):
        key = draw(KEY)
        parent[key], path = draw(VALUE), (*path[:-1], key)
    else:
        parent.append(draw(VALUE))
        path = (*path[:-1], len(parent) - 1)
    return data, ".".join(map(str, path))


@fuzz(400)
@given(config_mutation())
@example(({**BASE, "queues": [{**BASE["queues"][0], "name": ["support"]}, *BASE["queues"][1:]]}, "queues.0.name"))
@example(({**BASE, "": False}, ""))  # found: a TypeError (unhashable list); an empty key shown as the top level
def test_a_config_loads_or_the_error_names_the_field(mutation):
    data, changed = mutation
    text = "\n".join(f"{toml_key(k)} = {toml_value(v)}" for k, v in data.items()) + "\n"
    with written(text, ".toml") as path:
        try:
            load_config(path)
            return
        except ConfigError as e:
            problems, rendered = e.problems, e.render()
    assert problems and str(path) in rendered
    cross = {where for where, _ in cross_problems(data)}  # a renamed queue shows where it is referred to

    def names(field: str) -> bool:
        field = field.replace('""', "")
        return field in cross or field == changed or changed.startswith(field + ".") or field.startswith(changed + ".")

    assert any(names(f) for f, _, _ in problems), (changed, problems)
    for f, msg, _ in problems:
        assert f and msg and f"  {f}: " in rendered


# ---- (e) websocket messages to the hub -------------------------------------------------------------------------

JSON_VALUE = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), TEXT),
    lambda c: st.one_of(st.lists(c, max_size=3), st.dictionaries(TEXT, c, max_size=3)),
    max_leaves=8,
)
CLIENT_MSG = st.fixed_dictionaries(
    {"type": st.sampled_from(["ack", "snooze", "listen", "", "ACK"])},
    optional={
        "queue": st.one_of(st.sampled_from(["support", "billing", "nowhere"]), TEXT, JSON_VALUE),
        "metric": st.one_of(st.sampled_from(["service_level", "waiting", "mood"]), JSON_VALUE),
        "minutes": st.one_of(st.integers(-5, 2000), st.floats(), TEXT),
        "x": JSON_VALUE,
    },
)
FRAME = st.one_of(
    CLIENT_MSG.map(json.dumps),
    JSON_VALUE.map(json.dumps),
    TEXT,
    st.binary(max_size=64),
    st.sampled_from(["[" * 3000, "{" * 2000, "[" + "1" * 4400 + "]", '"\\ud800"', "\x00", "NaN", "1e999"]),
)


@fuzz(500)
@given(FRAME)
def test_a_hub_message_parses_or_is_refused_with_a_reason(raw):
    try:
        msg = parse_client_message(raw)
    except Malformed as e:
        assert str(e).strip()
    else:
        assert msg.type in ("ack", "snooze") and msg.queue


@pytest.fixture(scope="module")
def live_hub():
    """A hub in a thread of its own (its own event loop), so hypothesis drives plain websocket clients."""
    from tests.tvdata import TOKENS, four_queues, now_utc, publish, tv_config
    from wallboard.hub.server import Hub

    saved = {k: os.environ.get(k) for k in TOKENS}
    os.environ.update(TOKENS)
    prefix = f"wbtest-prop-{uuid.uuid4().hex[:10]}"
    config = tv_config(prefix, hub={"max_message_bytes": 1024})
    loop = asyncio.new_event_loop()
    ready, box = threading.Event(), {}

    async def main():
        import redis.asyncio as aredis

        client = aredis.Redis.from_url(redis_url(), decode_responses=True)
        await publish(client, prefix, four_queues(1, now_utc()))
        hub = Hub(config, client, port=0)
        await hub.start()
        box.update(hub=hub, client=client, stop=asyncio.Event())
        ready.set()
        await box["stop"].wait()
        await hub.stop()
        await client.aclose()

    thread = threading.Thread(target=lambda: loop.run_until_complete(main()), daemon=True)
    thread.start()
    assert ready.wait(10)
    yield box["hub"], TOKENS, prefix
    loop.call_soon_threadsafe(box["stop"].set)
    thread.join(10)
    loop.close()
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
    drop(redis.Redis.from_url(redis_url(), decode_responses=True), prefix)


BIG = st.integers(1025, 4000).map(lambda n: "x" * n)


@fuzz(60)
@given(st.one_of(FRAME, BIG), st.sampled_from(["supervisor", "viewer"]))
def test_the_hub_answers_every_frame_clearly_and_keeps_serving(live_hub, raw, role):
    from websockets.exceptions import ConnectionClosed
    from websockets.sync.client import connect

    hub, tokens, _ = live_hub
    token = tokens["TV_TEST_TOKEN_RIVKA"] if role == "supervisor" else tokens["TV_TEST_VIEWER_FLOOR"]
    url = f"ws://127.0.0.1:{hub.port}/ws?layout=floor&token={token}"
    with connect(url, open_timeout=5, close_timeout=2) as ws:
        assert json.loads(ws.recv(timeout=5))["type"] == "state"
        ws.send(raw)
        try:
            while True:
                msg = json.loads(ws.recv(timeout=5))
                if msg["type"] in ("refused", "accepted"):  # a well-formed request: answered, and still open
                    assert role == "supervisor" and (msg.get("reason") or msg.get("id"))
                    break
        except ConnectionClosed as e:  # refused: a policy or data code and a reason a person can read
            assert e.rcvd is not None and e.rcvd.code in (1007, 1008, 1009), e
            assert e.rcvd.reason or e.rcvd.code == 1009
            if role == "viewer":  # read-only, unless the frame was too big to read at all
                assert e.rcvd.code in (1008, 1009)
    # the hub goes on serving the others
    with connect(f"ws://127.0.0.1:{hub.port}/ws?layout=floor&token={tokens['TV_TEST_VIEWER_FLOOR']}") as other:
        assert json.loads(other.recv(timeout=5))["type"] == "state"
