"""mod_callcenter events (``CUSTOM callcenter::info`` over the event socket) -> wallboard events, statefully
(docs/PROTOCOLS_FREESWITCH.md; every order and header below is read from mod_callcenter.c).

**Call id** = ``CC-Member-Session-UUID``, the caller channel's uuid (as AMI's Uniqueid: one channel, one id,
across queues). **Queues and agents** are ``name@domain`` on the switch: a name the configuration lists as
it is, else its part before ``@`` (``support@default`` -> ``support``); an agent also by its configured
``interface`` (``1001@default``). **Times**: the event's ``Event-Date-Timestamp`` (microseconds) when it has
one, else the time received; waits and talk from the event's own ``CC-*-Time`` headers (whole epoch seconds,
``local_epoch_time_now`` in the module), never from our clock.

- ``member-queue-start`` (and ``member-queue-resume``, a caller back after abandoning, with
  abandoned-resume-allowed) -> ``CallerJoined``.
- ``bridge-agent-start`` -> ``CallerAnswered`` (wait = Answered - Joined, ring = Answered - Called) and the agent
  on the call. ``bridge-agent-end`` -> ``CallCompleted`` (talk = Bridge-Terminated - Answered), then wrap-up for
  the agent's ``wrap_up_time`` (from ``agent list`` at resync) else the queue's ``wrapup_s``: mod_callcenter
  puts the agent straight back to ``Waiting`` and keeps it from calls until last_bridge_end + wrap_up_time, so
  a ``Waiting`` inside that window is still wrap-up; ``WrapupCompleted`` and the state after it come when it
  ends. ``Idle`` (what an ``Available (On Demand)`` agent gets after a call) is wrap-up until ``Waiting``.
- ``member-queue-end``: ``CC-Cause`` ``Terminated`` is the end of an answered call (nothing new to count; it
  fills in the answer and the talk if their own events were lost); ``Cancel`` by ``CC-Cancel-Reason``:
  ``TIMEOUT`` -> overflow ``timeout``; ``NO_AGENT_TIMEOUT`` (max-wait-time-with-no-agent: no agent logged in)
  -> overflow ``empty``, Asterisk's LEAVEEMPTY; ``EXIT_WITH_KEY`` -> overflow ``key``; ``BREAK_OUT`` (or
  ``NONE``) -> abandoned when the caller's channel is down (``Answer-State: hangup``), else ``withdrawn``: the
  caller was taken out alive (a transfer, ``callcenter_break``, a callback offer). Wait = Leaving - Joined.
- ``bridge-agent-fail`` -> ``AgentMissed`` (ring = Aborted - Called), except ``LOSE_RACE`` (another agent won a
  ring-all) and ``ORIGINATOR_CANCEL`` (the caller left, or the agent's status changed): not a miss.
- ``agent-status-change`` / ``agent-state-change`` -> the agent's state, emitted only when it changes:
  ``Logged Out`` -> logged_out; ``In a queue call`` -> on_call; ``Receiving`` / ``Reserved`` -> ringing;
  inside wrap-up -> wrap_up; ``On Break`` -> paused (reason ``On Break``: the switch has no other); ``Idle`` ->
  wrap_up; else available. ``On Break`` while busy (a call, a ring, a wrap-up) keeps the busy state with
  ``pause_pending``: the status changes at once, the agent is paused when free.
- ``agent-offering`` names the call an agent's ringing is for; ``members-count``, ``agent-add``,
  ``agent-contact-change``, ``agent-max-no-answer`` and the ``agent-*-get`` answers say nothing we count.

Tiers (memberships, level = penalty) raise no event in mod_callcenter: ``tiers()`` takes the tier table
(the feed polls it) and emits what changed. ``resync()`` takes the queue, member, tier and agent tables
after a (re)connect. Malformed input (a missing header, a time that is no number, an unknown action or
cause) -> a dead letter with the reason; the mapper's state is left as it was.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable

from pydantic import ValidationError

from wallboard.config import WallboardConfig
from wallboard.events import (
    MAX_SECONDS,
    AgentMissed,
    CallCompleted,
    CallerAbandoned,
    CallerAnswered,
    CallerJoined,
    CallerOverflowed,
    MemberAdded,
    MemberRemoved,
    WaitingResync,
    WrapupCompleted,
    name_problem,
    time_problem,
)
from wallboard.feed import DeadLetter
from wallboard.pbxmap import Bad as _Bad
from wallboard.pbxmap import Derived, PbxMapper, validation_reason
from wallboard.pbxmap import dt as _dt

from .client import EslEvent

SUBCLASS = "callcenter::info"
CANCEL_OVERFLOW = {"TIMEOUT": "timeout", "NO_AGENT_TIMEOUT": "empty", "EXIT_WITH_KEY": "key"}
NOT_A_MISS = frozenset({"LOSE_RACE", "ORIGINATOR_CANCEL"})
IGNORED_ACTIONS = frozenset({"members-count", "agent-add", "agent-del", "agent-contact-change", "agent-max-no-answer"})
WAITING_MEMBER_STATES = frozenset({"waiting", "trying"})
_NO_NUMBER = {"", "unknown", "anonymous", "0000000000"}


@dataclass(slots=True)
class _Agent:
    status: str | None = None  # Logged Out, Available, Available (On Demand), On Break
    state: str | None = None  # Waiting, Receiving, In a queue call, Idle, Reserved
    queues: dict[str, int] = field(default_factory=dict)  # queue -> level (from the tier table)
    wrap_s: float | None = None  # the agent's wrap_up_time, once known (agent list)
    call: tuple[str, str] | None = None  # (call id, queue) ringing or connected
    last: tuple[str, str, float] | None = None  # (call, queue, bridge end) of the last call, for Idle wrap-up
    wrap_until: float | None = None
    emitted: Derived | None = None


class EslMapper(PbxMapper[_Agent]):
    def __init__(self, config: WallboardConfig, feed: str = "freeswitch", origin: str = ""):
        super().__init__(feed, origin, _Agent)
        self.config = config
        self._queue_names = {q.name for q in config.queues}
        self._agent_ids = {a.id for a in config.agents}
        self._by_name = {a.interface: a.id for a in config.agents if a.interface}
        self._answered: set[str] = set()  # calls whose answer we emitted (a Terminated end adds nothing then)
        self._completed: set[str] = set()
        self._reported: set[str] = set()
        self._handlers: dict[str, Callable[[EslEvent, float, str], list]] = {
            "member-queue-start": self._join,
            "member-queue-resume": self._join,
            "member-queue-end": self._end,
            "agent-offering": self._offering,
            "bridge-agent-start": self._bridge_start,
            "bridge-agent-end": self._bridge_end,
            "bridge-agent-fail": self._bridge_fail,
            "agent-status-change": self._status,
            "agent-state-change": self._state_change,
        }

    # -- names ----------------------------------------------------------------------------------------------

    def queue_of(self, name: str) -> str:
        if name in self._queue_names:
            return name
        local = name.partition("@")[0]
        return local or name

    def agent_of(self, name: str) -> str:
        if name in self._by_name:
            return self._by_name[name]
        if name in self._agent_ids:
            return name
        local = name.partition("@")[0]
        return self._by_name.get(local, local or name)

    # -- the entry points -----------------------------------------------------------------------------------

    def map(self, ev: EslEvent, received: datetime | None = None, where: str = "") -> list:
        """One event -> events and dead letters (plus any wrap-ups that ended before it)."""
        if ev.name != "CUSTOM" or (ev.get("event-subclass") or "") != SUBCLASS:
            return []  # HEARTBEAT, BACKGROUND_JOB, ...: not ours to map
        where = self._where(ev, where)
        action = ev.get("cc-action")
        if action is None:
            return [self._dead(where, "callcenter::info event without CC-Action", ev)]
        handler = self._handlers.get(action)
        if handler is None:
            if action in IGNORED_ACTIONS or (action.startswith("agent-") and action.endswith("-get")):
                return []
            if action in self._reported:
                return []
            self._reported.add(action)
            return [self._dead(where, f"unknown CC-Action {action!r} (reported once, then ignored)", ev)]
        try:
            t = self._time(ev, received)
            self._check_names(ev)
            out = handler(ev, t, where)
        except _Bad as e:
            return [self._dead(where, f"{action}: {e}", ev)]
        except ValidationError as e:
            return [self._dead(where, f"{action}: {validation_reason(e)}", ev)]
        return self.due(t) + out

    def due(self, now: datetime | float) -> list:
        """Wrap-up ends whose time has come."""
        return self._wraps_due(now.timestamp() if isinstance(now, datetime) else now)

    def next_due(self) -> float | None:
        return self._next_wrap()

    # -- resynchronisation ----------------------------------------------------------------------------------

    def tiers(self, rows: list[dict[str, str]], now: datetime, where: str, covered: set[str] | None = None) -> list:
        """The tier table (``tier list`` or ``queue list tiers Q``) -> membership changes since we last knew:
        MemberAdded for a new tier or a new level, MemberRemoved for a tier gone from a covered queue."""
        listed: dict[tuple[str, str], int] = {}
        out: list = []
        for k, row in enumerate(rows):
            try:
                agent, queue = self.agent_of(row.get("agent", "")), self.queue_of(row.get("queue", ""))
                if not agent or not queue:
                    raise _Bad("a tier row without queue or agent")
                for what, name in (("queue", queue), ("agent", agent)):
                    if (problem := name_problem(name)) is not None:
                        raise _Bad(f"{what} {name[:40]!r} {problem}")
                level = _int_cell(row, "level")
                listed[(agent, queue)] = level
            except _Bad as e:
                out.append(DeadLetter(self._src(f"{where}.t{k}"), f"tier list: {e}", "|".join(row.values())[:4000]))
        covered = covered if covered is not None else {q for _, q in listed}
        for (agent, queue), level in listed.items():
            a = self._agent_model(agent)
            if a.queues.get(queue) != level:
                a.queues[queue] = level
                out.append(
                    MemberAdded(
                        id=self._id(where, f"m:{agent}:{queue}:{level}"),
                        ts=now,
                        source=self._src(where),
                        agent=agent,
                        queue=queue,
                        penalty=level,
                    )
                )
        for agent, a in self._agents.items():
            for queue in [q for q in a.queues if q in covered and (agent, q) not in listed]:
                del a.queues[queue]
                out.append(
                    MemberRemoved(
                        id=self._id(where, f"r:{agent}:{queue}"),
                        ts=now,
                        source=self._src(where),
                        agent=agent,
                        queue=queue,
                    )
                )
                out += self._emit_state(agent, now.timestamp(), where, f"s:{agent}")
        return out

    def resync(
        self,
        queues: list[str],
        members: dict[str, list[dict[str, str]]],
        tiers: list[dict[str, str]],
        agents: list[dict[str, str]],
        now: datetime,
        where: str,
    ) -> list:
        """After a (re)connect: the switch's queue names, its member table per queue, the tier table and the
        agent table -> memberships, every agent's state, a CallerJoined per waiting caller (at its
        ``joined_epoch``: the engine takes a join within 1 s of a known entry as that entry), a CallerAnswered
        for a caller bridged while we were away (``bridge_epoch``; applied once by meaning), then one
        WaitingResync per queue: callers we held as waiting who are not listed left unseen and stop waiting."""
        t = now.timestamp()
        mapped = [self.queue_of(q) for q in queues]
        out = self.tiers(tiers, now, where, covered=set(mapped))
        for a in self._agents.values():
            a.emitted, a.call = None, None  # state may have changed unseen: say it again
        for k, row in enumerate(agents):
            try:
                agent = self.agent_of(row.get("name", ""))
                if not agent:
                    raise _Bad("an agent row without a name")
                if (problem := name_problem(agent)) is not None:
                    raise _Bad(f"agent {agent[:40]!r} {problem}")
                wrap, last_end = _int_cell(row, "wrap_up_time", 0), _int_cell(row, "last_bridge_end", 0)
                a = self._agent_model(agent)
                a.status, a.state, a.wrap_s = row.get("status") or None, row.get("state") or None, float(wrap)
                a.wrap_until = None
                if wrap > 0 and last_end and last_end + wrap > t and a.state == "Waiting":
                    a.wrap_until = float(last_end + wrap)  # still inside its wrap-up
                    self._push_wrap(a.wrap_until, agent, None, None, 0.0, f"{where}.a{k}")
            except _Bad as e:
                out.append(DeadLetter(self._src(f"{where}.a{k}"), f"agent list: {e}", "|".join(row.values())[:4000]))
        for name, qname in zip(queues, mapped):
            waiting: list[str] = []
            for k, row in enumerate(members.get(name, [])):
                try:
                    out += self._member_row(row, qname, waiting, f"{where}.{qname}.{k}")
                except (_Bad, ValidationError) as e:
                    out.append(
                        DeadLetter(
                            self._src(f"{where}.{qname}.{k}"), f"queue list members: {e}", "|".join(row.values())[:4000]
                        )
                    )
            out.append(
                WaitingResync(
                    id=self._id(where, f"w:{qname}"), ts=now, source=self._src(where), queue=qname, call_ids=waiting
                )
            )
        for agent in self._agents:
            out += self._emit_state(agent, t, where, f"s:{agent}")
        return out

    def _member_row(self, row: dict[str, str], queue: str, waiting: list[str], where: str) -> list:
        call = row.get("session_uuid") or ""
        state = (row.get("state") or "").lower()
        joined = _int_cell(row, "joined_epoch", 0)
        if not call:
            return []  # an abandoned row kept for resume: its channel is gone (session_uuid emptied)
        if state in WAITING_MEMBER_STATES:
            if not joined or time_problem(joined):
                raise _Bad(f"joined_epoch is not a time: {row.get('joined_epoch')!r}")
            waiting.append(call)
            return [
                CallerJoined(
                    id=self._id(where, "j"),
                    ts=_dt(joined),
                    source=self._src(where),
                    queue=queue,
                    call_id=call,
                    caller=_number(row.get("cid_number")),
                )
            ]
        bridged = _int_cell(row, "bridge_epoch", 0)
        if state == "answered" and bridged and joined:
            agent = self.agent_of(row.get("serving_agent") or "") or None
            self._answered.add(call)
            if agent:
                self._agent_model(agent).call = (call, queue)
            return [
                CallerAnswered(
                    id=self._id(where, "a"),
                    ts=_dt(bridged),
                    source=self._src(where),
                    queue=queue,
                    call_id=call,
                    agent=agent,
                    wait_s=float(max(0, bridged - joined)),
                )
            ]
        return []

    # -- handlers -------------------------------------------------------------------------------------------

    def _call(self, ev: EslEvent) -> tuple[str, str]:
        call, queue = ev.get("cc-member-session-uuid"), ev.get("cc-queue")
        missing = [n for n, v in (("CC-Member-Session-UUID", call), ("CC-Queue", queue)) if not v]
        if missing:
            raise _Bad(f"missing {', '.join(missing)}")
        return call, self.queue_of(queue)  # type: ignore[arg-type]

    def _agent(self, ev: EslEvent) -> str:
        name = ev.get("cc-agent")
        if not name:
            raise _Bad("missing CC-Agent")
        return self.agent_of(name)

    def _join(self, ev: EslEvent, t: float, where: str) -> list:
        call, queue = self._call(ev)
        self._answered.discard(call)
        self._completed.discard(call)
        return [
            CallerJoined(
                id=self._id(where, 1),
                ts=_dt(t),
                source=self._src(where),
                queue=queue,
                call_id=call,
                caller=_number(ev.get("cc-member-cid-number")),
            )
        ]

    def _end(self, ev: EslEvent, t: float, where: str) -> list:
        call, queue = self._call(ev)
        cause = ev.get("cc-cause") or ""
        joined, leaving = _epoch(ev, "CC-Member-Joined-Time"), _epoch(ev, "CC-Member-Leaving-Time")
        ts, src = _dt(t), self._src(where)
        if cause == "Terminated":
            out: list = []
            answered = _epoch(ev, "CC-Agent-Answered-Time", required=False)
            agent = self.agent_of(ev.get("cc-agent") or "") or None
            if call not in self._answered and answered is not None:  # its bridge-agent-start was lost
                out.append(
                    CallerAnswered(
                        id=self._id(where, "a"),
                        ts=_dt(answered),
                        source=src,
                        queue=queue,
                        call_id=call,
                        agent=agent,
                        wait_s=_span(joined, answered),
                    )
                )
            if call not in self._completed and answered is not None:  # its bridge-agent-end was lost
                out.append(
                    CallCompleted(
                        id=self._id(where, "c"),
                        ts=ts,
                        source=src,
                        queue=queue,
                        call_id=call,
                        agent=agent,
                        talk_s=_span(answered, leaving),
                    )
                )
            self._answered.discard(call)
            self._completed.discard(call)
            return out
        if cause != "Cancel":
            raise _Bad(f"unknown CC-Cause {cause!r}")
        reason = ev.get("cc-cancel-reason") or "NONE"
        wait = _span(joined, leaving)
        if reason in CANCEL_OVERFLOW:
            return [
                CallerOverflowed(
                    id=self._id(where, 1),
                    ts=ts,
                    source=src,
                    queue=queue,
                    call_id=call,
                    reason=CANCEL_OVERFLOW[reason],
                    wait_s=wait,
                )
            ]
        if reason not in ("BREAK_OUT", "NONE"):
            raise _Bad(f"unknown CC-Cancel-Reason {reason!r}")
        if (ev.get("answer-state") or "hangup") != "hangup":  # taken out of the queue alive
            return [
                CallerOverflowed(
                    id=self._id(where, 1), ts=ts, source=src, queue=queue, call_id=call, reason="withdrawn", wait_s=wait
                )
            ]
        return [CallerAbandoned(id=self._id(where, 1), ts=ts, source=src, queue=queue, call_id=call, wait_s=wait)]

    def _offering(self, ev: EslEvent, t: float, where: str) -> list:
        call, queue = self._call(ev)
        agent = self._agent(ev)
        a = self._agent_model(agent)
        a.call = (call, queue)
        if a.state not in ("Receiving", "In a queue call"):
            a.state = "Receiving"
        return self._emit_state(agent, t, where, 2)

    def _bridge_start(self, ev: EslEvent, t: float, where: str) -> list:
        call, queue = self._call(ev)
        agent = self._agent(ev)
        joined, answered = _epoch(ev, "CC-Member-Joined-Time"), _epoch(ev, "CC-Agent-Answered-Time")
        called = _epoch(ev, "CC-Agent-Called-Time", required=False)
        answer = CallerAnswered(
            id=self._id(where, 1),
            ts=_dt(t),
            source=self._src(where),
            queue=queue,
            call_id=call,
            agent=agent,
            wait_s=_span(joined, answered),
            ring_s=_span(called, answered) if called is not None else None,
        )
        self._answered.add(call)
        a = self._agent_model(agent)
        a.call, a.state, a.wrap_until, a.last = (call, queue), "In a queue call", None, None
        return [answer, *self._emit_state(agent, t, where, 2)]

    def _bridge_end(self, ev: EslEvent, t: float, where: str) -> list:
        call, queue = self._call(ev)
        agent = self._agent(ev)
        answered, ended = _epoch(ev, "CC-Agent-Answered-Time"), _epoch(ev, "CC-Bridge-Terminated-Time")
        if (ev.get("cc-agent-bridged") or "true") == "false":
            return []  # the agent's leg never joined the caller (uuid-standby agents)
        done = CallCompleted(
            id=self._id(where, 1),
            ts=_dt(t),
            source=self._src(where),
            queue=queue,
            call_id=call,
            agent=agent,
            talk_s=_span(answered, ended),
        )
        self._completed.add(call)
        a = self._agent_model(agent)
        a.call, a.last = None, (call, queue, t)
        wrap = a.wrap_s if a.wrap_s else self.config.queue(queue).wrapup_s
        out: list = [done]
        if wrap > 0:
            a.wrap_until = t + wrap
            self._push_wrap(t + wrap, agent, call, queue, wrap, where)
            a.last = None  # the timed wrap-up ends it, not an Idle -> Waiting
        a.state = "Waiting" if a.state == "In a queue call" else a.state
        return out + self._emit_state(agent, t, where, 2)

    def _bridge_fail(self, ev: EslEvent, t: float, where: str) -> list:
        call, queue = self._call(ev)
        agent = self._agent(ev)
        cause = ev.get("cc-hangup-cause") or ""
        called = _epoch(ev, "CC-Agent-Called-Time", required=False)
        aborted = _epoch(ev, "CC-Agent-Aborted-Time", required=False)
        a = self._agent_model(agent)
        if a.call and a.call[0] == call:
            a.call = None
        if cause in NOT_A_MISS:
            return []
        return [
            AgentMissed(
                id=self._id(where, 1),
                ts=_dt(t),
                source=self._src(where),
                agent=agent,
                queue=queue,
                call_id=call,
                ring_s=_span(called, aborted) if called is not None and aborted is not None else None,
            )
        ]

    def _status(self, ev: EslEvent, t: float, where: str) -> list:
        agent = self._agent(ev)
        status = ev.get("cc-agent-status")
        if not status:
            raise _Bad("missing CC-Agent-Status")
        self._agent_model(agent).status = status
        return self._emit_state(agent, t, where, 1)

    def _state_change(self, ev: EslEvent, t: float, where: str) -> list:
        agent = self._agent(ev)
        state = ev.get("cc-agent-state")
        if not state:
            raise _Bad("missing CC-Agent-State")
        a = self._agent_model(agent)
        out: list = []
        if a.state == "Idle" and state != "Idle" and a.last is not None:  # an On Demand agent's wrap-up ends
            call, queue, end = a.last
            out.append(
                WrapupCompleted(
                    id=self._id(where, "w"),
                    ts=_dt(t),
                    source=self._src(where),
                    queue=queue,
                    call_id=call,
                    agent=agent,
                    wrap_s=max(0.0, t - end),
                )
            )
            a.last = None
        a.state = state
        if state in ("Waiting", "Idle") and a.call is not None:
            a.call = None  # the ring or call is over
        return out + self._emit_state(agent, t, where, 1)

    # -- agents ---------------------------------------------------------------------------------------------

    def _derive(self, a: _Agent, t: float) -> Derived | None:
        if a.status == "Logged Out":
            return ("logged_out", None, False)
        brk = a.status == "On Break"  # set at once, on a call or not: paused once the call and wrap-up end
        reason = "On Break" if brk else None
        if a.state == "In a queue call":
            return ("on_call", reason, brk)
        if a.state in ("Receiving", "Reserved"):
            return ("ringing", reason, brk)
        if a.wrap_until is not None and t < a.wrap_until:
            return ("wrap_up", reason, brk)
        if brk:
            return ("paused", reason, False)
        if a.state == "Idle":
            return ("wrap_up", None, False)
        if a.status is None and a.state is None:
            return None
        return ("available", None, False)

    # -- helpers --------------------------------------------------------------------------------------------

    def _time(self, ev: EslEvent, received: datetime | None) -> float:
        stamp = ev.get("event-date-timestamp")
        if stamp:
            if not stamp.isdigit():
                raise _Bad(f"Event-Date-Timestamp is not a number of microseconds: {stamp[:40]!r}")
            t = int(stamp) / 1e6
            if (problem := time_problem(t)) is not None:
                raise _Bad(f"Event-Date-Timestamp {stamp[:40]!r} {problem}")
            return t
        if received is None:
            raise _Bad("no Event-Date-Timestamp to date it by")
        return received.timestamp()

    def _check_names(self, ev: EslEvent) -> None:
        """The event model's name checks, before any handler changes the mapper (a refused event leaves no
        trace)."""
        for what, raw, conv in (
            ("CC-Queue", ev.get("cc-queue"), self.queue_of),
            ("CC-Agent", ev.get("cc-agent"), self.agent_of),
        ):
            if raw and (problem := name_problem(conv(raw))) is not None:
                raise _Bad(f"{what} {raw[:40]!r} {problem}")

    def _where(self, ev: EslEvent, where: str) -> str:
        """Core-UUID (new at every switch start) and Event-Sequence make an id that is the same however often
        the event is read; without them the feed's position."""
        core, seq = ev.get("core-uuid"), ev.get("event-sequence")
        if core and seq and seq.isdigit():
            return f"{core[:8]}.{seq}"
        return where

    def _dead(self, where: str, reason: str, ev: EslEvent) -> DeadLetter:
        return self._dead_text(where, reason, ev.raw or "\n".join(f"{k}: {v}" for k, v in ev.fields.items()))


