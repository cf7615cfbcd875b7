"""The simulated centre as a PBX: AMI over TCP (login, Asterisk's event order per exit, QueueStatus, queue
actions, ChanSpy, dropped connections, restart), the AMI renderer on hand-made events, the queue_log of the
same day read back through the queue_log feed, and the ``wallboard pbx`` command.

The AMI reader here is the test's own (a few lines over asyncio streams), independent of any feed code.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import re
import signal
import subprocess
import sys
from collections import Counter
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from feeds.queue_log import QueueLogFeed
from tests.polling import until
from wallboard.ami.actions import AmiActions
from wallboard.clock import ManualClock
from wallboard.config import load_config
from wallboard.events import (
    AgentStateChanged,
    CallerAbandoned,
    CallerJoined,
    CallerOverflowed,
    DialAttempt,
    MemberAdded,
    OutboundCall,
)
from wallboard.feed import DeadLetter
from wallboard.sim import QueueProfile, SimCentre, quiet, scenario_by_name
from wallboard.sim.ami_render import AmiRenderer, PbxTracker
from wallboard.sim.ami_server import SimPbx
from wallboard.sim.queue_log_writer import QueueLogWriter

ROOT = Path(__file__).resolve().parents[1]
DAY = datetime(2026, 11, 23, 8, 0, tzinfo=timezone.utc)
NEVER = 1e12  # patience no caller runs out of


def at(s: float) -> datetime:
    return DAY + timedelta(seconds=s)


# --- a small AMI client of the test's own ------------------------------------------------------------------


class Ami:
    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, greeting: str):
        self.r, self.w, self.greeting = reader, writer, greeting
        self.events: list[dict[str, str]] = []  # every event read, in order
        self._n = 0

    @classmethod
    async def open(cls, port: int) -> Ami:
        r, w = await asyncio.open_connection("127.0.0.1", port)
        greeting = await asyncio.wait_for(r.readline(), 5)
        return cls(r, w, greeting.decode())

    def send(self, action: str, **headers: str) -> None:
        lines = [f"Action: {action}"] + [f"{k}: {v}" for k, v in headers.items()]
        self.w.write(("\r\n".join(lines) + "\r\n\r\n").encode())

    async def message(self, timeout: float = 5) -> dict[str, str] | None:
        """One message (keys as sent), or None at the end of the stream."""
        try:
            raw = await asyncio.wait_for(self.r.readuntil(b"\r\n\r\n"), timeout)
        except (asyncio.IncompleteReadError, ConnectionError):
            return None
        msg: dict[str, str] = {}
        for line in raw.decode().split("\r\n"):
            if line:
                key, _, value = line.partition(":")
                msg[key] = value[1:] if value.startswith(" ") else value
        return msg

    async def action(self, action: str, **headers: str) -> dict[str, str]:
        """Send an action and read up to its response; events read meanwhile go to ``events``."""
        self._n += 1
        aid = f"t{self._n}"
        self.send(action, ActionID=aid, **headers)
        while True:
            msg = await self.message()
            assert msg is not None, f"connection closed before the response to {action}"
            if "Response" in msg and msg.get("ActionID") == aid:
                return msg
            self.events.append(msg)

    async def listing(self, action: str, done: str, **headers: str) -> tuple[dict[str, str], list[dict[str, str]]]:
        """A list action: its response and its events up to ``done`` (which is included)."""
        resp = await self.action(action, **headers)
        aid, items = resp["ActionID"], []
        while True:
            msg = await self.message()
            assert msg is not None
            if msg.get("ActionID") == aid:
                items.append(msg)
                if msg.get("Event") == done:
                    return resp, items
            else:
                self.events.append(msg)

    async def login(self, user: str = "wallboard", secret: str = "demo", **headers: str) -> dict[str, str]:
        return await self.action("Login", Username=user, Secret=secret, **headers)

    async def sync(self) -> list[dict[str, str]]:
        """Everything the PBX pushed before now (a Ping's answer comes after it)."""
        before = len(self.events)
        await self.action("Ping")
        return self.events[before:]

    def named(self, *names: str) -> list[dict[str, str]]:
        return [e for e in self.events if e.get("Event") in names]

    async def closed(self) -> bool:
        """Whether the PBX ends the stream (whatever it still sends first is read and dropped)."""
        try:
            await asyncio.wait_for(self.r.read(), 5)  # returns at the end of the stream only
        except ConnectionError:
            pass
        except asyncio.TimeoutError:
            return False
        return True

    def close(self) -> None:
        self.w.close()


# --- the PBX under test ------------------------------------------------------------------------------------


def centre_config(queues=("a", "b"), agents=None, wrapup_s=10):
    agents = agents or {"1001": {"a": 0}, "1002": {"b": 0}}
    return load_config(
        None,
        queues=[{"name": q, "wrapup_s": wrapup_s} for q in queues],
        agents=[{"id": a, "interface": f"PJSIP/{a}", "skills": s} for a, s in agents.items()],
    )


@asynccontextmanager
async def running_pbx(config, scenario=None, seed=1, **kw):
    clock = ManualClock(DAY)
    centre = SimCentre(config, scenario or quiet(), seed, DAY)
    pbx = SimPbx(config, centre, clock, step_s=0.01, **kw)
    await pbx.start()
    try:
        yield pbx, clock, centre
    finally:
        await pbx.stop()


async def run_for(pbx: SimPbx, clock: ManualClock, seconds: float, step: float = 50.0) -> None:
    """Move the clock on in steps (events go out as the model makes them)."""
    while seconds > 0:
        clock.advance(min(step, seconds))
        seconds -= step
        pbx.step()
        await asyncio.sleep(0)


async def client(pbx: SimPbx, **login: str) -> Ami:
    ami = await Ami.open(pbx.port)
    resp = await ami.login(**login)
    assert resp["Response"] == "Success", resp
    return ami


# --- login -------------------------------------------------------------------------------------------------


async def test_greeting_plain_and_md5_login_ping_logoff():
    async with running_pbx(centre_config()) as (pbx, _, _):
        ami = await Ami.open(pbx.port)
        assert ami.greeting == "Asterisk Call Manager/7.0.3\r\n"
        denied = await ami.action("QueueStatus")
        assert (denied["Response"], denied["Message"]) == ("Error", "Permission denied")
        ok = await ami.login()
        assert (ok["Response"], ok["Message"]) == ("Success", "Authentication accepted")
        pong = await ami.action("Ping")
        assert pong["Ping"] == "Pong" and re.fullmatch(r"\d+\.\d{6}", pong["Timestamp"])
        assert ami.named("FullyBooted")
        bye = await ami.action("Logoff")
        assert bye["Response"] == "Goodbye"
        assert await ami.closed()

        md5 = await Ami.open(pbx.port)
        challenge = await md5.action("Challenge", AuthType="MD5")
        key = hashlib.md5((challenge["Challenge"] + "demo").encode()).hexdigest()
        ok = await md5.action("Login", AuthType="MD5", Username="wallboard", Key=key)
        assert ok["Response"] == "Success"
        md5.close()


async def test_wrong_secret_or_key_is_refused_and_closed():
    async with running_pbx(centre_config(), username="sup", secret="s3cret") as (pbx, _, _):
        ami = await Ami.open(pbx.port)
        refused = await ami.login("sup", "demo")
        assert (refused["Response"], refused["Message"]) == ("Error", "Authentication failed")
        assert await ami.closed()

        ami = await Ami.open(pbx.port)
        challenge = await ami.action("Challenge", AuthType="MD5")
        wrong = hashlib.md5((challenge["Challenge"] + "nope").encode()).hexdigest()
        refused = await ami.action("Login", AuthType="MD5", Username="sup", Key=wrong)
        assert refused["Response"] == "Error"
        assert await ami.closed()

        ami = await Ami.open(pbx.port)
        assert (await ami.login("sup", "s3cret"))["Response"] == "Success"
        ami.close()


async def test_events_off_and_on():
    async with running_pbx(centre_config()) as (pbx, clock, centre):
        ami = await client(pbx, Events="off")
        centre.schedule_caller("a", at(5))
        await run_for(pbx, clock, 30)
        assert await ami.sync() == []
        on = await ami.action("Events", EventMask="agent")
        assert on["Events"] == "On"
        centre.schedule_caller("b", at(40))
        await run_for(pbx, clock, 30)
        got = await ami.sync()
        assert got and all(e["Privilege"] == "agent,all" for e in got)
        ami.close()


async def test_filter_keeps_matching_events_only():
    async with running_pbx(centre_config()) as (pbx, clock, centre):
        ami = await client(pbx)
        added = await ami.action("Filter", Operation="Add", Filter=r"Event: (QueueCaller|Hangup)")
        assert (added["Response"], added["Message"]) == ("Success", "Filter Added Successfully")
        await ami.action("Filter", Operation="Add", Filter="!Event: QueueCallerLeave")
        bad = await ami.action("Filter", Operation="Add", Filter="(")
        assert bad["Response"] == "Error"
        centre.schedule_caller("a", at(5), talk_s=10)
        await run_for(pbx, clock, 60)
        got = [e["Event"] for e in await ami.sync()]
        assert got == ["QueueCallerJoin", "Hangup", "Hangup"]
        _, items = await ami.listing("QueueStatus", "QueueStatusComplete")  # list answers are not filtered
        assert {i["Event"] for i in items} == {"QueueParams", "QueueMember", "QueueStatusComplete"}
        ami.close()


# --- event order ---------------------------------------------------------------------------------------------


def token(e: dict[str, str]) -> str:
    name = e["Event"]
    if name == "DialEnd":
        return f"DialEnd:{e['DialStatus']}"
    if name == "VarSet":
        return f"VarSet:{e['Variable']}={e['Value']}"
    if name == "Hangup":
        return "Hangup:leg" if e["Uniqueid"] != e["Linkedid"] else "Hangup"
    return name


ANSWERED = [
    "Newchannel",
    "QueueCallerJoin",
    "AgentCalled",
    "DialBegin",
    "DialEnd:ANSWER",
    "QueueCallerLeave",
    "AgentConnect",
    "AgentComplete",
]
RING_CANCELLED = ["AgentCalled", "DialBegin", "DialEnd:CANCEL", "Hangup:leg"]
MISSED = ["AgentCalled", "DialBegin", "AgentRingNoAnswer", "DialEnd:NOANSWER", "Hangup:leg"]
ABANDONED = ["QueueCallerAbandon", "QueueCallerLeave", "Hangup"]
JOIN = ["Newchannel", "QueueCallerJoin"]


def exits_scenario():
    """Callers of queues with no members that leave by timeout, key press or a callback request."""
    base = dict(talk_mean_s=60.0, patience_mean_s=NEVER, key_exit_p=0.0, callback_p=0.0, calls_per_hour=240.0)
    return replace(
        quiet(),
        queues={
            "to": QueueProfile(**base, max_wait_s=30.0),
            "key": QueueProfile(**{**base, "key_exit_p": 1.0}, max_wait_s=1000.0, key_after_s=(5.0, 10.0)),
            "cb": QueueProfile(**{**base, "callback_p": 1.0}, max_wait_s=1000.0, callback_after_s=(5.0, 10.0)),
        },
    )


async def test_each_exit_in_asterisks_order():
    config = centre_config(queues=("a", "to", "key", "cb"), agents={"1001": {"a": 0}})
    async with running_pbx(config, exits_scenario()) as (pbx, clock, centre):
        ami = await client(pbx)
        centre.schedule_caller("a", at(10), talk_s=60)  # answered, talks, completes
        centre.schedule_caller("a", at(20), patience_s=15)  # the agent is busy: hangs up while waiting
        centre.schedule_caller("a", at(200), patience_s=1)  # hangs up while the agent's phone rings
        await run_for(pbx, clock, 290)
        centre.scenario = replace(centre.scenario, miss_p=1.0)  # every ring from now on goes unanswered
        centre.schedule_caller("a", at(300), patience_s=25)  # rings out (missed), rings again, hangs up
        await run_for(pbx, clock, 310)
        await ami.sync()

        by_call: dict[str, list[str]] = {}
        for e in ami.events:
            if "Linkedid" in e:
                by_call.setdefault(e["Linkedid"], []).append(token(e))
        calls = {c.call_id: c for c in centre.calls}
        assert set(by_call) == set(calls)  # the AMI call ids are the model's
        kinds = Counter()
        for call_id, seq in by_call.items():
            c = calls[call_id]
            if c.outcome is None:  # still waiting at the end
                assert seq == JOIN, seq
                continue
            if c.queue == "a" and c.outcome == "answered":
                hangups = seq[len(ANSWERED) :]
                assert seq[: len(ANSWERED)] == ANSWERED and sorted(hangups) == ["Hangup", "Hangup:leg"], seq
            elif c.queue == "a" and c.missed:
                assert seq == JOIN + MISSED + RING_CANCELLED + ABANDONED, seq
            elif c.queue == "a" and c.joined == at(200):
                assert seq == JOIN + RING_CANCELLED + ABANDONED, seq
            elif c.queue == "a":
                assert seq == JOIN + ABANDONED, seq
            elif c.queue == "to":
                assert seq == JOIN + [
                    "QueueCallerAbandon",
                    "QueueCallerLeave",
                    "VarSet:QUEUESTATUS=TIMEOUT",
                    "Hangup",
                ], seq
            elif c.queue == "key":
                assert seq == JOIN + ["QueueCallerLeave", "Newexten", "Hangup"], seq
            else:
                assert seq == JOIN + [
                    "QueueCallerAbandon",
                    "QueueCallerLeave",
                    "VarSet:QUEUESTATUS=WITHDRAW",
                    "Hangup",
                ], seq
            kinds[c.queue, c.outcome, c.reason] += 1
        assert kinds["a", "answered", None] == 1 and kinds["a", "abandoned", None] == 3
        assert kinds["to", "overflow", "timeout"] >= 3 and kinds["key", "overflow", "key"] >= 3
        assert kinds["cb", "callback", None] >= 3

        # Every pushed event has Timestamp (epoch, microseconds), never going back.
        pushed = [e for e in ami.events if "Event" in e]
        stamps = [e["Timestamp"] for e in pushed]
        assert all(re.fullmatch(r"\d+\.\d{6}", s) for s in stamps)
        assert [float(s) for s in stamps] == sorted(float(s) for s in stamps)

        # Durations as Asterisk gives them; the member's device states through the calls.
        connect = ami.named("AgentConnect")[0]
        answered = next(c for c in centre.calls if c.outcome == "answered")
        assert connect["Uniqueid"] == answered.call_id and connect["Interface"] == "PJSIP/1001"
        assert connect["DestChannel"].startswith("PJSIP/1001-") and connect["DestLinkedid"] == answered.call_id
        assert int(connect["HoldTime"]) == pytest.approx(answered.wait_s, abs=1)
        complete = ami.named("AgentComplete")[0]
        assert complete["TalkTime"] == "60" and complete["Reason"] in ("caller", "agent")
        assert [e["RingTime"] for e in ami.named("AgentRingNoAnswer")] == ["15000"]
        abandon = next(e for e in ami.named("QueueCallerAbandon") if e["Queue"] == "a")
        assert (abandon["Position"], abandon["OriginalPosition"], abandon["HoldTime"]) == ("1", "1", "15")
        statuses = [(e["Status"], e["InCall"]) for e in ami.named("QueueMemberStatus")]
        assert statuses[:3] == [("6", "0"), ("2", "1"), ("1", "0")]  # ring, connect, complete (then wrap-up)
        after_call = ami.named("QueueMemberStatus")[2]
        assert (after_call["CallsTaken"], after_call["Wrapuptime"]) == ("1", "10")
        ami.close()


def test_renderer_orders_empty_withdraw_and_outbound():
    """Exits the model does not make by itself (empty queue, a withdraw) and an agent's outbound calls."""
    config = centre_config()
    r = AmiRenderer(PbxTracker(config))
    src = {"source": "test"}
    n = iter(range(1000))

    def ev(cls, s, **kw):
        return cls(id=f"x{next(n)}", ts=at(s), **src, **kw)

    out = []
    for e in [
        ev(MemberAdded, 0, agent="1001", queue="a", penalty=0),
        ev(CallerJoined, 1, queue="a", call_id="100.1", caller="0501"),
        ev(CallerJoined, 2, queue="a", call_id="100.2", caller="0502"),
        ev(CallerOverflowed, 9, queue="a", call_id="100.2", reason="empty", wait_s=7),
        ev(CallerOverflowed, 11, queue="a", call_id="100.1", reason="withdrawn", wait_s=10),
        ev(DialAttempt, 20, agent="1001", call_id="100.3", number="0399"),
        ev(AgentStateChanged, 20, agent="1001", state="on_call", call_id="100.3"),
        ev(OutboundCall, 30, agent="1001", call_id="100.3", number="0399"),
        ev(AgentStateChanged, 90, agent="1001", state="available"),
        ev(DialAttempt, 100, agent="1001", call_id="100.4", number="0398"),
        ev(AgentStateChanged, 100, agent="1001", state="on_call", call_id="100.4"),
        ev(AgentStateChanged, 120, agent="1001", state="available"),
    ]:
        out += r.render_event(e)
    seq = [(token(e), e.get("Uniqueid") or e.get("Interface")) for e in out]
    assert [t for t, u in seq if u == "100.2"] == JOIN + [
        "QueueCallerAbandon",
        "QueueCallerLeave",
        "VarSet:QUEUESTATUS=LEAVEEMPTY",
        "Hangup",
    ]
    assert [t for t, u in seq if u == "100.1"] == JOIN + [
        "QueueCallerAbandon",
        "QueueCallerLeave",
        "VarSet:QUEUESTATUS=WITHDRAW",
        "Hangup",
    ]
    empty = next(e for e in out if e["Event"] == "QueueCallerAbandon")
    assert (empty["Position"], empty["OriginalPosition"], empty["HoldTime"]) == ("2", "2", "7")
    dials = [e for e in out if e["Event"].startswith("Dial")]
    assert [(e["Event"], e.get("DialStatus"), e["DestUniqueid"]) for e in dials] == [
        ("DialBegin", None, "100.3"),
        ("DialEnd", "ANSWER", "100.3"),
        ("DialBegin", None, "100.4"),
        ("DialEnd", "NOANSWER", "100.4"),
    ]
    assert all(e["Channel"].startswith("PJSIP/1001-") and e["Uniqueid"] != e["DestUniqueid"] for e in dials)
    statuses = [e["Status"] for e in out if e["Event"] == "QueueMemberStatus"]
    assert statuses == ["2", "1", "2", "1"]  # the agent's device is in use while dialling out


# --- QueueStatus and the queue actions -----------------------------------------------------------------------


async def test_queue_status_shows_waiting_callers_and_members():
    async with running_pbx(centre_config()) as (pbx, clock, centre):
        ami = await client(pbx)
        paused = await ami.action("QueuePause", Interface="PJSIP/1001", Paused="true", Reason="lunch")
        assert (paused["Response"], paused["Message"]) == ("Success", "Interface paused successfully")
        assert centre.agent_state("1001") == "paused"
        for s in (10, 20, 30):
            centre.schedule_caller("a", at(s), number=f"05000000{s}")
        await run_for(pbx, clock, 100)
        resp, items = await ami.listing("QueueStatus", "QueueStatusComplete", Queue="a")
        assert (resp["EventList"], resp["Message"]) == ("start", "Queue status will follow")
        params = [i for i in items if i["Event"] == "QueueParams"]
        members = [i for i in items if i["Event"] == "QueueMember"]
        entries = [i for i in items if i["Event"] == "QueueEntry"]
        assert [p["Queue"] for p in params] == ["a"] and params[0]["Calls"] == "3"
        assert [(m["Location"], m["Penalty"], m["Paused"], m["PausedReason"], m["Status"]) for m in members] == [
            ("PJSIP/1001", "0", "1", "lunch", "1")
        ]
        waiting = centre.waiting_calls("a")
        expected = zip(waiting, (10, 20, 30), strict=True)
        assert [(e["Position"], e["Uniqueid"], e["Wait"], e["CallerIDNum"]) for e in entries] == [
            (str(i), w[0], str(100 - s), f"05000000{s}") for i, (w, s) in enumerate(expected, 1)
        ]
        assert items[-1]["EventList"] == "Complete" and items[-1]["ListItems"] == str(len(items) - 1)
        pauses = ami.named("QueueMemberPause")
        assert [(e["Queue"], e["Paused"], e["PausedReason"]) for e in pauses] == [("a", "1", "lunch")]

        # Unpaused, the agent takes the first caller.
        assert (await ami.action("QueuePause", Interface="PJSIP/1001", Paused="false"))["Response"] == "Success"
        await run_for(pbx, clock, 10)
        await ami.sync()
        assert ami.named("QueueMemberPause")[-1]["Paused"] == "0"
        assert ami.named("AgentConnect")[0]["Uniqueid"] == waiting[0][0]
        _, items = await ami.listing("QueueStatus", "QueueStatusComplete")
        assert [i["Queue"] for i in items if i["Event"] == "QueueParams"] == ["a", "b"]
        assert [i["Position"] for i in items if i["Event"] == "QueueEntry"] == ["1", "2"]
        ami.close()


async def test_queue_add_moves_the_agent_to_the_new_queues_calls():
    async with running_pbx(centre_config()) as (pbx, clock, centre):
        ami = await client(pbx)
        await ami.action("QueuePause", Interface="PJSIP/1001", Paused="1", Reason="break")
        added = await ami.action("QueueAdd", Queue="a", Interface="PJSIP/1002", Penalty="2")
        assert (added["Response"], added["Message"]) == ("Success", "Added interface to queue")
        assert centre.skills("1002") == {"b": 0, "a": 2}
        centre.schedule_caller("a", at(10))
        await run_for(pbx, clock, 30)
        await ami.sync()
        member = ami.named("QueueMemberAdded")[-1]
        assert (member["Queue"], member["Interface"], member["Penalty"]) == ("a", "PJSIP/1002", "2")
        connect = ami.named("AgentConnect")[0]
        assert (connect["Queue"], connect["Interface"]) == ("a", "PJSIP/1002")

        again = await ami.action("QueueAdd", Queue="a", Interface="PJSIP/1002")
        assert (again["Response"], again["Message"]) == ("Error", "Unable to add interface: Already there")
        nosuch = await ami.action("QueueAdd", Queue="nope", Interface="PJSIP/1002")
        assert nosuch["Message"] == "Unable to add interface to queue: No such queue"
        stranger = await ami.action("QueueAdd", Queue="a", Interface="PJSIP/9999")
        assert stranger["Response"] == "Error"
        assert (await ami.action("QueuePenalty", Interface="PJSIP/1002", Penalty="1", Queue="a"))["Response"] == (
            "Success"
        )
        assert centre.skills("1002")["a"] == 1
        removed = await ami.action("QueueRemove", Queue="b", Interface="PJSIP/1002")
        assert (removed["Response"], removed["Message"]) == ("Success", "Removed interface from queue")
        assert "b" not in centre.skills("1002")
        gone = await ami.action("QueueRemove", Queue="b", Interface="PJSIP/1002")
        assert gone["Message"] == "Unable to remove interface: Not there"
        bad = await ami.action("QueuePause", Interface="PJSIP/9999", Paused="true")
        assert (bad["Response"], bad["Message"]) == ("Error", "Interface not found")
        await ami.sync()
        assert [e["Penalty"] for e in ami.named("QueueMemberPenalty")] == ["1"]
        assert [(e["Queue"], e["Interface"]) for e in ami.named("QueueMemberRemoved")] == [("b", "PJSIP/1002")]
        ami.close()


async def test_originate_chanspy_starts_and_stops_with_the_call():
    async with running_pbx(centre_config()) as (pbx, clock, centre):
        ami = await client(pbx)
        centre.schedule_caller("a", at(5), talk_s=100)
        await run_for(pbx, clock, 20)
        refused = await ami.action("Originate", Channel="PJSIP/2001", Application="Playback", Data="hello")
        assert refused["Response"] == "Error"
        resp = await ami.action(
            "Originate",
            Channel="PJSIP/2001",
            Application="ChanSpy",
            Data="PJSIP/1001,qE",
            Async="true",
            CallerID='"Rivka" <2001>',
        )
        assert (resp["Response"], resp["Message"]) == ("Success", "Originate successfully queued")
        await ami.sync()
        assert ami.named("OriginateResponse")[0]["ActionID"] == resp["ActionID"]
        start = ami.named("ChanSpyStart")[0]
        call_id = centre.calls[0].call_id
        assert start["SpyerChannel"].startswith("PJSIP/2001-") and start["SpyeeChannel"].startswith("PJSIP/1001-")
        assert start["SpyeeLinkedid"] == call_id and re.fullmatch(r"\d+\.\d{6}", start["Timestamp"])
        assert not ami.named("ChanSpyStop")
        await run_for(pbx, clock, 100)  # the call ends: the spy stops, and with E hangs up
        await ami.sync()
        stop = ami.named("ChanSpyStop")
        assert [e["SpyeeChannel"] for e in stop] == [start["SpyeeChannel"]]
        spy_hangup = [e for e in ami.named("Hangup") if e["Channel"] == start["SpyerChannel"]]
        assert len(spy_hangup) == 1 and pbx.spies() == []

        # Without E the spy waits for the agent's next call; hanging the spy up ends it.
        resp = await ami.action("Originate", Channel="PJSIP/2001", Application="ChanSpy", Data="PJSIP/1001,q")
        centre.schedule_caller("a", at(200), talk_s=100)
        await run_for(pbx, clock, 100)
        await ami.sync()
        spy, spyee = pbx.spies()[0]
        assert spyee is not None and len(ami.named("ChanSpyStart")) == 2
        hung = await ami.action("Hangup", Channel=spy)
        assert hung["Response"] == "Success"
        await ami.sync()
        assert len(ami.named("ChanSpyStop")) == 2 and pbx.spies() == []
        ami.close()


# --- connections ---------------------------------------------------------------------------------------------


async def test_drop_connections_while_the_model_goes_on_and_restart():
    async with running_pbx(centre_config()) as (pbx, clock, centre):
        one, two = await client(pbx), await client(pbx)
        await pbx_idle()
        assert pbx.sessions == 2
        assert pbx.drop_connections() == 2
        assert await one.closed() and await two.closed()
        for s in (10, 11, 12, 13):
            centre.schedule_caller("b" if s < 12 else "a", at(s), talk_s=300)
        await run_for(pbx, clock, 60)
        assert centre.now == at(60) and len(centre.calls) == 4
        again = await client(pbx)
        _, items = await again.listing("QueueStatus", "QueueStatusComplete")
        assert [(i["Queue"], i["Position"]) for i in items if i["Event"] == "QueueEntry"] == [("a", "1"), ("b", "1")]

        pbx.restart()  # a PBX restart: sessions dropped, the calls gone, the day goes on from now
        assert await again.closed()
        assert pbx.centre is not centre and pbx.centre.now == at(60) and pbx.centre.calls == []
        fresh = await client(pbx)
        _, items = await fresh.listing("QueueStatus", "QueueStatusComplete")
        assert not [i for i in items if i["Event"] == "QueueEntry"]
        assert {i["Completed"] for i in items if i["Event"] == "QueueParams"} == {"0"}
        assert {(i["Location"], i["Status"]) for i in items if i["Event"] == "QueueMember"} == {
            ("PJSIP/1001", "1"),
            ("PJSIP/1002", "1"),
        }
        fresh.close()


async def pbx_idle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


# --- queue_log -----------------------------------------------------------------------------------------------


def test_seeded_day_queue_log_reads_back_with_the_models_counts(tmp_path):
    config = load_config(ROOT / "config" / "wallboard.toml")
    scenario = scenario_by_name("demo", [q.name for q in config.queues])
    centre = SimCentre(config, scenario, 7, DAY)
    path = tmp_path / "queue_log"
    writer = QueueLogWriter(path, config)
    writer.queue_start(DAY)
    events = []
    for h in range(1, 4):  # appended hour by hour, as the day goes
        batch = centre.advance_to(DAY + timedelta(hours=h))
        writer.write(batch)
        events += batch
        assert path.stat().st_size > 0 and writer.rows_written == len(path.read_text().splitlines())
    writer.close()

    feed = QueueLogFeed(str(path), config)
    out = list(feed.read())
    assert [x for x in out if isinstance(x, DeadLetter)] == []
    assert set(feed.ignored) <= {"QUEUESTART", "RINGCANCELED"}
    read = Counter()
    for e in out:
        key = e.type + (f":{e.reason}" if e.type == "caller_overflowed" else "")
        read[getattr(e, "queue", None), key] += 1
    model = Counter()
    for c in centre.calls:
        model[c.queue, "caller_joined"] += 1
        outcome = {
            "answered": "caller_answered",
            "abandoned": "caller_abandoned",
            "callback": "caller_overflowed:withdrawn",
        }.get(c.outcome or "")
        if c.outcome == "overflow":
            outcome = f"caller_overflowed:{c.reason}"
        if outcome:
            model[c.queue, outcome] += 1
        model[c.queue, "agent_missed"] += c.missed
    for q in (q.name for q in config.queues):
        for kind in (
            "caller_joined",
            "caller_answered",
            "caller_abandoned",
            "caller_overflowed:timeout",
            "caller_overflowed:key",
            "caller_overflowed:withdrawn",
            "agent_missed",
        ):
            assert read[q, kind] == model[q, kind], (q, kind)
    outcomes = Counter((c.outcome, c.reason) for c in centre.calls)
    assert outcomes["answered", None] > 100 and outcomes["abandoned", None] > 10 and outcomes["callback", None] > 0
    assert outcomes["overflow", "key"] > 0 and outcomes["overflow", "timeout"] > 0

    # The rows' fields: the member interface as agent, CONNECT's bridged channel is the AMI's agent leg.
    rows = [line.split("|") for line in path.read_text().splitlines()]
    assert {r[3] for r in rows if r[4] == "CONNECT"} <= {a.interface for a in config.agents}
    legs = {r[1]: r[6] for r in rows if r[4] == "CONNECT"}
    ami = AmiRenderer(PbxTracker(config))
    dest = {
        e["Uniqueid"]: e["DestUniqueid"] for x in events for e in ami.render_event(x) if e["Event"] == "AgentConnect"
    }
    assert legs == dest


async def test_pbx_appends_the_queue_log_live(tmp_path):
    path = tmp_path / "queue_log"
    async with running_pbx(centre_config(), queue_log=path) as (pbx, clock, centre):
        ami = await client(pbx)
        start_rows = len(path.read_text().splitlines())  # QUEUESTART and the logins
        centre.schedule_caller("a", at(10), talk_s=30)
        centre.schedule_caller("b", at(20), patience_s=1)
        await run_for(pbx, clock, 15)
        middle = path.read_text().splitlines()
        assert len(middle) > start_rows and middle[-1].split("|")[4] == "CONNECT"
        logged = await ami.action("QueueLog", Queue="a", Event="INFO", Message="supervisor note")
        assert logged["Response"] == "Success"
        await run_for(pbx, clock, 100)
        ami.close()
    verbs = [line.split("|")[4] for line in path.read_text().splitlines()]
    assert verbs == [
        "QUEUESTART",
        "ADDMEMBER",
        "ADDMEMBER",
        "ENTERQUEUE",
        "CONNECT",
        "INFO",
        "ENTERQUEUE",
        "RINGCANCELED",
        "ABANDON",
        "COMPLETECALLER" if "COMPLETECALLER" in verbs else "COMPLETEAGENT",
    ]
    feed = QueueLogFeed(str(path), centre_config())
    out = list(feed.read())
    assert not [x for x in out if isinstance(x, DeadLetter)] and feed.ignored["INFO"] == 1


async def test_audit_rows_never_forge_queue_log_fields(tmp_path):
    """The action backend's audit rows on a PBX that writes queue_log rows as given (as Asterisk does): a call
    id, reason or message carrying '|' (queue_log's separator) or CR/LF (AMI's line end) is refused before
    anything is sent, the action with it; the PBX's queue_log, read back, holds only the honest rows."""
    path = tmp_path / "queue_log"
    forged = "1795424400|x|a|PJSIP/1001|ABANDON|1|1|30"
    async with running_pbx(centre_config(), queue_log=path) as (pbx, clock, centre):
        act = AmiActions("127.0.0.1", pbx.port, lambda: ("wallboard", "demo"), timeout_s=2.0, audit=True)
        try:
            start_rows = path.read_text().splitlines()
            refused = [
                await act.spy("PJSIP/2001", "PJSIP/1001", user="rivka", call_id=forged),
                await act.redirect(forged, "from-internal", "2001", user="rivka", what="takeover"),
                await act.queue_pause("PJSIP/1001", True, queue="a", reason="lunch|ABANDON", user="rivka"),
                await act.queue_log("a", "WALLBOARD", message="note|ABANDON|1|1|30"),
                await act.queue_log("a", "WALLBOARD", message="note\r\nAction: Logoff"),
                await act.queue_log("a", "WALLBOARD", uniqueid="1796603886.393\x00"),
                await act.queue_log("a|b", "WALLBOARD"),
            ]
            assert [ok for ok, _ in refused] == [False] * 7
            assert all("QueueLog field" in msg and "'|'" in msg for _, msg in refused), refused
            assert "Uniqueid" in refused[0][1] and "Message" in refused[2][1] and "Queue" in refused[6][1]
            assert path.read_text().splitlines() == start_rows  # nothing written
            assert pbx.spies() == [] and centre.agent_state("1001") != "paused"  # nor done

            ok, _ = await act.spy("PJSIP/2001", "PJSIP/1001", user="rivka", call_id="1796603886.393")
            assert ok
            await until(lambda: len(path.read_text().splitlines()) == len(start_rows) + 1, "the audit row")
            assert ok and len(pbx.spies()) == 1
        finally:
            await act.close()
    (row,) = path.read_text().splitlines()[len(start_rows) :]
    assert row.split("|")[1:] == ["1796603886.393", "NONE", "PJSIP/1001", "WALLBOARD", "listen by rivka"]
    feed = QueueLogFeed(str(path), centre_config())
    out = list(feed.read())
    assert not [x for x in out if isinstance(x, (DeadLetter, CallerAbandoned))]
    assert feed.ignored["WALLBOARD"] == 1


# --- the command -----------------------------------------------------------------------------------------------


async def test_pbx_command_serves_until_sigterm(tmp_path):
    env = {**os.environ, "WALLBOARD_AMI_USER": "cmd", "WALLBOARD_AMI_SECRET": "cmd-secret"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "wallboard.cli",
        "pbx",
        "--port",
        "0",
        "--speed",
        "30",
        "--seed",
        "3",
        "--queue-log",
        str(tmp_path / "queue_log"),
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        line = (await asyncio.wait_for(proc.stderr.readline(), 30)).decode()
        port = int(re.search(r"listening on 127\.0\.0\.1:(\d+)", line)[1])
        ami = await Ami.open(port)
        assert (await ami.login("cmd", "cmd-secret"))["Response"] == "Success"
        _, items = await ami.listing("QueueStatus", "QueueStatusComplete")
        assert [i["Queue"] for i in items if i["Event"] == "QueueParams"] == ["support", "tech", "billing", "sales"]
        ami.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(proc.wait(), 15) == 0
    assert (tmp_path / "queue_log").read_text().startswith(tuple("0123456789"))


def test_a_pause_while_the_phone_rings_is_written_at_once_and_rings_nothing_new(tmp_path):
    """QueuePause while the member's phone rings: QueueMemberPause (Paused 1, Status 6) and PAUSEALL/PAUSE rows
    at once, no second AgentCalled; answered, the agent talks with the pause pending; then paused, and nothing
    more is written about the pause."""
    config = centre_config()
    centre = SimCentre(config, quiet(), 1, DAY)
    tracker = PbxTracker(config)
    ami, log = AmiRenderer(tracker), QueueLogWriter(tmp_path / "queue_log", config, tracker)
    out: list = []
    rows: list[str] = []

    def run_to(s: float) -> None:
        for e in centre.advance_to(at(s)):
            fact = tracker.apply(e)
            out.extend(ami.render(fact))
            rows.extend(log.rows(fact))

    agent = config.agents[0].id
    queue = next(iter(config.agents[0].skills))
    centre.schedule_caller(queue, at(10), talk_s=30)
    run_to(10)
    assert centre.agent_state(agent) == "ringing"
    centre.pause_agent(agent, "coaching")
    run_to(10)
    paused = [e for e in out if e["Event"] == "QueueMemberPause"]
    assert paused and all((e["Paused"], e["Status"], e["PausedReason"]) == ("1", "6", "coaching") for e in paused)
    assert [e["Event"] for e in out].count("AgentCalled") == 1
    pause_rows = [r.split("|")[4:6] for r in rows if "PAUSE" in r.split("|")[4]]
    assert pause_rows[0] == ["PAUSEALL", ""] and {tuple(r) for r in pause_rows[1:]} == {("PAUSE", "coaching")}
    run_to(300)
    assert centre.agent_state(agent) == "paused"
    assert [e["Event"] for e in out].count("QueueMemberPause") == len(paused)  # nothing more about it
    assert sum("PAUSE" in r.split("|")[4] for r in rows) == len(pause_rows)
    log.close()
