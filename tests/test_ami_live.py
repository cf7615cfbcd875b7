"""The live ``ami`` feed and the action backend against the fake PBX (tests/ami_fake.py): plain and MD5
login, a wrong password (one error, backoff), keep-alive on a half-open link, reconnect -> QueueStatus resync
-> WaitingResync + FeedGap (and no double counting in the real engine), bad input on the wire, actions.

Timings are short (keep-alive 0.2 s, backoff from 0.05 s) so the whole file runs in a few seconds.
"""

from __future__ import annotations

import asyncio
import logging
import time
from datetime import datetime, timezone

import pytest

from feeds.ami import AmiFeed
from tests.ami_fake import FakePbx
from tests.polling import task_failed, until
from wallboard.ami.actions import AmiActions
from wallboard.aio import cancel_and_wait
from wallboard.cli import _feed_options, build_parser
from wallboard.config import load_config
from wallboard.events import CallerJoined, FeedGap, WaitingResync
from wallboard.feed import DeadLetter

FAST = {"keepalive_s": 0.2, "backoff_initial_s": 0.05, "backoff_max_s": 0.2, "timeout_s": 1.0}
QUEUE_STATUS = [
    "Event: QueueParams\nQueue: Q1\nMax: 0\nStrategy: ringall\nCalls: 1",
    "Event: QueueMember\nQueue: Q1\nName: Alice\nLocation: PJSIP/1001\nStateInterface: PJSIP/1001\n"
    "Membership: dynamic\nPenalty: 0\nCallsTaken: 3\nLastCall: 0\nStatus: 1\nPaused: 0",
]


@pytest.fixture
def creds(monkeypatch):
    monkeypatch.setenv("WALLBOARD_AMI_USER", "wallboard")
    monkeypatch.setenv("WALLBOARD_AMI_SECRET", "s3cret")


@pytest.fixture
async def pbx(creds):
    p = FakePbx(queue_status=list(QUEUE_STATUS))
    await p.start()
    yield p
    await p.close()


class Run:
    """Consume a feed's follow() in the background."""

    def __init__(self, feed: AmiFeed):
        self.items: list = []
        self.task = asyncio.create_task(self._run(feed))

    async def _run(self, feed: AmiFeed) -> None:
        async for x in feed.follow():
            self.items.append(x)

    async def until(self, pred, timeout: float = 3.0) -> None:
        await until(pred, f"the feed's items (got {self.items})", timeout=timeout, check=task_failed(self.task))

    def of(self, kind) -> list:
        return [x for x in self.items if isinstance(x, kind)]

    async def stop(self) -> None:
        await cancel_and_wait(self.task)


def feed(pbx: FakePbx, config=None, **opts) -> AmiFeed:
    return AmiFeed(None, config or load_config(None), host="127.0.0.1", port=pbx.port, **{**FAST, **opts})


async def test_md5_login_filters_and_resync(pbx):
    run = Run(feed(pbx))
    await run.until(lambda: run.of(WaitingResync))
    await run.stop()
    assert pbx.logins == ["md5"]
    assert [a["Action"] for a in pbx.received][:2] == ["Challenge", "Login"]
    login = pbx.actions("Login")[0]
    assert "Secret" not in login and login["AuthType"] == "MD5" and login["Events"] == "agent,call,dialplan"
    assert [f["Filter"] for f in pbx.actions("Filter")] == [
        "Event: (QueueCaller|QueueMember|QueueParams|QueueEntry|QueueStatusComplete|Agent|Dial|Hangup|Join|Leave|ChanSpy)",
        "Variable: QUEUESTATUS",
    ]
    assert len(pbx.actions("QueueStatus")) == 1
    (resync,) = run.of(WaitingResync)
    assert (resync.queue, resync.call_ids) == ("Q1", [])
    assert not run.of(FeedGap)  # the first connection is no gap


