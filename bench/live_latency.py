"""Live latency: the simulated centre's events fed to a real ingester at 1k, 5k and 20k events/s; how long until
a view holds a snapshot that shows each of them (p50, p95, p99).

    python bench/live_latency.py [--smoke] [--redis URL] [--rates 1000,5000,20000] [--seconds 15]
                                 [--agents 1000] [--queues 100] [--publish-ms 250]

The events come from the simulated centre (``wallboard.sim.SimCentre`` on a generated centre, every queue at
its peak), made before the run; a feed then hands them to ``wallboard.ingest.Ingest`` at the chosen rate, in
real time (every 2 ms, what is due). The ingester is the real one: the feed's reader, batches of whatever
arrived within 50 ms, ``Engine.apply``, the lease owner publishing on change with leading-edge coalescing
(``engine.publish_min_interval_ms``, 100 ms by default, longer when publishing is dear: ``PublishPace``) and
at every tick. The view is another process subscribed to the summary channel (``P:{c}:snap``), as the TV and
the desk UI are; it notes when each snapshot arrives.

Latency of an event = when the view held (received, parsed and applied) the first snapshot that shows it - when
the feed handed it to the ingester. The probes are the callers' joins: the k-th join of a queue is shown once that
queue's ``entered`` reaches k. The first second of each rate (a quarter of a shorter run) is left out (start-up).
The target: p99 <= 250 ms at 5k events/s. ``applied`` says whether the ingester kept up (events applied / events
handed over).

Where the time went: the ingester keeps its records (``ingest.Timeline``: each batch's and each publish's times, a
publish's ``seq``), the view notes each message's arrival and when it held it, so each probe's latency is split
into stages (``STAGES``: queued, gathered, held while a publish ran, applied, waiting for the publish, the
publish, delivery, the view's parse and apply), printed as percentiles per stage with the publishes' wall and CPU
and the batches' sizes.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _bench as B  # noqa: E402


# ---- the view (a separate process) ------------------------------------------------------------------------


def view_main(url: str, pattern: str, out: str) -> None:
    """Subscribe to every summary channel matching ``pattern`` and keep each centre's snapshot as the board and
    the hub do (``delta.Mirror``: a full summary replaces it, a delta is parsed and applied); write a line per
    message: when it arrived, when the view held it (parsed and applied), its channel, ``seq`` and the queues'
    ``entered`` as held then. The agent detail part is noted, not parsed (the summary's views do not take it).
    Each part is read as the real views read it (``SnapshotStream._parse``: ``read_summary`` and ``read_delta``
    with the queues as last read, whose models an unchanged queue keeps)."""
    import redis

    from wallboard.delta import Mirror, Seen, read_delta, read_summary

    r = redis.Redis.from_url(url)
    ps = r.pubsub(ignore_subscribe_messages=True)
    ps.psubscribe(pattern)
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    mirrors: dict[str, Mirror] = {}
    seen: dict[str, Seen] = {}
    loop = asyncio.new_event_loop()
    with open(out, "w", encoding="utf-8") as f:
        f.write("ready\n")
        f.flush()
        while not stop:
            m = ps.get_message(timeout=0.2)
            if m is None:
                continue
            t = time.time()
            ch = m["channel"].decode()
            centre, _, kind = ch.partition(":{c}:")
            mirror = mirrors.setdefault(centre, Mirror(agents=False))
            queues_seen = seen.setdefault(centre, {})
            if kind == "snap":
                mirror.full_summary(loop.run_until_complete(read_summary(m["data"], queues_seen)))
            elif (
                kind != "snap:delta"
                or mirror.apply(loop.run_until_complete(read_delta(m["data"], queues_seen))) == "gap"
            ):
                continue  # the agent detail; a delta that does not follow (a real view reads the stored parts)
            held, s = time.time(), mirror.summary
            entered = {} if s is None else {q: v.entered for q, v in s.queues.items()}
            line = {"t": t, "held": held, "ch": ch, "seq": None if s is None else s.seq, "entered": entered}
            f.write(json.dumps(line) + "\n")
            f.flush()


def busy_events(config, n: int, with_steps: bool = False):
    """``n`` events of the simulated centre with every queue at its peak (about 9 events a call, the rest agent
    states), from the current minute on; with ``with_steps``, also how many 5-minute steps of simulated time."""
    from wallboard.sim import SimCentre

    start = datetime.now(timezone.utc).replace(second=0, microsecond=0)
    sim = SimCentre(config, B.busy_scenario(600.0, talk_mean_s=120.0), 11, start)
    events: list = []
    step = 0
    while len(events) < n:
        step += 1
        events += sim.advance_to(start + timedelta(minutes=5 * step))
    return (events[:n], step) if with_steps else events[:n]


# ---- the feed ------------------------------------------------------------------------------------------


class Player:
    """A live feed handing pre-made events to the ingester at ``rate`` per second; notes each join's time."""

    name = "sim"

    def __init__(self, events: list, rate: float):
        self.events, self.rate = events, rate
        self.joins: list[tuple[str, int, float]] = []  # (queue, k-th join of the queue, when handed over)
        self.handed = 0
        self.done = asyncio.Event()

    async def follow(self, clock=None):
        from wallboard.events import CallerJoined

        counts: dict[str, int] = {}
        t0 = time.monotonic()
        n = len(self.events)
        i = 0
        while i < n:
            due = min(n, int((time.monotonic() - t0) * self.rate) + 1)
            while i < due:
                ev = self.events[i]
                if type(ev) is CallerJoined:
                    k = counts[ev.queue] = counts.get(ev.queue, 0) + 1
                    self.joins.append((ev.queue, k, time.time()))
                yield ev
                i += 1
            self.handed = i
            await asyncio.sleep(0.002)
        self.done.set()
        while True:
            await asyncio.sleep(3600)


class LineWriter:
    """A PBX writing its queue_log: appends pre-rendered rows to ``path`` at ``rate`` rows per second (what is
    due every 2 ms, flushed); notes when each join row was written. The ingester follows the file."""

    def __init__(self, rows: list[str], rate: float, path: Path):
        self.rows, self.rate, self.path = rows, rate, path
        self.joins: list[tuple[str, int, float]] = []
        self.handed = 0
        self.done = asyncio.Event()

    async def run(self) -> None:
        counts: dict[str, int] = {}
        n = len(self.rows)
        i = 0
        t0 = time.monotonic()
        with open(self.path, "a", encoding="utf-8") as f:
            while i < n:
                due = min(n, int((time.monotonic() - t0) * self.rate) + 1)
                chunk = self.rows[i:due]
                f.write("".join(chunk))
                f.flush()
                t = time.time()
                for row in chunk:
                    parts = row.split("|", 5)
                    if parts[4] == "ENTERQUEUE":
                        k = counts[parts[2]] = counts.get(parts[2], 0) + 1
                        self.joins.append((parts[2], k, t))
                i = due
                self.handed = i
                await asyncio.sleep(0.002)
        self.done.set()


def queue_log_rows(config, events: list, tmp: Path) -> list[str]:
    """The simulated centre's events as the queue_log rows Asterisk would write (``QueueLogWriter``)."""
    from wallboard.sim.queue_log_writer import QueueLogWriter

    path = tmp / "rendered.queue_log"
    with QueueLogWriter(path, config) as w:
        w.write(events)
    return path.read_text().splitlines(keepends=True)


# ---- one rate ------------------------------------------------------------------------------------------


async def one_rate(url: str, config, events: list, rate: float, seconds: float, prefix: str, queue_log=None):
    from wallboard.ingest import Ingest, Timeline
    from wallboard.keys import Keys
    from wallboard.store import connect

    need = int(rate * seconds)
    writer = None
    if queue_log is not None:  # rows written to a file the ingester follows (feeds/queue_log.py)
        from feeds.queue_log import QueueLogFeed

        path = queue_log / f"live-{int(rate)}.queue_log"
        path.write_text("")
        writer = feed = LineWriter(events[:need], rate, path)
        source = QueueLogFeed(str(path), config)
    else:
        feed = source = Player(events[:need], rate)
    client = await connect(config, url)
    ing = Ingest(client, config, source, keys=Keys(prefix), name=f"bench-{rate:g}")
    ing.timeline = Timeline()
    cpu0 = time.process_time()
    task = asyncio.create_task(ing.run())
    t0 = time.perf_counter()
    if writer is not None:
        await asyncio.sleep(0.5)  # the follower has opened the file
        t0 = time.perf_counter()
        wtask = asyncio.create_task(writer.run())
    await feed.done.wait()
    handed_s = time.perf_counter() - t0
    if writer is not None:
        await wtask
    # let the ingester catch up and publish what it has (at most a few seconds)
    for _ in range(100):
        if ing.events_applied >= need:
            break
        await asyncio.sleep(0.05)
    await asyncio.sleep(1.5)
    ing.stop.set()
    try:
        await asyncio.wait_for(task, 60)
    except asyncio.TimeoutError:  # far behind (a backlog it would take long to apply): stopped as it is
        pass
    cpu = time.process_time() - cpu0
    await client.aclose()
    return feed, ing.events_applied, handed_s, cpu, ing.timeline


STAGES = (
    ("queued", "handed over -> its batch began (the pump busy or the feed's reader behind)"),
    ("gather", "gathering the batch (FLUSH_S under load)"),
    ("held", "the batch held while a publish ran"),
    ("apply", "Engine.apply of the batch"),
    ("pace", "applied -> the build of the publish showing it began (the pace's wait)"),
    ("publish", "that build began -> its snapshot sent (build, evaluate, publish)"),
    ("deliver", "sent -> the view received it (pub/sub, the view busy)"),
    ("view", "received -> the view held it (parse and apply)"),
)


@dataclass
class Probe:
    """One join: handed over, the batch that applied it, the publish and the view's message that showed it."""

    queue: str
    k: int
    handed: float
    batch: object = None  # ingest.BatchRecord
    publish: object = None  # ingest.PublishRecord
    line: dict | None = None  # the view's message

    def stages(self) -> dict[str, float] | None:
        """The probe's time per stage (they add up to its latency), or None when it cannot be told."""
        b, p, x = self.batch, self.publish, self.line
        if b is None or p is None or x is None:
            return None
        return {
            "queued": max(0.0, b.taken - self.handed),
            "gather": b.gathered - max(b.taken, self.handed),
            "held": b.applying - b.gathered,
            "apply": b.applied - b.applying,
            "pace": p.building - b.applied,
            "publish": p.sent - p.building,
            "deliver": x["t"] - p.sent,
            "view": x["held"] - x["t"],
        }


def probes(feed, timeline, lines: list[dict], prefix: str, skip_s: float = 1.0) -> list[Probe]:
    """Every join after the first ``skip_s``, with the first view message whose held ``entered`` of its queue
    reaches k (the k-th join of a queue: the view holds it), the batch that applied it (the k-th join of that
    queue the pump applied) and the publish of that message's ``seq``."""
    from wallboard.events import CallerJoined

    mine = [x for x in lines if x["ch"].startswith(f"{prefix}:{{c}}:")]
    mine.sort(key=lambda x: x["held"])
    if not feed.joins:
        return []
    batch_of: dict[tuple[str, int], object] = {}
    counts: dict[str, int] = {}
    for b in timeline.batches:
        for ev in b.events:
            if type(ev) is CallerJoined:
                k = counts[ev.queue] = counts.get(ev.queue, 0) + 1
                batch_of[(ev.queue, k)] = b
    publish_of = {p.seq: p for p in timeline.publishes}
    t_first = feed.joins[0][2]
    out = []
    for queue, k, t in sorted(feed.joins, key=lambda p: p[2]):
        if t - t_first < skip_s:
            continue
        line = next((x for x in mine if x["held"] >= t and x["entered"].get(queue, 0) >= k), None)
        pub = publish_of.get(line["seq"]) if line is not None else None
        out.append(Probe(queue, k, t, batch_of.get((queue, k)), pub, line))
    return out


def report_stages(name: str, shown: list[Probe], timeline) -> None:
    """The probes' time per stage (percentiles; means, which add up to the mean latency), the publishes' wall
    and CPU, the batches' sizes and apply time."""
    told = [st for p in shown if (st := p.stages()) is not None]
    B.say(f"   where the time went ({len(told):,} of {len(shown):,} probes told), ms: p50 / p95 / p99 / mean")
    for stage, what in STAGES:
        v = [st[stage] * 1000 for st in told]
        if not v:
            continue
        B.say(
            f"   {stage:>8}: {B.percentile(v, 50):7.1f} {B.percentile(v, 95):7.1f} {B.percentile(v, 99):7.1f} "
            f"{sum(v) / len(v):7.1f}  ({what})"
        )
        B.figure(f"{name}.stage.{stage}.p95_ms", B.percentile(v, 95), "ms", what)
    for stage, _ in STAGES:
        odd = sum(1 for st in told if st[stage] < -0.001)
        if odd:
            B.say(f"   {odd:,} probes with {stage} below zero")
    pubs = [p for p in timeline.publishes if not p.periodic]
    if pubs:
        wall = [(p.sent - p.building) * 1000 for p in pubs]
        cpu = [p.cpu_s * 1000 for p in pubs]
        starts = [p.began for p in pubs]
        gaps = [(b - a) * 1000 for a, b in zip(starts, starts[1:])]
        B.say(
            f"   publishes for a change: {len(pubs):,} (and {len(timeline.publishes) - len(pubs):,} ticks); build->sent wall p50 {B.percentile(wall, 50):.0f} / "
            f"p95 {B.percentile(wall, 95):.0f} ms, CPU (the process's, the whole tick) p50 "
            f"{B.percentile(cpu, 50):.0f} / p95 {B.percentile(cpu, 95):.0f} ms; start to start p50 "
            f"{B.percentile(gaps, 50):.0f} / p95 {B.percentile(gaps, 95):.0f} ms"
        )
    bs = list(timeline.batches)
    if bs:
        sizes = [len(b.events) for b in bs]
        ms = [(b.applied - b.applying) * 1000 for b in bs]
        B.say(
            f"   batches: {len(bs):,}, size p50 {B.percentile(sizes, 50):.0f} / p95 {B.percentile(sizes, 95):.0f}; "
            f"apply p50 {B.percentile(ms, 50):.1f} / p95 {B.percentile(ms, 95):.1f} ms, "
            f"{sum(ms) * 1000 / max(1, sum(sizes)):.0f} us an event"
        )


def main() -> int:
    from wallboard.ingest import tune_gc

    tune_gc()  # as `wallboard ingest` does: this process stands for the ingester
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--smoke", action="store_true", help="a seconds-long run (CI): 500 and 2,000 events/s, 1 s each")
    ap.add_argument("--redis", default=None, help="use this server instead of a private one")
    ap.add_argument("--rates", default="1000,5000,20000", help="events per second, comma-separated")
    ap.add_argument("--seconds", type=float, default=15, help="per rate")
    ap.add_argument("--agents", type=int, default=1000)
    ap.add_argument("--queues", type=int, default=100)
    ap.add_argument("--publish-ms", type=int, default=None, help="engine.publish_min_interval_ms (default 100)")
    ap.add_argument("--publish-share", type=float, default=None, help="engine.publish_share")
    ap.add_argument(
        "--full-snapshots",
        action="store_true",
        help="engine.incremental = false (the owner rebuilds every snapshot in full, as before issue 16)",
    )
    ap.add_argument(
        "--queue-log",
        action="store_true",
        help="the events as queue_log rows written to a file the ingester follows (rates are rows/s)",
    )
    ap.add_argument("--no-deltas", action="store_true", help="engine.deltas = false: every snapshot in full")
    ap.add_argument("--no-ceiling", action="store_true", help="skip the raw Redis ceiling (redis-benchmark)")
    ap.add_argument("--view", nargs=3, metavar=("URL", "PATTERN", "OUT"), help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.view:
        view_main(*args.view)
        return 0
    if args.smoke:
        args.seconds, args.agents, args.queues, args.rates = 1.0, 60, 6, "500,2000"

    rates = [float(x) for x in args.rates.split(",")]
    engine: dict = {"incremental": not args.full_snapshots, "deltas": not args.no_deltas}
    if args.publish_ms is not None:
        engine["publish_min_interval_ms"] = args.publish_ms
    if args.publish_share is not None:
        engine["publish_share"] = args.publish_share
    extra = {"engine": engine}
    config = B.make_centre(args.queues, args.agents, prefix="wblive")
    if extra:
        config = config.model_copy(update={"engine": config.engine.model_copy(update=extra["engine"])})
    need = int(max(rates) * args.seconds)
    t = time.perf_counter()
    events, step = busy_events(config, need + 10_000, with_steps=True)
    with B.redis_server(args.redis) as (url, how), tempfile.TemporaryDirectory(prefix="wbview") as tmp:
        B.print_machine(url, how)
        B.say(
            f"centre: {args.agents:,} agents, {args.queues} queues; {len(events):,} simulated events made in "
            f"{time.perf_counter() - t:.1f} s (sim time {5 * step} min); publish_min_interval_ms="
            f"{config.engine.publish_min_interval_ms}, publish_share={config.engine.publish_share}, "
            f"incremental={config.engine.incremental}, deltas={config.engine.deltas}"
        )
        out = Path(tmp) / "view.jsonl"
        view = subprocess.Popen([sys.executable, __file__, "--view", url, "wblive-*:{c}:snap*", str(out)])
        try:
            for _ in range(500):
                if out.exists() and out.read_text().startswith("ready"):
                    break
                time.sleep(0.01)
            results = []
            rows = queue_log_rows(config, events, Path(tmp)) if args.queue_log else None
            if rows is not None:
                B.say(f"as queue_log: {len(rows):,} rows for {len(events):,} events")
            for rate in rates:
                prefix = f"wblive-{int(rate)}"
                feed, applied, handed_s, cpu, timeline = asyncio.run(
                    one_rate(
                        url,
                        config,
                        rows if rows is not None else events,
                        rate,
                        args.seconds,
                        prefix,
                        Path(tmp) if rows is not None else None,
                    )
                )
                results.append((rate, prefix, feed, applied, handed_s, cpu, timeline))
                B.drop_sync(__import__("redis").Redis.from_url(url), prefix)
        finally:
            view.send_signal(signal.SIGTERM)
            view.wait(10)
        lines = [json.loads(x) for x in out.read_text().splitlines()[1:] if x.strip()]
        for rate, prefix, feed, applied, handed_s, cpu, timeline in results:
            shown = [p for p in probes(feed, timeline, lines, prefix, min(1.0, args.seconds / 4)) if p.line]
            lat = [p.line["held"] - p.handed for p in shown]
            n = feed.handed
            name = f"live.{int(rate)}"
            B.say(
                f"-- {rate:,.0f} events/s for {args.seconds:g} s: handed over {n:,} in {handed_s:.1f} s, applied "
                f"{applied:,}; {len(lat):,} probes (joins)"
            )
            B.figure(f"{name}.rate", n / handed_s if handed_s else 0.0, "events/s", "handed to the ingester")
            B.figure(f"{name}.applied", applied / n if n else 0.0, "", "share applied by the end")
            B.figure(f"{name}.ingest_cpu_share", cpu / (handed_s + 1.5), "of one core", "apply + snapshots + feed")
            for q in (50, 95, 99):
                B.figure(
                    f"{name}.p{q}_ms",
                    B.percentile(lat, q) * 1000 if lat else float("nan"),
                    "ms",
                    "event handed over -> the view holds a snapshot showing it",
                )
            report_stages(name, shown, timeline)
        if not args.no_ceiling:
            for name, v in B.raw_ceiling(url, args.smoke).items():
                B.figure(f"ceiling {name}", v, "requests/s", "redis-benchmark, 50 clients, same server")
    return 0


if __name__ == "__main__":
    sys.exit(main())
