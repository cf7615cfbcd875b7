"""The supervisor's hands, attacked: each request is performed at most once, bad numbers are refused before
anything reaches the PBX, an exception in one request is that request's audited outcome and never stops the
executor, one user's flood neither stalls another user nor fills the audit, a queue-limited role stays within
its queues, and a websocket whose token expires is closed. Real Redis, the real executor, hub and CLI; the PBX
is the simulated centre (``SimBackend``), the one part that cannot run here."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from websockets.asyncio.client import connect

from tests.conftest import redis_url, wire
from tests.polling import task_failed, until
from tests.test_executor import START, _audit, _config
from tests.test_hub import closed_with, http_get, recv_json, running_hub, ws_url
from tests.tvdata import TOKENS, four_queues, now_utc, publish, tv_config
from wallboard import aio
from wallboard.actions.auth import issue
from wallboard.actions.executor import Executor, Outcome
from wallboard.actions.sim_backend import SimBackend
from wallboard.clock import ManualClock
from wallboard.events import MemberRemoved, utc
from wallboard.keys import Keys
from wallboard.sim import SimCentre, scenario_by_name


@pytest.fixture
def secret_env(monkeypatch):
    monkeypatch.setenv("WALLBOARD_TOKEN_SECRET", "test-secret-123")


class RecordingPbx(SimBackend):
    """The simulated centre, with a list of what it was asked to do."""

    def __init__(self, centre):
        super().__init__(centre)
        self.calls: list[tuple[str, str]] = []

    async def queue_pause(self, target, paused, reason, queue) -> Outcome:
        self.calls.append(("pause" if paused else "unpause", target.agent))
        return await super().queue_pause(target, paused, reason, queue)

    async def queue_add(self, target, queue, penalty) -> Outcome:
        self.calls.append(("add", target.agent))
        return await super().queue_add(target, queue, penalty)


class World:
    def __init__(self, redis_client, prefix, backend=None):
        self.r = redis_client
        self.config = _config(prefix)
        self.clock = ManualClock(START)
        self.keys = Keys(prefix)
        self.centre = SimCentre(self.config, scenario_by_name("quiet", [q.name for q in self.config.queues]), 1, START)
        self.backend = backend or RecordingPbx(self.centre)
        self.ex = Executor(redis_client, self.config, self.backend, clock=self.clock)

    def token(self, user: str = "rivka") -> str:
        return issue(self.config, user, now=self.clock.now().timestamp())

    async def send(self, fields: dict) -> str:
        return await self.r.xadd(self.keys.requests, fields)

    async def outcomes(self) -> dict[str, dict]:
        return {a["request"]: a for a in await _audit(self.r, self.keys.prefix)}


def pause_fields(w: World, user: str = "rivka", **extra) -> dict:
    return {
        "type": "pause",
        "user": user,
        "token": w.token(user),
        "agent": "1001",
        "queue": "support",
        "reason": "coaching",
        "at": utc(w.clock.now()),
        **extra,
    }


# ---- 1. numbers are bounded before the PBX; an exception is the request's outcome ---------------------------


def test_act_refuses_a_revert_out_of_range_before_anything_is_sent(prefix, tmp_path):
    """`wallboard act move --revert-min 1e306` used to reach the PBX and then kill the executor."""
    env = {
        **os.environ,
        "REDIS_URL": redis_url(),
        "WALLBOARD_TOKEN_SECRET": "s",
        "WALLBOARD_TOKEN": "rivka.9999999999.x",
    }
    base = [
        sys.executable,
        "-m",
        "wallboard.cli",
        "act",
        "move",
        "--agent",
        "1005",
        "--queue",
        "tech",
        "--user",
        "rivka",
        "--prefix",
        prefix,
        "--wait",
        "0",
    ]
    for extra, words in (
        (["--revert-min", "1e306"], "less than or equal to 86400"),
        (["--revert-min", "inf"], "finite number"),
        (["--revert-min", "0.5"], "greater than or equal to 60"),
        (["--penalty", str(2**40)], "less than or equal to 2147483647"),
        (["--penalty", "-1"], "greater than or equal to 0"),
    ):
        out = subprocess.run(base + extra, capture_output=True, text=True, env=env, timeout=60)
        assert out.returncode == 2, (extra, out.stdout, out.stderr)
        assert words in out.stderr and "Traceback" not in out.stderr + out.stdout, (extra, out.stderr)
    import redis

    assert redis.Redis.from_url(redis_url()).xlen(Keys(prefix).requests) == 0  # nothing was sent


async def test_out_of_range_numbers_on_the_stream_are_refused_and_never_reach_the_pbx(
    redis_client, prefix, secret_env, cleanup
):
    w = World(redis_client, prefix)
    tok = w.token()
    bad = [
        {"revert_after_s": "6e307"},
        {"revert_after_s": "inf"},
        {"revert_after_s": "nan"},
        {"revert_after_s": "30"},
        {"penalty": str(2**31)},
        {"penalty": "-3"},
    ]
    rids = [
        await w.send(
            wire(
                {
                    "type": "move",
                    "user": "rivka",
                    "token": tok,
                    "agent": "1005",
                    "queue": "tech",
                    "at": utc(w.clock.now()),
                    **b,
                }
            )
        )
        for b in bad
    ]
    assert await w.ex.process_pending() == len(bad)
    out = await w.outcomes()
    assert all(out[r]["result"].startswith("refused: malformed request: ") for r in rids), [out[r] for r in rids]
    assert "tech" not in w.centre.member_queues("1005")  # the PBX was never asked
    assert await redis_client.zcard(w.ex.reverts) == 0


async def test_a_move_whose_undo_cannot_be_scheduled_says_so_and_the_executor_goes_on(
    redis_client, prefix, secret_env, cleanup
):
    w = World(redis_client, prefix)
    await redis_client.set(w.ex.reverts, "not a sorted set")  # Redis refuses the ZADD of the undo (WRONGTYPE)
    tok = w.token()
    moved = await w.send(
        wire(
            {
                "type": "move",
                "user": "rivka",
                "token": tok,
                "agent": "1005",
                "queue": "tech",
                "revert_after_s": "900",
                "at": utc(w.clock.now()),
            }
        )
    )
    after = await w.send(wire(pause_fields(w)))
    assert await w.ex.process_pending() == 2
    out = await w.outcomes()
    # the move happened on the PBX and the trail says exactly that: done, but not undone later
    assert w.centre.member_penalty("1005", "tech") == 0
    assert out[moved]["result"] == "ok" and "undo NOT scheduled (ResponseError: WRONGTYPE" in out[moved]["pbx"]
    assert out[after]["result"] == "ok"  # the next request was served


class BrokenPbx(RecordingPbx):
    """A backend with a bug in one call (the PBX cannot run here; this stands for any surprise inside it)."""

    async def queue_pause(self, target, paused, reason, queue) -> Outcome:
        if reason == "boom":
            raise KeyError("a bug in the backend")
        return await super().queue_pause(target, paused, reason, queue)


async def test_an_exception_in_one_request_is_its_audited_outcome(redis_client, prefix, secret_env, cleanup):
    w = World(redis_client, prefix)
    w.ex.backend = BrokenPbx(w.centre)
    first = await w.send(wire(pause_fields(w, reason="boom")))
    second = await w.send(wire(pause_fields(w, agent="1005")))
    assert await w.ex.process_pending() == 2
    out = await w.outcomes()
    assert out[first]["result"] == "failed" and "internal error" in out[first]["pbx"]
    assert "KeyError" in out[first]["pbx"] and out[second]["result"] == "ok"
    # and a revert that fails is audited as failed; the rest still run
    await redis_client.zadd(
        w.ex.reverts,
        {
            "{not json": 1.0,
            json.dumps(
                {"request": "r1", "user": "rivka", "agent": "1001", "queue": "billing", "op": "add", "penalty": 0}
            ): 2.0,
        },
    )
    assert await w.ex.run_due_reverts() == 2
    audit = await _audit(redis_client, prefix)
    assert audit[-2]["result"] == "failed" and "internal error" in audit[-2]["pbx"]
    assert audit[-1]["result"] == "ok" and w.centre.member_penalty("1001", "billing") == 0


# ---- 2. at most once; fresh and aware; a proof that binds the token to one request ---------------------------


async def test_the_same_request_sent_three_times_is_performed_once(redis_client, prefix, secret_env, cleanup):
    w = World(redis_client, prefix)
    fields = wire(pause_fields(w))
    rids = [await w.send(fields) for _ in range(3)]
    assert await w.ex.process_pending() == 3
    out = await w.outcomes()
    assert [out[r]["result"].split(":")[0] for r in rids] == ["ok", "refused", "refused"]
    assert out[rids[1]]["result"].startswith(f"refused: duplicate: request id {fields['id']} was already handled")
    assert w.backend.calls == [("pause", "1001")]
    # another executor, later (a restart), still refuses it
    w.clock.advance(60)
    again = await w.send(fields)
    other = Executor(redis_client, w.config, w.backend, clock=w.clock, name="other")
    await other.process_pending()
    assert (await w.outcomes())[again]["result"].startswith("refused: duplicate") and len(w.backend.calls) == 1


async def test_missing_naive_stale_or_future_at_is_refused(redis_client, prefix, secret_env, cleanup):
    w = World(redis_client, prefix)
    now = w.clock.now()
    cases = {
        "missing": (None, "refused: malformed request: at: Field required"),
        "naive": (
            (now - timedelta(days=365)).replace(tzinfo=None).isoformat(),
            "refused: malformed request: at: Input should have timezone info",
        ),
        "a year old": (utc(now - timedelta(days=365)), "refused: stale request"),
        "three minutes": (utc(now - timedelta(minutes=3)), "refused: stale request"),
        "future": (utc(now + timedelta(minutes=5)), "refused: request from the future"),
        "fresh": (utc(now - timedelta(seconds=30)), "ok"),
    }
    rids = {}
    for name, (at, _) in cases.items():
        f = pause_fields(w)
        f.pop("at")
        if at is not None:
            f["at"] = at
        rids[name] = await w.send(wire(f))
    await w.ex.process_pending()
    out = await w.outcomes()
    for name, (_, want) in cases.items():
        assert out[rids[name]]["result"].startswith(want), (name, out[rids[name]]["result"])
    assert len(w.backend.calls) == 1


async def test_an_entry_read_off_the_stream_cannot_be_made_into_a_second_request(
    redis_client, prefix, secret_env, cleanup
):
    """Whoever can read the stream sees no token, only its public part and a proof bound to that request."""
    w = World(redis_client, prefix)
    tok = w.token()
    original = wire(pause_fields(w))
    assert tok not in json.dumps(original) and tok.rsplit(".", 1)[1] not in json.dumps(original)
    first = await w.send(original)
    tampered = {
        "new id": {**original, "id": "a" * 32},
        "other agent": {**original, "agent": "1005", "id": "b" * 32},
        "other user": {**original, "user": "moshe", "id": "c" * 32},
        "unpause": {**original, "type": "unpause", "id": "d" * 32},
    }
    rids = {k: await w.send(v) for k, v in tampered.items()}
    await w.ex.process_pending()
    out = await w.outcomes()
    assert out[first]["result"] == "ok"
    for name, rid in rids.items():
        assert out[rid]["result"].startswith("refused: forged request"), (name, out[rid]["result"])
    assert len(w.backend.calls) == 1


# ---- 3. one user's flood stalls nobody and costs the audit a line ---------------------------------------------


async def test_a_flood_from_one_user_does_not_delay_another_and_is_summarised(
    redis_client, prefix, secret_env, cleanup
):
    w = World(redis_client, prefix)
    tok = w.token("rivka")
    flood = [
        wire(
            {
                "type": "ack",
                "user": "rivka",
                "token": tok,
                "queue": "support",
                "metric": "waiting",
                "at": utc(w.clock.now()),
            }
        )
        for _ in range(1000)
    ]
    pipe = redis_client.pipeline(transaction=False)
    for f in flood:
        pipe.xadd(w.keys.requests, f)
    await pipe.execute()
    other = await w.send(wire(pause_fields(w, user="moshe", agent="1005")))  # behind the whole flood
    handled: list[str] = []
    real = w.ex.handle

    async def watch(rid, fields):
        handled.append(rid)
        return await real(rid, fields)

    w.ex.handle = watch
    assert await w.ex.process_pending() == 1001
    # served round-robin by user: moshe's request is among the first two handled, not the 1001st
    assert other in handled[:2], handled.index(other)
    audit = await _audit(redis_client, prefix)
    limit = w.config.security.action_rate_per_min
    results = [a["result"] for a in audit if a["user"] == "rivka"]
    assert results.count("ok") == limit  # the allowance, then refusals
    # one refusal written as it came, then one summary line for the other 1000 - limit - 1
    assert len(results) == limit + 2, len(results)
    summary = audit[-1]
    assert summary["type"] == "rate" and summary["result"] == "refused: rate limit"
    assert summary["detail"].startswith(f"{1000 - limit - 1} more requests from rivka refused for rate")
    assert w.backend.calls == [("pause", "1005")]


async def test_the_hub_refuses_excess_frames_and_counts_them(redis_client, prefix, cleanup, monkeypatch):
    for k, v in TOKENS.items():
        monkeypatch.setenv(k, v)
    # a refill too slow to add a token while the test runs: what gets through is the burst, however long it takes
    config = tv_config(prefix, hub={"connection_rate_per_s": 1e-4})
    await publish(redis_client, prefix, four_queues(1, now_utc()))
    keys = Keys(prefix)
    async with running_hub(config, redis_client) as hub:
        async with connect(ws_url(hub, token=TOKENS["TV_TEST_TOKEN_RIVKA"])) as ws:
            await recv_json(ws, "state")

            notices: list[dict] = []

            async def read_replies() -> None:
                # the hub tells a connection over its rate so at most once a second (a notice per frame would
                # flood it back, and a client not reading as fast would be dropped as too slow)
                while True:
                    notices.append(json.loads(await ws.recv()))

            reader = asyncio.create_task(read_replies())
            try:
                frame = json.dumps({"type": "ack", "queue": "support", "metric": "service_level"})
                for _ in range(3000):
                    await ws.send(frame)
                await until(
                    lambda: hub.stats.requests_sent + hub.stats.refused["rate"] == 3000,
                    "the hub to read all 3000 frames",
                    timeout=30,
                    every=0.05,
                    check=task_failed(reader),
                )
                await until(
                    lambda: sum(n["type"] == "accepted" for n in notices) == config.hub.connection_burst,
                    "the burst's answers read",
                    check=task_failed(reader),
                )
            finally:
                await aio.cancel_and_wait(reader)
        # the burst accepted one by one; the refusals told, not echoed: no more notices than the 30 s the hub had
        # to read them all allow (one a second)
        refusals = [n for n in notices if n["type"] == "refused"]
        assert sum(n["type"] == "accepted" for n in notices) == config.hub.connection_burst
        assert refusals and all("rate limit" in n["reason"] for n in refusals)
        assert len(refusals) <= 31, len(refusals)
        burst = config.hub.connection_burst
        sent = hub.stats.requests_sent
        assert sent == burst == 10, sent  # the user's allowance (30 a minute) is not what stops them
        assert hub.stats.refused["rate"] == 3000 - sent
        assert await redis_client.xlen(keys.requests) == sent  # the excess never reached the stream
        status, _, body = await http_get(f"http://127.0.0.1:{hub.port}/metrics")
        assert status == 200 and f'wallboard_hub_refused_total{{reason="rate"}} {3000 - sent}' in body.decode()


# ---- 4. a queue-limited role stays within its queues ---------------------------------------------------------


async def test_a_team_lead_acts_only_on_agents_in_their_queues(redis_client, prefix, secret_env, cleanup):
    """moshe's role (team_lead) is limited to support and billing."""
    w = World(redis_client, prefix)
    tok = w.token("moshe")
    at = utc(w.clock.now())

    def req(kind, agent, **extra):
        return wire({"type": kind, "user": "moshe", "token": tok, "agent": agent, "at": at, **extra})

    # 1009 (Shira) is removed from support, her only queue: she is in no queue now
    from wallboard.engine import Engine

    eng = Engine(redis_client, w.config, w.keys)
    await eng.start()
    await eng.apply(
        [MemberRemoved(id="m1", ts=w.clock.now() - timedelta(seconds=5), source="t", agent="1009", queue="support")]
    )
    cases = {
        "in tech only": (req("pause", "1002"), "refused: moshe may not pause on tech"),
        "listen in tech": (req("listen", "1006"), "refused: moshe may not listen on tech"),
        "unknown agent": (req("pause", "7777"), "refused: unknown agent '7777'"),
        "in no queue": (req("pause", "1009"), "refused: Shira is in no queue"),
        "queue she is not in": (req("pause", "1002", queue="support"), "refused: Dana is not in support"),
        "support and tech": (req("pause", "1001"), "refused: moshe may not pause on support, tech"),
        "in support": (req("pause", "1005"), "ok"),
        "billing only": (req("pause", "1003", queue="billing"), "ok"),
    }
    rids = {k: await w.send(f) for k, (f, _) in cases.items()}
    await w.ex.process_pending()
    out = await w.outcomes()
    for name, (_, want) in cases.items():
        assert out[rids[name]]["result"].startswith(want), (name, out[rids[name]]["result"])
    assert w.backend.calls == [("pause", "1005"), ("pause", "1003")]


