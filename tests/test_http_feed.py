"""``ingest --feed http``: real HTTP requests against the running ingester (in process, and once as the
``wallboard ingest`` command), a real Redis, counts checked against an independent count of what was sent."""

from __future__ import annotations

import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from contextlib import asynccontextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path

import aiohttp
import pytest

from feeds.http import HttpFeed, events_schema_json, load_webhook_mapping
from wallboard.clock import ManualClock
from wallboard.config import load_config
from wallboard.engine import Engine
from wallboard.ingest import Ingest
from wallboard.keys import Keys

from .conftest import at, free_port, redis_url
from .polling import until, wait_until

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "edge-token-0123456789abcdef"
CHAT_TOKEN = "chat-token-fedcba9876543210"
NOW = at(6 * 3600)  # the ingester's clock: every event below is before it, on the same day


def _config(prefix, centre=None, **http):
    sources = http.pop("sources", None) or {
        "edge": {"token_env": "WB_TEST_HTTP_EDGE"},
        "chat": {"token_env": "WB_TEST_HTTP_CHAT", "mapping": "chat_webhook"},
    }
    feeds = {"http": {"host": "127.0.0.1", "port": 0, "sources": sources, **http}}
    return load_config(
        None,
        redis={"prefix": prefix},
        feeds=feeds,
        engine={"tick_s": 0.2},
        queues=[{"name": "support"}, {"name": "chat", "channel": "chat"}],
        **({"centre": centre} if centre else {}),
    )


@pytest.fixture
def tokens(monkeypatch):
    monkeypatch.setenv("WB_TEST_HTTP_EDGE", TOKEN)
    monkeypatch.setenv("WB_TEST_HTTP_CHAT", CHAT_TOKEN)


@asynccontextmanager
async def running(redis_client, prefix, *, clean=True, centre=None, **http):
    """An ingester with the http feed on a free port; yields (ingest, feed, base url, session). ``clean``:
    drop the prefix's keys when it stops (not when the next ingester carries on with them); ``centre``: its
    [centre] settings."""
    config = _config(prefix, centre, **http)
    feed = HttpFeed(None, config)
    ing = Ingest(redis_client, config, feed, clock=ManualClock(NOW), keys=Keys(prefix), name="http-test")
    task = asyncio.create_task(ing.run())
    try:
        await asyncio.wait_for(feed.started.wait(), 10)
        async with aiohttp.ClientSession() as session:
            yield ing, feed, f"http://127.0.0.1:{feed.bound_port}", session
    finally:
        ing.stop.set()
        await asyncio.wait_for(task, 10)
        keys = [k async for k in redis_client.scan_iter(match=f"{prefix}:*", count=1000)] if clean else []
        if keys:
            await redis_client.unlink(*keys)


async def post(session, url, body, token=TOKEN, ctype="application/json"):
    data = body if isinstance(body, (bytes, str)) else json.dumps(body)
    headers = {"Content-Type": ctype}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    async with session.post(url, data=data, headers=headers) as resp:
        return resp.status, await resp.json(content_type=None), resp.headers


async def snapshot(redis_client, prefix):
    eng = Engine(redis_client, _config(prefix), Keys(prefix))
    await eng.start()
    return await eng.build_snapshot(NOW)


def conversations(n, seed=7):
    """Our events for n calls in 'support' (joined, then answered + completed, abandoned or overflowed), and
    the counts they should make, computed here from the list itself."""
    rnd = random.Random(seed)
    events, want = [], {"entered": 0, "answered": 0, "abandoned": 0, "overflowed": 0, "completed": 0, "talk_s": 0}
    for i in range(n):
        t0 = 60.0 + i * 7
        wait = float(rnd.randint(0, 90))
        common = {"queue": "support", "call_id": f"c{i}"}
        events.append({"type": "caller_joined", "id": f"j{i}", "ts": at(t0).isoformat(), **common})
        want["entered"] += 1
        outcome = rnd.choice(["answered", "answered", "abandoned", "overflowed"])
        leave = at(t0 + wait).isoformat()
        if outcome == "answered":
            talk = float(rnd.randint(30, 400))
            events.append(
                {"type": "caller_answered", "id": f"a{i}", "ts": leave, "agent": "1001", "wait_s": wait, **common}
            )
            events.append(
                {
                    "type": "call_completed",
                    "id": f"c{i}",
                    "ts": at(t0 + wait + talk).isoformat(),
                    "agent": "1001",
                    "talk_s": talk,
                    **common,
                }
            )
            want["answered"] += 1
            want["completed"] += 1
            want["talk_s"] += talk
        elif outcome == "abandoned":
            events.append({"type": "caller_abandoned", "id": f"x{i}", "ts": leave, "wait_s": wait, **common})
            want["abandoned"] += 1
        else:
            events.append(
                {"type": "caller_overflowed", "id": f"o{i}", "ts": leave, "reason": "timeout", "wait_s": wait, **common}
            )
            want["overflowed"] += 1
    return events, want


