"""The simulated centre: a discrete-event model on its own time axis.

Time inside the model is seconds since ``start`` (milliseconds exact), so nothing depends on the wall clock:
``advance_to(t)`` runs every scheduled action up to ``t`` and returns the events that happened, in time
order. Actions live in a heap of ``(time, sequence, action)``; the sequence keeps equal times in the order
they were scheduled, which with seeded ``random.Random`` streams (one per queue's arrivals, per queue's
callers and per agent, so a routing change does not reshuffle who calls) makes a run deterministic.

The model's state (callers, agents, call log) is kept apart from its output: every fact leaves through
``_emit`` as a ``wallboard.events`` model, in the order Asterisk reports it (docs/PROTOCOLS.md), so a
protocol face (AMI, queue_log) can be written from that stream.

Routing, as chosen here:
- A free agent takes callers only from the queues where it has its lowest penalty among the queues that
  have someone waiting; among those, the queue whose first caller has waited longest (FIFO inside a queue).
- A waiting caller goes to the eligible free agent with the lowest penalty for its queue, then the one
  available longest (then config order). One agent rings per caller at a time; several callers of a queue
  may ring agents at once (Asterisk's ``autofill``).
- A free agent with nobody waiting in its queues calls back the oldest due callback of its queues.
An agent's own break, asked for while busy, starts when the call (and wrap-up) ends. A supervisor's pause
(``pause_agent``, the PBX's QueuePause) pauses the member at once, as app_queue does: a busy agent's state is
said again with ``pause_pending`` (the PBX's faces write the pause then), and it turns paused when free.

Written queues (a queue whose ``channel`` is chat, messaging, email or social) have their own arrivals (the
profile's ``shape``) and are served apart from the phones: a conversation is accepted at once by a member with
room on that channel (its ``capacity``; none while paused, or on a call when ``voice_blocks_written``), the
lowest penalty first, then the fewest open, then the one idle longest; it stays open for its handle time and
closes (``CallCompleted`` with the handle time as ``talk_s``). There is no ring, wrap-up or callback, and the
agent's voice state does not change: it can hold chats and take a call.
"""

from __future__ import annotations

import heapq
import math
import random
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from ..config import WallboardConfig
from ..events import (
    BUSY_STATES,
    AgentMissed,
    AgentStateChanged,
    CallbackDone,
    CallbackRequested,
    CallCompleted,
    CallerAbandoned,
    CallerAnswered,
    CallerJoined,
    CallerOverflowed,
    DialAttempt,
    Event,
    MemberAdded,
    MemberPenalty,
    MemberRemoved,
    OutboundCall,
    WrapupCompleted,
)
from ..hours import is_open
from .scenarios import Scenario, shape_of

WAITING = None  # CallRecord.outcome while the caller is still in the queue


@dataclass
class CallRecord:
    """One queue entry, as the model saw it (for tests and figures; independent of the event stream)."""

    call_id: str
    queue: str
    joined: datetime
    outcome: str | None = WAITING  # answered | abandoned | overflow | callback
    reason: str | None = None  # overflow reason: timeout | key
    wait_s: float | None = None
    agent: str | None = None
    talk_s: float | None = None
    wrap_s: float | None = None
    missed: int = 0  # rings not answered while this caller waited
    callback: str | None = None  # callback outcome once called back: answered | failed


@dataclass
class _Caller:
    record: CallRecord
    t_join: float
    number: str
    talk_s: float
    ringing: str | None = None  # agent being rung for this caller
    ring_t: float = 0.0


@dataclass
class _Callback:
    record: CallRecord
    number: str
    due: float


