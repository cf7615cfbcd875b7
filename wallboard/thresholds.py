"""Thresholds, levels and alerts: pure functions the engine calls on every tick (no I/O, no wall clock).

Every function takes ``now`` (an aware datetime from the engine's clock), so replay and tests drive the
hysteresis holds, snooze expiry and the flash phase.

Levels. Each queue metric with a configured ``Threshold`` reads its value from the window the threshold
names. Direction ``above`` (high is bad): ``value >= breach`` is breach, ``>= warn`` is warn; ``below`` is
the mirror image. A rise is immediate. A fall needs the value back past the level by ``margin`` (strictly:
``value < limit - margin`` for ``above``) continuously for ``hold_s`` seconds; going back over restarts the
hold. Each level keeps its own hold timer, so breach -> ok needs the value clear of *warn* for the whole
hold, not just the last part of it. Ratios stay ``ok`` until the window's ``offered`` reaches ``min_calls``;
gauges ignore it. ``None`` (nothing to measure: empty window, nobody waiting) and too few calls are ``ok`` at
once and drop any held level: there is no value left to hold it against. Outside business hours every
metric is ``closed`` and the queue's state is dropped, so no alert carries into the next opening.

Alerts. ``LevelState`` holds one ``MetricState`` per (queue, metric) whose level is warn or breach; that
entry *is* the alert (level, since, acknowledged by, snoozed until). It serialises to plain JSON, and
``to_hash``/``from_hash`` match the ``:alerts`` hash of ``wallboard.keys`` (``<queue>|<metric>`` -> JSON).
An acknowledgement lasts until the level changes; a snooze lasts until its time (across level changes)
or until the alert ends.
"""

from __future__ import annotations

import functools
import heapq
import json
from datetime import datetime, timedelta, timezone, tzinfo
from typing import Any, Iterable, Literal, Mapping, Protocol

from pydantic import AwareDatetime, BaseModel, ConfigDict

from wallboard import catalog
from wallboard.channels import is_written, occupancy_of
from wallboard.config import THRESHOLD_METRICS, AgentAlerts, DisplayConfig, QueueConfig, Threshold
from wallboard.hours import is_open
from wallboard.metrics import offered as offered_of
from wallboard.snapshot import Alert, Level

AlertLevel = Literal["warn", "breach"]

# Ratios need min_calls offered before they may leave ok; gauges are "now" and need no sample size.
RATIO_METRICS = frozenset(m for m in THRESHOLD_METRICS if catalog.get(m).kind == "ratio")
GAUGE_METRICS = frozenset(THRESHOLD_METRICS) - RATIO_METRICS

MAX_FLASH_HZ = 2.0  # photosensitivity limit (DESIGN.md: flashing is at most 2 Hz)

_RANK = {"ok": 0, "warn": 1, "breach": 2}
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


class NoAlertError(LookupError):
    """Acknowledge or snooze named a metric that has no alert (it may have cleared in the meantime)."""


def _aware(when: datetime, what: str = "now") -> datetime:
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError(f"{what} must be a timezone-aware datetime")
    return when


# --- state -----------------------------------------------------------------------------------------------


class MetricState(BaseModel):
    """One (queue, metric) at warn or breach: the alert, plus the hysteresis timers behind it."""

    model_config = ConfigDict(frozen=True, extra="ignore")  # ignore: an older engine may read a newer record

    level: AlertLevel
    since: AwareDatetime
    # When the value (first, and continuously since) came back past the breach / warn limit by the margin.
    breach_clear_since: AwareDatetime | None = None
    warn_clear_since: AwareDatetime | None = None
    acked_by: str | None = None
    acked_at: AwareDatetime | None = None
    snoozed_by: str | None = None
    snoozed_until: AwareDatetime | None = None

    def alert(self) -> Alert:
        """The snapshot's view of this alert."""
        return Alert(
            level=self.level,
            since=self.since,
            acked_by=self.acked_by,
            snoozed_until=self.snoozed_until,
        )


def _key(queue: str, metric: str) -> str:
    return f"{queue}|{metric}"