def counts(q) -> dict:
    return {k: getattr(q, k) for k in ("entered", "answered", "abandoned", "overflowed", "completed", "talk_s")}


async def dead_letters(redis_client, prefix):
    return [f for _id, f in await redis_client.xrange(Keys(prefix).deadletter)]


# ---- counting --------------------------------------------------------------------------------------------


async def test_counts_equal_an_independent_count_and_a_retried_post_counts_once(redis_client, prefix, tokens):
    events, want = conversations(300)
    async with running(redis_client, prefix) as (ing, feed, base, session):
        sent = 0
        for k in range(0, len(events), 97):  # batches, and one single object
            status, answer, _ = await post(session, f"{base}/events/edge", events[k : k + 97])
            assert status == 202 and answer["accepted"] == len(events[k : k + 97]) and answer["rejected"] == []
            sent += answer["accepted"]
        status, answer, _ = await post(
            session,
            f"{base}/events",
            {"type": "caller_joined", "id": "solo", "ts": at(50).isoformat(), "queue": "support", "call_id": "solo"},
        )
        assert status == 202 and answer == {"accepted": 1, "duplicates": 0, "ignored": 0, "rejected": []}
        want["entered"] += 1
        await until(lambda: ing.events_applied == sent + 1)
        assert counts((await snapshot(redis_client, prefix)).queues["support"]) == want

        # the sender did not see the answers and POSTs every batch again (ids and content the same)
        for k in range(0, len(events), 97):
            status, answer, _ = await post(session, f"{base}/events/edge", events[k : k + 97])
            assert status == 202 and answer["accepted"] == answer["duplicates"] == len(events[k : k + 97])
        # and the same event twice inside one POST
        status, answer, _ = await post(session, f"{base}/events/edge", [events[0], events[0]])
        assert answer["duplicates"] == 2
        await until(lambda: ing.events_applied == 2 * sent + 3)  # handed to the engine: it counts by meaning
        snap = await snapshot(redis_client, prefix)
        assert counts(snap.queues["support"]) == want
        assert snap.queues["support"].duplicates >= sent
        assert await redis_client.get(Keys(prefix).dlcount) is None


async def test_the_same_id_for_a_different_event_is_a_dead_letter(redis_client, prefix, tokens):
    join = {"type": "caller_joined", "id": "j1", "ts": at(10).isoformat(), "queue": "support", "call_id": "c1"}
    async with running(redis_client, prefix) as (ing, feed, base, session):
        assert (await post(session, f"{base}/events/edge", join))[1]["accepted"] == 1
        other = {**join, "call_id": "c2"}
        status, answer, _ = await post(session, f"{base}/events/edge", other)
        assert status == 202 and answer["accepted"] == 0
        assert "accepted before for a different event" in answer["rejected"][0]["reason"]
        await until(lambda: feed._q.qsize() == 0 and ing.events_applied == 1)
        snap = await snapshot(redis_client, prefix)
        assert snap.queues["support"].entered == 1


# ---- the door: tokens, sizes, floods ---------------------------------------------------------------------


