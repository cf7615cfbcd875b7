"""Hand-built summaries and configs for the TV tests (board, hub, page): published to a real Redis under a
throwaway prefix, the way the engine publishes them (SET the latest, PUBLISH on the channel)."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from wallboard.channels import DEFAULTS as CHANNEL_DEFAULTS
from wallboard.config import load_config
from wallboard.delta import Delta
from wallboard.keys import Keys
from wallboard.snapshot import (
    AgentCounts,
    Alert,
    Caller,
    QueueSnapshot,
    Rolling,
    Summary,
    Total,
    Window,
)

from .conftest import redis_url

UNMASKED = "0521234567"  # a caller number that must never reach a TV


def iso(t: datetime) -> str:
    return t.astimezone(timezone.utc).isoformat(timespec="seconds").replace("+00:00", "Z")


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


def make_queue(
    label: str,
    now: datetime,
    *,
    waiting_since_s: tuple[float, ...] = (),
    sl: float | None = 0.85,
    rolling_sl: float | None = None,
    available: int = 3,
    levels: dict | None = None,
    alerts: dict | None = None,
    open_: bool = True,
    answered: int = 100,
    channel: str = "voice",
) -> QueueSnapshot:
    callers = [
        Caller(call_id=f"c{i}", entered_at=iso(now - timedelta(seconds=s)), wait_s=float(s), caller=UNMASKED)
        for i, s in enumerate(waiting_since_s)
    ]
    return QueueSnapshot(
        label=label,
        channel=channel,
        entered=answered + len(callers),
        offered=answered,
        answered=answered,
        answered_within_sl=int(answered * (sl or 0)),
        service_level=sl,
        asa_s=12.0,
        sl_formula="excl_short_abandons",
        sl_threshold_s=CHANNEL_DEFAULTS[channel].sl_threshold_s,
        short_abandon_s=CHANNEL_DEFAULTS[channel].short_abandon_s,
        count_overflow=False,
        open=open_,
        waiting=len(callers),
        longest_wait_s=float(max(waiting_since_s)) if waiting_since_s else None,
        callers=callers,
        # on a written queue the tile's agents are those with room for one more conversation (here: the available)
        agent_counts=AgentCounts(
            available=available, on_call=4, logged_in=available + 4, free=available if channel != "voice" else 0
        ),
        rolling=Rolling(
            minutes=30,
            since=iso(now - timedelta(minutes=30)),
            offered=40,
            answered=40,
            service_level=rolling_sl if rolling_sl is not None else sl,
        ),
        levels=levels or {},
        alerts=alerts or {},
    )


def breach(metric: str, now: datetime, *, acked_by: str | None = None, snoozed_until: datetime | None = None) -> dict:
    """The levels and alerts of a queue breaching on ``metric``."""
    alert = Alert(
        level="breach",
        since=iso(now - timedelta(seconds=30)),
        acked_by=acked_by,
        snoozed_until=iso(snoozed_until) if snoozed_until else None,
    )
    return {"levels": {metric: "breach"}, "alerts": {metric: alert}}


def make_summary(seq: int, now: datetime, queues: dict[str, QueueSnapshot]) -> Summary:
    return Summary(
        seq=seq,
        at=iso(now),
        centre="Test centre",
        timezone="UTC",
        window=Window(kind="since_reset", since=iso(now.replace(hour=0, minute=0, second=0))),
        queues=queues,
        total=Total(
            waiting=sum(q.waiting for q in queues.values()),
            rolling=Rolling(minutes=30, since=iso(now - timedelta(minutes=30))),
        ),
    )


def four_queues(seq: int, now: datetime, **support) -> Summary:
    """support (waiting 3, longest 1:14), tech, billing, sales; ``support`` overrides support's arguments."""
    sup = dict(waiting_since_s=(74, 20, 5), sl=0.62, available=0)
    sup.update(support)
    return make_summary(
        seq,
        now,
        {
            "support": make_queue("Customer service", now, **sup),
            "tech": make_queue("Technical support", now, waiting_since_s=(12,), sl=0.91, available=2),
            "billing": make_queue("Billing", now, sl=1.0, available=5),
            "sales": make_queue("Sales", now, sl=0.88, available=1),
        },
    )


