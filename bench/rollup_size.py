"""How much memory a year of rollups takes for a 5,000-agent centre: measured, then scaled.

The sample day (samples/sample_day.queue_log, 28 agents and 4 queues) is replayed through the engine and rolled
up; its real packed interval and daily values are then copied onto synthetic agents in a private server (the
embedded valkey binary, default settings, so nothing else disturbs ``used_memory``) at 1/``--scale`` of the
target, and the growth of ``used_memory`` is scaled up. Usage::

    python bench/rollup_size.py [--agents 5000] [--queues 40] [--scale 10] [--listpack-value 128]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import shutil
import subprocess
import tempfile
import time
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parent.parent


async def sample_values(config) -> tuple[list[dict], list[str], list[dict], list[str]]:
    """Real rolled-up values of the sample day: agent interval hashes, agent daily values, queue likewise."""
    from feeds.queue_log import QueueLogFeed
    from wallboard.clock import ManualClock
    from wallboard.history.rollup import HistoryKeys, Rollup
    from wallboard.keys import Keys
    from wallboard.replay import _drop_namespace, replay
    from wallboard.store import connect

    prefix = f"wbbench-{uuid.uuid4().hex[:8]}"
    snap, _ = await replay(QueueLogFeed(ROOT / "samples" / "sample_day.queue_log", config), config, prefix=prefix)
    client = await connect(config)
    try:
        now = datetime.fromisoformat(snap.at.replace("Z", "+00:00"))
        keys = Keys(prefix)
        ru = Rollup(client, config, keys, ManualClock(now))
        day = ru.cal.today(now)
        t = time.perf_counter()
        stats = await ru.ensure(day, day)
        took = time.perf_counter() - t
        print(
            f"rolled up the sample day: {stats.queues} queues, {stats.agents} agents, {stats.buckets_read} "
            f"minute buckets in {took:.2f} s ({stats.buckets_read / took:,.0f} buckets/s)"
        )
        hk = HistoryKeys(keys)
        out = []
        for kind, names in (("a", await ru.agent_ids()), ("q", await ru.queue_names())):
            ivs, days = [], []
            for n in names:
                h = await client.hgetall(hk.intervals(kind, n, day))
                v = await client.hget(hk.daily(kind, n, day), f"{day.day:02d}")
                if h:
                    ivs.append(h)
                if v:
                    days.append(v)
            out += [ivs, days]
        return tuple(out)  # type: ignore[return-value]
    finally:
        await _drop_namespace(client, prefix)
        await client.aclose()


def measure(
    agent_ivs,
    agent_days,
    queue_ivs,
    queue_days,
    agents: int,
    queues: int,
    scale: int,
    interval_days: int,
    daily_days: int,
    listpack_value: int | None = None,
) -> None:
    from wallboard.redis_server import binary_path

    root = tempfile.mkdtemp(prefix="wbsize", dir="/tmp")
    sock = f"{root}/r.sock"
    subprocess.run(
        [
            str(binary_path()),
            "--daemonize",
            "yes",
            "--port",
            "0",
            "--unixsocket",
            sock,
            "--dir",
            root,
            "--save",
            "",
            "--appendonly",
            "no",
            "--pidfile",
            f"{root}/pid",
            *(["--hash-max-listpack-value", str(listpack_value)] if listpack_value else []),
        ],
        check=True,
        capture_output=True,
    )
    r = redis.Redis(unix_socket_path=sock, decode_responses=True)
    for _ in range(200):
        try:
            r.ping()
            break
        except (redis.ConnectionError, FileNotFoundError):
            time.sleep(0.02)
    try:
        rng = random.Random(7)
        n_agents = max(1, agents // scale)
        n_queues = max(1, queues // scale)
        months = -(-daily_days // 30) + 1  # month hashes alive at once (the oldest partly expired)
        base = int(r.info("memory")["used_memory"])
        pipe = r.pipeline(transaction=False)
        day0 = datetime(2026, 1, 1)
        for kind, n, ivs, days in (("a", n_agents, agent_ivs, agent_days), ("q", n_queues, queue_ivs, queue_days)):
            for j in range(n):
                slot = f"wb:{{{kind}:{10000 + j}}}"
                for d in range(interval_days):
                    key = f"{slot}:hi:{(day0 + timedelta(days=d)).strftime('%Y%m%d')}"
                    pipe.hset(key, mapping=rng.choice(ivs))
                    pipe.expire(key, 86400 * 40)
                for m in range(months):
                    key = f"{slot}:hd:{2025 + m // 12}{m % 12 + 1:02d}"
                    pipe.hset(key, mapping={f"{dd:02d}": rng.choice(days) for dd in range(1, 31)})
                    pipe.expire(key, 86400 * 430)
                if len(pipe) > 20000:
                    pipe.execute()
        pipe.execute()
        used = int(r.info("memory")["used_memory"]) - base
        enc: dict[str, int] = {}
        mem: dict[str, int] = {}
        for k in r.scan_iter(match="wb:*", count=1000):
            kind = k.split(":")[3]
            e = f"{kind} {r.object('encoding', k)}"
            enc[e] = enc.get(e, 0) + 1
            mem[kind] = mem.get(kind, 0) + r.memory_usage(k, samples=0)
        hi_fields = [len(h) for h in agent_ivs]
        hi_len = [len(v) for h in agent_ivs for v in h.values()]
        total = used * scale
        print(
            f"sample agent day: {sum(hi_fields) / len(hi_fields):.0f} intervals with data (of 96), packed "
            f"value {sum(hi_len) / len(hi_len):.0f} bytes on average (max {max(hi_len)}); key encodings {enc}"
        )
        print("MEMORY USAGE by key kind: " + ", ".join(f"{k} {v / 1e6:.1f} MB" for k, v in sorted(mem.items())))
        print(
            f"measured: {n_agents} agents + {n_queues} queues x ({interval_days} days of intervals + {months} "
            f"month hashes of daily totals) = {used / 1e6:.1f} MB"
        )
        print(
            f"estimate for {agents} agents and {queues} queues ({interval_days} days of 15-minute intervals, "
            f"{daily_days} days of daily totals): {total / 1e6:.0f} MB "
            f"({total / (agents + queues) / 1e3:.1f} kB per agent)"
        )
    finally:
        try:
            r.shutdown(nosave=True)
        except (redis.ConnectionError, OSError):
            pass
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    from wallboard.config import load_config

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--agents", type=int, default=5000)
    ap.add_argument("--queues", type=int, default=40)
    ap.add_argument("--scale", type=int, default=10, help="measure 1/scale of the centre, then multiply")
    ap.add_argument("--listpack-value", type=int, default=None, help="server's hash-max-listpack-value (default 64)")
    args = ap.parse_args()
    config = load_config(ROOT / "config" / "wallboard.toml")
    vals = asyncio.run(sample_values(config))
    measure(
        *vals,
        agents=args.agents,
        queues=args.queues,
        scale=args.scale,
        interval_days=config.history.interval_keep_days,
        daily_days=config.history.daily_keep_days,
        listpack_value=args.listpack_value,
    )


if __name__ == "__main__":
    main()
