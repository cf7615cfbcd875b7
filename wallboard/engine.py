"""The engine: applies events to Redis exactly once (by meaning) and builds snapshots from what is there.

Applying a batch: events are grouped by partition (queue, or agent for agent-only events); each queue's call
transitions go to ``queue_batch.lua`` in that queue's slot (up to ``engine.batch_size`` per call, all queues in
one pipelined round trip); the agent side (calls handled, missed, dials, state, membership) then goes to
``agent_batch.lua`` in each agent's slot, in the original order, and always runs even when the queue step
reported a duplicate (both steps are idempotent on their own).
"""

from __future__ import annotations

import json
import math
import time
from collections import Counter
from dataclasses import dataclass, field
from functools import reduce
from operator import add, itemgetter
from datetime import datetime
from typing import Any, Collection, Iterable, cast

import orjson

from . import catalog, fcr, metrics, parking, registry
from .channels import DEFAULTS as CHANNEL_DEFAULTS
from .channels import channel_problem
from .clock import utc_at
from .config import QueueConfig, WallboardConfig
from .events import (
    AGENT_STATES,
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
    MemberAdded,
    MemberPenalty,
    MemberRemoved,
    OutboundCall,
    SpyChanged,
    SurveyResponse,
    WaitingResync,
    WrapupCompleted,
    FeedGap,
    utc,
)
from .feed import ENGINE_SOURCE, DeadLetter, needs_its_entry
from .keys import Keys
from .privacy import mask_number
from .snapshot import (
    AgentCounts,
    AgentSnapshot,
    Callback,
    Caller,
    Explain,
    PausePending,
    QueueSnapshot,
    Rolling,
    Snapshot,
    Total,
    Window,
    trusted,
)
from .store import AsyncClient, Scripts, is_cluster
from .store import loads as _decode  # a script's JSON reply
from .thresholds import AgentAlertTimers, LevelState, QueueLevels, agent_alerts, entries_alerts, evaluate_entries
from .windows import Windows


@dataclass
class ApplyResult:
    applied: int = 0
    duplicates: int = 0
    events: int = 0
    rejected: list[DeadLetter] = field(default_factory=list)  # refused by what Redis knows (apply records them)
    last_ts: float | None = None
    # what the batch touched (set by ``Engine.apply``): the queues of its call transitions and the agents of
    # its records; the lease owner rebuilds only these (``wallboard.incremental``)
    queues: set[str] = field(default_factory=set)
    agents: set[str] = field(default_factory=set)


@dataclass
class Batch:
    """One apply's work: records grouped by partition (``Engine.prepare``), filled in by the two steps."""

    res: ApplyResult
    cursor: str = ""
    events: list = field(default_factory=list)
    by_queue: dict[str, list[tuple[int, list, str | None]]] = field(default_factory=dict)  # (_Q* records)
    agent_items: dict[str, list[tuple[int, list]]] = field(default_factory=dict)  # (agent_batch.lua's records)
    agents: set[str] = field(default_factory=set)
    queues: set[str] = field(default_factory=set)  # those with a record the queue step did not refuse
    # (queue, call id) of the joins and answers applied from feeds whose closes need their entry, and the closes
    # and wrap-ups refused for want of it (``wallboard.parking``)
    opened: set[tuple[str, str]] = field(default_factory=set)
    unknown: list[tuple[DeadLetter, str, str]] = field(default_factory=list)
    gaps: list = field(default_factory=list)
    aparams: str | None = None


# What each event class is to the engine (dispatch on the class, subclasses found through their bases).
(
    _K_JOIN,
    _K_ANSWER,
    _K_ABANDON,
    _K_OVERFLOW,
    _K_CALLBACK,
    _K_COMPLETE,
    _K_WRAP,
    _K_CALLBACK_DONE,
    _K_SURVEY,
    _K_RESYNC,
    _K_AGENT,
    _K_SPY,
    _K_MADD,
    _K_MPEN,
    _K_MREM,
    _K_MISSED,
    _K_DIAL,
    _K_OUTBOUND,
    _K_OTHER,
    _K_GAP,
) = range(20)
_K_STATE = _K_AGENT
_KINDS: dict[type, int] = {
    CallerJoined: _K_JOIN,
    CallerAnswered: _K_ANSWER,
    CallerAbandoned: _K_ABANDON,
    CallerOverflowed: _K_OVERFLOW,
    CallbackRequested: _K_CALLBACK,
    CallCompleted: _K_COMPLETE,
    WrapupCompleted: _K_WRAP,
    CallbackDone: _K_CALLBACK_DONE,
    SurveyResponse: _K_SURVEY,
    WaitingResync: _K_RESYNC,
    AgentStateChanged: _K_STATE,
    SpyChanged: _K_SPY,
    MemberAdded: _K_MADD,
    MemberPenalty: _K_MPEN,
    MemberRemoved: _K_MREM,
    AgentMissed: _K_MISSED,
    DialAttempt: _K_DIAL,
    OutboundCall: _K_OUTBOUND,
    FeedGap: _K_GAP,
}


# The queue script's record is positional (cheaper for Python to encode and for cjson to decode than an object;
# docs/PERFORMANCE.md): these indexes, queue_batch.lua's header, and ``false`` for an absent field.
_QK, _QC, _QT, _QWIN, _QMIN, _QW, _QKN, _QJW, _QJM, _QX = range(10)  # _QX: the kind's own fields from here
_QKINDS = {
    _K_JOIN: "J",
    _K_ANSWER: "A",
    _K_ABANDON: "X",
    _K_OVERFLOW: "O",
    _K_CALLBACK: "O",
    _K_COMPLETE: "C",
    _K_WRAP: "W",
    _K_SURVEY: "V",
    _K_CALLBACK_DONE: "D",
}

# The agent's counted facts (calls handled, missed, survey answers, ...): whole counts kept per window under their
# own names.
_AGENT_COUNTS = tuple(m.store for m in catalog.agent(kind="counter") if m.snapshot and m.unit != "seconds")


def _kind_of(cls: type) -> int:
    for base in cls.__mro__:
        if base in _KINDS:
            _KINDS[cls] = _KINDS[base]
            return _KINDS[cls]
    _KINDS[cls] = _K_OTHER
    return _K_OTHER


def _refusal(code: int, ev, queue: str, expiry_h: float) -> str:
    """Why queue_batch.lua refused an event (its reply's code 2 or 3)."""
    if code == 2:  # a survey answer of a contact this queue never answered (docs/REPORTS.md)
        return (
            f"survey_response: contact {ev.call_id!r} was not answered in queue {queue!r} (still "
            "waiting, abandoned or overflowed): the answer is not counted"
        )
    # an exit without a wait, a close or a wrap-up whose entry Redis does not hold (feed.EXITS_NEED_THEIR_ENTRY)
    # (a conversation still waiting or open keeps its entry; one opened before they did may have lost it)
    never = (
        f"{ev.type}: conversation {ev.call_id!r} in queue {queue!r} was never opened or its entry expired (no "
        f"caller_joined known; an entry is kept centre.entry_expiry_h, {expiry_h:g} h, after its last event)"
    )
    if ev.type == "call_completed":
        return (
            f"{never}: the close is not counted (no completion, handle time or transfer) and ends no agent's "
            "conversation"
        )
    if ev.type == "wrapup_completed":
        return f"{never}: its wrap-up is not counted"
    return f"{never} and the exit gives no wait_s, so its wait is unknown: not counted"


