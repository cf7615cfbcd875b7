"""Websocket fan-out of ``wallboard serve``: 1,000 TVs, ~2 KB updates at 4 Hz, 10 % of the TVs stalled.

Three processes: the hub (``wallboard serve``, as deployed), the screens (this script with ``--screens``, in
``--procs`` processes: 900 websocket clients that read everything and 100 raw sockets that complete the
handshake and never read), and
this one, which publishes hand-built summaries on the Redis snapshot channel at 4 Hz (as the engine would)
and samples the hub. Every summary carries its publication time (``at``, with milliseconds); a screen's
delivery delay is its receive time minus that, so it covers Redis, the hub's projection and fan-out, and the
screen's own receive ("in hub" is the part before the hub starts writing: Redis and the projection). Prints, every ``--every`` seconds: screens connected, hub CPU, hub memory (RSS),
p50/p99 delay, updates received, screens dropped. Not a test: nothing is asserted. Usage::

    REDIS_URL=redis://127.0.0.1:6379/0 python bench/ws_fanout.py [--clients 1000] [--stalled 0.1] [--seconds 60]
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import resource
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOKEN = "bench-viewer-token"
QUEUES = ["support", "tech", "billing", "sales", "loans"]  # an update of about 2 KB


def raise_fd_limit() -> None:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


# ---- the publisher (as the engine would) ----------------------------------------------------------------


def summary_json(seq: int, now: datetime) -> str:
    from wallboard.snapshot import (
        AgentCounts,
        Alert,
        Caller,
        QueueSnapshot,
        Rolling,
        Summary,
        Total,
        Window,
    )

    def iso(t: datetime, ms: bool = False) -> str:
        return t.astimezone(timezone.utc).isoformat(timespec="milliseconds" if ms else "seconds").replace("+00:00", "Z")

    queues = {}
    for i, name in enumerate(QUEUES):
        waiting = (seq + i) % 7
        callers = [
            Caller(
                call_id=f"{seq}.{j}",
                entered_at=iso(now - timedelta(seconds=20 * j + i)),
                wait_s=20.0 * j,
                caller="***4567",
            )
            for j in range(waiting)
        ]
        breach = waiting >= 5
        queues[name] = QueueSnapshot(
            label=name.capitalize(),
            sl_formula="excl_short_abandons",
            sl_threshold_s=20,
            short_abandon_s=5,
            count_overflow=False,
            offered=400 + seq,
            answered=380 + seq,
            service_level=0.6 + 0.05 * (i % 6),
            waiting=waiting,
            longest_wait_s=20.0 * max(0, waiting - 1),
            callers=callers,
            agent_counts=AgentCounts(available=i % 4, on_call=6, logged_in=10),
            rolling=Rolling(minutes=30, since=iso(now - timedelta(minutes=30)), service_level=0.7),
            levels={"waiting": "breach" if breach else "ok"},
            alerts={"waiting": Alert(level="breach", since=iso(now))} if breach else {},
        )
    return Summary(
        seq=seq,
        at=iso(now, ms=True),
        centre="Bench centre",
        window=Window(kind="since_reset"),
        queues=queues,
        total=Total(rolling=Rolling(minutes=30, since=iso(now))),
    ).model_dump_json()


async def publish_loop(url: str, prefix: str, hz: float, stop: asyncio.Event) -> None:
    import redis.asyncio as aredis

    from wallboard.keys import Keys

    keys = Keys(prefix)
    r = aredis.Redis.from_url(url, decode_responses=True)
    seq = 0
    next_t = time.monotonic()
    try:
        while not stop.is_set():
            seq += 1
            text = summary_json(seq, datetime.now(timezone.utc))
            pipe = r.pipeline(transaction=False)
            pipe.set(keys.summary, text)
            pipe.publish(keys.channel, text)
            await pipe.execute()
            next_t += 1 / hz
            await asyncio.sleep(max(0.0, next_t - time.monotonic()))
    finally:
        await r.aclose()


# ---- the screens (a separate process) -------------------------------------------------------------------


async def handshake(port: int, path: str, small_buffer: bool = False) -> socket.socket:
    """A websocket opening handshake on a raw socket (a stalled screen also gets a small receive buffer)."""
    loop = asyncio.get_running_loop()
    sock = socket.socket()
    if small_buffer:
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
        head += await loop.sock_recv(sock, 1)  # byte by byte: nothing after the handshake is consumed
    if not head.startswith(b"HTTP/1.1 101"):
        raise RuntimeError(head.decode(errors="replace"))
    return sock


class Screen(asyncio.Protocol):
    """A lean websocket client (server frames are unmasked): records the delays of each ``update`` and answers
    pings. The websockets client library costs ~10x more per message: with hundreds of screens per process
    its own queueing would dominate what is measured."""

    def __init__(self, sink: dict):
        self.buf = bytearray()
        self.sink = sink
        self.transport = None

    def connection_made(self, transport) -> None:
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        now = time.time()
        self.buf += data
        while len(self.buf) >= 2:
            op, n, head = self.buf[0] & 0x0F, self.buf[1] & 0x7F, 2
            if n == 126:
                if len(self.buf) < 4:
                    return
                n, head = int.from_bytes(self.buf[2:4], "big"), 4
            elif n == 127:
                if len(self.buf) < 10:
                    return
                n, head = int.from_bytes(self.buf[2:10], "big"), 10
            if len(self.buf) < head + n:
                return
            payload = bytes(self.buf[head : head + n])
            del self.buf[: head + n]
            if op == 1 and payload.startswith(b'{"type":"update"'):
                hub_at = _epoch(payload, payload.find(b'"at":"') + 6)
                snap_at = _epoch(payload, payload.find(b'"at":"', payload.find(b'"snapshot"')) + 6)
                self.sink["total"].append(now - snap_at)
                self.sink["hub"].append(hub_at - snap_at)
                self.sink["received"] += 1
            elif op == 9:  # ping: a masked pong with the same payload
                mask = os.urandom(4)
                self.transport.write(
                    bytes([0x8A, 0x80 | len(payload)]) + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
                )

    def connection_lost(self, exc) -> None:
        self.sink["closed"] += 1


def _epoch(raw: bytes, i: int) -> float:
    text = raw[i : raw.index(b'"', i)].decode()
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


async def screens_main(port: int, n: int, stalled: int, every: float) -> None:
    raise_fd_limit()
    loop = asyncio.get_running_loop()
    path = f"/ws?layout=bench&token={TOKEN}"
    sink: dict = {"total": [], "hub": [], "received": 0, "closed": 0}
    socks = []
    for i in range(n):
        sock = await handshake(port, path, small_buffer=i < stalled)
        if i < stalled:
            socks.append(sock)  # never read again
        else:
            await loop.create_connection(lambda: Screen(sink), sock=sock)
        if i % 50 == 49:
            await asyncio.sleep(0.05)
    print(json.dumps({"ready": True}), flush=True)
    while os.getppid() != 1:  # until the parent is gone
        await asyncio.sleep(every)
        total, hub = sorted(sink["total"]), sorted(sink["hub"])
        out = {"received": sink["received"], "closed": sink["closed"]}
        if total:
            out.update(
                p50_ms=1000 * total[len(total) // 2],
                p99_ms=1000 * total[int(len(total) * 0.99)],
                max_ms=1000 * total[-1],
                hub_p99_ms=1000 * hub[int(len(hub) * 0.99)],
            )
        sink.update(total=[], hub=[], received=0)
        print(json.dumps(out), flush=True)


# ---- the parent -------------------------------------------------------------------------------------------


def proc_stats(pid: int) -> tuple[float, float]:
    """(CPU seconds used, RSS in MB) of a process, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) / ticks
    rss_kb = next(
        int(line.split()[1])
        for line in Path(f"/proc/{pid}/status").read_text().splitlines()
        if line.startswith("VmRSS:")
    )
    return cpu, rss_kb / 1024


