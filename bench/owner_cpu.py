"""The lease owner's CPU per publish at scale, for what changed: a 5,000-agent, 500-queue centre logged in, then
on a simulated clock, as often as the owner would publish (``ingest.PublishPace``: every
``publish_min_interval_ms``, or longer when a publish costs more than ``publish_share`` of that, up to
``publish_max_interval_ms``), the real events
of that much time applied (~1 % of the agents change state a second, a few callers join or are answered: the desk
bench's load, ~50 agents a second at 5,000) and a snapshot built, evaluated and published as ``Ingest.tick`` does
(``IncrementalSnapshots``, the agents' alert timers, ``DeltaPublisher``: deltas, a full one every
``engine.full_publish_s``).

    python bench/owner_cpu.py [--smoke] [--redis URL] [--agents 5000] [--queues 500] [--seconds 60]
                              [--evaluate-all] [--profile FILE] [--publish-ms MS] [--publish-share S]

    python bench/owner_cpu.py --live-rate 1000 [--agents 1000] [--queues 100] [--seconds 10] [--step-ms 200]

``--live-rate R``: the churn of ``bench/live_latency.py`` instead (its simulated centre, every queue at its peak:
long queues, callbacks, most agents changing), R events a second handed over in 50 ms batches, and a publish
every ``--step-ms`` of those seconds (fixed, so that a before and an after do the same publishes); after 10 s of
events to warm up, the CPU of each publish and its parts (build, evaluate, publish), measured on the process's
CPU clock: what the live latency's publishes cost, without the timing of a live run.

Quicker than ``bench/scale.py`` (no simulation to run first), so a change to the owner is measured before and
after in minutes. Figures: the owner's CPU per publish (mean, and apart: build, evaluate, publish) and its share
of one core at the rate it published; ``--evaluate-all`` evaluates every agent's alerts at every publish (as
before the timers); ``--profile`` writes a cProfile of the publishes (not of applying) to FILE.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import random
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _bench as B  # noqa: E402


async def run(args, url: str) -> None:
    from wallboard.delta import DeltaPublisher
    from wallboard.engine import Engine
    from wallboard.events import AgentStateChanged, CallerAnswered, CallerJoined
    from wallboard.incremental import IncrementalSnapshots
    from wallboard.ingest import PublishPace
    from wallboard.keys import Keys
    from wallboard.store import connect
    from wallboard.thresholds import AgentAlertTimers, LevelState, QueueLevels

    prefix = "wbowner"
    config = B.make_centre(args.queues, args.agents, prefix=prefix)
    client = await connect(config, url)
    keys = Keys(prefix)
    engine = Engine(client, config, keys, feed_name="bench")
    await engine.start()
    now = datetime(2026, 11, 23, 8, 0, tzinfo=timezone.utc)
    await B.logged_in(engine, config, now)
    n = 0

    def eid() -> str:
        nonlocal n
        n += 1
        return f"b{n}"

    inc = IncrementalSnapshots(engine, config.engine.full_rebuild_s, defer_ticks=True)  # as ``Ingest``
    pub = DeltaPublisher(client, keys, inc, config.engine.full_publish_s)
    timers = None if args.evaluate_all else AgentAlertTimers(config.agent_alerts)
    qlevels = None if args.evaluate_all else QueueLevels()
    levels = LevelState()
    rng = random.Random(5)
    ids = [a.id for a in config.agents]
    names = [q.name for q in config.queues]
    # a quarter of the agents paused: their time-in-state alerts come due on the clock, with no event
    cycle = {"available": "on_call", "on_call": "wrap_up", "wrap_up": "paused", "paused": "available"}
    state = {a: "available" for a in ids}
    waiting: list[tuple[str, str]] = []
    eng = config.engine
    if args.publish_ms is not None or args.publish_share is not None:
        eng = eng.model_copy(
            update={
                "publish_min_interval_ms": args.publish_ms or eng.publish_min_interval_ms,
                "publish_share": args.publish_share or eng.publish_share,
            }
        )
    floor = eng.publish_min_interval_ms / 1000
    pace = PublishPace.of(eng)
    build = evaluate = publish = 0.0
    cpu: list[float] = []
    prof = cProfile.Profile() if args.profile else None
    # the churn per second of events' time, as in 250 ms steps before (48 agents and 8 joins a second at 5,000
    # agents and 500 queues); a step is what the owner would wait after the previous publish (``PublishPace``)
    agents_per_s, joins_per_s = 4 * max(1, len(ids) // 400), 4 * max(1, len(names) // 200)
    due_agents = due_joins = elapsed = 0.0
    step_s = floor
    while elapsed < args.seconds:
        now += timedelta(seconds=step_s)
        elapsed += step_s
        due_agents += agents_per_s * step_s
        due_joins += joins_per_s * step_s
        batch = []
        for a in rng.sample(ids, max(1, int(due_agents))):
            state[a] = cycle[state[a]]
            batch.append(AgentStateChanged(id=eid(), ts=now, source="bench", agent=a, state=state[a]))
        due_agents -= max(1, int(due_agents))
        joins = max(1, int(due_joins))
        due_joins -= joins
        for _ in range(joins):
            q = rng.choice(names)
            call = eid()
            batch.append(CallerJoined(id=eid(), ts=now, source="bench", queue=q, call_id=call))
            waiting.append((q, call))
        while len(waiting) > len(names) // 10:
            q, call = waiting.pop(0)
            batch.append(CallerAnswered(id=eid(), ts=now, source="bench", queue=q, call_id=call, agent=rng.choice(ids)))
        await engine.apply(batch)
        if prof is not None:
            prof.enable()
        c0, w0 = time.process_time(), time.perf_counter()
        snap = await inc.build(now)
        w1 = time.perf_counter()
        changed = None if inc.full_build else inc.changed_agents  # as ``Ingest.tick``
        snap, levels = engine.evaluate(
            snap, levels, now, timers, changed, qlevels, None if inc.full_build else inc.changed_queues
        )
        w2 = time.perf_counter()
        await pub.publish(snap, now, None if timers is None or inc.full_build else timers.alerting)
        w3 = time.perf_counter()
        cpu.append(time.process_time() - c0)
        step_s = pace.took(cpu[-1])
        if prof is not None:
            prof.disable()
        build, evaluate, publish = build + w1 - w0, evaluate + w2 - w1, publish + w3 - w2
    k = len(cpu)
    B.say(
        f"{args.agents:,} agents, {args.queues:,} queues; {k} publishes over {args.seconds:g} s of events "
        f"({pub.deltas} deltas, {pub.fulls} full, every {config.engine.full_publish_s:g} s; "
        f"{inc.fulls} full builds); alerts: {'every agent' if timers is None else 'timers'}"
    )
    B.figure(
        "owner.cpu_ms_per_publish", sum(cpu) / k * 1000, "ms", f"mean CPU; median {sorted(cpu)[k // 2] * 1000:.1f}"
    )
    B.figure("owner.build_ms", build / k * 1000, "ms", "mean wall")
    B.figure("owner.evaluate_ms", evaluate / k * 1000, "ms", "mean wall")
    B.figure("owner.publish_ms", publish / k * 1000, "ms", "mean wall: a delta or a full one, the stored parts")
    per_s = k / elapsed
    B.figure(
        "owner.cpu_share",
        sum(cpu) / elapsed,
        "of one core",
        f"at {per_s:.2f} publishes/s (publish_min_interval_ms={eng.publish_min_interval_ms}, "
        f"publish_share={eng.publish_share:g})",
    )
    await _finish(args, url, client, prof)


async def _finish(args, url: str, client, prof) -> None:
    """The profile written, the Redis ceiling of the same server printed, the client closed."""
    if prof is not None:
        prof.dump_stats(args.profile)
        B.say(f"profile written to {args.profile}")
    if not args.no_ceiling:
        for name, v in B.raw_ceiling(url, args.smoke).items():
            B.figure(f"ceiling {name}", v, "requests/s", "redis-benchmark, 50 clients, same server")
    await client.aclose()


async def run_live(args, url: str) -> None:
    from live_latency import busy_events

    from wallboard.delta import DeltaPublisher
    from wallboard.engine import Engine
    from wallboard.incremental import IncrementalSnapshots
    from wallboard.keys import Keys
    from wallboard.store import connect
    from wallboard.thresholds import AgentAlertTimers, LevelState, QueueLevels

    prefix = "wbownerlive"
    config = B.make_centre(args.queues, args.agents, prefix=prefix)
    warm = int(args.live_rate * 10)
    need = warm + int(args.live_rate * args.seconds)
    t = time.perf_counter()
    events = busy_events(config, need)
    B.say(f"{len(events):,} simulated events made in {time.perf_counter() - t:.1f} s")
    client = await connect(config, url)
    keys = Keys(prefix)
    engine = Engine(client, config, keys, feed_name="bench")
    await engine.start()
    inc = IncrementalSnapshots(engine, config.engine.full_rebuild_s, defer_ticks=True)  # as ``Ingest``
    pub = DeltaPublisher(client, keys, inc, config.engine.full_publish_s)
    timers, qlevels, levels = AgentAlertTimers(config.agent_alerts), QueueLevels(), LevelState()
    per_batch, step = max(1, int(args.live_rate * 0.05)), args.step_ms / 1000
    cpu: list[float] = []
    parts = [0.0, 0.0, 0.0]
    prof = cProfile.Profile() if args.profile else None
    clock = since = 0.0
    i = 0
    while i < need:
        batch = events[i : i + per_batch]
        i += per_batch
        await engine.apply(batch)
        since += 0.05
        if since + 1e-9 < step:
            continue
        since = 0.0
        clock += step
        now = events[0].ts + timedelta(seconds=clock)  # the owner's clock: wall time, as in the live run
        measured = i > warm
        if measured and prof is not None:
            prof.enable()
        c0 = time.process_time()
        snap = await inc.build(now)
        c1 = time.process_time()
        changed = None if inc.full_build else inc.changed_agents
        snap, levels = engine.evaluate(
            snap, levels, now, timers, changed, qlevels, None if inc.full_build else inc.changed_queues
        )
        c2 = time.process_time()
        await pub.publish(snap, now, None if timers is None or inc.full_build else timers.alerting)
        c3 = time.process_time()
        if measured:
            if prof is not None:
                prof.disable()
            cpu.append(c3 - c0)
            parts[0] += c1 - c0
            parts[1] += c2 - c1
            parts[2] += c3 - c2
    k = len(cpu)
    waiting = sum(q.waiting for q in snap.queues.values())
    callbacks = sum(q.callbacks_pending for q in snap.queues.values())
    B.say(
        f"{args.agents:,} agents, {args.queues} queues, {args.live_rate:,.0f} events/s; {k} publishes every "
        f"{args.step_ms} ms over {args.seconds:g} s of events (after 10 s); the last rebuilt {inc.last_rebuilt[0]} "
        f"queues and {inc.last_rebuilt[1]} agents; {waiting:,} callers waiting, {callbacks:,} callbacks"
    )
    cpu.sort()
    B.figure("owner.live.cpu_ms_per_publish", sum(cpu) / k * 1000, "ms", f"mean CPU; median {cpu[k // 2] * 1000:.1f}")
    B.figure("owner.live.build_ms", parts[0] / k * 1000, "ms", "mean CPU")
    B.figure("owner.live.evaluate_ms", parts[1] / k * 1000, "ms", "mean CPU")
    B.figure("owner.live.publish_ms", parts[2] / k * 1000, "ms", "mean CPU: a delta or a full one, the stored parts")
    await _finish(args, url, client, prof)


def main() -> int:
    from wallboard.ingest import tune_gc

    tune_gc()  # as `wallboard ingest` does: this process stands for the ingester
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--smoke", action="store_true", help="a seconds-long run: 200 agents, 20 queues, 10 s")
    ap.add_argument("--redis", default=None, help="use this server instead of a private one")
    ap.add_argument("--agents", type=int, default=5000)
    ap.add_argument("--queues", type=int, default=500)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--evaluate-all", action="store_true", help="every agent's alerts at every publish (before)")
    ap.add_argument("--publish-ms", type=int, default=None, help="engine.publish_min_interval_ms")
    ap.add_argument("--publish-share", type=float, default=None, help="engine.publish_share")
    ap.add_argument("--profile", default=None, help="write a cProfile of the publishes here")
    ap.add_argument("--no-ceiling", action="store_true", help="skip the raw Redis ceiling (redis-benchmark)")
    ap.add_argument("--live-rate", type=float, default=None, help="the live latency's churn at this many events/s")
    ap.add_argument("--step-ms", type=int, default=200, help="with --live-rate: a publish every this many ms")
    args = ap.parse_args()
    if args.live_rate is not None and "--agents" not in sys.argv:
        args.agents, args.queues, args.seconds = 1000, 100, 10
    if args.smoke:
        args.agents, args.queues, args.seconds = 200, 20, 10
    with B.redis_server(args.redis) as (url, how):
        B.print_machine(url, how)
        asyncio.run(run(args, url) if args.live_rate is None else run_live(args, url))
    return 0


if __name__ == "__main__":
    sys.exit(main())
