"""The render half's data: rows of plain cells built from the last snapshot and the server time now.

Pure functions, no Textual: a cell is its text, its level (``ok | warn | breach | closed``), and whether it
flashes (a breach nobody acknowledged or snoozed). ``tables.KeyedTable`` turns these rows into table
updates by key; the screens only call these functions and hand the rows over.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Literal

from ..channels import agents_busy, agents_free, centre_busy, centre_free, is_written, occupancy_now, usage
from .. import catalog
from ..config import WallboardConfig
from ..snapshot import AgentSnapshot, Alert, QueueSnapshot, Summary, Total
from ..livetime import ServerTime, fmt_clock, fmt_duration, fmt_number, fmt_pct, parse_utc
from .requests import TAKEOVER_SHOWN_S, Revert
from .words import ENGLISH, Words

Justify = Literal["left", "right", "center"]
LEVEL_RANK = {"ok": 0, "closed": 0, "warn": 1, "breach": 2}
TOTAL_KEY = "__total__"


@dataclass(frozen=True)
class CellModel:
    text: str
    level: str = "ok"
    flash: bool = False
    bold: bool = False
    justify: Justify = "right"


@dataclass(frozen=True)
class RowModel:
    key: str
    cells: dict[str, CellModel]
    sort_key: tuple = ()


@dataclass(frozen=True)
class ColumnSpec:
    key: str
    width: int
    priority: int
    group: str | None = None

    @property
    def header(self) -> str:
        """Its words' key (``words``): ``col.<key>``."""
        return f"col.{self.key}"


# The queue table. Priority decides what is kept on a narrow terminal (lowest first); a group is kept whole.
QUEUE_COLUMNS: tuple[ColumnSpec, ...] = (
    ColumnSpec("name", 12, 0),
    ColumnSpec("channel", 5, 14),  # the last kept: a narrow desk has the queue names
    ColumnSpec("waiting", 4, 1),
    ColumnSpec("longest", 7, 2),
    ColumnSpec("sl", 6, 3),
    ColumnSpec("sl_rolling", 6, 4),
    ColumnSpec("asa", 5, 9),
    ColumnSpec("avg_wait", 5, 12),
    ColumnSpec("abandon_rate", 5, 5),
    ColumnSpec("offered", 4, 11, group="volume"),
    ColumnSpec("answered", 4, 11, group="volume"),
    ColumnSpec("abandoned", 4, 11, group="volume"),
    ColumnSpec("ewt", 5, 6),
    ColumnSpec("avail", 5, 7),
    ColumnSpec("busy", 4, 8),
    ColumnSpec("paused", 4, 13),
    ColumnSpec("trend", 8, 10),
)

# (column, its header's words key)
AGENT_COLUMNS: tuple[tuple[str, str], ...] = (
    ("agent", "col.agent"),
    ("state", "col.state"),
    ("time", "col.time"),
    ("alerts", "col.alerts"),
    ("calls", "col.calls"),
    ("missed", "col.missed"),
    ("queues", "col.queues"),
    ("load", "col.load"),
)
# Below this width (80 columns: the agents above the callers) the agents table leaves the written load out: the
# skills stay whole and no header is cut to "L"; the agent's card (enter) says the load.
AGENT_LOAD_FROM = 100

CALLER_COLUMNS: tuple[tuple[str, str], ...] = (("queue", "col.queue"), ("caller", "col.caller"), ("wait", "col.wait"))


def fit_columns(specs: Iterable[ColumnSpec], available: int, padding: int = 1) -> list[ColumnSpec]:
    """The columns that fit in ``available`` cells, chosen by priority (a group all or nothing), in table order."""
    specs = list(specs)
    chosen: set[str] = set()
    used = 0
    done_groups: set[str] = set()
    for spec in sorted(specs, key=lambda s: s.priority):
        if spec.group:
            if spec.group in done_groups:
                continue
            done_groups.add(spec.group)
            members = [s for s in specs if s.group == spec.group]
        else:
            members = [spec]
        need = sum(s.width + 2 * padding for s in members)
        if used + need <= available or spec.priority == 0:
            used += need
            chosen.update(s.key for s in members)
    return [s for s in specs if s.key in chosen]


SPARK = "▁▂▃▄▅▆▇█"