async def test_tokens_are_required_per_source_and_never_logged(redis_client, prefix, tokens, caplog):
    caplog.set_level("DEBUG")
    join = {"type": "caller_joined", "id": "j1", "ts": at(10).isoformat(), "queue": "support", "call_id": "c1"}
    async with running(redis_client, prefix) as (ing, feed, base, session):
        status, body, headers = await post(session, f"{base}/events", join, token=None)
        assert status == 401 and headers["WWW-Authenticate"].startswith("Bearer")
        assert (await post(session, f"{base}/events", join, token="wrong-token-0123456789"))[0] == 401
        assert (await post(session, f"{base}/events", join, token=TOKEN[:-1]))[0] == 401
        assert (await post(session, f"{base}/events/chat", join, token=TOKEN))[0] == 401  # edge's token, chat's door
        assert (await post(session, f"{base}/events/nosuch", join, token=TOKEN))[0] == 401
        async with session.post(
            f"{base}/events", data=json.dumps(join), headers={"Authorization": f"Basic {TOKEN}"}
        ) as resp:
            assert resp.status == 401
        assert feed._q.qsize() == 0 and ing.events_applied == 0
        assert (await post(session, f"{base}/events", join))[0] == 202  # the token alone names the source
        await until(lambda: ing.events_applied == 1)
        async with session.get(f"{base}/healthz") as resp:
            assert resp.status == 200 and (await resp.json())["status"] == "ok"
    assert TOKEN not in caplog.text and CHAT_TOKEN not in caplog.text
    assert await redis_client.get(Keys(prefix).dlcount) is None


async def test_size_limits_refuse_the_whole_post(redis_client, prefix, tokens):
    events, _ = conversations(20)
    async with running(redis_client, prefix, max_body_bytes=4096, max_events=10) as (ing, feed, base, session):
        big = json.dumps(
            [
                {
                    "type": "caller_joined",
                    "id": f"j{i}",
                    "ts": at(i).isoformat(),
                    "queue": "support",
                    "call_id": f"c{i}",
                    "caller": "x" * 100,
                }
                for i in range(40)
            ]
        )
        assert len(big) > 4096
        status, body, _ = await post(session, f"{base}/events", big)
        assert status == 413 and "4096" in body["error"]

        async def chunks():  # no Content-Length: the limit holds on the bytes read
            for k in range(0, len(big), 512):
                yield big[k : k + 512].encode()

        async with session.post(
            f"{base}/events",
            data=chunks(),
            headers={"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"},
        ) as r:
            assert r.status == 413
        status, body, _ = await post(session, f"{base}/events", events[:11])
        assert status == 413 and "at most 10" in body["error"]
        assert feed._q.qsize() == 0 and ing.events_applied == 0
        assert (await post(session, f"{base}/events", events[:10]))[0] == 202


async def test_a_flood_is_refused_at_the_door_and_never_reaches_redis(redis_client, prefix, tokens):
    sources = {"edge": {"token_env": "WB_TEST_HTTP_EDGE", "rate_per_s": 0.001, "burst": 25}}
    async with running(redis_client, prefix, sources=sources, max_events=5) as (ing, feed, base, session):
        joins = [
            {"type": "caller_joined", "id": f"j{i}", "ts": at(i).isoformat(), "queue": "support", "call_id": f"c{i}"}
            for i in range(60)
        ]
        results = await asyncio.gather(
            *(post(session, f"{base}/events/edge", joins[k : k + 2]) for k in range(0, 60, 2))
        )
        accepted = [k for k, (status, _, _) in enumerate(results) if status == 202]
        refused = [(status, headers) for status, _, headers in results if status != 202]
        assert len(accepted) == 12  # 25 tokens, 2 a POST; the 13th wants 2 and finds 1
        assert {s for s, _ in refused} == {429}
        assert all(int(h["Retry-After"]) >= 1 for _, h in refused)
        await until(lambda: ing.events_applied == 24)
        assert feed._q.qsize() == 0
        snap = await snapshot(redis_client, prefix)
        assert snap.queues["support"].entered == 24 == ing.events_applied  # the excess never reached Redis
        assert await redis_client.get(Keys(prefix).dlcount) is None


# ---- bad input -------------------------------------------------------------------------------------------