def blended(seq: int, now: datetime) -> Summary:
    """A phone queue beside a written one: ``web``, a chat queue whose label does not say so (its tile adds the
    channel: "Web help · Chat")."""
    return make_summary(
        seq,
        now,
        {
            "support": make_queue("Customer service", now, waiting_since_s=(30,), sl=0.9, available=1),
            "web": make_queue("Web help", now, waiting_since_s=(50, 10), sl=0.82, available=2, channel="chat"),
        },
    )


LAYOUTS = [
    {
        "name": "floor",
        "title": "Floor",
        "queues": ["support", "tech", "billing", "sales"],
        "rotate_s": 2,
        "viewer_token_env": "TV_TEST_VIEWER_FLOOR",
    },
    {
        "name": "single",
        "title": "One per page",
        "queues": ["support", "tech", "billing"],
        "per_page": 1,
        "rotate_s": 1,
        "viewer_token_env": "TV_TEST_VIEWER_SINGLE",
        "show_total": False,
    },
    {
        "name": "floor-he",
        "title": "מוקד שירות",
        "language": "he",
        "queues": ["support", "tech"],
        "labels": {"support": "שירות לקוחות", "tech": "תמיכה טכנית"},
        "viewer_token_env": "TV_TEST_VIEWER_HE",
    },
]
# a phone queue beside the written one (tv_config's queue 'web'), in English and Hebrew
BLENDED_LAYOUTS = [
    {"name": "blended", "queues": ["support", "web"], "viewer_token_env": "TV_TEST_VIEWER_FLOOR"},
    {
        "name": "blended-he",
        "language": "he",
        "queues": ["support", "web"],
        "labels": {"support": "שירות לקוחות", "web": "עזרה באתר"},
        "viewer_token_env": "TV_TEST_VIEWER_HE",
    },
]
TOKENS = {
    "TV_TEST_VIEWER_FLOOR": "view-floor-1",
    "TV_TEST_VIEWER_SINGLE": "view-single-1",
    "TV_TEST_VIEWER_HE": "view-he-1",
    "TV_TEST_TOKEN_RIVKA": "sup-rivka-1",
    "TV_TEST_TOKEN_MOSHE": "sup-moshe-1",
}


def tv_config(prefix: str, *, hub: dict | None = None, display: dict | None = None, layouts=None, targets=None):
    return load_config(
        None,
        targets=targets or {},
        redis={"prefix": prefix, "url": redis_url()},
        centre={"timezone": "UTC", "name": "Test centre"},
        display={"stale_after_s": 2, "flash_hz": 2, **(display or {})},
        queues=[
            {
                "name": "support",
                "thresholds": {
                    "service_level": {"warn": 0.8, "breach": 0.7, "direction": "below", "window": "rolling"}
                },
            },
            {"name": "tech"},
            {"name": "billing"},
            {"name": "sales"},
            # written: its channel's SL threshold (60 s); no thresholds, so the total's trends read as before
            {"name": "web", "channel": "chat", "thresholds": {}},
        ],
        layouts=layouts if layouts is not None else LAYOUTS,
        roles={
            "supervisor": {"permissions": ["ack", "snooze"]},
            "team_lead": {"permissions": ["ack"], "queues": ["billing"]},
        },
        users=[
            {"name": "rivka", "roles": ["supervisor"], "token_env": "TV_TEST_TOKEN_RIVKA"},
            {"name": "moshe", "roles": ["team_lead"], "token_env": "TV_TEST_TOKEN_MOSHE"},
        ],
        hub={"host": "127.0.0.1", "port": 0, "heartbeat_s": 0.5, "ticker_poll_s": 0.2, **(hub or {})},
    )


