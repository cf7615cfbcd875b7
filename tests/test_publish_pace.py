"""The owner's pace of publishing for changes (``PublishPace``) and the pump holding a batch while a publish
runs, on real Redis."""

from __future__ import annotations

import asyncio

import pytest

from wallboard.aio import cancel_and_wait
from wallboard.ingest import Ingest, PublishPace

from .polling import until
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
