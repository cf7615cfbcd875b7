"""Rollups: the engine's minute buckets summed into 15-minute intervals and daily totals, per queue and agent.

A rollup step **recomputes** an interval from its minute buckets and overwrites what was stored, so running
it twice, or again after late events, leaves the right figures. Every key it writes is in the queue's or the
agent's own slot (``{q:NAME}`` / ``{a:ID}``): plain pipelined commands, no script, cluster-ready. Only the
queues and agents with something that day are read (see ``_active``). The layout is in
``wallboard.history``; the encoding in ``wallboard.history.codec``.

What a minute bucket holds is the engine's (``wallboard.keys``): queue counters plus ``peak_waiting``; agent
counts plus seconds per state, which the engine writes when a state *ends*. The state an agent is in now is
therefore added here from the agent's ``:state`` (``since`` up to "now", as the live snapshot does), where
"now" is the time of the latest published snapshot, or the clock's if that is newer or absent: when the feed
stopped, the open state is not stretched past the end of the data. When the state later ends, the engine
writes the same seconds into the buckets, and the next rollup finds them there.

Minute buckets live ``centre.bucket_expiry_h``. An interval older than that ("out of the live window") is
recomputed only if nothing is stored for it yet (or with ``force``), and never erased: its buckets may be gone.
Rollup keys expire ``history.interval_keep_days`` / ``daily_keep_days`` after their day / month ends (counted
from the rollup when that is later, so a replay of an old file keeps its rollups that long too).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from typing import Literal

import redis.asyncio as aredis
from redis.exceptions import NoScriptError

from .. import registry
from ..clock import UTC_TIME, Clock, SystemClock
from ..config import WallboardConfig
from ..keys import Keys
from ..store import Scripts
from .calendar import DAY_S, CentreCalendar
from .codec import AGENT_FIELDS, QUEUE_FIELDS, merge, pack, unpack

Kind = Literal["q", "a"]
FIELDS: dict[str, tuple[str, ...]] = {"q": QUEUE_FIELDS, "a": AGENT_FIELDS}
GROUP_MINUTES = 20_000  # minute buckets read per round trip (entities x minutes)


class HistoryKeys:
    """Key names of the rollups (see ``wallboard.history``)."""

    def __init__(self, keys: Keys):
        self.keys = keys
        self.rolled = keys.history_rolled

    def base(self, kind: Kind, name: str) -> str:
        return self.keys.queue(name) if kind == "q" else self.keys.agent(name)

    def intervals(self, kind: Kind, name: str, day: date) -> str:
        return self.keys.history_intervals(self.base(kind, name), day.strftime("%Y%m%d"))

    def daily(self, kind: Kind, name: str, day: date) -> str:
        return self.keys.history_daily(self.base(kind, name), day.strftime("%Y%m"))


def day_field(day: date) -> str:
    return f"{day.day:02d}"


@dataclass
class RollupStats:
    queues: int = 0
    agents: int = 0
    days: list[str] = field(default_factory=list)
    intervals: int = 0  # (entity, interval) pairs recomputed
    written: int = 0  # interval values written (changed or new)
    cleared: int = 0  # interval values removed (now empty)
    kept_old: int = 0  # out of the live window with a value stored: left as it was
    daily_written: int = 0
    buckets_read: int = 0
    since: str | None = None
    until: str | None = None
    spans: list[dict] = field(default_factory=list)  # per day: what was recomputed (UTC ISO)

    def as_dict(self) -> dict:
        return dict(self.__dict__)


class Rollup:
    def __init__(
        self, client: aredis.Redis, config: WallboardConfig, keys: Keys | None = None, clock: Clock | None = None
    ):
        self.r = client
        self.config = config
        self.keys = keys or Keys(config.redis.prefix)
        self.hk = HistoryKeys(self.keys)
        self.scripts = Scripts()
        self.cal = CentreCalendar(config.centre)
        self.clock = clock or SystemClock()
        self.bexp_s = int(config.centre.bucket_expiry_h * 3600)
        self.late_s = int(config.history.late_h * 3600)
        self.ikeep_s = int(config.history.interval_keep_days * DAY_S)
        self.dkeep_s = int(config.history.daily_keep_days * DAY_S)

    # -- who ----------------------------------------------------------------------------------------------

    async def queue_names(self) -> list[str]:
        return await registry.queue_names(self.r, self.config, self.keys)

    async def agent_ids(self) -> list[str]:
        return [a for a in await registry.agent_ids(self.r, self.config, self.keys) if a]

    async def data_now(self) -> float:
        """Up to when an agent's current state counts: the latest snapshot's time, or the clock's if earlier."""
        now = self.clock.now().timestamp()
        raw = await self.r.get(self.keys.summary)
        if raw:
            try:
                at = UTC_TIME.validate_python(json.loads(raw)["at"]).timestamp()
                return min(now, at)
            except (ValueError, KeyError, TypeError):
                pass
        return now

    # -- entry points -------------------------------------------------------------------------------------

    async def run(
        self,
        since: datetime | None = None,
        until: datetime | None = None,
        *,
        queues: list[str] | None = None,
        agents: list[str] | None = None,
        force: bool = False,
    ) -> RollupStats:
        """Recompute every interval overlapping ``[since, until)``. Without ``since``: incrementally, each day
        of the live window from what was rolled up last (less ``history.late_h``)."""
        now = self.clock.now().timestamp()
        end = min(until.timestamp(), now) if until else now
        if since is None:
            return await self._rollup(await self._plan(now - self.bexp_s, end), queues, agents, force)
        return await self._rollup(self._exact(since.timestamp(), end), queues, agents, force)

    async def ensure(
        self, first: date, last: date, *, queues: list[str] | None = None, agents: list[str] | None = None
    ) -> RollupStats:
        """Roll up what a report of days ``first`` .. ``last`` needs and is not rolled up yet."""
        now = self.clock.now().timestamp()
        start = self.cal.day_start(first)
        end = min(self.cal.day_start(last + timedelta(days=1)), now)
        return await self._rollup(await self._plan(start, end), queues, agents, False)

    # -- planning -----------------------------------------------------------------------------------------

    def _exact(self, since: float, until: float) -> list[tuple[date, list[int], float, float]]:
        spans = []
        for day in self.cal.days_between(since, until):
            idx = [i for i, (s, e) in enumerate(self.cal.intervals(day)) if s < until and e > since]
            if idx:
                start, end = self.cal.day_bounds(day)
                spans.append((day, idx, max(since, start), min(until, end)))
        return spans

    async def _plan(self, since: float, until: float) -> list[tuple[date, list[int], float, float]]:
        """Per day in ``[since, until)``: the intervals from what that day was rolled up to (less the late
        margin) up to ``until``."""
        days = list(self.cal.days_between(since, until))
        if not days:
            return []
        covered = await self.r.hmget(self.hk.rolled, [d.strftime("%Y%m%d") for d in days])
        spans = []
        for day, cov in zip(days, covered):
            start, end = self.cal.day_bounds(day)
            frm = max(start, since)
            if cov is not None:
                done_to, done_at = _parse_mark(cov)
                if done_to >= end and done_at >= end + self.late_s:
                    continue  # the whole day, rolled up after late events stopped coming
                frm = max(frm, done_to - self.late_s)
            to = min(end, until)
            if frm >= to:
                continue
            idx = [i for i, (s, e) in enumerate(self.cal.intervals(day)) if s < to and e > frm]
            if idx:
                spans.append((day, idx, frm, to))
        return spans

    # -- the step -----------------------------------------------------------------------------------------

    async def _rollup(self, spans, queues, agents, force) -> RollupStats:
        stats = RollupStats()
        if not spans:
            return stats
        now = self.clock.now().timestamp()
        data_now = await self.data_now()
        all_entities = queues is None and agents is None
        qs = queues if queues is not None else await self.queue_names()
        ag = agents if agents is not None else await self.agent_ids()
        stats.queues, stats.agents = len(qs), len(ag)
        stats.days = [d.isoformat() for d, *_ in spans]
        stats.since, stats.until = _iso(spans[0][2]), _iso(spans[-1][3])
        stats.spans = [{"day": d.isoformat(), "since": _iso(frm), "until": _iso(to)} for d, _, frm, to in spans]
        for kind, names in (("q", qs), ("a", ag)):
            work = await self._active(kind, names, spans)
            batch: list[tuple[str, dict, list]] = []
            minutes = 0
            for name, state, days in work:
                batch.append((name, state, days))
                minutes += sum(len(idx) for _, idx, *_ in days) * 15
                if minutes >= GROUP_MINUTES:
                    await self._rollup_group(kind, batch, now, data_now, force, stats)
                    batch, minutes = [], 0
            if batch:
                await self._rollup_group(kind, batch, now, data_now, force, stats)
        if all_entities:
            await self._mark(spans, now)
        return stats

    async def _active(self, kind: Kind, names: list[str], spans) -> list[tuple[str, dict, list]]:
        """Which (entity, day) pairs can have anything to roll up: the engine wrote the entity's window hash of
        that day (``:w:<reset epoch>``, or ``:w:all`` in replay --window all) -- it is written with the day's
        buckets and expires with them -- or an agent's current state overlaps the day."""
        pipe = self.r.pipeline(transaction=False)
        for name in names:
            base = self.hk.base(kind, name)
            pipe.exists(Keys.window(base, "all"))
            for day, *_ in spans:
                pipe.exists(Keys.window(base, self.cal.day_start(day)))
            if kind == "a":
                pipe.hgetall(self.keys.agent_state(name))
        raw = iter(await pipe.execute())
        out = []
        for name in names:
            any_day = next(raw)
            has = [next(raw) for _ in spans]
            state = next(raw) if kind == "a" else {}
            in_state = state.get("since") and state.get("state") not in (None, "", "logged_out")
            open_since = float(state["since"]) if in_state else None
            days = [sp for sp, h in zip(spans, has) if any_day or h or (open_since is not None and open_since < sp[3])]
            if days:
                out.append((name, state, days))
        return out

    async def _read(self, reads) -> list:
        """``reads(pipe)``'s replies in one round trip; the scripts loaded first, and again once should the server
        have forgotten them (a restart)."""
        for attempt in (0, 1):
            if not self.scripts.shas or attempt:
                await self.scripts.load(self.r)
            pipe = self.r.pipeline(transaction=False)
            reads(pipe)
            try:
                return await pipe.execute()
            except NoScriptError:
                if attempt:
                    raise
        return []

    async def _rollup_group(
        self,
        kind: Kind,
        work: list[tuple[str, dict, list]],
        now: float,
        data_now: float,
        force: bool,
        stats: RollupStats,
    ) -> None:
        fields = FIELDS[kind]

        def reads(pipe) -> None:
            for name, _, days in work:
                base = self.hk.base(kind, name)
                for day, idx, *_ in days:
                    pipe.hgetall(self.hk.intervals(kind, name, day))
                    pipe.hget(self.hk.daily(kind, name, day), day_field(day))
                    ivs = self.cal.intervals(day)
                    if kind == "a":  # the agent's state spans of the day (of the whole replay with --window all)
                        first = min(ivs[i][0] for i in idx)
                        pipe.zrangebyscore(Keys.spans(base, self.cal.day_start(day)), f"({first}", "+inf")
                        pipe.zrangebyscore(Keys.spans(base, "all"), f"({first}", "+inf")
                    # the day's minute buckets in one call, only those that hold something (minutes.lua)
                    minutes = [str(m) for i in idx for m in range(ivs[i][0] - ivs[i][0] % 60, ivs[i][1], 60)]
                    self.scripts.queue(pipe, "minutes", base, *minutes)

        raw = await self._read(reads)
        pos = 0
        writes = self.r.pipeline(transaction=False)
        live_from = now - self.bexp_s
        for name, state, days in work:
            for day, idx, *_ in days:
                stored: dict[str, str] = raw[pos]
                stored_day = raw[pos + 1]
                pos += 2
                ivs = self.cal.intervals(day)
                spans = []
                if kind == "a":
                    spans = [_parse_span(m) for m in (*raw[pos], *raw[pos + 1])]
                    pos += 2
                found = raw[pos]  # [i, [field, value, ...], ...]: the day's minutes that hold something, 1-based
                pos += 1
                held = {found[j]: found[j + 1] for j in range(0, len(found), 2)}
                had_key = bool(stored)
                current = dict(stored)
                set_f: dict[str, str] = {}
                del_f: list[str] = []
                n = 0
                for i in idx:
                    s, e = ivs[i]
                    c: dict[str, float] = {}
                    for _m in range(s - s % 60, e, 60):
                        n += 1
                        bucket = held.get(n)
                        if bucket:
                            merge(c, {bucket[j]: float(bucket[j + 1]) for j in range(0, len(bucket), 2)})
                        stats.buckets_read += 1
                    if kind == "a":
                        _add_spans(c, spans, s, e)
                        _add_open_state(c, state, s, e, data_now)
                    stats.intervals += 1
                    new = pack(fields, c)
                    old = stored.get(str(i))
                    if s < live_from and not force and (old or not new):
                        stats.kept_old += 1 if old else 0
                        continue  # out of the live window: its buckets may be gone
                    if new and new != old:
                        set_f[str(i)] = new
                        current[str(i)] = new
                        stats.written += 1
                    elif not new and old is not None:
                        del_f.append(str(i))
                        current.pop(str(i), None)
                        stats.cleared += 1
                ikey = self.hk.intervals(kind, name, day)
                start, end = self.cal.day_bounds(day)
                if set_f:
                    writes.hset(ikey, mapping=set_f)
                if del_f:
                    writes.hdel(ikey, *del_f)
                if set_f or del_f:
                    writes.expire(ikey, max(self.ikeep_s, int(end + self.ikeep_s - now)))
                # the day's total, from all its intervals; kept as it is when the intervals are not all here
                complete = had_key or len(idx) == len(ivs) or stored_day is None
                if complete and (set_f or del_f or (current and stored_day is None)):
                    total: dict[str, float] = {}
                    for v in current.values():
                        merge(total, unpack(fields, v))
                    dkey = self.hk.daily(kind, name, day)
                    packed = pack(fields, total)
                    if packed:
                        if packed != stored_day:
                            writes.hset(dkey, day_field(day), packed)
                            month_end = self.cal.day_start(_next_month(day))
                            writes.expire(dkey, max(self.dkeep_s, int(month_end + self.dkeep_s - now)))
                            stats.daily_written += 1
                    elif stored_day is not None:
                        writes.hdel(dkey, day_field(day))
                        stats.daily_written += 1
        if len(writes):
            await writes.execute()

    async def _mark(self, spans, now: float) -> None:
        """Record per day up to when everything was rolled up, and when (``to:at``, epochs); a run only moves
        the mark when it starts at or before it."""
        days = [d.strftime("%Y%m%d") for d, *_ in spans]
        old = await self.r.hmget(self.hk.rolled, days)
        upd = {}
        for (day, _, frm, to), key, cov in zip(spans, days, old):
            done_to = _parse_mark(cov)[0] if cov is not None else self.cal.day_start(day)
            if frm <= done_to:
                upd[key] = f"{int(max(to, done_to))}:{int(now)}"
        if upd:
            await self.r.hset(self.hk.rolled, mapping=upd)