# ---- 5. a websocket closes when its token expires -------------------------------------------------------------


async def test_a_websocket_is_closed_when_its_token_expires(redis_client, prefix, cleanup, monkeypatch):
    for k, v in TOKENS.items():
        monkeypatch.setenv(k, v)
    monkeypatch.setenv("WALLBOARD_TOKEN_SECRET", "hub-secret")
    config = tv_config(prefix)
    await publish(redis_client, prefix, four_queues(1, now_utc()))
    async with running_hub(config, redis_client) as hub:
        token = issue(config, "rivka", ttl_s=2)
        async with connect(ws_url(hub, token=token)) as ws:
            assert (await recv_json(ws, "state"))["role"] == "supervisor"
            # nothing is sent on it: the close can only come from the hub's timer at the token's expiry
            code, reason = await closed_with(ws, timeout=10)
            assert (code, reason) == (1008, "token expired: open the kiosk URL with a new token")
        assert hub.stats.refused["expired"] == 1
        assert await redis_client.xlen(Keys(prefix).requests) == 0


def test_a_bucket_gives_its_burst_then_its_rate():
    """The hub's per-connection limit, on times passed in (the hub passes its loop's clock)."""
    from wallboard.ratelimit import Bucket

    b = Bucket(rate=2.0, burst=3, now=100.0)
    assert [b.take(100.0) for _ in range(4)] == [True, True, True, False]
    assert b.take(100.4) is False  # 0.8 of a token
    assert [b.take(100.5), b.take(100.5)] == [True, False]  # a whole one after half a second at 2 a second
    assert [b.take(1000.0) for _ in range(4)] == [True, True, True, False]  # refilled up to the burst, no more


