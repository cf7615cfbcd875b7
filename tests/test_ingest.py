"""Live ingest against a real Redis: the lease owner ticks, evaluates levels, applies ack/snooze, publishes."""

from __future__ import annotations

import asyncio
import itertools
import json
from datetime import timedelta

from wallboard.clock import ManualClock
from wallboard.config import load_config
from wallboard.events import CallerAnswered, CallerJoined
from wallboard.backoff import Backoff
from wallboard.ingest import Ingest
from wallboard.keys import Keys

from .conftest import T0, at
from .polling import task_failed, until

_ids = itertools.count()


class ListFeed:
    """A live feed that hands over a fixed list of events, then stays open (as a PBX connection does)."""

    name = "list"

    def __init__(self, events):
        self.events = events

    async def follow(self, clock):
        for e in self.events:
            yield e
        await asyncio.Event().wait()


def _config(prefix, **kw):
    queues = [{"name": "support", "thresholds": {"waiting": {"warn": 2, "breach": 3, "direction": "above"}}}]
    return load_config(None, redis={"prefix": prefix}, queues=queues, engine={"tick_s": 0.1}, **kw)


def joins(n, start=0):
    return [
        CallerJoined(id=f"j{next(_ids)}", ts=at(start + i), source="t", queue="support", call_id=f"c{i}")
        for i in range(n)
    ]


async def test_owner_publishes_and_only_one_owns(redis_client, prefix):
    config = _config(prefix)
    a = Ingest(redis_client, config, ListFeed(joins(2)), name="ing-a")
    b = Ingest(redis_client, config, ListFeed([]), name="ing-b")
    ta, tb = asyncio.create_task(a.run()), asyncio.create_task(b.run())
    keys = Keys(prefix)
    try:

        async def published(test):
            raw = await redis_client.get(keys.summary)
            return raw and test(json.loads(raw))

        # (the joins are of T0, before the window of now: they wait, and count in no window's "entered")
        await until(lambda: published(lambda s: s["queues"]["support"]["waiting"] == 2), "both joins published")
        summary = json.loads(await redis_client.get(keys.summary))
        assert summary["queues"]["support"]["levels"]["waiting"] == "warn"
        assert [a.owner, b.owner].count(True) == 1
        assert 0 < await redis_client.ttl(keys.health("ing-a")) <= config.engine.health_ttl_s
        seq1 = summary["seq"]
        # ticks go on publishing with nothing new applied (gauges move on time alone)
        await until(lambda: published(lambda s: s["seq"] > seq1), "a later tick's snapshot")
    finally:
        a.stop.set(), b.stop.set()
        await asyncio.gather(ta, tb)
    assert await redis_client.get(keys.lease) is None  # released on a clean stop
    assert await redis_client.get(keys.health("ing-a")) is None


