"""The websocket hub (``wallboard serve``) against a real Redis, with real websocket clients.

Access (tokens, origins, oversized and malformed messages, read-only viewers), supervisor requests on the
request stream, the per-layout projection (full state, then updates), the HTTP routes, hubs side by side,
and a stalled client that must not slow the others.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import logging
import os
import socket
import statistics
import time
import urllib.error
import urllib.request
from datetime import datetime, timedelta

import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from wallboard.hub.server import Hub
from wallboard.keys import Keys

from .polling import until
from .tvdata import TOKENS, UNMASKED, breach, four_queues, now_utc, publish, tv_config

VIEWER = TOKENS["TV_TEST_VIEWER_FLOOR"]
RIVKA = TOKENS["TV_TEST_TOKEN_RIVKA"]
MOSHE = TOKENS["TV_TEST_TOKEN_MOSHE"]


@pytest.fixture(autouse=True)
def _tokens(monkeypatch):
    for k, v in TOKENS.items():
        monkeypatch.setenv(k, v)


@contextlib.asynccontextmanager
async def running_hub(config, client, port: int = 0):
    hub = Hub(config, client, port=port)
    await hub.start()
    try:
        yield hub
    finally:
        await hub.stop()


def ws_url(hub: Hub, layout: str | None = "floor", token: str | None = VIEWER) -> str:
    q = []
    if layout is not None:
        q.append(f"layout={layout}")
    if token is not None:
        q.append(f"token={token}")
    return f"ws://127.0.0.1:{hub.port}/ws?{'&'.join(q)}"


async def recv_json(ws, kind: str | None = None, timeout: float = 5) -> dict:
    """The next message (of ``kind``, skipping heartbeats and others)."""
    while True:
        msg = json.loads(await asyncio.wait_for(ws.recv(), timeout))
        assert {"type", "at"} <= set(msg)  # every message: a type and the server time
        datetime.fromisoformat(msg["at"].replace("Z", "+00:00"))
        if kind is None or msg["type"] == kind:
            return msg


async def closed_with(ws, timeout: float = 5) -> tuple[int, str]:
    with pytest.raises(ConnectionClosed) as info:
        while True:
            await asyncio.wait_for(ws.recv(), timeout)
    rcvd = info.value.rcvd
    return rcvd.code, rcvd.reason


async def http_get(url: str) -> tuple[int, dict, bytes]:
    def get():
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                return r.status, dict(r.headers), r.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()

    return await asyncio.to_thread(get)


# ---- projection -----------------------------------------------------------------------------------------


async def test_full_state_on_connect_then_updates_per_layout(redis_client, prefix, cleanup):
    config = tv_config(prefix)
    t0 = now_utc()
    await publish(redis_client, prefix, four_queues(1, t0, **breach("service_level", t0)))
    async with running_hub(config, redis_client) as hub:
        async with connect(ws_url(hub)) as floor, connect(ws_url(hub, "floor-he", TOKENS["TV_TEST_VIEWER_HE"])) as he:
            state = await recv_json(floor)
            assert state["type"] == "state" and state["role"] == "viewer" and state["user"] is None
            assert state["snapshot"]["seq"] == 1
            assert [f["key"] for f in state["layout"]["figures"]] == [
                "waiting",
                "longest_wait_s",
                "service_level",
                "agents_available",
            ]
            support = state["queues"][0]
            assert [q["name"] for q in state["queues"]] == ["support", "tech", "billing", "sales"]
            assert support["level"] == "breach" and support["figures"][2]["alert"]["level"] == "breach"
            assert support["figures"][2]["value"] == 0.62 and support["figures"][2]["window_min"] == 30
            assert support["figures"][1]["since"]  # the oldest caller's entry: the page ticks from it
            he_state = await recv_json(he)
            assert he_state["layout"]["dir"] == "rtl" and he_state["layout"]["figures"][0]["label"] == "ממתינים"
            assert [q["label"] for q in he_state["queues"]] == ["שירות לקוחות", "תמיכה טכנית"]

            await publish(redis_client, prefix, four_queues(2, now_utc()))
            update = await recv_json(floor, "update")
            assert update["snapshot"]["seq"] == 2 and update["queues"][0]["level"] == "ok"
            assert len((await recv_json(he, "update"))["queues"]) == 2
            beat = await recv_json(floor, "heartbeat")
            assert beat["snapshot_at"] == update["snapshot"]["at"]

            await redis_client.set(f"{Keys(prefix).centre}:ticker", "Fire drill at 11:00")
            assert (await recv_json(floor, "ticker"))["text"] == "Fire drill at 11:00"
            for msg in (state, he_state, update):
                assert UNMASKED not in json.dumps(msg, ensure_ascii=False)  # caller numbers never go out


async def test_hubs_side_by_side(redis_client, prefix, cleanup):
    config = tv_config(prefix)
    await publish(redis_client, prefix, four_queues(1, now_utc()))
    async with running_hub(config, redis_client) as a, running_hub(config, redis_client) as b:
        async with connect(ws_url(a)) as wa, connect(ws_url(b)) as wb:
            assert (await recv_json(wa))["snapshot"]["seq"] == (await recv_json(wb))["snapshot"]["seq"] == 1
            await publish(redis_client, prefix, four_queues(2, now_utc()))
            ua, ub = await recv_json(wa, "update"), await recv_json(wb, "update")
            assert ua["queues"] == ub["queues"] and ua["snapshot"]["seq"] == ub["snapshot"]["seq"] == 2


# ---- access ---------------------------------------------------------------------------------------------


async def test_refusals_are_clear_logged_and_the_hub_carries_on(redis_client, prefix, cleanup, caplog):
    config = tv_config(prefix, hub={"allowed_origins": ["https://tv.example"]})
    await publish(redis_client, prefix, four_queues(1, now_utc()))
    caplog.set_level(logging.WARNING, logger="wallboard.hub")
    async with running_hub(config, redis_client) as hub:
        cases = [
            (ws_url(hub, token=None), {}, 1008, "missing token"),
            (ws_url(hub, token="guess"), {}, 1008, "invalid token for layout 'floor'"),
            (ws_url(hub, token=TOKENS["TV_TEST_VIEWER_HE"]), {}, 1008, "invalid token for layout 'floor'"),
            (ws_url(hub, layout="lobby"), {}, 1008, "unknown layout 'lobby'"),
            (ws_url(hub), {"origin": "http://evil.example"}, 1008, "origin not allowed: http://evil.example"),
        ]
        for url, kw, code, reason in cases:
            async with connect(url, **kw) as ws:
                got = await closed_with(ws)
                assert got[0] == code and got[1].startswith(reason), (url, got)
        # the hub's own page and the allow-list may connect
        for origin in (f"http://127.0.0.1:{hub.port}", "https://tv.example"):
            async with connect(ws_url(hub), origin=origin) as ws:
                assert (await recv_json(ws))["type"] == "state"

        # a viewer can change nothing: whatever it sends, it is disconnected
        async with connect(ws_url(hub)) as ws:
            await recv_json(ws, "state")
            await ws.send(json.dumps({"type": "ack", "queue": "support", "metric": "service_level"}))
            assert await closed_with(ws) == (1008, "read-only: a viewer token cannot send messages")
        # malformed or oversized, even from a supervisor
        bad = [
            ("{not json", 1007, "malformed message: not JSON"),
            (json.dumps(["ack"]), 1007, "malformed message: a message is a JSON object with a 'type'"),
            (json.dumps({"type": "listen", "agent": "1001"}), 1007, "malformed message: "),
            (
                json.dumps({"type": "ack", "queue": "support", "metric": "service_level", "x": 1}),
                1007,
                "malformed message: ack.x: Extra inputs are not permitted",
            ),
            (json.dumps({"type": "ack", "queue": "support", "metric": "mood"}), 1007, "malformed message: ack.metric"),
        ]
        for raw, code, reason in bad:
            async with connect(ws_url(hub, token=RIVKA)) as ws:
                await recv_json(ws, "state")
                await ws.send(raw)
                got = await closed_with(ws)
                assert got[0] == code and got[1].startswith(reason), (raw, got)
        async with connect(ws_url(hub, token=RIVKA)) as ws:
            await recv_json(ws, "state")
            await ws.send("x" * (config.hub.max_message_bytes + 1))
            assert (await closed_with(ws))[0] == 1009  # message too big
        await until(lambda: sum(hub.stats.refused.values()) >= 12, "every refusal counted")

        # nothing reached the request stream; every refusal is counted and logged; the hub carries on
        assert await redis_client.xlen(Keys(prefix).requests) == 0
        refused = hub.stats.refused
        assert refused["token"] == 3 and refused["layout"] == 1 and refused["origin"] == 1
        assert refused["read-only"] == 1 and refused["malformed"] == 5 and refused["oversized"] == 1
        logged = [r.getMessage() for r in caplog.records]
        assert sum("refused" in m for m in logged) >= 12
        assert not any(v in m for m in logged for v in (VIEWER, RIVKA))  # tokens are never logged
        async with connect(ws_url(hub)) as ws:
            await recv_json(ws, "state")
            await publish(redis_client, prefix, four_queues(2, now_utc()))
            assert (await recv_json(ws, "update"))["snapshot"]["seq"] == 2
        status, _, body = await http_get(f"http://127.0.0.1:{hub.port}/metrics")
        assert status == 200 and 'wallboard_hub_refused_total{reason="malformed"} 5' in body.decode()


async def test_supervisor_ack_and_snooze_land_on_the_request_stream(redis_client, prefix, cleanup):
    config = tv_config(prefix)
    t0 = now_utc()
    await publish(redis_client, prefix, four_queues(1, t0, **breach("service_level", t0)))
    keys = Keys(prefix)
    async with running_hub(config, redis_client) as hub:
        async with connect(ws_url(hub, token=RIVKA)) as ws:
            state = await recv_json(ws, "state")
            assert state["role"] == "supervisor" and state["user"] == "rivka"
            await ws.send(json.dumps({"type": "ack", "queue": "support", "metric": "service_level"}))
            acc = await recv_json(ws, "accepted")
            await ws.send(json.dumps({"type": "snooze", "queue": "support", "metric": "service_level", "minutes": 5}))
            acc2 = await recv_json(ws, "accepted")
            assert "token" not in acc["request"]
        entries = await redis_client.xrange(keys.requests)
        assert [rid for rid, _ in entries] == [acc["id"], acc2["id"]]
        ack, snooze = entries[0][1], entries[1][1]
        assert {k: ack[k] for k in ("type", "queue", "metric", "user")} == {
            "type": "ack",
            "queue": "support",
            "metric": "service_level",
            "user": "rivka",
        }
        # signed with the user's token, which itself never lands on the stream; the executor checks the proof
        assert ack["cred"] == "rivka.static" and len(ack["proof"]) > 20 and "until" not in ack
        assert "token" not in ack and not any(RIVKA in v for e in (ack, snooze) for v in e.values())
        at = datetime.fromisoformat(snooze["at"].replace("Z", "+00:00"))
        until = datetime.fromisoformat(snooze["until"].replace("Z", "+00:00"))
        assert snooze["type"] == "snooze" and snooze["user"] == "rivka" and until - at == timedelta(minutes=5)
        assert abs((at - now_utc()).total_seconds()) < 5

        # a team lead's role allows ack on billing only: the rest is refused (and not sent)
        async with connect(ws_url(hub, token=MOSHE)) as ws:
            await recv_json(ws, "state")
            await ws.send(json.dumps({"type": "ack", "queue": "support", "metric": "service_level"}))
            assert (await recv_json(ws, "refused"))["reason"] == "moshe may not ack on support"
            await ws.send(json.dumps({"type": "snooze", "queue": "billing", "metric": "waiting"}))
            assert (await recv_json(ws, "refused"))["reason"] == "moshe may not snooze on billing"
            await ws.send(json.dumps({"type": "ack", "queue": "billing", "metric": "waiting"}))
            assert (await recv_json(ws, "accepted"))["request"]["user"] == "moshe"
        assert await redis_client.xlen(keys.requests) == 3
        assert hub.stats.requests_sent == 3 and hub.stats.refused["permission"] == 2


async def test_signed_supervisor_tokens(redis_client, prefix, cleanup, monkeypatch):
    """A token from `wallboard token` is a supervisor's too (the hub checks it as the executor does)."""
    from wallboard.actions.auth import issue

    monkeypatch.setenv("WALLBOARD_TOKEN_SECRET", "test-secret-for-the-hub")
    config = tv_config(prefix)
    await publish(redis_client, prefix, four_queues(1, now_utc()))
    good = issue(config, "rivka", ttl_s=600)
    expired = issue(config, "rivka", ttl_s=600, now=time.time() - 3600)
    forged = good[:-4] + ("AAAA" if not good.endswith("AAAA") else "BBBB")
    async with running_hub(config, redis_client) as hub:
        async with connect(ws_url(hub, token=good)) as ws:
            state = await recv_json(ws, "state")
            assert state["role"] == "supervisor" and state["user"] == "rivka"
        for bad in (expired, forged, issue(config, "nobody", ttl_s=600)):
            async with connect(ws_url(hub, token=bad)) as ws:
                assert await closed_with(ws) == (1008, "invalid token for layout 'floor'")


