"""The apply steps' script calls sent in one round trip packed by ``Scripts.run_calls`` (not redis-py's pipeline):
the same writes and replies as the pipeline, an error reply that leaves the connection in step, a forgotten script
loaded again, a dropped connection retried, a reply slower than the socket timeout refused. Real servers only."""

from __future__ import annotations

import asyncio
import json
from datetime import datetime, timedelta, timezone

import orjson
import pytest
import redis
import redis.asyncio as aredis
from redis.asyncio.retry import Retry as AsyncRetry
from redis.backoff import NoBackoff

from wallboard.config import load_config
from wallboard.engine import Engine
from wallboard.events import AgentStateChanged, CallCompleted, CallerAbandoned, CallerAnswered, CallerJoined
from wallboard.keys import Keys
from wallboard.redis_server import PrivateServer
from wallboard.store import Scripts

from .conftest import redis_url
from .keyspace import keyspace

T0 = datetime(2026, 11, 23, 9, 0, 0, tzinfo=timezone.utc)


def _day() -> list:
    """Calls in three queues answered by four agents, some abandoned, with the agents' states: every kind of
    reply the steps read (joins, answers with their join, closes, agents' duplicates counts)."""
    evs: list = []
    n = 0

    def ids() -> dict:
        nonlocal n
        n += 1
        return {"id": f"rt:{n}", "source": f"test:{n}"}

    for a in ("1001", "1002", "1003", "1004"):
        evs.append(AgentStateChanged(**ids(), ts=T0, agent=a, state="available"))
    for i in range(40):
        q = ("support", "sales", "billing")[i % 3]
        a = ("1001", "1002", "1003", "1004")[i % 4]
        t = T0 + timedelta(seconds=10 + 7 * i)
        c = f"c{i}"
        evs.append(CallerJoined(**ids(), ts=t, queue=q, call_id=c, caller=f"050{i:07d}"))
        if i % 5 == 4:
            evs.append(CallerAbandoned(**ids(), ts=t + timedelta(seconds=9.5), queue=q, call_id=c, wait_s=9.5))
            continue
        evs.append(CallerAnswered(**ids(), ts=t + timedelta(seconds=3), queue=q, call_id=c, agent=a, wait_s=3))
        evs.append(AgentStateChanged(**ids(), ts=t + timedelta(seconds=3), agent=a, state="on_call", call_id=c))
        evs.append(CallCompleted(**ids(), ts=t + timedelta(seconds=40.25), queue=q, call_id=c, agent=a, talk_s=37.25))
        evs.append(AgentStateChanged(**ids(), ts=t + timedelta(seconds=40.25), agent=a, state="available"))
    return evs


async def test_the_steps_write_and_read_what_the_pipeline_did(redis_client, prefix):
    """Two engines apply the same day (twice: the second time all duplicates), one through ``run_calls``, one
    through redis-py's pipeline: the same results and the same keys, values and expiries."""
    config = load_config(None, centre={"timezone": "UTC"})
    lean = Engine(redis_client, config, Keys(f"{prefix}-a"), feed_name="sim")
    piped = Engine(redis_client, config, Keys(f"{prefix}-b"), feed_name="sim")
    piped.scripts.run_calls = piped.scripts.run_pipeline  # type: ignore[method-assign]
    for eng in (lean, piped):
        await eng.start()
    day = _day()
    results = []
    for eng in (lean, piped):
        got = []
        for rnd in range(2):
            for k in range(0, len(day), 25):
                res = await eng.apply(day[k : k + 25])
                got.append(
                    (rnd, res.applied, res.duplicates, len(res.rejected), sorted(res.queues), sorted(res.agents))
                )
        results.append(got)
    assert results[0] == results[1]
    # by hand: 40 joins, 32 answers, 32 closes, 8 abandons applied once; all 112 again as duplicates
    assert sum(r[1] for r in results[0] if r[0] == 0) == 112
    assert sum(r[1] for r in results[0] if r[0] == 1) == 0
    a, b = await keyspace(redis_client, f"{prefix}-a:"), await keyspace(redis_client, f"{prefix}-b:")
    assert a == b and len(a) > 20


