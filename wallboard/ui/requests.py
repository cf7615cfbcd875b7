"""Acknowledge and snooze: requests on the request stream (ingest applies them; snapshots then show them).

Fields: ``type`` (ack | snooze), ``queue``, ``metric``, ``user``, ``until`` (snooze only, ISO UTC), ``at``
(ISO UTC). No Textual here.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from ..keys import Keys
from ..snapshot import QueueSnapshot
from .livetime import iso_utc, parse_utc

ALERTING = ("breach", "warn")


def snoozed(alert, server_now: datetime) -> bool:
    until = parse_utc(alert.snoozed_until)
    return until is not None and until > server_now


def alerting_metrics(q: QueueSnapshot, kind: str, server_now: datetime) -> list[str]:
    """The queue's metrics in warn or breach that an ``ack`` (or ``snooze``) would still change."""
    out = []
    for metric in sorted(set(q.levels) | set(q.alerts)):
        level = q.levels.get(metric) or (q.alerts[metric].level if metric in q.alerts else "ok")
        if level not in ALERTING:
            continue
        alert = q.alerts.get(metric)
        if kind == "ack" and alert is not None and alert.acked_by:
            continue
        if kind == "snooze" and alert is not None and snoozed(alert, server_now):
            continue
        out.append(metric)
    return out


def build_request(kind: str, queue: str, metric: str, user: str, now: datetime, snooze_minutes: float) -> dict:
    fields = {"type": kind, "queue": queue, "metric": metric, "user": user, "at": iso_utc(now)}
    if kind == "snooze":
        fields["until"] = iso_utc(now + timedelta(minutes=snooze_minutes))
    return fields


async def send_requests(client, keys: Keys, requests: list[dict]) -> list[str]:
    """XADD each request to the request stream; returns the entry ids."""
    pipe = client.pipeline(transaction=False)
    for fields in requests:
        pipe.xadd(keys.requests, fields)
    return list(await pipe.execute())