def _number(v: str | None) -> str | None:
    return None if v is None or v.strip().lower() in _NO_NUMBER else v


def _epoch(ev: EslEvent, key: str, required: bool = True) -> float | None:
    """A ``CC-*-Time`` header: whole epoch seconds (0 = never happened)."""
    v = ev.get(key)
    if v is None or v == "0":
        if required:
            raise _Bad(f"missing {key}")
        return None
    if not v.isdigit():
        raise _Bad(f"{key} is not epoch seconds: {v[:40]!r}")
    x = float(v)
    if (problem := time_problem(x)) is not None:
        raise _Bad(f"{key} {v!r} {problem}")
    return x


def _span(start: float | None, end: float | None) -> float:
    """end - start in seconds, refused when negative (the switch's clocks do not run backwards)."""
    if start is None or end is None:
        raise _Bad("missing a time")
    d = end - start
    if not 0 <= d < MAX_SECONDS:
        raise _Bad(f"a duration of {d:.0f} s (from {start:.0f} to {end:.0f}) is not possible")
    return d


def _int_cell(row: dict[str, str], key: str, default: int | None = None) -> int:
    v = (row.get(key) or "").strip()
    if not v:
        if default is None:
            raise _Bad(f"no {key}")
        return default
    try:
        x = int(v)
    except ValueError:
        raise _Bad(f"{key} is not a whole number: {v[:40]!r}") from None
    if not 0 <= x < 2**31:
        raise _Bad(f"{key} is out of range: {v[:40]!r}")
    return x