async def test_an_error_reply_is_raised_and_the_connection_stays_in_step(prefix):
    """A script that fails in the middle of the calls: raised, after every reply was read (the calls after it ran
    too, as in a pipeline); the one connection then answers the next calls with their own replies."""
    client = aredis.Redis.from_url(redis_url(), decode_responses=True, max_connections=1)
    try:
        scripts = Scripts()
        await scripts.load(client)
        k = Keys(prefix)
        params = '{"exp": 600, "bexp": 600, "oexp": 600, "bounds": "all"}'
        rec = '[["MA", 1795000000, false, "support", 3]]'
        calls = [
            ("agent_batch", k.agent("1"), (params, rec)),
            ("agent_batch", k.agent("2"), (params, "[not json")),
            ("agent_batch", k.agent("3"), (params, rec)),
        ]
        with pytest.raises(redis.ResponseError):
            await scripts.run_calls(client, calls)
        read = '{"read": {"win": "all"}}'
        replies = await scripts.run_calls(
            client, [("agent_batch", k.agent(a), (read, "[]")) for a in ("1", "2", "3")] + calls[:1]
        )
        parsed = [orjson.loads(r) for r in replies[:3]]
        assert [p["q"] for p in parsed] == [["support", "3"], {}, ["support", "3"]]
        assert replies[3] == 0  # the membership again: no duplicate counted for it (membership is not counted)
        assert await client.ping() is True
    finally:
        await client.aclose()
        r = redis.Redis.from_url(redis_url())
        r.delete(*[f"{prefix}:{{a:{a}}}:queues" for a in "123"], *[f"{prefix}:{{a:{a}}}:qts" for a in "123"])
        r.close()


async def test_a_forgotten_script_is_loaded_again(redis_client, prefix):
    scripts = Scripts()
    await scripts.load(redis_client)
    real = scripts.shas["agent_batch"]
    scripts.shas["agent_batch"] = "0" * 40  # as if the server had been restarted without it
    read = '{"read": {"win": "all"}}'
    replies = await scripts.run_calls(redis_client, [("agent_batch", Keys(prefix).agent("9"), (read, "[]"))])
    assert orjson.loads(replies[0])["s"] == {}
    assert scripts.shas["agent_batch"] == real


async def test_a_connection_dropped_before_the_calls_is_retried(prefix):
    """The client's one immediate retry (``store.connect``'s) heals a pooled connection the server dropped."""
    one_retry = AsyncRetry(NoBackoff(), 1)
    client = aredis.Redis.from_url(redis_url(), decode_responses=True, max_connections=1, retry=one_retry)
    killer = redis.Redis.from_url(redis_url())
    try:
        scripts = Scripts()
        await scripts.load(client)
        cid = await client.client_id()
        assert killer.client_kill_filter(_id=cid) == 1
        params = '{"exp": 600, "bexp": 600, "oexp": 600, "bounds": "all"}'
        rec = '[["MA", 1795000000, false, "sales", 1]]'
        replies = await scripts.run_calls(client, [("agent_batch", Keys(prefix).agent("7"), (params, rec))])
        assert replies == [0]
        assert await client.hgetall(f"{prefix}:{{a:7}}:queues") == {"sales": "1"}
        assert await client.client_id() != cid
    finally:
        await client.aclose()
        killer.delete(f"{prefix}:{{a:7}}:queues", f"{prefix}:{{a:7}}:qts")
        killer.close()