async def test_plain_login_and_a_pbx_that_refuses_filters(pbx):
    pbx.filter_ok = False
    run = Run(feed(pbx, auth="plain"))
    await run.until(lambda: run.of(WaitingResync))
    await pbx.event(Event="QueueCallerJoin", Queue="Q1", Uniqueid="1700000000.1", Timestamp="1700000000.5")
    await run.until(lambda: run.of(CallerJoined))
    await run.stop()
    assert pbx.logins == ["plain"] and pbx.actions("Login")[0]["Secret"] == "s3cret"
    assert len(pbx.actions("Filter")) == 1  # refused once: not asked again, filtered on our side


async def test_wrong_password_one_error_and_backoff(creds, caplog, monkeypatch):
    pbx = FakePbx(secret="other")
    await pbx.start()
    try:
        caplog.set_level(logging.DEBUG, logger="wallboard.ami")
        run = Run(feed(pbx, backoff_initial_s=0.1, backoff_max_s=0.4))
        await asyncio.sleep(1.5)
        await run.stop()
    finally:
        await pbx.close()
    # delays in [d/2, d] for d = 0.1, 0.2, 0.4, 0.4...: at most 1 + 1.5 / 0.05 attempts even if all were minimal
    # by the first two, in fact 3..8; a tight loop would make hundreds
    assert 3 <= pbx.connections <= 8, pbx.connections
    assert set(pbx.logins) == {"failed"}
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR]
    assert len(errors) == 1
    assert "AMI login to 127.0.0.1" in errors[0].getMessage() and "Authentication failed" in errors[0].getMessage()


async def test_keepalive_finds_a_half_open_link(pbx):
    run = Run(feed(pbx))
    await run.until(lambda: run.of(WaitingResync))
    pbx.answer_ping = False  # the socket stays open, nothing answers: a half-open link
    began = time.monotonic()
    await run.until(lambda: pbx.connections == 2, timeout=2.0)
    took = time.monotonic() - began
    pbx.answer_ping = True
    await run.until(lambda: run.of(FeedGap))
    await run.stop()
    # a ping at most 0.2 s later, unanswered for 0.2 s, then a reconnect after 0.025..0.05 s of backoff
    assert took < 2 * 0.2 + 0.05 + 0.25, took


async def test_reconnect_resyncs_without_double_counting(pbx, make_engine):
    eng = await make_engine()
    run = Run(feed(pbx, config=eng.config))
    await run.until(lambda: run.of(WaitingResync))
    t0 = time.time()
    for n, ago in ((1, 20), (2, 5)):
        await pbx.event(
            Event="QueueCallerJoin", Queue="Q1", Uniqueid=f"1700000000.{n}", Position=n, Timestamp=f"{t0 - ago:.6f}"
        )
    await run.until(lambda: len(run.of(CallerJoined)) == 2)
    # the link drops; meanwhile caller .1 leaves unseen; QueueStatus then lists only .2, waiting 5 s
    pbx.queue_status.append(
        "Event: QueueEntry\nQueue: Q1\nPosition: 1\nUniqueid: 1700000000.2\nCallerIDNum: 0501234567\nWait: 5"
    )
    dropped = datetime.now(timezone.utc)
    pbx.drop()
    await run.until(lambda: run.of(FeedGap))
    await run.stop()
    gap = run.of(FeedGap)[0]
    resync = run.of(WaitingResync)[-1]
    assert (resync.queue, resync.call_ids) == ("Q1", ["1700000000.2"])
    assert (gap.start - dropped).total_seconds() <= 0.05 and gap.length_s < 1.0
    assert gap.ts >= resync.ts and gap.feed == "ami"
    rejoin = run.of(CallerJoined)[-1]
    assert rejoin.call_id == "1700000000.2" and abs(rejoin.ts.timestamp() - (t0 - 5)) < 1
    events = [x for x in run.items if not isinstance(x, DeadLetter)]
    await eng.apply(events)
    snap = await eng.build_snapshot(datetime.now(timezone.utc))
    q = snap.queues["Q1"]
    assert (q.entered, q.waiting, [c.call_id for c in q.callers]) == (2, 1, ["1700000000.2"])
    assert [g["length_s"] for g in snap.gaps] == [gap.length_s]
    assert snap.agents["Alice"].state == "available" and snap.agents["Alice"].queues == {"Q1": 0}


