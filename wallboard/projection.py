"""A layout's projection of a summary: the few huge numbers per queue a TV shows, as plain JSON-ready data.

Computed once per snapshot and layout by the hub (every TV of the layout gets the same bytes) and by
``wallboard board``. Per queue: its label, open or closed, its worst level, and per figure the value, the
level, the alert (acknowledged by, snoozed until) and, for the longest wait, ``since`` (the oldest waiting
caller's entry time) so screens tick it locally from server time. Caller numbers are never included.

A figure's main value is the window its threshold reads (rolling when ``window = "rolling"``), so the number
and its colour agree; per layout (``[[layouts]]`` options) a figure also carries its target (the threshold's
warn level: the level the centre says it wants to stay on the good side of), its other window (today beside
the rolling minutes), and a trend arrow (against its value ``trend_s`` ago, from ``TrendBook``); a centre
total tile leads the queues; each tile has its agents by state; and each queue in breach gives an alert line
for the ticker ("Customer service: 14 waiting, SL 38%").
"""

from __future__ import annotations

import math

from collections import deque
from datetime import datetime
from typing import Any

from . import catalog
from .channels import agents_busy, agents_free, centre_busy, centre_free, is_written, occupancy_now
from .channels import label as channel_label
from .targets import queue_target
from .config import LayoutConfig, WallboardConfig
from .events import utc
from .livetime import fmt_duration, parse_utc
from .snapshot import QueueSnapshot, Summary, Total

# How each figure is formatted: count (integer), duration (m:ss), pct (whole percent), score (NPS: -100..+100); the
# TV's figures and the
# threshold metrics (alert lines name them). All from ``wallboard.catalog``.
FIGURE_FORMAT: dict[str, str] = dict(catalog.formats())

# Figures with a window (the since-reset counters and their rolling twins); the rest are gauges ("now").
WINDOWED = frozenset(m.name for m in catalog.QUEUE if m.windowed)
# The second row of a tile: agents by state (snapshot AgentCounts fields), in this order.
AGENT_STATES = ("available", "on_call", "wrap_up", "paused", "logged_in")
# the agents strip's parts of a written queue's tile and of the total's (``_agents``), beside a phone queue's states
WRITTEN_PARTS = ("room", "busy", "paused", "logged_in")
TOTAL_PARTS = ("free", "busy", "paused", "logged_in")
STRIPS = (AGENT_STATES, WRITTEN_PARTS, TOTAL_PARTS)
TOTAL = "__total__"  # the centre total tile's name in a projection

FIGURE_LABELS: dict[str, dict[str, str]] = {lang: catalog.tv_labels(lang) for lang in catalog.LANGUAGES}

# Words the screens show around the numbers.
UI_TEXT: dict[str, dict[str, str]] = {
    "en": {
        "stale": "STALE",
        "no_data_since": "no data since",
        "closed": "CLOSED",
        "acked": "ack",
        "snoozed": "snoozed to",
        "page": "page",
        "minutes": "min",
        "window_short": "{m}m",
        "reconnecting": "reconnecting…",
        "refused": "refused",
        "connecting": "connecting…",
        "total": "Whole centre",
        "today": "today",
        "no_data_for": "NO DATA FOR",
        "seconds": "s",
        "last_update": "last update",
        "choose_layout": "choose a layout",
        "target": "target",
    },
    "he": {
        "stale": "לא עדכני",
        "no_data_since": "אין נתונים מאז",
        "closed": "סגור",
        "acked": "אושר",
        "snoozed": "מושתק עד",
        "page": "עמוד",
        "minutes": "דק׳",
        "window_short": "{m} דק׳",  # "30ד׳" reads as a typo: the minutes keep their word
        "reconnecting": "מתחבר מחדש…",
        "refused": "נדחה",
        "connecting": "מתחבר…",
        "total": "כל המוקד",
        "today": "היום",
        "no_data_for": "אין נתונים כבר",
        "seconds": "שנ׳",
        "last_update": "עדכון אחרון",
        "choose_layout": "בחרו תצוגה",
        "target": "יעד",
    },
}

