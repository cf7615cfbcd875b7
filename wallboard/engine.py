"""The engine: applies events to Redis exactly once (by meaning) and builds snapshots from what is there.

Applying a batch: events are grouped by partition (queue, or agent for agent-only events); each queue's call
transitions go to ``queue_batch.lua`` in that queue's slot (up to ``engine.batch_size`` per call, all queues in
one pipelined round trip); the agent side (calls handled, missed, dials, state, membership) then goes to
``agent_batch.lua`` in each agent's slot, in the original order, and always runs even when the queue step
reported a duplicate (both steps are idempotent on their own).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Iterable

import redis.asyncio as aredis

from . import metrics
from .config import WallboardConfig
from .events import (
    AGENT_STATES,
    OVERFLOW_REASONS,
    QUEUE_CALL_EVENTS,
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
    MemberAdded,
    MemberPenalty,
    MemberRemoved,
    OutboundCall,
    SpyChanged,
    WaitingResync,
    WrapupCompleted,
    FeedGap,
    utc,
)
from .feed import DeadLetter
from .keys import Keys
from .snapshot import (
    AgentCounts,
    AgentSnapshot,
    Callback,
    Caller,
    Explain,
    QueueSnapshot,
    Rolling,
    Snapshot,
    Total,
    Window,
)
from .store import Scripts
from .thresholds import LevelState, agent_alerts, evaluate_queue
from .windows import Windows

_INT_COUNTERS = {c for c in metrics.COUNTERS if not c.endswith("_s")}  # sums of seconds are floats


@dataclass
class ApplyResult:
    applied: int = 0
    duplicates: int = 0
    events: int = 0
    last_ts: float | None = None


def mask_number(number: str | None, keep: int) -> str | None:
    if not number:
        return number
    if keep <= 0:
        return "***"
    return "***" + number[-keep:] if len(number) > keep else "***" + number


@dataclass
class _Seen:
    queues: set[str] = field(default_factory=set)
    agents: set[str] = field(default_factory=set)


class Engine:
    def __init__(
        self,
        client: aredis.Redis,
        config: WallboardConfig,
        keys: Keys | None = None,
        window_mode: str = "since_reset",
        feed_name: str = "",
    ):
        self.r = client
        self.config = config
        self.keys = keys or Keys(config.redis.prefix)
        self.windows = Windows(config.centre, window_mode)
        self.scripts = Scripts()
        self.feed_name = feed_name
        self._seen = _Seen()
        self._queue_params: dict[str, str] = {}
        self.exp_s = int(config.centre.entry_expiry_h * 3600)
        self.bexp_s = int(config.centre.bucket_expiry_h * 3600)

    async def start(self) -> None:
        await self.scripts.load(self.r)

    # ---- applying -------------------------------------------------------------------------------------

    def _qparams(self, queue: str, pos: str) -> str:
        q = self.config.queue(queue)
        return json.dumps(
            {"sl": q.sl_threshold_s, "sh": q.short_abandon_s, "exp": self.exp_s, "bexp": self.bexp_s,
             "feed": self.feed_name, "pos": pos}
        )  # fmt: skip

    def _queue_record(self, ev, t: float) -> dict | None:
        if isinstance(ev, WaitingResync):
            return {"k": "R", "t": t, "ids": ev.call_ids}
        if not isinstance(ev, QUEUE_CALL_EVENTS):
            return None
        rec: dict = {"c": ev.call_id, "t": t, "win": self.windows.window_id(t), "min": Windows.minute(t)}
        if isinstance(ev, CallerJoined):
            rec["k"] = "J"
            if ev.caller:
                rec["cl"] = ev.caller
        elif isinstance(ev, CallerAnswered):
            rec["k"] = "A"
            if ev.agent:
                rec["ag"] = ev.agent
        elif isinstance(ev, CallerAbandoned):
            rec["k"] = "X"
        elif isinstance(ev, CallerOverflowed):
            rec["k"], rec["r"] = "O", ev.reason
        elif isinstance(ev, CallbackRequested):
            rec["k"], rec["r"] = "O", "callback"
        elif isinstance(ev, CallCompleted):
            rec["k"], rec["tk"] = "C", ev.talk_s
        elif isinstance(ev, WrapupCompleted):
            rec["k"], rec["wr"] = "W", ev.wrap_s
        elif isinstance(ev, CallbackDone):
            rec["k"] = "D"
        else:
            return None
        w = getattr(ev, "wait_s", None)
        if w is not None:
            rec["w"] = w
        return rec

    def _agent_record(self, ev, t: float) -> dict | None:
        if isinstance(ev, AgentStateChanged):
            rec = {"k": "S", "t": t, "st": ev.state}
            if ev.reason:
                rec["r"] = ev.reason
            if ev.queue:
                rec["q"] = ev.queue
            if ev.call_id:
                rec["c"] = ev.call_id
            return rec
        if isinstance(ev, SpyChanged):
            return {"k": "SP", "t": t, "by": ev.by, "on": 1 if ev.active else 0, "mode": ev.mode}
        if isinstance(ev, MemberAdded):
            return {"k": "MA", "t": t, "q": ev.queue, "p": ev.penalty}
        if isinstance(ev, MemberPenalty):
            return {"k": "MP", "t": t, "q": ev.queue, "p": ev.penalty}
        if isinstance(ev, MemberRemoved):
            return {"k": "MR", "t": t, "q": ev.queue}
        base = {"t": t, "c": ev.call_id, "win": self.windows.window_id(t), "min": Windows.minute(t)}
        if isinstance(ev, AgentMissed):
            ring_start = t - (ev.ring_s or 0)
            return {**base, "k": "MS", "q": ev.queue, "rs": int(ring_start)}
        if isinstance(ev, DialAttempt):
            return {**base, "k": "DA"}
        if isinstance(ev, OutboundCall):
            return {**base, "k": "OC"}
        return None

    async def _register(self, queues: Iterable[str], agents: Iterable[str]) -> None:
        new_q = [q for q in queues if q not in self._seen.queues]
        new_a = [a for a in agents if a not in self._seen.agents]
        if not new_q and not new_a:
            return
        pipe = self.r.pipeline(transaction=False)
        if new_q:
            pipe.sadd(self.keys.queues, *new_q)
        if new_a:
            pipe.sadd(self.keys.agents, *new_a)
        await pipe.execute()
        self._seen.queues.update(new_q)
        self._seen.agents.update(new_a)

    async def apply(self, events: list, cursor: str = "") -> ApplyResult:
        """Apply events (in source order). Safe to call again with the same events: nothing moves twice."""
        res = ApplyResult(events=len(events))
        if not events:
            return res
        by_queue: dict[str, list[tuple[int, dict, object]]] = {}
        agent_items: dict[str, list[tuple[int, dict]]] = {}
        gaps: list[FeedGap] = []
        epochs = []
        for i, ev in enumerate(events):
            t = ev.ts.timestamp()
            epochs.append(t)
            if isinstance(ev, FeedGap):
                gaps.append(ev)
                continue
            rec = self._queue_record(ev, t)
            if rec is not None:
                by_queue.setdefault(ev.queue, []).append((i, rec, ev))
                continue
            arec = self._agent_record(ev, t)
            if arec is not None:
                agent_items.setdefault(ev.agent, []).append((i, arec))
        res.last_ts = max(epochs)
        if gaps:
            await self.r.zadd(self.keys.gaps, {json.dumps({"start": utc(g.start), "length_s": g.length_s,
                                                           "feed": g.feed}): g.start.timestamp() for g in gaps})  # fmt: skip
        await self._register(by_queue, [*agent_items, *(getattr(e, "agent", None) or "" for e in events)])
        if "" in self._seen.agents:
            self._seen.agents.discard("")
            await self.r.srem(self.keys.agents, "")

        # queue step: all queues, chunked, one round trip
        calls, owners = [], []
        bs = self.config.engine.batch_size
        for queue, items in by_queue.items():
            base = self.keys.queue(queue)
            params = self._qparams(queue, cursor)
            for k in range(0, len(items), bs):
                chunk = items[k : k + bs]
                calls.append(("queue_batch", base, (params, json.dumps([r for _, r, _ in chunk]))))
                owners.append(chunk)
        results = await self.scripts.run_pipeline(self.r, calls) if calls else []
        for chunk, out in zip(owners, results):
            for (i, rec, ev), (dup, join) in zip(chunk, json.loads(out)):
                if dup:
                    res.duplicates += 1
                else:
                    res.applied += 1
                # the agent side of an answer: counted once per (call, queue entry), in the agent's slot
                if rec["k"] == "A" and getattr(ev, "agent", None):
                    agent_items.setdefault(ev.agent, []).append(
                        (i, {"k": "H", "t": rec["t"], "c": ev.call_id, "q": ev.queue, "j": join,
                             "win": rec["win"], "min": rec["min"]})
                    )  # fmt: skip

        # agent step: each agent's items in source order
        if agent_items:
            lo, hi = min(epochs), max(epochs)
            bounds = self.windows.bounds(lo - self.bexp_s, hi)
            aparams = json.dumps({"exp": self.exp_s, "bexp": self.bexp_s, "bounds": bounds})
            acalls = []
            for agent, items in agent_items.items():
                items.sort(key=lambda x: x[0])
                recs = [r for _, r in items]
                base = self.keys.agent(agent)
                for k in range(0, len(recs), bs):
                    acalls.append(("agent_batch", base, (aparams, json.dumps(recs[k : k + bs]))))
            for dups in await self.scripts.run_pipeline(self.r, acalls):
                res.duplicates += int(dups)
        return res

    async def dead_letters(self, items: list[DeadLetter]) -> None:
        """Record rejected input with its reason and position; counted."""
        if not items:
            return
        pipe = self.r.pipeline(transaction=False)
        for d in items:
            pipe.xadd(self.keys.deadletter, {"source": d.source, "reason": d.reason, "raw": d.raw[:4000]},
                      maxlen=100_000, approximate=True)  # fmt: skip
        pipe.incrby(self.keys.dlcount, len(items))
        await pipe.execute()

    # ---- snapshots ------------------------------------------------------------------------------------

    async def queue_names(self) -> list[str]:
        names = {q.name for q in self.config.queues} | set(await self.r.smembers(self.keys.queues))
        order = [q.name for q in self.config.queues]
        return order + sorted(names - set(order))

    async def agent_ids(self) -> list[str]:
        ids = {a.id for a in self.config.agents} | set(await self.r.smembers(self.keys.agents))
        order = [a.id for a in self.config.agents]
        return order + sorted(ids - set(order))

    async def build_snapshot(self, now: datetime, seq: int = 0) -> Snapshot:
        """Read the state at ``now`` and compute every figure (no writes)."""
        tnow = now.timestamp()
        wid = self.windows.window_id(tnow)
        win_start = self.windows.window_start(tnow)
        minutes = self.windows.rolling_minutes_at(tnow)
        roll_since = utc(datetime.fromtimestamp(minutes[0] if minutes else tnow, timezone.utc))
        queues = await self.queue_names()
        agents = await self.agent_ids()
        wlabel = "all input" if wid == "all" else f"since reset {utc(win_start)}"

        pipe = self.r.pipeline(transaction=False)
        for q in queues:
            b = self.keys.queue(q)
            pipe.hgetall(f"{b}:w:{wid}")
            for m in minutes:
                pipe.hgetall(f"{b}:m:{m}")
            pipe.zrange(f"{b}:waiting", 0, -1, withscores=True)
            pipe.hgetall(f"{b}:callers")
            pipe.zrange(f"{b}:callbacks", 0, -1, withscores=True)
            pipe.hget(f"{b}:stats", "duplicates")
        for a in agents:
            b = self.keys.agent(a)
            pipe.hgetall(f"{b}:state")
            pipe.hgetall(f"{b}:queues")
            pipe.hgetall(f"{b}:qts")
            pipe.hgetall(f"{b}:w:{wid}")
        pipe.get(self.keys.dlcount)
        pipe.zrangebyscore(self.keys.gaps, win_start.timestamp() if win_start else "-inf", "+inf")
        raw = await pipe.execute()
        pos = 0

        qdata = {}
        for q in queues:
            win = raw[pos]
            rolls = raw[pos + 1 : pos + 1 + len(minutes)]
            pos += 1 + len(minutes)
            waiting, callers, callbacks, dups = raw[pos : pos + 4]
            pos += 4
            qdata[q] = (win, rolls, waiting, callers, callbacks, dups)

        cfg_agents = {a.id: a for a in self.config.agents}
        agent_snaps: dict[str, AgentSnapshot] = {}
        members: dict[str, dict[str, int]] = {}
        for a in agents:
            st, qs, qts, win = raw[pos : pos + 4]
            pos += 4
            queues_of = dict(cfg_agents[a].skills) if a in cfg_agents else {}
            for q in qts:  # a membership event seen for this queue overrides the configured skills
                if q in qs:
                    queues_of[q] = int(float(qs[q]))
                else:
                    queues_of.pop(q, None)
            members[a] = queues_of
            agent_snaps[a] = self._agent_snapshot(a, cfg_agents.get(a), st, queues_of, win, tnow, win_start)
        dlcount = int(raw[pos] or 0)
        gaps = [json.loads(g) for g in raw[pos + 1]]

        qsnaps = {q: self._queue_snapshot(q, *qdata[q], agent_snaps, members, tnow, roll_since, wlabel)
                  for q in queues}  # fmt: skip
        total = self._total(qsnaps, agent_snaps, members, roll_since, wlabel)
        window = Window(kind="all", since=None) if wid == "all" else Window(kind="since_reset", since=utc(win_start))
        return Snapshot(
            seq=seq,
            at=utc(now),
            centre=self.config.centre.name,
            timezone=self.config.centre.timezone,
            window=window,
            queues=qsnaps,
            total=total,
            agents=agent_snaps,
            dead_letters=dlcount,
            gaps=gaps,
        )

    @staticmethod
    def _counters(h: dict) -> dict[str, float]:
        out: dict[str, float] = {}
        for k, v in h.items():
            out[k] = float(v)
        return out

    def _figures(self, c: dict[str, float], formula: str, count_overflow: bool, window: str) -> tuple[dict, dict]:
        """Counters and ratios of one window, and how each ratio was computed."""
        fig: dict = {k: (int(c.get(k, 0)) if k in _INT_COUNTERS else c.get(k, 0.0)) for k in metrics.COUNTERS}
        fig["offered"] = int(metrics.offered(c))
        fig["overflowed_by_reason"] = {
            r: int(c[f"overflowed:{r}"]) for r in OVERFLOW_REASONS if c.get(f"overflowed:{r}")
        }
        ratios = {
            "service_level": metrics.service_level(c, formula, count_overflow),
            "asa_s": metrics.asa_s(c),
            "avg_wait_s": metrics.avg_wait_s(c),
            "abandon_rate": metrics.abandon_rate(c),
            "aht_s": metrics.aht_s(c),
        }
        explain = {}
        for name, r in ratios.items():
            fig[name] = r.value
            explain[name] = Explain(formula=r.formula, numerator=r.numerator, denominator=r.denominator, window=window)
        return fig, explain

    def _queue_snapshot(self, q, win, rolls, waiting, callers, callbacks, dups, agents, members, tnow,
                        roll_since, wid) -> QueueSnapshot:  # fmt: skip
        cfg = self.config.queue(q)
        c = self._counters(win)
        fig, explain = self._figures(c, cfg.sl_formula, cfg.count_overflow, wid)
        rc: dict[str, float] = {}
        for h in rolls:
            for k, v in h.items():
                if k != "peak_waiting":
                    rc[k] = rc.get(k, 0.0) + float(v)
        rfig, rexplain = self._figures(rc, cfg.sl_formula, cfg.count_overflow, f"rolling {roll_since}")
        for k, v in rexplain.items():
            explain[f"rolling.{k}"] = v
        keep = self.config.centre.mask_keep_digits
        mask = self.config.centre.mask_callers
        caller_list = [
            Caller(
                call_id=cid,
                entered_at=utc(datetime.fromtimestamp(j, timezone.utc)),
                wait_s=round(max(0.0, tnow - j), 3),
                caller=mask_number(callers.get(cid), keep) if mask else callers.get(cid),
            )
            for cid, j in waiting
        ]
        cb_list = [
            Callback(call_id=cid, entered_at=utc(datetime.fromtimestamp(j, timezone.utc)), age_s=round(tnow - j, 3))
            for cid, j in callbacks
        ]
        counts = self._agent_counts(q, agents, members)
        serving = counts.logged_in - counts.paused
        return QueueSnapshot(
            **fig,
            label=cfg.label,
            sl_formula=cfg.sl_formula,
            sl_threshold_s=cfg.sl_threshold_s,
            short_abandon_s=cfg.short_abandon_s,
            count_overflow=cfg.count_overflow,
            waiting=len(caller_list),
            longest_wait_s=max((x.wait_s for x in caller_list), default=None),
            ewt_s=metrics.ewt_s(len(caller_list), fig["aht_s"], serving),
            callbacks_pending=len(cb_list),
            oldest_callback_s=max((x.age_s for x in cb_list), default=None),
            callers=caller_list,
            callbacks=cb_list,
            agent_counts=counts,
            rolling=Rolling(minutes=self.config.centre.rolling_minutes, since=roll_since, **rfig),
            explain=explain,
            levels={m: "ok" for m in cfg.thresholds},
            duplicates=int(dups or 0),
        )

    @staticmethod
    def _count(counts: AgentCounts, a: AgentSnapshot) -> None:
        if a.state == "logged_out":
            counts.logged_out += 1
            return
        counts.logged_in += 1
        setattr(counts, a.state, getattr(counts, a.state) + 1)
        if a.state == "paused":
            r = a.reason or "none"
            counts.paused_by_reason[r] = counts.paused_by_reason.get(r, 0) + 1

    def _agent_counts(self, q, agents, members) -> AgentCounts:
        counts = AgentCounts()
        for a, snap in agents.items():
            if q in members[a]:
                self._count(counts, snap)
        return counts

    def _total(self, qsnaps: dict[str, QueueSnapshot], agents, members, roll_since, wid) -> Total:
        """Sums of queue entries; SL as the sum of numerators over the sum of denominators; agents once."""
        def summed(parts):
            c: dict = {k: 0 for k in metrics.COUNTERS}
            by_reason: dict[str, int] = {}
            num = den = 0.0
            for part, ex in parts:
                for k in metrics.COUNTERS:
                    c[k] += getattr(part, k)
                for r, n in part.overflowed_by_reason.items():
                    by_reason[r] = by_reason.get(r, 0) + n
                num += ex.numerator
                den += ex.denominator
            fig, explain = self._figures({k: float(v) for k, v in c.items()}, "answered", False, wid)
            fig.update({k: c[k] for k in metrics.COUNTERS})
            fig["overflowed_by_reason"] = by_reason
            fig["service_level"] = num / den if den else None
            explain["service_level"] = Explain(
                formula="sum of queue SL numerators / sum of queue SL denominators (each by its own formula)",
                numerator=num, denominator=den, window=wid)  # fmt: skip
            return fig, explain

        fig, explain = summed((s, s.explain["service_level"]) for s in qsnaps.values())
        rfig, _ = summed((s.rolling, s.explain["rolling.service_level"]) for s in qsnaps.values())
        counts = AgentCounts()
        for a, snap in agents.items():
            if members[a] or snap.state != "logged_out":
                self._count(counts, snap)
        return Total(
            **fig,
            waiting=sum(s.waiting for s in qsnaps.values()),
            longest_wait_s=max((s.longest_wait_s for s in qsnaps.values() if s.longest_wait_s is not None),
                               default=None),  # fmt: skip
            callbacks_pending=sum(s.callbacks_pending for s in qsnaps.values()),
            agent_counts=counts,
            rolling=Rolling(minutes=self.config.centre.rolling_minutes, since=roll_since, **rfig),
            explain=explain,
        )

    def _agent_snapshot(self, aid, cfg, st, queues_of, win, tnow, win_start) -> AgentSnapshot:
        w = self._counters(win)
        state = st.get("state") or "logged_out"
        since = float(st["since"]) if st.get("since") else None
        reason = st.get("reason") or None
        secs = {s: w.get(f"{s}_s", 0.0) for s in AGENT_STATES if s != "logged_out"}
        by_reason = {k.split(":", 1)[1]: v for k, v in w.items() if k.startswith("paused_s:")}
        if since is not None and state != "logged_out":
            # the open interval counts up to now (clipped to the window start)
            start = max(since, win_start.timestamp()) if win_start else since
            open_s = max(0.0, tnow - start)
            secs[state] = secs.get(state, 0.0) + open_s
            if state == "paused":
                by_reason[reason or ""] = by_reason.get(reason or "", 0.0) + open_s
        return AgentSnapshot(
            name=cfg.name if cfg else None,
            state=state,
            reason=reason,
            since=utc(datetime.fromtimestamp(since, timezone.utc)) if since is not None else None,
            call_id=st.get("call_id") or None,
            call_queue=st.get("call_queue") or None,
            spied_by=json.loads(st["spied_by"]) if st.get("spied_by") else {},
            queues=queues_of,
            calls_handled=int(w.get("calls_handled", 0)),
            missed=int(w.get("missed", 0)),
            missed_in_row=int(float(st.get("missed_in_row") or 0)),
            outbound_calls=int(w.get("outbound_calls", 0)),
            dial_attempts=int(w.get("dial_attempts", 0)),
            talk_s=round(secs["on_call"], 3),
            wrap_s=round(secs["wrap_up"], 3),
            available_s=round(secs["available"], 3),
            pause_s=round(secs["paused"], 3),
            pause_s_by_reason={k: round(v, 3) for k, v in by_reason.items()},
        )

    # ---- levels and alerts (the lease owner's job) -------------------------------------------------------

    async def load_levels(self) -> LevelState:
        return LevelState.from_hash(await self.r.hgetall(self.keys.alerts))

    async def save_levels(self, new: LevelState, old: LevelState) -> None:
        put, gone = new.diff(old)
        if not put and not gone:
            return
        pipe = self.r.pipeline(transaction=True)
        if put:
            pipe.hset(self.keys.alerts, mapping=put)
        if gone:
            pipe.hdel(self.keys.alerts, *gone)
        await pipe.execute()

    def evaluate(self, snap: Snapshot, state: LevelState, now: datetime) -> tuple[Snapshot, LevelState]:
        """Levels per queue metric (hysteresis on ``now``), alerts, business hours, per-agent alerts."""
        tz = self.windows.tz
        for name, q in snap.queues.items():
            levels, state = evaluate_queue(self.config.queue(name), q, state, now, tz=tz)
            q.levels = {m: lv for m, lv in levels.items() if m in self.config.queue(name).thresholds or lv == "closed"}
            q.open = not any(lv == "closed" for lv in levels.values())
            q.alerts = state.alerts(name)
        for a in snap.agents.values():
            if a.since:
                a.alerts = agent_alerts(a, self.config.agent_alerts, now)
        return snap, state

    async def publish(self, snap: Snapshot) -> Snapshot:
        """Give the snapshot its ``seq`` and publish both parts (summary apart from agent detail)."""
        seq = await self.r.incr(self.keys.seq)
        snap = snap.model_copy(update={"seq": seq})
        summary = snap.summary_json()
        agents = snap.agents_json()
        pipe = self.r.pipeline(transaction=False)
        pipe.set(self.keys.summary, summary)
        pipe.set(self.keys.agents_detail, agents)
        pipe.publish(self.keys.channel, summary)
        pipe.publish(self.keys.agents_channel, agents)
        await pipe.execute()
        return snap

