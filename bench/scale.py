"""Scale: a 5,000-agent, 500-queue centre taking 50,000 calls an hour — ingest CPU, snapshot build time and size,
Redis memory for 24 hours.

    python bench/scale.py [--smoke] [--redis URL] [--agents 5000] [--queues 500] [--calls-per-hour 50000]
                          [--warmup-min 5] [--minutes 10]

The centre is generated (bench/_bench.py ``make_centre``: each agent in two queues, penalties 0 and 1, wrap-up
10 s) and driven by the simulated centre (``wallboard.sim.SimCentre``) with every queue at its peak rate from
the start (``busy_scenario``: calls per hour / queues each). The simulation is run first (it is not what is
measured); its events are then applied as the live ingester applies them: in batches of what arrives within
50 ms (``wallboard.ingest.FLUSH_S``), one ``Engine.apply`` each, after ``--warmup-min`` minutes applied unmeasured
(logins, queues filling).

Figures:
- ``apply_cpu_share``: ingest CPU for applying the window's events / the window's length (one core = 1.0);
- ``snapshot.build_ms`` (read + compute), ``evaluate_ms``, ``publish_ms`` (serialise both parts + SET +
  PUBLISH), their CPU, and ``summary_bytes`` / ``detail_bytes``;
- ``snapshot_cpu_share``: what publishing costs the lease owner when something changes all the time, as here:
  the owner publishes at most every ``publish_min_interval_ms`` (250 ms) and at least every tick (1 s), so
  min(4 per s, 1 / build time) snapshots a second times their CPU;
- ``ingest_cpu_share`` = apply + snapshots (target: <= 0.30 of one core);
- ``redis_memory_24h``: ``used_memory`` growth over the window, per hour, times 24 (every hour at the peak
  rate, an upper bound) and times the normal day's shape (the sum of ``day_shape`` over the day, in peak
  hours), plus the memory after the warm-up (registries, states, memberships).
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _bench as B  # noqa: E402

import redis  # noqa: E402


def batches(events: list, flush_s: float) -> list[list]:
    """Events grouped as the live ingester would take them: what arrives within ``flush_s`` of the first."""
    out: list[list] = []
    cur: list = []
    end = None
    for e in events:
        t = e.ts.timestamp()
        if end is None or t >= end:
            if cur:
                out.append(cur)
            cur, end = [], t + flush_s
        cur.append(e)
    if cur:
        out.append(cur)
    return out


async def run(args, url: str) -> None:
    from wallboard.delta import DeltaPublisher
    from wallboard.engine import Engine
    from wallboard.incremental import IncrementalSnapshots
    from wallboard.ingest import FLUSH_S
    from wallboard.keys import Keys
    from wallboard.sim import SimCentre
    from wallboard.sim.scenarios import day_shape
    from wallboard.store import connect
    from wallboard.thresholds import AgentAlertTimers, LevelState, QueueLevels

    config = B.make_centre(args.queues, args.agents, prefix="wbscale")
    per_queue = args.calls_per_hour / args.queues
    start = datetime(2026, 11, 23, 8, 0, tzinfo=timezone.utc)
    t = time.perf_counter()
    sim = SimCentre(config, B.busy_scenario(per_queue), 7, start)
    warm = sim.advance_to(start + timedelta(minutes=args.warmup_min))
    calls0 = len(sim.calls)
    window = sim.advance_to(start + timedelta(minutes=args.warmup_min + args.minutes))
    calls = len(sim.calls) - calls0
    B.say(
        f"centre: {args.agents:,} agents, {args.queues:,} queues, {per_queue:g} calls/h per queue; simulated "
        f"{args.warmup_min} + {args.minutes} min in {time.perf_counter() - t:.0f} s: {len(warm):,} warm-up events, "
        f"{len(window):,} events and {calls:,} calls in the window ({calls * 60 / args.minutes:,.0f} calls/h)"
    )

    client = await connect(config, url)
    sync = redis.Redis.from_url(url)
    engine = Engine(client, config, Keys(config.redis.prefix), feed_name="sim")
    await engine.start()
    for b in batches(warm, 1.0):
        await engine.apply(b)
    mem0 = B.used_memory(sync)

    live = batches(window, FLUSH_S)
    # the lease owner's incremental snapshots while the window is applied, as often as it may publish (every
    # publish_min_interval_ms of the events' time), measured apart from applying
    inc = IncrementalSnapshots(engine, config.engine.full_rebuild_s, defer_ticks=args.deltas)  # as ``Ingest``
    inc_levels = LevelState()
    timers = AgentAlertTimers(config.agent_alerts)
    qlevels = QueueLevels()
    keys = Keys(config.redis.prefix)
    pub = DeltaPublisher(client, keys, inc, config.engine.full_publish_s) if args.deltas else None
    sent_bytes = []
    gap = timedelta(milliseconds=config.engine.publish_min_interval_ms)
    next_pub = None
    inc_build, inc_eval, inc_pub, inc_cpu = [], [], [], []
    rcpu0 = B.redis_cpu_s(sync)
    apply_cpu = apply_wall = 0.0
    for b in live:
        c0, w0 = time.process_time(), time.perf_counter()
        await engine.apply(b)
        apply_cpu += time.process_time() - c0
        apply_wall += time.perf_counter() - w0
        at = b[-1].ts
        if args.incremental and (next_pub is None or at >= next_pub):
            c0, w0 = time.process_time(), time.perf_counter()
            snap = await inc.build(at)
            w1 = time.perf_counter()
            changed = None if inc.full_build else inc.changed_agents  # as the owner (``Ingest.tick``)
            snap, inc_levels = engine.evaluate(
                snap, inc_levels, at, timers, changed, qlevels, None if inc.full_build else inc.changed_queues
            )
            w2 = time.perf_counter()
            if pub is not None:
                await pub.publish(snap, at, None if inc.full_build else timers.alerting)
                sent_bytes.append(pub.last_bytes)
            else:
                await engine.publish(snap)
            inc_build.append(w1 - w0)
            inc_eval.append(w2 - w1)
            inc_pub.append(time.perf_counter() - w2)
            inc_cpu.append(time.process_time() - c0)
            next_pub = at + gap
    rcpu = B.redis_cpu_s(sync) - rcpu0
    mem1 = B.used_memory(sync)
    window_s = args.minutes * 60.0
    B.figure(
        "scale.events_per_s", len(window) / window_s, "events/s", f"{len(live):,} batches of <= {FLUSH_S * 1000:.0f} ms"
    )
    B.figure(
        "scale.apply_cpu_us_per_event",
        apply_cpu / len(window) * 1e6,
        "us",
        f"{apply_cpu:.2f} s CPU ({apply_wall:.2f} s wall) for {window_s:.0f} s of events",
    )
    B.figure("scale.apply_cpu_share", apply_cpu / window_s, "of one core", "ingest process, applying")
    B.figure("scale.redis_cpu_share", rcpu / window_s, "of one core", "the server, for those applies")

    # snapshots, as the lease owner builds them at the end of the window
    now = start + timedelta(minutes=args.warmup_min + args.minutes, seconds=1)
    builds, evals, pubs, cpus = [], [], [], []
    levels = LevelState()
    snap = None
    for i in range(args.snapshots):
        c0, w0 = time.process_time(), time.perf_counter()
        snap = await engine.build_snapshot(now + timedelta(seconds=i))
        w1 = time.perf_counter()
        snap, levels = engine.evaluate(snap, levels, now + timedelta(seconds=i))
        w2 = time.perf_counter()
        await engine.publish(snap)
        w3 = time.perf_counter()
        builds.append(w1 - w0)
        evals.append(w2 - w1)
        pubs.append(w3 - w2)
        cpus.append(time.process_time() - c0)
    assert snap is not None
    summary, detail = snap.summary_json(), snap.agents_json()
    med = lambda xs: sorted(xs)[len(xs) // 2]  # noqa: E731
    B.figure("scale.snapshot.build_ms", med(builds) * 1000, "ms", f"median of {args.snapshots}: reads + figures")
    B.figure("scale.snapshot.evaluate_ms", med(evals) * 1000, "ms", "levels, hysteresis, agent alerts")
    B.figure("scale.snapshot.publish_ms", med(pubs) * 1000, "ms", "seq, both parts serialised, SET + PUBLISH")
    B.figure("scale.snapshot.cpu_ms", med(cpus) * 1000, "ms", "ingest CPU for one snapshot, all of the above")
    B.figure("scale.snapshot.summary_bytes", len(summary.encode()), "bytes", f"{len(snap.queues)} queues + total")
    B.figure("scale.snapshot.detail_bytes", len(detail.encode()), "bytes", f"{len(snap.agents):,} agents")
    period = max(config.engine.publish_min_interval_ms / 1000, med(builds) + med(evals) + med(pubs))
    per_s = min(1 / period, 1000 / config.engine.publish_min_interval_ms)
    snap_share = per_s * med(cpus)
    B.figure("scale.snapshot_cpu_share", snap_share, "of one core", f"{per_s:.2f} snapshots/s while calls change it")
    total = apply_cpu / window_s + snap_share
    B.figure("scale.ingest_cpu_share", total, "of one core", "apply + full snapshots; target <= 0.30")
    if inc_cpu:
        n = len(inc_cpu)
        pct = lambda xs, q: sorted(xs)[min(len(xs) - 1, int(q * len(xs)))]  # noqa: E731
        B.say(
            f"incremental snapshots while the window was applied: {n:,} ({inc.fulls} full, {inc.partials} "
            f"incremental; a full one every {config.engine.full_rebuild_s:g} s)"
        )
        B.figure(
            "scale.incremental.build_ms",
            med(inc_build) * 1000,
            "ms",
            f"median; p99 {pct(inc_build, 0.99) * 1000:.0f} ms (the full ones)",
        )
        B.figure("scale.incremental.evaluate_ms", med(inc_eval) * 1000, "ms", "median")
        if pub is not None:
            B.say(
                f"published: {pub.deltas:,} deltas, {pub.fulls} full (every {config.engine.full_publish_s:g} s); "
                f"bytes per publish: median {med(sent_bytes):,}, mean {sum(sent_bytes) / len(sent_bytes):,.0f}"
            )
        what = "a delta, or both parts when full; the stored parts" if pub is not None else "both parts"
        B.figure("scale.incremental.publish_ms", med(inc_pub) * 1000, "ms", f"median: {what} serialised, sent")
        B.figure(
            "scale.incremental.cpu_ms",
            sum(inc_cpu) / n * 1000,
            "ms",
            f"mean ingest CPU per snapshot, the full ones included (median {med(inc_cpu) * 1000:.0f} ms)",
        )
        per_s = n / window_s
        B.figure(
            "scale.incremental.snapshot_cpu_share", sum(inc_cpu) / window_s, "of one core", f"{per_s:.2f} snapshots/s"
        )
        B.figure(
            "scale.incremental.ingest_cpu_share",
            apply_cpu / window_s + sum(inc_cpu) / window_s,
            "of one core",
            "apply + incremental snapshots; target <= 0.30",
        )
    if not args.no_ceiling:
        for name, v in B.raw_ceiling(url, args.smoke).items():
            B.figure(f"ceiling {name}", v, "requests/s", "redis-benchmark, 50 clients, same server")

    # memory
    per_hour = (mem1 - mem0) * 3600 / window_s
    shape_hours = sum(day_shape(h / 60) for h in range(24 * 60)) / 60
    B.figure("scale.redis_memory_after_warmup", mem0 / 1e6, "MB", "registries, states, memberships, first calls")
    B.figure(
        "scale.redis_memory_per_hour",
        per_hour / 1e6,
        "MB",
        f"growth over the {args.minutes}-min window x 60/{args.minutes}",
    )
    B.figure("scale.redis_memory_24h", (mem0 + 24 * per_hour) / 1e6, "MB", "24 h at the peak rate: an upper bound")
    B.figure(
        "scale.redis_memory_24h_day_shape",
        (mem0 + shape_hours * per_hour) / 1e6,
        "MB",
        f"the normal day's shape = {shape_hours:.1f} peak hours; nothing expires within 24 h (markers 48 h, "
        f"buckets 72 h)",
    )
    await client.aclose()
    B.drop_sync(sync, config.redis.prefix)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--smoke", action="store_true", help="a seconds-long run (CI): 200 agents, 20 queues, 1+1 min")
    ap.add_argument("--redis", default=None, help="use this server instead of a private one")
    ap.add_argument("--agents", type=int, default=5000)
    ap.add_argument("--queues", type=int, default=500)
    ap.add_argument("--calls-per-hour", type=float, default=50_000)
    ap.add_argument("--warmup-min", type=float, default=5)
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--snapshots", type=int, default=5)
    ap.add_argument(
        "--no-incremental",
        dest="incremental",
        action="store_false",
        help="skip the lease owner's incremental snapshots during the window",
    )
    ap.add_argument(
        "--no-deltas",
        dest="deltas",
        action="store_false",
        help="publish every incremental snapshot in full (before issue 16 item 3)",
    )
    ap.add_argument("--no-ceiling", action="store_true", help="skip the raw Redis ceiling (redis-benchmark)")
    args = ap.parse_args()
    if args.smoke:
        args.agents, args.queues, args.calls_per_hour = 200, 20, 2000
        args.warmup_min, args.minutes, args.snapshots = 1, 1, 2
    with B.redis_server(args.redis) as (url, how):
        B.print_machine(url, how)
        asyncio.run(run(args, url))
    return 0


if __name__ == "__main__":
    sys.exit(main())