def test_desk_hub_and_act_submit_through_one_function():
    """No other code path writes the request stream."""
    import pathlib
    import re

    root = pathlib.Path(__file__).resolve().parent.parent
    writers = [
        p.relative_to(root).as_posix()
        for p in [*root.joinpath("wallboard").rglob("*.py"), *root.joinpath("feeds").rglob("*.py")]
        if re.search(r"xadd\([^)]*\.requests\b", p.read_text())
    ]
    assert writers == ["wallboard/actions/submit.py"]


# ---- the hostile review's findings: each a regression test ---------------------------------------------------


async def test_an_entry_that_is_not_utf8_is_refused_and_the_executor_goes_on(prefix, secret_env, cleanup, redis_client):
    """A desk user XADDs bytes that are not UTF-8: the executor, on the client it uses in production
    (``store.connect``), refuses that entry and handles the next one; it used to die at every start."""
    import redis.asyncio as aredis

    from wallboard.store import connect

    w = World(redis_client, prefix)
    client = await connect(w.config, redis_url())
    raw = aredis.Redis.from_url(redis_url())
    try:
        ex = Executor(client, w.config, w.backend, clock=w.clock, name="utf8")
        await ex.ensure_group()
        bad = (await raw.xadd(w.keys.requests, {b"user": b"\xff\xfe", b"type": b"pause"})).decode()
        good = await w.send(wire(pause_fields(w)))
        task = asyncio.create_task(ex.run())

        async def good_done() -> bool:
            return good in await w.outcomes()

        await until(good_done, "the good request's outcome", every=0.05, check=task_failed(task))
        ex.stop.set()
        await asyncio.wait_for(task, 5)
        out = await w.outcomes()
        assert out[bad]["result"].startswith("refused: unsigned request") and out[good]["result"] == "ok"
    finally:
        await client.aclose()
        await raw.aclose()