async def publish(client, prefix: str, summary: Summary) -> None:
    keys = Keys(prefix)
    text = summary.model_dump_json()
    await client.set(keys.summary, text)
    await client.publish(keys.channel, text)


async def publish_delta(client, prefix: str, summary: Summary, changed: tuple[str, ...]) -> None:
    """``summary`` sent as the lease owner sends a delta (wallboard.delta): the stored summary is the new one,
    the message carries only the ``changed`` queues, whole."""
    keys = Keys(prefix)
    await client.set(keys.summary, summary.model_dump_json())
    await client.publish(keys.delta_channel, _delta_to(summary, changed).model_dump_json())


def _delta_to(summary: Summary, changed: tuple[str, ...]) -> Delta:
    """The delta to ``summary`` from the one before: its ``changed`` queues, whole."""
    return Delta(
        seq=summary.seq,
        at=summary.at,
        window=summary.window,
        queues={q: summary.queues[q] for q in changed},
        total=summary.total,
    )


async def publish_full_with_delta(
    client, prefix: str, summary: Summary, changed: tuple[str, ...], between=None
) -> None:
    """``summary`` sent as the lease owner sends a full snapshot (``DeltaPublisher._send``): stored, then the delta
    to it (the ``changed`` queues, whole) and the full summary, both of its seq and time, published in that order.
    ``between``: awaited between the two (a view that handles the delta before the full summary comes)."""
    keys = Keys(prefix)
    d = _delta_to(summary, changed)
    text = summary.model_dump_json()
    await client.set(keys.summary, text)
    await client.publish(keys.delta_channel, d.model_dump_json())
    if between is not None:
        await between()
    await client.publish(keys.channel, text)


async def publish_late(client, prefix: str, summary: Summary) -> None:
    """A full summary delivered late (published, never stored: what is stored is newer)."""
    await client.publish(Keys(prefix).channel, summary.model_dump_json())


def demo_floor(seq: int, now: datetime) -> Summary:
    """The demo's six queues (wallboard/data/demo.toml) the way a floor sees them: support breaching on its
    rolling SL (acknowledged by rivka), a chat and an e-mail queue (an e-mail waiting 1:05:00), two-digit agent
    counts on the centre total."""
    queues = {
        "support": make_queue(
            "Customer service",
            now,
            waiting_since_s=(74, 20, 5),
            sl=0.62,
            available=0,
            **breach("service_level", now, acked_by="rivka"),
        ),
        "tech": make_queue("Technical support", now, waiting_since_s=(12,), sl=0.91, available=2),
        "billing": make_queue("Billing", now, sl=1.0, available=5),
        "sales": make_queue("Sales", now, sl=0.88, available=1),
        "chat": make_queue("Web chat", now, sl=0.8, available=1).model_copy(
            update={"channel": "chat", "agent_counts": AgentCounts(available=1, on_call=4, logged_in=5, free=1)}
        ),
        "email": make_queue("E-mail", now, waiting_since_s=(3900,), sl=1.0, available=0).model_copy(
            update={"channel": "email"}
        ),
    }
    for name, extra in (("support", {"wrap_up": 2, "paused": 1}), ("billing", {"paused": 3})):
        c = queues[name].agent_counts
        queues[name] = queues[name].model_copy(
            update={"agent_counts": c.model_copy(update={**extra, "logged_in": c.logged_in + sum(extra.values())})}
        )
    s = make_summary(seq, now, queues)
    # free for the centre: the 9 available (the one chat agent with room among them); busy 33 - 4 paused - 9 = 20
    counts = AgentCounts(available=9, on_call=18, wrap_up=2, paused=4, logged_in=33, free=9)
    return s.model_copy(
        update={"centre": "Example Bank — demo", "total": s.total.model_copy(update={"agent_counts": counts})}
    )
