"""Overload advice: per queue, the agents required now against those staffed, and when a queue is short while
another has agents to spare, a ranked list of moves of agents skilled for both, each with its projected effect.
Pure: ``advise(snapshot, estimates, config)`` reads nothing else.

The model, and the choices made:

- **Target and floor**: a queue's service level target is the ``warn`` level of its ``service_level``
  threshold (direction ``below``), else 0.80 at its ``sl_threshold_s``; its floor is the ``breach`` level,
  else the target. Service level is projected with the queue's own ``sl_formula``, ``sl_threshold_s`` and
  ``short_abandon_s`` (no overflow in the model), so the figures read like the board's.
- **Queue model**: Erlang A (``erlang.erlang_a``) with the live estimates (arrival rate, handle time,
  patience); Erlang C when the patience estimate rests on too few abandons. A queue with too few calls for a
  rate or a handle time gets no figures (status ``no_estimate``) and no move takes an agent from it.
- **Written channels** (``wallboard.channels``): an agent of a chat (or e-mail ...) queue holds several
  conversations at once, so an agent is not one server. The model runs on **slots**: each agent counts as its
  capacity there (the members' median capacity) and a conversation holds a slot for its handle time (accepted
  -> closed); required and staffed stay in agents. ``QueueAdvice.model`` says which model each queue uses.
- **Staffed** (as the board counts it): agents logged in and not paused who are members of the queue.
  For the model each of them counts as a fraction of a server, the **effective** staffing: a member at the
  agent's lowest penalty counts 1; a member at a higher penalty (a backup) counts the probability that none
  of the agent's better queues has a caller waiting, taken as the product of ``1 - P(wait)`` of those queues
  (routing as Asterisk and the simulated centre do it: a free agent takes the lowest-penalty queue that has
  someone waiting). P(wait) depends on the effective staffing, so this is solved by a few rounds of fixed-point
  iteration. SL at a fractional staffing is interpolated linearly between the whole numbers around it. A
  backup from a quiet queue thus already serves the drowning queue most of the time, and making it a first
  choice there gains little (and costs its own queue a server): the advisor says so rather than suggest it.
- **Required**: the fewest whole agents whose projected SL reaches the target; short: effective < required.
  A queue can give an agent when it is not short; **no move takes any queue from at/above its floor to below
  it** (the source, and any queue that loses a backup's help).
- **Moves**: an agent staffed on S (its lowest penalty) who is skilled for a short queue T: a member of T at a
  higher penalty — a *penalty* move, the two penalties swap — or skilled for T in the config only — a *move*:
  added to T at its current best penalty and removed from S. Each move is projected on every queue.
- **Ranking**: by the calls per hour answered within the threshold gained, counting each queue only up to its
  target (``sum_q rate_q x [min(SL'_q, target_q) - min(SL_q, target_q)]``): service above target is slack,
  below it is shortfall; only moves gaining at least ``min_gain_per_h`` (0.5) are listed. Ties: penalty
  moves first (they keep the agent as S's backup and undo by swapping back), then available agents before
  busy ones, then name.
- **Plan**: the best move, then the best move after it, and so on (greedy, each agent once) until no queue
  is short or no move gains: what a panel can offer as "3 moves bring Tech to 80 %".

``Move.steps`` are what the ``move`` action will perform, one request each (``MoveStep.request_fields``); a
panel shows ``Move.text`` and the numbers beside it, and undoes a move by the inverse steps.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from .. import metrics
from ..channels import DEFAULTS as CHANNEL_DEFAULTS, items
from ..clock import UtcTime
from ..config import QueueConfig, WallboardConfig
from ..snapshot import Snapshot
from .erlang import ErlangA, agents_for_sl, erlang_a, smallest_n
from .estimates import QueueEstimate

DEFAULT_TARGET_SL = 0.80
STAFFED_STATES = ("available", "ringing", "on_call", "wrap_up")
_STATE_ORDER = {"available": 0, "wrap_up": 1, "ringing": 2, "on_call": 3}
_ROUNDS = 8  # fixed-point rounds for the backups' availability
_TOL = 1e-9

Status = Literal["short", "ok", "slack", "no_estimate", "closed"]


class _M(BaseModel):
    model_config = ConfigDict(extra="forbid")


class QueueAdvice(_M):
    queue: str
    label: str
    status: Status
    reason: str | None = Field(None, description="Why there are no figures (status no_estimate / closed).")
    model: str | None = Field(
        None,
        description="'Erlang A' or 'Erlang C (patience unknown)'; on a written channel 'capacity: N chats per "
        "agent, Erlang A on slots' (an agent holds N conversations at once).",
    )
    model_short: str | None = Field(
        None,
        description="The model in a table's cell: 'Erlang A', 'Erlang C', or on a written channel 'Erlang A on "
        "slots, N chats/agent'.",
    )
    target_sl: float
    floor_sl: float = Field(description="The breach level: no move may take the queue below it.")
    sl_threshold_s: float
    sl_formula: str
    rate_per_h: float | None = None
    aht_s: float | None = None
    patience_s: float | None = None
    load_erlangs: float | None = None
    calls_n: int = Field(0, description="Callers who joined in the history (the rate rests on them).")
    completed_n: int = Field(0, description="Completed calls the handle time rests on.")
    abandons_n: int = Field(0, description="Abandons the patience rests on.")
    staffed: int = Field(description="Logged in, not paused, members of the queue.")
    first_choice: int = Field(0, description="Of those, members at their lowest penalty.")
    effective: float = Field(0, description="Staffed agents as servers of this queue (backups count a share).")
    required: int | None = Field(None, description="Fewest agents (servers) for the target, by the model.")
    short_by: int = 0
    spare: int = Field(0, description="Whole agents that could leave with the SL still at or above the floor.")
    model_sl: float | None = Field(None, description="Projected SL with the effective staffing now.")
    model_asa_s: float | None = None
    model_abandon: float | None = None
    live_sl: float | None = Field(None, description="The board's rolling SL.")
    waiting: int = 0
    note: str | None = Field(
        None,
        description="Why the model's SL and the live one differ, when the model foresees it: an overloaded "
        "queue (more arrive than its servers serve) whose steady state the live figure has not reached.",
    )

    def effective_text(self) -> str:
        """The effective staffing to one decimal, rounded down, so that it reads as the status says: 8.96
        against 9 required is short by 1, and shows 8.9, not 9.0. '-' without a model."""
        if not self.model:
            return "-"
        return f"{math.floor(self.effective * 10 + _TOL) / 10:.1f}"


class MoveStep(_M):
    """One change, in the fields of the ``move`` action's request (``wallboard.actions.model.Move``)."""

    queue: str
    op: Literal["add", "remove", "penalty"]
    penalty: int = 0

    def request_fields(self, agent: str) -> dict:
        """The ``move`` request for this step, without ``user`` and ``token`` (the screen adds them)."""
        return {"type": "move", "agent": agent, "queue": self.queue, "op": self.op, "penalty": self.penalty}


