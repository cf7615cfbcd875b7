"""AMI events -> wallboard events, statefully, in Asterisk's real event orders (PROTOCOLS.md, app_queue.c).

Call id: the caller channel's ``Uniqueid`` (``Linkedid`` when an old or proxied event lacks it).

**Queue exits.** app_queue raises, on an answer, ``QueueCallerLeave`` then ``AgentConnect``; on a hang-up,
timeout, empty queue or withdraw, ``QueueCallerAbandon`` then ``QueueCallerLeave`` (then a ``VarSet`` of
``QUEUESTATUS`` if the caller goes back to the dialplan); on a key press, ``QueueCallerLeave`` alone. So a
leave is held *pending* and settled by the first of these:

- after an abandon: ``QUEUESTATUS`` TIMEOUT -> overflow ``timeout``; LEAVEEMPTY / JOINEMPTY / LEAVEUNAVAIL /
  JOINUNAVAIL -> ``empty``; WITHDRAW -> ``withdrawn``; any other value, the channel's ``Hangup``, the channel
  joining a queue again, or ``settle_s`` (default 3 s) without news -> abandoned (a caller who hangs up
  never returns to the dialplan, so no QUEUESTATUS comes). Waits are the abandon's ``HoldTime``.
- a bare leave: ``AgentConnect`` -> answered. If a ``DialEnd`` ANSWER from the caller's channel came before
  the leave, an answer is coming (the member gosub / AGI run between the leave and AgentConnect): wait up
  to ``connect_wait_s`` (default 30 s) and settle as answered (an ``AgentDump`` or a new ``AgentCalled``
  cancels that signal). Otherwise the channel's ``Hangup``, a ``QUEUESTATUS``, a new join, or ``settle_s``
  -> overflow ``key`` (wait = leave - join).
A settled exit carries the leave's time, even when it is settled later.

**Agents.** A small model per agent: the device ``Status`` (QueueMemberStatus codes), pause per queue, the
queue call ringing or connected, and an inferred wrap-up. The state is derived from it and emitted only when
it changes: 4/5 -> logged_out; 2/3/7/8 -> on_call; 6 -> ringing; else wrap_up while it lasts > paused (when
paused in every queue it is a member of) > available. app_queue pauses a member at once, on a call or not, and
says nothing more when the call or the wrap-up ends: a busy agent paused in every queue stays on_call / ringing
/ wrap_up with ``pause_pending`` (and the reason) and turns paused when free. ``AgentComplete`` ends talk:
``CallCompleted`` (TalkTime), then wrap-up for the member's ``Wrapuptime`` (if > 0) else the queue's
``wrapup_s`` from config, then ``WrapupCompleted`` and the state after it. While in wrap-up Asterisk shows the
member "not in use" (1), so a status 1 does not end it. A state is never sent older than the one before it
(``PbxMapper._emit_state``). ``AgentRingNoAnswer`` -> missed (RingTime ms); a ring that stops without it (lost
to another member, caller gone) is not a miss. Member ids: ``config.agent_by_interface()`` on Interface /
Location / StateInterface / MemberName, else the MemberName (``Agent/`` stripped), as the queue_log feed.

**Dials.** ``DialBegin`` whose *calling* channel is an agent's own device -> dial attempt; ``DialEnd``
ANSWER -> outbound call; both keyed by the dialled channel's Uniqueid.

**Times.** The ``Timestamp`` header (manager.conf ``timestampevents``) when present; else the time received
(live); else, for a capture, a clock that never goes back: the largest Uniqueid epoch seen so far, pushed
on by what the event proves (AgentConnect >= join + HoldTime; AgentComplete >= connect + TalkTime).

**Ids** are ``<feed>:<where>:<k>`` with ``where`` given by the feed (a line number for captures), so the same
input gives the same ids.

Unknown event names (not in ``KNOWN_EVENTS``) are reported once each as a dead letter, then ignored cheaply.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Callable

from pydantic import ValidationError

from wallboard.config import WallboardConfig
from wallboard.events import (
    MAX_COUNT,
    MAX_SECONDS,
    AgentMissed,
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
    SpyChanged,
    WaitingResync,
    name_problem,
    time_problem,
)
from wallboard.feed import DeadLetter
from wallboard.pbxmap import Bad as _Bad
from wallboard.pbxmap import Derived, PbxMapper, validation_reason
from wallboard.pbxmap import dt as _dt

from .protocol import Message, raw_text

_OVERFLOW = {
    "TIMEOUT": "timeout",
    "LEAVEEMPTY": "empty",
    "JOINEMPTY": "empty",
    "LEAVEUNAVAIL": "empty",
    "JOINUNAVAIL": "empty",
    "WITHDRAW": "withdrawn",
}
_ON_CALL = frozenset({2, 3, 7, 8})  # in use, busy, ring in use, on hold
_OUT = frozenset({4, 5})  # invalid, unavailable
_UNIQUEID = re.compile(r"^(\d{9,11})(?:\.\d+)?$")
_NO_NUMBER = {"", "<unknown>", "unknown"}
# Event times are bounded by the event model (``time_problem``: 1990 to a day after the wall clock) and
# durations below 1e10 s, so every time we derive stays inside datetime's range; past them a dead letter.
_MAX_SECONDS, _MAX_INT = MAX_SECONDS, MAX_COUNT  # the event model's limits (wallboard.events)

# Events we know and do not need: skipped without parsing. Anything else is reported once as unknown.
KNOWN_EVENTS = frozenset(
    """
    agentlogin agentlogoff agents agentscomplete alarm alarmclear aoc-d aoc-e aoc-s asyncagi asyncagiend
    asyncagiexec asyncagistart agiexec agiexecend agiexecstart attendedtransfer authdetail authmethodnotallowed
    aordetail aorlist aorlistcomplete blindtransfer bridge bridgecreate bridgedestroy bridgeenter
    bridgeinfochannel bridgeinfocomplete bridgeleave bridgemerge bridgevideosourceupdate cdr cel
    challengeresponsefailed challengesent chanspystart chanspystop channelreload channeltalkingstart
    channeltalkingstop confbridgeend confbridgejoin confbridgeleave confbridgelist confbridgelistcomplete
    confbridgemute confbridgerecord confbridgestart confbridgestoprecord confbridgetalking confbridgeunmute
    contactlist contactstatus contactstatusdetail coreshowchannel coreshowchannelscomplete dahdichannel
    devicestatechange devicestatelistcomplete dial dialstate dndstate dtmf dtmfbegin dtmfend endpointdetail
    endpointlist endpointlistcomplete extensionstatus extensionstatelistcomplete failedacl faxsession faxstatus
    fullybooted hanguphandlerpop hanguphandlerpush hanguphandlerrun hanguprequest hold identifydetail
    invalidaccountid invalidpassword invalidtransport link load loadaveragelimit localbridge
    localoptimizationbegin localoptimizationend logchannel masquerade mcid meetmeend meetmejoin meetmeleave
    meetmemute meetmetalkrequest meetmetalking memorylimit messagewaiting minivoicemail mixmonitormute
    mixmonitorstart mixmonitorstop monitorstart monitorstop musiconhold musiconholdstart musiconholdstop
    newaccountcode newcallerid newchannel newconnectedline newexten newperaccount newstate originateresponse
    parkedcall parkedcallgiveup parkedcallswap parkedcalltimeout peerentry peerlistcomplete peerstatus pickup
    presencestatechange presencestatus queuememberringinuse queuesummary queuesummarycomplete
    queuestatuscomplete queueparams queuemember queueentry receivefax registry reload rename requestbadformat
    requestnotallowed requestnotsupported rtcpreceived rtcpsent sendfax sessionlimit sessiontimeout shutdown
    sipqualifypeerdone softhanguprequest spanalarm spanalarmclear status statuscomplete successfulauth
    transfer transportdetail unhold unlink unparkedcall unexpectedaddress unload userevent
    """.split()
)


def epoch_of(uniqueid: str | None) -> int | None:
    """A Uniqueid is ``<epoch>.<n>`` (channel creation time); None for anything else."""
    m = _UNIQUEID.match(uniqueid or "")
    return int(m[1]) if m else None


def device_of(channel: str | None) -> str | None:
    """``PJSIP/1001-0000001a`` -> ``PJSIP/1001``; ``Local/7001@ctx-f153;1`` -> ``Local/7001@ctx``."""
    if not channel or "/" not in channel:
        return None
    ch = channel.split(";", 1)[0]
    head, sep, tail = ch.rpartition("-")
    return head if sep and "/" in head and tail.isalnum() else ch


@dataclass(slots=True)
class _Entry:
    """A caller in a queue (by Uniqueid: a channel waits in one queue at a time)."""

    queue: str
    call: str
    join: float | None
    abandon_wait: float | None = None  # set by QueueCallerAbandon (its HoldTime)
    answer_agent: str | None = None  # a DialEnd ANSWER from the caller: an answer is coming (member's device)
    left: float | None = None  # leave time, once QueueCallerLeave came
    where: str = ""  # the leave's position (for the ids of its settling events)
    due: float = 0.0


@dataclass(slots=True)
class _Agent:
    status: int | None = None
    queues: dict[str, int] = field(default_factory=dict)  # queue -> penalty (memberships seen)
    was_member: bool = False
    paused: dict[str, str | None] = field(default_factory=dict)  # queue -> reason, where paused
    wrap: dict[str, float] = field(default_factory=dict)  # queue -> member Wrapuptime (> 0)
    call: tuple[str, str] | None = None  # (call id, queue) ringing or connected
    wrap_until: float | None = None
    emitted: Derived | None = None


class AmiMapper(PbxMapper[_Agent]):
    def __init__(
        self,
        config: WallboardConfig,
        feed: str = "ami",
        origin: str = "",
        *,
        capture: bool = False,
        settle_s: float = 3.0,
        connect_wait_s: float = 30.0,
    ):
        super().__init__(feed, origin, _Agent)
        self.config = config
        self.capture = capture
        self.settle_s = settle_s
        self.connect_wait_s = connect_wait_s
        self._by_iface: dict[str, str] = {}
        for a in config.agents:
            for dev in (a.interface, a.device):
                if dev:
                    self._by_iface[dev] = a.id
        self._devices: dict[str, str] = dict(self._by_iface)  # device -> agent, learnt from member events too
        self._entries: dict[str, _Entry] = {}
        self._connected: dict[str, float] = {}  # call -> AgentConnect time (capture clock bound for talk)
        self._reported: set[str] = set()
        self._clock: float | None = None  # capture clock (epoch)
        self._wrapup_cfg: dict[str, float] = {}
        self._handlers: dict[str, Callable[[Message, float, str], list]] = {
            "queuecallerjoin": self._join,
            "join": self._join,
            "queuecallerabandon": self._abandon,
            "queuecallerleave": self._leave,
            "leave": self._leave,
            "varset": self._varset,
            "hangup": self._hangup,
            "agentcalled": self._called,
            "agentringnoanswer": self._ringnoanswer,
            "agentconnect": self._connect,
            "agentcomplete": self._complete,
            "agentdump": self._dump,
            "queuememberstatus": self._member_event,
            "queuememberadded": self._member_event,
            "queuememberpause": self._member_event,
            "queuememberpaused": self._member_event,
            "queuememberpenalty": self._penalty,
            "queuememberremoved": self._removed,
            "dialbegin": self._dialbegin,
            "dialend": self._dialend,
            "chanspystart": self._chanspy,
            "chanspystop": self._chanspy,
        }
        self._supervisors = {u.device: u.name for u in config.users if u.device}  # spying device -> user

    # -- what to parse ----------------------------------------------------------------------------------

    def wants(self, name: str | None, lines: list[bytes] | None = None) -> bool:
        """Cheap pre-filter on the event name (and, for VarSet, the raw lines): False = skip unparsed."""
        if name is None:
            return True
        if name == "varset":  # 100 of 221 events in the real capture; only QUEUESTATUS matters
            return lines is None or any(
                line[:9].lower() == b"variable:" and b"queuestatus" in line.lower() for line in lines
            )
        if name in self._handlers:
            return True
        return name not in KNOWN_EVENTS and name not in self._reported

    def observe(self, epoch: float) -> None:
        """Capture clock: a Uniqueid epoch seen in a skipped event still moves time on (not one out of the time
        bounds: the clock never goes back, so it would make every later event a dead letter)."""
        if (self._clock is None or epoch > self._clock) and not time_problem(epoch):
            self._clock = epoch

    # -- the entry points ---------------------------------------------------------------------------------

    def map(self, msg: Message, received: datetime | None = None, where: str = "") -> list:
        """One AMI event -> events and dead letters (plus any timed-out settlements before it)."""
        name = msg.name
        if name is None:
            return []
        handler = self._handlers.get(name)
        if handler is None:
            if name in KNOWN_EVENTS or name in self._reported:
                return []
            self._reported.add(name)
            return [self._dead(where, f"unknown AMI event {msg.get('event')!r} (reported once, then ignored)", msg)]
        try:
            t = self._time(msg, name, received)
            self._check_names(msg)
            out = handler(msg, t, where)
        except _Bad as e:
            return [self._dead(where, f"{msg.get('event')}: {e}", msg)]
        except ValidationError as e:
            return [self._dead(where, f"{msg.get('event')}: {validation_reason(e)}", msg)]
        return self.due(t) + out

    def due(self, now: datetime | float) -> list:
        """Settlements and wrap-up ends whose time has come."""
        t = now.timestamp() if isinstance(now, datetime) else now
        out: list = []
        for call, e in list(self._entries.items()):
            if e.left is not None and e.due <= t:
                try:
                    out += self._settle(call, e, None)
                except ValidationError as err:  # a settlement the model refuses is a dead letter, never a crash
                    out.append(DeadLetter(self._src(e.where), f"settling call {call}: {validation_reason(err)}", call))
        return out + self._wraps_due(t)

    def next_due(self) -> float | None:
        """Epoch of the next timed settlement or wrap-up end (for a live feed's timer)."""
        times = [e.due for e in self._entries.values() if e.left is not None]
        if (wrap := self._next_wrap()) is not None:
            times.append(wrap)
        return min(times) if times else None

    def flush(self) -> list:
        """End of input: settle everything pending (captures)."""
        return self.due(float("inf"))

    def resync(self, msgs: list[Message], now: datetime, where: str) -> list:
        """QueueStatus after a (re)login: QueueParams / QueueMember / QueueEntry -> membership and state of every
        member, CallerJoined for each waiting caller (join = now - Wait: the engine treats a join within 1 s of
        a known entry as that entry), then one WaitingResync per queue listing who waits."""
        t = now.timestamp()
        out: list = []
        k = 0
        queues: list[str] = []
        waiting: dict[str, list[str]] = {}
        listed: set[tuple[str, str]] = set()
        for a in self._agents.values():
            # state may have changed unseen: say it again; a wrap-up only where LastCall still makes one (after
            # a PBX restart there is none: LastCall is 0 and the member is free)
            a.emitted, a.call, a.wrap_until = None, None, None
        self._connected.clear()
        for m in msgs:
            name = m.name
            q = m.get("queue") or ""
            try:
                self._check_names(m, "name")
                if name == "queueparams" and q:
                    queues.append(q)
                    waiting.setdefault(q, [])
                elif name == "queuemember" and q:
                    agent = self._agent_of(m, "name")
                    if agent is None:
                        raise _Bad("no member name or interface")
                    last = _float(m, "lastcall")
                    listed.add((agent, q))
                    got = self._member_update(m, agent, q, t, f"{where}.{k}")
                    a = self._agents[agent]
                    wrap = self._wrap_s(a, q)
                    if a.status == 1 and last and wrap > 0 and last + wrap > t:
                        a.wrap_until = max(a.wrap_until or 0.0, last + wrap)  # still in wrap-up (LastCall)
                        self._push_wrap(last + wrap, agent, None, q, 0.0, f"{where}.{k}")
                    out += got + self._state(agent, t, f"{where}.{k}", "s")
                elif name == "queueentry" and q:
                    call = _call_id(m)
                    if not call:
                        raise _Bad("no Uniqueid")
                    wait = _float(m, "wait") or 0.0
                    join = t - wait
                    joined = CallerJoined(
                        id=self._id(f"{where}.{k}", 1),
                        ts=_dt(join),
                        source=self._src(f"{where}.{k}"),
                        queue=q,
                        call_id=call,
                        caller=_number(m.get("calleridnum")),
                        position=_int(m, "position"),
                    )
                    waiting.setdefault(q, []).append(call)
                    self._entries[call] = _Entry(q, call, join)
                    out.append(joined)
            except (_Bad, ValidationError) as e:
                out.append(self._dead(f"{where}.{k}", f"QueueStatus {m.get('event')}: {e}", m))
            k += 1
        for q in queues:
            out.append(
                WaitingResync(
                    id=self._id(where, f"r:{q}"), ts=now, source=self._src(where), queue=q, call_ids=waiting[q]
                )
            )
        covered = set(queues)
        gone: set[tuple[str, str]] = set()
        for agent, a in self._agents.items():  # removed while we were away
            for q in [q for q in a.queues if q in covered and (agent, q) not in listed]:
                del a.queues[q]
                a.paused.pop(q, None)
                gone.add((agent, q))
        # QueueStatus is the whole present of the queues it covers: a configured skill it does not list is no
        # membership now (a fresh ingester knows no removal that happened before it; the engine would otherwise
        # fall back on the configured skills)
        for cfg in self.config.agents:
            gone.update((cfg.id, q) for q in cfg.skills if q in covered and (cfg.id, q) not in listed)
        for agent, q in sorted(gone):
            mid = self._id(where, f"m:{agent}:{q}")
            out.append(MemberRemoved(id=mid, ts=now, source=self._src(where), agent=agent, queue=q))
        for call, e in list(self._entries.items()):  # left unseen: the WaitingResync clears them in the engine
            if e.queue in covered and call not in waiting.get(e.queue, ()):
                del self._entries[call]
        return out

    # -- time -----------------------------------------------------------------------------------------------

    def _time(self, msg: Message, name: str, received: datetime | None) -> float:
        stamp = msg.get("timestamp")
        if stamp:
            try:
                x = float(stamp)
            except ValueError:
                raise _Bad(f"Timestamp is not a number: {stamp!r}") from None
            problem = time_problem(x)
            if problem:
                raise _Bad(f"Timestamp is not a valid time: {stamp[:40]!r}, which {problem}")
            return x
        if received is not None:
            return received.timestamp()
        t = self._clock
        for key in ("uniqueid", "destuniqueid"):
            e = epoch_of(msg.get(key))
            if e is not None and (t is None or e > t) and not time_problem(e):
                t = float(e)
        call = _call_id(msg)
        bound = None
        if name == "agentconnect" and call in self._entries and self._entries[call].join is not None:
            bound = self._entries[call].join + (_float(msg, "holdtime") or 0.0)
        elif name == "agentcomplete" and call in self._connected:
            bound = self._connected[call] + (_float(msg, "talktime") or 0.0)
        if bound is not None and (t is None or bound > t):
            t = bound
        if t is None:
            raise _Bad("no Timestamp and no Uniqueid to date it by")
        problem = time_problem(t)
        if problem:  # HoldTime / TalkTime pushed the capture clock past any real time
            raise _Bad(f"the capture clock would move to epoch {t:.0f}, which {problem}")
        self._clock = t
        return t

    # -- helpers ----------------------------------------------------------------------------------------------

    def _dead(self, where: str, reason: str, msg: Message) -> DeadLetter:
        raw = raw_text(msg.lines) if msg.lines else "\n".join(f"{k}: {v}" for k, v in msg.fields.items())[:4000]
        return self._dead_text(where, reason, raw)

    def _check_names(self, m: Message, name_key: str = "membername") -> None:
        """The event model's check of queue and member names, made before any handler changes the mapper (a
        refused event leaves no trace)."""
        for what, name in (("Queue", m.get("queue")), ("member", self._agent_of(m, name_key))):
            problem = name_problem(name) if name else None
            if problem:
                raise _Bad(f"{what} {name[:40]!r} {problem}")

    def _agent_of(self, m: Message, name_key: str = "membername") -> str | None:
        f = m.fields
        ifaces = [f.get(k) for k in ("interface", "location", "member", "agentcalled", "stateinterface")]
        for v in (*ifaces, f.get(name_key), f.get("agentname")):
            if v and v in self._by_iface:
                return self._by_iface[v]
        name = f.get(name_key) or f.get("agentname") or next((v for v in ifaces if v), None)
        return name.removeprefix("Agent/") if name else None

    def _learn(self, m: Message, agent: str) -> None:
        for key in ("interface", "location", "stateinterface"):
            v = m.get(key)
            if v and v not in self._by_iface:
                self._devices[v] = agent

    def _wrap_s(self, a: _Agent, queue: str) -> float:
        if a.wrap.get(queue):
            return a.wrap[queue]
        if queue not in self._wrapup_cfg:
            self._wrapup_cfg[queue] = self.config.queue(queue).wrapup_s
        return self._wrapup_cfg[queue]

    def _derive(self, a: _Agent, t: float) -> Derived | None:
        st = a.status
        if st in _OUT or (a.was_member and not a.queues):
            return ("logged_out", None, False)
        # paused in every queue (app_queue pauses a member at once, on a call or not): paused when free
        paused = bool(a.queues) and all(q in a.paused for q in a.queues)
        reason = next((r for r in a.paused.values() if r), None) if paused else None
        if st in _ON_CALL:
            return ("on_call", reason, paused)
        if st == 6:
            return ("ringing", reason, paused)
        if a.wrap_until is not None and t < a.wrap_until:
            return ("wrap_up", reason, paused)
        if paused:
            return ("paused", reason, False)
        if st is None:
            return None
        return ("available", None, False)

    def _state(self, agent: str, t: float, where: str, k: Any) -> list:
        a = self._agent_model(agent)
        if a.call and a.status not in _ON_CALL and a.status != 6:
            a.call = None  # the ring or call is over
        return self._emit_state(agent, t, where, k)

    # -- callers ----------------------------------------------------------------------------------------------

    def _need_call(self, m: Message) -> tuple[str, str]:
        call, queue = _call_id(m), m.get("queue")
        missing = [n for n, v in (("Uniqueid", call), ("Queue", queue)) if not v]
        if missing:
            raise _Bad(f"missing {', '.join(missing)} (truncated event?)")
        return call, queue  # type: ignore[return-value]

    def _join(self, m: Message, t: float, where: str) -> list:
        call, queue = self._need_call(m)
        # every field is checked before any state changes: a dead letter leaves the mapper as it was
        joined = CallerJoined(
            id=self._id(where, 1),
            ts=_dt(t),
            source=self._src(where),
            queue=queue,
            call_id=call,
            caller=_number(m.get("calleridnum")),
            position=_int(m, "position"),
        )
        out: list = []
        old = self._entries.get(call)
        if old is not None and old.left is not None:  # back in a queue: the previous exit is settled now
            out += self._settle(call, old, None)
        self._entries[call] = _Entry(queue, call, t)
        out.append(joined)
        return out

    def _abandon(self, m: Message, t: float, where: str) -> list:
        call, queue = self._need_call(m)
        hold = _float(m, "holdtime")  # checked before any state changes
        e = self._entries.get(call)
        if e is None or e.queue != queue:
            e = self._entries[call] = _Entry(queue, call, None)
        e.abandon_wait = hold
        if e.abandon_wait is None and e.join is not None:
            e.abandon_wait = max(0.0, t - e.join)
        return []

    def _leave(self, m: Message, t: float, where: str) -> list:
        call, queue = self._need_call(m)
        e = self._entries.get(call)
        if e is None and call in self._connected:
            return []  # an older order: AgentConnect came first, the call is answered
        if e is None or e.queue != queue:
            e = self._entries[call] = _Entry(queue, call, None)
        e.left, e.where = t, where
        e.due = t + (self.connect_wait_s if e.answer_agent and e.abandon_wait is None else self.settle_s)
        return []

    def _settle(self, call: str, e: _Entry, status: str | None) -> list:
        """Decide a pending exit. ``status`` is the QUEUESTATUS value when that is what settles it."""
        del self._entries[call]
        t, where = e.left if e.left is not None else 0.0, e.where
        ts, src, eid = _dt(t), self._src(where), self._id(where, "x")
        if e.abandon_wait is not None:
            reason = _OVERFLOW.get((status or "").upper())
            if reason:
                return [
                    CallerOverflowed(
                        id=eid, ts=ts, source=src, queue=e.queue, call_id=call, reason=reason, wait_s=e.abandon_wait
                    )
                ]
            return [CallerAbandoned(id=eid, ts=ts, source=src, queue=e.queue, call_id=call, wait_s=e.abandon_wait)]
        wait = max(0.0, t - e.join) if e.join is not None else None
        if e.answer_agent is not None:  # the member answered; AgentConnect did not come
            return [
                CallerAnswered(
                    id=eid, ts=ts, source=src, queue=e.queue, call_id=call, agent=e.answer_agent, wait_s=wait
                )
            ]
        return [CallerOverflowed(id=eid, ts=ts, source=src, queue=e.queue, call_id=call, reason="key", wait_s=wait)]

    def _varset(self, m: Message, t: float, where: str) -> list:
        if (m.get("variable") or "").upper() != "QUEUESTATUS":
            return []
        call = _call_id(m)
        e = self._entries.get(call or "")
        if e is None or e.left is None:
            return []  # e.g. CONTINUE after an answered call
        return self._settle(call, e, m.get("value") or "")  # type: ignore[arg-type]

    def _hangup(self, m: Message, t: float, where: str) -> list:
        call = _call_id(m)
        e = self._entries.get(call or "")
        self._connected.pop(call or "", None)
        if e is None:
            return []
        if e.left is None:  # hung up with no exit seen (events lost): the next resync decides
            del self._entries[call]  # type: ignore[arg-type]
            return []
        return self._settle(call, e, None)  # type: ignore[arg-type]

    # -- members and their calls ---------------------------------------------------------------------------

    def _need_agent(self, m: Message) -> str:
        agent = self._agent_of(m)
        if agent is None:
            raise _Bad("missing MemberName / Interface (truncated event?)")
        return agent

    def _called(self, m: Message, t: float, where: str) -> list:
        call, queue = self._need_call(m)
        agent = self._need_agent(m)
        a = self._agent_model(agent)
        a.status, a.call = 6, (call, queue)
        e = self._entries.get(call)
        if e is not None and e.left is None:
            e.answer_agent = None  # ringing again: an earlier answer did not hold
        return self._state(agent, t, where, 1)

    def _ringnoanswer(self, m: Message, t: float, where: str) -> list:
        call, queue = self._need_call(m)
        agent = self._need_agent(m)
        ring = _float(m, "ringtime")
        a = self._agent_model(agent)
        if a.status == 6:
            a.status = 1
        a.call = None
        missed = AgentMissed(
            id=self._id(where, 1),
            ts=_dt(t),
            source=self._src(where),
            agent=agent,
            queue=queue,
            call_id=call,
            ring_s=ring / 1000.0 if ring is not None else None,
        )
        return [missed, *self._state(agent, t, where, 2)]

    def _connect(self, m: Message, t: float, where: str) -> list:
        call, queue = self._need_call(m)
        agent = self._need_agent(m)
        # built (HoldTime, RingTime checked) before the caller leaves the queue and the agent goes on the call
        answered = CallerAnswered(
            id=self._id(where, 1),
            ts=_dt(t),
            source=self._src(where),
            queue=queue,
            call_id=call,
            agent=agent,
            wait_s=_float(m, "holdtime"),
            ring_s=_float(m, "ringtime"),
        )
        self._entries.pop(call, None)
        self._connected[call] = t
        a = self._agent_model(agent)
        a.status, a.call, a.wrap_until = 2, (call, queue), None
        return [answered, *self._state(agent, t, where, 2)]

    def _complete(self, m: Message, t: float, where: str) -> list:
        call, queue = _call_id(m), m.get("queue")
        agent = self._agent_of(m)
        talk = _float(m, "talktime")
        missing = [
            n
            for n, v in (("Uniqueid", call), ("Queue", queue), ("MemberName", agent), ("TalkTime", talk))
            if v is None or v == ""
        ]
        if missing:
            raise _Bad(f"missing {', '.join(missing)} (truncated event?)")
        assert call and queue and agent and talk is not None
        self._connected.pop(call, None)
        reason = (m.get("reason") or "").lower()
        out: list = [
            CallCompleted(
                id=self._id(where, 1),
                ts=_dt(t),
                source=self._src(where),
                queue=queue,
                call_id=call,
                agent=agent,
                talk_s=talk,
                ended_by=reason if reason in ("caller", "agent", "transfer") else None,
            )
        ]
        a = self._agent_model(agent)
        a.status, a.call = 1, None  # talk is over; a QueueMemberStatus will say so shortly
        wrap = self._wrap_s(a, queue)
        if wrap > 0:
            a.wrap_until = t + wrap
            self._push_wrap(t + wrap, agent, call, queue, wrap, where)
        return out + self._state(agent, t, where, 2)

    def _dump(self, m: Message, t: float, where: str) -> list:
        agent = self._need_agent(m)
        a = self._agent_model(agent)
        a.status, a.call = 1, None  # hung up on the offered call: not a miss, the caller stays queued
        e = self._entries.get(_call_id(m) or "")
        if e is not None:
            e.answer_agent = None  # that answer will not connect
        return self._state(agent, t, where, 1)

    def _member_update(self, m: Message, agent: str, queue: str, t: float, where: str) -> list:
        """Membership, status, pause and wrap-up time from a member event or QueueMember."""
        # every field is checked before the model changes: a dead letter must not leave the membership half
        # recorded (the next member event would then not say MemberAdded)
        penalty, status, wrap = _int(m, "penalty"), _int(m, "status"), _float(m, "wrapuptime")
        a = self._agent_model(agent)
        self._learn(m, agent)
        out: list = []
        if queue not in a.queues or (penalty is not None and a.queues[queue] != penalty):
            p = penalty if penalty is not None else a.queues.get(queue, 0)
            a.queues[queue] = p
            out.append(
                MemberAdded(
                    id=self._id(where, "m"),
                    ts=_dt(t),
                    source=self._src(where),
                    agent=agent,
                    queue=queue,
                    penalty=max(0, p),
                )
            )
        a.was_member = True
        if status is not None:
            a.status = status
        elif a.status is None:
            # no Status (an old or proxied event): a member event says it is a member, so logged in, its device
            # state unsaid: 0 "unknown", which Asterisk rings as available (paused or not, as Paused says)
            a.status = 0
        paused = m.get("paused")
        if paused is not None:
            if paused.strip().lower() in ("1", "true", "yes"):
                a.paused[queue] = m.get("pausedreason") or m.get("reason") or None
            else:
                a.paused.pop(queue, None)
        if wrap is not None:
            a.wrap[queue] = wrap
        return out

    def _member_event(self, m: Message, t: float, where: str) -> list:
        queue = m.get("queue")
        if not queue:
            raise _Bad("missing Queue (truncated event?)")
        agent = self._need_agent(m)
        return self._member_update(m, agent, queue, t, where) + self._state(agent, t, where, 1)

    def _penalty(self, m: Message, t: float, where: str) -> list:
        queue = m.get("queue")
        agent = self._need_agent(m)
        penalty = _int(m, "penalty")
        if not queue or penalty is None:
            raise _Bad("missing Queue or Penalty (truncated event?)")
        a = self._agent_model(agent)
        a.queues[queue], a.was_member = penalty, True
        return [
            MemberPenalty(
                id=self._id(where, 1),
                ts=_dt(t),
                source=self._src(where),
                agent=agent,
                queue=queue,
                penalty=max(0, penalty),
            )
        ]

    def _removed(self, m: Message, t: float, where: str) -> list:
        queue = m.get("queue")
        if not queue:
            raise _Bad("missing Queue (truncated event?)")
        agent = self._need_agent(m)
        a = self._agent_model(agent)
        a.queues.pop(queue, None)
        a.paused.pop(queue, None)
        a.was_member = True
        gone = MemberRemoved(id=self._id(where, 1), ts=_dt(t), source=self._src(where), agent=agent, queue=queue)
        return [gone, *self._state(agent, t, where, 2)]  # logged out once in no queue

    # -- supervisors listening ---------------------------------------------------------------------------------

    def _chanspy(self, m: Message, t: float, where: str) -> list:
        """ChanSpyStart / ChanSpyStop on an agent's device channel -> SpyChanged. Who: the spying device's user
        (``users.device``), else the device. How: ChanSpy events do not say; the executor originates the spy
        with ``CallerID: Wallboard <mode> <mode>``, which Asterisk sets on the spying channel, so its snapshot
        (``SpyerConnectedLineNum`` / ``SpyerCallerIDNum``) carries the mode; else ``unknown``."""
        agent = self._devices.get(device_of(m.get("spyeechannel")) or "")
        spyer = device_of(m.get("spyerchannel"))
        if agent is None or not spyer:
            return []  # a spy on a channel that is no agent's (a caller's, a trunk): not an agent's news
        mode = "unknown"
        for key in ("spyerconnectedlinenum", "spyercalleridnum", "spyerconnectedlinename", "spyercalleridname"):
            word = (m.get(key) or "").rsplit(" ", 1)[-1].strip("<>").lower()
            if word in ("listen", "whisper", "barge", "keypad"):
                mode = word
                break
        by = self._supervisors.get(spyer, spyer)
        return [
            SpyChanged(
                id=self._id(where, 1),
                ts=_dt(t),
                source=self._src(where),
                agent=agent,
                active=m.name == "chanspystart",
                by=by,
                mode=mode,
            )
        ]

    # -- dials ------------------------------------------------------------------------------------------------

    def _dial_agent(self, m: Message) -> tuple[str, str] | None:
        agent = self._devices.get(device_of(m.get("channel")) or "")
        dialled = m.get("destuniqueid")
        return (agent, dialled) if agent and dialled else None

    def _dial_number(self, m: Message) -> str | None:
        num = m.get("destcalleridnum") or ""
        if num.lower() in _NO_NUMBER:
            num = (m.get("dialstring") or "").rsplit("/", 1)[-1]
        return num or None

    def _dialbegin(self, m: Message, t: float, where: str) -> list:
        hit = self._dial_agent(m)
        if hit is None:
            return []
        return [
            DialAttempt(
                id=self._id(where, 1),
                ts=_dt(t),
                source=self._src(where),
                agent=hit[0],
                call_id=hit[1],
                number=self._dial_number(m),
            )
        ]

    def _dialend(self, m: Message, t: float, where: str) -> list:
        answered = (m.get("dialstatus") or "").upper() == "ANSWER"
        e = self._entries.get(_call_id(m) or "")
        if answered and e is not None and e.left is None:  # a member took the queued caller
            dest = device_of(m.get("destchannel")) or ""
            agent = self._devices.get(dest) or dest or None
            problem = name_problem(agent) if agent else None
            if problem:  # refused here, before it is kept: it would become the answering agent later
                raise _Bad(f"DestChannel: agent {agent[:40]!r} {problem}")
            e.answer_agent = agent
        hit = self._dial_agent(m)
        if hit is None or not answered:
            return []
        return [
            OutboundCall(
                id=self._id(where, 1),
                ts=_dt(t),
                source=self._src(where),
                agent=hit[0],
                call_id=hit[1],
                number=self._dial_number(m),
            )
        ]


def _call_id(m: Message) -> str | None:
    return m.get("uniqueid") or m.get("linkedid") or None


def _number(v: str | None) -> str | None:
    return None if v is None or v.lower() in _NO_NUMBER else v


def _float(m: Message, key: str) -> float | None:
    v = m.get(key)
    if v is None or v == "":
        return None
    try:
        x = float(v)
    except ValueError:
        raise _Bad(f"{key} is not a number: {v!r}") from None
    if not 0 <= x < _MAX_SECONDS:  # also nan and inf
        raise _Bad(f"{key} must be a non-negative number below {_MAX_SECONDS:.0e}, got {v!r}")
    return x


def _int(m: Message, key: str) -> int | None:
    v = m.get(key)
    if v is None or v == "":
        return None
    try:
        x = int(v)
    except ValueError:
        raise _Bad(f"{key} is not a whole number: {v[:40]!r}") from None
    if not -_MAX_INT <= x <= _MAX_INT:
        raise _Bad(f"{key} is out of range: {v[:40]!r}")
    return x
