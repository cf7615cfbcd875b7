"""The simulated centre's events as Asterisk 18 AMI events (docs/PROTOCOLS.md#ami).

Two parts, kept apart from the model (which is not changed by any of this):

- ``PbxTracker`` follows the model's event stream and keeps what a PBX knows and the model's events leave
  implicit: channel names and snapshots, the agent's leg of each queue call, queue positions, member records
  (penalty, calls taken, last call, login and pause times, device status) and per-queue running statistics.
  ``apply(event)`` turns each model event into a ``Fact`` with everything a protocol face needs. The queue_log
  writer (``queue_log_writer.py``) uses the same tracker, so both faces name the same channels.
- ``AmiRenderer`` turns facts into AMI events (ordered dicts; ``format_message`` makes the wire text).

Everything derived is deterministic: the same model events give the same channels, ids and text.

**Ids.** A caller channel's ``Uniqueid`` is the model's call id, and so is the dialled channel's of an
outbound call or callback, so AMI call ids equal the queue_log's. Channels the model does not name (the
agent's leg of a queue call, the agent's own channel placing an outbound call, a supervisor's spy channel)
get ``<epoch second>.<n>`` with ``n`` counting from 1,000,000, apart from the model's counter. Channel names
are Asterisk-like, ``<device>-<8 hex digits>``: callers arrive on ``PJSIP/provider-...``, agents' channels are
on their device (config ``device``, else ``interface``, else ``PJSIP/<id>``). The member interface is config
``interface``, else ``Agent/<id>`` (which the queue_log reader maps back to the agent id); ``MemberName`` is the
interface, as Asterisk sets it when a member is added without a name.

**Times.** Every event carries ``Timestamp`` (``timestampevents = yes``): the model event's time, epoch with
microseconds. Durations are Asterisk's: ``HoldTime``, ``TalkTime`` and AgentConnect's ``RingTime`` are whole
seconds between whole-second times (``time(NULL)`` differences), AgentRingNoAnswer's ``RingTime`` is in ms.

**Order of each exit** (app_queue.c; docs/PROTOCOLS.md#events-of-one-queue-call-in-order), for the caller
channel (its ``Linkedid``):

- join: ``Newchannel``, ``QueueCallerJoin`` (Position, Count)
- ring: ``QueueMemberStatus`` (Status 6, once per queue the agent is a member of), ``AgentCalled``,
  ``DialBegin`` (caller -> the agent's leg; DialString = the member interface)
- missed: ``AgentRingNoAnswer`` (RingTime ms), ``DialEnd`` (NOANSWER), ``Hangup`` of the leg, then
  ``QueueMemberStatus`` (1) when the agent is free again
- answered: ``DialEnd`` (ANSWER), ``QueueCallerLeave``, ``AgentConnect`` (HoldTime, RingTime s), then
  ``QueueMemberStatus`` (2, InCall 1)
- completed: ``AgentComplete`` (HoldTime, TalkTime, Reason caller/agent), ``Hangup`` of the side that hung up
  first then of the other, ``QueueMemberStatus`` (1; wrap-up is not a device state, the member's
  ``Wrapuptime`` says how long the queue keeps it from new calls)
- hang-up while waiting: ``QueueCallerAbandon`` (Position, OriginalPosition, HoldTime), ``QueueCallerLeave``,
  ``Hangup`` -- no QUEUESTATUS (the caller never returns to the dialplan)
- timeout / empty queue: ``QueueCallerAbandon``, ``QueueCallerLeave``, ``VarSet`` QUEUESTATUS=TIMEOUT /
  LEAVEEMPTY, then ``Hangup`` (the message centre the caller goes on to is not simulated: it hangs up at once)
- withdrawn (a callback request too): the same with QUEUESTATUS=WITHDRAW
- key press: ``QueueCallerLeave`` alone, then the channel continues where the key leads:
  ``Newexten`` (Context ``queue-exit``, Exten = the key, ``1``; Application VoiceMail), then ``Hangup``
- any exit while an agent's phone rang: ``DialEnd`` (CANCEL) and ``Hangup`` of the leg come first (the ring
  stops; it is not the agent's miss), the member's status goes back to 1 after the exit events

Agent side: a pause or unpause gives ``QueueMemberPause`` (Paused, PausedReason) for each of the agent's
queues, then ``QueueMemberStatus`` for each, at once, on a call or not (app_queue's ``set_queue_member_pause``);
the end of a call or of its wrap-up says nothing more about it; membership gives ``QueueMemberAdded`` /
``QueueMemberRemoved`` / ``QueueMemberPenalty`` (all with the full member fields). An outbound call or
callback is placed from the agent's own device channel: ``Newchannel``, ``DialBegin`` (DestUniqueid = the
model's call id), ``QueueMemberStatus`` (2), then ``DialEnd`` ANSWER when answered; when the agent is free again
``DialEnd`` NOANSWER (if never answered), ``Hangup`` of both channels and ``QueueMemberStatus`` (1).
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from ..config import WallboardConfig
from ..events import (
    AgentMissed,
    AgentStateChanged,
    CallbackRequested,
    CallCompleted,
    CallerAbandoned,
    CallerAnswered,
    CallerJoined,
    CallerOverflowed,
    DialAttempt,
    MemberAdded,
    MemberPenalty,
    MemberRemoved,
    OutboundCall,
)

_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
LEG_ID_BASE = 1_000_000  # channels the model does not name count from here (apart from the model's ids)
TRUNK = "PJSIP/provider"  # where callers come from and outbound calls go
EXIT_CONTEXT = "queue-exit"  # the queue's ``context`` option: where a key press leads
EXIT_KEY = "1"

# Device states (QueueMemberStatus ``Status``).
NOT_IN_USE, IN_USE, RINGING = 1, 2, 6
CHANNEL_STATE = {0: "Down", 4: "Ring", 5: "Ringing", 6: "Up"}
QUEUESTATUS = {"timeout": "TIMEOUT", "empty": "LEAVEEMPTY", "withdrawn": "WITHDRAW", "callback": "WITHDRAW"}
PRIVILEGE = {"agent": "agent,all", "call": "call,all", "dialplan": "dialplan,all", "system": "system,all"}


# --- time ------------------------------------------------------------------------------------------------------


def epoch_parts(ts: datetime) -> tuple[int, int]:
    """(whole epoch seconds, microseconds), exactly."""
    d = ts - _EPOCH
    return d.days * 86400 + d.seconds, d.microseconds


def whole_seconds(ts: datetime) -> int:
    """Asterisk's ``time(NULL)`` at ``ts``."""
    return epoch_parts(ts)[0]