# ---- HTTP ------------------------------------------------------------------------------------------------


async def test_page_healthz_and_metrics_on_the_same_port(redis_client, prefix, cleanup):
    config = tv_config(prefix)
    t0 = now_utc()
    await publish(redis_client, prefix, four_queues(7, t0))
    async with running_hub(config, redis_client) as hub:
        base = f"http://127.0.0.1:{hub.port}"
        status, headers, body = await http_get(base + "/?layout=floor&token=x")
        assert status == 200 and headers["Content-Type"].startswith("text/html") and b"tv.js" in body
        assert "default-src 'self'" in headers["Content-Security-Policy"]
        for path, kind in (("/tv.js", "text/javascript"), ("/tv.css", "text/css")):
            status, headers, _ = await http_get(base + path)
            assert status == 200 and headers["Content-Type"].startswith(kind)
        assert (await http_get(base + "/secrets"))[0] == 404
        status, _, body = await http_get(base + "/healthz")
        health = json.loads(body)
        assert status == 200 and health["status"] == "ok" and health["snapshot_seq"] == 7
        async with connect(ws_url(hub)) as ws:
            await recv_json(ws, "state")
            _, headers, body = await http_get(base + "/metrics")
            text = body.decode()
            assert headers["Content-Type"].startswith("text/plain; version=0.0.4")
            assert 'wallboard_hub_clients{layout="floor",role="viewer"} 1' in text
            for name in (
                "wallboard_hub_messages_sent_total",
                "wallboard_hub_messages_dropped_total",
                "wallboard_hub_clients_dropped_total",
                "wallboard_hub_ingest_lag_seconds",
            ):
                assert f"\n{name} " in text
            lag = float(text.split("\nwallboard_hub_ingest_lag_seconds ")[1].split()[0])
            assert 0 <= lag < 5


