"""The production path end to end: the simulated centre as a PBX over TCP -> the ami feed -> the engine, against
the queue_log the same PBX wrote; a cut socket; and the executor's actions arriving at the PBX."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import wire
from tests.polling import settle, task_failed, until

from feeds.ami import AmiFeed
from feeds.queue_log import QueueLogFeed
from wallboard.actions.ami_backend import AmiBackend
from wallboard.actions.auth import issue
from wallboard.aio import cancel_and_wait
from wallboard.actions.executor import Executor
from wallboard.clock import ManualClock
from wallboard.config import load_config
from wallboard.engine import Engine
from wallboard.events import utc
from wallboard.feed import DeadLetter
from wallboard.keys import Keys
from wallboard.sim import SimCentre, scenario_by_name
from wallboard.sim.ami_server import SimPbx

ROOT = Path(__file__).resolve().parent.parent
START = datetime(2026, 11, 23, 10, 0, tzinfo=ZoneInfo("Asia/Jerusalem"))
FIGS = ("entered", "answered", "abandoned", "short_abandoned", "overflowed", "completed", "wait_answered_s")


@pytest.fixture
def ami_env(monkeypatch):
    monkeypatch.setenv("WALLBOARD_AMI_USER", "wallboard")
    monkeypatch.setenv("WALLBOARD_AMI_SECRET", "s3cret")
    monkeypatch.setenv("WALLBOARD_TOKEN_SECRET", "tok-secret")


def _config(prefix: str):
    return load_config(ROOT / "config" / "wallboard.toml", redis={"prefix": prefix})


async def _figures(eng: Engine, at: datetime) -> dict:
    snap = await eng.build_snapshot(at)
    return {q: {f: getattr(s, f) for f in FIGS} | {"by_reason": s.overflowed_by_reason} for q, s in snap.queues.items()}


class Live:
    """A simulated PBX on a manual clock, with the ami feed applying into an engine as it goes."""

    def __init__(self, redis_client, prefix, tmp_path, scenario="spike", seed=5, **feed_options):
        self.config = _config(prefix)
        self.clock = ManualClock(START)
        names = [q.name for q in self.config.queues]
        self.centre = SimCentre(self.config, scenario_by_name(scenario, names), seed, START)
        self.queue_log = tmp_path / "queue_log"
        self.pbx = SimPbx(self.config, self.centre, self.clock, secret="s3cret", step_s=0.005, queue_log=self.queue_log)
        self.engine = Engine(redis_client, self.config, Keys(prefix))
        self.feed_options = feed_options
        self.dead: list[DeadLetter] = []
        self.items = 0

    async def __aenter__(self):
        await self.engine.start()
        await self.pbx.start()
        self.feed = AmiFeed(
            None,
            self.config,
            host="127.0.0.1",
            port=self.pbx.port,
            keepalive_s=5,
            backoff_initial_s=0.05,
            backoff_max_s=0.2,
            **self.feed_options,
        )
        self.task = asyncio.create_task(self._consume())
        return self

    async def _consume(self):
        async for item in self.feed.follow(self.clock):
            self.items += 1
            if isinstance(item, DeadLetter):
                self.dead.append(item)
            elif hasattr(item, "ts"):
                await self.engine.apply([item])

    async def logged_in(self):
        """Until the feed is logged in and has read the PBX's present (its first items)."""
        await until(lambda: self.items, "the feed's login and the PBX's present", check=task_failed(self.task))

    async def run_for(self, seconds: int, step: float = 1.0):
        for _ in range(int(seconds / step)):
            self.clock.advance(step)
            await asyncio.sleep(0.004)

    async def settle(self):
        """Stop the clock and let the feed catch up (``polling.settle``)."""

        async def figs():
            return (await self.engine.build_snapshot(self.clock.now())).model_dump(include={"queues", "agents"})

        await settle(figs, pbx=self.pbx, what="the ami feed")

    async def __aexit__(self, *exc):
        await cancel_and_wait(self.task)
        await self.pbx.stop()


async def _replay_queue_log(redis_client, prefix, path) -> Engine:
    config = _config(prefix)
    eng = Engine(redis_client, config, Keys(prefix))
    await eng.start()
    items = list(QueueLogFeed(str(path), config).read())
    assert not [i for i in items if isinstance(i, DeadLetter)]
    await eng.apply([i for i in items if hasattr(i, "ts")])
    return eng


async def _drop(redis_client, prefix):
    keys = [k async for k in redis_client.scan_iter(match=f"{prefix}:*")]
    if keys:
        await redis_client.unlink(*keys)