def ami_timestamp(ts: datetime) -> str:
    s, us = epoch_parts(ts)
    return f"{s}.{us:06d}"


def held(since: datetime, until: datetime) -> int:
    """A duration as Asterisk counts it: the difference of two ``time(NULL)`` values."""
    return max(0, whole_seconds(until) - whole_seconds(since))


# --- who is who --------------------------------------------------------------------------------------------


def member_interface(config: WallboardConfig, agent_id: str) -> str:
    """The agent's queue member interface: config ``interface``, else ``Agent/<id>``."""
    for a in config.agents:
        if a.id == agent_id:
            return a.interface or f"Agent/{agent_id}"
    return f"Agent/{agent_id}"


def agent_device(config: WallboardConfig, agent_id: str) -> str:
    """The device the agent's channels are named after: config ``device``, else ``interface``, else
    ``PJSIP/<id>``."""
    for a in config.agents:
        if a.id == agent_id:
            return a.device or a.interface or f"PJSIP/{agent_id}"
    return f"PJSIP/{agent_id}"


def interface_agents(config: WallboardConfig) -> dict[str, str]:
    """Member interface (and device) -> agent id, as the simulated PBX resolves actions."""
    out: dict[str, str] = {}
    for a in config.agents:
        out[f"Agent/{a.id}"] = a.id
        out[agent_device(config, a.id)] = a.id
        out[member_interface(config, a.id)] = a.id
    return out


def device_extension(device: str) -> str:
    """``PJSIP/1001`` -> ``1001`` (the peer part of a device, without any ``@host``)."""
    return device.split("/", 1)[-1].split("@", 1)[0]


# --- the PBX's state ---------------------------------------------------------------------------------------