def _split(key: str) -> tuple[str, str]:
    queue, sep, metric = key.rpartition("|")  # metric names never hold '|'; a queue name might
    if not sep or not queue:
        raise ValueError(f"alert key {key!r} is not '<queue>|<metric>'")
    return queue, metric


class LevelState:
    """Every current alert, keyed by (queue, metric). Treat as immutable: the functions return new ones."""

    __slots__ = ("_entries",)

    def __init__(self, entries: Mapping[tuple[str, str], MetricState] | None = None):
        self._entries: dict[tuple[str, str], MetricState] = dict(entries or {})

    def get(self, queue: str, metric: str) -> MetricState | None:
        return self._entries.get((queue, metric))

    def items(self) -> Iterable[tuple[tuple[str, str], MetricState]]:
        return self._entries.items()

    def __len__(self) -> int:
        return len(self._entries)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, LevelState) and self._entries == other._entries

    def __repr__(self) -> str:
        return f"LevelState({self._entries!r})"

    def alerts(self, queue: str) -> dict[str, Alert]:
        """The queue's ``alerts`` for the snapshot."""
        # the queue's entries first, then sorted (not the whole state sorted once per queue)
        return {m: s.alert() for m, s in sorted((m, s) for (q, m), s in self._entries.items() if q == queue)}

    def _replace(self, queue: str, entries: Mapping[str, MetricState]) -> LevelState:
        kept = {k: v for k, v in self._entries.items() if k[0] != queue}
        kept.update({(queue, m): s for m, s in entries.items()})
        return LevelState(kept)

    def _with(self, queue: str, metric: str, entry: MetricState) -> LevelState:
        out = dict(self._entries)
        out[(queue, metric)] = entry
        return LevelState(out)

    # serialisation: the engine keeps this in Redis
    def to_dict(self) -> dict[str, dict[str, Any]]:
        return {_key(q, m): s.model_dump(mode="json") for (q, m), s in sorted(self._entries.items())}

    @classmethod
    def from_dict(cls, data: Mapping[str, Mapping[str, Any]]) -> LevelState:
        return cls({_split(k): MetricState.model_validate(v) for k, v in data.items()})

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), separators=(",", ":"), sort_keys=True)

    @classmethod
    def from_json(cls, text: str | bytes) -> LevelState:
        return cls.from_dict(json.loads(text))

    def to_hash(self) -> dict[str, str]:
        """Field -> JSON for the ``:alerts`` hash (``<queue>|<metric>``)."""
        return {_key(q, m): s.model_dump_json() for (q, m), s in sorted(self._entries.items())}

    @classmethod
    def from_hash(cls, data: Mapping[str | bytes, str | bytes]) -> LevelState:
        out = {}
        for k, v in data.items():
            out[_split(k.decode() if isinstance(k, bytes) else k)] = MetricState.model_validate_json(v)
        return cls(out)

    def diff(self, old: LevelState) -> tuple[dict[str, str], list[str]]:
        """What to HSET and HDEL to turn ``old`` (as stored) into this state."""
        new_hash, old_hash = self.to_hash(), old.to_hash()
        changed = {k: v for k, v in new_hash.items() if old_hash.get(k) != v}
        return changed, sorted(set(old_hash) - set(new_hash))


# --- evaluation ------------------------------------------------------------------------------------------


class _Fields(Mapping):
    """A model's fields as a read-only mapping, its nested models likewise: what ``model_dump()`` gives for the
    few figures a threshold reads, without copying the whole queue (callers, explanations) at every evaluation
    (at 500 queues that copy was most of ``Engine.evaluate``)."""

    __slots__ = ("_m",)

    def __init__(self, model: BaseModel):
        self._m = model

    def __getitem__(self, key: str) -> Any:
        if key not in _field_names(type(self._m)):
            raise KeyError(key)
        return _dump(getattr(self._m, key))

    def __iter__(self):
        return iter(_field_names(type(self._m)))

    def __len__(self) -> int:
        return len(_field_names(type(self._m)))


@functools.cache
def _field_names(cls: type[BaseModel]) -> dict[str, None]:
    """A model's field names in order (pydantic's ``model_fields`` is a property that costs more than the read)."""
    return dict.fromkeys(cls.model_fields)