def sparkline(values: Iterable[float], width: int) -> str:
    """The last ``width`` values as block characters, scaled from 0 to the largest shown."""
    vals = list(values)[-width:]
    if not vals:
        return ""
    top = max(vals)
    if top <= 0:
        return SPARK[0] * len(vals)
    return "".join(SPARK[min(len(SPARK) - 1, int(v / top * (len(SPARK) - 1) + 0.5))] for v in vals)


class TrendBook:
    """Waiting callers per queue (and the total) over the last ``size`` snapshots, kept in memory."""

    def __init__(self, size: int = 24):
        self.size = size
        self.series: dict[str, deque[float]] = {}
        self._last_seq: int | None = None

    def add(self, summary: Summary) -> None:
        if self._last_seq == summary.seq:
            return
        self._last_seq = summary.seq
        for name, q in summary.queues.items():
            self.series.setdefault(name, deque(maxlen=self.size)).append(q.waiting)
        self.series.setdefault(TOTAL_KEY, deque(maxlen=self.size)).append(summary.total.waiting)

    def get(self, key: str) -> list[float]:
        return list(self.series.get(key, ()))


def is_quiet(alert: Alert | None, server_now: datetime) -> bool:
    """Acknowledged, or snoozed until a time still to come: the colour stays, the flashing stops."""
    if alert is None:
        return False
    if alert.acked_by:
        return True
    until = alert.snoozed_until
    return until is not None and until > server_now


# A threshold metric as the desk's notices name it (the words a supervisor reads, not the snapshot's keys).
METRIC_WORDS = {m.name: m.words for m in catalog.QUEUE if m.words}


def metric_words(metrics: Iterable[str], w: Words = ENGLISH) -> str:
    """``service level and callers waiting``: the metrics in words, joined as a sentence would."""
    if w.language == "en":
        words = [METRIC_WORDS.get(m, m.removesuffix("_s").replace("_", " ")) for m in metrics]
    else:  # the metric's label in that language (the TV's)
        words = [catalog.label(catalog.get(m), w.language) if m in METRIC_WORDS else m for m in metrics]
    if len(words) <= 1:
        return "".join(words)
    return ", ".join(words[:-1]) + w("and") + words[-1]


def breach_badge(
    summary: Summary | None, server_now: datetime, tz, w: Words = ENGLISH, short: bool = False
) -> tuple[str, str]:
    """The header's breach badge and its class: ``2 BREACH`` (``-active``, red) for breaches nobody has
    acknowledged or snoozed; those acknowledged or snoozed are counted apart, in words, without the alarm
    (``-quiet``): ``2 BREACH · 1 acknowledged``, ``1 breach acknowledged``, ``1 breach snoozed to 15:52``.
    ``short``: the words of a narrow header (``2 BREACH · 1 ack'd · 1 to 15:52``)."""
    sfx = "_short" if short else ""
    if summary is None:
        return "", ""
    loud = acked = 0
    snoozed_until: list[datetime] = []
    for q in summary.queues.values():
        for metric, level in q.levels.items():
            if level != "breach" or not q.open:
                continue
            alert = q.alerts.get(metric)
            if alert is not None and alert.acked_by:
                acked += 1
            elif alert is not None and is_quiet(alert, server_now):
                snoozed_until.append(alert.snoozed_until)  # type: ignore[arg-type]
            else:
                loud += 1
    quiet = []
    if acked:
        quiet.append(w(f"badge.acked{sfx}", n=acked))
    if snoozed_until:
        quiet.append(w(f"badge.snoozed{sfx}", n=len(snoozed_until), t=fmt_clock(min(snoozed_until), tz)[:5]))
    if loud:
        return " · ".join([w("badge.loud", n=loud)] + quiet) + " ", "-active"
    if quiet:
        n = acked + len(snoozed_until)
        head = f" {n} {w('badge.one') if n == 1 else w('badge.many')}"
        if len(quiet) == 1:  # all acknowledged, or all snoozed: "2 breaches acknowledged"
            return f"{head} {quiet[0].split(' ', 1)[1]} ", "-quiet"
        return f"{head}: {', '.join(quiet)} ", "-quiet"
    return "", ""