@dataclass
class Channel:
    name: str
    uniqueid: str
    linkedid: str
    caller_num: str
    caller_name: str
    kind: str  # caller | leg | outbound | dest | spy
    agent: str | None = None
    connected_num: str = "<unknown>"
    connected_name: str = "<unknown>"
    state: int = 6
    context: str = ""
    exten: str = ""
    priority: int = 1
    language: str = "en"

    def snapshot(self, prefix: str = "", **override: Any) -> dict[str, str]:
        state = override.get("state", self.state)
        values = {
            "Channel": self.name,
            "ChannelState": str(state),
            "ChannelStateDesc": CHANNEL_STATE.get(state, "Unknown"),
            "CallerIDNum": self.caller_num,
            "CallerIDName": self.caller_name,
            "ConnectedLineNum": override.get("connected_num", self.connected_num),
            "ConnectedLineName": override.get("connected_name", self.connected_name),
            "Language": self.language,
            "AccountCode": "",
            "Context": override.get("context", self.context),
            "Exten": override.get("exten", self.exten),
            "Priority": str(override.get("priority", self.priority)),
            "Uniqueid": self.uniqueid,
            "Linkedid": self.linkedid,
        }
        return {prefix + k: v for k, v in values.items()}


@dataclass
class QueueCall:
    call_id: str
    queue: str
    number: str
    channel: Channel
    joined: datetime
    opos: int  # original position
    agent: str | None = None  # being rung, or talking
    leg: Channel | None = None
    ring_start: datetime | None = None
    connected: datetime | None = None


@dataclass
class Member:
    queue: str
    agent: str
    interface: str
    state_interface: str
    penalty: int
    login_time: int
    calls: int = 0
    last_call: int = 0
    last_pause: int = 0
    in_call: int = 0


@dataclass
class AgentDevice:
    agent: str
    device: str
    status: int = NOT_IN_USE
    paused: bool = False
    reason: str = ""
    outbound: Outbound | None = None


@dataclass
class Outbound:
    agent: str
    channel: Channel  # the agent's own device channel, which dials
    dest: Channel  # the dialled channel (Uniqueid = the model's call id)
    number: str
    answered: bool = False


@dataclass
class QueueStats:
    """app_queue's running values, reset with the PBX: Holdtime/TalkTime are weighted (3 old + 1 new) / 4."""

    completed: int = 0
    abandoned: int = 0
    completed_in_sl: int = 0
    abandoned_in_sl: int = 0
    holdtime: int = 0
    talktime: int = 0


@dataclass
class Fact:
    """One model event, with the PBX-side facts around it (what the protocol faces render)."""

    kind: str  # join ring missed answer complete exit agent member_added member_removed member_penalty dial
    #            dial_answered skip
    event: Any
    ts: datetime
    call: QueueCall | None = None
    agent: str | None = None
    leg: Channel | None = None  # the leg rung / missed / cancelled
    position: int | None = None  # the caller's position when leaving
    count: int | None = None  # callers waiting after the join / leave
    exit: str | None = None  # abandon timeout empty key withdrawn callback
    hold_s: int | None = None
    talk_s: int | None = None
    ring_s: int | None = None  # whole seconds (AgentConnect, CONNECT)
    ring_ms: int | None = None  # AgentRingNoAnswer, RINGNOANSWER, RINGCANCELED
    reason: str | None = None  # AgentComplete reason
    members: list[Member] = field(default_factory=list)  # the agent's memberships now
    status_changed: bool = False
    pause_changed: bool = False
    outbound: Outbound | None = None  # dial / dial_answered / the outbound call that ended (agent)
    outbound_ended: bool = False
    member: Member | None = None