def _dump(figures: Any) -> Mapping[str, Any]:
    return _Fields(figures) if isinstance(figures, BaseModel) else figures


def _window(figures: Mapping[str, Any], kind: str) -> Mapping[str, Any]:
    """``figures`` has the shape of a QueueSnapshot: the since-reset window and the gauges at the top,
    the rolling window under ``rolling``. An explicit ``since_reset`` sub-mapping is accepted too."""
    if kind == "rolling":
        return _dump(figures.get("rolling") or {})
    sr = figures.get("since_reset")
    return _dump(sr) if isinstance(sr, Mapping) or hasattr(sr, "model_dump") else figures


def _value(metric: str, t: Threshold, figures: Mapping[str, Any]) -> float | None:
    win = _window(figures, t.window)
    if metric == "agents_available":  # a gauge kept in agent_counts (the TVs' "Agents free")
        counts = _dump(figures.get("agent_counts") or {})
        if "available" not in counts:
            return figures.get(metric)
        ch = figures.get("channel") or "voice"  # a written queue's free agents: room for one more conversation
        return counts.get("free", 0) if ch != "voice" else counts.get("available")
    if metric == "occupancy":  # kept in agent_counts too (the TVs' "Occupancy")
        counts = _dump(figures.get("agent_counts") or {})
        if "available" not in counts:
            return figures.get(metric)
        if is_written(figures.get("channel") or "voice"):
            return None  # channels.occupancy_now, read from a mapping
        return occupancy_of(counts.get("on_call", 0), counts.get("wrap_up", 0), counts.get("available", 0))
    if metric in GAUGE_METRICS and metric in figures:  # a gauge is "now": no window to choose
        return figures[metric]
    return win.get(metric)


def _offered(t: Threshold, figures: Mapping[str, Any]) -> float:
    win = _window(figures, t.window)
    return win["offered"] if win.get("offered") is not None else offered_of(win)


def _classify(v: float, t: Threshold) -> str:
    if t.direction == "above":
        if t.breach is not None and v >= t.breach:
            return "breach"
        if t.warn is not None and v >= t.warn:
            return "warn"
    else:
        if t.breach is not None and v <= t.breach:
            return "breach"
        if t.warn is not None and v <= t.warn:
            return "warn"
    return "ok"


def _past(v: float, limit: float | None, t: Threshold) -> bool:
    """Back past ``limit`` by more than the margin (a missing limit is never reached, so always past)."""
    if limit is None:
        return True
    return v < limit - t.margin if t.direction == "above" else v > limit + t.margin


def _held(since: datetime | None, now: datetime, t: Threshold) -> bool:
    return since is not None and (now - since).total_seconds() >= t.hold_s


def _step(prev: MetricState | None, v: float, t: Threshold, now: datetime) -> MetricState | None:
    """One metric's next state (None = ok)."""
    raw = _classify(v, t)
    cur = prev.level if prev else "ok"
    if _RANK[raw] > _RANK[cur]:
        # Rise: immediate, a fresh alert (an acknowledgement was for the lower level); a snooze has its own time.
        return MetricState(
            level=raw,
            since=now,
            snoozed_by=prev.snoozed_by if prev else None,
            snoozed_until=prev.snoozed_until if prev else None,
        )
    if prev is None:
        return None
    clear_breach = _past(v, t.breach, t)
    clear_warn = clear_breach and _past(v, t.warn, t)  # clear of warn implies clear of breach
    breach_since = (prev.breach_clear_since or now) if clear_breach and cur == "breach" else None
    warn_since = (prev.warn_clear_since or now) if clear_warn else None
    if _held(warn_since, now, t):
        return None
    if cur == "breach" and _held(breach_since, now, t) and t.warn is not None:
        # Down to warn: a new level, so the acknowledgement ends; the warn timer keeps running.
        return prev.model_copy(
            update=dict(
                level="warn",
                since=now,
                breach_clear_since=None,
                warn_clear_since=warn_since,
                acked_by=None,
                acked_at=None,
            )
        )
    return prev.model_copy(update=dict(breach_clear_since=breach_since, warn_clear_since=warn_since))