async def test_bad_items_go_to_the_dead_letters_with_their_reason_and_the_feed_goes_on(redis_client, prefix, tokens):
    t = at(100).isoformat()
    batch = [
        {"type": "caller_joined", "id": "ok1", "ts": t, "queue": "support", "call_id": "good"},
        {"type": "caller_joined", "id": "nocall", "ts": t, "queue": "support"},  # a missing field
        {"type": "caller_teleported", "id": "u1", "ts": t, "queue": "support", "call_id": "x"},  # unknown type
        {"type": "caller_answered", "id": "a9", "ts": t, "queue": "support", "call_id": "never"},  # never opened:
        # passed on (the feed cannot tell it from a conversation opened before its start), refused by the engine
        {"type": "caller_answered", "id": "a10", "ts": t, "queue": "support", "call_id": "late", "wait_s": 12},
        "not an object",
        {"type": "caller_joined", "id": "old", "ts": "1969-07-20T20:17:00Z", "queue": "support", "call_id": "o"},
        {"type": "caller_joined", "id": "nozone", "ts": "2026-11-23T09:00:00", "queue": "support", "call_id": "z"},
        {"type": "caller_joined", "id": "x", "ts": t, "queue": "sup{port}", "call_id": "b"},
        {"type": "caller_answered", "id": "ok2", "ts": at(110).isoformat(), "queue": "support", "call_id": "good"},
    ]
    async with running(redis_client, prefix) as (ing, feed, base, session):
        status, answer, _ = await post(session, f"{base}/events/edge", batch)
        assert status == 202
        # the join, the answer of a call opened here, an exit that gives its wait, one never opened
        assert answer["accepted"] == 4
        reasons = {r["index"]: r["reason"] for r in answer["rejected"]}
        assert sorted(reasons) == [1, 2, 5, 6, 7, 8]
        assert "call_id" in reasons[1] and "required" in reasons[1].lower()
        assert "caller_teleported" in reasons[2]
        assert "object" in reasons[5]
        assert "1990" in reasons[6]
        assert "timezone" in reasons[7].lower()
        assert "hash tag" in reasons[8]

        status, body, _ = await post(session, f"{base}/events/edge", b'[{"type": "caller_joined", "id": ')
        assert status == 400 and "malformed JSON" in body["error"]
        status, body, _ = await post(session, f"{base}/events/edge", b"[" * 100_000 + b"]" * 100_000)
        assert status in (400, 413)
        status, body, _ = await post(session, f"{base}/events/edge", batch[0], ctype="text/plain")
        assert status == 415
        status, body, _ = await post(session, f"{base}/events/edge", b"42")
        assert status == 400 and "object or an array" in body["error"]

        # the feed goes on
        status, answer, _ = await post(session, f"{base}/events/edge", {**batch[0], "id": "ok3", "call_id": "after"})
        assert status == 202 and answer["accepted"] == 1
        await until(lambda: ing.events_applied == 5)
        await until(lambda: feed._q.qsize() == 0)

        async def all_dead():
            got = await dead_letters(redis_client, prefix)
            return got if len(got) >= 10 else None

        # the dead letters of the last batch are written just after its events
        dead = await until(all_dead, "the ten dead letters")
        by_source = {}
        for d in dead:
            by_source.setdefault(d["source"], []).append(d["reason"])
        (never,) = by_source["engine:http:edge"]
        assert "conversation 'never' in queue 'support' was never opened" in never and "no wait_s" in never
        assert any("malformed JSON" in r for r in by_source["http:edge:body"])
        assert len(dead) == 7 + 3  # six items and the engine's, the broken JSON, the nesting, the 42
        snap = await snapshot(redis_client, prefix)
        assert snap.queues["support"].entered == 3 and snap.queues["support"].answered == 2

        # the same bad POST again: the dead letters are not listed twice
        await post(session, f"{base}/events/edge", batch)
        await until(lambda: ing.events_applied == 9)
        await until(lambda: feed._q.qsize() == 0)
        assert len(await dead_letters(redis_client, prefix)) == 10


async def test_channels_over_http_unknown_or_foreign_ones_are_dead_letters(redis_client, prefix, tokens):
    """Our events with a ``channel``: a chat in the chat queue counts (and opens the agent's conversation); an
    unknown channel, or a chat sent to a voice queue, is a dead letter naming the field and why."""
    t = at(100).isoformat()
    chat = {"queue": "chat", "channel": "chat"}
    batch = [
        {"type": "caller_joined", "id": "cj", "ts": t, "call_id": "k1", **chat},
        {"type": "caller_joined", "id": "fx", "ts": t, "call_id": "k2", "queue": "chat", "channel": "fax"},
        {"type": "caller_joined", "id": "vs", "ts": t, "call_id": "k3", "queue": "support", "channel": "chat"},
        {"type": "caller_answered", "id": "ca", "ts": at(130).isoformat(), "call_id": "k1", "agent": "7", **chat},
    ]
    async with running(redis_client, prefix) as (ing, feed, base, session):
        status, answer, _ = await post(session, f"{base}/events/edge", batch)
        assert status == 202 and answer["accepted"] == 2
        reasons = {r["index"]: r["reason"] for r in answer["rejected"]}
        assert sorted(reasons) == [1, 2]
        assert reasons[1].startswith("caller_joined.channel:") and "'chat'" in reasons[1]
        assert "queue 'support' is a voice queue" in reasons[2]
        await until(lambda: ing.events_applied == 2)
        snap = await snapshot(redis_client, prefix)
        q = snap.queues["chat"]
        assert (q.channel, q.entered, q.answered, q.answered_within_sl) == ("chat", 1, 1, 1)  # 30 s < 60 s
        assert snap.agents["7"].conversations == {"chat": 1}
        dead = {d["source"]: d["reason"] for d in await dead_letters(redis_client, prefix)}
        assert dead.get("http:edge:1") == reasons[1] and dead.get("http:edge:2") == reasons[2]