class Move(_M):
    agent: str
    agent_name: str
    agent_state: str
    kind: Literal["move", "penalty"]
    from_queue: str
    to_queue: str
    from_label: str
    to_label: str
    steps: list[MoveStep]
    to_sl_before: float
    to_sl_after: float
    from_sl_before: float
    from_sl_after: float
    to_effective_after: float
    from_effective_after: float
    gain_per_h: float = Field(description="Calls per hour answered within threshold gained, each queue up to target.")
    effects: dict[str, tuple[float, float]] = Field(
        default_factory=dict, description="Every queue whose projected SL moves: (before, after)."
    )
    text: str


class Advice(_M):
    at: UtcTime
    queues: dict[str, QueueAdvice]
    moves: list[Move] = Field(default_factory=list, description="Ranked, best first; each from the state now.")
    plan: list[Move] = Field(default_factory=list, description="Greedy sequence of moves, each after those above.")
    notes: list[str] = Field(default_factory=list)
    basis: str = Field("", description="The calls the estimates rest on, in words ('the last 60 min of calls').")


# ---- targets and queue models --------------------------------------------------------------------------


def sl_target(cfg: QueueConfig) -> tuple[float, float]:
    """(target, floor): the service_level threshold's warn and breach levels (direction 'below'); else 0.80 and
    the target itself."""
    t = cfg.thresholds.get("service_level")
    target = DEFAULT_TARGET_SL
    floor: float | None = None
    if t is not None and t.direction == "below":
        if t.warn is not None:
            target = t.warn
        floor = t.breach
    if floor is None or floor > target:
        floor = target
    return target, floor


