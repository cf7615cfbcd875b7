"""The production path on FreeSWITCH end to end: the simulated centre speaking mod_callcenter over the event
socket -> the freeswitch feed -> the engine, against the same simulated day through AMI and through its
queue_log; a cut socket and a half-open one; the executor's actions arriving at the switch."""

from __future__ import annotations

import asyncio
import time
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import wire
from tests.polling import settle, task_failed, until

from feeds.freeswitch import FreeswitchFeed
from feeds.queue_log import QueueLogFeed
from wallboard.actions.auth import issue
from wallboard.actions.executor import Executor
from wallboard.actions.fs_backend import FsBackend
from wallboard.aio import cancel_and_wait
from wallboard.clock import ManualClock
from wallboard.config import load_config
from wallboard.engine import Engine
from wallboard.events import utc
from wallboard.feed import DeadLetter
from wallboard.keys import Keys
from wallboard.sim import SimCentre, scenario_by_name
from wallboard.sim.ami_render import PbxTracker
from wallboard.sim.queue_log_writer import QueueLogWriter
from wallboard.sim.esl_server import SimSwitch

ROOT = Path(__file__).resolve().parent.parent
START = datetime(2026, 11, 23, 10, 0, tzinfo=ZoneInfo("Asia/Jerusalem"))
FIGS = ("entered", "answered", "abandoned", "short_abandoned", "overflowed", "completed", "wait_answered_s")


@pytest.fixture
def pbx_env(monkeypatch):
    monkeypatch.setenv("WALLBOARD_ESL_PASSWORD", "ClueCon-test")
    monkeypatch.setenv("WALLBOARD_AMI_USER", "wallboard")
    monkeypatch.setenv("WALLBOARD_AMI_SECRET", "s3cret")
    monkeypatch.setenv("WALLBOARD_TOKEN_SECRET", "tok-secret")


def _config(prefix: str, **extra):
    return load_config(ROOT / "config" / "wallboard.toml", redis={"prefix": prefix}, **extra)


async def _figures(eng: Engine, at: datetime) -> dict:
    snap = await eng.build_snapshot(at)
    return {q: {f: getattr(s, f) for f in FIGS} | {"by_reason": s.overflowed_by_reason} for q, s in snap.queues.items()}


class Side:
    """One face of the simulated centre (its own model, same scenario and seed, same clock) with its feed
    applying into its own engine."""

    def __init__(self, redis_client, prefix, server, feed_factory):
        self.config = _config(prefix)
        self.engine = Engine(redis_client, self.config, Keys(prefix))
        self.server, self.feed_factory = server, feed_factory
        self.dead: list[DeadLetter] = []
        self.items = 0

    async def start(self, clock):
        await self.engine.start()
        await self.server.start()
        self.feed = self.feed_factory(self.config, self.server.port)
        self.task = asyncio.create_task(self._consume(clock))

    async def _consume(self, clock):
        async for item in self.feed.follow(clock):
            self.items += 1
            if isinstance(item, DeadLetter):
                self.dead.append(item)
            elif hasattr(item, "ts"):
                await self.engine.apply([item])

    async def logged_in(self):
        """Until the feed is logged in and has read the switch's present (its first items)."""
        await until(lambda: self.items, "the feed's login and the switch's present", check=task_failed(self.task))

    async def stop(self):
        await cancel_and_wait(self.task)
        await self.server.stop()


def _centre(config, scenario="spike", seed=5):
    return SimCentre(config, scenario_by_name(scenario, [q.name for q in config.queues]), seed, START)


def _esl_side(redis_client, prefix, clock, scenario="spike", **options):
    config = _config(prefix)
    switch = SimSwitch(config, _centre(config, scenario), clock, password="ClueCon-test", step_s=0.005)
    return Side(
        redis_client,
        prefix,
        switch,
        lambda cfg, port: FreeswitchFeed(
            None,
            cfg,
            host="127.0.0.1",
            port=port,
            backoff_initial_s=0.05,
            backoff_max_s=0.2,
            **{"keepalive_s": 5, **options},
        ),
    )


async def _run_for(clock, seconds: int):
    for _ in range(seconds):
        clock.advance(1.0)
        await asyncio.sleep(0.004)


async def _settle(*engines, clock, server=None):
    """Stop the clock and let the feeds catch up (``polling.settle``)."""

    async def figs():
        return [(await e.build_snapshot(clock.now())).model_dump(include={"queues", "agents"}) for e in engines]

    await settle(figs, pbx=server, what="the feeds")


async def _drop(redis_client, prefix):
    keys = [k async for k in redis_client.scan_iter(match=f"{prefix}:*", count=10_000)]
    if keys:
        await redis_client.unlink(*keys)