@dataclass
class _Agent:
    id: str
    order: int
    skills: dict[str, int]  # queue -> penalty, in the order they were added
    rng: random.Random
    state: str = "available"  # available | ringing | on_call | wrap_up | paused | dialing
    since: float = 0.0  # became available at (longest idle goes first)
    ready_at: float = 0.0  # not offered calls before this (rest after a missed ring)
    caller: _Caller | None = None
    pause_reason: str | None = None
    pending_pause: tuple[str, float | None] | None = None  # (reason, duration or None = until unpaused)
    pbx_paused: bool = False  # the pending pause is the PBX's already (a supervisor's, while busy)
    stated: dict[str, Any] | None = None  # the fields of the last state said (queue, call id), to say it again
    pause_token: int = 0  # a scheduled end of break applies only to the pause it was made for
    capacity: dict[str, int] | None = None  # written channel -> conversations at once
    blocks_written: bool = False  # voice_blocks_written
    open: dict[str, int] | None = None  # written channel -> conversations open now
    idle_since: float = 0.0  # last time a written conversation closed (longest idle goes first)


def _q(t: float) -> float:
    return round(t, 3)  # milliseconds: timestamps and durations then agree exactly


def _lognormal(rng: random.Random, mean: float, sigma: float) -> float:
    return rng.lognormvariate(math.log(mean) - sigma * sigma / 2.0, sigma)


