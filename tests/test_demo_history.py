"""The advisor early in the demo, on the production path: the simulated PBX was up for the hour before "now" (its
queue_log holds that hour), the ami feed's first login reads it back (``backfill_s``) through the real ingest into
Redis, and the advice on the first published snapshots already has figures and a move. Nothing of ours is patched;
expected figures come from the simulator's own call log."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from feeds.ami import AmiFeed
from wallboard.aio import cancel_and_wait
from wallboard.clock import ManualClock
from wallboard.commands.advise import published_advice
from wallboard.config import load_config
from wallboard.ingest import Ingest
from wallboard.keys import Keys
from wallboard.sim import SimCentre, scenario_by_name
from wallboard.sim.ami_server import SimPbx

from .conftest import redis_url
from .polling import until

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 11, 23, 10, 0, tzinfo=ZoneInfo("Asia/Jerusalem"))
HISTORY_S = 3600.0


async def test_the_demo_offers_a_move_within_its_first_minute(redis_client, prefix, cleanup, tmp_path, monkeypatch):
    monkeypatch.setenv("WALLBOARD_AMI_USER", "wallboard")
    monkeypatch.setenv("WALLBOARD_AMI_SECRET", "s3cret")
    config = load_config(
        ROOT / "wallboard" / "data" / "demo.toml",
        redis={"prefix": prefix, "url": redis_url()},
        display={"stale_after_s": 3600},
    )
    keys = Keys(prefix)
    clock = ManualClock(NOW)
    names = [q.name for q in config.queues]
    scenario = scenario_by_name("demo", names).preceded_by(HISTORY_S)
    # the spike keeps its time from "now" (20 s in), the day shape its 10:00 at "now"
    assert [s.at_offset_s for s in scenario.spikes] == [HISTORY_S + 20]
    assert scenario.shape_start_hour == 9.0
    centre = SimCentre(config, scenario, 1, NOW - timedelta(seconds=HISTORY_S))
    queue_log = tmp_path / "queue_log"
    pbx = await SimPbx(config, centre, clock, secret="s3cret", step_s=0.005, queue_log=queue_log).start(live_from=NOW)
    assert centre.now == NOW and queue_log.stat().st_size > 0  # the hour ran at once, into the queue_log
    clock.advance(2.0)  # the ingester starts a moment after the PBX, as in `wallboard demo`
    feed = AmiFeed(
        None,
        config,
        host="127.0.0.1",
        port=pbx.port,
        backoff_initial_s=0.05,
        queue_log=str(queue_log),
        backfill_s=HISTORY_S + 300,  # the whole file, as the demo asks
    )
    ingest = Ingest(redis_client, config, feed, clock=clock, name="t-demo")
    task = asyncio.create_task(ingest.run())
    try:
        # the first snapshot already has the hour: support's joins as the simulator logged them
        joined_hour = sum(1 for c in centre.calls if c.queue == "support" and c.joined < NOW)

        async def hour_in():
            advice, snap = await published_advice(redis_client, config, keys=keys)
            return advice if advice is not None and advice.queues["support"].calls_n >= joined_hour else None

        advice = await until(hour_in, "a snapshot with the hour before now", timeout=40)
        support = advice.queues["support"]
        assert support.calls_n == joined_hour > 60  # the estimates rest on the hour, not on a few live calls
        assert advice.basis == "the last 60 min of calls"
        # every voice queue has its estimate at once (the written queues' history goes through the chat
        # platform's POSTs, which this test does not run: tests/test_channels.py covers them)
        voice = {q.name for q in config.queues if q.channel == "voice"}
        assert voice and all(advice.queues[q].status != "no_estimate" for q in voice)
        assert not await redis_client.zcard(keys.gaps)  # the backfill is history, not a feed gap
        # the backups standing by are out of support on the wallboard as in the PBX (their removal a second
        # after the hour's first logins was read back too; the agents' part is published on its own)
        in_pbx = {a.id: centre.member_queues(a.id) for a in config.agents}

        async def members_as_in_pbx():
            _, snap = await published_advice(redis_client, config, keys=keys)
            return {a: s.queues for a, s in snap.agents.items()} == in_pbx

        await until(members_as_in_pbx, "the memberships of the PBX", timeout=40)

        # within a simulated minute of "now": a move, an agent standing by for support out of sales
        standby = {a.id for a in config.agents if "support" in a.skills and "support" not in centre.member_queues(a.id)}
        assert standby  # the demo's backups stand by in sales
        for _ in range(60):
            clock.advance(1.0)
            await asyncio.sleep(0.005)
        minute = NOW + timedelta(seconds=60)

        async def advice_at_minute():
            advice, snap = await published_advice(redis_client, config, keys=keys)
            at = snap.at if snap is not None else None
            return advice if at is not None and at >= minute else None

        advice = await until(advice_at_minute, "the snapshot of the first minute", timeout=40)
        assert advice.queues["support"].status == "short"
        assert advice.moves, advice.notes
        first = advice.moves[0]
        assert (first.from_queue, first.to_queue) == ("sales", "support") and first.agent in standby
        assert first.to_sl_after > first.to_sl_before
    finally:
        ingest.stop.set()
        await cancel_and_wait(task)
        await pbx.stop()


def test_backfill_needs_the_queue_log_it_reads(monkeypatch):
    monkeypatch.setenv("WALLBOARD_AMI_USER", "wallboard")
    monkeypatch.setenv("WALLBOARD_AMI_SECRET", "s3cret")
    config = load_config(ROOT / "wallboard" / "data" / "demo.toml")
    with pytest.raises(ValueError, match="backfill_s needs queue_log"):
        AmiFeed(None, config, host="127.0.0.1", port=5038, backfill_s=3600)
