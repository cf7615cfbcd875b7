"""The simulated centre's events as FreeSWITCH mod_callcenter would raise them (``CUSTOM callcenter::info``),
from the same ``PbxTracker`` facts the AMI face renders (``ami_render``), so both faces name the same calls.

Orders and headers follow mod_callcenter.c (docs/PROTOCOLS_FREESWITCH.md); every event carries the core's
basic headers (``Event-Name: CUSTOM``, ``Event-Subclass``, ``Core-UUID``, ``Event-Date-Timestamp`` in
microseconds, ``Event-Sequence``); member and bridge events carry the channel's data (``Unique-ID``,
``Answer-State``, ``Channel-State``...), as ``switch_channel_event_set_data`` adds it. ``CC-*-Time`` headers
are whole epoch seconds (``local_epoch_time_now``).

- join: ``member-queue-start`` (CC-Member-Session-UUID = the model's call id, the caller's channel uuid)
- ring: ``agent-state-change`` Receiving, then ``agent-offering``
- missed: ``bridge-agent-fail`` (CC-Hangup-Cause NO_ANSWER, Called / Aborted times), ``agent-state-change``
  Waiting
- answered: ``bridge-agent-start`` (Called / Answered / Member-Joined times), ``agent-state-change`` In a queue
  call
- completed: ``bridge-agent-end`` (Bridge-Terminated-Time), ``member-queue-end`` CC-Cause Terminated,
  ``agent-state-change`` Waiting (wrap-up is the agent's wrap_up_time: no event says it)
- caller exits: ``member-queue-end`` CC-Cause Cancel with CC-Cancel-Reason BREAK_OUT (hung up: Answer-State
  hangup), TIMEOUT, NO_AGENT_TIMEOUT (empty queue), EXIT_WITH_KEY, or BREAK_OUT with the channel still up
  (withdrawn, a callback request: taken out of the queue alive); a ring under way ends with
  ``bridge-agent-fail`` ORIGINATOR_CANCEL (not the agent's miss)
- agents: ``agent-status-change`` (Available, On Break, Logged Out) and ``agent-state-change`` when they change

What mod_callcenter does not see is not rendered: tier changes (no event: the tier table says them), an
agent's own outbound calls and callbacks (not queue calls), pause reasons (``On Break`` is all it knows).
"""

from __future__ import annotations

import uuid
from collections import OrderedDict
from datetime import datetime
from typing import Any

from .ami_render import Fact, PbxTracker, epoch_parts, whole_seconds

CORE_FILE = "mod_callcenter.c"
_NS = uuid.UUID("9b0e7a3c-5f1d-4c8e-a2b4-6d7e8f901234")
CANCEL_REASON = {
    "abandon": "BREAK_OUT",
    "timeout": "TIMEOUT",
    "empty": "NO_AGENT_TIMEOUT",
    "key": "EXIT_WITH_KEY",
    "withdrawn": "BREAK_OUT",
    "callback": "BREAK_OUT",
}


def member_uuid(call_id: str) -> str:
    """The member row's own uuid (mod_callcenter makes one per queue entry), derived so runs repeat."""
    return str(uuid.uuid5(_NS, call_id))


def microseconds(ts: datetime) -> str:
    s, us = epoch_parts(ts)
    return str(s * 1_000_000 + us)