async def test_gap_filled_from_a_queue_log(pbx, tmp_path):
    # caller .1 abandons while the link is down: AMI never re-sends it, the PBX's queue_log has it
    qlog = tmp_path / "queue_log"
    run = Run(feed(pbx, queue_log=str(qlog)))
    await run.until(lambda: run.of(WaitingResync))
    t0 = time.time()
    await pbx.event(Event="QueueCallerJoin", Queue="Q1", Uniqueid="1700000000.1", Timestamp=f"{t0 - 20:.6f}")
    await run.until(lambda: run.of(CallerJoined))
    qlog.write_text(
        f"{int(t0) - 30}|1700000000.9|Q1|NONE|ENTERQUEUE||0509|1\n"  # before the gap: not replayed
        f"{int(t0)}|1700000000.1|Q1|NONE|ABANDON|1|1|20\n"
    )
    pbx.drop()
    await run.until(lambda: run.of(FeedGap))
    await run.stop()
    after = run.items[run.items.index(run.of(CallerJoined)[0]) + 1 :]
    assert [type(x).__name__ for x in after] == ["CallerAbandoned", "AgentStateChanged", "WaitingResync", "FeedGap"]
    assert (after[0].call_id, after[0].wait_s) == ("1700000000.1", 20.0)


async def test_bad_input_on_the_wire_and_a_truncated_message(pbx):
    run = Run(feed(pbx))
    await run.until(lambda: run.of(WaitingResync))
    join = "Event: QueueCallerJoin\r\nQueue: Q1\r\nUniqueid: 1700000000.{n}\r\nTimestamp: 1700000000.{n}\r\n\r\n"
    await pbx.push(
        join.format(n=1).encode()
        + b"Event: QueueCallerJoin\r\nQueue: Q1\r\nno colon\r\n\r\n"
        + b"Event: QueueCallerJoin\r\nCallerIDName: "
        + b"x" * (1 << 20)
        + b"\r\nQueue: Q1\r\n\r\n"
        + b"Event: QueueCallerJoin\r\nQueue: Q\xff1\r\n\r\n"
        + b"Event: BrandNewThing\r\nFoo: bar\r\n\r\n"
        + join.format(n=2).encode()
        + b"Event: QueueCallerJoin\r\nQueue: Q1\r\nUniq"
    )
    await run.until(lambda: len(run.of(CallerJoined)) == 2 and len(run.of(DeadLetter)) == 4)
    pbx.drop()
    await run.until(lambda: len(run.of(DeadLetter)) == 5 and run.of(FeedGap))
    await run.stop()
    assert [d.reason for d in run.of(DeadLetter)] == [
        "line 3 has no colon: 'no colon'",
        "line 2 is longer than 65536 bytes",
        "line 2 is not UTF-8 (byte 0xff at column 9)",
        "unknown AMI event 'BrandNewThing' (reported once, then ignored)",
        "truncated: the connection closed inside a message",
    ]
    assert [e.call_id for e in run.of(CallerJoined)] == ["1700000000.1", "1700000000.2"]


async def test_credentials_never_from_options(creds, monkeypatch):
    config = load_config(None)
    with pytest.raises(TypeError, match="never taken from options"):
        AmiFeed(None, config, host="h", secret="x")
    monkeypatch.delenv("WALLBOARD_AMI_SECRET")
    with pytest.raises(ValueError, match="WALLBOARD_AMI_SECRET or ami.secret_file"):
        AmiFeed(None, config, host="h")
    args = build_parser().parse_args(["ingest", "--feed", "ami", "--host", "pbx.example", "--port", "5039"])
    assert _feed_options(args) == {"host": "pbx.example", "port": 5039}


async def test_secret_file(pbx, tmp_path, monkeypatch):
    monkeypatch.delenv("WALLBOARD_AMI_SECRET")
    secret = tmp_path / "ami.secret"
    secret.write_text("s3cret\n")
    config = load_config(None, ami={"secret_file": str(secret)})
    run = Run(feed(pbx, config=config))
    await run.until(lambda: run.of(WaitingResync))
    await run.stop()
    assert pbx.logins == ["md5"]


