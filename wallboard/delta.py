"""Send what changed (issue 16 item 3): the delta message, the owner's side that makes it, a view's side that
applies it. Its JSON Schema is committed as docs/delta.schema.json.

The lease owner publishes, on ``P:{c}:snap:delta``, a small **delta** per snapshot: its ``seq``, the queues and
agents whose content changed (each whole) or were removed, the centre total, and the head (``at``, window, dead
letters; the feed gaps when they changed). A **full** snapshot (both parts, on ``P:{c}:snap`` and
``P:{c}:snap:agents``) goes out every ``engine.full_publish_s``, after anything that makes the owner rebuild in
full, when most entries changed, and when a view asks (``P:{c}:snap:want``), preceded by the delta to it when
one can be made: a view in step that reads no clock figure need not read the full parts. The stored parts
(``P:{c}:summary``, ``P:{c}:agents_detail``) are what a view holds after applying every message, written at each
publish from the entries' cached JSON (only what changed is serialised again).

What "changed" means: anything but the figures that move with the clock alone (a waiting caller's ``wait_s``
and the queue's ``longest_wait_s``, a callback's ``age_s`` and ``oldest_callback_s``; an agent's time in its
current state: ``talk_s``, ``wrap_s``, ``available_s``, ``pause_s``, ``pause_s_by_reason``). Those stay as the
last message that carried the entry had them (views tick them from ``entered_at`` / ``since``, as they always
did), and every full snapshot brings them up to date. Levels and alerts are evaluated by the owner on the ticking
figures and a change in them is sent.

A view holds the latest full snapshot and applies each delta whose ``seq`` follows its own; on a gap it reads the
stored parts again (they are at the gap's ``seq`` or later: the owner writes them before publishing) and asks for
a full one. ``SnapshotStream`` does this for the desk, the board and the hub.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import AsyncIterator, Callable, Collection, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from sys import intern
from time import perf_counter
from typing import Annotated, Any, Literal, get_args, get_origin

from typing_extensions import TypedDict

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError

from .clock import UTC_TIME, UtcTime
from .keys import Keys
from .snapshot import SCHEMA_VERSION, AgentSnapshot, QueueSnapshot, Snapshot, Summary, Total, Window, _M
from .store import is_cluster, loads

log = logging.getLogger(__name__)

# the figures that move with the clock alone: not a change (see the module's docstring)
QUEUE_CLOCK = ("longest_wait_s", "oldest_callback_s")
AGENT_CLOCK = ("talk_s", "wrap_s", "available_s", "pause_s", "pause_s_by_reason")
WANT_TTL_S = 30  # a view's request for a full snapshot, kept until the owner takes it (or no owner runs)


class Delta(_M):
    """What changed since the message with ``seq - 1``."""

    type: Literal["delta"] = "delta"
    schema_version: int = SCHEMA_VERSION
    seq: int
    at: UtcTime = Field(description="Server time the snapshot was computed at (UTC, ISO 8601 with Z).")
    window: Window
    queues: dict[str, QueueSnapshot] = Field(default_factory=dict, description="Queues changed or added, whole.")
    queues_removed: list[str] = Field(default_factory=list)
    queue_order: list[str] | None = Field(
        None, description="Every queue in snapshot order, when applying the above would not give that order."
    )
    agents: dict[str, AgentSnapshot] = Field(default_factory=dict, description="Agents changed or added, whole.")
    agents_removed: list[str] = Field(default_factory=list)
    agent_order: list[str] | None = None
    total: Total
    gaps: list[dict] | None = Field(None, description="Feed gaps in this window, when they changed; null: as before.")
    dead_letters: int = 0


def schema_json() -> str:
    return json.dumps(Delta.model_json_schema(), indent=2, sort_keys=True) + "\n"


@dataclass(frozen=True)
class AgentsPart:
    """The agent detail part of a snapshot."""

    seq: int
    at: datetime
    agents: dict[str, AgentSnapshot] = field(default_factory=dict)


def parse_summary(text: str) -> Summary:
    return Summary.model_validate_json(text)


# A view's reading lets the event loop turn (a frame drawn, a key handled) after this much work: 5,000 agents read in
# one go were ~100 ms, 500 queues ~40 ms, and a delta of ~100 queues changed (each validated and kept: 0.4-1 ms) 40-120
# ms; counts of entries between turns did not fit both an entry kept as it was (~10 us) and one read anew.
SLICE_S = 0.005


class _Slices:
    """Turns of the event loop, one each ``SLICE_S`` of reading."""

    def __init__(self) -> None:
        self.since = perf_counter()

    async def turn(self) -> None:
        if perf_counter() - self.since >= SLICE_S:
            await asyncio.sleep(0)
            self.since = perf_counter()


# orjson reads a text at half of json's cost (a delta of 99 queues and 211 agents: 8.7 -> 4.9 ms), the same values
# but for an int past 64 bits, which it reads as a float: a text with 19 digits in a row (none that the owner
# writes: its figures are smaller, its call ids shorter) is read by json, so the view reads every text as before
_DIGIT = bytes(1 if 48 <= i <= 57 else 0 for i in range(256))
_LONG_RUN = b"\x01" * 19


def _read_json(text: str | bytes) -> Any:
    """A snapshot part's or message's JSON, as ``json.loads`` reads it (``store.loads``, json for a long number)."""
    raw = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    if not isinstance(raw, (bytes, bytearray)) or _LONG_RUN in raw.translate(_DIGIT):
        return json.loads(text)
    return loads(text)


Seen = dict[str, list]  # a view's: name -> [its JSON as read (an agent's without its clock figures), its model]


async def read_summary(text: str, seen: Seen | None = None) -> Summary:
    """A summary (as ``parse_summary``), letting the event loop turn every ``SLICE_S`` of reading.

    ``seen`` (a view's, kept from one message to the next, deltas too: ``read_delta``): a queue whose JSON is what
    it was keeps its model, the very object. A full summary every few seconds brought 500 queues' models anew
    (~45 tracked objects each, most in its explanations), though only the queues that changed differ, and a
    view's garbage collections walk every one of them."""
    data = _read_json(text)
    raw = data.get("queues") if isinstance(data, dict) else None
    if isinstance(raw, dict):
        queues = {}
        slices = _Slices()
        for k, v in raw.items():
            queues[k] = _queue(k, v, seen)
            await slices.turn()
        data["queues"] = queues  # models already: taken as they are
        _forget(seen, queues)
    return Summary.model_validate(data)


def _as_field(model: type[_M], name: str) -> object:
    """The model's field ``name``: its type, with its constraints if it has any."""
    f = model.model_fields[name]
    return Annotated[(f.annotation, *f.metadata)] if f.metadata else f.annotation


def _fields(model: type[_M], names: Iterable[str]) -> TypeAdapter:
    """Some of a model's fields, each validated as the model validates it (none required; no other allowed)."""
    typed = TypedDict(f"_{model.__name__}Fields", {k: _as_field(model, k) for k in names}, total=False)  # type: ignore[misc]
    typed.__pydantic_config__ = ConfigDict(extra="forbid")  # type: ignore[attr-defined]
    return TypeAdapter(typed)


# the clock figures validated as the model validates them
_AGENT_CLOCK = _fields(AgentSnapshot, AGENT_CLOCK)
_QUEUE_FIELDS = _fields(QueueSnapshot, QueueSnapshot.model_fields)  # (``_moved``)


def _orders(tp: Any) -> list[tuple[str, ...]]:
    """Where a value of type ``tp`` keeps its JSON's key order: the paths to its dicts (``()``: it is one; a
    model's own fields are in its order, whatever the JSON's)."""
    if get_origin(tp) is dict:
        if _orders(get_args(tp)[1]):
            raise NotImplementedError(f"{tp}: the key order of dicts in a dict's values")
        return [()]
    if get_origin(tp) is list and _orders(get_args(tp)[0]):
        raise NotImplementedError(f"{tp}: the key order of dicts in a list's items")
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return [(k, *p) for k, f in tp.model_fields.items() for p in _orders(f.annotation)]
    return []


# a model's fields that keep their JSON's key order -> the paths in each to those dicts
Orders = dict[str, tuple[tuple[str, ...], ...]]
_TOP = ((),)  # the field is such a dict itself: its paths, the one object (``_same``)


def _field_orders(model: type[_M], names: Iterable[str] | None = None) -> Orders:
    """The fields of ``model`` (of ``names``, when given) that keep their JSON's key order: field -> the paths in
    it to those dicts (``_orders``)."""
    out: dict[str, list[tuple[str, ...]]] = {}
    for path in _orders(model):
        if names is None or path[0] in names:
            out.setdefault(path[0], []).append(path[1:])
    return {k: _TOP if paths == list(_TOP) else tuple(paths) for k, paths in out.items()}


# a queue's (explain, levels, alerts, breakdowns, the counts' paused_by_reason)
_QUEUE_ORDERS = _field_orders(QueueSnapshot)
# an agent's (queues, spied_by, capacity, conversations), compared in the JSON kept; its clock figures'
# (pause_s_by_reason: blanked in the JSON kept) with its model's, where a dict of the JSON is a dict
_AGENT_ORDERS = _field_orders(AgentSnapshot, [k for k in AgentSnapshot.model_fields if k not in AGENT_CLOCK])
_AGENT_CLOCK_ORDERS = _field_orders(AgentSnapshot, AGENT_CLOCK)
if any(paths is not _TOP for paths in _AGENT_CLOCK_ORDERS.values()):
    raise NotImplementedError(f"a clock figure's key orders below its top: {_AGENT_CLOCK_ORDERS}")


def _in_order(paths: tuple[tuple[str, ...], ...], x: Any, y: Any) -> bool:
    """``x == y`` (JSON) given: are their dicts at ``paths`` (``Orders``' values) in the same key order? A dict
    equals another in any order, but the model read keeps its JSON's."""
    for path in paths:
        a, b = x, y
        for k in path:
            if type(a) is not dict or type(b) is not dict:
                break
            a, b = a.get(k), b.get(k)
        else:
            if type(a) is dict and type(b) is dict and list(a) != list(b):
                return False
    return True


def _same(old: dict, v: dict, orders: Orders) -> bool:
    """An entry's JSON ``v`` is the one read before (``old``), its dicts (``orders``: its model's) in the same key
    order."""
    if old != v:
        return False
    for k, paths in orders.items():
        # (a field that is such a dict, as each of an agent's: compared here, a dict of one key or none not at all;
        # an agent read again as it was ~1 us over the equality alone, ~2 us through ``_in_order``)
        if paths is _TOP:
            x = old.get(k)
            if type(x) is dict and len(x) > 1 and list(x) != list(v[k]):
                return False
        elif not _in_order(paths, old.get(k), v.get(k)):
            return False
    return True


async def parse_agents(text: str, seen: Seen | None = None, clock: bool | Collection[str] = True) -> AgentsPart:
    """An agents part, letting the event loop turn every ``SLICE_S`` of reading (a view's frames go on).

    ``seen`` (a view's, kept from one message to the next, deltas too): an agent whose JSON is what it was but for
    its clock figures (``AGENT_CLOCK``: its seconds in each state today, moving every second for every agent
    logged in) is its model read before with those figures read anew (``model_copy``: its queues, counts and
    the rest are the objects they were), or that very model when they did not move either. A full agents part
    every few seconds brought 5,000 agents' models anew (~10 tracked objects each) for a view's collections to
    walk; now 3 for an agent that only ticked. ``clock=False`` (a view that shows no clock figure: the desk, whose
    ``view.agent_cells`` reads none): such an agent keeps its model as it was, the clock figures as its last
    change brought them; a full part makes no object for it (5,000 models a part at 5,000 agents, kept for the
    part's life and made while its parsed text was alive: pymalloc's arenas stayed pinned, the desk's memory grew).
    ``clock`` a collection of agent ids: those agents' clock figures are brought up to date, no other's (the
    desk's agents whose scorecard is open: ``live_card`` rests on them)."""
    data = _read_json(text)
    agents = {}
    slices = _Slices()
    for k, v in (data.get("agents") or {}).items():
        agents[k] = _agent(k, v, seen, clock if isinstance(clock, bool) else k in clock)
        await slices.turn()
    _forget(seen, agents)
    return AgentsPart(seq=int(data["seq"]), at=UTC_TIME.validate_python(data["at"]), agents=agents)


async def read_delta(text: str, queues_seen: Seen | None = None, agents_seen: Seen | None = None) -> Delta:
    """A delta (as ``Delta.model_validate_json``); its queues and agents noted in a view's ``seen`` (see
    ``read_summary`` and ``parse_agents``), so that the next full part keeps the models a delta brought. The event
    loop turns every ``SLICE_S`` of reading."""
    data = _read_json(text)
    if isinstance(data, dict):
        slices = _Slices()
        for key, read, seen in (("queues", _queue, queues_seen), ("agents", _agent, agents_seen)):
            raw = data.get(key)
            if isinstance(raw, dict):
                out = {}
                for k, v in raw.items():
                    out[k] = read(k, v, seen)
                    await slices.turn()
                data[key] = out
    return Delta.model_validate(data)


def _queue(name: str, v: object, seen: Seen | None) -> QueueSnapshot:
    was = seen.get(name) if seen is not None else None
    if was is not None and type(v) is dict and _same(was[0], v, _QUEUE_ORDERS):
        return was[1]  # (the JSON read before kept: this one goes at once)
    moved = None if was is None else _moved(was, v)
    if moved is not None:
        q, kept = moved
    else:
        q, kept = QueueSnapshot.model_validate(v), None
    if seen is not None:
        seen[name] = [kept or _kept(v), q]
    return q


def _moved(was: list, v: object) -> tuple[QueueSnapshot, dict] | None:
    """The queue read before (``was``: its JSON, its model) with the fields whose JSON moved read anew (of its
    ``explain``, the explanations that moved): the model ``QueueSnapshot.model_validate(v)`` gives, at a fraction
    of the cost, and the JSON to keep (what did not move kept as it was: ``_kept`` walks only what moved). At
    5,000 events/s nearly every queue changes at every publish, but mostly in its counts, and a queue whole is
    ~9 KB (callers, callbacks, explanations) that a view read anew. None when ``v`` has other fields than the
    queue read before (validated whole: the model says what is wrong)."""
    old, model = was
    if not isinstance(v, dict) or v.keys() != old.keys():
        return None
    moved = {k: x for k, x in v.items() if old[k] != x}
    for k, paths in _QUEUE_ORDERS.items():  # (equal in another key order: moved)
        if k in v and k not in moved and not _in_order(paths, old[k], v[k]):
            moved[k] = v[k]
    kept = dict(old)
    ex, ex_old = moved.get("explain"), old.get("explain")
    same: dict = {}
    if isinstance(ex, dict) and isinstance(ex_old, dict):
        same = {e: model.explain[e] for e, x in ex.items() if e in model.explain and ex_old.get(e) == x}
        moved["explain"] = {e: x for e, x in ex.items() if e not in same}
    update = _QUEUE_FIELDS.validate_python(moved)
    for k, x in moved.items():
        kept[intern(k)] = _kept(x)
    if same:
        update["explain"] = {e: same[e] if e in same else update["explain"][e] for e in ex}  # type: ignore[union-attr]
        kept["explain"] = {intern(e): ex_old[e] if e in same else kept["explain"][e] for e in ex}  # type: ignore[union-attr]
    return model.model_copy(update=update), kept


def _agent(name: str, v: object, seen: Seen | None, clock_figures: bool = True) -> AgentSnapshot:
    if seen is None or not isinstance(v, dict):
        return AgentSnapshot.model_validate(v)
    clock = {f: v[f] for f in AGENT_CLOCK if f in v}
    v.update(dict.fromkeys(clock))  # the clock figures' places kept: an agent with fewer of them is another
    was = seen.get(name)
    if was is None or not _same(was[0], v, _AGENT_ORDERS):
        a = AgentSnapshot.model_validate({**v, **clock})
        seen[name] = [_kept(v), a]
        return a
    if not clock_figures:
        return was[1]  # (its clock dict's key order too as its last change brought it)
    held = was[1].__dict__
    moved = {f: x for f, x in clock.items() if held[f] != x}
    for f in _AGENT_CLOCK_ORDERS:  # (equal in another key order: moved; each such a dict itself, as ``_same``'s)
        x = clock.get(f)
        if type(x) is dict and len(x) > 1 and f not in moved and list(x) != list(held[f]):
            moved[f] = x
    if moved:
        was[1] = was[1].model_copy(update=_AGENT_CLOCK.validate_python(moved))
    return was[1]


def _kept(v: Any) -> Any:
    """JSON kept for the next comparison, its keys the one interned copy of each name: orjson shares a key's
    string through a cache of 2,048 that 5,000 agents' names keep evicting, so each entry kept held its own
    copies of 'state', 'since', ...: ~10,000 more strings every few minutes at 5,000 agents, until every entry
    had been replaced (up to ~8 MB)."""
    if type(v) is dict:
        # (a value that is not a container taken as it is, not through a call: most of them, a third of the cost)
        return {intern(k): _kept(x) if type(x) in _NESTED else x for k, x in v.items()}
    if type(v) is list:
        return [_kept(x) if type(x) in _NESTED else x for x in v]
    return v


_NESTED = (dict, list)


def _forget(seen: Seen | None, now: dict) -> None:
    """A full part: what it no longer has is not kept."""
    if seen is not None and len(seen) > len(now):
        for k in [k for k in seen if k not in now]:
            del seen[k]


# ---- the owner's side ------------------------------------------------------------------------------------


def _queue_sig(q: QueueSnapshot) -> dict:
    """A queue's content but the figures that move with the clock."""
    d = dict(q.__dict__)
    for k in QUEUE_CLOCK:
        del d[k]
    d["callers"] = [(c.call_id, c.entered_at, c.caller) for c in q.callers]
    d["callbacks"] = [(c.call_id, c.entered_at) for c in q.callbacks]
    return d


def _agent_sig(a: AgentSnapshot, anchor) -> dict:
    """An agent's content but its time in the current state, plus what that time is counted from (``anchor``:
    a state left and taken again within one publish has the same ``since`` to the second, not the same start)."""
    d = dict(a.__dict__)
    for k in AGENT_CLOCK:
        del d[k]
    d[""] = anchor
    return d


def _key(name: str) -> str:
    return json.dumps(name, ensure_ascii=False)


class DeltaPublisher:
    """The lease owner's publishing: a full snapshot or a delta against what was last sent.

    ``changes`` tells what the build re-read (``IncrementalSnapshots``: ``full_build``, ``changed_queues``,
    ``changed_agents``, ``anchor(agent)``, ``agent_index()``) and ticks the agents written out (``tick``); only
    those are compared with what was sent, and every queue's levels and alerts (the owner's evaluation moves with
    the clock), and the alerts of every agent, or of those ``publish`` is told may have alerts besides the ones
    sent with alerts."""

    def __init__(self, client, keys: Keys, changes, full_publish_s: float = 5.0):
        self.r = client
        self.keys = keys
        self.changes = changes
        self.full_publish_s = full_publish_s
        self.fulls = 0
        self.deltas = 0
        self.last_sizes = (0, 0)  # (queues, agents) in the last delta
        self.last_bytes = 0  # the last messages published (a delta, or both parts of a full one and its delta)
        self.invalidate()

    def invalidate(self) -> None:
        """The next publish is a full snapshot (a new lease, a reconnect: the views may hold anything)."""
        self.qsig: dict[str, dict] = {}
        self.asig: dict[str, dict] = {}
        self.qtext: dict[str, str] = {}  # per entry: '"name":{...}' as last sent
        self.atext: dict[str, str] = {}
        self.alerted: set[str] = set()  # agents last sent with alerts
        self.gaps: list | None = None
        self.full_at: float | None = None
        self.last_t = float("-inf")

    async def publish(self, snap: Snapshot, now: datetime, alerting: Collection[str] | None = None) -> Snapshot:
        """Give the snapshot its ``seq``; store both parts; publish a delta or, when due, the full snapshot.
        ``alerting``: the agents that may have alerts now (the owner's ``AgentAlertTimers.alerting``, after
        ``Engine.evaluate`` with them); None: any agent may."""
        pipe = self.r.pipeline(transaction=False)
        pipe.incr(self.keys.seq)
        pipe.getdel(self.keys.snap_want)
        seq, want = await pipe.execute()
        snap = snap.model_copy(update={"seq": seq})
        tnow = now.timestamp()
        back = tnow < self.last_t  # the clock went back
        full = self.full_at is None or want is not None or tnow - self.full_at >= self.full_publish_s or back
        self.last_t = tnow
        # a full snapshot goes out with the delta to it when there is one: a view in step that needs no clock
        # figure (the desk) applies the delta and need not read the full parts (``SnapshotStream(skip_fulls=...)``)
        delta = None if self.full_at is None or back else self._delta(snap, alerting)
        text = None if delta is None else self._delta_text(delta)
        if text is not None:
            self.deltas += 1
        if delta is None or full:
            await self._full(snap, tnow, text)
        else:
            await self._send(snap, text, full=False)
        return snap

    def _delta(self, snap: Snapshot, alerting: Collection[str] | None = None) -> Delta | None:
        """The delta against what was sent, or None when a full snapshot is as good (most entries changed)."""
        ch = self.changes
        every = ch.full_build
        queues, agents = snap.queues, snap.agents
        cq = ch.changed_queues
        out_q: dict[str, QueueSnapshot] = {}
        made: dict[str, dict] = {}  # the signatures made here, kept below for what is sent (not made again)
        for q, qs in queues.items():
            sig = self.qsig.get(q)
            if sig is None:
                out_q[q] = qs
            elif every or q in cq:
                new = made[q] = _queue_sig(qs)
                if new != sig:
                    out_q[q] = qs
            elif qs.levels != sig["levels"] or qs.alerts != sig["alerts"] or qs.open != sig["open"]:
                out_q[q] = qs
        ca = ch.changed_agents
        out_a: dict[str, AgentSnapshot] = {}
        amade: dict[str, dict] = {}
        look: Iterable[tuple[str, AgentSnapshot]] = agents.items()
        if alerting is not None and not every and len(self.asig) == len(agents):
            # an agent not re-read whose alerts changed has alerts now or was sent with some: only those and
            # the re-read are compared (in the snapshot's order), not the whole centre
            index = ch.agent_index()
            names = sorted(
                (a for a in set(ca).union(alerting, self.alerted) if a in agents), key=lambda a: index.get(a, -1)
            )
            look = [(a, agents[a]) for a in names]
        for a, s in look:
            sig = self.asig.get(a)
            if sig is None:
                out_a[a] = s
            elif every or a in ca:
                new = amade[a] = _agent_sig(s, ch.anchor(a))
                if new != sig:
                    out_a[a] = s
            elif s.alerts != sig["alerts"]:
                out_a[a] = s
        if 2 * (len(out_q) + len(out_a)) > len(queues) + len(agents):
            return None
        q_removed = [q for q in self.qtext if q not in queues]
        a_removed = [a for a in self.atext if a not in agents]
        q_order = _order(self.qtext, queues, out_q, q_removed)
        a_order = _order(self.atext, agents, out_a, a_removed)
        for q in q_removed:
            del self.qtext[q], self.qsig[q]
        for a in a_removed:
            del self.atext[a], self.asig[a]
            self.alerted.discard(a)
        if q_order is not None:  # the cache keeps the snapshot's order
            self.qtext = {q: self.qtext.get(q, "") for q in q_order}
        if a_order is not None:
            self.atext = {a: self.atext.get(a, "") for a in a_order}
        for q, qs in out_q.items():
            self.qsig[q] = made.get(q) or _queue_sig(qs)
            self.qtext[q] = f"{_key(q)}:{qs.model_dump_json()}"
        ch.tick(out_a)  # their time in state as at this build (``IncrementalSnapshots.defer_ticks``)
        for a, s in out_a.items():
            sig = self.asig[a] = amade.get(a) or _agent_sig(s, ch.anchor(a))
            if sig["alerts"]:
                self.alerted.add(a)
            else:
                self.alerted.discard(a)
            self.atext[a] = f"{_key(a)}:{s.model_dump_json()}"
        gaps = None
        if snap.gaps != self.gaps:  # sent only when they changed (a long day of gaps is not small)
            gaps = self.gaps = list(snap.gaps)
        self.last_sizes = (len(out_q), len(out_a))
        return Delta.model_construct(
            type="delta",
            schema_version=snap.schema_version,
            seq=snap.seq,
            at=snap.at,
            window=snap.window,
            queues=out_q,
            queues_removed=q_removed,
            queue_order=q_order,
            agents=out_a,
            agents_removed=a_removed,
            agent_order=a_order,
            total=snap.total,
            gaps=gaps,
            dead_letters=snap.dead_letters,
        )

    async def _full(self, snap: Snapshot, tnow: float, delta: str | None = None) -> None:
        ch = self.changes
        ch.tick()
        self.qsig = {q: _queue_sig(qs) for q, qs in snap.queues.items()}
        self.asig = {a: _agent_sig(s, ch.anchor(a)) for a, s in snap.agents.items()}
        self.alerted = {a for a, sig in self.asig.items() if sig["alerts"]}
        self.qtext = {q: f"{_key(q)}:{qs.model_dump_json()}" for q, qs in snap.queues.items()}
        self.atext = {a: f"{_key(a)}:{s.model_dump_json()}" for a, s in snap.agents.items()}
        self.gaps = list(snap.gaps)
        self.full_at = tnow
        self.fulls += 1
        await self._send(snap, delta, full=True)

    async def _send(self, snap: Snapshot, delta: str | None, full: bool) -> None:
        """Store both parts as a view holds them now; publish the delta (when there is one), then both parts when
        it is a full one."""
        summary = self._summary_text(snap)
        agents = self._agents_text(snap)
        out = [] if delta is None else [(self.keys.delta_channel, delta)]
        if full:
            out += [(self.keys.channel, summary), (self.keys.agents_channel, agents)]
        self.last_bytes = sum(len(text) for _, text in out)
        pipe = self.r.pipeline(transaction=False)
        pipe.set(self.keys.summary, summary)
        pipe.set(self.keys.agents_detail, agents)
        if is_cluster(self.r):  # a cluster pipeline takes no PUBLISH (see Engine.publish)
            await pipe.execute()
            for ch, text in out:
                await self.r.publish(ch, text)
            return
        for ch, text in out:
            pipe.publish(ch, text)
        await pipe.execute()

    def _delta_text(self, delta: Delta) -> str:
        """The delta as its model writes it, its queues and agents from the entries' JSON just made (not again)."""
        head = delta.model_copy(update={"queues": {}, "agents": {}}).model_dump_json()
        i, j = head.index('"queues":{}'), head.index('"agents":{}')  # the head's own: no entry is in it yet
        q = ",".join(self.qtext[name] for name in delta.queues)
        a = ",".join(self.atext[name] for name in delta.agents)
        return "".join((head[:i], '"queues":{', q, "}", head[i + 11 : j], '"agents":{', a, "}", head[j + 11 :]))

    def _summary_text(self, snap: Snapshot) -> str:
        # the head as the model writes it (whatever fields it has), the queues as last sent
        head = snap.model_copy(update={"queues": {}, "agents": {}}).summary_json()
        return head.replace('"queues":{}', "".join(('"queues":{', ",".join(self.qtext.values()), "}")), 1)

    def _agents_text(self, snap: Snapshot) -> str:
        head = snap.model_dump_json(include={"schema_version", "seq", "at"})
        return "".join((head[:-1], ',"agents":{', ",".join(self.atext.values()), "}}"))


def _order(sent: dict, now: dict, out: dict, removed: list[str]) -> list[str] | None:
    """The new order, when keeping the sent order (less what was removed) and adding the new entries at the end
    would not give it."""
    gone = set(removed)
    expect = [k for k in sent if k not in gone] + [k for k in out if k not in sent]
    return None if expect == list(now) else list(now)


# ---- a view's side ---------------------------------------------------------------------------------------


# the head of a full part as the owner writes it (``DeltaPublisher._summary_text``, ``_agents_text``)
_HEAD = re.compile(r'\{"schema_version":\d+,"seq":(\d+),"at":"([^"]+)"')
HEAD_CHARS = 120


def older(seq: int, at: datetime, held_seq: int, held_at: datetime) -> bool:
    """Whether a full part is older than the one held: a lower ``seq`` and computed no later. A lower ``seq``
    computed later is a new run (the seq counter restarted: a demo started again, a namespace wiped, a fresh
    Redis, a restored backup), taken so that the views follow it rather than wait for its seq to pass the old."""
    return seq < held_seq and at <= held_at


class Mirror:
    """A view's copy of the snapshot, kept from full parts and deltas. ``agents``: whether it keeps the agent
    detail (the board and the hub do not)."""

    def __init__(self, agents: bool = True):
        self.want_agents = agents
        self.summary: Summary | None = None
        self.agents: AgentsPart | None = None
        self.gaps = 0  # deltas that did not follow (a resync each)

    @property
    def seq(self) -> int:
        return self.summary.seq if self.summary is not None else -1

    def in_step(self) -> bool:
        return self.summary is not None and (
            not self.want_agents or (self.agents is not None and self.agents.seq == self.summary.seq)
        )

    def full_summary(self, s: Summary) -> bool:
        """Take a full summary unless it is older than what is held (see ``older``)."""
        if self.summary is not None and older(s.seq, s.at, self.summary.seq, self.summary.at):
            return False
        self.summary = s
        return True

    def full_agents(self, part: AgentsPart) -> bool:
        if self.agents is not None and older(part.seq, part.at, self.agents.seq, self.agents.at):
            return False
        self.agents = part
        return True

    def apply(self, d: Delta) -> Literal["applied", "old", "gap"]:
        """Apply a delta that follows what is held; ``gap`` when one (or more) is missing, or when it is of a
        new run (a lower ``seq`` computed later): resynchronise."""
        if self.summary is not None and d.seq <= self.summary.seq:
            if d.at > self.summary.at:  # the seq restarted: the stored parts are the new run's
                self.gaps += 1
                return "gap"
            return "old"
        s = self.summary
        if s is None or not self.in_step() or d.seq != s.seq + 1:
            self.gaps += 1
            return "gap"
        queues = dict(s.queues)
        for q in d.queues_removed:
            queues.pop(q, None)
        queues.update(d.queues)
        if d.queue_order is not None:
            queues = {q: queues[q] for q in d.queue_order if q in queues}
        update = {
            "seq": d.seq,
            "at": d.at,
            "window": d.window,
            "queues": queues,
            "total": d.total,
            "dead_letters": d.dead_letters,
        }
        if d.gaps is not None:
            update["gaps"] = d.gaps
        self.summary = s.model_copy(update=update)
        if self.want_agents and self.agents is not None:
            agents = self.agents.agents
            if d.agents or d.agents_removed or d.agent_order is not None:
                agents = dict(agents)
                for a in d.agents_removed:
                    agents.pop(a, None)
                agents.update(d.agents)
                if d.agent_order is not None:
                    agents = {a: agents[a] for a in d.agent_order if a in agents}
            self.agents = AgentsPart(seq=d.seq, at=d.at, agents=agents)
        return "applied"


class SnapshotStream:
    """Every snapshot part a view needs, parsed and kept current: the stored parts first, then each published
    full part or delta applied (``Mirror``). On a gap it reads the stored parts again and asks the owner for a
    full snapshot. Yields a ``Summary`` and (with ``agents``) an ``AgentsPart`` whenever they change."""

    def __init__(
        self,
        client,
        keys: Keys,
        agents: bool = True,
        on_ready: Callable[[], None] | None = None,
        clock_figures: bool | Collection[str] = True,
        skip_fulls: bool = False,
    ):
        self.client = client
        # a full part at the seq and time held (its delta applied) is not read when it would bring only clock
        # figures up to date that the view does not read (the desk ticks its own; the agents part only while
        # ``clock_figures`` names none): a 3 MB agents part at 5,000 agents is ~20 ms of orjson alone
        self.skip_fulls = skip_fulls
        self.skipped = 0
        self.full_seq = -1  # the seq of the last full snapshot handled (its last part read or skipped, or stored)
        # False: a full agents part leaves them as the agent's last change had them; a collection of agent ids
        # (read at each part: the caller may change it): only those agents' are brought up to date
        self.clock_figures = clock_figures
        self.keys = keys
        self.on_ready = on_ready  # called once subscribed and the stored parts read (there may be none yet)
        self.mirror = Mirror(agents)
        self.queues_seen: Seen = {}  # the queues and agents as last read (``read_summary``, ``parse_agents``)
        self.agents_seen: Seen = {}
        self.rejected = 0
        self.resyncs = 0

    def _channels(self) -> list[str]:
        out = [self.keys.channel, self.keys.delta_channel]
        if self.mirror.want_agents:
            out.append(self.keys.agents_channel)
        return out

    async def ask_full(self) -> None:
        """Ask the lease owner for a full snapshot at its next publish."""
        await self.client.set(self.keys.snap_want, "1", ex=WANT_TTL_S)

    async def _stored(self) -> list[Summary | AgentsPart]:
        """The stored parts (a full snapshot as of the latest publish), as far as they are newer."""
        out: list[Summary | AgentsPart] = []
        summary, agents = await self.client.mget(self.keys.summary, self.keys.agents_detail)
        if summary:
            s = await self._parse(self.keys.channel, summary)
            if isinstance(s, Summary) and self.mirror.full_summary(s):
                out.append(s)
                if not self.mirror.want_agents:
                    self.full_seq = s.seq
        if agents and self.mirror.want_agents:
            a = await self._parse(self.keys.agents_channel, agents)
            if isinstance(a, AgentsPart) and self.mirror.full_agents(a):
                out.append(a)
                self.full_seq = a.seq
        return out

    async def _parse(self, channel: str, text: str) -> Summary | AgentsPart | Delta | None:
        try:
            if channel == self.keys.delta_channel:
                # (a view without the agent detail keeps none: no full agents part would ever forget them)
                return await read_delta(text, self.queues_seen, self.agents_seen if self.mirror.want_agents else None)
            if channel == self.keys.agents_channel:
                return await parse_agents(text, self.agents_seen, self.clock_figures)
            return await read_summary(text, self.queues_seen)
        # (RecursionError: json's, for a text nested too deep, which pydantic's reader refused as a ValidationError)
        except (ValidationError, ValueError, KeyError, TypeError, RecursionError) as e:
            self.rejected += 1
            log.warning("ignored a malformed snapshot message on %s: %s", channel, e)
            return None

    def _held(self, channel: str, text: str) -> bool:
        """A full part that ``skip_fulls`` leaves unread: of the seq and time the view holds, in step, and (the
        agents part) with no agent's clock figures wanted. Its head, as the owner writes it, says which it is; a
        text with another head is read."""
        if not self.skip_fulls or channel == self.keys.delta_channel or not self.mirror.in_step():
            return False
        if channel == self.keys.agents_channel:
            held: Summary | AgentsPart | None = self.mirror.agents
            if self.clock_figures:  # True, or agents named (an open scorecard): the part brings their figures
                return False
        else:
            held = self.mirror.summary
        head = _HEAD.match(text[:HEAD_CHARS]) if isinstance(text, str) else None
        if held is None or head is None or int(head[1]) != held.seq:
            return False
        try:
            return UTC_TIME.validate_python(head[2]) == held.at
        except ValidationError:
            return False

    async def parts(self) -> AsyncIterator[Summary | AgentsPart]:
        pubsub = self.client.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(*self._channels())
            stored = await self._stored()
            if self.on_ready is not None:
                self.on_ready()
            while stored:  # not kept: the first parts would live as long as the subscription
                yield stored.pop(0)
            async for message in pubsub.listen():
                if message.get("type") != "message":
                    continue
                channel = message["channel"]
                last = channel == (self.keys.agents_channel if self.mirror.want_agents else self.keys.channel)
                if self._held(channel, message["data"]):
                    self.skipped += 1
                    if last:
                        self.full_seq = self.mirror.seq
                    continue
                item = await self._parse(channel, message["data"])
                if item is None:
                    continue
                if last and not isinstance(item, Delta):
                    self.full_seq = item.seq
                if isinstance(item, Delta):
                    result = self.mirror.apply(item)
                    if result == "applied":
                        yield self.mirror.summary  # type: ignore[misc]
                        if self.mirror.want_agents and (item.agents or item.agents_removed or item.agent_order):
                            yield self.mirror.agents  # type: ignore[misc]
                    elif result == "gap":
                        # the stored parts are at this delta's seq or later; the full one refreshes the clock
                        self.resyncs += 1
                        log.info("snapshot delta %d does not follow %d: resynchronising", item.seq, self.mirror.seq)
                        await self.ask_full()
                        for part in await self._stored():
                            yield part
                elif isinstance(item, AgentsPart):
                    if self.mirror.full_agents(item):
                        yield item
                elif self.mirror.full_summary(item):
                    yield item
        finally:
            try:
                await pubsub.aclose()
            except Exception:  # closing after the connection died: nothing left to release
                log.debug("pubsub close failed", exc_info=True)