def metric(text: str, name: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + " ") or line.startswith(name + "{"):
            total += float(line.rsplit(" ", 1)[1])
    return total


async def main(args) -> None:
    from wallboard.config import load_config
    from wallboard.projection import project
    from wallboard.snapshot import Summary
    from wallboard.store import resolve_url

    raise_fd_limit()
    url = os.environ.get("REDIS_URL") or resolve_url(load_config(None))
    prefix = f"bench-ws-{uuid.uuid4().hex[:8]}"
    with tempfile.NamedTemporaryFile("w", suffix=".toml", delete=False) as f:
        f.write(
            f'[[layouts]]\nname = "bench"\nqueues = {json.dumps(QUEUES)}\n'
            f'viewer_token_env = "BENCH_VIEWER_TOKEN"\n'
            f"[hub]\nclient_buffer = 16\nslow_client_s = 10\n"
        )
        cfg_path = f.name
    config = load_config(cfg_path)
    sample = Summary.model_validate_json(summary_json(1, datetime.now(timezone.utc)))
    update_bytes = len(
        json.dumps(
            {"type": "update", "at": "2026-01-01T00:00:00.000Z", **project(sample, config.layouts[0], config)},
            separators=(",", ":"),
        )
    )
    port = args.port
    env = {**os.environ, "BENCH_VIEWER_TOKEN": TOKEN}
    profile = ["-m", "cProfile", "-o", args.profile] if args.profile else []
    hub = subprocess.Popen(
        [
            sys.executable,
            *profile,
            "-m",
            "wallboard.cli",
            "serve",
            "--config",
            cfg_path,
            "--redis",
            url,
            "--prefix",
            prefix,
            "--port",
            str(port),
        ],
        env=env,
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    if not hub.stdout.readline():  # "wallboard hub on ..." once it listens
        raise SystemExit(f"the hub did not start (is port {port} free?)")
    stop = asyncio.Event()
    pub = asyncio.create_task(publish_loop(url, prefix, args.hz, stop))
    # the screens, split over a few processes so that their own receiving does not dominate the delays
    per = -(-args.clients // args.procs)
    screens = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            __file__,
            "--screens",
            "--port",
            str(port),
            "--clients",
            str(per),
            "--stalled",
            str(args.stalled),
            "--every",
            str(args.every),
            stdout=asyncio.subprocess.PIPE,
            cwd=ROOT,
        )
        for _ in range(args.procs)
    ]
    for sp in screens:
        await sp.stdout.readline()  # ready
    n_stalled = int(per * args.stalled) * args.procs
    print(
        f"hub pid {hub.pid}; {per * args.procs} screens ({n_stalled} stalled) in {args.procs} processes; "
        f"summaries at {args.hz:g} Hz; "
        f"update message {update_bytes} bytes, summary {len(summary_json(1, datetime.now(timezone.utc)))} bytes"
    )
    print(
        f"{'t s':>5} {'screens':>7} {'hub CPU':>8} {'RSS MB':>7} {'p50 ms':>7} {'p99 ms':>7} {'max ms':>7} "
        f"{'in hub':>7} {'updates':>8} {'dropped':>7}"
    )
    t0 = time.monotonic()
    cpu0, _ = proc_stats(hub.pid)
    last_t = t0
    rows = []
    try:
        while time.monotonic() - t0 < args.seconds:
            lines = [json.loads(await sp.stdout.readline()) for sp in screens]
            now = time.monotonic()
            line = {"received": sum(x["received"] for x in lines)}
            for k in ("p50_ms", "p99_ms", "max_ms", "hub_p99_ms"):  # the worst process's figure (they are alike)
                if any(k in x for x in lines):
                    line[k] = max(x.get(k, 0) for x in lines)
            cpu, rss = proc_stats(hub.pid)
            metrics = await asyncio.to_thread(
                lambda: urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
            )
            row = dict(
                t=now - t0,
                screens=metric(metrics, "wallboard_hub_clients"),
                cpu=100 * (cpu - cpu0) / (now - last_t),
                rss=rss,
                p50=line.get("p50_ms", float("nan")),
                p99=line.get("p99_ms", float("nan")),
                max=line.get("max_ms", float("nan")),
                hub=line.get("hub_p99_ms", float("nan")),
                updates=line["received"],
                dropped=metric(metrics, "wallboard_hub_clients_dropped_total"),
                fan_sum=metric(metrics, "wallboard_hub_fanout_seconds_sum"),
                fan_n=metric(metrics, "wallboard_hub_fanout_seconds_count"),
            )
            rows.append(row)
            cpu0, last_t = cpu, now
            print(
                f"{row['t']:5.0f} {row['screens']:7.0f} {row['cpu']:7.1f}% {row['rss']:7.1f} {row['p50']:7.1f} "
                f"{row['p99']:7.1f} {row['max']:7.1f} {row['hub']:7.1f} {row['updates']:8d} {row['dropped']:7.0f}",
                flush=True,
            )
    finally:
        stop.set()
        await pub
        for sp in screens:
            sp.kill()
            await sp.wait()
        hub.terminate()
        try:
            hub.wait(15)
        except subprocess.TimeoutExpired:
            print("the hub did not stop within 15 s of SIGTERM", flush=True)
            hub.kill()
            hub.wait()
        os.unlink(cfg_path)
    steady = rows[1:] or rows
    fan = (rows[-1]["fan_sum"] - rows[0]["fan_sum"]) / max(1, rows[-1]["fan_n"] - rows[0]["fan_n"])
    print(
        f"steady state: hub CPU {statistics.mean(r['cpu'] for r in steady):.1f}% of one core, "
        f"p50 {statistics.median(r['p50'] for r in steady):.1f} ms, p99 {max(r['p99'] for r in steady):.1f} ms "
        f"(worst window), RSS {steady[0]['rss']:.1f} -> {steady[-1]['rss']:.1f} MB; the hub spends "
        f"{1000 * fan:.1f} ms per summary projecting, encoding and writing it to every screen"
    )


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--clients", type=int, default=1000)
    p.add_argument("--stalled", type=float, default=0.1, help="share of the screens that never read")
    p.add_argument("--hz", type=float, default=4.0, help="summaries per second")
    p.add_argument("--seconds", type=float, default=60)
    p.add_argument("--every", type=float, default=5, help="seconds per printed row")
    p.add_argument("--port", type=int, default=18765)
    p.add_argument("--procs", type=int, default=2, help="processes the screens are spread over")
    p.add_argument("--profile", default=None, help="run the hub under cProfile, writing its stats here")
    p.add_argument("--screens", action="store_true", help=argparse.SUPPRESS)
    a = p.parse_args()
    if a.screens:
        asyncio.run(screens_main(a.port, a.clients, int(a.clients * a.stalled), a.every))
    else:
        asyncio.run(main(a))