async def test_another_users_request_with_the_same_id_cannot_cancel_it(redis_client, prefix, secret_env, cleanup):
    """moshe reads rivka's pending entry and sends his own, correctly signed, with her request id first."""
    w = World(redis_client, prefix)
    theirs = wire(pause_fields(w, user="rivka", agent="1005"))
    mine = wire({**pause_fields(w, user="moshe", agent="1009"), "id": theirs["id"]})
    first = await w.send(mine)
    second = await w.send(theirs)
    await w.ex.process_pending()
    out = await w.outcomes()
    assert out[first]["result"] == "ok" and out[second]["result"] == "ok"
    assert sorted(w.backend.calls) == [("pause", "1005"), ("pause", "1009")]


async def test_a_flood_of_junk_naming_many_users_is_served_last_and_summarised(
    redis_client, prefix, secret_env, cleanup
):
    w = World(redis_client, prefix)
    pipe = redis_client.pipeline(transaction=False)
    for i in range(5000):
        pipe.xadd(w.keys.requests, {"type": "pause", "user": f"u{i}", "agent": "1001", "id": f"junk{i:08d}"})
    await pipe.execute()
    good = await w.send(wire(pause_fields(w)))
    t0 = time.monotonic()
    handled: list[str] = []
    real = w.ex.handle_once

    async def watch(rid, fields):
        handled.append(rid)
        return await real(rid, fields)

    w.ex.handle_once = watch
    await w.ex.process_pending()
    print(f"\n5,000 junk entries and one request handled in {time.monotonic() - t0:.2f} s")
    assert handled[0] == good  # the genuine request first: junk is served after every authenticated one
    audit = await _audit(redis_client, prefix)
    assert len(audit) == 1 + 10 + 1  # the request, ten refusals one by one, one summary
    assert audit[-1]["detail"].startswith("4990 more unauthenticated requests refused")
    assert await redis_client.xpending(w.keys.requests, "executors") == {
        "pending": 0,
        "min": None,
        "max": None,
        "consumers": [],
    }
    assert not [k async for k in redis_client.scan_iter(match=f"{prefix}:*seen*", count=10_000)][
        1:
    ]  # one claim: the request's


