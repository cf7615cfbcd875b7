"""A layout's projection of a summary: the few huge numbers per queue a TV shows, as plain JSON-ready data.

Computed once per snapshot and layout by the hub (every TV of the layout gets the same bytes) and by
``wallboard board``. Per queue: its label, open or closed, its worst level, and per figure the value, the
level, the alert (acknowledged by, snoozed until) and, for the longest wait, ``since`` (the oldest waiting
caller's entry time) so screens tick it locally from server time. Caller numbers are never included.

The service level shown is the window its threshold reads (rolling when ``window = "rolling"``), so the
number and its colour agree.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..config import LayoutConfig, WallboardConfig
from ..snapshot import QueueSnapshot, Summary
from ..ui.livetime import (  # pure helpers (no Textual): the desk's time formats
    fmt_duration,
    parse_utc,
)

# How each figure is formatted: count (integer), duration (m:ss), pct (whole percent).
FIGURE_FORMAT: dict[str, str] = {
    "waiting": "count",
    "longest_wait_s": "duration",
    "service_level": "pct",
    "agents_available": "count",
    "asa_s": "duration",
    "avg_wait_s": "duration",
    "abandon_rate": "pct",
    "ewt_s": "duration",
    "callbacks_pending": "count",
    "offered": "count",
    "answered": "count",
    "abandoned": "count",
}

FIGURE_LABELS: dict[str, dict[str, str]] = {
    "en": {
        "waiting": "Waiting",
        "longest_wait_s": "Longest wait",
        "service_level": "Service level",
        "agents_available": "Agents free",
        "asa_s": "Avg answer",
        "avg_wait_s": "Avg wait",
        "abandon_rate": "Abandoned",
        "ewt_s": "Expected wait",
        "callbacks_pending": "Callbacks",
        "offered": "Offered",
        "answered": "Answered",
        "abandoned": "Abandoned",
    },
    "he": {
        "waiting": "ממתינים",
        "longest_wait_s": "המתנה ארוכה",
        "service_level": "רמת שירות",
        "agents_available": "נציגים פנויים",
        "asa_s": "זמן מענה",
        "avg_wait_s": "המתנה ממוצעת",
        "abandon_rate": "נטישה",
        "ewt_s": "המתנה צפויה",
        "callbacks_pending": "שיחות חוזרות",
        "offered": "הוצעו",
        "answered": "נענו",
        "abandoned": "ננטשו",
    },
}

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
        "reconnecting": "reconnecting…",
        "refused": "refused",
        "connecting": "connecting…",
    },
    "he": {
        "stale": "לא עדכני",
        "no_data_since": "אין נתונים מאז",
        "closed": "סגור",
        "acked": "אושר",
        "snoozed": "מושתק עד",
        "page": "עמוד",
        "minutes": "דק׳",
        "reconnecting": "מתחבר מחדש…",
        "refused": "נדחה",
        "connecting": "מתחבר…",
    },
}

_RANK = {"ok": 0, "closed": 0, "warn": 1, "breach": 2}


def figure_label(layout: LayoutConfig, key: str) -> str:
    return layout.labels.get(key) or FIGURE_LABELS[layout.language].get(key, key)


def queue_label(layout: LayoutConfig, name: str, q: QueueSnapshot | None) -> str:
    return layout.labels.get(name) or (q.label if q is not None and q.label else name)


def rolling_sl(config: WallboardConfig, queue: str) -> bool:
    th = config.queue(queue).thresholds.get("service_level")
    return th is not None and th.window == "rolling"


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
        "timezone": config.centre.timezone,
        "stale_after_s": config.display.stale_after_s,
        "flash": {"enabled": config.display.flash, "hz": min(2.0, config.display.flash_hz)},
    }


def _value(q: QueueSnapshot, key: str, rolling: bool) -> float | int | None:
    if key == "agents_available":
        return q.agent_counts.available
    if key == "service_level" and rolling:
        return q.rolling.service_level
    return getattr(q, key)


def _oldest_caller(q: QueueSnapshot) -> str | None:
    times = [c.entered_at for c in q.callers if c.entered_at]
    return min(times) if times else None  # ISO UTC with Z: sorts as time


def project_queue(name: str, q: QueueSnapshot | None, layout: LayoutConfig, config: WallboardConfig) -> dict:
    minutes = config.centre.rolling_minutes
    figures = []
    for key in layout.figures:
        rolling = key == "service_level" and rolling_sl(config, name)
        fig: dict[str, Any] = {"key": key, "value": None, "level": "ok", "alert": None}
        if rolling:
            fig["window_min"] = minutes
        if q is not None:
            fig["value"] = _value(q, key, rolling)
            fig["level"] = "closed" if not q.open else q.levels.get(key, "ok")
            alert = q.alerts.get(key)
            if alert is not None and q.open:
                fig["alert"] = alert.model_dump()
            if key == "longest_wait_s":
                fig["since"] = _oldest_caller(q)
        figures.append(fig)
    if q is None:
        level = "ok"
    elif not q.open:
        level = "closed"
    else:
        level = max((f["level"] for f in figures), key=lambda lv: _RANK.get(lv, 0), default="ok")
    return {
        "name": name,
        "label": queue_label(layout, name, q),
        "open": q.open if q is not None else True,
        "missing": q is None,
        "level": level,
        "figures": figures,
    }


def project(summary: Summary, layout: LayoutConfig, config: WallboardConfig) -> dict[str, Any]:
    """The layout's view of ``summary``: the queues it names (every queue when it names none), in order."""
    names = layout.queues or list(summary.queues)
    return {
        "snapshot": {"seq": summary.seq, "at": summary.at, "centre": summary.centre},
        "queues": [project_queue(n, summary.queues.get(n), layout, config) for n in names],
    }


# --- formatting (the TV page has the same rules in tv.js) -------------------------------------------------


def fmt_value(fmt: str, value: float | int | None) -> str:
    """``count`` as an integer, ``duration`` as m:ss (h:mm:ss past an hour), ``pct`` as a whole percent."""
    if value is None:
        return "-"
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
    since = fig.get("since")
    if since:
        return max(0.0, (now - parse_utc(since)).total_seconds())
    if fig["value"] is None:
        return None
    gone = (now - snapshot_at).total_seconds() if snapshot_at is not None else 0.0
    return fig["value"] + max(0.0, gone)