AGENT_LABELS: dict[str, dict[str, str]] = {
    "en": {
        "available": "free",
        "room": "with room",
        "free": "free",
        "busy": "busy",
        "on_call": "on call",
        "wrap_up": "wrap-up",
        "paused": "paused",
        "logged_in": "logged in",
    },
    "he": {
        "available": "פנויים",
        "room": "עם מקום",
        "free": "פנויים",
        "busy": "עסוקים",
        "on_call": "בשיחה",
        "wrap_up": "סיכום",
        "paused": "בהפסקה",
        "logged_in": "מחוברים",
    },
}

# How an alert line names a metric ("{v}" is the formatted value).
ALERT_PHRASES: dict[str, dict[str, str]] = {lang: catalog.alert_phrases(lang) for lang in catalog.LANGUAGES}
# A change smaller than this is no trend (per format).
TREND_DEADBAND = {"count": 1, "pct": 0.01, "duration": 5.0, "score": 0.01}

_RANK = {"ok": 0, "closed": 0, "warn": 1, "breach": 2}


def figure_label(layout: LayoutConfig, key: str) -> str:
    return layout.labels.get(key) or FIGURE_LABELS[layout.language].get(key, key)


def queue_label(layout: LayoutConfig, name: str, q: QueueSnapshot | None) -> str:
    return layout.labels.get(name) or (q.label if q is not None and q.label else name)


def rolling_sl(config: WallboardConfig, queue: str) -> bool:
    return reads_rolling(config, queue, "service_level")


def reads_rolling(config: WallboardConfig, queue: str, key: str) -> bool:
    """The figure's main window is the rolling one: its threshold reads that window."""
    th = config.queue(queue).thresholds.get(key)
    return key in WINDOWED and th is not None and th.window == "rolling"


def layout_info(layout: LayoutConfig, config: WallboardConfig) -> dict[str, Any]:
    """What a screen needs to know about its layout once (sent in the ``state`` message)."""
    return {
        "name": layout.name,
        "title": layout.title or config.centre.name,
        "language": layout.language,
        "dir": "rtl" if layout.language == "he" else "ltr",
        "rotate_s": layout.rotate_s,
        "per_page": layout.per_page,
        "figures": [{"key": f, "label": figure_label(layout, f), "format": FIGURE_FORMAT[f]} for f in layout.figures],
        "text": UI_TEXT[layout.language],
        "agent_labels": AGENT_LABELS[layout.language],
        "timezone": config.centre.timezone,
        "stale_after_s": config.display.stale_after_s,
        "flash": {"enabled": config.display.flash, "hz": min(2.0, config.display.flash_hz)},
        "options": {
            "show_total": layout.show_total,
            "agent_states": layout.agent_states,
            "targets": layout.targets,
            "other_window": layout.other_window,
            "trend": layout.trend_s > 0,
            "ticker_alerts": layout.ticker_alerts,
            "level_icons": layout.level_icons,
        },
    }


def _value(q: QueueSnapshot | Total, key: str, rolling: bool) -> float | int | None:
    if key == "agents_available":
        if isinstance(q, Total):  # free on at least one channel it serves, as each queue's tile counts it
            return centre_free(q.agent_counts)
        return agents_free(q.agent_counts, q.channel)
    if key == "occupancy":  # the total's: every agent once, by state
        return occupancy_now(q.agent_counts, getattr(q, "channel", "voice"))
    if rolling:
        return getattr(q.rolling, key, None)
    return getattr(q, key, None)


def _oldest_caller(q: QueueSnapshot) -> datetime | None:
    return min((c.entered_at for c in q.callers), default=None)


def _text(when: datetime | None) -> str | None:
    """A time as the projection carries it (JSON-ready: ISO 8601 with a Z, as the snapshot publishes it)."""
    return utc(when) if when is not None else None