def metric_cell(text: str, metric: str, q: QueueSnapshot, server_now: datetime, **kw) -> CellModel:
    if not q.open:
        return CellModel(text, level="closed", **kw)
    level = q.levels.get(metric, "ok")
    flash = level == "breach" and not is_quiet(q.alerts.get(metric), server_now)
    return CellModel(text, level=level, flash=flash, **kw)


_METRIC_COLUMNS = catalog.desk_columns()  # a threshold metric -> the queue-table column showing it


def metric_columns(metric: str, queue: str, config: WallboardConfig) -> tuple[str, ...]:
    """Which queue-table column shows the value a threshold reads."""
    if metric == "service_level":
        th = config.queue(queue).thresholds.get("service_level")
        return ("sl_rolling",) if th is not None and th.window == "rolling" else ("sl",)
    col = _METRIC_COLUMNS.get(metric)
    return (col,) if col else ()


def worst_level(levels: Iterable[str]) -> str:
    worst = "ok"
    for lv in levels:
        if LEVEL_RANK.get(lv, 0) > LEVEL_RANK[worst]:
            worst = lv
    return worst


def live_longest_wait(q: QueueSnapshot | Total, summary: Summary, server: ServerTime) -> float | None:
    """The longest wait now: from the waiting callers' entry times, ticking locally."""
    callers = q.callers if isinstance(q, QueueSnapshot) else [c for qq in summary.queues.values() for c in qq.callers]
    waits = [w for w in (server.seconds_since(c.entered_at) for c in callers) if w is not None]
    if waits:
        return max(waits)
    if q.longest_wait_s is None:
        return None
    return q.longest_wait_s + (server.seconds_since(summary.at) or 0.0)


def queue_row(
    name: str,
    i: int,
    summary: Summary,
    config: WallboardConfig,
    server: ServerTime,
    trends: TrendBook,
    now: datetime,
    trend_width: int = 8,
    w: Words = ENGLISH,
) -> RowModel:
    """The ``i``-th queue's row (its sort key keeps the snapshot's order)."""
    q = summary.queues[name]
    cols: dict[str, str] = {}  # column -> the metric colouring it
    for metric in set(q.levels) | set(q.alerts):
        for col in metric_columns(metric, name, config):
            cols[col] = metric

    def cell(col: str, text: str) -> CellModel:
        if col in cols:
            return metric_cell(text, cols[col], q, now)
        return CellModel(text, level="closed" if not q.open else "ok")

    ac = q.agent_counts
    name_level = "closed" if not q.open else worst_level(q.levels.values())
    cells = {
        "name": CellModel(name, level=name_level, bold=name_level == "breach", justify="left"),
        "channel": CellModel(w.channel(q.channel), justify="left"),
        "waiting": cell("waiting", str(q.waiting)),
        "longest": cell("longest", fmt_duration(live_longest_wait(q, summary, server))),
        "sl": cell("sl", fmt_pct(q.service_level)),
        "sl_rolling": cell("sl_rolling", fmt_pct(q.rolling.service_level)),
        "asa": cell("asa", fmt_duration(q.asa_s)),
        "avg_wait": cell("avg_wait", fmt_duration(q.avg_wait_s)),
        "abandon_rate": cell("abandon_rate", fmt_pct(q.abandon_rate)),
        "offered": cell("offered", str(q.offered)),
        "answered": cell("answered", str(q.answered)),
        "abandoned": cell("abandoned", str(q.abandoned)),
        # written: 0 means a free slot takes the next conversation, not a wait foreseen ("-"; Avail says so)
        "ewt": cell("ewt", fmt_duration(None if is_written(q.channel) and q.ewt_s == 0 else q.ewt_s)),
        "avail": cell("avail", str(agents_free(ac, q.channel))),  # written: agents with room for one more
        "busy": cell("busy", str(agents_busy(ac, q.channel))),  # written: agents with no room left
        "paused": cell("paused", str(ac.paused)),
        "trend": CellModel(sparkline(trends.get(name), trend_width), justify="left"),
    }
    return RowModel(name, cells, (0, i))