async def test_ami_live_equals_the_queue_log_replay_and_overlap_counts_once(redis_client, prefix, tmp_path, ami_env):
    async with Live(redis_client, prefix, tmp_path) as live:
        await live.logged_in()
        await live.run_for(15 * 60)  # a quarter of an hour of an overloaded morning
        await live.run_for(10)  # let the last exits settle
        await live.settle()
        end = live.clock.now()
        assert not live.dead
        ami = await _figures(live.engine, end)
        log_path = live.queue_log
    ref_prefix = prefix + "-ql"
    try:
        ref = await _replay_queue_log(redis_client, ref_prefix, log_path)
        from_log = await _figures(ref, end)
        assert sum(q["entered"] for q in ami.values()) > 50  # a real morning, not an empty one
        diff = {q: {f: (ami[q][f], from_log[q][f]) for f in ami[q] if ami[q][f] != from_log[q][f]} for q in ami}
        assert ami == from_log, {q: d for q, d in diff.items() if d}
        # both feeds at once (overlap): everything the queue_log says was already counted from AMI
        config = _config(prefix)
        items = [i for i in QueueLogFeed(str(log_path), config).read() if hasattr(i, "ts")]
        await live.engine.apply(items)
        assert await _figures(live.engine, end) == ami
    finally:
        await _drop(redis_client, ref_prefix)


async def test_cut_socket_reconnects_resyncs_and_records_the_gap(redis_client, prefix, tmp_path, ami_env):
    async with Live(redis_client, prefix, tmp_path) as live:
        live.feed.queue_log = str(live.queue_log)  # gap filling from the PBX's queue_log
        await live.logged_in()
        await live.run_for(5 * 60)
        live.pbx.drop_connections()  # the PBX runs on; our socket is gone
        await live.run_for(60)  # a minute of calls while we are away (the feed reconnects meanwhile)
        await live.run_for(4 * 60)
        await live.run_for(10)
        await live.settle()
        end = live.clock.now()
        snap = await live.engine.build_snapshot(end)
        for q in live.config.queues:
            pbx_waiting = sorted(c[0] for c in live.centre.waiting_calls(q.name))
            assert sorted(c.call_id for c in snap.queues[q.name].callers) == pbx_waiting, q.name
        states = {a.id: live.centre.agent_state(a.id) for a in live.config.agents}
        assert {a: snap.agents[a].state for a in states} == states
        assert snap.gaps and snap.gaps[0]["feed"] == "ami" and snap.gaps[0]["length_s"] >= 0
        ami = await _figures(live.engine, end)
        log_path = live.queue_log
    ref_prefix = prefix + "-ql"
    try:
        ref = await _replay_queue_log(redis_client, ref_prefix, log_path)
        assert ami == await _figures(ref, end)  # with the queue_log, the counters equal an uncut run
    finally:
        await _drop(redis_client, ref_prefix)


async def test_executor_actions_reach_the_simulated_pbx(redis_client, prefix, tmp_path, ami_env):
    async with Live(redis_client, prefix, tmp_path, scenario="quiet") as live:
        await live.logged_in()
        backend = AmiBackend(live.config, host="127.0.0.1", port=live.pbx.port)
        ex = Executor(redis_client, live.config, backend, clock=live.clock)
        keys = Keys(prefix)
        tok = issue(live.config, "rivka", now=live.clock.now().timestamp())
        at = utc(live.clock.now())
        await redis_client.xadd(
            keys.requests,
            wire(
                {
                    "type": "move",
                    "user": "rivka",
                    "token": tok,
                    "agent": "1006",
                    "queue": "support",
                    "penalty": "2",
                    "at": at,
                }
            ),
        )
        await redis_client.xadd(
            keys.requests,
            wire({"type": "move", "user": "rivka", "token": tok, "agent": "1006", "queue": "nosuchqueue", "at": at}),
        )
        await redis_client.xadd(
            keys.requests,
            wire({"type": "pause", "user": "rivka", "token": tok, "agent": "1007", "reason": "coaching", "at": at}),
        )
        await ex.process_pending()
        await backend.close()
        audit = [f for _, f in await redis_client.xrange(f"{keys.centre}:audit")]
        assert [a["result"] for a in audit] == ["ok", "failed", "ok"]
        assert audit[1]["pbx"]  # the PBX's own error text is shown and audited
        assert live.centre.member_penalty("1006", "support") == 2
        assert live.centre.pause_reason("1007") == "coaching"
        await live.run_for(3)
        await live.settle()
        snap = await live.engine.build_snapshot(live.clock.now())
        assert snap.agents["1006"].queues.get("support") == 2  # and the feed saw the PBX say so
        assert snap.agents["1007"].state == "paused" and snap.agents["1007"].reason == "coaching"


def test_start_is_aware():
    assert START.tzinfo is not None and START + timedelta(0) == START