def target_of(config: WallboardConfig, queue: str, key: str) -> float | None:
    """The figure's target: the queue's daily target (``[targets.queues]``, docs/REPORTS.md), else the warn level
    of its threshold on it (None without either)."""
    t = queue_target(config, queue, key, "day")
    if t is not None:
        return t
    th = config.queue(queue).thresholds.get(key)
    return th.warn if th is not None else None


def _agents(counts, channel: str | None = "voice") -> dict[str, int]:
    """A tile's agents strip, in the order shown: a phone queue's agents by state; a written queue's by what
    matters there (an agent chatting is "available" by state): with room for one more, busy (no room left),
    paused, logged in, as the desk's Avail / Busy / Paused; the centre total's (``channel`` None) free on at
    least one channel it serves, busy, paused, logged in (``channels.centre_free``)."""
    if channel is None:
        values = (centre_free(counts), centre_busy(counts), counts.paused, counts.logged_in)
        return dict(zip(TOTAL_PARTS, values))
    if is_written(channel):
        values = (agents_free(counts, channel), agents_busy(counts, channel), counts.paused, counts.logged_in)
        return dict(zip(WRITTEN_PARTS, values))
    return {k: getattr(counts, k) for k in AGENT_STATES}


class TrendBook:
    """Each queue's figures over the last ``keep_s`` (one value per summary time), so a figure can be compared
    with its value ``trend_s`` ago: ``up``, ``down``, or ``flat`` within the format's dead band; None while
    the book is younger than ``trend_s`` (a hub that just started shows no arrows for that long)."""

    def __init__(self, keep_s: float = 3600.0):
        self.keep_s = keep_s
        self.values: dict[tuple[str, str], deque[tuple[float, float]]] = {}

    def record(self, name: str, key: str, at: float, value: float | int | None) -> None:
        if value is None:
            return
        d = self.values.setdefault((name, key), deque())
        if d and at <= d[-1][0]:
            if at == d[-1][0]:  # the same summary again (a re-read), or its full one after its delta: its waits now
                d[-1] = (at, float(value))
            return
        d.append((at, float(value)))
        while d and d[0][0] < at - self.keep_s:
            d.popleft()

    def trend(self, name: str, key: str, at: float, value: float | int | None, trend_s: float) -> str | None:
        d = self.values.get((name, key))
        if value is None or not d or d[0][0] > at - trend_s:
            return None
        then = d[0][1]
        for t, v in d:  # the newest value at or before at - trend_s
            if t > at - trend_s:
                break
            then = v
        band = TREND_DEADBAND[FIGURE_FORMAT.get(key, "count")]
        diff = float(value) - then
        return "flat" if abs(diff) < band - 1e-9 else "up" if diff > 0 else "down"


def _better(config: WallboardConfig, queue: str | None, key: str, trend: str | None) -> bool | None:
    """Whether the trend is good news: up is good for a figure whose threshold warns below, and so on."""
    if trend not in ("up", "down"):
        return None
    queues = [queue] if queue is not None else [q.name for q in config.queues]
    dirs = {th.direction for q in queues if (th := config.queue(q).thresholds.get(key)) is not None}
    if len(dirs) != 1:
        return None
    return (trend == "up") == (dirs.pop() == "below")


def _figure(
    name: str,
    source: QueueSnapshot | Total | None,
    key: str,
    layout: LayoutConfig,
    config: WallboardConfig,
    rolling: bool,
    at: float | None,
    trends: TrendBook | None,
    target: float | None,
    queue: str | None,
) -> dict[str, Any]:
    minutes = config.centre.rolling_minutes
    fig: dict[str, Any] = {"key": key, "value": None, "level": "ok", "alert": None}
    if rolling:
        fig["window_min"] = minutes
    if layout.targets and target is not None:
        fig["target"] = target
    if source is None:
        return fig
    fig["value"] = _value(source, key, rolling)
    if layout.other_window and key in WINDOWED:
        fig["other"] = {
            "value": _value(source, key, not rolling),
            "window": "today" if rolling else "rolling",
            "minutes": minutes,
        }
    if trends is not None and at is not None and layout.trend_s > 0:
        t = trends.trend(name, key, at, fig["value"], layout.trend_s)
        if t is not None:
            fig["trend"] = t
            fig["trend_good"] = _better(config, queue, key, t)
    return fig