_first = itemgetter(0)  # a record's place in the batch (a C key: the agent step sorts every record)


def _pairs(flat) -> dict:
    """A hash as the scripts' read mode gives it ([field, value, ...]; an empty one may come as {})."""
    if not flat:
        return {}
    it = iter(flat)
    return dict(zip(it, it))


def rolling_counters(rolls) -> dict[str, float]:
    """The rolling window's counters: its minute buckets summed in the window's order (``peak_waiting`` is a
    peak, not a sum). The lease owner hands over its kept sum of the older minutes as the first bucket: the
    same additions in the same order, so the same value."""
    rc: dict[str, float] = {}
    for h in rolls:
        for k, v in h.items():
            if k != "peak_waiting":
                rc[k] = rc.get(k, 0.0) + float(v)
    return rc


def _scored(flat) -> list[tuple[str, float]]:
    """A scored set as [member, score, ...] (ZRANGE WITHSCORES) -> [(member, score)]."""
    if not flat:
        return []
    it = iter(flat)
    return list(zip(it, map(float, it)))  # zip takes a member, then map its score, from the one iterator


# What ``read_parts`` gives per queue, in ``_queue_snapshot``'s order: window counters, rolling minutes' counters,
# waiting callers (call, joined), callers' details, callbacks (call, joined), duplicates, expired.
QueueParts = tuple[dict, list[dict], list[tuple[str, float]], dict, list[tuple[str, float]], Any, Any]

EXPLAINS_KEPT = 50_000  # ratios' explanations kept for reuse (~20 per queue and window; the rest made again)
_JSON_ENCODE = json.JSONEncoder(separators=(",", ":")).encode


def _encode(records: list) -> bytes | str:
    """The scripts' records as compact JSON (cjson reads it). orjson writes it at a third of json's cost (a
    replay's records are ~10 % of its Python, docs/PERFORMANCE.md); the same values decoded: shortest
    round-trip floats both, UTF-8 where json writes \\u escapes (cjson decodes both to the same bytes). What
    orjson refuses (a lone surrogate, an int past 64 bits) json writes as before."""
    try:
        return orjson.dumps(records)
    except TypeError:
        return _JSON_ENCODE(records)


# a change set no owner took (none running) is dropped after this; the next owner starts with a full build anyway
TOUCHED_TTL_S = 3600


@dataclass
class _Seen:
    queues: set[str] = field(default_factory=set)
    agents: set[str] = field(default_factory=set)
    # per queue, the rolling window's minute buckets its records wrote (their minute and an exit's implied
    # join's): the owner re-reads only those (``wallboard.incremental``); a queue without an entry wrote none
    minutes: dict[str, set[int]] = field(default_factory=dict)

    def merge(self, other: _Seen) -> None:
        self.queues |= other.queues
        self.agents |= other.agents
        for q, ms in other.minutes.items():
            self.minutes.setdefault(q, set()).update(ms)