async def test_a_reply_slower_than_the_socket_timeout_is_a_timeout():
    """Each reply is waited for the socket timeout, as redis-py waits for each: a script that runs 3 s against a
    1 s timeout is a ``redis.TimeoutError`` (the connection dropped, tried again once), not a reply; the client
    answers again once the script is done. On a private server (the script holds it)."""
    server = PrivateServer()
    one_retry = AsyncRetry(NoBackoff(), 1)
    client = aredis.Redis.from_url(server.url, decode_responses=True, socket_timeout=1.0, retry=one_retry)
    try:
        scripts = Scripts()
        await scripts.load(client)
        # a script that holds the server for ARGV[1] seconds of its CPU
        scripts.shas["spin"] = await client.script_load(
            "local s = os.clock()\nrepeat until os.clock() > s + tonumber(ARGV[1])\nreturn 1"
        )
        scripts.shas["quick"] = await client.script_load("return 2")
        with pytest.raises(redis.TimeoutError):
            await scripts.run_calls(client, [("quick", "k", ()), ("spin", "k", ("3.0",))])
        # raised while the script still holds the server (the first try's 1 s, the retry's 1 s, of its 3 s of CPU):
        # not its reply waited for. Told by the server, not by a clock of ours (its 3 s stretch with the load too)
        probe = aredis.Redis.from_url(server.url, socket_timeout=0.3, socket_connect_timeout=0.3)
        with pytest.raises(redis.TimeoutError):
            await probe.ping()
        await probe.aclose()
        for _ in range(40):  # once the script has ended (the dropped connection's replies went with it)
            try:
                assert await scripts.run_calls(client, [("quick", "k", ())]) == [2]
                break
            except (redis.TimeoutError, redis.ResponseError) as e:  # (BUSY past the server's script threshold)
                assert isinstance(e, redis.TimeoutError) or str(e).startswith("BUSY"), e
                await asyncio.sleep(0.5)
        else:
            raise AssertionError("the server did not answer again")
    finally:
        await client.aclose()
        server.stop()


async def test_the_queue_scripts_parameters_follow_the_cursor(redis_client, prefix):
    """The queue script's parameters are made once per queue and cursor: a batch with another cursor writes
    that one (the queue's ``:cursor`` hash, the feed's position), a queue's own thresholds stay its own."""
    config = load_config(
        None,
        centre={"timezone": "UTC"},
        queues=[{"name": "support", "sl_threshold_s": 20}, {"name": "sales", "sl_threshold_s": 45}],
    )
    eng = Engine(redis_client, config, Keys(prefix), feed_name="pbx")
    await eng.start()
    day = [e for e in _day() if getattr(e, "queue", None) in ("support", "sales")]
    half = len(day) // 2
    for part, cursor in ((day[:half], "row-1"), (day[half:], "row-2")):
        await eng.apply(part, cursor)
        for q in ("support", "sales"):
            assert await redis_client.hget(f"{prefix}:{{q:{q}}}:cursor", "pbx") == cursor
    await eng.apply(day[:3], "row-1")  # back to a cursor seen before
    assert await redis_client.hget(f"{prefix}:{{q:support}}:cursor", "pbx") == "row-1"
    # answered within each queue's own threshold: support's 20 s, sales's 45 s (waits of 3 s: all within both)
    params = {q: json.loads(eng._qparams(q, "")) for q in ("support", "sales")}
    assert (params["support"]["sl"], params["sales"]["sl"]) == (20, 45)


async def test_the_queue_scripts_parameters_follow_a_config_put_in_place(redis_client, prefix):
    """An engine given another config (``engine.config = ...``, as the owner's tests and ``_cfg_queue`` allow)
    counts the next batch by its thresholds, not by the parameters made for the config before: support answers a
    call after 10 s under a 20 s threshold (within), then, its threshold 5 s, another after 10 s (not within)."""
    config = load_config(None, centre={"timezone": "UTC"}, queues=[{"name": "support", "sl_threshold_s": 20}])
    eng = Engine(redis_client, config, Keys(prefix), feed_name="pbx")
    await eng.start()

    def call(n: int, at_s: float) -> list:
        c, t = f"sw{n}", T0 + timedelta(seconds=at_s)
        return [
            CallerJoined(id=f"j{n}", source="t", ts=t, queue="support", call_id=c),
            CallerAnswered(id=f"a{n}", source="t", ts=t + timedelta(seconds=10), queue="support", call_id=c, wait_s=10),
        ]

    await eng.apply(call(1, 0))
    eng.config = load_config(None, centre={"timezone": "UTC"}, queues=[{"name": "support", "sl_threshold_s": 5}])
    await eng.apply(call(2, 60))
    answered = within = 0
    async for key in redis_client.scan_iter(match=f"{prefix}:{{q:support}}:w:*", count=10_000):
        h = await redis_client.hgetall(key)
        answered += int(h.get("answered", 0))
        within += int(h.get("answered_within_sl", 0))
    assert (answered, within) == (2, 1)