def _write_queue_log(path, config, until: datetime) -> None:
    """The same simulated day as Asterisk's queue_log, written the way SimPbx writes it (its tracker, its
    writer), offline: a second model of the same scenario and seed, stepped a second at a time."""
    centre = _centre(config)
    tracker = PbxTracker(config)
    writer = QueueLogWriter(path, config, tracker)
    writer.queue_start(centre.now)
    t = centre.now
    while t < until:
        t = min(until, t + timedelta(seconds=1))
        writer.write_facts([tracker.apply(e) for e in centre.advance_to(t)])
    writer.close()


async def test_esl_gives_the_same_counters_as_the_queue_log_of_the_same_day(redis_client, prefix, tmp_path, pbx_env):
    """The same simulated day (spike, seed 5, 15 minutes from START) through the event socket and through
    Asterisk's queue_log of the same model. tests/test_ami_e2e.py runs this very day through AMI and checks
    AMI == queue_log, so ESL == queue_log is ESL == AMI too; AMI is not run live again here (that test takes
    minutes on a loaded machine; this one seconds)."""
    clock = ManualClock(START)
    esl = _esl_side(redis_client, prefix, clock)
    ql_prefix = prefix + "-ql"
    try:
        await esl.start(clock)
        await esl.logged_in()
        await _run_for(clock, 15 * 60)  # a quarter of an hour of an overloaded morning
        await _run_for(clock, 10)
        await _settle(esl.engine, clock=clock, server=esl.server)
        end = clock.now()
        await esl.stop()
        assert not esl.dead, esl.dead[:3]
        through_esl = await _figures(esl.engine, end)
        ql_config = _config(ql_prefix)
        _write_queue_log(tmp_path / "queue_log", ql_config, esl.server.centre.now)
        ref = Engine(redis_client, ql_config, Keys(ql_prefix))
        await ref.start()
        rows = list(QueueLogFeed(str(tmp_path / "queue_log"), ql_config).read())
        assert not [r for r in rows if isinstance(r, DeadLetter)]
        await ref.apply([i for i in rows if hasattr(i, "ts")])
        through_log = await _figures(ref, end)
        assert sum(q["entered"] for q in through_esl.values()) > 50  # a real morning, not an empty one
        assert sum(q["abandoned"] for q in through_esl.values()) > 0
        diff = {
            q: {
                f: (through_esl[q][f], through_log[q][f])
                for f in through_esl[q]
                if through_esl[q][f] != through_log[q][f]
            }
            for q in through_esl
        }
        assert through_esl == through_log, {q: d for q, d in diff.items() if d}
        # the same calls by the same ids: the queue_log applied on top of the ESL day counts nothing again
        await esl.engine.apply([i for i in rows if hasattr(i, "ts")])
        assert await _figures(esl.engine, end) == through_esl
    finally:
        await _drop(redis_client, ql_prefix)


def _visible_states(centre, config) -> dict:
    """The model's agent states mod_callcenter can know: an agent dialling out is on no queue call."""
    return {a.id: centre.agent_state(a.id) for a in config.agents if centre.agent_state(a.id) != "dialing"}


async def test_cut_socket_reconnects_resyncs_records_the_gap_and_counts_nothing_twice(redis_client, prefix, pbx_env):
    clock = ManualClock(START)
    side = _esl_side(redis_client, prefix, clock)
    try:
        await side.start(clock)
        await side.logged_in()
        await _run_for(clock, 5 * 60)
        side.server.drop_connections()  # the switch runs on; our socket is gone
        await _run_for(clock, 60)
        await _run_for(clock, 4 * 60)
        await _settle(side.engine, clock=clock, server=side.server)
        end = clock.now()
        snap = await side.engine.build_snapshot(end)
        centre = side.server.centre
        for q in side.config.queues:
            assert sorted(c.call_id for c in snap.queues[q.name].callers) == sorted(
                c[0] for c in centre.waiting_calls(q.name)
            ), q.name
        visible = _visible_states(centre, side.config)
        assert {a: snap.agents[a].state for a in visible} == {
            a: s if s != "paused" else "paused" for a, s in visible.items()
        }
        assert snap.gaps and snap.gaps[0]["feed"] == "freeswitch" and snap.gaps[0]["length_s"] >= 0
        assert not side.dead
        # nothing counted twice: no counter above the model's own record of the day
        records = [r for r in centre.calls if r.joined <= end]
        for q in side.config.queues:
            mine = [r for r in records if r.queue == q.name]
            s = snap.queues[q.name]
            assert s.entered <= len(mine)
            assert s.answered <= sum(r.outcome == "answered" for r in mine)
            assert s.abandoned <= sum(r.outcome == "abandoned" for r in mine)
    finally:
        await side.stop()


async def test_half_open_socket_is_found_by_the_keep_alive(redis_client, prefix, pbx_env):
    clock = ManualClock(START)
    side = _esl_side(redis_client, prefix, clock, scenario="quiet", keepalive_s=0.3, keepalive_timeout_s=0.3)
    try:
        await side.start(clock)
        await side.logged_in()
        assert side.server.freeze_connections() == 1
        began = time.monotonic()
        await until(lambda: side.feed.gaps, "the half-open link noticed", timeout=5)
        took = time.monotonic() - began
        # keepalive_s + keepalive_timeout_s = 0.6 s, plus a backoff of at most 0.2 s and the resync
        assert took < 1.5, took
    finally:
        await side.stop()