class Engine:
    def __init__(
        self,
        client: AsyncClient,
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
        self.touched = _Seen()  # queues and agents applied to since the owner last took them (``take_touched``)
        self._wid_cache: dict[int, str] = {}
        self._wid_span: tuple[float, float, str] = (0.0, 0.0, "")  # [from, to) all in one window (``_window``)
        self._channels: dict[str, str] = {}
        # queue -> (cursor, the config they were made from, its script parameters)
        self._qparams_text: dict[str, tuple[str, WallboardConfig, str]] = {}
        self.exp_s = int(config.centre.entry_expiry_h * 3600)
        self.bexp_s = int(config.centre.bucket_expiry_h * 3600)
        self.oexp_s = int(config.centre.open_conversation_expiry_h * 3600)
        # first contact resolution (wallboard.fcr): customers recorded by a salted hash, only with a salt
        self.fcr_salt = fcr.load_salt(config)
        self._matters = fcr.matters(config)
        self._fcr_days: dict[str, str] = {}
        # a ratio's explanation per (formula, numerator, denominator, window): most stay as they were from one
        # snapshot to the next, and making one costs as much as looking it up many times
        self._explains: dict[tuple, Explain] = {}

    async def start(self) -> None:
        await self.scripts.load(self.r)

    # ---- applying -------------------------------------------------------------------------------------
    #
    # Performance (docs/PERFORMANCE.md): applying is split into ``prepare`` (pure Python: one pass over the
    # events building the scripts' records) and two round trips, ``queue_step`` and ``agent_step``, so replay
    # can keep several batches in flight (see ``wallboard.replay``). Records are built by a dispatch on the
    # event's class reading its fields straight from the (already validated) model's ``__dict__``: a pydantic
    # ``getattr`` of a field the model does not have costs microseconds per event. The window of an event is
    # looked up per minute (a daily reset falls on a whole minute, checked per minute, see ``_window``).

    def _qparams(self, queue: str, pos: str) -> str:
        """The queue script's parameters: the same text for every batch of the queue with the same cursor
        (live batches have none), made once (a json.dumps per queue a batch was a tenth of a live batch's
        Python)."""
        kept = self._qparams_text.get(queue)
        if kept is not None and kept[0] == pos and kept[1] is self.config:  # (a config put in place: made anew)
            return kept[2]
        text = self._make_qparams(queue, pos)
        self._qparams_text[queue] = (pos, self.config, text)
        return text

    def _make_qparams(self, queue: str, pos: str) -> str:
        q = self.config.queue(queue)
        return json.dumps(
            {
                "sl": q.sl_threshold_s,
                "sh": q.short_abandon_s,
                "exp": self.exp_s,
                "bexp": self.bexp_s,
                "feed": self.feed_name,
                "pos": pos,
                "fexp": self.config.history.daily_keep_days * 86400,
                "wr": self.channel_of(queue) != "voice",  # an open conversation keeps its marker until closed
                "oexp": self.oexp_s,  # ... or this long after its last event, should its close never come
            }
        )

    def _report_day(self, win: str, t: float) -> str:
        """YYYYMMDD of the report day a window starts (or of ``t`` without daily windows): FCR's day index."""
        if win == "all":
            return datetime.fromtimestamp(t, self.windows.tz).strftime("%Y%m%d")
        day = self._fcr_days.get(win)
        if day is None:
            day = self._fcr_days[win] = datetime.fromtimestamp(float(win), self.windows.tz).strftime("%Y%m%d")
        return day

    def channel_of(self, queue: str) -> str:
        """The queue's channel (the config's; voice for a queue it does not list), looked up once per queue."""
        ch = self._channels.get(queue)
        if ch is None:
            ch = self._channels[queue] = self.config.queue(queue).channel
        return ch

    def _window(self, t: float) -> tuple[str, int]:
        """(window id, minute) of an epoch; the window is cached per minute when it is the same at both ends
        of the minute (it only moves forward in time, so then it holds for the whole minute); the last window
        found is kept whole, as a day's events mostly fall in minutes of their own, each seen once."""
        m = int(t // 60) * 60
        lo, hi, sw = self._wid_span
        if lo <= m and m + 60 <= hi:
            return sw, m
        w = self._wid_cache.get(m)
        if w is None:
            w = self.windows.window_id(m)
            if w != self.windows.window_id(math.nextafter(m + 60, m)):
                return self.windows.window_id(t), m  # a reset inside this minute: exact, not cached
            if len(self._wid_cache) > 200_000:
                self._wid_cache.clear()
            self._wid_cache[m] = w
            self._wid_span = self._span_of(w, m)
        return w, m

    def _span_of(self, w: str, m: int) -> tuple[float, float, str]:
        """The stretch known to be in window ``w`` (found for minute ``m``): the whole window when its ends
        say so (the window id only moves forward in time), else that minute."""
        if w == "all":
            return (-math.inf, math.inf, w)
        start = float(w)
        end = self.windows.next_reset_after(start)
        last = math.nextafter(end, start)
        if start <= m < end and self.windows.window_id(start) == w == self.windows.window_id(last):
            return (start, end, w)
        return (m, m + 60, w)

    def _queue_record(self, ev, t: float) -> list | None:
        """The queue script's record of a call transition or resync (None for other events)."""
        kind = _KINDS.get(type(ev)) or _kind_of(type(ev))
        if kind >= _K_AGENT:
            return None
        return self._qrec(kind, ev.__dict__, t)

    def _qrec(self, kind: int, d: dict, t: float) -> list:
        """A positional record (``_Q*``, queue_batch.lua's header): false where a field is absent."""
        if kind == _K_RESYNC:
            return ["R", False, t, False, False, False, False, False, False, d["call_ids"]]
        win, minute = self._window(t)
        rec: list = [_QKINDS[kind], d["call_id"], t, win, minute, False, False, False, False]
        if kind == _K_JOIN:
            cu: str | bool = False
            if self.fcr_salt:
                who = fcr.customer_ident(d["customer"], d["caller"])
                if who:
                    cu = fcr.customer_hash(self.fcr_salt, who)
            rec += (d["caller"] or False, cu)
        elif kind == _K_ANSWER:
            rec += (d["agent"] or False, self._report_day(win, t) if self.fcr_salt else False)
        elif kind == _K_OVERFLOW:
            rec.append(d["reason"])
        elif kind == _K_CALLBACK:
            rec.append("callback")
        elif kind == _K_COMPLETE:
            # transferred: counted once per queue entry, and for the agent
            rec += (d["talk_s"], 1 if d["ended_by"] == "transfer" else False)
        elif kind == _K_WRAP:
            rec.append(d["wrap_s"])
        elif kind == _K_SURVEY:
            # counted when it arrives, with the contact's entry and agent (the script finds them), once per
            # (contact, question): "n" the NPS question (v: promoter 1, detractor -1), "c" a CSAT one (v: top box)
            sq, v = metrics.survey_class(d["score"], d["scale"], self.config.surveys.top_box)
            rec += (d["agent"] or False, sq[0], v)
        w = d.get("wait_s")
        if w is None:
            # an exit, a close or a wrap-up (neither has a wait): counted only if its entry is known
            if _K_ANSWER <= kind <= _K_WRAP and needs_its_entry(d["source"]):
                rec[_QKN] = 1  # (feed.EXITS_NEED_THEIR_ENTRY)
        else:
            rec[_QW] = w
            if w:  # an exit: where its join falls, should the script have to record the join it implies
                jwin, jmin = self._window(t - w)
                if jmin != minute:
                    rec[_QJM] = jmin
                if jwin != win:
                    rec[_QJW] = jwin
        return rec

    def _agent_record(self, ev, t: float) -> list | None:
        """The agent script's record of an agent-side fact (None for other events)."""
        kind = _KINDS.get(type(ev)) or _kind_of(type(ev))
        if kind < _K_AGENT or kind >= _K_OTHER:
            return None
        return self._arec(kind, ev.__dict__, t)

    def _arec(self, kind: int, d: dict, t: float) -> list:
        """A positional record (agent_batch.lua's header): false where a field is absent."""
        if kind == _K_STATE:
            reason: str | bool = False
            pending: str | bool = False
            if d["pause_pending"] and d["state"] in BUSY_STATES:
                # the PBX holds a busy agent paused: kept beside the state (its reason apart, so the call's or
                # wrap-up's time is not split by it), paused when free
                pending = d["reason"] or ""
            elif d["reason"]:
                reason = d["reason"]
            return ["S", t, d["call_id"] or False, d["queue"] or False, d["state"], reason, pending]
        if kind == _K_SPY:
            return ["SP", t, False, False, d["by"], 1 if d["active"] else 0, d["mode"]]
        if kind == _K_MADD:
            return ["MA", t, False, d["queue"], d["penalty"]]
        if kind == _K_MPEN:
            return ["MP", t, False, d["queue"], d["penalty"]]
        if kind == _K_MREM:
            return ["MR", t, False, d["queue"]]
        win, minute = self._window(t)
        if kind == _K_MISSED:
            return ["MS", t, d["call_id"], d["queue"], win, minute, False, int(t - (d["ring_s"] or 0))]
        return ["DA" if kind == _K_DIAL else "OC", t, d["call_id"], False, win, minute]

    async def _register(self, queues: Iterable[str], agents: Iterable[str]) -> None:
        new_q = [q for q in queues if q not in self._seen.queues]
        new_a = [a for a in agents if a and a not in self._seen.agents]
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

    def prepare(self, events: list, cursor: str = "") -> Batch:
        """Group events by partition and build the scripts' records (no I/O; safe to call again)."""
        batch = Batch(ApplyResult(events=len(events)), cursor, events)
        if not events:
            return batch
        by_queue = batch.by_queue
        agent_items = batch.agent_items
        agents = batch.agents
        kinds = _KINDS
        hi = -math.inf
        ts0, t = None, 0.0  # the events of one row share their time: its epoch computed once
        items: list | None  # a queue's (i, record, agent side) or an agent's (i, record)
        for i, ev in enumerate(events):
            d = ev.__dict__
            ts = d["ts"]
            if ts is not ts0:
                ts0, t = ts, ts.timestamp()
            if t > hi:
                hi = t
            ch = d.get("channel")
            if ch is not None and ch != self.channel_of(d["queue"]):
                # a feed that does not check it (jsonl, a mapping): never counted by another channel's measures
                problem = channel_problem(self.config, d["queue"], ch) or ch
                batch.res.rejected.append(DeadLetter(f"{ENGINE_SOURCE}:{ev.source}", problem, ev.model_dump_json()))
                continue
            kind = kinds.get(type(ev))
            if kind is None:
                kind = _kind_of(type(ev))
            a = d.get("agent")
            if kind < _K_AGENT:
                rec = self._qrec(kind, d, t)
                if a and not rec[_QKN]:  # (one the script may refuse: registered once it is not)
                    agents.add(a)
                items = by_queue.get(d["queue"])
                if items is None:
                    items = by_queue[d["queue"]] = []
                agent_side = kind == _K_ANSWER or (
                    kind == _K_COMPLETE and (rec[_QX + 1] or self.channel_of(d["queue"]) != "voice")
                )
                items.append((i, rec, a if agent_side else None))  # a survey's agent: from the script
            elif kind < _K_OTHER:
                if a:
                    agents.add(a)
                items = agent_items.get(a)
                if items is None:
                    items = agent_items[a] = []
                items.append((i, self._arec(kind, d, t)))
            elif kind == _K_GAP:
                batch.gaps.append(ev)
        batch.res.last_ts = hi
        return batch

    async def register_step(self, batch: Batch) -> None:
        """Feed gaps and the registries of queues and agents (before the batch's scripts)."""
        if batch.gaps:
            # the id is in the member so that two gaps alike to the second stay two records, and a re-applied
            # gap (a replay, a restart) stays one
            gaps = {}
            for g in batch.gaps:
                member = {"start": utc(g.start), "length_s": g.length_s, "feed": g.feed, "id": g.id}
                gaps[json.dumps(member)] = g.start.timestamp()
            await self.r.zadd(self.keys.gaps, gaps)
        if self.fcr_salt:
            await self._record_contacts(batch)
        # a queue whose every record may be refused (a close of a conversation never opened) is registered by
        # ``queue_step`` once one is not: a refused close leaves no ghost queue or agent on the board
        sure = [q for q, items in batch.by_queue.items() if any(not rec[_QKN] for _, rec, _ in items)]
        await self._register(sure, batch.agents)

    async def _record_contacts(self, batch: Batch) -> None:
        """Each queue entry of a known customer under the customer (their own slot), before the queue scripts
        save the feed's cursor: a replay adds the same member again, which changes nothing."""
        # kept as long as the reports reach back (a month's FCR needs each contact's next N days), trimmed of
        # contacts older than that
        keep = (self.config.history.daily_keep_days + self.config.fcr.days) * 86400
        pipe = None
        for queue, items in batch.by_queue.items():
            matter = fcr.matter_of(self.config, queue, self._matters)
            for _, rec, _ in items:
                cu: str = rec[_QX + 1] if rec[_QK] == "J" else ""
                if cu:
                    pipe = pipe or self.r.pipeline(transaction=False)
                    key = self.keys.customer_contacts(cu)
                    t = rec[_QT]
                    pipe.zadd(key, {f"{matter}|{rec[_QC]}|{int(t)}": t})
                    pipe.zremrangebyscore(key, "-inf", f"({t - keep}")
                    pipe.expire(key, keep)
        if pipe is not None:
            await pipe.execute()

    async def queue_step(self, batch: Batch, queues: Iterable[str] | None = None) -> None:
        """The call transitions of the batch's queues (``queues``: only those, the caller having run
        ``register_step``; None: all of them, registries first), in one round trip."""
        if queues is None:
            await self.register_step(batch)
            queues = batch.by_queue
        calls, owners = [], []
        bs = self.config.engine.batch_size
        enc = _encode
        items: list | None  # a queue's (i, record, agent side), then an agent's (i, record)
        for queue in queues:
            items = batch.by_queue[queue]
            slot = self.keys.queue(queue)
            params = self._qparams(queue, batch.cursor)
            for k in range(0, len(items), bs):
                chunk = items[k : k + bs]
                calls.append(("queue_batch", slot, (params, enc([r for _, r, _ in chunk]))))
                owners.append((queue, chunk))
        results = await self.scripts.run_calls(self.r, calls) if calls else []
        agent_items = batch.agent_items
        applied = dups = 0
        late_q: set[str] = set()  # what the records the script might have refused name (``register_step``)
        late_a: set[str] = set()
        for (queue, chunk), out in zip(owners, results):
            written = self.channel_of(queue) != "voice"
            for (i, rec, agent), reply in zip(chunk, _decode(out)):
                dup, join = reply[0], reply[1]
                if dup >= 2:  # refused by what the queue's entries say: a dead letter, nothing counted
                    ev = batch.events[i]
                    source = f"{ENGINE_SOURCE}:{ev.source}"
                    why = _refusal(dup, ev, queue, self.config.centre.entry_expiry_h)
                    dead = DeadLetter(source, why, ev.model_dump_json())
                    batch.res.rejected.append(dead)
                    if rec[_QK] in ("C", "W"):  # parked until the conversation opens (webhooks come unordered)
                        batch.unknown.append((dead, queue, rec[_QC]))
                    continue
                batch.queues.add(queue)
                k = rec[_QK]
                if k in ("J", "A") and needs_its_entry(batch.events[i].source):
                    batch.opened.add((queue, rec[_QC]))
                if rec[_QKN]:
                    late_q.add(queue)
                    named = batch.events[i].__dict__.get("agent")
                    if named:
                        late_a.add(named)
                if dup:
                    dups += 1
                else:
                    applied += 1
                survey = k == "V"
                if survey:
                    agent = reply[2] or None  # the contact's answering agent (else the event's)
                # the agent side of an answer (H), a transfer (T) or a survey answer (V): counted once per (call,
                # queue entry), in the agent's slot; on a written channel the answer opens the agent's conversation
                # and its close (CC) ends it (the agent's load and busy time, wallboard.channels)
                if written and k == "C":
                    # a written conversation's close ends it for the agent who answered it (the customer's close
                    # names none) and for the agent it names (one who took it over by accepting it again)
                    closers = sorted({a for a in (agent, reply[2] if len(reply) > 2 else None) if a})
                    for closer in closers:
                        cc = ["CC", rec[_QT], rec[_QC], queue, rec[_QWIN], rec[_QMIN], join]
                        agent_items.setdefault(closer, []).append((i, cc))
                if agent:
                    items = agent_items.get(agent)
                    if items is None:
                        items = agent_items[agent] = []
                    if survey:
                        items.append(
                            (
                                i,
                                [
                                    "V",
                                    rec[_QT],
                                    rec[_QC],
                                    queue,
                                    rec[_QWIN],
                                    rec[_QMIN],
                                    join,
                                    rec[_QX + 1],
                                    rec[_QX + 2],
                                ],
                            )
                        )
                    elif k == "A":
                        handled = ["H", rec[_QT], rec[_QC], queue, rec[_QWIN], rec[_QMIN], join]
                        if written:
                            handled.append(self.channel_of(queue))
                        items.append((i, handled))
                    elif k == "C" and rec[_QX + 1]:
                        items.append((i, ["T", rec[_QT], rec[_QC], queue, rec[_QWIN], rec[_QMIN], join]))
        batch.res.applied += applied
        batch.res.duplicates += dups
        if late_q or late_a:  # before the agent step writes the agent's slot
            await self._register(late_q, late_a)
            batch.agents |= late_a

    async def agent_step(self, batch: Batch, agents: Iterable[str] | None = None) -> None:
        """Each agent's facts in source order (after the queue step: answers carry their entry's join);
        ``agents``: only those."""
        if not batch.agent_items:
            return
        if batch.aparams is None:
            times = [rec[1] for items in batch.agent_items.values() for _, rec in items]  # (each record's t)
            bounds = self.windows.bounds(times, self.bexp_s)
            batch.aparams = json.dumps({"exp": self.exp_s, "bexp": self.bexp_s, "oexp": self.oexp_s, "bounds": bounds})
        aparams = batch.aparams
        bs = self.config.engine.batch_size
        enc = _encode
        acalls = []
        for agent in batch.agent_items if agents is None else agents:
            items = batch.agent_items[agent]
            items.sort(key=_first)
            recs = [r for _, r in items]
            base = self.keys.agent(agent)
            for k in range(0, len(recs), bs):
                acalls.append(("agent_batch", base, (aparams, enc(recs[k : k + bs]))))
        dups = 0
        for n in await self.scripts.run_calls(self.r, acalls):
            dups += int(n)
        batch.res.duplicates += dups

    async def apply(self, events: list, cursor: str = "") -> ApplyResult:
        """Apply events (in source order). Safe to call again with the same events: nothing moves twice."""
        batch = self.prepare(events, cursor)
        if events:
            await self.queue_step(batch)
            await self.agent_step(batch)
            res = batch.res
            if res.rejected:  # after the steps: a crash before re-applies and finds them again
                ids = await self._dead_letter_ids(res.rejected)
                if batch.unknown:
                    await parking.park(self, batch.unknown, dict(zip(map(id, res.rejected), ids)))
            res.queues.update(batch.queues)
            res.agents.update(batch.agents)
            res.agents.update(batch.agent_items)
            # only once applied: the owner's next snapshot reads what these wrote
            touched = self.touched
            touched.queues.update(res.queues)
            touched.agents.update(res.agents)
            for q in batch.queues:
                items = batch.by_queue[q]
                ms = touched.minutes.get(q)
                if ms is None:
                    ms = touched.minutes[q] = set()
                for _, rec, _ in items:
                    m = rec[_QMIN]  # (a resync's record writes no bucket: false)
                    if m is not False:
                        ms.add(m)
                    jm = rec[_QJM]
                    if jm is not False:
                        ms.add(jm)
            if batch.opened:  # closes parked for these conversations: applied now (counted once, as ever)
                await parking.unpark(self, batch.opened)
        return batch.res

    async def share_touched(self) -> None:
        """Hand this process's change set to the lease owner through Redis (``Keys.touched``). The owner builds
        only what changed (``wallboard.incremental``) and knows its own batches; an ingester that is not the
        owner (another feed on the same centre: the chat platform's beside the PBX's) calls this after each
        batch, or the owner would show its changes only at its next full rebuild."""
        t, self.touched = self.touched, _Seen()
        members = [f"q:{q}" for q in t.queues] + [f"a:{a}" for a in t.agents]
        members += [f"m:{m}:{q}" for q, ms in t.minutes.items() for m in ms]
        if members:
            pipe = self.r.pipeline(transaction=False)
            pipe.sadd(self.keys.touched, *members)
            pipe.expire(self.keys.touched, TOUCHED_TTL_S)
            try:
                await pipe.execute()
            except BaseException:  # kept for the next try (Redis away): a lost set would leave views stale
                self.touched.merge(t)
                raise

    async def take_shared_touched(self) -> _Seen:
        """The owner's half: what other ingesters applied since it last looked (read and cleared at once)."""
        pipe = self.r.pipeline(transaction=True)
        pipe.smembers(self.keys.touched)
        pipe.delete(self.keys.touched)
        members, _ = await pipe.execute()
        seen = _Seen()
        for m in members:
            kind, _, name = (m.decode() if isinstance(m, bytes) else m).partition(":")
            if kind == "m":  # a minute bucket of a queue: "m:<minute>:<queue>"
                minute, _, queue = name.partition(":")
                seen.minutes.setdefault(queue, set()).add(int(minute))
            else:
                (seen.queues if kind == "q" else seen.agents).add(name)
        return seen

    async def expire_callers(self, now: datetime) -> int:
        """``centre.caller_expiry_s``: drop every waiting caller who joined more than that long before ``now``
        (their leave never arrived). Like a resync's ghost, they stop waiting and nothing is counted (``:stats``
        ``expired`` counts them); a late exit is still counted once, as what it was, and takes the caller off
        ``expired`` again. The lease owner runs it each tick, replay once at its end. Returns how many."""
        limit = self.config.centre.caller_expiry_s
        if not limit:
            return 0
        if now.tzinfo is None:
            raise ValueError("expire_callers needs an aware datetime (the clock's now)")
        # an exclusive bound: a caller who joined exactly ``limit`` ago is not yet older than it
        rec = _encode([["E", False, False, False, False, False, False, False, False, f"({now.timestamp() - limit!r}"]])
        params = json.dumps({"exp": self.exp_s, "bexp": self.bexp_s})
        queues = await self.queue_names()
        calls = [("queue_batch", self.keys.queue(q), (params, rec)) for q in queues]
        if not self.scripts.shas:
            await self.scripts.load(self.r)
        n = 0
        for q, out in zip(queues, await self.scripts.run_pipeline(self.r, calls)):
            k = json.loads(out)[0][1]
            if k:
                n += k
                self.touched.queues.add(q)  # its waiting callers changed: the owner rebuilds it
        return n

    async def dead_letters(self, items: list[DeadLetter]) -> int:
        """Record rejected input with its reason and position, counted once per record (a feed that re-reads
        after a restart hands the same bad lines over again); returns how many were new."""
        return sum(1 for i in await self._dead_letter_ids(items) if i)

    async def _dead_letter_ids(self, items: list[DeadLetter]) -> list[str]:
        """``dead_letters``, giving each record's stream id ("" for one listed before)."""
        if not items:
            return []
        args: list[str] = [str(time.time()), str(self.exp_s), "100000"]
        for d in items:
            args += [d.digest, d.source, d.reason, d.raw[:4000]]
        out = await self.scripts.run_pipeline(self.r, [("dead_letters", self.keys.centre, tuple(args))])
        return [i.decode() if isinstance(i, bytes) else i for i in json.loads(out[0])]

    # ---- snapshots ------------------------------------------------------------------------------------

    async def queue_names(self) -> list[str]:
        return await registry.queue_names(self.r, self.config, self.keys)

    async def agent_ids(self) -> list[str]:
        return await registry.agent_ids(self.r, self.config, self.keys)

    async def build_snapshot(self, now: datetime, seq: int = 0) -> Snapshot:
        """Read the state at ``now`` and compute every figure (no writes)."""
        tnow = now.timestamp()
        wid = self.windows.window_id(tnow)
        win_start = self.windows.window_start(tnow)
        minutes = self.windows.rolling_minutes_at(tnow)
        roll_since = utc_at(minutes[0] if minutes else tnow)
        queues = await self.queue_names()
        agents = await self.agent_ids()
        wlabel = "all input" if win_start is None else f"since reset {utc(win_start)}"

        qdata, aparts, dlcount, gaps = await self.read_parts(queues, agents, wid, minutes, win_start)
        agent_snaps: dict[str, AgentSnapshot] = {}
        members: dict[str, dict[str, int]] = {}
        for a in agents:
            cfg, st, queues_of, win = aparts[a]
            members[a] = queues_of
            agent_snaps[a] = self._agent_snapshot(a, cfg, st, queues_of, win, tnow, win_start)

        per_queue = self._agent_counts_by_queue(queues, agent_snaps, members)
        qsnaps = {q: self._queue_snapshot(q, *qdata[q], per_queue[q], tnow, roll_since, wlabel) for q in queues}
        total = self._total(qsnaps, agent_snaps, members, roll_since, wlabel)
        window = Window(kind="all", since=None) if win_start is None else Window(kind="since_reset", since=win_start)
        return Snapshot(
            seq=seq,
            at=now,
            centre=self.config.centre.name,
            timezone=self.config.centre.timezone,
            window=window,
            queues=qsnaps,
            total=total,
            agents=agent_snaps,
            dead_letters=dlcount,
            gaps=gaps,
        )

    async def read_parts(
        self, queues, agents, wid, minutes, win_start, centre: bool = True, mins_of: dict | None = None
    ) -> tuple[dict[str, QueueParts], dict[str, tuple], int, list]:
        """What a snapshot is built from, for these queues and agents: per queue the raw tuple
        ``_queue_snapshot`` takes, per agent (config, state hash, queues it is in, window counters), and the
        centre's dead-letter count and gaps (``centre``). Shared by ``build_snapshot`` and the lease owner's
        incremental snapshots (``wallboard.incremental``), so both read and parse exactly alike. ``mins_of``:
        per queue, the minute buckets to read instead of ``minutes`` (the owner keeps the others)."""
        # One script call per queue and per agent (each in its own slot), each replying with one JSON text:
        # a few thousand replies parsed by json in C instead of tens of thousands of hash replies parsed by
        # redis-py (docs/PERFORMANCE.md). The values are the strings Redis holds, as HGETALL/ZRANGE gave them.
        if not self.scripts.shas:
            await self.scripts.load(self.r)
        qread = json.dumps({"read": {"win": wid, "mins": minutes}})
        aread = json.dumps({"read": {"win": wid}})
        if mins_of is None:
            calls = [("queue_batch", self.keys.queue(q), (qread, "[]")) for q in queues]
        else:
            texts: dict[tuple, str] = {}
            calls = []
            for q in queues:
                ms = mins_of.get(q)
                if ms is None:
                    text = qread
                else:
                    k = tuple(ms)
                    text = texts.get(k) or texts.setdefault(k, json.dumps({"read": {"win": wid, "mins": ms}}))
                calls.append(("queue_batch", self.keys.queue(q), (text, "[]")))
        calls += [("agent_batch", self.keys.agent(a), (aread, "[]")) for a in agents]

        # the scripts' calls packed and read by ``Scripts.run_calls`` (redis-py's pipeline cost ~17 us of Python a
        # call, 311 calls a publish at the live churn), then the centre's two reads: one connection at a time, as
        # the reads were before, so that a client whose pool gives one (``?max_connections=1``) still builds
        raw = await self.scripts.run_calls(self.r, calls)
        extra: list = []
        if centre:
            pipe = self.r.pipeline(transaction=False)
            pipe.get(self.keys.dlcount)
            pipe.zrangebyscore(self.keys.gaps, win_start.timestamp() if win_start else "-inf", "+inf")
            extra = await pipe.execute()
        if raw and isinstance(raw[0], bytes):  # a plain client's replies as sent: decoded as its own would be
            enc = cast(Any, self.r).connection_pool.get_encoder()  # (a cluster's replies come decoded)
            raw = [r.decode(enc.encoding, enc.encoding_errors) for r in raw]
        loads = _decode  # orjson: ~40 % of json's cost on these replies
        qdata: dict[str, QueueParts] = {}
        for q, text in zip(queues, raw):
            d = loads(text)
            qdata[q] = (
                _pairs(d["w"]),
                [_pairs(h) for h in d["m"]] if d["m"] else [],
                _scored(d["wt"]),
                _pairs(d["cl"]),
                _scored(d["cb"]),
                d["d"] or None,
                d.get("x"),
            )
        pos = len(queues)
        cfg_agents = self._cfg_agents()
        aparts = {}
        for a in agents:
            d = loads(raw[pos])
            st, qs, qts, win = _pairs(d["s"]), _pairs(d["q"]), _pairs(d["t"]), _pairs(d["w"])
            if d.get("cv"):  # open written conversations, one channel name each: counted per channel
                st["_conv"] = dict(Counter(d["cv"]))
            pos += 1
            cfg = cfg_agents.get(a)
            queues_of = dict(cfg.skills) if cfg is not None else {}
            for q in qts:  # a membership event seen for this queue overrides the configured skills
                if q in qs:
                    queues_of[q] = int(float(qs[q]))
                else:
                    queues_of.pop(q, None)
            aparts[a] = (cfg, st, queues_of, win)
        if not centre:
            return qdata, aparts, 0, []
        return qdata, aparts, int(extra[0] or 0), [json.loads(g) for g in extra[1]]

    def _cfg_agents(self) -> dict:
        cached = getattr(self, "_cfg_agents_cache", None)
        if cached is None or cached[0] is not self.config:
            cached = self._cfg_agents_cache = (self.config, {a.id: a for a in self.config.agents})
        return cached[1]

    def _cfg_queue(self, q: str) -> QueueConfig:
        """``config.queue(q)`` without its linear search (once per rebuilt queue at every publish)."""
        cached = getattr(self, "_cfg_queues_cache", None)
        if cached is None or cached[0] is not self.config:
            cached = self._cfg_queues_cache = (self.config, {c.name: c for c in self.config.queues})
        return cached[1].get(q) or self.config.queue(q)

    @staticmethod
    def _counters(h: dict) -> dict[str, float]:
        return dict(zip(h, map(float, h.values())))

    def _figures(self, c: dict[str, float], formula: str, count_overflow: bool, window: str) -> tuple[dict, dict]:
        """Counters and ratios of one window (``metrics.window_figures``), and how each ratio was computed."""
        fig, ratios = metrics.window_figures(c, formula, count_overflow)
        explain = {}
        made = self._explains
        for name, r in ratios.items():
            fig[name] = r.value
            key = (r.formula, r.numerator, r.denominator, window)
            ex = made.get(key)
            if ex is None:
                if len(made) >= EXPLAINS_KEPT:
                    made.clear()
                ex = made[key] = Explain(
                    formula=r.formula, numerator=r.numerator, denominator=r.denominator, window=window
                )
            explain[name] = ex
        return fig, explain

    def _kept_figures(self, kept: dict, part: str, c: dict[str, float], cfg, window: str) -> tuple[dict, dict]:
        """``_figures`` of a queue's window, those of its previous build (in ``kept``) while its counters, formula
        and window are the same: a queue rebuilt for its agents alone has the figures it had. Read only."""
        was = kept.get(part)
        if was is not None and was[0] == c and was[1] == (cfg.sl_formula, cfg.count_overflow, window):
            return was[2], was[3]
        fig, explain = self._figures(c, cfg.sl_formula, cfg.count_overflow, window)
        kept[part] = (c, (cfg.sl_formula, cfg.count_overflow, window), fig, explain)
        return fig, explain

    def _queue_snapshot(
        self,
        q,
        win,
        rolls,
        waiting,
        callers,
        callbacks,
        dups,
        expired,
        counts: AgentCounts,
        tnow,
        roll_since,
        wid,
        kept: dict | None = None,
    ) -> QueueSnapshot:
        """``kept``: the lease owner's waiting callers and callbacks of the queue's previous build ((call,
        joined, number) -> model, (call, joined) -> model), reused when unchanged with their age set again, and
        replaced by this build's (``wallboard.incremental``): a long queue's callers are not made again at every
        publish."""
        cfg = self._cfg_queue(q)
        # one path for both builds: a full build keeps nothing (an empty ``kept``), so every model is made
        if kept is None:
            kept = {}
        fig, explain = self._kept_figures(kept, "w", self._counters(win), cfg, wid)
        rfig, rexplain = self._kept_figures(kept, "r", rolling_counters(rolls), cfg, f"rolling {utc(roll_since)}")
        explain = dict(explain)
        for k, v in rexplain.items():
            explain[f"rolling.{k}"] = v
        keep = self.config.centre.mask_keep_digits
        mask = self.config.centre.mask_callers
        # a model is kept while its call, its joining and its number are the same (keyed by the three); each
        # step over the callers is a comprehension (C's loop): a long queue's callers cost ~0.5 µs each a
        # rebuild, not the ~1.5 µs of a loop of Python statements (docs/PERFORMANCE.md, eighth session)
        old_c, old_b = kept.get("c", {}), kept.get("b", {})
        number_of = callers.get
        ckeys = [(cid, j, number_of(cid)) for cid, j in waiting]
        caller_list = list(map(old_c.get, ckeys))
        waits = [round(w, 3) if (w := tnow - j) > 0.0 else 0.0 for _cid, j in waiting]  # round(max(0.0, w), 3)
        for i in [i for i, one in enumerate(caller_list) if one is None]:
            cid, j, number = ckeys[i]
            caller_list[i] = Caller(
                call_id=cid,
                entered_at=utc_at(j),
                wait_s=waits[i],
                caller=mask_number(number, keep) if mask else number,
            )
        for one, wait in zip(caller_list, waits):
            one.__dict__["wait_s"] = wait  # as made above, not validated again
        cb_list = list(map(old_b.get, callbacks))  # keyed by (call, joined)
        ages = [round(tnow - j, 3) for _cid, j in callbacks]
        for i in [i for i, b in enumerate(cb_list) if b is None]:
            cid, j = callbacks[i]
            cb_list[i] = Callback(call_id=cid, entered_at=utc_at(j), age_s=ages[i])
        for b, age in zip(cb_list, ages):
            b.__dict__["age_s"] = age
        # the largest wait_s and age_s, as max() over the models gives (None when there are none)
        longest = max(waits) if waits else None
        oldest = max(ages) if ages else None
        kept["c"], kept["b"] = dict(zip(ckeys, caller_list)), dict(zip(callbacks, cb_list))
        serving = counts.logged_in - counts.paused
        if cfg.channel == "voice":
            ewt = metrics.ewt_s(len(caller_list), fig["aht_s"], serving)
        else:  # concurrent conversations: slots, not agents (wallboard.channels)
            ewt = metrics.ewt_slots_s(len(caller_list), fig["aht_s"], counts.slots, counts._open_slots)
        # made without validating again (a tenth of a rebuild): every value below is already of its field's type
        # (the figures as ``metrics.window_figures`` types them, the models made and validated): the same model
        # and JSON as validation gives (tests/test_snapshot_construct.py)
        values = dict(
            fig,
            label=cfg.label,
            channel=cfg.channel,
            sl_formula=cfg.sl_formula,
            sl_threshold_s=float(cfg.sl_threshold_s),
            short_abandon_s=float(cfg.short_abandon_s),
            count_overflow=cfg.count_overflow,
            waiting=len(caller_list),
            longest_wait_s=longest,
            ewt_s=ewt,
            callbacks_pending=len(cb_list),
            oldest_callback_s=oldest,
            callers=caller_list,
            callbacks=cb_list,
            agent_counts=counts,
            rolling=trusted(Rolling, dict(rfig, minutes=self.config.centre.rolling_minutes, since=roll_since)),
            explain=explain,
            levels={m: "ok" for m in cfg.thresholds},
            duplicates=int(dups or 0),
            expired=int(expired or 0),
        )
        return trusted(QueueSnapshot, values)

    @staticmethod
    def _count(counts: AgentCounts, a: AgentSnapshot, channel: str | None = None) -> None:
        """Count an agent by state; for a queue of a written ``channel``, also its slots there: its capacity,
        its open conversations, and whether it has room for one more (``free``)."""
        # the fields' values themselves (whole numbers): pydantic's __setattr__ costs more than the count, and
        # an owner recounts every agent of the queues it rebuilds at each publish
        d = counts.__dict__
        state = a.state
        if state == "logged_out":
            d["logged_out"] += 1
            return
        d["logged_in"] += 1
        d[state] += 1
        if state == "paused":
            r = a.reason or "none"
            by = d["paused_by_reason"]
            by[r] = by.get(r, 0) + 1
        elif channel is not None and channel != "voice":
            cap = a.capacity.get(channel, 0)
            busy = a.conversations.get(channel, 0)
            d["slots"] += cap
            d["in_use"] += busy
            blocked = a.voice_blocks_written and state in ("on_call", "ringing")
            if busy < cap and not blocked:
                d["free"] += 1
                counts._open_slots += cap - busy

    def _agent_counts(self, q, agents, members) -> AgentCounts:
        counts = AgentCounts()
        for a, snap in agents.items():
            if q in members[a]:
                self._count(counts, snap, self.channel_of(q))
        return counts

    def _agent_counts_by_queue(self, queues, agents, members) -> dict[str, AgentCounts]:
        """``_agent_counts`` of every queue in one pass over the agents (each agent once per queue it is in,
        in the same agent order, so each queue's counts are built exactly as ``_agent_counts`` builds them);
        not queues x agents, which is 2.5 million steps at 5,000 agents and 500 queues."""
        out = {q: AgentCounts() for q in queues}
        channel = self.channel_of
        for a, snap in agents.items():
            for q in members[a]:
                counts = out.get(q)
                if counts is not None:
                    self._count(counts, snap, channel(q))
        return out

    def _total(
        self, qsnaps: dict[str, QueueSnapshot], agents, members, roll_since, wid, counts: AgentCounts | None = None
    ) -> Total:
        """Sums of queue entries; SL as the sum of numerators over the sum of denominators; agents once
        (``counts``: the agents' counts as ``total_agent_counts`` gives them, when the caller has them)."""

        def summed(parts):
            # each counter summed over the queues in their order from 0, as a loop adding them would (floats
            # are not associative), but by the C loops of reduce and map (the owner does this at every publish)
            parts = list(parts)
            values = [part.__dict__ for part, _ in parts]
            c: dict = {k: reduce(add, map(itemgetter(k), values), 0) for k in metrics.COUNTERS}
            by_reason: dict[str, int] = {}
            num = den = 0.0
            for v in values:
                for r, n in v["overflowed_by_reason"].items():
                    by_reason[r] = by_reason.get(r, 0) + n
            for _, ex in parts:
                num += ex.numerator
                den += ex.denominator
            fig, explain = self._figures({k: float(v) for k, v in c.items()}, "answered", False, wid)
            fig.update({k: c[k] for k in metrics.COUNTERS})
            fig["overflowed_by_reason"] = by_reason
            fig["service_level"] = num / den if den else None
            explain["service_level"] = Explain(
                formula="sum of queue SL numerators / sum of queue SL denominators (each by its own formula)",
                numerator=num,
                denominator=den,
                window=wid,
            )
            return fig, explain

        fig, explain = summed((s, s.explain["service_level"]) for s in qsnaps.values())
        rfig, _ = summed((s.rolling, s.explain["rolling.service_level"]) for s in qsnaps.values())
        if counts is None:
            counts = self.total_agent_counts(agents, members)
        return Total(
            **fig,
            waiting=sum(s.waiting for s in qsnaps.values()),
            longest_wait_s=max(
                (s.longest_wait_s for s in qsnaps.values() if s.longest_wait_s is not None), default=None
            ),
            callbacks_pending=sum(s.callbacks_pending for s in qsnaps.values()),
            expired=sum(s.expired for s in qsnaps.values()),
            agent_counts=counts,
            rolling=Rolling(minutes=self.config.centre.rolling_minutes, since=roll_since, **rfig),
            explain=explain,
        )

    @staticmethod
    def agent_times(w: dict, state: str, since: float | None, reason: str | None, tnow: float, win_start):
        """Seconds per state and paused seconds per reason in the window, the open interval counted up to
        ``tnow`` (the lease owner ticks these locally with the same arithmetic: ``wallboard.incremental``)."""
        secs = {s: w.get(f"{s}_s", 0.0) for s in AGENT_STATES if s != "logged_out"}
        by_reason = {k.split(":", 1)[1]: v for k, v in w.items() if k.startswith("paused_s:")}
        if since is not None and state != "logged_out":
            # the open interval counts up to now (clipped to the window start)
            start = max(since, win_start.timestamp()) if win_start else since
            open_s = max(0.0, tnow - start)
            secs[state] = secs.get(state, 0.0) + open_s
            if state == "paused":
                by_reason[reason or ""] = by_reason.get(reason or "", 0.0) + open_s
        return secs, by_reason

    def total_agent_counts(self, agents, members) -> AgentCounts:
        """The centre's agents counted once: those in a queue or logged in (``count_centre``)."""
        counts = AgentCounts()
        for a, snap in agents.items():
            if members[a] or snap.state != "logged_out":
                self.count_centre(counts, snap)
        return counts

    def count_centre(self, counts: AgentCounts, a: AgentSnapshot) -> None:
        """An agent in the centre total's counts: by state, and in ``free`` when it is free for the centre
        (``centre_free``). The total keeps no slots: they are per channel, on the written queues' rows."""
        self._count(counts, a)
        if self.centre_free(a):
            counts.__dict__["free"] += 1

    def centre_free(self, a: AgentSnapshot) -> bool:
        """Whether an agent can take a contact now on at least one channel it serves (the total's agents free,
        as each queue row counts it free): available and serving a phone queue (or no written one), or with
        room for one more conversation on a written channel (as ``_count`` counts a written queue's free)."""
        if a.state in ("logged_out", "paused"):
            return False
        if a.state == "available" and (not a.capacity or any(self.channel_of(q) == "voice" for q in a.queues)):
            return True
        if a.voice_blocks_written and a.state in ("on_call", "ringing"):
            return False
        return any(a.conversations.get(ch, 0) < cap for ch, cap in a.capacity.items())

    def _agent_snapshot(self, aid, cfg, st, queues_of, win, tnow, win_start) -> AgentSnapshot:
        w = self._counters(win)
        state = st.get("state") or "logged_out"
        since = float(st["since"]) if st.get("since") else None
        reason = st.get("reason") or None
        secs, by_reason = self.agent_times(w, state, since, reason, tnow, win_start)
        written = {ch for ch in map(self.channel_of, queues_of) if ch != "voice"}
        capacity = {
            ch: cfg.capacity_of(ch) if cfg is not None else CHANNEL_DEFAULTS[ch].capacity for ch in sorted(written)
        }
        pending = st.get("pp") or None
        # made without validating again, as a queue's entry is (``_queue_snapshot``): each value of its type
        values = dict(
            name=cfg.name if cfg else None,
            state=state,
            reason=reason,
            since=utc_at(since) if since is not None else None,
            pause_pending=(
                PausePending(reason=st.get("pr") or None, since=utc_at(float(pending)))
                if pending and state in BUSY_STATES
                else None
            ),
            call_id=st.get("call_id") or None,
            call_queue=st.get("call_queue") or None,
            spied_by=json.loads(st["spied_by"]) if st.get("spied_by") else {},
            queues=queues_of,
            **{k: int(w.get(k, 0)) for k in _AGENT_COUNTS},
            missed_in_row=int(float(st.get("missed_in_row") or 0)),
            talk_s=round(secs["on_call"], 3),
            wrap_s=round(secs["wrap_up"], 3),
            available_s=round(secs["available"], 3),
            pause_s=round(secs["paused"], 3),
            conversation_s=round(w.get("conversation_s", 0.0), 3),
            pause_s_by_reason={k: round(v, 3) for k, v in by_reason.items()},
            capacity=capacity,
            conversations=st.get("_conv") or {},
            voice_blocks_written=bool(cfg.voice_blocks_written) if cfg is not None else False,
        )
        return trusted(AgentSnapshot, values)

    # ---- levels and alerts (the lease owner's job) -------------------------------------------------------

    async def load_levels(self) -> LevelState:
        return LevelState.from_hash(await self.r.hgetall(self.keys.alerts))

    async def save_levels(self, new: LevelState, old: LevelState) -> None:
        put, gone = new.diff(old)
        if not put and not gone:
            return
        pipe = self.r.pipeline(transaction=True)
        if put:
            pipe.hset(self.keys.alerts, mapping=put)  # type: ignore[arg-type]  # redis-py's Mapping key is invariant
        if gone:
            pipe.hdel(self.keys.alerts, *gone)
        await pipe.execute()

    def evaluate(
        self,
        snap: Snapshot,
        state: LevelState,
        now: datetime,
        timers: AgentAlertTimers | None = None,
        changed_agents: Iterable[str] | None = None,
        queue_levels: QueueLevels | None = None,
        changed_queues: Collection[str] | None = None,
    ) -> tuple[Snapshot, LevelState]:
        """Levels per queue metric (hysteresis on ``now``), alerts, business hours, per-agent alerts.

        With ``timers`` (the lease owner's), agents' alerts are evaluated only for ``changed_agents`` (None: a
        full build, every agent) and the agents whose time-in-state limit came since; the others get the alerts
        they had (``AgentAlertTimers``). With ``queue_levels``, a queue not in ``changed_queues`` (None: every
        queue) keeps its levels when evaluating it again would give the same (``QueueLevels``)."""
        tz = self.windows.tz
        configured = {q.name: q for q in self.config.queues}  # not config.queue: a linear search per queue
        cache = queue_levels if changed_queues is not None else None
        if queue_levels is not None and cache is None:
            queue_levels.reset()
        # each queue evaluated on its own entries, the state made once from them all (not copied per queue)
        grouped = QueueLevels.by_queue(state)
        changed = False
        for name, q in snap.queues.items():
            cfg = configured.get(name) or self.config.queue(name)
            was = grouped.get(name, {})
            kept = None
            if cache is not None and changed_queues is not None and name not in changed_queues:
                kept = cache.unchanged(cfg, q, was, now, tz)
            if kept is not None:  # as evaluating it again would give (``QueueLevels``)
                q.__dict__.update(levels=kept[2], alerts=kept[3], open=kept[1])
                continue
            levels, entries = evaluate_entries(cfg, q, {m: was[m] for m in cfg.thresholds if m in was}, now, tz=tz)
            if entries != was:
                grouped[name] = entries
                changed = True
            q.levels = {m: lv for m, lv in levels.items() if m in cfg.thresholds or lv == "closed"}
            q.open = not any(lv == "closed" for lv in levels.values())
            q.alerts = entries_alerts(entries)
            if queue_levels is not None:
                queue_levels.keep(cfg, entries, q.levels, q.alerts, q.open)
        if changed:
            state = LevelState({(qn, m): st for qn, entries in grouped.items() for m, st in entries.items()})
        acfg = self.config.agent_alerts
        ids = timers.take(changed_agents, now) if timers is not None else None
        if timers is None or ids is None:
            for aid, a in snap.agents.items():
                if a.since:
                    a.alerts = agent_alerts(a, acfg, now)
                    if timers is not None:
                        timers.evaluated(aid, a, now)
            return snap, state
        agents = snap.agents
        for aid in ids:
            one = agents.get(aid)
            if one is not None and one.since:
                one.alerts = agent_alerts(one, acfg, now)
                timers.evaluated(aid, one, now)
            else:
                timers.forget(aid)
        for aid, alerts in list(timers.alerting.items()):
            if aid not in ids:
                one = agents.get(aid)
                if one is None:
                    timers.forget(aid)
                else:
                    one.__dict__["alerts"] = alerts
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
        if is_cluster(self.r):
            # a cluster pipeline takes no PUBLISH (it has no key to route by): sent on its own, after the SETs;
            # a cluster forwards a PUBLISH to every node, so views subscribed anywhere receive it
            await pipe.execute()
            await self.r.publish(self.keys.channel, summary)
            await self.r.publish(self.keys.agents_channel, agents)
            return snap
        pipe.publish(self.keys.channel, summary)
        pipe.publish(self.keys.agents_channel, agents)
        await pipe.execute()
        return snap
