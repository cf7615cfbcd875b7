"""Offline replay: a feed's events through the engine on the events' own clock, then the final snapshot.

Runs in a throwaway key namespace (deleted afterwards) unless a prefix is given. "now" at the end is the
last event's time plus one second.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from .config import WallboardConfig
from .engine import Engine
from .feed import DeadLetter
from .keys import Keys
from .snapshot import Snapshot
from .store import connect
from .thresholds import LevelState

CHUNK = 5000  # events per apply() round (each queue's share goes in scripts of batch_size events)


@dataclass
class ReplayStats:
    events: int = 0
    applied: int = 0
    duplicates: int = 0
    dead_letters: int = 0


async def replay(
    feed,
    config: WallboardConfig,
    *,
    redis_url: str | None = None,
    prefix: str | None = None,
    window_mode: str = "since_reset",
) -> tuple[Snapshot, ReplayStats]:
    client = await connect(config, redis_url)
    throwaway = prefix is None
    keys = Keys(prefix or f"wbreplay-{uuid.uuid4().hex[:12]}")
    engine = Engine(client, config, keys, window_mode=window_mode, feed_name=getattr(feed, "name", ""))
    stats = ReplayStats()
    try:
        await engine.start()
        batch: list = []
        dead: list[DeadLetter] = []
        last: float | None = None

        async def flush() -> None:
            nonlocal last
            res = await engine.apply(batch)
            stats.events += res.events
            stats.applied += res.applied
            stats.duplicates += res.duplicates
            if res.last_ts is not None:
                last = res.last_ts if last is None else max(last, res.last_ts)
            batch.clear()
            await engine.dead_letters(dead)
            stats.dead_letters += len(dead)
            dead.clear()

        for item in feed.read():
            if isinstance(item, DeadLetter):
                dead.append(item)
            else:
                batch.append(item)
            if len(batch) >= CHUNK or len(dead) >= CHUNK:
                await flush()
        await flush()
        end = (datetime.fromtimestamp(last, timezone.utc) if last is not None else datetime.now(timezone.utc))
        now = end + timedelta(seconds=1)
        snap = await engine.build_snapshot(now)
        # levels at the end of input (no hysteresis history in a one-shot replay: one tick at the end)
        snap, _ = engine.evaluate(snap, LevelState(), now)
        snap = await engine.publish(snap)
        return snap, stats
    finally:
        if throwaway:
            await _drop_namespace(client, keys.prefix)
        await client.aclose()


async def _drop_namespace(client, prefix: str) -> None:
    batch = []
    async for key in client.scan_iter(match=f"{prefix}:*", count=2000):
        batch.append(key)
        if len(batch) >= 2000:
            await client.unlink(*batch)
            batch.clear()
    if batch:
        await client.unlink(*batch)


def drop_namespace_sync(client, prefix: str) -> int:
    """Delete every key of a namespace (sync client); returns how many."""
    n, batch = 0, []
    for key in client.scan_iter(match=f"{prefix}:*", count=2000):
        batch.append(key)
        if len(batch) >= 2000:
            n += client.unlink(*batch)
            batch.clear()
    if batch:
        n += client.unlink(*batch)
    return n
