"""The live path's cost per event: the simulated centre's busy events (bench/live_latency.py's) applied by
``Engine.apply`` in batches as the live ingester takes them at 5,000 events/s (~300), against a private server.

    python bench/live_apply_cpu.py [--events 60000] [--batch 300] [--agents 1000] [--queues 100] [--profile]

Prints Python's CPU per event (``time.process_time`` around each ``Engine.apply``), the server's CPU per event
(``INFO cpu`` deltas), round trips and commands per batch (``INFO stats``/``commandstats`` deltas). The first
fifth of the events warms up (registries, scripts, the centre's keys) and is not counted.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import os
import subprocess
import pstats
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _bench as B  # noqa: E402
from live_latency import busy_events  # noqa: E402


def _stats(client) -> tuple[float, int, int]:
    """(server CPU s, commands processed, EVALSHA calls)."""
    cs = client.info("commandstats")
    ev = int(cs.get("cmdstat_evalsha", {}).get("calls", 0))
    return B.redis_cpu_s(client), int(client.info("stats")["total_commands_processed"]), ev


async def run(url: str, config, events: list, batch: int, profile: bool) -> dict:
    import redis

    from wallboard.engine import Engine
    from wallboard.keys import Keys
    from wallboard.store import connect

    client = await connect(config, url)
    sync = redis.Redis.from_url(url)
    engine = Engine(client, config, Keys("wblivecpu"), feed_name="sim")
    await engine.start()
    batches = [events[i : i + batch] for i in range(0, len(events), batch)]
    warm = len(batches) // 5
    for b in batches[:warm]:
        await engine.apply(b)
    # the round trips: each packed send on a connection (a pipeline's, or the steps' own)
    trips = [0]
    from redis.asyncio.connection import Connection

    orig_send = Connection.send_packed_command

    async def send(self, *a, **k):
        trips[0] += 1
        return await orig_send(self, *a, **k)

    Connection.send_packed_command = send  # type: ignore[method-assign]
    if os.environ.get("LIVE_APPLY_CALLGRIND"):
        subprocess.run(["callgrind_control", "-i", "on"], check=False, capture_output=True)
    s0 = _stats(sync)
    cs0 = sync.info("commandstats")
    prof = cProfile.Profile(time.process_time) if profile else None
    cpu = 0.0
    n = 0
    per_event = []
    for b in batches[warm:]:
        c0 = time.process_time()
        if prof is not None:
            prof.enable()
        await engine.apply(b)
        if prof is not None:
            prof.disable()
        c = time.process_time() - c0
        cpu += c
        n += len(b)
        per_event.append(c / len(b))
    s1 = _stats(sync)
    if os.environ.get("LIVE_APPLY_CALLGRIND"):
        subprocess.run(["callgrind_control", "-i", "off"], check=False, capture_output=True)
    cs1 = sync.info("commandstats")
    for k, v in sorted(cs1.items(), key=lambda kv: -kv[1]["calls"] + cs0.get(kv[0], {}).get("calls", 0)):
        d = v["calls"] - cs0.get(k, {}).get("calls", 0)
        us = v["usec"] - cs0.get(k, {}).get("usec", 0)
        if d:
            B.say(f"{k:>24}: {d / (len(batches) - warm):8.1f} a batch, {us / d:6.2f} us each")
    Connection.send_packed_command = orig_send  # type: ignore[method-assign]
    nb = len(batches) - warm
    out = {
        "events": n,
        "batches": nb,
        "py_us_event": cpu / n * 1e6,
        "py_us_event_median": B.percentile(per_event, 50) * 1e6,
        "redis_us_event": (s1[0] - s0[0]) / n * 1e6,
        "trips_batch": trips[0] / nb,
        "commands_event": (s1[1] - s0[1] - 2) / n,
        "evalsha_batch": (s1[2] - s0[2]) / nb,
    }
    await client.aclose()
    if prof is not None:
        pstats.Stats(prof).sort_stats(os.environ.get("LIVE_APPLY_SORT", "tottime")).print_stats(
            int(os.environ.get("LIVE_APPLY_N", "35"))
        )
    return out


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=60_000)
    ap.add_argument("--batch", type=int, default=300)
    ap.add_argument("--agents", type=int, default=1000)
    ap.add_argument("--queues", type=int, default=100)
    ap.add_argument("--profile", action="store_true")
    ap.add_argument("--redis", default=None)
    args = ap.parse_args()
    config = B.make_centre(args.queues, args.agents, prefix="wblivecpu")
    events = busy_events(config, args.events)
    with B.redis_server(args.redis) as (url, how):
        B.say(how)
        out = asyncio.run(run(url, config, events, args.batch, args.profile))
    for k, v in out.items():
        B.say(f"{k:>16}: {v:,.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