async def test_executor_actions_reach_the_switch_and_the_feed_sees_them(redis_client, prefix, pbx_env):
    clock = ManualClock(START)
    side = _esl_side(redis_client, prefix, clock, scenario="quiet", tier_poll_s=0.2)
    try:
        await side.start(clock)
        await side.logged_in()
        backend = FsBackend(side.config, host="127.0.0.1", port=side.server.port)
        ex = Executor(redis_client, side.config, backend, clock=clock)
        keys = Keys(prefix)
        tok = issue(side.config, "rivka", now=clock.now().timestamp())
        at = utc(clock.now())
        for req in (
            {"type": "move", "agent": "1006", "queue": "support", "penalty": "2"},
            {"type": "move", "agent": "1006", "queue": "nosuchqueue"},
            {"type": "pause", "agent": "1007", "reason": "coaching"},
        ):
            await redis_client.xadd(keys.requests, wire({**req, "user": "rivka", "token": tok, "at": at}))
        await ex.process_pending()
        await backend.close()
        audit = [f for _, f in await redis_client.xrange(f"{keys.centre}:audit")]
        assert [a["result"] for a in audit] == ["ok", "failed", "ok"]
        assert audit[0]["pbx"] == "+OK" and audit[1]["pbx"] == "-ERR Queue not found!"  # the switch's own words
        centre = side.server.centre
        assert centre.member_penalty("1006", "support") == 2  # the tier level is the penalty
        assert centre.agent_state("1007") in ("paused", "on_call", "ringing", "wrap_up")  # busy: pauses after
        await _run_for(clock, 3)

        async def tier_seen():  # the tier table is polled: the move shows at the next poll
            snap = await side.engine.build_snapshot(clock.now())
            return snap.agents["1006"].queues.get("support") == 2

        await until(tier_seen, "the tier poll to see the move")
        await _settle(side.engine, clock=clock, server=side.server)
        snap = await side.engine.build_snapshot(clock.now())
        assert snap.agents["1006"].queues.get("support") == 2  # seen through the tier table
        if centre.agent_state("1007") == "paused":
            assert snap.agents["1007"].state == "paused" and snap.agents["1007"].reason == "On Break"
    finally:
        await side.stop()


async def test_on_break_during_a_queue_call_is_pending_then_paused_from_the_end_of_wrap_up(
    redis_client, prefix, pbx_env
):
    """The desk's pause over the event socket (``agent set status 1002 'On Break'``) while the agent talks: the
    switch says On Break at once; the agent stays on the call with the pause pending, then wraps up, then is
    paused (reason On Break) from the end of wrap-up."""
    clock = ManualClock(START)
    side = _esl_side(redis_client, prefix, clock, scenario="quiet")
    try:
        await side.start(clock)
        await side.logged_in()
        centre = side.server.centre
        centre.schedule_caller("tech", START + timedelta(seconds=2), talk_s=40)

        async def dana(check, what):
            async def seen():
                await _run_for(clock, 1)
                a = (await side.engine.build_snapshot(clock.now())).agents["1002"]
                return a if check(a) else None

            return await until(seen, what)

        await dana(lambda a: a.state == "on_call", "Dana answers (tech 0)")
        backend = FsBackend(side.config, host="127.0.0.1", port=side.server.port)
        ex = Executor(redis_client, side.config, backend, clock=clock)
        keys, asked = Keys(prefix), clock.now()
        tok = issue(side.config, "rivka", now=asked.timestamp())
        await redis_client.xadd(
            keys.requests,
            wire(
                {
                    "type": "pause",
                    "agent": "1002",
                    "reason": "coaching",
                    "user": "rivka",
                    "token": tok,
                    "at": utc(asked),
                }
            ),
        )
        await ex.process_pending()
        await backend.close()
        assert [f["result"] for _, f in await redis_client.xrange(f"{keys.centre}:audit")] == ["ok"]
        a = await dana(lambda a: a.pause_pending is not None, "On Break, pending on the call")
        assert (a.state, a.pause_pending.reason, a.pause_pending.since) == ("on_call", "On Break", asked)
        a = await dana(lambda a: a.state == "wrap_up", "the call ends: wrap-up")
        assert a.pause_pending is not None
        a = await dana(lambda a: a.state == "paused", "paused once wrap-up ends")
        rec = centre.calls[0]
        ended = rec.joined + timedelta(seconds=rec.wait_s + 40 + 15)  # answered + talk + tech's wrap-up
        assert (a.reason, a.pause_pending, a.since) == ("On Break", None, ended.replace(microsecond=0))
        assert a.wrap_s == 15 and a.talk_s == 40
        assert not side.dead
    finally:
        await side.stop()
