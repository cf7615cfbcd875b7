"""Business hours: whether a queue (or anything with an ``hours`` mapping) is open at a moment.

Pure and shared: thresholds mark a closed queue's metrics ``closed``, the simulated centre sends no callers to
a closed queue, and the notifier reads its quiet hours the same way.
"""

from __future__ import annotations

from datetime import datetime, time, tzinfo

from .config import DAYS, QueueConfig, expand_days, parse_hhmm


def _span(span: str) -> tuple[time, time]:
    start, _, end = span.partition("-")
    return parse_hhmm(start.strip()), parse_hhmm(end.strip())


def is_open(queue_cfg: QueueConfig, when: datetime, tz: tzinfo) -> bool:
    """Whether the queue is within its business hours at ``when`` (local time in ``tz``, the centre's zone).

    ``hours`` maps days (``sun-thu``, ``fri``, ``sat,sun``) to ``HH:MM-HH:MM``, half-open ``[start, end)``.
    A span ending at or before its start runs past midnight into the next day (``22:00-06:00`` listed for
    ``thu`` covers Friday until 06:00). No hours at all means always open.
    """
    if not queue_cfg.hours:
        return True
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError("when must be a timezone-aware datetime")
    local = when.astimezone(tz)
    today = DAYS[local.weekday()]
    yesterday = DAYS[(local.weekday() - 1) % 7]
    t = local.time().replace(tzinfo=None)
    for days, span in queue_cfg.hours.items():
        start, end = _span(span)
        listed = expand_days(days)
        if start < end:
            if today in listed and start <= t < end:
                return True
        else:  # wraps: the evening part today, the early part carried over from yesterday's listing
            if today in listed and t >= start:
                return True
            if yesterday in listed and t < end:
                return True
    return False