@dataclass
class QueueModel:
    """One queue's Erlang A (or C) model: projected figures for any, also fractional, staffing."""

    cfg: QueueConfig
    rate: float  # per second
    aht: float
    patience: float  # inf: Erlang C
    _cache: dict[int, ErlangA] = field(default_factory=dict, repr=False)
    _sl: dict[int, float] = field(default_factory=dict, repr=False)

    slots: int = 1  # conversations one agent holds at once (a written channel's capacity): servers = n x slots

    def model(self, n: int) -> ErlangA:
        m = self._cache.get(n)
        if m is None:
            m = self._cache[n] = erlang_a(max(n, 0) * self.slots, self.rate, self.aht, self.patience)
        return m

    def sl_n(self, n: int) -> float:
        v = self._sl.get(n)
        if v is None:
            c = self.model(n).counters(self.cfg.sl_threshold_s, self.cfg.short_abandon_s)
            r = metrics.service_level(c, self.cfg.sl_formula, self.cfg.count_overflow).value
            v = self._sl[n] = 0.0 if r is None else r
        return v

    def _interp(self, x: float, f) -> float:
        x = max(0.0, x)
        lo = math.floor(x + _TOL)
        frac = x - lo
        if frac <= _TOL:
            return f(lo)
        return f(lo) + frac * (f(lo + 1) - f(lo))

    def sl(self, x: float) -> float:
        return self._interp(x, self.sl_n)

    def p_wait(self, x: float) -> float:
        return self._interp(x, lambda n: self.model(n).p_wait)

    def required(self, target: float) -> int:
        a = self.rate * self.aht
        start = agents_for_sl(a, self.aht, self.cfg.sl_threshold_s, target) if a > 0 else 0
        return smallest_n(lambda n: self.sl_n(n) >= target - _TOL, start // self.slots)


def _span(seconds: float) -> str:
    """A threshold in words: 4 h, 15 min, 60 s."""
    if seconds >= 3600:
        return f"{seconds / 3600:g} h"
    return f"{seconds / 60:g} min" if seconds >= 60 else f"{seconds:g} s"


def overload_note(m: QueueModel, eff: float, channel: str, model_sl: float) -> str | None:
    """Why the live SL reads better than the model's, for a queue whose arrivals reach what its servers serve
    (load >= servers: no steady state short of the queue growing, or of callers giving up); None otherwise.
    The model is the steady state; the live SL counts only those already answered in its window, so while the
    queue is still filling it reads high: an e-mail is within its 4 h until it has waited 4 h, whatever the
    backlog's growth (the demo's e-mail at 100 % live against 0 % modelled)."""
    servers = eff * m.slots
    if m.rate <= 0 or m.rate * m.aht < servers - _TOL:
        return None
    unit = items(channel)
    rate_h, served_h = m.rate * 3600, servers * 3600 / m.aht
    threshold = _span(m.cfg.sl_threshold_s)
    served = (
        f"{servers:.0f} slots ({math.floor(eff * 10 + _TOL) / 10:.1f} agents x {m.slots})"
        if m.slots > 1
        else f"{math.floor(eff * 10 + _TOL) / 10:.1f} agents"
    )
    head = (
        f"overloaded: {rate_h:.0f} {unit}/h arrive, {served} serve {served_h:.0f}/h at {m.aht:.0f} s each; "
        f"the model's {_pct(model_sl)} is the steady state this leads to"
    )
    if math.isinf(m.patience):
        return (
            f"{head}: with nobody giving up the backlog grows by {rate_h - served_h:.0f}/h and in time every "
            f"one waits past {threshold}. The live SL counts those already answered and stays high until their "
            f"waits reach {threshold} (the oldest waiting shows how near)"
        )
    return (
        f"{head}: the excess give up or wait past {threshold}. The live SL, of those already answered, lags "
        "while the queue fills"
    )


def _slots(snapshot: Snapshot, config: WallboardConfig, queue: str, channel: str) -> int:
    """Conversations one agent of a written queue holds at once: the median capacity there of its members
    (the channel's default when it has none); 1 on voice."""
    if channel == "voice":
        return 1
    caps = sorted(
        a.capacity[channel] for a in snapshot.agents.values() if queue in a.queues and a.capacity.get(channel)
    )
    return max(1, caps[len(caps) // 2]) if caps else CHANNEL_DEFAULTS[channel].capacity


def _label(config: WallboardConfig, q: str) -> str:
    return config.queue(q).label or q


def _pct(v: float | None) -> str:
    return "-" if v is None else f"{v * 100:.0f}%"


def _primary(queues: dict[str, int]) -> set[str]:
    if not queues:
        return set()
    best = min(queues.values())
    return {q for q, p in queues.items() if p == best}


def effective_staffing(members: dict[str, dict[str, int]], models: dict[str, QueueModel]) -> dict[str, float]:
    """Servers per queue: 1 per member at the agent's lowest penalty; a backup membership counts the product of
    (1 - P(wait)) over the agent's better queues (fixed point). ``members``: staffed agents only."""
    busy: dict[str, float] = {}
    eff: dict[str, float] = {}
    for _ in range(_ROUNDS):
        eff = {}
        for qs in members.values():
            if not qs:
                continue
            best = min(qs.values())
            for q, p in qs.items():
                share = 1.0
                if p != best:
                    for q2, p2 in qs.items():
                        if p2 < p:
                            share *= 1.0 - busy.get(q2, 0.0)
                eff[q] = eff.get(q, 0.0) + share
        new = {q: m.p_wait(eff.get(q, 0.0)) for q, m in models.items()}
        if new == busy:
            break
        busy = {q: 0.5 * (v + busy[q]) if q in busy else v for q, v in new.items()}  # damped
    return eff


# ---- advice --------------------------------------------------------------------------------------------


@dataclass
class _State:
    members: dict[str, dict[str, int]]  # staffed agents -> queue -> penalty
    eff: dict[str, float]
    sl: dict[str, float]


def _state(members, models) -> _State:
    eff = effective_staffing(members, models)
    return _State(members, eff, {q: m.sl(eff.get(q, 0.0)) for q, m in models.items()})


def advise(
    snapshot: Snapshot,
    estimates: dict[str, QueueEstimate],
    config: WallboardConfig,
    *,
    max_moves: int = 20,
    max_plan: int = 20,
    min_gain_per_h: float = 0.5,
) -> Advice:
    """Agents required against staffed per queue, ranked moves and a greedy plan. Pure. A move is listed only
    when it gains at least ``min_gain_per_h`` calls per hour answered within threshold (see the ranking)."""
    members = {a: dict(s.queues) for a, s in snapshot.agents.items() if s.state in STAFFED_STATES}
    models: dict[str, QueueModel] = {}
    info: dict[str, dict] = {}
    notes: list[str] = []
    for name, qs in snapshot.queues.items():
        cfg = config.queue(name)
        target, floor = sl_target(cfg)
        est = estimates.get(name)
        staffed = sum(1 for m in members.values() if name in m)
        first = sum(1 for m in members.values() if name in _primary(m))
        base: dict = dict(
            queue=name,
            label=_label(config, name),
            target_sl=target,
            floor_sl=floor,
            sl_threshold_s=cfg.sl_threshold_s,
            sl_formula=cfg.sl_formula,
            staffed=staffed,
            first_choice=first,
            live_sl=qs.rolling.service_level,
            waiting=qs.waiting,
        )
        if est is not None:
            base.update(calls_n=est.arrival_rate_per_s.n, completed_n=est.aht_s.n, abandons_n=est.patience_s.n)
        info[name] = base
        if not qs.open:
            base.update(status="closed", reason="closed by its business hours")
            continue
        if est is None or est.rate is None or est.aht is None:
            if est is None:
                why = "no estimates"
            elif est.rate is None:
                r = est.arrival_rate_per_s
                why = f"too few calls for an arrival rate ({r.n} < {r.minimum})"
            else:
                why = f"too few completed calls for a handle time ({est.aht_s.n} < {est.aht_s.minimum})"
            base.update(status="no_estimate", reason=why)
            notes.append(f"{base['label']}: no figures, {why}")
            continue
        patience = est.patience if est.patience is not None else math.inf
        named = "Erlang A" if math.isfinite(patience) else "Erlang C"
        erlang = named if math.isfinite(patience) else "Erlang C (patience unknown)"
        slots = _slots(snapshot, config, name, cfg.channel)
        models[name] = QueueModel(cfg, est.rate, est.aht, patience, slots=slots)
        voice = cfg.channel == "voice"
        base.update(
            # concurrent conversations: an agent is not one server; the model runs on slots (agents x capacity)
            model=erlang if voice else f"capacity: {slots} {items(cfg.channel)} per agent, {erlang} on slots",
            model_short=named if voice else f"{named} on slots, {slots} {items(cfg.channel)}/agent",
            rate_per_h=est.rate * 3600,
            aht_s=est.aht,
            patience_s=est.patience,
            load_erlangs=est.rate * est.aht,
            required=models[name].required(target),
        )

    now = _state(members, models)
    queues: dict[str, QueueAdvice] = {}
    for name, base in info.items():
        if name in models:
            m, eff = models[name], now.eff.get(name, 0.0)
            req = base["required"]
            short = eff < req - _TOL
            spare = 0
            while not short and spare < math.floor(eff + _TOL) and m.sl(eff - spare - 1) >= base["floor_sl"] - _TOL:
                spare += 1
            near = m.model(math.floor(eff + 0.5))
            base["note"] = overload_note(m, eff, config.queue(name).channel, now.sl[name])
            base.update(
                status="short" if short else ("slack" if eff >= req + 1 - _TOL else "ok"),
                effective=round(eff, 3),
                short_by=math.ceil(req - eff - _TOL) if short else 0,
                spare=spare,
                model_sl=now.sl[name],
                model_asa_s=near.asa if math.isfinite(near.asa) else None,
                model_abandon=near.p_abandon,
            )
        queues[name] = QueueAdvice(**base)

    moves = _moves(snapshot, config, models, queues, now, set(), min_gain_per_h)
    plan: list[Move] = []
    state, used = now, set()
    for _ in range(max_plan):
        cand = _moves(snapshot, config, models, queues, state, used, min_gain_per_h)
        if not cand:
            break
        best = cand[0]
        plan.append(best)
        used.add(best.agent)
        new_members = {a: dict(q) for a, q in state.members.items()}
        _apply(new_members[best.agent], best.steps)
        state = _state(new_members, models)
    short = [q.label for q in queues.values() if q.status == "short"]
    if short and not moves:
        notes.append(
            f"short: {', '.join(short)}; no move gains: no agent skilled for it can be spared without "
            "taking a queue below its floor, or those skilled already serve it as backups"
        )
    longest = max(estimates.values(), key=lambda e: e.history_s, default=None)
    return Advice(
        at=snapshot.at,
        queues=queues,
        moves=moves[:max_moves],
        plan=plan,
        notes=notes,
        basis=longest.basis if longest is not None else "",
    )


def _apply(queues_of: dict[str, int], steps: list[MoveStep]) -> None:
    for s in steps:
        if s.op == "remove":
            queues_of.pop(s.queue, None)
        else:
            queues_of[s.queue] = s.penalty


def _value(models, queues, sl: dict[str, float]) -> float:
    """Calls per hour answered within threshold, each queue counted up to its target."""
    return sum(m.rate * 3600 * min(sl[q], queues[q].target_sl) for q, m in models.items())


def _moves(snapshot, config, models, queues, state: _State, used: set[str], min_gain: float) -> list[Move]:
    """Every single move with a gain from ``state``, ranked best first."""
    cfg_skills = {a.id: a.skills for a in config.agents}
    short = [q for q, m in models.items() if state.eff.get(q, 0.0) < queues[q].required - _TOL]
    if not short:
        return []
    base_value = _value(models, queues, state.sl)
    out: list[tuple[tuple, Move]] = []
    for agent, mine in state.members.items():
        if agent in used:
            continue
        prim = _primary(mine)
        if not prim:
            continue
        snap = snapshot.agents[agent]
        best_pen = min(mine.values())
        for t in short:
            if t in prim or not (t in mine or t in cfg_skills.get(agent, {})):
                continue
            for s in sorted(prim):
                if s not in models or state.eff.get(s, 0.0) < queues[s].required - _TOL:
                    continue  # a source needs figures, and must not be short itself
                if t in mine:
                    kind: Literal["move", "penalty"] = "penalty"
                    steps = [
                        MoveStep(queue=t, op="penalty", penalty=best_pen),
                        MoveStep(queue=s, op="penalty", penalty=mine[t]),
                    ]
                else:
                    kind = "move"
                    steps = [MoveStep(queue=t, op="add", penalty=best_pen), MoveStep(queue=s, op="remove")]
                new_members = {a: dict(q) for a, q in state.members.items()}
                _apply(new_members[agent], steps)
                after = _state(new_members, models)
                breach = [
                    q
                    for q in models
                    if state.sl[q] >= queues[q].floor_sl - _TOL and after.sl[q] < queues[q].floor_sl - _TOL
                ]
                if breach:
                    continue  # never a move that takes a queue into breach
                gain = _value(models, queues, after.sl) - base_value
                if gain < max(min_gain, _TOL):
                    continue
                name = snap.name or agent
                sl_, tl = _label(config, s), _label(config, t)
                how = " (penalty swap)" if kind == "penalty" else ""
                text = (
                    f"Move {name}{how}: {sl_} → {tl}; {tl} SL {_pct(state.sl[t])} → {_pct(after.sl[t])}, "
                    f"{sl_} {_pct(state.sl[s])} → {_pct(after.sl[s])}"
                )
                effects = {q: (state.sl[q], after.sl[q]) for q in models if abs(after.sl[q] - state.sl[q]) > 1e-6}
                mv = Move(
                    agent=agent,
                    agent_name=name,
                    agent_state=snap.state,
                    kind=kind,
                    from_queue=s,
                    to_queue=t,
                    from_label=sl_,
                    to_label=tl,
                    steps=steps,
                    to_sl_before=state.sl[t],
                    to_sl_after=after.sl[t],
                    from_sl_before=state.sl[s],
                    from_sl_after=after.sl[s],
                    to_effective_after=round(after.eff.get(t, 0.0), 3),
                    from_effective_after=round(after.eff.get(s, 0.0), 3),
                    gain_per_h=gain,
                    effects=effects,
                    text=text,
                )
                key = (-round(gain, 6), kind != "penalty", _STATE_ORDER.get(snap.state, 9), name, agent)
                out.append((key, mv))
    out.sort(key=lambda x: x[0])
    return [mv for _, mv in out]