class _KilledAfterSending(aredis.Connection):
    """A real connection that the server kills (``CLIENT KILL ADDR``, from another client) right after a large
    packed send: the server has read part of the calls and run some, the replies never come."""

    armed = 0
    killer: redis.Redis | None = None

    async def send_packed_command(self, command, check_health=True):
        await super().send_packed_command(command, check_health)
        size = sum(len(c) for c in command) if isinstance(command, list) else len(command)
        if _KilledAfterSending.armed and size > 50_000 and self.killer is not None:
            _KilledAfterSending.armed -= 1
            host, port = self._writer.get_extra_info("sockname")[:2]
            self.killer.execute_command("CLIENT", "KILL", "ADDR", f"{host}:{port}")


async def test_a_connection_killed_in_the_middle_of_a_batch_loses_and_doubles_nothing(redis_client, prefix):
    """The server kills the connection right after the steps' calls were sent (some run, their replies lost): the
    client's one retry sends them all again on a new connection, and the scripts' once-markers take the ones that
    ran as duplicates. Every key as a clean apply of the same batch leaves it, but the duplicates counted (each
    call run again is one), and the pooled connection answers the next calls with their own replies."""
    killer = redis.Redis.from_url(redis_url())
    _KilledAfterSending.killer = killer
    client = aredis.Redis.from_url(
        redis_url(),
        decode_responses=True,
        encoding_errors="replace",
        retry=AsyncRetry(NoBackoff(), 1),
        max_connections=1,
        connection_class=_KilledAfterSending,
    )
    config = load_config(None, centre={"timezone": "UTC"})
    evs: list = []
    for i in range(300):  # a call per queue and per agent: 600 script calls, ~200 KB sent
        q, a, c, t = f"kq{i}", f"{3000 + i}", f"call-{i}-" + "x" * 100, T0 + timedelta(seconds=i)
        ids = {"source": f"k:{i}"}
        evs += [
            CallerJoined(id=f"kj{i}", **ids, ts=t, queue=q, call_id=c, caller="0501234567"),
            CallerAnswered(id=f"ka{i}", **ids, ts=t + timedelta(seconds=3), queue=q, call_id=c, agent=a, wait_s=3),
            CallCompleted(id=f"kc{i}", **ids, ts=t + timedelta(seconds=40), queue=q, call_id=c, agent=a, talk_s=37),
        ]
    try:
        results, spaces = [], []
        for ns, kills in ((f"{prefix}-clean", 0), (f"{prefix}-killed", 1)):
            eng = Engine(client, config, Keys(ns), feed_name="sim")
            await eng.start()
            _KilledAfterSending.armed = kills
            res = await eng.apply(evs)
            assert _KilledAfterSending.armed == 0  # (the kill happened)
            again = await eng.apply(evs)  # the same batch again: all duplicates
            results.append((res.applied + res.duplicates, len(res.rejected), again.applied, again.duplicates))
            space = await keyspace(client, f"{ns}:")
            for key, (kind, value, _) in space.items():
                if key.endswith(":stats"):
                    counts = dict(value)  # the duplicates counted differ: each call run again is one
                    counts.pop("duplicates", None)
                    space[key] = (kind, counts, _)
            spaces.append(space)
        clean, killed = results
        # by hand: 900 transitions taken (applied, or run before the kill and taken again as duplicates); then all
        # again, with the agents' side's 300 handled calls: duplicates
        assert clean == (900, 0, 0, 1200) == killed
        assert spaces[0] == spaces[1] and len(spaces[0]) > 600
        assert await client.get("no-such-key") is None and await client.ping() is True
    finally:
        _KilledAfterSending.armed = 0
        await client.aclose()
        for ns in (f"{prefix}-clean", f"{prefix}-killed"):
            keys = list(killer.scan_iter(match=f"{ns}:*", count=10_000))
            if keys:
                killer.delete(*keys)
        killer.close()