class PbxTracker:
    """What the PBX knows beside the model's events (see the module docstring). Feed it every event of a run,
    from the model's first (the logins at its start), in order."""

    def __init__(self, config: WallboardConfig):
        self.config = config
        self._seq = 0
        self._legs = 0
        self.calls: dict[str, QueueCall] = {}  # call id -> call, from join until its channel hangs up
        self.waiting: dict[str, list[str]] = {}  # queue -> call ids in line
        self.members: dict[tuple[str, str], Member] = {}  # (queue, agent) -> member
        self.devices: dict[str, AgentDevice] = {}
        self.stats: dict[str, QueueStats] = {}
        self.channels: dict[str, Channel] = {}  # uniqueid -> channel, while it exists
        self._interface = {a.id: member_interface(config, a.id) for a in config.agents}
        self._device = {a.id: agent_device(config, a.id) for a in config.agents}
        self._names = {a.id: a.name or a.id for a in config.agents}

    # --- naming -----------------------------------------------------------------------------------------

    def interface(self, agent: str) -> str:
        return self._interface.get(agent) or f"Agent/{agent}"

    def device_of(self, agent: str) -> str:
        return self._device.get(agent) or f"PJSIP/{agent}"

    def agent_name(self, agent: str) -> str:
        return self._names.get(agent, agent)

    def wrapup_s(self, queue: str) -> int:
        return int(self.config.queue(queue).wrapup_s)

    def channel_name(self, device: str) -> str:
        self._seq += 1
        return f"{device}-{self._seq:08x}"

    def new_id(self, ts: datetime) -> str:
        """A Uniqueid for a channel the model does not name."""
        self._legs += 1
        return f"{whole_seconds(ts)}.{LEG_ID_BASE + self._legs}"

    def open_channel(self, ch: Channel) -> Channel:
        self.channels[ch.uniqueid] = ch
        return ch

    def close_channel(self, ch: Channel | None) -> None:
        if ch is not None:
            self.channels.pop(ch.uniqueid, None)

    def device(self, agent: str) -> AgentDevice:
        dev = self.devices.get(agent)
        if dev is None:
            dev = self.devices[agent] = AgentDevice(agent, self.device_of(agent))
        return dev

    def agent_members(self, agent: str) -> list[Member]:
        """The agent's memberships, in the order they were added."""
        return [m for (q, a), m in self.members.items() if a == agent]

    def queue_stats(self, queue: str) -> QueueStats:
        return self.stats.setdefault(queue, QueueStats())

    # --- events -----------------------------------------------------------------------------------------

    def apply(self, e: Any) -> Fact:
        if isinstance(e, CallerJoined):
            return self._join(e)
        if isinstance(e, AgentStateChanged):
            call = self.calls.get(e.call_id) if e.state == "ringing" else None
            if call is not None and not (call.leg is not None and call.agent == e.agent):
                return self._ring(e)
            return self._agent_state(e)  # a ring under way said again (a pause held meanwhile) rings nothing new
        if isinstance(e, AgentMissed):
            return self._missed(e)
        if isinstance(e, CallerAnswered):
            return self._answer(e)
        if isinstance(e, CallCompleted):
            return self._complete(e)
        if isinstance(e, CallerAbandoned):
            return self._exit(e, "abandon")
        if isinstance(e, CallerOverflowed):
            return self._exit(e, e.reason)
        if isinstance(e, CallbackRequested):
            return self._exit(e, "callback")
        if isinstance(e, MemberAdded):
            return self._member_added(e)
        if isinstance(e, MemberRemoved):
            m = self.members.pop((e.queue, e.agent), None)
            return Fact("member_removed" if m else "skip", e, e.ts, agent=e.agent, member=m)
        if isinstance(e, MemberPenalty):
            m = self.members.get((e.queue, e.agent))
            if m is None:
                return Fact("skip", e, e.ts)
            m.penalty = e.penalty
            return Fact("member_penalty", e, e.ts, agent=e.agent, member=m)
        if isinstance(e, DialAttempt):
            return self._dial(e)
        if isinstance(e, OutboundCall):
            out = self.device(e.agent).outbound
            if out is None or out.dest.uniqueid != e.call_id:
                return Fact("skip", e, e.ts)
            out.answered = True
            out.channel.state = out.dest.state = 6
            return Fact("dial_answered", e, e.ts, agent=e.agent, outbound=out)
        # wrap-up ends, callbacks done, feed gaps: nothing a PBX says
        return Fact("skip", e, e.ts)

    def _join(self, e: CallerJoined) -> Fact:
        number = e.caller or ""
        ch = self.open_channel(
            Channel(
                name=self.channel_name(TRUNK),
                uniqueid=e.call_id,
                linkedid=e.call_id,
                caller_num=number,
                caller_name=number,
                kind="caller",
                context="queues",
                exten=e.queue,
                priority=2,
            )
        )
        line = self.waiting.setdefault(e.queue, [])
        line.append(e.call_id)
        call = QueueCall(e.call_id, e.queue, number, ch, e.ts, opos=len(line))
        self.calls[e.call_id] = call
        return Fact("join", e, e.ts, call=call, position=call.opos, count=len(line))

    def _ring(self, e: AgentStateChanged) -> Fact:
        call = self.calls[e.call_id]  # type: ignore[index]
        dev = self.device(e.agent)
        leg = self.open_channel(
            Channel(
                name=self.channel_name(dev.device),
                uniqueid=self.new_id(e.ts),
                linkedid=call.call_id,
                caller_num=device_extension(dev.device),
                caller_name=self.agent_name(e.agent),
                kind="leg",
                agent=e.agent,
                connected_num=call.number,
                connected_name=call.number,
                state=0,
                context="from-queue",
                exten=call.queue,
                priority=1,
            )
        )
        call.agent, call.leg, call.ring_start = e.agent, leg, e.ts
        fact = Fact("ring", e, e.ts, call=call, agent=e.agent, leg=leg)
        self._set_device(fact, dev, RINGING, paused=None)
        return fact

    def _missed(self, e: AgentMissed) -> Fact:
        call = self.calls.get(e.call_id)
        if call is None or call.leg is None:
            return Fact("skip", e, e.ts)
        leg = call.leg
        leg.state = 5
        ring_ms = round((e.ring_s if e.ring_s is not None else (e.ts - call.ring_start).total_seconds()) * 1000)
        call.agent, call.leg, call.ring_start = None, None, None
        self.close_channel(leg)
        return Fact("missed", e, e.ts, call=call, agent=e.agent, leg=leg, ring_ms=ring_ms)

    def _leave_line(self, call: QueueCall) -> tuple[int, int]:
        line = self.waiting.get(call.queue, [])
        position = line.index(call.call_id) + 1 if call.call_id in line else 1
        if call.call_id in line:
            line.remove(call.call_id)
        return position, len(line)

    def _answer(self, e: CallerAnswered) -> Fact:
        call = self.calls.get(e.call_id)
        if call is None or call.leg is None:
            return Fact("skip", e, e.ts)
        position, count = self._leave_line(call)
        call.connected = e.ts
        leg, ch = call.leg, call.channel
        leg.state = 6
        ch.connected_num, ch.connected_name = leg.caller_num, leg.caller_name
        hold = held(call.joined, e.ts)
        ring = held(call.ring_start or e.ts, e.ts)
        stats = self.queue_stats(call.queue)
        stats.holdtime = (stats.holdtime * 3 + hold) // 4
        m = self.members.get((call.queue, call.agent or ""))
        if m is not None:
            m.in_call = 1
        return Fact(
            "answer",
            e,
            e.ts,
            call=call,
            agent=call.agent,
            leg=leg,
            position=position,
            count=count,
            hold_s=hold,
            ring_s=ring,
        )

    def _complete(self, e: CallCompleted) -> Fact:
        call = self.calls.pop(e.call_id, None)
        if call is None or call.leg is None or call.connected is None:
            return Fact("skip", e, e.ts)
        hold = held(call.joined, call.connected)
        talk = held(call.connected, e.ts)
        stats = self.queue_stats(call.queue)
        stats.completed += 1
        stats.completed_in_sl += hold <= self.config.queue(call.queue).sl_threshold_s
        stats.talktime = (stats.talktime * 3 + talk) // 4
        agent = call.agent or e.agent or ""
        m = self.members.get((call.queue, agent))
        if m is not None:
            m.calls += 1
            m.last_call = whole_seconds(e.ts)
            m.in_call = 0
        self.close_channel(call.leg)
        self.close_channel(call.channel)
        fact = Fact(
            "complete",
            e,
            e.ts,
            call=call,
            agent=agent,
            leg=call.leg,
            hold_s=hold,
            talk_s=talk,
            reason=e.ended_by or "caller",
        )
        self._set_device(fact, self.device(agent), NOT_IN_USE, paused=None)
        return fact

    def _exit(self, e: Any, how: str) -> Fact:
        call = self.calls.pop(e.call_id, None)
        if call is None:
            return Fact("skip", e, e.ts)
        position, count = self._leave_line(call)
        leg, ring_ms = call.leg, None
        if leg is not None:  # the ring stops with the caller: not the agent's miss
            leg.state = 5
            ring_ms = round((e.ts - (call.ring_start or e.ts)).total_seconds() * 1000)
            self.close_channel(leg)
        self.close_channel(call.channel)
        hold = held(call.joined, e.ts)
        if how != "key":  # app_queue's record_abandoned: every exit but a key press
            stats = self.queue_stats(call.queue)
            stats.abandoned += 1
            stats.abandoned_in_sl += hold <= self.config.queue(call.queue).sl_threshold_s
        return Fact(
            "exit",
            e,
            e.ts,
            call=call,
            agent=call.agent,
            leg=leg,
            position=position,
            count=count,
            exit=how,
            hold_s=hold,
            ring_ms=ring_ms,
        )

    def _member_added(self, e: MemberAdded) -> Fact:
        dev = self.device(e.agent)
        iface = self.interface(e.agent)
        m = Member(e.queue, e.agent, iface, dev.device, e.penalty, login_time=whole_seconds(e.ts))
        self.members[(e.queue, e.agent)] = m
        return Fact("member_added", e, e.ts, agent=e.agent, member=m, members=[m])

    def _dial(self, e: DialAttempt) -> Fact:
        dev = self.device(e.agent)
        number = e.number or ""
        own_id = self.new_id(e.ts)
        ext = device_extension(dev.device)
        own = self.open_channel(
            Channel(
                name=self.channel_name(dev.device),
                uniqueid=own_id,
                linkedid=own_id,
                caller_num=ext,
                caller_name=self.agent_name(e.agent),
                kind="outbound",
                agent=e.agent,
                connected_num=number,
                connected_name=number,
                state=4,
                context="from-internal",
                exten=number,
                priority=1,
            )
        )
        dest = self.open_channel(
            Channel(
                name=self.channel_name(TRUNK),
                uniqueid=e.call_id,
                linkedid=own_id,
                caller_num=number,
                caller_name=number,
                kind="dest",
                agent=e.agent,
                connected_num=ext,
                connected_name=self.agent_name(e.agent),
                state=0,
                context="from-internal",
                exten="",
                priority=1,
            )
        )
        out = dev.outbound = Outbound(e.agent, own, dest, number)
        return Fact("dial", e, e.ts, agent=e.agent, outbound=out)

    def _agent_state(self, e: AgentStateChanged) -> Fact:
        dev = self.device(e.agent)
        fact = Fact("agent", e, e.ts, agent=e.agent)
        if dev.outbound is not None and e.state != "on_call":
            fact.outbound, fact.outbound_ended = dev.outbound, True
            self.close_channel(dev.outbound.channel)
            self.close_channel(dev.outbound.dest)
            dev.outbound = None
        status = {"ringing": RINGING, "on_call": IN_USE}.get(e.state, NOT_IN_USE)
        if e.state == "paused" or e.pause_pending:  # app_queue pauses a member at once, on a call or not
            self._set_device(fact, dev, status, paused=True, reason=e.reason or "")
        else:  # available, logged out, or busy with no pause held (a pause lifted during the call)
            self._set_device(fact, dev, status, paused=False)
        return fact

    def _set_device(self, fact: Fact, dev: AgentDevice, status: int, paused: bool | None, reason: str = "") -> None:
        fact.members = self.agent_members(dev.agent)
        if status != dev.status:
            dev.status = status
            fact.status_changed = True
        if paused is not None and (paused != dev.paused or (paused and reason != dev.reason)):
            dev.paused, dev.reason = paused, reason if paused else ""
            fact.pause_changed = True
            if paused:
                for m in fact.members:
                    m.last_pause = whole_seconds(fact.ts)