class SimCentre:
    def __init__(self, config: WallboardConfig, scenario: Scenario, seed: int, start: datetime):
        if start.tzinfo is None:
            raise ValueError("SimCentre needs an aware start datetime")
        self.config = config
        self.scenario = scenario
        self.seed = seed
        self.start = start.astimezone(timezone.utc)
        self.calls: list[CallRecord] = []
        self._t = 0.0
        self._heap: list[tuple[float, int, Callable[..., None], tuple[Any, ...]]] = []
        self._seq = 0
        self._out: list[Event] = []
        self._n = 0
        self._channels = 0
        self._run = int(self.start.timestamp())  # in event ids: runs started at other moments never collide
        self._tz = config.centre.tz
        self._queues = [q.name for q in config.queues]
        self._queue_order = {q: i for i, q in enumerate(self._queues)}
        self._queue_cfg = {q.name: q for q in config.queues}
        self._wrap = {q.name: q.wrapup_s for q in config.queues}
        self._waiting: dict[str, list[_Caller]] = {q: [] for q in self._queues}
        self._callbacks: dict[str, list[_Callback]] = {q: [] for q in self._queues}
        self._arrival_rng = {q: random.Random(f"{seed}:arrivals:{q}") for q in self._queues}
        self._caller_rng = {q: random.Random(f"{seed}:callers:{q}") for q in self._queues}
        self._agents = [
            _Agent(a.id, i, dict(a.skills), random.Random(f"{seed}:agent:{a.id}")) for i, a in enumerate(config.agents)
        ]
        self._by_id = {a.id: a for a in self._agents}
        # written queues: channel by queue, and each agent's capacity there
        self._written = {q.name: q.channel for q in config.queues if q.channel != "voice"}
        for a, cfg in zip(self._agents, config.agents):
            a.capacity = {ch: cfg.capacity_of(ch) for ch in set(self._written.values())}
            a.blocks_written = cfg.voice_blocks_written
            a.open = {ch: 0 for ch in a.capacity}
        for a in self._agents:  # logged in and free at the start
            for q, p in a.skills.items():
                self._emit(MemberAdded, agent=a.id, queue=q, penalty=p)
            self._emit(AgentStateChanged, agent=a.id, state="available")
        if scenario.standby:
            self._at(1.0, self._stand_by)
        for q in self._queues:
            if self.scenario.profile(q).calls_per_hour > 0:
                self._next_arrival(q)
        for a in self._agents:
            if scenario.break_every_s > 0:
                self._at(a.rng.expovariate(1.0 / scenario.break_every_s), self._break_due, a)
            if scenario.outbound_per_hour > 0:
                self._at(a.rng.expovariate(scenario.outbound_per_hour / 3600.0), self._outbound_due, a)

    # --- time and output -------------------------------------------------------------------------------

    @property
    def now(self) -> datetime:
        return self._ts(self._t)

    def advance_to(self, t: datetime) -> list[Event]:
        """Run the model up to ``t`` (inclusive) and return the events since the last call, in time order."""
        target = (t - self.start).total_seconds()
        while self._heap and self._heap[0][0] <= target:
            when, _, action, args = heapq.heappop(self._heap)
            self._t = when
            action(*args)
        self._t = max(self._t, target)
        out, self._out = self._out, []
        return out

    def _at(self, delay_s: float, action: Callable[..., None], *args: Any) -> None:
        heapq.heappush(self._heap, (_q(self._t + delay_s), self._seq, action, args))
        self._seq += 1

    def _ts(self, t: float) -> datetime:
        return self.start + timedelta(seconds=t)

    def _emit(self, cls: type, **fields: Any) -> None:
        ch = self._written.get(fields.get("queue")) if self._written else None  # type: ignore[arg-type]
        if ch is not None and "channel" in cls.model_fields:  # a written queue's transitions say their channel
            fields["channel"] = ch
        self._out.append(cls(id=f"sim:{self.seed}:{self._run}:{self._n}", ts=self._ts(self._t), source="sim", **fields))
        self._n += 1

    def _uniqueid(self) -> str:
        """Asterisk-like channel id: epoch second of creation, a running counter."""
        self._channels += 1
        return f"{int(self.start.timestamp() + self._t)}.{self._channels}"

    # --- arrivals ---------------------------------------------------------------------------------------

    def _rate_per_hour(self, queue: str) -> float:
        profile = self.scenario.profile(queue)
        factor = self.scenario.spike_factor(queue, self._t)
        local = self.now.astimezone(self._tz)
        if self.scenario.honour_hours and not is_open(self._queue_cfg[queue], local, self._tz):
            return 0.0
        if factor is not None:
            return profile.calls_per_hour * factor
        if self.scenario.shape_anchor == "start":
            hour = self.scenario.shape_start_hour + self._t / 3600.0
        else:
            hour = local.hour + local.minute / 60.0 + local.second / 3600.0
        return profile.calls_per_hour * shape_of(profile.shape)(hour)

    def _next_arrival(self, queue: str) -> None:
        """Thinning: candidates at the queue's highest possible rate, each kept with rate(t) / highest."""
        top = self.scenario.profile(queue).calls_per_hour * self.scenario.peak_factor(queue)
        self._at(self._arrival_rng[queue].expovariate(top / 3600.0), self._arrival, queue, top)

    def _arrival(self, queue: str, top: float) -> None:
        if self._arrival_rng[queue].random() * top < self._rate_per_hour(queue):
            self._join(queue, self._draw_caller(queue))
        self._next_arrival(queue)

    def _draw_caller(self, queue: str) -> dict[str, Any]:
        rng, p = self._caller_rng[queue], self.scenario.profile(queue)
        patience = rng.expovariate(1.0 / p.patience_mean_s) if math.isfinite(p.patience_mean_s) else math.inf
        exits = [(patience, "abandon"), (p.max_wait_s, "timeout")]
        u = rng.random()
        if u < p.key_exit_p:
            exits.append((rng.uniform(*p.key_after_s), "key"))
        elif u < p.key_exit_p + p.callback_p:
            exits.append((rng.uniform(*p.callback_after_s), "callback"))
        leave_after, how = min(exits)
        return {
            "number": f"05{rng.randrange(10**8):08d}",
            "talk_s": _q(_lognormal(rng, p.talk_mean_s, p.talk_sigma)),
            "leave_after_s": leave_after,
            "leave_how": how,
        }

    def schedule_caller(
        self,
        queue: str,
        at: datetime,
        *,
        talk_s: float = 120.0,
        patience_s: float = math.inf,
        number: str = "0500000000",
    ) -> None:
        """Put a caller of your own in the queue at ``at`` (not before now): talks ``talk_s`` once answered,
        hangs up after ``patience_s`` of waiting (never, by default). For tests and hand-made scenarios."""
        if queue not in self._waiting:
            raise ValueError(f"no queue {queue!r} in the configuration")
        delay = max(0.0, (at - self.start).total_seconds() - self._t)
        caller = {"number": number, "talk_s": _q(talk_s), "leave_after_s": patience_s, "leave_how": "abandon"}
        self._at(delay, self._join, queue, caller)

    def _join(self, queue: str, c: dict[str, Any]) -> None:
        rec = CallRecord(call_id=self._uniqueid(), queue=queue, joined=self.now)
        self.calls.append(rec)
        caller = _Caller(rec, self._t, c["number"], c["talk_s"])
        self._waiting[queue].append(caller)
        self._emit(
            CallerJoined, queue=queue, call_id=rec.call_id, caller=caller.number, position=len(self._waiting[queue])
        )
        if math.isfinite(c["leave_after_s"]):
            self._at(c["leave_after_s"], self._leave, caller, c["leave_how"])
        self._dispatch()

    # --- a caller's way out of the queue ----------------------------------------------------------------

    def _leave(self, caller: _Caller, how: str) -> None:
        rec = caller.record
        if rec.outcome is not WAITING:
            return  # answered (or gone) before running out of patience
        queue = rec.queue
        position = self._waiting[queue].index(caller) + 1
        self._waiting[queue].remove(caller)
        rec.wait_s = _q(self._t - caller.t_join)
        ids = {"queue": queue, "call_id": rec.call_id}
        if how == "abandon":
            rec.outcome = "abandoned"
            self._emit(CallerAbandoned, wait_s=rec.wait_s, position=position, **ids)
        elif how == "callback":  # a withdraw: the place is kept among the pending callbacks
            rec.outcome = "callback"
            self._emit(CallbackRequested, caller=caller.number, wait_s=rec.wait_s, **ids)
            lo, hi = self.scenario.callback_delay_s
            due = _q(self._t + self._caller_rng[queue].uniform(lo, hi))
            self._callbacks[queue].append(_Callback(rec, caller.number, due))
            self._at(due - self._t, self._dispatch)
        else:
            rec.outcome, rec.reason = "overflow", how
            self._emit(CallerOverflowed, reason=how, wait_s=rec.wait_s, **ids)
        if caller.ringing:  # the ring stops with the caller; not the agent's miss
            agent = self._by_id[caller.ringing]
            caller.ringing = None
            agent.caller = None
            self._free(agent)
        self._dispatch()

    # --- routing ----------------------------------------------------------------------------------------

    def _dispatch(self) -> None:
        while True:
            heads = {}
            for q in self._queues:
                if q in self._written:
                    continue
                head = next((c for c in self._waiting[q] if c.ringing is None), None)
                if head is not None:
                    heads[q] = head
            if not heads:
                break
            free = [a for a in self._agents if a.state == "available" and a.ready_at <= self._t]
            if not free:
                break  # no phone free: callbacks and written work are still seated below
            wants: dict[str, list[str]] = {}  # agent -> the queues it takes from now (its lowest penalty)
            for a in free:
                pens = [(p, q) for q, p in a.skills.items() if q in heads]
                if pens:
                    low = min(p for p, _ in pens)
                    wants[a.id] = [q for p, q in pens if p == low]
            rung = False
            for q in sorted(heads, key=lambda q: (heads[q].t_join, self._queue_order[q])):
                cands = [a for a in free if q in wants.get(a.id, ())]
                if cands:
                    self._ring(min(cands, key=lambda a: (a.skills[q], a.since, a.order)), heads[q])
                    rung = True
                    break
            if not rung:
                break
        self._dispatch_callbacks()
        if self._written:
            self._dispatch_written()

    # --- written conversations ------------------------------------------------------------------------

    def _room(self, a: _Agent, channel: str) -> bool:
        if a.state == "paused" or a.open is None or a.capacity is None:
            return False
        if a.blocks_written and a.state in ("ringing", "on_call", "dialing", "wrap_up"):
            return False
        return a.open[channel] < a.capacity[channel]

    def _dispatch_written(self) -> None:
        """Seat waiting conversations with members that have room, the longest-waiting queue first."""
        while True:
            heads = [(self._waiting[q][0].t_join, self._queue_order[q], q) for q in self._written if self._waiting[q]]
            seated = False
            for _, _, q in sorted(heads):
                ch = self._written[q]
                cands = [a for a in self._agents if q in a.skills and self._room(a, ch)]
                if cands:
                    a = min(cands, key=lambda a: (a.skills[q], a.open[ch], a.idle_since, a.order))  # type: ignore[index]
                    self._accept(a, self._waiting[q][0])
                    seated = True
                    break
            if not seated:
                return

    def _accept(self, agent: _Agent, caller: _Caller) -> None:
        rec = caller.record
        self._waiting[rec.queue].remove(caller)
        rec.outcome, rec.agent, rec.talk_s = "answered", agent.id, caller.talk_s
        rec.wait_s = _q(self._t - caller.t_join)
        agent.open[self._written[rec.queue]] += 1  # type: ignore[index]
        self._emit(CallerAnswered, queue=rec.queue, call_id=rec.call_id, agent=agent.id, wait_s=rec.wait_s)
        self._at(caller.talk_s, self._close, agent, caller)

    def _close(self, agent: _Agent, caller: _Caller) -> None:
        rec = caller.record
        agent.open[self._written[rec.queue]] -= 1  # type: ignore[index]
        agent.idle_since = self._t
        self._emit(CallCompleted, queue=rec.queue, call_id=rec.call_id, agent=agent.id, talk_s=rec.talk_s)
        self._dispatch()

    def open_conversations(self, agent_id: str) -> dict[str, int]:
        """The agent's written conversations open now, per channel (read-only copy)."""
        return dict(self._agent(agent_id).open or {})

    def _dispatch_callbacks(self) -> None:
        if not any(cb.due <= self._t for cbs in self._callbacks.values() for cb in cbs):
            return
        for a in sorted(self._agents, key=lambda a: (a.since, a.order)):
            if a.state != "available" or a.ready_at > self._t:
                continue
            due = [
                (p, cb.record.joined, self._queue_order[q], cb)
                for q, p in a.skills.items()
                for cb in self._callbacks.get(q, ())
                if cb.due <= self._t
            ]
            if due:
                cb = min(due, key=lambda d: d[:3])[3]
                self._callbacks[cb.record.queue].remove(cb)
                self._dial(a, cb.number, cb)

    def _ring(self, agent: _Agent, caller: _Caller) -> None:
        caller.ringing, caller.ring_t = agent.id, self._t
        agent.caller = caller
        self._set_state(agent, "ringing", queue=caller.record.queue, call_id=caller.record.call_id)
        s = self.scenario
        if agent.rng.random() < s.miss_p:
            self._at(s.ring_timeout_s, self._ring_timeout, agent, caller)
        else:
            self._at(agent.rng.uniform(*s.ring_s), self._answer, agent, caller)

    def _still_ringing(self, agent: _Agent, caller: _Caller) -> bool:
        return agent.caller is caller and caller.ringing == agent.id and caller.record.outcome is WAITING

    def _ring_timeout(self, agent: _Agent, caller: _Caller) -> None:
        if not self._still_ringing(agent, caller):
            return
        rec = caller.record
        caller.ringing, agent.caller = None, None
        rec.missed += 1
        self._emit(
            AgentMissed, agent=agent.id, queue=rec.queue, call_id=rec.call_id, ring_s=_q(self._t - caller.ring_t)
        )
        agent.ready_at = _q(self._t + self.scenario.retry_s)
        self._at(self.scenario.retry_s, self._dispatch)
        self._free(agent)

    def _answer(self, agent: _Agent, caller: _Caller) -> None:
        if not self._still_ringing(agent, caller):
            return
        rec = caller.record
        self._waiting[rec.queue].remove(caller)
        caller.ringing = None
        rec.outcome, rec.agent, rec.talk_s = "answered", agent.id, caller.talk_s
        rec.wait_s = _q(self._t - caller.t_join)
        # Asterisk's order: the caller leaves the queue, then the agent connects.
        self._emit(
            CallerAnswered,
            queue=rec.queue,
            call_id=rec.call_id,
            agent=agent.id,
            wait_s=rec.wait_s,
            ring_s=_q(self._t - caller.ring_t),
        )
        self._set_state(agent, "on_call", queue=rec.queue, call_id=rec.call_id)
        self._at(caller.talk_s, self._hang_up, agent, caller)
        self._dispatch()

    def _hang_up(self, agent: _Agent, caller: _Caller, ended_by: str | None = None) -> None:
        if agent.caller is not caller or agent.state != "on_call":
            return  # the call was taken over: the agent's part ended then
        rec = caller.record
        ended_by = ended_by or ("agent" if agent.rng.random() < self.scenario.agent_hangup_p else "caller")
        self._emit(
            CallCompleted, queue=rec.queue, call_id=rec.call_id, agent=agent.id, talk_s=rec.talk_s, ended_by=ended_by
        )
        wrap = self._wrap.get(rec.queue, 0.0)
        if wrap > 0:
            self._set_state(agent, "wrap_up", queue=rec.queue, call_id=rec.call_id)
            self._at(wrap, self._wrap_end, agent, caller)
        else:
            agent.caller = None
            self._free(agent)

    def _wrap_end(self, agent: _Agent, caller: _Caller) -> None:
        rec = caller.record
        rec.wrap_s = self._wrap[rec.queue]
        self._emit(WrapupCompleted, queue=rec.queue, call_id=rec.call_id, agent=agent.id, wrap_s=rec.wrap_s)
        agent.caller = None
        self._free(agent)

    def _set_state(self, agent: _Agent, state: str, **fields: Any) -> None:
        agent.state = state
        agent.stated = fields
        self._say_state(agent)

    def _say_state(self, agent: _Agent) -> None:
        shown = "on_call" if agent.state == "dialing" else agent.state  # a dialling device is in use
        fields = dict(agent.stated or {})
        if agent.pbx_paused and agent.pending_pause is not None and shown in BUSY_STATES:
            fields.update(pause_pending=True, reason=agent.pending_pause[0])
        self._emit(AgentStateChanged, agent=agent.id, state=shown, **fields)

    def _free(self, agent: _Agent) -> None:
        """The agent's work is done: a pause asked for meanwhile starts now, else the agent is available."""
        if agent.pending_pause is not None:
            reason, duration = agent.pending_pause
            agent.pending_pause = None
            self._pause_now(agent, reason, duration)
            return
        agent.since = self._t
        self._set_state(agent, "available")
        self._dispatch()

    # --- breaks and pauses ------------------------------------------------------------------------------

    def _pause_now(self, agent: _Agent, reason: str, duration: float | None) -> None:
        agent.pause_token += 1
        agent.pbx_paused = False  # paused now: nothing pending
        agent.pause_reason = reason
        self._set_state(agent, "paused", reason=reason)
        if duration is not None:
            self._at(duration, self._break_end, agent, agent.pause_token)

    def _break_end(self, agent: _Agent, token: int) -> None:
        if agent.state == "paused" and agent.pause_token == token:
            agent.pause_reason = None
            self._free(agent)

    def _pauses_allowed(self, agent: _Agent) -> bool:
        def paused(a: _Agent) -> bool:
            return a.state == "paused" or a.pending_pause is not None

        share = self.scenario.max_paused_share
        if sum(paused(a) for a in self._agents) >= max(1, int(share * len(self._agents))):
            return False
        for q in agent.skills:
            members = [a for a in self._agents if q in a.skills]
            if sum(paused(a) for a in members) >= max(1, int(share * len(members))):
                return False
        return True

    def _break_due(self, agent: _Agent) -> None:
        s = self.scenario
        self._at(agent.rng.expovariate(1.0 / s.break_every_s), self._break_due, agent)
        if agent.state == "paused" or agent.pending_pause is not None or not self._pauses_allowed(agent):
            return  # the next request comes round later
        pick = agent.rng.random() * sum(r.weight for r in s.break_reasons)
        for r in s.break_reasons:
            pick -= r.weight
            if pick < 0:
                break
        duration = _q(_lognormal(agent.rng, r.mean_s, 0.3))
        if agent.state == "available":
            self._pause_now(agent, r.reason, duration)
        else:
            agent.pending_pause = (r.reason, duration)

    # --- outbound calls and callbacks -------------------------------------------------------------------

    def _outbound_due(self, agent: _Agent) -> None:
        self._at(agent.rng.expovariate(self.scenario.outbound_per_hour / 3600.0), self._outbound_due, agent)
        if agent.state == "available" and agent.ready_at <= self._t:
            self._dial(agent, f"0{agent.rng.randrange(10**9):09d}", None)

    def _dial(self, agent: _Agent, number: str, callback: _Callback | None) -> None:
        uid = self._uniqueid()
        self._emit(DialAttempt, agent=agent.id, call_id=uid, number=number)
        self._set_state(agent, "dialing", call_id=uid)
        s = self.scenario
        answered = agent.rng.random() < s.dial_answer_p
        self._at(agent.rng.uniform(*s.dial_ring_s), self._dial_end, agent, uid, number, answered, callback)

    def _dial_end(self, agent: _Agent, uid: str, number: str, answered: bool, callback: _Callback | None) -> None:
        if callback is not None:
            rec = callback.record
            rec.callback = "answered" if answered else "failed"
            self._emit(CallbackDone, queue=rec.queue, call_id=rec.call_id, agent=agent.id, outcome=rec.callback)
        if not answered:
            self._free(agent)
            return
        self._emit(OutboundCall, agent=agent.id, call_id=uid, number=number)
        s = self.scenario
        mean = s.outbound_talk_mean_s if callback is None else s.profile(callback.record.queue).talk_mean_s
        self._at(_lognormal(agent.rng, mean, 0.6), self._free, agent)

    # --- supervisor actions -----------------------------------------------------------------------------

    def _agent(self, agent_id: str) -> _Agent:
        try:
            return self._by_id[agent_id]
        except KeyError:
            raise ValueError(f"no agent {agent_id!r} in the simulated centre") from None

    def member_queues(self, agent_id: str) -> dict[str, int]:
        """The agent's queues and penalties now (read-only copy)."""
        return dict(self._agent(agent_id).skills)

    def member_penalty(self, agent_id: str, queue: str) -> int | None:
        return self._agent(agent_id).skills.get(queue)

    def move_agent(self, agent_id: str, queue: str, penalty: int | None = None) -> None:
        """Make the agent a member of ``queue`` with ``penalty`` (new member: 0 if None; a member: its
        penalty changes, None keeps it). Routing follows at once."""
        agent = self._agent(agent_id)
        if queue not in self._waiting:
            raise ValueError(f"no queue {queue!r} in the configuration")
        if queue not in agent.skills:
            agent.skills[queue] = 0 if penalty is None else penalty
            self._emit(MemberAdded, agent=agent.id, queue=queue, penalty=agent.skills[queue])
        elif penalty is not None and penalty != agent.skills[queue]:
            agent.skills[queue] = penalty
            self._emit(MemberPenalty, agent=agent.id, queue=queue, penalty=penalty)
        self._dispatch()

    def remove_member(self, agent_id: str, queue: str) -> None:
        """Take the agent out of ``queue`` (a ring already under way goes on)."""
        agent = self._agent(agent_id)
        if agent.skills.pop(queue, None) is not None:
            self._emit(MemberRemoved, agent=agent.id, queue=queue)
            self._dispatch()

    def take_over(self, agent_id: str) -> str:
        """A supervisor takes the agent's queue call: the agent's part ends now (``CallCompleted`` ended by a
        transfer, talk so far), wrap-up follows as after any call; the caller talks on with the supervisor,
        outside the queue's figures. Returns the call id; ValueError when the agent is on no queue call."""
        agent = self._agent(agent_id)
        caller = agent.caller
        if agent.state != "on_call" or caller is None:
            raise ValueError(f"{agent_id} is not on a queue call")
        rec = caller.record
        rec.talk_s = _q(self._t - caller.t_join - (rec.wait_s or 0.0))
        self._hang_up(agent, caller, "transfer")
        return rec.call_id

    def _stand_by(self) -> None:
        """Backups log out of the scenario's ``standby`` queues (they keep the skill in the config)."""
        for a in self._agents:
            best = min(a.skills.values(), default=0)
            for q in self.scenario.standby:
                if a.skills.get(q, best) > best:
                    self.remove_member(a.id, q)

    def pause_agent(self, agent_id: str, reason: str = "supervisor") -> None:
        """Pause until unpaused. The PBX pauses a busy agent at once (its state is said again with the pause
        pending); the agent is paused when the call and its wrap-up end."""
        agent = self._agent(agent_id)
        if agent.state in ("available", "paused"):  # paused already: the new reason, and no scheduled end
            self._pause_now(agent, reason, None)
        else:
            agent.pending_pause, agent.pbx_paused = (reason, None), True
            self._say_state(agent)

    def unpause_agent(self, agent_id: str) -> None:
        agent = self._agent(agent_id)
        held = agent.pbx_paused
        agent.pending_pause, agent.pbx_paused = None, False
        if agent.state == "paused":
            agent.pause_reason = None
            agent.pause_token += 1
            self._free(agent)
        elif held:  # busy: the PBX unpauses at once, the call goes on
            self._say_state(agent)

    # --- views for tests and tools ----------------------------------------------------------------------

    def agent_state(self, agent_id: str) -> str:
        return self._agent(agent_id).state

    def skills(self, agent_id: str) -> dict[str, int]:
        return dict(self._agent(agent_id).skills)

    def waiting(self, queue: str) -> int:
        return len(self._waiting[queue])

    def callbacks_pending(self, queue: str) -> int:
        return len(self._callbacks[queue])

    def waiting_calls(self, queue: str) -> list[tuple[str, str, datetime, str | None]]:
        """Who waits in ``queue``, first in line first: (call id, caller number, joined at, agent being rung
        or None). A protocol face (the simulated PBX's QueueStatus) reads it; nothing changes."""
        return [(c.record.call_id, c.number, c.record.joined, c.ringing) for c in self._waiting[queue]]

    def members(self, queue: str) -> list[tuple[str, int]]:
        """The agents that are members of ``queue`` now, in configuration order, with their penalty."""
        return [(a.id, a.skills[queue]) for a in self._agents if queue in a.skills]

    def is_paused(self, agent_id: str) -> bool:
        """Paused at the PBX: paused, or busy with a supervisor's pause the PBX already holds."""
        agent = self._agent(agent_id)
        return agent.state == "paused" or (agent.pbx_paused and agent.pending_pause is not None)

    def pause_reason(self, agent_id: str) -> str | None:
        """The reason of the agent's pause at the PBX (``is_paused``), else None."""
        agent = self._agent(agent_id)
        if agent.state == "paused":
            return agent.pause_reason
        return agent.pending_pause[0] if self.is_paused(agent_id) and agent.pending_pause else None