def total_row(
    summary: Summary, server: ServerTime, trends: TrendBook, trend_width: int = 8, w: Words = ENGLISH
) -> RowModel:
    """The centre total's row, after every queue."""
    t = summary.total
    ac = t.agent_counts
    total = {
        "name": w("total"),
        "channel": w("all_channels"),
        "waiting": str(t.waiting),
        "longest": fmt_duration(live_longest_wait(t, summary, server)),
        "sl": fmt_pct(t.service_level),
        "sl_rolling": fmt_pct(t.rolling.service_level),
        "asa": fmt_duration(t.asa_s),
        "avg_wait": fmt_duration(t.avg_wait_s),
        "abandon_rate": fmt_pct(t.abandon_rate),
        "offered": str(t.offered),
        "answered": str(t.answered),
        "abandoned": str(t.abandoned),
        "ewt": "-",
        "avail": str(centre_free(ac)),  # free on at least one channel it serves, as the queue rows count it
        "busy": str(centre_busy(ac)),
        "paused": str(ac.paused),
    }
    cells = {k: CellModel(v, bold=True, justify="left" if k == "name" else "right") for k, v in total.items()}
    cells["trend"] = CellModel(sparkline(trends.get(TOTAL_KEY), trend_width), justify="left")
    return RowModel(TOTAL_KEY, cells, TOTAL_SORT)


TOTAL_SORT = (1, 0)  # the total's sort key: below every queue


def queue_rows(
    summary: Summary,
    config: WallboardConfig,
    server: ServerTime,
    trends: TrendBook,
    trend_width: int = 8,
    w: Words = ENGLISH,
) -> list[RowModel]:
    """One row per queue (in snapshot order), then the centre total."""
    now = server.now()
    rows = [queue_row(n, i, summary, config, server, trends, now, trend_width, w) for i, n in enumerate(summary.queues)]
    rows.append(total_row(summary, server, trends, trend_width, w))
    return rows


def state_text(a: AgentSnapshot, w: Words = ENGLISH) -> str:
    if a.state == "paused" and a.reason:
        return w("paused_for", reason=w.reason(a.reason))
    state = w.state(a.state)
    if a.pause_pending is not None:  # paused at the PBX already: paused when the call and wrap-up end
        pending = a.pause_pending.reason
        state += w("pause_pending_for", reason=w.reason(pending)) if pending else w("pause_pending")
    return state


def spied_text(a: AgentSnapshot, w: Words = ENGLISH) -> str:
    """Who listens to the agent and how, e.g. ``rivka:whisper`` (keypad mode shown as ``keypad``, a mode the
    PBX did not say as ``spying``)."""
    return ",".join(f"{who}:{w.spy(mode)}" for who, mode in sorted(a.spied_by.items()))


def queues_text(a: AgentSnapshot, reverts: list[Revert], now_epoch: float) -> str:
    """The agent's queues by penalty; a temporary move shows its countdown: ``support(14:59)`` (added, or its
    penalty changed, until then), ``-billing(14:59)`` (taken out until then)."""
    pending: dict[str, Revert] = {}
    for r in reverts:  # soonest first: the first revert of a queue is the one to show
        pending.setdefault(r.queue, r)
    parts = []
    for q, _ in sorted(a.queues.items(), key=lambda kv: (kv[1], kv[0])):
        r = pending.get(q)
        parts.append(f"{q}({r.left(now_epoch)})" if r is not None else q)
    for q, r in pending.items():
        if q not in a.queues and r.op == "add":
            parts.append(f"-{q}({r.left(now_epoch)})")
    return ",".join(parts)


def load_text(a: AgentSnapshot, language: str = "en") -> str:
    """The agent's written work against its capacity, e.g. ``2/3 chats`` (``2/3 chats 1/5 e-mails``); empty
    for an agent of voice queues only."""
    return " ".join(usage(a.conversations.get(ch, 0), cap, ch, language) for ch, cap in a.capacity.items() if cap)


def load_level(a: AgentSnapshot, base: str) -> str:
    """Full on every written channel it serves: ``warn`` (no room for one more)."""
    caps = [(a.conversations.get(ch, 0), cap) for ch, cap in a.capacity.items() if cap]
    return "warn" if caps and base == "ok" and all(n >= cap for n, cap in caps) else base


def taken_text(a: AgentSnapshot, taken, now_epoch: float, w: Words = ENGLISH) -> str:
    """``taken:rivka`` for a few minutes after a supervisor took the agent's call (not once the agent is on
    another call). Shown in the Alerts column, short: in the State column the note widened it by 20 and cut the
    Queues column at 80 columns."""
    if taken is None or now_epoch - taken.at > TAKEOVER_SHOWN_S:
        return ""
    if a.call_id and a.call_id != taken.call_id:
        return ""
    return w("taken", by=taken.by)