# ---- a chat platform's webhook, mapped -------------------------------------------------------------------


def chat_day(n, seed=3):
    """Webhook deliveries for n chats (as feeds/mappings/chat_webhook.toml reads them) and the counts they
    should make, from the list itself."""
    rnd = random.Random(seed)
    out, want = [], {"entered": 0, "answered": 0, "abandoned": 0, "overflowed": 0, "completed": 0, "talk_s": 0}

    def iso(s):
        return (at(s)).isoformat().replace("+00:00", "Z")

    for i in range(n):
        t0, conv = 30.0 + i * 11, {"id": f"conv{i}", "queue": rnd.choice(["web-chat", None])}
        started = iso(t0)
        d = 0

        def ev(kind, t, agent=None, accepted=None):
            nonlocal d
            d += 1
            return {
                "id": f"d{i}-{d}",
                "type": kind,
                "created_at": iso(t),
                "conversation": {**conv, "started_at": started, "accepted_at": accepted},
                "agent": {"id": agent} if agent else None,
                "customer": {"id": f"v{i}"},
            }

        out.append(ev("conversation.started", t0))
        want["entered"] += 1
        out.append(ev("message.created", t0 + 1))
        fate = rnd.choice(["served", "served", "left", "closed_unanswered"])
        if fate == "served":
            wait, handle = rnd.randint(2, 120), rnd.randint(60, 900)
            acc = iso(t0 + wait)
            if rnd.random() < 0.5:  # acceptance, then the first reply: one answer
                out.append(ev("conversation.accepted", t0 + wait, "a7", acc))
                out.append(ev("message.agent_first_reply", t0 + wait + 5, "a7", acc))
            else:
                out.append(ev("message.agent_first_reply", t0 + wait, "a7", acc))
            out.append(ev("conversation.closed", t0 + wait + handle, "a7", acc))
            want["answered"] += 1
            want["completed"] += 1
            want["talk_s"] += handle
        elif fate == "left":
            out.append(ev("conversation.customer_left", t0 + rnd.randint(5, 200)))
            out.append(ev("conversation.closed", t0 + 300))  # closed with no agent: the same abandon
            want["abandoned"] += 1
        else:
            out.append(ev("conversation.closed", t0 + rnd.randint(5, 200)))
            want["abandoned"] += 1
    return out, want


async def test_a_chat_webhook_through_its_mapping_counts_as_an_independent_count(redis_client, prefix, tokens):
    deliveries, want = chat_day(200)
    async with running(redis_client, prefix) as (ing, feed, base, session):
        accepted = ignored = 0
        for k in range(0, len(deliveries), 50):
            status, answer, _ = await post(session, f"{base}/events/chat", deliveries[k : k + 50], token=CHAT_TOKEN)
            assert status == 202 and answer["rejected"] == [], answer["rejected"][:3]
            accepted, ignored = accepted + answer["accepted"], ignored + answer["ignored"]
        assert ignored == 200  # message.created
        # a platform retries a delivery it got no answer for
        status, answer, _ = await post(session, f"{base}/events/chat", deliveries[:50], token=CHAT_TOKEN)
        assert answer["duplicates"] == answer["accepted"]
        await until(lambda: ing.events_applied == accepted + answer["accepted"])
        q = (await snapshot(redis_client, prefix)).queues["chat"]
        assert counts(q) == want

        bad = [
            {
                "id": "b1",
                "type": "conversation.snoozed",
                "created_at": "2026-11-23T09:00:00Z",
                "conversation": {"id": "z"},
            },
            {
                "id": "b2",
                "type": "conversation.closed",
                "created_at": "2026-11-23T09:00:00Z",
                "conversation": {"id": "z9", "started_at": "2026-11-23T08:59:00Z"},
                "agent": {"id": "a7"},
            },
            {
                "id": "b3",
                "type": "conversation.accepted",
                "created_at": "yesterday",
                "conversation": {"id": "z"},
                "agent": {"id": "a7"},
            },
        ]
        status, answer, _ = await post(session, f"{base}/events/chat", bad, token=CHAT_TOKEN)
        reasons = [r["reason"] for r in answer["rejected"]]
        assert "unknown event 'conversation.snoozed'" in reasons[0]
        assert "no answer time" in reasons[1]
        assert "not a time" in reasons[2]


