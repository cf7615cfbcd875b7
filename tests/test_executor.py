"""The executor against a real Redis and the simulated centre: tokens, permissions, audit, temporary moves,
and a move that relieves an overloaded queue."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from tests.conftest import wire

from feeds.sim import SimFeed
from wallboard.actions.auth import issue
from wallboard.actions.executor import Executor
from wallboard.actions.model import Move
from wallboard.actions.submit import submit
from wallboard.actions.sim_backend import SimBackend
from wallboard.clock import ManualClock
from wallboard.config import load_config
from wallboard.engine import Engine
from wallboard.events import AgentStateChanged, utc
from wallboard.keys import Keys
from wallboard.sim import SimCentre, scenario_by_name

ROOT = Path(__file__).resolve().parent.parent
START = datetime(2026, 11, 23, 9, 0, tzinfo=ZoneInfo("Asia/Jerusalem"))


@pytest.fixture
def secret_env(monkeypatch):
    monkeypatch.setenv("WALLBOARD_TOKEN_SECRET", "test-secret-123")


def _config(prefix):
    cfg = load_config(ROOT / "config" / "wallboard.toml", redis={"prefix": prefix})
    roles = {**{k: v.model_dump() for k, v in cfg.roles.items()}, "viewer": {"permissions": []}}
    users = [u.model_dump() for u in cfg.users] + [{"name": "vera", "roles": ["viewer"]}]
    return load_config(ROOT / "config" / "wallboard.toml", redis={"prefix": prefix}, roles=roles, users=users)


async def _audit(client, prefix):
    return [f for _, f in await client.xrange(f"{Keys(prefix).centre}:audit")]


async def test_tokens_permissions_and_audit(redis_client, prefix, secret_env):
    config = _config(prefix)
    clock = ManualClock(START)
    centre = SimCentre(config, scenario_by_name("quiet", [q.name for q in config.queues]), 1, START)
    ex = Executor(redis_client, config, SimBackend(centre), clock=clock)
    now = clock.now().timestamp()
    tok = {u: issue(config, u, now=now) for u in ("rivka", "moshe", "vera")}
    keys = Keys(prefix)
    forged = tok["rivka"][:-3] + ("AAA" if not tok["rivka"].endswith("AAA") else "BBB")
    expired = issue(config, "rivka", ttl_s=10, now=now - 60)
    at = utc(clock.now())
    requests = [
        # (fields, expected result start)
        (
            {
                "type": "move",
                "user": "rivka",
                "token": tok["rivka"],
                "agent": "1002",
                "queue": "support",
                "op": "add",
                "penalty": "1",
                "at": at,
            },
            "ok",
        ),
        (
            {"type": "move", "user": "moshe", "token": tok["moshe"], "agent": "1003", "queue": "support", "at": at},
            "refused: moshe may not move",
        ),
        (
            {
                "type": "pause",
                "user": "moshe",
                "token": tok["moshe"],
                "agent": "1002",
                "queue": "tech",
                "reason": "coaching",
                "at": at,
            },
            "refused: moshe may not pause on tech",
        ),
        (
            {
                "type": "pause",
                "user": "moshe",
                "token": tok["moshe"],
                "agent": "1001",
                "queue": "support",
                "reason": "coaching",
                "at": at,
            },
            "ok",
        ),
        (
            {"type": "ack", "user": "vera", "token": tok["vera"], "queue": "support", "metric": "waiting", "at": at},
            "refused: vera may not ack",
        ),
        (
            {"type": "move", "user": "rivka", "token": forged, "agent": "1002", "queue": "tech", "at": at},
            "refused: forged request",
        ),
        (
            {"type": "move", "user": "rivka", "token": expired, "agent": "1002", "queue": "tech", "at": at},
            "refused: expired token",
        ),
        (
            {"type": "move", "user": "moshe", "token": tok["rivka"], "agent": "1002", "queue": "tech", "at": at},
            "refused: token belongs to 'rivka'",
        ),
        (
            {
                "type": "move",
                "user": "rivka",
                "token": tok["rivka"],
                "agent": "1002",
                "queue": "tech",
                "colour": "red",
                "at": at,
            },
            "refused: malformed request",
        ),
        (
            {
                "type": "move",
                "user": "rivka",
                "token": tok["rivka"],
                "agent": "1002",
                "queue": "tech",
                "at": utc(clock.now() - timedelta(minutes=10)),
            },
            "refused: stale request",
        ),
    ]
    rids = [await redis_client.xadd(keys.requests, wire(fields)) for fields, _ in requests]
    assert await ex.process_pending() == len(requests)
    audit = await _audit(redis_client, prefix)
    assert len(audit) == len(requests)
    by_request = {a["request"]: a for a in audit}  # served round-robin by user, so not in arrival order
    for (fields, want), rid in zip(requests, rids):
        got = by_request[rid]
        assert got["result"].startswith(want), (want, got["result"])
        assert got["user"] == fields["user"]
    # the permitted actions reached the simulated PBX
    assert centre.member_penalty("1002", "support") == 1
    assert by_request[rids[0]]["detail"] == "Add Dana to support at penalty 1"
    # a second executor in the same group never performs them again
    assert await Executor(redis_client, config, SimBackend(centre), clock=clock, name="other").process_pending() == 0


async def test_temporary_move_reverts_on_time_across_restarts(redis_client, prefix, secret_env):
    config = _config(prefix)
    clock = ManualClock(START)
    centre = SimCentre(config, scenario_by_name("quiet", [q.name for q in config.queues]), 1, START)
    keys = Keys(prefix)
    req = Move(user="rivka", agent="1002", queue="support", op="add", penalty=0, revert_after_s=600, at=clock.now())
    assert "support" not in centre.member_queues("1002")
    await submit(redis_client, keys, [req], issue(config, "rivka", now=clock.now().timestamp()))
    first = Executor(redis_client, config, SimBackend(centre), clock=clock, name="a")
    await first.process_pending()
    assert centre.member_penalty("1002", "support") == 0
    del first  # every UI and this executor restart in between: the revert lives in Redis

    clock.advance(599)
    second = Executor(redis_client, config, SimBackend(centre), clock=clock, name="b")
    assert await second.run_due_reverts() == 0
    clock.advance(1)
    assert await second.run_due_reverts() == 1
    assert "support" not in centre.member_queues("1002")
    audit = await _audit(redis_client, prefix)
    assert audit[-1]["detail"].startswith("auto-revert of") and audit[-1]["result"] == "ok"
    assert await second.run_due_reverts() == 0  # done once


async def test_spy_needs_a_call_and_a_phone(redis_client, prefix, secret_env, make_engine):
    config = _config(prefix)
    asked = START + timedelta(seconds=165)  # Gefen has been on the call 2:45 when the supervisor asks
    clock = ManualClock(asked)
    centre = SimCentre(config, scenario_by_name("quiet", [q.name for q in config.queues]), 1, START)
    backend = SimBackend(centre)
    ex = Executor(redis_client, config, backend, clock=clock)
    eng = Engine(redis_client, config, Keys(prefix))
    await eng.start()
    await eng.apply(
        [
            AgentStateChanged(
                id="s1", ts=START, source="t", agent="1001", state="on_call", queue="support", call_id="1700000000.42"
            )
        ]
    )
    tok = issue(config, "rivka", now=clock.now().timestamp())
    keys = Keys(prefix)
    await redis_client.xadd(
        keys.requests,
        wire(
            {
                "type": "whisper",
                "user": "rivka",
                "token": tok,
                "agent": "1001",
                "call_id": "1700000000.42",
                "at": utc(asked),
            }
        ),
    )
    await redis_client.xadd(
        keys.requests, wire({"type": "listen", "user": "rivka", "token": tok, "agent": "1002", "at": utc(asked)})
    )
    await ex.process_pending()
    audit = await _audit(redis_client, prefix)
    assert audit[0]["result"] == "ok"
    # the audit names the call as the desk's confirmation does (its queue and how long so far), not by its id
    assert (
        audit[0]["detail"]
        == "Whisper to Gefen on the call (Customer service, 2:45 so far) — the agent hears you, the caller will "
        "not hear you"
    )
    assert backend.spies == [("PJSIP/2001", "1001", "whisper", False)]
    # Dana: no state at all in Redis (never seen by the PBX): refused before the PBX is asked
    assert audit[1]["result"] == "refused: Dana is not on a call (state: unknown)" and audit[1]["pbx"] == ""


async def _sl_after(redis_client, prefix, config, move: bool) -> tuple[float, int]:
    """The spike day to 10:05 (support drowning), then maybe one move, then 30 minutes on; support's rolling
    SL at the end, and how many support calls it rests on."""
    feed = SimFeed(None, config, scenario="spike", seed=11, start=START.replace(hour=0))
    centre = feed.centre
    eng = Engine(redis_client, config, Keys(prefix))
    await eng.start()
    t_move = START.replace(hour=10, minute=5)
    await eng.apply(centre.advance_to(t_move))
    if move:
        clock = ManualClock(t_move)
        ex = Executor(redis_client, config, SimBackend(centre), clock=clock)
        await submit(
            redis_client,
            Keys(prefix),
            [Move(user="rivka", agent="1006", queue="support", op="add", penalty=0, at=t_move)],
            issue(config, "rivka", now=clock.now().timestamp()),
        )
        await ex.process_pending()
    end = t_move + timedelta(minutes=30)
    await eng.apply(centre.advance_to(end))
    q = (await eng.build_snapshot(end)).queues["support"]
    return q.rolling.service_level, q.rolling.offered


async def test_a_move_into_the_short_queue_raises_its_rolling_sl(redis_client, secret_env):
    import uuid

    base = f"wbtest-mv-{uuid.uuid4().hex[:8]}"
    results = {}
    try:
        for move in (False, True):
            prefix = f"{base}-{int(move)}"
            results[move] = await _sl_after(redis_client, prefix, _config(prefix), move)
    finally:
        keys = [k async for k in redis_client.scan_iter(match=f"{base}-*", count=10_000)]
        if keys:
            await redis_client.unlink(*keys)
    (without, n0), (with_move, n1) = results[False], results[True]
    assert n0 > 50 and n1 > 50  # the half hour rests on enough calls to mean something
    print("support rolling SL (without, with) the move:", without, with_move)
    assert with_move > without, results


async def test_requests_older_than_an_hour_are_trimmed_the_audit_stays(redis_client, prefix, secret_env, monkeypatch):
    """Requests carry tokens: the executor drops those older than an hour (the server's clock), once a minute."""
    from wallboard.actions import executor as ex_mod

    config = _config(prefix)
    keys = Keys(prefix)
    server_s, _ = await redis_client.time()
    old_id = f"{(int(server_s) - ex_mod.REQUESTS_KEPT_S - 5) * 1000}-0"
    await redis_client.xadd(keys.requests, {"type": "pause", "token": "old"}, id=old_id)
    await redis_client.xadd(keys.requests, {"type": "pause", "token": "new"})
    await redis_client.xadd(f"{keys.centre}:audit", {"request": old_id, "result": "applied"})
    centre = SimCentre(config, scenario_by_name("quiet", [q.name for q in config.queues]), 1, START)
    ex = Executor(redis_client, config, SimBackend(centre), clock=ManualClock(START))
    await ex._trim_requests()
    assert [f["token"] for _, f in await redis_client.xrange(keys.requests)] == ["new"]
    assert await redis_client.xlen(f"{keys.centre}:audit") == 1
    monkeypatch.setattr(ex_mod, "REQUESTS_KEPT_S", -60)  # would cut everything, were it not within the minute
    await ex._trim_requests()
    assert await redis_client.xlen(keys.requests) == 1