def evaluate_queue(
    queue_cfg: QueueConfig,
    figures: Mapping[str, Any] | BaseModel,
    state: LevelState,
    now: datetime,
    *,
    tz: tzinfo,
) -> tuple[dict[str, Level], LevelState]:
    """The queue's level per metric (every metric in ``THRESHOLD_METRICS``) and the new state.

    ``figures``: the queue's figures shaped like a ``QueueSnapshot`` (its ``model_dump()`` or the model
    itself): since-reset counters, ratios and gauges at the top level, the rolling window's counters and
    ratios under ``rolling``; each window's ``offered`` decides ``min_calls``. ``tz`` is the centre's zone,
    for business hours. The state of other queues is passed through unchanged.
    """
    name = queue_cfg.name
    was = {m: s for m in queue_cfg.thresholds if (s := state.get(name, m)) is not None}
    levels, entries = evaluate_entries(queue_cfg, figures, was, now, tz=tz)
    return levels, state._replace(name, entries)


def evaluate_entries(
    queue_cfg: QueueConfig, figures: Mapping[str, Any] | BaseModel, was: Mapping[str, MetricState], now, *, tz
) -> tuple[dict[str, Level], dict[str, MetricState]]:
    """``evaluate_queue`` on the queue's own entries (metric -> state, ``was``): its levels and its new entries.
    The owner evaluates each queue so, without copying the whole centre's state once per queue."""
    _aware(now)
    if not is_open(queue_cfg, now, tz):
        return {m: "closed" for m in THRESHOLD_METRICS}, {}
    figures = _dump(figures)
    levels: dict[str, Level] = {m: "ok" for m in THRESHOLD_METRICS}
    entries: dict[str, MetricState] = {}
    for metric, t in queue_cfg.thresholds.items():
        v = _value(metric, t, figures)
        if v is None:
            continue
        if metric in RATIO_METRICS:
            need = t.min_calls if t.min_calls is not None else queue_cfg.min_calls
            if _offered(t, figures) < need:
                continue
        entry = _step(was.get(metric), float(v), t, now)
        if entry is None:
            continue
        if entry.snoozed_until is not None and entry.snoozed_until <= now:
            entry = entry.model_copy(update=dict(snoozed_by=None, snoozed_until=None))  # expired: tidy the record
        entries[metric] = entry
        levels[metric] = entry.level
    return levels, entries


def entries_alerts(entries: Mapping[str, MetricState]) -> dict[str, Alert]:
    """A queue's ``alerts`` for the snapshot from its entries (``LevelState.alerts``)."""
    return {m: entries[m].alert() for m in sorted(entries)}


def next_deadline(state: LevelState, queue_cfg: QueueConfig) -> datetime | None:
    """The earliest time the queue's state can change on time alone (a hold ending, a snooze expiring),
    so replay can tick there instead of every second. Business-hours edges are not included."""
    return entries_deadline({m: s for (q, m), s in state.items() if q == queue_cfg.name}, queue_cfg)


def entries_deadline(entries: Mapping[str, MetricState], queue_cfg: QueueConfig) -> datetime | None:
    """``next_deadline`` from the queue's own entries (metric -> state)."""
    out: list[datetime] = []
    for metric, s in entries.items():
        t = queue_cfg.thresholds.get(metric)
        if t is None:
            continue
        hold = timedelta(seconds=t.hold_s)
        out += [ts + hold for ts in (s.breach_clear_since, s.warn_clear_since) if ts is not None]
        if s.snoozed_until is not None:
            out.append(s.snoozed_until)
    return min(out, default=None)


# the gauges that move with the clock between rebuilds (the owner ticks them: ``wallboard.incremental``)
_CLOCK_METRICS = frozenset({"longest_wait_s", "oldest_callback_s"})


