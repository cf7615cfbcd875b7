"""The owner's pace of publishing for changes (``PublishPace``) and the pump holding a batch while a publish
runs, on real Redis."""

from __future__ import annotations

import asyncio
import json

import pytest

from wallboard import ingest
from wallboard.aio import cancel_and_wait
from wallboard.config import load_config
from wallboard.ingest import Ingest, PublishPace, Timeline
from wallboard.keys import Keys

from .polling import task_failed, until
from .test_ingest import ListFeed, _config, joins


def test_the_pace_is_the_minimum_interval_until_publishing_costs_more_than_its_share():
    pace = PublishPace(0.1, 0.25, 0.25)
    assert pace.gap_s == 0.1  # before any publish
    assert pace.took(0.01) == 0.1  # 0.01 / 0.25 = 0.04: the minimum
    # smoothed: 0.01 + 0.25 x (0.09 - 0.01) = 0.03; / 0.25 = 0.12
    assert pace.took(0.09) == pytest.approx(0.12)
    # 0.03 + 0.25 x (1.0 - 0.03) = 0.2725; / 0.25 = 1.09: at most the maximum interval
    assert pace.took(1.0) == 0.25


def test_the_pace_of_an_engine_section_is_capped_by_its_tick():
    config = _config("wbpace")  # tick_s = 0.1, below the default maximum of 250 ms
    pace = PublishPace.of(config.engine)
    assert (pace.min_gap_s, pace.share, pace.max_gap_s) == (0.1, 0.2, 0.1)
    assert pace.took(5.0) == 0.1


async def waiting(ing: Ingest) -> int:
    return (await ing.engine.build_snapshot(ing.clock.now())).queues["support"].waiting


async def test_a_batch_gathered_while_a_publish_runs_is_applied_after_it(redis_client, prefix, cleanup):
    ing = Ingest(redis_client, _config(prefix), ListFeed(joins(3)), name="ing")
    await ing.engine.start()
    ing.not_publishing.clear()  # as ``tick`` does while it publishes
    pump = asyncio.create_task(ing._pump())
    try:
        await until(lambda: ing.held == 3, "the pump holding the three joins")
        assert ing.events_applied == 0
        assert await waiting(ing) == 0
        ing.not_publishing.set()  # the publish is done
        await until(lambda: ing.events_applied == 3, "the joins applied")
        assert ing.held == 0
        assert await waiting(ing) == 3
    finally:
        await cancel_and_wait(pump)


async def test_the_timeline_records_each_batch_and_the_publish_that_shows_it(redis_client, prefix, cleanup):
    """``Ingest.timeline``: the batch with the three joins, its times in the order they happen, and the publish
    whose ``seq`` the stored summary carries with the joins, sent after the batch began to be applied (its build
    may have begun earlier: a build reads a queue's slot when it gets to it, after a batch's writes or before)."""
    ing = Ingest(redis_client, _config(prefix), ListFeed(joins(3)), name="ing")
    ing.timeline = tl = Timeline()
    task = asyncio.create_task(ing.run())
    keys = Keys(prefix)

    async def summary() -> dict:
        raw = await redis_client.get(keys.summary)
        return json.loads(raw) if raw else {}

    async def shown() -> bool:
        return (await summary()).get("queues", {}).get("support", {}).get("waiting") == 3

    try:
        await until(shown, "the three joins published", check=task_failed(task))
        seq = (await summary())["seq"]
        await until(lambda: any(p.seq == seq for p in tl.publishes), "the publish's record", check=task_failed(task))
    finally:
        ing.stop.set()
        await task
    assert [e.call_id for b in tl.batches for e in b.events] == ["c0", "c1", "c2"]
    last = tl.batches[-1]
    assert all(b.taken <= b.gathered <= b.applying <= b.applied for b in tl.batches)
    pub = next(p for p in tl.publishes if p.seq == seq)
    assert last.applying <= pub.sent
    assert all(p.began <= p.building <= p.sent and p.cpu_s >= 0 for p in tl.publishes)
    assert [p.seq for p in tl.publishes] == sorted(p.seq for p in tl.publishes)


class _Gate:
    """A live feed that hands over what the test puts in, when it does."""

    name = "gate"

    def __init__(self):
        self.q: asyncio.Queue = asyncio.Queue()

    async def follow(self, clock):
        while True:
            yield await self.q.get()


def _gathering(prefix: str):
    """A centre whose pump is never quiet after its first batch: every later one is gathered for ``FLUSH_S``."""
    return load_config(
        None, redis={"prefix": prefix}, queues=[{"name": "support"}], engine={"tick_s": 60, "quiet_ms": 3_600_000}
    )


async def test_a_flush_applies_the_batch_being_gathered_then(redis_client, prefix, cleanup, monkeypatch):
    """Before a publish the owner flushes the pump (``Ingest.flush_pump``): the batch being gathered is applied
    then, not at the end of its gathering, so the publish shows it."""
    monkeypatch.setattr(ingest, "FLUSH_S", 60.0)
    monkeypatch.setattr(ingest, "FLUSH_WAIT_S", 60.0)
    feed = _Gate()
    ing = Ingest(redis_client, _gathering(prefix), feed, name="ing")
    await ing.engine.start()
    pump = asyncio.create_task(ing._pump())
    first, second = joins(2)
    try:
        feed.q.put_nowait(first)  # after a quiet moment: applied at once
        await until(lambda: ing.events_applied == 1, "the first join applied", check=task_failed(pump))
        feed.q.put_nowait(second)  # gathered for a minute
        await until(lambda: feed.q.empty() and ing._queue.empty(), "the second join in the pump's hands")
        assert ing.events_applied == 1
        await ing.flush_pump()
        assert ing.events_applied == 2 and ing.flushed == 1
        assert await waiting(ing) == 2
    finally:
        await cancel_and_wait(pump)


async def test_a_flush_with_nothing_handed_over_leaves_the_pump_alone(redis_client, prefix, cleanup, monkeypatch):
    """An idle pump is not woken by a flush (a rewindable feed's idle check keeps its pace) and makes no batch:
    the next change after a quiet moment still goes at once."""
    monkeypatch.setattr(ingest, "FLUSH_WAIT_S", 60.0)
    feed = _Gate()
    ing = Ingest(redis_client, _gathering(prefix), feed, name="ing")
    await ing.engine.start()
    pump = asyncio.create_task(ing._pump())
    try:
        await until(lambda: ing._queue is not None, "the pump's queue")
        await ing.flush_pump()
        assert ing.flushed == 0 and ing._queue.empty()
        assert ing.events_applied == 0 and ing.last_batch == float("-inf")
        feed.q.put_nowait(joins(1)[0])
        await until(lambda: ing.events_applied == 1 and not ing.in_batch, "the join applied", check=task_failed(pump))
        await ing.flush_pump()  # nothing left in hand
        assert ing.flushed == 0
    finally:
        await cancel_and_wait(pump)