# ---- a stalled screen ---------------------------------------------------------------------------------------


async def stalled_client(port: int, path: str) -> socket.socket:
    """A screen that completes the handshake and then never reads: its receive buffer fills and stays full."""
    loop = asyncio.get_running_loop()
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    await loop.sock_connect(sock, ("127.0.0.1", port))
    key = base64.b64encode(os.urandom(16)).decode()
    await loop.sock_sendall(
        sock,
        (
            f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\n"
            "Sec-WebSocket-Version: 13\r\n\r\n"
        ).encode(),
    )
    head = b""
    while b"\r\n\r\n" not in head:
        head += await loop.sock_recv(sock, 1)  # byte by byte: read the handshake and nothing after it
    assert head.startswith(b"HTTP/1.1 101")
    return sock


async def test_a_stalled_client_does_not_slow_the_others(redis_client, prefix, cleanup):
    config = tv_config(
        prefix, hub={"write_buffer_bytes": 4096, "client_buffer": 4, "slow_client_s": 5, "heartbeat_s": 30}
    )
    await publish(redis_client, prefix, four_queues(1, now_utc()))
    async with running_hub(config, redis_client) as hub:
        stalled = await stalled_client(hub.port, f"/ws?layout=floor&token={VIEWER}")
        received: dict[int, dict[int, float]] = {i: {} for i in range(5)}

        async def screen(i: int, ws) -> None:
            async for raw in ws:
                msg = json.loads(raw)
                if msg["type"] in ("state", "update"):
                    received[i][msg["snapshot"]["seq"]] = time.monotonic()

        async with contextlib.AsyncExitStack() as stack:
            sockets = [await stack.enter_async_context(connect(ws_url(hub))) for _ in range(5)]
            tasks = [asyncio.create_task(screen(i, ws)) for i, ws in enumerate(sockets)]
            await until(lambda: len(hub.fanout.clients()) == 6, "the six screens registered")
            sent: dict[int, float] = {}
            for seq in range(2, 62):  # 60 summaries at 40 Hz, each ~2.6 KB to each screen
                sent[seq] = time.monotonic()
                await publish(redis_client, prefix, four_queues(seq, now_utc()))
                await asyncio.sleep(0.025)
            await until(
                lambda: all(61 in received[i] for i in range(5)) and sum(hub.stats.clients_dropped.values()),
                "the last update on every healthy screen, the stalled one dropped",
            )
            for t in tasks:
                t.cancel()
        stalled.close()
        delays = [received[i][seq] - sent[seq] for i in range(5) for seq in sent]
        assert all(set(sent) <= set(received[i]) for i in range(5))  # every healthy screen got every update
        assert statistics.median(delays) < 0.1 and max(delays) < 1.0, (statistics.median(delays), max(delays))
        assert sum(hub.stats.clients_dropped.values()) == 1  # the stalled one, and only it
        assert hub.stats.messages_dropped >= 1  # it got the newest only, while it was behind
        # the healthy screens have closed: nobody is left registered
        await until(lambda: not hub.fanout.clients(), "every screen unregistered", timeout=2)