def agent_cells(
    agent_id: str,
    a: AgentSnapshot,
    reverts: list[Revert],
    taken,
    now_epoch: float,
    in_state: str,
    queue: str | None = None,
    w: Words = ENGLISH,
) -> dict[str, CellModel]:
    """An agent's cells; ``in_state`` is its time in state as shown now (the one cell that ticks for every
    agent), ``reverts`` its pending auto-reverts, ``taken`` its recent takeover (``requests.TakenOver``) or None.
    Only what is not a clock figure of the snapshot is read (``delta.AGENT_CLOCK``: ``rowsource`` relies on it)."""
    out = a.state == "logged_out"
    base = "closed" if out else "ok"
    alert_level = "warn" if a.alerts else base
    queues = queues_text(a, reverts, now_epoch)
    pending = "(" in queues
    state = state_text(a, w)
    if a.spied_by:
        state += f" · {spied_text(a, w)}"
    notes = [*(w.alert(x) for x in a.alerts), taken_text(a, taken, now_epoch, w)]
    cells = {
        "agent": CellModel(a.name or agent_id, level=alert_level, justify="left"),
        "state": CellModel(state, level=base, justify="left"),
        "time": CellModel(in_state, level=base),
        "alerts": CellModel(",".join(n for n in notes if n), level=alert_level, justify="left"),
        "calls": CellModel(str(a.calls_handled), level=base),
        "missed": CellModel(str(a.missed), level="warn" if a.missed_in_row else base),
        "load": CellModel(load_text(a, w.language), level=load_level(a, base), justify="left"),
        "queues": CellModel(queues, level="warn" if pending and not out else base, justify="left"),
    }
    if queue is not None:
        cells["penalty"] = CellModel(str(a.queues[queue]), level=base)
    return cells


def agent_sort_key(agent_id: str, a: AgentSnapshot) -> tuple:
    return ((a.name or agent_id).lower(), agent_id)


def time_in_state(a: AgentSnapshot, now: datetime) -> str:
    return fmt_duration(None if a.since is None else max(0.0, (now - a.since).total_seconds()))


def queue_level(q: QueueSnapshot) -> str:
    """A queue's level now: closed, or the worst of its metrics' levels."""
    return "closed" if not q.open else worst_level(q.levels.values())


def move_queue_rows(
    a: AgentSnapshot, summary: Summary | None, config: WallboardConfig, w: Words = ENGLISH
) -> list[RowModel]:
    """The move dialog's queues: the agent's own (by penalty), then the others (snapshot order, then any
    configured queue the snapshot lacks), each with its level and waiting count now."""
    snap_queues = dict(summary.queues) if summary is not None else {}
    names = list(snap_queues) + [q.name for q in config.queues if q.name not in snap_queues]
    order = {n: i for i, n in enumerate(names)}
    names += [q for q in a.queues if q not in order]
    own = sorted((q for q in names if q in a.queues), key=lambda q: (a.queues[q], order.get(q, 1e9), q))
    others = [q for q in names if q not in a.queues]
    rows = []
    for i, name in enumerate(own + others):
        q = snap_queues.get(name)
        cfg = next((c for c in config.queues if c.name == name), None)
        label = (q.label if q else None) or (cfg.label if cfg else None) or ""
        level = queue_level(q) if q else "ok"
        cells = {
            "queue": CellModel(name, level=level, bold=level == "breach", justify="left"),
            "label": CellModel(label, justify="left"),
            "member": CellModel(w("move.pen", p=a.queues[name]) if name in a.queues else "-", justify="left"),
            "level": CellModel(w.level(level) if q else "-", level=level, justify="left"),
            "waiting": CellModel(str(q.waiting) if q else "-"),
        }
        rows.append(RowModel(name, cells, (i,)))
    return rows