async def test_claims_of_rate_refused_requests_are_not_kept(redis_client, prefix, secret_env, cleanup):
    w = World(redis_client, prefix)
    for _ in range(w.config.security.action_rate_per_min + 20):
        await w.send(wire(pause_fields(w)))
    await w.ex.process_pending()
    claims = [k async for k in redis_client.scan_iter(match=f"{prefix}:*seen*", count=10_000)]
    assert len(claims) == w.config.security.action_rate_per_min
    ttl = await redis_client.ttl(claims[0])
    assert 0 < ttl <= 120 + 30 + 60  # as long as a request could pass as fresh, not an hour


async def test_an_outcome_far_down_the_audit_is_still_found_after_a_restart(redis_client, prefix, secret_env, cleanup):
    """The executor stops after auditing a request and before acknowledging it, with 600 other entries
    audited after it: the next process must see the outcome, not write 'interrupted' beside an 'ok'."""
    from wallboard.actions.executor import GROUP

    w = World(redis_client, prefix)
    v = await w.send(wire(pause_fields(w)))
    await w.ex.ensure_group()
    await redis_client.xreadgroup(GROUP, "x", {w.keys.requests: ">"}, count=1)
    await w.ex.handle(v, (await redis_client.xrange(w.keys.requests, v, v))[0][1])  # audited, not acknowledged
    for i in range(600):
        await redis_client.xadd(f"{w.keys.centre}:audit", {"request": f"0-{i}", "result": "refused: noise"})
    restarted = Executor(redis_client, w.config, w.backend, clock=w.clock, name="x")
    restarted.stop.set()  # one pass over the pending entries, then stop
    await restarted.ensure_group()
    await restarted._read("0", None, resumed=False)
    assert [a["result"] for a in await _audit(redis_client, prefix) if a["request"] == v] == ["ok"]
    assert w.backend.calls == [("pause", "1001")]


