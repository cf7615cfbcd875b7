"""A simulated day through the real engine: deterministic, and right against the simulator's own call log."""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from feeds.sim import SimFeed
from wallboard.config import load_config
from wallboard.replay import replay

from .conftest import redis_url

START = datetime(2026, 11, 23, 0, 0, tzinfo=ZoneInfo("Asia/Jerusalem"))  # a Monday


async def run_day(seed: int, scenario: str = "spike"):
    config = load_config("config/wallboard.toml")
    feed = SimFeed(None, config, scenario=scenario, seed=seed, start=START, hours=24)
    snap, stats = await replay(feed, config, redis_url=redis_url())
    return snap, stats, feed.centre


async def test_same_seed_same_snapshot_and_figures_match_the_call_log():
    snap1, stats1, centre = await run_day(7)
    snap2, _, _ = await run_day(7)
    strip = {"seq"}
    assert snap1.model_dump(exclude=strip) == snap2.model_dump(exclude=strip)
    assert stats1.dead_letters == 0 and stats1.duplicates == 0

    # an independent count from the model's own log of queue entries
    log = [c for c in centre.calls]
    for q in ("support", "tech", "billing", "sales"):
        mine = [c for c in log if c.queue == q]
        outcomes = Counter(c.outcome for c in mine)
        cfg = load_config("config/wallboard.toml").queue(q)
        fig = snap1.queues[q]
        assert fig.entered == len(mine), q
        assert fig.answered == outcomes["answered"], q
        assert fig.abandoned == outcomes["abandoned"], q
        overflow = Counter(c.reason for c in mine if c.outcome == "overflow")
        overflow["callback"] = outcomes["callback"]
        assert fig.overflowed_by_reason == {r: n for r, n in overflow.items() if n}, q
        within = sum(1 for c in mine if c.outcome == "answered" and c.wait_s <= cfg.sl_threshold_s)
        assert fig.answered_within_sl == within, q
        short = sum(1 for c in mine if c.outcome == "abandoned" and c.wait_s <= cfg.short_abandon_s)
        assert fig.short_abandoned == short, q
        waits = [c.wait_s for c in mine if c.outcome == "answered"]
        assert fig.asa_s == pytest.approx(sum(waits) / len(waits), rel=1e-9), q
        assert fig.waiting == outcomes.get("waiting", 0) + outcomes.get(None, 0), q


async def test_another_seed_gives_another_day():
    a, _, _ = await run_day(1, "normal")
    b, _, _ = await run_day(2, "normal")
    assert a.total.entered != b.total.entered or a.total.answered != b.total.answered