class EslRenderer:
    """Facts -> mod_callcenter events (ordered dicts of header -> plain value), and the switch's view of each
    agent's status and state (what ``agent list`` shows)."""

    def __init__(
        self, tracker: PbxTracker, domain: str = "default", core_uuid: str | None = None, hostname: str = "sim-switch"
    ):
        self.tracker = tracker
        self.domain = domain
        self.core_uuid = core_uuid or str(uuid.uuid4())
        self.hostname = hostname
        self.seq = 0
        self.status: dict[str, str] = {}  # agent -> Available | On Break | Logged Out
        self.state: dict[str, str] = {}  # agent -> Waiting | Receiving | In a queue call
        self.last_bridge_end: dict[str, int] = {}
        self.bridge_start: dict[str, int] = {}  # agent -> when its current queue call was answered
        self.called: dict[str, int] = {}  # call id -> when the agent now ringing was called

    def queue_name(self, queue: str) -> str:
        return f"{queue}@{self.domain}"

    def agent_name(self, agent: str) -> str:
        return f"{agent}@{self.domain}"

    def render(self, f: Fact) -> list[OrderedDict[str, str]]:
        handler = getattr(self, "_" + f.kind, None)
        return handler(f) if handler else []

    # --- building blocks --------------------------------------------------------------------------------

    def event(self, ts: datetime, *parts: dict[str, str], calling: str = "cc_agent_update") -> OrderedDict[str, str]:
        self.seq += 1
        ev: OrderedDict[str, str] = OrderedDict()
        ev.update(
            {
                "Event-Name": "CUSTOM",
                "Core-UUID": self.core_uuid,
                "FreeSWITCH-Hostname": self.hostname,
                "FreeSWITCH-Switchname": self.hostname,
                "FreeSWITCH-IPv4": "127.0.0.1",
                "Event-Date-Local": ts.strftime("%Y-%m-%d %H:%M:%S"),
                "Event-Date-GMT": ts.strftime("%a, %d %b %Y %H:%M:%S GMT"),
                "Event-Date-Timestamp": microseconds(ts),
                "Event-Calling-File": CORE_FILE,
                "Event-Calling-Function": calling,
                "Event-Calling-Line-Number": "0",
                "Event-Sequence": str(self.seq),
                "Event-Subclass": "callcenter::info",
            }
        )
        for p in parts:
            ev.update(p)
        return ev

    def channel(self, uid: str, name: str, number: str, up: bool = True) -> dict[str, str]:
        """What switch_channel_event_set_data adds (the part a consumer reads)."""
        return {
            "Channel-State": "CS_EXECUTE" if up else "CS_HANGUP",
            "Channel-Call-State": "ACTIVE" if up else "HANGUP",
            "Channel-Name": name,
            "Unique-ID": uid,
            "Call-Direction": "inbound",
            "Answer-State": "answered" if up else "hangup",
            "Caller-Caller-ID-Number": number,
            "Caller-Caller-ID-Name": number,
        }

    def _member(self, f: Fact) -> dict[str, str]:
        c = f.call
        assert c is not None
        return {
            "CC-Queue": self.queue_name(c.queue),
            "CC-Member-UUID": member_uuid(c.call_id),
            "CC-Member-Session-UUID": c.call_id,
            "CC-Member-CID-Name": c.number or "",
            "CC-Member-CID-Number": c.number or "",
        }

    def _caller_channel(self, f: Fact, up: bool = True) -> dict[str, str]:
        c = f.call
        assert c is not None
        return self.channel(c.call_id, c.channel.name.replace("PJSIP/", "sofia/external/"), c.number, up)

    def _agent_channel(self, f: Fact) -> dict[str, str]:
        leg = f.leg
        assert leg is not None
        return self.channel(leg.uniqueid, leg.name.replace("PJSIP/", "sofia/internal/"), leg.caller_num)

    def _state(self, agent: str, ts: datetime, state: str) -> list[OrderedDict[str, str]]:
        if self.state.get(agent) == state:
            return []
        self.state[agent] = state
        return [
            self.event(
                ts, {"CC-Agent": self.agent_name(agent), "CC-Action": "agent-state-change", "CC-Agent-State": state}
            )
        ]

    def _status(self, agent: str, ts: datetime, status: str) -> list[OrderedDict[str, str]]:
        if self.status.get(agent) == status:
            return []
        self.status[agent] = status
        return [
            self.event(
                ts, {"CC-Agent": self.agent_name(agent), "CC-Action": "agent-status-change", "CC-Agent-Status": status}
            )
        ]

    # --- facts ------------------------------------------------------------------------------------------

    def _join(self, f: Fact) -> list[OrderedDict[str, str]]:
        return [
            self.event(
                f.ts,
                self._caller_channel(f),
                self._member(f),
                {"CC-Action": "member-queue-start"},
                calling="cc_queue_function",
            )
        ]

    def _ring(self, f: Fact) -> list[OrderedDict[str, str]]:
        assert f.agent is not None and f.call is not None
        self.called[f.call.call_id] = whole_seconds(f.ts)
        out = self._state(f.agent, f.ts, "Receiving")
        out.append(
            self.event(
                f.ts,
                {
                    "CC-Queue": self.queue_name(f.call.queue),
                    "CC-Action": "agent-offering",
                    "CC-Agent": self.agent_name(f.agent),
                    "CC-Agent-Type": "callback",
                    "CC-Agent-System": "single_box",
                },
                self._member(f),
                calling="outbound_agent_thread_run",
            )
        )
        return out

    def _fail(self, f: Fact, cause: str) -> list[OrderedDict[str, str]]:
        assert f.agent is not None and f.call is not None
        called = self.called.pop(f.call.call_id, whole_seconds(f.ts))
        out = [
            self.event(
                f.ts,
                {
                    "CC-Queue": self.queue_name(f.call.queue),
                    "CC-Action": "bridge-agent-fail",
                    "CC-Hangup-Cause": cause,
                    "CC-Agent": self.agent_name(f.agent),
                    "CC-Agent-System": "single_box",
                    "CC-Agent-Called-Time": str(called),
                    "CC-Agent-Aborted-Time": str(whole_seconds(f.ts)),
                },
                self._member(f),
                {"CC-Member-Joined-Time": str(whole_seconds(f.call.joined))},
                calling="outbound_agent_thread_run",
            )
        ]
        return out + self._state(f.agent, f.ts, "Waiting")

    def _missed(self, f: Fact) -> list[OrderedDict[str, str]]:
        return self._fail(f, "NO_ANSWER")

    def _answer(self, f: Fact) -> list[OrderedDict[str, str]]:
        c = f.call
        assert c is not None and f.agent is not None
        now = whole_seconds(f.ts)
        called = self.called.pop(c.call_id, now)
        self.bridge_start[f.agent] = now
        ev = self.event(
            f.ts,
            self._agent_channel(f),
            {
                "CC-Queue": self.queue_name(c.queue),
                "CC-Action": "bridge-agent-start",
                "CC-Agent": self.agent_name(f.agent),
                "CC-Agent-System": "single_box",
                "CC-Agent-UUID": f.leg.uniqueid if f.leg else "",
                "CC-Agent-Called-Time": str(called),
                "CC-Agent-Answered-Time": str(now),
                "CC-Member-Joined-Time": str(whole_seconds(c.joined)),
            },
            self._member(f),
            calling="outbound_agent_thread_run",
        )
        return [ev, *self._state(f.agent, f.ts, "In a queue call")]

    def _complete(self, f: Fact) -> list[OrderedDict[str, str]]:
        c = f.call
        assert c is not None and f.agent is not None
        now = whole_seconds(f.ts)
        answered = self.bridge_start.pop(f.agent, whole_seconds(c.connected or f.ts))
        times = {"CC-Agent-Called-Time": str(answered), "CC-Agent-Answered-Time": str(answered)}
        joined = str(whole_seconds(c.joined))
        agent = {
            "CC-Agent": self.agent_name(f.agent),
            "CC-Agent-System": "single_box",
            "CC-Agent-UUID": f.leg.uniqueid if f.leg else "",
        }
        end = self.event(
            f.ts,
            self._agent_channel(f),
            {
                "CC-Queue": self.queue_name(c.queue),
                "CC-Action": "bridge-agent-end",
                "CC-Hangup-Cause": "NORMAL_CLEARING",
            },
            agent,
            {
                "CC-Agent-Bridged": "true",
                **times,
                "CC-Member-Joined-Time": joined,
                "CC-Bridge-Terminated-Time": str(now),
            },
            self._member(f),
            calling="outbound_agent_thread_run",
        )
        off = self.event(
            f.ts,
            self._caller_channel(f, up=False),
            {
                "CC-Queue": self.queue_name(c.queue),
                "CC-Action": "member-queue-end",
                "CC-Hangup-Cause": "NORMAL_CLEARING",
                "CC-Cause": "Terminated",
            },
            agent,
            {**times, "CC-Member-Leaving-Time": str(now), "CC-Member-Joined-Time": joined},
            self._member(f),
            calling="outbound_agent_thread_run",
        )
        self.last_bridge_end[f.agent] = now
        return [end, off, *self._state(f.agent, f.ts, "Waiting")]

    def _exit(self, f: Fact) -> list[OrderedDict[str, str]]:
        c = f.call
        assert c is not None
        up = f.exit in ("withdrawn", "callback", "key", "timeout", "empty")  # only a hang-up takes the channel down
        out = [
            self.event(
                f.ts,
                self._caller_channel(f, up=up),
                {
                    "CC-Queue": self.queue_name(c.queue),
                    "CC-Action": "member-queue-end",
                    "CC-Member-Leaving-Time": str(whole_seconds(f.ts)),
                    "CC-Member-Joined-Time": str(whole_seconds(c.joined)),
                    "CC-Cause": "Cancel",
                    "CC-Cancel-Reason": CANCEL_REASON[f.exit or "abandon"],
                },
                self._member(f),
                calling="cc_queue_function",
            )
        ]
        if f.leg is not None and f.agent is not None:  # the ring under way stops: not the agent's miss
            out += self._fail(f, "ORIGINATOR_CANCEL")
        return out

    def _agent(self, f: Fact) -> list[OrderedDict[str, str]]:
        e: Any = f.event
        agent = f.agent
        assert agent is not None
        if e.state == "paused":
            return self._status(agent, f.ts, "On Break") + self._state(agent, f.ts, "Waiting")
        if e.state == "logged_out":
            return self._status(agent, f.ts, "Logged Out")
        if e.state == "available":
            return self._status(agent, f.ts, "Available") + self._state(agent, f.ts, "Waiting")
        # busy: a status set meanwhile changes at once (the call goes on; paused when free)
        out = self._status(agent, f.ts, "On Break" if e.pause_pending else "Available") if f.pause_changed else []
        if e.state == "wrap_up":
            out += self._state(agent, f.ts, "Waiting")  # mod_callcenter: Waiting, held back by wrap_up_time
        return out  # ringing or on a call outside a queue call (outbound, callbacks): not mod_callcenter's
