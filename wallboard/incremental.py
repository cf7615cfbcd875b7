"""The lease owner's snapshots, rebuilt for what changed (issue 16 item 2).

``build_snapshot`` reads every queue and every agent and computes every figure: at 5,000 agents and 500 queues
that is ~0.7 s, several times a second while calls keep changing something. Here the owner keeps the previous
snapshot's parts (per queue and per agent: what was read from Redis and the figures built from it) and, at
each publish:

- takes the engine's change set (``Engine.touched``: the queues and agents of the records applied since the
  last publish, marked only once a batch is applied, plus the queues whose callers ``expire_callers`` dropped)
  and re-reads and rebuilds only those, in one round trip (``Engine.read_parts``, as ``build_snapshot`` reads);
- re-reads every queue (not the agents) when the rolling window moved to another minute;
- ticks the time-based figures of the rest locally, with the arithmetic of the full build: a waiting caller's
  ``wait_s`` and the queue's ``longest_wait_s``, a callback's ``age_s`` and ``oldest_callback_s``, an agent's
  time in its current state (``talk_s``, ``wrap_s``, ``available_s``, ``pause_s`` and its reason);
- recounts agents per queue only for the queues of agents whose state, reason or queues changed, rebuilds those
  queues (EWT follows the agents serving), and recomputes the total from the per-queue parts.

A full rebuild happens at the first build, every ``engine.full_rebuild_s``, when the window changes (the daily
reset), when the clock goes back, and after ``invalidate`` (a Redis reconnect, a rewind of the feed, a new lease:
anything after which the change set may have missed writes), so nothing can drift for long. The result equals
``Engine.build_snapshot`` at the same ``now`` figure by figure (tests/test_incremental.py); only the order of a
``paused_by_reason`` mapping may differ.

Other ingesters on the same centre (another feed: the chat platform's beside the PBX's) hand their change sets
over through Redis (``Engine.share_touched``), taken here with the owner's own; so do the shards of a feed
(``--shard``) that are not the owner. A sharded owner still builds full snapshots (``Ingest``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from .clock import utc_at
from .engine import Engine, QueueParts, _Seen, rolling_counters
from .events import utc
from .snapshot import AgentCounts, AgentSnapshot, QueueSnapshot, Snapshot, Window

# the agent figure that grows while the agent stays in a state
_TIME_FIELD = {"on_call": "talk_s", "wrap_up": "wrap_s", "available": "available_s", "paused": "pause_s"}


@dataclass
class _Parts:
    wid: str
    win_start: datetime | None
    minutes: list
    roll_since: datetime
    wlabel: str
    full_at: float
    tnow: float = 0.0
    queues: list[str] = field(default_factory=list)
    agents: list[str] = field(default_factory=list)
    aindex: dict[str, int] = field(default_factory=dict)
    qraw: dict[str, QueueParts] = field(default_factory=dict)
    # per queue, the rolling window's minute buckets as last read (minute -> hash): only those written since
    # are read again, and a minute new to the window once (it may hold what was applied before it was in it)
    mins: dict[str, dict[int, dict]] = field(default_factory=dict)
    # per queue, the rolling window's older minutes summed ((first, last, how many), sums)
    rsum: dict[str, tuple] = field(default_factory=dict)
    # per queue, its waiting callers' and callbacks' models, reused while unchanged (``Engine._queue_snapshot``)
    kept: dict[str, dict] = field(default_factory=dict)
    qsnap: dict[str, QueueSnapshot] = field(default_factory=dict)
    counts: dict[str, AgentCounts] = field(default_factory=dict)
    asnap: dict[str, AgentSnapshot] = field(default_factory=dict)
    members: dict[str, dict[str, int]] = field(default_factory=dict)
    qagents: dict[str, set[str]] = field(default_factory=dict)
    # per agent: (state, reason, since, the start of its open interval, its time field's base, the paused
    # reason's base) for ticking; None when nothing of it moves with the clock
    atick: dict[str, tuple | None] = field(default_factory=dict)
    # with ``defer_ticks``: the agents whose clock figures are at ``tnow`` (None: every agent's)
    ticked: set[str] | None = None
    dead_letters: int = 0
    gaps: list = field(default_factory=list)
    total_counts: AgentCounts | None = None  # the total's agent counts, kept while no agent changes


class IncrementalSnapshots:
    """``defer_ticks`` (the lease owner's): the agents not rebuilt are left as the last build and evaluation
    left them, their clock figures ticked only when ``tick`` is asked for them (the publisher asks for those it
    writes out) and their alerts left for ``Engine.evaluate`` to set (it sets every agent's: with the owner's
    timers, those it looks at and those it keeps alerting), as are the queues' levels, alerts and open state;
    a build then costs what changed, not the centre's 5,000 agents at every publish. Without it, ``build``
    gives the whole snapshot as ``build_snapshot`` does."""

    def __init__(self, engine: Engine, full_rebuild_s: float = 30.0, defer_ticks: bool = False):
        self.e = engine
        self.full_rebuild_s = full_rebuild_s
        self.defer_ticks = defer_ticks
        self.p: _Parts | None = None
        self.fulls = 0
        self.partials = 0
        self.last_rebuilt = (0, 0)  # (queues, agents) rebuilt by the last build
        # what the last build rebuilt (everything when ``full_build``): where a delta looks for changes
        self.full_build = True
        self.changed_queues: set[str] = set()
        self.changed_agents: set[str] = set()

    def anchor(self, agent: str) -> tuple | None:
        """What the agent's time in its current state is counted from (``_tick_of``), as of the last build."""
        return self.p.atick.get(agent) if self.p is not None else None

    def tick(self, agents: Iterable[str] | None = None) -> None:
        """With ``defer_ticks``: bring these agents' (None: every agent's) time in their state to the last
        build's ``now``, as a build without deferring does; each agent once per build."""
        p = self.p
        if p is None or p.ticked is None:
            return
        done, tnow, atick, asnap = p.ticked, p.tnow, p.atick, p.asnap
        for a in atick if agents is None else agents:
            if a not in done:
                t = atick.get(a)
                if t is not None:
                    _tick_agent(asnap[a], t, tnow)
                done.add(a)
        if agents is None:
            p.ticked = None

    def agent_index(self) -> dict[str, int]:
        """Each agent's place in the last build's snapshot."""
        return self.p.aindex if self.p is not None else {}

    def invalidate(self) -> None:
        """The next build is a full one (the change set may have missed writes)."""
        self.p = None

    async def build(self, now: datetime, seq: int = 0) -> Snapshot:
        """The snapshot at ``now``, equal to ``Engine.build_snapshot(now)``. Should it fail (Redis lost
        mid-read), the change set it took is gone with it: the next one is a full build."""
        try:
            return await self._build(now, seq)
        except BaseException:
            self.p = None
            raise

    async def _build(self, now: datetime, seq: int) -> Snapshot:
        e = self.e
        tnow = now.timestamp()
        wid = e.windows.window_id(tnow)
        win_start = e.windows.window_start(tnow)
        minutes = e.windows.rolling_minutes_at(tnow)
        p = self.p
        # taken before reading: whatever is applied from here on is marked again and read at the next build;
        # with what other ingesters applied (``Engine.share_touched``)
        touched, e.touched = e.touched, _Seen()
        touched.merge(await e.take_shared_touched())
        mins_of: dict[str, list[int]] | None = None
        if (
            p is None
            or p.wid != wid
            or p.win_start != win_start
            or tnow < p.tnow
            or tnow - p.full_at >= self.full_rebuild_s
        ):
            roll_since = utc_at(minutes[0] if minutes else tnow)
            wlabel = "all input" if win_start is None else f"since reset {utc(win_start)}"
            p = _Parts(wid, win_start, minutes, roll_since, wlabel, full_at=tnow)
            p.queues = await e.queue_names()
            p.agents = await e.agent_ids()
            p.aindex = {a: i for i, a in enumerate(p.agents)}
            rq, ra = list(p.queues), list(p.agents)
            self.fulls += 1
            self.full_build = True
        else:
            new_q = [q for q in touched.queues if q not in p.qraw]
            new_a = [a for a in touched.agents if a not in p.aindex]
            if new_q:
                order = [q.name for q in e.config.queues]
                p.queues = _ordered(set(order), p.queues, new_q, order)
            if new_a:
                order = [a.id for a in e.config.agents]
                p.agents = _ordered(set(order), p.agents, new_a, order)
                p.aindex = {a: i for i, a in enumerate(p.agents)}
            in_window = set(minutes)
            new_m = in_window - set(p.minutes)
            if minutes != p.minutes:  # the rolling window moved: every queue's rolling figures
                p.minutes = minutes
                p.roll_since = utc_at(minutes[0] if minutes else tnow)
                rq = list(p.queues)
                for held in p.mins.values():
                    for m in [m for m in held if m not in in_window]:
                        del held[m]
            else:
                rq = [q for q in p.queues if q in touched.queues or q in touched.minutes]
            # per queue read again: the minutes written since the last build, and those new to the window;
            # a queue not seen before: all of them
            mins_of = {}
            for q in rq:
                if q in p.mins:
                    mins_of[q] = sorted((touched.minutes.get(q, set()) & in_window) | new_m)
            ra = [a for a in p.agents if a in touched.agents]
            self.partials += 1
            self.full_build = False
        self.last_rebuilt = (len(rq), len(ra))
        p.tnow = tnow
        qdata, aparts, p.dead_letters, p.gaps = await e.read_parts(rq, ra, wid, minutes, win_start, mins_of=mins_of)
        for q, raw in qdata.items():  # the rolling window's buckets: what was read, over what was kept
            read = mins_of.get(q, minutes) if mins_of is not None else minutes
            buckets = p.mins.get(q)
            if buckets is None or read is minutes:
                buckets = p.mins[q] = dict(zip(read, raw[1]))
            else:
                buckets.update(zip(read, raw[1]))
            # in the window's order, as the full build sums them: the older minutes' sum kept while none of them
            # was read again, then the newest minute
            in_order = [m for m in minutes if m in buckets]
            head = in_order[:-1]
            key = (head[0], head[-1], len(head)) if head else None
            kept_sum = p.rsum.get(q)
            if kept_sum is None or kept_sum[0] != key or not _read_is_new(read, head):
                kept_sum = p.rsum[q] = (key, rolling_counters([buckets[m] for m in head]))
            qdata[q] = (raw[0], [kept_sum[1], buckets[in_order[-1]]] if in_order else [], *raw[2:])

        # agents: rebuilt when touched, ticked otherwise
        recount: set[str] = set(q for q in rq if q not in p.counts)
        for a in ra:
            cfg, st, queues_of, win = aparts[a]
            snap = e._agent_snapshot(a, cfg, st, queues_of, win, tnow, win_start)
            old = p.asnap.get(a)
            old_members = p.members.get(a)
            if (
                old is None
                or old.state != snap.state
                or old.reason != snap.reason
                or old_members != queues_of
                or old.conversations != snap.conversations  # a written queue's free agents and slots
            ):
                if p.total_counts is not None:  # the total counts each agent once: the old out, the new in
                    if old is not None and (old_members or old.state != "logged_out"):
                        _uncount(p.total_counts, old)
                        if e.centre_free(old):  # ``Engine.count_centre`` undone
                            p.total_counts.__dict__["free"] -= 1
                    if queues_of or snap.state != "logged_out":
                        e.count_centre(p.total_counts, snap)
                for q in old_members or ():
                    recount.add(q)
                    s = p.qagents.get(q)
                    if s is not None:
                        s.discard(a)
                for q in queues_of:
                    recount.add(q)
                    p.qagents.setdefault(q, set()).add(a)
            p.asnap[a] = snap
            p.members[a] = queues_of
            p.atick[a] = _tick_of(e, e._counters(win), snap, st, win_start)
        fresh = set(ra)
        if self.defer_ticks:
            p.ticked = fresh
        else:
            for a, t in p.atick.items():
                if a not in fresh:
                    snap = p.asnap[a]
                    if snap.alerts:  # what ``Engine.evaluate`` set on the previous one: evaluated again
                        snap.__dict__["alerts"] = []
                    if t is not None:
                        _tick_agent(snap, t, tnow)

        # queues: rebuilt when read or when their agents changed, ticked otherwise
        p.qraw.update(qdata)
        for q in recount:
            if q in p.qraw:
                p.counts[q] = _count_queue(e, q, p)
        rebuild = set(rq) | {q for q in recount if q in p.qraw}
        self.changed_queues, self.changed_agents = rebuild, set(ra)
        configured = {c.name: c for c in e.config.queues}
        for q in p.queues:
            if q in rebuild:
                kept = p.kept.get(q)
                if kept is None:
                    kept = p.kept[q] = {}
                p.qsnap[q] = e._queue_snapshot(q, *p.qraw[q], p.counts[q], tnow, p.roll_since, p.wlabel, kept)
            else:
                qs = p.qsnap[q]
                if not self.defer_ticks:  # deferring, left for ``Engine.evaluate`` to set (it sets every queue's)
                    # what ``Engine.evaluate`` set on the previous one, as ``_queue_snapshot`` leaves it
                    cfg = configured.get(q) or e.config.queue(q)
                    qs.__dict__.update(levels={m: "ok" for m in cfg.thresholds}, alerts={}, open=True)
                _tick_queue(qs, p.qraw[q], tnow)

        # kept in the registries' order (an entry new to them is added at the end: put in its place), so the
        # snapshot takes them as they are (its validation copies the mappings, not the entries)
        if list(p.qsnap) != p.queues:
            p.qsnap = {q: p.qsnap[q] for q in p.queues}
        if list(p.asnap) != p.agents:
            p.asnap = {a: p.asnap[a] for a in p.agents}
            p.members = {a: p.members[a] for a in p.agents}
        qsnaps, agent_snaps = p.qsnap, p.asnap
        if p.total_counts is None:
            p.total_counts = e.total_agent_counts(agent_snaps, p.members)
        # a copy: the snapshot's Total must not share the kept counts (nothing mutates them, but a view may)
        total = e._total(
            qsnaps, agent_snaps, p.members, p.roll_since, p.wlabel, counts=p.total_counts.model_copy(deep=True)
        )
        window = Window(kind="all", since=None) if win_start is None else Window(kind="since_reset", since=win_start)
        self.p = p
        return Snapshot(
            seq=seq,
            at=now,
            centre=e.config.centre.name,
            timezone=e.config.centre.timezone,
            window=window,
            queues=qsnaps,
            total=total,
            agents=agent_snaps,
            dead_letters=p.dead_letters,
            gaps=p.gaps,
        )


def _read_is_new(read: list[int], head: list[int]) -> bool:
    """Whether the minutes just read are all newer than ``head`` (the older minutes whose sum is kept)."""
    return not head or not read or min(read) > head[-1]


def _ordered(configured: set[str], known: list[str], new: list[str], order: list[str]) -> list[str]:
    """The registry order ``Engine.queue_names`` / ``agent_ids`` give: configured first, then the rest sorted."""
    names = set(known) | set(new)
    return order + sorted(names - configured)


def _count_queue(e: Engine, q: str, p: _Parts) -> AgentCounts:
    """A queue's agent counts, agents in the snapshot's order (as ``Engine._agent_counts_by_queue``)."""
    counts = AgentCounts()
    idx = p.aindex
    for a in sorted(p.qagents.get(q, ()), key=idx.__getitem__):
        e._count(counts, p.asnap[a], e.channel_of(q))
    return counts


def _uncount(counts: AgentCounts, a: AgentSnapshot) -> None:
    """``Engine._count`` undone."""
    d = counts.__dict__
    if a.state == "logged_out":
        d["logged_out"] -= 1
        return
    d["logged_in"] -= 1
    d[a.state] -= 1
    if a.state == "paused":
        r = a.reason or "none"
        n = counts.paused_by_reason.get(r, 0) - 1
        if n:
            counts.paused_by_reason[r] = n
        else:
            counts.paused_by_reason.pop(r, None)


def _tick_of(e: Engine, w: dict, snap: AgentSnapshot, st: dict, win_start) -> tuple | None:
    """What moves with the clock in an agent's figures (see ``Engine.agent_times``), or None."""
    state = snap.state
    since = float(st["since"]) if st.get("since") else None
    name = _TIME_FIELD.get(state)
    if since is None or name is None:
        return None
    start = max(since, win_start.timestamp()) if win_start else since
    base = w.get(f"{state}_s", 0.0)
    rbase = None
    if state == "paused":
        key = snap.reason or ""
        rbase = (key, w.get(f"paused_s:{key}", 0.0))
    return name, start, base, rbase


def _tick_agent(snap: AgentSnapshot, t: tuple, tnow: float) -> None:
    name, start, base, rbase = t
    open_s = max(0.0, tnow - start)
    d = snap.__dict__  # plain field values (no validation on assignment): set as the full build computes them
    d[name] = round(base + open_s, 3)
    if rbase is not None:
        by_reason = dict(d["pause_s_by_reason"])
        by_reason[rbase[0]] = round(rbase[1] + open_s, 3)
        d["pause_s_by_reason"] = by_reason


def _tick_queue(qs: QueueSnapshot, raw: QueueParts, tnow: float) -> None:
    """Waiting callers' and callbacks' ages at ``tnow`` (as ``Engine._queue_snapshot`` computes them)."""
    if qs.callers:
        waiting = raw[2]
        longest = None
        for c, (_cid, j) in zip(qs.callers, waiting):
            w = round(max(0.0, tnow - j), 3)
            c.__dict__["wait_s"] = w
            if longest is None or w > longest:
                longest = w
        qs.__dict__["longest_wait_s"] = longest
    if qs.callbacks:
        callbacks = raw[4]
        oldest = None
        for cb, (_cid, j) in zip(qs.callbacks, callbacks):
            age = round(tnow - j, 3)
            cb.__dict__["age_s"] = age
            if oldest is None or age > oldest:
                oldest = age
        qs.__dict__["oldest_callback_s"] = oldest