# ---- when snapshots stop: /healthz degraded, the age in /metrics (issue 17, item 7) -------------------------


async def test_healthz_degrades_and_metrics_age_grows_when_snapshots_stop(redis_client, prefix, cleanup):
    from wallboard.clock import ManualClock

    config = tv_config(prefix)  # display.stale_after_s = 2
    t0 = now_utc().replace(microsecond=0)
    clock = ManualClock(t0)
    await publish(redis_client, prefix, four_queues(3, t0))
    hub = Hub(config, redis_client, port=0, clock=clock)
    await hub.start()
    try:
        base = f"http://127.0.0.1:{hub.port}"

        async def health() -> tuple[int, dict]:
            status, _, body = await http_get(base + "/healthz")
            return status, json.loads(body)

        async def age() -> float:
            text = (await http_get(base + "/metrics"))[2].decode()
            return float(text.split("\nwallboard_hub_snapshot_age_seconds ")[1].split()[0])

        status, body = await health()
        assert status == 200 and body["status"] == "ok" and body["snapshot_age_s"] == 0.0
        assert await age() == 0.0
        clock.advance(1.5)  # younger than stale_after_s: still healthy, the age moves with the clock
        assert (await health())[0] == 200 and await age() == 1.5
        clock.advance(38.5)  # no snapshot for 40 s: degraded, with the age, and the gauge says 40
        status, body = await health()
        assert status == 503 and body["snapshot_age_s"] == 40.0 and body["snapshot_seq"] == 3
        assert body["status"] == "stale: no snapshot for 40 s (is ingest running?)"
        assert await age() == 40.0
        # a snapshot comes: healthy again at once
        await publish(redis_client, prefix, four_queues(4, clock.now()))

        async def healthy():
            return (await health())[0] == 200

        await until(healthy, "/healthz healthy again", timeout=5)
        assert await age() == 0.0
    finally:
        await hub.stop()