def project_queue(
    name: str,
    q: QueueSnapshot | None,
    layout: LayoutConfig,
    config: WallboardConfig,
    at: float | None = None,
    trends: TrendBook | None = None,
) -> dict:
    figures = []
    for key in layout.figures:
        rolling = reads_rolling(config, name, key)
        fig = _figure(name, q, key, layout, config, rolling, at, trends, target_of(config, name, key), name)
        if q is not None:
            fig["level"] = "closed" if not q.open else q.levels.get(key, "ok")
            alert = q.alerts.get(key)
            if alert is not None and q.open:
                fig["alert"] = alert.model_dump(mode="json")
            if key == "longest_wait_s":
                fig["since"] = _text(_oldest_caller(q))
            if is_written(q.channel) and key not in layout.labels:  # "First response" on a chat queue
                own = catalog.label(catalog.get(key), layout.language, q.channel)
                if own != figure_label(layout, key):
                    fig["label"] = own
        figures.append(fig)
    if q is None:
        level = "ok"
    elif not q.open:
        level = "closed"
    else:
        level = max((f["level"] for f in figures), key=lambda lv: _RANK.get(lv, 0), default="ok")
    label = queue_label(layout, name, q)
    out = {
        "name": name,
        "label": label,
        "open": q.open if q is not None else True,
        "missing": q is None,
        "level": level,
        "figures": figures,
        # a written queue's tile names its channel (voice, the usual, is left unsaid)
        "channel": q.channel if q is not None else "voice",
        "channel_label": _channel_tag(label, q, layout.language),
    }
    if layout.agent_states:
        out["agents"] = _agents(q.agent_counts, q.channel) if q is not None else None
    return out


def _channel_tag(label: str, q: QueueSnapshot | None, language: str) -> str | None:
    """A written queue's channel beside its name, unless the name says it already ("Web chat", "E-mail")."""
    if q is None or not is_written(q.channel):
        return None
    tag = channel_label(q.channel, language)
    return None if tag.lower() in label.lower() or q.channel in label.lower() else tag


def project_total(
    summary: Summary,
    names: list[str],
    layout: LayoutConfig,
    config: WallboardConfig,
    at: float | None = None,
    trends: TrendBook | None = None,
) -> dict:
    """The centre total tile: the summary's total (every queue, agents counted once). Its figures have no level
    of their own (``none``: thresholds are per queue); a figure reads the rolling window when every queue's
    threshold on it does, and shows a target only when every queue has the same one."""
    t = summary.total
    figures = []
    for key in layout.figures:
        rolling = bool(names) and all(reads_rolling(config, n, key) for n in names)
        targets = {target_of(config, n, key) for n in names}
        target = targets.pop() if len(targets) == 1 else None
        fig = _figure(TOTAL, t, key, layout, config, rolling, at, trends, target, None)
        fig["level"] = "none"
        if key == "longest_wait_s":
            oldest = [c for q in summary.queues.values() if (c := _oldest_caller(q))]
            fig["since"] = _text(min(oldest)) if oldest else None
        figures.append(fig)
    out = {
        "name": TOTAL,
        "label": UI_TEXT[layout.language]["total"],
        "open": True,
        "missing": False,
        "level": "none",
        "total": True,
        "figures": figures,
    }
    if layout.agent_states:
        out["agents"] = _agents(t.agent_counts, None)
    return out


