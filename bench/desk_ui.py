"""Desk UI at scale: the real desk (``wallboard desk``'s app, headless) watching a 5,000-agent, 500-queue centre
whose snapshot changes once a second; how long its event loop is ever blocked (no frame can be drawn meanwhile)
and whether its memory stays flat.

    python bench/desk_ui.py [--smoke] [--redis URL] [--agents 5000] [--queues 500] [--minutes 10]

The lease owner is another process (``--owner``, started by this one): the generated centre (``bench/_bench.py``
``make_centre``) logged in (every agent in its two queues, a third of them each available, on a call and in
wrap-up), then once a second a few real events applied (about 1 % of the agents change state, a few callers
join or are answered) and a snapshot published as the real owner does (``IncrementalSnapshots`` +
``DeltaPublisher``: deltas, a full one every ``engine.full_publish_s``). The desk is
``wallboard.ui.app.build_desk_app`` run headless at 200 x 60 in this process, reading through ``SnapshotSource``
like the real one.

Figures:
- ``desk.loop_stall_max_ms`` / ``p99`` / ``over_100ms``: a task that asks to wake every 10 ms notes how late it
  wakes; the lateness is time the desk's one thread spent on something else (parsing, rendering), during which
  no frame is drawn (target: nothing over 100 ms);
- ``desk.loop_work_max_ms`` / ``p99``: the CPU the desk's thread spent between two wake-ups (thread time), the
  same stalls without the waits for a CPU that a shared machine adds;
- ``desk.startup_s`` / ``startup_work_max_ms``: until every agent had its row, and the longest frame then; the
  ``after_startup_work`` figures: the rest of the run;
- ``desk.rss_mb`` first / last / max, sampled every 10 s after the first minute (target: flat over 10 min);
- ``desk.gc_frozen`` first / last: the objects frozen out of the garbage collections (``ui.gcsettle``), sampled
  with the RSS (flat: nothing piles up out of the collector's sight), and the settles and reclaims done;
- ``desk.summaries`` / ``desk.agent_parts``: what the desk received.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import random
import resource
import signal
import subprocess
import sys
import time
from array import array
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _bench as B  # noqa: E402


# ---- the owner (a separate process) ----------------------------------------------------------------------


async def owner_main(url: str, prefix: str, agents: int, queues: int, seconds: float) -> None:
    from wallboard.delta import DeltaPublisher
    from wallboard.engine import Engine
    from wallboard.events import AgentStateChanged, CallerAnswered, CallerJoined
    from wallboard.incremental import IncrementalSnapshots
    from wallboard.keys import Keys
    from wallboard.store import connect
    from wallboard.thresholds import LevelState

    config = B.make_centre(queues, agents, prefix=prefix)
    client = await connect(config, url)
    keys = Keys(prefix)
    engine = Engine(client, config, keys, feed_name="bench")
    await engine.start()
    now = datetime.now(timezone.utc)
    await B.logged_in(engine, config, now)
    n = 0

    def eid() -> str:
        nonlocal n
        n += 1
        return f"b{n}"

    inc = IncrementalSnapshots(engine, config.engine.full_rebuild_s)
    pub = DeltaPublisher(client, keys, inc, config.engine.full_publish_s)
    levels = LevelState()
    rng = random.Random(5)
    ids = [a.id for a in config.agents]
    names = [q.name for q in config.queues]
    cycle = {"available": "on_call", "on_call": "wrap_up", "wrap_up": "available"}
    state = {a: "available" for a in ids}
    # the centre at work from the start, each agent at a random point of its cycle, not every one available:
    # the desk's memory over minutes is then a steady centre's, not one's filling with calls and wrap-ups (from
    # all available, a third of the agents' rows gained a call and an alert over the first ~5 minutes)
    for a in ids:
        state[a] = rng.choice(list(cycle))
    warm = [AgentStateChanged(id=eid(), ts=now, source="bench", agent=a, state=s) for a, s in state.items()]
    for i in range(0, len(warm), 2000):
        await engine.apply([e for e in warm[i : i + 2000] if e.state != "available"])
    waiting: list[tuple[str, str]] = []
    loop = asyncio.get_running_loop()
    end = loop.time() + seconds
    tick = loop.time()
    while loop.time() < end:
        now = datetime.now(timezone.utc)
        batch = []
        for a in rng.sample(ids, max(1, len(ids) // 100)):
            state[a] = cycle[state[a]]
            batch.append(AgentStateChanged(id=eid(), ts=now, source="bench", agent=a, state=state[a]))
        for _ in range(max(1, len(names) // 50)):
            q = rng.choice(names)
            call = eid()
            batch.append(CallerJoined(id=eid(), ts=now, source="bench", queue=q, call_id=call))
            waiting.append((q, call))
        while len(waiting) > len(names) // 10:
            q, call = waiting.pop(0)
            batch.append(CallerAnswered(id=eid(), ts=now, source="bench", queue=q, call_id=call, agent=rng.choice(ids)))
        await engine.apply(batch)
        snap = await inc.build(now)
        snap, levels = engine.evaluate(snap, levels, now)
        await pub.publish(snap, now)
        tick += 1.0
        await asyncio.sleep(max(0.0, tick - loop.time()))
    print(f"owner: {pub.deltas} deltas, {pub.fulls} full", flush=True)
    await client.aclose()


# ---- the desk (this process) -----------------------------------------------------------------------------


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 1e6


async def desk_main(url: str, prefix: str, agents: int, queues: int, seconds: float) -> dict:
    from wallboard.config import load_config
    from wallboard.ui.app import build_desk_app

    base = B.make_centre(queues, agents, prefix=prefix)
    config = load_config(
        None,
        redis={"prefix": prefix, "url": url},
        centre={"name": base.centre.name, "timezone": "UTC"},
        queues=[q.model_dump() for q in base.queues],
        agents=[a.model_dump() for a in base.agents],
        roles={"desk": {"permissions": ["ack", "snooze"]}},
        users=[{"name": "bench", "roles": ["desk"]}],
    )
    app = build_desk_app(config, url, user="bench", token="bench.4102444800.bench", settle_gc=True)
    # kept in arrays made once, not lists of floats: two new floats every 10 ms (~0.3 MB a minute) were the
    # bench's own growth in the desk's memory that it measures
    stalls = Samples(int(seconds * 110) + 1000)
    work = Samples(int(seconds * 110) + 1000)  # the desk thread's CPU between two wake-ups: a stall on an idle machine
    rss: list[tuple[float, float]] = []
    frozen: list[int] = []  # objects frozen out of the collections (``ui.gcsettle``), sampled with the RSS
    summaries = agent_parts = 0
    async with app.run_test(size=(200, 60)) as pilot:
        loop = asyncio.get_running_loop()
        t0 = loop.time()
        last_seq = None
        last_agents = None
        startup: tuple[float, int] | None = None  # (seconds, wake-ups) until every agent was placed
        next_rss = t0 + min(60.0, seconds / 4)  # after the start (the first full parts, the first layout)
        while loop.time() - t0 < seconds:
            before, cpu_before = loop.time(), time.thread_time()
            await asyncio.sleep(0.01)
            stalls.append(loop.time() - before - 0.01)
            work.append(time.thread_time() - cpu_before)
            if startup is None and a_table_holds(app, agents):  # the start-up: until every agent has its row
                startup = (loop.time() - t0, len(work))
            s, a = app.summary, app.agents
            if s is not None and s.seq != last_seq:
                summaries += 1
                last_seq = s.seq
            if a is not None and a is not last_agents:
                agent_parts += 1
                last_agents = a
            if loop.time() >= next_rss:
                rss.append((loop.time() - t0, rss_mb()))
                frozen.append(gc.get_freeze_count())
                next_rss += 10.0
                recent = work.last(1000)
                B.say(  # as it goes: a run cut short still says something
                    f"  {loop.time() - t0:.0f} s: rss {rss[-1][1]:.0f} MB, longest stall {stalls.max() * 1000:.0f} ms, "
                    f"most thread CPU between wake-ups {work.max() * 1000:.0f} ms (last {len(recent)}: "
                    f"{max(recent) * 1000:.0f} ms), summaries {summaries}"
                )
        # reported before the app closes: a desk far behind takes long to close (its backlog is drawn first)
        report(
            {
                "stalls": stalls.values(),
                "work": work.values(),
                "rss": rss,
                "summaries": summaries,
                "agent_parts": agent_parts,
                "startup": startup,
                "frozen": frozen,
                "settle": app.gc_settle,
            }
        )
        await pilot.pause()


class Samples:
    """Floats in an array made once (grown only if the run outlives it): no memory taken as they come."""

    def __init__(self, size: int) -> None:
        self.a = array("d", bytes(8 * size))
        self.n = 0

    def append(self, x: float) -> None:
        if self.n == len(self.a):
            self.a.extend(array("d", bytes(8 * len(self.a))))
        self.a[self.n] = x
        self.n += 1

    def __len__(self) -> int:
        return self.n

    def max(self) -> float:
        return max(self.a[: self.n], default=0.0)

    def last(self, k: int) -> array:
        return self.a[max(0, self.n - k) : self.n]

    def values(self) -> list[float]:
        return self.a[: self.n].tolist()


def a_table_holds(app, agents: int) -> bool:
    try:
        return app.agent_table.row_count >= agents
    except Exception:  # not composed yet
        return False


def report(out: dict) -> None:
    stalls = sorted(out["stalls"])
    B.figure("desk.loop_stall_max_ms", stalls[-1] * 1000, "ms", "longest time the desk's loop was busy; target <= 100")
    B.figure("desk.loop_stall_p99_ms", B.percentile(stalls, 99) * 1000, "ms", f"{len(stalls):,} wake-ups every 10 ms")
    B.figure("desk.loop_stalls_over_100ms", sum(1 for s in stalls if s > 0.1), "", "")
    work = sorted(out["work"])
    B.figure(
        "desk.loop_work_max_ms",
        work[-1] * 1000,
        "ms",
        "the most CPU the desk's thread spent between two wake-ups (a stall on an idle machine)",
    )
    B.figure("desk.loop_work_p99_ms", B.percentile(work, 99) * 1000, "ms", "")
    B.figure("desk.loop_work_over_100ms", sum(1 for s in work if s > 0.1), "", "")
    if out["startup"] is not None:  # the first parts read and every agent placed, then the rest of the run
        seconds, n = out["startup"]
        first, rest = out["work"][:n], sorted(out["work"][n:])
        B.figure("desk.startup_s", seconds, "s", "until every agent had its row in the table")
        B.figure("desk.startup_work_max_ms", max(first, default=0) * 1000, "ms", "the start-up's longest frame (CPU)")
        if rest:
            B.figure("desk.after_startup_work_max_ms", rest[-1] * 1000, "ms", "")
            B.figure("desk.after_startup_work_p99_ms", B.percentile(rest, 99) * 1000, "ms", f"{len(rest):,} wake-ups")
            B.figure("desk.after_startup_work_over_100ms", sum(1 for s in rest if s > 0.1), "", "")
    B.figure("desk.summaries", out["summaries"], "", "summaries the desk took (1 a second expected)")
    B.figure("desk.agent_parts", out["agent_parts"], "", "agent parts the desk took")
    if out["rss"]:
        values = [m for _, m in out["rss"]]
        B.figure("desk.rss_mb_first", values[0], "MB", f"at {out['rss'][0][0]:.0f} s")
        B.figure("desk.rss_mb_last", values[-1], "MB", f"at {out['rss'][-1][0]:.0f} s")
        B.figure("desk.rss_mb_max", max(values), "MB", f"{len(values)} samples, every 10 s after the first minute")
    if out["frozen"]:
        B.figure("desk.gc_frozen_first", out["frozen"][0], "objects", "frozen out of the collections, with the RSS")
        B.figure("desk.gc_frozen_last", out["frozen"][-1], "objects", "")
    settle = out["settle"]
    if settle is not None:
        B.figure("desk.gc_settles", settle.settles, "", "collections of what is new, then frozen (ui.gcsettle)")
        B.figure("desk.gc_reclaims", settle.reclaims, "", "settles that collected everything")
    B.figure("desk.cpu_s", resource.getrusage(resource.RUSAGE_SELF).ru_utime, "s", "the desk process (user)")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--smoke", action="store_true", help="a seconds-long run (CI): 200 agents, 20 queues, 20 s")
    ap.add_argument("--redis", default=None, help="use this server instead of a private one")
    ap.add_argument("--agents", type=int, default=5000)
    ap.add_argument("--queues", type=int, default=500)
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--no-ceiling", action="store_true", help="skip the raw Redis ceiling (redis-benchmark)")
    ap.add_argument("--profile", metavar="FILE", help="write a cProfile of the desk's process to FILE")
    ap.add_argument(
        "--owner", nargs=5, metavar=("URL", "PREFIX", "AGENTS", "QUEUES", "SECONDS"), help=argparse.SUPPRESS
    )
    args = ap.parse_args()
    if args.owner:
        url, prefix, agents, queues, seconds = args.owner
        asyncio.run(owner_main(url, prefix, int(agents), int(queues), float(seconds)))
        return 0
    if args.smoke:
        args.agents, args.queues, args.minutes = 200, 20, 20 / 60
    seconds = args.minutes * 60
    prefix = "wbdesk"
    with B.redis_server(args.redis) as (url, how):
        B.print_machine(url, how)
        owner = subprocess.Popen(
            [sys.executable, __file__, "--owner", url, prefix, str(args.agents), str(args.queues), str(seconds + 30)]
        )
        try:
            import redis

            r = redis.Redis.from_url(url)
            t = time.perf_counter()
            while not r.get(f"{prefix}:{{c}}:summary"):  # logged in and published once
                if owner.poll() is not None:
                    raise SystemExit("the owner process ended before publishing")
                time.sleep(0.2)
            B.say(
                f"centre: {args.agents:,} agents, {args.queues} queues; the owner's first snapshot after "
                f"{time.perf_counter() - t:.1f} s; the desk runs {seconds:.0f} s"
            )
            if args.profile:  # where the desk's time goes (cProfile of the desk's process)
                import cProfile

                prof = cProfile.Profile()
                prof.runcall(asyncio.run, desk_main(url, prefix, args.agents, args.queues, seconds))
                prof.dump_stats(args.profile)
            else:
                asyncio.run(desk_main(url, prefix, args.agents, args.queues, seconds))
        finally:
            owner.send_signal(signal.SIGTERM)
            owner.wait(30)
        if not args.no_ceiling:
            for name, v in B.raw_ceiling(url, args.smoke).items():
                B.figure(f"ceiling {name}", v, "requests/s", "redis-benchmark, 50 clients, same server")
        B.drop_sync(__import__("redis").Redis.from_url(url), prefix)
    return 0


if __name__ == "__main__":
    sys.exit(main())