async def test_bare_root_names_the_layouts(redis_client, prefix, cleanup):
    config = tv_config(prefix)
    async with running_hub(config, redis_client) as hub:
        async with connect(ws_url(hub, layout=None)) as ws:
            code, reason = await closed_with(ws)
    assert code == 1008
    assert reason == "no layout in the URL: open /?layout=NAME&token=TOKEN with NAME one of floor, single, floor-he"


def test_serve_prints_kiosk_urls_without_tokens_and_warns_when_unset(capsys):
    from wallboard.commands.serve import print_kiosk_urls

    config = tv_config("unused")
    env = {"TV_TEST_VIEWER_FLOOR": "s3cret-floor"}
    missing = print_kiosk_urls("http://10.0.0.5:8765", config.layouts, env)
    out, err = capsys.readouterr()
    assert missing == ["single", "floor-he"]
    assert "floor: http://10.0.0.5:8765/?layout=floor&token=TOKEN   (TOKEN = $TV_TEST_VIEWER_FLOOR)" in out
    assert "s3cret-floor" not in out + err
    assert "TV_TEST_VIEWER_SINGLE is not set: every TV on layout 'single' will be refused" in err
    assert "TV_TEST_VIEWER_FLOOR is not set" not in err
    # with the token secret at the hub, a layout without a static token is opened by a signed kiosk token
    missing = print_kiosk_urls("http://10.0.0.5:8765", config.layouts, env, signed=True)
    out, err = capsys.readouterr()
    assert missing == ["single", "floor-he"] and "will be refused" not in err
    assert "TV_TEST_VIEWER_SINGLE is not set: TVs on layout 'single' need a signed kiosk token" in err
    assert "`wallboard token --viewer single`" in err