def test_the_shipped_mapping_loads_and_a_missing_token_is_named_not_shown(monkeypatch, prefix):
    m = load_webhook_mapping("chat_webhook")
    assert m.events["conversation.started"] == "joined" and m.fields.conversation_id == "conversation.id"
    monkeypatch.delenv("WB_TEST_HTTP_EDGE", raising=False)
    monkeypatch.setenv("WB_TEST_HTTP_CHAT", CHAT_TOKEN)
    with pytest.raises(ValueError, match="WB_TEST_HTTP_EDGE"):
        HttpFeed(None, _config(prefix))
    monkeypatch.setenv("WB_TEST_HTTP_EDGE", "short")
    with pytest.raises(ValueError, match="shorter") as e:
        HttpFeed(None, _config(prefix))
    assert "short" not in str(e.value).replace("shorter", "")
    monkeypatch.setenv("WB_TEST_HTTP_EDGE", CHAT_TOKEN)
    with pytest.raises(ValueError, match="share a token"):
        HttpFeed(None, _config(prefix))
    monkeypatch.setenv("WB_TEST_HTTP_EDGE", TOKEN)
    with pytest.raises(ValueError, match="burst"):
        HttpFeed(None, _config(prefix, max_events=5000))


def test_the_committed_event_schema_is_current():
    committed = (ROOT / "docs" / "events.schema.json").read_text(encoding="utf-8")
    assert committed == events_schema_json(), "stale: run `python -m feeds.http schema`"
    schema = json.loads(committed)
    assert "caller_joined" in json.dumps(schema["anyOf"][0]) and schema["anyOf"][1]["type"] == "array"


# ---- the command ------------------------------------------------------------------------------------------


def test_wallboard_ingest_feed_http_serves_and_stops(namespace, tmp_path):
    port = free_port()
    token_file = tmp_path / "edge.token"
    token_file.write_text(TOKEN + "\n")
    cfg = tmp_path / "wb.toml"
    cfg.write_text(f'[feeds.http.sources.edge]\ntoken_file = "{token_file}"\n')
    env = {**os.environ, "REDIS_URL": redis_url()}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "wallboard.cli",
            "ingest",
            "--feed",
            "http",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--config",
            str(cfg),
            "--prefix",
            namespace,
        ],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:

        def healthy() -> bool:
            assert proc.poll() is None, proc.stderr.read().decode()  # it stopped: say why at once
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1) as r:
                return r.status == 200

        wait_until(
            healthy,
            "the ingester's /healthz",
            timeout=15,
            every=0.05,
            ignoring=(urllib.error.URLError, ConnectionError),
        )
        ts = (datetime.now(timezone.utc) - timedelta(minutes=1)).isoformat()
        body = json.dumps({"type": "caller_joined", "id": "j1", "ts": ts, "queue": "support", "call_id": "c1"}).encode()
        req = urllib.request.Request(
            f"http://127.0.0.1:{port}/events",
            data=body,
            method="POST",
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {TOKEN}"},
        )
        with urllib.request.urlopen(req, timeout=5) as r:
            assert r.status == 202 and json.loads(r.read())["accepted"] == 1
        import redis

        client = redis.Redis.from_url(redis_url(), decode_responses=True)
        keys = Keys(namespace)
        # the engine registers a queue as it applies
        wait_until(lambda: client.sismember(keys.queues, "support"), "the queue registered", timeout=10)
        client.close()
    finally:
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=15)
    assert proc.returncode == 0, err.decode()
    assert TOKEN not in err.decode() + out.decode()