def _parse_mark(v: str) -> tuple[float, float]:
    to, _, at = v.partition(":")
    return float(to), float(at or 0)


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, timezone.utc).isoformat()


def _next_month(day: date) -> date:
    return (day.replace(day=1) + timedelta(days=32)).replace(day=1)


def _parse_span(member: str) -> tuple[float, float, str, str]:
    """``from|to|state|reason`` (agent_batch.lua) -> its parts."""
    frm, to, state, reason = member.split("|", 3)
    return float(frm), float(to), state, reason


def _add_spans(c: dict[str, float], spans: list[tuple[float, float, str, str]], s: float, e: float) -> None:
    """The seconds of each finished state span that fall in ``[s, e)``: the interval's share of agent time,
    split here rather than written minute by minute when the state ended."""
    for frm, to, st, reason in spans:
        seg = min(e, to) - max(s, frm)
        if seg <= 0:
            continue
        c[f"{st}_s"] = c.get(f"{st}_s", 0.0) + seg
        if st == "paused":
            c[f"paused_s:{reason}"] = c.get(f"paused_s:{reason}", 0.0) + seg


def _add_open_state(c: dict[str, float], state: dict, s: float, e: float, now: float) -> None:
    """The agent's current state, from ``since`` up to ``now``, where it overlaps ``[s, e)``; and its written
    busy stretch still open (``conv_since``: a conversation not closed yet), as the engine will write it."""
    if conv := state.get("conv_since"):
        seg = min(e, now) - max(s, float(conv))
        if seg > 0:
            c["conversation_s"] = c.get("conversation_s", 0.0) + seg
    st = state.get("state")
    since = state.get("since")
    if not st or st == "logged_out" or not since:
        return
    seg = min(e, now) - max(s, float(since))
    if seg <= 0:
        return
    c[f"{st}_s"] = c.get(f"{st}_s", 0.0) + seg
    if st == "paused":
        k = f"paused_s:{state.get('reason') or ''}"
        c[k] = c.get(k, 0.0) + seg