async def test_after_redis_loses_the_claim_a_copy_is_still_refused(redis_client, prefix, secret_env, cleanup):
    """Redis restarts without its last second: the claim, the audit line and the acknowledgement are gone.
    The executor re-audits what it did, claims the id again, and a copy sent then is refused."""
    from wallboard.actions.executor import GROUP

    w = World(redis_client, prefix)
    fields = wire(pause_fields(w))
    v = await w.send(fields)
    await w.ex.ensure_group()
    out = await redis_client.xreadgroup(GROUP, w.ex.name, {w.keys.requests: ">"}, count=10)
    await w.ex.handle(v, out[0][1][0][1])  # performed and audited, not acknowledged
    # the lost second: the claim, the audit entry and its outcome mark
    for k in [k async for k in redis_client.scan_iter(match=f"{prefix}:*seen*", count=10_000)]:
        await redis_client.delete(k)
    await redis_client.delete(f"{w.keys.centre}:audit")
    for k in [k async for k in redis_client.scan_iter(match=f"{prefix}:*outcomes*", count=10_000)]:
        await redis_client.delete(k)
    await w.ex._reaudit_recent()  # what run() does on reconnecting
    copy = await w.send(fields)
    await w.ex._read("0", None)
    await w.ex._read(">", None)
    results = {a["request"]: a["result"] for a in await _audit(redis_client, prefix)}
    assert results[v] == "ok" and results[copy].startswith("refused: duplicate")
    assert w.backend.calls == [("pause", "1001")]