class QueueLevels:
    """The lease owner's queue levels kept between publishes (issue 16): a queue's evaluation at ``now`` gives
    what it gave last time when its figures are those it was evaluated on (not rebuilt, no threshold on a gauge
    that ticks), its alert state is the same (no ack or snooze since), no hold or snooze ends by ``now``
    (``next_deadline``) and it is still open or closed; such a queue keeps its levels, alerts and state."""

    def __init__(self) -> None:
        # queue -> (its state entries, open, levels, alerts, the next deadline), as last evaluated
        self.last: dict[str, tuple] = {}
        self.kept = 0  # evaluations saved (a figure for benches and tests)

    def reset(self) -> None:
        self.last = {}

    @staticmethod
    def by_queue(state: LevelState) -> dict[str, dict[str, MetricState]]:
        out: dict[str, dict[str, MetricState]] = {}
        for (q, m), st in state.items():
            out.setdefault(q, {})[m] = st
        return out

    def unchanged(
        self, cfg: QueueConfig, figures: BaseModel, entries: dict[str, MetricState], now: datetime, tz: tzinfo
    ) -> tuple | None:
        """What the queue's last evaluation gave, when evaluating it again at ``now`` on ``figures`` (its
        snapshot, not rebuilt since) gives the same."""
        kept = self.last.get(cfg.name)
        if kept is None or kept[0] != entries:
            return None
        if any(getattr(figures, m) is not None for m in _CLOCK_METRICS if m in cfg.thresholds):
            return None  # a caller or callback waiting: the gauge ticks
        if kept[4] is not None and now >= kept[4]:
            return None
        if is_open(cfg, now, tz) != kept[1]:
            return None
        self.kept += 1
        return kept

    def keep(self, cfg: QueueConfig, entries: dict[str, MetricState], levels, alerts, is_open_now: bool) -> None:
        """The queue's evaluation: its own entries (metric -> state) and what it gave."""
        self.last[cfg.name] = (entries, is_open_now, levels, alerts, entries_deadline(entries, cfg))


# --- acknowledge, snooze, flashing -----------------------------------------------------------------------


def _existing(state: LevelState, queue: str, metric: str) -> MetricState:
    s = state.get(queue, metric)
    if s is None:
        raise NoAlertError(f"queue {queue!r} has no alert on {metric!r} (it may have cleared)")
    return s


def ack(state: LevelState, queue: str, metric: str, user: str, now: datetime) -> LevelState:
    """Acknowledge the current alert: flashing stops, the colour stays, until the level changes.
    Raises NoAlertError when there is no alert to acknowledge."""
    if not user:
        raise ValueError("an acknowledgement needs the user's name")
    s = _existing(state, queue, metric)
    return state._with(queue, metric, s.model_copy(update=dict(acked_by=user, acked_at=_aware(now))))


def snooze(state: LevelState, queue: str, metric: str, user: str, until: datetime | None) -> LevelState:
    """Stop the alert flashing until ``until`` (None cancels a snooze). It outlasts level changes but not the
    alert itself. Raises NoAlertError when there is no alert."""
    if not user:
        raise ValueError("a snooze needs the user's name")
    s = _existing(state, queue, metric)
    if until is None:
        return state._with(queue, metric, s.model_copy(update=dict(snoozed_by=None, snoozed_until=None)))
    return state._with(queue, metric, s.model_copy(update=dict(snoozed_by=user, snoozed_until=_aware(until, "until"))))


class _AlertLike(Protocol):
    level: str
    acked_by: str | None
    snoozed_until: datetime | None


def should_flash(alert: _AlertLike | None, now: datetime) -> bool:
    """A breach flashes unless acknowledged or snoozed (a snooze that has run out flashes again).
    Takes a snapshot ``Alert`` or a ``MetricState``."""
    if alert is None or alert.level != "breach" or alert.acked_by:
        return False
    until = alert.snoozed_until
    return until is None or _aware(now) >= until


def flash_phase(now: datetime, hz: float) -> bool:
    """On for the first half of each period, from the clock itself: every screen on the same clock flashes in
    step, and a test clock drives it. Capped at 2 Hz."""
    if hz <= 0:
        raise ValueError("flash rate must be above 0 Hz")
    period_us = round(1_000_000 / min(hz, MAX_FLASH_HZ))
    # integer microseconds: float epoch seconds would blur the phase edges
    t_us = (_aware(now) - _EPOCH) // timedelta(microseconds=1)
    return t_us % period_us < period_us / 2


def flash_on(alert: _AlertLike | None, now: datetime, display: DisplayConfig) -> bool:
    """Whether a breach cell is drawn in its 'on' phase now: flashing enabled, alert flashing, phase on."""
    return display.flash and should_flash(alert, now) and flash_phase(now, display.flash_hz)