class HistoryReader:
    """Reads stored rollups (for reports and the staffing calculator)."""

    def __init__(self, client: aredis.Redis, config: WallboardConfig, keys: Keys | None = None):
        self.r = client
        self.config = config
        self.hk = HistoryKeys(keys or Keys(config.redis.prefix))
        self.cal = CentreCalendar(config.centre)

    async def intervals(self, kind: Kind, names: list[str], days: list[date]) -> dict[str, dict[date, dict | None]]:
        """Per name and day: {interval index: counters}, or None when nothing is stored for that day."""
        pipe = self.r.pipeline(transaction=False)
        for n in names:
            for d in days:
                pipe.hgetall(self.hk.intervals(kind, n, d))
        raw = iter(await pipe.execute())
        out: dict[str, dict[date, dict | None]] = {}
        for n in names:
            out[n] = {}
            for d in days:
                h = next(raw)
                out[n][d] = {int(i): unpack(FIELDS[kind], v) for i, v in h.items()} if h else None
        return out

    async def daily(self, kind: Kind, names: list[str], days: list[date]) -> dict[str, dict[date, dict | None]]:
        """Per name and day: the day's counters, or None when nothing is stored."""
        pipe = self.r.pipeline(transaction=False)
        for n in names:
            for d in days:
                pipe.hget(self.hk.daily(kind, n, d), day_field(d))
        raw = iter(await pipe.execute())
        return {n: {d: (unpack(FIELDS[kind], v) if (v := next(raw)) else None) for d in days} for n in names}