# -- actions ----------------------------------------------------------------------------------------------------


async def test_actions_send_the_right_fields_and_return_the_pbx_text(pbx):
    pbx.errors = {"queueadd": "Unable to add interface: Already there"}
    act = AmiActions("127.0.0.1", pbx.port, lambda: ("wallboard", "s3cret"), timeout_s=1.0, audit=True)
    try:
        assert (await act.listen("PJSIP/2001", "PJSIP/1001", user="rivka"))[0]
        assert (await act.whisper("PJSIP/2001", "1700000000.42"))[0]
        assert (await act.barge("PJSIP/2001", "PJSIP/1001-0000002a"))[0]
        ok, msg = await act.listen("PJSIP/2001", "Local/1001@agents")
        assert not ok and "Local channel" in msg
        assert await act.queue_add("support", "PJSIP/1001", penalty=2, member_name="Alice") == (
            False,
            "Unable to add interface: Already there",
        )
        assert (await act.queue_pause("PJSIP/1001", True, queue="support", reason="lunch", user="dana"))[0]
        assert (await act.queue_penalty("PJSIP/1001", 1, queue="tech"))[0]
        assert (await act.queue_remove("support", "PJSIP/1001"))[0]
    finally:
        await act.close()
    spies = pbx.actions("Originate")
    assert [(o["Channel"], o["Application"], o["Data"], o["Async"]) for o in spies] == [
        ("PJSIP/2001", "ChanSpy", "PJSIP/1001-,qE", "true"),
        ("PJSIP/2001", "ChanSpy", "1700000000.42,qEwu", "true"),
        ("PJSIP/2001", "ChanSpy", "PJSIP/1001-0000002a,qEB", "true"),
    ]
    assert all(o["Timeout"] == "30000" for o in spies)
    (add,) = pbx.actions("QueueAdd")
    assert [add[k] for k in ("Queue", "Interface", "Penalty", "MemberName")] == ["support", "PJSIP/1001", "2", "Alice"]
    assert "Paused" not in add  # not given: not sent
    (pause,) = pbx.actions("QueuePause")
    assert (pause["Interface"], pause["Paused"], pause["Queue"], pause["Reason"]) == (
        "PJSIP/1001",
        "true",
        "support",
        "lunch",
    )
    assert (pbx.actions("QueuePenalty")[0]["Penalty"], pbx.actions("QueueRemove")[0]["Queue"]) == ("1", "support")
    # audit rows for the three spies and the three successful queue actions, none for the refused listen and
    # QueueAdd; each names who asked (a caller that named nobody: "unknown")
    assert [(r["Queue"], r["Event"], r["Message"]) for r in pbx.actions("QueueLog")] == [
        ("NONE", "WALLBOARD", "listen by rivka"),
        ("NONE", "WALLBOARD", "whisper by unknown"),
        ("NONE", "WALLBOARD", "barge by unknown"),
        ("support", "WALLBOARD", "pause (lunch) by dana"),
        ("tech", "WALLBOARD", "penalty 1 by unknown"),
        ("support", "WALLBOARD", "remove from support by unknown"),
    ]
    assert pbx.connections == 1 and pbx.actions("Login")[0]["Events"] == "off"


async def test_actions_reconnect_once_and_report_an_unreachable_pbx(pbx):
    act = AmiActions("127.0.0.1", pbx.port, lambda: ("wallboard", "s3cret"), timeout_s=1.0)
    try:
        assert (await act.queue_remove("support", "PJSIP/1001"))[0]
        pbx.drop()
        await until(lambda: act._session.closed, "the drop seen by the session")
        assert (await act.queue_remove("support", "PJSIP/1002"))[0]  # a new session, transparently
        assert pbx.connections == 2
        await pbx.close()
        await until(lambda: act._session.closed, "the PBX gone, seen by the session")
        ok, msg = await act.queue_remove("support", "PJSIP/1003")
        assert not ok and msg.startswith("AMI")
    finally:
        await act.close()