async def test_a_team_lead_may_not_listen_to_a_call_outside_the_queues(redis_client, prefix, secret_env, cleanup):
    from wallboard.engine import Engine
    from wallboard.events import AgentStateChanged

    w = World(redis_client, prefix)
    eng = Engine(redis_client, w.config, w.keys)
    await eng.start()
    await eng.apply(
        [
            AgentStateChanged(
                id="o1",
                ts=w.clock.now() - timedelta(seconds=3),
                source="t",
                agent="1005",
                state="on_call",
                call_id="out.1",
            )
        ]
    )
    moshe = await w.send(
        wire({"type": "listen", "user": "moshe", "token": w.token("moshe"), "agent": "1005", "at": utc(w.clock.now())})
    )
    rivka = await w.send(
        wire({"type": "listen", "user": "rivka", "token": w.token("rivka"), "agent": "1005", "at": utc(w.clock.now())})
    )
    await w.ex.process_pending()
    out = await w.outcomes()
    assert out[moshe]["result"] == "refused: moshe may not listen on a call outside the queues"
    assert out[rivka]["result"] == "ok"  # a supervisor's role covers every queue


async def test_an_entry_without_an_id_or_with_an_endless_snooze_is_refused(redis_client, prefix, secret_env, cleanup):
    w = World(redis_client, prefix)
    no_id = {k: v for k, v in pause_fields(w).items()}
    from wallboard.actions.auth import sign_request

    signed = sign_request({k: str(v) for k, v in no_id.items() if k != "token"}, no_id["token"])
    a = await w.send(signed)
    b = await w.send(signed)
    snooze = await w.send(
        wire(
            {
                "type": "snooze",
                "user": "rivka",
                "token": w.token(),
                "queue": "support",
                "metric": "waiting",
                "at": utc(w.clock.now()),
                "until": "9999-12-31T00:00:00Z",
            }
        )
    )
    await w.ex.process_pending()
    out = await w.outcomes()
    assert out[a]["result"].startswith("refused: malformed request: id") and out[b]["result"].startswith("refused")
    assert out[snooze]["result"].startswith("refused: malformed request") and "24 h" in out[snooze]["result"]
    assert w.backend.calls == []


async def test_what_the_audit_and_log_copy_from_an_entry_is_cut_and_printable(
    redis_client, prefix, secret_env, cleanup, caplog
):
    w = World(redis_client, prefix)
    rid = await w.send(
        {
            "type": "move",
            "user": "x\n2026 INFO wallboard.executor: 1-0 move by rivka: ok",
            "agent": "a" * 100_000,
            "id": "forged0001",
        }
    )
    await w.ex.process_pending()
    entry = (await w.outcomes())[rid]
    assert len(entry["agent"]) == 128 and "\n" not in entry["user"]
    assert not any("\n" in r.getMessage() for r in caplog.records if r.name == "wallboard.executor")