# ---- the snapshot seq restarts (a demo started again, a namespace wiped, a fresh Redis) ---------------------


async def test_a_new_run_with_a_lower_seq_is_followed_and_a_late_old_snapshot_refused(redis_client, prefix, cleanup):
    from wallboard.clock import ManualClock

    from .tvdata import publish_delta, publish_late

    config = tv_config(prefix)  # display.stale_after_s = 2
    t0 = now_utc().replace(microsecond=0)
    clock = ManualClock(t0)
    await publish(redis_client, prefix, four_queues(500, t0 - timedelta(seconds=60)))  # the old run's last
    hub = Hub(config, redis_client, port=0, clock=clock)
    await hub.start()
    try:
        base = f"http://127.0.0.1:{hub.port}"

        async def health() -> tuple[int, dict]:
            status, _, body = await http_get(base + "/healthz")
            return status, json.loads(body)

        status, body = await health()
        assert status == 503 and body["snapshot_seq"] == 500  # the old run stopped a minute ago
        async with connect(ws_url(hub)) as ws:
            assert (await recv_json(ws, "state"))["snapshot"]["seq"] == 500
            # the new run: its seq starts again, its snapshot computed later than the held one
            await publish(redis_client, prefix, four_queues(3, t0, waiting_since_s=(9,)))
            update = await recv_json(ws, "update")
            assert update["snapshot"]["seq"] == 3
            status, body = await health()
            assert status == 200 and body["status"] == "ok" and body["snapshot_seq"] == 3
            # its deltas follow the new seq
            clock.advance(1)
            await publish_delta(
                redis_client, prefix, four_queues(4, clock.now(), waiting_since_s=(10, 1)), changed=("support",)
            )
            update = await recv_json(ws, "update")
            assert update["snapshot"]["seq"] == 4
            assert hub.summary.queues["support"].waiting == 2
            # a full snapshot arriving late (a lower seq and older): refused; the next delta applies on 4
            await publish_late(redis_client, prefix, four_queues(2, t0 - timedelta(seconds=1)))
            clock.advance(1)
            await publish_delta(
                redis_client, prefix, four_queues(5, clock.now(), waiting_since_s=(11,)), changed=("support",)
            )
            update = await recv_json(ws, "update")
            assert update["snapshot"]["seq"] == 5 and hub.summary.queues["support"].waiting == 1
            status, body = await health()
            assert status == 200 and body["snapshot_seq"] == 5
    finally:
        await hub.stop()


async def test_a_full_summary_after_its_delta_brings_the_waits_up_to_date(redis_client, prefix, cleanup):
    """At a full publish the owner sends the delta to it first, then the full summary, both of one seq and time
    (``DeltaPublisher._send``). The delta leaves a queue whose callers did not change with its longest wait as
    last sent (a figure that moves with the clock alone); the full summary brings it up to date. The hub takes
    the full summary though it holds the delta's of the same seq and time: the floor's alert line says the
    longest wait now."""
    from datetime import timedelta

    from .tvdata import publish_full_with_delta

    config = tv_config(prefix)
    t0 = now_utc().replace(microsecond=0)
    waits = breach("longest_wait_s", t0)  # the support queue in breach on its longest wait
    await publish(redis_client, prefix, four_queues(3, t0, **waits))
    async with running_hub(config, redis_client) as hub:
        async with connect(ws_url(hub)) as floor:
            state = await recv_json(floor, "state")
            assert [line for line in state["alerts"] if "longest wait 1:14" in line]  # 74 s
            # 10 s on, nothing changed but the waits (the same three callers): the delta names no queue
            ten = four_queues(4, t0 + timedelta(seconds=10), waiting_since_s=(84, 30, 15), **waits)
            held = four_queues(3, t0, **waits).queues["support"].callers
            assert [c.entered_at for c in ten.queues["support"].callers] == [c.entered_at for c in held]
            await publish_full_with_delta(redis_client, prefix, ten, changed=())
            await until(lambda: hub.summary is not None and hub.summary.seq == 4, "the snapshot of seq 4")
            await until(
                lambda: hub.summary.queues["support"].longest_wait_s == 84.0,
                "the full summary's longest wait",
                timeout=3,
            )
            assert hub.summary == ten
            lines = []
            while not [line for line in lines if "longest wait 1:24" in line]:
                update = await recv_json(floor, "update", timeout=3)
                assert update["snapshot"]["seq"] == 4
                lines = update["alerts"]