# --- rendering -----------------------------------------------------------------------------------------


def format_message(fields: dict[str, str]) -> bytes:
    """An AMI message on the wire: ``Key: Value`` lines with CRLF, a blank line at the end."""
    return ("".join(f"{k}: {v}\r\n" for k, v in fields.items()) + "\r\n").encode("utf-8", "replace")


def event_class(ev: dict[str, str]) -> str:
    """The event class (``agent``, ``call``, ``dialplan``, ``system``) from its Privilege header."""
    return ev.get("Privilege", "system,all").split(",", 1)[0]


class AmiRenderer:
    """Facts -> AMI events, in Asterisk's order (see the module docstring)."""

    def __init__(self, tracker: PbxTracker):
        self.tracker = tracker

    def render_event(self, event: Any) -> list[OrderedDict[str, str]]:
        """Apply one model event to the tracker and render it."""
        return self.render(self.tracker.apply(event))

    def render(self, f: Fact) -> list[OrderedDict[str, str]]:
        handler = getattr(self, "_" + f.kind, None)
        return handler(f) if handler else []

    # --- building blocks --------------------------------------------------------------------------------

    @staticmethod
    def event(name: str, cls: str, ts: datetime, *parts: dict[str, str]) -> OrderedDict[str, str]:
        ev: OrderedDict[str, str] = OrderedDict()
        ev["Event"] = name
        ev["Privilege"] = PRIVILEGE[cls]
        ev["Timestamp"] = ami_timestamp(ts)
        for p in parts:
            ev.update(p)
        return ev

    def member_fields(self, m: Member) -> dict[str, str]:
        dev = self.tracker.device(m.agent)
        return {
            "Queue": m.queue,
            "MemberName": m.interface,
            "Interface": m.interface,
            "StateInterface": m.state_interface,
            "Membership": "dynamic",
            "Penalty": str(m.penalty),
            "CallsTaken": str(m.calls),
            "LastCall": str(m.last_call),
            "LastPause": str(m.last_pause),
            "LoginTime": str(m.login_time),
            "InCall": str(m.in_call),
            "Status": str(dev.status),
            "Paused": "1" if dev.paused else "0",
            "PausedReason": dev.reason if dev.paused else "",
            "Ringinuse": "0",
            "Wrapuptime": str(self.tracker.wrapup_s(m.queue)),
        }

    def _member_status(self, f: Fact) -> list[OrderedDict[str, str]]:
        out = []
        if f.pause_changed:
            out += [self.event("QueueMemberPause", "agent", f.ts, self.member_fields(m)) for m in f.members]
        if f.pause_changed or f.status_changed:
            out += [self.event("QueueMemberStatus", "agent", f.ts, self.member_fields(m)) for m in f.members]
        return out

    def _agent_fields(self, call: QueueCall, agent: str) -> dict[str, str]:
        iface = self.tracker.interface(agent)
        return {"Queue": call.queue, "Interface": iface, "MemberName": iface}

    def _hangup(self, ch: Channel, ts: datetime, cause: int = 16, **override: Any) -> OrderedDict[str, str]:
        text = {16: "Normal Clearing", 19: "No user responding"}.get(cause, "Unknown")
        return self.event("Hangup", "call", ts, ch.snapshot(**override), {"Cause": str(cause), "Cause-txt": text})

    def _dial_end(self, caller: Channel, dest: Channel, ts: datetime, status: str) -> OrderedDict[str, str]:
        return self.event("DialEnd", "call", ts, caller.snapshot(), dest.snapshot("Dest"), {"DialStatus": status})

    # --- facts ------------------------------------------------------------------------------------------

    def _join(self, f: Fact) -> list[OrderedDict[str, str]]:
        c = f.call
        assert c is not None
        return [
            self.event("Newchannel", "call", f.ts, c.channel.snapshot(state=4, priority=1)),
            self.event(
                "QueueCallerJoin",
                "agent",
                f.ts,
                c.channel.snapshot(),
                {"Queue": c.queue, "Position": str(f.position), "Count": str(f.count)},
            ),
        ]

    def _ring(self, f: Fact) -> list[OrderedDict[str, str]]:
        c, leg = f.call, f.leg
        assert c is not None and leg is not None and f.agent is not None
        return [
            *self._member_status(f),
            self.event(
                "AgentCalled", "agent", f.ts, c.channel.snapshot(), leg.snapshot("Dest"), self._agent_fields(c, f.agent)
            ),
            self.event(
                "DialBegin",
                "call",
                f.ts,
                c.channel.snapshot(),
                leg.snapshot("Dest"),
                {"DialString": self.tracker.interface(f.agent)},
            ),
        ]

    def _missed(self, f: Fact) -> list[OrderedDict[str, str]]:
        c, leg = f.call, f.leg
        assert c is not None and leg is not None and f.agent is not None
        return [
            self.event(
                "AgentRingNoAnswer",
                "agent",
                f.ts,
                c.channel.snapshot(),
                leg.snapshot("Dest"),
                self._agent_fields(c, f.agent),
                {"RingTime": str(f.ring_ms)},
            ),
            self._dial_end(c.channel, leg, f.ts, "NOANSWER"),
            self._hangup(leg, f.ts, 19),
        ]

    def _answer(self, f: Fact) -> list[OrderedDict[str, str]]:
        c, leg = f.call, f.leg
        assert c is not None and leg is not None and f.agent is not None
        return [
            self._dial_end(c.channel, leg, f.ts, "ANSWER"),
            self.event(
                "QueueCallerLeave",
                "agent",
                f.ts,
                c.channel.snapshot(),
                {"Queue": c.queue, "Position": str(f.position), "Count": str(f.count)},
            ),
            self.event(
                "AgentConnect",
                "agent",
                f.ts,
                c.channel.snapshot(),
                leg.snapshot("Dest"),
                self._agent_fields(c, f.agent),
                {"HoldTime": str(f.hold_s), "RingTime": str(f.ring_s)},
            ),
        ]

    def _complete(self, f: Fact) -> list[OrderedDict[str, str]]:
        c, leg = f.call, f.leg
        assert c is not None and leg is not None and f.agent is not None
        out = [
            self.event(
                "AgentComplete",
                "agent",
                f.ts,
                c.channel.snapshot(),
                leg.snapshot("Dest"),
                self._agent_fields(c, f.agent),
                {"HoldTime": str(f.hold_s), "TalkTime": str(f.talk_s), "Reason": f.reason or "caller"},
            ),
        ]
        hangups = [self._hangup(c.channel, f.ts), self._hangup(leg, f.ts)]
        out += hangups if f.reason != "agent" else hangups[::-1]
        return out + self._member_status(f)

    def _exit(self, f: Fact) -> list[OrderedDict[str, str]]:
        c = f.call
        assert c is not None
        ch, out = c.channel, []
        if f.leg is not None:  # a ring under way stops with the caller
            out += [self._dial_end(ch, f.leg, f.ts, "CANCEL"), self._hangup(f.leg, f.ts)]
        leave = self.event(
            "QueueCallerLeave",
            "agent",
            f.ts,
            ch.snapshot(),
            {"Queue": c.queue, "Position": str(f.position), "Count": str(f.count)},
        )
        if f.exit == "key":
            exit_at = {"context": EXIT_CONTEXT, "exten": EXIT_KEY, "priority": 1}
            out += [
                leave,
                self.event(
                    "Newexten",
                    "dialplan",
                    f.ts,
                    ch.snapshot(**exit_at),
                    {"Extension": EXIT_KEY, "Application": "VoiceMail", "AppData": f"{c.queue}@default,u"},
                ),
                self._hangup(ch, f.ts, **exit_at),
            ]
            return out
        out += [
            self.event(
                "QueueCallerAbandon",
                "agent",
                f.ts,
                ch.snapshot(),
                {
                    "Queue": c.queue,
                    "Position": str(f.position),
                    "OriginalPosition": str(c.opos),
                    "HoldTime": str(f.hold_s),
                },
            ),
            leave,
        ]
        if f.exit in QUEUESTATUS:  # back in the dialplan: why it left
            out.append(
                self.event(
                    "VarSet", "dialplan", f.ts, ch.snapshot(), {"Variable": "QUEUESTATUS", "Value": QUEUESTATUS[f.exit]}
                )
            )
        out.append(self._hangup(ch, f.ts))
        return out

    def _agent(self, f: Fact) -> list[OrderedDict[str, str]]:
        out = []
        o = f.outbound
        if f.outbound_ended and o is not None:
            if not o.answered:
                out.append(self._dial_end(o.channel, o.dest, f.ts, "NOANSWER"))
            out += [self._hangup(o.dest, f.ts, 16 if o.answered else 19), self._hangup(o.channel, f.ts)]
        return out + self._member_status(f)

    def _member_added(self, f: Fact) -> list[OrderedDict[str, str]]:
        assert f.member is not None
        return [self.event("QueueMemberAdded", "agent", f.ts, self.member_fields(f.member))]

    def _member_removed(self, f: Fact) -> list[OrderedDict[str, str]]:
        assert f.member is not None
        return [self.event("QueueMemberRemoved", "agent", f.ts, self.member_fields(f.member))]

    def _member_penalty(self, f: Fact) -> list[OrderedDict[str, str]]:
        assert f.member is not None
        return [self.event("QueueMemberPenalty", "agent", f.ts, self.member_fields(f.member))]

    def _dial(self, f: Fact) -> list[OrderedDict[str, str]]:
        o = f.outbound
        assert o is not None
        return [
            self.event("Newchannel", "call", f.ts, o.channel.snapshot()),
            self.event(
                "DialBegin",
                "call",
                f.ts,
                o.channel.snapshot(),
                o.dest.snapshot("Dest"),
                {"DialString": f"{o.number}@{TRUNK.split('/', 1)[1]}"},
            ),
        ]

    def _dial_answered(self, f: Fact) -> list[OrderedDict[str, str]]:
        o = f.outbound
        assert o is not None
        return [self._dial_end(o.channel, o.dest, f.ts, "ANSWER")]

    # --- supervisor's spy --------------------------------------------------------------------------------

    def chanspy(self, name: str, spyer: Channel, spyee: Channel, ts: datetime) -> OrderedDict[str, str]:
        """ChanSpyStart / ChanSpyStop: the spy's snapshot (``Spyer``) and the spied channel's (``Spyee``)."""
        return self.event(name, "call", ts, spyer.snapshot("Spyer"), spyee.snapshot("Spyee"))

    def hangup(self, ch: Channel, ts: datetime) -> OrderedDict[str, str]:
        return self._hangup(ch, ts)