async def test_ack_and_snooze_commands_applied_with_the_user(redis_client, prefix):
    config = _config(prefix)
    clock = ManualClock(at(10))
    ing = Ingest(redis_client, config, ListFeed([]), clock=clock, name="ing")
    await ing.engine.start()
    await ing.engine.apply(joins(3))
    assert await ing._lease()
    await ing.tick()
    keys = Keys(prefix)
    q = json.loads(await redis_client.get(keys.summary))["queues"]["support"]
    assert q["levels"]["waiting"] == "breach" and q["alerts"]["waiting"]["acked_by"] is None

    await redis_client.xadd(
        keys.centre + ":alert_cmds",
        {"type": "ack", "queue": "support", "metric": "waiting", "user": "rivka", "at": "2026-11-23T09:00:11Z"},
    )
    clock.advance(1)
    await ing.tick()
    q = json.loads(await redis_client.get(keys.summary))["queues"]["support"]
    assert q["levels"]["waiting"] == "breach" and q["alerts"]["waiting"]["acked_by"] == "rivka"

    until = T0 + timedelta(minutes=5)
    await redis_client.xadd(
        keys.centre + ":alert_cmds",
        {"type": "snooze", "queue": "support", "metric": "waiting", "user": "moshe", "until": until.isoformat()},
    )
    await redis_client.xadd(
        keys.centre + ":alert_cmds", {"type": "ack", "queue": "support", "metric": "service_level", "user": "moshe"}
    )  # no such alert: rejected, recorded
    clock.advance(1)
    await ing.tick()
    q = json.loads(await redis_client.get(keys.summary))["queues"]["support"]
    assert q["alerts"]["waiting"]["snoozed_until"].startswith("2026-11-23T09:05:00")
    audit = await redis_client.xrange(keys.centre + ":audit")
    assert [(e["type"], e["user"], e["result"][:8]) for _, e in audit] == [
        ("ack", "rivka", "applied"),
        ("snooze", "moshe", "applied"),
        ("ack", "moshe", "rejected"),
    ]

    # a new owner carries on from the stored alert state, and does not apply the requests again
    ing2 = Ingest(redis_client, config, ListFeed([]), clock=clock, name="ing2")
    await redis_client.delete(keys.lease)
    assert await ing2._lease()
    assert ing2.levels.get("support", "waiting").acked_by == "rivka"
    await ing2.tick()
    assert len(await redis_client.xrange(keys.centre + ":audit")) == 3


async def test_levels_clear_after_the_answer(redis_client, prefix):
    config = _config(prefix)
    clock = ManualClock(at(10))
    ing = Ingest(redis_client, config, ListFeed([]), clock=clock, name="ing")
    await ing.engine.start()
    await ing.engine.apply(joins(3))
    await ing._lease()
    await ing.tick()
    ans = [CallerAnswered(id=f"a{i}", ts=at(11), source="t", queue="support", call_id=f"c{i}") for i in range(3)]
    await ing.engine.apply(ans)
    clock.set(at(12))
    await ing.tick()
    q = json.loads(await redis_client.get(Keys(prefix).summary))["queues"]["support"]
    assert q["waiting"] == 0 and q["levels"]["waiting"] == "ok" and q["alerts"] == {}


def test_backoff_is_capped_and_grows():
    import random

    b = Backoff(0.2, 5.0, random.Random(1))
    delays = [b.next() for _ in range(10)]
    assert all(0.1 <= d <= 5.0 for d in delays)
    assert delays[0] <= 0.2 and max(delays[6:]) > 2.5  # grew to the cap's neighbourhood
    b.reset()
    assert b.next() <= 0.2


async def test_a_killed_owner_on_this_host_is_replaced_at_once_a_live_one_is_not(redis_client, prefix):
    """The lease of an owner that died here (SIGKILL) is taken over at the next tick, not when it runs out;
    the lease of a process that still runs (or of another host) is left alone."""
    import os
    import socket
    import subprocess
    import sys

    config = _config(prefix)
    keys = Keys(prefix)
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # its pid now names no process
    host = socket.gethostname()
    for holder, taken in (
        (f"{host}-{os.getpid()}-alive", False),
        (f"elsewhere-{gone.pid}-gone", False),
        (f"{host}-{gone.pid}-gone", True),
    ):
        await redis_client.set(keys.lease, holder, px=60_000)
        ing = Ingest(redis_client, config, ListFeed([]), name=f"{host}-{os.getpid()}-new")
        task = asyncio.create_task(ing.run())
        try:
            # two heartbeats: the lease was tried in between (a tick is heartbeat, then the lease)
            health = keys.health(ing.name)
            await until(lambda: redis_client.exists(health), "the first heartbeat", check=task_failed(task))
            await redis_client.delete(health)
            await until(lambda: redis_client.exists(health), "the next heartbeat", check=task_failed(task))
            assert ing.owner is taken, holder
            assert await redis_client.get(keys.lease) == (ing.name if taken else holder)
        finally:
            ing.stop.set()
            await task