def alert_lines(projected: list[dict], layout: LayoutConfig, summary: Summary, config: WallboardConfig) -> list[str]:
    """One line per open queue of the layout in breach: its name, how many wait, its service level, and each
    other metric in breach, each in the window its threshold reads."""
    phrases = ALERT_PHRASES[layout.language]
    lines = []
    for p in projected:
        q = summary.queues.get(p["name"])
        if q is None or not q.open:
            continue
        breaching = [m for m, lv in q.levels.items() if lv == "breach"]
        if not breaching:
            continue
        parts = []
        for key in ["waiting", "service_level", *sorted(m for m in breaching if m not in ("waiting", "service_level"))]:
            value = _value(q, key, reads_rolling(config, p["name"], key))
            if value is None or key not in phrases:
                continue
            parts.append(phrases[key].format(v=fmt_value(FIGURE_FORMAT.get(key, "count"), value)))
        lines.append(f"{p['label']}: {', '.join(parts)}")
    return lines


def record_trends(trends: TrendBook, summary: Summary, config: WallboardConfig, keys: set[str]) -> None:
    """Put every queue's and the total's figures of this summary in the book (before projecting it)."""
    ts = summary.at.timestamp()
    for name, q in summary.queues.items():
        for key in keys:
            trends.record(name, key, ts, _value(q, key, reads_rolling(config, name, key)))
    names = list(summary.queues)
    for key in keys:
        rolling = bool(names) and all(reads_rolling(config, n, key) for n in names)
        trends.record(TOTAL, key, ts, _value(summary.total, key, rolling))


def project(
    summary: Summary, layout: LayoutConfig, config: WallboardConfig, trends: TrendBook | None = None
) -> dict[str, Any]:
    """The layout's view of ``summary``: the queues it names (every queue when it names none), in order; the
    centre total (``total``, None when the layout hides it) and the ticker's alert lines (``alerts``)."""
    names = layout.queues or list(summary.queues)
    at = summary.at.timestamp()
    queues = [project_queue(n, summary.queues.get(n), layout, config, at, trends) for n in names]
    return {
        "snapshot": {"seq": summary.seq, "at": utc(summary.at), "centre": summary.centre},
        "queues": queues,
        "total": project_total(summary, list(summary.queues), layout, config, at, trends)
        if layout.show_total
        else None,
        "alerts": alert_lines(queues, layout, summary, config) if layout.ticker_alerts else [],
    }


# --- formatting (the TV page has the same rules in tv.js) -------------------------------------------------


def _half_up(x: float) -> int:
    """Rounded half away from zero, as tv.js does it (Python's round() goes to the even neighbour)."""
    return int(math.floor(abs(x) + 0.5)) * (1 if x >= 0 else -1)


def fmt_value(fmt: str, value: float | int | None) -> str:
    """``count`` as an integer, ``duration`` as m:ss (h:mm:ss past an hour), ``pct`` as a whole percent, ``score``
    (NPS) as a signed whole number of the fraction x 100."""
    if value is None:
        return "-"
    if fmt == "score":
        n = _half_up(value * 100)
        return f"+{n}" if n > 0 else str(n)
    if fmt == "pct":
        return f"{int(value * 100 + 0.5)}%" if value < 0.995 or value >= 1 else "99%"
    if fmt == "duration":
        return fmt_duration(value)
    return str(int(value))


def live_value(fig: dict, snapshot_at: datetime | None, now: datetime) -> float | int | None:
    """A figure's value now: the longest wait ticks from the oldest caller's entry (or from the snapshot's
    value plus the time since the snapshot); everything else is as computed."""
    if fig["key"] != "longest_wait_s":
        return fig["value"]
    since = parse_utc(fig.get("since"))
    if since is not None:
        return max(0.0, (now - since).total_seconds())
    if fig["value"] is None:
        return None
    gone = (now - snapshot_at).total_seconds() if snapshot_at is not None else 0.0
    return fig["value"] + max(0.0, gone)