async def test_a_dead_letter_is_redriven_once_the_mapping_knows_its_event(redis_client, prefix, tokens, tmp_path):
    from wallboard.commands.deadletter import redrive

    shipped = (ROOT / "feeds" / "mappings" / "chat_webhook.toml").read_text(encoding="utf-8")
    mapping = tmp_path / "mychat.toml"
    mapping.write_text(shipped)
    sources = {"chat": {"token_env": "WB_TEST_HTTP_CHAT", "mapping": str(mapping)}}
    config = _config(prefix, sources=sources)
    delivery = {
        "id": "r1",
        "type": "conversation.queued",
        "created_at": "2026-11-23T09:00:00Z",
        "conversation": {"id": "q1", "queue": "web-chat"},
    }
    async with running(redis_client, prefix, sources=sources) as (ing, feed, base, session):
        status, answer, _ = await post(session, f"{base}/events/chat", [delivery], token=CHAT_TOKEN)
        assert "unknown event 'conversation.queued'" in answer["rejected"][0]["reason"]
        # handed over, then written by the ingester
        await until(lambda: redis_client.xlen(Keys(prefix).deadletter), "the dead letter written")
        res = await redrive(redis_client, config, feed="http")
        assert (res.redriven, res.still_rejected) == (0, 1)  # the mapping still does not know it
        mapping.write_text(
            shipped.replace(
                '"conversation.started" = "joined"',
                '"conversation.started" = "joined"\n"conversation.queued" = "joined"',
            )
        )
        res = await redrive(redis_client, config, feed="http")
        assert (res.redriven, res.still_rejected) == (1, 0), res
        assert await redis_client.xlen(Keys(prefix).deadletter) == 0
        assert (await snapshot(redis_client, prefix)).queues["chat"].entered == 1


async def test_a_pipe_or_control_character_in_an_id_is_a_dead_letter_at_the_door(redis_client, prefix, tokens):
    """A call id goes back to the PBX in a supervisor's audit row (queue_log, '|'-separated, written as given):
    an agent_state whose call_id carries '|' would forge a row's fields, so it is refused here with its reason,
    as is a '|' or control character in a queue or agent; real Asterisk and FreeSWITCH ids pass."""
    t = at(100).isoformat()
    forged = "1795424400|x|support|PJSIP/1001|ABANDON|1|1|30"
    batch = [
        {"type": "agent_state", "id": "s1", "ts": t, "agent": "1001", "state": "on_call", "call_id": forged},
        {"type": "agent_state", "id": "s2", "ts": t, "agent": "10|01", "state": "available"},
        {"type": "caller_joined", "id": "j1", "ts": t, "queue": "sup|port", "call_id": "c1"},
        {"type": "caller_joined", "id": "j2", "ts": t, "queue": "support", "call_id": "c2\r\nx"},
        {"type": "caller_joined", "id": "j3", "ts": t, "queue": "support", "call_id": "c" * 257},
        {"type": "caller_joined", "id": "ok1", "ts": t, "queue": "support", "call_id": "1796603886.393"},
        {
            "type": "caller_joined",
            "id": "ok2",
            "ts": t,
            "queue": "support",
            "call_id": "3f1c2a8e-9b4d-4e7f-a1c2-0d9e8f7a6b5c",
        },
        {"type": "agent_state", "id": "ok3", "ts": t, "agent": "1002", "state": "on_call", "call_id": "1796603886.394"},
    ]
    async with running(redis_client, prefix) as (ing, feed, base, session):
        status, answer, _ = await post(session, f"{base}/events/edge", batch)
        assert status == 202 and answer["accepted"] == 3
        reasons = {r["index"]: r["reason"] for r in answer["rejected"]}
        assert sorted(reasons) == [0, 1, 2, 3, 4]
        assert "call_id" in reasons[0] and "'|'" in reasons[0] and "separator" in reasons[0]
        assert "agent" in reasons[1] and "'|'" in reasons[1]
        assert "queue" in reasons[2] and "'|'" in reasons[2]
        assert "call_id" in reasons[3] and "control character" in reasons[3]
        assert "call_id" in reasons[4] and "longer than 256" in reasons[4]
        await until(lambda: ing.events_applied == 3)

        async def five_dead():
            got = await dead_letters(redis_client, prefix)
            return got if len(got) >= 5 else None

        dead = {d["source"]: d["reason"] for d in await until(five_dead, "the five dead letters")}
        assert {dead.get(f"http:edge:{i}") for i in range(5)} == set(reasons.values())
        snap = await snapshot(redis_client, prefix)
        assert snap.agents["1002"].state == "on_call" and "1001" not in snap.agents
        assert snap.queues["support"].entered == 2