def caller_rows(summary: Summary, server: ServerTime, queue: str | None = None) -> list[RowModel]:
    """Contacts waiting now (every queue, or one), waits ticking locally, the most urgent first: the earliest to
    pass (or the longest past) its queue's service-level threshold. On a blended floor an e-mail four minutes
    old (its threshold hours away) no longer tops a caller drowning for 47 s; in one queue it is longest first."""
    rows = []
    for name, q in summary.queues.items():
        if queue is not None and name != queue:
            continue
        due = timedelta(seconds=q.sl_threshold_s)
        for c in q.callers:
            cells = {
                "queue": CellModel(name, justify="left"),
                "caller": CellModel(c.caller or c.call_id, justify="left"),
                "wait": CellModel(fmt_duration(server.seconds_since(c.entered_at))),
            }
            rows.append(RowModel(f"{name}|{c.call_id}", cells, (c.entered_at + due, c.entered_at, name, c.call_id)))
    return rows


def callback_rows(q: QueueSnapshot, name: str, server: ServerTime, tz, w: Words = ENGLISH) -> list[RowModel]:
    rows = []
    for c in q.callbacks:
        cells = {
            "kind": CellModel(w("kind.callback"), justify="left"),
            "caller": CellModel(c.call_id, justify="left"),
            "entered": CellModel(fmt_clock(c.entered_at, tz)),
            "wait": CellModel(fmt_duration(server.seconds_since(c.entered_at))),
        }
        rows.append(RowModel(f"cb|{c.call_id}", cells, (1, c.entered_at, c.call_id)))
    return rows


def drill_caller_rows(q: QueueSnapshot, name: str, server: ServerTime, tz, w: Words = ENGLISH) -> list[RowModel]:
    """A queue's waiting callers, then its pending callbacks (which keep their place)."""
    rows = []
    for c in q.callers:
        cells = {
            "kind": CellModel(w("kind.waiting"), justify="left"),
            "caller": CellModel(c.caller or c.call_id, justify="left"),
            "entered": CellModel(fmt_clock(c.entered_at, tz)),
            "wait": CellModel(fmt_duration(server.seconds_since(c.entered_at))),
        }
        rows.append(RowModel(f"w|{c.call_id}", cells, (0, c.entered_at, c.call_id)))
    return rows + callback_rows(q, name, server, tz, w)


# The drill-down's figures: (key, label, kind) with kind counter | ratio | gauge (the catalog's ``desk`` rows).
FIGURES: tuple[tuple[str, str, str], ...] = catalog.desk_figures()
# (column, its header's words key)
FIGURE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("figure", "fig.figure"),
    ("reset", "fig.reset"),
    ("reset_num", "fig.num"),
    ("reset_den", "fig.den"),
    ("rolling", "fig.rolling"),
    ("rolling_num", "fig.num"),
    ("rolling_den", "fig.den"),
)
# below this many columns the numerator and denominator share one column per window, so both windows fit
FIGURES_NARROW_BELOW = 96
FIGURE_COLUMNS_NARROW: tuple[tuple[str, str], ...] = (
    ("figure", "fig.figure"),
    ("reset", "fig.reset"),
    ("reset_frac", "fig.frac"),
    ("rolling", "fig.rolling"),
    ("rolling_frac", "fig.frac"),
)


def figure_columns(width: int) -> tuple[tuple[str, str], ...]:
    return FIGURE_COLUMNS_NARROW if width < FIGURES_NARROW_BELOW else FIGURE_COLUMNS


PCT_FIGURES = {k for k, _, _ in FIGURES if catalog.get(k).fmt == "pct"}
TIME_FIGURES = {k for k, _, _ in FIGURES if catalog.get(k).fmt == "duration"}
SCORE_FIGURES = {k for k, _, _ in FIGURES if catalog.get(k).fmt == "score"}


def fmt_figure(key: str, value) -> str:
    if key in PCT_FIGURES:
        return fmt_pct(value)
    if key in SCORE_FIGURES:
        return "-" if value is None else f"{value * 100:+.1f}"
    if key in TIME_FIGURES:
        return fmt_duration(value)
    return fmt_number(value)


def figure_label(key: str, q: QueueSnapshot | Total, w: Words = ENGLISH) -> str:
    """A figure's drill-down label (its name on the queue's channel: "First response" on a chat queue)."""
    channel = q.channel if isinstance(q, QueueSnapshot) else "voice"
    return catalog.desk_label(catalog.get(key), w.language, channel)