# --- per-agent alerts ------------------------------------------------------------------------------------


class _AgentLike(Protocol):
    state: str
    reason: str | None
    since: datetime | None
    missed_in_row: int


def _state_limit(agent: _AgentLike, cfg: AgentAlerts) -> tuple[str, float] | None:
    """The time-in-state alert of the agent's current state and its limit in seconds, or None (no limit)."""
    if agent.state == "on_call":
        return "long_call", cfg.long_call_s
    if agent.state == "wrap_up":
        return "long_wrap", cfg.long_wrap_s
    if agent.state == "paused":
        limit = cfg.long_pause_s.get(agent.reason or "default", cfg.long_pause_s.get("default"))
        return None if limit is None else ("long_pause", limit)
    return None


def agent_alerts(agent: _AgentLike, cfg: AgentAlerts, now: datetime) -> list[str]:
    """``long_call``, ``long_wrap``, ``long_pause`` (the reason's limit, else ``default``; a reason with
    neither has no limit) and ``missed_in_row``; each fires at its limit exactly. A logged-out agent gets none:
    their last streak of missed rings is no longer something to act on."""
    _aware(now)
    out: list[str] = []
    if agent.state == "logged_out":
        return out
    since = agent.since
    limit = _state_limit(agent, cfg)
    if since is not None and limit is not None and (now - since).total_seconds() >= limit[1]:
        out.append(limit[0])
    if (agent.missed_in_row or 0) >= cfg.missed_in_row:
        out.append("missed_in_row")
    return out


def next_agent_alert(agent: _AgentLike, cfg: AgentAlerts, now: datetime) -> datetime | None:
    """When the agent's time-in-state alert fires, if it has not fired at ``now``; None when it has or the state
    has no limit. Never before ``now`` (a limit that rounds past a microsecond is looked at again just after)."""
    since = agent.since
    limit = _state_limit(agent, cfg) if agent.state != "logged_out" else None
    if since is None or limit is None or (now - since).total_seconds() >= limit[1]:
        return None
    return max(since + timedelta(seconds=limit[1]), now + timedelta(microseconds=1))


class AgentAlertTimers:
    """Which agents' alerts can have changed since the last evaluation: the agents the build re-read, and those
    whose time-in-state limit has come since (a heap of each agent's next crossing), so the lease owner's
    evaluation costs what changed, not the centre (issue 16). It keeps the alerts it set, for the agents it
    does not look at again (an incremental build hands them back without)."""

    def __init__(self, cfg: AgentAlerts):
        self.cfg = cfg
        self.heap: list[tuple[datetime, str]] = []
        self.due: dict[str, datetime] = {}  # each agent's current crossing (older heap entries are stale)
        self.alerting: dict[str, list[str]] = {}  # agents with alerts, as last evaluated

    def take(self, changed: Iterable[str] | None, now: datetime) -> set[str] | None:
        """The agents to evaluate at ``now``: ``changed`` and those whose crossing has come; None (every agent,
        the timers started again) when ``changed`` is None (a full build)."""
        if changed is None:
            self.heap, self.due, self.alerting = [], {}, {}
            return None
        out = set(changed)
        heap, due = self.heap, self.due
        while heap and heap[0][0] <= now:
            at, a = heapq.heappop(heap)
            if due.get(a) == at:
                del due[a]
                out.add(a)
        return out

    def evaluated(self, agent_id: str, agent: _AgentLike, now: datetime) -> None:
        """Keep what the agent's evaluation at ``now`` gave (``agent.alerts``) and its next crossing."""
        alerts = agent.alerts  # type: ignore[attr-defined]
        if alerts:
            self.alerting[agent_id] = alerts
        else:
            self.alerting.pop(agent_id, None)
        at = next_agent_alert(agent, self.cfg, now)
        if at is None:
            self.due.pop(agent_id, None)
        elif self.due.get(agent_id) != at:
            self.due[agent_id] = at
            heapq.heappush(self.heap, (at, agent_id))

    def forget(self, agent_id: str) -> None:
        self.due.pop(agent_id, None)
        self.alerting.pop(agent_id, None)
