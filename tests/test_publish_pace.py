"""The owner's pace of publishing for changes (``PublishPace``) and the pump holding a batch while a publish
runs, on real Redis."""

from __future__ import annotations

import asyncio
import json

import pytest

from wallboard.aio import cancel_and_wait
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
    assert (pace.min_gap_s, pace.share, pace.max_gap_s) == (0.1, 0.5, 0.1)  # the defaults but the tick
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


async def test_under_load_the_pump_closes_its_batch_in_time_for_the_owners_next_publish(redis_client, prefix):
    """``Ingest._gather_until``: FLUSH_S after the batch began, or sooner by the apply's smoothed time before
    the owner's next publish; at once when that publish is due already; an ingester not holding the lease
    gathers FLUSH_S. (Times are loop times given here, not measured.)"""
    from wallboard.ingest import FLUSH_S

    ing = Ingest(redis_client, _config(prefix), ListFeed([]), name="ing")
    began = 1000.0
    assert ing._gather_until(began) == began + FLUSH_S  # not the owner, nothing known of its publishes
    ing.owner = True
    assert ing._gather_until(began) == began + FLUSH_S
    for wall in (0.010, 0.010, 0.010, 0.010):
        ing._applied_in(wall)
    # smoothed from 0 with weight 0.25: 0.0025, 0.004375, 0.00578125, 0.0068359375
    assert ing.apply_s == pytest.approx(0.0068359375)
    ing.publish_due = began + 0.030  # the next publish 30 ms after the batch began: closes 6.8 ms before it
    assert ing._gather_until(began) == pytest.approx(began + 0.030 - 0.0068359375)
    ing.publish_due = began + 0.500  # far off: FLUSH_S as before
    assert ing._gather_until(began) == began + FLUSH_S
    ing.publish_due = began - 0.010  # due already: what is there now goes at once
    assert ing._gather_until(began) == began
    ing.owner = False  # the lease went elsewhere: its pace is not ours
    assert ing._gather_until(began) == began + FLUSH_S