def formula_text(key: str, q: QueueSnapshot | Total, w: Words = ENGLISH) -> str:
    """A ratio's formula in words (the catalog's terms by the queue's SL formula; the centre's SL sums the
    queues')."""
    if isinstance(q, Total):
        return w("total_sl") if key == "service_level" else catalog.formula_words(key, w.language, "answered")
    return catalog.formula_words(key, w.language, q.sl_formula, q.count_overflow)


def figure_rows(
    q: QueueSnapshot | Total,
    summary: Summary,
    server: ServerTime,
    targets: dict[str, float] | None = None,
    w: Words = ENGLISH,
) -> list[RowModel]:
    """Each figure since the reset and over the rolling window, ratios with their numerator and denominator;
    a figure with a daily target (``wallboard.targets``) shows it beside the value since the reset."""
    now = server.now()
    rows = []
    for i, (key, label, kind) in enumerate(FIGURES):
        if isinstance(q, Total) and key in ("ewt_s",):
            continue

        def lv(text: str, key: str = key) -> CellModel:
            if isinstance(q, QueueSnapshot):
                return metric_cell(text, key, q, now)
            return CellModel(text)

        blank = CellModel("")
        if kind == "gauge":
            if key == "longest_wait_s":
                value = live_longest_wait(q, summary, server)
            elif key == "agents_available":
                # the centre total mixes channels: its agents free can take a contact on one of theirs
                value = (
                    agents_free(q.agent_counts, q.channel)
                    if isinstance(q, QueueSnapshot)
                    else centre_free(q.agent_counts)
                )
            elif key == "occupancy":  # its agents on a call or in wrap-up over those and the available, now
                value = occupancy_now(q.agent_counts, q.channel if isinstance(q, QueueSnapshot) else "voice")
            else:
                value = getattr(q, key)
            target = (targets or {}).get(key)
            shown = fmt_figure(key, value) + (f" / {fmt_figure(key, target)}" if target is not None else "")
            cells = {"reset": lv(shown), "rolling": CellModel(w("fig.now"))}
            cells.update(
                reset_num=blank,
                reset_den=blank,
                rolling_num=blank,
                rolling_den=blank,
                reset_frac=blank,
                rolling_frac=blank,
            )
        else:
            target = (targets or {}).get(key)
            shown = fmt_figure(key, getattr(q, key)) + (f" / {fmt_figure(key, target)}" if target is not None else "")
            cells = {
                "reset": lv(shown),
                "rolling": CellModel(fmt_figure(key, getattr(q.rolling, key))),
            }
            for side, prefix in (("reset", ""), ("rolling", "rolling.")):
                ex = q.explain.get(prefix + key) if kind == "ratio" else None
                cells[f"{side}_num"] = CellModel(fmt_number(ex.numerator)) if ex else blank
                cells[f"{side}_den"] = CellModel(fmt_number(ex.denominator)) if ex else blank
                frac = f"{fmt_number(ex.numerator)} / {fmt_number(ex.denominator)}" if ex else ""
                cells[f"{side}_frac"] = CellModel(frac)
        cells["figure"] = CellModel(figure_label(key, q, w), justify="left", bold=kind == "ratio")
        rows.append(RowModel(key, cells, (i,)))
    return rows


def figure_explanation(
    key: str, q: QueueSnapshot | Total, summary: Summary, server: ServerTime, w: Words = ENGLISH
) -> str:
    """One figure in words, for the line above the figures: a ratio's formula and both windows' numerator /
    denominator = value; a counter's windows; a gauge is the value now."""
    kind = next((kind for k, _, kind in FIGURES if k == key), None)
    if kind is None:
        return ""
    label = figure_label(key, q, w)
    minutes = q.rolling.minutes
    if kind == "gauge":
        return w("explain.gauge", label=label)
    if kind == "counter":
        return w(
            "explain.counter",
            label=label,
            reset=fmt_figure(key, getattr(q, key)),
            rolling=fmt_figure(key, getattr(q.rolling, key)),
            m=minutes,
        )
    ex = q.explain.get(key)
    rex = q.explain.get(f"rolling.{key}")
    if ex is None:
        return w("explain.none", label=label, value=fmt_figure(key, getattr(q, key)))
    parts = [
        w(
            "explain.reset",
            num=fmt_number(ex.numerator),
            den=fmt_number(ex.denominator),
            value=fmt_figure(key, getattr(q, key)),
        )
    ]
    if rex is not None:
        parts.append(
            w(
                "explain.rolling",
                m=minutes,
                num=fmt_number(rex.numerator),
                den=fmt_number(rex.denominator),
                value=fmt_figure(key, getattr(q.rolling, key)),
            )
        )
    return f"{label} = {formula_text(key, q, w)}\n  " + " · ".join(parts)


