"""A replay's script calls take ``replay.SCRIPT_EVENTS`` events each (a live batch stays at engine.batch_size):
the calls seen on their way to Redis (the real store, watched, not replaced), and what they counted."""

from __future__ import annotations

import asyncio
import json

from wallboard import replay as replay_mod
from wallboard.config import load_config
from wallboard.events import CallerAnswered, CallerJoined
from wallboard.replay import replay
from wallboard.store import Scripts

from .conftest import at, redis_url


class ListFeed:
    name = "list"

    def __init__(self, events):
        self.events = events

    def read(self):
        yield from self.events


def _events(n: int) -> list:
    """n callers join "support" a second apart; the first half are answered 10 s after joining."""
    out: list = []
    for i in range(n):
        out.append(CallerJoined(id=f"j{i}", ts=at(i), source="t", queue="support", call_id=f"c{i}"))
    for i in range(n // 2):
        out.append(CallerAnswered(id=f"a{i}", ts=at(i + 10), source="t", queue="support", call_id=f"c{i}", agent="a1"))
    out.sort(key=lambda e: e.ts)
    return out


def _replay_seen(monkeypatch, prefix: str, batch_size: int, n: int):
    seen: list[int] = []  # events in each queue script call, in order
    real = Scripts.run_calls  # (the steps' road to Redis, and the snapshot's reads': those are told apart below)

    async def watched(self, client, calls):
        seen.extend(
            len(json.loads(a[1])) for name, _, a in calls if name == "queue_batch" and "read" not in json.loads(a[0])
        )
        return await real(self, client, calls)

    monkeypatch.setattr(Scripts, "run_calls", watched)
    config = load_config(
        None, redis={"prefix": prefix}, queues=[{"name": "support"}], engine={"batch_size": batch_size}
    )
    snap, stats = asyncio.run(
        replay(ListFeed(_events(n)), config, redis_url=redis_url(), prefix=prefix, window_mode="all")
    )
    return seen, snap, stats


def test_a_replay_sends_its_scripts_a_thousand_events_at_a_time(monkeypatch, prefix):
    assert replay_mod.SCRIPT_EVENTS == 1000
    n = 2400  # 3,600 events in one batch of the replay (CHUNK 5,000): 1,000 + 1,000 + 1,000 + 600
    seen, snap, stats = _replay_seen(monkeypatch, prefix, batch_size=100, n=n)
    assert seen == [1000, 1000, 1000, 600]
    q = snap.queues["support"]
    # counted by hand: 2,400 joined, the first 1,200 answered after 10 s each; the rest still wait
    assert (stats.events, stats.applied, stats.duplicates) == (3600, 3600, 0)
    assert (q.entered, q.answered, q.waiting) == (2400, 1200, 1200)
    assert q.asa_s == 10


def test_a_larger_configured_batch_stands(monkeypatch, prefix):
    seen, snap, _ = _replay_seen(monkeypatch, prefix, batch_size=2000, n=1500)  # 2,250 events
    assert seen == [2000, 250]
    assert (snap.queues["support"].entered, snap.queues["support"].answered) == (1500, 750)