FORMULA_KEYS = tuple(k for k, _, kind in FIGURES if kind == "ratio")


_ISO_Z = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d(?::\d\d(?:\.\d+)?)?Z")


def describe_window(text: str, tz, w: Words = ENGLISH) -> str:
    """An explain window in words, its times in the centre's zone: an epoch id is the daily reset it starts at;
    ``rolling <time>`` covers the minutes starting at or after that time; any other ISO time is localised."""
    if text.isdigit():
        return w("window.reset", t=datetime.fromtimestamp(int(text), tz).strftime("%Y-%m-%d %H:%M %Z"))
    if text.startswith("rolling "):
        when = parse_utc(text.removeprefix("rolling "))
        if when is not None:
            return w("window.rolling", t=when.astimezone(tz).strftime("%H:%M %Z"))
    if text.startswith("since reset "):  # the engine's label of the daily window
        when = parse_utc(text.removeprefix("since reset "))
        if when is not None:
            return w("window.reset", t=when.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z"))
    if text == "all input":
        return w("window.all")

    def local(m: re.Match) -> str:
        when = parse_utc(m.group(0))
        return when.astimezone(tz).strftime("%Y-%m-%d %H:%M %Z") if when else m.group(0)

    return _ISO_Z.sub(local, text)


@dataclass
class Formula:
    label: str
    formula: str
    reset_window: str
    rolling_window: str
    extra: list[str] = field(default_factory=list)


def formulas(q: QueueSnapshot | Total, tz, w: Words = ENGLISH) -> list[Formula]:
    """Each ratio of the snapshot's explanations with its formula in words, then the expected wait's."""
    out = []
    for key in FORMULA_KEYS:
        ex = q.explain.get(key)
        rex = q.explain.get(f"rolling.{key}")
        if ex is None:
            continue
        out.append(
            Formula(
                figure_label(key, q, w),
                formula_text(key, q, w),
                describe_window(ex.window, tz, w),
                describe_window(rex.window, tz, w) if rex else "-",
            )
        )
    if isinstance(q, QueueSnapshot):
        # wallboard.metrics.ewt_slots_s on a written queue
        ewt = w("ewt_slots_formula") if is_written(q.channel) else w("ewt_formula")
        out.append(Formula(w("ewt"), ewt, "now", "-"))
    return out


def scorecard_rows(card: list[dict], w: Words = ENGLISH) -> list[RowModel]:
    """An agent's card (``reports.scorecard``): figure, today's value, its target, met or missed."""
    rows = []
    for i, f in enumerate(card):
        m = catalog.get(f["figure"], "agent")
        head, fmt = m.html or (f["figure"], "count")
        if w.language != "en":
            head = catalog.html_heading(m, w.language)
        show = _CARD_FORMATS[fmt]
        met = f["met"]
        cells = {
            "figure": CellModel(head, justify="left"),
            "today": CellModel(show(f["value"])),
            "target": CellModel(show(f["target"]) if f["target"] is not None else ""),
            "met": CellModel(
                "" if met is None else w("card.met") if met else w("card.missed"),
                level="breach" if met is False else "ok",
            ),
        }
        rows.append(RowModel(f["figure"], cells, (i,)))
    return rows


_CARD_FORMATS = {
    "count": fmt_number,
    "pct": fmt_pct,
    "rate": lambda v: "-" if v is None else f"{v:.1f}",
    "m:ss": fmt_duration,
    "s": fmt_duration,
    "h:mm": fmt_duration,
    "score": lambda v: "-" if v is None else f"{v * 100:+.0f}",
}
# (column, its header's words key)
SCORECARD_COLUMNS: tuple[tuple[str, str], ...] = (
    ("figure", "card.figure"),
    ("today", "card.today"),
    ("target", "card.target"),
    ("met", "blank"),
)
